"""The ML Metadata side of the pipeline: the names of what it records, the queries, the run
summaries (`fashion-pipeline runs`), the lineage of a pushed model (`lineage`), and the one
correction it writes (closing what a killed run left running). Imports ml_metadata and protobuf,
never TensorFlow or TFX, so that the commands that only read start in about a second."""
