# split_partition onto two other servers at once: one partition split in
# three, the lowest piece kept here, the others on node2 and node3, under
# pgbench transfers; synced, cut over, the invariant (row count, total
# balance) through the parent and on each server directly, each server
# holding exactly its range. Then a rollback after the cutover (both
# reverse directions: a transfer made on each other server after the
# cutover is found in the old partition), and a second split whose
# rollback is refused because node3 runs with wal_level = replica (no
# reverse direction from there), ended by finalize. No replication slot,
# publication or subscription is left on any server after any phase.
# (Two servers, faults, re-sync: 031_remote_split.pl.)
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PresplitTest;
use Test::More tests => 30;

my ($node1, $node2) = presplit_server_pair(qq{
presplit.naptime = 100
presplit.backfill_batch_size = 5000
presplit.ramp_step = 50
presplit.ramp_interval = 1000
presplit.ramp_min_latency_increase = 60000
wal_retrieve_retry_interval = 500
}, { allows_streaming => 'logical' });
my $node3 = presplit_add_server($node1, 'node3', { allows_streaming => 'logical' });
my @remotes = ([ 'node2', $node2 ], [ 'node3', $node3 ]);

# write_transfer_script's accounts: ids 0-199999, the hot ones (80 % of the
# debits) in accounts_0, the partition split.
my $rows = 200000;
my $total = create_accounts($node1, $rows, 2);
# Each other server's range of accounts_0.
my %range = (node2 => [ 33000, 66000 ], node3 => [ 66000, 100000 ]);
my $split = q{SELECT presplit.split_partition('accounts_0', '{33000,66000}',
                                            servers => ARRAY[NULL, 'node2', 'node3'])};

sub events {
	my ($plan) = @_;
	return $node1->safe_psql('postgres', 'SELECT string_agg(kind || \': \' || coalesce(to_state, \'\') || \' \' || coalesce(detail, \'\'), E\'\n\' ORDER BY id)'
		  . " FROM presplit.events WHERE plan_id = $plan");
}

sub invariant_on_each_server {
	my ($name) = @_;
	accounts_invariant_ok($node1, $rows, $total, "$name: invariant through the parent");
	my ($n, $s) = split / /, $node1->safe_psql('postgres', q{
SELECT count(*) || ' ' || sum(balance) FROM accounts WHERE id < 33000 OR id >= 100000});
	for my $remote (@remotes) {
		my ($server, $node) = @$remote;
		my ($low, $high) = @{ $range{$server} };
		is($node->safe_psql('postgres', 'SELECT count(*) || \' \' || min(id) || \' \' || max(id) FROM public.accounts_0'),
			($high - $low) . " $low " . ($high - 1), "$name: $server holds exactly its range");
		my ($rn, $rs) = split / /, $node->safe_psql('postgres',
			'SELECT count(*) || \' \' || sum(balance) FROM public.accounts_0');
		($n, $s) = ($n + $rn, $s + $rs);
	}
	is("$n $s", "$rows $total", "$name: invariant over the three servers, each read directly");
}

my $script = write_transfer_script(PostgreSQL::Test::Utils::tempdir);

# 1. The split under pgbench: to synced, cut over.
my ($out, $err) = ('', '');
my $load = start_pgbench($node1, $script, 3, 60, \$out, \$err);
my $plan = $node1->safe_psql('postgres', $split);
$node1->poll_query_until('postgres', qq{
SELECT state = 'cut_over' FROM presplit.plans WHERE id = $plan
   AND (SELECT count(*) FROM presplit.events WHERE plan_id = $plan AND kind = 'remote_reverse') = 2})
  or die 'the split did not cut over with two reverse directions: ' . events($plan);
ok($load->pumpable, 'the split onto two servers cut over while pgbench was running');
like($node1->safe_psql('postgres', qq{
SELECT string_agg(coalesce(to_state, kind), ' ' ORDER BY id) FROM presplit.events
 WHERE plan_id = $plan AND (kind IN ('remote_target_verified', 'cutover') OR to_state = 'synced')}),
	qr/^remote_target_verified remote_target_verified synced cutover$/,
	'events: both remote targets verified, synced, then cut over');
$node1->poll_query_until('postgres', 'SELECT NOT EXISTS (SELECT FROM pg_replication_slots)')
  or die 'the forward slots left after the cutover';
my @back = map { "presplit_back_split_${plan}_$_" } (1, 2);
is(join(' | ', map { replication_objects($_) } ($node1, $node2, $node3)),
	"publications: ; slots: ; subscriptions: $back[0],$back[1]"
	  . " | publications: $back[0]; slots: $back[0]; subscriptions: "
	  . " | publications: $back[1]; slots: $back[1]; subscriptions: ",
	'after the cutover: only the two reverse directions (their subscriptions here)');
my $cut_over_layout = "r FOR VALUES FROM ('0') TO ('33000'); f FOR VALUES FROM ('33000') TO ('66000'); "
  . "f FOR VALUES FROM ('66000') TO ('100000'); r FOR VALUES FROM ('100000') TO ('200000')";
is(partitions_of($node1, 'accounts'), $cut_over_layout, 'a local shadow and two foreign tables took the partition\'s place');
pgbench_ok($load, \$out, \$err, 'through the split');
invariant_on_each_server('after the cutover');
diag(events($plan));

# 2. A rollback after that cutover, under pgbench. A marked transfer into
# each other server's range first: it lands there and must come back.
$node1->safe_psql('postgres', 'BEGIN; UPDATE accounts SET balance = balance + 1000000 WHERE id IN (50000, 90000);'
	  . ' UPDATE accounts SET balance = balance - 2000000 WHERE id = 0; COMMIT');
is(join(' ', map { $_->[1]->safe_psql('postgres', 'SELECT max(balance) > 500000 FROM public.accounts_0') } @remotes),
	't t', 'the writes through the parent after the cutover landed on node2 and node3');
($out, $err) = ('', '');
$load = start_pgbench($node1, $script, 3, 20, \$out, \$err);
# Transfers reach both other servers before the rollback.
for my $remote (@remotes) {
	my $node = $remote->[1];
	my $updated = $node->safe_psql('postgres',
		"SELECT n_tup_upd FROM pg_stat_user_tables WHERE relid = 'public.accounts_0'::regclass");
	$node->poll_query_until('postgres', qq{
SELECT n_tup_upd > $updated + 50 FROM pg_stat_user_tables WHERE relid = 'public.accounts_0'::regclass})
	  or die "pgbench does not write on $remote->[0]";
}
$node1->safe_psql('postgres', "SELECT presplit.rollback($plan)");
ok($load->pumpable, 'rolled back after the cutover while pgbench was running');
pgbench_ok($load, \$out, \$err, 'across the rollback');
is($node1->safe_psql('postgres', "SELECT state FROM presplit.plans WHERE id = $plan"),
	'rolled_back', 'rolled back after the cutover');
is(partitions_of($node1, 'accounts'), "r FOR VALUES FROM ('0') TO ('100000'); r FOR VALUES FROM ('100000') TO ('200000')",
	'the old partition attached again, the shadow and both foreign tables gone');
accounts_invariant_ok($node1, $rows, $total, 'invariant after the rollback');
is($node1->safe_psql('postgres', 'SELECT count(*) FROM ONLY accounts_0'), 100000,
	'the old partition holds every row of its range');
is($node1->safe_psql('postgres', 'SELECT string_agg((balance > 500000)::text, \' \' ORDER BY id)'
	  . ' FROM ONLY accounts_0 WHERE id IN (50000, 90000)'),
	'true true', 'the writes made on node2 and node3 after the cutover are in the old partition');
like($node1->safe_psql('postgres', qq{
SELECT string_agg(kind, ' ' ORDER BY id) FROM presplit.events
 WHERE plan_id = $plan AND kind IN ('remote_reverse_caught_up', 'rollback_swap')}),
	qr/^remote_reverse_caught_up rollback_swap$/,
	'events: the rollback waited for both reverse directions under its lock, then swapped');
diag($node1->safe_psql('postgres', qq{
SELECT string_agg(kind || ': ' || detail, E'\n' ORDER BY id) FROM presplit.events
 WHERE plan_id = $plan AND kind IN ('remote_reverse_caught_up', 'rollback_swap')}));
for my $remote (@remotes) {
	$remote->[1]->poll_query_until('postgres', q{SELECT to_regclass('public.accounts_0') IS NULL})
	  or die "the table left on $remote->[0]";
}
no_replication_left('after the rollback after the cutover', $node1, $node2, $node3);

# 3. node3 with wal_level = replica: no reverse direction from there. A
# second split cuts over (the forward direction needs logical only here);
# its rollback is refused and changes nothing; finalize ends it.
$node3->append_conf('postgresql.conf', 'wal_level = replica');
$node3->restart;
$plan = $node1->safe_psql('postgres', $split);
$node1->poll_query_until('postgres', qq{
SELECT state = 'cut_over' FROM presplit.plans WHERE id = $plan
   AND EXISTS (SELECT FROM presplit.events WHERE plan_id = $plan AND kind = 'remote_reverse')})
  or die 'the second split did not cut over with a reverse direction from node2: ' . events($plan);
like($node1->safe_psql('postgres', qq{
SELECT string_agg(detail, '; ') FROM presplit.events WHERE plan_id = $plan AND kind = 'remote_reverse_unavailable'}),
	qr/^[^;]*node3[^;]*: wal_level is replica on the other server, not logical; rollback after the cutover is refused$/,
	'event remote_reverse_unavailable: node3, its wal_level');
is($node1->safe_psql('postgres', qq{
SELECT count(*) FROM presplit.events WHERE plan_id = $plan AND kind = 'remote_reverse'}),
	'1', 'one reverse direction, from node2');
diag(events($plan));
invariant_on_each_server('after the second cutover');
my ($ret, $rout, $rerr) = $node1->psql('postgres', "\\set VERBOSITY verbose\nSELECT presplit.rollback($plan)");
like($rerr, qr/ERROR:  55000: .*has no reverse direction.*HINT:  The events remote_reverse_unavailable or remote_reverse_lost say why/s,
	'rollback after the cutover refused (55000), with why');
is($node1->safe_psql('postgres', "SELECT state FROM presplit.plans WHERE id = $plan") . '; ' . partitions_of($node1, 'accounts'),
	"cut_over; $cut_over_layout", 'the refused rollback changed nothing');
$node1->safe_psql('postgres', "SELECT presplit.finalize($plan)");
is($node1->safe_psql('postgres', qq{
SELECT state || ' ' || (to_regclass('accounts_0') IS NULL) FROM presplit.plans WHERE id = $plan}),
	'finalized true', 'finalize ended the plan and dropped the old partition');
accounts_invariant_ok($node1, $rows, $total, 'invariant after finalize');
no_replication_left('after finalize', $node1, $node2, $node3);
