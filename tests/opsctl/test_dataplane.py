"""The local data plane carries real traffic (opsctl/local/dataplane/): `make run-stack` (the
fixture starts opsctl/local/stack.py) applies the `local` stack once to the data plane's
emulator; real service processes per instance share one MariaDB, a real load balancer is in
front, and target health comes from real checks. Nothing is mocked: a bounded client load goes
through the load balancer while the real `opsctl bluegreen` CLI deploys, rolls back, and meets a
bad AMI or a killed process; the last test stops `make run-stack` with Ctrl-C.

Health-check settings are tightened on both target groups after the apply (interval 1 s, timeout
1 s, thresholds 2 / 2, deregistration delay 3 s) so that the tests take seconds; AWS's own
minimums are an interval of 5 s and a timeout of 2 s. The per-colour share of each canary step
is checked against its weight within 4 binomial standard deviations (+1 point), so a correct
router fails it about once in 15,000 runs.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config

from opsctl.bluegreen.clients import Clients
from opsctl.bluegreen.fleet import Capacity, Fleet
from opsctl.bluegreen.stack import Stack, discover
from opsctl.local.processes import free_port, port_open, wait_for
from tests.support.mariadb import MariaDB
from tests.support.opsctl_run import Opsctl, Result
from tests.support.paths import REPO
from tests.support.procfs import alive
from tests.support.service import API_KEYS, READ, WRITE, unique
from tests.support.stack_apply import emulator_raced

pytestmark = pytest.mark.slow
REGION, BUCKET, ENV = "eu-west-1", "ingest-tfstate-local", "local"
BG_ENV = {
    "OPSCTL_BG_POLL_SECONDS": "0.5",
    "OPSCTL_BG_HEALTHY_TIMEOUT": "60",
    "OPSCTL_BG_MIN_BAKE": "0",
}
CLIENTS = 4  # concurrent client connections of the load; each has one request in flight
RATE = 8.0  # requests per second per client (32 in all)


@dataclass
class Plane:
    opsctl: Opsctl
    emulator: str
    lb: str
    admin: str
    mariadb: MariaDB
    database: str
    amis: Path
    process: subprocess.Popen[bytes]  # `make run-stack` (python -m opsctl.local.stack)
    log: Path

    def clients(self) -> Clients:
        return Clients.create(REGION, self.emulator)

    def stack(self) -> Stack:
        return discover(self.clients(), BUCKET, ENV)

    def fleet(self) -> Fleet:
        clients = self.clients()
        return Fleet(clients, discover(clients, BUCKET, ENV))

    def status(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.admin}/status", timeout=5) as response:  # noqa: S310
            return dict(json.loads(response.read()))

    def ami(self, repo: Path = REPO, ref: str = "HEAD") -> str:
        result = self.opsctl(
            *("local", "ami", "--ref", ref, "--repo", str(repo), "--out", str(self.amis))
        )
        assert result.code == 0, result.output
        return result.stdout.strip().splitlines()[-1]

    def sql(self, statement: str) -> str:
        return self.mariadb.sql(f"USE {self.database}; {statement}").strip()

    def live(self) -> str:
        weights = self.fleet().weights()
        return max(weights, key=lambda c: weights[c])

    def wait_serving(self, colour: str, count: int = 1) -> None:
        """`count` instances of `colour` running and healthy behind the load balancer."""

        def ready() -> bool:
            healthy = [
                i
                for i in self.status()["instances"]
                if i["colour"] == colour
                and i["state"] == "running"
                and any(t["state"] == "healthy" for t in i["targets"].values())
            ]
            return len(healthy) >= count

        wait_for(ready, 90, f"{count} healthy {colour} instance(s)")


@pytest.fixture(scope="module")
def plane(
    mariadb: MariaDB, tmp_path_factory: pytest.TempPathFactory, terraform: object
) -> Iterator[Plane]:
    root = tmp_path_factory.mktemp("dataplane")
    database = f"dp_{unique('x').split('-')[1]}"
    mariadb.sql(f"CREATE DATABASE {database}; GRANT ALL ON {database}.* TO 'ingest'@'%';")
    url = mariadb.url().rsplit("/", 1)[0] + f"/{database}"
    env = dict(
        os.environ,
        INGEST_DATABASE_URL=url,
        INGEST_API_KEYS=API_KEYS,
        INGEST_ACCESS_LOG="false",
        INGEST_AUTO_MIGRATE="false",
        INGEST_POLL_SECONDS="0.2",
        INGEST_DB_POOL_SIZE="4",
        INGEST_METRICS_INTERVAL_SECONDS="3600",
    )
    env.pop("PYTHONPATH", None)
    shutil.copytree(REPO / "envs", root / "envs", ignore=shutil.ignore_patterns("templates"))
    env.pop("OPSCTL_EMULATOR_URL", None)
    run = run_stack(root, env, attempt=1)
    try:
        if not run.applied() and emulator_raced(run.log.read_text(errors="replace")):
            # As tests/support/stack_apply.py: moto raced; one fresh emulator and apply.
            print(f"make run-stack failed once, retrying:\n{run.log.read_text()[-3000:]}")
            run = run_stack(root, env, attempt=2)
            run.applied()
        if run.process.poll() is not None:
            raise RuntimeError(f"run-stack exited:\n{run.log.read_text()[-5000:]}")
        endpoints = json.loads(run.state.read_text())
        opsctl = Opsctl(root / "envs", run.build, endpoints["emulator"])
        found = Plane(
            opsctl,
            endpoints["emulator"],
            endpoints["load_balancer"],
            endpoints["admin"],
            mariadb,
            database,
            root / "amis",
            run.process,
            run.log,
        )
        clients = found.clients()
        stack = found.stack()
        # Below AWS's minimums (interval 5 s, timeout 2 s), which botocore enforces: unchecked.
        fast = boto3.client(
            "elbv2",
            region_name=REGION,
            endpoint_url=found.emulator,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(parameter_validation=False),
        )
        for arn in stack.target_group.values():
            fast.modify_target_group(
                TargetGroupArn=arn,
                HealthCheckIntervalSeconds=1,
                HealthCheckTimeoutSeconds=1,
                HealthyThresholdCount=2,
                UnhealthyThresholdCount=2,
            )
            fast.modify_target_group_attributes(
                TargetGroupArn=arn,
                Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "3"}],
            )
        for alarm in dict.fromkeys(
            stack.deployment_alarms("blue") + stack.deployment_alarms("green")
        ):
            clients.cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="test")
        found.wait_serving(found.live())
        yield found
    finally:
        for pid in descendants(run.process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        if run.process.poll() is None:
            run.process.send_signal(signal.SIGINT)
            try:
                run.process.wait(60)
            except subprocess.TimeoutExpired:
                run.process.kill()
                run.process.wait()
        mariadb.sql(f"DROP DATABASE IF EXISTS {database}")


@dataclass
class RunStack:
    process: subprocess.Popen[bytes]
    log: Path
    state: Path  # the endpoints the data plane wrote
    build: Path  # OPSCTL_BUILD_DIR

    def applied(self) -> bool:
        """Waits until run-stack has applied the stack (True) or exited (False)."""

        def done() -> bool:
            text = self.log.read_text(errors="replace")
            return self.process.poll() is not None or "Ctrl-C stops everything" in text

        wait_for(done, 900, "make run-stack to apply the local stack")
        return self.process.poll() is None


def run_stack(root: Path, env: dict[str, str], attempt: int) -> RunStack:
    """`make run-stack` itself (opsctl/local/stack.py): migrate, data plane, `opsctl apply
    local`, on free ports, with this attempt's own state, work and build directories."""
    ports = {name: free_port() for name in ("emulator", "lb", "admin")}
    state, build = root / f"dataplane-{attempt}.json", root / f"build-{attempt}"
    env = env | {
        "OPSCTL_EMULATOR_PORT": str(ports["emulator"]),
        "OPSCTL_LB_PORT": str(ports["lb"]),
        "OPSCTL_ADMIN_PORT": str(ports["admin"]),
        "OPSCTL_DATAPLANE_STATE": str(state),
        "OPSCTL_DATAPLANE_DIR": str(root / f"work-{attempt}"),
        "OPSCTL_ENVS_DIR": str(root / "envs"),
        "OPSCTL_BUILD_DIR": str(build),
        "NO_COLOR": "1",
    }
    log_path = root / f"run-stack-{attempt}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "opsctl.local.stack"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # SIGINT to it alone, as Ctrl-C to the foreground job
        )
    return RunStack(process, log_path, state, build)


def descendants(pid: int) -> set[int]:
    """Every process below `pid` (children, their children, ...), from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    found: set[int] = set()
    todo = [pid]
    while todo:
        current = todo.pop()
        for child, parent in parents.items():
            if parent == current and child not in found:
                found.add(child)
                todo.append(child)
    return found


# --- the client load ----------------------------------------------------------------------
@dataclass
class Sent:
    start: float
    end: float
    method: str
    status: int  # 0: no answer (transport error)
    target: str  # instance id, "" if none
    colour: str
    weights: str
    record: int | None = None


@dataclass
class Load:
    """CLIENTS threads, each with one keep-alive connection, sending at most RATE requests a
    second: a POST of one record, then a read of the dataset, in turn."""

    base: str
    dataset: str
    sent: list[Sent] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _next: Iterator[int] = field(default_factory=lambda: iter(range(1, 10**9)))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> Load:
        for _ in range(CLIENTS):
            thread = threading.Thread(target=self._run, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def _run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=30) as client:
            post = True
            while not self._stop.is_set():
                began = time.monotonic()
                with self._lock:
                    record = next(self._next)
                try:
                    if post:
                        response = client.post(
                            f"/v1/datasets/{self.dataset}/records",
                            json=[{"id": record, "name": f"r{record}"}],
                            headers=WRITE,
                        )
                    else:
                        response = client.get(
                            f"/v1/datasets/{self.dataset}/records",
                            params={"limit": 5},
                            headers=READ,
                        )
                    status = response.status_code
                    target, _, colour = response.headers.get("x-local-target", "").partition(";")
                    weights = response.headers.get("x-local-weights", "")
                except httpx.HTTPError:
                    status, target, colour, weights = 0, "", "", ""
                self.sent.append(
                    Sent(
                        began,
                        time.monotonic(),
                        "POST" if post else "GET",
                        status,
                        target,
                        colour,
                        weights,
                        record if post else None,
                    )
                )
                post = not post
                time.sleep(max(0.0, 1 / RATE - (time.monotonic() - began)))

    def failed(self) -> list[Sent]:
        return [s for s in self.sent if s.status != (202 if s.method == "POST" else 200)]

    def accepted(self) -> set[int]:
        return {s.record for s in self.sent if s.status == 202 and s.record is not None}


def register_dataset(plane: Plane) -> str:
    name = unique()
    schema = {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
        "required": ["id"],
    }
    response = httpx.put(
        f"{plane.lb}/v1/datasets/{name}",
        json={"schema": schema, "key_fields": ["id"]},
        headers=WRITE,
        timeout=10,
    )
    assert response.status_code in (200, 201), response.text
    return name


def shares(load: Load) -> dict[str, tuple[int, dict[str, int]]]:
    """Requests per weights label: (count, per colour)."""
    found: dict[str, Counter[str]] = defaultdict(Counter)
    for sent in load.sent:
        if sent.weights and sent.colour:
            found[sent.weights][sent.colour] += 1
    return {label: (sum(c.values()), dict(c)) for label, c in found.items()}


def check_shares(load: Load) -> list[str]:
    """Each step's share per colour within 4 binomial standard deviations (+1 point)."""
    problems = []
    for label, (count, per_colour) in shares(load).items():
        weights = {c: int(w) / 100 for c, w in (part.split("=") for part in label.split(";"))}
        for colour, weight in weights.items():
            share = per_colour.get(colour, 0) / count
            tolerance = 4 * math.sqrt(weight * (1 - weight) / count) + 0.01
            if abs(share - weight) > tolerance:
                problems.append(
                    f"{label}: {colour} got {share:.1%} of {count} (±{tolerance:.1%} allowed)"
                )
    return problems


def stored(plane: Plane, dataset: str, accepted: set[int]) -> None:
    """Every 202'd record ends up stored (the workers process every job)."""

    def done() -> bool:
        pending = plane.sql(
            f"SELECT COUNT(*) FROM jobs WHERE dataset = '{dataset}' AND status <> 'succeeded'"  # noqa: S608
        )
        return pending == "0"

    wait_for(done, 120, f"every job of {dataset} to succeed")
    query = f"SELECT record_key FROM records WHERE dataset = '{dataset}'"  # noqa: S608
    keys = plane.sql(query).split()
    assert {int(k) for k in keys} == accepted


def latency_p99(sent: list[Sent]) -> float:
    times = sorted(s.end - s.start for s in sent)
    return times[min(len(times) - 1, int(0.99 * len(times)))] if times else 0.0


def report(name: str, load: Load, result: Result, during: list[Sent]) -> None:
    """What docs/benchmarks.md and docs/operations.md quote (pytest -s shows it)."""
    print(f"\n--- {name}: {len(load.sent)} requests, {len(load.failed())} failed")
    for label, (count, per_colour) in sorted(shares(load).items()):
        parts = ", ".join(f"{c} {n / count:.1%}" for c, n in sorted(per_colour.items()))
        print(f"    weights {label}: {count} requests -> {parts}")
    split = [
        s for s in during if s.weights and all(not p.endswith("=0") for p in s.weights.split(";"))
    ]
    print(
        f"    during the command: {len(during)} requests, "
        f"{len([s for s in during if s in load.failed()])} failed, "
        f"p99 {latency_p99(during) * 1000:.0f} ms; while the traffic was split: "
        f"{len(split)} requests, p99 {latency_p99(split) * 1000:.0f} ms"
    )
    print(result.output)


# --- the tests ----------------------------------------------------------------------------------
def test_deploy_under_load_drops_nothing_and_follows_the_weights(plane: Plane) -> None:
    source = plane.live()
    target = "green" if source == "blue" else "blue"
    ami = plane.ami()
    dataset = register_dataset(plane)
    with Load(plane.lb, dataset) as load:
        time.sleep(2)
        began = time.monotonic()
        result = plane.opsctl(
            *("bluegreen", "deploy", ENV, "--ami", ami, "--canary", "10,50"),
            *("--bake", "8s", "--keep-old", "2s"),
            env_extra=BG_ENV,
        )
        ended = time.monotonic()
        time.sleep(2)
    during = [s for s in load.sent if began <= s.start <= ended]
    report("deploy under load", load, result, during)
    assert result.code == 0, result.output
    assert not load.failed(), load.failed()[:10]
    labels = shares(load)
    steps = {f"{source}=90;{target}=10", f"{source}=50;{target}=50", f"{source}=0;{target}=100"}
    steps = {_order(s) for s in steps}
    assert steps <= set(labels), labels
    assert not check_shares(load), check_shares(load)
    stored(plane, dataset, load.accepted())
    status = plane.status()
    assert {i["ami"] for i in status["instances"] if i["state"] == "running"} == {ami}
    shown = plane.opsctl("local", "status", "--admin", plane.admin)
    assert shown.code == 0, shown.output
    print(shown.stdout)
    assert ami in shown.stdout
    assert target in shown.stdout


def _order(label: str) -> str:
    """Weights labels list the colours in the listener's order (blue, green)."""
    parts = dict(part.split("=") for part in label.split(";"))
    return ";".join(f"{c}={parts[c]}" for c in ("blue", "green"))


def test_rollback_under_load_drops_nothing(plane: Plane) -> None:
    live = plane.live()
    previous = "green" if live == "blue" else "blue"
    dataset = register_dataset(plane)
    with Load(plane.lb, dataset) as load:
        time.sleep(2)
        result = plane.opsctl("bluegreen", "rollback", ENV, "--reason", "test", env_extra=BG_ENV)
        time.sleep(3)
    report("rollback under load", load, result, load.sent)
    assert result.code == 0, result.output
    assert not load.failed(), load.failed()[:10]
    assert plane.live() == previous
    assert any(s.colour == previous for s in load.sent)
    assert load.sent[-1].colour == previous
    stored(plane, dataset, load.accepted())


def test_a_bad_ami_never_gets_a_request_and_the_deploy_rolls_back(
    plane: Plane, tmp_path: Path
) -> None:
    """The bad build: a commit that adds an expand revision nobody applied, so its /health
    answers 503 "schema behind" (service/schema_gate.py), as a release without its expand step
    would."""
    from service import migrate

    head = migrate.revisions()[-1].revision
    bad = tmp_path / "bad"
    subprocess.run(["git", "clone", "--quiet", "--shared", str(REPO), str(bad)], check=True)
    (bad / "service" / "migrations" / "versions" / "0999_unapplied.py").write_text(
        '"""A revision the database never got."""\n'
        f'revision = "0999"\ndown_revision = "{head}"\nphase = "expand"\n'
        "branch_labels = None\ndepends_on = None\n\n\n"
        "def upgrade() -> None:\n    pass\n\n\ndef downgrade() -> None:\n    pass\n"
    )
    git = ["git", "-C", str(bad), "-c", "user.name=test", "-c", "user.email=test@example.com"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "--quiet", "-m", "needs 0999"], check=True)
    ami = plane.ami(repo=bad)
    source = plane.live()
    dataset = register_dataset(plane)
    with Load(plane.lb, dataset) as load:
        time.sleep(1)
        result = plane.opsctl(
            *("bluegreen", "deploy", ENV, "--ami", ami, "--canary", "10,50", "--bake", "5s"),
            env_extra=BG_ENV | {"OPSCTL_BG_HEALTHY_TIMEOUT": "15"},
        )
        time.sleep(1)
    report("bad AMI", load, result, load.sent)
    assert result.code == 5, result.output
    assert "unhealthy" in result.output
    assert "Target.ResponseCodeMismatch" in result.output
    assert not load.failed(), load.failed()[:10]
    assert {s.colour for s in load.sent} == {source}
    assert plane.live() == source
    stored(plane, dataset, load.accepted())


def test_a_killed_process_stops_getting_requests_after_the_unhealthy_threshold(
    plane: Plane,
) -> None:
    """SIGKILL of one of two web processes of the live colour. The bound: only requests in
    flight on it when it died fail (at most one per client connection: CLIENTS), as 502s; a
    request sent after its death finds the port closed and goes to the other target (the local
    load balancer retries a connection that cannot be opened; an ALB would answer those 502 until
    the checks take the target out: docs/local.md), and once the checks mark it unhealthy
    (2 failures x 1 s) it is not tried at all."""
    live = plane.live()
    fleet = plane.fleet()
    fleet.scale(live, Capacity(2, 2, 2))
    plane.wait_serving(live, 2)
    victim = next(
        i for i in plane.status()["instances"] if i["colour"] == live and i["state"] == "running"
    )
    dataset = register_dataset(plane)
    clients = plane.clients()
    arn = plane.stack().target_group[live]

    def state_of(instance: str) -> str:
        found = clients.elbv2.describe_target_health(TargetGroupArn=arn)
        return next(
            d["TargetHealth"]["State"]
            for d in found["TargetHealthDescriptions"]
            if d["Target"]["Id"] == instance
        )

    with Load(plane.lb, dataset) as load:
        time.sleep(2)
        pid = victim["processes"]["web"]["pid"]
        os.kill(pid, signal.SIGKILL)
        # SIGKILL is delivered asynchronously, and a killed process's sockets close only once
        # all its threads are gone (a zombie leader is not enough): dead = its port refuses.
        wait_for(lambda: not alive(pid) and not port_open(victim["port"]), 10, "the killed process")
        killed_at = time.monotonic()
        wait_for(lambda: state_of(victim["id"]) == "unhealthy", 30, "the killed target unhealthy")
        unhealthy_at = time.monotonic()
        time.sleep(3)
    failed = load.failed()
    print(f"\n--- SIGKILL: {len(load.sent)} requests, {len(failed)} failed: {failed}")
    assert len(failed) <= CLIENTS, failed
    assert all(s.start < killed_at and s.status == 502 for s in failed), failed
    assert not [s for s in load.sent if s.target == victim["id"] and s.start > killed_at]
    assert any(s.start > unhealthy_at for s in load.sent)


def test_ctrl_c_stops_everything_run_stack_started(plane: Plane) -> None:
    """`make run-stack` showed its progress while the stack applied; Ctrl-C (SIGINT to it alone,
    what a terminal sends the foreground job) stops the data plane and every instance process."""
    output = plane.log.read_text(errors="replace")
    assert "applying the local stack" in output
    assert "Still creating..." in output or "Creation complete" in output  # terraform's progress
    started = descendants(plane.process.pid)
    assert len(started) >= 3, "expected the data plane and an instance's web and worker"
    plane.process.send_signal(signal.SIGINT)
    assert plane.process.wait(60) == 0
    wait_for(lambda: not any(alive(pid) for pid in started), 30, "everything it started to exit")
    assert not port_open(int(plane.lb.rsplit(":", 1)[1]))
