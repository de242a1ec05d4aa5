"""``spabench workshop show|init``: the workshop's identity on the customer's report, set once.

The report names the workshop, states money in its currency with its VAT, and lists parts the
maker does not number under the workshop's own codes (:mod:`bench.records.workshop`). A
technician should not have to learn the file's format to set that up, nor guess which file
the bench reads: ``show`` prints what is in force and from where (or where the file would
go), ``init`` writes it from options and reads it back, so what it prints is what reports use.
"""

from __future__ import annotations

import argparse
import os
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from bench.cli.progress import make_console
from bench.records.workshop import (
    WORKSHOP_ENV,
    Workshop,
    WorkshopConfigError,
    load_workshop,
    part_label,
    save_workshop,
    workshop_path,
)
from protocols.cli_support import EXIT_OK, Subcommand, UsageError
from protocols.mspa.parts import CATALOGUE, UnknownPart, lookup

LOGO_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp")
"""Images every browser shows inline (the report is one self-contained HTML file)."""


def _configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="workshop_action", metavar="ACTION", required=True)
    show = actions.add_parser("show", help="what the workshop file says, and which file it is")
    init = actions.add_parser("init", help="write the workshop file from these options")
    for sub in (show, init):
        sub.add_argument(
            "--file",
            metavar="PATH",
            type=Path,
            help=f"the workshop file (default: ${WORKSHOP_ENV}, else {workshop_path()})",
        )
    init.add_argument("--name", required=True, help="the workshop's name, as on its letterhead")
    init.add_argument(
        "--address",
        required=True,
        action="append",
        metavar="LINE",
        help="postal address; repeat for each line",
    )
    init.add_argument(
        "--contact", required=True, help="phone, e-mail, web: how customers reach you"
    )
    init.add_argument("--currency", required=True, help="ISO 4217 code, e.g. EUR")
    init.add_argument("--vat-percent", metavar="PERCENT", help="VAT rate, 0–100 (e.g. 19)")
    init.add_argument(
        "--prices-include-vat",
        action="store_true",
        help="quotes are stated with VAT included (default: without)",
    )
    init.add_argument("--vat-number", default="", help="the workshop's VAT identification number")
    init.add_argument("--logo", type=Path, metavar="PATH", help="an image (PNG, JPEG, SVG...)")
    init.add_argument(
        "--part-code",
        action="append",
        default=[],
        metavar="KEY=CODE",
        help="the workshop's order code for a part the maker does not number "
        "(KEY from 'spabench parts', e.g. heater=SSN-4711); repeat for each",
    )
    init.add_argument("--force", action="store_true", help="replace an existing workshop file")


def _target(args: argparse.Namespace) -> Path:
    return args.file if args.file is not None else workshop_path()


def _load(args: argparse.Namespace) -> Workshop:
    try:
        return load_workshop(args.file)
    except WorkshopConfigError as error:
        raise UsageError(str(error)) from None


def _vat(text: str | None) -> int | float | str | None:
    """A number for the file (``19``, ``7.7``); a number outside 0–100 is refused as typed
    (``1e400`` is not echoed as 401 digits); anything else passes on to be refused by name."""
    if text is None:
        return None
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return text
    if not value.is_finite():
        return text
    if not 0 <= value <= 100:
        raise UsageError(f"--vat-percent must be 0–100, got {text!r}")
    return int(value) if value == value.to_integral_value() else float(value)


REQUIRED = ("name", "address", "contact", "currency")
"""What a customer's report cannot do without: ``init`` refuses them blank."""


def _required(args: argparse.Namespace) -> None:
    for key in REQUIRED:
        value = getattr(args, key)
        text = "".join(value) if isinstance(value, list) else value
        if not text.strip():
            raise UsageError(f"--{key} is empty: a customer's report needs the workshop's {key}")


def _logo(path: Path | None, target: Path) -> str:
    if path is None:
        return ""
    if not path.is_file():
        raise UsageError(f"--logo {path}: no such file")
    if path.suffix.lower() not in LOGO_SUFFIXES:
        raise UsageError(f"--logo {path}: must be an image ({', '.join(LOGO_SUFFIXES)})")
    resolved = path.resolve()
    # Beside the workshop file it is written relative to it, so the pair can move together.
    if resolved.parent == target.resolve().parent:
        return resolved.name
    return str(resolved)


def _part_codes(pairs: list[str]) -> dict[str, str]:
    codes: dict[str, str] = {}
    for pair in pairs:
        key, equals, code = pair.partition("=")
        if not equals or not key.strip() or not code.strip():
            raise UsageError(f"--part-code must be KEY=CODE (e.g. heater=SSN-4711), got {pair!r}")
        if key.strip() in codes and codes[key.strip()] != code.strip():
            raise UsageError(
                f"--part-code gives {key.strip()} two codes ({codes[key.strip()]}, "
                f"{code.strip()}): give one"
            )
        codes[key.strip()] = code.strip()
    return codes


def document(
    args: argparse.Namespace, target: Path, kept: Workshop | None = None
) -> dict[str, Any]:
    """The workshop file's contents from ``init``'s options; ``kept`` is the file being
    replaced (``--force``), whose logo and part codes stay unless the options replace them."""
    _required(args)
    logo = _logo(args.logo, target)
    if not logo and kept is not None and kept.logo is not None:
        logo = _kept_logo(kept.logo, target)
    codes = dict(kept.part_codes) if kept is not None else {}
    for key, code in _part_codes(args.part_code).items():
        if kept is not None:
            codes.pop(_part_key(key), None)  # replaced, under any of its spellings
        codes[key] = code
    table: dict[str, Any] = {
        "name": args.name.strip(),
        "address": "\n".join(line.strip() for line in args.address if line.strip()),
        "contact": args.contact.strip(),
        "logo": logo,
        "currency": args.currency.strip().upper(),
    }
    vat = _vat(args.vat_percent)
    if vat is not None:
        table["vat_percent"] = vat
    table["prices_include_vat"] = args.prices_include_vat
    table["vat_number"] = args.vat_number
    return {"workshop": table, "part_codes": codes}


def _part_key(key: str) -> str:
    """A part's current key for ``key`` (a former code too); ``key`` itself if unknown (the
    file's check then names the close matches)."""
    try:
        return lookup(key).number
    except UnknownPart:
        return key


def _kept_logo(logo: Path, target: Path) -> str:
    resolved = logo.resolve()
    return resolved.name if resolved.parent == target.resolve().parent else str(resolved)


def _replaced(target: Path, force: bool) -> Workshop | None:
    """The workshop file ``--force`` replaces (None if there is none, or it cannot be read:
    then nothing of it can be kept)."""
    if not force or not target.is_file():
        return None
    try:
        return load_workshop(target)
    except WorkshopConfigError:
        return None


def _kept_words(kept: Workshop | None, args: argparse.Namespace) -> str:
    """``logo, part code heater`` — what of the replaced file stays, for the output."""
    if kept is None:
        return ""
    words = []
    if kept.logo is not None and args.logo is None:
        words.append("logo")
    given = {_part_key(key) for key in _part_codes(args.part_code)}
    codes = [key for key in kept.part_codes if key not in given]
    if codes:
        words.append(f"part code{'s' if len(codes) > 1 else ''} {', '.join(codes)}")
    return ", ".join(words)


def _init(args: argparse.Namespace) -> int:
    target = _target(args)
    if args.file is None and not os.environ.get(WORKSHOP_ENV):
        # The user's config directory is ours to create; a path the user names is not.
        target.parent.mkdir(parents=True, exist_ok=True)
    kept = _replaced(target, args.force)
    try:
        workshop = save_workshop(target, document(args, target, kept), force=args.force)
    except WorkshopConfigError as error:
        raise UsageError(str(error)) from None
    print(f"wrote {target}")
    words = _kept_words(kept, args)
    if words:
        print(f"kept from the file it replaces: {words} (replace them with --logo, --part-code)")
    _print(workshop, target)
    return EXIT_OK


def _print(workshop: Workshop, target: Path) -> None:
    console = make_console()
    console.print(f"workshop file: {escape(str(target))}")
    table = Table(show_header=False)
    table.add_column("setting")
    table.add_column("value")
    vat = "not set" if workshop.vat_percent is None else f"{workshop.vat_percent} %"
    if workshop.vat_percent is not None:
        vat += " (included in prices)" if workshop.prices_include_vat else " (added to prices)"
    logo = "not set"
    if workshop.logo is not None:
        missing = "" if workshop.logo.is_file() else "  [red](missing)[/red]"
        logo = escape(str(workshop.logo)) + missing
    rows = (
        ("name", escape(workshop.name) or "[red]not set[/red]"),
        ("address", escape(workshop.address) or "not set"),
        ("contact", escape(workshop.contact) or "not set"),
        ("logo", logo),
        ("currency", workshop.currency or "[red]not set[/red] (amounts are shown without one)"),
        ("VAT", vat),
        ("VAT number", escape(workshop.vat_number) or "not set"),
    )
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)
    codes = Table(title="Part codes (parts the maker does not number)", title_justify="left")
    codes.add_column("key")
    codes.add_column("part as reports name it")
    for part in CATALOGUE:
        if not part.official:
            code = workshop.part_code(part.number)
            label = escape(part_label(part, workshop))
            codes.add_row(part.number, label if code else f"[yellow]{label}[/yellow]")
    console.print(codes)


def _show(args: argparse.Namespace) -> int:
    target = _target(args)
    if not target.exists() and (args.file is not None or os.environ.get(WORKSHOP_ENV)):
        named_by = "--file" if args.file is not None else f"${WORKSHOP_ENV}"
        raise UsageError(
            f"no workshop file at {target} (named by {named_by}); "
            f"write it with 'spabench workshop init … --file {target}'"
        )
    workshop = _load(args)
    if workshop.source is None:
        print(
            f"no workshop configured: {target} does not exist "
            "(reports then say the workshop is not configured); write it with "
            "'spabench workshop init --name … --address … --contact … --currency …'"
        )
        return EXIT_OK
    _print(workshop, target)
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    return _init(args) if args.workshop_action == "init" else _show(args)


COMMAND = Subcommand(
    "workshop",
    "the workshop's name, address, currency, VAT and part codes on customer reports",
    _configure,
    _run,
)
