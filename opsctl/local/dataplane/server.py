"""The data plane process: moto in-process with its health extension, the load balancer, the
health checks and the instance supervisor, following the emulator every POLL seconds.

    python -O -m opsctl.local.dataplane --emulator-port 4566 --lb-port 8080 --admin-port 8081

Endpoints (all 127.0.0.1): the emulator (what terraform, opsctl and the service talk to), the
load balancer (the stack's HTTPS listener, served as plain HTTP), and the admin endpoint
`GET /status` (JSON: what `opsctl local status` shows). `--state-file` records the three URLs
and the PID once everything listens. SIGTERM / SIGINT stop the instances' processes, then the
servers.

The instances get this process's environment (INGEST_* configures them: database, API keys) plus
the emulator's endpoint and dummy credentials.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import uvicorn

from opsctl.aws import DUMMY_CREDENTIALS
from opsctl.local.dataplane import emulator
from opsctl.local.dataplane.balancer import Balancer, weights_of
from opsctl.local.dataplane.emulator import Snapshot
from opsctl.local.dataplane.instances import Supervisor
from opsctl.local.dataplane.targets import Targets
from opsctl.paths import REPO

POLL = 0.5  # seconds between two reads of the emulator


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the data plane stops its servers itself."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class DataPlane:
    def __init__(self, region: str, workdir: Path, env: dict[str, str]) -> None:
        self.region = region
        self.current = Snapshot()
        self.supervisor = Supervisor(workdir, env)
        self.targets = Targets(self.supervisor.port_of)
        self.balancer = Balancer(lambda: self.current, self.targets, self.supervisor.port_of)
        self.started = time.time()
        self.endpoints: dict[str, str] = {}
        self.polls = 0
        self.read_errors = 0

    def tick(self) -> None:
        try:
            snapshot = emulator.read(self.region)
        except Exception as error:  # moto changed a dict while we copied it: next tick
            self.read_errors += 1
            if self.read_errors in (1, 10, 100, 1000):
                print(f"reading the emulator failed ({self.read_errors}x): {error!r}", flush=True)
            return
        now = time.monotonic()
        self.current = snapshot
        self.targets.sync(snapshot, now)
        targeted = {e.instance for e in self.targets.entries.values()}
        self.supervisor.sync(snapshot, targeted)
        self.polls += 1

    async def follow(self) -> None:
        while True:
            self.tick()
            await asyncio.sleep(POLL)

    def status(self) -> dict[str, Any]:
        snapshot = self.current
        by_arn = snapshot.groups
        default = next((a for a in snapshot.default_actions if a.get("Type") == "forward"), {})
        total = sum(w for _, w in weights_of(default)) or 1
        weights = {
            by_arn[a].colour if a in by_arn else a: round(100 * w / total)
            for a, w in weights_of(default)
        }
        instances = []
        for running in [*self.supervisor.running.values(), *self.supervisor.gone]:
            targets = self.targets.of_instance(running.instance.id)
            state = (
                "stopped"
                if running.exited and running.stopping
                else "stopping"
                if running.stopping
                else "running"
            )
            instances.append(
                {
                    "id": running.instance.id,
                    "colour": running.instance.colour,
                    "group": running.instance.group,
                    "ami": running.instance.image_id,
                    "code": running.code,
                    "port": running.port,
                    "state": state,
                    "served": self.balancer.by_instance[running.instance.id],
                    "processes": {
                        p.role: {"pid": p.popen.pid, "exit_code": p.exit_code}
                        for p in running.processes
                    },
                    "targets": {
                        by_arn[t.group].name if t.group in by_arn else t.group: {
                            "state": t.state,
                            "reason": t.reason,
                            "served": t.served,
                            "in_flight": t.in_flight,
                        }
                        for t in targets
                    },
                }
            )
        return {
            "endpoints": self.endpoints,
            "pid": os.getpid(),
            "weights": weights,
            "rules": [
                {
                    "priority": priority,
                    "conditions": conditions,
                    "weights": {
                        by_arn[a].colour if a in by_arn else a: w
                        for action in actions
                        if action.get("Type") == "forward"
                        for a, w in weights_of(action)
                    },
                }
                for priority, conditions, actions in snapshot.rules
            ],
            "groups": {
                g.colour: {
                    "name": g.name,
                    "path": g.path,
                    "interval": g.interval,
                    "healthy_threshold": g.healthy_threshold,
                    "unhealthy_threshold": g.unhealthy_threshold,
                    "deregistration_delay": g.deregistration_delay,
                }
                for g in by_arn.values()
            },
            "served": dict(self.balancer.served),
            "statuses": dict(self.balancer.statuses),
            "retried_connects": self.balancer.retried,
            "instances": instances,
        }

    async def admin(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] != "/status":
            body, status = b'{"error": "GET /status"}', 404
        else:
            body, status = json.dumps(self.status()).encode(), 200
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


async def _serve(plane: DataPlane, args: argparse.Namespace, moto: Any) -> None:
    servers = [
        _Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=port,
                lifespan="off",
                interface="asgi3",
                proxy_headers=False,
                # The targets' own Date (and no Server) header pass through, as from an ALB.
                server_header=False,
                date_header=False,
                access_log=False,
                log_level="warning",
                timeout_keep_alive=keepalive,
            )
        )
        for app, port, keepalive in (
            (plane.balancer, args.lb_port, 60),  # the ALB's idle timeout
            (plane.admin, args.admin_port, 5),
        )
    ]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tasks = [
        asyncio.create_task(plane.follow()),
        asyncio.create_task(plane.targets.check_loop()),
        *(asyncio.create_task(s.serve()) for s in servers),
    ]
    while not all(s.started for s in servers):
        if any(t.done() for t in tasks):
            break
        await asyncio.sleep(0.05)
    plane.endpoints = {
        "emulator": f"http://127.0.0.1:{args.emulator_port}",
        "load_balancer": f"http://127.0.0.1:{args.lb_port}",
        "admin": f"http://127.0.0.1:{args.admin_port}",
    }
    if args.state_file:
        Path(args.state_file).write_text(json.dumps(plane.endpoints | {"pid": os.getpid()}))
    print(f"data plane ready: {json.dumps(plane.endpoints)}", flush=True)
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
    for task in tasks[:2]:  # no more ticks: they would start the instances again
        task.cancel()
    plane.supervisor.stop_all()
    for server in servers:
        server.should_exit = True
    await asyncio.sleep(0.5)
    for task in tasks:
        task.cancel()
    await plane.balancer.close()
    await plane.targets.close()
    moto.stop()
    if args.state_file:
        with contextlib.suppress(OSError):
            Path(args.state_file).unlink()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -O -m opsctl.local.dataplane")
    parser.add_argument("--emulator-port", type=int, default=4566)
    parser.add_argument("--lb-port", type=int, default=8080)
    parser.add_argument("--admin-port", type=int, default=8081)
    parser.add_argument("--region", default="eu-west-1")
    parser.add_argument("--workdir", default=str(REPO / "var" / "dataplane"))
    parser.add_argument("--state-file", default=None)
    args = parser.parse_args(argv)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, **DUMMY_CREDENTIALS)
    env.setdefault("INGEST_ENV", "local")
    env["INGEST_AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{args.emulator_port}"
    env.setdefault("INGEST_AWS_REGION", args.region)
    env.setdefault("AWS_DEFAULT_REGION", args.region)
    try:
        moto = emulator.start(args.emulator_port)
    except (RuntimeError, OSError) as error:
        print(f"data plane: {error}", file=sys.stderr)
        return 1
    plane = DataPlane(args.region, workdir, env)
    emulator.install_health(plane.targets.health_of, plane.targets.draining_in)
    asyncio.run(_serve(plane, args, moto))
    return 0
