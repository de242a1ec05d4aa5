"""The operator plug of the console: the technician answers in a dialog, not at a prompt.

A plan step asks from the driver thread and must get its answer there. The console's
operator hands the question to its :class:`~bench.console.session.Session`, which shows it
as a modal dialog and waits *through the driver* for the answer: the step is held, but the
unit keeps being served (reports heard, keep-alives sent, the live panel updated), so a
technician who takes a minute to find the PRCD does not trip the box's 30 s fail-safe.

With a virtual unit nobody can press its PRCD or look into its tank, so the dialog shows what
a person there would see (the virtual operator's answer, as a hint) and, when the technician
confirms an action, the console performs it on the virtual unit.
"""

from __future__ import annotations

from typing import Protocol

from bench.console.state import PromptKind
from bench.testing.instruments.operator import PROMPTS, OperatorError, VirtualOperator

_WORLD_ACTIONS = frozenset(("prcd-test", "prcd-reset", "knob-inflate", "knob-off"))


class Prompter(Protocol):
    """Where the operator's questions go: :meth:`bench.console.session.Session.ask`, which
    shows a dialog and waits through the driver. A protocol, so that the session imports
    this module and this module does not import the session."""

    def ask(
        self, kind: PromptKind, prompt_id: str, text: str, unit: str = "", hint: str = ""
    ) -> object: ...


class ConsoleOperator:
    """Asks through the console; ``world`` is the virtual operator of a virtual unit."""

    def __init__(self, name: str = "technician", *, world: VirtualOperator | None = None) -> None:
        self.name = name
        self.world = world
        self._session: Prompter | None = None

    def bind(self, session: Prompter) -> None:
        self._session = session

    def _ask(
        self, kind: PromptKind, prompt_id: str, text: str, unit: str = "", hint: str = ""
    ) -> object:
        if self._session is None:
            raise OperatorError(f"operator needed: {text}")
        return self._session.ask(kind, prompt_id, text, unit, hint)

    def confirm(self, prompt_id: str, question: str) -> bool:
        return bool(self._ask("confirm", prompt_id, question, hint=self.hint(prompt_id)))

    def number(self, prompt_id: str, question: str, unit: str) -> float:
        answer = self._ask("number", prompt_id, question, unit=unit)
        if isinstance(answer, bool) or not isinstance(answer, int | float | str):
            raise OperatorError(f"not a number: {answer!r}")
        try:
            return float(answer)
        except ValueError:
            raise OperatorError(f"not a number: {answer!r}") from None

    def act(self, prompt_id: str, instruction: str) -> None:
        self._ask("act", prompt_id, instruction, hint=self.hint(prompt_id))
        self.do(prompt_id)

    def can_do(self, prompt_id: str) -> bool:
        """Whether the console can do this action itself (a virtual unit)."""
        return self.world is not None and prompt_id in _WORLD_ACTIONS

    def do(self, prompt_id: str) -> None:
        """Carry out a confirmed action on the virtual unit (nothing for a real one)."""
        if self.can_do(prompt_id):
            assert self.world is not None
            self.world.act(prompt_id, PROMPTS.get(prompt_id, prompt_id))

    def hint(self, prompt_id: str) -> str:
        """What a person at the virtual bench would see or do; empty for a real unit."""
        world = self.world
        if world is None:
            return ""
        if self.can_do(prompt_id):
            return "virtual unit: the console does this when you confirm"
        try:
            seen = world.confirm(prompt_id, PROMPTS.get(prompt_id, prompt_id))
        except OperatorError:
            return ""
        return f"virtual unit: a person at the bench would answer {'yes' if seen else 'no'}"
