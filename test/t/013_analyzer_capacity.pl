# The analyzer at its largest capacity, presplit.analyzer_max_partitions =
# 100 000: the server starts with the shared memory docs/analyzer.md gives,
# and the directory (a shared hash table) finds and adds the entries of a few
# thousand partitions correctly -- through a fresh backend, across a clean
# restart -- without evicting anything while fewer partitions than the
# capacity are in use. Then, restarted with a capacity below the partitions
# in use, it evicts and stays consistent. (100 000 partitions would take far
# too long to create here; 3 000 in 10 managed tables do not.)
#
# The server reserves about 3.4 GB of shared memory (not resident: only the
# entries in use are touched).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More tests => 19;

my $tables = 10;
my $per_table = 300;
my $partitions = $tables * $per_table;
my $entry_size = 34136;    # sizeof(PartitionEntry)

my $node = PostgreSQL::Test::Cluster->new('capacity');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_presplit'
presplit.database = 'postgres'
presplit.analyzer_max_partitions = 100000
presplit.analyzer_sample_every = 1
max_locks_per_transaction = 512
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_presplit');

my $status_query = q{SELECT capacity || ' ' || used || ' ' || evictions || ' ' || bytes_per_partition
  FROM presplit.analyzer_status};
is($node->safe_psql('postgres', $status_query), "100000 0 0 $entry_size",
	'the server starts with room for 100 000 partitions');

# The entries' segment: a 16-byte header and 34 136 bytes per partition.
is( $node->safe_psql('postgres',
		q{SELECT size FROM pg_shmem_allocations WHERE name = 'pg_presplit analyzer'}),
	16 + 100000 * $entry_size,
	'the entries take 34 136 bytes per partition');
is( $node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_shmem_allocations WHERE name = 'pg_presplit analyzer directory'}),
	'1', 'the directory is a shared hash table of its own');
my $shared_at_100000 =
  $node->safe_psql('postgres', q{SELECT pg_size_bytes(current_setting('shared_memory_size'))});

# t1 .. t10, each of 300 partitions tK_I holding the keys [10 I, 10 I + 10).
$node->safe_psql('postgres', qq{
DO \$\$
BEGIN
  FOR k IN 1..$tables LOOP
    EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY) PARTITION BY RANGE (id)', k);
    FOR i IN 0..$per_table - 1 LOOP
      EXECUTE format('CREATE TABLE t%s_%s PARTITION OF t%s FOR VALUES FROM (%s) TO (%s)',
                     k, i, k, i * 10, i * 10 + 10);
    END LOOP;
    EXECUTE format('INSERT INTO t%s SELECT g * 10 FROM generate_series(0, $per_table - 1) g', k);
    PERFORM presplit.manage(format('t%s', k)::regclass);
  END LOOP;
END
\$\$;
});

my $scan_all = join('; ', map { "SELECT count(*) FROM t$_" } 1 .. $tables);
$node->safe_psql('postgres', $scan_all);
is($node->safe_psql('postgres', $status_query), "100000 $partitions 0 $entry_size",
	"$partitions partitions recorded, nothing evicted");

# Reads per partition as the statements ran them: tK_I was scanned once by
# $scan_all and read by key 1 + (K + I) % 3 times more, one statement each,
# from a new backend (no entry hints: every first lookup goes through the
# directory; more partitions than a backend keeps hints for).
$node->safe_psql('postgres', qq{
DO \$\$
BEGIN
  FOR k IN 1..$tables LOOP
    FOR i IN 0..$per_table - 1 LOOP
      FOR j IN 1..(k + i) % 3 LOOP
        EXECUTE format('SELECT * FROM t%s WHERE id = %s', k, i * 10);
      END LOOP;
    END LOOP;
  END LOOP;
END
\$\$;
});
my $expected_reads = sub {
	my ($extra) = @_;
	return qq{SELECT count(*) FILTER (WHERE reads = 1 + (m[1]::int + m[2]::int) % 3 + $extra),
	                 count(*), count(DISTINCT partition)
	            FROM (SELECT reads, partition, regexp_match(partition::text, '^t(\\d+)_(\\d+)\$') AS m
	                    FROM presplit.partition_stats) s};
};
is($node->safe_psql('postgres', $expected_reads->(0)), "$partitions|$partitions|$partitions",
	'every partition has its own entry with its own count');
is($node->safe_psql('postgres', $status_query), "100000 $partitions 0 $entry_size",
	'still nothing evicted');

# A clean restart: the directory is rebuilt from the saved file.
my $offset = -s $node->logfile;
$node->restart;
ok($node->log_contains(qr/pg_presplit: loaded statistics of $partitions partitions/, $offset),
	"the $partitions partitions are loaded at the next start");
is($node->safe_psql('postgres', $expected_reads->(0)), "$partitions|$partitions|$partitions",
	'with their counts');
$node->safe_psql('postgres', $scan_all);
is($node->safe_psql('postgres', $expected_reads->(1)), "$partitions|$partitions|$partitions",
	'and found again by the directory: one more read each, no new entries');
is($node->safe_psql('postgres', $status_query), "100000 $partitions 0 $entry_size",
	'nothing evicted after the restart either');

# --- fewer entries than partitions in use -------------------------------------
# Capacity 1 000: the first 1 000 entries of the file are loaded (those of
# t1 .. t3 and t4_0 .. t4_99, the order the entries were first claimed in).
$node->adjust_conf('postgresql.conf', 'presplit.analyzer_max_partitions', '1000');
$offset = -s $node->logfile;
$node->restart;
ok( $node->log_contains(
		qr/pg_presplit: loaded statistics of 1000 partitions, of $partitions in "pg_stat\/pg_presplit.stat": presplit.analyzer_max_partitions is 1000/,
		$offset),
	'at capacity 1 000, 1 000 of them are loaded, and the log says so');
is($node->safe_psql('postgres', $status_query), "1000 1000 0 $entry_size",
	'all entries in use, none evicted yet');

# What 99 000 entries fewer saved: the entry and the directory's share.
my $shared_at_1000 =
  $node->safe_psql('postgres', q{SELECT pg_size_bytes(current_setting('shared_memory_size'))});
my $per_partition = ($shared_at_100000 - $shared_at_1000) / 99000;
note "shared memory per partition of capacity: $per_partition bytes";
ok($per_partition > $entry_size && $per_partition < $entry_size + 64,
	"shared memory per partition of capacity: the entry and under 64 bytes of directory ($per_partition)");

# One pass over every partition: the 1 000 loaded ones are found, each of the
# other 2 000 takes the least recently used entry.
$node->safe_psql('postgres', $scan_all);
is( $node->safe_psql('postgres', $status_query),
	"1000 1000 " . ($partitions - 1000) . " $entry_size",
	'each of the other 2 000 partitions evicted one entry');
is($node->safe_psql('postgres', q{SELECT count(*), count(DISTINCT partition) FROM presplit.partition_stats}),
	'1000|1000', 'the entries still belong to 1 000 distinct partitions');

# The directory agrees with the entries: a partition that has an entry is
# found (its count goes up, nothing is evicted), one that lost its entry gets
# a new one (evicting one).
my $present = $node->safe_psql('postgres',
	q{SELECT partition::text || ' ' || reads FROM presplit.partition_stats ORDER BY partition::text LIMIT 1});
my ($present_name, $present_reads) = split / /, $present;
my ($present_table, $present_index) = $present_name =~ /^t(\d+)_(\d+)$/
  or die "unexpected: $present_name";
$node->safe_psql('postgres', "SELECT * FROM t$present_table WHERE id = " . $present_index * 10);
is( $node->safe_psql('postgres',
		"SELECT reads FROM presplit.partition_stats WHERE partition = '$present_name'::regclass"),
	$present_reads + 1,
	"$present_name, which has an entry, is found: one read more");
is($node->safe_psql('postgres', q{SELECT evictions FROM presplit.analyzer_status}),
	$partitions - 1000, 'without an eviction');

my $absent = $node->safe_psql('postgres', q{
SELECT c.relname FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid
 WHERE c.relkind = 'r' AND c.oid NOT IN (SELECT partition FROM presplit.partition_stats)
 ORDER BY c.relname LIMIT 1});
my ($absent_table, $absent_index) = $absent =~ /^t(\d+)_(\d+)$/ or die "unexpected: $absent";
$node->safe_psql('postgres', "SELECT * FROM t$absent_table WHERE id = " . $absent_index * 10);
is( $node->safe_psql('postgres',
		"SELECT reads FROM presplit.partition_stats WHERE partition = '$absent'::regclass"),
	'1', "$absent, which had lost its entry, gets a new one");
is( $node->safe_psql('postgres',
		q{SELECT used || ' ' || evictions FROM presplit.analyzer_status}),
	'1000 ' . ($partitions - 1000 + 1), 'by evicting one');

$node->stop;
