"""Issue 16, finding 18: `opsctl validate` needs no state, so it must not reach a backend."""

from __future__ import annotations

import shutil
from pathlib import Path

import boto3
import pytest

from opsctl.local.emulator import MotoServer
from opsctl.terraform.runner import Terraform
from tests.support.opsctl_run import Opsctl
from tests.support.paths import REPO


def test_finding_18_validate_after_the_emulator_is_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    envs = tmp_path / "envs"
    shutil.copytree(REPO / "envs", envs, ignore=shutil.ignore_patterns("templates"))
    opsctl = Opsctl(envs_dir=envs, build_dir=tmp_path / "build")
    assert opsctl("render", "local").code == 0
    workdir = tmp_path / "build" / "local"

    # What a past `opsctl plan local --emulator URL` leaves: .terraform initialised against
    # that emulator's state bucket.
    for key, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}.items():
        monkeypatch.setenv(key, value)
    server = MotoServer(log_path=tmp_path / "moto.log").start()
    try:
        boto3.client("s3", endpoint_url=server.endpoint, region_name="eu-west-1").create_bucket(
            Bucket="ingest-tfstate-local",
            CreateBucketConfiguration={"LocationConstraint": "eu-west-1"},
        )
        Terraform(workdir).init(
            f'-backend-config=endpoints={{s3="{server.endpoint}"}}',
            "-backend-config=use_path_style=true",
            "-backend-config=skip_credentials_validation=true",
            "-backend-config=skip_requesting_account_id=true",
            "-backend-config=skip_metadata_api_check=true",
        )
    finally:
        server.stop()

    result = opsctl("validate", "local")
    assert "Unable to list objects" not in result.output, result.output
    assert "terraform init failed" not in result.output, result.output
