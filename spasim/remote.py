"""The virtual control panel (the "remote"): keys and a display over :class:`RemoteDuty`.

A real panel is keys, a display and the protocol duties of SPEC §3. The duties live in
:class:`protocols.mspa.remote.RemoteDuty` because the bench plays the same remote against a
real box; this module adds only what a person touches and sees, plus the one fault that is
the panel's own, ``panel-dead`` (SPEC §5: a remote under test that sends nothing). Used by
``spasim serve --role remote`` to drive a real or virtual box over a link, and in-process
next to a :class:`spasim.board.VirtualBox` on a :class:`~protocols.ports.SimCable`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from protocols.clock import Scheduler
from protocols.mspa import RemoteState
from protocols.mspa.remote import FrameListener, PanelCode, RemoteDuty, RemotePort
from spasim.faults import parse_fault
from spasim.profiles import Profile, resolve_profile

DEFAULT_PROFILE = "premium-4"

PANEL_DEAD = "panel-dead"
"""The panel's circuit is dead: it sends nothing and registers no key (SPEC §5)."""
BUBBLE_LEVELS = 3


class PanelDisplay(NamedTuple):
    """What the panel shows a person: the readout and the key lights."""

    readout: str
    """The digits as a person reads them: the water temperature (``"38"``, ``"--"`` before
    the first report), the set-point while a +/− press shows it, or the panel code
    (``"F1"``, ``"A0"``) in their place, blinking."""
    blinking: bool
    """The readout blinks (a panel code)."""
    code: PanelCode | None
    """The panel code shown, if any (F1 wins over A0)."""
    showing_setpoint: bool
    """The readout is the set-point (a +/− press less than 5 s ago)."""
    water_c: float | None
    """Last temperature the box reported (None before the first 0x06 frame)."""
    setpoint: int
    heater: bool
    """The heater key's light."""
    heating: bool
    """Whether the panel is asking the box to heat now (key and thermostat)."""
    filter: bool
    bubbles: int
    ozone: bool
    uvc: bool
    jets: bool
    connected: bool
    """Handshake done with a box (a dead panel shows nothing at all)."""


class VirtualRemote:
    """A wired MSpa panel on a port: press keys, read the display, inject ``panel-dead``.

    ``profile`` (a :class:`~spasim.profiles.Profile` or its name) is the box model the panel
    belongs to: its plate fixes everything the duty follows (cycle schedule, burst, UVC code
    0x15/0x10/0x19, jets, set-point range and encoding, auto-off times and side, F1/A0
    timers); ``uvc_command`` overrides the UVC code (a panel tested on the bench without a
    box model).

    Keys act like the real ones: heater, filter, ozone, UVC and jets toggle; bubbles step
    through off → 1 → 2 → 3 → off; + and − show the set-point, then move it one degree within
    the model's range (:meth:`RemoteDuty.press_setpoint`); a long press of Filter resets F1
    and A0. Every key press sends the key-press burst.
    """

    def __init__(
        self,
        scheduler: Scheduler,
        port: RemotePort | None = None,
        *,
        profile: Profile | str | None = None,
        faults: Iterable[str] = (),
        uvc_command: int | None = None,
        thermostat: bool = True,
        state: RemoteState = RemoteState(),  # noqa: B008 - an immutable NamedTuple
        on_frame: FrameListener | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.profile = resolve_profile(profile or DEFAULT_PROFILE)
        self.duty = RemoteDuty(
            scheduler,
            port,
            plate=self.profile.plate,
            uvc_command=uvc_command,
            thermostat=thermostat,
            state=state,
            on_frame=on_frame,
        )
        self._faults: set[str] = set()
        self._powered = False
        for fault in faults:
            self.inject(fault)

    # -- life cycle (power and cable) -----------------------------------------------------

    def start(self) -> None:
        """Power the panel: it starts its duties unless it is dead."""
        self._powered = True
        if PANEL_DEAD not in self._faults:
            self.duty.start()

    def stop(self) -> None:
        self._powered = False
        self.duty.stop()

    def attach(self, port: RemotePort) -> None:
        """Plug the panel's cable into ``port`` (a served client, a new box)."""
        self.duty.attach(port)

    def detach(self) -> None:
        self.duty.detach()

    # -- faults ---------------------------------------------------------------------------

    @property
    def faults(self) -> frozenset[str]:
        return frozenset(self._faults)

    def inject(self, fault: str) -> None:
        """Give the panel a remote fault of the catalogue (``ValueError`` for anything else)."""
        self._faults.add(parse_fault(fault, role="remote").id)
        self.duty.stop()

    def clear(self, fault: str) -> None:
        self._faults.discard(fault)
        if self._powered and PANEL_DEAD not in self._faults:
            # A panel that comes back to life joins the box like one just plugged in.
            self.duty.start()

    @property
    def dead(self) -> bool:
        return PANEL_DEAD in self._faults

    # -- keys -----------------------------------------------------------------------------

    def _press(self, **changes: bool | int) -> RemoteState:
        if self.dead:
            return self.duty.state
        return self.duty.press(**changes)

    def press_heater(self) -> RemoteState:
        return self._press(heater=not self.duty.state.heater)

    def press_filter(self) -> RemoteState:
        return self._press(filter=not self.duty.state.filter)

    def press_bubbles(self) -> RemoteState:
        return self._press(bubbles=(self.duty.state.bubbles + 1) % (BUBBLE_LEVELS + 1))

    def press_ozone(self) -> RemoteState:
        return self._press(ozone=not self.duty.state.ozone)

    def press_uvc(self) -> RemoteState:
        return self._press(uvc=not self.duty.state.uvc)

    def press_jets(self) -> RemoteState:
        """The jets key (a model with a jet pump; ``ValueError`` on the others)."""
        return self._press(jets=not self.duty.state.jets)

    def setpoint_up(self) -> RemoteState:
        """The + key: the first press shows the set-point (on a show-set-point model), the
        next ones move it one degree; at the top of the range it stays."""
        if self.dead:
            return self.duty.state
        return self.duty.press_setpoint(+1)

    def setpoint_down(self) -> RemoteState:
        """The − key (see :meth:`setpoint_up`)."""
        if self.dead:
            return self.duty.state
        return self.duty.press_setpoint(-1)

    def long_press_filter(self) -> None:
        """Hold Filter: sends 0B 00, the reset that clears F1 and A0."""
        if not self.dead:
            self.duty.long_press_filter()

    def set(self, **changes: bool | int) -> RemoteState:
        """Several settings in one key press (what an app or a test wants)."""
        return self._press(**changes)

    # -- display --------------------------------------------------------------------------

    @property
    def state(self) -> RemoteState:
        return self.duty.state

    @property
    def display(self) -> PanelDisplay | None:
        """What the panel shows; None when the panel is dead or switched off (blank)."""
        if self.dead or not self._powered:
            return None
        duty = self.duty
        state = duty.state
        code = duty.panel_code
        showing = duty.setpoint_showing
        if showing:
            readout = f"{state.setpoint}"
        elif code is not None:
            readout = code
        elif duty.water_c is None:
            readout = "--"
        else:
            readout = f"{duty.water_c:g}"
        return PanelDisplay(
            readout=readout,
            blinking=code is not None and not showing,
            code=code,
            showing_setpoint=showing,
            water_c=self.duty.water_c,
            setpoint=state.setpoint,
            heater=state.heater,
            heating=self.duty.heater_output,
            filter=state.filter,
            bubbles=state.bubbles,
            ozone=state.ozone,
            uvc=state.uvc,
            jets=state.jets,
            connected=self.duty.handshake_done,
        )
