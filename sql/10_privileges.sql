-- Privileges: a table owner never gains a privilege through pg_presplit; a
-- non-owner neither reads another owner's plans, split points, events or
-- statistics nor changes anything of theirs.
CREATE ROLE presplit_alice;
CREATE ROLE presplit_bob;
GRANT CREATE ON SCHEMA public TO presplit_alice;

-- Alice's table, managed, with a plan that is switching (weight 0, no ramp)
-- and statistics of her own reads.
SET ROLE presplit_alice;
CREATE TABLE alice_items (id int PRIMARY KEY, note text) PARTITION BY RANGE (id);
CREATE TABLE alice_items_0 PARTITION OF alice_items FOR VALUES FROM (0) TO (1000);
CREATE TABLE alice_items_1 PARTITION OF alice_items FOR VALUES FROM (1000) TO (2000);
INSERT INTO alice_items SELECT g, 'item ' || g FROM generate_series(0, 1999) g;
SELECT presplit.manage('alice_items');
SELECT presplit.prepare_split('alice_items_0', '{500}') AS plan \gset
SELECT presplit.wait(:plan, 'synced', '60 s');
SELECT presplit.set_weight(:plan, 0);
SELECT presplit.reset_stats('alice_items');
DO $$
BEGIN
    FOR i IN 1..30 LOOP
        PERFORM note FROM alice_items WHERE id = 100;
        PERFORM note FROM alice_items WHERE id = 900;
    END LOOP;
    FOR i IN 1..5 LOOP
        PERFORM note FROM alice_items WHERE id = 1500;
    END LOOP;
END;
$$;
RESET ROLE;
-- A partition of Alice's table that Bob owns (a superuser gave it to him):
-- splitting it would detach it from her table, which he may not do.
CREATE TABLE alice_items_2 PARTITION OF alice_items FOR VALUES FROM (2000) TO (3000);
ALTER TABLE alice_items_2 OWNER TO presplit_bob;

-- Everything pg_presplit keeps about Alice's table, to compare before and
-- after Bob's attempts. The sequences move even when a transaction that
-- took a value rolls back: a function that wrote anything before failing
-- would show there.
CREATE FUNCTION alice_state(bigint) RETURNS TABLE (what text, value text)
LANGUAGE sql AS $$
    SELECT 'plan', concat_ws(' ', state, split_points, switch_requested, ramp, paused,
                             backfill_done, reason, updated_at)
      FROM presplit.plan WHERE id = $1
    UNION ALL
    SELECT 'shadow', concat_ws(' ', ordinal, relation, bound,
                               (SELECT relowner::regrole FROM pg_class WHERE oid = relation))
      FROM presplit.shadow WHERE plan_id = $1
    UNION ALL
    SELECT 'channel', concat_ws(' ', channel, weight, updated_at)
      FROM presplit.channel WHERE plan_id = $1
    UNION ALL
    SELECT 'managed', concat_ws(' ', parent, managed_by, managed_at)
      FROM presplit.managed_table WHERE parent = 'alice_items'::regclass
    UNION ALL
    SELECT 'events', concat_ws(' ', count(*), max(id))
      FROM presplit.event WHERE plan_id = $1 OR relation LIKE '%alice\_items%'
    UNION ALL
    SELECT 'sequences', concat_ws(' ', (SELECT last_value FROM presplit.event_id_seq),
                                       (SELECT last_value FROM presplit.plan_id_seq))
    UNION ALL
    SELECT 'triggers', string_agg(tgname, ' ' ORDER BY tgname)
      FROM pg_trigger WHERE tgrelid = 'alice_items_0'::regclass
    UNION ALL
    SELECT 'stats', concat_ws(' ', partition, reads, writes, rows_read, rows_written)
      FROM presplit.partition_stats WHERE parent = 'alice_items'::regclass
    UNION ALL
    SELECT 'samples', concat_ws(' ', partition, split_point, samples)
      FROM presplit.split_suggestions
     WHERE partition IN ('alice_items_0'::regclass, 'alice_items_1'::regclass)
$$;
CREATE TEMP TABLE alice_before AS SELECT * FROM alice_state(:plan);
SELECT what, count(*) FROM alice_before GROUP BY what ORDER BY what;

-- Bob: every function of the SQL API, on Alice's table or plan, fails with
-- 42501 before it does, locks or tells anything (the messages name no table
-- of hers he did not name himself).
SET ROLE presplit_bob;
SELECT c.call, e.code,
       replace(e.message, 'split plan ' || :'plan', 'split plan <plan>') AS message
  FROM (VALUES
        (1, 'manage', $$SELECT presplit.manage('alice_items')$$),
        (2, 'unmanage', $$SELECT presplit.unmanage('alice_items')$$),
        (3, 'prepare_split', $$SELECT presplit.prepare_split('alice_items_1', '{1500}')$$),
        (4, 'split_partition (new plan)',
            $$SELECT presplit.split_partition('alice_items_1', '{1500}')$$),
        (5, 'split_partition (active plan)', $$SELECT presplit.split_partition('alice_items_0')$$),
        (6, 'prepare_split (Bob''s partition)',
            $$SELECT presplit.prepare_split('alice_items_2', '{2500}')$$),
        (7, 'split_partition (Bob''s partition)',
            $$SELECT presplit.split_partition('alice_items_2', '{2500}')$$),
        (8, 'wait', format('SELECT presplit.wait(%s, %L)', :plan, 'synced')),
        (9, 'wait (a later state)', format('SELECT presplit.wait(%s, %L, %L)', :plan,
                                           'cut_over', '0 s')),
        (10, 'cancel', format('SELECT presplit.cancel(%s)', :plan)),
        (11, 'set_weight', format('SELECT presplit.set_weight(%s, 50)', :plan)),
        (12, 'pause', format('SELECT presplit.pause(%s)', :plan)),
        (13, 'resume', format('SELECT presplit.resume(%s)', :plan)),
        (14, 'cutover', format('SELECT presplit.cutover(%s)', :plan)),
        (15, 'rollback', format('SELECT presplit.rollback(%s)', :plan)),
        (16, 'finalize', format('SELECT presplit.finalize(%s)', :plan)),
        (17, '_backfill_batch', format('SELECT presplit._backfill_batch(%s)', :plan)),
        (18, 'key_heat', $$SELECT * FROM presplit.key_heat('alice_items')$$),
        (19, 'reset_stats', $$SELECT presplit.reset_stats('alice_items')$$),
        (20, 'reset_stats (every table)', $$SELECT presplit.reset_stats()$$),
        (21, 'size_history', $$SELECT * FROM presplit.size_history('alice_items_0')$$),
        (22, 'size_history (Bob''s partition)',
            $$SELECT * FROM presplit.size_history('alice_items_2')$$),
        (23, 'the catalog table plan', $$SELECT * FROM presplit.plan$$),
        (24, 'the catalog table event', $$SELECT * FROM presplit.event$$)
       ) AS c(n, call, statement)
  LEFT JOIN LATERAL error_of(c.statement) e ON true
 ORDER BY c.n;

-- Every view: no row about Alice's objects (Bob has none of his own; the
-- partition he owns is one of Alice's table's). The worker and analyzer
-- status are global.
SELECT 'managed_tables' AS view, count(*) AS rows FROM presplit.managed_tables
UNION ALL SELECT 'plans', count(*) FROM presplit.plans
UNION ALL SELECT 'progress', count(*) FROM presplit.progress
UNION ALL SELECT 'channels', count(*) FROM presplit.channels
UNION ALL SELECT 'events', count(*) FROM presplit.events
UNION ALL SELECT 'partition_stats', count(*) FROM presplit.partition_stats
UNION ALL SELECT 'split_suggestions', count(*) FROM presplit.split_suggestions
UNION ALL SELECT 'worker_status', count(*) FROM presplit.worker_status
UNION ALL SELECT 'analyzer_status', count(*) FROM presplit.analyzer_status;
-- Nor do the functions behind the views, called directly.
SELECT 'presplit._partition_stats()' AS function, count(*) AS rows FROM presplit._partition_stats()
UNION ALL SELECT 'presplit._split_suggestions()', count(*) FROM presplit._split_suggestions()
UNION ALL SELECT 'presplit._channel_stats()', count(*) FROM presplit._channel_stats();
-- The views are security barriers: a function of Bob's in the WHERE clause,
-- however cheap, never sees the rows they filter out (no NOTICE below).
CREATE FUNCTION pg_temp.peek(text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS $$
BEGIN
    RAISE NOTICE 'peeked at %', $1;
    RETURN true;
END;
$$;
SELECT count(*) FROM presplit.plans WHERE pg_temp.peek(split_points::text);
SELECT count(*) FROM presplit.progress WHERE pg_temp.peek(bound);
SELECT count(*) FROM presplit.channels WHERE pg_temp.peek(relations::text);
SELECT count(*) FROM presplit.events WHERE pg_temp.peek(concat_ws(' ', relation, kind, detail));
SELECT count(*) FROM presplit.managed_tables WHERE pg_temp.peek(bound);
SELECT count(*) FROM presplit.partition_stats WHERE pg_temp.peek(reads::text);
SELECT count(*) FROM presplit.split_suggestions WHERE pg_temp.peek(split_point);
RESET ROLE;

-- Nothing of Alice's changed.
SELECT 'now' AS side, * FROM (SELECT * FROM alice_state(:plan) EXCEPT SELECT * FROM alice_before) d
UNION ALL
SELECT 'before', * FROM (SELECT * FROM alice_before EXCEPT SELECT * FROM alice_state(:plan)) d;

-- Alice sees her own, and only her own.
SET ROLE presplit_alice;
SELECT 'managed_tables' AS view, count(*) AS rows FROM presplit.managed_tables
UNION ALL SELECT 'plans', count(*) FROM presplit.plans
UNION ALL SELECT 'progress', count(*) FROM presplit.progress
UNION ALL SELECT 'channels', count(*) FROM presplit.channels
UNION ALL SELECT 'partition_stats', count(*) FROM presplit.partition_stats
UNION ALL SELECT 'split_suggestions', count(*) FROM presplit.split_suggestions;
SELECT parent, partition, bound FROM presplit.managed_tables ORDER BY partition::text;
SELECT id = :plan AS her_plan, parent, source, split_points, owner, state, switch_requested,
       ramp, paused, new_channel_weight
  FROM presplit.plans;
SELECT plan_id = :plan AS her_plan, ordinal, bound, phase, rows_copied FROM presplit.progress
 ORDER BY ordinal;
SELECT plan_id = :plan AS her_plan, source, channel, weight, state FROM presplit.channels
 ORDER BY channel;
SELECT plan_id = :plan AS her_plan, relation, kind, from_state, to_state, detail
  FROM presplit.events ORDER BY id;
SELECT partition, parent, reads, writes, rows_read, load_share FROM presplit.partition_stats
 ORDER BY partition::text;
SELECT partition, split_point, left_share, right_share, samples FROM presplit.split_suggestions
 ORDER BY partition::text;
SELECT partition, bucket, lower_bound, upper_bound, accesses
  FROM presplit.key_heat('alice_items', 2) ORDER BY partition::text, bucket;
SELECT count(*) AS other_plans_seen FROM presplit._channel_stats() WHERE plan_id <> :plan;

-- Cleanup: Alice rolls her plan back; then every object of the two roles goes.
SELECT presplit.rollback(:plan);
SELECT state FROM presplit.plans WHERE id = :plan;
-- Unmanaged, the table loses its plans; her events follow her tables' names.
SELECT presplit.unmanage('alice_items');
SELECT count(*) AS events, count(plan_id) AS of_her_plan FROM presplit.events;
SET ROLE presplit_bob;
SELECT count(*) AS events FROM presplit.events;
RESET ROLE;
DROP FUNCTION alice_state(bigint);
DROP TABLE alice_before;
DROP OWNED BY presplit_alice, presplit_bob;
DROP ROLE presplit_alice, presplit_bob;
SELECT count(*) AS managed_left FROM presplit.managed_table WHERE parent::text LIKE 'alice%';

-- Routed reads keep the parent's row-level security: a reader sees the rows
-- its policy allows on the new channel as on the old one.
CREATE ROLE presplit_reader;
CREATE TABLE secured (id int PRIMARY KEY, reader name NOT NULL) PARTITION BY RANGE (id);
CREATE TABLE secured_0 PARTITION OF secured FOR VALUES FROM (0) TO (1000);
INSERT INTO secured
SELECT g, CASE WHEN g % 2 = 0 THEN 'presplit_reader' ELSE 'someone_else' END
  FROM generate_series(0, 999) g;
ALTER TABLE secured ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON secured FOR SELECT USING (reader = current_user);
GRANT SELECT ON secured TO presplit_reader;
SELECT presplit.manage('secured');
SELECT presplit.split_partition('secured_0', '{500}', ramp => false) AS secured_plan \gset
SELECT presplit.wait(:secured_plan, 'switching', '60 s');
SELECT presplit.set_weight(:secured_plan, 100);
SET ROLE presplit_reader;
SELECT count(*) AS visible, count(*) FILTER (WHERE reader <> current_user) AS others FROM secured;
SELECT count(*) AS visible_below_100 FROM secured WHERE id < 100;
RESET ROLE;
SELECT channel, statements FROM presplit.channels WHERE plan_id = :secured_plan ORDER BY channel;
SELECT presplit.rollback(:secured_plan);
DROP TABLE secured;
DROP ROLE presplit_reader;

-- The owner creates the shadows, in the partition's schema: an owner without
-- CREATE there is told which privilege is missing, before anything changes.
CREATE ROLE presplit_tenant;
CREATE SCHEMA locked_down;
GRANT USAGE ON SCHEMA locked_down TO presplit_tenant;
CREATE TABLE locked_down.bookings (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE locked_down.bookings_0 PARTITION OF locked_down.bookings FOR VALUES FROM (0) TO (100);
ALTER TABLE locked_down.bookings OWNER TO presplit_tenant;
ALTER TABLE locked_down.bookings_0 OWNER TO presplit_tenant;
SET ROLE presplit_tenant;
SELECT presplit.manage('locked_down.bookings');
SELECT presplit.prepare_split('locked_down.bookings_0', '{50}');
\set VERBOSITY sqlstate
SELECT presplit.prepare_split('locked_down.bookings_0', '{50}');
\set VERBOSITY default
SELECT count(*) AS plans FROM presplit.plans;
RESET ROLE;
GRANT CREATE ON SCHEMA locked_down TO presplit_tenant;
SET ROLE presplit_tenant;
SELECT presplit.prepare_split('locked_down.bookings_0', '{50}') AS tenant_plan \gset
SELECT presplit.cancel(:tenant_plan);
RESET ROLE;
DROP SCHEMA locked_down CASCADE;
DROP ROLE presplit_tenant;

-- A partition owned by another role than its parent cannot be split: ATTACH
-- and DETACH, run as the table's owner, need both.
CREATE ROLE presplit_lodger;
CREATE ROLE presplit_landlord;
CREATE TABLE lodgings (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE lodgings_0 PARTITION OF lodgings FOR VALUES FROM (0) TO (100);
ALTER TABLE lodgings OWNER TO presplit_landlord;
ALTER TABLE lodgings_0 OWNER TO presplit_lodger;
SELECT presplit.manage('lodgings');
SELECT presplit.prepare_split('lodgings_0', '{50}');
SELECT count(*) AS plans FROM presplit.plans WHERE parent = 'lodgings'::regclass;
DROP TABLE lodgings;
DROP ROLE presplit_lodger, presplit_landlord;
