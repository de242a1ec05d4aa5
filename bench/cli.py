"""``spabench``: the service bench for spa control boxes.

Each subcommand lives in its own module exporting ``COMMAND`` (a
:class:`protocols.cli_support.Subcommand`); this list is the whole registry.
"""

from __future__ import annotations

from collections.abc import Sequence

from protocols.cli_support import run_cli

from . import __version__

COMMAND_MODULES: list[str] = ["bench.cmd_sniff", "bench.cmd_replay"]
COMMAND_MODULES += ["bench.cmd_unit", "bench.cmd_order", "bench.cmd_history", "bench.cmd_report"]
COMMAND_MODULES += ["bench.cmd_run", "bench.cmd_plans", "bench.cmd_coverage"]
COMMAND_MODULES += ["bench.cmd_console"]


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(
        "spabench",
        "Service bench: test, diagnose and document MSpa control boxes.",
        __version__,
        COMMAND_MODULES,
        argv,
    )
