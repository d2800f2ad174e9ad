"""The instance's side of SSM Run Command, played here (moto's SSM runs nothing).

MOCK of what AWS does on the instance, for tests and for the captured release in
docs/operations.md: moto records SendCommand and answers every invocation `Success` with no
output, because no SSM agent runs its commands. `LocalInstance` wraps moto's SSM client:
SendCommand still goes to moto (and is recorded with the instance it names), then the
`ingest-service schema ...` in the command lines runs here, in a subprocess, as the instance's
`systemd-run` would run it (with /etc/ingest/env: here `database_url` and `migrations`, the
revisions the AMI ships), and GetCommandInvocation answers with its exit code and output, cut
at 24,000 / 8,000 characters as SSM's API does (AWS: GetCommandInvocation,
https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetCommandInvocation.html).
A non-zero exit is `Failed` with that ResponseCode, as the agent reports it.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from opsctl.migrate import remote
from tests.support.paths import REPO


@dataclass
class Sent:
    """One SendCommand as the instance received it."""

    instance_ids: list[str]
    args: list[str]  # what followed `ingest-service` (["schema", "up", "--phase=expand"])
    params: dict[str, Any]
    command_id: str = ""
    code: int = -1
    stdout: str = ""
    stderr: str = ""

    @property
    def action(self) -> str:
        """`lint`, `status --json`, `up --phase=expand`, ..."""
        return " ".join(self.args[1:] if self.args[:1] == ["schema"] else self.args)


def service_args(lines: list[str]) -> list[str]:
    """The `ingest-service` arguments a command from opsctl/migrate/remote.py runs: a plain `up`
    starts the ingest-migrate unit (`ingest-service migrate`), anything else is one
    `systemd-run ... /opt/ingest/venv/bin/ingest-service schema ACTION ARGS` line."""
    joined = "\n".join(lines)
    if "systemctl start ingest-migrate" in joined:
        return ["migrate"]
    for line in lines:
        words = shlex.split(line)
        if remote.SERVICE in words:
            return words[words.index(remote.SERVICE) + 1 :]
    raise AssertionError(f"not an ingest-service command: {lines}")


@dataclass
class LocalInstance:
    """moto's SSM client, with every instance's side of Run Command played here (see above)."""

    real: Any
    database_url: str
    migrations: Path | None  # INGEST_MIGRATIONS_EXTRA on the "AMI": its revisions beyond the repo's
    on_send: Callable[[Sent], None] | None = None  # called before the command "runs"
    sent: list[Sent] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def run_service(self, args: list[str]) -> tuple[int, str, str]:
        """`ingest-service ARGS` as the instance runs it (its settings, its revisions)."""
        env = dict(os.environ, INGEST_DATABASE_URL=self.database_url)
        env.pop("INGEST_DATABASE_SECRET_ARN", None)
        env.pop("INGEST_MIGRATIONS_EXTRA", None)  # the operator's, not the AMI's
        if self.migrations is not None:
            env["INGEST_MIGRATIONS_EXTRA"] = str(self.migrations)
        done = subprocess.run(
            [sys.executable, "-m", "service.cli", *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        return done.returncode, done.stdout, done.stderr

    def send_command(self, **params: Any) -> Any:
        answer = self.real.send_command(**params)
        sent = Sent(
            list(params["InstanceIds"]),
            service_args(params["Parameters"]["commands"]),
            params,
            command_id=answer["Command"]["CommandId"],
        )
        if self.on_send is not None:
            self.on_send(sent)
        sent.code, sent.stdout, sent.stderr = self.run_service(sent.args)
        self.sent.append(sent)
        return answer

    def get_command_invocation(self, **params: Any) -> Any:
        sent = next(s for s in self.sent if s.command_id == params["CommandId"])
        assert params["InstanceId"] in sent.instance_ids
        return {
            "CommandId": sent.command_id,
            "InstanceId": params["InstanceId"],
            "Status": "Success" if sent.code == 0 else "Failed",
            "ResponseCode": sent.code,
            "StandardOutputContent": sent.stdout[: remote.MAX_STDOUT],
            "StandardErrorContent": sent.stderr[: remote.MAX_STDERR],
        }


class HealthFromService:
    """MOCK of the ALB's health checks of one colour (moto reports every running target
    healthy): each of its running targets is `healthy` when GET BASE/health answers 200 (the
    target group's matcher), else `unhealthy` with Target.ResponseCodeMismatch, as the ALB
    reports a failing check (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/
    target-group-health-checks.html). One real service process at BASE plays
    every instance of that colour. Each answer is appended to `events` as ("health", code)."""

    def __init__(self, real: Any, group: str, base: str, events: list[tuple[Any, ...]]) -> None:
        self.real, self.group, self.base, self.events = real, group, base, events

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def describe_target_health(self, **params: Any) -> Any:
        answer = self.real.describe_target_health(**params)
        if params.get("TargetGroupArn") != self.group:
            return answer
        code = health_code(self.base)
        self.events.append(("health", code))
        for target in answer["TargetHealthDescriptions"]:
            if target["TargetHealth"]["State"] == "healthy":  # a running instance, to moto
                target["TargetHealth"] = (
                    {"State": "healthy"}
                    if code == 200
                    else {
                        "State": "unhealthy",
                        "Reason": "Target.ResponseCodeMismatch",
                        "Description": f"Health checks failed with these codes: [{code}]",
                    }
                )
        return answer


def health_code(base: str) -> int:
    return httpx.get(f"{base}/health", timeout=10).status_code


def install(patch: Any, instance: LocalInstance, health: HealthFromService | None = None) -> None:
    """In this process (`patch`: a pytest MonkeyPatch): every SSM client opsctl makes is
    `instance`, every ELBv2 client `health` (when given), and Run Command counts as running
    where opsctl talks to (opsctl.migrate.remote.runs_commands), since the instance is played."""
    from opsctl import aws as factory

    real = factory.client

    def client(service: str, region: str, url: str | None = None, **kwargs: Any) -> Any:
        if service == "ssm":
            return instance
        if service == "elbv2" and health is not None:
            return health
        return real(service, region, url, **kwargs)

    patch.setattr(factory, "client", client)
    patch.setattr(remote, "runs_commands", lambda _url: True)
