"""What `opsctl plan` tells the operator beyond the counts (issue 16, findings 16, 5 and 4).

tests/data/plans/launch-template-change.json is `terraform show -json` of a real plan (terraform
1.11.4, provider 5.100.0, against the moto server): two launch templates at the compute module's
addresses, applied with t3.small, re-planned with t3.medium (how it was made: its README.md).
Fast and offline.
"""

from __future__ import annotations

import json

import pytest

from opsctl import config
from opsctl.terraform.plan_summary import summarise
from opsctl.terraform.steps import print_summary
from tests.support.paths import REPO

PLANS = REPO / "tests" / "data" / "plans"
TEMPLATES = [
    'module.compute.aws_launch_template.this["blue"]',
    'module.compute.aws_launch_template.this["green"]',
]


def test_finding_16_the_summary_lists_changed_launch_templates() -> None:
    plan = json.loads((PLANS / "launch-template-change.json").read_text())
    summary = summarise(plan)
    assert summary.totals["update"] == 2
    assert summary.launch_templates == TEMPLATES
    assert summary.as_dict()["launch_templates"] == TEMPLATES  # `opsctl plan --json`


def test_finding_16_plan_says_the_change_waits_for_the_next_deploy(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    plan = json.loads((PLANS / "launch-template-change.json").read_text())
    print_summary(summarise(plan), config.load("staging"), "account 222222222222")
    out = " ".join(capsys.readouterr().out.split())
    assert "Note: staging: the plan changes " + ", ".join(TEMPLATES) in out
    assert "only at the next deploy" in out
    assert "opsctl bluegreen deploy staging --ami AMI" in out
    assert "opsctl bluegreen status staging" in out


def test_finding_16_no_note_without_a_launch_template_change(
    capsys: pytest.CaptureFixture[str],
) -> None:
    plan = json.loads((PLANS / "launch-template-change.json").read_text())
    for change in plan["resource_changes"]:
        change["type"] = "aws_autoscaling_group"
    print_summary(summarise(plan), config.load("staging"), "account 222222222222")
    assert "next deploy" not in capsys.readouterr().out


def test_finding_5_plan_says_a_replaced_security_group_waits_for_a_deploy(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recorded plan's shape, turned into a replacement of the app security group."""
    monkeypatch.setenv("NO_COLOR", "1")
    plan = json.loads((PLANS / "launch-template-change.json").read_text())
    change = plan["resource_changes"][0]
    change |= {
        "address": "module.security.aws_security_group.app",
        "type": "aws_security_group",
        "module_address": "module.security",
    }
    change["change"]["actions"] = ["create", "delete"]
    plan["resource_changes"] = [change]
    summary = summarise(plan)
    assert summary.replaced_security_groups == ["module.security.aws_security_group.app"]
    print_summary(summary, config.load("prod"), "account 111111111111")
    out = " ".join(capsys.readouterr().out.split())
    assert "Note: prod: the plan replaces module.security.aws_security_group.app" in out
    assert "DependencyViolation" in out
    assert "opsctl bluegreen deploy prod --ami AMI" in out
    assert "`opsctl apply prod` again" in out


def test_finding_4_plan_says_apply_moves_the_listener_to_replaced_target_groups(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recorded plan's shape, turned into a replacement of both target groups."""
    monkeypatch.setenv("NO_COLOR", "1")
    plan = json.loads((PLANS / "launch-template-change.json").read_text())
    for change in plan["resource_changes"]:
        change["type"] = "aws_lb_target_group"
        change["change"]["actions"] = ["create", "delete"]
    print_summary(summarise(plan), config.load("prod"), "account 111111111111")
    out = " ".join(capsys.readouterr().out.split())
    assert "Note: prod: the plan replaces 2 target group(s)." in out
    assert "`opsctl apply prod` moves the listener and its rules to the new groups" in out
