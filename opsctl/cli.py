"""opsctl: the operators' CLI. Each command lives in opsctl/commands/NAME.py.

A command's module is imported only when that command runs, so `opsctl --help` and every
command pay only for what they use. Exit codes are a contract (docs/opsctl.md, "Exit codes"):
0 ok, 1 error, 2 changes, 3 locked, 4 aborted, 5 rolled back.
"""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple

import typer
from typer.core import TyperCommand, TyperGroup


class Entry(NamedTuple):
    module: str
    summary: str  # the line `opsctl --help` shows, without importing the module


# Adding a command: a module under opsctl/commands/ with `app = typer.Typer()`, and a line here.
COMMANDS: dict[str, Entry] = {
    name: Entry(f"opsctl.commands.{module}", summary)
    for name, module, summary in [
        ("render", "render", "Render envs/ENV.yaml into build/ENV/."),
        ("validate", "validate", "Render, terraform fmt -check, validate, checkov."),
        ("plan", "plan", "Plan ENV to a saved plan and summarise it (exit 2: changes)."),
        ("apply", "apply", "Apply the saved plan if it is still current; else plan and ask."),
        ("destroy", "destroy", "Destroy every resource of ENV (refused for prod)."),
        ("output", "output", "Show ENV's terraform outputs."),
        ("bootstrap", "bootstrap", "Create ENV's state bucket (modules/state-backend)."),
        ("graph", "graph", "Draw ENV's architecture."),
        ("envs", "envs", "List environments: region, account, last plan and apply."),
        ("modules", "modules", "Terraform modules under modules/: docs, schema-check."),
        ("bluegreen", "bluegreen", "Blue/green deployments: status, deploy, switch, rollback."),
        ("lock", "lock", "The environment lock shared by apply, deploy, release, migrate."),
        ("release", "release", "Release an AMI: plan, expand, deploy, contract (resumable)."),
        ("migrate", "migrate", "Database migrations (Alembic) under a lock."),
        ("runbook", "runbook", "Incident runbooks: list, show, for-alarm, run, test."),
        ("local", "local", "The local data plane: AMIs built from git, status behind the LB."),
    ]
}


# Typer vendors click from 0.29 on: its types are reached through typer, never `import click`.
def load(name: str) -> Any:
    """The real command: import opsctl/commands/NAME.py and build its click command."""
    module = importlib.import_module(COMMANDS[name].module)
    command = typer.main.get_command(module.app)
    command.name = name
    return command


class Commands(TyperGroup):
    """A group whose subcommands are imported on use; help listings use the summaries."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        if ctx.resilient_parsing:  # shell completion needs the real parameters
            return load(cmd_name)
        return TyperCommand(cmd_name, help=entry.summary)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] in COMMANDS:
            return args[0], load(args[0]), args[1:]
        return super().resolve_command(ctx, args)


app = typer.Typer(
    cls=Commands,
    help="Operate the ingestion stack: environments, modules, deployments, migrations, runbooks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(_ctx: typer.Context) -> Any:
    """Operate the ingestion stack: environments, modules, deployments, migrations, runbooks."""
