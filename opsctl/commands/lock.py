"""`opsctl lock status|break`: the environment lock shared by apply, deploy, release, migrate."""

from __future__ import annotations

import typer

from opsctl.aws import emulator_from
from opsctl.bluegreen.connect import errors
from opsctl.lock import break_interactively, show_status
from opsctl.ui import EmulatorOpt, EnvArg, JsonOpt, YesOpt, load_env

app = typer.Typer(help="The environment lock shared by apply, deploy, release, migrate.")


@app.command("status")
def lock_status(env: EnvArg, emulator: EmulatorOpt = None, json_output: JsonOpt = False) -> None:
    """Who holds ENV's lock (STS identity), for which command, its fencing token, since when and
    when it was last renewed."""
    environment = load_env(env)
    with errors(env, "lock status of"):
        show_status(environment, emulator_from(emulator, environment), json_output)


@app.command("break")
def lock_break(env: EnvArg, yes: YesOpt = False, emulator: EmulatorOpt = None) -> None:
    """Free ENV's lock (after making sure its holder is dead). Asks for confirmation."""
    environment = load_env(env)
    with errors(env, "lock break of"):
        break_interactively(environment, emulator_from(emulator, environment), yes)
