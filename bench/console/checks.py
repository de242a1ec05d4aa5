"""Checks the console runs by itself during guided troubleshooting (link and meter only).

The service manual's trees ask a technician things the bench can answer faster and more
reliably: "are frames arriving?", "does flow appear with the filter on?", "does the heater
draw power?". Each check here answers one such question from what the bench can observe —
the remote link (what a panel hears) and the meter (what the supply delivers) — never from a
virtual unit's state, so it means the same on a real box. A check that cannot tell (no meter,
the box not talking) answers ``None`` and the tree asks the technician instead.

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
from bench.testing.steps.link_steps import TYPICAL_STANDBY_W
from protocols.driver import Driver

ALIVE_WITHIN = 2.5
SETTLE = 3.0
"""Seconds after a switch before the meter is read (the heater's stage 1 lasts 10 s)."""


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

    def alive(self) -> bool:
        return self.link.alive(ALIVE_WITHIN)

    def power(self, reads: int = 3, spacing: float = 0.3) -> float | None:
        """Mean of a few meter readings (noise averages out); None without a usable meter."""
        if self.meter is None:
            return None
        total = 0.0
        try:
            for index in range(reads):
                if index:
                    self.driver.sleep(spacing)
                total += float(self.meter.read().power_w)
        except InstrumentError:
            return None
        return total / reads

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
                self.driver.sleep(SETTLE)
                after = self.power()
        return None if after is None else (before, after)


NOT_TALKING = CheckResult(None, "the box is not talking: the bench cannot switch its loads")
NO_METER = CheckResult(None, "no meter reading: the bench cannot see the supply")


def frames_arriving(bench: Bench) -> CheckResult:
    if bench.wait_for(bench.alive, 10.0):
        last = bench.link.last_frame_at or bench.now()
        return CheckResult(True, f"the box is talking (last frame {bench.now() - last:.1f} s ago)")
    return CheckResult(False, "no frame from the box for 10 s")


def frames_stop(bench: Bench) -> CheckResult:
    if bench.wait_for(lambda: not bench.alive(), 6.0):
        return CheckResult(True, f"the unit stopped: nothing heard for {ALIVE_WITHIN:g} s")
    return CheckResult(False, "frames keep coming: the unit did not stop")


def handshake(bench: Bench) -> CheckResult:
    if bench.wait_for(lambda: bench.link.handshake_done, 15.0):
        return CheckResult(True, "the box answered the remote's handshake")
    return CheckResult(False, "no handshake within 15 s")


def mains_voltage(bench: Bench) -> CheckResult:
    volts = bench.voltage()
    if volts is None:
        return NO_METER
    if volts > 100.0:
        return CheckResult(True, f"the meter sees {volts:.0f} V")
    return CheckResult(False, f"the meter sees {volts:.0f} V: no mains")


def standby_draw(bench: Bench) -> CheckResult:
    spec = bench.instruments.meter
    if bench.meter is not None and spec is not None and not spec.sees(TYPICAL_STANDBY_W):
        # An SDM120 reads 0 below 4.6 W: "0 W" would blame a good transformer.
        return CheckResult(
            None,
            f"the {spec.name} meter cannot see a standby draw (it reads 0 below "
            f"{spec.floor_w():.1f} W): check with a multimeter",
        )
    watts = bench.power()
    if watts is None:
        return NO_METER
    if watts > max(0.5, spec.zero_band_w() if spec is not None else 0.0):
        return CheckResult(True, f"the unit draws {watts:.1f} W")
    return CheckResult(False, f"the unit draws {watts:.1f} W: nothing powers up")


def temperature_plausible(bench: Bench) -> CheckResult:
    start = bench.now()
    link = bench.link
    bench.wait_for(lambda: link.water_at is not None and link.water_at >= start, 3.0)
    water = link.water_c
    if water is None:
        return CheckResult(None, "no temperature report heard")
    if 0.5 <= water <= 60.0:
        return CheckResult(True, f"the box reports {water:.1f} °C")
    return CheckResult(False, f"the box reports {water:.1f} °C: not a water temperature")


def flow_with_filter(bench: Bench) -> CheckResult:
    if not bench.alive():
        return NOT_TALKING
    link = bench.link
    with bench.switched(filter=True):
        start = bench.now()
        flowing = bench.wait_for(
            lambda: (
                link.flow_at is not None
                and link.flow_at > start
                and link.flow is not None
                and link.flow.flowing
            ),
            6.0,
        )
    if flowing:
        return CheckResult(True, "filter on: the flow switch closed")
    return CheckResult(False, "filter on for 6 s: the flow switch stayed open")


def filter_draw(bench: Bench) -> CheckResult:
    if not bench.alive():
        return NOT_TALKING
    powers = bench.delta({"filter": True}, also_off=("heater",))
    if powers is None:
        return NO_METER
    delta = powers[1] - powers[0]
    if delta > 20.0:
        return CheckResult(True, f"filter on: +{delta:.0f} W")
    return CheckResult(False, f"filter on: {delta:+.0f} W, the pump draws nothing")


def heater_draw(bench: Bench) -> CheckResult:
    if not bench.alive():
        return NOT_TALKING
    link = bench.link
    with bench.switched(filter=True):
        if not bench.wait_for(lambda: link.flow is not None and link.flow.flowing, 6.0):
            return CheckResult(None, "no flow with the filter on: the heater is locked out")
        powers = bench.delta({"heater": True})
    if powers is None:
        return NO_METER
    delta = powers[1] - powers[0]
    if delta > 800.0:
        return CheckResult(True, f"heater on with flow: +{delta:.0f} W")
    return CheckResult(False, f"heater on with flow: {delta:+.0f} W, the element draws nothing")


def blower_draw(bench: Bench) -> CheckResult:
    if not bench.alive():
        return NOT_TALKING
    powers = bench.delta({"bubbles": 1})
    if powers is None:
        return NO_METER
    delta = powers[1] - powers[0]
    if delta > 200.0:
        return CheckResult(True, f"bubbles level 1: +{delta:.0f} W")
    return CheckResult(False, f"bubbles level 1: {delta:+.0f} W, the blower draws nothing")


def blower_trips(bench: Bench) -> CheckResult:
    if not bench.alive():
        return NOT_TALKING
    with bench.switched(bubbles=1):
        stopped = bench.wait_for(lambda: not bench.alive(), 8.0)
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
