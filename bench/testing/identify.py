"""Which model variant is on the line: what the wire shows, and the model plate otherwise.

Some variants announce themselves (issue 12, model files): a box with the extra frames
``1A`` (LED flags, with every temperature report) and ``1B`` (set-point and bubbles, with
every flow report) — and ``12`` while its blower runs — is a Super-Camaro-like box; a box
that repeats ``07 0C`` while running (not only after its power-on ``09 00``) is a
Série-D-like box. Everything else looks alike on the wire: the UVC code and the jets are
commands the *remote* sends, and the box never answers them, so only a meter (or the plate)
tells them apart.

So the bench listens first (:func:`listen_window_s`: long enough for the slowest sign), then

* with a model given (``--profile``): refuses it when the wire contradicts its plate — a plate
  that drives the wrong UVC code or set-point encoding fails good boxes;
* without one: takes the model the wire names when exactly one shipped model fits, and
  otherwise asks the operator to read the model plate (prompt ``model-plate``, the fitting
  shipped models as choices; an answers file gives ``model-plate = "elite-6"``), instead of
  assuming the reference model. A box that says nothing at all (PRCD tripped, transformer
  or power board dead — exactly the boxes the bench must diagnose) cannot be told by its
  wire either: the operator is asked the same way, with every shipped model as a choice.
  Only when nobody can answer (no operator who can choose, or one who cannot answer) is the
  run refused, naming ``--profile``.

A ``07 0C`` counts as *repeated while running* only when the box has been heard running
before it in this listen (a 06 or 08 report, or an earlier 07 0C) and it is not the power-on
one right after a ``09 00``: listening may begin between a box's ``09 00`` and its power-on
``07 0C`` (0.2 s apart), and that ``07 0C`` is no repeat.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from bench.testing.instruments.operator import OperatorError
from protocols.driver import Driver
from protocols.mspa.decoder import FrameDecoder
from protocols.mspa.frames import Command, Frame
from protocols.mspa.models import ModelPlate
from protocols.ports import Port

EXTRA_FRAMES = (Command.BLOWER, Command.LED_FLAGS, Command.STATUS)
"""Box frames only some variants send."""
REPORTS = (Command.WATER_TEMP, Command.FLOW)
"""The reports a running box sends every period."""
BOOT_PAIR_S = 1.0
"""A 07 0C this soon after a 09 00 is the power-on pair (capture: 0.20 s apart), not a
repeat (bench choice)."""
LISTEN_MARGIN_REPORTS = 2
"""Report periods added to the slowest sign's period before "not seen" is believed."""


def listen_window_s(plates: Iterable[ModelPlate]) -> float:
    """How long the bench listens before judging the variant: the longest 07 0C repeat of
    the known plates (or one report period), plus two report periods — plus one more for
    the box's first frame to come, since what was heard is counted from that frame
    (:meth:`WireWatch.listened_s`): without it a listen that began between two reports
    could never rule a repeating model out."""
    plates = list(plates)
    period = max(plate.link_report_period_s for plate in plates)
    slowest = max([plate.boot_repeat_07_s for plate in plates] + [period])
    return slowest + (LISTEN_MARGIN_REPORTS + 1) * period


@dataclass
class WireWatch:
    """A frame listener (``(time, sender, frame)``) that keeps the variant's signs."""

    started: float | None = None
    last: float | None = None
    extra: set[int] = field(default_factory=set)
    boot_09_at: float | None = None
    repeats_07: int = 0
    box_frames: int = 0
    running_seen: bool = False
    """A report (06/08) or a 07 0C has been heard: a later 07 0C is no power-on one."""

    def __call__(self, time: float, sender: str, frame: Frame) -> None:
        if sender != "box":
            return
        if self.started is None:
            self.started = time
        self.last = time
        self.box_frames += 1
        command = frame.command
        if command in EXTRA_FRAMES:
            self.extra.add(command)
        elif command in REPORTS:
            self.running_seen = True
        elif command == Command.BOOT_09:
            self.boot_09_at = time
            self.running_seen = False  # a (re)boot: its 07 0C is the power-on one
        elif command == Command.BOOT_07 and frame.parameter == 0x0C:
            after_boot = self.boot_09_at is not None and time - self.boot_09_at <= BOOT_PAIR_S
            if self.running_seen and not after_boot:
                self.repeats_07 += 1
            self.running_seen = True

    def listened_s(self, now: float) -> float:
        return 0.0 if self.started is None else now - self.started


def contradictions(plate: ModelPlate, watch: WireWatch, listened_s: float) -> list[str]:
    """What the wire showed (over ``listened_s`` seconds of a talking box) that ``plate``
    says cannot be, in a technician's words; empty: the wire agrees (or cannot tell)."""
    problems: list[str] = []
    sends: dict[int, bool] = {
        Command.BLOWER: plate.box_blower_frame,
        Command.LED_FLAGS: plate.box_led_frame,
        Command.STATUS: plate.box_status_frame,
    }
    for code in sorted(watch.extra):
        if not sends[code]:
            problems.append(f"the box sends {code:02X} frames, which a {plate.name} box does not")
    period = plate.link_report_period_s
    if listened_s >= LISTEN_MARGIN_REPORTS * period and watch.box_frames:
        for code, sent in (
            (Command.LED_FLAGS, plate.box_led_frame),
            (Command.STATUS, plate.box_status_frame),
        ):
            if sent and code not in watch.extra:
                problems.append(
                    f"a {plate.name} box sends {code:02X} with every report; none in "
                    f"{listened_s:.0f} s"
                )
    if watch.repeats_07 and not plate.boot_repeat_07_s:
        problems.append(f"the box repeats 07 0C while running, which a {plate.name} box does not")
    if (
        plate.boot_repeat_07_s
        and not watch.repeats_07
        and listened_s >= plate.boot_repeat_07_s + LISTEN_MARGIN_REPORTS * period
    ):
        problems.append(
            f"a {plate.name} box repeats 07 0C every {plate.boot_repeat_07_s:g} s; none in "
            f"{listened_s:.0f} s"
        )
    return problems


def fitting(plates: Sequence[ModelPlate], watch: WireWatch, listened_s: float) -> list[str]:
    """The names of ``plates`` the wire does not contradict."""
    return [plate.name for plate in plates if not contradictions(plate, watch, listened_s)]


def variant_seen(watch: WireWatch) -> str:
    """What the wire showed, in words (for the record and the terminal)."""
    signs = []
    if watch.extra:
        signs.append("extra box frames " + " ".join(f"{code:02X}" for code in sorted(watch.extra)))
    if watch.repeats_07:
        signs.append("07 0C repeated while running")
    return ", ".join(signs) if signs else "no variant sign (as the reference premium-4)"


class ModelPlateError(ValueError):
    """The model given contradicts the wire, or no model could be had: nothing is run."""


@runtime_checkable
class Chooser(Protocol):
    """An operator who can pick one of several answers (the model plate)."""

    def choose(self, prompt_id: str, question: str, choices: Sequence[str]) -> str: ...


MODEL_PROMPT = "model-plate"
MODEL_QUESTION = "Read the model plate of the unit: which model is it?"


def listen(driver: Driver, port: Port, seconds: float) -> WireWatch:
    """Hear the box for ``seconds`` without saying anything (before the bench plays the
    remote): what it sends unasked shows its variant."""
    watch = WireWatch()
    decoder = FrameDecoder()

    def received(data: bytes) -> None:
        now = driver.now()
        for frame in decoder.feed(data, now):
            watch(now, "box", frame)

    previous = port.on_receive
    port.on_receive = received
    try:
        driver.sleep(seconds)
    finally:
        port.on_receive = previous
    return watch


def choose_model(
    watch: WireWatch,
    listened_s: float,
    *,
    given: ModelPlate | None,
    plates: Sequence[ModelPlate],
    operator: object,
) -> tuple[ModelPlate, str]:
    """The plate to test with and a line saying how it was chosen; :class:`ModelPlateError`
    when ``given`` contradicts the wire or nobody can say which model it is.

    A silent box is asked about like one whose wire fits several models — with every
    shipped model as a choice, since silence rules none out: the bench exists to diagnose
    such boxes, so refusing them a run for want of a ``--profile`` would turn away the very
    units it is for."""
    seen = variant_seen(watch)
    by_name = {plate.name: plate for plate in plates}
    if not watch.box_frames:
        if given is not None:
            return given, f"model {given.name} (as given; the box said nothing while listening)"
        silent = "the box said nothing while the bench listened"
        answer = _ask_plate(operator, list(by_name), silent)
        return by_name[answer], f"model {answer} (from the model plate; {silent})"
    if given is not None:
        problems = contradictions(given, watch, listened_s)
        if problems:
            fits = ", ".join(fitting(plates, watch, listened_s)) or "no shipped model"
            raise ModelPlateError(
                f"the wire contradicts --profile {given.name}: {'; '.join(problems)} "
                f"(the wire fits: {fits}); check the model plate"
            )
        return given, f"model {given.name} (as given; the wire agrees: {seen})"
    names = fitting(plates, watch, listened_s)
    if len(names) == 1:
        return by_name[names[0]], f"model {names[0]} (the wire shows it: {seen})"
    if not names:
        raise ModelPlateError(f"the wire fits no known model ({seen}): give --profile MODEL")
    answer = _ask_plate(operator, names, f"the wire cannot tell the model ({seen})")
    return by_name[answer], f"model {answer} (from the model plate; the wire fits {len(names)})"


def _ask_plate(operator: object, names: list[str], why: str) -> str:
    """The operator's reading of the model plate, one of ``names``; :class:`ModelPlateError`
    (naming ``--profile``) when nobody can answer: no operator who can choose, or one who
    cannot answer now (no terminal, no such answer in the answers file, a control channel
    that failed — their :class:`OperatorError` says which)."""
    if not isinstance(operator, Chooser):
        raise ModelPlateError(
            f"{why}; nobody here can read the model plate (fits {', '.join(names)}): "
            "give --profile MODEL from its model plate"
        )
    try:
        answer = operator.choose(MODEL_PROMPT, MODEL_QUESTION, names)
    except OperatorError as error:
        raise ModelPlateError(
            f"{why}, and the model plate could not be read ({error}): "
            "give --profile MODEL from its model plate"
        ) from None
    if answer not in names:
        raise ModelPlateError(f"model {answer!r} is not one of {', '.join(names)}")
    return answer
