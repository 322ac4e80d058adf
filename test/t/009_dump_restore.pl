# Backups that restore. A cluster with split plans in every state -- one
# finalized before ALTER EXTENSION ... UPDATE from 0.1.0, then cut_over,
# switching, synced and backfilling -- is dumped as a DBA would (pg_dump -Fc)
# and restored into the database the worker serves on a fresh cluster: the
# catalog comes back exactly (ids, states, weights, progress, events), the
# worker waits while the restore is half done, and then carries on with every
# plan to its end, every write captured (a ledger table takes the same writes
# as the split table and must match it). The plain format (pg_dump | psql)
# and pg_restore -j restore the same catalog. Then: 0.1.0 updated equals a
# fresh install, and DROP EXTENSION with plans in progress, without and with
# CASCADE.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PresplitTest;
use Test::More tests => 36;

my $dir = PostgreSQL::Test::Utils::tempdir;
my $rows_per_partition = 10000;
my $rows = 5 * $rows_per_partition;

sub new_node {
	my ($name, $extra) = @_;
	my $node = presplit_node($name, qq{
presplit.naptime = 100
presplit.backfill_batch_size = 2000
presplit.ramp_step = 25
presplit.ramp_min_statements = 0
$extra
});
	$node->start;
	return $node;
}

# The catalog's rows, exactly, and its sequences.
sub catalog_rows {
	my ($node, $db) = @_;
	return $node->safe_psql($db, q{
SELECT concat_ws(E'\n',
    (SELECT json_agg(m ORDER BY m.parent::text) FROM presplit.managed_table m),
    (SELECT json_agg(p ORDER BY p.id) FROM presplit.plan p),
    (SELECT json_agg(s ORDER BY s.plan_id, s.ordinal) FROM presplit.shadow s),
    (SELECT json_agg(c ORDER BY c.plan_id, c.channel) FROM presplit.channel c),
    (SELECT json_agg(g ORDER BY g.plan_id, g.ordinal) FROM presplit.shadow_progress g),
    (SELECT json_agg(e ORDER BY e.id) FROM presplit.event e),
    (SELECT last_value || ' ' || is_called FROM presplit.plan_id_seq),
    (SELECT last_value || ' ' || is_called FROM presplit.event_id_seq))});
}

# Every user table's rows (a digest each).
sub table_contents {
	my ($node, $db) = @_;
	return $node->safe_psql($db, q{
SELECT string_agg(c.relname || ' ' || (xpath('/row/d/text()', query_to_xml(format(
           'SELECT md5(coalesce(string_agg(t::text, %L ORDER BY t::text), %L)) AS d FROM %I.%I t',
           ',', '', n.nspname, c.relname), false, true, '')))[1]::text, E'\n' ORDER BY c.relname)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relkind = 'r'});
}

# The tables' layout: partitions, owners, constraints, indexes, triggers.
sub table_objects {
	my ($node, $db) = @_;
	return $node->safe_psql($db, q{
SELECT string_agg(x, E'\n' ORDER BY x) FROM (
    SELECT c.relname || ' ' || coalesce(pg_get_expr(c.relpartbound, c.oid), 'not a partition')
           || ' ' || pg_get_userbyid(c.relowner) AS x
      FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
    UNION ALL
    SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
      FROM pg_constraint WHERE connamespace = 'public'::regnamespace
    UNION ALL
    SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'
    UNION ALL
    SELECT pg_get_triggerdef(t.oid) || ' enabled ' || t.tgenabled::text
      FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
     WHERE c.relnamespace = 'public'::regnamespace AND NOT t.tgisinternal) s});
}

# The same writes to the split table and to the ledger: updates everywhere,
# and rows deleted and inserted again in every partition.
my $churn = q{
CREATE FUNCTION churn(k int) RETURNS void LANGUAGE sql AS $$
    UPDATE accounts SET balance = balance + k WHERE id % 101 = k % 101;
    UPDATE ledger SET balance = balance + k WHERE id % 101 = k % 101;
    DELETE FROM accounts WHERE id % 997 = k % 997;
    DELETE FROM ledger WHERE id % 997 = k % 997;
    INSERT INTO accounts SELECT g, k FROM generate_series(0, 49999) g WHERE g % 997 = k % 997;
    INSERT INTO ledger SELECT g, k FROM generate_series(0, 49999) g WHERE g % 997 = k % 997;
$$};

sub ledger_matches {
	my ($node, $name) = @_;
	is($node->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM (TABLE accounts EXCEPT ALL TABLE ledger) a)
     + (SELECT count(*) FROM (TABLE ledger EXCEPT ALL TABLE accounts) b)
     || ' ' || (SELECT count(*) FROM accounts)}), "0 $rows", "$name: the table equals the ledger");
}

sub state_of {
	my ($node, $plan) = @_;
	return $node->safe_psql('postgres', "SELECT state FROM presplit.plans WHERE id = $plan");
}

############################################################################
# The old cluster: 0.1.0, a plan finalized, the update, four more plans.
############################################################################

my $old = new_node('old', "presplit.ramp_interval = '1h'");
$old->safe_psql('postgres', qq{
CREATE EXTENSION pg_presplit VERSION '0.1.0';
CREATE TABLE accounts (id bigint PRIMARY KEY, balance bigint NOT NULL) PARTITION BY RANGE (id);
CREATE TABLE ledger (id bigint PRIMARY KEY, balance bigint NOT NULL);
} . join('', map {
	"CREATE TABLE a$_ PARTITION OF accounts FOR VALUES FROM (" . $_ * $rows_per_partition
	  . ') TO (' . ($_ + 1) * $rows_per_partition . ");\n"
} 0 .. 4) . qq{
INSERT INTO accounts SELECT g, 1000 FROM generate_series(0, $rows - 1) g;
INSERT INTO ledger TABLE accounts;
$churn;
SELECT presplit.manage('accounts');
});

# 1. Finalized under 0.1.0, which left the dropped partition's OID behind.
my $p1 = $old->safe_psql('postgres',
	q{SELECT presplit.split_partition('a0', '{5000}', ramp => false)});
$old->safe_psql('postgres', "SELECT presplit.wait($p1, 'switching', '2 min')");
$old->safe_psql('postgres', "SELECT presplit.cutover($p1)");
$old->safe_psql('postgres', "SELECT presplit.finalize($p1)");
is($old->safe_psql('postgres', "SELECT source::oid <> 0 FROM presplit.plan WHERE id = $p1"),
	't', '0.1.0 keeps the OID of the partition finalize dropped');

$old->safe_psql('postgres', 'ALTER EXTENSION pg_presplit UPDATE');
is( $old->safe_psql('postgres', qq{
SELECT extversion || ' ' || (SELECT source IS NULL FROM presplit.plan WHERE id = $p1)
       || ' ' || (SELECT count(*) FROM presplit.event WHERE plan_id = $p1 AND kind = 'plan_created')
  FROM pg_extension WHERE extname = 'pg_presplit'}),
	'0.1.1 true 1', 'ALTER EXTENSION UPDATE: 0.1.1, the dangling source forgotten, one plan_created');

# 2. Cut over (the worker validates the old partition's bound).
my $p2 = $old->safe_psql('postgres',
	q{SELECT presplit.split_partition('a1', '{15000}', ramp => false)});
$old->safe_psql('postgres', "SELECT presplit.wait($p2, 'switching', '2 min')");
$old->safe_psql('postgres', "SELECT presplit.cutover($p2)");
$old->poll_query_until('postgres',
	q{SELECT convalidated FROM pg_constraint WHERE conname = 'presplit_old_bound'})
  or die 'the old bound was not validated';

# 3. Switching, ramped, at weight 40, paused (so that the new cluster's
# worker leaves it until the comparisons are done).
my $p3 = $old->safe_psql('postgres', q{SELECT presplit.split_partition('a2', '{25000}')});
$old->safe_psql('postgres', "SELECT presplit.wait($p3, 'switching', '2 min')");
$old->safe_psql('postgres', "SELECT presplit.set_weight($p3, 40)");
$old->safe_psql('postgres', "SELECT presplit.pause($p3)");

# 4. Synced (prepare_split alone stops there).
my $p4 = $old->safe_psql('postgres', q{SELECT presplit.prepare_split('a3', '{35000}')});
$old->safe_psql('postgres', "SELECT presplit.wait($p4, 'synced', '2 min')");

# 5. Backfilling: the worker paused, two batches copied by hand.
my $loops = $old->safe_psql('postgres', 'SELECT loops FROM presplit.worker_status');
$old->safe_psql('postgres',
	'ALTER SYSTEM SET presplit.backfill_paused = on; SELECT pg_reload_conf()');
$old->poll_query_until('postgres', "SELECT loops > $loops + 2 FROM presplit.worker_status")
  or die 'the worker did not go on';
my $p5 = $old->safe_psql('postgres', q{SELECT presplit.prepare_split('a4', '{45000}')});
$old->safe_psql('postgres', "SELECT presplit._backfill_batch($p5, 3000)") for 1 .. 2;
$old->safe_psql('postgres', 'SELECT churn(1)');
my $position = $old->safe_psql('postgres', "SELECT backfill_position FROM presplit.plan WHERE id = $p5");
is( $old->safe_psql('postgres', 'SELECT string_agg(state, \' \' ORDER BY id) FROM presplit.plans'),
	'finalized cut_over switching synced backfilling', 'the old cluster has a plan in each state');

my $catalog = catalog_rows($old, 'postgres');
my $contents = table_contents($old, 'postgres');
my $objects = table_objects($old, 'postgres');
$old->command_ok([ 'pg_dump', '-Fc', '-f', "$dir/app.dump", '-d', 'postgres' ], 'pg_dump -Fc');
$old->command_ok([ 'pg_dump', '-f', "$dir/app.sql", '-d', 'postgres' ], 'pg_dump (plain)');
is(catalog_rows($old, 'postgres'), $catalog, 'nothing changed while dumping');

############################################################################
# The new cluster: pg_restore into the database its worker serves.
############################################################################

my $new = new_node('new', "presplit.ramp_interval = '300ms'");
my $started = time;
$new->command_ok(
	[ 'pg_restore', '--exit-on-error', '--section=pre-data', '--section=data',
	  '-d', 'postgres', "$dir/app.dump" ],
	'pg_restore: schema and data');
# Half restored: no index, no capture trigger yet. The worker waits.
$new->wait_for_log(qr/split plan $p5 waits: a shadow has no unique index/);
$new->wait_for_log(qr/split plan $p2 waits: a shadow has no unique index/);
my $loops_new = $new->safe_psql('postgres', 'SELECT loops FROM presplit.worker_status');
$new->poll_query_until('postgres', "SELECT loops > $loops_new + 3 FROM presplit.worker_status")
  or die 'the worker did not go on';
is(catalog_rows($new, 'postgres'), $catalog,
	'the catalog came back exactly: plans, shadows, channels, progress, events, sequences');
is(table_contents($new, 'postgres'), $contents, 'and every table, shadows included');

$new->command_ok(
	[ 'pg_restore', '--exit-on-error', '--section=post-data', '-d', 'postgres', "$dir/app.dump" ],
	'pg_restore: indexes, constraints and capture triggers');
is(table_objects($new, 'postgres'), $objects,
	'partitions, constraints, indexes and capture triggers came back exactly');
$new->wait_for_log(qr/split plan $p5 is whole again: going on/);

# The worker carries on. The backfill resumes after its position and passes
# verification.
is($new->safe_psql('postgres', "SELECT presplit.wait($p5, 'synced', '2 min')"),
	'synced', 'the restored backfilling plan was backfilled and verified');
my $last_key = $position =~ s/[{}]//gr;
ok($new->log_contains(qr/resuming the backfill of split plan $p5 after \{"?\Q$last_key\E"?\}/),
	"it resumed after the position it was restored with, $position");
$new->safe_psql('postgres', 'SELECT churn(2)');

# The switching plan ramps on from 40 once resumed, and cuts over.
$new->safe_psql('postgres', "SELECT presplit.resume($p3)");
is($new->safe_psql('postgres', "SELECT presplit.wait($p3, 'cut_over', '2 min')"),
	'cut_over', 'the restored switching plan ramped and cut over');
like($new->safe_psql('postgres', qq{
SELECT string_agg(detail, '; ' ORDER BY id) FROM presplit.events WHERE plan_id = $p3 AND kind = 'weight'}),
	qr/new channel 40 -> 65 \(ramp\)/, 'from the weight it was restored with');
$new->safe_psql('postgres', 'SELECT churn(3)');
$new->safe_psql('postgres', "SELECT presplit.finalize($p3)");

# The synced plan switches over when asked.
$new->safe_psql('postgres', q{SELECT presplit.split_partition('a3')});
is($new->safe_psql('postgres', "SELECT presplit.wait($p4, 'cut_over', '2 min')"),
	'cut_over', 'the restored synced plan switched and cut over');
$new->safe_psql('postgres', 'SELECT churn(4)');
$new->safe_psql('postgres', "SELECT presplit.finalize($p4, drop_old => false)");

# The cut-over plan rolls back (reverse capture kept the old partition current).
$new->safe_psql('postgres', 'SELECT churn(5)');
$new->safe_psql('postgres', "SELECT presplit.rollback($p2)");

# And the plan that was backfilling finishes too.
$new->safe_psql('postgres', q{SELECT presplit.split_partition('a4')});
$new->safe_psql('postgres', "SELECT presplit.wait($p5, 'cut_over', '2 min')");
$new->safe_psql('postgres', 'SELECT churn(6)');
$new->safe_psql('postgres', "SELECT presplit.finalize($p5)");

is( $new->safe_psql('postgres', 'SELECT string_agg(state, \' \' ORDER BY id) FROM presplit.plans'),
	'finalized rolled_back finalized finalized finalized', 'every restored plan reached its end');
is( $new->safe_psql('postgres', q{
SELECT string_agg(partition::text, ' ' ORDER BY partition::text) FROM presplit.managed_tables}),
	"a0_${p1}_0 a0_${p1}_1 a1 a2_${p3}_0 a2_${p3}_1 a3_${p4}_0 a3_${p4}_1 a4_${p5}_0 a4_${p5}_1",
	'the layout: every split but the rolled back one');
ledger_matches($new, 'after the restore, three cutovers and a rollback');
is($new->safe_psql('postgres', q{SELECT count(*) FROM presplit.events WHERE kind = 'worker_error'}),
	'0', 'the worker never failed a step');
note('restore and the four plans driven to their ends: ' . (time - $started) . ' s');

# The other formats restore the same catalog (databases the worker does not
# serve: compared only).
$new->safe_psql('postgres', 'CREATE DATABASE plain');
$new->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', 'plain', '-f', "$dir/app.sql" ],
	'pg_dump | psql');
$new->safe_psql('postgres', 'CREATE DATABASE parallel');
$new->command_ok([ 'pg_restore', '--exit-on-error', '-j', '2', '-d', 'parallel', "$dir/app.dump" ],
	'pg_restore -j 2');
for my $db ('plain', 'parallel') {
	is(catalog_rows($new, $db) . table_contents($new, $db) . table_objects($new, $db),
		$catalog . $contents . $objects, "$db: the catalog, the tables and their objects exactly");
}

# Without foreign keys between them, the catalog tables still take their
# rows along: TRUNCATE of the managed tables empties the rest.
is( $new->safe_psql('plain', q{
TRUNCATE presplit.managed_table;
SELECT (SELECT count(*) FROM presplit.plan) + (SELECT count(*) FROM presplit.shadow)
     + (SELECT count(*) FROM presplit.channel) + (SELECT count(*) FROM presplit.shadow_progress)}),
	'0', 'TRUNCATE presplit.managed_table empties plan, shadow, channel and shadow_progress');

# No plan in progress: DROP EXTENSION drops the catalog, and nothing else.
$new->safe_psql('postgres', 'DROP EXTENSION pg_presplit');
ledger_matches($new, 'after DROP EXTENSION');

############################################################################
# ALTER EXTENSION UPDATE: 0.1.0 updated is a fresh 0.1.1.
############################################################################

# Every object of the extension, with its definition.
sub extension_objects {
	my ($node, $db) = @_;
	return $node->safe_psql($db, q{
WITH ext AS (SELECT oid FROM pg_extension WHERE extname = 'pg_presplit'),
members AS (
    SELECT d.classid, d.objid FROM pg_depend d, ext
     WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e')
SELECT string_agg(x, E'\n' ORDER BY x) FROM (
    SELECT pg_describe_object(m.classid, m.objid, 0) AS x FROM members m
    UNION ALL
    SELECT pg_get_functiondef(p.oid) || ' ' || coalesce(p.proacl::text, '')
           || ' ' || coalesce(obj_description(p.oid, 'pg_proc'), '')
      FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
     WHERE p.prokind <> 'a'
    UNION ALL
    SELECT c.relname || ' ' || c.relkind::text || ' ' || coalesce(c.relacl::text, '')
           || ' ' || coalesce(obj_description(c.oid, 'pg_class'), '')
           || ' ' || coalesce(pg_get_viewdef(c.oid), '')
      FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
    UNION ALL
    SELECT c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
           || ' ' || a.attnotnull || ' ' || a.attidentity::text || ' ' || a.attnum
           || ' ' || coalesce(pg_get_expr(ad.adbin, ad.adrelid), '')
      FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
    UNION ALL
    SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
      FROM pg_constraint WHERE connamespace = 'presplit'::regnamespace
    UNION ALL
    SELECT indexdef FROM pg_indexes WHERE schemaname = 'presplit'
    UNION ALL
    SELECT pg_get_triggerdef(t.oid) || ' ' || t.tgenabled::text
      FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
     WHERE c.relnamespace = 'presplit'::regnamespace AND NOT t.tgisinternal
    UNION ALL
    SELECT 'event trigger ' || evtname || ' ' || evtevent || ' ' || evtfoid::regproc
           || ' ' || evtenabled::text || ' ' || coalesce(evttags::text, '')
      FROM pg_event_trigger
    UNION ALL
    SELECT 'dumped ' || (SELECT string_agg(t::regclass::text || ' ' || coalesce(w, ''), ', '
                                           ORDER BY t::regclass::text)
                           FROM unnest(extconfig, extcondition) u(t, w))
      FROM pg_extension WHERE extname = 'pg_presplit'
    UNION ALL
    SELECT 'schema ' || coalesce(nspacl::text, '') FROM pg_namespace WHERE nspname = 'presplit'
) s});
}

$new->safe_psql('postgres', q{
CREATE DATABASE updated;
CREATE DATABASE fresh;
});
$new->safe_psql('fresh', q{CREATE EXTENSION pg_presplit});
my $fresh = extension_objects($new, 'fresh');
$new->safe_psql('updated', q{CREATE EXTENSION pg_presplit VERSION '0.1.0'});
isnt(extension_objects($new, 'updated'), $fresh, '0.1.0 differs from 0.1.1 (the comparison sees it)');
$new->safe_psql('updated', q{ALTER EXTENSION pg_presplit UPDATE TO '0.1.1'});
is(extension_objects($new, 'updated'), $fresh,
	'0.1.0 updated to 0.1.1 has the objects of a fresh 0.1.1, definitions and privileges included');

############################################################################
# DROP EXTENSION with plans in progress (on the old cluster).
############################################################################

my ($ret, $out, $err) = $old->psql('postgres', "\\set VERBOSITY verbose\nDROP EXTENSION pg_presplit");
isnt($ret, 0, 'DROP EXTENSION is refused while plans are in progress');
like($err, qr/ERROR:  2BP01: cannot drop extension pg_presplit while split plans or moves are in progress/,
	'with SQLSTATE 2BP01 (dependent objects still exist)');
like($err, qr/Split plan $p2 is cut_over: public\.a1_${p2}_0, public\.a1_${p2}_1 replaced public\.a1, which reverse capture keeps current\.\n\s*Split plan $p3 is switching: capture keeps shadows public\.a2_${p3}_0, public\.a2_${p3}_1 equal to public\.a2\./,
	'naming each plan and what its capture does');
like($err, qr/HINT:  Finish or undo each plan first: presplit\.cancel\(plan\) or presplit\.rollback\(plan\) before its cutover/,
	'and how to finish them');

# A session reading the switching plan's partition (routed at weight 40)
# while the extension goes: once its capture is gone, every read must come
# from the partition itself.
my $reader = $old->background_psql('postgres');
$reader->query_safe('PREPARE r AS SELECT balance FROM accounts WHERE id = $1');
my $reads = join(";\n", ('EXECUTE r(25001)') x 30);
$reader->query_safe($reads);
($ret, $out, $err) = $old->psql('postgres', 'DROP EXTENSION pg_presplit CASCADE');
is($ret, 0, 'DROP EXTENSION ... CASCADE drops it');
like($err, qr/WARNING:  dropping pg_presplit with split plans or moves in progress: capture triggers go with it.*\nDETAIL:  Split plan $p2 is cut_over/s,
	'with a warning naming the plans in progress');
$old->safe_psql('postgres', 'UPDATE accounts SET balance = -1 WHERE id = 25001');
my @read = split /\n/, $reader->query_safe($reads);
is(scalar(@read) . ' ' . join(',', grep { $_ ne '-1' } @read), '30 ',
	'no read goes to a shadow once capture is gone');
$reader->quit;
is( $old->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'presplit%')
       || ' ' || (SELECT count(*) FROM accounts)
       || ' ' || (SELECT count(*) FROM pg_class WHERE relname ~ '^a[0-4]_\d+_\d+$' AND NOT relispartition)}),
	"0 $rows 6", 'no capture trigger is left, the table is whole, the shadows of three plans stay as tables');

