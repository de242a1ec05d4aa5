"""Command-line options shared by the commands that reach a unit (``run``, ``console``).

One definition, so ``spabench run`` and ``spabench console`` accept the same words for the
same things and their help cannot drift apart.
"""

from __future__ import annotations

import argparse

from bench.testing.instruments.specs import Instruments, declared_instruments
from protocols.cli_support import UsageError
from protocols.meter_model import METER_SPECS, SDM120

DEFAULT_METER_SPEC = SDM120.name


def add_unit_options(
    parser: argparse.ArgumentParser, *, virtual_help: str
) -> argparse._MutuallyExclusiveGroup:
    """``--port URL | --virtual`` (one required), ``--profile``, ``--fault``, ``--meter``;
    the ``--port``/``--virtual`` group, for a command that knows a third way to a unit."""
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", metavar="URL", help="serial port or pyserial URL of the unit")
    where.add_argument("--virtual", action="store_true", help=virtual_help)
    parser.add_argument(
        "--profile", metavar="P", help="board profile (virtual unit, or the model of a real one)"
    )
    parser.add_argument(
        "--fault",
        metavar="ID",
        action="append",
        default=[],
        help="inject a fault into the virtual unit (repeatable)",
    )
    parser.add_argument(
        "--meter",
        metavar="URL",
        help="Modbus meter in the unit's supply (tcp://HOST:PORT, rtu://DEV)",
    )
    parser.add_argument(
        "--meter-spec",
        metavar="SPEC",
        choices=sorted(METER_SPECS),
        help="data sheet of the meter (virtual: the meter simulated; real: the one at --meter): "
        + ", ".join(sorted(METER_SPECS))
        + " (default: sdm120)",
    )
    parser.add_argument(
        "--no-multimeter",
        action="store_true",
        help="the technician has no multimeter (checks that need one are reported as such)",
    )
    return where


def instruments_from_args(args: argparse.Namespace, *, meter: bool) -> Instruments:
    """The bench's declared instruments: a meter of ``--meter-spec`` when ``meter`` (one is
    attached or simulated), and a multimeter unless ``--no-multimeter``."""
    if args.meter_spec and not meter:
        where = "drop --no-meter" if getattr(args, "virtual", False) else "give --meter URL"
        raise UsageError(f"--meter-spec describes a meter: {where}")
    return declared_instruments(
        meter=(args.meter_spec or DEFAULT_METER_SPEC) if meter else None,
        multimeter=not args.no_multimeter,
    )
