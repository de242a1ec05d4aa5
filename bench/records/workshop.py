"""The workshop's identity, configured once: who signs the customer's report and how it bills.

A customer report is a document from a business: it names the workshop (name, address,
contact, logo), states money in a currency with the VAT that applies, and lists parts under
the codes the workshop orders them by. None of that belongs in the product's source, and none
of it should be typed per order, so it lives in one TOML file per bench PC (or shared on a
network drive via ``$SPABENCH_WORKSHOP``)::

    [workshop]
    name = "Spa Service Nord GmbH"
    address = "Hafenstr. 5\\n20457 Hamburg"
    contact = "+49 40 123456 · service@spa-nord.example"
    logo = "logo.png"          # relative to this file
    currency = "EUR"           # ISO 4217
    vat_percent = 19           # the quote is stated without VAT unless prices_include_vat
    prices_include_vat = false
    vat_number = "DE123456789"

    [part_codes]               # the maker's manual numbers only some parts; the rest are
    heater = "SSN-4711"        # ordered under the workshop's own codes (part key = code)

A missing file is an unconfigured workshop (reports then say so instead of inventing a name);
a malformed one is refused with one line naming the file and the key. ``spabench workshop
init`` writes the file (:func:`workshop_toml`, :func:`save_workshop`) and ``spabench workshop
show`` reads it back; ``spabench parts`` lists the part keys. A part code is accepted only for
a part the maker does not number (a code for ``B9300929`` would never be shown, so it is
refused rather than silently ignored), under its key or a former ``SB-…`` code.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import tomli_w
from platformdirs import user_config_dir

from protocols.files import (
    InputFileError,
    OutputPathError,
    OutputWriteError,
    load_toml,
    write_atomic,
)
from protocols.mspa.parts import CATALOGUE, UnknownPart, lookup

WORKSHOP_ENV = "SPABENCH_WORKSHOP"
WORKSHOP_FILENAME = "workshop.toml"
_CURRENCY = re.compile(r"[A-Z]{3}")
WHOLE_UNIT_CURRENCIES = frozenset(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "ISK",
        "JPY",
        "KMF",
        "KRW",
        "PYG",
        "RWF",
        "UGX",
        "UYI",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)
"""ISO 4217 currencies without minor units: their amounts are written in whole units."""
_TEXT_KEYS = ("name", "address", "contact", "vat_number")
_KNOWN_KEYS = frozenset((*_TEXT_KEYS, "logo", "currency", "vat_percent", "prices_include_vat"))
MAX_TEXT = 500
MAX_CODE = 64


class WorkshopConfigError(ValueError):
    """The workshop file cannot be used; the message is one line naming the file and key."""


@dataclass(frozen=True)
class Workshop:
    """The workshop as configured; every field empty when nothing is configured."""

    name: str = ""
    address: str = ""
    contact: str = ""
    logo: Path | None = None
    currency: str = ""
    """ISO 4217 code ("EUR"); empty when not configured (amounts are then shown without one,
    and the report says the currency is not configured)."""
    vat_percent: Decimal | None = None
    prices_include_vat: bool = False
    vat_number: str = ""
    part_codes: Mapping[str, str] = field(default_factory=dict)
    """Part key (see :mod:`protocols.mspa.parts`) → the workshop's own order code."""
    source: Path | None = None
    """The file this came from; None when there is none."""

    @property
    def configured(self) -> bool:
        return bool(self.name)

    @property
    def cents_step(self) -> int:
        """The smallest amount the currency writes, in hundredths: 1, or 100 for a currency
        without minor units (JPY, KRW, ...: :data:`WHOLE_UNIT_CURRENCIES`)."""
        return 100 if self.currency in WHOLE_UNIT_CURRENCIES else 1

    def money(self, cents: int) -> str:
        """``8950`` → ``"EUR 89.50"`` (or ``"89.50"`` when no currency is configured);
        ``8950000`` → ``"JPY 89,500"`` (amounts are kept in hundredths whatever the currency;
        one without minor units is written in whole units, rounded half up)."""
        sign = "-" if cents < 0 else ""
        cents = abs(cents)
        if self.cents_step == 100:
            amount = f"{sign}{(cents + 50) // 100:,}"
        else:
            amount = f"{sign}{cents // 100:,}.{cents % 100:02d}"
        return f"{self.currency} {amount}" if self.currency else amount

    def part_code(self, part_key: str) -> str | None:
        """The workshop's code for a part (by key or former code), if it configured one."""
        with contextlib.suppress(UnknownPart):
            part_key = lookup(part_key).number
        return self.part_codes.get(part_key)


def workshop_path() -> Path:
    """``$SPABENCH_WORKSHOP`` if set, else ``workshop.toml`` in the user's config directory."""
    env = os.environ.get(WORKSHOP_ENV)
    if env:
        return Path(env)
    return Path(user_config_dir("spabench")) / WORKSHOP_FILENAME


def _text(table: Mapping[str, Any], key: str, where: str) -> str:
    value = table.get(key, "")
    if not isinstance(value, str):
        raise WorkshopConfigError(f"{where}: {key} must be text, got {value!r}")
    value = value.strip()
    if len(value) > MAX_TEXT:
        raise WorkshopConfigError(f"{where}: {key} is longer than {MAX_TEXT} characters")
    return value


def parse_workshop(data: Mapping[str, Any], source: Path | None = None) -> Workshop:
    """A :class:`Workshop` from the parsed TOML ``data``; :class:`WorkshopConfigError` else."""
    where = f"workshop file {source}" if source is not None else "workshop settings"
    unknown_tables = set(data) - {"workshop", "part_codes"}
    if unknown_tables:
        raise WorkshopConfigError(
            f"{where}: unknown table {sorted(unknown_tables)[0]!r} "
            "(expected [workshop] and [part_codes])"
        )
    table = data.get("workshop", {})
    codes = data.get("part_codes", {})
    if not isinstance(table, Mapping) or not isinstance(codes, Mapping):
        raise WorkshopConfigError(f"{where}: [workshop] and [part_codes] must be tables")
    unknown = set(table) - _KNOWN_KEYS
    if unknown:
        raise WorkshopConfigError(
            f"{where}: unknown key {sorted(unknown)[0]!r} in [workshop] "
            f"(known: {', '.join(sorted(_KNOWN_KEYS))})"
        )
    texts = {key: _text(table, key, where) for key in _TEXT_KEYS}
    currency = _text(table, "currency", where).upper()
    if currency and not _CURRENCY.fullmatch(currency):
        raise WorkshopConfigError(
            f"{where}: currency must be a 3-letter ISO 4217 code like EUR, got {currency!r}"
        )
    vat: Decimal | None = None
    raw_vat = table.get("vat_percent")
    if raw_vat is not None:
        if isinstance(raw_vat, bool) or not isinstance(raw_vat, int | float | str):
            raise WorkshopConfigError(f"{where}: vat_percent must be a number, got {raw_vat!r}")
        try:
            vat = Decimal(str(raw_vat))
        except InvalidOperation:
            raise WorkshopConfigError(
                f"{where}: vat_percent must be a number, got {raw_vat!r}"
            ) from None
        if not vat.is_finite() or not 0 <= vat <= 100:
            raise WorkshopConfigError(f"{where}: vat_percent must be 0–100, got {raw_vat!r}")
    include = table.get("prices_include_vat", False)
    if not isinstance(include, bool):
        raise WorkshopConfigError(f"{where}: prices_include_vat must be true or false")
    logo: Path | None = None
    raw_logo = _text(table, "logo", where)
    if raw_logo:
        logo = Path(raw_logo).expanduser()
        if not logo.is_absolute() and source is not None:
            logo = source.parent / logo
    part_codes = _part_codes(codes, where)
    return Workshop(
        name=texts["name"],
        address=texts["address"],
        contact=texts["contact"],
        logo=logo,
        currency=currency,
        vat_percent=vat,
        prices_include_vat=include,
        vat_number=texts["vat_number"],
        part_codes=part_codes,
        source=source,
    )


def _part_codes(codes: Mapping[str, Any], where: str) -> dict[str, str]:
    """``[part_codes]`` by the parts' current keys. Refused: an unknown part (a typo would
    silently leave a part without its code; the message names close matches), a part the
    maker numbers (its code would never be shown), the same part twice (``heater`` and its
    former code ``SB-HEATER``), a code that is not one line of text."""
    part_codes: dict[str, str] = {}
    for key, code in codes.items():
        try:
            part = lookup(str(key))
        except UnknownPart as error:
            raise WorkshopConfigError(f"{where}: part_codes: {error}") from None
        if part.official:
            raise WorkshopConfigError(
                f"{where}: part_codes.{key}: {part.number} is the maker's part number of the "
                f"{part.name}; workshop codes are for parts the maker does not number"
            )
        if part.number in part_codes:
            raise WorkshopConfigError(f"{where}: part_codes names the {part.name} twice")
        if not isinstance(code, str) or not code.strip():
            raise WorkshopConfigError(f"{where}: part_codes.{key} must be non-empty text")
        code = code.strip()
        if len(code) > MAX_CODE or not code.isprintable():
            raise WorkshopConfigError(
                f"{where}: part_codes.{key} must be one line of at most {MAX_CODE} characters"
            )
        part_codes[part.number] = code
    return part_codes


def load_workshop(path: Path | str | None = None) -> Workshop:
    """The workshop configured at ``path`` (default :func:`workshop_path`).

    A missing default file is an unconfigured :class:`Workshop`; a file named explicitly (or
    by ``$SPABENCH_WORKSHOP``) must exist. Part codes are checked against the catalogue
    (:func:`parse_workshop`).
    """
    explicit = path is not None or bool(os.environ.get(WORKSHOP_ENV))
    target = Path(path) if path is not None else workshop_path()
    if not target.exists() and not explicit:
        return Workshop()
    try:
        data = load_toml(target, "workshop file")
    except InputFileError as error:
        raise WorkshopConfigError(str(error)) from None
    return parse_workshop(data, target)


def workshop_toml(document: Mapping[str, Any]) -> str:
    """The workshop file for ``document`` (``{"workshop": {...}, "part_codes": {...}}``),
    checked by :func:`parse_workshop` first (:class:`WorkshopConfigError`)."""
    workshop = parse_workshop(document)
    table = {key: value for key, value in document.get("workshop", {}).items() if value != ""}
    vat = table.get("vat_percent")
    if isinstance(vat, Decimal):
        table["vat_percent"] = int(vat) if vat == vat.to_integral_value() else float(vat)
    # Part codes under the parts' current keys (``SB-HEATER`` is written as ``heater``).
    body = tomli_w.dumps({"workshop": table, "part_codes": dict(workshop.part_codes)})
    return f"{FILE_HEADER}\n{body}"


FILE_HEADER = """\
# The workshop's identity for spabench's customer reports (written by `spabench workshop init`;
# edit freely, `spabench workshop show` checks it). [part_codes]: the codes the workshop
# orders parts by that the maker does not number (keys: `spabench parts`).
"""


def save_workshop(path: Path, document: Mapping[str, Any], *, force: bool = False) -> Workshop:
    """Write the workshop file and read it back (what was written is what will be used).

    Refuses to replace an existing file unless ``force``; :class:`WorkshopConfigError` for
    bad settings or a path that cannot be written, and then nothing is written.
    """
    text = workshop_toml(document)
    if path.exists() and not force:
        raise WorkshopConfigError(f"{path} exists; add --force to replace it")
    try:
        write_atomic(path, text)
    except (OutputPathError, OutputWriteError) as error:
        raise WorkshopConfigError(str(error)) from None
    return load_workshop(path)


def part_label(part: Any, workshop: Workshop) -> str:
    """How a part is named to a person: ``"B9300929 filter pump"`` for the maker's numbers;
    otherwise the name with the workshop's configured code, or a plain statement that the
    maker publishes no number (never an invented one a customer might order by).

    ``part`` is a :class:`protocols.mspa.parts.Part`.
    """
    if part.official:
        return f"{part.number} {part.name}"
    code = workshop.part_code(part.number)
    if code:
        return f"{part.name} (workshop code {code})"
    return f"{part.name} (no maker's part number)"


_OLD_CODES = re.compile(
    "|".join(
        f"(?P<p{index}>{re.escape(alias)})(?![\\w-])(?P<n{index}> {re.escape(part.name)})?"
        for index, part in enumerate(CATALOGUE)
        for alias in part.aliases
    )
    or r"(?!)"
)


def current_wording(text: str, workshop: Workshop) -> str:
    """Stored text (a run's summary, written by an earlier version) with the former ``SB-…``
    codes in today's words: ``"replace: SB-HEATER PTC heater"`` → ``"replace: PTC heater
    (no maker's part number)"`` (or the workshop's code), so an old run reads like a new one."""

    def reword(match: re.Match[str]) -> str:
        code = next(value for key, value in match.groupdict().items() if key[0] == "p" and value)
        return part_label(lookup(code), workshop)

    return _OLD_CODES.sub(reword, text)
