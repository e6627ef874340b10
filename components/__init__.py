"""Our TFX components: ExampleGen for IDX files, the data gate, the Pusher and the resolvers."""
