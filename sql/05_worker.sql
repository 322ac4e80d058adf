-- The background worker runs in this database (presplit.database) and
-- publishes a heartbeat.
-- Wait (up to 60 s) until the worker has seen the extension and beaten twice
-- more since now.
CREATE FUNCTION wait_for_heartbeats(beats int) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    start_loops bigint := (SELECT loops FROM presplit.worker_status);
    deadline timestamptz := clock_timestamp() + interval '60 s';
BEGIN
    LOOP
        PERFORM 1 FROM presplit.worker_status
         WHERE extension_present AND loops >= start_loops + beats;
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
SELECT wait_for_heartbeats(2) AS beating;
SELECT backend_type, datname FROM pg_stat_activity WHERE backend_type = 'pg_presplit worker';

SELECT pid = (SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_presplit worker') AS pid_matches,
       database, starts >= 1 AS started, extension_present,
       last_heartbeat >= started_at AS beat_after_start,
       last_heartbeat > now() - interval '60 s' AS recent
  FROM presplit.worker_status;

-- Everyone may read it.
CREATE ROLE presplit_reader;
SET ROLE presplit_reader;
SELECT database FROM presplit.worker_status;
RESET ROLE;
DROP ROLE presplit_reader;
DROP FUNCTION wait_for_heartbeats(int);
