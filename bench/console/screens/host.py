"""What the console's screens need from the app that shows them, and nothing more.

A screen asks its app for the session, the snapshot on show, the records store or another
screen. It receives the app as a :class:`ConsoleHost` in its constructor instead of importing
:mod:`bench.console.app`: the app depends on its screens and never the other way round, and
mypy checks, where the app builds a screen, that the app still offers all a screen uses.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from bench.console.session import Session
    from bench.console.state import Snapshot
    from bench.console.switchboard import Switchboard
    from bench.records.store import Store

T = TypeVar("T")


class ConsoleHost(Protocol):
    """The console app as its screens see it (:class:`~bench.console.app.ConsoleApp`)."""

    @property
    def session(self) -> Session:
        """The unit on the bench: commands, jobs, checks and the operator go through it."""

    @property
    def snapshot(self) -> Snapshot:
        """The snapshot the screens show (it may trail the session's latest by one update)."""

    @property
    def speed(self) -> float | None:
        """The time scale the link bar names (``None``: real time)."""

    @property
    def switchboard(self) -> Switchboard | None:
        """The station's channels (``--station``); None when the console has one unit."""

    @property
    def now(self) -> Callable[[], datetime]:
        """The clock the orders view judges overdue by (injectable, so the view is
        reproducible). What the technician enters is not dated by it: the store dates an
        entry made now by its own clock, after everything already on the order."""

    async def with_store(self, action: Callable[[Store], T]) -> T:
        """Run ``action`` on the records store without blocking the UI."""

    def open_plan(self) -> None:
        """Show the running plan, or offer the plans to start one."""

    def open_guide(self) -> None:
        """Offer the troubleshooting trees and walk the chosen one."""

    def open_orders(self) -> None:
        """Show the open service orders."""

    def switch_channel(self) -> None:
        """Offer the station's channels and work on the chosen one's unit instead."""

    def save_walk(self, text: str, symptom: str, saved: Callable[[int, bool], None]) -> None:
        """Let the technician pick an open order (or open a new one for the unit with
        ``symptom``), add ``text`` to it as a note, then call ``saved(order_id, new)``."""

    async def action_quit(self) -> None:
        """Leave the console (asking first while a plan runs)."""

    def run_going(self) -> bool:
        """A plan is running now."""

    def abort_run(self) -> None:
        """Stop the running plan and close every dialog over the screen."""
