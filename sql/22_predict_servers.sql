-- presplit.predict_servers and presplit.set_predict_servers: where a
-- predicted split puts its upper piece. The setting and the per-table list
-- are checked where they are set (clear errors, nothing changed); a server
-- that cannot take the piece when a plan is made leaves advice only, with
-- the reason. (A predicted split synced onto a second server, and the
-- fallback, over simulated days: test/t/033_remote_prediction.pl.)
CREATE FUNCTION presplit_test_create_predicted_plan(regclass, text, boolean) RETURNS bigint
    AS 'pg_presplit' LANGUAGE C STRICT;
CREATE EXTENSION postgres_fdw;
CREATE SERVER node2 FOREIGN DATA WRAPPER postgres_fdw
    OPTIONS (host 'node2.invalid', dbname 'postgres');
CREATE USER MAPPING FOR CURRENT_USER SERVER node2;
CREATE SERVER unmapped FOREIGN DATA WRAPPER postgres_fdw OPTIONS (dbname 'postgres');
CREATE FOREIGN DATA WRAPPER not_postgres;
CREATE SERVER not_pg FOREIGN DATA WRAPPER not_postgres;

-- The setting: a list of names (checked where it is set, 22023).
SHOW presplit.predict_servers;
ALTER SYSTEM SET presplit.predict_servers = 'node2,,node3';
ALTER SYSTEM SET presplit.predict_servers = 'node2 node3';
ALTER SYSTEM SET presplit.predict_servers = '"node2';
\set VERBOSITY sqlstate
ALTER SYSTEM SET presplit.predict_servers = 'node2,';
\set VERBOSITY default
-- Names, as in search_path (whether they exist is for each database: the
-- worker checks when it plans).
ALTER SYSTEM SET presplit.predict_servers = 'node2, "Node 3"';
ALTER SYSTEM RESET presplit.predict_servers;
-- Only in the configuration (the worker reads it).
SET presplit.predict_servers = 'node2';

CREATE TABLE legs (id bigint NOT NULL, km int) PARTITION BY RANGE (id);
CREATE TABLE legs_0 PARTITION OF legs (PRIMARY KEY (id)) FOR VALUES FROM (0) TO (100);
CREATE TABLE legs_1 PARTITION OF legs (PRIMARY KEY (id)) FOR VALUES FROM (100) TO (200);
INSERT INTO legs SELECT g, g FROM generate_series(0, 199) g;
CREATE TABLE not_managed (id int PRIMARY KEY) PARTITION BY RANGE (id);
SELECT presplit.manage('legs');

-- The per-table list: each server one the owner could split onto now.
SELECT presplit.set_predict_servers('legs', ARRAY['nowhere']);
SELECT presplit.set_predict_servers('legs', ARRAY['not_pg']);
SELECT presplit.set_predict_servers('legs', ARRAY['unmapped']);
SELECT presplit.set_predict_servers('legs', ARRAY['node2', NULL]);
SELECT presplit.set_predict_servers('legs', '{{node2},{node2}}');
SELECT presplit.set_predict_servers('not_managed', ARRAY['node2']);
SELECT presplit.set_predict_servers('legs_0', ARRAY['node2']);
\set VERBOSITY sqlstate
SELECT presplit.set_predict_servers('legs', ARRAY['nowhere']);
SELECT presplit.set_predict_servers('legs', ARRAY['not_pg']);
SELECT presplit.set_predict_servers('legs', ARRAY['unmapped']);
SELECT presplit.set_predict_servers('legs', ARRAY['node2', NULL]);
SELECT presplit.set_predict_servers(NULL, ARRAY['node2']);
\set VERBOSITY default
-- Nothing was changed.
SELECT predict_servers FROM presplit.managed_table WHERE parent = 'legs'::regclass;
-- Another role may not set them.
CREATE ROLE predict_servers_stranger;
SET ROLE predict_servers_stranger;
SELECT presplit.set_predict_servers('legs', ARRAY['node2']);
RESET ROLE;

-- Set, kept here ('{}'), and back to the setting (NULL).
SELECT presplit.set_predict_servers('legs', ARRAY['node2']);
SELECT predict_servers FROM presplit.managed_table WHERE parent = 'legs'::regclass;

-- A predicted plan whose upper piece cannot go to node2 (this server has
-- wal_level = replica): no plan, advice only, with the reason.
SELECT presplit_test_create_predicted_plan('legs_1', '150', true);
SELECT count(*) FROM presplit.plans WHERE parent = 'legs'::regclass;
SELECT count(*) FROM pg_publication;

SELECT presplit.set_predict_servers('legs', '{}');
SELECT predict_servers FROM presplit.managed_table WHERE parent = 'legs'::regclass;
-- Kept here: an ordinary local predicted plan, whatever the setting.
SELECT presplit_test_create_predicted_plan('legs_1', '150', true) IS NOT NULL AS created;
SELECT p.origin, p.copy_held, (SELECT array_agg(s.server ORDER BY s.ordinal)
                                 FROM presplit.shadow s WHERE s.plan_id = p.id) AS servers
  FROM presplit.plans p WHERE p.parent = 'legs'::regclass;
SELECT presplit.cancel(id) FROM presplit.plans WHERE parent = 'legs'::regclass;
SELECT presplit.set_predict_servers('legs');
SELECT predict_servers FROM presplit.managed_table WHERE parent = 'legs'::regclass;

SELECT presplit.unmanage('legs');
DROP TABLE legs, not_managed;
DROP ROLE predict_servers_stranger;
DROP FUNCTION presplit_test_create_predicted_plan(regclass, text, boolean);
DROP SERVER node2 CASCADE;
DROP SERVER unmapped, not_pg;
DROP FOREIGN DATA WRAPPER not_postgres;
DROP EXTENSION postgres_fdw;
