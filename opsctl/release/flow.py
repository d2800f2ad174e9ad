"""The release flow: plan check -> expand migrations -> blue/green deploy -> contract migrations,
each step logged (opsctl/release/log.py) so a release can be resumed where it stopped."""

from __future__ import annotations

from typing import Any

import typer

from opsctl.aws import emulator_from
from opsctl.bluegreen import other
from opsctl.bluegreen.connect import deploy_ttl, errors, finish, open_engine
from opsctl.config import Environment
from opsctl.exitcodes import Exit
from opsctl.lock import cli_lock
from opsctl.migrate.run import run_phase
from opsctl.release.log import MIGRATIONS_ON_EMULATOR
from opsctl.terraform.steps import terraform_step
from opsctl.terraform.workspace import Workspace
from opsctl.ui import ConsoleReport, confirm, console, fail


def run_release(
    environment: Environment,
    run: Any,
    emulator: str | None,
    yes: bool,
    database_url: str | None,
    resumed: bool = False,
) -> None:

    env = environment.name
    if environment.is_prod:
        confirm(environment, f"release {run.ami} to", yes)
    out = console()
    url = emulator_from(emulator, environment)
    options = run.options
    ttl = deploy_ttl(options["canary"], options["bake"], options["keep_old"]) + 3600
    with cli_lock(env, environment.region, url, f"release {run.id}", ttl):
        try:
            if run.status_of("plan") != "done":
                _release_plan(environment, run, url, yes)
            if run.status_of("expand-migrations") not in ("done", "skipped"):
                _release_migrations(environment, run, "expand", url, database_url)
            if run.status_of("deploy") != "done":
                _release_deploy(environment, run, emulator, resumed)
            if run.status_of("contract-migrations") not in ("done", "skipped"):
                _release_contract(environment, run, emulator, database_url)
        except typer.Exit as stop:
            if stop.exit_code == Exit.ROLLED_BACK:
                run.log("release", "rolled_back")
            elif run.status_of("deploy") == "interrupted":
                run.log("release", "interrupted")
                console(stderr=True).print(
                    f"Continue the release with: opsctl release resume {env}"
                )
            elif run.outcome == "running":
                run.log("release", "failed" if stop.exit_code == Exit.ERROR else "aborted")
            raise
        except KeyboardInterrupt:
            run.log("release", "interrupted")
            raise fail(
                f"release {run.id} interrupted; continue with: opsctl release resume {env}",
                Exit.ABORTED,
            ) from None
    run.log("release", "done")
    out.print(f"[green]Release {run.id} done:[/] {run.ami} live on {env}.")


def _release_plan(environment: Environment, run: Any, url: str | None, yes: bool) -> None:

    env = environment.name
    run.log("plan", "started")
    ws = Workspace(environment, url)
    ws.prepare()
    terraform_step(f"terraform init ({env})", False, ws.init)
    code, summary = terraform_step(f"terraform plan ({env})", False, ws.plan)
    if code == 0:
        ws.discard_plan()
        run.log("plan", "done", detail="no infrastructure changes pending")
        console().print("  [green]ok[/] plan: no infrastructure changes pending")
        return
    totals = ", ".join(f"{n} to {a}" for a, n in summary.totals.items() if n)
    console().print(f"  plan: infrastructure changes pending ({totals})")
    if summary.stateful:
        run.log("plan", "aborted", detail="stateful resources would be replaced")
        raise fail(
            "the pending plan destroys or replaces stateful resources: apply it yourself "
            f"(opsctl apply {env}) before releasing",
            Exit.ABORTED,
        )
    try:
        confirm(environment, f"apply the pending changes ({totals}) before releasing to", yes)
    except typer.Exit:
        run.log("plan", "aborted", detail="pending changes not applied")
        raise
    terraform_step(f"terraform apply ({env})", False, ws.apply_saved)
    ws.record("apply", "applied (release)")
    run.log("plan", "done", detail=f"applied pending changes: {totals}")
    console().print(f"  [green]ok[/] plan: applied pending changes ({totals})")


def _release_migrations(
    environment: Environment,
    run: Any,
    phase: str,
    emulator: str | None,
    database_url: str | None,
) -> None:
    """`opsctl migrate up --phase PHASE` on --database-url or a live-colour instance (we hold
    the environment lock already). A lock held (3) or a lint refusal (4) keeps its exit code."""

    step = f"{phase}-migrations"
    if emulator and not database_url:
        detail = MIGRATIONS_ON_EMULATOR.format(phase=phase)
        run.log(step, "skipped", detail=detail)
        console().print(f"  [yellow]skipped[/] {step}: {detail}", soft_wrap=True)
        return
    where = "on --database-url" if database_url else "on a live-colour instance via SSM"
    run.log(step, "started")
    code = run_phase(environment, phase, emulator, database_url)
    if code != 0:
        run.log(step, "failed", detail=f"opsctl migrate up --phase {phase} exited {code} {where}")
        raise fail(
            f"{phase} migrations failed (exit {code}); fix them, then: "
            f"opsctl release resume {environment.name}",
            code if code in (Exit.LOCKED, Exit.ABORTED) else Exit.ERROR,
        )
    run.log(step, "done", detail=f"migrate up --phase {phase} {where}")
    console().print(f"  [green]ok[/] {step}: migrate up --phase {phase} {where}", soft_wrap=True)


def _release_deploy(
    environment: Environment, run: Any, emulator: str | None, resumed: bool
) -> None:

    env = environment.name
    report = ConsoleReport()
    options = run.options
    with errors(env, "release deploy to"):
        engine = open_engine(environment, emulator, report)
        current = engine.deployment()
        try:
            if resumed and current is not None and current.ami == run.ami and current.active:
                run.log("deploy", "resumed", deployment=current.id)
                result = engine.resume()
            elif (
                resumed
                and current is not None
                and current.ami == run.ami
                and current.status == "succeeded"
                and current.started_at >= run.entries[0]["at"]
            ):
                run.log("deploy", "done", deployment=current.id, detail="finished before")
                return
            else:
                run.log("deploy", "started")
                result = engine.deploy(
                    run.ami, options["canary"], options["bake"], options["keep_old"]
                )
        except KeyboardInterrupt:
            current = engine.deployment()
            run.log("deploy", "interrupted", deployment=current.id if current else None)
            raise
        finally:
            report.close()
    deployment = result.deployment.id if result.deployment else None
    if result.code == Exit.OK:
        run.log("deploy", "done", deployment=deployment, detail=result.message)
        console().print(f"  [green]ok[/] deploy: {result.message}", soft_wrap=True)
        return
    run.log("deploy", "rolled_back", deployment=deployment, detail=result.message)
    finish(result)


def _release_contract(
    environment: Environment, run: Any, emulator: str | None, database_url: str | None
) -> None:

    with errors(environment.name, "release to"):
        engine = open_engine(environment, emulator, ConsoleReport())
        old = other(engine.live())
        health = engine.fleet.health(old)
    if health.capacity.desired or health.in_service:
        raise fail(
            f"contract migrations wait until the old colour {old} is at 0 "
            f"({health.describe()}); resume later: opsctl release resume {environment.name}"
        )
    _release_migrations(
        environment, run, "contract", emulator_from(emulator, environment), database_url
    )
