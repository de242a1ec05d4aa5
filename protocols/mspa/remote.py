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

Timings follow the capture in SPEC §3 and the model's plate
(:class:`~protocols.mspa.models.ModelPlate`, premium-4's when none is given): the handshake
starts 0.23 s after the box's 07 0C, each step goes out as soon as the previous one is
answered, the first state frame follows 0.17 s after the handshake, and the cycle's entries
go out at ``remote_cycle_offsets_s`` within each ``remote_cycle_period_s`` (capture: 01,
02 +1.40, 03 +2.90, 0D +4.41, 0E +5.91, 15 +7.42, 01 again at +7.517), on an absolute
schedule that a key press does not shift; 0F 00 goes out once, ``remote_frame_0f_s`` after
the first 0x0D of a link. Key presses send the plate's burst (``remote_burst``), the
set-point in the plate's encoding. The panel's codes F1 and A0 are inferred here as a
person at the panel would see them (:attr:`RemoteDuty.panel_code`).
Choices the capture does not show are **[model]**: joining a box that is already running
(the handshake starts ``join_seconds`` after the first frame heard from it), talking to a
box that stays silent (first attempt ``boot_wait_seconds`` after :meth:`RemoteDuty.start`,
long enough for a box powered on together with the remote to boot and say 07 0C itself),
retrying an unanswered handshake every ``retry_seconds``, and the thermostat rule (a band
of ``hysteresis`` centred on the set-point: demand off when the reported water reaches
half of it above the set-point, on again once it has fallen half of it below).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Literal, Protocol

from protocols.clock import Event, Periodic, Scheduler
from protocols.mspa.decoder import DecoderCounters, FrameDecoder
from protocols.mspa.frames import Command, Frame
from protocols.mspa.models import ModelPlate, load_model
from protocols.mspa.sequences import (
    BOX_BOOT_FRAMES,
    UVC_CODES,
    RemoteState,
    entry_frame,
    key_press_burst,
)
from protocols.mspa.values import (
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
SETPOINT_DISPLAY_SECONDS = 5.0
"""[model] How long the panel shows the set-point after a + or − press: a press within this
window changes it, the first press after it only shows it (on a ``remote_show_setpoint``
model)."""
DEFAULT_MODEL = "premium-4"
"""The plate a duty follows when none is given: the capture's figures."""

PanelCode = Literal["F1", "A0"]
FromPlate = Literal["plate"]


@functools.cache
def default_plate() -> ModelPlate:
    """premium-4's plate (the capture's timings), read once."""
    return load_model(DEFAULT_MODEL)


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
_BOOT_09 = Frame(Command.BOOT_09, 0x00)
_FRAME_0F = Frame(Command.BOOT_0F, 0x00)
_RESET = Frame(Command.KEEPALIVE, 0x00)
_BOTH_CLOSED = FlowSwitches(True, True).to_parameter()
_KEEPALIVE_ANSWER = Frame(Command.KEEPALIVE, 0x86)
_FIELDS = frozenset(RemoteState._fields)
_WATER_TEMP = Command.WATER_TEMP
_FLOW = Command.FLOW
_WIRE: dict[Frame, bytes] = {}
"""Wire bytes of every frame sent so far (at most a few hundred distinct ones)."""


class RemoteDuty:
    """Plays the remote on a port: handshake, state cycle, keep-alive, key presses,
    thermostat, panel codes.

    ``plate`` is the model the remote belongs to (premium-4's when None): its cycle schedule,
    burst order, UVC code, jets, set-point range and encoding, keep-alive period, repeated
    07 0C, F1/A0 timers and who times the auto-offs. Keyword overrides win over the plate:
    ``uvc_command`` (0x15, 0x10 or 0x19), ``cycle_seconds`` (the cycle period; the offsets
    scale with it), ``keepalive_seconds``. With ``thermostat=False`` the heater key goes to
    the box as it is (a bench drives the heater directly); with ``thermostat=True`` the
    remote sends heater-on only while the key is on *and* the thermostat asks for heat (a
    ``hysteresis`` °C band centred on the set-point: off at set-point + half of it, on at
    set-point − half of it). ``bubble_auto_off_minutes``, ``ozone_auto_off_minutes``
    and ``uvc_auto_off_minutes`` are the auto-off timers the remote keeps ("plate": the
    plate's; None: none): on an ``auto_off_by = "box"`` model they mirror the box's own so
    the cycle stops asking for a load the box has switched off; on a ``"remote"`` model they
    are the only timers, and the remote sends the off frame at once when one ends.
    """

    def __init__(
        self,
        scheduler: Scheduler,
        port: RemotePort | None,
        *,
        plate: ModelPlate | None = None,
        uvc_command: int | None = None,
        thermostat: bool = True,
        hysteresis: float = 1.0,
        cycle_seconds: float | None = None,
        keepalive_seconds: float | None = None,
        state: RemoteState = RemoteState(),  # noqa: B008 - an immutable NamedTuple
        bubble_auto_off_minutes: float | FromPlate | None = "plate",
        ozone_auto_off_minutes: float | FromPlate | None = "plate",
        uvc_auto_off_minutes: float | FromPlate | None = "plate",
        join_seconds: float = 1.0,
        boot_wait_seconds: float = 8.0,
        retry_seconds: float = 2.0,
        on_frame: FrameListener | None = None,
    ) -> None:
        plate = default_plate() if plate is None else plate
        if uvc_command is None:
            uvc_command = plate.uvc_command
        if uvc_command not in UVC_CODES:
            raise ValueError(
                f"uvc_command must be UVC (0x15), INIT_10 (0x10) or UVC_C (0x19), got {uvc_command}"
            )
        if cycle_seconds is None:
            cycle_seconds = plate.remote_cycle_period_s
        if keepalive_seconds is None:
            keepalive_seconds = plate.remote_keepalive_s
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
        self.plate = plate
        self.port: RemotePort | None = None
        self.uvc_command = uvc_command
        self.thermostat = thermostat
        self.hysteresis = hysteresis
        self.cycle_seconds = cycle_seconds
        scale = cycle_seconds / plate.remote_cycle_period_s
        self.cycle: tuple[str, ...] = plate.remote_cycle
        self.cycle_offsets: tuple[float, ...] = tuple(
            offset * scale for offset in plate.remote_cycle_offsets_s
        )
        self.keepalive_seconds = keepalive_seconds
        self.bubble_auto_off_minutes = (
            plate.blower_auto_off_min
            if bubble_auto_off_minutes == "plate"
            else bubble_auto_off_minutes
        )
        self.ozone_auto_off_minutes = (
            plate.ozone_auto_off_h * 60.0
            if ozone_auto_off_minutes == "plate"
            else ozone_auto_off_minutes
        )
        self.uvc_auto_off_minutes = (
            plate.uvc_auto_off_h * 60.0 if uvc_auto_off_minutes == "plate" else uvc_auto_off_minutes
        )
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
        self.repeated_07_seen = 0
        """07 0C heard from a running box that repeats it (not taken as a reboot)."""
        self.handshake_done = False
        self.handshake_done_at: float | None = None
        self.handshakes_completed = 0
        self.handshake_attempts = 0
        self.keepalives_sent = 0
        self.keepalive_replies = 0
        self.resets_sent = 0
        """Long presses of Filter (0B 00 sent as the reset)."""
        self.frames_sent = 0

        self._last_temp_parameter = -1
        self._last_flow_parameter = -1
        self._demand = True  # thermostat: unknown water → let the box's own limits decide
        self._started = False
        self._step: int | None = None  # handshake step awaiting its answer
        self._joining = False  # waiting for the first handshake attempt
        self._boot_09_heard = False  # a 09 00 since the last handshake: the next 07 0C is a boot
        self._handshake_timer: Event | None = None
        self._cycle: Event | None = None
        self._cycle_start = 0.0  # when entry 0 of cycle number 0 went (or goes) out
        self._cycle_number = 0
        self._cycle_index = 0
        self._frame_0f: Event | None = None
        self._frame_0f_due = False
        self._keepalive: Periodic | None = None
        self._auto_off: dict[str, Event] = {}
        self._setpoint_shown_at: float | None = None
        # Panel codes.
        self._f1 = False
        self._f1_check: Event | None = None
        self._flow_good_at: float | None = None  # last 08 with both switches closed
        self._filter_on_at: float | None = None  # when the filter key went on
        self._a0 = False
        self._a0_timer: Event | None = None
        self._filter_seconds = 0.0  # filter-commanded seconds counted before _filter_on_at
        if self._state.filter:
            self._filter_on_at = scheduler.now()
            self._arm_a0()
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
        (with 04 <set-point> when the set-point changed). Before the handshake the change is
        only kept; the state cycle carries it once the box is talking."""
        return self._press(changes, show_setpoint=False)

    def press_setpoint(self, delta: int) -> RemoteState:
        """The panel's + (``delta`` 1) or − (−1) key.

        On a ``remote_show_setpoint`` model (the capture) the first press — the display not
        already showing the set-point, i.e. no +/− press in the last
        :data:`SETPOINT_DISPLAY_SECONDS` — only shows it: the burst goes out with 04 and the
        unchanged set-point. Further presses while it shows change it by one degree within
        the plate's range; a press at the end of the range still sends the burst with the
        unchanged 04 (the display shows it). Without show-set-point every press changes it,
        and the burst carries 04 only when the value changed."""
        if delta not in (-1, 1):
            raise ValueError(f"a set-point key moves one degree (+1 or -1), got {delta!r}")
        now = self.scheduler.now()
        showing = self.setpoint_showing
        self._setpoint_shown_at = now
        show = self.plate.remote_show_setpoint
        if show and not showing:
            return self._press({}, show_setpoint=True)
        low, high = self.plate.setpoint_min_c, self.plate.setpoint_max_c
        setpoint = min(max(self._state.setpoint + delta, low), high)
        return self._press({"setpoint": setpoint}, show_setpoint=show)

    @property
    def setpoint_showing(self) -> bool:
        """The display shows the set-point (a +/− press less than
        :data:`SETPOINT_DISPLAY_SECONDS` ago)."""
        shown = self._setpoint_shown_at
        return shown is not None and self.scheduler.now() - shown < SETPOINT_DISPLAY_SECONDS

    def _press(self, changes: Mapping[str, bool | int], *, show_setpoint: bool) -> RemoteState:
        unknown = set(changes) - _FIELDS
        if unknown:
            raise ValueError(f"unknown remote setting(s): {', '.join(sorted(unknown))}")
        old = self._state
        new = self._normalise(old, changes)
        self._state = new
        self._follow_auto_off(old, new)
        self._follow_filter(old, new)
        self._update_demand()
        if self.handshake_done:
            self._send(self._burst(setpoint=show_setpoint or new.setpoint != old.setpoint))
        return new

    def _burst(self, *, setpoint: bool) -> list[Frame]:
        plate = self.plate
        return key_press_burst(
            self.wire_state,
            setpoint_changed=setpoint,
            uvc_command=self.uvc_command,
            burst=plate.remote_burst,
            jets_fitted=plate.jets_fitted,
            setpoint_encoding=plate.setpoint_encoding,
        )

    def send_keepalive(self) -> None:
        """0B 00 now (also what the minute timer does); the box answers 0B 86."""
        if self._send((_RESET,)):
            self.keepalives_sent += 1

    def long_press_filter(self) -> None:
        """A long press of Filter: 0B 00 (the reset, the same frame as the keep-alive) and
        both panel codes cleared. F1 comes back if the flow switches stay open (the box
        reports 08 03 for a moment after the reset, then the true flow); A0's filtering
        counter starts again from zero."""
        if self._send((_RESET,)):
            self.resets_sent += 1
        now = self.scheduler.now()
        self._f1 = False
        self._flow_good_at = now
        self._schedule_f1_check()
        self._a0 = False
        self._filter_seconds = 0.0
        if self._filter_on_at is not None:
            self._filter_on_at = now
        self._arm_a0()

    # -- panel codes --------------------------------------------------------------------

    @property
    def panel_code(self) -> PanelCode | None:
        """What the panel shows in place of the water temperature: "F1" (flow error), "A0"
        (clean the filter) or None; F1 wins.

        F1 has no frame of its own: the panel infers it, as a person would, when the filter
        is commanded and 08 has not shown both switches closed for longer than
        ``errors_f1_after_s`` plus one report period (the box latches F1 after
        ``errors_f1_after_s``; the extra period is the panel waiting for the report that
        would have said otherwise). Once shown it stays until :meth:`long_press_filter`,
        like the box's latch, even if the filter is switched off meanwhile. A0 follows the
        panel's own counter of filtering hours (``errors_a0_after_h``)."""
        if self._f1:
            return "F1"
        if self._a0:
            return "A0"
        return None

    def _f1_deadline(self) -> float | None:
        if self._f1 or not self._state.filter or not self.handshake_done:
            return None
        since = max(
            t
            for t in (self._flow_good_at, self._filter_on_at, self.handshake_done_at)
            if t is not None
        )
        plate = self.plate
        return since + plate.errors_f1_after_s + plate.link_report_period_s

    def _schedule_f1_check(self) -> None:
        if self._f1_check is not None:
            self._f1_check.cancel()
            self._f1_check = None
        deadline = self._f1_deadline()
        if deadline is not None:
            self._f1_check = self.scheduler.call_at(deadline, self._check_f1)

    def _check_f1(self) -> None:
        self._f1_check = None
        deadline = self._f1_deadline()
        if deadline is None:
            return
        if self.scheduler.now() >= deadline:
            self._f1 = True
        else:
            self._schedule_f1_check()

    def _arm_a0(self) -> None:
        if self._a0_timer is not None:
            self._a0_timer.cancel()
            self._a0_timer = None
        since = self._filter_on_at
        if since is None or self._a0:
            return
        left = self.plate.errors_a0_after_h * 3600.0 - self._filter_seconds
        self._a0_timer = self.scheduler.call_at(since + max(left, 0.0), self._a0_due)

    def _a0_due(self) -> None:
        self._a0_timer = None
        self._a0 = True

    def _follow_filter(self, old: RemoteState, new: RemoteState) -> None:
        """The filter key went on or off: the A0 counter runs while it is on; F1 watches."""
        if new.filter == old.filter:
            return
        now = self.scheduler.now()
        if new.filter:
            self._filter_on_at = now
        else:
            if self._filter_on_at is not None:
                self._filter_seconds += now - self._filter_on_at
            self._filter_on_at = None
        self._arm_a0()
        self._schedule_f1_check()

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
            if parameter == _BOTH_CLOSED:
                self._flow_good_at = now
            if parameter != self._last_flow_parameter:
                self._last_flow_parameter = parameter
                self.flow = FlowSwitches.from_parameter(parameter)
            if self._step is None and not self._joining:
                return
        elif frame == _KEEPALIVE_ANSWER:
            self.keepalive_replies += 1
        if frame in BOX_BOOT_FRAMES:
            self.boot_frames_seen += 1
        if frame == _BOOT_09:
            self._boot_09_heard = True
        if frame == _BOOT_07:
            if self._started and self.port is not None:
                if (
                    self.plate.boot_repeat_07_s > 0
                    and not self._boot_09_heard
                    and (self.handshake_done or self._step is not None)
                ):
                    # This box repeats 07 0C while running: a reboot starts with 09 00.
                    self.repeated_07_seen += 1
                    return
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
        self._boot_09_heard = False
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
        self._cycle_start = now + FIRST_STATE_SECONDS
        self._cycle_number = 0
        self._cycle_index = 0
        self._frame_0f_due = self.plate.remote_frame_0f_s > 0
        self._cycle = self.scheduler.call_at(self._cycle_start, self._send_next_state)
        self._keepalive = self.scheduler.call_every(self.keepalive_seconds, self.send_keepalive)
        self._schedule_f1_check()
        if self._state.setpoint != self.plate.setpoint_default_c:
            # The box restarted at its default set-point; tell it ours, as a key press would.
            self._send(self._burst(setpoint=True))

    def _drop_link_timers(self) -> None:
        for timer in (self._handshake_timer, self._cycle, self._keepalive, self._frame_0f):
            if timer is not None:
                timer.cancel()
        if self._f1_check is not None:
            self._f1_check.cancel()
            self._f1_check = None
        self._handshake_timer = None
        self._cycle = None
        self._keepalive = None
        self._frame_0f = None
        self._step = None
        self._joining = False
        self.handshake_done = False

    # -- state cycle --------------------------------------------------------------------

    def _send_next_state(self) -> None:
        """Send the cycle's next entry and schedule the one after it on the absolute
        schedule (cycle start + n × period + offset): key presses never shift it."""
        entry = self.cycle[self._cycle_index]
        self._cycle_index += 1
        if self._cycle_index == len(self.cycle):
            self._cycle_index = 0
            self._cycle_number += 1
        when = (
            self._cycle_start
            + self._cycle_number * self.cycle_seconds
            + self.cycle_offsets[self._cycle_index]
        )
        self._cycle = self.scheduler.call_at(when, self._send_next_state)
        frame = self._entry(entry)
        self._send((frame,))
        if entry == "jets" and self._frame_0f_due:
            self._frame_0f_due = False
            self._frame_0f = self.scheduler.call_later(self.plate.remote_frame_0f_s, self._send_0f)

    def _send_0f(self) -> None:
        self._frame_0f = None
        self._send((_FRAME_0F,))

    def _entry(self, entry: str) -> Frame:
        return entry_frame(
            entry,
            self.wire_state,
            uvc_command=self.uvc_command,
            jets_fitted=self.plate.jets_fitted,
            setpoint_encoding=self.plate.setpoint_encoding,
        )

    # -- thermostat ---------------------------------------------------------------------

    def _update_demand(self) -> None:
        """Demand off once the reported water reaches ``hysteresis / 2`` above the set-point,
        on again once it has fallen ``hysteresis / 2`` below it; in between it keeps what it
        was (that is the hysteresis). The band is centred on the set-point (SPEC §3: "around
        the set-point") so the true water averages the set-point: the box rounds its reading
        to the nearest 0.5 °C, symmetric about the true value, so with the default 1 °C the
        switching points 40.5 / 39.5 (set-point 40) mean true water ≥ 40.25 / < 39.75 on
        the firmware's own sensor, centred on 40.0. (Switching off *at* the set-point held
        the water half a degree low: 39.5 °C under 40.)"""
        water = self.water_c
        if water is None:
            return
        half = self.hysteresis / 2
        if water >= self._state.setpoint + half:
            self._demand = False
        elif water <= self._state.setpoint - half:
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
        """The panel's display returns the load to off. On a box-timed model the box did it
        already and the cycle now agrees; on a remote-timed model this *is* the auto-off,
        so the off frame goes out at once (not up to a cycle later)."""
        self._auto_off.pop(field, None)
        self._state = self._normalise(self._state, {field: 0})
        if self.plate.auto_off_by == "remote" and self.handshake_done:
            self._send((self._entry(field),))

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

    def _normalise(self, state: RemoteState, changes: Mapping[str, bool | int]) -> RemoteState:
        """``state`` with ``changes``; refuses what the wire or the model cannot carry
        (``ValueError``), switches become real bools."""
        values = state._asdict()
        values.update(changes)
        state = RemoteState(**values)
        plate = self.plate
        jets = bool(encode_switch(state.jets))
        if jets and not plate.jets_fitted:
            raise ValueError(f"model {plate.name} has no jets")
        return RemoteState(
            heater=bool(encode_switch(state.heater)),
            filter=bool(encode_switch(state.filter)),
            bubbles=encode_bubble_level(state.bubbles),
            ozone=bool(encode_switch(state.ozone)),
            uvc=bool(encode_switch(state.uvc)),
            setpoint=encode_setpoint(
                state.setpoint, low=plate.setpoint_min_c, high=plate.setpoint_max_c
            ),
            jets=jets,
        )
