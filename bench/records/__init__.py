"""Service records: what a workshop keeps after the bench has spoken.

Units, orders and their flow, runs with their steps and frames live in one SQLite file
(:mod:`bench.records.store`, schema in :mod:`bench.records.migrations`); the order rules
(:mod:`bench.records.orders`) and the warranty terms (:mod:`bench.records.warranty`) decide
what may happen next; :mod:`bench.records.exports` gives a record its canonical JSON and
checksum, and :mod:`bench.records.customer_report` renders the page a customer reads from
its template. This room reads the test room's :class:`~bench.testing.record.TestRecord`; it
never runs a test.
"""
