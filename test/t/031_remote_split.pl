# split_partition with servers: the upper half of a partition split onto
# another server (postgres_fdw, logical replication with a row filter) while
# pgbench moves money between accounts and reads them; the invariant (row
# count, total balance) checked through the parent and on each server; a
# remote table in the way refused with nothing changed on either side;
# a weight set for a plan with a remote target; a rollback before the
# cutover; finalize. No replication slot is left on either server after any
# phase. (The checks that need no second server: sql/21_remote_split.sql.)
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use IPC::Run;
use PresplitTest;
use Test::More tests => 32;

# The ramp reads the remote half through its foreign table: a remote read
# is slower by design, judged on errors here (README, "Weighted reads onto
# other servers").
my ($node1, $node2) = presplit_server_pair(qq{
presplit.naptime = 100
presplit.backfill_batch_size = 2000
presplit.ramp_step = 50
presplit.ramp_interval = 1000
presplit.ramp_min_latency_increase = 60000
});

my $rows = 20000;
my $total = $rows * 1000;
# No unique index on the parent (PostgreSQL attaches no foreign table under
# one): the primary key is on each partition, and manage() takes it there.
$node1->safe_psql('postgres', qq{
CREATE TABLE accounts (id bigint NOT NULL, balance bigint NOT NULL) PARTITION BY RANGE (id);
CREATE TABLE accounts_0 PARTITION OF accounts (PRIMARY KEY (id)) FOR VALUES FROM (0) TO (10000);
CREATE TABLE accounts_1 PARTITION OF accounts (PRIMARY KEY (id)) FOR VALUES FROM (10000) TO (20000);
CREATE INDEX accounts_0_balance ON accounts_0 (balance);
INSERT INTO accounts SELECT g, 1000 FROM generate_series(0, $rows - 1) g;
SELECT presplit.manage('accounts');
});

sub slots_and_replication {
	my ($name) = @_;
	is($node1->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM pg_publication) || ' ' || (SELECT count(*) FROM pg_replication_slots)}),
		'0 0', "$name: no publication, no replication slot here");
	is($node2->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM pg_subscription) || ' ' || (SELECT count(*) FROM pg_replication_slots)}),
		'0 0', "$name: no subscription, no replication slot on the other server");
}

sub refused {
	my ($sql, $state, $pattern, $name) = @_;
	my ($ret, $out, $err) = $node1->psql('postgres', "\\set VERBOSITY verbose\n$sql");
	like($err, qr/ERROR:  $state: .*$pattern/s, $name);
}

# 1. A table of the source's name already on the server: refused before
# anything is written, here or there.
$node2->safe_psql('postgres', 'CREATE TABLE public.accounts_1 (id int)');
refused(q{SELECT presplit.split_partition('accounts_1', '{15000}', servers => ARRAY[NULL, 'node2'])},
	'42P07', 'relation public.accounts_1 already exists on server "node2"', 'remote table exists');
$node2->safe_psql('postgres', 'DROP TABLE public.accounts_1');
# A unique index on the parent: PostgreSQL would refuse the foreign table.
$node1->safe_psql('postgres', q{
CREATE TABLE keyed (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE keyed_0 PARTITION OF keyed FOR VALUES FROM (0) TO (10);
SELECT presplit.manage('keyed');
});
refused(q{SELECT presplit.split_partition('keyed_0', '{5}', servers => ARRAY[NULL, 'node2'])},
	'0A000', 'unique index on the partitioned table.*HINT:  Drop the primary key or unique index of the partitioned table and define it on each partition',
	'a unique index on the parent: refused, with what to do');
refused(q{SELECT presplit.split_partition('accounts_1', '{12000,15000}', servers => ARRAY['node2', NULL, 'node2'])},
	'0A000', 'server "node2" is given for more than one target', 'one target per server');
is($node1->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM presplit.plans) || ' ' || (SELECT count(*) FROM pg_class WHERE relname ~ '^accounts_[01]_[0-9]+_[0-9]+$')}),
	'0 0', 'the refused splits recorded and created nothing here');
is($node2->safe_psql('postgres', q{SELECT count(*) FROM pg_class WHERE relname LIKE 'accounts%'}),
	'0', 'the refused splits created nothing on the other server');
slots_and_replication('after the refused splits');

# 2. A rollback before the cutover: ramp => false holds the plan at
# switching once synced. Nothing is left on either side.
my $plan = $node1->safe_psql('postgres', q{
SELECT presplit.split_partition('accounts_1', '{15000}', ramp => false, servers => ARRAY[NULL, 'node2'])});
$node1->poll_query_until('postgres', "SELECT state = 'switching' FROM presplit.plans WHERE id = $plan")
  or die 'the plan did not get to switching: '
  . $node1->safe_psql('postgres', 'SELECT kind, detail FROM presplit.events ORDER BY id');
is($node2->safe_psql('postgres', 'SELECT count(*) || \' \' || min(id) || \' \' || max(id) FROM public.accounts_1'),
	'5000 15000 19999', 'the row filter: only the remote target\'s range was copied');
$node1->safe_psql('postgres', "SELECT presplit.set_weight($plan, 50)");
is($node1->safe_psql('postgres', "SELECT weight FROM presplit.channels WHERE plan_id = $plan AND channel = 'remote'"),
	'50', 'any weight for a plan with a remote target (its weighted reads: 033_remote_reads.pl)');
$node1->safe_psql('postgres', "SELECT presplit.rollback($plan)");
is($node1->safe_psql('postgres', "SELECT state FROM presplit.plans WHERE id = $plan"),
	'rolled_back', 'rollback before the cutover');
is($node2->safe_psql('postgres', q{SELECT count(*) FROM pg_class WHERE relname LIKE 'accounts%'}),
	'0', 'the rollback dropped the remote table');
is($node1->safe_psql('postgres', q{
SELECT string_agg(c.relname, ',' ORDER BY c.relname) || ' ' || (SELECT count(*) FROM pg_foreign_table)
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'accounts'::regclass}),
	'accounts_0,accounts_1 0', 'the rollback left the partitions as they were, and no foreign table');
slots_and_replication('after the rollback');

# 3. The split of the hot partition under pgbench transfers and reads: the
# lower half stays here (a local shadow), the upper half goes to node2.
my $dir = PostgreSQL::Test::Utils::tempdir;
open(my $fh, '>', "$dir/transfer.sql") or die;
print $fh q{
\set a random(0, 9999)
\set b random(0, 19999)
UPDATE accounts SET balance = balance + CASE WHEN id = :a THEN -1 ELSE 1 END
 WHERE id IN (:a, :b) AND :a <> :b;
SELECT balance FROM accounts WHERE id = :b;
};
close $fh;
my ($out, $err) = ('', '');
my $load = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '3', '-j', '1', '-T', '45', '--max-tries=50',
	  '-f', "$dir/transfer.sql", '-h', $node1->host, '-p', $node1->port, 'postgres' ],
	'>', \$out, '2>', \$err);
$plan = $node1->safe_psql('postgres',
	q{SELECT presplit.split_partition('accounts_0', '{5000}', servers => ARRAY[NULL, 'node2'])});
$node1->poll_query_until('postgres', qq{
SELECT state = 'cut_over' FROM presplit.plans WHERE id = $plan})
  or die 'the split did not cut over: '
  . $node1->safe_psql('postgres', 'SELECT kind, detail FROM presplit.events ORDER BY id');
# The worker drops the replication once cut over.
$node1->poll_query_until('postgres',
	'SELECT NOT EXISTS (SELECT FROM pg_replication_slots) AND NOT EXISTS (SELECT FROM pg_publication)')
  or die 'replication left after the cutover';
ok($load->pumpable, 'the split cut over while pgbench was running');
slots_and_replication('after the cutover');
is($node1->safe_psql('postgres', q{
SELECT string_agg(c.relkind::text || ' ' || pg_get_expr(c.relpartbound, c.oid), '; ' ORDER BY c.relname)
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'accounts'::regclass}),
	"r FOR VALUES FROM ('0') TO ('5000'); f FOR VALUES FROM ('5000') TO ('10000'); "
	  . "r FOR VALUES FROM ('10000') TO ('20000')",
	'a local shadow and a foreign table took the partition\'s place');
like($node2->safe_psql('postgres', q{
SELECT string_agg(pg_get_indexdef(indexrelid), '; ' ORDER BY indexrelid) FROM pg_index
 WHERE indrelid = 'public.accounts_0'::regclass}),
	qr/UNIQUE INDEX .* \(id\); CREATE INDEX .* \(balance\)$/,
	'the remote table has the primary key and the other index');
like($node2->safe_psql('postgres', q{
SELECT pg_get_constraintdef(oid) FROM pg_constraint
 WHERE conrelid = 'public.accounts_0'::regclass AND contype = 'c'}),
	qr/CHECK \(\(\(id IS NOT NULL\) AND \(id >= '5000'::bigint\) AND \(id < '10000'::bigint\)\)\)/,
	'the remote table has a CHECK equal to its bound');
$load->finish;
my ($done) = $out =~ /number of transactions actually processed: (\d+)/;
my ($failed) = $out =~ /number of failed transactions: (\d+)/;
ok($load->result == 0 && $done && !$failed,
	'pgbench ran ' . ($done // 0) . ' transactions through the split, ' . ($failed // 0) . ' failed')
  or diag("$out\n$err");
is($node1->safe_psql('postgres', 'SELECT count(*) || \' \' || sum(balance) FROM accounts'),
	"$rows $total", 'invariant through the parent (local and foreign partitions)');
# Each server read directly: the remote target on node2, the rest here.
my ($n2, $s2) = split / /, $node2->safe_psql('postgres',
	'SELECT count(*) || \' \' || sum(balance) FROM public.accounts_0');
my ($n1, $s1) = split / /, $node1->safe_psql('postgres', q{
SELECT count(*) || ' ' || sum(balance) FROM accounts WHERE id < 5000 OR id >= 10000});
is($n2, 5000, 'the other server holds the upper half of the split partition');
is(($n1 + $n2) . ' ' . ($s1 + $s2), "$rows $total", "invariant over both servers");
is($node2->safe_psql('postgres', 'SELECT count(*) FROM public.accounts_0 WHERE id < 5000 OR id >= 10000'),
	'0', 'no row outside its range on the other server');
like($node1->safe_psql('postgres', qq{
SELECT string_agg(kind, ' ' ORDER BY id) FROM presplit.events
 WHERE plan_id = $plan AND kind IN ('remote_target', 'remote_target_verified', 'cutover')}),
	qr/^remote_target remote_target_verified remote_target cutover remote_target$/,
	'events: remote target created, verified, its foreign table for weighted reads, cut over, replication dropped');
diag($node1->safe_psql('postgres', qq{
SELECT string_agg(kind || ': ' || detail, E'\n' ORDER BY id) FROM presplit.events
 WHERE plan_id = $plan AND kind IN ('remote_target', 'remote_target_verified', 'cutover', 'weight')}));

# 4. No rollback after the cutover (the remote changes do not flow back);
# finalize drops the old partition.
refused("SELECT presplit.rollback($plan)", '0A000', 'after its cutover: it has targets on other servers',
	'no rollback after the cutover of a plan with a remote target');
$node1->safe_psql('postgres', "SELECT presplit.finalize($plan)");
is($node1->safe_psql('postgres', qq{
SELECT state || ' ' || (to_regclass('accounts_0') IS NULL) FROM presplit.plans WHERE id = $plan}),
	'finalized true', 'finalize dropped the old partition');
is($node1->safe_psql('postgres', 'SELECT count(*) || \' \' || sum(balance) FROM accounts'),
	"$rows $total", 'invariant after finalize');
slots_and_replication('after finalize');
# Writes through the foreign partition still land on the other server.
$node1->safe_psql('postgres', 'UPDATE accounts SET balance = balance - 5 WHERE id = 9999;'
	  . ' UPDATE accounts SET balance = balance + 5 WHERE id = 0');
is($node1->safe_psql('postgres', 'SELECT sum(balance) FROM accounts'), $total,
	'a transfer across the servers keeps the total');
