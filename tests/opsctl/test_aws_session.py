"""Issue 16, finding 6: another account is reachable. Every AWS call opsctl makes goes through
one boto3 session factory (opsctl/aws.py) that assumes the environment's `assume_role_arn`;
the S3 backend assumes it too. On a real moto server: moto's STS AssumeRole accepts any role
and switches to the role's account (moto docs, "Multi-account support": credentials of an
assumed role act in the account named by the role ARN), so "which account did opsctl act in"
is observable here as it is on AWS.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import shutil
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from opsctl import aws as opsctl_aws
from opsctl import config, lock
from opsctl.local import emulator
from opsctl.local.emulator import MotoServer
from opsctl.terraform import render as render_module
from opsctl.terraform.render import render
from opsctl.terraform.runner import Terraform, plugin_dir
from opsctl.terraform.workspace import OPERATOR_SESSION_VARIABLE, Workspace
from tests.support.opsctl_run import Opsctl
from tests.support.paths import REPO

REGION = "eu-west-1"
ROLE_ACCOUNT = "444455556666"
ROLE = f"arn:aws:iam::{ROLE_ACCOUNT}:role/opsctl-deploy"
MOTO_DEFAULT_ACCOUNT = "123456789012"  # what moto answers for the dummy keys


@pytest.fixture
def sessions(aws: MotoServer) -> Iterator[MotoServer]:
    """A clean emulated account and no cached sessions (their keys went with the reset)."""
    opsctl_aws.forget_sessions()
    yield aws
    opsctl_aws.forget_sessions()


def test_finding_6_clients_act_as_the_environment_role(sessions: MotoServer) -> None:
    url = sessions.endpoint
    assumed = opsctl_aws.client("sts", REGION, url, role_arn=ROLE).get_caller_identity()
    session_name = opsctl_aws.role_session_name()
    assert session_name.startswith("opsctl-")
    assert assumed["Account"] == ROLE_ACCOUNT
    arn = f"arn:aws:sts::{ROLE_ACCOUNT}:assumed-role/opsctl-deploy/{session_name}"
    assert assumed["Arn"] == arn
    # Without the setting: the operator's own (here the emulator's dummy) credentials.
    plain = opsctl_aws.client("sts", REGION, url).get_caller_identity()
    assert plain["Account"] == MOTO_DEFAULT_ACCOUNT
    assert ":assumed-role/" not in plain["Arn"]


def test_finding_6_one_session_per_role_whose_credentials_refresh_before_expiry(
    sessions: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import botocore.credentials

    url = sessions.endpoint
    session = opsctl_aws.session(REGION, url, ROLE)
    assert opsctl_aws.session(REGION, url, ROLE) is session  # one AssumeRole per process
    sts = opsctl_aws.client("sts", REGION, url, role_arn=ROLE)
    sts.get_caller_identity()
    credentials = session.get_credentials()
    assert isinstance(credentials, botocore.credentials.RefreshableCredentials)
    first = credentials.get_frozen_credentials().access_key
    # 47 minutes later (moto's assumed credentials last an hour): inside botocore's
    # 15-minute advisory window, so the next call assumes the role again before signing.
    later = botocore.credentials._local_now() + dt.timedelta(minutes=47)  # type: ignore[attr-defined]
    monkeypatch.setattr(botocore.credentials, "_local_now", lambda: later)
    monkeypatch.setattr(credentials, "_time_fetcher", lambda: later)
    assert sts.get_caller_identity()["Account"] == ROLE_ACCOUNT
    assert credentials.get_frozen_credentials().access_key != first


def test_finding_6_the_lock_fence_checks_role_clients_too(sessions: MotoServer) -> None:
    seen: list[str] = []
    ssm = opsctl_aws.client("ssm", REGION, sessions.endpoint, role_arn=ROLE)
    opsctl_aws.add_fence(seen.append)
    try:
        ssm.put_parameter(Name="/fenced", Value="x", Type="String")
        ssm.get_parameter(Name="/fenced")
    finally:
        opsctl_aws.remove_fence(seen.append)
    assert seen == ["PutParameter"]


def test_finding_6_lock_holder_is_the_assumed_role_naming_the_operator(
    sessions: MotoServer,
) -> None:
    url = sessions.endpoint
    with lock.cli_lock("dev", REGION, url, "apply", role_arn=ROLE):
        held = lock.Store.open("dev", REGION, url, role_arn=ROLE).read()
    assert held is not None
    assert held.holder.startswith(f"arn:aws:sts::{ROLE_ACCOUNT}:assumed-role/opsctl-deploy/")
    assert held.holder.endswith(opsctl_aws.role_session_name())


def _table_in(account_url: str, role: str | None) -> bool:
    dynamodb = opsctl_aws.client("dynamodb", REGION, account_url, role_arn=role)
    return lock.table_name("dev") in dynamodb.list_tables()["TableNames"]


@pytest.mark.parametrize("role", [ROLE, None], ids=["with-assume-role", "without"])
def test_finding_6_opsctl_works_in_the_environment_account(
    sessions: MotoServer, tmp_path: Path, role: str | None
) -> None:
    """`opsctl lock status dev` (a real process) makes the lock table on first use on the
    emulator: it lands in the role's account when dev names one, else in the caller's."""
    envs = tmp_path / "envs"
    shutil.copytree(REPO / "envs", envs, ignore=shutil.ignore_patterns("templates"))
    raw = yaml.safe_load((envs / "dev.yaml").read_text())
    raw.pop("assume_role_arn", None)
    if role:
        raw["assume_role_arn"] = role
    (envs / "dev.yaml").write_text(yaml.safe_dump(raw))
    opsctl = Opsctl(envs, tmp_path / "build", sessions.endpoint)
    result = opsctl("lock", "status", "dev")
    assert result.code == 0, result.output
    assert "dev is not locked" in result.stdout
    assert _table_in(sessions.endpoint, ROLE) is (role is not None)
    assert _table_in(sessions.endpoint, None) is (role is None)


def test_finding_6_backend_block_and_provider_assume_the_same_role() -> None:
    raw = yaml.safe_load((REPO / "envs/dev.yaml").read_text())
    env = config.Environment.model_validate({**raw, "name": "dev", "assume_role_arn": ROLE})
    files = render(env)
    backend = files["versions.tf"][files["versions.tf"].index('backend "s3"') :]
    assert f'role_arn     = "{ROLE}"' in backend
    assert "assume_role = {" in backend  # the nested-attribute form (Terraform >= 1.6)
    assert f'role_arn     = "{ROLE}"' in files["providers.tf"]
    plain = render(config.load("dev"))
    assert "assume_role" not in plain["versions.tf"] + plain["providers.tf"]


def _assumed_sessions(server: MotoServer) -> list[dict[str, Any]]:
    """Every AssumeRole moto answered (its /moto-api/data.json model dump)."""
    with urllib.request.urlopen(f"{server.endpoint}/moto-api/data.json", timeout=30) as answer:  # noqa: S310
        return list(json.load(answer).get("sts", {}).get("AssumedRole", []))


@pytest.mark.parametrize("role", [ROLE, None], ids=["with-assume-role", "without"])
def test_finding_6_terraform_init_reaches_the_state_bucket_as_the_role(
    sessions: MotoServer,
    tmp_path: Path,
    terraform: Callable[[Path], Terraform],
    role: str | None,
) -> None:
    """The rendered backend block, for real: `terraform init` and a state write through the S3
    backend on moto, which records the AssumeRole the backend made (session `opsctl-dev`)."""
    raw = yaml.safe_load((REPO / "envs/dev.yaml").read_text())
    env = config.Environment.model_validate({**raw, "name": "dev", "assume_role_arn": role})
    versions = render(env)["versions.tf"]
    backend = versions[versions.index('  backend "s3"') :]  # the last block of terraform {}
    (tmp_path / "main.tf").write_text("terraform {\n" + backend + 'output "x" {\n  value = 1\n}\n')
    (tmp_path / "emulator.s3.tfbackend").write_text(emulator.backend_config(sessions.endpoint))
    opsctl_aws.client("s3", REGION, sessions.endpoint, role_arn=role).create_bucket(
        Bucket=env.state.bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    tf = Terraform(tmp_path, env=dict(emulator.DUMMY_CREDENTIALS))
    assert terraform is not None  # the fixture requires the binary (a failure in CI)
    tf.run("init", "-no-color", "-input=false", "-backend-config=emulator.s3.tfbackend")
    tf.run("apply", "-no-color", "-input=false", "-auto-approve")
    backend_sessions = [s for s in _assumed_sessions(sessions) if s["session_name"] == "opsctl-dev"]
    if role:
        assert backend_sessions, "the backend did not assume the environment's role"
        assert {s["role_arn"] for s in backend_sessions} == {ROLE}
    else:
        assert backend_sessions == []
    state = opsctl_aws.client("s3", REGION, sessions.endpoint, role_arn=role).get_object(
        Bucket=env.state.bucket, Key="dev/terraform.tfstate"
    )
    assert json.loads(state["Body"].read())["outputs"]["x"]["value"] == 1


def test_finding_6_terraform_changes_are_recorded_under_the_operator(
    sessions: MotoServer, tmp_path: Path, terraform: Callable[[Path], Terraform]
) -> None:
    """CloudTrail attributes a change to the assumed-role session that made it
    (assumed-role/ROLE/SESSION), so the provider assumes the environment's role as the operator
    (`opsctl-<user>`, opsctl/aws.py role_session_name), as opsctl's own calls do, not as one name
    per environment. The name is an ephemeral variable, so a saved plan does not keep it: the
    apply acts as whoever applies. moto answers GetCallerIdentity with the assumed-role ARN, as
    AWS does; the second lookup waits on the bucket, so it runs during the apply."""
    raw = yaml.safe_load((REPO / "envs/dev.yaml").read_text())
    env = config.Environment.model_validate({**raw, "name": "dev", "assume_role_arn": ROLE})
    probe = """
resource "aws_s3_bucket" "probe" {
  bucket = "operator-probe"
}

data "aws_caller_identity" "at_plan" {}

data "aws_caller_identity" "at_apply" {
  depends_on = [aws_s3_bucket.probe]
}

output "arns" {
  value = [data.aws_caller_identity.at_plan.arn, data.aws_caller_identity.at_apply.arn]
}
"""
    (tmp_path / "main.tf").write_text(render(env)["providers.tf"] + probe)
    (tmp_path / render_module.EMULATOR_OVERRIDE).write_text(
        emulator.provider_override(sessions.endpoint, REGION)
    )
    planner = Workspace(env).terraform.env
    assert planner[OPERATOR_SESSION_VARIABLE] == opsctl_aws.role_session_name()
    mirror = plugin_dir()
    tf = terraform(tmp_path)
    tf.env = planner
    tf.run("init", "-no-color", "-input=false", *([f"-plugin-dir={mirror}"] if mirror else []))
    tf.run("plan", "-no-color", "-input=false", "-out=tfplan")
    tf.env = {**planner, OPERATOR_SESSION_VARIABLE: "opsctl-applier"}
    tf.run("apply", "-no-color", "-input=false", "tfplan")
    arns = json.loads(tf.run("output", "-json", "arns").stdout)
    role = f"arn:aws:sts::{ROLE_ACCOUNT}:assumed-role/opsctl-deploy"
    assert arns == [f"{role}/{opsctl_aws.role_session_name()}", f"{role}/opsctl-applier"]
    buckets = opsctl_aws.client("s3", REGION, sessions.endpoint, role_arn=ROLE).list_buckets()
    assert [bucket["Name"] for bucket in buckets["Buckets"]] == ["operator-probe"]


# Every call that makes an AWS client, or opens what makes one, and the keyword that carries the
# environment's role. opsctl/local/ is the emulator's own plumbing (local has no role).
FACTORIES = {"client", "open", "cli_lock", "caller_identity", "create"}
OWNERS = {"aws", "Store", "lock", "Clients", None}


def _calls_without_role(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    missing = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func: Any = node.func
        if isinstance(func, ast.Attribute):
            name, owner = func.attr, getattr(func.value, "id", getattr(func.value, "attr", ""))
        elif isinstance(func, ast.Name):
            name, owner = func.id, None
        else:
            continue
        if name not in FACTORIES or owner not in OWNERS:
            continue
        if name in ("open", "create") and owner is None:
            continue  # builtins / unrelated functions
        if name == "client" and owner is None:
            continue  # ctx.client(...) style helpers are checked where they are defined
        if not any(k.arg == "role_arn" for k in node.keywords):
            missing.append(f"{path.relative_to(REPO)}:{node.lineno}")
    return missing


def test_finding_6_every_aws_client_in_opsctl_names_the_role() -> None:
    files = [
        p
        for p in (REPO / "opsctl").rglob("*.py")
        if "local" not in p.relative_to(REPO / "opsctl").parts and p.name != "aws.py"
    ]
    missing = [where for path in files for where in _calls_without_role(path)]
    assert not missing, f"AWS clients made without the environment's role_arn: {missing}"
