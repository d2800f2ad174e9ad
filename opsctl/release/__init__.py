"""Releases: expand, deploy, contract, and the log that makes a release resumable."""
