# Moves to another server when things break, and the rollback after the
# cutover (docs/multi_server.md, "Rollback after the cutover" and "Faults"):
# - crashes (immediate stops) of this server and of the other one in each
#   state a move can be held in -- preparing, backfilling, synced, cut_over --
#   after which the worker goes on;
# - the other server down at the cutover: refused, nothing changed;
# - replication broken: a forward subscription disabled (enabled again), the
#   forward slot dropped (re-synced; 036 in detail), the reverse
#   subscription disabled (enabled again), the reverse slot dropped (the
#   reverse direction is lost, the rollback refused), the replication
#   connections killed (the walsender there, the apply worker here);
# - a rollback after the cutover with pgbench writing through the foreign
#   partition in between: the invariant (row count, total balance) holds;
# - no replication slot left on either server after every finished phase.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PresplitTest;
use Test::More tests => 36;

my ($node1, $node2) = presplit_server_pair(qq{
presplit.naptime = 100
presplit.remote_catchup_timeout = 3000
wal_retrieve_retry_interval = 500
}, { allows_streaming => 'logical' }, "max_replication_slots = 10\nwal_retrieve_retry_interval = 500\n");

my $rows = 20000;
my $total = create_accounts($node1, $rows, 2, manage => 0);

my $script = write_transfer_script(PostgreSQL::Test::Utils::tempdir,
	{ debit => [ 0, 9999 ], credit => [ 0, 19999 ] });

# pgbench transfers for a few seconds; returns how many transactions ran.
# Each is one statement (one transaction): the total never changes.
sub transfers {
	my ($seconds) = @_;
	my ($out, $err) = ('', '');
	start_pgbench($node1, $script, 2, $seconds, \$out, \$err)->finish
	  or die "pgbench failed: $out\n$err";
	my ($done, $failed) = pgbench_counts($out);
	die "pgbench: $failed transactions failed\n$out" if $failed;
	return $done;
}

sub state_of {
	my ($move) = @_;
	return $node1->safe_psql('postgres', "SELECT state FROM presplit.remote_move WHERE id = $move");
}

sub wait_for {
	my ($node, $query, $what) = @_;
	$node->poll_query_until('postgres', $query)
	  or die "timed out waiting for $what: "
	  . $node1->safe_psql('postgres',
		"SELECT string_agg(kind || ': ' || detail, E'\\n' ORDER BY id) FROM presplit.events"
		  . " WHERE kind LIKE 'remote%'");
}

sub crash_and_restart {
	my ($node) = @_;
	$node->stop('immediate');
	$node->start;
}

sub invariant {
	my ($name) = @_;
	accounts_invariant_ok($node1, $rows, $total, "$name: invariant (row count, total balance)");
}

sub events_of {
	my ($move, $kind) = @_;
	return $node1->safe_psql('postgres', qq{
SELECT count(*) FROM presplit.events WHERE kind = '$kind' AND detail LIKE 'move $move:%'});
}

# 1. preparing: the worker cannot create the subscription while a
# transaction with an xid runs here (creating the slot waits for it). A
# crash of this server then: after it, the worker goes on.
my $blocker = $node1->background_psql('postgres');
$blocker->query_safe('BEGIN; SELECT txid_current()');
$node1->safe_psql('postgres', 'ALTER SYSTEM SET presplit.backfill_paused = on');
$node1->reload;
my $move = $node1->safe_psql('postgres', q{SELECT presplit.move_partition('accounts_0', 'node2')});
wait_for($node1, qq{SELECT count(*) > 0 FROM presplit.events
  WHERE kind = 'remote_move_retry' AND detail LIKE 'move $move:%'}, 'a retry while preparing');
is(state_of($move), 'preparing', 'a transaction holding back the slot: the move waits in preparing');
$node1->stop('immediate');
eval { $blocker->quit };
$node1->start;
wait_for($node1, "SELECT state = 'backfilling' FROM presplit.remote_move WHERE id = $move",
	'backfilling after the crash');
pass('crash of this server in preparing: the worker went on to backfilling');

# 2. backfilling (held before the verification by backfill_paused): crashes
# of both servers, then a disabled subscription there (enabled again).
wait_for($node2, 'SELECT count(*) = 10000 FROM public.accounts_0', 'the initial copy');
crash_and_restart($node1);
crash_and_restart($node2);
transfers(2);
$node2->safe_psql('postgres', "ALTER SUBSCRIPTION presplit_move_$move DISABLE");
wait_for($node2, "SELECT subenabled FROM pg_subscription WHERE subname = 'presplit_move_$move'",
	'the subscription enabled again');
ok(events_of($move, 'remote_move_repaired') > 0,
	'a disabled subscription there: enabled again, with an event');
is(state_of($move), 'backfilling', 'crashes of both servers in backfilling: still backfilling');

# 3. synced: a long transaction reading the partition holds the cutover
# back after the verification; the other server goes down meanwhile, this
# one crashes: the cutover is refused and nothing changes.
my $reader = $node1->background_psql('postgres');
$reader->query_safe('BEGIN; SELECT count(*) FROM accounts_0');
$node1->safe_psql('postgres', 'ALTER SYSTEM RESET presplit.backfill_paused');
$node1->reload;
wait_for($node1, "SELECT state = 'synced' FROM presplit.remote_move WHERE id = $move", 'synced');
$node2->stop('immediate');
$reader->quit;
wait_for($node1, qq{SELECT count(*) > 0 FROM presplit.events WHERE kind = 'remote_move_retry'
  AND detail LIKE 'move $move: could not connect to server "node2"%'
  AND id > (SELECT max(id) FROM presplit.events WHERE kind = 'remote_move_verified')},
	'a retry of the cutover');
is($node1->safe_psql('postgres', qq{
SELECT state || ' ' || (SELECT relkind::text FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid
                        WHERE c.relname = 'accounts_0')
  FROM presplit.remote_move WHERE id = $move}),
	'synced r', 'the other server down at the cutover: refused, the partition still here');
crash_and_restart($node1);
is(state_of($move), 'synced', 'crash of this server in synced: still synced');
transfers(2);
$node2->start;

# 4. cut_over: the reverse direction. Writes go to the other server through
# the foreign partition, the replication connections are killed, both
# servers crash, the reverse subscription is disabled -- then the rollback.
wait_for($node1, "SELECT state = 'cut_over' AND NOT replicating FROM presplit.remote_move WHERE id = $move",
	'the cutover');
is($node1->safe_psql('postgres', "SELECT reversing AND reverse_lsn IS NOT NULL FROM presplit.remote_move WHERE id = $move"),
	't', 'the cutover set up the reverse direction');
ok(transfers(3) > 0, 'writes through the foreign partition');
my $there = $node2->safe_psql('postgres', 'SELECT count(*) || \' \' || sum(balance) FROM public.accounts_0');
ok($node1->poll_query_until('postgres',
	"SELECT count(*) || ' ' || sum(balance) = '$there' FROM accounts_0"),
	"the kept source follows the other server ($there)");
$node2->safe_psql('postgres', qq{
SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots
 WHERE slot_name = 'presplit_back_$move' AND active});
$node1->safe_psql('postgres', qq{
SELECT pg_terminate_backend(pid) FROM pg_stat_subscription
 WHERE subname = 'presplit_back_$move' AND pid IS NOT NULL});
transfers(2);
crash_and_restart($node2);
transfers(2);
crash_and_restart($node1);
transfers(2);
$node1->safe_psql('postgres', "ALTER SUBSCRIPTION presplit_back_$move DISABLE");
wait_for($node1, "SELECT subenabled FROM pg_subscription WHERE subname = 'presplit_back_$move'",
	'the reverse subscription enabled again');
ok(events_of($move, 'remote_reverse_repaired') > 0,
	'the reverse subscription disabled: enabled again, with an event');
is(state_of($move), 'cut_over', 'crashes of both servers in cut_over: still cut over');
invariant('cut over, through the foreign partition');

# The rollback while pgbench writes.
my ($out, $err) = ('', '');
my $load = start_pgbench($node1, $script, 2, 8, \$out, \$err);
sleep 2;
$node1->safe_psql('postgres', "SELECT presplit.rollback_move($move)");
ok($load->pumpable, 'rolled back while pgbench was writing');
pgbench_ok($load, \$out, \$err, 'across the rollback');
is($node1->safe_psql('postgres', qq{
SELECT m.state || ' ' || c.relkind::text || ' ' || pg_get_expr(c.relpartbound, c.oid)
  FROM presplit.remote_move m JOIN pg_class c ON c.oid = m.source WHERE m.id = $move}),
	"rolled_back r FOR VALUES FROM ('0') TO ('10000')", 'the kept source is the partition again');
invariant('after the rollback after the cutover');
is($node1->safe_psql('postgres', q{SELECT count(*) FROM pg_class WHERE relname LIKE 'accounts_0_move_%'}),
	'0', 'the foreign table is gone');
wait_for($node1, "SELECT NOT reversing FROM presplit.remote_move WHERE id = $move",
	'the reverse objects dropped');
is($node2->safe_psql('postgres', q{SELECT count(*) FROM pg_class WHERE relname = 'accounts_0'}),
	'0', 'the worker dropped the table there after the rollback');
like($node1->safe_psql('postgres', qq{
SELECT detail FROM presplit.events WHERE kind = 'remote_rollback' AND detail LIKE 'move $move:%'}),
	qr/held [0-9.]+ ms/, 'the rollback logged its lock');
diag($node1->safe_psql('postgres', qq{
SELECT string_agg(kind || ': ' || detail, E'\\n' ORDER BY id) FROM presplit.events
 WHERE kind IN ('remote_cutover', 'remote_reverse', 'remote_rollback') AND detail LIKE 'move $move:%'}));
no_replication_left('after the rollback after the cutover', $node1, $node2);

# 5. The forward slot dropped while backfilling: the move copies again
# (036_remote_resync.pl in detail); rolled back, it leaves nothing behind.
$node1->safe_psql('postgres', 'ALTER SYSTEM SET presplit.backfill_paused = on');
$node1->reload;
$move = $node1->safe_psql('postgres', q{SELECT presplit.move_partition('accounts_0', 'node2')});
wait_for($node2, q{SELECT srsubstate = 'r' FROM pg_subscription_rel}, 'the initial copy');
drop_slot($node1, "presplit_move_$move");
wait_for($node1, qq{SELECT count(*) > 0 FROM presplit.events
  WHERE kind = 'remote_move_resync' AND detail LIKE 'move $move:%'}, 'the re-sync');
like(state_of($move) . '; ' . $node1->safe_psql('postgres', qq{
SELECT detail FROM presplit.events WHERE kind = 'remote_move_resync' AND detail LIKE 'move $move:%'}),
	qr/^backfilling; move $move: the replication slot presplit_move_$move here was gone/,
	'slot dropped: re-synced rather than failed, with the reason');
$node1->safe_psql('postgres', "SELECT presplit.rollback_move($move)");
is($node2->safe_psql('postgres', q{SELECT count(*) FROM pg_class WHERE relname = 'accounts_0'}),
	'0', 'the re-synced move rolled back: the table there dropped');
no_replication_left('after the re-synced move is rolled back', $node1, $node2);
invariant('after the re-synced move is rolled back');

# 6. The reverse slot dropped after a cutover: the direction is lost (an
# event), the rollback refused; finalize_move ends the move.
$node1->safe_psql('postgres', 'ALTER SYSTEM RESET presplit.backfill_paused');
$node1->reload;
$move = $node1->safe_psql('postgres', q{SELECT presplit.move_partition('accounts_0', 'node2')});
wait_for($node1, "SELECT state = 'cut_over' AND NOT replicating FROM presplit.remote_move WHERE id = $move",
	'the second cutover');
transfers(2);
drop_slot($node2, "presplit_back_$move");
wait_for($node1, "SELECT NOT reversing FROM presplit.remote_move WHERE id = $move",
	'the lost reverse direction');
like($node1->safe_psql('postgres', qq{
SELECT detail FROM presplit.events WHERE kind = 'remote_reverse_lost' AND detail LIKE 'move $move:%'}),
	qr/the replication slot presplit_back_$move on the other server is gone/,
	'reverse slot dropped: detected, with the reason');
{
	my ($ret, $stdout, $stderr) = $node1->psql('postgres',
		"\\set VERBOSITY verbose\nSELECT presplit.rollback_move($move)");
	like($stderr, qr/ERROR:  55000: move $move has no reverse direction/,
		'the rollback is refused once the reverse direction is lost');
}
invariant('cut over after the reverse direction was lost');
$node1->safe_psql('postgres', "SELECT presplit.finalize_move($move)");
is(state_of($move), 'finalized', 'finalize_move after the lost reverse direction');
invariant('finalized: the rows on the other server');
no_replication_left('after the finalized move', $node1, $node2);

# 7. A cutover with the reverse direction, finalized: its objects dropped on
# both servers; and DROP EXTENSION refused while a move is in progress.
$node1->safe_psql('postgres', 'ALTER SYSTEM SET presplit.backfill_paused = on');
$node1->reload;
$move = $node1->safe_psql('postgres', q{SELECT presplit.move_partition('accounts_1', 'node2')});
{
	my ($ret, $stdout, $stderr) = $node1->psql('postgres',
		"\\set VERBOSITY verbose\nDROP EXTENSION pg_presplit");
	like($stderr, qr/ERROR:  2BP01: cannot drop extension pg_presplit while split plans or moves are in progress.*Move $move of public.accounts_1 to server node2/s,
		'DROP EXTENSION refused while a move is in progress');
}
$node1->safe_psql('postgres', 'ALTER SYSTEM RESET presplit.backfill_paused');
$node1->reload;
wait_for($node1, "SELECT state = 'cut_over' AND NOT replicating AND reversing FROM presplit.remote_move WHERE id = $move",
	'the third cutover');
transfers(2);
crash_and_restart($node1);
transfers(1);
invariant('both partitions on the other server');
$node1->safe_psql('postgres', "SELECT presplit.finalize_move($move, false)");
is($node1->safe_psql('postgres', qq{
SELECT state || ' ' || reversing || ' ' || (SELECT count(*) FROM pg_constraint
   WHERE conrelid = 'accounts_1'::regclass AND conname = 'presplit_old_bound')
  FROM presplit.remote_move WHERE id = $move}),
	'finalized false 0', 'finalize_move(drop_old => false): reverse direction and the CHECK dropped');
no_replication_left('after the finalized move with its reverse direction', $node1, $node2);
invariant('after the last move');
# The total over both servers, each read directly.
my ($n2, $s2) = split / /, $node2->safe_psql('postgres', q{
SELECT count(*) || ' ' || sum(balance) FROM (SELECT * FROM public.accounts_0 UNION ALL SELECT * FROM public.accounts_1) a});
is("$n2 $s2", "$rows $total", 'the other server holds every row');
