-- The analyzer's per-execution state lasts exactly as long as the
-- execution's memory (the executor's es_query_cxt). Statements on a managed
-- table that fail inside a PL/pgSQL EXCEPTION block -- a subtransaction rolls
-- back, the transaction goes on -- leave nothing tracked, and the statements
-- that follow are counted as they ran: a leftover entry, matched by a later
-- execution that got the same QueryDesc address, would record its own
-- statement's scans with the failed statement's write baseline (the failed
-- INSERT's row counts as a write attempted).
CREATE FUNCTION test_analyzer_tracked() RETURNS bigint
    AS 'pg_presplit', 'presplit_test_analyzer_tracked' LANGUAGE C;
CREATE TABLE ledger (id int PRIMARY KEY, v int NOT NULL) PARTITION BY RANGE (id);
CREATE TABLE ledger_low PARTITION OF ledger FOR VALUES FROM (0) TO (1000);
CREATE TABLE ledger_high PARTITION OF ledger FOR VALUES FROM (1000) TO (2000);
CREATE TABLE notes (n int);
INSERT INTO ledger SELECT g, g FROM generate_series(0, 1999) g;
SELECT presplit.manage('ledger');
SELECT presplit.reset_stats('ledger');
SELECT test_analyzer_tracked() AS tracked_before;

-- 100 rounds of: an INSERT that fails on the primary key (in the executor,
-- after ExecutorStart), a read that divides by zero, a loop over a read
-- whose body raises (its portal is dropped without ExecutorEnd), each in its
-- own EXCEPTION block; statements on an unmanaged table in between; and one
-- read of ledger_high that succeeds.
DO $$
DECLARE
    r record;
BEGIN
    FOR i IN 1..100 LOOP
        BEGIN
            INSERT INTO ledger VALUES (5, 0);
        EXCEPTION WHEN unique_violation THEN NULL;
        END;
        INSERT INTO notes VALUES (i);
        BEGIN
            PERFORM 1 / (v - v) FROM ledger WHERE id = 1500;
        EXCEPTION WHEN division_by_zero THEN NULL;
        END;
        PERFORM count(*) FROM notes;
        BEGIN
            FOR r IN SELECT v FROM ledger WHERE id BETWEEN 10 AND 20 LOOP
                RAISE EXCEPTION 'stop';
            END LOOP;
        EXCEPTION WHEN raise_exception THEN NULL;
        END;
        UPDATE notes SET n = n + 1 WHERE n = 0;
        PERFORM v FROM ledger WHERE id = 1200;
    END LOOP;
    RAISE NOTICE 'tracked at the end of the transaction: %', test_analyzer_tracked();
END;
$$;
SELECT test_analyzer_tracked() AS tracked_after;
-- The 100 reads that succeeded, one row each, and nothing else: the failed
-- statements are not counted, nor written to anyone else's account.
SELECT partition, reads, writes, rows_read, rows_written
  FROM presplit.partition_stats WHERE parent = 'ledger'::regclass ORDER BY partition::text;

-- The same with a savepoint rolled back by hand, and at top level (the
-- transaction aborts).
BEGIN;
SAVEPOINT s;
INSERT INTO ledger VALUES (1500, 0);
ROLLBACK TO SAVEPOINT s;
SELECT test_analyzer_tracked() AS tracked_after_rollback_to_savepoint;
COMMIT;
INSERT INTO ledger VALUES (1500, 0);
SELECT test_analyzer_tracked() AS tracked_after_top_level_error;
SELECT partition, reads, writes, rows_read, rows_written
  FROM presplit.partition_stats WHERE parent = 'ledger'::regclass ORDER BY partition::text;

-- Superusers only (a C function: only a superuser can create it; a grant
-- does not lift the check inside).
CREATE ROLE presplit_erin;
GRANT EXECUTE ON FUNCTION test_analyzer_tracked() TO presplit_erin;
SET ROLE presplit_erin;
SELECT test_analyzer_tracked();
RESET ROLE;
REVOKE EXECUTE ON FUNCTION test_analyzer_tracked() FROM presplit_erin;
DROP ROLE presplit_erin;

SELECT presplit.unmanage('ledger');
DROP TABLE ledger, notes;
DROP FUNCTION test_analyzer_tracked();
