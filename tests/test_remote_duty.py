"""RemoteDuty against a scripted fake box on a simulated cable (no wall clock anywhere).

The fake box is deliberately dumb: it answers handshake and keep-alive frames exactly as
SPEC §3 says a box does and sends what the test tells it to, so every assertion is about
the remote's behaviour alone.
"""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from support.sim import heat_demand

from protocols.clock import Scheduler
from protocols.mspa import (
    HANDSHAKE_REPLIES,
    REMOTE_HANDSHAKE,
    STATE_CYCLE,
    Command,
    Frame,
    FrameDecoder,
    RemoteState,
    encode_temperature,
)
from protocols.mspa.models import ModelPlate, load_model
from protocols.mspa.remote import BOOT_REPLY_SECONDS, FIRST_STATE_SECONDS, RemoteDuty
from protocols.mspa.values import auto_off_change
from protocols.ports import SimCable
from spasim.remote import VirtualRemote

BOX_BOOT_09 = 5.46
BOX_BOOT_07 = 5.66
FRAME_TIME = 4 * 10 / 9600


class FakeBox:
    """The box end of the cable: records what the remote sends, answers handshakes."""

    def __init__(self, scheduler: Scheduler, cable: SimCable, *, answering: bool = True) -> None:
        self.scheduler = scheduler
        self.port = cable.box
        self.port.on_receive = self._on_bytes
        self.decoder = FrameDecoder()
        self.heard: list[tuple[float, Frame]] = []
        self.answering = answering

    def _on_bytes(self, data: bytes) -> None:
        now = self.scheduler.now()
        for frame in self.decoder.feed(data, now):
            self.heard.append((now, frame))
            reply = HANDSHAKE_REPLIES.get(frame.command)
            if self.answering and reply is not None and frame.parameter == 0x00:
                self.send(reply)

    def send(self, frame: Frame) -> None:
        self.port.send(bytes(frame))

    def send_at(self, time: float, frame: Frame) -> None:
        self.scheduler.call_at(time, self.send, frame)

    def boot(self) -> None:
        """The captured power-on: 09 00 at 5.46 s, 07 0C at 5.66 s."""
        self.send_at(BOX_BOOT_09, Frame(Command.BOOT_09, 0x00))
        self.send_at(BOX_BOOT_07, Frame(Command.BOOT_07, 0x0C))

    def report_water(self, celsius: float) -> None:
        self.send(Frame(Command.WATER_TEMP, encode_temperature(celsius)))

    def frames(self, since: float = 0.0, until: float = float("inf")) -> list[Frame]:
        return [frame for time, frame in self.heard if since <= time <= until]

    def times_of(self, command: int, since: float = 0.0) -> list[float]:
        return [time for time, frame in self.heard if frame.command == command and time >= since]


def rig(
    *, answering: bool = True, boot: bool = True, **options: object
) -> tuple[Scheduler, FakeBox, RemoteDuty]:
    scheduler = Scheduler()
    cable = SimCable(scheduler)
    box = FakeBox(scheduler, cable, answering=answering)
    duty = RemoteDuty(scheduler, cable.remote, **options)  # type: ignore[arg-type]
    if boot:
        box.boot()
    duty.start()
    return scheduler, box, duty


def handshaken(**options: object) -> tuple[Scheduler, FakeBox, RemoteDuty]:
    scheduler, box, duty = rig(**options)
    scheduler.run_until(7.0)
    assert duty.handshake_done
    return scheduler, box, duty


def burst(state: RemoteState, *, uvc: int = Command.UVC, setpoint: bool = False) -> list[Frame]:
    """The capture's key-press burst: 01 02 03 0D 0E 15 16, then 04 (research: MW log)."""
    frames = [
        Frame(Command.HEATER, int(state.heater)),
        Frame(Command.FILTER, int(state.filter)),
        Frame(Command.BUBBLES, state.bubbles),
        Frame(Command.CYCLE_0D, 0),
        Frame(Command.OZONE, int(state.ozone)),
        Frame(uvc, int(state.uvc)),
        Frame(Command.KEY_PRESS, 0),
    ]
    if setpoint:
        frames.append(Frame(Command.SETPOINT, state.setpoint))
    return frames


# -- handshake ---------------------------------------------------------------------------


def test_power_on_follows_the_capture() -> None:
    scheduler, box, duty = rig()
    scheduler.run_until(BOX_BOOT_07)
    assert box.heard == [], "a remote powered on with the box waits for it to boot"
    scheduler.run_until(6.2)
    assert duty.handshake_done
    assert duty.handshake_attempts == 1
    sent = box.frames()
    assert sent[:5] == [*REMOTE_HANDSHAKE, Frame(Command.HEATER, 0)]
    first_time = box.heard[0][0]
    # Sent 0.23 s after 07 0C finished arriving, received one frame time later.
    assert first_time == pytest.approx(BOX_BOOT_07 + FRAME_TIME + BOOT_REPLY_SECONDS + FRAME_TIME)
    handshake_end = box.heard[3][0]
    assert handshake_end - first_time < 0.05, "each step follows its answer at once"
    assert box.heard[4][0] == pytest.approx(
        duty.handshake_done_at + FIRST_STATE_SECONDS + FRAME_TIME
    )
    assert duty.boot_frames_seen == 2


def test_handshake_waits_for_each_answer_in_turn() -> None:
    scheduler, box, duty = rig()
    box.answering = False
    scheduler.run_until(6.5)
    assert box.frames() == list(REMOTE_HANDSHAKE[:2]), "no 11 00 before the box said 0A 01"
    assert not duty.handshake_done


def test_unanswered_handshake_is_retried_until_the_box_answers() -> None:
    scheduler, box, duty = rig(answering=False, retry_seconds=2.0)
    scheduler.run_until(12.0)
    starts = box.times_of(Command.HANDSHAKE)
    assert len(starts) == 4  # 5.89, 7.89, 9.89, 11.89
    assert [round(b - a, 6) for a, b in itertools.pairwise(starts)] == [2.0] * 3
    assert not duty.handshake_done
    box.answering = True
    scheduler.run_until(14.0)
    assert duty.handshake_done
    assert duty.handshake_attempts == 5


def test_joining_a_running_box_handshakes_after_hearing_it() -> None:
    scheduler, box, duty = rig(boot=False, join_seconds=1.0, boot_wait_seconds=50.0)
    scheduler.call_every(1.0, box.report_water, 30.0, first=10.3)
    scheduler.run_until(11.0)
    assert not duty.handshake_done and box.heard == []
    scheduler.run_until(12.0)
    assert duty.handshake_done
    assert box.heard[0][0] == pytest.approx(10.3 + FRAME_TIME + 1.0 + FRAME_TIME)


def test_a_silent_box_is_spoken_to_after_the_boot_wait() -> None:
    scheduler, box, duty = rig(boot=False, boot_wait_seconds=8.0)
    scheduler.run_until(7.9)
    assert box.heard == []
    scheduler.run_until(8.1)
    assert duty.handshake_done, "a box that only talks when spoken to still gets a remote"


def test_box_reboot_restarts_the_handshake() -> None:
    scheduler, box, duty = handshaken()
    box.send_at(50.0, Frame(Command.BOOT_07, 0x0C))
    scheduler.run_until(50.1)
    assert not duty.handshake_done
    scheduler.run_until(51.0)
    assert duty.handshake_done
    assert duty.handshakes_completed == 2
    assert duty.boot_frames_seen == 3


# -- state cycle and keep-alive -------------------------------------------------------------


CAPTURE_OFFSETS = (0.0, 1.40, 2.90, 4.41, 5.91, 7.42)
"""Research (MW capture): 01, then 02 +1.40, 03 +2.90, 0D +4.41, 0E +5.91, 15 +7.42."""
CAPTURE_PERIOD = 7.517


def test_every_state_is_heard_at_least_every_cycle() -> None:
    scheduler, box, duty = handshaken()
    start = duty.handshake_done_at
    assert start is not None
    scheduler.run_until(start + 300.0)
    cycle_frames = [(t, f) for t, f in box.heard if t > start and f.command in STATE_CYCLE]
    assert [f.command for _, f in cycle_frames[:6]] == [
        Command.HEATER,
        Command.FILTER,
        Command.BUBBLES,
        Command.CYCLE_0D,
        Command.OZONE,
        Command.UVC,
    ]
    first = cycle_frames[0][0]
    assert first == pytest.approx(start + FIRST_STATE_SECONDS + FRAME_TIME)
    for n, (time, _) in enumerate(cycle_frames):
        expected = first + (n // 6) * CAPTURE_PERIOD + CAPTURE_OFFSETS[n % 6]
        assert time == pytest.approx(expected, abs=1e-6), f"cycle frame {n}"
    for command in STATE_CYCLE:
        times = box.times_of(command, since=start)
        assert len(times) >= 39
        assert max(b - a for a, b in itertools.pairwise(times)) <= CAPTURE_PERIOD + 1e-6


def test_variant_b_sends_init_10_in_place_of_uvc() -> None:
    scheduler, box, duty = handshaken(uvc_command=Command.INIT_10)
    duty.press(filter=True, uvc=True)
    scheduler.run_until(20.0)
    assert box.times_of(Command.UVC) == []
    uvc_frames = [f for f in box.frames(since=7.0) if f.command == Command.INIT_10]
    assert uvc_frames and all(f.parameter == 1 for f in uvc_frames)


def test_keepalive_every_minute_and_replies_are_counted() -> None:
    scheduler, box, duty = handshaken(keepalive_seconds=60.0)
    done = duty.handshake_done_at
    assert done is not None
    scheduler.run_until(done + 5 * 60 + 1)
    keepalives = box.times_of(Command.KEEPALIVE, since=done + 1)
    assert [round(t - done - FRAME_TIME, 6) for t in keepalives] == [
        60.0,
        120.0,
        180.0,
        240.0,
        300.0,
    ]
    assert duty.keepalives_sent == 5
    assert duty.keepalive_replies == 6  # five, plus the one in the handshake


# -- key presses -----------------------------------------------------------------------------


def test_key_press_sends_the_whole_state_then_the_marker() -> None:
    scheduler, box, duty = handshaken()
    scheduler.run_until(20.0)
    mark = len(box.heard)
    new = duty.press(filter=True, bubbles=2)
    scheduler.run_until(20.0 + 7 * FRAME_TIME + 1e-9)
    assert box.frames()[mark:] == burst(new)
    assert new == RemoteState(filter=True, bubbles=2)


def test_setpoint_change_burst_ends_with_04() -> None:
    scheduler, box, duty = handshaken()
    scheduler.run_until(20.0)
    mark = len(box.heard)
    new = duty.press(setpoint=37)
    scheduler.run_until(20.1)
    sent = box.frames()[mark:]
    assert sent == burst(new, setpoint=True)
    assert sent[-2:] == [Frame(Command.KEY_PRESS, 0), Frame(Command.SETPOINT, 0x25)]


def test_press_before_the_handshake_is_carried_by_the_cycle() -> None:
    scheduler, box, duty = rig()
    duty.press(filter=True)
    scheduler.run_until(5.0)
    assert box.heard == []
    scheduler.run_until(15.0)
    filters = [f for f in box.frames() if f.command == Command.FILTER]
    assert filters and all(f.parameter == 1 for f in filters)
    assert Frame(Command.KEY_PRESS, 0) not in box.frames()


def test_bad_presses_change_nothing() -> None:
    scheduler, box, duty = handshaken()
    mark = len(box.heard)
    with pytest.raises(ValueError, match="bubble"):
        duty.press(bubbles=7)
    with pytest.raises(ValueError, match="set-point"):
        duty.press(setpoint=90)
    with pytest.raises(ValueError, match="no jets"):
        duty.press(jets=True)
    with pytest.raises(ValueError, match="unknown"):
        duty.press(turbo=True)
    assert duty.state == RemoteState()
    scheduler.run_until(scheduler.now() + 0.5)
    assert Frame(Command.KEY_PRESS, 0) not in box.frames()[mark:]


# -- thermostat ------------------------------------------------------------------------------


def heater_frames(box: FakeBox, since: float) -> list[tuple[float, int]]:
    return [(t, f.parameter) for t, f in box.heard if t >= since and f.command == Command.HEATER]


def test_thermostat_toggles_heater_with_hysteresis() -> None:
    """SPEC §3: the remote toggles 0x01 *around* the set-point, hysteresis 1 °C: off at
    set-point + 0.5, on again at set-point − 0.5, unchanged in between."""
    scheduler, box, duty = handshaken(hysteresis=1.0)
    duty.press(heater=True, filter=True, setpoint=37)
    steps = [(30.0, 35.0), (40.0, 37.0), (50.0, 37.5), (60.0, 37.0), (70.0, 36.5), (80.0, 38.0)]
    for time, celsius in steps:
        scheduler.call_at(time, box.report_water, celsius)
    expected = {30.0: True, 40.0: True, 50.0: False, 60.0: False, 70.0: True, 80.0: False}
    for time, heating in expected.items():
        scheduler.run_until(time + 0.5)
        assert duty.heater_output is heating, f"at {time} s"
        # The change reaches the box at once, not at the next cycle slot.
        last = heater_frames(box, since=time)
        if time in (50.0, 70.0, 80.0):
            assert last and last[0][1] == int(heating)
            assert last[0][0] < time + 0.05
    scheduler.run_until(95.0)
    assert all(p == 0 for _, p in heater_frames(box, since=81.0)), "cycle agrees with thermostat"


def test_thermostat_only_acts_while_the_heater_key_is_on() -> None:
    scheduler, box, duty = handshaken()
    duty.press(setpoint=37)
    scheduler.call_at(30.0, box.report_water, 30.0)
    scheduler.run_until(40.0)
    assert heat_demand(duty) and not duty.heater_output
    assert all(p == 0 for _, p in heater_frames(box, since=0.0))


def test_without_thermostat_the_heater_key_goes_straight_through() -> None:
    scheduler, box, duty = handshaken(thermostat=False)
    duty.press(heater=True, setpoint=30)
    scheduler.call_at(30.0, box.report_water, 38.0)
    scheduler.run_until(45.0)
    assert duty.heater_output
    assert all(p == 1 for _, p in heater_frames(box, since=30.0))


# -- auto-off mirror -------------------------------------------------------------------------


@pytest.mark.parametrize("minutes", [10.0, 20.0])
def test_bubble_auto_off_mirror_stops_asking_for_bubbles(minutes: float) -> None:
    scheduler, box, duty = handshaken(bubble_auto_off_minutes=minutes)
    duty.press(bubbles=3)
    pressed = scheduler.now()
    off_at = pressed + minutes * 60
    scheduler.run_until(off_at - 0.01)
    assert duty.state.bubbles == 3
    levels = [f.parameter for f in box.frames(since=pressed + 1) if f.command == Command.BUBBLES]
    assert levels and set(levels) == {3}
    scheduler.run_until(off_at + 30)
    assert duty.state.bubbles == 0
    later = [f.parameter for f in box.frames(since=off_at) if f.command == Command.BUBBLES]
    assert later and set(later) == {0}


def test_another_key_press_does_not_restart_the_auto_off_like_the_box() -> None:
    # SPEC §4 inv. 3: the timer runs from the bubble command that switched the blower on or
    # changed its level; a burst repeating the same level (another key) does not re-arm it.
    scheduler, _box, duty = handshaken(bubble_auto_off_minutes=10.0)
    duty.press(bubbles=1)
    pressed = scheduler.now()
    scheduler.run_until(pressed + 300)
    duty.press(filter=True)
    scheduler.run_until(pressed + 599)
    assert duty.state.bubbles == 1
    scheduler.run_until(pressed + 600 + 1)
    assert duty.state.bubbles == 0


def test_a_new_bubble_level_restarts_the_auto_off() -> None:
    scheduler, _box, duty = handshaken(bubble_auto_off_minutes=10.0)
    duty.press(bubbles=1)
    scheduler.run_until(scheduler.now() + 300)
    duty.press(bubbles=2)
    changed = scheduler.now()
    scheduler.run_until(changed + 599)
    assert duty.state.bubbles == 2
    scheduler.run_until(changed + 601)
    assert duty.state.bubbles == 0


def test_bubbles_switched_off_and_on_again_get_a_fresh_timer() -> None:
    scheduler, _box, duty = handshaken(bubble_auto_off_minutes=10.0)
    duty.press(bubbles=1)
    scheduler.run_until(scheduler.now() + 300)
    duty.press(bubbles=0)
    duty.press(bubbles=2)
    again = scheduler.now()
    scheduler.run_until(again + 599)
    assert duty.state.bubbles == 2
    scheduler.run_until(again + 601)
    assert duty.state.bubbles == 0


# -- observations and hooks ------------------------------------------------------------------


def test_frame_hook_sees_both_directions_and_observations_are_kept() -> None:
    log: list[tuple[float, str, Frame]] = []
    scheduler, box, duty = rig(on_frame=lambda t, who, f: log.append((t, who, f)))
    scheduler.run_until(7.0)
    box.send_at(8.0, Frame(Command.WATER_TEMP, 0x2F))
    box.send_at(8.8, Frame(Command.FLOW, 0x03))
    box.scheduler.call_at(9.0, box.port.send, b"\x00\xa5\x06\x2f\x00")  # bad sum
    scheduler.run_until(9.5)
    senders = [who for _, who, _ in log]
    assert senders[:4] == ["box", "box", "remote", "remote"]
    assert [f for _, who, f in log if who == "remote"][:4] == list(REMOTE_HANDSHAKE)
    assert sum(1 for _, who, _ in log if who == "box") == sum(duty.received.values())
    assert duty.water_c == 23.5 and duty.water_at == pytest.approx(8.0 + FRAME_TIME)
    assert duty.flow is not None and duty.flow.inlet and duty.flow.outlet
    assert duty.last_rx_at == pytest.approx(8.8 + FRAME_TIME)
    assert duty.counters.bad_checksums == 1
    assert duty.received[Command.WATER_TEMP] == 1


def test_stop_silences_the_remote() -> None:
    scheduler, box, duty = handshaken()
    duty.stop()
    mark = len(box.heard)
    duty.press(filter=True)
    scheduler.run_until(200.0)
    assert box.heard[mark:] == []
    assert not duty.handshake_done


def test_detach_and_attach_rejoin_on_a_new_cable() -> None:
    scheduler, _box, duty = handshaken()
    duty.detach()
    scheduler.run_until(20.0)
    other = SimCable(scheduler)
    box2 = FakeBox(scheduler, other)
    scheduler.call_every(1.0, box2.report_water, 25.0, first=20.5)
    duty.attach(other.remote)
    scheduler.run_until(23.0)
    assert duty.handshake_done
    assert box2.frames()[:4] == list(REMOTE_HANDSHAKE)


def test_rejects_impossible_configuration() -> None:
    scheduler = Scheduler()
    with pytest.raises(ValueError, match="uvc_command"):
        RemoteDuty(scheduler, None, uvc_command=Command.HEATER)
    with pytest.raises(ValueError, match="cycle_seconds"):
        RemoteDuty(scheduler, None, cycle_seconds=0)
    with pytest.raises(ValueError, match="set-point"):
        RemoteDuty(scheduler, None, state=RemoteState(setpoint=9))


# -- the virtual panel (spasim.remote) -------------------------------------------------------


def panel(**options: object) -> tuple[Scheduler, FakeBox, VirtualRemote]:
    scheduler = Scheduler()
    cable = SimCable(scheduler)
    box = FakeBox(scheduler, cable)
    remote = VirtualRemote(scheduler, cable.remote, **options)  # type: ignore[arg-type]
    box.boot()
    remote.start()
    return scheduler, box, remote


def test_panel_keys_step_like_the_real_ones() -> None:
    scheduler, box, remote = panel()
    scheduler.run_until(10.0)
    levels = [remote.press_bubbles().bubbles for _ in range(5)]
    assert levels == [1, 2, 3, 0, 1]
    assert remote.press_heater().heater and not remote.press_heater().heater
    for _ in range(3):
        remote.setpoint_up()
    assert remote.state.setpoint == 40, "40 °C is the top of the range"
    for _ in range(35):
        remote.setpoint_down()
    assert remote.state.setpoint == 10, "10 °C is the bottom (MW's hibernate preset)"
    scheduler.run_until(14.0)  # 45 bursts of 7–8 frames take about 1.5 s of line time
    markers = [f for f in box.frames(since=10.0) if f.command == Command.KEY_PRESS]
    assert len(markers) == 5 + 2 + 3 + 35, "every key press sends a burst"


def test_panel_display_shows_what_the_box_reports() -> None:
    scheduler, box, remote = panel()
    assert remote.display is not None and not remote.display.connected
    scheduler.run_until(10.0)
    box.report_water(31.5)
    remote.set(heater=True, filter=True, setpoint=35)
    scheduler.run_until(11.0)
    shown = remote.display
    assert shown is not None
    assert (shown.water_c, shown.setpoint, shown.heater, shown.heating, shown.filter) == (
        31.5,
        35,
        True,
        True,
        True,
    )
    assert shown.connected


def test_dead_panel_sends_nothing_until_the_fault_is_cleared() -> None:
    scheduler, box, remote = panel(faults=["panel-dead"])
    scheduler.call_every(1.0, box.report_water, 30.0, first=7.0)
    scheduler.run_until(60.0)
    assert box.heard == []
    assert remote.display is None
    assert remote.press_filter() == RemoteState(), "a dead panel registers no key"
    remote.clear("panel-dead")
    scheduler.run_until(63.0)
    assert remote.duty.handshake_done
    assert box.frames()[:4] == list(REMOTE_HANDSHAKE)


def test_panel_dead_injected_while_running_silences_it() -> None:
    scheduler, box, remote = panel()
    scheduler.run_until(10.0)
    remote.inject("panel-dead")
    mark = len(box.heard)
    scheduler.run_until(100.0)
    assert box.heard[mark:] == []
    assert remote.faults == {"panel-dead"}


def test_panel_refuses_box_faults() -> None:
    scheduler = Scheduler()
    with pytest.raises(ValueError, match="box"):
        VirtualRemote(scheduler, faults=["heater-open"])
    with pytest.raises(ValueError, match="unknown fault"):
        VirtualRemote(scheduler, faults=["gremlins"])


def test_panel_follows_its_profile() -> None:
    scheduler, box, remote = panel(profile="aurora-urban")
    scheduler.run_until(10.0)
    remote.set(filter=True, uvc=True, bubbles=1)
    pressed = scheduler.now()
    scheduler.run_until(pressed + 15 * 60)
    assert remote.state.bubbles == 1, "aurora-urban bubbles run 20 minutes"
    # The capture's Aurora Urban (and MW's configuration for it) enable UVC on 0x15.
    assert Frame(Command.INIT_10, 1) not in box.frames()
    assert Frame(Command.UVC, 1) in box.frames(since=pressed)
    scheduler.run_until(pressed + 20 * 60 + 1)
    assert remote.state.bubbles == 0


# -- with the real virtual box ---------------------------------------------------------------


def test_panel_and_virtual_box_follow_the_captured_power_on() -> None:
    from spasim.board import VirtualBox

    scheduler = Scheduler()
    cable = SimCable(scheduler)
    log: list[tuple[float, str, Frame]] = []
    box = VirtualBox(scheduler, cable.box, water_c=23.5, noise=False)
    remote = VirtualRemote(scheduler, cable.remote, on_frame=lambda t, w, f: log.append((t, w, f)))
    remote.start()
    scheduler.run_until(7.0)
    assert remote.duty.handshake_done
    heard = [(who, f) for _, who, f in log]
    assert heard[:10] == [
        ("box", Frame(Command.BOOT_09, 0x00)),
        ("box", Frame(Command.BOOT_07, 0x0C)),
        ("remote", Frame(Command.KEEPALIVE, 0x00)),
        ("remote", Frame(Command.HANDSHAKE, 0x00)),
        ("box", Frame(Command.KEEPALIVE, 0x86)),
        ("box", Frame(Command.HANDSHAKE, 0x01)),
        ("remote", Frame(Command.HANDSHAKE_11, 0x00)),
        ("box", Frame(Command.HANDSHAKE_11, 0x00)),
        ("remote", Frame(Command.INIT_10, 0x00)),
        ("box", Frame(Command.INIT_10, 0x00)),
    ]
    assert box.running


def test_panel_thermostat_holds_a_virtual_box_in_its_band() -> None:
    from spasim.board import VirtualBox

    scheduler = Scheduler()
    cable = SimCable(scheduler)
    box = VirtualBox(scheduler, cable.box, tank_litres=20.0, water_c=30.0, noise=False)
    remote = VirtualRemote(scheduler, cable.remote)
    remote.start()
    scheduler.run_until(10.0)
    remote.set(filter=True, heater=True, setpoint=34)
    waters: list[float] = []
    heating: list[bool] = []

    def sample() -> None:
        waters.append(box.water_c)
        heating.append(box.driven()["heater"])

    scheduler.call_every(5.0, sample, first=3600.0)
    scheduler.run_until(6 * 3600.0)
    # 20 L heats fast: it must have cycled, staying near the band [33, 34] °C.
    assert True in heating and False in heating
    assert min(waters) > 32.0 and max(waters) < 35.5
    assert remote.duty.handshakes_completed == 1


@pytest.mark.parametrize(
    ("previous", "level", "expected"),
    [
        (0, 2, True),  # switched on: the timer starts
        (2, 3, True),  # level changed: it restarts
        (3, 3, None),  # the same level repeated (a burst, the state cycle): it runs on
        (3, 0, False),  # switched off: no timer
        (0, 0, False),
    ],
)
def test_the_one_auto_off_rule(previous: int, level: int, expected: bool | None) -> None:
    """SPEC §4 invariant 3, as the panel's mirror and the console's countdown apply it."""
    assert auto_off_change(previous, level) is expected


# -- the model plate's variants (issue 12; expectations from the research notes) ------------


def plate_of(name: str, **changes: object) -> ModelPlate:
    return dataclasses.replace(load_model(name), **changes)  # type: ignore[arg-type]


def test_a_key_press_does_not_shift_the_cycle() -> None:
    """Capture: 02 at 75.14, burst at 75.57, 03 at 76.65, 0D at 78.15 — on schedule."""
    scheduler, box, duty = handshaken()
    first = box.times_of(Command.HEATER)[0]
    press_at = first + 9 * CAPTURE_PERIOD + 1.83  # between 02 and 03, as in the capture
    scheduler.call_at(press_at, lambda: duty.press(filter=True))
    scheduler.run_until(first + 10 * CAPTURE_PERIOD)
    after = [t for t in box.times_of(Command.BUBBLES, since=press_at + 0.1)]
    assert after[0] == pytest.approx(first + 9 * CAPTURE_PERIOD + 2.90, abs=1e-6)
    jets = box.times_of(Command.CYCLE_0D, since=press_at + 0.1)
    assert jets[0] == pytest.approx(first + 9 * CAPTURE_PERIOD + 4.41, abs=1e-6)


def test_0f_goes_out_once_after_the_first_0d_of_each_link() -> None:
    scheduler, box, _duty = handshaken()
    scheduler.run_until(100.0)
    first_0d = box.times_of(Command.CYCLE_0D)[0]
    assert box.times_of(Command.BOOT_0F) == [pytest.approx(first_0d + 0.4, abs=1e-6)]
    box.send_at(100.0, Frame(Command.BOOT_09, 0x00))
    box.send_at(100.2, Frame(Command.BOOT_07, 0x0C))
    scheduler.run_until(200.0)
    assert len(box.times_of(Command.BOOT_0F)) == 2, "a new link sends it once more"


def test_burst_without_marker_and_setpoint_doubled_super_camaro() -> None:
    """ET: no 16 marker on the Camaro; ET/AH: 04 carries °C × 2."""
    scheduler, box, duty = handshaken(plate=load_model("super-camaro"))
    scheduler.run_until(20.0)
    mark = len(box.heard)
    duty.press(setpoint=37)
    scheduler.run_until(20.1)
    sent = box.frames()[mark:]
    assert Frame(Command.KEY_PRESS, 0) not in sent
    assert sent[-1] == Frame(Command.SETPOINT, 74)
    assert [f.command for f in sent[:6]] == list(STATE_CYCLE)


def test_show_setpoint_first_press_sends_the_unchanged_value() -> None:
    scheduler, box, duty = handshaken()
    duty.press(setpoint=37)
    scheduler.run_until(30.0)
    mark = len(box.heard)
    duty.press_setpoint(-1)
    scheduler.run_until(30.1)
    assert box.frames()[mark : mark + 8][-2:] == [
        Frame(Command.KEY_PRESS, 0),
        Frame(Command.SETPOINT, 37),
    ]
    assert duty.state.setpoint == 37 and duty.setpoint_showing
    duty.press_setpoint(-1)
    scheduler.run_until(30.2)
    assert box.frames()[-1] == Frame(Command.SETPOINT, 36)
    scheduler.run_until(40.0)
    assert not duty.setpoint_showing
    duty.press_setpoint(+1)
    assert duty.state.setpoint == 36, "after the display window the first press only shows"


def test_without_show_setpoint_every_press_changes_it() -> None:
    scheduler, box, duty = handshaken(plate=plate_of("premium-4", remote_show_setpoint=False))
    duty.press_setpoint(-1)
    scheduler.run_until(scheduler.now() + 0.1)
    assert duty.state.setpoint == 39 and box.frames()[-1] == Frame(Command.SETPOINT, 39)


def test_jets_ride_on_0d_on_the_elite_and_uvc_on_0x10() -> None:
    scheduler, box, duty = handshaken(plate=load_model("elite-6"))
    duty.press(filter=True, jets=True, uvc=True)
    scheduler.run_until(30.0)
    zero_d = [f.parameter for f in box.frames(since=8.0) if f.command == Command.CYCLE_0D]
    assert zero_d and all(p == 1 for p in zero_d)
    assert Frame(Command.INIT_10, 1) in box.frames() and box.times_of(Command.UVC) == []


def test_variant_c_sends_uvc_on_0x19() -> None:
    scheduler, box, duty = handshaken(plate=load_model("series-d"))
    duty.press(filter=True, uvc=True)
    scheduler.run_until(30.0)
    assert Frame(Command.UVC_C, 1) in box.frames()
    assert box.times_of(Command.UVC) == []


def test_repeated_07_is_not_a_reboot_but_09_then_07_is() -> None:
    """EE (weak): the Série D repeats 07 0C while running; a reboot starts with 09 00."""
    scheduler, box, duty = handshaken(plate=load_model("series-d"))
    for at in (20.0, 30.0, 40.0):
        box.send_at(at, Frame(Command.BOOT_07, 0x0C))
    scheduler.run_until(45.0)
    assert duty.handshake_done and duty.handshakes_completed == 1
    assert duty.repeated_07_seen == 3
    box.send_at(50.0, Frame(Command.BOOT_09, 0x00))
    box.send_at(50.2, Frame(Command.BOOT_07, 0x0C))
    scheduler.run_until(51.0)
    assert duty.handshakes_completed == 2


def test_remote_timed_auto_off_sends_the_off_frame_at_once() -> None:
    scheduler, box, duty = handshaken(plate=plate_of("premium-4", auto_off_by="remote"))
    duty.press(bubbles=2)
    pressed = scheduler.now()
    scheduler.run_until(pressed + 10 * 60 + 0.05)
    offs = [t for t, f in box.heard if f == Frame(Command.BUBBLES, 0) and t > pressed]
    assert offs and offs[0] == pytest.approx(pressed + 600 + FRAME_TIME, abs=1e-6)


def test_box_timed_auto_off_waits_for_the_cycle() -> None:
    scheduler, box, duty = handshaken()
    duty.press(bubbles=2)
    pressed = scheduler.now()
    scheduler.run_until(pressed + 10 * 60 + 0.05)
    assert not [t for t, f in box.heard if f == Frame(Command.BUBBLES, 0) and t > pressed]


# -- panel codes ---------------------------------------------------------------------------


def report_flow(box: FakeBox, parameter: int, log: list[tuple[float, int]] | None = None) -> None:
    box.send(Frame(Command.FLOW, parameter))
    if log is not None:
        log.append((box.scheduler.now(), parameter))


def test_f1_when_the_pump_runs_dry_and_long_press_filter_resets_it() -> None:
    """Research (DT, ET): F1 = no flow with the pump commanded; a long press of Filter sends
    0B 00 and clears it; it comes back while the flow stays open."""
    scheduler, box, duty = handshaken()
    flow = [0x03]
    reported: list[tuple[float, int]] = []
    scheduler.call_every(1.0132, lambda: report_flow(box, flow[0], reported), first=8.0)
    duty.press(filter=True)
    scheduler.run_until(40.0)
    assert duty.panel_code is None, "healthy flow: no code"
    flow[0] = 0x00
    scheduler.run_until(41.0)
    last_good = max(t for t, p in reported if p == 3) + FRAME_TIME
    scheduler.run_until(last_good + 10.0 + 1.0132 - 0.01)
    assert duty.panel_code is None
    scheduler.run_until(last_good + 10.0 + 1.0132 + 0.01)
    assert duty.panel_code == "F1"
    flow[0] = 0x03
    scheduler.run_until(scheduler.now() + 5.0)
    assert duty.panel_code == "F1", "the panel keeps F1 until the reset"
    flow[0] = 0x00
    mark = len(box.heard)
    duty.long_press_filter()
    reset_at = scheduler.now()
    scheduler.run_until(reset_at + 0.1)
    assert box.frames()[mark:][:1] == [Frame(Command.KEEPALIVE, 0x00)]
    assert duty.panel_code is None
    scheduler.run_until(reset_at + 11.1)
    assert duty.panel_code == "F1", "a dead pump brings F1 back"


def test_a0_after_the_filtering_hours_and_its_reset() -> None:
    plate = plate_of("premium-4", errors_a0_after_h=2.0)
    scheduler, box, duty = handshaken(plate=plate)
    scheduler.call_every(1.0132, lambda: report_flow(box, 0x03), first=8.0)
    duty.press(filter=True)
    on_at = scheduler.now()
    scheduler.run_until(on_at + 3600.0)
    duty.press(filter=False)
    scheduler.run_until(on_at + 3 * 3600.0)
    duty.press(filter=True)
    again = scheduler.now()
    scheduler.run_until(again + 3600.0 - 1.0)
    assert duty.panel_code is None, "only the hours with the filter on count"
    scheduler.run_until(again + 3600.0 + 1.0)
    assert duty.panel_code == "A0"
    duty.long_press_filter()
    assert duty.panel_code is None


def test_panel_display_shows_codes_and_the_setpoint_in_place_of_the_water() -> None:
    scheduler, box, remote = panel()
    scheduler.run_until(10.0)
    box.report_water(31.5)
    scheduler.run_until(10.1)
    shown = remote.display
    assert shown is not None and shown.readout == "31.5" and not shown.blinking
    remote.press_filter()
    scheduler.run_until(40.0)  # no 08 with both switches closed: F1
    shown = remote.display
    assert shown is not None and (shown.readout, shown.blinking, shown.code) == ("F1", True, "F1")
    remote.setpoint_up()
    shown = remote.display
    assert shown is not None and shown.readout == "40" and shown.showing_setpoint
    remote.long_press_filter()
    scheduler.run_until(46.0)
    shown = remote.display
    assert shown is not None and shown.readout == "31.5" and shown.code is None
