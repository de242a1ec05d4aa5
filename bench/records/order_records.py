"""Orders as kept: intake, the status timeline, customer contacts, parts replaced, notes.

The rules an order follows (which status may follow which, when an order is overdue) are
:mod:`bench.records.orders`; this module stores what happened and asks those rules before
writing a status change, so no caller can store a change the flow forbids. One rule needs the
runs table: ``verified`` requires the order's latest finished bench run to have passed.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Literal

from bench.records.database import NotFound, StoreError, from_db, to_db, utc_now
from bench.records.orders import (
    AGREEMENTS,
    FINAL_STATUS,
    Agreement,
    IllegalTransition,
    Order,
    Status,
    check_transition,
    parse_status,
)
from bench.records.unit_records import UnitRecords
from protocols.mspa.parts import lookup


@dataclass(frozen=True)
class StatusChange:
    status: Status
    at: datetime
    by: str
    note: str


@dataclass(frozen=True)
class Contact:
    at: datetime
    by: str
    note: str


@dataclass(frozen=True)
class PartReplaced:
    part_number: str
    quantity: int
    at: datetime
    by: str


@dataclass(frozen=True)
class Note:
    id: int
    order_id: int | None
    run_id: int | None
    kind: Literal["note", "correction"]
    at: datetime
    by: str
    text: str


_ORDER_COLUMNS = """
    o.id, o.unit_serial, o.opened_at, o.opened_by, o.symptom, o.agreement, o.quote_cents,
    o.quote_date, o.promised_date, o.status, o.status_at,
    (SELECT min(c.at) FROM contacts c WHERE c.order_id = o.id) AS first_contact_at
"""


def _order(row: sqlite3.Row) -> Order:
    return Order(
        id=row["id"],
        unit_serial=row["unit_serial"],
        opened_at=from_db(row["opened_at"]),
        opened_by=row["opened_by"],
        symptom=row["symptom"],
        agreement=row["agreement"],
        quote_cents=row["quote_cents"],
        quote_date=None if row["quote_date"] is None else date.fromisoformat(row["quote_date"]),
        promised=None if row["promised_date"] is None else date.fromisoformat(row["promised_date"]),
        status=row["status"],
        status_at=from_db(row["status_at"]),
        first_contact_at=None
        if row["first_contact_at"] is None
        else from_db(row["first_contact_at"]),
    )


class OrderRecords(UnitRecords):
    """The ``orders`` table and what hangs off an order (``order_status``, ``contacts``,
    ``parts_replaced``, ``notes``); orders are for registered units, hence the base class."""

    def _order_status(self, order_id: int) -> str:
        """The order's current status; NotFound if there is no such order."""
        row = self._one("SELECT status FROM orders WHERE id = ?", (order_id,))
        if row is None:
            raise NotFound(f"unknown order {order_id}")
        status: str = row["status"]
        return status

    def open_order(
        self,
        serial: str,
        symptom: str,
        *,
        agreement: Agreement = "diagnosis",
        quote_cents: int | None = None,
        promised: date | None = None,
        by: str = "",
        now: datetime | None = None,
    ) -> int:
        """Intake: a new order in status ``received``; returns its id."""
        symptom = symptom.strip()
        if not symptom:
            raise ValueError("the customer's symptom is empty: write what they said")
        if agreement not in AGREEMENTS:
            raise ValueError(f"agreement must be one of {', '.join(AGREEMENTS)}")
        if quote_cents is not None and quote_cents < 0:
            raise ValueError("the quote cannot be negative")
        opened = now or utc_now()
        if promised is not None and promised < opened.date():
            raise ValueError(f"the promised date {promised.isoformat()} is in the past")
        if not self.has_unit(serial):
            raise NotFound(f"unknown unit serial {serial!r}")
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO orders (unit_serial, opened_at, opened_by, symptom, agreement,"
                " quote_cents, quote_date, promised_date, status, status_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'received', ?)",
                (
                    serial.strip(),
                    to_db(opened),
                    by,
                    symptom,
                    agreement,
                    quote_cents,
                    None if quote_cents is None else opened.date().isoformat(),
                    None if promised is None else promised.isoformat(),
                    to_db(opened),
                ),
            )
            order_id = cursor.lastrowid
            assert order_id is not None
            conn.execute(
                "INSERT INTO order_status (order_id, status, at, by) VALUES (?, 'received', ?, ?)",
                (order_id, to_db(opened), by),
            )
        return order_id

    def order(self, order_id: int) -> Order:
        row = self._one(f"SELECT {_ORDER_COLUMNS} FROM orders o WHERE o.id = ?", (order_id,))
        if row is None:
            raise NotFound(f"unknown order {order_id}")
        return _order(row)

    def orders(self, *, open_only: bool = False, serial: str | None = None) -> list[Order]:
        where, params = [], []
        if open_only:
            where.append("o.status != 'handed-back'")
        if serial is not None:
            where.append("o.unit_serial = ?")
            params.append(serial)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._conn.execute(
            f"SELECT {_ORDER_COLUMNS} FROM orders o {clause} ORDER BY o.id", params
        ).fetchall()
        return [_order(row) for row in rows]

    def overdue_candidates(self, *, contact_deadline: datetime, today: date) -> list[Order]:
        """Open orders opened before ``contact_deadline`` with no contact, or promised before
        ``today``; :func:`bench.records.orders.overdue_orders` decides and explains."""
        rows = self._conn.execute(
            f"""SELECT {_ORDER_COLUMNS} FROM orders o
                WHERE o.status != 'handed-back'
                  AND ((o.opened_at < :deadline
                        AND NOT EXISTS (SELECT 1 FROM contacts c WHERE c.order_id = o.id))
                       OR o.promised_date < :today)
                ORDER BY o.opened_at, o.id""",
            {"deadline": to_db(contact_deadline), "today": today.isoformat()},
        ).fetchall()
        return [_order(row) for row in rows]

    def timeline(self, order_id: int) -> list[StatusChange]:
        self.order(order_id)
        rows = self._conn.execute(
            "SELECT status, at, by, note FROM order_status WHERE order_id = ? ORDER BY id",
            (order_id,),
        ).fetchall()
        return [StatusChange(r["status"], from_db(r["at"]), r["by"], r["note"]) for r in rows]

    def set_status(
        self,
        order_id: int,
        status: str,
        *,
        by: str = "",
        note: str = "",
        now: datetime | None = None,
    ) -> Order:
        """Move an order along its flow (:data:`bench.records.orders.TRANSITIONS`).

        ``verified`` additionally needs the order's latest finished bench run to have passed:
        the customer report shows that run as proof the unit works.
        """
        new = parse_status(status)
        at = now or utc_now()
        with self._write() as conn:
            order = self.order(order_id)
            check_transition(order.status, new, order.agreement)
            if at < order.status_at:
                raise ValueError("a status change cannot be earlier than the previous one")
            if new == "verified":
                latest = conn.execute(
                    "SELECT id, verdict FROM runs WHERE order_id = ? AND verdict != 'running'"
                    " ORDER BY id DESC LIMIT 1",
                    (order_id,),
                ).fetchone()
                if latest is None or latest["verdict"] != "pass":
                    found = "none" if latest is None else f"run {latest['id']}: {latest['verdict']}"
                    raise IllegalTransition(
                        f"cannot mark order {order_id} verified: its latest finished bench run "
                        f"must pass (latest: {found})"
                    )
            conn.execute(
                "INSERT INTO order_status (order_id, status, at, by, note) VALUES (?, ?, ?, ?, ?)",
                (order_id, new, to_db(at), by, note),
            )
        return replace(order, status=new, status_at=at.astimezone(UTC))

    def add_contact(
        self, order_id: int, *, by: str = "", note: str = "", now: datetime | None = None
    ) -> Contact:
        at = now or utc_now()
        self._order_status(order_id)
        with self._write() as conn:
            conn.execute(
                "INSERT INTO contacts (order_id, at, by, note) VALUES (?, ?, ?, ?)",
                (order_id, to_db(at), by, note),
            )
        return Contact(at, by, note)

    def contacts(self, order_id: int) -> list[Contact]:
        rows = self._conn.execute(
            "SELECT at, by, note FROM contacts WHERE order_id = ? ORDER BY at, id", (order_id,)
        ).fetchall()
        return [Contact(from_db(r["at"]), r["by"], r["note"]) for r in rows]

    def add_part(
        self,
        order_id: int,
        part_number: str,
        quantity: int = 1,
        *,
        by: str = "",
        now: datetime | None = None,
    ) -> PartReplaced:
        """Record a replaced part; the number must be in :mod:`protocols.mspa.parts`."""
        part = lookup(part_number)
        if quantity < 1:
            raise ValueError(f"quantity must be at least 1, got {quantity}")
        at = now or utc_now()
        if self._order_status(order_id) == FINAL_STATUS:
            raise StoreError(f"order {order_id} is handed back; open a new order")
        with self._write() as conn:
            conn.execute(
                "INSERT INTO parts_replaced (order_id, part_number, quantity, at, by)"
                " VALUES (?, ?, ?, ?, ?)",
                (order_id, part.number, quantity, to_db(at), by),
            )
        return PartReplaced(part.number, quantity, at, by)

    def parts(self, order_id: int) -> list[PartReplaced]:
        rows = self._conn.execute(
            "SELECT part_number, quantity, at, by FROM parts_replaced WHERE order_id = ?"
            " ORDER BY id",
            (order_id,),
        ).fetchall()
        return [
            PartReplaced(r["part_number"], r["quantity"], from_db(r["at"]), r["by"]) for r in rows
        ]

    # ---------------------------------------------------------------------------- notes

    def add_note(
        self,
        text: str,
        *,
        order_id: int | None = None,
        run_id: int | None = None,
        kind: Literal["note", "correction"] = "note",
        by: str = "",
        now: datetime | None = None,
    ) -> int:
        """A note on an order or a run; a correction of a finished run is ``kind="correction"``."""
        if not text.strip():
            raise ValueError("the note is empty")
        if order_id is None and run_id is None:
            raise ValueError("a note belongs to an order or a run")
        if order_id is not None:
            self._order_status(order_id)
        if run_id is not None and self._one("SELECT 1 FROM runs WHERE id = ?", (run_id,)) is None:
            raise NotFound(f"unknown run {run_id}")
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO notes (order_id, run_id, kind, at, by, text)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (order_id, run_id, kind, to_db(now or utc_now()), by, text.strip()),
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def notes(self, *, order_id: int | None = None, run_id: int | None = None) -> list[Note]:
        rows = self._conn.execute(
            "SELECT * FROM notes WHERE (order_id = :order OR run_id = :run) ORDER BY id",
            {"order": order_id, "run": run_id},
        ).fetchall()
        return [
            Note(
                r["id"], r["order_id"], r["run_id"], r["kind"], from_db(r["at"]), r["by"], r["text"]
            )
            for r in rows
        ]
