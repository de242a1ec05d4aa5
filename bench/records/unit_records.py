"""Units: the customer's spa control boxes a workshop has registered.

A unit is registered once, at its first intake, with the facts every later warranty question
needs (purchase date, original owner). Orders are kept for registered units only; bench runs
may name any serial (a bench can test a box before intake).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from bench.records.database import (
    IntegrityError,
    NotFound,
    RecordsDatabase,
    StoreError,
    from_db,
    to_db,
    utc_now,
)


@dataclass(frozen=True)
class Unit:
    serial: str
    profile: str
    purchase_date: date
    owner: str
    original_owner: bool
    added_at: datetime


class UnitRecords(RecordsDatabase):
    """The ``units`` table."""

    def add_unit(
        self,
        serial: str,
        profile: str,
        purchase_date: date,
        *,
        owner: str = "",
        original_owner: bool = True,
        now: datetime | None = None,
    ) -> Unit:
        serial, profile = serial.strip(), profile.strip()
        if not serial:
            raise ValueError("the serial number is empty")
        if not profile:
            raise ValueError("the profile is empty")
        added = now or utc_now()
        if purchase_date > added.date():
            raise ValueError(f"the purchase date {purchase_date.isoformat()} is in the future")
        try:
            with self._write() as conn:
                conn.execute(
                    "INSERT INTO units (serial, profile, purchase_date, owner, original_owner,"
                    " added_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        serial,
                        profile,
                        purchase_date.isoformat(),
                        owner,
                        original_owner,
                        to_db(added),
                    ),
                )
        except IntegrityError:
            raise StoreError(f"unit {serial!r} is already registered") from None
        return self.unit(serial)

    def unit(self, serial: str) -> Unit:
        row = self._one("SELECT * FROM units WHERE serial = ?", (serial.strip(),))
        if row is None:
            raise NotFound(f"unknown unit serial {serial!r}")
        return Unit(
            serial=row["serial"],
            profile=row["profile"],
            purchase_date=date.fromisoformat(row["purchase_date"]),
            owner=row["owner"],
            original_owner=bool(row["original_owner"]),
            added_at=from_db(row["added_at"]),
        )

    def has_unit(self, serial: str) -> bool:
        return self._one("SELECT 1 FROM units WHERE serial = ?", (serial.strip(),)) is not None
