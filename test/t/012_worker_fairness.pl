# One plan's long verification holds up neither another plan's ramp nor a
# fast shutdown. A partition whose rows are slow to verify (a 20 kB text that
# compresses to a few hundred bytes: cheap to store and to copy, but every row
# is decompressed and hashed when verified) is split while another plan ramps
# with reads routed and its new channel failing: the ramp must abort within
# 2 x presplit.naptime while the verification goes on. Then the server stops
# (fast) in the middle of a shadow's verification, and after the start the
# verification goes on from the shadows already verified. Last, SIGTERM ends
# a plan worker whose cutover waits for a lock at once.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PresplitTest;
use IPC::Run;
use Time::HiRes qw(time usleep);
use Test::More tests => 18;

my $naptime_ms = 500;
# This machine is shared and noisy: what a round may take beyond its naptime.
my $slack_s = 2.0;
my $node = presplit_node('fairness', qq{
presplit.naptime = $naptime_ms
presplit.backfill_batch_size = 20000
# The ramp never steps on by itself here (the test sets the weight), but it
# judges every step: 10 reads on each channel are enough evidence.
presplit.ramp_interval = '1h'
presplit.ramp_min_statements = 10
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_presplit;
CREATE TABLE orders (id bigint PRIMARY KEY, amount int NOT NULL) PARTITION BY RANGE (id);
CREATE TABLE orders_0 PARTITION OF orders FOR VALUES FROM (0) TO (1000);
CREATE TABLE orders_1 PARTITION OF orders FOR VALUES FROM (1000) TO (2000);
INSERT INTO orders SELECT g, g % 10 + 1 FROM generate_series(0, 1999) g;
SELECT presplit.manage('orders');

CREATE TABLE documents (id bigint PRIMARY KEY, body text NOT NULL) PARTITION BY RANGE (id);
CREATE TABLE documents_0 PARTITION OF documents FOR VALUES FROM (0) TO (60000);
CREATE TABLE documents_1 PARTITION OF documents FOR VALUES FROM (60000) TO (120000);
CREATE TEMP TABLE seed AS SELECT repeat('pg_presplit ', 1700) AS body;
INSERT INTO documents SELECT g, (SELECT body FROM seed) FROM generate_series(0, 59999) g;
SELECT presplit.manage('documents');

-- Reads row 7 until the plan's ramp is paused; the new channel fails on it.
CREATE FUNCTION read_until_paused(plan bigint) RETURNS text LANGUAGE plpgsql AS $$
DECLARE paused bool;
BEGIN
    FOR i IN 1..6000 LOOP
        SELECT c.paused INTO paused FROM presplit.channels c
         WHERE c.plan_id = plan AND c.channel = 'new';
        IF paused THEN RETURN 'paused'; END IF;
        BEGIN
            PERFORM 10 / amount FROM orders WHERE id = 7;
        EXCEPTION WHEN division_by_zero THEN NULL;
        END;
        PERFORM pg_sleep(0.005);
    END LOOP;
    RETURN 'still ramping';
END $$;
});

# The ramping plan: switching at weight 0, its new channel broken for row 7.
my $ramped = $node->safe_psql('postgres', q{SELECT presplit.split_partition('orders_0', '{500}')});
is($node->safe_psql('postgres', "SELECT presplit.wait($ramped, 'switching', '60 s')"),
	'switching', 'the small plan is switching, its ramp at weight 0');
my $shadow_low = $node->safe_psql('postgres',
	"SELECT relations[1] FROM presplit.channels WHERE plan_id = $ramped AND channel = 'new'");
$node->safe_psql('postgres', "UPDATE $shadow_low SET amount = 0 WHERE id = 7");

# The slow plan: three shadows, verified one by one (prepare_split: it stops
# at synced).
my $slow = $node->safe_psql('postgres',
	q{SELECT presplit.prepare_split('documents_0', '{20000, 40000}')});
my $verifying = q{SELECT count(*) > 0 FROM pg_stat_activity
 WHERE backend_type = 'pg_presplit plan worker' AND state = 'active'
   AND query = 'pg_presplit: verifying a shadow'};
my $started = time;
ok($node->poll_query_until('postgres', $verifying), 'a plan worker verifies the large partition');
note(sprintf('backfill of 60000 rows: %.1f s', time - $started));

# 1. The ramp aborts while the verification goes on.
my ($reader_out, $reader_err) = ('', '');
my $reader = IPC::Run::start(
	[ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-c',
	  "SELECT read_until_paused($ramped)" ],
	'>', \$reader_out, '2>', \$reader_err);
usleep(200_000);
$node->safe_psql('postgres', "SELECT presplit.set_weight($ramped, 50)");
$reader->finish;
is($reader_out, "paused\n", 'the ramp paused while reads were failing on the new channel')
  or diag($reader_err);
my $still_verifying = $node->safe_psql('postgres', $verifying);
my ($delay, $reason) = split /\|/, $node->safe_psql('postgres', qq{
SELECT extract(epoch FROM a.at - w.at), split_part(a.detail, ' (', 1)
  FROM presplit.events a,
       (SELECT at FROM presplit.events WHERE plan_id = $ramped AND kind = 'weight'
         ORDER BY id DESC LIMIT 1) w
 WHERE a.plan_id = $ramped AND a.kind = 'ramp_aborted'});
like($reason, qr/^error rate 1\.0000 on the new channel vs 0\.0000 on the old/,
	'aborted on the new channel\'s error rate');
my $limit = 2 * $naptime_ms / 1000 + $slack_s;
note(sprintf('ramp abort decided %.3f s after the weight was set (2 x naptime = %.1f s)',
		$delay, 2 * $naptime_ms / 1000));
ok(defined $delay && $delay < $limit,
	sprintf('the abort came %.3f s after the weight was set: within 2 x naptime (+ %.1f s slack)',
		$delay // -1, $slack_s));
is($still_verifying, 't', 'and the other plan was verifying all the while');

# 2. A fast shutdown in the middle of a shadow's verification, once at least
# one shadow is verified.
ok( $node->poll_query_until('postgres', qq{
SELECT (SELECT count(*) FROM presplit.progress WHERE plan_id = $slow AND phase = 'done') > 0
   AND ($verifying)}),
	'a shadow is verified and the next one is being verified');
my $done_before = $node->safe_psql('postgres',
	"SELECT count(*) FROM presplit.progress WHERE plan_id = $slow AND phase = 'done'");
my $stop_started = time;
$node->stop('fast');
my $shutdown = time - $stop_started;
note(sprintf('fast shutdown during a verification: %.2f s', $shutdown));
ok($shutdown < 5, sprintf('a fast shutdown during a verification took %.2f s', $shutdown));
ok($node->log_contains(qr/pg_presplit worker: shutting down: the current step was rolled back/),
	'the plan worker rolled its step back');
ok($node->log_contains(qr/pg_presplit worker shutting down/), 'the supervisor exited cleanly');

# 3. After the start the verification goes on with the next shadow.
$node->start;
is($node->safe_psql('postgres', "SELECT presplit.wait($slow, 'synced', '5 min')"),
	'synced', 'the large partition\'s plan is synced after the restart');
ok( $node->log_contains(
		qr/resuming the verification of split plan $slow at shadow $done_before: the shadows before it are verified/),
	"the verification went on at shadow $done_before");
is($node->safe_psql('postgres', qq{
SELECT state || ' ' || paused || ' ' || new_channel_weight FROM presplit.plans WHERE id = $ramped}),
	'switching true 0', 'the aborted ramp stays at weight 0, paused');

# 4. SIGTERM ends a plan worker whose cutover waits for a lock at once (the
# wait is cancelled), and the worker starts another.
$node->safe_psql('postgres', qq{
UPDATE $shadow_low s SET amount = o.amount FROM orders_0 o WHERE o.id = s.id AND s.id = 7});
my ($blocker_in, $blocker_out, $blocker_err) = ('', '', '');
my $blocker = IPC::Run::start([ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-f', '-' ],
	'<', \$blocker_in, '>', \$blocker_out, '2>', \$blocker_err);
$blocker_in .= "BEGIN;\nSELECT count(*) FROM orders_0;\n";
$blocker->pump until $blocker_out =~ /^\d+$/m || $blocker_err ne '';
$node->safe_psql('postgres',
	"SELECT presplit.set_weight($ramped, 100); SELECT presplit.resume($ramped)");
# (Its lock_wait event is in the cutover's transaction: not visible yet.)
my $waiting_for_lock = q{SELECT pid FROM pg_stat_activity
 WHERE backend_type = 'pg_presplit plan worker' AND query = 'pg_presplit: cutting over or validating'
   AND wait_event_type = 'Extension'};
ok($node->poll_query_until('postgres', "SELECT EXISTS ($waiting_for_lock)"),
	'at 100 a plan worker cuts over, and waits for the open transaction\'s lock');
my $cutting_over = $node->safe_psql('postgres', $waiting_for_lock);
my $log_offset = -s $node->logfile;
my $term_started = time;
$node->safe_psql('postgres', "SELECT pg_terminate_backend($cutting_over)");
$node->poll_query_until('postgres',
	"SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $cutting_over)");
my $ended = time - $term_started;
note(sprintf('a plan worker waiting for a lock ended %.2f s after SIGTERM', $ended));
ok($ended < 3 && $node->log_contains(qr/the current step was rolled back/, $log_offset),
	sprintf('SIGTERM ended the lock wait at once (%.2f s), rolled back', $ended));
ok( $node->poll_query_until('postgres', qq{
SELECT count(*) > 0 FROM pg_stat_activity
 WHERE backend_type = 'pg_presplit plan worker' AND pid <> $cutting_over}),
	'the worker started another plan worker for the cutover');
$blocker_in .= "COMMIT;\n";
$blocker->finish;
is($node->safe_psql('postgres', "SELECT presplit.wait($ramped, 'cut_over', '1 min')"),
	'cut_over', 'which cut over once the transaction ended');

is($node->safe_psql('postgres', qq{
SELECT count(*) FROM presplit.events WHERE plan_id IN ($slow, $ramped) AND kind = 'worker_error'}),
	'0', 'neither the shutdown nor SIGTERM is an error of the plans');

$node->stop;
