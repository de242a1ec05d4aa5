"""Issue 13, deliverable 6 — the spasim CLI, the thermostat, replay and coverage as a new user
meets them:

* ``spasim diagram --format svg`` comes with an install extra, and without it (or without
  Graphviz's ``dot``) says in one line what to install; mermaid and dot need nothing;
* a long ``spasim simulate`` shows its progress and draws a plot of a sane size that still
  shows the extremes;
* the panel's thermostat holds the water *around* its set-point (SPEC §3: "it toggles 0x01
  around the set-point, hysteresis 1 °C"): a 40 °C set-point is 40 °C on average, not 39.5;
* ``spabench coverage`` counts healthy boxes the way its help does;
* ``spabench replay`` reads a capture without the ``# spasim capture v1`` line, like the
  public one in ``shared/captures/``, and names the first line that is not a capture line.
"""

from __future__ import annotations

import csv
import importlib.util
import re
import shutil
import sys
import tomllib
from pathlib import Path

import pytest
from cli_runner import cli, one_line, spabench

from spasim.cli import main as spasim_main
from spasim.simulation import Scenario, Trace, simulate

ROOT = Path(__file__).parent.parent
PUBLIC_CAPTURE = Path(__file__).parent / "captures" / "mspa-wifi-readme.cap"
"""A copy of ``shared/captures/mspa-wifi-readme.cap``: a published log, no version line."""


def spasim(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    return cli(spasim_main, capsys, *args)


def number(pattern: str, text: str) -> int:
    """The whole number ``pattern``'s first group finds in ``text`` (the test fails if none)."""
    found = re.search(pattern, text)
    assert found, (pattern, text)
    return int(found[1])


def hide_graphviz(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *, package: bool, dot: bool
) -> None:
    """The machine as it is without the Python package and/or Graphviz's ``dot``."""
    if package:
        monkeypatch.setitem(sys.modules, "graphviz", None)  # import fails, find_spec is None
    if dot:
        empty = tmp_path / "bin"
        empty.mkdir(exist_ok=True)
        monkeypatch.setenv("PATH", str(empty))


# ------------------------------------------------------------------ spasim diagram


def test_the_diagram_extra_brings_the_package_svg_and_png_need() -> None:
    """transitions' graphviz backend imports the ``graphviz`` package: an extra provides it."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extra = project["optional-dependencies"].get("diagram", [])
    names = {re.split(r"[<>=!~\[; ]", requirement)[0].lower() for requirement in extra}
    assert "graphviz" in names, extra
    assert "graphviz" not in {
        re.split(r"[<>=!~\[; ]", requirement)[0].lower() for requirement in project["dependencies"]
    }, "an extra, not a dependency every install pays for"


@pytest.mark.parametrize(
    ("package", "dot"),
    [(True, True), (True, False), (False, True)],
    ids=["neither", "no-package", "no-dot"],
)
@pytest.mark.parametrize("image", ["svg", "png"])
def test_an_image_without_graphviz_names_the_extra_and_the_system_package(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    package: bool,
    dot: bool,
    image: str,
) -> None:
    hide_graphviz(monkeypatch, tmp_path, package=package, dot=dot)
    out = tmp_path / f"box.{image}"
    result = spasim(capsys, "diagram", "--format", image, "-o", str(out))
    err = one_line(result, 3, f"--format {image} needs")
    if package:
        assert "pip install 'spasim[diagram]'" in err
    if dot:
        assert "apt install graphviz" in err and "dot" in err
    assert not out.exists()


@pytest.mark.parametrize("text_format", ["mermaid", "dot"])
def test_mermaid_and_dot_need_nothing_installed(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    text_format: str,
) -> None:
    hide_graphviz(monkeypatch, tmp_path, package=True, dot=True)
    code, out, err = spasim(capsys, "diagram", "--format", text_format)
    assert code == 0 and err == ""
    assert out.startswith("stateDiagram-v2" if text_format == "mermaid" else "digraph spasim {")


@pytest.mark.skipif(
    shutil.which("dot") is None or importlib.util.find_spec("graphviz") is None,
    reason="needs the 'diagram' extra and Graphviz's dot (CI installs neither)",
)
def test_with_the_extra_and_dot_the_images_are_drawn(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    board = tmp_path / "box.svg"
    assert spasim(capsys, "diagram", "--format", "svg", "-o", str(board))[0] == 0
    svg = board.read_text(encoding="utf-8")
    assert "<svg" in svg and "blower" in svg and "heater" in svg
    region = tmp_path / "heater.png"
    assert (
        spasim(capsys, "diagram", "--format", "png", "--region", "heater", "-o", str(region))[0]
        == 0
    )
    assert region.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


# ------------------------------------------------------------------ spasim simulate progress


def test_simulate_progress_on_request_goes_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = spasim(capsys, "simulate", "--hours", "2", "--progress")
    assert code == 0
    lines = err.splitlines()
    assert lines, "no progress shown"
    shares = [number(r"\Asimulated [\d.]+ of 2 h \((\d+)%\)\Z", line) for line in lines]
    assert shares == sorted(shares) and len(set(shares)) == len(shares)
    assert shares[-1] == 100 and len(shares) >= 5
    assert out.startswith("simulated premium-4, 2 h"), "stdout keeps the summary alone"


def test_simulate_shows_no_progress_when_stderr_is_not_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = spasim(capsys, "simulate", "--hours", "2")
    assert code == 0 and err == ""
    code, _, err = spasim(capsys, "simulate", "--hours", "2", "--no-progress")
    assert code == 0 and err == ""


# ------------------------------------------------------------------ a long run: plot, thermostat

LONG_HOURS = 240.0
"""The issue's run: ``spasim simulate --hours 240 --plot`` wrote a 29 MB SVG."""
PLOT_LIMIT_BYTES = 2_000_000


@pytest.fixture(scope="module")
def long_run() -> Trace:
    return simulate(Scenario(hours=LONG_HOURS))


def test_a_240_hour_plot_is_of_a_sane_size(long_run: Trace, tmp_path: Path) -> None:
    from spasim.plot import plot_trace

    path = tmp_path / "long.svg"
    plot_trace(long_run, path)
    assert path.stat().st_size < PLOT_LIMIT_BYTES, path.stat().st_size


def test_a_240_hour_plot_still_shows_the_extremes(long_run: Trace) -> None:
    """Decimated, the water curve still starts and ends where the run did and reaches its
    lowest and highest temperature."""
    from spasim.plot import trace_figure

    figure = trace_figure(long_run)
    (water,) = [line for line in figure.axes[0].get_lines() if line.get_label() == "water (true)"]
    plotted = [float(value) for value in water.get_ydata()]
    times = [float(value) for value in water.get_xdata()]
    rows = long_run.rows
    assert len(plotted) < len(rows) / 10, "not decimated"
    assert plotted[0] == rows[0].water_c and plotted[-1] == rows[-1].water_c
    assert min(plotted) == min(row.water_c for row in rows)
    assert max(plotted) == max(row.water_c for row in rows)
    assert times[0] == 0.0 and times[-1] == pytest.approx(rows[-1].time_s / 3600)
    # The set-point reached after hours of heating: holding, the curve stays within the band.
    holding = [row.water_c for row in rows if row.time_s > 12 * 3600]
    assert max(plotted[len(plotted) // 2 :]) == pytest.approx(max(holding[len(holding) // 2 :]))


def _mean_after(times: list[float], water: list[float], since: float, end: float) -> float:
    """Time-weighted mean of a step trace (each value holds until the next time)."""
    total = 0.0
    for index, (t, value) in enumerate(zip(times, water, strict=True)):
        if t < since:
            continue
        following = times[index + 1] if index + 1 < len(times) else end
        total += (following - t) * value
    return total / (end - since)


def test_the_thermostat_holds_the_water_at_its_setpoint_on_average(long_run: Trace) -> None:
    """SPEC §3: the panel toggles 0x01 around the set-point. Over a long steady run the
    true water averages the set-point (it held 39.5 °C under 40)."""
    summary = long_run.summary()
    reached = summary.setpoint_reached_s
    assert reached is not None and reached < LONG_HOURS * 3600 / 4
    setpoint = long_run.scenario.target_c
    assert setpoint == 40
    rows = long_run.rows
    mean = _mean_after(
        [row.time_s for row in rows], [row.water_c for row in rows], reached, rows[-1].time_s
    )
    assert mean == pytest.approx(setpoint, abs=0.3)


def test_the_thermostat_holds_around_the_setpoint_on_a_double_setpoint_model(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The same through ``spasim simulate`` on a model whose set-point travels as °C × 2,
    read from the CSV a user gets."""
    path = tmp_path / "run.csv"
    code, out, _ = spasim(
        capsys, "simulate", "--hours", "30", "--profile", "super-camaro", "--setpoint", "38",
        "--csv", str(path),
    )  # fmt: skip
    assert code == 0, out
    with path.open(encoding="utf-8", newline="") as stream:
        table = list(csv.DictReader(stream))
    times = [float(row["time_s"]) for row in table]
    water = [float(row["water_c"]) for row in table]
    first_off = next(
        float(row["time_s"]) for row in table if "thermostat: heat off" in row["event"]
    )
    assert first_off < 15 * 3600
    assert _mean_after(times, water, first_off, 30 * 3600) == pytest.approx(38, abs=0.3)
    reported = [float(row["reported_c"]) for row in table if float(row["time_s"]) > first_off]
    assert min(reported) < 38 < max(reported), "the band is around the set-point"


# ------------------------------------------------------------------ spabench coverage


def _healthy_default_in_help(capsys: pytest.CaptureFixture[str]) -> int:
    code, out, _ = spabench(capsys, "coverage", "--help")
    assert code == 0
    found = re.search(r"healthy boxes per cell\s+\(default\s+(\d+)\)", out)
    assert found, out
    return int(found[1])


def _healthy_boxes_printed(out: str) -> tuple[int, int, int]:
    found = re.search(r"(\d+) healthy boxes\s+\((\d+) per cell\s+×\s+(\d+) cells?\)", out)
    assert found, out
    return int(found[1]), int(found[2]), int(found[3])


def test_coverage_prints_as_many_healthy_boxes_as_its_help_says(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The issue: the help said 10 healthy boxes, the count said 11 (the panel's healthy case
    was counted with them)."""
    one_cell = ("--instruments", "ideal", "--profile", "premium-4", "--workers", "1")
    code, out, _ = spabench(capsys, "coverage", "--healthy", "10", *one_cell)
    assert code == 0, out
    assert _healthy_boxes_printed(out) == (10, 10, 1)
    default = _healthy_default_in_help(capsys)
    code, out, _ = spabench(capsys, "coverage", *one_cell)
    assert code == 0, out
    assert _healthy_boxes_printed(out) == (default, default, 1)


def test_coverage_counts_healthy_boxes_per_cell(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = spabench(
        capsys, "coverage", "--healthy", "2", "--instruments", "ideal", "--instruments",
        "clamp", "--profile", "premium-4", "--workers", "1",
    )  # fmt: skip
    assert code == 0, out
    assert _healthy_boxes_printed(out) == (4, 2, 2)
    runs = number(r"(\d+) runs in", out)
    faults = number(r"(\d+) fault runs", out)
    panel = number(r"plus the panel's (\d+)", out)
    assert runs == faults + 4 + panel


# ------------------------------------------------------------------ spabench replay


def test_replay_reads_the_public_capture_that_has_no_version_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = PUBLIC_CAPTURE.read_text(encoding="utf-8")
    assert "# spasim capture v1" not in text
    code, out, err = spabench(capsys, "replay", str(PUBLIC_CAPTURE))
    assert (code, err) == (0, ""), err
    frames = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
    assert "remote→box A5 0B 00 B0" in out and "water 23.5 °C" in out
    box = re.search(r"box→remote: (\d+) frames, 0 bad sums, 0 discarded bytes", out)
    remote = re.search(r"remote→box: (\d+) frames, 0 bad sums, 0 discarded bytes", out)
    assert box and remote and int(box[1]) + int(remote[1]) == frames


def test_replay_reads_a_handmade_file_without_the_version_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "from-analyser.cap"
    path.write_text(
        "\n# exported from a logic analyser, cut by hand\n"
        "0.5 box A5 06 2F DA\n"
        "\n"
        "0.75 remote A5 01 01 A7   # heater on\n"
        "# date: not a header here, just a comment\n"
        "1.5 box A5 06 30 DB\n",
        encoding="utf-8",
    )
    code, out, err = spabench(capsys, "replay", str(path))
    assert (code, err) == (0, ""), err
    assert "water 23.5 °C" in out and "water 24.0 °C" in out
    assert "box→remote: 2 frames" in out and "remote→box: 1 frame," in out


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("0.5 box A5 06 2F DA\n# fine\n\nthis is not a capture line\n1.0 box A5 06 2F DA\n", 4),
        ("time,sender,bytes\n0.5,box,A5 06 2F DA\n", 1),
        ("# only comments\n\n# nothing else\n", 4),
        ("0.5 box A5 06 2F DA\n0.4 box A5 06 2F DA\n", 2),
    ],
    ids=["prose", "csv", "no-frames", "time-back"],
)
def test_replay_refuses_a_file_whose_lines_are_not_capture_lines_naming_the_first(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, line: int
) -> None:
    path = tmp_path / "not.cap"
    path.write_text(text, encoding="utf-8")
    one_line(spabench(capsys, "replay", str(path)), 2, f"{path}: line {line}:")
