#!/usr/bin/env bash
# Migration engine benchmarks (issue: migration engine). Each number is a
# ratio of two measurements taken side by side in this one run, on a 1M-row
# source partition with a primary key and one secondary index:
#   (a) backfill rate, unthrottled, vs INSERT ... SELECT of the same rows into
#       a fresh table with the same indexes (target >= 0.5);
#   (b) pgbench TPS of a write workload on the source with capture on vs off
#       (target >= 0.6);
#   (c) pgbench TPS of a read/write workload on a different partition while a
#       throttled backfill runs vs idle (target >= 0.9).
# Usage: bench/migration.sh  (as root or a user who can run initdb; needs
# pg_presplit installed: make install). Takes about 4 minutes.
# PARTS=b bench/migration.sh runs only the parts named (default abc).
source "$(dirname "$0")/lib.sh"
ROWS=${ROWS:-1000000}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
ROUNDS=${ROUNDS:-2}
PARTS=${PARTS:-abc}
part() { [[ $PARTS == *$1* ]]; }

start_cluster "shared_preload_libraries = 'pg_presplit'"
sql "CREATE EXTENSION pg_presplit"
sql "CREATE TABLE t (id bigint PRIMARY KEY, k int NOT NULL, v int NOT NULL, pad text)
     PARTITION BY RANGE (id)"
sql "CREATE INDEX t_k ON t (k)"
sql "CREATE TABLE t_source PARTITION OF t FOR VALUES FROM (0) TO (10000000)"
sql "CREATE TABLE t_other PARTITION OF t FOR VALUES FROM (10000000) TO (20000000)"
sql "INSERT INTO t SELECT g, (g::bigint * 7919) % 100000, 0, repeat('x', 60) FROM generate_series(1, $ROWS) g"
sql "INSERT INTO t SELECT 10000000 + g, g % 1000, 0, repeat('x', 60) FROM generate_series(1, 200000) g"
sql "VACUUM ANALYZE t"
sql "SELECT presplit.manage('t')" >/dev/null
half=$((ROWS / 2))

if part a; then
# --- (a) backfill rate vs INSERT ... SELECT ----------------------------------
# The backfill is timed from the prepare_split call to its last batch's
# commit (shadow creation and capture set-up included; ANALYZE and the
# verification, which INSERT ... SELECT does not do, reported apart).
set_config presplit.backfill_batch_size 50000
insert_select_rates=() backfill_rates=()
for round in $(seq "$ROUNDS"); do
    sql "DROP TABLE IF EXISTS plain_copy"
    sql "CREATE TABLE plain_copy (LIKE t_source INCLUDING INDEXES)"
    start=$(date +%s.%N)
    sql "INSERT INTO plain_copy SELECT * FROM t_source"
    end=$(date +%s.%N)
    insert_select_rates+=("$(awk -v r="$ROWS" -v s="$start" -v e="$end" 'BEGIN{print r / (e - s)}')")

    start=$(date +%s.%N)
    plan=$(sql "SELECT presplit.prepare_split('t_source', '{$half}')")
    until [ "$(sql "SELECT backfill_done FROM presplit.plan WHERE id = $plan")" = t ]; do sleep 0.05; done
    end=$(date +%s.%N)
    backfill_rates+=("$(awk -v r="$ROWS" -v s="$start" -v e="$end" 'BEGIN{print r / (e - s)}')")
    sql "SELECT presplit.wait($plan, 'synced', '30 min')" >/dev/null
    total=$(sql "SELECT round(extract(epoch FROM max(at) - min(at))::numeric, 2) FROM presplit.events
                 WHERE plan_id = $plan AND to_state IN ('preparing', 'synced')")
    echo "round $round: INSERT...SELECT ${insert_select_rates[-1]} rows/s; backfill ${backfill_rates[-1]} rows/s (prepare to synced incl. ANALYZE and verification: ${total} s)"
    sql "SELECT presplit.cancel($plan)" >/dev/null
done
a_plain=$(printf '%s\n' "${insert_select_rates[@]}" | mean)
a_backfill=$(printf '%s\n' "${backfill_rates[@]}" | mean)
fi

if part b; then
# --- (b) write TPS on the source, capture on vs off ---------------------------
cat >"$BENCH_DIR/write_source.sql" <<SQL
\set id random(1, $ROWS)
UPDATE t SET v = v + 1 WHERE id = :id;
\set new random(1, 9000000)
INSERT INTO t VALUES ($ROWS + :new, 0, 0, 'n') ON CONFLICT (id) DO UPDATE SET v = t.v + 1;
SQL
chmod 644 "$BENCH_DIR/write_source.sql"
set_config presplit.backfill_paused on # capture only: the backfill is not measured here
off=() on=()
for round in $(seq "$ROUNDS"); do
    off+=("$(pgbench_tps "$BENCH_DIR/write_source.sql" "$SECONDS_PER_RUN" 4)")
    plan=$(sql "SELECT presplit.prepare_split('t_source', '{$half}')")
    on+=("$(pgbench_tps "$BENCH_DIR/write_source.sql" "$SECONDS_PER_RUN" 4)")
    sql "SELECT presplit.cancel($plan)" >/dev/null
    echo "round $round: write TPS capture off ${off[-1]}, on ${on[-1]}"
done
b_off=$(printf '%s\n' "${off[@]}" | mean)
b_on=$(printf '%s\n' "${on[@]}" | mean)
set_config presplit.backfill_paused off
fi

if part c; then
# --- (c) read/write TPS on another partition, throttled backfill vs idle -----
cat >"$BENCH_DIR/rw_other.sql" <<SQL
\set id random(10000001, 10200000)
SELECT v FROM t WHERE id = :id;
UPDATE t SET v = v + 1 WHERE id = :id;
SQL
chmod 644 "$BENCH_DIR/rw_other.sql"
set_config presplit.backfill_batch_size 2000
set_config presplit.backfill_max_rows_per_second 10000
idle=() busy=()
for round in $(seq "$ROUNDS"); do
    idle+=("$(pgbench_tps "$BENCH_DIR/rw_other.sql" "$SECONDS_PER_RUN" 4)")
    plan=$(sql "SELECT presplit.prepare_split('t_source', '{$half}')")
    busy+=("$(pgbench_tps "$BENCH_DIR/rw_other.sql" "$SECONDS_PER_RUN" 4)")
    state=$(sql "SELECT state FROM presplit.plans WHERE id = $plan")
    sql "SELECT presplit.cancel($plan)" >/dev/null
    echo "round $round: other-partition TPS idle ${idle[-1]}, during backfill ${busy[-1]} (plan still $state at the end)"
done
c_idle=$(printf '%s\n' "${idle[@]}" | mean)
c_busy=$(printf '%s\n' "${busy[@]}" | mean)
fi

echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo); rows: $ROWS; ${SECONDS_PER_RUN}s x $ROUNDS rounds"
part a && printf '(a) backfill / INSERT...SELECT rate:        %s  (%s vs %s rows/s; target >= 0.5)\n' "$(ratio "$a_backfill" "$a_plain")" "$a_backfill" "$a_plain"
part b && printf '(b) write TPS with capture / without:       %s  (%s vs %s; target >= 0.6)\n' "$(ratio "$b_on" "$b_off")" "$b_on" "$b_off"
part c && printf '(c) other-partition TPS backfilling / idle: %s  (%s vs %s; target >= 0.9)\n' "$(ratio "$c_busy" "$c_idle")" "$c_busy" "$c_idle"
:
