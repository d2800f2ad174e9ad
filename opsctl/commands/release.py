"""`opsctl release ENV --ami AMI | status ENV | resume ENV` (the flow: opsctl/release/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from opsctl.aws import emulator_from
from opsctl.bluegreen.connect import (
    DEFAULT_BAKE,
    DEFAULT_CANARY,
    DEFAULT_KEEP_OLD,
    AmiOpt,
    BakeOpt,
    CanaryOpt,
    KeepOldOpt,
    parse_options,
)
from opsctl.release.flow import run_release, shared_log
from opsctl.release.log import STEPS, Release, latest, log_path
from opsctl.ui import DatabaseUrlOpt, EmulatorOpt, EnvArg, JsonOpt, YesOpt, console, fail, load_env

app = typer.Typer()


@app.command()
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
    schema_head: Annotated[
        str | None,
        typer.Option("--schema-head", help="The head revision the AMI must ship (checked on it)."),
    ] = None,
) -> None:
    """Release an AMI: plan check -> blue/green deploy, with the expand migrations run from the
    new colour's AMI on one of its instances before it takes traffic -> contract migrations
    (once nothing older runs). Each step is logged to build/ENV/release.jsonl and the state
    bucket (shared). With --database-url migrations run here instead; on the emulator without
    one they are skipped.

    opsctl release ENV --ami AMI | opsctl release status ENV | opsctl release resume ENV
    """
    if target in ("status", "resume"):
        if not env:
            raise fail(f"usage: opsctl release {target} ENV")
        if target == "status":
            release_status(env, json_output, emulator)
        else:
            release_resume(env, yes, emulator, database_url)
        return
    if env:
        raise fail(f"unexpected argument {env!r}: opsctl release ENV --ami AMI")
    if not ami:
        raise fail("--ami is required: opsctl release ENV --ami AMI")

    steps, bake_s, keep_s = parse_options(canary, bake, keep_old)
    environment = load_env(target)
    # Where migrations ran (never the URL itself: it may hold a password), so a resume
    # cannot silently migrate elsewhere.
    migrations = "database-url" if database_url else "environment"
    options = {
        "canary": steps,
        "bake": bake_s,
        "keep_old": keep_s,
        "migrations": migrations,
        "schema_head": schema_head,
    }
    run = Release.new(
        target, ami, options, shared_log(environment, emulator_from(emulator, environment))
    )
    log = log_path(target)
    shown = log.relative_to(Path.cwd()) if log.is_relative_to(Path.cwd()) else log
    console().print(f"Release {run.id}: {ami} to {target} (log: {shown})")
    run_release(environment, run, emulator, yes, database_url)


def release_status(env: EnvArg, json_output: JsonOpt = False, emulator: EmulatorOpt = None) -> None:
    """Progress of ENV's latest release, step by step (the shared log, else this machine's)."""
    environment = load_env(env)
    run = latest(env, shared_log(environment, emulator_from(emulator, environment)))
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

    environment = load_env(env)
    run = latest(env, shared_log(environment, emulator_from(emulator, environment)))
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
    run_release(environment, run, emulator, yes, database_url, resumed=True)
