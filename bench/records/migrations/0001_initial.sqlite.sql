-- spabench records, schema version 1.
-- Times written by the store are UTC ISO 8601 with microseconds ("2026-03-14T09:30:00.000000+00:00"),
-- so text order is time order. Dates are ISO "YYYY-MM-DD".

CREATE TABLE units (
    serial         TEXT PRIMARY KEY CHECK (length(serial) > 0),
    profile        TEXT NOT NULL CHECK (length(profile) > 0),
    purchase_date  TEXT NOT NULL CHECK (date(purchase_date) IS purchase_date),
    owner          TEXT NOT NULL DEFAULT '',
    original_owner INTEGER NOT NULL DEFAULT 1 CHECK (original_owner IN (0, 1)),
    added_at       TEXT NOT NULL
);

CREATE TABLE orders (
    id             INTEGER PRIMARY KEY,
    unit_serial    TEXT NOT NULL REFERENCES units(serial),
    opened_at      TEXT NOT NULL,
    opened_by      TEXT NOT NULL DEFAULT '',
    symptom        TEXT NOT NULL CHECK (length(symptom) > 0),
    agreement      TEXT NOT NULL CHECK (agreement IN ('diagnosis', 'repair')),
    quote_cents    INTEGER CHECK (quote_cents IS NULL OR quote_cents >= 0),
    quote_date     TEXT CHECK (quote_date IS NULL OR date(quote_date) IS quote_date),
    promised_date  TEXT CHECK (promised_date IS NULL OR date(promised_date) IS promised_date),
    -- Current status: a copy of the newest order_status row, kept by trigger, for listings.
    status         TEXT NOT NULL DEFAULT 'received',
    status_at      TEXT NOT NULL
);
CREATE INDEX orders_by_unit ON orders(unit_serial, id);
-- Only open orders can be overdue; a partial index keeps that query small however many
-- orders have been handed back over the years.
CREATE INDEX orders_open ON orders(opened_at) WHERE status != 'handed-back';

-- The timeline: append-only, one row per status change, who and when.
CREATE TABLE order_status (
    id        INTEGER PRIMARY KEY,
    order_id  INTEGER NOT NULL REFERENCES orders(id),
    status    TEXT NOT NULL CHECK (status IN ('received', 'diagnosed', 'awaiting-approval',
                                              'repaired', 'verified', 'handed-back')),
    at        TEXT NOT NULL,
    by        TEXT NOT NULL DEFAULT '',
    note      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX order_status_by_order ON order_status(order_id, id);
CREATE TRIGGER order_status_sets_current AFTER INSERT ON order_status
BEGIN
    UPDATE orders SET status = NEW.status, status_at = NEW.at WHERE id = NEW.order_id;
END;
CREATE TRIGGER order_status_no_update BEFORE UPDATE ON order_status
BEGIN
    SELECT RAISE(ABORT, 'spabench: the status timeline is append-only');
END;
CREATE TRIGGER order_status_no_delete BEFORE DELETE ON order_status
BEGIN
    SELECT RAISE(ABORT, 'spabench: the status timeline is append-only');
END;

CREATE TABLE contacts (
    id        INTEGER PRIMARY KEY,
    order_id  INTEGER NOT NULL REFERENCES orders(id),
    at        TEXT NOT NULL,
    by        TEXT NOT NULL DEFAULT '',
    note      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX contacts_by_order ON contacts(order_id, at);

CREATE TABLE parts_replaced (
    id           INTEGER PRIMARY KEY,
    order_id     INTEGER NOT NULL REFERENCES orders(id),
    part_number  TEXT NOT NULL,
    quantity     INTEGER NOT NULL CHECK (quantity > 0),
    at           TEXT NOT NULL,
    by           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX parts_by_order ON parts_replaced(order_id);

-- Bench runs. record_json is the canonical JSON of the TestRecord (see bench.records.exports): at
-- begin_run the record as it started, at finish_run the final record; sha256 is its hash.
CREATE TABLE runs (
    id           INTEGER PRIMARY KEY,
    record_id    TEXT NOT NULL UNIQUE,
    unit_serial  TEXT NOT NULL CHECK (length(unit_serial) > 0),
    order_id     INTEGER REFERENCES orders(id),
    plan         TEXT NOT NULL,
    operator     TEXT NOT NULL DEFAULT '',
    verdict      TEXT NOT NULL DEFAULT 'running'
                 CHECK (verdict IN ('running', 'pass', 'fail', 'error')),
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    created_at   TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    host         TEXT NOT NULL,
    proc_start   TEXT,
    summary      TEXT NOT NULL DEFAULT '',
    sha256       TEXT,
    record_json  TEXT NOT NULL
);
CREATE INDEX runs_by_unit ON runs(unit_serial, id);
CREATE INDEX runs_by_order ON runs(order_id, id) WHERE order_id IS NOT NULL;
CREATE INDEX runs_running ON runs(host, pid) WHERE verdict = 'running';

-- A running run may change exactly once: to its final verdict, keeping its identity.
CREATE TRIGGER runs_finished_are_final BEFORE UPDATE ON runs
WHEN OLD.verdict != 'running'
BEGIN
    SELECT RAISE(ABORT, 'spabench: a finished run cannot be modified; add a correction note');
END;
CREATE TRIGGER runs_update_only_finishes BEFORE UPDATE ON runs
WHEN OLD.verdict = 'running' AND (
    NEW.verdict = 'running' OR NEW.finished_at IS NULL OR NEW.sha256 IS NULL
    OR NEW.id IS NOT OLD.id OR NEW.record_id IS NOT OLD.record_id
    OR NEW.unit_serial IS NOT OLD.unit_serial OR NEW.order_id IS NOT OLD.order_id
    OR NEW.created_at IS NOT OLD.created_at OR NEW.pid IS NOT OLD.pid
    OR NEW.host IS NOT OLD.host OR NEW.proc_start IS NOT OLD.proc_start)
BEGIN
    SELECT RAISE(ABORT, 'spabench: a running run can only be finished, keeping its identity');
END;
CREATE TRIGGER runs_no_delete BEFORE DELETE ON runs
BEGIN
    SELECT RAISE(ABORT, 'spabench: runs are never deleted');
END;

-- One row per finished step, committed as the step finishes.
CREATE TABLE run_steps (
    run_id    INTEGER NOT NULL REFERENCES runs(id),
    seq       INTEGER NOT NULL CHECK (seq > 0),
    name      TEXT NOT NULL,
    outcome   TEXT NOT NULL CHECK (outcome IN ('pass', 'fail', 'error', 'skipped')),
    added_at  TEXT NOT NULL,
    step_json TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE TRIGGER run_steps_only_while_running BEFORE INSERT ON run_steps
WHEN (SELECT verdict FROM runs WHERE id = NEW.run_id) IS NOT 'running'
BEGIN
    SELECT RAISE(ABORT, 'spabench: steps can only be added to a running run');
END;
CREATE TRIGGER run_steps_no_update BEFORE UPDATE ON run_steps
BEGIN
    SELECT RAISE(ABORT, 'spabench: run steps are never modified');
END;
CREATE TRIGGER run_steps_no_delete BEFORE DELETE ON run_steps
BEGIN
    SELECT RAISE(ABORT, 'spabench: run steps are never deleted');
END;

-- Notes on an order or a run; a correction to a finished run is a note of kind 'correction'.
CREATE TABLE notes (
    id        INTEGER PRIMARY KEY,
    order_id  INTEGER REFERENCES orders(id),
    run_id    INTEGER REFERENCES runs(id),
    kind      TEXT NOT NULL DEFAULT 'note' CHECK (kind IN ('note', 'correction')),
    at        TEXT NOT NULL,
    by        TEXT NOT NULL DEFAULT '',
    text      TEXT NOT NULL CHECK (length(text) > 0),
    CHECK (order_id IS NOT NULL OR run_id IS NOT NULL)
);
CREATE INDEX notes_by_order ON notes(order_id) WHERE order_id IS NOT NULL;
CREATE INDEX notes_by_run ON notes(run_id) WHERE run_id IS NOT NULL;
