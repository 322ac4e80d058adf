# Replication lost before the cutover is copied again, not failed or retried
# for ever: a move whose slot here is dropped during its copy, a move whose
# subscription there is dropped after its verification (synced), and a split
# whose remote target's slot is dropped while it switches under pgbench
# (reads routed to the other server at weight 50). Each time the table there
# is emptied and copied again by a new subscription, verified again, with an
# event; a transfer made while replication was broken arrives there; the
# invariant holds on both servers; nothing is left after finalize.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PresplitTest;
use Test::More tests => 18;

# A short cutover wait: a lock held on a partition keeps its move synced
# (each cutover try gives up after a second and is retried).
my ($node1, $node2) = presplit_server_pair(qq{
presplit.naptime = 100
presplit.cutover_max_wait = '1s'
presplit.ramp_min_latency_increase = 60000
wal_retrieve_retry_interval = 500
});

my $rows = 30000;
my $total = create_accounts($node1, $rows, 3);

sub events
{
	return $node1->safe_psql('postgres', 'SELECT kind, detail FROM presplit.events ORDER BY id');
}

# 1. A move's slot here dropped during its copy (held before its
# verification by presplit.backfill_paused): re-synced.
$node1->safe_psql('postgres', 'ALTER SYSTEM SET presplit.backfill_paused = on; SELECT pg_reload_conf()');
my $move = $node1->safe_psql('postgres', q{SELECT presplit.move_partition('accounts_1', 'node2')});
$node2->poll_query_until('postgres', qq{
SELECT EXISTS (SELECT FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid
                WHERE s.subname = 'presplit_move_$move' AND r.srsubstate = 'r')})
  or die 'the move did not copy';
drop_slot($node1, "presplit_move_$move");
my $marked = marked_transfer($node1, 10001, 19998);
$node1->poll_query_until('postgres', qq{
SELECT EXISTS (SELECT FROM presplit.events WHERE kind = 'remote_move_resync' AND detail LIKE 'move $move:%')})
  or die 'no re-sync: ' . events();
like($node1->safe_psql('postgres', qq{
SELECT detail FROM presplit.events WHERE kind = 'remote_move_resync' AND detail LIKE 'move $move:%'}),
	qr/^move $move: the replication slot presplit_move_$move here was gone; the table there emptied and copied again$/,
	'a move\'s slot dropped during the copy: re-synced, with an event');
is($node1->safe_psql('postgres', "SELECT state FROM presplit.remote_move WHERE id = $move"),
	'backfilling', 'the move copies again rather than failing');
$node1->safe_psql('postgres', 'ALTER SYSTEM RESET presplit.backfill_paused; SELECT pg_reload_conf()');
$node1->poll_query_until('postgres',
	"SELECT state = 'cut_over' AND NOT replicating FROM presplit.remote_move WHERE id = $move")
  or die 'the re-synced move did not cut over: ' . events();
is($node2->safe_psql('postgres', 'SELECT count(*) || \' \' || sum(balance) || \' \' || '
	  . '(SELECT balance FROM public.accounts_1 WHERE id = 19998) FROM public.accounts_1'),
	$node1->safe_psql('postgres', 'SELECT count(*) || \' \' || sum(balance) FROM ONLY accounts_1')
	  . " $marked",
	're-synced move: the other server has the partition as it was here, the transfer made while the slot was gone included');
$node1->safe_psql('postgres', "SELECT presplit.finalize_move($move, true)");
accounts_invariant_ok($node1, $rows, $total, 'invariant through the parent after the first move');
no_replication_left('after the first move', $node1, $node2);

# 2. A move's subscription there dropped after its verification (its
# cutover held by a lock here, so that it stays synced), its slot here kept:
# back to backfilling, re-synced.
my $holder = $node1->background_psql('postgres');
$holder->query_safe('BEGIN; LOCK TABLE accounts_2 IN ACCESS SHARE MODE');
$move = $node1->safe_psql('postgres', q{SELECT presplit.move_partition('accounts_2', 'node2')});
$node1->poll_query_until('postgres', "SELECT state = 'synced' FROM presplit.remote_move WHERE id = $move")
  or die 'the second move did not sync: ' . events();
# At once: the worker would enable a subscription it finds disabled.
$node2->safe_psql('postgres', "BEGIN; ALTER SUBSCRIPTION presplit_move_$move DISABLE;"
	  . " ALTER SUBSCRIPTION presplit_move_$move SET (slot_name = NONE);"
	  . " DROP SUBSCRIPTION presplit_move_$move; COMMIT");
$marked = marked_transfer($node1, 20001, 29998);
$node1->poll_query_until('postgres', qq{
SELECT EXISTS (SELECT FROM presplit.events WHERE kind = 'remote_move_resync' AND detail LIKE 'move $move:%')})
  or die 'no re-sync of the second move: ' . events();
like($node1->safe_psql('postgres', qq{
SELECT string_agg(detail, ' / ' ORDER BY id) FROM presplit.events
 WHERE (kind = 'remote_move_resync' OR detail LIKE '%synced -> backfilling%') AND detail LIKE 'move $move%'}),
	qr/synced -> backfilling: re-sync: the subscription presplit_move_$move on server "node2" was gone.* \/ move $move: the subscription presplit_move_$move on server "node2" was gone; the table there emptied and copied again$/,
	'a synced move\'s subscription dropped: back to backfilling and re-synced, with events');
$holder->query_safe('COMMIT');
$holder->quit;
$node1->poll_query_until('postgres',
	"SELECT state = 'cut_over' AND NOT replicating FROM presplit.remote_move WHERE id = $move")
  or die 'the second move did not cut over: ' . events();
is($node2->safe_psql('postgres', 'SELECT count(*) || \' \' || sum(balance) || \' \' || '
	  . '(SELECT balance FROM public.accounts_2 WHERE id = 29998) FROM public.accounts_2'),
	$node1->safe_psql('postgres', 'SELECT count(*) || \' \' || sum(balance) FROM ONLY accounts_2')
	  . " $marked",
	're-synced second move: the other server has the partition, the transfer included');
$node1->safe_psql('postgres', "SELECT presplit.finalize_move($move, true)");
no_replication_left('after the second move', $node1, $node2);

# 3. A split's remote target verified, the plan switching (ramp => false
# holds it there) with reads of the upper half routed to the other server at
# weight 50, under pgbench transfers and reads; its slot here dropped: the
# plan back to backfilling, the weight to 0, the target copied again and
# verified, the plan switching again; then cut over and finalized.
# (Not ids 9990 and up: the marked transfer's balance must stay as it left it.)
my $script = write_transfer_script(PostgreSQL::Test::Utils::tempdir,
	{ debit => [ 0, 9989 ], credit => [ 0, 9989 ], read => 1 });
my ($out, $err) = ('', '');
my $load = start_pgbench($node1, $script, 3, 30, \$out, \$err);
my $plan = $node1->safe_psql('postgres', q{
SELECT presplit.split_partition('accounts_0', '{5000}', ramp => false, servers => ARRAY[NULL, 'node2'])});
$node1->poll_query_until('postgres', "SELECT state = 'switching' FROM presplit.plans WHERE id = $plan")
  or die 'the split did not get to switching: ' . events();
$node1->safe_psql('postgres', "SELECT presplit.set_weight($plan, 50)");
$node1->poll_query_until('postgres', "SELECT statements > 0 FROM presplit.channels WHERE plan_id = $plan AND channel = 'remote'")
  or die 'no read went to the other server: ' . events();
drop_slot($node1, "presplit_split_${plan}_1");
$marked = marked_transfer($node1, 1, 9998);
$node1->poll_query_until('postgres', qq{
SELECT EXISTS (SELECT FROM presplit.events WHERE plan_id = $plan AND kind = 'remote_target_resync')})
  or die 'no re-sync of the split: ' . events();
like($node1->safe_psql('postgres', qq{
SELECT string_agg(kind || ': ' || coalesce(from_state || ' -> ' || to_state || ': ', '') || detail, ' / ' ORDER BY id)
  FROM presplit.events
 WHERE plan_id = $plan AND (kind = 'remote_target_resync' OR (from_state = 'switching' AND to_state = 'backfilling'))}),
	qr/^state_change: switching -> backfilling: re-sync: split plan $plan, target 1 on server "node2": its replication slot presplit_split_${plan}_1 here was dropped.* \/ remote_target_resync: .*the replication slot presplit_split_${plan}_1 here was gone; the table there emptied and copied again$/,
	'a switching split\'s slot dropped: back to backfilling and re-synced, with events');
$node1->poll_query_until('postgres', qq{
SELECT state = 'switching' FROM presplit.plans WHERE id = $plan
   AND (SELECT count(*) FROM presplit.events WHERE plan_id = $plan AND kind = 'remote_target_verified') = 2})
  or die 'the split did not get back to switching: ' . events();
is($node1->safe_psql('postgres', "SELECT weight FROM presplit.channels WHERE plan_id = $plan AND channel = 'remote'"),
	'0', 'switching again after the re-sync: reads start on the source again (weight 0)');
ok($load->pumpable, 'the re-sync went on while pgbench was running');
pgbench_ok($load, \$out, \$err, 'during the split\'s re-sync');
accounts_invariant_ok($node1, $rows, $total, 'invariant through the parent after the re-sync');
$node1->safe_psql('postgres', "SELECT presplit.cutover($plan)");
is($node1->safe_psql('postgres', "SELECT state FROM presplit.plans WHERE id = $plan"),
	'cut_over', 'the re-synced split cut over');
is($node2->safe_psql('postgres', 'SELECT count(*) || \' \' || sum(balance) || \' \' || '
	  . '(SELECT balance FROM public.accounts_0 WHERE id = 9998) FROM public.accounts_0'),
	$node1->safe_psql('postgres', 'SELECT count(*) || \' \' || sum(balance) FROM ONLY accounts_0 WHERE id >= 5000')
	  . " $marked",
	're-synced split: the other server has the upper half as the old partition has it, the transfer included');
accounts_invariant_ok($node1, $rows, $total, 'invariant through the parent after the cutover');
$node1->safe_psql('postgres', "SELECT presplit.finalize($plan)");
is($node1->safe_psql('postgres', "SELECT state FROM presplit.plans WHERE id = $plan"),
	'finalized', 'finalized');
no_replication_left('after the split', $node1, $node2);
