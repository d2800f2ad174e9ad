"""Lint Alembic revisions for operations that break the code still running during a blue/green
deploy or lose data: dropping a column or table, renaming one, NOT NULL without a default, and
narrowing a column's type. Such operations belong in a revision marked `phase = "contract"` (run
after the old colour is gone); in an `expand` revision (or one without a phase) they are errors.

The check reads the revision's `upgrade()` source (Python AST), so it needs no database and
catches `op.` and `batch_op.` calls alike, plus raw SQL in `op.execute("...")`.
`ingest-service schema lint` runs it, and `schema up` refuses pending revisions it flags.
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass
from pathlib import Path

from service.migrate import EXTRA_VERSIONS_ENV, MIGRATIONS

PHASES = ("expand", "contract")
RAW_SQL = re.compile(
    r"\b(DROP\s+(TABLE|COLUMN)|TRUNCATE|ALTER\s+TABLE\s+\S+\s+(MODIFY|CHANGE|RENAME))\b", re.I
)
# Integer types from narrow to wide: going left is narrowing.
INTEGER_WIDTHS = ["SmallInteger", "Integer", "BigInteger"]


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    revision: str
    phase: str | None
    message: str
    error: bool  # False: allowed (a contract revision), shown for the reviewer

    def describe(self) -> str:
        level = "error" if self.error else "ok (contract)"
        phase = self.phase or "no phase"
        return f"{self.file}:{self.line}: {self.revision} [{phase}] {level}: {self.message}"


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


def _kw(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _const(node: ast.expr | None) -> object:
    return node.value if isinstance(node, ast.Constant) else None


def _type_width(node: ast.expr | None) -> tuple[str, int | None] | None:
    """(type name, length or integer rank) of `sa.String(64)`, `sa.Integer`, ..."""
    if node is None:
        return None
    name = _name(node.func if isinstance(node, ast.Call) else node)
    if name in INTEGER_WIDTHS:
        return "int", INTEGER_WIDTHS.index(name)
    if name in ("String", "VARCHAR", "Unicode", "CHAR"):
        length = _const(node.args[0]) if isinstance(node, ast.Call) and node.args else None
        return "str", int(length) if isinstance(length, int) else None
    if name in ("Text", "UnicodeText", "MediumText", "LONGTEXT", "MEDIUMTEXT"):
        return "str", 1 << 24
    return name, None


def _narrows(new: ast.expr | None, old: ast.expr | None) -> str | None:
    if new is None:
        return None
    if old is None:
        return "changes a column's type without existing_type: cannot prove it does not narrow"
    a, b = _type_width(new), _type_width(old)
    if a is None or b is None:
        return None
    if a[0] != b[0]:
        return f"changes a column's type ({b[0]} -> {a[0]})"
    if a[1] is not None and b[1] is not None and a[1] < b[1]:
        return "narrows a column's type"
    return None


def _column_not_null_without_default(call: ast.Call) -> bool:
    """sa.Column(..., nullable=False) with neither server_default nor primary_key."""
    nullable = _kw(call, "nullable")
    if not (isinstance(nullable, ast.Constant) and nullable.value is False):
        return False
    return _kw(call, "server_default") is None and _kw(call, "primary_key") is None


def _problems(call: ast.Call) -> list[str]:
    method = _name(call.func)
    args = [_const(a) for a in call.args]
    found: list[str] = []
    if method == "drop_column":
        found.append(f"drops column {'.'.join(str(a) for a in args if a)}")
    elif method == "drop_table":
        found.append(f"drops table {args[0] if args else '?'}")
    elif method == "rename_table":
        found.append(f"renames table {args[0] if args else '?'}")
    elif method == "add_column":
        for arg in call.args:
            if (
                isinstance(arg, ast.Call)
                and _name(arg.func) == "Column"
                and _column_not_null_without_default(arg)
            ):
                column = _const(arg.args[0]) if arg.args else "?"
                found.append(f"adds NOT NULL column {column} without a server_default")
    elif method == "alter_column":
        column = ".".join(str(a) for a in args if a)
        nullable = _kw(call, "nullable")
        if (
            isinstance(nullable, ast.Constant)
            and nullable.value is False
            and _kw(call, "server_default") is None
        ):
            found.append(f"makes {column} NOT NULL without a server_default")
        if _kw(call, "new_column_name") is not None:
            found.append(f"renames column {column}")
        narrowing = _narrows(_kw(call, "type_"), _kw(call, "existing_type"))
        if narrowing:
            found.append(f"{narrowing}: {column}")
    elif method == "execute":
        sql = args[0] if args else None
        if isinstance(sql, str) and RAW_SQL.search(sql):
            found.append(f"raw SQL {RAW_SQL.search(sql).group(0)!r}")  # type: ignore[union-attr]
    return found


def lint_file(path: Path) -> list[Finding]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    assigned = {
        target.id: node.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    revision = str(_const(assigned.get("revision")) or path.stem)
    phase_value = _const(assigned.get("phase")) if "phase" in assigned else None
    phase = phase_value if isinstance(phase_value, str) else None
    findings: list[Finding] = []
    label = str(path)
    if phase not in PHASES:
        findings.append(
            Finding(
                label,
                1,
                revision,
                phase,
                'has no phase: set phase = "expand" (additive) or "contract" (removes what '
                "the previous release needs)",
                True,
            )
        )
    upgrade = next(
        (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "upgrade"), None
    )
    if upgrade is None:
        return findings
    for node in ast.walk(upgrade):
        if isinstance(node, ast.Call):
            for message in _problems(node):
                findings.append(
                    Finding(label, node.lineno, revision, phase, message, phase != "contract")
                )
    return findings


def revision_files(folders: list[Path]) -> list[Path]:
    return sorted(p for folder in folders for p in folder.glob("*.py") if p.name != "__init__.py")


def default_folders() -> list[Path]:
    """service/migrations/versions and the extra folders INGEST_MIGRATIONS_EXTRA names."""
    extra = [Path(p) for p in os.environ.get(EXTRA_VERSIONS_ENV, "").split(os.pathsep) if p]
    return [MIGRATIONS / "versions", *extra]


def lint(paths: list[Path] | None = None, revisions: set[str] | None = None) -> list[Finding]:
    """Lint revision files (default: every revision folder); only `revisions` when given."""
    files: list[Path] = []
    for p in paths or default_folders():
        files += revision_files([p]) if p.is_dir() else [p]
    findings = [f for path in files for f in lint_file(path)]
    if revisions is not None:
        findings = [f for f in findings if f.revision in revisions]
    return findings
