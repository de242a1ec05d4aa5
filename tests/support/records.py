"""Test records for the records tests and the records benchmarks: one builder for both.

Every record here is built by :func:`workshop_record` (a premium-4 unit on ``bench-1``, as a
workshop's bench writes it), from steps made of :func:`measured` readings and frames in
:func:`frame_hex`:

* :func:`filter_pump_failure` and :func:`passing_verification` — the two runs of a repair (a
  dead filter pump found, then the new pump verified) the tests assert on, fixed to the digit;
* :func:`varied_record` — one run of a five-step plan with every reading a little different,
  a 40-frame capture and a 20-point trace: the bulk a benchmark fills a file with.

:func:`started` is such a record as the runner has it at ``begin_run``; :func:`store_run`
stores one the way the runner does (begin, a step at a time, finish); :func:`batch` groups
many store calls into one transaction for bulk loads, which no product code needs (a live run
commits every step). ``benchmarks/records.py`` puts this ``tests/`` folder on ``sys.path`` to
import this module, as the tests do.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime

from bench.records.database import StoreError
from bench.records.store import Store
from bench.testing.record import (
    FrameEntry,
    Limits,
    Measurement,
    StepResult,
    SuspectedPart,
    TestRecord,
    TraceSample,
    UnitInfo,
    Verdict,
)

SERIAL = "MS-2026-000123"
NOW = datetime(2026, 3, 20, 8, 0, tzinfo=UTC)

# ------------------------------------------------------------------------------ pieces


def frame_hex(cmd: int, param: int) -> str:
    """A wire frame (``A5 cmd param checksum``) as the record's ``hex`` field has it."""
    return bytes([0xA5, cmd, param, (0xA5 + cmd + param) % 256]).hex()


def measured(
    name: str,
    value: float | str | bool | None,
    limits: Limits,
    unit: str = "",
    text: str = "",
    at: float = 1.0,
) -> Measurement:
    """A measurement already taken (judged against ``limits`` by :meth:`Measurement.set`)."""
    item = Measurement(name=name, unit=unit, description=text, limits=limits)
    item.set(value, at=at)
    return item


def workshop_record(
    *,
    record_id: str,
    plan: str,
    verdict: Verdict,
    summary: str,
    steps: list[StepResult],
    serial: str = SERIAL,
    operator: str = "Ada Tech",
    meter: str | None = "rtu:/dev/ttyUSB1",
    started_at: str = "",
    finished_at: str | None = None,
    suspected_parts: list[SuspectedPart] | None = None,
    frames: list[FrameEntry] | None = None,
    trace: list[TraceSample] | None = None,
) -> TestRecord:
    """A finished record of an MSpa Premium 4 tested on ``bench-1`` through /dev/ttyUSB0."""
    return TestRecord(
        record_id=record_id,
        plan=plan,
        unit=UnitInfo(serial=serial, profile="premium-4", model="MSpa Premium 4"),
        operator=operator,
        station="bench-1",
        link="/dev/ttyUSB0",
        meter=meter,
        software="spabench 0.1.0",
        started_at=started_at,
        finished_at=finished_at,
        verdict=verdict,
        summary=summary,
        suspected_parts=suspected_parts or [],
        steps=steps,
        frames=frames or [],
        trace=trace or [],
    )


# ------------------------------------------------------------------- a repair, exactly


def power_on_step() -> StepResult:
    return StepResult(
        name="power-on",
        title="Power-on and handshake",
        kind="link",
        outcome="pass",
        started=0.0,
        finished=7.2,
        measurements=[
            measured("handshake", True, Limits(expected=True), text="box answers the handshake"),
            measured(
                "first_report_s", 6.06, Limits(high=10.0), "s", "first temperature report after"
            ),
            measured("standby_w", 2.1, Limits(low=0.5, high=5.0, marginal=0.3), "W", "standby"),
        ],
    )


def filter_pump_failure(record_id: str = "rec-fail-0001", serial: str = SERIAL) -> TestRecord:
    """A returned box whose filter pump is dead: no pump draw, no flow, heater skipped."""
    pump = StepResult(
        name="filter-pump",
        title="Filter pump",
        kind="load",
        outcome="fail",
        message="filter on: no pump draw, flow stays 0",
        started=7.2,
        finished=22.0,
        measurements=[
            measured("pump_w", 0.4, Limits(low=40.0, high=80.0), "W", "filter pump power"),
            measured("flow", False, Limits(expected=True), text="flow switch closes"),
        ],
        suspects=["filter-pump-dead"],
    )
    heater = StepResult(
        name="heater",
        title="Heater",
        kind="load",
        outcome="skipped",
        message="needs water flow",
        measurements=[Measurement("heater_w", "W", "heater power", Limits(low=1400, high=2100))],
    )
    return workshop_record(
        record_id=record_id,
        plan="full",
        serial=serial,
        started_at="2026-03-20T09:00:00+00:00",
        finished_at="2026-03-20T09:01:02+00:00",
        verdict="fail",
        summary="replace: B9300929 filter pump",
        suspected_parts=[
            SuspectedPart(
                "B9300929", "filter pump", "filter-pump-dead", "no pump draw, flow stays 0"
            )
        ],
        steps=[power_on_step(), pump, heater],
        frames=[
            FrameEntry(5.46, "box", frame_hex(0x09, 0x00)),
            FrameEntry(5.66, "box", frame_hex(0x07, 0x0C)),
            FrameEntry(5.89, "remote", frame_hex(0x0B, 0x00)),
            FrameEntry(5.89, "box", frame_hex(0x0B, 0x86)),
            FrameEntry(6.06, "box", frame_hex(0x06, 0x2F)),
            FrameEntry(8.00, "remote", frame_hex(0x02, 0x01)),
            FrameEntry(8.87, "box", frame_hex(0x08, 0x00)),
        ],
        trace=[TraceSample(t, 23.5, 2.1 if t < 8 else 2.5) for t in (0.0, 10.0, 20.0)],
    )


def passing_verification(record_id: str = "rec-pass-0001", serial: str = SERIAL) -> TestRecord:
    """After the new pump: it draws 62 W, flow closes, the 20 L tank heats at full power."""
    samples = []
    water = 20.0
    for index in range(41):  # every 15 s for 10 minutes
        t = index * 15.0
        power = 2.1 if t < 15 else 62.0 if t < 60 else 1562.0 if t < 75 else 2062.0
        if t >= 60:
            water += (power - 62.0) * 15.0 / (20 * 4186)
        samples.append(TraceSample(t, round(water * 2) / 2, power))
    rise = round(water * 2) / 2 - 20.0
    pump = StepResult(
        name="filter-pump",
        title="Filter pump",
        kind="load",
        outcome="pass",
        started=7.2,
        finished=60.0,
        measurements=[
            measured("pump_w", 62.0, Limits(low=40.0, high=80.0), "W", "filter pump power"),
            measured("flow", True, Limits(expected=True), text="flow switch closes"),
        ],
    )
    heater = StepResult(
        name="heater",
        title="Heater",
        kind="load",
        outcome="pass",
        started=60.0,
        finished=600.0,
        measurements=[
            measured("heater_w", 2000.0, Limits(low=1400, high=2100), "W", "heater power"),
            measured("rise_c", rise, Limits(low=0.5), "°C", "water rise"),
        ],
    )
    return workshop_record(
        record_id=record_id,
        plan="verify-filter-pump",
        serial=serial,
        started_at="2026-03-21T10:00:00+00:00",
        finished_at="2026-03-21T10:10:05+00:00",
        verdict="pass",
        summary="unit OK",
        steps=[power_on_step(), pump, heater],
        frames=[FrameEntry(6.06, "box", frame_hex(0x06, 0x28))],
        trace=samples,
    )


# ------------------------------------------------------------------ many runs, varied

FIVE_STEPS = (
    (
        "power-on",
        "Power-on and handshake",
        ("standby_w", "W", 0.5, 5.0),
        ("first_report_s", "s", None, 10.0),
    ),
    ("filter-pump", "Filter pump", ("pump_w", "W", 40.0, 80.0), ("flow", "", None, None)),
    ("heater", "Heater", ("heater_w", "W", 1400.0, 2100.0), ("rise_c", "°C", 0.5, None)),
    ("blower", "Bubbles", ("blower_w", "W", 700.0, 1000.0), ("bubbles_seen", "", None, None)),
    ("ozone", "Ozone", ("ozone_w", "W", 5.0, 15.0), ("auto_off_s", "s", 7000.0, 7400.0)),
)
"""The plan of :func:`varied_record`: per step, two readings (name, unit, low, high); a
reading without a nominal value below is a yes/no check."""
NOMINAL = {
    "standby_w": 2.0,
    "first_report_s": 6.1,
    "pump_w": 60.0,
    "heater_w": 2000.0,
    "rise_c": 3.0,
    "blower_w": 900.0,
    "ozone_w": 10.0,
    "auto_off_s": 7200.0,
}


def varied_record(rng: random.Random, fail: bool) -> TestRecord:
    """One run of :data:`FIVE_STEPS`, readings ±3 % of nominal; ``fail``: the filter pump is
    dead (a diagnosis run). No serial, id or times yet: the caller sets them per run."""
    steps = []
    for index, (name, title, *specs) in enumerate(FIVE_STEPS):
        measurements = []
        for key, unit, low, high in specs:
            limits = Limits(low=low, high=high) if key in NOMINAL else Limits(expected=True)
            if key in NOMINAL:
                value: float | bool = NOMINAL[key] * rng.uniform(0.97, 1.03)
                if fail and name == "filter-pump" and key == "pump_w":
                    value = 0.3
            else:
                value = not (fail and name == "filter-pump")
            measurements.append(
                measured(key, value, limits, unit, key.replace("_", " "), at=index * 60.0)
            )
        outcome = "fail" if any(m.outcome == "fail" for m in measurements) else "pass"
        steps.append(
            StepResult(
                name,
                title,
                "load",
                outcome,
                "",
                index * 60.0,
                index * 60.0 + 55,
                measurements,
                ["filter-pump-dead"] if outcome == "fail" else [],
            )
        )
    return workshop_record(
        record_id="template",
        plan="full" if fail else "verify-filter-pump",
        serial="",
        operator=rng.choice(("Ada", "Bo", "Cy")),
        meter=None,
        verdict="fail" if fail else "pass",
        summary="replace: B9300929 filter pump" if fail else "unit OK",
        suspected_parts=[SuspectedPart("B9300929", "filter pump", "filter-pump-dead")]
        if fail
        else [],
        steps=steps,
        frames=[
            FrameEntry(i * 0.75, "box" if i % 2 else "remote", frame_hex(0x06, 40 + i % 5))
            for i in range(40)
        ],
        trace=[TraceSample(i * 15.0, 20.0 + i * 0.2, 2062.0) for i in range(20)],
    )


# ------------------------------------------------------------------------ into a store


def started(record: TestRecord) -> TestRecord:
    """The record as the runner has it at begin_run: running, nothing measured, captured or
    concluded yet."""
    return replace(
        record,
        unit=replace(record.unit),
        steps=[],
        frames=[],
        trace=[],
        suspected_parts=[],
        verdict="running",
        finished_at=None,
        summary="",
    )


def store_run(store: Store, record: TestRecord, order_id: int | None = None) -> int:
    """Store ``record`` the way the runner does: begin, a step at a time, finish. A simulated
    record goes on an order as ``spabench run --simulated`` files it (said explicitly)."""
    run_id = store.begin_run(
        started(record),
        unit_serial=record.unit.serial,
        order_id=order_id,
        allow_simulated=record.simulated,
    )
    for step in record.steps:
        store.add_step(run_id, step)
    store.finish_run(run_id, record)
    return run_id


def register(store: Store, serial: str = SERIAL) -> None:
    store.add_unit(serial, "premium-4", date(2025, 6, 1), owner="Jo Customer", now=NOW)


@contextmanager
def batch(store: Store) -> Iterator[None]:
    """Group many store calls into one transaction, for bulk loads where a commit per call
    would dominate. Each call inside still undoes only itself when it fails (the store writes
    a savepoint inside a transaction its caller opened: :attr:`Store.grouped`);
    nothing is visible to others until the end. Both backends: an SQLite file takes its write
    lock up front (``BEGIN IMMEDIATE``), a server a plain ``BEGIN`` (the store's own writes
    lock the rows they decide on). Never for a live run, and keep batches short: other
    writers wait for the lock."""
    conn = store._conn
    if conn.in_transaction:
        raise StoreError("store batches do not nest")
    conn.execute("BEGIN IMMEDIATE" if store.dialect == "sqlite" else "BEGIN")
    store.grouped = True
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")
    finally:
        store.grouped = False
