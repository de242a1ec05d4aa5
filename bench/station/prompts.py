"""Operator prompts of many channels, asked one at a time by the one thread that owns the
terminal.

A station runs each channel in its own thread, but there is one technician and one
keyboard. A channel that needs a person (:class:`ChannelOperator`) hands its prompt to the
:class:`PromptDesk` and waits for the answer *through its driver*, so its unit keeps being
served (reports heard, keep-alives sent: a technician who takes a minute does not trip the
box's fail-safe) while the other channels run on. The main thread takes the prompts off the
desk in the order they came and asks each, prefixed with the channel that asks
(``[channel A · /dev/ttyUSB0] Is the air blower running?``), so the answer goes to the unit
it is about.

Without a terminal to ask at (CI, a service) nobody can answer: the step errors at once with
"operator needed: …" instead of hanging, as ``spabench run``'s does.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from bench.testing.instruments.operator import OperatorError
from protocols.driver import Driver

PromptKind = Literal["confirm", "number", "choose", "act"]
"""Which of the operator's questions a prompt is (:class:`~bench.testing.instruments.operator.
Operator`'s methods, and ``choose`` for the model plate)."""

_WAIT_S = 0.25
"""Wall seconds between looks at "stop" while an operator bound to no driver waits for an
answer."""


@dataclass(eq=False)
class Prompt:
    """One question a channel asks, and — once the main thread has asked it — the answer."""

    asker: str
    """Who asks: ``channel A · /dev/ttyUSB0``."""
    kind: PromptKind
    prompt_id: str
    question: str
    unit: str = ""
    choices: tuple[str, ...] = ()
    answer: Any = None
    refused: str | None = None
    """Why no answer came (nobody at the terminal, the prompt was withdrawn)."""
    on_done: Callable[[], None] | None = None
    """Called (from the answering thread) once answered or refused: wakes the asker."""
    _done: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def text(self) -> str:
        """The question as the technician reads it: ``[channel A · PORT] question``."""
        return f"[{self.asker}] {self.question}"

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float) -> bool:
        return self._done.wait(timeout)

    def give(self, answer: Any) -> None:
        """The technician's answer (main thread)."""
        self.answer = answer
        self._finish()

    def refuse(self, reason: str) -> None:
        """No answer will come: the asking step errors with ``reason``."""
        self.refused = reason
        self._finish()

    def _finish(self) -> None:
        self._done.set()
        if self.on_done is not None:
            self.on_done()


class PromptDesk:
    """Where the channels leave their prompts and the main thread takes them, one at a time,
    in the order they were asked. Also carries the channels' other news for the main thread
    (lines to print, "a channel ended"), so it sleeps on one queue, never polls."""

    def __init__(self) -> None:
        self._queue: queue.Queue[object] = queue.Queue()
        self._lock = threading.Lock()
        self._open: list[Prompt] = []
        self._closed: str | None = None

    def submit(self, prompt: Prompt) -> None:
        """Leave ``prompt`` for the main thread (refused at once once the desk is closed)."""
        with self._lock:
            if self._closed is not None:
                prompt.refuse(self._closed)
                return
            self._open.append(prompt)
        self._queue.put(prompt)

    def post(self, news: object) -> None:
        """Anything else for the main thread (a line, a channel that ended)."""
        self._queue.put(news)

    def next(self, timeout: float | None) -> object | None:
        """The next prompt or news, waiting up to ``timeout`` wall seconds; None when none
        came. A prompt already withdrawn is passed over."""
        while True:
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                return None
            if isinstance(item, Prompt):
                with self._lock:
                    if item.done or item not in self._open:
                        continue
            return item

    def answered(self, prompt: Prompt, answer: Any) -> None:
        self._forget(prompt)
        prompt.give(answer)

    def refused(self, prompt: Prompt, reason: str) -> None:
        self._forget(prompt)
        prompt.refuse(reason)

    def withdraw(self, prompt: Prompt) -> None:
        """The asker gave up waiting (its channel stops): the prompt is never asked."""
        self._forget(prompt)

    def close(self, reason: str) -> None:
        """Refuse every prompt waiting and every later one (the station is stopping)."""
        with self._lock:
            self._closed = reason
            waiting, self._open = self._open, []
        for prompt in waiting:
            prompt.refuse(reason)

    def _forget(self, prompt: Prompt) -> None:
        with self._lock:
            if prompt in self._open:
                self._open.remove(prompt)


class ChannelOperator:
    """The technician as one channel's steps see them: every question goes to the desk,
    prefixed with the channel, and the step waits for the answer.

    The wait goes through the channel's driver (:meth:`bind`, before its target is built:
    the unit is served meanwhile, and a stop the station injects into the driver ends the
    wait — a model plate asked while the unit is identified too); an operator bound to no
    driver waits on the prompt itself, looking at ``stopping`` every :data:`_WAIT_S`
    seconds.
    """

    def __init__(
        self,
        name: str,
        asker: str,
        desk: PromptDesk,
        *,
        interactive: bool,
        stopping: Callable[[], None] = lambda: None,
    ) -> None:
        self.name = name
        self.asker = asker
        self.desk = desk
        self.interactive = interactive
        """Someone can answer at the terminal; if not, a prompt errors its step at once."""
        self._stopping = stopping
        """Raises when the channel is being stopped (the session's stop check)."""
        self._driver: Driver | None = None
        self._lock = threading.Lock()

    def bind(self, driver: Driver | None) -> None:
        """Wait for answers through ``driver`` from now on (the channel's clock); None
        before the driver closes (nothing is then written to its wake-up pipe)."""
        with self._lock:
            self._driver = driver

    def _wake(self) -> None:
        with self._lock:  # never into a driver being closed
            if self._driver is not None:
                self._driver.call_soon_threadsafe(_nothing)

    def _ask(
        self,
        kind: PromptKind,
        prompt_id: str,
        question: str,
        unit: str = "",
        choices: Sequence[str] = (),
    ) -> Any:
        if not self.interactive:
            raise OperatorError(f"operator needed: {question}")
        self._stopping()
        prompt = Prompt(
            self.asker, kind, prompt_id, question, unit, tuple(choices), on_done=self._wake
        )
        self.desk.submit(prompt)
        try:
            driver = self._driver
            if driver is not None:
                driver.wait_until(lambda: prompt.done, None)
            else:
                while not prompt.wait(_WAIT_S):
                    self._stopping()
        finally:
            if not prompt.done:
                self.desk.withdraw(prompt)
        if prompt.refused is not None:
            raise OperatorError(prompt.refused)
        return prompt.answer

    def confirm(self, prompt_id: str, question: str) -> bool:
        return bool(self._ask("confirm", prompt_id, question))

    def number(self, prompt_id: str, question: str, unit: str) -> float:
        return float(self._ask("number", prompt_id, question, unit=unit))

    def choose(self, prompt_id: str, question: str, choices: Sequence[str]) -> str:
        return str(self._ask("choose", prompt_id, question, choices=choices))

    def act(self, prompt_id: str, instruction: str) -> None:
        self._ask("act", prompt_id, instruction)


def _nothing() -> None:
    """Queued into a driver to end its wait: the predicate is looked at again."""
    return None
