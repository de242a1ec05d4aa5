"""Guided troubleshooting: one service-manual tree, step by step, to an action or a part.

The walk itself is data and logic (:class:`~bench.console.trees.Walk`); this screen asks the
technician the questions, lets the bench answer the ones it can (each check is a session job,
awaited here without blocking the UI), performs confirmed actions on a virtual unit, and at
the end offers to save the whole walk as a note on a service order. Leaving the screen puts
the loads back as they were when the walk began.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from typing import TYPE_CHECKING, ClassVar, Literal, TypeVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Label, Static

from bench.console.state import Snapshot
from bench.console.trees import Tree, Walk
from bench.console.widgets.keys import KeyBar
from bench.console.widgets.status import LinkBar

if TYPE_CHECKING:
    from bench.console.screens.host import ConsoleHost

T = TypeVar("T")
Mode = Literal["working", "ask", "act", "end"]


class TroubleshootScreen(Screen[None]):
    """Walks one tree with the technician; see the module docstring."""

    DEFAULT_CSS = """
    TroubleshootScreen #tree-title { text-style: bold; width: 1fr; }
    TroubleshootScreen VerticalScroll { height: 1fr; border: round $primary-darken-2; }
    TroubleshootScreen #current { width: 1fr; height: auto; padding: 0 1; }
    TroubleshootScreen #hint { width: 1fr; height: auto; padding: 0 1; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "yes"),
        Binding("n", "answer(False)", "no"),
        Binding("enter", "done", "done"),
        Binding("s", "save", "save on an order / new order"),
        Binding("escape", "leave", "leave"),
    ]

    def __init__(self, host: ConsoleHost, tree: Tree) -> None:
        super().__init__()
        self.host = host
        self.guide = tree
        self.walk = Walk(tree)
        self.mode: Mode = "working"
        self.saved_on: int | None = None
        self.saved_new = False

    def compose(self) -> ComposeResult:
        yield LinkBar(self.host.speed)
        yield Label(f" Guided troubleshooting — {self.guide.title}", id="tree-title", markup=False)
        with VerticalScroll():
            yield Static("", id="trail")
        yield Static("", id="current")
        yield Static("", id="hint")
        yield KeyBar()

    def on_mount(self) -> None:
        self.start_state = self.host.snapshot.state
        self.show(self.host.snapshot)
        self._proceed()

    def show(self, snapshot: Snapshot) -> None:
        self.query_one(LinkBar).show(snapshot)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        mode = self.mode
        if action == "answer":
            return mode == "ask"
        if action == "done":
            return mode == "act"
        if action == "save":
            return mode == "end"
        return True

    # -- drawing ----------------------------------------------------------------------------

    def _set(self, mode: Mode, current: Text, hint: str = "") -> None:
        self.mode = mode
        trail = Text()
        for step in self.walk.trail:
            mark = "✓ " if step.node.kind == "act" else ("● " if step.by == "bench" else "? ")
            trail.append(mark, style="bold green" if step.by == "bench" else "bold")
            trail.append(step.line() + "\n")
        self.query_one("#trail", Static).update(trail)
        self.query_one(VerticalScroll).scroll_end(animate=False)
        self.query_one("#current", Static).update(current)
        self.query_one("#hint", Static).update(Text(hint, style="dim"))
        self.refresh_bindings()

    def _show_end(self) -> None:
        node = self.walk.current
        text = Text()
        text.append("Result: ", style="bold")
        text.append(node.text)
        for label in self.walk.part_labels():
            text.append("\nPart: ", style="bold")
            text.append(label, style="bold yellow")
        if self.saved_on is not None:
            new = "new " if self.saved_new else ""
            text.append(f"\nSaved on {new}order {self.saved_on}.", style="green")
        self._set("end", text, "s saves this walk on a service order, or opens a new one")

    # -- the walk ---------------------------------------------------------------------------

    def _proceed(self) -> None:
        self.run_worker(self._advance(), exclusive=True, group="walk")

    async def _await(self, future: Future[T]) -> T | None:
        try:
            return await asyncio.wrap_future(future)
        except Exception as error:  # the job was stopped or an instrument failed
            self.walk.notes.append(str(error))
            return None

    async def _advance(self) -> None:
        walk = self.walk
        session = self.host.session
        while not walk.finished:
            node = walk.current
            if node.kind == "check" and node.check is not None:
                self._set("working", Text(f"Checking: {node.question} …", style="bold cyan"))
                result = await self._await(session.run_check(node.check))
                if result is not None and walk.checked(result):
                    continue
                self._ask(node.text, await self._hint(node.loads, node.prompt))
                return
            if node.kind == "ask":
                if node.loads or node.prompt:
                    self._set("working", Text("Preparing the question …", style="bold cyan"))
                self._ask(node.text, await self._hint(node.loads, node.prompt))
                return
            if node.kind == "act":
                hint = ""
                if node.prompt and session.operator.can_do(node.prompt):
                    hint = "virtual unit: the console does this when you press enter"
                self._set("act", Text(f"Do: {node.text}", style="bold"), hint)
                return
        self._show_end()

    async def _hint(self, loads: dict[str, bool | int], prompt: str | None) -> str:
        if not loads and not prompt:
            return ""
        hint = await self._await(self.host.session.prepare(loads, prompt))
        return hint or ""

    def _ask(self, question: str, hint: str) -> None:
        notes = "; ".join(self.walk.notes[-1:])
        extra = f"the bench could not tell: {notes}" if notes else ""
        self._set("ask", Text(question, style="bold"), "\n".join(s for s in (extra, hint) if s))
        self.walk.notes.clear()

    def action_answer(self, yes: bool) -> None:
        if self.mode != "ask":
            return
        self.walk.answer(yes)
        self._proceed()

    def action_done(self) -> None:
        if self.mode != "act":
            return
        node = self.walk.current
        if node.prompt and self.host.session.operator.can_do(node.prompt):
            self.host.session.world_action(node.prompt)
        self.walk.done()
        self._proceed()

    def action_save(self) -> None:
        if self.mode == "end":
            self.host.save_walk(self.walk.report(), self.walk.symptom(), self.saved)

    def saved(self, order_id: int, new: bool) -> None:
        self.saved_on = order_id
        self.saved_new = new
        self._show_end()

    def action_leave(self) -> None:
        session = self.host.session
        if self.mode == "working":
            session.abort_job()
        session.command(**self.start_state._asdict())
        self.app.pop_screen()
