"""The checks that decide whether a deployment may go on: the alarm gate (which alarms, how
long a bake must last for them to be able to fire, what INSUFFICIENT_DATA means) and the AMI
checks. Each refusal names what is wrong.

Alarm-gate timing rule: an alarm can only change state once CloudWatch has evaluated a whole
window of datapoints (Period x EvaluationPeriods), and each datapoint arrives late (the metric
delay, Timings.metric_delay). A bake shorter than the longest window plus that delay cannot
see a failing canary, so it is refused (unless forced).

INSUFFICIENT_DATA: the gate cannot judge an alarm in that state (new alarm, metric not yet
published). A bake does not end while a watched alarm is INSUFFICIENT_DATA: it goes on for up
to one more window plus the metric delay; if the alarm is still INSUFFICIENT_DATA then, the
deployment rolls back ("the gate is blind"). ALARM always rolls back at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opsctl.bluegreen.fleet import Fleet

PACKER_TAGS = ("Version", "GitSha")  # set by packer/ingest.pkr.hcl on every AMI it builds


@dataclass
class AlarmView:
    firing: list[str]
    insufficient: list[str]
    missing: list[str]


def alarm_view(fleet: Fleet, names: list[str]) -> AlarmView:
    found = fleet.describe_alarms(names) if names else {}
    return AlarmView(
        firing=sorted(n for n, a in found.items() if a["StateValue"] == "ALARM"),
        insufficient=sorted(n for n, a in found.items() if a["StateValue"] == "INSUFFICIENT_DATA"),
        missing=sorted(set(names) - set(found)),
    )


def _period(alarm: dict[str, Any]) -> int:
    if alarm.get("Period"):
        return int(alarm["Period"])
    periods = [
        int(m["MetricStat"]["Period"]) for m in alarm.get("Metrics", []) if m.get("MetricStat")
    ]
    return max(periods or [60])


def evaluation_window(fleet: Fleet, names: list[str]) -> float:
    """The longest Period x EvaluationPeriods among the named alarms (seconds)."""
    windows = [
        _period(a) * int(a.get("EvaluationPeriods", 1))
        for a in fleet.describe_alarms(names).values()
        if "EvaluationPeriods" in a
    ]
    return float(max(windows or [0]))


def ami_problems(
    fleet: Fleet, image: dict[str, Any] | None, ami: str, owners: list[str] | None, colour: str
) -> list[str]:
    """Why `image` must not be deployed to `colour` (empty: it may)."""
    if image is None:
        return [f"AMI {ami} does not exist in this account and region"]
    problems = []
    if image.get("State") != "available":
        problems.append(f"AMI {ami} is {image.get('State')}, not available")
    owner = image.get("OwnerId")
    if owners is not None and owner not in owners:
        public = " public" if image.get("Public") else ""
        problems.append(
            f"AMI {ami} is a{public} image owned by {owner}, not by {' or '.join(owners)} "
            "(the environment's account, or compute.ami_owners in the env file)"
        )
    tags = {t["Key"]: t["Value"] for t in image.get("Tags", [])}
    absent = [tag for tag in PACKER_TAGS if not tags.get(tag)]
    if absent:
        problems.append(
            f"AMI {ami} lacks the packer tags {', '.join(absent)}: not built by "
            "packer/ingest.pkr.hcl?"
        )
    instance_type = fleet.template_instance_type(colour)
    # DescribeImages always gives the Architecture on AWS (moto's RegisterImage drops it).
    if instance_type and image.get("Architecture"):
        supported = fleet.instance_architectures(instance_type)
        if supported and image.get("Architecture") not in supported:
            problems.append(
                f"AMI {ami} is {image.get('Architecture')}, but {colour}'s launch template "
                f"uses {instance_type} ({', '.join(supported)})"
            )
    return problems
