#!/usr/bin/env bash
# What the hooks cost per statement, in instructions: each statement kind run
# N1 and N2 times in a single-user backend under callgrind (valgrind), and
# the difference in instructions executed divided by N2 - N1 (so start and
# shutdown cancel out). Instruction counts do not depend on what else the
# machine runs, which TPS and CPU time on a shared 2-core machine do (see
# docs/benchmarks.md): this measures small changes to the hooks that
# analyzer.sh and routing.sh cannot resolve. It does not measure waiting
# (locks, I/O) nor the cost of cache misses.
#
# Statements (one per line, keys spread over the partitions):
#   select    SELECT by primary key on a managed table of PARTITIONS range
#             partitions (pgbench_accounts, pgbench -i -s 1
#             --partitions=PARTITIONS; default 8)
#   update    UPDATE by primary key there
#   unmanaged SELECT by primary key on a table pg_presplit does not manage
#             (pgbench_branches)
#   routed    SELECT by key on a switching plan's source, weight 100: the
#             new channel's tree, planned every time
#   insert    INSERT of one row into that managed table, with a key above
#             every existing one (its last partition: a time series' edge)
#   insert-batch  INSERT ... SELECT of 100 such rows (per-row key sampling)
# Modes: off (pg_presplit not preloaded), every (every statement recorded:
# presplit.analyzer_sample_every = 1), default (one in 10, drawn at random,
# so not exactly repeatable), pgss (pg_stat_statements preloaded instead,
# the yardstick of issue 12); with BASELINE_BIN, the same for the build
# installed in that PostgreSQL copy.
# Usage: bench/hook_cost.sh (as root or a user who can run initdb; needs
# pg_presplit installed and valgrind). About 10 minutes with BASELINE_BIN.
source "$(dirname "$0")/lib.sh"
N1=${N1:-200}
N2=${N2:-1200}
BASELINE_BIN=${BASELINE_BIN:-}
KINDS=${KINDS:-select update unmanaged routed insert insert-batch}
PARTITIONS=${PARTITIONS:-8}
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }

# (More partitions than the default lock table holds in one transaction.)
start_cluster "shared_preload_libraries = 'pg_presplit'" "max_locks_per_transaction = 256"
sql "CREATE EXTENSION pg_presplit"
as_pg_user "$PG_BIN/pgbench" -i -q -s 1 --partitions="$PARTITIONS" --partition-method=range \
    -h "$PGHOST" -p "$PGPORT" -U postgres postgres >/dev/null 2>&1
sql "SELECT presplit.manage('pgbench_accounts')" >/dev/null
create_accounts 40000
sql "SELECT presplit.manage('accounts')" >/dev/null
PLAN=$(sql "SELECT presplit.split_partition('accounts_0', ARRAY[5000], ramp => false)")
sql "SELECT presplit.wait($PLAN, 'switching', '10 min')" >/dev/null
sql "SELECT presplit.set_weight($PLAN, 100)" >/dev/null
sql "VACUUM ANALYZE"
# Every partition gets its analyzer entry now (saved at the stop, loaded at
# each start), so that a statement's count is not that of creating its
# partition's entry: at 1 000 partitions most statements below would be
# their partition's first.
sql "SET presplit.analyzer_sample_every = 1; SELECT count(*) FROM pgbench_accounts" >/dev/null
as_pg_user "$PG_BIN/pg_ctl" -D "$BENCH_DIR/data" -m fast -w stop >/dev/null
# Every run starts from this copy (updates and the saved statistics would
# otherwise carry over from run to run).
cp -a "$BENCH_DIR/data" "$BENCH_DIR/pristine"

statements() { # kind count
    awk -v kind="$1" -v n="$2" 'BEGIN {
        for (i = 0; i < n; i++) {
            if (kind == "select") printf "SELECT abalance FROM pgbench_accounts WHERE aid = %d;\n", 1 + (i * 7919) % 100000
            else if (kind == "update") printf "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = %d;\n", 1 + (i * 7919) % 100000
            else if (kind == "unmanaged") printf "SELECT bbalance FROM pgbench_branches WHERE bid = 1;\n"
            else if (kind == "routed") printf "SELECT balance FROM accounts WHERE id = %d;\n", (i * 7919) % 10000
            else if (kind == "insert") printf "INSERT INTO pgbench_accounts VALUES (%d, 1, 0, '"'"''"'"');\n", 100001 + i
            else if (kind == "insert-batch") printf "INSERT INTO pgbench_accounts SELECT %d + g, 1, 0, '"'"''"'"' FROM generate_series(1, 100) g;\n", 100000 + 100 * i
        }
    }'
}

instructions() { # bin kind count preload sample_every
    local out="$BENCH_DIR/callgrind.out"
    statements "$2" "$3" >"$BENCH_DIR/statements.sql"
    chmod 644 "$BENCH_DIR/statements.sql"
    rm -f "$out"
    rm -rf "$BENCH_DIR/data" && cp -a "$BENCH_DIR/pristine" "$BENCH_DIR/data"
    as_pg_user valgrind --tool=callgrind --callgrind-out-file="$out" \
        "$1/postgres" --single -D "$BENCH_DIR/data" -c "shared_preload_libraries=$4" \
        -c "presplit.analyzer_sample_every=$5" -c presplit.database=postgres postgres \
        <"$BENCH_DIR/statements.sql" >/dev/null 2>"$BENCH_DIR/valgrind.log" ||
        { tail -n 20 "$BENCH_DIR/valgrind.log" >&2; exit 1; }
    awk '/^summary:/ { print $2 }' "$out"
}

per_statement() { # bin kind preload sample_every
    local a b
    a=$(instructions "$1" "$2" "$N1" "$3" "$4")
    b=$(instructions "$1" "$2" "$N2" "$3" "$4")
    awk -v a="$a" -v b="$b" -v n=$((N2 - N1)) 'BEGIN { printf "%.0f", (b - a) / n }'
}

builds=(current)
[ -n "$BASELINE_BIN" ] && builds+=(baseline)
echo "instructions per statement (callgrind; ($N2 - $N1 statements) difference; $PARTITIONS partitions):"
printf '%-10s %-9s %10s %10s %10s %10s %12s %12s %12s\n' kind build off every default pgss \
    "every-off" "default-off" "pgss-off"
for kind in $KINDS; do
    for build in "${builds[@]}"; do
        bin=$PG_BIN
        [ "$build" = baseline ] && bin=$BASELINE_BIN
        off=$(per_statement "$bin" "$kind" "" 1)
        every=$(per_statement "$bin" "$kind" pg_presplit 1)
        default=$(per_statement "$bin" "$kind" pg_presplit 10)
        pgss=$(per_statement "$bin" "$kind" pg_stat_statements 1)
        printf '%-10s %-9s %10s %10s %10s %10s %12s %12s %12s\n' "$kind" "$build" "$off" "$every" \
            "$default" "$pgss" $((every - off)) $((default - off)) $((pgss - off))
    done
done
