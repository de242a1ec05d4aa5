"""The customer report (HTML) and the JSON/CSV exports, built from stored runs.

The page is read back parsed (:mod:`support.report_page`): page 1 is the summary a customer
reads, the appendix the measurements; what each says is compared with the stored record.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import math
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.records import (
    NOW,
    SERIAL,
    filter_pump_failure,
    passing_verification,
    register,
    store_run,
)
from support.report_page import parse

from bench.records import customer_report, exports
from bench.records.customer_report import (
    NOT_CONFIGURED,
    SIMULATED_VERIFICATION,
    cost_of,
    order_report,
    render_html,
    run_report,
)
from bench.records.database import to_db
from bench.records.exports import RecordRef, canonical_json, measurements_csv, record_sha256
from bench.records.migrations import MIGRATIONS
from bench.records.report_charts import nice_ticks, svg_chart
from bench.records.report_words import FAULT_SENTENCES, format_value
from bench.records.store import Store
from bench.records.workshop import Workshop
from bench.testing.record import TestRecord

SYMPTOM = "<script>alert('pwned')</script> Spa won't heat & pump is silent {{ 7*7 }}"
SVG = "{http://www.w3.org/2000/svg}"
LOGO_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf000000030101008d1a2a6e0000000049454e44ae426082"
)
SHOP = Workshop(
    name="Spa Service Nord GmbH",
    address="Hafenstr. 5\n20457 Hamburg",
    contact="+49 40 123456",
    currency="EUR",
    vat_percent=Decimal(19),
    vat_number="DE123456789",
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "records.sqlite3") as opened:
        register(opened)
        yield opened


def repaired_order(store: Store, *, verification: TestRecord | None = None) -> int:
    """Intake → failed diagnosis run → pump fitted → passing verification → verified.

    The intake, statuses and the part carry fixed times between the runs' own start times
    (the verification run starts after the part was fitted); verified is marked now."""
    order_id = store.open_order(
        SERIAL,
        SYMPTOM,
        agreement="repair",
        quote_cents=18900,
        promised=date(2026, 3, 27),
        by="desk",
        now=NOW,
    )
    store_run(store, filter_pump_failure(), order_id)
    store.set_status(order_id, "diagnosed", by="Ada Tech", now=NOW + timedelta(hours=1))
    # the diagnosis run started 09:00 on the 20th, the verification 10:00 on the 21st
    store.add_part(order_id, "B9300929", by="Ada Tech", now=NOW + timedelta(hours=5))
    store.set_status(order_id, "repaired", by="Ada Tech", now=NOW + timedelta(hours=6))
    verifying = verification or passing_verification()
    store_run(store, verifying, order_id)
    if verifying.verdict == "pass":
        store.set_status(order_id, "verified", by="Ada Tech", allow_simulated=verifying.simulated)
    return order_id


def page_of(store: Store, order_id: int, workshop: Workshop = SHOP) -> str:
    return render_html(order_report(store, order_id, workshop=workshop))


def test_the_symptom_stays_text(store: Store) -> None:
    html = page_of(store, repaired_order(store))
    assert "<script" not in html
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in html
    assert "{{ 7*7 }}" in html
    assert SYMPTOM in parse(html).element("symptom").text()


def test_the_report_is_self_contained(store: Store, tmp_path: Path) -> None:
    logo = tmp_path / "logo.png"
    logo.write_bytes(LOGO_PNG)
    html = page_of(store, repaired_order(store), replace(SHOP, logo=logo))
    page = parse(html)
    for external in ("<link", "<script", "href=", "url(", "@import", "<iframe"):
        assert external not in html
    sources = [e.attrs["src"] for e in page.root.find_all(lambda e: "src" in e.attrs)]
    assert sources == ["data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJ"
                       "AAAADUlEQVR4nGNg+M8AAAADAQEAjRoqbgAAAABJRU5ErkJggg=="]  # fmt: skip
    assert page.page1.find_all(lambda e: e.tag == "img")  # the logo is on page 1


def test_page_one_names_the_workshop_or_says_it_is_not_configured(store: Store) -> None:
    order_id = repaired_order(store)
    shop = parse(page_of(store, order_id)).element("workshop").text()
    for fact in ("Spa Service Nord GmbH", "Hafenstr. 5", "20457 Hamburg", "+49 40 123456",
                 "VAT number DE123456789"):  # fmt: skip
        assert fact in shop
    bare = parse(page_of(store, order_id, Workshop())).element("workshop").text()
    assert bare == NOT_CONFIGURED


def test_page_one_tells_the_customer_what_happened(store: Store) -> None:
    order_id = repaired_order(store)
    page = parse(page_of(store, order_id))
    first = page.page1.text()
    assert FAULT_SENTENCES["filter-pump-dead"] in page.element("found").text()
    assert "the pump that circulates and filters water — B9300929 filter pump" in first
    (row,) = page.element("replaced").find_all(lambda e: e.attrs.get("data-part") == "B9300929")
    assert row.attrs["data-quantity"] == "1"
    assert "Found by the test “full”" in row.text() and "(run 1)" in row.text()
    assert "in warranty until 2026-06-01: electrical part, original owner" in row.text()
    assert "EUR 189.00 + 19 % VAT EUR 35.91 = EUR 224.91" in page.element("cost").text()
    assert page.element("agreed-work").text() == "repair"
    assert page.verdict.attrs["data-verdict"] == "verified"
    assert page.verdict.attrs["data-run"] == "2"
    assert "VERIFIED" in page.verdict.text()
    signatures = page.element("signatures").text()
    assert "Technician: Ada Tech" in signatures and "Customer: Jo Customer" in signatures
    # a real bench's run is never called simulated
    assert "SIMULATED" not in page.root.text()


def test_the_appendix_reads_as_plain_words(store: Store) -> None:
    html = page_of(store, repaired_order(store))
    appendix = parse(html).appendix.text()
    assert "Filter pump power: 62 W (expected 40–80 W) — pass" in appendix
    assert "Standby power: 2.1 W (expected 0.5–5 W) — pass" in appendix
    assert "The control box answered the bench: yes (expected yes) — pass" in appendix
    assert "Filter pump power: 0.4 W (expected 40–80 W) — FAIL" in appendix
    assert "Heater — not tested" in appendix
    for jargon in ("= True", "recorded only", "(internal code)", "SB-"):
        assert jargon not in html
    # the hashing rule lives only in the technical footer
    assert "json.dumps(" not in parse(html).page1.text()
    assert "json.dumps(" in parse(html).element("technical").text()


def test_the_printed_hashes_are_the_canonical_hashes_of_the_stored_records(
    store: Store,
) -> None:
    order_id = repaired_order(store)
    footer = parse(page_of(store, order_id)).element("technical").text()
    for run, record in zip(
        store.runs_for_order(order_id), (filter_pump_failure(), passing_verification()), strict=True
    ):
        expected = hashlib.sha256(
            json.dumps(
                record.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
            ).encode("utf-8")
        ).hexdigest()
        assert expected == run.sha256
        assert f"run {run.id}, record {record.record_id}: SHA-256 {expected}" in footer
    assert "sort_keys=True" in footer and "UTF-8" in footer


def test_the_verification_charts_draw_every_sample(store: Store) -> None:
    page = parse(page_of(store, repaired_order(store)))
    charts = page.charts(page.element("verification"))
    assert [chart.attrs["aria-label"] for chart in charts] == [
        "Water temperature",
        "Power drawn from the mains",
    ]
    trace = passing_verification().trace
    water, power = charts
    assert page.sample_values(water) == [s.water_c for s in trace]
    assert page.sample_values(power) == [s.power_w for s in trace]
    assert page.sample_times(water) == [s.t for s in trace]


def test_a_pass_before_the_part_was_fitted_is_no_verification(store: Store) -> None:
    order_id = store.open_order(SERIAL, "pump silent", agreement="repair", now=NOW)
    store_run(store, passing_verification(), order_id)
    store.add_part(order_id, "B9300929", by="Ada Tech")
    page = parse(page_of(store, order_id))
    assert page.verdict.attrs["data-verdict"] == "not-verified"
    assert "no verification after the repair" in page.verdict.text()
    assert "passed the" not in page.element("verification").text()
    assert page.charts(page.element("verification")) == []


def test_a_pass_the_order_rules_did_not_accept_is_no_verification(store: Store) -> None:
    """A smoke test after the new pump passed, but it never checks the pump: the order is
    not verified, and page 1 must not say the repaired unit was shown working."""
    order_id = store.open_order(SERIAL, "pump silent", agreement="repair", now=NOW)
    store.set_status(order_id, "diagnosed", now=NOW + timedelta(minutes=30))
    store.add_part(order_id, "B9300929", by="Ada Tech", now=NOW + timedelta(hours=1))
    store.set_status(order_id, "repaired", now=NOW + timedelta(hours=2))
    store_run(store, replace(passing_verification(), plan="smoke"), order_id)
    with pytest.raises(ValueError, match="no passing verify-filter-pump or full run"):
        store.set_status(order_id, "verified")
    page = parse(page_of(store, order_id))
    assert page.verdict.attrs["data-verdict"] == "not-verified"
    assert "passed the" not in page.element("verification").text()


def test_parts_beyond_a_diagnosis_only_agreement_are_flagged(tmp_path: Path) -> None:
    """The store refuses such a part since records schema 3, but a file an older spabench
    wrote may hold one: the report must not hide it."""
    path = tmp_path / "old.sqlite3"
    with Store(path, migrations=MIGRATIONS[:2]) as old:
        register(old)
        old._conn.execute(
            "INSERT INTO orders (unit_serial, opened_at, symptom, agreement, status_at)"
            " VALUES (?, ?, 'pump silent', 'diagnosis', ?)",
            (SERIAL, to_db(NOW), to_db(NOW)),
        )
        old._conn.execute(
            "INSERT INTO parts_replaced (order_id, part_number, quantity, at, by)"
            " VALUES (1, 'B9300929', 1, ?, 'Ada Tech')",
            (to_db(NOW + timedelta(hours=1)),),
        )
    with Store(path) as store:
        order_id = 1
        page = parse(page_of(store, order_id))
    assert page.element("agreed-work").text() == "diagnosis only"
    assert "no repair agreement is on file" in page.element("agreement-warning").text()


def test_a_simulated_verification_says_so_on_page_one(store: Store) -> None:
    simulated = replace(passing_verification(), simulated=True, operator="virtual", station="vm")
    page = parse(page_of(store, repaired_order(store, verification=simulated)))
    first = page.page1.text()
    assert SIMULATED_VERIFICATION in page.element("simulated-notice").text()
    assert "SIMULATED UNIT" in page.verdict.text()
    assert page.verdict.attrs["data-simulated"] == "yes"
    (run,) = page.appendix.find_all(lambda e: e.attrs.get("data-run") == "2")
    assert run.attrs["data-simulated"] == "yes" and "SIMULATED UNIT" in run.text()
    everything = page.root.text()
    assert "Technician: Ada Tech" in first  # the person, never the virtual operator
    assert "virtual" not in everything.replace("simulated operator", "")
    assert "bench vm" not in everything and "bench: vm" not in everything


def test_a_second_owner_sees_why_the_pump_is_not_covered(store: Store) -> None:
    store.add_unit("USED-1", "premium-4", date(2025, 12, 1), original_owner=False, now=NOW)
    order_id = store.open_order("USED-1", "pump silent", agreement="repair", now=NOW)
    store.add_part(order_id, "B9300929", now=NOW)
    html = page_of(store, order_id)
    assert (
        "out of warranty: not the original owner "
        "(electrical parts are covered for the original owner only)" in parse(html).page1.text()
    )


def test_an_order_without_tests_or_parts(store: Store) -> None:
    order_id = store.open_order(SERIAL, "bubbles stop", now=NOW)
    data = order_report(store, order_id, workshop=SHOP)
    assert data.warranty == [
        "electrical parts: in warranty until 2026-06-01: electrical part, original owner",
        "non-electrical parts: out of warranty since 2025-12-02: non-electrical part, "
        "covered 6 months from purchase (2025-06-01)",
    ]
    page = parse(render_html(data))
    assert page.element("nothing-replaced").text() == "No parts were replaced."
    assert page.verdict.attrs["data-verdict"] == "untested"
    assert "NOT TESTED YET" in page.verdict.text()
    assert "No quote is recorded on this order." in page.element("cost").text()
    assert page.charts() == []


def test_a_failed_run_report_names_the_part_and_the_failed_limits(store: Store) -> None:
    run_id = store_run(store, filter_pump_failure())
    data = run_report(store, run_id, workshop=SHOP)
    assert [finding.text for finding in data.findings] == [
        FAULT_SENTENCES["filter-pump-dead"],
        "Part to replace: B9300929 filter pump.",
    ]
    page = parse(render_html(data))
    assert page.verdict.attrs["data-verdict"] == "fail"
    assert "FAIL — the unit did not pass the test “full”" in page.verdict.text()
    appendix = page.appendix.text()
    assert "Filter pump power: 0.4 W (expected 40–80 W) — FAIL" in appendix
    assert page.root.by_id("symptom") is None  # not part of an order


def test_a_run_report_of_an_order_run_makes_no_claim_about_the_order(store: Store) -> None:
    """One run's report does not say "No parts were replaced" on an order that has parts,
    and a simulated diagnosis is a simulated *test*, not a verification."""
    simulated = replace(filter_pump_failure(), simulated=True, operator="virtual", station="vm")
    order_id = store.open_order(SERIAL, "pump silent", agreement="repair", now=NOW)
    run_id = store_run(store, simulated, order_id)
    store.add_part(order_id, "B9300929", by="Ada Tech")
    page = parse(render_html(run_report(store, run_id, workshop=SHOP)))
    assert page.root.by_id("replaced-section") is None
    assert "No parts were replaced" not in page.root.text()
    notice = page.element("simulated-notice").text()
    assert customer_report.SIMULATED_TEST in notice and "verification" not in notice
    assert page.verdict.attrs["data-verdict"] == "fail"


BEGIN_AND_DIE = """
import os, sys
sys.path.insert(0, sys.argv[2])
from support.records import filter_pump_failure, started
from bench.records.store import Store
record = filter_pump_failure()
store = Store(sys.argv[1])
run_id = store.begin_run(started(record))
store.add_step(run_id, record.steps[0])
os._exit(0)  # the bench process ends without finishing the run
"""


def test_an_interrupted_run_report_says_so(store: Store) -> None:
    subprocess.run(
        [sys.executable, "-c", BEGIN_AND_DIE, str(store.path), str(Path(__file__).parent)],
        check=True,
        timeout=60,
    )
    (run,) = store.runs_for_unit(SERIAL)
    data = run_report(store, run.id)
    assert data.verdict == "interrupted"
    page = parse(render_html(data))
    assert "INTERRUPTED" in page.verdict.text()
    assert "interrupted before it finished" in page.appendix.text()
    (measurements,) = page.appendix.by_class("measurements", "ul")
    assert len(measurements.find_all(lambda e: e.tag == "li")) == 3


def test_unknown_suspects_fall_back_to_the_reason() -> None:
    record = filter_pump_failure()
    record.suspected_parts[0].fault_id = "new-fault-2027"
    record.suspected_parts[0].reason = "pump hums but does not turn"
    run = customer_report.RunView(1, record, "fail", None)
    assert [f.text for f in customer_report.findings([run], SHOP)] == [
        "The bench tests point to the pump that circulates and filters water: "
        "pump hums but does not turn."
    ]


# -------------------------------------------------------------------------------- cost


def test_the_cost_states_currency_and_vat(store: Store) -> None:
    order_id = store.open_order(SERIAL, "pump silent", quote_cents=8950, now=NOW)
    order = store.order(order_id)
    assert cost_of(order, SHOP).text == "EUR 89.50 + 19 % VAT EUR 17.01 = EUR 106.51"
    included = cost_of(order, replace(SHOP, prices_include_vat=True))
    assert included.text == "EUR 89.50, including 19 % VAT (EUR 14.29)"
    assert (included.net_cents, included.vat_cents, included.gross_cents) == (7521, 1429, 8950)
    assert cost_of(order, replace(SHOP, vat_percent=None)).text == (
        "EUR 89.50 (VAT rate not configured — see spabench workshop)"
    )
    assert cost_of(order, Workshop()).text == (
        "89.50 (currency not configured — see spabench workshop) "
        "(VAT rate not configured — see spabench workshop)"
    )


def test_a_currency_without_minor_units_is_stated_in_whole_units(store: Store) -> None:
    """Yen and won have no cents: "JPY 89,500.00" is not how a price is written, and the
    VAT is a whole number of yen that adds up to the total."""
    order = store.order(store.open_order(SERIAL, "pump silent", quote_cents=8_950_000, now=NOW))
    yen = replace(SHOP, currency="JPY", vat_percent=Decimal(10))
    assert cost_of(order, yen).text == "JPY 89,500 + 10 % VAT JPY 8,950 = JPY 98,450"
    odd = store.order(store.open_order(SERIAL, "pump silent", quote_cents=1_234_500, now=NOW))
    cost = cost_of(odd, replace(yen, currency="KRW", vat_percent=Decimal(19)))
    assert cost.text == "KRW 12,345 + 19 % VAT KRW 2,346 = KRW 14,691"
    assert (cost.net_cents, cost.vat_cents, cost.gross_cents) == (1_234_500, 234_600, 1_469_100)
    included = cost_of(odd, replace(yen, vat_percent=Decimal(19), prices_include_vat=True))
    assert included.text == "JPY 12,345, including 19 % VAT (JPY 1,971)"
    assert SHOP.money(-8950) == "EUR -89.50"


# ------------------------------------------------------------------------------ charts


def test_a_gap_in_the_trace_breaks_the_line() -> None:
    chart = ET.fromstring(
        svg_chart([(0, 20.0), (10, 21.0), (20, None), (30, 22.0), (40, 23.0)], title="T", unit="C")
    )
    assert len(list(chart.iter(f"{SVG}polyline"))) == 2
    assert len([c for c in chart.iter(f"{SVG}circle") if c.get("class") == "sample"]) == 4


def test_chart_labels_are_escaped_and_short_traces_refused() -> None:
    chart = str(svg_chart([(0, 1.0), (1, 2.0)], title="<b>x</b>", unit="&"))
    assert "<b>" not in chart and "&lt;b&gt;x&lt;/b&gt;" in chart
    with pytest.raises(ValueError, match="two readings"):
        svg_chart([(0, 1.0), (1, None)], title="T", unit="C")


@given(
    st.floats(-1e6, 1e6, allow_nan=False),
    st.floats(0, 1e6, allow_nan=False),
)
def test_nice_ticks_cover_the_range_in_even_round_steps(low: float, span: float) -> None:
    high = low + span
    ticks = nice_ticks(low, high)
    assert ticks[0] <= low and ticks[-1] >= high
    assert 2 <= len(ticks) <= 12
    step = ticks[1] - ticks[0]
    assert all(math.isclose(b - a, step, rel_tol=1e-6) for a, b in itertools.pairwise(ticks))
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert any(math.isclose(mantissa, m, rel_tol=1e-6) for m in (1, 2, 5, 10))


def test_values_are_written_for_people() -> None:
    assert format_value(62.0, "W") == "62 W"
    assert format_value(1499.2, "W") == "1,499.2 W"
    assert format_value(0.33333, "°C") == "0.33 °C"
    assert format_value(1.0, "1/s") == "1 per second"
    assert format_value(True) == "yes"
    assert format_value(None, "W") == "—"
    assert format_value(float("nan")) == "invalid"


# ----------------------------------------------------------------------------- exports


def test_the_json_facts_say_what_the_page_says(store: Store) -> None:
    simulated = replace(passing_verification(), simulated=True, operator="virtual", station="vm")
    data = order_report(store, repaired_order(store, verification=simulated), workshop=SHOP)
    facts = json.loads(exports.dumps(customer_report.report_facts(data)))
    assert facts["workshop"]["name"] == "Spa Service Nord GmbH"
    summary = facts["summary"]
    assert summary["found"][0]["text"] == FAULT_SENTENCES["filter-pump-dead"]
    assert [p["label"] for p in summary["replaced"]] == ["B9300929 filter pump"]
    assert summary["replaced"][0]["pointed_to_by_run"] == 1
    assert summary["cost"]["text"] == "EUR 189.00 + 19 % VAT EUR 35.91 = EUR 224.91"
    assert summary["cost"]["currency"] == "EUR" and summary["cost"]["gross_cents"] == 22491
    verification = summary["verification"]
    assert verification["verdict"] == "verified" and verification["simulated"] is True
    assert verification["notice"] == SIMULATED_VERIFICATION
    assert verification["run"]["run_id"] == 2
    appendix = facts["appendix"]
    assert [run["simulated"] for run in appendix] == [False, True]
    assert appendix[1]["tested_by"] == "simulated operator (no person at a bench)"
    texts = [m["text"] for step in appendix[0]["steps"] for m in step["measurements"]]
    assert "Filter pump power: 0.4 W (expected 40–80 W) — FAIL" in texts


def test_csv_has_one_row_per_measurement() -> None:
    records = [filter_pump_failure(), passing_verification()]
    text = measurements_csv([RecordRef(record, index) for index, record in enumerate(records)])
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == sum(len(s.measurements) for r in records for s in r.steps) == 13
    pump = next(r for r in rows if r["measurement"] == "pump_w" and r["run_id"] == "0")
    assert pump == pump | {
        "record_id": "rec-fail-0001",
        "unit_serial": SERIAL,
        "step": "filter-pump",
        "value": "0.4",
        "unit": "W",
        "low": "40.0",
        "high": "80.0",
        "limits": "40–80 W",
        "outcome": "fail",
        "run_status": "fail",
    }
    heater = next(r for r in rows if r["measurement"] == "heater_w" and r["run_id"] == "0")
    assert (heater["value"], heater["outcome"]) == ("", "unset")


def test_json_export_holds_the_whole_record_and_its_hash() -> None:
    record = filter_pump_failure()
    exported = json.loads(exports.dumps(exports.run_json(RecordRef(record, 5, "fail"))))
    assert exported["run_id"] == 5
    assert exported["sha256"] == record_sha256(record)
    back = TestRecord.from_dict(exported["record"])
    assert back == record
    assert len(back.frames) == 7
    assert canonical_json(back) == canonical_json(record)


def test_write_text_replaces_atomically(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.write_text("old")
    exports.write_text(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
