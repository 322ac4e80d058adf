# split_partition with servers: the upper half of a partition split onto
# another server (postgres_fdw, logical replication with a row filter) while
# pgbench moves money between accounts and reads them; the invariant (row
# count, total balance) checked through the parent and on each server; a
# remote table in the way refused with nothing changed on either side;
# a weight set for a plan with a remote target; a rollback before the
# cutover; a rollback after the cutover under pgbench (the changes made on
# the other server since the cutover flowed back through the reverse
# direction), and one refused when the reverse slot was dropped; a forward
# slot dropped during the copy, re-synced; finalize.
# No replication slot, publication or subscription is left on either server
# after any phase. (The checks that need no second server:
# sql/21_remote_split.sql.)
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PresplitTest;
use Test::More tests => 42;

# The other server's wal_level logical: the reverse direction after the
# cutover is replicated from there. The ramp reads the remote half through
# its foreign table: a remote read is slower by design, judged on errors
# here (README, "Weighted reads onto other servers").
my ($node1, $node2) = presplit_server_pair(qq{
presplit.naptime = 100
presplit.backfill_batch_size = 2000
presplit.ramp_step = 50
presplit.ramp_interval = 1000
presplit.ramp_min_latency_increase = 60000
wal_retrieve_retry_interval = 500
}, { allows_streaming => 'logical' });

my $rows = 20000;
my $total = create_accounts($node1, $rows, 2, manage => 0);
$node1->safe_psql('postgres', qq{
CREATE INDEX accounts_0_balance ON accounts_0 (balance);
SELECT presplit.manage('accounts');
});

# 1. A table of the source's name already on the server: refused before
# anything is written, here or there.
$node2->safe_psql('postgres', 'CREATE TABLE public.accounts_1 (id int)');
refused($node1, q{SELECT presplit.split_partition('accounts_1', '{15000}', servers => ARRAY[NULL, 'node2'])},
	'42P07', 'relation public.accounts_1 already exists on server "node2"', 'remote table exists');
$node2->safe_psql('postgres', 'DROP TABLE public.accounts_1');
# A unique index on the parent: PostgreSQL would refuse the foreign table.
$node1->safe_psql('postgres', q{
CREATE TABLE keyed (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE keyed_0 PARTITION OF keyed FOR VALUES FROM (0) TO (10);
SELECT presplit.manage('keyed');
});
refused($node1, q{SELECT presplit.split_partition('keyed_0', '{5}', servers => ARRAY[NULL, 'node2'])},
	'0A000', 'unique index on the partitioned table.*HINT:  Drop the primary key or unique index of the partitioned table and define it on each partition',
	'a unique index on the parent: refused, with what to do');
refused($node1, q{SELECT presplit.split_partition('accounts_1', '{12000,15000}', servers => ARRAY['node2', NULL, 'node2'])},
	'0A000', 'server "node2" is given for more than one target', 'one target per server');
is($node1->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM presplit.plans) || ' ' || (SELECT count(*) FROM pg_class WHERE relname ~ '^accounts_[01]_[0-9]+_[0-9]+$')}),
	'0 0', 'the refused splits recorded and created nothing here');
is($node2->safe_psql('postgres', q{SELECT count(*) FROM pg_class WHERE relname LIKE 'accounts%'}),
	'0', 'the refused splits created nothing on the other server');
no_replication_left('after the refused splits', $node1, $node2);

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
	'50', 'any weight for a plan with a remote target (its weighted reads: 034_remote_reads.pl)');
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
no_replication_left('after the rollback', $node1, $node2);

# 3. The split of the hot partition under pgbench transfers and reads: the
# lower half stays here (a local shadow), the upper half goes to node2.
my $script = write_transfer_script(PostgreSQL::Test::Utils::tempdir,
	{ debit => [ 0, 9999 ], credit => [ 0, 19999 ], read => 1 });
my ($out, $err) = ('', '');
my $load = start_pgbench($node1, $script, 3, 45, \$out, \$err);
$plan = $node1->safe_psql('postgres',
	q{SELECT presplit.split_partition('accounts_0', '{5000}', servers => ARRAY[NULL, 'node2'])});
$node1->poll_query_until('postgres', qq{
SELECT state = 'cut_over' FROM presplit.plans WHERE id = $plan})
  or die 'the split did not cut over: '
  . $node1->safe_psql('postgres', 'SELECT kind, detail FROM presplit.events ORDER BY id');
# The worker drops the forward replication once cut over, and starts the
# reverse direction (the other server's changes back into the kept source).
$node1->poll_query_until('postgres', qq{
SELECT NOT EXISTS (SELECT FROM pg_replication_slots) AND NOT EXISTS (SELECT FROM pg_publication)
   AND EXISTS (SELECT FROM presplit.events WHERE plan_id = $plan AND kind = 'remote_reverse')})
  or die 'replication left, or no reverse direction, after the cutover: '
  . $node1->safe_psql('postgres', 'SELECT kind, detail FROM presplit.events ORDER BY id');
ok($load->pumpable, 'the split cut over while pgbench was running');
my $back = "presplit_back_split_${plan}_1";
is(replication_objects($node1), "publications: ; slots: ; subscriptions: $back",
	'after the cutover: only the reverse subscription here');
is(replication_objects($node2), "publications: $back; slots: $back; subscriptions: ",
	'after the cutover: only the reverse publication and slot on the other server');
my $cut_over_layout = "r FOR VALUES FROM ('0') TO ('5000'); f FOR VALUES FROM ('5000') TO ('10000'); "
  . "r FOR VALUES FROM ('10000') TO ('20000')";
is(partitions_of($node1, 'accounts'), $cut_over_layout, 'a local shadow and a foreign table took the partition\'s place');
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
pgbench_ok($load, \$out, \$err, 'through the split');
accounts_invariant_ok($node1, $rows, $total, 'invariant through the parent (local and foreign partitions)');
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

# 4. A rollback after the cutover, under pgbench. A marked transfer first,
# across the servers: it lands on the other server, and must come back.
$node1->safe_psql('postgres', 'BEGIN; UPDATE accounts SET balance = balance + 1000000 WHERE id = 9999;'
	  . ' UPDATE accounts SET balance = balance - 1000000 WHERE id = 0; COMMIT');
cmp_ok($node2->safe_psql('postgres', 'SELECT balance FROM public.accounts_0 WHERE id = 9999'), '>', 500000,
	'a write through the parent after the cutover landed on the other server');
($out, $err) = ('', '');
$load = start_pgbench($node1, $script, 3, 20, \$out, \$err);
# Transfers reach the other server (its statistics count them) before the
# rollback.
my $updated = $node2->safe_psql('postgres',
	"SELECT n_tup_upd FROM pg_stat_user_tables WHERE relid = 'public.accounts_0'::regclass");
$node2->poll_query_until('postgres', qq{
SELECT n_tup_upd > $updated + 50 FROM pg_stat_user_tables WHERE relid = 'public.accounts_0'::regclass})
  or die 'pgbench does not write on the other server';
$node1->safe_psql('postgres', "SELECT presplit.rollback($plan)");
ok($load->pumpable, 'rolled back after the cutover while pgbench was running');
pgbench_ok($load, \$out, \$err, 'across the rollback');
is($node1->safe_psql('postgres', "SELECT state FROM presplit.plans WHERE id = $plan"),
	'rolled_back', 'rolled back after the cutover');
is(partitions_of($node1, 'accounts'), "r FOR VALUES FROM ('0') TO ('10000'); r FOR VALUES FROM ('10000') TO ('20000')",
	'the old partition is attached again, the shadow and the foreign table gone');
accounts_invariant_ok($node1, $rows, $total, 'invariant after the rollback');
is($node1->safe_psql('postgres', 'SELECT count(*) FROM ONLY accounts_0'), 10000,
	'the old partition holds every row of its range');
cmp_ok($node1->safe_psql('postgres', 'SELECT balance FROM ONLY accounts_0 WHERE id = 9999'), '>', 500000,
	'the write made on the other server after the cutover is in the old partition');
like($node1->safe_psql('postgres', qq{
SELECT string_agg(kind, ' ' ORDER BY id) FROM presplit.events
 WHERE plan_id = $plan AND kind IN ('remote_reverse_caught_up', 'rollback_swap')}),
	qr/^remote_reverse_caught_up rollback_swap$/,
	'events: the rollback waited for the reverse direction under its lock, then swapped');
diag($node1->safe_psql('postgres', qq{
SELECT string_agg(kind || ': ' || detail, E'\n' ORDER BY id) FROM presplit.events
 WHERE plan_id = $plan AND kind IN ('cutover', 'remote_reverse', 'remote_reverse_caught_up', 'rollback_swap')}));
# The worker drops the reverse direction and the table there after the
# rollback committed.
$node2->poll_query_until('postgres', q{
SELECT NOT EXISTS (SELECT FROM pg_replication_slots) AND NOT EXISTS (SELECT FROM pg_publication)
   AND to_regclass('public.accounts_0') IS NULL})
  or die 'the reverse direction or the table left on the other server: ' . replication_objects($node2);
$node1->poll_query_until('postgres', 'SELECT NOT EXISTS (SELECT FROM pg_subscription)')
  or die 'the reverse subscription left here';
no_replication_left('after the rollback after the cutover', $node1, $node2);

# 5. The forward slot dropped here while the split copies (the local copy
# throttled, so that the plan is still backfilling): the worker re-syncs the
# remote target. Then the reverse slot dropped on the other server: rollback
# after the cutover refused, nothing changed; finalize drops the old
# partition.
$node1->safe_psql('postgres',
	'ALTER SYSTEM SET presplit.backfill_max_rows_per_second = 100; SELECT pg_reload_conf()');
$plan = $node1->safe_psql('postgres',
	q{SELECT presplit.split_partition('accounts_0', '{5000}', servers => ARRAY[NULL, 'node2'])});
$node2->poll_query_until('postgres', qq{
SELECT EXISTS (SELECT FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid
                WHERE s.subname = 'presplit_split_${plan}_1' AND r.srsubstate = 'r')})
  or die 'the remote target was not copied';
drop_slot($node1, "presplit_split_${plan}_1");
# A transfer into the remote target's range, its replication broken.
$node1->safe_psql('postgres', 'BEGIN; UPDATE accounts SET balance = balance + 77 WHERE id = 9998;'
	  . ' UPDATE accounts SET balance = balance - 77 WHERE id = 1; COMMIT');
my $marked = $node1->safe_psql('postgres', 'SELECT balance FROM accounts WHERE id = 9998');
$node1->poll_query_until('postgres', qq{
SELECT EXISTS (SELECT FROM presplit.events WHERE plan_id = $plan AND kind = 'remote_target_resync')})
  or die 'no re-sync: ' . $node1->safe_psql('postgres', 'SELECT kind, detail FROM presplit.events ORDER BY id');
like($node1->safe_psql('postgres', qq{
SELECT detail FROM presplit.events WHERE plan_id = $plan AND kind = 'remote_target_resync'}),
	qr/the replication slot presplit_split_${plan}_1 here was gone; the table there emptied and copied again/,
	'the forward slot dropped during the copy: the remote target re-synced, with an event');
$node1->safe_psql('postgres',
	'ALTER SYSTEM RESET presplit.backfill_max_rows_per_second; SELECT pg_reload_conf()');
$node1->poll_query_until('postgres', qq{
SELECT state = 'cut_over' FROM presplit.plans WHERE id = $plan
   AND EXISTS (SELECT FROM presplit.events WHERE plan_id = $plan AND kind = 'remote_reverse')})
  or die 'the second split did not cut over with a reverse direction: '
  . $node1->safe_psql('postgres', 'SELECT kind, detail FROM presplit.events ORDER BY id');
is($node2->safe_psql('postgres', 'SELECT count(*) || \' \' || sum(balance) FROM public.accounts_0')
	  . ' ' . $node2->safe_psql('postgres', 'SELECT balance FROM public.accounts_0 WHERE id = 9998'),
	$node1->safe_psql('postgres', 'SELECT count(*) || \' \' || sum(balance) FROM accounts_0 WHERE id >= 5000')
	  . " $marked",
	're-synced: the other server has the range as the old partition has it, the transfer included');
$back = "presplit_back_split_${plan}_1";
drop_slot($node2, $back);
refused($node1, "SELECT presplit.rollback($plan)", '55000',
	"has no reverse direction.*HINT:  The events remote_reverse_unavailable or remote_reverse_lost say why",
	'the reverse slot dropped: rollback after the cutover refused, with why');
is($node1->safe_psql('postgres', "SELECT state FROM presplit.plans WHERE id = $plan") . '; ' . partitions_of($node1, 'accounts'),
	"cut_over; $cut_over_layout", 'the refused rollback changed nothing');
$node1->safe_psql('postgres', "SELECT presplit.finalize($plan)");
is($node1->safe_psql('postgres', qq{
SELECT state || ' ' || (to_regclass('accounts_0') IS NULL) FROM presplit.plans WHERE id = $plan}),
	'finalized true', 'finalize dropped the old partition');
accounts_invariant_ok($node1, $rows, $total, 'invariant after finalize');
no_replication_left('after finalize', $node1, $node2);
# Writes through the foreign partition still land on the other server.
$node1->safe_psql('postgres', 'UPDATE accounts SET balance = balance - 5 WHERE id = 9999;'
	  . ' UPDATE accounts SET balance = balance + 5 WHERE id = 0');
is($node1->safe_psql('postgres', 'SELECT sum(balance) FROM accounts'), $total,
	'a transfer across the servers keeps the total');
