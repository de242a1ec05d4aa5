"""Service orders: the status flow of a repair and the follow-up rules.

A service centre works intake → diagnosis → repair → hand-back (SPEC §6). The flow is data
(:data:`TRANSITIONS`) checked in one place, :func:`check_transition`, so the CLI, the console
and the store cannot disagree about which change is legal. Statuses are stored with hyphens
(``awaiting-approval``) because technicians type them on a command line; :func:`status_label`
gives the words.

What the customer agreed to decides what may be done: a diagnosis-only order gets no part and
is not repaired until the approval is recorded (:func:`agreement_refuses_part`,
:func:`check_transition`); a repaired unit is handed back only once verified
(:func:`hand_back_problem`). These rules import no persistence; the store asks them.

Follow-up rules (why an order is *overdue*): a customer who has heard nothing three days after
leaving their spa calls the shop, and a missed promise costs more than a late one announced.
So an order that is not handed back is overdue when

* nobody has contacted the customer and more than ``contact_within`` (3 days) has passed since
  intake — a contact made late clears this, because the follow-up has then been done;
* it has awaited the customer's approval (the quote sent) for more than ``contact_within``
  with no contact since: terms are agreed within days or the customer is asked again — a
  follow-up contact clears it for another ``contact_within``; or
* today is after its promised date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal, Protocol

Status = Literal[
    "received", "diagnosed", "awaiting-approval", "repaired", "verified", "handed-back"
]
STATUSES: tuple[Status, ...] = (
    "received",
    "diagnosed",
    "awaiting-approval",
    "repaired",
    "verified",
    "handed-back",
)
FINAL_STATUS: Status = "handed-back"

MAX_ID = 2**63 - 1
"""Largest order/run id: SQLite's INTEGER is 64-bit signed; ids start at 1."""
MAX_QUOTE_CENTS = 100_000_000_000
"""A quote is 0 to 1,000,000,000.00 (in the shop's currency), at most two decimals."""
MAX_PART_QUANTITY = 1000
"""Parts replaced on one order line: 1 to 1000."""


def parse_id(text: str, what: str = "id") -> int:
    """``ValueError`` (one line) unless ``text`` is a whole number 1..2^63-1."""
    stripped = text.strip()
    if not stripped.isascii() or not stripped.isdigit():
        raise ValueError(f"{what} must be a whole number, got {text!r}")
    value = int(stripped)
    if not 1 <= value <= MAX_ID:
        raise ValueError(f"{what} must be 1–{MAX_ID}, got {text!r}")
    return value


Agreement = Literal["diagnosis", "repair"]
AGREEMENTS: tuple[Agreement, ...] = ("diagnosis", "repair")
"""What the customer agreed to: a diagnosis only (no part may be fitted), or a repair (any
part up to the quote, or only the parts listed in :attr:`Order.agreed_parts`)."""

Via = Literal["phone", "email", "in-person", "letter", "other"]
VIAS: tuple[Via, ...] = ("phone", "email", "in-person", "letter", "other")
"""How a contact with the customer was made (every contact is logged with one)."""


def parse_via(text: str) -> Via:
    key = text.strip().lower().replace(" ", "-").replace("_", "-")
    for via in VIAS:
        if via == key:
            return via
    raise ValueError(f"unknown contact channel {text!r} (one of: {', '.join(VIAS)})")


TRANSITIONS: dict[Status, tuple[Status, ...]] = {
    "received": ("diagnosed",),
    # repaired straight after diagnosis only when the customer agreed to a repair at intake;
    # handed back straight after diagnosis: diagnosis-only order, or nothing worth repairing.
    "diagnosed": ("awaiting-approval", "repaired", "handed-back"),
    # approved (an agreement amended to a repair, logged) → repaired; declined → handed back
    # unrepaired.
    "awaiting-approval": ("repaired", "handed-back"),
    # verified needs passing bench runs that check every part fitted (checked by the store,
    # see bench.records.verification); a failed verification that reveals another fault sends
    # the order back to diagnosis.
    "repaired": ("verified", "diagnosed"),
    # a run that fails after verification sends the order back to diagnosis (or the failed
    # plan is run again until it passes, and the unit goes back verified).
    "verified": ("handed-back", "diagnosed"),
    "handed-back": (),
}


class IllegalTransition(ValueError):
    """A status change the flow does not allow; the message says why and what is allowed."""


def parse_status(text: str) -> Status:
    """``"awaiting approval"``, ``"Awaiting_Approval"`` → ``"awaiting-approval"``."""
    key = "-".join(text.strip().lower().replace("_", " ").replace("-", " ").split())
    for status in STATUSES:
        if status == key:
            return status
    raise ValueError(f"unknown status {text!r} (one of: {', '.join(STATUSES)})")


def status_label(status: str) -> str:
    return status.replace("-", " ")


def check_transition(
    current: Status, new: Status, agreement: Agreement, *, order_id: int | None = None
) -> None:
    """Raise :class:`IllegalTransition` unless ``current → new`` is allowed for ``agreement``.

    ``repaired`` needs an agreed repair: a diagnosis-only order is repaired only after the
    customer's approval is recorded (``order agree``), which is what makes it evidence.
    """
    allowed = TRANSITIONS[current]
    if new not in allowed:
        options = ", ".join(allowed) if allowed else "none: the order is closed"
        raise IllegalTransition(
            f"cannot change status from {current} to {new} (allowed next: {options})"
        )
    if new == "repaired" and agreement != "repair":
        agree = f"'spabench order agree {order_id or 'ID'} --work repair --via phone --note ...'"
        then = (
            f"record their approval first with {agree}"
            if current == "awaiting-approval"
            else f"ask for approval first (status awaiting-approval), then record it with {agree}"
        )
        raise IllegalTransition(
            f"cannot change status from {current} to repaired: the customer agreed to a "
            f"diagnosis only; {then}"
        )


def hand_back_problem(status: Status, *, parts_fitted: bool, was_repaired: bool) -> str | None:
    """Why an order in ``status`` cannot be handed back yet, or None.

    A unit that was repaired (a part fitted, or status ``repaired`` ever reached) goes back to
    the customer only once the repair is verified; a diagnosis-only or declined order goes
    back unrepaired from ``diagnosed`` / ``awaiting-approval``.
    """
    if status == "verified" or not (parts_fitted or was_repaired):
        return None
    done = "a part was fitted" if parts_fitted else "the order was repaired"
    return f"{done}, so the repair must be verified before hand-back (status verified)"


def agreement_refuses_part(order: Order, part_number: str) -> str | None:
    """Why ``order``'s agreed work does not cover fitting ``part_number``, or None."""
    if order.agreement != "repair":
        return "the customer agreed to a diagnosis only"
    if order.agreed_parts and part_number not in order.agreed_parts:
        return f"the agreed repair covers only {', '.join(order.agreed_parts)}"
    return None


@dataclass(frozen=True)
class Order:
    """One service order as stored; times are timezone-aware UTC."""

    id: int
    unit_serial: str
    opened_at: datetime
    opened_by: str
    symptom: str
    agreement: Agreement
    quote_cents: int | None
    quote_date: date | None
    promised: date | None
    status: Status
    status_at: datetime
    first_contact_at: datetime | None
    agreed_parts: tuple[str, ...] = ()
    """Part numbers an agreed repair is limited to; empty: any part (up to the quote)."""
    last_contact_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.status != FINAL_STATUS

    @property
    def agreement_text(self) -> str:
        """``diagnosis only`` / ``repair`` / ``repair of B9300929, heater``."""
        if self.agreement == "diagnosis":
            return "diagnosis only"
        return f"repair of {', '.join(self.agreed_parts)}" if self.agreed_parts else "repair"

    @property
    def quote_text(self) -> str:
        if self.quote_cents is None:
            return ""
        return f"{self.quote_cents // 100}.{self.quote_cents % 100:02d}"


@dataclass(frozen=True)
class FollowUpRules:
    contact_within: timedelta = timedelta(days=3)


DEFAULT_RULES = FollowUpRules()


def overdue_reasons(order: Order, now: datetime, rules: FollowUpRules = DEFAULT_RULES) -> list[str]:
    """Why ``order`` is overdue at ``now`` (aware datetime); empty when it is not.

    The promised date is compared with ``now``'s own calendar date, so pass the service
    centre's local time (``datetime.now().astimezone()``).
    """
    if not order.is_open:
        return []
    reasons = []
    days = rules.contact_within.total_seconds() / 86400
    if order.first_contact_at is None and now - order.opened_at > rules.contact_within:
        reasons.append(
            f"no customer contact within {days:g} days of intake "
            f"({order.opened_at.astimezone().date().isoformat()})"
        )
    last_heard = max(order.status_at, order.last_contact_at or order.status_at)
    if order.status == "awaiting-approval" and now - last_heard > rules.contact_within:
        reasons.append(
            f"awaiting the customer's approval since "
            f"{order.status_at.astimezone().date().isoformat()}: no agreement and no contact "
            f"for {days:g} days (record it with 'order agree', or call them)"
        )
    if order.promised is not None and now.date() > order.promised:
        reasons.append(f"past the promised date {order.promised.isoformat()}")
    return reasons


@dataclass(frozen=True)
class OverdueOrder:
    order: Order
    reasons: tuple[str, ...]


class OverdueCandidates(Protocol):
    """What :func:`overdue_orders` needs from the records: a cheap pre-selection of orders
    that may be overdue (the store answers it with an indexed query). A protocol, so these
    rules never import the persistence that obeys them."""

    def overdue_candidates(self, *, contact_deadline: datetime, today: date) -> list[Order]: ...


def overdue_orders(
    store: OverdueCandidates, now: datetime, rules: FollowUpRules = DEFAULT_RULES
) -> list[OverdueOrder]:
    """Open orders needing attention at ``now``, oldest intake first, each with its reasons.

    The store pre-selects candidates with an indexed query; :func:`overdue_reasons` is the
    one definition of overdue.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    candidates = store.overdue_candidates(
        contact_deadline=now - rules.contact_within, today=now.date()
    )
    result = []
    for order in candidates:
        reasons = overdue_reasons(order, now, rules)
        if reasons:
            result.append(OverdueOrder(order, tuple(reasons)))
    return result
