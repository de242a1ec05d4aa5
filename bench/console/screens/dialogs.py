"""Two small dialogs: a yes/no question, and one line of text to type.

:class:`Confirm` guards what cannot be undone (quitting in the middle of a run, filing a
simulated run on a customer's order); :class:`TextEntry` takes a note or a number for the
orders view. Both are plain modal screens dismissed with the answer, or None when cancelled,
so a caller can ``await app.push_screen_wait(...)`` them in a worker.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from bench.console.screens.abort import ABORT_RUN, abort_run, abort_state
from bench.console.screens.pickers import MODAL_CSS
from bench.console.widgets.keys import KeyBar


class Confirm(ModalScreen[bool | None]):
    """``text`` and what yes and no do; dismissed with True (y), False (n) or None (escape)."""

    DEFAULT_CSS = (
        """
    Confirm { align: center middle; }
    Confirm .confirm-text { width: 1fr; margin-bottom: 1; }
    Confirm .confirm-choice { width: 1fr; }
    """
        + MODAL_CSS
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "yes"),
        Binding("n", "answer(False)", "no"),
        Binding("escape", "cancel", "cancel"),
        ABORT_RUN,
    ]

    def __init__(self, title: str, text: str, *, yes: str, no: str, warning: bool = False) -> None:
        super().__init__()
        self.title_text = title
        self.text = text
        self.yes = yes
        self.no = no
        self.warning = warning

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            style = "bold white on red" if self.warning else ""
            yield Label(Text(self.title_text, style=style), classes="dialog-title")
            yield Static(Text(self.text), classes="confirm-text")
            choices = Text()
            choices.append(" y ", style="bold reverse")
            choices.append(f" {self.yes}\n")
            choices.append(" n ", style="bold reverse")
            choices.append(f" {self.no}")
            yield Static(choices, classes="confirm-choice")
            yield KeyBar()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "abort_run":
            return abort_state(self.app)
        return True

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_abort_run(self) -> None:
        abort_run(self.app)


class TextEntry(ModalScreen[str | None]):
    """One line of text; dismissed with it (enter), or None (escape). ``required``: an empty
    line is refused with the reason instead of being returned."""

    DEFAULT_CSS = (
        """
    TextEntry { align: center middle; }
    TextEntry .entry-text { width: 1fr; margin-bottom: 1; color: $text-muted; }
    """
        + MODAL_CSS
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "submit", "save", priority=True),
        Binding("escape", "cancel", "cancel"),
    ]

    def __init__(
        self,
        title: str,
        text: str = "",
        *,
        value: str = "",
        placeholder: str = "",
        required: str = "",
    ) -> None:
        super().__init__()
        self.title_text = title
        self.text = text
        self.value = value
        self.placeholder = placeholder
        self.required = required

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title", markup=False)
            if self.text:
                yield Label(self.text, classes="entry-text", markup=False)
            yield Input(value=self.value, placeholder=self.placeholder)
            yield KeyBar()

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def action_submit(self) -> None:
        text = self.query_one(Input).value.strip()
        if not text and self.required:
            self.notify(self.required, severity="error")
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)
