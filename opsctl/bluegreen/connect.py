"""What the blue/green and release commands share: an engine connected to an environment, its
failures as messages with the contract's exit codes, and the deployment options."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from opsctl import aws
from opsctl.aws import emulator_from
from opsctl.bluegreen import record
from opsctl.bluegreen.clients import Clients
from opsctl.bluegreen.engine import BlueGreenError, Engine, Guard, Result
from opsctl.bluegreen.fleet import Capacity
from opsctl.bluegreen.stack import StackError, discover
from opsctl.bluegreen.timing import Timings, parse_canary, parse_duration
from opsctl.config import Environment
from opsctl.exitcodes import Exit
from opsctl.lock import whoami
from opsctl.ui import aws_errors, console, fail

DEFAULT_CANARY, DEFAULT_BAKE, DEFAULT_KEEP_OLD = "10,50", "auto", "15m"
# The deployment options `bluegreen deploy` and `release` share.
AmiOpt = Annotated[str | None, typer.Option("--ami", help="AMI to deploy (ami-...).")]
CanaryOpt = Annotated[
    str,
    typer.Option("--canary", help="Traffic percentages before the switch, e.g. 10,50 ('' none)."),
]
BakeOpt = Annotated[
    str,
    typer.Option(
        "--bake",
        help="How long each canary step is held (30s, 7m); 'auto': the shortest the alarm "
        "gate allows (evaluation window + metric delay).",
    ),
]
ForceBakeOpt = Annotated[
    bool, typer.Option("--force", help="Accept a bake shorter than the alarm gate's minimum.")
]
MinHealthyOpt = Annotated[
    float,
    typer.Option(
        "--min-healthy",
        min=1,
        max=100,
        help="Percent of the target capacity that must be ready before traffic moves.",
    ),
]
KeepOldOpt = Annotated[
    str,
    typer.Option("--keep-old", help="How long the old colour stays scaled after the switch."),
]


def open_engine(
    environment: Environment, emulator: str | None, report: Any, min_healthy: float = 100.0
) -> Engine:
    clients = Clients.create(
        environment.region,
        emulator_from(emulator, environment),
        role_arn=environment.assume_role_arn,
    )
    stack = discover(clients, environment.state.bucket, environment.name)
    compute = environment.compute
    return Engine(
        clients,
        stack,
        report,
        Timings.from_env(),
        by=whoami(),
        fallback_capacity=Capacity(
            max(compute.min_size, 1), compute.max_size, max(compute.desired_capacity, 1)
        ),
        ami_owners=[environment.account_id, *compute.ami_owners],
        min_healthy_percent=min_healthy,
    )


@contextmanager
def errors(env_name: str, what: str) -> Iterator[None]:
    """Every failure as one clear message and the contract's exit code, never a traceback."""
    try:
        with aws_errors(f"{what} {env_name}"):
            yield
    except Guard as error:
        raise fail(f"{what} {env_name}: {error}", Exit.ABORTED) from None
    except (BlueGreenError, StackError) as error:
        raise fail(f"{what} {env_name}: {error}") from None
    except KeyboardInterrupt as stop:
        raise fail(
            f"{what} {env_name} interrupted ({getattr(stop, 'signame', 'SIGINT')}); its state "
            "is recorded. See `opsctl bluegreen "
            f"status {env_name}`; continue with `opsctl bluegreen deploy {env_name} --resume`",
            Exit.ABORTED,
        ) from None


def finish(result: Result) -> None:
    """Print an engine result; exit with its code unless it succeeded."""
    if result.code == Exit.OK:
        console().print(f"[green]{result.message}[/]", soft_wrap=True)
        return
    console(stderr=True).print(f"[bold red]{result.message}[/]", soft_wrap=True)
    raise typer.Exit(result.code)


def deploy_ttl(canary: list[int], bake: float | None, keep_old: float) -> float:
    """How long a deploy is expected to hold the environment lock (shown; the heartbeat renews
    it). An automatic bake (None) counts as an hour."""
    timings = Timings.from_env()
    bake = 3600 if bake is None else bake
    return 2 * timings.healthy_timeout + 2 * len(canary) * bake + keep_old + 3600


def recorded_ttl(environment: Environment, emulator: str | None) -> float | None:
    """`deploy --resume`: deploy_ttl from the recorded deployment's own canary, bake and
    keep-old (what the resumed run will do), not the CLI's defaults; None when none is
    recorded."""
    ssm = aws.client(
        "ssm",
        environment.region,
        emulator_from(emulator, environment),
        role_arn=environment.assume_role_arn,
    )
    deployment = record.load_deployment(ssm, environment.name)
    if deployment is None:
        return None
    return deploy_ttl(deployment.canary, deployment.bake, deployment.keep_old)


def parse_options(canary: str, bake: str, keep_old: str) -> tuple[list[int], float | None, float]:
    """--canary, --bake ('auto': None, the engine picks the alarm gate's minimum), --keep-old."""
    try:
        bake_s = None if bake.strip() == "auto" else parse_duration(bake)
        return parse_canary(canary), bake_s, parse_duration(keep_old)
    except ValueError as error:
        raise fail(str(error)) from None
