-- split_partition(..., servers => ...): the checks that need no second
-- server, each refused before anything is written (test/t/031_remote_split.pl
-- splits onto a second server).
CREATE EXTENSION postgres_fdw;
CREATE SERVER node2 FOREIGN DATA WRAPPER postgres_fdw
    OPTIONS (host 'node2.invalid', dbname 'postgres');
CREATE USER MAPPING FOR CURRENT_USER SERVER node2;
CREATE SERVER unmapped FOREIGN DATA WRAPPER postgres_fdw OPTIONS (dbname 'postgres');
CREATE FOREIGN DATA WRAPPER not_postgres;
CREATE SERVER not_pg FOREIGN DATA WRAPPER not_postgres;

-- A table with foreign partitions can have no unique index of its own: the
-- primary key is on each partition, and manage() takes it from there.
CREATE TABLE legs (id bigint NOT NULL, km int) PARTITION BY RANGE (id);
CREATE TABLE legs_0 PARTITION OF legs (PRIMARY KEY (id)) FOR VALUES FROM (0) TO (100);
CREATE TABLE legs_1 PARTITION OF legs (PRIMARY KEY (id)) FOR VALUES FROM (100) TO (200);
SELECT presplit.manage('legs');
SELECT DISTINCT identity_columns FROM presplit.managed_tables WHERE parent = 'legs'::regclass;

-- (Not through error_of: split_partition with servers refuses to run in a
-- transaction block, as a subtransaction is; the SQLSTATE is echoed.)
\set VERBOSITY default
-- One server (or NULL) per target: one split point makes two.
SELECT presplit.split_partition('legs_0', '{50}', servers => ARRAY['node2']);
\echo :LAST_ERROR_SQLSTATE
SELECT presplit.split_partition('legs_0', '{50}', servers => '{{node2,node2}}');
\echo :LAST_ERROR_SQLSTATE
SELECT presplit.split_partition('legs_0', '{50}', servers => ARRAY[NULL, 'nowhere']);
\echo :LAST_ERROR_SQLSTATE
SELECT presplit.split_partition('legs_0', '{50}', servers => ARRAY[NULL, 'not_pg']);
\echo :LAST_ERROR_SQLSTATE
SELECT presplit.split_partition('legs_0', '{50}', servers => ARRAY[NULL, 'unmapped']);
\echo :LAST_ERROR_SQLSTATE
SELECT presplit.split_partition('legs_0', '{50}', servers => ARRAY['node2', 'node2']);
\echo :LAST_ERROR_SQLSTATE
-- This server has wal_level = replica: checked before the other server.
SELECT presplit.split_partition('legs_0', '{50}', servers => ARRAY[NULL, 'node2']);
\echo :LAST_ERROR_SQLSTATE
BEGIN;
SELECT presplit.split_partition('legs_0', '{50}', servers => ARRAY[NULL, 'node2']);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;

-- Nothing was recorded or created.
SELECT count(*) FROM presplit.plans WHERE parent = 'legs'::regclass;
SELECT count(*) FROM pg_publication;
SELECT count(*) FROM pg_class WHERE relname ~ '^legs_[01]_[0-9]+_[0-9]+$';

SELECT presplit.unmanage('legs');
DROP TABLE legs;
DROP SERVER node2 CASCADE;
DROP SERVER unmapped, not_pg;
DROP FOREIGN DATA WRAPPER not_postgres;
DROP EXTENSION postgres_fdw;
