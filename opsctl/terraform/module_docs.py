"""Generate the inputs/outputs tables of modules/*/README.md from the code.

Usage: python -m opsctl.terraform.module_docs [--check] [MODULE_DIR ...]
(default: every modules/* folder)
The table sits between the BEGIN_TF_DOCS / END_TF_DOCS markers; everything else is hand-written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from opsctl.paths import REPO
from opsctl.terraform.checkov import Report, scan
from opsctl.terraform.hcl import expression, load_module

BEGIN = "<!-- BEGIN_TF_DOCS -->"
END = "<!-- END_TF_DOCS -->"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def type_expression(value: object) -> str:
    """A variable's type: a bare keyword (string, number) or a ${...} constructor."""
    return expression(value) if not isinstance(value, str) or value.startswith("${") else value


def render_tables(module_dir: Path) -> str:
    module = load_module(module_dir)
    lines = ["## Inputs", "", "| Name | Description | Type | Default | Required |"]
    lines.append("|---|---|---|---|:---:|")
    for block in module.get("variable", []):
        for name, body in block.items():
            has_default = "default" in body
            default = f"`{_cell(expression(body['default']))}`" if has_default else "n/a"
            kind = _cell(type_expression(body.get("type", "any")))
            required = "no" if has_default else "yes"
            desc = _cell(body.get("description", ""))
            lines.append(f"| `{name}` | {desc} | `{kind}` | {default} | {required} |")
    lines += ["", "## Outputs", "", "| Name | Description |", "|---|---|"]
    for block in module.get("output", []):
        for name, body in block.items():
            lines.append(f"| `{name}` | {_cell(body.get('description', ''))} |")
    return "\n".join(lines)


def updated_readme(module_dir: Path) -> tuple[str, str]:
    """(current README text, README text with a fresh table)."""
    readme = module_dir / "README.md"
    current = readme.read_text(encoding="utf-8") if readme.exists() else ""
    if BEGIN not in current or END not in current:
        raise ValueError(f"{readme}: missing the {BEGIN} / {END} markers")
    head, rest = current.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return current, f"{head}{BEGIN}\n{render_tables(module_dir)}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a table is stale")
    parser.add_argument("modules", nargs="*", type=Path)
    args = parser.parse_args(argv)
    modules = (p for p in (REPO / "modules").iterdir() if (p / "main.tf").exists())  # not testing/
    dirs = args.modules or sorted(modules)
    stale = []
    for module_dir in dirs:
        try:
            current, fresh = updated_readme(module_dir)
        except ValueError as error:
            print(error, file=sys.stderr)
            return 1
        if current == fresh:
            continue
        if args.check:
            stale.append(module_dir)
        else:
            (module_dir / "README.md").write_text(fresh, encoding="utf-8")
            print(f"updated {module_dir / 'README.md'}")
    if not args.modules and not args.check and update_checkov_summary():
        print("updated docs/modules.md (checkov results)")
    for module_dir in stale:
        print(
            f"{module_dir}/README.md: table is stale; run python -m opsctl.terraform.module_docs",
            file=sys.stderr,
        )
    return 1 if stale else 0


# terraform-aws-modules at their module roots with defaults, checkov 3.3.30 (issue #3).
UPSTREAM_FAILED = {
    "network": ("vpc", 1),
    "security": ("security-group", 2),
    "database": ("rds-aurora", 6),
    "loadbalancer": ("alb", 2),
    "compute": ("autoscaling", 0),
}
CHECKOV_BEGIN = "<!-- BEGIN_CHECKOV -->"
CHECKOV_END = "<!-- END_CHECKOV -->"


def checkov_section(report: Report, modules: list[str]) -> str:
    """The checkov results table of docs/modules.md, with every skip and its reason."""
    lines = [
        "| module | passed | failed | skipped | terraform-aws-modules counterpart: failed |",
        "|---|---:|---:|---:|---|",
    ]
    skips = []
    for module in modules:
        prefix = f"/{module}/"
        passed = report.passed_by_dir.get(module, 0)
        failed = [f for f in report.failed if f.file.startswith(prefix)]
        skipped = sorted(
            (f for f in report.skipped if f.file.startswith(prefix)),
            key=lambda f: (f.check_id, f.resource),
        )
        upstream = UPSTREAM_FAILED.get(module)
        counterpart = f"{upstream[0]}: {upstream[1]}" if upstream else "-"
        lines.append(f"| {module} | {passed} | {len(failed)} | {len(skipped)} | {counterpart} |")
        skips += [
            f"| {module} | {f.check_id} | `{f.resource}` | {_cell(f.reason)} |" for f in skipped
        ]
    lines += ["", "Every skip, inline in the code with its reason:", ""]
    lines += ["| module | check | resource | reason |", "|---|---|---|---|", *skips]
    return "\n".join(lines)


def checkov_summary(text: str, report: Report) -> str:
    """docs/modules.md's text with a fresh checkov section."""
    modules = sorted(p.name for p in (REPO / "modules").iterdir() if (p / "main.tf").exists())
    head, rest = text.split(CHECKOV_BEGIN, 1)
    _, tail = rest.split(CHECKOV_END, 1)
    return f"{head}{CHECKOV_BEGIN}\n{checkov_section(report, modules)}\n{CHECKOV_END}{tail}"


def update_checkov_summary(path: Path = REPO / "docs" / "modules.md") -> bool:
    """Rewrite the checkov section of docs/modules.md; True when it changed."""

    text = path.read_text(encoding="utf-8")
    fresh = checkov_summary(text, scan(REPO / "modules"))
    if fresh != text:
        path.write_text(fresh, encoding="utf-8")
    return fresh != text


if __name__ == "__main__":
    sys.exit(main())
