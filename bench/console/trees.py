"""Guided troubleshooting: the service manual's trees as data, and a walk through one.

A tree is a TOML file in ``bench/console/guides/`` (like a test plan: data a service partner can
edit, validated before use, never executed). Each node is one of

* ``ask`` — a yes/no question for the technician (``loads`` switches loads on first, e.g.
  bubbles before "do you see bubbles?"; ``prompt`` names the operator prompt, so a virtual
  unit can show what a person would see);
* ``check`` — a question the bench answers itself (:mod:`bench.console.checks`); when it
  cannot (no meter, silent box) the node's ``ask`` goes to the technician instead;
* ``act`` — something the technician does (``prompt``: the action a virtual unit performs);
* ``end`` — the conclusion: what to do, and the part number(s) to replace if any.

Trees must be acyclic and every node reachable, so every walk ends at an ``end`` node.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

from bench.console.checks import CHECKS, CheckResult
from bench.testing.instruments.operator import PROMPTS
from bench.testing.limits import LOADS
from protocols.mspa.parts import FAULT_PARTS, PARTS

NodeKind = Literal["ask", "check", "act", "end"]
_KINDS: tuple[NodeKind, ...] = ("check", "act", "end", "ask")
"""In order of precedence: a check node also has ``ask`` (its fallback question)."""
_KEYS: dict[str, frozenset[str]] = {
    "ask": frozenset(("ask", "prompt", "loads", "yes", "no")),
    "check": frozenset(("check", "ask", "prompt", "yes", "no")),
    "act": frozenset(("act", "prompt", "next")),
    "end": frozenset(("end", "parts", "fault")),
}
_LOAD_KEYS = frozenset((*LOADS, "bubbles")) - {"blower"}


class TreeError(ValueError):
    """A tree file that cannot be used; the message names the file and the node."""


@dataclass(frozen=True)
class Node:
    id: str
    kind: NodeKind
    text: str
    """The question (ask, and a check's fallback), instruction (act) or conclusion (end)."""
    check: str | None = None
    prompt: str | None = None
    loads: dict[str, bool | int] = field(default_factory=dict)
    yes: str | None = None
    no: str | None = None
    next: str | None = None
    parts: tuple[str, ...] = ()
    fault: str | None = None

    @property
    def successors(self) -> tuple[str, ...]:
        return tuple(n for n in (self.yes, self.no, self.next) if n is not None)

    @property
    def question(self) -> str:
        """What the screen shows for a check node while the bench works on it."""
        return CHECKS[self.check].question if self.check else self.text


@dataclass(frozen=True)
class Tree:
    name: str
    title: str
    start: str
    nodes: dict[str, Node]
    source: str = ""

    def node(self, node_id: str) -> Node:
        return self.nodes[node_id]


def _trees_dir() -> Any:
    return resources.files("bench.console") / "guides"


def tree_names() -> list[str]:
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in _trees_dir().iterdir()
        if entry.name.endswith(".toml")
    )


def load_tree(name: str) -> Tree:
    resource = _trees_dir() / f"{name}.toml"
    if not resource.is_file():
        raise TreeError(f"unknown tree {name!r} (known: {', '.join(tree_names())})")
    return parse_tree(resource.read_text(encoding="utf-8"), f"bench/console/guides/{name}.toml")


def load_trees() -> list[Tree]:
    return [load_tree(name) for name in tree_names()]


def parse_tree(text: str, source: str) -> Tree:
    """A validated tree; :class:`TreeError` names the file and the node that is wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise TreeError(f"{source}: {error}") from None
    unknown = sorted(set(data) - {"name", "title", "start", "node"})
    if unknown:
        raise TreeError(f"{source}: unknown key(s) {', '.join(unknown)}")
    for key in ("name", "title", "start"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise TreeError(f'{source}: needs {key} = "..."')
    raw_nodes = data.get("node")
    if not isinstance(raw_nodes, dict) or not raw_nodes:
        raise TreeError(f"{source}: a tree needs [node.NAME] tables")
    nodes = {node_id: _parse_node(node_id, raw, source) for node_id, raw in raw_nodes.items()}
    tree = Tree(data["name"], data["title"], data["start"], nodes, source)
    _check_graph(tree)
    return tree


def _parse_node(node_id: str, raw: Any, source: str) -> Node:
    where = f"{source}: node {node_id}"
    if not isinstance(raw, dict):
        raise TreeError(f"{where}: must be a table")
    kinds: list[NodeKind] = [kind for kind in _KINDS if kind in raw]
    if not kinds:
        raise TreeError(f"{where}: needs one of ask, check, act, end")
    kind = kinds[0]
    unknown = sorted(set(raw) - _KEYS[kind])
    if unknown:
        raise TreeError(f"{where}: unknown key(s) for a {kind} node: {', '.join(unknown)}")
    for key in ("ask", "act", "end", "check", "prompt", "yes", "no", "next", "fault"):
        if key in raw and (not isinstance(raw[key], str) or not raw[key]):
            raise TreeError(f"{where}: {key} must be non-empty text")
    text = raw.get("ask" if kind == "check" else kind, "")
    if kind == "check":
        if raw["check"] not in CHECKS:
            raise TreeError(f"{where}: unknown check {raw['check']!r} ({', '.join(CHECKS)})")
        if not text:
            raise TreeError(f"{where}: a check needs ask = the question if the bench cannot tell")
    if "prompt" in raw and raw["prompt"] not in PROMPTS:
        raise TreeError(f"{where}: unknown operator prompt {raw['prompt']!r}")
    needed = {"ask": ("yes", "no"), "check": ("yes", "no"), "act": ("next",), "end": ()}[kind]
    for key in needed:
        if key not in raw:
            raise TreeError(f"{where}: a {kind} node needs {key} = NODE")
    parts = raw.get("parts", [])
    if not isinstance(parts, list) or not all(isinstance(p, str) for p in parts):
        raise TreeError(f"{where}: parts must be a list of part numbers")
    bad = [p for p in parts if p not in PARTS]
    if bad:
        raise TreeError(f"{where}: unknown part number(s) {', '.join(bad)}")
    if "fault" in raw and raw["fault"] not in FAULT_PARTS:
        raise TreeError(f"{where}: unknown fault id {raw['fault']!r}")
    loads = raw.get("loads", {})
    if not isinstance(loads, dict) or set(loads) - _LOAD_KEYS:
        raise TreeError(f"{where}: loads must be a table of {', '.join(sorted(_LOAD_KEYS))}")
    return Node(
        id=node_id,
        kind=kind,
        text=text,
        check=raw.get("check"),
        prompt=raw.get("prompt"),
        loads=dict(loads),
        yes=raw.get("yes"),
        no=raw.get("no"),
        next=raw.get("next"),
        parts=tuple(parts),
        fault=raw.get("fault"),
    )


def _check_graph(tree: Tree) -> None:
    source = tree.source
    if tree.start not in tree.nodes:
        raise TreeError(f"{source}: start node {tree.start!r} does not exist")
    for node in tree.nodes.values():
        for target in node.successors:
            if target not in tree.nodes:
                raise TreeError(f"{source}: node {node.id} leads to missing node {target!r}")
    # Depth-first: a node seen again while still on the path closes a loop.
    state: dict[str, str] = {}

    def visit(node_id: str, path: list[str]) -> None:
        state[node_id] = "open"
        for target in tree.nodes[node_id].successors:
            if state.get(target) == "open":
                loop = " → ".join([*path[path.index(target) :], target])
                raise TreeError(f"{source}: loop {loop}")
            if target not in state:
                visit(target, [*path, target])
        state[node_id] = "done"

    visit(tree.start, [tree.start])
    unreachable = sorted(set(tree.nodes) - set(state))
    if unreachable:
        raise TreeError(f"{source}: node(s) never reached from start: {', '.join(unreachable)}")


@dataclass(frozen=True)
class Answered:
    """One step of a walk: the node, the answer, who gave it and what was seen."""

    node: Node
    answer: bool | None
    by: Literal["bench", "technician"]
    detail: str = ""

    def line(self) -> str:
        if self.node.kind == "act":
            return f"done: {self.node.text}"
        said = "yes" if self.answer else "no"
        who = "bench" if self.by == "bench" else "technician"
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.node.question} {said} — {who}{detail}"


class Walk:
    """A technician's way through one tree: the trail so far and the node to do next."""

    def __init__(self, tree: Tree) -> None:
        self.tree = tree
        self.current = tree.node(tree.start)
        self.trail: list[Answered] = []
        self.notes: list[str] = []
        """What checks said when they could not decide (shown before the fallback question)."""

    @property
    def finished(self) -> bool:
        return self.current.kind == "end"

    def _go(self, node_id: str | None) -> None:
        assert node_id is not None
        self.current = self.tree.node(node_id)

    def answer(
        self, yes: bool, *, by: Literal["bench", "technician"] = "technician", detail: str = ""
    ) -> None:
        node = self.current
        if node.kind not in ("ask", "check"):
            raise ValueError(f"node {node.id} is a {node.kind} node, not a question")
        self.trail.append(Answered(node, yes, by, detail))
        self._go(node.yes if yes else node.no)

    def checked(self, result: CheckResult) -> bool:
        """Apply a check's result; False when it could not tell (ask the technician)."""
        if result.answer is None:
            self.notes.append(result.detail)
            return False
        self.answer(result.answer, by="bench", detail=result.detail)
        return True

    def done(self) -> None:
        node = self.current
        if node.kind != "act":
            raise ValueError(f"node {node.id} is a {node.kind} node, not an action")
        self.trail.append(Answered(node, None, "technician"))
        self._go(node.next)

    def part_labels(self) -> list[str]:
        return [PARTS[number].label for number in self.current.parts]

    def symptom(self) -> str:
        """What is wrong, in the words of the walk, for a new order: the tree's symptom and
        what the technician saw (the answers the bench did not give itself)."""
        seen = [
            f"{step.node.question} {'yes' if step.answer else 'no'}"
            for step in self.trail
            if step.by == "technician" and step.node.kind != "act"
        ]
        return "; ".join([self.tree.title, *seen])

    def report(self) -> str:
        """The walk as a note for a service order."""
        lines = [f"Guided troubleshooting: {self.tree.title}"]
        lines += [f"- {step.line()}" for step in self.trail]
        if self.finished:
            lines.append(f"Result: {self.current.text}")
            if self.current.parts:
                lines.append(f"Part(s): {', '.join(self.part_labels())}")
        return "\n".join(lines)
