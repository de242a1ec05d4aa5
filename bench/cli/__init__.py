"""The command line, ``spabench``: thin modules that parse arguments and call the other rooms.

Each subcommand lives in its own module here (``run``, ``order``, ``sniff``...) exporting
``COMMAND`` (a :class:`protocols.cli_support.Subcommand`); :data:`COMMAND_MODULES` is the
whole registry. A subcommand module parses, turns bad input into a one-line usage error
(exit 2), calls :mod:`bench.testing`, :mod:`bench.records`, :mod:`bench.capture` or
:mod:`bench.console`, and prints; it holds no judgment of its own.
"""

from __future__ import annotations

from collections.abc import Sequence

from bench import __version__
from protocols.cli_support import run_cli

COMMAND_MODULES: list[str] = ["bench.cli.sniff", "bench.cli.replay"]
COMMAND_MODULES += ["bench.cli.unit", "bench.cli.order", "bench.cli.history", "bench.cli.report"]
COMMAND_MODULES += ["bench.cli.run", "bench.cli.plans", "bench.cli.coverage"]
COMMAND_MODULES += ["bench.cli.console", "bench.cli.station"]
COMMAND_MODULES += ["bench.cli.parts", "bench.cli.workshop"]
COMMAND_MODULES += ["bench.cli.sync", "bench.cli.status"]


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(
        "spabench",
        "Service bench: test, diagnose and document MSpa control boxes.",
        __version__,
        COMMAND_MODULES,
        argv,
    )
