-- Weighted read routing while a plan is switching: which statements are
-- routed, that both channels answer alike, per-execution draws, privileges,
-- the channels' statistics, and the ramp judging (and aborting) on them.
CREATE TABLE orders (
    id     bigint PRIMARY KEY,
    gone   int,
    amount int NOT NULL,
    note   text
) PARTITION BY RANGE (id);
ALTER TABLE orders DROP COLUMN gone; -- routed queries keep column positions
CREATE TABLE orders_0 PARTITION OF orders FOR VALUES FROM (0) TO (1000);
CREATE TABLE orders_1 PARTITION OF orders FOR VALUES FROM (1000) TO (2000);
INSERT INTO orders SELECT g, g % 10, 'o' || g FROM generate_series(0, 1999) g;
SELECT presplit.manage('orders');
SELECT presplit.split_partition('orders_0', '{500}', ramp => false) AS plan \gset
SELECT presplit.wait(:plan, 'switching', '60 s');
SELECT relations[1] AS shadow_low, relations[2] AS shadow_high
  FROM presplit.channels WHERE plan_id = :plan AND channel = 'new' \gset

-- Each execution runs the old channel's plan or the new channel's: the same
-- plan with the source's scans reading the shadow(s) the conditions leave
-- (the other partitions as before). EXPLAIN ANALYZE shows the one that ran;
-- plain EXPLAIN the old one. (Plan ids in the shadows' names show as N.)
-- (Heap fetches depend on the visibility map: not shown.)
CREATE FUNCTION explain(query text, run boolean DEFAULT true) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE line text;
BEGIN
    FOR line IN EXECUTE format('EXPLAIN (analyze %s, costs off, timing off, summary off) ',
                               CASE WHEN run THEN 'on' ELSE 'off' END) || query LOOP
        CONTINUE WHEN line ~ 'Heap Fetches|Heap Blocks|Sort Method';
        RETURN NEXT regexp_replace(line, '(orders_0)_\d+_(\d)', '\1_N_\2', 'g');
    END LOOP;
END $$;
SELECT explain('SELECT note FROM orders WHERE id = 7'); -- weight 0: the source
SELECT presplit.set_weight(:plan, 100);
SELECT explain('SELECT note FROM orders WHERE id = 7');
SELECT explain('SELECT note FROM orders WHERE id = 7', run => false);
SELECT explain('SELECT note FROM orders WHERE id = 1500');
SELECT explain('SELECT note FROM orders_0 WHERE id = 700');
-- Both shadows, in key order (here backwards) when the order matters.
SET enable_sort = off;
SET enable_bitmapscan = off;
SELECT explain('SELECT id FROM orders WHERE id BETWEEN 498 AND 501 ORDER BY id DESC');
SELECT id FROM orders WHERE id BETWEEN 498 AND 501 ORDER BY id DESC;
RESET enable_sort;
RESET enable_bitmapscan;
SELECT explain('SELECT count(*) FROM orders WHERE amount = 3');
-- Key order across partitions and shadows, both directions (sorts and bitmap
-- scans off: index order is all there is).
SET enable_sort = off;
SET enable_bitmapscan = off;
SELECT explain('SELECT id FROM orders WHERE id > 495 AND id < 1003 ORDER BY id DESC LIMIT 8');
SELECT array_agg(id) AS downwards FROM (
    SELECT id FROM orders WHERE id > 495 AND id < 1003 ORDER BY id DESC LIMIT 8) d;
SELECT array_agg(id) AS upwards FROM (
    SELECT id FROM orders WHERE id > 495 AND id < 1003 ORDER BY id LIMIT 8) u;
RESET enable_sort;
RESET enable_bitmapscan;
-- Rescans with new parameter values reach the shadows' scans (correlated
-- subquery over a hash aggregate).
SET enable_sort = off;
SET enable_indexscan = off;
SET enable_bitmapscan = off;
SELECT o.k, (SELECT count(*) FROM (SELECT DISTINCT id FROM orders_0 WHERE id > o.k) d) AS above
  FROM (VALUES (100), (990)) o(k);
RESET enable_sort;
RESET enable_indexscan;
RESET enable_bitmapscan;
-- The marker of routed plans is never evaluated; called, it refuses.
SELECT presplit._route_new(0);
-- A generic plan: the key is a parameter, both shadows are probed.
PREPARE by_key(bigint) AS SELECT note FROM orders WHERE id = $1;
SET plan_cache_mode = force_generic_plan;
SELECT explain('EXECUTE by_key(7)');
RESET plan_cache_mode;
SELECT presplit.set_weight(:plan, 0);

-- Mark row 7 in the new channel only (a superuser writing a shadow directly;
-- capture runs the other way), so that answers show which channel served.
UPDATE :shadow_low SET note = 'new channel' WHERE id = 7;
CREATE VIEW big_orders AS SELECT id, note FROM orders WHERE amount > 5;
CREATE FUNCTION note_of(bigint) RETURNS text LANGUAGE plpgsql STABLE AS $$
BEGIN RETURN (SELECT note FROM orders WHERE id = $1); END $$;
PREPARE note_by_id(bigint) AS SELECT note FROM orders WHERE id = $1;
SET plan_cache_mode = force_generic_plan;
CREATE TEMP TABLE answers (weight int, query text, note text);
-- (INSERT ... SELECT is a write, not routed: read first, then insert.)
CREATE FUNCTION record_answers(weight int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE answer text;
BEGIN
    SELECT note INTO answer FROM orders WHERE id = 7;
    INSERT INTO answers VALUES (weight, 'parent', answer);
    SELECT note INTO answer FROM orders_0 WHERE id = 7;
    INSERT INTO answers VALUES (weight, 'source', answer);
    SELECT note INTO answer FROM big_orders WHERE id = 7;
    INSERT INTO answers VALUES (weight, 'view', answer);
    SELECT o.note INTO answer FROM orders o JOIN orders_1 p ON p.id = o.id + 1000 WHERE o.id = 7;
    INSERT INTO answers VALUES (weight, 'join', answer);
    INSERT INTO answers VALUES (weight, 'plpgsql', note_of(7));
    SELECT count(*)::text INTO answer FROM orders;
    INSERT INTO answers VALUES (weight, 'count', answer);
    INSERT INTO answers SELECT weight, 'insert select', note FROM orders WHERE id = 7;
END $$;

SELECT presplit.set_weight(:plan, 100);
SELECT record_answers(100);
EXECUTE note_by_id(7);
WITH o AS (SELECT note FROM orders WHERE id = 7) SELECT note AS cte FROM o;
SELECT (SELECT note FROM orders WHERE id = 7) AS scalar_subquery;
-- Never routed: rows locked, system columns, whole rows, writes, cursors,
-- ONLY, TABLESAMPLE, or routing off for the session.
SELECT note AS for_share FROM orders WHERE id = 7 FOR SHARE;
SELECT note AS with_ctid FROM orders WHERE id = 7 AND ctid IS NOT NULL;
SELECT tableoid::regclass AS with_tableoid FROM orders WHERE id = 7;
SELECT o.note AS whole_row FROM orders o WHERE id = 7 AND o IS NOT NULL;
WITH w AS (UPDATE orders SET amount = amount WHERE id = 8 RETURNING id)
SELECT note AS beside_a_write FROM orders WHERE id = 7;
BEGIN;
DECLARE c CURSOR FOR SELECT note FROM orders WHERE id = 7;
FETCH c;
DECLARE c_no_scroll NO SCROLL CURSOR FOR SELECT note FROM orders WHERE id = 7;
FETCH c_no_scroll;
COMMIT;
DO $$
DECLARE c CURSOR FOR SELECT note FROM orders WHERE id = 7; r record;
BEGIN
    OPEN c; FETCH c INTO r; CLOSE c;
    RAISE NOTICE 'plpgsql cursor: %', r.note;
    FOR r IN SELECT note FROM orders WHERE id = 7 LOOP
        RAISE NOTICE 'plpgsql FOR loop (routed): %', r.note;
    END LOOP;
END $$;
SELECT count(*) AS only_parent FROM ONLY orders;
SELECT note AS sampled FROM orders TABLESAMPLE SYSTEM (100) WHERE id = 7;
SET presplit.routing = off;
SELECT note AS routing_off FROM orders WHERE id = 7;
RESET presplit.routing;
-- (Last: capture then copies row 7 to the shadow, over the mark.)
UPDATE orders SET amount = amount WHERE id = 7 RETURNING note AS updated;

SELECT presplit.set_weight(:plan, 0);
SELECT record_answers(0);
EXECUTE note_by_id(7);
-- Only the marked row differs with the channel that answers.
SELECT query, a.note AS at_100, b.note AS at_0
  FROM answers a JOIN answers b USING (query) WHERE a.weight = 100 AND b.weight = 0
 ORDER BY query;
UPDATE :shadow_low SET note = 'o7' WHERE id = 7;
SELECT count(*) AS differences FROM (
    SELECT * FROM orders WHERE id < 1000 EXCEPT ALL SELECT * FROM orders_0) d;

-- A transaction reads its own writes on both channels (capture writes the
-- shadows in the same transaction).
SELECT presplit.set_weight(:plan, 100);
BEGIN;
UPDATE orders SET note = 'mine' WHERE id = 8;
SELECT note AS own_write FROM orders WHERE id = 8;
ROLLBACK;

-- Drawn per execution: at 50 both channels serve (one draw per execution,
-- shared by all of its arms).
UPDATE :shadow_low SET note = 'new channel' WHERE id = 7;
SELECT presplit.set_weight(:plan, 50);
DO $$
DECLARE served_new int := 0;
BEGIN
    FOR i IN 1..400 LOOP
        IF (SELECT note FROM orders WHERE id = 7) = 'new channel' THEN
            served_new := served_new + 1;
        END IF;
    END LOOP;
    RAISE NOTICE 'new channel served between 140 and 260 of 400: %', served_new BETWEEN 140 AND 260;
END $$;
-- One execution, one draw: a self-join agrees with itself.
SELECT count(*) AS disagreements FROM generate_series(1, 50) g
 CROSS JOIN LATERAL (SELECT a.note <> b.note AS differ FROM orders a, orders b
                      WHERE a.id = 7 AND b.id = 7 OFFSET 0 * g) d WHERE differ;
UPDATE :shadow_low SET note = 'o7' WHERE id = 7;

-- Privileges: the statement's own checks hold (on the parent, its columns);
-- the shadows need none.
CREATE ROLE routed_reader;
GRANT SELECT (id, amount) ON orders TO routed_reader;
SELECT presplit.set_weight(:plan, 100);
SET ROLE routed_reader;
SELECT id, amount FROM orders WHERE id = 9;
SELECT note FROM orders WHERE id = 9;
SELECT count(*) FROM orders_0;
RESET ROLE;

-- The channels' statistics: statements, errors, latency. The two reads
-- refused above (privileges, checked at executor start) count as errors of
-- the channel that ran them, like any execution that fails.
SELECT channel, statements > 0 AS served, errors, mean_ms > 0 AS timed, p95_ms > 0 AS has_p95
  FROM presplit.channels WHERE plan_id = :plan ORDER BY channel;
SELECT errors AS errors_before FROM presplit.channels WHERE plan_id = :plan AND channel = 'new' \gset
SELECT 1 / (amount - amount) FROM orders WHERE id = 9;
SELECT errors - :errors_before AS new_errors
  FROM presplit.channels WHERE plan_id = :plan AND channel = 'new';

-- The ramp judges each step on the reads each channel served: a new channel
-- that fails where the old one does not is set back to 0 and paused.
SELECT presplit.rollback(:plan);
ALTER SYSTEM SET presplit.ramp_interval = '20ms';
ALTER SYSTEM SET presplit.ramp_step = 50;
ALTER SYSTEM SET presplit.ramp_min_statements = 10;
SELECT pg_reload_conf();
SELECT presplit.split_partition('orders_0', '{500}') AS ramped \gset
SELECT presplit.wait(:ramped, 'switching', '60 s');
SELECT relations[1] AS ramped_low FROM presplit.channels
 WHERE plan_id = :ramped AND channel = 'new' \gset
UPDATE :ramped_low SET amount = 0 WHERE id = 7; -- the new channel divides by zero
CREATE FUNCTION read_until_ramp_settles(plan bigint) RETURNS text LANGUAGE plpgsql AS $$
DECLARE weight int; paused bool;
BEGIN
    FOR i IN 1..3000 LOOP
        SELECT c.weight, c.paused INTO weight, paused FROM presplit.channels c
         WHERE c.plan_id = plan AND c.channel = 'new';
        IF paused THEN RETURN format('paused at weight %s', weight); END IF;
        BEGIN
            PERFORM 10 / amount FROM orders WHERE id = 7;
        EXCEPTION WHEN division_by_zero THEN NULL;
        END;
        PERFORM pg_sleep(0.005);
    END LOOP;
    RETURN format('still ramping at weight %s', weight);
END $$;
SELECT read_until_ramp_settles(:ramped);
SELECT state, kind, split_part(detail, ' (', 1) AS reason
  FROM presplit.events e JOIN presplit.plans p ON p.id = e.plan_id
 WHERE e.plan_id = :ramped AND kind = 'ramp_aborted';
-- A healthy new channel ramps to 100 and is cut over.
UPDATE :ramped_low SET amount = 7 WHERE id = 7;
SELECT presplit.resume(:ramped);
-- (A procedure that commits as it reads: the cutover needs the table's
-- lock for a moment.)
CREATE PROCEDURE read_until_cut_over(plan bigint, INOUT plan_state text) LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..3000 LOOP
        SELECT state || CASE WHEN paused THEN ' (paused)' ELSE '' END INTO plan_state
          FROM presplit.plans WHERE id = plan;
        EXIT WHEN plan_state <> 'switching';
        PERFORM 10 / amount FROM orders WHERE id = 7;
        COMMIT;
        PERFORM pg_sleep(0.005);
    END LOOP;
END $$;
CALL read_until_cut_over(:ramped, NULL);
SELECT count(*) FILTER (WHERE kind = 'weight') AS steps,
       count(*) FILTER (WHERE kind = 'weight' AND detail LIKE '%; at 50%: old %') AS judged_steps
  FROM presplit.events WHERE plan_id = :ramped;
ALTER SYSTEM RESET presplit.ramp_interval;
ALTER SYSTEM RESET presplit.ramp_step;
ALTER SYSTEM RESET presplit.ramp_min_statements;
SELECT pg_reload_conf();
-- After the cutover nothing is routed: the shadows are the partitions.
SELECT explain('SELECT note FROM orders WHERE id = 7');
SELECT presplit.finalize(:ramped);

-- Index order through a descending index, and a merge join's inner side
-- (which marks and restores: never an Append of shadows), on a table whose
-- key repeats within its identity.
CREATE TABLE readings (id int, v text, PRIMARY KEY (id, v)) PARTITION BY RANGE (id);
CREATE INDEX readings_id_desc ON readings (id DESC, v);
CREATE TABLE readings_0 PARTITION OF readings FOR VALUES FROM (0) TO (1000);
INSERT INTO readings SELECT g / 2, 'r' || g FROM generate_series(0, 1999) g;
SELECT presplit.manage('readings');
SELECT presplit.split_partition('readings_0', '{500}', ramp => false) AS readings_plan \gset
SELECT presplit.wait(:readings_plan, 'switching', '60 s');
SELECT presplit.set_weight(:readings_plan, 100);
SET enable_sort = off;
SET enable_bitmapscan = off;
SET enable_seqscan = off;
SELECT array_agg(id ORDER BY n) AS down_by_desc_index FROM (
    SELECT id, row_number() OVER () AS n FROM (
        SELECT id FROM readings WHERE id BETWEEN 497 AND 502 ORDER BY id DESC, v LIMIT 6) l) d;
SELECT array_agg(id ORDER BY n) AS up_by_desc_index FROM (
    SELECT id, row_number() OVER () AS n FROM (
        SELECT id FROM readings WHERE id BETWEEN 497 AND 502 ORDER BY id, v DESC LIMIT 6) l) u;
SET enable_hashjoin = off;
SET enable_nestloop = off;
SELECT count(*) AS merge_joined
  FROM (SELECT id FROM (VALUES (498), (498), (502), (502)) x(id) ORDER BY id) o
  JOIN readings r USING (id);
RESET enable_hashjoin;
RESET enable_nestloop;
RESET enable_sort;
RESET enable_bitmapscan;
RESET enable_seqscan;
SELECT presplit.rollback(:readings_plan);
DROP TABLE readings;
