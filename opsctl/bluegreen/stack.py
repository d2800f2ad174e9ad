"""Which resources make up an environment's two colours: read from its Terraform outputs.

The outputs come straight from the state object in S3 (`<env>/terraform.tfstate` in the state
bucket), so no `terraform init` is needed and `status` answers in a second. Weighted routing
rules are found on the listener itself: every rule forwarding to both colours follows the weights.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from opsctl.bluegreen import COLOURS
from opsctl.bluegreen.clients import Clients


class StackError(Exception):
    """The environment is not applied, or its outputs lack what blue/green needs."""


@dataclass(frozen=True)
class Stack:
    env: str
    asg: dict[str, str]
    launch_template: dict[str, str]
    target_group: dict[str, str]
    listener_arn: str
    alarm_names: list[str]
    weighted_rule_arns: list[str] = field(default_factory=list)
    load_balancer_arn: str = ""
    # Per-colour alarms (target-group dimensions) and the job alarms (dead jobs, DLQ): the
    # deployment watches the target colour's and the job alarms, not only the LB-wide ones.
    colour_alarm_names: dict[str, list[str]] = field(default_factory=dict)
    job_alarm_names: list[str] = field(default_factory=list)
    # Rules that forward to one colour only: that colour must never be drained.
    pinned_rule_arns: dict[str, list[str]] = field(default_factory=dict)

    def deployment_alarms(self, target: str) -> list[str]:
        """Every alarm a deployment to `target` watches; each must exist."""
        names = [*self.alarm_names, *self.colour_alarm_names.get(target, []), *self.job_alarm_names]
        return list(dict.fromkeys(names))

    def colour_of_target_group(self, arn: str) -> str | None:
        return next((c for c, a in self.target_group.items() if a == arn), None)


def read_outputs(clients: Clients, bucket: str, env_name: str) -> dict[str, Any]:
    key = f"{env_name}/terraform.tfstate"
    try:
        body = clients.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except (clients.s3.exceptions.NoSuchKey, clients.s3.exceptions.NoSuchBucket):
        raise StackError(
            f"no Terraform state at s3://{bucket}/{key}: run `opsctl apply {env_name}` first"
        ) from None
    state = json.loads(body)
    return {name: out["value"] for name, out in state.get("outputs", {}).items()}


def discover(clients: Clients, bucket: str, env_name: str) -> Stack:
    outputs = read_outputs(clients, bucket, env_name)
    needed = ("asg_names", "launch_template_ids", "target_group_arns", "https_listener_arn")
    missing = [name for name in needed if name not in outputs]
    if missing:
        raise StackError(
            f"{env_name}'s state lacks the outputs {', '.join(missing)}: "
            f"run `opsctl apply {env_name}` (the stack is not fully applied)"
        )
    for name in needed[:3]:
        if set(outputs[name]) != set(COLOURS):
            raise StackError(f"output {name} must name blue and green, got {outputs[name]}")
    listener_arn = outputs["https_listener_arn"]
    try:
        listener = clients.elbv2.describe_listeners(ListenerArns=[listener_arn])["Listeners"][0]
    except clients.elbv2.exceptions.ListenerNotFoundException:
        raise StackError(
            f"the HTTPS listener in {env_name}'s state no longer exists: {listener_arn}"
        ) from None
    both = set(outputs["target_group_arns"].values())
    rules = clients.elbv2.describe_rules(ListenerArn=listener_arn)["Rules"]
    weighted: list[str] = []
    pinned: dict[str, list[str]] = {colour: [] for colour in COLOURS}
    colour_of = {arn: colour for colour, arn in outputs["target_group_arns"].items()}
    for rule in rules:
        if rule.get("IsDefault"):
            continue
        groups = _forwarded_groups(rule.get("Actions", []))
        if groups == both:
            weighted.append(rule["RuleArn"])
        elif groups and groups <= both:
            for arn in groups:
                pinned[colour_of[arn]].append(rule["RuleArn"])
    return Stack(
        env=env_name,
        asg=dict(outputs["asg_names"]),
        launch_template=dict(outputs["launch_template_ids"]),
        target_group=dict(outputs["target_group_arns"]),
        listener_arn=listener_arn,
        alarm_names=list(outputs.get("deployment_alarm_names") or []),
        weighted_rule_arns=weighted,
        load_balancer_arn=listener["LoadBalancerArn"],
        colour_alarm_names={
            colour: list(names)
            for colour, names in (outputs.get("colour_alarm_names") or {}).items()
        },
        job_alarm_names=list(outputs.get("job_alarm_names") or []),
        pinned_rule_arns=pinned,
    )


def _forwarded_groups(actions: list[dict[str, Any]]) -> set[str]:
    """The target groups a rule's forward action sends to (weight 0 included)."""
    groups: set[str] = set()
    for action in actions:
        if action.get("Type") != "forward":
            continue
        config = action.get("ForwardConfig", {}).get("TargetGroups") or []
        groups |= {tg["TargetGroupArn"] for tg in config}
        if action.get("TargetGroupArn"):
            groups.add(action["TargetGroupArn"])
    return groups
