"""`opsctl runbook list|show|for-alarm|run|test`: the incident runbooks in runbooks/*.md.

Exit codes: 0 ok, 1 error (a step failed, a runbook is malformed, no runbook for an alarm),
3 the environment lock is held (remediation), 4 aborted by a guard or the user.
"""

from __future__ import annotations

import json
import os
import sys
import time
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from opsctl import aws
from opsctl.aws import emulator_from
from opsctl.exitcodes import Exit
from opsctl.lock import caller_identity, whoami
from opsctl.runbooks.actions import ACTIONS, Context
from opsctl.runbooks.model import (
    RUNBOOKS,
    SECTIONS,
    STALE_AFTER,
    RunbookError,
    check_actions,
    for_alarm_name,
    load,
    load_all,
    parse,
)
from opsctl.runbooks.runner import Timeline, run_step, walk
from opsctl.terraform import render
from opsctl.ui import EmulatorOpt, EnvArg, JsonOpt, YesOpt, console, fail, load_env

if TYPE_CHECKING:
    from opsctl.runbooks.model import Runbook, Step

app = typer.Typer(
    help="Incident runbooks: list, show, find the one for an alarm, run, test.",
    no_args_is_help=True,
)
NameArg = Annotated[str, typer.Argument(help="Runbook name (runbooks/NAME.md).")]


def _load(name: str) -> Runbook:

    try:
        return load(name)
    except RunbookError as error:
        raise fail(str(error)) from None


def _all() -> list[Runbook]:

    try:
        return load_all()
    except RunbookError as error:
        raise fail(str(error)) from None


def _context(env: str, emulator: str | None) -> Any:

    environment = load_env(env)
    return Context(environment, emulator_from(emulator, environment))


@app.command("list")
def runbook_list(json_output: JsonOpt = False) -> None:
    """Every runbook: name, title, severity, the alarms it answers, last tested (stale after 90
    days)."""
    from rich.table import Table

    books = _all()
    if json_output:
        rows = [
            {
                "name": b.name,
                "title": b.title,
                "severity": b.severity,
                "alarms": b.alarms,
                "owner": b.owner,
                "last_tested": b.last_tested,
                "stale": b.stale(),
            }
            for b in books
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("name", "title", "severity", "alarms", "last tested")
    for b in books:
        tested = f"[yellow]{b.last_tested} (stale)[/]" if b.stale() else b.last_tested
        table.add_row(b.name, b.title, b.severity, ", ".join(b.alarms) or "-", tested)
    console().print(table)


@app.command("validate")
def runbook_validate(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Runbook files to check (default: every runbook in runbooks/)."),
    ] = None,
) -> None:
    """Check runbooks as `run` loads them: the format, and every step naming a known action of
    its kind. Exit 1 naming the file, step and action on the first problem."""
    files = paths or [p for p in sorted(RUNBOOKS.glob("*.md")) if p.name != "README.md"]
    for path in files:
        if not path.is_file():
            raise fail(f"{path}: no such runbook file")
        try:
            check_actions(parse(path))
        except RunbookError as error:
            raise fail(str(error)) from None
    console().print(f"[green]ok[/] {len(files)} runbook(s) valid")


@app.command("show")
def runbook_show(name: NameArg) -> None:
    """Print a runbook: its sections and the steps with the action each runs."""

    book = _load(name)
    out = console()
    out.print(f"[bold]{book.title}[/]  ({book.name}, severity {book.severity}, owner {book.owner})")
    out.print(f"alarms: {', '.join(book.alarms) or '-'}; last tested {book.last_tested}")
    if book.stale():
        out.print(
            f"[yellow]Not tested for over {STALE_AFTER.days} days: exercise it (game day, or "
            "`opsctl runbook test` on a real environment) and update last_tested.[/]"
        )
    for title in SECTIONS:
        section = book.sections[title]
        out.print(f"\n[bold]## {title}[/]")
        if section.text:
            out.print(section.text, markup=False, soft_wrap=True)
        for step in section.steps:
            action = ACTIONS.get(step.action)
            summary = action.summary if action else "UNKNOWN ACTION"
            args = f" {step.args}" if step.args else ""
            out.print(f"  [{step.id}] {step.kind} {step.action}{args}: {summary}", markup=False)
            if step.expect:
                out.print(f"      expected: {step.expect}", markup=False)


@app.command("for-alarm")
def runbook_for_alarm(
    alarm_name: Annotated[str, typer.Argument(help="CloudWatch alarm name.")],
    env: Annotated[
        str | None,
        typer.Option("--env", envvar="OPSCTL_ENV", help="Environment (region, emulator)."),
    ] = None,
    emulator: EmulatorOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """The runbook answering ALARM_NAME: its `runbook` tag (CloudWatch ListTagsForResource),
    else the alarm-name pattern (<prefix>-<alarm key>)."""
    from botocore.exceptions import BotoCoreError, ClientError

    books = {b.name: b for b in _all()}
    via, tag, state = "name pattern", None, None
    region = "us-east-1"
    url = emulator
    role = None  # without --env: the operator's own credentials, in their region
    if env:
        environment = load_env(env)

        region, url = environment.region, emulator_from(emulator, environment)
        role = environment.assume_role_arn
    else:
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or region
    try:
        cloudwatch = aws.client("cloudwatch", region, url, role_arn=role)
        found = cloudwatch.describe_alarms(AlarmNames=[alarm_name])
        alarms = found.get("MetricAlarms", []) + found.get("CompositeAlarms", [])
        if alarms:
            state = alarms[0]["StateValue"]
            tags = cloudwatch.list_tags_for_resource(ResourceARN=alarms[0]["AlarmArn"])["Tags"]
            tag = next((t["Value"] for t in tags if t["Key"] == "runbook"), None)
    except (ClientError, BotoCoreError) as error:
        console(stderr=True).print(f"[yellow]warning:[/] cannot read the alarm: {error}")
    book = None
    if tag is not None:
        book = books.get(tag)
        if book is None:
            raise fail(f"alarm {alarm_name} names runbook {tag!r}, which does not exist")
        via = "runbook tag"
    else:
        book = for_alarm_name(alarm_name, list(books.values()))
    if book is None:
        raise fail(f"no runbook for alarm {alarm_name}: no runbook tag and no name match")
    result = {
        "alarm": alarm_name,
        "state": state,
        "runbook": book.name,
        "title": book.title,
        "severity": book.severity,
        "via": via,
        "path": f"runbooks/{book.name}.md",
        "run": f"opsctl runbook run {book.name} {env or 'ENV'}",
    }
    if json_output:
        typer.echo(json.dumps(result, indent=2))
        return
    console().print(
        f"{alarm_name} ({state or 'state unknown'}) -> runbook [bold]{book.name}[/]: {book.title} "
        f"(severity {book.severity}; found via {via})\n  {result['path']}\n  run: {result['run']}",
        soft_wrap=True,
    )


def _asker(env_name: str, is_prod: bool, yes: bool) -> Any:
    """Remediate steps: --yes runs them; prod wants the name typed (never piped); elsewhere a
    y/N read from stdin, so scripted answers work. End of input declines."""

    def ask(step: Step, command: str) -> bool:
        if yes:
            return True
        if is_prod:
            if not sys.stdin.isatty():
                console(stderr=True).print("    prod remediation needs --yes or a terminal")
                return False
            typed = typer.prompt(f"    Type {env_name} to run {step.action} on {env_name}")
            return typed.strip() == env_name
        typer.echo(f"    Run {step.action} on {env_name}? [y/N] ", nl=False)
        line = sys.stdin.readline()
        if not sys.stdin.isatty():
            typer.echo(line.strip())
        return line.strip().lower() in ("y", "yes")

    return ask


def incident_log_group(env: str) -> str:
    """The shared group every operator's runbook timelines go to (one stream per incident)."""
    return f"/ingest/{env}/incidents"


def _operator(ctx: Any) -> str:
    """Who runs the runbook: the STS caller identity (user@host pid if STS cannot answer)."""
    try:
        return caller_identity(ctx.env.region, ctx.emulator_url, role_arn=ctx.env.assume_role_arn)
    except Exception as error:
        console(stderr=True).print(
            f"[yellow]warning:[/] cannot ask STS who you are ({type(error).__name__}); the "
            "timeline names this process instead",
            soft_wrap=True,
        )
        return whoami()


def _cloudwatch_mirror(ctx: Any, group: str, stream: str) -> Any:
    """Mirror to the shared group; made on first use. The stream is created lazily, so a Logs
    outage at the start costs the mirror, never the walk."""
    logs = ctx.client("logs")
    ready: list[bool] = []

    def put(entry: dict[str, Any]) -> None:
        if not ready:
            with suppress(logs.exceptions.ResourceAlreadyExistsException):
                logs.create_log_group(logGroupName=group)
            with suppress(logs.exceptions.ResourceAlreadyExistsException):
                logs.create_log_stream(logGroupName=group, logStreamName=stream)
            ready.append(True)
        logs.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[{"timestamp": int(1000 * _epoch()), "message": json.dumps(entry)}],
        )

    return put


def _epoch() -> float:

    return time.time()


@app.command("run")
def runbook_run(
    name: NameArg,
    env: EnvArg,
    yes: YesOpt = False,
    read_only: Annotated[
        bool, typer.Option("--read-only", help="Run only diagnose steps; skip remediation.")
    ] = False,
    incident: Annotated[
        str | None,
        typer.Option(
            "--incident",
            help="Incident id (default: time-based). An existing one adds to its timeline.",
        ),
    ] = None,
    log: Annotated[
        Path | None,
        typer.Option("--log", help="Timeline file (default build/ENV/incidents/ID.jsonl)."),
    ] = None,
    cloudwatch_log_group: Annotated[
        str | None,
        typer.Option(
            "--cloudwatch-log-group",
            help="Shared log group the timeline is mirrored to (default /ingest/ENV/incidents).",
        ),
    ] = None,
    emulator: EmulatorOpt = None,
) -> None:
    """Walk runbook NAME on ENV: diagnose steps run directly; each remediate step is asked for
    (the name typed in prod; --yes for non-interactive use) and runs under the environment
    lock. Every step goes to a JSON-lines timeline; a markdown summary is printed at the end."""

    book = _load(name)
    ctx = _context(env, emulator)
    ctx.operator = _operator(ctx)
    incident = incident or f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{book.name}"
    path = log or render.build_dir(env) / "incidents" / f"{incident}.jsonl"
    timeline = Timeline(path, incident, book.name, env, ctx.operator)
    group = cloudwatch_log_group or incident_log_group(env)
    timeline.mirror = _cloudwatch_mirror(ctx, group, incident)
    out = console()
    out.print(f"[bold]{book.title}[/] on {env} - incident {incident}", soft_wrap=True)

    def show(text: str) -> None:
        out.print(text, markup=False, soft_wrap=True)

    result = walk(
        book,
        ctx,
        timeline,
        _asker(env, ctx.env.is_prod, yes),
        show,
        read_only=read_only,
        lock_command=f"runbook {book.name} ({incident})",
    )
    summary = timeline.summary(book)
    path.with_suffix(".md").write_text(summary, encoding="utf-8")
    for failure in timeline.mirror_failures:
        console(stderr=True).print(
            f"[yellow]warning:[/] timeline entry not mirrored to {group} ({failure}); "
            f"it is in {path}",
            soft_wrap=True,
        )
    out.print("")
    out.print(summary, markup=False, soft_wrap=True)
    if result.locked:
        raise fail(f"{env} is locked by {result.locked}: remediation not run", Exit.LOCKED)
    if result.failed:
        raise fail(f"{result.failed} step(s) failed (see the timeline {path})")


@app.command("test")
def runbook_test(env: EnvArg, emulator: EmulatorOpt = None, json_output: JsonOpt = False) -> None:
    """Run every runbook's diagnose steps against ENV, remediating nothing, so runbooks do not
    rot. Exit 1 when a step fails or a runbook names an unknown action."""
    from rich.table import Table

    books = _all()
    ctx = _context(env, emulator)
    rows: list[dict[str, str]] = []
    for book in books:
        for step in book.steps:
            if step.action not in ACTIONS:
                rows.append(
                    {
                        "runbook": book.name,
                        "step": step.id,
                        "action": step.action,
                        "outcome": "failed",
                        "output": "unknown action",
                    }
                )
                continue
            if step.kind != "diagnose":
                continue
            outcome, _command, output = run_step(ctx, step)
            rows.append(
                {
                    "runbook": book.name,
                    "step": step.id,
                    "action": step.action,
                    "outcome": outcome,
                    "output": output,
                }
            )
    failed = [r for r in rows if r["outcome"] == "failed"]
    if json_output:
        typer.echo(json.dumps(rows, indent=2))
    else:
        table = Table("runbook", "step", "action", "outcome", "output")
        for r in rows:
            first = r["output"].splitlines()[0] if r["output"] else ""
            table.add_row(r["runbook"], r["step"], r["action"], r["outcome"], first[:90])
        console().print(table)
    if failed:
        raise fail(f"{len(failed)} of {len(rows)} diagnose step(s) failed on {env}")
    console(stderr=True).print(
        f"[green]ok[/] {len(rows)} diagnose step(s) of {len(books)} runbook(s) ran on {env}"
    )
