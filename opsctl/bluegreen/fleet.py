"""Reading and changing the two colours in AWS: capacity, health, weights, template versions,
alarms. Every call goes through `Clients` (the test seam); waits are bounded and polled."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from opsctl.bluegreen import COLOURS
from opsctl.bluegreen.clients import Clients
from opsctl.bluegreen.stack import Stack

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


@dataclass
class Health:
    colour: str
    capacity: Capacity
    in_service: list[str]
    targets: dict[str, str]  # instance id -> target state (healthy, unhealthy, initial, ...)
    reasons: dict[str, str] = field(default_factory=dict)

    @property
    def healthy_targets(self) -> list[str]:
        return [i for i, state in self.targets.items() if state == "healthy"]

    @property
    def ready(self) -> bool:
        """Has capacity, every wanted instance InService, and every target healthy."""
        wanted = self.capacity.desired
        return (
            wanted > 0
            and len(self.in_service) >= wanted
            and len(self.healthy_targets) >= wanted
            and all(state == "healthy" for state in self.targets.values())
            and set(self.in_service) <= set(self.healthy_targets)
        )

    def describe(self) -> str:
        text = (
            f"{self.colour}: desired {self.capacity.desired}, InService {len(self.in_service)}, "
            f"healthy targets {len(self.healthy_targets)}/{len(self.targets)}"
        )
        bad = [f"{i} {self.targets[i]} ({r})" for i, r in self.reasons.items()]
        return text + (f"; {', '.join(bad)}" if bad else "")


class Fleet:
    def __init__(self, clients: Clients, stack: Stack) -> None:
        self.aws, self.stack = clients, stack

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
    def health(self, colour: str) -> Health:
        g = self.group(colour)
        in_service = [
            i["InstanceId"]
            for i in g["Instances"]
            if i["LifecycleState"] == "InService" and i["HealthStatus"] == "Healthy"
        ]
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
        )

    def wait_ready(
        self, colour: str, timeout: float, poll: float, progress: Callable[[str], None]
    ) -> Health:
        """Poll until the colour is ready; returns its last health either way."""
        last: list[Health] = []

        def check() -> bool:
            health = self.health(colour)
            last.append(health)
            progress(health.describe())
            return health.ready

        Retrying(
            stop=stop_after_delay(timeout),
            wait=wait_fixed(poll),
            retry=retry_if_result(lambda ok: not ok),
            retry_error_callback=lambda _state: False,
        )(check)
        return last[-1]

    # --- traffic -------------------------------------------------------------------------
    def listener_action(self) -> dict[str, Any]:
        listener = self.aws.elbv2.describe_listeners(ListenerArns=[self.stack.listener_arn])
        actions = listener["Listeners"][0]["DefaultActions"]
        return next(a for a in actions if a["Type"] == "forward")

    def weights(self) -> dict[str, int]:
        action = self.listener_action()
        groups = action.get("ForwardConfig", {}).get("TargetGroups") or [
            {"TargetGroupArn": action.get("TargetGroupArn"), "Weight": 1}
        ]
        found = {c: 0 for c in COLOURS}
        total = sum(int(g.get("Weight", 1)) for g in groups) or 1
        for g in groups:
            colour = self.stack.colour_of_target_group(g["TargetGroupArn"])
            if colour:
                found[colour] = round(100 * int(g.get("Weight", 1)) / total)
        return found

    def set_weights(self, weights: dict[str, int]) -> None:
        """One ModifyListener for the default action, then the weighted routing rules."""
        stickiness = (
            self.listener_action()
            .get("ForwardConfig", {})
            .get("TargetGroupStickinessConfig", {"Enabled": False})
        )
        forward = {
            "Type": "forward",
            "ForwardConfig": {
                "TargetGroups": [
                    {"TargetGroupArn": self.stack.target_group[c], "Weight": weights[c]}
                    for c in COLOURS
                ],
                "TargetGroupStickinessConfig": stickiness,
            },
        }
        self.aws.elbv2.modify_listener(
            ListenerArn=self.stack.listener_arn, DefaultActions=[forward]
        )
        for rule in self.stack.weighted_rule_arns:
            self.aws.elbv2.modify_rule(RuleArn=rule, Actions=[forward])

    # --- guards --------------------------------------------------------------------------
    def alarms_firing(self) -> list[str]:
        if not self.stack.alarm_names:
            return []
        found = self.aws.cloudwatch.describe_alarms(AlarmNames=self.stack.alarm_names)
        alarms = found.get("MetricAlarms", []) + found.get("CompositeAlarms", [])
        return sorted(a["AlarmName"] for a in alarms if a["StateValue"] == "ALARM")

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


def _attribute(attributes: list[dict[str, str]], key: str, default: str) -> str:
    return next((a["Value"] for a in attributes if a["Key"] == key), default)


def keepalive_of(image: dict[str, Any]) -> int:
    tags = {t["Key"]: t["Value"] for t in image.get("Tags", [])}
    try:
        return int(tags.get(KEEPALIVE_TAG, APP_KEEPALIVE_SECONDS))
    except ValueError:
        return APP_KEEPALIVE_SECONDS
