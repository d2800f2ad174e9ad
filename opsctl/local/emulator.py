"""The local AWS emulator (moto server): started by `make run` and by the test suite."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from opsctl.aws import DUMMY_CREDENTIALS
from opsctl.local.processes import free_port, stop, wait_for

MOTO_MAIN = "opsctl.local.moto_fixes"  # moto.server, with the fixes that module names


@dataclass
class MotoServer:
    """moto server on 127.0.0.1; `endpoint` is what boto3 and terraform point at."""

    port: int = field(default_factory=free_port)
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> MotoServer:
        env = dict(os.environ, **DUMMY_CREDENTIALS)
        # Attaching AWS-managed policies (SSM core, Config role, RDS monitoring) 404s without this.
        env["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
        # ACM certificates are issued at once instead of after moto's default 60 s.
        env["MOTO_ACM_VALIDATION_WAIT"] = "0"
        log = self.log_path.open("ab") if self.log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(
            # -O: moto 5.2.5 stores the UserData of CreateLaunchTemplateVersion unencoded and an
            # `assert` in its Auto Scaling code then fails every scale-out from that version
            # (HTTP 500). opsctl bluegreen adds such versions; -O skips the assert. moto_fixes
            # runs moto.server with the other crashes of moto repaired (docs/emulator.md).
            [sys.executable, "-O", "-m", MOTO_MAIN, "-H", "127.0.0.1", "-p", str(self.port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(self.ready, timeout, f"moto server on {self.endpoint}")
        return self

    def ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"moto server exited with {self.process.returncode}")
        try:
            with urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1):  # noqa: S310
                return True
        except OSError:
            return False

    def reset(self) -> None:
        """Forget every resource (a clean account)."""
        url = f"{self.endpoint}/moto-api/reset"
        request = urllib.request.Request(url, method="POST")  # noqa: S310
        # Generous: resetting a big account on a loaded 2-core runner took over 10 s.
        with urllib.request.urlopen(request, timeout=60):  # noqa: S310
            pass

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None


# Every AWS service the modules call, by the provider's endpoint name (Logs and Config have their
# own spelling there).
EMULATED_SERVICES = (
    "acm", "autoscaling", "budgets", "cloudwatch", "cloudwatchlogs", "configservice", "dynamodb",
    "ec2", "elbv2", "iam", "kms", "rds", "route53", "s3", "secretsmanager", "sns", "sqs", "ssm",
    "sts",
)  # fmt: skip


def provider_override(endpoint: str, region: str) -> str:
    """A root-module `*_override.tf` that points the aws provider at the emulator.

    It replaces the provider block's settings without touching the rendered root module, so nothing
    emulator-specific leaks into a normal render. The account guard is lifted (the emulator has its
    own account ids). Settings (docs/emulator.md): account id is requested
    (moto answers; skipping it makes SG rules drift), and a call gets five attempts: enough for a
    connection moto's threaded server drops mid-response, while an unimplemented call (HTTP 500)
    still fails within seconds instead of the default 25 attempts' minutes.
    """
    width = max(len(name) for name in EMULATED_SERVICES)
    endpoints = "\n".join(f'    {name:<{width}} = "{endpoint}"' for name in EMULATED_SERVICES)
    return f"""# Written by opsctl for the local emulator; not part of the environment's config.
provider "aws" {{
  region                      = "{region}"
  allowed_account_ids         = null
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = false
  s3_use_path_style           = true
  max_retries                 = 5

  endpoints {{
{endpoints}
  }}
}}
"""


def backend_config(endpoint: str) -> str:
    """`-backend-config` file for the S3 state backend on the emulator (a bucket on moto)."""
    return f"""endpoints                   = {{ s3 = "{endpoint}", sts = "{endpoint}" }}
use_path_style              = true
skip_credentials_validation = true
skip_requesting_account_id  = true
skip_metadata_api_check     = true
access_key                  = "testing"
secret_key                  = "testing"
"""
