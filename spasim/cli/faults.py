"""``spasim faults``: the fault catalogue (SPEC §5) — id, part to replace, signature."""

from __future__ import annotations

import argparse

from protocols.cli_support import EXIT_OK, Subcommand
from spasim.faults import CATALOGUE, FaultSpec

COLUMNS = ("id", "role", "part to replace", "signature")


def fault_row(spec: FaultSpec) -> tuple[str, str, str, str]:
    fault_id = spec.id if not spec.modes else f"{spec.id}[:{'|'.join(spec.modes)}]"
    return (fault_id, spec.role, spec.repair, spec.signature)


def format_table(specs: list[FaultSpec]) -> str:
    rows = [COLUMNS, *(fault_row(spec) for spec in specs)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]))
    lines.insert(1, "  ".join("-" * width for width in [*widths, len(COLUMNS[-1])]))
    return "\n".join(lines)


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--role", choices=("box", "remote"), help="only the faults of a box or of a remote"
    )


def _run(args: argparse.Namespace) -> int:
    specs = [spec for spec in CATALOGUE if args.role is None or spec.role == args.role]
    print(format_table(specs))
    return EXIT_OK


COMMAND = Subcommand(
    "faults", "list the fault catalogue: ids, parts to replace, signatures", _configure, _run
)
