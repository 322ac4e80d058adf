# A whole partition moved onto another server as a split plan with no split
# point and one remote target (split_partition(p, '{}', servers =>
# ARRAY['node2'])): the move with weighted reads and the ramp. A rollback
# while it switches at weight 50 leaves nothing on either server; under
# pgbench transfers and reads the ramp routes reads of the partition to the
# other server step by step (judged on the remote reads alone: there is no
# local target), cuts over, and the invariant holds through the parent and
# on both servers read directly; nothing is left after finalize.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PresplitTest;
use Test::More tests => 13;

# A remote read costs a round trip: judged on errors here (README,
# "Weighted reads onto other servers").
my ($node1, $node2) = presplit_server_pair(qq{
presplit.naptime = 100
presplit.ramp_step = 50
presplit.ramp_interval = 1000
presplit.ramp_min_statements = 20
presplit.ramp_min_latency_increase = 60000
}, { allows_streaming => 'logical' });

my $rows = 20000;
my $total = create_accounts($node1, $rows, 2);

sub events
{
	return $node1->safe_psql('postgres', 'SELECT kind, detail FROM presplit.events ORDER BY id');
}

# 1. Held at switching (ramp => false), reads at weight 50, rolled back.
my $plan = $node1->safe_psql('postgres', q{
SELECT presplit.split_partition('accounts_1', '{}', ramp => false, servers => ARRAY['node2'])});
$node1->poll_query_until('postgres', "SELECT state = 'switching' FROM presplit.plans WHERE id = $plan")
  or die 'the move did not get to switching: ' . events();
$node1->safe_psql('postgres', "SELECT presplit.set_weight($plan, 50)");
is($node1->safe_psql('postgres', "SELECT weight FROM presplit.channels WHERE plan_id = $plan AND channel = 'remote'"),
	'50', 'a move as a plan takes a weight for its remote reads');
$node1->safe_psql('postgres', "SELECT presplit.rollback($plan)");
is($node1->safe_psql('postgres', "SELECT state FROM presplit.plans WHERE id = $plan") . '; '
	  . partitions_of($node1, 'accounts') . '; '
	  . $node1->safe_psql('postgres', 'SELECT count(*) FROM pg_foreign_table'),
	"rolled_back; r FOR VALUES FROM ('0') TO ('10000'); r FOR VALUES FROM ('10000') TO ('20000'); 0",
	'rolled back while switching: the partitions as they were, no foreign table');
is($node2->safe_psql('postgres', q{SELECT count(*) FROM pg_class WHERE relname LIKE 'accounts%'}),
	'0', 'the rollback dropped the table there');
no_replication_left('after the rollback', $node1, $node2);

# 2. The move under pgbench transfers (across both partitions) and reads of
# the moved one, ramped by the worker and cut over.
my $script = write_transfer_script(PostgreSQL::Test::Utils::tempdir,
	{ debit => [ 0, 19999 ], credit => [ 10000, 19999 ], read => 1 });
my ($out, $err) = ('', '');
my $load = start_pgbench($node1, $script, 3, 40, \$out, \$err);
$plan = $node1->safe_psql('postgres',
	q{SELECT presplit.split_partition('accounts_1', '{}', servers => ARRAY['node2'])});
$node1->poll_query_until('postgres', "SELECT state = 'cut_over' FROM presplit.plans WHERE id = $plan")
  or die 'the move did not cut over: ' . events();
ok($load->pumpable, 'the move ramped and cut over while pgbench was running');
like($node1->safe_psql('postgres', qq{
SELECT string_agg(detail, ' / ' ORDER BY id) FROM presplit.events WHERE plan_id = $plan AND kind = 'weight'}),
	qr/^new channel 0 -> 50 \(ramp\) \/ new channel 50 -> 100 \(ramp\); at 50%: old \d+ reads, 0 errors, .*; remote [1-9]\d* reads, 0 errors/,
	'the ramp stepped on the remote reads\' evidence (no local target to wait for)');
pgbench_ok($load, \$out, \$err, 'during the move');
accounts_invariant_ok($node1, $rows, $total, 'invariant through the parent');
is($node2->safe_psql('postgres', 'SELECT count(*) || \' \' || sum(balance) FROM public.accounts_1')
	  . ' + ' . $node1->safe_psql('postgres', 'SELECT count(*) || \' \' || sum(balance) FROM ONLY accounts_0'),
	$node1->safe_psql('postgres', 'SELECT count(*) || \' \' || sum(balance) FROM accounts WHERE id >= 10000')
	  . ' + ' . $node1->safe_psql('postgres', 'SELECT count(*) || \' \' || sum(balance) FROM accounts WHERE id < 10000'),
	'on each server read directly: the moved range there, the rest here');
is(partitions_of($node1, 'accounts'), "r FOR VALUES FROM ('0') TO ('10000'); f FOR VALUES FROM ('10000') TO ('20000')",
	'the partition is a foreign table now');
$node1->safe_psql('postgres', "SELECT presplit.finalize($plan)");
is($node1->safe_psql('postgres', "SELECT state FROM presplit.plans WHERE id = $plan"),
	'finalized', 'finalized');
no_replication_left('after finalize', $node1, $node2);
accounts_invariant_ok($node1, $rows, $total, 'invariant after finalize');
