-- pg_presplit 0.1.0 -> 0.1.1: backups that restore, and a DROP EXTENSION
-- that says what it would break. Must leave the same objects as a fresh
-- install of pg_presplit--0.1.1.sql (test/t/009_dump_restore.pl compares).
\echo Use "ALTER EXTENSION pg_presplit UPDATE TO '0.1.1'" to load this file. \quit

-- The one list of the ended plan states in SQL (see pg_presplit--0.1.1.sql),
-- for the constraints, the index and the triggers that had their own copies.
CREATE FUNCTION presplit._is_terminal_plan_state(state text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN state IN ('finalized', 'rolled_back', 'cancelled', 'failed');
ALTER TABLE presplit.plan DROP CONSTRAINT plan_finished_iff_terminal,
    ADD CONSTRAINT plan_finished_iff_terminal
        CHECK (presplit._is_terminal_plan_state(state) = (finished_at IS NOT NULL));
DROP INDEX presplit.plan_one_active_per_source;
CREATE UNIQUE INDEX plan_one_active_per_source ON presplit.plan (source)
    WHERE NOT presplit._is_terminal_plan_state(state);

-- An INSERT into presplit.plan is not a state change: pg_restore copies plans
-- in the state they had (0.1.0 refused every state but planned), and with
-- their events (0.1.0 logged plan_created again, with new event ids).
-- pg_presplit logs plan_created itself now.
CREATE OR REPLACE FUNCTION presplit._plan_state_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    IF NEW.state IS DISTINCT FROM OLD.state THEN
        IF NOT presplit._is_valid_plan_transition(OLD.state, NEW.state) THEN
            RAISE EXCEPTION 'split plan % cannot go from state % to state %', OLD.id, OLD.state, NEW.state
                USING ERRCODE = 'check_violation';
        END IF;
        NEW.finished_at := CASE WHEN presplit._is_terminal_plan_state(NEW.state) THEN now() END;
        INSERT INTO presplit.event (plan_id, relation, kind, from_state, to_state, detail)
            VALUES (NEW.id, NEW.source::text, 'state_change', OLD.state, NEW.state, NEW.reason);
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;
CREATE OR REPLACE TRIGGER plan_state_change BEFORE UPDATE ON presplit.plan
    FOR EACH ROW EXECUTE FUNCTION presplit._plan_state_change();

-- References by triggers instead of foreign keys, which fail pg_restore -j
-- (it loads the tables in any order); rows a restore inserts (with
-- check_function_bodies off) are not checked, nor are their channel weights
-- (pg_dump --inserts commits row by row).
ALTER TABLE presplit.plan DROP CONSTRAINT plan_parent_fkey;
ALTER TABLE presplit.shadow DROP CONSTRAINT shadow_plan_id_fkey;
ALTER TABLE presplit.channel DROP CONSTRAINT channel_plan_id_fkey;
ALTER TABLE presplit.shadow_progress DROP CONSTRAINT shadow_progress_plan_id_ordinal_fkey;
CREATE FUNCTION presplit._check_reference() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    referenced text;
    key_values text;
BEGIN
    IF TG_OP = 'INSERT' AND current_setting('check_function_bodies') = 'off' THEN
        RETURN NEW;
    END IF;
    CASE TG_TABLE_NAME
    WHEN 'plan' THEN
        PERFORM FROM presplit.managed_table WHERE parent = NEW.parent FOR KEY SHARE;
        referenced := 'managed_table';
        key_values := format('(parent)=(%s)', NEW.parent);
    WHEN 'shadow', 'channel' THEN
        PERFORM FROM presplit.plan WHERE id = NEW.plan_id FOR KEY SHARE;
        referenced := 'plan';
        key_values := format('(plan_id)=(%s)', NEW.plan_id);
    WHEN 'shadow_progress' THEN
        PERFORM FROM presplit.shadow WHERE plan_id = NEW.plan_id AND ordinal = NEW.ordinal
            FOR KEY SHARE;
        referenced := 'shadow';
        key_values := format('(plan_id, ordinal)=(%s, %s)', NEW.plan_id, NEW.ordinal);
    END CASE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'insert or update on table "%" violates its reference to table "%"',
                        TG_TABLE_NAME, referenced
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('Key %s is not present in table "%s".', key_values, referenced);
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER plan_references BEFORE INSERT OR UPDATE OF parent ON presplit.plan
    FOR EACH ROW EXECUTE FUNCTION presplit._check_reference();
CREATE TRIGGER shadow_references BEFORE INSERT OR UPDATE OF plan_id ON presplit.shadow
    FOR EACH ROW EXECUTE FUNCTION presplit._check_reference();
CREATE TRIGGER channel_references BEFORE INSERT OR UPDATE OF plan_id ON presplit.channel
    FOR EACH ROW EXECUTE FUNCTION presplit._check_reference();
CREATE TRIGGER shadow_progress_references
    BEFORE INSERT OR UPDATE OF plan_id, ordinal ON presplit.shadow_progress
    FOR EACH ROW EXECUTE FUNCTION presplit._check_reference();

CREATE FUNCTION presplit._delete_dependents() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        CASE TG_TABLE_NAME
        WHEN 'managed_table' THEN TRUNCATE presplit.plan;
        WHEN 'plan' THEN TRUNCATE presplit.shadow, presplit.channel;
        WHEN 'shadow' THEN TRUNCATE presplit.shadow_progress;
        END CASE;
        RETURN NULL;
    END IF;
    CASE TG_TABLE_NAME
    WHEN 'managed_table' THEN
        DELETE FROM presplit.plan WHERE parent = OLD.parent;
    WHEN 'plan' THEN
        DELETE FROM presplit.shadow WHERE plan_id = OLD.id;
        DELETE FROM presplit.channel WHERE plan_id = OLD.id;
    WHEN 'shadow' THEN
        DELETE FROM presplit.shadow_progress WHERE plan_id = OLD.plan_id AND ordinal = OLD.ordinal;
    END CASE;
    RETURN NULL;
END;
$$;
CREATE TRIGGER managed_table_delete_dependents AFTER DELETE ON presplit.managed_table
    FOR EACH ROW EXECUTE FUNCTION presplit._delete_dependents();
CREATE TRIGGER managed_table_truncate_dependents AFTER TRUNCATE ON presplit.managed_table
    FOR EACH STATEMENT EXECUTE FUNCTION presplit._delete_dependents();
CREATE TRIGGER plan_delete_dependents AFTER DELETE ON presplit.plan
    FOR EACH ROW EXECUTE FUNCTION presplit._delete_dependents();
CREATE TRIGGER plan_truncate_dependents AFTER TRUNCATE ON presplit.plan
    FOR EACH STATEMENT EXECUTE FUNCTION presplit._delete_dependents();
CREATE TRIGGER shadow_delete_dependents AFTER DELETE ON presplit.shadow
    FOR EACH ROW EXECUTE FUNCTION presplit._delete_dependents();
CREATE TRIGGER shadow_truncate_dependents AFTER TRUNCATE ON presplit.shadow
    FOR EACH STATEMENT EXECUTE FUNCTION presplit._delete_dependents();

CREATE OR REPLACE FUNCTION presplit._channel_weights_sum_to_100() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    checked_plan bigint := CASE WHEN TG_OP = 'DELETE' THEN OLD.plan_id ELSE NEW.plan_id END;
    total bigint;
BEGIN
    IF TG_OP = 'INSERT' AND current_setting('check_function_bodies') = 'off' THEN
        RETURN NULL;
    END IF;
    SELECT sum(weight) INTO total FROM presplit.channel WHERE plan_id = checked_plan;
    IF total IS NOT NULL AND total <> 100 THEN
        RAISE EXCEPTION 'channel weights of split plan % sum to %, not 100', checked_plan, total
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$;

-- No split point: the whole partition onto one other server, a move with
-- the split's weighted reads and ramp (split_partition(p, '{}', servers =>
-- ARRAY['node2'])).
ALTER TABLE presplit.plan DROP CONSTRAINT plan_split_points_check,
    ADD CONSTRAINT plan_split_points_check CHECK (array_position(split_points, NULL) IS NULL);

-- A finished plan forgets its source once the partition is dropped: a
-- dangling OID would name another relation after a restore.
ALTER TABLE presplit.plan ALTER COLUMN source DROP NOT NULL;
ALTER TABLE presplit.plan ADD CONSTRAINT plan_active_has_source
    CHECK (source IS NOT NULL OR presplit._is_terminal_plan_state(state));

CREATE OR REPLACE FUNCTION presplit._forget_dropped_tables() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    dropped record;
BEGIN
    FOR dropped IN
        DELETE FROM presplit.managed_table m
         USING pg_event_trigger_dropped_objects() d
         WHERE d.classid = 'pg_class'::regclass AND d.objid = m.parent::oid
        RETURNING d.object_identity
    LOOP
        INSERT INTO presplit.event (relation, kind, detail)
            VALUES (dropped.object_identity, 'unmanaged', 'table dropped');
    END LOOP;
    UPDATE presplit.plan p SET source = NULL
      FROM pg_event_trigger_dropped_objects() d
     WHERE d.classid = 'pg_class'::regclass AND d.objid = p.source::oid
       AND presplit._is_terminal_plan_state(p.state);
    UPDATE presplit.shadow s SET relation = NULL
      FROM pg_event_trigger_dropped_objects() d, presplit.plan p
     WHERE d.classid = 'pg_class'::regclass AND d.objid = s.relation::oid
       AND p.id = s.plan_id AND presplit._is_terminal_plan_state(p.state);
END;
$$;

-- Sources dropped before this upgrade: 0.1.0's finalize left their OIDs.
UPDATE presplit.plan SET source = NULL
 WHERE presplit._is_terminal_plan_state(state)
   AND NOT EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid = source::oid);
UPDATE presplit.shadow s SET relation = NULL
  FROM presplit.plan p
 WHERE p.id = s.plan_id AND presplit._is_terminal_plan_state(p.state)
   AND NOT EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid = s.relation::oid);

CREATE FUNCTION presplit._before_drop_extension() RETURNS event_trigger
AS 'MODULE_PATHNAME', 'presplit_before_drop_extension'
LANGUAGE C;
CREATE EVENT TRIGGER presplit_before_drop_extension ON ddl_command_start
    WHEN TAG IN ('DROP EXTENSION', 'DROP SCHEMA')
    EXECUTE FUNCTION presplit._before_drop_extension();

------------------------------------------------------------------------------
-- Moves of a partition to another server (docs/multi_server.md)
------------------------------------------------------------------------------

-- One row per move. The states are those of a split plan (the same
-- transitions, checked in C++ by core::can_transition). Connection options
-- are never stored here: the server's name leads to its foreign server and
-- user mapping.
CREATE TABLE presplit.remote_move (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent        regclass    NOT NULL,
    -- NULL once finalize dropped it.
    source        regclass,
    source_name   text        NOT NULL, -- qualified, for events after the drop
    server        name        NOT NULL, -- a postgres_fdw foreign server
    remote_schema name        NOT NULL,
    remote_table  name        NOT NULL,
    owner         regrole     NOT NULL,
    state         text        NOT NULL DEFAULT 'preparing'
                  CHECK (state IN ('preparing', 'backfilling', 'synced', 'cut_over',
                                   'finalized', 'rolled_back', 'failed')),
    -- The postgres_fdw foreign table attached in place of the source.
    foreign_table regclass,
    -- false once the subscription, its slot and the publication are gone.
    replicating   boolean     NOT NULL DEFAULT true,
    -- The reverse direction (docs/multi_server.md, "Rollback after the
    -- cutover"): the other server's WAL position from which its changes flow
    -- back into the kept source, set at the cutover; reversing is true while
    -- its publication and slot there, its subscription here, exist.
    reverse_lsn   pg_lsn,
    reversing     boolean     NOT NULL DEFAULT false,
    -- A copy in chunks (docs/multi_server.md, "The remote copy in chunks"):
    -- {copied below[, chunk below or NULL[, 'folded']]}; NULL: one pass, or
    -- every chunk folded in.
    copy_chunks   text[],
    reason        text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX remote_move_one_active ON presplit.remote_move (source)
    WHERE state IN ('preparing', 'backfilling', 'synced', 'cut_over');
SELECT pg_catalog.pg_extension_config_dump('presplit.remote_move', '');
SELECT pg_catalog.pg_extension_config_dump('presplit.remote_move_id_seq', '');
REVOKE ALL ON presplit.remote_move FROM PUBLIC;

CREATE VIEW presplit.remote_moves WITH (security_barrier) AS
SELECT m.id, m.parent, m.source, m.source_name, m.server, m.remote_schema, m.remote_table,
       m.owner, m.state, m.foreign_table, m.replicating, m.reverse_lsn, m.reversing, m.reason,
       m.created_at, m.updated_at
  FROM presplit.remote_move m
  JOIN pg_catalog.pg_class parent_class ON parent_class.oid = m.parent
 WHERE pg_catalog.pg_has_role(parent_class.relowner, 'USAGE');
COMMENT ON VIEW presplit.remote_moves IS 'Moves of partitions to other servers, one row each';
GRANT SELECT ON presplit.remote_moves TO PUBLIC;

CREATE FUNCTION presplit.move_partition(partition regclass, server name) RETURNS bigint
AS 'MODULE_PATHNAME', 'presplit_move_partition'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION presplit.move_partition(regclass, name) IS
    'Move a partition to a postgres_fdw server: remote table, logical replication, cutover';

CREATE FUNCTION presplit.rollback_move(move bigint) RETURNS void
AS 'MODULE_PATHNAME', 'presplit_rollback_move'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION presplit.rollback_move(bigint) IS
    'Undo a move: before its cutover, replication and the remote table dropped; after it, the kept source attached again once it caught up with the other server';

CREATE FUNCTION presplit.finalize_move(move bigint, drop_old boolean DEFAULT true) RETURNS void
AS 'MODULE_PATHNAME', 'presplit_finalize_move'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION presplit.finalize_move(bigint, boolean) IS
    'End a cut-over move: replication dropped, the old partition dropped (or kept)';

-- Splits with targets on other servers: a shadow may live on a postgres_fdw
-- server (NULL: a local shadow; relation is NULL until the cutover, then the
-- foreign table), and split_partition takes the servers.
ALTER TABLE presplit.shadow ADD COLUMN server name;
-- A remote target's reverse direction after the cutover: that server's WAL
-- position from which its changes flow back into the kept source.
ALTER TABLE presplit.shadow ADD COLUMN reverse_lsn pg_lsn;
DROP FUNCTION presplit.split_partition(regclass, "any", boolean);
CREATE FUNCTION presplit.split_partition(source regclass, split_points "any" DEFAULT NULL,
                                         ramp boolean DEFAULT true,
                                         servers name[] DEFAULT NULL) RETURNS bigint
AS 'MODULE_PATHNAME', 'presplit_split_partition'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION presplit.split_partition(regclass, "any", boolean, name[]) IS
    'Split a partition: reuse its active plan or prepare one, and let the worker switch over (ramped, or manual with ramp => false); servers puts targets on postgres_fdw servers';

-- The server of each target, at the end of presplit.progress.
CREATE OR REPLACE VIEW presplit.progress WITH (security_barrier) AS
SELECT s.plan_id, s.ordinal, s.relation AS shadow, s.bound,
       coalesce(g.phase, 'waiting') AS phase,
       coalesce(g.rows_copied, 0) AS rows_copied,
       g.rows_estimated,
       CASE WHEN g.started_at IS NOT NULL AND g.updated_at > g.started_at
            THEN round(g.rows_copied / extract(epoch FROM g.updated_at - g.started_at), 1)
       END AS rows_per_second,
       CASE WHEN g.phase = 'done' THEN interval '0'
            WHEN g.rows_copied > 0 AND g.rows_estimated IS NOT NULL AND g.updated_at > g.started_at
            THEN greatest(g.rows_estimated - g.rows_copied, 0)
                 * ((g.updated_at - g.started_at) / g.rows_copied)
       END AS eta,
       g.started_at, g.updated_at,
       s.server -- a target on another server (NULL: here)
  FROM presplit.shadow s
  JOIN presplit.plan p ON p.id = s.plan_id
  JOIN pg_catalog.pg_class parent_class ON parent_class.oid = p.parent
  LEFT JOIN presplit.shadow_progress g ON g.plan_id = s.plan_id AND g.ordinal = s.ordinal
 WHERE pg_catalog.pg_has_role(parent_class.relowner, 'USAGE');
COMMENT ON VIEW presplit.progress IS
    'Per shadow of each plan: phase, rows copied and estimated, rate and ETA, and its server';

-- The analyzer keeps every managed partition's statistics in dynamic shared
-- memory: its status says how many entries are allocated; and the size
-- history the worker samples.
DROP VIEW presplit.analyzer_status;
DROP FUNCTION presplit._analyzer_status();
CREATE FUNCTION presplit._analyzer_status(
    OUT capacity int, OUT used int, OUT allocated int, OUT evictions bigint,
    OUT bytes_per_partition bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'presplit_analyzer_status'
LANGUAGE C VOLATILE STRICT;
CREATE VIEW presplit.analyzer_status AS SELECT * FROM presplit._analyzer_status();
COMMENT ON VIEW presplit.analyzer_status IS
    'Analyzer memory: most partitions it keeps, partitions it keeps, entries allocated (in use '
    'or free for reuse), partitions evicted, and bytes per entry';
GRANT SELECT ON presplit.analyzer_status TO PUBLIC;

CREATE FUNCTION presplit.size_history(partition regclass)
RETURNS TABLE (at timestamptz, rows bigint, bytes bigint)
AS 'MODULE_PATHNAME', 'presplit_size_history'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION presplit.size_history(regclass) IS
    'Rows and bytes of a managed partition over the last 21 days, as the worker sampled them';
-- The predictive shard manager (docs/prediction.md)
------------------------------------------------------------------------------

-- The last `hours` complete hours of a partition's history (actual) and the
-- forecast of the next `hours` (predicted, with its interval), one row per
-- hour and metric, `at` the start of the hour on the analyzer's clock.
CREATE FUNCTION presplit.forecast(partition regclass, hours int DEFAULT 48)
RETURNS TABLE (at timestamptz, metric text, actual double precision,
               predicted double precision, lower double precision, upper double precision)
AS 'MODULE_PATHNAME', 'presplit_forecast'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION presplit.forecast(regclass, int) IS
    'History and forecast of a managed partition''s load and size, hour by hour, with a 95 % interval';

ALTER TABLE presplit.managed_table
    ADD COLUMN split_load_threshold double precision CHECK (split_load_threshold >= 0),
    ADD COLUMN split_size_threshold bigint CHECK (split_size_threshold >= 0),
    -- presplit.set_predict_servers: the postgres_fdw servers a predicted
    -- split puts its upper piece on ('{}': this server only); NULL:
    -- presplit.predict_servers.
    ADD COLUMN predict_servers name[] CHECK (array_position(predict_servers, NULL) IS NULL);
ALTER TABLE presplit.plan ADD COLUMN copy_held boolean NOT NULL DEFAULT false,
    -- What the backfill copied (the source's bytes, estimated from its rows)
    -- and the wall seconds its batches took, throttle pauses included: the
    -- copy rate the predictive manager schedules with (plans.copy_bytes_per_second).
    ADD COLUMN copy_bytes bigint NOT NULL DEFAULT 0 CHECK (copy_bytes >= 0),
    ADD COLUMN copy_seconds double precision NOT NULL DEFAULT 0 CHECK (copy_seconds >= 0),
    -- A predicted plan's split: by the load, the size (rows) or an append
    -- hot spot; its drift is judged by it, also after a restart. NULL for
    -- the DBA's plans.
    ADD COLUMN split_kind text CHECK (split_kind IN ('load', 'size', 'append'));

-- The plans view shows whether a predicted plan's copy waits for an
-- off-peak window, and its measured copy rate.
CREATE OR REPLACE VIEW presplit.plans WITH (security_barrier) AS
SELECT p.id, p.parent, p.source, p.split_points, p.origin, p.owner, p.state,
       p.switch_requested, p.ramp, p.paused,
       (SELECT c.weight FROM presplit.channel c
         WHERE c.plan_id = p.id AND c.channel = 'new') AS new_channel_weight,
       p.created_at, p.updated_at, p.cut_over_at, p.finished_at, p.reason,
       p.copy_held,
       CASE WHEN p.copy_seconds > 0 THEN round((p.copy_bytes / p.copy_seconds)::numeric)
       END AS copy_bytes_per_second,
       p.split_kind
  FROM presplit.plan p
  JOIN pg_catalog.pg_class parent_class ON parent_class.oid = p.parent
 WHERE pg_catalog.pg_has_role(parent_class.relowner, 'USAGE');

-- Per-table thresholds (presplit.set_split_thresholds): NULL is the
-- setting's value (presplit.split_load_threshold / split_size_threshold).
CREATE FUNCTION presplit.set_split_thresholds(parent regclass,
                                              load_threshold double precision DEFAULT NULL,
                                              size_threshold text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'presplit_set_split_thresholds'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION presplit.set_split_thresholds(regclass, double precision, text) IS
    'A table''s own split thresholds (statements/s, size such as ''10GB''); NULL: the settings';

-- A table's own presplit.predict_servers: the postgres_fdw servers its
-- predicted splits put their new upper piece on; '{}' keeps them on this
-- server, NULL is the setting's value.
CREATE FUNCTION presplit.set_predict_servers(parent regclass, servers name[] DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'presplit_set_predict_servers'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION presplit.set_predict_servers(regclass, name[]) IS
    'The servers a table''s predicted splits put their upper piece on; NULL: presplit.predict_servers';

-- What the worker's manager concluded in its last round, per managed
-- partition and metric, and the off-peak windows it predicted (or expanded
-- from presplit.maintenance_window). Derived data, rewritten every round
-- from the analyzer's statistics: not dumped (pg_extension_config_dump), a
-- restored cluster computes them again. Times on the analyzer's clock.
CREATE TABLE presplit.prediction (
    partition          regclass         NOT NULL,
    parent             regclass         NOT NULL,
    metric             text             NOT NULL CHECK (metric IN ('load', 'size')),
    current            double precision,
    threshold          double precision,
    -- The start of the first forecast hour whose upper bound reaches the
    -- threshold (now if it already has); NULL: none within the horizon.
    predicted_crossing timestamptz,
    split_point        text,
    model              text,
    mase               double precision,
    reason             text,
    updated_at         timestamptz      NOT NULL,
    PRIMARY KEY (partition, metric)
);

CREATE TABLE presplit.offpeak_window (
    starts         timestamptz      NOT NULL,
    ends           timestamptz      NOT NULL,
    -- Mean predicted statements/s of the server; NULL for fixed windows.
    predicted_load double precision
);

CREATE VIEW presplit.forecasts WITH (security_barrier) AS
SELECT p.partition, p.metric, p.current, p.threshold, p.predicted_crossing, p.split_point,
       p.model, p.mase, p.reason
  FROM presplit.prediction p
  JOIN pg_catalog.pg_class c ON c.oid = p.partition
  JOIN pg_catalog.pg_class parent_class ON parent_class.oid = p.parent
 WHERE pg_catalog.pg_has_role(parent_class.relowner, 'USAGE');
COMMENT ON VIEW presplit.forecasts IS
    'Per managed partition and metric: the predicted threshold crossing and where to split';

CREATE VIEW presplit.offpeak_windows AS
SELECT starts, ends, predicted_load FROM presplit.offpeak_window;
COMMENT ON VIEW presplit.offpeak_windows IS
    'The windows in which predicted plans copy: the quiet hours ahead, or the maintenance window';

REVOKE ALL ON presplit.prediction, presplit.offpeak_window FROM PUBLIC;
GRANT SELECT ON presplit.forecasts, presplit.offpeak_windows TO PUBLIC;

-- Per plan that has started switching: its two channels, their weights, the
-- relations each one reads, and what each served: routed reads, errors, and
-- executor latency. A plan with targets on other servers has a third row,
-- remote: the new channel's reads that read one of them through its foreign
-- table (counted apart from new; its weight is the new channel's, its
-- relations NULL: docs/multi_server.md, "Weighted reads").
CREATE OR REPLACE VIEW presplit.channels WITH (security_barrier) AS
SELECT c.plan_id, p.source, c.channel, c.weight,
       CASE c.channel
            WHEN 'old' THEN ARRAY[p.source]
            WHEN 'new' THEN ARRAY(SELECT s.relation FROM presplit.shadow s
                                   WHERE s.plan_id = p.id ORDER BY s.ordinal)
       END AS relations,
       p.state, p.ramp, p.paused, c.updated_at AS weight_since,
       coalesce(st.statements, 0) AS statements, coalesce(st.errors, 0) AS errors,
       st.mean_ms, st.p95_ms
  FROM (SELECT plan_id, channel, weight, updated_at FROM presplit.channel
        UNION ALL
        SELECT n.plan_id, 'remote', n.weight, n.updated_at FROM presplit.channel n
         WHERE n.channel = 'new'
           AND EXISTS (SELECT FROM presplit.shadow s
                        WHERE s.plan_id = n.plan_id AND s.server IS NOT NULL)) c
  JOIN presplit.plan p ON p.id = c.plan_id
  JOIN pg_catalog.pg_class parent_class ON parent_class.oid = p.parent
  LEFT JOIN presplit._channel_stats() st ON st.plan_id = c.plan_id AND st.channel = c.channel
 WHERE pg_catalog.pg_has_role(parent_class.relowner, 'USAGE');
COMMENT ON VIEW presplit.channels IS
    'The old and new channel of each switching plan (and its remote reads): weights, relations, and the reads each served';
