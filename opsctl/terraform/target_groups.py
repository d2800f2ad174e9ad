"""Replacing a target group that the listener forwards to (issue 16, finding 4).

The HTTPS listener's forward actions (default action and weighted rules) belong to opsctl, so
Terraform ignores them and would never move them to a replacement group, and ELB refuses to
delete a group a listener or rule still forwards to (DeleteTargetGroup: ResourceInUse, "is
currently in use by a listener or a rule"). The target groups are `create_before_destroy` with a
`name_prefix`, so during an apply the new group exists before the old one is deleted; the AWS
provider retries that delete for two minutes while it is refused. In that window opsctl moves
every listener action and rule that forwards to an old group to its replacement, keeping each
group's weight, and the delete then succeeds.

If the window is missed (opsctl was stopped, AWS was slow), Terraform keeps the old group in the
state as a *deposed* object and the apply fails; the next `opsctl apply` plans the deposed
object's delete, moves the listener from it to the group now at its address, then applies.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

TYPE = "aws_lb_target_group"
# Terraform's line when a resource is created: `ADDRESS: Creation complete after 1s [id=ID]`.
_CREATED = re.compile(r"^(?P<address>\S+): Creation complete after \S+ \[id=(?P<id>[^\]]+)\]")


@dataclass
class Moves:
    """What a saved plan does to target groups: old ARN by the address being replaced, deposed
    objects' ARNs with the ARN now at their address, and the listeners that may point at them."""

    replaced: dict[str, str] = field(default_factory=dict)
    deposed: dict[str, str] = field(default_factory=dict)
    listeners: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.replaced or self.deposed)

    def as_dict(self) -> dict[str, Any]:
        return {"replaced": self.replaced, "deposed": self.deposed, "listeners": self.listeners}

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> Moves:
        raw = raw or {}
        replaced, deposed = dict(raw.get("replaced", {})), dict(raw.get("deposed", {}))
        return cls(replaced, deposed, list(raw.get("listeners", [])))


def moves_of(plan: dict[str, Any]) -> Moves:
    """Read `terraform show -json` of a saved plan."""
    moves = Moves()
    current: dict[str, str] = {}
    deposed: dict[str, str] = {}
    for change in plan.get("resource_changes", []):
        if change.get("mode") != "managed":
            continue
        actions = change["change"]["actions"]
        before = change["change"].get("before") or {}
        if change["type"] == "aws_lb_listener" and before.get("arn"):
            moves.listeners.append(before["arn"])
        if change["type"] != TYPE or not before.get("arn"):
            continue
        if change.get("deposed"):
            if actions == ["delete"]:
                deposed[change["address"]] = before["arn"]
        elif actions == ["create", "delete"]:  # create_before_destroy: the new group comes first
            moves.replaced[change["address"]] = before["arn"]
        elif "delete" not in actions:
            current[change["address"]] = before["arn"]
    moves.deposed = {old: current[a] for a, old in deposed.items() if a in current}
    return moves


def moved_actions(actions: list[dict[str, Any]], new_arn: dict[str, str]) -> list[dict[str, Any]]:
    """The actions with every forward to an old group sent to its replacement, weights kept."""
    result = []
    for action in actions:
        action = dict(action)
        if action.get("Type") == "forward":
            if action.get("TargetGroupArn") in new_arn:
                action["TargetGroupArn"] = new_arn[action["TargetGroupArn"]]
            config = action.get("ForwardConfig")
            if config:
                groups = [
                    g | {"TargetGroupArn": new_arn.get(g["TargetGroupArn"], g["TargetGroupArn"])}
                    for g in config.get("TargetGroups", [])
                ]
                action["ForwardConfig"] = config | {"TargetGroups": groups}
        if "AuthenticateOidcConfig" in action:  # the client secret is never described
            oidc = dict(action["AuthenticateOidcConfig"])
            oidc.pop("ClientSecret", None)
            action["AuthenticateOidcConfig"] = oidc | {"UseExistingClientSecret": True}
        result.append(action)
    return result


def _forwards_to(actions: list[dict[str, Any]], arns: set[str]) -> bool:
    for action in actions:
        if action.get("Type") != "forward":
            continue
        config = action.get("ForwardConfig", {}).get("TargetGroups", [])
        groups = {g["TargetGroupArn"] for g in config}
        if action.get("TargetGroupArn"):
            groups.add(action["TargetGroupArn"])
        if groups & arns:
            return True
    return False


def repoint(elbv2: Any, listeners: list[str], new_arn: dict[str, str]) -> list[str]:
    """Move each listener's default action and rules off the old groups; what was moved."""
    moved: list[str] = []
    old = set(new_arn)
    for listener_arn in listeners:
        found = elbv2.describe_listeners(ListenerArns=[listener_arn])["Listeners"]
        if not found:
            continue
        actions = found[0].get("DefaultActions", [])
        if _forwards_to(actions, old):
            elbv2.modify_listener(
                ListenerArn=listener_arn, DefaultActions=moved_actions(actions, new_arn)
            )
            moved.append(f"listener {listener_arn.rsplit('/', 3)[-3]}")
        for rule in elbv2.describe_rules(ListenerArn=listener_arn)["Rules"]:
            if rule.get("IsDefault") or not _forwards_to(rule.get("Actions", []), old):
                continue
            actions = moved_actions(rule["Actions"], new_arn)
            elbv2.modify_rule(RuleArn=rule["RuleArn"], Actions=actions)
            moved.append(f"rule {rule['Priority']}")
    return moved


@dataclass
class Watcher:
    """Follows `terraform apply` output: once every replaced group's new one is created, moves
    the listeners to them (the provider is then retrying the old groups' delete)."""

    moves: Moves
    move: Callable[[dict[str, str]], list[str]]
    note: Callable[[str], None]
    created: dict[str, str] = field(default_factory=dict)
    done: bool = False

    def __call__(self, line: str) -> None:
        match = _CREATED.match(line.strip())
        if self.done or not match or match["address"] not in self.moves.replaced:
            return
        self.created[match["address"]] = match["id"]
        if set(self.created) == set(self.moves.replaced):
            mapping = {self.moves.replaced[a]: new for a, new in self.created.items()}
            self.done = True
            try:
                moved = self.move(mapping)
            except Exception as error:  # terraform is still running: report it, let it go on
                self.note(
                    f"could not move the listener to the replacement target groups ({error}); "
                    "the old groups stay as deposed objects: run the apply again"
                )
                return
            self.note(
                f"moved {', '.join(moved) or 'nothing'} to the replacement target groups "
                f"({', '.join(_name(a) for a in mapping.values())})"
            )


def _name(arn: str) -> str:
    """arn:...:targetgroup/NAME/ID -> NAME"""
    return arn.rsplit("/", 2)[-2] if "/" in arn else arn
