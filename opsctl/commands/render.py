"""`opsctl render ENV [--diff]`."""

from __future__ import annotations

from typing import Annotated

import typer

from opsctl.paths import BUILD
from opsctl.terraform import render as renderer
from opsctl.ui import EnvArg, load_env

app = typer.Typer()


@app.command()
def render(
    env: EnvArg,
    diff: Annotated[
        bool, typer.Option("--diff", help="Show what would change; write nothing.")
    ] = False,
) -> None:
    """Render envs/ENV.yaml into build/ENV/ (only changed files are rewritten)."""
    environment = load_env(env)
    if diff:
        changes = renderer.changes(environment, renderer.render(environment))
        for change in changes:
            typer.echo(change.diff, nl=False)
        if not changes:
            typer.echo(f"build/{env}/ is up to date")
        raise typer.Exit(2 if changes else 0)
    changes = renderer.write(environment)
    for change in changes:
        typer.echo(f"{change.kind:7} {change.path.relative_to(BUILD.parent)}")
    typer.echo(f"build/{env}/: {len(changes)} file(s) changed")
