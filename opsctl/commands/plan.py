"""`opsctl plan ENV`: a saved plan and its summary. Exit 0 no changes, 2 changes pending."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from opsctl.terraform.steps import (
    open_workspace,
    print_summary,
    refuse_certificate_wait,
    target,
    terraform_step,
)
from opsctl.ui import EmulatorOpt, EnvArg, JsonOpt, VerboseOpt, console

app = typer.Typer()


@app.command()
def plan(
    env: EnvArg,
    emulator: EmulatorOpt = None,
    replace: Annotated[
        list[str] | None,
        typer.Option(
            "--replace",
            metavar="ADDRESS",
            help="Force replacing this resource (terraform -replace).",
        ),
    ] = None,
    json_output: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Plan ENV to a saved plan and summarise it. Exit 0 no changes, 2 changes pending, 1 error."""
    ws = open_workspace(env, emulator)
    refuse_certificate_wait(ws)
    ws.prepare()
    terraform_step(f"terraform init ({env})", verbose, ws.init)
    code, summary = terraform_step(
        f"terraform plan ({env})", verbose, lambda p: ws.plan(p, replace=replace or [])
    )
    ws.record("plan", "changes pending" if code == 2 else "no changes")
    if json_output:
        typer.echo(json.dumps({"env": env, "target": target(ws)} | summary.as_dict(), indent=2))
    else:
        print_summary(summary, ws.env, target(ws))
        if code == 2:
            again = f" --emulator {ws.emulator_url}" if emulator else ""
            console().print(f"Saved plan: build/{env}/tfplan   apply it: opsctl apply {env}{again}")
    raise typer.Exit(code)
