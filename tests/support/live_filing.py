"""Filing a record the way a live run does, frames included: begun, each step committed as
it finishes, the wire traffic in chunks as it goes, then finished. The records tests that
compare backends or race benches file this way, so a record has rows in every run table."""

from __future__ import annotations

from bench.records.store import Store
from bench.testing.record import TestRecord
from support.records import started


def file_live(store: Store, record: TestRecord, order_id: int | None = None) -> int:
    """File ``record`` (its frames in two chunks, with the trace samples); returns the run id."""
    run_id = store.begin_run(started(record), order_id=order_id)
    for step in record.steps:
        store.add_step(run_id, step)
    half = len(record.frames) // 2
    store.add_frames(run_id, 1, record.frames[:half], record.trace[:1])
    store.add_frames(run_id, 2, record.frames[half:], record.trace[1:])
    store.finish_run(run_id, record)
    return run_id
