"""Warranty decisions: durations per part class, the original-owner rule, calendar edges."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.records.warranty import WarrantyTerms, add_months, decide, explain
from protocols.mspa.parts import CATALOGUE, FAULT_PARTS, PARTS, UnknownPart, lookup, parts_for_fault


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2026, 3, 14), 12, date(2027, 3, 14)),
        (date(2026, 1, 31), 1, date(2026, 2, 28)),  # clamped to the shorter month
        (date(2028, 1, 31), 1, date(2028, 2, 29)),  # leap year February
        (date(2024, 2, 29), 12, date(2025, 2, 28)),  # leap day, next year has none
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2026, 8, 31), 6, date(2027, 2, 28)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),  # year boundary
        (date(2026, 3, 31), 0, date(2026, 3, 31)),
        (date(2025, 10, 31), 1, date(2025, 11, 30)),
    ],
)
def test_add_months(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


def test_add_months_refuses_negative() -> None:
    with pytest.raises(ValueError):
        add_months(date(2026, 1, 1), -1)


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2200, 12, 31)), st.integers(0, 240))
def test_add_months_lands_in_the_right_month_on_the_same_or_last_day(
    start: date, months: int
) -> None:
    end = add_months(start, months)
    assert (end.year - start.year) * 12 + end.month - start.month == months
    last = calendar.monthrange(end.year, end.month)[1]
    assert end.day == min(start.day, last)
    assert add_months(start, months + 1) > end


def test_electrical_part_original_owner_is_covered_to_the_anniversary_inclusive() -> None:
    purchase = date(2026, 3, 14)
    on_last_day = decide(purchase, "electrical", True, date(2027, 3, 14))
    assert on_last_day.covered
    assert on_last_day.explanation == (
        "in warranty until 2027-03-14: electrical part, original owner"
    )
    day_after = decide(purchase, "electrical", True, date(2027, 3, 15))
    assert not day_after.covered
    assert day_after.explanation.startswith("out of warranty since 2027-03-15: ")


def test_electrical_part_second_owner_is_not_covered_even_in_the_period() -> None:
    decision = decide(date(2026, 3, 14), "electrical", False, date(2026, 4, 1))
    assert not decision.covered
    assert decision.explanation == (
        "out of warranty: not the original owner "
        "(electrical parts are covered for the original owner only)"
    )
    late = decide(date(2026, 3, 14), "electrical", False, date(2027, 6, 1))
    assert late.explanation == (
        "out of warranty since 2027-03-15: not the original owner "
        "(electrical parts are covered for the original owner only)"
    )


def test_non_electrical_parts_six_months_whoever_owns_it() -> None:
    purchase = date(2026, 1, 31)
    covered = decide(purchase, "non-electrical", False, date(2026, 7, 31))
    assert covered.covered
    assert covered.explanation == (
        "in warranty until 2026-07-31: non-electrical part, not the original owner"
    )
    ended = decide(purchase, "non-electrical", True, date(2026, 8, 1))
    assert not ended.covered
    assert "6 months from purchase (2026-01-31)" in ended.explanation


def test_month_end_purchase_clamps_the_end_of_cover() -> None:
    terms = WarrantyTerms(non_electrical_months=1)
    assert decide(date(2026, 1, 31), "non-electrical", True, date(2026, 2, 28), terms).covered
    assert not decide(date(2026, 1, 31), "non-electrical", True, date(2026, 3, 1), terms).covered


def test_leap_day_purchase() -> None:
    decision = decide(date(2024, 2, 29), "electrical", True, date(2025, 2, 28))
    assert decision.covered
    assert decision.last_day == date(2025, 2, 28)
    assert not decide(date(2024, 2, 29), "electrical", True, date(2025, 3, 1)).covered


def test_terms_are_configurable() -> None:
    generous = WarrantyTerms(electrical_months=24, electrical_original_owner_only=False)
    decision = decide(date(2026, 3, 14), "electrical", False, date(2027, 12, 1), generous)
    assert decision.covered
    assert decision.last_day == date(2028, 3, 14)


def test_a_date_before_purchase_is_an_error() -> None:
    with pytest.raises(ValueError, match="before the purchase"):
        decide(date(2026, 3, 14), "electrical", True, date(2026, 3, 13))


@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)),
    st.integers(0, 800),
    st.sampled_from(["electrical", "non-electrical"]),
    st.booleans(),
)
def test_cover_is_one_unbroken_period_from_purchase(
    purchase: date, days: int, part_class: str, original: bool
) -> None:
    on = purchase + timedelta(days=days)
    decision = decide(purchase, part_class, original, on)  # type: ignore[arg-type]
    owner_ok = original or part_class == "non-electrical"
    assert decision.covered == (owner_ok and on <= decision.last_day)
    assert decision.explanation.startswith("in warranty" if decision.covered else "out of")


# ---------------------------------------------------------------------------- catalogue


def test_catalogue_has_the_makers_numbers_and_keys_no_one_orders_by() -> None:
    makers = {
        "B9301291": "power board",
        "B9300933": "transformer",
        "B9300929": "filter pump",
        "B9301364": "check valve",
        "B9301267": "rotation knob",
        "B9301286": "remote circuit board",
        "B9301287": "Premium control panel",
        "B9301288": "Elite control panel",
    }
    for number, name in makers.items():
        assert PARTS[number].name == name
        assert PARTS[number].official
    internal = [part for part in CATALOGUE if not part.official]
    assert internal and all(part.number == part.number.lower() for part in internal)
    assert all(part.label == part.name for part in internal)
    assert {part.part_class for part in CATALOGUE} == {"electrical", "non-electrical"}
    for name in ("liner", "cover", "hoses"):
        assert any(p.name == name and p.part_class == "non-electrical" for p in CATALOGUE)
    assert len(PARTS) == len(CATALOGUE)


def test_every_fault_of_the_catalogue_maps_to_known_parts() -> None:
    assert len(FAULT_PARTS) == 21  # SPEC §5 and issue 12: inlet/outlet switch, jet pump
    for fault_id, numbers in FAULT_PARTS.items():
        assert all(number in PARTS for number in numbers), fault_id
    assert [p.number for p in parts_for_fault("filter-pump-dead")] == ["B9300929"]
    assert parts_for_fault("prcd-tripped") == ()
    assert parts_for_fault("no-such-fault") == ()


def test_lookup_normalises_and_refuses_unknown_numbers() -> None:
    assert lookup(" b9300929 ").number == "B9300929"
    with pytest.raises(UnknownPart, match="unknown part number 'B123'"):
        lookup("B123")


def test_explain_reports_a_purchase_after_the_date_instead_of_failing() -> None:
    assert explain(date(2026, 3, 14), "electrical", True, date(2026, 3, 1)) == (
        None,
        "warranty unknown: the purchase date 2026-03-14 is after 2026-03-01",
    )
    covered, text = explain(date(2026, 3, 14), "electrical", True, date(2026, 3, 15))
    assert covered and text == "in warranty until 2027-03-14: electrical part, original owner"
