"""The coverage matrix over benches × profiles: every catalogue fault named with the right
part (or, where a bench cannot see it and the plan says so, reported as needing an
instrument), no false fails — and the matrix itself notices when the diagnosis goes wrong."""

from __future__ import annotations

import pytest

import bench.testing.runner
from bench.cli import main
from bench.testing.coverage import PANEL, fault_cases_ids, plan_cases, run_coverage
from bench.testing.diagnosis import Finding
from bench.testing.instruments.specs import INSTRUMENT_SETS
from bench.testing.record import TestRecord
from protocols.mspa.parts import FAULT_PARTS
from spasim.faults import fault_ids
from spasim.profiles import available_profiles


def test_bench_and_simulator_agree_on_the_fault_catalogue() -> None:
    assert set(fault_ids()) == set(FAULT_PARTS)


def test_every_fault_mode_bench_and_profile_is_a_case() -> None:
    spellings = {spelling for spelling, _ in fault_cases_ids()}
    assert {s.partition(":")[0] for s in spellings} == set(fault_ids())
    cases = plan_cases(healthy=2, seeds=1, seed=1)
    assert plan_cases(healthy=2, seeds=1, seed=1) == cases  # seeded
    for name in INSTRUMENT_SETS:
        mine = [c for c in cases if c.instruments == name and c.profile != PANEL]
        assert {c.fault for c in mine if c.fault} == spellings - {"panel-dead"}
        for profile in available_profiles():
            healthy = [c for c in mine if c.profile == profile and c.fault is None]
            assert len(healthy) == 2
    # A panel meets no bench instrument: its two cases run once.
    assert [c.fault for c in cases if c.profile == PANEL] == ["panel-dead", None]
    for case in cases:
        assert 5.0 <= case.ambient_c <= 35.0 or case.profile == PANEL
    # No UVC fault on a box without a lamp.
    assert not [c for c in cases if c.fault == "uvc-dead" and c.profile == "concept-4"]


def test_the_matrix_holds_in_every_cell() -> None:
    """CI-sized: every cell (5 benches × 5 profiles + panel), every fault, healthy units."""
    result = run_coverage(healthy=2, seeds=1, seed=3, workers=2)
    bad = [(o.case, o.result, o.summary) for o in result.bad_faults + result.false_fails]
    assert not bad
    assert result.ok
    cells = result.cells()
    assert len(cells) == len(INSTRUMENT_SETS) * len(available_profiles()) + 1
    # Only the benches without a meter report faults as needing an instrument.
    needs = {o.case.instruments for o in result.faults if o.result == "needs"}
    assert needs == {"clamp", "multimeter", "person"}


def test_matrix_fails_when_the_diagnosis_names_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def blind(record: TestRecord, plan: object = None) -> Finding:
        return Finding(summary="unit OK")

    monkeypatch.setattr(bench.testing.runner, "diagnose", blind)
    result = run_coverage(healthy=0, instruments=["sdm120"], profiles=["premium-4"], workers=1)
    assert not result.ok
    assert {o.result for o in result.faults if o.case.fault != "prcd-tripped"} == {"missed"}


def test_matrix_fails_when_the_diagnosis_names_a_part_it_cannot_know(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bench that guesses where its instruments are blind is wrong, not "needs"."""
    from bench.testing.record import SuspectedPart
    from protocols.mspa.parts import parts_for_fault

    real = bench.testing.runner.diagnose

    def guess(record: TestRecord, plan: object = None) -> Finding:
        finding = real(record, plan)  # type: ignore[arg-type]
        if not finding.parts and record.verdict != "pass":
            part = parts_for_fault("power-board-dead")[0]
            finding.parts = [SuspectedPart(part.number, part.name)]
        return finding

    monkeypatch.setattr(bench.testing.runner, "diagnose", guess)
    result = run_coverage(healthy=0, instruments=["person"], profiles=["premium-4"], workers=1)
    wrong = {o.case.fault for o in result.faults if o.result == "wrong"}
    assert "transformer-dead" in wrong


def test_coverage_command(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["coverage", "--healthy", "1", "--seed", "7", "--profile", "elite-6", "--workers", "1"]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "coverage OK" in out
    for name in INSTRUMENT_SETS:
        assert name in out
    assert "0 false fail(s)" in out


@pytest.mark.parametrize(
    ("args", "word"), [(["--healthy", "-1"], "--healthy"), (["--profile", "nope"], "nope")]
)
def test_coverage_command_rejects_silly_arguments(
    args: list[str], word: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["coverage", *args])
    assert exit_info.value.code == 2
    assert word in capsys.readouterr().err
