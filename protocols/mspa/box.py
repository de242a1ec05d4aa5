"""The box's protocol duties (SPEC §3), written once for every box we play.

A control box does a few things on the remote cable whatever its firmware does with the
loads: it says its power-on frames (09 00, then 07 0C), answers the remote's handshake and
keep-alive at once, reports the water temperature (06) and the flow switches (08) every
report period, and — because the remote never stops talking — treats a long silence as a
lost remote. Some models say more: 12 01 twice a second while the blower runs (12 00 once
when it stops), 1A <LED flags> with every temperature report, 1B <set-point + bubbles> with
every flow report, and 07 0C repeated while running. :class:`BoxDuty` does all of that on a
:class:`~protocols.clock.Scheduler` through a port, following a model plate
(:class:`~protocols.mspa.models.ModelPlate`; a simulator profile is one, with its own
figures): the virtual box (:mod:`spasim.board`) wraps it around its firmware, and the bench
reuses it to play the box against a returned panel. It only schedules events; it never
blocks, sleeps or reads the wall clock.

What it reports it asks of its **owner** (:class:`BoxOwner`) when the frame goes out — the
temperature and flow parameters, whether the blower runs, the LED flags and the status byte
— and every valid frame it receives it hands to the owner, which says whether the frame
means anything to it (an ignored frame is not answered and does not feed the watchdog,
SPEC §4 invariant 5). The duty answers the handshake and keep-alive itself
(:data:`~protocols.mspa.sequences.HANDSHAKE_REPLIES`), and on a variant B box (UVC on 0x10)
echoes the 0x10 0/1 UVC enable as the box does.

Times follow the plate (defaults from the capture): 09 00 at ``boot_frame_09_s`` and 07 0C
at ``boot_frame_07_s`` after power-on, the first 06 at ``boot_first_temperature_s`` and then
one every ``link_report_period_s``, each 08 ``link_flow_offset_s`` after its 06. A
scheduled frame is handed to the port one frame-time early (:data:`FRAME_SECONDS`), so it
*arrives* at the captured time, as the capture records complete frames. The watchdog costs
one event per watchdog period, not one per frame: a frame only notes when it was heard, and
the event due at the earliest possible expiry re-arms itself for the latest.

Choices no source shows are **[model]**: the 12 frames go out on a 0.5 s grid that starts
with the first temperature report (the blower is looked at on each tick, so 12 00 follows a
stop within 0.5 s); the 1A and 1B parameter layouts
(:func:`~protocols.mspa.values.led_flags`, :func:`~protocols.mspa.values.status_parameter`,
written once in :mod:`protocols.mspa.values` beside their inverses, which ``describe`` uses);
the first repeated 07 0C one ``boot_repeat_07_s`` after the power-on one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from protocols.clock import Event, Periodic, Scheduler
from protocols.mspa.decoder import DecoderCounters, FrameDecoder
from protocols.mspa.frames import FRAME_SECONDS, Command, Frame, as_command, encode
from protocols.mspa.models import ModelPlate
from protocols.mspa.sequences import HANDSHAKE_REPLIES
from protocols.mspa.values import led_flags as led_flags  # the 1A layout, re-exported
from protocols.mspa.values import status_parameter as status_parameter  # the 1B layout

FrameListener = Callable[[float, str, Frame], None]
"""``(simulated time, sender "box"|"remote", frame)``: called for every frame both ways."""

BLOWER_FRAME_PERIOD_S = 0.5
"""Sources (ET, AH): 12 01 twice a second while bubbles run."""


class BoxOwner(Protocol):
    """What the duty asks of the firmware (or of the bench playing a box).

    The ``*_parameter`` / ``led_flags`` / ``blower_running`` questions are asked when the
    frame goes out, so the answer is the owner's state at that moment. ``on_frame`` gets
    every frame with a good checksum while the box runs; it returns False when the frame
    means nothing to this box (unknown code, parameter out of range): no answer, and the
    watchdog is not fed.
    """

    def temperature_parameter(self) -> int:
        """The 06 parameter now (°C × 2)."""
        ...

    def flow_parameter(self) -> int:
        """The 08 parameter now (bit 0 inlet, bit 1 outlet flow switch closed)."""
        ...

    def blower_running(self) -> bool:
        """Whether the blower runs now (models with 12 frames)."""
        ...

    def led_flags(self) -> int:
        """The 1A parameter now (models with LED frames)."""
        ...

    def status_parameter(self) -> int:
        """The 1B parameter now (models with status frames)."""
        ...

    def on_frame(self, command: int, parameter: int) -> bool:
        """A frame from the remote; False: ignored."""
        ...

    def booted(self) -> None:
        """07 0C has just gone out: the firmware runs (reports are scheduled right after)."""
        ...

    def watchdog_expired(self) -> None:
        """No valid frame for ``link_watchdog_s``: fail-safe (the duty keeps reporting)."""
        ...

    def watchdog_restored(self) -> None:
        """The first valid frame after :meth:`watchdog_expired`."""
        ...


class BoxPort(Protocol):
    """What the duty needs of a :class:`~protocols.ports.Port` (kept narrow for fakes)."""

    on_receive: Callable[[bytes], None] | None

    @property
    def lost(self) -> BaseException | None: ...

    def send(self, data: bytes) -> None: ...


OFF, BOOTING, RUNNING = "off", "booting", "running"
"""The duty's phases: no power, saying the power-on frames, running."""

_TEMPERATURE = tuple(encode(Command.WATER_TEMP, p) for p in range(256))
_FLOW = tuple(encode(Command.FLOW, p) for p in range(256))
_LED = tuple(encode(Command.LED_FLAGS, p) for p in range(256))
_STATUS = tuple(encode(Command.STATUS, p) for p in range(256))
_BLOWER_ON = encode(Command.BLOWER, 0x01)
_BLOWER_OFF = encode(Command.BLOWER, 0x00)
_BOOT_09 = encode(Command.BOOT_09, 0x00)
_BOOT_07 = encode(Command.BOOT_07, 0x0C)
_UVC_VARIANT_B = int(Command.INIT_10)


def _replies(uvc_command: int) -> dict[int, bytes]:
    """``command << 8 | parameter`` → the answer's bytes."""
    replies = {int(command) << 8: bytes(frame) for command, frame in HANDSHAKE_REPLIES.items()}
    if uvc_command == _UVC_VARIANT_B:
        # Variant B: 0x10 is also the UVC enable, and the box echoes it either way.
        replies[_UVC_VARIANT_B << 8 | 1] = encode(_UVC_VARIANT_B, 1)
    return replies


class BoxDuty:
    """Plays the box on a port: power-on frames, replies, report schedule, watchdog.

    :meth:`power_on` boots (power-on frames at the plate's times, then reports until
    :meth:`power_off`). ``tx_filter`` / ``rx_filter``, when set, get every chunk of bytes
    the box sends / receives and return what really goes over the wire (a noisy cable).
    """

    def __init__(
        self,
        scheduler: Scheduler,
        port: BoxPort | None,
        plate: ModelPlate,
        owner: BoxOwner,
        *,
        on_frame: FrameListener | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.plate = plate
        self.owner = owner
        self.port: BoxPort | None = None
        self.frame_listeners: list[FrameListener] = [] if on_frame is None else [on_frame]
        self.tx_filter: Callable[[bytes], bytes] | None = None
        self.rx_filter: Callable[[bytes], bytes] | None = None
        self.decoder = FrameDecoder()
        self.ignored_frames = 0
        """Valid-checksum frames the owner ignored (unknown code, out-of-range parameter)."""
        self.phase = OFF
        self.boot_started: float | None = None
        """When the last :meth:`power_on` happened (None: never)."""
        self.last_heard = 0.0
        """When the last valid frame arrived (or the box started running)."""
        self.silent = False
        """The watchdog expired and no valid frame has come since."""
        self._replies = _replies(plate.uvc_command)
        self._blower_was_running = False
        self._events: list[Event] = []
        self._timers: list[Periodic] = []
        self._watchdog: Event | None = None
        # The owner's answers, looked up once (the hot path calls them every report/frame).
        self._temperature = owner.temperature_parameter
        self._flow = owner.flow_parameter
        self._take = owner.on_frame
        if port is not None:
            self.attach(port)

    # -- port ---------------------------------------------------------------------------

    def attach(self, port: BoxPort) -> None:
        """Talk and listen on ``port`` (replacing any other); the schedule carries on."""
        self.detach()
        self.port = port
        port.on_receive = self._on_bytes

    def detach(self) -> None:
        """Let go of the port: what the box says goes nowhere, nothing arrives."""
        port = self.port
        if port is not None and port.on_receive == self._on_bytes:
            port.on_receive = None
        self.port = None

    @property
    def counters(self) -> DecoderCounters:
        """The box receiver's counters (good frames, bad sums, discarded bytes, timeouts)."""
        return self.decoder.counters

    # -- power --------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.phase == RUNNING

    @property
    def booting(self) -> bool:
        return self.phase == BOOTING

    @property
    def first_report_at(self) -> float | None:
        """When the first 06 of this power-on is handed to the port (None before power-on):
        an owner polling its sensor on another period starts its polls here, in step."""
        if self.boot_started is None:
            return None
        return self.boot_started - FRAME_SECONDS + self.plate.boot_first_temperature_s

    def power_on(self) -> None:
        """Power reaches a working board: the power-on frames at the plate's times, then
        :meth:`BoxOwner.booted`, the reports and the watchdog. Nothing if already on."""
        if self.phase != OFF:
            return
        p = self.plate
        now = self.scheduler.now()
        self.boot_started = now
        start = now - FRAME_SECONDS
        self.phase = BOOTING
        call_at = self.scheduler.call_at
        self._events = [
            call_at(start + p.boot_frame_09_s, self._send, _BOOT_09),
            call_at(start + p.boot_frame_07_s, self._boot_done),
        ]

    def power_off(self) -> None:
        """Power lost (or the board died): nothing more is said or heard, every timer stops,
        and the receiver forgets any partial frame."""
        for event in self._events:
            event.cancel()
        for timer in self._timers:
            timer.cancel()
        if self._watchdog is not None:
            self._watchdog.cancel()
        self._events = []
        self._timers = []
        self._watchdog = None
        self.phase = OFF
        self.silent = False
        self._blower_was_running = False
        self.decoder.reset()

    def _boot_done(self) -> None:
        self._events = []
        self._send(_BOOT_07)
        self.phase = RUNNING
        self.decoder.reset()
        self.last_heard = self.scheduler.now()
        self.silent = False
        self.owner.booted()
        if self.phase != RUNNING:
            return  # the owner lost power while starting
        self._schedule_reports()
        self._arm_watchdog()

    def _schedule_reports(self) -> None:
        p = self.plate
        scheduler = self.scheduler
        first = self.first_report_at
        assert first is not None
        period = p.link_report_period_s
        temperature = (
            self._report_temperature_and_leds if p.box_led_frame else self._report_temperature
        )
        flow = self._report_flow_and_status if p.box_status_frame else self._report_flow
        timers = [
            scheduler.call_every(period, temperature, first=first),
            scheduler.call_every(period, flow, first=first + p.link_flow_offset_s),
        ]
        if p.box_blower_frame:
            timers.append(scheduler.call_every(BLOWER_FRAME_PERIOD_S, self._blower, first=first))
        if p.boot_repeat_07_s > 0:
            timers.append(scheduler.call_every(p.boot_repeat_07_s, self._send, _BOOT_07))
        self._timers = timers

    # -- reports ------------------------------------------------------------------------

    def _report_temperature(self) -> None:
        self._send(_TEMPERATURE[self._temperature()])

    def _report_temperature_and_leds(self) -> None:
        self._send(_TEMPERATURE[self._temperature()])
        self._send(_LED[self.owner.led_flags()])

    def _report_flow(self) -> None:
        self._send(_FLOW[self._flow()])

    def _report_flow_and_status(self) -> None:
        self._send(_FLOW[self._flow()])
        self._send(_STATUS[self.owner.status_parameter()])

    def _blower(self) -> None:
        if self.owner.blower_running():
            self._blower_was_running = True
            self._send(_BLOWER_ON)
        elif self._blower_was_running:
            self._blower_was_running = False
            self._send(_BLOWER_OFF)

    # -- receive ------------------------------------------------------------------------

    def _on_bytes(self, data: bytes) -> None:
        if self.phase != RUNNING:
            return  # the firmware is not running: nobody reads the UART
        rx = self.rx_filter
        if rx is not None:
            data = rx(data)
        now = self.scheduler.now()
        take = self._take
        for frame in self.decoder.feed(data, now):
            command, parameter = frame
            taken = take(command, parameter)
            if self.phase != RUNNING:
                break  # the frame cost the power (the rest of the chunk falls on deaf ears)
            if not taken:
                self.ignored_frames += 1
                continue
            if self.frame_listeners:
                for listener in self.frame_listeners:
                    listener(now, "remote", frame)
            self.last_heard = now
            if self.silent:
                self.silent = False
                self.owner.watchdog_restored()
                self._arm_watchdog()
            reply = self._replies.get(command << 8 | parameter)
            if reply is not None:
                self._send(reply)

    # -- watchdog -----------------------------------------------------------------------

    def _arm_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        self._watchdog = self.scheduler.call_at(
            self.last_heard + self.plate.link_watchdog_s, self._watchdog_due
        )

    def _watchdog_due(self) -> None:
        """Runs at the earliest possible expiry; frames heard meanwhile push it later."""
        self._watchdog = None
        if self.phase != RUNNING or self.silent:
            return
        deadline = self.last_heard + self.plate.link_watchdog_s
        if self.scheduler.now() >= deadline:
            self.silent = True
            self.owner.watchdog_expired()
        else:
            self._watchdog = self.scheduler.call_at(deadline, self._watchdog_due)

    # -- sending ------------------------------------------------------------------------

    def _send(self, data: bytes) -> None:
        port = self.port
        if port is None or port.lost is not None:
            return
        if self.frame_listeners:
            frame = Frame(as_command(data[1]), data[2])
            now = self.scheduler.now()
            for listener in self.frame_listeners:
                listener(now, "box", frame)
        tx = self.tx_filter
        if tx is not None:
            data = tx(data)
        port.send(data)

    def send_frames(self, frames: Sequence[Frame]) -> None:
        """Put frames on the line now, outside the schedule (a bench probe)."""
        for frame in frames:
            self._send(bytes(frame))
