"""opsctl against real terraform and a real moto server: validate, plan prod/staging offline,
apply the whole local stack, re-plan clean, guard stateful replacements and stale plans, destroy.

The tests in this file run in order and share one applied `local` stack (applying takes minutes).
"""

from __future__ import annotations

import json
import shutil

import pytest

from opsctl import aws
from opsctl.bluegreen import record
from opsctl.local.emulator import MotoServer
from tests.support.opsctl_run import Opsctl
from tests.support.paths import REPO
from tests.support.stack_apply import apply_fresh
from tests.support.tools import require

pytestmark = pytest.mark.slow
AURORA = "module.database.aws_rds_cluster.this"


@pytest.fixture(scope="module")
def opsctl(
    moto_server: MotoServer, tmp_path_factory: pytest.TempPathFactory, terraform: object
) -> Opsctl:
    moto_server.reset()
    root = tmp_path_factory.mktemp("opsctl")
    shutil.copytree(REPO / "envs", root / "envs", ignore=shutil.ignore_patterns("templates"))
    return Opsctl(
        envs_dir=root / "envs", build_dir=root / "build", emulator_url=moto_server.endpoint
    )


@pytest.fixture(scope="module")
def applied(moto_server: MotoServer, opsctl: Opsctl) -> Opsctl:
    result = apply_fresh(moto_server, opsctl, "local")
    assert "Applied." in result.stdout
    return opsctl


def summary_of(opsctl: Opsctl, *args: str) -> tuple[int, dict]:
    result = opsctl("plan", *args, "--json")
    assert result.code in (0, 2), result.output
    return result.code, json.loads(result.stdout)


def test_validate_all_environments(opsctl: Opsctl) -> None:
    from opsctl.terraform import checkov

    require(checkov.binary() is not None, "checkov (.venv-checkov)")
    result = opsctl("validate", "--all")
    assert result.code == 0, result.output
    for env in ("dev", "local", "prod", "staging"):
        assert f"ok {env}: fmt, validate, checkov (" in result.stdout
        assert " 0 failed)" in result.stdout


@pytest.mark.parametrize(("env", "azs", "nats"), [("prod", 3, 3), ("staging", 2, 2)])
def test_plan_on_the_emulator(opsctl: Opsctl, env: str, azs: int, nats: int) -> None:
    code, summary = summary_of(opsctl, env)
    assert code == 2
    assert summary["target"] == f"emulator {opsctl.emulator_url}"
    types = summary["resource_types"]
    assert types["aws_nat_gateway"]["create"] == nats
    assert types["aws_subnet"]["create"] == 3 * azs
    assert types["aws_autoscaling_group"]["create"] == 2
    assert types["aws_lb_target_group"]["create"] == 2
    assert summary["totals"]["destroy"] == 0
    assert summary["stateful"] == []
    assert set(summary["by_module"]) == {
        "network", "security", "database", "secrets", "compute",
        "loadbalancer", "ingest", "monitoring", "compliance",
    }  # fmt: skip
    # The emulator override is written beside the render, never into it.
    build = opsctl.build_dir / env
    assert (build / "emulator_override.tf").exists()
    assert "127.0.0.1" not in (build / "providers.tf").read_text()


def test_bootstrap_creates_the_state_bucket(opsctl: Opsctl) -> None:
    result = opsctl("bootstrap", "dev", "--yes")
    assert result.code == 0, result.output
    s3 = aws.client("s3", "eu-west-1", opsctl.emulator_url)
    bucket = "ingest-tfstate-333333333333-dev"
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert opsctl("bootstrap", "dev", "--yes").code == 0  # a second run changes nothing


def test_apply_local_then_plan_shows_no_changes(applied: Opsctl) -> None:
    code, summary = summary_of(applied, "local")
    assert code == 0, json.dumps(summary["by_module"], indent=1)
    assert not summary["has_changes"]


def test_incident_on_the_applied_stack_alarm_runbook_run_and_no_drift(applied: Opsctl) -> None:
    """The worked incident of docs/operations.md on what terraform created: every alarm's
    runbook tag resolves; `runbook test` runs every diagnose step; `runbook run` shows the
    firing alarm's whole reason, scales out on "y", records the timeline; terraform then still
    sees no changes (capacity is opsctl's)."""
    cloudwatch = aws.client("cloudwatch", "eu-west-1", applied.emulator_url)
    alarms = cloudwatch.describe_alarms(AlarmNamePrefix="ingest-local-")["MetricAlarms"]
    assert len(alarms) >= 10
    for alarm in alarms:
        found = applied("runbook", "for-alarm", alarm["AlarmName"], "--env", "local", "--json")
        assert found.code == 0, found.output
        assert json.loads(found.stdout)["via"] == "runbook tag", alarm["AlarmName"]

    tested = applied("runbook", "test", "local", "--json")
    assert tested.code == 0, tested.output
    rows = json.loads(tested.stdout)
    assert {r["action"] for r in rows if r["outcome"] != "ok"} == {"budget-status"}  # no budget

    reason = (
        "Threshold Crossed: 2 out of the last 2 datapoints [1320.0, 1104.0] were greater than "
        "the threshold (900.0) (minimum 2 datapoints for OK -> ALARM transition)."
    )
    backlog = "ingest-local-queue-backlog"
    cloudwatch.set_alarm_state(AlarmName=backlog, StateValue="ALARM", StateReason=reason)
    try:
        found = applied("runbook", "for-alarm", backlog, "--env", "local", "--json")
        answer = json.loads(found.stdout)
        assert (answer["state"], answer["runbook"]) == ("ALARM", "queue-backlog")
        run = applied("runbook", "run", "queue-backlog", "local", stdin="y\n")
    finally:
        cloudwatch.set_alarm_state(AlarmName=backlog, StateValue="OK", StateReason="test done")
    assert run.code == 0, run.output
    assert f"{backlog}: ALARM since " in run.stdout
    assert reason in run.stdout
    assert "blue (ingest-local-blue): desired 1 -> 2" in run.stdout
    timeline = applied.build_dir / "local" / "incidents"
    (log,) = timeline.glob("*-queue-backlog.jsonl")
    steps = [json.loads(line)["step"] for line in log.read_text().splitlines()]
    assert "mitigation.1" in steps
    assert steps[-1] == "verification.2"
    code, summary = summary_of(applied, "local")
    assert code == 0, json.dumps(summary["by_module"], indent=1)


def test_replacing_aurora_is_listed_and_refused(applied: Opsctl) -> None:
    code, summary = summary_of(applied, "local", "--replace", AURORA)
    assert code == 2
    assert {"address": AURORA, "type": "aws_rds_cluster", "action": "replace"} in (
        summary["stateful"]
    )
    result = applied("apply", "local", "--yes")
    assert result.code == 4
    assert "refusing to replace stateful resources" in result.stderr
    assert f"--allow-destroy '{AURORA}'" in result.stderr


def test_apply_refuses_a_stale_plan(applied: Opsctl) -> None:
    code, _ = summary_of(applied, "local", "--replace", AURORA)
    assert code == 2
    env_file = applied.envs_dir / "local.yaml"
    original = env_file.read_text()
    env_file.write_text(original.replace("monthly_usd: 10", "monthly_usd: 11"))
    try:
        result = applied("apply", "local", "--yes", "--allow-destroy", AURORA)
    finally:
        env_file.write_text(original)
    assert result.code == 4
    assert "the saved plan for local is stale" in result.stderr
    assert "envs/local.yaml" in result.stderr


def test_destroy_local_removes_the_stack(applied: Opsctl) -> None:
    dry = applied("destroy", "local", "--dry-run")
    assert dry.code == 2, dry.output
    assert "Dry run: nothing changed." in dry.stdout
    assert aws.client("rds", "eu-west-1", applied.emulator_url).describe_db_clusters()["DBClusters"]
    ssm = aws.client("ssm", "eu-west-1", applied.emulator_url)
    record.save_state(ssm, "local", {"live": "green"})  # as a deploy would have left it
    result = applied("destroy", "local", "--yes")
    assert result.code == 0, result.output
    assert record.load_state(ssm, "local") is None  # a re-apply starts without it
    assert "/opsctl/local/bluegreen/state" in result.stdout
    rds = aws.client("rds", "eu-west-1", applied.emulator_url)
    assert rds.describe_db_clusters()["DBClusters"] == []
    ec2 = aws.client("ec2", "eu-west-1", applied.emulator_url)
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["false"]}])["Vpcs"]
    assert vpcs == []
    autoscaling = aws.client("autoscaling", "eu-west-1", applied.emulator_url)
    assert autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"] == []
    # local's secrets.recovery_window_days is 0: nothing left scheduled for deletion, so the
    # next `apply local` on this moto can reuse the names.
    secrets = aws.client("secretsmanager", "eu-west-1", applied.emulator_url)
    left = secrets.list_secrets(IncludePlannedDeletion=True)["SecretList"]
    assert [s["Name"] for s in left if s["Name"].startswith("ingest-local")] == []
