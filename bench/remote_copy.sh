#!/bin/bash
# Copy rate of a partition to another server: PostgreSQL's logical
# replication initial sync (what move_partition uses) against
# `pg_dump -t | psql` of the same table, side by side, alternating, on two
# throwaway servers (docs/multi_server.md). Run as a non-root user with the
# PostgreSQL 15 binaries in PG_BIN; ROWS rows (default 1 000 000), RUNS
# alternations (default 2). Prints seconds and rows/s of each run.
set -euo pipefail
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
ROWS=${ROWS:-1000000}
RUNS=${RUNS:-2}
DIR=$(mktemp -d)
export PGOPTIONS="-c client_min_messages=warning"
trap '"$PG_BIN/pg_ctl" -D "$DIR/a" stop -m immediate >/dev/null 2>&1 || true
      "$PG_BIN/pg_ctl" -D "$DIR/b" stop -m immediate >/dev/null 2>&1 || true
      rm -rf "$DIR"' EXIT
PA=$((20000 + RANDOM % 10000)); PB=$((PA + 1))
for n in a b; do
    "$PG_BIN/initdb" -D "$DIR/$n" -A trust >/dev/null
    port=$([ $n = a ] && echo $PA || echo $PB)
    cat >>"$DIR/$n/postgresql.conf" <<CONF
port = $port
listen_addresses = ''
unix_socket_directories = '$DIR'
wal_level = logical
CONF
    "$PG_BIN/pg_ctl" -D "$DIR/$n" -l "$DIR/$n.log" -w start >/dev/null
done
A=(-h "$DIR" -p $PA -d postgres -X -q -At)
B=(-h "$DIR" -p $PB -d postgres -X -q -At)
"$PG_BIN/psql" "${A[@]}" -c "CREATE TABLE t (id bigint PRIMARY KEY, balance bigint NOT NULL, note text);
INSERT INTO t SELECT g, 1000, md5(g::text) FROM generate_series(1, $ROWS) g;
CREATE PUBLICATION p FOR TABLE t;"
"$PG_BIN/psql" "${A[@]}" -c "VACUUM ANALYZE t"
echo "rows: $ROWS; size: $("$PG_BIN/psql" "${A[@]}" -c "SELECT pg_size_pretty(pg_total_relation_size('t'))")"
now() { date +%s.%N; }
report() { awk -v n="$1" -v s="$2" -v r="$ROWS" 'BEGIN { printf "%-22s %6.2f s  %9.0f rows/s\n", n, s, r / s }'; }
for run in $(seq "$RUNS"); do
    "$PG_BIN/psql" "${B[@]}" -c "DROP TABLE IF EXISTS t"
    start=$(now)
    "$PG_BIN/pg_dump" -h "$DIR" -p $PA -t t postgres | "$PG_BIN/psql" "${B[@]}" >/dev/null
    report "pg_dump | psql" "$(echo "$(now) - $start" | bc)"

    "$PG_BIN/psql" "${B[@]}" -c "DROP TABLE t; CREATE TABLE t (id bigint PRIMARY KEY, balance bigint NOT NULL, note text)"
    start=$(now)
    "$PG_BIN/psql" "${B[@]}" -c "CREATE SUBSCRIPTION s CONNECTION 'host=$DIR port=$PA dbname=postgres' PUBLICATION p"
    until [ "$("$PG_BIN/psql" "${B[@]}" -c "SELECT bool_and(srsubstate = 'r') FROM pg_subscription_rel")" = t ]; do
        sleep 0.05
    done
    report "logical initial sync" "$(echo "$(now) - $start" | bc)"
    "$PG_BIN/psql" "${B[@]}" -c "DROP SUBSCRIPTION s"
done
