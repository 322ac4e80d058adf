# Changes committed by COMMIT PREPARED reach every session's caches, whichever
# session commits them: the session that ran PREPARE TRANSACTION may be gone,
# and the one that runs COMMIT PREPARED never ran the change. A long-lived
# session that built its set of managed tables and its routes before must
#  1. count its statements on a table managed in a prepared transaction
#     (presplit.partition_stats), and
#  2. route its reads at the weight set in a prepared transaction
#     (presplit.channels: the new channel at weight 100 serves every read),
#     from its next statement on, in the middle of a transaction too.
# Nothing changes for anyone while the transaction is only prepared, nor
# after ROLLBACK PREPARED.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PresplitTest;
use Test::More tests => 10;

my $node = presplit_node('prepared', qq{
presplit.naptime = 100
presplit.analyzer_sample_every = 1
max_prepared_transactions = 5
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_presplit;
CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL) PARTITION BY RANGE (id);
CREATE TABLE t_0 PARTITION OF t FOR VALUES FROM (0) TO (1000);
CREATE TABLE t_1 PARTITION OF t FOR VALUES FROM (1000) TO (2000);
INSERT INTO t SELECT g, g FROM generate_series(0, 1999) g;
});

# Session C: long-lived; each read below is its own transaction.
my $c = $node->background_psql('postgres');
sub read_in_c {
	my ($times, $id) = @_;
	$c->query_safe("SELECT v FROM t WHERE id = $id") for 1 .. $times;
}
sub reads_of {
	my ($partition) = @_;
	return $node->safe_psql('postgres', qq{
SELECT coalesce(sum(reads), 0) FROM presplit.partition_stats WHERE partition = '$partition'::regclass});
}

# 1. manage in a prepared transaction (session A), committed from session B.
read_in_c(3, 5); # C has built its managed set: nothing managed
$node->safe_psql('postgres', q{
BEGIN;
SELECT presplit.manage('t');
PREPARE TRANSACTION 'manage_t';
});
read_in_c(3, 5);
is($node->safe_psql('postgres', q{SELECT count(*) FROM presplit.managed_tables}), '0',
	'while prepared, t is not managed');
$node->safe_psql('postgres', q{COMMIT PREPARED 'manage_t'});
is($node->safe_psql('postgres', q{SELECT string_agg(DISTINCT parent::text, ',') FROM presplit.managed_tables}),
	't', 'COMMIT PREPARED from another session: t is managed');
$node->safe_psql('postgres', q{SELECT presplit.reset_stats('t')});
read_in_c(10, 5);
is(reads_of('t_0'), '10',
	'a session that had cached the managed set counts its reads of t after COMMIT PREPARED');

# 2. A switching plan (manual: no ramp), weight 0; C reads the old channel.
my $plan = $node->safe_psql('postgres',
	q{SELECT presplit.split_partition('t_0', '{500}', ramp => false)});
is($node->safe_psql('postgres', "SELECT presplit.wait($plan, 'switching', '2 min')"),
	'switching', 'the plan is switching');
my $channels = qq{
SELECT string_agg(channel || ' ' || weight || ' ' || statements, ', ' ORDER BY channel)
  FROM presplit.channels WHERE plan_id = $plan};
read_in_c(5, 5);
is($node->safe_psql('postgres', $channels), 'new 0 0, old 100 5',
	'at weight 0, C reads the old channel');

# The weight set to 100 in a prepared transaction, rolled back: nothing changes.
$node->safe_psql('postgres', qq{
BEGIN;
SELECT presplit.set_weight($plan, 100);
PREPARE TRANSACTION 'weight_rolled_back';
});
read_in_c(5, 5);
$node->safe_psql('postgres', q{ROLLBACK PREPARED 'weight_rolled_back'});
read_in_c(5, 5);
is($node->safe_psql('postgres', $channels), 'new 0 0, old 100 15',
	'a weight prepared, then rolled back: C still reads the old channel');

# Set to 100 in a prepared transaction, committed from another session.
$node->safe_psql('postgres', qq{
BEGIN;
SELECT presplit.set_weight($plan, 100);
PREPARE TRANSACTION 'weight';
});
read_in_c(5, 5);
is($node->safe_psql('postgres', $channels), 'new 0 0, old 100 20',
	'while prepared, C still reads the old channel');
$node->safe_psql('postgres', q{COMMIT PREPARED 'weight'});
read_in_c(10, 5);
is($node->safe_psql('postgres', $channels), 'new 100 10, old 0 20',
	'after COMMIT PREPARED from another session, C reads the new channel at weight 100');

# In the middle of one statement of C: a PL/pgSQL function whose statements
# all run in its first iteration, before the change, so that it holds its locks and reuses its
# plans (nothing else makes it read invalidations), reads 5 times, then
# polls the weight; session B sets it back to 0 by COMMIT PREPARED; once
# its snapshot shows the change, the function's next 5 reads must go to the
# old channel. (They start one poll later: a commit becomes visible a moment
# before its invalidations are sent.)
$node->safe_psql('postgres', q{
CREATE FUNCTION read_around_weight_change(plan bigint) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    w int;
    changed boolean := false;
    reading boolean;
    reads_after int := 0;
BEGIN
    FOR i IN 1..6000 LOOP
        SELECT weight INTO w FROM presplit.channels WHERE plan_id = plan AND channel = 'new';
        reading := i <= 5 OR changed;
        IF reading THEN
            PERFORM v FROM t WHERE id = 5;
        END IF;
        reads_after := reads_after + CASE WHEN reading AND changed THEN 1 ELSE 0 END;
        EXIT WHEN reads_after = 5;
        changed := w = 0;
        PERFORM pg_sleep(0.01);
    END LOOP;
    RETURN format('weight %s, %s reads after the change', w, reads_after);
END $$;
});
$node->safe_psql('postgres', qq{
BEGIN;
SELECT presplit.set_weight($plan, 0);
PREPARE TRANSACTION 'weight_0';
});
# B commits it once C's function has made its first 5 reads.
my $b = $node->background_psql('postgres');
$b->query_until(qr/started/, qq{
\\echo started
DO \$\$
BEGIN
    FOR i IN 1..6000 LOOP
        EXIT WHEN (SELECT statements FROM presplit.channels
                    WHERE plan_id = $plan AND channel = 'new') >= 15;
        PERFORM pg_sleep(0.01);
    END LOOP;
END \$\$;
COMMIT PREPARED 'weight_0';
});
is($c->query_safe("SELECT read_around_weight_change($plan)"), 'weight 0, 5 reads after the change',
	'C\'s function saw the weight committed by COMMIT PREPARED');
$b->quit;
is($node->safe_psql('postgres', $channels), 'new 0 15, old 100 25',
	'within one statement of C: the new channel, then the old one after COMMIT PREPARED');

$c->quit;
$node->stop;
