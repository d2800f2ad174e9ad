"""What opsctl records about an environment's colours, in SSM Parameter Store:

/opsctl/<env>/bluegreen/state       live colour, weights, each colour's AMI / template version /
                                    capacity, and the last action (switch, rollback, deploy)
/opsctl/<env>/bluegreen/deployment  the last deployment: its settings, the step it is at, the
                                    steps done with their times, its outcome and reason

A deployment is written before and after every step, so a crash or Ctrl-C leaves the step it
was in; `deploy --resume` reads it back. The parameters are not Terraform's: `opsctl destroy`
removes them (forget) so a re-applied stack does not inherit a deployment it never had.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

ACTIVE = ("in_progress", "interrupted", "rolling_back")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _name(env_name: str, what: str) -> str:
    return f"/opsctl/{env_name}/bluegreen/{what}"


def _get(ssm: Any, name: str) -> dict[str, Any] | None:
    try:
        return json.loads(ssm.get_parameter(Name=name)["Parameter"]["Value"])
    except ssm.exceptions.ParameterNotFound:
        return None


def _put(ssm: Any, name: str, value: dict[str, Any]) -> None:
    ssm.put_parameter(
        Name=name, Value=json.dumps(value, separators=(",", ":")), Type="String", Overwrite=True
    )


@dataclass
class Deployment:
    id: str
    ami: str
    source: str  # the colour live when it started (rollback goes back to it)
    target: str  # the colour it deploys to
    canary: list[int]
    bake: float
    keep_old: float
    by: str
    started_at: str = field(default_factory=now)
    status: str = "in_progress"  # in_progress | interrupted | rolling_back | succeeded
    #                              | rolled_back | aborted | failed
    step: str = ""
    steps: list[list[str]] = field(default_factory=list)  # [[step, finished at], ...]
    reason: str | None = None
    capacity: dict[str, int] | None = None  # min / max / desired copied from the live colour
    # The source colour's own min / max / desired at pre-flight: both colours are pinned at
    # least there during the deploy, and these come back at the end (or on a rollback).
    source_settings: dict[str, int] | None = None
    min_healthy_percent: float = 100.0
    scaled_at: str | None = None  # when scale-up asked for instances (failed launches after it)
    weights_set: dict[str, int] | None = None  # the last weights opsctl asked the listener for
    left: dict[str, int] | None = None  # weights that could not be put back (see reason)
    source_version: str | None = None
    target_version: str | None = None
    switched_at: str | None = None
    keep_old_until: str | None = None
    finished_at: str | None = None

    @classmethod
    def new(cls, **kwargs: Any) -> Deployment:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        return cls(id=f"{stamp}-{uuid.uuid4().hex[:6]}", **kwargs)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    def done(self, step: str) -> bool:
        return any(name == step for name, _ in self.steps)

    def plan(self) -> list[str]:
        return [
            "preflight",
            "launch-template",
            "scale-up",
            "wait-healthy",
            *(f"canary-{w}" for w in self.canary),
            "switch",
            "keep-old",
            "scale-down-old",
        ]


def load_deployment(ssm: Any, env_name: str) -> Deployment | None:
    raw = _get(ssm, _name(env_name, "deployment"))
    if not raw:
        return None
    known = {f.name for f in fields(Deployment)}
    # A record written by a newer opsctl may carry fields this one does not know.
    return Deployment(**{key: value for key, value in raw.items() if key in known})


def save_deployment(ssm: Any, env_name: str, deployment: Deployment) -> None:
    _put(ssm, _name(env_name, "deployment"), asdict(deployment))


def load_state(ssm: Any, env_name: str) -> dict[str, Any] | None:
    return _get(ssm, _name(env_name, "state"))


def save_state(ssm: Any, env_name: str, state: dict[str, Any]) -> None:
    _put(ssm, _name(env_name, "state"), state | {"recorded_at": now()})


def forget(ssm: Any, env_name: str) -> list[str]:
    """Delete the environment's records; returns the names that existed."""
    names = [_name(env_name, what) for what in ("state", "deployment")]
    result = ssm.delete_parameters(Names=names)
    return sorted(result.get("DeletedParameters", []))
