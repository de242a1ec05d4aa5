"""``spasim control``: send one command to a served unit's control channel.

    spasim control HOST:PORT COMMAND [WORD]...

``HOST:PORT`` is what ``spasim serve --control`` printed (``control on HOST:PORT``;
``control://HOST:PORT`` is taken too). The command's words are sent as one line (see
:mod:`protocols.control` for the commands) and the reply, one JSON object, is printed on
stdout. Exit status: 0 done, 1 refused by the unit (the reason on stderr; nothing changed),
2 usage error, 3 the channel cannot be reached. For example, a bridge's CI breaking the
flow switch of a served box mid-test::

    spasim control 127.0.0.1:7002 inject flow-switch-stuck-open
"""

from __future__ import annotations

import argparse
import json
import sys

from protocols.cli_support import EXIT_ERROR, EXIT_FAIL, EXIT_OK, Subcommand
from protocols.control import ControlClient, ControlError, ControlRefused


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("address", metavar="HOST:PORT", help="the control channel (control on …)")
    parser.add_argument(
        "words",
        nargs="+",
        metavar="COMMAND",
        help="the command and its arguments, e.g. prcd test, knob inflate, inject FAULT, look",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="wall seconds to wait for the channel and the reply (default 10)",
    )


def _run(args: argparse.Namespace) -> int:
    try:
        client = ControlClient(args.address, timeout=args.timeout)
    except ControlError as error:
        sys.stderr.write(f"spasim control: error: {error}\n")
        return EXIT_ERROR
    with client:
        try:
            reply = client.request(" ".join(args.words))
        except ControlRefused as error:
            sys.stderr.write(f"spasim control: refused: {error}\n")
            return EXIT_FAIL
        except ControlError as error:
            sys.stderr.write(f"spasim control: error: {error}\n")
            return EXIT_ERROR
    sys.stdout.write(json.dumps(reply, sort_keys=True) + "\n")
    return EXIT_OK


COMMAND = Subcommand(
    "control",
    "send a command to a served unit's control channel (spasim serve --control)",
    _configure,
    _run,
)
