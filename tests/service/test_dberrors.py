"""Database 503s are classified, counted per kind and logged at most once a second per cause,
each line with the number of 503s since the previous one."""

from __future__ import annotations

import logging

import pytest
from asyncmy.errors import OperationalError as AsyncmyOperationalError
from sqlalchemy.exc import OperationalError

from service import dberrors, metrics


def read_only_error() -> OperationalError:
    original = AsyncmyOperationalError(
        1290, "The MariaDB server is running with the --read-only option so it cannot execute"
    )
    return OperationalError("INSERT ...", {}, original)


def lost_error() -> OperationalError:
    original = AsyncmyOperationalError(2013, "Lost connection to MySQL server during query")
    return OperationalError("SELECT 1", {}, original)


def test_causes_are_classified_with_class_and_code() -> None:
    assert dberrors.classify(read_only_error()) == dberrors.Cause(
        "read_only", "asyncmy.errors.OperationalError", 1290
    )
    assert dberrors.classify(lost_error()).kind == "connection_lost"
    other_1290 = OperationalError(
        "x", {}, AsyncmyOperationalError(1290, "--skip-grant-tables option")
    )
    assert dberrors.classify(other_1290).kind == "unreachable"  # 1290 is read-only only by name
    assert dberrors.classify(TimeoutError()).kind == "timeout"


def test_one_line_per_cause_per_second_with_a_count(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(dberrors.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(dberrors, "_log", dberrors.RateLimitedLog())
    before = metrics.DB_ERRORS.labels("read_only")._value.get()
    caplog.set_level(logging.WARNING, logger="service.db")
    for _ in range(50):  # a burst within one second: one line
        dberrors.report(read_only_error())
        clock[0] += 0.01
    dberrors.report(lost_error())  # another cause gets its own line at once
    clock[0] += 1.0
    dberrors.report(read_only_error())  # a second later: the next line counts what was held
    lines = [record for record in caplog.records if record.name == "service.db"]
    assert [(r.db_error_kind, r.count) for r in lines] == [  # type: ignore[attr-defined]
        ("read_only", 1),
        ("connection_lost", 1),
        ("read_only", 50),
    ]
    assert "asyncmy.errors.OperationalError 1290" in lines[0].getMessage()
    assert metrics.DB_ERRORS.labels("read_only")._value.get() - before == 51
