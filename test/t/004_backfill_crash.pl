# stop('immediate') in the middle of a backfill, then start: the plan resumes
# after the last committed batch and completes with exact equality. And a
# shadow that does not match its source fails the plan, with the counts --
# also when only a row's contents differ, not the count.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PresplitTest;
use Test::More tests => 11;

my $node = presplit_node('crash', qq{
presplit.naptime = 100
presplit.backfill_batch_size = 1000
presplit.backfill_max_rows_per_second = 20000
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_presplit;
CREATE TABLE events (id bigint, at timestamptz NOT NULL DEFAULT now(), payload text,
                     PRIMARY KEY (id)) PARTITION BY RANGE (id);
CREATE TABLE events_0 PARTITION OF events FOR VALUES FROM (0) TO (1000000);
INSERT INTO events (id, payload) SELECT g, md5(g::text) FROM generate_series(1, 200000) g;
SELECT presplit.manage('events');
SELECT presplit.prepare_split('events_0', '{500000}');
});

ok( $node->poll_query_until('postgres',
		"SELECT sum(rows_copied) >= 30000 FROM presplit.progress WHERE plan_id = 1"),
	'backfill under way');
my $position = $node->safe_psql('postgres',
	'SELECT backfill_position FROM presplit.plan WHERE id = 1');
ok($position ne '', "a position was recorded ($position)");

$node->stop('immediate');
$node->start;

is($node->safe_psql('postgres', "SELECT presplit.wait(1, 'synced', '5 min')"),
	'synced', 'the plan completed after the crash');
ok($node->log_contains(qr/resuming the backfill of split plan 1 after/),
	'the worker resumed after the last committed batch');
is( $node->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM (TABLE events_0 EXCEPT ALL
            (SELECT * FROM events_0_1_0 UNION ALL SELECT * FROM events_0_1_1)) d)
     + (SELECT count(*) FROM ((SELECT * FROM events_0_1_0 UNION ALL SELECT * FROM events_0_1_1)
            EXCEPT ALL TABLE events_0) d)}),
	'0', 'shadows equal the source exactly');
is($node->safe_psql('postgres',
		'SELECT sum(rows_copied) FROM presplit.progress WHERE plan_id = 1'),
	'200000', 'every row was copied exactly once');

# Verification catches a shadow that differs from its source (here: a row
# slipped into a shadow behind capture's back while the backfill ran).
$node->safe_psql('postgres', q{
CREATE TABLE events_1 PARTITION OF events FOR VALUES FROM (1000000) TO (2000000);
INSERT INTO events (id, payload) SELECT g, 'x' FROM generate_series(1000001, 1050000) g;
ALTER SYSTEM SET presplit.backfill_paused = on;
SELECT pg_reload_conf();
});
# (Plan ids come from a sequence, which skips values after a crash.)
my $second = $node->safe_psql('postgres',
	q{SELECT presplit.prepare_split('events_1', '{1025001}')});
my $upper_shadow = $node->safe_psql('postgres',
	"SELECT shadow FROM presplit.progress WHERE plan_id = $second AND ordinal = 1");
$node->safe_psql('postgres', qq{
INSERT INTO $upper_shadow (id, payload) VALUES (1999999, 'not in the source');
ALTER SYSTEM RESET presplit.backfill_paused;
SELECT pg_reload_conf();
});
my ($ret, $stdout, $stderr) =
  $node->psql('postgres', "SELECT presplit.wait($second, 'synced', '5 min')");
like($stderr, qr/split plan $second ended in state failed instead of synced/, 'the plan failed');
like( $node->safe_psql('postgres', "SELECT reason FROM presplit.plans WHERE id = $second"),
	qr/verification failed: shadow 1: source has 25000 rows .*, shadow has 25001 rows/,
	'with the counts in the reason');

# Verification compares what the rows hold, not only how many there are: a
# shadow row changed behind capture's back between the last batch and
# verification (the batches and the change in one transaction, so the worker
# sees them together) fails the plan, with both checksums in the reason.
$node->safe_psql('postgres', q{
CREATE TABLE events_2 PARTITION OF events FOR VALUES FROM (2000000) TO (3000000);
INSERT INTO events (id, payload) SELECT g, 'y' FROM generate_series(2000001, 2001000) g;
});
my $third = $node->safe_psql('postgres', q{
BEGIN;
SELECT presplit.prepare_split('events_2', '{2000501}') AS plan \gset
SELECT presplit._backfill_batch(:plan, 1000000) AS copied \gset
SELECT shadow FROM presplit.progress WHERE plan_id = :plan AND ordinal = 0 \gset
UPDATE :shadow SET payload = 'not what the source holds' WHERE id = 2000100;
COMMIT;
SELECT :plan WHERE :copied = 1000;
});
ok($third ne '', 'a plan whose shadow has the right number of rows, one of them changed');
($ret, $stdout, $stderr) =
  $node->psql('postgres', "SELECT presplit.wait($third, 'synced', '5 min')");
like($stderr, qr/split plan $third ended in state failed instead of synced/,
	'the plan failed');
like( $node->safe_psql('postgres', "SELECT reason FROM presplit.plans WHERE id = $third"),
	qr/^verification failed: shadow 0: source has 500 rows \(checksum (-?\d+)\), shadow has 500 rows \(checksum (?!\1\))-?\d+\)$/,
	'same counts, different checksums: the reason says so');

$node->stop;
