"""`opsctl migrate status|up|down|sql|stamp|history|lint`: Alembic, safely, on MySQL/Aurora.

Two targets:
- `--database-url URL` (local, dev, CI): service/migrate.py runs here, in this process.
- otherwise the environment in AWS: `ingest-service schema ...` on one InService instance of
  the live colour through SSM Run Command (opsctl/migrate_remote.py), under the environment lock
  for anything that writes.

Exit codes: 0 ok, 1 error, 2 migrations pending (`status`), 3 a lock is held, 4 aborted by a
guard or the user.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

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
    from opsctl.migrate_remote import Outcome

T = TypeVar("T")

migrate_app = typer.Typer(
    help="Database migrations (Alembic) under a lock: status, up, down, sql, stamp, history, lint.",
    no_args_is_help=True,
)

# Seconds: GET_LOCK wait, MySQL lock_wait_timeout. service.migrate.DEFAULT_* hold the same values;
# importing it here would load SQLAlchemy and Alembic for every `opsctl --help`.
LOCK_TIMEOUT, LOCK_WAIT_TIMEOUT = 60, 5
RevisionOpt = Annotated[str | None, typer.Option("--revision", help="Target revision.")]
LockTimeoutOpt = Annotated[
    int, typer.Option("--lock-timeout", help="Seconds to wait for the migration lock.")
]
LockWaitOpt = Annotated[
    int,
    typer.Option(
        "--lock-wait-timeout",
        help="MySQL lock_wait_timeout (s): a DDL blocked by another session's metadata lock "
        "fails after this instead of stalling traffic.",
    ),
]


# --- shared plumbing ------------------------------------------------------------------------
def _run(action: str, work: Coroutine[Any, Any, T]) -> T:
    """Run one service.migrate coroutine; failures become messages and exit codes."""
    from opsctl.exitcodes import Exit
    from service.migrate import MigrationError, MigrationLockTimeout

    try:
        return asyncio.run(work)
    except MigrationLockTimeout as error:
        raise fail(f"migrate {action}: {error}", Exit.LOCKED) from None
    except MigrationError as error:
        raise fail(f"migrate {action}: {error}") from None
    except Exception as error:  # driver and connection errors: one line, no traceback
        message = " ".join(str(getattr(error, "orig", None) or error).split())
        raise fail(f"migrate {action}: {type(error).__name__}: {message}") from None


def _settings(url: str) -> Any:
    from service.settings import Settings

    return Settings(database_url=url, database_secret_arn=None)


def _options(lock_timeout: int, lock_wait_timeout: int) -> Any:
    from service.migrate import Options

    out = console(stderr=True)
    return Options(
        lock_timeout=lock_timeout,
        lock_wait_timeout=lock_wait_timeout,
        on_statement=lambda s: out.print(f"  [dim]sql>[/] {s}", markup=True, soft_wrap=True),
    )


def _remote(
    environment: Environment,
    emulator: str | None,
    action: str,
    args: list[str],
    lock: bool,
) -> Outcome:
    """Run `ingest-service schema ACTION ARGS` on an instance of the live colour via SSM."""
    from contextlib import nullcontext

    from botocore.exceptions import BotoCoreError, ClientError

    from opsctl import aws, migrate_remote
    from opsctl.bluegreen.stack import StackError
    from opsctl.bluegreen_cli import ConsoleReport, open_engine
    from opsctl.lock import cli_lock
    from opsctl.workspace import emulator_from

    env = environment.name
    url = emulator_from(emulator, environment)
    report = ConsoleReport()
    guard = cli_lock(env, environment.region, url, f"migrate {action}") if lock else nullcontext()
    try:
        with guard:
            engine = open_engine(environment, emulator, report)
            target = migrate_remote.find_target(engine)
            lines = migrate_remote.command_lines(action, args)
            console(stderr=True).print(
                f"Running on {target.instance_id} ({target.colour}, {target.asg}) via SSM: "
                f"ingest-service schema {action} {' '.join(args)}".rstrip(),
                soft_wrap=True,
            )
            try:
                return migrate_remote.run(
                    engine.aws.ssm,
                    target,
                    lines,
                    f"opsctl migrate {action} {env}",
                    progress=report.progress,
                    logs=aws.client("logs", environment.region, url),
                    group=migrate_remote.log_group(env),
                    autoscaling=engine.aws.autoscaling,
                )
            finally:
                report.close()
    except (migrate_remote.RemoteError, StackError) as error:
        raise fail(f"migrate {action} {env}: {error}") from None
    except KeyboardInterrupt:
        from opsctl.exitcodes import Exit

        raise fail(
            f"migrate {action} {env} interrupted: the SSM command was cancelled and has "
            "stopped; see `opsctl migrate status` before retrying",
            Exit.ABORTED,
        ) from None
    except ClientError as error:
        raise fail(f"migrate {action} {env}: AWS refused a call: {error}") from None
    except BotoCoreError as error:
        raise fail(f"migrate {action} {env}: cannot reach AWS: {error}") from None


def _show_remote(outcome: Outcome) -> None:
    if outcome.stdout:
        typer.echo(outcome.stdout, nl=not outcome.stdout.endswith("\n"))
    if outcome.stderr:
        typer.echo(outcome.stderr, err=True, nl=not outcome.stderr.endswith("\n"))
    if outcome.status != "Success" and outcome.code == 0:
        raise fail(f"the SSM command {outcome.command_id} ended {outcome.status}")
    if outcome.code:
        raise typer.Exit(outcome.code)


def _lint_guard(revisions: set[str], allow: bool) -> None:
    """Refuse (exit 4) to apply pending revisions the lint flags, unless allowed."""
    from opsctl.exitcodes import Exit
    from opsctl.migrate_lint import lint

    errors = [f for f in lint(revisions=revisions) if f.error]
    if not errors:
        return
    for finding in errors:
        console(stderr=True).print(finding.describe(), markup=False, soft_wrap=True)
    if allow:
        console(stderr=True).print("[yellow]--allow-destructive: applying anyway[/]")
        return
    raise fail(
        "pending revisions contain destructive operations in an expand revision (see above): "
        "move them to a contract revision, or pass --allow-destructive",
        Exit.ABORTED,
    )


def _status_dict(env: str, url: str) -> dict[str, Any]:
    from service.migrate import status

    return {"env": env, "target": "database-url"} | _run("status", status(_settings(url))).as_dict()


# --- commands -------------------------------------------------------------------------------
@migrate_app.command("status")
def migrate_status(
    env: EnvArg,
    database_url: DatabaseUrlOpt = None,
    emulator: EmulatorOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Current and head revision, pending revisions and a revision that failed half-way.
    Exit 2 when migrations are pending."""
    from service.migrate import describe_status

    environment = load_env(env)
    if database_url is None:
        args = ["--json"] if json_output else []
        _show_remote(_remote(environment, emulator, "status", args, lock=False))
        return
    result = _status_dict(env, database_url)
    if json_output:
        typer.echo(json.dumps(result, indent=2))
    else:
        typer.echo(f"{env} (database URL)")
        typer.echo("\n".join(describe_status(result)))
    raise typer.Exit(0 if result["up_to_date"] else 2)


@migrate_app.command("up")
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
    lock_timeout: LockTimeoutOpt = LOCK_TIMEOUT,
    lock_wait_timeout: LockWaitOpt = LOCK_WAIT_TIMEOUT,
    emulator: EmulatorOpt = None,
) -> None:
    """Upgrade to head (or --revision / --phase) under the migration lock, logging each
    statement. A revision failing half-way is recorded: see `status`."""
    from service.migrate import path

    if phase not in (None, "expand", "contract"):
        raise fail(f"--phase must be expand or contract, got {phase!r}")
    environment = load_env(env)
    if database_url is None:
        args = [f"--revision={revision}"] if revision else []
        args += [f"--phase={phase}"] if phase else []
        if (lock_timeout, lock_wait_timeout) != (LOCK_TIMEOUT, LOCK_WAIT_TIMEOUT):
            args += [f"--lock-timeout={lock_timeout}", f"--lock-wait-timeout={lock_wait_timeout}"]
        _lint_guard({r.revision for r in path(None, revision or "head")}, allow_destructive)
        _show_remote(_remote(environment, emulator, "up", args, lock=True))
        return
    _up_here(env, database_url, revision, phase, allow_destructive, lock_timeout, lock_wait_timeout)


def _up_here(
    env: str,
    database_url: str,
    revision: str | None,
    phase: str | None,
    allow_destructive: bool,
    lock_timeout: int,
    lock_wait_timeout: int,
) -> None:
    """`up` with --database-url: in this process, under the migration lock."""
    from service.migrate import path, phase_target, upgrade

    current = _status_dict(env, database_url)["current"]
    target = revision or "head"
    if phase is not None:
        found = phase_target(current, phase)
        if found is None:
            console().print(f"No {phase} revisions pending on {env}.")
            return
        target = found
    pending = {r.revision for r in path(current, target)}
    if not pending:
        console().print(f"[green]Up to date:[/] {env} is at {current}.")
        return
    _lint_guard(pending, allow_destructive)
    applied = _run(
        "up", upgrade(_settings(database_url), target, _options(lock_timeout, lock_wait_timeout))
    )
    for name, statements in applied:
        console().print(f"  [green]ok[/] applied {name} ({len(statements)} statement(s))")
    if not applied:
        console().print("Nothing to apply: another run applied the pending revisions.")
    console().print(f"[green]{env} is at {target if target != 'head' else 'head'}.[/]")


def _guard_destructive(environment: Environment, action: str, yes: bool) -> None:
    """down/stamp: name the environment and revision, ask; prod also needs --yes."""
    from opsctl.exitcodes import Exit

    if environment.is_prod and not yes:
        raise fail(
            f"{action} on prod needs --yes (and the name typed when interactive)", Exit.ABORTED
        )
    if environment.is_prod and sys.stdin.isatty():
        confirm(environment, action, False)
        return
    confirm(environment, action, yes)


@migrate_app.command("down")
def migrate_down(
    env: EnvArg,
    database_url: DatabaseUrlOpt = None,
    revision: Annotated[
        str, typer.Option("--revision", help="Revision to go down to (-1: one step).")
    ] = "-1",
    yes: YesOpt = False,
    lock_timeout: LockTimeoutOpt = LOCK_TIMEOUT,
    lock_wait_timeout: LockWaitOpt = LOCK_WAIT_TIMEOUT,
    emulator: EmulatorOpt = None,
) -> None:
    """Downgrade (guarded): names the environment and revisions, asks; prod also needs --yes."""
    from service.migrate import downgrade, downgrade_plan

    environment = load_env(env)
    if database_url is None:
        _guard_destructive(environment, f"downgrade to {revision}: {env}", yes)
        args = [f"--revision={revision}"]
        _show_remote(_remote(environment, emulator, "down", args, lock=True))
        return
    current = _status_dict(env, database_url)["current"]
    try:
        reverted = downgrade_plan(current, revision)
    except Exception as error:
        raise fail(f"migrate down: {error}") from None
    if not reverted:
        console().print(f"Nothing to downgrade: {env} is at {current or 'base'}.")
        return
    console().print(
        f"[bold]Downgrade {env}[/] from {current} to {revision}: reverts {', '.join(reverted)}"
        " (their data is lost)."
    )
    _guard_destructive(environment, f"revert {', '.join(reverted)} on", yes)
    done = _run(
        "down",
        downgrade(_settings(database_url), revision, _options(lock_timeout, lock_wait_timeout)),
    )
    for name, statements in done:
        console().print(f"  [green]ok[/] reverted {name} ({len(statements)} statement(s))")


@migrate_app.command("sql")
def migrate_sql(
    env: EnvArg,
    database_url: DatabaseUrlOpt = None,
    revision: RevisionOpt = None,
    emulator: EmulatorOpt = None,
) -> None:
    """Print the SQL of the pending revisions (Alembic offline mode), for review."""
    from service.migrate import pending_sql

    environment = load_env(env)
    if database_url is None:
        args = [f"--revision={revision}"] if revision else []
        _show_remote(_remote(environment, emulator, "sql", args, lock=False))
        return
    script = _run("sql", pending_sql(_settings(database_url), revision or "head"))
    if not script.strip():
        console(stderr=True).print(f"Nothing pending on {env}.")
    typer.echo(script, nl=False)


@migrate_app.command("stamp")
def migrate_stamp(
    env: EnvArg,
    revision: Annotated[str, typer.Option("--revision", help="Revision to record as applied.")],
    database_url: DatabaseUrlOpt = None,
    yes: YesOpt = False,
    emulator: EmulatorOpt = None,
) -> None:
    """Record REVISION as applied without running it: the recovery after finishing a revision
    that failed half-way by hand (see `status`)."""
    from service.migrate import Options, stamp

    environment = load_env(env)
    _guard_destructive(environment, f"stamp {revision} (run nothing) on", yes)
    if database_url is None:
        args = [f"--revision={revision}"]
        _show_remote(_remote(environment, emulator, "stamp", args, lock=True))
        return
    _run("stamp", stamp(_settings(database_url), revision, Options()))
    console().print(f"[green]Stamped[/] {env} at {revision}.")


@migrate_app.command("history")
def migrate_history(
    env: EnvArg,
    database_url: DatabaseUrlOpt = None,
    emulator: EmulatorOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Every revision with its phase, and what migration_log recorded (applied, failed, ...)."""
    from rich.table import Table

    from service.migrate import history, revisions

    environment = load_env(env)
    if database_url is None:
        args = ["--json"] if json_output else []
        _show_remote(_remote(environment, emulator, "history", args, lock=False))
        return
    log = _run("history", history(_settings(database_url)))
    known = [{"revision": r.revision, "phase": r.phase, "doc": r.doc} for r in revisions()]
    if json_output:
        typer.echo(json.dumps({"revisions": known, "log": log}, indent=2))
        return
    table = Table("revision", "phase", "description", title="Revisions", title_justify="left")
    for r in known:
        table.add_row(r["revision"], r["phase"] or "-", r["doc"])
    console().print(table)
    runs = Table("at", "revision", "action", "status", "statements", "by", "error")
    for row in log:
        runs.add_row(
            row["at"],
            row["revision"],
            row["action"],
            row["status"],
            str(row["statements"]),
            row["by"],
            row["error"] or "",
        )
    console().print(runs if log else "No migration has run on this database yet.")


@migrate_app.command("lint")
def migrate_lint(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Revision files or folders (default: service/migrations/versions)."),
    ] = None,
) -> None:
    """Flag destructive operations (drop column/table, rename, NOT NULL without default, type
    narrowing) outside contract revisions. Exit 1 on any error."""
    from opsctl.migrate_lint import lint

    findings = lint(paths)
    for finding in findings:
        style = "red" if finding.error else "yellow"
        console().print(f"[{style}]{finding.describe()}[/]", soft_wrap=True)
    errors = sum(f.error for f in findings)
    if errors:
        raise fail(f"{errors} problem(s): destructive operations belong in contract revisions")
    console().print(f"[green]ok[/] revisions lint clean ({len(findings)} contract finding(s))")


def run_phase(
    environment: Environment, phase: str, emulator: str | None, database_url: str | None
) -> int:
    """For `opsctl release`: `migrate up --phase PHASE` on ENV, with the same guards as
    `migrate up`; directly with a database URL, else on a live-colour instance via SSM. The
    caller holds the environment lock. Returns the exit code (errors are printed)."""
    from service.migrate import path

    try:
        if database_url:
            _up_here(
                environment.name, database_url, None, phase, False, LOCK_TIMEOUT, LOCK_WAIT_TIMEOUT
            )
            return 0
        _lint_guard({r.revision for r in path(None, "head")}, allow=False)
        outcome = _remote(environment, emulator, "up", [f"--phase={phase}"], lock=False)
        _show_remote(outcome)
        return outcome.code
    except typer.Exit as stopped:
        return int(stopped.exit_code)
