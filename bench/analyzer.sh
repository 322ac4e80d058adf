#!/usr/bin/env bash
# Query pattern analyzer overhead (issue: query pattern analyzer). pgbench on
# a managed range-partitioned pgbench_accounts (pgbench -i --partitions=8
# --partition-method=range), with the analyzer on (pg_presplit preloaded;
# default sampling, one statement in 10, and every statement) vs pg_presplit
# not preloaded, alternating restarts in one run:
#   select-only TPS ratio (target >= 0.97), TPC-B-like TPS ratio (target >= 0.97),
#   insert: one row per transaction appended to pgbench_accounts (keys above
#   every existing one, so into its last partition: a time series' right
#   edge), insert-batch: 100 such rows per INSERT ... SELECT (the per-row
#   key sampling), both with target >= 0.97,
#   and the analyzer's shared memory per managed partition.
# Usage: bench/analyzer.sh (as root or a user who can run initdb; needs
# pg_presplit installed). About 16 minutes. Prints medians over the rounds.
# WORKLOADS (default: all four) picks some of select-only, tpcb-like,
# insert, insert-batch.
# BASELINE_BIN=<bin directory of another PostgreSQL 15 copy with another
# pg_presplit build> adds that build's two modes (base-default, base-every)
# to the same rotation, so that two builds are compared in one run (about 13
# minutes).
source "$(dirname "$0")/lib.sh"
SCALE=${SCALE:-10}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-8}
ROUNDS=${ROUNDS:-5}
CLIENTS=${CLIENTS:-4}
BASELINE_BIN=${BASELINE_BIN:-}
WORKLOADS=${WORKLOADS:-select-only tpcb-like insert insert-batch}

start_cluster "shared_preload_libraries = 'pg_presplit'"
sql "CREATE EXTENSION pg_presplit"
as_pg_user "$PG_BIN/pgbench" -i -q -s "$SCALE" --partitions=8 --partition-method=range \
    -h "$PGHOST" -p "$PGPORT" -U postgres postgres >/dev/null 2>&1
sql "SELECT presplit.manage('pgbench_accounts')" >/dev/null
sql "VACUUM ANALYZE"
# The insert workloads append accounts above every existing key.
sql "CREATE SEQUENCE bench_append START $((SCALE * 100000 + 1))"
cat >"$BENCH_DIR/insert.sql" <<'SQL'
INSERT INTO pgbench_accounts (aid, bid, abalance, filler)
  VALUES (nextval('bench_append'), 1, 0, '');
SQL
cat >"$BENCH_DIR/insert-batch.sql" <<'SQL'
INSERT INTO pgbench_accounts (aid, bid, abalance, filler)
  SELECT nextval('bench_append'), 1, 0, '' FROM generate_series(1, 100);
SQL
chmod 644 "$BENCH_DIR"/*.sql

restart_with() { # bin directory, preload list, analyzer_sample_every
    sed -i "s/^shared_preload_libraries = .*/shared_preload_libraries = '$2'/" "$BENCH_DIR/data/postgresql.conf"
    sed -i '/^presplit.analyzer_sample_every/d' "$BENCH_DIR/data/postgresql.conf"
    [ -n "${3:-}" ] && echo "presplit.analyzer_sample_every = $3" >>"$BENCH_DIR/data/postgresql.conf"
    start_with_bin "$1"
}

tps() { # workload: "TPS CPU-microseconds-per-transaction"
    local script=(-b "$1")
    [ -f "$BENCH_DIR/$1.sql" ] && script=(-f "$BENCH_DIR/$1.sql")
    pgbench_tps_cpu -n -M prepared "${script[@]}" -c "$CLIENTS" -j 2 -T "$SECONDS_PER_RUN" \
        -h "$PGHOST" -p "$PGPORT" -U postgres postgres
}

# Each run after a restart and a checkpoint; the order of the modes rotates
# from round to round so that none always follows the same one.
declare -A results cpus
modes=(default every off)
[ -n "$BASELINE_BIN" ] && modes+=(base-default base-every)
count=${#modes[@]}
for round in $(seq "$ROUNDS"); do
    for workload in $WORKLOADS; do
        for i in $(seq 0 $((count - 1))); do
            mode=${modes[$(((i + round) % count))]}
            case $mode in
            default) restart_with "$PG_BIN" pg_presplit ;; # one statement in 10 recorded
            every) restart_with "$PG_BIN" pg_presplit 1 ;; # every statement recorded
            off) restart_with "$PG_BIN" '' ;;              # not preloaded
            base-default) restart_with "$BASELINE_BIN" pg_presplit ;;
            base-every) restart_with "$BASELINE_BIN" pg_presplit 1 ;;
            esac
            sql "CHECKPOINT"
            read -r value cpu <<<"$(tps "$workload")"
            results[$mode/$workload]+="$value "
            cpus[$mode/$workload]+="$cpu "
            echo "round $round $workload analyzer $mode: $value TPS, $cpu us CPU per transaction"
        done
    done
done
restart_with "$PG_BIN" pg_presplit
tps select-only >/dev/null # populate
status=$(sql "SELECT used || ' partitions, ' || bytes_per_partition || ' bytes each (capacity ' || capacity || ')' FROM presplit.analyzer_status")
recorded=$(sql "SELECT sum(reads + writes) FROM presplit.partition_stats WHERE parent = 'pgbench_accounts'::regclass")

# Medians: on a shared 2-core machine single runs vary by 20% or more (the
# server's CPU per transaction much less: it does not count waiting).
mean_of() { tr ' ' '\n' <<<"$1" | grep . | median; }
echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo); scale $SCALE, 8 range partitions, $CLIENTS clients, ${SECONDS_PER_RUN}s x $ROUNDS rounds"
for workload in $WORKLOADS; do
    off=$(mean_of "${results[off/$workload]}")
    off_cpu=$(mean_of "${cpus[off/$workload]}")
    for mode in "${modes[@]}"; do
        [ "$mode" = off ] && continue
        on=$(mean_of "${results[$mode/$workload]}")
        on_cpu=$(mean_of "${cpus[$mode/$workload]}")
        printf '%-12s analyzer on (%-12s) / not preloaded: %s  (%s vs %s TPS; target >= 0.97);' \
            "$workload" "$mode" "$(ratio "$on" "$off")" "$on" "$off"
        printf ' CPU per transaction %s (%s vs %s us)\n' "$(ratio "$on_cpu" "$off_cpu")" "$on_cpu" "$off_cpu"
    done
    if [ -n "$BASELINE_BIN" ]; then
        for mode in default every; do
            now=$(mean_of "${results[$mode/$workload]}")
            base=$(mean_of "${results[base-$mode/$workload]}")
            now_cpu=$(mean_of "${cpus[$mode/$workload]}")
            base_cpu=$(mean_of "${cpus[base-$mode/$workload]}")
            printf '%-12s this build / baseline (%-7s): TPS %s (%s vs %s), CPU per transaction %s (%s vs %s us)\n' \
                "$workload" "$mode" "$(ratio "$now" "$base")" "$now" "$base" \
                "$(ratio "$now_cpu" "$base_cpu")" "$now_cpu" "$base_cpu"
        done
    fi
done
echo "analyzer memory: $status; statements recorded in the last run: $recorded"
