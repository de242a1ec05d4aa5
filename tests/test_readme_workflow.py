"""The README's records workflow, run exactly as printed, then its report read back.

A newcomer copies the "Service records and customer reports" block line by line; if any line
is refused under the order rules, or the report it ends with contradicts what the block did,
the README is lying. So the block is taken from the README itself (not a copy in this file),
every command runs in a fresh records database, and the HTML report is parsed: the verdict,
the agreed work against the part fitted, the verification made after the repair and the
SIMULATED UNIT marking must all say what the commands did.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from cli_runner import spabench
from support.report_page import parse

README = Path(__file__).resolve().parent.parent / "README.md"


def records_block() -> list[list[str]]:
    """The ``spabench`` command lines of the README's records section, comments removed."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Service records and customer reports", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None, "the records section has no sh block"
    commands = [shlex.split(line, comments=True) for line in block.group(1).splitlines()]
    return [command for command in commands if command]


@pytest.fixture
def workshop_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPABENCH_DB", str(tmp_path / "records.sqlite3"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("SPABENCH_WORKSHOP", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path


def test_the_records_workflow_runs_as_printed_and_its_report_agrees(
    workshop_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    commands = records_block()
    assert len(commands) >= 10
    for command in commands:
        assert command[0] == "spabench", command
        code, out, err = spabench(capsys, *command[1:])
        # the diagnosis run finds the dead pump: exit 1 (fail) is what the README shows
        expected = 1 if "--fault" in command else 0
        assert code == expected, (shlex.join(command), out[-1500:], err)
    page = parse((workshop_dir / "report.html").read_text(encoding="utf-8"))
    facts: dict[str, Any] = json.loads((workshop_dir / "order.json").read_text(encoding="utf-8"))

    # verified after the repair, by a run on a simulated unit, and page 1 says both
    assert page.verdict.attrs["data-verdict"] == "verified"
    assert page.verdict.attrs["data-simulated"] == "yes"
    assert "SIMULATED" in page.element("simulated-notice").text()
    assert facts["summary"]["verification"]["simulated"] is True
    # the agreed work covers the part that was fitted
    assert "repair" in page.element("agreed-work").text()
    replaced = page.page1.find_all(lambda e: e.attrs.get("data-part") is not None)
    assert [row.attrs["data-part"] for row in replaced] == ["B9300929"]
    # the verification is the run made after the part (the README's verify-filter-pump run)
    run = facts["summary"]["verification"]["run"]
    assert run is not None and run["plan"] == "verify-filter-pump"
    assert "No bench test has been completed yet" not in page.root.text()
