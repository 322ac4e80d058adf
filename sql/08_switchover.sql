-- presplit.split_partition, set_weight, pause, resume, cutover, rollback,
-- finalize and the channels view.
CREATE TABLE accounts (
    id      bigint PRIMARY KEY,
    balance int NOT NULL DEFAULT 0
) PARTITION BY RANGE (id);
CREATE INDEX accounts_balance ON accounts (balance);
CREATE TABLE accounts_0 PARTITION OF accounts FOR VALUES FROM (0) TO (1000);
CREATE TABLE accounts_1 PARTITION OF accounts FOR VALUES FROM (1000) TO (2000);
INSERT INTO accounts SELECT g, 100 FROM generate_series(0, 1999) g;
SELECT presplit.manage('accounts');
CREATE VIEW accounts_layout AS
SELECT partition, bound FROM presplit.managed_tables
 WHERE parent = 'accounts'::regclass ORDER BY partition::text;
-- Rows of accounts in [0, 1000) that differ from the (detached) accounts_0.
CREATE FUNCTION old_partition_differences() RETURNS bigint LANGUAGE sql AS $$
    SELECT (SELECT count(*) FROM (SELECT id, balance FROM accounts WHERE id < 1000
                                  EXCEPT ALL SELECT id, balance FROM accounts_0) a)
         + (SELECT count(*) FROM (SELECT id, balance FROM accounts_0
                                  EXCEPT ALL SELECT id, balance FROM accounts WHERE id < 1000) b)
$$;

-- "Nothing happened" is proved by waiting for the worker, not for time: until
-- it has done two more rounds (up to 60 s). A round with work beats twice in
-- presplit.worker_status.loops -- after reading the plans, after stepping
-- them -- so four beats after now include a whole round that read the plans
-- after now and stepped them, at least one naptime after the previous one.
CREATE FUNCTION wait_for_worker_rounds(rounds int) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    start_loops bigint := (SELECT loops FROM presplit.worker_status);
    deadline timestamptz := clock_timestamp() + interval '60 s';
BEGIN
    LOOP
        PERFORM 1 FROM presplit.worker_status WHERE loops >= start_loops + 2 * rounds;
        IF FOUND THEN
            RETURN true;
        END IF;
        IF clock_timestamp() > deadline THEN
            RETURN false;
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
END;
$$;

-- Bad input: a clear error, and nothing changes.
\set VERBOSITY default
SELECT presplit.split_partition(NULL, '{500}');
SELECT presplit.split_partition('accounts_0');
SELECT presplit.split_partition('accounts_0', '{500}', NULL);
SELECT presplit.split_partition('accounts_0', '{5000}');
SELECT presplit.split_partition('accounts');
SELECT presplit.split_partition('pg_class');
SELECT presplit.set_weight(NULL, 10);
SELECT presplit.set_weight(424242, 10);
SELECT presplit.pause(424242);
SELECT presplit.resume(424242);
SELECT presplit.cutover(424242);
SELECT presplit.rollback(424242);
SELECT presplit.finalize(424242);
SELECT count(*) AS plans FROM presplit.plans;
-- Too early: the plan is still preparing (not yet committed, the worker
-- cannot see it).
BEGIN;
SELECT presplit.prepare_split('accounts_0', '{500}') AS early \gset
SELECT presplit.set_weight(:early, 10);
ROLLBACK;
BEGIN;
SELECT presplit.prepare_split('accounts_0', '{500}') AS early \gset
SELECT presplit.cutover(:early);
ROLLBACK;
BEGIN;
SELECT presplit.prepare_split('accounts_0', '{500}') AS early \gset
SELECT presplit.finalize(:early);
ROLLBACK;

-- A manual switchover: the plan waits at switching with the new channel at 0.
SELECT presplit.split_partition('accounts_0', '{500}', ramp => false) AS p1 \gset
SELECT presplit.wait(:p1, 'switching', '60 s');
SELECT channel, weight, relations FROM presplit.channels WHERE plan_id = :p1 ORDER BY channel;
-- The same call again reuses the plan; other split points do not.
SELECT presplit.split_partition('accounts_0', '{500}', ramp => false) = :p1 AS reused;
SELECT presplit.split_partition('accounts_0', '{600}');
SELECT presplit.set_weight(:p1, 101);
SELECT presplit.set_weight(:p1, -1);
SELECT presplit.set_weight(:p1, NULL);
SELECT presplit.set_weight(:p1, 30);
SELECT channel, weight FROM presplit.channels WHERE plan_id = :p1 ORDER BY channel;
SELECT presplit.pause(:p1);
SELECT paused, new_channel_weight FROM presplit.plans WHERE id = :p1;
SELECT presplit.resume(:p1);
SELECT presplit.cancel(:p1);
-- Only the owner (or a superuser).
CREATE ROLE presplit_dave;
SET ROLE presplit_dave;
SELECT presplit.set_weight(:p1, 50);
SELECT presplit.cutover(:p1);
SELECT presplit.rollback(:p1);
SELECT presplit.split_partition('accounts_0');
RESET ROLE;
DROP ROLE presplit_dave;

-- Cutover: the shadows become the partitions, the source is detached and
-- kept current by reverse capture.
SELECT presplit.cutover(:p1);
SELECT state, new_channel_weight, cut_over_at IS NOT NULL AS cut_over_at FROM presplit.plans WHERE id = :p1;
SELECT * FROM accounts_layout;
SELECT count(*), sum(balance) FROM accounts;
UPDATE accounts SET balance = balance - 10 WHERE id = 10;
UPDATE accounts SET balance = balance + 10 WHERE id = 990;
DELETE FROM accounts WHERE id IN (20, 30, 1500);
INSERT INTO accounts VALUES (20, 7);
UPDATE accounts SET id = 30 WHERE id = 700;    -- from one new partition to the other
UPDATE accounts SET id = 1500 WHERE id = 800;  -- out of the split range
DELETE FROM accounts WHERE id = 60;
UPDATE accounts SET id = 60 WHERE id = 1600;   -- into the split range
SELECT format('TRUNCATE %s', relations[2]) FROM presplit.channels
 WHERE plan_id = :p1 AND channel = 'new' \gexec
SELECT old_partition_differences(), (SELECT count(*) FROM accounts_0) AS old_rows;
SELECT presplit.set_weight(:p1, 10);
SELECT presplit.cutover(:p1);
SELECT presplit.pause(:p1);
SELECT presplit.finalize(:p1, NULL);

-- Rollback after cutover: the same swap backwards, nothing lost.
SELECT presplit.rollback(:p1);
SELECT state, new_channel_weight, reason FROM presplit.plans WHERE id = :p1;
SELECT * FROM accounts_layout;
SELECT count(*), sum(balance) FROM accounts;
SELECT count(*) AS leftovers FROM pg_class WHERE relname ~ '^accounts_0_\d+_\d+$';
SELECT presplit.rollback(:p1);
SELECT presplit.finalize(:p1);
SELECT kind, from_state, to_state, detail ~ '^lock taken in \d+ tries, held [0-9.]+ ms' AS timed
  FROM presplit.events WHERE plan_id = :p1 AND kind IN ('state_change', 'cutover', 'rollback_swap', 'weight', 'paused', 'resumed')
 ORDER BY id;

-- Rollback before cutover drops the new channel.
SELECT presplit.split_partition('accounts_0', '{500}', ramp => false) AS p2 \gset
SELECT presplit.wait(:p2, 'switching', '60 s');
SELECT presplit.rollback(:p2);
SELECT state FROM presplit.plans WHERE id = :p2;
SELECT * FROM accounts_layout;
SELECT count(*) AS leftovers FROM pg_class WHERE relname ~ '^accounts_0_\d+_\d+$';

-- Past the rollback window only finalize is left; it drops the old partition.
SELECT presplit.split_partition('accounts_0', '{250, 750}', ramp => false) AS p3 \gset
SELECT presplit.wait(:p3, 'switching', '60 s');
SELECT presplit.cutover(:p3);
SET presplit.rollback_window = 0;
SELECT pg_sleep(0.01);
SELECT presplit.rollback(:p3);
RESET presplit.rollback_window;
SELECT presplit.finalize(:p3);
SELECT state FROM presplit.plans WHERE id = :p3;
SELECT to_regclass('accounts_0') AS old_partition;
SELECT * FROM accounts_layout;
SELECT count(*), sum(balance) FROM accounts;

-- The automatic ramp: paused before it starts, it waits at 0; resumed, it
-- steps up and cuts over at 100.
ALTER SYSTEM SET presplit.ramp_interval = '20ms';
ALTER SYSTEM SET presplit.ramp_step = 40;
-- Nothing reads the table here: step on time alone (09_routing ramps on reads).
ALTER SYSTEM SET presplit.ramp_min_statements = 0;
SELECT pg_reload_conf();
BEGIN;
SELECT presplit.split_partition('accounts_1', '{1500}') AS p4 \gset
SELECT presplit.pause(:p4);
COMMIT;
SELECT presplit.wait(:p4, 'switching', '60 s');
SELECT wait_for_worker_rounds(2) AS rounds_done;
SELECT state, new_channel_weight, paused FROM presplit.plans WHERE id = :p4;
SELECT presplit.resume(:p4);
SELECT presplit.wait(:p4, 'cut_over', '60 s');
SELECT kind, CASE WHEN kind <> 'cutover' THEN split_part(detail, ';', 1) END AS detail
  FROM presplit.events WHERE plan_id = :p4 AND kind IN ('weight', 'cutover', 'paused', 'resumed')
 ORDER BY id;
SELECT presplit.finalize(:p4, drop_old => false);
SELECT to_regclass('accounts_1') AS kept, (SELECT count(*) FROM accounts_1) AS rows_kept;
SELECT * FROM accounts_layout;
-- Only split_partition asks for a ramp: a plan from prepare_split that is
-- switched by hand (set_weight) stays where it is put.
SELECT relations[1] AS first_new FROM presplit.channels WHERE plan_id = :p4 AND channel = 'new' \gset
SELECT presplit.prepare_split(:'first_new', '{1250}') AS p5 \gset
SELECT presplit.wait(:p5, 'synced', '60 s');
SELECT presplit.set_weight(:p5, 10);
SELECT wait_for_worker_rounds(2) AS rounds_done;
SELECT state, new_channel_weight FROM presplit.plans WHERE id = :p5;
SELECT presplit.rollback(:p5);
ALTER SYSTEM RESET presplit.ramp_interval;
ALTER SYSTEM RESET presplit.ramp_step;
ALTER SYSTEM RESET presplit.ramp_min_statements;
SELECT pg_reload_conf();
SELECT count(*), sum(balance) FROM accounts;
DROP VIEW accounts_layout;
DROP FUNCTION old_partition_differences();
DROP FUNCTION wait_for_worker_rounds(int);
DROP TABLE accounts, accounts_1;
