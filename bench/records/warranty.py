"""Warranty decisions: is a part covered, until when, and why — in one sentence.

SPEC §6: electrical parts of the control box are covered 12 months from purchase for the end
customer, the original owner only; non-electrical parts 6 months. The durations and the
original-owner rule are :class:`WarrantyTerms` fields so a service centre whose terms differ
(another market, a goodwill extension) changes data, not code.

Calendar rules, chosen so a customer can check them with a calendar:

* the cover ends on the same day of the month N months after purchase, and that day is still
  covered ("in warranty until 2027-03-14" for a purchase on 2026-03-14 and 12 months);
* when that month is shorter, the end is clamped to its last day: purchase 2026-01-31 + 1 month
  ends 2026-02-28; a leap-day purchase 2024-02-29 + 12 months ends 2025-02-28;
* the decision is made for the day the unit was brought in (the order's intake), not the
  day it is repaired: a customer must not lose cover because the repair queue was long.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from protocols.mspa.parts import PartClass


@dataclass(frozen=True)
class WarrantyTerms:
    electrical_months: int = 12
    non_electrical_months: int = 6
    electrical_original_owner_only: bool = True
    non_electrical_original_owner_only: bool = False

    def months(self, part_class: PartClass) -> int:
        return self.electrical_months if part_class == "electrical" else self.non_electrical_months

    def original_owner_only(self, part_class: PartClass) -> bool:
        if part_class == "electrical":
            return self.electrical_original_owner_only
        return self.non_electrical_original_owner_only


DEFAULT_TERMS = WarrantyTerms()


@dataclass(frozen=True)
class WarrantyDecision:
    covered: bool
    part_class: PartClass
    last_day: date
    """Last day of the cover period (inclusive), whether or not this owner is covered."""
    explanation: str
    """One sentence for the customer report, e.g. "in warranty until 2027-03-14: ..."."""


def add_months(start: date, months: int) -> date:
    """``start`` plus ``months`` calendar months, clamped to the end of a shorter month."""
    if months < 0:
        raise ValueError(f"months must be ≥ 0, got {months}")
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return date(year, month, day)


def decide(
    purchase: date,
    part_class: PartClass,
    original_owner: bool,
    on: date,
    terms: WarrantyTerms = DEFAULT_TERMS,
) -> WarrantyDecision:
    """Is a part of ``part_class`` covered on day ``on`` for a unit bought on ``purchase``?"""
    if on < purchase:
        raise ValueError(f"the date {on.isoformat()} is before the purchase {purchase.isoformat()}")
    months = terms.months(part_class)
    last_day = add_months(purchase, months)
    kind = f"{part_class} part"
    owner_rule = terms.original_owner_only(part_class)
    in_period = on <= last_day
    if owner_rule and not original_owner:
        why = f"not the original owner ({part_class} parts are covered for the original owner only)"
        if in_period:
            return WarrantyDecision(False, part_class, last_day, f"out of warranty: {why}")
        ended = (last_day + timedelta(days=1)).isoformat()
        return WarrantyDecision(
            False, part_class, last_day, f"out of warranty since {ended}: {why}"
        )
    owner = "original owner" if original_owner else "not the original owner"
    if in_period:
        return WarrantyDecision(
            True, part_class, last_day, f"in warranty until {last_day.isoformat()}: {kind}, {owner}"
        )
    ended = (last_day + timedelta(days=1)).isoformat()
    return WarrantyDecision(
        False,
        part_class,
        last_day,
        f"out of warranty since {ended}: {kind}, covered {months} months from purchase "
        f"({purchase.isoformat()})",
    )


def explain(
    purchase: date,
    part_class: PartClass,
    original_owner: bool,
    on: date,
    terms: WarrantyTerms = DEFAULT_TERMS,
) -> tuple[bool | None, str]:
    """(covered, explanation) for listings and reports: a purchase date after ``on`` is a
    data-entry error to fix, shown as "unknown" instead of failing the whole report."""
    if on < purchase:
        return None, (
            f"warranty unknown: the purchase date {purchase.isoformat()} is after {on.isoformat()}"
        )
    decision = decide(purchase, part_class, original_owner, on, terms)
    return decision.covered, decision.explanation
