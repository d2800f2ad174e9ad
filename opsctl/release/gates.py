"""When a release may contract the schema, and when a rollback may bring old code back.

Contract drops what older code needs, so it runs only when nothing older runs anywhere:
- every instance of either colour, in *any* lifecycle state (Pending, InService, Standby,
  Terminating, Terminating:Wait, Detaching, ...), and every not-yet-terminated EC2 instance
  tagged with either group (a detached or shutting-down one still runs its worker), boots the
  release's AMI (EC2's ImageId: what an instance runs, whatever its launch template says now);
- no target of either target group is draining (connections to old code may still be open);
- the live colour's instances run the release's AMI.

Once a contract ran, the release records it (SSM `/opsctl/ENV/release/contracted`). A rollback
to a colour whose instances would boot an AMI other than the contracted release's is refused
with the reason unless --force: that older code expects columns the contract dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from opsctl.bluegreen import COLOURS, other
from opsctl.bluegreen.engine import Guard
from opsctl.bluegreen.fleet import instance_images


class ContractRefused(Guard):
    """Something older than the release may still run: contract must wait (exit 4)."""


class RollbackRefused(Guard):
    """The rollback would run code older than the contracted schema (exit 4)."""


def contracted_parameter(env_name: str) -> str:
    return f"/opsctl/{env_name}/release/contracted"


@dataclass(frozen=True)
class Running:
    instance: str
    ami: str
    where: str  # e.g. "blue Terminating:Wait", "tagged green, shutting-down"


def running_instances(aws: Any, stack: Any) -> list[Running]:
    """Everything that may still run code of either colour, with the AMI it booted."""
    states: dict[str, str] = {}
    groups = aws.autoscaling.describe_auto_scaling_groups(
        AutoScalingGroupNames=[stack.asg[c] for c in COLOURS]
    )["AutoScalingGroups"]
    colour_of = {stack.asg[c]: c for c in COLOURS}
    for group in groups:
        for instance in group.get("Instances", []):
            states[instance["InstanceId"]] = (
                f"{colour_of.get(group['AutoScalingGroupName'], '?')} "
                f"{instance.get('LifecycleState', '?')}"
            )
    images: dict[str, str] = {}
    pages = aws.ec2.get_paginator("describe_instances").paginate(
        Filters=[
            {"Name": "tag:aws:autoscaling:groupName", "Values": [stack.asg[c] for c in COLOURS]},
            {
                "Name": "instance-state-name",
                "Values": ["pending", "running", "shutting-down", "stopping", "stopped"],
            },
        ]
    )
    for page in pages:
        for reservation in page.get("Reservations", []):
            for instance in reservation.get("Instances", []):
                iid = instance["InstanceId"]
                images[iid] = instance.get("ImageId", "")
                if iid not in states:
                    tag = next(
                        (
                            t["Value"]
                            for t in instance.get("Tags", [])
                            if t["Key"] == "aws:autoscaling:groupName"
                        ),
                        "?",
                    )
                    states[iid] = (
                        f"tagged {colour_of.get(tag, tag)}, {instance['State']['Name']} "
                        "(no longer in its group)"
                    )
    images.update(instance_images(aws.ec2, [i for i in states if i not in images]))
    return [Running(i, images.get(i, "unknown"), where) for i, where in sorted(states.items())]


def draining_targets(aws: Any, stack: Any) -> list[str]:
    """Targets still draining whose instance still runs (connections to it may be open). A
    terminated instance runs nothing; moto keeps such targets `draining` forever."""
    draining: dict[str, str] = {}
    for colour in COLOURS:
        health = aws.elbv2.describe_target_health(TargetGroupArn=stack.target_group[colour])
        for target in health["TargetHealthDescriptions"]:
            if target["TargetHealth"]["State"] == "draining":
                draining[target["Target"]["Id"]] = colour
    if not draining:
        return []
    gone: set[str] = set()
    for reservation in aws.ec2.describe_instances(InstanceIds=list(draining))["Reservations"]:
        for instance in reservation["Instances"]:
            if instance["State"]["Name"] == "terminated":
                gone.add(instance["InstanceId"])
    return [f"{i} ({c})" for i, c in sorted(draining.items()) if i not in gone]


def check_contract(aws: Any, stack: Any, live: str, release_ami: str) -> None:
    """Raise ContractRefused naming everything that could still run older code."""
    problems: list[str] = []
    running = running_instances(aws, stack)
    older = [r for r in running if r.ami != release_ami]
    problems += [f"{r.instance} runs {r.ami} ({r.where})" for r in older]
    problems += [f"target {t} is draining" for t in draining_targets(aws, stack)]
    live_amis = {r.ami for r in running if r.where.startswith(f"{live} ")}
    if live_amis != {release_ami}:
        shown = ", ".join(sorted(live_amis)) or "no instance"
        problems.append(f"the live colour {live} runs {shown}, not the release's {release_ami}")
    if problems:
        raise ContractRefused(
            "contract migrations wait until nothing older than the release runs: "
            + "; ".join(problems)
        )


def record_contract(ssm: Any, env_name: str, release_id: str, ami: str, revision: str) -> None:
    ssm.put_parameter(
        Name=contracted_parameter(env_name),
        Value=json.dumps({"release": release_id, "ami": ami, "revision": revision}),
        Type="String",
        Overwrite=True,
    )


def forget_contract(ssm: Any, env_name: str) -> list[str]:
    """For `opsctl destroy`: a re-applied stack has no contracted schema."""
    try:
        ssm.delete_parameter(Name=contracted_parameter(env_name))
    except ssm.exceptions.ParameterNotFound:
        return []
    return [contracted_parameter(env_name)]


def contracted(ssm: Any, env_name: str) -> dict[str, Any] | None:
    try:
        raw = ssm.get_parameter(Name=contracted_parameter(env_name))["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        return None
    value = json.loads(raw)
    return value if isinstance(value, dict) else None


def check_rollback(ssm: Any, env_name: str, target_ami: str | None, force: bool) -> str | None:
    """None if the rollback may go on; a warning when --force overrides the refusal.
    RollbackRefused when the colour rolled back to would run code older than the contract."""
    done = contracted(ssm, env_name)
    if done is None or target_ami is None or target_ami == done["ami"]:
        return None
    reason = (
        f"release {done['release']} contracted the schema to revision {done['revision']} for "
        f"{done['ami']}; rolling back to {target_ami} would run older code on a schema it no "
        "longer fits"
    )
    if not force:
        raise RollbackRefused(f"{reason}. Release a fixed AMI instead, or pass --force")
    return f"{reason} (--force given: rolling back anyway)"


def guard_rollback(engine: Any, force: bool) -> str | None:
    """check_rollback for `bluegreen rollback`: the colour it goes back to is the idle one, and
    its launch template's AMI is what its instances will boot."""

    target = other(engine.live())
    _version, ami = engine.fleet.template_version(target)
    return check_rollback(engine.aws.ssm, engine.env, ami, force)
