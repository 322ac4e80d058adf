#!/usr/bin/env bash
# Query pattern analyzer overhead (issue: query pattern analyzer; issue 12:
# at 1000 managed partitions, no more than pg_stat_statements). pgbench on a
# managed range-partitioned pgbench_accounts (pgbench -i --partitions=N
# --partition-method=range), for each N in PARTITIONS (8 and 1000), in these
# modes, alternating restarts in one run:
#   default  pg_presplit preloaded, default sampling (one statement in 10)
#   every    pg_presplit preloaded, every statement recorded
#   pgss     pg_stat_statements preloaded instead (pg_presplit not)
#   off      neither preloaded
# and prints the TPS ratios against "off" of each workload (target for the
# analyzer: >= 0.97; at 1000 partitions: no lower than pgss's), the server's
# CPU per transaction, and the analyzer's memory and evictions. Workloads:
# select-only, tpcb-like, insert (one row per transaction appended above
# every existing key, so into the last partition: a time series' right edge)
# and insert-batch (100 such rows per INSERT ... SELECT: the per-row key
# sampling); WORKLOADS picks some of them.
# Usage: bench/analyzer.sh (as root or a user who can run initdb; needs
# pg_presplit installed). About 8 minutes per partition count with the
# defaults and all four workloads; SECONDS_PER_RUN=3 ROUNDS=1 checks that it
# works.
# BASELINE_BIN=<bin directory of another PostgreSQL 15 copy with another
# pg_presplit build> adds that build's two modes (base-default, base-every)
# to the same rotation, so that two builds are compared in one run.
source "$(dirname "$0")/lib.sh"
SCALE=${SCALE:-10}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-8}
ROUNDS=${ROUNDS:-5}
CLIENTS=${CLIENTS:-4}
PARTITIONS=${PARTITIONS:-8 1000}
BASELINE_BIN=${BASELINE_BIN:-}
WORKLOADS=${WORKLOADS:-select-only tpcb-like insert insert-batch}

# More partitions than the default lock table holds in one transaction
# (pgbench -i, a scan of every partition).
start_cluster "shared_preload_libraries = 'pg_presplit'" "max_locks_per_transaction = 256"
sql "CREATE EXTENSION pg_presplit"
# The insert workloads append accounts above every existing key.
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

modes=(default every pgss off)
[ -n "$BASELINE_BIN" ] && modes+=(base-default base-every)
count=${#modes[@]}
declare -A results cpus memory
mean_of() { tr ' ' '\n' <<<"$1" | grep . | median; }

for partitions in $PARTITIONS; do
    # A fresh pgbench_accounts of this many partitions, all managed.
    restart_with "$PG_BIN" pg_presplit
    as_pg_user "$PG_BIN/pgbench" -i -q -s "$SCALE" --partitions="$partitions" \
        --partition-method=range -h "$PGHOST" -p "$PGPORT" -U postgres postgres >/dev/null 2>&1
    sql "SELECT presplit.manage('pgbench_accounts')" >/dev/null
    sql "VACUUM ANALYZE"
    sql "DROP SEQUENCE IF EXISTS bench_append"
    sql "CREATE SEQUENCE bench_append START $((SCALE * 100000 + 1))"
    sql "SELECT presplit.reset_stats()" >/dev/null

    # Each run after a restart and a checkpoint; the order of the modes
    # rotates from round to round so that none always follows the same one.
    for round in $(seq "$ROUNDS"); do
        for workload in $WORKLOADS; do
            for i in $(seq 0 $((count - 1))); do
                mode=${modes[$(((i + round) % count))]}
                case $mode in
                default) restart_with "$PG_BIN" pg_presplit ;; # one statement in 10 recorded
                every) restart_with "$PG_BIN" pg_presplit 1 ;; # every statement recorded
                pgss) restart_with "$PG_BIN" pg_stat_statements ;;
                off) restart_with "$PG_BIN" '' ;; # neither preloaded
                base-default) restart_with "$BASELINE_BIN" pg_presplit ;;
                base-every) restart_with "$BASELINE_BIN" pg_presplit 1 ;;
                esac
                sql "CHECKPOINT"
                read -r value cpu <<<"$(tps "$workload")"
                results[$partitions/$mode/$workload]+="$value "
                cpus[$partitions/$mode/$workload]+="$cpu "
                echo "$partitions partitions, round $round, $workload, $mode: $value TPS, $cpu us CPU per transaction"
            done
        done
    done
    restart_with "$PG_BIN" pg_presplit
    memory[$partitions]=$(sql "SELECT used || ' partitions recorded, ' || evictions || ' evicted, ' ||
                                      allocated || ' entries of ' || bytes_per_partition || ' bytes'
                                 FROM presplit.analyzer_status")
done

# Medians: on a shared 2-core machine single runs vary by 20% or more (the
# server's CPU per transaction much less: it does not count waiting).
echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo); scale $SCALE, $CLIENTS clients, ${SECONDS_PER_RUN}s x $ROUNDS rounds"
for partitions in $PARTITIONS; do
    echo "--- $partitions range partitions, all managed"
    for workload in $WORKLOADS; do
        off=$(mean_of "${results[$partitions/off/$workload]}")
        off_cpu=$(mean_of "${cpus[$partitions/off/$workload]}")
        for mode in "${modes[@]}"; do
            [ "$mode" = off ] && continue
            on=$(mean_of "${results[$partitions/$mode/$workload]}")
            on_cpu=$(mean_of "${cpus[$partitions/$mode/$workload]}")
            printf '%-12s %-12s / neither loaded: TPS %s (%s vs %s);' \
                "$workload" "$mode" "$(ratio "$on" "$off")" "$on" "$off"
            printf ' CPU per transaction %s (%s vs %s us)\n' "$(ratio "$on_cpu" "$off_cpu")" "$on_cpu" "$off_cpu"
        done
        if [ -n "$BASELINE_BIN" ]; then
            for mode in default every; do
                now=$(mean_of "${results[$partitions/$mode/$workload]}")
                base=$(mean_of "${results[$partitions/base-$mode/$workload]}")
                printf '%-12s this build / baseline (%-7s): TPS %s (%s vs %s)\n' \
                    "$workload" "$mode" "$(ratio "$now" "$base")" "$now" "$base"
            done
        fi
    done
    echo "analyzer memory: ${memory[$partitions]}"
done
