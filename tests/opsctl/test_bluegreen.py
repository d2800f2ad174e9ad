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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from opsctl import lock
from opsctl.bluegreen import COLOURS, other, record
from opsctl.bluegreen.clients import Clients
from opsctl.bluegreen.engine import BlueGreenError, Engine, Guard, ListReport
from opsctl.bluegreen.fleet import Capacity, Fleet
from opsctl.bluegreen.stack import Stack, discover, read_outputs
from opsctl.bluegreen.timing import Timings
from opsctl.exitcodes import Exit
from opsctl.local.emulator import MotoServer
from opsctl.release.gates import contracted_parameter
from tests.support.mariadb import MariaDB
from tests.support.opsctl_run import Opsctl
from tests.support.paths import REPO
from tests.support.revisions import write_revision
from tests.support.stack_apply import apply_fresh

pytestmark = pytest.mark.slow
REGION, BUCKET, ENV = "eu-west-1", "ingest-tfstate-local", "local"
# min_bake=0: the alarm gate's timing rule (bake >= evaluation window + metric delay, 7 min for
# the stack's alarms) is tested on its own; everywhere else bakes are fractions of a second.
FAST = Timings(poll=0.1, healthy_timeout=2.0, drain=0.0, metric_delay=0.0, min_bake=0.0)
# The subprocess CLI polls fast too (opsctl/bluegreen/timing.py reads these).
FAST_ENV = {
    "OPSCTL_BG_POLL_SECONDS": "0.2",
    "OPSCTL_BG_HEALTHY_TIMEOUT": "5",
    "OPSCTL_BG_DRAIN_SECONDS": "0",
    "OPSCTL_BG_MIN_BAKE": "0",
}
NOT_HELD = lock.Lock(env=ENV, token=0, revision=0)
ACCOUNT = "123456789012"  # moto's account, envs/local.yaml's account_id
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
        timings = kwargs.pop("timings", FAST)
        kwargs.setdefault("ami_owners", [ACCOUNT])
        return Engine(clients, self.stack(clients), report, timings, by="pytest", **kwargs)

    def fleet(self) -> Fleet:
        clients = self.clients()
        return Fleet(clients, self.stack(clients))

    def new_ami(self, name: str, architecture: str = "x86_64", packer_tags: bool = True) -> str:
        """An AMI as packer/ingest.pkr.hcl registers it: in this account, with its tags."""
        ec2 = self.clients().ec2
        image = ec2.register_image(
            Name=f"ingest-{name}-{time.monotonic_ns()}",
            RootDeviceName="/dev/xvda",
            Architecture=architecture,
            VirtualizationType="hvm",
        )
        ami = str(image["ImageId"])
        if packer_tags:
            ec2.create_tags(
                Resources=[ami],
                Tags=[{"Key": "Version", "Value": "1.0.0"}, {"Key": "GitSha", "Value": "abc1234"}],
            )
        return ami

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
        apply_fresh(moto_server, opsctl, ENV)
        yield Env(opsctl, moto_server.endpoint)


@pytest.fixture
def env(stack: Env) -> Env:
    """Every test starts from a settled stack: one colour live at 100%, the other at 0, no
    deployment under way, alarms OK, the lock free."""
    clients = stack.clients()
    fleet = stack.fleet()
    alarms = fleet.stack.deployment_alarms("blue") + fleet.stack.deployment_alarms("green")
    for alarm in dict.fromkeys(alarms):
        clients.cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="test")
    lock.Store.open(ENV, REGION, stack.url).break_lock()
    with contextlib.suppress(clients.ssm.exceptions.ParameterNotFound):  # no contract recorded
        clients.ssm.delete_parameter(Name=contracted_parameter(ENV))
    deployment = record.load_deployment(clients.ssm, ENV)
    if deployment is not None and deployment.active:
        deployment.status = "aborted"
        record.save_deployment(clients.ssm, ENV, deployment)
    live = stack.engine().live()
    if fleet.capacity(live) != Capacity(1, 2, 1):
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
    # Before the switch the live ASG is only pinned (min raised to its desired), never resized.
    live_desired = touched_live[0].params["DesiredCapacity"] if touched_live else None
    assert all(
        c.params["MinSize"] == c.params["DesiredCapacity"] == live_desired for c in touched_live
    )
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


def test_preflight_refuses_a_target_whose_replacement_is_suspended(env: Env) -> None:
    """A release killed (SIGKILL, a lost machine) while expand ran leaves the new colour's
    ReplaceUnhealthy suspended (opsctl/migrate/remote.py health_replacement_suspended); a deploy
    onto that group would never replace an instance failing its checks. moto keeps suspended
    processes as AWS does (DescribeAutoScalingGroups SuspendedProcesses)."""
    clients = env.clients()
    idle = other(env.engine().live())
    asg = env.stack().asg[idle]
    clients.autoscaling.suspend_processes(
        AutoScalingGroupName=asg, ScalingProcesses=["ReplaceUnhealthy"]
    )
    try:
        with pytest.raises(Guard, match=f"{asg} has ReplaceUnhealthy suspended") as refused:
            env.engine().deploy(env.new_ami("suspended"), [10], bake=0.1, keep_old=0)
        assert (
            f"aws autoscaling resume-processes --auto-scaling-group-name {asg} "
            "--scaling-processes ReplaceUnhealthy"
        ) in str(refused.value)
    finally:
        clients.autoscaling.resume_processes(AutoScalingGroupName=asg)


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
    plan = env.opsctl("plan", ENV, "--json")
    assert plan.code == 0, plan.output  # opsctl owns weights, capacity, AMI: no drift
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
        "release", ENV, "--ami", ami, "--canary", "50", "--bake", "15", "--keep-old", "0", "--yes"
    )  # a 15 s bake: the SIGINT lands inside it even when a loaded runner answers the poll late
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


# --- a release whose expand runs on the new colour (the instance's side played here) -----------
RELEASE_EXPAND = 'op.add_column("jobs", sa.Column("release_note", sa.String(32), nullable=True))'
RELEASE_CONTRACT = 'op.drop_column("jobs", "release_note")'


def test_release_expands_on_a_new_colour_instance_before_it_passes_health_instance_played_here(
    env: Env, db: tuple[MariaDB, str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A release on the applied stack, `opsctl release`'s own flow from the plan on (the plan
    step's terraform run is tested above). Main ran expand over SSM on an instance of the LIVE
    colour (its old AMI lacks the new revisions) and linted the operator's checkout.

    Real: moto (ASGs, listener, SSM SendCommand, EC2), MariaDB, and one `ingest-service serve`
    process running the release's code (its revisions: the AMI's folder) that plays the new
    colour's instance. MOCK (moto's SSM runs nothing): the instance's side of each Run Command is
    played by running its `ingest-service ...` here against that MariaDB with the AMI's
    revisions (tests/support/played_instance.py); and the ALB's health check of the new colour
    is that process's GET /health (HealthFromService).

    Shown: the new colour's code answers 503 "schema behind" (so its targets fail the health
    check) until expand ran, and its group's ReplaceUnhealthy is suspended meanwhile (on AWS,
    once the 300 s grace period is over, the group would replace the failing instance mid-DDL,
    scale-in protection or not); expand was sent to an InService instance of the NEW colour, which
    boots the release's AMI, at 0 % traffic, after scale-up and before wait-healthy; lint and
    the head check ran there, on the AMI's revisions (the operator's checkout, whose lint fails,
    was never linted); contract ran last, on the live colour, once the old one was gone."""
    import httpx

    from opsctl import aws as aws_factory
    from opsctl.config import load
    from opsctl.migrate.local import run_service
    from opsctl.release.flow import run_release
    from opsctl.release.log import Release, SharedLog
    from opsctl.terraform import render
    from tests.support.played_instance import (
        HealthFromService,
        LocalInstance,
        Sent,
        health_code,
        install,
    )
    from tests.support.service import FAST, Processes

    url = db[2]
    ami_revisions = tmp_path / "ami-versions"  # what the release's AMI ships beyond 0002
    write_revision(ami_revisions, "0003", RELEASE_EXPAND)
    write_revision(ami_revisions, "0004", RELEASE_CONTRACT, phase="contract", down="0003")
    checkout = tmp_path / "checkout-versions"  # the operator's checkout: a destructive expand
    write_revision(checkout, "0003", 'op.drop_column("jobs", "schema_version")')
    monkeypatch.setenv("INGEST_MIGRATIONS_EXTRA", str(checkout))
    assert run_service(["schema", "lint"]).code == 1  # linting the checkout would refuse

    real = env.clients()
    stack = env.stack(real)
    live = env.engine(real).live()
    new = other(live)
    ami = env.new_ami("expand-on-new")
    instance = LocalInstance(aws_factory.client("ssm", REGION, env.url), url, ami_revisions)
    code, out, err = instance.run_service(["schema", "up", "--revision=0002"])  # the old schema
    assert code == 0, out + err
    processes = Processes(tmp_path)
    try:
        _service, base = processes.serve(
            {"database_url": url, "migrations_extra": str(ami_revisions), **FAST}
        )
        held = httpx.get(f"{base}/health", timeout=10)
        assert held.status_code == 503, held.text
        assert held.json()["error"]["message"] == (
            "schema behind: database at 0002, this code needs 0003"
        )

        events: list[tuple[Any, ...]] = []
        suspended: dict[str, list[str]] = {}  # action -> the new colour's suspended processes

        def on_send(sent: Sent) -> None:
            (group,) = real.autoscaling.describe_auto_scaling_groups(
                AutoScalingGroupNames=[stack.asg[new]]
            )["AutoScalingGroups"]
            suspended[sent.action] = [p["ProcessName"] for p in group["SuspendedProcesses"]]
            deployment = record.load_deployment(real.ssm, ENV)
            assert deployment is not None
            done = [step for step, _at in deployment.steps]
            weights = Fleet(real, stack).weights()
            events.append(("send", sent, weights, done, deployment.target, health_code(base)))

        instance.on_send = on_send
        health = HealthFromService(
            aws_factory.client("elbv2", REGION, env.url), stack.target_group[new], base, events
        )
        install(monkeypatch, instance, health)
        monkeypatch.setattr(render, "BUILD", env.opsctl.build_dir)
        monkeypatch.setenv("OPSCTL_BG_HEALTHY_TIMEOUT", "120")
        monkeypatch.setenv("OPSCTL_MIGRATE_POLL_SECONDS", "0.05")
        options = {
            "canary": [50],
            "bake": 0.0,
            "keep_old": 0.0,
            "migrations": "environment",
            "schema_head": "0004",
        }
        run = Release.new(ENV, ami, options, SharedLog(real.s3, BUCKET, ENV))
        run.log("plan", "done", detail="no infrastructure changes pending")
        run_release(load(ENV), run, env.url, True, None)
    finally:
        processes.stop_all()

    sends = [e for e in events if e[0] == "send"]
    assert [e[1].action for e in sends] == [
        "lint",
        "status --json",
        "up --phase=expand",
        "up --phase=contract",
    ]
    codes = [e[1].code for e in sends]
    assert codes == [0, 2, 0, 0], [(e[1].action, e[1].stderr) for e in sends]  # 2: pending
    expand = next(e for e in sends if e[1].action == "up --phase=expand")
    _, sent, weights, done, target, code_then = expand
    assert target == new
    (instance_id,) = sent.instance_ids
    assert all(e[1].instance_ids == [instance_id] for e in sends[:3])  # lint, head, expand
    assert instance_id in running_amis(env, new)  # an instance of the NEW colour ...
    assert running_amis(env, new)[instance_id] == ami  # ... booting the release's AMI
    assert weights[new] == 0  # no traffic yet
    assert "scale-up" in done
    assert "wait-healthy" not in done  # before the engine waits for health
    assert code_then == 503  # its code was held back until now
    assert "applied 0003" in sent.stdout
    # ... and Auto Scaling could not replace it for failing that health check meanwhile.
    for action in ("lint", "status --json", "up --phase=expand"):
        assert suspended[action] == ["ReplaceUnhealthy"], (action, suspended)
    (group,) = real.autoscaling.describe_auto_scaling_groups(
        AutoScalingGroupNames=[stack.asg[new]]
    )["AutoScalingGroups"]
    assert group["SuspendedProcesses"] == []  # resumed once expand ran
    # The new colour's targets failed their health check until expand ran, passed after.
    at = events.index(expand)
    assert all(e[1] != 200 for e in events[:at] if e[0] == "health")
    assert any(e[1] == 200 for e in events[at:] if e[0] == "health")
    # Contract: after the switch, on the live (new) colour, the old one scaled away.
    contract = sends[-1]
    assert contract[2] == {new: 100, live: 0}
    assert contract[1].instance_ids[0] in running_amis(env, new)
    assert running_amis(env, live) == {}
    assert "applied 0004" in contract[1].stdout
    assert "applied 0003" not in contract[1].stdout  # main's contract applied expand with it
    code, out, err = instance.run_service(["schema", "status", "--json"])
    assert (code, json.loads(out)["current"]) == (0, "0004"), err
    assert run.outcome == "done"
    assert run.steps["expand-migrations"]["colour"] == new
    assert run.steps["expand-migrations"]["command"] == sent.command_id
    assert run.status_of("contract-migrations") == "done"
    stored = real.ssm.get_parameter(Name=contracted_parameter(ENV))["Parameter"]["Value"]
    assert json.loads(stored)["ami"] == ami


# --- AWS behaviour moto lacks, injected at the clients seam (issue 17) ---------------------------
# Each injection names what real AWS does and where AWS documents it. Everything not injected is
# moto's real behaviour on the applied local stack.
AWS_DOCS = {
    "target-health": "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/"
    "target-group-health-checks.html (states initial/healthy/unhealthy/draining)",
    "deregistration": "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/"
    "edit-target-group-attributes.html#deregistration-delay",
    "alarms": "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/"
    "AlarmThatSendsEmail.html (evaluation, INSUFFICIENT_DATA)",
    "activities": "https://docs.aws.amazon.com/autoscaling/ec2/APIReference/"
    "API_DescribeScalingActivities.html (StatusCode Failed/Cancelled, StatusMessage)",
    "target-tracking": "https://docs.aws.amazon.com/autoscaling/ec2/userguide/"
    "as-scaling-target-tracking.html (scale-in within MinSize)",
    "stickiness": "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/"
    "API_TargetGroupStickinessConfig.html",
    "sts": "https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html "
    "(ExpiredTokenException)",
    "ec2-consistency": "https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html "
    "(InvalidInstanceID.NotFound for an instance just launched)",
}


def client_error(code: str, message: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


def on_canary(stack: Stack, target: str) -> Callable[[Call], bool]:
    """True for the ModifyListener call that gives `target` its first canary weight."""

    def test(call: Call) -> bool:
        if call.operation != "modify_listener":
            return False
        weights = _colour_weights(stack, call.params["DefaultActions"])
        return 0 < weights.get(target, 0) < 100

    return test


def alarms_where(
    env: Env, started: Callable[[], bool], answer: Callable[[str, int], str | None]
) -> dict[str, Callable[..., Any]]:
    """DescribeAlarms once `started()`: answer(alarm, n-th call since) gives its state (None:
    moto's own; "absent": left out, as DescribeAlarms does for names it does not know)."""
    real = env.clients().cloudwatch
    count = [0]

    def describe_alarms(**params: Any) -> Any:
        found = real.describe_alarms(**params)
        if not started():
            return found
        count[0] += 1
        kept = []
        for alarm in found["MetricAlarms"]:
            state = answer(alarm["AlarmName"], count[0])
            if state == "absent":
                continue
            if state:
                alarm["StateValue"] = state
            kept.append(alarm)
        found["MetricAlarms"] = kept
        return found

    return {"describe_alarms": describe_alarms}


def running_amis(env: Env, colour: str) -> dict[str, str]:
    """What each instance of the colour's group runs, as EC2 says (instance id -> ImageId)."""
    clients = env.clients()
    group = clients.autoscaling.describe_auto_scaling_groups(
        AutoScalingGroupNames=[env.stack().asg[colour]]
    )["AutoScalingGroups"][0]
    ids = [i["InstanceId"] for i in group["Instances"]]
    if not ids:
        return {}
    found = clients.ec2.describe_instances(InstanceIds=ids)["Reservations"]
    return {i["InstanceId"]: i["ImageId"] for r in found for i in r["Instances"]}


def test_deploy_replaces_idle_instances_on_an_old_template_version(env: Env) -> None:
    """Issue 17 #1. AWS: a new launch-template version only affects future launches
    (EC2 User Guide, "Modify a launch template"); moto keeps the old instance too. An idle colour
    that still runs an instance of its old AMI (a kept old colour, `switch --to` back) must not
    take canary traffic: the deploy replaces it, and status shows what instances really run."""
    live = env.engine().live()
    idle = other(live)
    fleet = env.fleet()
    old_ami = fleet.template_version(idle)[1]
    fleet.scale(idle, Capacity(1, 1, 1))
    assert set(running_amis(env, idle).values()) == {old_ami}
    ami = env.new_ami("fresh")
    spy = spied(env)
    result = env.engine(spy.clients).deploy(ami, [10], bake=0.1, keep_old=0)
    assert result.code == Exit.OK, result.message
    running = running_amis(env, idle)
    assert running
    assert set(running.values()) == {ami}, running
    status = env.engine().status()
    assert status["colours"][idle]["running_amis"] == {ami: len(running)}
    assert status["colours"][idle]["ami"] == ami
    shown = env.opsctl("bluegreen", "status", ENV)
    assert f"1x {ami}" in shown.stdout


def test_bake_shorter_than_the_alarm_window_is_refused(env: Env) -> None:
    """Issue 17 #2 (timing). AWS: an alarm needs EvaluationPeriods x Period of datapoints, which
    arrive minutes late (AWS_DOCS["alarms"]). The stack's deployment alarms evaluate 5 x 60 s
    (dead jobs / DLQ 1 x 300 s): with a 120 s metric delay no bake under 7 min can see them fire."""
    timings = Timings(poll=0.1, healthy_timeout=2.0, drain=0.0, metric_delay=120.0)
    engine = env.engine(timings=timings)
    with pytest.raises(Guard, match=r"bake 1m is shorter than .* = 7m.*--bake 7m"):
        engine.deploy(env.new_ami("short-bake"), [10], bake=60, keep_old=0)
    assert env.fleet().weights()[engine.live()] == 100
    assert engine.min_bake(other(engine.live()))[0] == 420
    refused = env.opsctl(
        "bluegreen", "deploy", ENV, "--ami", env.new_ami("cli-bake"), "--bake", "60", "--yes",
        env_extra={"OPSCTL_BG_MIN_BAKE": "", "OPSCTL_BG_METRIC_DELAY": "120"},
    )  # fmt: skip
    assert refused.code == Exit.ABORTED, refused.output
    assert "--bake 7m" in refused.stderr


@pytest.mark.parametrize("which", ["colour-5xx", "dead-jobs"])
def test_the_target_colours_alarms_and_the_job_alarms_gate_the_canary(env: Env, which: str) -> None:
    """Issue 17 #2 (dilution, job alarms). A 10 % canary failing 40 % of its requests is 4 % of
    the load balancer's: only the target group's own 5xx alarm sees it. The new colour's workers
    take jobs whatever the weights: dead jobs roll back too. moto's set_alarm_state plays
    CloudWatch moving the alarm to ALARM while the canary bakes."""
    live = env.engine().live()
    idle = other(live)
    stack = env.stack()
    outputs = read_outputs(env.clients(), BUCKET, ENV)  # modules/monitoring, via the env outputs
    key = "colour_alarm_names" if which == "colour-5xx" else "job_alarm_names"
    names = outputs[key][idle] if which == "colour-5xx" else outputs[key]
    alarm = next(a for a in names if a.endswith(("alb-5xx-" + idle, "dead-jobs")))
    cloudwatch = env.clients().cloudwatch
    canary = on_canary(stack, idle)

    def fire(call: Call) -> None:
        if canary(call):
            cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason=which)

    spy = spied(env, before=fire)
    result = env.engine(spy.clients).deploy(env.new_ami(which), [10], bake=1.0, keep_old=0)
    assert result.code == Exit.ROLLED_BACK, result.message
    assert f"alarm {alarm} in ALARM during the bake at 10%" in result.message
    assert env.fleet().weights() == {live: 100, idle: 0}


def test_no_traffic_moves_while_the_new_colours_alarm_still_reports_its_health_checks(
    env: Env,
) -> None:
    """AWS: the ALB publishes UnHealthyHostCount per minute and the unhealthy-hosts alarm wants
    3 of 3 minutes (modules/monitoring); a colour whose targets failed their health checks while
    it booted (or while a release ran expand on it) keeps that alarm in ALARM for 1-3 minutes
    after its targets turned healthy, until CloudWatch evaluates fresh datapoints
    (AWS_DOCS["alarms"]). MOCK (moto never evaluates an alarm): set_alarm_state puts it in ALARM
    as the wait for health begins and back to OK at the 4th DescribeAlarms after that. The
    canary waits for it instead of moving 10 % and rolling straight back on a stale state;
    and an alarm that stays in ALARM rolls back with no traffic moved."""
    live = env.engine().live()
    idle = other(live)
    stack = env.stack()
    outputs = read_outputs(env.clients(), BUCKET, ENV)
    alarm = next(a for a in outputs["colour_alarm_names"][idle] if "unhealthy-hosts" in a)
    cloudwatch = env.clients().cloudwatch
    # Every ModifyListener: its weights, the alarm's state then, DescribeAlarms calls before it.
    moved: list[tuple[dict[str, int], str, int]] = []
    seen = {"scaled": False, "fired": False, "describes": 0, "clears": True}

    def play(call: Call) -> None:
        if call.operation == "update_auto_scaling_group":
            scaled = call.params.get("DesiredCapacity", 0) > 0
            seen["scaled"] = seen["scaled"] or (
                scaled and call.params["AutoScalingGroupName"] == stack.asg[idle]
            )
        elif call.operation == "describe_target_health" and seen["scaled"] and not seen["fired"]:
            if call.params.get("TargetGroupArn") == stack.target_group[idle]:
                seen["fired"] = True
                cloudwatch.set_alarm_state(
                    AlarmName=alarm, StateValue="ALARM", StateReason="3 of 3 unhealthy"
                )
        elif call.operation == "describe_alarms" and seen["fired"]:
            seen["describes"] += 1
            if seen["describes"] == 4 and seen["clears"]:
                cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="0")
        elif call.operation == "modify_listener":
            weights = _colour_weights(stack, call.params["DefaultActions"])
            state = cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]
            moved.append((weights, state["StateValue"], seen["describes"]))

    timings = Timings(poll=0.05, healthy_timeout=2.0, drain=0.0, metric_delay=0.0, min_bake=10.0)
    spy = spied(env, before=play)
    result = env.engine(spy.clients, timings=timings).deploy(
        env.new_ami("stale-alarm"), [10], bake=0.1, keep_old=0, force=True
    )
    assert result.code == Exit.OK, result.message
    weights, state, looks = moved[0]
    assert (weights, state) == ({idle: 10, live: 90}, "OK"), moved
    assert looks >= 4, moved  # it waited for the alarm to clear
    assert env.fleet().weights() == {idle: 100, live: 0}

    # Still in ALARM after a minimum bake: back to the source, and no traffic ever moved.
    live, idle = idle, live
    alarm = next(a for a in outputs["colour_alarm_names"][idle] if "unhealthy-hosts" in a)
    moved.clear()
    seen.update(scaled=False, fired=False, describes=0, clears=False)
    timings = Timings(poll=0.05, healthy_timeout=2.0, drain=0.0, metric_delay=0.0, min_bake=0.5)
    try:
        result = env.engine(spied(env, before=play).clients, timings=timings).deploy(
            env.new_ami("firing-alarm"), [10], bake=0.1, keep_old=0, force=True
        )
    finally:
        cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="test done")
    assert result.code == Exit.ROLLED_BACK, result.message
    assert f"alarm {alarm} in ALARM before moving 10% of traffic" in result.message
    assert all(weights.get(idle, 0) == 0 for weights, _state, _n in moved), moved
    assert env.fleet().weights() == {live: 100, idle: 0}


def test_a_missing_alarm_is_refused_and_insufficient_data_does_not_pass(env: Env) -> None:
    """Issue 17 #2 (missing, INSUFFICIENT_DATA). AWS: DescribeAlarms leaves out names it does
    not know; a new alarm, or one whose metric is not published yet, is INSUFFICIENT_DATA until
    its first evaluation, then ALARM after the evaluation delay (AWS_DOCS["alarms"])."""
    live = env.engine().live()
    idle = other(live)
    stack = env.stack()
    gone = stack.alarm_names[0]
    absent = alarms_where(env, lambda: True, lambda name, _n: "absent" if name == gone else None)
    with pytest.raises(Guard, match=f"deployment alarms missing in CloudWatch: {gone}"):
        env.engine(spied(env, {"cloudwatch": absent}).clients).deploy(
            env.new_ami("absent"), [10], bake=0.1, keep_old=0
        )

    # Every alarm INSUFFICIENT_DATA when the canary starts; alb-5xx reaches ALARM on the 8th
    # evaluation, well after the 0.2 s bake: the bake must not end on INSUFFICIENT_DATA.
    started = [False]
    lb_alarm = stack.alarm_names[0]

    def later(name: str, n: int) -> str:
        return "ALARM" if name == lb_alarm and n >= 8 else "INSUFFICIENT_DATA"

    def note(call: Call) -> None:
        started[0] = started[0] or on_canary(stack, idle)(call)

    spy = spied(env, {"cloudwatch": alarms_where(env, lambda: started[0], later)}, before=note)
    timings = Timings(poll=0.1, healthy_timeout=2.0, drain=0.0, metric_delay=0.0, min_bake=30.0)
    result = env.engine(spy.clients, timings=timings).deploy(
        env.new_ami("insufficient"), [10], bake=0.2, keep_old=0, force=True
    )
    assert result.code == Exit.ROLLED_BACK, result.message
    assert f"alarm {lb_alarm} in ALARM during the bake at 10%" in result.message
    assert env.fleet().weights() == {live: 100, idle: 0}

    # INSUFFICIENT_DATA that never clears: after one more minimum bake, roll back.
    started[0] = False
    stuck = spied(
        env,
        {"cloudwatch": alarms_where(env, lambda: started[0], lambda _a, _n: "INSUFFICIENT_DATA")},
        before=note,
    )
    timings = Timings(poll=0.1, healthy_timeout=2.0, drain=0.0, metric_delay=0.0, min_bake=0.3)
    result = env.engine(stuck.clients, timings=timings).deploy(
        env.new_ami("stuck"), [10], bake=0.2, keep_old=0, force=True
    )
    assert result.code == Exit.ROLLED_BACK, result.message
    assert "stayed INSUFFICIENT_DATA through the bake at 10%" in result.message


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_mid_canary_put_the_traffic_back(env: Env, sig: signal.Signals) -> None:
    """Issue 17 #3. A real `opsctl bluegreen deploy` gets a real SIGTERM (kill, a CI runner
    stopping) or SIGHUP (the SSH session dropping) during the bake at 10 %: the weights go back
    to the source colour (default action and rule), the record says so, exit 4; resume goes on."""
    clients = env.clients()
    live = env.engine().live()
    process = env.spawn(
        "bluegreen", "deploy", ENV, "--ami", env.new_ami(sig.name), "--canary", "10",
        "--bake", "60", "--keep-old", "0", "--yes",
    )  # fmt: skip
    try:
        wait_until(lambda: _step(clients) == "canary-10" and env.fleet().weights()[live] == 90)
        process.send_signal(sig)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == Exit.ABORTED, out + err
    assert f"{sig.name} during step canary-10; weights put back: 100% on {live}" in err
    assert env.fleet().weights() == {live: 100, other(live): 0}
    assert rule_weights(env) == [{live: 100, other(live): 0}]
    deployment = record.load_deployment(clients.ssm, ENV)
    assert deployment is not None
    assert deployment.status == "interrupted"
    assert f"{sig.name} during step canary-10" in (deployment.reason or "")
    assert not (lock.Store.open(ENV, REGION, env.url).read() or NOT_HELD).held
    deployment.bake = 0.2
    record.save_deployment(clients.ssm, ENV, deployment)
    resumed = env.opsctl("bluegreen", "deploy", ENV, "--resume", "--yes")
    assert resumed.code == 0, resumed.output
    assert env.fleet().weights() == {other(live): 100, live: 0}


def test_expired_token_mid_canary_puts_traffic_back_or_says_what_is_left(env: Env) -> None:
    """Issue 17 #3 (unexpected errors). AWS: a one-hour SSO role session ends with
    ExpiredTokenException on the next call (AWS_DOCS["sts"]). Once during the bake (the SDK then
    refreshes the credentials): the weights go back and the record says why. On every call
    from then on: nothing can be changed, so the error names the weights left and the fix, and
    `status` / `rollback` with fresh credentials show and repair it."""
    live = env.engine().live()
    idle = other(live)
    stack = env.stack()
    canary = on_canary(stack, idle)
    expired = client_error("ExpiredTokenException", "The security token included in the "
                           "request is expired", "DescribeAlarms")  # fmt: skip
    state = {"canary": False, "failures": 0, "all": False}

    def expire(call: Call) -> None:
        state["canary"] = state["canary"] or canary(call)
        if not state["canary"] or (call.operation == "modify_listener" and canary(call)):
            return
        if state["all"] or (call.operation == "describe_alarms" and state["failures"] == 0):
            state["failures"] += 1
            raise expired

    spy = spied(env, before=expire)
    with pytest.raises(BlueGreenError, match="weights put back: 100% on " + live):
        env.engine(spy.clients).deploy(env.new_ami("token"), [10], bake=0.5, keep_old=0)
    assert env.fleet().weights() == {live: 100, idle: 0}
    assert rule_weights(env) == [{live: 100, idle: 0}]
    deployment = record.load_deployment(env.clients().ssm, ENV)
    assert deployment is not None
    assert deployment.status == "interrupted"
    assert "ExpiredTokenException" in (deployment.reason or "")
    deployment.status = "aborted"
    record.save_deployment(env.clients().ssm, ENV, deployment)

    state.update(canary=False, failures=0, all=True)
    spy = spied(env, before=expire)
    with pytest.raises(BlueGreenError) as error:
        env.engine(spy.clients).deploy(env.new_ami("token-all"), [10], bake=0.5, keep_old=0)
    message = str(error.value)
    assert "could NOT put the weights back" in message
    assert f"{{'{idle}': 10, '{live}': 90}}" in message
    assert f"opsctl bluegreen rollback {ENV}" in message
    assert env.fleet().weights() == {live: 90, idle: 10}  # nothing could change it
    status = env.opsctl("bluegreen", "status", ENV)
    assert "traffic left split" in status.stdout
    assert f"opsctl bluegreen rollback {ENV}` puts all of it back on {live}" in status.stdout
    fixed = env.opsctl("bluegreen", "rollback", ENV, "--reason", "token expired", "--yes")
    assert fixed.code == 0, fixed.output
    assert env.fleet().weights() == {live: 100, idle: 0}
    assert rule_weights(env) == [{live: 100, idle: 0}]


def target_tracking(env: Env, started: Callable[[], bool]) -> Callable[[Call], None]:
    """AWS target tracking under low traffic: each evaluation lowers a group's desired capacity
    by one, never below its MinSize (AWS_DOCS["target-tracking"]). It runs whenever the engine
    polls alarms once `started()`; the call goes to moto for real."""
    autoscaling = env.clients().autoscaling
    names = list(env.stack().asg.values())

    def scale_in(call: Call) -> None:
        if call.operation != "describe_alarms" or not started():
            return
        for group in autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=names)[
            "AutoScalingGroups"
        ]:
            lower = max(group["MinSize"], group["DesiredCapacity"] - 1)
            if lower < group["DesiredCapacity"]:
                autoscaling.set_desired_capacity(
                    AutoScalingGroupName=group["AutoScalingGroupName"],
                    DesiredCapacity=lower,
                    HonorCooldown=False,
                )

    return scale_in


def test_target_tracking_cannot_shrink_either_colour_during_a_deploy(env: Env) -> None:
    """Issue 17 #4. Target tracking (on in prod, off in envs/local.yaml) lowers desired capacity
    mid-deploy: both colours are pinned (min = desired) for the whole deploy, so the switch puts
    100 % on as many instances as before, and the live colour's own min/max come back after."""
    live = env.engine().live()
    idle = other(live)
    fleet = env.fleet()
    fleet.scale(live, Capacity(1, 4, 3))
    started = [False]
    canary = on_canary(env.stack(), idle)

    def both(call: Call) -> None:
        started[0] = started[0] or canary(call)
        tracking(call)

    tracking = target_tracking(env, lambda: started[0])
    spy = spied(env, before=both)
    result = env.engine(spy.clients).deploy(env.new_ami("tracking"), [10, 50], 0.3, keep_old=0.3)
    assert result.code == Exit.OK, result.message
    assert env.fleet().capacity(idle) == Capacity(1, 4, 3)  # own settings back, desired kept
    assert len(env.fleet().health(idle).good) == 3


def test_rollback_restores_the_source_to_at_least_what_it_had(env: Env) -> None:
    """Issue 17 #4 (rollback). Target tracking works on the source during the bake; an alarm
    then rolls back: the source must take 100 % with at least its pre-flight capacity."""
    live = env.engine().live()
    idle = other(live)
    fleet = env.fleet()
    fleet.scale(live, Capacity(1, 4, 3))
    stack = env.stack()
    cloudwatch = env.clients().cloudwatch
    canary = on_canary(stack, idle)
    polls = [0]
    tracking = target_tracking(env, lambda: polls[0] > 0)

    def bake(call: Call) -> None:
        if canary(call):
            polls[0] = 1
        tracking(call)
        if call.operation == "describe_alarms" and polls[0]:
            polls[0] += 1
            if polls[0] == 4:
                cloudwatch.set_alarm_state(
                    AlarmName=stack.alarm_names[0], StateValue="ALARM", StateReason="5xx"
                )

    spy = spied(env, before=bake)
    result = env.engine(spy.clients).deploy(env.new_ami("rb-capacity"), [10], 5.0, keep_old=0)
    assert result.code == Exit.ROLLED_BACK, result.message
    assert env.fleet().weights() == {live: 100, idle: 0}
    assert env.fleet().capacity(live) == Capacity(1, 4, 3)
    assert len(env.fleet().health(live).good) == 3


def target_health(
    env: Env, colour: str, rewrite: Callable[[list[dict[str, Any]], int], list[dict[str, Any]]]
) -> dict[str, dict[str, Callable[..., Any]]]:
    """DescribeTargetHealth of `colour` rewritten: rewrite(descriptions, n-th call)."""
    real = env.clients().elbv2
    group = env.stack().target_group[colour]
    count = [0]

    def describe_target_health(**params: Any) -> Any:
        answer = real.describe_target_health(**params)
        if params.get("TargetGroupArn") == group:
            count[0] += 1
            answer["TargetHealthDescriptions"] = rewrite(
                answer["TargetHealthDescriptions"], count[0]
            )
        return answer

    return {"elbv2": {"describe_target_health": describe_target_health}}


def draining(target_id: str) -> dict[str, Any]:
    return {
        "Target": {"Id": target_id, "Port": 80},
        "TargetHealth": {
            "State": "draining",
            "Reason": "Target.DeregistrationInProgress",
            "Description": "Target deregistration is in progress",
        },
    }


def test_readiness_needs_a_healthy_share_and_ignores_draining_targets(env: Env) -> None:
    """Issue 17 #5. AWS: a registered target is `initial` until it passed HealthyThreshold
    checks (x interval) (AWS_DOCS["target-health"]); a replaced instance stays `draining` for
    the deregistration delay (AWS_DOCS["deregistration"]). Neither blocks the new colour once
    its own instances are healthy; the draining one is not counted as ready either."""
    live = env.engine().live()
    idle = other(live)

    def lagging(targets: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
        for target in targets:
            if n <= 3:
                target["TargetHealth"] = {
                    "State": "initial", "Reason": "Elb.RegistrationInProgress"
                }  # fmt: skip
        return [*targets, draining("i-0replaced000000001")]

    spy = spied(env, target_health(env, idle, lagging))
    result = env.engine(spy.clients).deploy(env.new_ami("draining"), [10], bake=0.1, keep_old=0)
    assert result.code == Exit.OK, result.message
    assert env.fleet().weights() == {idle: 100, live: 0}


def test_a_new_instance_ec2_does_not_describe_yet_is_waited_for(env: Env) -> None:
    """EC2 is eventually consistent: an instance the group has just launched can be unknown to
    DescribeInstances for a while, and one unknown ID fails the whole call with
    InvalidInstanceID.NotFound (AWS_DOCS["ec2-consistency"]). MOCK (moto describes every
    instance at once): each new instance is not found the first two times it is asked for. The
    wait goes on (that instance is not ready yet, nor stale) instead of ending the deploy."""
    live = env.engine().live()
    idle = other(live)
    real = env.clients().ec2
    known = set(running_amis(env, live)) | set(running_amis(env, idle))
    misses: dict[str, int] = {}

    def describe_instances(**params: Any) -> Any:
        for instance_id in params.get("InstanceIds", []):
            if instance_id not in known and misses.get(instance_id, 0) < 2:
                misses[instance_id] = misses.get(instance_id, 0) + 1
                raise client_error(
                    "InvalidInstanceID.NotFound",
                    f"The instance ID '{instance_id}' does not exist",
                    "DescribeInstances",
                )
        return real.describe_instances(**params)

    spy = spied(env, {"ec2": {"describe_instances": describe_instances}})
    result = env.engine(spy.clients).deploy(env.new_ami("young"), [10], bake=0.1, keep_old=0)
    assert result.code == Exit.OK, result.message
    assert misses, "no new instance was asked for"
    assert set(misses.values()) == {2}, misses  # each new instance was missed twice
    assert env.fleet().weights() == {idle: 100, live: 0}


def test_rollback_returns_traffic_when_the_source_meets_its_minimum(env: Env) -> None:
    """Issue 17 #5 (rollback). The source colour has a replaced instance still `draining`
    (AWS_DOCS["deregistration"]) when an alarm rolls the canary back: the source meets its own
    minimum, so all traffic goes back to it (it used to raise "cannot move traffic back")."""
    live = env.engine().live()
    idle = other(live)
    stack = env.stack()
    cloudwatch = env.clients().cloudwatch
    canary = on_canary(stack, idle)

    def fire(call: Call) -> None:
        if canary(call):
            cloudwatch.set_alarm_state(
                AlarmName=stack.alarm_names[0], StateValue="ALARM", StateReason="5xx"
            )

    spy = spied(
        env, target_health(env, live, lambda t, _n: [*t, draining("i-0replaced000000002")]), fire
    )
    result = env.engine(spy.clients).deploy(env.new_ami("rb-drain"), [10], bake=1.0, keep_old=0)
    assert result.code == Exit.ROLLED_BACK, result.message
    assert env.fleet().weights() == {live: 100, idle: 0}
    assert rule_weights(env) == [{live: 100, idle: 0}]


def test_a_failed_scaling_activity_ends_the_wait_with_its_message(env: Env) -> None:
    """Issue 17 #5 (launch failures). AWS: a launch that fails (bad AMI, KMS key, capacity) is
    a scaling activity with StatusCode Failed and the cause in StatusMessage
    (AWS_DOCS["activities"]); its targets never become healthy. The wait ends at once with that
    message instead of timing out."""
    live = env.engine().live()
    idle = other(live)
    ami = env.new_ami("kms")
    message = (
        "Instance became unhealthy while waiting for instance to be in InService state. "
        "Termination Reason: Client.InternalError: Client error on launch"
    )
    asg = env.stack().asg[idle]
    real = env.clients().autoscaling

    def describe_scaling_activities(**params: Any) -> Any:
        answer = real.describe_scaling_activities(**params)
        if params.get("AutoScalingGroupName") == asg:
            answer["Activities"] = [
                {
                    "ActivityId": "f9f2d65b-0000-4e8a-b5c2-cd2dd1b2a0d1",
                    "AutoScalingGroupName": asg,
                    "Description": "Launching a new EC2 instance: i-0bad000000000000",
                    "Cause": "an instance was started in response to a difference in capacity",
                    "StartTime": datetime.now(UTC),
                    "StatusCode": "Failed",
                    "StatusMessage": message,
                    "Progress": 100,
                },
                *answer.get("Activities", []),
            ]
        return answer

    def never_healthy(targets: list[dict[str, Any]], _n: int) -> list[dict[str, Any]]:
        for target in targets:
            target["TargetHealth"] = {"State": "initial", "Reason": "Elb.RegistrationInProgress"}
        return targets

    overrides = target_health(env, idle, never_healthy)
    overrides["autoscaling"] = {"describe_scaling_activities": describe_scaling_activities}
    timings = Timings(poll=0.1, healthy_timeout=30.0, drain=0.0)
    result = env.engine(spied(env, overrides).clients, timings=timings).deploy(
        ami, [], bake=0, keep_old=0
    )
    assert result.code == Exit.ROLLED_BACK, result.message
    assert f"{idle} cannot launch its instances" in result.message
    assert message in result.message
    assert env.fleet().weights() == {live: 100, idle: 0}


def test_listener_stickiness_longer_than_keep_old_is_refused(env: Env) -> None:
    """Issue 17 #6. AWS: with the listener's TargetGroupStickinessConfig a client stays on the
    target group it got for DurationSeconds (AWS_DOCS["stickiness"]), also once its weight is
    0: scaling the old colour down earlier gives them 503s. Refused up front, naming both."""
    real = env.clients().elbv2

    def describe_listeners(**params: Any) -> Any:
        answer = real.describe_listeners(**params)
        for listener in answer["Listeners"]:
            for action in listener["DefaultActions"]:
                if action["Type"] == "forward":
                    action["ForwardConfig"]["TargetGroupStickinessConfig"] = {
                        "Enabled": True, "DurationSeconds": 3600
                    }  # fmt: skip
        return answer

    spy = spied(env, {"elbv2": {"describe_listeners": describe_listeners}})
    with pytest.raises(
        Guard, match=r"listener target-group stickiness keeps clients on .* for 1h.*--keep-old 1h"
    ):
        env.engine(spy.clients).deploy(env.new_ami("sticky"), [10], bake=0.1, keep_old=60)
    assert env.fleet().weights()[env.engine().live()] == 100


def test_a_rule_update_failing_after_the_default_action_leaves_no_split_listener(
    env: Env,
) -> None:
    """Issue 17 #7. ModifyListener and ModifyRule are separate calls: AWS can throttle the
    second after the first changed (ELB API "Throttling", Rate exceeded). The half-applied
    change is found by reading both back, and put back on the source colour everywhere."""
    live = env.engine().live()
    idle = other(live)
    failed = [False]

    def throttle_once(call: Call) -> None:
        if call.operation == "modify_rule" and not failed[0]:
            failed[0] = True
            raise client_error("Throttling", "Rate exceeded", "ModifyRule")

    spy = spied(env, before=throttle_once)
    with pytest.raises(BlueGreenError, match="weights put back"):
        env.engine(spy.clients).deploy(env.new_ami("half"), [10], bake=0.1, keep_old=0)
    assert env.fleet().weights() == {live: 100, idle: 0}
    assert rule_weights(env) == [{live: 100, idle: 0}]


def test_restore_repairs_rules_keeps_other_actions_and_pinned_colours(env: Env) -> None:
    """Issue 17 #7 (repair, other actions, pinned rules). A rule left on other weights than
    the default action is repaired by rollback; an authenticate-oidc action before the forward
    is sent back untouched (its secret is never described: UseExistingClientSecret); a rule
    that forwards only to the live colour stops a deploy that would drain it."""
    live = env.engine().live()
    idle = other(live)
    fleet = env.fleet()
    fleet.scale(idle, Capacity(1, 1, 1))
    stack = env.stack()
    elbv2 = env.clients().elbv2
    groups = [{"TargetGroupArn": stack.target_group[c], "Weight": 50} for c in COLOURS]
    elbv2.modify_rule(
        RuleArn=stack.weighted_rule_arns[0],
        Actions=[{"Type": "forward", "ForwardConfig": {"TargetGroups": groups}}],
    )
    assert fleet.weights() == {live: 100, idle: 0}
    assert rule_weights(env) == [{live: 50, idle: 50}]
    env.engine().restore(live, Capacity(1, 2, 1))
    assert rule_weights(env) == [{live: 100, idle: 0}]
    assert fleet.capacity(idle).desired == 0

    oidc = {
        "Type": "authenticate-oidc",
        "Order": 1,
        "AuthenticateOidcConfig": {
            "Issuer": "https://idp.example.com", "AuthorizationEndpoint": "https://idp.example.com/a",
            "TokenEndpoint": "https://idp.example.com/t", "UserInfoEndpoint": "https://idp.example.com/u",
            "ClientId": "ingest",
        },
    }  # fmt: skip
    real = env.clients().elbv2
    sent: list[list[dict[str, Any]]] = []

    def describe_rules(**params: Any) -> Any:
        answer = real.describe_rules(**params)
        for rule in answer["Rules"]:
            if rule["RuleArn"] in stack.weighted_rule_arns:
                rule["Actions"] = [oidc, *({**a, "Order": 2} for a in rule["Actions"])]
        return answer

    def modify_rule(**params: Any) -> Any:
        sent.append(params["Actions"])  # moto cannot store OIDC: it gets the forward action
        forward = [a for a in params["Actions"] if a["Type"] == "forward"]
        return real.modify_rule(RuleArn=params["RuleArn"], Actions=forward)

    spy = spied(env, {"elbv2": {"describe_rules": describe_rules, "modify_rule": modify_rule}})
    result = env.engine(spy.clients).deploy(env.new_ami("oidc"), [10], bake=0.1, keep_old=0)
    assert result.code == Exit.OK, result.message
    assert sent
    assert all(actions[0]["Type"] == "authenticate-oidc" for actions in sent)
    assert all(a[0]["AuthenticateOidcConfig"]["UseExistingClientSecret"] for a in sent)
    assert [a[1]["Order"] for a in sent] == [2] * len(sent)

    now_live = idle
    pinned_rule = {
        "RuleArn": stack.weighted_rule_arns[0] + "-pinned",
        "Priority": "20",
        "IsDefault": False,
        "Conditions": [],
        "Actions": [{"Type": "forward", "TargetGroupArn": stack.target_group[now_live]}],
    }

    def with_pinned(**params: Any) -> Any:
        answer = real.describe_rules(**params)
        if "ListenerArn" in params:
            answer["Rules"].append(pinned_rule)
        return answer

    pinned = spied(env, {"elbv2": {"describe_rules": with_pinned}})
    with pytest.raises(Guard, match=f"forward only to {now_live}, which this deployment drains"):
        env.engine(pinned.clients).deploy(env.new_ami("pinned"), [10], bake=0.1, keep_old=0)


@pytest.mark.parametrize("problem", ["public-other-owner", "no-packer-tags", "arm64"])
def test_ami_checks_refuse_foreign_untagged_and_wrong_architecture_images(
    env: Env, problem: str
) -> None:
    """Issue 17 #8. Any AMI that describes used to pass. Refused, each naming why: an image
    owned by another account (a public one injected at DescribeImages: moto registers every
    image in its own account), one without packer's Version/GitSha tags, and an arm64 image
    for the template's t3.micro (x86_64 only; DescribeInstanceTypes on moto)."""
    live = env.engine().live()
    overrides: dict[str, dict[str, Callable[..., Any]]] = {}
    real = env.clients().ec2

    def described_as(**fields: Any) -> dict[str, dict[str, Callable[..., Any]]]:
        def describe_images(**params: Any) -> Any:
            answer = real.describe_images(**params)
            for image in answer["Images"]:
                image.update(fields)
            return answer

        return {"ec2": {"describe_images": describe_images}}

    if problem == "public-other-owner":
        ami = env.new_ami("public")
        overrides = described_as(OwnerId="099720109477", Public=True)
        expected = f"AMI {ami} is a public image owned by 099720109477, not by {ACCOUNT}"
    elif problem == "no-packer-tags":
        ami = env.new_ami("untagged", packer_tags=False)
        expected = f"AMI {ami} lacks the packer tags Version, GitSha"
    else:
        # DescribeImages reports the architecture an image was registered with; moto's
        # RegisterImage drops it, so it is put back here.
        ami = env.new_ami("arm", architecture="arm64")
        overrides = described_as(Architecture="arm64")
        expected = f"AMI {ami} is arm64, but {other(live)}'s launch template uses t3.micro"
    spy = spied(env, overrides)
    with pytest.raises(Guard) as refused:
        env.engine(spy.clients).deploy(ami, [10], bake=0.1, keep_old=0)
    assert expected in str(refused.value)
    assert weights_sent(spy.calls, env.stack()) == []


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
