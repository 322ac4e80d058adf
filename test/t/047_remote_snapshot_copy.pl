# A split's remote target copied by the worker under the snapshot of its
# slot (presplit.remote_copy_by_snapshot, docs/multi_server.md, "Copy and
# sync"), with writes to its range during the copy (updates, a delete and
# an insert, rows moved across the split point):
#   0. writes committed between the slot's creation and the copy: the copy
#      reads without them, the subscription streams them, once;
#   1. the copy interrupted from the other server (its COPY's backend
#      terminated there): the worker drops what it made, says so with a
#      back-off (remote_split_retry), and copies again (no re-sync needed);
#   2. the plan worker killed during the copy: the slot it left here feeds
#      nothing, so the next plan worker re-syncs the target (the table there
#      emptied, copied again; remote_target_resync);
#   3. this server unreachable over a replication connection from itself:
#      the table sync copies instead, and the event says why;
#   4. presplit.remote_copy_by_snapshot off: the table sync copies.
# Each time the other server ends with exactly the rows of the range here
# (count, sum, an order-independent checksum), the plan synced; ended, no
# replication is left on either server.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PresplitTest;
use IPC::Run;
use Test::More tests => 23;

my ($node1, $node2) = presplit_server_pair(qq{
presplit.naptime = 100
presplit.backfill_batch_size = 2000
presplit.backfill_max_rows_per_second = 500
}, {}, "wal_retrieve_retry_interval = 500\n");

my $rows = 40000;
create_accounts($node1, $rows, 2);

# The range of the upper half of accounts_0 (ids 10000-19999), here and on
# node2.
my $range_sql = q{SELECT count(*) || ' ' || sum(balance) || ' '
  || sum(hashtextextended(id::text || ':' || balance, 0)) FROM };
sub range_here
{
	return $node1->safe_psql('postgres',
		"SET presplit.routing = off; $range_sql accounts_0 WHERE id >= 10000");
}
sub range_there
{
	return $node2->safe_psql('postgres', "$range_sql public.accounts_0");
}

# Passes once node2 holds the range as it is here (no more writes come: it
# catches up).
sub range_matches
{
	my ($name) = @_;
	my $here = range_here();
	ok($node2->poll_query_until('postgres', "SELECT ($range_sql public.accounts_0) = '$here'"), $name)
	  or diag('here ' . $here . ', there ' . range_there());
}

sub events
{
	my ($plan) = @_;
	return $node1->safe_psql('postgres',
		"SELECT string_agg(kind || ': ' || coalesce(detail, ''), E'\\n' ORDER BY id)"
		  . " FROM presplit.events WHERE plan_id = $plan");
}

# Rows received so far by a COPY into accounts_0 on node2.
sub copy_running_there
{
	my ($at_least) = @_;
	return $node2->poll_query_until('postgres', qq{
SELECT coalesce(max(tuples_processed), 0) >= $at_least FROM pg_stat_progress_copy
 WHERE relid = 'public.accounts_0'::regclass});
}

# Writes into the remote range while it copies: updates of rows copied and
# not yet copied, a delete, an insert, a row moved out of the range and one
# moved into it.
sub write_range
{
	my ($round) = @_;
	$node1->safe_psql('postgres', qq{
UPDATE accounts SET balance = balance + $round WHERE id IN (10001, 15000, 19998);
DELETE FROM accounts WHERE id = 12000 + $round;
INSERT INTO accounts VALUES (12000 + $round, 7);
DELETE FROM accounts WHERE id IN (13000 + $round, 9000 + $round, 16000 + $round);
UPDATE accounts SET id = 9000 + $round WHERE id = 14000 + $round;
UPDATE accounts SET id = 16000 + $round WHERE id = 8000 + $round;
});
}

# Verified: synced, or on to switching (ramp => false).
sub synced
{
	my ($plan) = @_;
	return $node1->poll_query_until('postgres',
		"SELECT state IN ('synced', 'switching') FROM presplit.plans WHERE id = $plan");
}

# The split of accounts_0 whose upper half (ids 10000-19999) goes to node2;
# returns the plan.
sub split_upper_half
{
	return $node1->safe_psql('postgres', q{
SELECT presplit.split_partition('accounts_0', '{10000}', ramp => false, servers => ARRAY[NULL, 'node2'])});
}

# Cancelled, or rolled back once switching; then no replication is left
# on either server, and the table there is gone for the next split.
sub end_plan
{
	my ($plan, $name) = @_;
	$node1->safe_psql('postgres', qq{
SELECT CASE WHEN state = 'switching' THEN presplit.rollback($plan) ELSE presplit.cancel($plan) END
  FROM presplit.plans WHERE id = $plan});
	no_replication_left($name, $node1, $node2);
	$node2->safe_psql('postgres', 'DROP TABLE IF EXISTS public.accounts_0');
}

# 0. Writes committed between the slot and the copy: the worker holds its
# slot, its events wait behind a lock on presplit.event, and the writes
# commit then. The copy must read under the slot's snapshot (without them)
# and the subscription stream them: a copy that took a snapshot of its own
# would hold them and have them applied again (the insert a duplicate key
# there, which stops the apply).
$node1->safe_psql('postgres', 'ALTER SYSTEM SET presplit.backfill_paused = on; SELECT pg_reload_conf()');
# A key the window inserts anew: applied twice, a duplicate key there.
$node1->safe_psql('postgres', 'DELETE FROM accounts WHERE id = 11111');
my $plan = split_upper_half();
my $locker = IPC::Run::start(
	[ 'psql', '-X', '-h', $node1->host, '-p', $node1->port, '-d', 'postgres', '-c',
	  'BEGIN; LOCK TABLE presplit.event IN SHARE MODE; SELECT pg_sleep(600)' ],
	'>', '/dev/null', '2>', '/dev/null');
$node1->poll_query_until('postgres', q{
SELECT EXISTS (SELECT FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                WHERE l.relation = 'presplit.event'::regclass AND l.mode = 'ShareLock' AND l.granted)})
  or die 'the lock was not taken';
$node1->safe_psql('postgres', 'ALTER SYSTEM RESET presplit.backfill_paused; SELECT pg_reload_conf()');
# The worker made the slot (its snapshot taken) and now waits to log it.
$node1->poll_query_until('postgres', q{
SELECT EXISTS (SELECT FROM pg_locks WHERE relation = 'presplit.event'::regclass AND NOT granted)})
  or die 'the worker did not wait for the lock';
is($node1->safe_psql('postgres',
		"SELECT confirmed_flush_lsn IS NOT NULL FROM pg_replication_slots WHERE slot_name = 'presplit_split_${plan}_1'"),
	't', 'the slot is made, its snapshot exported, before the writes');
write_range(1);
$node1->safe_psql('postgres', 'INSERT INTO accounts VALUES (11111, 5)');
$node1->safe_psql('postgres', q{
SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'BEGIN; LOCK TABLE presplit.event%'});
$locker->finish;
ok(synced($plan), 'writes between the slot and the copy: the plan synced') or diag(events($plan));
range_matches('... node2 holds them once, from the stream');
end_plan($plan, 'ended after writes between the slot and the copy');

# 1. The copy's COPY terminated on node2.
$plan = split_upper_half();
copy_running_there(2000) or die 'the copy did not start: ' . events($plan);
write_range(2);
is($node2->safe_psql('postgres', q{SELECT count(*) FROM pg_subscription WHERE subenabled}), '0',
	'while the rows are copied, no subscription there yet');
$node2->safe_psql('postgres', q{
SELECT pg_terminate_backend(pid) FROM pg_stat_progress_copy WHERE relid = 'public.accounts_0'::regclass});
$node1->poll_query_until('postgres', qq{
SELECT EXISTS (SELECT FROM presplit.events WHERE plan_id = $plan AND kind = 'remote_split_retry')})
  or die 'no retry: ' . events($plan);
like($node1->safe_psql('postgres', qq{
SELECT detail FROM presplit.events WHERE plan_id = $plan AND kind = 'remote_split_retry'}),
	qr/node2/, 'the interrupted copy: a retry, naming the server');
# The copy again, with writes during it.
copy_running_there(2000) or die 'the copy did not start again: ' . events($plan);
write_range(3);
ok(synced($plan), 'copied again, the plan synced') or diag(events($plan));
write_range(4);
range_matches('node2 holds the range as it is here, the writes during and after the copies included');
is($node1->safe_psql('postgres', qq{
SELECT count(*) FILTER (WHERE kind = 'remote_copy_started') || ' ' || count(*) FILTER (WHERE kind = 'remote_copy_done')
    || ' ' || count(*) FILTER (WHERE kind = 'remote_target_resync')
  FROM presplit.events WHERE plan_id = $plan}), '2 1 0',
	'two copies started, one done, no re-sync: the failed one dropped what it made');
like($node1->safe_psql('postgres', qq{
SELECT detail FROM presplit.events WHERE plan_id = $plan AND kind = 'remote_copy_done'}),
	qr/\d+ rows copied; the subscription presplit_split_${plan}_1 created there on its slot, without a copy/,
	'the copy that completed says its rows and its subscription');
is($node1->safe_psql('postgres', q{SELECT string_agg(slot_name, ',') FROM pg_replication_slots}),
	"presplit_split_${plan}_1", 'one slot here: the copy that failed left none');
end_plan($plan, 'ended after an interrupted copy');

# 2. The plan worker killed during the copy.
$plan = split_upper_half();
copy_running_there(2000) or die 'the copy did not start: ' . events($plan);
write_range(5);
$node1->safe_psql('postgres', q{
SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'pg_presplit plan worker'});
$node1->poll_query_until('postgres', qq{
SELECT EXISTS (SELECT FROM presplit.events WHERE plan_id = $plan AND kind = 'remote_target_resync')})
  or die 'no re-sync: ' . events($plan);
like($node1->safe_psql('postgres', qq{
SELECT detail FROM presplit.events WHERE plan_id = $plan AND kind = 'remote_target_resync'}),
	qr/the subscription presplit_split_${plan}_1 on server "node2" was gone; the table there emptied and copied again/,
	'the worker killed during the copy: the slot it left re-synced, with an event');
write_range(6);
ok(synced($plan), 're-synced, the plan synced') or diag(events($plan));
range_matches('node2 holds the range as it is here, after the re-sync');
end_plan($plan, 'ended after a killed worker');

# 3. This server unreachable over a replication connection from itself
# (here: its libpq asks for a standby, which it is not; the other server
# connects back without asking): the table sync copies instead, and says
# why.
$node1->safe_psql('postgres', "ALTER SERVER node2 OPTIONS (ADD target_session_attrs 'any')");
$node1->stop;
{
	local $ENV{PGTARGETSESSIONATTRS} = 'standby';
	$node1->start;
}
$node1->safe_psql('postgres', 'ALTER SYSTEM RESET presplit.backfill_max_rows_per_second; SELECT pg_reload_conf()');
$plan = split_upper_half();
ok(synced($plan), 'this server unreachable for the copy: synced') or diag(events($plan));
like($node1->safe_psql('postgres', qq{
SELECT detail FROM presplit.events WHERE plan_id = $plan AND kind = 'remote_copy_started'}),
	qr/its initial table sync copies the rows now.*not copied under the slot's snapshot: could not connect to server "this server \(presplit.publisher_conninfo\)"/,
	'... by the table sync, the event says why');
range_matches('... node2 holds the range');
end_plan($plan, 'ended after a table sync instead');
$node1->restart;

# 4. presplit.remote_copy_by_snapshot off: the table sync copies.
$node1->safe_psql('postgres', 'ALTER SYSTEM SET presplit.remote_copy_by_snapshot = off; SELECT pg_reload_conf()');
$plan = split_upper_half();
ok(synced($plan), 'by table sync: synced') or diag(events($plan));
like($node1->safe_psql('postgres', qq{
SELECT detail FROM presplit.events WHERE plan_id = $plan AND kind = 'remote_copy_started'}),
	qr/its initial table sync copies the rows now \(paced by presplit.backfill_max_rows_per_second\)$/,
	'... the event says so');
end_plan($plan, 'ended after a table sync');

$node1->stop;
$node2->stop;
