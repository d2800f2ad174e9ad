"""Issue 16, finding 9: an env whose certificate nobody can validate is refused before terraform.

A certificate requested for `domain_name` is DNS-validated. Without `route53_zone_id` nobody writes
the validation records, and `aws_acm_certificate_validation` waits for them (75 minutes by
default, the provider's create timeout) before the apply fails. Fast and offline: the refusal
comes before render, init or any AWS call.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from opsctl import config
from tests.support.opsctl_run import Opsctl
from tests.support.paths import REPO


@pytest.fixture
def opsctl(tmp_path: Path) -> Opsctl:
    shutil.copytree(REPO / "envs", tmp_path / "envs", ignore=shutil.ignore_patterns("templates"))
    dev = tmp_path / "envs" / "dev.yaml"
    raw = yaml.safe_load(dev.read_text())
    raw["loadbalancer"].pop("route53_zone_id", None)  # dev as it was when the issue was filed
    dev.write_text(yaml.safe_dump(raw, sort_keys=False))
    return Opsctl(envs_dir=tmp_path / "envs", build_dir=tmp_path / "build")


@pytest.mark.parametrize("command", ["validate", "plan", "apply"])
def test_finding_9_an_env_that_would_wait_on_its_certificate_is_refused(
    opsctl: Opsctl, command: str
) -> None:
    result = opsctl(command, "dev", timeout=120)
    assert result.code == 1, result.output
    message = " ".join(result.stderr.split())
    assert "envs/dev.yaml: loadbalancer: domain_name ingest.dev.example.com" in message
    assert "route53_zone_id" in message
    assert "loadbalancer.certificate_arn" in message
    assert "75 minutes" in message
    assert not (opsctl.build_dir / "dev").exists()  # nothing rendered, terraform never ran


def test_finding_9_every_shipped_env_can_validate_its_certificate() -> None:
    for name in config.available():
        assert config.certificate_wait(config.load(name)) is None, name


def test_finding_9_a_zone_or_an_issued_certificate_is_enough() -> None:
    raw = yaml.safe_load((REPO / "envs/dev.yaml").read_text())
    arn = "arn:aws:acm:eu-west-1:333333333333:certificate/11111111-2222-3333-4444-555555555555"
    with_arn = {"certificate_arn": arn, "deletion_protection": False}
    without_zone = {"domain_name": "ingest.dev.example.com", "deletion_protection": False}
    for loadbalancer, waits in [(with_arn, False), (without_zone, True)]:
        env = config.Environment.model_validate(
            {**raw, "name": "dev", "loadbalancer": loadbalancer}
        )
        assert (config.certificate_wait(env) is not None) == waits
    # The emulator issues certificates at once: local (emulator_url) has no zone and never waits.
    assert config.load("local").loadbalancer.route53_zone_id is None
