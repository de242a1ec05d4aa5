"""Issue 13, parts: no placeholder part code anywhere a person reads, ``spabench parts``,
which models a part fits (from the model plates), and the workshop's settings set once
(``spabench workshop show|init``).

A placeholder is a code nobody can order by: the ``SB-…`` codes earlier versions shipped for
parts the maker's manual does not number, or the words "internal code" beside them.
"""

from __future__ import annotations

import json
import sqlite3
import tomllib
from pathlib import Path

import pytest
from cli_runner import cli, one_line, spabench

from bench.records.workshop import load_workshop
from protocols.mspa.models import available_models, load_model
from protocols.mspa.parts import CATALOGUE, PARTS, lookup, parts_for_fault
from spasim.cli import main as spasim_main

PLACEHOLDERS = ("SB-", "internal code")


def assert_no_placeholder(text: str) -> None:
    for placeholder in PLACEHOLDERS:
        assert placeholder not in text, f"{placeholder!r} shown to a person:\n{text}"


@pytest.fixture(autouse=True)
def no_workshop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No workshop file of the machine running the tests: its config dir is a fresh one."""
    monkeypatch.delenv("SPABENCH_WORKSHOP", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("COLUMNS", "250")  # rich tables: one line per row
    return tmp_path / "config" / "spabench" / "workshop.toml"


def parts_json(capsys: pytest.CaptureFixture[str], *search: str) -> list[dict[str, object]]:
    code, out, err = spabench(capsys, "parts", *search, "--json")
    assert code == 0, err
    entries: list[dict[str, object]] = json.loads(out)["parts"]
    return entries


# ----------------------------------------------------------------------------- no placeholders


def test_spasim_faults_names_parts_without_placeholders(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = cli(spasim_main, capsys, "faults")
    assert code == 0
    assert_no_placeholder(out)
    heater_row = next(line for line in out.splitlines() if line.startswith("heater-open "))
    assert "PTC heater" in heater_row
    pump_row = next(line for line in out.splitlines() if line.startswith("filter-pump-dead "))
    assert "B9300929 filter pump" in pump_row


@pytest.mark.parametrize(
    ("fault", "plan", "summary"),
    [
        ("heater-open", "verify-heater", "replace: PTC heater"),
        ("filter-pump-dead", "verify-filter-pump", "replace: B9300929 filter pump"),
    ],
)
def test_a_diagnosis_names_the_part_as_a_person_reads_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fault: str, plan: str, summary: str
) -> None:
    record = tmp_path / "run.json"
    code, out, _ = spabench(
        capsys, "run", "--virtual", "--fault", fault, "--plan", plan,
        "--no-store", "--json", str(record),
    )  # fmt: skip
    assert code == 1
    assert summary in out.splitlines()
    assert json.loads(record.read_text())["summary"] == summary
    assert_no_placeholder(out)


def test_the_parts_listing_shows_no_placeholder(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = spabench(capsys, "parts")
    assert (code, err) == (0, "")
    assert_no_placeholder(out)
    for part in CATALOGUE:
        assert part.number in out  # every part listed (names may wrap)


def test_parts_the_maker_does_not_number_have_lowercase_keys_not_numbers() -> None:
    ours = [part for part in CATALOGUE if not part.official]
    assert {"heater", "jet-pump", "prcd"} <= {part.number for part in ours}
    for part in ours:
        assert part.number == part.number.lower() and not part.number.startswith("sb-")
        assert part.label == part.name
    assert lookup("B9300929").label == "B9300929 filter pump"


# ----------------------------------------------------------------------------- aliases


@pytest.mark.parametrize(
    ("old", "key"),
    [
        ("SB-HEATER", "heater"),
        ("sb-jet-pump", "jet-pump"),
        ("SB-O3", "ozone"),
        ("SB-FILTER", "filter-cartridge"),
    ],
)
def test_former_codes_still_name_their_part(old: str, key: str) -> None:
    assert lookup(old).number == key
    assert PARTS[old] is PARTS[key]
    assert old not in list(PARTS)  # listed once, under its key


def test_a_record_from_an_earlier_version_shows_under_the_new_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "records.sqlite3")
    ok = ("unit", "add", "--serial", "SN1", "--profile", "premium-4",
          "--purchase-date", "2026-01-10", "--db", db)  # fmt: skip
    assert spabench(capsys, *ok)[0] == 0
    assert (
        spabench(
            capsys, "order", "open", "--serial", "SN1", "--symptom", "cold",
            "--agreement", "repair", "--received-at", "2026-01-20 09:00", "--db", db,
        )[0]
        == 0
    )  # fmt: skip
    # What an earlier version stored for a replaced heater.
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO parts_replaced (order_id, part_number, quantity, at, by)"
            " VALUES (1, 'SB-HEATER', 1, '2026-02-01T10:00:00+00:00', 'ada')"
        )
    conn.close()
    code, out, err = spabench(capsys, "order", "show", "1", "--db", db)
    assert (code, err) == (0, "")
    assert "PTC heater" in out
    assert_no_placeholder(out)


def test_an_unknown_part_names_close_matches_and_the_command_not_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "records.sqlite3")
    spabench(capsys, "unit", "add", "--serial", "SN1", "--profile", "premium-4",
             "--purchase-date", "2026-01-10", "--db", db)  # fmt: skip
    spabench(capsys, "order", "open", "--serial", "SN1", "--symptom", "cold", "--db", db)
    err = one_line(
        spabench(capsys, "order", "part", "1", "--part", "heatr", "--db", db),
        2,
        "close matches: heater",
        "see: spabench parts",
    )
    assert ".py" not in err
    err = one_line(spabench(capsys, "order", "part", "1", "--part", "NOPE", "--db", db), 2)
    assert "see: spabench parts" in err and ".py" not in err


# ----------------------------------------------------------------------------- fits


def fits(capsys: pytest.CaptureFixture[str], key: str) -> list[str]:
    (entry,) = [e for e in parts_json(capsys, key) if e["number"] == key]
    models = entry["fits"]
    assert isinstance(models, list)
    return models


def test_optional_parts_fit_exactly_the_models_whose_plate_has_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    models = {name: load_model(name) for name in available_models()}
    assert fits(capsys, "jet-pump") == [n for n, p in models.items() if p.jets_fitted]
    assert fits(capsys, "jet-pump") == ["elite-6"]
    assert fits(capsys, "uvc") == [n for n, p in models.items() if p.uvc_fitted]
    assert "concept-4" not in fits(capsys, "uvc")
    assert fits(capsys, "ozone") == [n for n, p in models.items() if p.ozone_fitted]


def test_a_control_panel_fits_the_models_of_its_range(capsys: pytest.CaptureFixture[str]) -> None:
    models = {name: load_model(name).model for name in available_models()}
    premium = [n for n, m in models.items() if "Premium" in m.split()]
    elite = [n for n, m in models.items() if "Elite" in m.split()]
    assert premium == ["premium-4", "premium-6"] and elite == ["elite-6"]
    assert fits(capsys, "B9301287") == premium
    assert fits(capsys, "B9301288") == elite
    assert fits(capsys, "B9301286") == sorted(premium + elite)  # the board inside both


def test_box_parts_fit_every_model(capsys: pytest.CaptureFixture[str]) -> None:
    for key in ("B9300929", "B9301291", "heater", "prcd"):
        assert fits(capsys, key) == available_models()


# ----------------------------------------------------------------------------- search


def test_a_search_finds_a_part_by_number_name_fault_model_or_former_code(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert [e["number"] for e in parts_json(capsys, "b9300929")] == ["B9300929"]
    assert [e["number"] for e in parts_json(capsys, "Heater-Open")] == ["heater"]
    assert [e["number"] for e in parts_json(capsys, "PTC")] == ["heater"]
    assert [e["number"] for e in parts_json(capsys, "SB-HEATER")] == ["heater"]
    elite = [e["number"] for e in parts_json(capsys, "elite-6")]
    assert "jet-pump" in elite and "B9301288" in elite and "B9301287" not in elite


def test_the_listing_shows_faults_fits_and_verification(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = spabench(capsys, "parts", "jet")
    assert code == 0
    row = next(line for line in out.splitlines() if "jet-pump " in line)
    for cell in ("jet pump", "electrical", "elite-6", "jet-pump-dead", "verify-jet-pump"):
        assert cell in row
    (entry,) = parts_json(capsys, "B9300929")
    assert entry["faults"] == ["filter-pump-dead"]
    assert entry["verify_plans"] == ["verify-filter-pump"]
    assert entry["class"] == "electrical" and entry["official"] is True
    assert [p.number for p in parts_for_fault("filter-pump-dead")] == ["B9300929"]


def test_a_search_without_hits_exits_1_with_close_matches(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = spabench(capsys, "parts", "heatr")
    assert (code, out) == (1, "")
    assert err.count("\n") == 1 and "close matches: heater" in err
    assert_no_placeholder(err)
    code, out, err = spabench(capsys, "parts", "zzzz", "--json")
    assert code == 1 and json.loads(out) == {"parts": []}


# ----------------------------------------------------------------------------- workshop


INIT = (
    "workshop", "init", "--name", "Spa Service Nord GmbH",
    "--address", "Hafenstr. 5", "--address", "20457 Hamburg",
    "--contact", "+49 40 123456", "--currency", "eur", "--vat-percent", "19",
    "--vat-number", "DE123456789", "--part-code", "heater=SSN-4711",
    "--part-code", "SB-JET-PUMP=SSN-0815",
)  # fmt: skip


def test_show_says_where_the_file_would_be_when_none_is_configured(
    capsys: pytest.CaptureFixture[str], no_workshop: Path
) -> None:
    code, out, err = spabench(capsys, "workshop", "show")
    assert (code, err) == (0, "")
    assert "no workshop configured" in out and str(no_workshop) in out
    assert "spabench workshop init" in out


def test_init_writes_what_show_parts_and_reports_then_use(
    capsys: pytest.CaptureFixture[str], no_workshop: Path
) -> None:
    code, out, err = spabench(capsys, *INIT)
    assert (code, err) == (0, ""), err
    assert no_workshop.is_file()
    data = tomllib.loads(no_workshop.read_text())
    assert data["workshop"]["currency"] == "EUR" and data["workshop"]["vat_percent"] == 19
    assert data["workshop"]["address"] == "Hafenstr. 5\n20457 Hamburg"
    assert data["part_codes"] == {"heater": "SSN-4711", "jet-pump": "SSN-0815"}
    workshop = load_workshop()
    assert workshop.name == "Spa Service Nord GmbH" and workshop.money(8950) == "EUR 89.50"
    code, out, err = spabench(capsys, "workshop", "show")
    assert (code, err) == (0, "")
    for shown in (str(no_workshop), "Spa Service Nord GmbH", "20457 Hamburg", "EUR", "19 %",
                  "DE123456789", "PTC heater (workshop code SSN-4711)"):  # fmt: skip
        assert shown in out
    assert_no_placeholder(out)
    heater = next(
        line for line in spabench(capsys, "parts")[1].splitlines() if "PTC heater" in line
    )
    assert "SSN-4711" in heater
    assert [e["number"] for e in parts_json(capsys, "ssn-0815")] == ["jet-pump"]


def test_init_refuses_to_overwrite_without_force(
    capsys: pytest.CaptureFixture[str], no_workshop: Path
) -> None:
    assert spabench(capsys, *INIT)[0] == 0
    before = no_workshop.read_text()
    one_line(spabench(capsys, *INIT[:-4], "--currency", "CHF"), 2, "--force")
    assert no_workshop.read_text() == before
    assert spabench(capsys, *INIT, "--currency", "CHF", "--force")[0] == 0
    assert load_workshop().currency == "CHF"


def test_init_writes_to_file_and_logo_beside_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "shared" / "workshop.toml"
    target.parent.mkdir()
    (target.parent / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    code, _, err = spabench(
        capsys, *INIT, "--file", str(target), "--logo", str(target.parent / "logo.png")
    )
    assert (code, err) == (0, "")
    assert tomllib.loads(target.read_text())["workshop"]["logo"] == "logo.png"
    assert load_workshop(target).logo == target.parent / "logo.png"


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (("--currency", "EURO"), "ISO 4217"),
        (("--vat-percent", "abc"), "vat_percent"),
        (("--vat-percent", "120"), "0–100"),
        (("--part-code", "hetaer=X1"), "close matches: heater"),
        (("--part-code", "B9300929=X1"), "maker's part number"),
        (("--part-code", "heater"), "KEY=CODE"),
        (("--part-code", "SB-HEATER=X2"), "twice"),
        (("--part-code", "heater=X2"), "two codes"),
        (("--logo", "no-such-logo.png"), "no such file"),
    ],
)
def test_init_refuses_bad_settings_in_one_line_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], no_workshop: Path, change: tuple[str, str], needle: str
) -> None:
    err = one_line(spabench(capsys, *INIT, *change), 2, needle)
    assert ".py" not in err
    assert not no_workshop.exists()


def test_init_to_a_missing_directory_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "missing" / "workshop.toml"
    one_line(spabench(capsys, *INIT, "--file", str(target)), 2, "does not exist")
    assert not target.parent.exists()


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ('[workshop]\nname = "A"\ncolour = "red"\n', "unknown key 'colour'"),
        ('[workshop]\nname = "A"\n[part_codes]\nhetaer = "X"\n', "close matches: heater"),
        ('[workshop]\nname = "A"\n[part_codes]\nB9300929 = "X"\n', "maker's part number"),
        ('[workshop\nname = "A"\n', "workshop file"),
        ('[workshop]\ncurrency = "euro"\n', "ISO 4217"),
    ],
)
def test_a_bad_workshop_file_is_one_line_naming_the_file(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    content: str,
    needle: str,
) -> None:
    path = tmp_path / "workshop.toml"
    path.write_text(content)
    monkeypatch.setenv("SPABENCH_WORKSHOP", str(path))
    for command in (("workshop", "show"), ("parts",)):
        err = one_line(spabench(capsys, *command), 2, needle, str(path))
        assert "see: spabench parts" in err or "close matches" not in err


def test_a_former_code_in_a_workshop_file_still_configures_its_part(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "workshop.toml"
    path.write_text('[workshop]\nname = "A"\n[part_codes]\nSB-HEATER = "OLD-1"\n')
    monkeypatch.setenv("SPABENCH_WORKSHOP", str(path))
    assert load_workshop().part_code("heater") == "OLD-1"
    code, out, _ = spabench(capsys, "workshop", "show")
    assert code == 0 and "PTC heater (workshop code OLD-1)" in out


def test_show_of_a_named_file_that_is_missing_says_how_to_write_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nope.toml"
    one_line(spabench(capsys, "workshop", "show", "--file", str(missing)), 2, str(missing), "init")
    monkeypatch.setenv("SPABENCH_WORKSHOP", str(missing))
    one_line(spabench(capsys, "workshop", "show"), 2, "SPABENCH_WORKSHOP", "init")
    assert not missing.exists()
