-- presplit.prepare_split, presplit.cancel, presplit.wait and the views.
CREATE TABLE orders (
    id       bigint NOT NULL,
    customer int NOT NULL DEFAULT 0,
    note     text,
    note_len int GENERATED ALWAYS AS (length(note)) STORED,
    PRIMARY KEY (id)
) PARTITION BY RANGE (id);
CREATE INDEX orders_customer ON orders (customer);
CREATE TABLE orders_0 PARTITION OF orders FOR VALUES FROM (MINVALUE) TO (1000) WITH (fillfactor = 80);
CREATE TABLE orders_1 PARTITION OF orders FOR VALUES FROM (1000) TO (2000);
CREATE TABLE orders_2 PARTITION OF orders FOR VALUES FROM (2000) TO (3000) PARTITION BY RANGE (id);
CREATE TABLE orders_2a PARTITION OF orders_2 FOR VALUES FROM (2000) TO (3000);
CREATE TABLE orders_default PARTITION OF orders DEFAULT;
-- Even ids only, so that the capture tests below can add odd ones.
INSERT INTO orders (id, customer, note) SELECT 2 * g, g % 7, 'order ' || g FROM generate_series(1, 999) g;
CREATE TABLE unmanaged (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE unmanaged_0 PARTITION OF unmanaged FOR VALUES FROM (0) TO (10);
SELECT presplit.manage('orders');

-- Bad input: a clear error, and nothing changes.
\set VERBOSITY default
SELECT presplit.prepare_split(NULL, '{500}');
SELECT presplit.prepare_split('orders_1', NULL);
SELECT presplit.prepare_split('orders', '{500}');
SELECT presplit.prepare_split('unmanaged_0', '{5}');
SELECT presplit.prepare_split('orders_default', '{5000}');
SELECT presplit.prepare_split('orders_2', '{2500}');
SELECT presplit.prepare_split('orders_1', '{}');
SELECT presplit.prepare_split('orders_1', '{1500,NULL}');
SELECT presplit.prepare_split('orders_1', '{1600,1500}');
SELECT presplit.prepare_split('orders_1', '{1500,1500}');
SELECT presplit.prepare_split('orders_1', '{1000}');
SELECT presplit.prepare_split('orders_1', '{2000}');
SELECT presplit.prepare_split('orders_1', ARRAY[999]);
SELECT presplit.prepare_split('orders_0', ARRAY[5000]);
SELECT presplit.prepare_split('orders_1', '{abc}');
SELECT presplit.prepare_split('orders_1', ARRAY['2024-01-01'::date]);
SELECT presplit.prepare_split('orders_1', 1500);
SELECT presplit.prepare_split('orders_1', '{{1200},{1500}}');
\x on
SELECT * FROM error_of($$SELECT presplit.prepare_split('orders', '{500}')$$);
SELECT * FROM error_of($$SELECT presplit.prepare_split('unmanaged_0', '{5}')$$);
SELECT * FROM error_of($$SELECT presplit.prepare_split('orders_default', '{5000}')$$);
SELECT * FROM error_of($$SELECT presplit.prepare_split('orders_2', '{2500}')$$);
SELECT * FROM error_of($$SELECT presplit.prepare_split('orders_1', '{}')$$);
SELECT * FROM error_of($$SELECT presplit.prepare_split('orders_1', '{1500,NULL}')$$);
SELECT * FROM error_of($$SELECT presplit.prepare_split('orders_1', '{1600,1500}')$$);
SELECT * FROM error_of($$SELECT presplit.prepare_split('orders_1', '{1000}')$$);
SELECT * FROM error_of($$SELECT presplit.prepare_split('orders_1', '{abc}')$$);
SELECT * FROM error_of($$SELECT presplit.prepare_split('orders_1', ARRAY['2024-01-01'::date])$$);
\x off
SELECT count(*) AS plans, (SELECT count(*) FROM pg_class WHERE relname ~ '^orders_\d+_\d+_\d+$') AS shadows
  FROM presplit.plan;

-- Only the owner (or a superuser) splits.
CREATE ROLE presplit_carol;
SET ROLE presplit_carol;
SELECT presplit.prepare_split('orders_1', '{1500}');
RESET ROLE;

-- Success: typed arrays (coerced to the key type) and untyped literals.
SELECT presplit.prepare_split('orders_0', ARRAY[250, 500]::int[]) AS plan_0 \gset
SELECT presplit.prepare_split('orders_1', '{1500}') AS plan_1 \gset
\set shadow_0_0 orders_0_ :plan_0 _0
\set shadow_0_1 orders_0_ :plan_0 _1
\set shadow_0_2 orders_0_ :plan_0 _2
-- (The worker may already be copying: preparing or backfilling.)
SELECT id = :plan_1 AS is_plan_1, parent, source, split_points, origin, owner,
       state IN ('preparing', 'backfilling', 'synced') AS under_way
  FROM presplit.plans ORDER BY id;

-- The shadows: the source's columns, defaults, generated columns, indexes
-- and storage parameters, owned by the table owner, with a CHECK constraint
-- equal to the future bound.
SELECT s.ordinal, s.shadow, s.bound, c.reloptions, pg_get_userbyid(c.relowner) AS owner
  FROM presplit.progress s JOIN pg_class c ON c.oid = s.shadow
 WHERE s.plan_id = :plan_0 ORDER BY s.ordinal;
\d :shadow_0_0
SELECT pg_get_constraintdef(oid) FROM pg_constraint
 WHERE conrelid = :'shadow_0_0'::regclass AND contype = 'c' ORDER BY 1;
SELECT indexdef FROM pg_indexes WHERE tablename = :'shadow_0_2' ORDER BY 1;

-- One active plan per source. (Its DETAIL names the state, which the worker
-- is changing.)
SELECT code, message, hint FROM error_of($$SELECT presplit.prepare_split('orders_1', '{1700}')$$);

-- The worker backfills and verifies them.
SELECT presplit.wait(:plan_0, 'synced', '60 s');
SELECT presplit.wait(:plan_1, 'backfilling', '60 s') IN ('backfilling', 'synced') AS reached;
SELECT presplit.wait(:plan_1, 'synced', '60 s');
SELECT ordinal, phase, rows_copied, rows_estimated > 0 AS estimated, eta
  FROM presplit.progress WHERE plan_id = :plan_0 ORDER BY ordinal;
SELECT (SELECT count(*) FROM orders_0) AS source_rows,
       (SELECT count(*) FROM :shadow_0_0) + (SELECT count(*) FROM :shadow_0_1)
       + (SELECT count(*) FROM :shadow_0_2) AS shadow_rows;

-- Capture: every change to the source reaches the shadows at once, through
-- the parent or the partition, including rows moving in and out.
INSERT INTO orders (id, note) VALUES (101, 'new'), (601, 'new');
UPDATE orders SET note = 'changed' WHERE id = 10;
UPDATE orders SET id = 401 WHERE id = 20;      -- across a split point
UPDATE orders SET id = 1011 WHERE id = 30;     -- out of the source
UPDATE orders SET id = 35 WHERE id = 1020;     -- into the source
UPDATE orders_0 SET customer = customer + 1 WHERE id < 100;
DELETE FROM orders_0 WHERE id = 40;
COPY orders (id, note) FROM stdin;
701	copied
\.
CREATE FUNCTION shadow_differences(plan bigint) RETURNS TABLE (ordinal int, missing bigint, extra bigint)
LANGUAGE plpgsql AS $$
DECLARE
    s record;
    src regclass := (SELECT source FROM presplit.plans WHERE id = plan);
    key text := (SELECT quote_ident(m.key_column) FROM presplit.managed_table m JOIN presplit.plans p USING (parent) WHERE p.id = plan);
    range text;
BEGIN
    FOR s IN SELECT * FROM presplit.shadow WHERE plan_id = plan ORDER BY 2 LOOP
        range := concat_ws(' AND ', 'true',
                           key || ' >= ' || quote_literal(s.lower_value),
                           key || ' < ' || quote_literal(s.upper_value));
        ordinal := s.ordinal;
        EXECUTE format('SELECT count(*) FROM (SELECT * FROM ONLY %s WHERE %s EXCEPT ALL SELECT * FROM %s) d', src, range, s.relation) INTO missing;
        EXECUTE format('SELECT count(*) FROM (SELECT * FROM %s EXCEPT ALL SELECT * FROM ONLY %s WHERE %s) d', s.relation, src, range) INTO extra;
        RETURN NEXT;
    END LOOP;
END;
$$;
SELECT * FROM shadow_differences(:plan_0);
SELECT * FROM shadow_differences(:plan_1);
TRUNCATE orders_0;
SELECT * FROM shadow_differences(:plan_0);
SELECT count(*) FROM :shadow_0_1;

-- A writer needs no privileges on the shadows.
GRANT INSERT, UPDATE, DELETE, SELECT ON orders TO presplit_carol;
SET ROLE presplit_carol;
INSERT INTO orders (id, note) VALUES (301, 'by carol');
UPDATE orders SET note = 'by carol' WHERE id = 1600;
RESET ROLE;
SELECT * FROM shadow_differences(:plan_0);
SELECT * FROM shadow_differences(:plan_1);

-- cancel: errors, then the source is left exactly as before.
SELECT presplit.cancel(NULL);
SELECT presplit.cancel(-1);
SET ROLE presplit_carol;
SELECT presplit.cancel(:plan_1);
RESET ROLE;
SELECT presplit.cancel(:plan_1);
SELECT presplit.cancel(:plan_1);
SELECT state, reason FROM presplit.plans WHERE id = :plan_1;
SELECT count(*) AS shadows_left FROM pg_class WHERE relname LIKE 'orders_1\_%' AND relkind = 'r';
SELECT tgname FROM pg_trigger WHERE tgrelid = 'orders_1'::regclass;
SELECT count(*) AS capture_functions FROM pg_proc WHERE proname = 'capture_' || :plan_1;
SELECT presplit.wait(:plan_1, 'synced', '1 s');
SELECT presplit.wait(:plan_1, 'cancelled');

-- wait: errors.
SELECT presplit.wait(:plan_0, 'finished');
SELECT presplit.wait(-1, 'synced');
SELECT presplit.wait(:plan_0, 'switching', '0.2 s');
SELECT presplit.wait(:plan_0, 'synced', '-1 s');
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT presplit.wait(:plan_0, 'synced');
ROLLBACK;

-- unmanage is refused while a plan is active.
SELECT presplit.unmanage('orders');
SELECT presplit.cancel(:plan_0);
SELECT kind, from_state, to_state FROM presplit.events WHERE plan_id = :plan_0 ORDER BY id;

SELECT presplit.unmanage('orders');
DROP FUNCTION shadow_differences(bigint);
DROP TABLE orders, unmanaged;
REVOKE ALL ON SCHEMA public FROM presplit_carol;
DROP ROLE presplit_carol;
