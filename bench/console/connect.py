"""Opening the console's unit: one function for every way the console reaches a unit.

The console opens a unit when it starts (``--port``, ``--virtual`` or a station's channel)
and again each time the technician switches to another channel of a station. Both go
through :func:`open_session`, so a channel is opened exactly as the equivalent ``--port
--meter --profile --speed --unit`` command line would open it, and a switch can never
drift from a start.

:class:`Connection` is what a command line or a station channel says about one unit: where
it is, what the bench measures it with, and under which serial (and order) its runs are
filed. A channel of a station is read through :class:`ChannelSettings` (the attributes of
:class:`bench.station.config.Channel`), so this room does not depend on the station room.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from bench.console.session import Session
from bench.console.targets import auto_off_for, port_target, virtual_target
from bench.testing.instruments.specs import DEFAULT_INSTRUMENTS, Instruments
from protocols.clock import Scheduler
from protocols.driver import Driver

VIRTUAL_PROFILE = "premium-4"
"""The model of a virtual unit when no ``--profile`` is given."""


@dataclass(frozen=True)
class Connection:
    """One unit for the console: where it is, the bench's instruments on it, its records.

    ``port`` None is a virtual unit in-process (``--virtual``: ``faults`` and ``seed`` apply);
    otherwise a serial port or pyserial URL with an optional Modbus ``meter``. ``simulated``
    marks a unit on a port that is a simulation (a station channel with ``simulated = true``):
    its runs say SIMULATED UNIT as a virtual unit's do. ``station``/``channel`` name where the
    unit sits, for the header and the channel picker (empty off a station).
    """

    port: str | None = None
    meter: str | None = None
    instruments: Instruments = DEFAULT_INSTRUMENTS
    profile: str | None = None
    speed: float = 1.0
    serial: str = ""
    order_id: int | None = None
    simulated: bool = False
    faults: tuple[str, ...] = ()
    seed: int = 0
    station: str = ""
    channel: str = ""

    @property
    def place(self) -> str:
        """``bench-2 · channel B``: where the console works (empty off a station)."""
        if not self.channel:
            return ""
        return f"{self.station} · channel {self.channel}" if self.station else self.channel

    @property
    def where(self) -> str:
        """The port, or ``virtual`` (for the channel picker)."""
        return self.port if self.port is not None else "virtual"


class ChannelSettings(Protocol):
    """What a station file says about one channel (:class:`bench.station.config.Channel`)."""

    @property
    def name(self) -> str: ...
    @property
    def port(self) -> str: ...
    @property
    def meter(self) -> str | None: ...
    @property
    def instruments(self) -> Instruments: ...
    @property
    def profile(self) -> str | None: ...
    @property
    def unit(self) -> str | None: ...
    @property
    def speed(self) -> float: ...
    @property
    def simulated(self) -> bool: ...


def channel_connection(
    station: str, channel: ChannelSettings, *, serial: str = "", order_id: int | None = None
) -> Connection:
    """The channel as ``--port --meter --meter-spec --profile --speed --unit`` would give it;
    ``serial`` (``--unit`` on the command line) replaces the file's ``unit``, and the runs
    are filed on ``order_id`` when given."""
    return Connection(
        port=channel.port,
        meter=channel.meter,
        instruments=channel.instruments,
        profile=channel.profile,
        speed=channel.speed,
        serial=serial or channel.unit or "",
        order_id=order_id,
        simulated=channel.simulated,
        station=station,
        channel=channel.name,
    )


def open_session(
    connection: Connection,
    *,
    db_path: str | None = None,
    operator_name: str | None = None,
    make_driver: Callable[[Scheduler], Driver] | None = None,
) -> Session:
    """Open the unit of ``connection`` and the session that drives it (not yet started).

    Raises :class:`~bench.testing.instruments.meter.InstrumentError` when the port cannot be
    opened and ``ValueError``/``FileNotFoundError`` for a profile that does not exist; a
    meter that cannot be opened is no error (its readings say why, as in ``spabench run``).
    ``make_driver`` steps a virtual unit's time (tests); a unit on a port runs in real time.
    """
    if connection.port is None:
        profile = connection.profile or VIRTUAL_PROFILE
        auto_off = auto_off_for(profile)
        target = virtual_target(
            profile,
            faults=connection.faults,
            seed=connection.seed,
            serial=connection.serial,
            speed=connection.speed,
            make_driver=make_driver,
            instruments=connection.instruments,
        )
    else:
        auto_off = auto_off_for(connection.profile)  # an unknown model: before the port opens
        target = port_target(
            connection.port,
            meter_url=connection.meter,
            profile=connection.profile,
            speed=connection.speed,
            serial=connection.serial,
            instruments=connection.instruments,
        )
        target.simulated = target.simulated or connection.simulated
    try:
        return Session(
            target,
            auto_off=auto_off,
            db_path=db_path,
            order_id=connection.order_id,
            operator_name=operator_name,
            place=connection.place,
        )
    except BaseException:
        target.close()
        raise
