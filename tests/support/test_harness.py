"""The harness itself: each real server and tool the later tests stand on actually works here."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from opsctl.local.emulator import MotoServer
from opsctl.terraform.runner import Terraform
from tests.support.paths import REPO

pytestmark = pytest.mark.slow


def test_mariadb_answers_select_version(mariadb_url: str) -> None:
    async def version() -> str:
        engine = create_async_engine(mariadb_url)
        async with engine.connect() as connection:
            value = (await connection.execute(text("SELECT VERSION()"))).scalar_one()
        await engine.dispose()
        return str(value)

    assert "MariaDB" in asyncio.run(version())


def test_moto_creates_and_describes_a_vpc(aws: MotoServer) -> None:
    ec2 = boto3.client("ec2", endpoint_url=aws.endpoint, region_name="eu-west-1")
    vpc_id = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    described = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"]
    assert described[0]["CidrBlock"] == "10.42.0.0/16"


def test_moto_reset_forgets_resources(aws: MotoServer) -> None:
    sqs = boto3.client("sqs", endpoint_url=aws.endpoint, region_name="eu-west-1")
    sqs.create_queue(QueueName="reset-me")
    aws.reset()
    assert sqs.list_queues().get("QueueUrls", []) == []


def test_terraform_init_validate_and_test_tiny_module(
    terraform: Callable[[Path], Terraform], tmp_path: Path
) -> None:
    workdir = tmp_path / "tiny"
    shutil.copytree(REPO / "tests/data/tiny-module", workdir)
    tf = terraform(workdir)
    tf.init(backend=False)
    assert tf.validate()["valid"] is True
    output = tf.test()
    assert "2 passed, 0 failed" in output


def test_ruff_finds_nothing() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "."], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_terraform_files_are_formatted(terraform: Callable[[Path], Terraform]) -> None:
    # Fails with the list of unformatted files; `terraform fmt -recursive` fixes them.
    terraform(REPO).fmt_check()
