"""``a abort run`` in every console dialog, not only on the run screen.

A modal dialog hides the bindings of the screens beneath it, so while an operator question (or
any other dialog) was up, the run screen's ``a`` did nothing — exactly when a technician who
sees something wrong at the bench needs it most. Each console dialog therefore carries
:data:`ABORT_RUN` itself and hands it to the app. The dialogs do not import the app: they ask
whether it is a :class:`RunControl` (the console is; the sniffer, which shares the pickers,
is not, so there the key is neither shown nor bound).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from textual.binding import Binding


@runtime_checkable
class RunControl(Protocol):
    """An app with a plan that may be running (:class:`~bench.console.app.ConsoleApp`)."""

    def run_going(self) -> bool:
        """A plan is running now."""

    def abort_run(self) -> None:
        """Stop the running plan (loads off, filed as aborted) and close every dialog."""


ABORT_RUN = Binding("a", "abort_run", "abort run")
"""The binding each console dialog lists; see :func:`abort_state` and :func:`abort_run`."""


def abort_state(app: object) -> bool:
    """``check_action`` for ``abort_run``: offered only while a plan runs (False hides it)."""
    return isinstance(app, RunControl) and app.run_going()


def abort_run(app: object) -> None:
    if isinstance(app, RunControl):
        app.abort_run()
