"""Where the records live: an embedded SQLite file or a PostgreSQL server.

:class:`bench.records.database.RecordsDatabase` opens one of them and the records code above
it (units, orders, runs) is one code path for both: it writes portable SQL with ``?`` and
``:name`` placeholders and reads rows by column name or index. Each backend hides its driver:

* :mod:`bench.records.backends.base` — what both give: the errors callers catch and the shape
  of a connection, a cursor and a row;
* :mod:`bench.records.backends.sqlite` — opening, checking and migrating a records file;
* :mod:`bench.records.backends.postgresql` — connecting to a records server with psycopg,
  translating placeholders, mapping the driver's errors, migrating under a lock.
"""
