"""What every opsctl command shares: arguments, console output, errors, confirmations, progress.

rich and botocore are imported where they are used: a command that prints nothing fancy or makes
no AWS call does not pay for them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from opsctl.config import ConfigError, Environment, load
from opsctl.exitcodes import Exit

if TYPE_CHECKING:
    from rich.console import Console
    from rich.status import Status

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


DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Plan and show what would change; change nothing.")
]


def console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, no_color=bool(os.environ.get("NO_COLOR")), highlight=False)


def fail(message: str, code: int = 1) -> typer.Exit:
    console(stderr=True).print(f"[bold red]error:[/] {message}", soft_wrap=True)
    return typer.Exit(code)


def load_env(name: str) -> Environment:
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


def confirm(env: Environment, action: str, yes: bool) -> None:
    """Prod needs the environment's name typed (or --yes); others a y/N (or --yes)."""
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


class ConsoleReport:
    """A long operation's report: steps as lines on stdout, waits as a spinner that shows the
    latest progress (the bluegreen engine's and the release's `Report`)."""

    def __init__(self) -> None:
        self.out = console()
        self.status: Status | None = None

    def step(self, text: str) -> None:
        self.out.print(f"  [green]ok[/] {text}", soft_wrap=True)

    def note(self, text: str) -> None:
        self.out.print(text, soft_wrap=True)

    def warn(self, text: str) -> None:
        console(stderr=True).print(f"[yellow]warning:[/] {text}", soft_wrap=True)

    def progress(self, text: str) -> None:
        if not self.out.is_terminal:
            return
        if self.status is None:
            self.status = self.out.status(text)
            self.status.start()
        else:
            self.status.update(text)

    def close(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None


@contextmanager
def aws_errors(what: str) -> Iterator[None]:
    """AWS failures as one message naming WHAT failed (exit 1), never a traceback."""
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError

    try:
        yield
    except ClientError as error:
        raise fail(f"{what}: AWS refused a call: {error}") from None
    except (BotoCoreError, ResponseParserError) as error:
        raise fail(f"{what}: cannot reach AWS: {error}") from None
