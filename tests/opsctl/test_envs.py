"""Environment files and rendering: all four render; bad files are refused with clear messages."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from opsctl import config
from opsctl.terraform.plan_summary import summarise
from opsctl.terraform.render import hcl
from opsctl.terraform.runner import Terraform
from tests.support.opsctl_run import Opsctl
from tests.support.paths import REPO
from tests.support.tools import require

ENVS = ["dev", "local", "prod", "staging"]


@pytest.fixture
def opsctl(tmp_path: Path) -> Opsctl:
    envs = tmp_path / "envs"
    shutil.copytree(REPO / "envs", envs, ignore=shutil.ignore_patterns("templates"))
    return Opsctl(envs_dir=envs, build_dir=tmp_path / "build")


def edit(opsctl: Opsctl, env: str, old: str, new: str) -> None:
    path = opsctl.envs_dir / f"{env}.yaml"
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def test_the_four_environments_exist() -> None:
    assert config.available() == ENVS


@pytest.mark.parametrize("env", ENVS)
def test_environment_renders_fmt_clean_with_header(
    env: str, opsctl: Opsctl, terraform: Callable[[Path], Terraform]
) -> None:
    result = opsctl("render", env)
    assert result.code == 0, result.output
    out = opsctl.build_dir / env
    names = sorted(p.name for p in out.glob("*.tf"))
    assert names == ["main.tf", "outputs.tf", "providers.tf", "versions.tf"]
    for path in out.glob("*.tf"):
        assert path.read_text().startswith(f"# Generated from envs/{env}.yaml by opsctl render.")
    terraform(out).run("fmt", "-check", ".")
    versions = (out / "versions.tf").read_text()
    assert f'key          = "{env}/terraform.tfstate"' in versions
    assert "use_lockfile = true" in versions


def test_normal_render_has_nothing_emulator_specific(opsctl: Opsctl) -> None:
    assert opsctl("render", "local").code == 0
    text = "".join(p.read_text() for p in (opsctl.build_dir / "local").glob("*.tf"))
    assert "127.0.0.1" not in text
    # No provider `endpoints` block (the module variable enable_vpc_endpoints is not one).
    assert not re.search(r"^\s*endpoints\s*[{=]", text, re.MULTILINE)
    assert "testing" not in text


def test_render_rewrites_only_changed_files_and_diff_writes_nothing(opsctl: Opsctl) -> None:
    assert opsctl("render", "dev").code == 0
    out = opsctl.build_dir / "dev"
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.tf")}
    again = opsctl("render", "dev")
    assert "0 file(s) changed" in again.stdout
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.tf")} == before

    edit(opsctl, "dev", "monthly_usd: 300", "monthly_usd: 450")
    diff = opsctl("render", "dev", "--diff")
    assert diff.code == 2
    assert "-  budget_limit_usd          = 300\n" in diff.stdout
    assert "+  budget_limit_usd          = 450\n" in diff.stdout
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.tf")} == before
    assert opsctl("render", "dev").code == 0
    after = {p.name: p.stat().st_mtime_ns for p in out.glob("*.tf")}
    assert [n for n in after if after[n] != before[n]] == ["main.tf"]


RULES = "  routing_rules:\n"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "az_count: 3",
            "az_count: 1",
            "envs/prod.yaml: network.az_count: must be between 2 and 6, got 1",
        ),
        (
            "  backup_retention_days: 35\n",
            "",
            "envs/prod.yaml: database.backup_retention_days: is required",
        ),
        (
            "max_size: 12",
            "max_size: twelve",
            "envs/prod.yaml: compute.max_size: must be a whole number, got 'twelve'",
        ),
        (
            "  nat_mode: per_az",
            "  nat_mode: per_az\n  nat_gateways: 3",
            "envs/prod.yaml: network.nat_gateways: is not a known key",
        ),
        (
            "cidr: 10.30.0.0/16",
            "cidr: 10.20.0.0/16",
            "envs/prod.yaml: network.cidr: 10.20.0.0/16 overlaps envs/staging.yaml's 10.20.0.0/16",
        ),
        (
            "cidr: 10.30.0.0/16",
            "cidr: 10.30.0.0/33",
            "envs/prod.yaml: network.cidr: must be an IPv4 network such as 10.0.0.0/16",
        ),
        (
            "loadbalancer:\n",
            f"loadbalancer:\n{RULES}    - {{priority: 5, path_patterns: [/a], target: red}}\n",
            "envs/prod.yaml: loadbalancer.routing_rules.0.target: must be one of 'blue', 'green'"
            " or 'weighted', got 'red'",
        ),
        (
            "loadbalancer:\n",
            f"loadbalancer:\n{RULES}    - {{priority: 5, target: blue}}\n",
            "envs/prod.yaml: loadbalancer.routing_rules.0: needs 1-5 values across host_headers "
            "and path_patterns, got 0",
        ),
        (
            "loadbalancer:\n",
            f"loadbalancer:\n{RULES}    - {{priority: 5, path_patterns: [/a], target: blue}}\n"
            "    - {priority: 5, path_patterns: [/b], target: weighted}\n",
            "envs/prod.yaml: loadbalancer.routing_rules: priorities must be unique, repeated: [5]",
        ),
        (
            "alarms:\n",
            "secrets:\n  recovery_window_days: 0\nalarms:\n",
            "envs/prod.yaml: secrets.recovery_window_days: prod keeps deleted secrets restorable",
        ),
        (
            "alarms:\n",
            "secrets:\n  recovery_window_days: 3\nalarms:\n",
            "envs/prod.yaml: secrets.recovery_window_days: must be 0 or 7-30, got 3",
        ),
    ],
    ids=[
        "az-count",
        "missing-key",
        "wrong-type",
        "unknown-key",
        "overlap",
        "bad-cidr",
        "rule-target",
        "rule-conditions",
        "rule-priorities",
        "prod-secrets-window",
        "secrets-window",
    ],
)
def test_bad_env_file_is_refused_and_nothing_rendered(
    opsctl: Opsctl, old: str, new: str, message: str
) -> None:
    edit(opsctl, "prod", old, new)
    result = opsctl("render", "prod")
    assert result.code == 1
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert not (opsctl.build_dir / "prod").exists()


def test_every_problem_is_reported_at_once(opsctl: Opsctl) -> None:
    edit(opsctl, "dev", "az_count: 2", "az_count: 9")
    edit(opsctl, "dev", "instance_count: 1", "instance_count: 0")
    edit(opsctl, "dev", "region: eu-west-1", "region: europe")
    result = opsctl("plan", "dev")
    assert result.code == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("envs/dev.yaml")]
    assert len(lines) == 3, result.stderr


def test_unknown_environment_names_the_known_ones(opsctl: Opsctl) -> None:
    result = opsctl("plan", "qa")
    assert result.code == 1
    assert "envs/qa.yaml: no such environment file (known: dev, local, prod, staging)" in (
        result.stderr
    )


def test_prod_cannot_be_destroyed(opsctl: Opsctl) -> None:
    result = opsctl("destroy", "prod", "--yes")
    assert result.code == 4
    assert "refused for prod" in result.stderr


def test_hcl_literals_cannot_inject_syntax() -> None:
    assert hcl('x" }\nresource "y') == '"x\\" }\\nresource \\"y"'
    assert hcl({"a b": ["c", 1, True, None]}) == '{ "a b" = ["c", 1, true, null] }'


def test_plan_summary_counts_and_flags_stateful_hazards() -> None:
    def change(address: str, kind: str, actions: list[str], module: str | None = None) -> dict:
        item = {"address": address, "type": kind, "mode": "managed", "change": {"actions": actions}}
        if module:
            item["module_address"] = module
        return item

    plan = {
        "resource_changes": [
            change(
                "module.network.aws_subnet.public[0]", "aws_subnet", ["create"], "module.network"
            ),
            change(
                "module.database.aws_rds_cluster.this",
                "aws_rds_cluster",
                ["delete", "create"],
                "module.database",
            ),
            change(
                "module.ingest.aws_s3_bucket.this", "aws_s3_bucket", ["delete"], "module.ingest"
            ),
            change(
                "module.ingest.aws_sqs_queue_policy.this",
                "aws_sqs_queue_policy",
                ["update"],
                "module.ingest",
            ),
            change("aws_vpc.x", "aws_vpc", ["no-op"]),
        ]
    }
    summary = summarise(plan)
    assert summary.totals == {"create": 1, "update": 1, "replace": 1, "destroy": 1}
    assert summary.by_module["ingest"] == {"create": 0, "update": 1, "replace": 0, "destroy": 1}
    assert [(h.address, h.action) for h in summary.stateful] == [
        ("module.database.aws_rds_cluster.this", "replace"),
        ("module.ingest.aws_s3_bucket.this", "destroy"),
    ]


def test_graph_draws_the_environment(opsctl: Opsctl, tmp_path: Path) -> None:
    require(shutil.which("dot") is not None, "graphviz (dot)")
    target = tmp_path / "prod.svg"
    result = opsctl("graph", "prod", "-o", str(target))
    assert result.code == 0, result.output
    svg = target.read_text()
    assert svg.lstrip().startswith("<?xml")
    for label in ("ASG blue", "ASG green", "Aurora Serverless v2", "SNS alarm topic", "3 AZs"):
        assert label in svg, label


def test_docs_architecture_svg_is_prod_today(tmp_path: Path) -> None:
    require(shutil.which("dot") is not None, "graphviz (dot)")
    from opsctl.terraform import graph

    graph.render_svg(config.load("prod"), tmp_path / "prod.svg")
    assert (tmp_path / "prod.svg").read_text() == (REPO / "docs/architecture.svg").read_text(), (
        "regenerate: opsctl graph prod -o docs/architecture.svg"
    )
