-- The metadata store's own constraints. Normally only pg_presplit writes
-- these tables; here a superuser writes them directly to prove that invalid
-- states cannot be recorded. (Terse: failing rows hold timestamps.)
\set VERBOSITY terse
CREATE TABLE events (id bigint PRIMARY KEY, at date NOT NULL) PARTITION BY RANGE (id);
CREATE TABLE events_a PARTITION OF events FOR VALUES FROM (0) TO (1000);
CREATE TABLE events_b PARTITION OF events FOR VALUES FROM (1000) TO (2000);
SELECT presplit.manage('events');

-- A plan's split points hold no NULL (it may have none: a whole partition
-- onto another server), a known origin and a managed parent.
INSERT INTO presplit.plan (parent, source, split_points, origin, owner)
    VALUES ('events', 'events_a', '{NULL}', 'manual', current_user::regrole);
INSERT INTO presplit.plan (parent, source, split_points, origin, owner)
    VALUES ('events', 'events_a', '{500}', 'guessed', current_user::regrole);
INSERT INTO presplit.plan (parent, source, split_points, origin, owner)
    VALUES ('events_a', 'events_a', '{500}', 'manual', current_user::regrole);

-- An INSERT is not a state change: pg_presplit inserts plans in state
-- planned (and logs plan_created itself); a restore inserts them with their
-- ids, in the state they had, and their events with them. The row's own
-- constraints hold: a failed plan has a reason, a finished one its end, an
-- active one its source (a finished one forgets it once the partition is
-- dropped).
INSERT INTO presplit.plan (parent, source, split_points, origin, owner, state)
    VALUES ('events', 'events_a', '{500}', 'manual', current_user::regrole, 'synced')
    RETURNING id AS restored \gset
INSERT INTO presplit.plan (id, parent, source, split_points, origin, owner, state, finished_at)
    OVERRIDING SYSTEM VALUE
    VALUES (1002, 'events', 'events_b', '{1500}', 'manual', current_user::regrole, 'failed', now());
INSERT INTO presplit.plan (id, parent, source, split_points, origin, owner, state)
    OVERRIDING SYSTEM VALUE
    VALUES (1003, 'events', 'events_b', '{1500}', 'manual', current_user::regrole, 'finalized');
INSERT INTO presplit.plan (id, parent, source, split_points, origin, owner, state)
    OVERRIDING SYSTEM VALUE
    VALUES (1004, 'events', NULL, '{1500}', 'manual', current_user::regrole, 'backfilling');
INSERT INTO presplit.plan (id, parent, source, split_points, origin, owner, state, finished_at)
    OVERRIDING SYSTEM VALUE
    VALUES (1005, 'events', NULL, '{1500}', 'manual', current_user::regrole, 'finalized', now());
SELECT count(*) AS events_logged FROM presplit.event WHERE plan_id = :restored OR plan_id > 1000;
DELETE FROM presplit.plan WHERE id = :restored OR id > 1000;

-- The state machine: one step at a time along the main path.
INSERT INTO presplit.plan (parent, source, split_points, origin, owner)
    VALUES ('events', 'events_a', '{500}', 'manual', current_user::regrole)
    RETURNING id AS plan_a \gset
UPDATE presplit.plan SET state = 'backfilling' WHERE id = :plan_a;
UPDATE presplit.plan SET state = 'no_such_state' WHERE id = :plan_a;
UPDATE presplit.plan SET state = 'preparing' WHERE id = :plan_a;
UPDATE presplit.plan SET state = 'backfilling' WHERE id = :plan_a;
UPDATE presplit.plan SET state = 'synced' WHERE id = :plan_a;
-- failed needs a reason.
UPDATE presplit.plan SET state = 'failed' WHERE id = :plan_a;
SELECT state, finished_at IS NULL AS open FROM presplit.plan WHERE id = :plan_a;

-- At most one active plan per source partition.
INSERT INTO presplit.plan (parent, source, split_points, origin, owner)
    VALUES ('events', 'events_a', '{250}', 'predicted', current_user::regrole);
INSERT INTO presplit.plan (parent, source, split_points, origin, owner)
    VALUES ('events', 'events_b', '{1500}', 'predicted', current_user::regrole)
    RETURNING id AS plan_b \gset

-- Channel weights: each in 0..100, and a plan's weights sum to 100 at commit.
INSERT INTO presplit.channel (plan_id, channel, weight) VALUES (:plan_a, 'old', 101);
INSERT INTO presplit.channel (plan_id, channel, weight) VALUES (:plan_a, 'sideways', 0);
INSERT INTO presplit.channel (plan_id, channel, weight) VALUES (:plan_a, 'old', 90);
BEGIN;
INSERT INTO presplit.channel (plan_id, channel, weight) VALUES (:plan_a, 'old', 90), (:plan_a, 'new', 10);
UPDATE presplit.channel SET weight = 40 WHERE plan_id = :plan_a AND channel = 'old';
UPDATE presplit.channel SET weight = 60 WHERE plan_id = :plan_a AND channel = 'new';
COMMIT;
UPDATE presplit.channel SET weight = 50 WHERE plan_id = :plan_a AND channel = 'new';
SELECT channel, weight FROM presplit.channel WHERE plan_id = :plan_a ORDER BY channel;

-- On to the end of the main path; terminal states are final.
UPDATE presplit.plan SET state = 'switching' WHERE id = :plan_a;
UPDATE presplit.plan SET state = 'cut_over' WHERE id = :plan_a;
UPDATE presplit.plan SET state = 'finalized' WHERE id = :plan_a;
UPDATE presplit.plan SET state = 'rolled_back' WHERE id = :plan_a;
UPDATE presplit.plan SET state = 'failed', reason = 'source vanished' WHERE id = :plan_b;
SELECT id = :plan_a AS is_plan_a, state, reason, finished_at IS NOT NULL AS finished
  FROM presplit.plan ORDER BY id;

-- Every transition is in the log, which is append-only.
SELECT plan_id = :plan_a AS is_plan_a, kind, from_state, to_state, detail
  FROM presplit.event WHERE plan_id IS NOT NULL ORDER BY id;
UPDATE presplit.event SET detail = 'rewritten';
DELETE FROM presplit.event;

-- Shadows and progress belong to a plan.
INSERT INTO presplit.shadow (plan_id, ordinal, bound) VALUES (-1, 0, 'FOR VALUES FROM (0) TO (500)');
INSERT INTO presplit.shadow (plan_id, ordinal, bound)
    VALUES (:plan_b, 0, 'FOR VALUES FROM (1000) TO (1500)');
INSERT INTO presplit.shadow_progress (plan_id, ordinal, rows_copied) VALUES (:plan_b, 0, -1);
INSERT INTO presplit.shadow_progress (plan_id, ordinal, phase) VALUES (:plan_b, 0, 'copying');

-- A restore loads each table on its own, in any order (pg_restore -j), even
-- row by row (pg_dump --inserts); pg_dump's output and pg_restore turn
-- check_function_bodies off. The rows inserted then are as they were dumped:
-- neither their references nor their channel weights are checked. Updates
-- are.
SET check_function_bodies = off;
INSERT INTO presplit.shadow (plan_id, ordinal, bound) VALUES (-1, 0, 'FOR VALUES FROM (0) TO (500)');
INSERT INTO presplit.shadow_progress (plan_id, ordinal) VALUES (-1, 0), (-5, 0);
INSERT INTO presplit.channel (plan_id, channel, weight) VALUES (-1, 'old', 90);
UPDATE presplit.channel SET weight = 80 WHERE plan_id = -1;
UPDATE presplit.shadow SET plan_id = -2 WHERE plan_id = -1;
RESET check_function_bodies;
-- Deleting a shadow deletes its progress, as a foreign key's ON DELETE
-- CASCADE would.
DELETE FROM presplit.shadow WHERE plan_id = -1;
DELETE FROM presplit.shadow_progress WHERE plan_id = -5;
DELETE FROM presplit.channel WHERE plan_id = -1;
SELECT (SELECT count(*) FROM presplit.shadow WHERE plan_id < 0) AS shadows,
       (SELECT count(*) FROM presplit.shadow_progress WHERE plan_id < 0) AS progress,
       (SELECT count(*) FROM presplit.channel WHERE plan_id < 0) AS channels;

-- The transition function rejects unknown state names rather than
-- answering false.
SELECT presplit._is_valid_plan_transition('planned', 'preparing') AS forward,
       presplit._is_valid_plan_transition('synced', 'cut_over') AS manual_cutover,
       presplit._is_valid_plan_transition('finalized', 'rolled_back') AS after_the_end;
SELECT presplit._is_valid_plan_transition('planned', 'done');

-- C++ and SQL know the same states, and the same ones as ended: the states
-- of src/core/plan_state.cpp (through a test-only function) are the ones the
-- state CHECK of presplit.plan admits, and presplit._is_terminal_plan_state
-- (the SQL list of ended states, behind the other CHECKs, the index and the
-- triggers) says of each what core::is_terminal says, and names no other.
CREATE FUNCTION test_plan_states(OUT state text, OUT terminal boolean) RETURNS SETOF record
    AS 'pg_presplit', 'presplit_test_plan_states' LANGUAGE C;
SELECT count(*) AS states, count(*) FILTER (WHERE terminal) AS ended,
       count(*) FILTER (WHERE terminal IS DISTINCT FROM presplit._is_terminal_plan_state(state))
           AS disagreements
  FROM test_plan_states();
SELECT (SELECT array_agg(m[1] ORDER BY m[1])
          FROM regexp_matches(pg_get_constraintdef(c.oid), '''(\w+)''', 'g') m)
       = (SELECT array_agg(state ORDER BY state) FROM test_plan_states()) AS same_states,
       (SELECT array_agg(m[1] ORDER BY m[1])
          FROM regexp_matches(pg_get_functiondef('presplit._is_terminal_plan_state'::regproc),
                              '''(\w+)''', 'g') m)
       = (SELECT array_agg(state ORDER BY state) FROM test_plan_states() WHERE terminal)
           AS same_ended_states
  FROM pg_constraint c
 WHERE c.conrelid = 'presplit.plan'::regclass AND c.conname = 'plan_state_check';
DROP FUNCTION test_plan_states();

-- A state the catalog should never hold (its CHECK dropped, here in a
-- transaction that is rolled back) is an internal error naming it.
BEGIN;
ALTER TABLE presplit.plan DROP CONSTRAINT plan_state_check;
INSERT INTO presplit.plan (id, parent, source, split_points, origin, owner, state)
    OVERRIDING SYSTEM VALUE
    VALUES (1006, 'events', 'events_a', '{500}', 'manual', current_user::regrole, 'bogus');
SELECT presplit.cancel(1006);
ROLLBACK;

SELECT presplit.unmanage('events');
SELECT count(*) AS plans, (SELECT count(*) FROM presplit.shadow) AS shadows,
       (SELECT count(*) FROM presplit.shadow_progress) AS progress,
       (SELECT count(*) FROM presplit.channel) AS channels
  FROM presplit.plan;
DROP TABLE events;
