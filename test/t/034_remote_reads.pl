# Weighted reads of a split whose upper half goes to another server: while
# the plan is switching, the reads the new channel draws for that half go
# through a postgres_fdw foreign table (not attached) and are counted on the
# remote channel. Shown: the foreign table made when switching starts and
# dropped by the rollback; routed reads with the right results at weight 100
# and under pgbench transfers at weight 50; a transaction that has written
# never reads the other server; the ramp aborting back to weight 0 when the
# other server stops, with no change lost, and when its reads fail while
# replication goes on (errors on the remote channel). No replication slot is
# left.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use IPC::Run;
use PresplitTest;
use Test::More tests => 35;

# The ramp: one step to 50 %, judged on 5 reads per channel; latency never
# aborts here (a remote read is slower by design: errors do).
my ($node1, $node2) = presplit_server_pair(qq{
presplit.naptime = 100
presplit.backfill_batch_size = 2000
presplit.ramp_step = 50
presplit.ramp_interval = 500
presplit.ramp_min_statements = 5
presplit.ramp_evidence_timeout = 3600000
presplit.ramp_min_latency_increase = 60000
presplit.remote_read_max_lag = 30000
});

my $rows = 20000;
my $total = create_accounts($node1, $rows, 2, manage => 0);
$node1->safe_psql('postgres', qq{
ANALYZE accounts;
SELECT presplit.manage('accounts');
-- The plan a statement ran with (its routed channel).
CREATE FUNCTION plan_of(q text) RETURNS text LANGUAGE plpgsql AS \$\$
DECLARE line text; result text := '';
BEGIN
  FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q LOOP
    result := result || line || E'\\n';
  END LOOP;
  RETURN result;
END \$\$;
});

sub slots_and_replication {
	my ($name) = @_;
	no_replication_left($name, $node1, $node2);
	is($node1->safe_psql('postgres', 'SELECT count(*) FROM pg_foreign_table'),
		'0', "$name: no foreign table here");
}

sub channel_counts {
	my ($plan) = @_;
	my %count = map { my ($c, $s, $e) = split /\|/; ($c => { statements => $s, errors => $e }) }
	  split /\n/, $node1->safe_psql('postgres',
		"SELECT channel, statements, errors FROM presplit.channels WHERE plan_id = $plan");
	return \%count;
}

# 1. Switching starts: the remote target's foreign table exists, unattached.
my $plan = $node1->safe_psql('postgres', q{
SELECT presplit.split_partition('accounts_0', '{5000}', ramp => false, servers => ARRAY[NULL, 'node2'])});
$node1->poll_query_until('postgres', "SELECT state = 'switching' FROM presplit.plans WHERE id = $plan")
  or die 'the plan did not get to switching: '
  . $node1->safe_psql('postgres', 'SELECT kind, detail FROM presplit.events ORDER BY id');
my $foreign = "accounts_0_${plan}_1";
is($node1->safe_psql('postgres', qq{
SELECT c.relname || ' ' || c.relispartition FROM pg_foreign_table f JOIN pg_class c ON c.oid = f.ftrelid}),
	"$foreign false", 'switching: the remote target has a foreign table here, not attached');
is($node1->safe_psql('postgres',
		"SELECT string_agg(channel || ' ' || weight, ', ' ORDER BY channel) FROM presplit.channels WHERE plan_id = $plan"),
	'new 0, old 100, remote 0', 'presplit.channels has a remote row');

# 2. Weight 100 (no ramp: no cutover): a read of the upper half goes to the
# other server once the worker has measured its lag.
$node1->safe_psql('postgres', "SELECT presplit.set_weight($plan, 100)");
my $upper = 'SELECT count(*), sum(balance) FROM accounts WHERE id >= 5000 AND id < 10000';
ok($node1->poll_query_until('postgres', "SELECT plan_of('$upper') ~ 'Foreign Scan on $foreign'"),
	'at weight 100 a read of the remote range is a foreign scan of its foreign table');
like($node1->safe_psql('postgres', "SELECT plan_of('SELECT balance FROM accounts WHERE id = 1234')"),
	qr/Index Scan using \S+ on accounts_0_${plan}_0 /, 'a read of the local range reads the local shadow');
is($node1->safe_psql('postgres', "SET presplit.remote_read_max_lag = 0; SELECT plan_of('$upper') ~ 'Foreign Scan'"),
	'f', 'presplit.remote_read_max_lag = 0: no read goes to the other server');
my $before = channel_counts($plan);
is($node1->safe_psql('postgres', "SELECT count(*) || ' ' || sum(balance) FROM accounts WHERE id >= 5000 AND id < 10000"),
	'5000 5000000', 'a routed read of the remote range returns the right rows');
my $after = channel_counts($plan);
cmp_ok($after->{remote}{statements}, '>', $before->{remote}{statements},
	'... and it was served by the remote channel');

# 3. Read-your-writes: once a transaction has written, it never reads the
# other server (replication there is asynchronous).
my $ryw = $node1->safe_psql('postgres', qq{
BEGIN;
SELECT plan_of('SELECT balance FROM accounts WHERE id = 7000') ~ 'Foreign Scan';
UPDATE accounts SET balance = balance + 1 WHERE id = 7000;
SELECT plan_of('SELECT balance FROM accounts WHERE id = 7000') ~ 'Foreign Scan';
SELECT balance FROM accounts WHERE id = 7000;
ROLLBACK;
});
is($ryw, "t\nf\n1001", 'a transaction reads the other server before it writes, and its own write after');

# 3b. Each reader's own user mapping, as after the cutover: a role without
# one reads the source, also through a plan made by a role with one; with
# one it reads the other server.
my $superuser = $node1->safe_psql('postgres', 'SELECT current_user');
$node1->safe_psql('postgres', 'CREATE ROLE reader; GRANT SELECT ON accounts TO reader');
is($node1->safe_psql('postgres', qq{
SET ROLE reader;
SELECT plan_of('$upper') ~ 'Foreign Scan';
SELECT count(*) || ' ' || sum(balance) FROM accounts WHERE id >= 5000 AND id < 10000}),
	"f\n5000 5000000", 'a reader without a user mapping reads the remote range from the source');
$before = channel_counts($plan);
$node1->safe_psql('postgres', qq{
SET plan_cache_mode = force_generic_plan;
PREPARE upper_half AS $upper;
EXECUTE upper_half;
SET ROLE reader;
EXECUTE upper_half});
$after = channel_counts($plan);
is(($after->{remote}{statements} - $before->{remote}{statements}) . ' '
	  . ($after->{old}{statements} - $before->{old}{statements}),
	'1 1', 'one plan: the superuser\'s execution read the other server, the reader\'s the source');
$node1->safe_psql('postgres',
	"CREATE USER MAPPING FOR reader SERVER node2 OPTIONS (user '$superuser', password_required 'false')");
is($node1->safe_psql('postgres', qq{
SET ROLE reader;
SELECT plan_of('$upper') ~ 'Foreign Scan';
SELECT count(*) || ' ' || sum(balance) FROM accounts WHERE id >= 5000 AND id < 10000}),
	"t\n5000 5000000", 'with a user mapping of its own, the reader reads the other server');
$node1->safe_psql('postgres',
	'DROP USER MAPPING FOR reader SERVER node2; REVOKE SELECT ON accounts FROM reader; DROP ROLE reader');

# 4. Weight 50 under pgbench transfers (a transaction that writes then
# reads, then a read on its own) for 15 s.
$node1->safe_psql('postgres', "SELECT presplit.set_weight($plan, 50)");
my $dir = PostgreSQL::Test::Utils::tempdir;
open(my $fh, '>', "$dir/transfer.sql") or die;
print $fh q{
\set a random(0, 9999)
\set b random(0, 19999)
BEGIN;
UPDATE accounts SET balance = balance + CASE WHEN id = :a THEN -1 ELSE 1 END
 WHERE id IN (:a, :b) AND :a <> :b;
SELECT balance FROM accounts WHERE id = :b;
END;
SELECT balance FROM accounts WHERE id = :a;
};
close $fh;
$before = channel_counts($plan);
my ($out, $err) = ('', '');
pgbench_ok(start_pgbench($node1, "$dir/transfer.sql", 3, 15, \$out, \$err), \$out, \$err, 'at weight 50');
$after = channel_counts($plan);
my %served = map { $_ => $after->{$_}{statements} - $before->{$_}{statements} } qw(old new remote);
diag("reads served at weight 50: old $served{old}, new $served{new}, remote $served{remote}");
ok($served{old} > 0 && $served{new} > 0 && $served{remote} > 0,
	'under pgbench the reads went to all three channels');
is($after->{remote}{errors}, 0, 'no remote read failed');
# A routed read may miss the last transfers for up to the lag (the
# consistency contract): the invariant is read through the parent, routed
# at weight 50, once the other server has applied every transfer (the
# source read with routing off: at weight 50 it is routed too).
my $upper_here = $node1->safe_psql('postgres', "SET presplit.routing = off;"
	  . " SELECT count(*) || ' ' || sum(balance) FROM ONLY accounts_0 WHERE id >= 5000");
$node2->poll_query_until('postgres', q{SELECT count(*) || ' ' || sum(balance) FROM public.accounts_0},
	$upper_here)
  or die "the other server did not catch up with the transfers ($upper_here)";
accounts_invariant_ok($node1, $rows, $total, 'invariant through the parent');

# 5. The rollback drops the foreign table with the rest.
$node1->safe_psql('postgres', "SELECT presplit.rollback($plan)");
is($node1->safe_psql('postgres', "SELECT state FROM presplit.plans WHERE id = $plan"),
	'rolled_back', 'rollback before the cutover');
slots_and_replication('after the rollback');

# 6. The ramp: at 50 % under reads, the other server stops. Its reads fail
# or it stops streaming: the ramp aborts to weight 0, paused, and no
# transfer made meanwhile is lost once it is back.
$plan = $node1->safe_psql('postgres',
	q{SELECT presplit.split_partition('accounts_0', '{5000}', servers => ARRAY[NULL, 'node2'])});
$node1->poll_query_until('postgres',
	"SELECT weight = 50 FROM presplit.channels WHERE plan_id = $plan AND channel = 'new'")
  or die 'the ramp did not get to 50: '
  . $node1->safe_psql('postgres', "SELECT kind, detail FROM presplit.events WHERE plan_id = $plan ORDER BY id");
# No reads yet: the step waits for evidence. From now on it waits an hour.
$node1->append_conf('postgresql.conf', 'presplit.ramp_interval = 3600000');
$node1->reload;
open($fh, '>', "$dir/reads.sql") or die;
print $fh 'SELECT balance FROM accounts WHERE id = ' . int(rand(10000)) . ";\n" for 1 .. 200000;
close $fh;
my $writes_script = write_transfer_script(PostgreSQL::Test::Utils::tempdir,
	{ debit => [ 0, 9999 ], credit => [ 0, 19999 ] });
my ($rout, $rerr) = ('', '');
my $reads = IPC::Run::start(
	[ 'psql', '-X', '-q', '-h', $node1->host, '-p', $node1->port, '-d', 'postgres', '-f', "$dir/reads.sql" ],
	'>', '/dev/null', '2>', \$rerr);
my ($wout, $werr) = ('', '');
my $writes = start_pgbench($node1, $writes_script, 2, 600, \$wout, \$werr);
ok($node1->poll_query_until('postgres',
		"SELECT statements >= 20 FROM presplit.channels WHERE plan_id = $plan AND channel = 'remote'"),
	'at 50 % the remote channel serves reads');
$node2->stop('fast');
ok($node1->poll_query_until('postgres',
		"SELECT EXISTS (SELECT FROM presplit.events WHERE plan_id = $plan AND kind = 'ramp_aborted')"),
	'the other server stopped: the ramp aborted');
my $reason = $node1->safe_psql('postgres',
	"SELECT detail FROM presplit.events WHERE plan_id = $plan AND kind = 'ramp_aborted'");
diag("ramp_aborted: $reason");
like($reason, qr/remote reads: error rate|not streaming/, 'the abort names the remote reads');
is($node1->safe_psql('postgres',
		"SELECT weight || ' ' || paused || ' ' || state FROM presplit.channels WHERE plan_id = $plan AND channel = 'new'"),
	'0 true switching', 'back to weight 0, paused, still switching');
my $remote = channel_counts($plan)->{remote};
diag("remote channel of the ramped plan: $remote->{statements} reads, $remote->{errors} errors");
unlike($node1->safe_psql('postgres', "SELECT plan_of('$upper')"), qr/Foreign Scan/,
	'after the abort the remote range is read from the source again');
$node2->start;
$reads->kill_kill;
$writes->kill_kill;
# Nothing lost: once replication is back, the other server holds what the
# source holds for the remote target's range.
my $here = $node1->safe_psql('postgres',
	"SELECT count(*) || ' ' || sum(balance) FROM ONLY accounts_0 WHERE id >= 5000");
ok($node2->poll_query_until('postgres', 'SELECT count(*) || \' \' || sum(balance) FROM public.accounts_0', $here),
	"the other server caught up with every transfer ($here)");
accounts_invariant_ok($node1, $rows, $total, 'invariant through the parent after the abort');
$node1->safe_psql('postgres', "SELECT presplit.rollback($plan)");
is($node1->safe_psql('postgres', "SELECT state FROM presplit.plans WHERE id = $plan"),
	'rolled_back', 'the aborted plan rolled back');
slots_and_replication('after the second rollback');

# 7. The other server up, replication going on, but its reads failing (the
# user mapping names a role it does not have): the errors count on the remote
# channel and the ramp aborts on their rate.
$node1->append_conf('postgresql.conf', 'presplit.ramp_interval = 500');
$node1->reload;
$plan = $node1->safe_psql('postgres',
	q{SELECT presplit.split_partition('accounts_0', '{5000}', servers => ARRAY[NULL, 'node2'])});
$node1->poll_query_until('postgres',
	"SELECT weight = 50 FROM presplit.channels WHERE plan_id = $plan AND channel = 'new'")
  or die 'the third ramp did not get to 50: '
  . $node1->safe_psql('postgres', "SELECT kind, detail FROM presplit.events WHERE plan_id = $plan ORDER BY id");
$node1->append_conf('postgresql.conf', 'presplit.ramp_interval = 3600000');
$node1->reload;
$rerr = '';
$reads = IPC::Run::start(
	[ 'psql', '-X', '-q', '-h', $node1->host, '-p', $node1->port, '-d', 'postgres', '-f', "$dir/reads.sql" ],
	'>', '/dev/null', '2>', \$rerr);
ok($node1->poll_query_until('postgres',
		"SELECT statements >= 10 FROM presplit.channels WHERE plan_id = $plan AND channel = 'remote'"),
	'the third ramp at 50 %: the remote channel serves reads');
$node1->safe_psql('postgres',
	"ALTER USER MAPPING FOR CURRENT_USER SERVER node2 OPTIONS (ADD user 'no_such_role')");
ok($node1->poll_query_until('postgres',
		"SELECT EXISTS (SELECT FROM presplit.events WHERE plan_id = $plan AND kind = 'ramp_aborted')"),
	'the remote reads failed: the ramp aborted');
$reason = $node1->safe_psql('postgres',
	"SELECT detail FROM presplit.events WHERE plan_id = $plan AND kind = 'ramp_aborted'");
diag("ramp_aborted: $reason");
like($reason, qr/^remote reads: error rate/, 'the abort names the remote reads\' error rate');
$remote = channel_counts($plan)->{remote};
cmp_ok($remote->{errors}, '>', 0,
	"the failed reads counted as errors of the remote channel ($remote->{errors} of $remote->{statements})");
$reads->kill_kill;
$node1->safe_psql('postgres', 'ALTER USER MAPPING FOR CURRENT_USER SERVER node2 OPTIONS (DROP user)');
$node1->safe_psql('postgres', "SELECT presplit.rollback($plan)");
accounts_invariant_ok($node1, $rows, $total, 'invariant through the parent after the third rollback');
slots_and_replication('after the third rollback');
