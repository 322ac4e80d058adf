# Connections opened before a cutover onto another server
# (presplit.remote_cutover_warmup, docs/multi_server.md "Connections opened
# before the lock"): a move_partition's cutover announces itself, and each
# session that reads the table during the warm-up opens its postgres_fdw
# connection to the other server then -- before the lock, not with its first
# statement after it. A session whose role has no user mapping there fails
# its warm-up quietly: none of its statements fails. A session whose
# transactions end with PREPARE TRANSACTION is not warmed (postgres_fdw
# would refuse to prepare them). The cutover's event counts the sessions.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PresplitTest;
use Test::More tests => 10;

my ($node1, $node2) = presplit_server_pair("presplit.naptime = 100\n"
	  . "presplit.remote_cutover_warmup = '3s'\nmax_prepared_transactions = 5\n");

my $rows = 20000;
my $total = create_accounts($node1, $rows, 2, manage => 0);
# A role that may read the table but has no user mapping for node2.
$node1->safe_psql('postgres', q{
CREATE ROLE unmapped LOGIN;
GRANT SELECT ON accounts TO unmapped;
});

# Held before its verification until the initial copy is over, so that the
# cutover comes while the sessions below read.
$node1->safe_psql('postgres', 'ALTER SYSTEM SET presplit.backfill_paused = on');
$node1->reload;
my $move = $node1->safe_psql('postgres', q{SELECT presplit.move_partition('accounts_1', 'node2')});
$node2->poll_query_until('postgres', q{
SELECT srsubstate = 'r' FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid})
  or die 'the initial copy did not end';

# Three sessions of the table's owner read both partitions; one of the
# unmapped role reads only the partition that stays (pruned at planning:
# postgres_fdw is never asked for its rows).
my $dir = PostgreSQL::Test::Utils::tempdir();
open my $fh, '>', "$dir/both.sql" or die $!;
print $fh "\\set k random(0, 19999)\nSELECT balance FROM accounts WHERE id = :k;\n\\sleep 20 ms\n";
close $fh;
open $fh, '>', "$dir/staying.sql" or die $!;
print $fh "\\set k random(0, 9999)\nSELECT balance FROM accounts WHERE id = :k;\n\\sleep 20 ms\n";
close $fh;
open $fh, '>', "$dir/prepared.sql" or die $!;
print $fh "\\set k random(0, 9999)\nBEGIN;\nSELECT balance FROM accounts WHERE id = :k;\n"
  . "PREPARE TRANSACTION 'warm:client_id';\nCOMMIT PREPARED 'warm:client_id';\n\\sleep 20 ms\n";
close $fh;
my ($out, $err, $out_u, $err_u, $out_p, $err_p) = ('', '', '', '', '', '');
my $readers = start_pgbench($node1, "$dir/both.sql", 3, 25, \$out, \$err);
my $unmapped = IPC::Run::start(
	[ 'pgbench', '-n', '-c', 1, '-T', 25, '-f', "$dir/staying.sql", '-U', 'unmapped',
	  '-h', $node1->host, '-p', $node1->port, 'postgres' ],
	'>', \$out_u, '2>', \$err_u);
my $prepared = start_pgbench($node1, "$dir/prepared.sql", 1, 25, \$out_p, \$err_p);
sleep 2; # every session connected and reading
is($node2->safe_psql('postgres',
	q{SELECT count(*) FROM pg_stat_activity WHERE application_name = 'postgres_fdw'}),
	'0', 'no session has a postgres_fdw connection to node2 before the cutover');

$node1->safe_psql('postgres', 'ALTER SYSTEM RESET presplit.backfill_paused');
$node1->reload;
$node1->poll_query_until('postgres',
	"SELECT state = 'cut_over' FROM presplit.remote_move WHERE id = $move")
  or die 'the move did not cut over: '
  . $node1->safe_psql('postgres', 'SELECT kind, detail FROM presplit.events ORDER BY id');
my ($cut_at, $detail) = split /\|/, $node1->safe_psql('postgres', qq{
SELECT at || '|' || detail FROM presplit.events
 WHERE kind = 'remote_cutover' AND detail LIKE 'move $move:%'}), 2;
like($detail, qr/; 3 sessions had their postgres_fdw connections open before the lock \(warm-up 3000 ms\), 1 could not open them$/,
	'the cutover\'s event counts the sessions warmed and the one that could not');
# The owner's sessions connected to node2 before the cutover's event (logged
# under the lock), and kept their connections.
is($node2->safe_psql('postgres', qq{
SELECT count(*) FROM pg_stat_activity
 WHERE application_name = 'postgres_fdw' AND backend_start < '$cut_at'::timestamptz}),
	'3', 'node2: the three sessions\' connections began before the cutover');
ok($readers->pumpable, 'the readers were still reading after the cutover');
pgbench_ok($readers, \$out, \$err, 'of the owner\'s sessions through the cutover');
$unmapped->finish;
my ($done, $failed) = pgbench_counts($out_u);
pgbench_ok($prepared, \$out_p, \$err_p, 'ending in PREPARE TRANSACTION through the warm-up');
ok($unmapped->result == 0 && $done && !$failed,
	"the unmapped role's session: $done statements, none failed")
  or diag("$out_u\n$err_u");
ok($node2->poll_query_until('postgres',
	q{SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'postgres_fdw'}),
	'node2: the sessions\' connections ended with them');
accounts_invariant_ok($node1, $rows, $total, 'invariant through the foreign partition');

# Off: no announcement, and the event says so.
$node1->safe_psql('postgres', q{
ALTER SYSTEM SET presplit.remote_cutover_warmup = 0;
SELECT pg_reload_conf();
});
my $back = $node1->safe_psql('postgres', q{SELECT presplit.move_partition('accounts_0', 'node2')});
$node1->poll_query_until('postgres',
	"SELECT state = 'cut_over' FROM presplit.remote_move WHERE id = $back")
  or die 'the second move did not cut over';
like($node1->safe_psql('postgres', qq{
SELECT detail FROM presplit.events WHERE kind = 'remote_cutover' AND detail LIKE 'move $back:%'}),
	qr/; no warm-up \(presplit.remote_cutover_warmup is 0\)$/,
	'with presplit.remote_cutover_warmup = 0 nothing is announced');

$node1->stop;
$node2->stop;
