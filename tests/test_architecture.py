"""The shape of the house: no import cycles, and services that do not reach up into the graph.

See docs/architecture.md ("The rooms and the arrows"). Every ``import`` counts, at the top of a
module or inside a function: a function-local import hides a cycle from Python, not from the design.
Imports under ``if TYPE_CHECKING:`` are left out: they never run, and annotations may name a type
from anywhere.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("hub", "schema", "connectors", "admin")
#: The modules that compose everything (the app, the CLI) may import the graph; a service may not.
COMPOSERS = ("hub.app", "hub.cli")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement in ``tree``, at any depth, except under ``if TYPE_CHECKING:``."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _targets(module: str, path: Path, node: ast.Import | ast.ImportFrom, known: set[str]) -> set[str]:
    """The project modules an import statement loads (the deepest known module of each name)."""
    names: list[str] = []
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
            package = package[: len(package) - (node.level - 1)]
            base = ".".join([*package, base] if base else package)
        names = [f"{base}.{alias.name}" for alias in node.names] + [base]
    targets: set[str] = set()
    for name in names:
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name and name != module:
            targets.add(name)
    return targets


def import_graph() -> dict[str, set[str]]:
    """Module → the project modules it imports."""
    modules = _modules()
    known = set(modules)
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges: set[str] = set()
        for node in _imports(tree):
            edges |= _targets(module, path, node, known)
        graph[module] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def _path(graph: dict[str, set[str]], component: list[str]) -> str:
    """One cycle through the component's first module, for the failure message."""
    members = set(component)
    start = component[0]
    trail = [start]
    seen = {start}
    while True:
        here = trail[-1]
        nxt = sorted(graph[here] & members)
        back = [n for n in nxt if n == start]
        if back and len(trail) > 1:
            return " → ".join([*trail, start])
        fresh = [n for n in nxt if n not in seen]
        if not fresh:
            return " ↔ ".join(component)
        trail.append(fresh[0])
        seen.add(fresh[0])


def test_the_tool_finds_a_cycle_and_its_path() -> None:
    # Given a graph with one cycle of three and a bystander
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    # Then the cycle is found, and only it
    assert cycles(graph) == [["a", "b", "c"]]
    assert _path(graph, ["a", "b", "c"]) == "a → b → c → a"


def test_the_tool_sees_function_local_and_relative_imports(tmp_path: Path) -> None:
    # Given a function-local import and a relative one
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from hub import sync\n"
        "def f():\n    from hub.workflow import run_action\n"
        "from . import cluepool\n"
    )
    known = {"hub", "hub.sync", "hub.workflow", "hub.cluepool"}
    targets = set().union(*(_targets("hub.ingest", ROOT / "hub/ingest.py", n, known) for n in _imports(tree)))
    # Then both count, and the TYPE_CHECKING one does not
    assert targets == {"hub.workflow", "hub.cluepool", "hub"}


def test_no_import_cycle_among_hub_schema_and_connectors() -> None:
    graph = import_graph()
    assert "hub.sync" in graph and "schema.query" in graph  # the walk found the project
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(f"{_path(graph, c)}  (all of: {', '.join(c)})" for c in found)


def _is_composer(module: str) -> bool:
    return any(module == c or module.startswith(c + "_") or module.startswith(c + ".") for c in COMPOSERS)


@pytest.mark.parametrize("package", ["hub", "connectors"])
def test_services_do_not_import_the_graph(package: str) -> None:
    graph = import_graph()
    offenders = sorted(
        f"{module} imports {', '.join(sorted(t for t in targets if t.split('.')[0] == 'schema'))}"
        for module, targets in graph.items()
        if module.split(".")[0] == package
        and not _is_composer(module)
        and any(t.split(".")[0] == "schema" for t in targets)
    )
    assert not offenders, "only the app and the CLI compose the graph:\n" + "\n".join(offenders)


def test_the_console_side_stays_out_of_the_graph_and_only_the_app_imports_it() -> None:
    # admin/ (sign-in routes, the cookie) stands on the services, never on the graph; of the hub,
    # only the app that mounts it imports it
    graph = import_graph()
    assert "admin.auth" in graph
    offenders = sorted(
        f"{module} imports {', '.join(sorted(targets))}"
        for module, targets in graph.items()
        if (module.split(".")[0] == "admin" and any(t.split(".")[0] == "schema" for t in targets))
        or (module.split(".")[0] == "hub" and module != "hub.app" and any(t.split(".")[0] == "admin" for t in targets))
    )
    assert not offenders, "\n".join(offenders)


def test_the_settings_stand_at_the_ground() -> None:
    # Given a fresh interpreter (docs/architecture.md: settings are layer 0, read before anything else)
    probe = (
        "import sys, hub.settings\n"
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in ('hub', 'sqlalchemy', 'connectors'))))"
    )
    # When it imports hub.settings
    loaded = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    # Then neither access control nor the models nor SQLAlchemy came with it (the role names come from
    # hub.vocab, which imports nothing of the project)
    assert "hub.settings" in loaded
    assert not {m for m in loaded if m in ("hub.access", "hub.models") or m.split(".")[0] == "sqlalchemy"}, loaded
    # And no import of it, function-local ones included, reaches them either
    graph = import_graph()
    reached, todo = set(), ["hub.settings"]
    while todo:
        for target in graph[todo.pop()] - reached:
            reached.add(target)
            todo.append(target)
    assert "hub.vocab" in reached and not reached & {"hub.access", "hub.models"}, sorted(reached)
