"""The customer report (HTML) and the JSON/CSV exports, built from stored runs."""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import math
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import date, timedelta
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

from bench.records import customer_report, exports
from bench.records.customer_report import (
    FAULT_SENTENCES,
    format_value,
    nice_ticks,
    order_report,
    render_html,
    run_report,
    svg_chart,
)
from bench.records.exports import RecordRef, canonical_json, measurements_csv, record_sha256
from bench.records.store import Store
from bench.testing.record import TestRecord

SYMPTOM = "<script>alert('pwned')</script> Spa won't heat & pump is silent {{ 7*7 }}"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "records.sqlite3") as opened:
        register(opened)
        yield opened


def repaired_order(store: Store) -> int:
    """Intake → failed diagnosis run → pump replaced → passing verification → verified."""
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
    store.add_part(order_id, "B9300929", by="Ada Tech", now=NOW + timedelta(hours=2))
    store.set_status(order_id, "repaired", by="Ada Tech", now=NOW + timedelta(hours=2))
    store_run(store, passing_verification(), order_id)
    store.set_status(order_id, "verified", by="Ada Tech", now=NOW + timedelta(hours=3))
    return order_id


def svgs(html: str) -> list[ET.Element]:
    return [ET.fromstring(text) for text in re.findall(r"<svg.*?</svg>", html, re.S)]


def test_the_symptom_stays_text(store: Store) -> None:
    html = render_html(order_report(store, repaired_order(store)))
    assert "<script" not in html
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in html
    assert "{{ 7*7 }}" in html


def test_the_report_is_self_contained(store: Store) -> None:
    html = render_html(order_report(store, repaired_order(store)))
    for external in ("<link", "<script", "src=", "href=", "url(", "@import", "<img", "<iframe"):
        assert external not in html
    assert set(re.findall(r"https?://[^\s\"']+", html)) == {"http://www.w3.org/2000/svg"}


def test_the_report_tells_the_customer_what_happened(store: Store) -> None:
    html = render_html(order_report(store, repaired_order(store)))
    assert FAULT_SENTENCES["filter-pump-dead"] in html
    assert "<td>B9300929</td>" in html and "<td>filter pump</td>" in html
    # measurements with their limits, as Limits.text() writes them
    for limits in ("40–80 W", "1400–2100 W", "≥ 0.5 °C", "≤ 10 s", "0.5–5 W"):
        assert f"<td>{limits}</td>" in html
    assert "<td>62 W</td>" in html
    assert "in warranty until 2026-06-01: electrical part, original owner" in html
    assert "PASS — the unit worked correctly in every test." in html
    assert "Technician: <strong>Ada Tech</strong>" in html
    assert "quoted 189.00" in html
    assert [row for row in ("received", "diagnosed", "repaired", "verified") if row in html]


def test_the_printed_hash_is_the_canonical_hash_of_the_stored_final_record(
    store: Store,
) -> None:
    order_id = repaired_order(store)
    data = order_report(store, order_id)
    html = render_html(data)
    expected = hashlib.sha256(
        json.dumps(
            passing_verification().to_dict(),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode("utf-8")
    ).hexdigest()
    assert data.final is not None and data.final.record.record_id == "rec-pass-0001"
    assert data.final_sha256 == expected == store.runs_for_order(order_id)[-1].sha256
    assert f'SHA-256: <span class="hash">{expected}</span>' in html
    assert "sort_keys=True" in html and "UTF-8" in html


def test_the_charts_show_the_final_run_trace(store: Store) -> None:
    html = render_html(order_report(store, repaired_order(store)))
    charts = svgs(html)
    assert [chart.get("aria-label") for chart in charts] == [
        "Water temperature",
        "Power drawn from the mains",
    ]
    samples = len(passing_verification().trace)
    for chart in charts:
        (line,) = chart.iter("{http://www.w3.org/2000/svg}polyline")
        assert len(line.get("points", "").split()) == samples


def test_a_second_owner_sees_why_the_pump_is_not_covered(store: Store) -> None:
    store.add_unit("USED-1", "premium-4", date(2025, 12, 1), original_owner=False, now=NOW)
    order_id = store.open_order("USED-1", "pump silent", agreement="repair", now=NOW)
    store.add_part(order_id, "B9300929", now=NOW)
    html = render_html(order_report(store, order_id))
    assert (
        "out of warranty: not the original owner "
        "(electrical parts are covered for the original owner only)" in html
    )


def test_an_order_without_parts_states_warranty_for_both_classes(store: Store) -> None:
    order_id = store.open_order(SERIAL, "bubbles stop", now=NOW)
    data = order_report(store, order_id)
    assert data.warranty == [
        "electrical parts: in warranty until 2026-06-01: electrical part, original owner",
        "non-electrical parts: out of warranty since 2025-12-02: non-electrical part, "
        "covered 6 months from purchase (2025-06-01)",
    ]
    html = render_html(data)
    assert "No parts were replaced." in html
    assert "No bench test has been completed yet." in html
    assert "NOT TESTED YET" in html
    assert svgs(html) == []


def test_a_failed_run_report_names_the_part_and_the_failed_limits(store: Store) -> None:
    run_id = store_run(store, filter_pump_failure())
    data = run_report(store, run_id)
    assert data.findings == [
        FAULT_SENTENCES["filter-pump-dead"],
        "Part to replace: B9300929 filter pump.",
    ]
    html = render_html(data)
    assert 'class="outcome-fail">out of limits' in html
    assert 'class="outcome-unset">not measured' in html
    assert "FAIL — the unit did not pass every test" in html
    assert "What you told us" not in html  # not part of an order


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
    assert len(data.measurements) == 3
    assert "INTERRUPTED — the test was stopped before it finished." in render_html(data)


def test_unknown_suspects_fall_back_to_the_reason() -> None:
    record = filter_pump_failure()
    record.suspected_parts[0].fault_id = "new-fault-2027"
    record.suspected_parts[0].reason = "pump hums but does not turn"
    assert customer_report.findings([record]) == [
        "The bench tests point to the filter pump: pump hums but does not turn.",
        FAULT_SENTENCES["filter-pump-dead"],  # from the step's suspects
    ]


# ------------------------------------------------------------------------------ charts


def test_a_gap_in_the_trace_breaks_the_line() -> None:
    chart = ET.fromstring(
        svg_chart([(0, 20.0), (10, 21.0), (20, None), (30, 22.0), (40, 23.0)], title="T", unit="C")
    )
    assert len(list(chart.iter("{http://www.w3.org/2000/svg}polyline"))) == 2


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
    assert format_value(0.33333, "°C") == "0.33 °C"
    assert format_value(True) == "yes"
    assert format_value(None, "W") == "—"
    assert format_value(float("nan")) == "invalid"


# ----------------------------------------------------------------------------- exports


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
