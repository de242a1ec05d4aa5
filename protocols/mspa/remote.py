"""The remote's protocol duties (SPEC §3), written once for every remote we play.

A wired MSpa panel does more than forward key presses: it answers the box's power-on with
a handshake, repeats every state in a 7.5 s cycle (the box never acknowledges, so repetition
is the only delivery guarantee), sends a keep-alive once a minute, runs the thermostat (the
box only obeys 0x01) and keeps its own copy of the bubble auto-off so it does not keep
asking for a level the box has already switched off. :class:`RemoteDuty` does all of that on
a :class:`~protocols.clock.Scheduler` through a :class:`~protocols.ports.Port`: the virtual
panel (:mod:`spasim.remote`) wraps it, and the bench reuses it to play the remote against a
real box. It only schedules events; it never blocks, sleeps or reads the wall clock, so it
behaves the same under a simulated and a real-time driver.

What it hears from the box is kept as observations (water temperature, flow switches, when
the box last spoke, handshake and keep-alive answers, boot frames, decoder counters): a
remote cannot see anything else (SPEC §3), and neither can a bench that plays one.

Timings follow the capture in SPEC §3: the handshake starts 0.23 s after the box's 07 0C,
each step goes out as soon as the previous one is answered, the first state frame (0x01)
follows 0.17 s after the handshake and then one state frame every ``cycle_seconds / 6``.
Choices the capture does not show are **[model]**: joining a box that is already running
(the handshake starts ``join_seconds`` after the first frame heard from it), talking to a
box that stays silent (first attempt ``boot_wait_seconds`` after :meth:`RemoteDuty.start`,
long enough for a box powered on together with the remote to boot and say 07 0C itself),
retrying an unanswered handshake every ``retry_seconds``, and the thermostat rule (demand
off when the water reaches the set-point, on again once it has fallen ``hysteresis``
below it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from protocols.clock import Event, Periodic, Scheduler
from protocols.mspa.decoder import DecoderCounters, FrameDecoder
from protocols.mspa.frames import Command, Frame
from protocols.mspa.sequences import (
    BOX_BOOT_FRAMES,
    STATE_CYCLE,
    STATE_CYCLE_SECONDS,
    RemoteState,
    key_press_burst,
)
from protocols.mspa.values import (
    AUTO_OFF_MINUTES,
    FlowSwitches,
    auto_off_change,
    decode_temperature,
    encode_bubble_level,
    encode_setpoint,
    encode_switch,
)

FrameListener = Callable[[float, str, Frame], None]
"""``(simulated time, sender "box"|"remote", frame)``: called for every frame both ways."""

BOOT_REPLY_SECONDS = 0.23
"""Capture: box 07 0C at 5.66 s, remote 0B 00 + 0A 00 at 5.89 s."""
FIRST_STATE_SECONDS = 0.17
"""Capture: box 10 00 at 5.92 s, remote 01 at 6.09 s."""
BOX_SETPOINT_AFTER_BOOT = 40
"""The box's set-point after power-on (SPEC §2); a remote holding another one resends it."""


class RemotePort(Protocol):
    """What the duty needs of a :class:`~protocols.ports.Port` (kept narrow for fakes)."""

    on_receive: Callable[[bytes], None] | None

    @property
    def lost(self) -> BaseException | None: ...

    def send(self, data: bytes) -> None: ...


class _HandshakeStep:
    """One step of the power-on exchange: what the remote sends, what answer completes it."""

    __slots__ = ("answer", "frames")

    def __init__(self, frames: Sequence[Frame], answer: Frame) -> None:
        self.frames = tuple(frames)
        self.answer = answer


_HANDSHAKE_STEPS = (
    _HandshakeStep(
        (Frame(Command.KEEPALIVE, 0x00), Frame(Command.HANDSHAKE, 0x00)),
        Frame(Command.HANDSHAKE, 0x01),
    ),
    _HandshakeStep((Frame(Command.HANDSHAKE_11, 0x00),), Frame(Command.HANDSHAKE_11, 0x00)),
    _HandshakeStep((Frame(Command.INIT_10, 0x00),), Frame(Command.INIT_10, 0x00)),
)
_BOOT_07 = Frame(Command.BOOT_07, 0x0C)
_KEEPALIVE_ANSWER = Frame(Command.KEEPALIVE, 0x86)
_FIELDS = frozenset(RemoteState._fields)
_WATER_TEMP = Command.WATER_TEMP
_FLOW = Command.FLOW
_WIRE: dict[Frame, bytes] = {}
"""Wire bytes of every frame sent so far (at most a few hundred distinct ones)."""
_STATE_FRAMES: dict[tuple[int, int], Frame] = {}


def _state_frame(code: int, parameter: int) -> Frame:
    key = (code, parameter)
    frame = _STATE_FRAMES.get(key)
    if frame is None:
        frame = _STATE_FRAMES[key] = Frame(code, parameter)
    return frame


# Where the cycle resumes after the handshake: the capture's first state frame is 0x01.
_FIRST_CYCLE_INDEX = STATE_CYCLE.index(Command.HEATER)


class RemoteDuty:
    """Plays the remote on a port: handshake, state cycle, keep-alive, key presses, thermostat.

    ``uvc_command`` is ``Command.UVC`` for box variant A and ``Command.INIT_10`` for variant
    B. With ``thermostat=False`` the heater key goes to the box as it is (a bench drives the
    heater directly); with ``thermostat=True`` the remote sends heater-on only while the key
    is on *and* the water is below the set-point (hysteresis ``hysteresis`` °C).
    ``bubble_auto_off_minutes``, ``ozone_auto_off_minutes`` and ``uvc_auto_off_minutes``
    mirror the box's own auto-off timers (None: no mirror), so the state cycle stops asking
    for a load the box has switched off by itself.
    """

    def __init__(
        self,
        scheduler: Scheduler,
        port: RemotePort | None,
        *,
        uvc_command: Command = Command.UVC,
        thermostat: bool = True,
        hysteresis: float = 1.0,
        cycle_seconds: float = STATE_CYCLE_SECONDS,
        keepalive_seconds: float = 60.0,
        state: RemoteState = RemoteState(),  # noqa: B008 - an immutable NamedTuple
        bubble_auto_off_minutes: float | None = AUTO_OFF_MINUTES["bubbles"],
        ozone_auto_off_minutes: float | None = AUTO_OFF_MINUTES["ozone"],
        uvc_auto_off_minutes: float | None = AUTO_OFF_MINUTES["uvc"],
        join_seconds: float = 1.0,
        boot_wait_seconds: float = 8.0,
        retry_seconds: float = 2.0,
        on_frame: FrameListener | None = None,
    ) -> None:
        if uvc_command not in (Command.UVC, Command.INIT_10):
            raise ValueError(f"uvc_command must be UVC (0x15) or INIT_10 (0x10), got {uvc_command}")
        for name, value in (
            ("cycle_seconds", cycle_seconds),
            ("keepalive_seconds", keepalive_seconds),
            ("join_seconds", join_seconds),
            ("boot_wait_seconds", boot_wait_seconds),
            ("retry_seconds", retry_seconds),
        ):
            if not value > 0:
                raise ValueError(f"{name} must be positive, got {value}")
        if hysteresis < 0:
            raise ValueError(f"hysteresis must not be negative, got {hysteresis}")
        self.scheduler = scheduler
        self.port: RemotePort | None = None
        self.uvc_command = uvc_command
        self.thermostat = thermostat
        self.hysteresis = hysteresis
        self.cycle_seconds = cycle_seconds
        self.keepalive_seconds = keepalive_seconds
        self.bubble_auto_off_minutes = bubble_auto_off_minutes
        self.ozone_auto_off_minutes = ozone_auto_off_minutes
        self.uvc_auto_off_minutes = uvc_auto_off_minutes
        self.join_seconds = join_seconds
        self.boot_wait_seconds = boot_wait_seconds
        self.retry_seconds = retry_seconds
        self.frame_listeners: list[FrameListener] = [] if on_frame is None else [on_frame]
        self._state = self._normalise(state, {})

        # Observations: only what a remote can hear.
        self.decoder = FrameDecoder()
        self.water_c: float | None = None
        self.water_at: float | None = None
        self.flow: FlowSwitches | None = None
        self.flow_at: float | None = None
        self.last_rx_at: float | None = None
        self.received: Counter[int] = Counter()
        """Frames heard from the box, by command code."""
        self.boot_frames_seen = 0
        """How many box power-on frames (09 00, 07 0C) were heard."""
        self.handshake_done = False
        self.handshake_done_at: float | None = None
        self.handshakes_completed = 0
        self.handshake_attempts = 0
        self.keepalives_sent = 0
        self.keepalive_replies = 0
        self.frames_sent = 0

        self._last_temp_parameter = -1
        self._last_flow_parameter = -1
        self._demand = True  # thermostat: unknown water → let the box's own limits decide
        self._started = False
        self._step: int | None = None  # handshake step awaiting its answer
        self._joining = False  # waiting for the first handshake attempt
        self._handshake_timer: Event | None = None
        self._cycle: Periodic | None = None
        self._cycle_index = _FIRST_CYCLE_INDEX
        self._keepalive: Periodic | None = None
        self._auto_off: dict[str, Event] = {}
        if port is not None:
            self.attach(port)

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Begin the remote's duties: listen, and handshake 0.23 s after the box's 07 0C (as
        in the capture), ``join_seconds`` after hearing a box that is already running, or
        ``boot_wait_seconds`` from now if the box says nothing by itself."""
        if self._started:
            return
        self._started = True
        self._wait_to_join()

    def stop(self) -> None:
        """Cancel every timer and stop sending (observations and the state are kept)."""
        self._started = False
        self._drop_link_timers()
        for event in self._auto_off.values():
            event.cancel()
        self._auto_off.clear()

    def attach(self, port: RemotePort) -> None:
        """Listen and talk on ``port`` (a new client, a new cable); rejoins if started."""
        if self.port is not None:
            self.detach()
        self.port = port
        port.on_receive = self._on_bytes
        self.decoder.reset()
        if self._started:
            self._wait_to_join()

    def detach(self) -> None:
        """Let go of the port: nothing is sent until :meth:`attach` (timers for the link
        stop; the user's state and the auto-off mirror carry on)."""
        port = self.port
        if port is not None and port.on_receive == self._on_bytes:
            port.on_receive = None
        self.port = None
        self._drop_link_timers()

    @property
    def started(self) -> bool:
        return self._started

    # -- what the user asked for --------------------------------------------------------

    @property
    def state(self) -> RemoteState:
        """The panel's settings: the heater *key*, not the thermostat's output."""
        return self._state

    @property
    def heater_output(self) -> bool:
        """What 0x01 says on the wire: the key, gated by the thermostat when it is on."""
        return self._state.heater and (self._demand or not self.thermostat)

    @property
    def wire_state(self) -> RemoteState:
        """The state as sent to the box (heater = :attr:`heater_output`)."""
        return self._state._replace(heater=self.heater_output)

    def press(self, **changes: bool | int) -> RemoteState:
        """A key press: apply ``changes`` (RemoteState fields) and send the key-press burst
        (with 04 <°C> when the set-point changed). Before the handshake the change is only
        kept; the state cycle carries it once the box is talking."""
        unknown = set(changes) - _FIELDS
        if unknown:
            raise ValueError(f"unknown remote setting(s): {', '.join(sorted(unknown))}")
        old = self._state
        new = self._normalise(old, changes)
        self._state = new
        self._follow_auto_off(old, new)
        self._update_demand()
        if self.handshake_done:
            burst = key_press_burst(
                self.wire_state,
                setpoint_changed=new.setpoint != old.setpoint,
                uvc_command=self.uvc_command,
            )
            self._send(burst)
        return new

    def send_keepalive(self) -> None:
        """0B 00 now (also what the minute timer does); the box answers 0B 86."""
        if self._send((Frame(Command.KEEPALIVE, 0x00),)):
            self.keepalives_sent += 1

    # -- observations -------------------------------------------------------------------

    @property
    def counters(self) -> DecoderCounters:
        return self.decoder.counters

    def _on_bytes(self, data: bytes) -> None:
        now = self.scheduler.now()
        for frame in self.decoder.feed(data, now):
            self._on_frame(now, frame)

    def _on_frame(self, now: float, frame: Frame) -> None:
        self.last_rx_at = now
        command, parameter = frame
        received = self.received
        received[command] = received.get(command, 0) + 1
        if self.frame_listeners:
            for listener in self.frame_listeners:
                listener(now, "box", frame)
        if command == _WATER_TEMP:
            # The 1 Hz reports: only what they change, then out (no handshake or boot
            # checks apply to them unless we are still joining).
            self.water_at = now
            if parameter != self._last_temp_parameter:
                self._last_temp_parameter = parameter
                self.water_c = decode_temperature(parameter)
                before = self.heater_output
                self._update_demand()
                if self.heater_output != before and self.handshake_done:
                    # Not a key press: the remote tells the box the new heater state at once.
                    self._send((Frame(Command.HEATER, int(self.heater_output)),))
            if self._step is None and not self._joining:
                return
        elif command == _FLOW:
            self.flow_at = now
            if parameter != self._last_flow_parameter:
                self._last_flow_parameter = parameter
                self.flow = FlowSwitches.from_parameter(parameter)
            if self._step is None and not self._joining:
                return
        elif frame == _KEEPALIVE_ANSWER:
            self.keepalive_replies += 1
        if frame in BOX_BOOT_FRAMES:
            self.boot_frames_seen += 1
        if frame == _BOOT_07:
            if self._started and self.port is not None:
                # The box (re)booted: whatever we agreed before is gone.
                self._restart_handshake(BOOT_REPLY_SECONDS)
            return
        timer = self._handshake_timer
        if self._joining and timer is not None and timer.time > now + self.join_seconds:
            # A box that is already running: no 07 0C will come, join it shortly.
            self._restart_handshake(self.join_seconds)
        step = self._step
        if step is not None and frame == _HANDSHAKE_STEPS[step].answer:
            self._advance_handshake(step + 1)

    # -- handshake ----------------------------------------------------------------------

    def _wait_to_join(self) -> None:
        self._restart_handshake(self.boot_wait_seconds)

    def _restart_handshake(self, delay: float) -> None:
        self._drop_link_timers()
        self._joining = True
        self._handshake_timer = self.scheduler.call_later(delay, self._begin_handshake)

    def _begin_handshake(self) -> None:
        self._joining = False
        self.handshake_attempts += 1
        # If this attempt goes unanswered, start over after retry_seconds.
        self._handshake_timer = self.scheduler.call_later(self.retry_seconds, self._begin_handshake)
        self._step = 0
        self._send(_HANDSHAKE_STEPS[0].frames)

    def _advance_handshake(self, step: int) -> None:
        if step < len(_HANDSHAKE_STEPS):
            self._step = step
            self._send(_HANDSHAKE_STEPS[step].frames)
            return
        self._step = None
        if self._handshake_timer is not None:
            self._handshake_timer.cancel()
            self._handshake_timer = None
        now = self.scheduler.now()
        self.handshake_done = True
        self.handshake_done_at = now
        self.handshakes_completed += 1
        self._cycle_index = _FIRST_CYCLE_INDEX
        self._cycle = self.scheduler.call_every(
            self.cycle_seconds / len(STATE_CYCLE),
            self._send_next_state,
            first=now + FIRST_STATE_SECONDS,
        )
        self._keepalive = self.scheduler.call_every(self.keepalive_seconds, self.send_keepalive)
        if self._state.setpoint != BOX_SETPOINT_AFTER_BOOT:
            # The box restarted at its default set-point; tell it ours, as a key press would.
            self._send(
                key_press_burst(
                    self.wire_state, setpoint_changed=True, uvc_command=self.uvc_command
                )
            )

    def _drop_link_timers(self) -> None:
        for timer in (self._handshake_timer, self._cycle, self._keepalive):
            if timer is not None:
                timer.cancel()
        self._handshake_timer = None
        self._cycle = None
        self._keepalive = None
        self._step = None
        self._joining = False
        self.handshake_done = False

    # -- state cycle --------------------------------------------------------------------

    def _send_next_state(self) -> None:
        command = STATE_CYCLE[self._cycle_index]
        self._cycle_index = (self._cycle_index + 1) % len(STATE_CYCLE)
        code = self.uvc_command if command == Command.UVC else command
        if command == Command.HEATER:
            parameter = int(self.heater_output)
        else:
            parameter = self._state.parameter_for(command)
        self._send((_state_frame(code, parameter),))

    # -- thermostat ---------------------------------------------------------------------

    def _update_demand(self) -> None:
        """Demand off once the water reaches the set-point, on again once it has fallen
        ``hysteresis`` below it; in between it keeps what it was (that is the hysteresis)."""
        water = self.water_c
        if water is None:
            return
        if water >= self._state.setpoint:
            self._demand = False
        elif water <= self._state.setpoint - self.hysteresis:
            self._demand = True

    # -- auto-off mirror ----------------------------------------------------------------

    def _follow_auto_off(self, old: RemoteState, new: RemoteState) -> None:
        """The timer of a load starts when a key press switches it on or changes its level,
        as the box's does (SPEC §4 invariant 3): a burst that repeats the same level — any
        other key press — leaves it running. Being the same as the box matters one way: a
        mirror that ran out first would send 0 and switch off a load the box still runs (a
        later one is harmless, the box ignores a repeated level)."""
        for field, minutes in (
            ("bubbles", self.bubble_auto_off_minutes),
            ("ozone", self.ozone_auto_off_minutes),
            ("uvc", self.uvc_auto_off_minutes),
        ):
            change = auto_off_change(int(getattr(old, field)), int(getattr(new, field)))
            if change and minutes is not None:
                self._cancel_auto_off(field)
                self._auto_off[field] = self.scheduler.call_later(
                    minutes * 60.0, self._auto_off_expired, field
                )
            elif change is False:
                self._cancel_auto_off(field)

    def _cancel_auto_off(self, field: str) -> None:
        event = self._auto_off.pop(field, None)
        if event is not None:
            event.cancel()

    def _auto_off_expired(self, field: str) -> None:
        # The panel's display returns the load to off, as the box did: the cycle now says so.
        self._auto_off.pop(field, None)
        self._state = self._normalise(self._state, {field: 0})

    # -- sending ------------------------------------------------------------------------

    def _send(self, frames: Sequence[Frame]) -> bool:
        """Queue ``frames`` on the line; False when there is no line to send on."""
        port = self.port
        if port is None or port.lost is not None or not self._started:
            return False
        listeners = self.frame_listeners
        now = self.scheduler.now()
        for frame in frames:
            for listener in listeners:
                listener(now, "remote", frame)
            wire = _WIRE.get(frame)
            if wire is None:
                wire = _WIRE[frame] = bytes(frame)
            port.send(wire)
        self.frames_sent += len(frames)
        return True

    @staticmethod
    def _normalise(state: RemoteState, changes: Mapping[str, bool | int]) -> RemoteState:
        """``state`` with ``changes``; refuses what the wire cannot carry (``ValueError``),
        switches become real bools."""
        values = state._asdict()
        values.update(changes)
        state = RemoteState(**values)
        return RemoteState(
            heater=bool(encode_switch(state.heater)),
            filter=bool(encode_switch(state.filter)),
            bubbles=encode_bubble_level(state.bubbles),
            ozone=bool(encode_switch(state.ozone)),
            uvc=bool(encode_switch(state.uvc)),
            setpoint=encode_setpoint(state.setpoint),
        )
