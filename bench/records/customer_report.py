"""The customer report: one self-contained HTML page a spa owner understands.

What a customer wants to know after a repair: did you understand my problem (their symptom,
in their words), what was wrong (plain sentences, not fault ids), what did you replace and is
it under warranty, and does it work now — shown, not claimed: the measurements of the final
verification run with their limits, and charts of the water warming and the power drawn.

Self-contained on purpose: the page is e-mailed, archived and printed years later, so it has
no external assets (CSS inline, charts are inline SVG drawn here from the record's ``trace``).
Jinja2 autoescaping is on: the symptom is typed by a person and must stay text. The SHA-256 of
the record (canonical form, see :mod:`bench.records.exports`) is printed so the page can be matched
to the stored record.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape

from bench.records.database import NotFound, utc_now
from bench.records.exports import CANONICAL_JSON_RULE, RecordRef, record_sha256
from bench.records.order_records import StatusChange
from bench.records.orders import Order, status_label
from bench.records.run_records import RunInfo
from bench.records.store import Store
from bench.records.unit_records import Unit
from bench.records.warranty import DEFAULT_TERMS, WarrantyTerms, explain
from bench.testing.record import Measurement, TestRecord
from protocols.mspa.parts import PART_CLASSES, PARTS, UnknownPart, lookup, parts_for_fault

# Fault ids of SPEC §5 in words a spa owner understands.
FAULT_SENTENCES: dict[str, str] = {
    "prcd-tripped": "The safety switch on the mains cord (PRCD) had switched off. It was reset; "
    "no part needed replacing.",
    "prcd-faulty": "The safety switch on the mains cord (PRCD) does not work as it should.",
    "transformer-dead": "The transformer that powers the electronics has failed, so the control "
    "box could not start.",
    "power-board-dead": "The main circuit board of the control box has failed, so the control "
    "box could not start.",
    "filter-pump-dead": "The filter pump does not run: it draws no power and no water flows.",
    "flow-switch-stuck-open": "The pump runs, but the flow switch does not notice the water "
    "flowing, so the heater is kept off for safety.",
    "flow-switch-stuck-closed": "The flow switch reports flowing water even with the pump off, "
    "which defeats a safety check of the heater.",
    "heater-open": "The heater does not heat: with water flowing it draws no power and the water "
    "does not warm up.",
    "heater-relay-welded": "The heater stays on when it is switched off, because a switch on the "
    "main circuit board is stuck.",
    "temp-sensor-open": "The water temperature sensor is broken or disconnected: the unit reads "
    "0 °C.",
    "temp-sensor-short": "The water temperature sensor is short-circuited: the unit reads an "
    "impossibly high temperature.",
    "blower-dead": "The bubble generator (air blower) does not run when bubbles are switched on.",
    "check-valve-leak": "Water gets past the check valve into the air blower, which trips the "
    "safety switch when the bubbles start.",
    "knob-reed-switch-stuck": "The blower runs but no bubbles come out: the switch in the "
    "rotation knob is stuck.",
    "ozone-dead": "The ozone generator does not work.",
    "uvc-dead": "The UV-C lamp does not work.",
    "link-noisy": "The connection between the control panel and the box is unreliable (many "
    "garbled messages): the cable or its plug.",
    "panel-dead": "The control panel sends no commands to the box.",
}

VERDICT_TEXT: dict[str, str] = {
    "pass": "PASS — the unit worked correctly in every test.",
    "fail": "FAIL — the unit did not pass every test (see what was found).",
    "error": "NOT COMPLETED — the test could not be completed (equipment or connection "
    "problem), so it says nothing about the unit.",
    "interrupted": "INTERRUPTED — the test was stopped before it finished.",
    "running": "IN PROGRESS — the test has not finished yet.",
    "none": "NOT TESTED YET — no bench test of this unit has finished.",
}

OUTCOME_TEXT: dict[str, str] = {
    "pass": "OK",
    "marginal": "OK (near a limit)",
    "fail": "out of limits",
    "unset": "not measured",
}


@dataclass(frozen=True)
class MeasurementLine:
    step: str
    name: str
    value: str
    limits: str
    outcome: str
    outcome_text: str


@dataclass(frozen=True)
class PartLine:
    number: str
    name: str
    official: bool
    quantity: int
    warranty: str
    covered: bool | None


@dataclass(frozen=True)
class RunLine:
    run_id: int | None
    record_id: str
    plan: str
    status: str
    started_at: str
    operator: str
    sha256: str


@dataclass
class ReportData:
    """Everything the template shows, already in customer words."""

    title: str
    generated_at: datetime
    unit_serial: str
    unit_profile: str
    unit_model: str
    owner: str
    purchase_date: date | None
    order: Order | None
    timeline: list[StatusChange]
    symptom: str | None
    findings: list[str]
    parts: list[PartLine]
    warranty: list[str]
    final: RecordRef | None
    measurements: list[MeasurementLine]
    charts: list[Markup]
    verdict: str
    technician: str
    runs: list[RecordRef] = field(default_factory=list)

    @property
    def verdict_text(self) -> str:
        return VERDICT_TEXT.get(self.verdict, self.verdict)

    @property
    def final_sha256(self) -> str | None:
        return None if self.final is None else record_sha256(self.final.record)

    @property
    def run_lines(self) -> list[RunLine]:
        return [
            RunLine(
                ref.run_id,
                ref.record.record_id,
                ref.record.plan,
                ref.status or ref.record.verdict,
                ref.record.started_at,
                ref.record.operator,
                record_sha256(ref.record),
            )
            for ref in self.runs
        ]


# ---------------------------------------------------------------------------- findings


def findings(records: Sequence[TestRecord]) -> list[str]:
    """Plain sentences for what the bench found, once each, in the order found."""
    sentences: list[str] = []

    def add(sentence: str) -> None:
        if sentence not in sentences:
            sentences.append(sentence)

    for record in records:
        if record.verdict != "fail":
            continue
        for suspect in record.suspected_parts:
            sentence = FAULT_SENTENCES.get(suspect.fault_id)
            if sentence is None:
                detail = f": {suspect.reason}" if suspect.reason else ""
                sentence = f"The bench tests point to the {suspect.name}{detail}."
            add(sentence)
        for step in record.steps:
            for fault_id in step.suspects:
                if fault_id in FAULT_SENTENCES:
                    add(FAULT_SENTENCES[fault_id])
        if not sentences and record.summary:
            add(f"The bench tests failed: {record.summary}.")
    return sentences


def suggested_parts(records: Sequence[TestRecord]) -> list[str]:
    """Part labels the failed runs point at (for a diagnosis-only report)."""
    labels: list[str] = []
    for record in records:
        if record.verdict != "fail":
            continue
        for suspect in record.suspected_parts:
            candidates = parts_for_fault(suspect.fault_id)
            if not candidates:
                try:
                    candidates = (lookup(suspect.part_number),)
                except UnknownPart:
                    label = f"{suspect.part_number} {suspect.name}".strip()
                    if label not in labels:
                        labels.append(label)
                    continue
            for part in candidates:
                if part.label not in labels:
                    labels.append(part.label)
    return labels


# --------------------------------------------------------------------------- measurements


def format_value(value: float | str | bool | None, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "invalid"
        text = f"{round(value, 2):g}"
    else:
        text = str(value)
    return f"{text} {unit}".strip()


def measurement_lines(record: TestRecord) -> list[MeasurementLine]:
    lines = []
    for step in record.steps:
        for item in step.measurements:
            lines.append(_measurement_line(step.title or step.name, item))
    return lines


def _measurement_line(step: str, item: Measurement) -> MeasurementLine:
    return MeasurementLine(
        step=step,
        name=item.description or item.name,
        value=format_value(item.value, item.unit),
        limits=item.limits.text(item.unit),
        outcome=item.outcome,
        outcome_text=OUTCOME_TEXT.get(item.outcome, item.outcome),
    )


# ----------------------------------------------------------------------------- charts


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
    colour: str = "#1f5fa8",
    width: int = 640,
    height: int = 220,
) -> Markup:
    """A line chart as inline SVG; ``None`` values break the line (no reading there)."""
    valid = [(t, v) for t, v in points if v is not None and math.isfinite(v)]
    if len(valid) < 2:
        raise ValueError(f"a chart of {title} needs at least two readings")
    left, right, top, bottom = 56, 12, 28, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    t_values = [t for t, _ in valid]
    y_values = [v for _, v in valid]
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

    segments: list[list[tuple[float, float]]] = [[]]
    for t, v in points:
        if v is None or not math.isfinite(v):
            if segments[-1]:
                segments.append([])
            continue
        segments[-1].append((x(t), y(v)))
    label = escape(title)
    unit_text = escape(unit)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{label}" class="chart">',
        f"<title>{label}</title>",
        f'<text x="{left}" y="16" class="chart-title">{label} ({unit_text})</text>',
    ]
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
    for segment in segments:
        if len(segment) == 1:
            cx, cy = segment[0]
            parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="2" fill="{colour}"/>')
        elif segment:
            coords = " ".join(f"{px:.1f},{py:.1f}" for px, py in segment)
            parts.append(
                f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def trace_charts(record: TestRecord) -> list[Markup]:
    """Water temperature and mains power over the run, where the trace has them."""
    charts = []
    water = [(s.t, s.water_c) for s in record.trace]
    power = [(s.t, s.power_w) for s in record.trace]
    if sum(v is not None for _, v in water) >= 2:
        charts.append(svg_chart(water, title="Water temperature", unit="°C", colour="#1f5fa8"))
    if sum(v is not None for _, v in power) >= 2:
        charts.append(
            svg_chart(power, title="Power drawn from the mains", unit="W", colour="#b3541e")
        )
    return charts


# --------------------------------------------------------------------------- assembling


def _warranty_lines(
    unit: Unit | None, on: date, part_lines: Sequence[PartLine], terms: WarrantyTerms
) -> list[str]:
    if unit is None:
        return ["warranty unknown: the unit is not registered (no purchase date on file)"]
    if part_lines:
        return [f"{part.number} {part.name}: {part.warranty}" for part in part_lines]
    return [
        f"{part_class} parts: "
        + explain(unit.purchase_date, part_class, unit.original_owner, on, terms)[1]
        for part_class in PART_CLASSES
    ]


def _part_lines(store: Store, order: Order, unit: Unit, terms: WarrantyTerms) -> list[PartLine]:
    lines = []
    on = order.opened_at.astimezone().date()
    for replaced in store.parts(order.id):
        part = PARTS[replaced.part_number]
        covered, warranty = explain(
            unit.purchase_date, part.part_class, unit.original_owner, on, terms
        )
        lines.append(
            PartLine(part.number, part.name, part.official, replaced.quantity, warranty, covered)
        )
    return lines


def _refs(store: Store, runs: Sequence[RunInfo]) -> list[RecordRef]:
    return [RecordRef(store.run_record(run.id), run.id, run.status) for run in runs]


def _unit_or_none(store: Store, serial: str) -> Unit | None:
    try:
        return store.unit(serial)
    except NotFound:
        return None


def order_report(
    store: Store,
    order_id: int,
    *,
    now: datetime | None = None,
    terms: WarrantyTerms = DEFAULT_TERMS,
) -> ReportData:
    """The report of a service order; its final run is the latest finished run of the order."""
    order = store.order(order_id)
    unit = store.unit(order.unit_serial)
    refs = _refs(store, store.runs_for_order(order_id))
    finished = [ref for ref in refs if ref.status in ("pass", "fail", "error")]
    final = finished[-1] if finished else None
    part_lines = _part_lines(store, order, unit, terms)
    found = findings([ref.record for ref in refs])
    if not found and final is not None and final.status == "pass" and not part_lines:
        found = ["The bench tests found no fault."]
    if not part_lines:
        suggestions = suggested_parts([ref.record for ref in refs])
        found += [f"Part to replace: {label}." for label in suggestions]
    return ReportData(
        title=f"Service report — order {order.id}",
        generated_at=now or utc_now(),
        unit_serial=unit.serial,
        unit_profile=unit.profile,
        unit_model=final.record.unit.model if final else "",
        owner=unit.owner,
        purchase_date=unit.purchase_date,
        order=order,
        timeline=store.timeline(order_id),
        symptom=order.symptom,
        findings=found,
        parts=part_lines,
        warranty=_warranty_lines(unit, order.opened_at.astimezone().date(), part_lines, terms),
        final=final,
        measurements=measurement_lines(final.record) if final else [],
        charts=trace_charts(final.record) if final else [],
        verdict=final.status if final else "none",
        technician=final.record.operator if final else order.opened_by,
        runs=refs,
    )


def run_report(
    store: Store,
    run_id: int,
    *,
    now: datetime | None = None,
    terms: WarrantyTerms = DEFAULT_TERMS,
) -> ReportData:
    """The report of one run, with its order's symptom when it belongs to one."""
    info = store.run(run_id)
    ref = RecordRef(store.run_record(run_id), run_id, info.status)
    record = ref.record
    unit = _unit_or_none(store, info.unit_serial)
    order = store.order(info.order_id) if info.order_id is not None else None
    found = findings([record])
    if not found and info.status == "pass":
        found = ["The bench tests found no fault."]
    found += [f"Part to replace: {label}." for label in suggested_parts([record])]
    return ReportData(
        title=f"Bench test report — run {run_id}",
        generated_at=now or utc_now(),
        unit_serial=info.unit_serial,
        unit_profile=unit.profile if unit else record.unit.profile,
        unit_model=record.unit.model,
        owner=unit.owner if unit else "",
        purchase_date=unit.purchase_date if unit else None,
        order=order,
        timeline=store.timeline(order.id) if order else [],
        symptom=order.symptom if order else None,
        findings=found,
        parts=[],
        warranty=_warranty_lines(unit, info.created_at.astimezone().date(), [], terms),
        final=ref,
        measurements=measurement_lines(record),
        charts=trace_charts(record),
        verdict=info.status,
        technician=record.operator,
        runs=[ref],
    )


# ----------------------------------------------------------------------------- render


def local_time(moment: datetime | str | None) -> str:
    """A time as the service centre's wall clock, to the minute; text that is not ISO 8601
    (a record from another tool) is shown as it is."""
    if moment is None:
        return "—"
    if isinstance(moment, str):
        try:
            parsed = datetime.fromisoformat(moment)
        except ValueError:
            return moment
        if parsed.tzinfo is None:
            return parsed.strftime("%Y-%m-%d %H:%M")
        moment = parsed
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


_HTML_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def html_text(value: Any) -> Any:
    """Every ``{{ ... }}`` value before escaping: control characters removed (NUL, ESC, C1;
    not tab or line breaks), since they are not allowed in HTML and a browser or a mail
    filter may cut the report at a NUL."""
    if isinstance(value, Markup):
        return Markup(_HTML_CONTROL.sub("", str(value)))
    if isinstance(value, str):
        return _HTML_CONTROL.sub("", value)
    return value


_ENV = Environment(
    loader=PackageLoader("bench.records", "templates"),
    autoescape=True,
    finalize=html_text,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["status_label"] = status_label
_ENV.filters["local"] = local_time


def render_html(data: ReportData) -> str:
    return _ENV.get_template("customer_report.html.j2").render(
        report=data, hash_rule=CANONICAL_JSON_RULE
    )
