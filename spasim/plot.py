"""A picture of a :class:`~spasim.simulation.Trace` a person can read at a glance.

Two panels on one time axis: the water (true temperature, what the panel was told, the
set-point and the thermostat's hysteresis band) and the power drawn, stacked per load as
steps — the loads switch, they do not ramp. Notable events (key presses, auto-offs, the
over-temperature cut, lid, faults, the set-point reached) are marked on the water curve
and as faint vertical lines through both panels, so "bubbles were pressed here and stopped
by themselves ten minutes later" is visible without reading the CSV. Heater cycles are not
marked: the power panel already shows them, and there are dozens.

Rendered with matplotlib's object API on an Agg canvas (no pyplot, no global state, no
display needed); the file type follows the extension, ``.svg`` or ``.png``. SVG output is
made reproducible (fixed hash salt, no date) so the same run gives the same file.

A long run has far more rows than the picture has pixels (240 h: ~95,000 rows, a 29 MB SVG),
so the curves are drawn from :func:`decimate`: the time axis is cut into
:data:`PLOT_BUCKETS` buckets and each keeps its first and last row and the rows holding the
lowest and highest true water, reported water and total power — a peak or a dip survives
even when it lasts one row, and the file stays around a megabyte. Summary figures, energies
and event markers always come from every row.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Sequence
from typing import Any, NamedTuple

from spasim.board import LOADS
from spasim.simulation import NOTABLE_KINDS, Row, Scenario, Summary, Trace

PLOT_FORMATS = ("svg", "png")
PLOT_BUCKETS = 600
"""Time buckets of a decimated curve: about two pixels each across the figure's width (the
plot area is ~1,100 px at 110 dpi), so decimation changes nothing a person can see."""

_LOAD_COLOURS = {
    "heater": "#d62728",
    "blower": "#1f77b4",
    "filter": "#2ca02c",
    "ozone": "#9467bd",
    "uvc": "#8c564b",
    "standby": "#7f7f7f",
}
_STACK_ORDER = ("heater", "blower", "filter", "ozone", "uvc", "standby")
_MARKERS: dict[str, tuple[str, str]] = {
    "key": ("^", "#1f77b4"),
    "auto-off": ("v", "#ff7f0e"),
    "overtemp": ("X", "#d62728"),
    "safety": ("s", "#000000"),
    "lid": ("D", "#17becf"),
    "fault": ("P", "#e377c2"),
    "setpoint": ("*", "#2ca02c"),
}
_LABEL_OFFSETS = (12, -18, 26, -32)
"""Vertical offsets (points) of successive event labels."""
_KIND_LABELS = {
    "key": "key press",
    "auto-off": "auto-off",
    "overtemp": "over-temperature",
    "safety": "safety (PRCD, fail-safe)",
    "lid": "lid off/on",
    "fault": "fault",
    "setpoint": "set-point reached",
}


def plot_format(path: str | os.PathLike[str]) -> str:
    """``svg`` or ``png`` from the file name; ``ValueError`` for anything else."""
    extension = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    if extension not in PLOT_FORMATS:
        raise ValueError(f"plot file must end in .svg or .png, got {os.fspath(path)!r}")
    return extension


class _TimeAxis(NamedTuple):
    """The shared x axis: hours for long runs, minutes for short ones."""

    scale: float
    """Seconds per unit."""
    unit: str
    x: list[float]
    """Each row's time in units."""
    end: float
    """The end of the run in units."""

    @property
    def steps(self) -> list[float]:
        """Step plots need the last state carried to the end of the run."""
        return [*self.x, self.end]


def decimate(rows: Sequence[Row], buckets: int = PLOT_BUCKETS) -> list[Row]:
    """The rows a plot draws: all of them when there are few, else per time bucket the
    first, the last and those holding the extremes (true water, reported water, total
    power), in time order — min/max decimation, so peaks and dips survive."""
    if len(rows) <= 4 * buckets:
        return list(rows)
    start, end = rows[0].time_s, rows[-1].time_s
    width = (end - start) / buckets or 1.0
    keep: set[int] = {0, len(rows) - 1}
    bucket: list[int] = []
    current = 0
    for index, row in enumerate(rows):
        number = min(int((row.time_s - start) / width), buckets - 1)
        if number != current and bucket:
            keep.update(_extremes(rows, bucket))
            bucket = []
        current = number
        bucket.append(index)
    keep.update(_extremes(rows, bucket))
    return [rows[index] for index in sorted(keep)]


def _extremes(rows: Sequence[Row], bucket: list[int]) -> list[int]:
    """Indices of one bucket's first and last rows and of its extremes."""
    picked = [bucket[0], bucket[-1]]
    picked.append(min(bucket, key=lambda i: rows[i].water_c))
    picked.append(max(bucket, key=lambda i: rows[i].water_c))
    picked.append(min(bucket, key=lambda i: rows[i].total_w))
    picked.append(max(bucket, key=lambda i: rows[i].total_w))
    reported = [i for i in bucket if rows[i].reported_c is not None]
    if reported:
        picked.append(min(reported, key=lambda i: rows[i].reported_c or 0.0))
        picked.append(max(reported, key=lambda i: rows[i].reported_c or 0.0))
    return picked


def plot_trace(trace: Trace, path: str | os.PathLike[str]) -> None:
    """Draw ``trace`` into ``path`` (SVG or PNG by extension)."""
    fmt = plot_format(path)
    fig = trace_figure(trace)
    metadata: dict[str, Any] = {"Date": None} if fmt == "svg" else {}
    import matplotlib

    with matplotlib.rc_context({"svg.hashsalt": "spasim", "svg.fonttype": "none"}):
        fig.savefig(os.fspath(path), format=fmt, dpi=110, metadata=metadata)


def trace_figure(trace: Trace) -> Any:
    """The matplotlib ``Figure`` of ``trace``: the water panel first, the power panel second
    (each curve labelled as in the legend)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    summary = trace.summary()
    seconds = trace.scenario.seconds
    scale, unit = (3600.0, "h") if seconds >= 2 * 3600 else (60.0, "min")
    rows = decimate(trace.rows)
    axis = _TimeAxis(scale, unit, [row.time_s / scale for row in rows], seconds / scale)

    fig = Figure(figsize=(12, 7.5), layout="constrained")
    FigureCanvasAgg(fig)
    water_ax, power_ax = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    _draw_water(water_ax, power_ax, trace, rows, axis)
    _mark_events(water_ax, power_ax, trace, axis)
    water_ax.legend(loc="lower right", fontsize=8, ncols=2)
    _draw_power(power_ax, rows, summary, axis)
    _write_titles(fig, water_ax, power_ax, trace.scenario, summary)
    return fig


def _draw_water(
    water_ax: Any, power_ax: Any, trace: Trace, rows: Sequence[Row], axis: _TimeAxis
) -> None:
    """True and reported water, the set-point with its hysteresis band, the lid-off spans
    (through both panels) and the over-temperature cut when the water came near it."""
    scenario = trace.scenario
    x = axis.x
    target = scenario.target_c
    # The panel's thermostat band: 1 °C centred on the set-point (SPEC §3).
    water_ax.axhspan(target - 0.5, target + 0.5, color="#2ca02c", alpha=0.08, lw=0)
    water_ax.axhline(target, color="#2ca02c", ls="--", lw=1.2, label=f"set-point {target} °C")
    water_ax.plot(x, [row.water_c for row in rows], color="#1f3b73", lw=1.6, label="water (true)")
    reported = [(xi, row.reported_c) for xi, row in zip(x, rows, strict=True)]
    known = [(xi, value) for xi, value in reported if value is not None]
    if known:
        water_ax.plot(
            [xi for xi, _ in known],
            [value for _, value in known],
            drawstyle="steps-post",
            color="#7aa6d6",
            lw=0.7,
            alpha=0.6,
            label="reported (0x06)",
        )
    for number, lid in enumerate(scenario.lid_off):
        end = axis.end if lid.end_min is None else lid.end_min * 60.0 / axis.scale
        for ax in (water_ax, power_ax):
            ax.axvspan(
                lid.start_min * 60.0 / axis.scale,
                end,
                color="#17becf",
                alpha=0.07,
                lw=0,
                label="lid off" if number == 0 and ax is water_ax else None,
            )
    cut = scenario.profile.heater_overtemp_cut_c
    top = max(row.water_c for row in rows)
    if top > cut - 3.0:
        water_ax.axhline(cut, color="#d62728", ls=":", lw=1.0, label=f"over-temp cut {cut:g} °C")
    water_ax.margins(y=0.15)  # room for the event labels above and below the curve
    water_ax.set_ylabel("water °C")
    water_ax.grid(True, alpha=0.3)


def _mark_events(water_ax: Any, power_ax: Any, trace: Trace, axis: _TimeAxis) -> None:
    """Notable events: a marker on the water curve, a faint line through both panels, and
    a label each when there are few enough to read."""
    rows = trace.rows
    notable = [e for e in trace.events if e.kind in NOTABLE_KINDS]
    times = [row.time_s for row in rows]
    seen: set[str] = set()
    for event in notable:
        marker, colour = _MARKERS[event.kind]
        xe = event.time_s / axis.scale
        water_ax.axvline(xe, color=colour, lw=0.6, alpha=0.35)
        power_ax.axvline(xe, color=colour, lw=0.6, alpha=0.35)
        label = _KIND_LABELS[event.kind] if event.kind not in seen else None
        seen.add(event.kind)
        water_ax.plot(
            [xe],
            [_water_at(times, rows, event.time_s)],
            marker=marker,
            ms=13 if marker == "*" else 9,
            color=colour,
            ls="none",
            markeredgecolor="white",
            label=label,
        )
    labelled = [event for event in notable if event.kind != "setpoint"]
    if len(labelled) > 12:
        return
    for number, event in enumerate(labelled):
        # Staggered above/below so neighbouring events do not print over each other.
        water_ax.annotate(
            event.text,
            (event.time_s / axis.scale, _water_at(times, rows, event.time_s)),
            xytext=(6, _LABEL_OFFSETS[number % len(_LABEL_OFFSETS)]),
            textcoords="offset points",
            fontsize=7,
            color=_MARKERS[event.kind][1],
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.7},
        )


def _draw_power(power_ax: Any, rows: Sequence[Row], summary: Summary, axis: _TimeAxis) -> None:
    """The power drawn, stacked per load as steps, each labelled with its energy."""
    x_steps = axis.steps
    base = [0.0] * len(x_steps)
    for load in _STACK_ORDER:
        index = LOADS.index(load)
        values = [row.powers[index] for row in rows]
        if not any(values):
            continue
        values.append(values[-1])
        top_line = [b + v for b, v in zip(base, values, strict=True)]
        kwh = summary.energy_kwh[load]
        power_ax.fill_between(
            x_steps,
            base,
            top_line,
            step="post",
            color=_LOAD_COLOURS[load],
            alpha=0.75,
            lw=0,
            label=f"{load} {kwh:.2f} kWh",
        )
        base = top_line
    power_ax.set_ylabel("power W")
    power_ax.set_xlabel(f"time since mains on ({axis.unit})")
    power_ax.set_xlim(0, axis.end)
    power_ax.set_ylim(bottom=0)
    power_ax.grid(True, alpha=0.3)
    if base != [0.0] * len(x_steps):
        power_ax.legend(loc="upper right", fontsize=8, ncols=3)
    else:
        power_ax.text(0.5, 0.5, "no load drew power", transform=power_ax.transAxes, ha="center")


def _write_titles(
    fig: Any, water_ax: Any, power_ax: Any, scenario: Scenario, summary: Summary
) -> None:
    """The model above everything, the scenario over the water, the figures over the power."""
    fig.suptitle(
        f"spasim simulate — {scenario.profile.model} ({scenario.profile.name}, "
        f"{scenario.profile.water_litres:g} L)",
        fontsize=12,
    )
    water_ax.set_title(_wrap(scenario.describe(), 150), fontsize=9)
    reached = (
        "set-point not reached"
        if summary.setpoint_reached_s is None
        else f"set-point after {summary.setpoint_reached_s / 3600:.2f} h"
    )
    holding = summary.heater_duty_holding
    duty = "" if holding is None else f", heater duty {holding:.0%} while holding"
    power_ax.set_title(
        f"total {summary.total_kwh:.2f} kWh, {reached}{duty}, "
        f"{summary.heater_starts} heater starts",
        fontsize=9,
    )


def _water_at(times: list[float], rows: list[Row], when: float) -> float:
    """The true water temperature of the last row at or before ``when`` (rows are written at
    every event, so this is the value at the event)."""
    return rows[max(0, bisect.bisect_right(times, when) - 1)].water_c


def _wrap(text: str, width: int) -> str:
    """Break a long comma-separated title into lines of at most ``width`` characters."""
    lines: list[str] = []
    current = ""
    for part in text.split(", "):
        candidate = part if not current else f"{current}, {part}"
        if len(candidate) > width and current:
            lines.append(current)
            current = part
        else:
            current = candidate
    lines.append(current)
    return "\n".join(lines)
