#!/bin/bash
# Copy rate of a partition to another server: PostgreSQL's logical
# replication initial sync (what move_partition uses) against
# `pg_dump -t | psql` of the same table, side by side, alternating, on two
# throwaway servers (docs/multi_server.md). A third way is what option 2 of
# docs/multi_server.md (*Copy and sync*) would do, not built in pg_presplit:
# a slot made on a replication connection exporting its snapshot, a COPY
# under that snapshot into a table without its key, the key built after,
# and a subscription that starts from the slot (copy_data = false); timed
# until its apply worker streams. Before each subscription the bench waits
# 5 s, untimed: the other server's launcher starts apply workers at most
# once per wal_retrieve_retry_interval (5 s), which would otherwise time the
# previous run's start. ROW_FILTER (e.g. 'id > 0'; default none) gives the
# publication a row filter, which takes the table sync through
# COPY (SELECT ...) as pg_presplit's publications do; option 2's COPY then
# has it too. Run as a non-root user with the PostgreSQL 15 binaries in
# PG_BIN; ROWS rows (default 1 000 000), RUNS alternations (default 2).
# Prints seconds and rows/s of each run.
set -euo pipefail
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
ROWS=${ROWS:-1000000}
RUNS=${RUNS:-2}
ROW_FILTER=${ROW_FILTER:-}
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
CREATE PUBLICATION p FOR TABLE t${ROW_FILTER:+ WHERE ($ROW_FILTER)};"
"$PG_BIN/psql" "${A[@]}" -c "VACUUM ANALYZE t"
echo "rows: $ROWS; size: $("$PG_BIN/psql" "${A[@]}" -c "SELECT pg_size_pretty(pg_total_relation_size('t'))")${ROW_FILTER:+; row filter: $ROW_FILTER}"
now() { date +%s.%N; }
report() { awk -v n="$1" -v s="$2" -v r="$ROWS" 'BEGIN { printf "%-26s %6.2f s  %9.0f rows/s\n", n, s, r / s }'; }
for run in $(seq "$RUNS"); do
    "$PG_BIN/psql" "${B[@]}" -c "DROP TABLE IF EXISTS t"
    start=$(now)
    "$PG_BIN/pg_dump" -h "$DIR" -p $PA -t t postgres | "$PG_BIN/psql" "${B[@]}" >/dev/null
    report "pg_dump | psql" "$(echo "$(now) - $start" | bc)"

    "$PG_BIN/psql" "${B[@]}" -c "DROP TABLE t; CREATE TABLE t (id bigint PRIMARY KEY, balance bigint NOT NULL, note text)"
    sleep 5 # the launcher there (above)
    start=$(now)
    "$PG_BIN/psql" "${B[@]}" -c "CREATE SUBSCRIPTION s CONNECTION 'host=$DIR port=$PA dbname=postgres' PUBLICATION p"
    until [ "$("$PG_BIN/psql" "${B[@]}" -c "SELECT bool_and(srsubstate = 'r') FROM pg_subscription_rel")" = t ]; do
        sleep 0.05
    done
    report "logical initial sync" "$(echo "$(now) - $start" | bc)"
    "$PG_BIN/psql" "${B[@]}" -c "DROP SUBSCRIPTION s"

    "$PG_BIN/psql" "${B[@]}" -c "DROP TABLE t; CREATE TABLE t (id bigint, balance bigint NOT NULL, note text)"
    sleep 5 # the launcher there (above)
    start=$(now)
    # The exported snapshot lives while its connection stays open and idle.
    coproc SLOT { "$PG_BIN/psql" "host=$DIR port=$PA dbname=postgres replication=database" -X -q -At; }
    echo "CREATE_REPLICATION_SLOT s LOGICAL pgoutput (SNAPSHOT 'export');" >&"${SLOT[1]}"
    IFS='|' read -r _ _ snapshot _ <&"${SLOT[0]}"
    "$PG_BIN/psql" "${A[@]}" -c "BEGIN ISOLATION LEVEL REPEATABLE READ" \
        -c "SET TRANSACTION SNAPSHOT '$snapshot'" \
        -c "COPY (SELECT id, balance, note FROM ONLY t${ROW_FILTER:+ WHERE $ROW_FILTER}) TO STDOUT" -c "COMMIT" |
        "$PG_BIN/psql" "${B[@]}" -c "COPY t FROM STDIN"
    echo '\q' >&"${SLOT[1]}"
    wait "$SLOT_PID"
    copied=$(now)
    "$PG_BIN/psql" "${B[@]}" -c "ALTER TABLE t ADD PRIMARY KEY (id);
        CREATE SUBSCRIPTION s CONNECTION 'host=$DIR port=$PA dbname=postgres' PUBLICATION p
          WITH (copy_data = false, create_slot = false, slot_name = 's')"
    until [ "$("$PG_BIN/psql" "${A[@]}" -c "SELECT active FROM pg_replication_slots WHERE slot_name = 's'")" = t ]; do
        sleep 0.05
    done
    report "snapshot copy, key after" "$(echo "$(now) - $start" | bc)"
    echo "  of which the slot and the copy: $(echo "$copied - $start" | bc | cut -c1-5) s"
    "$PG_BIN/psql" "${B[@]}" -c "DROP SUBSCRIPTION s"
    [ "$("$PG_BIN/psql" "${B[@]}" -c "SELECT count(*) FROM t")" = "$ROWS" ] || { echo "snapshot copy: rows missing" >&2; exit 1; }
done
