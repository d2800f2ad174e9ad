"""The release flow: plan check -> expand migrations -> blue/green deploy -> contract migrations,
each step logged (opsctl/release/log.py) so a release can be resumed where it stopped.

The release steps that need more than the blue/green engine: expand on the new colour before
it serves, the contract gate, and recording a contract.

Expand: the revisions ship inside the AMI, so they run from an instance of the NEW colour, after
it scaled up and before the engine waits for it to be healthy. That colour has 0 % of the
traffic, and its instances answer /health 503 "schema behind" (service/schema_gate.py) until
the database has their revision, so nothing of the new release serves or works a job before its
expand ran. On that instance, in order: `ingest-service schema lint` (the AMI's own revisions),
`ingest-service schema status --json` (its head must be the one the release expects, when the
release names one), `ingest-service schema up --phase=expand`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import typer

from opsctl import aws
from opsctl.aws import emulator_from
from opsctl.bluegreen.connect import deploy_ttl, errors, finish, open_engine
from opsctl.bluegreen.engine import Rollback
from opsctl.config import Environment
from opsctl.exitcodes import Exit
from opsctl.lock import cli_lock
from opsctl.migrate import remote
from opsctl.migrate.run import run_phase
from opsctl.release.gates import ContractRefused, check_contract
from opsctl.release.gates import record_contract as _record
from opsctl.release.log import FINISHED, MIGRATIONS_ON_EMULATOR, SharedLog
from opsctl.terraform.steps import apply_saved, refuse_certificate_wait, terraform_step
from opsctl.terraform.workspace import Workspace
from opsctl.ui import ConsoleReport, confirm, console, fail

Step = Callable[[str, Any], None]


class ExpandFailed(Rollback):
    """Lint, head check or expand failed on the new colour: the engine rolls the deployment
    back (the new colour never had traffic)."""


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
    role = environment.assume_role_arn
    with cli_lock(env, environment.region, url, f"release {run.id}", ttl, role_arn=role):
        try:
            if run.status_of("plan") != "done":
                _release_plan(environment, run, url, yes)
            if run.status_of("expand-migrations") not in FINISHED and (
                database_url or not remote.runs_commands(url)
            ):
                # Here (--database-url), or skipped where Run Command runs nothing (the
                # emulator); otherwise expand runs on the new colour during the deploy
                # (expand_on_new_colour below), from the AMI being released.
                _release_migrations(environment, run, "expand", url, database_url)
            if run.status_of("deploy") != "done":
                _release_deploy(environment, run, emulator, resumed)
            if run.status_of("contract-migrations") not in FINISHED:
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
    refuse_certificate_wait(ws)
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
    apply_saved(ws, f"terraform apply ({env})", False)
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
    the environment lock already). A lock held (3) or a lint refusal (4) keeps its exit code.
    Through SSM the service on the instance lints the pending revisions itself: the AMI's, never
    the operator's checkout."""

    step = f"{phase}-migrations"
    if not database_url and not remote.runs_commands(emulator):
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
        if run.status_of("expand-migrations") not in ("done", "skipped"):
            engine.before_step = expand_hook(
                engine, run, environment, emulator_from(emulator, environment)
            )
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
        contract_gate(engine, run)
    _release_migrations(
        environment, run, "contract", emulator_from(emulator, environment), database_url
    )
    if run.status_of("contract-migrations") == "done":
        with errors(environment.name, "release to"):
            record_contract(engine, run)


def contract_gate(engine: Any, run: Any) -> None:
    try:
        check_contract(engine.aws, engine.stack, engine.live(), run.ami)
    except ContractRefused as refused:
        run.log("contract-migrations", "waiting", detail=str(refused))
        raise ContractRefused(
            f"{refused}. Resume later: opsctl release resume {engine.env}"
        ) from None


def record_contract(engine: Any, run: Any) -> None:
    _record(
        engine.aws.ssm, engine.env, run.id, run.ami, str(run.options.get("schema_head") or "head")
    )


def remote_schema(
    engine: Any, colour: str, action: str, args: list[str], logs: Any, env_name: str
) -> Any:
    """`ingest-service schema ACTION ARGS` on an InService instance of `colour` via SSM. SSM
    unable to run it rolls the deployment back, as a failed command does (no traffic moved)."""
    try:
        return _remote_schema(engine, colour, action, args, logs, env_name)
    except remote.RemoteError as error:
        raise ExpandFailed(f"`ingest-service schema {action}` on {colour}: {error}") from None


def _remote_schema(
    engine: Any, colour: str, action: str, args: list[str], logs: Any, env_name: str
) -> Any:
    target = remote.find_target(engine, colour)
    return remote.run(
        engine.aws.ssm,
        target,
        remote.command_lines(action, args),
        f"opsctl release {action} {env_name}",
        progress=engine.report.progress,
        logs=logs,
        group=remote.log_group(env_name),
        autoscaling=engine.aws.autoscaling,
    )


def wait_in_service(engine: Any, colour: str, timeout: float, poll: float) -> None:
    deadline = time.monotonic() + timeout
    while not engine.fleet.health(colour).in_service:
        if time.monotonic() > deadline:
            raise ExpandFailed(f"no instance of {colour} came InService within {timeout:g}s")
        engine.report.progress(f"waiting for an InService {colour} instance to run expand on")
        time.sleep(poll)


def expand_on_new_colour(engine: Any, run: Any, logs: Any) -> Step:
    """The engine's before_step hook: before `wait-healthy`, run expand on the new colour."""

    def before(step: str, deployment: Any) -> None:
        if step != "wait-healthy" or run.status_of("expand-migrations") in ("done", "skipped"):
            return
        colour = deployment.target
        run.log("expand-migrations", "started", colour=colour)
        with remote.health_replacement_suspended(engine.aws.autoscaling, engine.stack.asg[colour]):
            up = expand(colour)
        run.log(
            "expand-migrations",
            "done",
            colour=colour,
            command=up.command_id,
            detail=f"expand ran on {colour} (0% traffic) from {run.ami}",
        )
        applied = [line.strip() for line in up.stdout.splitlines() if "applied" in line]
        engine.report.step(
            f"expand migrations ran on {colour} from {run.ami}"
            + (f": {'; '.join(applied)}" if applied else "")
        )

    def expand(colour: str) -> Any:
        """Lint, check the head, run expand: on one InService instance of `colour`."""
        wait_in_service(engine, colour, engine.timings.healthy_timeout, engine.timings.poll)
        lint = remote_schema(engine, colour, "lint", [], logs, engine.env)
        if lint.code != 0:
            _failed(run, f"`ingest-service schema lint` on {colour} exited {lint.code}", lint)
        expected = run.options.get("schema_head")
        if expected:
            status = remote_schema(engine, colour, "status", ["--json"], logs, engine.env)
            head = _head(status.stdout)
            if head != expected:
                _failed(
                    run,
                    f"the AMI's head revision is {head}, the release expects {expected}",
                    status,
                )
        up = remote_schema(engine, colour, "up", ["--phase=expand"], logs, engine.env)
        if up.code != 0:
            _failed(
                run, f"`ingest-service schema up --phase=expand` on {colour} exited {up.code}", up
            )
        return up

    return before


def _head(stdout: str) -> str | None:
    try:
        return str(json.loads(stdout).get("head"))
    except (ValueError, AttributeError):
        return None


def _failed(run: Any, why: str, outcome: Any) -> None:
    tail = (outcome.stderr or outcome.stdout or "").strip().splitlines()[-20:]
    run.log("expand-migrations", "failed", detail=why)
    raise ExpandFailed(why + ("\n" + "\n".join(tail) if tail else ""))


def expand_hook(engine: Any, run: Any, environment: Any, emulator_url: str | None) -> Step:
    """expand_on_new_colour with the environment's Logs client (for whole SSM output)."""
    logs = aws.client(
        "logs", environment.region, emulator_url, role_arn=environment.assume_role_arn
    )
    return expand_on_new_colour(engine, run, logs)


def shared_log(environment: Any, emulator_url: str | None) -> Any:
    """The release log in the environment's state bucket, readable by every operator."""
    return SharedLog(
        aws.client("s3", environment.region, emulator_url, role_arn=environment.assume_role_arn),
        environment.state.bucket,
        environment.name,
    )
