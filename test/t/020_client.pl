# The pg_presplit client, installed beside psql, against a throwaway cluster:
# every command, a split under writes followed to its end with the invariant
# checked, --json parsed, output that is not a terminal (no escape codes, a
# line per change), Ctrl-C (pause, rollback, detach), and every error path
# with its exit status. SVGs are checked by xmllint and rendered by
# rsvg-convert. (Exit statuses: pg_presplit --help.)
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PresplitTest;
use IPC::Run;
use JSON::PP;
use Test::More tests => 67;

my $bindir = `pg_config --bindir`;
chomp $bindir;
my $client = "$bindir/pg_presplit";
ok(-x $client, "pg_presplit is installed beside psql ($bindir)");

# The ramp judges a step on a dozen reads here: on a loaded machine one slow
# read is a p95 far above the old channel's, and it would abort. This test is
# about the client following a split to its end: latency does not abort.
my $node = presplit_node('client', qq{
presplit.naptime = 100
presplit.backfill_batch_size = 5000
presplit.ramp_interval = '200ms'
presplit.ramp_step = 50
presplit.ramp_min_statements = 0
presplit.analyzer_sample_every = 1
presplit.ramp_min_latency_increase = 60000
});
$node->start;

my $rows = 40000;
$node->safe_psql('postgres', qq{
CREATE EXTENSION pg_presplit;
CREATE TABLE accounts (id bigint PRIMARY KEY, balance bigint NOT NULL) PARTITION BY RANGE (id);
CREATE TABLE accounts_0 PARTITION OF accounts FOR VALUES FROM (0) TO (20000);
CREATE TABLE accounts_1 PARTITION OF accounts FOR VALUES FROM (20000) TO (40000);
INSERT INTO accounts SELECT g, 1000 FROM generate_series(0, $rows - 1) g;
ANALYZE accounts;
SELECT presplit.manage('accounts');
CREATE ROLE alice LOGIN;
});
# Reads the analyzer records: most of them low in accounts_0.
$node->safe_psql('postgres', join('', map { "SELECT balance FROM accounts WHERE id = " . (($_ * 37) % 5000) . ";\n" } 1 .. 300));

# Runs the client with the cluster's connection in the environment; returns
# (exit status, stdout, stderr).
sub client {
	my @args = @_;
	my ($out, $err) = ('', '');
	local $ENV{PGHOST} = $node->host;
	local $ENV{PGPORT} = $node->port;
	local $ENV{PGDATABASE} = 'postgres';
	local $ENV{PGUSER} = $ENV{PGUSER} // 'postgres';
	IPC::Run::run([ $client, @args ], '<', \'', '>', \$out, '2>', \$err, IPC::Run::timeout(180));
	return ($? >> 8, $out, $err);
}

sub no_escapes {
	my ($text, $name) = @_;
	ok($text !~ /\x1b|\r/, "$name: no escape codes or carriage returns when not a terminal")
	  or diag($text);
}

sub invariant {
	return $node->safe_psql('postgres', 'SELECT count(*) || \' \' || sum(balance) FROM accounts');
}
my $total = $rows * 1000;

# Renders an SVG file; checks it is well-formed and that a real renderer draws it.
sub svg_ok {
	my ($file, $name) = @_;
	my ($out, $err) = ('', '');
	my $xml = IPC::Run::run([ 'xmllint', '--noout', $file ], '>', \$out, '2>', \$err);
	ok($xml && -s $file, "$name: xmllint accepts the SVG") or diag($err);
	my $png = "$file.png";
	my $drawn = IPC::Run::run([ 'rsvg-convert', '-o', $png, $file ], '>', \$out, '2>', \$err);
	open(my $fh, '<:raw', $png);
	my $magic = '';
	read($fh, $magic, 8) if $fh;
	ok($drawn && $magic eq "\x89PNG\r\n\x1a\n" && -s $png > 2000,
		"$name: rsvg-convert renders it to a PNG") or diag($err);
}

# --- arguments, help, version ------------------------------------------------
my ($status, $out, $err) = client('--version');
is($status, 0, '--version exits 0');
like($out, qr/^pg_presplit \(pg_presplit\) \d+\.\d+\.\d+$/m, '--version names the version');
($status, $out, $err) = client('--help');
ok($status == 0 && $out =~ /Exit status:/ && $out =~ /split PARTITION --at KEY/
	  && !grep({ $out !~ /^\s+$_\b/m } qw(status split watch rollback finalize cancel heat forecast)),
	'--help documents every command and the exit statuses');
($status, $out, $err) = client();
ok($status == 2 && $out eq '' && $err =~ /error: no command given\nTry "pg_presplit --help"/,
	'no command: exit 2, says what to do');
($status, $out, $err) = client('split', 'accounts_0');
ok($status == 2 && $err =~ /split needs --at KEY/, 'split without --at: exit 2');
($status, $out, $err) = client('status', '--frobnicate');
ok($status == 2 && $err =~ /unknown option "--frobnicate"/, 'unknown option: exit 2');
($status, $out, $err) = client('rollback', 'seven');
ok($status == 2 && $err =~ /PLAN must be an integer/, 'a plan that is not a number: exit 2');

# --- no connection -----------------------------------------------------------
my $closed_port = PostgreSQL::Test::Cluster::get_free_port();
($status, $out, $err) = client('-p', $closed_port, 'status');
ok($status == 3 && $out eq '' && $err =~ /pg_presplit: error: connection to server .* failed/s
	  && $err =~ /HINT:  Check the server is running/,
	'no server: exit 3, the connection error and a hint, nothing on stdout')
  or diag("$status\n$err");
($status, $out, $err) = client('-d', 'nosuchdb', 'status');
ok($status == 3 && $err =~ /database "nosuchdb" does not exist/, 'unknown database: exit 3');
$node->safe_psql('postgres', 'CREATE DATABASE plain');
($status, $out, $err) = client('-d', 'plain', 'status');
ok($status == 4 && $err =~ /pg_presplit is not installed in database "plain"/ && $err =~ /HINT:  .*CREATE EXTENSION/,
	'a database without the extension: exit 4, with a hint');

# --- passwords, as psql asks for them ----------------------------------------
$node->safe_psql('postgres', "CREATE ROLE bob LOGIN PASSWORD 'secret'");
my $hba = slurp_file($node->data_dir . '/pg_hba.conf');
open(my $hba_fh, '>', $node->data_dir . '/pg_hba.conf') or die;
print $hba_fh "local all bob scram-sha-256\n$hba";
close $hba_fh;
$node->reload;
{
	local $ENV{PGUSER} = 'bob';
	($status, $out, $err) = client('-w', 'status');
	ok($status == 3 && $err =~ /no password supplied/, '-w and a server that wants a password: exit 3')
	  or diag($err);
	local $ENV{PGPASSWORD} = 'secret';
	($status, $out, $err) = client('status');
	ok($status == 0 && $out =~ /^Managed tables in database postgres\n  none/m,
		'PGPASSWORD: connected; bob owns no managed table, so status shows none') or diag($out . $err);
}
{
	# On a terminal the client asks, as psql does.
	my $session = "presplit_password_$$";
	my $cmd = "PGHOST=" . $node->host . " PGPORT=" . $node->port . " PGDATABASE=postgres PGUSER=bob"
	  . " $client status; echo EXIT=\$?; sleep 30";
	system('tmux', 'new-session', '-d', '-s', $session, '-x', '100', '-y', '30', $cmd) == 0 or die 'tmux';
	my $screen = '';
	for (1 .. 300) {
		$screen = `tmux capture-pane -p -t $session`;
		last if $screen =~ /Password for user bob:/;
		select(undef, undef, undef, 0.1);
	}
	system('tmux', 'send-keys', '-t', $session, 'secret', 'Enter');
	for (1 .. 300) {
		$screen = `tmux capture-pane -p -t $session`;
		last if $screen =~ /EXIT=\d+/;
		select(undef, undef, undef, 0.1);
	}
	system('tmux', 'kill-session', '-t', $session);
	ok($screen =~ /^Password for user bob:\s*$/m && $screen =~ /Managed tables in database postgres/
		  && $screen =~ /EXIT=0/ && $screen !~ /secret/,
		'a password prompt on the terminal, without echo') or diag($screen);
}

# --- status, heat, forecast -----------------------------------------------
($status, $out, $err) = client('status');
ok($status == 0 && $out =~ /^  accounts \(partitioned by id bigint\)$/m
	  && $out =~ /^    accounts_0\s+FOR VALUES FROM \('0'\) TO \('20000'\)\s+20 000/m
	  && $out =~ /^Active plans\n  none$/m && $out =~ /^Worker  healthy: pid \d+/m,
	'status: tables, partitions, plans, worker health') or diag($out . $err);
no_escapes($out, 'status');
($status, $out, $err) = client('status', '--json');
my $doc = eval { decode_json($out) };
ok($status == 0 && $doc && $doc->{tables}[0]{parent} eq 'accounts'
	  && @{ $doc->{tables}[0]{partitions} } == 2 && $doc->{tables}[0]{partitions}[0]{reads} >= 300
	  && $doc->{worker}{healthy},
	'status --json: one document with tables, load and the worker') or diag($out);

my $dir = PostgreSQL::Test::Utils::tempdir;
($status, $out, $err) = client('heat', 'accounts', '--buckets', '8', '--svg', "$dir/heat.svg");
ok($status == 0 && $out =~ /^accounts_0\s+0 \|[^|]{8}\| 20000\s+\d+ sampled$/m
	  && $out =~ /^accounts_1\s+\(no accesses sampled yet\)$/m && $out =~ /wrote \Q$dir\E\/heat.svg/,
	'heat: a strip per partition, in plain characters') or diag($out . $err);
no_escapes($out, 'heat');
svg_ok("$dir/heat.svg", 'heat --svg');
($status, $out, $err) = client('heat', 'accounts', '--buckets', '4', '--json');
$doc = eval { decode_json($out) };
ok($status == 0 && $doc && $doc->{table} eq 'accounts' && @{ $doc->{partitions}[0]{accesses} } == 4
	  && $doc->{partitions}[0]{accesses}[0] > 0 && $doc->{partitions}[0]{accesses}[3] == 0,
	'heat --json: the accesses fall in the first quarter of accounts_0') or diag($out);
($status, $out, $err) = client('heat', 'accounts', '--color', 'always', '--buckets', '4');
ok($status == 0 && $out =~ /\x1b\[48;2;\d+;\d+;\d+m /, 'heat --color always: background-coloured cells');

# A pg_presplit without the predictor (as before 0.1.1's predictor): its
# objects taken out of the extension and dropped; TAP 021 draws forecasts.
$node->safe_psql('postgres', q{
ALTER EXTENSION pg_presplit DROP FUNCTION presplit.forecast(regclass, integer);
DROP FUNCTION presplit.forecast(regclass, integer);
ALTER EXTENSION pg_presplit DROP VIEW presplit.forecasts;
DROP VIEW presplit.forecasts;
ALTER EXTENSION pg_presplit DROP VIEW presplit.offpeak_windows;
DROP VIEW presplit.offpeak_windows;
});
($status, $out, $err) = client('forecast', 'accounts', '--svg', "$dir/history.svg");
ok($status == 0 && $out =~ /^accounts_0\s+last minute/m && $out =~ /forecasts need a pg_presplit with the predictor/,
	'forecast without the predictor: the history the analyzer keeps') or diag($out . $err);
svg_ok("$dir/history.svg", 'forecast --svg (history)');
($status, $out, $err) = client('forecast', 'accounts_1', '--metric', 'size', '--json');
$doc = eval { decode_json($out) };
ok($status == 0 && $doc && !$doc->{predictor} && @{ $doc->{partitions} } == 1
	  && $doc->{partitions}[0]{partition} eq 'accounts_1' && $doc->{partitions}[0]{total_bytes} > 0,
	'forecast PARTITION --json: that partition alone') or diag($out);

# --- unknown names, privileges ---------------------------------------------
($status, $out, $err) = client('split', 'nosuch', '--at', '10');
ok($status == 4 && $out eq '' && $err =~ /^ERROR:  42P01: relation "nosuch" does not exist$/m,
	'unknown partition: exit 4 with the server\'s message and SQLSTATE') or diag($err);
($status, $out, $err) = client('split', 'accounts_0', '--at', '99999');
ok($status == 4 && $err =~ /^ERROR:  22023: /m, 'a split point outside the partition: exit 4, 22023') or diag($err);
($status, $out, $err) = client('heat', 'nosuch');
ok($status == 4 && $err =~ /42P01/, 'heat of an unknown table: exit 4');
($status, $out, $err) = client('forecast', 'pg_class');
ok($status == 4 && $err =~ /"pg_class" is not a managed table/, 'forecast of a table not managed: exit 4');
($status, $out, $err) = client('watch', '424242');
ok($status == 4 && $err =~ /there is no split plan 424242/, 'watch of an unknown plan: exit 4');
{
	local $ENV{PGUSER} = 'alice';
	($status, $out, $err) = client('split', 'accounts_0', '--at', '100');
	ok($status == 4 && $err =~ /^ERROR:  42501: /m, 'split by a role that does not own the table: exit 4, 42501')
	  or diag($err);
	($status, $out, $err) = client('heat', 'accounts');
	ok($status == 4 && $err =~ /42501/, 'heat by another role: exit 4, 42501') or diag($err);
}

# --server reaches split_partition's servers: here the server's refusal of
# an unknown server (test/t/031_remote_split.pl splits onto a real one).
($status, $out, $err) = client('split', 'accounts_1', '--at', '30000', '--server', 'local,node2');
ok($status == 4 && $err =~ /^ERROR:  42704: server "node2" does not exist/m,
	'--server passed to split_partition: the server\'s refusal of an unknown server, exit 4')
  or diag($err);

# --- a split under writes, followed to the end (not a terminal) -------------
open(my $fh, '>', "$dir/transfer.sql") or die;
print $fh q{
\set a random(0, 39999)
\set b random(0, 39999)
UPDATE accounts SET balance = balance + CASE WHEN id = :a THEN -1 ELSE 1 END
 WHERE id IN (:a, :b) AND :a <> :b;
SELECT balance FROM accounts WHERE id = :b;
};
close $fh;
my ($bench_out, $bench_err) = ('', '');
my $bench = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '2', '-T', '8', '--max-tries=5', '-f', "$dir/transfer.sql",
	  '-h', $node->host, '-p', $node->port, 'postgres' ],
	'>', \$bench_out, '2>', \$bench_err);
($status, $out, $err) = client('split', 'accounts_0', '--at', '10000', '--interval', '0.1');
$bench->finish;
is($status, 0, 'split under writes: exit 0 at the cutover') or diag($out . $err);
my ($plan) = $out =~ /^plan (\d+): accounts_0 split at 10000, /m;
ok($plan && $out =~ /planned -> preparing/ && $out =~ /backfilling -> synced/
	  && $out =~ /switching -> cut_over/ && $out =~ /cutover: lock taken in \d+ tr/,
	'split: a line per state change, from planned to cut_over') or diag($out);
ok($out =~ /^plan $plan cut over: accounts_0 split at 10000 into accounts_0_${plan}_0, accounts_0_${plan}_1$/m
	  && $out =~ /^  copy      20 000 rows into 2 shadows/m && $out =~ /^  cutover   lock held [0-9.]+ ms/m
	  && $out =~ /pg_presplit finalize $plan/,
	'split: the summary (rows copied, lock time, what next)') or diag($out);
no_escapes($out, 'split');
ok($bench_out =~ /number of failed transactions: 0 / || $bench_out !~ /failed transactions/,
	'pgbench wrote throughout the split without a failed transaction') or diag($bench_out . $bench_err);
is(invariant(), "$rows $total", 'split: row count and total balance unchanged');
is($node->safe_psql('postgres', q{SELECT string_agg(partition::text, ' ' ORDER BY partition::text)
	FROM presplit.managed_tables WHERE parent = 'accounts'::regclass}),
	"accounts_0_${plan}_0 accounts_0_${plan}_1 accounts_1", 'the new partitions replaced accounts_0');

($status, $out, $err) = client('watch', $plan);
ok($status == 0 && $out =~ /plan $plan cut over/, 'watch of a cut-over plan: ends at once, exit 0');
($status, $out, $err) = client('finalize', $plan, '--json');
$doc = eval { decode_json($out) };
ok($status == 0 && $doc && $doc->{state} eq 'finalized' && grep({ $_->{to_state} && $_->{to_state} eq 'finalized' } @{ $doc->{events} }),
	'finalize --json: the plan is finalized') or diag($out . $err);
($status, $out, $err) = client('rollback', $plan);
ok($status == 4 && $err =~ /^ERROR:  55000: /m, 'rollback of a finalized plan: exit 4, 55000') or diag($err);

# --- split --json ----------------------------------------------------------
($status, $out, $err) = client('split', 'accounts_1', '--at', '25000,30000', '--json', '--interval', '0.1');
my @docs = split /\n/, $out;
$doc = eval { decode_json($out) };
ok($status == 0 && @docs == 1 && $doc && $doc->{command} eq 'split' && $doc->{exit_status} == 0,
	'split --json: exactly one JSON document, exit 0') or diag($out . $err);
my $p = $doc ? $doc->{plans}[0] : {};
ok($p->{state} eq 'cut_over' && $p->{exit_status} == 0 && @{ $p->{shadows} } == 3
	  && $p->{copy}{rows} == 20000 && $p->{cutover}{lock_held_ms} > 0
	  && join(',', @{ $p->{split_points} }) eq '25000,30000',
	'split --json: state, shadows, rows copied, lock time') or diag($out);
ok(grep({ ($_->{kind} eq 'state_change') && $_->{to_state} eq 'cut_over' } @{ $p->{events} }),
	'split --json: the events, to the cutover');
is(invariant(), "$rows $total", 'split --json: row count and total balance unchanged');
my $plan2 = $doc->{plan};

# --- rollback after the cutover ------------------------------------------------
($status, $out, $err) = client('rollback', $plan2);
ok($status == 0 && $out =~ /rollback_swap: lock taken/ && $out =~ /^plan $plan2 rolled back \(lock held [0-9.]+ ms\)$/m,
	'rollback after the cutover: exit 0, the swap and its lock time') or diag($out . $err);
is(invariant(), "$rows $total", 'rollback: row count and total balance unchanged');

# --- pause, resume, cancel ------------------------------------------------------
my $prepared = $node->safe_psql('postgres', q{SELECT presplit.prepare_split('accounts_1', '{30000}')});
$node->safe_psql('postgres', "SELECT presplit.wait($prepared, 'synced', '1 min')");
($status, $out, $err) = client('watch', $prepared);
ok($status == 0 && $out =~ /is synced: the shadows are current, and nobody asked to switch/,
	'watch of a prepared plan: ends at synced, exit 0') or diag($out);
($status, $out, $err) = client('pause', $prepared);
ok($status == 0 && $out =~ /^plan $prepared paused \(synced\)$/m, 'pause: exit 0') or diag($out . $err);
($status, $out, $err) = client('resume', $prepared, '--json');
$doc = eval { decode_json($out) };
ok($status == 0 && $doc && !$doc->{paused} && $doc->{command} eq 'resume', 'resume --json: exit 0, not paused');
($status, $out, $err) = client('cancel', $prepared);
ok($status == 0 && $out =~ /synced -> cancelled/ && $out =~ /^plan $prepared cancelled$/m, 'cancel: exit 0')
  or diag($out . $err);
($status, $out, $err) = client('cancel', $prepared);
ok($status == 4 && $err =~ /^ERROR:  55000: /m, 'cancel of a cancelled plan: exit 4, 55000');

# Waits until a client has followed a plan at least once (its handler for
# Ctrl-C is in place from before it connected).
sub client_following {
	$node->poll_query_until('postgres', q{SELECT EXISTS (SELECT FROM pg_stat_activity
		WHERE pid <> pg_backend_pid() AND query LIKE '%FROM presplit.events WHERE plan_id%')})
	  or die 'the client did not start following';
}

# --- Ctrl-C --------------------------------------------------------------------
# A split without the ramp waits at switching (weight 0) for someone to set
# weights: a plan that is half-way when Ctrl-C comes.
sub interrupted_split {
	my @args = @_;
	my ($o, $e) = ('', '');
	local $ENV{PGHOST} = $node->host;
	local $ENV{PGPORT} = $node->port;
	local $ENV{PGDATABASE} = 'postgres';
	my $h = IPC::Run::start([ $client, @args ], '<', \'', '>', \$o, '2>', \$e, IPC::Run::timeout(180));
	$node->poll_query_until('postgres', q{SELECT EXISTS (SELECT FROM presplit.plans WHERE state = 'switching' AND finished_at IS NULL)})
	  or die 'no plan reached switching';
	$h->signal('INT');
	$h->finish;
	return ($h->result, $o, $e);
}
($status, $out, $err) = interrupted_split('split', 'accounts_1', '--at', '30000', '--no-ramp', '--on-interrupt', 'pause');
my $plan3 = $node->safe_psql('postgres', q{SELECT id FROM presplit.plans WHERE state = 'switching'});
ok($status == 7 && $out =~ /plan $plan3 paused: pg_presplit resume $plan3/,
	'Ctrl-C with --on-interrupt pause: exit 7, says how to go on') or diag("$status\n$out$err");
is($node->safe_psql('postgres', "SELECT state || ' ' || paused FROM presplit.plans WHERE id = $plan3"),
	'switching true', 'Ctrl-C paused the plan, still switching');

# watch, then Ctrl-C with rollback.
{
	my ($o, $e) = ('', '');
	local $ENV{PGHOST} = $node->host;
	local $ENV{PGPORT} = $node->port;
	local $ENV{PGDATABASE} = 'postgres';
	my $h = IPC::Run::start([ $client, 'watch', $plan3, '--on-interrupt', 'rollback', '--json' ],
		'<', \'', '>', \$o, '2>', \$e, IPC::Run::timeout(180));
	client_following();
	$h->signal('INT');
	$h->finish;
	$doc = eval { decode_json($o) };
	ok($h->result == 7 && $doc && $doc->{interrupted} eq 'rollback' && $doc->{plans}[0]{state} eq 'rolled_back',
		'watch, Ctrl-C with --on-interrupt rollback: exit 7, the plan rolled back, one JSON document')
	  or diag($h->result . "\n$o$e");
}
is(invariant(), "$rows $total", 'after the interrupted splits: row count and total balance unchanged');

# Without --on-interrupt and no terminal to ask on: detach, the plan goes on.
($status, $out, $err) = interrupted_split('split', 'accounts_1', '--at', '30000', '--no-ramp');
my $plan4 = $node->safe_psql('postgres', q{SELECT id FROM presplit.plans WHERE state = 'switching'});
ok($status == 7 && $out =~ /plan $plan4 left to the worker/, 'Ctrl-C without a terminal: detach, exit 7')
  or diag("$status\n$out$err");
is($node->safe_psql('postgres', "SELECT state || ' ' || paused FROM presplit.plans WHERE id = $plan4"),
	'switching false', 'detached: the plan is as it was');

# Rolled back by someone else while watched: exit 6.
{
	my ($o, $e) = ('', '');
	local $ENV{PGHOST} = $node->host;
	local $ENV{PGPORT} = $node->port;
	local $ENV{PGDATABASE} = 'postgres';
	my $h = IPC::Run::start([ $client, 'watch' ], '<', \'', '>', \$o, '2>', \$e, IPC::Run::timeout(180));
	client_following();
	$node->safe_psql('postgres', "SELECT presplit.rollback($plan4)");
	$h->finish;
	ok($h->result == 6 && $o =~ /switching -> rolled_back/ && $o =~ /plan $plan4 was rolled back/,
		'watch (every active plan) while someone rolls the plan back: exit 6') or diag($h->result . "\n$o$e");
}
($status, $out, $err) = client('watch');
ok($status == 0 && $out eq "no active split plan to watch\n", 'watch with no active plan: exit 0');

# --- the live display on a terminal (tmux) --------------------------------
my $tmux = "presplit_client_$$";
my $screen = "$dir/screen.txt";
my $cmd = "PGHOST=" . $node->host . " PGPORT=" . $node->port . " PGDATABASE=postgres TERM=xterm-256color"
  . " $client split accounts_1 --at 30000 --interval 0.1; echo EXIT=\$?; sleep 30";
system('tmux', 'new-session', '-d', '-s', $tmux, '-x', '100', '-y', '40', $cmd) == 0 or die 'tmux';
my $captured = '';
for (1 .. 600) {
	$captured = `tmux capture-pane -p -t $tmux`;
	last if $captured =~ /EXIT=\d+/;
	select(undef, undef, undef, 0.1);
}
system('tmux', 'kill-session', '-t', $tmux);
ok($captured =~ /EXIT=0/ && $captured =~ /switching → cut_over/ && $captured =~ /plan \d+ cut over: accounts_1 split at 30000/,
	'on a terminal: arrows, the summary, exit 0') or diag($captured);
ok($captured !~ /^ramp\s/m && $captured !~ /^copying\s/m,
	'on a terminal: the live bars were redrawn in place and cleared at the end') or diag($captured);
is(invariant(), "$rows $total", 'at the end: row count and total balance unchanged');

$node->stop;
