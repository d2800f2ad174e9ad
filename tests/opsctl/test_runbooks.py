"""Runbooks: the format, their agreement with the monitoring module's alarms, and `opsctl runbook`
run for real (subprocess) against moto with just the resources the steps read
(tests/support/moto.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from opsctl import lock
from opsctl.emulator import MotoServer
from opsctl.runbooks.actions import ACTIONS, is_log_problem
from opsctl.runbooks.model import SECTIONS, load_all
from tests.support.moto import ENV, Local, create
from tests.support.opsctl_run import Opsctl
from tests.support.paths import REPO

ALARMS_TF = REPO / "modules" / "monitoring" / "alarms.tf"


def monitoring_alarms() -> dict[str, str]:
    """alarm key -> runbook tag, read from modules/monitoring/alarms.tf."""
    text = ALARMS_TF.read_text(encoding="utf-8")
    found = {"alb-5xx": re.search(r'runbook = "(alb-5xx)"', text).group(1)}  # type: ignore[union-attr]
    for key, runbook in re.findall(r'"([a-z0-9-]+)" = \{\n\s+runbook\s+= "([a-z0-9-]+)"', text):
        found[key] = runbook
    for key, runbook in re.findall(
        r'"([a-z0-9-]+)-\$\{colour\}" => \{\n\s+runbook\s+= "([a-z0-9-]+)"', text
    ):
        for colour in ("blue", "green"):
            found[f"{key}-{colour}"] = runbook
    # Each colour's own 5xx rate (metric math, like alb-5xx): "${var.name}-alb-5xx-${each.key}".
    if re.search(r'alarm_name\s+= "\$\{var.name\}-alb-5xx-\$\{each.key\}"', text):
        for colour in ("blue", "green"):
            found[f"alb-5xx-{colour}"] = "alb-5xx"
    return found


def test_every_runbook_parses_with_all_sections_and_known_actions() -> None:
    books = load_all()
    assert len(books) >= 14
    for book in books:
        assert list(book.sections) == list(SECTIONS), book.name
        for step in book.steps:
            assert step.action in ACTIONS, f"{book.name} {step.id}: unknown {step.action}"
            assert ACTIONS[step.action].kind == step.kind, f"{book.name} {step.id}"
        assert book.diagnose_steps(), book.name
        assert all(s.expect for s in book.steps if s.kind == "remediate"), book.name
    names = {b.name for b in books}
    for needed in ("secret-rotation-failure", "budget-alert", "instance-failure"):
        assert needed in names


def test_monitoring_alarms_and_runbooks_agree_both_ways() -> None:
    alarms = monitoring_alarms()
    assert len(alarms) == 17, alarms  # 11 keys, two of them per colour; alb-5xx, latency per colour
    books = {b.name: b for b in load_all()}
    for key, runbook in alarms.items():
        assert runbook in books, f"alarm {key} names runbook {runbook}, which does not exist"
        assert key in books[runbook].alarms, f"runbook {runbook} does not list alarm {key}"
    for book in books.values():
        for key in book.alarms:
            assert key in alarms, f"runbook {book.name} names alarm {key}, not in monitoring"
            assert alarms[key] == book.name


@pytest.fixture
def local(aws: MotoServer) -> Local:
    return create(aws.endpoint, {key: runbook for key, runbook in monitoring_alarms().items()})


@pytest.fixture
def opsctl(aws: MotoServer, tmp_path: Path) -> Opsctl:
    return Opsctl(REPO / "envs", tmp_path / "build", aws.endpoint)


def timeline(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_for_alarm_resolves_the_runbook_tag_and_falls_back_to_the_name(
    local: Local, opsctl: Opsctl
) -> None:
    cloudwatch = local.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="odd-name-without-a-pattern",
        MetricName="M",
        Namespace="Test",
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
        Tags=[{"Key": "runbook", "Value": "dlq-not-empty"}],
    )
    tagged = opsctl("runbook", "for-alarm", "odd-name-without-a-pattern", "--env", ENV, "--json")
    assert tagged.code == 0, tagged.output
    found = json.loads(tagged.stdout)
    assert (found["runbook"], found["via"]) == ("dlq-not-empty", "runbook tag")
    by_name = opsctl("runbook", "for-alarm", "ingest-staging-unhealthy-hosts-green", "--env", ENV)
    assert by_name.code == 0, by_name.output
    assert "runbook unhealthy-hosts" in by_name.stdout
    assert "name pattern" in by_name.stdout
    assert opsctl("runbook", "for-alarm", "nothing-like-it", "--env", ENV).code == 1


def test_runbook_test_runs_every_diagnose_step_on_the_local_environment(
    local: Local, opsctl: Opsctl
) -> None:
    result = opsctl("runbook", "test", ENV, "--json")
    assert result.code == 0, result.output
    rows = json.loads(result.stdout)
    expected = sum(len(b.diagnose_steps()) for b in load_all())
    assert len(rows) == expected
    assert {r["outcome"] for r in rows} <= {"ok", "skipped"}
    skipped = {r["action"] for r in rows if r["outcome"] == "skipped"}
    assert skipped == {"budget-status"}  # local has no budget (moto lacks the Budgets reads)


def test_run_with_scripted_answers_records_every_step_and_a_declined_step_does_not_run(
    local: Local, opsctl: Opsctl, tmp_path: Path
) -> None:
    asg = local.client("autoscaling")
    blue = local.outputs["asg_names"]["blue"]
    log = tmp_path / "incident.jsonl"
    result = opsctl("runbook", "run", "asg-cpu", ENV, "--log", str(log), stdin="n\n")
    assert result.code == 0, result.output
    entries = timeline(log)
    book = next(b for b in load_all() if b.name == "asg-cpu")
    assert [e["step"] for e in entries] == [s.id for s in book.steps]
    outcomes = {e["step"]: e["outcome"] for e in entries}
    assert outcomes["mitigation.1"] == "declined"
    assert all(o == "ok" for s, o in outcomes.items() if s != "mitigation.1")
    assert "InService" in entries[0]["output"]  # diagnose output recorded
    assert all(e["operator"] and e["time"] and e["command"] for e in entries)
    desired = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[blue])["AutoScalingGroups"]
    assert desired[0]["DesiredCapacity"] == 1  # the declined scale-out did not happen
    assert "# Incident" in result.stdout
    assert "| mitigation.1 |" in result.stdout

    accepted = opsctl("runbook", "run", "asg-cpu", ENV, "--log", str(log), stdin="y\n")
    assert accepted.code == 0, accepted.output
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[blue])["AutoScalingGroups"]
    assert group[0]["DesiredCapacity"] == 2
    assert timeline(log)[-3]["outcome"] == "ok"
    assert timeline(log)[-3]["action"] == "asg-scale"
    assert lock.read(local.client("ssm"), ENV) is None  # the remediation's lock was released


def test_live_colour_is_the_one_taking_traffic_not_a_stale_record(
    local: Local, opsctl: Opsctl, tmp_path: Path
) -> None:
    """The SSM record can outlive the stack (a destroy leaves it); the listener cannot."""
    from opsctl.bluegreen import record

    record.save_state(local.client("ssm"), ENV, {"live": "green"})
    result = opsctl("runbook", "run", "asg-cpu", ENV, "--yes", "--log", str(tmp_path / "i.jsonl"))
    assert result.code == 0, result.output
    groups = local.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=list(local.outputs["asg_names"].values())
    )["AutoScalingGroups"]
    desired = {g["AutoScalingGroupName"].rsplit("-", 1)[1]: g["DesiredCapacity"] for g in groups}
    assert desired == {"blue": 2, "green": 0}, result.output


def test_read_only_run_records_diagnose_steps_and_skips_remediation(
    local: Local, opsctl: Opsctl, tmp_path: Path
) -> None:
    log = tmp_path / "ro.jsonl"
    result = opsctl("runbook", "run", "alb-5xx", ENV, "--read-only", "--log", str(log))
    assert result.code == 0, result.output
    entries = timeline(log)
    assert {e["outcome"] for e in entries if e["kind"] == "remediate"} == {"skipped"}
    assert {e["outcome"] for e in entries if e["kind"] == "diagnose"} == {"ok"}
    assert len(entries) == len(next(b for b in load_all() if b.name == "alb-5xx").steps)
    errors = next(e for e in entries if e["action"] == "app-errors")["output"]
    assert "2 line(s) at warning or above" in errors, errors
    assert "db down" in errors
    assert "Traceback" in errors
    assert "0 errors" not in errors  # an info line that merely says "error"


@pytest.mark.parametrize(
    ("message", "floor", "shown"),
    [
        ('{"level": "error", "message": "db down"}', "warning", True),
        ('{"level": "warning", "message": "attempt 2 failed"}', "warning", True),
        ('{"level": "warning", "message": "attempt 2 failed"}', "error", False),
        ('{"level": "info", "message": "0 errors in the last batch"}', "warning", False),
        ('{"level": "CRITICAL", "message": "out of memory"}', "error", True),
        ("Traceback (most recent call last):", "error", True),
        ("2026/11/28 10:00:00 [error] 812#812: *1 connect() failed", "warning", True),
        ("Started ingest-api.service", "warning", False),
        ("[1, 2, 3]", "warning", False),  # JSON, but not a log record
    ],
)
def test_app_errors_filters_json_lines_by_level_and_plain_lines_by_words(
    message: str, floor: str, shown: bool
) -> None:
    assert is_log_problem(message, floor) is shown


def test_a_later_run_on_the_same_incident_adds_to_its_timeline_and_summary(
    local: Local, opsctl: Opsctl, tmp_path: Path
) -> None:
    log = tmp_path / "incident.jsonl"
    args = ("runbook", "run", "asg-cpu", ENV, "--incident", "inc-1", "--log", str(log))
    first = opsctl(*args, stdin="y\n")
    assert first.code == 0, first.output
    again = opsctl(*args, "--read-only")
    assert again.code == 0, again.output
    summary = log.with_suffix(".md").read_text(encoding="utf-8")
    assert summary == again.stdout[again.stdout.index("# Incident inc-1") :].rstrip("\n") + "\n"
    assert summary.count("| triage.1 |") == 2
    assert "- steps: 13 ok, 1 skipped" in summary
    assert "- asg-scale: blue" in summary  # what the first run changed is still listed


def test_remediation_takes_the_environment_lock(
    local: Local, opsctl: Opsctl, tmp_path: Path
) -> None:
    ssm = local.client("ssm")
    held = lock.acquire(ssm, ENV, "someone else's apply", 600)
    log = tmp_path / "locked.jsonl"
    result = opsctl("runbook", "run", "asg-cpu", ENV, "--yes", "--log", str(log))
    assert result.code == 3, result.output
    assert "someone else's apply" in result.stderr
    step = next(e for e in timeline(log) if e["kind"] == "remediate")
    assert step["outcome"] == "locked"
    assert "someone else's apply" in step["output"]
    group = local.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[local.outputs["asg_names"]["blue"]]
    )["AutoScalingGroups"][0]
    assert group["DesiredCapacity"] == 1
    lock.release(ssm, ENV, held)


def test_prod_remediation_is_not_taken_from_piped_input_without_yes(
    local: Local, opsctl: Opsctl, tmp_path: Path
) -> None:
    log = tmp_path / "prod.jsonl"
    result = opsctl("runbook", "run", "asg-cpu", "prod", "--log", str(log), stdin="y\nprod\n")
    entries = timeline(log)
    step = next(e for e in entries if e["kind"] == "remediate")
    assert step["outcome"] == "declined", result.output
    assert "prod remediation needs --yes" in result.stderr


def test_a_runbook_not_tested_for_90_days_is_stale(tmp_path: Path) -> None:
    from datetime import date

    from opsctl.runbooks.model import parse

    source = (REPO / "runbooks" / "queue-backlog.md").read_text(encoding="utf-8")
    copy = tmp_path / "queue-backlog.md"
    copy.write_text(re.sub(r"last_tested: \S+", "last_tested: 2026-08-01", source), "utf-8")
    book = parse(copy)
    assert not book.stale(today=date(2026, 10, 30))  # 90 days
    assert book.stale(today=date(2026, 10, 31))


def test_runbook_list_json_says_whether_each_is_stale(opsctl: Opsctl) -> None:
    result = opsctl("runbook", "list", "--json")
    assert result.code == 0, result.output
    rows = json.loads(result.stdout)
    assert {r["name"]: r["stale"] for r in rows} == {b.name: b.stale() for b in load_all()}
