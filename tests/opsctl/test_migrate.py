"""`opsctl migrate` on a real MariaDB (the real CLI in a subprocess), the lint, and the SSM path.

Extra test revisions go in the `extra` folder (tests/support/revisions.py).
The SSM path is tested at the AWS-client seam: moto's SendCommand accepts the call but runs
nothing, so GetCommandInvocation is answered by a fake (named so below).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from opsctl.exitcodes import Exit
from opsctl.local.emulator import MotoServer
from opsctl.migrate import remote
from tests.support.mariadb import PASSWORD, USER, MariaDB
from tests.support.opsctl_run import Opsctl, Result
from tests.support.paths import REPO
from tests.support.revisions import write_revision


@pytest.fixture
def opsctl(tmp_path: Path) -> Opsctl:
    return Opsctl(REPO / "envs", tmp_path / "build")


def ddl(lines: list[str]) -> list[str]:
    return [s for s in lines if s.split()[0].upper() in ("CREATE", "ALTER", "DROP")]


def migrate(opsctl: Opsctl, action: str, url: str, *args: str, env: str = "local") -> Result:
    return opsctl("migrate", action, env, "--database-url", url, *args, timeout=120)


def spawn(url: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "opsctl", "migrate", "up", "local", "--database-url", url, *args],
        cwd=REPO,
        env=dict(os.environ, NO_COLOR="1", COLUMNS="200"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


HOLDER = """
import asyncio, sys, asyncmy
async def main():
    conn = await asyncmy.connect(host="127.0.0.1", port={port}, user="{user}",
                                 password="{password}", db="{db}", autocommit=False)
    cur = conn.cursor()
    for statement in {statements!r}:
        await cur.execute(statement)
        await cur.fetchall()
    print("holding", flush=True)
    await asyncio.sleep(600)
asyncio.run(main())
"""


def hold(server: MariaDB, name: str, *statements: str) -> subprocess.Popen[str]:
    """A separate session that runs `statements` and then sits idle holding what they took."""
    code = HOLDER.format(
        port=server.port, user=USER, password=PASSWORD, db=name, statements=list(statements)
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "holding"
    return process


def kill(process: subprocess.Popen[str]) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


def test_status_2_then_up_0_sql_matches_up_and_up_down_up_round_trip(
    db: tuple[MariaDB, str, str], opsctl: Opsctl
) -> None:
    _server, _name, url = db
    status = migrate(opsctl, "status", url)
    assert status.code == 2, status.output
    assert "pending (2)" in status.stdout
    assert "0001" in status.stdout
    sql = migrate(opsctl, "sql", url)
    assert sql.code == 0, sql.output
    assert "CREATE TABLE jobs" in sql.stdout
    assert "ALTER TABLE jobs ADD COLUMN schema_version" in sql.stdout
    from service.migrate import sql_statements

    up = migrate(opsctl, "up", url)
    assert up.code == 0, up.output
    executed = [
        line.split("sql> ", 1)[1].strip() for line in up.stderr.splitlines() if "sql> " in line
    ]
    offline = [s for s in sql_statements(sql.stdout) if "alembic_version" not in s]
    assert ddl(executed) == ddl(offline)  # `sql` shows exactly the DDL `up` runs
    assert migrate(opsctl, "status", url).code == 0
    assert migrate(opsctl, "sql", url).stdout.strip() == ""
    down = migrate(opsctl, "down", url, "--yes")
    assert down.code == 0, down.output
    assert "reverted 0002" in down.stdout
    assert migrate(opsctl, "status", url).code == 2
    assert migrate(opsctl, "up", url).code == 0
    history = migrate(opsctl, "history", url, "--json")
    assert history.code == 0, history.output
    assert [
        (r["revision"], r["action"]) for r in __import__("json").loads(history.stdout)["log"]
    ] == [
        ("0001", "upgrade"),
        ("0002", "upgrade"),
        ("0002", "downgrade"),
        ("0002", "upgrade"),
    ]


def test_two_concurrent_ups_apply_once_the_other_waits_then_finds_nothing(
    db: tuple[MariaDB, str, str], extra: Path
) -> None:
    server, name, url = db
    write_revision(
        extra,
        "0003",
        'op.execute("SELECT SLEEP(3)")\nop.add_column("jobs", sa.Column("n3", sa.Integer))',
    )
    first, second = spawn(url), spawn(url)
    outputs = [p.communicate(timeout=120) for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outputs
    applied = [out for out, _err in outputs if "applied 0003" in out]
    waited = [out for out, _err in outputs if "Nothing to apply" in out]
    assert len(applied) == 1, outputs
    assert len(waited) == 1, outputs
    query = "SELECT revision, COUNT(*) FROM {}.migration_log GROUP BY revision"
    rows = server.sql(query.format(name))
    assert sorted(rows.split()) == sorted(["0001", "1", "0002", "1", "0003", "1"])


def test_lock_held_exits_3_naming_the_holder_and_a_killed_holder_frees_it(
    db: tuple[MariaDB, str, str], opsctl: Opsctl
) -> None:
    server, name, url = db
    holder = hold(server, name, "SELECT GET_LOCK('ingest_service_migrate', 0)")
    try:
        blocked = migrate(opsctl, "up", url, "--lock-timeout", "2")
        assert blocked.code == 3, blocked.output
        assert "holds the lock 'ingest_service_migrate'" in blocked.stderr
        assert f"{USER}@127.0.0.1" in blocked.stderr  # the holder's session is named
        assert migrate(opsctl, "status", url).code == 2  # nothing applied
    finally:
        kill(holder)  # SIGKILL: no RELEASE_LOCK; MariaDB frees it when the session ends
    after = migrate(opsctl, "up", url, "--lock-timeout", "30")
    assert after.code == 0, after.output
    assert migrate(opsctl, "status", url).code == 0


def test_an_alter_blocked_by_a_metadata_lock_fails_fast(
    db: tuple[MariaDB, str, str], opsctl: Opsctl, extra: Path
) -> None:
    server, name, url = db
    assert migrate(opsctl, "up", url).code == 0
    write_revision(extra, "0003", 'op.add_column("jobs", sa.Column("n3", sa.Integer))')
    holder = hold(server, name, "BEGIN", "SELECT COUNT(*) FROM jobs")  # open txn: MDL on jobs
    try:
        started = time.monotonic()
        blocked = migrate(opsctl, "up", url, "--lock-wait-timeout", "2")
        elapsed = time.monotonic() - started
        assert blocked.code == 1, blocked.output
        assert "Lock wait timeout exceeded" in blocked.stderr
        assert elapsed < 30  # failed after ~2 s instead of queueing every query behind it
    finally:
        kill(holder)
    status = migrate(opsctl, "status", url)
    assert status.code == 2, status.output
    assert "nothing of it was applied" in status.stdout, status.output
    assert migrate(opsctl, "up", url).code == 0


HALF = (
    'op.add_column("jobs", sa.Column("note", sa.String(32)))\n'
    'op.create_index("ix_jobs_note", "jobs", [{column!r}])'
)


def test_a_revision_failing_half_way_is_shown_and_rerun_after_undo_reaches_head(
    db: tuple[MariaDB, str, str], opsctl: Opsctl, extra: Path
) -> None:
    server, name, url = db
    write_revision(extra, "0003", HALF.format(column="missing_column"))
    failed = migrate(opsctl, "up", url)
    assert failed.code == 1, failed.output
    assert "revision 0003 failed" in failed.stderr, failed.output
    status = migrate(opsctl, "status", url)
    assert status.code == 2, status.output
    assert "revision 0003 FAILED half-way" in status.stdout
    assert "ALTER TABLE jobs ADD COLUMN note VARCHAR(32)" in status.stdout  # applied, stays
    assert "CREATE INDEX ix_jobs_note" in status.stdout  # the statement that failed
    assert migrate(opsctl, "up", url).code == 1  # a plain re-run fails: the column exists
    # Documented recovery 1: undo what was applied, fix the revision, run up again.
    server.sql(f"ALTER TABLE {name}.jobs DROP COLUMN note")
    write_revision(extra, "0003", HALF.format(column="note"))
    again = migrate(opsctl, "up", url)
    assert again.code == 0, again.output
    assert migrate(opsctl, "status", url).code == 0


def test_a_revision_failing_half_way_recovered_by_finishing_by_hand_and_stamp(
    db: tuple[MariaDB, str, str], opsctl: Opsctl, extra: Path
) -> None:
    server, name, url = db
    write_revision(extra, "0003", HALF.format(column="missing_column"))
    assert migrate(opsctl, "up", url).code == 1
    # Documented recovery 2: finish the revision by hand, then stamp it.
    server.sql(f"CREATE INDEX ix_jobs_note ON {name}.jobs (note)")
    stamped = migrate(opsctl, "stamp", url, "--revision", "0003", "--yes")
    assert stamped.code == 0, stamped.output
    status = migrate(opsctl, "status", url)
    assert status.code == 0, status.output
    assert "up to date" in status.stdout, status.output


def test_down_names_env_and_revision_asks_and_prod_needs_yes(
    db: tuple[MariaDB, str, str], opsctl: Opsctl
) -> None:
    _server, _name, url = db
    assert migrate(opsctl, "up", url).code == 0
    refused = migrate(opsctl, "down", url)  # no terminal, no --yes
    assert refused.code == 4, refused.output
    assert "Downgrade local from 0002 to -1: reverts 0002" in refused.stdout
    prod = migrate(opsctl, "down", url, env="prod")
    assert prod.code == 4, prod.output
    assert "prod needs --yes" in prod.stderr, prod.output
    assert migrate(opsctl, "status", url).code == 0  # nothing reverted
    done = migrate(opsctl, "down", url, "--yes", env="prod")
    assert done.code == 0, done.output
    assert migrate(opsctl, "status", url).code == 2


DESTRUCTIVE = """op.drop_column("jobs", "last_error")
op.add_column("jobs", sa.Column("tenant", sa.String(32), nullable=False))
op.alter_column("jobs", "status", type_=sa.String(8), existing_type=sa.String(16))
op.drop_table("api_keys")"""


def test_lint_flags_destructive_operations_outside_contract_revisions(
    tmp_path: Path, opsctl: Opsctl, extra: Path, db: tuple[MariaDB, str, str]
) -> None:
    write_revision(extra, "0003", DESTRUCTIVE)
    linted = opsctl("migrate", "lint", str(extra))
    assert linted.code == 1, linted.output
    for message in (
        "drops column jobs.last_error",
        "adds NOT NULL column tenant without a server_default",
        "narrows a column's type: jobs.status",
        "drops table api_keys",
    ):
        assert message in linted.stdout, linted.stdout
    _server, _name, url = db
    refused = migrate(opsctl, "up", url)
    assert refused.code == 4, refused.output
    assert "--allow-destructive" in refused.stderr, refused.output
    assert opsctl("migrate", "lint", str(REPO / "service/migrations/versions")).code == 0
    write_revision(extra, "0003", DESTRUCTIVE, phase="contract")
    assert opsctl("migrate", "lint", str(extra)).code == 0


# --- the SSM Run Command path ----------------------------------------------------------------
class FakeRunCommandSsm:
    """moto's SSM client, except GetCommandInvocation: moto's SendCommand runs nothing, so the
    invocation's result (what the instance would print) is faked here. SendCommand itself goes
    to moto and is recorded."""

    def __init__(self, real: Any, stdout: str, code: int) -> None:
        self.real, self.stdout, self.code = real, stdout, code
        self.sent: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def send_command(self, **params: Any) -> Any:
        self.sent.append(params)
        return self.real.send_command(**params)

    def get_command_invocation(self, **params: Any) -> Any:
        return {
            "Status": "Success" if self.code in (0, 2) else "Failed",
            "ResponseCode": self.code,
            "StandardOutputContent": self.stdout,
            "StandardErrorContent": "",
        }


def fake_ssm(
    aws: MotoServer, monkeypatch: pytest.MonkeyPatch, stdout: str, code: int
) -> FakeRunCommandSsm:
    """Every opsctl SSM client in this process becomes a FakeRunCommandSsm over moto."""
    from opsctl import aws as aws_factory
    from tests.support.moto import REGION

    fake = FakeRunCommandSsm(aws_factory.client("ssm", REGION, aws.endpoint), stdout, code)
    real_client = aws_factory.client
    monkeypatch.setattr(
        aws_factory,
        "client",
        lambda service, region, url=None, **kw: (
            fake if service == "ssm" else real_client(service, region, url, **kw)
        ),
    )
    return fake


def test_ssm_path_with_fake_invocation_result_sends_the_command_line_and_shows_output(
    aws: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from opsctl.cli import app
    from tests.support.moto import create

    local = create(aws.endpoint)
    blue = local.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[local.outputs["asg_names"]["blue"]]
    )["AutoScalingGroups"][0]["Instances"][0]["InstanceId"]
    fake = fake_ssm(aws, monkeypatch, "pending (1):\n  0002  [expand]\n", 2)
    monkeypatch.setenv("OPSCTL_EMULATOR_URL", aws.endpoint)
    result = CliRunner().invoke(app, ["migrate", "status", "local"])
    assert result.exit_code == 2, result.output  # the instance's exit code is ours
    assert "pending (1):" in result.output
    assert "0002" in result.output
    assert len(fake.sent) == 1
    sent = fake.sent[0]
    assert sent["InstanceIds"] == [blue]  # an InService instance of the live colour
    assert sent["DocumentName"] == "AWS-RunShellScript"
    line = " ".join(sent["Parameters"]["commands"])
    assert "systemd-run" in line
    assert "EnvironmentFile=/etc/ingest/env" in line
    assert "/opt/ingest/venv/bin/ingest-service schema status" in line


class AgentNotRegistered(FakeRunCommandSsm):
    """SendCommand answers InvalidInstanceId `misses` times first: the instance's SSM Agent is
    not running or registered yet (SSM API Reference, SendCommand, InvalidInstanceId), as for an
    instance that has only just come InService. MOCK: moto accepts any instance at once."""

    def __init__(self, real: Any, misses: int) -> None:
        super().__init__(real, "pending (1):\n  0002  [expand]\n", 2)
        self.misses, self.refused = misses, 0

    def send_command(self, **params: Any) -> Any:
        if self.refused < self.misses:
            self.refused += 1
            raise self.real.exceptions.InvalidInstanceId(
                {"Error": {"Code": "InvalidInstanceId", "Message": "not in a valid state"}},
                "SendCommand",
            )
        return super().send_command(**params)


@pytest.mark.parametrize("misses", [2, 1_000], ids=["registers-later", "never-registers"])
def test_a_command_waits_for_the_instances_ssm_agent_and_gives_up_naming_it(
    aws: MotoServer, monkeypatch: pytest.MonkeyPatch, misses: int
) -> None:
    from typer.testing import CliRunner

    from opsctl import aws as aws_factory
    from opsctl.cli import app
    from tests.support.moto import REGION, create

    create(aws.endpoint)
    fake = AgentNotRegistered(aws_factory.client("ssm", REGION, aws.endpoint), misses)
    real_client = aws_factory.client
    monkeypatch.setattr(
        aws_factory,
        "client",
        lambda service, region, url=None, **kw: (
            fake if service == "ssm" else real_client(service, region, url, **kw)
        ),
    )
    monkeypatch.setenv("OPSCTL_EMULATOR_URL", aws.endpoint)
    monkeypatch.setenv("OPSCTL_MIGRATE_POLL_SECONDS", "0.05")
    monkeypatch.setattr(remote, "AGENT_WAIT", 1.0)
    result = CliRunner().invoke(app, ["migrate", "status", "local"])
    if misses == 2:
        assert result.exit_code == 2, result.output  # the instance's own exit code
        assert "pending (1):" in result.output
        assert (fake.refused, len(fake.sent)) == (2, 1)
    else:
        assert result.exit_code == Exit.ERROR, result.output
        assert "SSM cannot run commands on i-" in result.output
        assert "Is its SSM Agent running" in result.output
        assert fake.sent == []


def test_release_phase_on_aws_runs_up_with_the_phase_via_ssm_and_keeps_the_guard_code(
    aws: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`opsctl release`'s migration step against AWS (MOCK: the instance's answer is faked, as
    above). The lint runs on the instance, on the AMI's revisions (`ingest-service schema up`
    refuses itself): its refusal (exit 4) is the step's exit code, and opsctl never adds
    --allow-destructive."""
    from opsctl.config import load
    from opsctl.migrate.run import run_phase
    from tests.support.moto import create

    create(aws.endpoint)
    environment = load("local")
    fake = fake_ssm(aws, monkeypatch, "", 4)
    assert run_phase(environment, "expand", aws.endpoint, None) == 4
    fake = fake_ssm(aws, monkeypatch, "  ok applied 0003 (1 statement(s))\n", 0)
    assert run_phase(environment, "expand", aws.endpoint, None) == 0
    (sent,) = fake.sent
    line = " ".join(sent["Parameters"]["commands"])
    assert "ingest-service schema up --phase=expand" in line
    assert "--allow-destructive" not in line


def test_database_url_without_the_service_installed_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The local runner finds `ingest-service` beside this Python or on PATH; with neither,
    one clear line and exit 1, not a traceback."""
    from typer.testing import CliRunner

    from opsctl.cli import app

    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    result = CliRunner().invoke(
        app, ["migrate", "status", "local", "--database-url", "sqlite+aiosqlite:///x.db"]
    )
    assert result.exit_code == 1, result.output
    assert "ingest-service is not installed" in result.output
    assert str(tmp_path / "python") in result.output
    assert "Traceback" not in result.output


RECORDER = """#!/bin/sh
printf '%s\\n' "$@" > "$0.argv"
printf '%s|%s' "$INGEST_DATABASE_URL" "${INGEST_DATABASE_SECRET_ARN:-none}" > "$0.env"
echo '{"current": null}'
exit 2
"""


def test_local_runner_passes_the_url_in_the_environment_never_on_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The URL holds a password: on argv every local user could read it in the process list.
    A real executable named ingest-service beside this Python records what it was given."""
    from opsctl.migrate.local import LocalTarget

    service = tmp_path / "ingest-service"
    service.write_text(RECORDER, encoding="utf-8")
    service.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("INGEST_DATABASE_SECRET_ARN", "arn:aws:secretsmanager:eu-west-1:1:secret:x")
    url = "mysql+asyncmy://ingest:s3cret@127.0.0.1:3306/ingest"
    outcome = LocalTarget("dev", url).run("up", ["--phase=expand"])
    assert (outcome.code, outcome.stdout) == (2, '{"current": null}\n')
    argv = (tmp_path / "ingest-service.argv").read_text().split()
    assert argv == ["schema", "up", "--phase=expand", "--name", "dev"]
    assert (tmp_path / "ingest-service.env").read_text() == f"{url}|none"


class PlayedInstance(FakeRunCommandSsm):
    """moto's SSM runs nothing, so this plays the instance's side of Run Command (MOCK, as
    above): GetCommandInvocation answers `statuses` in turn (the last one repeats), with stdout
    cut at 24,000 characters as SSM's API does, while the agent's upload of the whole output
    to CloudWatch Logs (`<command>/<instance>/aws-runShellScript/stdout`) goes to moto's real
    Logs. CancelCommand is recorded and turns the answers into Cancelling, then Cancelled."""

    def __init__(self, real: Any, logs: Any, stdout: str, code: int, statuses: list[str]) -> None:
        super().__init__(real, stdout, code)
        self.logs, self.statuses = logs, list(statuses)
        self.cancelled: list[dict[str, Any]] = []
        self.calls: list[str] = []
        self.on_poll: Any = None

    def send_command(self, **params: Any) -> Any:
        sent = super().send_command(**params)
        group = params.get("CloudWatchOutputConfig", {}).get("CloudWatchLogGroupName")
        if group:
            self._upload(group, sent["Command"]["CommandId"], params["InstanceIds"][0])
        return sent

    def _upload(self, group: str, command_id: str, instance_id: str) -> None:
        from contextlib import suppress

        with suppress(self.logs.exceptions.ResourceAlreadyExistsException):
            self.logs.create_log_group(logGroupName=group)
        stream = f"{command_id}/{instance_id}/aws-runShellScript/stdout"
        self.logs.create_log_stream(logGroupName=group, logStreamName=stream)
        now = int(time.time() * 1000)
        lines = self.stdout.rstrip("\n").split("\n")
        for start in range(0, len(lines), 500):  # PutLogEvents takes batches
            self.logs.put_log_events(
                logGroupName=group,
                logStreamName=stream,
                logEvents=[
                    {"timestamp": now, "message": line} for line in lines[start : start + 500]
                ],
            )

    def cancel_command(self, **params: Any) -> Any:
        self.calls.append("cancel")
        self.cancelled.append(params)
        self.statuses = ["Cancelling", "Cancelled"]
        return {}

    def get_command_invocation(self, **params: Any) -> Any:
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        self.calls.append(status)
        if self.on_poll is not None:
            self.on_poll(status)
        return {
            "Status": status,
            "ResponseCode": self.code if status in ("Success", "Failed") else -1,
            "StandardOutputContent": self.stdout[:24_000],
            "StandardErrorContent": "",
        }


def played_instance(
    aws: MotoServer, monkeypatch: pytest.MonkeyPatch, stdout: str, code: int, statuses: list[str]
) -> PlayedInstance:
    from opsctl import aws as aws_factory
    from tests.support.moto import REGION

    real_client = aws_factory.client
    fake = PlayedInstance(
        real_client("ssm", REGION, aws.endpoint),
        real_client("logs", REGION, aws.endpoint),
        stdout,
        code,
        statuses,
    )
    monkeypatch.setattr(
        aws_factory,
        "client",
        lambda service, region, url=None, **kw: (
            fake if service == "ssm" else real_client(service, region, url, **kw)
        ),
    )
    monkeypatch.setenv("OPSCTL_MIGRATE_POLL_SECONDS", "0.05")
    monkeypatch.setenv("OPSCTL_EMULATOR_URL", aws.endpoint)
    return fake


def test_run_command_output_over_24000_characters_is_shown_whole_from_the_log_group(
    aws: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Main showed GetCommandInvocation's output, which stops at 24,000 characters: a failing
    migration's error, at the end of its log, was lost. MOCK of the instance (PlayedInstance)."""
    from typer.testing import CliRunner

    from opsctl.cli import app
    from tests.support.moto import create

    create(aws.endpoint)
    long_log = "".join(f"statement {n}: ALTER TABLE jobs ...\n" for n in range(2000))
    long_log += "ERROR 1060 (42S21): Duplicate column name 'note' in revision 0003\n"
    assert len(long_log) > 24_000
    fake = played_instance(aws, monkeypatch, long_log, 1, ["InProgress", "Failed"])
    result = CliRunner().invoke(app, ["migrate", "status", "local"])
    assert result.exit_code == 1, result.output
    assert "Duplicate column name 'note' in revision 0003" in result.output
    assert "statement 0: ALTER" in result.output
    assert "statement 1999: ALTER" in result.output
    (sent,) = fake.sent
    assert sent["CloudWatchOutputConfig"] == {
        "CloudWatchLogGroupName": "/ingest/local/run-command",
        "CloudWatchOutputEnabled": True,
    }


def test_ctrl_c_cancels_the_command_and_waits_for_it_to_stop_before_releasing_the_lock(
    aws: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Main left the migration running on the instance when Ctrl-C (or the client time-out)
    ended opsctl, and released the lock. Now a real SIGINT cancels the command; the lock stays
    held until SSM reports it Cancelled; the instance is protected from scale-in throughout.
    MOCK of the instance (PlayedInstance)."""
    import threading

    from typer.testing import CliRunner

    from opsctl import lock
    from opsctl.cli import app
    from tests.support.moto import REGION, create

    local = create(aws.endpoint)
    asg = local.client("autoscaling")
    instance = asg.describe_auto_scaling_groups(
        AutoScalingGroupNames=[local.outputs["asg_names"]["blue"]]
    )["AutoScalingGroups"][0]["Instances"][0]["InstanceId"]
    store = lock.Store.open("local", REGION, aws.endpoint)
    fake = played_instance(aws, monkeypatch, "applying 0003\n", 0, ["InProgress"])
    seen: list[tuple[str, bool, bool]] = []
    main = threading.main_thread().ident

    def on_poll(status: str) -> None:
        protected = asg.describe_auto_scaling_instances(InstanceIds=[instance])[
            "AutoScalingInstances"
        ][0]["ProtectedFromScaleIn"]
        seen.append((status, (store.read() or lock.Lock("", 0, 0)).held, protected))
        if status == "InProgress" and len(seen) == 2 and main is not None:
            signal.pthread_kill(main, signal.SIGINT)  # the operator presses Ctrl-C

    fake.on_poll = on_poll
    # The operator's terminal delivers SIGINT to a Python that handles it; a runner started as a
    # background job of a shell without job control inherits SIGINT ignored.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        result = CliRunner().invoke(app, ["migrate", "up", "local"])
    finally:
        signal.signal(signal.SIGINT, previous)
    assert result.exit_code == 4, result.output
    assert "interrupted: the SSM command was cancelled" in result.output
    assert fake.cancelled
    assert fake.cancelled[0]["InstanceIds"] == [instance]
    assert fake.calls[-3:] == ["cancel", "Cancelling", "Cancelled"]
    # Held and protected on every poll, including the one that saw it Cancelled ...
    assert seen[-1][0] == "Cancelled"
    assert all(held and prot for _, held, prot in seen)
    # ... and only then released and unprotected.
    assert not (store.read() or lock.Lock("", 0, 0)).held
    assert not asg.describe_auto_scaling_instances(InstanceIds=[instance])["AutoScalingInstances"][
        0
    ]["ProtectedFromScaleIn"]


def test_a_client_time_out_cancels_the_command_and_waits_for_it_to_stop(
    aws: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Main gave up waiting at its time-out and left the migration running on the instance.
    Now the time-out sends CancelCommand and returns only once SSM reports the invocation
    stopped. MOCK of the instance (PlayedInstance): it never finishes by itself."""
    from tests.support.moto import create

    local = create(aws.endpoint)
    instance = local.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[local.outputs["asg_names"]["blue"]]
    )["AutoScalingGroups"][0]["Instances"][0]["InstanceId"]
    fake = played_instance(aws, monkeypatch, "", 0, ["InProgress"])
    monkeypatch.setattr(remote, "DELIVERY", 0)  # no delivery allowance on top of the time-out
    target = remote.Target(instance, "blue", local.outputs["asg_names"]["blue"])
    lines = remote.command_lines("up", [])
    with pytest.raises(remote.RemoteError, match="at the time-out; it was cancelled"):
        remote.run(fake, target, lines, "opsctl migrate up local", timeout=0.3, poll=0.05)
    (cancelled,) = fake.cancelled
    assert cancelled["InstanceIds"] == [instance]
    assert fake.calls[-3:] == ["cancel", "Cancelling", "Cancelled"]  # waited until it stopped
