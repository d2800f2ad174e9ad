"""`make run-stack`: the whole local environment in the foreground.

1. the data plane (opsctl/local/dataplane/): moto in-process with real target health, the load
   balancer, and one service process pair (web + worker) per InService instance;
2. `opsctl apply local` against it (terraform's progress is shown as it applies);
3. the endpoints, until Ctrl-C (or SIGTERM), which stops everything this started, by PID.

The instances share one database: $INGEST_DATABASE_URL (e.g. a MariaDB), else SQLite in WAL mode
under var/ (every instance runs on this one host). It is migrated before the stack is applied.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from opsctl.aws import DUMMY_CREDENTIALS
from opsctl.local.dataplane.status import STATE_FILE
from opsctl.local.processes import port_open, stop, stop_on_signals, wait_for
from opsctl.paths import REPO

# Where the data plane records its endpoints (what `opsctl local status` reads) and keeps the
# instances' code and logs; tests move both.
STATE = Path(os.environ.get("OPSCTL_DATAPLANE_STATE") or STATE_FILE)
WORKDIR = Path(os.environ.get("OPSCTL_DATAPLANE_DIR") or REPO / "var" / "dataplane")
PORTS = {
    "emulator": int(os.environ.get("OPSCTL_EMULATOR_PORT", "4566")),
    "load balancer": int(os.environ.get("OPSCTL_LB_PORT", "8080")),
    "admin": int(os.environ.get("OPSCTL_ADMIN_PORT", "8081")),
}


def main() -> int:
    busy = [f"{port} ({what})" for what, port in PORTS.items() if port_open(port)]
    if busy:
        print(f"ports already in use on 127.0.0.1: {', '.join(busy)}; stop that first")
        return 1
    (REPO / "var").mkdir(exist_ok=True)
    env = dict(os.environ, **DUMMY_CREDENTIALS)
    env.setdefault("INGEST_DATABASE_URL", f"sqlite+aiosqlite:///{REPO / 'var' / 'stack.db'}")
    env.setdefault("INGEST_ACCESS_LOG", "false")
    emulator = f"http://127.0.0.1:{PORTS['emulator']}"
    plane: subprocess.Popen[bytes] | None = None
    stop_on_signals()
    try:
        migrated = subprocess.run(
            [sys.executable, "-m", "service.cli", "migrate"], cwd=REPO, env=env, check=False
        )
        if migrated.returncode != 0:
            print("make run-stack: `ingest-service migrate` failed (see above)")
            return 1
        STATE.unlink(missing_ok=True)
        with STATE.with_suffix(".log").open("ab") as log:
            plane = subprocess.Popen(
                [
                    *(sys.executable, "-O", "-m", "opsctl.local.dataplane"),
                    *("--emulator-port", str(PORTS["emulator"])),
                    *("--lb-port", str(PORTS["load balancer"])),
                    *("--admin-port", str(PORTS["admin"])),
                    *("--state-file", str(STATE), "--workdir", str(WORKDIR)),
                ],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(lambda: _alive(plane) and STATE.exists(), 60, "the data plane")
        print(f"data plane up (emulator {emulator}); applying the local stack ...", flush=True)
        started = time.monotonic()
        applied = subprocess.run(
            [sys.executable, "-m", "opsctl", "apply", "local", "--yes", "--verbose"],
            cwd=REPO,
            env=env | {"OPSCTL_EMULATOR_URL": emulator},
            check=False,
        )
        if applied.returncode != 0:
            print(f"make run-stack: `opsctl apply local` failed ({applied.returncode})")
            return 1
        endpoints = json.loads(STATE.read_text())
        print(
            f"\n  applied in {time.monotonic() - started:.0f} s"
            f"\n  load balancer (the stack's listener)  {endpoints['load_balancer']}"
            f"\n  AWS emulator (moto + real health)     {endpoints['emulator']}"
            f"   (log: {STATE.with_suffix('.log')})"
            f"\n  data plane status                     {endpoints['admin']}/status"
            f"\n  database                              {env['INGEST_DATABASE_URL']}"
            "\n\n  opsctl local status"
            f'\n  opsctl bluegreen deploy local --ami "$(opsctl local ami --emulator {emulator}'
            ' | tail -n 1)"'
            "\n\n  Ctrl-C stops everything.\n",
            flush=True,
        )
        while _alive(plane):
            time.sleep(1)
        print(f"the data plane exited with {plane.returncode} (see var/dataplane.log)")
        return 1
    except KeyboardInterrupt:
        print("\nstopping ...")
        return 0
    except (TimeoutError, RuntimeError, OSError) as error:
        print(f"make run-stack: {error}")
        return 1
    finally:
        if plane is not None:
            stop(plane, timeout=30)


def _alive(process: subprocess.Popen[bytes]) -> bool:
    if process.poll() is not None:
        raise RuntimeError(f"the data plane exited with {process.returncode}")
    return True


if __name__ == "__main__":
    sys.exit(main())
