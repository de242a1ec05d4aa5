"""The live panel of the unit: water, set-point, flow, each load and the supply."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from bench.console.state import Snapshot


def _on_off(on: bool | None) -> Text:
    if on is None:
        return Text("?", style="dim")
    return Text("●", style="bold green") if on else Text("○", style="dim")


PANEL_CODES = {
    "F1": "flow error · F = long press Filter",
    "A0": "clean filter · F = long press Filter",
}
"""What each panel code means, and the key that clears it (shown under the code)."""


def unit_table(snapshot: Snapshot) -> Group:
    """The panel's reading, flow, loads and supply.

    Where a panel shows a code (F1, A0) in place of the water temperature, so does this one
    — a technician compares the console with what the customer saw — with what it means and
    the key that clears it on the line below; the water curve stays in the chart."""
    head = Text(no_wrap=True)
    code = snapshot.panel_code
    if code is None:
        water = "--.-" if snapshot.water_c is None else f"{snapshot.water_c:4.1f}"
        head.append("Water ")
        head.append(f"{water} °C", style="bold")
    else:
        head.append("Panel ")
        head.append(f" {code} ", style="bold white on red")
    head.append(f" (set {snapshot.state.setpoint})  flow ")
    flow = snapshot.flow
    head.append_text(_on_off(None if flow is None else flow.inlet))
    head.append("in ")
    head.append_text(_on_off(None if flow is None else flow.outlet))
    head.append("out")

    table = Table(box=None, padding=(0, 1), pad_edge=False, show_edge=False, expand=False)
    table.add_column("Load", no_wrap=True, style="bold", width=7)
    table.add_column("bench", no_wrap=True, width=7)
    table.add_column("meter Δ", no_wrap=True, justify="right", width=7)
    table.add_column("timer", no_wrap=True, width=12)
    for load in snapshot.loads:
        delta = "" if load.delta_w is None else f"{load.delta_w:+.0f} W"
        commanded = Text(load.commanded, style="bold green" if load.on else "dim")
        table.add_row(load.label, commanded, delta, Text(load.timer or load.note, style="dim"))

    meter = Text(no_wrap=True, overflow="ellipsis")
    meter.append("Meter ")
    if snapshot.meter is not None and snapshot.meter_error is None:
        reading = snapshot.meter
        meter.append(f"{reading.voltage_v:5.1f} V {reading.current_a:5.2f} A ")
        meter.append(f"{reading.power_w:6.0f} W", style="bold")
    elif snapshot.meter_error:
        meter.append(snapshot.meter_error, style="red")
    else:
        meter.append("none attached", style="dim")
    if code is None:
        return Group(head, table, meter)
    meaning = Text(f"{code} {PANEL_CODES.get(code, '')}".rstrip(), style="red", no_wrap=True)
    return Group(head, meaning, table, meter)


class UnitPanel(Static):
    """What the bench commanded and what it sees, redrawn from each snapshot."""

    DEFAULT_CSS = """
    UnitPanel {
        width: 40;
        height: auto;
        padding: 0 1 0 1;
    }
    """

    def show(self, snapshot: Snapshot) -> None:
        self.update(unit_table(snapshot))
