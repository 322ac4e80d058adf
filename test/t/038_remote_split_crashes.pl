# A split onto another server when servers crash in its reverse phase
# (docs/multi_server.md, "Rollback after the cutover" and "Faults"): after
# the cutover, with writes made there flowing back through the reverse
# direction; during a rollback after the cutover, before its swap (held by a
# lock) and after it (the worker's clean-up held by a lock there); during
# finalize (held by a lock). Each server crashes in turn (immediate stop,
# then start); after each the worker goes on, the reverse direction catches
# up, and the invariant (row count, total balance) holds through the parent
# and over both servers read directly. Also: the other server down after the
# cutover gives remote_split_retry events with a back-off, no worker_error
# flood; a finalize whose lock fails, or that cannot reach the other server,
# leaves the plan exactly as it was (its reverse direction running). At the
# end no replication slot, publication or subscription is left on either
# server.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use IPC::Run;
use PresplitTest;
use Test::More tests => 40;

my ($node1, $node2) = presplit_server_pair(qq{
presplit.naptime = 100
presplit.backfill_batch_size = 2000
presplit.remote_catchup_timeout = 3000
wal_retrieve_retry_interval = 500
}, { allows_streaming => 'logical' }, "wal_retrieve_retry_interval = 500\nwal_writer_delay = 10ms\n");

my $rows = 20000;
my $total = create_accounts($node1, $rows, 2);

my $script = write_transfer_script(PostgreSQL::Test::Utils::tempdir,
	{ debit => [ 0, 9999 ], credit => [ 0, 19999 ] });

# pgbench transfers for a few seconds, half of them onto the other server
# (ids 5000-9999 once cut over). Each is one statement: the total never
# changes. Never while a server crashes: postgres_fdw has no two-phase
# commit, and a crash between the commits there and here would lose one
# side of a transfer.
sub transfers {
	my ($seconds) = @_;
	my ($out, $err) = ('', '');
	my $load = start_pgbench($node1, $script, 2, $seconds, \$out, \$err);
	$load->finish or die "pgbench failed: $out\n$err";
	my ($done, $failed) = pgbench_counts($out);
	die "pgbench: $failed transactions failed\n$out" if $failed;
}

sub events {
	return $node1->safe_psql('postgres',
		"SELECT string_agg(kind || ': ' || detail, E'\\n' ORDER BY id) FROM presplit.events");
}

sub wait_for {
	my ($node, $query, $what) = @_;
	$node->poll_query_until('postgres', $query)
	  or die "timed out waiting for $what: " . events();
}

sub crash_and_restart {
	my ($node) = @_;
	$node->stop('immediate');
	$node->start;
}

sub state_of {
	my ($plan) = @_;
	return $node1->safe_psql('postgres', "SELECT state FROM presplit.plans WHERE id = $plan");
}

# Starts $sql in a psql of its own, with the lock settings of $options
# (PGOPTIONS); finish() waits for it.
sub start_call {
	my ($sql, $options) = @_;
	my %call = (out => '', err => '');
	local $ENV{PGOPTIONS} = $options;
	$call{harness} = IPC::Run::start(
		[ 'psql', '-X', '-v', 'ON_ERROR_STOP=1', '-d', $node1->connstr('postgres'), '-c', $sql ],
		'>', \$call{out}, '2>', \$call{err});
	return \%call;
}

# A lock request of a call of $function waits here.
sub wait_for_lock_request {
	my ($function) = @_;
	wait_for($node1, qq{
SELECT EXISTS (SELECT FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                WHERE NOT l.granted AND a.query LIKE '%presplit.$function%')},
		"$function waiting for its lock");
}

# A session here holding ACCESS SHARE on $table (ONLY).
sub hold_lock {
	my ($node, $table) = @_;
	my $holder = $node->background_psql('postgres');
	$holder->query_safe("BEGIN; LOCK TABLE ONLY $table IN ACCESS SHARE MODE");
	return $holder;
}

# Lock waits that last until a crash or a release (each try up to a minute).
my $wait_long = '-c presplit.cutover_lock_timeout=60000 -c presplit.cutover_max_tries=10'
  . ' -c presplit.cutover_max_wait=600000';

# After a crash, with the plan cut over: the reverse subscription runs
# again and the kept old partition has caught up with the range (its local
# half by reverse capture, its remote half by the reverse direction); the
# invariant through the parent and over both servers read directly.
sub cut_over_and_whole {
	my ($plan, $name) = @_;
	my $back = "presplit_back_split_${plan}_1";
	wait_for($node1, qq{
SELECT EXISTS (SELECT FROM pg_stat_subscription WHERE subname = '$back' AND pid IS NOT NULL)},
		"the reverse subscription running again ($name)");
	my $there = $node2->safe_psql('postgres',
		'SELECT count(*) || \' \' || sum(balance) FROM public.accounts_0');
	my ($n2, $s2) = split / /, $there;
	my ($nl, $sl) = split / /, $node1->safe_psql('postgres',
		'SELECT count(*) || \' \' || sum(balance) FROM accounts WHERE id < 5000');
	ok($node1->poll_query_until('postgres',
		"SELECT count(*) || ' ' || sum(balance) = '" . ($nl + $n2) . ' ' . ($sl + $s2)
		  . "' FROM ONLY accounts_0"),
		"$name: the reverse direction resumed; the kept old partition caught up");
	accounts_invariant_ok($node1, $rows, $total, "$name: invariant through the parent");
	my ($nh, $sh) = split / /, $node1->safe_psql('postgres',
		'SELECT count(*) || \' \' || sum(balance) FROM accounts WHERE id < 5000 OR id >= 10000');
	is(($nh + $n2) . ' ' . ($sh + $s2) . ' ' . $n2, "$rows $total 5000",
		"$name: invariant over both servers read directly, the other one holding its range");
}

# A split of accounts_0, its upper half onto node2, cut over by hand; the
# worker starts its reverse direction and drops the forward one.
sub split_and_cut_over {
	my $plan = $node1->safe_psql('postgres', q{
SELECT presplit.split_partition('accounts_0', '{5000}', ramp => false, servers => ARRAY[NULL, 'node2'])});
	wait_for($node1, "SELECT state = 'switching' FROM presplit.plans WHERE id = $plan",
		"plan $plan switching");
	$node1->safe_psql('postgres', "SELECT presplit.cutover($plan)");
	wait_for($node1, qq{
SELECT NOT EXISTS (SELECT FROM pg_publication)
   AND EXISTS (SELECT FROM presplit.events WHERE plan_id = $plan AND kind = 'remote_reverse')},
		"the reverse direction of plan $plan");
	return $plan;
}

# 1. After the cutover, with writes made there flowing back.
my $plan = split_and_cut_over();
my $back = "presplit_back_split_${plan}_1";
is(replication_objects($node2), "publications: $back; slots: $back; subscriptions: ",
	'cut over: the reverse publication and slot on the other server');
transfers(3);
crash_and_restart($node1);
cut_over_and_whole($plan, 'crash of this server after writes there');

# The other server down: the plan worker's tries back off, and their events
# thin out (the 1st, 2nd, 4th ... failure in a row), with no worker_error.
transfers(3);
my $last_event = $node1->safe_psql('postgres', 'SELECT max(id) FROM presplit.events');
$node2->stop('immediate');
wait_for($node1, qq{
SELECT EXISTS (SELECT FROM presplit.events WHERE id > $last_event AND kind = 'remote_split_retry'
                  AND detail LIKE '%failure 4 in a row%')},
	'the 4th failure in a row while the other server is down');
like($node1->safe_psql('postgres', qq{
SELECT string_agg(substring(detail FROM 'failure ([0-9]+) in a row'), ' ' ORDER BY id)
  FROM presplit.events WHERE id > $last_event AND kind = 'remote_split_retry'
   AND detail LIKE 'split plan $plan: could not connect to server "node2"%'}),
	qr/^1 2 4( 8)?$/,
	'the other server down after the cutover: remote_split_retry events for the 1st, 2nd and 4th failure only');
is($node1->safe_psql('postgres', qq{
SELECT count(*) FROM presplit.events WHERE id > $last_event AND kind = 'worker_error'}),
	'0', 'no worker_error event meanwhile');
$node2->start;
cut_over_and_whole($plan, 'crash of the other server after writes there');

# 2. A rollback after the cutover waits for its lock on the parent; this
# server crashes: nothing of it is left, the plan stays cut over.
my $holder = hold_lock($node1, 'accounts');
my $call = start_call("SELECT presplit.rollback($plan)", $wait_long);
wait_for_lock_request('rollback');
$node1->stop('immediate');
$call->{harness}->finish;
eval { $holder->quit };
$node1->start;
is(state_of($plan), 'cut_over', 'crash of this server during a rollback before its swap: still cut over');
cut_over_and_whole($plan, 'crash of this server during a rollback');

# The same, the other server crashing: the rollback, released, cannot wait
# for that server's last changes and fails, changing nothing.
transfers(2);
$holder = hold_lock($node1, 'accounts');
$call = start_call("SELECT presplit.rollback($plan)", $wait_long);
wait_for_lock_request('rollback');
crash_and_restart($node2);
$holder->quit;
$call->{harness}->finish;
ok($call->{harness}->result != 0 && $call->{err} =~ /ERROR/,
	'crash of the other server during a rollback before its swap: the rollback fails')
  or diag("$call->{out}\n$call->{err}");
is(state_of($plan) . ' ' . replication_objects($node1), "cut_over publications: ; slots: ; subscriptions: $back",
	'the failed rollback changed nothing here');
cut_over_and_whole($plan, 'crash of the other server during a rollback');

# 3. The rollback swaps; the worker's clean-up there is held by a lock on the
# table there (its DROP TABLE times out and is retried, with events); this
# server crashes during it, then the other one (ending the lock).
transfers(2);
$node1->safe_psql('postgres', 'BEGIN; UPDATE accounts SET balance = balance + 1000000 WHERE id = 9999;'
	  . ' UPDATE accounts SET balance = balance - 1000000 WHERE id = 0; COMMIT');
my $remote_holder = hold_lock($node2, 'public.accounts_0');
$last_event = $node1->safe_psql('postgres', 'SELECT max(id) FROM presplit.events');
$node1->safe_psql('postgres', "SELECT presplit.rollback($plan)");
is(state_of($plan), 'rolled_back', 'rolled back after the cutover');
wait_for($node1, qq{
SELECT EXISTS (SELECT FROM presplit.events WHERE id > $last_event AND kind = 'remote_split_retry'
                  AND detail LIKE 'split plan $plan: %statement timeout%')},
	'the clean-up held by the lock there');
crash_and_restart($node1);
$last_event = $node1->safe_psql('postgres', 'SELECT max(id) FROM presplit.events');
wait_for($node1, qq{
SELECT EXISTS (SELECT FROM presplit.events WHERE id > $last_event AND kind = 'remote_split_retry')},
	'the clean-up tried again after the crash');
$node2->stop('immediate');
eval { $remote_holder->quit };
$node2->start;
wait_for($node2, q{
SELECT NOT EXISTS (SELECT FROM pg_replication_slots) AND NOT EXISTS (SELECT FROM pg_publication)
   AND to_regclass('public.accounts_0') IS NULL},
	'the clean-up there');
wait_for($node1, 'SELECT NOT EXISTS (SELECT FROM pg_subscription)', 'the clean-up here');
no_replication_left('crashes of both servers during the clean-up after a rollback', $node1, $node2);
accounts_invariant_ok($node1, $rows, $total, 'invariant after the rollback');
cmp_ok($node1->safe_psql('postgres', 'SELECT balance FROM ONLY accounts_0 WHERE id = 9999'), '>', 500000,
	'the write made there after the cutover is in the old partition');

# 4. finalize. Its lock not granted: it fails, and leaves the plan exactly
# as it was -- the reverse direction running, so that a rollback is still
# possible.
$plan = split_and_cut_over();
$back = "presplit_back_split_${plan}_1";
transfers(2);
my $here_before = replication_objects($node1);
my $there_before = replication_objects($node2);
$holder = hold_lock($node1, 'accounts_0');
$call = start_call("SELECT presplit.finalize($plan)",
	'-c presplit.cutover_lock_timeout=100 -c presplit.cutover_max_tries=2 -c presplit.cutover_max_wait=2000');
$call->{harness}->finish;
ok($call->{harness}->result != 0 && $call->{err} =~ /ERROR/, 'finalize whose lock is not granted fails')
  or diag("$call->{out}\n$call->{err}");
$holder->quit;
is(state_of($plan) . '; ' . replication_objects($node1) . '; ' . replication_objects($node2),
	"cut_over; $here_before; $there_before",
	'the failed finalize left the plan cut over with its reverse direction, here and there');
is($node1->safe_psql('postgres', qq{
SELECT count(*) FROM presplit.events WHERE plan_id = $plan AND kind = 'remote_reverse_lost'}),
	'0', 'no remote_reverse_lost event');
cut_over_and_whole($plan, 'after the failed finalize');

# Crashes during finalize, held by the lock: this server ...
$holder = hold_lock($node1, 'accounts_0');
$call = start_call("SELECT presplit.finalize($plan)", $wait_long);
wait_for_lock_request('finalize');
$node1->stop('immediate');
$call->{harness}->finish;
eval { $holder->quit };
$node1->start;
is(state_of($plan), 'cut_over', 'crash of this server during finalize: still cut over');
cut_over_and_whole($plan, 'crash of this server during finalize');

# ... and the other one, down when finalize gets its lock: it fails without
# dropping anything; once that server is back, finalize ends the plan.
transfers(2);
$holder = hold_lock($node1, 'accounts_0');
$call = start_call("SELECT presplit.finalize($plan)", $wait_long);
wait_for_lock_request('finalize');
$node2->stop('immediate');
$holder->quit;
$call->{harness}->finish;
ok($call->{harness}->result != 0 && $call->{err} =~ /could not connect to server "node2"/,
	'the other server down when finalize got its lock: finalize fails')
  or diag("$call->{out}\n$call->{err}");
is(state_of($plan) . ' ' . replication_objects($node1), "cut_over publications: ; slots: ; subscriptions: $back",
	'the failed finalize changed nothing here');
$node2->start;
cut_over_and_whole($plan, 'crash of the other server during finalize');
$node1->safe_psql('postgres', "SELECT presplit.finalize($plan)");
is($node1->safe_psql('postgres', qq{
SELECT state || ' ' || (to_regclass('accounts_0') IS NULL) FROM presplit.plans WHERE id = $plan}),
	'finalized true', 'finalize after the other server came back');
accounts_invariant_ok($node1, $rows, $total, 'invariant after finalize');
no_replication_left('after finalize', $node1, $node2);
