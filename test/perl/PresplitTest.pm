# What the TAP tests (test/t/) share: a node with pg_presplit preloaded and
# its worker serving the database postgres, and the pgbench script that moves
# money between accounts (the load of the switchover tests).
package PresplitTest;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;

our @EXPORT = qw(presplit_node write_transfer_script);

# A new, initialized (not started) node: pg_presplit preloaded, its worker
# serving the database postgres, then the given postgresql.conf lines.
sub presplit_node
{
	my ($name, $settings) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf',
		"shared_preload_libraries = 'pg_presplit'\n"
		  . "presplit.database = 'postgres'\n"
		  . ($settings // ''));
	return $node;
}

# Writes dir/transfer.sql for pgbench and returns its path: a transfer of 1
# between two accounts of accounts (ids 0 to 199999; 80 % of the debited ones
# in 0-99999), then a read of the credited one. The total never changes.
sub write_transfer_script
{
	my ($dir) = @_;
	my $path = "$dir/transfer.sql";
	open(my $fh, '>', $path) or die "could not write $path: $!";
	print $fh q{
\set hot random(1, 100)
\if :hot <= 80
\set a random(0, 99999)
\else
\set a random(100000, 199999)
\endif
\set b random(0, 199999)
UPDATE accounts SET balance = balance + CASE WHEN id = :a THEN -1 ELSE 1 END
 WHERE id IN (:a, :b) AND :a <> :b;
SELECT balance FROM accounts WHERE id = :b;
};
	close $fh;
	return $path;
}

1;
