"""The release steps that need more than the blue/green engine: expand on the new colour before
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

from opsctl.bluegreen.engine import Rollback
from opsctl.release.gates import ContractRefused, check_contract
from opsctl.release.gates import record_contract as _record

Step = Callable[[str, Any], None]


class ExpandFailed(Rollback):
    """Lint, head check or expand failed on the new colour: the engine rolls the deployment
    back (the new colour never had traffic)."""


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
    """`ingest-service schema ACTION ARGS` on an InService instance of `colour` via SSM."""
    from opsctl import migrate_remote

    target = migrate_remote.find_target(engine, colour)
    return migrate_remote.run(
        engine.aws.ssm,
        target,
        migrate_remote.command_lines(action, args),
        f"opsctl release {action} {env_name}",
        progress=engine.report.progress,
        logs=logs,
        group=migrate_remote.log_group(env_name),
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
        run.log(
            "expand-migrations",
            "done",
            colour=colour,
            command=up.command_id,
            detail=f"expand ran on {colour} (0% traffic) from {run.ami}",
        )
        engine.report.step(f"expand migrations ran on {colour} from {run.ami}")

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
    from opsctl import aws

    return expand_on_new_colour(engine, run, aws.client("logs", environment.region, emulator_url))


def shared_log(environment: Any, emulator_url: str | None) -> Any:
    """The release log in the environment's state bucket, readable by every operator."""
    from opsctl import aws
    from opsctl.release.log import SharedLog

    return SharedLog(
        aws.client("s3", environment.region, emulator_url),
        environment.state.bucket,
        environment.name,
    )
