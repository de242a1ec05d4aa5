"""Hostile input files (issue 10): binary data, 5,000-deep nested TOML, absurd numbers.

Each case goes through the real command line and must end in one line on stderr naming the
file and what is wrong, exit 2 (usage error), no traceback.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cli_runner import Result, cli, one_line

from bench.cli import main as spabench_main
from spasim.cli import main as spasim_main

DEEP = 5000


def one_line_usage_error(result: Result, *needles: str) -> str:
    return one_line(result, 2, *needles)


@pytest.fixture
def binary(tmp_path: Path) -> Path:
    path = tmp_path / "binary.toml"
    path.write_bytes(bytes(range(256)) * 8)
    return path


@pytest.fixture
def not_utf8(tmp_path: Path) -> Path:
    path = tmp_path / "latin1.toml"
    path.write_bytes('name = "caf\xe9"\n'.encode("latin-1"))
    return path


@pytest.fixture
def deep_array(tmp_path: Path) -> Path:
    path = tmp_path / "deep-array.toml"
    path.write_text("a = " + "[" * DEEP + "]" * DEEP + "\n", encoding="utf-8")
    return path


@pytest.fixture
def deep_table(tmp_path: Path) -> Path:
    path = tmp_path / "deep-table.toml"
    path.write_text("a = " + "{b = " * DEEP + "1" + "}" * DEEP + "\n", encoding="utf-8")
    return path


@pytest.fixture
def deep_dotted(tmp_path: Path) -> Path:
    """Nesting without brackets: dotted keys make tables too."""
    path = tmp_path / "deep-dotted.toml"
    path.write_text(".".join(["k"] * DEEP) + " = 1\n", encoding="utf-8")
    return path


HOSTILE = ["binary", "not_utf8", "deep_array", "deep_table", "deep_dotted"]
REASON = {
    "binary": "not a text file",
    "not_utf8": "not UTF-8 text",
    "deep_array": "nested more than",
    "deep_table": "nested more than",
    "deep_dotted": "nested more than",
}


@pytest.mark.parametrize("kind", HOSTILE)
def test_a_hostile_plan_file_is_one_line(
    kind: str, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    path: Path = request.getfixturevalue(kind)
    result = cli(spabench_main, capsys, "run", "--virtual", "--no-store", "--plan", str(path))
    one_line_usage_error(result, str(path), REASON[kind])


@pytest.mark.parametrize("kind", HOSTILE)
def test_a_hostile_answers_file_is_one_line(
    kind: str, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    path: Path = request.getfixturevalue(kind)
    result = cli(spabench_main, capsys, "run", "--virtual", "--no-store", "--answers", str(path))
    one_line_usage_error(result, "answers file", str(path), REASON[kind])


@pytest.mark.parametrize("kind", HOSTILE)
def test_a_hostile_profile_file_is_one_line(
    kind: str, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    path: Path = request.getfixturevalue(kind)
    result = cli(spasim_main, capsys, "simulate", "--hours", "0.01", "--profile", str(path))
    one_line_usage_error(result, str(path), REASON[kind])


def test_a_huge_plan_file_is_refused_by_size(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "huge.toml"
    with path.open("wb") as stream:  # sparse: no disk used
        stream.truncate(64 * 1024 * 1024)
    result = cli(spabench_main, capsys, "run", "--virtual", "--no-store", "--plan", str(path))
    one_line_usage_error(result, str(path), "larger than")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("water_litres = 1e308", "water_litres must be"),
        ("water_litres = inf", "water_litres must be"),
        ("water_litres = nan", "water_litres must be"),
        ("[heater]\nstage2_w = 1e300", "heater_stage2_w must be"),
        ("[link]\nwatchdog_s = 1e20", "link_watchdog_s must be"),
        ("[blower]\nlevel_w = [500.0, 700.0, 1e99]", "blower_level_w must be"),
        ("[setpoint]\nmax_c = 9223372036854775807", "setpoint_max_c must be"),
    ],
)
def test_profile_numbers_outside_their_physical_range_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, reason: str
) -> None:
    path = tmp_path / "custom.toml"
    path.write_text(f'base = "premium-4"\nname = "custom"\n{line}\n', encoding="utf-8")
    result = cli(spasim_main, capsys, "simulate", "--hours", "0.01", "--profile", str(path))
    one_line_usage_error(result, reason)


@pytest.mark.parametrize("seconds", ["1" + "0" * 29 + ".000000", "999999999999.5"])
def test_a_capture_time_beyond_ten_years_is_refused_before_replaying(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], seconds: str
) -> None:
    path = tmp_path / "capture.txt"
    path.write_text(f"# spasim capture v1\n{seconds} remote A5 01 02 A8\n", encoding="utf-8")
    # loop:// is pyserial's in-process loopback: nothing leaves this process
    result = cli(spabench_main, capsys, "replay", str(path), "--to", "loop://")
    one_line_usage_error(result, str(path), "line 2", "ten years")


def test_a_capture_without_line_breaks_is_refused_by_line_length(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "capture.txt"
    path.write_bytes(b"# spasim capture v1\n" + b"A" * (2 * 1024 * 1024))
    result = cli(spabench_main, capsys, "replay", str(path))
    one_line_usage_error(result, "line 2", "longer than")


@pytest.mark.parametrize("speed", ["1e-300", "1e300"])
def test_replay_speed_has_bounds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], speed: str
) -> None:
    path = tmp_path / "capture.txt"
    path.write_text("# spasim capture v1\n0.000000 remote A5 01 02 A8\n", encoding="utf-8")
    result = cli(spabench_main, capsys, "replay", str(path), "--to", "loop://", "--speed", speed)
    one_line_usage_error(result, "--speed")


def test_a_directory_as_plan_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "plan.toml"
    folder.mkdir()
    result = cli(spabench_main, capsys, "run", "--virtual", "--no-store", "--plan", str(folder))
    one_line_usage_error(result, "cannot read plan file", os.strerror(21))


@pytest.mark.parametrize("value", ["inf", "nan", "-inf", "1e300", "9" * 400])
def test_numbers_in_an_answers_file_have_a_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    path = tmp_path / "answers.toml"
    path.write_text(f"bubbles-visible = true\nclamp-a = {value}\n", encoding="utf-8")
    # a real unit's answers (a --virtual run takes no bench answers); checked before the port
    port = str(tmp_path / "no-such-adapter")
    result = cli(spabench_main, capsys, "run", "--port", port, "--no-store", "--answers", str(path))
    one_line_usage_error(result, str(path), "clamp-a", "finite number")
