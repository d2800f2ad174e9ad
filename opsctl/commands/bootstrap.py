"""`opsctl bootstrap ENV`: the state bucket (modules/state-backend, local state)."""

from __future__ import annotations

import typer

from opsctl.aws import emulator_from
from opsctl.terraform.steps import plan_confirm_apply
from opsctl.terraform.workspace import Workspace
from opsctl.ui import DryRunOpt, EmulatorOpt, EnvArg, VerboseOpt, YesOpt, console, load_env

app = typer.Typer()


@app.command()
def bootstrap(
    env: EnvArg,
    emulator: EmulatorOpt = None,
    yes: YesOpt = False,
    dry_run: DryRunOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Create ENV's state bucket and lock table (modules/state-backend; local state)."""
    environment = load_env(env)
    ws = Workspace(environment, emulator_from(emulator, environment), folder="bootstrap")
    # Not under the environment lock: bootstrap creates the lock table (modules/state-backend),
    # so on AWS there is no table to lock with yet, and its own state is local to this machine.
    plan_confirm_apply(ws, "create the state bucket of", yes, dry_run, verbose, locked=False)
    console().print(f"[green]State bucket ready:[/] {environment.state.bucket}")
