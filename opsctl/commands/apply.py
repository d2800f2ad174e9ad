"""`opsctl apply ENV`: the saved plan if still current, else plan and ask; under the lock."""

from __future__ import annotations

from typing import Annotated

import typer

from opsctl.exitcodes import Exit
from opsctl.lock import cli_lock
from opsctl.terraform.plan_summary import Hazard, Summary
from opsctl.terraform.steps import (
    apply_saved,
    open_workspace,
    print_summary,
    refuse_certificate_wait,
    target,
    terraform_step,
)
from opsctl.ui import DryRunOpt, EmulatorOpt, EnvArg, VerboseOpt, YesOpt, confirm, console, fail

app = typer.Typer()


@app.command()
def apply(
    env: EnvArg,
    emulator: EmulatorOpt = None,
    yes: YesOpt = False,
    allow_destroy: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-destroy",
            metavar="ADDRESS",
            help="Allow destroying/replacing this stateful resource (repeat per address).",
        ),
    ] = None,
    dry_run: DryRunOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Apply the saved plan if it is still current; with none, plan first and ask."""
    ws = open_workspace(env, emulator)
    refuse_certificate_wait(ws)
    meta = ws.saved_plan()
    if meta is not None:
        reason = ws.stale_reason(meta)
        if reason:
            raise fail(
                f"the saved plan for {env} is stale: {reason}. Run `opsctl plan {env}` again.",
                Exit.ABORTED,
            )
        raw = meta["summary"]
        summary = Summary(
            by_module=raw["by_module"],
            totals=raw["totals"],
            stateful=[Hazard(**h) for h in raw["stateful"]],
            resource_types=raw["resource_types"],
            launch_templates=raw.get("launch_templates", []),
            replaced_security_groups=raw.get("replaced_security_groups", []),
        )
        console().print(f"Using the saved plan from {meta['created_at']}.")
    else:
        ws.prepare()
        terraform_step(f"terraform init ({env})", verbose, ws.init)
        _, summary = terraform_step(f"terraform plan ({env})", verbose, ws.plan)
    print_summary(summary, ws.env, target(ws))
    if not summary.has_changes:
        ws.discard_plan()
        raise typer.Exit(Exit.OK)
    allowed = set(allow_destroy or [])
    blocked = [h for h in summary.stateful if h.address not in allowed]
    if blocked:
        hint = " ".join(f"--allow-destroy '{h.address}'" for h in blocked)
        raise fail(
            f"refusing to {blocked[0].action} stateful resources without an explicit allowance; "
            f"if that is intended, re-run with: {hint}",
            Exit.ABORTED,
        )
    if dry_run:
        console().print("Dry run: nothing applied (the plan stays saved).")
        raise typer.Exit(Exit.CHANGES)
    confirm(ws.env, "apply to", yes)
    with cli_lock(env, ws.env.region, ws.emulator_url, "apply", role_arn=ws.env.assume_role_arn):
        try:
            apply_saved(ws, f"terraform apply ({env})", verbose)
        except typer.Exit:
            ws.record("apply", "failed")
            raise
    ws.record("apply", "applied")
    console().print(f"[green]Applied.[/] {env} ({target(ws)})")
