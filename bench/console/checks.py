"""Checks the console runs by itself during guided troubleshooting (link and meter only).

The service manual's trees ask a technician things the bench can answer faster and more
reliably: "are frames arriving?", "does flow appear with the filter on?", "does the heater
draw power?". Each check here answers one such question from what the bench can observe —
the remote link (what a panel hears) and the meter (what the supply delivers) — never from a
virtual unit's state, so it means the same on a real box. A check that cannot tell (no meter,
a meter too coarse for the question, the box not talking) answers ``None`` and the tree asks
the technician instead.

A check is the judgment of the plan step that measures the same thing — the same band from
:mod:`bench.testing.limits`, the same function deciding — so the console and a plan never
disagree about one reading: "does the filter pump draw?" is the ``load-power`` step's band for
a running pump, not a looser threshold of the console's own, and the answer says which band.

Checks run in the driver thread and wait through the driver. Loads a check switches on are
switched back to what they were before it returns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from bench.testing.instruments.link import RemoteLink
from bench.testing.instruments.meter import InstrumentError, Meter
from bench.testing.instruments.specs import DEFAULT_INSTRUMENTS, Instruments
from bench.testing.limits import (
    FLOW_TIMEOUT_S,
    FRAMES_WAIT_S,
    HANDSHAKE_TIMEOUT_S,
    POWER_READ_SPACING_S,
    POWER_READS,
    PRCD_STOP_WITHIN_S,
    REPORT_WAIT_S,
    SETTLE_S,
    STOPPED_QUIET_S,
    board_supplied,
    draw_band,
    draw_change_w,
    flow_settled,
    judge_draw,
    mains_present,
    meter_judges_draw,
    meter_sees_standby,
    unit_stopped,
    water_band,
    water_plausible,
)
from bench.testing.record import Limits
from bench.testing.steps.base import mean_power_w
from protocols.driver import Driver

"""Seconds to wait for a frame before saying the box is silent (it reports about once a second)."""


@dataclass(frozen=True)
class CheckResult:
    answer: bool | None
    """Yes / no to the check's question; None: the bench cannot tell, ask the technician."""
    detail: str


class Bench:
    """What a check may use: the link, the meter (or None) and the driver to wait on."""

    def __init__(
        self,
        link: RemoteLink,
        meter: Meter | None,
        driver: Driver,
        instruments: Instruments = DEFAULT_INSTRUMENTS,
    ) -> None:
        self.link = link
        self.meter = meter
        self.driver = driver
        self.instruments = instruments

    def now(self) -> float:
        return self.driver.now()

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        return self.driver.wait_until(predicate, timeout)

    @property
    def judging(self) -> Instruments:
        """The instruments a judgment may count on: none of the meter's without a meter."""
        return self.instruments if self.meter is not None else self.instruments.with_meter(None)

    def alive(self) -> bool:
        return self.link.alive()

    def power(
        self, reads: int = POWER_READS, spacing: float = POWER_READ_SPACING_S
    ) -> float | None:
        """Mean of a few meter readings (noise averages out); None without a usable meter."""
        if self.meter is None:
            return None
        try:
            return mean_power_w(self.meter, self.driver, self.judging, reads, spacing)
        except InstrumentError:
            return None

    def voltage(self) -> float | None:
        if self.meter is None:
            return None
        try:
            return float(self.meter.read().voltage_v)
        except InstrumentError:
            return None

    @contextmanager
    def switched(self, **loads: bool | int) -> Iterator[None]:
        """Loads changed for the duration of a check, then put back as they were."""
        before = self.link.state
        self.link.set_loads(**loads)
        try:
            yield
        finally:
            self.link.set_loads(**before._asdict())

    def delta(
        self, on: dict[str, bool | int], *, also_off: tuple[str, ...] = ()
    ) -> tuple[float, float] | None:
        """(before, after) supply power around switching the loads ``on`` from off; None
        without a meter. They (and ``also_off``, e.g. the heater, which follows the pump)
        are switched off first, so a load already on still shows its draw."""
        off = {name: 0 if name == "bubbles" else False for name in (*on, *also_off)}
        with self.switched(**off):
            self.driver.sleep(1.0)
            before = self.power()
            if before is None:
                return None
            with self.switched(**on):
                self.driver.sleep(SETTLE_S)
                after = self.power()
        return None if after is None else (before, after)


NOT_TALKING = CheckResult(None, "the box is not talking: the bench cannot switch its loads")
NO_METER = CheckResult(None, "no meter reading: the bench cannot see the supply")


def frames_arriving(bench: Bench) -> CheckResult:
    if bench.wait_for(bench.alive, FRAMES_WAIT_S):
        last = bench.link.last_frame_at or bench.now()
        return CheckResult(True, f"the box is talking (last frame {bench.now() - last:.1f} s ago)")
    return CheckResult(False, f"no frame from the box for {FRAMES_WAIT_S:g} s")


def frames_stop(bench: Bench) -> CheckResult:
    """The ``prcd-test`` step's judgment of "TEST stopped the unit"."""
    link = bench.link
    silent = bench.wait_for(
        lambda: not link.alive(STOPPED_QUIET_S), PRCD_STOP_WITHIN_S + STOPPED_QUIET_S
    )
    watts = bench.power(reads=1) if silent else None
    if silent and watts is None and bench.meter is not None:
        return NO_METER  # the step errs here: a meter fitted but unread is not "nothing drawn"
    if unit_stopped(silent, watts, bench.judging):
        drawn = "" if watts is None else f", the meter sees {watts:.1f} W"
        return CheckResult(
            True, f"the unit stopped: nothing heard for {STOPPED_QUIET_S:g} s{drawn}"
        )
    if silent:
        return CheckResult(False, f"the unit is silent but still draws {watts:.1f} W")
    return CheckResult(False, "frames keep coming: the unit did not stop")


def handshake(bench: Bench) -> CheckResult:
    if bench.wait_for(lambda: bench.link.handshake_done, HANDSHAKE_TIMEOUT_S):
        return CheckResult(True, "the box answered the remote's handshake")
    return CheckResult(False, f"no handshake within {HANDSHAKE_TIMEOUT_S:g} s")


def mains_voltage(bench: Bench) -> CheckResult:
    volts = bench.voltage()
    if volts is None:
        return NO_METER
    if mains_present(volts):
        return CheckResult(True, f"the meter sees {volts:.0f} V")
    return CheckResult(False, f"the meter sees {volts:.0f} V: no mains")


def standby_draw(bench: Bench) -> CheckResult:
    """The ``link-up`` step's judgment of "the silent unit's power board is supplied"."""
    spec = bench.judging.meter
    if spec is None:
        return NO_METER
    if not meter_sees_standby(bench.judging):
        # An SDM120 reads 0 below 4.6 W: "0 W" would blame a good transformer.
        return CheckResult(
            None,
            f"the {spec.name} meter cannot see a standby draw (it reads 0 below "
            f"{spec.floor_w():.1f} W): check with a multimeter",
        )
    watts = bench.power()
    if watts is None:
        return NO_METER
    if board_supplied(watts, bench.judging):
        return CheckResult(True, f"the unit draws {watts:.1f} W")
    return CheckResult(False, f"the unit draws {watts:.1f} W: nothing powers up")


def temperature_plausible(bench: Bench) -> CheckResult:
    """The ``temperature-plausible`` step's judgment, on one fresh report."""
    start = bench.now()
    link = bench.link
    bench.wait_for(lambda: link.water_at is not None and link.water_at >= start, REPORT_WAIT_S)
    water = link.water_c
    if water is None:
        return CheckResult(None, "no temperature report heard")
    band = water_band().text("°C")
    if water_plausible(water):
        return CheckResult(True, f"the box reports {water:.1f} °C (plausible: {band})")
    return CheckResult(False, f"the box reports {water:.1f} °C: not a water temperature ({band})")


def flow_with_filter(bench: Bench) -> CheckResult:
    """The ``flow`` step's judgment with the pump on."""
    if not bench.alive():
        return NOT_TALKING
    link = bench.link
    with bench.switched(filter=True):
        start = bench.now()
        flowing = bench.wait_for(lambda: flow_settled(link, start, True), FLOW_TIMEOUT_S)
    if flowing:
        return CheckResult(True, "filter on: the flow switch closed")
    return CheckResult(False, f"filter on for {FLOW_TIMEOUT_S:g} s: the flow switch stayed open")


DRAWN_BY = {
    "filter": "a running filter pump",
    "heater": "a heating element",
    "blower": "a blower at level 1",
}


def _cannot_judge_draw(bench: Bench, band: Limits, load: str) -> CheckResult | None:
    """Why the bench cannot judge ``load``'s draw, found before anything is switched."""
    if not bench.alive():
        return NOT_TALKING
    spec = bench.judging.meter
    if spec is None:
        return NO_METER
    if not meter_judges_draw(band, bench.judging):
        return CheckResult(
            None,
            f"the {spec.name} meter cannot resolve the {band.text('W')} band of "
            f"{DRAWN_BY[load]}: ask the technician",
        )
    return None


def judged_draw(
    bench: Bench, band: Limits, load: str, what: str, powers: tuple[float, float] | None
) -> CheckResult:
    """The ``load-power`` step's judgment of a draw change (:func:`judge_draw` against the
    band a plan's step uses by default): pass or marginal is yes, fail is no, a band this
    bench's meter cannot resolve leaves the question to the technician."""
    if powers is None:
        return NO_METER
    change = draw_change_w(*powers)
    outcome = judge_draw(band, bench.judging, change)
    against = f"the {band.text('W')} band of {DRAWN_BY[load]}"
    if outcome is None:  # pragma: no cover - refused before switching
        return CheckResult(None, f"the meter cannot resolve {against}")
    if outcome == "fail":
        side = "below" if band.low is not None and change < band.low else "above"
        return CheckResult(False, f"{what}: {change:+.1f} W, {side} {against}")
    marginal = " (marginal)" if outcome == "marginal" else ""
    return CheckResult(True, f"{what}: {change:+.1f} W, inside {against}{marginal}")


def filter_draw(bench: Bench) -> CheckResult:
    band = draw_band("filter")
    refused = _cannot_judge_draw(bench, band, "filter")
    if refused is not None:
        return refused
    powers = bench.delta({"filter": True}, also_off=("heater",))
    return judged_draw(bench, band, "filter", "filter on", powers)


def heater_draw(bench: Bench) -> CheckResult:
    band = draw_band("heater")
    refused = _cannot_judge_draw(bench, band, "heater")
    if refused is not None:
        return refused
    link = bench.link
    with bench.switched(filter=True):
        if not bench.wait_for(lambda: link.flow is not None and link.flow.flowing, FLOW_TIMEOUT_S):
            return CheckResult(None, "no flow with the filter on: the heater is locked out")
        powers = bench.delta({"heater": True})
    return judged_draw(bench, band, "heater", "heater on with flow", powers)


def blower_draw(bench: Bench) -> CheckResult:
    band = draw_band("blower", level=1)
    refused = _cannot_judge_draw(bench, band, "blower")
    if refused is not None:
        return refused
    powers = bench.delta({"bubbles": 1})
    return judged_draw(bench, band, "blower", "bubbles level 1", powers)


def blower_trips(bench: Bench) -> CheckResult:
    """The load steps' judgment of "the unit still runs" after the blower started."""
    if not bench.alive():
        return NOT_TALKING
    with bench.switched(bubbles=1):
        bench.driver.sleep(SETTLE_S)
        stopped = not bench.alive()
    if stopped:
        return CheckResult(True, "the unit went silent when the blower started")
    return CheckResult(False, "the blower ran and the unit kept talking")


@dataclass(frozen=True)
class CheckSpec:
    id: str
    question: str
    run: Callable[[Bench], CheckResult]


CHECKS: dict[str, CheckSpec] = {
    spec.id: spec
    for spec in (
        CheckSpec("frames-arriving", "Are frames arriving from the box?", frames_arriving),
        CheckSpec("frames-stop", "Did the unit stop (no more frames)?", frames_stop),
        CheckSpec("handshake", "Does the box answer the handshake?", handshake),
        CheckSpec("mains-voltage", "Is there mains at the supply?", mains_voltage),
        CheckSpec("standby-draw", "Does the power board get its supply?", standby_draw),
        CheckSpec(
            "temperature-plausible", "Is the reported temperature plausible?", temperature_plausible
        ),
        CheckSpec("flow-with-filter", "Does flow appear with the filter on?", flow_with_filter),
        CheckSpec("filter-draw", "Does the filter pump draw power?", filter_draw),
        CheckSpec("heater-draw", "Does the heater draw power?", heater_draw),
        CheckSpec("blower-draw", "Does the blower draw power?", blower_draw),
        CheckSpec("blower-trips", "Does the unit stop when the blower starts?", blower_trips),
    )
}
