#!/usr/bin/env bash
# Routed-read latency of a split onto another server (issue 14: "routed
# read latency, remote channel over local"). Two throwaway servers on this
# machine (Unix sockets): A with pg_presplit, B plain. accounts has two
# partitions of ROWS rows; split_partition('accounts_0', '{ROWS/2}', ramp =>
# false, servers => ARRAY[NULL, 'b']) keeps the lower half on A (a local
# shadow) and sends the upper half to B; once switching, set_weight 100.
# pgbench (select-only, one balance by key, 1 client so that latency =
# 1/TPS) reads, side by side in rotating rounds:
#   local    keys of the lower half: routed to the local shadow (new channel);
#   remote   keys of the upper half: routed to B through its foreign table
#            (remote channel);
#   direct   keys of the upper half with presplit.routing = off: the source
#            partition as without routing (reference).
# for -M simple (planned every time, the foreign scan planned with the
# rest; PostgreSQL's plan cache would switch -M prepared to a generic plan
# after five executions anyway) and -M prepared with force_generic_plan
# (planned once: run-time pruning, so the new channel's tree scans both
# shadows, the local one finding nothing). Prints the medians over the
# rounds, remote / local, and the channels' own counts and p95.
# Usage: bench/remote_reads.sh (as root or a user who can run initdb;
# pg_presplit installed in PG_BIN). About 2 minutes.
source "$(dirname "$0")/lib.sh"
ROWS=${ROWS:-200000}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
ROUNDS=${ROUNDS:-3}
HALF=$((ROWS / 2))
PORT_B=$((BENCH_PORT + 1))
B=(-h "$BENCH_DIR" -p "$PORT_B" -U postgres -d postgres -X -q -At -v ON_ERROR_STOP=1)

start_cluster "shared_preload_libraries = 'pg_presplit'" "wal_level = logical" \
    "max_wal_senders = 10" "max_replication_slots = 10" \
    "presplit.publisher_conninfo = 'host=$BENCH_DIR port=$BENCH_PORT user=postgres'"
stop_both() {
    stop_second_cluster b
    stop_cluster
}
trap stop_both EXIT
start_second_cluster b "$PORT_B" "shared_buffers = 256MB"

sql "CREATE EXTENSION pg_presplit"
sql "CREATE EXTENSION postgres_fdw"
sql "CREATE SERVER b FOREIGN DATA WRAPPER postgres_fdw
       OPTIONS (host '$BENCH_DIR', port '$PORT_B', dbname 'postgres')"
sql "CREATE USER MAPPING FOR postgres SERVER b OPTIONS (user 'postgres')"
sql "CREATE TABLE accounts (id bigint NOT NULL, balance bigint NOT NULL) PARTITION BY RANGE (id)"
sql "CREATE TABLE accounts_0 PARTITION OF accounts (PRIMARY KEY (id)) FOR VALUES FROM (0) TO ($ROWS)"
sql "CREATE TABLE accounts_1 PARTITION OF accounts (PRIMARY KEY (id)) FOR VALUES FROM ($ROWS) TO ($((2 * ROWS)))"
sql "INSERT INTO accounts SELECT g, 1000 FROM generate_series(0, $((2 * ROWS - 1))) g"
sql "ANALYZE accounts"
sql "SELECT presplit.manage('accounts')" >/dev/null
echo "server: $(sql "SHOW server_version"); $ROWS rows in accounts_0, the upper half to B"
PLAN=$(sql "SELECT presplit.split_partition('accounts_0', '{$HALF}', ramp => false, servers => ARRAY[NULL, 'b'])")
until [ "$(sql "SELECT state FROM presplit.plans WHERE id = $PLAN")" = switching ]; do sleep 0.5; done
sql "SELECT presplit.set_weight($PLAN, 100)" >/dev/null
# Routed to B once the worker has measured the lag.
until sql "EXPLAIN (ANALYZE, COSTS OFF) SELECT balance FROM accounts WHERE id = $((HALF + 1))" |
    grep -q 'Foreign Scan'; do sleep 0.2; done

WORK=$BENCH_DIR/work
mkdir -p "$WORK" && chmod 777 "$WORK"
printf '\\set id random(0, %d)\nSELECT balance FROM accounts WHERE id = :id;\n' $((HALF - 1)) >"$WORK/lower.sql"
printf '\\set id random(%d, %d)\nSELECT balance FROM accounts WHERE id = :id;\n' $HALF $((ROWS - 1)) >"$WORK/upper.sql"

run() { # script protocol options: latency in ms (1 client: 1000 / TPS)
    local tps
    tps=$(as_pg_user env PGOPTIONS="$3" "$PG_BIN/pgbench" -n -M "$2" -h "$PGHOST" -p "$PGPORT" \
        -U postgres -c 1 -j 1 -T "$SECONDS_PER_RUN" -f "$1" postgres 2>/dev/null |
        awk '/^tps = /{print $3}')
    awk -v t="$tps" 'BEGIN{printf "%.4f\n", 1000 / t}'
}

median_ms() { sort -g | awk '{v[NR]=$1} END{printf "%.3f", NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
declare -A results
for mode in simple generic; do
    protocol=simple options=""
    [ $mode = generic ] && protocol=prepared options="-c plan_cache_mode=force_generic_plan"
    for ((round = 1; round <= ROUNDS; round++)); do
        for variant in local remote direct; do
            case $variant in
                local) ms=$(run "$WORK/lower.sql" $protocol "$options") ;;
                remote) ms=$(run "$WORK/upper.sql" $protocol "$options") ;;
                direct) ms=$(run "$WORK/upper.sql" $protocol "$options -c presplit.routing=off") ;;
            esac
            results[$mode.$variant]+="$ms"$'\n'
        done
    done
done
echo
echo "channels (reads served during the runs):"
sql "SELECT '  ' || channel || ': ' || statements || ' reads, ' || errors || ' errors, mean '
            || round(mean_ms::numeric, 3) || ' ms, p95 ' || round(p95_ms::numeric, 3) || ' ms'
       FROM presplit.channels WHERE plan_id = $PLAN AND statements > 0 ORDER BY channel"
echo
printf "%-34s %10s %10s %10s %14s\n" "median latency (ms), $ROUNDS rounds" local remote direct "remote/local"
for mode in simple generic; do
    l=$(printf '%s' "${results[$mode.local]}" | median_ms)
    r=$(printf '%s' "${results[$mode.remote]}" | median_ms)
    d=$(printf '%s' "${results[$mode.direct]}" | median_ms)
    printf "%-34s %10s %10s %10s %14s\n" "$([ $mode = simple ] && echo '-M simple' || echo '-M prepared, generic plan')" "$l" "$r" "$d" "$(ratio "$r" "$l")"
done
