"""A measurement as the plan view shows it: the value against its limits, in plain words.

A technician watching a plan wants to see *how* a step passed, not only that it did: a heater
drawing 1,495 W against 1,000–2,200 W is healthy, one drawing 1,010 W is on its way out. So
every measured value is shown beside its limits — ``1,495 W (1,000–2,200) pass`` — with
thousands grouped, booleans as yes/no (never ``= True``), and no judgement word where there
are no limits to judge by (a value only recorded is not a pass).
"""

from __future__ import annotations

from bench.console.state import ValueView
from bench.records.report_words import format_number, format_value
from bench.testing.record import Limits, Measurement, StepResult


def number(value: float, decimals: int | None = None) -> str:
    """``1,495``, ``0.5``, ``26.8``: grouped thousands, no trailing zeros unless asked (the
    customer report's way of writing a number, :func:`format_number`)."""
    if decimals is not None:
        return f"{value:,.{decimals}f}"
    return format_number(value)


def _decimals(value: float, unit: str) -> int:
    """Watts and anything from 100 up to the unit; °C and tens to a tenth; small to 0.01."""
    magnitude = abs(value)
    if unit == "W" or magnitude >= 100:
        return 0
    if unit == "°C" or magnitude >= 10:
        return 1
    return 2


def _plain(value: float | str | bool) -> str:
    return format_value(value)


def limits_text(limits: Limits) -> str:
    """``1,000–2,200``, ``≥ 0.5``, ``≤ 15``, ``expected yes``; empty without limits."""
    if limits.expected is not None:
        return f"expected {_plain(limits.expected)}"
    if limits.low is not None and limits.high is not None:
        return f"{number(limits.low)}–{number(limits.high)}"
    if limits.low is not None:
        return f"≥ {number(limits.low)}"
    if limits.high is not None:
        return f"≤ {number(limits.high)}"
    return ""


def judged(limits: Limits) -> bool:
    return bool(limits_text(limits))


def reading(measurement: Measurement) -> str:
    """``1,495 W (1,000–2,200)``, ``yes (expected yes)``, ``8.3 ms``."""
    value = measurement.value
    unit = measurement.unit
    if value is None:
        shown = "not measured"
    elif isinstance(value, int) and not isinstance(value, bool):
        shown = number(float(value))  # a count or a code: never "0.00"
        shown = f"{shown} {unit}" if unit else shown
    elif isinstance(value, float):
        shown = number(value, _decimals(value, unit))
        shown = f"{shown} {unit}" if unit else shown
    else:
        shown = _plain(value)
    bounds = limits_text(measurement.limits)
    return f"{shown} ({bounds})" if bounds else shown


def value_view(measurement: Measurement) -> ValueView:
    label = measurement.description or measurement.name.replace("_", " ")
    outcome = measurement.outcome if judged(measurement.limits) else ""
    return ValueView(label, reading(measurement), outcome)


def step_values(step: StepResult) -> tuple[ValueView, ...]:
    """Every value the step measured (one never taken is left out: the step's note says why)."""
    return tuple(value_view(m) for m in step.measurements if m.value is not None)
