"""moto in-process, and the ONE place the data plane depends on moto's internals (moto 5.2.5,
pinned in pyproject.toml; a moto upgrade must re-check this file).

- `start(port)` runs moto's own server (ThreadedMotoServer) in this process, so the data plane
  can see and extend its state. Clients reach it over HTTP as they reach `moto_server`.
- `install_health(registry)` is the extension: elbv2 DescribeTargetHealth answers from the data
  plane's health checks (targets.py) instead of moto's "every registered instance is healthy".
  Registered targets the checks have not seen yet are `initial` (Elb.RegistrationInProgress);
  targets moto already dropped (deregistered, or terminated by a scale-in) are still listed
  while the data plane drains them, as AWS lists `draining` targets.
- `read(account, region)` is a read-only snapshot of what the data plane follows: target groups
  (settings, registered targets, colour), the listener's rules and default action, the Auto
  Scaling groups' instances with the AMI each one booted from, and those AMIs' tags.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opsctl.local import moto_fixes

ACCOUNT = "123456789012"  # moto's default account (envs/local.yaml's account_id)
MOTO_VERSION = "5.2.5"  # what this file was written against (pyproject.toml pins it)


def start(port: int) -> Any:
    """moto's server on 127.0.0.1:port in a thread of this process."""
    if not sys.flags.optimize:
        # As opsctl/local/emulator.py: moto 5.2.5 fails every scale-out from a launch-template
        # version opsctl adds on an `assert`; -O skips it.
        raise RuntimeError("run the data plane with `python -O` (moto's assert, see emulator.py)")
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    os.environ.setdefault("MOTO_ACM_VALIDATION_WAIT", "0")
    import moto
    from moto.server import ThreadedMotoServer

    if moto.__version__ != MOTO_VERSION:
        print(
            f"warning: moto {moto.__version__} is installed; the data plane's extension "
            f"(opsctl/local/dataplane/emulator.py) was written against {MOTO_VERSION}",
            file=sys.stderr,
            flush=True,
        )

    moto_fixes.apply()
    server = ThreadedMotoServer("127.0.0.1", port, verbose=False)
    server.start()
    return server


# --- the extension: DescribeTargetHealth from the data plane's checks ----------------------
@dataclass(frozen=True)
class TargetHealth:
    state: str  # initial | healthy | unhealthy | draining
    reason: str | None = None
    description: str | None = None


# (target group ARN, target id) -> health; written by targets.py, read by moto's threads.
HealthLookup = Callable[[str, str], TargetHealth | None]
DrainingLookup = Callable[[str], list[str]]


def install_health(health_of: HealthLookup, draining_in: DrainingLookup) -> None:
    from moto.elbv2.exceptions import TargetGroupNotFoundError
    from moto.elbv2.models import ELBv2Backend, FakeHealthStatus

    original = ELBv2Backend.describe_target_health

    def describe_target_health(
        self: Any, target_group_arn: str, targets: list[dict[str, Any]]
    ) -> list[Any]:
        group = self.target_groups.get(target_group_arn)
        if group is None:
            raise TargetGroupNotFoundError()
        if not targets:
            registered = [t for t in group.targets.values() if _running(self, t["Id"])]
            ids = {t["Id"] for t in registered}
            draining = [
                {"Id": i, "Port": group.port} for i in draining_in(target_group_arn) if i not in ids
            ]
            targets = registered + draining
        answers = []
        for target in targets:
            known = health_of(target_group_arn, target["Id"])
            port = target.get("Port", group.port)
            if known is not None:
                answers.append(
                    FakeHealthStatus(
                        target["Id"],
                        port,
                        group.health_check_port,
                        known.state,
                        known.reason,
                        known.description,
                    )
                )
            elif target["Id"] in group.targets and _running(self, target["Id"]):
                answers.append(
                    FakeHealthStatus(
                        target["Id"],
                        port,
                        group.health_check_port,
                        "initial",
                        "Elb.RegistrationInProgress",
                        "Target registration is in progress",
                    )
                )
            else:
                answers.extend(original(self, target_group_arn, [target]))
        return answers

    ELBv2Backend.describe_target_health = describe_target_health  # type: ignore[method-assign]


def _running(elbv2: Any, target: str) -> bool:
    """moto 5.2.5 leaves an instance its group terminated (scale-in) registered with the target
    group; on AWS the group deregisters it first. A target counts as registered only while its
    instance runs (ids that are not instances always count)."""
    if not target.startswith("i-"):
        return True
    instance = elbv2.ec2_backend.get_instance_by_id(target)
    return instance is not None and instance.state == "running"


# --- the read-only view -------------------------------------------------------------------------
@dataclass(frozen=True)
class Group:
    """A target group as the data plane needs it."""

    arn: str
    name: str
    colour: str
    path: str
    interval: float
    timeout: float
    healthy_threshold: int
    unhealthy_threshold: int
    matcher: str
    deregistration_delay: float
    targets: tuple[str, ...]


@dataclass(frozen=True)
class Instance:
    id: str
    group: str  # Auto Scaling group
    colour: str
    image_id: str
    lifecycle: str


@dataclass(frozen=True)
class Snapshot:
    groups: dict[str, Group] = field(default_factory=dict)  # by ARN
    # The listener the data plane serves: [(priority, conditions, actions)], default actions.
    rules: list[tuple[int, list[dict[str, Any]], list[dict[str, Any]]]] = field(
        default_factory=list
    )
    default_actions: list[dict[str, Any]] = field(default_factory=list)
    listener: str = ""
    idle_timeout: float = 60.0
    instances: dict[str, Instance] = field(default_factory=dict)  # InService, by id
    image_tags: dict[str, dict[str, str]] = field(default_factory=dict)  # by AMI id


def read(region: str, account: str = ACCOUNT) -> Snapshot:
    """Everything the data plane follows, copied out of moto's backends (no HTTP round trip).
    moto's own threads may change a dict while this copies it: the caller retries next tick."""
    from moto.autoscaling.models import autoscaling_backends
    from moto.ec2.models import ec2_backends
    from moto.elbv2.models import elbv2_backends

    elbv2 = elbv2_backends[account][region]
    asg = autoscaling_backends[account][region]
    ec2 = ec2_backends[account][region]
    groups: dict[str, Group] = {}
    for arn, tg in list(elbv2.target_groups.items()):
        tags = elbv2.tagging_service.get_tag_dict_for_resource(arn)
        colour = tags.get("colour") or tg.name.rsplit("-", 1)[-1]
        groups[arn] = Group(
            arn=arn,
            name=tg.name,
            colour=colour,
            path=tg.health_check_path or "/",
            interval=float(tg.health_check_interval_seconds),
            timeout=float(tg.health_check_timeout_seconds),
            healthy_threshold=int(tg.healthy_threshold_count),
            unhealthy_threshold=int(tg.unhealthy_threshold_count),
            matcher=str((getattr(tg, "matcher", None) or {}).get("HttpCode", "200")),
            deregistration_delay=float(
                str(tg.attributes.get("deregistration_delay.timeout_seconds", 300))
            ),
            targets=tuple(t for t in list(tg.targets) if _running(elbv2, t)),
        )
    listener, idle = None, 60.0
    for balancer in list(elbv2.load_balancers.values()):
        listeners = list(balancer.listeners.values())
        chosen = next((x for x in listeners if x.protocol == "HTTPS"), None) or next(
            (x for x in listeners if any(a.type == "forward" for a in x.default_actions)), None
        )
        if chosen is not None:
            listener = chosen
            idle = float(balancer.attrs.get("idle_timeout.timeout_seconds", 60))
            break
    rules: list[tuple[int, list[dict[str, Any]], list[dict[str, Any]]]] = []
    default: list[dict[str, Any]] = []
    if listener is not None:
        default = [dict(a.data) for a in listener.default_actions]
        for rule in list(listener._non_default_rules.values()):
            rules.append(
                (int(rule.priority), list(rule.conditions), [dict(a.data) for a in rule.actions])
            )
        rules.sort(key=lambda r: r[0])
    instances: dict[str, Instance] = {}
    for name, group in list(asg.autoscaling_groups.items()):
        colours = {groups[a].colour for a in group.target_group_arns if a in groups}
        colour = colours.pop() if len(colours) == 1 else name.rsplit("-", 1)[-1]
        for state in list(group.instance_states):
            if state.lifecycle_state != "InService":
                continue
            instance = state.instance
            instances[instance.id] = Instance(
                instance.id, name, colour, instance.image_id, state.lifecycle_state
            )
    image_tags: dict[str, dict[str, str]] = {}
    for image_id in {i.image_id for i in instances.values()}:
        image = ec2.amis.get(image_id)
        if image is not None:
            image_tags[image_id] = {t["key"]: t["value"] for t in image.get_tags()}
    return Snapshot(
        groups=groups,
        rules=rules,
        default_actions=default,
        listener=listener.arn if listener is not None else "",
        idle_timeout=idle,
        instances=instances,
        image_tags=image_tags,
    )
