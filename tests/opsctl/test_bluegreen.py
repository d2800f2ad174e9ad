"""Blue/green deployments, the environment lock and `opsctl release` against a real moto server
with the `local` stack applied by terraform (once for this module).

Most tests drive the engine in-process through its AWS-clients seam (opsctl/bluegreen/clients.py)
so they can record calls or break them. Mocks are used ONLY for what moto cannot do: moto
reports every target healthy, so `unhealthy_targets` rewrites DescribeTargetHealth answers; and a
process crash is simulated by raising `Crash` (a BaseException nothing catches) after a step.
Everything else (ASGs, launch templates, listener weights, alarms via set_alarm_state, SSM) is
moto's real behaviour. A few tests run the real CLI in a subprocess end to end.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from opsctl import lock
from opsctl.bluegreen import COLOURS, other, record
from opsctl.bluegreen.clients import Clients
from opsctl.bluegreen.engine import Engine, Guard, ListReport
from opsctl.bluegreen.fleet import Capacity, Fleet
from opsctl.bluegreen.stack import Stack, discover
from opsctl.bluegreen.timing import Timings
from opsctl.exitcodes import Exit
from opsctl.local.emulator import MotoServer
from opsctl.release.gates import contracted_parameter
from tests.support.mariadb import MariaDB
from tests.support.opsctl_run import Opsctl
from tests.support.paths import REPO
from tests.support.revisions import write_revision

pytestmark = pytest.mark.slow
REGION, BUCKET, ENV = "eu-west-1", "ingest-tfstate-local", "local"
FAST = Timings(poll=0.1, healthy_timeout=2.0, drain=0.0)
# The subprocess CLI polls fast too (opsctl/bluegreen/timing.py reads these).
FAST_ENV = {
    "OPSCTL_BG_POLL_SECONDS": "0.2",
    "OPSCTL_BG_HEALTHY_TIMEOUT": "5",
    "OPSCTL_BG_DRAIN_SECONDS": "0",
}
NOT_HELD = lock.Lock(env=ENV, token=0, revision=0)
MUTATING = ("create_", "update_", "modify_", "put_", "delete_", "set_", "register_")


@dataclass
class Env:
    opsctl: Opsctl
    url: str

    def clients(self) -> Clients:
        return Clients.create(REGION, self.url)

    def stack(self, clients: Clients | None = None) -> Stack:
        return discover(clients or self.clients(), BUCKET, ENV)

    def engine(self, clients: Clients | None = None, **kwargs: Any) -> Engine:
        clients = clients or self.clients()
        report = kwargs.pop("report", ListReport())
        return Engine(clients, self.stack(clients), report, FAST, by="pytest", **kwargs)

    def fleet(self) -> Fleet:
        clients = self.clients()
        return Fleet(clients, self.stack(clients))

    def new_ami(self, name: str) -> str:
        ec2 = self.clients().ec2
        image = ec2.register_image(
            Name=f"ingest-{name}-{time.monotonic_ns()}",
            RootDeviceName="/dev/xvda",
            Architecture="x86_64",
            VirtualizationType="hvm",
        )
        return str(image["ImageId"])

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        """The CLI in the background (for concurrency and Ctrl-C tests)."""
        env = dict(
            os.environ,
            OPSCTL_ENVS_DIR=str(self.opsctl.envs_dir),
            OPSCTL_BUILD_DIR=str(self.opsctl.build_dir),
            OPSCTL_EMULATOR_URL=self.url,
            NO_COLOR="1",
            COLUMNS="200",
        )
        return subprocess.Popen(
            [sys.executable, "-m", "opsctl", *args],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


@pytest.fixture(scope="module")
def stack(
    moto_server: MotoServer, tmp_path_factory: pytest.TempPathFactory, terraform: object
) -> Iterator[Env]:
    """The `local` stack applied to a freshly reset moto (other modules share the server)."""
    moto_server.reset()
    root = tmp_path_factory.mktemp("bluegreen")
    shutil.copytree(REPO / "envs", root / "envs", ignore=shutil.ignore_patterns("templates"))
    with pytest.MonkeyPatch.context() as patch:
        for key, value in FAST_ENV.items():
            patch.setenv(key, value)
        opsctl = Opsctl(root / "envs", root / "build", moto_server.endpoint)
        result = opsctl("apply", ENV, "--yes")
        assert result.code == 0, result.output
        yield Env(opsctl, moto_server.endpoint)


@pytest.fixture
def env(stack: Env) -> Env:
    """Every test starts from a settled stack: one colour live at 100%, the other at 0, no
    deployment under way, alarms OK, the lock free."""
    clients = stack.clients()
    fleet = stack.fleet()
    for alarm in fleet.stack.alarm_names:
        clients.cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="test")
    lock.Store.open(ENV, REGION, stack.url).break_lock()
    with contextlib.suppress(clients.ssm.exceptions.ParameterNotFound):  # no contract recorded
        clients.ssm.delete_parameter(Name=contracted_parameter(ENV))
    deployment = record.load_deployment(clients.ssm, ENV)
    if deployment is not None and deployment.active:
        deployment.status = "aborted"
        record.save_deployment(clients.ssm, ENV, deployment)
    live = stack.engine().live()
    if fleet.capacity(live).desired == 0:
        fleet.scale(live, Capacity(1, 2, 1))
    fleet.set_weights({live: 100, other(live): 0})
    fleet.scale(other(live), Capacity(0, 0, 0))
    return stack


# --- seams: recording and breaking AWS calls ------------------------------------------------
@dataclass
class Call:
    service: str
    operation: str
    params: dict[str, Any]


class Spy:
    """Wraps one boto3 client: records every call; `overrides` replace single operations."""

    def __init__(
        self,
        service: str,
        client: Any,
        calls: list[Call],
        overrides: dict[str, Callable[..., Any]] | None = None,
        before: Callable[[Call], None] | None = None,
    ) -> None:
        self._service, self._client, self._calls = service, client, calls
        self._overrides, self._before = overrides or {}, before

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name in ("meta", "exceptions") or not callable(attribute):
            return attribute
        target = self._overrides.get(name, attribute)

        def call(**params: Any) -> Any:
            entry = Call(self._service, name, params)
            if self._before is not None:
                self._before(entry)
            self._calls.append(entry)
            return target(**params)

        return call


@dataclass
class Recorded:
    clients: Clients
    calls: list[Call] = field(default_factory=list)

    def mutations(self) -> list[Call]:
        return [c for c in self.calls if c.operation.startswith(MUTATING)]


def spied(
    env: Env,
    overrides: dict[str, dict[str, Callable[..., Any]]] | None = None,
    before: Callable[[Call], None] | None = None,
) -> Recorded:
    real = env.clients()
    calls: list[Call] = []
    wrapped = {
        name: Spy(name, getattr(real, name), calls, (overrides or {}).get(name), before)
        for name in ("autoscaling", "elbv2", "ec2", "cloudwatch", "ssm", "s3")
    }
    return Recorded(Clients(**wrapped), calls)


def unhealthy_targets(env: Env, colour: str) -> dict[str, dict[str, Callable[..., Any]]]:
    """MOCK (moto always reports healthy): the colour's targets fail their health checks."""
    real = env.clients().elbv2
    group = env.stack().target_group[colour]

    def describe_target_health(**params: Any) -> Any:
        answer = real.describe_target_health(**params)
        if params.get("TargetGroupArn") == group:
            for target in answer["TargetHealthDescriptions"]:
                target["TargetHealth"] = {
                    "State": "unhealthy",
                    "Reason": "Target.FailedHealthChecks",
                }
        return answer

    return {"elbv2": {"describe_target_health": describe_target_health}}


class Crash(BaseException):
    """A simulated crash (kill -9): nothing in opsctl catches it, so nothing more is recorded."""


def weights_sent(
    calls: list[Call], stack: Stack, operation: str = "modify_listener"
) -> list[dict[str, int]]:
    """The weights of each ModifyListener (default action) or ModifyRule call, in order."""
    key = "DefaultActions" if operation == "modify_listener" else "Actions"
    return [
        _colour_weights(stack, call.params[key]) for call in calls if call.operation == operation
    ]


def _colour_weights(stack: Stack, actions: list[dict[str, Any]]) -> dict[str, int]:
    groups = actions[0]["ForwardConfig"]["TargetGroups"]
    return {stack.colour_of_target_group(g["TargetGroupArn"]) or "?": g["Weight"] for g in groups}


def rule_weights(env: Env) -> list[dict[str, int]]:
    """What moto holds for each weighted routing rule (envs/local.yaml defines one)."""
    stack = env.stack()
    rules = env.clients().elbv2.describe_rules(RuleArns=stack.weighted_rule_arns)["Rules"]
    return [_colour_weights(stack, rule["Actions"]) for rule in rules]


def assert_traffic_only_on_ready_colours(env: Env) -> None:
    fleet = env.fleet()
    weights = fleet.weights()
    assert sum(weights.values()) == 100
    for colour in COLOURS:
        if weights[colour] > 0:
            health = fleet.health(colour)
            assert health.ready, f"{weights[colour]}% on {colour}: {health.describe()}"


# --- deploy ------------------------------------------------------------------------------------
def test_deploy_with_canary_via_cli_then_status_and_plan_are_clean(env: Env) -> None:
    """End to end through the CLI: 10 -> 50 -> 100, old colour at 0, status right, plan clean."""
    before = env.engine().live()
    ami = env.new_ami("canary")
    result = env.opsctl(
        "bluegreen", "deploy", ENV, "--ami", ami, "--canary", "10,50", "--bake", "0.5",
        "--keep-old", "0.5s", "--yes",
    )  # fmt: skip
    assert result.code == 0, result.output
    for line in ("canary: 10% to", "canary: 50% to", f"switched: 100% to {other(before)}"):
        assert line in result.stdout
    status = env.opsctl("bluegreen", "status", ENV, "--json")
    assert status.code == 0, status.output
    data = json.loads(status.stdout)
    new = other(before)
    assert data["live"] == new
    assert data["weights"] == {new: 100, before: 0}
    assert data["colours"][new]["ami"] == ami
    assert data["colours"][new]["in_service"] == data["colours"][new]["desired"] >= 1
    assert data["colours"][before]["desired"] == 0
    assert data["colours"][before]["in_service"] == 0
    deployment = data["last_deployment"]
    assert deployment["status"] == "succeeded"
    assert [s for s, _ in deployment["steps"]] == [
        "preflight", "launch-template", "scale-up", "wait-healthy", "canary-10", "canary-50",
        "switch", "keep-old", "scale-down-old",
    ]  # fmt: skip
    assert data["recorded"]["live"] == new
    human = env.opsctl("bluegreen", "status", ENV)
    assert f"live {new}" in human.stdout
    assert "succeeded" in human.stdout
    plan = env.opsctl("plan", ENV, "--json")
    assert plan.code == 0, plan.output  # no drift: listener, TGs, ASGs, launch templates


def test_deploy_calls_one_modify_listener_for_the_switch_and_spare_the_live_asg(env: Env) -> None:
    """Recorded AWS calls: weights 10 -> 50 -> 100, the switch is exactly one ModifyListener,
    and no call changes the live colour's ASG before the switch."""
    spy = spied(env)
    engine = env.engine(spy.clients)
    live, stack = engine.live(), engine.stack
    result = engine.deploy(env.new_ami("calls"), [10, 50], bake=0.2, keep_old=0.2)
    assert result.code == Exit.OK, result.message
    new = other(live)
    assert weights_sent(spy.calls, stack) == [
        {new: 10, live: 90},
        {new: 50, live: 50},
        {new: 100, live: 0},
    ]
    # The weighted routing rule follows every step, and holds the final weights.
    assert len(stack.weighted_rule_arns) == 1
    assert weights_sent(spy.calls, stack, "modify_rule") == weights_sent(spy.calls, stack)
    assert rule_weights(env) == [{new: 100, live: 0}]
    listener_calls = [i for i, c in enumerate(spy.calls) if c.operation == "modify_listener"]
    switch_at = listener_calls[-1]
    live_asg = stack.asg[live]
    touched_live = [
        c
        for c in spy.calls[:switch_at]
        if c.service == "autoscaling"
        and c.operation.startswith(MUTATING)
        and c.params.get("AutoScalingGroupName") == live_asg
    ]
    assert touched_live == []
    # After the switch the old colour is scaled down (and only then).
    later = [c for c in spy.calls[switch_at:] if c.params.get("AutoScalingGroupName") == live_asg]
    assert any(c.operation == "update_auto_scaling_group" for c in later)
    # The new colour launches from a new template version that carries the AMI.
    version = env.fleet().template_version(new)
    assert version[1] == result.deployment.ami if result.deployment else False


def test_unhealthy_new_colour_shifts_no_traffic_and_scales_back(env: Env) -> None:
    """MOCK at the seam (moto always says healthy): the new colour's targets are unhealthy ->
    no traffic moves, the idle colour goes back to 0, outcome rolled back (exit 5)."""
    live = env.engine().live()
    idle = other(live)
    spy = spied(env, overrides=unhealthy_targets(env, idle))
    result = env.engine(spy.clients).deploy(env.new_ami("sick"), [10, 50], bake=0.2, keep_old=0)
    assert result.code == Exit.ROLLED_BACK
    assert weights_sent(spy.calls, env.stack()) == []  # no ModifyListener at all
    fleet = env.fleet()
    assert fleet.weights() == {live: 100, idle: 0}
    assert fleet.capacity(idle) == Capacity(0, 0, 0)
    deployment = record.load_deployment(env.clients().ssm, ENV)
    assert deployment is not None
    assert deployment.status == "rolled_back"
    assert "not healthy" in (deployment.reason or "")
    assert "Target.FailedHealthChecks" in (deployment.reason or "")


def test_alarm_during_bake_rolls_back_with_exit_5_via_cli(env: Env) -> None:
    """The CLI runs a deploy; during the bake at 10% a deployment alarm goes to ALARM (moto's
    set_alarm_state): automatic rollback, exit 5, reason recorded."""
    live = env.engine().live()
    clients = env.clients()
    process = env.spawn(
        "bluegreen", "deploy", ENV, "--ami", env.new_ami("alarm"), "--canary", "10",
        "--bake", "20", "--keep-old", "0", "--yes",
    )  # fmt: skip
    try:
        wait_until(lambda: _step(clients) == "canary-10" and env.fleet().weights()[live] == 90)
        alarm = env.stack().alarm_names[0]
        clients.cloudwatch.set_alarm_state(
            AlarmName=alarm, StateValue="ALARM", StateReason="test: 5xx spike"
        )
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == Exit.ROLLED_BACK, out + err
    assert "Rolled back" in err
    assert alarm in err
    assert env.fleet().weights() == {live: 100, other(live): 0}
    assert env.fleet().capacity(other(live)).desired == 0
    deployment = record.load_deployment(clients.ssm, ENV)
    assert deployment is not None
    assert deployment.status == "rolled_back"
    assert f"alarm {alarm} in ALARM during the bake at 10%" in (deployment.reason or "")


def test_preflight_refuses_while_an_alarm_fires(env: Env) -> None:
    clients = env.clients()
    alarm = env.stack().alarm_names[0]
    clients.cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="test")
    with pytest.raises(Guard, match=f"deployment alarms in ALARM: {alarm}"):
        env.engine().deploy(env.new_ami("pre"), [10], bake=0.1, keep_old=0)
    result = env.opsctl("bluegreen", "deploy", ENV, "--ami", "ami-00000000000000000", "--yes")
    assert result.code == Exit.ABORTED
    assert "does not exist" in result.stderr
    assert "Traceback" not in result.output


def test_second_deploy_exits_3_naming_the_first_and_ctrl_c_leaves_a_resumable_state(
    env: Env,
) -> None:
    """Two deploys at once: the second exits 3 naming the first. Ctrl-C on the first records
    `interrupted`, releases the lock (exit 4), and `deploy --resume` finishes the job."""
    clients = env.clients()
    live = env.engine().live()
    first = env.spawn(
        "bluegreen", "deploy", ENV, "--ami", env.new_ami("first"), "--canary", "50",
        "--bake", "30", "--keep-old", "0", "--yes",
    )  # fmt: skip
    try:
        wait_until(lambda: _step(clients) == "canary-50")
        second = env.opsctl("bluegreen", "deploy", ENV, "--ami", env.new_ami("second"), "--yes")
        assert second.code == Exit.LOCKED, second.output
        holder = lock.Store.open(ENV, REGION, env.url).read()
        assert holder is not None
        assert holder.held
        assert f"locked by {holder.who} (bluegreen deploy)" in second.stderr
        assert f"pid {first.pid}" in second.stderr
        status = env.opsctl("lock", "status", ENV)
        assert f"pid {first.pid}" in status.stdout
        first.send_signal(signal.SIGINT)
        _, err = first.communicate(timeout=30)
    finally:
        first.kill()
    assert first.returncode == Exit.ABORTED, err
    assert f"opsctl bluegreen deploy {ENV} --resume" in err
    assert not (lock.Store.open(ENV, REGION, env.url).read() or NOT_HELD).held
    shown = env.opsctl("bluegreen", "status", ENV)
    assert "interrupted" in shown.stdout
    assert "stopped at step canary-50" in shown.stdout
    assert_traffic_only_on_ready_colours(env)
    # Resume continues with the recorded settings (bake 30 s): shorten it for the test.
    deployment = record.load_deployment(clients.ssm, ENV)
    assert deployment is not None
    deployment.bake = 0.2
    record.save_deployment(clients.ssm, ENV, deployment)
    resumed = env.opsctl("bluegreen", "deploy", ENV, "--resume", "--yes")
    assert resumed.code == 0, resumed.output
    assert env.fleet().weights() == {other(live): 100, live: 0}


STEPS = [
    "preflight", "launch-template", "scale-up", "wait-healthy", "canary-10", "canary-50",
    "switch", "keep-old", "scale-down-old",
]  # fmt: skip


@pytest.mark.parametrize("crash_after", STEPS)
def test_crash_after_each_step_then_resume_completes(env: Env, crash_after: str) -> None:
    """SIMULATED crash (Crash is raised after the step is recorded, like kill -9): traffic is
    never on an unready colour, and a new process's resume finishes the deployment."""
    live = env.engine().live()
    ami = env.new_ami(f"crash-{crash_after}")

    def crash(step: str) -> None:
        if step == crash_after:
            raise Crash(step)

    with pytest.raises(Crash):
        env.engine(after_step=crash).deploy(ami, [10, 50], bake=0.1, keep_old=0.1)
    deployment = record.load_deployment(env.clients().ssm, ENV)
    assert deployment is not None
    assert deployment.status == "in_progress"
    assert deployment.steps[-1][0] == crash_after
    assert_traffic_only_on_ready_colours(env)
    result = env.engine().resume()
    assert result.code == Exit.OK, result.message
    assert_traffic_only_on_ready_colours(env)
    fleet = env.fleet()
    assert fleet.weights() == {other(live): 100, live: 0}
    assert fleet.template_version(other(live))[1] == ami
    assert fleet.capacity(live).desired == 0


def test_crash_during_rollback_then_resume_finishes_the_rollback(env: Env) -> None:
    """MOCK health (unhealthy new colour) and a SIMULATED crash on the rollback's scale-down:
    resume finishes the rollback (exit 5); traffic stays on the old colour throughout."""
    live = env.engine().live()
    idle = other(live)
    idle_asg = env.stack().asg[idle]

    def die_on_scale_down(call: Call) -> None:
        if (
            call.operation == "update_auto_scaling_group"
            and call.params.get("AutoScalingGroupName") == idle_asg
            and call.params.get("DesiredCapacity") == 0
        ):
            raise Crash("scale-down")

    spy = spied(env, overrides=unhealthy_targets(env, idle), before=die_on_scale_down)
    with pytest.raises(Crash):
        env.engine(spy.clients).deploy(env.new_ami("rb"), [10], bake=0.1, keep_old=0)
    deployment = record.load_deployment(env.clients().ssm, ENV)
    assert deployment is not None
    assert deployment.status == "rolling_back"
    assert_traffic_only_on_ready_colours(env)
    result = env.engine().resume()
    assert result.code == Exit.ROLLED_BACK
    assert env.fleet().weights() == {live: 100, idle: 0}
    assert env.fleet().capacity(idle).desired == 0


def test_resume_with_traffic_on_an_empty_colour_rolls_back(env: Env) -> None:
    """Someone emptied the new colour while it took canary traffic (crash + manual meddling):
    resume moves the traffic back instead of continuing."""
    live = env.engine().live()

    def crash(step: str) -> None:
        if step == "canary-10":
            raise Crash(step)

    with pytest.raises(Crash):
        env.engine(after_step=crash).deploy(env.new_ami("empty"), [10], bake=0.1, keep_old=0)
    env.fleet().scale(other(live), Capacity(0, 0, 0))
    result = env.engine().resume()
    assert result.code == Exit.ROLLED_BACK
    assert "not healthy" in result.message
    assert env.fleet().weights() == {live: 100, other(live): 0}


# --- switch and rollback -----------------------------------------------------------------------
def test_switch_refuses_an_unhealthy_colour(env: Env) -> None:
    live = env.engine().live()
    result = env.opsctl("bluegreen", "switch", ENV, "--to", other(live), "--yes")
    assert result.code == Exit.ABORTED, result.output
    assert "refusing to switch to an unhealthy colour" in result.stderr
    assert env.fleet().weights()[live] == 100
    # MOCK health: the idle colour has instances but they fail their checks -> still refused.
    env.fleet().scale(other(live), Capacity(1, 1, 1))
    spy = spied(env, overrides=unhealthy_targets(env, other(live)))
    with pytest.raises(Guard, match="unhealthy colour"):
        env.engine(spy.clients).switch(other(live), force=False)
    assert weights_sent(spy.calls, env.stack()) == []


def test_switch_moves_traffic_to_a_healthy_colour(env: Env) -> None:
    live = env.engine().live()
    env.fleet().scale(other(live), Capacity(1, 2, 1))
    result = env.opsctl("bluegreen", "switch", ENV, "--yes")
    assert result.code == 0, result.output
    assert env.fleet().weights() == {other(live): 100, live: 0}
    state = record.load_state(env.clients().ssm, ENV)
    assert state is not None
    assert state["live"] == other(live)


def test_rollback_after_a_finished_deploy_restores_the_previous_colour(env: Env) -> None:
    live = env.engine().live()
    old_ami = env.fleet().template_version(live)[1]
    done = env.engine().deploy(env.new_ami("rollme"), [], bake=0, keep_old=0)
    assert done.code == Exit.OK
    assert env.fleet().capacity(live).desired == 0
    result = env.opsctl("bluegreen", "rollback", ENV, "--reason", "bad release", "--yes")
    assert result.code == 0, result.output
    fleet = env.fleet()
    assert fleet.weights() == {live: 100, other(live): 0}
    assert rule_weights(env) == [{live: 100, other(live): 0}]
    assert fleet.template_version(live)[1] == old_ami  # back on the old AMI, not the new one
    assert fleet.health(live).ready
    assert fleet.capacity(other(live)).desired == 0
    clients = env.clients()
    deployment = record.load_deployment(clients.ssm, ENV)
    assert deployment is not None
    assert deployment.status == "rolled_back"
    assert "bad release" in (deployment.reason or "")
    state = record.load_state(clients.ssm, ENV)
    assert state is not None
    assert state["live"] == live
    assert "bad release" in state["last_action"]["reason"]


# --- lock ------------------------------------------------------------------------------------
def test_a_50_50_canary_keeps_the_recorded_live_colour(env: Env) -> None:
    """At 50/50 the listener cannot tell which colour is live; status and rollback must not
    guess blue (they did: a green-live canary showed as drift)."""
    engine = env.engine()
    for colour in COLOURS:
        engine.fleet.set_weights({colour: 100, other(colour): 0})
        engine._record_state("test")
        engine.fleet.set_weights({"blue": 50, "green": 50})
        assert engine.live() == colour
        status = engine.status()
        assert (status["live"], status["drift"]) == (colour, None)


# --- release -----------------------------------------------------------------------------------
def test_release_reports_migrations_skipped_and_resumes_after_ctrl_c(env: Env) -> None:
    """release: plan check (real terraform plan) -> expand skipped (no SSM Run Command on the
    emulator) -> deploy -> contract skipped; Ctrl-C during the deploy's bake, `release status`,
    `release resume`."""
    clients = env.clients()
    live = env.engine().live()
    ami = env.new_ami("release")
    process = env.spawn(
        "release", ENV, "--ami", ami, "--canary", "50", "--bake", "4", "--keep-old", "0", "--yes"
    )
    try:
        wait_until(lambda: _step(clients) == "canary-50", timeout=300)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == Exit.ABORTED, out + err
    assert "plan: no infrastructure changes pending" in out
    assert "skipped expand-migrations: the emulator cannot run commands on instances" in out
    status = env.opsctl("release", "status", ENV, "--json")
    data = json.loads(status.stdout)
    assert data["ami"] == ami
    assert data["outcome"] == "interrupted"
    assert data["steps"] == {
        "plan": "done",
        "expand-migrations": "skipped",
        "deploy": "interrupted",
        "contract-migrations": "pending",
    }
    shown = env.opsctl("release", "status", ENV)
    assert f"opsctl release resume {ENV}" in shown.stdout
    resumed = env.opsctl("release", "resume", ENV, "--yes")
    assert resumed.code == 0, resumed.output
    assert "skipped contract-migrations: the emulator cannot run commands on" in resumed.stdout
    assert env.fleet().weights() == {other(live): 100, live: 0}
    assert env.fleet().template_version(other(live))[1] == ami
    final = json.loads(env.opsctl("release", "status", ENV, "--json").stdout)
    assert final["outcome"] == "done"
    assert final["steps"]["deploy"] == "done"
    log = Path(env.opsctl.build_dir / ENV / "release.jsonl").read_text().splitlines()
    assert all(json.loads(line)["release"] == data["release"] for line in log)


def _release(env: Env, ami: str, *args: str) -> Any:
    return env.opsctl(
        "release", ENV, "--ami", ami, "--canary", "", "--bake", "0", "--keep-old", "0", "--yes",
        *args,
    )  # fmt: skip


def _release_log(env: Env) -> list[tuple[str, str]]:
    status = json.loads(env.opsctl("release", "status", ENV, "--json").stdout)
    return [(entry["step"], entry["status"]) for entry in status["entries"]]


def _db_revision(env: Env, url: str) -> str | None:
    status = env.opsctl("migrate", "status", ENV, "--database-url", url, "--json")
    assert status.code in (0, 2), status.output
    return json.loads(status.stdout)["current"]


def test_release_on_a_database_url_migrates_expand_before_traffic_and_contract_after(
    env: Env, db: tuple[MariaDB, str, str], extra: Path
) -> None:
    """`release --database-url` on a real MariaDB: the expand revisions are applied before any
    traffic moves, the contract revision only once the old colour is at 0."""
    url = db[2]
    write_revision(extra, "0003", 'op.add_column("jobs", sa.Column("note", sa.String(32)))')
    write_revision(extra, "0004", 'op.drop_column("jobs", "note")', phase="contract", down="0003")
    live = env.engine().live()
    ami = env.new_ami("migrations")
    result = _release(env, ami, "--database-url", url)
    assert result.code == 0, result.output
    out = result.stdout
    assert "ok expand-migrations: migrate up --phase expand on --database-url" in out
    assert out.index("applied 0003") < out.index("Deployment ") < out.index("applied 0004")
    steps = _release_log(env)
    assert steps.index(("expand-migrations", "done")) < steps.index(("deploy", "started"))
    assert steps.index(("deploy", "done")) < steps.index(("contract-migrations", "started"))
    assert _db_revision(env, url) == "0004"
    assert env.fleet().weights() == {other(live): 100, live: 0}
    # The URL holds a password: neither printed nor logged.
    assert url not in result.output
    assert url not in (env.opsctl.build_dir / ENV / "release.jsonl").read_text()


def test_release_refuses_a_destructive_expand_revision_before_any_traffic_moves(
    env: Env, db: tuple[MariaDB, str, str], extra: Path
) -> None:
    """A drop column in an expand revision stops the release at expand-migrations (exit 4),
    nothing applied and no traffic moved; resume needs the database URL again; once the
    revision is marked contract, resume applies it after the deploy."""
    url = db[2]
    drop = 'op.drop_column("jobs", "schema_version")'
    write_revision(extra, "0003", drop)
    live = env.engine().live()
    weights = env.fleet().weights()
    ami = env.new_ami("destructive")
    refused = _release(env, ami, "--database-url", url)
    assert refused.code == Exit.ABORTED, refused.output
    assert "destructive operations" in refused.stderr
    assert ("expand-migrations", "failed") in _release_log(env)
    assert ("deploy", "started") not in _release_log(env)
    assert env.fleet().weights() == weights
    assert _db_revision(env, url) is None  # nothing applied

    no_url = env.opsctl("release", "resume", ENV, "--yes")
    assert no_url.code == 1
    assert "runs its migrations on --database-url: pass it again" in no_url.stderr

    write_revision(extra, "0003", drop, phase="contract")
    resumed = env.opsctl("release", "resume", ENV, "--yes", "--database-url", url)
    assert resumed.code == 0, resumed.output
    assert resumed.stdout.index("Deploy") < resumed.stdout.index("applied 0003")
    assert _db_revision(env, url) == "0003"
    assert env.fleet().weights() == {other(live): 100, live: 0}


# --- helpers -----------------------------------------------------------------------------------
def _step(clients: Clients) -> str | None:
    deployment = record.load_deployment(clients.ssm, ENV)
    return deployment.step if deployment and deployment.active else None


def wait_until(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout} s")
