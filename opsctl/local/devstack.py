"""`make run`: the local stack in the foreground (moto server + the ingestion service), with the
S3 ingest path on the emulator (bucket -> SQS queue -> the service's worker).

Ctrl-C (or SIGTERM) stops everything this started, by PID.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request

from botocore.exceptions import BotoCoreError, ClientError

from opsctl.aws import DUMMY_CREDENTIALS
from opsctl.local import ingest_path
from opsctl.local.emulator import MotoServer
from opsctl.local.processes import port_open, stop, stop_on_signals, wait_for
from opsctl.paths import REPO

EMULATOR_PORT = int(os.environ.get("OPSCTL_EMULATOR_PORT", "4566"))
SERVICE_PORT = int(os.environ.get("INGEST_PORT", "8000"))
REGION = "eu-west-1"


def _healthy() -> bool:
    try:
        url = f"http://127.0.0.1:{SERVICE_PORT}/health"
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def main() -> int:
    for port, what in ((EMULATOR_PORT, "the emulator"), (SERVICE_PORT, "the service")):
        if port_open(port):
            print(f"port {port} (for {what}) is already in use on 127.0.0.1; stop that first")
            return 1
    (REPO / "var").mkdir(exist_ok=True)
    moto = MotoServer(port=EMULATOR_PORT, log_path=REPO / "var" / "moto.log")
    service: subprocess.Popen[bytes] | None = None
    stop_on_signals()
    try:
        moto.start()
        path = ingest_path.create(moto.endpoint, REGION)
        env = dict(os.environ, **DUMMY_CREDENTIALS, INGEST_ENV="local")
        # The service talks to this emulator and consumes this queue (the worker runs inside it).
        env["INGEST_AWS_ENDPOINT_URL"] = moto.endpoint
        env["INGEST_AWS_REGION"] = REGION
        env["INGEST_SQS_QUEUE_URL"] = path.queue_url
        env.setdefault("AWS_DEFAULT_REGION", REGION)
        migrated = subprocess.run(
            [sys.executable, "-m", "service.cli", "migrate"], cwd=REPO, env=env, check=False
        )
        if migrated.returncode != 0:
            print("make run: `ingest-service migrate` failed (see above)")
            return 1
        service = subprocess.Popen(
            [
                sys.executable,
                *("-m", "service.cli", "serve", "--port", str(SERVICE_PORT), "--with-worker"),
            ],
            cwd=REPO,
            env=env,
            start_new_session=True,
        )
        wait_for(_healthy, 180, f"the service on port {SERVICE_PORT}")
        print(
            f"\n  AWS emulator (moto)   {moto.endpoint}   (log: var/moto.log)"
            f"\n  ingestion service     http://127.0.0.1:{SERVICE_PORT}  (+ worker; GET /health)"
            f"\n  database              {env.get('INGEST_DATABASE_URL', 'sqlite: var/ingest.db')}"
            f"\n  ingest bucket         s3://{path.bucket}/DATASET/...  -> SQS {path.queue_url}"
            f"\n\n  aws s3 cp FILE s3://{path.bucket}/DATASET/x.ndjson"
            f" --endpoint-url {moto.endpoint}"
            "\n  (with AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing"
            f" AWS_DEFAULT_REGION={REGION})"
            "\n\n  Ctrl-C stops both.\n",
            flush=True,
        )
        service.wait()
        print(f"the service exited with {service.returncode}")
        return 1
    except KeyboardInterrupt:
        print("\nstopping ...")
        return 0
    except (TimeoutError, RuntimeError, BotoCoreError, ClientError) as error:
        print(f"make run: {error}")
        return 1
    finally:
        if service is not None:
            stop(service)
        moto.stop()


if __name__ == "__main__":
    sys.exit(main())
