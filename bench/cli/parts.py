"""``spabench parts [SEARCH]``: the part catalogue — what to order, what it fits, what points to it.

A technician holding a diagnosis ("heater-open"), a customer's model ("elite-6") or a number
from a box ("B9301291") wants the part, the code to order it by and the plan that verifies
it after fitting, without reading source. Everything shown comes from the catalogue
(:mod:`protocols.mspa.parts`), the model plates, the plans' ``verifies`` and the workshop
file, so it is exactly what diagnosis, ``order part`` and the report use.

Exit status, like ``grep``: 0 when parts are listed, 1 when the search matched none (one line
with close matches on standard error; ``--json`` then prints an empty list), 2 for bad
arguments or an unreadable workshop file.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.markup import escape
from rich.table import Table

from bench.cli.progress import make_console
from bench.records.workshop import Workshop, WorkshopConfigError, load_workshop, workshop_path
from bench.testing.plans import available_plans, load_plan
from protocols.cli_support import EXIT_FAIL, EXIT_OK, Subcommand, UsageError
from protocols.mspa.parts import (
    CATALOGUE,
    Part,
    close_terms,
    faults_for_part,
    model_plates,
    models_for,
    search,
)


def verify_plans() -> dict[str, list[str]]:
    """Part key → the plans that verify it (a plan's ``verifies`` names a fault of the part)."""
    plans: dict[str, list[str]] = {}
    for name in available_plans():
        verifies = set(load_plan(name).verifies)
        for part in CATALOGUE:
            if verifies & set(faults_for_part(part)):
                plans.setdefault(part.number, []).append(name)
    return plans


def part_entry(part: Part, workshop: Workshop, fits: list[str], plans: list[str]) -> dict[str, Any]:
    """One part as ``--json`` gives it (and the table shows it)."""
    return {
        "number": part.number,
        "official": part.official,
        "name": part.name,
        "class": part.part_class,
        "plain": part.plain,
        "workshop_code": None if part.official else workshop.part_code(part.number),
        "fits": fits,
        "faults": list(faults_for_part(part)),
        "verify_plans": plans,
        "former_codes": list(part.aliases),
    }


def _code_cell(entry: dict[str, Any]) -> str:
    if entry["official"]:
        return "[dim]maker's number[/dim]"
    code = entry["workshop_code"]
    return escape(code) if code else "[yellow]not set[/yellow]"


def _fits_cell(fits: list[str], models: list[str]) -> str:
    others = [model for model in models if model not in fits]
    if not others:
        return "every model"
    if fits and len(others) < len(fits):
        return "every model except " + ", ".join(others)
    return ", ".join(fits) if fits else "[dim]no packaged model[/dim]"


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "search",
        nargs="?",
        default="",
        metavar="SEARCH",
        help="only parts whose number, key, name, fault id, fitting model (elite-6) or "
        "workshop code contains this (case ignored)",
    )
    parser.add_argument("--json", action="store_true", help="print the parts as JSON")
    parser.epilog = (
        "exit status: 0 parts listed, 1 no part matched SEARCH, "
        "2 bad arguments or an unreadable workshop file"
    )


def _run(args: argparse.Namespace) -> int:
    try:
        workshop = load_workshop()
    except WorkshopConfigError as error:
        raise UsageError(str(error)) from None
    plates = model_plates()
    codes = {key: (code,) for key, code in workshop.part_codes.items()}
    found = search(args.search, plates, codes)
    plans = verify_plans()
    entries = [
        part_entry(part, workshop, models_for(part, plates), plans.get(part.number, []))
        for part in found
    ]
    if args.json:
        print(json.dumps({"parts": entries}, indent=2, ensure_ascii=False))
    if not found:
        close = close_terms(args.search, plates)
        hint = f"; close matches: {', '.join(close)}" if close else ""
        sys.stderr.write(f"no part matches {args.search!r}{hint} (see: spabench parts)\n")
        return EXIT_FAIL
    if args.json:
        return EXIT_OK
    console = make_console()
    title = "Parts" + (f" matching {args.search!r}" if args.search else "")
    table = Table(title=escape(title), title_justify="left")
    for column in ("part", "name", "class", "workshop code", "fits", "faults", "verify with"):
        # Ids are never cut short: the prose columns wrap instead.
        table.add_column(column, no_wrap=column not in ("name", "workshop code", "fits"))
    for entry in entries:
        table.add_row(
            entry["number"],
            entry["name"],
            entry["class"],
            _code_cell(entry),
            _fits_cell(entry["fits"], list(plates)),
            "\n".join(entry["faults"]) or "[dim]none[/dim]",
            "\n".join(entry["verify_plans"]) or "[dim]—[/dim]",
        )
    console.print(table)
    missing = [e["number"] for e in entries if not e["official"] and not e["workshop_code"]]
    if missing:
        where = workshop.source or workshop_path()
        console.print(
            "The maker numbers only some parts; the workshop orders the rest by its own codes: "
            f"set them in \\[part_codes] of {escape(str(where))} "
            "(spabench workshop init --part-code KEY=CODE, or edit the file)."
        )
    return EXIT_OK


COMMAND = Subcommand(
    "parts",
    "list the part catalogue: numbers, names, models they fit, faults that point to them",
    _configure,
    _run,
)
