"""`opsctl graph ENV`: the architecture drawing."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from opsctl.terraform import graph as drawing
from opsctl.terraform import render as renderer
from opsctl.ui import EnvArg, fail, load_env

app = typer.Typer()


@app.command()
def graph(
    env: EnvArg,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="SVG path (default build/ENV/architecture.svg)."),
    ] = None,
    dot: Annotated[bool, typer.Option("--dot", help="Print the graphviz source instead.")] = False,
) -> None:
    """Draw ENV's architecture (VPC tiers, ALB, both colours, Aurora, S3/SQS, alarms -> SNS)."""
    environment = load_env(env)
    if dot:
        typer.echo(drawing.dot_source(environment), nl=False)
        return
    target = output or renderer.build_dir(env) / "architecture.svg"
    try:
        drawing.render_svg(environment, target)
    except FileNotFoundError as error:
        raise fail(str(error)) from None
    typer.echo(f"wrote {target}")
