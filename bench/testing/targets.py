"""Targets: the unit under test with the instruments wired to it.

In labgrid's terms a :class:`Target` bundles resources (a serial URL, a meter URL) with the
drivers that use them (the link in its role, the meter, the operator). There is no
strategy object: each step of a plan brings the unit into the state it needs itself.

A :class:`Target` is everything a run needs — the driver that owns the clock, the link in
its role, the meter (or None), the operator, and how to tell whether an optional part is
fitted. Builders put one together:

* :func:`virtual_box_target` — a :class:`spasim.board.VirtualBox` on a ``SimCable`` in the
  bench test tank (20 L, SPEC §2), a virtual meter over its supply and the virtual operator,
  all on one simulated clock: a full plan takes seconds;
* :func:`virtual_panel_target` — a :class:`spasim.remote.VirtualRemote` for the ``panel``
  plan, the bench in the box role;
* :func:`real_target` — a serial port (USB-UART adapter, pty, ``socket://``) under a
  real-time driver, an optional Modbus meter, a human or answers-file operator.

Only the builders of virtual targets touch ``spasim``; nothing in a step does.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bench.testing.identify import choose_model, listen, listen_window_s
from bench.testing.instruments.link import DEFAULT_BOX_MODEL, BoxRoleLink, RemoteLink
from bench.testing.instruments.meter import (
    ClampReadByPerson,
    InstrumentError,
    Meter,
    UnreachableMeter,
    VirtualMeter,
    open_meter,
    stall_limit,
)
from bench.testing.instruments.operator import Operator, VirtualOperator
from bench.testing.instruments.specs import DEFAULT_INSTRUMENTS, Instruments
from bench.testing.record import UnitInfo
from protocols.clock import Scheduler
from protocols.driver import Driver, RealTimeDriver, SimulatedDriver
from protocols.links import LinkLost, open_link
from protocols.mspa import Command
from protocols.mspa.models import available_models, load_model
from protocols.ports import LinkPort, SimCable

BENCH_TANK_LITRES = 20.0
"""SPEC §2: the bench test tank."""


@dataclass
class Target:
    """A unit under test and the bench's instruments on it."""

    driver: Driver
    operator: Operator
    link: RemoteLink | None = None
    box_role: BoxRoleLink | None = None
    """The bench's own box role (``panel`` plans: the bench plays the box to test a remote)."""
    meter: Meter | None = None
    instruments: Instruments = DEFAULT_INSTRUMENTS
    """What the bench declares it measures with (meter spec, multimeter)."""
    fitted: Callable[[str], bool | None] | None = None
    link_description: str = ""
    meter_description: str | None = None
    unit: UnitInfo = field(default_factory=UnitInfo)
    virtual_unit: Any = None
    """The virtual unit (VirtualBox / VirtualRemote) — for the virtual operator and tests."""
    cable: SimCable | None = None
    simulated: bool = False
    """The unit is a simulation (the virtual builders set it): the record says so."""
    identified: str = ""
    """How the bench chose the model it tests with (the wire, the plate, ``--profile``)."""
    starters: list[Callable[[], None]] = field(default_factory=list)
    closers: list[Callable[[], None]] = field(default_factory=list)

    def start(self) -> None:
        """Power the bench's side of the link (and, for a virtual panel, the panel)."""
        if self.link is not None:
            self.link.start()
        if self.box_role is not None:
            self.box_role.start()
        for starter in self.starters:
            starter()

    def close(self) -> None:
        for closer in reversed(self.closers):
            with contextlib.suppress(OSError, LinkLost, InstrumentError):
                closer()
        self.closers.clear()


class FittedParts(Protocol):
    """The model plate's optional parts: a :class:`~protocols.mspa.models.ModelPlate` (real
    units) or a simulator profile (virtual ones), which carries the same facts."""

    @property
    def ozone_fitted(self) -> bool: ...
    @property
    def uvc_fitted(self) -> bool: ...
    @property
    def jets_fitted(self) -> bool: ...


def profile_fitted(plate: FittedParts) -> Callable[[str], bool | None]:
    """ "Is part X fitted?" answered from the model plate."""

    def fitted(part: str) -> bool | None:
        if part == "ozone":
            return bool(plate.ozone_fitted)
        if part == "uvc":
            return bool(plate.uvc_fitted)
        if part == "jet":
            return bool(plate.jets_fitted)
        return None

    return fitted


def _profile(name: str) -> Any:
    """The simulator's profile, for the virtual builders (a real unit needs only
    :func:`~protocols.mspa.models.load_model`)."""
    from spasim.profiles import load_profile

    return load_profile(name)


def virtual_box_target(
    profile: str = "premium-4",
    *,
    faults: Iterable[str] = (),
    seed: int = 0,
    ambient_c: float = 20.0,
    instruments: Instruments = DEFAULT_INSTRUMENTS,
    operator: Operator | None = None,
    serial: str = "",
    speed: float | None = None,
) -> Target:
    """A virtual box in the bench tank, on a simulated clock, with virtual instruments made
    to ``instruments``' specs: a meter that spoils the truth as its data sheet allows, a
    person who perceives what a person can (and reads the multimeter, if the bench has one).

    ``speed`` paces the run against the wall clock (1: real time, for a demonstration);
    None runs it as fast as the events go. Only the driver differs (see :func:`_paced`)."""
    from spasim.control import BoxWorkbench
    from spasim.rig import build_box_rig

    loaded = _profile(profile)
    rig = build_box_rig(
        loaded, seed=seed, faults=faults, ambient_c=ambient_c, tank_litres=BENCH_TANK_LITRES
    )
    box = rig.box
    driver, closers = _paced(rig.driver, speed)
    link = RemoteLink(
        driver,
        rig.port,
        description=f"virtual:{loaded.name}",
        plate=loaded.plate,
    )
    fitted = profile_fitted(loaded)
    virtual_meter: Meter | None = None
    if instruments.meter is not None:
        virtual_meter = VirtualMeter(
            box.meter, spec=instruments.meter, seed=seed, name=f"virtual-{instruments.meter.name}"
        )
    person = VirtualOperator(
        BoxWorkbench(box), fitted=fitted, multimeter=instruments.multimeter, seed=seed
    )
    return Target(
        driver=driver,
        operator=operator if operator is not None else person,
        link=link,
        meter=virtual_meter,
        instruments=instruments,
        fitted=fitted,
        link_description=link.description,
        meter_description=None if virtual_meter is None else virtual_meter.name,
        unit=UnitInfo(serial=serial, profile=loaded.name, model=loaded.model),
        virtual_unit=box,
        cable=rig.cable,
        simulated=True,
        closers=[box.close, *closers],
    )


def _paced(driver: Driver, speed: float | None) -> tuple[Driver, list[Callable[[], None]]]:
    """The simulated driver, or — with ``speed`` — a :class:`RealTimeDriver` on the same
    scheduler, so the same box, cable and bench code run with only the clock changed (as
    ``spasim serve --speed`` paces a served box); the closers it needs."""
    if speed is None:
        return driver, []
    paced = RealTimeDriver(driver.scheduler, speed=speed)
    return paced, [paced.close]


def virtual_panel_target(
    *,
    faults: Iterable[str] = (),
    uvc_command: Command = Command.UVC,
    operator: Operator | None = None,
    serial: str = "",
    model: str = DEFAULT_BOX_MODEL,
    speed: float | None = None,
) -> Target:
    """A virtual control panel on a simulated cable; the bench plays the box of ``model``
    (its plate: report schedule, extra frames). ``speed`` paces it as
    :func:`virtual_box_target`'s does."""
    from spasim.remote import VirtualRemote

    scheduler = Scheduler()
    driver, closers = _paced(SimulatedDriver(scheduler), speed)
    cable = SimCable(scheduler)
    box = BoxRoleLink(driver, cable.box, plate=load_model(model), description="virtual:panel")
    remote = VirtualRemote(scheduler, cable.remote, faults=tuple(faults), uvc_command=uvc_command)
    return Target(
        driver=driver,
        operator=operator if operator is not None else VirtualOperator(remote),
        instruments=DEFAULT_INSTRUMENTS.with_meter(None),
        box_role=box,
        link_description=box.description,
        unit=UnitInfo(serial=serial, profile="panel", model="control panel"),
        virtual_unit=remote,
        cable=cable,
        simulated=True,
        starters=[remote.start],
        closers=[remote.stop, *closers],
    )


def real_target(
    port_url: str,
    *,
    role: str = "remote",
    operator: Operator,
    meter_url: str | None = None,
    profile: str | None = None,
    speed: float = 1.0,
    serial: str = "",
    instruments: Instruments | None = None,
    identify: bool = False,
    driver: RealTimeDriver | None = None,
) -> Target:
    """A unit on a serial port (or pty, or ``socket://``) with an optional Modbus meter.

    ``speed`` is 1 for real hardware; a simulated unit served faster than real time needs
    the same speed here. ``instruments`` is what the bench declares (default: an SDM120 if a
    meter URL is given, and a multimeter). Raises :class:`InstrumentError` when the port
    cannot be opened; a meter that cannot be opened becomes one whose every reading is an
    instrument error, so the run still happens and is filed.

    With ``identify`` (``spabench run``) the bench first listens to a box without a word
    (:mod:`bench.testing.identify`): a ``profile`` the wire contradicts is refused, and
    without one the wire's model is taken or the operator is asked for the model plate
    (:class:`~bench.testing.identify.ModelPlateError` when neither can say). How the model
    was chosen is ``Target.identified``.

    ``driver``: the clock to run on, made by a caller that must be able to stop the work
    before the target exists (a station channel stopped while its unit is identified: a
    stop queued into the driver ends the listen); its speed is the one used. The target
    owns it once returned; if building fails, it stays the caller's to close.
    """
    if instruments is None:
        instruments = DEFAULT_INSTRUMENTS if meter_url else DEFAULT_INSTRUMENTS.with_meter(None)
    loaded = load_model(profile) if profile else None  # the plate: no simulator on this path
    ours = driver is None
    driver = RealTimeDriver(speed=speed) if driver is None else driver
    speed = driver.speed
    try:
        os_link = open_link(port_url)
    except LinkLost as error:
        if ours:
            driver.close()
        raise InstrumentError(f"link: {error}") from None
    port = LinkPort(driver, os_link)
    closers: list[Callable[[], None]] = [port.close, driver.close]
    identified = ""
    if identify and role != "box":
        plates = [load_model(name) for name in available_models()]
        try:
            seconds = listen_window_s(plates)
            watch = listen(driver, port, seconds)
            loaded, identified = choose_model(
                watch,
                watch.listened_s(driver.now()),
                given=loaded,
                plates=plates,
                operator=operator,
            )
        except BaseException:
            port.close()
            if ours:
                driver.close()
            raise
    meter: Meter | None
    try:
        if instruments.meter is not None and instruments.meter.current_only:
            meter = ClampReadByPerson(operator)  # read off its display, not over a wire
        else:
            meter = open_meter(meter_url, stall_s=stall_limit(speed))
    except InstrumentError as error:
        meter = UnreachableMeter(meter_url or "", str(error))
    except ValueError:
        port.close()
        if ours:
            driver.close()
        raise
    if meter is not None:
        closers.insert(0, meter.close)
    target = Target(
        driver=driver,
        operator=operator,
        meter=meter,
        instruments=instruments,
        fitted=None if loaded is None else profile_fitted(loaded),
        link_description=port_url,
        identified=identified,
        meter_description=meter_url,
        unit=UnitInfo(
            serial=serial,
            profile="" if loaded is None else loaded.name,
            model="" if loaded is None else loaded.model,
        ),
        closers=closers,
    )
    if role == "box":
        # The panel's box, by its plate (--profile / the unit's model); premium-4 by default.
        plate = loaded if loaded is not None else load_model(DEFAULT_BOX_MODEL)
        target.box_role = BoxRoleLink(driver, port, plate=plate, description=port_url)
    else:
        target.link = RemoteLink(driver, port, description=port_url, plate=loaded)
    return target
