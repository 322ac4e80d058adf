#!/usr/bin/env bash
# The sharding demo (make demo-shard): the hot partition of a live table split
# so that its upper half moves to a second server, on two throwaway servers on
# this machine, then cleans up. As root on a fresh Debian 12 machine it
# installs what is missing, builds and installs pg_presplit (into PG_BIN's
# PostgreSQL, the system's by default), and runs both servers as the user
# postgres. About 1-2 minutes.
#
#   1. node1 (pg_presplit, wal_level = logical) and node2 (plain PostgreSQL);
#      on node1 postgres_fdw, the server node2 and a user mapping, and
#      presplit.publisher_conninfo (node2's subscription connects back);
#   2. a table of 400k accounts in 4 range partitions, the primary key on
#      each partition (PostgreSQL attaches no foreign table under a unique
#      index of the partitioned table); pgbench transfers money between
#      accounts (80% of them in accounts_0) and reads balances throughout;
#   3. split_partition('accounts_0', '{50000}', servers => ARRAY[NULL, 'node2']):
#      the lower half a local shadow, the upper half a table on node2 kept in
#      sync by logical replication; the switchover ramps 25 % at a time
#      (the upper half's routed reads go to node2 through its foreign table;
#      a remote read is slower, so the ramp allows it 50 ms more p95 than
#      the old channel) and the cutover attaches that foreign table in its
#      place; finalize;
#   4. a summary: the invariant (row count, total balance) through the
#      parent and on each server directly, the cutover's lock time, the worst
#      client stall, and the replication slots left on either server (none).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
source "$REPO/scripts/packages.sh"
prepare_demo "$REPO"

BENCH_PORT=${DEMO_PORT:-55443}
source "$REPO/bench/lib.sh"
PORT2=$((BENCH_PORT + 1))
start_cluster "shared_preload_libraries = 'pg_presplit'" "wal_level = logical" \
    "max_wal_senders = 10" "max_replication_slots = 10" \
    "presplit.publisher_conninfo = 'host=$BENCH_DIR port=$BENCH_PORT user=postgres'" \
    "presplit.backfill_batch_size = 20000" "presplit.ramp_step = 25" "presplit.ramp_interval = 2000" \
    "presplit.ramp_min_latency_increase = 50"
WORKDIR=$BENCH_DIR/demo
mkdir -p "$WORKDIR" && chmod 777 "$WORKDIR"
PGBENCH=""
cleanup() {
    touch "$WORKDIR/stop" 2>/dev/null || true
    [ -n "$PGBENCH" ] && wait "$PGBENCH" 2>/dev/null || true
    stop_second_cluster node2
    stop_cluster
}
trap cleanup EXIT
# node2: a plain PostgreSQL 15 (no pg_presplit), its socket beside node1's.
# wal_writer_delay: the apply confirms what it flushed at most that often,
# and the cutover waits for that (docs/multi_server.md, *Apply throughput*).
start_second_cluster node2 "$PORT2" "shared_buffers = 256MB" "max_wal_size = 4GB" \
    "max_replication_slots = 10" "wal_writer_delay = 10ms"
sql2() { psql -X -q -At -v ON_ERROR_STOP=1 -p "$PORT2" -c "$1"; }
echo "== node1 (port $BENCH_PORT, pg_presplit) and node2 (port $PORT2): PostgreSQL $(sql "SHOW server_version")"

sql "CREATE EXTENSION pg_presplit"
sql "CREATE EXTENSION postgres_fdw"
# connect_timeout: bounds postgres_fdw's connections, and lets the cutover's
# warm-up open them before its lock (README, Several servers).
sql "CREATE SERVER node2 FOREIGN DATA WRAPPER postgres_fdw
       OPTIONS (host '$BENCH_DIR', port '$PORT2', dbname 'postgres', connect_timeout '10')"
sql "CREATE USER MAPPING FOR postgres SERVER node2 OPTIONS (user 'postgres')"

ROWS=400000
echo "== a table of $ROWS accounts in 4 range partitions on node1"
sql "CREATE TABLE accounts (id bigint NOT NULL, balance bigint NOT NULL, note text)
       PARTITION BY RANGE (id)"
for i in 0 1 2 3; do
    sql "CREATE TABLE accounts_$i PARTITION OF accounts (PRIMARY KEY (id))
           FOR VALUES FROM ($((i * ROWS / 4))) TO ($(((i + 1) * ROWS / 4)))"
done
sql "INSERT INTO accounts SELECT g, 1000, 'account ' || g FROM generate_series(0, $ROWS - 1) g"
sql "VACUUM ANALYZE accounts"
sql "SELECT presplit.manage('accounts')"
TOTAL_BEFORE=$(sql "SELECT count(*) || ' rows, balance ' || sum(balance) FROM accounts")

# 80% of the transfers and reads hit accounts_0: the hot partition.
write_transfer_workload "$WORKDIR" "$ROWS"
echo "== pgbench: 4 clients transferring between accounts for the whole demo"
run_transfer_load "$WORKDIR" 50 &
PGBENCH=$!
sleep 5

POINT=$((ROWS / 8))
echo
echo "== split_partition('accounts_0', '{$POINT}', servers => ARRAY[NULL, 'node2']): [0, $POINT) stays, [$POINT, $((ROWS / 4))) goes to node2"
PLAN=$(sql "SELECT presplit.split_partition('accounts_0', '{$POINT}', servers => ARRAY[NULL, 'node2'])")
last=""
while true; do
    line=$(sql "SELECT p.state || coalesce(' | new channel weight ' || p.new_channel_weight, '')
                  || CASE WHEN p.paused THEN ' | paused' ELSE '' END
                  || coalesce(' | copied to the local shadow ' || (SELECT sum(rows_copied) FROM presplit.progress g
                                                WHERE g.plan_id = p.id AND p.state IN ('preparing', 'backfilling')), '')
                  FROM presplit.plans p WHERE id = $PLAN")
    remote=$(sql2 "SELECT count(*) FROM pg_class WHERE relname = 'accounts_0' AND relkind = 'r'")
    [ "$remote" = 1 ] && line="$line | on node2: $(sql2 "SELECT count(*) FROM public.accounts_0") rows"
    if [ "$line" != "$last" ]; then echo "   $(date +%T) $line"; fi
    last=$line
    case $line in cut_over* | finalized*) break ;;
        failed* | rolled_back* | cancelled* | *paused*)
            psql -X -c "SELECT kind, detail FROM presplit.events WHERE plan_id = $PLAN ORDER BY id"
            echo "   PLAN ENDED ${line%% *}" && exit 1 ;;
    esac
    sleep 0.5
done
echo "   partitions of accounts now:"
sql "SELECT '     ' || c.relname || CASE c.relkind WHEN 'f' THEN ' (foreign table on node2)' ELSE '' END
            || '  ' || pg_get_expr(c.relpartbound, c.oid)
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'accounts'::regclass ORDER BY pg_get_expr(c.relpartbound, c.oid)"

# The worker drops the forward replication once cut over; finalize drops the
# rest and the old partition.
for _ in $(seq 1 120); do
    [ "$(sql "SELECT count(*) FROM pg_replication_slots")" = 0 ] && break
    sleep 0.5
done
sleep 3 # transfers through the foreign partition
sql "SELECT presplit.finalize($PLAN)"
echo "   finalized: accounts_0 dropped"
sleep 2
touch "$WORKDIR/stop"
wait $PGBENCH
PGBENCH=""

echo
echo "== events of the plan"
psql -X -c "SELECT at::time(3), kind, coalesce(from_state || ' -> ' || to_state, left(detail, 110)) AS what
              FROM presplit.events WHERE plan_id = $PLAN ORDER BY id"

echo "== summary"
# pgbench log lines: client transaction latency_us script epoch_s epoch_us
# (a failed transaction logs "failed" as its latency).
# The worst one's end, to read beside the events above.
cat "$WORKDIR"/client* | awk '$3 == "failed" {bad++; next}
    {n++; s += $3; if ($3 > max) {max = $3; at = $5 + $6 / 1e6}}
    END {printf "   transactions served: %d (%d failed), mean latency %.2f ms, worst client stall %.1f ms (ended %s.%03d)\n",
         n, bad, s / n / 1000, max / 1000, strftime("%H:%M:%S", at), (at - int(at)) * 1000}'
sql "SELECT '   cutover: ' || detail FROM presplit.events WHERE plan_id = $PLAN AND kind = 'cutover'"
TOTAL_AFTER=$(sql "SELECT count(*) || ' rows, balance ' || sum(balance) FROM accounts")
# Each server read directly: node2's table, and node1's local partitions.
read -r n2 s2 <<<"$(sql2 "SELECT count(*), sum(balance) FROM public.accounts_0" | tr '|' ' ')"
read -r n1 s1 <<<"$(sql "SELECT count(*), sum(balance) FROM accounts
                          WHERE id < $POINT OR id >= $((ROWS / 4))" | tr '|' ' ')"
OUTSIDE=$(sql2 "SELECT count(*) FROM public.accounts_0 WHERE id < $POINT OR id >= $((ROWS / 4))")
echo "   before, through the parent:  $TOTAL_BEFORE"
echo "   after, through the parent:   $TOTAL_AFTER"
echo "   after, on node1 directly:    $n1 rows, balance $s1"
echo "   after, on node2 directly:    $n2 rows, balance $s2 ($OUTSIDE outside [$POINT, $((ROWS / 4))))"
SLOTS1=$(sql "SELECT count(*) FROM pg_replication_slots")
SLOTS2=$(sql2 "SELECT count(*) FROM pg_replication_slots")
echo "   replication slots left:      node1 $SLOTS1, node2 $SLOTS2;" \
    "publications $(sql "SELECT count(*) FROM pg_publication"), subscriptions $(sql2 "SELECT count(*) FROM pg_subscription")"
BOTH="$((n1 + n2)) rows, balance $((s1 + s2))"
if [ "$TOTAL_BEFORE" = "$TOTAL_AFTER" ] && [ "$TOTAL_BEFORE" = "$BOTH" ] && [ "$OUTSIDE" = 0 ] &&
    [ "$n2" -gt 0 ] && [ "$SLOTS1" = 0 ] && [ "$SLOTS2" = 0 ]; then
    echo "   invariant holds on both servers: no row lost or duplicated, no transfer lost; no slot left"
else
    echo "   INVARIANT BROKEN or replication left behind" && exit 1
fi
