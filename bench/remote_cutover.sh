#!/usr/bin/env bash
# Client stall of a move's and a split's cutover to another server (issue
# 14), ours against the naive way, side by side in one run, on two throwaway
# servers A (with pg_presplit) and B on this machine:
#   ours:  presplit.move_partition('ours_0', 'b') with presplit.backfill_paused
#          on until PostgreSQL's initial sync is over (no load); then, under
#          load, backfill_paused off: the verification (the partition locked
#          SHARE only for the cut -- a snapshot here, B caught up, a snapshot
#          on B --, then one scan of each side without it) and the cutover (ACCESS EXCLUSIVE,
#          wait for B to confirm, detach, attach a foreign table); then, under
#          the same load, rollback_move after the cutover (the reverse
#          direction catches up, the foreign table is swapped for the kept
#          partition). ROUNDS times (default 1), each twice: with
#          presplit.remote_cutover_warmup = 0 (cold: each client's first
#          statement after the cutover opens its postgres_fdw connection to
#          B) and with WARMUP_MS (default 500: the clients open them during
#          the warm-up, before the lock).
#   split: presplit.split_partition('split_0', ARRAY[ROWS/2], ramp => false,
#          servers => ARRAY[NULL, 'b']) (the upper half onto B) copied and
#          verified with no load; then, under load, presplit.cutover(plan):
#          the warm-up (WARMUP_MS), the lag drained without a lock, ACCESS
#          EXCLUSIVE, wait for B to confirm, the local shadow and a foreign
#          table attached. Twice, on two copies: with the warm-up alone
#          (no read went through the foreign table before) and with
#          set_weight(plan, 50) first, as a ramp does (routed reads open
#          each client's postgres_fdw connection to B before the lock; the
#          cutover once B shows CLIENTS of them).
#   naive: one transaction on a copy of the same table, under the same load:
#          LOCK the table IN EXCLUSIVE MODE (writes wait, reads go on;
#          without it the updates made during the copy would be lost; the
#          partition alone would deadlock the DETACH with the writers, who
#          hold the parent),
#          `pg_dump -t | psql` to B, DETACH, CREATE FOREIGN TABLE, ATTACH
#          (no scan), COMMIT.
# Load: pgbench, CLIENTS clients, half reads and half updates by primary key,
# 80% of the keys in the moved partition, every transaction logged. For each
# step, the worst and the p99 latency of the transactions that end in its
# window: ours' cutover from its event in presplit.events (logged under the
# lock at the end of the swap, so every transaction the lock held up ends
# after it) to 2 s after it -- so not the verification, shown on its own --,
# the split's cutover, the rollback and the naive move from their
# call to 2 s after it. Target: ours' cutover worst <= 50 ms. B logs its
# connections (log_connections, milliseconds): each split's step lists when
# postgres_fdw connections were authorized there, to set beside its slowest
# transactions.
# B runs with wal_writer_delay = WAL_WRITER_DELAY (default 10ms): the
# subscription commits asynchronously there, and its apply worker confirms a
# flush when it next wakes, every wal_writer_delay (docs/multi_server.md).
# Usage: bench/remote_cutover.sh (as root or a user who can run initdb;
# pg_presplit installed in PG_BIN). ROWS (default 1000000) in the moved
# partition. About 5 minutes.
source "$(dirname "$0")/lib.sh"
ROWS=${ROWS:-1000000}
CLIENTS=${CLIENTS:-4}
ROUNDS=${ROUNDS:-1}
WARMUP=${WARMUP:-3}
WARMUP_MS=${WARMUP_MS:-500}
WAL_WRITER_DELAY=${WAL_WRITER_DELAY:-10ms}
OTHER_ROWS=200000
UPPER=100000000
PORT_B=$((BENCH_PORT + 1))
B=(-h "$BENCH_DIR" -p "$PORT_B" -U postgres -d postgres -X -q -At -v ON_ERROR_STOP=1)

start_cluster "shared_preload_libraries = 'pg_presplit'" "wal_level = logical" \
    "max_wal_senders = 10" "max_replication_slots = 10" "presplit.remote_catchup_timeout = 10000" \
    "presplit.publisher_conninfo = 'host=$BENCH_DIR port=$BENCH_PORT user=postgres'"
stop_both() {
    stop_second_cluster b
    stop_cluster
}
trap stop_both EXIT
start_second_cluster b "$PORT_B" "wal_level = logical" "max_wal_senders = 10" \
    "max_replication_slots = 10" "wal_writer_delay = $WAL_WRITER_DELAY" \
    "log_connections = on" "log_line_prefix = '%m [%p] '" "log_timezone = 'UTC'"
b_sql() { psql "${B[@]}" -c "$1"; }

sql "CREATE EXTENSION pg_presplit"
sql "CREATE EXTENSION postgres_fdw"
# connect_timeout: the warm-up connects only to a server that bounds it.
sql "CREATE SERVER b FOREIGN DATA WRAPPER postgres_fdw
       OPTIONS (host '$BENCH_DIR', port '$PORT_B', dbname 'postgres', connect_timeout '10')"
sql "CREATE USER MAPPING FOR postgres SERVER b OPTIONS (user 'postgres')"
echo "server: $(sql "SHOW server_version"); pg_presplit from $(sql "SELECT setting FROM pg_config WHERE name = 'PKGLIBDIR'")"

make_table() { # name: the moved partition name_0 (ROWS), the other name_1
    # The primary key on each partition: PostgreSQL attaches no foreign
    # table to a table with a unique index of its own.
    sql "CREATE TABLE $1 (id bigint NOT NULL, k int NOT NULL, v int NOT NULL, pad text)
         PARTITION BY RANGE (id)"
    sql "CREATE TABLE $1_0 PARTITION OF $1 (PRIMARY KEY (id)) FOR VALUES FROM (0) TO ($UPPER)"
    sql "CREATE TABLE $1_1 PARTITION OF $1 (PRIMARY KEY (id)) FOR VALUES FROM ($UPPER) TO ($((2 * UPPER)))"
    sql "INSERT INTO $1 SELECT g, (g::bigint * 7919) % 100000, 0, repeat('x', 60)
           FROM generate_series(1, $ROWS) g"
    sql "INSERT INTO $1 SELECT $UPPER + g, g % 1000, 0, repeat('x', 60)
           FROM generate_series(1, $OTHER_ROWS) g"
    sql "VACUUM ANALYZE $1"
    local hot="\\set r random(1, 100)
\\if :r <= 80
\\set id random(1, $ROWS)
\\else
\\set id random($((UPPER + 1)), $((UPPER + OTHER_ROWS)))
\\endif"
    printf '%s\nSELECT v FROM %s WHERE id = :id;\n' "$hot" "$1" >"$BENCH_DIR/$1_read.sql"
    printf '%s\nUPDATE %s SET v = v + 1 WHERE id = :id;\n' "$hot" "$1" >"$BENCH_DIR/$1_update.sql"
    chmod 644 "$BENCH_DIR/$1_read.sql" "$BENCH_DIR/$1_update.sql"
}

# The load on a table, in pgbench runs of 10 s until load_stop; every
# transaction logged in $BENCH_DIR/run_<name>.
load_start() { # table run_name
    LOAD_DIR=$BENCH_DIR/run_$2
    rm -rf "$LOAD_DIR" && mkdir -p "$LOAD_DIR" && chmod 777 "$LOAD_DIR"
    (cd "$LOAD_DIR" && chunk=0 && while [ ! -f stop ]; do
        chunk=$((chunk + 1))
        as_pg_user "$PG_BIN/pgbench" -n -h "$PGHOST" -p "$PGPORT" -U postgres -c "$CLIENTS" -j 2 \
            -T 10 -l --log-prefix="chunk$chunk" \
            -f "$BENCH_DIR/$1_update.sql@1" -f "$BENCH_DIR/$1_read.sql@1" postgres \
            >>pgbench.out 2>&1 || echo "pgbench exited with $?" >>pgbench.out
    done) &
    LOAD_PID=$!
    sleep "$WARMUP"
}
load_stop() {
    touch "$LOAD_DIR/stop"
    wait "$LOAD_PID"
}
# "worst_ms p99_ms transactions" of the transactions that end in [from, to]
# (epoch seconds). Log lines: client transaction latency_us script epoch_s
# epoch_us (the end of the transaction).
window() { # from to
    cat "$LOAD_DIR"/chunk* | awk -v a="$1" -v b="$2" '
        $3 !~ /^[0-9]+$/ { next }
        { t = $5 + $6 / 1e6 } t >= a && t <= b { print $3 / 1000 }' | sort -g |
        awk '{ v[++n] = $1 } END { if (!n) { print "- - 0"; exit } i = int(0.99 * n); if (i < 0.99 * n) i++
                printf "%.1f %.1f %d\n", v[n], v[i], n }'
}
# "latency@end" of the SLOWEST (default 4) transactions that end in [from,
# to], in ms, the end relative to `from`: one per client just after a
# cutover is each client's first statement through the foreign table (its
# postgres_fdw connection to B), not a wait for the lock.
slowest() { # from to
    cat "$LOAD_DIR"/chunk* | awk -v a="$1" -v b="$2" '
        $3 !~ /^[0-9]+$/ { next }
        { t = $5 + $6 / 1e6 } t >= a && t <= b { printf "%.1f %.0f c%d\n", $3 / 1000, (t - a) * 1000, $1 }' |
        sort -gr | head -"${SLOWEST:-4}" | awk '{ printf "%s ms at +%s ms (%s); ", $1, $2, $3 }'
}
# "+ms(ms)" of each postgres_fdw connection B authorized in [from, to]: when
# (from `from`) and how long after B received it (the fork and the
# authentication); B logs connections with milliseconds. One per client
# after a cold cutover.
fdw_connections() { # from to
    local line pid at received out=""
    while read -r line; do
        at=$(date -d "$(echo "$line" | cut -d' ' -f1-3)" +%s.%N)
        pid=$(echo "$line" | cut -d' ' -f4)
        received=$(grep -F "$pid LOG:  connection received" "$BENCH_DIR/b.log" | tail -1 | cut -d' ' -f1-3)
        received=$(date -d "$received" +%s.%N)
        if [ "$(echo "$at >= $1 && $at <= $2" | bc)" = 1 ]; then
            out+="+$(echo "($at - $1) * 1000 / 1" | bc)($(echo "($at - $received) * 1000 / 1" | bc)) "
        fi
    done < <(grep 'connection authorized:.*application_name=postgres_fdw' "$BENCH_DIR/b.log")
    echo "${out:-none}"
}
# Updates pgbench completed (script 0), to hold against sum(v).
load_updates() { cat "$LOAD_DIR"/chunk* | awk '$3 ~ /^[0-9]+$/ && $4 == 0 { n++ } END { print n + 0 }'; }
check_updates() { # table updates
    local total
    total=$(sql "SELECT sum(v) FROM $1")
    if [ "$total" = "$2" ]; then echo "sum(v) = $total = updates completed: none lost"
    else echo "UPDATES LOST OR EXTRA: sum(v) = $total, updates completed = $2"; fi
}
load_errors() {
    awk '/error|abort|exited/ { n++ } /^number of failed transactions:/ { n += $5 } END { print n + 0 }' \
        "$LOAD_DIR/pgbench.out"
}
now() { date +%s.%N; }
event_epoch() { # kind move: when the worker logged it (clock_timestamp())
    sql "SELECT extract(epoch FROM at) FROM presplit.events
          WHERE kind = '$1' AND detail LIKE 'move $2:%' ORDER BY id DESC LIMIT 1"
}
event_detail() { sql "SELECT detail FROM presplit.events WHERE kind = '$1' AND detail LIKE 'move $2:%' ORDER BY id DESC LIMIT 1"; }

start=$(date +%s)
make_table ours
make_table naive
make_table split
make_table split_warm
echo "loaded three copies of $ROWS + $OTHER_ROWS rows in $(($(date +%s) - start)) s"

cut_worsts=() cut_p99s=() cold_worsts=() cold_p99s=() rb_worsts=() updates=0
for round in $(seq "$ROUNDS"); do
  for warmup_ms in 0 "$WARMUP_MS"; do
    set_config presplit.remote_cutover_warmup "$warmup_ms"
    set_config presplit.backfill_paused on
    start=$(date +%s)
    move=$(sql "SELECT presplit.move_partition('ours_0', 'b')")
    until [ "$(b_sql "SELECT bool_and(srsubstate = 'r') FROM pg_subscription_rel")" = t ]; do sleep 0.2; done
    copy=$(($(date +%s) - start))
    sql "CHECKPOINT"
    load_start ours "ours_${round}_$warmup_ms"
    baseline=$(window "$(echo "$(now) - $WARMUP + 0.5" | bc)" "$(now)")
    t0=$(now)
    set_config presplit.backfill_paused off
    until [ "$(sql "SELECT reversing FROM presplit.remote_moves WHERE id = $move AND state = 'cut_over'")" = t ] &&
        [ -n "$(event_epoch remote_reverse "$move")" ]; do sleep 0.1; done
    sleep 2
    t_cut=$(event_epoch remote_cutover "$move")
    read -r v_worst v_p99 v_n <<<"$(window "$t0" "$t_cut")"
    read -r c_worst c_p99 c_n <<<"$(window "$t_cut" "$(echo "$t_cut + 2" | bc)")"
    t1=$(now)
    sql "SELECT presplit.rollback_move($move)"
    t2=$(now)
    sleep 2
    read -r r_worst r_p99 r_n <<<"$(window "$t1" "$(echo "$t2 + 2" | bc)")"
    load_stop
    echo "ours round $round, presplit.remote_cutover_warmup = $warmup_ms ms: move $move, initial sync ${copy} s (no load); before: worst/p99 ${baseline% *} ms"
    echo "   verification (SHARE lock for the cut, scans without it): worst ${v_worst} ms, p99 ${v_p99} ms over ${v_n} transactions; $(event_detail remote_move_verified "$move" | sed 's/^.*; the cut: /the cut: /')"
    echo "   cutover: worst ${c_worst} ms, p99 ${c_p99} ms over ${c_n} transactions; $(event_detail remote_cutover "$move" | sed 's/^move [0-9]*: //')"
    echo "   slowest: $(slowest "$t_cut" "$(echo "$t_cut + 2" | bc)")"
    echo "   postgres_fdw connections authorized on B (from the event): $(fdw_connections "$t_cut" "$(echo "$t_cut + 2" | bc)")"
    echo "   rollback after the cutover: call $(echo "$t2 - $t1" | bc | cut -c1-5) s; worst ${r_worst} ms, p99 ${r_p99} ms over ${r_n}; $(event_detail remote_rollback "$move" | sed 's/^move [0-9]*: //')"
    updates=$((updates + $(load_updates)))
    echo "   pgbench errors: $(load_errors); after the rollback: $(check_updates ours "$updates")"
    if [ "$warmup_ms" = 0 ]; then cold_worsts+=("$c_worst") cold_p99s+=("$c_p99")
    else cut_worsts+=("$c_worst") cut_p99s+=("$c_p99"); fi
    rb_worsts+=("$r_worst")
    until [ "$(sql "SELECT NOT reversing FROM presplit.remote_moves WHERE id = $move")" = t ]; do sleep 0.2; done
  done
done

# The split with its upper half onto B: copied and verified with no load,
# then cut over under it; with the warm-up alone (no weighted reads before
# the cutover: the clients open their postgres_fdw connections to B during
# the warm-up) and warm (set_weight 50 first, so the routed reads have
# opened every client's connection before the lock, as a ramp does; the
# cutover once B shows CLIENTS of them).
set_config presplit.backfill_paused off
split_run() { # table warm(0|1)
    local table=$1 warm=$2 plan copy t1 t2 worst p99 n label fdw
    sql "SELECT presplit.manage('$table')" >/dev/null
    start=$(date +%s)
    plan=$(sql "SELECT presplit.split_partition('${table}_0', ARRAY['$((ROWS / 2))'], ramp => false,
                                                servers => ARRAY[NULL, 'b'])")
    # ramp => false: verified, the plan waits in synced or switching (weight 0).
    until [[ "$(sql "SELECT state FROM presplit.plans WHERE id = $plan")" =~ ^(synced|switching)$ ]]; do
        [ "$(sql "SELECT state FROM presplit.plans WHERE id = $plan")" = failed ] &&
            { sql "SELECT kind, detail FROM presplit.events WHERE plan_id = $plan ORDER BY id"; exit 1; }
        sleep 0.5
    done
    copy=$(($(date +%s) - start))
    sql "CHECKPOINT"
    load_start "$table" "$table"
    label="warm-up ${WARMUP_MS} ms, no routed reads before"
    if [ "$warm" = 1 ]; then
        sql "SELECT presplit.set_weight($plan, 50)" >/dev/null
        for _ in $(seq 300); do
            fdw=$(b_sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'postgres_fdw'")
            [ "$fdw" -ge "$CLIENTS" ] && break
            sleep 0.1
        done
        label="warm: weight 50 before, $fdw postgres_fdw sessions on B at the cutover"
    fi
    t1=$(now)
    sql "SELECT presplit.cutover($plan)" >/dev/null
    t2=$(now)
    sleep 2
    read -r worst p99 n <<<"$(window "$t1" "$(echo "$t2 + 2" | bc)")"
    load_stop
    echo "split ($label): plan $plan, copied and verified in ${copy} s (no load); cutover call $(echo "$t2 - $t1" | bc | cut -c1-5) s (the lag drained, then the lock);" \
        "worst ${worst} ms, p99 ${p99} ms over ${n} transactions; pgbench errors: $(load_errors)"
    echo "   $(sql "SELECT detail FROM presplit.events WHERE plan_id = $plan AND kind = 'cutover' ORDER BY id DESC LIMIT 1")"
    echo "   $(sql "SELECT detail FROM presplit.events WHERE plan_id = $plan AND kind = 'remote_caught_up' ORDER BY id DESC LIMIT 1")"
    echo "   slowest (end from the call): $(slowest "$t1" "$(echo "$t2 + 2" | bc)")"
    echo "   postgres_fdw connections authorized on B (from the call): $(fdw_connections "$t1" "$(echo "$t2 + 2" | bc)")"
    echo "   $(check_updates "$table" "$(load_updates)"); rows on B: $(b_sql "SELECT count(*) FROM ${table}_0")"
    SPLIT_WORST[$warm]=$worst SPLIT_P99[$warm]=$p99
}
SPLIT_WORST=() SPLIT_P99=()
split_run split 0
split_run split_warm 1

# The naive way, under the same load.
sql "CHECKPOINT"
load_start naive naive
naive_sql="BEGIN;
LOCK TABLE naive IN EXCLUSIVE MODE;
\\! $PG_BIN/pg_dump -h $BENCH_DIR -p $BENCH_PORT -U postgres -t naive_0 postgres 2>/dev/null | $PG_BIN/psql -h $BENCH_DIR -p $PORT_B -U postgres -d postgres -X -q >/dev/null 2>&1
CREATE FOREIGN TABLE naive_0_b (id bigint NOT NULL, k int NOT NULL, v int NOT NULL, pad text)
    SERVER b OPTIONS (table_name 'naive_0');
ALTER TABLE naive DETACH PARTITION naive_0;
ALTER TABLE naive ATTACH PARTITION naive_0_b FOR VALUES FROM (0) TO ($UPPER);
COMMIT;"
t1=$(now)
echo "$naive_sql" | psql -X -q -v ON_ERROR_STOP=1 >/dev/null
t2=$(now)
sleep 2
read -r n_worst n_p99 n_n <<<"$(window "$t1" "$(echo "$t2 + 2" | bc)")"
load_stop
echo "naive: the move $(echo "$t2 - $t1" | bc | cut -c1-5) s; worst ${n_worst} ms, p99 ${n_p99} ms over ${n_n} transactions; pgbench errors: $(load_errors);" \
    "rows there: $(b_sql "SELECT count(*) FROM naive_0"); $(check_updates naive "$(load_updates)")"

echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), load average $(cut -d' ' -f1-3 /proc/loadavg); two servers on it (B: wal_writer_delay = $WAL_WRITER_DELAY); $CLIENTS clients, half reads and half updates by key, 80% on the moved partition of $ROWS rows"
printf '%-34s | %-10s | %-8s\n' 'client stall (ms)' worst p99
printf '%-34s | %-10s | %-8s\n' "ours: move, no warm-up (max of $ROUNDS)" "$(printf '%s\n' "${cold_worsts[@]}" | sort -g | tail -1)" "$(printf '%s\n' "${cold_p99s[@]}" | sort -g | tail -1)"
printf '%-34s | %-10s | %-8s\n' "ours: move, warm-up $WARMUP_MS ms (max)" "$(printf '%s\n' "${cut_worsts[@]}" | sort -g | tail -1)" "$(printf '%s\n' "${cut_p99s[@]}" | sort -g | tail -1)"
printf '%-34s | %-10s | %-8s\n' "ours: rollback after it (max)" "$(printf '%s\n' "${rb_worsts[@]}" | sort -g | tail -1)" "-"
printf '%-34s | %-10s | %-8s\n' "ours: split onto B, warm-up" "${SPLIT_WORST[0]}" "${SPLIT_P99[0]}"
printf '%-34s | %-10s | %-8s\n' "ours: split onto B, weight 50 first" "${SPLIT_WORST[1]}" "${SPLIT_P99[1]}"
printf '%-34s | %-10s | %-8s\n' "naive: pg_dump | psql under a lock" "$n_worst" "$n_p99"
echo "naive/ours (worst): move $(echo "$n_worst / $(printf '%s\n' "${cut_worsts[@]}" | sort -g | tail -1)" | bc -l | cut -c1-6), split $(echo "$n_worst / ${SPLIT_WORST[0]}" | bc -l | cut -c1-6), split with weight 50 first $(echo "$n_worst / ${SPLIT_WORST[1]}" | bc -l | cut -c1-6)"
echo "move without/with the warm-up (worst): $(echo "$(printf '%s\n' "${cold_worsts[@]}" | sort -g | tail -1) / $(printf '%s\n' "${cut_worsts[@]}" | sort -g | tail -1)" | bc -l | cut -c1-6)"
echo "(target: ours' cutover worst <= 50 ms; windows: from the start of the step to 2 s after it)"
