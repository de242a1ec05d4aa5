"""BoxDuty, the box's protocol duties, judged on the wire against the model plates.

Expectations come from SPEC §3 and ``research/mspa-public-facts.md``: boot 09 00 at 5.46 s and
07 0C at 5.66 s, 06 every 1.0132 s from 6.06 s, 08 0.81 s after each 06, handshake and
keep-alive answered at once, loads off after 30 s without a valid frame; the variant frames of
the Super Camaro (12 while the blower runs, 1A with every 06, 1B with every 08) and the
repeated 07 0C of the Série D (weak source: every 10 s).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from support.sim import heard_at_remote

from protocols.clock import Event, Scheduler
from protocols.mspa import FRAME_SECONDS, Command, Frame, FrameDecoder
from protocols.mspa.box import BoxDuty
from protocols.mspa.models import ModelPlate, load_model
from protocols.mspa.values import led_flags, status_parameter
from protocols.ports import SimCable

PERIOD_S = 1.0132
"""Capture: 06 and 08 each every 1.0132 s."""
FLOW_OFFSET_S = 0.81
WATCHDOG_S = 30.0


class Owner:
    """A scripted firmware: what the duty reports, and what it heard."""

    def __init__(self) -> None:
        self.temperature = 0x2F
        self.flow = 0x00
        self.blower = False
        self.leds = 0
        self.status = 0
        self.ignore: set[int] = set()
        self.frames: list[tuple[float, int, int]] = []
        self.boots: list[float] = []
        self.expired: list[float] = []
        self.restored: list[float] = []
        self.scheduler: Scheduler | None = None

    def _now(self) -> float:
        assert self.scheduler is not None
        return self.scheduler.now()

    def temperature_parameter(self) -> int:
        return self.temperature

    def flow_parameter(self) -> int:
        return self.flow

    def blower_running(self) -> bool:
        return self.blower

    def led_flags(self) -> int:
        return self.leds

    def status_parameter(self) -> int:
        return self.status

    def on_frame(self, command: int, parameter: int) -> bool:
        self.frames.append((self._now(), command, parameter))
        return command not in self.ignore

    def booted(self) -> None:
        self.boots.append(self._now())

    def watchdog_expired(self) -> None:
        self.expired.append(self._now())

    def watchdog_restored(self) -> None:
        self.restored.append(self._now())


class Bench:
    """A duty on a simulated cable; the test plays the remote and records the box's frames."""

    def __init__(self, model: str | ModelPlate = "premium-4") -> None:
        self.plate = load_model(model) if isinstance(model, str) else model
        self.scheduler = Scheduler()
        self.cable = SimCable(self.scheduler)
        self.owner = Owner()
        self.owner.scheduler = self.scheduler
        self.duty = BoxDuty(self.scheduler, self.cable.box, self.plate, self.owner)
        self.decoder = FrameDecoder()
        self.heard: list[tuple[float, Frame]] = []
        self.cable.remote.on_receive = self._receive

    def _receive(self, data: bytes) -> None:
        now = self.scheduler.now()
        self.heard.extend((now, frame) for frame in self.decoder.feed(data, now))

    def send(self, *frames: Frame) -> None:
        self.cable.remote.send(b"".join(bytes(frame) for frame in frames))

    def run_until(self, t: float) -> None:
        self.scheduler.run_until(t)

    def times(self, command: int, since: float = 0.0) -> list[float]:
        return [t for t, frame in self.heard if frame.command == command and t > since]

    def frames(self, since: float = 0.0, until: float = float("inf")) -> list[Frame]:
        return [frame for t, frame in self.heard if since < t <= until]

    def booted(self) -> Bench:
        self.duty.power_on()
        self.run_until(7.0)
        assert self.duty.running
        return self


def test_power_on_frames_and_reports_at_the_captured_times() -> None:
    bench = Bench()
    bench.duty.power_on()
    bench.run_until(6.06 + 60)
    assert bench.frames(until=6.0) == [Frame(Command.BOOT_09, 0), Frame(Command.BOOT_07, 0x0C)]
    assert bench.times(Command.BOOT_09) == [pytest.approx(5.46)]
    assert bench.times(Command.BOOT_07) == [pytest.approx(5.66)]
    assert bench.owner.boots == [pytest.approx(5.66 - FRAME_SECONDS)]
    temps, flows = bench.times(Command.WATER_TEMP), bench.times(Command.FLOW)
    assert temps[0] == pytest.approx(6.06) and len(temps) == 60
    assert flows[0] == pytest.approx(6.87) and len(flows) == 59
    for a, b in itertools.pairwise(temps):
        assert b - a == pytest.approx(PERIOD_S, abs=1e-9)
    for temp, flow in zip(temps, flows, strict=False):
        assert flow - temp == pytest.approx(FLOW_OFFSET_S, abs=1e-9)


def test_reports_carry_the_owners_values_when_they_go_out() -> None:
    bench = Bench().booted()
    bench.owner.temperature, bench.owner.flow = 0x4C, 0x03
    start = bench.scheduler.now()
    bench.run_until(start + 2 * PERIOD_S)
    assert set(bench.frames(start)) == {Frame(Command.WATER_TEMP, 0x4C), Frame(Command.FLOW, 3)}


@pytest.mark.parametrize(
    ("request_frame", "reply"),
    [
        (Frame(Command.KEEPALIVE, 0), Frame(Command.KEEPALIVE, 0x86)),
        (Frame(Command.HANDSHAKE, 0), Frame(Command.HANDSHAKE, 0x01)),
        (Frame(Command.HANDSHAKE_11, 0), Frame(Command.HANDSHAKE_11, 0x00)),
        (Frame(Command.INIT_10, 0), Frame(Command.INIT_10, 0x00)),
    ],
)
def test_handshake_and_keep_alive_are_answered_at_once(request_frame: Frame, reply: Frame) -> None:
    bench = Bench().booted()
    sent_at = bench.scheduler.now()
    bench.send(request_frame)
    bench.run_until(sent_at + 0.02)
    assert [(t, f) for t, f in bench.heard if t > sent_at] == [
        (pytest.approx(sent_at + 2 * FRAME_SECONDS), reply)
    ]
    assert bench.owner.frames[-1][1:] == (request_frame.command, request_frame.parameter)


def test_an_ignored_frame_is_not_answered_and_does_not_feed_the_watchdog() -> None:
    bench = Bench().booted()
    bench.owner.ignore = {Command.KEEPALIVE}
    start = bench.scheduler.now()
    bench.send(Frame(Command.KEEPALIVE, 0))
    bench.run_until(start + 0.1)
    assert bench.times(Command.KEEPALIVE) == []
    assert bench.duty.ignored_frames == 1
    # The last valid frame was none at all: the watchdog counts from the start of running.
    bench.run_until(5.66 + WATCHDOG_S + 0.01)
    assert bench.owner.expired == [pytest.approx(5.66 - FRAME_SECONDS + WATCHDOG_S)]


def test_nothing_is_heard_or_answered_before_the_box_runs() -> None:
    bench = Bench()
    bench.duty.power_on()
    bench.run_until(2.0)
    bench.send(Frame(Command.HANDSHAKE, 0))
    bench.run_until(5.0)
    assert bench.heard == [] and bench.owner.frames == []


def test_variant_b_echoes_the_uvc_enable_on_0x10() -> None:
    elite = Bench("elite-6").booted()
    premium = Bench("premium-4").booted()
    for bench in (elite, premium):
        start = bench.scheduler.now()
        bench.send(Frame(Command.INIT_10, 1))
        bench.run_until(start + 0.02)
    assert elite.frames(elite.scheduler.now() - 0.02) == [Frame(Command.INIT_10, 1)]
    assert premium.frames(premium.scheduler.now() - 0.02) == []


def test_super_camaro_says_its_led_status_and_blower_frames() -> None:
    bench = Bench("super-camaro").booted()
    owner = bench.owner
    owner.leds, owner.status = led_flags(filter=True, bubbles=True), status_parameter(38, 2)
    start = bench.scheduler.now()
    bench.run_until(start + 5)
    # 1A right behind every 06, 1B right behind every 08.
    for t in bench.times(Command.WATER_TEMP, start):
        assert (pytest.approx(t + FRAME_SECONDS), Frame(Command.LED_FLAGS, 0b110)) in bench.heard
    for t in bench.times(Command.FLOW, start):
        assert (pytest.approx(t + FRAME_SECONDS), Frame(Command.STATUS, 38 | 2 << 6)) in bench.heard
    assert bench.times(Command.BLOWER) == []  # the blower has not run: no 12 at all
    owner.blower = True
    on_at = bench.scheduler.now()
    bench.run_until(on_at + 10)
    ones = bench.times(Command.BLOWER, on_at)
    assert len(ones) == 20 and ones[0] - on_at <= 0.5
    # Twice a second; one may wait behind a report on the line (a frame time).
    assert all(
        b - a == pytest.approx(0.5, abs=2 * FRAME_SECONDS) for a, b in itertools.pairwise(ones)
    )
    assert {f for f in bench.frames(on_at) if f.command == Command.BLOWER} == {Frame(0x12, 1)}
    owner.blower = False
    off_at = bench.scheduler.now()
    bench.run_until(off_at + 10)
    assert [f for f in bench.frames(off_at) if f.command == Command.BLOWER] == [Frame(0x12, 0)]
    assert bench.times(Command.BLOWER, off_at)[0] - off_at <= 0.5


def test_a_plain_box_says_no_variant_frames() -> None:
    bench = Bench("premium-4").booted()
    bench.owner.blower = True
    bench.run_until(300)
    commands = {frame.command for frame in bench.frames()}
    assert commands == {Command.BOOT_09, Command.BOOT_07, Command.WATER_TEMP, Command.FLOW}
    assert len(bench.times(Command.BOOT_07)) == 1


def test_series_d_repeats_07_0c_while_running() -> None:
    bench = Bench("series-d")
    bench.duty.power_on()
    bench.run_until(5.66 + 60.01)
    repeats = bench.times(Command.BOOT_07)
    assert repeats == [pytest.approx(5.66 + 10 * k) for k in range(7)]
    assert len(bench.owner.boots) == 1  # one power-on, not seven
    bench.duty.power_off()
    bench.run_until(200)
    assert len(bench.times(Command.BOOT_07)) == 7


def test_watchdog_expires_after_30_s_of_silence_and_recovers_on_a_frame() -> None:
    bench = Bench().booted()
    for k in range(6):  # keep-alives every 10 s keep it fed
        bench.run_until(10.0 + 10 * k)
        bench.send(Frame(Command.KEEPALIVE, 0))
    last = 60.0 + FRAME_SECONDS
    bench.run_until(last + WATCHDOG_S - 0.01)
    assert bench.owner.expired == []
    bench.run_until(last + WATCHDOG_S + 0.01)
    assert bench.owner.expired == [pytest.approx(last + WATCHDOG_S)]
    # Reports go on in fail-safe.
    bench.run_until(last + WATCHDOG_S + 5)
    assert len(bench.times(Command.WATER_TEMP, last + WATCHDOG_S)) == 5
    bench.send(Frame(Command.FILTER, 1))
    back = bench.scheduler.now() + FRAME_SECONDS
    bench.run_until(back + WATCHDOG_S + 0.01)
    assert bench.owner.restored == [pytest.approx(back)]
    assert bench.owner.expired[1:] == [pytest.approx(back + WATCHDOG_S)]


def test_the_watchdog_costs_no_event_per_frame() -> None:
    """A flood of keep-alives schedules no watchdog work per frame: what is scheduled is the
    cable's deliveries and the reports, and the watchdog at most once per period."""
    bench = Bench().booted()
    frames = 1000
    for k in range(frames):  # ten a second for 100 s: three watchdog periods
        bench.scheduler.call_at(7.0 + 0.1 * k, bench.send, Frame(Command.KEEPALIVE, 0))
    scheduled = 0
    call_at = bench.scheduler.call_at

    def counting(when: float, callback: Callable[..., Any], *args: Any) -> Event:
        nonlocal scheduled
        scheduled += 1
        return call_at(when, callback, *args)

    bench.scheduler.call_at = counting  # type: ignore[method-assign]
    bench.run_until(107.0)
    reports = len(bench.times(Command.WATER_TEMP, 7.0)) + len(bench.times(Command.FLOW, 7.0))
    assert len(bench.times(Command.KEEPALIVE, 7.0)) == frames
    # Each keep-alive: its delivery and the reply's; each report: the next one and its
    # delivery; the watchdog: at most one event per period.
    assert scheduled <= 2 * frames + 2 * reports + 4
    assert bench.owner.expired == []


def test_power_off_stops_everything_and_power_on_boots_again() -> None:
    bench = Bench().booted()
    bench.run_until(20.0)
    bench.duty.power_off()
    bench.run_until(20.0 + FRAME_SECONDS)
    assert bench.scheduler.next_time() is None
    on_at = bench.scheduler.now()
    bench.duty.power_on()
    bench.run_until(40.0)
    assert bench.times(Command.BOOT_09, 20.0) == [pytest.approx(on_at + 5.46)]
    assert bench.times(Command.BOOT_07, 20.0) == [pytest.approx(on_at + 5.66)]
    assert bench.times(Command.WATER_TEMP, 20.0)[0] == pytest.approx(on_at + 6.06)


def test_filters_spoil_what_goes_over_the_wire_both_ways() -> None:
    bench = Bench().booted()
    bench.duty.tx_filter = lambda data: data[:2]  # every frame loses its last two bytes
    start = bench.scheduler.now()
    bench.run_until(start + 3)
    assert bench.frames(start) == []
    bench.duty.tx_filter = None
    bench.duty.rx_filter = lambda data: b""
    bench.send(Frame(Command.KEEPALIVE, 0))
    bench.run_until(bench.scheduler.now() + 0.1)
    assert bench.times(Command.KEEPALIVE) == [] and bench.owner.frames == []


def test_listeners_see_both_directions() -> None:
    bench = Bench()
    seen: list[tuple[str, Frame]] = []
    bench.duty.frame_listeners.append(lambda t, sender, frame: seen.append((sender, frame)))
    bench.duty.power_on()
    bench.run_until(6.0)
    bench.send(Frame(Command.HANDSHAKE, 0))
    bench.run_until(6.02)
    assert seen == [
        ("box", Frame(Command.BOOT_09, 0)),
        ("box", Frame(Command.BOOT_07, 0x0C)),
        ("remote", Frame(Command.HANDSHAKE, 0)),
        ("box", Frame(Command.HANDSHAKE, 1)),
    ]


def test_status_and_led_layouts_refuse_what_does_not_fit() -> None:
    assert led_flags() == 0 and led_flags(heater=True, jets=True) == 0b100001
    assert status_parameter(40, 3) == 40 | 0xC0
    with pytest.raises(ValueError, match="set-point"):
        status_parameter(64, 0)
    with pytest.raises(ValueError, match="bubble"):
        status_parameter(38, 4)


# ---------------------------------------------------------------- one duty, both boxes


def test_the_bench_playing_the_box_says_what_the_virtual_box_says() -> None:
    """Written once: the bench's box role and the virtual box, on the same plate and with the
    same water and flow, put the same frames on the wire at the same times."""
    from bench.testing.instruments.link import BoxRoleLink
    from protocols.driver import SimulatedDriver
    from spasim.board import VirtualBox

    heard: dict[str, list[tuple[float, Frame]]] = {}
    for who in ("bench", "virtual"):
        scheduler = Scheduler()
        cable = SimCable(scheduler)
        heard[who] = heard_at_remote(scheduler, cable)
        if who == "bench":
            role = BoxRoleLink(SimulatedDriver(scheduler), cable.box, plate=load_model("elite-6"))
            role.water_c = 23.5
            role.start()
        else:
            VirtualBox(scheduler, cable.box, "elite-6", water_c=23.5, ambient_c=23.5, noise=False)
        scheduler.run_until(120.0)
    assert len(heard["bench"]) > 200
    assert [f for _, f in heard["bench"]] == [f for _, f in heard["virtual"]]
    for (a, _), (b, _) in zip(heard["bench"], heard["virtual"], strict=True):
        assert a == pytest.approx(b, abs=1e-9)


def test_the_bench_plays_a_super_camaro_box_to_its_panel() -> None:
    """The panel's key press reaches the bench's box: its 12, 1A and 1B follow it."""
    from bench.testing.targets import virtual_panel_target

    target = virtual_panel_target(model="super-camaro")
    box, remote = target.box_role, target.virtual_unit
    assert box is not None and box.plate.name == "super-camaro"
    sent: list[tuple[float, Frame]] = []
    box.listeners.append(
        lambda t, sender, frame: sent.append((t, frame)) if sender == "box" else None
    )
    target.start()
    scheduler = target.driver.scheduler
    scheduler.run_until(10.0)
    first_06 = next(t for t, f in sent if f.command == Command.WATER_TEMP)
    assert first_06 + FRAME_SECONDS == pytest.approx(6.06)  # handed to the line a frame early
    remote.set(filter=True, bubbles=2)
    pressed = scheduler.now()
    scheduler.run_until(pressed + 3)
    after = {f for t, f in sent if t > pressed + 1.1}
    assert Frame(Command.BLOWER, 1) in after
    assert Frame(Command.STATUS, status_parameter(40, 2)) in after
    assert Frame(Command.LED_FLAGS, led_flags(filter=True, bubbles=True)) in after
    target.close()


def test_the_bench_playing_a_double_setpoint_box_ignores_half_degrees() -> None:
    """Super-Camaro's 04 carries °C × 2 (weak source): 04 4A is 37 °C; an odd parameter is
    half a degree, which a box that keeps whole degrees ignores — so does the bench playing
    it (its 1B keeps the last set-point it took)."""
    from bench.testing.instruments.link import BoxRoleLink

    plate = load_model("super-camaro")
    scheduler = Scheduler()
    cable = SimCable(scheduler)

    class Clock:
        def __init__(self) -> None:
            self.scheduler = scheduler

        def now(self) -> float:
            return scheduler.now()

    box = BoxRoleLink(Clock(), cable.box, plate=plate)  # type: ignore[arg-type]
    box.start()
    scheduler.run_until(7.0)
    steps = ((0x4A, 37), (0x4D, 37), (0x12, 37), (0x50, 40), (0x4F, 40), (0x14, 10))
    for parameter, expected in steps:
        cable.remote.send(bytes(Frame(Command.SETPOINT, parameter)))
        scheduler.run_until(scheduler.now() + 0.1)
        assert box.status_parameter() == status_parameter(expected, 0), hex(parameter)
    box.close()
