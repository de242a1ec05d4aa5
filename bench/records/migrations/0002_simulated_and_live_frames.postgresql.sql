-- spabench records, schema version 2, PostgreSQL (see 0002_simulated_and_live_frames.sqlite.sql
-- for what and why): runs.simulated, and frames stored in chunks as a run goes.

ALTER TABLE runs ADD COLUMN simulated INTEGER NOT NULL DEFAULT 0 CHECK (simulated IN (0, 1));

-- json_valid() of SQLite: text PostgreSQL's jsonb accepts.
CREATE FUNCTION spabench_is_json(value text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    PERFORM value::jsonb;
    RETURN true;
EXCEPTION WHEN others THEN
    RETURN false;
END
$$;

-- Runs filed by earlier versions on a virtual unit were simulated too (the guard of runs is
-- lifted for this one statement, as in SQLite).
ALTER TABLE runs DISABLE TRIGGER runs_guard_update;
UPDATE runs SET simulated = 1
WHERE spabench_is_json(record_json) AND (record_json::jsonb ->> 'link') LIKE 'virtual:%';
ALTER TABLE runs ENABLE TRIGGER runs_guard_update;

-- Whether a run was simulated is fixed when it begins (SQLite: runs_simulated_is_fixed,
-- created last, so fired first).
CREATE OR REPLACE FUNCTION runs_guard_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.simulated IS DISTINCT FROM OLD.simulated THEN
        RAISE EXCEPTION USING ERRCODE = 'integrity_constraint_violation',
            MESSAGE = 'spabench: whether a run was simulated cannot be changed';
    END IF;
    IF OLD.verdict = 'running' AND (
        NEW.verdict = 'running' OR NEW.finished_at IS NULL OR NEW.sha256 IS NULL
        OR NEW.id IS DISTINCT FROM OLD.id OR NEW.record_id IS DISTINCT FROM OLD.record_id
        OR NEW.unit_serial IS DISTINCT FROM OLD.unit_serial
        OR NEW.order_id IS DISTINCT FROM OLD.order_id
        OR NEW.created_at IS DISTINCT FROM OLD.created_at OR NEW.pid IS DISTINCT FROM OLD.pid
        OR NEW.host IS DISTINCT FROM OLD.host
        OR NEW.proc_start IS DISTINCT FROM OLD.proc_start) THEN
        RAISE EXCEPTION USING ERRCODE = 'integrity_constraint_violation',
            MESSAGE = 'spabench: a running run can only be finished, keeping its identity';
    END IF;
    IF OLD.verdict != 'running' THEN
        RAISE EXCEPTION USING ERRCODE = 'integrity_constraint_violation',
            MESSAGE = 'spabench: a finished run cannot be modified; add a correction note';
    END IF;
    RETURN NEW;
END
$$;

CREATE TABLE run_frames (
    run_id       BIGINT NOT NULL REFERENCES runs(id),
    chunk        INTEGER NOT NULL CHECK (chunk > 0),
    -- JSON array of frame entries [{"t": run seconds, "sender": "box"|"remote", "hex": "..."}].
    frames_json  TEXT COLLATE "C" NOT NULL,
    -- JSON array of trace samples [{"t": run seconds, "water_c": °C|null, "power_w": W|null}].
    trace_json   TEXT COLLATE "C" NOT NULL DEFAULT '[]',
    added_at     TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (run_id, chunk)
);
CREATE FUNCTION run_frames_only_while_running() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT verdict FROM runs WHERE id = NEW.run_id) IS DISTINCT FROM 'running' THEN
        RAISE EXCEPTION USING ERRCODE = 'integrity_constraint_violation',
            MESSAGE = 'spabench: frames can only be added to a running run';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER run_frames_only_while_running BEFORE INSERT ON run_frames
    FOR EACH ROW EXECUTE FUNCTION run_frames_only_while_running();
CREATE TRIGGER run_frames_no_update BEFORE UPDATE ON run_frames
    FOR EACH ROW EXECUTE FUNCTION spabench_refuse('spabench: run frames are never modified');
CREATE TRIGGER run_frames_no_delete BEFORE DELETE ON run_frames
    FOR EACH ROW EXECUTE FUNCTION spabench_refuse('spabench: run frames are never deleted');
CREATE TRIGGER run_frames_no_truncate BEFORE TRUNCATE ON run_frames
    FOR EACH STATEMENT EXECUTE FUNCTION spabench_refuse('spabench: run frames are never deleted');
