"""What a run produced and what a person reads from it: rows, events, summary, CSV.

* **Rows** (:class:`Row`): the box and the panel from one instant on, until the next row —
  so step plots and energy integrals are exact, not sampled.
* **Events** (:class:`TraceEvent`): what happened, as one-line texts with a kind, so the
  plot marks the notable ones (key presses, auto-offs, over-temperature cut, lid, faults)
  and the CSV says what happened on each row.
* **Summary** (:class:`Summary`): energy per load, time to the set-point (the first time the
  panel's thermostat stops asking for heat, i.e. the panel shows the set-point), heater
  duty cycle while holding, and the thermostat's cycles; :func:`format_summary` puts it in
  a few lines, :meth:`Trace.write_csv` writes the rows.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from typing import NamedTuple, TextIO

from spasim.board import LOADS
from spasim.simulation.scenario import Scenario

NOTABLE_KINDS = ("key", "auto-off", "overtemp", "safety", "lid", "fault", "setpoint")
"""Event kinds a plot marks; ``thermostat`` and ``state`` happen every cycle and would
hide them."""

CSV_COLUMNS = (
    "time_s",
    "water_c",
    "reported_c",
    "setpoint_c",
    *(f"{name}_{suffix}" for name in LOADS[:-1] for suffix in ("on", "w")),
    "standby_w",
    "total_w",
    "flow_in",
    "flow_out",
    "lid_on",
    "heat_request",
    "event",
)
"""The CSV header: true and reported water, each switched load's on/off and watts, standby
and total watts, the flow bits as 0x08 reports them, the lid, what 0x01 asks for, events."""


class Row(NamedTuple):
    """The box and panel from ``time_s`` on (until the next row)."""

    time_s: float
    water_c: float
    """True water temperature."""
    reported_c: float | None
    """The last 0x06 the panel heard (noise and 0.5 °C steps included); None before one."""
    setpoint_c: int
    powers: tuple[float, ...]
    """Watts per load, in :data:`spasim.board.LOADS` order."""
    flow_in: bool
    flow_out: bool
    lid_on: bool
    heat_request: bool
    """What the panel's 0x01 asks for: heater key and thermostat."""
    event: str
    """What happened at this instant ("; "-separated), empty for a plain sample."""

    @property
    def total_w(self) -> float:
        return sum(self.powers)

    def power(self, load: str) -> float:
        return self.powers[LOADS.index(load)]


class TraceEvent(NamedTuple):
    """Something that happened: when, what kind (see :data:`NOTABLE_KINDS`), a line."""

    time_s: float
    kind: str
    text: str


@dataclass(frozen=True)
class Summary:
    """The figures a person asks for after a run."""

    seconds: float
    energy_kwh: dict[str, float]
    setpoint_reached_s: float | None
    """First time the panel's thermostat stopped asking for heat (None: never)."""
    heater_on_s: float
    heater_on_holding_s: float
    """Heater energised time after the set-point was reached."""
    heater_starts: int
    thermostat_cycles: int
    """Times the thermostat asked for heat again after the set-point was reached."""
    final_water_c: float
    min_water_holding_c: float | None
    max_water_holding_c: float | None

    @property
    def total_kwh(self) -> float:
        return sum(self.energy_kwh.values())

    @property
    def heater_duty(self) -> float:
        """Share of the whole run the heater drew power."""
        return self.heater_on_s / self.seconds if self.seconds else 0.0

    @property
    def heater_duty_holding(self) -> float | None:
        """Share of the time after the set-point was reached that the heater drew power."""
        if self.setpoint_reached_s is None or self.setpoint_reached_s >= self.seconds:
            return None
        return self.heater_on_holding_s / (self.seconds - self.setpoint_reached_s)


@dataclass
class Trace:
    """Everything a run produced: the scenario, the rows, the events."""

    scenario: Scenario
    rows: list[Row]
    events: list[TraceEvent]
    wall_s: float = 0.0
    """Wall-clock seconds the run took (not part of the simulation)."""
    events_run: int = 0
    """Scheduler events the run took."""

    def intervals(self, load: str) -> list[tuple[float, float]]:
        """``(on, off)`` seconds of each period ``load`` drew power (off = end of run if on)."""
        index = LOADS.index(load)
        spans: list[tuple[float, float]] = []
        since: float | None = None
        for row in self.rows:
            on = row.powers[index] > 0
            if on and since is None:
                since = row.time_s
            elif not on and since is not None:
                spans.append((since, row.time_s))
                since = None
        if since is not None:
            spans.append((since, self.scenario.seconds))
        return spans

    def summary(self) -> Summary:
        rows = self.rows
        end = self.scenario.seconds
        joules = [0.0] * len(LOADS)
        heater = LOADS.index("heater")
        heater_on_s = 0.0
        for row, following in zip(rows, [*rows[1:], None], strict=True):
            span = (end if following is None else following.time_s) - row.time_s
            for index, watts in enumerate(row.powers):
                joules[index] += watts * span
            if row.powers[heater] > 0:
                heater_on_s += span
        reached = next((e.time_s for e in self.events if e.kind == "setpoint"), None)
        holding_on = 0.0
        cycles = 0
        low: float | None = None
        high: float | None = None
        if reached is not None:
            for start, stop in self.intervals("heater"):
                holding_on += max(0.0, stop - max(start, reached))
            cycles = sum(
                1
                for e in self.events
                if e.kind == "thermostat" and e.time_s > reached and "heat on" in e.text
            )
            holding = [row.water_c for row in rows if row.time_s >= reached]
            low, high = min(holding), max(holding)
        return Summary(
            seconds=end,
            energy_kwh={name: j / 3.6e6 for name, j in zip(LOADS, joules, strict=True)},
            setpoint_reached_s=reached,
            heater_on_s=heater_on_s,
            heater_on_holding_s=holding_on,
            heater_starts=len(self.intervals("heater")),
            thermostat_cycles=cycles,
            final_water_c=rows[-1].water_c,
            min_water_holding_c=low,
            max_water_holding_c=high,
        )

    def write_csv(self, stream: TextIO) -> int:
        """The rows as CSV (header :data:`CSV_COLUMNS`); returns the number of data rows."""
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for row in self.rows:
            cells: list[str] = [
                f"{row.time_s:.3f}",
                f"{row.water_c:.3f}",
                "" if row.reported_c is None else f"{row.reported_c:.1f}",
                str(row.setpoint_c),
            ]
            for watts in row.powers[:-1]:
                cells += ["1" if watts > 0 else "0", f"{watts:g}"]
            cells += [
                f"{row.powers[-1]:g}",
                f"{row.total_w:g}",
                str(int(row.flow_in)),
                str(int(row.flow_out)),
                str(int(row.lid_on)),
                str(int(row.heat_request)),
                row.event,
            ]
            writer.writerow(cells)
        return len(self.rows)


def format_summary(trace: Trace) -> str:
    """A few lines for a person: what ran, energy per load, set-point, duty, cycles."""
    s = trace.summary()
    scenario = trace.scenario
    lines = [f"simulated {scenario.describe()}"]
    energy = ", ".join(
        f"{name} {kwh:.3f}" for name, kwh in s.energy_kwh.items() if kwh > 0 or name == "heater"
    )
    lines.append(f"energy kWh: {energy}; total {s.total_kwh:.3f}")
    if s.setpoint_reached_s is None:
        lines.append(
            f"set-point {scenario.target_c} °C not reached; water "
            f"{scenario.start_water_c:.1f} → {s.final_water_c:.1f} °C"
        )
    else:
        band = ""
        if s.min_water_holding_c is not None and s.max_water_holding_c is not None:
            band = f", then held {s.min_water_holding_c:.1f}–{s.max_water_holding_c:.1f} °C"
        lines.append(
            f"set-point {scenario.target_c} °C reached after "
            f"{_duration(s.setpoint_reached_s)}{band}"
        )
    holding = s.heater_duty_holding
    duty = f"heater duty {s.heater_duty:.1%} of the run"
    if holding is not None:
        duty += f", {holding:.1%} while holding"
    lines.append(
        f"{duty}; {s.heater_starts} heater starts, {s.thermostat_cycles} thermostat cycles"
    )
    notable = [e for e in trace.events if e.kind in NOTABLE_KINDS and e.kind != "setpoint"]
    for event in notable[:12]:
        lines.append(f"  {_duration(event.time_s):>10}  {event.text}")
    if len(notable) > 12:
        lines.append(f"  … {len(notable) - 12} more events in the CSV")
    if trace.wall_s > 0:
        lines.append(
            f"({len(trace.rows)} rows, {trace.events_run} events, {trace.wall_s:.2f} s wall, "
            f"{scenario.seconds / trace.wall_s:,.0f}× real time)"
        )
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    """``1 h 05 min``, ``12 min 30 s``, ``6.1 s``: what a person reads at a glance."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
