"""The release's contract gate and the rollback-past-contract guard (opsctl/release/gates.py), on
moto with the few resources blue/green reads (tests/support/moto.py).

moto has no termination lifecycle hooks, so an instance in `Terminating:Wait` (real AWS keeps a
terminating instance there, still running its old code, until the hook's heartbeat times out or
is completed: EC2 Auto Scaling lifecycle hooks) is played by rewriting that one field of
DescribeAutoScalingGroups (MOCK, named below). Draining is moto's own: DescribeTargetHealth
answers `draining` for a registered instance that was terminated.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from opsctl.bluegreen.clients import Clients
from opsctl.bluegreen.stack import Stack, discover
from opsctl.exitcodes import Exit
from opsctl.local.emulator import MotoServer
from opsctl.release import gates
from tests.support.moto import BUCKET, ENV, REGION, Local, create
from tests.support.opsctl_run import Opsctl
from tests.support.paths import REPO


@pytest.fixture
def local(aws: MotoServer) -> Local:
    return create(aws.endpoint)


@pytest.fixture
def clients(local: Local) -> Clients:
    return Clients.create(REGION, local.url)


@pytest.fixture
def stack(clients: Clients) -> Stack:
    return discover(clients, BUCKET, ENV)


def blue_instance(clients: Clients, stack: Stack) -> tuple[str, str]:
    group = clients.autoscaling.describe_auto_scaling_groups(
        AutoScalingGroupNames=[stack.asg["blue"]]
    )["AutoScalingGroups"][0]
    instance = group["Instances"][0]["InstanceId"]
    image = clients.ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][
        0
    ]["ImageId"]
    return instance, image


class TerminatingWait:
    """MOCK of one field: moto's Auto Scaling, except that `instance` is reported in
    `Terminating:Wait` (a termination lifecycle hook holding it; moto has no hooks)."""

    def __init__(self, real: Any, instance: str) -> None:
        self.real, self.instance = real, instance

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def describe_auto_scaling_groups(self, **params: Any) -> Any:
        answer = self.real.describe_auto_scaling_groups(**params)
        for group in answer["AutoScalingGroups"]:
            for instance in group.get("Instances", []):
                if instance["InstanceId"] == self.instance:
                    instance["LifecycleState"] = "Terminating:Wait"
        return answer


def test_contract_passes_when_everything_runs_the_release(clients: Clients, stack: Stack) -> None:
    _instance, image = blue_instance(clients, stack)
    gates.check_contract(clients, stack, "blue", image)


def test_contract_is_refused_while_an_old_instance_is_terminating(
    clients: Clients, stack: Stack
) -> None:
    """Main counted only InService+Healthy instances of the old colour: one held in
    Terminating:Wait (its worker still claiming jobs) did not stop the contract."""
    old_instance, old_image = blue_instance(clients, stack)
    release = next(
        i["ImageId"]
        for i in clients.ec2.describe_images(Owners=["amazon"])["Images"]
        if i["ImageId"] != old_image
    )
    # The release runs on green (live); blue's last old instance is being terminated.
    green = clients.ec2.run_instances(ImageId=release, MinCount=1, MaxCount=1)["Instances"][0]
    clients.autoscaling.attach_instances(
        InstanceIds=[green["InstanceId"]], AutoScalingGroupName=stack.asg["green"]
    )
    seen = replace(clients, autoscaling=TerminatingWait(clients.autoscaling, old_instance))
    with pytest.raises(gates.ContractRefused) as refused:
        gates.check_contract(seen, stack, "green", release)
    assert f"{old_instance} runs {old_image} (blue Terminating:Wait)" in str(refused.value)


class Draining:
    """MOCK of one field: moto's ELBv2, except that `instance` is reported `draining` while it
    runs (real AWS drains a deregistered target for the deregistration delay, its instance
    still running; moto answers `draining` only for terminated instances)."""

    def __init__(self, real: Any, instance: str) -> None:
        self.real, self.instance = real, instance

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def describe_target_health(self, **params: Any) -> Any:
        answer = self.real.describe_target_health(**params)
        for target in answer["TargetHealthDescriptions"]:
            if target["Target"]["Id"] == self.instance:
                target["TargetHealth"]["State"] = "draining"
        return answer


def test_contract_is_refused_while_a_target_is_draining(clients: Clients, stack: Stack) -> None:
    """Main did not look at target health: connections still open to a draining target (old
    code answering requests) did not stop the contract."""
    instance, image = blue_instance(clients, stack)
    seen = replace(clients, elbv2=Draining(clients.elbv2, instance))
    with pytest.raises(gates.ContractRefused, match=f"target {instance} \\(blue\\) is draining"):
        gates.check_contract(seen, stack, "blue", image)
    # A terminated instance's target (moto keeps it `draining`) runs nothing: no refusal.
    extra = clients.ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]
    clients.elbv2.register_targets(
        TargetGroupArn=stack.target_group["green"], Targets=[{"Id": extra["InstanceId"]}]
    )
    clients.ec2.terminate_instances(InstanceIds=[extra["InstanceId"]])
    gates.check_contract(clients, stack, "blue", image)


def test_contract_is_refused_when_the_live_ami_is_not_the_release(
    clients: Clients, stack: Stack
) -> None:
    with pytest.raises(gates.ContractRefused, match="the live colour blue runs"):
        gates.check_contract(clients, stack, "blue", "ami-0000000000release")


def test_rollback_past_a_contract_is_refused_without_force(
    local: Local, clients: Clients, tmp_path: Path
) -> None:
    """Main's `bluegreen rollback` brought the old AMI back onto the contracted schema without a
    word. The idle colour's template boots the old AMI; a release contracted for another one."""
    gates.record_contract(clients.ssm, ENV, "r-1", "ami-0123456789abcdef0", "0003")
    opsctl = Opsctl(REPO / "envs", tmp_path / "build", local.url)
    refused = opsctl("bluegreen", "rollback", ENV, "--yes")
    assert refused.code == Exit.ABORTED, refused.output
    assert "contracted the schema to revision 0003 for ami-0123456789abcdef0" in refused.stderr
    assert "--force" in refused.stderr
    # No deregistration delay (300 s by default, before the old colour is scaled to 0) and
    # fast polls: the waits only cost CI time here (this took over 5 minutes).
    fast = {"OPSCTL_BG_POLL_SECONDS": "0.2", "OPSCTL_BG_DRAIN_SECONDS": "0"}
    forced = opsctl("bluegreen", "rollback", ENV, "--yes", "--force", env_extra=fast)
    assert forced.code != Exit.ABORTED, forced.output
    assert "--force given: rolling back anyway" in forced.stderr


class InstanceAnswers:
    """MOCK of the instance's side of Run Command (moto's SSM runs nothing): SendCommand goes to
    moto and is recorded; GetCommandInvocation answers Success with what `ingest-service schema
    ACTION` would print there."""

    def __init__(self, real: Any, head: str) -> None:
        self.real, self.head = real, head
        self.sent: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def send_command(self, **params: Any) -> Any:
        self.sent.append(params)
        return self.real.send_command(**params)

    def get_command_invocation(self, **params: Any) -> Any:
        line = " ".join(self.sent[-1]["Parameters"]["commands"])
        out = json.dumps({"head": self.head}) if "schema status" in line else "ok\n"
        return {
            "Status": "Success",
            "ResponseCode": 0,
            "StandardOutputContent": out,
            "StandardErrorContent": "",
        }


def test_expand_runs_from_the_new_colour_at_zero_traffic_before_it_must_be_healthy(
    clients: Clients, stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Main ran a release's expand over SSM on the LIVE colour, whose old AMI does not ship the
    new revisions (and linted the operator's checkout). Now, before `wait-healthy`, the lint,
    the head check and `up --phase=expand` run on an instance of the new colour (0 % traffic).
    MOCK of the instance's answers (InstanceAnswers)."""
    from opsctl.bluegreen.engine import Engine, ListReport
    from opsctl.bluegreen.fleet import Capacity
    from opsctl.bluegreen.timing import Timings
    from opsctl.release.flow import ExpandFailed, expand_on_new_colour
    from opsctl.release.log import Release
    from opsctl.terraform import render

    monkeypatch.setattr(render, "BUILD", tmp_path / "build")
    monkeypatch.setenv("OPSCTL_MIGRATE_POLL_SECONDS", "0.05")
    answers = InstanceAnswers(clients.ssm, head="0003")
    engine = Engine(
        replace(clients, ssm=answers),
        stack,
        ListReport(),
        Timings(poll=0.1, healthy_timeout=30, drain=0),
    )
    engine.fleet.scale("green", Capacity(1, 1, 1))  # what the `scale-up` step did
    deployment = type("D", (), {"target": "green"})()
    logs = aws_client_logs(clients)
    run = Release.new(ENV, "ami-0123456789abcdef0", {"schema_head": "0003"})
    expand_on_new_colour(engine, run, logs)("wait-healthy", deployment)
    green = engine.fleet.health("green").in_service
    assert [
        " ".join(s["Parameters"]["commands"]).split(" schema ")[1].split()[0] for s in answers.sent
    ] == ["lint", "status", "up"]
    assert all(s["InstanceIds"] == green[:1] for s in answers.sent)
    assert "--phase=expand" in " ".join(answers.sent[-1]["Parameters"]["commands"])
    assert engine.fleet.weights()["green"] == 0  # it had no traffic
    assert run.status_of("expand-migrations") == "done"
    # An AMI whose head is not what the release expects rolls the deployment back, unexpanded.
    other = Release.new(ENV, "ami-0123456789abcdef0", {"schema_head": "0004"})
    answers.sent.clear()
    with pytest.raises(ExpandFailed, match="head revision is 0003, the release expects 0004"):
        expand_on_new_colour(engine, other, logs)("wait-healthy", deployment)
    assert not any("--phase=expand" in " ".join(s["Parameters"]["commands"]) for s in answers.sent)


def aws_client_logs(clients: Clients) -> Any:
    from opsctl import aws

    return aws.client("logs", REGION, clients.ssm.meta.endpoint_url)


def test_release_status_is_read_from_the_shared_log_on_another_machine(
    local: Local, clients: Clients, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Main kept the release log in build/ENV/release.jsonl only: another on-call person could
    neither see nor resume a release. It is now copied to the state bucket after every entry."""
    from opsctl.release.log import Release, SharedLog
    from opsctl.terraform import render

    monkeypatch.setattr(render, "BUILD", tmp_path / "alice")
    run = Release.new(
        ENV, "ami-0123456789abcdef0", {"canary": [50]}, SharedLog(clients.s3, BUCKET, ENV)
    )
    run.log("plan", "done", detail="no infrastructure changes pending")
    run.log("deploy", "interrupted")
    bob = Opsctl(REPO / "envs", tmp_path / "bob", local.url)  # nothing of Alice's build folder
    shown = bob("release", "status", ENV, "--json")
    assert shown.code == 0, shown.output
    status = json.loads(shown.stdout)
    assert (status["release"], status["ami"]) == (run.id, "ami-0123456789abcdef0")
    assert status["steps"]["plan"] == "done"
    assert status["steps"]["deploy"] == "interrupted"
    # `release resume` reads the same shared log: Bob finds Alice's release (here finished).
    run.log("release", "rolled_back")
    resumed = bob("release", "resume", ENV, "--yes")
    assert resumed.code == 0, resumed.output
    assert f"Release {run.id} is rolled_back: nothing to resume." in resumed.stdout


def test_release_resume_holds_the_lock_for_the_recorded_options(
    local: Local, clients: Clients, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`release resume` has no deployment flags of its own: the lock's expected time comes from
    the options the release recorded (canary 50, bake 60 s, keep-old 30 s here), not defaults."""
    import typer
    from typer.testing import CliRunner

    from opsctl.bluegreen.connect import deploy_ttl
    from opsctl.cli import app
    from opsctl.release import flow
    from opsctl.release.log import Release, SharedLog
    from opsctl.terraform import render

    monkeypatch.setattr(render, "BUILD", tmp_path / "build")
    options = {"canary": [50], "bake": 60.0, "keep_old": 30.0, "migrations": "environment"}
    run = Release.new(ENV, "ami-0123456789abcdef0", options, SharedLog(clients.s3, BUCKET, ENV))
    run.log("deploy", "interrupted")
    asked: list[float] = []

    def lock(_env: str, _region: str, _url: str | None, _cmd: str, ttl: float, **_: Any) -> Any:
        asked.append(ttl)
        raise typer.Exit(9)  # stop here: the TTL is what is tested

    monkeypatch.setattr(flow, "cli_lock", lock)
    monkeypatch.setenv("OPSCTL_EMULATOR_URL", local.url)
    result = CliRunner().invoke(app, ["release", "resume", ENV, "--yes"])
    assert result.exit_code == 9, result.output
    assert f"Resuming release {run.id}" in result.output
    assert asked == [deploy_ttl([50], 60.0, 30.0) + 3600]
