"""The operator's dialog: a step (in the driver thread) is waiting for this answer."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from bench.console.screens.abort import ABORT_RUN, abort_run, abort_state
from bench.console.screens.pickers import MODAL_CSS
from bench.console.state import PromptView
from bench.console.widgets.keys import KeyBar

_TITLES = {"confirm": "Question", "act": "Please do this", "number": "Reading needed"}


class PromptModal(ModalScreen[Any]):
    """Yes/no, done, or a number; dismissed with the answer, or None when cancelled."""

    DEFAULT_CSS = (
        """
    PromptModal { align: center middle; }
    PromptModal .prompt-text { width: 1fr; margin-bottom: 1; }
    PromptModal .hint { color: $text-muted; width: 1fr; }
    PromptModal Horizontal { height: auto; width: 1fr; }
    PromptModal Button { margin-right: 2; }
    """
        + MODAL_CSS
    )
    AUTO_FOCUS = ""
    """No button takes the focus: its own enter binding would hide ours from the key bar."""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "yes"),
        Binding("n", "answer(False)", "no"),
        Binding("enter", "done", "done"),
        Binding("escape", "cancel", "cancel"),
        ABORT_RUN,
    ]

    def __init__(self, prompt: PromptView) -> None:
        super().__init__()
        self.prompt = prompt

    def compose(self) -> ComposeResult:
        prompt = self.prompt
        with Vertical(classes="dialog"):
            yield Label(
                f"{_TITLES[prompt.kind]} ({prompt.prompt_id})",
                classes="dialog-title",
                markup=False,
            )
            yield Label(prompt.text, classes="prompt-text", markup=False)
            if prompt.hint:
                yield Label(prompt.hint, classes="hint", markup=False)
            with Horizontal():
                if prompt.kind == "confirm":
                    yield Button("Yes (y)", id="yes", variant="success")
                    yield Button("No (n)", id="no", variant="error")
                elif prompt.kind == "act":
                    yield Button("Done (enter)", id="done", variant="primary")
                else:
                    yield Input(placeholder=prompt.unit, type="number", id="value")
            yield KeyBar()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        kind = self.prompt.kind
        if action == "answer":
            return kind == "confirm"
        if action == "done":
            return kind != "confirm"
        if action == "abort_run":
            return abort_state(self.app)
        return True

    def on_mount(self) -> None:
        if self.prompt.kind == "number":
            self.query_one(Input).focus()

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    def action_done(self) -> None:
        if self.prompt.kind == "act":
            self.dismiss(True)
        elif self.prompt.kind == "number":
            text = self.query_one(Input).value.strip()
            try:
                self.dismiss(float(text))
            except ValueError:
                self.notify(f"not a number: {text!r}", severity="error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_done()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "yes":
            self.dismiss(True)
        elif event.button.id == "no":
            self.dismiss(False)
        else:
            self.dismiss(True)

    def action_cancel(self) -> None:
        """Cancel the question: the step cannot be judged (an ``error``; a safety step's
        error stops the plan)."""
        self.dismiss(None)

    def action_abort_run(self) -> None:
        """Stop the whole run (the dialog closes with it, unanswered)."""
        abort_run(self.app)
