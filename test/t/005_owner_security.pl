# The worker never runs a table owner's code as superuser: an index
# expression calling a function owned by a non-superuser runs as that owner
# during the backfill, and capture runs it as the owner too.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PresplitTest;
use Test::More tests => 5;

my $node = presplit_node('security', qq{
presplit.naptime = 100
presplit.backfill_batch_size = 100
log_min_messages = log
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_presplit;
CREATE ROLE alice LOGIN;
CREATE ROLE bob LOGIN;
GRANT CREATE ON SCHEMA public TO alice;
});
$node->safe_psql('postgres', q{
SET ROLE alice;
-- Reports who evaluates it; immutable, as an index expression must be.
CREATE FUNCTION whoami_key(v int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RAISE LOG 'index function ran as %', current_user;
    RETURN v;
END;
$$;
CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL) PARTITION BY RANGE (id);
CREATE INDEX items_v ON items (whoami_key(v));
CREATE TABLE items_0 PARTITION OF items FOR VALUES FROM (0) TO (1000);
INSERT INTO items SELECT g, g FROM generate_series(1, 500) g;
GRANT SELECT, INSERT, UPDATE, DELETE ON items TO bob;
SELECT presplit.manage('items');
SELECT presplit.prepare_split('items_0', '{250}');
});
is($node->safe_psql('postgres', "SELECT presplit.wait(1, 'synced', '2 min')"),
	'synced', 'backfill completed');

# bob writes through the parent: capture applies it to the shadows as alice.
$node->safe_psql('postgres', q{
SET ROLE bob;
INSERT INTO items VALUES (700, 700);
UPDATE items SET v = v + 1 WHERE id = 10;
});

my $log = slurp_file($node->logfile);
my %ran_as;
$ran_as{$1}++ while $log =~ /index function ran as (\w+)/g;
note(join(', ', map { "$_: $ran_as{$_}" } sort keys %ran_as));
ok(($ran_as{alice} // 0) >= 500, 'the backfill evaluated the index expression as alice');
ok(!exists $ran_as{postgres}, 'never as the superuser');
ok(exists $ran_as{bob}, "bob's own writes evaluate the source's index as bob (PostgreSQL's rule)");

is($node->safe_psql('postgres', q{
SELECT count(*) FROM (SELECT * FROM items_0_1_0 UNION ALL SELECT * FROM items_0_1_1) s}),
	'501', 'shadows hold every row, including bob\'s');

$node->stop;
