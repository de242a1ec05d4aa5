"""``spasim``: run virtual MSpa units (serve, simulate) and inspect what they model.

Each subcommand lives in its own module exporting ``COMMAND`` (a
:class:`protocols.cli_support.Subcommand`); this list is the whole registry.
"""

from __future__ import annotations

from collections.abc import Sequence

from protocols.cli_support import run_cli
from spasim import __version__

COMMAND_MODULES = [
    "spasim.cli.selfcheck",
    "spasim.cli.serve",
    "spasim.cli.control",
    "spasim.cli.profiles",
    "spasim.cli.faults",
    "spasim.cli.diagram",
    "spasim.cli.simulate",
]


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(
        "spasim",
        "Virtual MSpa spa control box and remote, speaking the real 9600-baud protocol.",
        __version__,
        COMMAND_MODULES,
        argv,
    )
