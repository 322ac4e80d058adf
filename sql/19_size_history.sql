-- The size history: each managed partition's rows and bytes, one sample per
-- hour for 21 days (presplit.size_history). The worker samples every
-- presplit.size_sample_interval; here presplit_test_sample_sizes samples
-- now, recorded as taken at a given time, to build a history of hours.
CREATE FUNCTION test_sample_sizes(timestamptz) RETURNS int
    AS 'pg_presplit', 'presplit_test_sample_sizes' LANGUAGE C;
CREATE TABLE growing (id int PRIMARY KEY, note text) PARTITION BY RANGE (id);
CREATE TABLE growing_0 PARTITION OF growing FOR VALUES FROM (0) TO (100000);
CREATE TABLE growing_1 PARTITION OF growing FOR VALUES FROM (100000) TO (200000);
CREATE TABLE not_managed (id int);
SELECT presplit.manage('growing');

-- Three hours ago empty (its rows unknown: never analyzed), then 10 000
-- rows, then 20 000. Every managed partition of the database is sampled.
SELECT test_sample_sizes(now() - interval '3 hours') >= 2 AS sampled;
INSERT INTO growing SELECT g, repeat('x', 100) FROM generate_series(0, 9999) g;
ANALYZE growing;
SELECT test_sample_sizes(now() - interval '2 hours') >= 2 AS sampled;
INSERT INTO growing SELECT g, repeat('x', 100) FROM generate_series(10000, 19999) g;
ANALYZE growing;
SELECT test_sample_sizes(now() - interval '1 hour') >= 2 AS sampled;
-- (The worker may sample this hour too: only the earlier hours are shown.)
SELECT round(extract(epoch FROM now() - at) / 3600) AS hours_ago, rows,
       bytes >= 8192 AS has_bytes, bytes > lag(bytes) OVER (ORDER BY at) AS grew
  FROM presplit.size_history('growing_0')
 WHERE at < now() - interval '30 minutes' ORDER BY at;
SELECT count(*) AS samples, max(rows) AS rows
  FROM presplit.size_history('growing_1') WHERE at < now() - interval '30 minutes';

-- Errors: a missing argument, a relation that is not a managed partition,
-- a non-owner (before anything is said about the partition), the test
-- function for superusers only.
SELECT * FROM presplit.size_history(NULL);
SELECT * FROM presplit.size_history('not_managed');
SELECT * FROM presplit.size_history('growing');
SELECT * FROM presplit.size_history(4000000000);
CREATE ROLE presplit_erin;
SET ROLE presplit_erin;
SELECT * FROM presplit.size_history('growing_0');
SELECT test_sample_sizes(now());
RESET ROLE;
DROP ROLE presplit_erin;
SELECT test_sample_sizes(NULL);

SELECT presplit.unmanage('growing');
SELECT * FROM presplit.size_history('growing_0');
DROP TABLE growing, not_managed;
DROP FUNCTION test_sample_sizes(timestamptz);
