#!/usr/bin/env bash
# How fast the other server applies a partition's changes over logical
# replication, by subscription option (issue 14: a move cuts over only once
# the subscription keeps up with the writes). Two throwaway servers A (the
# source, bench settings) and B on this machine; a partition of ROWS rows
# subscribed from B; then, per variant, the subscription altered, CLIENTS
# pgbench clients updating it by key for SECONDS, and the WAL A wrote against
# what B confirmed (the slot's confirmed_flush_lsn) over the same time.
# Variants: sync (synchronous_commit = on, what a move used), async
# (synchronous_commit = off), async+binary, and async with a second index on
# B's table.
# Usage: bench/remote_apply.sh (pg_presplit need not be installed). About
# 2 minutes.
source "$(dirname "$0")/lib.sh"
ROWS=${ROWS:-200000}
CLIENTS=${CLIENTS:-4}
SECONDS_PER=${SECONDS_PER:-15}
PORT_B=$((BENCH_PORT + 1))
B=(-h "$BENCH_DIR" -p "$PORT_B" -U postgres -d postgres -X -q -At -v ON_ERROR_STOP=1)

start_cluster "wal_level = logical" "max_wal_senders = 10" "max_replication_slots = 10"
stop_both() {
    stop_second_cluster b
    stop_cluster
}
trap stop_both EXIT
start_second_cluster b "$PORT_B"
b_sql() { psql "${B[@]}" -c "$1"; }

table="(id bigint PRIMARY KEY, k int NOT NULL, v int NOT NULL, pad text)"
sql "CREATE TABLE t $table"
sql "INSERT INTO t SELECT g, g % 100000, 0, repeat('x', 60) FROM generate_series(1, $ROWS) g"
sql "VACUUM ANALYZE t"
sql "CREATE PUBLICATION p FOR TABLE t"
b_sql "CREATE TABLE t $table"
b_sql "CREATE SUBSCRIPTION s CONNECTION 'host=$BENCH_DIR port=$BENCH_PORT user=postgres dbname=postgres'
       PUBLICATION p WITH (synchronous_commit = 'on')"
until [ "$(b_sql "SELECT bool_and(srsubstate = 'r') FROM pg_subscription_rel")" = t ]; do sleep 0.2; done
printf '\\set id random(1, %s)\nUPDATE t SET v = v + 1 WHERE id = :id;\n' "$ROWS" >"$BENCH_DIR/update.sql"
chmod 644 "$BENCH_DIR/update.sql"

lsn() { sql "SELECT $1"; }
confirmed() { lsn "confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 's'"; }
# Waits until B confirmed everything A wrote (no load), at most 120 s.
drain() {
    local target
    target=$(lsn "pg_current_wal_lsn()")
    for _ in $(seq 1200); do
        [ "$(lsn "'$(confirmed)'::pg_lsn >= '$target'::pg_lsn")" = t ] && return
        sleep 0.1
    done
    echo "(did not drain in 120 s)"
}
run() { # name alter-options [b statement]
    b_sql "ALTER SUBSCRIPTION s SET ($2)"
    [ -n "${3:-}" ] && b_sql "$3"
    sleep 1
    drain
    local w0 c0 w1 c1 tps start
    w0=$(lsn "pg_current_wal_lsn()") c0=$(confirmed) start=$(date +%s.%N)
    tps=$(as_pg_user "$PG_BIN/pgbench" -n -h "$PGHOST" -p "$PGPORT" -U postgres -c "$CLIENTS" -j 2 \
        -T "$SECONDS_PER" -f "$BENCH_DIR/update.sql" postgres 2>/dev/null |
        sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    w1=$(lsn "pg_current_wal_lsn()") c1=$(confirmed)
    local secs written applied
    secs=$(echo "$(date +%s.%N) - $start" | bc)
    written=$(lsn "pg_wal_lsn_diff('$w1', '$w0')")
    applied=$(lsn "pg_wal_lsn_diff('$c1', '$c0')")
    printf '%-22s | %8.0f | %9.2f | %9.2f | %5.2f\n' "$1" "$tps" \
        "$(echo "$written / $secs / 1048576" | bc -l)" "$(echo "$applied / $secs / 1048576" | bc -l)" \
        "$(echo "$applied / $written" | bc -l)"
}
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; $CLIENTS clients, ${SECONDS_PER} s per variant, $ROWS rows"
printf '%-22s | %8s | %9s | %9s | %5s\n' variant "A tps" "A MB/s" "B MB/s" ratio
for round in 1 2; do
    run "sync (round $round)" "synchronous_commit = 'on', binary = false"
    run "async (round $round)" "synchronous_commit = 'off', binary = false"
    run "async+binary ($round)" "synchronous_commit = 'off', binary = true"
done
run "async, index on k" "synchronous_commit = 'off', binary = false" "CREATE INDEX ON t (k)"
run "sync, index on k" "synchronous_commit = 'on', binary = false"
echo "(ratio: B confirmed / A wrote during the load; below 1 the lag grows)"
