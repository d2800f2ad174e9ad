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

from opsctl.bluegreen import COLOURS, other, record, signals
from opsctl.bluegreen.clients import Clients
from opsctl.bluegreen.fleet import Capacity, Fleet, LaunchFailed, keepalive_of
from opsctl.bluegreen.gates import alarm_view, ami_problems, evaluation_window
from opsctl.bluegreen.record import Deployment
from opsctl.bluegreen.stack import Stack
from opsctl.bluegreen.timing import Timings, human
from opsctl.exitcodes import Exit

EMPTY = Capacity(0, 0, 0)
# Auto Scaling processes a deploy needs on the target group: launching, health checks, replacing
# unhealthy instances, registering with the target group (EC2 Auto Scaling User Guide,
# "Suspend and resume processes").
NEEDED_PROCESSES = {"Launch", "Terminate", "HealthCheck", "ReplaceUnhealthy", "AddToLoadBalancer"}


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
        ami_owners: list[str] | None = None,
        min_healthy_percent: float = 100.0,
    ) -> None:
        self.aws, self.stack, self.report = clients, stack, report
        self.fleet = Fleet(clients, stack)
        self.fleet.min_healthy_percent = min_healthy_percent
        self.timings = timings or Timings()
        self.by = by
        self.fallback_capacity = fallback_capacity or Capacity(1, 1, 1)
        self.after_step = after_step  # tests inject crashes here
        # Called with (step, deployment) before each step runs: `opsctl release` runs expand
        # migrations on the new colour before `wait-healthy` (opsctl/release/flow.py).
        self.before_step: Callable[[str, Deployment], None] | None = None
        self.ami_owners = ami_owners  # None: the owner is not checked

    def min_bake(self, target: str) -> tuple[float, str]:
        """The shortest bake that lets the deployment alarms fire, and how it is made up."""
        if self.timings.min_bake is not None:
            return self.timings.min_bake, "OPSCTL_BG_MIN_BAKE"
        window = evaluation_window(self.fleet, self.stack.deployment_alarms(target))
        delay = self.timings.metric_delay
        return window + delay, (
            f"the alarms' evaluation window {human(window)} + metric delay {human(delay)}"
        )

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
            running_amis: dict[str, int] = {}
            for image in health.amis.values():
                running_amis[image] = running_amis.get(image, 0) + 1
            running_versions: dict[str, int] = {}
            for number in health.versions.values():
                running_versions[number] = running_versions.get(number, 0) + 1
            colours[colour] = {
                "running_amis": running_amis,
                "running_versions": running_versions,
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
        traffic = self.fleet.traffic()
        left = None
        if deployment is not None and deployment.active:
            moved = any(w[deployment.target] > 0 for w in traffic.values())
            split = moved and not deployment.done("switch")
            if split or deployment.left:
                left = (
                    f"deployment {deployment.id} left {deployment.target} with traffic "
                    f"({traffic['default']}): `opsctl bluegreen rollback {self.env}` puts all of "
                    f"it back on {deployment.source} and empties {deployment.target}; "
                    f"`opsctl bluegreen deploy {self.env} --resume` continues the deployment"
                )
        return {
            "env": self.env,
            "live": live,
            "weights": weights,
            "traffic": traffic,
            "listener_consistent": all(w == traffic["default"] for w in traffic.values()),
            "left": left,
            "colours": colours,
            "alarms_firing": self.fleet.alarms_firing(
                self.stack.deployment_alarms("blue") + self.stack.deployment_alarms("green")
            ),
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
    def deploy(
        self,
        ami: str,
        canary: list[int],
        bake: float | None,
        keep_old: float,
        force: bool = False,
    ) -> Result:
        """bake None: the shortest bake the alarm gate allows (Engine.min_bake). force: accept
        a bake shorter than that."""
        previous = self.deployment()
        if previous and previous.active:
            raise Guard(
                f"deployment {previous.id} of {previous.ami} is {previous.status} at step "
                f"{previous.step or '-'}: continue it with `opsctl bluegreen deploy {self.env} "
                f"--resume` or undo it with `opsctl bluegreen rollback {self.env}`"
            )
        source = self.live()
        minimum, why = self.min_bake(other(source))
        deployment = Deployment.new(
            ami=ami,
            source=source,
            target=other(source),
            canary=canary,
            bake=minimum if bake is None else bake,
            keep_old=keep_old,
            by=self.by,
            min_healthy_percent=self.fleet.min_healthy_percent,
        )
        self.report.note(
            f"Deployment {deployment.id}: {ami} to {deployment.target} "
            f"(live: {source}); canary {', '.join(f'{w}%' for w in canary) or 'none'} -> 100%, "
            f"bake {human(deployment.bake)}, keep old {human(keep_old)}"
        )
        try:
            problems = []
            if canary and deployment.bake < minimum:
                message = (
                    f"bake {human(deployment.bake)} is shorter than {why} = {human(minimum)}: "
                    f"an alarm cannot fire within it; use --bake {human(minimum)} or longer"
                )
                if not force:
                    problems.append(message + " (or --force)")
                else:
                    self.report.warn(message + " (--force)")
            self._preflight(deployment, problems)
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
        self.fleet.min_healthy_percent = deployment.min_healthy_percent
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
        with signals.trapped():
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
            except KeyboardInterrupt as stop:
                signame = getattr(stop, "signame", "SIGINT")
                self._withdraw(deployment, f"{signame} during step {deployment.step}")
                raise
            except Exception as error:  # ExpiredToken, throttling, a half-applied listener...
                self._withdraw(
                    deployment,
                    f"{type(error).__name__} during step {deployment.step}: {error}",
                )
                raise BlueGreenError(deployment.reason or str(error)) from error
        deployment.status, deployment.step = "succeeded", ""
        deployment.finished_at = record.now()
        self._save(deployment)
        self._record_state("deploy")
        return Result(
            Exit.OK,
            f"Deployed {deployment.ami} to {deployment.target}; {deployment.source} is at 0.",
            deployment,
        )

    def _set_weights(self, d: Deployment, weights: dict[str, int]) -> None:
        """Record what is asked for first: if the process dies mid-call, the record says
        which weights may be on the listener."""
        d.weights_set = dict(weights)
        self._save(d)
        self.fleet.set_weights(weights)

    def _withdraw(self, d: Deployment, why: str) -> None:
        """After a signal or an unexpected error: before the switch, put all traffic back on
        the source colour (if AWS still answers), and record what was done or what is left."""
        with signals.shielded():
            try:
                if d.done("switch"):
                    note = f"the switch is done: traffic stays on {d.target}"
                elif any(w[d.target] > 0 for w in self.fleet.traffic().values()):
                    self.fleet.set_weights({d.source: 100, d.target: 0})
                    note = f"weights put back: 100% on {d.source}, 0% on {d.target}"
                else:
                    note = f"no traffic had moved to {d.target}"
                d.left = None
            except Exception as error:
                d.left = d.weights_set
                note = (
                    f"could NOT put the weights back ({type(error).__name__}: {error}); the "
                    f"listener may still hold {d.weights_set or 'the weights it had'}. Once AWS "
                    f"answers again (e.g. fresh credentials): `opsctl bluegreen rollback "
                    f"{self.env}` puts all traffic on {d.source}, or `opsctl bluegreen deploy "
                    f"{self.env} --resume` continues"
                )
            d.status, d.reason = "interrupted", f"{why}; {note}"
            self.report.warn(d.reason)
            try:
                self._save(d)
            except Exception as error:
                self.report.warn(
                    f"could not record this either ({type(error).__name__}): the record still "
                    f"says deployment {d.id} is at step {d.step}"
                )

    def _after(self, step: str) -> None:
        if self.after_step is not None:
            self.after_step(step)

    def _preflight(self, d: Deployment, problems: list[str]) -> None:
        image = self.fleet.image(d.ami)
        problems += ami_problems(self.fleet, image, d.ami, self.ami_owners, d.target)
        weights = self.fleet.weights()
        if weights[d.target] > 0:
            problems.append(
                f"the idle colour {d.target} takes {weights[d.target]}% of traffic: finish or "
                f"undo that first (opsctl bluegreen switch / rollback {self.env})"
            )
        if not self.fleet.consistent():
            problems.append(
                f"the listener's weighted rules disagree with its default action "
                f"({self.fleet.traffic()}): `opsctl bluegreen rollback {self.env}` repairs them"
            )
        for colour in COLOURS:
            pinned = self.stack.pinned_rule_arns.get(colour, [])
            if pinned and colour == d.source:
                problems.append(
                    f"listener rule(s) {', '.join(r.rsplit('/', 1)[-1] for r in pinned)} forward "
                    f"only to {colour}, which this deployment drains: point them at both colours "
                    "(a weighted rule) first"
                )
        idle = self.fleet.health(d.target, d.ami)
        if idle.capacity.desired > 0 or idle.amis:
            self.report.warn(
                f"{d.target} still runs {len(idle.amis)} instance(s) without traffic (stale, "
                "e.g. a kept old colour): they are replaced before the new AMI is scaled up"
            )
        alarms = self.stack.deployment_alarms(d.target)
        view = alarm_view(self.fleet, alarms)
        if not alarms:
            problems.append("the stack names no deployment alarms: the alarm gate would be blind")
        if view.missing:
            problems.append(
                f"deployment alarms missing in CloudWatch: {', '.join(view.missing)} "
                f"(deleted or renamed? `opsctl apply {self.env}`)"
            )
        if view.firing:
            problems.append(f"deployment alarms in ALARM: {', '.join(view.firing)}")
        idle_timeout = self.fleet.idle_timeout()
        keepalive = keepalive_of(image or {})
        if keepalive <= idle_timeout:
            problems.append(
                f"the app's keep-alive ({keepalive} s) must exceed the ALB idle timeout "
                f"({idle_timeout} s), or the ALB reuses closed connections (HTTP 502)"
            )
        sticky, where = self.fleet.stickiness_seconds(d.source)
        if sticky > d.keep_old:
            problems.append(
                f"{where} keeps clients on {d.source} for {human(sticky)} after its weight goes "
                f"to 0, longer than --keep-old {human(d.keep_old)}: scaling it down then "
                f"breaks their sessions (503); use --keep-old {human(sticky)} or more"
            )
        target_sticky, target_where = self.fleet.stickiness_seconds(d.target)
        if d.canary and target_sticky > d.bake:
            self.report.warn(
                f"{target_where} pins clients for {human(target_sticky)}, longer than the bake "
                f"({human(d.bake)}): canary clients stay on one colour"
            )
        group = self.fleet.group(d.target)
        if group.get("HealthCheckType") != "ELB":
            problems.append(
                f"{self.stack.asg[d.target]} uses {group.get('HealthCheckType')} health checks; "
                "it needs ELB so instances failing the target group's checks are replaced"
            )
        suspended = sorted(
            p["ProcessName"]
            for p in group.get("SuspendedProcesses", [])
            if p["ProcessName"] in NEEDED_PROCESSES
        )
        if suspended:
            names = " ".join(suspended)
            problems.append(
                f"{self.stack.asg[d.target]} has {', '.join(suspended)} suspended, so its new "
                "instances would not be launched, registered or replaced (a release killed "
                "during expand leaves ReplaceUnhealthy so): aws autoscaling resume-processes "
                f"--auto-scaling-group-name {self.stack.asg[d.target]} --scaling-processes {names}"
            )
        if problems:
            raise Guard("pre-flight failed:\n  - " + "\n  - ".join(problems))
        live = self.fleet.capacity(d.source)
        d.capacity = (live if live.desired > 0 else self.fallback_capacity).as_dict()
        d.source_settings = live.as_dict()
        d.source_version = self.fleet.template_version(d.source)[0]
        if view.insufficient:
            self.report.warn(
                f"alarms in INSUFFICIENT_DATA: {', '.join(view.insufficient)}: a bake does not "
                "end until they report OK (see docs/opsctl.md, alarm gate)"
            )
        self.report.step(
            f"pre-flight ok: AMI checked (owner, packer tags, architecture), {d.target} idle, "
            f"{len(alarms)} alarms OK, keep-alive {keepalive} s > idle timeout {idle_timeout} s, "
            "ELB health checks"
        )

    def _launch_template(self, d: Deployment) -> None:
        version = self.fleet.new_template_version(d.target, d.ami)
        self.fleet.use_template_version(d.target, version)
        d.target_version = version
        self.report.step(f"launch template {d.target} version {version} with {d.ami}")

    def _scale_up(self, d: Deployment) -> None:
        """Fresh fleet, then the capacity pin: every instance on the target colour must run
        the new template version, so stale ones are replaced first; then both colours are held
        at least at the capacity recorded at pre-flight (min = desired) so that scaling
        policies cannot shrink either while traffic moves."""
        capacity = Capacity(**(d.capacity or self.fallback_capacity.as_dict()))
        stale = self.fleet.health(d.target, d.ami, d.target_version)
        if stale.stale:
            running = sorted({stale.amis.get(i, "?") for i in stale.stale})
            self.fleet.scale(d.target, EMPTY)
            if not self.fleet.wait_empty(d.target, self.timings.healthy_timeout, self.timings.poll):
                raise Rollback(f"{d.target}'s stale instances stayed: {stale.describe()}")
            self.report.step(
                f"replaced {len(stale.stale)} stale instance(s) on {d.target} running "
                f"{', '.join(running)}"
            )
        d.scaled_at = record.now()
        pinned = Capacity(capacity.desired, max(capacity.max, capacity.desired), capacity.desired)
        self.fleet.scale(d.target, pinned)
        live = self.fleet.capacity(d.source)
        if live.desired > 0 and live.min < live.desired:
            self.fleet.scale(d.source, Capacity(live.desired, live.max, live.desired))
        self.report.step(
            f"scaled {d.target} to desired {capacity.desired} / max {capacity.max}; both colours "
            f"pinned (min = desired) until the deployment ends"
        )

    def _wait_healthy(self, d: Deployment) -> None:
        timeout = self.timings.healthy_timeout
        since = datetime.fromisoformat(d.scaled_at) if d.scaled_at else None
        try:
            health = self.fleet.wait_ready(
                d.target,
                timeout,
                self.timings.poll,
                self.report.progress,
                ami=d.ami,
                version=d.target_version,
                launches_since=since,
            )
        except LaunchFailed as failed:
            raise Rollback(f"{d.target} cannot launch its instances: {failed}") from None
        if not health.ready:
            raise Rollback(
                f"{d.target} was not healthy within {human(timeout)}: {health.describe()}"
            )
        self.report.step(
            f"{d.target} healthy: {len(health.good)} of desired {health.capacity.desired} "
            f"InService on {d.ami} with healthy targets (needs {health.needed})"
        )

    def _require_ready(self, colour: str, before: str, d: Deployment | None = None) -> None:
        health = self.fleet.health(colour, d.ami if d else None, d.target_version if d else None)
        if not health.ready:
            raise Rollback(f"{colour} is not healthy before {before}: {health.describe()}")

    def _settled(self, d: Deployment, before: str) -> None:
        """No traffic moves to the target while one of its alarms is in ALARM. Targets that
        have just turned healthy leave an alarm in ALARM until it evaluates fresh datapoints:
        the ALB publishes per minute, and a release's new colour fails its health checks for
        as long as expand runs, which puts its unhealthy-hosts alarm (3 of 3 minutes) in ALARM
        for 1-3 minutes after the targets pass (ALB User Guide, "CloudWatch metrics for your
        Application Load Balancer"; CloudWatch User Guide, "Evaluating an alarm"). Wait up to
        one minimum bake for it to clear; still firing, roll back with no traffic moved."""
        names = self.stack.deployment_alarms(d.target)
        limit = self.min_bake(d.target)[0]
        deadline = time.monotonic() + limit
        while True:
            view = alarm_view(self.fleet, names)
            if not view.firing:
                return
            if time.monotonic() >= deadline:
                raise Rollback(
                    f"alarm {', '.join(view.firing)} in ALARM before {before} and still "
                    f"{human(round(limit, 1))} later: no traffic was moved"
                )
            self.report.progress(f"waiting for {', '.join(view.firing)} to leave ALARM")
            time.sleep(self.timings.poll)

    def _canary(self, d: Deployment, percent: int) -> None:
        self._require_ready(d.target, f"moving {percent}% of traffic", d)
        self._settled(d, f"moving {percent}% of traffic")
        self._set_weights(d, {d.target: percent, d.source: 100 - percent})
        self.report.step(f"canary: {percent}% to {d.target}, {100 - percent}% to {d.source}")
        self._watch(d, d.bake, f"bake at {percent}%")

    def _switch(self, d: Deployment) -> None:
        self._require_ready(d.target, "the switch", d)
        self._settled(d, "the switch")
        self._set_weights(d, {d.target: 100, d.source: 0})
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
        self._watch(d, remaining, f"keep-old window, {d.source} still scaled")

    def _scale_down_old(self, d: Deployment) -> None:
        drain = self._drain_seconds(d.source, d.switched_at)
        if drain > 0:
            self.report.progress(f"waiting {human(drain)} for {d.source}'s connections to drain")
            time.sleep(drain)
        self.fleet.scale(d.source, EMPTY)
        self.report.step(f"scaled {d.source} to 0 (after the deregistration delay)")
        self._unpin(d.target, d)

    def _unpin(self, colour: str, d: Deployment) -> None:
        """The colour now live gets the live colour's own min / max back (the pin ends)."""
        if not d.source_settings or d.source_settings.get("desired", 0) == 0:
            return
        own = Capacity(**d.source_settings)
        now = self.fleet.capacity(colour)
        settled = Capacity(own.min, max(own.max, now.desired), max(now.desired, own.min))
        if settled != now:
            self.fleet.scale(colour, settled)
        self.report.step(f"{colour} back on its own settings: min {own.min} / max {settled.max}")

    def _drain_seconds(self, colour: str, since: str | None) -> float:
        delay = self.timings.drain
        if delay is None:
            delay = self.fleet.deregistration_delay(colour)
        if since:
            delay -= (datetime.now(UTC) - datetime.fromisoformat(since)).total_seconds()
        return max(0.0, delay)

    def _watch(self, d: Deployment, seconds: float, what: str) -> None:
        """Hold for `seconds`, polling the target colour's and the job alarms: ALARM rolls
        back at once, a missing alarm too (the gate would be blind). While any alarm is
        INSUFFICIENT_DATA the hold does not end; after one more minimum bake it rolls back."""
        names = self.stack.deployment_alarms(d.target)
        deadline = time.monotonic() + seconds
        grace: float | None = None
        while True:
            view = alarm_view(self.fleet, names)
            if view.missing:
                raise Rollback(
                    f"alarm(s) {', '.join(view.missing)} missing during the {what}: the alarm "
                    "gate cannot see the canary"
                )
            if view.firing:
                raise Rollback(f"alarm {', '.join(view.firing)} in ALARM during the {what}")
            now = time.monotonic()
            if now >= deadline:
                if not view.insufficient:
                    return
                if grace is None:
                    grace = self.min_bake(d.target)[0]
                if now >= deadline + grace:
                    raise Rollback(
                        f"alarm(s) {', '.join(view.insufficient)} stayed INSUFFICIENT_DATA "
                        f"through the {what} and {human(round(grace, 1))} more: the gate "
                        "cannot judge the new colour"
                    )
                self.report.progress(
                    f"{what}: waiting for {', '.join(view.insufficient)} to leave INSUFFICIENT_DATA"
                )
            else:
                self.report.progress(f"{what}: {human(round(deadline - now))} left, alarms OK")
            time.sleep(self.timings.poll)

    # --- rollback and switch ------------------------------------------------------------------
    def _rollback(self, d: Deployment, reason: str) -> Result:
        d.status, d.reason = "rolling_back", reason
        self._save(d)
        self.report.warn(f"rolling back to {d.source}: {reason}")
        own = d.source_settings or d.capacity or self.fallback_capacity.as_dict()
        if own.get("desired", 0) == 0:
            own = d.capacity or self.fallback_capacity.as_dict()
        try:
            self.fleet.min_healthy_percent = d.min_healthy_percent
            self.restore(d.source, Capacity(**own))
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
        """All traffic to `colour`, which gets at least `capacity` (its own settings): scale
        it up if needed, check it meets its minimum healthy share, put every weighted rule and
        the default action on it (repairing a half-applied change), then drain and empty the
        other colour unless a fixed rule still sends traffic there."""
        traffic = self.fleet.traffic()
        current = self.fleet.capacity(colour)
        wanted = Capacity(
            capacity.min, max(capacity.max, current.max), max(current.desired, capacity.desired)
        )
        if wanted != current:
            self.fleet.scale(colour, wanted)
            self.report.step(
                f"{colour} set to min {wanted.min} / desired {wanted.desired} / max {wanted.max}"
            )
        health = self.fleet.health(colour)
        if not health.ready:
            health = self.fleet.wait_ready(
                colour, self.timings.healthy_timeout, self.timings.poll, self.report.progress
            )
            if not health.ready:
                raise BlueGreenError(
                    f"cannot move traffic back: {health.describe()}; traffic left as it was "
                    f"({traffic['default']})"
                )
        if any(w != {colour: 100, other(colour): 0} for w in traffic.values()):
            self.fleet.set_weights({colour: 100, other(colour): 0})
            self.report.step(f"all traffic back on {colour} (default action and every rule)")
        drained = other(colour)
        pinned = self.stack.pinned_rule_arns.get(drained, [])
        if pinned:
            self.report.warn(
                f"{drained} is not scaled down: rule(s) {', '.join(pinned)} forward only to it"
            )
            return
        if self.fleet.capacity(drained).desired > 0 or self.fleet.health(drained).in_service:
            if traffic["default"][drained] > 0:
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
        pinned = self.stack.pinned_rule_arns.get(other(target), [])
        if pinned:
            self.report.warn(
                f"rule(s) {', '.join(pinned)} still forward only to {other(target)}: it keeps "
                "that traffic and must not be scaled down"
            )
        self.fleet.set_weights({target: 100, other(target): 0})
        self._record_state("switch", "forced" if force and not health.ready else None)
        return Result(Exit.OK, f"Switched: 100% of traffic to {target}.", d)
