# What the pg_presplit client and the Prometheus exporter show of the
# predictor, with and without it: the real prometheus-postgres-exporter with
# prometheus/queries.yaml against a throwaway cluster with a plan switching
# (per partition load and size, plan state, copy progress, channel weights
# and latencies, worker heartbeat), then the predictor's interface filled by
# test/t/predictor_stand_in.sql (a known forecast) for the forecast metrics
# and the client's forecast chart (terminal, --json, --svg).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PresplitTest;
use IPC::Run;
use HTTP::Tiny;
use JSON::PP;
use Test::More tests => 20;

my $bindir = `pg_config --bindir`;
chomp $bindir;
my $client = "$bindir/pg_presplit";
my $testdir = $ENV{TESTDIR} // '.';

# The predictor off: no forecasts until the stand-in below gives known ones.
my $node = presplit_node('metrics', qq{
presplit.naptime = 100
presplit.analyzer_sample_every = 1
presplit.predict = off
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION pg_presplit;
CREATE TABLE accounts (id bigint PRIMARY KEY, balance bigint NOT NULL) PARTITION BY RANGE (id);
CREATE TABLE accounts_0 PARTITION OF accounts FOR VALUES FROM (0) TO (20000);
CREATE TABLE accounts_1 PARTITION OF accounts FOR VALUES FROM (20000) TO (40000);
INSERT INTO accounts SELECT g, 1000 FROM generate_series(0, 39999) g;
ANALYZE accounts;
SELECT presplit.manage('accounts');
});
my $reads = join('', map { "SELECT balance FROM accounts WHERE id = " . (($_ * 37) % 20000) . ";\n" } 1 .. 300);
$node->safe_psql('postgres', $reads);

# A plan switching without the ramp, at weight 30, with routed reads on both channels.
my $plan = $node->safe_psql('postgres', q{SELECT presplit.split_partition('accounts_0', '{10000}', ramp => false)});
$node->safe_psql('postgres', "SELECT presplit.wait($plan, 'switching', '2 min')");
$node->safe_psql('postgres', "SELECT presplit.set_weight($plan, 30)");
$node->safe_psql('postgres', $reads);

# --- the exporter ------------------------------------------------------------
my $port = PostgreSQL::Test::Cluster::get_free_port();
my $exporter_log = PostgreSQL::Test::Utils::tempdir . '/exporter.log';
my $exporter;
{
	local $ENV{DATA_SOURCE_NAME} =
	  'host=' . $node->host . ' port=' . $node->port . ' user=postgres dbname=postgres sslmode=disable';
	$exporter = IPC::Run::start(
		[ 'prometheus-postgres-exporter', "--extend.query-path=$testdir/prometheus/queries.yaml",
		  "--web.listen-address=127.0.0.1:$port", '--disable-settings-metrics' ],
		'>', $exporter_log, '2>&1');
}
my $http = HTTP::Tiny->new(timeout => 30);
# Scrapes until the exporter answers with pg_presplit's metrics (at most 60 s).
sub scrape {
	for (1 .. 300) {
		my $response = $http->get("http://127.0.0.1:$port/metrics");
		return $response->{content} if $response->{success} && $response->{content} =~ /^presplit_worker_up\{/m;
		select(undef, undef, undef, 0.2);
	}
	diag(slurp_file($exporter_log));
	return '';
}
# The value of one series, found by its name and labels (any order, others allowed).
sub value {
	my ($metrics, $name, %labels) = @_;
	for my $line (split /\n/, $metrics) {
		next unless $line =~ /^\Q$name\E\{([^}]*)\} (\S+)$/;
		my ($labels, $value) = ($1, $2);
		next if grep { $labels !~ /(^|,)\Q$_\E="\Q$labels{$_}\E"/ } keys %labels;
		return $value;
	}
	return undef;
}

my $metrics = scrape();
like($metrics, qr/^pg_up 1$/m, 'the exporter reached the cluster');
like($metrics, qr/^pg_exporter_last_scrape_error 0$/m, 'every query of queries.yaml ran, the forecast query too (no forecast yet)');
ok(value($metrics, 'presplit_partition_total_bytes', parent => 'accounts', partition => 'accounts_1') > 0,
	'partition size, labelled with table and partition');
ok(value($metrics, 'presplit_partition_reads', parent => 'accounts', partition => 'accounts_0') >= 300
	  && $metrics =~ /^# TYPE presplit_partition_reads counter$/m,
	'partition reads: a counter, with the analyzer\'s count');
ok(defined value($metrics, 'presplit_partition_per_second_now', partition => 'accounts_0')
	  && defined value($metrics, 'presplit_partition_load_share', partition => 'accounts_0'),
	'partition load: per second and share');
is(value($metrics, 'presplit_plan_active', plan_id => $plan, parent => 'accounts', source => 'accounts_0',
		state => 'switching', origin => 'manual'), '1', 'plan: active, labelled with its state');
is(value($metrics, 'presplit_plan_new_channel_weight', plan_id => $plan), '30', 'plan: new channel weight');
is(value($metrics, 'presplit_plans_count', state => 'switching'), '1', 'plans counted by state');
is(value($metrics, 'presplit_copy_rows_copied', plan_id => $plan, shadow => "accounts_0_${plan}_0", phase => 'done'),
	'10000', 'copy progress per shadow, with its phase');
is(value($metrics, 'presplit_channel_weight', plan_id => $plan, source => 'accounts_0', channel => 'new'), '30',
	'channel weight per channel');
ok(value($metrics, 'presplit_channel_statements', plan_id => $plan, channel => 'old')
	  + value($metrics, 'presplit_channel_statements', plan_id => $plan, channel => 'new') > 0
	  && defined value($metrics, 'presplit_channel_p95_ms', plan_id => $plan, channel => 'old'),
	'channel reads and latency');
ok(value($metrics, 'presplit_worker_up') == 1 && value($metrics, 'presplit_worker_heartbeat_age_seconds') < 60,
	'worker up, heartbeat age');
unlike($metrics, qr/^presplit_forecast_/m, 'no forecast metrics while the predictor has none');

# --- with the predictor's interface -----------------------------------------
$node->safe_psql('postgres', slurp_file("$testdir/test/t/predictor_stand_in.sql"));
$metrics = scrape();
like($metrics, qr/^pg_exporter_last_scrape_error 0$/m, 'with the predictor, every query still runs');
is(value($metrics, 'presplit_forecast_threshold', partition => 'accounts_0', metric => 'load', model => 'holt_winters'),
	'250', 'forecast metrics: the threshold, labelled with partition, metric and model');
my $crossing = value($metrics, 'presplit_forecast_seconds_to_crossing', partition => 'accounts_0');
ok($crossing > 28 * 3600 && $crossing <= 30 * 3600, 'forecast metrics: seconds to the predicted crossing');
$exporter->kill_kill;

# --- the client's forecast chart ------------------------------------------------
sub client {
	my ($out, $err) = ('', '');
	local $ENV{PGHOST} = $node->host;
	local $ENV{PGPORT} = $node->port;
	local $ENV{PGDATABASE} = 'postgres';
	IPC::Run::run([ $client, @_ ], '<', \'', '>', \$out, '2>', \$err, IPC::Run::timeout(60));
	return ($? >> 8, $out, $err);
}
my ($status, $out, $err) = client('forecast', 'accounts_0', '--hours', '48');
ok($status == 0 && $out =~ /^accounts_0: load \(statements\/s\)$/m && $out =~ /#/ && $out =~ /o forecast/
	  && $out =~ /: interval/ && $out =~ /- threshold 250/ && $out =~ /! crossing \+\d+ h \(\d{4}-\d\d-\d\d \d\d:\d\d\)/
	  && $out =~ /= off-peak/ && $out !~ /\x1b/,
	'forecast: history, forecast, interval, threshold, crossing and off-peak in a plain terminal chart')
  or diag($out . $err);
($status, $out, $err) = client('forecast', 'accounts', '--json');
my $doc = eval { decode_json($out) };
my ($p0) = $doc ? grep { $_->{partition} eq 'accounts_0' } @{ $doc->{partitions} } : ();
ok($status == 0 && $doc->{predictor} && $p0 && @{ $p0->{history} } == 49 && @{ $p0->{forecast} } == 48
	  && $p0->{threshold} == 250 && $p0->{model} eq 'holt_winters' && @{ $doc->{offpeak_windows} } == 1,
	'forecast --json: history, forecast, threshold, model, off-peak windows') or diag($out . $err);
my $dir = PostgreSQL::Test::Utils::tempdir;
($status, $out, $err) = client('forecast', 'accounts_0', '--svg', "$dir/forecast.svg");
my $svg = slurp_file("$dir/forecast.svg");
ok($status == 0 && $svg =~ />predicted crossing</ && $svg =~ />off-peak window</ && $svg =~ />threshold 250</,
	'forecast --svg: the crossing, the off-peak window and the threshold are drawn and named');
my ($xml_out, $xml_err, $png_out, $png_err) = ('', '', '', '');
ok(IPC::Run::run([ 'xmllint', '--noout', "$dir/forecast.svg" ], '>', \$xml_out, '2>', \$xml_err)
	  && IPC::Run::run([ 'rsvg-convert', '-o', "$dir/forecast.png", "$dir/forecast.svg" ], '>', \$png_out, '2>', \$png_err)
	  && -s "$dir/forecast.png" > 5000,
	'forecast --svg: valid XML, rendered by rsvg-convert') or diag($xml_err . $png_err);

$node->safe_psql('postgres', "SELECT presplit.rollback($plan)");
$node->stop;
