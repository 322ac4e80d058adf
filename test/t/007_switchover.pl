# The switchover under load and across crashes. pgbench transfers money
# between accounts (80% in the partition being split) while an auditor checks
# that the total balance and the number of rows never change: a lost,
# duplicated or stale row breaks the audit and fails its transaction.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PresplitTest;
use IPC::Run;
use Test::More tests => 18;

my $node = presplit_node('switchover', qq{
presplit.naptime = 100
presplit.backfill_batch_size = 5000
presplit.ramp_interval = '300ms'
presplit.ramp_step = 25
});
$node->start;

my $rows = 200000;
my $total = $rows * 1000;
$node->safe_psql('postgres', qq{
CREATE EXTENSION pg_presplit;
CREATE TABLE accounts (id bigint PRIMARY KEY, balance bigint NOT NULL) PARTITION BY RANGE (id);
CREATE INDEX accounts_balance ON accounts (balance);
CREATE TABLE accounts_0 PARTITION OF accounts FOR VALUES FROM (0) TO (100000);
CREATE TABLE accounts_1 PARTITION OF accounts FOR VALUES FROM (100000) TO (200000);
INSERT INTO accounts SELECT g, 1000 FROM generate_series(0, $rows - 1) g;
SELECT presplit.manage('accounts');
});

my $dir = PostgreSQL::Test::Utils::tempdir;
write_transfer_script($dir);
open(my $fh, '>', "$dir/audit.sql") or die;
print $fh qq{
SELECT count(*) AS n, sum(balance) AS s FROM accounts \\gset
\\if :n != $rows
SELECT 'row count' / 0;
\\endif
\\if :s != $total
SELECT 'total balance' / 0;
\\endif
};
close $fh;

# pgbench for `seconds` in the background; returns a handle for finish_load.
sub start_load {
	my ($seconds) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'pgbench', '-n', '-c', '4', '-j', '2', '-T', $seconds, '--max-tries=5',
		  '-f', "$dir/transfer.sql\@9", '-f', "$dir/audit.sql\@1",
		  '-h', $node->host, '-p', $node->port, 'postgres' ],
		'>', \$out, '2>', \$err);
	return [ $h, \$out, \$err ];
}

sub finish_load {
	my ($load, $name) = @_;
	my ($h, $out, $err) = @$load;
	$h->finish;
	my ($done, $failed) = pgbench_counts($$out);
	$failed //= 0;
	ok(($h->result == 0) && $done && $failed == 0,
		"$name: pgbench ran " . ($done // 0) . " transactions, $failed failed, every audit passed")
	  or diag("$$out\n$$err");
}

sub layout {
	return $node->safe_psql('postgres', q{
SELECT string_agg(partition::text || ' ' || bound, '; ' ORDER BY bound)
  FROM presplit.managed_tables WHERE parent = 'accounts'::regclass});
}

sub invariant_holds {
	my ($name) = @_;
	accounts_invariant_ok($node, $rows, $total, "$name: row count and total balance unchanged");
}

# The old, detached partition equals the new partitions' range.
sub old_partition_current {
	my ($name) = @_;
	is( $node->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM (SELECT * FROM accounts WHERE id < 100000 EXCEPT ALL TABLE accounts_0) a)
     + (SELECT count(*) FROM (TABLE accounts_0 EXCEPT ALL SELECT * FROM accounts WHERE id < 100000) b)}),
		'0', "$name: reverse capture kept the old partition current");
}

my $old_layout = layout();

# 1. A ramped split under load, then a rollback under load.
my $load = start_load(25);
sleep 2;
my $plan = $node->safe_psql('postgres', q{SELECT presplit.split_partition('accounts_0', '{50000}')});
is($node->safe_psql('postgres', "SELECT presplit.wait($plan, 'cut_over', '2 min')"),
	'cut_over', 'split_partition backfilled, ramped and cut over under load');
like(layout(), qr/accounts_0_${plan}_0 .*accounts_0_${plan}_1 /, 'the new partitions replaced accounts_0');
# The ramp routed reads (transfers' and the auditor's) to the new channel and
# judged its steps on them: the auditor's invariant held on both channels.
is($node->safe_psql('postgres', qq{
	SELECT (SELECT statements > 0 FROM presplit.channels WHERE plan_id = $plan AND channel = 'new')
	    || ' ' || (SELECT count(*) > 0 FROM presplit.events
	               WHERE plan_id = $plan AND kind = 'weight' AND detail LIKE '%; at %: old %')}),
	'true true', 'the new channel served reads and the ramp judged its steps on them');
sleep 2;
old_partition_current('under load');
$node->safe_psql('postgres', "SELECT presplit.rollback($plan)");
is(layout(), $old_layout, 'rollback after cutover under load restored the layout');
sleep 2;
finish_load($load, 'split and rollback');
invariant_holds('after split and rollback');
is($node->safe_psql('postgres', qq{
SELECT count(*) FROM presplit.events WHERE plan_id = $plan AND kind IN ('cutover', 'rollback_swap')
   AND detail ~ 'held [0-9.]+ ms'}), '2', 'the lock times of both swaps are in the events');

# 2. A crash while switching: the old layout, the plan still switching.
$plan = $node->safe_psql('postgres',
	q{SELECT presplit.split_partition('accounts_0', '{50000}', ramp => false)});
$node->safe_psql('postgres', "SELECT presplit.wait($plan, 'switching', '2 min')");
$node->safe_psql('postgres', "SELECT presplit.set_weight($plan, 40)");
$node->stop('immediate');
$node->start;
is($node->safe_psql('postgres', "SELECT state || ' ' || new_channel_weight FROM presplit.plans WHERE id = $plan"),
	'switching 40', 'after a crash while switching the plan is still switching');
is(layout(), $old_layout, 'and the table is in the old layout');

# 3. A crash inside the cutover transaction, before it commits: old layout.
my ($in, $out, $err) = ('', '', '');
my $psql = IPC::Run::start([ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-f', '-' ],
	'<', \$in, '>', \$out, '2>', \$err);
$in .= "BEGIN;\nSELECT presplit.cutover($plan);\nSELECT 'swapped, not committed';\n";
$psql->pump until $out =~ /swapped, not committed/ || $err =~ /ERROR/;
$node->stop('immediate');
$psql->kill_kill;
$node->start;
is($node->safe_psql('postgres', "SELECT state FROM presplit.plans WHERE id = $plan"),
	'switching', 'after a crash inside the cutover transaction the plan is switching');
is(layout(), $old_layout, 'and the table is wholly in the old layout');
$node->safe_psql('postgres', q{UPDATE accounts SET balance = balance + 1 WHERE id = 10;
                               UPDATE accounts SET balance = balance - 1 WHERE id = 60000});
is( $node->safe_psql('postgres', qq{
SELECT (SELECT count(*) FROM (SELECT * FROM accounts_0 EXCEPT ALL
            (SELECT * FROM accounts_0_${plan}_0 UNION ALL SELECT * FROM accounts_0_${plan}_1)) d)
     + (SELECT count(*) FROM ((SELECT * FROM accounts_0_${plan}_0 UNION ALL SELECT * FROM accounts_0_${plan}_1)
            EXCEPT ALL TABLE accounts_0) d)}),
	'0', 'capture still keeps the shadows equal to the source');

# 4. A crash right after the cutover committed: new layout, reverse capture on.
$node->safe_psql('postgres', "SELECT presplit.cutover($plan)");
$node->stop('immediate');
$node->start;
is($node->safe_psql('postgres', "SELECT state FROM presplit.plans WHERE id = $plan"),
	'cut_over', 'after a crash right after the cutover the plan is cut_over');
like(layout(), qr/accounts_0_${plan}_0 /, 'and the table is in the new layout');
$node->safe_psql('postgres', q{UPDATE accounts SET balance = balance - 5 WHERE id = 11;
                               UPDATE accounts SET balance = balance + 5 WHERE id = 60001});
old_partition_current('after the crash');
$node->safe_psql('postgres', "SELECT presplit.rollback($plan)");
is(layout(), $old_layout, 'rollback after the crash restores the old layout');
invariant_holds('after the crashes');

$node->stop;
