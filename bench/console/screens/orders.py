"""Open service orders from the records store — and moving them along, as the CLI does.

Overdue orders come first, flagged with why ("overdue" comes from
:func:`bench.records.orders.overdue_orders`, the one definition of it, at the console's notion
of now — injectable, so the view is reproducible). The highlighted order shows its symptom,
agreed work, the parts recorded and its bench runs, a simulated one marked SIMULATED UNIT.

The keys act on the highlighted order through the store's own methods
(:mod:`bench.console.order_actions`): ``s`` moves it to a next status, ``c`` logs a contact
with the customer, ``p`` records a part, ``m`` amends the agreement. The status dialog takes
what ``spabench order status`` takes: a note (optional, but required for ``verified`` after a
repair without a part, unless the repair's own status says why) and, for ``verified`` on an
order with runs on a simulated unit, the technician's yes or no to accepting such a run
(``--simulated``). The store applies the same rules as ``spabench order``; when it refuses,
its one-line message is shown, its CLI advice put in the console's terms. What the
technician enters is dated now by the store; the console's clock only decides what the view
calls overdue. Every store call runs in a thread (a slow or locked database must not freeze
the console).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Label, Static

from bench.console.order_actions import (
    CONTACT_WAYS,
    amend,
    in_console_terms,
    log_contact,
    parse_parts,
    parse_quantity,
    parse_quote,
    set_status,
    verified_needs_note,
)
from bench.console.screens.dialogs import Confirm, TextEntry
from bench.console.screens.pickers import Picker
from bench.console.state import Snapshot
from bench.console.widgets.keys import KeyBar
from bench.console.widgets.status import LinkBar
from bench.records.display import display_date, display_time

if TYPE_CHECKING:
    from bench.console.screens.host import ConsoleHost
    from bench.records.order_records import Contact, PartReplaced
    from bench.records.orders import Agreement, Order
    from bench.records.run_records import RunInfo
    from bench.records.store import Store

SIMULATED = "SIMULATED UNIT"
_AGREED = {"diagnosis": "diagnosis only", "repair": "repair"}


@dataclass(frozen=True)
class OrderRow:
    order: Order
    reasons: tuple[str, ...]
    parts: tuple[PartReplaced, ...] = ()
    runs: tuple[RunInfo, ...] = ()
    contacts: tuple[Contact, ...] = ()


def list_orders(store: Store, now: datetime) -> list[OrderRow]:
    """Open orders, overdue first (oldest intake first), each with its overdue reasons, the
    parts recorded on it, its bench runs and its customer contacts."""
    from bench.records.orders import overdue_orders

    overdue = {item.order.id: item.reasons for item in overdue_orders(store, now)}
    rows = [
        OrderRow(
            order,
            overdue.get(order.id, ()),
            tuple(store.parts(order.id)),
            tuple(store.runs_for_order(order.id)),
            tuple(store.contacts(order.id)),
        )
        for order in store.orders(open_only=True)
    ]
    rows.sort(key=lambda row: (not row.reasons, row.order.opened_at, row.order.id))
    return rows


def part_text(number: str) -> str:
    """A recorded part as a person reads it (the workshop's code where the maker has none)."""
    from bench.records.workshop import load_workshop, part_label
    from protocols.mspa.parts import PARTS

    part = PARTS.get(number)
    if part is None:
        return number
    try:
        workshop = load_workshop()
    except Exception:  # a broken workshop file must not hide the order
        return part.label
    return part_label(part, workshop)


def detail_text(row: OrderRow) -> Text:
    order = row.order
    text = Text()
    text.append(f"Order {order.id}: ", style="bold")
    text.append(order.symptom)
    text.append(f"\nagreed: {_AGREED.get(order.agreement, order.agreement)}", style="dim")
    if order.quote_cents is not None:
        text.append(f" · quote {order.quote_text}", style="dim")
    text.append(f" · opened {display_time(order.opened_at)}", style="dim")
    for reason in row.reasons:
        text.append(f"\n! {reason}", style="red")
    if row.contacts:
        last = row.contacts[-1]
        said = f"{last.via}: {last.note}" if last.note else last.via
        text.append(f"\nlast contact {display_time(last.at)}: {said}", style="dim")
    if row.parts:
        parts = ", ".join(
            f"{part_text(p.part_number)}{f' ×{p.quantity}' if p.quantity > 1 else ''}"
            for p in row.parts
        )
        text.append(f"\nparts: {parts}")
    for run in row.runs[-3:]:
        text.append(f"\nrun {run.id} {run.plan} {run.status} {display_time(run.started_at)}")
        if run.simulated:
            text.append(" ")
            text.append(f" {SIMULATED} ", style="bold white on dark_orange3")
    return text


class OrdersScreen(Screen[None]):
    """Open and overdue orders; the highlighted one's facts underneath, and keys to act."""

    DEFAULT_CSS = """
    OrdersScreen #orders-title { text-style: bold; width: 1fr; }
    OrdersScreen DataTable { height: 1fr; }
    OrdersScreen #order-detail { height: auto; max-height: 8; width: 1fr; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "status", "status"),
        Binding("c", "contact", "contact"),
        Binding("p", "part", "part"),
        Binding("m", "amend", "amend agreement"),
        Binding("r", "reload", "reload"),
        Binding("escape", "back", "back"),
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

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("status", "contact", "part", "amend"):
            return True if self.selected is not None else None
        return True

    # -- the list ---------------------------------------------------------------------------

    def action_reload(self) -> None:
        self.run_worker(self._load(), exclusive=True, group="orders")

    async def _load(self, keep: int | None = None) -> None:
        now = self.host.now()
        try:
            rows = await self.host.with_store(lambda store: list_orders(store, now))
        except Exception as error:
            self._problem(f"records database: {error}")
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
                display_time(order.opened_at),
                display_date(order.promised, empty=""),
                follow,
                key=str(order.id),
            )
        overdue = sum(1 for row in rows if row.reasons)
        self.query_one("#orders-title", Label).update(
            f" Open service orders: {len(rows)}, overdue: {overdue}"
        )
        index = next((i for i, row in enumerate(rows) if row.order.id == keep), 0)
        if rows:
            table.move_cursor(row=index, animate=False)
        self._detail(index)
        self.refresh_bindings()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._detail(event.cursor_row)

    @property
    def selected(self) -> OrderRow | None:
        if not self.rows:
            return None
        index = self.query_one(DataTable).cursor_row
        return self.rows[min(max(index, 0), len(self.rows) - 1)]

    def _detail(self, index: int) -> None:
        detail = self.query_one("#order-detail", Static)
        if not self.rows:
            detail.update(Text("no open orders", style="dim") if self.loaded else "")
            return
        detail.update(detail_text(self.rows[min(max(index, 0), len(self.rows) - 1)]))

    def _problem(self, message: str) -> None:
        self.query_one("#order-detail", Static).update(Text(message, style="bold red"))
        self.notify(message, severity="error")

    # -- acting on the highlighted order ----------------------------------------------------

    def _act(self, order: Order, action: Callable[[Store], object], done: str) -> None:
        """Run ``action`` on the store; show the store's refusal, or ``done`` and the order
        as it now is."""

        async def act() -> None:
            try:
                await self.host.with_store(action)
            except Exception as error:  # the store's one-line reason (an illegal change …)
                self._problem(in_console_terms(str(error)))
                return
            self.notify(done)
            await self._load(keep=order.id)

        self.run_worker(act(), group="order-action")

    def _by(self) -> str:
        """Who enters it (no moment: the store dates what is entered now, see the module)."""
        return self.host.session.operator.name

    def action_status(self) -> None:
        row = self.selected
        if row is not None:
            self.run_worker(self._status(row), group="order-dialog")

    async def _status(self, row: OrderRow) -> None:
        from bench.records.orders import TRANSITIONS, status_label

        order = row.order
        choices = [(status, status_label(status)) for status in TRANSITIONS[order.status]]
        chosen = await self.app.push_screen_wait(
            Picker(
                f"Order {order.id} is {status_label(order.status)}: move it to",
                choices,
                empty="none: the order is closed",
            )
        )
        if not chosen:
            return
        label = status_label(chosen)
        note = await self._status_note(row, chosen, label)
        if note is None:
            return
        simulated = [run.id for run in row.runs if run.simulated]
        allow_simulated = False
        if chosen == "verified" and simulated:
            runs = ", ".join(str(run_id) for run_id in simulated)
            answer = await self.app.push_screen_wait(
                Confirm(
                    f"Order {order.id} → {label}",
                    f"Run {runs} on this order ran on a {SIMULATED} (a virtual box, not the "
                    "customer's). Accept a run on a SIMULATED UNIT as the verification?",
                    yes="accept it (the status note will say so)",
                    no="count only runs on the real unit",
                    warning=True,
                )
            )
            if answer is None:
                return
            allow_simulated = answer
        by = self._by()
        self._act(
            order,
            lambda store: set_status(
                store, order.id, chosen, note=note, allow_simulated=allow_simulated, by=by
            ),
            f"order {order.id}: {label}",
        )

    async def _status_note(self, row: OrderRow, chosen: str, label: str) -> str | None:
        """The note for the change (``--note``): optional, except for ``verified`` after a
        repair that fitted no part and said nothing; None if the technician cancels."""
        order = row.order
        text = "Logged with the change (optional: enter for none)"
        required = ""
        if chosen in ("awaiting-approval", "handed-back"):
            text = "Logged with the change and as the contact with the customer (optional)"
        if chosen == "verified" and not row.parts:
            try:
                timeline = await self.host.with_store(lambda store: store.timeline(order.id))
            except Exception as error:
                self._problem(f"records database: {error}")
                return None
            repaired = [change.note for change in timeline if change.status == "repaired"]
            if verified_needs_note(bool(row.parts), repaired[-1] if repaired else ""):
                text = "No part was fitted: say what was done and why no part was needed"
                required = "write what was done and why no part was needed"
        return await self.app.push_screen_wait(
            TextEntry(
                f"Order {order.id} → {label}: a note for the status change", text, required=required
            )
        )

    def action_contact(self) -> None:
        row = self.selected
        if row is not None:
            self.run_worker(self._contact(row.order), group="order-dialog")

    async def _contact(self, order: Order) -> None:
        via = await self.app.push_screen_wait(
            Picker(f"Order {order.id}: how was the customer reached?", CONTACT_WAYS)
        )
        if not via:
            return
        note = await self.app.push_screen_wait(
            TextEntry(
                f"Order {order.id}: contact by {via}",
                "What was said (logged with the time and your name)",
                required="write what was said",
            )
        )
        if note is None:
            return
        by = self._by()
        self._act(
            order,
            lambda store: log_contact(store, order.id, via=via, note=note, by=by),
            f"order {order.id}: contact logged",
        )

    def action_part(self) -> None:
        row = self.selected
        if row is not None:
            self.run_worker(self._part(row.order), group="order-dialog")

    async def _part(self, order: Order) -> None:
        from protocols.mspa.parts import PARTS

        choices = [(number, part_text(number)) for number in PARTS]
        number = await self.app.push_screen_wait(
            Picker(f"Order {order.id}: which part was fitted?", choices)
        )
        if not number:
            return
        typed = await self.app.push_screen_wait(
            TextEntry(f"Order {order.id}: {part_text(number)}", "How many?", value="1")
        )
        if typed is None:
            return
        try:
            quantity = parse_quantity(typed)
        except ValueError as error:
            self._problem(str(error))
            return
        by = self._by()
        self._act(
            order,
            lambda store: store.add_part(order.id, number, quantity, by=by),
            f"order {order.id}: {part_text(number)} recorded",
        )

    def action_amend(self) -> None:
        row = self.selected
        if row is not None:
            self.run_worker(self._amend(row.order), group="order-dialog")

    async def _amend(self, order: Order) -> None:
        from bench.records.orders import AGREEMENTS

        choices = [(agreement, _AGREED[agreement]) for agreement in AGREEMENTS]
        chosen = await self.app.push_screen_wait(
            Picker(f"Order {order.id}: the customer now agrees to", choices)
        )
        if not chosen:
            return
        agreement: Agreement = "repair" if chosen == "repair" else "diagnosis"
        via = await self.app.push_screen_wait(
            Picker(f"Order {order.id}: how did the customer agree?", CONTACT_WAYS)
        )
        if not via:
            return
        parts = await self.app.push_screen_wait(
            TextEntry(
                f"Order {order.id}: parts the agreement covers",
                "Part numbers, separated by commas (empty: none named)",
            )
        )
        if parts is None:
            return
        quote = await self.app.push_screen_wait(
            TextEntry(
                f"Order {order.id}: the quote agreed",
                "Amount, e.g. 89.50 (empty: no quote)",
                value=order.quote_text,
            )
        )
        if quote is None:
            return
        note = await self.app.push_screen_wait(
            TextEntry(
                f"Order {order.id}: what was agreed",
                "Logged with the change",
                required="write what the customer agreed to",
            )
        )
        if note is None:
            return
        try:
            quote_cents = parse_quote(quote)
        except ValueError as error:
            self._problem(str(error))
            return
        by = self._by()
        self._act(
            order,
            lambda store: amend(
                store,
                order.id,
                agreement,
                parts=parse_parts(parts),
                quote_cents=quote_cents,
                via=via,
                note=note,
                by=by,
            ),
            f"order {order.id}: agreement amended ({_AGREED[agreement]})",
        )

    # -- leaving ----------------------------------------------------------------------------

    def action_back(self) -> None:
        self.app.pop_screen()

    async def action_quit(self) -> None:
        await self.host.action_quit()
