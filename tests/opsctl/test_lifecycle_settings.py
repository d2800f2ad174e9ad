"""Issue 16: the env settings that let a stack be torn down, re-applied and used from another
account. Each test names its finding; each renders the real templates from real env files."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from opsctl import config
from opsctl.terraform.render import render
from tests.support.paths import REPO


def _env(name: str, **changes: Any) -> config.Environment:
    """envs/NAME.yaml with top-level sections merged over, validated as config.load does."""
    raw = yaml.safe_load((REPO / "envs" / f"{name}.yaml").read_text())
    for key, value in changes.items():
        raw[key] = {**raw.get(key, {}), **value} if isinstance(value, dict) else value
    return config.Environment.model_validate({**raw, "name": name})


def _module(env: config.Environment, module: str) -> str:
    main = render(env)["main.tf"]
    found = re.search(rf'^module "{module}" \{{\n(.*?)^\}}', main, re.S | re.M)
    assert found, f"module {module} not rendered"
    return found.group(1)


def _arg(block: str, name: str) -> str:
    found = re.search(rf"^\s*{name}\s*=\s*(.+)$", block, re.M)
    assert found, f"{name} not set"
    return found.group(1).strip()


@pytest.mark.parametrize(
    ("env", "expected"), [("dev", "true"), ("staging", "true"), ("prod", "false")]
)
def test_finding_1_log_buckets_force_destroy_outside_prod(env: str, expected: str) -> None:
    loaded = config.load(env)
    assert _arg(_module(loaded, "loadbalancer"), "access_log_force_destroy") == expected
    assert _arg(_module(loaded, "compliance"), "force_destroy") == expected
    # The ingest bucket holds the data: emptied only when the env file asks.
    assert _arg(_module(loaded, "ingest"), "force_destroy") == "false"


def test_finding_1_ingest_bucket_force_destroy_when_asked() -> None:
    env = _env("dev", force_destroy={"ingest_bucket": True})
    assert _arg(_module(env, "ingest"), "force_destroy") == "true"


@pytest.mark.parametrize("env", ["dev", "staging"])
def test_finding_2_rebuilt_envs_free_secret_names_at_once(env: str) -> None:
    assert _arg(_module(config.load(env), "secrets"), "recovery_window_in_days") == "0"


def test_finding_6_backend_assumes_the_environment_role() -> None:
    role = "arn:aws:iam::333333333333:role/opsctl"
    versions = render(_env("dev", assume_role_arn=role))["versions.tf"]
    backend = versions[versions.index('backend "s3"') :]
    assert re.search(r'assume_role = \{\s*role_arn\s*= "' + re.escape(role) + '"', backend)
    assert "assume_role" not in render(config.load("dev"))["versions.tf"]


def test_finding_8_certificate_arn_without_domain_name() -> None:
    arn = "arn:aws:acm:eu-west-1:333333333333:certificate/11111111-2222-3333-4444-555555555555"
    raw = yaml.safe_load((REPO / "envs/dev.yaml").read_text())
    raw["loadbalancer"] = {"certificate_arn": arn, "deletion_protection": False}
    env = config.Environment.model_validate({**raw, "name": "dev"})
    block = _module(env, "loadbalancer")
    assert _arg(block, "domain_name") == "null"
    assert _arg(block, "certificate_arn") == f'"{arn}"'


@pytest.mark.parametrize("given", [{}, {"certificate_arn": "arn:aws:acm:x"}])
def test_finding_8_exactly_one_certificate_source(given: dict[str, str]) -> None:
    raw = yaml.safe_load((REPO / "envs/dev.yaml").read_text())
    raw["loadbalancer"] = given if given else {"deletion_protection": False}
    if given:
        raw["loadbalancer"] = {"domain_name": "ingest.dev.example.com", **given}
    with pytest.raises(ValueError, match="exactly one of domain_name and certificate_arn"):
        config.Environment.model_validate({**raw, "name": "dev"})


@pytest.mark.parametrize(
    ("env", "expected"),
    [("local", "true"), ("dev", "true"), ("staging", "false"), ("prod", "false")],
)
def test_finding_11_final_snapshot_is_its_own_setting(env: str, expected: str) -> None:
    # staging has deletion_protection on; destroying it means turning that off first, which
    # must not silently drop the final snapshot as well.
    assert _arg(_module(config.load(env), "database"), "skip_final_snapshot") == expected


def test_finding_11_final_snapshot_can_be_chosen() -> None:
    env = _env("dev", database={"skip_final_snapshot": False})
    assert _arg(_module(env, "database"), "skip_final_snapshot") == "false"


def test_finding_13_instances_and_volumes_get_the_env_tags() -> None:
    tags = _arg(_module(config.load("prod"), "compute"), "tags")
    assert '"Environment" = "prod"' in tags
    assert '"Project" = "ingest"' in tags


def test_finding_10_existing_config_recorder_reaches_the_module() -> None:
    env = _env("staging", existing_config_recorder="aws-controltower-BaselineConfigRecorder")
    block = _module(env, "compliance")
    assert _arg(block, "existing_recorder_name") == '"aws-controltower-BaselineConfigRecorder"'
    assert _arg(_module(config.load("staging"), "compliance"), "existing_recorder_name") == "null"
