"""The hand-off from a worker thread to the UI: frames queued, at most one wake-up waiting.

The console's driver thread and the sniffer's thread both hear frames far faster than a screen
needs redrawing. Each queues its frames here and rings; the UI is told once (``notify`` posts
a Textual message, which is thread-safe) and takes everything queued when it gets to it, so
however fast the wire runs, at most one message waits in the UI's queue.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from bench.console.state import FrameEntry

FRAMES_KEPT = 20000
"""Frames kept for a UI that has not taken them yet; older ones are dropped."""


class Mailbox:
    """Frames from a worker thread, and the one wake-up that tells the UI to take them."""

    def __init__(self, maxlen: int = FRAMES_KEPT) -> None:
        self.notify: Callable[[], None] | None = None
        """Called from the worker thread when there is something new and the UI has not been
        told since it last took (the app posts a message)."""
        self._frames: deque[FrameEntry] = deque(maxlen=maxlen)
        self._lock = threading.Lock()
        self._rung = False

    def put(self, entry: FrameEntry) -> None:
        """Queue a frame for the UI (worker thread); :meth:`ring` tells it."""
        self._frames.append(entry)

    def ring(self) -> None:
        """Tell the UI there is something new, unless it was told and has not taken yet."""
        with self._lock:
            if self._rung:
                return
            self._rung = True
        if self.notify is not None:
            self.notify()

    def take(self) -> list[FrameEntry]:
        """The frames queued since the last call (UI thread); the next ring tells the UI."""
        with self._lock:
            self._rung = False
        taken: list[FrameEntry] = []
        pop = self._frames.popleft
        while self._frames:
            taken.append(pop())
        return taken
