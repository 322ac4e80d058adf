#!/usr/bin/env bash
# Wall time of a split's remote copy, one pass against chunked
# (presplit.remote_copy_chunk_rows), one pass by the worker under the slot's
# snapshot (presplit.remote_copy_by_snapshot, the default) against one pass
# by PostgreSQL's table sync (the setting off), and `pg_dump -t | psql` of
# the same partition for reference, side by side, alternating, on two
# throwaway servers on this machine: A with pg_presplit (the source) and
# node2.
# The table t (id bigint, balance bigint, note text md5) is RANGE partitioned
# on id, its primary key on each partition; t_0 holds ROWS rows (ids 1 ..
# ROWS), t_1 is empty. Each run:
#   one pass: presplit.remote_copy_chunk_rows = 0 (table-sync: and
#             presplit.remote_copy_by_snapshot = off);
#             presplit.split_partition('t_0', ARRAY[ROWS/1000 + 1], ramp =>
#             false, servers => ARRAY[NULL, 'node2']): the lowest ROWS/1000
#             rows stay here (a local target), the rest is the remote target,
#             copied by the worker under the slot's snapshot (table-sync:
#             by one table sync of the target's subscription);
#   chunked:  the same with presplit.remote_copy_chunk_rows = ROWS / CHUNKS
#             (default CHUNKS=10): the remote target copied in about CHUNKS
#             chunks of about ROWS / CHUNKS rows each (the first by the
#             worker under the slot's snapshot, each further one by the
#             chunks' one subscription's table sync, refreshed for it), each further chunk
#             folded into the target's subscription once copied: its lag
#             drained, SHARE on t_0 here, the chunk caught up under the lock,
#             the publications altered, commit (the target's subscription
#             keeps streaming throughout);
#   pg_dump:  `pg_dump -t t_0 | psql` to node2 (the key built after the data;
#             the ATTACH PARTITION it ends with fails there, no parent).
# Timed: from the split_partition call until the event remote_target_verified
# (the copy done, then the local target's copy and count and checksum of
# both sides under one cut); split
# into "setup" (the call until the event remote_copy_started: the plan, the
# table on node2, the publication, slot and subscription), "copy" (from there
# until the copy is done: for the one pass the target's subscription state 'r'
# on node2, polled every 0.1 s; chunked, the event of the last chunk folded
# in) and "verify" (from there to the event; chunked, it includes dropping the
# last chunk's replication). rows/s over the rows of the remote target (ROWS -
# ROWS/1000) for the splits, over ROWS for pg_dump. After each chunked run a
# line gives the rows of each chunk (counted here in t_0 between the bounds
# its events name) and, from the fold events, the rounds that drained the lag,
# the tries that took SHARE and how long the lock was held (min / median / max
# over the chunks folded in). Between runs each plan is cancelled (rolled back
# if it went on to switching), no publication, replication slot or
# subscription is left on either server, and the table on node2 is dropped.
# The order alternates between runs (odd: one pass, table sync, chunked,
# pg_dump; even: pg_dump, chunked, table sync, one pass). Before the first
# run, one pg_dump | psql not counted: node2's first large COPY creates its
# WAL segments, which a server that has run for a while recycles. Before each split the bench waits 6 s: node2's
# logical replication launcher starts workers at most once per
# wal_retrieve_retry_interval (PostgreSQL's default 5 s), so a split right
# after the previous run's workers would wait for it. The chunked copy starts
# one more apply worker there (the chunks' subscription, for its first
# chunk); each further chunk is a table sync that subscription's running
# apply worker starts. WAL_RETRIEVE_RETRY_INTERVAL (e.g. 100ms; default
# unset: PostgreSQL's 5s) sets it on node2.
# Usage: PG_BIN=<bin dir with pg_presplit installed> bench/remote_copy_chunks.sh
# (as root or a user who can run initdb); ROWS (default 1000000), RUNS
# (default 2), CHUNKS (default 10), BENCH_PORT (default 56432; node2 the
# next port), WAL_RETRIEVE_RETRY_INTERVAL (node2). About 4 minutes with the
# defaults on 2 cores.
BENCH_PORT=${BENCH_PORT:-56432}
source "$(dirname "$0")/lib.sh"
ROWS=${ROWS:-1000000}
RUNS=${RUNS:-2}
CHUNKS=${CHUNKS:-10}
CHUNK_ROWS=$((ROWS / CHUNKS))
SPLIT=$((ROWS / 1000 + 1)) # ids 1 .. SPLIT-1 stay here
REMOTE_ROWS=$((ROWS - SPLIT + 1))
PORT_B=$((BENCH_PORT + 1))
B=(-h "$BENCH_DIR" -p "$PORT_B" -U postgres -d postgres -X -q -At -v ON_ERROR_STOP=1)
export PGOPTIONS="-c client_min_messages=warning"

start_cluster "shared_preload_libraries = 'pg_presplit'" "wal_level = logical" \
    "max_wal_senders = 20" "max_replication_slots = 20" \
    "presplit.backfill_max_rows_per_second = 0" \
    "presplit.publisher_conninfo = 'host=$BENCH_DIR port=$BENCH_PORT user=postgres'"
stop_both() {
    stop_second_cluster node2
    stop_cluster
}
trap stop_both EXIT
start_second_cluster node2 "$PORT_B" "wal_level = logical" "max_wal_senders = 20" \
    "max_replication_slots = 20" \
    ${WAL_RETRIEVE_RETRY_INTERVAL:+"wal_retrieve_retry_interval = '$WAL_RETRIEVE_RETRY_INTERVAL'"}
b_sql() { psql "${B[@]}" -c "$1"; }

sql "CREATE EXTENSION pg_presplit"
sql "CREATE EXTENSION postgres_fdw"
sql "CREATE SERVER node2 FOREIGN DATA WRAPPER postgres_fdw
       OPTIONS (host '$BENCH_DIR', port '$PORT_B', dbname 'postgres', connect_timeout '10')"
sql "CREATE USER MAPPING FOR CURRENT_USER SERVER node2"
echo "server: $(sql "SHOW server_version"); pg_presplit from $(sql "SELECT setting FROM pg_config WHERE name = 'PKGLIBDIR'");" \
    "node2: wal_retrieve_retry_interval = $(b_sql "SHOW wal_retrieve_retry_interval")"

# The primary key on each partition: PostgreSQL attaches no foreign table to
# a table with a unique index of its own.
sql "CREATE TABLE t (id bigint NOT NULL, balance bigint NOT NULL, note text) PARTITION BY RANGE (id)"
sql "CREATE TABLE t_0 PARTITION OF t (PRIMARY KEY (id)) FOR VALUES FROM (1) TO ($((ROWS + 1)))"
sql "CREATE TABLE t_1 PARTITION OF t (PRIMARY KEY (id)) FOR VALUES FROM ($((ROWS + 1))) TO ($((2 * ROWS + 1)))"
sql "INSERT INTO t SELECT g, 1000, md5(g::text) FROM generate_series(1, $ROWS) g"
sql "VACUUM ANALYZE t"
sql "SELECT presplit.manage('t')" >/dev/null
echo "rows: $ROWS in t_0 ($(sql "SELECT pg_size_pretty(pg_total_relation_size('t_0'))")); split at $SPLIT:" \
    "$((SPLIT - 1)) rows stay here, $REMOTE_ROWS go to node2; chunked: presplit.remote_copy_chunk_rows = $CHUNK_ROWS"

now() { date +%s.%N; }
replication_objects() { # psql arguments...
    psql -X -q -At "$@" -c "SELECT coalesce((SELECT string_agg(pubname, ',') FROM pg_publication), '')
        || ';' || coalesce((SELECT string_agg(slot_name, ',') FROM pg_replication_slots), '')
        || ';' || coalesce((SELECT string_agg(subname, ',') FROM pg_subscription), '')"
}
nothing_left() {
    local a b
    for _ in $(seq 600); do
        a=$(replication_objects) b=$(replication_objects "${B[@]}")
        [ "$a" = ";;" ] && [ "$b" = ";;" ] && return 0
        sleep 0.1
    done
    echo "REPLICATION LEFT: source $a; node2 $b" >&2
    exit 1
}
event_epoch() { # plan kind [detail LIKE]
    sql "SELECT extract(epoch FROM at) FROM presplit.events
          WHERE plan_id = $1 AND kind = '$2' AND detail LIKE '${3:-%}' ORDER BY id DESC LIMIT 1"
}
history() { sql "SELECT kind || ': ' || coalesce(detail, '') FROM presplit.events WHERE plan_id = $1 ORDER BY id"; }
report() { # name seconds rows [extra]
    awk -v n="$1" -v s="$2" -v r="$3" -v x="${4:-}" \
        'BEGIN { printf "  %-10s %7.2f s  %9.0f rows/s  %s\n", n, s, r / s, x }'
}
# The chunks of a chunked plan, from its remote_copy_chunk events (before the
# plan is cancelled): the rows of each (t_0 here counted between the bounds
# the events name; the first chunk below the first fold's), and each fold's
# rounds to drain the lag, tries to lock SHARE and the lock's hold.
chunk_folds() { # plan
    sql "WITH f AS (
           SELECT m[1]::bigint AS lo, m[2]::bigint AS hi, m[3]::int AS rounds,
                  m[4]::int AS tries, m[5]::float8 AS held
             FROM presplit.events, regexp_match(detail,
                  'the rows from (\d+) (?:below (\d+) |on )copied;.* the lag drained in (\d+) rounds?, '
                  '[0-9.]+ ms; the source locked SHARE in (\d+) tr(?:y|ies), held ([0-9.]+) ms') m
            WHERE plan_id = $1 AND kind = 'remote_copy_chunk'),
         c AS (SELECT (SELECT count(*) FROM ONLY t_0 WHERE id >= f.lo AND (f.hi IS NULL OR id < f.hi)) AS n, f.*
                 FROM f)
         SELECT format('%s chunks, rows: the first %s, the %s folded in %s / %s / %s (min / median / max);'
                       ' folds: the lag drained in %s..%s rounds, SHARE in %s..%s tries, held %s / %s / %s ms'
                       ' (min / median / max)',
                       count(*) + 1,
                       (SELECT count(*) FROM ONLY t_0 WHERE id >= $SPLIT AND id < min(lo)), count(*),
                       min(n), percentile_disc(0.5) WITHIN GROUP (ORDER BY n), max(n),
                       min(rounds), max(rounds), min(tries), max(tries), round(min(held)::numeric, 1),
                       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY held))::numeric, 1),
                       round(max(held)::numeric, 1))
           FROM c" | sed 's/^/             /'
}
declare -A TOTALS COPIES

split_run() { # label chunk_rows by_snapshot
    local label=$1 chunk_rows=$2 plan start t_copy t_verified state chunks
    set_config presplit.remote_copy_chunk_rows "$chunk_rows"
    set_config presplit.remote_copy_by_snapshot "$3"
    sleep 6 # the worker has reloaded; node2's launcher may start workers again
    sql "CHECKPOINT"; b_sql "CHECKPOINT"
    start=$(now)
    plan=$(sql "SELECT presplit.split_partition('t_0', ARRAY['$SPLIT'], ramp => false,
                                                servers => ARRAY[NULL, 'node2'])")
    t_copy=""
    while :; do
        t_verified=$(event_epoch "$plan" remote_target_verified)
        [ -n "$t_verified" ] && break
        state=$(sql "SELECT state FROM presplit.plans WHERE id = $plan")
        [ "$state" = failed ] && { echo "plan $plan failed:"; history "$plan"; exit 1; }
        if [ -z "$t_copy" ] && [ "$chunk_rows" = 0 ] &&
            [ "$(b_sql "SELECT count(*) > 0 AND bool_and(r.srsubstate = 'r') FROM pg_subscription_rel r
                          JOIN pg_subscription s ON s.oid = r.srsubid WHERE s.subname LIKE 'presplit\_split\_${plan}\_%'")" = t ]; then
            t_copy=$(now)
        fi
        sleep 0.1
    done
    if [ "$chunk_rows" != 0 ]; then
        t_copy=$(event_epoch "$plan" remote_copy_chunk '%(the last chunk)%')
    elif [ -n "$t_copy" ] && [ "$(echo "$t_copy > $t_verified" | bc)" = 1 ]; then
        t_copy=$t_verified # seen in the poll after the event
    fi
    chunks=$(sql "SELECT count(*) FROM presplit.events WHERE plan_id = $plan AND kind = 'remote_copy_chunk'")
    local total setup copy verify rows_there t_started
    t_started=$(event_epoch "$plan" remote_copy_started)
    total=$(echo "$t_verified - $start" | bc)
    setup=$(echo "$t_started - $start" | bc)
    copy=$(echo "${t_copy:-$t_verified} - $t_started" | bc)
    verify=$(echo "$t_verified - ${t_copy:-$t_verified}" | bc)
    rows_there=$(b_sql "SELECT count(*) FROM public.t_0")
    report "$label" "$total" "$REMOTE_ROWS" "(plan $plan: setup $(printf %.2f "$setup") s, copy $(printf %.2f "$copy") s, verify $(printf %.2f "$verify") s; $chunks chunks folded in; $rows_there rows on node2)"
    if [ "$chunks" != 0 ]; then chunk_folds "$plan"; fi
    TOTALS[$label]+="$total " COPIES[$label]+="$copy "
    state=$(sql "SELECT state FROM presplit.plans WHERE id = $plan")
    if [ "$state" = synced ] || [ "$state" = preparing ] || [ "$state" = backfilling ]; then
        sql "SELECT presplit.cancel($plan)" >/dev/null
    else
        sql "SELECT presplit.rollback($plan)" >/dev/null
    fi
    nothing_left
    b_sql "DROP TABLE IF EXISTS public.t_0"
}

dump_run() {
    local start total rows_there
    sql "CHECKPOINT"; b_sql "CHECKPOINT"
    start=$(now)
    "$PG_BIN/pg_dump" -h "$BENCH_DIR" -p "$BENCH_PORT" -U postgres -t t_0 postgres |
        psql -h "$BENCH_DIR" -p "$PORT_B" -U postgres -d postgres -X -q >/dev/null 2>&1 || true
    total=$(echo "$(now) - $start" | bc)
    rows_there=$(b_sql "SELECT count(*) FROM public.t_0")
    report pg_dump "$total" "$ROWS" "($rows_there rows on node2)"
    TOTALS[pg_dump]+="$total "
    b_sql "DROP TABLE public.t_0"
}

# Not counted: node2's first COPY of this size creates its WAL segments,
# which a server that has run for a while recycles.
echo "warm-up (not counted):"
dump_run
TOTALS[pg_dump]=""
for run in $(seq "$RUNS"); do
    echo "run $run:"
    if [ $((run % 2)) = 1 ]; then
        split_run one-pass 0 on
        split_run table-sync 0 off
        split_run chunked "$CHUNK_ROWS" on
        dump_run
    else
        dump_run
        split_run chunked "$CHUNK_ROWS" on
        split_run table-sync 0 off
        split_run one-pass 0 on
    fi
done

echo
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); two servers on it;" \
    "$ROWS rows, $REMOTE_ROWS to the remote target, $RUNS runs"
med() { tr ' ' '\n' <<<"$1" | grep . | sort -g |
    awk '{ v[NR] = $1 } END { printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
one=$(med "${TOTALS[one-pass]}") chk=$(med "${TOTALS[chunked]}") dump=$(med "${TOTALS[pg_dump]}")
one_copy=$(med "${COPIES[one-pass]}") chk_copy=$(med "${COPIES[chunked]}")
sync=$(med "${TOTALS[table-sync]}") sync_copy=$(med "${COPIES[table-sync]}")
rate() { awk -v r="$1" -v s="$2" 'BEGIN { printf "%.0f", r / s }'; }
printf '%-40s | %-9s | %-11s | %-9s | %-11s\n' "median of $RUNS" "to verify" "rows/s" "copy" "rows/s"
printf '%-40s | %-9s | %-11s | %-9s | %-11s\n' "one pass, by snapshot (chunk_rows = 0)" "$one s" "$(rate "$REMOTE_ROWS" "$one")" "$one_copy s" "$(rate "$REMOTE_ROWS" "$one_copy")"
printf '%-40s | %-9s | %-11s | %-9s | %-11s\n' "one pass, table sync (by_snapshot off)" "$sync s" "$(rate "$REMOTE_ROWS" "$sync")" "$sync_copy s" "$(rate "$REMOTE_ROWS" "$sync_copy")"
printf '%-40s | %-9s | %-11s | %-9s | %-11s\n' "chunked (chunk_rows = $CHUNK_ROWS)" "$chk s" "$(rate "$REMOTE_ROWS" "$chk")" "$chk_copy s" "$(rate "$REMOTE_ROWS" "$chk_copy")"
printf '%-40s | %-9s | %-11s | %-9s | %-11s\n' "pg_dump -t t_0 | psql" "$dump s" "$(rate "$ROWS" "$dump")" "-" "-"
rate_ratio() { # rows_a secs_a rows_b secs_b: rate a / rate b
    awk -v ra="$1" -v sa="$2" -v rb="$3" -v sb="$4" 'BEGIN { printf "%.2f", (ra / sa) / (rb / sb) }'
}
echo "chunked / one pass (time): to verify $(ratio "$chk" "$one")x, copy $(ratio "$chk_copy" "$one_copy")x"
echo "rate against pg_dump | psql (goal >= 0.5x): one pass $(rate_ratio "$REMOTE_ROWS" "$one" "$ROWS" "$dump")x" \
    "(copy $(rate_ratio "$REMOTE_ROWS" "$one_copy" "$ROWS" "$dump")x)," \
    "table sync $(rate_ratio "$REMOTE_ROWS" "$sync" "$ROWS" "$dump")x" \
    "(copy $(rate_ratio "$REMOTE_ROWS" "$sync_copy" "$ROWS" "$dump")x), chunked $(rate_ratio "$REMOTE_ROWS" "$chk" "$ROWS" "$dump")x" \
    "(copy $(rate_ratio "$REMOTE_ROWS" "$chk_copy" "$ROWS" "$dump")x)"
