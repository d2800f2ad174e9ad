"""Reading and changing the two colours in AWS: capacity, health, weights, template versions,
alarms. Every call goes through `Clients` (the test seam); waits are bounded and polled."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from opsctl.bluegreen import COLOURS
from opsctl.bluegreen.clients import Clients
from opsctl.bluegreen.stack import Stack

NOT_FOUND = "InvalidInstanceID.NotFound"
UNKNOWN_AMI = "unknown (EC2 does not describe the instance yet)"

# What the instances keep idle connections open for (nginx keepalive_timeout and uvicorn's
# timeout_keep_alive, 65 s). An AMI may state its own with the tag below.
APP_KEEPALIVE_SECONDS = 65
KEEPALIVE_TAG = "ingest:keepalive-seconds"


@dataclass(frozen=True)
class Capacity:
    min: int
    max: int
    desired: int

    def as_dict(self) -> dict[str, int]:
        return {"min": self.min, "max": self.max, "desired": self.desired}


class LaunchFailed(Exception):
    """A scaling activity of the colour failed or was cancelled: waiting longer cannot help."""


class ListenerMismatch(Exception):
    """The listener's default action and its weighted rules do not carry the same weights."""


@dataclass
class Health:
    """A colour's instances and targets.

    Readiness rule: an instance counts when it is InService and Healthy in its group, runs the
    expected AMI and launch-template version (when given), and its target is `healthy`. The
    colour is ready when those instances reach `min_healthy_percent` of the desired capacity
    (rounded up). Other targets (draining, initial, replaced instances) do not block it.
    """

    colour: str
    capacity: Capacity
    in_service: list[str]
    targets: dict[str, str]  # instance id -> target state (healthy, unhealthy, initial, ...)
    reasons: dict[str, str] = field(default_factory=dict)
    amis: dict[str, str] = field(default_factory=dict)  # instance id -> ImageId it runs (EC2)
    versions: dict[str, str] = field(default_factory=dict)  # instance id -> template version
    expected_ami: str | None = None
    expected_version: str | None = None
    min_healthy_percent: float = 100.0

    @property
    def healthy_targets(self) -> list[str]:
        return [i for i, state in self.targets.items() if state == "healthy"]

    @property
    def stale(self) -> list[str]:
        """Instances that do not run the expected AMI / template version (one EC2 does not
        describe yet is not known to run another AMI)."""
        return [
            i
            for i in sorted(set(self.amis) | set(self.versions))
            if (self.expected_ami and self.amis.get(i) not in (self.expected_ami, UNKNOWN_AMI))
            or (self.expected_version and self.versions.get(i) != self.expected_version)
        ]

    @property
    def good(self) -> list[str]:
        stale = set(self.stale)
        healthy = set(self.healthy_targets)
        unknown = {i for i, ami in self.amis.items() if ami == UNKNOWN_AMI and self.expected_ami}
        return [i for i in self.in_service if i in healthy and i not in stale | unknown]

    @property
    def needed(self) -> int:
        return math.ceil(self.capacity.desired * self.min_healthy_percent / 100)

    @property
    def ready(self) -> bool:
        return self.capacity.desired > 0 and len(self.good) >= max(1, self.needed)

    def describe(self) -> str:
        text = (
            f"{self.colour}: desired {self.capacity.desired}, InService {len(self.in_service)}, "
            f"healthy targets {len(self.healthy_targets)}/{len(self.targets)}, "
            f"ready {len(self.good)} (needs {max(1, self.needed)})"
        )
        bad = [f"{i} {self.targets[i]} ({r})" for i, r in self.reasons.items()]
        bad += [f"{i} runs {self.amis.get(i)} v{self.versions.get(i)}" for i in self.stale]
        return text + (f"; {', '.join(bad)}" if bad else "")


def instance_images(ec2: Any, instance_ids: list[str]) -> dict[str, str]:
    """Instance id -> the ImageId EC2 says it runs, UNKNOWN_AMI for one EC2 does not describe yet.

    EC2 is eventually consistent: an instance the group has just launched can be unknown to
    DescribeInstances for a while, and one unknown ID fails the whole call with
    InvalidInstanceID.NotFound (EC2 Developer Guide, "Eventual consistency in the Amazon EC2
    API"). Then each is asked on its own; one not found yet is not ready, and not stale either."""
    if not instance_ids:
        return {}
    try:
        return _images(ec2, instance_ids)
    except ec2.exceptions.ClientError as error:
        if error.response["Error"]["Code"] != NOT_FOUND:
            raise
    amis: dict[str, str] = {}
    for instance_id in instance_ids:
        try:
            amis.update(_images(ec2, [instance_id]))
        except ec2.exceptions.ClientError as error:
            if error.response["Error"]["Code"] != NOT_FOUND:
                raise
            amis[instance_id] = UNKNOWN_AMI
    return amis


def _images(ec2: Any, instance_ids: list[str]) -> dict[str, str]:
    found = ec2.describe_instances(InstanceIds=instance_ids)["Reservations"]
    return {i["InstanceId"]: i["ImageId"] for r in found for i in r["Instances"]}


class Fleet:
    def __init__(self, clients: Clients, stack: Stack) -> None:
        self.aws, self.stack = clients, stack
        self.min_healthy_percent = 100.0

    # --- Auto Scaling groups and launch templates ------------------------------------------
    def group(self, colour: str) -> dict[str, Any]:
        name = self.stack.asg[colour]
        groups = self.aws.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
        return groups["AutoScalingGroups"][0]

    def capacity(self, colour: str) -> Capacity:
        g = self.group(colour)
        return Capacity(g["MinSize"], g["MaxSize"], g["DesiredCapacity"])

    def scale(self, colour: str, capacity: Capacity) -> None:
        self.aws.autoscaling.update_auto_scaling_group(
            AutoScalingGroupName=self.stack.asg[colour],
            MinSize=capacity.min,
            MaxSize=capacity.max,
            DesiredCapacity=capacity.desired,
        )

    def template_version(self, colour: str) -> tuple[str, str | None]:
        """(version the group launches, its AMI)."""
        spec = self.group(colour).get("LaunchTemplate") or {}
        version = str(spec.get("Version", "$Default"))
        found = self.aws.ec2.describe_launch_template_versions(
            LaunchTemplateId=self.stack.launch_template[colour], Versions=[version]
        )["LaunchTemplateVersions"]
        if not found:
            return version, None
        return str(found[0]["VersionNumber"]), found[0]["LaunchTemplateData"].get("ImageId")

    def new_template_version(self, colour: str, ami: str) -> str:
        """A new default version of the colour's template: the newest version with only the AMI
        changed (same data and description, so `terraform plan` sees nothing to do). If the
        newest version already has this AMI (a resumed deployment), it is reused."""
        template = self.stack.launch_template[colour]
        latest = self.aws.ec2.describe_launch_template_versions(
            LaunchTemplateId=template, Versions=["$Latest"]
        )["LaunchTemplateVersions"][0]
        if latest["LaunchTemplateData"].get("ImageId") == ami:
            number = str(latest["VersionNumber"])
        else:
            shape = self.aws.ec2.meta.service_model.shape_for("RequestLaunchTemplateData")
            data = _as_request(latest["LaunchTemplateData"], shape) | {"ImageId": ami}
            created = self.aws.ec2.create_launch_template_version(
                LaunchTemplateId=template,
                SourceVersion=str(latest["VersionNumber"]),
                VersionDescription=latest.get("VersionDescription", ""),
                LaunchTemplateData=data,
            )
            number = str(created["LaunchTemplateVersion"]["VersionNumber"])
        # Terraform sets update_default_version: keep "default = the newest" true for it.
        self.aws.ec2.modify_launch_template(LaunchTemplateId=template, DefaultVersion=number)
        return number

    def use_template_version(self, colour: str, version: str) -> None:
        self.aws.autoscaling.update_auto_scaling_group(
            AutoScalingGroupName=self.stack.asg[colour],
            LaunchTemplate={
                "LaunchTemplateId": self.stack.launch_template[colour],
                "Version": version,
            },
        )

    # --- health --------------------------------------------------------------------------
    def instance_amis(self, instance_ids: list[str]) -> dict[str, str]:
        """What each instance really runs: EC2's ImageId (a new template version changes only
        future launches; the group's per-instance version is not proof of the AMI)."""
        return instance_images(self.aws.ec2, instance_ids)

    def health(
        self,
        colour: str,
        ami: str | None = None,
        version: str | None = None,
        min_healthy_percent: float | None = None,
    ) -> Health:
        g = self.group(colour)
        in_service = [
            i["InstanceId"]
            for i in g["Instances"]
            if i["LifecycleState"] == "InService" and i["HealthStatus"] == "Healthy"
        ]
        versions = {
            i["InstanceId"]: str((i.get("LaunchTemplate") or {}).get("Version", ""))
            for i in g["Instances"]
        }
        amis = self.instance_amis([i["InstanceId"] for i in g["Instances"]])
        described = self.aws.elbv2.describe_target_health(
            TargetGroupArn=self.stack.target_group[colour]
        )["TargetHealthDescriptions"]
        targets = {d["Target"]["Id"]: d["TargetHealth"]["State"] for d in described}
        reasons = {
            d["Target"]["Id"]: d["TargetHealth"].get("Reason", d["TargetHealth"]["State"])
            for d in described
            if d["TargetHealth"]["State"] != "healthy"
        }
        return Health(
            colour,
            Capacity(g["MinSize"], g["MaxSize"], g["DesiredCapacity"]),
            in_service,
            targets,
            reasons,
            amis=amis,
            versions=versions,
            expected_ami=ami,
            expected_version=version,
            min_healthy_percent=(
                self.min_healthy_percent if min_healthy_percent is None else min_healthy_percent
            ),
        )

    def failed_activities(self, colour: str, since: datetime | None) -> list[str]:
        """Messages of the colour's Failed or Cancelled scaling activities since `since`
        (DescribeScalingActivities: a launch that failed says why in StatusMessage)."""
        activities = self.aws.autoscaling.describe_scaling_activities(
            AutoScalingGroupName=self.stack.asg[colour], MaxRecords=20
        ).get("Activities", [])
        return [
            f"{a.get('Description', 'scaling activity')}: "
            f"{a.get('StatusMessage') or a['StatusCode']}"
            for a in activities
            if a.get("StatusCode") in ("Failed", "Cancelled")
            and (since is None or a.get("StartTime") is None or a["StartTime"] >= since)
        ]

    def wait_ready(
        self,
        colour: str,
        timeout: float,
        poll: float,
        progress: Callable[[str], None],
        ami: str | None = None,
        version: str | None = None,
        launches_since: datetime | None = None,
        min_healthy_percent: float | None = None,
    ) -> Health:
        """Poll until the colour is ready; returns its last health either way. With
        `launches_since`, a failed or cancelled scaling activity ends the wait (LaunchFailed)."""
        last: list[Health] = []

        def check() -> bool:
            health = self.health(colour, ami, version, min_healthy_percent)
            last.append(health)
            progress(health.describe())
            if health.ready:
                return True
            if launches_since is not None:
                failed = self.failed_activities(colour, launches_since)
                if failed:
                    raise LaunchFailed("; ".join(failed))
            return False

        Retrying(
            stop=stop_after_delay(timeout),
            wait=wait_fixed(poll),
            retry=retry_if_result(lambda ok: not ok),
            retry_error_callback=lambda _state: False,
        )(check)
        return last[-1]

    # --- traffic -------------------------------------------------------------------------
    # The default action and each weighted rule are written by separate calls (ModifyListener,
    # ModifyRule): nothing makes them atomic, so every change is read back and compared, and
    # `traffic()` reports all of them.
    def listener_actions(self) -> list[dict[str, Any]]:
        listener = self.aws.elbv2.describe_listeners(ListenerArns=[self.stack.listener_arn])
        return list(listener["Listeners"][0]["DefaultActions"])

    def listener_action(self) -> dict[str, Any]:
        return next(a for a in self.listener_actions() if a["Type"] == "forward")

    def rule_actions(self) -> dict[str, list[dict[str, Any]]]:
        if not self.stack.weighted_rule_arns:
            return {}
        rules = self.aws.elbv2.describe_rules(RuleArns=self.stack.weighted_rule_arns)["Rules"]
        return {rule["RuleArn"]: list(rule.get("Actions", [])) for rule in rules}

    def _weights_of(self, actions: list[dict[str, Any]]) -> dict[str, int]:
        action = next((a for a in actions if a["Type"] == "forward"), {})
        groups = action.get("ForwardConfig", {}).get("TargetGroups") or [
            {"TargetGroupArn": action.get("TargetGroupArn"), "Weight": 1}
        ]
        found = {c: 0 for c in COLOURS}
        total = sum(int(g.get("Weight", 1)) for g in groups) or 1
        for g in groups:
            colour = self.stack.colour_of_target_group(g.get("TargetGroupArn") or "")
            if colour:
                found[colour] = round(100 * int(g.get("Weight", 1)) / total)
        return found

    def weights(self) -> dict[str, int]:
        """The default action's weights (what most traffic follows)."""
        return self._weights_of(self.listener_actions())

    def traffic(self) -> dict[str, dict[str, int]]:
        """Weights of the default action ("default") and of every weighted rule (by ARN)."""
        found = {"default": self.weights()}
        for arn, actions in self.rule_actions().items():
            found[arn] = self._weights_of(actions)
        return found

    def consistent(self, weights: dict[str, int] | None = None) -> bool:
        """Every weighted rule carries the default action's weights (or `weights`)."""
        traffic = self.traffic()
        wanted = weights or traffic["default"]
        return all(w == wanted for w in traffic.values())

    def set_weights(self, weights: dict[str, int]) -> None:
        """ModifyListener for the default action, then ModifyRule for each weighted rule; only
        the forward action changes (authenticate-* and other actions are kept, in order). The
        result is read back: a half-applied change raises ListenerMismatch."""
        self.aws.elbv2.modify_listener(
            ListenerArn=self.stack.listener_arn,
            DefaultActions=self._with_weights(self.listener_actions(), weights),
        )
        for arn, actions in self.rule_actions().items():
            self.aws.elbv2.modify_rule(RuleArn=arn, Actions=self._with_weights(actions, weights))
        traffic = self.traffic()
        wrong = {where: w for where, w in traffic.items() if w != weights}
        if wrong:
            raise ListenerMismatch(f"asked for {weights}, the listener holds {wrong}")

    def _with_weights(
        self, actions: list[dict[str, Any]], weights: dict[str, int]
    ) -> list[dict[str, Any]]:
        result = []
        for action in actions:
            if action["Type"] == "forward":
                stickiness = action.get("ForwardConfig", {}).get(
                    "TargetGroupStickinessConfig", {"Enabled": False}
                )
                action = {
                    "Type": "forward",
                    "ForwardConfig": {
                        "TargetGroups": [
                            {"TargetGroupArn": self.stack.target_group[c], "Weight": weights[c]}
                            for c in COLOURS
                        ],
                        "TargetGroupStickinessConfig": stickiness,
                    },
                } | ({"Order": action["Order"]} if "Order" in action else {})
            else:
                action = _keep_action(action)
            result.append(action)
        return result

    def stickiness_seconds(self, colour: str) -> tuple[float, str]:
        """How long a client can stay stuck to `colour` after its weight goes to 0: the
        listener's target-group stickiness (TargetGroupStickinessConfig, default action and
        weighted rules) and the target group's own cookie, whichever is longer."""
        longest, where = 0.0, "none"
        for name, actions in [("listener", self.listener_actions())] + [
            (f"rule {arn.rsplit('/', 1)[-1]}", a) for arn, a in self.rule_actions().items()
        ]:
            for action in actions:
                config = action.get("ForwardConfig", {}).get("TargetGroupStickinessConfig", {})
                if config.get("Enabled"):
                    seconds = float(config.get("DurationSeconds", 0))
                    if seconds > longest:
                        longest, where = seconds, f"{name} target-group stickiness"
        attributes = self.target_group_attributes(colour)
        if attributes.get("stickiness.enabled") == "true":
            kind = attributes.get("stickiness.type", "lb_cookie")
            key = (
                "stickiness.app_cookie.duration_seconds"
                if kind == "app_cookie"
                else "stickiness.lb_cookie.duration_seconds"
            )
            seconds = float(attributes.get(key, "0"))
            if seconds > longest:
                longest, where = seconds, f"{colour}'s target group {kind} stickiness"
        return longest, where

    # --- guards --------------------------------------------------------------------------
    def describe_alarms(self, names: list[str]) -> dict[str, dict[str, Any]]:
        """The named alarms that exist, by name. DescribeAlarms silently leaves out names it
        does not know: a missing alarm is simply absent here."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(names), 100):  # at most 100 names a call
            answer = self.aws.cloudwatch.describe_alarms(AlarmNames=names[start : start + 100])
            for alarm in answer.get("MetricAlarms", []) + answer.get("CompositeAlarms", []):
                found[alarm["AlarmName"]] = alarm
        return found

    def alarms_firing(self, names: list[str] | None = None) -> list[str]:
        names = self.stack.alarm_names if names is None else names
        if not names:
            return []
        alarms = self.describe_alarms(names).values()
        return sorted(a["AlarmName"] for a in alarms if a["StateValue"] == "ALARM")

    def wait_empty(self, colour: str, timeout: float, poll: float) -> bool:
        """Poll until the colour's group has no instances left (terminations take time)."""
        return bool(
            Retrying(
                stop=stop_after_delay(timeout),
                wait=wait_fixed(poll),
                retry=retry_if_result(lambda ok: not ok),
                retry_error_callback=lambda _state: False,
            )(lambda: not self.group(colour)["Instances"])
        )

    def instance_architectures(self, instance_type: str) -> list[str]:
        found = self.aws.ec2.describe_instance_types(InstanceTypes=[instance_type])
        types = found.get("InstanceTypes", [])
        return list(types[0]["ProcessorInfo"]["SupportedArchitectures"]) if types else []

    def template_instance_type(self, colour: str) -> str | None:
        latest = self.aws.ec2.describe_launch_template_versions(
            LaunchTemplateId=self.stack.launch_template[colour], Versions=["$Latest"]
        )["LaunchTemplateVersions"][0]
        return latest["LaunchTemplateData"].get("InstanceType")

    def image(self, ami: str) -> dict[str, Any] | None:
        try:
            images = self.aws.ec2.describe_images(ImageIds=[ami])["Images"]
        except self.aws.ec2.exceptions.ClientError as error:
            if "InvalidAMIID" in str(error):
                return None
            raise
        return images[0] if images else None

    def idle_timeout(self) -> int:
        attributes = self.aws.elbv2.describe_load_balancer_attributes(
            LoadBalancerArn=self.stack.load_balancer_arn
        )["Attributes"]
        return int(_attribute(attributes, "idle_timeout.timeout_seconds", "60"))

    def target_group_attributes(self, colour: str) -> dict[str, str]:
        attributes = self.aws.elbv2.describe_target_group_attributes(
            TargetGroupArn=self.stack.target_group[colour]
        )["Attributes"]
        return {a["Key"]: a["Value"] for a in attributes}

    def deregistration_delay(self, colour: str) -> float:
        attributes = self.target_group_attributes(colour)
        return float(attributes.get("deregistration_delay.timeout_seconds", "300"))


def _as_request(value: Any, shape: Any) -> Any:
    """A described launch template's data cut down to what a request accepts (the response
    has read-only fields such as MetadataOptions.State that a request would reject)."""
    if shape.type_name == "structure" and isinstance(value, dict):
        return {
            key: _as_request(item, shape.members[key])
            for key, item in value.items()
            if key in shape.members
        }
    if shape.type_name == "list" and isinstance(value, list):
        return [_as_request(item, shape.member) for item in value]
    return value


def _keep_action(action: dict[str, Any]) -> dict[str, Any]:
    """A described non-forward action as ModifyRule/ModifyListener accept it back: the OIDC
    client secret is never described, so the existing one is kept."""
    kept = dict(action)
    if "AuthenticateOidcConfig" in kept:
        config = {k: v for k, v in kept["AuthenticateOidcConfig"].items() if k != "ClientSecret"}
        kept["AuthenticateOidcConfig"] = config | {"UseExistingClientSecret": True}
    return kept


def _attribute(attributes: list[dict[str, str]], key: str, default: str) -> str:
    return next((a["Value"] for a in attributes if a["Key"] == key), default)


def keepalive_of(image: dict[str, Any]) -> int:
    tags = {t["Key"]: t["Value"] for t in image.get("Tags", [])}
    try:
        return int(tags.get(KEEPALIVE_TAG, APP_KEEPALIVE_SECONDS))
    except ValueError:
        return APP_KEEPALIVE_SECONDS
