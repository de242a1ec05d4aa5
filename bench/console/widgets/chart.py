"""Water temperature and supply power over the last minutes.

Why not Textual's ``Sparkline``: it always stretches its data between the data's own minimum
and maximum, so a meter's ±0.1 % noise on a flat 2 W standby fills the whole height and looks
like a signal, and a chart of five samples looks like one of five hundred. :class:`Trend`
draws the same block characters on a fixed time axis (the session's history window, newest
at the right) and a scale the caller chooses (power from 0 W; water over at least 2 °C).
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Label

from bench.console.state import Snapshot

BARS = " ▁▂▃▄▅▆▇█"
"""Eighths of a cell, from empty to full."""


def columns(
    points: Sequence[tuple[float, float]], start: float, window: float, width: int
) -> list[float | None]:
    """The highest value in each of ``width`` equal slices of ``[start, start + window]``."""
    cells: list[float | None] = [None] * width
    if width <= 0 or window <= 0:
        return cells
    for t, value in points:
        index = int((t - start) / window * width)
        if 0 <= index < width:
            current = cells[index]
            cells[index] = value if current is None else max(current, value)
        elif index == width:
            current = cells[-1]
            cells[-1] = value if current is None else max(current, value)
    return cells


def bar_rows(cells: Sequence[float | None], low: float, high: float, height: int) -> list[str]:
    """Rows (top first) of block characters; a present value shows at least one eighth."""
    steps = height * 8
    extent = high - low or 1.0
    levels = [
        None if value is None else min(steps, max(1, round((value - low) / extent * steps)))
        for value in cells
    ]
    rows = []
    for row in range(height):
        floor = (height - 1 - row) * 8
        rows.append(
            "".join(
                " " if level is None else BARS[min(8, max(0, level - floor))] for level in levels
            )
        )
    return rows


class Trend(Widget):
    """A block-character chart of ``(t, value)`` points on a fixed time axis and scale."""

    DEFAULT_CSS = """
    Trend {
        height: 2;
        width: 1fr;
    }
    """

    def __init__(self, style: str = "", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.style = style
        self.points: list[tuple[float, float]] = []
        self.start = 0.0
        self.window = 600.0
        self.low = 0.0
        self.high = 1.0

    def plot(
        self,
        points: list[tuple[float, float]],
        *,
        end: float,
        window: float,
        low: float,
        high: float,
    ) -> None:
        self.points = points
        self.start = end - window
        self.window = window
        self.low = low
        self.high = high
        self.refresh()

    def render(self) -> Text:
        width, height = self.size.width, max(1, self.size.height)
        cells = columns(self.points, self.start, self.window, width)
        rows = bar_rows(cells, self.low, self.high, height)
        return Text("\n".join(rows), style=self.style, no_wrap=True)


def _range(values: list[float], fmt: str) -> str:
    """``20.0 → 22.5`` (lowest to now), with the peak when it is not now."""
    if not values:
        return "no data"
    text = f"{format(min(values), fmt)} → {format(values[-1], fmt)}"
    if max(values) > values[-1]:
        text += f", max {format(max(values), fmt)}"
    return text


class Charts(Vertical):
    """Water °C and supply W over the history window, plus the virtual unit's state."""

    DEFAULT_CSS = """
    Charts {
        height: auto;
        padding: 0 1 0 0;
    }
    Charts Label {
        width: 1fr;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    Charts .world {
        color: $text-muted;
        height: auto;
        max-height: 2;
    }
    """

    def compose(self) -> ComposeResult:
        yield Label("Water °C", id="water-label", markup=False)
        yield Trend("cyan", id="water-chart")
        yield Label("Power W", id="power-label", markup=False)
        yield Trend("yellow", id="power-chart")
        yield Label("", id="world", classes="world", markup=False)

    def show(self, snapshot: Snapshot) -> None:
        history = snapshot.history
        water = [(s.t, s.water_c) for s in history if s.water_c is not None]
        power = [(s.t, s.power_w) for s in history if s.power_w is not None]
        window = snapshot.window
        span = f" ({window / 60:.0f} min)"
        water_values = [v for _, v in water]
        power_values = [v for _, v in power]
        self.query_one("#water-label", Label).update(
            f"Water °C {_range(water_values, '.1f')}{span}"
        )
        self.query_one("#power-label", Label).update(f"Power W {_range(power_values, '.0f')}")
        low = min(water_values, default=20.0) - 0.5
        self.query_one("#water-chart", Trend).plot(
            water, end=snapshot.t, window=window, low=low, high=max(low + 2.0, *water_values, low)
        )
        self.query_one("#power-chart", Trend).plot(
            power, end=snapshot.t, window=window, low=0.0, high=max(10.0, *power_values, 0.0)
        )
        world = snapshot.world
        text = ""
        if world is not None:
            faults = ", ".join(world.faults) if world.faults else "none"
            text = f"virtual unit: knob {world.knob}, PRCD {world.prcd}\nfaults: {faults}"
        self.query_one("#world", Label).update(text)
