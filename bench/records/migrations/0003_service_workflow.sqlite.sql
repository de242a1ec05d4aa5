-- spabench records, schema version 3: orders as a workshop runs them (issue 13).
-- The store checks every rule below first and explains a refusal in one line; these triggers
-- are the backstop, so no other writer (a script, a hand-typed INSERT) can file what the
-- workflow forbids either.
--
-- (1) Agreed work: orders.agreed_parts is the JSON list of part numbers the customer agreed to
--     ('[]' = any part, up to the quote); orders.agreement/agreed_parts/quote_* are the current
--     copy of the newest agreement_changes row, kept by trigger (as status is of order_status).
--     Each change is logged append-only with what it was before, and is a customer contact.
-- (2) Every contact says how it was made (contacts.via).
-- (3) A 'verified' status names the passing run that demonstrated the unit working
--     (order_status.run_id), started no earlier than the second the last part was fitted; a
--     simulated run verifies only when the status note says SIMULATED.
-- (4) Parts: only on an order whose agreed work covers them, never after verification.
-- (5) Hand-back after a repair (any part fitted, or status repaired reached) needs verified.
-- (6) An order's events (status, contact, part, agreement, and the runs filed on it) never go
--     back in time: a part dated before a run already filed would make that run its check.
-- (7) A failing run is answered only by a later pass of the same plan (or of full), a real
--     failure only by a real pass: verified and hand-back refuse an unanswered failure.
-- (8) Nothing that is evidence is rewritten or deleted: parts, notes, the order's intake; its
--     status and agreement change only through their logs (order_status, agreement_changes).
-- (9) Parts stored under the SB-... codes of earlier versions are stored under the current
--     catalogue keys (protocols.mspa.parts), so agreements and checks compare like with like.

-- (9) first, before parts_replaced becomes append-only.
UPDATE parts_replaced SET part_number = CASE upper(trim(part_number))
        WHEN 'SB-PRCD' THEN 'prcd'
        WHEN 'SB-HEATER' THEN 'heater'
        WHEN 'SB-FLOW-INLET' THEN 'flow-inlet'
        WHEN 'SB-FLOW-OUTLET' THEN 'flow-outlet'
        WHEN 'SB-TEMP-SENSOR' THEN 'temp-sensor'
        WHEN 'SB-BLOWER' THEN 'blower'
        WHEN 'SB-O3' THEN 'ozone'
        WHEN 'SB-UVC' THEN 'uvc'
        WHEN 'SB-JET-PUMP' THEN 'jet-pump'
        WHEN 'SB-CABLE' THEN 'cable'
        WHEN 'SB-LINER' THEN 'liner'
        WHEN 'SB-COVER' THEN 'cover'
        WHEN 'SB-HOSES' THEN 'hoses'
        WHEN 'SB-FILTER' THEN 'filter-cartridge'
        ELSE part_number END
WHERE upper(trim(part_number)) LIKE 'SB-%';

ALTER TABLE orders ADD COLUMN agreed_parts TEXT NOT NULL DEFAULT '[]'
    CHECK (json_valid(agreed_parts) AND json_type(agreed_parts) = 'array');

ALTER TABLE contacts ADD COLUMN via TEXT NOT NULL DEFAULT 'other'
    CHECK (via IN ('phone', 'email', 'in-person', 'letter', 'other'));

ALTER TABLE order_status ADD COLUMN run_id INTEGER REFERENCES runs(id);

CREATE TABLE agreement_changes (
    id                  INTEGER PRIMARY KEY,
    order_id            INTEGER NOT NULL REFERENCES orders(id),
    at                  TEXT NOT NULL,
    by                  TEXT NOT NULL DEFAULT '',
    contact_id          INTEGER NOT NULL UNIQUE REFERENCES contacts(id),
    before_agreement    TEXT NOT NULL,
    before_parts        TEXT NOT NULL,
    before_quote_cents  INTEGER,
    agreement           TEXT NOT NULL CHECK (agreement IN ('diagnosis', 'repair')),
    parts               TEXT NOT NULL DEFAULT '[]'
                        CHECK (json_valid(parts) AND json_type(parts) = 'array'),
    quote_cents         INTEGER CHECK (quote_cents IS NULL OR quote_cents >= 0),
    -- The quote's date in the workshop's local calendar (the store knows it, SQL does not):
    -- the order's quote date when the quote is unchanged.
    quote_date          TEXT CHECK (quote_date IS NULL OR date(quote_date) IS quote_date),
    CHECK (agreement = 'repair' OR parts = '[]'),
    CHECK ((quote_cents IS NULL) = (quote_date IS NULL))
);
CREATE INDEX agreement_changes_by_order ON agreement_changes(order_id, id);

-- Every dated event of an order, for the "never back in time" rule; a run's start in the
-- store's own UTC text form (runners may write it with another offset or precision).
CREATE VIEW order_events (order_id, at, kind, ref) AS
    SELECT order_id, at, 'status', id FROM order_status
    UNION ALL SELECT order_id, at, 'contact', id FROM contacts
    UNION ALL SELECT order_id, at, 'part', id FROM parts_replaced
    UNION ALL SELECT order_id, at, 'agreement', id FROM agreement_changes
    UNION ALL SELECT order_id, strftime('%Y-%m-%dT%H:%M:%f', started_at) || '000+00:00', 'run', id
        FROM runs WHERE order_id IS NOT NULL AND strftime('%s', started_at) IS NOT NULL;

-- Failing runs of an order that no later run answered: a pass of the same plan or of full,
-- and for a failure on a real unit a pass on a real unit (a simulation never overrules it).
CREATE VIEW unanswered_failures (order_id, run_id, started_jd, simulated) AS
    SELECT f.order_id, f.id, julianday(f.started_at)
        + (CASE WHEN instr(f.started_at, '.') = 0 THEN 0.999999 / 86400.0 ELSE 0 END), f.simulated
    FROM runs f
    WHERE f.order_id IS NOT NULL AND f.verdict IN ('fail', 'error')
      AND NOT EXISTS (
        SELECT 1 FROM runs p WHERE p.order_id = f.order_id AND p.id > f.id
          AND p.verdict = 'pass' AND (p.plan = f.plan OR p.plan = 'full')
          AND (p.simulated = 0 OR f.simulated = 1));

-- When the repair being verified was done: the last part fitted, else the order last marked
-- repaired (as julian days: runs record their start to the microsecond, SQLite compares
-- to the millisecond; a run begun before the part in the same second is before it. Records
-- of earlier versions give their start to the second only: such a run is taken to have begun
-- at the end of its second, so one begun in the second the part was fitted counts as after).
CREATE VIEW repair_done (order_id, at_jd) AS
    SELECT o.id, coalesce(
        (SELECT max(julianday(p.at)) FROM parts_replaced p
         WHERE p.order_id = o.id),
        (SELECT max(julianday(s.at)) FROM order_status s
         WHERE s.order_id = o.id AND s.status = 'repaired'),
        0)
    FROM orders o;

CREATE TRIGGER order_status_in_time_order BEFORE INSERT ON order_status
WHEN NEW.at < (SELECT max(at) FROM order_events WHERE order_id = NEW.order_id)
BEGIN
    SELECT RAISE(ABORT, 'spabench: an order event cannot be earlier than the one before it');
END;
CREATE TRIGGER contacts_in_time_order BEFORE INSERT ON contacts
WHEN NEW.at < (SELECT max(at) FROM order_events WHERE order_id = NEW.order_id)
BEGIN
    SELECT RAISE(ABORT, 'spabench: an order event cannot be earlier than the one before it');
END;
CREATE TRIGGER parts_in_time_order BEFORE INSERT ON parts_replaced
WHEN NEW.at < (SELECT max(at) FROM order_events WHERE order_id = NEW.order_id)
BEGIN
    SELECT RAISE(ABORT, 'spabench: an order event cannot be earlier than the one before it');
END;
CREATE TRIGGER agreement_changes_in_time_order BEFORE INSERT ON agreement_changes
WHEN NEW.at < (SELECT max(at) FROM order_events WHERE order_id = NEW.order_id)
BEGIN
    SELECT RAISE(ABORT, 'spabench: an order event cannot be earlier than the one before it');
END;

-- Intake is not before the unit was bought (a day's slack: the store writes UTC).
CREATE TRIGGER orders_not_before_purchase BEFORE INSERT ON orders
WHEN date(NEW.opened_at, '+1 day') < (SELECT purchase_date FROM units WHERE serial = NEW.unit_serial)
BEGIN
    SELECT RAISE(ABORT, 'spabench: an order cannot be opened before the unit was bought');
END;

-- The log of agreements tells the truth about what it replaced, and is never rewritten.
CREATE TRIGGER agreement_changes_before_is_current BEFORE INSERT ON agreement_changes
WHEN NOT EXISTS (
    SELECT 1 FROM orders o WHERE o.id = NEW.order_id
      AND o.agreement = NEW.before_agreement AND o.agreed_parts = NEW.before_parts
      AND o.quote_cents IS NEW.before_quote_cents)
BEGIN
    SELECT RAISE(ABORT, 'spabench: an agreement change must start from the current agreement');
END;
CREATE TRIGGER agreement_changes_order_open BEFORE INSERT ON agreement_changes
WHEN (SELECT status FROM orders WHERE id = NEW.order_id) = 'handed-back'
BEGIN
    SELECT RAISE(ABORT, 'spabench: the order is handed back; its agreement is closed');
END;
CREATE TRIGGER agreement_changes_cover_fitted_parts BEFORE INSERT ON agreement_changes
WHEN EXISTS (
    SELECT 1 FROM parts_replaced p WHERE p.order_id = NEW.order_id
      AND (NEW.agreement != 'repair'
           OR (NEW.parts != '[]'
               AND p.part_number NOT IN (SELECT value FROM json_each(NEW.parts)))))
BEGIN
    SELECT RAISE(ABORT, 'spabench: the new agreement does not cover parts already fitted');
END;
CREATE TRIGGER agreement_changes_are_contacts BEFORE INSERT ON agreement_changes
WHEN (SELECT order_id FROM contacts WHERE id = NEW.contact_id) IS NOT NEW.order_id
BEGIN
    SELECT RAISE(ABORT, 'spabench: an agreement change is a contact with the same order');
END;
CREATE TRIGGER agreement_changes_set_current AFTER INSERT ON agreement_changes
BEGIN
    UPDATE orders SET
        agreement = NEW.agreement,
        agreed_parts = NEW.parts,
        quote_date = CASE WHEN NEW.quote_cents IS quote_cents THEN quote_date
                          ELSE NEW.quote_date END,
        quote_cents = NEW.quote_cents
    WHERE id = NEW.order_id;
END;
CREATE TRIGGER agreement_changes_no_update BEFORE UPDATE ON agreement_changes
BEGIN
    SELECT RAISE(ABORT, 'spabench: the agreement log is append-only');
END;
CREATE TRIGGER agreement_changes_no_delete BEFORE DELETE ON agreement_changes
BEGIN
    SELECT RAISE(ABORT, 'spabench: the agreement log is append-only');
END;
CREATE TRIGGER contacts_no_update BEFORE UPDATE ON contacts
BEGIN
    SELECT RAISE(ABORT, 'spabench: customer contacts are append-only');
END;
CREATE TRIGGER contacts_no_delete BEFORE DELETE ON contacts
BEGIN
    SELECT RAISE(ABORT, 'spabench: customer contacts are append-only');
END;

-- Parts: covered by the agreed work, and fitted before the unit is verified.
CREATE TRIGGER parts_need_agreed_work BEFORE INSERT ON parts_replaced
WHEN NOT EXISTS (
    SELECT 1 FROM orders o WHERE o.id = NEW.order_id AND o.agreement = 'repair'
      AND (o.agreed_parts = '[]'
           OR NEW.part_number IN (SELECT value FROM json_each(o.agreed_parts))))
BEGIN
    SELECT RAISE(ABORT, 'spabench: the agreed work of the order does not cover this part');
END;
CREATE TRIGGER parts_before_verification BEFORE INSERT ON parts_replaced
WHEN (SELECT status FROM orders WHERE id = NEW.order_id) IN ('verified', 'handed-back')
BEGIN
    SELECT RAISE(ABORT, 'spabench: parts cannot be recorded once the order is verified');
END;

-- Verified names a passing run of the order that started after the last part was fitted.
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
-- ... and no failing run since the repair left unanswered (simulated ones count when the
-- verification itself rests on a simulated unit).
CREATE TRIGGER order_status_verified_no_unanswered_failure BEFORE INSERT ON order_status
WHEN NEW.status = 'verified' AND EXISTS (
    SELECT 1 FROM unanswered_failures u WHERE u.order_id = NEW.order_id
      AND (u.simulated = 0 OR instr(NEW.note, 'SIMULATED') > 0)
      AND u.started_jd >= (SELECT at_jd FROM repair_done WHERE order_id = NEW.order_id))
BEGIN
    SELECT RAISE(ABORT, 'spabench: verified refused: a run failed since the repair and no later run of its plan passed');
END;

-- Hand-back after a repair needs the repair verified, and still verified: no run failed
-- since without a later pass of its plan.
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

-- Evidence is never rewritten: parts, notes, the intake. Status and agreement are copies of
-- the newest row of their logs, changed only by the triggers that keep them so.
CREATE TRIGGER parts_replaced_no_update BEFORE UPDATE ON parts_replaced
BEGIN
    SELECT RAISE(ABORT, 'spabench: parts replaced are append-only');
END;
CREATE TRIGGER parts_replaced_no_delete BEFORE DELETE ON parts_replaced
BEGIN
    SELECT RAISE(ABORT, 'spabench: parts replaced are append-only');
END;
CREATE TRIGGER notes_no_update BEFORE UPDATE ON notes
BEGIN
    SELECT RAISE(ABORT, 'spabench: notes are append-only; add a correction');
END;
CREATE TRIGGER notes_no_delete BEFORE DELETE ON notes
BEGIN
    SELECT RAISE(ABORT, 'spabench: notes are append-only; add a correction');
END;
CREATE TRIGGER orders_no_delete BEFORE DELETE ON orders
BEGIN
    SELECT RAISE(ABORT, 'spabench: orders are never deleted');
END;
CREATE TRIGGER orders_intake_is_fixed
BEFORE UPDATE OF id, unit_serial, opened_at, opened_by, symptom, promised_date ON orders
BEGIN
    SELECT RAISE(ABORT, 'spabench: an order''s intake is never rewritten; add a note');
END;
CREATE TRIGGER orders_status_only_by_its_timeline BEFORE UPDATE OF status, status_at ON orders
WHEN NOT EXISTS (
    SELECT 1 FROM order_status s
    WHERE s.id = (SELECT max(id) FROM order_status WHERE order_id = NEW.id)
      AND s.status IS NEW.status AND s.at IS NEW.status_at)
BEGIN
    SELECT RAISE(ABORT, 'spabench: an order''s status changes only by a new row of order_status');
END;
CREATE TRIGGER orders_agreement_only_by_its_log
BEFORE UPDATE OF agreement, agreed_parts, quote_cents, quote_date ON orders
WHEN NOT EXISTS (
    SELECT 1 FROM agreement_changes a
    WHERE a.id = (SELECT max(id) FROM agreement_changes WHERE order_id = NEW.id)
      AND a.agreement IS NEW.agreement AND a.parts IS NEW.agreed_parts
      AND a.quote_cents IS NEW.quote_cents
      AND (NEW.quote_date IS OLD.quote_date OR NEW.quote_date IS a.quote_date))
BEGIN
    SELECT RAISE(ABORT, 'spabench: an order''s agreement changes only by a new row of agreement_changes');
END;
