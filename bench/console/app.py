"""The diagnostic console: a Textual app over a :class:`~bench.console.session.Session`.

The app starts the session's driver thread and from then on only reacts: the session posts
:class:`SessionUpdated` (Textual's ``post_message`` is thread-safe) and the app takes the
latest snapshot and the new frames and hands them to the screens; a prompt in the snapshot
becomes a modal dialog whose answer goes back through the driver. Records-store reads and
writes run in a thread too, so no path of the UI waits on I/O.

The app builds its screens and hands each itself as a
:class:`~bench.console.screens.host.ConsoleHost`: the screens never import this module.

While a plan runs the app guards it: quitting asks first (and a confirmed quit aborts the run,
which is then filed as aborted with what it measured), ``a`` aborts it from any dialog, and a
simulated unit's run is filed on a customer's order only after an explicit yes.

On a station (``--station``, a :class:`~bench.console.switchboard.Switchboard`) ``c`` switches
to another channel: the chosen channel is opened first (through the function that opened the
first one), and only once it is open is the current unit's session closed — links, meter and
driver, a running plan aborted and filed as aborted after the same question quitting asks — so
a channel that cannot be opened costs one line of error and leaves the technician where they
were. Every screen's top line names the station and channel, and each run is filed under the
serial (and order) of the channel it ran on, by that channel's own session.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, TypeVar, runtime_checkable

from textual.app import App
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import ModalScreen

from bench.console.runs import run_plan
from bench.console.screens.dialogs import Confirm
from bench.console.screens.main import MainScreen
from bench.console.screens.orders import OrdersScreen
from bench.console.screens.pickers import Picker
from bench.console.screens.prompt import PromptModal
from bench.console.screens.run import RunScreen
from bench.console.screens.troubleshoot import TroubleshootScreen
from bench.console.session import Session
from bench.console.state import PromptView, Snapshot
from bench.console.switchboard import Switchboard
from bench.console.trees import load_tree, load_trees
from bench.console.waiting import Updates
from bench.testing.plans import Plan, PlanError, available_plans, load_plan

if TYPE_CHECKING:
    from bench.records.orders import Agreement
    from bench.records.store import Store

T = TypeVar("T")
AGREEMENT_CHOICES = [
    ("diagnosis", "diagnosis only: find the fault and quote the repair"),
    ("repair", "repair: the customer agreed to the repair at intake"),
]
JOIN_TIMEOUT = 10.0
"""Wall seconds the app waits for the driver thread to switch loads off and close."""
ERROR_SECONDS = 12.0
"""How long an error line stays on screen: long enough to read a port's name and a reason."""


class SessionUpdated(Message):
    """The session has a new snapshot (posted from the driver thread)."""


@runtime_checkable
class ShowsSnapshot(Protocol):
    def show(self, snapshot: Snapshot) -> None: ...


def local_now() -> datetime:
    return datetime.now().astimezone()


class QuitConfirm(Confirm):
    """The question before leaving the unit in the middle of a run (quitting the console,
    switching to another channel of the station)."""


def one_line(error: BaseException) -> str:
    """An exception as one line of text (its message, whitespace folded)."""
    return " ".join(str(error).split()) or type(error).__name__


class ConsoleApp(App[int]):
    """``spabench console``: live unit, frame log, plans, troubleshooting, orders."""

    TITLE = "spabench console"
    ENABLE_COMMAND_PALETTE = False

    def __init__(
        self,
        session: Session,
        *,
        speed: float | None = None,
        db_path: str | None = None,
        now: Callable[[], datetime] = local_now,
        switchboard: Switchboard | None = None,
    ) -> None:
        super().__init__()
        self.session = session
        self.speed = speed
        self.switchboard = switchboard
        """The station's channels (``--station``), None for a single unit."""
        self.db_path = db_path
        self.now = now
        self.snapshot: Snapshot = session.snapshot
        self.updates = Updates()
        """Snapshots applied so far; ``await app.updates.until(...)`` waits for one."""
        self._main = MainScreen(self)
        self._prompt_seq = 0
        self._prompt_screen: PromptModal | None = None
        self._thread: threading.Thread | None = None
        self._plan_choices: list[tuple[str, str]] | None = None
        self._switching: str | None = None
        """The channel being opened while a switch is under way."""

    # -- life cycle -------------------------------------------------------------------------

    async def on_mount(self) -> None:
        await self.push_screen(self._main)  # mounted before the first snapshot can arrive
        self._drive(self.session)

    def _drive(self, session: Session) -> None:
        """Start ``session``'s driver thread; the header names where it is."""
        self.sub_title = session.place
        session.mailbox.notify = self._notify
        self._thread = threading.Thread(
            target=session.run, name="spabench-console-driver", daemon=True
        )
        self._thread.start()

    def _notify(self) -> None:
        self.post_message(SessionUpdated())

    async def on_unmount(self) -> None:
        self.session.stop()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, JOIN_TIMEOUT)

    async def action_quit(self) -> None:
        """Leave the console; while a plan runs, only after the technician confirms."""
        self._unless_run_going(
            "Quit while a plan is running?",
            "Quitting aborts it",
            yes="quit: abort the run and leave the console",
            then=self._leave,
        )

    def _unless_run_going(
        self, title: str, doing: str, *, yes: str, then: Callable[[], None]
    ) -> None:
        """``then()`` at once when no plan runs; while one does, only after the technician
        says yes to ``title`` (``doing`` aborts the run, filed as aborted)."""
        if not self.run_going():
            then()
            return
        if isinstance(self.screen, QuitConfirm):
            return
        run = self.snapshot.run
        where = ""
        if run is not None:
            where = f" ({run.plan}, step {min(run.done_count + 1, len(run.steps))} of "
            where += f"{len(run.steps)})"

        def answered(confirmed: bool | None) -> None:
            if confirmed:
                then()

        self.push_screen(
            QuitConfirm(
                title,
                f"A plan is running{where}. {doing}: every load is switched off "
                "and the run is filed as aborted, with what it measured so far.",
                yes=yes,
                no="keep the run going",
                warning=True,
            ),
            answered,
        )

    def _leave(self) -> None:
        self.session.stop()  # aborts a running plan: it is filed as aborted before the thread ends
        self.exit(3 if self.snapshot.error else 0)

    # -- the running plan ---------------------------------------------------------------------

    def run_going(self) -> bool:
        """A plan is running (a check of the troubleshooting guide is not a plan)."""
        busy = self.snapshot.busy
        return busy is not None and busy.startswith("plan ")

    def abort_run(self) -> None:
        """``a``: stop the running plan and close every dialog over the screen (an operator
        question closes unanswered: the abort, not a cancelled answer, ends the step)."""
        self.session.abort_job()
        while isinstance(self.screen, ModalScreen):
            screen = self.screen
            if screen is self._prompt_screen:
                self._prompt_screen = None
            screen.dismiss(None)

    # -- snapshots --------------------------------------------------------------------------

    def on_session_updated(self, _message: SessionUpdated) -> None:
        snapshot, frames = self.session.take()
        before = self.snapshot
        self.snapshot = snapshot
        # A screen without its widgets (still being built, or taken down as the console
        # closes or changes channel while the unit talks on) shows nothing; one being built
        # shows the latest snapshot in its on_mount.
        with contextlib.suppress(NoMatches):
            if frames:
                self._main.add_frames(frames)
        for screen in self.screen_stack:
            if isinstance(screen, ShowsSnapshot) and screen.is_mounted:
                with contextlib.suppress(NoMatches):
                    screen.show(snapshot)
        if before.busy != snapshot.busy:
            self.screen.refresh_bindings()
        if snapshot.notice and snapshot.notice != before.notice:
            self.notify(snapshot.notice, severity="warning")
        self._follow_prompt(snapshot.prompt)
        self.updates.bump()

    async def settled(self, timeout: float = 10.0) -> None:
        """Wait until the screen shows the session's latest snapshot."""
        await self.updates.until(lambda: self.snapshot is self.session.snapshot, timeout)

    def _follow_prompt(self, prompt: PromptView | None) -> None:
        if prompt is None:
            if self._prompt_screen is not None:
                screen, self._prompt_screen = self._prompt_screen, None
                if screen is self.screen:  # nobody waits for it any more (the job stopped)
                    screen.dismiss(None)
            return
        if prompt.seq == self._prompt_seq:
            return
        self._prompt_seq = prompt.seq
        screen = PromptModal(prompt)
        self._prompt_screen = screen

        def answered(value: object, seq: int = prompt.seq) -> None:
            if self._prompt_screen is screen:
                self._prompt_screen = None
                self.session.answer(seq, value)

        self.push_screen(screen, answered)

    # -- plans ------------------------------------------------------------------------------

    def plan_choices(self) -> list[tuple[str, str]]:
        """Shipped plans that test a box (the console plays the remote)."""
        if self._plan_choices is None:
            choices = []
            for name in available_plans():
                try:
                    plan = load_plan(name)
                except PlanError:
                    continue
                if plan.role == "remote":
                    choices.append((name, f"{name} — {plan.title}"))
            self._plan_choices = choices
        return self._plan_choices

    def open_plan(self) -> None:
        run = self.snapshot.run
        if run is not None and not run.finished:
            self.push_screen(RunScreen(self))
            return
        if self._switching is not None:
            self.notify(f"busy: opening channel {self._switching}", severity="warning")
            return
        if self.snapshot.busy:
            self.notify(f"busy: {self.snapshot.busy}", severity="warning")
            return
        if self.snapshot.link.state == "lost":
            self.notify(
                f"the link is lost ({self.snapshot.link.detail}): check the adapter and "
                "start the console again",
                severity="error",
            )
            return
        self.push_screen(Picker("Run a test plan", self.plan_choices()), self.start_plan)

    def start_plan(self, name: str | None) -> None:
        if not name:
            return
        try:
            plan = load_plan(name)
        except PlanError as error:
            self.notify(str(error), severity="error")
            return
        order_id = self.session.order_id
        if not (self.snapshot.simulated and order_id is not None):
            self._start(plan)
            return
        serial = self.snapshot.serial

        def answered(yes: bool | None) -> None:
            if yes:
                self._start(plan)

        self.push_screen(
            Confirm(
                "SIMULATED UNIT: file on a customer's order?",
                f"The unit on this bench is simulated, not the customer's box. The run of "
                f"{plan.name} would be filed on order {order_id} ({serial}), marked SIMULATED "
                "UNIT: it proves nothing about the customer's unit.",
                yes=f"run it and file it on order {order_id}, marked simulated",
                no="do not run it",
                warning=True,
            ),
            answered,
        )

    def _start(self, plan: Plan) -> None:
        session = self.session
        session.submit(f"plan {plan.name}", lambda: run_plan(session, plan))
        if not isinstance(self.screen, RunScreen):
            self.push_screen(RunScreen(self))

    # -- the channels of a station -----------------------------------------------------------

    def switch_channel(self) -> None:
        """``c``: pick another channel of the station and work on its unit instead."""
        board = self.switchboard
        if board is None:
            return
        if self._switching is not None:
            self.notify(f"busy: opening channel {self._switching}", severity="warning")
            return

        def chosen(name: str | None) -> None:
            if not name or self._switching is not None:
                return
            if name == board.current:
                self.notify(f"already on channel {name}")
                return
            self._unless_run_going(
                f"Switch to channel {name} while a plan is running?",
                f"Switching to channel {name} aborts it",
                yes=f"switch: abort the run and open channel {name}",
                then=lambda: self._begin_switch(name),
            )

        self.push_screen(
            Picker(f"Switch channel — station {board.station}", board.choices(self.snapshot.link)),
            chosen,
        )

    def _begin_switch(self, name: str) -> None:
        self._switching = name
        self.run_worker(self._switch(name), group="switch")

    async def _switch(self, name: str) -> None:
        """Open channel ``name``; once it is open, close the current unit and show the new."""
        board = self.switchboard
        assert board is not None
        connection = board.connection(name)
        try:
            self.notify(f"opening channel {name} ({connection.where})…")
            try:
                session = await asyncio.to_thread(board.open, connection)
            except Exception as error:
                board.failures[name] = one_line(error)
                self.notify(
                    f"channel {name} not opened: {board.failures[name]}",
                    severity="error",
                    timeout=ERROR_SECONDS,
                )
                return
            try:
                await self._close_session()
            except BaseException:
                session.target.close()  # never started: nobody else will close its port
                raise
            board.failures.pop(name, None)
            board.current = name
            await self._show_session(session, connection.speed)
        finally:
            self._switching = None

    async def _close_session(self) -> None:
        """Stop the current unit (a running plan is aborted and filed) and wait for its
        driver thread to switch the loads off and close the port and meter."""
        self.session.stop()
        thread = self._thread
        if thread is not None:
            await asyncio.to_thread(thread.join, JOIN_TIMEOUT)
            if thread.is_alive():
                self.notify("the previous unit did not shut down cleanly", severity="warning")
        while self.screen is not self._main and len(self.screen_stack) > 1:
            if self.screen is self._prompt_screen:
                self._prompt_screen = None
            await self.pop_screen()

    async def _show_session(self, session: Session, speed: float) -> None:
        """Work on ``session`` from now on: a fresh main screen (its frame log holds this
        unit's frames only), then its driver thread."""
        self.session = session
        self.snapshot = session.snapshot
        self.speed = speed
        self._prompt_seq = 0
        self._prompt_screen = None
        main = MainScreen(self)
        await self.switch_screen(main)
        self._main = main
        self._drive(session)
        self.notify(f"now on {session.place}")

    # -- troubleshooting --------------------------------------------------------------------

    def open_guide(self) -> None:
        if self.snapshot.busy:
            self.notify(f"busy: {self.snapshot.busy}", severity="warning")
            return
        choices = [(tree.name, tree.title) for tree in load_trees()]

        def chosen(name: str | None) -> None:
            if name:
                self.push_screen(TroubleshootScreen(self, load_tree(name)))

        self.push_screen(Picker("Guided troubleshooting: what is wrong?", choices), chosen)

    def save_walk(self, text: str, symptom: str, saved: Callable[[int, bool], None]) -> None:
        """Save ``text`` (a finished walk) as a note on an open order the technician picks, or
        on a NEW order for this unit opened with ``symptom``; then ``saved(order_id, new)``."""
        self.run_worker(self._save_walk(text, symptom, saved), group="store")

    async def _save_walk(self, text: str, symptom: str, saved: Callable[[int, bool], None]) -> None:
        serial = self.snapshot.serial
        try:
            orders = await self.with_store(lambda store: store.orders(open_only=True))
        except Exception as error:
            self.notify(f"records database: {error}", severity="error")
            return
        choices = [("new", f"+ new order for {serial}: {symptom}")] if serial else []
        choices += [
            (str(o.id), f"{o.id}  {o.unit_serial}  {o.status} — {o.symptom}") for o in orders
        ]
        chosen = await self.push_screen_wait(
            Picker(
                "Save the walk on which order?",
                choices,
                empty="no open orders (and no unit serial, --unit, to open one for)",
            )
        )
        if not chosen:
            return
        if chosen == "new":
            await self._new_order(serial, symptom, text, saved)
            return
        order_id = int(chosen)
        by = self.session.operator.name  # entered now: dated by the store's clock
        try:
            await self.with_store(lambda store: store.add_note(text, order_id=order_id, by=by))
        except Exception as error:
            self.notify(f"not saved: {error}", severity="error")
            return
        saved(order_id, False)
        self.notify(f"saved on order {order_id}")

    async def _new_order(
        self, serial: str, symptom: str, text: str, saved: Callable[[int, bool], None]
    ) -> None:
        """Intake from the walk: the customer's agreement, then the order and the walk on it."""
        choice = await self.push_screen_wait(
            Picker(f"New order for {serial}: what did the customer agree to?", AGREEMENT_CHOICES)
        )
        if not choice:
            return
        agreement: Agreement = "repair" if choice == "repair" else "diagnosis"
        by = self.session.operator.name  # entered now: dated by the store's clock

        def intake(store: Store) -> int:
            order_id = store.open_order(serial, symptom, agreement=agreement, by=by)
            store.add_note(text, order_id=order_id, by=by)
            return order_id

        try:
            order_id = await self.with_store(intake)
        except Exception as error:
            self.notify(f"no order opened: {error}", severity="error")
            return
        saved(order_id, True)
        self.notify(f"new order {order_id} opened for {serial}, the walk saved on it")

    # -- records ----------------------------------------------------------------------------

    def open_orders(self) -> None:
        self.push_screen(OrdersScreen(self))

    async def with_store(self, action: Callable[[Store], T]) -> T:
        """Run ``action`` on the records store in a thread (its own connection)."""
        from bench.records.store import Store

        def call() -> T:
            with Store(self.db_path) as store:
                return action(store)

        return await asyncio.to_thread(call)
