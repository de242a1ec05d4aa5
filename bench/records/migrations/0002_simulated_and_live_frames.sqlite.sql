-- spabench records, schema version 2.
-- (1) A run on a simulated unit (spabench run --virtual, a served virtual box under a rehearsal
--     operator) is marked, so no listing, report or order rule can take it for a real box.
-- (2) Frames are stored as the run goes, in chunks committed with each step, so a run cut short
--     (Ctrl-C, a lost link, a crash) keeps the wire traffic it saw, and with each chunk the
--     trace samples taken since the last (water temperature, power: the report's charts);
--     finish_run still writes the complete record into runs.record_json.

ALTER TABLE runs ADD COLUMN simulated INTEGER NOT NULL DEFAULT 0 CHECK (simulated IN (0, 1));

-- Runs filed by earlier versions on a virtual unit (spabench run --virtual: the record's link
-- reads "virtual:<model>" or "virtual:panel") were simulated too: mark them, so an upgrade does
-- not turn them into evidence about a customer's box. The two guards of runs are lifted for
-- this one statement and put back unchanged.
DROP TRIGGER runs_finished_are_final;
DROP TRIGGER runs_update_only_finishes;
UPDATE runs SET simulated = 1
WHERE json_valid(record_json) AND json_extract(record_json, '$.link') LIKE 'virtual:%';
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

CREATE TABLE run_frames (
    run_id       INTEGER NOT NULL REFERENCES runs(id),
    chunk        INTEGER NOT NULL CHECK (chunk > 0),
    -- JSON array of frame entries [{"t": run seconds, "sender": "box"|"remote", "hex": "..."}].
    frames_json  TEXT NOT NULL,
    -- JSON array of trace samples [{"t": run seconds, "water_c": °C|null, "power_w": W|null}].
    trace_json   TEXT NOT NULL DEFAULT '[]',
    added_at     TEXT NOT NULL,
    PRIMARY KEY (run_id, chunk)
) WITHOUT ROWID;
CREATE TRIGGER run_frames_only_while_running BEFORE INSERT ON run_frames
WHEN (SELECT verdict FROM runs WHERE id = NEW.run_id) IS NOT 'running'
BEGIN
    SELECT RAISE(ABORT, 'spabench: frames can only be added to a running run');
END;
CREATE TRIGGER run_frames_no_update BEFORE UPDATE ON run_frames
BEGIN
    SELECT RAISE(ABORT, 'spabench: run frames are never modified');
END;
CREATE TRIGGER run_frames_no_delete BEFORE DELETE ON run_frames
BEGIN
    SELECT RAISE(ABORT, 'spabench: run frames are never deleted');
END;
-- Whether a run was simulated is fixed when it begins.
CREATE TRIGGER runs_simulated_is_fixed BEFORE UPDATE OF simulated ON runs
WHEN NEW.simulated IS NOT OLD.simulated
BEGIN
    SELECT RAISE(ABORT, 'spabench: whether a run was simulated cannot be changed');
END;
