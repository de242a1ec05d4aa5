"""Service records: what a workshop keeps after the bench has spoken.

Units, orders and their flow, runs with their steps and frames live in one SQLite file,
split by concern: :mod:`bench.records.database` opens and checks the file (schema in
:mod:`bench.records.migrations`) and owns its transactions; :mod:`bench.records.unit_records`,
:mod:`bench.records.order_records` and :mod:`bench.records.run_records` keep units, orders and
runs (:mod:`bench.records.liveness` tells a live run from an interrupted one), and
:class:`bench.records.store.Store` is all three on one connection. The order rules
(:mod:`bench.records.orders`, and :mod:`bench.records.verification` for which runs verify a
repair) and the warranty terms (:mod:`bench.records.warranty`) decide
what may happen next and import no persistence; :mod:`bench.records.exports` gives a record
its canonical JSON and checksum, and :mod:`bench.records.customer_report` renders the page a
customer reads from its template. This room reads the test room's
:class:`~bench.testing.record.TestRecord`; it never runs a test, parses arguments or prints.
"""
