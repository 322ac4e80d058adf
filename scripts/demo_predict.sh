#!/usr/bin/env bash
# The prediction demo (make demo-predict): the predictive shard manager over
# simulated days on a throwaway cluster, then cleans up. As root on a fresh
# Debian 12 machine it installs what is missing, builds and installs
# pg_presplit, and runs the server as the user postgres. About 4 minutes.
#
# presplit.clock_rate = 1800: a simulated day lasts 48 s of wall time.
# A table of orders in 4 range partitions; pgbench reads follow a daily
# cycle (quiet at 04:00, busy at 16:00, simulated time) on every partition,
# and the reads of orders_0's hot range grow day by day until its daily peak
# crosses the load threshold (0.08 statements per simulated second, i.e. 144
# per wall second). The manager advises for the first two days (under two
# days of history a forecast is a trend line, not a reason to act), then
# runs in mode 'split': it forecasts the crossing, predicts the off-peak
# windows from the server's load, creates the plan ahead, copies only inside
# the windows, and switches over before the crossing. The summary compares
# the predicted and the actual crossing (the hour the generated load's mean
# first reached the threshold) and says how much of the copy ran off-peak.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
source "$REPO/scripts/packages.sh"
prepare_demo "$REPO"

RATE=1800       # a simulated day per 48 s of wall time
THRESHOLD=0.08  # statements per simulated second on one partition (144 per wall second)
WALL_THRESHOLD=$(awk -v t=$THRESHOLD -v r=$RATE 'BEGIN{printf "%.0f", t * r}')
ADVISE_DAYS=2.25 # advise only, then split (over two days of history: the daily models compete)

BENCH_PORT=${DEMO_PORT:-55441}
source "$REPO/bench/lib.sh"
start_cluster "shared_preload_libraries = 'pg_presplit'" "timezone = 'UTC'" \
    "presplit.clock_rate = $RATE" "presplit.analyzer_sample_every = 1" \
    "presplit.analyzer_key_half_life = '6h'" "presplit.predict = 'advise'" \
    "presplit.split_load_threshold = $THRESHOLD" "presplit.prediction_horizon = '24h'" \
    "presplit.naptime = 200" "presplit.ramp_step = 25" "presplit.ramp_interval = '1s'" \
    "presplit.ramp_evidence_timeout = '2s'" \
    "presplit.backfill_batch_size = 5000"
WORKDIR=$BENCH_DIR/demo
mkdir -p "$WORKDIR" && chmod 777 "$WORKDIR"

# The model clock, as the server computes it (docs/prediction.md).
MODEL_NOW="(pg_postmaster_start_time() + (clock_timestamp() - pg_postmaster_start_time()) * $RATE)"
sim_now() { sql "SELECT to_char($MODEL_NOW, 'Dy HH24:MI')"; }
sim_before() { awk -v d="$(sim_days)" -v until="$1" 'BEGIN {exit !(d < until)}'; }
sim_days() { sql "SELECT round((extract(epoch FROM $MODEL_NOW - pg_postmaster_start_time()) / 86400)::numeric, 2)"; }

ROWS=400000
echo "== a table of $ROWS orders in 4 range partitions"
sql "CREATE EXTENSION pg_presplit"
sql "CREATE TABLE orders (id bigint PRIMARY KEY, v int NOT NULL DEFAULT 0, note text)
       PARTITION BY RANGE (id)"
for i in 0 1 2 3; do
    sql "CREATE TABLE orders_$i PARTITION OF orders
           FOR VALUES FROM ($((i * ROWS / 4))) TO ($(((i + 1) * ROWS / 4)))"
done
sql "INSERT INTO orders SELECT g, 0, 'order ' || g FROM generate_series(0, $ROWS - 1) g"
sql "VACUUM ANALYZE orders"
sql "SELECT presplit.manage('orders')"

# Reads: the hot range (the first fifth of orders_0) and all of orders.
cat >"$WORKDIR/hot.sql" <<EOF
\set k random(0, $((ROWS / 20 - 1)))
SELECT v FROM orders WHERE id = :k;
EOF
cat >"$WORKDIR/all.sql" <<EOF
\set k random(0, $((ROWS - 1)))
SELECT v FROM orders WHERE id = :k;
EOF
chmod 644 "$WORKDIR"/*.sql

# The load driver: every simulated hour (2 s of wall time) it starts, per
# script, a pgbench run of two simulated hours at half the rate of that hour, without
# waiting for the runs before: two runs overlap at every moment, so the load
# follows the hours smoothly and no hour goes without. The rate of hour h:
# shape(h) = 0.2 + 0.8 (1 - cos(2 pi (h - 4) / 24)) / 2 (trough 04:00, peak
# 16:00), times, for the hot range, a daily peak that grows by 0.22 of the
# threshold a day, to 1.1 times it at the first 16:00 that comes at least
# 14.4 h after the advice days end -- so that a simulated night lies between
# the manager's first round in mode 'split' and the crossing, whatever hour
# the server started at. Each run's achieved rate is logged with its
# simulated hour: the actuals of the summary (orders_0 serves the hot range
# and a quarter of the other reads).
START_HOUR=$(sql "SELECT extract(hour FROM pg_postmaster_start_time())
                         + extract(minute FROM pg_postmaster_start_time()) / 60.0")
PEAK_DAY=$(awk -v h0="$START_HOUR" -v a="$ADVISE_DAYS" 'BEGIN {
    d = ((16 - h0 + 24) % 24) / 24; while (d < a + 0.6) d += 1; printf "%.3f", d }')
HOUR_SECONDS=$(awk -v r=$RATE 'BEGIN {print 3600 / r}')
RUN_SECONDS=$(awk -v r=$RATE 'BEGIN {printf "%d", 2 * 3600 / r + 0.5}')
(cd "$WORKDIR" && run=0 && next=$(date +%s.%N) && while [ ! -f stop ]; do
    run=$((run + 1))
    IFS='|' read -r stamp h days <<<"$(sql "SELECT to_char($MODEL_NOW, 'YYYY-MM-DD HH24:00'),
        extract(hour FROM $MODEL_NOW) + extract(minute FROM $MODEL_NOW) / 60.0,
        extract(epoch FROM $MODEL_NOW - pg_postmaster_start_time()) / 86400")"
    read -r hot all <<<"$(awk -v h="$h" -v d="$days" -v t="$WALL_THRESHOLD" -v p="$PEAK_DAY" 'BEGIN {
        s = 0.2 + 0.8 * (1 - cos(2 * 3.14159265 * (h - 4) / 24)) / 2
        a = 1.10 - 0.22 * (p - d); if (a < 0.2) a = 0.2
        printf "%d %d", t * a * s / 2 + 1, 20 * s / 2 + 1 }')"
    (as_pg_user "$PG_BIN/pgbench" -n -h "$PGHOST" -p "$PGPORT" -U postgres -c 2 -j 1 -R "$hot" \
        -T "$RUN_SECONDS" -f hot.sql postgres 2>/dev/null | awk -v s="$stamp" '/^tps = /{print s "|hot|" $3}' >>load.log) &
    (as_pg_user "$PG_BIN/pgbench" -n -h "$PGHOST" -p "$PGPORT" -U postgres -c 1 -j 1 -R "$all" \
        -T "$RUN_SECONDS" -f all.sql postgres 2>/dev/null | awk -v s="$stamp" '/^tps = /{print s "|all|" $3}' >>load.log) &
    next=$(awk -v n="$next" -v d="$HOUR_SECONDS" 'BEGIN {printf "%.3f", n + d}')
    sleep "$(awk -v n="$next" -v now="$(date +%s.%N)" 'BEGIN {w = n - now; printf "%.3f", (w > 0 ? w : 0)}')"
done; wait) &
DRIVER=$!
trap 'touch "$WORKDIR/stop"; wait $DRIVER 2>/dev/null; stop_cluster' EXIT

# The load on orders_0's range per simulated hour, from the driver's log: the
# runs started in that hour and the hour before (each lasts two hours, at
# half the rate), the hot ones and a quarter of the others. "hour|load".
actual_loads() {
    awk -F'|' '{ rate[$1] += ($2 == "hot" ? $3 : $3 / 4) }
        END { for (h in rate) print h "|" rate[h] }' "$WORKDIR/load.log" | sort |
        awk -F'|' 'prev != "" { print $1 "|" $2 + last } { prev = $1; last = $2 }'
}

echo "== clock rate $RATE: a simulated day lasts $((86400 / RATE)) s; load threshold $THRESHOLD statements per simulated second ($WALL_THRESHOLD per wall second)"
echo "== days 0-$ADVISE_DAYS: presplit.predict = 'advise' (learning the daily cycle); orders_0's hot range peaks at 1.1 x the threshold on day $PEAK_DAY"
last=""
while sim_before "$ADVISE_DAYS"; do
    line=$(sql "SELECT format('load now %s/s (%s%% of the threshold), model %s', round((current * $RATE)::numeric),
                              round((100 * current / threshold)::numeric), model)
                  FROM presplit.forecasts WHERE partition = 'orders_0'::regclass AND metric = 'load'")
    [ -n "$line" ] && [ "$line" != "$last" ] && echo "   sim $(sim_now)  orders_0: $line"
    last=$line
    sleep 5
done
echo
echo "== what the manager advised so far"
psql -X -c "SELECT to_char(at, 'HH24:MI:SS') AS wall, left(detail, 150) AS detail
              FROM presplit.events WHERE kind = 'prediction' ORDER BY id DESC LIMIT 4"
echo "== sim $(sim_now): presplit.predict = 'split'"
set_config presplit.predict split

# Watch until the plan is cut over and the actual crossing has passed.
PLAN="" SHOWN_PLAN="" CUT="" COPIED_IN=0 COPIED_OUT=0 LAST_ROWS=0 LAST_STATE=""
# (Given up half a day after the peak that should cross.) The rows copied
# between two looks count as copied inside or outside a window as the
# second look finds the model clock.
while sim_before "$(awk -v p="$PEAK_DAY" 'BEGIN {print p + 0.5}')"; do
    [ -z "$PLAN" ] && PLAN=$(sql "SELECT id FROM presplit.plan WHERE origin = 'predicted'
                                    AND source = 'orders_0'::regclass ORDER BY id DESC LIMIT 1")
    if [ -n "$PLAN" ] && [ -z "$SHOWN_PLAN" ]; then
        SHOWN_PLAN=1
        echo
        echo "== sim $(sim_now): the manager created predicted plan $PLAN"
        sql "SELECT '   ' || detail FROM presplit.events WHERE plan_id = $PLAN AND kind = 'prediction'
              ORDER BY id LIMIT 1" | fold -s -w 110 | sed '2,$s/^/     /'
        echo "   the forecast it acted on (statements per wall second; threshold $WALL_THRESHOLD):"
        sql "SELECT format('%s  %s', to_char(at, 'Dy HH24:00'),
                           coalesce('actual ' || round((actual * $RATE)::numeric),
                                    'predicted ' || round((predicted * $RATE)::numeric)
                                    || ' (upper ' || round((upper * $RATE)::numeric) || ')'))
               FROM presplit.forecast('orders_0', 24) WHERE metric = 'load'
              ORDER BY at" | awk 'NR % 3 == 1' | sed 's/^/     /'
        sql "SELECT at, round((predicted * $RATE)::numeric), round((upper * $RATE)::numeric)
               FROM presplit.forecast('orders_0', 24) WHERE metric = 'load' AND predicted IS NOT NULL" \
            >"$WORKDIR/forecast.txt"
        echo "   off-peak windows ahead (predicted from the server's load):"
        sql "SELECT format('%s - %s, predicted load %s/s', to_char(starts, 'Dy HH24:MI'),
                           to_char(ends, 'HH24:MI'), round((predicted_load * $RATE)::numeric))
               FROM presplit.offpeak_windows ORDER BY starts LIMIT 3" | sed 's/^/     /'
        # When, on the model clock, and the crossing it was created for.
        sql "SELECT to_char(pg_postmaster_start_time() + (at - pg_postmaster_start_time()) * $RATE,
                            'YYYY-MM-DD HH24:MI'),
                    (regexp_match(detail, 'predicted crossing ([0-9-]+ [0-9:]+)'))[1]
               FROM presplit.events WHERE plan_id = $PLAN AND kind = 'prediction' ORDER BY id LIMIT 1" |
            tr '|' '\n' >"$WORKDIR/plan_created"
    fi
    if [ -n "$PLAN" ]; then
        read -r state held rows inwin <<<"$(sql "SELECT p.state, p.copy_held,
              (SELECT coalesce(sum(rows_copied), 0) FROM presplit.progress g WHERE g.plan_id = p.id),
              EXISTS (SELECT 1 FROM presplit.offpeak_windows w
                       WHERE $MODEL_NOW >= w.starts AND $MODEL_NOW < w.ends)
              FROM presplit.plans p WHERE p.id = $PLAN" | tr '|' ' ')"
        if [ "$rows" -gt "$LAST_ROWS" ]; then
            if [ "$inwin" = t ]; then COPIED_IN=$((COPIED_IN + rows - LAST_ROWS));
            else COPIED_OUT=$((COPIED_OUT + rows - LAST_ROWS)); fi
            LAST_ROWS=$rows
        fi
        now_line=$state
        case $state in planned | preparing | backfilling)
            if [ "$held" = t ]; then now_line="$state, copy held (until its scheduled start, inside a window)"
            else now_line="$state, copying: $rows rows"; fi ;;
        esac
        if [ "$now_line" != "$LAST_STATE" ]; then
            echo "   sim $(sim_now)  plan $PLAN: $now_line  (inside a window: $inwin)"
            LAST_STATE=$now_line
        fi
        if [ -z "$CUT" ] && { [ "$state" = cut_over ] || [ "$state" = finalized ]; }; then
            CUT=$(sql "SELECT to_char(pg_postmaster_start_time() + (at - pg_postmaster_start_time()) * $RATE,
                                      'YYYY-MM-DD HH24:MI')
                         FROM presplit.events WHERE plan_id = $PLAN AND to_state = 'cut_over'")
            sql "SELECT '   ' || detail FROM presplit.events WHERE plan_id = $PLAN
                  AND detail LIKE 'start_switchover:%' ORDER BY id LIMIT 1" | fold -s -w 110 | sed '2,$s/^/     /'
        fi
        case $state in failed | cancelled | rolled_back) echo "   plan $PLAN ended $state"; PLAN="" SHOWN_PLAN="" ;; esac
    fi
    # Done once cut over and the generated load has crossed (or a day after the cutover).
    if [ -n "$CUT" ] && actual_loads | awk -F'|' -v t="$WALL_THRESHOLD" '$2 >= t {f = 1} END {exit !f}'; then
        break
    fi
    sleep 0.5
done
touch "$WORKDIR/stop"
wait $DRIVER 2>/dev/null || true

echo
echo "== the forecast made when the plan was created, against the actual load (per wall second)"
if [ -f "$WORKDIR/forecast.txt" ]; then
    actual_loads >"$WORKDIR/actual.txt"
    sed 's/:00:00+00//' "$WORKDIR/forecast.txt" | while IFS='|' read -r at predicted upper; do
        actual=$(awk -F'|' -v h="$at:00" '$1 == h {printf "%.0f", $2}' "$WORKDIR/actual.txt")
        if [ -n "$actual" ]; then
            printf '   %s:00  predicted %4s  upper %4s  actual %4s\n' "$at" "$predicted" "$upper" "$actual"
        fi
    done | awk 'NR % 2 == 1'
fi

echo
echo "== summary"
ACTUAL=$(actual_loads | awk -F'|' -v t="$WALL_THRESHOLD" '$2 >= t {print $1; exit}')
CREATED=$(sed -n 1p "$WORKDIR/plan_created" 2>/dev/null || true)
PREDICTED=$(sed -n 2p "$WORKDIR/plan_created" 2>/dev/null | cut -c1-16 || true)
lead() { # from to: hours between two 'YYYY-MM-DD HH24:MI' simulated times
    [ -n "$1" ] && [ -n "$2" ] && sql "SELECT round((extract(epoch FROM '$2'::timestamptz - '$1'::timestamptz) / 3600)::numeric, 1) || ' h'"
}
echo "   predicted plan created:   ${CREATED:-never}"
echo "   predicted crossing:       ${PREDICTED:-none} (when the plan was created: the forecast's upper bound reaches 0.95 x the threshold)"
echo "   actual crossing:          ${ACTUAL:-not reached} (the first simulated hour whose load on orders_0's range reached $WALL_THRESHOLD/s)"
echo "   cut over:                 ${CUT:-not yet}"
[ -n "$CUT" ] && [ -n "$ACTUAL" ] && echo "   lead time:                $(lead "$CUT" "$ACTUAL:00") before the actual crossing (plan created $(lead "$CREATED" "$ACTUAL:00") before)"
TOTAL=$((COPIED_IN + COPIED_OUT))
[ "$TOTAL" -gt 0 ] && echo "   copied off-peak:          $((100 * COPIED_IN / TOTAL)) % of $TOTAL rows (of the bytes alike: one table) inside the predicted windows"
[ -n "$PLAN" ] && sql "SELECT '   copy rate measured:       ' || coalesce(round(copy_bytes_per_second / 1048576.0, 1) || ' MB/s', 'none')
                         FROM presplit.plans WHERE id = $PLAN"
psql -X -c "SELECT partition, bound FROM presplit.managed_tables WHERE parent = 'orders'::regclass ORDER BY bound"
