"""The records as one object: units, service orders and bench runs on one connection.

Callers (the command line, the console, the runner's hook, the customer report) open the
records once and use all of them, so :class:`Store` is every part of the records on a single
connection to the file:

* :mod:`bench.records.database` — opening and checking the file, migrations, transactions;
* :mod:`bench.records.unit_records` — registered units;
* :mod:`bench.records.order_records` — orders, their timeline, contacts, parts and notes;
* :mod:`bench.records.run_records` — bench runs, their steps and final records;
* :mod:`bench.records.run_import` — a finished run uploaded whole, idempotently (``sync``).

Each part is a class of its own module; this one adds nothing but their sum.
"""

from __future__ import annotations

from bench.records.order_records import OrderRecords
from bench.records.run_import import RunImport
from bench.records.run_records import RunRecords


class Store(OrderRecords, RunRecords, RunImport):
    """One open records database. Not thread-safe: one per thread/process.

    ``Store(path, *, timeout=30.0, migrations=MIGRATIONS, read_only=False)`` opens (or
    creates) the file; see :class:`bench.records.database.RecordsDatabase`.
    """
