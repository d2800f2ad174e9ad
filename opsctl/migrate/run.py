"""Choosing the target, showing what the service printed, and `run_phase` for `opsctl release`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from opsctl.migrate.local import LocalTarget
from opsctl.migrate.ssm import SsmTarget
from opsctl.migrate.target import Outcome, Target, TargetError
from opsctl.ui import console

if TYPE_CHECKING:
    from opsctl.config import Environment


def open_target(environment: Environment, emulator: str | None, database_url: str | None) -> Target:
    """`--database-url`: the service here, in a subprocess; else on an instance via SSM."""
    if database_url:
        return LocalTarget(environment.name, database_url)
    return SsmTarget(environment, emulator)


def echo(outcome: Outcome) -> None:
    """What the service printed, as it printed it."""
    if outcome.stdout:
        typer.echo(outcome.stdout, nl=not outcome.stdout.endswith("\n"))
    if outcome.stderr:
        typer.echo(outcome.stderr, err=True, nl=not outcome.stderr.endswith("\n"))


def run_phase(
    environment: Environment, phase: str, emulator: str | None, database_url: str | None
) -> int:
    """For `opsctl release`: `migrate up --phase PHASE` on ENV, with the service's own guards
    (a destructive expand revision is refused: 4); on --database-url, else on a live-colour
    instance via SSM. The caller holds the environment lock. Returns the exit code (errors are
    printed)."""
    try:
        outcome = open_target(environment, emulator, database_url).run("up", [f"--phase={phase}"])
    except TargetError as error:
        console(stderr=True).print(f"[bold red]error:[/] {error}", soft_wrap=True)
        return 1
    echo(outcome)
    return outcome.code
