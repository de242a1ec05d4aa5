"""Record hashing and file exports (JSON, CSV) of runs and service orders.

The canonical form of a record — the bytes that are stored, hashed, and whose SHA-256 is
printed on the customer report — is::

    json.dumps(record.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

encoded as UTF-8. Sorted keys and fixed separators make it independent of field order and
formatting; a record read back from the store re-serialises to the same bytes (Python floats
round-trip through ``repr``), so anyone holding the JSON can check a printed hash.

CSV is one row per measurement because that is what a spreadsheet or a quality engineer
filtering "all heater powers this month" wants; JSON is the whole thing, raw frames included.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any

from bench.testing.record import Limits, TestRecord
from protocols.files import write_atomic

CANONICAL_JSON_RULE = (
    'SHA-256 of json.dumps(record, sort_keys=True, separators=(",", ":"), '
    "ensure_ascii=False) encoded as UTF-8"
)


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _fields_of(value: object) -> dict[str, Any]:
    """``json.dumps`` hook: a record dataclass as the dict ``dataclasses.asdict`` would give.

    Letting the C encoder walk the record and call back only for dataclasses avoids
    ``asdict``'s deep copies, most of the cost of storing a record with thousands of frames.
    """
    kind = type(value)
    names = _FIELD_NAMES.get(kind)
    if names is None:
        if not is_dataclass(value) or isinstance(value, type):
            raise TypeError(f"{kind.__name__} is not record data")
        names = _FIELD_NAMES[kind] = tuple(item.name for item in fields(value))
    return {name: getattr(value, name) for name in names}


def canonical_text(data: Any) -> str:
    """Canonical JSON (module doc) of record data: a record, a step, or plain values."""
    return json.dumps(
        data, default=_fields_of, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def canonical_json(record: TestRecord) -> str:
    """The canonical form (module doc) of ``record``."""
    return canonical_text(record)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record_sha256(record: TestRecord) -> str:
    return sha256_text(canonical_json(record))


@dataclass(frozen=True)
class RecordRef:
    """A record together with where it lives in the store (``run_id`` None: not stored)."""

    record: TestRecord
    run_id: int | None = None
    status: str = ""
    """Verdict as the store reports it (``interrupted`` for a dead run)."""


CSV_COLUMNS: tuple[str, ...] = (
    "run_id",
    "record_id",
    "unit_serial",
    "plan",
    "run_status",
    "operator",
    "started_at",
    "step",
    "step_title",
    "step_outcome",
    "measurement",
    "description",
    "value",
    "unit",
    "low",
    "high",
    "expected",
    "marginal",
    "limits",
    "outcome",
    "at_s",
)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A text cell starting with one of these is a formula to a spreadsheet (OWASP CSV injection)."""


def _cell(value: object) -> str:
    """One CSV cell: numbers as Python writes them, text neutralised if it could be a formula.

    Only text gets the ``'`` prefix (OWASP's rule): a negative number is data, but a symptom,
    serial or operator name ``=cmd|' /C calc'!A0`` must not run when the CSV is opened.
    """
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, bool | int):
        return str(value)
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        text = f"'{text}"
    # A bare CR is not quoted by the csv module (our line end is LF) and would split the row.
    return text.replace("\r\n", "\n").replace("\r", "\n")


def limits_text(limits: Limits, unit: str) -> str:
    """The limits as a technician reads them, phrased so no cell starts like a formula
    (``expected True`` rather than ``= True``)."""
    if limits.expected is not None:
        return f"expected {limits.expected}{f' {unit}' if unit else ''}"
    return limits.text(unit)


def measurement_rows(refs: Iterable[RecordRef]) -> list[dict[str, str]]:
    """One dict per measurement of every step of every record, keys :data:`CSV_COLUMNS`."""
    rows = []
    for ref in refs:
        record = ref.record
        for step in record.steps:
            for item in step.measurements:
                values: dict[str, object] = {
                    "run_id": ref.run_id,
                    "record_id": record.record_id,
                    "unit_serial": record.unit.serial,
                    "plan": record.plan,
                    "run_status": ref.status or record.verdict,
                    "operator": record.operator,
                    "started_at": record.started_at,
                    "step": step.name,
                    "step_title": step.title,
                    "step_outcome": step.outcome,
                    "measurement": item.name,
                    "description": item.description,
                    "value": item.value,
                    "unit": item.unit,
                    "low": item.limits.low,
                    "high": item.limits.high,
                    "expected": item.limits.expected,
                    "marginal": item.limits.marginal,
                    "limits": limits_text(item.limits, item.unit),
                    "outcome": item.outcome,
                    "at_s": item.at,
                }
                rows.append({key: _cell(values[key]) for key in CSV_COLUMNS})
    return rows


def measurements_csv(refs: Iterable[RecordRef]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(measurement_rows(refs))
    return buffer.getvalue()


def run_json(ref: RecordRef) -> dict[str, Any]:
    """A stored run for a JSON export: the record itself plus its store identity and hash."""
    return {
        "run_id": ref.run_id,
        "status": ref.status or ref.record.verdict,
        "sha256": record_sha256(ref.record),
        "record": ref.record.to_dict(),
    }


def dumps(data: Any) -> str:
    """Readable JSON for export files (not the canonical form: that is for hashing)."""
    return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"


def write_text(path: Path | str, text: str) -> None:
    """Write ``text`` to ``path`` atomically (``-``: standard output); see
    :func:`protocols.files.write_atomic` for what is refused and what happens on failure."""
    write_atomic(path, text)


def order_json(bundle: dict[str, Any], runs: Sequence[RecordRef]) -> str:
    """JSON export of a service order: ``bundle`` (order facts) plus every run in full."""
    return dumps({**bundle, "runs": [run_json(ref) for ref in runs]})
