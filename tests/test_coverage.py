"""The coverage matrix: every catalogue fault found with the right part, no false fails —
and the matrix itself notices when the diagnosis goes wrong."""

from __future__ import annotations

import pytest

import bench.runner
from bench.cli import main
from bench.coverage import fault_cases_ids, plan_cases, run_coverage
from bench.diagnosis import Finding
from bench.record import TestRecord
from protocols.mspa.parts import FAULT_PARTS
from spasim.faults import fault_ids


def test_bench_and_simulator_agree_on_the_fault_catalogue() -> None:
    assert set(fault_ids()) == set(FAULT_PARTS)


def test_every_fault_and_mode_is_a_case() -> None:
    spellings = [spelling for spelling, _ in fault_cases_ids()]
    assert {s.partition(":")[0] for s in spellings} == set(fault_ids())
    assert "prcd-faulty:stuck-open" in spellings and "prcd-faulty:no-trip" in spellings
    cases = plan_cases(runs=4, seed=1)
    assert [c.fault for c in cases[: len(spellings)]] == spellings
    for case in cases:
        assert 5.0 <= case.ambient_c <= 35.0
    assert sum(c.fault is None for c in cases) == 5  # 4 boxes and a panel
    assert plan_cases(4, 1) == cases  # seeded


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matrix_is_complete(seed: int) -> None:
    result = run_coverage(runs=5, seed=seed)
    missed = [(o.case, o.summary) for o in result.faults if not (o.detected and o.right_part)]
    assert not missed
    assert not [(o.case, o.summary) for o in result.false_fails]
    assert result.ok


def test_matrix_fails_when_the_diagnosis_names_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def blind(record: TestRecord, plan: object = None) -> Finding:
        return Finding(summary="unit OK")

    monkeypatch.setattr(bench.runner, "diagnose", blind)
    result = run_coverage(runs=1, seed=0)
    assert not result.ok
    assert all(not o.right_part for o in result.faults if o.case.fault != "prcd-tripped")


def test_coverage_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["coverage", "--runs", "3", "--seed", "7"]) == 0
    out = capsys.readouterr().out
    assert "coverage OK" in out
    for fault in fault_ids():
        assert fault in out
    assert "0 false fail(s)" in out
