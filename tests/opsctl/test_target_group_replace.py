"""Issue 16, finding 4: a change that replaces the target groups applies, on real terraform and
the moto server, through the step `opsctl apply` uses (opsctl/terraform/steps.py apply_saved).

AWS refuses to delete a target group a listener or rule forwards to (DeleteTargetGroup:
ResourceInUse, "is currently in use by a listener or a rule"); moto 5.2.5 refuses it the same
way (moto/elbv2/models.py `delete_target_group`), so no stand-in is needed. The tests run in
order on one applied root module. The root module is the
loadbalancer module in a bare VPC rather than a whole environment: the full local stack takes
minutes to apply, and the listener, its rules and the groups are all this finding is about.
Its own file, so it overlaps with the other slow files.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest
import typer

from opsctl import aws, config
from opsctl.local import emulator
from opsctl.local.emulator import MotoServer
from opsctl.terraform import render, target_groups
from opsctl.terraform.steps import apply_saved
from opsctl.terraform.workspace import Workspace
from tests.support.paths import REPO

pytestmark = pytest.mark.slow

ROOT = """
terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}

provider "aws" {
  region = "eu-west-1"
}

variable "target_port" {
  type = number
}

resource "aws_vpc" "this" {
  cidr_block = "10.99.0.0/16"
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id
}

resource "aws_subnet" "public" {
  count             = 2
  vpc_id            = aws_vpc.this.id
  cidr_block        = cidrsubnet(aws_vpc.this.cidr_block, 8, count.index)
  availability_zone = ["eu-west-1a", "eu-west-1b"][count.index]
}

resource "aws_security_group" "alb" {
  name_prefix = "alb-"
  vpc_id      = aws_vpc.this.id
}

module "loadbalancer" {
  source = "./modules/loadbalancer"

  name                     = "ingest-tgswap"
  vpc_id                   = aws_vpc.this.id
  subnet_ids               = aws_subnet.public[*].id
  security_group_ids       = [aws_security_group.alb.id]
  domain_name              = "ingest.tgswap.example.com"
  deletion_protection      = false
  access_log_force_destroy = true
  target_port              = var.target_port
  routing_rules = [
    { priority = 10, path_patterns = ["/v1/datasets/*/records"], target = "weighted" },
    { priority = 20, path_patterns = ["/admin/*"], target = "blue" },
  ]
}

output "target_group_arns" {
  value = module.loadbalancer.target_group_arns
}

output "https_listener_arn" {
  value = module.loadbalancer.https_listener_arn
}
"""


def _quiet(_: str) -> None:
    pass


@pytest.fixture(scope="module")
def workspace(
    moto_server: MotoServer, tmp_path_factory: pytest.TempPathFactory, terraform: object
) -> Iterator[Workspace]:
    moto_server.reset()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(render, "BUILD", tmp_path_factory.mktemp("build"))
        ws = Workspace(config.load("local"), moto_server.endpoint, folder="tgswap")
        # A copy: modules call their building blocks by relative path (../s3-bucket).
        shutil.copytree(
            REPO / "modules",
            ws.dir / "modules",
            ignore=shutil.ignore_patterns(".terraform*", "tests"),
        )
        (ws.dir / "main.tf").write_text(ROOT)
        (ws.dir / render.EMULATOR_OVERRIDE).write_text(
            emulator.provider_override(moto_server.endpoint, "eu-west-1")
        )
        ws.init(_quiet)
        yield ws


def _apply(ws: Workspace, port: int) -> dict[str, Any]:
    (ws.dir / "terraform.tfvars").write_text(f"target_port = {port}\n")
    code, _ = ws.plan(_quiet)
    assert code == 2
    meta = ws.saved_plan()
    assert meta is not None
    apply_saved(ws, f"terraform apply (port {port})", verbose=False)
    return meta


def _forwards(actions: list[dict[str, Any]]) -> dict[str, int]:
    (forward,) = [a for a in actions if a["Type"] == "forward"]
    if "ForwardConfig" in forward:
        return {g["TargetGroupArn"]: g["Weight"] for g in forward["ForwardConfig"]["TargetGroups"]}
    return {forward["TargetGroupArn"]: 1}


def test_finding_4_replacing_the_target_groups_moves_the_listener_and_keeps_the_weights(
    workspace: Workspace,
) -> None:
    ws = workspace
    elbv2 = aws.client("elbv2", "eu-west-1", ws.emulator_url)
    _apply(ws, 80)
    old = ws.outputs()["target_group_arns"]
    listener = ws.outputs()["https_listener_arn"]
    rules = {
        r["Priority"]: r["RuleArn"]
        for r in elbv2.describe_rules(ListenerArn=listener)["Rules"]
        if not r["IsDefault"]
    }

    # What `opsctl bluegreen` does mid-canary: 30 % on green, on the default action and the
    # weighted rule. Terraform ignores both (ignore_changes), so nothing in it would move them.
    def weighted(blue: str, green: str) -> list[dict[str, Any]]:
        groups = [{"TargetGroupArn": blue, "Weight": 70}, {"TargetGroupArn": green, "Weight": 30}]
        return [{"Type": "forward", "ForwardConfig": {"TargetGroups": groups}}]

    elbv2.modify_listener(ListenerArn=listener, DefaultActions=weighted(old["blue"], old["green"]))
    elbv2.modify_rule(RuleArn=rules["10"], Actions=weighted(old["blue"], old["green"]))

    # A new port forces a new target group (ForceNew) for both colours.
    meta = _apply(ws, 8080)
    assert set(meta["target_groups"]["replaced"].values()) == set(old.values())

    new = ws.outputs()["target_group_arns"]
    assert set(new.values()).isdisjoint(old.values())
    default = elbv2.describe_listeners(ListenerArns=[listener])["Listeners"][0]["DefaultActions"]
    assert _forwards(default) == {new["blue"]: 70, new["green"]: 30}
    by_priority = {
        r["Priority"]: r["Actions"] for r in elbv2.describe_rules(ListenerArn=listener)["Rules"]
    }
    assert _forwards(by_priority["10"]) == {new["blue"]: 70, new["green"]: 30}
    assert set(_forwards(by_priority["20"])) == {new["blue"]}
    groups = elbv2.describe_target_groups()["TargetGroups"]
    assert {g["TargetGroupArn"] for g in groups} == set(new.values())
    assert {g["Port"] for g in groups} == {8080}

    # Nothing left over (no deposed object) and nothing to fight: the next plan is clean.
    code, _ = ws.plan(_quiet)
    ws.discard_plan()
    assert code == 0


def test_finding_4_an_old_group_left_deposed_is_moved_off_and_deleted_by_the_next_apply(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The apply that replaces the groups misses its window (opsctl killed mid-apply, plays
    here as a watcher that never moves): the provider gives up deleting the old groups after
    its two minutes of ResourceInUse, and Terraform keeps them as deposed objects."""
    ws = workspace
    elbv2 = aws.client("elbv2", "eu-west-1", ws.emulator_url)
    listener = ws.outputs()["https_listener_arn"]
    before = ws.outputs()["target_group_arns"]
    with monkeypatch.context() as patch:
        patch.setattr(target_groups.Watcher, "__call__", lambda self, line: None)
        with pytest.raises(typer.Exit):
            _apply(ws, 8081)
    default = elbv2.describe_listeners(ListenerArns=[listener])["Listeners"][0]["DefaultActions"]
    assert _forwards(default) == {before["blue"]: 70, before["green"]: 30}  # not moved

    # The next `opsctl apply`: its plan deletes the deposed groups; it moves the listener first.
    code, _ = ws.plan(_quiet)
    assert code == 2
    meta = ws.saved_plan()
    assert meta is not None
    assert set(meta["target_groups"]["deposed"]) == set(before.values())
    apply_saved(ws, "terraform apply (deposed)", verbose=False)

    new = ws.outputs()["target_group_arns"]
    default = elbv2.describe_listeners(ListenerArns=[listener])["Listeners"][0]["DefaultActions"]
    assert _forwards(default) == {new["blue"]: 70, new["green"]: 30}
    groups = elbv2.describe_target_groups()["TargetGroups"]
    assert {g["TargetGroupArn"] for g in groups} == set(new.values())
    assert {g["Port"] for g in groups} == {8081}
    code, _ = ws.plan(_quiet)
    ws.discard_plan()
    assert code == 0
