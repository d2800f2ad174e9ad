"""`opsctl migrate` against an AWS environment, where Aurora is private: the migration runs on one
InService instance through SSM Run Command, and its output comes back whole (CloudWatch Logs).

The instance runs the same code as `--database-url` does locally (`ingest-service schema ...`,
service/migrate.py) with the instance's own settings (/etc/ingest/env: the Aurora secret and
host). A plain `up` starts the AMI's `ingest-migrate` oneshot unit and reads its journal; every
other action runs through `systemd-run` as the ingest user with the same environment file.
"""

from __future__ import annotations

import os
import shlex
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opsctl.bluegreen.engine import Engine

SERVICE = "/opt/ingest/venv/bin/ingest-service"
DOCUMENT = "AWS-RunShellScript"
PLUGIN = "aws-runShellScript"  # the document's one step: names the output's log streams
# Final states of an invocation ("Cancelling" is not one: the command may still run).
TERMINAL = {
    "Success",
    "Failed",
    "Cancelled",
    "TimedOut",
    "Undeliverable",
    "Terminated",
    "DeliveryTimedOut",
    "ExecutionTimedOut",
}
# GetCommandInvocation returns at most this much of each stream (SSM API reference).
MAX_STDOUT, MAX_STDERR = 24_000, 8_000
# The longest a migration may run (SSM executionTimeout). Longer than the longest expected DDL;
# the ingest-migrate unit has no shorter limit of its own (packer/files/systemd). docs/opsctl.md.
TIMEOUT = float(os.environ.get("OPSCTL_MIGRATE_TIMEOUT_SECONDS", "21600"))
CANCEL_WAIT = float(os.environ.get("OPSCTL_MIGRATE_CANCEL_WAIT_SECONDS", "120"))
# Waited on top of the time-out: SendCommand's TimeoutSeconds (60), delivery to the instance.
DELIVERY = 60.0
# How long SendCommand is retried while the instance's SSM Agent is not registered yet.
AGENT_WAIT = float(os.environ.get("OPSCTL_MIGRATE_AGENT_WAIT_SECONDS", "300"))
REPLACE = "ReplaceUnhealthy"  # the Auto Scaling process that replaces unhealthy instances


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


def runs_commands(emulator_url: str | None) -> bool:
    """Whether SSM Run Command really runs commands where opsctl talks to. On AWS it does. The
    emulator (moto) accepts SendCommand and runs nothing, answering every invocation `Success`
    with no output, so a release there skips its SSM migration steps rather than record them
    done (tests that play the instance's side turn this on)."""
    return emulator_url is None


def find_target(engine: Engine, colour: str | None = None) -> Target:
    """An InService instance of `colour` (default: the colour taking traffic). A release's
    expand runs on the new colour, whose AMI ships the revisions, while it has no traffic."""
    colour = colour or engine.live()
    instances = sorted(engine.fleet.health(colour).in_service)
    if not instances:
        raise RemoteError(f"the colour {colour} of {engine.env} has no InService instance")
    return Target(instances[0], colour, engine.stack.asg[colour])


def command_lines(action: str, args: list[str]) -> list[str]:
    """The shell lines SSM runs on the instance for `ingest-service schema ACTION ARGS`.
    A cancelled or timed-out command has its shell killed; the trap stops the migration unit too,
    so a cancel really stops the DDL instead of leaving it running behind a released lock."""
    if action == "up" and not args:
        return [
            "trap 'systemctl stop ingest-migrate; exit 130' TERM INT",
            "since=$(date +%s)",
            "systemctl start ingest-migrate & wait $!; rc=$?",
            'journalctl -u ingest-migrate --since "@$since" -o cat --no-pager',
            "exit $rc",
        ]
    schema = " ".join(shlex.quote(a) for a in [SERVICE, "schema", action, *args])
    return [
        "systemd-run --wait --pipe --quiet --collect --uid=ingest --gid=ingest "
        "--property=EnvironmentFile=/etc/ingest/env --working-directory=/var/lib/ingest "
        f"{schema}"
    ]


def log_group(env_name: str) -> str:
    """Where Run Command sends each command's whole output (CloudWatchOutputConfig)."""
    return f"/ingest/{env_name}/run-command"


def output_stream(command_id: str, instance_id: str, stream: str) -> str:
    """Run Command's stream name: <command id>/<instance id>/<plugin>/stdout|stderr."""
    return f"{command_id}/{instance_id}/{PLUGIN}/{stream}"


def run(
    ssm: Any,
    target: Target,
    lines: list[str],
    comment: str,
    timeout: float = TIMEOUT,
    poll: float | None = None,
    progress: Callable[[str], None] = lambda _s: None,
    logs: Any = None,
    group: str | None = None,
    autoscaling: Any = None,
) -> Outcome:
    """Send the command and wait for it (bounded): the instance is protected from scale-in
    meanwhile; Ctrl-C or the time-out cancels the command and waits until it stopped; output
    GetCommandInvocation cut short is read whole from the log group."""
    poll = poll if poll is not None else float(os.environ.get("OPSCTL_MIGRATE_POLL_SECONDS", "2"))
    with scale_in_protection(autoscaling, target):
        extra = (
            {
                "CloudWatchOutputConfig": {
                    "CloudWatchLogGroupName": group,
                    "CloudWatchOutputEnabled": True,
                }
            }
            if group
            else {}
        )
        sent = _send(
            ssm,
            target,
            poll,
            progress,
            InstanceIds=[target.instance_id],
            DocumentName=DOCUMENT,
            Comment=comment[:100],
            TimeoutSeconds=60,  # to deliver it
            Parameters={"commands": lines, "executionTimeout": [str(int(timeout))]},
            **extra,
        )
        command_id = sent["Command"]["CommandId"]
        deadline = time.monotonic() + timeout + DELIVERY
        try:
            result = _wait(ssm, command_id, target, deadline, poll, progress)
        except (KeyboardInterrupt, RemoteError):
            cancel(ssm, command_id, target, poll, progress)
            raise
    code = int(result.get("ResponseCode", -1))
    stdout = str(result.get("StandardOutputContent", ""))
    stderr = str(result.get("StandardErrorContent", ""))
    if logs is not None and group:
        stdout = whole_output(logs, group, command_id, target, "stdout", stdout, MAX_STDOUT)
        stderr = whole_output(logs, group, command_id, target, "stderr", stderr, MAX_STDERR)
    return Outcome(
        code=code if code in (0, 1, 2, 3, 4) else 1,
        stdout=stdout,
        stderr=stderr,
        status=str(result.get("Status")),
        command_id=command_id,
    )


def _send(
    ssm: Any,
    target: Target,
    poll: float,
    progress: Callable[[str], None],
    **params: Any,
) -> Any:
    """SendCommand, retried while SSM answers InvalidInstanceId: an instance that has just come
    InService may not have its SSM Agent running and registered yet, which SSM reports so (SSM
    API Reference, SendCommand, "InvalidInstanceId"). Past AGENT_WAIT seconds, RemoteError."""
    limit = AGENT_WAIT
    deadline = time.monotonic() + limit
    while True:
        try:
            return ssm.send_command(**params)
        except ssm.exceptions.InvalidInstanceId as error:
            if time.monotonic() > deadline:
                raise RemoteError(
                    f"SSM cannot run commands on {target.instance_id} ({target.colour}) after "
                    f"{int(limit)} s: {error}. Is its SSM Agent running, with the instance "
                    "profile's AmazonSSMManagedInstanceCore permissions?"
                ) from None
            progress(f"{target.instance_id} ({target.colour}): waiting for its SSM Agent")
            time.sleep(poll)


def _invocation(ssm: Any, command_id: str, target: Target) -> dict[str, Any]:
    try:
        return dict(ssm.get_command_invocation(CommandId=command_id, InstanceId=target.instance_id))
    except ssm.exceptions.InvocationDoesNotExist:
        return {"Status": "Pending"}


def _wait(
    ssm: Any,
    command_id: str,
    target: Target,
    deadline: float,
    poll: float,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    while True:
        result = _invocation(ssm, command_id, target)
        status = str(result.get("Status", "Pending"))
        progress(f"{target.instance_id} ({target.colour}): {status}")
        if status in TERMINAL:
            return result
        if time.monotonic() > deadline:
            raise RemoteError(
                f"SSM command {command_id} on {target.instance_id} still {status} at the "
                f"time-out; it was cancelled"
            )
        time.sleep(poll)


def cancel(
    ssm: Any,
    command_id: str,
    target: Target,
    poll: float = 2.0,
    progress: Callable[[str], None] = lambda _s: None,
    wait_for: float = CANCEL_WAIT,
) -> str:
    """CancelCommand, then wait until the invocation reached a final state, so the caller
    releases the lock only once nothing runs. Returns that state ("Cancelled", or "Success" /
    "Failed" when it finished first); RemoteError if it does not stop in `wait_for` seconds."""
    ssm.cancel_command(CommandId=command_id, InstanceIds=[target.instance_id])
    deadline = time.monotonic() + wait_for
    while True:
        status = str(_invocation(ssm, command_id, target).get("Status", "Pending"))
        progress(f"{target.instance_id}: cancelling ({status})")
        if status in TERMINAL:
            return status
        if time.monotonic() > deadline:
            raise RemoteError(
                f"SSM command {command_id} on {target.instance_id} is still {status} "
                f"{int(wait_for)} s after CancelCommand: check the instance before retrying"
            )
        time.sleep(poll)


def whole_output(
    logs: Any,
    group: str,
    command_id: str,
    target: Target,
    stream: str,
    shown: str,
    limit: int,
    wait_for: float = 30.0,
) -> str:
    """The stream's whole text from the log group when GetCommandInvocation cut it at `limit`
    characters (the agent uploads the log stream as the command ends, so wait a little)."""
    if len(shown) < limit:
        return shown
    name = output_stream(command_id, target.instance_id, stream)
    deadline = time.monotonic() + wait_for
    while True:
        text = _read_stream(logs, group, name)
        if text is not None and len(text) >= len(shown):
            return text
        if time.monotonic() > deadline:
            return shown + (
                f"\n[output cut at {limit} characters; the rest is in CloudWatch Logs "
                f"{group} {name}]\n"
            )
        time.sleep(1.0)


def _read_stream(logs: Any, group: str, name: str) -> str | None:
    parts: list[str] = []
    token: str | None = None
    while True:
        args: dict[str, Any] = {"logGroupName": group, "logStreamName": name, "startFromHead": True}
        if token:
            args["nextToken"] = token
        try:
            page = logs.get_log_events(**args)
        except logs.exceptions.ResourceNotFoundException:
            return None
        parts.extend(str(e["message"]) for e in page.get("events", []))
        if not page.get("events") or page.get("nextForwardToken") == token:
            return "\n".join(parts) + ("\n" if parts else "")
        token = page.get("nextForwardToken")


@contextmanager
def health_replacement_suspended(autoscaling: Any, asg: str) -> Iterator[None]:
    """The group must not replace its instances for failing the ELB health check meanwhile: a
    release's new colour answers /health 503 "schema behind" until expand ran on it, and once the
    health check grace period (300 s) is over, Auto Scaling replaces an unhealthy instance even
    when it is protected from scale-in (EC2 Auto Scaling User Guide, "Use instance scale-in
    protection" and "Set the health check grace period"): the migration would be cut off on a
    terminated instance. Suspends ReplaceUnhealthy, and resumes it however the block ends. The
    deploy's pre-flight refuses a target group with it suspended already, so what is resumed is
    this release's own suspension, or the one a killed attempt of it left behind."""
    if autoscaling is None:
        yield
        return
    autoscaling.suspend_processes(AutoScalingGroupName=asg, ScalingProcesses=[REPLACE])
    try:
        yield
    finally:
        autoscaling.resume_processes(AutoScalingGroupName=asg, ScalingProcesses=[REPLACE])


@contextmanager
def scale_in_protection(autoscaling: Any, target: Target) -> Iterator[None]:
    """Target tracking must not terminate the instance mid-migration: protect it for the
    duration, then put back what it had."""
    if autoscaling is None:
        yield
        return
    described = autoscaling.describe_auto_scaling_instances(InstanceIds=[target.instance_id])
    before = any(i.get("ProtectedFromScaleIn") for i in described["AutoScalingInstances"])
    if not before:
        autoscaling.set_instance_protection(
            InstanceIds=[target.instance_id],
            AutoScalingGroupName=target.asg,
            ProtectedFromScaleIn=True,
        )
    try:
        yield
    finally:
        if not before:
            with suppress(Exception):  # the instance may be gone; nothing left to protect
                autoscaling.set_instance_protection(
                    InstanceIds=[target.instance_id],
                    AutoScalingGroupName=target.asg,
                    ProtectedFromScaleIn=False,
                )
