# presplit.predict_servers: a predicted split puts its upper piece on another
# server. Two servers (presplit_server_pair), presplit.predict = 'prepare',
# a clock 1440 times faster than the wall (a day lasts a minute), and one
# partition whose reads grow step by step towards the load threshold (as in
# 014_prediction.pl).
#   1. presplit.predict_servers names node3, a postgres_fdw server the
#      table's owner has no user mapping for: the manager makes no plan and
#      says why in an event (advice only, docs/prediction.md).
#   2. The table's own list names node2 (presplit.set_predict_servers), and
#      the maintenance window is kept some simulated hours ahead: the next
#      plan's upper piece goes to node2; its copy (the subscription, whose
#      table sync copies the rows) waits for the window, then the plan
#      reaches synced with the rows on node2.
#   3. split_partition(source) reuses it and cuts over onto node2; no
#      replication slot, publication or subscription is left on either side.
# Nothing is timed: the test waits for conditions.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PresplitTest;
use IPC::Run;
use Test::More tests => 13;

my $rate = 1440;
# The ramp (remote targets have weighted reads) in two short steps: part 3
# switches with no reads, so each step waits ramp_evidence_timeout. A
# remote read is slower by design (a round trip, a cold connection): judged
# on errors, not latency (README, "Weighted reads onto other servers"); the
# last pgbench of the load may still read while it ramps.
my ($node1, $node2) = presplit_server_pair(qq{
timezone = 'UTC'
log_timezone = 'UTC'
presplit.naptime = 200
presplit.backfill_batch_size = 5000
presplit.analyzer_sample_every = 1
presplit.clock_rate = $rate
presplit.analyzer_key_half_life = '6h'
presplit.predict = 'prepare'
presplit.split_load_threshold = 0.1
presplit.prediction_horizon = '24h'
presplit.maintenance_window = '01:00-07:00,13:00-19:00'
presplit.predict_servers = 'node3'
presplit.ramp_step = 50
presplit.ramp_interval = '1s'
presplit.ramp_evidence_timeout = '1s'
presplit.ramp_min_latency_increase = 60000
});
my ($host, $port) = ($node2->host, $node2->port);
# node3: the same server as node2, but no user mapping for the owner.
# A table with foreign partitions has no unique index of its own: the
# primary key is on each partition.
$node1->safe_psql('postgres', qq{
CREATE SERVER node3 FOREIGN DATA WRAPPER postgres_fdw
    OPTIONS (host '$host', port '$port', dbname 'postgres');
CREATE TABLE hot (id bigint NOT NULL, v int NOT NULL DEFAULT 0) PARTITION BY RANGE (id);
CREATE TABLE hot_0 PARTITION OF hot (PRIMARY KEY (id)) FOR VALUES FROM (0) TO (100000);
CREATE TABLE hot_1 PARTITION OF hot (PRIMARY KEY (id)) FOR VALUES FROM (100000) TO (200000);
INSERT INTO hot (id, v) SELECT g, g % 7 FROM generate_series(0, 19999) g;
INSERT INTO hot (id) SELECT g FROM generate_series(100000, 101999) g;
SELECT presplit.manage('hot');
});

# The reads of hot_0's keys 0-19999: 10, 20, ... 250 per wall second, 8 s
# each, then 250 (the threshold of 0.1 per simulated second is 144 per wall
# second).
my $dir = PostgreSQL::Test::Utils::tempdir();
my $load = start_rising_reads($node1, $dir, table => 'hot', from => 0, to => 19999,
	rates => [ map { 10 * $_ } 1 .. 25 ], hold_rate => 250, hold_seconds => 200);

sub events {
	return $node1->safe_psql('postgres', q{
	SELECT string_agg(format('%s %s %s %s', at, plan_id, kind, detail), E'\n' ORDER BY id)
	  FROM presplit.events WHERE kind IN ('prediction', 'state_change', 'remote_target',
	                                      'remote_copy_started', 'worker_error')});
}

# The simulated time of a timestamp (the model clock runs $rate times faster
# than the wall since the server started).
sub simulated { my ($at) = @_; return "(s + ($at - s) * $rate)"; }

# 1. node3: no user mapping for the owner. No plan; an event says why.
my $fallback = '';
foreach my $tick (1 .. 300)
{
	$fallback = $node1->safe_psql('postgres', q{
		SELECT detail FROM presplit.events
		 WHERE kind = 'prediction' AND detail LIKE '%no server of the predict servers%'
		 ORDER BY id LIMIT 1});
	last if $fallback ne '';
	sleep 1;
}
like($fallback,
	qr/^advise: load .*split point \d+ .*no plan: .*server "node3": no user mapping for the table's owner on server "node3" \(CREATE USER MAPPING/,
	'node3 without a user mapping: advice only, the event says why and what to do')
  or note(events());
is($node1->safe_psql('postgres', q{SELECT count(*) FROM presplit.plans WHERE origin = 'predicted'}),
	'0', 'no predicted plan was made');

# 2. The table's own list: node2. Until the plan shows, the maintenance
# window is kept 6 to 10 simulated hours ahead of the model clock (moved
# each simulated hour), so that the plan is made outside it and its copy is
# held; then the window stays, and comes. It is moved there before node2 is
# listed: the fixed windows of the settings above may be open now (the
# model clock starts at the wall clock's time of day).
my ($plan, $held_first, $window, $from, $to, $last_hour) = ('', '', '', 0, 0, -1);
sub keep_window_ahead
{
	my $hour = $node1->safe_psql('postgres',
		"SELECT extract(hour FROM " . simulated('now()') . ")::int FROM pg_postmaster_start_time() s");
	return if $hour == $last_hour;
	($from, $to, $last_hour) = (($hour + 6) % 24, ($hour + 10) % 24, $hour);
	$window = sprintf('%02d:00-%02d:00', $from, $to);
	$node1->safe_psql('postgres', qq{
		ALTER SYSTEM SET presplit.maintenance_window = '$window';
		SELECT pg_reload_conf();});
}
keep_window_ahead();
$node1->poll_query_until('postgres', "SELECT current_setting('presplit.maintenance_window') = '$window'")
  or die 'the moved window was not loaded';
sleep 1; # the worker reloads at its next nap (presplit.naptime: 0.2 s)
$node1->safe_psql('postgres', q{SELECT presplit.set_predict_servers('hot', ARRAY['node2'])});
foreach my $tick (1 .. 240)
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
	keep_window_ahead();
	sleep 1;
}
isnt($plan, '', 'with node2 in the table\'s list, the manager made a predicted plan')
  or note(events());
is($held_first, 't 0', "made outside the window ($window): its copy held, nothing subscribed on node2");
is($node1->safe_psql('postgres', qq{
	SELECT string_agg(coalesce(server, 'here'), ',' ORDER BY ordinal) FROM presplit.shadow
	 WHERE plan_id = $plan}), 'here,node2', 'its upper piece is a target on node2');
like($node1->safe_psql('postgres', qq{
	SELECT detail FROM presplit.events WHERE plan_id = $plan AND kind = 'prediction'
	 ORDER BY id LIMIT 1}),
	qr/^create_plan: load .*its upper piece onto server "node2"/,
	'the plan\'s event says where its upper piece goes');

# Followed by source, not by id: under a loaded machine the manager may
# cancel the held plan for drift (the sampled load's middle seen moving)
# and make another, which is its job (docs/prediction.md, Being wrong).
my $synced = $node1->poll_query_until('postgres', q{
	SELECT EXISTS (SELECT FROM presplit.plan WHERE origin = 'predicted'
	                  AND source = 'hot_0'::regclass AND state = 'synced')});
ok($synced, 'the predicted plan reached synced') or note(events());
$plan = $node1->safe_psql('postgres', q{
	SELECT max(id) FROM presplit.plan WHERE origin = 'predicted' AND source = 'hot_0'::regclass})
  if $synced;

# The copy began when the subscription was made: inside the window.
my $began = $node1->safe_psql('postgres', qq{
	SELECT extract(hour FROM } . simulated('e.at') . qq{)::int
	  FROM presplit.events e, pg_postmaster_start_time() s
	 WHERE e.plan_id = $plan AND e.kind = 'remote_copy_started'});
my $inside = $began ne ''
  && ($from < $to ? ($began >= $from && $began < $to) : ($began >= $from || $began < $to));
ok($inside, "node2's copy (its subscription) began inside the window $window (simulated hour $began)")
  or note(events());

# node2 holds the upper piece's rows, as hot_0 has them.
my $split = $node1->safe_psql('postgres', "SELECT split_points[1] FROM presplit.plan WHERE id = $plan");
is($node2->safe_psql('postgres', 'SELECT count(*) || \' \' || sum(v) FROM public.hot_0'),
	$node1->safe_psql('postgres', "SELECT count(*) || ' ' || sum(v) FROM hot_0 WHERE id >= $split"),
	"node2 has every row of the upper piece (from $split)");

# 3. split_partition(source) reuses it and cuts over onto node2.
$load->kill_kill;
is($node1->safe_psql('postgres', q{SELECT presplit.split_partition('hot_0')}),
	$plan, 'split_partition(hot_0) reuses the predicted plan');
is($node1->safe_psql('postgres', qq{SELECT presplit.wait($plan, 'cut_over', '3 min')}),
	'cut_over', 'and cuts it over onto node2');
is($node1->safe_psql('postgres', 'SELECT count(*) || \' \' || sum(v) FROM hot'),
	'22000 ' . $node1->safe_psql('postgres', 'SELECT sum(g % 7) FROM generate_series(0, 19999) g'),
	'every row through the parent (a local and a foreign partition)');
$node1->safe_psql('postgres', "SELECT presplit.finalize($plan)");
$node1->poll_query_until('postgres',
	'SELECT NOT EXISTS (SELECT FROM pg_replication_slots) AND NOT EXISTS (SELECT FROM pg_publication)');
is($node1->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM pg_publication) || ' ' || (SELECT count(*) FROM pg_replication_slots)})
	  . ' ' . $node2->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM pg_subscription) || ' ' || (SELECT count(*) FROM pg_replication_slots)}),
	'0 0 0 0', 'no publication, subscription or replication slot left on either server');
note(events());

$node1->stop;
$node2->stop;
