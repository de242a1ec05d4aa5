"""Open service orders from the records store, overdue ones first and flagged with why.

The store is read in a thread (a slow or locked database must not freeze the console), and
"overdue" comes from :func:`bench.records.orders.overdue_orders`, the one definition of it, at the
console's notion of now (injectable, so the view is reproducible).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Label, Static

from bench.console.state import Snapshot
from bench.console.widgets.keys import KeyBar
from bench.console.widgets.status import LinkBar

if TYPE_CHECKING:
    from bench.console.screens.host import ConsoleHost
    from bench.records.orders import Order
    from bench.records.store import Store


@dataclass(frozen=True)
class OrderRow:
    order: Order
    reasons: tuple[str, ...]


def list_orders(store: Store, now: datetime) -> list[OrderRow]:
    """Open orders, overdue first (oldest intake first), each with its overdue reasons."""
    from bench.records.orders import overdue_orders

    overdue = {item.order.id: item.reasons for item in overdue_orders(store, now)}
    rows = [OrderRow(order, overdue.get(order.id, ())) for order in store.orders(open_only=True)]
    rows.sort(key=lambda row: (not row.reasons, row.order.opened_at, row.order.id))
    return rows


class OrdersScreen(Screen[None]):
    """Open and overdue orders; the highlighted one's symptom and reasons underneath."""

    DEFAULT_CSS = """
    OrdersScreen #orders-title { text-style: bold; width: 1fr; }
    OrdersScreen DataTable { height: 1fr; }
    OrdersScreen #order-detail { height: auto; max-height: 5; width: 1fr; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "back"),
        Binding("r", "reload", "reload"),
        Binding("q", "quit", "quit"),
    ]

    def __init__(self, host: ConsoleHost) -> None:
        super().__init__()
        self.host = host
        self.rows: list[OrderRow] = []
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield LinkBar(self.host.speed)
        yield Label(" Open service orders", id="orders-title", markup=False)
        table: DataTable[Text | str] = DataTable(cursor_type="row")
        table.add_columns("order", "unit", "status", "opened", "promised", "follow-up")
        yield table
        yield Static("", id="order-detail")
        yield KeyBar()

    def on_mount(self) -> None:
        self.show(self.host.snapshot)
        self.action_reload()

    def show(self, snapshot: Snapshot) -> None:
        self.query_one(LinkBar).show(snapshot)

    def action_reload(self) -> None:
        self.run_worker(self._load(), exclusive=True, group="orders")

    async def _load(self) -> None:
        now = self.host.now()
        try:
            rows = await self.host.with_store(lambda store: list_orders(store, now))
        except Exception as error:
            self.query_one("#order-detail", Static).update(
                Text(f"records database: {error}", style="red")
            )
            return
        self.rows = rows
        self.loaded = True
        table: DataTable[Text | str] = self.query_one(DataTable)
        table.clear()
        for row in rows:
            order = row.order
            follow = Text("OVERDUE", style="bold red") if row.reasons else Text("ok", style="dim")
            table.add_row(
                str(order.id),
                order.unit_serial,
                order.status,
                order.opened_at.date().isoformat(),
                order.promised.isoformat() if order.promised else "",
                follow,
                key=str(order.id),
            )
        overdue = sum(1 for row in rows if row.reasons)
        self.query_one("#orders-title", Label).update(
            f" Open service orders: {len(rows)}, overdue: {overdue}"
        )
        self._detail(0)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._detail(event.cursor_row)

    def _detail(self, index: int) -> None:
        detail = self.query_one("#order-detail", Static)
        if not self.rows:
            detail.update(Text("no open orders", style="dim") if self.loaded else "")
            return
        row = self.rows[min(max(index, 0), len(self.rows) - 1)]
        text = Text()
        text.append(f"Order {row.order.id}: ", style="bold")
        text.append(row.order.symptom)
        for reason in row.reasons:
            text.append(f"\n! {reason}", style="red")
        detail.update(text)

    def action_back(self) -> None:
        self.app.pop_screen()

    async def action_quit(self) -> None:
        await self.host.action_quit()
