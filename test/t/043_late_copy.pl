# A predicted plan whose copy the off-peak windows before its crossing cannot
# hold (docs/prediction.md, *Copy schedule*): with
# presplit.late_copy_outside_windows on (the default) the manager releases it
# outside the windows, and the worker's backfill runs it there; off, it stays
# held. One server, presplit.predict = 'prepare', a clock 1440 times faster
# than the wall (a day lasts a minute), reads of hot_0 growing towards the
# load threshold (as in 041_remote_copy_window.pl). The maintenance window is
# kept, each simulated hour, at the hour that just ended: never open, and its
# next opening 22-23 simulated hours ahead, after any deadline (a crossing
# within the 24 h horizon, less an hour). hot_0 is about 12 MB: its copy at
# the assumed 2 MB/s is planned at 2 or more simulated hours, more than any
# window time before the deadline.
#   1. Off: the plan is made with its copy held ("inside the windows only"),
#      and stays held for 6 simulated hours.
#   2. On (a reload): the copy is released outside any window ("copying
#      outside the off-peak windows"), the backfill runs, and the plan
#      reaches synced while no window was ever open.
# Under a loaded machine the manager may cancel a held plan for drift and
# make another (docs/prediction.md, Being wrong): hot_0's predicted plans are
# followed by source. Nothing is timed: the test waits for conditions.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PresplitTest;
use IPC::Run;
use Test::More tests => 7;

my $rate = 1440;
my $node = presplit_node('late_copy', qq{
timezone = 'UTC'
log_timezone = 'UTC'
presplit.naptime = 200
presplit.analyzer_sample_every = 1
presplit.clock_rate = $rate
presplit.analyzer_key_half_life = '6h'
presplit.predict = 'prepare'
presplit.split_load_threshold = 0.1
presplit.prediction_horizon = '24h'
presplit.maintenance_window = '00:00-01:00'
presplit.late_copy_outside_windows = off
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION pg_presplit;
CREATE TABLE hot (id bigint PRIMARY KEY, v int NOT NULL DEFAULT 0, pad text NOT NULL DEFAULT '')
  PARTITION BY RANGE (id);
CREATE TABLE hot_0 PARTITION OF hot FOR VALUES FROM (0) TO (100000);
CREATE TABLE hot_1 PARTITION OF hot FOR VALUES FROM (100000) TO (200000);
INSERT INTO hot (id, pad) SELECT g, repeat('x', 150) FROM generate_series(0, 59999) g;
INSERT INTO hot (id) SELECT g FROM generate_series(100000, 101999) g;
ANALYZE hot;
SELECT presplit.manage('hot');
});

# The reads of hot_0's keys: 10, 20, ... 250 per wall second, 8 s each,
# then 250 (the threshold of 0.1 per simulated second is 144 per wall second).
my $dir = PostgreSQL::Test::Utils::tempdir();
my $load = start_rising_reads($node, $dir, table => 'hot', from => 0, to => 19999,
	rates => [ map { 10 * $_ } 1 .. 25 ], hold_rate => 250, hold_seconds => 400);

sub events {
	return $node->safe_psql('postgres', q{
	SELECT string_agg(format('%s %s %s %s', at, plan_id, kind, detail), E'\n' ORDER BY id)
	  FROM presplit.events WHERE kind IN ('prediction', 'state_change', 'worker_error')});
}

# The simulated hour now (the model clock runs $rate times faster than the
# wall since the server started), and the window kept at the hour that just
# ended (reloaded with the setting given, if any).
my $last_hour = -1;
sub keep_window_behind {
	my ($setting) = @_;
	my $hour = $node->safe_psql('postgres',
		"SELECT extract(hour FROM s + (now() - s) * $rate)::int FROM pg_postmaster_start_time() s");
	return 0 if $hour == $last_hour && !defined $setting;
	my $window = sprintf('%02d:00-%02d:00', ($hour + 23) % 24, $hour);
	my $more = defined $setting ? "ALTER SYSTEM SET presplit.late_copy_outside_windows = $setting;" : '';
	$node->safe_psql('postgres', qq{
		ALTER SYSTEM SET presplit.maintenance_window = '$window'; $more
		SELECT pg_reload_conf();});
	$last_hour = $hour;
	return 1;
}
sub plan_row {
	return $node->safe_psql('postgres', q{
		SELECT id || ' ' || state || ' ' || copy_held FROM presplit.plan
		 WHERE origin = 'predicted' AND source = 'hot_0'::regclass
		   AND state NOT IN ('cancelled', 'failed') ORDER BY id DESC LIMIT 1});
}
# Whether the model clock is inside a window the manager knows.
sub in_window {
	return $node->safe_psql('postgres', q{
		SELECT EXISTS (SELECT FROM presplit.offpeak_windows w, pg_postmaster_start_time() s
		                WHERE s + (now() - s) * } . $rate . q{ BETWEEN w.starts AND w.ends)});
}

# 1. Off: the plan is made held, and stays held.
my ($plan, $held_hours, $seen) = ('', 0, '');
foreach my $tick (1 .. 400)
{
	my $moved = keep_window_behind();
	$seen = plan_row();
	if ($seen =~ /^(\d+) \S+ (\S+)$/)
	{
		last if $2 ne 'true';
		$held_hours++ if $moved && $plan ne '';
		$plan = $1;
		last if $held_hours >= 6;
	}
	sleep 1;
}
isnt($plan, '', 'the manager made a predicted plan') or note(events());
is($held_hours, 6, "strictly inside the windows, its copy stayed held 6 simulated hours ($seen)")
  or note(events());
like(events(), qr/ prediction (hold_copy|create_plan): .*cannot make it in the windows: .*inside the windows only: presplit\.late_copy_outside_windows is off/m,
	'its event says the windows cannot make it, and that copies stay inside them');

# 2. On: released outside the windows, copied, synced.
keep_window_behind('on');
my ($synced, $open) = (0, 0);
foreach my $tick (1 .. 400)
{
	keep_window_behind();
	$open++ if in_window() eq 't';
	$seen = plan_row();
	if ($seen =~ / synced /)
	{
		$synced = 1;
		last;
	}
	sleep 1;
}
ok($synced, "with presplit.late_copy_outside_windows on, the plan reached synced ($seen)")
  or note(events());
is($open, 0, 'no window was open meanwhile');
is($node->safe_psql('postgres', "SELECT count(*) FROM presplit.events WHERE kind = 'worker_error'"),
	'0', 'no worker error');
like(events(), qr/ prediction copy: .*; copy (outside_windows|late), .*; copying outside the off-peak windows: cannot make it in the windows: .* of it outside the windows, without a pause from/m,
	'its event says it copies outside the windows, with the numbers') or note(events());

$load->kill_kill;
note(events());
$node->stop;
