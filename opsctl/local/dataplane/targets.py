"""Target health as an Application Load Balancer keeps it, from real HTTP health checks.

Per (target group, instance), following the group's settings as the emulator holds them
(HealthCheckPath, HealthCheckIntervalSeconds, HealthCheckTimeoutSeconds, Matcher,
HealthyThresholdCount, UnhealthyThresholdCount, deregistration_delay.timeout_seconds), as the
ELB guide describes ("Health checks for Application Load Balancer target groups", "Target
health status"):

- a newly registered target is `initial` (Elb.RegistrationInProgress, then
  Elb.InitialHealthChecking); it must pass ONE check to become `healthy`, and becomes
  `unhealthy` after UnhealthyThresholdCount consecutive failures;
- a healthy target becomes `unhealthy` after UnhealthyThresholdCount consecutive failures
  (Target.FailedHealthChecks, Target.Timeout or Target.ResponseCodeMismatch) and healthy again
  after HealthyThresholdCount consecutive passes;
- a target that leaves the group (deregistered, or its instance terminated by a scale-in) is
  `draining` (Target.DeregistrationInProgress): it gets no new requests, its in-flight requests
  finish, and it goes once none is left or after the deregistration delay, whichever is first.

Only the load balancer's requests count as in flight (idle keep-alive connections do not).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from opsctl.local.dataplane.emulator import Group, Snapshot, TargetHealth


@dataclass
class Target:
    group: str  # target group ARN
    instance: str
    colour: str
    state: str = "initial"
    reason: str | None = "Elb.RegistrationInProgress"
    description: str | None = "Target registration is in progress"
    passes: int = 0
    fails: int = 0
    next_check: float = 0.0
    checking: bool = False
    drain_until: float | None = None
    in_flight: int = 0
    served: int = 0

    def health(self) -> TargetHealth:
        return TargetHealth(self.state, self.reason, self.description)


def _matches(matcher: str, status: int) -> bool:
    for part in matcher.split(","):
        part = part.strip()
        if "-" in part:
            low, high = part.split("-", 1)
            if int(low) <= status <= int(high):
                return True
        elif part and int(part) == status:
            return True
    return False


class Targets:
    """Every target the load balancer knows, with its health. `port_of(instance)` says where
    the instance's web process listens (None: not started)."""

    def __init__(self, port_of: Callable[[str], int | None]) -> None:
        self.port_of = port_of
        self.entries: dict[tuple[str, str], Target] = {}
        self.groups: dict[str, Group] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._client = httpx.AsyncClient(
            # The ALB closes each health-check connection after the check.
            limits=httpx.Limits(max_keepalive_connections=0),
            headers={"User-Agent": "ELB-HealthChecker/2.0"},
        )

    # --- read by the balancer and by moto's DescribeTargetHealth -----------------------------
    def health_of(self, group: str, instance: str) -> TargetHealth | None:
        entry = self.entries.get((group, instance))
        return entry.health() if entry is not None else None

    def draining_in(self, group: str) -> list[str]:
        return [
            e.instance for e in list(self.entries.values()) if e.group == group and e.drain_until
        ]

    def routable(self, group: str) -> list[Target]:
        """Healthy targets; if every registered target is unhealthy, all of them (the ALB
        fails open). Initial and draining targets get nothing."""
        entries = [e for e in self.entries.values() if e.group == group and not e.drain_until]
        healthy = [e for e in entries if e.state == "healthy"]
        if healthy:
            return healthy
        if entries and all(e.state == "unhealthy" for e in entries):
            return entries
        return []

    def of_instance(self, instance: str) -> list[Target]:
        return [e for e in self.entries.values() if e.instance == instance]

    # --- following the emulator --------------------------------------------------------------
    def sync(self, snapshot: Snapshot, now: float) -> None:
        self.groups = snapshot.groups
        for group in snapshot.groups.values():
            for instance in group.targets:
                key = (group.arn, instance)
                entry = self.entries.get(key)
                if entry is None or entry.drain_until is not None:
                    self.entries[key] = Target(group.arn, instance, group.colour, next_check=now)
        for key, entry in list(self.entries.items()):
            owner = snapshot.groups.get(entry.group)
            if owner is not None and entry.instance in owner.targets:
                continue
            if entry.drain_until is None:
                delay = owner.deregistration_delay if owner is not None else 0.0
                entry.drain_until = now + delay
                entry.state, entry.reason = "draining", "Target.DeregistrationInProgress"
                entry.description = "Target deregistration is in progress"
            if entry.in_flight == 0 or now >= entry.drain_until:
                del self.entries[key]

    # --- health checks ---------------------------------------------------------------------
    async def check_loop(self) -> None:
        while True:
            now = time.monotonic()
            for entry in list(self.entries.values()):
                if entry.drain_until is None and not entry.checking and entry.next_check <= now:
                    group = self.groups.get(entry.group)
                    if group is None:
                        continue
                    entry.checking = True
                    entry.next_check = now + group.interval
                    task = asyncio.create_task(self._check(entry, group))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            await asyncio.sleep(0.05)

    async def _check(self, entry: Target, group: Group) -> None:
        try:
            port = self.port_of(entry.instance)
            reason, description = None, None
            if port is None:
                reason, description = "Target.FailedHealthChecks", "Health checks failed"
            else:
                try:
                    response = await self._client.get(
                        f"http://127.0.0.1:{port}{group.path}", timeout=group.timeout
                    )
                    if not _matches(group.matcher, response.status_code):
                        reason = "Target.ResponseCodeMismatch"
                        description = (
                            f"Health checks failed with these codes: [{response.status_code}]"
                        )
                except httpx.TimeoutException:
                    reason, description = "Target.Timeout", "Request timed out"
                except httpx.HTTPError:
                    reason, description = "Target.FailedHealthChecks", "Health checks failed"
            self._record(entry, group, reason, description)
        finally:
            entry.checking = False

    def _record(
        self, entry: Target, group: Group, reason: str | None, description: str | None
    ) -> None:
        if entry.drain_until is not None:
            return
        if reason is None:
            entry.passes, entry.fails = entry.passes + 1, 0
            if entry.state == "initial" or (
                entry.state == "unhealthy" and entry.passes >= group.healthy_threshold
            ):
                entry.state, entry.reason, entry.description = "healthy", None, None
            return
        entry.passes, entry.fails = 0, entry.fails + 1
        if entry.fails >= group.unhealthy_threshold:
            entry.state, entry.reason, entry.description = "unhealthy", reason, description
        elif entry.state == "initial":
            entry.reason = "Elb.InitialHealthChecking"
            entry.description = "Initial health checks in progress"

    async def close(self) -> None:
        await self._client.aclose()
