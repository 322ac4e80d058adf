# Connections opened before a cutover onto another server
# (presplit.remote_cutover_warmup, docs/multi_server.md "Connections opened
# before the lock"): a move_partition's cutover announces itself, and each
# session whose statement reads the partition during the warm-up opens its
# postgres_fdw connection to the other server then -- before the lock, not
# with its first statement after it. A session whose role has no user
# mapping there fails its warm-up quietly: its statements go on until the
# cutover (after it, reading the partition needs the mapping). A session
# whose transactions end with PREPARE TRANSACTION is not warmed
# (postgres_fdw would refuse to prepare them), nor one that reads it only
# inside a function (the remote transaction would stay open to the end of
# the function's caller). Without connect_timeout on
# the server nothing is warmed. The cutover's event counts the sessions.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PresplitTest;
use Test::More tests => 12;

my ($node1, $node2) = presplit_server_pair("presplit.naptime = 100\n"
	  . "presplit.remote_cutover_warmup = '3s'\nmax_prepared_transactions = 5\n");
# node2 sets connect_timeout (presplit_server_pair): the warm-up needs it.

my $rows = 20000;
my $total = create_accounts($node1, $rows, 2, manage => 0);
# A role that may read the table but has no user mapping for node2.
$node1->safe_psql('postgres', q{
CREATE ROLE unmapped LOGIN;
GRANT SELECT ON accounts TO unmapped;
CREATE FUNCTION balance_of(k bigint) RETURNS bigint LANGUAGE plpgsql
    AS $$ BEGIN RETURN (SELECT balance FROM accounts WHERE id = k); END $$;
});

# Held before its verification until the initial copy is over, so that the
# cutover comes while the sessions below read.
$node1->safe_psql('postgres', 'ALTER SYSTEM SET presplit.backfill_paused = on');
$node1->reload;
my $move = $node1->safe_psql('postgres', q{SELECT presplit.move_partition('accounts_1', 'node2')});
$node2->poll_query_until('postgres', q{
SELECT srsubstate = 'r' FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid})
  or die 'the initial copy did not end';

# The sessions, each a pgbench client reading one row by key every 20 ms:
# - three of the table's owner, keys of both partitions;
# - one of the unmapped role, keys of the partition moved (every
#   transaction logged);
# - one of the owner reading keys of the partition moved through a function;
# - one of the owner whose transactions end with PREPARE TRANSACTION, keys
#   of the partition that stays, with a generic plan: the moved partition
#   is in its plan (pruned only when it runs), so the warm-up would concern
#   it, and postgres_fdw, asked for a connection in the transaction, would
#   refuse its PREPARE.
my $dir = PostgreSQL::Test::Utils::tempdir();
my %scripts = (
	both => "\\set k random(0, 19999)\nSELECT balance FROM accounts WHERE id = :k;\n",
	moved => "\\set k random(10000, 19999)\nSELECT balance FROM accounts WHERE id = :k;\n",
	function => "\\set k random(10000, 19999)\nSELECT balance_of(:k);\n",
	prepared => "\\set k random(0, 9999)\nBEGIN;\nSELECT balance FROM accounts WHERE id = :k;\n"
	  . "PREPARE TRANSACTION 'warm';\nCOMMIT PREPARED 'warm';\n");
foreach my $name (keys %scripts)
{
	open my $fh, '>', "$dir/$name.sql" or die $!;
	print $fh $scripts{$name} . "\\sleep 20 ms\n";
	close $fh;
}
my @connect = ('-h', $node1->host, '-p', $node1->port, 'postgres');
my ($out, $err, $out_u, $err_u, $out_p, $err_p, $out_f, $err_f) = ('') x 8;
my $readers = start_pgbench($node1, "$dir/both.sql", 3, 60, \$out, \$err);
my $unmapped = IPC::Run::start(
	[ 'pgbench', '-n', '-c', 1, '-T', 60, '-l', "--log-prefix=$dir/unmapped",
	  '-f', "$dir/moved.sql", '-U', 'unmapped', @connect ],
	'>', \$out_u, '2>', \$err_u);
my $function = start_pgbench($node1, "$dir/function.sql", 1, 60, \$out_f, \$err_f);
my $prepared;
{
	local $ENV{PGOPTIONS} = '-c plan_cache_mode=force_generic_plan';
	$prepared = IPC::Run::start(
		[ 'pgbench', '-n', '-c', 1, '-T', 60, '-M', 'prepared', '-f', "$dir/prepared.sql",
		  @connect ],
		'>', \$out_p, '2>', \$err_p);
}
# Every session connected (6 pgbench clients) and reading.
$node1->poll_query_until('postgres', q{
SELECT count(*) = 6 FROM pg_stat_activity
 WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()})
  or die 'the pgbench clients did not connect';
sleep 1;
is($node2->safe_psql('postgres',
	q{SELECT count(*) FROM pg_stat_activity WHERE application_name = 'postgres_fdw'}),
	'0', 'no session has a postgres_fdw connection to node2 before the cutover');

$node1->safe_psql('postgres', 'ALTER SYSTEM RESET presplit.backfill_paused');
$node1->reload;
$node1->poll_query_until('postgres',
	"SELECT state = 'cut_over' FROM presplit.remote_move WHERE id = $move")
  or die 'the move did not cut over: '
  . $node1->safe_psql('postgres', 'SELECT kind, detail FROM presplit.events ORDER BY id');
my ($cut_at, $cut_epoch, $detail) = split /\|/, $node1->safe_psql('postgres', qq{
SELECT at || '|' || extract(epoch FROM at) || '|' || detail FROM presplit.events
 WHERE kind = 'remote_cutover' AND detail LIKE 'move $move:%'}), 3;
like($detail, qr/; 3 sessions had their postgres_fdw connections open before the lock \(warm-up 3000 ms\), 1 could not open them$/,
	'the cutover\'s event counts the owner\'s sessions warmed and the unmapped one that could not');
# The owner's sessions connected to node2 before the cutover's event (logged
# under the lock), and kept their connections.
is($node2->safe_psql('postgres', qq{
SELECT count(*) FROM pg_stat_activity
 WHERE application_name = 'postgres_fdw' AND backend_start < '$cut_at'::timestamptz}),
	'3', 'node2: the three sessions\' connections began before the cutover');
ok($readers->pumpable && $prepared->pumpable && $function->pumpable,
	'the readers were still reading after the cutover');
pgbench_ok($readers, \$out, \$err, 'of the owner\'s sessions through the cutover');
pgbench_ok($function, \$out_f, \$err_f, 'reading through a function, through the cutover');
pgbench_ok($prepared, \$out_p, \$err_p,
	'ending in PREPARE TRANSACTION, with a generic plan, through the warm-up and the cutover');

# The unmapped session read on through the warm-up (its warm-up failed at
# its first statement in it) until the cutover; then its reads of the moved
# partition need a user mapping.
$unmapped->finish;
my ($last_end, $during) = (0, 0);
foreach my $log (glob("$dir/unmapped*"))
{
	open my $in, '<', $log or die $!;
	while (<$in>)
	{
		# client transaction latency_us script epoch_s epoch_us
		my @f = split;
		next unless @f >= 6 && $f[2] =~ /^\d+$/;
		my $end = $f[4] + $f[5] / 1e6;
		$last_end = $end if $end > $last_end;
		$during++ if $end >= $cut_epoch - 2.5 && $end <= $cut_epoch;
	}
	close $in;
}
ok($during >= 10,
	"the unmapped role's session read on during the warm-up: $during statements in the 2.5 s before the cutover");
like($err_u, qr/user mapping not found/,
	'after the cutover its reads of the moved partition fail for want of a user mapping');
ok($node2->poll_query_until('postgres',
	q{SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'postgres_fdw'}),
	'node2: the sessions\' connections ended with them');
accounts_invariant_ok($node1, $rows, $total, 'invariant through the foreign partition');

# No connect_timeout on the server: no announcement, and the event says why.
$node1->safe_psql('postgres', q{ALTER SERVER node2 OPTIONS (DROP connect_timeout)});
my $back = $node1->safe_psql('postgres', q{SELECT presplit.move_partition('accounts_0', 'node2')});
$node1->poll_query_until('postgres',
	"SELECT state = 'cut_over' FROM presplit.remote_move WHERE id = $back")
  or die 'the second move did not cut over';
like($node1->safe_psql('postgres', qq{
SELECT detail FROM presplit.events WHERE kind = 'remote_cutover' AND detail LIKE 'move $back:%'}),
	qr/; no warm-up \(server "node2" sets no connect_timeout: a connection to it could wait without end\)$/,
	'without connect_timeout on the server nothing is announced');

$node1->stop;
$node2->stop;
