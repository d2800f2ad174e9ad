"""The ingestion service that runs on the instances."""
