"""What a saved plan would do (from `terraform show -json`): counts by module, stateful hazards."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

# Resources whose destruction loses data or locks data away (a destroyed KMS key cannot decrypt).
STATEFUL_TYPES = frozenset(
    {
        "aws_rds_cluster",
        "aws_rds_cluster_instance",
        "aws_db_instance",
        "aws_s3_bucket",
        "aws_kms_key",
        "aws_secretsmanager_secret",
        "aws_sqs_queue",
        "aws_cloudwatch_log_group",
    }
)
ACTIONS = ("create", "update", "replace", "destroy")


def action_of(actions: list[str]) -> str | None:
    """Terraform's action list as one word; None for no-op and read."""
    if "delete" in actions and "create" in actions:
        return "replace"
    if actions == ["delete"]:
        return "destroy"
    if actions in (["create"], ["update"]):
        return actions[0]
    return None


@dataclass
class Hazard:
    address: str
    type: str
    action: str  # "replace" or "destroy"


@dataclass
class Summary:
    by_module: dict[str, dict[str, int]] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    stateful: list[Hazard] = field(default_factory=list)
    resource_types: dict[str, dict[str, int]] = field(default_factory=dict)
    # Launch templates the plan changes: the ASGs ignore_changes their launch template (opsctl
    # owns each colour's version), so running instances get the change only at the next deploy.
    launch_templates: list[str] = field(default_factory=list)
    # Security groups the plan replaces: instances keep the old one until a deploy replaces them.
    replaced_security_groups: list[str] = field(default_factory=list)

    @property
    def has_changes(self) -> bool:
        return any(self.totals.values())

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"has_changes": self.has_changes}


def _top_module(address: str | None) -> str:
    """module.database.module.x -> database; resources in the root module -> (root)."""
    if not address:
        return "(root)"
    return address.split(".")[1].split("[")[0]


def summarise(plan: dict[str, Any]) -> Summary:
    by_module: dict[str, Counter[str]] = {}
    by_type: dict[str, Counter[str]] = {}
    summary = Summary()
    for change in plan.get("resource_changes", []):
        if change.get("mode") != "managed":
            continue
        action = action_of(change["change"]["actions"])
        if action is None:
            continue
        module = _top_module(change.get("module_address"))
        by_module.setdefault(module, Counter())[action] += 1
        by_type.setdefault(change["type"], Counter())[action] += 1
        if action in ("replace", "destroy") and change["type"] in STATEFUL_TYPES:
            summary.stateful.append(Hazard(change["address"], change["type"], action))
        if action in ("update", "replace") and change["type"] == "aws_launch_template":
            summary.launch_templates.append(change["address"])
        if action == "replace" and change["type"] == "aws_security_group":
            summary.replaced_security_groups.append(change["address"])
    summary.by_module = {m: {a: c[a] for a in ACTIONS} for m, c in sorted(by_module.items())}
    summary.resource_types = {t: {a: c[a] for a in ACTIONS} for t, c in sorted(by_type.items())}
    summary.totals = {a: sum(c[a] for c in by_module.values()) for a in ACTIONS}
    return summary
