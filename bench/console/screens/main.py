"""The main screen: link bar, live unit panel and charts, frame log, and every key.

Keys only *ask* for things: a load key queues a command for the driver thread, a plan key
submits a job. Nothing here waits, so the screen stays live whatever the unit does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen

from bench.console.screens.pickers import Picker, filter_frame_log
from bench.console.state import FrameEntry, Snapshot
from bench.console.widgets.chart import Charts
from bench.console.widgets.framelog import FrameLog
from bench.console.widgets.keys import KeyBar
from bench.console.widgets.status import LinkBar
from bench.console.widgets.unit import UnitPanel

if TYPE_CHECKING:
    from bench.console.screens.host import ConsoleHost

_LOAD_ACTIONS = frozenset(("switch", "bubbles", "setpoint", "long_press_filter"))
_WORLD_ACTIONS = frozenset(("prcd", "knob", "fault"))


class MainScreen(Screen[None]):
    """The live view of the unit on the bench."""

    DEFAULT_CSS = """
    MainScreen #live {
        height: auto;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "switch('filter')", "filter"),
        Binding("h", "switch('heater')", "heater"),
        Binding("b", "bubbles", "bubbles"),
        Binding("o", "switch('ozone')", "ozone"),
        Binding("u", "switch('uvc')", "UVC"),
        Binding("j", "switch('jets')", "jets"),
        Binding("F", "long_press_filter", "long-press filter", key_display="F"),
        Binding("plus", "setpoint(1)", "set-point", key_display="+/-"),
        Binding("minus", "setpoint(-1)", "set-point -1", show=False),
        Binding("t", "plan", "plan"),
        Binding("g", "guide", "guide"),
        Binding("r", "orders", "orders"),
        Binding("c", "channel", "channel"),
        Binding("p", "prcd", "PRCD"),
        Binding("k", "knob", "knob"),
        Binding("x", "fault", "fault"),
        Binding("slash", "log_filter", "log filter", key_display="/"),
        Binding("s", "log_pause", "pause log"),
        Binding("q", "quit", "quit"),
    ]

    def __init__(self, host: ConsoleHost) -> None:
        super().__init__()
        self.host = host

    def compose(self) -> ComposeResult:
        yield LinkBar(self.host.speed)
        with Horizontal(id="live"):
            yield UnitPanel()
            yield Charts()
        yield FrameLog("Frames", id="frames")
        yield KeyBar()

    # -- updates from the session -----------------------------------------------------------

    def show(self, snapshot: Snapshot) -> None:
        self.query_one(LinkBar).show(snapshot)
        self.query_one(UnitPanel).show(snapshot)
        self.query_one(Charts).show(snapshot)

    def add_frames(self, entries: list[FrameEntry]) -> None:
        self.query_one(FrameLog).add(entries)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        host = self.host
        if action in _WORLD_ACTIONS:
            return host.session.virtual
        if action == "channel":
            return host.switchboard is not None  # only on a station (--station)
        if action == "switch" and parameters == ("jets",) and not host.session.jets_fitted:
            return False  # no jet pump on this model: no key (the plate says so)
        if action in _LOAD_ACTIONS or action == "guide":
            return None if host.snapshot.busy else True
        return True

    # -- bench commands ---------------------------------------------------------------------

    def action_switch(self, load: str) -> None:
        self.host.session.toggle(load)

    def action_long_press_filter(self) -> None:
        """Hold Filter (``F``): 0B 00 — clears F1 on the box and F1/A0 on the panel."""
        self.host.session.long_press_filter()

    def action_bubbles(self) -> None:
        self.host.session.cycle_bubbles()

    def action_setpoint(self, delta: int) -> None:
        self.host.session.change_setpoint(delta)

    def action_plan(self) -> None:
        self.host.open_plan()

    def action_guide(self) -> None:
        self.host.open_guide()

    def action_orders(self) -> None:
        self.host.open_orders()

    def action_channel(self) -> None:
        self.host.switch_channel()

    # -- the virtual unit (what a person at the bench does) ----------------------------------

    def action_prcd(self) -> None:
        self.host.session.world_action("prcd")

    def action_knob(self) -> None:
        self.host.session.world_action("knob")

    def action_fault(self) -> None:
        from bench.console.targets import fault_choices

        world = self.host.snapshot.world
        active = set() if world is None else {fault.split(":")[0] for fault in world.faults}
        choices = [
            (fault_id, f"{fault_id} — {'ACTIVE, choose to clear' if base in active else text}")
            for fault_id, base, text in fault_choices()
        ]

        def chosen(fault_id: str | None) -> None:
            if fault_id:
                self.host.session.world_action("fault", fault_id)

        self.app.push_screen(Picker("Inject or clear a fault (virtual unit)", choices), chosen)

    # -- the frame log ----------------------------------------------------------------------

    def action_log_filter(self) -> None:
        filter_frame_log(self.query_one(FrameLog))

    def action_log_pause(self) -> None:
        self.query_one(FrameLog).toggle_pause()

    async def action_quit(self) -> None:
        await self.host.action_quit()
