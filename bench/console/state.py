"""What the console shows, as immutable values handed from the driver thread to the UI.

The driver thread owns the unit, the link, the meter and the runner; the UI thread owns the
widgets. Neither may touch the other's objects, so the driver thread builds a
:class:`Snapshot` — plain frozen values, nothing live — and the UI renders only that. One
snapshot says everything the screen needs at one simulated instant, so a screen never mixes
two moments (a temperature from before a PRCD trip next to a link state from after it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from protocols.mspa import Direction, FlowSwitches, Frame, RemoteState, describe
from protocols.mspa.models import ModelPlate
from protocols.sdm120 import MeterReading

LinkState = Literal["connected", "handshaking", "silent", "lost"]
PromptKind = Literal["confirm", "act", "number"]


@dataclass(frozen=True)
class FrameEntry:
    """One frame on the wire: seconds since the console started, who sent it, the frame."""

    t: float
    sender: str
    frame: Frame
    plate: ModelPlate | None = field(default=None, compare=False, repr=False)
    """The model the frame was heard on, when known: it settles the model-dependent codes
    (0D jets or a plain cycle entry, UVC on 15/10/19, 04 in °C or °C × 2) in :meth:`line`."""

    @property
    def direction(self) -> Direction:
        return Direction.from_sender(self.sender)

    @property
    def command(self) -> int:
        return int(self.frame.command)

    def line(self) -> str:
        """``  12.345  box→remote A5 06 2F DA  water 23.5 °C`` (the sniffer's format)."""
        return f"{self.t:9.3f}  {describe(self.frame, self.direction, self.plate)}"


@dataclass(frozen=True)
class LinkStatus:
    state: LinkState
    silent_for: float | None = None
    """Seconds since the unit was last heard (state ``silent``)."""
    detail: str = ""
    """Why the link was lost."""

    @property
    def text(self) -> str:
        if self.state == "silent":
            return f"silent for {self.silent_for or 0.0:.0f} s"
        return self.state


@dataclass(frozen=True)
class LoadView:
    """One load: what the bench last commanded, what the meter saw when it was switched on."""

    name: str
    label: str
    commanded: str
    on: bool
    delta_w: float | None = None
    """Change of the supply's power measured when the console last switched it on."""
    timer: str = ""
    """Auto-off countdown (``off 9:41``), ``timed out`` once the box's auto-off has run out."""
    note: str = ""


@dataclass(frozen=True)
class WorldView:
    """The virtual unit as a person at the bench sees it (``--virtual`` only)."""

    knob: str
    prcd: str
    faults: tuple[str, ...]


@dataclass(frozen=True)
class ValueView:
    """One measurement of a finished step as the plan view shows it: what, the value against
    its limits (``1,495 W (1,000–2,200)``) and the judgement (pass, marginal, fail, unset)."""

    label: str
    reading: str
    outcome: str


@dataclass(frozen=True)
class StepView:
    name: str
    title: str
    outcome: str = "pending"
    message: str = ""
    values: tuple[ValueView, ...] = ()


@dataclass(frozen=True)
class RunView:
    """A plan run as far as it has got."""

    plan: str
    title: str
    steps: tuple[StepView, ...]
    current: int | None = None
    progress: tuple[str, float, float] | None = None
    """``(label, done, total)`` of the current wait."""
    verdict: str | None = None
    summary: str = ""
    filed: str = ""
    """Where the run was filed (``run 12``) or why it was not."""
    aborted: bool = False
    stopped: str = ""
    """Why the plan stopped before its end (a safety step failed or was cancelled)."""
    simulated: bool = False
    """The unit is a simulation: the run is evidence about no customer's box."""

    @property
    def finished(self) -> bool:
        return self.verdict is not None or self.aborted

    @property
    def done_count(self) -> int:
        return sum(1 for step in self.steps if step.outcome not in ("pending", "running"))


@dataclass(frozen=True)
class PromptView:
    """A question for the technician that a step (in the driver thread) is waiting on."""

    seq: int
    kind: PromptKind
    prompt_id: str
    text: str
    unit: str = ""
    hint: str = ""
    """What the virtual unit shows (``--virtual``): a person there would see it."""


@dataclass(frozen=True)
class Sample:
    t: float
    water_c: float | None
    power_w: float | None


@dataclass(frozen=True)
class Snapshot:
    """Everything the console shows, at simulated time ``t`` (seconds since it started)."""

    t: float = 0.0
    link: LinkStatus = field(default_factory=lambda: LinkStatus("silent", 0.0))
    serial: str = ""
    profile: str = ""
    where: str = ""
    meter_name: str | None = None
    simulated: bool = False
    """The unit on the bench is a simulation (``--virtual``): marked wherever runs show."""
    order_id: int | None = None
    """The service order the console files its runs on (``--order``)."""
    place: str = ""
    """Where the unit sits: ``bench-2 · channel B`` on a station, empty otherwise."""
    bad_frames: int = 0
    frames: int = 0
    water_c: float | None = None
    panel_code: str | None = None
    """What the panel would show in place of the water temperature: "F1" (flow error),
    "A0" (clean the filter) or None (:attr:`protocols.mspa.remote.RemoteDuty.panel_code`)."""
    flow: FlowSwitches | None = None
    state: RemoteState = field(default_factory=RemoteState)
    loads: tuple[LoadView, ...] = ()
    meter: MeterReading | None = None
    meter_error: str | None = None
    history: tuple[Sample, ...] = ()
    window: float = 600.0
    """Seconds of history the charts cover."""
    world: WorldView | None = None
    busy: str | None = None
    """What job the driver thread is running (``plan smoke``, ``check flow``)."""
    run: RunView | None = None
    prompt: PromptView | None = None
    error: str | None = None
    """An internal error that stopped the driver thread."""
    notice: str | None = None
    """The last problem a command ran into (an instrument error, a refused value)."""
