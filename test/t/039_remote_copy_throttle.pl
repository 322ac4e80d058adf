# The copy of a remote target is paced like the local backfill
# (docs/multi_server.md, "Throttling the remote copy"): at most
# presplit.backfill_max_rows_per_second rows a second, none while the server
# is busy. Shown for both ways a remote target is copied:
#   - a split's target, copied by the worker under its slot's snapshot
#     (presplit.remote_copy_by_snapshot, the default): the rows seen arriving
#     on the other server (its COPY FROM's progress);
#   - a move's, copied by the other server's table synchronisation, which
#     runs COPY (SELECT ...) TO STDOUT in a walsender here: the rows seen
#     sent by that walsender (its COPY TO's progress).
# Each: seen half-way at the capped rate, held while the server is busy
# (the split), finished once released; the plan then cuts over with the
# invariant (row count, total balance) intact, and nothing of replication is
# left.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use IPC::Run;
use PresplitTest;
use Test::More tests => 12;

my ($node1, $node2) = presplit_server_pair(qq{
presplit.naptime = 100
presplit.backfill_batch_size = 500
presplit.backfill_max_rows_per_second = 500
});

my $rows = 40000;
my $total = create_accounts($node1, $rows, 2);

# The rows a COPY into accounts_0 on node2 has received so far (each read its
# own transaction: a transaction sees one snapshot of the backends' progress).
sub copied_rows {
	return $node2->safe_psql('postgres', q{
SELECT coalesce(max(tuples_processed), -1) FROM pg_stat_progress_copy
 WHERE relid = 'public.accounts_0'::regclass});
}

# The rows a walsender's COPY here has sent so far.
sub sent_rows {
	return $node1->safe_psql('postgres', q{
SELECT coalesce(max(p.tuples_processed), -1) FROM pg_stat_progress_copy p
  JOIN pg_stat_activity a ON a.pid = p.pid WHERE a.backend_type = 'walsender'});
}

sub set_and_reload {
	my ($settings) = @_;
	$node1->safe_psql('postgres', "$settings; SELECT pg_reload_conf()");
}

# 1. A split with its upper half (10000 rows) on node2, copied at 500 rows/s:
# seen half-way.
my $plan = $node1->safe_psql('postgres', q{
SELECT presplit.split_partition('accounts_0', '{10000}', ramp => false, servers => ARRAY[NULL, 'node2'])});
$node2->poll_query_until('postgres', q{
SELECT coalesce(max(tuples_processed), 0) >= 1000 FROM pg_stat_progress_copy
 WHERE relid = 'public.accounts_0'::regclass})
  or die 'the remote copy did not start: '
  . $node1->safe_psql('postgres', "SELECT kind, detail FROM presplit.events WHERE plan_id = $plan ORDER BY id");
my $seen = copied_rows();
ok($seen >= 1000 && $seen < 10000, "the remote copy is paced: $seen of 10000 rows received when first looked at");
# For the record (not a test: the machine is shared): the rate over 2 s.
sleep 2;
diag('rows per second sent at a cap of 500: ' . (copied_rows() - $seen) / 2);

# 2. The server busy (more active client backends than
# presplit.backfill_busy_backends: two sleeping sessions): it sends nothing.
set_and_reload('ALTER SYSTEM SET presplit.backfill_busy_backends = 1');
my @sleepers = map {
	IPC::Run::start(
		[ 'psql', '-X', '-h', $node1->host, '-p', $node1->port, '-d', 'postgres', '-c', 'SELECT pg_sleep(600)' ],
		'>', '/dev/null', '2>', '/dev/null')
} 1 .. 2;
$node1->poll_query_until('postgres', q{
SELECT count(*) = 2 FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(600)' AND state = 'active'})
  or die 'the sleeping sessions did not start';
# The worker publishes the hold within a round; then the count stands still.
my ($before, $after) = (copied_rows(), -2);
for my $try (1 .. 60)
{
	sleep 1;
	$after = copied_rows();
	last if $after == $before;
	$before = $after;
}
sleep 2;
is(copied_rows(), $after, 'the server busy: the remote copy sends nothing');
like($node1->safe_psql('postgres', "SELECT detail FROM presplit.events WHERE plan_id = $plan AND kind = 'remote_copy_started'"),
	qr/under the snapshot of the replication slot presplit_split_${plan}_\d+ made here/,
	'... a copy by the worker under its slot\'s snapshot');
ok($after > 0 && $after < 10000, "... before it is done ($after of 10000 rows)");
$node1->safe_psql('postgres', q{
SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(600)'});
$_->finish for @sleepers;
set_and_reload('ALTER SYSTEM RESET presplit.backfill_busy_backends');

# 3. Released with no cap: it finishes, the plan syncs and cuts over.
set_and_reload('ALTER SYSTEM SET presplit.backfill_max_rows_per_second = 0');
$node1->poll_query_until('postgres', "SELECT state = 'switching' FROM presplit.plans WHERE id = $plan")
  or die 'the split did not get to switching: '
  . $node1->safe_psql('postgres', "SELECT kind, detail FROM presplit.events WHERE plan_id = $plan ORDER BY id");
is($node2->safe_psql('postgres', 'SELECT count(*) || \' \' || sum(balance) FROM public.accounts_0'),
	'10000 10000000', 'the other server holds the upper half');
$node1->safe_psql('postgres', "SELECT presplit.cutover($plan)");
$node1->poll_query_until('postgres', "SELECT state = 'cut_over' FROM presplit.plans WHERE id = $plan")
  or die 'no cutover';
accounts_invariant_ok($node1, $rows, $total, 'invariant after the paced split');
$node1->safe_psql('postgres', "SELECT presplit.finalize($plan)");
no_replication_left('after the split', $node1, $node2);

# 4. A move, capped again: paced too (its publication's row filter, the
# partition's bound, makes its copy a COPY (SELECT ...)).
set_and_reload('ALTER SYSTEM SET presplit.backfill_max_rows_per_second = 500');
my $move = $node1->safe_psql('postgres', q{SELECT presplit.move_partition('accounts_1', 'node2')});
$node1->poll_query_until('postgres', q{
SELECT coalesce(max(p.tuples_processed), 0) >= 1000 FROM pg_stat_progress_copy p
  JOIN pg_stat_activity a ON a.pid = p.pid WHERE a.backend_type = 'walsender'})
  or die 'the move\'s copy did not start: '
  . $node1->safe_psql('postgres', 'SELECT kind, detail FROM presplit.events ORDER BY id');
$seen = sent_rows();
ok($seen >= 1000 && $seen < 20000, "the move's copy is paced: $seen of 20000 rows sent when first looked at");
like($node1->safe_psql('postgres', "SELECT pg_get_expr(r.prqual, r.prrelid) FROM pg_publication_rel r"
		  . " JOIN pg_publication p ON p.oid = r.prpubid WHERE p.pubname = 'presplit_move_$move'"),
	qr/id >= '20000'::bigint\) AND \(id < '40000'::bigint/, "the move's row filter is the partition's bound");
set_and_reload('ALTER SYSTEM SET presplit.backfill_max_rows_per_second = 0');
$node1->poll_query_until('postgres',
	"SELECT state = 'cut_over' AND NOT replicating FROM presplit.remote_move WHERE id = $move")
  or die 'the move did not cut over: '
  . $node1->safe_psql('postgres', 'SELECT kind, detail FROM presplit.events ORDER BY id');
is($node2->safe_psql('postgres', 'SELECT count(*) || \' \' || sum(balance) FROM public.accounts_1'),
	'20000 20000000', 'the other server holds the moved partition');
accounts_invariant_ok($node1, $rows, $total, 'invariant after the paced move');
$node1->safe_psql('postgres', "SELECT presplit.finalize_move($move)");
no_replication_left('after the move', $node1, $node2);
