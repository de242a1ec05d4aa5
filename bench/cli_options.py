"""Command-line options shared by the commands that reach a unit (``run``, ``console``).

One definition, so ``spabench run`` and ``spabench console`` accept the same words for the
same things and their help cannot drift apart.
"""

from __future__ import annotations

import argparse


def add_unit_options(parser: argparse.ArgumentParser, *, virtual_help: str) -> None:
    """``--port URL | --virtual`` (one required), ``--profile``, ``--fault``, ``--meter``."""
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
