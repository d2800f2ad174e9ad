"""What every opsctl command shares: arguments, console output, errors, confirmations, progress.

Nothing heavy is imported at module level: `opsctl --help` must stay fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from opsctl.config import Environment

T = TypeVar("T")

EnvArg = Annotated[
    str,
    typer.Argument(
        envvar="OPSCTL_ENV", help="Environment: a file envs/ENV.yaml ($OPSCTL_ENV by default)."
    ),
]
EmulatorOpt = Annotated[
    str | None,
    typer.Option(
        "--emulator",
        envvar="OPSCTL_EMULATOR_URL",
        help="Talk to a local AWS emulator (moto server) at this URL with dummy credentials.",
        show_default=False,
    ),
]
DatabaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="OPSCTL_DATABASE_URL",
        help="Migrate this database directly (local, dev, CI). Without it: on an instance of "
        "ENV's live colour through SSM Run Command.",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Stream terraform's output.")]
YesOpt = Annotated[
    bool, typer.Option("--yes", "-y", help="Answer the confirmation (required for prod in CI).")
]


def console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, no_color=bool(os.environ.get("NO_COLOR")), highlight=False)


def fail(message: str, code: int = 1) -> typer.Exit:
    console(stderr=True).print(f"[bold red]error:[/] {message}", soft_wrap=True)
    return typer.Exit(code)


def load_env(name: str) -> Environment:
    from opsctl.config import ConfigError, load

    try:
        return load(name)
    except ConfigError as error:
        for problem in error.problems:
            console(stderr=True).print(problem, style="red", soft_wrap=True, markup=False)
        raise typer.Exit(1) from None


class Progress:
    """Terraform's output: streamed with --verbose, else a spinner showing the latest step."""

    def __init__(self, title: str, verbose: bool) -> None:
        self.title, self.verbose = title, verbose
        self.console = console(stderr=True)
        self.status = None if verbose else self.console.status(title)

    def __enter__(self) -> Progress:
        if self.status is not None:
            self.status.start()
        else:
            self.console.print(f"[bold]{self.title}[/]")
        return self

    def __call__(self, line: str) -> None:
        if self.verbose:
            self.console.print(line, markup=False, highlight=False)
        elif self.status is not None and line.strip():
            self.status.update(f"{self.title}  [dim]{line.strip()[:90]}[/]")

    def __exit__(self, *exc: object) -> None:
        if self.status is not None:
            self.status.stop()


def terraform_step(title: str, verbose: bool, step: Callable[[Progress], T]) -> T:
    """Run one workspace step; on failure show terraform's whole output and exit 1."""
    from opsctl.terraform import TerraformError

    with Progress(title, verbose) as progress:
        try:
            return step(progress)
        except TerraformError as error:
            out = console(stderr=True)
            if not verbose:
                out.print(error.output, markup=False, highlight=False)
            raise fail(str(error)) from None
        except FileNotFoundError as error:
            raise fail(str(error)) from None


def confirm(env: Environment, action: str, yes: bool) -> None:
    """Prod needs the environment's name typed (or --yes); others a y/N (or --yes)."""
    from opsctl.exitcodes import Exit

    if yes:
        return
    if not sys.stdin.isatty():
        raise fail(f"{action} {env.name} needs confirmation: pass --yes", Exit.ABORTED)
    if env.is_prod:
        typed = typer.prompt(f"Type the environment name ({env.name}) to {action} it")
        if typed.strip() != env.name:
            raise fail("confirmation did not match; nothing done", Exit.ABORTED)
    elif not typer.confirm(f"{action} {env.name}?", default=False):
        raise fail("aborted; nothing done", Exit.ABORTED)
