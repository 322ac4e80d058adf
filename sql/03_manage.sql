-- presplit.manage / presplit.unmanage and the managed_tables view.
CREATE TABLE measurements (
    id        bigint NOT NULL,
    taken_at  timestamptz NOT NULL DEFAULT now(),
    value     double precision,
    PRIMARY KEY (id)
) PARTITION BY RANGE (id);
CREATE TABLE measurements_0 PARTITION OF measurements FOR VALUES FROM (MINVALUE) TO (1000);
CREATE TABLE measurements_1 PARTITION OF measurements FOR VALUES FROM (1000) TO (2000);
CREATE TABLE measurements_default PARTITION OF measurements DEFAULT;
INSERT INTO measurements (id, value) SELECT g, g / 10.0 FROM generate_series(1, 2500) g;

-- Shapes pg_presplit cannot manage; each leaves the catalog unchanged.
CREATE TABLE plain_table (id int PRIMARY KEY);
CREATE VIEW a_view AS SELECT 1 AS id;
CREATE SEQUENCE a_sequence;
CREATE TABLE by_list (id int PRIMARY KEY) PARTITION BY LIST (id);
CREATE TABLE by_hash (id int PRIMARY KEY) PARTITION BY HASH (id);
CREATE TABLE two_columns (a int, b int, PRIMARY KEY (a, b)) PARTITION BY RANGE (a, b);
CREATE TABLE by_expression (id int NOT NULL) PARTITION BY RANGE ((id + 0));
CREATE TABLE tree (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE tree_sub PARTITION OF tree FOR VALUES FROM (0) TO (100) PARTITION BY RANGE (id);
CREATE TABLE tree_sub_leaf PARTITION OF tree_sub FOR VALUES FROM (0) TO (50);

-- What the DBA sees (message, detail, hint)...
SELECT presplit.manage(NULL);
SELECT presplit.manage('a_view');
SELECT presplit.manage('plain_table');
SELECT presplit.manage('measurements_1');
SELECT presplit.manage('tree_sub');
SELECT presplit.manage('by_list');
SELECT presplit.manage('two_columns');
SELECT presplit.manage('by_expression');
-- ...and the SQLSTATE of every case.
\x on
SELECT * FROM error_of($$SELECT presplit.manage(NULL)$$);
SELECT * FROM error_of($$SELECT presplit.manage(4000000000::oid::regclass)$$);
SELECT * FROM error_of($$SELECT presplit.manage('a_view')$$);
SELECT * FROM error_of($$SELECT presplit.manage('a_sequence')$$);
SELECT * FROM error_of($$SELECT presplit.manage('measurements_pkey')$$);
SELECT * FROM error_of($$SELECT presplit.manage('plain_table')$$);
SELECT * FROM error_of($$SELECT presplit.manage('measurements_1')$$);
SELECT * FROM error_of($$SELECT presplit.manage('tree_sub')$$);
SELECT * FROM error_of($$SELECT presplit.manage('tree_sub_leaf')$$);
SELECT * FROM error_of($$SELECT presplit.manage('by_list')$$);
SELECT * FROM error_of($$SELECT presplit.manage('by_hash')$$);
SELECT * FROM error_of($$SELECT presplit.manage('two_columns')$$);
SELECT * FROM error_of($$SELECT presplit.manage('by_expression')$$);
\x off

-- Rows must be identifiable: a primary key, or a unique index that is not
-- partial, not deferrable, without expressions, on NOT NULL columns.
CREATE TABLE no_key (id int NOT NULL, v text) PARTITION BY RANGE (id);
SELECT presplit.manage('no_key');
CREATE UNIQUE INDEX no_key_nullable ON no_key (id, v);
CREATE TABLE deferred_key (id int, PRIMARY KEY (id) DEFERRABLE) PARTITION BY RANGE (id);
\x on
SELECT * FROM error_of($$SELECT presplit.manage('no_key')$$);
SELECT * FROM error_of($$SELECT presplit.manage('deferred_key')$$);
\x off
SELECT count(*) AS managed_after_errors FROM presplit.managed_table;
SELECT count(*) AS events_after_errors FROM presplit.event;

-- A unique index on NOT NULL columns is enough when there is no primary key.
CREATE TABLE unique_key (id int NOT NULL, sub int NOT NULL, v text) PARTITION BY RANGE (id);
CREATE UNIQUE INDEX unique_key_wide ON unique_key (id, sub, v);
CREATE UNIQUE INDEX unique_key_narrow ON unique_key (id, sub);
SELECT presplit.manage('unique_key');

-- Success.
SELECT presplit.manage('measurements');
SELECT parent, key_column, key_type, identity_columns, managed_by
  FROM presplit.managed_table ORDER BY parent::text;

-- Twice is an error.
SELECT presplit.manage('measurements');
SELECT * FROM error_of($$SELECT presplit.manage('measurements')$$);

-- The view: per partition its bounds, estimated rows and size.
SELECT parent, partition_key, key_type, partition, bound, estimated_rows, total_bytes > 0 AS has_size
  FROM presplit.managed_tables ORDER BY parent::text, partition::text;
ANALYZE measurements;
SELECT partition, bound, estimated_rows
  FROM presplit.managed_tables WHERE parent = 'measurements'::regclass ORDER BY partition::text;

-- Only the owner (or a superuser) manages a table.
CREATE ROLE presplit_alice;
CREATE ROLE presplit_bob;
GRANT CREATE ON SCHEMA public TO presplit_alice;
SET ROLE presplit_alice;
CREATE TABLE alice_table (id int PRIMARY KEY) PARTITION BY RANGE (id);
SELECT presplit.manage('alice_table');
-- Users read the views, not the tables.
SELECT parent, partition_key FROM presplit.managed_tables WHERE parent = 'alice_table'::regclass;
SELECT * FROM presplit.managed_table;
SET ROLE presplit_bob;
SELECT presplit.unmanage('alice_table');
SELECT * FROM error_of($$SELECT presplit.unmanage('alice_table')$$);
SELECT presplit.manage('by_list');
SELECT presplit.manage('no_key');
RESET ROLE;
SELECT presplit.unmanage('alice_table');

-- unmanage: not managed, NULL, and refused while a plan is active.
SELECT presplit.unmanage('plain_table');
\x on
SELECT * FROM error_of($$SELECT presplit.unmanage('plain_table')$$);
SELECT * FROM error_of($$SELECT presplit.unmanage(NULL)$$);
\x off
INSERT INTO presplit.plan (parent, source, split_points, origin, owner)
    VALUES ('measurements', 'measurements_1', '{1500}', 'manual', current_user::regrole);
SELECT presplit.unmanage('measurements');
\x on
SELECT * FROM error_of($$SELECT presplit.unmanage('measurements')$$);
\x off
UPDATE presplit.plan SET state = 'cancelled';
SELECT presplit.unmanage('measurements');
SELECT parent FROM presplit.managed_table ORDER BY parent::text;
-- Its plans went with it; the log stays.
SELECT count(*) AS plans FROM presplit.plan;
SELECT relation, kind, from_state, to_state FROM presplit.event ORDER BY id;

-- A dropped table stops being managed.
SELECT presplit.manage('measurements');
DROP TABLE measurements;
SELECT parent FROM presplit.managed_table ORDER BY parent::text;
SELECT relation, kind, detail FROM presplit.event ORDER BY id DESC LIMIT 1;

DROP TABLE plain_table, by_list, by_hash, two_columns, by_expression, tree, no_key,
           deferred_key, unique_key, alice_table;
DROP VIEW a_view;
DROP SEQUENCE a_sequence;
REVOKE CREATE ON SCHEMA public FROM presplit_alice;
DROP ROLE presplit_alice;
DROP ROLE presplit_bob;
