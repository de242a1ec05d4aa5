"""The records as one object: units, service orders and bench runs on one connection.

Callers (the command line, the console, the runner's hook, the customer report) open the
records once and use all of them, so :class:`Store` is every part of the records on a single
connection:

* :mod:`bench.records.database` — opening and checking the records (an SQLite file or a
  PostgreSQL server, :mod:`bench.records.backends`), migrations, transactions;
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

    ``Store(path_or_url, *, timeout=30.0, migrations=MIGRATIONS, read_only=False,
    connect_timeout=5.0)`` opens (or creates) the records in a file or on a server
    (``postgresql://…``); see :class:`bench.records.database.RecordsDatabase`.
    """
