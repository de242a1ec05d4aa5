"""Issue 12's box behaviour, judged on the wire and the meter: two flow switches, the F1 flow
error and its reset, the Elite's jets, the pump's run-on, UVC on each variant's code, the
set-point's range and encoding, and auto-offs timed by the remote.

Expectations come from the research notes (``research/mspa-public-facts.md``: 08 bit 0 "in",
bit 1 "out", ``08 01`` seen; F1 resets by ``0B 00`` "then the box reports 08 03 briefly, then
00"; set-points down to 10 °C; ``04`` as °C × 2; UVC on 15/10/19; jets on 0D; run-on ≈10 s)
and the agreed figures of the model files (F1 after 10 s, the 08 03 window 2 s).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from protocols.clock import Scheduler
from protocols.mspa import Command, Frame, FrameDecoder, RemoteState, key_press_burst, state_frames
from protocols.ports import SimCable
from spasim.board import VirtualBox
from spasim.profiles import Profile, load_profile

KEEPALIVE = Frame(Command.KEEPALIVE, 0x00)
F1_AFTER_S = 10.0
RESET_REPORT_S = 2.0
REPORT_S = 1.0132


class Remote:
    """A box on a SimCable and a remote that repeats its state every 1.5 s per frame; the
    test adds key presses, keep-alives and raw frames, and reads what the box sends."""

    def __init__(
        self, profile: str | Profile = "premium-4", faults: tuple[str, ...] = (), **options: Any
    ) -> None:
        options.setdefault("noise", False)
        options.setdefault("water_c", 30.0)
        self.scheduler = Scheduler()
        self.cable = SimCable(self.scheduler)
        self.box = VirtualBox(self.scheduler, self.cable.box, profile, faults=faults, **options)
        # The cycle's UVC frame: 0x10 on variant B, else 0x15 (a variant C box ignores it;
        # tests send 0x19 themselves).
        self.uvc = Command.INIT_10 if self.box.profile.uvc_command == 0x10 else Command.UVC
        self.alive = True
        self.decoder = FrameDecoder()
        self.received: list[tuple[float, Frame]] = []
        self.cable.remote.on_receive = self._receive
        self.state = RemoteState()
        self.jets = False
        """What the cycle's 0D slot carries (RemoteState has no jets here)."""
        self._tick = 0
        self.scheduler.advance(7.0)
        assert self.box.running
        self.scheduler.call_every(1.5, self._cycle)

    def _receive(self, data: bytes) -> None:
        now = self.scheduler.now()
        self.received.extend((now, frame) for frame in self.decoder.feed(data, now))

    def _cycle(self) -> None:
        if not self.alive:
            return
        frames = self._frames()
        self.cable.remote.send(bytes(frames[self._tick % len(frames)]))
        self._tick += 1

    def _frames(self, burst: bool = False) -> list[Frame]:
        frames = (
            key_press_burst(self.state, uvc_command=self.uvc)
            if burst
            else state_frames(self.state, self.uvc)
        )
        jets = Frame(Command.CYCLE_0D, int(self.jets))
        return [jets if f.command == Command.CYCLE_0D else f for f in frames]

    def press(self, **state: Any) -> None:
        self.state = RemoteState(**state)
        self.send(*self._frames(burst=True))

    def send(self, *frames: Frame) -> None:
        self.cable.remote.send(b"".join(bytes(frame) for frame in frames))
        self.scheduler.advance(0.1)

    def advance(self, seconds: float) -> None:
        self.scheduler.advance(seconds)

    def now(self) -> float:
        return self.scheduler.now()

    def flows_between(self, start: float, end: float) -> list[int]:
        return [f.parameter for t, f in self.received if start < t <= end and f.command == 8]

    def answers_since(self, since: float) -> list[Frame]:
        return [f for t, f in self.received if t > since and f.command not in (6, 8)]

    def watts(self, load: str) -> float:
        return self.box.load_powers()[load]

    def most_drawn(self, seconds: float, *loads: str) -> dict[str, float]:
        """Advance ``seconds``, reading each load's meter every 0.1 s: the most each drew."""
        most = dict.fromkeys(loads, 0.0)
        for _ in range(round(seconds / 0.1)):
            self.advance(0.1)
            for load in loads:
                most[load] = max(most[load], self.watts(load))
        return most


# ---------------------------------------------------------------- two flow switches


@pytest.mark.parametrize(
    ("fault", "reported"),
    [
        ((), 0x03),
        (("inlet-flow-switch-stuck-open",), 0x02),
        (("outlet-flow-switch-stuck-open",), 0x01),
        (("flow-switch-stuck-open",), 0x00),
        (("filter-pump-dead",), 0x00),
    ],
)
def test_each_flow_switch_has_its_bit_and_the_heater_needs_both(
    fault: tuple[str, ...], reported: int
) -> None:
    remote = Remote(faults=fault)
    assert remote.flows_between(0, remote.now()) == [0x00]  # pump off: both open
    remote.press(filter=True, heater=True)
    at = remote.now()
    remote.advance(3)
    assert set(remote.flows_between(at + 0.5, remote.now())) == {reported}
    heating = remote.watts("heater") > 0
    assert heating == (reported == 0x03)


def test_stuck_closed_switches_report_flow_with_the_pump_off() -> None:
    remote = Remote(faults=("flow-switch-stuck-closed",))
    remote.advance(3)
    assert set(remote.flows_between(0, remote.now())) == {0x03}
    assert remote.watts("filter") == 0


# ---------------------------------------------------------------- F1


def test_f1_latches_after_its_time_and_switches_heater_ozone_uvc_off() -> None:
    remote = Remote(faults=("flow-switch-stuck-open",))
    remote.press(filter=True, heater=True, ozone=True, uvc=True, bubbles=1)
    pressed = remote.now()
    remote.advance(F1_AFTER_S - 0.5)
    assert not remote.box.flow_error
    assert remote.watts("ozone") > 0 and remote.watts("uvc") > 0  # before F1: sanitisers run
    assert remote.watts("heater") == 0  # no flow: the heater never ran
    remote.advance(1.0)
    assert remote.box.flow_error
    assert remote.watts("ozone") == 0 and remote.watts("uvc") == 0 and remote.watts("heater") == 0
    # The pump keeps its command; the blower is not affected.
    assert remote.watts("filter") == 60 and remote.watts("blower") > 0
    assert not any(remote.box.driven()[load] for load in ("heater", "ozone", "uvc"))
    # F1 has no frame of its own: the box keeps reporting the true flow.
    assert set(remote.flows_between(pressed + 0.5, remote.now())) == {0x00}
    # The remote's state cycle does not clear it.
    remote.advance(40)
    assert remote.box.flow_error and remote.watts("ozone") == 0


def test_0b00_clears_f1_then_08_03_for_the_window_then_the_true_flow_and_f1_again() -> None:
    """A reset clears the display, not the interlock: with a dead pump the box reports 08 03
    for the window (ET), but heater, ozone and UVC stay off, and F1 latches again."""
    remote = Remote(faults=("filter-pump-dead",))
    remote.press(filter=True, heater=True, ozone=True, uvc=True)
    remote.advance(F1_AFTER_S + 1)
    assert remote.box.flow_error and remote.watts("ozone") == 0
    reset_at = remote.now()
    remote.send(KEEPALIVE)
    assert Frame(Command.KEEPALIVE, 0x86) in remote.answers_since(reset_at)
    assert not remote.box.flow_error
    most = remote.most_drawn(F1_AFTER_S - 0.6, "heater", "ozone", "uvc")
    assert most == {"heater": 0, "ozone": 0, "uvc": 0}  # no flow sensed since the reset
    window = remote.flows_between(reset_at, reset_at + RESET_REPORT_S)
    after = remote.flows_between(reset_at + RESET_REPORT_S + 0.01, remote.now())
    assert window and set(window) == {0x03}
    assert after and set(after) == {0x00}
    assert not remote.box.flow_error
    remote.advance(1.0)  # a dead pump latches F1 again f1_after_s after the reset
    assert remote.box.flow_error and remote.watts("ozone") == 0


def test_keepalives_never_re_energise_anything_on_a_box_without_flow() -> None:
    """The remote's keep-alive (0B 00, once a minute) is also the F1 reset: on a dead pump it
    must not bring ozone, UVC or the heater back for f1_after_s every minute."""
    remote = Remote(faults=("filter-pump-dead",))
    remote.press(filter=True, heater=True, ozone=True, uvc=True)
    remote.advance(F1_AFTER_S + 1)
    start = remote.now()
    for _ in range(10):  # ten minutes of keep-alives
        remote.send(KEEPALIVE)
        most = remote.most_drawn(60, "heater", "ozone", "uvc")
        assert most == {"heater": 0, "ozone": 0, "uvc": 0}
    # Each reset shows 08 03 for the window, as published; the rest is the true flow.
    flows = remote.flows_between(start, remote.now())
    assert set(flows) == {0x00, 0x03} and flows.count(0x03) <= 10 * (RESET_REPORT_S + 1)


def test_after_a_reset_the_loads_return_once_the_firmware_senses_flow() -> None:
    remote = Remote(faults=("flow-switch-stuck-open",))
    remote.press(filter=True, heater=True, ozone=True)
    remote.advance(F1_AFTER_S + 1)
    assert remote.watts("ozone") == 0 and remote.watts("heater") == 0
    remote.send(KEEPALIVE)  # reset before the repair: still no flow, nothing comes back
    assert remote.most_drawn(3, "heater", "ozone") == {"heater": 0, "ozone": 0}
    remote.box.clear("flow-switch-stuck-open")  # the switches close within f1_after_s
    assert remote.watts("ozone") == 10 and remote.watts("heater") > 0
    remote.advance(F1_AFTER_S * 3)
    assert remote.watts("ozone") == 10 and remote.watts("heater") > 0
    assert set(remote.flows_between(remote.now() - F1_AFTER_S, remote.now())) == {0x03}


def test_a_repaired_switch_needs_the_reset_and_then_works_at_once() -> None:
    remote = Remote(faults=("flow-switch-stuck-open",))
    remote.press(filter=True, ozone=True)
    remote.advance(F1_AFTER_S + 1)
    remote.box.clear("flow-switch-stuck-open")
    remote.advance(5)
    assert remote.watts("ozone") == 0  # F1 is a latch: flow alone does not clear it
    remote.send(KEEPALIVE)
    assert remote.watts("ozone") == 10


def test_a_keepalive_without_f1_changes_nothing() -> None:
    """Once a minute on every healthy box: no fake 08 03 with the pump off."""
    remote = Remote()
    at = remote.now()
    remote.send(KEEPALIVE)
    remote.advance(5)
    assert set(remote.flows_between(at, remote.now())) == {0x00}


def test_a_healthy_box_never_shows_f1() -> None:
    remote = Remote()
    remote.press(filter=True, heater=True, ozone=True, uvc=True)
    for _ in range(60):  # an hour, with the remote's keep-alive once a minute
        remote.advance(60)
        remote.send(KEEPALIVE)
        assert not remote.box.flow_error
        assert set(remote.flows_between(remote.now() - 60, remote.now())) == {0x03}
    assert remote.watts("ozone") > 0 and remote.watts("uvc") > 0  # their 2 h are not up
    assert remote.watts("heater") > 0


def test_f1_needs_the_pump_commanded_and_survives_the_filter_going_off() -> None:
    remote = Remote(faults=("flow-switch-stuck-open",))
    remote.press(heater=True)  # heater asked for, pump not: no F1 (nothing to flow)
    remote.advance(F1_AFTER_S + 2)
    assert not remote.box.flow_error
    remote.press(filter=True, heater=True)
    remote.advance(F1_AFTER_S / 2)
    remote.press(heater=True)  # filter off before the time: the watch stops
    remote.press(filter=True, heater=True)
    remote.advance(F1_AFTER_S / 2 + 0.5)
    assert not remote.box.flow_error  # the watch started again with the pump
    remote.advance(F1_AFTER_S / 2)
    assert remote.box.flow_error
    remote.press()
    remote.advance(5)
    assert remote.box.flow_error  # a latch: only 0B 00 or power loss clears it
    remote.box.set_mains(False)
    remote.box.set_mains(True)
    assert not remote.box.flow_error


# ---------------------------------------------------------------- jets (Elite)


def test_jets_on_0d_draw_the_jet_pump_without_the_filter() -> None:
    remote = Remote("elite-6")
    idle_w = remote.box.meter().power_w
    remote.jets = True
    remote.press()
    remote.advance(20)
    assert remote.watts("jets") == 750 and remote.watts("filter") == 0
    assert remote.box.meter().power_w == pytest.approx(idle_w + 750)
    remote.jets = False
    remote.press()
    assert remote.watts("jets") == 0


def test_jets_stop_in_the_fail_safe_and_without_power() -> None:
    remote = Remote("elite-6")
    remote.jets = True
    remote.press()
    remote.advance(20)
    assert remote.watts("jets") == 750  # the cycle repeats 0D 01: the jets keep running
    remote.alive = False  # the remote goes quiet: after the watchdog every load is off
    remote.advance(28)  # the last cycle frame came at most 1.5 s before
    assert remote.watts("jets") == 750
    remote.advance(3)
    assert remote.watts("jets") == 0
    remote.alive = True
    remote.send(Frame(Command.CYCLE_0D, 1))
    assert remote.watts("jets") == 750
    remote.box.press_prcd_test()
    assert remote.watts("jets") == 0 and remote.watts("standby") == 0


def test_0d_01_is_ignored_on_a_box_without_jets() -> None:
    remote = Remote("premium-4")
    ignored = remote.box.ignored_frames
    remote.send(Frame(Command.CYCLE_0D, 1))
    assert remote.box.ignored_frames == ignored + 1
    assert remote.watts("jets") == 0


# ---------------------------------------------------------------- pump run-on


def test_series_d_pump_runs_on_after_heating() -> None:
    remote = Remote("series-d")
    remote.press(filter=True, heater=True)
    remote.advance(20)
    assert remote.watts("heater") > 0
    remote.press(heater=True)  # filter off: the heater stops at once, the pump runs on
    stopped = remote.now()
    assert remote.watts("heater") == 0 and remote.watts("filter") == 60
    remote.advance(10 - 0.2)
    assert remote.watts("filter") == 60
    assert set(remote.flows_between(stopped + 0.5, remote.now())) == {0x03}
    remote.advance(0.4)
    assert remote.watts("filter") == 0
    remote.advance(F1_AFTER_S + 2)
    assert not remote.box.flow_error  # the run-on pump is not commanded: no F1 either


def test_no_run_on_after_the_fail_safe_when_the_remote_returns() -> None:
    """SPEC §3: after the fail-safe, loads return only when commanded again. A series-d
    heating when its remote goes quiet must not start the pump when frames come back."""
    remote = Remote("series-d")
    remote.press(filter=True, heater=True)
    remote.advance(20)
    assert remote.watts("heater") > 0
    remote.alive = False
    remote.advance(31)  # the watchdog: every load off
    assert remote.watts("filter") == 0 and remote.watts("heater") == 0
    back = remote.now()
    remote.send(Frame(Command.FILTER, 0), Frame(Command.OZONE, 0))  # heard again, no load asked
    assert remote.most_drawn(12, "filter") == {"filter": 0}
    assert set(remote.flows_between(back, remote.now())) == {0x00}


def test_no_run_on_after_a_power_loss() -> None:
    """Mains off while heating, then on: the rebooted box draws no pump until commanded."""
    remote = Remote("series-d")
    remote.press(filter=True, heater=True)
    remote.advance(20)
    assert remote.watts("heater") > 0
    remote.alive = False  # the remote says nothing more
    remote.box.set_mains(False)
    remote.advance(0.5)
    off_for = remote.now()
    remote.box.set_mains(True)
    assert remote.most_drawn(15, "filter") == {"filter": 0}
    flows = remote.flows_between(off_for, remote.now())
    assert flows and set(flows) == {0x00}


def test_no_run_on_without_heating_or_on_other_models() -> None:
    series_d = Remote("series-d")
    series_d.press(filter=True)
    series_d.advance(5)
    series_d.press()
    assert series_d.watts("filter") == 0
    premium = Remote("premium-4")
    premium.press(filter=True, heater=True)
    premium.advance(20)
    premium.press(heater=True)
    assert premium.watts("filter") == 0 and premium.watts("heater") == 0


# ---------------------------------------------------------------- set-point, UVC, auto-off


@pytest.mark.parametrize(
    ("profile", "parameter", "accepted"),
    [
        ("premium-4", 10, 10),  # hibernate: MW's bridge sends 10 °C
        ("premium-4", 9, None),
        ("premium-4", 41, None),
        ("premium-4", 90, None),  # SPEC §4 invariant 5's example
        ("super-camaro", 20, 10),  # °C × 2
        ("super-camaro", 80, 40),
        ("super-camaro", 74, 37),
        ("super-camaro", 75, None),  # a half degree: the box keeps whole degrees
        ("super-camaro", 18, None),
        ("super-camaro", 82, None),
    ],
)
def test_set_point_in_the_plates_encoding_and_range(
    profile: str, parameter: int, accepted: int | None
) -> None:
    remote = Remote(profile)
    before = remote.box.setpoint
    ignored = remote.box.ignored_frames
    remote.send(Frame(Command.SETPOINT, parameter))
    if accepted is None:
        assert remote.box.setpoint == before and remote.box.ignored_frames == ignored + 1
    else:
        assert remote.box.setpoint == accepted
        assert remote.box.status_parameter & 0x7F == accepted


@pytest.mark.parametrize(
    ("profile", "code", "others"),
    [
        ("premium-4", 0x15, (0x19,)),
        ("aurora-urban", 0x15, (0x19,)),
        ("elite-6", 0x10, (0x15, 0x19)),
        ("series-d", 0x19, (0x15,)),
    ],
)
def test_uvc_on_the_plates_code_only(profile: str, code: int, others: tuple[int, ...]) -> None:
    remote = Remote(profile)
    remote.press(filter=True)
    for other in others:
        remote.send(Frame(other, 1))
        assert remote.watts("uvc") == 0
    at = remote.now()
    remote.send(Frame(code, 1))
    assert remote.watts("uvc") == 15
    echoes = [f for f in remote.answers_since(at) if f.command == 0x10]
    assert echoes == ([Frame(0x10, 1)] if code == 0x10 else [])


def test_variant_b_power_on_0x10_00_is_still_the_handshake() -> None:
    remote = Remote("elite-6")
    at = remote.now()
    remote.send(Frame(Command.INIT_10, 0))
    assert [f for f in remote.answers_since(at)] == [Frame(Command.INIT_10, 0)]
    assert remote.watts("uvc") == 0


def test_remote_timed_auto_offs_leave_the_loads_running_in_the_box() -> None:
    profile = dataclasses.replace(load_profile("premium-4"), auto_off_by="remote")
    remote = Remote(profile)
    remote.press(filter=True, bubbles=2, ozone=True)
    remote.advance(3 * 3600)  # past 10 min bubbles and 2 h ozone: the remote has not said off
    assert remote.watts("blower") > 0 and remote.watts("ozone") > 0
    remote.press(filter=True, ozone=True)  # the remote's own timer: bubbles 0
    assert remote.watts("blower") == 0


def test_box_timed_auto_off_still_runs_on_the_default_models() -> None:
    remote = Remote("premium-4")
    remote.press(filter=True, bubbles=2)
    remote.advance(601)
    assert remote.watts("blower") == 0


# ---------------------------------------------------------------- what the box's frames report


def test_blower_led_and_status_values() -> None:
    """Super Camaro's extra frames say what the firmware drives (AH: 12 blower, 1A LED flags,
    1B set-point + bubbles; the bit layouts are ours, :mod:`protocols.mspa.box`)."""
    remote = Remote("super-camaro")

    def latest(code: int, since: float) -> int:
        heard = [
            frame.parameter for t, frame in remote.received if frame.command == code and t > since
        ]
        assert heard, f"no {code:02X} frame heard since {since:.1f} s"
        return heard[-1]

    remote.advance(2.0)
    assert latest(0x1A, 0.0) == 0 and latest(0x1B, 0.0) == 40  # nothing runs, set-point 40
    assert 0x12 not in {frame.command for _, frame in remote.received}  # no blower yet
    pressed_at = remote.scheduler.now()
    remote.press(filter=True, heater=True, bubbles=1, ozone=True, uvc=True)
    remote.advance(2.0)
    assert latest(0x12, pressed_at) == 0x01  # the blower runs
    assert latest(0x1A, pressed_at) == 0b011111  # heater filter bubbles ozone uvc, no jets
    assert latest(0x1B, pressed_at) == 40 | 1 << 6  # set-point 40, bubble level 1
