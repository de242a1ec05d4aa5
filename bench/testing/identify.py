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
  assuming the reference model.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from protocols.mspa.frames import Command, Frame
from protocols.mspa.models import ModelPlate

BLOWER_FRAME = 0x12
LED_FRAME = 0x1A
STATUS_FRAME = 0x1B
EXTRA_FRAMES = (BLOWER_FRAME, LED_FRAME, STATUS_FRAME)
"""Box frames only some variants send."""
BOOT_PAIR_S = 1.0
"""A 07 0C this soon after a 09 00 is the power-on pair (capture: 0.20 s apart), not a
repeat (bench choice)."""
LISTEN_MARGIN_REPORTS = 2
"""Report periods added to the slowest sign's period before "not seen" is believed."""


def listen_window_s(plates: Iterable[ModelPlate]) -> float:
    """How long the bench listens before judging the variant: the longest 07 0C repeat of
    the known plates (or one report period), plus two report periods."""
    plates = list(plates)
    period = max(plate.link_report_period_s for plate in plates)
    slowest = max([plate.boot_repeat_07_s for plate in plates] + [period])
    return slowest + LISTEN_MARGIN_REPORTS * period


@dataclass
class WireWatch:
    """A frame listener (``(time, sender, frame)``) that keeps the variant's signs."""

    started: float | None = None
    last: float | None = None
    extra: set[int] = field(default_factory=set)
    boot_09_at: float | None = None
    repeats_07: int = 0
    box_frames: int = 0

    def __call__(self, time: float, sender: str, frame: Frame) -> None:
        if sender != "box":
            return
        if self.started is None:
            self.started = time
        self.last = time
        self.box_frames += 1
        if frame.command in EXTRA_FRAMES:
            self.extra.add(frame.command)
        elif frame.command == Command.BOOT_09:
            self.boot_09_at = time
        elif (
            frame.command == Command.BOOT_07
            and frame.parameter == 0x0C
            and (self.boot_09_at is None or time - self.boot_09_at > BOOT_PAIR_S)
        ):
            self.repeats_07 += 1

    def listened_s(self, now: float) -> float:
        return 0.0 if self.started is None else now - self.started


def contradictions(plate: ModelPlate, watch: WireWatch, listened_s: float) -> list[str]:
    """What the wire showed (over ``listened_s`` seconds of a talking box) that ``plate``
    says cannot be, in a technician's words; empty: the wire agrees (or cannot tell)."""
    problems: list[str] = []
    sends = {
        BLOWER_FRAME: plate.box_blower_frame,
        LED_FRAME: plate.box_led_frame,
        STATUS_FRAME: plate.box_status_frame,
    }
    for code in sorted(watch.extra):
        if not sends[code]:
            problems.append(f"the box sends {code:02X} frames, which a {plate.name} box does not")
    period = plate.link_report_period_s
    if listened_s >= LISTEN_MARGIN_REPORTS * period and watch.box_frames:
        for code, sent in (
            (LED_FRAME, plate.box_led_frame),
            (STATUS_FRAME, plate.box_status_frame),
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
