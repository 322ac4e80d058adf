-- presplit.move_partition, rollback_move, finalize_move: the checks that need
-- no second server (test/t/030_remote_move.pl moves partitions between two).
CREATE TABLE trips (id bigint NOT NULL, km int) PARTITION BY RANGE (id);
CREATE TABLE trips_0 PARTITION OF trips (PRIMARY KEY (id)) FOR VALUES FROM (0) TO (100);
CREATE TABLE trips_1 PARTITION OF trips FOR VALUES FROM (100) TO (200) PARTITION BY RANGE (id);
CREATE TABLE trips_1a PARTITION OF trips_1 FOR VALUES FROM (100) TO (200);
CREATE TABLE trips_default PARTITION OF trips DEFAULT;

\set VERBOSITY default
SELECT presplit.move_partition(NULL, 'node2');
SELECT presplit.move_partition('trips_0', NULL);
SELECT presplit.move_partition('trips', 'node2');
SELECT presplit.move_partition('trips_1', 'node2');
SELECT presplit.move_partition('trips_default', 'node2');
BEGIN;
SELECT presplit.move_partition('trips_0', 'node2');
ROLLBACK;
-- This server has wal_level = replica: checked before the server.
SELECT presplit.move_partition('trips_0', 'node2');
SELECT presplit.rollback_move(NULL);
SELECT presplit.rollback_move(42);
SELECT presplit.finalize_move(42);
SELECT presplit.finalize_move(42, NULL);
-- presplit.remote_cutover_warmup: 0 to 60 s, set in the configuration.
SHOW presplit.remote_cutover_warmup;
ALTER SYSTEM SET presplit.remote_cutover_warmup = -1;
ALTER SYSTEM SET presplit.remote_cutover_warmup = '2min';
ALTER SYSTEM SET presplit.remote_cutover_warmup = 'soon';
SET presplit.remote_cutover_warmup = 0;
-- presplit.remote_copy_chunk_rows: 0 (one pass) or more, set in the configuration.
SHOW presplit.remote_copy_chunk_rows;
ALTER SYSTEM SET presplit.remote_copy_chunk_rows = -1;
ALTER SYSTEM SET presplit.remote_copy_chunk_rows = 'many';
SET presplit.remote_copy_chunk_rows = 0;
-- Nothing was recorded or created.
SELECT count(*) FROM presplit.remote_moves;
SELECT count(*) FROM pg_publication;

DROP TABLE trips;
