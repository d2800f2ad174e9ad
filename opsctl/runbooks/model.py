"""A runbook is markdown with YAML front matter and six `##` sections. Steps are fenced blocks:

    ```step
    diagnose: target-health
    ```

    ```step
    remediate: asg-scale
    args: {colour: live, add: 1}
    expect: one more InService instance within 5 minutes; unhealthy hosts fall to 0
    ```

Triage and Verification hold `diagnose` steps (read-only); Mitigation holds `remediate` steps,
smallest and most reversible first, each with its expected outcome.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from opsctl.paths import REPO
from opsctl.runbooks.actions import ACTIONS

RUNBOOKS = REPO / "runbooks"
SECTIONS = ("Symptoms", "Triage", "Mitigation", "Verification", "Escalation", "Follow-up")
STEP_SECTIONS = {"Triage": "diagnose", "Mitigation": "remediate", "Verification": "diagnose"}
FRONT_MATTER = ("title", "alarms", "severity", "owner", "last_tested")
SEVERITIES = ("critical", "high", "medium", "low")
STALE_AFTER = timedelta(days=90)  # a runbook not exercised for a quarter is not trusted
STEP_BLOCK = re.compile(r"^```step\n(.*?)^```\s*$", re.M | re.S)


class RunbookError(Exception):
    """A runbook file breaks the format; the message names the file and the problem."""


@dataclass(frozen=True)
class Step:
    kind: str  # diagnose | remediate
    action: str
    args: dict[str, Any]
    expect: str
    section: str
    index: int  # 1-based within its section

    @property
    def id(self) -> str:
        return f"{self.section.lower()}.{self.index}"


@dataclass
class Section:
    title: str
    text: str
    steps: list[Step] = field(default_factory=list)


@dataclass
class Runbook:
    name: str
    path: Path
    title: str
    alarms: list[str]
    severity: str
    owner: str
    last_tested: str
    sections: dict[str, Section]

    @property
    def steps(self) -> list[Step]:
        return [s for title in SECTIONS for s in self.sections[title].steps]

    def diagnose_steps(self) -> list[Step]:
        return [s for s in self.steps if s.kind == "diagnose"]

    def stale(self, today: date | None = None) -> bool:
        """Not tested for longer than STALE_AFTER."""
        return date.fromisoformat(self.last_tested) < (today or date.today()) - STALE_AFTER


def _front_matter(text: str, label: str) -> tuple[dict[str, Any], str]:
    if not text.startswith("---\n"):
        raise RunbookError(f"{label}: no front matter (--- at the top)")
    end = text.find("\n---\n", 4)
    if end < 0:
        raise RunbookError(f"{label}: front matter is not closed with ---")
    meta = yaml.safe_load(text[4:end]) or {}
    if not isinstance(meta, dict):
        raise RunbookError(f"{label}: front matter must be a mapping")
    return meta, text[end + 5 :]


def _step(raw: str, section: str, index: int, label: str) -> Step:
    try:
        data = yaml.safe_load(raw) or {}
    except yaml.YAMLError as error:
        raise RunbookError(f"{label}: {section} step {index} is not YAML: {error}") from None
    kinds = [k for k in ("diagnose", "remediate") if k in data]
    if len(kinds) != 1:
        raise RunbookError(f"{label}: {section} step {index} needs one of diagnose: / remediate:")
    kind = kinds[0]
    unknown = set(data) - {kind, "args", "expect"}
    if unknown:
        raise RunbookError(f"{label}: {section} step {index}: unknown keys {sorted(unknown)}")
    wanted = STEP_SECTIONS.get(section)
    if wanted != kind:
        raise RunbookError(f"{label}: {section} step {index} is {kind}; {section} holds {wanted}")
    if kind == "remediate" and not str(data.get("expect", "")).strip():
        raise RunbookError(f"{label}: {section} step {index} ({data[kind]}) needs expect:")
    args = data.get("args") or {}
    if not isinstance(args, dict):
        raise RunbookError(f"{label}: {section} step {index}: args must be a mapping")
    return Step(kind, str(data[kind]), args, str(data.get("expect", "")).strip(), section, index)


def parse(path: Path) -> Runbook:
    label = path.name
    meta, body = _front_matter(path.read_text(encoding="utf-8"), label)
    missing = [key for key in FRONT_MATTER if key not in meta]
    if missing:
        raise RunbookError(f"{label}: front matter lacks {', '.join(missing)}")
    if meta["severity"] not in SEVERITIES:
        raise RunbookError(f"{label}: severity must be one of {SEVERITIES}")
    if not isinstance(meta["alarms"], list):
        raise RunbookError(f"{label}: alarms must be a list (may be empty)")
    tested = meta["last_tested"]
    if not isinstance(tested, date):
        raise RunbookError(f"{label}: last_tested must be a date (YYYY-MM-DD)")
    parts = re.split(r"^## +(.+?)\s*$", body, flags=re.M)
    found: dict[str, str] = {}
    for title, text in zip(parts[1::2], parts[2::2], strict=True):
        found[title] = text
    missing = [s for s in SECTIONS if s not in found]
    if missing:
        raise RunbookError(f"{label}: missing section(s) {', '.join(missing)}")
    sections: dict[str, Section] = {}
    for title in SECTIONS:
        text = found[title]
        blocks = STEP_BLOCK.findall(text)
        steps = [_step(raw, title, i, label) for i, raw in enumerate(blocks, 1)]
        if title in STEP_SECTIONS and not steps:
            raise RunbookError(f"{label}: {title} has no steps")
        if title not in STEP_SECTIONS and steps:
            raise RunbookError(f"{label}: {title} holds no steps (only Triage/Mitigation/...)")
        prose = STEP_BLOCK.sub("", text).strip()
        sections[title] = Section(title, prose, steps)
    return Runbook(
        name=path.stem,
        path=path,
        title=str(meta["title"]),
        alarms=[str(a) for a in meta["alarms"]],
        severity=str(meta["severity"]),
        owner=str(meta["owner"]),
        last_tested=tested.isoformat(),
        sections=sections,
    )


def check_actions(book: Runbook) -> Runbook:
    """Every step names a known action of its kind; refused here, at load, never mid-incident
    (a walk used to crash with a KeyError on the unknown step after earlier ones had run)."""
    for step in book.steps:
        action = ACTIONS.get(step.action)
        if action is None:
            known = ", ".join(sorted(a for a, x in ACTIONS.items() if x.kind == step.kind))
            raise RunbookError(
                f"{book.path.name}: {step.section} step {step.index}: unknown {step.kind} "
                f"action {step.action!r} (known: {known})"
            )
        if action.kind != step.kind:
            raise RunbookError(
                f"{book.path.name}: {step.section} step {step.index}: {step.action} is a "
                f"{action.kind} action, not {step.kind}"
            )
    return book


def load_all(folder: Path = RUNBOOKS) -> list[Runbook]:
    return [check_actions(parse(p)) for p in sorted(folder.glob("*.md")) if p.name != "README.md"]


def load(name: str, folder: Path = RUNBOOKS) -> Runbook:
    path = folder / f"{name}.md"
    if not path.exists():
        known = ", ".join(p.stem for p in sorted(folder.glob("*.md")) if p.name != "README.md")
        raise RunbookError(f"no runbook {name!r} (known: {known})")
    return check_actions(parse(path))


def for_alarm_name(alarm_name: str, runbooks: list[Runbook]) -> Runbook | None:
    """The fallback when the alarm has no runbook tag: the runbook whose alarm key ends the
    alarm's name (alarms are named <prefix>-<key>), the longest key winning."""
    matches = [
        (len(key), rb)
        for rb in runbooks
        for key in rb.alarms
        if alarm_name == key or alarm_name.endswith(f"-{key}")
    ]
    return max(matches, key=lambda m: m[0])[1] if matches else None
