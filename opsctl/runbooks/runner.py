"""Walking a runbook: diagnose steps run directly, each remediate step is asked for first and
runs under the environment lock, and every step goes to the incident timeline (JSON lines:
time, incident, runbook, env, step, kind, action, command, outcome, output, operator).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opsctl import lock
from opsctl.runbooks.actions import ACTIONS, ActionSkipped, Context
from opsctl.runbooks.model import SECTIONS, Runbook, Step

# What the caller answers for a remediate step: True run it, False decline it.
Ask = Callable[[Step, str], bool]
Show = Callable[[str], None]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Timeline:
    """The incident log: one JSON object per line, appended and flushed as each step ends.
    Optionally mirrored to a CloudWatch Logs stream."""

    path: Path
    incident: str
    runbook: str
    env: str
    operator: str
    entries: list[dict[str, Any]] = field(default_factory=list)
    mirror: Callable[[dict[str, Any]], None] | None = None
    mirror_failures: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        """A run on an existing incident (--incident ID) continues its timeline and summary."""
        if not self.path.exists():
            return
        for line in self.path.read_text(encoding="utf-8").splitlines():
            with suppress(json.JSONDecodeError):  # a line cut short by a crash
                entry = json.loads(line)
                if entry.get("incident") == self.incident:
                    self.entries.append(entry)

    def add(
        self, step: str, kind: str, action: str, command: str, outcome: str, output: str
    ) -> None:
        entry = {
            "time": now(),
            "incident": self.incident,
            "runbook": self.runbook,
            "env": self.env,
            "step": step,
            "kind": kind,
            "action": action,
            "command": command,
            "outcome": outcome,
            "output": output[:4000],
            "operator": self.operator,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(entry) + "\n")
            out.flush()
        self.entries.append(entry)
        if self.mirror is not None:
            # The file above already has the entry; a mirror failure must never abort a walk
            # whose action already ran. It is reported, and the next entry tries again.
            try:
                self.mirror(entry)
            except Exception as error:
                self.mirror_failures.append(f"{step}: {type(error).__name__}: {error}")

    def summary(self, runbook: Runbook) -> str:
        """The markdown incident summary printed at the end (and saved next to the log)."""
        first = self.entries[0]["time"] if self.entries else now()
        last = self.entries[-1]["time"] if self.entries else now()
        operators = [e["operator"] for e in self.entries]
        counts: dict[str, int] = {}
        for e in self.entries:
            counts[e["outcome"]] = counts.get(e["outcome"], 0) + 1
        lines = [
            f"# Incident {self.incident}: {runbook.title} ({self.env})",
            "",
            f"- runbook: `{runbook.name}` (severity {runbook.severity}, owner {runbook.owner})",
            f"- operator: {', '.join(dict.fromkeys(operators)) or self.operator}",
            f"- from {first} to {last}",
            f"- steps: {', '.join(f'{n} {o}' for o, n in sorted(counts.items())) or 'none'}",
            f"- timeline: {self.path}",
            "",
            "| time | step | action | command | outcome |",
            "|---|---|---|---|---|",
        ]
        for e in self.entries:
            command = e["command"].replace("|", "\\|")
            lines.append(
                f"| {e['time']} | {e['step']} | {e['kind']} {e['action']} | `{command}` | "
                f"{e['outcome']} |"
            )
        remediated = [
            e
            for e in self.entries
            if e["kind"] == "remediate" and e["outcome"] == "ok" and e["output"]
        ]
        lines += ["", "## What changed", ""]
        lines += [
            f"- {e['action']}: {e['output'].splitlines()[0]}" for e in remediated if e["output"]
        ]
        if not remediated:
            lines.append("- nothing: no remediate step ran")
        lines += ["", "## Follow-up", "", runbook.sections["Follow-up"].text or "-"]
        return "\n".join(lines) + "\n"


@dataclass
class Result:
    failed: int = 0
    locked: str | None = None  # the holder, when the environment lock was held
    declined: int = 0


def run_step(ctx: Context, step: Step) -> tuple[str, str, str]:
    """(outcome, command, output) of one step: ok | failed | skipped."""
    action = ACTIONS[step.action]
    try:
        command = action.command(ctx, step.args)
    except Exception as error:
        return "failed", step.action, f"{type(error).__name__}: {error}"
    try:
        return "ok", command, action.run(ctx, step.args)
    except ActionSkipped as skipped:
        return "skipped", command, str(skipped)
    except Exception as error:
        return "failed", command, f"{type(error).__name__}: {' '.join(str(error).split())}"


def walk(
    runbook: Runbook,
    ctx: Context,
    timeline: Timeline,
    ask: Ask,
    show: Show,
    read_only: bool = False,
    lock_command: str = "",
) -> Result:
    """Walk every section in order. Remediate steps: asked for (or skipped when read-only);
    the environment lock is taken before the first one runs and held to the end."""

    result = Result()
    held: lock.Lease | None = None
    try:
        for title in SECTIONS:
            section = runbook.sections[title]
            show(f"\n## {title}")
            if section.text and not section.steps:
                show(section.text)
            for step in section.steps:
                action = ACTIONS[step.action]
                try:
                    command = action.command(ctx, step.args)
                except Exception:
                    command = step.action
                show(f"[{step.id}] {step.kind} {step.action}: {command}")
                if step.kind == "remediate":
                    if step.expect:
                        show(f"    expected: {step.expect}")
                    if read_only:
                        timeline.add(
                            step.id, step.kind, step.action, command, "skipped", "read-only run"
                        )
                        show("    skipped (read-only)")
                        continue
                    if result.locked is not None:
                        timeline.add(
                            step.id,
                            step.kind,
                            step.action,
                            command,
                            "not-run",
                            f"environment lock held by {result.locked}",
                        )
                        continue
                    if not ask(step, command):
                        result.declined += 1
                        timeline.add(step.id, step.kind, step.action, command, "declined", "")
                        show("    declined: not run")
                        continue
                    if held is None:
                        try:
                            held = _take_lock(ctx, lock_command)
                        except lock.LockHeld as error:
                            result.locked = error.holder.describe()
                            timeline.add(
                                step.id,
                                step.kind,
                                step.action,
                                command,
                                "locked",
                                f"environment lock held by {result.locked}",
                            )
                            show(f"    not run: {ctx.env.name} is locked by {result.locked}")
                            continue
                outcome, command, output = run_step(ctx, step)
                if outcome == "failed":
                    result.failed += 1
                timeline.add(step.id, step.kind, step.action, command, outcome, output)
                show(f"    {outcome}: " + output.replace("\n", "\n      "))
    finally:
        if held is not None:
            lock.let_go(held)
    return result


def _take_lock(ctx: Context, command: str) -> Any:
    """The environment lock for the rest of the walk: a lease the heartbeat renews while the run
    is open (a person may take an hour to decide), fencing every change the actions make."""
    role = ctx.env.assume_role_arn
    store = lock.Store.open(ctx.env.name, ctx.env.region, ctx.emulator_url, role_arn=role)
    operator = ctx.operator or lock.caller_identity(ctx.env.region, ctx.emulator_url, role_arn=role)
    lease = store.acquire(command, operator, ttl_seconds=3600)
    lock.hold(lease)
    return lease
