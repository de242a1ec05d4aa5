"""Small modal choosers: one item from a list, or a set of frame commands for the log filter."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList, SelectionList
from textual.widgets.option_list import Option

from bench.console.screens.abort import ABORT_RUN, abort_run, abort_state
from bench.console.widgets.framelog import FrameLog, command_name
from bench.console.widgets.keys import KeyBar
from protocols.mspa import Command

MODAL_CSS = """
.dialog {
    width: 76;
    max-width: 100%;
    height: auto;
    max-height: 100%;
    border: thick $primary;
    background: $surface;
    padding: 0 1;
}
.dialog > .dialog-title {
    text-style: bold;
    width: 1fr;
    margin-bottom: 1;
}
.dialog OptionList, .dialog SelectionList {
    height: auto;
    max-height: 14;
}
.dialog KeyBar {
    dock: none;
    margin-top: 1;
}
"""


class Picker(ModalScreen[str | None]):
    """Choose one of ``choices`` (``(id, label)``); dismissed with the id, or None."""

    DEFAULT_CSS = "Picker { align: center middle; }" + MODAL_CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "choose", "choose", priority=True),
        Binding("escape", "cancel", "cancel"),
        ABORT_RUN,
    ]

    def __init__(self, title: str, choices: Sequence[tuple[str, str]], *, empty: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.choices = list(choices)
        self.empty = empty or "nothing to choose"

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title", markup=False)
            if self.choices:
                yield OptionList(*(Option(Text(label), id=key) for key, label in self.choices))
            else:
                yield Label(self.empty, markup=False)
            yield KeyBar()

    def action_choose(self) -> None:
        if not self.choices:
            self.dismiss(None)
            return
        options = self.query_one(OptionList)
        option = options.highlighted_option
        if option is not None:
            self.dismiss(option.id)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "abort_run":
            return abort_state(self.app)
        return True

    def action_abort_run(self) -> None:
        abort_run(self.app)


class CommandFilter(ModalScreen[frozenset[int] | None]):
    """Tick the commands the frame log shows; dismissed with the set, None when cancelled."""

    DEFAULT_CSS = "CommandFilter { align: center middle; }" + MODAL_CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "apply", "apply", priority=True),
        Binding("A", "all", "all", key_display="A"),  # a: abort run, as in every dialog
        Binding("n", "none", "none"),
        Binding("escape", "cancel", "cancel"),
        ABORT_RUN,
    ]

    def __init__(self, codes: Iterable[int], shown: frozenset[int] | None) -> None:
        super().__init__()
        self.codes = sorted(set(codes))
        self.shown = shown

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(
                "Show frames of these commands (space ticks)", classes="dialog-title", markup=False
            )
            yield SelectionList[int](
                *(
                    (command_name(code), code, self.shown is None or code in self.shown)
                    for code in self.codes
                )
            )
            yield KeyBar()

    @property
    def selection(self) -> SelectionList[int]:
        return self.query_one(SelectionList)

    def action_all(self) -> None:
        self.selection.select_all()

    def action_none(self) -> None:
        self.selection.deselect_all()

    def action_apply(self) -> None:
        self.dismiss(frozenset(self.selection.selected))

    def action_cancel(self) -> None:
        self.dismiss(None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "abort_run":
            return abort_state(self.app)
        return True

    def action_abort_run(self) -> None:
        abort_run(self.app)


def filter_frame_log(log: FrameLog) -> None:
    """Offer every command known or seen in ``log`` to tick; the log then shows only the
    ticked ones (all of them ticked: no filter). The console's and the sniffer's ``/`` key."""
    codes = {int(command) for command in Command} | {entry.command for entry in log.entries}

    def chosen(selected: frozenset[int] | None) -> None:
        if selected is not None:
            log.set_filter(None if selected >= codes else selected)

    log.app.push_screen(CommandFilter(codes, log.filter), chosen)
