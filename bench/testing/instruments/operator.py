"""The operator instrument: questions and actions only a person at the bench can answer or do.

A step asks through one small interface (:class:`Operator`) so a plan runs unchanged with a
technician at a terminal, with answers prepared in a file (CI, the end-to-end smoke), or in a
virtual world where the "person" looks at the virtual box. Every prompt has a stable id
(:data:`PROMPTS`): answers files are keyed by it and the virtual operator recognises it.

The virtual operator is the one place bench code may look at a virtual unit's state, because
it stands for a person looking at the real one.
"""

from __future__ import annotations

import difflib
import random
import sys
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from bench.testing.instruments.specs import MultimeterSpec
from bench.testing.limits import transformer_present
from protocols.control import CONTROL_SCHEME, ControlClient, ControlError, ControlWorkbench
from protocols.files import load_toml

if TYPE_CHECKING:
    from rich.console import Console

PROMPTS: dict[str, str] = {
    "prcd-light": "Is the PRCD's indicator light on?",
    "prcd-test": "Press TEST on the PRCD (the unit should stop).",
    "prcd-reset": "Press RESET on the PRCD.",
    "pump-running": "Is the filter pump running (you hear it, water moves at the outlet)?",
    "blower-running": "Is the air blower running (you hear it)?",
    "jets-running": "Are the jets running (you hear the jet pump, water jets from the nozzles)?",
    "mm-transformer-vac": (
        "Multimeter on AC volts: measure across the transformer's secondary "
        "(the power board's low-voltage input)."
    ),
    "transformer-secondary-present": (
        "Multimeter on AC volts across the transformer's secondary: about 12 V there?"
    ),
    "clamp-a": "Clamp meter on the live wire of the unit's supply: how many amps does it read?",
    "knob-inflate": "Turn the rotation knob to the inflation (ON) position.",
    "knob-off": "Turn the rotation knob to OFF.",
    "bubbles-visible": "Do you see bubbles in the test tank?",
    "draw-heater": (
        "Is the heater drawing power? (a clamp meter on the supply: about 6.5 A more with the "
        "heater on)"
    ),
    "fitted-uvc": "Is a UVC lamp fitted to this unit?",
    "fitted-ozone": "Is an ozone generator fitted to this unit?",
    "fitted-jet": "Is a jet pump fitted to this unit?",
    "model-plate": "Read the model plate of the unit: which model is it?",
    "panel-connect": "Connect the control panel under test to the bench cable.",
    "panel-key": "Press the bubble key on the control panel.",
}
"""Every prompt id the shipped step types use, with the default wording."""

PromptKind = Literal["yes/no", "number", "choice", "action"]
"""What an answer to a prompt must be: ``true``/``false``, a number, one of a few texts
(the model plate), or anything for an action (``true`` is usual: it was done)."""

PROMPT_KINDS: dict[str, PromptKind] = {
    "prcd-light": "yes/no",
    "prcd-test": "action",
    "prcd-reset": "action",
    "pump-running": "yes/no",
    "blower-running": "yes/no",
    "jets-running": "yes/no",
    "mm-transformer-vac": "number",
    "transformer-secondary-present": "yes/no",
    "clamp-a": "number",
    "knob-inflate": "action",
    "knob-off": "action",
    "bubbles-visible": "yes/no",
    "draw-heater": "yes/no",
    "fitted-uvc": "yes/no",
    "fitted-ozone": "yes/no",
    "fitted-jet": "yes/no",
    "model-plate": "choice",
    "panel-connect": "action",
    "panel-key": "action",
}
"""The kind of answer each of :data:`PROMPTS` takes (an answers file is checked against it)."""


def answerable_prompts(
    plan_prompts: Mapping[str, PromptKind] | None = None,
) -> dict[str, PromptKind]:
    """Every prompt a run can ask: the bench's own (:data:`PROMPT_KINDS`: its step types,
    the model plate, the parts fitted) and a plan's own prompt ids (``operator-confirm``,
    ``operator-action`` steps). Where both name an id, the stricter kind is kept (an
    action takes any answer)."""
    prompts = dict(PROMPT_KINDS)
    for prompt_id, kind in (plan_prompts or {}).items():
        if prompts.get(prompt_id, "action") == "action":
            prompts[prompt_id] = kind
    return prompts


class OperatorError(Exception):
    """No answer could be had (nobody at the terminal, missing answer): the step errors."""


class Operator(Protocol):
    """The person at the bench."""

    name: str

    def confirm(self, prompt_id: str, question: str) -> bool:
        """A yes/no question about what the operator sees."""
        ...

    def number(self, prompt_id: str, question: str, unit: str) -> float:
        """A value the operator reads off something (a clamp meter, a thermometer)."""
        ...

    def act(self, prompt_id: str, instruction: str) -> None:
        """Something the operator must do; returns when it is done."""
        ...


class TerminalOperator:
    """A technician at this terminal, asked with rich prompts.

    ``pause``/``resume`` are called around each prompt so a live display can step aside.
    Without an interactive stdin nobody can answer, so the step errors instead of hanging.
    """

    def __init__(
        self,
        name: str = "technician",
        *,
        interactive: bool | None = None,
        pause: Callable[[], None] | None = None,
        resume: Callable[[], None] | None = None,
        console: Console | None = None,
    ) -> None:
        self.name = name
        self.interactive = sys.stdin.isatty() if interactive is None else interactive
        self.pause = pause
        self.resume = resume
        self.console = console
        """Where the questions are shown (the run's display: standard error when standard
        output carries the record, ``--json -``); None: rich's default, standard output."""

    def _ask(self, question: str, ask: Callable[[], Any]) -> Any:
        if not self.interactive:
            raise OperatorError(f"operator needed: {question}")
        if self.pause is not None:
            self.pause()
        try:
            return ask()
        except EOFError:
            raise OperatorError(f"operator needed: {question}") from None
        finally:
            if self.resume is not None:
                self.resume()

    def confirm(self, prompt_id: str, question: str) -> bool:
        from rich.prompt import Confirm

        return bool(self._ask(question, lambda: Confirm.ask(question, console=self.console)))

    def number(self, prompt_id: str, question: str, unit: str) -> float:
        from rich.prompt import FloatPrompt

        return float(
            self._ask(
                question, lambda: FloatPrompt.ask(f"{question} [{unit}]", console=self.console)
            )
        )

    def choose(self, prompt_id: str, question: str, choices: Sequence[str]) -> str:
        from rich.prompt import Prompt

        return str(
            self._ask(
                question, lambda: Prompt.ask(question, choices=list(choices), console=self.console)
            )
        )

    def act(self, prompt_id: str, instruction: str) -> None:
        from rich.prompt import Prompt

        self._ask(
            instruction,
            lambda: Prompt.ask(
                f"{instruction} Press Enter when done", default="", console=self.console
            ),
        )


class AnswersOperator:
    """Answers prepared in advance: a mapping prompt id → answer (from a TOML file).

    ``confirm`` needs a boolean, ``number`` a number, ``act`` any value (``true`` is usual: the
    person doing the run has done it). A missing or mistyped answer errors the step and names
    the prompt id, so the file can be fixed.
    """

    def __init__(
        self, answers: Mapping[str, Any], *, source: str = "answers", name: str = "answers-file"
    ) -> None:
        self.answers = dict(answers)
        self.source = source
        self.name = name
        self.asked: list[str] = []

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        *,
        name: str = "answers-file",
        prompts: Mapping[str, PromptKind] | None = None,
        choices: Mapping[str, Sequence[str]] | None = None,
        reserved: Mapping[str, str] | None = None,
    ) -> AnswersOperator:
        """Load a TOML answers file and check it before any run; ``ValueError`` (one line
        naming the file, the prompt id and the problem) says what is wrong with it.

        Every id must be one the run can ask (``prompts``, default :func:`answerable_prompts`;
        a mistyped id gets the close matches) and every answer of the prompt's kind:
        ``true``/``false`` for a yes/no question, a finite number for a reading, one of
        ``choices`` (default: the model plate's, the shipped models) for a choice. An id in
        ``reserved`` is one somebody else answers in this run (the virtual operator of a
        virtual unit): it is refused with the reason given there.
        """
        path = Path(path)
        data = load_toml(path, "answers file")  # InputFileError is a one-line ValueError
        known = answerable_prompts() if prompts is None else prompts
        if choices is None:
            from protocols.mspa.models import available_models

            choices = {"model-plate": available_models()}
        for key, value in data.items():
            why = (reserved or {}).get(key)
            problem = f"{key!r} {why}" if why else _answer_problem(key, value, known, choices)
            if problem:
                raise ValueError(f"answers file {path}: {problem}")
        return cls(data, source=str(path), name=name)

    def _answer(self, prompt_id: str) -> Any:
        self.asked.append(prompt_id)
        if prompt_id not in self.answers:
            raise OperatorError(f"no answer for prompt {prompt_id!r} in {self.source}")
        return self.answers[prompt_id]

    def confirm(self, prompt_id: str, question: str) -> bool:
        value = self._answer(prompt_id)
        if not isinstance(value, bool):
            raise OperatorError(
                f"answer {prompt_id!r} in {self.source} must be true or false, got {value!r}"
            )
        return value

    def number(self, prompt_id: str, question: str, unit: str) -> float:
        value = self._answer(prompt_id)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise OperatorError(
                f"answer {prompt_id!r} in {self.source} must be a number ({unit}), got {value!r}"
            )
        return float(value)

    def choose(self, prompt_id: str, question: str, choices: Sequence[str]) -> str:
        value = self._answer(prompt_id)
        if not isinstance(value, str) or value not in choices:
            raise OperatorError(
                f"answer {prompt_id!r} in {self.source} must be one of {', '.join(choices)}, "
                f"got {value!r}"
            )
        return value

    def act(self, prompt_id: str, instruction: str) -> None:
        self._answer(prompt_id)


class PersonWithAnswers:
    """A person at a virtual unit (:class:`VirtualOperator`) with a file's answers to the
    questions only the plan asks (``operator-confirm``/``operator-action`` steps: a lid, a
    label, anything the simulation has no idea of).

    Everything done or seen at the unit stays the person's: an answer prepared in a file
    never presses a virtual PRCD or turns a virtual knob, and "bubbles?" has a different
    answer at each knob position, so a file answering those would fail a healthy unit. The
    file answers ``prompts`` (the plan's own ids: a missing answer errors its step, naming
    the id and the file); every other prompt is the person's.
    """

    def __init__(
        self, person: Operator, answers: AnswersOperator, prompts: Collection[str]
    ) -> None:
        self.person = person
        self.answers = answers
        self.prompts = frozenset(prompts)

    @property
    def name(self) -> str:
        return self.person.name

    @name.setter
    def name(self, value: str) -> None:
        self.person.name = value

    def _who(self, prompt_id: str) -> Any:
        return self.answers if prompt_id in self.prompts else self.person

    def confirm(self, prompt_id: str, question: str) -> bool:
        return bool(self._who(prompt_id).confirm(prompt_id, question))

    def number(self, prompt_id: str, question: str, unit: str) -> float:
        return float(self._who(prompt_id).number(prompt_id, question, unit))

    def choose(self, prompt_id: str, question: str, choices: Sequence[str]) -> str:
        return str(self._who(prompt_id).choose(prompt_id, question, choices))

    def act(self, prompt_id: str, instruction: str) -> None:
        self._who(prompt_id).act(prompt_id, instruction)


LARGEST_ANSWER = 1e9
"""A number read off a meter or thermometer; beyond is a typo."""


def _within(value: Any) -> bool:
    try:
        return abs(float(value)) <= LARGEST_ANSWER
    except OverflowError:  # an integer too large for a float
        return False


def _answer_problem(
    key: str, value: Any, known: Mapping[str, PromptKind], choices: Mapping[str, Sequence[str]]
) -> str:
    """What is wrong with one answer (empty when nothing is)."""
    if not isinstance(value, bool | int | float | str):
        return f"answer {key!r} must be true/false, a number or text"
    kind = known.get(key)
    if kind is None:
        close = difflib.get_close_matches(key, list(known), n=3, cutoff=0.6)
        if close:
            hint = f"did you mean {' or '.join(repr(c) for c in close)}?"
        else:
            hint = f"prompt ids: {', '.join(sorted(known))}" if known else "it asks none"
        return f"unknown prompt id {key!r}, not asked by this plan or the bench ({hint})"
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number and not _within(value):  # also refuses nan, inf and integers past a float
        shown = repr(value) if len(repr(value)) <= 20 else f"{repr(value)[:17]}..."
        return f"answer {key!r} must be a finite number within ±{LARGEST_ANSWER:g}, got {shown}"
    if kind == "yes/no" and not isinstance(value, bool):
        return f"{key!r} is a yes/no question: answer true or false, got {value!r}"
    if kind == "number" and not number:
        return f"{key!r} asks for a reading: answer a number, got {value!r}"
    allowed = choices.get(key)
    if kind == "choice" and allowed is not None and value not in allowed:
        return f"answer {key!r} must be one of {', '.join(allowed)}, got {value!r}"
    return ""


MULTIMETER_POINTS: dict[str, tuple[str, str]] = {
    "mm-transformer-vac": ("transformer-secondary", "ac"),
}
"""Multimeter prompts → (test point of the unit, AC or DC)."""


class VirtualOperator:
    """The person at a virtual bench: perceives the virtual unit (``world``) as a person would
    and acts on it.

    A person sees bubbles, hears the pump and the blower, reads the PRCD's light and the
    model plate (``fitted``), and — if the bench has one — reads a multimeter held on a test
    point, with that multimeter's errors. A person never perceives watts: "is the heater
    drawing power?" is a question for a meter, so the virtual operator refuses it like any
    prompt it does not understand (:class:`OperatorError`), and a plan that asks it fails
    loudly instead of getting an answer no technician could give.

    ``world`` is a :class:`protocols.control.Workbench` (box plans): a virtual box in this
    process (:class:`spasim.control.BoxWorkbench`) or one served elsewhere, reached through
    its control channel (:class:`~protocols.control.ControlWorkbench`, see
    :class:`RehearsalOperator`) — the same perception either way; or a
    :class:`spasim.remote.VirtualRemote` (panel plan: the person presses its key).
    """

    def __init__(
        self,
        world: Any,
        *,
        fitted: Callable[[str], bool | None] | None = None,
        multimeter: MultimeterSpec | None = None,
        seed: int = 0,
        name: str = "virtual",
    ) -> None:
        self.world = world
        self.fitted = fitted
        self.multimeter = multimeter
        self._dice = random.Random(seed)
        self.name = name
        self.asked: list[str] = []

    def _unknown(self, prompt_id: str, text: str) -> OperatorError:
        return OperatorError(f"the virtual operator cannot handle prompt {prompt_id!r}: {text}")

    def confirm(self, prompt_id: str, question: str) -> bool:
        self.asked.append(prompt_id)
        world = self.world
        if prompt_id == "prcd-light":
            return bool(world.prcd_light)
        if prompt_id == "bubbles-visible":
            return bool(world.bubbles_visible)
        if prompt_id in ("pump-running", "blower-running", "jets-running"):
            load = {"pump-running": "filter", "blower-running": "blower"}.get(prompt_id, "jets")
            return bool(world.hears(load))
        if prompt_id == "transformer-secondary-present" and self.multimeter is not None:
            volts = self.number("mm-transformer-vac", question, "V")
            return transformer_present(volts)
        if prompt_id.startswith("fitted-") and self.fitted is not None:
            answer = self.fitted(prompt_id.removeprefix("fitted-"))
            if answer is not None:
                return answer
        raise self._unknown(prompt_id, question)

    def choose(self, prompt_id: str, question: str, choices: Sequence[str]) -> str:
        """The model plate: the person reads it off the unit."""
        self.asked.append(prompt_id)
        if prompt_id == "model-plate":
            name = str(self.world.model_plate())
            if name in choices:
                return name
        raise self._unknown(prompt_id, question)

    def number(self, prompt_id: str, question: str, unit: str) -> float:
        self.asked.append(prompt_id)
        point = MULTIMETER_POINTS.get(prompt_id)
        if point is None or self.multimeter is None:
            raise self._unknown(prompt_id, question)
        name, kind = point
        return self.multimeter.read(float(self.world.test_point_v(name)), kind, self._dice)

    def act(self, prompt_id: str, instruction: str) -> None:
        self.asked.append(prompt_id)
        world = self.world
        if prompt_id == "prcd-test":
            world.press_prcd_test()
        elif prompt_id == "prcd-reset":
            world.press_prcd_reset()
        elif prompt_id == "knob-inflate":
            world.set_knob("inflate")
        elif prompt_id == "knob-off":
            world.set_knob("off")
        elif prompt_id == "panel-connect":
            return
        elif prompt_id == "panel-key":
            world.press_bubbles()
        else:
            raise self._unknown(prompt_id, instruction)


class RehearsalOperator(VirtualOperator):
    """The virtual person at a box served by ``spasim serve --control`` (a rehearsal, CI).

    ``spabench run --port … --operator control://HOST:PORT``: every prompt is done or
    answered through the served unit's control channel — the PRCD buttons, the knob, what a
    person sees (the PRCD light, bubbles), hears (pump, blower) and reads (the model plate,
    a multimeter on a test point, with ``multimeter``'s own errors) — so a full plan runs
    unattended against a served box, with nothing taken from the simulator but what the
    channel shows a person. A channel that fails mid-run errors the step
    (:class:`OperatorError`), like an operator who walked away.
    """

    def __init__(
        self,
        address: str,
        *,
        multimeter: MultimeterSpec | None = None,
        seed: int = 0,
        name: str | None = None,
    ) -> None:
        try:
            client = ControlClient(address)
        except ControlError as error:
            raise OperatorError(str(error)) from None
        self.client = client
        bench = ControlWorkbench(client)
        super().__init__(
            bench,
            fitted=self._fitted,
            multimeter=multimeter,
            seed=seed,
            name=name or f"rehearsal {CONTROL_SCHEME}{client.address}",
        )
        self._bench = bench

    def _fitted(self, part: str) -> bool | None:
        return self._bench.fitted(part)

    def confirm(self, prompt_id: str, question: str) -> bool:
        try:
            return super().confirm(prompt_id, question)
        except ControlError as error:
            raise OperatorError(f"control channel: {error}") from None

    def choose(self, prompt_id: str, question: str, choices: Sequence[str]) -> str:
        try:
            return super().choose(prompt_id, question, choices)
        except ControlError as error:
            raise OperatorError(f"control channel: {error}") from None

    def number(self, prompt_id: str, question: str, unit: str) -> float:
        try:
            return super().number(prompt_id, question, unit)
        except ControlError as error:
            raise OperatorError(f"control channel: {error}") from None

    def act(self, prompt_id: str, instruction: str) -> None:
        try:
            super().act(prompt_id, instruction)
        except ControlError as error:
            raise OperatorError(f"control channel: {error}") from None

    def close(self) -> None:
        self.client.close()
