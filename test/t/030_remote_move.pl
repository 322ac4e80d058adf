# move_partition: a partition moved to another server (postgres_fdw, logical
# replication) while pgbench moves money between accounts; the invariant
# (row count, total balance) checked on the source and on the other server;
# bad inputs refused with nothing changed on either side; a rollback before
# the cutover; the verification: a row changed there behind replication's
# back fails the move, and writers here are not held while it scans; no
# replication slot left behind.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PresplitTest;
use Test::More tests => 32;

my ($node1, $node2) = presplit_server_pair("presplit.naptime = 100\n");

my $rows = 20000;
my $total = create_accounts($node1, $rows, 2, manage => 0);
my ($host2, $port2) = ($node2->host, $node2->port);
$node1->safe_psql('postgres', qq{
CREATE SERVER unmapped FOREIGN DATA WRAPPER postgres_fdw OPTIONS (dbname 'postgres');
CREATE SERVER down FOREIGN DATA WRAPPER postgres_fdw
    OPTIONS (host '$host2', port '1', dbname 'postgres');
CREATE USER MAPPING FOR CURRENT_USER SERVER down;
CREATE FOREIGN DATA WRAPPER dummy;
CREATE SERVER not_pg FOREIGN DATA WRAPPER dummy;
CREATE TABLE keyed (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE keyed_0 PARTITION OF keyed FOR VALUES FROM (0) TO (10);
});

# 1. Bad input: a clear error and SQLSTATE, nothing changed on either side.
refused($node1, q{SELECT presplit.move_partition('accounts_0', 'nowhere')}, '42704',
	'server "nowhere" does not exist', 'unknown server');
refused($node1, q{SELECT presplit.move_partition('accounts_0', 'not_pg')}, '42809',
	'does not use postgres_fdw', 'server of another wrapper');
refused($node1, q{SELECT presplit.move_partition('accounts_0', 'unmapped')}, '42704',
	'no user mapping', 'no user mapping for the owner');
refused($node1, q{SELECT presplit.move_partition('accounts_0', 'down')}, '08001',
	'could not connect to server "down"', 'remote unreachable');
refused($node1, q{SELECT presplit.move_partition('keyed_0', 'node2')}, '0A000',
	'unique index on the partitioned table', 'unique index on the parent');
refused($node1, q{SELECT presplit.move_partition('accounts', 'node2')}, '42809',
	'is not a partition', 'not a partition');
$node2->safe_psql('postgres', 'CREATE TABLE public.accounts_1 (id int)');
refused($node1, q{SELECT presplit.move_partition('accounts_1', 'node2')}, '42P07',
	'already exists on server "node2"', 'remote table exists');
$node2->safe_psql('postgres', 'DROP TABLE public.accounts_1');
is($node1->safe_psql('postgres', 'SELECT count(*) FROM presplit.remote_move'), '0',
	'refused moves recorded nothing');
is($node2->safe_psql('postgres', q{SELECT count(*) FROM pg_class WHERE relname LIKE 'accounts%'}),
	'0', 'refused moves created nothing on the other server');
no_replication_left('after the refused moves', $node1, $node2);

# wal_level: a server without logical decoding refuses.
my $plain = presplit_node('plain', "wal_level = replica\n");
$plain->start;
$plain->safe_psql('postgres', q{
CREATE EXTENSION pg_presplit; CREATE EXTENSION postgres_fdw;
CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw OPTIONS (dbname 'postgres');
CREATE USER MAPPING FOR CURRENT_USER SERVER s;
CREATE TABLE t (id int NOT NULL) PARTITION BY RANGE (id);
CREATE TABLE t_0 PARTITION OF t (PRIMARY KEY (id)) FOR VALUES FROM (0) TO (10);
});
refused($plain, q{SELECT presplit.move_partition('t_0', 's')}, '55000', 'wal_level must be logical',
	'wal_level not logical');
$plain->stop;

# 2. A rollback while the subscription copies (presplit.backfill_paused holds
# the move before its verification): nothing left on either side.
$node1->safe_psql('postgres', 'ALTER SYSTEM SET presplit.backfill_paused = on');
$node1->reload;
my $move = $node1->safe_psql('postgres', q{SELECT presplit.move_partition('accounts_1', 'node2')});
$node1->poll_query_until('postgres',
	"SELECT state = 'backfilling' FROM presplit.remote_move WHERE id = $move")
  or die 'the subscription was not created';
$node2->poll_query_until('postgres', 'SELECT count(*) = 10000 FROM public.accounts_1')
  or die 'the initial copy did not end';
# The other server down: the move waits and retries, with an event; it does
# not fail.
$node2->stop;
$node1->safe_psql('postgres', 'ALTER SYSTEM SET presplit.backfill_paused = off');
$node1->reload;
$node1->poll_query_until('postgres', qq{
SELECT count(*) > 0 FROM presplit.events
 WHERE kind = 'remote_move_retry' AND detail LIKE 'move $move: could not connect to server "node2"%'})
  or die 'no retry event';
$node1->safe_psql('postgres', 'ALTER SYSTEM SET presplit.backfill_paused = on');
$node1->reload;
is($node1->safe_psql('postgres', "SELECT state FROM presplit.remote_move WHERE id = $move"),
	'backfilling', 'the other server down: the move waits (retry events), it does not fail');
$node2->start;
$node1->safe_psql('postgres', "SELECT presplit.rollback_move($move)");
is($node1->safe_psql('postgres', "SELECT state FROM presplit.remote_move WHERE id = $move"),
	'rolled_back', 'rollback_move before the cutover');
is($node2->safe_psql('postgres', q{SELECT count(*) FROM pg_class WHERE relname LIKE 'accounts%'}),
	'0', 'the rollback dropped the remote table');
no_replication_left('after the rollback', $node1, $node2);
$node1->safe_psql('postgres', 'ALTER SYSTEM RESET presplit.backfill_paused');
$node1->reload;

# 3. The move of the hot partition under pgbench transfers.
my $script = write_transfer_script(PostgreSQL::Test::Utils::tempdir,
	{ debit => [ 0, 9999 ], credit => [ 0, 19999 ] });
my ($out, $err) = ('', '');
my $load = start_pgbench($node1, $script, 3, 40, \$out, \$err);
# Held before its verification until the initial copy is over, so that the
# verification and the cutover come while pgbench writes.
$node1->safe_psql('postgres', 'ALTER SYSTEM SET presplit.backfill_paused = on');
$node1->reload;
$move = $node1->safe_psql('postgres', q{SELECT presplit.move_partition('accounts_0', 'node2')});
$node2->poll_query_until('postgres', q{
SELECT srsubstate = 'r' FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid})
  or die 'the initial copy did not end';
$node1->safe_psql('postgres', 'ALTER SYSTEM RESET presplit.backfill_paused');
$node1->reload;
$node1->poll_query_until('postgres',
	"SELECT state = 'cut_over' AND NOT replicating FROM presplit.remote_move WHERE id = $move")
  or die 'the move did not cut over: '
  . $node1->safe_psql('postgres', 'SELECT kind, detail FROM presplit.events ORDER BY id');
ok($load->pumpable, 'the move cut over while pgbench was writing');
pgbench_ok($load, \$out, \$err, 'through the move');
is($node1->safe_psql('postgres', q{
SELECT c.relkind::text || ' ' || pg_get_expr(c.relpartbound, c.oid)
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'accounts'::regclass AND c.relname LIKE 'accounts_0_move_%'}),
	"f FOR VALUES FROM ('0') TO ('10000')", 'a foreign table took the partition\'s place');
accounts_invariant_ok($node1, $rows, $total, 'invariant through the foreign partition');
# The invariant across the two servers, each read directly: the moved rows on
# the other server, the rest here.
my ($n2, $s2) = split / /, $node2->safe_psql('postgres',
	'SELECT count(*) || \' \' || sum(balance) FROM public.accounts_0');
my ($n1, $s1) = split / /, $node1->safe_psql('postgres',
	'SELECT count(*) || \' \' || sum(balance) FROM accounts_1');
is(($n1 + $n2) . ' ' . ($s1 + $s2), "$rows $total",
	"invariant over both servers ($n2 rows on the other one)");
like($node1->safe_psql('postgres', qq{
SELECT string_agg(kind, ' ' ORDER BY id) FROM presplit.events
 WHERE kind LIKE 'remote%' AND kind <> 'remote_move_retry' AND detail LIKE 'move $move:%'}),
	qr/^remote_move remote_move remote_move_verified remote_move remote_move remote_cutover remote_reverse_unavailable$/,
	'events: preparing, backfilling, verified, synced, cut over, no reverse direction');
diag($node1->safe_psql('postgres', qq{
SELECT string_agg(kind || ': ' || detail, E'\n' ORDER BY id) FROM presplit.events
 WHERE kind LIKE 'remote%' AND detail LIKE 'move $move:%'}));
# The other server's wal_level is replica: no reverse direction, so no
# rollback after the cutover (test/t/032_remote_faults.pl has one).
refused($node1, "SELECT presplit.rollback_move($move)", '55000', "move $move has no reverse direction",
	'rollback after the cutover refused without a reverse direction');
$node1->safe_psql('postgres', "SELECT presplit.finalize_move($move)");
is($node1->safe_psql('postgres', q{
SELECT state || ' ' || (to_regclass('accounts_0') IS NULL) FROM presplit.remote_move WHERE id = } . $move),
	'finalized true', 'finalize_move dropped the old partition');
no_replication_left('after the move', $node1, $node2);

# 4. The verification catches a difference: a row changed on the other server
# behind replication's back fails the move, with the counts and checksums.
$node1->safe_psql('postgres', 'ALTER SYSTEM SET presplit.backfill_paused = on');
$node1->reload;
$move = $node1->safe_psql('postgres', q{SELECT presplit.move_partition('accounts_1', 'node2')});
$node2->poll_query_until('postgres', q{
SELECT srsubstate = 'r' FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid})
  or die 'the initial copy did not end';
$node2->safe_psql('postgres', 'UPDATE public.accounts_1 SET balance = balance + 1 WHERE id = 10000');
$node1->safe_psql('postgres', 'ALTER SYSTEM RESET presplit.backfill_paused');
$node1->reload;
$node1->poll_query_until('postgres', "SELECT state = 'failed' FROM presplit.remote_move WHERE id = $move")
  or die 'the move did not fail';
like($node1->safe_psql('postgres', "SELECT reason FROM presplit.remote_move WHERE id = $move"),
	qr/^verification failed: here 10000 rows \(checksum (-?\d+)\), on server "node2" 10000 rows \(checksum (?!\1\))-?\d+\)$/,
	'a row changed there behind replication\'s back: the verification fails the move, saying why');
is($node2->safe_psql('postgres', q{SELECT count(*) FROM pg_class WHERE relname LIKE 'accounts_1%'}),
	'0', 'the failed move dropped the remote table');
no_replication_left('after the failed verification', $node1, $node2);

# 5. The verification scans without the lock: it locks the partition (SHARE)
# only for the cut -- a snapshot here, the other server caught up, a snapshot
# there. Its scan there is held here by a lock on the other server (taken
# before the cut: nothing is waiting to be applied, so the cut is not held):
# meanwhile no session holds or waits for a lock on the partition here
# (pg_locks), writers commit, and the move is still verifying.
$node1->safe_psql('postgres', 'ALTER SYSTEM SET presplit.backfill_paused = on');
$node1->reload;
$move = $node1->safe_psql('postgres', q{SELECT presplit.move_partition('accounts_1', 'node2')});
$node2->poll_query_until('postgres', q{
SELECT srsubstate = 'r' FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid})
  or die 'the initial copy did not end';
my $summary = q{SELECT count(*) || ' rows (checksum '
  || coalesce(sum(pg_catalog.hashtextextended(t::text, 0)), 0) || ')' FROM ONLY accounts_1 t};
my $cut = $node1->safe_psql('postgres', $summary);
my $holder = $node2->background_psql('postgres');
$holder->query_safe('BEGIN; LOCK TABLE public.accounts_1 IN ACCESS EXCLUSIVE MODE');
$node1->safe_psql('postgres', 'ALTER SYSTEM RESET presplit.backfill_paused');
$node1->reload;
$node2->poll_query_until('postgres', q{
SELECT EXISTS (SELECT FROM pg_locks WHERE relation = 'public.accounts_1'::regclass
                AND mode = 'AccessShareLock' AND NOT granted)})
  or die 'the verification did not scan the other server';
is($node1->safe_psql('postgres', q{
SELECT count(*) FROM pg_locks WHERE relation = 'accounts_1'::regclass
   AND (mode = 'ShareLock' OR NOT granted)}),
	'0', 'while the verification scans, no lock on the partition is held for it or waited for');
# Transfers within the partition (the total unchanged), each its own
# transaction; lock_timeout only turns a writer held by a lock into an error.
my ($ret) = $node1->psql('postgres', q{
SET lock_timeout = '60s';
UPDATE accounts SET balance = balance + CASE WHEN id = 10000 THEN -1 ELSE 1 END WHERE id IN (10000, 10001);
UPDATE accounts SET balance = balance + CASE WHEN id = 10002 THEN -1 ELSE 1 END WHERE id IN (10002, 10003);
UPDATE accounts SET balance = balance + CASE WHEN id = 10004 THEN -1 ELSE 1 END WHERE id IN (10004, 10005);
}, on_error_stop => 1);
is($ret . ' ' . $node1->safe_psql('postgres', "SELECT state FROM presplit.remote_move WHERE id = $move"),
	'0 backfilling', 'writers committed on the partition while the verification scanned');
my $after = $node1->safe_psql('postgres', $summary);
$holder->query_safe('COMMIT');
$holder->quit;
$node1->poll_query_until('postgres',
	"SELECT state = 'cut_over' AND NOT replicating FROM presplit.remote_move WHERE id = $move")
  or die 'the move did not cut over: '
  . $node1->safe_psql('postgres', 'SELECT kind, detail FROM presplit.events ORDER BY id');
my $verified = $node1->safe_psql('postgres', qq{
SELECT detail FROM presplit.events WHERE kind = 'remote_move_verified' AND detail LIKE 'move $move:%'});
ok($after ne $cut && $verified =~ /^move $move: here \Q$cut\E, on server "node2" \Q$cut\E; the cut: \d+ tries?, the lock held [\d.]+ ms$/,
	'both sides compared at the cut, not with the writes after it')
  or diag("cut: $cut; after: $after; event: $verified");
accounts_invariant_ok($node1, $rows, $total, 'invariant with both partitions on the other server');
$node1->safe_psql('postgres', "SELECT presplit.finalize_move($move)");
no_replication_left('after the second move', $node1, $node2);
