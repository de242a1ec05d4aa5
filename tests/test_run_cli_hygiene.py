"""``spabench run`` and the records commands behave as a workshop needs (issue 13, CLI):

* every output path is checked before anything runs; read-only commands never create a
  database (a mistyped ``--db`` is one line, exit 2, no file);
* a run on a serial the records do not know is refused with the command that registers it
  (or ``--register`` registers it first); ``spabench run --virtual`` alone is never filed;
* a simulated run is filed on a customer's order only with ``--simulated``, and says
  "SIMULATED UNIT";
* SIGINT / SIGTERM print what was kept and exit 130 / 143; the frames seen up to then are
  in the records (stored as the run goes, not only when it finishes);
* ``--virtual --speed X`` paces the run; answers files are checked against the prompts the
  run can ask; a run has one id a person sees.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from cli_runner import one_line, spabench

from bench.records.display import display_time
from bench.records.filing import RunFiling
from bench.records.store import Store
from bench.testing.plans import load_plan
from bench.testing.record import TestRecord, UnitInfo
from bench.testing.runner import NoHooks, Runner
from bench.testing.targets import virtual_box_target

BENCH = [sys.executable, "-m", "bench"]
SERIAL = "SN123"
REGISTER = ("--profile", "premium-4", "--purchase-date", "2025-06-01")

WAITING_PLAN = """
name = "waiting"
title = "two quick steps, then a day of waiting"
[[step]]
name = "link"
type = "link-up"
[[step]]
name = "reports"
type = "reports-present"
[[step]]
name = "long-wait"
type = "wait"
seconds = 86400
"""
"""A plan that is still running, whatever the machine's speed, once its two first steps are
done: a paced run (--speed 100) takes 864 s of wall time for the wait."""


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The records file of a test; ``$SPABENCH_DB`` points there too (a fresh machine)."""
    path = tmp_path / "records.sqlite3"
    monkeypatch.setenv("SPABENCH_DB", str(path))
    monkeypatch.setenv("COLUMNS", "250")
    return path


def ok(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code, out, err = spabench(capsys, *args)
    assert (code, err) == (0, ""), (code, out, err)
    return out


def register(capsys: pytest.CaptureFixture[str], db: Path, serial: str = SERIAL) -> None:
    ok(capsys, "unit", "add", "--serial", serial, *REGISTER, "--db", str(db))


# -- output paths ---------------------------------------------------------------------------


def test_json_to_a_missing_directory_is_refused_before_anything_runs(
    capsys: pytest.CaptureFixture[str], db: Path, tmp_path: Path
) -> None:
    register(capsys, db)
    before = db.read_bytes()
    result = spabench(
        capsys, "run", "--virtual", "--unit", SERIAL, "--json", str(tmp_path / "no/dir/x.json")
    )
    one_line(result, 2, "--json", "no/dir does not exist")
    assert result[1] == ""  # no progress: nothing was run
    assert db.read_bytes() == before


# -- read-only commands -----------------------------------------------------------------------


READERS = [
    ("history", SERIAL),
    ("unit", "show", SERIAL),
    ("order", "show", "1"),
    ("order", "list"),
    ("order", "list", "--overdue"),
    ("report", "1", "--json", "-"),
    ("report", "--run", "1", "--json", "-"),
]


@pytest.mark.parametrize("command", READERS, ids=lambda c: " ".join(c))
def test_read_only_commands_never_create_a_database(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: tuple[str, ...]
) -> None:
    """A mistyped ``--db`` (in a folder that does not exist either) is one line, exit 2."""
    typo = tmp_path / "recrods" / "records.sqlite3"
    err = one_line(spabench(capsys, *command, "--db", str(typo)), 2)
    assert f"no records database at {typo}" in err
    assert "nothing has been recorded there; check --db / $SPABENCH_DB" in err
    assert not typo.parent.exists()


def test_a_read_only_command_on_a_fresh_machine_creates_nothing(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    err = one_line(spabench(capsys, "history", SERIAL), 2, "no records database at")
    assert str(db) in err
    assert not db.exists()


# -- unregistered serials ---------------------------------------------------------------------


def test_a_run_on_an_unregistered_serial_is_refused_with_the_command_that_registers_it(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    register(capsys, db, "SN-OTHER")
    result = spabench(capsys, "run", "--virtual", "--plan", "smoke", "--unit", SERIAL)
    one_line(
        result,
        2,
        f"spabench unit add --serial {SERIAL} --profile premium-4 --purchase-date YYYY-MM-DD",
        "--register",
    )
    assert result[1] == ""
    # nothing filed: history and unit show agree that the serial is unknown
    one_line(spabench(capsys, "history", SERIAL), 2, f"unknown unit serial {SERIAL!r}")
    one_line(spabench(capsys, "unit", "show", SERIAL), 2, f"unknown unit serial {SERIAL!r}")


def test_a_refused_run_on_a_fresh_machine_creates_no_database(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    one_line(spabench(capsys, "run", "--virtual", "--unit", SERIAL), 2, "not registered")
    assert not db.exists()


def test_register_registers_the_unit_then_runs_it(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    out = ok(
        capsys, "run", "--virtual", "--profile", "elite-6", "--plan", "smoke",
        "--unit", SERIAL, "--register", "--purchase-date", "2025-06-01",
    )  # fmt: skip
    assert f"unit {SERIAL} registered: elite-6, purchased 2025-06-01" in out
    shown = ok(capsys, "unit", "show", SERIAL)
    assert "elite-6" in shown and "2025-06-01" in shown and "1 bench run(s)" in shown
    assert "smoke" in ok(capsys, "history", SERIAL)


def test_a_registered_unit_is_run_as_registered(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    """A virtual run of a registered unit tests the model it is registered as; a --profile or
    a --register that contradicts the records is refused, and nothing is run."""
    ok(capsys, "unit", "add", "--serial", "E6", "--profile", "elite-6",
       "--purchase-date", "2026-02-01")  # fmt: skip
    out = ok(capsys, "run", "--virtual", "--plan", "smoke", "--unit", "E6")
    assert "plan smoke on E6 via virtual:elite-6" in out
    runs_before = ok(capsys, "history", "E6").count("smoke")
    one_line(
        spabench(capsys, "run", "--virtual", "--plan", "smoke", "--unit", "E6",
                 "--profile", "concept-4"),
        2, "registered as elite-6, not concept-4",
    )  # fmt: skip
    one_line(
        spabench(capsys, "run", "--virtual", "--plan", "smoke", "--unit", "E6",
                 "--register", "--purchase-date", "2025-01-01"),
        2, "purchased 2026-02-01, not 2025-01-01",
    )  # fmt: skip
    assert ok(capsys, "history", "E6").count("smoke") == runs_before


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--register",), "--register needs --purchase-date"),
        (("--purchase-date", "2025-06-01"), "--purchase-date is for --register"),
        (("--register", "--purchase-date", "2025-13-01"), "not a date"),
        (("--register", "--purchase-date", "2099-01-01"), "in the future"),
    ],
)
def test_register_needs_what_unit_add_needs(
    capsys: pytest.CaptureFixture[str], db: Path, extra: tuple[str, ...], message: str
) -> None:
    result = spabench(capsys, "run", "--virtual", "--plan", "smoke", "--unit", SERIAL, *extra)
    one_line(result, 2, message)
    assert not Store(db).has_unit(SERIAL)


def test_the_readme_main_job_works_on_a_fresh_machine_and_files_nothing(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    """``spabench run --virtual`` (no ``--unit``) is not filed: no database appears."""
    code, out, err = spabench(capsys, "run", "--virtual")
    assert (code, err) == (0, ""), err
    assert "not filed in the records: no --unit SERIAL" in out
    assert "verdict: PASS" in out
    assert not db.exists()


# -- simulated runs on a customer's order -----------------------------------------------------


def open_order(capsys: pytest.CaptureFixture[str]) -> str:
    out = ok(capsys, "order", "open", "--serial", SERIAL, "--symptom", "no bubbles")
    return out.strip()


def test_a_simulated_run_on_a_customer_order_needs_simulated(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    register(capsys, db)
    order = open_order(capsys)
    run = ("run", "--virtual", "--plan", "smoke", "--unit", SERIAL, "--order", order)
    result = spabench(capsys, *run)
    one_line(result, 2, "SIMULATED UNIT", "--simulated", f"order {order}")
    assert "no bench runs yet" in ok(capsys, "history", SERIAL)

    out = ok(capsys, *run, "--simulated")
    lines = out.splitlines()
    assert "SIMULATED UNIT" in next(line for line in lines if line.startswith("spabench: run"))
    assert "verdict: PASS — SIMULATED UNIT" in out
    assert any(line.startswith("Run 1 — smoke") and "SIMULATED UNIT" in line for line in lines)
    with Store(db) as store:
        (info,) = store.runs_for_order(int(order))
    assert info.simulated


def test_the_store_refuses_a_simulated_record_on_an_order(tmp_path: Path) -> None:
    from bench.records.run_records import SimulatedOnOrder

    with Store(tmp_path / "records.sqlite3") as store:
        store.add_unit(SERIAL, "premium-4", date(2025, 6, 1))
        order = store.open_order(SERIAL, "no bubbles")
        record = TestRecord(
            record_id="sim-1", plan="smoke", unit=UnitInfo(serial=SERIAL), simulated=True
        )
        with pytest.raises(SimulatedOnOrder, match="SIMULATED UNIT"):
            store.begin_run(record, order_id=order)
        assert store.runs_for_order(order) == []
        run_id = store.begin_run(record, order_id=order, allow_simulated=True)
        assert store.run(run_id).simulated


# -- Ctrl-C / SIGTERM: what was kept, frames included -----------------------------------------


def _started(
    tmp_path: Path, db: Path, *extra: str
) -> tuple[subprocess.Popen[str], Iterator[str], dict[str, str]]:
    plan = tmp_path / "waiting.toml"
    plan.write_text(WAITING_PLAN)
    env = {**os.environ, "SPABENCH_DB": str(db), "PYTHONUNBUFFERED": "1"}
    subprocess.run(
        [*BENCH, "unit", "add", "--serial", SERIAL, *REGISTER],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    bench = subprocess.Popen(
        [*BENCH, "run", "--virtual", "--speed", "100", "--plan", str(plan), "--unit", SERIAL,
         *extra],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert bench.stdout is not None
    lines = iter(bench.stdout.readline, "")
    return bench, lines, env


def _wait_for_step(lines: Iterator[str], name: str) -> list[str]:
    """Read the run's output until step ``name`` is reported finished."""
    seen = []
    for line in lines:
        seen.append(line)
        if line.split()[1:2] == [name]:  # "  pass    reports" (or fail, on a busy machine)
            return seen
    raise AssertionError(f"the run ended before step {name!r} finished: {seen}")


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("sent", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_mid_run_says_what_was_kept_and_the_frames_are_filed(
    tmp_path: Path, sent: signal.Signals, code: int
) -> None:
    db = tmp_path / "records.sqlite3"
    partial = tmp_path / "partial.json"
    bench, lines, env = _started(tmp_path, db, "--json", str(partial))
    try:
        seen = _wait_for_step(lines, "reports")  # the day-long wait is under way
        assert "run 1" in seen[0] and "SIMULATED UNIT" in seen[0]
        bench.send_signal(sent)
        _, err = bench.communicate(timeout=60)
    finally:
        if bench.poll() is None:
            bench.kill()
    assert bench.returncode == code, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("spabench run: interrupted: run 1 kept — 2 of 3 steps, "), err
    assert f"frames, in {db}; the record so far is in {partial}" in err
    said_frames = int(err.split(" of 3 steps, ")[1].split(" frames")[0].replace(",", ""))

    # The records: an interrupted run with its two steps and every frame said to be kept.
    history = subprocess.run(
        [*BENCH, "history", SERIAL], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert "interrupted" in history
    exported = json.loads(
        subprocess.run(
            [*BENCH, "report", "--run", "1", "--json", "-"],
            env=env, capture_output=True, text=True, check=True,
        ).stdout
    )  # fmt: skip
    assert exported["status"] == "interrupted"
    record = exported["record"]
    assert [s["name"] for s in record["steps"]] == ["link", "reports"]
    frames = record["frames"]
    assert said_frames == len(frames) > 0
    assert {f["sender"] for f in frames} == {"box", "remote"}
    # frames of the wait that was cut short too, not only those up to the last step's end
    assert max(f["t"] for f in frames) > record["steps"][-1]["finished"]
    # and the record so far, in the --json asked for
    saved = json.loads(partial.read_text())
    assert saved["verdict"] == "interrupted" and len(saved["frames"]) >= len(frames)


@pytest.mark.timeout(120)
def test_a_killed_run_keeps_the_frames_of_its_finished_steps(tmp_path: Path) -> None:
    """SIGKILL leaves no chance to say anything: the chunks stored at each step's end stay."""
    db = tmp_path / "records.sqlite3"
    bench, lines, env = _started(tmp_path, db)
    try:
        _wait_for_step(lines, "reports")
        bench.kill()
        bench.wait(30)
    finally:
        if bench.poll() is None:
            bench.kill()
    exported = json.loads(
        subprocess.run(
            [*BENCH, "report", "--run", "1", "--json", "-"],
            env=env, capture_output=True, text=True, check=True,
        ).stdout
    )  # fmt: skip
    record = exported["record"]
    assert exported["status"] == "interrupted"
    reports = record["steps"][-1]
    assert reports["name"] == "reports"
    assert max(f["t"] for f in record["frames"]) >= reports["started"]


class FramesSeenMidStep(NoHooks):
    """Reads the records while the long step runs: how many frames are stored already."""

    def __init__(self, store: Store, filing: RunFiling) -> None:
        self.store = store
        self.filing = filing
        self.mid_step: list[int] = []
        self.step: str = ""

    def on_step_started(self, step: object) -> None:
        self.step = getattr(step, "name", "")

    def on_progress(self, label: str, done: float, total: float) -> None:
        if self.step == "long-wait" and self.filing.run_id is not None:
            self.mid_step.append(len(self.store.run_record(self.filing.run_id).frames))


def test_frames_are_stored_during_a_long_step_not_only_at_its_end(tmp_path: Path) -> None:
    plan_file = tmp_path / "waiting.toml"
    plan_file.write_text(WAITING_PLAN.replace("86400", "400"))
    plan = load_plan(plan_file)
    with Store(tmp_path / "records.sqlite3") as store:
        filing = RunFiling(store, SERIAL)
        watcher = FramesSeenMidStep(store, filing)
        target = virtual_box_target(serial=SERIAL)
        try:
            record = Runner(plan, target, hooks=[filing, watcher]).run()
        finally:
            target.close()
        assert filing.run_id is not None
        stored_after_two_steps = watcher.mid_step[0]
        assert max(watcher.mid_step) > stored_after_two_steps > 0
        assert len(store.run_record(filing.run_id).frames) == len(record.frames)


# -- --speed on --virtual ---------------------------------------------------------------------


def test_a_paced_virtual_run_is_the_same_run(
    capsys: pytest.CaptureFixture[str], db: Path, tmp_path: Path
) -> None:
    """``--virtual --speed X`` runs the same box and bench code on a wall-clock driver (the
    signal tests above rely on it pacing: their run is still going after two steps)."""
    plan = tmp_path / "quick.toml"
    plan.write_text(WAITING_PLAN.split('[[step]]\nname = "long-wait"')[0])
    out = ok(capsys, "run", "--virtual", "--plan", str(plan), "--speed", "10", "--no-store")
    assert "verdict: PASS" in out
    one_line(spabench(capsys, "run", "--virtual", "--speed", "0"), 2, "--speed must be")


# -- answers files ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "needles"),
    [
        ("bubles-visible = true\n", ("unknown prompt id 'bubles-visible'", "'bubbles-visible'")),
        ('"pump-running" = "yes"\n', ("'pump-running' is a yes/no question", "'yes'")),
        ('"mm-transformer-vac" = "12 V"\n', ("'mm-transformer-vac'", "a number")),
        ('model-plate = "jacuzzi-9"\n', ("'model-plate' must be one of", "premium-4")),
        ("lid-closed = true\n", ("unknown prompt id 'lid-closed'",)),
    ],
)
def test_answers_files_are_checked_before_the_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str, needles: tuple[str, ...]
) -> None:
    """Checked before the port is opened (a unit the file answers for: a real one)."""
    answers = tmp_path / "answers.toml"
    answers.write_text(content)
    result = spabench(
        capsys, "run", "--port", str(tmp_path / "no-such-adapter"), "--plan", "smoke",
        "--answers", str(answers), "--no-store",
    )  # fmt: skip
    one_line(result, 2, f"answers file {answers}", *needles)
    assert result[1] == ""


def test_an_answers_file_may_answer_the_plans_own_prompts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    plan = tmp_path / "lid.toml"
    plan.write_text(
        'name = "lid"\n[[step]]\nname = "lid"\ntype = "operator-confirm"\nprompt = "lid-closed"\n'
    )
    answers = tmp_path / "answers.toml"
    answers.write_text("lid-closed = true\n")
    run = ("run", "--virtual", "--plan", str(plan), "--answers", str(answers), "--no-store")
    assert "verdict: PASS" in ok(capsys, *run)
    answers.write_text('lid-closed = "closed"\n')
    one_line(spabench(capsys, *run), 2, "'lid-closed' is a yes/no question")


# -- one run id, one time format --------------------------------------------------------------


def test_a_run_has_one_id_everywhere(
    capsys: pytest.CaptureFixture[str], db: Path, tmp_path: Path
) -> None:
    register(capsys, db)
    saved = tmp_path / "run.json"
    out = ok(capsys, "run", "--virtual", "--plan", "smoke", "--unit", SERIAL, "--json", str(saved))
    record = json.loads(saved.read_text())
    assert record["record_id"][:8] not in out  # the UUID is for machines (the JSON)
    lines = out.splitlines()
    assert lines[0].startswith("spabench: run 1: plan smoke on SN123")
    assert any(
        line.startswith(f"Run 1 — smoke — {display_time(record['started_at'])}") for line in lines
    )
    assert "filed as run 1" in out
    history = ok(capsys, "history", SERIAL)
    row = next(line for line in history.splitlines() if line.startswith("│ 1 "))
    assert display_time(record["started_at"]) in row and "+00:00" not in row
    assert "final run 1 pass" in ok(capsys, "report", "--run", "1", "--json", str(tmp_path / "r"))


# -- review of issue 13 (h9): answers with --virtual, --json -, interrupted trace, pipes -------


README_ANSWERS = """\
bubbles-visible = true      # Do you see bubbles in the test tank?
"pump-running" = true       # Is the filter pump running (you hear it)?
"blower-running" = true     # Is the air blower running (you hear it)?
"prcd-light" = true         # Is the PRCD's indicator light on?
"mm-transformer-vac" = 12.1 # multimeter, V AC at the transformer's secondary
"""
"""The README's answers example: answers a person at a real unit gives."""


@pytest.mark.parametrize("plan", ["full", "verify-knob", "verify-prcd"])
def test_answers_for_the_bench_prompts_are_refused_on_a_virtual_unit(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, plan: str
) -> None:
    """A file's answers never reach a virtual unit (nobody presses its PRCD or turns its
    knob, and "bubbles?" has one answer whatever the knob): a healthy virtual box would fail
    and parts be named. The bench's own prompts are its virtual person's; the line says so
    and names the way to rehearse a served box."""
    answers = tmp_path / "answers.toml"
    answers.write_text(README_ANSWERS)
    result = spabench(
        capsys, "run", "--virtual", "--plan", plan, "--answers", str(answers), "--no-store"
    )
    err = one_line(result, 2, f"answers file {answers}", "--virtual", "virtual operator")
    assert "--operator control://" in err and "spasim serve --control" in err
    assert result[1] == ""  # nothing was run, no part named


def test_a_virtual_unit_takes_answers_to_its_plans_own_prompts_only(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The plan's own question (a lid the simulation has no idea of) comes from the file; the
    knob and the bubbles stay the virtual person's, so a healthy box passes."""
    knob = (Path(__file__).parents[1] / "bench/testing/plans/verify-knob.toml").read_text()
    plan = tmp_path / "lid-and-knob.toml"
    plan.write_text(
        knob.replace('name = "verify-knob"', 'name = "lid-and-knob"').replace("verifies", "#")
        + '\n[[step]]\nname = "lid"\ntype = "operator-confirm"\nprompt = "lid-closed"\n'
    )
    answers = tmp_path / "answers.toml"
    answers.write_text("lid-closed = true\n")
    saved = tmp_path / "run.json"
    run = ("run", "--virtual", "--plan", str(plan), "--answers", str(answers), "--no-store")
    assert "verdict: PASS" in ok(capsys, *run, "--json", str(saved))
    record = json.loads(saved.read_text())
    assert [s["outcome"] for s in record["steps"]] == ["pass"] * 4
    assert record["suspected_parts"] == []


def test_json_to_standard_output_is_the_only_thing_on_it(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    """``--json -``: standard output is the record and nothing else (a pipe into jq works);
    the first line, the steps, the summary and "filed as run 1" go to standard error."""
    register(capsys, db)
    code, out, err = spabench(capsys, "run", "--virtual", "--plan", "smoke", "--unit", SERIAL,
                              "--json", "-")  # fmt: skip
    assert code == 0, err
    record = json.loads(out)
    assert record["verdict"] == "pass" and record["plan"] == "smoke"
    assert err.startswith("spabench: run 1: plan smoke on SN123")
    assert "verdict: PASS" in err and "filed as run 1" in err
    code, out, err = spabench(capsys, "run", "--virtual", "--plan", "smoke", "--json", "-")
    assert code == 0 and json.loads(out)["verdict"] == "pass"
    assert "not filed in the records: no --unit SERIAL" in err


@pytest.mark.timeout(120)
def test_an_interrupted_run_keeps_its_trace_and_its_record_agrees_with_the_partial_json(
    tmp_path: Path,
) -> None:
    """The charts' samples are stored as the run goes, like the frames; the record so far in
    ``--json`` holds the same steps as the records (the step under way is not one of them:
    the error names it) and the same trace."""
    db = tmp_path / "records.sqlite3"
    partial = tmp_path / "partial.json"
    bench, lines, env = _started(tmp_path, db, "--json", str(partial))
    try:
        _wait_for_step(lines, "reports")
        bench.send_signal(signal.SIGINT)
        _, err = bench.communicate(timeout=60)
    finally:
        if bench.poll() is None:
            bench.kill()
    assert bench.returncode == 130, err
    assert "2 of 3 steps" in err
    exported = json.loads(
        subprocess.run(
            [*BENCH, "report", "--run", "1", "--json", "-"],
            env=env, capture_output=True, text=True, check=True,
        ).stdout
    )  # fmt: skip
    stored = exported["record"]
    saved = json.loads(partial.read_text())
    assert (
        [s["name"] for s in saved["steps"]]
        == [s["name"] for s in stored["steps"]]
        == [
            "link",
            "reports",
        ]
    )
    assert saved["error"].startswith("interrupted (SIGINT)")
    if "during step" in saved["error"]:  # (the signal nearly always lands in the long wait)
        assert "during step 3 of 3 (long-wait" in saved["error"]
    assert len(stored["trace"]) >= 2  # a sample at each finished step at least
    assert stored["trace"] == saved["trace"]
    assert stored["frames"] == saved["frames"]


@pytest.mark.timeout(120)
def test_a_run_whose_reader_went_away_is_filed_as_usual_and_ends_quietly(
    tmp_path: Path,
) -> None:
    """``spabench run … | head -3``: the reader leaving is no reason to stop a test or lose
    its record. The run goes on to its verdict, is filed and its ``--json`` written, nothing
    is said about the pipe, and the exit code is the verdict's (here: 1, a failing box).
    Deterministic: standard output is a pipe nobody reads from, so the first line breaks."""
    db = tmp_path / "records.sqlite3"
    saved = tmp_path / "run.json"
    env = {**os.environ, "SPABENCH_DB": str(db), "PYTHONUNBUFFERED": "1"}
    subprocess.run(
        [*BENCH, "unit", "add", "--serial", SERIAL, *REGISTER],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone (head -3 after its three lines)
    try:
        bench = subprocess.run(
            [*BENCH, "run", "--virtual", "--plan", "smoke", "--fault", "filter-pump-dead",
             "--unit", SERIAL, "--json", str(saved)],
            env=env, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=100,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert (bench.returncode, bench.stderr) == (1, "")
    assert json.loads(saved.read_text())["verdict"] == "fail"
    history = subprocess.run(
        [*BENCH, "history", SERIAL], env=env, capture_output=True, text=True, check=True
    ).stdout
    row = next(line for line in history.splitlines() if line.startswith("│ 1 "))
    assert " fail " in row and "interrupted" not in history


def test_history_names_the_operator_of_a_simulated_run_as_the_report_does(
    capsys: pytest.CaptureFixture[str], db: Path, tmp_path: Path
) -> None:
    """Nobody called "virtual" ran a test: history says "simulated operator", as the report."""
    register(capsys, db)
    ok(capsys, "run", "--virtual", "--plan", "smoke", "--unit", SERIAL)
    row = next(line for line in ok(capsys, "history", SERIAL).splitlines() if "│ 1 " in line)
    assert "simulated operator" in row and "virtual" not in row
    report = ok(capsys, "report", "--run", "1", "--html", str(tmp_path / "r.html"))
    assert report  # the report's words for the same run
    assert "simulated operator" in (tmp_path / "r.html").read_text()
