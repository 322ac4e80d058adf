# The worker's rounds with local plans only run none of its remote checks:
# no query for lost subscriptions (re-sync), for the replication lag of
# switching plans, or for the sources whose remote copies it paces. One
# cheap catalog check per round (catalog::remote_targets_in_use) says there
# is no target on another server. Nor any for the moves onto other servers:
# the worker looks at them when it starts, and then only while one is open or
# after a move function committed (SharedState::moves_to_look_at). The evidence is auto_explain, loaded
# beside pg_presplit with log_min_duration = 0: it logs every statement the
# worker runs through SPI, the round's own plan list included (that shows
# the rounds ran), and none of the remote checks' statements.
# One plan switching (weights by hand) and one copying, both local.
# Nothing is timed: the test waits for conditions.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PresplitTest;
use Time::HiRes qw(usleep);
use Test::More tests => 6;

# The copy of t_1 (200000 rows at 2000 rows/s) lasts well beyond what the
# test looks at; t_0's (2000 rows) a second.
my $node = presplit_node('local_rounds', qq{
presplit.naptime = 100
presplit.backfill_max_rows_per_second = 2000
presplit.backfill_batch_size = 1000
shared_preload_libraries = 'pg_presplit,auto_explain'
auto_explain.log_min_duration = 0
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION pg_presplit;
CREATE TABLE t (id bigint PRIMARY KEY, v int NOT NULL DEFAULT 0) PARTITION BY RANGE (id);
CREATE TABLE t_0 PARTITION OF t FOR VALUES FROM (0) TO (100000);
CREATE TABLE t_1 PARTITION OF t FOR VALUES FROM (100000) TO (400000);
INSERT INTO t (id) SELECT generate_series(0, 1999);
INSERT INTO t (id) SELECT generate_series(100000, 299999);
SELECT presplit.manage('t');
});

my $switching = $node->safe_psql('postgres',
	q{SELECT presplit.split_partition('t_0', '{1000}', ramp => false)});
is($node->safe_psql('postgres', "SELECT presplit.wait($switching, 'switching', '2 min')"),
	'switching', 'a local plan is switching');
my $copying = $node->safe_psql('postgres', q{SELECT presplit.prepare_split('t_1', '{200000}')});
$node->poll_query_until('postgres',
	"SELECT state = 'backfilling' FROM presplit.plans WHERE id = $copying");

# From here on: at least 20 rounds (their plan list, a statement of the
# worker's that auto_explain logs).
my $offset = -s $node->logfile;
my $round = qr/OR \(p\.state = \$3 AND p\.switch_requested\)/;
my $rounds = 0;
foreach my $tick (1 .. 600)
{
	my @seen = slurp_file($node->logfile, $offset) =~ /$round/g;
	$rounds = scalar @seen;
	last if $rounds >= 20;
	usleep(100_000);
}
cmp_ok($rounds, '>=', 20, 'the worker ran its rounds, and auto_explain logged their statements');
is($node->safe_psql('postgres', "SELECT state FROM presplit.plans WHERE id = $copying"),
	'backfilling', 'a local plan was copying meanwhile');

my $log = slurp_file($node->logfile, $offset);
my %checks = (
	're-sync of lost subscriptions' => qr/SELECT s\.plan_id, s\.ordinal, s\.server FROM presplit\.shadow s/,
	'lag of switching remote targets' => qr/WHERE p\.state = 'switching' AND s\.server IS NOT NULL/,
	'the remote copies\' limits' => qr/SELECT p\.source::oid::text FROM presplit\.plan p/,
	'the moves onto other servers' => qr/FROM presplit\.remote_move/);
my @ran = grep { $log =~ $checks{$_} } sort keys %checks;
is(join(', ', @ran), '', 'none of the remote checks ran in those rounds');
ok($log =~ /JOIN presplit\.plan p ON p\.id = s\.plan_id\s+WHERE s\.server IS NOT NULL AND p\.state IN/,
	'the round\'s one catalog check for remote targets did');
# The worker looks at the moves once when it starts (one may be open since
# before), and no more while none is open and no move function committed.
ok(slurp_file($node->logfile, 0) =~ $checks{'the moves onto other servers'},
	'the worker looked at the moves when it started');

$node->safe_psql('postgres', "SELECT presplit.cancel($copying)");
$node->safe_psql('postgres', "SELECT presplit.rollback($switching)");
$node->stop;
