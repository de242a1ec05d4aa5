"""What the records commands (``unit``, ``order``, ``history``, ``report``) share on the
command line: the ``--db`` option, opening the store with its errors mapped to exit codes,
dates typed by a technician, and terminal output that stored free text cannot hijack.

It lives here, not in :mod:`bench.records`, because it is about a terminal and argparse; the
records room neither parses arguments nor prints.
"""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table

from bench.records.database import (
    DB_ENV,
    BadLocation,
    DatabaseError,
    StoreError,
    StoreOpenError,
    damaged_file,
    default_db_path,
    default_location,
    shown_location,
)
from bench.records.store import Store
from protocols.cli_support import EXIT_ERROR, UsageError
from protocols.files import OutputWriteError
from protocols.mspa.parts import UnknownPart

if TYPE_CHECKING:
    from rich.console import Console


def parse_date(text: str) -> date:
    """``YYYY-MM-DD`` or ValueError with the reason in one line."""
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a date (YYYY-MM-DD): {text!r}") from None


def add_db_option(parser: argparse.ArgumentParser) -> None:
    """``--db PATH|URL`` on a records command (SUPPRESS: a subparser must not reset a
    parent's): a records file, or a records server ``postgresql://user@host/database``."""
    parser.add_argument(
        "--db",
        metavar="PATH|URL",
        default=argparse.SUPPRESS,
        help=(
            "records database: a file, or a server postgresql://user@host/database "
            f"(default: ${DB_ENV} or {_default_shown()})"
        ),
    )


def _default_shown() -> str:
    """The default records location for ``--help``: a server without its password (help is
    read over shoulders and pasted into tickets); argparse's ``%`` escaped."""
    try:
        shown = shown_location(default_location())
    except BadLocation:
        shown = "the user data dir"  # the command itself will say why not
    return shown.replace("%", "%%")


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_LINE_BREAKS = frozenset("\t\n\r")


def printable(text: str) -> str:
    """Stored free text made safe for a terminal: C0/C1 control characters removed.

    A symptom or note typed (or imported) with ``ESC [ 2 J`` or an OSC sequence in it must
    not clear or retitle the technician's terminal; tabs and line breaks become spaces so a
    table row stays one row.
    """
    return _CONTROL.sub(lambda match: " " if match.group() in _LINE_BREAKS else "", text)


class SafeTable(Table):
    """A rich table of stored text: every string cell goes through :func:`printable`."""

    def add_row(self, *renderables: Any, **options: Any) -> None:
        cells = [printable(cell) if isinstance(cell, str) else cell for cell in renderables]
        super().add_row(*cells, **options)


def console() -> Console:
    """Rich output for listings: no markup (a symptom "[red]" is text), strings printed
    through :func:`printable`; when piped and ``$COLUMNS`` is unset, 200 columns rather than
    rich's 80, so rows stay on one line for ``grep``. A line of text (a path, a URL, a
    message) is never wrapped, whatever the width: a file name cut in two cannot be copied."""
    from rich.console import Console

    class SafeConsole(Console):
        def print(self, *objects: Any, **options: Any) -> None:
            cleaned = [printable(item) if isinstance(item, str) else item for item in objects]
            if cleaned and all(isinstance(item, str) for item in cleaned):
                options.setdefault("soft_wrap", True)
            super().print(*cleaned, **options)

    piped = not sys.stdout.isatty() and "COLUMNS" not in os.environ
    return SafeConsole(width=200 if piped else None, highlight=False, markup=False)


def check_db(location: str | None) -> None:
    """A records server URL (``--db`` or ``$SPABENCH_DB``) that does not parse is a usage
    error, said in one line (without its password) before anything runs."""
    from bench.records.destination import check_location

    try:
        check_location(location)
    except BadLocation as error:
        raise UsageError(str(error)) from None


def run_with_store(
    args: argparse.Namespace, action: Callable[[Store], int], *, read_only: bool = False
) -> int:
    """Open the store named by ``--db``/``$SPABENCH_DB``, run ``action``, map errors to exits.

    Unknown keys and bad input are usage errors (exit 2); an unusable database file is an
    error (exit 3); both one line. Commands that only read pass ``read_only=True``: they
    never create the file, and a missing one ("no records database at PATH", a mistyped
    ``--db``) is a usage error too — nothing has been recorded there.
    """
    path = getattr(args, "db", None)
    check_db(path)
    prog = f"spabench {getattr(args, 'command', '')}".strip()
    try:
        with Store(path, read_only=read_only) as store:
            return action(store)
    except (StoreOpenError, OutputWriteError) as error:
        sys.stderr.write(f"{prog}: error: {error}\n")
        return EXIT_ERROR
    except DatabaseError as error:
        if getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_CORRUPT:
            damaged = damaged_file(default_db_path() if path is None else Path(path), str(error))
            sys.stderr.write(f"{prog}: error: {damaged}\n")
        else:
            sys.stderr.write(f"{prog}: error: records database failure: {error}\n")
        return EXIT_ERROR
    except (StoreError, ValueError, UnknownPart, OverflowError) as error:
        raise UsageError(str(error)) from None
