# A predicted split onto another server starts its remote copy (the rows
# copied in one transaction under the snapshot of its slot, not held when
# the window ends) inside an off-peak window only when its
# estimate fits in what is left of the window; the manager's schedule knows
# it, and releases the copy only where it fits. Two servers, presplit.predict
# = 'prepare', presplit.predict_servers = 'node2', a clock 1440 times faster
# than the wall (a day lasts a minute), presplit.backfill_max_rows_per_second
# = 2500: hot_0's 20000 rows take 8 wall seconds, 3.2 simulated hours, 4.8
# with the 1.5 safety factor. The reads of hot_0 grow towards the load
# threshold (as in 033_remote_prediction.pl).
#   1. The maintenance window is kept hours ahead of the model clock until
#      the plan shows: it is made with its copy held, nothing subscribed.
#      Its event schedules the copy as one that cannot pause, with the
#      worker's estimate.
#   2. The window is then kept around the model clock's hour (from an hour
#      before to four after: 5 h long, at most 4 h left) for 8 simulated
#      hours: the manager never releases the copy (it would not fit in what
#      is left; a whole window holds it), so the worker never has to refuse
#      it (no remote_copy_waiting event), and nothing is subscribed.
#   3. A window of 10 h that starts two hours ahead: the copy starts inside
#      it and the plan reaches synced with every row of the upper piece on
#      node2; cancelled, nothing is left on either server.
# Under a loaded machine the manager may cancel a held plan for drift and
# make another (docs/prediction.md, Being wrong): hot_0's predicted plans
# are followed by source.
# Nothing is timed: the test waits for conditions.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PresplitTest;
use IPC::Run;
use Test::More tests => 10;

my $rate = 1440;
my ($node1, $node2) = presplit_server_pair(qq{
timezone = 'UTC'
log_timezone = 'UTC'
presplit.naptime = 200
presplit.backfill_batch_size = 5000
presplit.backfill_max_rows_per_second = 2500
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
	                                      'remote_copy_started', 'worker_error')});
}

# 1. The window kept 6 to 10 simulated hours ahead (moved each simulated
# hour) until the plan shows.
my ($plan, $held_first, $last_hour) = ('', '', -1);
foreach my $tick (1 .. 300)
{
	my $subscriptions = $node2->safe_psql('postgres', 'SELECT count(*) FROM pg_subscription');
	my ($id, $held) = split /\|/, $node1->safe_psql('postgres', q{
		SELECT p.id, p.copy_held
		  FROM presplit.plan p WHERE origin = 'predicted' AND source = 'hot_0'::regclass});
	if (defined $id && $id ne '')
	{
		($plan, $held_first) = ($id, "$held $subscriptions");
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
is($held_first, 't 0', 'made outside the window: its copy held, nothing subscribed on node2');
is($node1->safe_psql('postgres', qq{
	SELECT string_agg(coalesce(server, 'here'), ',' ORDER BY ordinal) FROM presplit.shadow
	 WHERE plan_id = $plan}), 'here,node2', 'its upper piece is a target on node2');

like($node1->safe_psql('postgres', qq{
	SELECT detail FROM presplit.events WHERE plan_id = $plan AND kind = 'prediction'
	 ORDER BY id LIMIT 1}),
	qr/^create_plan: .*the copy to another server cannot pause: it starts only where it fits in what is left of one window; estimated 3\.2 h x1\.5 = 4\.8 h \(20000 rows of the partition at presplit\.backfill_max_rows_per_second = 2500; 8 s of wall time at clock rate 1440\)/,
	'its event schedules the copy as one that cannot pause, with the worker\'s estimate')
  or note(events());

# 2. The window around the model clock's hour (moved each simulated hour):
# at most 4 of its 5 hours are ever left, less than the copy's 4.8 h.
my ($bad, $window, $hours, $with_plan) = ('', '', 0, 0);
$last_hour = -1;
foreach my $tick (1 .. 300)
{
	my $seen = $node1->safe_psql('postgres', q{
		SELECT CASE WHEN coalesce(bool_and(copy_held), true) THEN 't' ELSE 'f' END
		       || ' ' || (SELECT count(*) FROM presplit.events WHERE kind = 'remote_copy_waiting')
		       || ' ' || count(*)
		  FROM presplit.plan WHERE origin = 'predicted' AND source = 'hot_0'::regclass
		   AND state IN ('planned', 'preparing', 'backfilling')})
	  . ' ' . $node2->safe_psql('postgres', 'SELECT count(*) FROM pg_subscription');
	# The plans to copy (one, or none for a moment while re-planned for drift).
	$seen =~ s/^(\S+ \S+) (\d+) /$1 /;
	$with_plan++ if $2 > 0;
	if ($seen ne 't 0 0')
	{
		$bad = "$seen (copy held, remote_copy_waiting events, subscriptions on node2)";
		last;
	}
	my $hour = model_hour($node1, $rate);
	if ($hour != $last_hour)
	{
		last if $hours++ == 8;
		$window = set_maintenance_window($node1, $hour - 1 + 24, $hour + 4);
		$last_hour = $hour;
	}
	sleep 1;
}
$bad = "no predicted plan of hot_0 to copy was seen" if $bad eq '' && !$with_plan;
is($bad, '',
	"8 simulated hours with the window around the model clock (last $window): the copy stayed held, the worker never refused it, nothing was subscribed on node2")
  or note(events());

# 3. A window of 10 h from two simulated hours ahead.
my $hour = model_hour($node1, $rate);
my ($from, $to) = (($hour + 2) % 24, ($hour + 12) % 24);
$window = set_maintenance_window($node1, $from, $to);
my $synced = $node1->poll_query_until('postgres', q{
	SELECT EXISTS (SELECT FROM presplit.plan WHERE origin = 'predicted'
	                  AND source = 'hot_0'::regclass AND state = 'synced')});
ok($synced, "with the window $window, the plan reached synced") or note(events());
$plan = $node1->safe_psql('postgres', q{
	SELECT max(id) FROM presplit.plan WHERE origin = 'predicted' AND source = 'hot_0'::regclass})
  if $synced;

my ($began, $started) = split /\|/, $node1->safe_psql('postgres', qq{
	SELECT extract(hour FROM } . model_time('e.at', $rate) . qq{)::int, e.detail
	  FROM presplit.events e, pg_postmaster_start_time() s
	 WHERE e.plan_id = $plan AND e.kind = 'remote_copy_started'});
my $inside = defined $began && $began ne ''
  && ($from < $to ? ($began >= $from && $began < $to) : ($began >= $from || $began < $to));
ok($inside, "node2's copy (its subscription) began inside the window $window (simulated hour "
	. ($began // '') . ')') or note(events());
like($started, qr/\(paced by presplit.backfill_max_rows_per_second\), then the subscription presplit_split_${plan}_\d+ created there on that slot$/,
	'it started as a copy that fits (nothing said about running past the window)');

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
