# What the TAP tests (test/t/) share: a node with pg_presplit preloaded and
# its worker serving the database postgres, the two servers of the
# multi-server tests, and the pgbench script that moves money between
# accounts (the load of the switchover tests).
package PresplitTest;

use strict;
use warnings;
use Exporter 'import';
use IPC::Run;
use PostgreSQL::Test::Cluster;
use Test::More;

our @EXPORT = qw(presplit_node presplit_server_pair presplit_add_server create_accounts accounts_invariant_ok marked_transfer write_transfer_script
  start_pgbench start_rising_reads start_moving_reads pgbench_ok pgbench_counts partitions_of refused no_replication_left replication_objects drop_slot
  model_time model_hour set_maintenance_window create_hot_table start_hot_reads);

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

# Two started nodes for moves and splits onto another server: 'source', a
# presplit_node with logical replication and the given postgresql.conf
# lines, its presplit.publisher_conninfo pointing at itself; and 'remote', a
# plain node (init with %$remote_init, then $remote_settings). In the
# source's database postgres: pg_presplit, postgres_fdw, the server node2
# (the remote) and a user mapping for the current user. More servers:
# presplit_add_server.
sub presplit_server_pair
{
	my ($settings, $remote_init, $remote_settings) = @_;
	my $source = presplit_node('source',
		"wal_level = logical\nmax_wal_senders = 10\nmax_replication_slots = 10\n"
		  . ($settings // ''));
	$source->start;
	my $remote = PostgreSQL::Test::Cluster->new('remote');
	$remote->init(%{ $remote_init // {} });
	$remote->append_conf('postgresql.conf', $remote_settings) if $remote_settings;
	$remote->start;
	my $user = $source->safe_psql('postgres', 'SELECT current_user');
	$source->append_conf('postgresql.conf',
		"presplit.publisher_conninfo = 'host=" . $source->host . " port=" . $source->port
		  . " user=$user'");
	$source->reload;
	$source->safe_psql('postgres', 'CREATE EXTENSION pg_presplit; CREATE EXTENSION postgres_fdw;');
	server_for($source, 'node2', $remote);
	return ($source, $remote);
}

# One more started plain node named $name (init with %$init, then
# $settings), the server $name for it in the source's database postgres
# (after presplit_server_pair) and a user mapping for the current user.
sub presplit_add_server
{
	my ($source, $name, $init, $settings) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%{ $init // {} });
	$node->append_conf('postgresql.conf', $settings) if $settings;
	$node->start;
	server_for($source, $name, $node);
	return $node;
}

# The server $server for $node (connect_timeout set, as the README asks:
# the cutovers warm their sessions' connections up) and a user mapping for
# the current user.
sub server_for
{
	my ($source, $server, $node) = @_;
	my ($host, $port) = ($node->host, $node->port);
	$source->safe_psql('postgres', qq{
CREATE SERVER $server FOREIGN DATA WRAPPER postgres_fdw
    OPTIONS (host '$host', port '$port', dbname 'postgres', connect_timeout '10');
CREATE USER MAPPING FOR CURRENT_USER SERVER $server;
});
}

# The table the transfers move money in: accounts(id, balance) RANGE
# partitioned on id into $partitions partitions of equal width over ids 0 to
# $rows - 1 (accounts_0, accounts_1 ...), the primary key on each partition
# (not on the parent: PostgreSQL attaches no foreign table under a unique
# index), every balance 1000; managed unless manage => 0. Returns the total
# balance, the invariant the transfers keep.
sub create_accounts
{
	my ($node, $rows, $partitions, %options) = @_;
	my $width = int($rows / $partitions);
	my $sql = "CREATE TABLE accounts (id bigint NOT NULL, balance bigint NOT NULL) PARTITION BY RANGE (id);\n";
	$sql .= sprintf("CREATE TABLE accounts_%d PARTITION OF accounts (PRIMARY KEY (id)) FOR VALUES FROM (%d) TO (%d);\n",
		$_, $_ * $width, ($_ + 1) * $width)
	  for 0 .. $partitions - 1;
	$sql .= "INSERT INTO accounts SELECT g, 1000 FROM generate_series(0, $rows - 1) g;\n";
	$sql .= "SELECT presplit.manage('accounts');\n" if $options{manage} // 1;
	$node->safe_psql('postgres', $sql);
	return $rows * 1000;
}

# Checks the transfers' invariant through the parent on $node: $rows rows
# (each once, wherever it lives) and the total balance $total.
sub accounts_invariant_ok
{
	my ($node, $rows, $total, $name) = @_;
	return is($node->safe_psql('postgres', q{SELECT count(*) || ' ' || sum(balance) FROM accounts}),
		"$rows $total", $name);
}

# A transfer of 77 on $node from account $from to $to (the total unchanged),
# one transaction; returns $to's balance after it (a mark to look for on
# the other server), read here: a read routed to a remote target may miss
# the transfer for up to the lag (docs/multi_server.md, *The consistency
# contract*), all the more while the test breaks its replication.
sub marked_transfer
{
	my ($node, $from, $to) = @_;
	$node->safe_psql('postgres', "BEGIN; UPDATE accounts SET balance = balance + 77 WHERE id = $to;"
		  . " UPDATE accounts SET balance = balance - 77 WHERE id = $from; COMMIT");
	return $node->safe_psql('postgres',
		"SET presplit.routing = off; SELECT balance FROM accounts WHERE id = $to");
}

# Writes dir/transfer.sql for pgbench and returns its path: a transfer of 1
# between two accounts of accounts, then a read of the credited one. The
# total never changes. By default ids 0 to 199999, 80 % of the debited ones in
# 0-99999; or, with { debit => [lo, hi], credit => [lo, hi] }, the debited
# and credited ids drawn uniformly from those ranges, and the read only with
# read => 1.
sub write_transfer_script
{
	my ($dir, $ranges) = @_;
	my $path = "$dir/transfer.sql";
	my $script;
	if ($ranges)
	{
		my ($debit, $credit) = ($ranges->{debit}, $ranges->{credit});
		$script = "\\set a random($debit->[0], $debit->[1])\n"
		  . "\\set b random($credit->[0], $credit->[1])\n"
		  . "UPDATE accounts SET balance = balance + CASE WHEN id = :a THEN -1 ELSE 1 END\n"
		  . " WHERE id IN (:a, :b) AND :a <> :b;\n"
		  . ($ranges->{read} ? "SELECT balance FROM accounts WHERE id = :b;\n" : '');
	}
	else
	{
		$script = q{
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
	}
	open(my $fh, '>', $path) or die "could not write $path: $!";
	print $fh $script;
	close $fh;
	return $path;
}

# Starts pgbench in the background on $node's database postgres with the
# script $script ($clients clients, one thread, $seconds seconds, failed
# transactions retried); its output goes to $$out and $$err. Finish it with
# pgbench_ok.
sub start_pgbench
{
	my ($node, $script, $clients, $seconds, $out, $err) = @_;
	return IPC::Run::start(
		[ 'pgbench', '-n', '-c', $clients, '-j', '1', '-T', $seconds, '--max-tries=50',
		  '-f', $script, '-h', $node->host, '-p', $node->port, 'postgres' ],
		'>', $out, '2>', $err);
}

# Starts, in the background, reads by key of table $table's keys [$from,
# $to] on $node by two pgbench clients at rising rates: each rate of @$rates
# (per wall second) for 8 seconds, then $hold_rate for $hold_seconds (none
# without them). The prediction tests' load that crosses a threshold.
sub start_rising_reads
{
	my ($node, $dir, %a) = @_;
	open my $fh, '>', "$dir/rising.sql" or die $!;
	print $fh "\\set k random($a{from}, $a{to})\nSELECT v FROM $a{table} WHERE id = :k;\n";
	close $fh;
	my $pgbench = "pgbench -n -c 2 -j 1 -f $dir/rising.sql";
	my $connect = '-h ' . $node->host . ' -p ' . $node->port . ' postgres';
	my $rates = join(' ', @{ $a{rates} });
	my $hold = $a{hold_seconds}
	  ? "; $pgbench -R $a{hold_rate} -T $a{hold_seconds} $connect >/dev/null 2>&1" : '';
	return IPC::Run::start(
		[ 'bash', '-c',
			"for r in $rates; do $pgbench -R \$r -T 8 $connect >/dev/null 2>&1; done$hold" ]);
}

# Starts, in the background, reads of a hot key range moving up through the
# keys of table $table on $node: $steps + 1 steps of 2 seconds each, the
# range [$from + $step s, + $width) read $rate times a second by one pgbench
# client in step s. With $lo_file, each step writes its range's lower key
# there first (the test can tell where the range is).
sub start_moving_reads
{
	my ($node, $dir, %a) = @_;
	my $record = $a{lo_file} ? "echo \$lo > $a{lo_file}; " : '';
	my $last = $a{width} - 1;
	return IPC::Run::start(
		[ 'bash', '-c',
			"for s in \$(seq 0 $a{steps}); do lo=\$(($a{from} + $a{step} * s)); $record"
			  . "printf '\\\\set k random(%d, %d)\\nSELECT v FROM $a{table} WHERE id = :k;\\n' "
			  . "\$lo \$((lo + $last)) > $dir/moving.sql; "
			  . "pgbench -n -c 1 -R $a{rate} -T 2 -f $dir/moving.sql -h "
			  . $node->host . ' -p ' . $node->port
			  . " postgres >/dev/null 2>&1; done" ]);
}

# The predicted splits' table on $node: hot(id, v) RANGE partitioned on id,
# hot_0 (ids 0-99999) holding ids 0-19999, hot_1 (from 100000) 2000 rows,
# the primary key on each partition (a table with foreign partitions has no
# unique index of its own); ANALYZEd (a remote copy's estimate counts the
# partition's rows: pg_class.reltuples) and managed.
sub create_hot_table
{
	my ($node) = @_;
	$node->safe_psql('postgres', q{
CREATE TABLE hot (id bigint NOT NULL, v int NOT NULL DEFAULT 0) PARTITION BY RANGE (id);
CREATE TABLE hot_0 PARTITION OF hot (PRIMARY KEY (id)) FOR VALUES FROM (0) TO (100000);
CREATE TABLE hot_1 PARTITION OF hot (PRIMARY KEY (id)) FOR VALUES FROM (100000) TO (200000);
INSERT INTO hot (id, v) SELECT g, g % 7 FROM generate_series(0, 19999) g;
INSERT INTO hot (id) SELECT g FROM generate_series(100000, 101999) g;
ANALYZE hot;
SELECT presplit.manage('hot');
});
}

# The reads of hot_0's keys that cross the load threshold 0.1 at clock rate
# 1440 (144 per wall second): 10, 20, ... 250 per wall second, 8 s each,
# then 250 for 400 s (start_rising_reads).
sub start_hot_reads
{
	my ($node, $dir) = @_;
	return start_rising_reads($node, $dir, table => 'hot', from => 0, to => 19999,
		rates => [ map { 10 * $_ } 1 .. 25 ], hold_rate => 250, hold_seconds => 400);
}

# The model clock (presplit.clock_rate: $rate times faster than the wall
# since the server started): the SQL timestamptz expression $at on it, as SQL
# over pg_postmaster_start_time() aliased s.
sub model_time
{
	my ($at, $rate) = @_;
	return "(s + ($at - s) * $rate)";
}

# The model clock's hour of the day on $node now.
sub model_hour
{
	my ($node, $rate) = @_;
	return $node->safe_psql('postgres',
		"SELECT extract(hour FROM " . model_time('now()', $rate) . ")::int FROM pg_postmaster_start_time() s");
}

# Sets presplit.maintenance_window on $node to the hours $from to $to of the
# day (taken modulo 24) and reloads; returns the window as set.
sub set_maintenance_window
{
	my ($node, $from, $to) = @_;
	my $window = sprintf('%02d:00-%02d:00', $from % 24, $to % 24);
	$node->safe_psql('postgres', qq{
		ALTER SYSTEM SET presplit.maintenance_window = '$window';
		SELECT pg_reload_conf();});
	return $window;
}

# Waits for a pgbench started by start_pgbench and passes when it ended well,
# ran transactions and none failed. Returns the number it ran.
sub pgbench_ok
{
	my ($load, $out, $err, $name) = @_;
	$load->finish;
	my ($done, $failed) = pgbench_counts($$out);
	Test::More::ok($load->result == 0 && $done && !$failed,
		"pgbench ran " . ($done // 0) . " transactions $name, " . ($failed // 0) . ' failed')
	  or Test::More::diag("$$out\n$$err");
	return $done;
}

# The transactions pgbench's output says it ran, and those that failed.
sub pgbench_counts
{
	my ($out) = @_;
	my ($done) = $out =~ /number of transactions actually processed: (\d+)/;
	my ($failed) = $out =~ /number of failed transactions: (\d+)/;
	return ($done, $failed);
}

# The partitions of $parent on $node: 'relkind bound; ...' by name.
sub partitions_of
{
	my ($node, $parent) = @_;
	return $node->safe_psql('postgres', qq{
SELECT string_agg(c.relkind::text || ' ' || pg_get_expr(c.relpartbound, c.oid), '; ' ORDER BY c.relname)
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = '$parent'::regclass});
}

# Passes when $sql fails on $node with SQLSTATE $state and a message
# matching $pattern.
sub refused
{
	my ($node, $sql, $state, $pattern, $name) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n$sql");
	Test::More::like($err, qr/ERROR:  $state: .*$pattern/s, $name);
}

# Waits until no publication, replication slot or subscription is left on
# any of @nodes (the worker drops them in the background), then passes when
# none is, naming what is left otherwise.
sub no_replication_left
{
	my ($name, @nodes) = @_;
	for my $node (@nodes)
	{
		$node->poll_query_until('postgres', q{
SELECT NOT EXISTS (SELECT FROM pg_replication_slots) AND NOT EXISTS (SELECT FROM pg_publication)
   AND NOT EXISTS (SELECT FROM pg_subscription)});
	}
	Test::More::is(join(' | ', map { replication_objects($_) } @nodes),
		join(' | ', ('publications: ; slots: ; subscriptions: ') x @nodes),
		"$name: no publication, replication slot or subscription on any server");
}

# The publications, replication slots and subscriptions of a node's database
# postgres, by name: 'publications: a,b; slots: ...; subscriptions: ...'.
sub replication_objects
{
	my ($node) = @_;
	return $node->safe_psql('postgres', q{
SELECT 'publications: ' || coalesce((SELECT string_agg(pubname, ',' ORDER BY pubname) FROM pg_publication), '')
    || '; slots: ' || coalesce((SELECT string_agg(slot_name, ',' ORDER BY slot_name) FROM pg_replication_slots), '')
    || '; subscriptions: ' || coalesce((SELECT string_agg(subname, ',' ORDER BY subname) FROM pg_subscription), '')});
}

# Drops a replication slot once, ending the walsender that holds it (its
# subscriber reconnects after wal_retrieve_retry_interval: tried again until
# the slot is free). Once only: a slot of that name the worker creates again
# right after (a re-sync) is left alone.
sub drop_slot
{
	my ($node, $slot) = @_;
	$node->safe_psql('postgres', qq{
DO \$\$
BEGIN
    WHILE EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = '$slot') LOOP
        PERFORM pg_terminate_backend(active_pid) FROM pg_replication_slots
          WHERE slot_name = '$slot' AND active;
        BEGIN
            PERFORM pg_drop_replication_slot('$slot');
            RETURN;
        EXCEPTION WHEN object_in_use THEN
            PERFORM pg_sleep(0.01);
        END;
    END LOOP;
END
\$\$});
}

1;
