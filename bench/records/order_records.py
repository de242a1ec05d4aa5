"""Orders as kept: intake, the status timeline, the agreed work, customer contacts, parts
replaced, notes.

The rules an order follows (which status may follow which, what the agreed work covers, when
an order is overdue) are :mod:`bench.records.orders`; which runs verify a repair is
:mod:`bench.records.verification`. This module stores what happened and asks those rules
before writing, so no caller (the CLI, the console) can store what the workflow forbids; the
schema's triggers (migration 0003) re-check the same rules for any other writer:

* a part is recorded only on an order whose agreed work covers it, that fits the unit's model,
  and before ``verified``;
* the agreement changes only through :meth:`OrderRecords.amend_agreement`, logged with what it
  was before, and itself a customer contact;
* ``verified`` names the passing run that demonstrated the unit working
  (:meth:`OrderRecords.verification`); hand-back after a repair needs ``verified``, still
  holding (no run failed since without a later pass of its plan);
* asking for approval (``awaiting-approval``) and hand-back are customer contacts;
* an order's dated events (status, contact, part, agreement, and the runs filed on it) never
  go back in time and are never in the future; intake may be backdated (paper records), not
  before the purchase. A moment typed to the minute (``--at``) that falls in the minute of the
  previous event is taken as just after it; one a little ahead of this PC's clock
  (:data:`FUTURE_SLACK`) as now; an entry without ``--at`` is after everything on record.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from bench.records.advice import BACK_TO_DIAGNOSIS
from bench.records.database import (
    Connection,
    IntegrityError,
    NotFound,
    Row,
    StoreError,
    from_db,
    refusal,
    to_db,
    utc_now,
)
from bench.records.display import display_date, display_time
from bench.records.orders import (
    AGREEMENTS,
    FINAL_STATUS,
    MAX_QUOTE_CENTS,
    Agreement,
    IllegalTransition,
    Order,
    Status,
    Via,
    agreement_refuses_part,
    check_transition,
    hand_back_problem,
    parse_status,
    parse_via,
    status_label,
)
from bench.records.run_records import RunInfo, RunRecords
from bench.records.unit_records import UnitRecords
from bench.records.verification import NotVerified, StepOutcomes, Verified, check_verification
from bench.records.workshop import Workshop, part_label
from protocols.mspa.models import available_models, load_model
from protocols.mspa.parts import Part, lookup, models_for

FUTURE_SLACK = timedelta(minutes=2)
"""How far ahead of this PC's clock an event may be dated (a watch or another bench's clock a
little ahead): it is then recorded at this PC's now; further ahead is refused."""
SIMULATED_MARK = "SIMULATED"
"""In a ``verified`` note when the verifying run was on a simulated unit (SQL checks it)."""


@dataclass(frozen=True)
class StatusChange:
    status: Status
    at: datetime
    by: str
    note: str
    run_id: int | None = None
    """For ``verified``: the run that demonstrated the unit working."""


@dataclass(frozen=True)
class Contact:
    at: datetime
    by: str
    note: str
    via: Via = "other"


@dataclass(frozen=True)
class Terms:
    """An agreement as it stood: the work, the parts it is limited to, the quote."""

    agreement: Agreement
    parts: tuple[str, ...]
    quote_cents: int | None

    @property
    def text(self) -> str:
        """``diagnosis only`` / ``repair of B9300929, quote 89.50``."""
        work = "diagnosis only" if self.agreement == "diagnosis" else "repair"
        if self.agreement == "repair" and self.parts:
            work += f" of {', '.join(self.parts)}"
        if self.quote_cents is not None:
            work += f", quote {self.quote_cents // 100}.{self.quote_cents % 100:02d}"
        return work


@dataclass(frozen=True)
class AgreementChange:
    """One amendment of the agreed work: who, when, how the customer agreed, before → after."""

    id: int
    order_id: int
    at: datetime
    by: str
    via: Via
    note: str
    before: Terms
    after: Terms


EventKind = Literal["status", "agreement", "contact", "part", "note"]


@dataclass(frozen=True)
class OrderEvent:
    """One line of an order's whole timeline (:meth:`OrderRecords.events`)."""

    at: datetime
    kind: EventKind
    by: str
    text: str


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
    o.quote_date, o.promised_date, o.status, o.status_at, o.agreed_parts,
    (SELECT min(c.at) FROM contacts c WHERE c.order_id = o.id) AS first_contact_at,
    (SELECT max(c.at) FROM contacts c WHERE c.order_id = o.id) AS last_contact_at
"""


def _order(row: Row) -> Order:
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
        agreed_parts=tuple(json.loads(row["agreed_parts"])),
        last_contact_at=None if row["last_contact_at"] is None else from_db(row["last_contact_at"]),
    )


def _terms(agreement: Agreement, parts_json: str, quote_cents: int | None) -> Terms:
    return Terms(agreement, tuple(json.loads(parts_json)), quote_cents)


def _check_quote(quote_cents: int | None) -> None:
    if quote_cents is not None and not 0 <= quote_cents <= MAX_QUOTE_CENTS:
        raise ValueError(f"the quote must be 0–{MAX_QUOTE_CENTS // 100} (in cents: {quote_cents})")


def _contact_note(status: Status, order: Order) -> str:
    """What a status that is a customer contact told them, when the technician wrote nothing."""
    if status == "handed-back":
        return "unit handed back"
    quote = f" (quote {order.quote_text})" if order.quote_text else ""
    return f"asked for approval of the repair{quote}"


def _key(number: str) -> str:
    """A stored part number as the catalogue keys it now (old keys are aliases)."""
    try:
        return lookup(number).number
    except KeyError:
        return number


def _minute(moment: datetime) -> datetime:
    """The minute a moment falls in (what ``--at YYYY-MM-DD HH:MM`` can say)."""
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def _label(number: str) -> str:
    """A part as the store's messages name it (no workshop codes: the store reads no config)."""
    try:
        return part_label(lookup(number), Workshop())
    except KeyError:
        return number


class RuleRefused(StoreError):
    """The records refused an order's event by one of the rules the database keeps (its
    triggers): the store's own checks passed on a state another bench changed meanwhile,
    or a rule only the database checks."""


class OrderRecords(UnitRecords, RunRecords):
    """The ``orders`` table and what hangs off an order (``order_status``, ``contacts``,
    ``agreement_changes``, ``parts_replaced``, ``notes``); orders are for registered units and
    are verified by runs, hence the base classes."""

    @contextmanager
    def _order_write(self, order_id: int, what: str) -> Iterator[Connection]:
        """A write of order ``order_id``'s events: one transaction holding the order
        (:meth:`_lock_order`) while the store checks its rules and writes, so two benches
        writing one order are served one after the other, each seeing the other's events.
        What the schema's triggers refuse all the same is said in one line
        (:class:`RuleRefused`), never as a database error."""
        try:
            with self._write() as conn:
                self._lock_order(conn, order_id)
                yield conn
        except IntegrityError as error:
            raise RuleRefused(
                f"order {order_id}: {what} refused: {refusal(error)} "
                f"(see 'spabench order show {order_id}')"
            ) from None

    @staticmethod
    def _moment(now: datetime | None) -> datetime:
        """The moment of an event: ``now`` (aware; may be backdated) or this PC's clock; a
        moment up to :data:`FUTURE_SLACK` ahead of the clock is now, a later one refused."""
        current = utc_now()
        if now is None:
            return current
        if now.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        if now > current + FUTURE_SLACK:
            raise ValueError(
                f"{display_time(now)} is in the future (this PC's clock says "
                f"{display_time(current)})"
            )
        return min(now, current)

    def _in_time_order(
        self,
        conn: Connection,
        order_id: int,
        at: datetime,
        what: str,
        *,
        typed: bool,
    ) -> datetime:
        """The moment to record an event of the order at: its events (runs filed on it
        included) are entered in the order they happened, imports too.

        An event at or after the previous one keeps its moment. One entered now (not
        ``typed``) but earlier (this clock behind another bench's) is taken as at the previous
        event. A ``typed`` one (``--at`` has minutes) in the minute of the previous event is
        taken as just after it — after a run, from the next second on, since a run counts
        from the second it started in, so a backdated part never makes an earlier run its
        check; earlier than that minute, ``ValueError`` names the previous event.
        """
        row = conn.execute(
            "SELECT at, kind, ref FROM order_events WHERE order_id = ? ORDER BY at DESC LIMIT 1",
            (order_id,),
        ).fetchone()
        if row is None:
            return at
        last = from_db(row["at"])
        if not typed:  # entered now: after everything on record, whatever this clock says
            return at if to_db(at) >= to_db(last) else last.astimezone(UTC)
        after = last.replace(microsecond=0) + timedelta(seconds=1) if row["kind"] == "run" else last
        if to_db(at) >= to_db(after):
            return at
        if _minute(at) == _minute(last):
            return after.astimezone(UTC)
        previous = (
            f"run {row['ref']}, started" if row["kind"] == "run" else "the order's previous event,"
        )
        raise ValueError(
            f"{what} at {display_time(at)} cannot be earlier than {previous} "
            f"{display_time(last)}; events are entered in the order they happened"
        )

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
        """Intake: a new order in status ``received``; returns its id.

        ``now`` backdates the intake (paper records being imported): never in the future,
        never before the unit was bought.
        """
        symptom = symptom.strip()
        if not symptom:
            raise ValueError("the customer's symptom is empty: write what they said")
        if agreement not in AGREEMENTS:
            raise ValueError(f"agreement must be one of {', '.join(AGREEMENTS)}")
        _check_quote(quote_cents)
        opened = self._moment(now)
        day = opened.astimezone().date()  # the workshop's calendar, as the customer's is
        if promised is not None and promised < day:
            raise ValueError(f"the promised date {promised.isoformat()} is in the past")
        unit = self.unit(serial)
        if day < unit.purchase_date:
            raise ValueError(
                f"intake {display_time(opened)} is before the unit was bought "
                f"({display_date(unit.purchase_date)})"
            )
        with self._write() as conn:
            row = conn.execute(
                "INSERT INTO orders (unit_serial, opened_at, opened_by, symptom, agreement,"
                " quote_cents, quote_date, promised_date, status, status_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'received', ?) RETURNING id",
                (
                    serial.strip(),
                    to_db(opened),
                    by,
                    symptom,
                    agreement,
                    quote_cents,
                    None if quote_cents is None else day.isoformat(),
                    None if promised is None else promised.isoformat(),
                    to_db(opened),
                ),
            ).fetchone()
            order_id: int = row[0]
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
        """Open orders opened before ``contact_deadline`` with no contact, promised before
        ``today``, or awaiting approval since before it with no contact since;
        :func:`bench.records.orders.overdue_orders` decides and explains."""
        rows = self._conn.execute(
            f"""SELECT {_ORDER_COLUMNS} FROM orders o
                WHERE o.status != 'handed-back'
                  AND ((o.opened_at < :deadline
                        AND NOT EXISTS (SELECT 1 FROM contacts c WHERE c.order_id = o.id))
                       OR o.promised_date < :today
                       OR (o.status = 'awaiting-approval' AND o.status_at < :deadline
                           AND NOT EXISTS (SELECT 1 FROM contacts c
                                           WHERE c.order_id = o.id AND c.at >= :deadline)))
                ORDER BY o.opened_at, o.id""",
            {"deadline": to_db(contact_deadline), "today": today.isoformat()},
        ).fetchall()
        return [_order(row) for row in rows]

    def timeline(self, order_id: int) -> list[StatusChange]:
        self.order(order_id)
        rows = self._conn.execute(
            "SELECT status, at, by, note, run_id FROM order_status WHERE order_id = ? ORDER BY id",
            (order_id,),
        ).fetchall()
        return [
            StatusChange(r["status"], from_db(r["at"]), r["by"], r["note"], r["run_id"])
            for r in rows
        ]

    def set_status(
        self,
        order_id: int,
        status: str,
        *,
        by: str = "",
        note: str = "",
        now: datetime | None = None,
        via: str | None = None,
        allow_simulated: bool = False,
    ) -> Order:
        """Move an order along its flow (:data:`bench.records.orders.TRANSITIONS`).

        ``verified`` needs runs that demonstrate the repair (:mod:`bench.records.verification`;
        a run on a simulated unit only with ``allow_simulated``, and the note then says so);
        the run is stored with the status (:meth:`verification`). ``handed-back`` after a
        repair needs ``verified``. ``awaiting-approval`` (the quote is sent) and
        ``handed-back`` are customer contacts, logged with ``via`` (default ``other`` /
        ``in-person``).
        """
        new = parse_status(status)
        at = self._moment(now)
        if allow_simulated and new != "verified":
            raise ValueError(
                "--simulated belongs to status verified (it accepts a run on a simulated unit "
                f"as the verification); {new} takes no run"
            )
        if via is not None and new not in ("awaiting-approval", "handed-back"):
            raise ValueError(
                "--via belongs to a status that is a customer contact "
                "(awaiting-approval, handed-back); log other contacts with 'order contact'"
            )
        channel = parse_via(via or ("in-person" if new == "handed-back" else "other"))
        with self._order_write(order_id, f"the status change to {new}") as conn:
            order = self.order(order_id)
            check_transition(order.status, new, order.agreement, order_id=order_id)
            at = self._in_time_order(conn, order_id, at, "the status change", typed=now is not None)
            run_id = None
            if new == "verified":
                run_id, note = self._verify(order, note, allow_simulated)
            if new == "handed-back":
                problem = hand_back_problem(
                    order.status,
                    parts_fitted=bool(self.parts(order_id)),
                    was_repaired=any(c.status == "repaired" for c in self.timeline(order_id)),
                )
                if problem is None and order.status == "verified":
                    problem = self._still_verified(order)
                if problem is not None:
                    raise IllegalTransition(f"cannot hand back order {order_id}: {problem}")
            conn.execute(
                "INSERT INTO order_status (order_id, status, at, by, note, run_id)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (order_id, new, to_db(at), by, note, run_id),
            )
            if new in ("awaiting-approval", "handed-back"):
                said = note or _contact_note(new, order)
                conn.execute(
                    "INSERT INTO contacts (order_id, at, by, note, via) VALUES (?, ?, ?, ?, ?)",
                    (order_id, to_db(at), by, said, channel),
                )
        return replace(order, status=new, status_at=at.astimezone(UTC))

    def _step_outcomes(self, order_id: int) -> dict[int, StepOutcomes]:
        """The recorded steps of the order's runs: run id → step name → outcome."""
        rows = self._conn.execute(
            "SELECT s.run_id, s.name, s.outcome FROM run_steps s JOIN runs r ON r.id = s.run_id"
            " WHERE r.order_id = ?",
            (order_id,),
        ).fetchall()
        outcomes: dict[int, dict[str, str]] = {}
        for row in rows:
            outcomes.setdefault(row["run_id"], {})[row["name"]] = row["outcome"]
        return dict(outcomes)

    def _check(
        self, order: Order, note: str, allow_simulated: bool
    ) -> tuple[Verified, list[RunInfo]]:
        """:func:`check_verification` on the order's records as they are now."""
        timeline = self.timeline(order.id)
        repaired = [change for change in timeline if change.status == "repaired"]
        runs = self.runs_for_order(order.id)
        fitted = self.parts(order.id)
        verified = check_verification(
            order_id=order.id,
            serial=order.unit_serial,
            runs=runs,
            parts=[(_key(p.part_number), _label(p.part_number), p.at) for p in fitted],
            repaired_at=repaired[-1].at if repaired else order.status_at,
            reason_without_parts=note or (repaired[-1].note if repaired else ""),
            allow_simulated=allow_simulated,
            steps=self._step_outcomes(order.id),
        )
        return verified, runs

    def _still_verified(self, order: Order) -> str | None:
        """Why the verification of a verified ``order`` no longer holds (a run failed since,
        unanswered), or None: a unit is handed back only while it is shown working."""
        change = next(c for c in reversed(self.timeline(order.id)) if c.status == "verified")
        try:
            self._check(order, change.note or "verified", SIMULATED_MARK in change.note)
        except NotVerified as refusal:
            return (
                f"{refusal.reason}; send it back to diagnosis "
                f"{BACK_TO_DIAGNOSIS.format(order=order.id)} or run {refusal.plan} again until "
                "it passes"
            )
        return None

    def _verify(self, order: Order, note: str, allow_simulated: bool) -> tuple[int, str]:
        """The run that verifies ``order`` and the status note that says how."""
        try:
            verified, runs = self._check(order, note, allow_simulated)
        except NotVerified as error:
            raise IllegalTransition(str(error)) from None
        how = verified.describe({run.id: run.plan for run in runs})
        if verified.simulated:
            how += f" — {SIMULATED_MARK} UNIT: the verification ran on a simulated unit"
        return verified.run_id, f"{note}; {how}" if note else how

    def verification(self, order_id: int) -> RunInfo | None:
        """The run that verified the order (status ``verified``, or handed back after it), or
        None if it never was or was sent back to diagnosis since."""
        if self.order(order_id).status not in ("verified", FINAL_STATUS):
            return None
        row = self._one(
            "SELECT run_id FROM order_status WHERE order_id = ? AND status = 'verified'"
            " ORDER BY id DESC LIMIT 1",
            (order_id,),
        )
        return None if row is None or row["run_id"] is None else self.run(row["run_id"])

    def add_contact(
        self,
        order_id: int,
        *,
        by: str = "",
        note: str = "",
        now: datetime | None = None,
        via: str = "other",
    ) -> Contact:
        """Log a contact with the customer (``via`` how: phone, email, in-person, ...)."""
        channel = parse_via(via)
        at = self._moment(now)
        self._order_status(order_id)
        with self._order_write(order_id, "the contact") as conn:
            at = self._in_time_order(conn, order_id, at, "the contact", typed=now is not None)
            conn.execute(
                "INSERT INTO contacts (order_id, at, by, note, via) VALUES (?, ?, ?, ?, ?)",
                (order_id, to_db(at), by, note, channel),
            )
        return Contact(at, by, note, channel)

    def contacts(self, order_id: int) -> list[Contact]:
        rows = self._conn.execute(
            "SELECT at, by, note, via FROM contacts WHERE order_id = ? ORDER BY at, id",
            (order_id,),
        ).fetchall()
        return [Contact(from_db(r["at"]), r["by"], r["note"], r["via"]) for r in rows]

    # ---------------------------------------------------------------------- agreement

    def amend_agreement(
        self,
        order_id: int,
        agreement: str,
        *,
        parts: Iterable[str] = (),
        quote_cents: int | None = None,
        via: str,
        note: str,
        by: str = "",
        now: datetime | None = None,
    ) -> AgreementChange:
        """The customer agreed to new terms: ``agreement`` (``diagnosis`` / ``repair``), a
        repair limited to ``parts`` (empty: any part, up to the quote), ``quote_cents``
        (None: the quote stays). Logged with the terms before, and as a customer contact
        made ``via`` how they agreed, with ``note`` saying what they agreed to."""
        if agreement not in AGREEMENTS:
            raise ValueError(
                f"agreed work must be one of {', '.join(AGREEMENTS)}, got {agreement!r}"
            )
        numbers = tuple(dict.fromkeys(lookup(number).number for number in parts))
        if agreement == "diagnosis" and numbers:
            raise ValueError("a diagnosis-only agreement covers no parts: agree to a repair")
        channel = parse_via(via)
        note = note.strip()
        if not note:
            raise ValueError("say what the customer agreed to (--note)")
        _check_quote(quote_cents)
        at = self._moment(now)
        with self._order_write(order_id, "the agreement change") as conn:
            order = self.order(order_id)
            if order.status == FINAL_STATUS:
                raise StoreError(f"order {order_id} is handed back; open a new order")
            for number in numbers:  # the customer cannot agree to a part the unit cannot take
                self._check_fits(order, lookup(number))
            fitted = [_key(p.part_number) for p in self.parts(order_id)]
            uncovered = [
                number
                for number in dict.fromkeys(fitted)
                if agreement != "repair" or (numbers and number not in numbers)
            ]
            if uncovered:
                raise StoreError(
                    f"order {order_id}: the new agreement must cover the parts already fitted "
                    f"({', '.join(_label(n) for n in uncovered)})"
                )
            at = self._in_time_order(conn, order_id, at, "the agreement", typed=now is not None)
            quote = order.quote_cents if quote_cents is None else quote_cents
            # the quote's date in the workshop's calendar (SQL knows only UTC)
            if quote == order.quote_cents:
                quote_date = order.quote_date
            else:
                quote_date = None if quote is None else at.astimezone().date()
            before = Terms(order.agreement, order.agreed_parts, order.quote_cents)
            after = Terms(agreement, numbers, quote)
            contact = conn.execute(
                "INSERT INTO contacts (order_id, at, by, note, via) VALUES (?, ?, ?, ?, ?)"
                " RETURNING id",
                (order_id, to_db(at), by, note, channel),
            ).fetchone()[0]
            row = conn.execute(
                "INSERT INTO agreement_changes (order_id, at, by, contact_id, before_agreement,"
                " before_parts, before_quote_cents, agreement, parts, quote_cents, quote_date)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    order_id,
                    to_db(at),
                    by,
                    contact,
                    before.agreement,
                    json.dumps(list(before.parts)),
                    before.quote_cents,
                    after.agreement,
                    json.dumps(list(after.parts)),
                    after.quote_cents,
                    None if quote_date is None else quote_date.isoformat(),
                ),
            ).fetchone()
        change_id: int = row[0]
        return AgreementChange(change_id, order_id, at, by, channel, note, before, after)

    def agreement_changes(self, order_id: int) -> list[AgreementChange]:
        """Every amendment of the order's agreement, oldest first."""
        rows = self._conn.execute(
            "SELECT a.*, c.via, c.note FROM agreement_changes a"
            " JOIN contacts c ON c.id = a.contact_id WHERE a.order_id = ? ORDER BY a.id",
            (order_id,),
        ).fetchall()
        return [
            AgreementChange(
                r["id"],
                r["order_id"],
                from_db(r["at"]),
                r["by"],
                r["via"],
                r["note"],
                _terms(r["before_agreement"], r["before_parts"], r["before_quote_cents"]),
                _terms(r["agreement"], r["parts"], r["quote_cents"]),
            )
            for r in rows
        ]

    def add_part(
        self,
        order_id: int,
        part_number: str,
        quantity: int = 1,
        *,
        by: str = "",
        now: datetime | None = None,
    ) -> PartReplaced:
        """Record a fitted part (a number of :mod:`protocols.mspa.parts`): only on an order
        whose agreed work covers it, a part that fits the unit's model, and before the order
        is verified."""
        part = lookup(part_number)
        if quantity < 1:
            raise ValueError(f"quantity must be at least 1, got {quantity}")
        at = self._moment(now)
        with self._order_write(order_id, f"the part {part.number}") as conn:
            order = self.order(order_id)
            if order.status == FINAL_STATUS:
                raise StoreError(f"order {order_id} is handed back; open a new order")
            if order.status == "verified":
                raise StoreError(
                    f"order {order_id} is verified: a part fitted now would not be; "
                    "hand the unit back and open a new order for further work"
                )
            refused = agreement_refuses_part(order, part.number)
            if refused is not None:
                wanted = [*order.agreed_parts, part.number] if order.agreed_parts else [part.number]
                flags = " ".join(f"--part {number}" for number in wanted)
                raise StoreError(
                    f"order {order_id}: cannot record {_label(part.number)}: {refused}; "
                    f"record the customer's agreement first: 'spabench order agree {order_id} "
                    f'--work repair {flags} --via phone --note "..."\''
                )
            self._check_fits(order, part)
            at = self._in_time_order(conn, order_id, at, "the part", typed=now is not None)
            conn.execute(
                "INSERT INTO parts_replaced (order_id, part_number, quantity, at, by)"
                " VALUES (?, ?, ?, ?, ?)",
                (order_id, part.number, quantity, to_db(at), by),
            )
        return PartReplaced(part.number, quantity, at, by)

    def _check_fits(self, order: Order, part: Part) -> None:
        """``StoreError`` unless ``part`` fits the model of the order's unit (its plate:
        :class:`protocols.mspa.parts.Fits`). A unit of a model this bench does not ship
        (an older file) is not judged."""
        profile = self.unit(order.unit_serial).profile
        if profile not in available_models():
            return
        plate = load_model(profile)
        if part.fits.matches(plate):
            return
        fits = ", ".join(models_for(part)) or "no model this bench knows"
        raise StoreError(
            f"order {order.id}: {_label(part.number)} does not fit unit {order.unit_serial} "
            f"({profile}, {plate.model}); it fits {fits} (see: spabench parts {part.number})"
        )

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
            row = conn.execute(
                "INSERT INTO notes (order_id, run_id, kind, at, by, text)"
                " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                (order_id, run_id, kind, to_db(now or utc_now()), by, text.strip()),
            ).fetchone()
        note_id: int = row[0]
        return note_id

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

    # ------------------------------------------------------------------------ timeline

    def events(self, order_id: int) -> list[OrderEvent]:
        """Everything that happened to the order, oldest first, one line each: status
        changes, agreement changes (with how the customer agreed), other customer contacts,
        parts fitted and notes — the timeline ``order show`` and the console print."""
        self.order(order_id)
        rows = self._conn.execute(
            "SELECT at, by, note, via FROM contacts c WHERE order_id = ? AND NOT EXISTS"
            " (SELECT 1 FROM agreement_changes a WHERE a.contact_id = c.id) ORDER BY id",
            (order_id,),
        ).fetchall()
        contacts = [(from_db(r["at"]), r["by"], r["note"], r["via"]) for r in rows]
        events: list[OrderEvent] = []
        for change in self.timeline(order_id):
            label = status_label(change.status)
            if change.status in ("awaiting-approval", "handed-back"):
                # the contact the status made (same moment) is told on the status's line
                made = next((c for c in contacts if c[0] == change.at and c[1] == change.by), None)
                if made is not None:
                    contacts.remove(made)
                    label += f" ({made[3]})"
                    if not change.note:
                        label += f": {made[2]}"
            text = label + (f": {change.note}" if change.note else "")
            events.append(OrderEvent(change.at, "status", change.by, text))
        for amended in self.agreement_changes(order_id):
            text = (
                f"agreement ({amended.via}): {amended.before.text} → {amended.after.text}"
                f" — {amended.note}"
            )
            events.append(OrderEvent(amended.at, "agreement", amended.by, text))
        for at, by, note, via in contacts:
            text = f"contact ({via})" + (f": {note}" if note else "")
            events.append(OrderEvent(at, "contact", by, text))
        for fitted in self.parts(order_id):
            text = f"part fitted: {fitted.quantity} × {_label(fitted.part_number)}"
            events.append(OrderEvent(fitted.at, "part", fitted.by, text))
        for note in self.notes(order_id=order_id):
            if note.order_id == order_id:
                events.append(OrderEvent(note.at, "note", note.by, f"{note.kind}: {note.text}"))
        return sorted(events, key=lambda event: event.at)  # stable: same moment keeps kind order
