# The analyzer keeps every managed partition: 10 000 partitions in 10
# managed tables of 1 000, every statement recorded, nothing evicted, with no
# capacity chosen at start (the entries live in dynamic shared memory). The
# directory finds them again from a new backend and after a clean restart
# (which loads them into the shared memory made for them at start); the
# entries of a dropped table are freed and reused by new partitions. Then,
# with presplit.analyzer_max_partitions (a cap) below the partitions in use,
# the least recently used are evicted, the entries are reused, and the
# directory stays consistent.
#
# About 490 MB of dynamic shared memory (/dev/shm) for the 10 000 entries.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PresplitTest;
use Test::More tests => 24;

my $tables = 10;
my $per_table = 1000;
my $partitions = $tables * $per_table;
my $entry_bytes = 49152;    # an entry: 12 pages of 4 kB (analyzer_status.bytes_per_partition)

# No size samples: the worker would give every managed partition an entry
# of its own accord, and the counts below are of the statements' entries.
my $node = presplit_node('capacity', qq{
presplit.analyzer_sample_every = 1
presplit.size_sample_interval = 0
max_locks_per_transaction = 256
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_presplit');

my $status_query = q{SELECT capacity || ' ' || used || ' ' || allocated || ' ' || evictions || ' '
                            || bytes_per_partition FROM presplit.analyzer_status};
my $in_place_query = q{SELECT size FROM pg_shmem_allocations WHERE name = 'pg_presplit analyzer'};
is($node->safe_psql('postgres', $status_query), "100000 0 0 0 $entry_bytes",
	'the server starts with a cap of 100 000 partitions and nothing allocated');
my $in_place = $node->safe_psql('postgres', $in_place_query);
ok($in_place < 5 * 1024 * 1024, "and no capacity reserved in the main segment ($in_place bytes)");

# t1 .. t10, each of 1 000 partitions tK_I holding the keys [10 I, 10 I + 10);
# a table per transaction.
for my $k (1 .. $tables) {
	$node->safe_psql('postgres', qq{
CREATE TABLE t$k (id int NOT NULL) PARTITION BY RANGE (id);
DO \$\$
BEGIN
  FOR i IN 0..$per_table - 1 LOOP
    EXECUTE format('CREATE TABLE t${k}_%s PARTITION OF t$k FOR VALUES FROM (%s) TO (%s)',
                   i, i * 10, i * 10 + 10);
  END LOOP;
END
\$\$;
ALTER TABLE t$k ADD PRIMARY KEY (id);
INSERT INTO t$k SELECT g * 10 FROM generate_series(0, $per_table - 1) g;
SELECT presplit.manage('t$k');
});
}

my $scan_all = join('; ', map { "SELECT count(*) FROM t$_" } 1 .. $tables);
$node->safe_psql('postgres', $scan_all);
is($node->safe_psql('postgres', $status_query), "100000 $partitions $partitions 0 $entry_bytes",
	"$partitions partitions recorded, nothing evicted");

# Reads per partition as the statements ran them: tK_I was scanned once by
# $scan_all and read by key 1 + (K + I) % 3 times more, one statement each,
# from a new backend (no entry hints: every first lookup goes through the
# directory; more partitions than a backend keeps hints for).
for my $k (1 .. $tables) {
	$node->safe_psql('postgres', qq{
DO \$\$
BEGIN
  FOR i IN 0..$per_table - 1 LOOP
    FOR j IN 1..($k + i) % 3 LOOP
      EXECUTE format('SELECT * FROM t$k WHERE id = %s', i * 10);
    END LOOP;
  END LOOP;
END
\$\$;
});
}
my $expected_reads = sub {
	my ($extra) = @_;
	return qq{SELECT count(*) FILTER (WHERE reads = 1 + (m[1]::int + m[2]::int) % 3 + $extra),
	                 count(*), count(DISTINCT partition)
	            FROM (SELECT reads, partition, regexp_match(partition::text, '^t(\\d+)_(\\d+)\$') AS m
	                    FROM presplit.partition_stats) s};
};
is($node->safe_psql('postgres', $expected_reads->(0)), "$partitions|$partitions|$partitions",
	'every partition has its own entry with its own count');
is($node->safe_psql('postgres', $status_query), "100000 $partitions $partitions 0 $entry_bytes",
	'still nothing evicted');

# A clean restart: the worker saves the entries as it stops, the postmaster
# loads them into the shared memory made for them at start.
my $offset = -s $node->logfile;
$node->restart;
ok($node->log_contains(qr/pg_presplit: saved statistics of $partitions partitions/, $offset),
	"the worker saves the $partitions partitions when it stops");
ok($node->log_contains(qr/pg_presplit: loaded statistics of $partitions partitions/, $offset),
	'and they are loaded at the next start');
$in_place = $node->safe_psql('postgres', $in_place_query);
ok($in_place >= $partitions * $entry_bytes && $in_place < 1.25 * $partitions * ($entry_bytes + 512),
	"into the main segment, sized for them at start ($in_place bytes)");
is($node->safe_psql('postgres', $expected_reads->(0)), "$partitions|$partitions|$partitions",
	'with their counts');
$node->safe_psql('postgres', $scan_all);
is($node->safe_psql('postgres', $expected_reads->(1)), "$partitions|$partitions|$partitions",
	'and found again by the directory: one more read each, no new entries');
is($node->safe_psql('postgres', $status_query), "100000 $partitions $partitions 0 $entry_bytes",
	'nothing evicted after the restart either');

# A dropped table: the worker frees its partitions' entries, new partitions
# reuse them.
$node->safe_psql('postgres', "DROP TABLE t$tables");
my $left = $partitions - $per_table;
ok( $node->poll_query_until('postgres', q{SELECT used FROM presplit.analyzer_status}, $left),
	"the worker frees the entries of the dropped table's $per_table partitions");
is($node->safe_psql('postgres', $status_query), "100000 $left $partitions 0 $entry_bytes",
	'which stay allocated');
$node->safe_psql('postgres', q{
CREATE TABLE fresh (id int PRIMARY KEY) PARTITION BY RANGE (id);
DO $$
BEGIN
  FOR i IN 0..9 LOOP
    EXECUTE format('CREATE TABLE fresh_%s PARTITION OF fresh FOR VALUES FROM (%s) TO (%s)',
                   i, i * 10, i * 10 + 10);
  END LOOP;
END
$$;
SELECT presplit.manage('fresh');
SELECT count(*) FROM fresh;
});
is( $node->safe_psql('postgres', $status_query),
	'100000 ' . ($left + 10) . " $partitions 0 $entry_bytes",
	'10 new partitions reuse 10 of them');
is( $node->safe_psql('postgres',
		q{SELECT count(*), sum(reads) FROM presplit.partition_stats WHERE parent = 'fresh'::regclass}),
	'10|10', 'starting afresh');
my $in_use = $left + 10;

# --- a cap below the partitions in use --------------------------------------
# presplit.analyzer_max_partitions = 1 000: 1 000 of the saved entries are
# loaded.
$node->append_conf('postgresql.conf', 'presplit.analyzer_max_partitions = 1000');
$offset = -s $node->logfile;
$node->restart;
ok( $node->log_contains(
		qr/pg_presplit: loaded statistics of 1000 partitions, of $in_use in "pg_stat\/pg_presplit.stat": presplit.analyzer_max_partitions is 1000/,
		$offset),
	'at a cap of 1 000, 1 000 of them are loaded, and the log says so');
is($node->safe_psql('postgres', $status_query), "1000 1000 1000 0 $entry_bytes",
	'all in use, none evicted yet');

# One pass over every partition: the partitions without an entry take the
# least recently used one (at first the loaded ones not yet read: so some
# of those are evicted before their turn, and take one again).
$node->safe_psql('postgres', $scan_all =~ s/SELECT count\(\*\) FROM t$tables/SELECT count(*) FROM fresh/r);
my ($used, $allocated, $evictions) =
  split / /, $node->safe_psql('postgres',
	q{SELECT used || ' ' || allocated || ' ' || evictions FROM presplit.analyzer_status});
is("$used $allocated", '1000 1000', 'the cap holds: evicted entries are reused, none allocated');
ok($evictions >= $in_use - 1000, "each partition without an entry evicted one ($evictions)");
is($node->safe_psql('postgres', q{SELECT count(*), count(DISTINCT partition) FROM presplit.partition_stats}),
	'1000|1000', 'the entries belong to 1 000 distinct partitions');

# The directory agrees with the entries: a partition that has an entry is
# found (its count goes up, nothing is evicted), one that lost its entry gets
# a new one (evicting one).
my $present = $node->safe_psql('postgres',
	q{SELECT partition::text || ' ' || reads FROM presplit.partition_stats
	   WHERE partition::text ~ '^t\d+_\d+$' ORDER BY partition::text LIMIT 1});
my ($present_name, $present_reads) = split / /, $present;
my ($present_table, $present_index) = $present_name =~ /^t(\d+)_(\d+)$/
  or die "unexpected: $present_name";
$node->safe_psql('postgres', "SELECT * FROM t$present_table WHERE id = " . $present_index * 10);
is( $node->safe_psql('postgres',
		"SELECT reads FROM presplit.partition_stats WHERE partition = '$present_name'::regclass"),
	$present_reads + 1,
	"$present_name, which has an entry, is found: one read more");
is($node->safe_psql('postgres', q{SELECT evictions FROM presplit.analyzer_status}),
	$evictions, 'without an eviction');

my $absent = $node->safe_psql('postgres', q{
SELECT c.relname FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid
 WHERE c.relkind = 'r' AND c.relname ~ '^t\d+_\d+$'
   AND c.oid NOT IN (SELECT partition FROM presplit.partition_stats)
 ORDER BY c.relname LIMIT 1});
my ($absent_table, $absent_index) = $absent =~ /^t(\d+)_(\d+)$/ or die "unexpected: $absent";
$node->safe_psql('postgres', "SELECT * FROM t$absent_table WHERE id = " . $absent_index * 10);
is( $node->safe_psql('postgres',
		"SELECT reads FROM presplit.partition_stats WHERE partition = '$absent'::regclass"),
	'1', "$absent, which had lost its entry, gets a new one");
is( $node->safe_psql('postgres',
		q{SELECT used || ' ' || allocated || ' ' || evictions FROM presplit.analyzer_status}),
	'1000 1000 ' . ($evictions + 1), 'by evicting one');

$node->stop;
