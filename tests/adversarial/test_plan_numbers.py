"""Issue 10: every number in a plan has a range. ``wait seconds = 1e9``, ``window = 1e308``,
``samples = 1e18`` ran for ever while memory grew; ``load-power low = 3000 high = 10`` was
accepted. Each is refused at load with one line naming the file and the step (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cli import main
from bench.testing.steps import STEP_TYPES

CASES = [
    ('type = "wait"\nseconds = 1e9', "seconds must be ≤ 86400"),
    ('type = "link-quality"\nwindow = 1e308', "window must be ≤ 3600"),
    ('type = "temperature-plausible"\nsamples = 1000000000000000000', "samples must be ≤ 100"),
    ('type = "load-power"\nload = "heater"\nlow = 3000.0\nhigh = 10.0', "low (3000) must be below"),
    ('type = "reports-present"\nlow = 2.0\nhigh = 1.0', "low (2) must be below high (1)"),
    ('type = "auto-off"\nhigh = 1e12', "high must be ≤ 7200"),
]


@pytest.mark.parametrize(("step", "message"), CASES)
def test_out_of_range_plan_numbers_are_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], step: str, message: str
) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text(f'name = "p"\n[[step]]\nname = "s"\n{step}\n')
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--virtual", "--plan", str(plan), "--no-store"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "step 1 (s)" in err
    assert len(err.strip().splitlines()) == 1


def test_every_numeric_parameter_of_every_step_type_has_a_range() -> None:
    for step_type in STEP_TYPES.values():
        for param in step_type.params:
            if param.kind in ("int", "float"):
                assert param.maximum is not None, (step_type.kind, param.name)


@pytest.mark.parametrize(
    ("args", "word"),
    [
        (["--speed", "1e6"], "--speed"),
        (["--speed", "1e-300"], "--speed"),
        (["--seed", "-1"], "--seed"),
        (["--seed", str(2**64)], "--seed"),
        (["--ambient", "nan"], "--ambient"),
    ],
)
def test_run_numbers_have_ranges(
    args: list[str], word: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--virtual", "--no-store", *args])
    assert exit_info.value.code == 2
    assert word in capsys.readouterr().err
