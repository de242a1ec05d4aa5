-- spabench records, schema version 4, PostgreSQL: the order rules hold under concurrency (read
-- 0004_order_rules_under_concurrency.sqlite.sql for the rules and why).
-- * The status flow is checked after schema 3's rules of order_status, as in SQLite: its
--   trigger's name sorts after order_status_rules (PostgreSQL fires a table's triggers in the
--   order of their names), and it locks the order's row first like every order-event trigger.
-- * A failing run is answered by a pass that STARTED after it, not one uploaded after it
--   (the view unanswered_failures is replaced; the functions that read it look it up by
--   name when they run, so they read the new one).
-- * A run filed on an order, or finished, locks the order's row too: the checks of
--   verification and hand-back read the order's runs, and see them settled, not half-written.
-- * A new status or agreement change takes its id after the order's lock, not before: the
--   order's current status and agreement are its row of the highest id, so ids must follow
--   the order in which the lock lets the writers in. An identity's default is drawn when the
--   row is formed, before any trigger, so a change typed in psql, waiting for a bench's lock
--   with an id drawn earlier, would be refused as a rewrite although it is the newest. So
--   the two ids are no identities any more: their sequences are drawn by the triggers that
--   hold the lock (NOT NULL is checked after the BEFORE triggers), one number per row.

ALTER TABLE order_status ALTER COLUMN id DROP IDENTITY;
CREATE SEQUENCE order_status_id_seq OWNED BY order_status.id;
SELECT setval('order_status_id_seq', coalesce(max(id), 0) + 1, false) FROM order_status;
ALTER TABLE agreement_changes ALTER COLUMN id DROP IDENTITY;
CREATE SEQUENCE agreement_changes_id_seq OWNED BY agreement_changes.id;
SELECT setval('agreement_changes_id_seq', coalesce(max(id), 0) + 1, false) FROM agreement_changes;

CREATE VIEW status_transitions (from_status, to_status) AS VALUES
    ('received', 'diagnosed'),
    ('diagnosed', 'awaiting-approval'),
    ('diagnosed', 'repaired'),
    ('diagnosed', 'handed-back'),
    ('awaiting-approval', 'repaired'),
    ('awaiting-approval', 'handed-back'),
    ('repaired', 'verified'),
    ('repaired', 'diagnosed'),
    ('verified', 'handed-back'),
    ('verified', 'diagnosed');

-- SQLite: order_status_follows_the_flow, then order_status_repair_is_agreed.
CREATE FUNCTION order_status_within_the_flow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM spabench_lock_order(NEW.order_id);
    NEW.id := nextval('order_status_id_seq');
    IF (CASE WHEN EXISTS (SELECT 1 FROM order_status WHERE order_id = NEW.order_id)
             THEN NOT EXISTS (
                 SELECT 1 FROM orders o JOIN status_transitions t ON t.from_status = o.status
                 WHERE o.id = NEW.order_id AND t.to_status = NEW.status)
             ELSE NEW.status IS DISTINCT FROM 'received' END)
    THEN
        PERFORM spabench_raise('spabench: the order''s status cannot change to that from its current status (the status flow)');
    END IF;
    IF NEW.status = 'repaired'
       AND (SELECT agreement FROM orders WHERE id = NEW.order_id) IS DISTINCT FROM 'repair'
    THEN
        PERFORM spabench_raise('spabench: repaired needs an agreed repair: record the customer''s approval first');
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER order_status_within_the_flow BEFORE INSERT ON order_status
    FOR EACH ROW EXECUTE FUNCTION order_status_within_the_flow();

CREATE FUNCTION runs_lock_order() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM spabench_lock_order(NEW.order_id);
    RETURN NEW;
END
$$;
CREATE TRIGGER runs_lock_order BEFORE INSERT OR UPDATE OF verdict ON runs
    FOR EACH ROW WHEN (NEW.order_id IS NOT NULL) EXECUTE FUNCTION runs_lock_order();

-- After agreement_changes_rules (triggers fire in the order of their names), which locked.
CREATE FUNCTION agreement_changes_take_id_after_the_lock() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM spabench_lock_order(NEW.order_id);
    NEW.id := nextval('agreement_changes_id_seq');
    RETURN NEW;
END
$$;
CREATE TRIGGER agreement_changes_take_id_after_the_lock BEFORE INSERT ON agreement_changes
    FOR EACH ROW EXECUTE FUNCTION agreement_changes_take_id_after_the_lock();

CREATE VIEW run_starts (run_id, order_id, plan, verdict, simulated, started_jd) AS
    SELECT id, order_id, plan, verdict, simulated, spabench_run_start(started_at)
    FROM runs WHERE order_id IS NOT NULL;
CREATE OR REPLACE VIEW unanswered_failures (order_id, run_id, started_jd, simulated) AS
    SELECT f.order_id, f.run_id, f.started_jd, f.simulated
    FROM run_starts f
    WHERE f.verdict IN ('fail', 'error')
      AND NOT EXISTS (
        SELECT 1 FROM run_starts p WHERE p.order_id = f.order_id
          AND (p.started_jd > f.started_jd
               OR (p.started_jd = f.started_jd AND p.run_id > f.run_id))
          AND p.verdict = 'pass' AND (p.plan = f.plan OR p.plan = 'full')
          AND (p.simulated = 0 OR f.simulated = 1));
