# Without shared_preload_libraries the library refuses to load, clearly.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More tests => 7;

my $node = PostgreSQL::Test::Cluster->new('no_preload');
$node->init;
$node->start;

my ($ret, $stdout, $stderr) = $node->psql('postgres', 'CREATE EXTENSION pg_presplit');
isnt($ret, 0, 'CREATE EXTENSION fails without preload');
like($stderr, qr/ERROR:  pg_presplit must be loaded via shared_preload_libraries/,
	'with a clear message');
like($stderr, qr/HINT:  Add pg_presplit to shared_preload_libraries/, 'and a hint');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_extension WHERE extname = 'pg_presplit'"),
	'0', 'nothing was installed');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_namespace WHERE nspname = 'presplit'"),
	'0', 'not even the schema');

($ret, $stdout, $stderr) = $node->psql('postgres', "LOAD 'pg_presplit'");
like($stderr, qr/must be loaded via shared_preload_libraries/, 'LOAD refuses too');

# The same cluster, preloaded: it works.
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'pg_presplit'\n");
$node->restart;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_presplit');
is($node->safe_psql('postgres',
		"SELECT extversion FROM pg_extension WHERE extname = 'pg_presplit'"),
	'0.1.1', 'CREATE EXTENSION works once preloaded');

$node->stop;
