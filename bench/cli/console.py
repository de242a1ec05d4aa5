"""``spabench console``: the diagnostic console (live unit, frame log, plans, troubleshooting).

Real unit::

    spabench console --port /dev/ttyUSB0 --meter rtu:///dev/ttyUSB1 --profile premium-4

Virtual unit, in-process, in real time (``--speed 30``: thirty simulated seconds per second)::

    spabench console --virtual --speed 30 --fault heater-open

A station's channels (``c`` switches between them; the first channel, or ``--channel``,
opens first)::

    spabench console --station bench-2.toml --channel B

With ``--unit SERIAL`` the plans run from the console are filed in the records under that
serial, and with ``--order ID`` on that service order too (a simulated unit's run only after
the technician confirms it in the console, and marked SIMULATED UNIT). On a station each
channel's runs are filed under its own ``unit``; ``--unit``/``--order`` belong to the channel
opened first and, on a station of several channels, need ``--channel`` to say which that is.
Everything else about a channel (port, meter, instruments, profile, speed, simulated) comes
from the station file, so ``--port``, ``--meter``, ``--profile``... are refused with it.

Exit status: 0 after a normal quit, 2 usage error, 3 the unit or meter could not be opened
or the console's driver thread failed.
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
from typing import TYPE_CHECKING

from bench.cli.options import add_unit_options, instruments_from_args
from protocols.cli_support import EXIT_ERROR, Subcommand, UsageError

if TYPE_CHECKING:
    from bench.console.app import ConsoleApp
    from bench.console.connect import Connection
    from bench.records.destination import Retrying


def _configure(parser: argparse.ArgumentParser) -> None:
    where = add_unit_options(parser, virtual_help="a virtual unit in-process")
    where.add_argument(
        "--station",
        metavar="FILE",
        help="a station file (TOML): work on its channels, one at a time (c switches)",
    )
    parser.add_argument(
        "--channel",
        metavar="NAME",
        help="with --station: the channel opened first (default: the station's first)",
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=None,
        metavar="X",
        help="time scale: a virtual unit runs X times faster; a unit served by "
        "'spasim serve --speed X' needs the same (default 1, as hardware; on a station: "
        "each channel's speed)",
    )
    parser.add_argument(
        "--unit",
        metavar="SERIAL",
        default="",
        help="serial number of the unit (on a station: of the --channel's unit)",
    )
    parser.add_argument(
        "--order",
        type=_order_id,
        metavar="ID",
        help="file the plans run from the console on this service order (needs --unit)",
    )
    parser.add_argument("--operator", metavar="NAME", help="who works at the bench (recorded)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the virtual unit and meter")
    parser.add_argument(
        "--db", metavar="PATH", help="records database (default: $SPABENCH_DB or the user data dir)"
    )


def _order_id(text: str) -> int:
    from bench.records.orders import parse_id

    try:
        return parse_id(text, "an order id")
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


STATION_DECIDES = (
    ("meter", "--meter"),
    ("meter_spec", "--meter-spec"),
    ("no_multimeter", "--no-multimeter"),
    ("profile", "--profile"),
    ("fault", "--fault"),
    ("speed", "--speed"),
)
"""Options a station file sets per channel: refused with ``--station`` (which would win?)."""


def _check_args(args: argparse.Namespace) -> None:
    from bench.cli.records_support import check_db

    check_db(args.db)
    _identifying(("unit serial", args.unit), ("operator", args.operator or ""))
    if args.speed is not None and (not math.isfinite(args.speed) or args.speed <= 0):
        raise UsageError(f"--speed must be a positive number, got {args.speed}")
    if args.channel is not None and not args.station:
        raise UsageError("--channel needs --station")
    if args.station:
        for attribute, flag in STATION_DECIDES:
            if getattr(args, attribute):
                raise UsageError(f"{flag} comes from the station file with --station")
        return
    if args.virtual and args.meter:
        raise UsageError("--meter needs --port (a virtual unit has a virtual meter)")
    if not args.virtual and args.fault:
        raise UsageError("--fault needs --virtual")
    if args.order is not None and not args.unit.strip():
        raise UsageError("--order needs --unit (the serial of the order's unit)")


def _identifying(*texts: tuple[str, str]) -> None:
    """A serial or a name with a control character in it is refused where it is typed."""
    from bench.records.identifying import control_character

    for what, text in texts:
        problem = control_character(what, text)
        if problem is not None:
            raise UsageError(problem)


def _single(args: argparse.Namespace) -> Connection:
    """The one unit of ``--port``/``--virtual``."""
    from bench.console.connect import Connection

    speed = 1.0 if args.speed is None else args.speed
    if args.virtual:
        from spasim.faults import parse_fault

        for fault in args.fault:
            try:
                parse_fault(fault, role="box")
            except ValueError as error:
                raise UsageError(str(error)) from None
        return Connection(
            instruments=instruments_from_args(args, meter=True),
            profile=args.profile,
            speed=speed,
            serial=args.unit,
            order_id=args.order,
            faults=tuple(args.fault),
            seed=args.seed,
        )
    return Connection(
        port=args.port,
        meter=args.meter,
        instruments=instruments_from_args(args, meter=bool(args.meter)),
        profile=args.profile,
        speed=speed,
        serial=args.unit,
        order_id=args.order,
    )


def _station(args: argparse.Namespace) -> tuple[str, tuple[Connection, ...], str]:
    """The station's name, every channel's connection and the channel opened first; the
    command line's ``--unit``/``--order`` go to that channel only."""
    from bench.console.connect import channel_connection
    from bench.station.config import StationError, load_station

    try:
        station = load_station(args.station)
        first = station.channel(args.channel) if args.channel else station.channels[0]
    except StationError as error:
        raise UsageError(str(error)) from None
    for channel in station.channels:
        _identifying((f"unit serial of {channel.label}", channel.unit or ""))
    serial = args.unit.strip()
    if (serial or args.order is not None) and len(station.channels) > 1 and not args.channel:
        names = ", ".join(channel.name for channel in station.channels)
        raise UsageError(f"--unit and --order belong to one channel: add --channel NAME ({names})")
    if args.order is not None and not (serial or first.unit):
        raise UsageError(
            f"--order needs --unit (or unit = SERIAL for {first.label} in the station file)"
        )
    connections = tuple(
        channel_connection(
            station.name,
            channel,
            serial=serial if channel is first else "",
            order_id=args.order if channel is first else None,
        )
        for channel in station.channels
    )
    return station.name, connections, first.name


def console_app(args: argparse.Namespace) -> ConsoleApp:
    """The console for these arguments with its first unit open (its thread not started).

    :class:`UsageError` for arguments that cannot work (an unknown profile included);
    :class:`~bench.testing.instruments.meter.InstrumentError` when the unit's port cannot be
    opened. A station's other channels are opened later, when the technician switches, by
    the same function that opened this one."""
    _check_args(args)
    from bench.console.app import ConsoleApp
    from bench.console.connect import open_session
    from bench.console.switchboard import Switchboard
    from bench.records.database import default_actor
    from bench.records.destination import open_destination
    from bench.testing.instruments.meter import InstrumentError

    open_destination(args.db)  # a mistyped --db / $SPABENCH_DB: refused (exit 2) up front
    operator = args.operator or default_actor() or "technician"
    opener = functools.partial(open_session, db_path=args.db, operator_name=operator)
    if args.station:
        station, connections, current = _station(args)
        connection = next(c for c in connections if c.channel == current)
    else:
        connection = _single(args)
    where = f"{connection.place}: " if connection.place else ""
    try:
        session = opener(connection)
    except (ValueError, FileNotFoundError) as error:
        raise UsageError(f"{where}{error}") from None
    except InstrumentError as error:
        raise InstrumentError(f"{where}{error}") from None
    board = None
    if args.station:
        board = Switchboard(station, connections, opener, current)
    return ConsoleApp(session, speed=connection.speed, db_path=args.db, switchboard=board)


def start_uploads(
    app: ConsoleApp, db: str | None, interval_s: float | None = None
) -> Retrying | None:
    """With a records server: upload what waits in the journal every ``interval_s`` seconds
    (default :data:`~bench.records.destination.RETRY_EVERY_S`) while the console is open, so
    runs filed while the server was away go up once it answers, not only when the next run
    ends; each upload (and the server going away) shows as the console's notice. None
    without a server. The caller stops it when the console quits."""
    from bench.records.destination import RETRY_EVERY_S, open_destination

    destination = open_destination(db)
    return destination.start_retrying(
        RETRY_EVERY_S if interval_s is None else interval_s,
        lambda line: app.session.tell(line),  # the unit open now (a station's channel changes)
    )


def _run(args: argparse.Namespace) -> int:
    from bench.testing.instruments.meter import InstrumentError

    try:
        app = console_app(args)
    except InstrumentError as error:
        sys.stderr.write(f"spabench console: error: {error}\n")
        return EXIT_ERROR
    retrying = start_uploads(app, args.db)
    try:
        code = app.run()
    finally:
        if retrying is not None:
            retrying.stop()
    session = app.session  # the unit open when the technician left (on a station: any channel)
    session.stop()
    if not session.finished.wait(10.0):
        sys.stderr.write("spabench console: warning: the unit did not shut down cleanly\n")
    failure = session.snapshot.error
    if failure:
        sys.stderr.write(f"spabench console: error: {failure}\n")
        return EXIT_ERROR
    return code or 0


COMMAND = Subcommand(
    "console",
    "diagnostic console: live unit, frame log, test plans, guided troubleshooting, orders",
    _configure,
    _run,
)
