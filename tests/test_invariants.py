"""SPEC §4's invariants under any input, judged from outside the box: a hypothesis state
machine plays remote, operator, weather and fate (faults) against a virtual box and checks,
after every step and every chunk the box receives, only what an observer can see — the
frames on the wire in both directions (decoded with :class:`~protocols.mspa.FrameDecoder`),
a meter per load (:meth:`VirtualBox.load_powers`), the true water temperature
(:attr:`VirtualBox.water_c`) and the PRCD's lamp. No region states, no ``driven()`` — with one
exception: the F1 flow error has no frame of its own (the panel infers it), so the box's F1
latch (:attr:`VirtualBox.flow_error`) is read to check that it switches heater, ozone and UVC
off.

1. heater drawing power ⇒ filter pump drawing power, both flow switches reported closed
   (``08 03``, judged at every ``08`` the box sends) and true water < 42 °C — except under
   ``heater-relay-welded`` (the element is live whatever the firmware does) and, for the
   pump, a dead pump behind stuck-closed flow switches (the firmware's only flow sensors lie);
2. ozone or UVC drawing power ⇒ filter pump drawing power (unless the pump is dead: then the
   meter cannot show that the firmware drives it);
3. the blower draws power at most the profile's auto-off after the bubble command that
   switched it on or changed its level; a repeat of the same level (the state cycle, any
   other key press) does not re-arm it — :class:`AutoOffModel`, written from SPEC §4;
4. PRCD lamp off ⇒ no load draws power, and the box sends nothing (checked at every send);
F1 (issue 12). F1 latched ⇒ heater, ozone and UVC draw nothing (the welded heater aside).

5. a chunk with no valid frame in it changes nothing: no load's power changes and the box
   answers nothing; and, because an ignored frame must not feed the watchdog either, every
   switched load is off once no valid frame has reached the box for the watchdog time.

Loads return only when commanded again (SPEC §3): after a power cut or the fail-safe, a load
draws power only once a frame switching it on has reached the box since then
(:class:`CommandedSinceReset`) — series-d's pump run-on included.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from protocols.clock import Scheduler
from protocols.mspa import (
    Command,
    Frame,
    FrameDecoder,
    RemoteState,
    key_press_burst,
    state_frames,
)
from protocols.mspa.models import JETS_COMMAND, ModelPlate
from protocols.ports import CableEnd, SimCable
from spasim.board import VirtualBox
from spasim.faults import fault_ids
from spasim.profiles import UVC_VARIANT_B, available_profiles, load_profile

BOX_FAULTS = [*fault_ids("box"), "prcd-faulty:stuck-open"]

_ENABLES = {Command.HEATER, Command.FILTER, Command.OZONE}
_ZERO_ONLY = {
    Command.KEEPALIVE,
    Command.HANDSHAKE,
    Command.HANDSHAKE_11,
    Command.KEY_PRESS,
    Command.CYCLE_0D,
    Command.BOOT_0F,
}


def frame_is_valid(frame: Frame, plate: ModelPlate) -> bool:
    """SPEC §3's table and the model's plate (issue 12: UVC code, jets on 0D, set-point
    range and encoding), written independently of the box: would a box obey this frame?"""
    command, parameter = frame
    variant_b = plate.uvc_command == UVC_VARIANT_B
    if command in _ENABLES:
        return parameter <= 1
    if command == Command.BUBBLES:
        return parameter <= 3
    if command == Command.SETPOINT:
        if plate.setpoint_encoding == "double":
            if parameter % 2:
                return False  # a half degree: the box keeps whole degrees
            parameter //= 2
        return plate.setpoint_min_c <= parameter <= plate.setpoint_max_c
    if command == JETS_COMMAND and plate.jets_fitted:
        return parameter <= 1
    if command in _ZERO_ONLY:
        return parameter == 0
    if command == Command.INIT_10:
        return parameter <= (1 if variant_b else 0)
    if command == plate.uvc_command:
        return parameter <= 1
    return False


POWER_CUTTING_FAULTS = frozenset(
    ("prcd-tripped", "prcd-faulty", "transformer-dead", "power-board-dead")
)
"""SPEC §5 rows whose signature is "no frames": injecting one may stop the firmware."""
BOOT_FRAMES = (Frame(Command.BOOT_09, 0x00), Frame(Command.BOOT_07, 0x0C))
EPSILON_S = 1e-6


class AutoOffModel:
    """SPEC §4 invariant 3, from the text alone: the blower may run for ``auto_off_s`` after
    the bubble command that switched it on or changed its level; a repeat of the level the
    box last received does not re-arm it; the box forgets what it received when its firmware
    stops (power) or fails safe (no valid frame for the watchdog time).

    The observer cannot see the box's memory, so where it is unsure it errs towards allowing
    the blower more time, never less: ``memory`` is None when the box may have forgotten,
    and while the firmware is not known to run (``confirmed`` False: since a power cut,
    until the box sends something only a running firmware sends) any bubble level may have
    been a command.
    """

    def __init__(self, auto_off_s: float, watchdog_s: float) -> None:
        self.auto_off_s = auto_off_s
        self.watchdog_s = watchdog_s
        self.memory: int | None = None
        self.armed_at: float | None = None
        self.confirmed = False
        self.confirmed_at = 0.0
        self.last_valid = -float("inf")

    def power_cut(self) -> None:
        self.memory = None
        self.confirmed = False

    def box_spoke(self, frame: Frame, now: float) -> None:
        """A frame from the box: anything but 09 00 means its firmware runs."""
        if not self.confirmed and frame != BOOT_FRAMES[0]:
            self.confirmed = True
            self.confirmed_at = now

    def frames_reached_box(self, frames: list[Frame], now: float, *, noisy: bool = False) -> None:
        """Valid frames (per SPEC §3) in one chunk reaching the box at ``now``.

        On a noisy line (``link-noisy``: bytes flipped, dropped or doubled on the way in) the
        box may have missed any earlier frame, so what it remembers is unknown: each bubble
        level may be a change to it and re-arm the auto-off.
        """
        if not frames:
            return
        if noisy or (self.confirmed and now - self.last_valid >= self.watchdog_s - EPSILON_S):
            self.memory = None  # the box may have missed frames, or failed safe and forgotten
        for command, level in frames:
            if command != Command.BUBBLES:
                continue
            if not self.confirmed:
                if level:
                    self.armed_at = now
                self.memory = None
            elif level != self.memory:
                if level:
                    self.armed_at = now
                self.memory = level
        self.last_valid = now

    def blower_may_run(self, now: float) -> bool:
        return self.armed_at is not None and now - self.armed_at <= self.auto_off_s + EPSILON_S

    def silent_for_watchdog(self, now: float) -> bool:
        """The firmware runs and has heard no valid frame for longer than the watchdog."""
        heard = max(self.last_valid, self.confirmed_at)
        return self.confirmed and now - heard > self.watchdog_s + EPSILON_S


class CommandedSinceReset:
    """SPEC §3, from the text alone: after the box loses power or fails safe (no valid frame
    for the watchdog time), every load stays off until a frame switching it on reaches the
    box again — a pump run-on or a remembered command must not bring a load back.

    Like :class:`AutoOffModel` it errs towards allowing: a reset is assumed only when it
    certainly happened — the meter shows no standby draw (no power), the box says ``09 00``
    (its firmware starts), or a valid frame reaches a firmware known to run after a silence
    longer than the watchdog — and on a noisy line, where the box may read a damaged frame as
    a command, anything may have been commanded (``commanded`` None).
    """

    def __init__(self, plate: ModelPlate, watchdog_s: float) -> None:
        self.watchdog_s = watchdog_s
        self.switches_on: dict[int, str] = {
            Command.HEATER: "heater",
            Command.FILTER: "filter",
            Command.BUBBLES: "blower",
            Command.OZONE: "ozone",
            plate.uvc_command: "uvc",
        }
        if plate.jets_fitted:
            self.switches_on[JETS_COMMAND] = "jets"
        self.commanded: set[str] | None = set()
        self.confirmed = False
        self.heard = 0.0

    def power_may_be_cut(self) -> None:
        """The firmware may have stopped: until it speaks again, a silence proves nothing."""
        self.confirmed = False

    def reset(self) -> None:
        """The firmware certainly lost its memory (no power, or it is booting)."""
        self.commanded = set()
        self.confirmed = False

    def box_spoke(self, frame: Frame, now: float, *, noisy: bool) -> None:
        if frame == BOOT_FRAMES[0] and not noisy:
            self.reset()  # 09 00: the firmware starts (a noisy line could fake it)
        elif not self.confirmed and frame != BOOT_FRAMES[0]:
            self.confirmed = True
            self.heard = now  # the firmware runs: its watchdog starts now

    def frames_reached_box(self, frames: list[Frame], now: float, *, noisy: bool) -> None:
        if not frames:
            return
        if self.confirmed and now - self.heard > self.watchdog_s + EPSILON_S:
            self.commanded = set()  # the box failed safe before this chunk
        self.heard = now
        if noisy:
            self.commanded = None
        elif self.commanded is not None:
            for command, parameter in frames:
                load = self.switches_on.get(command)
                if load is not None and parameter:
                    self.commanded.add(load)

    def may_run(self, load: str) -> bool:
        return self.commanded is None or load in self.commanded


class TappedEnd(CableEnd):
    """The box's cable end with a probe on its transmit line: every frame the box sends is
    decoded as it is sent, and judged at that instant."""

    on_send: Callable[[bytes], None] | None = None

    def send(self, data: bytes) -> None:
        if self.on_send is not None:
            self.on_send(data)
        super().send(data)


_remote_state = st.builds(
    RemoteState,
    heater=st.booleans(),
    filter=st.booleans(),
    bubbles=st.integers(0, 3),
    ozone=st.booleans(),
    uvc=st.booleans(),
    setpoint=st.integers(20, 40),
) | st.builds(
    RemoteState,
    heater=st.just(True),
    filter=st.just(True),
    bubbles=st.integers(0, 3),
    ozone=st.booleans(),
    uvc=st.booleans(),
    setpoint=st.integers(20, 40),
)
"""Anything a remote can ask for, and often "heat" (the over-temperature cut needs it)."""
_any_frame = st.builds(Frame, st.integers(0, 0x20) | st.integers(0, 255), st.integers(0, 255))
_seconds = st.floats(min_value=-3.0, max_value=4.0).map(lambda exponent: 10.0**exponent) | (
    st.sampled_from([10.0, 30.0, 600.0, 1200.0, 7200.0]).flatmap(
        lambda limit: st.floats(limit - 0.05, limit + 0.05)
    )
)
"""From a millisecond to hours, log-uniform, plus jumps landing next to a timer's limit."""
_REMOTE_COMMANDS = [
    Command.HEATER,
    Command.FILTER,
    Command.BUBBLES,
    Command.SETPOINT,
    Command.OZONE,
    Command.UVC,
    Command.INIT_10,
    Command.KEY_PRESS,
    Command.KEEPALIVE,
    Command.HANDSHAKE,
    Command.CYCLE_0D,
    0x19,
]
_parameter = st.integers(0, 3) | st.integers(0, 255) | st.integers(15, 45)
_known_frame = st.builds(Frame, st.sampled_from(_REMOTE_COMMANDS), _parameter)
_water = st.floats(5.0, 45.0) | st.floats(41.0, 42.5)
"""Water temperatures, biased towards the over-temperature band."""


class BoxUnderAnyInput(RuleBasedStateMachine):
    """The test is the remote (a background state cycle plus whatever rules send), the
    operator, the weather and fate; it watches the wire both ways and the meter."""

    def __init__(self) -> None:
        super().__init__()
        self.scheduler = Scheduler()
        cable = SimCable(self.scheduler)
        tapped = TappedEnd(cable, "box")
        tapped.peer = cable.remote
        cable.remote.peer = tapped
        cable.box = tapped
        tapped.on_send = self._box_sends
        self.cable = cable
        self.box: VirtualBox
        self.variant_b = False
        self.plate = load_profile("premium-4").plate
        self.jets = False
        # The remote: it repeats its state every 1.5 s per frame while alive.
        self.remote_state = RemoteState()
        self._cycle_frames = [bytes(f) for f in state_frames(self.remote_state)]
        self.remote_alive = True
        self._tick = 0
        self.scheduler.call_every(1.5, self._remote_cycle)
        # What the observer decodes: the remote's frames as they reach the box, and the box's.
        self.to_box = FrameDecoder()
        self.from_box = FrameDecoder()
        self.box_sends = 0
        self.model = AutoOffModel(600.0, 30.0)
        self.commands = CommandedSinceReset(self.plate, 30.0)

    @initialize(
        profile=st.sampled_from(available_profiles()),
        faults=st.lists(st.sampled_from(BOX_FAULTS), max_size=2, unique=True),
        water=_water,
        ambient=st.floats(5.0, 35.0),
        seed=st.integers(0, 2**16),
        tank=st.sampled_from([None, 20.0]),
        noise=st.booleans(),
    )
    def start(
        self,
        profile: str,
        faults: list[str],
        water: float,
        ambient: float,
        seed: int,
        tank: float | None,
        noise: bool,
    ) -> None:
        loaded = load_profile(profile)
        self.plate = loaded.plate
        self.variant_b = loaded.uvc_command == UVC_VARIANT_B
        self.model = AutoOffModel(loaded.bubble_auto_off_s, loaded.link_watchdog_s)
        self.commands = CommandedSinceReset(loaded.plate, loaded.link_watchdog_s)
        self.box = VirtualBox(
            self.scheduler,
            self.cable.box,
            loaded,
            seed=seed,
            faults=faults,
            water_c=water,
            ambient_c=ambient,
            tank_litres=tank,
            noise=noise,
        )
        self._cycle_frames = self._state_cycle()
        handler = self.cable.box.on_receive
        assert handler is not None
        self._box_receive = handler
        self.cable.box.on_receive = self._tap
        self.scheduler.advance(7.0)  # booted: most rules should meet a running box

    def teardown(self) -> None:
        if hasattr(self, "box"):
            self.box.close()

    # ------------------------------------------------------------ observation

    def _faults(self) -> set[str]:
        """The faults this test injected (and has not cleared), by catalogue id."""
        return {fault.partition(":")[0] for fault in self.box.active_faults}

    def _power_cut(self) -> None:
        self.model.power_cut()
        self.commands.power_may_be_cut()
        self.to_box.reset()

    def _box_sends(self, data: bytes) -> None:
        """The probe on the box's transmit line: invariant 4, the flow half of 1, and that
        no load runs uncommanded since a reset."""
        box = self.box
        powers = box.load_powers()
        assert box.prcd_light and powers["standby"] > 0, f"{data.hex(' ')} sent unpowered"
        self.box_sends += 1
        now = self.scheduler.now()
        for frame in self.from_box.feed(data, now):
            self.model.box_spoke(frame, now)
            self.commands.box_spoke(frame, now, noisy="link-noisy" in self._faults())
            if frame in BOOT_FRAMES:
                self.to_box.reset()  # the firmware's receiver starts empty
            if (
                frame.command == Command.FLOW
                and powers["heater"] > 0
                and "heater-relay-welded" not in self._faults()
            ):
                assert frame.parameter == 0x03, f"heater on while the box reports {frame}"
        self._only_commanded_loads(powers)  # at every send: a run-on is seconds long

    def _only_commanded_loads(self, powers: dict[str, float]) -> None:
        """Loads return only when commanded again after a power cut or the fail-safe (§3)."""
        welded = "heater-relay-welded" in self._faults()
        for load, watts in powers.items():
            if watts > 0 and load != "standby" and not (welded and load == "heater"):
                assert self.commands.may_run(load), f"{load} runs uncommanded since a reset"

    def _tap(self, data: bytes) -> None:
        """Every chunk that reaches the box: invariant 5, and the auto-off model."""
        box = self.box
        now = self.scheduler.now()
        frames = self.to_box.feed(data, now)
        valid = [frame for frame in frames if frame_is_valid(frame, self.plate)]
        noisy = "link-noisy" in self._faults()
        self.model.frames_reached_box(valid, now, noisy=noisy)
        self.commands.frames_reached_box(valid, now, noisy=noisy)
        powers_before, sends_before = box.load_powers(), self.box_sends
        self._box_receive(data)
        if not valid:
            assert box.load_powers() == powers_before, f"{data.hex(' ')} changed a load"
            assert self.box_sends == sends_before, f"{data.hex(' ')} was answered"
        self.spec_invariants()

    def _remote_cycle(self) -> None:
        if self.remote_alive:
            frames = self._cycle_frames
            self.cable.remote.send(frames[self._tick % len(frames)])
            self._tick += 1

    def _uvc(self) -> Command:
        """The cycle's UVC frame: 0x10 on variant B, 0x15 otherwise (a variant C box ignores
        it; :meth:`uvc_variant_c` sends 0x19)."""
        return Command.INIT_10 if self.variant_b else Command.UVC

    def _with_jets(self, frames: list[Frame]) -> list[bytes]:
        """The remote's 0D slot carries the jets (0 when none are fitted)."""
        jets = Frame(Command.CYCLE_0D, int(self.jets and self.plate.jets_fitted))
        return [bytes(jets if f.command == Command.CYCLE_0D else f) for f in frames]

    def _state_cycle(self) -> list[bytes]:
        return self._with_jets(state_frames(self.remote_state, self._uvc()))

    def _send(self, data: bytes) -> None:
        self.cable.remote.send(data)
        self.scheduler.run_until(self.cable.remote.idle_at)

    # ------------------------------------------------------------ remote rules

    @rule(state=_remote_state, setpoint_changed=st.booleans())
    def key_press(self, state: RemoteState, setpoint_changed: bool) -> None:
        self.remote_state = state
        self._cycle_frames = self._state_cycle()
        self.remote_alive = True
        frames = key_press_burst(state, setpoint_changed=setpoint_changed, uvc_command=self._uvc())
        self._send(b"".join(self._with_jets(frames)))

    @rule(on=st.booleans())
    def jets_key(self, on: bool) -> None:
        """The Elite's jets key: 0D 0/1 now and in the cycle (0D 00 elsewhere)."""
        self.jets = on
        self._cycle_frames = self._state_cycle()
        self._send(bytes(Frame(Command.CYCLE_0D, int(on))))

    @rule()
    def long_press_filter(self) -> None:
        """0B 00: the keep-alive, and what a long press of Filter sends (clears F1)."""
        self._send(bytes(Frame(Command.KEEPALIVE, 0)))

    @rule(celsius=st.integers(5, 45), half=st.booleans())
    def setpoint(self, celsius: int, half: bool) -> None:
        """04 in the plate's encoding (°C × 2 on super-camaro), in range or not."""
        double = self.plate.setpoint_encoding == "double"
        parameter = celsius * 2 + int(half) if double else celsius
        self._send(bytes(Frame(Command.SETPOINT, parameter)))

    @rule(on=st.booleans())
    def uvc_variant_c(self, on: bool) -> None:
        """19 0/1: the UVC enable of a variant C box, an unknown code elsewhere."""
        self._send(bytes(Frame(0x19, int(on))))

    @rule(alive=st.booleans())
    def remote_plugged(self, alive: bool) -> None:
        self.remote_alive = alive

    @rule(frame=_any_frame)
    def any_frame(self, frame: Frame) -> None:
        self._send(bytes(frame))

    @rule(frame=_known_frame)
    def known_frame(self, frame: Frame) -> None:
        """A frame the box knows, with a parameter in or out of range."""
        self._send(bytes(frame))

    @rule(frames=st.lists(_known_frame | _any_frame, min_size=2, max_size=6))
    def frames_in_one_chunk(self, frames: list[Frame]) -> None:
        """Several frames arriving together: each must be judged on its own."""
        self._send(b"".join(bytes(frame) for frame in frames))

    @rule(frame=_any_frame, delta=st.integers(1, 255))
    def bad_checksum(self, frame: Frame, delta: int) -> None:
        data = bytearray(bytes(frame))
        data[3] = (data[3] + delta) & 0xFF
        self._send(bytes(data))

    @rule(garbage=st.binary(min_size=1, max_size=12))
    def garbage(self, garbage: bytes) -> None:
        self._send(garbage)

    @rule(frame=_any_frame, keep=st.integers(1, 3), pause=st.floats(0.0, 0.3))
    def truncated_frame(self, frame: Frame, keep: int, pause: float) -> None:
        self._send(bytes(frame)[:keep])
        self.scheduler.advance(pause)

    # ------------------------------------------------------------ operator, world, fate

    @rule(action=st.sampled_from(["mains off", "mains on", "PRCD test", "PRCD reset"]))
    def power(self, action: str) -> None:
        if action in ("mains off", "PRCD test"):
            self._power_cut()
        if action.startswith("mains"):
            self.box.set_mains(action == "mains on")
        elif action == "PRCD test":
            self.box.press_prcd_test()
        else:
            self.box.press_prcd_reset()

    @rule(
        how=st.sampled_from(["filter off", "remote silent", "power blip"]),
        heat_s=st.floats(0.5, 30.0),
        then=_remote_state,
    )
    def heating_interrupted(self, how: str, heat_s: float, then: RemoteState) -> None:
        """The remote asks for heat, and after a while heating ends one of the three ways a
        pump run-on (series-d) meets: the filter switched off, the remote silent past the
        watchdog and back asking for ``then``, or a power blip. Only the first may run the
        pump on; the others must leave every load off until commanded again."""
        self.key_press(RemoteState(heater=True, filter=True, setpoint=40), False)
        self.scheduler.advance(heat_s)
        if how == "filter off":
            self.key_press(RemoteState(heater=True, filter=False, setpoint=40), False)
        elif how == "remote silent":
            self.remote_alive = False
            self.scheduler.advance(self.plate.link_watchdog_s + 1.0)
            self.key_press(then, False)
        else:
            self.power_blip(0.5)

    @rule(off_s=st.floats(0.0, 3.0))
    def power_blip(self, off_s: float) -> None:
        """Mains lost for a moment and back (a brown-out, a plug knocked): the box reboots with
        whatever it was doing forgotten — series-d's pump run-on included."""
        self._power_cut()
        self.box.set_mains(False)
        self.spec_invariants()
        self.scheduler.advance(off_s)
        self.box.set_mains(True)

    @rule()
    def repair(self) -> None:
        """The service partner fixes everything and switches the unit back on."""
        for fault in self.box.active_faults:
            self.box.clear(fault)
        self.box.set_mains(True)
        self.box.press_prcd_reset()

    @rule(position=st.sampled_from(["off", "inflate"]))
    def knob(self, position: str) -> None:
        self.box.set_knob(position)

    @rule(on=st.booleans())
    def lid(self, on: bool) -> None:
        self.box.set_lid(on)

    @rule(celsius=st.floats(5.0, 35.0))
    def ambient(self, celsius: float) -> None:
        self.box.set_ambient(celsius)

    @rule(celsius=_water | st.floats(42.0, 50.0))
    def water(self, celsius: float) -> None:
        self.box.set_water(celsius)

    @rule(fault=st.sampled_from(BOX_FAULTS))
    def inject(self, fault: str) -> None:
        if fault.partition(":")[0] in POWER_CUTTING_FAULTS:
            self._power_cut()
        self.box.inject(fault)

    @rule(fault=st.sampled_from(BOX_FAULTS))
    def clear(self, fault: str) -> None:
        self.box.clear(fault)

    @rule(seconds=_seconds)
    def time_passes(self, seconds: float) -> None:
        self.scheduler.advance(seconds)

    # ------------------------------------------------------------ invariants

    @invariant()
    def spec_invariants(self) -> None:
        box = self.box
        now = self.scheduler.now()
        powers = box.load_powers()
        if powers["standby"] == 0:
            self._power_cut()  # the box draws nothing at all: no firmware runs
            self.commands.reset()
        faults = self._faults()
        welded = "heater-relay-welded" in faults
        pump_unseen = "filter-pump-dead" in faults
        # 1 (the flow switch is judged at every 08 the box sends)
        if powers["heater"] > 0 and not welded:
            water = box.water_c
            assert water < 42.0, f"heater on at {water:.3f} °C"
            if not (pump_unseen and "flow-switch-stuck-closed" in faults):
                assert powers["filter"] > 0, f"heater on without the pump: {powers}"
        # F1: heater, ozone and UVC off while latched
        if box.flow_error:
            assert powers["ozone"] == 0 and powers["uvc"] == 0, f"F1 latched, yet {powers}"
            assert welded or powers["heater"] == 0, f"F1 latched, yet {powers}"
        # 2
        if (powers["ozone"] > 0 or powers["uvc"] > 0) and not pump_unseen:
            assert powers["filter"] > 0, f"sanitiser on without the pump: {powers}"
        # 3
        if powers["blower"] > 0:
            armed = self.model.armed_at
            assert armed is not None, "blower runs without a bubble command"
            assert self.model.blower_may_run(now), f"blower on {now - armed:.3f} s after it"
        # 4 (sends are checked by the probe on the box's transmit line)
        if not box.prcd_light:
            assert not any(powers.values()), f"PRCD open but {powers}"
        self._only_commanded_loads(powers)
        # 5: ignored frames must not have fed the watchdog either
        if self.model.silent_for_watchdog(now):
            switched = {load: w for load, w in powers.items() if load != "standby"}
            if welded:
                switched.pop("heater")
            assert not any(switched.values()), f"remote silent, yet {switched}"


# The safety properties deserve more examples than the other property tests: at least 800
# sequences of 75 steps in CI (about two minutes), the --slow profile's 5000 otherwise.
BoxUnderAnyInput.TestCase.settings = settings(
    stateful_step_count=75, max_examples=max(settings().max_examples, 800)
)
# Shrinking a failure (and --slow) takes longer than pytest-timeout's default, which would
# cut hypothesis off mid-replay.
BoxUnderAnyInput.TestCase.pytestmark = [pytest.mark.timeout(3600)]
TestBoxUnderAnyInput = BoxUnderAnyInput.TestCase


def test_frame_validity_table_matches_spec_examples() -> None:
    """The test's own oracle, checked against the examples SPEC §4 names."""
    premium, elite = load_profile("premium-4").plate, load_profile("elite-6").plate
    camaro, series_d = load_profile("super-camaro").plate, load_profile("series-d").plate
    assert not frame_is_valid(Frame(Command.BUBBLES, 7), premium)
    assert not frame_is_valid(Frame(Command.SETPOINT, 90), premium)
    assert not frame_is_valid(Frame(Command.HEATER, 2), premium)
    assert frame_is_valid(Frame(Command.SETPOINT, 37), premium)
    assert frame_is_valid(Frame(Command.SETPOINT, 10), premium)  # MW: "hibernate" at 10 °C
    assert not frame_is_valid(Frame(Command.SETPOINT, 9), premium)
    assert frame_is_valid(Frame(Command.SETPOINT, 74), camaro)  # 37 °C × 2
    assert not frame_is_valid(Frame(Command.SETPOINT, 90), camaro)
    assert frame_is_valid(Frame(Command.UVC, 1), premium)
    assert not frame_is_valid(Frame(Command.UVC, 1), elite)
    assert not frame_is_valid(Frame(Command.UVC, 1), series_d)
    assert frame_is_valid(Frame(0x19, 1), series_d) and not frame_is_valid(Frame(0x19, 1), premium)
    assert frame_is_valid(Frame(Command.INIT_10, 1), elite)
    assert not frame_is_valid(Frame(Command.INIT_10, 1), premium)
    assert frame_is_valid(Frame(Command.CYCLE_0D, 1), elite)
    assert not frame_is_valid(Frame(Command.CYCLE_0D, 1), premium)
    assert frame_is_valid(Frame(Command.CYCLE_0D, 0), premium)
