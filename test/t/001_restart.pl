# After a restart (clean and immediate) the catalog and the worker come back;
# after an error the postmaster restarts the worker.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PresplitTest;
use Test::More tests => 15;

my $node = presplit_node('restart', qq{
presplit.naptime = 100
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_presplit;
CREATE TABLE readings (id bigint PRIMARY KEY, v int) PARTITION BY RANGE (id);
CREATE TABLE readings_0 PARTITION OF readings FOR VALUES FROM (0) TO (1000);
CREATE TABLE readings_1 PARTITION OF readings FOR VALUES FROM (1000) TO (2000);
INSERT INTO readings SELECT g, g FROM generate_series(0, 1999) g;
SELECT presplit.manage('readings');
});

# Waits until the worker has seen the extension and has beaten at least
# once more than $min_loops; returns its pid.
sub worker_pid_when_beating {
	my ($min_loops) = @_;
	ok( $node->poll_query_until('postgres',
			"SELECT extension_present AND loops > $min_loops FROM presplit.worker_status"),
		"worker beats (more than $min_loops rounds)");
	return $node->safe_psql('postgres', 'SELECT pid FROM presplit.worker_status');
}

my $first_pid = worker_pid_when_beating(0);
ok($first_pid > 0, 'worker has a pid');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_presplit worker'"),
	'1', 'exactly one worker');

my $catalog_query =
  q{SELECT parent, key_column, identity_columns FROM presplit.managed_table};
my $catalog_before = $node->safe_psql('postgres', $catalog_query);
is($catalog_before, 'readings|id|{id}', 'table is managed');

# Clean restart.
$node->restart;
is($node->safe_psql('postgres', $catalog_query), $catalog_before, 'catalog survives a restart');
my $second_pid = worker_pid_when_beating(1);
isnt($second_pid, $first_pid, 'a new worker runs after the restart');
is($node->safe_psql('postgres', 'SELECT starts FROM presplit.worker_status'),
	'1', 'shared memory starts afresh');

# Crash: stop('immediate') then start.
$node->stop('immediate');
$node->start;
is($node->safe_psql('postgres', $catalog_query), $catalog_before, 'catalog survives a crash');
my $third_pid = worker_pid_when_beating(1);
isnt($third_pid, $second_pid, 'a new worker runs after the crash');

# SIGTERM ends the worker cleanly (exit code 0): it is not restarted.
$node->safe_psql('postgres', "SELECT pg_terminate_backend($third_pid)");
ok( $node->poll_query_until('postgres',
		"SELECT pid IS NULL FROM presplit.worker_status"),
	'worker gone after SIGTERM');
ok($node->log_contains(qr/pg_presplit worker shutting down/),
	'it exited cleanly');

# An error (here: its database does not exist) makes it exit with an error,
# and the postmaster starts it again after 5 seconds, again and again.
$node->append_conf('postgresql.conf', "presplit.database = 'no_such_database'\n");
$node->restart;
ok( $node->poll_query_until('postgres',
		"SELECT starts >= 2 FROM presplit.worker_status"),
	'worker restarted after failing');
ok($node->log_contains(qr/database "no_such_database" does not exist/),
	'the error is in the log');

$node->stop;
