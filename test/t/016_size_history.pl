# The size history (presplit.size_history): the pg_presplit worker samples
# every managed partition's rows and bytes when it starts and every
# presplit.size_sample_interval, and the samples survive a clean restart and
# a crash (back to the last save), with the rest of the analyzer's
# statistics.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PresplitTest;
use Test::More tests => 8;

my $node = presplit_node('sizes', qq{
restart_after_crash = on
});
$node->start;

# Samples of the past hours, taken now but recorded as taken then (the
# worker takes one an hour). Times are relative to $t0, so that an hour
# that ends while the test runs changes nothing.
my $t0 = $node->safe_psql('postgres', 'SELECT now()');
$node->safe_psql('postgres', qq{
CREATE EXTENSION pg_presplit;
CREATE FUNCTION sample_sizes(timestamptz) RETURNS int
    AS 'pg_presplit', 'presplit_test_sample_sizes' LANGUAGE C;
CREATE TABLE events (id bigint PRIMARY KEY, payload text) PARTITION BY RANGE (id);
CREATE TABLE events_old PARTITION OF events FOR VALUES FROM (0) TO (1000000);
CREATE TABLE events_new PARTITION OF events FOR VALUES FROM (1000000) TO (2000000);
SELECT presplit.manage('events');
SELECT sample_sizes('$t0'::timestamptz - interval '3 hours');
INSERT INTO events SELECT g, repeat('p', 200) FROM generate_series(1000000, 1004999) g;
ANALYZE events;
SELECT sample_sizes('$t0'::timestamptz - interval '2 hours');
INSERT INTO events SELECT g, repeat('p', 200) FROM generate_series(1005000, 1019999) g;
ANALYZE events;
SELECT sample_sizes('$t0'::timestamptz - interval '1 hour');
});

# Those samples, as text.
my $history_query = qq{
SELECT string_agg(format('%s %s %s', extract(epoch FROM at)::bigint, coalesce(rows::text, '?'), bytes),
                  ', ' ORDER BY at)
  FROM presplit.size_history('events_new') WHERE at < '$t0'::timestamptz - interval '30 minutes'
};
my $history = $node->safe_psql('postgres', $history_query);
my @samples = split /, /, $history;
my @rows = map { (split / /)[1] } @samples;
my @bytes = map { (split / /)[2] } @samples;
is("@rows", '? 5000 20000', 'three hourly samples: rows unknown before ANALYZE, then 5 000 and 20 000');
ok($bytes[0] < $bytes[1] && $bytes[1] < $bytes[2], "bytes grow: @bytes");

my $restarted = $node->safe_psql('postgres', 'SELECT now()');
$node->restart;
is($node->safe_psql('postgres', $history_query), $history, 'the samples survive a clean restart');

# The worker samples as it starts (the one before the restart started
# before the table existed).
my $sampled_since = sub {
	my ($since) = @_;
	return qq{SELECT count(*) > 0 FROM presplit.size_history('events_new')
	           WHERE at >= date_trunc('second', '$since'::timestamptz) AND rows = 20000};
};
ok($node->poll_query_until('postgres', $sampled_since->($restarted)),
	'the worker samples every managed partition when it starts');

# A crash: the server starts again from the last save (the one made when the
# worker stopped above).
my $crashed = $node->safe_psql('postgres', 'SELECT now()');
my $backend = $node->background_psql('postgres');
my $pid = $backend->query_safe('SELECT pg_backend_pid()');
kill 'KILL', $pid;
$backend->quit;
ok($node->poll_query_until('postgres', $history_query, $history),
	'and a crash, back to the last save');

# Every presplit.size_sample_interval (aligned to UTC): with 1 s, this hour's
# sample is replaced again and again (an hour keeps its last sample).
ok($node->poll_query_until('postgres', $sampled_since->($crashed)), 'the worker samples after the crash');
my $latest = $node->safe_psql('postgres', q{SELECT max(at) FROM presplit.size_history('events_new')});
$node->safe_psql('postgres', q{ALTER SYSTEM SET presplit.size_sample_interval = '1s'});
$node->reload;
ok( $node->poll_query_until(
		'postgres', qq{SELECT max(at) > '$latest' FROM presplit.size_history('events_new')}),
	'and again every presplit.size_sample_interval');
is( $node->safe_psql('postgres',
		q{SELECT count(*) = count(DISTINCT date_trunc('hour', at)) FROM presplit.size_history('events_new')}),
	't', 'one sample per hour');

$node->stop;
