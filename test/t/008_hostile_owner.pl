# The automatic path with hostile names, as a table owner who is not a
# superuser: split_partition with the ramp on, the worker backfills, ramps
# and cuts over; the owner rolls back, splits again (the worker again) and
# finalizes. Meanwhile a writer applies the same inserts, updates, moves
# across the split point, deletes and TRUNCATEs to the table and to an
# unmanaged copy, and checks every read of the table (routed by weight while
# switching) against the copy.
#
# What ran as whom: the server log's %u is the session user, and the
# worker's session user is the bootstrap superuser whatever role it switches
# to, so the log of statements cannot tell. Instead an event trigger (owned
# by the superuser, SECURITY INVOKER) logs current_user for every DDL command
# and dropped object, in every backend the worker's included: every one that
# touches the owner's schema must have run as the owner. And at the end the
# owner has no privilege it did not have, and the table equals its copy.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PresplitTest;
use IPC::Run;
use Test::More tests => 29;

my $node = presplit_node('hostile', qq{
presplit.naptime = 100
presplit.backfill_batch_size = 100
presplit.ramp_interval = '200ms'
presplit.ramp_step = 25
presplit.ramp_min_statements = 0
# Judge the ramp on errors only: latency on a loaded test machine is noise.
presplit.ramp_max_latency_ratio = 1000
presplit.ramp_min_latency_increase = 60000
log_line_prefix = '%m [%p] %b %u: '
});
$node->start;

my $owner = 'tap hostile"owner$$';
my $marker = 'tapmark';
# The owner's objects. The schema carries the marker the audit looks for.
my $schema = qq{"tapmark \$capture\$'""; --"};
my $table = qq{$schema."t\$\$'""/*"};
my $part = qq{$schema."t\$\$'""/*_0; --"};
my $key = q{"k$capture$"""};
my $n = q{"new"};
my $v = q{"v'; --"};
my $key_of = qq{$schema."key\$of"};
my $point = q{m$capture$; ALTER ROLE "tap hostile""owner$$" SUPERUSER; SELECT $capture$};

# A string as an SQL literal.
sub lit {
	my ($text) = @_;
	$text =~ s/'/''/g;
	return "'$text'";
}
my ($table_lit, $part_lit, $point_lit) = (lit($table), lit($part), lit($point));

sub as_owner {
	my ($sql) = @_;
	return $node->safe_psql('postgres', $sql, extra_params => [ '-U', $owner ]);
}

# What the owner may do, as the superuser sees it.
my $privileges_sql = q{
SELECT string_agg(item || '=' || value, E'\n' ORDER BY item COLLATE "C") FROM (
    SELECT 'attributes' AS item,
           concat_ws(',', rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls) AS value
      FROM pg_roles WHERE rolname = 'tap hostile"owner$$'
    UNION ALL
    SELECT 'memberships', count(*)::text FROM pg_auth_members
     WHERE member = '"tap hostile""owner$$"'::regrole OR roleid = '"tap hostile""owner$$"'::regrole
    UNION ALL
    SELECT 'owns in presplit or pg_catalog',
           ((SELECT count(*) FROM pg_class WHERE relowner = '"tap hostile""owner$$"'::regrole
                AND relnamespace IN ('presplit'::regnamespace, 'pg_catalog'::regnamespace))
          + (SELECT count(*) FROM pg_proc WHERE proowner = '"tap hostile""owner$$"'::regrole
                AND pronamespace IN ('presplit'::regnamespace, 'pg_catalog'::regnamespace))
          + (SELECT count(*) FROM pg_type WHERE typowner = '"tap hostile""owner$$"'::regrole
                AND typnamespace IN ('presplit'::regnamespace, 'pg_catalog'::regnamespace)))::text
    UNION ALL
    SELECT 'privileges on ' || c.oid::regclass,
           string_agg(p, ',' ORDER BY p) FILTER (WHERE has_table_privilege('"tap hostile""owner$$"'::regrole, c.oid, p))
      FROM pg_class c, unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p
     WHERE c.relnamespace = 'presplit'::regnamespace AND c.relkind IN ('r', 'p', 'S')
     GROUP BY c.oid
    UNION ALL
    SELECT 'execute', string_agg(f.oid::regprocedure::text, ',' ORDER BY f.oid::regprocedure::text)
      FROM pg_proc f WHERE f.pronamespace = 'presplit'::regnamespace
       AND has_function_privilege('"tap hostile""owner$$"'::regrole, f.oid, 'EXECUTE')
) s};

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_presplit;
CREATE ROLE "tap hostile""owner$$" LOGIN;
GRANT CREATE ON DATABASE postgres TO "tap hostile""owner$$";
-- The audit: who runs each DDL command, in which backend.
CREATE FUNCTION audit_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $audit$
DECLARE
    r record;
BEGIN
    IF tg_event = 'sql_drop' THEN
        FOR r IN SELECT * FROM pg_event_trigger_dropped_objects() LOOP
            RAISE LOG 'presplit-audit: % % % as % (session %)',
                tg_tag, r.object_type, r.object_identity, current_user, session_user;
        END LOOP;
    ELSE
        FOR r IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP
            RAISE LOG 'presplit-audit: % % % as % (session %)',
                tg_tag, r.object_type, r.object_identity, current_user, session_user;
        END LOOP;
    END IF;
END;
$audit$;
CREATE EVENT TRIGGER audit_ddl_end ON ddl_command_end EXECUTE FUNCTION audit_ddl();
CREATE EVENT TRIGGER audit_sql_drop ON sql_drop EXECUTE FUNCTION audit_ddl();
});
my $privileges_before = $node->safe_psql('postgres', $privileges_sql);
like($privileges_before, qr/^attributes=f,f,f,f,f$/m,
	'the owner starts without any role attribute');

# The table, its copy, and the writer (as the owner).
as_owner(qq{
CREATE SCHEMA $schema;
CREATE TABLE $table (
    $key text COLLATE "C" PRIMARY KEY,
    $n int NOT NULL,
    $v int NOT NULL DEFAULT 0 CONSTRAINT "c\$capture\$'""" CHECK ($v >= 0)
) PARTITION BY RANGE ($key);
CREATE INDEX "i\$\$""'--" ON $table ($v);
CREATE TABLE $part PARTITION OF $table FOR VALUES FROM ('a') TO ('z');
CREATE FUNCTION $key_of(i int) RETURNS text IMMUTABLE LANGUAGE sql
    AS \$f\$ SELECT CASE WHEN i < 500 THEN 'b' ELSE 'p' END || lpad(i::text, 4, '0')
                    || E'''"\$\$;--/*\\\\ é \$capture\$' \$f\$;
CREATE SCHEMA tools;
CREATE TABLE tools.copy (LIKE $table INCLUDING DEFAULTS);
CREATE TABLE tools.ctl (pause boolean NOT NULL, paused boolean NOT NULL, stop boolean NOT NULL);
INSERT INTO tools.ctl VALUES (false, false, false);
CREATE TABLE tools.seen (state text PRIMARY KEY, iterations bigint NOT NULL);
INSERT INTO $table ($key, $n, $v) SELECT $key_of(i), i, i FROM generate_series(0, 995, 5) i;
INSERT INTO tools.copy ($key, $n, $v) SELECT $key_of(i), i, i FROM generate_series(0, 995, 5) i;
SELECT presplit.manage($table_lit);
-- One write (or TRUNCATE) per transaction to the table and the copy alike,
-- until told to stop; every read of the table must match the copy.
CREATE PROCEDURE tools.churn(source regclass) LANGUAGE plpgsql AS \$churn\$
DECLARE
    i bigint := 0;
    k int;
    m int;
    in_table int;
    in_copy int;
    lowest regclass;
    state text;
    c record;
BEGIN
    LOOP
        SELECT * INTO c FROM tools.ctl;
        EXIT WHEN c.stop;
        IF c.pause THEN
            UPDATE tools.ctl SET paused = true;
            COMMIT;
            PERFORM pg_sleep(0.01);
            CONTINUE;
        END IF;
        UPDATE tools.ctl SET paused = false WHERE paused;
        i := i + 1;
        state := coalesce((SELECT p.state FROM presplit.plans p WHERE p.source = churn.source
                              AND p.state NOT IN ('finalized', 'rolled_back', 'cancelled', 'failed')),
                          'none');
        BEGIN
            k := floor(random() * 1000)::int;
            m := 999 - k;
            SELECT $v INTO in_table FROM $table WHERE $key = $key_of(k);
            SELECT $v INTO in_copy FROM tools.copy WHERE $key = $key_of(k);
            IF in_table IS DISTINCT FROM in_copy THEN
                RAISE EXCEPTION 'key_of(%): % in the table, % in the copy (plan %)', k, in_table, in_copy, state;
            END IF;
            IF mod(i, 400) = 0 THEN
                TRUNCATE $table;
                TRUNCATE tools.copy;
                INSERT INTO $table ($key, $n, $v) SELECT $key_of(j), j, j FROM generate_series(0, 995, 5) j;
                INSERT INTO tools.copy ($key, $n, $v) SELECT $key_of(j), j, j FROM generate_series(0, 995, 5) j;
            ELSIF mod(i, 400) = 200 THEN
                SELECT tableoid::regclass INTO lowest FROM $table ORDER BY $key LIMIT 1;
                IF lowest IS NOT NULL THEN
                    EXECUTE format('DELETE FROM tools.copy WHERE %I IN (SELECT %I FROM %s)',
                                   'k\$capture\$"', 'k\$capture\$"', lowest);
                    EXECUTE format('TRUNCATE %s', lowest);
                END IF;
            ELSIF in_copy IS NULL THEN
                INSERT INTO $table ($key, $n, $v) VALUES ($key_of(k), k, k);
                INSERT INTO tools.copy ($key, $n, $v) VALUES ($key_of(k), k, k);
            ELSIF mod(i, 3) = 0 THEN
                UPDATE $table SET $v = $v + 1 WHERE $key = $key_of(k);
                UPDATE tools.copy SET $v = $v + 1 WHERE $key = $key_of(k);
            ELSIF mod(i, 3) = 1 THEN
                DELETE FROM $table WHERE $key = $key_of(k);
                DELETE FROM tools.copy WHERE $key = $key_of(k);
            ELSIF NOT EXISTS (SELECT FROM tools.copy WHERE $key = $key_of(m)) THEN
                -- across the split point
                UPDATE $table SET ($key, $n) = ($key_of(m), m) WHERE $key = $key_of(k);
                UPDATE tools.copy SET ($key, $n) = ($key_of(m), m) WHERE $key = $key_of(k);
            END IF;
            INSERT INTO tools.seen VALUES (state, 1)
                ON CONFLICT ON CONSTRAINT seen_pkey DO UPDATE SET iterations = seen.iterations + 1;
        EXCEPTION WHEN deadlock_detected THEN
            NULL;   -- with a swap's locks: the next iteration goes on
        END;
        COMMIT;
        PERFORM pg_sleep(0.005);
    END LOOP;
END;
\$churn\$;
});

my ($churn_out, $churn_err) = ('', '');
my $churn = IPC::Run::start(
	[ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-U', $owner, '-d', $node->connstr('postgres'),
	  '-c', "CALL tools.churn($part_lit)" ],
	'>', \$churn_out, '2>', \$churn_err,
	IPC::Run::timeout(3 * $PostgreSQL::Test::Utils::timeout_default));

sub churn_alive {
	my ($name) = @_;
	ok($churn->pumpable, "$name: the writer is still writing") or diag($churn_err);
}

# Stops the writer between two transactions (to compare), or lets it go on.
sub pause_churn {
	as_owner('UPDATE tools.ctl SET pause = true, paused = false');
	$node->poll_query_until('postgres', 'SELECT paused FROM tools.ctl')
	  or die "the writer did not pause: $churn_err";
}

sub resume_churn {
	as_owner('UPDATE tools.ctl SET pause = false');
}

sub differences {
	my ($a, $b) = @_;
	return as_owner(qq{
SELECT (SELECT count(*) FROM (TABLE $a EXCEPT ALL TABLE $b) x)
     + (SELECT count(*) FROM (TABLE $b EXCEPT ALL TABLE $a) y)});
}

sub layout {
	return as_owner(qq{
SELECT string_agg(pg_get_expr(c.relpartbound, c.oid), ' | ' ORDER BY c.relname COLLATE "C")
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = ${table_lit}::regclass});
}

my $old_layout = layout();
is($old_layout, q{FOR VALUES FROM ('a') TO ('z')}, 'one partition to split');
sleep 1;

# 1. The worker backfills, ramps and cuts over.
my $plan = as_owner("SET check_function_bodies = off; SELECT presplit.split_partition($part_lit, ARRAY[$point_lit])");
is(as_owner("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"), 'f',
	'the split point did not make the owner superuser');
is(as_owner("SELECT presplit.wait($plan, 'cut_over', '3 min')"), 'cut_over',
	'the worker backfilled, ramped and cut over');
is(as_owner(qq{SELECT string_agg(split_part(detail, ';', 1), ', ' ORDER BY id) FROM presplit.events
                WHERE plan_id = $plan AND kind = 'weight'}),
	'new channel 0 -> 25 (ramp), new channel 25 -> 50 (ramp), new channel 50 -> 75 (ramp), '
	  . 'new channel 75 -> 100 (ramp)',
	'the ramp stepped to 100')
  or diag(as_owner("SELECT string_agg(kind || ': ' || coalesce(detail, ''), E'\\n' ORDER BY id) FROM presplit.events WHERE plan_id = $plan"));
my $split_layout = "FOR VALUES FROM ('a') TO ($point_lit) | FOR VALUES FROM ($point_lit) TO ('z')";
is(layout(), $split_layout, 'the new partitions replaced the old one');
sleep 1;
churn_alive('after the cutover');
pause_churn();
is(differences($table, 'tools.copy'), '0', 'after the cutover the table equals its copy');
is(differences($part, 'tools.copy'), '0', 'reverse capture kept the old partition equal to it too');
resume_churn();
sleep 1;

# 2. Rollback by the owner, then the split again, and finalize.
as_owner("SELECT presplit.rollback($plan)");
is(layout(), $old_layout, 'rollback restored the old partition');
sleep 1;
$plan = as_owner("SET check_function_bodies = off; SELECT presplit.split_partition($part_lit, ARRAY[$point_lit])");
is(as_owner("SELECT presplit.wait($plan, 'cut_over', '3 min')"), 'cut_over',
	'split again: the worker ramped and cut over');
is(layout(), $split_layout, 'the new partitions replaced the old one again');
sleep 1;
as_owner("SELECT presplit.finalize($plan)");
is(as_owner("SELECT to_regclass($part_lit) IS NULL"), 't', 'finalize dropped the old partition');
sleep 1;

churn_alive('at the end');
as_owner('UPDATE tools.ctl SET stop = true');
ok($churn->finish && $churn_err eq '', 'the writer saw no error') or diag($churn_err);
my %seen = split /[|\n]/, as_owner('SELECT state, iterations FROM tools.seen');
note(join(', ', map { "$_: $seen{$_}" } sort keys %seen));
ok(($seen{switching} // 0) > 0 && ($seen{cut_over} // 0) > 0 && ($seen{none} // 0) > 0,
	'it wrote and read while the plans were switching, after the cutovers, and with no plan');
is(differences($table, 'tools.copy'), '0', 'the table equals its copy');
ok(as_owner("SELECT count(*) FROM $table") > 0, 'and is not empty');

# 3. Nothing ran as the superuser, and the owner gained nothing.
my @audit = grep { /presplit-audit: .*\Q$marker\E/ } split /\n/, slurp_file($node->logfile);
my @not_owner = grep { !/ as \Q$owner\E \(session / } @audit;
ok(@audit > 0, scalar(@audit) . ' DDL commands on the owner\'s objects were logged');
is(scalar(@not_owner), 0, 'every one ran as the owner') or diag(join("\n", @not_owner));
for my $what ('CREATE TABLE table', 'CREATE TRIGGER trigger', 'ALTER TABLE table',
	'DROP TRIGGER trigger', 'DROP TABLE table')
{
	ok((grep { /presplit-audit: \Q$what\E / } @audit), "$what on the owner's objects, as the owner");
}
# The automatic cutovers: in the worker (a plan worker does them), whose
# session user is the superuser.
my $superuser = $node->safe_psql('postgres', 'SELECT rolname FROM pg_roles WHERE oid = 10');
for my $what ("ALTER TABLE table $table", 'CREATE TRIGGER trigger', 'DROP TRIGGER trigger')
{
	ok((grep { /pg_presplit (?:plan )?worker .*presplit-audit: \Q$what\E .*as \Q$owner\E \(session \Q$superuser\E\)/ } @audit),
		"the worker's $what ran as the owner");
}
is($node->safe_psql('postgres', $privileges_sql), $privileges_before,
	'the owner has no privilege it did not have before');

$node->stop;
