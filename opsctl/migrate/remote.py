"""`opsctl migrate` against an AWS environment, where Aurora is private: the migration runs on one
InService instance of the live colour through SSM Run Command, and its output comes back.

The instance runs the same code as `--database-url` does locally (`ingest-service schema ...`,
service/migrate.py) with the instance's own settings (/etc/ingest/env: the Aurora secret and
host). A plain `up` starts the AMI's `ingest-migrate` oneshot unit and reads its journal; every
other action runs through `systemd-run` as the ingest user with the same environment file.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opsctl.bluegreen.engine import Engine

SERVICE = "/opt/ingest/venv/bin/ingest-service"
DOCUMENT = "AWS-RunShellScript"
TERMINAL = {"Success", "Failed", "Cancelled", "TimedOut", "Cancelling", "Undeliverable"}
MAX_OUTPUT = 24_000  # what GetCommandInvocation returns of each stream


class RemoteError(Exception):
    """No instance to run on, or SSM could not run the command."""


@dataclass(frozen=True)
class Target:
    instance_id: str
    colour: str
    asg: str


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str
    status: str
    command_id: str


def find_target(engine: Engine) -> Target:
    """An InService, healthy instance of the colour taking traffic (bluegreen's view of live)."""
    colour = engine.live()
    instances = sorted(engine.fleet.health(colour).in_service)
    if not instances:
        raise RemoteError(f"the live colour {colour} of {engine.env} has no InService instance")
    return Target(instances[0], colour, engine.stack.asg[colour])


def command_lines(action: str, args: list[str]) -> list[str]:
    """The shell lines SSM runs on the instance for `ingest-service schema ACTION ARGS`."""
    if action == "up" and not args:
        return [
            "since=$(date +%s)",
            "systemctl start ingest-migrate; rc=$?",
            'journalctl -u ingest-migrate --since "@$since" -o cat --no-pager',
            "exit $rc",
        ]
    schema = " ".join(shlex.quote(a) for a in [SERVICE, "schema", action, *args])
    return [
        "systemd-run --wait --pipe --quiet --collect --uid=ingest --gid=ingest "
        "--property=EnvironmentFile=/etc/ingest/env --working-directory=/var/lib/ingest "
        f"{schema}"
    ]


def run(
    ssm: Any,
    target: Target,
    lines: list[str],
    comment: str,
    timeout: float = 900,
    poll: float = 2.0,
    progress: Callable[[str], None] = lambda _s: None,
) -> Outcome:
    """Send the command, wait for it (bounded) and return its exit code and output."""
    sent = ssm.send_command(
        InstanceIds=[target.instance_id],
        DocumentName=DOCUMENT,
        Comment=comment[:100],
        TimeoutSeconds=60,
        Parameters={"commands": lines, "executionTimeout": [str(int(timeout))]},
    )
    command_id = sent["Command"]["CommandId"]
    deadline = time.monotonic() + timeout + 60
    while True:
        try:
            result = ssm.get_command_invocation(CommandId=command_id, InstanceId=target.instance_id)
        except ssm.exceptions.InvocationDoesNotExist:
            result = {"Status": "Pending"}
        status = str(result.get("Status", "Pending"))
        progress(f"{target.instance_id} ({target.colour}): {status}")
        if status in TERMINAL:
            code = int(result.get("ResponseCode", -1))
            return Outcome(
                code=code if code in (0, 1, 2, 3, 4) else 1,
                stdout=str(result.get("StandardOutputContent", "")),
                stderr=str(result.get("StandardErrorContent", "")),
                status=status,
                command_id=command_id,
            )
        if time.monotonic() > deadline:
            raise RemoteError(
                f"SSM command {command_id} on {target.instance_id} still {status} after "
                f"{int(timeout)} s"
            )
        time.sleep(poll)
