"""Runbooks: the format, their agreement with the monitoring module's alarms, and `opsctl runbook`
run for real (subprocess) against moto with just the resources the steps read
(tests/support/moto.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from opsctl import lock
from opsctl.local.emulator import MotoServer
from opsctl.runbooks.actions import ACTIONS, is_log_problem
from opsctl.runbooks.model import SECTIONS, load_all
from tests.support.moto import ENV, Local, create
from tests.support.opsctl_run import Opsctl
from tests.support.paths import REPO

ALARMS_TF = REPO / "modules" / "monitoring" / "alarms.tf"


def monitoring_alarms() -> dict[str, str]:
    """alarm key -> runbook tag, read from modules/monitoring/alarms.tf."""
    text = ALARMS_TF.read_text(encoding="utf-8")
    found: dict[str, str] = {}
    for key, runbook in re.findall(r'"([a-z0-9-]+)" = \{\n\s+runbook\s+= "([a-z0-9-]+)"', text):
        found[key] = runbook
    for key, runbook in re.findall(
        r'"([a-z0-9-]+)-\$\{colour\}" => \{\n\s+runbook\s+= "([a-z0-9-]+)"', text
    ):
        for colour in ("blue", "green"):
            found[f"{key}-{colour}"] = runbook
    # The 5xx rates (metric math): local.five_xx_alarms, one resource tagged runbook = "alb-5xx".
    five_xx = re.search(r"five_xx_alarms = merge\((.*?)\n  \)\n", text, re.DOTALL)
    runbook = re.search(r'"five_xx" \{.*?runbook = "([a-z0-9-]+)"', text, re.DOTALL)
    if five_xx and runbook:
        for key in re.findall(r'\n\s+"([a-z0-9-]+)" = \{', five_xx.group(1)):
            found[key] = runbook.group(1)
        for key in re.findall(r'"([a-z0-9-]+)-\$\{colour\}" => \{', five_xx.group(1)):
            for colour in ("blue", "green"):
                found[f"{key}-{colour}"] = runbook.group(1)
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
    released = lock.Store.open(ENV, "eu-west-1", local.url).read()
    assert released is not None
    assert not released.held


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
    store = lock.Store.open(ENV, "eu-west-1", local.url)
    held = store.acquire("someone else's apply", "arn:aws:sts::123456789012:user/bob")
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
    store.release(held)


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


# --- issue 18: load-time validation, shared timeline, STS operator, the lock renewed -----------
def test_a_runbook_with_an_unknown_action_is_refused_at_load(
    tmp_path: Path, opsctl: Opsctl
) -> None:
    """Main loaded it and crashed with a KeyError when the walk reached the step, after the
    steps before it had run. Now loading refuses it, and `runbook validate` names the step."""
    from opsctl.runbooks.model import RunbookError, check_actions, parse

    broken = tmp_path / "asg-cpu.md"
    text = (REPO / "runbooks" / "asg-cpu.md").read_text(encoding="utf-8")
    broken.write_text(text.replace("remediate: asg-scale", "remediate: asg-explode"), "utf-8")
    with pytest.raises(
        RunbookError, match="Mitigation step 1: unknown remediate action 'asg-explode'"
    ):
        check_actions(parse(broken))
    result = opsctl("runbook", "validate", str(broken))
    assert result.code == 1
    assert "unknown remediate action 'asg-explode'" in result.stderr
    assert "Traceback" not in result.output
    assert opsctl("runbook", "validate").code == 0  # the repository's runbooks are all valid


def test_the_timeline_goes_to_the_shared_log_group_under_the_sts_identity(
    local: Local, opsctl: Opsctl, tmp_path: Path
) -> None:
    """Main kept the timeline on the operator's machine only, with `user@host pid` as the
    operator. Every entry now also goes to /ingest/ENV/incidents, under the STS caller ARN."""
    log = tmp_path / "shared.jsonl"
    result = opsctl("runbook", "run", "asg-cpu", ENV, "--incident", "inc-1", "--log", str(log),
                    stdin="n\n")  # fmt: skip
    assert result.code == 0, result.output
    who = local.client("sts").get_caller_identity()["Arn"]
    assert {e["operator"] for e in timeline(log)} == {who}
    events = local.client("logs").get_log_events(
        logGroupName="/ingest/local/incidents", logStreamName="inc-1", startFromHead=True
    )["events"]
    mirrored = [json.loads(e["message"]) for e in events]
    assert [e["step"] for e in mirrored] == [e["step"] for e in timeline(log)]
    assert all(e["operator"] == who for e in mirrored)


def test_a_mirror_failure_never_aborts_a_walk_whose_action_already_ran(
    local: Local, tmp_path: Path
) -> None:
    """Main let a PutLogEvents error escape Timeline.add: the walk stopped right after the
    remediation had changed the environment, with its outcome unrecorded and the rest not run."""
    from botocore.exceptions import ClientError

    from opsctl.config import load
    from opsctl.runbooks.actions import Context
    from opsctl.runbooks.model import load as load_runbook
    from opsctl.runbooks.runner import Timeline, walk

    def failing_mirror(_entry: dict[str, object]) -> None:
        raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "Logs down"}}, "Put")

    ctx = Context(load(ENV), local.url)
    log = tmp_path / "mirror-down.jsonl"
    line = Timeline(log, "inc-2", "asg-cpu", ENV, "arn:test", mirror=failing_mirror)
    book = load_runbook("asg-cpu")
    result = walk(book, ctx, line, lambda _s, _c: True, lambda _t: None, lock_command="runbook")
    assert result.failed == 0
    assert [e["step"] for e in timeline(log)] == [s.id for s in book.steps]  # all ran, recorded
    assert len(line.mirror_failures) == len(book.steps)
    blue = local.outputs["asg_names"]["blue"]
    group = local.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[blue])[
        "AutoScalingGroups"
    ][0]
    assert group["DesiredCapacity"] == 2  # the remediation ran


def test_the_remediation_lock_is_renewed_while_the_operator_decides(
    local: Local, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Main took the lock once for 3,600 s and never renewed it: a person deciding for longer
    lost it to the next command mid-incident. With a 1 s lease (so the test is quick), the lock
    taken at the first remediate step is still ours many leases later, at the second."""
    import time

    from opsctl.config import load
    from opsctl.runbooks.actions import Context
    from opsctl.runbooks.model import load as load_runbook
    from opsctl.runbooks.runner import Timeline, walk

    monkeypatch.setattr(lock, "LEASE_SECONDS", 1.0)
    monkeypatch.setattr(lock, "SKEW_MARGIN", 0.2)
    store = lock.Store.open(ENV, "eu-west-1", local.url)
    book = load_runbook("high-latency")
    remediate = [s for s in book.steps if s.kind == "remediate"]
    assert len(remediate) >= 2
    seen: dict[str, object] = {}

    def ask(step: object, _command: str) -> bool:
        if step == remediate[0]:
            return True
        if step == remediate[1]:
            first = store.read()
            assert first is not None
            assert first.held
            deadline = time.monotonic() + 60
            while time.time() < first.expires_at + 3:  # three leases go by while deciding
                assert time.monotonic() < deadline
                time.sleep(0.1)
            try:
                store.acquire("someone else's apply", "arn:bob")
            except lock.LockHeld as held:
                seen["refused"] = held.holder
        return False

    ctx = Context(load(ENV), local.url, operator="arn:aws:sts::123456789012:user/alice")
    line = Timeline(tmp_path / "renew.jsonl", "inc-3", book.name, ENV, ctx.operator)
    walk(book, ctx, line, ask, lambda _t: None, lock_command="runbook high-latency")
    holder = seen.get("refused")
    assert isinstance(holder, lock.Lock)
    assert holder.holder == "arn:aws:sts::123456789012:user/alice"
    after = store.read()
    assert after is not None
    assert not after.held
