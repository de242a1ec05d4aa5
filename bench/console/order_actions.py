"""What the orders view does to an order, through the records store's own methods.

The console moves an order along, logs a contact, records a part and amends the agreement by
calling exactly what ``spabench order`` calls (:class:`~bench.records.store.Store`'s
``set_status``, ``add_contact``, ``add_part`` and the orders' ``amend_agreement``), so the
rules are the store's and a refusal is the store's one-line message. This module turns what
the technician typed into those calls' arguments, and a refusal's advice worded for the CLI
(``--note``, ``--simulated``, ``spabench run …``) into what does the same in the console
(:func:`in_console_terms`).

Whatever is entered in the console happens now: the calls pass no moment, so the store dates
it by its own clock, after everything already on the order (a moment passed would count as
typed with ``--at``, and be refused when a bench whose clock is ahead just filed a run).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from bench.records import advice
from bench.records.orders import MAX_PART_QUANTITY, MAX_QUOTE_CENTS, Agreement

if TYPE_CHECKING:
    from bench.records.store import Store

CONTACT_WAYS: tuple[tuple[str, str], ...] = (
    ("phone", "phone call"),
    ("email", "e-mail"),
    ("in-person", "in person (at the counter)"),
    ("letter", "letter"),
    ("other", "other (say how in the note)"),
)
"""How the customer was reached: the choices of the contact and amendment dialogs (the
orders' contact channels)."""


def parse_quote(text: str) -> int | None:
    """``""`` → None (no quote); ``"89.50"`` / ``"89,50"`` → 8950 cents; ``ValueError`` (one
    line) for anything else."""
    stripped = text.strip().replace(",", ".")
    if not stripped:
        return None
    try:
        amount = Decimal(stripped)
    except InvalidOperation:
        raise ValueError(f"not an amount: {text!r}") from None
    in_range = amount.is_finite() and 0 <= amount <= Decimal(MAX_QUOTE_CENTS) / 100
    cents = amount * 100 if in_range else Decimal(-1)
    if not in_range or cents != int(cents):
        raise ValueError(
            f"an amount must be 0–{MAX_QUOTE_CENTS // 100:,} with at most two decimals, "
            f"got {text!r}"
        )
    return int(cents)


def parse_quantity(text: str) -> int:
    """``"2"`` → 2; 1 to :data:`~bench.records.orders.MAX_PART_QUANTITY`."""
    try:
        value = int(text.strip() or "1")
    except ValueError:
        raise ValueError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= MAX_PART_QUANTITY:
        raise ValueError(f"a quantity must be 1–{MAX_PART_QUANTITY}, got {value}")
    return value


def parse_parts(text: str) -> tuple[str, ...]:
    """``"B9300929, B9301291"`` → the part numbers (the store checks them)."""
    return tuple(item for item in text.replace(",", " ").split() if item)


def log_contact(store: Store, order_id: int, *, via: str, note: str, by: str) -> object:
    """Log a contact with the customer, with its channel (``via``), as ``order contact`` does."""
    return store.add_contact(order_id, by=by, note=note, via=via)


def amend(
    store: Store,
    order_id: int,
    agreement: Agreement,
    *,
    parts: Sequence[str],
    quote_cents: int | None,
    via: str,
    note: str,
    by: str,
) -> object:
    """The orders' ``amend_agreement`` (the customer agreed to more work, or other terms): the
    one call the console makes of it, kept here alone."""
    return store.amend_agreement(
        order_id,
        agreement,
        parts=tuple(parts),
        quote_cents=quote_cents,
        via=via,
        note=note,
        by=by,
    )


def set_status(
    store: Store, order_id: int, status: str, *, note: str, allow_simulated: bool, by: str
) -> object:
    """Move the order to ``status`` as ``order status`` does: ``note`` is ``--note`` and
    ``allow_simulated`` (only ever for ``verified``) is ``--simulated``."""
    return store.set_status(
        order_id, status, by=by, note=note, allow_simulated=allow_simulated and status == "verified"
    )


def verified_needs_note(parts_fitted: bool, repaired_note: str) -> bool:
    """Whether ``verified`` needs a note from the technician: no part was fitted and the
    order's last ``repaired`` status says nothing (the store then refuses a bare
    ``verified``: a note must say what was done and why no part was needed)."""
    return not parts_fitted and not repaired_note.strip()


_CONSOLE_TERMS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        advice.pattern(advice.ACCEPT_SIMULATED),
        r" (run \g<run> passed on a SIMULATED UNIT: to accept it, press s, choose verified again"
        r" and answer y to the SIMULATED UNIT question)",
    ),
    (
        advice.pattern(advice.WRITE_NOTE),
        " (write it in the note the status dialog asks for: press s, choose the status again)",
    ),
    (
        advice.pattern(advice.RUN_PLAN),
        r" run plan \g<plan> on order \g<order> from a console opened on that order (press t)",
    ),
    (
        advice.pattern(advice.BACK_TO_DIAGNOSIS),
        " (press s, choose diagnosed and write what was found)",
    ),
    (
        advice.pattern(advice.FILE_SIMULATED),
        " (answer y when the console asks whether to file it)",
    ),
)
"""Each piece of ``spabench`` advice a records refusal can end with (:mod:`bench.records.advice`)
→ what does the same in the console."""


def in_console_terms(message: str) -> str:
    """A store refusal with its advice for ``spabench`` (a flag, a command) replaced by what
    does the same in the console, so the technician reading it there knows what to press.
    A message naming nothing of the CLI is returned as it is."""
    for pattern, console in _CONSOLE_TERMS:
        message = pattern.sub(console, message)
    return message
