"""`opsctl modules docs|schema-check`: the Terraform modules under modules/."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from opsctl.paths import MODULES
from opsctl.terraform import module_docs
from opsctl.terraform.provider_schema import check_module

app = typer.Typer(help="Terraform modules under modules/.", no_args_is_help=True)
ModuleDirs = Annotated[
    list[Path] | None, typer.Argument(help="Module folders (default: all).", show_default=False)
]


@app.command("docs")
def modules_docs(
    module: ModuleDirs = None,
    check: Annotated[bool, typer.Option("--check", help="Exit 1 if a table is stale.")] = False,
) -> None:
    """Regenerate the inputs/outputs table in each module's README.md."""
    args = ["--check"] if check else []
    raise typer.Exit(module_docs.main(args + [str(m) for m in module or []]))


@app.command("schema-check")
def modules_schema_check(module: ModuleDirs = None) -> None:
    """Check that modules use only arguments that also exist in AWS provider 6.x."""
    dirs = module or sorted(p for p in MODULES.iterdir() if p.is_dir())
    problems = [f"{d.name}: {p}" for d in dirs for p in check_module(d)]
    for problem in problems:
        typer.echo(problem, err=True)
    raise typer.Exit(1 if problems else 0)
