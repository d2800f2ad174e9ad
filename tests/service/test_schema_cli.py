"""`ingest-service schema ...` on a real MariaDB: the guard that refuses destructive expand
revisions lives in the service itself, so it checks the revisions that are really applied (on
an instance: the AMI's), and `lint` reads them without a database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.mariadb import MariaDB
from tests.support.paths import REPO
from tests.support.revisions import write_revision

DROP = 'op.drop_column("jobs", "schema_version")'


def schema(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service.cli", "schema", *args],
        cwd=REPO,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_lint_flags_a_destructive_expand_revision_and_passes_the_real_ones(extra: Path) -> None:
    write_revision(extra, "0003", DROP)
    linted = schema("lint")  # default: the revisions this service applies, extra included
    assert linted.returncode == 1, linted.stdout + linted.stderr
    assert "0003 [expand] error: drops column jobs.schema_version" in linted.stdout
    assert "1 problem(s)" in linted.stderr
    clean = schema("lint", str(REPO / "service/migrations/versions"))
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "ok revisions lint clean" in clean.stdout
    write_revision(extra, "0003", DROP, phase="contract")
    assert schema("lint").returncode == 0


def test_up_refuses_a_destructive_expand_revision_with_4_and_applies_nothing(
    db: tuple[MariaDB, str, str], extra: Path
) -> None:
    _server, _name, url = db
    write_revision(extra, "0003", DROP)
    for args in ([], ["--phase", "expand"]):
        refused = schema("up", "--database-url", url, *args)
        assert refused.returncode == 4, refused.stdout + refused.stderr
        assert "drops column jobs.schema_version" in refused.stderr
        assert "--allow-destructive" in refused.stderr
    status = schema("status", "--database-url", url, "--json")
    assert status.returncode == 2, status.stdout + status.stderr
    assert json.loads(status.stdout)["current"] is None  # refused before anything ran
    # `ingest-service migrate` (the AMI's ingest-migrate unit) is the same guarded `up`.
    unit = subprocess.run(
        [sys.executable, "-m", "service.cli", "migrate", "--database-url", url],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert unit.returncode == 4, unit.stdout + unit.stderr
    allowed = schema("up", "--database-url", url, "--allow-destructive", "--name", "dev")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert "--allow-destructive: applying anyway" in allowed.stderr
    assert "  ok applied 0003 (1 statement(s))" in allowed.stdout
    assert allowed.stdout.rstrip().endswith("dev is at head.")


def test_down_dry_run_lists_what_would_be_reverted_and_changes_nothing(
    db: tuple[MariaDB, str, str],
) -> None:
    _server, _name, url = db
    assert schema("up", "--database-url", url).returncode == 0
    plan = schema("down", "--database-url", url, "--dry-run", "--json")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert json.loads(plan.stdout) == {
        "current": "0002",
        "revision": "-1",
        "to": "0001",
        "reverts": ["0002"],
    }
    assert schema("status", "--database-url", url).returncode == 0  # still at head
    history = json.loads(schema("history", "--database-url", url, "--json").stdout)
    assert [r["revision"] for r in history["revisions"]] == ["0001", "0002"]
    assert [(r["revision"], r["action"]) for r in history["log"]] == [
        ("0001", "upgrade"),
        ("0002", "upgrade"),
    ]
