-- pg_presplit 0.1.1: the metadata store and the SQL API.
--
-- This is the install script of the current version; edit it, and express
-- every change of an existing object again in an upgrade script
-- (pg_presplit--<old>--<new>.sql). pg_presplit--0.1.0.sql is the previous
-- version's install script, kept unchanged so that test/t/009_dump_restore.pl
-- can check that 0.1.0 plus its upgrade equals a fresh install of this one.
\echo Use "CREATE EXTENSION pg_presplit" to load this file. \quit

-- Relations and roles are stored as regclass / regrole, never as raw OIDs:
-- pg_dump writes them as qualified names and pg_restore resolves them again,
-- so the catalog survives a dump and restore into a cluster with other OIDs.
-- A reference to a relation that is gone is set to NULL (plan.source of a
-- finished plan, shadow.relation), never left dangling: a restore would read
-- a dangling OID as whatever relation has that OID in the new cluster.
--
-- A restore loads the tables after CREATE EXTENSION has made them, so their
-- constraints and triggers see the rows as they were dumped: an INSERT is not
-- a state change (plans come back in any state, events with their ids), and
-- the checks that span rows or tables leave the rows a restore inserts alone
-- -- it loads each table in its own transaction, in any order (pg_restore
-- -j), even row by row (pg_dump --inserts). See "References" below.
--
-- Users read the views; only the extension's functions (which check that the
-- caller owns the table) and the background worker write the tables.
--
-- Each view shows a user only the rows about tables whose owner's privileges
-- the user has: pg_has_role(owner, 'USAGE') -- the owner, a member of the
-- owning role that inherits its privileges, or a superuser. The owner is the
-- managed (parent) table's current relowner, the authority the functions
-- check too. Not plan.owner: that is who created the plan (perhaps a
-- superuser, on someone's table), and it does not follow ALTER TABLE ...
-- OWNER TO. The views are security barriers, so that a user's own functions
-- in a WHERE clause never see the rows filtered out; and the functions behind
-- them apply the same rule, since anyone may call them directly.

------------------------------------------------------------------------------
-- Functions used by the constraints below (the state machine lives in C++,
-- src/core/plan_state.cpp, and is enforced here through these functions).
------------------------------------------------------------------------------

CREATE FUNCTION presplit._is_valid_plan_transition(from_state text, to_state text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'presplit_is_valid_plan_transition'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Whether a plan in this state has ended: nothing follows. The one list of
-- the ended states in SQL (core::is_terminal is the C++ one; the regression
-- test sql/04_catalog.sql checks that they agree). A SQL-standard body: bound
-- when it is created (no search_path at run time), and inlined.
CREATE FUNCTION presplit._is_terminal_plan_state(state text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN state IN ('finalized', 'rolled_back', 'cancelled', 'failed');

------------------------------------------------------------------------------
-- Managed tables
------------------------------------------------------------------------------

CREATE TABLE presplit.managed_table (
    parent           regclass    PRIMARY KEY,
    key_column       name        NOT NULL,
    key_type         regtype     NOT NULL,
    -- Columns of the primary key (or unique NOT NULL index) that identify a
    -- row, so that capture can keep shadows in sync row by row.
    identity_columns name[]      NOT NULL CHECK (cardinality(identity_columns) > 0),
    managed_by       regrole     NOT NULL,
    managed_at       timestamptz NOT NULL DEFAULT now(),
    -- presplit.set_split_thresholds; NULL: presplit.split_load_threshold,
    -- presplit.split_size_threshold (bytes here).
    split_load_threshold double precision CHECK (split_load_threshold >= 0),
    split_size_threshold bigint CHECK (split_size_threshold >= 0),
    -- presplit.set_predict_servers: the postgres_fdw servers a predicted
    -- split puts its upper piece on ('{}': this server only); NULL:
    -- presplit.predict_servers.
    predict_servers      name[] CHECK (array_position(predict_servers, NULL) IS NULL)
);

------------------------------------------------------------------------------
-- Split plans
------------------------------------------------------------------------------

CREATE TABLE presplit.plan (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent       regclass    NOT NULL, -- a presplit.managed_table (see "References")
    -- NULL once the plan is finished and the partition is gone (finalize
    -- dropped it, or its owner did); the events keep its name.
    source       regclass,
    -- Values of the partition key, in its type's text form, ascending; none
    -- when the whole partition goes to one other server (a move as a plan:
    -- split_partition(p, '{}', servers => ARRAY['node2'])).
    split_points text[]      NOT NULL
                 CHECK (array_position(split_points, NULL) IS NULL),
    origin       text        NOT NULL CHECK (origin IN ('manual', 'predicted')),
    owner        regrole     NOT NULL,
    state        text        NOT NULL DEFAULT 'planned'
                 CHECK (state IN ('planned', 'preparing', 'backfilling', 'synced', 'switching',
                                  'cut_over', 'finalized', 'rolled_back', 'cancelled', 'failed')),
    reason       text,
    -- Identity (in the source's identity column order) of the last row the
    -- backfill copied; NULL before the first batch. Written in the same
    -- transaction as the batch, so a restarted worker resumes after it.
    backfill_position text[],
    backfill_done     boolean NOT NULL DEFAULT false,
    -- Set by split_partition: once synced, the worker starts the switchover
    -- (prepare_split alone stops at synced).
    switch_requested boolean NOT NULL DEFAULT false,
    -- The worker raises the new channel's weight step by step and cuts over
    -- at 100; false: the plan waits at switching for set_weight / cutover.
    ramp         boolean NOT NULL DEFAULT true,
    -- presplit.pause / resume of the automatic ramp.
    paused       boolean NOT NULL DEFAULT false,
    -- When the cutover committed; the rollback window counts from here.
    cut_over_at  timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    -- A predicted plan outside its off-peak windows: the worker holds its
    -- copy (capture keeps the shadows current meanwhile). A switch request
    -- releases it.
    copy_held    boolean     NOT NULL DEFAULT false,
    -- What the backfill copied (the source's bytes, estimated from its rows)
    -- and the wall seconds its batches took, throttle pauses included: the
    -- copy rate the predictive manager schedules with (plans.copy_bytes_per_second).
    copy_bytes   bigint           NOT NULL DEFAULT 0 CHECK (copy_bytes >= 0),
    copy_seconds double precision NOT NULL DEFAULT 0 CHECK (copy_seconds >= 0),
    -- A predicted plan's split: by the load, the size (rows) or an append
    -- hot spot; its drift is judged by it, also after a restart. NULL for
    -- the DBA's plans.
    split_kind   text CHECK (split_kind IN ('load', 'size', 'append')),
    CONSTRAINT plan_failure_has_reason CHECK (state <> 'failed' OR reason IS NOT NULL),
    CONSTRAINT plan_active_has_source
        CHECK (source IS NOT NULL OR presplit._is_terminal_plan_state(state)),
    CONSTRAINT plan_finished_iff_terminal
        CHECK (presplit._is_terminal_plan_state(state) = (finished_at IS NOT NULL))
);

-- At most one active (non-terminal) plan per source partition. (A source
-- detached by a cutover stays the plan's source until it is finalized.)
CREATE UNIQUE INDEX plan_one_active_per_source ON presplit.plan (source)
    WHERE NOT presplit._is_terminal_plan_state(state);
CREATE INDEX plan_parent ON presplit.plan (parent);

------------------------------------------------------------------------------
-- Shadow relations, channels, progress
------------------------------------------------------------------------------

CREATE TABLE presplit.shadow (
    plan_id  bigint   NOT NULL, -- a presplit.plan
    ordinal  int      NOT NULL CHECK (ordinal >= 0),
    -- NULL until the shadow table has been created.
    relation regclass UNIQUE,
    -- The partition bound the shadow takes at cutover, e.g.
    -- FOR VALUES FROM ('0') TO ('500000'); also its CHECK constraint.
    bound    text     NOT NULL,
    -- The same bound as values of the key type's text form; NULL means
    -- MINVALUE (lower) or MAXVALUE (upper).
    lower_value text,
    upper_value text,
    -- A postgres_fdw foreign server: the target lives there (created by
    -- split_partition, kept in sync by logical replication, attached as a
    -- foreign table at cutover; docs/multi_server.md). NULL: a local shadow.
    -- relation is NULL until the cutover, then the foreign table.
    server   name,
    -- A remote target's reverse direction (docs/multi_server.md, "Rollback
    -- after the cutover"): that server's WAL position from which its changes
    -- flow back into the kept source; NULL when there is none (not set up,
    -- lost, or dropped).
    reverse_lsn pg_lsn,
    PRIMARY KEY (plan_id, ordinal)
);

CREATE TABLE presplit.channel (
    plan_id    bigint      NOT NULL, -- a presplit.plan
    channel    text        NOT NULL CHECK (channel IN ('old', 'new')),
    weight     int         NOT NULL CHECK (weight BETWEEN 0 AND 100),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (plan_id, channel)
);

CREATE TABLE presplit.shadow_progress (
    plan_id        bigint      NOT NULL,
    ordinal        int         NOT NULL,
    phase          text        NOT NULL DEFAULT 'waiting'
                   CHECK (phase IN ('waiting', 'copying', 'indexing', 'analyzing', 'verifying', 'done')),
    rows_copied    bigint      NOT NULL DEFAULT 0 CHECK (rows_copied >= 0),
    rows_estimated bigint      CHECK (rows_estimated >= 0),
    -- A remote target's copy in chunks (docs/multi_server.md, "The remote
    -- copy in chunks"): {copied below[, chunk below or NULL[, 'folded']]};
    -- NULL: one pass, or every chunk folded in.
    last_key       text[],
    started_at     timestamptz,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (plan_id, ordinal) -- and a presplit.shadow
);

------------------------------------------------------------------------------
-- Events: append-only; no foreign keys, the log outlives plans and tables.
------------------------------------------------------------------------------

CREATE TABLE presplit.event (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    plan_id    bigint,
    -- The table's name when the event happened (the table may be gone later).
    relation   text,
    kind       text        NOT NULL,
    from_state text,
    to_state   text,
    detail     text,
    actor      name        NOT NULL DEFAULT session_user
);
CREATE INDEX event_plan ON presplit.event (plan_id);

CREATE FUNCTION presplit._event_is_append_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    RAISE EXCEPTION 'presplit.event is append-only'
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'TRUNCATE presplit.event as its owner to clear the log.';
END;
$$;
CREATE TRIGGER event_append_only BEFORE UPDATE OR DELETE ON presplit.event
    FOR EACH ROW EXECUTE FUNCTION presplit._event_is_append_only();

------------------------------------------------------------------------------
-- References: a plan belongs to a managed table, a shadow and the channels to
-- a plan, a shadow's progress to the shadow. Enforced by triggers, not
-- foreign keys: pg_dump orders the data of an extension's tables by their
-- foreign keys, but pg_restore -j loads them in parallel, in any order, and
-- a foreign key then fails the COPY of every plan whose managed table is
-- still to come. pg_dump's output and pg_restore set check_function_bodies
-- to off, which is how PostgreSQL's own function validators know a restore:
-- rows inserted then are as they were dumped, and are not checked. Every
-- other insert, and every update of a reference, is checked (the referenced
-- row locked FOR KEY SHARE, as a foreign key does); a delete or TRUNCATE
-- takes the rows that belong to it along (ON DELETE CASCADE).
------------------------------------------------------------------------------

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

------------------------------------------------------------------------------
-- Constraints that span rows
------------------------------------------------------------------------------

-- Every state change follows the state machine, keeps the timestamps and is
-- logged in presplit.event in the same transaction. An INSERT is not a state
-- change: pg_presplit inserts plans in state planned and logs plan_created
-- itself (catalog::insert_plan), and a restore inserts them in the state
-- they had, with their events.
CREATE FUNCTION presplit._plan_state_change() RETURNS trigger
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
CREATE TRIGGER plan_state_change BEFORE UPDATE ON presplit.plan
    FOR EACH ROW EXECUTE FUNCTION presplit._plan_state_change();

-- A plan's channel weights sum to 100. Checked at commit, so that one
-- transaction can move weight from one channel to the other. A deferred
-- trigger runs as whoever commits (a table owner who called set_weight or
-- cutover, not the extension), so it reads presplit.channel as its definer;
-- it runs only this fixed query. Not for rows a restore inserts (see
-- "References"): pg_dump --inserts makes each row a transaction of its own.
CREATE FUNCTION presplit._channel_weights_sum_to_100() RETURNS trigger
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
CREATE CONSTRAINT TRIGGER channel_weights_sum_to_100
    AFTER INSERT OR UPDATE OR DELETE ON presplit.channel
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION presplit._channel_weights_sum_to_100();

-- A managed table that is dropped stops being managed (its plans go with it).
-- A finished plan forgets a partition or shadow that is dropped (finalize
-- drops the old partition once its plan is finalized): a regclass must not
-- outlive its table.
CREATE FUNCTION presplit._forget_dropped_tables() RETURNS event_trigger
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
CREATE EVENT TRIGGER presplit_forget_dropped_tables ON sql_drop
    EXECUTE FUNCTION presplit._forget_dropped_tables();

-- DROP EXTENSION pg_presplit is refused while split plans are in progress
-- (their capture triggers would go, leaving the tables half split); with
-- CASCADE (or DROP SCHEMA presplit CASCADE) it warns what it leaves behind.
-- Every backend forgets its routes (src/api/extension.cpp).
CREATE FUNCTION presplit._before_drop_extension() RETURNS event_trigger
AS 'MODULE_PATHNAME', 'presplit_before_drop_extension'
LANGUAGE C;
CREATE EVENT TRIGGER presplit_before_drop_extension ON ddl_command_start
    WHEN TAG IN ('DROP EXTENSION', 'DROP SCHEMA')
    EXECUTE FUNCTION presplit._before_drop_extension();

------------------------------------------------------------------------------
-- pg_dump keeps the catalog (and the identity sequences' positions).
------------------------------------------------------------------------------

SELECT pg_catalog.pg_extension_config_dump('presplit.managed_table', '');
SELECT pg_catalog.pg_extension_config_dump('presplit.plan', '');
SELECT pg_catalog.pg_extension_config_dump('presplit.plan_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('presplit.shadow', '');
SELECT pg_catalog.pg_extension_config_dump('presplit.channel', '');
SELECT pg_catalog.pg_extension_config_dump('presplit.shadow_progress', '');
SELECT pg_catalog.pg_extension_config_dump('presplit.event', '');
SELECT pg_catalog.pg_extension_config_dump('presplit.event_id_seq', '');

------------------------------------------------------------------------------
-- SQL API
------------------------------------------------------------------------------

CREATE FUNCTION presplit.manage(parent regclass) RETURNS void
AS 'MODULE_PATHNAME', 'presplit_manage'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION presplit.manage(regclass) IS
    'Register a RANGE-partitioned table with pg_presplit (caller must own it)';

CREATE FUNCTION presplit.unmanage(parent regclass) RETURNS void
AS 'MODULE_PATHNAME', 'presplit_unmanage'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION presplit.unmanage(regclass) IS
    'Stop managing a table; refused while one of its split plans is active';

CREATE FUNCTION presplit.prepare_split(source regclass, split_points "any") RETURNS bigint
AS 'MODULE_PATHNAME', 'presplit_prepare_split'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION presplit.prepare_split(regclass, "any") IS
    'Plan a split of a partition at the given key values: create shadow tables, start capture, and let the worker backfill them';

CREATE FUNCTION presplit.cancel(plan bigint) RETURNS void
AS 'MODULE_PATHNAME', 'presplit_cancel'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION presplit.cancel(bigint) IS
    'Cancel a split plan that has not started switching: stop capture, drop the shadows';

CREATE FUNCTION presplit.wait(plan bigint, state text, timeout interval DEFAULT '10 min') RETURNS text
AS 'MODULE_PATHNAME', 'presplit_wait'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION presplit.wait(bigint, text, interval) IS
    'Wait until a split plan reaches a state (or a later one); error if it fails, is cancelled or rolled back';

CREATE FUNCTION presplit.split_partition(source regclass, split_points "any" DEFAULT NULL,
                                         ramp boolean DEFAULT true,
                                         servers name[] DEFAULT NULL) RETURNS bigint
AS 'MODULE_PATHNAME', 'presplit_split_partition'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION presplit.split_partition(regclass, "any", boolean, name[]) IS
    'Split a partition: reuse its active plan or prepare one, and let the worker switch over (ramped, or manual with ramp => false); servers puts targets on postgres_fdw servers';

CREATE FUNCTION presplit.set_weight(plan bigint, new_channel_weight int) RETURNS void
AS 'MODULE_PATHNAME', 'presplit_set_weight'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION presplit.set_weight(bigint, int) IS
    'Set the new channel''s weight (0-100) of a synced or switching plan';

CREATE FUNCTION presplit.pause(plan bigint) RETURNS void
AS 'MODULE_PATHNAME', 'presplit_pause'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION presplit.pause(bigint) IS 'Pause the automatic ramp of a split plan';

CREATE FUNCTION presplit.resume(plan bigint) RETURNS void
AS 'MODULE_PATHNAME', 'presplit_resume'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION presplit.resume(bigint) IS 'Resume the automatic ramp of a split plan';

CREATE FUNCTION presplit.cutover(plan bigint) RETURNS void
AS 'MODULE_PATHNAME', 'presplit_cutover'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION presplit.cutover(bigint) IS
    'Cut over now: detach the source, attach the shadows, reverse the capture (plan synced or switching)';

CREATE FUNCTION presplit.rollback(plan bigint) RETURNS void
AS 'MODULE_PATHNAME', 'presplit_rollback'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION presplit.rollback(bigint) IS
    'Undo a split plan up to cut_over (within presplit.rollback_window): the original layout, no data lost';

CREATE FUNCTION presplit.finalize(plan bigint, drop_old boolean DEFAULT true) RETURNS void
AS 'MODULE_PATHNAME', 'presplit_finalize'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION presplit.finalize(bigint, boolean) IS
    'End a cut-over plan: stop reverse capture and drop (or keep, detached) the old partition';

-- The worker's backfill step, run in the caller's transaction (tests race it
-- against writers; a DBA can drive a paused backfill by hand).
CREATE FUNCTION presplit._backfill_batch(plan bigint, batch_size bigint DEFAULT 5000) RETURNS bigint
AS 'MODULE_PATHNAME', 'presplit_backfill_batch'
LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION presplit._backfill_batch(bigint, bigint) FROM PUBLIC;

-- Capture: the one trigger function behind every plan's capture (on the
-- source partition) and reverse capture (on the new partitions), with the
-- plan id and 'forward' or 'reverse' as arguments. The table owner creates
-- the triggers, so it must be executable by PUBLIC; it acts only on the
-- tables of the plan its arguments name and only under pg_presplit's trigger
-- names, as the table's owner (src/migration/capture.hpp).
CREATE FUNCTION presplit._capture() RETURNS trigger
AS 'MODULE_PATHNAME', 'presplit_capture'
LANGUAGE C;
GRANT EXECUTE ON FUNCTION presplit._capture() TO PUBLIC;

CREATE FUNCTION presplit._worker_status(
    OUT pid int, OUT database text, OUT started_at timestamptz,
    OUT last_heartbeat timestamptz, OUT loops bigint, OUT starts bigint,
    OUT extension_present boolean)
RETURNS record
AS 'MODULE_PATHNAME', 'presplit_worker_status'
LANGUAGE C VOLATILE STRICT;

------------------------------------------------------------------------------
-- Views
------------------------------------------------------------------------------

-- One row per leaf partition of each managed table (one row with NULL
-- partition columns while a table has no partitions).
CREATE VIEW presplit.managed_tables WITH (security_barrier) AS
SELECT m.parent,
       m.key_column AS partition_key,
       m.key_type,
       m.identity_columns,
       m.managed_at,
       t.relid::regclass AS partition,
       pg_catalog.pg_get_expr(c.relpartbound, c.oid) AS bound,
       CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint END AS estimated_rows,
       pg_catalog.pg_total_relation_size(c.oid) AS total_bytes,
       pg_catalog.pg_size_pretty(pg_catalog.pg_total_relation_size(c.oid)) AS total_size
  FROM presplit.managed_table m
  JOIN pg_catalog.pg_class parent_class ON parent_class.oid = m.parent
  LEFT JOIN LATERAL pg_catalog.pg_partition_tree(m.parent) t ON t.isleaf AND t.level > 0
  LEFT JOIN pg_catalog.pg_class c ON c.oid = t.relid
 WHERE pg_catalog.pg_has_role(parent_class.relowner, 'USAGE');
COMMENT ON VIEW presplit.managed_tables IS
    'Managed tables and their leaf partitions: bounds, estimated rows, size';

CREATE VIEW presplit.worker_status AS
SELECT * FROM presplit._worker_status();
COMMENT ON VIEW presplit.worker_status IS
    'The pg_presplit background worker: pid, database, heartbeat';

CREATE VIEW presplit.plans WITH (security_barrier) AS
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
COMMENT ON VIEW presplit.plans IS 'Split plans, one row each';

-- In the spirit of pg_stat_progress_*: one row per shadow of each plan.
CREATE VIEW presplit.progress WITH (security_barrier) AS
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

-- Marks a routed plan: the node holding a statement's two plan trees (old
-- and new channel) names its split plan with a call of this function. The
-- executor hook picks one tree before anything could evaluate it; evaluated
-- anyway, it says "new channel" (correct while the plan is switching).
CREATE FUNCTION presplit._route_new(plan bigint) RETURNS boolean
AS 'MODULE_PATHNAME', 'presplit_route_new'
LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
GRANT EXECUTE ON FUNCTION presplit._route_new(bigint) TO PUBLIC;

-- What each channel served since its plan's first routed read (shared
-- memory: since the server's last start); the caller's plans only.
CREATE FUNCTION presplit._channel_stats(
    OUT plan_id bigint, OUT channel text, OUT statements bigint, OUT errors bigint,
    OUT mean_ms double precision, OUT p95_ms double precision)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'presplit_channel_stats'
LANGUAGE C VOLATILE;

-- Per plan that has started switching: its two channels, their weights, the
-- relations each one reads, and what each served: routed reads, errors, and
-- executor latency. A plan with targets on other servers has a third row,
-- remote: the new channel's reads that read one of them through its foreign
-- table (counted apart from new; its weight is the new channel's, its
-- relations NULL: docs/multi_server.md, "Weighted reads").
CREATE VIEW presplit.channels WITH (security_barrier) AS
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

-- An event of a plan that exists follows the plan (its parent table's owner).
-- Any other -- manage and unmanage, and the events of plans gone with their
-- table's unmanage or drop -- follows the relation it names (always the
-- quoted, schema-qualified name, as format('%I.%I') writes it) while one of
-- that name exists: an owner keeps her table's history across unmanage. If
-- none does, the event is a superuser's only. (A table dropped and created
-- again under the same name by another owner shows its predecessor's
-- unmanaged or finished events to the new owner: the log stores names, not
-- OIDs, so that it outlives the tables.) The names are matched by a join,
-- not to_regclass, which would fail the whole query on a schema the user
-- may not use.
CREATE VIEW presplit.events WITH (security_barrier) AS
SELECT e.id, e.at, e.plan_id, e.relation, e.kind, e.from_state, e.to_state, e.detail, e.actor
  FROM presplit.event e
  LEFT JOIN presplit.plan p ON p.id = e.plan_id
  LEFT JOIN pg_catalog.pg_class parent_class ON parent_class.oid = p.parent
  LEFT JOIN (SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) AS name, c.relowner
               FROM pg_catalog.pg_class c
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace) named
         ON p.id IS NULL AND named.name = e.relation
 WHERE CASE WHEN p.id IS NOT NULL THEN pg_catalog.pg_has_role(parent_class.relowner, 'USAGE')
            WHEN named.relowner IS NOT NULL THEN pg_catalog.pg_has_role(named.relowner, 'USAGE')
            ELSE coalesce((SELECT r.rolsuper FROM pg_catalog.pg_roles r
                            WHERE r.rolname = CURRENT_USER), false)
       END;
COMMENT ON VIEW presplit.events IS 'The log of everything pg_presplit did';

------------------------------------------------------------------------------
-- The query pattern analyzer (statistics live in shared memory)
------------------------------------------------------------------------------

CREATE FUNCTION presplit._partition_stats(
    OUT partition oid, OUT parent oid, OUT reads bigint, OUT writes bigint,
    OUT rows_read bigint, OUT rows_written bigint, OUT total_time_ms double precision,
    OUT per_second_now double precision, OUT per_second_last_hour double precision,
    OUT per_second_last_day double precision)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'presplit_partition_stats'
LANGUAGE C VOLATILE STRICT;

-- Per leaf partition of the managed tables: statements (reads, writes) and
-- rows since the last reset, executor time, statements per second over the
-- last minute / hour / day, size, and its share of its table's statements
-- (all of a table's partitions pass the filter or none do, so the share is
-- of the whole table).
CREATE VIEW presplit.partition_stats WITH (security_barrier) AS
SELECT s.partition::regclass AS partition,
       s.parent::regclass AS parent,
       s.reads, s.writes, s.rows_read, s.rows_written,
       round(s.total_time_ms::numeric, 3) AS total_time_ms,
       round(s.per_second_now::numeric, 3) AS per_second_now,
       round(s.per_second_last_hour::numeric, 3) AS per_second_last_hour,
       round(s.per_second_last_day::numeric, 3) AS per_second_last_day,
       CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint END AS estimated_rows,
       pg_catalog.pg_total_relation_size(c.oid) AS total_bytes,
       round((s.reads + s.writes)::numeric
             / nullif(sum(s.reads + s.writes) OVER (PARTITION BY s.parent), 0), 3) AS load_share
  FROM presplit._partition_stats() s
  JOIN pg_catalog.pg_class c ON c.oid = s.partition
  JOIN pg_catalog.pg_class parent_class ON parent_class.oid = s.parent
 WHERE pg_catalog.pg_has_role(parent_class.relowner, 'USAGE');
COMMENT ON VIEW presplit.partition_stats IS
    'Load per partition of the managed tables, recorded by the query pattern analyzer';

CREATE FUNCTION presplit._split_suggestions(
    OUT partition oid, OUT parent oid, OUT split_point text, OUT left_share double precision,
    OUT right_share double precision, OUT contained_share double precision, OUT samples bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'presplit_split_suggestions'
LANGUAGE C VOLATILE STRICT;

-- Per partition: the key that splits its recorded accesses most evenly
-- (NULL until enough were sampled), the shares of accesses left and right
-- of it and straddling it, and how many accesses it rests on.
CREATE VIEW presplit.split_suggestions WITH (security_barrier) AS
SELECT s.partition::regclass AS partition, s.split_point,
       round(s.left_share::numeric, 3) AS left_share,
       round(s.right_share::numeric, 3) AS right_share,
       round(s.contained_share::numeric, 3) AS contained_share,
       s.samples
  FROM presplit._split_suggestions() s
  JOIN pg_catalog.pg_class c ON c.oid = s.partition
  JOIN pg_catalog.pg_class parent_class ON parent_class.oid = s.parent
 WHERE pg_catalog.pg_has_role(parent_class.relowner, 'USAGE');
COMMENT ON VIEW presplit.split_suggestions IS
    'Where to split each partition to balance its recorded accesses';

CREATE FUNCTION presplit.key_heat(parent regclass, buckets int DEFAULT 20)
RETURNS TABLE (partition regclass, bucket int, lower_bound text, upper_bound text,
               accesses bigint)
AS 'MODULE_PATHNAME', 'presplit_key_heat'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION presplit.key_heat(regclass, int) IS
    'Sampled accesses over the key space of each partition, in equal-width buckets';

CREATE FUNCTION presplit.size_history(partition regclass)
RETURNS TABLE (at timestamptz, rows bigint, bytes bigint)
AS 'MODULE_PATHNAME', 'presplit_size_history'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION presplit.size_history(regclass) IS
    'Rows and bytes of a managed partition over the last 21 days, as the worker sampled them';

CREATE FUNCTION presplit.reset_stats(parent regclass DEFAULT NULL) RETURNS void
AS 'MODULE_PATHNAME', 'presplit_reset_stats'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION presplit.reset_stats(regclass) IS
    'Forget the analyzer''s statistics of a table (its owner), or of all tables (superuser)';

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

------------------------------------------------------------------------------
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

------------------------------------------------------------------------------
-- Privileges: users read the views, each about their own tables (see the
-- top of this file); worker_status and analyzer_status are global. The
-- tables belong to the extension.
------------------------------------------------------------------------------

REVOKE ALL ON ALL TABLES IN SCHEMA presplit FROM PUBLIC;
GRANT USAGE ON SCHEMA presplit TO PUBLIC;
GRANT SELECT ON presplit.managed_tables, presplit.worker_status, presplit.plans,
                presplit.progress, presplit.channels, presplit.events, presplit.partition_stats,
                presplit.split_suggestions, presplit.analyzer_status, presplit.forecasts,
                presplit.offpeak_windows TO PUBLIC;

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
