"""Migrations for `opsctl migrate` and `opsctl release`: where `ingest-service schema ...` runs.

opsctl holds no migration logic of its own: the service's CLI (service/cli.py, `schema`) is the
one implementation. A `Target` runs it and returns its exit code and output:
- `local.LocalTarget` (`--database-url`): the installed `ingest-service` in a subprocess;
- `ssm.SsmTarget` (an AWS environment, whose Aurora is private): on an InService instance of
  the live colour through SSM Run Command (`remote`), with the instance's own settings.
"""
