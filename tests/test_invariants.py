"""SPEC §4's invariants under any input: a hypothesis state machine plays remote, operator,
weather and fate (faults) against a virtual box and checks the invariants after every step.

1. heater driven ⇒ filter pump driven, flow switch closed, water < 42 °C (and the same for
   *energised*, unless a hardware-bypass fault makes the element live regardless);
2. ozone or UVC driven/energised ⇒ filter pump driven;
3. the blower never runs longer than the profile's auto-off after the bubble command that
   turned it on — the test keeps its own model of which commands could turn it on;
4. PRCD tripped ⇒ nothing energised, and the box sends nothing (checked at every send);
5. a malformed or out-of-range frame changes nothing (the box's snapshot just before and
   just after it handles a chunk of bytes with no valid frame in it).

Checks run after every rule and at every chunk the box receives (every 1.5 s while the
remote is alive), so long time jumps are checked along the way, not only where they land.
"""

from __future__ import annotations

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


def frame_is_valid(frame: Frame, variant_b: bool) -> bool:
    """SPEC §3's table, written independently of the box: would a box obey this frame?"""
    command, parameter = frame
    if command in _ENABLES:
        return parameter <= 1
    if command == Command.BUBBLES:
        return parameter <= 3
    if command == Command.SETPOINT:
        return 20 <= parameter <= 40
    if command in _ZERO_ONLY:
        return parameter == 0
    if command == Command.INIT_10:
        return parameter <= (1 if variant_b else 0)
    if command == Command.UVC:
        return not variant_b and parameter <= 1
    return False


class GuardedEnd(CableEnd):
    """The box's cable end, checking invariant 4 at the moment the box sends anything."""

    box: VirtualBox | None = None

    def send(self, data: bytes) -> None:
        box = self.box
        if box is not None:
            assert not box.prcd_tripped, "a tripped box sent a frame"
            assert box.powered, "an unpowered box sent a frame"
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
]
_parameter = st.integers(0, 3) | st.integers(0, 255) | st.integers(15, 45)
_known_frame = st.builds(Frame, st.sampled_from(_REMOTE_COMMANDS), _parameter)
_water = st.floats(5.0, 45.0) | st.floats(41.0, 42.5)
"""Water temperatures, biased towards the over-temperature band."""


class BoxUnderAnyInput(RuleBasedStateMachine):
    """The test is the remote (a background state cycle plus whatever rules send), the
    operator, the weather and fate; it watches every chunk of bytes the box receives."""

    def __init__(self) -> None:
        super().__init__()
        self.scheduler = Scheduler()
        cable = SimCable(self.scheduler)
        guarded = GuardedEnd(cable, "box")
        guarded.peer = cable.remote
        cable.remote.peer = guarded
        cable.box = guarded
        self.cable = cable
        self.guarded = guarded
        self.box: VirtualBox
        self.variant_b = False
        self.auto_off_s = 600.0
        # The remote: it repeats its state every 1.5 s per frame while alive.
        self.remote_state = RemoteState()
        self._cycle_frames = [bytes(f) for f in state_frames(self.remote_state)]
        self.remote_alive = True
        self._tick = 0
        self.scheduler.call_every(1.5, self._remote_cycle)
        # Model for invariant 3: the box's bubble memory, from what reached the box.
        self.mirror = FrameDecoder()
        self.bubble_memory: int | None = None
        self.bubbles_on_at: float | None = None

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
        self.variant_b = loaded.uvc_command == UVC_VARIANT_B
        self.auto_off_s = loaded.bubble_auto_off_s
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
        self.guarded.box = self.box
        self._cycle_frames = [bytes(f) for f in state_frames(self.remote_state, self._uvc())]
        handler = self.cable.box.on_receive
        assert handler is not None
        self._box_receive = handler
        self.cable.box.on_receive = self._tap
        self.scheduler.advance(7.0)  # booted: most rules should meet a running box

    def teardown(self) -> None:
        if hasattr(self, "box"):
            self.box.close()

    # ------------------------------------------------------------ the model

    def _observe(self) -> None:
        """The box forgets the remote's commands when it stops running or fails safe."""
        states = self.box.region_states()
        if states["power"] != "running":
            self.bubble_memory = None
            self.mirror.reset()  # the box's receiver restarts with the firmware
        elif states["watchdog"] == "failsafe":
            self.bubble_memory = None

    def _tap(self, data: bytes) -> None:
        """Every chunk that reaches the box: invariant 5 for chunks without a valid frame,
        the invariant-3 model for the others."""
        box = self.box
        now = self.scheduler.now()
        self._observe()
        if not box.running:
            self._box_receive(data)
            return
        frames = self.mirror.feed(data, now)
        valid = [frame for frame in frames if frame_is_valid(frame, self.variant_b)]
        before = None if valid else box.snapshot()
        self._box_receive(data)
        if before is not None:
            assert box.snapshot() == before, f"{data.hex(' ')} changed the box"
        for command, parameter in valid:
            if command == Command.BUBBLES and parameter != self.bubble_memory:
                self.bubble_memory = parameter
                if parameter:
                    self.bubbles_on_at = now
            elif command == Command.KEY_PRESS and self.bubble_memory:
                self.bubbles_on_at = now
        self.spec_invariants()

    def _remote_cycle(self) -> None:
        if self.remote_alive:
            frames = self._cycle_frames
            self.cable.remote.send(frames[self._tick % len(frames)])
            self._tick += 1

    def _uvc(self) -> Command:
        return Command.INIT_10 if self.variant_b else Command.UVC

    def _send(self, data: bytes) -> None:
        self.cable.remote.send(data)
        self.scheduler.run_until(self.cable.remote.idle_at)

    # ------------------------------------------------------------ remote rules

    @rule(state=_remote_state, setpoint_changed=st.booleans())
    def key_press(self, state: RemoteState, setpoint_changed: bool) -> None:
        self.remote_state = state
        self._cycle_frames = [bytes(f) for f in state_frames(state, self._uvc())]
        self.remote_alive = True
        frames = key_press_burst(state, setpoint_changed=setpoint_changed, uvc_command=self._uvc())
        self._send(b"".join(bytes(f) for f in frames))

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
        if action.startswith("mains"):
            self.box.set_mains(action == "mains on")
        elif action == "PRCD test":
            self.box.press_prcd_test()
        else:
            self.box.press_prcd_reset()

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
        self._observe()
        driven = box.driven()
        energised = box.energised()
        flow = box.flow.inlet
        water = box.water_c
        # 1
        if driven["heater"]:
            assert driven["filter"] and flow and water < 42.0, (driven, flow, water)
        if energised["heater"] and not box.hardware_bypass:
            assert driven["filter"] and flow and water < 42.0, (energised, flow, water)
        # 2
        for load in ("ozone", "uvc"):
            if driven[load] or energised[load]:
                assert driven["filter"], (load, driven)
        # 3
        if driven["blower"]:
            assert self.bubbles_on_at is not None, "blower runs without a bubble command"
            ran = self.scheduler.now() - self.bubbles_on_at
            assert ran <= self.auto_off_s + 1e-6, f"blower still on {ran:.3f} s after its command"
        # 4 (sends are checked in GuardedEnd.send)
        if box.prcd_tripped:
            assert not any(energised.values()) and box.meter().power_w == 0
        # What a meter would show is the sum of the loads, and nothing without supply.
        assert box.meter().power_w == sum(box.load_powers().values())
        if not box.powered:
            assert box.meter().power_w == 0


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
    assert not frame_is_valid(Frame(Command.BUBBLES, 7), False)
    assert not frame_is_valid(Frame(Command.SETPOINT, 90), False)
    assert not frame_is_valid(Frame(Command.HEATER, 2), False)
    assert frame_is_valid(Frame(Command.SETPOINT, 37), False)
    assert frame_is_valid(Frame(Command.UVC, 1), False) and not frame_is_valid(
        Frame(Command.UVC, 1), True
    )
    assert frame_is_valid(Frame(Command.INIT_10, 1), True) and not frame_is_valid(
        Frame(Command.INIT_10, 1), False
    )
