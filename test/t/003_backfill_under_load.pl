# A write workload (pgbench, 4 clients) runs during the backfill of 230k rows:
# inserts, updates, deletes, and UPDATEs that move rows across split points,
# out of and into the source. Afterwards every shadow equals its slice of the
# source (EXCEPT ALL both ways) and the plan passed its own verification.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PresplitTest;
use Test::More tests => 7;

my $node = presplit_node('load', qq{
presplit.naptime = 100
presplit.backfill_batch_size = 2000
presplit.backfill_max_rows_per_second = 15000
max_connections = 30
});
$node->start;

# p0 holds 1..230000 (source); p1 holds 400000..409999 (rows that move in).
$node->safe_psql('postgres', q{
CREATE EXTENSION pg_presplit;
CREATE TABLE accounts (id bigint PRIMARY KEY, balance int NOT NULL, note text)
    PARTITION BY RANGE (id);
CREATE INDEX accounts_balance ON accounts (balance);
CREATE TABLE p0 PARTITION OF accounts FOR VALUES FROM (0) TO (300000);
CREATE TABLE p1 PARTITION OF accounts FOR VALUES FROM (300000) TO (600000);
INSERT INTO accounts SELECT g, 0, 'row ' || g FROM generate_series(1, 230000) g;
INSERT INTO accounts SELECT g, 0, 'outside' FROM generate_series(400000, 409999) g;
ANALYZE accounts;
SELECT presplit.manage('accounts');
});

# Collision-free by construction: each script owns its key ranges.
my %scripts = (
	'update@4' => q{
\set id random(1, 230000)
UPDATE accounts SET balance = balance + 1 WHERE id = :id;
},
	'insert_or_update@2' => q{
\set id random(100000, 199999)
INSERT INTO accounts VALUES (:id, 0, 'inserted') ON CONFLICT (id) DO UPDATE SET balance = accounts.balance - 1;
},
	'delete@2' => q{
\set id random(100000, 199999)
DELETE FROM accounts WHERE id = :id;
},
	'move_across_split_points@1' => q{
\set id random(1, 50000)
UPDATE accounts SET id = id + 230000 WHERE id = :id;
},
	'move_out@1' => q{
\set id random(50001, 99999)
UPDATE accounts SET id = id + 300000 WHERE id = :id;
},
	'move_in@1' => q{
\set id random(400000, 409999)
UPDATE accounts SET id = id - 400000 + 280001 WHERE id = :id;
},
);
my @files;
for my $name (sort keys %scripts) {
	my ($base, $weight) = split /@/, $name;
	my $file = "${PostgreSQL::Test::Utils::tmp_check}/$base.sql";
	open my $fh, '>', $file or die "cannot write $file: $!";
	print $fh $scripts{$name};
	close $fh;
	push @files, '-f', "$file\@$weight";
}

my $plan = $node->safe_psql('postgres',
	"SELECT presplit.prepare_split('p0', '{100000,200000}')");
is($plan, '1', 'plan created');

$node->command_ok(
	[ 'pgbench', '-n', '-c', '4', '-j', '2', '-T', '12', @files, '-h', $node->host,
	  '-p', $node->port, 'postgres' ],
	'pgbench write workload ran during the backfill');

is($node->safe_psql('postgres', "SELECT state FROM presplit.plans WHERE id = 1"),
	'backfilling', 'the backfill was still running when the workload ended');

is($node->safe_psql('postgres', "SELECT presplit.wait(1, 'synced', '5 min')"),
	'synced', 'plan reached synced (verification passed)');

my $check = q{
DO $$
DECLARE
    s record;
    missing bigint;
    extra bigint;
    range text;
    result text := '';
BEGIN
    FOR s IN SELECT * FROM presplit.shadow WHERE plan_id = 1 ORDER BY ordinal LOOP
        range := concat_ws(' AND ', 'true', 'id >= ' || s.lower_value, 'id < ' || s.upper_value);
        EXECUTE format('SELECT count(*) FROM (SELECT * FROM ONLY p0 WHERE %s EXCEPT ALL SELECT * FROM %s) d', range, s.relation) INTO missing;
        EXECUTE format('SELECT count(*) FROM (SELECT * FROM %s EXCEPT ALL SELECT * FROM ONLY p0 WHERE %s) d', s.relation, range) INTO extra;
        result := result || format('shadow %s: %s missing, %s extra; ', s.ordinal, missing, extra);
    END LOOP;
    RAISE NOTICE '%', result;
END;
$$;
};
my ($ret, $stdout, $stderr) = $node->psql('postgres', $check);
like($stderr,
	qr/shadow 0: 0 missing, 0 extra; shadow 1: 0 missing, 0 extra; shadow 2: 0 missing, 0 extra;/,
	'every shadow equals its slice of the source');

# The workload did what it claims: rows moved across, out and in.
my $moved = $node->safe_psql('postgres', q{
SELECT (SELECT count(*) > 0 FROM p0 WHERE id BETWEEN 230001 AND 280000),
       (SELECT count(*) > 0 FROM p1 WHERE id BETWEEN 350001 AND 399999),
       (SELECT count(*) > 0 FROM p0 WHERE id BETWEEN 280001 AND 290000)
});
is($moved, 't|t|t', 'rows moved across split points, out of and into the source');
ok($node->safe_psql('postgres',
		"SELECT sum(rows_copied) >= 150000 FROM presplit.progress WHERE plan_id = 1") eq 't',
	'the backfill copied the rows');

$node->stop;
