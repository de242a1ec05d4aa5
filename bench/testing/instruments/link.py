"""The link instrument: the serial line to the unit under test, with the bench in a role.

Against a returned control box the bench *plays the remote* (:class:`RemoteLink`): it reuses
:class:`protocols.mspa.remote.RemoteDuty` — handshake, 7.5 s state cycle, keep-alive, key-press
bursts — so the box sees exactly what a panel would send, and everything the bench learns is
what a remote can hear (SPEC §3: water °C, flow switches, handshake answers, silence).

Against a returned control panel the bench *plays the box* (:class:`BoxRoleLink`): it reuses
:class:`protocols.mspa.box.BoxDuty` — power-on frames, handshake replies, the report schedule
of the model plate — so the panel hears what its box would say, and records what it sends.

Both work over any :class:`~protocols.ports.Port`: ``SimCable`` ends in-process, or
``LinkPort(driver, open_link(url))`` for a USB-UART adapter, a pty or a TCP socket.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from bench.testing.limits import ALIVE_WITHIN_S, f1_reset_window_s
from protocols.clock import Scheduler
from protocols.driver import Driver
from protocols.mspa import (
    Command,
    DecoderCounters,
    FlowSwitches,
    Frame,
    RemoteState,
    as_command,
    encode_temperature,
)
from protocols.mspa.box import BoxDuty
from protocols.mspa.models import ModelPlate, load_model
from protocols.mspa.remote import FromPlate, RemoteDuty
from protocols.mspa.values import (
    BUBBLE_LEVEL_MAX,
    decode_setpoint,
    led_flags,
    status_parameter,
)
from protocols.ports import Port

FrameListener = Callable[[float, str, Frame], None]
"""``(simulated time, sender "box"|"remote", frame)``: every frame on the wire, both ways."""
DEFAULT_BOX_MODEL = "premium-4"
"""The box the bench plays for a panel when no model plate is given."""


class _GatedPort:
    """The port as the remote duty sees it, with a gate the bench can close.

    Closing the gate is how the bench "goes silent" for the fail-safe test while the duty keeps
    its timers and the bench keeps listening.
    """

    def __init__(self, inner: Port) -> None:
        self.inner = inner
        self.muted = False
        self.on_receive: Callable[[bytes], None] | None = None
        inner.on_receive = self._received

    @property
    def lost(self) -> BaseException | None:
        return self.inner.lost

    def send(self, data: bytes) -> None:
        if not self.muted:
            self.inner.send(data)

    def _received(self, data: bytes) -> None:
        if self.on_receive is not None:
            self.on_receive(data)


RESET_FRAME = Frame(Command.KEEPALIVE, 0x00)
"""0B 00: the keep-alive, and what a long press of Filter sends — it clears F1, after which
the box reports 08 03 for the plate's ``errors_f1_reset_report_s`` whatever the flow."""


class RemoteLink:
    """The bench as the remote of a control box: commands and what the box says back.

    ``plate`` is the model plate of the box under test (default: the reference premium-4):
    the remote's duties follow it (UVC code, set-point encoding, cycle), and so does what the
    link believes about flow. On a box-timed model (``auto_off_by = "box"``) the duty's own
    auto-off mirrors are switched off: the bench tests the *box's* auto-off, so it must not
    switch the load off itself. On a remote-timed model (``"remote"``) the remote is the
    only timer there is, so the bench keeps the plate's timers and sends the off itself, as
    the model's panel would: a long run must not leave a blower running because the box was
    waiting for its remote.

    ``flow``/``flow_at`` are the last flow report the bench can *trust*: every 0B 00 the
    remote sends (the keep-alive, the handshake's first frame, a long press of Filter) clears
    a latched F1, and the box then reports 08 03 for ``errors_f1_reset_report_s`` whatever
    the water does (issue 12). A report inside that window (plus one report period, for a
    report that comes late) says nothing about the flow
    switches, so it is kept apart (``reset_flow``/``reset_flow_at``) and never passes a flow
    check; ``raw_flow`` is the last report of any kind. ``uvc_command`` overrides the plate's UVC
    code (0x15, 0x10 or 0x19).
    """

    role = "remote"

    def __init__(
        self,
        driver: Driver,
        port: Port,
        *,
        description: str = "",
        plate: ModelPlate | None = None,
        uvc_command: int | None = None,
    ) -> None:
        self.driver = driver
        self.port = port
        self.description = description or port.name
        self.plate = plate if plate is not None else load_model("premium-4")
        self.listeners: list[FrameListener] = []
        self.reset_sent_at: float | None = None
        """When the remote last sent 0B 00 (which clears F1)."""
        self._flow: FlowSwitches | None = None
        self._flow_at: float | None = None
        self.reset_flow: FlowSwitches | None = None
        self.reset_flow_at: float | None = None
        self._gate = _GatedPort(port)
        timers: FromPlate | None = "plate" if self.plate.auto_off_by == "remote" else None
        self.duty = RemoteDuty(
            driver.scheduler,
            self._gate,
            plate=self.plate,
            uvc_command=uvc_command,
            thermostat=False,
            bubble_auto_off_minutes=timers,
            ozone_auto_off_minutes=timers,
            uvc_auto_off_minutes=timers,
            on_frame=self._frame,
        )

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Begin the remote's duties (it handshakes as soon as the box is heard)."""
        self.duty.start()

    def close(self) -> None:
        self.duty.stop()
        self.port.close()

    def power_cycle(self) -> None:
        """The unit lost power (PRCD TEST): a real panel, fed by the box, would have died with
        it and would handshake afresh when the box is back — so the bench forgets the
        handshake too rather than rely on hearing the box's 07 0C."""
        self.duty.detach()
        self.duty.attach(self._gate)

    def _frame(self, time: float, sender: str, frame: Frame) -> None:
        if sender == "remote" and self._gate.muted:
            return  # nothing left the bench
        if sender == "remote" and frame == RESET_FRAME:
            self.reset_sent_at = time
        elif sender == "box" and frame.command == Command.FLOW:
            flow = FlowSwitches.from_parameter(frame.parameter)
            if self.in_reset_window(time):
                self.reset_flow, self.reset_flow_at = flow, time
            else:
                self._flow, self._flow_at = flow, time
        for listener in self.listeners:
            listener(time, sender, frame)

    # -- commands ---------------------------------------------------------------------------

    @property
    def state(self) -> RemoteState:
        """What the bench (as the remote) currently asks of the box."""
        return self.duty.state

    def set_loads(self, **changes: bool | int) -> None:
        """Change loads as a key press would: the whole state burst goes out at once."""
        self.duty.press(**changes)

    def press_setpoint(self, delta: int) -> None:
        """The panel's + (``1``) or − (``-1``) key, as the model's panel presses it
        (:meth:`RemoteDuty.press_setpoint <protocols.mspa.remote.RemoteDuty.press_setpoint>`:
        the first press may only show the set-point; the plate's range holds)."""
        self.duty.press_setpoint(delta)

    def send_frame(self, frame: Frame) -> None:
        """Put one raw frame on the line (a probe outside the remote's own duties)."""
        if self._gate.muted:
            return
        self._frame(self.now(), "remote", frame)
        self._gate.send(bytes(frame))

    def long_press_filter(self) -> None:
        """A long press of Filter: 0B 00, which clears F1 on the box and F1/A0 on the panel."""
        if not self._gate.muted:
            self.duty.long_press_filter()

    @property
    def panel_code(self) -> str | None:
        """What a panel would show in place of the water temperature: "F1", "A0" or None."""
        return self.duty.panel_code

    def all_off(self) -> None:
        self.duty.press(heater=False, filter=False, bubbles=0, ozone=False, uvc=False)

    def go_silent(self) -> None:
        """Stop sending anything (the box's fail-safe should switch every load off)."""
        self._gate.muted = True

    def resume(self) -> None:
        self._gate.muted = False

    # -- observations -----------------------------------------------------------------------

    def now(self) -> float:
        return self.driver.now()

    @property
    def handshake_done(self) -> bool:
        """The box answered the handshake and the port is still alive (a handshake done on a
        link that has since been lost proves nothing about the unit now)."""
        return self.duty.handshake_done and self.port.lost is None

    @property
    def lost(self) -> BaseException | None:
        """Why the link is gone, or None while it is up."""
        return self.port.lost

    @property
    def handshakes_completed(self) -> int:
        return self.duty.handshakes_completed

    @property
    def water_c(self) -> float | None:
        return self.duty.water_c

    @property
    def water_at(self) -> float | None:
        return self.duty.water_at

    def in_reset_window(self, time: float) -> bool:
        """Is a flow report heard at ``time`` one the box may make just because a 0B 00
        cleared F1 (08 03 whatever the flow)? The window is the plate's reset reports plus
        one report period (:func:`~bench.testing.limits.f1_reset_window_s`)."""
        sent = self.reset_sent_at
        return sent is not None and sent <= time <= sent + f1_reset_window_s(self.plate)

    @property
    def flow(self) -> FlowSwitches | None:
        """The last flow report outside a reset window (see the class doc)."""
        return self._flow

    @property
    def flow_at(self) -> float | None:
        return self._flow_at

    @property
    def raw_flow(self) -> FlowSwitches | None:
        """The last flow report of any kind, as a panel would show it."""
        return self.duty.flow

    @property
    def last_frame_at(self) -> float | None:
        """When the box was last heard (None: never)."""
        return self.duty.last_rx_at

    @property
    def received(self) -> Counter[int]:
        """Frames heard from the box, by command code."""
        return self.duty.received

    @property
    def counters(self) -> DecoderCounters:
        return self.duty.counters

    def frames_heard(self) -> int:
        return sum(self.duty.received.values())

    def alive(self, within: float = ALIVE_WITHIN_S) -> bool:
        """Has the box spoken within the last ``within`` seconds? It reports every second;
        the default is the bench's one alive window (:mod:`bench.testing.limits`)."""
        last = self.last_frame_at
        return last is not None and self.now() - last <= within


class BoxRoleLink:
    """The bench as the control box for a panel under test.

    Its wire duties are the box's own (:class:`~protocols.mspa.box.BoxDuty`, the virtual box
    uses the same): the power-on frames at the plate's times, every handshake/keep-alive
    frame answered at once, ``water_c`` and ``flow`` reported on the plate's schedule (06
    every ``link_report_period_s``, 08 ``link_flow_offset_s`` later) and the model's extra
    frames. ``plate`` is the model plate of the box the panel belongs to (default
    :data:`DEFAULT_BOX_MODEL`). Records what the panel sends so panel steps can check its
    handshake, state cycle and key bursts.

    The extra frames of a model that has them tell the panel what a healthy box obeying it
    would: the blower runs (12 01) while the panel's last bubble frame asks for a level, and
    the LED flags (1A) and the set-point + bubbles (1B) follow the panel's last valid state
    frames (:func:`~protocols.mspa.values.led_flags`,
    :func:`~protocols.mspa.values.status_parameter`).
    """

    role = "box"

    def __init__(
        self,
        driver: Driver,
        port: Port,
        *,
        plate: ModelPlate | None = None,
        description: str = "",
        water_c: float = 30.0,
        flow: FlowSwitches = FlowSwitches(False, False),  # noqa: B008 - immutable NamedTuple
    ) -> None:
        self.driver = driver
        self.scheduler: Scheduler = driver.scheduler
        self.port = port
        self.plate = plate if plate is not None else load_model(DEFAULT_BOX_MODEL)
        self.description = description or port.name
        self.water_c = water_c
        self.flow_switches = flow
        self.listeners: list[FrameListener] = []
        self.received: Counter[int] = Counter()
        self.log: list[tuple[float, Frame]] = []
        """Every frame heard from the panel, with its time."""
        self.last_frame_at: float | None = None
        self.silences = 0
        """How often the panel fell silent for the plate's watchdog time."""
        self._panel: dict[int, int] = {}
        """The panel's last valid parameter per state command (what a box would obey)."""
        self._setpoint = self.plate.setpoint_default_c
        self.duty = BoxDuty(self.scheduler, port, self.plate, self, on_frame=self._frame)

    @property
    def lost(self) -> BaseException | None:
        """Why the link is gone, or None while it is up."""
        return self.port.lost

    def start(self) -> None:
        """Power on as a box would: the power-on frames at the plate's times, then reports."""
        self.duty.power_on()

    def close(self) -> None:
        self.duty.power_off()
        self.port.close()

    def now(self) -> float:
        return self.driver.now()

    @property
    def counters(self) -> DecoderCounters:
        return self.duty.counters

    def frames_since(self, since: float) -> list[Frame]:
        return [frame for at, frame in self.log if at >= since]

    def _frame(self, time: float, sender: str, frame: Frame) -> None:
        for listener in self.listeners:
            listener(time, sender, frame)

    # -- the box's answers (BoxOwner) -------------------------------------------------------

    def temperature_parameter(self) -> int:
        return encode_temperature(self.water_c)

    def flow_parameter(self) -> int:
        return self.flow_switches.to_parameter()

    def blower_running(self) -> bool:
        return self._panel.get(Command.BUBBLES, 0) > 0

    def led_flags(self) -> int:
        panel = self._panel
        return led_flags(
            heater=panel.get(Command.HEATER, 0) == 1,
            filter=panel.get(Command.FILTER, 0) == 1,
            bubbles=panel.get(Command.BUBBLES, 0) > 0,
            ozone=panel.get(Command.OZONE, 0) == 1,
            uvc=panel.get(self.plate.uvc_command, 0) == 1,
        )

    def status_parameter(self) -> int:
        return status_parameter(self._setpoint, self._panel.get(Command.BUBBLES, 0))

    def on_frame(self, command: int, parameter: int) -> bool:
        """Every frame from the panel is recorded (the bench judges it, not the duty)."""
        now = self.scheduler.now()
        frame = Frame(as_command(command), parameter)
        self.last_frame_at = now
        self.received[command] += 1
        self.log.append((now, frame))
        self._follow(command, parameter)
        return True

    def booted(self) -> None:
        self._panel.clear()
        self._setpoint = self.plate.setpoint_default_c

    def watchdog_expired(self) -> None:
        self.silences += 1

    def watchdog_restored(self) -> None:
        pass

    def _follow(self, command: int, parameter: int) -> None:
        """Keep the panel's valid state frames, as a box obeying them would."""
        plate = self.plate
        if command == Command.BUBBLES:
            if parameter <= BUBBLE_LEVEL_MAX:
                self._panel[command] = parameter
        elif command in (Command.HEATER, Command.FILTER, Command.OZONE, plate.uvc_command):
            if parameter <= 1:
                self._panel[command] = parameter
        elif command == Command.SETPOINT:
            celsius = decode_setpoint(parameter, plate)  # an odd °C × 2 is ignored, as a box does
            if celsius is not None:
                self._setpoint = celsius
