# The analyzer's statistics survive a clean restart (not a backend crash),
# and several concurrent clients give counts consistent with the statements
# they ran.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More tests => 7;

my $node = PostgreSQL::Test::Cluster->new('analyzer');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_presplit'
presplit.database = 'postgres'
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

# A backend crash reinitializes shared memory without saving: the
# statistics start afresh.
my $backend = $node->background_psql('postgres');
my $backend_pid = $backend->query_safe('SELECT pg_backend_pid()');
kill 'KILL', $backend_pid;
$backend->quit;
ok( $node->poll_query_until('postgres',
		q{SELECT count(*) = 0 FROM presplit.partition_stats WHERE parent = 'hits'::regclass}),
	'after a backend crash the statistics start afresh');

$node->stop;
