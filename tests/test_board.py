"""The virtual control box, driven through a simulated cable like a real remote would."""

from __future__ import annotations

import dataclasses
import gc
import itertools
import weakref
from pathlib import Path
from typing import Any

import pytest

from protocols.clock import Scheduler
from protocols.mspa import (
    FRAME_SECONDS,
    POWER_ON,
    Command,
    Frame,
    FrameDecoder,
    RemoteState,
    encode,
    key_press_burst,
    state_frames,
)
from protocols.ports import SimCable
from protocols.sdm120 import MeterReading
from spasim.board import VirtualBox
from spasim.profiles import Profile, load_profile


class Rig:
    """A box on a SimCable; the test plays the remote and records what the box sends."""

    def __init__(self, profile: str | Profile = "premium-4", **options: Any) -> None:
        options.setdefault("noise", False)
        self.scheduler = Scheduler()
        self.cable = SimCable(self.scheduler)
        self.box = VirtualBox(self.scheduler, self.cable.box, profile, **options)
        self.profile = self.box.profile
        self.decoder = FrameDecoder()
        self.received: list[tuple[float, Frame]] = []
        self.cable.remote.on_receive = self._receive

    def _receive(self, data: bytes) -> None:
        now = self.scheduler.now()
        self.received.extend((now, frame) for frame in self.decoder.feed(data, now))

    @property
    def uvc_command(self) -> Command:
        return Command(self.profile.uvc_command)

    def send(self, *frames: Frame) -> None:
        self.cable.remote.send(b"".join(bytes(frame) for frame in frames))

    def advance(self, seconds: float) -> None:
        self.scheduler.advance(seconds)

    def boot(self) -> None:
        self.advance(self.profile.boot_first_flow_s + 0.1)
        assert self.box.running

    def press(self, **state: Any) -> None:
        """A key press on the remote: all state frames, 16 00, set-point; then let them land."""
        self.send(*key_press_burst(RemoteState(**state), uvc_command=self.uvc_command))
        self.advance(0.1)

    def frames_since(self, since: float, command: int | None = None) -> list[tuple[float, Frame]]:
        return [
            (t, f)
            for t, f in self.received
            if t > since and (command is None or f.command == command)
        ]

    def start_state_cycle(self, state: RemoteState) -> list[RemoteState]:
        """The remote's periodic state cycle: one frame every 1.5 s. Returns a one-item list
        whose element the test may replace to change what the remote repeats."""
        holder = [state]
        index = [0]

        def tick() -> None:
            frames = state_frames(holder[0], self.uvc_command)
            self.send(frames[index[0] % len(frames)])
            index[0] += 1

        self.scheduler.call_every(1.5, tick)
        return holder


# ---------------------------------------------------------------- power-on & protocol


def test_power_on_order_matches_the_capture() -> None:
    rig = Rig(water_c=23.5)
    for item in POWER_ON:
        if item.direction.sender == "remote":
            # The capture timestamps complete frames; start sending one frame-time earlier.
            rig.scheduler.run_until(item.time - FRAME_SECONDS)
            rig.send(item.frame)
    rig.scheduler.run_until(7.0)
    expected = [(item.time, item.frame) for item in POWER_ON if item.direction.sender == "box"]
    got = rig.received[: len(expected)]
    assert [frame for _, frame in got] == [frame for _, frame in expected]
    for (got_time, frame), (want_time, _) in zip(got, expected, strict=True):
        assert got_time == pytest.approx(want_time, abs=0.01), frame


CAPTURED_REPORT_PERIOD_S = 1.0132
"""SPEC §3 / research (capture): 06 and 08 every 1.0132 s; 1.000 s leaves 65 ms residuals."""


def test_reports_follow_the_period_with_the_flow_offset() -> None:
    rig = Rig(water_c=30.0)
    rig.advance(6.06 + 60)
    temps = [t for t, f in rig.received if f.command == Command.WATER_TEMP]
    flows = [t for t, f in rig.received if f.command == Command.FLOW]
    assert temps[0] == pytest.approx(6.06) and flows[0] == pytest.approx(6.87)
    # 6.06 + k × 1.0132 ≤ 66.06 for k = 0..59; 6.87 + k × 1.0132 for k = 0..58.
    assert len(temps) == 60 and len(flows) == 59
    for a, b in itertools.pairwise(temps):
        assert b - a == pytest.approx(CAPTURED_REPORT_PERIOD_S, abs=1e-9)
    for temp, flow in zip(temps, flows, strict=False):
        assert flow - temp == pytest.approx(0.81, abs=1e-9)
    assert all(f == Frame(Command.WATER_TEMP, 60) for t, f in rig.received if t > 6 and f[0] == 6)


@pytest.mark.parametrize(
    ("request_frame", "reply"),
    [
        (Frame(Command.KEEPALIVE, 0), Frame(Command.KEEPALIVE, 0x86)),
        (Frame(Command.HANDSHAKE, 0), Frame(Command.HANDSHAKE, 0x01)),
        (Frame(Command.HANDSHAKE_11, 0), Frame(Command.HANDSHAKE_11, 0x00)),
        (Frame(Command.INIT_10, 0), Frame(Command.INIT_10, 0x00)),
    ],
)
def test_handshake_frames_are_answered_at_once(request_frame: Frame, reply: Frame) -> None:
    rig = Rig()
    rig.boot()
    sent_at = rig.scheduler.now()
    rig.send(request_frame)
    rig.advance(0.02)
    answers = rig.frames_since(sent_at, request_frame.command)
    assert [f for _, f in answers] == [reply]
    assert answers[0][0] == pytest.approx(sent_at + 2 * FRAME_SECONDS)


def test_variant_b_box_takes_uvc_on_0x10_and_still_echoes() -> None:
    rig = Rig("elite-6")
    rig.boot()
    rig.press(filter=True, uvc=True)
    start = rig.scheduler.now()
    assert rig.box.driven()["uvc"] and rig.box.load_powers()["uvc"] == rig.profile.uvc_w
    rig.send(Frame(Command.INIT_10, 1))
    rig.advance(0.02)
    assert [f for _, f in rig.frames_since(start, Command.INIT_10)] == [Frame(Command.INIT_10, 1)]
    # 0x15 means nothing to a variant B box.
    rig.send(Frame(Command.UVC, 0))
    rig.advance(0.02)
    assert rig.box.driven()["uvc"]


def test_nothing_is_answered_before_the_firmware_runs() -> None:
    rig = Rig()
    rig.scheduler.run_until(2.0)
    rig.send(Frame(Command.HANDSHAKE, 0))
    rig.advance(1.0)
    assert rig.received == []
    assert rig.box.counters.frames == 0


def test_partial_frame_is_dropped_after_100_ms() -> None:
    rig = Rig()
    rig.boot()
    frame = encode(Command.FILTER, 1)
    rig.cable.remote.send(frame[:2])
    rig.advance(0.15)
    rig.cable.remote.send(frame[2:])
    rig.advance(0.05)
    assert not rig.box.driven()["filter"]
    assert rig.box.counters.timeouts == 1
    rig.cable.remote.send(frame[:2])
    rig.advance(0.05)
    rig.cable.remote.send(frame[2:])
    rig.advance(0.05)
    assert rig.box.driven()["filter"]


# ---------------------------------------------------------------- loads & limits


def test_filter_heater_and_meter() -> None:
    rig = Rig(water_c=30.0)
    rig.boot()
    assert rig.box.meter().power_w == pytest.approx(rig.profile.standby_w)
    rig.press(filter=True, heater=True)
    powers = rig.box.load_powers()
    assert powers["filter"] == 60 and powers["heater"] == 1500
    meter = rig.box.meter()
    assert meter.power_w == pytest.approx(60 + 1500 + 2)
    assert meter.current_a == pytest.approx(meter.power_w / 230)
    assert rig.box.flow.inlet and rig.box.flow.outlet
    rig.advance(2.0)
    assert rig.frames_since(rig.scheduler.now() - 1.5, Command.FLOW)[-1][1] == Frame(
        Command.FLOW, 3
    )


def test_heater_switches_from_stage_1_to_stage_2_after_10_s() -> None:
    rig = Rig(water_c=30.0)
    rig.boot()
    rig.press(filter=True, heater=True)
    on_at = rig.scheduler.now() - 0.1 + FRAME_SECONDS * len(key_press_burst(RemoteState()))
    rig.scheduler.run_until(on_at + 9.999)
    assert rig.box.region_states()["heater"] == "stage1"
    assert rig.box.load_powers()["heater"] == rig.profile.heater_stage1_w
    rig.scheduler.run_until(on_at + 10.001)
    assert rig.box.region_states()["heater"] == "stage2"
    assert rig.box.load_powers()["heater"] == rig.profile.heater_stage2_w


def test_heater_is_locked_out_without_flow() -> None:
    rig = Rig(water_c=30.0)
    rig.boot()
    rig.press(heater=True)
    assert rig.box.region_states()["heater"] == "locked_no_flow"
    assert rig.box.load_powers()["heater"] == 0
    assert not rig.box.driven()["heater"]
    rig.press(heater=True, filter=True)
    assert rig.box.region_states()["heater"] == "stage1"
    rig.press(heater=True, filter=False)
    assert rig.box.region_states()["heater"] == "locked_no_flow"
    assert not rig.box.energised()["heater"]


@pytest.mark.parametrize("seed", range(4))
def test_over_temperature_cut_on_the_sensor_reading_with_a_margin(seed: int) -> None:
    """The firmware cuts on its own (noisy, 0.5 °C) reading — the one it reports in 06 —
    at 42 − 0.6 °C, so the true water stays below 42 °C; it restarts on the first reading
    below 40 °C. Judged from the wire, the heater's power and the true water."""
    rig = Rig(water_c=40.6, tank_litres=20, ambient_c=20.0, noise=True, seed=seed)
    reports: list[tuple[float, bool]] = []  # (reading °C, heater drawing power on arrival)
    decoder = FrameDecoder()

    def on_receive(data: bytes) -> None:
        heating = rig.box.load_powers()["heater"] > 0
        for frame in decoder.feed(data, rig.scheduler.now()):
            if frame.command == Command.WATER_TEMP:
                reports.append((frame.parameter / 2, heating))

    rig.cable.remote.on_receive = on_receive
    rig.boot()
    rig.press(filter=True, heater=True)
    rig.start_state_cycle(RemoteState(filter=True, heater=True))
    for _ in range(40000):  # 2000 s in 50 ms steps
        rig.advance(0.05)
        if rig.box.load_powers()["heater"] > 0:
            assert rig.box.water_c < 42.0
    readings = [celsius for celsius, _ in reports]
    heating = [on for _, on in reports]
    assert max(readings) >= 41.5
    # Every reading at or above 41.4 °C has the heater off by the time the report lands...
    assert all(not on for c, on in zip(readings, heating, strict=True) if c >= 41.4)
    # ...and the heater stayed on through every lower reading until the first cut.
    cut = heating.index(False, heating.index(True))
    assert readings[cut] >= 41.4 and all(c < 41.4 for c in readings[:cut])
    # Locked out until the first reading below 40 °C, which restarts it at once.
    restart = heating.index(True, cut)
    assert readings[restart] < 40.0
    assert all(c >= 40.0 for c in readings[cut:restart])


def test_heater_cut_when_water_is_poured_in_above_42() -> None:
    rig = Rig(water_c=35.0)
    rig.boot()
    rig.press(filter=True, heater=True)
    assert rig.box.load_powers()["heater"] > 0
    rig.box.set_water(43.0)
    assert rig.box.load_powers()["heater"] == 0
    rig.box.set_water(41.0)  # hysteresis: still too warm to restart
    rig.advance(5)
    assert rig.box.load_powers()["heater"] == 0
    rig.box.set_water(39.0)
    assert rig.box.load_powers()["heater"] == rig.profile.heater_stage1_w


def test_a_tank_smaller_than_the_margin_allows_is_refused() -> None:
    with pytest.raises(ValueError, match=r"5 L is below the 20 L .*min_litres"):
        VirtualBox(Scheduler(), None, "premium-4", tank_litres=5)


def test_ozone_and_uvc_need_the_filter_pump() -> None:
    rig = Rig()
    rig.boot()
    rig.press(ozone=True, uvc=True)
    assert rig.box.region_states()["ozone"] == "needs_filter"
    assert not rig.box.driven()["ozone"] and not rig.box.driven()["uvc"]
    rig.press(ozone=True, uvc=True, filter=True)
    assert rig.box.driven()["ozone"] and rig.box.driven()["uvc"]
    assert rig.box.load_powers()["ozone"] == 10 and rig.box.load_powers()["uvc"] == 15


def test_profile_without_uvc_never_drives_it() -> None:
    rig = Rig("concept-4")
    rig.boot()
    rig.press(filter=True, uvc=True)
    assert not rig.box.driven()["uvc"] and rig.box.load_powers()["uvc"] == 0


def test_knob_at_inflate_sends_the_air_to_the_bladder() -> None:
    rig = Rig()
    rig.boot()
    rig.box.set_knob("inflate")
    rig.press(bubbles=3)
    assert rig.box.region_states()["blower"] == "inflating"
    assert rig.box.load_powers()["blower"] == 900
    assert not rig.box.bubbles_visible
    rig.box.set_knob("off")
    assert rig.box.region_states()["blower"] == "level3" and rig.box.bubbles_visible
    with pytest.raises(ValueError, match="knob position"):
        rig.box.set_knob("sideways")


def test_setpoint_is_kept_and_reset_to_default_at_power_on() -> None:
    rig = Rig()
    rig.boot()
    assert rig.box.setpoint == 40
    rig.send(Frame(Command.KEY_PRESS, 0), Frame(Command.SETPOINT, 37))
    rig.advance(0.1)
    assert rig.box.setpoint == 37
    rig.box.set_mains(False)
    rig.box.set_mains(True)
    rig.boot()
    assert rig.box.setpoint == 40


# ---------------------------------------------------------------- auto-off


@pytest.mark.parametrize(("profile", "minutes"), [("premium-4", 10), ("aurora-urban", 20)])
def test_bubbles_stop_exactly_at_the_profile_minutes(profile: str, minutes: int) -> None:
    rig = Rig(profile)
    rig.boot()
    assert rig.profile.blower_auto_off_min == minutes
    rig.send(Frame(Command.BUBBLES, 2))
    on_at = rig.scheduler.now() + FRAME_SECONDS
    # The remote keeps repeating "bubbles 2" every 7.5 s: repeats must not restart anything.
    rig.start_state_cycle(RemoteState(bubbles=2))
    rig.scheduler.run_until(on_at + minutes * 60 - 0.001)
    assert rig.box.driven()["blower"] and rig.box.blower_level == 2
    rig.scheduler.run_until(on_at + minutes * 60 + 0.001)
    assert not rig.box.driven()["blower"] and rig.box.load_powers()["blower"] == 0
    rig.advance(3 * minutes * 60)
    assert not rig.box.driven()["blower"]


def test_bubbles_restart_only_on_a_changed_level() -> None:
    """SPEC §4 inv. 3: the bubble command that switched the blower on or changed its level
    arms the auto-off; repeats of the same level (state cycle, any key press) do not."""
    rig = Rig()
    rig.boot()
    remote = rig.start_state_cycle(RemoteState(bubbles=1))  # keeps the link alive
    rig.send(Frame(Command.BUBBLES, 1))
    rig.advance(601)
    assert rig.box.load_powers()["blower"] == 0
    rig.send(Frame(Command.BUBBLES, 1))  # a repeat: stays off
    rig.press(bubbles=1)  # a key press repeating the level: stays off
    rig.advance(1)
    assert rig.box.load_powers()["blower"] == 0
    remote[0] = RemoteState(bubbles=3)
    rig.send(Frame(Command.BUBBLES, 3))  # a change: on again, timer armed
    on_at = rig.scheduler.now() + FRAME_SECONDS
    rig.advance(1)
    assert rig.box.load_powers()["blower"] == rig.profile.blower_w(3)
    rig.advance(300)
    remote[0] = RemoteState(bubbles=3, filter=True)
    rig.press(bubbles=3, filter=True)  # another key: the blower's timer is not re-armed
    assert rig.box.load_powers()["filter"] > 0
    rig.scheduler.run_until(on_at + 600 - 0.01)
    assert rig.box.load_powers()["blower"] == rig.profile.blower_w(3)
    rig.scheduler.run_until(on_at + 600 + 0.01)
    assert rig.box.load_powers()["blower"] == 0
    remote[0] = RemoteState(bubbles=0, filter=True)
    rig.press(bubbles=0, filter=True)
    rig.press(bubbles=2, filter=True)  # off then a level again: a change
    assert rig.box.load_powers()["blower"] == rig.profile.blower_w(2)
    rig.press(bubbles=0, filter=True)
    assert rig.box.load_powers()["blower"] == 0
    rig.press(bubbles=0, filter=True)  # a key press with bubbles off does not start them
    assert rig.box.load_powers()["blower"] == 0


def test_the_firmware_tells_when_it_armed_the_auto_off() -> None:
    """``armed_at`` is the instant of the change that (re)started the timer — what the
    ``simulate`` recorder reports instead of guessing it from the load's states."""
    rig = Rig()
    rig.boot()
    request = rig.box.requests.auto_offs["bubbles"]
    assert request is rig.box.requests.bubbles and request.armed_at is None
    remote = rig.start_state_cycle(RemoteState(bubbles=1))
    sent = rig.scheduler.now()
    rig.send(Frame(Command.BUBBLES, 1))
    rig.advance(0.1)
    armed = request.armed_at
    assert armed is not None and sent < armed < sent + 0.1  # when the frame arrived
    rig.advance(60)
    assert request.armed_at == armed  # the state cycle's repeats re-arm nothing
    remote[0] = RemoteState(bubbles=2)
    sent = rig.scheduler.now()
    rig.send(Frame(Command.BUBBLES, 2))
    rig.advance(0.1)
    armed = request.armed_at
    assert armed is not None and sent < armed < sent + 0.1  # a new level re-arms
    rig.advance(601)
    assert rig.box.blower_level == 0
    assert request.armed_at == armed  # kept after the timer ran out
    rig.box.set_mains(False)
    assert request.armed_at is None  # power loss: forgotten with everything else


def test_silence_makes_the_next_repeat_count_as_a_command() -> None:
    rig = Rig()
    rig.boot()
    rig.send(Frame(Command.BUBBLES, 1))
    rig.advance(601)  # auto-off at 600 s, and the watchdog forgot everything at 30 s
    assert not rig.box.driven()["blower"]
    rig.send(Frame(Command.BUBBLES, 1))
    rig.advance(1)
    assert rig.box.blower_level == 1


@pytest.mark.parametrize("load", ["ozone", "uvc"])
@pytest.mark.parametrize("profile", ["premium-4", "elite-6"])
def test_ozone_and_uvc_stop_after_two_hours(profile: str, load: str) -> None:
    rig = Rig(profile)
    rig.boot()
    rig.press(filter=True, **{load: True})
    on_at = rig.scheduler.now() - 0.1 + FRAME_SECONDS * len(key_press_burst(RemoteState()))
    rig.start_state_cycle(RemoteState(filter=True, **{load: True}))
    rig.scheduler.run_until(on_at + 2 * 3600 - 0.01)
    assert rig.box.driven()[load]
    rig.scheduler.run_until(on_at + 2 * 3600 + 0.01)
    assert not rig.box.driven()[load] and rig.box.load_powers()[load] == 0
    assert rig.box.driven()["filter"]
    rig.advance(3600)
    assert not rig.box.driven()[load]


# ---------------------------------------------------------------- PRCD, mains, watchdog


def test_prcd_test_stops_the_unit_and_reset_restarts_it() -> None:
    rig = Rig()
    rig.boot()
    rig.press(filter=True, heater=True, bubbles=2)
    assert rig.box.prcd_light
    rig.box.press_prcd_test()
    tripped_at = rig.scheduler.now()
    assert rig.box.prcd_tripped and not rig.box.prcd_light and not rig.box.powered
    assert rig.box.meter().power_w == 0 and not any(rig.box.energised().values())
    rig.advance(60)
    assert rig.frames_since(tripped_at + FRAME_SECONDS) == []
    rig.box.press_prcd_reset()
    reset_at = rig.scheduler.now()
    assert rig.box.prcd_light and not rig.box.prcd_tripped
    rig.advance(8)
    frames = [f for _, f in rig.frames_since(reset_at)]
    assert frames[:2] == [Frame(Command.BOOT_09, 0), Frame(Command.BOOT_07, 0x0C)]
    # Loads do not come back by themselves after a reboot.
    assert not any(rig.box.driven().values())


def test_prcd_test_does_nothing_without_mains() -> None:
    rig = Rig(mains_on=False)
    rig.box.press_prcd_test()
    assert not rig.box.prcd_tripped
    rig.box.set_mains(True)
    rig.boot()


def test_mains_off_and_on_reboots() -> None:
    rig = Rig()
    rig.boot()
    rig.press(filter=True)
    rig.box.set_mains(False)
    assert not rig.box.powered and rig.box.meter() == MeterReading(0.0, 0.0, 0.0)
    off_at = rig.scheduler.now()
    rig.advance(30)
    assert rig.frames_since(off_at + FRAME_SECONDS) == []
    rig.box.set_mains(True)
    rig.boot()
    assert rig.box.boots == 2 and not rig.box.driven()["filter"]


def test_a_box_plugged_in_later_boots_then_and_not_before() -> None:
    rig = Rig(mains_on=False)
    rig.box.plug_in_at(0.75)
    rig.advance(0.7)
    assert rig.received == [] and not rig.box.powered
    rig.advance(0.1)
    assert rig.box.powered
    rig.boot()
    assert rig.received[0][1] == Frame(Command.BOOT_09, 0)
    assert rig.received[0][0] >= 0.75, "its power-on frames come once it is plugged in"


def test_a_mains_action_before_a_pending_plug_in_cancels_it() -> None:
    """The control channel's ``mains off`` is the technician's word: a plug-in scheduled
    by ``serve --count`` must not power the box on behind it."""
    rig = Rig(mains_on=False)
    rig.box.plug_in_at(0.75)
    rig.box.set_mains(False)
    rig.advance(30)
    assert rig.received == [] and not rig.box.powered
    rig.box.plug_in_at(31.0)
    rig.box.set_mains(True)  # plugged in now, by hand: one boot, not a second at 31 s
    rig.advance(20)
    assert rig.box.boots == 1


def test_watchdog_fail_safe_after_30_s_of_silence() -> None:
    rig = Rig()
    rig.boot()
    rig.press(filter=True, heater=True, bubbles=2, ozone=True)
    last_frame = rig.scheduler.now() - 0.1 + FRAME_SECONDS * len(key_press_burst(RemoteState()))
    rig.scheduler.run_until(last_frame + 29.99)
    assert all(rig.box.driven()[load] for load in ("filter", "heater", "blower", "ozone"))
    rig.scheduler.run_until(last_frame + 30.01)
    assert not any(rig.box.driven().values())
    assert rig.box.region_states()["watchdog"] == "failsafe"
    # Reports continue in fail-safe.
    rig.advance(5)
    assert len(rig.frames_since(last_frame + 30.01, Command.WATER_TEMP)) == 5
    # The remote's next state frames command the loads again, even unchanged ones.
    rig.send(*state_frames(RemoteState(filter=True, bubbles=2)))
    rig.advance(0.1)
    assert rig.box.region_states()["watchdog"] == "listening"
    assert rig.box.driven()["filter"] and rig.box.blower_level == 2


def test_keep_alive_alone_keeps_the_watchdog_fed() -> None:
    rig = Rig()
    rig.boot()
    rig.press(filter=True)
    for _ in range(10):
        rig.advance(20)
        rig.send(Frame(Command.KEEPALIVE, 0))
    assert rig.box.driven()["filter"]


# ---------------------------------------------------------------- invariant 5


OUT_OF_RANGE = [
    Frame(Command.BUBBLES, 7),
    Frame(Command.SETPOINT, 90),
    Frame(Command.SETPOINT, 9),  # below the plate's 10 °C
    Frame(Command.SETPOINT, 41),  # above its 40 °C
    Frame(Command.HEATER, 2),
    Frame(Command.FILTER, 2),
    Frame(Command.OZONE, 2),
    Frame(Command.UVC, 2),
    Frame(Command.KEY_PRESS, 1),
    Frame(Command.HANDSHAKE, 5),
    Frame(Command.CYCLE_0D, 1),
    Frame(0x05, 0),
    Frame(0x17, 1),
    Frame(0x42, 0),
    Frame(Command.WATER_TEMP, 0x40),
]


@pytest.mark.parametrize("frame", OUT_OF_RANGE, ids=repr)
def test_out_of_range_frames_change_nothing(frame: Frame) -> None:
    rig = Rig()
    rig.boot()
    rig.press(filter=True, heater=True, bubbles=1, setpoint=38)
    rig.advance(5)
    before = rig.box.snapshot()
    sent_at = rig.scheduler.now()
    ignored = rig.box.ignored_frames
    rig.send(frame)
    rig.scheduler.run_until(sent_at + FRAME_SECONDS)
    assert rig.box.snapshot() == before
    assert rig.box.ignored_frames == ignored + 1
    rig.advance(0.05)
    assert rig.frames_since(sent_at) == []  # no answer either


def test_bad_sums_and_garbage_change_nothing_and_are_counted() -> None:
    rig = Rig()
    rig.boot()
    rig.press(filter=True, bubbles=1)
    rig.advance(5)
    before = rig.box.snapshot()
    sent_at = rig.scheduler.now()
    bad = bytearray(encode(Command.BUBBLES, 3))
    bad[3] ^= 0x10
    rig.cable.remote.send(bytes(bad) + b"\x00\x13\x37\xff")
    rig.scheduler.run_until(sent_at + 8 * FRAME_SECONDS / 4)
    assert rig.box.snapshot() == before
    assert rig.box.counters.bad_checksums == 1
    assert rig.box.counters.discarded_bytes >= 4


# ---------------------------------------------------------------- plumbing


def test_detach_and_attach_another_cable() -> None:
    rig = Rig()
    rig.boot()
    rig.box.detach()
    detached_at = rig.scheduler.now()
    rig.advance(5)
    assert rig.frames_since(detached_at + FRAME_SECONDS) == []
    other = SimCable(rig.scheduler)
    got: list[bytes] = []
    other.remote.on_receive = got.append
    rig.box.attach(other.box)
    rig.advance(2)
    assert len(got) >= 2 and rig.box.port is other.box


def test_sensor_noise_is_seeded_clipped_and_quantised() -> None:
    def reports(seed: int) -> list[int]:
        rig = Rig(water_c=30.2, noise=True, seed=seed)
        rig.advance(600)
        return [f.parameter for _, f in rig.received if f.command == Command.WATER_TEMP]

    first, again, other = reports(1), reports(1), reports(2)
    assert first == again and first != other
    # 30.2 ± 0.3 quantised to 0.5 °C: only 30.0 or 30.5 are possible.
    assert set(first) == {60, 61}


def test_close_stops_every_event() -> None:
    rig = Rig()
    rig.boot()
    rig.press(filter=True, heater=True, bubbles=2, ozone=True)
    rig.box.close()
    # A frame the box handed to the cable just before may still be on the wire (4.17 ms);
    # the box itself has nothing left to do.
    rig.scheduler.run_until(rig.scheduler.now() + 2 * FRAME_SECONDS)
    assert rig.scheduler.next_time() is None


def test_boards_are_garbage_collected() -> None:
    """The shared region machines keep no reference to a board (many boards, no leak)."""
    from spasim.regions import MACHINES

    scheduler = Scheduler()
    box = VirtualBox(scheduler, None)
    ref = weakref.ref(box)
    assert all(not machine.models for machine in MACHINES.values())
    del box, scheduler  # cancelled events stay on the heap until due: drop it too
    gc.collect()
    assert ref() is None


def test_unknown_profile_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="premium-4"):
        VirtualBox(Scheduler(), None, "premium-9")


def test_profile_figures_reach_the_box() -> None:
    profile = load_profile("premium-6")
    rig = Rig(profile)
    assert rig.box.litres == 930 and rig.box.profile is profile


# ---------------------------------------------------------------- diagram command


def test_diagram_mermaid_shows_every_region_state_and_guard(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from spasim.cli import main
    from spasim.regions import MACHINES, REGION_TYPES

    assert main(["diagram"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("stateDiagram-v2\n")
    for region, machine_name in REGION_TYPES.items():
        assert f"state {region} {{" in text
        for state in MACHINES[machine_name].states:
            assert f'state "{state}" as {region}_{state}' in text
    assert "power_tripped --> power_booting: reset [prcd_closes, has_mains, !board_faulty]" in text
    assert "heater_stage1 --> heater_stage2: stage_up" in text


def test_diagram_dot_for_one_region(tmp_path: Path) -> None:
    from spasim.cli import main

    out = tmp_path / "blower.dot"
    assert main(["diagram", "--region", "blower", "--format", "dot", "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert text.startswith("digraph spasim {") and text.count("{") == text.count("}")
    assert '"blower.off" -> "blower.inflating" [label="inflate"];' in text
    assert "cluster_heater" not in text


def test_diagram_images_need_graphviz(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from spasim.cli import main
    from spasim.cli.diagram import graphviz_available

    with pytest.raises(SystemExit) as exit_info:
        main(["diagram", "--format", "png"])  # binary data needs a file
    assert exit_info.value.code == 2
    out = tmp_path / "box.svg"
    code = main(["diagram", "--format", "svg", "-o", str(out)])
    if graphviz_available():
        assert code == 0 and out.read_bytes().lstrip().startswith((b"<?xml", b"<svg"))
    else:
        assert code == 3 and "--format svg needs" in capsys.readouterr().err
        assert not out.exists()


def test_a_faster_sensor_poll_keeps_the_report_period() -> None:
    """``[sensor] poll_s`` below the report period: reports stay once a second and carry
    the latest reading; the heater still stops on a reading, between two reports."""
    profile = dataclasses.replace(load_profile("premium-4"), sensor_poll_s=0.25)
    rig = Rig(profile, water_c=30.0, tank_litres=20)
    rig.boot()
    rig.press(filter=True, heater=True)
    rig.start_state_cycle(RemoteState(filter=True, heater=True))
    start = rig.scheduler.now()
    rig.advance(10)
    assert len(rig.frames_since(start, Command.WATER_TEMP)) == 10
    rig.box.set_water(41.2)  # reads 41.0: heating goes on
    assert rig.box.load_powers()["heater"] > 0
    for _ in range(200):
        rig.advance(0.25)
        if rig.box.load_powers()["heater"] == 0:
            break
    assert rig.box.load_powers()["heater"] == 0 and 41.25 <= rig.box.water_c < 41.5
