"""The customer report's charts: inline SVG drawn from a run's trace and its measured readings.

A chart is evidence, so it must never hide what the test judged. A run's ``trace`` is sampled
at most every few seconds (the steps sample while they wait), so the very reading a step
judged — the 21.0 °C that made the heater-rise step pass — may fall between two samples and
be missing from a line drawn through the samples alone. Every chart here therefore draws

* every trace sample (no decimation: a verification run has a few hundred at most), each as a
  dot carrying ``data-t``/``data-value`` so a reader (or a test) can check the chart against
  the record; and
* every value the steps measured in the chart's unit as a marked point with its own label,
  on top of the samples: the water temperatures (:func:`water_readings`) and every power
  (:func:`power_readings` — a load's draw is measured for a moment between two meter samples,
  so the 1.5 kW the heater step judged would otherwise be nowhere on the power chart);

and shades the step the water chart illustrates (the heating test).

No external assets: the report is e-mailed and archived, so SVG is written inline; labels are
escaped (a title is text even if a plan author wrote markup).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from bench.records.report_words import format_number, plain_name
from bench.testing.record import Measurement, StepResult, TestRecord

WATER_COLOUR = "#1f5fa8"
POWER_COLOUR = "#b3541e"
READING_COLOUR = "#111111"


@dataclass(frozen=True)
class Reading:
    """A value a step measured, placed on a chart at the run-clock time it was taken."""

    t: float
    value: float
    label: str
    step: str
    """The step's name (``heater-rise``): which step this reading belongs to."""
    change: float | None = None
    """For a change the step measured (a load's draw: the power after switching it on minus
    the power before), the change as recorded; ``value`` then places it over the power the
    meter showed when the step began. None: ``value`` is what the step recorded."""

    @property
    def measured(self) -> float:
        """The value as the step recorded it (the change, for a change)."""
        return self.value if self.change is None else self.change

    @property
    def text(self) -> str:
        """``Heater power +1,497.9 W`` / ``before heating 20.17 °C`` (without the unit)."""
        if self.change is None:
            return f"{self.label} {_number(self.value)}"
        return f"{self.label} {'+' if self.change >= 0 else '−'}{_number(abs(self.change))}"


@dataclass(frozen=True)
class Band:
    """A time window of the chart shaded and labelled: the step the chart illustrates."""

    start: float
    end: float
    label: str
    step: str


@dataclass(frozen=True)
class Chart:
    """One chart of a run, ready for the page: its SVG and what it shows, in words."""

    title: str
    unit: str
    svg: Markup
    samples: int
    readings: tuple[Reading, ...]
    band: Band | None

    @property
    def caption(self) -> str:
        if not self.readings:
            return f"{self.samples} readings over the test."
        measured = "; ".join(f"{r.text} {self.unit}" for r in self.readings)
        changes = any(r.change is not None for r in self.readings)
        over = " (+: more than the power before the step)" if changes else ""
        return f"{self.samples} readings over the test; measured by the test{over}: {measured}."


def _number(value: float) -> str:
    return format_number(value)


# --------------------------------------------------------------------------- geometry


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 5 × 10ⁿ steps) covering ``low``..``high``.

    A flat range (a steady 23.5 °C) is widened by 5 % of its size (at least 1) so the line
    sits mid-chart instead of dividing by zero.
    """
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError("tick range must be finite")
    low, high = min(low, high), max(low, high)
    scale = max(1.0, abs(low), abs(high))
    if high - low < scale * 1e-9:
        low, high = low - scale * 0.05, high + scale * 0.05
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first, last = math.floor(low / step), math.ceil(high / step)
    first -= first * step > low  # division may round (or underflow) the wrong way
    last += last * step < high
    return [index * step for index in range(first, last + 1)]


def svg_chart(
    points: Sequence[tuple[float, float | None]],
    *,
    title: str,
    unit: str,
    colour: str = WATER_COLOUR,
    readings: Sequence[Reading] = (),
    band: Band | None = None,
    width: int = 640,
    height: int = 220,
) -> Markup:
    """A line chart as inline SVG: every valid point is a dot (``class="sample"``) on the
    line; ``None`` values break the line (no reading there); ``readings`` are drawn as
    larger marked points (``class="reading"``); ``band`` shades a time window."""
    valid = [(t, v) for t, v in points if v is not None and math.isfinite(v)]
    if len(valid) < 2:
        raise ValueError(f"a chart of {title} needs at least two readings")
    left, right, top, bottom = 56, 12, 28, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    t_values = [t for t, _ in valid] + [r.t for r in readings]
    y_values = [v for _, v in valid] + [r.value for r in readings]
    if band is not None:
        t_values += [band.start, band.end]
    t0, t1 = min(t_values), max(t_values)
    minutes = t1 - t0 >= 180
    scale_t = 60.0 if minutes else 1.0
    x_ticks = nice_ticks(t0 / scale_t, t1 / scale_t)
    y_ticks = nice_ticks(min(y_values), max(y_values))
    x_lo, x_hi = x_ticks[0], x_ticks[-1]
    y_lo, y_hi = y_ticks[0], y_ticks[-1]

    def x(t: float) -> float:
        return left + (t / scale_t - x_lo) / (x_hi - x_lo) * plot_w

    def y(v: float) -> float:
        return top + plot_h - (v - y_lo) / (y_hi - y_lo) * plot_h

    label = escape(title)
    unit_text = escape(unit)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{label}" class="chart" '
        f'data-unit="{unit_text}">',
        f"<title>{label}</title>",
        f'<text x="{left}" y="16" class="chart-title">{label} ({unit_text})</text>',
    ]
    if band is not None:
        bx0, bx1 = x(band.start), x(band.end)
        parts.append(
            f'<rect class="band" data-step="{escape(band.step)}" x="{bx0:.1f}" y="{top}" '
            f'width="{max(bx1 - bx0, 1.0):.1f}" height="{plot_h}" fill="#f6e3c8"/>'
            f'<text x="{(bx0 + bx1) / 2:.1f}" y="{top + 12}" text-anchor="middle" '
            f'class="band-label">{escape(band.label)}</text>'
        )
    for tick in y_ticks:
        py = y(tick)
        parts.append(
            f'<line x1="{left}" y1="{py:.1f}" x2="{left + plot_w}" y2="{py:.1f}" class="grid"/>'
            f'<text x="{left - 6}" y="{py + 4:.1f}" text-anchor="end">{tick:g}</text>'
        )
    for tick in x_ticks:
        px = left + (tick - x_lo) / (x_hi - x_lo) * plot_w
        parts.append(
            f'<line x1="{px:.1f}" y1="{top + plot_h}" x2="{px:.1f}" y2="{top + plot_h + 4}" '
            f'class="axis"/><text x="{px:.1f}" y="{top + plot_h + 18}" '
            f'text-anchor="middle">{tick:g}</text>'
        )
    parts.append(
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" class="axis"/>'
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'class="axis"/>'
        f'<text x="{left + plot_w}" y="{height - 4}" text-anchor="end">time '
        f"({'min' if minutes else 's'})</text>"
    )
    segments: list[list[tuple[float, float]]] = [[]]
    for t, v in points:
        if v is None or not math.isfinite(v):
            if segments[-1]:
                segments.append([])
            continue
        segments[-1].append((x(t), y(v)))
    for segment in segments:
        if len(segment) > 1:
            coords = " ".join(f"{px:.1f},{py:.1f}" for px, py in segment)
            parts.append(
                f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="1.5"/>'
            )
    parts.append(f'<g class="samples" fill="{colour}">')
    for t, v in valid:
        parts.append(
            f'<circle class="sample" cx="{x(t):.1f}" cy="{y(v):.1f}" r="1.6" '
            f'data-t="{t:g}" data-value="{v:g}"/>'
        )
    parts.append("</g>")
    for reading in readings:
        rx, ry = x(reading.t), y(reading.value)
        text = escape(f"{reading.text} {unit}")
        parts.append(
            f'<g class="reading" data-t="{reading.t:g}" data-value="{reading.value:g}" '
            f'data-measured="{reading.measured:g}" '
            f'data-step="{escape(reading.step)}"><title>{text}</title>'
            f'<path d="M{rx:.1f},{ry - 5:.1f} L{rx + 5:.1f},{ry:.1f} L{rx:.1f},{ry + 5:.1f} '
            f'L{rx - 5:.1f},{ry:.1f} Z" fill="#fff" stroke="{READING_COLOUR}" '
            'stroke-width="1.5"/></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


# ------------------------------------------------------------------------ what to draw


def _value(step: StepResult, name: str) -> tuple[float, float] | None:
    """(value, at) of a numeric measurement of ``step`` that was taken, else None."""
    for item in step.measurements:
        value = item.value
        if item.name != name or item.at is None or isinstance(value, bool | str) or value is None:
            continue
        if math.isfinite(value):
            return float(value), item.at
    return None


def water_readings(record: TestRecord) -> list[Reading]:
    """Every water temperature a step of ``record`` measured, where the trace may not have it.

    * ``temperature-plausible`` measures the median report (``water_c``);
    * ``heater-rise`` measures the water before heating (``start_c``, a mean of three
      reports) and the rise (``rise_c``): the water it reached is ``start_c + rise_c``, taken
      when the rise was measured — the reading that made the step pass or fail.
    """
    readings: list[Reading] = []
    for step in record.steps:
        if step.kind == "temperature-plausible":
            found = _value(step, "water_c")
            if found is not None:
                readings.append(Reading(found[1], found[0], "water reported", step.name))
        elif step.kind == "heater-rise":
            start = _value(step, "start_c")
            rise = _value(step, "rise_c")
            if start is not None:
                readings.append(Reading(start[1], start[0], "before heating", step.name))
                if rise is not None:
                    reached = round(start[0] + rise[0], 2)
                    readings.append(Reading(rise[1], reached, "after heating", step.name))
    return readings


CHANGES_IN_DRAW = frozenset({"draw_w", "pump_draw_w"})
"""Power measurements the steps record as a change (after − before), not as a level."""


def _number_of(item: Measurement) -> float | None:
    value = item.value
    if item.at is None or value is None or isinstance(value, bool | str):
        return None
    return float(value) if math.isfinite(value) else None


CLOCK_SLACK_S = 0.05
"""A trace sample this close after a step's start is the one taken as it began (the trace
and the step keep the run clock with different rounding)."""


def _level_at(power: Sequence[tuple[float, float]], moment: float) -> float:
    """The meter's last sample as ``moment`` began (the first one if none is before)."""
    before = [value for t, value in power if t <= moment + CLOCK_SLACK_S]
    return before[-1] if before else power[0][1]


def power_readings(record: TestRecord) -> list[Reading]:
    """Every power (unit W) a step of ``record`` measured, placed on the mains power chart.

    A level (the draw with everything off, standby) is drawn at its value. A load's draw is
    recorded as a change — the power with the load on minus the power just before — and the
    power before is not kept in the record, so the change is drawn over the meter sample the
    run took as the step began (off by the pump's draw for a step that starts the filter pump
    itself before it switches its load) and carries the change exactly as recorded
    (``Reading.change``, ``data-measured``), which the caption states.
    """
    power = [
        (s.t, s.power_w) for s in record.trace if s.power_w is not None and math.isfinite(s.power_w)
    ]
    readings: list[Reading] = []
    for step in record.steps:
        for item in step.measurements:
            value = _number_of(item)
            if item.unit != "W" or value is None or item.at is None:
                continue
            label = plain_name(step, item)
            if item.name in CHANGES_IN_DRAW and power:
                began = item.at if step.started is None else step.started
                placed = round(_level_at(power, began) + value, 2)
                readings.append(Reading(item.at, placed, label, step.name, value))
            else:
                readings.append(Reading(item.at, value, label, step.name))
    return readings


def _heating_band(record: TestRecord) -> Band | None:
    for step in record.steps:
        if step.kind == "heater-rise" and step.started is not None and step.finished is not None:
            return Band(step.started, step.finished, "heating test", step.name)
    return None


def run_charts(record: TestRecord, *, width: int = 640, height: int = 220) -> list[Chart]:
    """The water temperature and mains power charts of a run, where it has the readings.

    The water chart illustrates the heating test (shaded) and carries every water reading the
    steps measured; the power chart every meter sample and every power the steps measured.
    """
    charts: list[Chart] = []
    water = [(s.t, s.water_c) for s in record.trace]
    readings = tuple(water_readings(record))
    if sum(v is not None for _, v in water) >= 2:
        band = _heating_band(record)
        svg = svg_chart(
            water,
            title="Water temperature",
            unit="°C",
            colour=WATER_COLOUR,
            readings=readings,
            band=band,
            width=width,
            height=height,
        )
        samples = sum(v is not None for _, v in water)
        charts.append(Chart("Water temperature", "°C", svg, samples, readings, band))
    power = [(s.t, s.power_w) for s in record.trace]
    if sum(v is not None for _, v in power) >= 2:
        measured = tuple(power_readings(record))
        svg = svg_chart(
            power,
            title="Power drawn from the mains",
            unit="W",
            colour=POWER_COLOUR,
            readings=measured,
            width=width,
            height=height,
        )
        samples = sum(v is not None for _, v in power)
        charts.append(Chart("Power drawn from the mains", "W", svg, samples, measured, None))
    return charts
