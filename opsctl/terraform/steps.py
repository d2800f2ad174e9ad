"""The steps the terraform commands compose: open an environment's workspace, run a terraform
step with progress, show a plan's summary, and plan-confirm-apply (destroy, bootstrap)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import typer

from opsctl import aws
from opsctl.aws import emulator_from
from opsctl.config import Environment, certificate_wait
from opsctl.exitcodes import Exit
from opsctl.lock import cli_lock
from opsctl.terraform import target_groups
from opsctl.terraform.plan_summary import Summary
from opsctl.terraform.runner import TerraformError
from opsctl.terraform.workspace import Workspace
from opsctl.ui import Progress, confirm, console, fail, load_env

T = TypeVar("T")


def open_workspace(name: str, emulator: str | None) -> Workspace:
    env = load_env(name)
    return Workspace(env, emulator_from(emulator, env))


def refuse_certificate_wait(ws: Workspace) -> None:
    """Plan and apply stop before an apply that would wait on certificate validation."""
    problem = None if ws.emulator_url else certificate_wait(ws.env)
    if problem:
        raise fail(problem)


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
    if summary.launch_templates:
        # Issue 16, finding 16: the ASGs ignore their launch template (opsctl owns the versions).
        out.print(
            f"[yellow]Note:[/] {env.name}: the plan changes "
            f"{', '.join(summary.launch_templates)}. Running instances keep the version they "
            "were launched from; the change reaches them only at the next deploy, which builds "
            "its version on the newest template: "
            f"`opsctl bluegreen deploy {env.name} --ami AMI` (the live AMI, from "
            f"`opsctl bluegreen status {env.name}`, to roll out only this change).",
            soft_wrap=True,
        )
    replaced_groups = summary.resource_types.get("aws_lb_target_group", {}).get("replace", 0)
    if replaced_groups:
        # Issue 16, finding 4: apply_saved moves the listener (target_groups.py).
        out.print(
            f"[yellow]Note:[/] {env.name}: the plan replaces {replaced_groups} target group(s). "
            f"`opsctl apply {env.name}` moves the listener and its rules to the new groups "
            "(weights kept) before the old ones are deleted; a plain `terraform apply` fails "
            "there (ResourceInUse). Until the instances are healthy in the new groups, requests "
            "can fail: apply in a quiet hour (docs/operations.md).",
            soft_wrap=True,
        )
    if summary.replaced_security_groups:
        # Issue 16, finding 5: EC2 refuses to delete a group a running instance uses.
        out.print(
            f"[yellow]Note:[/] {env.name}: the plan replaces "
            f"{', '.join(summary.replaced_security_groups)}. The ALB, Aurora and the launch "
            "templates move to the new groups in place, but running instances keep theirs until "
            "a deploy replaces them: the apply fails deleting such a group (DependencyViolation) "
            f"and leaves it deposed. Then run `opsctl bluegreen deploy {env.name} --ami AMI` "
            f"(the live AMI) and `opsctl apply {env.name}` again.",
            soft_wrap=True,
        )


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
        apply_saved(ws, f"terraform apply ({action} {name})", verbose)
        return
    with cli_lock(name, ws.env.region, ws.emulator_url, action, role_arn=ws.env.assume_role_arn):
        apply_saved(ws, f"terraform apply ({action} {name})", verbose)


def apply_saved(ws: Workspace, title: str, verbose: bool) -> None:
    """Apply the saved plan; when it replaces target groups, move the listener to the new ones
    while terraform waits to delete the old ones (issue 16, finding 4: target_groups.py)."""
    meta = ws.saved_plan() or {}
    moves = target_groups.Moves.from_dict(meta.get("target_groups"))
    if not moves:
        terraform_step(title, verbose, ws.apply_saved)
        return
    elbv2 = aws.client("elbv2", ws.env.region, ws.emulator_url, role_arn=ws.env.assume_role_arn)
    notes: list[str] = []

    def move(new_arn: dict[str, str]) -> list[str]:
        return target_groups.repoint(elbv2, moves.listeners, new_arn)

    if moves.deposed:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            moved = move(moves.deposed)
        except (BotoCoreError, ClientError) as error:
            raise fail(f"moving the listener off the old target groups failed: {error}") from None
        console().print(
            f"Moved {', '.join(moved) or 'nothing'} off the old target groups left by an "
            "earlier apply; this apply deletes them."
        )
    watcher = target_groups.Watcher(moves, move, notes.append)

    def apply(progress: Progress) -> None:
        def on_line(line: str) -> None:
            progress(line)
            watcher(line)

        ws.apply_saved(on_line)

    try:
        terraform_step(title, verbose, apply)
    except typer.Exit:
        for note in notes:
            console(stderr=True).print(f"[yellow]note:[/] {note}", soft_wrap=True)
        if moves.replaced:
            console(stderr=True).print(
                f"The old target groups stay in the state as deposed objects: run `opsctl apply "
                f"{ws.env.name}` again; it moves the listener to the new groups and deletes them.",
                soft_wrap=True,
            )
        raise
    for note in notes:
        console().print(f"[green]ok[/] {note}", soft_wrap=True)
