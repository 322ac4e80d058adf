-- The query pattern analyzer: per-partition load and key samples, with every
-- statement recorded (presplit.analyzer_sample_every = 1).
SHOW presplit.analyzer;
SHOW presplit.analyzer_sample_every;
CREATE TABLE readings (id int PRIMARY KEY, v int NOT NULL) PARTITION BY RANGE (id);
CREATE TABLE readings_low PARTITION OF readings FOR VALUES FROM (0) TO (1000);
CREATE TABLE readings_high PARTITION OF readings FOR VALUES FROM (1000) TO (2000);
CREATE TABLE unwatched (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE unwatched_0 PARTITION OF unwatched FOR VALUES FROM (0) TO (1000);
INSERT INTO readings SELECT g, g FROM generate_series(0, 1999) g;
SELECT presplit.manage('readings');
SELECT presplit.reset_stats('readings');
SELECT count(*) AS partitions_before FROM presplit.partition_stats WHERE parent = 'readings'::regclass;

-- Point reads, alternating between two keys of readings_low (through the
-- parent), a prepared statement on readings_high, reads from PL/pgSQL.
DO $$
BEGIN
    FOR i IN 1..30 LOOP
        PERFORM v FROM readings WHERE id = 100;
        PERFORM v FROM readings WHERE id = 900;
    END LOOP;
END;
$$;
PREPARE high(int) AS SELECT v FROM readings WHERE id = $1;
EXECUTE high(1500);
EXECUTE high(1501);
EXECUTE high(1502);
-- A scan of one partition named directly; a range scan.
SELECT count(*) FROM readings_high;
SELECT count(*) FROM readings WHERE id >= 1900 AND id < 1950;
-- Writes: an UPDATE of 10 rows, a DELETE, an INSERT routed through the
-- parent, a cross-partition UPDATE, COPY through the parent. Expected:
-- readings_high 5 write statements, 14 rows; readings_low 3 and 4.
UPDATE readings SET v = v + 1 WHERE id BETWEEN 1100 AND 1109;
DELETE FROM readings WHERE id = 1999;
INSERT INTO readings VALUES (1999, 0);
DELETE FROM readings WHERE id IN (998, 999);
UPDATE readings SET id = 999 WHERE id = 1998;  -- moves from readings_high to readings_low
COPY readings FROM stdin;
998	1
1998	1
\.
-- Unmanaged tables are not recorded.
SELECT count(*) FROM unwatched;

SELECT partition, reads, writes, rows_read, rows_written, total_time_ms > 0 AS timed,
       per_second_now > 0 AS recent, load_share
  FROM presplit.partition_stats WHERE parent = 'readings'::regclass ORDER BY partition::text;
SELECT count(*) AS unwatched_rows FROM presplit.partition_stats WHERE parent = 'unwatched'::regclass;

-- Where to split readings_low: between the two hot keys (a split at 900
-- puts the 100s left and the 900s right; the writes above add keys 998 and
-- 999 of the DELETE's IN list and 998 of the COPY on the right).
SELECT partition, split_point, left_share, right_share, samples
  FROM presplit.split_suggestions WHERE partition = 'readings_low'::regclass;
SELECT partition, bucket, lower_bound, upper_bound, accesses
  FROM presplit.key_heat('readings', 4) WHERE partition = 'readings_low'::regclass ORDER BY bucket;

-- Sampling: each statement recorded with probability 1/4, its counts scaled
-- by 4. 400 reads: about 100 recorded (standard deviation 8.7), so the
-- scaled count is a multiple of 4 near 400 (the bounds are 11 deviations
-- away).
SELECT presplit.reset_stats('readings');
SET presplit.analyzer_sample_every = 4;
DO $$
BEGIN
    FOR i IN 1..400 LOOP
        PERFORM v FROM readings WHERE id = 1200;
    END LOOP;
END;
$$;
RESET presplit.analyzer_sample_every;
SELECT partition, reads % 4 = 0 AS scaled_by_4,
       CASE partition::text WHEN 'readings_high' THEN reads BETWEEN 200 AND 600
                            ELSE reads = 0 END AS as_expected
  FROM presplit.partition_stats
 WHERE parent = 'readings'::regclass ORDER BY partition::text;

-- Off: nothing recorded.
SELECT presplit.reset_stats('readings');
SET presplit.analyzer = off;
SELECT v FROM readings WHERE id = 5;
RESET presplit.analyzer;
SELECT sum(reads + writes) AS recorded_while_off FROM presplit.partition_stats
 WHERE parent = 'readings'::regclass;

-- Errors.
SELECT * FROM presplit.key_heat('unwatched');
SELECT * FROM presplit.key_heat('readings', 0);
SELECT * FROM presplit.key_heat(NULL);
SELECT presplit.reset_stats('unwatched');
CREATE ROLE presplit_dave;
SET ROLE presplit_dave;
SELECT presplit.reset_stats();
SELECT presplit.reset_stats('readings');
SELECT count(*) >= 0 AS can_read_views FROM presplit.partition_stats;
RESET ROLE;
DROP ROLE presplit_dave;
SET presplit.analyzer_sample_every = 0;
SET presplit.no_such_analyzer_setting = 1;

SELECT capacity, used > 0 AS used, bytes_per_partition FROM presplit.analyzer_status;
SELECT presplit.unmanage('readings');
DROP TABLE readings, unwatched;
