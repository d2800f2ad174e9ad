"""`opsctl output ENV`: the environment's terraform outputs."""

from __future__ import annotations

import json

import typer

from opsctl.terraform.steps import open_workspace, terraform_step
from opsctl.ui import EmulatorOpt, EnvArg, JsonOpt, VerboseOpt

app = typer.Typer()


@app.command()
def output(
    env: EnvArg,
    emulator: EmulatorOpt = None,
    json_output: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Show ENV's terraform outputs."""
    ws = open_workspace(env, emulator)
    ws.prepare()
    terraform_step(f"terraform init ({env})", verbose, ws.init)
    values = terraform_step("terraform output", verbose, lambda _p: ws.outputs())
    if json_output:
        typer.echo(json.dumps(values, indent=2))
        return
    for key, value in values.items():
        typer.echo(f"{key} = {json.dumps(value)}")
