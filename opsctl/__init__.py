"""opsctl: the operators' CLI for the ingestion stack."""
