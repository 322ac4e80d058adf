# The predictive shard manager in the server, over simulated days: at
# presplit.clock_rate = 1440 a day lasts a minute. One partition's hot range
# gets more reads step by step (pgbench at rising rates); with
# presplit.predict = 'prepare' the worker forecasts the crossing of the load
# threshold, creates a plan with origin 'predicted' at the sampled split
# point, copies it inside the fixed maintenance windows (outside them only
# when, as it says, they cannot hold the copy before the crossing), and
# leaves it synced before the partition crosses the threshold; split_partition(source)
# then reuses it. An append-only table beside it (rows inserted through the
# parent, keys always above the last) gets the split just above its largest
# key. Nothing is timed: the test waits for conditions.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PresplitTest;
use IPC::Run;
use Test::More tests => 12;

# Loads are in statements per SIMULATED second: 1 read per wall second is
# 1/1440 per second of the model clock. The threshold is crossed at about
# 0.1 * 1440 = 144 reads per wall second.
my $rate = 1440;
my $threshold = 0.1;
my $node = presplit_node('prediction', qq{
timezone = 'UTC'
log_timezone = 'UTC'
presplit.naptime = 200
presplit.analyzer_sample_every = 1
presplit.clock_rate = $rate
# Key samples age on the model clock too: 6 simulated hours (15 s here).
presplit.analyzer_key_half_life = '6h'
presplit.predict = 'prepare'
presplit.split_load_threshold = $threshold
presplit.prediction_horizon = '24h'
presplit.maintenance_window = '01:00-07:00,13:00-19:00'
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_presplit;
CREATE TABLE hot (id bigint PRIMARY KEY, v int NOT NULL DEFAULT 0) PARTITION BY RANGE (id);
CREATE TABLE hot_0 PARTITION OF hot FOR VALUES FROM (0) TO (100000);
CREATE TABLE hot_1 PARTITION OF hot FOR VALUES FROM (100000) TO (200000);
INSERT INTO hot (id) SELECT g FROM generate_series(0, 19999) g;
INSERT INTO hot (id) SELECT g FROM generate_series(100000, 101999) g;
SELECT presplit.manage('hot');
CREATE TABLE appended (id bigint PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE appended_0 PARTITION OF appended FOR VALUES FROM (0) TO (1000000);
INSERT INTO appended SELECT g FROM generate_series(0, 9999) g;
CREATE SEQUENCE appended_next START 10000;
SELECT presplit.manage('appended');
});

# The workload: reads of hot_0's keys 0-19999 at 10, 20, ... 250 per wall
# second, 8 s each (about 3 simulated hours per step), and a trickle on hot_1.
my $dir = PostgreSQL::Test::Utils::tempdir();
open my $fh, '>', "$dir/cold.sql" or die $!;
print $fh "\\set k random(100000, 101999)\nSELECT v FROM hot WHERE id = :k;\n";
close $fh;
my @connect = ('-h', $node->host, '-p', $node->port, 'postgres');
my $load = start_rising_reads($node, $dir, table => 'hot', from => 0, to => 19999,
	rates => [ map { 10 * $_ } 1 .. 25 ]);
open $fh, '>', "$dir/append.sql" or die $!;
print $fh "INSERT INTO appended VALUES (nextval('appended_next'));\n";
close $fh;
my $appender = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '1', '-R', '10', '-T', '240', '-f', "$dir/append.sql", @connect ],
	'>', '/dev/null', '2>', '/dev/null');
my $trickle = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '1', '-R', '5', '-T', '200', '-f', "$dir/cold.sql", @connect ],
	'>', '/dev/null', '2>', '/dev/null');

# Watch, once a wall second, for the predicted plan and its state, and for
# the moment hot_0's measured load (its last complete hour) reaches the
# threshold. Up to 4 minutes.
# A synced plan may still be cancelled later (its split point drifted) and
# a new one made: $plan is the newest, $synced_plan the one seen synced.
my ($plan, $synced_plan, $synced_seen, $crossed_seen, $tick) = ('', '', 0, 0, 0);
my ($synced_tick, $crossed_tick);
while ($tick++ < 240)
{
	my ($id, $state) = split /\|/, $node->safe_psql('postgres', q{
		SELECT id, state FROM presplit.plan WHERE origin = 'predicted'
		   AND source = 'hot_0'::regclass ORDER BY id DESC LIMIT 1});
	$plan = $id if defined $id && $id ne '';
	if (!$synced_seen && defined $state && $state eq 'synced')
	{
		$synced_seen = 1;
		$synced_tick = $tick;
		$synced_plan = $id;
	}
	my $over = $node->safe_psql('postgres', qq{
		SELECT current >= threshold FROM presplit.forecasts
		 WHERE partition = 'hot_0'::regclass AND metric = 'load'});
	if (!$crossed_seen && $over eq 't')
	{
		$crossed_seen = 1;
		$crossed_tick = $tick;
	}
	# The append-only table's histogram (its largest key) as autovacuum's
	# ANALYZE would leave it, once some rows were appended.
	$node->safe_psql('postgres', 'ANALYZE appended') if $tick == 10;
	last if $synced_seen && $crossed_seen && $tick > 10;
	sleep 1;
}
 note($node->safe_psql('postgres', q{
	SELECT string_agg(format('%s %s cur=%s thr=%s at=%s split=%s model=%s %s', partition, metric,
	                         round(current::numeric, 4), threshold, predicted_crossing, split_point,
	                         model, reason), E'\n')
	  FROM presplit.forecasts}));
note($node->safe_psql('postgres', q{
	SELECT string_agg(format('%s %s %s %s', at, kind, to_state, detail), E'\n' ORDER BY id)
	  FROM presplit.events WHERE kind IN ('prediction', 'state_change')}));
note("plan $plan (synced: plan $synced_plan): synced at tick " . ($synced_tick // 'never') . ", crossed at tick "
	  . ($crossed_tick // 'never'));

is($node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE actual IS NOT NULL) > 0,
	       count(*) FILTER (WHERE predicted IS NOT NULL AND upper >= predicted) > 0
	  FROM presplit.forecast('hot_0', 24)}), 't|t',
	'presplit.forecast shows the history and the forecast with its interval');
ok($node->safe_psql('postgres', q{SELECT count(*) FROM presplit.offpeak_windows}) > 0,
	'presplit.offpeak_windows has the maintenance windows ahead');
isnt($plan, '', 'the worker created a plan with origin predicted for hot_0');
ok($synced_seen, 'the predicted plan reached synced');
ok($synced_seen && (!$crossed_seen || $synced_tick <= $crossed_tick),
	'it was synced before the measured load crossed the threshold');

# The events of the plan seen synced: created with the numbers it was
# decided on.
my $synced_id = $synced_plan || 0;
like($node->safe_psql('postgres', qq{
	SELECT detail FROM presplit.events WHERE plan_id = $synced_id AND kind = 'prediction'
	 ORDER BY id LIMIT 1}),
	qr/^create_plan: load .* threshold .*predicted crossing .*split point \d+/,
	'the plan came with an event giving its numbers');

# Copied inside the window: the copy began (preparing -> backfilling) at a
# simulated time of day inside a window (the model clock is
# pg_postmaster_start_time() + wall time since then x clock_rate). Or, when
# the windows left before the crossing could not hold it (a forecast that
# moved the crossing earlier; presplit.late_copy_outside_windows is on), the
# manager said it let the copy run outside them.
my $copy_began = $node->safe_psql('postgres', qq{
	SELECT extract(hour FROM s + (e.at - s) * $rate)
	  FROM presplit.events e, pg_postmaster_start_time() s
	 WHERE e.plan_id = $synced_id AND e.kind = 'state_change' AND e.to_state = 'backfilling'});
my $said_late = $node->safe_psql('postgres', qq{
	SELECT count(*) FROM presplit.events WHERE plan_id = $synced_id AND kind = 'prediction'
	   AND detail LIKE 'copy:%copying outside the off-peak windows%'});
ok($copy_began ne '' && (($copy_began >= 1 && $copy_began < 7) || ($copy_began >= 13 && $copy_began < 19)
		|| $said_late > 0),
	"the copy began inside a maintenance window, or was said to be late (simulated hour $copy_began,"
	  . " said late: $said_late)");

# The forecast that led there: a crossing and a split point inside hot_0.
is($node->safe_psql('postgres', q{
	SELECT predicted_crossing IS NOT NULL, split_point::bigint > 0 AND split_point::bigint < 100000
	  FROM presplit.forecasts WHERE partition = 'hot_0'::regclass AND metric = 'load'}),
	't|t', 'presplit.forecasts: a predicted crossing and a split point inside hot_0');

# The append-only partition: the accesses sampled are the appended rows, at
# the right edge of its keys; the split goes just above the largest key the
# histogram knows, so that the coming rows land in the new partition.
# (Autovacuum may analyze the table again meanwhile: the split follows the
# histogram's largest key, so the check waits for a round after the last
# ANALYZE. presplit.forecasts shows the split whether or not a crossing is
# predicted.)
my $analyzed_max = $node->safe_psql('postgres', q{
	SELECT (histogram_bounds::text::bigint[])[array_upper(histogram_bounds::text::bigint[], 1)]
	  FROM pg_stats WHERE tablename = 'appended_0' AND attname = 'id'});
ok($node->poll_query_until('postgres', q{
	SELECT f.split_point::bigint = (s.histogram_bounds::text::bigint[])[
	           array_upper(s.histogram_bounds::text::bigint[], 1)] + 1
	  FROM presplit.forecasts f, pg_stats s
	 WHERE f.partition = 'appended_0'::regclass AND f.metric = 'load'
	   AND s.tablename = 'appended_0' AND s.attname = 'id'}),
	'presplit.forecasts: the append hot spot of appended_0 is split just above its largest key')
  or note($node->safe_psql('postgres', q{
	SELECT split_point || ' ' || reason FROM presplit.forecasts
	 WHERE partition = 'appended_0'::regclass AND metric = 'load'}));
ok($node->safe_psql('postgres', q{
	SELECT split_point FROM presplit.forecasts
	 WHERE partition = 'appended_0'::regclass AND metric = 'load'}) > $analyzed_max,
	"above the keys there were at the first ANALYZE ($analyzed_max)");

$load->kill_kill;
$trickle->kill_kill;
$appender->kill_kill;

# split_partition(source) reuses the predicted plan and starts its switchover.
is($node->safe_psql('postgres', q{SELECT presplit.split_partition('hot_0', ramp => false)}),
	$plan, 'split_partition(hot_0) reuses the predicted plan');
is($node->safe_psql('postgres', qq{SELECT presplit.wait($plan, 'switching', '2 min')}),
	'switching', 'and switches it over');

$node->stop;
