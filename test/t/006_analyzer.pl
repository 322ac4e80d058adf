# The analyzer's statistics survive a clean restart, and a crash back to the
# last save (the pg_presplit worker saves them every
# presplit.analyzer_save_interval and when it stops); several concurrent
# clients give counts consistent with the statements they ran. The file they
# are saved in (pg_stat/pg_presplit.stat) names its format and PostgreSQL's
# major version, is ignored with a LOG line when either does not match, and
# a failed write is logged.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PresplitTest;
use Test::More tests => 18;

my $node = presplit_node('analyzer', qq{
max_connections = 30
restart_after_crash = on
presplit.analyzer_sample_every = 1
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_presplit;
CREATE TABLE hits (id int PRIMARY KEY, n int NOT NULL DEFAULT 0) PARTITION BY RANGE (id);
CREATE TABLE hits_0 PARTITION OF hits FOR VALUES FROM (0) TO (1000);
CREATE TABLE hits_1 PARTITION OF hits FOR VALUES FROM (1000) TO (2000);
INSERT INTO hits (id) SELECT g FROM generate_series(0, 1999) g;
SELECT presplit.manage('hits');
SELECT presplit.reset_stats('hits');
});

# 4 clients x 250 transactions, each one read of hits_0 and one update of
# hits_1 (prepared statements).
my $script = "${PostgreSQL::Test::Utils::tmp_check}/hits.sql";
open my $fh, '>', $script or die $!;
print $fh q{
\set r random(0, 999)
\set w random(1000, 1999)
SELECT n FROM hits WHERE id = :r;
UPDATE hits SET n = n + 1 WHERE id = :w;
};
close $fh;
$node->command_ok(
	[ 'pgbench', '-n', '-M', 'prepared', '-c', '4', '-j', '2', '-t', '250', '-f', $script,
	  '-h', $node->host, '-p', $node->port, 'postgres' ],
	'pgbench: 4 clients x 250 transactions');

my $stats_query = q{
SELECT string_agg(format('%s: %s reads %s writes %s rows written', partition, reads, writes,
                         rows_written), '; ' ORDER BY partition::text)
  FROM presplit.partition_stats WHERE parent = 'hits'::regclass};
my $stats = $node->safe_psql('postgres', $stats_query);
is($stats, 'hits_0: 1000 reads 0 writes 0 rows written; hits_1: 0 reads 1000 writes 1000 rows written',
	'counts match the statements the clients ran');

my $suggestion_query = q{SELECT split_point IS NOT NULL, samples > 0
  FROM presplit.split_suggestions WHERE partition = 'hits_0'::regclass};
is($node->safe_psql('postgres', $suggestion_query), 't|t', 'a split point for hits_0');

$node->restart;
is($node->safe_psql('postgres', $stats_query), $stats, 'statistics survive a clean restart');
like(slurp_file($node->logfile), qr/pg_presplit: loaded statistics of \d+ partitions/,
	'loaded from the file saved at shutdown');
is($node->safe_psql('postgres', $suggestion_query), 't|t', 'and the key samples too');

# A crash reinitializes shared memory without saving: the server starts
# again from the last save, here the one made at the clean shutdown above
# (kept after it was loaded).
my $file = $node->data_dir . '/pg_stat/pg_presplit.stat';
sub crash {
	my $backend = $node->background_psql('postgres');
	my $backend_pid = $backend->query_safe('SELECT pg_backend_pid()');
	kill 'KILL', $backend_pid;
	$backend->quit;
}
$node->safe_psql('postgres', 'SELECT n FROM hits WHERE id = 1');    # after the save: lost
crash();
ok($node->poll_query_until('postgres', $stats_query, $stats),
	'after a crash the statistics are those of the last save');

# A periodic save: what was recorded before it survives a crash.
$node->safe_psql('postgres', 'SELECT n FROM hits WHERE id = 1');
my $saved_inode = (stat $file)[1];
$node->safe_psql('postgres', q{ALTER SYSTEM SET presplit.analyzer_save_interval = '1s'});
$node->reload;
my $waited = 0;
while ((stat $file)[1] == $saved_inode && $waited++ < 10 * $PostgreSQL::Test::Utils::timeout_default) {
	select(undef, undef, undef, 0.1);
}
isnt((stat $file)[1], $saved_inode, 'the worker saves the statistics every presplit.analyzer_save_interval');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET presplit.analyzer_save_interval');
$node->reload;
(my $one_more = $stats) =~ s/^hits_0: 1000 reads/hits_0: 1001 reads/;
crash();
ok($node->poll_query_until('postgres', $stats_query, $one_more),
	'so a crash keeps what was recorded before the save');

# --- the statistics file -------------------------------------------------------
my $pg_major = $node->safe_psql('postgres', q{SELECT current_setting('server_version_num')::int / 10000});
# (The worker gives every managed partition an entry for its size history:
# what was loaded shows as statements.)
my $recorded_query =
  q{SELECT coalesce(sum(reads + writes), 0) FROM presplit.partition_stats WHERE parent = 'hits'::regclass};
my $record_both = q{SELECT n FROM hits WHERE id = 1; SELECT n FROM hits WHERE id = 1500};

# The header: magic, format, PostgreSQL major version, entry size, count.
sub read_header {
	open my $in, '<:raw', $file or die "$file: $!";
	read($in, my $bytes, 20) == 20 or die "$file: short";
	close $in;
	return unpack('L< L< L< L< l<', $bytes);
}

sub rewrite_header {
	my ($offset, $value) = @_;
	open my $io, '+<:raw', $file or die "$file: $!";
	seek($io, $offset, 0);
	print $io pack('L<', $value);
	close $io;
}

# Stops the node, lets $change alter the saved file, starts it again; returns
# what the server logged while starting.
sub restart_with_changed_file {
	my ($change) = @_;
	$node->stop;
	$change->();
	my $offset = -s $node->logfile;
	$node->start;
	return slurp_file($node->logfile, $offset);
}

$node->safe_psql('postgres', $record_both);
my $log = restart_with_changed_file(sub {
	my ($magic, $format, $major, $entry_size, $count) = read_header();
	is("$format $major $count", "4 $pg_major 2",
		'the file says its format (4), PostgreSQL major version and number of partitions');
	rewrite_header(8, $pg_major - 1);
});
like($log, qr/pg_presplit: ignoring "pg_stat\/pg_presplit.stat": written in format 4 for PostgreSQL @{[$pg_major - 1]} .*this server reads format 4 for PostgreSQL $pg_major/,
	'a file of another PostgreSQL major version is ignored, with a LOG line');
is($node->safe_psql('postgres', $recorded_query), '0', 'and nothing of it is loaded');

$node->safe_psql('postgres', $record_both);
$log = restart_with_changed_file(sub { rewrite_header(4, 3) });
like($log, qr/pg_presplit: ignoring "pg_stat\/pg_presplit.stat": written in format 3 for PostgreSQL $pg_major/,
	'a file of another format is ignored, with a LOG line');
is($node->safe_psql('postgres', $recorded_query), '0', 'and nothing of it is loaded either');

# A file as pg_presplit wrote it before it had a format number (magic "PSP1",
# entry size, count).
$node->safe_psql('postgres', $record_both);
$log = restart_with_changed_file(sub {
	my ($magic, $format, $major, $entry_size, $count) = read_header();
	open my $out, '>:raw', $file or die "$file: $!";
	print $out pack('L< L< l<', 0x50535031, $entry_size, 0);
	close $out;
});
like($log, qr/pg_presplit: ignoring "pg_stat\/pg_presplit.stat": written in format 1/,
	'a file of format 1 is ignored, with a LOG line');

# A write that fails is logged (here: a directory where the temporary file
# goes) and leaves the file as it was: the format 1 file above, which the
# next start ignores again.
$node->safe_psql('postgres', $record_both);
mkdir "$file.tmp" or die "$file.tmp: $!";
my $offset = -s $node->logfile;
$node->stop;
like(slurp_file($node->logfile, $offset),
	qr/pg_presplit: could not save the analyzer's statistics: could not create "pg_stat\/pg_presplit.stat.tmp": Is a directory/,
	'a failed write is logged');
open my $in, '<:raw', $file or die "$file: $!";
read($in, my $magic, 4) == 4 or die "$file: short";
close $in;
is(unpack('L<', $magic), 0x50535031, 'and leaves the previous file');
rmdir "$file.tmp" or die "$file.tmp: $!";
$node->start;
is($node->safe_psql('postgres', $recorded_query), '0', 'the next start begins afresh');

$node->stop;
