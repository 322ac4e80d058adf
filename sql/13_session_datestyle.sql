-- The text of a key value means the same in every session. pg_presplit
-- keeps split points and bounds as text, written by the session that asks
-- for the split and read back by others -- the worker's among them, which
-- has the server's DateStyle and TimeZone (here ISO, MDY and the server's
-- zone). A session whose settings write dates differently must not change
-- which rows go where.
CREATE TABLE by_day (d date PRIMARY KEY, v int NOT NULL) PARTITION BY RANGE (d);
CREATE TABLE by_day_0 PARTITION OF by_day FOR VALUES FROM ('2000-01-01') TO ('2003-01-01');
INSERT INTO by_day SELECT date '2000-01-01' + 5 * g, g FROM generate_series(0, 199) g;
SELECT presplit.manage('by_day');
CREATE TABLE by_hour (t timestamptz PRIMARY KEY, v int NOT NULL) PARTITION BY RANGE (t);
CREATE TABLE by_hour_0 PARTITION OF by_hour
    FOR VALUES FROM ('2000-01-01 00:00+00') TO ('2000-02-01 00:00+00');
INSERT INTO by_hour SELECT timestamptz '2000-01-21 00:00+00' + g * interval '10 minutes', g
  FROM generate_series(0, 199) g;
SELECT presplit.manage('by_hour');

-- The partitions of a table in ISO form, whatever the session's style.
CREATE FUNCTION iso_layout(parent regclass) RETURNS TABLE (bound text, rows bigint, total bigint)
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    SET LOCAL DateStyle = 'ISO, MDY';
    SET LOCAL TimeZone = 'UTC';
    FOR r IN SELECT c.oid, pg_get_expr(c.relpartbound, c.oid) AS b FROM pg_inherits i
               JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = parent LOOP
        bound := r.b;
        EXECUTE format('SELECT count(*), sum(v) FROM %s', r.oid::regclass) INTO rows, total;
        RETURN NEXT;
    END LOOP;
END;
$$;

-- DateStyle SQL, DMY: 07/09/2000 is September 7th here, July 9th in MDY.
SET DateStyle = 'SQL, DMY';
SELECT presplit.prepare_split('by_day_0', ARRAY['07/09/2000', '15/05/2001']::date[]) AS p \gset
SELECT presplit.wait(:p, 'synced', '60 s');
-- Capture, in a session with other settings: August 1st goes below the
-- first split point.
RESET DateStyle;
INSERT INTO by_day VALUES ('2000-08-01', 1000);
UPDATE by_day SET d = '2000-08-02' WHERE d = '2000-08-01';
SET DateStyle = 'SQL, DMY';
SELECT presplit.cutover(:p);
SELECT * FROM iso_layout('by_day') ORDER BY bound;
SELECT presplit.rollback(:p);
SELECT presplit.split_partition('by_day_0', '{07/09/2000,15/05/2001}', ramp => false) AS p \gset
SELECT presplit.wait(:p, 'switching', '60 s');
SELECT presplit.cutover(:p);
SELECT presplit.finalize(:p);
SELECT * FROM iso_layout('by_day') ORDER BY bound;
RESET DateStyle;

-- DateStyle Postgres in Asia/Kolkata writes "IST" for +05:30, an
-- abbreviation that the default timezone_abbreviations read as Israel's
-- +02:00.
SET DateStyle = 'Postgres, MDY';
SET TimeZone = 'Asia/Kolkata';
SELECT presplit.prepare_split('by_hour_0', ARRAY['2000-01-22 01:00+05:30']::timestamptz[]) AS p \gset
SELECT presplit.wait(:p, 'synced', '60 s');
RESET DateStyle;
RESET TimeZone;
INSERT INTO by_hour VALUES ('2000-01-21 21:05+00', 1000);
UPDATE by_hour SET t = '2000-01-21 21:06+00' WHERE t = '2000-01-21 21:05+00';
SET DateStyle = 'Postgres, MDY';
SET TimeZone = 'Asia/Kolkata';
SELECT presplit.cutover(:p);
SELECT * FROM iso_layout('by_hour') ORDER BY bound;
SELECT presplit.rollback(:p);
SELECT presplit.split_partition('by_hour_0', ARRAY['2000-01-22 01:00+05:30']::timestamptz[], ramp => false) AS p \gset
SELECT presplit.wait(:p, 'switching', '60 s');
SELECT presplit.cutover(:p);
SELECT presplit.finalize(:p);
SELECT * FROM iso_layout('by_hour') ORDER BY bound;
RESET DateStyle;
RESET TimeZone;

DROP FUNCTION iso_layout(regclass);
DROP TABLE by_day, by_hour;
-- (Whatever a failed plan left of its shadows.)
DO $$
DECLARE
    shadow regclass;
BEGIN
    FOR shadow IN SELECT oid FROM pg_class WHERE relname ~ '^by_(day|hour)_0_\d+_\d+$' AND relkind = 'r' LOOP
        EXECUTE format('DROP TABLE %s', shadow);
    END LOOP;
END;
$$;
