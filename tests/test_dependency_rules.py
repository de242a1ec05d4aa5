"""The package dependency rules (docs/ARCHITECTURE.md), read from every module's own imports.

Data flows one way: ``protocols`` ← ``spasim``, ``protocols`` ← ``bench``. The simulator never
reaches into the bench; the wire codecs know neither. Inside the bench, its rooms import
only downwards (``cli`` → ``console`` → ``capture`` / ``records`` → ``testing``), so a
maintainer can change a room knowing what can break. Every import counts — at module level,
under ``TYPE_CHECKING`` or inside a function — because an import hidden in a function to
dodge a cycle is still a cycle. The one exception is explicit: the bench's *virtual*
builders import ``spasim`` inside functions, which is why importing any bench module must
load no ``spasim`` module (checked in a fresh interpreter).
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("protocols", "spasim", "bench")
ROOM_ORDER = (
    "bench.cli",
    "bench.console",
    "bench.station",
    "bench.capture",
    "bench.records",
    "bench.testing",
)
"""The bench's rooms, top to bottom: a room may import only rooms after it."""


@cache
def modules() -> dict[str, Path]:
    """Every module of the three packages, by dotted name."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _resolve(name: str) -> str | None:
    known = modules()
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


@cache
def imports() -> dict[str, frozenset[str]]:
    """Module → the project modules it imports, anywhere in its body."""
    graph: dict[str, frozenset[str]] = {}
    for name, path in modules().items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{name}: relative import (the project imports absolutely)"
                assert node.module is not None
                # ``from bench.records import store`` imports the submodule store.
                targets = [f"{node.module}.{alias.name}" for alias in node.names]
                targets = [t if (_resolve(t) or "") == t else node.module for t in targets]
            else:
                continue
            found.update(r for t in targets if (r := _resolve(t)) is not None)
        found.discard(name)
        graph[name] = frozenset(found)
    return graph


def room(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "bench" and len(parts) > 1 else parts[0]


def test_every_module_imports() -> None:
    names = []
    for package in PACKAGES:
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, f"{package}."):
            if info.name.endswith(".__main__"):
                continue  # running the program is not importing it
            names.append(info.name)
            importlib.import_module(info.name)
    assert set(names) | set(PACKAGES) == set(modules()) - {"bench.__main__", "spasim.__main__"}


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [("protocols", ("spasim", "bench")), ("spasim", ("bench",))],
)
def test_lower_packages_never_import_upper_ones(package: str, forbidden: tuple[str, ...]) -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in imports().items()
        if module.split(".")[0] == package
        for target in targets
        if target.split(".")[0] in forbidden
    )
    assert not wrong, "\n".join(wrong)


def test_bench_rooms_import_only_downwards() -> None:
    rank = {name: i for i, name in enumerate(ROOM_ORDER)}
    wrong = sorted(
        f"{module} ({room(module)}) imports {target} ({room(target)})"
        for module, targets in imports().items()
        if room(module) in rank
        for target in targets
        if room(target) in rank and rank[room(target)] < rank[room(module)]
    )
    assert not wrong, "\n".join(wrong)


def test_every_bench_module_lives_in_a_room() -> None:
    loose = sorted(
        m
        for m in modules()
        if m.startswith("bench.") and room(m) not in ROOM_ORDER and m != "bench.__main__"
    )
    assert not loose, f"bench modules outside the rooms {ROOM_ORDER}: {loose}"


def _cycles(graph: dict[str, frozenset[str]], within: str) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), inside ``within``."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if not target.startswith(within):
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node.startswith(within) and node not in index:
            visit(node)
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycles(package: str) -> None:
    """No two modules need each other — every edge counts, a package ``__init__``
    re-exporting its submodules included (none of them is imported back through it)."""
    assert _cycles(imports(), package) == []


def test_the_cycle_finder_sees_a_cycle_through_a_package_init() -> None:
    """The detector itself: a submodule importing its package's ``__init__``, which imports
    another module that imports the submodule back, is one cycle of three."""
    graph = {
        "bench.console": frozenset({"bench.console.app", "bench.capture"}),
        "bench.console.app": frozenset({"bench.console"}),
        "bench.capture": frozenset({"bench.console.app"}),
        "bench.records": frozenset({"bench.testing"}),
        "bench.testing": frozenset(),
    }
    assert _cycles(graph, "bench") == [["bench.capture", "bench.console", "bench.console.app"]]


def test_the_console_screens_receive_the_app_instead_of_importing_it() -> None:
    """The console's screens and widgets get what they need through
    ``bench.console.screens.host.ConsoleHost``; importing the app (anywhere in their body,
    ``TYPE_CHECKING`` included) would tie every screen to every other."""
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in imports().items()
        if module.startswith(("bench.console.screens", "bench.console.widgets"))
        for target in targets
        if target == "bench.console.app"
    )
    assert not wrong, "\n".join(wrong)
    assert "bench.console.screens.host" in imports()["bench.console.screens.main"]


def test_importing_the_bench_loads_no_simulator() -> None:
    """The bench drives a real box with no simulator code loaded: only the virtual builders
    import ``spasim``, and only when called."""
    bench_modules = sorted(m for m in modules() if m.startswith("bench") and m != "bench.__main__")
    script = (
        "import importlib, sys\n"
        f"for name in {bench_modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'spasim'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == "[]", done.stdout
