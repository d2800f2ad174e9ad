"""The steps the terraform commands compose: open an environment's workspace, run a terraform
step with progress, show a plan's summary, and plan-confirm-apply (destroy, bootstrap)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import typer

from opsctl.aws import emulator_from
from opsctl.config import Environment
from opsctl.exitcodes import Exit
from opsctl.lock import cli_lock
from opsctl.terraform.plan_summary import Summary
from opsctl.terraform.runner import TerraformError
from opsctl.terraform.workspace import Workspace
from opsctl.ui import Progress, confirm, console, fail, load_env

T = TypeVar("T")


def open_workspace(name: str, emulator: str | None) -> Workspace:
    env = load_env(name)
    return Workspace(env, emulator_from(emulator, env))


def target(ws: Workspace) -> str:
    """Where the workspace applies: `emulator URL` or `account ID`."""
    return f"emulator {ws.emulator_url}" if ws.emulator_url else f"account {ws.env.account_id}"


def terraform_step(title: str, verbose: bool, step: Callable[[Progress], T]) -> T:
    """Run one workspace step; on failure show terraform's whole output and exit 1."""
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


def print_summary(summary: Summary, env: Environment, where: str) -> None:
    from rich.table import Table

    out = console()
    if not summary.has_changes:
        out.print(f"[green]No changes.[/] {env.name} ({where}) matches the configuration.")
        return
    table = Table(title=f"Plan for {env.name} ({where})", title_justify="left")
    table.add_column("module")
    for action in ("create", "update", "replace", "destroy"):
        table.add_column(action, justify="right")
    for module, counts in summary.by_module.items():
        table.add_row(module, *(str(counts[a] or "") for a in counts))
    table.add_row("[bold]total[/]", *(f"[bold]{n}[/]" for n in summary.totals.values()))
    out.print(table)
    if summary.stateful:
        out.print("[bold red]!! Stateful resources would be destroyed or replaced (data loss):[/]")
        for hazard in summary.stateful:
            out.print(f"[bold red]   {hazard.action:8} {hazard.address}[/]", markup=True)


def plan_confirm_apply(
    ws: Workspace,
    action: str,
    yes: bool,
    dry_run: bool,
    verbose: bool,
    destroy: bool = False,
    locked: bool = True,
) -> None:
    """Plan, show the summary, stop there on no changes or --dry-run, else ask and apply (under
    the environment lock unless `locked` is false)."""
    name = ws.env.name
    ws.prepare()
    terraform_step(f"terraform init ({name})", verbose, ws.init)
    _, summary = terraform_step(
        f"terraform plan ({action} {name})", verbose, lambda p: ws.plan(p, destroy=destroy)
    )
    print_summary(summary, ws.env, target(ws))
    if not summary.has_changes:
        ws.discard_plan()
        raise typer.Exit(Exit.OK)
    if dry_run:
        ws.discard_plan()
        console().print("Dry run: nothing changed.")
        raise typer.Exit(Exit.CHANGES)
    confirm(ws.env, action, yes)
    if not locked:
        terraform_step(f"terraform apply ({action} {name})", verbose, ws.apply_saved)
        return
    with cli_lock(name, ws.env.region, ws.emulator_url, action, role_arn=ws.env.assume_role_arn):
        terraform_step(f"terraform apply ({action} {name})", verbose, ws.apply_saved)
