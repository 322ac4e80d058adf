# The partition a moving hot range enters, on a fast clock (a day lasts a
# minute at presplit.clock_rate = 1440): a range of 4000 keys read at 60 per
# wall second moves up through t_0 from 30000 towards t_1's bound (100000),
# 1500 keys every 2 wall seconds (0.8 simulated hours): about 45 wall
# seconds before it comes near the bound. t_1's own reads (2.5 per wall
# second) stay far below the threshold (30 per wall second), so its own
# history predicts no crossing; the range's load handed over from t_0
# (docs/prediction.md, *The partition a range enters*) does. The check:
# t_1's presplit.forecasts row shows a predicted crossing and a split point
# from the entering range, saying hand-off, while the range's middle is
# still below the bound. Mode advise: events, no plans. Nothing is timed:
# the test waits for conditions.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PresplitTest;
use IPC::Run;
use Test::More tests => 6;

# Loads are in statements per SIMULATED second: 30 reads per wall second is
# 30 / 1440 per second of the model clock.
my $rate = 1440;
my $threshold = 30 / $rate;
my $bound = 100000;
my $node = presplit_node('prediction_neighbour', qq{
timezone = 'UTC'
log_timezone = 'UTC'
presplit.naptime = 100
presplit.analyzer_sample_every = 1
presplit.clock_rate = $rate
presplit.analyzer_key_half_life = '2h'
presplit.predict = 'advise'
presplit.split_load_threshold = $threshold
presplit.prediction_horizon = '24h'
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_presplit;
CREATE TABLE t (id bigint PRIMARY KEY, v int NOT NULL DEFAULT 0) PARTITION BY RANGE (id);
CREATE TABLE t_0 PARTITION OF t FOR VALUES FROM (0) TO (100000);
CREATE TABLE t_1 PARTITION OF t FOR VALUES FROM (100000) TO (200000);
INSERT INTO t (id) SELECT g FROM generate_series(0, 199999, 10) g;
ANALYZE t;
SELECT presplit.manage('t');
});

# The reads: t_1 uniformly, one every 0.4 s (paced, not at random times:
# its hourly load then has little noise, and its own trend-only forecast a
# narrow interval); the range [lo, lo + 3999] at 60 per wall second, lo
# from 30000 up by 1500 every 2 s until the range is well past the bound
# (its lo written to $dir/lo at each step). It starts far below the bound:
# on a busy machine the forecast may need many rounds to see the motion.
my $dir = PostgreSQL::Test::Utils::tempdir();
open my $fh, '>', "$dir/t_1.sql" or die $!;
print $fh "\\set k random(100000, 199999)\nSELECT v FROM t WHERE id = :k;\n\\sleep 400 ms\n";
close $fh;
my @connect = ('-h', $node->host, '-p', $node->port, 'postgres');
my $own = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '1', '-T', '300', '-f', "$dir/t_1.sql", @connect ],
	'>', '/dev/null', '2>', '/dev/null');
my $moving = start_moving_reads($node, $dir, table => 't', from => 30000, step => 1500,
	width => 4000, rate => 60, steps => 80, lo_file => "$dir/lo");

sub range_lo
{
	open my $in, '<', "$dir/lo" or return undef;
	my $lo = <$in>;
	close $in;
	chomp $lo if defined $lo;
	return $lo;
}

# Wait (up to 4 minutes, or until the range has passed the bound) for t_1's
# row with the hand-off. The range moves up only: its middle read after the
# row was seen is at or above where it was when the row was written.
my ($row, $middle_then) = ('', undef);
foreach my $tick (1 .. 480)
{
	$row = $node->safe_psql('postgres', q{
		SELECT predicted_crossing || '|' || split_point || '|' || reason
		  FROM presplit.forecasts
		 WHERE partition = 't_1'::regclass AND metric = 'load'
		   AND predicted_crossing IS NOT NULL AND split_point IS NOT NULL
		   AND reason LIKE 'split (hand-off) at %from the neighbour''s range: %'});
	my $lo = range_lo();
	if ($row ne '')
	{
		$middle_then = $lo + 2000 if defined $lo;
		last;
	}
	last if defined $lo && $lo > $bound + 20000;
	select(undef, undef, undef, 0.5);
}
# The hand-off's prediction event (mode advise) for t_1.
my $event = '';
foreach my $tick (1 .. 60)
{
	$event = $node->safe_psql('postgres', q{
		SELECT detail FROM presplit.events
		 WHERE relation = 'public.t_1' AND kind = 'prediction'
		   AND detail LIKE '%from the neighbour''s range%' ORDER BY id LIMIT 1});
	last if $event ne '' || $row eq '';
	sleep 1;
}
# What the manager saw, in the test's output when the row never came (diag
# is printed by a non-verbose run too).
my $report = $row eq '' ? \&diag : \&note;
$report->($node->safe_psql('postgres', q{
	SELECT string_agg(format('%s %s %s', partition, predicted_crossing, reason), E'\n')
	  FROM presplit.forecasts WHERE metric = 'load'}));
$report->($node->safe_psql('postgres', q{
	SELECT string_agg(format('%s %s %s', at, relation, detail), E'\n' ORDER BY id)
	  FROM presplit.events WHERE kind = 'prediction'}));
$report->('the range\'s lo at the end: ' . (range_lo() // 'none'));
$own->kill_kill;
$moving->kill_kill;

my ($crossing, $point, $reason) = split /\|/, $row, 3;
ok($row ne '', "t_1's forecast shows a crossing and a split from the entering range: "
	  . ($reason // 'none'));
ok(defined $middle_then && $middle_then < $bound,
	"... before the range's middle crossed the bound (it was at "
	  . ($middle_then // 'none') . ')');
like($reason // '', qr/a hot range of the partition below .* moves \+[\d.e+]+ keys an hour/,
	'the reason says where the load comes from');
ok(defined $point && $point > $bound && $point < $bound + 50000,
	"the split point (" . ($point // 'none') . ') is in t_1 where the range will be');
# t_0, the source, predicts no split from a hand-off of its own.
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM presplit.forecasts
	 WHERE partition = 't_0'::regclass AND reason LIKE '%hand-off%'}), '0',
	't_0 gets no hand-off');
like($event, qr/^advise: load .*from the neighbour's range/,
	"t_1's prediction event says the split comes from the neighbour's range");

$node->stop;
