"""The README's records workflow through ``spabench``, then the customer report read back.

Issue 13: followed as a new user would, the report contradicted its own record — "No bench
test has been completed yet." beside "Result: PASS", a pass made *before* the part was fitted
shown as "the unit working", a virtual run presented as a technician ("virtual") at a bench
("vm"), a water chart missing the reading that made the heater step pass, the verdict on page
4, and ``report 1 --html missing/dir/r.html`` ending in a traceback.

Every test here drives the command line (unit add, order open, runs filed on the order, a
part, status changes), parses the HTML (:mod:`support.report_page`) and compares what a
customer reads with what the record holds: the run JSON each ``spabench run --json`` wrote,
the commands given. Expectations come from the issue, never from the report's code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from cli_runner import one_line, spabench
from support.report_page import ReportPage, parse

SERIAL = "SN123"
PURCHASED = date.today() - timedelta(days=100)  # the CLI judges warranty on the real date
SIMULATED_NOTICE = "This test was made on a SIMULATED unit, not on your spa's control box."
"""Page 1 of an order whose simulated pass nobody marked verified: a test, not a verification."""
NOT_CONFIGURED = "workshop details not configured — see spabench workshop"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf000000030101008d1a2a6e0000000049454e44ae426082"
)


@pytest.fixture(autouse=True)
def records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A records database and a workshop configuration of this test's own."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPABENCH_DB", str(tmp_path / "records.sqlite3"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # no workshop.toml there
    monkeypatch.delenv("SPABENCH_WORKSHOP", raising=False)
    monkeypatch.setenv("COLUMNS", "250")
    return tmp_path / "records.sqlite3"


def run_ok(capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> str:
    got, out, err = spabench(capsys, *args)
    assert got == code, (args, out[-2000:], err)
    return out


def load(path: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    return data


@dataclass
class Workflow:
    order: str
    diagnosis: dict[str, Any]
    verification: dict[str, Any] | None


def intake(capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    run_ok(capsys, "unit", "add", "--serial", SERIAL, "--profile", "premium-4",
           "--purchase-date", PURCHASED.isoformat(), "--owner", "J. Doe")  # fmt: skip
    out = run_ok(capsys, "order", "open", "--serial", SERIAL, "--symptom",
                 "The water stays cold and the pump is silent", *extra)  # fmt: skip
    return out.strip()


def readme_workflow(capsys: pytest.CaptureFixture[str], *, verify: bool = True) -> Workflow:
    """Intake with a repair agreement and a quote, a failing diagnosis on a (virtual) box
    with a dead filter pump, the pump fitted, a verification run after it, verified and
    handed back."""
    order = intake(capsys, "--agreement", "repair", "--quote", "89.50", "--by", "Ana Silva")
    run_ok(capsys, "run", "--virtual", "--unit", SERIAL, "--order", order, "--simulated",
           "--plan", "full", "--fault", "filter-pump-dead", "--json", "diagnosis.json",
           code=1)  # fmt: skip
    run_ok(capsys, "order", "status", order, "diagnosed", "--by", "Ana Silva")
    run_ok(capsys, "order", "part", order, "--part", "B9300929", "--by", "Ana Silva")
    run_ok(capsys, "order", "status", order, "repaired", "--by", "Ana Silva")
    verification = None
    if verify:
        # seed 4: the water before heating is a mean of three reports (20.17 °C), a value no
        # single trace sample holds
        run_ok(capsys, "run", "--virtual", "--unit", SERIAL, "--order", order, "--simulated",
               "--plan", "full", "--seed", "4", "--json", "verification.json")  # fmt: skip
        run_ok(capsys, "order", "status", order, "verified", "--simulated", "--by", "Ana Silva")
        run_ok(capsys, "order", "close", order, "--by", "Ana Silva")
        verification = load("verification.json")
    return Workflow(order, load("diagnosis.json"), verification)


def report(capsys: pytest.CaptureFixture[str], order: str) -> tuple[ReportPage, dict[str, Any]]:
    run_ok(capsys, "report", order, "--html", "report.html", "--json", "report.json")
    return parse(Path("report.html").read_text(encoding="utf-8")), load("report.json")


def run_id_of(page: ReportPage, record_id: str) -> str:
    """The run id the page's technical footer gives the record ``record_id``."""
    footer = page.element("technical").text()
    before = footer.split(f", record {record_id}")[0]
    return before.rsplit("run ", 1)[1]


# ----------------------------------------------------------------------------- the story


def test_page_one_tells_the_story_the_record_holds(capsys: pytest.CaptureFixture[str]) -> None:
    flow = readme_workflow(capsys)
    assert flow.verification is not None
    page, facts = report(capsys, flow.order)
    first = page.page1.text()
    # the verdict: the run after the repair verified the unit, on page 1
    verification_run = run_id_of(page, flow.verification["record_id"])
    assert page.verdict.attrs["data-verdict"] == "verified"
    assert page.verdict.attrs["data-run"] == verification_run
    assert "VERIFIED" in page.verdict.text() and "after the repair" in page.verdict.text()
    for contradiction in ("No bench test has been completed yet", "NOT TESTED", "not verified"):
        assert contradiction.lower() not in first.lower()
    # what was found: the diagnosis run's conclusion, in words, with the part's plain text
    found = page.element("found").text()
    assert "The filter pump does not run" in found
    assert "the pump that circulates and filters water — B9300929 filter pump" in found
    # agreed work vs parts: a repair was agreed and exactly the part recorded is listed
    assert page.element("agreed-work").text() == "repair"
    rows = page.element("replaced").find_all(lambda e: "data-part" in e.attrs)
    assert [(r.attrs["data-part"], r.attrs["data-quantity"]) for r in rows] == [("B9300929", "1")]
    assert "B9300929 filter pump" in rows[0].text()
    assert f"(run {run_id_of(page, flow.diagnosis['record_id'])})" in rows[0].text()
    assert "in warranty until" in rows[0].text()
    # the workshop is not configured here: said so, nothing invented; the quote without one
    assert page.element("workshop").text() == NOT_CONFIGURED
    assert "89.50 (currency not configured" in page.element("cost").text()
    # the symptom in the customer's words; signatures for the person who did the work
    (said,) = page.element("symptom").by_class("symptom", "blockquote")
    assert said.text() == "The water stays cold and the pump is silent"
    signatures = page.element("signatures").text()
    assert "Technician: Ana Silva" in signatures and "Customer: J. Doe" in signatures
    # the appendix comes after page 1 and holds every run's measurements in words
    appendix = page.appendix.text()
    assert "Heater power:" in appendix and "(expected 1,000–2,600 W)" in appendix
    for jargon in ("= True", "recorded only", "json.dumps(", "(internal code)"):
        assert jargon not in first
    for jargon in ("= True", "recorded only", "(internal code)"):
        assert jargon not in appendix
    # the JSON says the same
    summary = facts["summary"]
    assert summary["verification"]["verdict"] == "verified"
    assert str(summary["verification"]["run"]["run_id"]) == verification_run
    assert [part["part_number"] for part in summary["replaced"]] == ["B9300929"]
    assert summary["agreed_work"] == "repair"
    assert summary["cost"]["quote_cents"] == 8950 and summary["cost"]["currency"] is None
    assert facts["workshop"]["configured"] is False


def test_the_chart_holds_every_water_value_of_the_step_it_illustrates(
    capsys: pytest.CaptureFixture[str],
) -> None:
    flow = readme_workflow(capsys)
    assert flow.verification is not None
    page, _ = report(capsys, flow.order)
    water = next(
        chart
        for chart in page.charts(page.element("verification"))
        if chart.attrs["aria-label"] == "Water temperature"
    )
    shown = page.sample_values(water) + page.reading_values(water)
    # every trace sample of the verification run is drawn, none decimated away
    trace = [s["water_c"] for s in flow.verification["trace"] if s["water_c"] is not None]
    assert page.sample_values(water) == trace
    # every water value the heating step measured is on the chart: the water before heating
    # and the water it reached (before + rise), the reading that made the step pass
    (heating,) = [s for s in flow.verification["steps"] if s["kind"] == "heater-rise"]
    values = {m["name"]: m["value"] for m in heating["measurements"]}
    assert values["start_c"] in shown
    assert round(values["start_c"] + values["rise_c"], 2) in shown
    (plausible,) = [s for s in flow.verification["steps"] if s["kind"] == "temperature-plausible"]
    assert plausible["measurements"][0]["value"] in shown


def test_no_verification_after_the_repair_is_said_on_page_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The README's order: a passing run, then the part — nothing tested the repaired unit."""
    order = intake(capsys, "--agreement", "repair")
    run_ok(capsys, "run", "--virtual", "--unit", SERIAL, "--order", order, "--simulated")
    run_ok(capsys, "order", "status", order, "diagnosed")
    run_ok(capsys, "order", "part", order, "--part", "B9300929")
    page, facts = report(capsys, order)
    assert "no verification after the repair" in page.root.text()
    assert "PASS" not in page.root.text().replace("passed", "")  # no older pass as the verdict
    assert page.verdict.attrs["data-verdict"] == "not-verified"
    assert "no verification after the repair" in page.verdict.text()
    verification = page.element("verification").text()
    assert "no verification after the repair" in verification
    assert "PASS" not in page.page1.text() and "passed the" not in verification
    assert page.charts(page.element("verification")) == []  # no chart of the older run
    assert facts["summary"]["verification"]["verdict"] == "not-verified"
    assert facts["summary"]["verification"]["run"] is None


def test_a_part_recorded_beyond_a_diagnosis_agreement_is_not_hidden(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The issue: "Agreed: diagnosis only" beside "What we replaced: B9300929 filter pump"
    with nothing saying so. (The orders helper refuses such a part from now on; records
    made before still exist.)"""
    order = intake(capsys)
    run_ok(capsys, "run", "--virtual", "--unit", SERIAL, "--order", order, "--simulated")
    run_ok(capsys, "order", "status", order, "diagnosed")
    got, _, _ = spabench(capsys, "order", "part", order, "--part", "B9300929")
    page, _ = report(capsys, order)
    if got == 0:
        assert "no repair agreement is on file" in page.root.text()
    assert page.element("agreed-work").text() == "diagnosis only"
    rows = page.element("replaced-section").find_all(lambda e: "data-part" in e.attrs)
    if got == 0:  # the part was recorded: the page says the agreement does not cover it
        assert [r.attrs["data-part"] for r in rows] == ["B9300929"]
        assert "diagnosis only" in page.element("agreement-warning").text()
    else:  # refused: nothing replaced is shown
        assert rows == []


# ------------------------------------------------------------------------- simulated


def test_a_virtual_run_on_an_order_is_marked_simulated_on_page_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    order = intake(capsys)
    run_ok(
        capsys,
        "run",
        "--virtual",
        "--unit",
        SERIAL,
        "--order",
        order,
        "--simulated",
        "--json",
        "run.json",
    )
    record = load("run.json")
    assert record["simulated"] is True
    page, facts = report(capsys, order)
    everything = page.root.text()
    assert "Technician: virtual" not in everything
    assert "bench vm" not in everything and "bench: vm" not in everything
    assert "worked correctly in every test" not in everything
    assert SIMULATED_NOTICE in everything
    first = page.page1.text()
    assert "SIMULATED UNIT" in first
    assert SIMULATED_NOTICE in page.element("simulated-notice").text()
    assert page.verdict.attrs["data-simulated"] == "yes"
    assert "SIMULATED UNIT" in page.verdict.text()
    # Nothing failed and nothing was repaired: a pass says no fault was found (a test, which
    # nobody marked as a verification).
    assert "no fault found" in page.verdict.text() and "VERIFIED" not in page.verdict.text()
    (run,) = page.appendix.find_all(lambda e: e.attrs.get("data-run") == "1")
    assert run.attrs["data-simulated"] == "yes" and "SIMULATED UNIT" in run.text()
    assert facts["summary"]["verification"]["simulated"] is True
    assert [run["simulated"] for run in facts["appendix"]] == [True]


# -------------------------------------------------------------------------- workshop


def test_a_configured_workshop_signs_the_report(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "logo.png").write_bytes(PNG)
    (tmp_path / "workshop.toml").write_text(
        '[workshop]\nname = "Spa Service Nord GmbH"\naddress = "Hafenstr. 5\\n20457 Hamburg"\n'
        'contact = "+49 40 123456"\nlogo = "logo.png"\ncurrency = "EUR"\nvat_percent = 19\n'
        'vat_number = "DE123456789"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("SPABENCH_WORKSHOP", str(tmp_path / "workshop.toml"))
    order = intake(capsys, "--agreement", "repair", "--quote", "89.50")
    page, facts = report(capsys, order)
    assert "Spa Service Nord GmbH" in page.root.text()
    shop = page.element("workshop")
    for fact in ("Spa Service Nord GmbH", "Hafenstr. 5", "20457 Hamburg", "+49 40 123456",
                 "DE123456789"):  # fmt: skip
        assert fact in shop.text()
    (logo,) = shop.find_all(lambda e: e.tag == "img")
    assert logo.attrs["src"].startswith("data:image/png;base64,")
    assert "EUR 89.50 + 19 % VAT EUR 17.01 = EUR 106.51" in page.element("cost").text()
    assert facts["workshop"]["name"] == "Spa Service Nord GmbH"
    assert facts["summary"]["cost"]["gross_cents"] == 10651


# --------------------------------------------------------------------------- outputs


def test_a_bad_output_path_is_refused_before_any_work(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    order = intake(capsys)
    # refused before the records are opened: a mistyped --db is not created
    one_line(spabench(capsys, "report", "1", "--html", "missing/r.html", "--db", "typo.sqlite3"), 2)
    assert not (tmp_path / "typo.sqlite3").exists()
    err = one_line(
        spabench(capsys, "report", order, "--html", "missing/dir/r.html"), 2, "missing/dir"
    )
    assert "does not exist" in err
    # checked before anything is written: a good --html is not written when --json is bad
    one_line(spabench(capsys, "report", order, "--html", "r.html", "--json", "nope/r.json"), 2)
    one_line(spabench(capsys, "report", order, "--html", "out/"), 2, "out/")
    one_line(spabench(capsys, "report", order, "--html", "a.html", "--json", "a.html"), 2)
    assert not (tmp_path / "r.html").exists() and not (tmp_path / "a.html").exists()
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------- review of issue 13 (2)


def filed_run(out: str) -> str:
    """The run id ``spabench run`` printed ("filed as run 3")."""
    return out.rsplit("filed as run ", 1)[1].split()[0]


def verified_by(capsys: pytest.CaptureFixture[str], order: str) -> str:
    """The run ``order show`` says verified the order."""
    shown = run_ok(capsys, "order", "show", order)
    (line,) = [line for line in shown.splitlines() if "verified by" in line]
    return line.split("verified by", 1)[1].split("run ", 1)[1].split()[0]


def test_a_part_found_again_by_a_later_run_is_not_unnamed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Two failing runs with the same fault: the second named the part as well ("replace:
    ..."), so page 1 must not add that a test "could not name one part"."""
    order = intake(capsys, "--agreement", "repair")
    for _ in range(2):
        out = run_ok(capsys, "run", "--virtual", "--unit", SERIAL, "--order", order,
                     "--simulated", "--fault", "filter-pump-dead", code=1)  # fmt: skip
        assert "B9300929" in out  # each run named the pump
    page, facts = report(capsys, order)
    found = page.element("found").text()
    assert "The filter pump does not run" in found
    assert "could not name" not in page.root.text()
    assert not [f for f in facts["summary"]["found"] if "could not name" in f["text"]]


def test_a_failure_after_the_verification_is_said_on_page_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Verified by a passing run after the pump was fitted, then a later run failed: page 1
    must not say VERIFIED; it says the later test failed, and the JSON agrees."""
    readme_workflow(capsys, verify=False)
    order = "1"
    passed = filed_run(run_ok(capsys, "run", "--virtual", "--unit", SERIAL, "--order", order,
                              "--simulated", "--plan", "verify-filter-pump"))  # fmt: skip
    run_ok(capsys, "order", "status", order, "verified", "--simulated", "--by", "Ana Silva")
    assert verified_by(capsys, order) == passed
    failed = filed_run(run_ok(capsys, "run", "--virtual", "--unit", SERIAL, "--order", order,
                              "--simulated", "--plan", "verify-filter-pump",
                              "--fault", "filter-pump-dead", code=1))  # fmt: skip
    page, facts = report(capsys, order)
    verdict = page.verdict
    assert verdict.attrs["data-verdict"] == "fail"
    assert verdict.attrs["data-run"] == failed
    assert "VERIFIED" not in verdict.text()
    assert f"(run {failed})" in verdict.text() and "FAIL" in verdict.text()
    assert f"(run {passed})" in verdict.text()  # the verification it overturns is named
    summary = facts["summary"]["verification"]
    assert summary["verdict"] == "fail"
    assert str(summary["run"]["run_id"]) == failed
    assert str(summary["verified_by_run"]) == passed  # as 'order show' says
    assert str(facts["verification_run_id"]) == passed and facts["verdict"] == "fail"


def test_orders_without_parts_follow_the_same_verification_rule(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """No part fitted ("repaired --note"): the order's verification (as ``order show`` has
    it) is page 1's, and a later failing run is said the same way as with parts."""
    order = intake(capsys, "--agreement", "repair")
    run_ok(capsys, "run", "--virtual", "--unit", SERIAL, "--order", order, "--simulated")
    run_ok(capsys, "order", "status", order, "diagnosed")
    run_ok(capsys, "order", "status", order, "repaired", "--note", "reseated the cable")
    passed = filed_run(run_ok(capsys, "run", "--virtual", "--unit", SERIAL, "--order", order,
                              "--simulated"))  # fmt: skip
    run_ok(capsys, "order", "status", order, "verified", "--simulated")
    assert verified_by(capsys, order) == passed
    later = filed_run(run_ok(capsys, "run", "--virtual", "--unit", SERIAL, "--order", order,
                             "--simulated", "--plan", "verify-blower"))  # fmt: skip
    page, facts = report(capsys, order)
    assert page.verdict.attrs["data-verdict"] == "verified"
    assert page.verdict.attrs["data-run"] == passed  # the verification, not the later pass
    assert "VERIFIED" in page.verdict.text() and f"(run {passed})" in page.verdict.text()
    assert str(facts["verification_run_id"]) == passed
    assert str(facts["summary"]["verification"]["verified_by_run"]) == passed
    failed = filed_run(run_ok(capsys, "run", "--virtual", "--unit", SERIAL, "--order", order,
                              "--simulated", "--plan", "verify-blower",
                              "--fault", "blower-dead", code=1))  # fmt: skip
    assert int(failed) > int(later)
    page, facts = report(capsys, order)
    assert page.verdict.attrs["data-verdict"] == "fail"
    assert page.verdict.attrs["data-run"] == failed
    assert f"(run {passed})" in page.verdict.text()
    assert str(facts["verification_run_id"]) == passed
    assert str(facts["summary"]["verification"]["run"]["run_id"]) == failed


def test_the_power_chart_holds_every_power_the_test_measured(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The heater's draw (≈1.5 kW) is measured between two meter samples: the chart must
    still show it, as a marked reading, like every other power a step measured."""
    flow = readme_workflow(capsys)
    assert flow.verification is not None
    page, facts = report(capsys, flow.order)
    (power,) = [
        chart
        for chart in page.charts(page.element("verification"))
        if chart.attrs["aria-label"] == "Power drawn from the mains"
    ]
    marked = {
        (r.attrs["data-step"], float(r.attrs["data-measured"])) for r in power.by_class("reading")
    }
    measured = {
        (step["name"], m["value"])
        for step in flow.verification["steps"]
        for m in step["measurements"]
        if m["unit"] == "W" and isinstance(m["value"], float) and m["at"] is not None
    }
    assert any(value > 1000 for _, value in measured)  # the heater's draw is among them
    assert measured and measured <= marked
    (chart_facts,) = [c for c in facts["summary"]["verification"]["charts"] if c["unit"] == "W"]
    assert {(r["step"], r["measured"]) for r in chart_facts["readings"]} >= measured
    # a change in draw is drawn over the power before it, never below the measured change
    for reading in power.by_class("reading"):
        assert float(reading.attrs["data-value"]) >= float(reading.attrs["data-measured"])


def test_the_service_history_says_how_each_contact_was_made(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The customer was phoned, agreed by e-mail to a repair of the pump for 89.50, the pump
    was fitted: the report's history and its JSON say so, as ``order show`` does."""
    order = intake(capsys)  # diagnosis only
    run_ok(capsys, "run", "--virtual", "--unit", SERIAL, "--order", order, "--simulated",
           "--fault", "filter-pump-dead", code=1)  # fmt: skip
    run_ok(capsys, "order", "status", order, "diagnosed", "--by", "Ana Silva")
    run_ok(capsys, "order", "contact", order, "--via", "phone", "--note", "told the cause",
           "--by", "Ana Silva")  # fmt: skip
    run_ok(capsys, "order", "agree", order, "--work", "repair", "--part", "B9300929",
           "--quote", "89.50", "--via", "email", "--note", "pump replacement agreed",
           "--by", "Ana Silva")  # fmt: skip
    run_ok(capsys, "order", "part", order, "--part", "B9300929", "--by", "Ana Silva")
    page, facts = report(capsys, order)
    history = page.element("timeline").text()
    assert "phone" in history and "told the cause" in history
    assert "email" in history and "pump replacement agreed" in history
    assert "diagnosis only → repair of B9300929 filter pump" in history
    assert "89.50" in history
    assert "B9300929 filter pump" in history.split("pump replacement agreed", 1)[1]  # fitted
    contacts = page.element("contacts").text()
    assert "phone" in contacts and "email" in contacts
    kinds = [event["kind"] for event in facts["summary"]["history"]]
    assert {"status", "contact", "agreement", "part"} <= set(kinds)
    vias = {c["note"]: c["via"] for c in facts["contacts"]}
    assert vias["told the cause"] == "phone" and vias["pump replacement agreed"] == "email"
    (agreed,) = facts["agreement_changes"]
    assert agreed["before"]["agreement"] == "diagnosis" and agreed["after"]["agreement"] == "repair"
    assert agreed["after"]["parts"] == ["B9300929"] and agreed["after"]["quote_cents"] == 8950
    assert agreed["via"] == "email"
