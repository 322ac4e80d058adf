# The predictive manager across a restart, its held copies' release, and a
# moving hot range, on a fast clock (a day lasts a minute at
# presplit.clock_rate = 1440):
#   - a predicted plan remembers its split kind (presplit.plan.split_kind):
#     after a restart, a size plan at the median of its rows is still judged
#     by its rows (its load lies far below that key), while a load plan at
#     the same place is cancelled for drift (the control);
#   - a held copy is let run when its off-peak window starts, not at the
#     next hourly round: the windows (HH:20-HH:50, twice a day) hold no full
#     hour, so hourly rounds alone would never copy;
#   - a hot range moving up through the keys: the load split is aimed where
#     the load's middle will be, ahead of it, and says so.
# The thresholds are tiny: every partition with load is over its threshold,
# so that its plan's copy is due in the next window; copies stay inside the
# windows (presplit.late_copy_outside_windows off: the load plan would
# otherwise be copied at once, outside them, and be judged as a synced plan).
# The model clock starts at the wall clock's time of day whenever the server
# starts, so the windows are set from the wall clock's hour: none opens
# before the restart, and the first after it opens at 20 past the third
# simulated hour after it (5.8 s or more). The hourly round at the second
# hour sees the reads sampled and the load plan off its target; the round at
# the third cancels it, before the window could copy it (a copy started
# there would be synced before any round judged it). Nothing is timed: the
# test waits for conditions.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PresplitTest;
use IPC::Run;
use Test::More tests => 10;

# Two windows of 30 simulated minutes at 20 past the hour, 12 hours apart,
# the first at the hour $hour of the day.
sub windows_from
{
	my ($hour) = @_;
	return sprintf('%02d:20-%02d:50,%02d:20-%02d:50',
		$hour % 24, $hour % 24, ($hour + 12) % 24, ($hour + 12) % 24);
}

# Before the restart: the first window over 10 simulated hours (25 s) away.
my $node = presplit_node('prediction_restart', qq{
timezone = 'UTC'
log_timezone = 'UTC'
presplit.naptime = 100
presplit.analyzer_sample_every = 1
presplit.clock_rate = 1440
presplit.analyzer_key_half_life = '2h'
presplit.predict = 'prepare'
presplit.split_load_threshold = 0.0001
presplit.prediction_horizon = '24h'
presplit.maintenance_window = '@{[windows_from((gmtime)[2] + 11)]}'
presplit.late_copy_outside_windows = off
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_presplit;
CREATE FUNCTION presplit_test_create_predicted_plan(regclass, text, boolean, text)
    RETURNS bigint AS 'pg_presplit' LANGUAGE C STRICT;
CREATE TABLE t (id bigint PRIMARY KEY, v int NOT NULL DEFAULT 0) PARTITION BY RANGE (id);
CREATE TABLE t_0 PARTITION OF t FOR VALUES FROM (0) TO (100000);
CREATE TABLE t_1 PARTITION OF t FOR VALUES FROM (100000) TO (200000);
CREATE TABLE t_2 PARTITION OF t FOR VALUES FROM (200000) TO (300000);
INSERT INTO t (id) SELECT g FROM generate_series(0, 299999, 10) g;
ANALYZE t;
SELECT presplit.manage('t');
});
# Held predicted plans at the middle of t_0's and t_1's rows: by the size
# for t_0, by the load for t_1.
my $size_plan = $node->safe_psql('postgres',
	q{SELECT presplit_test_create_predicted_plan('t_0', '50000', true, 'size')});
my $load_plan = $node->safe_psql('postgres',
	q{SELECT presplit_test_create_predicted_plan('t_1', '150000', true, 'load')});
is($node->safe_psql('postgres', qq{
	SELECT string_agg(split_kind, ',' ORDER BY id) FROM presplit.plan
	 WHERE id IN ($size_plan, $load_plan)}), 'size,load',
	'a predicted plan records its split kind');

# The manager's memory is gone; the catalog is not. After the restart the
# first window opens three hours of the day on.
my $windows = windows_from($node->safe_psql('postgres',
	q{SELECT extract(hour FROM now() AT TIME ZONE 'UTC')::int}) + 3);
$node->safe_psql('postgres', qq{ALTER SYSTEM SET presplit.maintenance_window = '$windows'});
$node->restart;

# Reads: t_0 and t_1 only at the bottom 10 % of their keys; t_2 in a range
# of 2000 keys moving up 1000 keys every 2 wall seconds (48 simulated
# minutes).
my $dir = PostgreSQL::Test::Utils::tempdir();
open my $fh, '>', "$dir/still.sql" or die $!;
print $fh "\\set a random(0, 9999)\n\\set b random(100000, 109999)\n"
  . "SELECT v FROM t WHERE id = :a;\nSELECT v FROM t WHERE id = :b;\n";
close $fh;
my @connect = ('-h', $node->host, '-p', $node->port, 'postgres');
my $still = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '1', '-R', '40', '-T', '400', '-f', "$dir/still.sql", @connect ],
	'>', '/dev/null', '2>', '/dev/null');
my $moving = start_moving_reads($node, $dir, table => 't', from => 210000, step => 1000,
	width => 2000, rate => 40, steps => 150);

# Wait (up to 6 minutes) for: the load plan cancelled for drift, the size
# plan synced, and t_2's forecast row aimed along its moving range.
my ($cancelled, $synced, $aimed) = (0, 0, '');
foreach my $tick (1 .. 360)
{
	$cancelled ||= $node->safe_psql('postgres', qq{
		SELECT count(*) FROM presplit.plan WHERE id = $load_plan AND state = 'cancelled'}) == 1;
	$synced ||= $node->safe_psql('postgres', qq{
		SELECT count(*) FROM presplit.plan WHERE id = $size_plan AND state = 'synced'}) == 1;
	if ($aimed eq '')
	{
		$aimed = $node->safe_psql('postgres', q{
			SELECT split_point || '|' || reason FROM presplit.forecasts
			 WHERE partition = 't_2'::regclass AND metric = 'load'
			   AND reason LIKE '%the load''s middle moves +%'});
	}
	last if $cancelled && $synced && $aimed ne '';
	sleep 1;
}
note($node->safe_psql('postgres', q{
	SELECT string_agg(format('%s %s %s %s', at, plan_id, kind, detail), E'\n' ORDER BY id)
	  FROM presplit.events WHERE kind IN ('prediction', 'state_change')}));
$still->kill_kill;
$moving->kill_kill;

# (1) The split kind after the restart.
ok($cancelled, 'the load plan whose load lies below its key was cancelled');
like($node->safe_psql('postgres', qq{
	SELECT detail FROM presplit.events WHERE plan_id = $load_plan AND kind = 'prediction'
	   AND detail LIKE 'cancel_plan:%' ORDER BY id LIMIT 1}),
	qr/split point drifted/, 'cancelled for drift, judged by its load');
is($node->safe_psql('postgres', qq{
	SELECT count(*) FROM presplit.events WHERE plan_id = $load_plan AND kind = 'prediction'
	   AND detail LIKE 'copy:%'}), '0',
	'the drifting load plan\'s copy never started: cancelled before its window');
ok($synced, 'the size plan at the same place was copied and synced');
is($node->safe_psql('postgres', qq{
	SELECT count(*) FROM presplit.events WHERE plan_id = $size_plan AND kind = 'prediction'
	   AND detail LIKE 'cancel_plan:%'}), '0',
	'the size plan was judged by its rows after the restart: never cancelled');

# (2) The copy ran in the windows, which start at 20 past the hour.
like($node->safe_psql('postgres', qq{
	SELECT detail FROM presplit.events WHERE plan_id = $size_plan AND kind = 'prediction'
	   AND detail LIKE 'copy:%' ORDER BY id LIMIT 1}),
	qr/copying inside the off-peak window/,
	"the held copy was let run inside a window that holds no full hour ($windows)");
is($node->safe_psql('postgres', qq{SELECT copy_held FROM presplit.plan WHERE id = $size_plan}),
	'f', 'the synced plan is not held');

# (3) The moving range: the split ahead of the keys read when it was said.
my ($point, $reason) = split /\|/, $aimed, 2;
ok(defined $reason && $reason =~ /moves \+[\d.e+]+ keys an hour: split where it will be/,
	"t_2's load split follows its moving range: " . ($reason // 'none'));
ok(defined $point && $point > 211000,
	't_2: the split point (' . ($point // 'none') . ') is above where the range started');

$node->stop;
