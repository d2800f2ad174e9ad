"""The blue/green state machine: deploy (pre-flight, new template version, scale, wait healthy,
canary with bake, switch, keep old, scale old down), switch, rollback, and resume.

Every step is recorded before it starts and after it ends (record.py) and is safe to run again,
so after a crash or Ctrl-C `resume()` continues from the step that was interrupted, or finishes
the rollback that was under way. Before traffic moves onto a colour, that colour is checked to
be healthy: a resumed run never leaves traffic on an empty colour.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from opsctl.bluegreen import COLOURS, other, record
from opsctl.bluegreen.clients import Clients
from opsctl.bluegreen.fleet import Capacity, Fleet, keepalive_of
from opsctl.bluegreen.record import Deployment
from opsctl.bluegreen.stack import Stack
from opsctl.bluegreen.timing import Timings, human
from opsctl.exitcodes import Exit

EMPTY = Capacity(0, 0, 0)


class Report(Protocol):
    def step(self, text: str) -> None: ...
    def note(self, text: str) -> None: ...
    def warn(self, text: str) -> None: ...
    def progress(self, text: str) -> None: ...


@dataclass
class ListReport:
    """Collects what a run reports (tests; anything without a terminal)."""

    lines: list[str] = field(default_factory=list)

    def step(self, text: str) -> None:
        self.lines.append(text)

    def note(self, text: str) -> None:
        self.lines.append(text)

    def warn(self, text: str) -> None:
        self.lines.append(f"warning: {text}")

    def progress(self, text: str) -> None:
        pass


class Guard(Exception):
    """A pre-flight check or a refusal: nothing (more) was changed. Exit 4."""


class BlueGreenError(Exception):
    """Something failed that a rollback cannot fix by itself. Exit 1."""


class Rollback(Exception):
    """The deployment must go back to the old colour (unhealthy, alarm, timeout)."""


@dataclass
class Result:
    code: Exit
    message: str
    deployment: Deployment | None = None


class Engine:
    def __init__(
        self,
        clients: Clients,
        stack: Stack,
        report: Report,
        timings: Timings | None = None,
        by: str = "opsctl",
        fallback_capacity: Capacity | None = None,
        after_step: Callable[[str], None] | None = None,
    ) -> None:
        self.aws, self.stack, self.report = clients, stack, report
        self.fleet = Fleet(clients, stack)
        self.timings = timings or Timings()
        self.by = by
        self.fallback_capacity = fallback_capacity or Capacity(1, 1, 1)
        self.after_step = after_step  # tests inject crashes here
        # Called with (step, deployment) before each step runs: `opsctl release` runs expand
        # migrations on the new colour before `wait-healthy` (opsctl/release/flow.py).
        self.before_step: Callable[[str, Deployment], None] | None = None

    @property
    def env(self) -> str:
        return self.stack.env

    # --- what is live ----------------------------------------------------------------------
    def live(self) -> str:
        return self._live(self.fleet.weights())

    def _live(self, weights: dict[str, int], recorded: dict[str, Any] | None = None) -> str:
        """The colour taking most traffic; on a tie (a 50% canary) the listener cannot say, so
        the recorded live colour."""
        if weights["blue"] != weights["green"]:
            return max(COLOURS, key=lambda c: weights[c])
        if recorded is None:
            recorded = record.load_state(self.aws.ssm, self.env) or {}
        return str(recorded.get("live") or "blue")

    def deployment(self) -> Deployment | None:
        return record.load_deployment(self.aws.ssm, self.env)

    def status(self) -> dict[str, Any]:
        weights = self.fleet.weights()
        recorded = record.load_state(self.aws.ssm, self.env) or {}
        live = self._live(weights, recorded)
        colours = {}
        for colour in COLOURS:
            health = self.fleet.health(colour)
            version, ami = self.fleet.template_version(colour)
            colours[colour] = {
                "weight": weights[colour],
                "ami": ami,
                "launch_template_version": version,
                "min": health.capacity.min,
                "max": health.capacity.max,
                "desired": health.capacity.desired,
                "in_service": len(health.in_service),
                "healthy_targets": len(health.healthy_targets),
                "targets": len(health.targets),
                "unhealthy": health.reasons,
            }
        deployment = self.deployment()
        drift = None
        if recorded.get("live") and recorded["live"] != live:
            drift = (
                f"recorded live colour is {recorded['live']} but the listener sends most "
                f"traffic to {live}: changed outside opsctl?"
            )
        return {
            "env": self.env,
            "live": live,
            "weights": weights,
            "colours": colours,
            "alarms_firing": self.fleet.alarms_firing(),
            "recorded": recorded or None,
            "drift": drift,
            "last_deployment": deployment.__dict__ if deployment else None,
        }

    def _record_state(self, action: str, reason: str | None = None) -> None:
        weights = self.fleet.weights()
        colours = {}
        for colour in COLOURS:
            version, ami = self.fleet.template_version(colour)
            colours[colour] = {"ami": ami, "version": version} | self.fleet.capacity(
                colour
            ).as_dict()
        state = {
            "live": self._live(weights),
            "weights": weights,
            "colours": colours,
            "last_action": {"action": action, "at": record.now(), "by": self.by, "reason": reason},
        }
        record.save_state(self.aws.ssm, self.env, state)

    def _save(self, deployment: Deployment) -> None:
        record.save_deployment(self.aws.ssm, self.env, deployment)

    # --- deploy ----------------------------------------------------------------------------
    def deploy(self, ami: str, canary: list[int], bake: float, keep_old: float) -> Result:
        previous = self.deployment()
        if previous and previous.active:
            raise Guard(
                f"deployment {previous.id} of {previous.ami} is {previous.status} at step "
                f"{previous.step or '-'}: continue it with `opsctl bluegreen deploy {self.env} "
                f"--resume` or undo it with `opsctl bluegreen rollback {self.env}`"
            )
        source = self.live()
        deployment = Deployment.new(
            ami=ami,
            source=source,
            target=other(source),
            canary=canary,
            bake=bake,
            keep_old=keep_old,
            by=self.by,
        )
        self.report.note(
            f"Deployment {deployment.id}: {ami} to {deployment.target} "
            f"(live: {source}); canary {', '.join(f'{w}%' for w in canary) or 'none'} -> 100%, "
            f"bake {human(bake)}, keep old {human(keep_old)}"
        )
        try:
            self._preflight(deployment)
        except Guard as guard:
            deployment.status, deployment.reason = "aborted", str(guard)
            deployment.finished_at = record.now()
            self._save(deployment)
            raise
        deployment.steps.append(["preflight", record.now()])
        self._save(deployment)
        self._after("preflight")
        return self._run(deployment)

    def resume(self) -> Result:
        deployment = self.deployment()
        if deployment is None or not deployment.active:
            what = f"deployment {deployment.id} {deployment.status}" if deployment else "none"
            return Result(Exit.OK, f"nothing to resume in {self.env} (last: {what})", deployment)
        self.report.note(
            f"Resuming deployment {deployment.id} of {deployment.ami} to {deployment.target}: "
            f"{deployment.status} at step {deployment.step or '-'}"
        )
        if deployment.status == "rolling_back":
            return self._rollback(deployment, deployment.reason or "resumed rollback")
        # Safety first: traffic must only be on colours that can take it.
        weights = self.fleet.weights()
        for colour in COLOURS:
            if weights[colour] > 0 and not self.fleet.health(colour).ready:
                return self._rollback(
                    deployment,
                    f"resumed with {weights[colour]}% of traffic on {colour}, which is not healthy",
                )
        deployment.status = "in_progress"
        self._save(deployment)
        return self._run(deployment)

    def _run(self, deployment: Deployment) -> Result:
        steps: dict[str, Callable[[Deployment], None]] = {
            "launch-template": self._launch_template,
            "scale-up": self._scale_up,
            "wait-healthy": self._wait_healthy,
            "switch": self._switch,
            "keep-old": self._keep_old,
            "scale-down-old": self._scale_down_old,
        }
        try:
            for name in deployment.plan():
                if deployment.done(name):
                    continue
                deployment.step = name
                self._save(deployment)
                if self.before_step is not None:
                    self.before_step(name, deployment)
                if name.startswith("canary-"):
                    self._canary(deployment, int(name.removeprefix("canary-")))
                else:
                    steps[name](deployment)
                deployment.steps.append([name, record.now()])
                self._save(deployment)
                self._after(name)
        except Rollback as reason:
            return self._rollback(deployment, str(reason))
        except KeyboardInterrupt:
            deployment.status = "interrupted"
            self._save(deployment)
            raise
        deployment.status, deployment.step = "succeeded", ""
        deployment.finished_at = record.now()
        self._save(deployment)
        self._record_state("deploy")
        return Result(
            Exit.OK,
            f"Deployed {deployment.ami} to {deployment.target}; {deployment.source} is at 0.",
            deployment,
        )

    def _after(self, step: str) -> None:
        if self.after_step is not None:
            self.after_step(step)

    def _preflight(self, d: Deployment) -> None:
        problems: list[str] = []
        image = self.fleet.image(d.ami)
        if image is None:
            problems.append(f"AMI {d.ami} does not exist in this account and region")
        elif image.get("State") != "available":
            problems.append(f"AMI {d.ami} is {image.get('State')}, not available")
        weights = self.fleet.weights()
        if weights[d.target] > 0:
            problems.append(
                f"the idle colour {d.target} takes {weights[d.target]}% of traffic: finish or "
                f"undo that first (opsctl bluegreen switch / rollback {self.env})"
            )
        idle = self.fleet.capacity(d.target)
        if idle.desired > 0:
            self.report.warn(
                f"{d.target} still runs {idle.desired} instance(s) without traffic (stale, "
                "e.g. a kept old colour): they are replaced"
            )
        firing = self.fleet.alarms_firing()
        if firing:
            problems.append(f"deployment alarms in ALARM: {', '.join(firing)}")
        idle_timeout = self.fleet.idle_timeout()
        keepalive = keepalive_of(image or {})
        if keepalive <= idle_timeout:
            problems.append(
                f"the app's keep-alive ({keepalive} s) must exceed the ALB idle timeout "
                f"({idle_timeout} s), or the ALB reuses closed connections (HTTP 502)"
            )
        for colour in COLOURS:
            attributes = self.fleet.target_group_attributes(colour)
            if attributes.get("stickiness.enabled") == "true":
                duration = float(attributes.get("stickiness.lb_cookie.duration_seconds", "0"))
                if duration > d.bake:
                    self.report.warn(
                        f"{colour}'s target group pins clients for {human(duration)}, longer "
                        f"than the bake ({human(d.bake)}): canary clients stay on one colour"
                    )
        group = self.fleet.group(d.target)
        if group.get("HealthCheckType") != "ELB":
            problems.append(
                f"{self.stack.asg[d.target]} uses {group.get('HealthCheckType')} health checks; "
                "it needs ELB so instances failing the target group's checks are replaced"
            )
        if problems:
            raise Guard("pre-flight failed:\n  - " + "\n  - ".join(problems))
        live = self.fleet.capacity(d.source)
        d.capacity = (live if live.desired > 0 else self.fallback_capacity).as_dict()
        d.source_version = self.fleet.template_version(d.source)[0]
        self.report.step(
            f"pre-flight ok: AMI available, {d.target} idle, alarms OK, keep-alive "
            f"{keepalive} s > idle timeout {idle_timeout} s, ELB health checks"
        )

    def _launch_template(self, d: Deployment) -> None:
        version = self.fleet.new_template_version(d.target, d.ami)
        self.fleet.use_template_version(d.target, version)
        d.target_version = version
        self.report.step(f"launch template {d.target} version {version} with {d.ami}")

    def _scale_up(self, d: Deployment) -> None:
        capacity = Capacity(**(d.capacity or self.fallback_capacity.as_dict()))
        self.fleet.scale(d.target, capacity)
        self.report.step(
            f"scaled {d.target} to min {capacity.min} / desired {capacity.desired} / "
            f"max {capacity.max} (the live colour's capacity)"
        )

    def _wait_healthy(self, d: Deployment) -> None:
        timeout = self.timings.healthy_timeout
        health = self.fleet.wait_ready(d.target, timeout, self.timings.poll, self.report.progress)
        if not health.ready:
            raise Rollback(
                f"{d.target} was not healthy within {human(timeout)}: {health.describe()}"
            )
        self.report.step(
            f"{d.target} healthy: {len(health.in_service)} InService, "
            f"{len(health.healthy_targets)}/{len(health.targets)} targets healthy"
        )

    def _require_ready(self, colour: str, before: str) -> None:
        health = self.fleet.health(colour)
        if not health.ready:
            raise Rollback(f"{colour} is not healthy before {before}: {health.describe()}")

    def _canary(self, d: Deployment, percent: int) -> None:
        self._require_ready(d.target, f"moving {percent}% of traffic")
        self.fleet.set_weights({d.target: percent, d.source: 100 - percent})
        self.report.step(f"canary: {percent}% to {d.target}, {100 - percent}% to {d.source}")
        self._watch(d.bake, f"bake at {percent}%")

    def _switch(self, d: Deployment) -> None:
        self._require_ready(d.target, "the switch")
        self.fleet.set_weights({d.target: 100, d.source: 0})
        at = datetime.now(UTC)
        d.switched_at = at.isoformat(timespec="seconds")
        d.keep_old_until = (at + timedelta(seconds=d.keep_old)).isoformat(timespec="seconds")
        self._record_state("deploy")
        self.report.step(f"switched: 100% to {d.target} (live), 0% to {d.source}")

    def _keep_old(self, d: Deployment) -> None:
        until = datetime.fromisoformat(d.keep_old_until or record.now())
        remaining = max(0.0, (until - datetime.now(UTC)).total_seconds())
        self.report.step(
            f"keeping {d.source} scaled for {human(round(remaining, 1))} (fast rollback window)"
        )
        self._watch(remaining, f"keep-old window, {d.source} still scaled")

    def _scale_down_old(self, d: Deployment) -> None:
        drain = self._drain_seconds(d.source, d.switched_at)
        if drain > 0:
            self.report.progress(f"waiting {human(drain)} for {d.source}'s connections to drain")
            time.sleep(drain)
        self.fleet.scale(d.source, EMPTY)
        self.report.step(f"scaled {d.source} to 0 (after the deregistration delay)")

    def _drain_seconds(self, colour: str, since: str | None) -> float:
        delay = self.timings.drain
        if delay is None:
            delay = self.fleet.deregistration_delay(colour)
        if since:
            delay -= (datetime.now(UTC) - datetime.fromisoformat(since)).total_seconds()
        return max(0.0, delay)

    def _watch(self, seconds: float, what: str) -> None:
        """Hold for `seconds`, polling the deployment alarms; an alarm means roll back."""
        deadline = time.monotonic() + seconds
        while True:
            firing = self.fleet.alarms_firing()
            if firing:
                raise Rollback(f"alarm {', '.join(firing)} in ALARM during the {what}")
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.report.progress(f"{what}: {human(round(left))} left, alarms OK")
            time.sleep(min(self.timings.poll, left))

    # --- rollback and switch ------------------------------------------------------------------
    def _rollback(self, d: Deployment, reason: str) -> Result:
        d.status, d.reason = "rolling_back", reason
        self._save(d)
        self.report.warn(f"rolling back to {d.source}: {reason}")
        try:
            self.restore(d.source, Capacity(**(d.capacity or self.fallback_capacity.as_dict())))
        except KeyboardInterrupt:
            self._save(d)  # stays rolling_back: resume finishes it
            raise
        d.status, d.step = "rolled_back", ""
        d.steps.append(["rollback", record.now()])
        d.finished_at = record.now()
        self._save(d)
        self._record_state("rollback", reason)
        return Result(
            Exit.ROLLED_BACK,
            f"Rolled back: all traffic on {d.source}; {d.target} scaled to 0. Reason: {reason}",
            d,
        )

    def restore(self, colour: str, capacity: Capacity) -> None:
        """All traffic to `colour`: scale it up first if needed, check it takes the traffic,
        then drain and empty the other colour."""
        weights = self.fleet.weights()
        if weights[colour] < 100:
            health = self.fleet.health(colour)
            if not health.ready:
                if health.capacity.desired == 0:
                    self.fleet.scale(colour, capacity)
                    self.report.step(f"scaled {colour} back to {capacity.desired}")
                health = self.fleet.wait_ready(
                    colour, self.timings.healthy_timeout, self.timings.poll, self.report.progress
                )
                if not health.ready:
                    raise BlueGreenError(
                        f"cannot move traffic back: {health.describe()}; traffic left as it was "
                        f"({weights})"
                    )
            self.fleet.set_weights({colour: 100, other(colour): 0})
            self.report.step(f"all traffic back on {colour}")
        after = self.fleet.weights()
        if after[colour] != 100 or not self.fleet.health(colour).ready:
            raise BlueGreenError(f"{colour} does not take the traffic: weights {after}")
        drained = other(colour)
        if self.fleet.capacity(drained).desired > 0 or self.fleet.health(drained).in_service:
            if weights[drained] > 0:
                drain = self._drain_seconds(drained, None)
                if drain > 0:
                    self.report.progress(f"waiting {human(drain)} for {drained} to drain")
                    time.sleep(drain)
            self.fleet.scale(drained, EMPTY)
            self.report.step(f"scaled {drained} to 0")

    def rollback(self, reason: str) -> Result:
        """The operator's rollback: back to the previous colour, recorded with the reason."""
        d = self.deployment()
        if d is not None and (d.active or (d.status == "succeeded" and self.live() == d.target)):
            return self._finish_manual(self._rollback(d, reason))
        target = other(self.live())
        capacity = self.fleet.capacity(self.live())
        self.report.warn(f"rolling back to {target}: {reason}")
        self.restore(target, capacity if capacity.desired > 0 else self.fallback_capacity)
        self._record_state("rollback", reason)
        return Result(Exit.OK, f"Rolled back: all traffic on {target}. Reason: {reason}", d)

    @staticmethod
    def _finish_manual(result: Result) -> Result:
        return Result(Exit.OK, result.message, result.deployment)

    def switch(self, to: str | None, force: bool) -> Result:
        d = self.deployment()
        if d is not None and d.active and not force:
            raise Guard(
                f"deployment {d.id} is {d.status} at {d.step}: resume or roll it back first "
                "(or --force)"
            )
        target = to or other(self.live())
        health = self.fleet.health(target)
        if not health.ready:
            if not force:
                raise Guard(f"refusing to switch to an unhealthy colour: {health.describe()}")
            self.report.warn(f"switching to {target} although it is not healthy (--force)")
        self.fleet.set_weights({target: 100, other(target): 0})
        self._record_state("switch", "forced" if force and not health.ready else None)
        return Result(Exit.OK, f"Switched: 100% of traffic to {target}.", d)
