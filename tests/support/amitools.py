"""Helpers for the AMI tests: the packer/ tree, unit-file parsing, user-data rendering."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from tests.support.paths import REPO

PACKER_DIR = REPO / "packer"
FILES = PACKER_DIR / "files"
UNITS = FILES / "systemd"
PROVISION = PACKER_DIR / "scripts" / "provision.sh"
COMPUTE = REPO / "modules" / "compute"
USER_DATA_TEMPLATE = COMPUTE / "templates" / "user-data.sh.tftpl"

# Sample values for the user-data template, shaped like the compute module's templatefile call.
USER_DATA_VARS = (
    """{
  environment             = "test"
  colour                  = "blue"
  region                  = "eu-west-1"
  database_secret_arn     = "${SM}:rds!cluster-abc-123456"
  database_host           = "ingest-test.cluster-abc.eu-west-1.rds.amazonaws.com"
  database_port           = 3306
  database_name           = "ingest"
  database_app_user       = "ingest_app"
  secret_env = {
    INGEST_API_KEYS_SECRET_ARN = "${SM}:ingest-test/api-keys-AbCdEf"
    INGEST_WEBHOOK_SECRET_ARN  = "${SM}:ingest-test/webhook-AbCdEf"
  }
  queue_url        = "https://sqs.eu-west-1.amazonaws.com/123456789012/ingest-test"
  metric_namespace = "Ingest/test"
  log_groups = {
    app          = "/ingest/ingest-test/app"
    nginx_access = "/ingest/ingest-test/nginx-access"
    nginx_error  = "/ingest/ingest-test/nginx-error"
    system       = "/ingest/ingest-test/system"
  }
  cloudwatch_agent_config = jsonencode({
    agent   = { run_as_user = "root" }
    metrics = { append_dimensions = { InstanceId = "$${aws:InstanceId}" } }
    logs = { logs_collected = { files = { collect_list = [
      {
        file_path       = "/var/log/ingest/*.log"
        log_group_name  = "/ingest/ingest-test/app"
        log_stream_name = "{instance_id}/app"
      },
    ] } } }
  })
}"""
).replace("${SM}", "arn:aws:secretsmanager:eu-west-1:123456789012:secret")


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A systemd unit as section -> key -> values (keys may repeat, so every value is kept)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path.name}: key outside a section: {line}"
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def agent_file_paths() -> set[str]:
    """The file paths the compute module's CloudWatch agent configuration ships."""
    return set(re.findall(r'file_path\s*=\s*"([^"]+)"', (COMPUTE / "main.tf").read_text()))


def render_user_data(workdir: Path) -> str:
    """Render the compute module's user-data template with Terraform's own templatefile()."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "main.tf").write_text(
        'output "user_data" {\n'
        f'  value = templatefile("{USER_DATA_TEMPLATE}", {USER_DATA_VARS})\n'
        "}\n"
    )
    state = workdir / "render.tfstate"
    run = [shutil.which("terraform") or "terraform"]
    subprocess.run(
        [*run, "apply", "-auto-approve", "-input=false", "-no-color", f"-state={state}"],
        cwd=workdir,
        check=True,
        capture_output=True,
        env={**os.environ, "CHECKPOINT_DISABLE": "1"},
    )
    result = subprocess.run(
        [*run, "output", "-raw", f"-state={state}", "user_data"],
        cwd=workdir,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "CHECKPOINT_DISABLE": "1"},
    )
    return result.stdout


def env_file_from_user_data(user_data: str) -> dict[str, str]:
    """The KEY=value lines user data writes to /etc/ingest/env."""
    body = user_data.split("cat > /etc/ingest/env <<'ENV'\n", 1)[1].split("\nENV\n", 1)[0]
    return dict(line.split("=", 1) for line in body.splitlines() if line)


def nginx_size_bytes(value: str) -> int:
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    value = value.strip().lower()
    if value[-1] in units:
        return int(value[:-1]) * units[value[-1]]
    return int(value)
