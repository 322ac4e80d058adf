# A predicted split's remote copy in chunks (docs/multi_server.md, "The
# remote copy in chunks") stops when its off-peak window ends and goes on in
# the next one: no chunk starts outside a window, nor inside one whose rest
# is shorter than a chunk's estimate. Two servers, presplit.predict =
# 'prepare', presplit.predict_servers = 'node2', a clock 1440 times faster
# than the wall (a day lasts a minute), presplit.backfill_max_rows_per_second
# = 1000 and presplit.remote_copy_chunk_rows = 2000: a chunk takes 2 wall
# seconds, 0.8 simulated hours (1.2 with the safety factor); the whole
# partition's 20000 rows 8 simulated hours, 12 with the factor, more than the
# 4 h window: the copy starts at a window's start (as a copy longer than any
# window) and goes chunk by chunk. The reads of hot_0 grow towards the load
# threshold (as in 041_remote_copy_window.pl).
#   1. The window kept hours ahead until the plan shows: made held, its
#      remote target copied in chunks.
#   2. A window of 4 simulated hours from two hours ahead: the plan reaches
#      synced (its target verified); every chunk started inside the window,
#      and the chunks' starts span more than one window: the copy stopped
#      at a window's end and went on in the next.
#   3. node2 has every row of the upper piece; cancelled, nothing is left.
# Nothing is timed: the test waits for conditions.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PresplitTest;
use IPC::Run;
use Test::More tests => 8;

my $rate = 1440;
my ($node1, $node2) = presplit_server_pair(qq{
timezone = 'UTC'
log_timezone = 'UTC'
presplit.naptime = 200
presplit.backfill_batch_size = 5000
presplit.backfill_max_rows_per_second = 1000
presplit.remote_copy_chunk_rows = 2000
presplit.analyzer_sample_every = 1
presplit.clock_rate = $rate
presplit.analyzer_key_half_life = '6h'
presplit.predict = 'prepare'
presplit.split_load_threshold = 0.1
presplit.prediction_horizon = '24h'
presplit.maintenance_window = '01:00-02:00'
presplit.predict_servers = 'node2'
});
create_hot_table($node1);

my $dir = PostgreSQL::Test::Utils::tempdir();
my $load = start_hot_reads($node1, $dir);

sub events {
	return $node1->safe_psql('postgres', q{
	SELECT string_agg(format('%s %s %s %s', at, plan_id, kind, detail), E'\n' ORDER BY id)
	  FROM presplit.events WHERE kind IN ('prediction', 'state_change', 'remote_copy_waiting',
	                                      'remote_copy_started', 'remote_copy_chunk_started',
	                                      'remote_copy_chunk', 'remote_target', 'worker_error')});
}


# 1. The window kept 6 to 10 simulated hours ahead until the plan shows.
my ($plan, $last_hour) = ('', -1);
foreach my $tick (1 .. 300)
{
	my $id = $node1->safe_psql('postgres', q{
		SELECT max(id) FROM presplit.plan WHERE origin = 'predicted' AND source = 'hot_0'::regclass});
	if ($id ne '')
	{
		$plan = $id;
		last;
	}
	my $hour = model_hour($node1, $rate);
	if ($hour != $last_hour)
	{
		set_maintenance_window($node1, $hour + 6, $hour + 10);
		$last_hour = $hour;
	}
	sleep 1;
}
isnt($plan, '', 'the manager made a predicted plan') or note(events());
like($node1->safe_psql('postgres', qq{
	SELECT string_agg(detail, ' ') FROM presplit.events WHERE plan_id = $plan AND kind = 'remote_target'}),
	qr/copied in chunks of 2000 rows/, 'its target on node2 is copied in chunks');

# 2. A window of 4 h from two simulated hours ahead, kept there.
my $hour = model_hour($node1, $rate);
my ($from, $to) = (($hour + 2) % 24, ($hour + 6) % 24);
my $window = set_maintenance_window($node1, $from, $to);
my $synced = $node1->poll_query_until('postgres', q{
	SELECT EXISTS (SELECT FROM presplit.plan WHERE origin = 'predicted'
	                  AND source = 'hot_0'::regclass AND state = 'synced')});
ok($synced, "with the window $window, the plan reached synced: its chunks verified") or note(events());
$plan = $node1->safe_psql('postgres', q{
	SELECT max(id) FROM presplit.plan WHERE origin = 'predicted' AND source = 'hot_0'::regclass});

# The simulated time (hours since the server started, and hour of the day)
# of the copy's start and of each chunk's.
my @starts = map { [ split /\|/ ] } split /\n/, $node1->safe_psql('postgres', qq{
	SELECT round(extract(epoch FROM } . model_time('e.at', $rate) . qq{ - s) / 3600, 2),
	       extract(hour FROM } . model_time('e.at', $rate) . qq{)::int
	  FROM presplit.events e, pg_postmaster_start_time() s
	 WHERE e.plan_id = $plan AND e.kind IN ('remote_copy_started', 'remote_copy_chunk_started')
	 ORDER BY e.id});
my @outside = grep {
	my $h = $_->[1];
	!($from < $to ? ($h >= $from && $h < $to) : ($h >= $from || $h < $to))
} @starts;
cmp_ok(scalar(@starts), '>=', 4, 'the copy started, then went chunk by chunk (' . scalar(@starts) . ' starts)');
is(join(', ', map { "$_->[0] h (hour $_->[1])" } @outside), '',
	"every chunk started inside the window $window") or note(events());
my $span = @starts ? $starts[-1][0] - $starts[0][0] : 0;
cmp_ok($span, '>', 12, "the chunks' starts span more than one window ($span simulated hours):"
	. ' the copy stopped when its window ended and went on in the next') or note(events());

# 3. Every row of the upper piece on node2.
my $split = $node1->safe_psql('postgres', "SELECT split_points[1] FROM presplit.plan WHERE id = $plan");
is($node2->safe_psql('postgres', 'SELECT count(*) || \' \' || sum(v) FROM public.hot_0'),
	$node1->safe_psql('postgres', "SELECT count(*) || ' ' || sum(v) FROM hot_0 WHERE id >= $split"),
	"node2 has every row of the upper piece (from $split)");

$load->kill_kill;
$node1->safe_psql('postgres', "SELECT presplit.cancel($plan)");
no_replication_left('cancelled', $node1, $node2);
note(events());

$node1->stop;
$node2->stop;
