"""Waiting for the console to have shown something, without sleeping on the wall clock.

The console changes when its worker thread says so, not on a timer, so a test or a script
that wants to look at the screen waits for *updates*: each applied update wakes the waiters,
which re-check their condition. The timeout only turns a hang into a failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Updates:
    """Counts applied updates; :meth:`until` waits for a condition to hold after one."""

    def __init__(self) -> None:
        self.count = 0
        self._event = asyncio.Event()

    def bump(self) -> None:
        self.count += 1
        self._event.set()

    async def until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Return once ``predicate()`` holds (``TimeoutError`` after ``timeout`` wall s)."""
        async with asyncio.timeout(timeout):
            while not predicate():
                self._event.clear()
                await self._event.wait()
