"""`opsctl migrate status|up|down|sql|stamp|history|lint`: Alembic, safely, on MySQL/Aurora.

Every command runs `ingest-service schema ...` (service/cli.py, the one implementation) on a
target (opsctl/migrate/): with `--database-url` the installed service in a subprocess (local,
dev, CI); otherwise on one InService instance of the live colour through SSM Run Command, under
the environment lock for anything that writes. This file parses, confirms, locks and prints.

Exit codes: 0 ok, 1 error, 2 migrations pending (`status`), 3 a lock is held, 4 aborted by a
guard or the user.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from opsctl.exitcodes import Exit
from opsctl.migrate.local import run_service
from opsctl.migrate.run import echo, open_target
from opsctl.migrate.target import Outcome, Target, TargetError
from opsctl.ui import (
    DatabaseUrlOpt,
    EmulatorOpt,
    EnvArg,
    JsonOpt,
    YesOpt,
    confirm,
    console,
    fail,
    load_env,
)

if TYPE_CHECKING:
    from opsctl.config import Environment

app = typer.Typer(
    help="Database migrations (Alembic) under a lock: status, up, down, sql, stamp, history, lint.",
    no_args_is_help=True,
)

RevisionOpt = Annotated[str | None, typer.Option("--revision", help="Target revision.")]
LockTimeoutOpt = Annotated[
    int | None,
    typer.Option(
        "--lock-timeout", help="Seconds to wait for the migration lock (the service's: 60).",
        show_default=False,
    ),
]  # fmt: skip
LockWaitOpt = Annotated[
    int | None,
    typer.Option(
        "--lock-wait-timeout",
        help="MySQL lock_wait_timeout (s; the service's: 5): a DDL blocked by another "
        "session's metadata lock fails after this instead of stalling traffic.",
        show_default=False,
    ),
]


def _flags(**values: str | int | None) -> list[str]:
    """`--lock-timeout=30`-style arguments for the options that were given."""
    return [f"--{k.replace('_', '-')}={v}" for k, v in values.items() if v is not None]


def _run(target: Target, action: str, args: list[str]) -> Outcome:
    try:
        return target.run(action, args)
    except TargetError as error:
        raise fail(str(error)) from None


def _finish(outcome: Outcome) -> NoReturn:
    """Show what the service printed and exit with its code."""
    echo(outcome)
    raise typer.Exit(outcome.code)


def _json(outcome: Outcome, action: str) -> Any:
    """The service's --json answer (a failure is shown and exits with its code)."""
    if outcome.code not in (0, 2):
        _finish(outcome)
    try:
        answer = json.loads(outcome.stdout)
    except ValueError:
        echo(outcome)
        raise fail(f"migrate {action}: the service's answer is not JSON") from None
    echo(Outcome(outcome.code, "", outcome.stderr))
    return answer


def _guard_destructive(environment: Environment, action: str, yes: bool) -> None:
    """down/stamp: name the environment and revision, ask; prod also needs --yes."""
    if environment.is_prod and not yes:
        raise fail(
            f"{action} on prod needs --yes (and the name typed when interactive)", Exit.ABORTED
        )
    if environment.is_prod and sys.stdin.isatty():
        confirm(environment, action, False)
        return
    confirm(environment, action, yes)


@app.command("status")
def migrate_status(
    env: EnvArg,
    database_url: DatabaseUrlOpt = None,
    emulator: EmulatorOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Current and head revision, pending revisions and a revision that failed half-way.
    Exit 2 when migrations are pending."""
    target = open_target(load_env(env), emulator, database_url)
    outcome = _run(target, "status", ["--json"] if json_output else [])
    if json_output:
        result = target.context | _json(outcome, "status")
        typer.echo(json.dumps(result, indent=2))
        raise typer.Exit(outcome.code)
    if target.heading and outcome.code in (0, 2):
        typer.echo(target.heading)
    _finish(outcome)


@app.command("up")
def migrate_up(
    env: EnvArg,
    database_url: DatabaseUrlOpt = None,
    revision: RevisionOpt = None,
    phase: Annotated[
        str | None,
        typer.Option(
            "--phase",
            help="expand: pending revisions up to the first contract one (before a deploy); "
            "contract: the rest (after the old colour is gone).",
        ),
    ] = None,
    allow_destructive: Annotated[
        bool,
        typer.Option("--allow-destructive", help="Apply revisions the lint flags anyway."),
    ] = False,
    lock_timeout: LockTimeoutOpt = None,
    lock_wait_timeout: LockWaitOpt = None,
    emulator: EmulatorOpt = None,
) -> None:
    """Upgrade to head (or --revision / --phase) under the migration lock, logging each
    statement. Pending revisions the lint flags are refused (exit 4). A revision failing
    half-way is recorded: see `status`."""
    if phase not in (None, "expand", "contract"):
        raise fail(f"--phase must be expand or contract, got {phase!r}")
    target = open_target(load_env(env), emulator, database_url)
    args = _flags(revision=revision, phase=phase)
    args += ["--allow-destructive"] if allow_destructive else []
    args += _flags(lock_timeout=lock_timeout, lock_wait_timeout=lock_wait_timeout)
    with target.lock("migrate up"):
        outcome = _run(target, "up", args)
    _finish(outcome)


@app.command("down")
def migrate_down(
    env: EnvArg,
    database_url: DatabaseUrlOpt = None,
    revision: Annotated[
        str, typer.Option("--revision", help="Revision to go down to (-1: one step).")
    ] = "-1",
    yes: YesOpt = False,
    lock_timeout: LockTimeoutOpt = None,
    lock_wait_timeout: LockWaitOpt = None,
    emulator: EmulatorOpt = None,
) -> None:
    """Downgrade (guarded): names the environment and revisions, asks; prod also needs --yes."""
    environment = load_env(env)
    target = open_target(environment, emulator, database_url)
    plan = _json(_run(target, "down", [f"--revision={revision}", "--dry-run", "--json"]), "down")
    reverts = ", ".join(plan["reverts"])
    if not reverts:
        console().print(f"Nothing to downgrade: {env} is at {plan['current'] or 'base'}.")
        return
    console().print(
        f"[bold]Downgrade {env}[/] from {plan['current']} to {revision}: reverts {reverts}"
        " (their data is lost)."
    )
    _guard_destructive(environment, f"revert {reverts} on", yes)
    # Down to the revision the plan resolved (-1 -> 0001): exactly what was confirmed.
    args = [f"--revision={plan['to']}"]
    args += _flags(lock_timeout=lock_timeout, lock_wait_timeout=lock_wait_timeout)
    with target.lock("migrate down"):
        outcome = _run(target, "down", args)
    _finish(outcome)


@app.command("sql")
def migrate_sql(
    env: EnvArg,
    database_url: DatabaseUrlOpt = None,
    revision: RevisionOpt = None,
    emulator: EmulatorOpt = None,
) -> None:
    """Print the SQL of the pending revisions (Alembic offline mode), for review."""
    target = open_target(load_env(env), emulator, database_url)
    _finish(_run(target, "sql", _flags(revision=revision)))


@app.command("stamp")
def migrate_stamp(
    env: EnvArg,
    revision: Annotated[str, typer.Option("--revision", help="Revision to record as applied.")],
    database_url: DatabaseUrlOpt = None,
    yes: YesOpt = False,
    emulator: EmulatorOpt = None,
) -> None:
    """Record REVISION as applied without running it: the recovery after finishing a revision
    that failed half-way by hand (see `status`)."""
    environment = load_env(env)
    _guard_destructive(environment, f"stamp {revision} (run nothing) on", yes)
    target = open_target(environment, emulator, database_url)
    with target.lock("migrate stamp"):
        outcome = _run(target, "stamp", [f"--revision={revision}"])
    _finish(outcome)


@app.command("history")
def migrate_history(
    env: EnvArg,
    database_url: DatabaseUrlOpt = None,
    emulator: EmulatorOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Every revision with its phase, and what migration_log recorded (applied, failed, ...)."""
    from rich.table import Table

    target = open_target(load_env(env), emulator, database_url)
    found = _json(_run(target, "history", ["--json"]), "history")
    if json_output:
        typer.echo(json.dumps(found, indent=2))
        return
    table = Table("revision", "phase", "description", title="Revisions", title_justify="left")
    for r in found["revisions"]:
        table.add_row(r["revision"], r["phase"] or "-", r["doc"])
    console().print(table)
    runs = Table("at", "revision", "action", "status", "statements", "by", "error")
    for row in found["log"]:
        runs.add_row(
            row["at"],
            row["revision"],
            row["action"],
            row["status"],
            str(row["statements"]),
            row["by"],
            row["error"] or "",
        )
    console().print(runs if found["log"] else "No migration has run on this database yet.")


@app.command("lint")
def migrate_lint(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Revision files or folders (default: service/migrations/versions)."),
    ] = None,
) -> None:
    """Flag destructive operations (drop column/table, rename, NOT NULL without default, type
    narrowing) outside contract revisions (`ingest-service schema lint`). Exit 1 on any error."""
    try:
        outcome = run_service(["schema", "lint", *(str(p) for p in paths or [])])
    except TargetError as error:
        raise fail(str(error)) from None
    _finish(outcome)
