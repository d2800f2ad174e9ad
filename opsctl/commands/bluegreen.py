"""`opsctl bluegreen status|deploy|switch|rollback` (the engine: opsctl/bluegreen/).

Exit codes: 0 done, 1 error, 3 lock held, 4 aborted by a guard or the user, 5 rolled back.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from opsctl.aws import emulator_from
from opsctl.bluegreen.connect import (
    DEFAULT_BAKE,
    DEFAULT_CANARY,
    DEFAULT_KEEP_OLD,
    AmiOpt,
    BakeOpt,
    CanaryOpt,
    ForceBakeOpt,
    KeepOldOpt,
    MinHealthyOpt,
    deploy_ttl,
    errors,
    finish,
    open_engine,
    parse_options,
    recorded_ttl,
)
from opsctl.lock import cli_lock, whoami
from opsctl.release.gates import guard_rollback
from opsctl.ui import (
    ConsoleReport,
    EmulatorOpt,
    EnvArg,
    JsonOpt,
    YesOpt,
    confirm,
    console,
    fail,
    load_env,
)

app = typer.Typer(
    help="Blue/green deployments: status, deploy (canary, bake), switch, rollback.",
    no_args_is_help=True,
)
ColourOpt = Annotated[
    str | None,
    typer.Option("--to", help="blue or green (default: the idle colour).", show_default=False),
]


@app.command("status")
def bluegreen_status(
    env: EnvArg, emulator: EmulatorOpt = None, json_output: JsonOpt = False
) -> None:
    """Live colour, weights, each colour's AMI / template version / capacity / health, and the
    last deployment with its steps and outcome."""
    environment = load_env(env)
    report = ConsoleReport()
    with errors(env, "status of"):
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


@app.command("deploy")
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

    if not resume and not ami:
        raise fail("--ami is required (or --resume to continue the recorded deployment)")
    steps, bake_s, keep_s = parse_options(canary, bake, keep_old)
    environment = load_env(env)
    if environment.is_prod:
        confirm(environment, "resume the deployment on" if resume else f"deploy {ami} to", yes)
    report = ConsoleReport()
    url, role = emulator_from(emulator, environment), environment.assume_role_arn
    ttl = deploy_ttl(steps, bake_s, keep_s)
    if resume:  # the resumed run does what was recorded, whatever the flags' defaults say
        with errors(env, "deploy"):
            ttl = recorded_ttl(environment, emulator) or ttl
    held = cli_lock(env, environment.region, url, "bluegreen deploy", ttl, role_arn=role)
    with held, errors(env, "deploy"):
        engine = open_engine(environment, emulator, report, min_healthy)
        try:
            result = (
                engine.resume()
                if resume
                else engine.deploy(ami or "", steps, bake_s, keep_s, force=force)
            )
        finally:
            report.close()
    finish(result)


@app.command("switch")
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

    if to not in (None, "blue", "green"):
        raise fail(f"--to must be blue or green, got {to!r}")
    environment = load_env(env)
    if environment.is_prod:
        confirm(environment, f"switch traffic to {to or 'the idle colour'} on", yes)
    report = ConsoleReport()
    url, role = emulator_from(emulator, environment), environment.assume_role_arn
    held = cli_lock(env, environment.region, url, "bluegreen switch", role_arn=role)
    with held, errors(env, "switch"):
        result = open_engine(environment, emulator, report).switch(to, force)
    finish(result)


@app.command("rollback")
def bluegreen_rollback(
    env: EnvArg,
    reason: Annotated[str, typer.Option("--reason", help="Recorded with the rollback.")] = (
        "manual rollback"
    ),
    force: Annotated[
        bool, typer.Option("--force", help="Roll back even past a contracted schema.")
    ] = False,
    yes: YesOpt = False,
    emulator: EmulatorOpt = None,
) -> None:
    """All traffic back to the previous colour: scale it up if needed, check it takes the
    traffic, then drain and empty the other. The reason is recorded. Refused (exit 4) when a
    release contracted the schema past the code it would bring back, unless --force."""

    environment = load_env(env)
    if environment.is_prod:
        confirm(environment, "roll back", yes)
    report = ConsoleReport()
    url, role = emulator_from(emulator, environment), environment.assume_role_arn
    held = cli_lock(env, environment.region, url, "bluegreen rollback", role_arn=role)
    with held, errors(env, "rollback"):
        try:
            engine = open_engine(environment, emulator, report)
            warning = guard_rollback(engine, force)
            if warning:
                report.warn(warning)
            result = engine.rollback(f"{reason} ({whoami()})")
        finally:
            report.close()
    finish(result)
