"""The import structure a newcomer relies on: opsctl is commands over domain over shared, opsctl
never imports the service, and neither package has an import cycle (function-level imports count:
grimp reads every import statement, not only the module-level ones)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import grimp

from tests.support.paths import REPO


def test_the_import_contracts_in_pyproject_hold() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint)], cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.lower().replace("0 broken", "")


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycle_in_opsctl_or_service() -> None:
    graph = grimp.build_graph("opsctl", "service", cache_dir=None)
    assert cycles(graph) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for name in ("a", "a.x", "a.y", "a.z"):
        graph.add_module(name)
    graph.add_import(importer="a.x", imported="a.y")
    graph.add_import(importer="a.y", imported="a.x")
    graph.add_import(importer="a.y", imported="a.z")
    assert cycles(graph) == [["a.x", "a.y"]]


def test_the_service_imports_only_what_its_distribution_installs() -> None:
    """The AMI installs the wheel without the `opsctl` extra: the service must not need it."""

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    installed = {  # distribution names as import names
        name.replace("-", "_")
        for requirement in project["dependencies"]
        for name in [requirement.split(">")[0].split("[")[0].split("=")[0].strip()]
    } | {"botocore"}  # boto3's own
    graph = grimp.build_graph("service", include_external_packages=True, cache_dir=None)
    external = {
        imported
        for module in graph.modules
        if module.startswith("service")
        for imported in graph.find_modules_directly_imported_by(module)
        if not imported.startswith("service") and imported not in sys.stdlib_module_names
    }
    assert external <= installed, f"the service imports {sorted(external - installed)}"
