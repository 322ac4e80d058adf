# A split's remote target copies its range in chunks of
# presplit.remote_copy_chunk_rows rows (docs/multi_server.md, "The remote
# copy in chunks"): each chunk is a table synchronisation of its own, folded
# into the target's subscription once copied, and no chunk starts while the
# copy is paused (or held outside its window), so the copy stops between
# chunks and goes on from there. Shown under writes that move rows across the
# chunks' edges and the split point (an update of the key: an insert into one
# chunk's filter, a delete from another's):
#   1. the copy goes chunk by chunk;
#   2. paused, the running chunk finishes and is folded in, no other starts;
#   3. resumed (the chunks' subscription disabled there meanwhile: enabled
#      again), it finishes; the verification (count and checksum of each
#      target under one cut) passes, the plan cuts over with the invariant
#      (row count, total balance) intact, and no replication is left;
#   4. a crash of the source while a chunk copies: the copy goes on after the
#      restart and verifies;
#   5. a move in chunks under transfers: paused between chunks, then
#      verified and cut over with its total intact;
#   6. a transaction that wrote a chunk's rows and is open when the chunk is
#      copied: the fold waits for its commit, the target verifies.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PresplitTest;
use IPC::Run;
use Test::More tests => 17;

my ($node1, $node2) = presplit_server_pair(qq{
presplit.naptime = 100
presplit.backfill_batch_size = 500
presplit.backfill_max_rows_per_second = 1000
presplit.remote_copy_chunk_rows = 1000
});

# accounts_0 holds ids 0-19999: transfer accounts at 4k (never moved),
# movers at 4k+1, which move by 5002 to 4k+3 and back; accounts_1 plain
# rows. Upper half of accounts_0 (5000 rows): five chunks.
$node1->safe_psql('postgres', q{
CREATE TABLE accounts (id bigint NOT NULL, balance bigint NOT NULL) PARTITION BY RANGE (id);
CREATE TABLE accounts_0 PARTITION OF accounts (PRIMARY KEY (id)) FOR VALUES FROM (0) TO (20000);
CREATE TABLE accounts_1 PARTITION OF accounts (PRIMARY KEY (id)) FOR VALUES FROM (20000) TO (40000);
INSERT INTO accounts SELECT 4 * g + r, 1000 FROM generate_series(0, 4999) g, (VALUES (0), (1)) v(r);
INSERT INTO accounts SELECT g, 1000 FROM generate_series(20000, 29999) g;
SELECT presplit.manage('accounts');
});
my ($rows, $total) = (10000, 10000000);

my $dir = PostgreSQL::Test::Utils::tempdir;
open(my $fh, '>', "$dir/transfer.sql") or die $!;
print $fh q{\set a random(0, 4999)
\set b random(0, 4999)
UPDATE accounts SET balance = balance + CASE WHEN id = 4 * :a THEN -1 ELSE 1 END
 WHERE id IN (4 * :a, 4 * :b) AND :a <> :b;
};
close $fh;
# One client: nothing else moves these rows, so the NOT EXISTS holds.
open($fh, '>', "$dir/mover.sql") or die $!;
print $fh q{\set a random(0, 3748)
UPDATE accounts SET id = id + 5002 WHERE id = 4 * :a + 1
   AND NOT EXISTS (SELECT FROM accounts WHERE id = 4 * :a + 5003);
UPDATE accounts SET id = id - 5002 WHERE id = 4 * :a + 5003
   AND NOT EXISTS (SELECT FROM accounts WHERE id = 4 * :a + 1);
UPDATE accounts SET id = id + 5002 WHERE id = 4 * :a + 1
   AND NOT EXISTS (SELECT FROM accounts WHERE id = 4 * :a + 5003);
};
close $fh;

sub events_of
{
	my ($plan, $kind) = @_;
	return $node1->safe_psql('postgres',
		"SELECT count(*) FROM presplit.events WHERE plan_id = $plan AND kind = '$kind'");
}

sub history
{
	my ($plan) = @_;
	return $node1->safe_psql('postgres',
		"SELECT string_agg(kind || ': ' || coalesce(detail, ''), E'\\n' ORDER BY id)"
		  . " FROM presplit.events WHERE plan_id = $plan");
}

sub set_and_reload
{
	my ($settings) = @_;
	$node1->safe_psql('postgres', "$settings; SELECT pg_reload_conf()");
}

my ($out1, $err1, $out2, $err2) = ('', '', '', '');
my $transfers = start_pgbench($node1, "$dir/transfer.sql", 2, 40, \$out1, \$err1);
my $mover = start_pgbench($node1, "$dir/mover.sql", 1, 40, \$out2, \$err2);

# 1. Chunk by chunk.
my $plan = $node1->safe_psql('postgres', q{
SELECT presplit.split_partition('accounts_0', '{10000}', ramp => false, servers => ARRAY[NULL, 'node2'])});
like(history($plan), qr/copied in chunks of 1000 rows/, 'the target is copied in chunks');
$node1->poll_query_until('postgres',
	"SELECT count(*) >= 2 FROM presplit.events WHERE plan_id = $plan AND kind = 'remote_copy_chunk'")
  or die 'no chunk folded in: ' . history($plan);
like($node1->safe_psql('postgres', "SELECT pg_get_expr(r.prqual, r.prrelid) FROM pg_publication_rel r"
		  . " JOIN pg_publication p ON p.oid = r.prpubid WHERE p.pubname = 'presplit_split_${plan}_1'"),
	qr/AND \(id < '1\d{4}'::bigint\)\)$/, "the target's publication holds the chunks folded in so far");

# 2. Paused: the running chunk finishes its copy and is folded in, and no
# other chunk's copy starts. (The worker reads the setting within a round:
# a chunk it started just before is let run.)
# The tables the chunks' subscriptions on node2 are copying or have copied
# and not yet handed over (a chunk's table sync, until its fold).
sub chunk_tables
{
	return $node2->safe_psql('postgres', q{
SELECT count(*) FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid
 WHERE s.subname LIKE '%\_c'});
}
# Waits until no chunk copies or waits for its fold: $state returns the
# chunk state ({F}, {F,U} or {F,U,folded}).
sub wait_for_chunks_at_rest
{
	my ($state) = @_;
	foreach my $try (1 .. 1800)
	{
		return 1 if chunk_tables() == 0 && ($state->() =~ tr/,//) < 2;
		select(undef, undef, undef, 0.1);
	}
	return 0;
}
my $target_chunks = sub {
	return $node1->safe_psql('postgres', "SELECT last_key FROM presplit.shadow_progress"
		  . " WHERE plan_id = $plan AND ordinal = 1");
};
set_and_reload('ALTER SYSTEM SET presplit.backfill_paused = on');
sleep 1;
wait_for_chunks_at_rest($target_chunks) or die 'the running chunk was not folded in: ' . history($plan);
my ($started, $before) = (events_of($plan, 'remote_copy_chunk_started'), $target_chunks->());
sleep 3;
is(events_of($plan, 'remote_copy_chunk_started') . ' ' . chunk_tables() . ' ' . $target_chunks->(),
	"$started 0 $before", "paused: no chunk's copy starts ($started started, at $before)");
isnt($before, '', '... with chunks left to copy');

# 3. Resumed: it finishes and verifies under the writes; the chunks'
# subscription, disabled there meanwhile, is enabled again.
$node2->safe_psql('postgres', q{
DO $$ DECLARE s name;
BEGIN
    FOR s IN SELECT subname FROM pg_subscription WHERE subname LIKE '%\_c' LOOP
        EXECUTE format('ALTER SUBSCRIPTION %I DISABLE', s);
    END LOOP;
END $$});
set_and_reload('ALTER SYSTEM SET presplit.backfill_paused = off');
$node1->poll_query_until('postgres', "SELECT state IN ('switching', 'failed') FROM presplit.plans WHERE id = $plan")
  or die 'the split did not get to switching: ' . history($plan);
is($node1->safe_psql('postgres', "SELECT state FROM presplit.plans WHERE id = $plan"), 'switching',
	'the chunks add up: the remote target verified')
  or diag(history($plan));
cmp_ok(events_of($plan, 'remote_target_repaired'), '>=', 1,
	"the chunks' subscription, disabled there, was enabled again");
cmp_ok(events_of($plan, 'remote_copy_chunk'), '>=', 4, 'the copy went in chunks (' . events_of($plan, 'remote_copy_chunk') . ' folded in)');
pgbench_ok($transfers, \$out1, \$err1, 'of transfers during the chunked copy');
pgbench_ok($mover, \$out2, \$err2, 'of rows moving across the chunks');
$node1->safe_psql('postgres', "SELECT presplit.cutover($plan)");
$node1->poll_query_until('postgres', "SELECT state = 'cut_over' FROM presplit.plans WHERE id = $plan")
  or die 'no cutover: ' . history($plan);
is($node1->safe_psql('postgres', q{SELECT count(*) || ' ' || sum(balance) FROM accounts WHERE id < 20000}),
	"$rows $total", 'invariant after the chunked split');
$node1->safe_psql('postgres', "SELECT presplit.finalize($plan)");

# 4. The source crashes while a chunk copies; the copy goes on after it.
my $second = $node1->safe_psql('postgres', q{
SELECT presplit.split_partition('accounts_1', '{25000}', ramp => false, servers => ARRAY[NULL, 'node2'])});
$node2->poll_query_until('postgres', q{SELECT EXISTS (SELECT FROM pg_subscription WHERE subname LIKE '%\_c')})
  or die 'no chunk started: ' . history($second);
$node1->stop('immediate');
$node1->start;
$node1->poll_query_until('postgres', "SELECT state IN ('switching', 'failed') FROM presplit.plans WHERE id = $second")
  or die 'the second split did not get to switching: ' . history($second);
is($node1->safe_psql('postgres', "SELECT state FROM presplit.plans WHERE id = $second"), 'switching',
	'after a crash during a chunk, the copy went on and verified')
  or diag(history($second));
$node1->safe_psql('postgres', "SELECT presplit.cutover($second)");
$node1->poll_query_until('postgres', "SELECT state = 'cut_over' FROM presplit.plans WHERE id = $second")
  or die 'no cutover: ' . history($second);
$node1->safe_psql('postgres', "SELECT presplit.finalize($second)");

# 5. A move in chunks under transfers: paused between chunks, then cut over.
$node1->safe_psql('postgres', q{
CREATE TABLE accounts_2 PARTITION OF accounts (PRIMARY KEY (id)) FOR VALUES FROM (40000) TO (60000);
INSERT INTO accounts SELECT g, 1000 FROM generate_series(40000, 44999) g;});
open($fh, '>', "$dir/transfer2.sql") or die $!;
print $fh q{\set a random(40000, 44999)
\set b random(40000, 44999)
UPDATE accounts SET balance = balance + CASE WHEN id = :a THEN -1 ELSE 1 END
 WHERE id IN (:a, :b) AND :a <> :b;
};
close $fh;
my ($out3, $err3) = ('', '');
my $transfers2 = start_pgbench($node1, "$dir/transfer2.sql", 2, 25, \$out3, \$err3);
my $move = $node1->safe_psql('postgres', q{SELECT presplit.move_partition('accounts_2', 'node2')});
sub move_events
{
	my ($kind) = @_;
	return $node1->safe_psql('postgres', "SELECT count(*) FROM presplit.events"
		  . " WHERE kind = '$kind' AND detail LIKE 'move $move:%'");
}
$node1->poll_query_until('postgres', "SELECT count(*) >= 1 FROM presplit.events"
	  . " WHERE kind = 'remote_copy_chunk' AND detail LIKE 'move $move:%'")
  or die 'no chunk of the move folded in: ' . $node1->safe_psql('postgres', 'SELECT kind, detail FROM presplit.events ORDER BY id');
my $move_chunks = sub {
	return $node1->safe_psql('postgres', "SELECT copy_chunks FROM presplit.remote_move WHERE id = $move");
};
set_and_reload('ALTER SYSTEM SET presplit.backfill_paused = on');
sleep 1;
wait_for_chunks_at_rest($move_chunks) or die 'the running chunk of the move was not folded in';
($started, $before) = (move_events('remote_copy_chunk_started'), $move_chunks->());
sleep 3;
is(move_events('remote_copy_chunk_started') . ' ' . chunk_tables() . ' ' . $move_chunks->() . ' '
	  . $node1->safe_psql('postgres', "SELECT state FROM presplit.remote_move WHERE id = $move"),
	"$started 0 $before backfilling", "the move paused between chunks ($started started, at $before)");
set_and_reload('ALTER SYSTEM SET presplit.backfill_paused = off');
$node1->poll_query_until('postgres',
	"SELECT state IN ('cut_over', 'failed') AND NOT replicating FROM presplit.remote_move WHERE id = $move")
  or die 'the move did not cut over: ' . $node1->safe_psql('postgres', 'SELECT kind, detail FROM presplit.events ORDER BY id');
is($node1->safe_psql('postgres', "SELECT state FROM presplit.remote_move WHERE id = $move") . ' '
	  . move_events('remote_copy_chunk'), 'cut_over 4', 'the move went in five chunks (four folded in), verified and cut over');
pgbench_ok($transfers2, \$out3, \$err3, 'of transfers during the chunked move');
is($node2->safe_psql('postgres', q{SELECT count(*) || ' ' || sum(balance) FROM public.accounts_2}),
	'5000 5000000', 'the other server holds the moved partition, its total intact');
$node1->safe_psql('postgres', "SELECT presplit.finalize_move($move)");

# 6. A transaction that wrote a chunk's rows before the fold and commits after
# it would have its changes split between the chunk's subscription (those
# before the fold, sent at its commit) and the target's: the fold waits for
# it (SHARE on the source) and so comes after its commit, and the target
# verifies. It starts once the chunk's table sync copies (creating the
# chunk's slots waited for every open transaction).
$node1->safe_psql('postgres', q{
CREATE TABLE accounts_3 PARTITION OF accounts (PRIMARY KEY (id)) FOR VALUES FROM (60000) TO (80000);
INSERT INTO accounts SELECT g, 1000 FROM generate_series(60000, 64999) g;
CREATE TABLE public.open_writer_end (at timestamptz);});
my $third = $node1->safe_psql('postgres', q{
SELECT presplit.split_partition('accounts_3', '{61000}', ramp => false, servers => ARRAY[NULL, 'node2'])});
$node1->poll_query_until('postgres', qq{
SELECT coalesce(max(p.tuples_processed), 0) > 0 FROM pg_stat_progress_copy p
  JOIN pg_stat_activity a ON a.pid = p.pid
 WHERE a.backend_type = 'walsender'
   AND EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = 'presplit_split_' || $third || '_1_c')})
  or die 'no chunk copied: ' . history($third);
my $writer = IPC::Run::start(
	[ 'psql', '-X', '-q', '-h', $node1->host, '-p', $node1->port, '-d', 'postgres', '-c', q{
BEGIN;
UPDATE accounts SET balance = balance + 5 WHERE id = 62500;
UPDATE accounts SET id = 65001 WHERE id = 62501;
SELECT pg_sleep(4);
UPDATE accounts SET balance = balance - 5 WHERE id = 64500;
UPDATE accounts SET id = 62501 WHERE id = 65001;
INSERT INTO public.open_writer_end VALUES (clock_timestamp());
COMMIT;} ],
	'>', '/dev/null', '2>', '/dev/null');
$writer->finish;
# (Not reaching switching is the check's failure: the lost changes then stop
# the target's apply there.)
$node1->poll_query_until('postgres', "SELECT state IN ('switching', 'failed') FROM presplit.plans WHERE id = $third");
is($node1->safe_psql('postgres', "SELECT state FROM presplit.plans WHERE id = $third") . ' '
	  . $node1->safe_psql('postgres', "SELECT bool_and(e.at > w.at) FROM presplit.events e, public.open_writer_end w"
		  . " WHERE e.plan_id = $third AND e.kind = 'remote_copy_chunk'"),
	'switching t', 'a transaction open across a fold: the fold waited for it, the target verified')
  or diag(history($third));
$node1->psql('postgres', "SELECT presplit.rollback($third)");

no_replication_left('after the chunked splits and move', $node1, $node2);
