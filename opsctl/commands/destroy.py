"""`opsctl destroy ENV` (refused for prod), then opsctl's blue/green records."""

from __future__ import annotations

import typer

from opsctl import aws
from opsctl.bluegreen import record
from opsctl.exitcodes import Exit
from opsctl.release.gates import forget_contract
from opsctl.terraform.snapshot_keys import keep_final_snapshot_keys
from opsctl.terraform.steps import open_workspace, plan_confirm_apply, target
from opsctl.ui import DryRunOpt, EmulatorOpt, EnvArg, VerboseOpt, YesOpt, console, fail

app = typer.Typer()


@app.command()
def destroy(
    env: EnvArg,
    emulator: EmulatorOpt = None,
    yes: YesOpt = False,
    dry_run: DryRunOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Destroy every resource of ENV (refused for prod), then opsctl's blue/green records.

    A final snapshot keeps the KMS key that encrypts it (docs/operations.md#tearing-down)."""
    ws = open_workspace(env, emulator)
    if ws.env.is_prod:
        raise fail("opsctl destroy is refused for prod", Exit.ABORTED)
    plan_confirm_apply(ws, "destroy", yes, dry_run, verbose, destroy=True)
    ws.record("apply", "destroyed")
    console().print(f"[green]Destroyed.[/] {env} ({target(ws)})")

    def client(service: str) -> object:
        return aws.client(service, ws.env.region, ws.emulator_url, role_arn=ws.env.assume_role_arn)

    if not ws.env.skip_final_snapshot:
        for kept in keep_final_snapshot_keys(client("rds"), client("kms"), ws.env.resource_name):
            console().print(
                f"Kept KMS key {kept.key_arn}: it encrypts the final snapshot {kept.snapshot}, "
                "which a deleted key would make unrestorable"
            )
    ssm = client("ssm")
    forgotten = record.forget(ssm, env) + forget_contract(ssm, env)
    if forgotten:
        console().print(f"Removed opsctl's blue/green records: {', '.join(forgotten)}")
