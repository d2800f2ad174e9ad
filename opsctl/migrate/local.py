"""`--database-url`: the installed `ingest-service schema ...` in a subprocess, exactly as SSM
runs it on an instance. Its stderr (each `sql>` statement as it runs, errors) streams through;
its stdout is returned for opsctl to show or parse.

The URL holds a password, so it goes to the child in its environment (INGEST_DATABASE_URL), not
on its command line, which every local user can read in the process list. An Aurora secret ARN
in the operator's environment is dropped: the URL given is the database."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from opsctl.migrate.target import Outcome, TargetError

EXECUTABLE = "ingest-service"
# Actions whose messages name the database: here they name the environment, as opsctl always
# has ("Up to date: dev is at 0002."). Via SSM they say "the database" and a plain `up` keeps
# its argument-less form (the AMI's ingest-migrate unit).
NAMED = {"up", "down", "sql", "stamp"}


def service_executable() -> str:
    """`ingest-service` beside this Python (the same virtualenv), else on PATH."""
    beside = Path(sys.executable).parent / EXECUTABLE
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which(EXECUTABLE)
    if found is None:
        raise TargetError(
            f"{EXECUTABLE} is not installed: neither beside {sys.executable} nor on PATH. "
            "`opsctl migrate --database-url` runs the service's own migrations: install the "
            "service into this environment (`pip install -e .` in the repository)"
        )
    return found


def run_service(args: list[str], database_url: str | None = None) -> Outcome:
    """`ingest-service ARGS` here (on DATABASE_URL): stderr streams through, stdout is
    returned."""
    command = [service_executable(), *args]
    env = dict(os.environ)
    if database_url is not None:
        env.pop("INGEST_DATABASE_SECRET_ARN", None)
        env["INGEST_DATABASE_URL"] = database_url
    try:
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True, env=env, check=False)
    except OSError as error:
        raise TargetError(f"cannot run {command[0]}: {error}") from None
    return Outcome(done.returncode, done.stdout, "")


class LocalTarget:
    def __init__(self, env: str, database_url: str) -> None:
        self.env, self.database_url = env, database_url
        self.heading: str | None = f"{env} (database URL)"
        self.context: dict[str, Any] = {"env": env, "target": "database-url"}

    def run(self, action: str, args: list[str]) -> Outcome:
        named = ["--name", self.env] if action in NAMED else []
        return run_service(["schema", action, *args, *named], self.database_url)

    def lock(self, command: str) -> AbstractContextManager[object]:
        return nullcontext()  # the database's own migration lock is enough
