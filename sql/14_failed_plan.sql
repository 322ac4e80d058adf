-- A plan the worker gives up on leaves the table writable. Here the owner's
-- CHECK constraint (copied to the shadows) fails whenever it is evaluated
-- outside pg_regress's sessions, so every backfill batch of the worker fails
-- and after five in a row the plan ends 'failed'. Writes to the table must
-- go on working after that, through the parent and the partition.
CREATE FUNCTION only_in_regress(v int) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('application_name') NOT LIKE 'pg_regress%' THEN
        RAISE EXCEPTION 'only_in_regress: evaluated in "%"', current_setting('application_name');
    END IF;
    RETURN v >= 0;
END;
$$;
CREATE TABLE fragile (id int PRIMARY KEY, v int NOT NULL CHECK (only_in_regress(v)))
    PARTITION BY RANGE (id);
CREATE TABLE fragile_0 PARTITION OF fragile FOR VALUES FROM (0) TO (1000);
INSERT INTO fragile SELECT g, g FROM generate_series(0, 199) g;
SELECT presplit.manage('fragile');
SELECT presplit.prepare_split('fragile_0', '{500}') AS p \gset
DO $$
BEGIN
    PERFORM presplit.wait(currval('presplit.plan_id_seq'), 'synced', '60 s');
EXCEPTION WHEN object_not_in_prerequisite_state THEN
    RAISE NOTICE 'the plan ended';
END;
$$;
SELECT state, reason LIKE 'the worker failed 5 times in a row; last error: only_in_regress: %' AS reason
  FROM presplit.plans WHERE id = :p;

-- The table is still writable.
INSERT INTO fragile VALUES (600, 1);
UPDATE fragile SET v = v + 1 WHERE id = 10;
UPDATE fragile SET id = 700 WHERE id = 20;
DELETE FROM fragile WHERE id = 30;
INSERT INTO fragile_0 VALUES (601, 1);
SELECT count(*), sum(v) FROM fragile;
TRUNCATE fragile_0;
INSERT INTO fragile VALUES (1, 1);
SELECT count(*), sum(v) FROM fragile;

DROP TABLE fragile;
-- (Whatever the failed plan left of its shadows.)
DO $$
DECLARE
    shadow regclass;
BEGIN
    FOR shadow IN SELECT oid FROM pg_class WHERE relname ~ '^fragile_0_\d+_\d+$' AND relkind = 'r' LOOP
        EXECUTE format('DROP TABLE %s', shadow);
    END LOOP;
END;
$$;
DROP FUNCTION only_in_regress(int);
