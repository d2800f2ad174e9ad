"""Why the database failed a request, said once: every 503 the service answers because of the
database is classified (kind, error class, MySQL code), counted in `ingest_db_errors_total{kind}`
and logged at most once a second per cause, with how many were answered since the last line."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from sqlalchemy.exc import TimeoutError as PoolTimeout

from service import metrics
from service.db import is_connection_lost, is_read_only_error, mysql_error_code

log = logging.getLogger("service.db")
LOG_EVERY_SECONDS = 1.0


@dataclass(frozen=True)
class Cause:
    kind: str  # read_only, connection_lost, timeout, pool_exhausted, unreachable
    error_class: str
    code: int | None


def classify(error: BaseException) -> Cause:
    original = getattr(error, "orig", None) or error
    error_class = f"{type(original).__module__}.{type(original).__qualname__}"
    code = mysql_error_code(error)
    if is_read_only_error(error):
        kind = "read_only"
    elif is_connection_lost(error):
        kind = "connection_lost"
    elif isinstance(error, PoolTimeout):
        kind = "pool_exhausted"
    elif isinstance(error, TimeoutError):
        kind = "timeout"
    else:
        kind = "unreachable"
    return Cause(kind, error_class, code)


class RateLimitedLog:
    """One line per cause per `every` seconds; the line carries the count since the last one."""

    def __init__(self, every: float = LOG_EVERY_SECONDS) -> None:
        self.every = every
        self.last: dict[Cause, float] = {}
        self.pending: dict[Cause, int] = {}

    def note(self, cause: Cause, error: BaseException) -> None:
        now = time.monotonic()
        count = self.pending.get(cause, 0) + 1
        if now - self.last.get(cause, float("-inf")) < self.every:
            self.pending[cause] = count
            return
        self.last[cause] = now
        self.pending[cause] = 0
        message = str(getattr(error, "orig", None) or error)[:300]
        log.warning(
            "database unavailable (%s): %s%s: %s; %d request(s) answered 503 since the last line",
            cause.kind,
            cause.error_class,
            "" if cause.code is None else f" {cause.code}",
            message,
            count,
            extra={
                "db_error_kind": cause.kind,
                "db_error_class": cause.error_class,
                "db_error_code": cause.code,
                "count": count,
            },
        )


_log = RateLimitedLog()


def report(error: BaseException) -> None:
    """Count and (rate-limited) log a database error the caller answers 503 for."""
    cause = classify(error)
    metrics.DB_ERRORS.labels(cause.kind).inc()
    _log.note(cause, error)
