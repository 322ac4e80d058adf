# Faults onto other servers that used to be missed or to fail noisily:
# 1. a split's remote target whose subscription there stops feeding its slot
#    here while the plan switches -- detached from it (DISABLE, then
#    slot_name = NONE), then dropped with the slot kept: each counts as lost,
#    the slot here is dropped (it would hold WAL for nothing), the target is
#    copied again and verified, the plan switches again; a transfer made
#    meanwhile arrives there;
# 2. the other server down before a split's cutover (its subscription not
#    created yet): its remote steps back off, with remote_split_retry events
#    at the 1st, 2nd, 4th failure, no worker_error, and the plan does not
#    fail; back up, it copies and cuts over;
# 3. the reverse subscription here detached from its slot after the
#    cutover: the reverse direction counts as lost (its slot there dropped,
#    the rollback refused);
# 4. finalize of a split onto two servers with the second one down: it
#    fails and drops nothing, the first server's reverse direction included;
#    a finalize whose drop on the second server fails after every server
#    was reached ends the plan, and the worker drops what is left there.
# The invariant holds through the parent; nothing is left at the end.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PresplitTest;
use Test::More tests => 26;

my ($node1, $node2) = presplit_server_pair(qq{
presplit.naptime = 100
presplit.ramp_min_latency_increase = 60000
wal_retrieve_retry_interval = 500
}, { allows_streaming => 'logical' });
my $node3 = presplit_add_server($node1, 'node3', { allows_streaming => 'logical' });

my $rows = 30000;
my $total = create_accounts($node1, $rows, 3);

sub events
{
	my ($plan) = @_;
	return $node1->safe_psql('postgres', "SELECT string_agg(kind || ': ' || coalesce(detail, ''), E'\\n' ORDER BY id)"
		  . " FROM presplit.events WHERE plan_id = $plan");
}

sub state_of
{
	my ($plan) = @_;
	return $node1->safe_psql('postgres', "SELECT state FROM presplit.plans WHERE id = $plan");
}

sub count_events
{
	my ($plan, $kind) = @_;
	return $node1->safe_psql('postgres',
		"SELECT count(*) FROM presplit.events WHERE plan_id = $plan AND kind = '$kind'");
}

# A split of $partition at $points with ramp => false (switching at weight
# 0 once synced), the upper targets on @servers; waits for switching.
sub split_switching
{
	my ($partition, $points, @servers) = @_;
	my $plan = $node1->safe_psql('postgres', "SELECT presplit.split_partition('$partition', '$points',"
		  . " ramp => false, servers => ARRAY[NULL, " . join(', ', map { "'$_'" } @servers) . '])');
	$node1->poll_query_until('postgres', "SELECT state = 'switching' FROM presplit.plans WHERE id = $plan")
	  or die "split plan $plan did not get to switching: " . events($plan);
	return $plan;
}

# 1. A switching split's subscription there detached from its slot, then
# dropped with its slot kept.
my $plan = split_switching('accounts_1', '{15000}', 'node2');
my $name = "presplit_split_${plan}_1";
$node2->safe_psql('postgres', "ALTER SUBSCRIPTION $name DISABLE; ALTER SUBSCRIPTION $name SET (slot_name = NONE)");
my $marked = marked_transfer($node1, 10001, 19998);
$node1->poll_query_until('postgres', qq{
SELECT EXISTS (SELECT FROM presplit.events WHERE plan_id = $plan AND kind = 'remote_target_resync')})
  or die 'the detached subscription was not found lost: ' . events($plan);
like($node1->safe_psql('postgres', qq{
SELECT string_agg(kind || ': ' || coalesce(from_state || ' -> ' || to_state || ': ', '') || detail, ' / ' ORDER BY id)
  FROM presplit.events
 WHERE plan_id = $plan AND (kind = 'remote_target_resync' OR (from_state = 'switching' AND to_state = 'backfilling'))}),
	qr/^state_change: switching -> backfilling: re-sync: split plan $plan, target 1 on server "node2": the subscription $name on server "node2" was detached from its replication slot \(slot_name = NONE\) \/ remote_target_resync: .*: the subscription $name on server "node2" was detached from its replication slot \(slot_name = NONE\); the table there emptied and copied again$/,
	'a subscription there detached from its slot: the plan back to backfilling, the target re-synced, with why');
$node1->poll_query_until('postgres', qq{
SELECT state = 'switching' FROM presplit.plans WHERE id = $plan
   AND (SELECT count(*) FROM presplit.events WHERE plan_id = $plan AND kind = 'remote_target_verified') = 2})
  or die 'the split did not get back to switching: ' . events($plan);
is($node2->safe_psql('postgres', "SELECT subslotname || ' ' || subenabled FROM pg_subscription WHERE subname = '$name'")
	  . '; ' . $node1->safe_psql('postgres', "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$name'"),
	"$name true; 1", 'a new subscription there, on one slot here');

# Dropped there with its slot kept here, in one transaction: the worker must
# not see it detached from its slot first (a CI run did).
$node2->safe_psql('postgres', "BEGIN; ALTER SUBSCRIPTION $name DISABLE;"
	  . " ALTER SUBSCRIPTION $name SET (slot_name = NONE); DROP SUBSCRIPTION $name; COMMIT");
$marked = marked_transfer($node1, 10002, 19998);
$node1->poll_query_until('postgres', qq{
SELECT count(*) = 2 FROM presplit.events WHERE plan_id = $plan AND kind = 'remote_target_resync'})
  or die 'the dropped subscription was not found lost: ' . events($plan);
like($node1->safe_psql('postgres', qq{
SELECT string_agg(detail, ' / ' ORDER BY id) FROM presplit.events
 WHERE plan_id = $plan AND (kind = 'remote_target_resync' OR (from_state = 'switching' AND to_state = 'backfilling'))
   AND id > (SELECT min(id) FROM presplit.events WHERE plan_id = $plan AND kind = 'remote_target_resync')}),
	qr/^re-sync: .*the subscription $name on server "node2" was gone \/ .*(the subscription $name there was gone|the subscription $name on server "node2" was gone); the table there emptied and copied again$/,
	'a subscription there dropped with its slot kept here: lost, re-synced');
$node1->poll_query_until('postgres', qq{
SELECT state = 'switching' FROM presplit.plans WHERE id = $plan
   AND (SELECT count(*) FROM presplit.events WHERE plan_id = $plan AND kind = 'remote_target_verified') = 3})
  or die 'the split did not get back to switching: ' . events($plan);
$node1->safe_psql('postgres', "SELECT presplit.cutover($plan)");
is(state_of($plan), 'cut_over', 'the twice re-synced split cut over');
is($node2->safe_psql('postgres', 'SELECT count(*) || \' \' || sum(balance) || \' \' || '
	  . '(SELECT balance FROM public.accounts_1 WHERE id = 19998) FROM public.accounts_1'),
	$node1->safe_psql('postgres', 'SELECT count(*) || \' \' || sum(balance) FROM ONLY accounts_1 WHERE id >= 15000')
	  . " $marked",
	'the other server has the upper half as the old partition has it, both transfers included');
accounts_invariant_ok($node1, $rows, $total, 'invariant after the re-synced split\'s cutover');
$node1->safe_psql('postgres', "SELECT presplit.finalize($plan)");
no_replication_left('after the re-synced split', $node1, $node2);

# 2. The other server down before a split's subscription is created (held
# by presplit.backfill_paused until it is down).
$node1->safe_psql('postgres', 'ALTER SYSTEM SET presplit.backfill_paused = on; SELECT pg_reload_conf()');
$plan = $node1->safe_psql('postgres',
	q{SELECT presplit.split_partition('accounts_0', '{5000}', ramp => false, servers => ARRAY[NULL, 'node2'])});
$node2->stop('fast');
$node1->safe_psql('postgres', 'ALTER SYSTEM RESET presplit.backfill_paused; SELECT pg_reload_conf()');
$node1->poll_query_until('postgres', qq{
SELECT count(*) FILTER (WHERE kind = 'worker_error') >= 3
    OR bool_or(kind = 'remote_split_retry' AND detail LIKE '%failure 4 in a row%')
  FROM presplit.events WHERE plan_id = $plan})
  or die 'the subscription was not tried: ' . events($plan);
is($node1->safe_psql('postgres', qq{
SELECT count(*) FILTER (WHERE kind = 'worker_error') || ' / '
    || string_agg(substring(detail FROM 'failure (\\d+) in a row'), ' ' ORDER BY id)
         FILTER (WHERE kind = 'remote_split_retry')
  FROM presplit.events WHERE plan_id = $plan}),
	'0 / 1 2 4', 'the other server down before the cutover: no worker_error, remote_split_retry at the 1st, 2nd, 4th failure');
like(state_of($plan), qr/^(preparing|backfilling)$/, 'the plan waits, it does not fail');
$node2->start;
$node1->poll_query_until('postgres', "SELECT state = 'switching' FROM presplit.plans WHERE id = $plan")
  or die 'the split did not go on once the server was back: ' . events($plan);
$node1->safe_psql('postgres', "SELECT presplit.cutover($plan)");
$node1->poll_query_until('postgres', qq{
SELECT state = 'cut_over' FROM presplit.plans WHERE id = $plan
   AND EXISTS (SELECT FROM presplit.events WHERE plan_id = $plan AND kind = 'remote_reverse')})
  or die 'the split did not cut over with its reverse direction: ' . events($plan);
pass('back up, the split copied, synced and cut over');
accounts_invariant_ok($node1, $rows, $total, 'invariant after the cutover of the split that waited');

# 3. Its reverse subscription here detached from its slot.
my $back = "presplit_back_split_${plan}_1";
$node1->safe_psql('postgres', "ALTER SUBSCRIPTION $back DISABLE; ALTER SUBSCRIPTION $back SET (slot_name = NONE)");
$node1->poll_query_until('postgres', qq{
SELECT EXISTS (SELECT FROM presplit.events WHERE plan_id = $plan AND kind = 'remote_reverse_lost')})
  or die 'the detached reverse subscription was not found lost: ' . events($plan);
like($node1->safe_psql('postgres', "SELECT detail FROM presplit.events WHERE plan_id = $plan AND kind = 'remote_reverse_lost'"),
	qr/the subscription $back here was detached from its replication slot; rollback after the cutover is refused$/,
	'event remote_reverse_lost: the reverse subscription detached from its slot');
is(replication_objects($node2), 'publications: ; slots: ; subscriptions: ',
	'its slot and publication there dropped (no WAL held there)');
refused($node1, "SELECT presplit.rollback($plan)", '55000', 'has no reverse direction',
	'the rollback is refused');
$node1->safe_psql('postgres', "SELECT presplit.finalize($plan)");
is(state_of($plan), 'finalized', 'finalized');
no_replication_left('after the split whose reverse direction was lost', $node1, $node2, $node3);

# 4. A split onto node2 and node3, cut over; finalize with node3 down.
$plan = split_switching('accounts_2', '{23000,26000}', 'node2', 'node3');
$node1->safe_psql('postgres', "SELECT presplit.cutover($plan)");
$node1->poll_query_until('postgres', qq{
SELECT state = 'cut_over' FROM presplit.plans WHERE id = $plan
   AND (SELECT count(*) FROM presplit.events WHERE plan_id = $plan AND kind = 'remote_reverse') = 2
   AND NOT EXISTS (SELECT FROM pg_replication_slots)})
  or die 'the split onto two servers did not cut over with both reverse directions: ' . events($plan);
my @back = map { "presplit_back_split_${plan}_$_" } (1, 2);
my $both = "publications: ; slots: ; subscriptions: $back[0],$back[1]"
  . " | publications: $back[0]; slots: $back[0]; subscriptions: "
  . " | publications: $back[1]; slots: $back[1]; subscriptions: ";
is(join(' | ', map { replication_objects($_) } ($node1, $node2, $node3)), $both,
	'cut over: both reverse directions');
$node3->stop('fast');
my ($ret, $out, $err) = $node1->psql('postgres', "SELECT presplit.finalize($plan)");
ok($ret != 0 && $err =~ /node3/, 'finalize with node3 down fails, naming it') or diag($err);
is(state_of($plan), 'cut_over', 'the failed finalize left the plan cut over');
is(join(' | ', map { replication_objects($_) } ($node1, $node2)),
	"publications: ; slots: ; subscriptions: $back[0],$back[1] | publications: $back[0]; slots: $back[0]; subscriptions: ",
	'nothing dropped: node2\'s reverse direction is there, here and there');
$node3->start;
$node1->poll_query_until('postgres', qq{
SELECT count(*) = 2 FROM pg_stat_subscription WHERE subname IN ('$back[0]', '$back[1]') AND pid IS NOT NULL})
  or die 'the reverse directions did not run again';
is($node1->safe_psql('postgres', "SELECT count(*) FROM presplit.events WHERE plan_id = $plan AND kind = 'remote_reverse_lost'"),
	'0', 'no reverse direction lost');

# node3 reachable, but refusing to drop a publication: finalize ends the
# plan all the same, and the worker drops what is left there once it can.
$node3->safe_psql('postgres', q{
CREATE FUNCTION refuse_drop() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'no publication is dropped here'; END $$;
CREATE EVENT TRIGGER refuse_drop ON ddl_command_start WHEN TAG IN ('DROP PUBLICATION')
    EXECUTE FUNCTION refuse_drop();
});
$node1->safe_psql('postgres', "SELECT presplit.finalize($plan)");
is(state_of($plan), 'finalized', 'finalize with a drop failing on node3 after it was reached: finalized');
like($node1->safe_psql('postgres', qq{
SELECT string_agg(detail, ' / ' ORDER BY id) FROM presplit.events WHERE plan_id = $plan AND kind = 'remote_split_retry'}),
	qr/target 2 on server "node3": could not drop its replication there at finalize: .*no publication is dropped here; the worker drops it/,
	'event: what node3 kept is left to the worker');
is(replication_objects($node2), 'publications: ; slots: ; subscriptions: ', 'node2: everything dropped');
$node1->poll_query_until('postgres', qq{
SELECT count(*) >= 2 FROM presplit.events WHERE plan_id = $plan AND kind = 'remote_split_retry'})
  or die 'the worker did not try node3: ' . events($plan);
$node3->safe_psql('postgres', 'DROP EVENT TRIGGER refuse_drop');
no_replication_left('after the worker dropped what finalize left', $node1, $node2, $node3);
accounts_invariant_ok($node1, $rows, $total, 'invariant after finalize');
