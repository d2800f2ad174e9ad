"""The AMI's pieces checked by the tools that run them: packer, shellcheck, nginx, systemd."""

from __future__ import annotations

import fnmatch
import http.server
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from opsctl.local.processes import free_port, port_open, stop, wait_for
from service.settings import Settings
from tests.support.amitools import (
    FILES,
    PACKER_DIR,
    PROVISION,
    UNITS,
    agent_file_paths,
    env_file_from_user_data,
    nginx_size_bytes,
    parse_unit,
    render_user_data,
)
from tests.support.paths import REPO
from tests.support.tools import require

TEMPLATE = PACKER_DIR / "ingest.pkr.hcl"
SITE = FILES / "nginx" / "ingest.conf"
MAIN_CONF = FILES / "nginx" / "nginx.conf"
GOOD_VARS = ["-var", "app_version=0.1.0", "-var", "git_sha=0123abc", "-var", "wheel=x.whl"]


def _packer() -> str:
    require(shutil.which("packer") is not None, "packer")
    return "packer"


def _packer_version() -> tuple[int, ...]:
    out = subprocess.run(["packer", "version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"v(\d+)\.(\d+)\.(\d+)", out)
    assert match, out
    return tuple(int(part) for part in match.groups())


@pytest.fixture
def packer_tree(tmp_path: Path) -> Path:
    """The template without plugins.pkr.hcl (packer 1.6.6 rejects `packer { required_plugins }`).

    Packer 1.6.6's built-in amazon-ebs predates `metadata_options`; for it alone the block is
    cut out after checking that it requires IMDSv2 (the amazon plugin >= 1.0 validates it)."""
    _packer()
    tree = tmp_path / "packer"
    tree.mkdir()
    shutil.copytree(PACKER_DIR / "files", tree / "files")
    shutil.copytree(PACKER_DIR / "scripts", tree / "scripts")
    text = TEMPLATE.read_text()
    if _packer_version() < (1, 7, 0):
        block = re.search(r"\n  metadata_options \{\n(.*?)\n  \}\n", text, flags=re.S)
        assert block, "the source must set metadata_options"
        assert re.search(r'http_tokens\s*=\s*"required"', block.group(1))
        text = text.replace(block.group(0), "\n")
    (tree / "ingest.pkr.hcl").write_text(text)
    (tree / "x.whl").write_bytes(b"")
    return tree


def _validate(tree: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["packer", "validate", *args, "."], cwd=tree, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("architecture", ["x86_64", "arm64"])
def test_template_validates(packer_tree: Path, architecture: str) -> None:
    result = _validate(packer_tree, *GOOD_VARS, "-var", f"architecture={architecture}")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("architecture=mips", "The architecture must be x86_64 or arm64."),
        ("git_sha=main", "The git_sha must be 7 to 40 lowercase hex digits."),
        ("wheel=ingest.tar.gz", "The wheel must be a path ending in .whl."),
        ("app_version=0.1 beta", "The app_version must be a version string"),
    ],
)
def test_template_rejects_bad_variables(packer_tree: Path, override: str, message: str) -> None:
    result = _validate(packer_tree, *GOOD_VARS, "-var", override)
    assert result.returncode != 0
    assert message in " ".join((result.stdout + result.stderr).split())


def test_template_is_formatted() -> None:
    result = subprocess.run(
        [_packer(), "fmt", "-check", "-diff", str(PACKER_DIR)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_template_settings() -> None:
    """What validate cannot see: the base image, encryption, IMDSv2, the tags, the plugins file."""
    text = TEMPLATE.read_text()
    assert 'name                = "al2023-ami-2023.*-kernel-*-${var.architecture}"' in text
    assert 'owners      = ["amazon"]' in text
    assert "most_recent = true" in text
    assert re.search(r"encrypt_boot\s*=\s*true", text)
    assert re.search(r"launch_block_device_mappings \{[^}]*encrypted\s*=\s*true", text, re.S)
    assert re.search(r'metadata_options \{[^}]*http_tokens\s*=\s*"required"', text, re.S)
    for tag in ("Version      = var.app_version", "GitSha       = var.git_sha"):
        assert tag in text
    assert "tags          = local.tags" in text
    assert "snapshot_tags = local.tags" in text
    assert "required_plugins" not in text
    plugins = (PACKER_DIR / "plugins.pkr.hcl").read_text()
    assert "required_plugins" in plugins
    assert 'source  = "github.com/hashicorp/amazon"' in plugins


# --------------------------------------------------------------------------------------------
# shellcheck: every shell script in the repository, and the rendered user data.
# --------------------------------------------------------------------------------------------
def _shell_scripts() -> list[Path]:
    skip = {".venv", ".venv-checkov", "build", ".git", "node_modules", ".terraform"}
    return sorted(
        path for path in REPO.rglob("*.sh") if not skip.intersection(path.relative_to(REPO).parts)
    )


def _shellcheck(*paths: Path) -> None:
    require(shutil.which("shellcheck") is not None, "shellcheck")
    result = subprocess.run(
        ["shellcheck", "--severity=style", "--shell=bash", *map(str, paths)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_shell_scripts_pass_shellcheck() -> None:
    scripts = _shell_scripts()
    assert PROVISION in scripts
    assert PACKER_DIR / "build.sh" in scripts
    _shellcheck(*scripts)


@pytest.fixture(scope="module")
def user_data(tmp_path_factory: pytest.TempPathFactory) -> str:
    require(shutil.which("terraform") is not None, "terraform")
    return render_user_data(tmp_path_factory.mktemp("user-data"))


def test_rendered_user_data_passes_shellcheck(user_data: str, tmp_path: Path) -> None:
    assert user_data.startswith("#!/bin/bash\n")
    assert "${" not in user_data.replace("${aws:InstanceId}", "")  # everything substituted
    script = tmp_path / "user-data.sh"
    script.write_text(user_data)
    _shellcheck(script)


def test_user_data_env_file_configures_the_service(
    user_data: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service reads what user data writes: the env file loaded into Settings."""
    env = env_file_from_user_data(user_data)
    for key in [k for k in os.environ if k.startswith(("INGEST_", "AWS_EMF_"))]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.env == "test"
    assert settings.sqs_queue_url == "https://sqs.eu-west-1.amazonaws.com/123456789012/ingest-test"
    assert str(settings.database_secret_arn).startswith("arn:aws:secretsmanager:")
    assert settings.database_host == "ingest-test.cluster-abc.eu-west-1.rds.amazonaws.com"
    # Issue 16, finding 12: the service signs in as its own IAM user over TLS, verified against
    # the CA bundle provision.sh installs; the master secret above is for migrations only.
    assert (settings.database_app_user, settings.iam_database_auth) == ("ingest_app", True)
    assert settings.database_ssl_ca == "/opt/ingest/rds-global-bundle.pem"
    assert '"${PREFIX}/rds-global-bundle.pem"' in PROVISION.read_text()
    assert str(settings.api_keys_secret_arn).endswith(":ingest-test/api-keys-AbCdEf")
    assert settings.emf_environment == "EC2"
    assert settings.emf_namespace == "Ingest/test"  # the namespace the scaling policy tracks
    assert env["AWS_EMF_ENVIRONMENT"] == "EC2"  # never the metadata auto-detection
    assert env["AWS_EMF_LOG_GROUP_NAME"] == "/ingest/ingest-test/app"


# --------------------------------------------------------------------------------------------
# The files agree with the compute module's CloudWatch agent configuration and the service.
# --------------------------------------------------------------------------------------------
def test_logs_land_where_the_agent_ships_them() -> None:
    shipped = agent_file_paths()
    assert "/var/log/messages" in shipped  # rsyslog, installed by provision.sh
    site = SITE.read_text() + MAIN_CONF.read_text()
    for path in re.findall(r"(?:access_log|error_log)\s+(/\S+?)[\s;]", site):
        assert path in shipped, f"nginx writes {path}, which the agent does not ship"
    app_globs = [p for p in shipped if p.startswith("/var/log/ingest/")]
    assert app_globs == ["/var/log/ingest/*.log"]
    for name in ("ingest-web.service", "ingest-worker.service"):
        output = parse_unit(UNITS / name)["Service"]["StandardOutput"]
        assert len(output) == 1
        assert output[0].startswith("append:")
        assert fnmatch.fnmatch(output[0].removeprefix("append:"), app_globs[0])
    assert "access_log /var/log/nginx/access.log ingest_json;" in SITE.read_text()


def test_nginx_body_limit_matches_the_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INGEST_MAX_BODY_BYTES", raising=False)
    match = re.search(r"client_max_body_size\s+(\S+);", SITE.read_text())
    assert match
    assert nginx_size_bytes(match.group(1)) == Settings().max_body_bytes


def test_nginx_site_settings() -> None:
    site = SITE.read_text()
    assert "server 127.0.0.1:8080;" in site
    assert re.search(r"location = /health \{\s*proxy_pass http://ingest_web;", site)
    assert re.search(r"^\s*keepalive_timeout 65s;", site, re.M)
    assert "real_ip_header X-Forwarded-For;" in site
    trusted = re.findall(r"set_real_ip_from\s+(\S+);", site)
    assert trusted == ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]  # never 0.0.0.0/0


# --------------------------------------------------------------------------------------------
# nginx: the real binary checks the configuration, then serves through it.
# --------------------------------------------------------------------------------------------
def _nginx_prefix(prefix: Path, listen: int | None = None, upstream: int | None = None) -> Path:
    """The AMI's nginx.conf and site inside PREFIX: paths moved there, running as root."""
    (prefix / "logs").mkdir(parents=True)
    (prefix / "conf.d").mkdir()
    main = MAIN_CONF.read_text()
    replacements = {
        "user nginx;": "user root;",
        "/run/nginx.pid": f"{prefix}/nginx.pid",
        "/etc/nginx/conf.d/": f"{prefix}/conf.d/",
        "/var/log/nginx/": f"{prefix}/logs/",
    }
    for old, new in replacements.items():
        assert old in main, old
        main = main.replace(old, new)
    site = SITE.read_text().replace("/var/log/nginx/", f"{prefix}/logs/")
    if listen is not None:
        site = site.replace("listen 80 default_server;", f"listen 127.0.0.1:{listen};")
        site = site.replace("listen [::]:80 default_server;\n", "")
    if upstream is not None:
        site = site.replace("server 127.0.0.1:8080;", f"server 127.0.0.1:{upstream};")
    conf = prefix / "nginx.conf"
    conf.write_text(main)
    (prefix / "conf.d" / "ingest.conf").write_text(site)
    return conf


def test_nginx_accepts_the_configuration(tmp_path: Path) -> None:
    require(shutil.which("nginx") is not None, "nginx")
    conf = _nginx_prefix(tmp_path)
    result = subprocess.run(
        ["nginx", "-t", "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "logs/e.log")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr


class _Echo(http.server.BaseHTTPRequestHandler):
    """Upstream stand-in: answers every request with the headers it received, as JSON."""

    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = json.dumps({k.lower(): v for k, v in self.headers.items()} | {"path": self.path})
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def nginx_site(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """nginx with the AMI's configuration on a free port, proxying to an echo server."""
    require(shutil.which("nginx") is not None, "nginx")
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=upstream.serve_forever, daemon=True)
    thread.start()
    port = free_port()
    conf = _nginx_prefix(tmp_path, listen=port, upstream=upstream.server_address[1])
    process = subprocess.Popen(
        [
            *("nginx", "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "logs/e.log")),
            *("-g", "daemon off;"),
        ],
        start_new_session=True,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(lambda: port_open(port) or process.poll() is not None, 15, "nginx")
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        yield port, tmp_path / "logs"
    finally:
        stop(process)
        upstream.shutdown()
        upstream.server_close()


def _request(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> tuple:
    response = httpx.request("POST" if data else "GET", url, content=data, headers=headers)
    return response.status_code, response.json() if response.status_code == 200 else None


def test_nginx_proxies_with_the_right_headers_and_logs_json(nginx_site: tuple[int, Path]) -> None:
    port, logs = nginx_site
    status, seen = _request(
        f"http://127.0.0.1:{port}/v1/things?a=1",
        headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"},
    )
    assert status == 200
    assert seen["path"] == "/v1/things?a=1"
    # 127.0.0.1 is not a trusted proxy: its X-Forwarded-For is not believed.
    assert seen["x-forwarded-for"] == "127.0.0.1"
    assert seen["x-forwarded-proto"] == "https"  # the ALB's, for the service's HTTPS redirect
    assert len(seen["x-request-id"]) == 32
    assert seen.get("connection", "") != "close"  # keep-alive to uvicorn

    status, seen = _request(f"http://127.0.0.1:{port}/health")
    assert status == 200
    assert seen["path"] == "/health"  # passed through to the service

    def logged() -> list[dict]:
        text = (logs / "access.log").read_text()
        return [json.loads(line) for line in text.splitlines()]

    wait_for(lambda: len(logged()) >= 1, 5, "the access log line")
    entries = logged()
    assert len(entries) == 1  # /health is not logged
    entry = entries[0]
    assert entry["uri"] == "/v1/things?a=1"
    assert entry["status"] == 200
    assert entry["remote_addr"] == "127.0.0.1"
    assert entry["x_forwarded_for"] == "203.0.113.9"


def test_nginx_refuses_bodies_over_the_service_limit(nginx_site: tuple[int, Path]) -> None:
    port, _ = nginx_site
    limit = Settings().max_body_bytes
    status, _ = _request(f"http://127.0.0.1:{port}/v1/x", data=b"x" * limit)
    assert status == 200
    status, _ = _request(f"http://127.0.0.1:{port}/v1/x", data=b"x" * (limit + 1))
    assert status == 413


# --------------------------------------------------------------------------------------------
# systemd units.
# --------------------------------------------------------------------------------------------
HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectControlGroups": "yes",
    "RestrictSUIDSGID": "yes",
    "CapabilityBoundingSet": "",
    "User": "ingest",
    "Group": "ingest",
    "EnvironmentFile": "/etc/ingest/env",
    "StateDirectory": "ingest",
    "LogsDirectory": "ingest",
}


@pytest.mark.parametrize(
    "name", ["ingest-web.service", "ingest-worker.service", "ingest-migrate.service"]
)
def test_unit_is_hardened(name: str) -> None:
    unit = parse_unit(UNITS / name)
    service = unit["Service"]
    for key, value in HARDENING.items():
        assert service.get(key) == [value], f"{name}: {key}"
    assert "ReadWritePaths" not in service  # only StateDirectory and LogsDirectory are writable
    assert unit["Unit"]["ConditionPathExists"] == ["/etc/ingest/env"]


def test_web_unit() -> None:
    unit = parse_unit(UNITS / "ingest-web.service")
    service = unit["Service"]
    (exec_start,) = service["ExecStart"]
    assert "/opt/ingest/venv/bin/ingest-service serve" in exec_start
    assert "--host 127.0.0.1 --port 8080" in exec_start
    assert '--workers "$(nproc)"' in exec_start  # one worker per core
    assert service["Restart"] == ["on-failure"]
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


def test_worker_unit_drains_on_sigterm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INGEST_SHUTDOWN_GRACE_SECONDS", raising=False)
    unit = parse_unit(UNITS / "ingest-worker.service")
    service = unit["Service"]
    assert service["ExecStart"] == ["/opt/ingest/venv/bin/ingest-service worker"]
    assert service["KillSignal"] == ["SIGTERM"]
    assert service["Restart"] == ["on-failure"]
    stop_timeout = int(service["TimeoutStopSec"][0])
    settings = Settings()
    assert stop_timeout > settings.shutdown_grace_seconds + settings.lease_seconds
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


def test_migrate_unit_is_a_oneshot_never_enabled() -> None:
    unit = parse_unit(UNITS / "ingest-migrate.service")
    assert unit["Service"]["Type"] == ["oneshot"]
    assert unit["Service"]["ExecStart"] == ["/opt/ingest/venv/bin/ingest-service migrate"]
    assert "Install" not in unit
    # A long DDL must not be killed part-way (it was, at 900 s): the bound is opsctl's SSM
    # executionTimeout (OPSCTL_MIGRATE_TIMEOUT_SECONDS), documented in docs/operations.md.
    assert unit["Service"]["TimeoutStartSec"] == ["infinity"]


def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    """systemd-analyze verify (no running systemd needed); ExecStart must exist, so the venv
    path points at a stand-in executable."""
    require(shutil.which("systemd-analyze") is not None, "systemd-analyze")
    stand_in = tmp_path / "venv" / "bin" / "ingest-service"
    stand_in.parent.mkdir(parents=True)
    stand_in.write_text("#!/bin/sh\nexit 0\n")
    stand_in.chmod(0o755)
    units = []
    for source in sorted(UNITS.glob("*.service")):
        target = tmp_path / source.name
        target.write_text(source.read_text().replace("/opt/ingest/venv", str(tmp_path / "venv")))
        units.append(str(target))
    assert len(units) == 3
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *units], capture_output=True, text=True
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Unknown" not in output, output  # unknown keys or sections are only warnings
    assert "ignoring" not in output, output
