#!/usr/bin/env bash
# Switchover benchmark (issue: switchover). The client stall of our cutover
# vs a naive split of the same data, side by side in one run, per size of the
# source partition (SIZES rows, default 1M and 10M):
#   ours:  presplit.manage; split_partition(source, ARRAY[mid], ramp => false);
#          wait for 'switching' (backfill unthrottled, no load); then, under
#          load, presplit.cutover(plan); ROUNDS times (default 3), with a
#          rollback (no load) between them so that each round splits the
#          same data;
#   naive: one transaction, under the same load, on a copy of the same table:
#          LOCK the table IN EXCLUSIVE MODE (writes wait, reads go on; without
#          it the updates made during the copy would be lost), CREATE the two
#          new tables, INSERT ... SELECT the rows, create their indexes,
#          DETACH the source, ATTACH the new tables (each ATTACH scans its
#          table to check the bound), COMMIT.
# Load: pgbench, CLIENTS clients, half reads and half updates by primary key,
# 80% of the keys in the source partition. Every transaction is logged
# (pgbench -l); the window is from 1 s before the split's start to 2 s after
# its end, and the worst and the p99 latency of the transactions that end in
# it are compared (targets: ours <= 50 ms and not growing with the size;
# naive / ours >= 100 at 10M rows). The load is closed-loop: a blocked
# client sends nothing, so a long stall adds 4 slow transactions, not many,
# and the p99 hardly sees it; the worst does. Also shown: the worst of the
# transactions in flight during the split itself (what the window adds is
# other noise), our cutover's lock time and tries from presplit.events, and
# a check that no update was lost (the sum of the updated column equals the
# number of updates pgbench completed).
# Usage: bench/switchover.sh (as root or a user who can run initdb; needs
# pg_presplit installed; PG_BIN for another installation, BENCH_PORT for
# another port). About 6 minutes with the default sizes; SIZES="100000"
# for a quick run.
source "$(dirname "$0")/lib.sh"
SIZES=${SIZES:-"1000000 10000000"}
CLIENTS=${CLIENTS:-4}
WARMUP=${WARMUP:-4}         # seconds of load before the split starts
CHUNK=${CHUNK:-10}          # pgbench runs of this many seconds until told to stop
ROUNDS=${ROUNDS:-3}         # cutovers per size (rolled back between them)
OTHER_ROWS=200000           # the other partition, where 20% of the keys fall
UPPER=100000000             # the source partition is [0, UPPER)

start_cluster "shared_preload_libraries = 'pg_presplit'" \
    "presplit.backfill_batch_size = 50000" "presplit.backfill_max_rows_per_second = 0" \
    "max_parallel_maintenance_workers = 2" "log_autovacuum_min_duration = 0" "log_lock_waits = on"
sql "CREATE EXTENSION pg_presplit"
echo "server: $(sql "SHOW server_version"); pg_presplit from $(sql "SELECT setting FROM pg_config WHERE name = 'PKGLIBDIR'")"

make_table() { # name rows: the source partition with ids 1..rows, the other with OTHER_ROWS
    sql "CREATE TABLE $1 (id bigint NOT NULL, k int NOT NULL, v int NOT NULL, pad text)
         PARTITION BY RANGE (id)"
    sql "CREATE TABLE $1_source PARTITION OF $1 FOR VALUES FROM (0) TO ($UPPER)"
    sql "CREATE TABLE $1_other PARTITION OF $1 FOR VALUES FROM ($UPPER) TO ($((2 * UPPER)))"
    sql "INSERT INTO $1 SELECT g, (g::bigint * 7919) % 100000, 0, repeat('x', 60)
           FROM generate_series(1, $2) g"
    sql "INSERT INTO $1 SELECT $UPPER + g, g % 1000, 0, repeat('x', 60)
           FROM generate_series(1, $OTHER_ROWS) g"
    sql "ALTER TABLE $1 ADD PRIMARY KEY (id)"
    sql "CREATE INDEX $1_k ON $1 (k)"
    sql "VACUUM ANALYZE $1"
}

write_scripts() { # table rows: read and update scripts (pgbench -l logs which one ran)
    local hot="\\set r random(1, 100)
\\if :r <= 80
\\set id random(1, $2)
\\else
\\set id random($((UPPER + 1)), $((UPPER + OTHER_ROWS)))
\\endif"
    printf '%s\nSELECT v FROM %s WHERE id = :id;\n' "$hot" "$1" >"$BENCH_DIR/$1_read.sql"
    printf '%s\nUPDATE %s SET v = v + 1 WHERE id = :id;\n' "$hot" "$1" >"$BENCH_DIR/$1_update.sql"
    chmod 644 "$BENCH_DIR/$1_read.sql" "$BENCH_DIR/$1_update.sql"
}

# Runs the load on a table, runs a split (SQL) after WARMUP seconds, and
# prints "worst_ms p99_ms transactions_in_window split_seconds
# baseline_worst_ms baseline_p99_ms overlapping_worst_ms overlapping_count
# updates errors": the window is [start - 1 s, end + 2 s] of the split; the
# baseline is [WARMUP - 0.5 s before the start, 1 s before it], the same load
# before anything happens; "overlapping" are the transactions in flight at
# some time between the split's start and end.
measure() { # table split_sql run_name
    local dir=$BENCH_DIR/run_$3 t0 t1
    rm -rf "$dir" && mkdir -p "$dir" && chmod 777 "$dir"
    (cd "$dir" && chunk=0 && while [ ! -f stop ]; do
        chunk=$((chunk + 1))
        as_pg_user "$PG_BIN/pgbench" -n -h "$PGHOST" -p "$PGPORT" -U postgres -c "$CLIENTS" -j 2 \
            -T "$CHUNK" -l --log-prefix="chunk$chunk" \
            -f "$BENCH_DIR/$1_update.sql@1" -f "$BENCH_DIR/$1_read.sql@1" postgres \
            >>pgbench.out 2>&1 || echo "pgbench exited with $?" >>pgbench.out
    done) &
    local load=$!
    sleep "$WARMUP"
    t0=$(date +%s.%N)
    sql "$2" >/dev/null
    t1=$(date +%s.%N)
    sleep 3
    touch "$dir/stop"
    wait "$load"
    # Log lines: client transaction latency_us script epoch_s epoch_us (the
    # end of the transaction); script 0 is the update.
    cat "$dir"/chunk* | awk -v t0="$t0" -v t1="$t1" -v warm="$WARMUP" '
        $3 !~ /^[0-9]+$/ { next } # failed (deadlock, serialization): counted below
        { t = $5 + $6 / 1e6; ms = $3 / 1000 }
        $4 == 0 { updates++ }
        t >= t0 - 1 && t <= t1 + 2 { print "w", ms }
        t >= t0 - warm + 0.5 && t < t0 - 1 { print "b", ms }
        t >= t0 && t - ms / 1000 <= t1 { print "o", ms }
        END { print "u", updates + 0 }' | sort -k1,1 -k2g >"$dir/latencies"
    stats() { awk -v k="$1" '$1 == k { v[++n] = $2 }
        END { if (!n) { printf "- - 0"; exit } i = int(0.99 * n); if (i < 0.99 * n) i++
              printf "%.1f %.1f %d", v[n], v[i], n }' "$dir/latencies"; }
    local errors
    errors=$(awk '/error|abort|exited/ { n++ } /^number of failed transactions:/ { n += $5 }
                  END { print n + 0 }' "$dir/pgbench.out")
    echo "$(stats w) $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b - a}') $(stats b | cut -d' ' -f1,2) $(stats o | cut -d' ' -f1,3) $(awk '$1 == "u" {print $2}' "$dir/latencies") $errors"
}

check_updates() { # table updates: every update pgbench completed is in the table
    local total
    total=$(sql "SELECT sum(v) FROM $1")
    if [ "$total" = "$2" ]; then echo "          sum(v) = $total = updates completed: none lost"
    else echo "          UPDATES LOST OR EXTRA: sum(v) = $total, updates completed = $2"; fi
}

declare -A result
for rows in $SIZES; do
    mid=$((rows / 2))
    echo
    echo "== $rows rows in the source partition"
    start=$(date +%s)
    make_table ours "$rows"
    make_table naive "$rows"
    write_scripts ours "$rows"
    write_scripts naive "$rows"
    echo "   loaded two copies in $(($(date +%s) - start)) s"

    # Ours, ROUNDS times: split, cutover under load, and (but the last time)
    # roll back without load, so that the next round splits the same data.
    sql "SELECT presplit.manage('ours')" >/dev/null
    worsts=() p99s=() inflight=() locks=() updates=0
    for round in $(seq "$ROUNDS"); do
        start=$(date +%s)
        plan=$(sql "SELECT presplit.split_partition('ours_source', ARRAY[$mid]::bigint[], ramp => false)")
        sql "SELECT presplit.wait($plan, 'switching', '30 min')" >/dev/null
        backfill=$(($(date +%s) - start))
        sql "CHECKPOINT"
        read -r worst p99 n secs bworst bp99 oworst on upd errors \
            < <(measure ours "SELECT presplit.cutover($plan)" "${rows}_ours_$round")
        read -r lock tries < <(sql "SELECT substring(detail from 'held ([0-9.]+) ms') || ' '
                                           || substring(detail from 'in ([0-9]+) tries')
                                      FROM presplit.events WHERE plan_id = $plan AND kind = 'cutover'
                                     ORDER BY id DESC LIMIT 1")
        echo "   ours round $round: plan $plan switching after ${backfill} s of backfill, ANALYZE and verification (no load);" \
            "cutover call ${secs} s, lock held ${lock} ms after ${tries} tries;" \
            "window: worst ${worst} ms, p99 ${p99} ms over ${n} transactions;" \
            "in flight during the call: ${on}, worst ${oworst} ms;" \
            "before it: worst ${bworst} ms, p99 ${bp99} ms; pgbench errors: ${errors}"
        updates=$((updates + upd))
        check_updates ours "$updates"
        worsts+=("$worst") p99s+=("$p99") inflight+=("$oworst") locks+=("$lock${tries:+($tries)}")
        if [ "$round" -lt "$ROUNDS" ]; then
            sql "SELECT presplit.rollback($plan)" >/dev/null
        fi
    done
    echo "   events of the last plan ($plan):"
    sql "SELECT '     ' || to_char(at, 'HH24:MI:SS.MS') || ' ' || kind || ' '
                || coalesce(from_state || ' -> ' || to_state, '') || coalesce(' ' || detail, '')
           FROM presplit.events WHERE plan_id = $plan ORDER BY id"
    retries=$(sql "SELECT count(*) FROM presplit.events WHERE kind IN ('cutover', 'rollback_swap')
                      AND detail NOT LIKE 'lock taken in 1 tries%'")
    [ "$retries" = 0 ] || echo "   swaps that needed more than one try: $retries"
    sql "SELECT presplit.finalize($plan)" >/dev/null

    sql "CHECKPOINT"
    naive_sql="BEGIN;
        LOCK TABLE naive IN EXCLUSIVE MODE;
        CREATE TABLE naive_1 (LIKE naive_source INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE);
        CREATE TABLE naive_2 (LIKE naive_source INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE);
        INSERT INTO naive_1 SELECT * FROM naive_source WHERE id < $mid;
        INSERT INTO naive_2 SELECT * FROM naive_source WHERE id >= $mid;
        ALTER TABLE naive_1 ADD PRIMARY KEY (id);
        ALTER TABLE naive_2 ADD PRIMARY KEY (id);
        CREATE INDEX ON naive_1 (k);
        CREATE INDEX ON naive_2 (k);
        ALTER TABLE naive DETACH PARTITION naive_source;
        ALTER TABLE naive ATTACH PARTITION naive_1 FOR VALUES FROM (0) TO ($mid);
        ALTER TABLE naive ATTACH PARTITION naive_2 FOR VALUES FROM ($mid) TO ($UPPER);
        COMMIT;"
    read -r n_worst n_p99 n secs bworst bp99 oworst on upd errors < <(measure naive "$naive_sql" "${rows}_naive")
    echo "   naive: split ${secs} s;" \
        "window: worst ${n_worst} ms, p99 ${n_p99} ms over ${n} transactions;" \
        "in flight during the split: ${on}, worst ${oworst} ms;" \
        "before it: worst ${bworst} ms, p99 ${bp99} ms; pgbench errors: ${errors}"
    check_updates naive "$upd"
    sql "DROP TABLE ours, naive, naive_source"

    o_max=$(printf '%s\n' "${worsts[@]}" | sort -g | tail -1)
    o_med=$(printf '%s\n' "${worsts[@]}" | median)
    o_p99=$(printf '%s\n' "${p99s[@]}" | median)
    o_inflight=$(printf '%s\n' "${inflight[@]}" | sort -g | tail -1)
    result[$rows]="$o_max $o_med $o_p99 $o_inflight $n_worst $n_p99 ${locks[*]}"
done

echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo); $CLIENTS clients, half reads and half updates by key, 80% on the source partition;"
echo "window: 1 s before to 2 s after the split; ours: $ROUNDS rounds, naive: 1"
printf '%-10s | %-21s | %-8s | %-15s | %-18s | %-22s | %s\n' rows 'ours worst: max (med)' 'ours p99' 'ours in flight' 'naive worst / p99' 'naive/ours worst (med)' 'our lock held, ms (tries)'
for rows in $SIZES; do
    read -r o_max o_med o_p99 o_inflight n_worst n_p99 locks <<<"${result[$rows]}"
    printf '%-10s | %-21s | %-8s | %-15s | %-18s | %-22s | %s\n' "$rows" "$o_max ($o_med)" "$o_p99" "$o_inflight" "$n_worst / $n_p99" \
        "$(awk -v a="$n_worst" -v b="$o_max" -v c="$o_med" 'BEGIN{printf "%.0f (%.0f)", a / b, a / c}')" "$locks"
done
echo "(latencies in ms; ours p99: median over the rounds; ours in flight: the worst transaction that was running at some"
echo " time during the cutover call, worst round; naive/ours: naive worst over our worst round (median round);"
echo " targets: ours worst <= 50 ms and not growing with the size; naive / ours worst >= 100 at 10M rows)"
