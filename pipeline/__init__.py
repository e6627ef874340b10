"""The pipeline: its configuration, the data source, the DAG of components and how it is run."""
