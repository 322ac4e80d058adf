#!/usr/bin/env bash
# The demo (make demo): splits a hot partition of a live table on a
# throwaway cluster, then cleans up. As root on a fresh Debian 12 machine it
# installs what is missing, builds and installs pg_presplit, and runs the
# server as the user postgres. About 2-3 minutes.
#
#   1. a table of 1M accounts in 4 range partitions; pgbench transfers money
#      between accounts (80% of them in the first partition) and reads
#      balances, for the whole demo;
#   2. the analyzer shows the hot partition and where to split it;
#   3. split_partition: shadows created and backfilled (progress shown),
#      then the weighted switchover ramps (reads routed by weight; each
#      channel's reads and executor latency shown) and cuts over;
#   4. a rollback under load; the split again; finalize;
#   5. a summary: rows moved, lock held, worst client stall, transactions,
#      and the invariant (total balance and row count never change).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
source "$REPO/scripts/packages.sh"
prepare_demo "$REPO"

BENCH_PORT=${DEMO_PORT:-55439}
source "$REPO/bench/lib.sh"
start_cluster "shared_preload_libraries = 'pg_presplit'" \
    "presplit.ramp_interval = '2s'" "presplit.ramp_step = 25" "presplit.backfill_batch_size = 20000"
WORKDIR=$BENCH_DIR/demo
mkdir -p "$WORKDIR" && chmod 777 "$WORKDIR"

ROWS=1000000
echo "== a table of $ROWS accounts in 4 range partitions"
sql "CREATE EXTENSION pg_presplit"
create_accounts "$ROWS"
sql "SELECT presplit.manage('accounts')"
TOTAL_BEFORE=$(sql "SELECT count(*) || ' rows, balance ' || sum(balance) FROM accounts")

# 80% of the transfers and reads hit accounts_0: the hot partition.
write_transfer_workload "$WORKDIR" "$ROWS"
echo "== pgbench: 4 clients transferring between accounts for the whole demo"
run_transfer_load "$WORKDIR" 5 &
PGBENCH=$!
sleep 8

echo
echo "== what the analyzer saw after a few seconds"
psql -X -c "SELECT partition, reads, writes, load_share FROM presplit.partition_stats
             WHERE parent = 'accounts'::regclass ORDER BY partition"
psql -X -c "SELECT partition, split_point, left_share, right_share, samples
              FROM presplit.split_suggestions WHERE partition = 'accounts_0'::regclass"
POINT=$(sql "SELECT coalesce(split_point, '125000') FROM presplit.split_suggestions
              WHERE partition = 'accounts_0'::regclass")
POINT=${POINT:-125000}

watch_plan() { # plan id, final state: progress, weights and channels until then
    local plan=$1 target=$2 last=""
    while true; do
        local line channels
        line=$(sql "SELECT p.state || coalesce(' | new channel weight ' || p.new_channel_weight, '')
                      || coalesce(' | copied ' || (SELECT sum(rows_copied) FROM presplit.progress g
                                                    WHERE g.plan_id = p.id AND p.state IN ('preparing', 'backfilling'))
                                 || ' of ~' || (SELECT sum(rows_estimated) FROM presplit.progress g
                                                WHERE g.plan_id = p.id), '')
                      FROM presplit.plans p WHERE id = $plan")
        # What each channel served so far: routed reads, mean and p95 latency.
        channels=$(sql "SELECT string_agg(format('%s %s reads, mean %s ms, p95 %s ms', channel,
                                                 statements, coalesce(round(mean_ms::numeric, 3)::text, '-'),
                                                 coalesce(round(p95_ms::numeric, 3)::text, '-')),
                                          ' | ' ORDER BY channel DESC)
                          FROM presplit.channels WHERE plan_id = $plan AND state = 'switching'")
        if [ "$line" != "$last" ]; then
            echo "   $(date +%T) $line"
            [ -n "$channels" ] && echo "            reads so far: $channels"
        fi
        last=$line
        case $line in "$target"* | failed* | rolled_back* | cancelled*) break ;; esac
        sleep 0.5
    done
}

echo
echo "== split_partition('accounts_0', '{$POINT}'): backfill, then a ramped switchover"
PLAN=$(sql "SELECT presplit.split_partition('accounts_0', '{$POINT}')")
watch_plan "$PLAN" cut_over
psql -X -c "SELECT partition, bound FROM presplit.managed_tables WHERE parent = 'accounts'::regclass ORDER BY bound"

echo "== rollback under load (reverse capture kept accounts_0 current)"
sql "SELECT presplit.rollback($PLAN)"
psql -X -c "SELECT partition, bound FROM presplit.managed_tables WHERE parent = 'accounts'::regclass ORDER BY bound"

echo "== the split again, this time to the end"
PLAN2=$(sql "SELECT presplit.split_partition('accounts_0', '{$POINT}')")
watch_plan "$PLAN2" cut_over
sleep 2
sql "SELECT presplit.finalize($PLAN2)"
echo "   finalized: old partition dropped"
psql -X -c "SELECT partition, bound, estimated_rows FROM presplit.managed_tables WHERE parent = 'accounts'::regclass ORDER BY bound"

sleep 2
touch "$WORKDIR/stop"
wait $PGBENCH
TOTAL_AFTER=$(sql "SELECT count(*) || ' rows, balance ' || sum(balance) FROM accounts")

echo
echo "== events of the two plans"
psql -X -c "SELECT at::time(3), plan_id, kind, coalesce(from_state || ' -> ' || to_state, detail) AS what
              FROM presplit.events WHERE plan_id IN ($PLAN, $PLAN2) ORDER BY id"

echo "== summary"
# pgbench log lines: client transaction latency_us script epoch_s epoch_us
# (a failed transaction logs "failed" as its latency).
cat "$WORKDIR"/client* | awk '$3 == "failed" {bad++; next} {n++; if ($3 > max) max = $3; s += $3}
    END {printf "   transactions served: %d (%d failed), mean latency %.2f ms, worst client stall %.1f ms\n",
         n, bad, s / n / 1000, max / 1000}'
sql "SELECT '   rows moved: ' || sum(rows_copied) FROM presplit.progress WHERE plan_id = $PLAN2"
sql "SELECT '   lock held: ' || string_agg(substring(detail from 'held ([0-9.]+ ms)'), ', ' ORDER BY id)
            || ' (cutover, rollback, cutover)'
       FROM presplit.events WHERE plan_id IN ($PLAN, $PLAN2) AND kind IN ('cutover', 'rollback_swap')"
echo "   before: $TOTAL_BEFORE"
echo "   after:  $TOTAL_AFTER"
if [ "$TOTAL_BEFORE" = "$TOTAL_AFTER" ]; then
    echo "   invariant holds: no row lost or duplicated, no transfer lost"
else
    echo "   INVARIANT BROKEN" && exit 1
fi
