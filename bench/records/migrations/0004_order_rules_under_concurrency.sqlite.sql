-- spabench records, schema version 4: the order rules hold under concurrency, kept by the
-- database and not only by the store (issue 14: many benches on one records server).
--
-- (1) The status flow of bench.records.orders.TRANSITIONS is data here (status_transitions;
--     a test keeps the two equal), and a new order_status row must follow it from the order's
--     current status: the first row of an order is 'received', every later one a step the
--     flow allows, and 'repaired' only under an agreed repair. Two benches racing to verify
--     or hand back the same order: the second finds the order already moved on, and the
--     database refuses it, whatever the bench believed a moment before.
-- (2) The rules of schema 3 keep their refusals: a write they refused is refused with the same
--     message, so the new rule is checked after them (SQLite fires an event's triggers newest
--     first; the five triggers of order_status are re-created, unchanged, after the new ones).
-- (3) A failing run is answered by a pass that STARTED after it, not by one that merely reached
--     the records later (schema 3 compared run ids: a bench that was offline uploads its
--     failing run late, under a higher id, and it blocked a hand-back the pass had earned). As
--     in bench.records.verification.start_order: starts compared to the millisecond, a start
--     recorded to the second taken as the end of its second, the run id breaking a tie.
--     The view is re-created; the triggers that read it are re-created below anyway.
-- (On PostgreSQL the order-event triggers also lock the order's row first, and a run filed
-- on an order or finished locks it too; SQLite needs no lock: BEGIN IMMEDIATE holds the file.)

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

CREATE TRIGGER order_status_repair_is_agreed BEFORE INSERT ON order_status
WHEN NEW.status = 'repaired'
  AND (SELECT agreement FROM orders WHERE id = NEW.order_id) IS NOT 'repair'
BEGIN
    SELECT RAISE(ABORT, 'spabench: repaired needs an agreed repair: record the customer''s approval first');
END;
CREATE TRIGGER order_status_follows_the_flow BEFORE INSERT ON order_status
WHEN CASE WHEN EXISTS (SELECT 1 FROM order_status WHERE order_id = NEW.order_id)
          THEN NOT EXISTS (
              SELECT 1 FROM orders o JOIN status_transitions t ON t.from_status = o.status
              WHERE o.id = NEW.order_id AND t.to_status = NEW.status)
          ELSE NEW.status IS NOT 'received' END
BEGIN
    SELECT RAISE(ABORT, 'spabench: the order''s status cannot change to that from its current status (the status flow)');
END;

-- (3)
CREATE VIEW run_starts (run_id, order_id, plan, verdict, simulated, started_jd) AS
    SELECT id, order_id, plan, verdict, simulated, julianday(started_at)
        + (CASE WHEN instr(started_at, '.') = 0 THEN 0.999999 / 86400.0 ELSE 0 END)
    FROM runs WHERE order_id IS NOT NULL;
DROP VIEW unanswered_failures;
CREATE VIEW unanswered_failures (order_id, run_id, started_jd, simulated) AS
    SELECT f.order_id, f.run_id, f.started_jd, f.simulated
    FROM run_starts f
    WHERE f.verdict IN ('fail', 'error')
      AND NOT EXISTS (
        SELECT 1 FROM run_starts p WHERE p.order_id = f.order_id
          AND (p.started_jd > f.started_jd
               OR (p.started_jd = f.started_jd AND p.run_id > f.run_id))
          AND p.verdict = 'pass' AND (p.plan = f.plan OR p.plan = 'full')
          AND (p.simulated = 0 OR f.simulated = 1));

-- (2): schema 3's triggers of order_status, unchanged, re-created to fire first.
DROP TRIGGER order_status_in_time_order;
DROP TRIGGER order_status_verified_names_its_run;
DROP TRIGGER order_status_verified_no_unanswered_failure;
DROP TRIGGER order_status_hand_back_after_verified;
DROP TRIGGER order_status_hand_back_while_verified;
CREATE TRIGGER order_status_in_time_order BEFORE INSERT ON order_status
WHEN NEW.at < (SELECT max(at) FROM order_events WHERE order_id = NEW.order_id)
BEGIN
    SELECT RAISE(ABORT, 'spabench: an order event cannot be earlier than the one before it');
END;
CREATE TRIGGER order_status_verified_names_its_run BEFORE INSERT ON order_status
WHEN (NEW.status = 'verified') != (NEW.run_id IS NOT NULL)
  OR (NEW.run_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM runs r WHERE r.id = NEW.run_id AND r.order_id = NEW.order_id
          AND r.verdict = 'pass'
          AND (r.simulated = 0 OR instr(NEW.note, 'SIMULATED') > 0)
          AND julianday(r.started_at)
        + (CASE WHEN instr(r.started_at, '.') = 0 THEN 0.999999 / 86400.0 ELSE 0 END) >= coalesce(
                (SELECT max(julianday(p.at)) FROM parts_replaced p
                 WHERE p.order_id = NEW.order_id), 0)))
BEGIN
    SELECT RAISE(ABORT, 'spabench: verified needs a passing run started after the last part');
END;
CREATE TRIGGER order_status_verified_no_unanswered_failure BEFORE INSERT ON order_status
WHEN NEW.status = 'verified' AND EXISTS (
    SELECT 1 FROM unanswered_failures u WHERE u.order_id = NEW.order_id
      AND (u.simulated = 0 OR instr(NEW.note, 'SIMULATED') > 0)
      AND u.started_jd >= (SELECT at_jd FROM repair_done WHERE order_id = NEW.order_id))
BEGIN
    SELECT RAISE(ABORT, 'spabench: verified refused: a run failed since the repair and no later run of its plan passed');
END;
CREATE TRIGGER order_status_hand_back_after_verified BEFORE INSERT ON order_status
WHEN NEW.status = 'handed-back'
  AND (SELECT status FROM orders WHERE id = NEW.order_id) IS NOT 'verified'
  AND (EXISTS (SELECT 1 FROM parts_replaced WHERE order_id = NEW.order_id)
       OR EXISTS (SELECT 1 FROM order_status WHERE order_id = NEW.order_id
                  AND status = 'repaired'))
BEGIN
    SELECT RAISE(ABORT, 'spabench: a repaired order is handed back only once verified');
END;
CREATE TRIGGER order_status_hand_back_while_verified BEFORE INSERT ON order_status
WHEN NEW.status = 'handed-back'
  AND (SELECT status FROM orders WHERE id = NEW.order_id) IS 'verified'
  AND EXISTS (
    SELECT 1 FROM unanswered_failures u WHERE u.order_id = NEW.order_id
      AND (u.simulated = 0 OR instr((SELECT note FROM order_status WHERE order_id = NEW.order_id
                                     AND status = 'verified' ORDER BY id DESC LIMIT 1),
                                    'SIMULATED') > 0)
      AND u.started_jd >= (SELECT at_jd FROM repair_done WHERE order_id = NEW.order_id))
BEGIN
    SELECT RAISE(ABORT, 'spabench: hand-back refused: a run failed after the repair was verified and no later run of its plan passed');
END;
