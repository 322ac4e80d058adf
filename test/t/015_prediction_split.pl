# presplit.predict = 'split' in the server, over simulated days (a day lasts
# a minute at presplit.clock_rate = 1440): the worker creates the predicted
# plans, copies them in the maintenance windows, and starts the switchover
# itself -- with the ramp (and its auto-abort) of any split_partition -- so
# that each plan ends cut over. Two partitions, one per metric:
#   hot_0  its reads grow step by step past the load threshold (as in
#          014_prediction.pl);
#   big_0  grows by inserts towards its table's size threshold: its size is
#          forecast from the worker's hourly samples and split at the median
#          of its key histogram (pg_statistic, after ANALYZE).
# The loads are in statements per SIMULATED second: hot_0 crosses its
# threshold of 0.1 at 144 reads per wall second. The copy rate of the
# schedules is measured from the finished copies (the plans view shows it).
# Nothing is timed: the test waits for conditions.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PresplitTest;
use IPC::Run;
use Test::More tests => 12;

my $rate = 1440;
my $node = presplit_node('prediction_split', qq{
timezone = 'UTC'
log_timezone = 'UTC'
presplit.naptime = 200
presplit.analyzer_sample_every = 1
presplit.clock_rate = $rate
presplit.analyzer_key_half_life = '6h'
presplit.predict = 'split'
presplit.split_load_threshold = 0.1
presplit.prediction_horizon = '24h'
presplit.maintenance_window = '01:00-07:00,13:00-19:00'
# A short ramp on wall time: steps of 25 % every half second, stepping on
# without reads after another half second (big_0 is only written to).
presplit.ramp_step = 25
presplit.ramp_interval = 500
presplit.ramp_evidence_timeout = 500
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_presplit;
CREATE TABLE hot (id bigint PRIMARY KEY, v int NOT NULL DEFAULT 0) PARTITION BY RANGE (id);
CREATE TABLE hot_0 PARTITION OF hot FOR VALUES FROM (0) TO (100000);
CREATE TABLE hot_1 PARTITION OF hot FOR VALUES FROM (100000) TO (200000);
INSERT INTO hot (id) SELECT g FROM generate_series(0, 19999) g;
INSERT INTO hot (id) SELECT g FROM generate_series(100000, 101999) g;
CREATE TABLE big (id bigint PRIMARY KEY, pad text NOT NULL) PARTITION BY RANGE (id);
CREATE TABLE big_0 PARTITION OF big FOR VALUES FROM (0) TO (10000000);
CREATE TABLE big_1 PARTITION OF big FOR VALUES FROM (10000000) TO (20000000);
INSERT INTO big SELECT (random() * 9999999)::bigint, repeat('x', 100)
  FROM generate_series(1, 20000) ON CONFLICT DO NOTHING;
ANALYZE hot, big;
SELECT presplit.manage('hot');
SELECT presplit.manage('big');
});
# big: no load threshold, a size threshold 1.5 MB above its size now (about
# two simulated days of the inserts below).
my $big_threshold = $node->safe_psql('postgres',
	q{SELECT pg_total_relation_size('big_0') + 1536 * 1024});
$node->safe_psql('postgres',
	qq{SELECT presplit.set_split_thresholds('big', 0, '$big_threshold')});

my $dir = PostgreSQL::Test::Utils::tempdir();
open my $fh, '>', "$dir/hot.sql" or die $!;
print $fh "\\set k random(0, 19999)\nSELECT v FROM hot WHERE id = :k;\n";
close $fh;
open $fh, '>', "$dir/grow.sql" or die $!;
print $fh "\\set k random(0, 9999999)\n"
  . "INSERT INTO big VALUES (:k, repeat('x', 100)) ON CONFLICT DO NOTHING;\n";
close $fh;
my @connect = ('-h', $node->host, '-p', $node->port, 'postgres');
# hot_0's reads: 20, 40, ... 180 per wall second, 8 s each, then 180 (1.25
# times the threshold of 144) for the rest: after the split each half has
# less than the threshold. The halves continue hot_0's history, its growth
# included, and may get predicted plans of their own (docs/prediction.md,
# Limits). The cap of four counts plans not yet cut over, and a partition
# whose forecast interval is too wide to act on gets none (their quarters,
# with that history, had upper bounds 200-600 times their forecast; the
# forecaster measures it over the regime after the ramp only from about a
# day and a half after it): two for the halves leave big_0 a place.
my $steps = join(' ', map { 20 * $_ } 1 .. 9);
my $load = IPC::Run::start(
	[ 'bash', '-c',
		"for r in $steps; do pgbench -n -c 2 -j 1 -R \$r -T 8 -f $dir/hot.sql @connect "
		  . ">/dev/null 2>&1; done; pgbench -n -c 2 -j 1 -R 180 -T 250 -f $dir/hot.sql "
		  . "@connect >/dev/null 2>&1" ]);
my $grow = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '1', '-R', '60', '-T', '300', '-f', "$dir/grow.sql", @connect ],
	'>', '/dev/null', '2>', '/dev/null');

# Wait (up to 5 minutes) for both partitions' predicted plans to be cut
# over. A plan is followed by its id once seen (a cutover detaches and
# renames nothing the test names, but finalize drops the source).
# The size forecast is read while big_0 is still a partition (a cutover
# detaches it): its history and forecast, with an interval.
my (%cut, %plan);
my $size_forecast = '';
foreach my $tick (1 .. 300)
{
	if ($size_forecast ne 't|t')
	{
		my ($ret, $out) = (0, '');
		$ret = $node->psql('postgres', q{
			SELECT count(*) FILTER (WHERE actual IS NOT NULL) > 0,
			       count(*) FILTER (WHERE predicted IS NOT NULL AND upper >= predicted) > 0
			  FROM presplit.forecast('big_0', 24) WHERE metric = 'size'}, stdout => \$out);
		$size_forecast = $out if $ret == 0;
	}
	foreach my $source ('hot_0', 'big_0')
	{
		next if $cut{$source};
		my $known = $plan{$source} // 0;
		my ($id, $state) = split /\|/, $node->safe_psql('postgres', qq{
			SELECT id, state FROM presplit.plan WHERE origin = 'predicted'
			   AND (source = to_regclass('$source') OR id = $known)
			 ORDER BY id DESC LIMIT 1});
		next unless defined $id && $id ne '';
		$plan{$source} = $id;
		$cut{$source} = 1 if $state eq 'cut_over' || $state eq 'finalized';
	}
	last if $cut{hot_0} && $cut{big_0};
	sleep 1;
}
note($node->safe_psql('postgres', q{
	SELECT string_agg(format('%s %s cur=%s thr=%s at=%s split=%s model=%s %s', partition, metric,
	                         round(current::numeric, 4), threshold, predicted_crossing, split_point,
	                         model, reason), E'\n')
	  FROM presplit.forecasts}));
note($node->safe_psql('postgres', q{
	SELECT string_agg(format('%s %s %s %s %s', at, plan_id, kind, to_state, detail), E'\n' ORDER BY id)
	  FROM presplit.events WHERE kind IN ('prediction', 'state_change', 'weight', 'history_inherited')}));
$load->kill_kill;
$grow->kill_kill;
$plan{$_} //= 0 foreach ('hot_0', 'big_0');

# The size forecast behind big_0's plan.
is($size_forecast, 't|t', 'presplit.forecast shows the size history and its forecast');
like($node->safe_psql('postgres', qq{
	SELECT detail FROM presplit.events WHERE plan_id = $plan{big_0} AND kind = 'prediction'
	 ORDER BY id LIMIT 1}),
	qr/^create_plan: size \d+ bytes now, threshold \d+ bytes; predicted crossing .*split point (\d+) \(size\)/,
	'big_0: a predicted plan for its size, split at the median of its keys');
my ($split) = $node->safe_psql('postgres',
	qq{SELECT split_points[1] FROM presplit.plan WHERE id = $plan{big_0}});
ok($split > 2500000 && $split < 7500000,
	"the size split point ($split) is near the median of the uniform keys");

# Split mode: the worker itself requested the switch, with the ramp.
foreach my $source ('hot_0', 'big_0')
{
	ok($cut{$source}, "$source: the predicted plan ended cut over");
	like($node->safe_psql('postgres', qq{
		SELECT detail FROM presplit.events WHERE plan_id = $plan{$source}
		   AND kind = 'prediction' AND detail LIKE 'start_switchover:%' ORDER BY id LIMIT 1}),
		qr/^start_switchover: .*(reached its threshold|just before the predicted crossing|last off-peak window)/,
		"$source: the worker started the switchover, saying why");
	is($node->safe_psql('postgres', qq{
		SELECT p.ramp AND p.switch_requested AND p.origin = 'predicted',
		       (SELECT count(*) FROM presplit.events e WHERE e.plan_id = p.id AND e.kind = 'weight'
		           AND e.detail LIKE '%(ramp%') >= 2
		  FROM presplit.plan p WHERE p.id = $plan{$source}}), 't|t',
		"$source: switched by the normal ramp, step by step");
}

# The partitions made from hot_0 continue its history (its share of each
# hour before the cutover) instead of starting without one: they show load
# in more hours than have passed since the cutover (simulated: 24 hours a
# wall minute). The worker passes the history on at its first sweep after
# the cutover.
my $inherited_hours = qq{
	SELECT bool_and(hours > since + 3)
	  FROM (SELECT (SELECT count(*) FROM presplit.forecast(t.relid, 168) f
	                 WHERE f.metric = 'load' AND f.actual > 0 AND f.actual <> 'NaN') AS hours,
	               (SELECT extract(epoch FROM clock_timestamp() - cut_over_at) * $rate / 3600
	                  FROM presplit.plan WHERE id = $plan{hot_0}) AS since
	          FROM pg_partition_tree('hot') t
	         WHERE t.isleaf AND t.relid <> 'hot_1'::regclass) s};
ok($cut{hot_0} && $node->poll_query_until('postgres', $inherited_hours),
	'the partitions made from hot_0 inherited their share of its load history')
  or diag($node->safe_psql('postgres', q{
	SELECT string_agg(format('%s %s %s', t.relid, f.at, f.actual), E'\n')
	  FROM pg_partition_tree('hot') t, presplit.forecast(t.relid, 48) f
	 WHERE t.isleaf AND f.metric = 'load' AND f.actual IS NOT NULL}));

# The copy rate: measured from the finished copies, and said in the events.
ok($node->safe_psql('postgres', q{
	SELECT count(*) FROM presplit.plans
	 WHERE origin = 'predicted' AND copy_bytes_per_second > 0 AND NOT copy_held}) >= 1,
	'the plans view shows the measured copy rate of the finished copies');
like($node->safe_psql('postgres', q{
	SELECT string_agg(detail, E'\n') FROM presplit.events WHERE kind = 'prediction'}),
	qr/copy rate [\d.e+]+ MB\/s (measured|assumed)/,
	'the decisions say the copy rate they were made with');

$node->stop;
