"""Every limit the bench judges a unit by, and the judgments made with them, in one place.

A plan's steps and the console's troubleshooting checks ask the same questions of the same
readings — "does the pump draw as it should?", "is this a water temperature?", "is the box
still talking?". Both take their numbers from this table and their verdicts from the functions
below, so a plan and the console can never disagree about one reading. A step's parameters
default to these figures (a plan may still write its own, and ``Plan.check_instruments`` still
refuses a written watt limit the declared meter cannot resolve); what a bench's instruments
can resolve comes from their data-sheet specs (:mod:`bench.testing.instruments.specs`:
``meter_judges``, ``meter_tells``, ``meter_sees``), never from a number copied here.

Each figure says where it comes from: a section of the product specification ("SPEC §n"; its
facts are marked [verified] or [model] there), the packaged profiles, or a bench choice (a
margin of ours, said so).

No per-model overrides: every packaged profile's figures lie inside these defaults (a test
checks it), and the auto-off window spans the 10- and 20-minute remotes (SPEC §2), so no step
needs a model's own numbers. A per-model entry belongs here the day one does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from bench.testing.instruments.specs import Instruments
from bench.testing.record import Limits, MeasurementOutcome

if TYPE_CHECKING:
    from protocols.mspa.values import FlowSwitches

# -- the loads ------------------------------------------------------------------------------

LOADS: tuple[str, ...] = ("filter", "heater", "blower", "ozone", "uvc")
"""The loads the bench switches and measures, in the order the console shows them (the filter
first: the heater and the sanitisers need it); ``blower`` is switched through bubble levels."""
JETS = "jets"
"""The jet pump (Elite: ``jets_fitted`` on the plate), switched by 0x0D 0/1 — a load a step may
switch (:data:`STEP_LOADS`) on a model that has one; the console shows it, with its key, only
there."""
STEP_LOADS: tuple[str, ...] = (*LOADS, JETS)
"""The loads a ``load-power`` step may switch."""
F1_OFF_LOADS: tuple[str, ...] = ("heater", "ozone", "uvc")
"""The loads a latched F1 switches off (issue 12): the pump command stays, the blower and
the jets are not affected."""


@dataclass(frozen=True)
class DrawBand:
    """What one load adds to the supply when switched on, in watts."""

    low: float
    high: float
    source: str
    marginal: float | None = None
    """Band inside the limits flagged as marginal; None: none by default (a plan may set one)."""

    @property
    def running_w(self) -> float:
        """A change above this means "the load runs at all": half its least on-draw, so a
        meter that resolves it tells a weak load from a dead one (bench choice)."""
        return self.low / 2

    @property
    def tells_running(self) -> tuple[float, float]:
        """``(threshold, least draw of a running load)`` for ``Instruments.meter_tells``."""
        return (self.running_w, self.low)


ON_DRAW: dict[str, DrawBand] = {
    "filter": DrawBand(30.0, 120.0, "SPEC §2: 60 W pump [model], ×½ to ×2"),
    "heater": DrawBand(
        1000.0,
        2600.0,
        "SPEC §2/§3: 1500 W stage 1 (the first 10 s, what a reading SETTLE_S after the "
        "switch sees), 2000 W stage 2 [model]; either with a margin",
    ),
    "ozone": DrawBand(5.0, 20.0, "SPEC §2: 10 W [model], ×½ to ×2"),
    "uvc": DrawBand(8.0, 25.0, "SPEC §2: 15 W [model]"),
    "jets": DrawBand(375.0, 1125.0, "elite-6 model file: 750 W jet pump [model], ×½ to ×1.5"),
    "blower-1": DrawBand(300.0, 800.0, "profiles: 450–600 W at level 1 [model]"),
    "blower-2": DrawBand(450.0, 950.0, "profiles: 650–750 W at level 2 [model]"),
    "blower-3": DrawBand(650.0, 1150.0, "SPEC §2: 900 W at level 3"),
}
"""The draw change (W) of a load switched on, by :func:`draw_key`; every packaged profile's
figure falls inside its band."""
OFF_HIGH_W = 30.0
"""The most a load that must stay off (the heater without flow) may add, W: below any running
heater or blower and at the least a running pump draws (bench choice)."""
STANDBY_W = 2.0
"""What a healthy box draws with everything off (SPEC §2 [model]): a meter that cannot see
this cannot tell a dead transformer from a dead power board."""
IDLE_HIGH_W = 15.0
"""The most a box with every load off may draw, W (standby, and after the fail-safe): room
for the 2 W standby and a meter's offset, no more than half the least running pump (bench
choice)."""
NOTHING_DRAWN_MIN_W = 0.5
"""Even a perfect meter calls up to this "nothing drawn" (bench choice)."""
MAINS_PRESENT_V = 100.0
"""Supply volts above which there is mains (230 V nominal; no 100 V mains powers this box)."""
TRANSFORMER_PRESENT_V = 6.0
"""AC volts above which a technician calls the ≈ 12 V secondary present (SPEC §2: a 12 V
pump; half of it, bench choice)."""

# -- water ----------------------------------------------------------------------------------

PLAUSIBLE_WATER_C = (1.0, 50.0)
"""A tank temperature, °C (SPEC §5): an open sensor reads 0.0, a shorted one 127.5; the
heater stops at 42 °C (SPEC §3) and ambient is 5–35 °C, so water outside 1–50 °C is a sensor's
fault, not the tank's."""
HEATER_RISE_C = 1.0
"""°C the report must rise with the heater on: two of its 0.5 °C steps (SPEC §4), more than
sensor noise (±0.3 °C, SPEC §5) can fake."""
HEATER_RISE_TIMEOUT_S = 300.0
"""Seconds allowed for that rise (bench choice, the test tank)."""
UNHEATED_RISE_C = 1.5
"""°C the water may rise with every load off, watched without a meter: more is a live heater
(three 0.5 °C report steps, SPEC §4; bench choice)."""
WATER_WATCH_S = 180.0
"""Seconds the water is watched for a live heater without a meter (bench choice)."""

# -- time -----------------------------------------------------------------------------------

ALIVE_WITHIN_S = 2.5
"""The box is talking if a frame came within this many seconds: it reports every 1.0132 s
(SPEC §3), so longer means two reports missed — it stopped."""
STOPPED_QUIET_S = 1.5
"""After PRCD TEST the unit has stopped once silent this long: longer than the 0.81 s gap
between its reports (SPEC §3), short enough to judge while the technician watches."""
PRCD_STOP_WITHIN_S = 3.0
"""Seconds PRCD TEST may take to stop the unit (SPEC §2: the unit must stop; bench choice)."""
PRCD_RESTART_S = 20.0
"""Seconds for the handshake after PRCD RESET: the box talks 5.9 s after mains on (SPEC §3)."""
FRAMES_WAIT_S = 10.0
"""Seconds the console waits for a first frame before "no frames from the box": ten
reports' worth (SPEC §3: one a second; bench choice)."""
HANDSHAKE_TIMEOUT_S = 15.0
"""Seconds to wait for the handshake (after power-on or a PRCD reset; SPEC §3: 5.9 s)."""
SETTLE_S = 3.0
"""Seconds after a switch before the meter is read: loads have started, and the heater is
still in its 10 s stage 1 (SPEC §3 [model])."""
PUMP_SETTLE_S = 5.0
"""Seconds a step waits for flow after starting the pump for another load."""
FLOW_TIMEOUT_S = 6.0
"""Seconds for the flow report to follow the pump: reports come every 1.0132 s (SPEC §3)."""
FLOW_REPORT_LAG_S = 0.5
"""A flow report this soon after a switch may predate it (bench choice)."""
REPORT_WAIT_S = 3.0
"""Seconds to wait for a fresh temperature report (one is due every 1.0132 s, SPEC §3)."""
REPORT_PERIOD_S = 1.0132
"""The box's report period as captured (SPEC §3): one 0x06 and one 0x08 per period."""
REPORTS_PER_S = (0.6, 1.4)
"""0x06 (and 0x08) reports per second a healthy box sends (SPEC §3: ≈ 1/s; bench margin)."""
KEEP_ALIVE_ANSWER_S = 1.0
"""Seconds for the box to answer a frame (SPEC §3: keep-alive answered at once)."""
AUTO_OFF_S = (540.0, 1260.0)
"""When the bubbles must stop by themselves, s: 10 min, or 20 min on some newer remotes
(SPEC §2), ±1 min."""
AUTO_OFF_PERSON_MARGIN_S = 30.0
"""Without a meter a person checks the bubbles this long before the earliest and after the
latest allowed auto-off (a person's glance is no stopwatch; bench choice)."""
AUTO_OFF_TIMEOUT_MARGIN_S = 60.0
"""With a meter the blower is watched this long past the latest allowed auto-off before the
wait ends as "never stopped" (bench choice)."""
FAIL_SAFE_SILENCE_S = 35.0
"""Seconds the bench stays silent to see the fail-safe: the box gives up after 30 s (SPEC §3
[model])."""

F1_MARGIN_S = 2.0
"""Seconds past a model's ``errors_f1_after_s`` (plus one report period) the bench waits
before it expects the F1 latch to have switched the heater, ozone and UVC off (bench
choice: two reports' worth of slack)."""
F1_RESET_LATE_REPORTS = 1
"""Report periods past the box's ``errors_f1_reset_report_s`` of 08 03 after a 0B 00 in
which a flow report may still be one of them (bench choice: one report of slack). The window
is counted in the box's own report periods, not in seconds: on a box served faster than
real time a margin in seconds shrinks to a few wall milliseconds, and the one late 08 03 of
a keep-alive's reset would be trusted — passing a box without flow."""


class ResetTimings(Protocol):
    """The model-plate facts the F1 reset window follows."""

    @property
    def errors_f1_reset_report_s(self) -> float: ...
    @property
    def link_report_period_s(self) -> float: ...


def f1_reset_window_s(plate: ResetTimings) -> float:
    """How long after a 0B 00 a flow report is not trusted: the box's
    ``errors_f1_reset_report_s`` of 08 03 plus :data:`F1_RESET_LATE_REPORTS` report periods."""
    return plate.errors_f1_reset_report_s + F1_RESET_LATE_REPORTS * plate.link_report_period_s


# -- the line -------------------------------------------------------------------------------

NOISY_LINE_PERCENT = 1.0
"""SPEC §5: a line is noisy above 1 % spoiled (bad sums, or discarded bytes)."""
LOST_REPORT_PERCENT = 5.0
"""Most of the expected reports that may go missing in a window (bench choice)."""
LINK_MIN_FRAMES = 100
"""Fewest frames a line is judged on: at 1 %, fewer cannot tell clean from noisy."""

# -- a panel under test (the bench plays the box) -------------------------------------------

PANEL_HANDSHAKE_S = 12.0
"""Seconds for a panel's power-on handshake (SPEC §3: 5.9 s after mains on, bench margin)."""
PANEL_CYCLE_S = 9.0
"""Seconds to hear every state frame: the remote's cycle is 7.52 s (SPEC §3)."""
PANEL_KEY_S = 5.0
"""Seconds for a key press's burst ending in 16 00 (bench choice)."""


# -- judgments ------------------------------------------------------------------------------


POWER_READS = 3
"""Meter readings averaged into one power figure (its noise averages out; bench choice)."""
POWER_READ_SPACING_S = 0.3
"""Seconds between those readings: an SDM120 updates about three times a second (bench
choice)."""


def draw_key(load: str, level: int = 1) -> str:
    """The :data:`ON_DRAW` entry of a load (the blower has one per bubble level)."""
    return f"blower-{level}" if load == "blower" else load


def draw_band(
    load: str,
    *,
    level: int = 1,
    expect: str = "on",
    low: float | None = None,
    high: float | None = None,
    marginal: float | None = None,
) -> Limits:
    """The limits a load's draw change is judged against: what a plan wrote, else the table's
    (``expect="off"``: at most :data:`OFF_HIGH_W`)."""
    if expect == "off":
        table_low, table_high = None, OFF_HIGH_W
    else:
        band = ON_DRAW[draw_key(load, level)]
        table_low, table_high = band.low, band.high
        marginal = band.marginal if marginal is None else marginal
    return Limits(
        low=table_low if low is None else low,
        high=table_high if high is None else high,
        marginal=marginal,
    )


def meter_judges_draw(band: Limits, instruments: Instruments) -> bool:
    """Does this bench's meter resolve a draw change against ``band``? If not, the step asks
    a person (or is skipped) and the console says it cannot tell."""
    return instruments.meter_judges(band.low, band.high, change=True)


def draw_change_w(before_w: float, after_w: float) -> float:
    """The draw change as recorded: after − before, to 0.1 W (never ``-0.0``)."""
    return round(after_w - before_w, 1) + 0.0


def judge_draw(
    band: Limits, instruments: Instruments, change_w: float
) -> MeasurementOutcome | None:
    """``pass`` / ``marginal`` / ``fail`` of a draw change against ``band``, or None: this
    bench's meter cannot resolve the band, so nobody may judge it by the meter."""
    if not meter_judges_draw(band, instruments):
        return None
    return band.judge(change_w)


def meter_tells_running(load: str, instruments: Instruments) -> bool:
    """Can this bench's meter tell whether ``load`` runs at all (any level of the blower)?"""
    return instruments.meter_tells(*ON_DRAW[draw_key(load)].tells_running)


def load_runs(load: str, change_w: float) -> bool:
    """Does a draw change of ``change_w`` mean ``load`` runs (any level of the blower)? Ask
    only when :func:`meter_tells_running` says the meter can tell."""
    return change_w > ON_DRAW[draw_key(load)].running_w


def heater_live_w(watts: float) -> bool:
    """Does a draw of ``watts`` with the heater switched off mean a live (welded) heater?"""
    return watts >= ON_DRAW["heater"].running_w


def nothing_drawn_w(instruments: Instruments) -> float:
    """The most the declared meter may show when the unit draws nothing it can see."""
    spec = instruments.meter
    return max(NOTHING_DRAWN_MIN_W, spec.zero_band_w() if spec is not None else 0.0)


def meter_sees_standby(instruments: Instruments) -> bool:
    """Can this bench's meter see a healthy box's standby draw (SPEC §5: transformer vs
    power board)? An SDM120 reads 0 below 4.6 W: it cannot."""
    return instruments.meter_sees(STANDBY_W)


def board_supplied(watts: float, instruments: Instruments) -> bool:
    """Does a silent unit drawing ``watts`` have its power board supplied? Ask only when
    :func:`meter_sees_standby`."""
    return watts > nothing_drawn_w(instruments)


def unit_stopped(silent: bool, watts: float | None, instruments: Instruments) -> bool:
    """Has the unit stopped (PRCD TEST)? Silent for :data:`STOPPED_QUIET_S`, and — with a
    meter reading ``watts`` — drawing nothing the meter can see."""
    return silent and (watts is None or watts <= nothing_drawn_w(instruments))


def water_band(low: float | None = None, high: float | None = None) -> Limits:
    """The limits a reported water temperature is judged against (a plan may write its own)."""
    table_low, table_high = PLAUSIBLE_WATER_C
    return Limits(low=table_low if low is None else low, high=table_high if high is None else high)


def water_plausible(water_c: float, band: Limits | None = None) -> bool:
    """Is ``water_c`` a tank temperature (not a stuck or broken sensor)?"""
    return (band or water_band()).judge(water_c) in ("pass", "marginal")


def mains_present(volts: float) -> bool:
    return volts > MAINS_PRESENT_V


def transformer_present(volts_ac: float) -> bool:
    """Does a multimeter reading of the transformer's secondary mean it supplies the board?"""
    return volts_ac > TRANSFORMER_PRESENT_V


class FlowReports(Protocol):
    """What :func:`flow_settled` reads: the last flow report and when it came (a
    :class:`~bench.testing.instruments.link.RemoteLink` is one)."""

    @property
    def flow(self) -> FlowSwitches | None: ...

    @property
    def flow_at(self) -> float | None: ...


def flow_complete(flow: FlowSwitches | None) -> bool:
    """Does a flow report say water flows — both switches closed (08 03)? A healthy box
    closes the inlet and the outlet switch together when the pump runs, and the heater
    needs both (issue 12); one open switch is a fault of that switch, not flow."""
    return flow is not None and flow.inlet and flow.outlet


def flow_none(flow: FlowSwitches | None) -> bool:
    """Does a flow report say no water flows — both switches open (08 00)?"""
    return flow is not None and not flow.inlet and not flow.outlet


def flow_settled(link: FlowReports, switched_at: float, flowing: bool) -> bool:
    """Has a flow report made after a pump switch at ``switched_at`` said ``flowing`` (both
    switches closed) or, for ``flowing=False``, both open? A report with one switch open
    settles neither: the step then judges it."""
    at = link.flow_at
    if at is None or at <= switched_at + FLOW_REPORT_LAG_S:
        return False
    return flow_complete(link.flow) if flowing else flow_none(link.flow)
