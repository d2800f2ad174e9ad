"""service/ has no import cycle, counting imports inside functions too (a cycle that only works
because one side imports late is still a cycle)."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter

from tests.support.paths import REPO

PACKAGE = REPO / "service"


def module_name(path: str) -> str:
    relative = (PACKAGE / path).relative_to(REPO).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def service_imports() -> dict[str, set[str]]:
    """service module -> the service modules it imports, anywhere in the file."""
    modules = {
        module_name(str(path.relative_to(PACKAGE))): path
        for path in PACKAGE.rglob("*.py")
        if "migrations" not in path.parts
    }
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets.add(node.module)
                targets.update(f"{node.module}.{alias.name}" for alias in node.names)
        graph[name] = {t for t in targets if t in modules and t not in (name, "service")}
    return graph


def test_service_has_no_import_cycle() -> None:
    graph = service_imports()
    assert {"service.worker", "service.triggers"} <= set(graph)  # the walk found them
    try:
        list(TopologicalSorter(graph).static_order())
    except CycleError as error:
        raise AssertionError(f"import cycle in service/: {' -> '.join(error.args[1])}") from None


def test_the_worker_does_not_import_the_s3_and_sqs_code() -> None:
    graph = service_imports()
    assert "service.triggers" not in graph["service.worker"]
    assert "service.aws" not in graph["service.worker"]
