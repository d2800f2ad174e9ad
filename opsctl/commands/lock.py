"""`opsctl lock status|break`: the environment lock shared by apply, deploy, release, migrate."""

from __future__ import annotations

import json
from dataclasses import asdict

import typer

from opsctl import aws, lock
from opsctl.aws import emulator_from
from opsctl.bluegreen.connect import errors
from opsctl.ui import EmulatorOpt, EnvArg, JsonOpt, YesOpt, confirm, console, load_env

app = typer.Typer(help="The environment lock shared by apply, deploy, release, migrate.")


@app.command("status")
def lock_status(env: EnvArg, emulator: EmulatorOpt = None, json_output: JsonOpt = False) -> None:
    """Who holds ENV's lock, for which command, since and until when."""

    environment = load_env(env)
    with errors(env, "lock status of"):
        holder = lock.read(
            aws.client("ssm", environment.region, emulator_from(emulator, environment)), env
        )
    if json_output:
        typer.echo(json.dumps(asdict(holder) if holder else None, indent=2))
        return
    if holder is None:
        console().print(f"{env} is not locked.")
    else:
        state = " [yellow](expired: the next command takes it over)[/]" if holder.expired else ""
        console().print(f"{env} is locked by {holder.describe()}{state}", soft_wrap=True)


@app.command("break")
def lock_break(env: EnvArg, yes: YesOpt = False, emulator: EmulatorOpt = None) -> None:
    """Remove ENV's lock (after making sure its holder is dead). Asks for confirmation."""

    environment = load_env(env)
    ssm = aws.client("ssm", environment.region, emulator_from(emulator, environment))
    with errors(env, "lock break of"):
        holder = lock.read(ssm, env)
        if holder is None:
            console().print(f"{env} is not locked.")
            return
        console().print(f"{env} is locked by {holder.describe()}", soft_wrap=True)
        if not yes:
            confirm(environment, "break the lock of", False)
        lock.break_lock(ssm, env)
    console().print(f"[green]Lock of {env} broken.[/]")
