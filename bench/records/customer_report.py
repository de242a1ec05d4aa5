"""The customer report: one self-contained HTML document a spa owner reads, and its facts as
JSON.

Page 1 is everything the customer came for, from a named business: the workshop (name,
address, contact, logo, VAT number — :mod:`bench.records.workshop`), their unit, their symptom
in their own words, what was found (plain sentences, not fault ids), what was replaced and
why, the warranty decision, the cost with its currency and VAT, the verification that shows
the unit working (with its chart drawn from every sample) and lines to sign. The measurements,
in plain words with units and limits, are the appendix after a page break; the record hashes
a small technical footer.

The page must never contradict the record, so every statement is derived here from the
stored facts, once, and both the HTML and the JSON (:func:`report_facts`) are rendered from
the same :class:`ReportData`:

* the *verification* is the passing run the order's ``verified`` status names (started after
  the last part was fitted); when there is none the page says "NOT VERIFIED" — never an older
  pass, nor a pass that nobody marked as the verification (:func:`verification_of_order`);
* a run on a simulated unit (``TestRecord.simulated``) is labelled "SIMULATED UNIT" wherever
  it appears, and a simulated verification says so on page 1;
* agreed work is shown as recorded, and a part recorded beyond it is flagged, not hidden.

Self-contained on purpose: the page is e-mailed, archived and printed years later, so it has
no external assets (CSS inline, the logo a data URI, charts inline SVG). Jinja2 autoescaping
is on: the symptom is typed by a person and must stay text.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from bench.records.database import NotFound, utc_now
from bench.records.display import display_date, display_time
from bench.records.exports import CANONICAL_JSON_RULE, RecordRef, record_sha256
from bench.records.order_records import (
    AgreementChange,
    Contact,
    OrderEvent,
    PartReplaced,
    StatusChange,
    Terms,
)
from bench.records.orders import Order, status_label
from bench.records.report_charts import Chart, run_charts
from bench.records.report_words import (
    FAULT_SENTENCES,
    SIMULATED_LABEL,
    StepLines,
    step_lines,
    where_tested,
    who_tested,
)
from bench.records.run_records import RunInfo
from bench.records.store import Store
from bench.records.unit_records import Unit
from bench.records.verification import run_started
from bench.records.warranty import DEFAULT_TERMS, WarrantyTerms, explain
from bench.records.workshop import Workshop, part_label
from bench.testing.record import TestRecord
from protocols.mspa.parts import PART_CLASSES, Part, UnknownPart, lookup, parts_for_fault

NOT_CONFIGURED = "workshop details not configured — see spabench workshop"
SIMULATED_VERIFICATION = (
    "This verification was made on a SIMULATED unit, not on your spa's control box."
)
SIMULATED_TEST = "This test was made on a SIMULATED unit, not on your spa's control box."
NO_VERIFICATION = "no verification after the repair"
MAX_LOGO_BYTES = 512 * 1024
LOGO_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
    ".webp": "image/webp",
}
FINISHED = ("pass", "fail", "error")


# ------------------------------------------------------------------------------ views


@dataclass(frozen=True)
class WorkshopView:
    """The workshop as page 1 prints it."""

    configured: bool
    name: str
    address_lines: tuple[str, ...]
    contact: str
    vat_number: str
    logo_uri: str | None
    logo_problem: str | None
    """Why a configured logo is not shown (the CLI warns); None when fine or none."""


def logo_data_uri(path: Path | None) -> tuple[str | None, str | None]:
    """``(data URI, None)`` for a readable image ≤ 512 KiB, ``(None, why)`` otherwise."""
    if path is None:
        return None, None
    kind = LOGO_TYPES.get(path.suffix.lower())
    if kind is None:
        return None, f"logo {path}: not a PNG, JPEG, GIF, SVG or WebP file"
    try:
        data = path.read_bytes()
    except OSError as error:
        return None, f"logo {path}: {error.strerror or error}"
    if len(data) > MAX_LOGO_BYTES:
        return None, f"logo {path}: larger than {MAX_LOGO_BYTES // 1024} KiB"
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}", None


def workshop_view(workshop: Workshop) -> WorkshopView:
    uri, problem = logo_data_uri(workshop.logo)
    return WorkshopView(
        configured=workshop.configured,
        name=workshop.name,
        address_lines=tuple(line.strip() for line in workshop.address.splitlines() if line),
        contact=workshop.contact,
        vat_number=workshop.vat_number,
        logo_uri=uri,
        logo_problem=problem,
    )


@dataclass(frozen=True)
class RunView:
    """A stored run as the report names it."""

    run_id: int | None
    record: TestRecord
    status: str
    created_at: datetime | None
    """When the store began the run (None for a record not from the store)."""

    @property
    def simulated(self) -> bool:
        return self.record.simulated

    @property
    def plan(self) -> str:
        return self.record.plan

    @property
    def started(self) -> str:
        return display_time(self.record.started_at or self.created_at)

    @property
    def began(self) -> datetime | None:
        """When the test began, by the bench's own record (the order rules judge by it too);
        the store's time when the record has none."""
        began = run_started(self.record.started_at) if self.record.started_at else None
        return began or self.created_at

    @property
    def operator(self) -> str:
        return who_tested(self.record)

    @property
    def station(self) -> str:
        return where_tested(self.record)

    @property
    def sha256(self) -> str:
        return record_sha256(self.record)

    @property
    def name(self) -> str:
        """``test “full” on 2026-03-20 10:00 CET (run 2)``, with the simulated label."""
        run = f" (run {self.run_id})" if self.run_id is not None else ""
        label = f", {SIMULATED_LABEL}" if self.simulated else ""
        return f"test “{self.plan}” on {self.started}{run}{label}"

    @property
    def steps(self) -> list[StepLines]:
        return step_lines(self.record)

    @property
    def status_text(self) -> str:
        return RUN_STATUS_WORDS.get(self.status, self.status)


RUN_STATUS_WORDS: dict[str, str] = {
    "pass": "passed",
    "fail": "failed",
    "error": "not completed (equipment or connection problem; says nothing about the unit)",
    "interrupted": "interrupted before it finished",
    "running": "still running",
}


@dataclass(frozen=True)
class UnitView:
    serial: str
    model: str
    purchase_date: date | None
    owner: str
    original_owner: bool | None

    @property
    def purchased(self) -> str:
        return display_date(self.purchase_date, empty="not on file")


@dataclass(frozen=True)
class Finding:
    """Something a failed bench test found, in words, with the part it points to."""

    text: str
    parts: tuple[str, ...]
    """``"the pump that circulates and filters water — B9300929 filter pump"``."""
    run: RunView | None


@dataclass(frozen=True)
class ReplacedPart:
    number: str
    label: str
    plain: str
    official: bool
    quantity: int
    fitted_at: datetime
    by: str
    why: str
    run: RunView | None
    """The failed run that pointed to this part, if any."""
    warranty: str
    covered: bool | None


@dataclass(frozen=True)
class Cost:
    """The order's quote in the workshop's currency, with the VAT stated."""

    quote_cents: int | None
    currency: str
    vat_percent: Decimal | None
    prices_include_vat: bool
    net_cents: int | None
    vat_cents: int | None
    gross_cents: int | None
    text: str


@dataclass(frozen=True)
class Verification:
    """Page 1's answer to "does it work now?"."""

    verdict: str
    """``verified`` | ``not-verified`` | ``fail`` | ``error`` | ``interrupted`` |
    ``running`` | ``untested``."""
    headline: str
    detail: str
    run: RunView | None
    """The run that shows it (the verification, or for a fail the failing run)."""
    charts: list[Chart] = field(default_factory=list)
    verified_by: RunView | None = None
    """The run the order's ``verified`` status names (as ``order show`` says), kept when a
    later failing run overturned it."""

    @property
    def simulated(self) -> bool:
        return self.run is not None and self.run.simulated

    @property
    def simulated_notice(self) -> str:
        """Page 1's warning when the run shown was on a simulated unit ("" when real)."""
        if not self.simulated:
            return ""
        verification = self.verdict == "verified" and self.verified_by is not None
        return SIMULATED_VERIFICATION if verification else SIMULATED_TEST


@dataclass
class ReportData:
    """Everything the page and the JSON show, already in customer words."""

    title: str
    kind: str
    """``order`` (a service order's report) or ``run`` (one run's)."""
    generated_at: datetime
    workshop: WorkshopView
    unit: UnitView
    order: Order | None
    symptom: str | None
    findings: list[Finding]
    replaced: list[ReplacedPart]
    agreement_warning: str
    warranty: list[str]
    cost: Cost | None
    verification: Verification
    technician: str
    customer: str
    runs: list[RunView]
    timeline: list[StatusChange] = field(default_factory=list)
    contacts: list[Contact] = field(default_factory=list)
    money_note: str = ""
    history: list[OrderEvent] = field(default_factory=list)
    """The order's whole timeline (:func:`order_history`), as ``order show`` tells it."""
    agreement_changes: list[AgreementChange] = field(default_factory=list)
    agreement_words: dict[int, tuple[str, str]] = field(default_factory=dict)
    """Agreement change id → (terms before, terms after) in the workshop's words."""

    # -- for the CLI's summary line and older JSON keys -------------------------------------

    @property
    def final(self) -> RunView | None:
        """The latest finished run (pass, fail or error), whatever it shows."""
        finished = [run for run in self.runs if run.status in FINISHED]
        return finished[-1] if finished else None

    @property
    def refs(self) -> list[RecordRef]:
        return [RecordRef(run.record, run.run_id, run.status) for run in self.runs]

    @property
    def verdict(self) -> str:
        return self.verification.verdict

    @property
    def any_simulated(self) -> bool:
        return any(run.simulated for run in self.runs)

    @property
    def agreement_text(self) -> str:
        if self.order is None:
            return ""
        return "repair" if self.order.agreement == "repair" else "diagnosis only"

    @property
    def agreed_how(self) -> str:
        """How the agreement in force was made, when it was amended: ``by email on
        2026-03-20 10:00 CET (before: diagnosis only): “pump replacement agreed”``."""
        if not self.agreement_changes:
            return ""
        last = self.agreement_changes[-1]
        before = self.agreement_words.get(last.id, (last.before.text, ""))[0]
        said = f": “{last.note}”" if last.note else ""
        return f"by {last.via} on {display_time(last.at)} (before: {before}){said}"


# --------------------------------------------------------------------------- findings


def _part(number: str) -> Part | None:
    try:
        return lookup(number)
    except UnknownPart:
        return None


def _part_words(part: Part, workshop: Workshop) -> str:
    return f"{part.plain} — {part_label(part, workshop)}"


def findings(runs: Sequence[RunView], workshop: Workshop) -> list[Finding]:
    """What the failed runs found, once each in the order found: the fault in a sentence and
    the suspected parts' plain description with their label."""
    found: list[Finding] = []
    seen: set[str] = set()

    def add(text: str, parts: Sequence[Part], run: RunView) -> None:
        if text in seen:  # found again by a later run: said once
            return
        seen.add(text)
        found.append(Finding(text, tuple(_part_words(p, workshop) for p in parts), run))

    for run in runs:
        record = run.record
        if run.status != "fail":
            continue
        concluded = False  # whether this run named a cause (said now or by an earlier run)
        for suspect in record.suspected_parts:
            parts = parts_for_fault(suspect.fault_id)
            named = _part(suspect.part_number)
            if named is not None and named not in parts:
                parts = (*parts, named)
            text = FAULT_SENTENCES.get(suspect.fault_id)
            if text is None:
                what = parts[0].plain if parts else suspect.name
                reason = f": {suspect.reason}" if suspect.reason else ""
                text = f"The bench tests point to {what}{reason}."
            add(text, parts, run)
            concluded = True
        # The diagnosis's conclusion is ``suspected_parts``; a step's own suspects are the
        # candidates it could not tell apart, shown only when the run concluded nothing.
        for step in [] if record.suspected_parts else record.steps:
            for fault_id in step.suspects:
                if fault_id in FAULT_SENTENCES:
                    add(FAULT_SENTENCES[fault_id], parts_for_fault(fault_id), run)
                    concluded = True
        if not concluded:
            failed = [s.title or s.name for s in record.steps if s.outcome == "fail"]
            where = f" at: {', '.join(failed)}" if failed else ""
            add(f"The bench test failed{where}; it could not name one part.", (), run)
    return found


def _why(part: Part, fitted: datetime, runs: Sequence[RunView]) -> tuple[str, RunView | None]:
    """Why ``part`` was fitted: the latest failed run before it whose findings point to it."""
    for run in reversed(runs):
        if run.status != "fail" or (run.began is not None and run.began > fitted):
            continue
        for suspect in run.record.suspected_parts:
            parts = parts_for_fault(suspect.fault_id)
            named = _part(suspect.part_number)
            if part in parts or named == part:
                sentence = FAULT_SENTENCES.get(suspect.fault_id) or (
                    suspect.reason or f"the bench tests pointed to the {part.name}"
                )
                return f"{sentence} Found by the {run.name}.", run
        for step in [] if run.record.suspected_parts else run.record.steps:
            if any(part in parts_for_fault(fault) for fault in step.suspects):
                return f"The {run.name} failed at “{step.title or step.name}”.", run
    return "No bench test on this order pointed to this part.", None


def _replaced(
    parts: Sequence[PartReplaced],
    unit: Unit,
    on: date,
    runs: Sequence[RunView],
    workshop: Workshop,
    terms: WarrantyTerms,
) -> list[ReplacedPart]:
    lines = []
    for replaced in parts:
        part = _part(replaced.part_number)
        if part is None:  # a part number this version no longer knows: shown as stored
            lines.append(
                ReplacedPart(
                    replaced.part_number,
                    replaced.part_number,
                    "",
                    False,
                    replaced.quantity,
                    replaced.at,
                    replaced.by,
                    "No bench test on this order pointed to this part.",
                    None,
                    "warranty unknown: the part is not in this version's catalogue",
                    None,
                )
            )
            continue
        covered, warranty = explain(
            unit.purchase_date, part.part_class, unit.original_owner, on, terms
        )
        why, run = _why(part, replaced.at, runs)
        lines.append(
            ReplacedPart(
                part.number,
                part_label(part, workshop),
                part.plain,
                part.official,
                replaced.quantity,
                replaced.at,
                replaced.by,
                why,
                run,
                warranty,
                covered,
            )
        )
    return lines


def _warranty_lines(
    unit: Unit | None, on: date, replaced: Sequence[ReplacedPart], terms: WarrantyTerms
) -> list[str]:
    if unit is None:
        return ["warranty unknown: the unit is not registered (no purchase date on file)"]
    if replaced:
        return [f"{part.label}: {part.warranty}" for part in replaced]
    return [
        f"{part_class} parts: "
        + explain(unit.purchase_date, part_class, unit.original_owner, on, terms)[1]
        for part_class in PART_CLASSES
    ]


def suggested_parts(runs: Sequence[RunView], workshop: Workshop) -> list[str]:
    """Labels of the parts the failed runs point to (for a report with nothing replaced)."""
    labels: list[str] = []
    for run in runs:
        if run.status != "fail":
            continue
        for suspect in run.record.suspected_parts:
            candidates = parts_for_fault(suspect.fault_id)
            named = _part(suspect.part_number)
            if not candidates and named is not None:
                candidates = (named,)
            if not candidates:
                label = f"{suspect.part_number} {suspect.name}".strip()
                if label not in labels:
                    labels.append(label)
            for part in candidates:
                label = part_label(part, workshop)
                if label not in labels:
                    labels.append(label)
    return labels


# ------------------------------------------------------------------------------- cost


def _cents(value: Decimal, step: int = 1) -> int:
    """``value`` (hundredths) rounded half up to a multiple of ``step`` (100: whole units)."""
    return int((value / step).quantize(Decimal(1), rounding=ROUND_HALF_UP)) * step


def _percent(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def cost_of(order: Order, workshop: Workshop) -> Cost:
    """The quote as a customer reads it: currency, and VAT added or included as configured."""
    quote = order.quote_cents
    vat = workshop.vat_percent
    if quote is None:
        return Cost(None, workshop.currency, vat, workshop.prices_include_vat, None, None, None,
                    "No quote is recorded on this order.")  # fmt: skip
    money = workshop.money
    missing = "" if workshop.currency else " (currency not configured — see spabench workshop)"
    if vat is None:
        text = f"{money(quote)}{missing} (VAT rate not configured — see spabench workshop)"
        return Cost(quote, workshop.currency, None, workshop.prices_include_vat, None, None,
                    None, text)  # fmt: skip
    rate = vat / Decimal(100)
    if workshop.prices_include_vat:
        gross = quote
        net = _cents(Decimal(quote) / (1 + rate), workshop.cents_step)
        vat_cents = gross - net
        text = f"{money(gross)}{missing}, including {_percent(vat)} % VAT ({money(vat_cents)})"
    else:
        net = quote
        vat_cents = _cents(Decimal(quote) * rate, workshop.cents_step)
        gross = net + vat_cents
        text = f"{money(net)}{missing} + {_percent(vat)} % VAT {money(vat_cents)} = {money(gross)}"
    return Cost(quote, workshop.currency, vat, workshop.prices_include_vat, net, vat_cents,
                gross, text)  # fmt: skip


# ----------------------------------------------------------------------- verification


def _charts(run: RunView) -> list[Chart]:
    return run_charts(run.record, width=480, height=170)


def verification_of_order(
    runs: Sequence[RunView],
    parts: Sequence[PartReplaced],
    verified_run_id: int | None = None,
    repaired_at: datetime | None = None,
) -> Verification:
    """What shows (or fails to show) that the unit works, from the order's runs and parts.

    One rule, with parts fitted or without (``order show`` follows the same record):

    * the order's own verification decides (``verified_run_id``: the run the store accepted
      when the order was marked verified, :meth:`OrderRecords.verification`, which checked the
      runs after the last part was fitted or after the repair) — unless a run filed after it
      failed: then page 1 says that later test FAILED, the verification no longer stands;
    * a repaired order (a part fitted, ``repaired_at`` recorded) without a verification is
      "not verified", even if some test passed after the repair (it may not have checked it);
    * an order never repaired: the latest run that ended decides (a fail: the fault stands;
      a pass with no failure before it: no fault found); a pass after a failure with nothing
      repaired is a test, not a verification (only ``verified`` in the timeline is one): "not
      verified", the pass shown as the latest test.
    """
    verifying = next((run for run in runs if run.run_id == verified_run_id), None)
    if verified_run_id is not None and verifying is not None:
        later = runs[runs.index(verifying) + 1 :]
        failed = [run for run in later if run.status == "fail"]
        if failed:
            run = failed[-1]
            return Verification(
                "fail",
                f"FAIL — a later test FAILED: the {run.name} failed after the unit was verified.",
                f"The unit had been verified by the {verifying.name}; that verification no "
                "longer stands: the unit must be repaired and verified again (see what we "
                "found).",
                run,
                _charts(run),
                verifying,
            )
        detail = ""
        unfinished = [run for run in later if run.status in ("error", "interrupted")]
        if unfinished:
            detail = (
                f"A later test, the {unfinished[-1].name}, was "
                f"{unfinished[-1].status_text}; it says nothing about the unit."
            )
        return Verification(
            "verified",
            f"VERIFIED — the unit passed the {verifying.name}, after the repair.",
            detail,
            verifying,
            _charts(verifying),
            verifying,
        )
    if parts or repaired_at is not None:
        if parts:
            since = max(part.at for part in parts)
            what = "the last part was fitted"
        else:
            assert repaired_at is not None
            since, what = repaired_at, "the repair was recorded"
        after = [run for run in runs if run.began is None or run.began > since]
        detail = f"The order has not been verified since {what} ({display_time(since)})."
        ended = [run for run in after if run.status != "running"]
        if ended:
            detail += f" The {ended[-1].name} {ended[-1].status_text}."
        return Verification("not-verified", f"NOT VERIFIED — {NO_VERIFICATION}.", detail, None)
    ended = [run for run in runs if run.status != "running"]
    if not ended:
        running = [run for run in runs if run.status == "running"]
        if running:
            return Verification(
                "running",
                f"IN PROGRESS — the {running[-1].name} has not finished yet.",
                "",
                None,
            )
        return Verification(
            "untested", "NOT TESTED YET — no bench test of this unit has finished.", "", None
        )
    latest = ended[-1]
    if latest.status == "pass" and any(run.status == "fail" for run in ended):
        # A fault was found and nothing was repaired: a later pass is a test, not a
        # verification (only ``verified`` in the timeline is one).
        return Verification(
            "not-verified",
            "NOT VERIFIED — no verification is recorded on this order.",
            f"The latest test, the {latest.name}, passed.",
            latest,
            _charts(latest),
        )
    return _verdict_of(latest)


def _verdict_of(run: RunView) -> Verification:
    if run.status == "pass":
        return Verification(
            "verified",
            f"PASS — the unit passed the {run.name}; no fault found.",
            "",
            run,
            _charts(run),
        )
    if run.status == "fail":
        return Verification(
            "fail",
            f"FAIL — the unit did not pass the {run.name} (see what we found).",
            "",
            run,
            _charts(run),
        )
    if run.status == "error":
        return Verification(
            "error",
            f"NOT COMPLETED — the {run.name} could not be completed (equipment or connection "
            "problem), so it says nothing about the unit.",
            "",
            run,
        )
    if run.status == "interrupted":
        return Verification(
            "interrupted",
            f"INTERRUPTED — the {run.name} was stopped before it finished.",
            "",
            run,
        )
    return Verification("running", f"IN PROGRESS — the {run.name} has not finished yet.", "", run)


# ---------------------------------------------------------------------------- history

_EVENT_ORDER = {"status": 0, "agreement": 1, "contact": 2, "part": 3, "note": 4}


def terms_words(terms: Terms, workshop: Workshop) -> str:
    """``diagnosis only`` / ``repair of B9300929 filter pump, quote EUR 89.50``: the agreed
    terms with the workshop's part labels and currency."""
    if terms.agreement != "repair":
        text = "diagnosis only"
    else:
        labels = [part_label(p, workshop) if (p := _part(n)) else n for n in terms.parts]
        text = "repair" + (f" of {', '.join(labels)}" if labels else "")
    if terms.quote_cents is not None:
        text += f", quote {workshop.money(terms.quote_cents)}"
    return text


def order_history(
    store: Store, order_id: int, changes: Sequence[AgreementChange], workshop: Workshop
) -> list[OrderEvent]:
    """Everything that happened to the order, oldest first, as ``order show`` tells it
    (:meth:`OrderRecords.events`: status changes, each customer contact with how it was made,
    agreement changes, parts fitted) — the agreement and the parts in the workshop's words.
    Free-text notes are the workshop's own and stay out of the customer's report."""
    kept = [e for e in store.events(order_id) if e.kind in ("status", "contact")]
    for change in changes:
        before, after = terms_words(change.before, workshop), terms_words(change.after, workshop)
        said = f" — {change.note}" if change.note else ""
        kept.append(
            OrderEvent(
                change.at,
                "agreement",
                change.by,
                f"agreement ({change.via}): {before} → {after}{said}",
            )
        )
    for fitted in store.parts(order_id):
        label = part_label(p, workshop) if (p := _part(fitted.part_number)) else fitted.part_number
        kept.append(
            OrderEvent(fitted.at, "part", fitted.by, f"part fitted: {fitted.quantity} × {label}")
        )
    return sorted(kept, key=lambda event: (event.at, _EVENT_ORDER[event.kind]))


# --------------------------------------------------------------------------- assembling


def _runs(store: Store, infos: Sequence[RunInfo]) -> list[RunView]:
    return [RunView(i.id, store.run_record(i.id), i.status, i.created_at) for i in infos]


def _unit_view(unit: Unit | None, serial: str, runs: Sequence[RunView]) -> UnitView:
    model = next((run.record.unit.model for run in reversed(runs) if run.record.unit.model), "")
    profile = unit.profile if unit else next((r.record.unit.profile for r in runs), "")
    if not model and profile:
        from protocols.mspa.models import load_model

        try:
            model = load_model(profile).model
        except Exception:  # a profile this version does not ship: its name is the best we have
            model = profile
    return UnitView(
        serial=serial,
        model=model,
        purchase_date=unit.purchase_date if unit else None,
        owner=unit.owner if unit else "",
        original_owner=unit.original_owner if unit else None,
    )


def _technician(timeline: Sequence[StatusChange], parts: Sequence[PartReplaced]) -> str:
    """The person who last moved the order or fitted a part (a run's virtual operator never)."""
    acts = [(c.at, c.by) for c in timeline] + [(p.at, p.by) for p in parts]
    named = [by for _, by in sorted(acts, key=lambda act: act[0]) if by.strip()]
    return named[-1] if named else ""


def order_report(
    store: Store,
    order_id: int,
    *,
    workshop: Workshop | None = None,
    now: datetime | None = None,
    terms: WarrantyTerms = DEFAULT_TERMS,
) -> ReportData:
    """The report of a service order (page 1 summary, appendix of every run)."""
    workshop = workshop or Workshop()
    order = store.order(order_id)
    unit = store.unit(order.unit_serial)
    runs = _runs(store, store.runs_for_order(order_id))
    parts = store.parts(order_id)
    intake = order.opened_at.astimezone().date()
    replaced = _replaced(parts, unit, intake, runs, workshop, terms)
    found = findings(runs, workshop)
    verified_by = store.verification(order_id)
    timeline = store.timeline(order_id)
    changes = store.agreement_changes(order_id)
    repaired = [change.at for change in timeline if change.status == "repaired"]
    verification = verification_of_order(
        runs,
        parts,
        None if verified_by is None else verified_by.id,
        repaired[-1] if repaired else None,
    )
    passed = [run for run in runs if run.status == "pass"]
    if not found and passed:
        found = [Finding("The bench tests found no fault.", (), passed[-1])]
    if not replaced:
        found += [
            Finding(f"Part to replace: {label}.", (), None)
            for label in suggested_parts(runs, workshop)
        ]
    warning = ""
    if replaced and order.agreement != "repair":
        warning = (
            "Parts are recorded on this order although the agreed work is a diagnosis only: "
            "no repair agreement is on file."
        )
    return ReportData(
        title=f"Service report — order {order.id}",
        kind="order",
        generated_at=now or utc_now(),
        workshop=workshop_view(workshop),
        unit=_unit_view(unit, unit.serial, runs),
        order=order,
        symptom=order.symptom,
        findings=found,
        replaced=replaced,
        agreement_warning=warning,
        warranty=_warranty_lines(unit, intake, replaced, terms),
        cost=cost_of(order, workshop),
        verification=verification,
        technician=_technician(timeline, parts),
        customer=unit.owner,
        runs=runs,
        timeline=timeline,
        contacts=store.contacts(order_id),
        history=order_history(store, order_id, changes, workshop),
        agreement_changes=changes,
        agreement_words={
            c.id: (terms_words(c.before, workshop), terms_words(c.after, workshop)) for c in changes
        },
    )


def run_report(
    store: Store,
    run_id: int,
    *,
    workshop: Workshop | None = None,
    now: datetime | None = None,
    terms: WarrantyTerms = DEFAULT_TERMS,
) -> ReportData:
    """The report of one run, with its order's symptom when it belongs to one."""
    workshop = workshop or Workshop()
    info = store.run(run_id)
    run = RunView(run_id, store.run_record(run_id), info.status, info.created_at)
    try:
        unit: Unit | None = store.unit(info.unit_serial)
    except NotFound:
        unit = None
    order = store.order(info.order_id) if info.order_id is not None else None
    changes = store.agreement_changes(order.id) if order else []
    found = findings([run], workshop)
    verification = _verdict_of(run)
    if not found and run.status == "pass":
        found = [Finding("The bench tests found no fault.", (), run)]
    found += [
        Finding(f"Part to replace: {label}.", (), None)
        for label in suggested_parts([run], workshop)
    ]
    return ReportData(
        title=f"Bench test report — run {run_id}",
        kind="run",
        generated_at=now or utc_now(),
        workshop=workshop_view(workshop),
        unit=_unit_view(unit, info.unit_serial, [run]),
        order=order,
        symptom=order.symptom if order else None,
        findings=found,
        replaced=[],
        agreement_warning="",
        warranty=_warranty_lines(unit, info.created_at.astimezone().date(), [], terms),
        cost=None,
        verification=verification,
        technician="" if run.simulated else run.record.operator,
        customer=unit.owner if unit else "",
        runs=[run],
        timeline=store.timeline(order.id) if order else [],
        contacts=store.contacts(order.id) if order else [],
        history=order_history(store, order.id, changes, workshop) if order else [],
        agreement_changes=changes,
        agreement_words={
            c.id: (terms_words(c.before, workshop), terms_words(c.after, workshop)) for c in changes
        },
    )


# -------------------------------------------------------------------------------- JSON


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _run_facts(run: RunView | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        "run_id": run.run_id,
        "record_id": run.record.record_id,
        "plan": run.plan,
        "status": run.status,
        "started_at": run.record.started_at or _iso(run.created_at),
        "simulated": run.simulated,
        "sha256": run.sha256,
    }


def report_facts(data: ReportData) -> dict[str, Any]:
    """The page's facts as JSON (machine formats: ISO 8601 UTC, cents): the workshop, page
    1's summary and the appendix — the same statements the HTML makes."""
    shop = data.workshop
    verification = data.verification
    cost = data.cost
    return {
        "workshop": {
            "configured": shop.configured,
            "name": shop.name,
            "address": list(shop.address_lines),
            "contact": shop.contact,
            "vat_number": shop.vat_number,
            "logo": shop.logo_uri is not None,
        },
        "summary": {
            "title": data.title,
            "kind": data.kind,
            "prepared_at": _iso(data.generated_at),
            "unit": {
                "serial": data.unit.serial,
                "model": data.unit.model,
                "purchase_date": None
                if data.unit.purchase_date is None
                else data.unit.purchase_date.isoformat(),
                "owner": data.unit.owner,
                "original_owner": data.unit.original_owner,
            },
            "symptom": data.symptom,
            "agreed_work": data.order.agreement if data.order else None,
            "agreement_warning": data.agreement_warning or None,
            "found": [
                {
                    "text": finding.text,
                    "parts": list(finding.parts),
                    "run_id": None if finding.run is None else finding.run.run_id,
                    "simulated": finding.run is not None and finding.run.simulated,
                }
                for finding in data.findings
            ],
            "replaced": [
                {
                    "part_number": part.number,
                    "label": part.label,
                    "official_number": part.official,
                    "quantity": part.quantity,
                    "fitted_at": _iso(part.fitted_at),
                    "why": part.why,
                    "pointed_to_by_run": None if part.run is None else part.run.run_id,
                    "warranty": part.warranty,
                    "covered": part.covered,
                }
                for part in data.replaced
            ],
            "warranty": data.warranty,
            "cost": None
            if cost is None
            else {
                "text": cost.text,
                "currency": cost.currency or None,
                "quote_cents": cost.quote_cents,
                "vat_percent": None if cost.vat_percent is None else str(cost.vat_percent),
                "prices_include_vat": cost.prices_include_vat,
                "net_cents": cost.net_cents,
                "vat_cents": cost.vat_cents,
                "gross_cents": cost.gross_cents,
            },
            "verification": {
                "verdict": verification.verdict,
                "headline": verification.headline,
                "detail": verification.detail or None,
                "simulated": verification.simulated,
                "notice": verification.simulated_notice or None,
                "run": _run_facts(verification.run),
                "verified_by_run": None
                if verification.verified_by is None
                else verification.verified_by.run_id,
                "charts": [
                    {
                        "title": chart.title,
                        "unit": chart.unit,
                        "samples": chart.samples,
                        "readings": [
                            {
                                "t": r.t,
                                "value": r.value,
                                "measured": r.measured,
                                "change": r.change is not None,
                                "label": r.label,
                                "step": r.step,
                            }
                            for r in chart.readings
                        ],
                    }
                    for chart in verification.charts
                ],
            },
            "agreed_how": data.agreed_how or None,
            "signatures": {"technician": data.technician, "customer": data.customer},
            "history": [
                {"at": _iso(event.at), "kind": event.kind, "by": event.by, "text": event.text}
                for event in data.history
            ],
        },
        "appendix": [
            {
                **(_run_facts(run) or {}),
                "tested_by": run.operator,
                "tested_at": run.station,
                "steps": [
                    {
                        "title": step.title,
                        "outcome": step.outcome,
                        "note": step.note or None,
                        "measurements": [
                            {
                                "text": line.text,
                                "name": line.name,
                                "value": line.value,
                                "expected": line.expected or None,
                                "outcome": line.outcome,
                            }
                            for line in step.measurements
                        ],
                    }
                    for step in run.steps
                ],
            }
            for run in data.runs
        ],
    }


# ----------------------------------------------------------------------------- render


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
_ENV.filters["local"] = display_time
_ENV.filters["day"] = display_date


def render_html(data: ReportData) -> str:
    return _ENV.get_template("customer_report.html.j2").render(
        report=data,
        hash_rule=CANONICAL_JSON_RULE,
        simulated_label=SIMULATED_LABEL,
        not_configured=NOT_CONFIGURED,
    )
