# The cutover against what blocks its exclusive lock, under pgbench load:
#  1. an autovacuum made slow on the source (as on any hot, large partition,
#     where VACUUM ANALYZE with cost delay can last hours) is running when
#     the cutover is called: the cutover cancels it, as PostgreSQL would
#     after deadlock_timeout (which a short try never reaches), and succeeds
#     in one try; an event names the autovacuum;
#  2. a long SELECT on the parent holds ACCESS SHARE in its transaction: the
#     cutover waits without a lock request (no ungranted ACCESS EXCLUSIVE in
#     pg_locks, a third session's SELECT on the table is not held up) and
#     succeeds as soon as the reader commits; an event names the reader.
# Clients stall at most once per cutover: the events count the tries (each
# try is the only moment clients can queue behind the cutover), and the
# pgbench latencies around each cutover give the worst stall.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PresplitTest;
use IPC::Run;
use Time::HiRes qw(time sleep);
use Test::More tests => 19;

my $node = presplit_node('cutover_blockers', qq{
presplit.naptime = 100
presplit.backfill_batch_size = 10000
autovacuum_naptime = 1s
log_autovacuum_min_duration = 0
});
$node->start;

my $rows = 200000;
my $total = $rows * 1000;
$node->safe_psql('postgres', qq{
CREATE EXTENSION pg_presplit;
CREATE TABLE accounts (id bigint PRIMARY KEY, balance bigint NOT NULL) PARTITION BY RANGE (id);
CREATE TABLE accounts_0 PARTITION OF accounts FOR VALUES FROM (0) TO (100000);
CREATE TABLE accounts_1 PARTITION OF accounts FOR VALUES FROM (100000) TO (200000);
INSERT INTO accounts SELECT g, 1000 FROM generate_series(0, $rows - 1) g;
VACUUM ANALYZE accounts;
SELECT presplit.manage('accounts');
});

# Both plans backfilled and switching, the cutovers left to the test.
my $plan1 = $node->safe_psql('postgres',
	q{SELECT presplit.split_partition('accounts_0', '{50000}', ramp => false)});
my $plan2 = $node->safe_psql('postgres',
	q{SELECT presplit.split_partition('accounts_1', '{150000}', ramp => false)});
$node->safe_psql('postgres', "SELECT presplit.wait($_, 'switching', '2 min')") for ($plan1, $plan2);

my $dir = PostgreSQL::Test::Utils::tempdir;
write_transfer_script($dir);

# pgbench for `seconds` in the background, logging every transaction's latency.
my $load_no = 0;
sub start_load {
	my ($seconds) = @_;
	my $prefix = "$dir/load" . ++$load_no;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'pgbench', '-n', '-c', '4', '-j', '2', '-T', $seconds, '--max-tries=5',
		  '-l', "--log-prefix=$prefix", '-f', "$dir/transfer.sql",
		  '-h', $node->host, '-p', $node->port, 'postgres' ],
		'>', \$out, '2>', \$err);
	return { h => $h, out => \$out, err => \$err, prefix => $prefix };
}

# Waits for pgbench; returns [start, end, latency_ms] of every transaction.
sub finish_load {
	my ($load, $name) = @_;
	$load->{h}->finish;
	my ($done, $failed) = pgbench_counts(${ $load->{out} });
	$failed //= 0;
	ok(($load->{h}->result == 0) && $done && $failed == 0,
		"$name: pgbench ran " . ($done // 0) . " transactions, $failed failed")
	  or diag("${ $load->{out} }\n${ $load->{err} }");
	my @transactions;
	for my $file (glob("$load->{prefix}.*")) {
		open(my $log, '<', $file) or die "$file: $!";
		while (<$log>) {
			# client transaction latency_us script epoch_s epoch_us ...
			my @f = split;
			next unless @f >= 6 && $f[2] =~ /^\d+$/;
			my $end = $f[4] + $f[5] / 1e6;
			push @transactions, [ $end - $f[2] / 1e6, $end, $f[2] / 1000 ];
		}
		close $log;
	}
	return \@transactions;
}

# The worst latency of the transactions that overlapped [from, to], and how
# many took longer than the lock timeout.
sub stalls {
	my ($transactions, $from, $to) = @_;
	my ($worst, $over) = (0, 0);
	for my $t (@$transactions) {
		next if $t->[1] < $from || $t->[0] > $to;
		$worst = $t->[2] if $t->[2] > $worst;
		$over++ if $t->[2] > 50;
	}
	return ($worst, $over);
}

# A psql session kept open: send() queues statements, wait_for() pumps until
# their marker has been printed.
my $marker_no = 0;
sub session {
	my %s = (in => '', out => '', err => '');
	$s{h} = IPC::Run::start([ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-f', '-' ],
		'<', \$s{in}, '>', \$s{out}, '2>', \$s{err}, IPC::Run::timeout(180));
	return \%s;
}
sub send_sql {
	my ($s, $sql) = @_;
	my $marker = 'marker ' . ++$marker_no;
	$s->{in} .= "$sql;\n\\echo $marker\n";
	return $marker;
}
sub finished {
	my ($s, $marker) = @_;
	$s->{h}->pump_nb;
	return $s->{out} =~ /^\Q$marker\E$/m;
}
sub wait_for {
	my ($s, $marker) = @_;
	$s->{h}->pump until $s->{out} =~ /^\Q$marker\E$/m;
	my ($result) = $s->{out} =~ /(.*?)^\Q$marker\E$/ms;
	$s->{out} = '';
	chomp $result;
	return $result;
}
sub query {
	my ($s, $sql) = @_;
	return wait_for($s, send_sql($s, $sql));
}

sub tries_of {
	my ($plan) = @_;
	return $node->safe_psql('postgres', qq{
SELECT substring(detail FROM '^lock taken in (\\d+) tries') FROM presplit.events
 WHERE plan_id = $plan AND kind = 'cutover'});
}

# Samples pg_locks for `seconds`: how many samples saw an ungranted
# ACCESS EXCLUSIVE request on a relation, and how many were taken.
$node->safe_psql('postgres', q{
CREATE FUNCTION queued_exclusive_requests(seconds float) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    deadline timestamptz := clock_timestamp() + seconds * interval '1 s';
    queued int := 0;
    samples int := 0;
BEGIN
    WHILE clock_timestamp() < deadline LOOP
        samples := samples + 1;
        PERFORM FROM pg_locks
         WHERE locktype = 'relation' AND mode = 'AccessExclusiveLock' AND NOT granted;
        IF FOUND THEN
            queued := queued + 1;
        END IF;
        PERFORM pg_sleep(0.005);
    END LOOP;
    RETURN queued || '|' || samples;
END $$});

# 1. An autovacuum slowed down to a crawl on the source.
$node->safe_psql('postgres', q{
ALTER TABLE accounts_0 SET (autovacuum_vacuum_cost_delay = 100, autovacuum_vacuum_cost_limit = 1,
                            autovacuum_vacuum_threshold = 0, autovacuum_vacuum_scale_factor = 0.0001,
                            autovacuum_analyze_threshold = 0, autovacuum_analyze_scale_factor = 0.0001)});
my $load = start_load(15);
my $autovacuum = '';
for (my $i = 0; $i < 600 && $autovacuum eq ''; $i++) {
	sleep 0.1;
	$autovacuum = $node->safe_psql('postgres', q{
SELECT pid FROM pg_stat_activity
 WHERE backend_type = 'autovacuum worker' AND query ~ 'accounts_0$' LIMIT 1});
}
isnt($autovacuum, '', "an autovacuum runs on the source (pid $autovacuum)");
sleep 1;
my $before = time;
my ($ret, $stdout, $stderr) = $node->psql('postgres', "SELECT presplit.cutover($plan1)");
my $after = time;
is($ret, 0, 'the cutover succeeds while the autovacuum was running') or diag($stderr);
my $cutover_seconds = $after - $before;
ok($cutover_seconds < 10, sprintf('within seconds (%.2f s)', $cutover_seconds));
like($node->safe_psql('postgres', qq{
SELECT string_agg(detail, E'\\n') FROM presplit.events
 WHERE plan_id = $plan1 AND kind = 'autovacuum_cancelled'}),
	qr/the cutover cancelled pid $autovacuum \(autovacuum worker, transaction started [^)]*\) holding a lock on public\.accounts_0\b/,
	'an event names the cancelled autovacuum');
ok($node->log_contains("sending cancel to blocking autovacuum PID $autovacuum"),
	'and the server log says so, as PostgreSQL would');
my $tries = tries_of($plan1);
ok($tries =~ /^\d+$/ && $tries <= 2,
	"the lock was taken in $tries tries (clients queued behind it at most that often)");
my $transactions = finish_load($load, 'during the cutover past an autovacuum');
my ($worst, $over) = stalls($transactions, $before, $after);
diag(sprintf('autovacuum: cutover took %.0f ms, %d tries; worst client latency during it %.1f ms, '
	  . '%d transactions over 50 ms', $cutover_seconds * 1000, $tries, $worst, $over));
ok($worst < 1000, sprintf('no client stalled long (worst %.1f ms)', $worst));

# 2. A long SELECT on the parent, holding ACCESS SHARE in its transaction.
$load = start_load(12);
sleep 1;
my $third = session();
query($third, 'SELECT balance FROM accounts WHERE id = 120000');    # its first (caches)
my $reader = session();
my $reader_pid = query($reader, 'SELECT pg_backend_pid()');
query($reader, 'BEGIN; SELECT count(*) FROM accounts');
my $hold = 4;
my $reader_done = send_sql($reader, "SELECT pg_sleep($hold); COMMIT");
sleep 0.3;    # a long query by now: older than a lock try
my $cutter = session();
my $cut_done = send_sql($cutter, "SELECT presplit.cutover($plan2)");
my $cut_start = time;
# pg_locks sampled every 5 ms by a session of its own (one that read the
# table would be held up by a queued request and sample only between them),
# while a third session times simple SELECTs on the table.
my $sampling = $hold - 1.5;
my $sampler = session();
my $sampled = send_sql($sampler, "SELECT queued_exclusive_requests($sampling)");
my ($selects, $slowest_select, $finished_early) = (0, 0, 0);
while (time - $cut_start < $sampling) {
	my $t = time;
	query($third, 'SELECT balance FROM accounts WHERE id = 120000');
	my $ms = (time - $t) * 1000;
	$slowest_select = $ms if $ms > $slowest_select;
	$selects++;
	$finished_early = 1 if finished($cutter, $cut_done);
	sleep 0.02;
}
my ($queued, $samples) = split /\|/, wait_for($sampler, $sampled);
is($finished_early, 0, 'the cutover waits while the long reader holds its lock');
is($queued, 0, "no ACCESS EXCLUSIVE request queued meanwhile (in $samples samples of pg_locks)");
ok($slowest_select < 1000,
	sprintf('a third session\'s SELECT on the table is not held up (slowest of %d: %.1f ms)',
		$selects, $slowest_select));
wait_for($reader, $reader_done);
my $reader_end = time;
wait_for($cutter, $cut_done);
my $cut_end = time;
is($cutter->{err}, '', 'the cutover succeeds once the reader is done');
my $after_reader = $cut_end - $reader_end;
ok($after_reader < 3, sprintf('%.2f s after the reader committed', $after_reader));
like($node->safe_psql('postgres', qq{
SELECT string_agg(detail, E'\\n') FROM presplit.events WHERE plan_id = $plan2 AND kind = 'lock_wait'}),
	qr/the cutover waits, without queueing, for pid $reader_pid \(client backend, transaction started [^)]*\) holding a lock on public\.accounts\b/,
	'an event names the long reader');
$tries = tries_of($plan2);
ok($tries =~ /^\d+$/ && $tries <= 2, "the lock was taken in $tries tries");
$_->{h}->finish for ($reader, $cutter, $third, $sampler);
$transactions = finish_load($load, 'during the cutover behind a long reader');
($worst, $over) = stalls($transactions, $cut_start, $cut_end);
diag(sprintf('long reader: cutover done %.0f ms after the reader committed, %d tries; slowest '
	  . 'third-session SELECT %.1f ms; worst client latency during the wait %.1f ms, %d over 50 ms',
	  $after_reader * 1000, $tries, $slowest_select, $worst, $over));
ok($worst < 1000, sprintf('no client stalled long (worst %.1f ms)', $worst));

is($node->safe_psql('postgres', "SELECT string_agg(state, ' ' ORDER BY id) FROM presplit.plans"),
	'cut_over cut_over', 'both plans cut over');
accounts_invariant_ok($node, $rows, $total, 'row count and total balance unchanged');

$node->stop;
