"""``spabench console``: the diagnostic console (live unit, frame log, plans, troubleshooting).

Real unit::

    spabench console --port /dev/ttyUSB0 --meter rtu:///dev/ttyUSB1 --profile premium-4

Virtual unit, in-process, in real time (``--speed 30``: thirty simulated seconds per second)::

    spabench console --virtual --speed 30 --fault heater-open

With ``--unit SERIAL`` the plans run from the console are filed in the records under that
serial, and with ``--order ID`` on that service order too (a simulated unit's run only after
the technician confirms it in the console, and marked SIMULATED UNIT).

Exit status: 0 after a normal quit, 2 usage error, 3 the unit or meter could not be opened
or the console's driver thread failed.
"""

from __future__ import annotations

import argparse
import math
import sys

from bench.cli.options import add_unit_options, instruments_from_args
from protocols.cli_support import EXIT_ERROR, Subcommand, UsageError


def _configure(parser: argparse.ArgumentParser) -> None:
    add_unit_options(parser, virtual_help="a virtual unit in-process")
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        metavar="X",
        help="time scale: a virtual unit runs X times faster; a unit served by "
        "'spasim serve --speed X' needs the same (1 for hardware)",
    )
    parser.add_argument("--unit", metavar="SERIAL", default="", help="serial number of the unit")
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


def _check_args(args: argparse.Namespace) -> None:
    if not math.isfinite(args.speed) or args.speed <= 0:
        raise UsageError(f"--speed must be a positive number, got {args.speed}")
    if args.virtual and args.meter:
        raise UsageError("--meter needs --port (a virtual unit has a virtual meter)")
    if not args.virtual and args.fault:
        raise UsageError("--fault needs --virtual")
    if args.order is not None and not args.unit.strip():
        raise UsageError("--order needs --unit (the serial of the order's unit)")


def _run(args: argparse.Namespace) -> int:
    _check_args(args)
    from bench.console.app import ConsoleApp
    from bench.console.session import Session
    from bench.console.targets import auto_off_for, port_target, virtual_target
    from bench.testing.instruments.meter import InstrumentError

    try:
        if args.virtual:
            from spasim.faults import parse_fault

            for fault in args.fault:
                parse_fault(fault, role="box")
            profile = args.profile or "premium-4"
            target = virtual_target(
                profile,
                faults=args.fault,
                seed=args.seed,
                serial=args.unit,
                speed=args.speed,
                instruments=instruments_from_args(args, meter=True),
            )
        else:
            profile = args.profile
            target = port_target(
                args.port,
                meter_url=args.meter,
                profile=args.profile,
                speed=args.speed,
                serial=args.unit,
                instruments=instruments_from_args(args, meter=bool(args.meter)),
            )
        auto_off = auto_off_for(profile)
    except (ValueError, FileNotFoundError) as error:
        raise UsageError(str(error)) from None
    except InstrumentError as error:
        sys.stderr.write(f"spabench console: error: {error}\n")
        return EXIT_ERROR
    from bench.records.database import default_actor

    operator = args.operator or default_actor() or "technician"
    session = Session(
        target, auto_off=auto_off, db_path=args.db, order_id=args.order, operator_name=operator
    )
    app = ConsoleApp(session, speed=args.speed, db_path=args.db)
    code = app.run()
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
