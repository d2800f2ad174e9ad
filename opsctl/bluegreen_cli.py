"""The `bluegreen`, `lock` and `release` command groups (registered in opsctl/cli.py).

Heavy imports (boto3, rich tables, the engine) happen inside the commands: `opsctl --help` stays
fast. Exit codes: 0 done, 1 error, 3 lock held, 4 aborted by a guard or the user, 5 rolled back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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
    from rich.status import Status

    from opsctl.bluegreen.engine import Engine, Result
    from opsctl.config import Environment

bluegreen_app = typer.Typer(
    help="Blue/green deployments: status, deploy (canary, bake), switch, rollback.",
    no_args_is_help=True,
)
lock_app = typer.Typer(help="The environment lock shared by apply, deploy, release, migrate.")

AmiOpt = Annotated[str | None, typer.Option("--ami", help="AMI to deploy (ami-...).")]
CanaryOpt = Annotated[
    str,
    typer.Option("--canary", help="Traffic percentages before the switch, e.g. 10,50 ('' none)."),
]
BakeOpt = Annotated[
    str,
    typer.Option(
        "--bake",
        help="How long each canary step is held (30s, 7m); 'auto': the shortest the alarm "
        "gate allows (evaluation window + metric delay).",
    ),
]
ForceBakeOpt = Annotated[
    bool, typer.Option("--force", help="Accept a bake shorter than the alarm gate's minimum.")
]
MinHealthyOpt = Annotated[
    float,
    typer.Option(
        "--min-healthy",
        min=1,
        max=100,
        help="Percent of the target capacity that must be ready before traffic moves.",
    ),
]
KeepOldOpt = Annotated[
    str,
    typer.Option("--keep-old", help="How long the old colour stays scaled after the switch."),
]
ColourOpt = Annotated[
    str | None,
    typer.Option("--to", help="blue or green (default: the idle colour).", show_default=False),
]
DEFAULT_CANARY, DEFAULT_BAKE, DEFAULT_KEEP_OLD = "10,50", "auto", "15m"


class ConsoleReport:
    """Steps as lines on stdout; waits as a spinner that shows the latest progress."""

    def __init__(self) -> None:
        self.out = console()
        self.status: Status | None = None

    def step(self, text: str) -> None:
        self.out.print(f"  [green]ok[/] {text}", soft_wrap=True)

    def note(self, text: str) -> None:
        self.out.print(text, soft_wrap=True)

    def warn(self, text: str) -> None:
        console(stderr=True).print(f"[yellow]warning:[/] {text}", soft_wrap=True)

    def progress(self, text: str) -> None:
        if not self.out.is_terminal:
            return
        if self.status is None:
            self.status = self.out.status(text)
            self.status.start()
        else:
            self.status.update(text)

    def close(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None


@contextmanager
def _errors(env_name: str, what: str) -> Iterator[None]:
    """Every failure as one clear message and the contract's exit code, never a traceback."""
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError

    from opsctl.bluegreen.engine import BlueGreenError, Guard
    from opsctl.bluegreen.stack import StackError
    from opsctl.exitcodes import Exit

    try:
        yield
    except Guard as error:
        raise fail(f"{what} {env_name}: {error}", Exit.ABORTED) from None
    except (BlueGreenError, StackError) as error:
        raise fail(f"{what} {env_name}: {error}") from None
    except ClientError as error:
        raise fail(f"{what} {env_name}: AWS refused a call: {error}") from None
    except (BotoCoreError, ResponseParserError) as error:
        raise fail(f"{what} {env_name}: cannot reach AWS: {error}") from None
    except KeyboardInterrupt as stop:
        raise fail(
            f"{what} {env_name} interrupted ({getattr(stop, 'signame', 'SIGINT')}); its state "
            "is recorded. See `opsctl bluegreen "
            f"status {env_name}`; continue with `opsctl bluegreen deploy {env_name} --resume`",
            Exit.ABORTED,
        ) from None


def open_engine(
    environment: Environment, emulator: str | None, report: Any, min_healthy: float = 100.0
) -> Engine:
    from opsctl.bluegreen.clients import Clients
    from opsctl.bluegreen.engine import Engine
    from opsctl.bluegreen.fleet import Capacity
    from opsctl.bluegreen.stack import discover
    from opsctl.bluegreen.timing import Timings
    from opsctl.lock import whoami
    from opsctl.workspace import emulator_from

    clients = Clients.create(environment.region, emulator_from(emulator, environment))
    stack = discover(clients, environment.state.bucket, environment.name)
    compute = environment.compute
    return Engine(
        clients,
        stack,
        report,
        Timings.from_env(),
        by=whoami(),
        fallback_capacity=Capacity(
            max(compute.min_size, 1), compute.max_size, max(compute.desired_capacity, 1)
        ),
        ami_owners=[environment.account_id, *compute.ami_owners],
        min_healthy_percent=min_healthy,
    )


def _emulator(environment: Environment, emulator: str | None) -> str | None:
    from opsctl.workspace import emulator_from

    return emulator_from(emulator, environment)


def _finish(result: Result) -> None:
    from opsctl.exitcodes import Exit

    if result.code == Exit.OK:
        console().print(f"[green]{result.message}[/]", soft_wrap=True)
        return
    console(stderr=True).print(f"[bold red]{result.message}[/]", soft_wrap=True)
    raise typer.Exit(result.code)


def _deploy_ttl(canary: list[int], bake: float | None, keep_old: float) -> float:
    from opsctl.bluegreen.timing import Timings

    timings = Timings.from_env()
    bake = 3600 if bake is None else bake
    return 2 * timings.healthy_timeout + 2 * len(canary) * bake + keep_old + 3600


def _parse(canary: str, bake: str, keep_old: str) -> tuple[list[int], float | None, float]:
    from opsctl.bluegreen.timing import parse_canary, parse_duration

    try:
        bake_s = None if bake.strip() == "auto" else parse_duration(bake)
        return parse_canary(canary), bake_s, parse_duration(keep_old)
    except ValueError as error:
        raise fail(str(error)) from None


# --- bluegreen -------------------------------------------------------------------------------
@bluegreen_app.command("status")
def bluegreen_status(
    env: EnvArg, emulator: EmulatorOpt = None, json_output: JsonOpt = False
) -> None:
    """Live colour, weights, each colour's AMI / template version / capacity / health, and the
    last deployment with its steps and outcome."""
    environment = load_env(env)
    report = ConsoleReport()
    with _errors(env, "status of"):
        status = open_engine(environment, emulator, report).status()
    if json_output:
        typer.echo(json.dumps(status, indent=2))
        return
    _print_status(status)


def _print_status(status: dict[str, Any]) -> None:
    from rich.table import Table

    out = console()
    weights = status["weights"]
    out.print(
        f"[bold]{status['env']}[/]: live [bold]{status['live']}[/]  "
        f"(weights blue {weights['blue']} / green {weights['green']})"
    )
    table = Table(
        "colour",
        "weight",
        "AMI (configured)",
        "LT version",
        "running",
        "min/desired/max",
        "InService",
        "healthy",
    )
    for colour, c in status["colours"].items():
        running = ", ".join(f"{n}x {ami}" for ami, n in c["running_amis"].items())
        versions = ", ".join(f"v{v}" for v in c["running_versions"] if v)
        table.add_row(
            colour + (" (live)" if colour == status["live"] else ""),
            f"{c['weight']}%",
            c["ami"] or "-",
            c["launch_template_version"],
            (running + (f" ({versions})" if versions else "")) or "-",
            f"{c['min']}/{c['desired']}/{c['max']}",
            str(c["in_service"]),
            f"{c['healthy_targets']}/{c['targets']}",
        )
    out.print(table)
    if status["alarms_firing"]:
        out.print(f"[red]alarms in ALARM:[/] {', '.join(status['alarms_firing'])}")
    if status["drift"]:
        out.print(f"[yellow]drift:[/] {status['drift']}")
    if not status["listener_consistent"]:
        out.print(
            f"[red]listener inconsistent:[/] {status['traffic']}: `opsctl bluegreen rollback "
            f"{status['env']}` or `switch` puts every rule on one colour",
            soft_wrap=True,
        )
    if status["left"]:
        out.print(f"[red]traffic left split:[/] {status['left']}", soft_wrap=True)
    d = status["last_deployment"]
    if not d:
        out.print("No deployment recorded yet.")
        return
    out.print(
        f"Last deployment {d['id']}: {d['ami']} {d['source']} -> {d['target']}, "
        f"[bold]{d['status']}[/] (by {d['by']}, started {d['started_at']})",
        soft_wrap=True,
    )
    for name, at in d["steps"]:
        out.print(f"  {at}  {name}")
    if d["status"] in ("in_progress", "interrupted", "rolling_back"):
        out.print(
            f"  [yellow]stopped at step {d['step']}[/]: resume with "
            f"`opsctl bluegreen deploy {status['env']} --resume`",
            soft_wrap=True,
        )
    if d.get("reason"):
        out.print(f"  reason: {d['reason']}", soft_wrap=True)


@bluegreen_app.command("deploy")
def bluegreen_deploy(
    env: EnvArg,
    ami: AmiOpt = None,
    canary: CanaryOpt = DEFAULT_CANARY,
    bake: BakeOpt = DEFAULT_BAKE,
    keep_old: KeepOldOpt = DEFAULT_KEEP_OLD,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue (or finish rolling back) the recorded one.")
    ] = False,
    force: ForceBakeOpt = False,
    min_healthy: MinHealthyOpt = 100.0,
    yes: YesOpt = False,
    emulator: EmulatorOpt = None,
) -> None:
    """Deploy AMI to the idle colour: pre-flight, scale, wait healthy, canary with bake, switch,
    keep the old colour for --keep-old, then scale it to 0. An alarm rolls back (exit 5)."""
    from opsctl.lock import cli_lock

    if not resume and not ami:
        raise fail("--ami is required (or --resume to continue the recorded deployment)")
    steps, bake_s, keep_s = _parse(canary, bake, keep_old)
    environment = load_env(env)
    if environment.is_prod:
        confirm(environment, "resume the deployment on" if resume else f"deploy {ami} to", yes)
    report = ConsoleReport()
    url = _emulator(environment, emulator)
    ttl = _deploy_ttl(steps, bake_s, keep_s)
    with cli_lock(env, environment.region, url, "bluegreen deploy", ttl), _errors(env, "deploy"):
        engine = open_engine(environment, emulator, report, min_healthy)
        try:
            result = (
                engine.resume()
                if resume
                else engine.deploy(ami or "", steps, bake_s, keep_s, force=force)
            )
        finally:
            report.close()
    _finish(result)


@bluegreen_app.command("switch")
def bluegreen_switch(
    env: EnvArg,
    to: ColourOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Switch even to an unhealthy colour.")] = (
        False
    ),
    yes: YesOpt = False,
    emulator: EmulatorOpt = None,
) -> None:
    """Move all traffic now to an already healthy colour (an unhealthy one needs --force)."""
    from opsctl.lock import cli_lock

    if to not in (None, "blue", "green"):
        raise fail(f"--to must be blue or green, got {to!r}")
    environment = load_env(env)
    if environment.is_prod:
        confirm(environment, f"switch traffic to {to or 'the idle colour'} on", yes)
    report = ConsoleReport()
    url = _emulator(environment, emulator)
    with cli_lock(env, environment.region, url, "bluegreen switch"), _errors(env, "switch"):
        result = open_engine(environment, emulator, report).switch(to, force)
    _finish(result)


@bluegreen_app.command("rollback")
def bluegreen_rollback(
    env: EnvArg,
    reason: Annotated[str, typer.Option("--reason", help="Recorded with the rollback.")] = (
        "manual rollback"
    ),
    yes: YesOpt = False,
    emulator: EmulatorOpt = None,
) -> None:
    """All traffic back to the previous colour: scale it up if needed, check it takes the
    traffic, then drain and empty the other. The reason is recorded."""
    from opsctl.lock import cli_lock, whoami

    environment = load_env(env)
    if environment.is_prod:
        confirm(environment, "roll back", yes)
    report = ConsoleReport()
    url = _emulator(environment, emulator)
    with cli_lock(env, environment.region, url, "bluegreen rollback"), _errors(env, "rollback"):
        try:
            result = open_engine(environment, emulator, report).rollback(f"{reason} ({whoami()})")
        finally:
            report.close()
    _finish(result)


# --- lock ------------------------------------------------------------------------------------
@lock_app.command("status")
def lock_status(env: EnvArg, emulator: EmulatorOpt = None, json_output: JsonOpt = False) -> None:
    """Who holds ENV's lock, for which command, since and until when."""
    from dataclasses import asdict

    from opsctl import aws, lock

    environment = load_env(env)
    with _errors(env, "lock status of"):
        holder = lock.read(
            aws.client("ssm", environment.region, _emulator(environment, emulator)), env
        )
    if json_output:
        typer.echo(json.dumps(asdict(holder) if holder else None, indent=2))
        return
    if holder is None:
        console().print(f"{env} is not locked.")
    else:
        state = " [yellow](expired: the next command takes it over)[/]" if holder.expired else ""
        console().print(f"{env} is locked by {holder.describe()}{state}", soft_wrap=True)


@lock_app.command("break")
def lock_break(env: EnvArg, yes: YesOpt = False, emulator: EmulatorOpt = None) -> None:
    """Remove ENV's lock (after making sure its holder is dead). Asks for confirmation."""
    from opsctl import aws, lock

    environment = load_env(env)
    ssm = aws.client("ssm", environment.region, _emulator(environment, emulator))
    with _errors(env, "lock break of"):
        holder = lock.read(ssm, env)
        if holder is None:
            console().print(f"{env} is not locked.")
            return
        console().print(f"{env} is locked by {holder.describe()}", soft_wrap=True)
        if not yes:
            confirm(environment, "break the lock of", False)
        lock.break_lock(ssm, env)
    console().print(f"[green]Lock of {env} broken.[/]")


# --- release ---------------------------------------------------------------------------------
def release(
    target: Annotated[
        str,
        typer.Argument(
            metavar="ENV | status ENV | resume ENV",
            help="The environment to release to; or `status ENV`, `resume ENV`.",
        ),
    ],
    env: Annotated[str | None, typer.Argument(hidden=True)] = None,
    ami: AmiOpt = None,
    canary: CanaryOpt = DEFAULT_CANARY,
    bake: BakeOpt = DEFAULT_BAKE,
    keep_old: KeepOldOpt = DEFAULT_KEEP_OLD,
    yes: YesOpt = False,
    json_output: JsonOpt = False,
    emulator: EmulatorOpt = None,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """Release an AMI: plan check -> expand migrations -> blue/green deploy -> contract
    migrations (once the old colour is at 0), each step logged to build/ENV/release.jsonl.
    Migrations run like `opsctl migrate up --phase ...`: on a live-colour instance via SSM, or
    on --database-url; on the emulator without a database URL they are skipped.

    opsctl release ENV --ami AMI | opsctl release status ENV | opsctl release resume ENV
    """
    if target in ("status", "resume"):
        if not env:
            raise fail(f"usage: opsctl release {target} ENV")
        if target == "status":
            release_status(env, json_output)
        else:
            release_resume(env, yes, emulator, database_url)
        return
    if env:
        raise fail(f"unexpected argument {env!r}: opsctl release ENV --ami AMI")
    if not ami:
        raise fail("--ami is required: opsctl release ENV --ami AMI")
    from opsctl.release import Release, log_path

    steps, bake_s, keep_s = _parse(canary, bake, keep_old)
    environment = load_env(target)
    # Where migrations ran (never the URL itself: it may hold a password), so a resume
    # cannot silently migrate elsewhere.
    migrations = "database-url" if database_url else "environment"
    options = {"canary": steps, "bake": bake_s, "keep_old": keep_s, "migrations": migrations}
    run = Release.new(target, ami, options)
    log = log_path(target)
    shown = log.relative_to(Path.cwd()) if log.is_relative_to(Path.cwd()) else log
    console().print(f"Release {run.id}: {ami} to {target} (log: {shown})")
    _run_release(environment, run, emulator, yes, database_url)


def release_status(env: EnvArg, json_output: JsonOpt = False) -> None:
    """Progress of ENV's latest release, step by step (from build/ENV/release.jsonl)."""
    from opsctl.release import STEPS, latest

    load_env(env)
    run = latest(env)
    if json_output:
        typer.echo(
            json.dumps(
                None
                if run is None
                else {
                    "release": run.id,
                    "ami": run.ami,
                    "outcome": run.outcome,
                    "steps": {s: run.status_of(s) for s in STEPS},
                    "entries": run.entries,
                },
                indent=2,
            )
        )
        return
    if run is None:
        console().print(f"No release recorded for {env}.")
        return
    out = console()
    out.print(f"Release {run.id}: {run.ami} to {env}, [bold]{run.outcome}[/]")
    for step in STEPS:
        entry = run.steps.get(step, {})
        detail = entry.get("detail", "")
        out.print(
            f"  {run.status_of(step):12} {step:20} {entry.get('at', '')}  {detail}", soft_wrap=True
        )
    if not run.finished:
        out.print(f"Continue it with: opsctl release resume {env}")


def release_resume(
    env: EnvArg, yes: YesOpt, emulator: EmulatorOpt, database_url: DatabaseUrlOpt
) -> None:
    """Continue ENV's latest release from the first step not finished."""
    from opsctl.release import latest

    environment = load_env(env)
    run = latest(env)
    if run is None:
        raise fail(f"no release recorded for {env}: start one with opsctl release {env} --ami AMI")
    if run.finished:
        console().print(f"Release {run.id} is {run.outcome}: nothing to resume.")
        return
    if run.options.get("migrations") == "database-url" and not database_url:
        raise fail(
            f"release {run.id} runs its migrations on --database-url: pass it again "
            "(or set OPSCTL_DATABASE_URL)"
        )
    console().print(f"Resuming release {run.id} ({run.ami}) at step {run.next_step()}")
    _run_release(environment, run, emulator, yes, database_url, resumed=True)


def _run_release(
    environment: Environment,
    run: Any,
    emulator: str | None,
    yes: bool,
    database_url: str | None,
    resumed: bool = False,
) -> None:
    from opsctl.exitcodes import Exit
    from opsctl.lock import cli_lock

    env = environment.name
    if environment.is_prod:
        confirm(environment, f"release {run.ami} to", yes)
    out = console()
    url = _emulator(environment, emulator)
    options = run.options
    ttl = _deploy_ttl(options["canary"], options["bake"], options["keep_old"]) + 3600
    with cli_lock(env, environment.region, url, f"release {run.id}", ttl):
        try:
            if run.status_of("plan") != "done":
                _release_plan(environment, run, url, yes)
            if run.status_of("expand-migrations") not in ("done", "skipped"):
                _release_migrations(environment, run, "expand", url, database_url)
            if run.status_of("deploy") != "done":
                _release_deploy(environment, run, emulator, resumed)
            if run.status_of("contract-migrations") not in ("done", "skipped"):
                _release_contract(environment, run, emulator, database_url)
        except typer.Exit as stop:
            if stop.exit_code == Exit.ROLLED_BACK:
                run.log("release", "rolled_back")
            elif run.status_of("deploy") == "interrupted":
                run.log("release", "interrupted")
                console(stderr=True).print(
                    f"Continue the release with: opsctl release resume {env}"
                )
            elif run.outcome == "running":
                run.log("release", "failed" if stop.exit_code == Exit.ERROR else "aborted")
            raise
        except KeyboardInterrupt:
            run.log("release", "interrupted")
            raise fail(
                f"release {run.id} interrupted; continue with: opsctl release resume {env}",
                Exit.ABORTED,
            ) from None
    run.log("release", "done")
    out.print(f"[green]Release {run.id} done:[/] {run.ami} live on {env}.")


def _release_plan(environment: Environment, run: Any, url: str | None, yes: bool) -> None:
    from opsctl.exitcodes import Exit
    from opsctl.ui import terraform_step
    from opsctl.workspace import Workspace

    env = environment.name
    run.log("plan", "started")
    ws = Workspace(environment, url)
    ws.prepare()
    terraform_step(f"terraform init ({env})", False, ws.init)
    code, summary = terraform_step(f"terraform plan ({env})", False, ws.plan)
    if code == 0:
        ws.discard_plan()
        run.log("plan", "done", detail="no infrastructure changes pending")
        console().print("  [green]ok[/] plan: no infrastructure changes pending")
        return
    totals = ", ".join(f"{n} to {a}" for a, n in summary.totals.items() if n)
    console().print(f"  plan: infrastructure changes pending ({totals})")
    if summary.stateful:
        run.log("plan", "aborted", detail="stateful resources would be replaced")
        raise fail(
            "the pending plan destroys or replaces stateful resources: apply it yourself "
            f"(opsctl apply {env}) before releasing",
            Exit.ABORTED,
        )
    try:
        confirm(environment, f"apply the pending changes ({totals}) before releasing to", yes)
    except typer.Exit:
        run.log("plan", "aborted", detail="pending changes not applied")
        raise
    terraform_step(f"terraform apply ({env})", False, ws.apply_saved)
    ws.record("apply", "applied (release)")
    run.log("plan", "done", detail=f"applied pending changes: {totals}")
    console().print(f"  [green]ok[/] plan: applied pending changes ({totals})")


def _release_migrations(
    environment: Environment,
    run: Any,
    phase: str,
    emulator: str | None,
    database_url: str | None,
) -> None:
    """`opsctl migrate up --phase PHASE` on --database-url or a live-colour instance (we hold
    the environment lock already). A lock held (3) or a lint refusal (4) keeps its exit code."""
    from opsctl.exitcodes import Exit
    from opsctl.migrate_cli import run_phase
    from opsctl.release import MIGRATIONS_ON_EMULATOR

    step = f"{phase}-migrations"
    if emulator and not database_url:
        detail = MIGRATIONS_ON_EMULATOR.format(phase=phase)
        run.log(step, "skipped", detail=detail)
        console().print(f"  [yellow]skipped[/] {step}: {detail}", soft_wrap=True)
        return
    where = "on --database-url" if database_url else "on a live-colour instance via SSM"
    run.log(step, "started")
    code = run_phase(environment, phase, emulator, database_url)
    if code != 0:
        run.log(step, "failed", detail=f"opsctl migrate up --phase {phase} exited {code} {where}")
        raise fail(
            f"{phase} migrations failed (exit {code}); fix them, then: "
            f"opsctl release resume {environment.name}",
            code if code in (Exit.LOCKED, Exit.ABORTED) else Exit.ERROR,
        )
    run.log(step, "done", detail=f"migrate up --phase {phase} {where}")
    console().print(f"  [green]ok[/] {step}: migrate up --phase {phase} {where}", soft_wrap=True)


def _release_deploy(
    environment: Environment, run: Any, emulator: str | None, resumed: bool
) -> None:
    from opsctl.exitcodes import Exit

    env = environment.name
    report = ConsoleReport()
    options = run.options
    with _errors(env, "release deploy to"):
        engine = open_engine(environment, emulator, report)
        current = engine.deployment()
        try:
            if resumed and current is not None and current.ami == run.ami and current.active:
                run.log("deploy", "resumed", deployment=current.id)
                result = engine.resume()
            elif (
                resumed
                and current is not None
                and current.ami == run.ami
                and current.status == "succeeded"
                and current.started_at >= run.entries[0]["at"]
            ):
                run.log("deploy", "done", deployment=current.id, detail="finished before")
                return
            else:
                run.log("deploy", "started")
                result = engine.deploy(
                    run.ami, options["canary"], options["bake"], options["keep_old"]
                )
        except KeyboardInterrupt:
            current = engine.deployment()
            run.log("deploy", "interrupted", deployment=current.id if current else None)
            raise
        finally:
            report.close()
    deployment = result.deployment.id if result.deployment else None
    if result.code == Exit.OK:
        run.log("deploy", "done", deployment=deployment, detail=result.message)
        console().print(f"  [green]ok[/] deploy: {result.message}", soft_wrap=True)
        return
    run.log("deploy", "rolled_back", deployment=deployment, detail=result.message)
    _finish(result)


def _release_contract(
    environment: Environment, run: Any, emulator: str | None, database_url: str | None
) -> None:
    from opsctl.bluegreen import other

    with _errors(environment.name, "release to"):
        engine = open_engine(environment, emulator, ConsoleReport())
        old = other(engine.live())
        health = engine.fleet.health(old)
    if health.capacity.desired or health.in_service:
        raise fail(
            f"contract migrations wait until the old colour {old} is at 0 "
            f"({health.describe()}); resume later: opsctl release resume {environment.name}"
        )
    _release_migrations(
        environment, run, "contract", _emulator(environment, emulator), database_url
    )
