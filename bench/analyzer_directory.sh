#!/usr/bin/env bash
# The analyzer's directory with many partitions: presplit.analyzer_max_partitions
# = 100 000 (CAPACITY: a cap; before issue 12 a reservation), 3 000
# partitions in use (10 managed tables of 300), every statement recorded. Times, from
# psql's \timing, of one SELECT count(*) over each table (all its partitions
# scanned, so 300 partitions recorded per statement), summed over the 10:
#   claim    right after a start with no statistics: every partition claims
#            an entry;
#   lookup   the same statements from a new session: every partition is
#            found through the directory (no per-backend hints yet);
#   again    the same session once more (hints where the backend keeps them);
# and the server's start time. "off" (pg_presplit not preloaded) is the same
# statements without any recording. With BASELINE_BIN, the build installed in
# that PostgreSQL copy is measured too, alternating, in the same run.
# Usage: bench/analyzer_directory.sh (as root or a user who can run initdb;
# needs pg_presplit installed). About 5 minutes with BASELINE_BIN.
source "$(dirname "$0")/lib.sh"
CAPACITY=${CAPACITY:-100000}
TABLES=${TABLES:-10}
PER_TABLE=${PER_TABLE:-300}
ROUNDS=${ROUNDS:-3}
BASELINE_BIN=${BASELINE_BIN:-}

start_cluster "shared_preload_libraries = 'pg_presplit'" "presplit.analyzer_max_partitions = $CAPACITY" \
    "presplit.analyzer_sample_every = 1" "max_locks_per_transaction = 512"
sql "CREATE EXTENSION pg_presplit"
sql "DO \$\$
BEGIN
  FOR k IN 1..$TABLES LOOP
    EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY) PARTITION BY RANGE (id)', k);
    FOR i IN 0..$PER_TABLE - 1 LOOP
      EXECUTE format('CREATE TABLE t%s_%s PARTITION OF t%s FOR VALUES FROM (%s) TO (%s)',
                     k, i, k, i * 10, i * 10 + 10);
    END LOOP;
    EXECUTE format('INSERT INTO t%s SELECT g * 10 FROM generate_series(0, $PER_TABLE - 1) g', k);
    PERFORM presplit.manage(format('t%s', k)::regclass);
  END LOOP;
END
\$\$"
sql "VACUUM ANALYZE"

# Starts the server with the given bin directory and preload list, with no
# saved statistics; prints how long the start took (ms).
fresh_start() { # bin preload
    as_pg_user "$PG_BIN/pg_ctl" -D "$BENCH_DIR/data" -m fast -w stop >/dev/null
    rm -f "$BENCH_DIR/data/pg_stat/pg_presplit.stat"
    sed -i "s/^shared_preload_libraries = .*/shared_preload_libraries = '$2'/" "$BENCH_DIR/data/postgresql.conf"
    local start end
    start=$(date +%s%N)
    as_pg_user "$1/pg_ctl" -D "$BENCH_DIR/data" -l "$BENCH_DIR/server.log" -w start >/dev/null
    end=$(date +%s%N)
    echo $(((end - start) / 1000000))
}

# One psql session: the statements $1 times; prints the summed time of each pass (ms).
passes() { # count
    local script=$'\\timing on\n' pass
    for pass in $(seq "$1"); do
        script+="\\echo pass"$'\n'
        for k in $(seq "$TABLES"); do script+="SELECT count(*) FROM t$k;"$'\n'; done
    done
    psql -X -q -At -v ON_ERROR_STOP=1 <<<"$script" |
        awk '/^pass$/ { if (n++) printf "%.1f ", sum; sum = 0 } /^Time:/ { sum += $2 }
             END { printf "%.1f\n", sum }'
}

declare -A results
builds=(current off)
[ -n "$BASELINE_BIN" ] && builds+=(baseline)
for round in $(seq "$ROUNDS"); do
    for b in $(seq 0 $((${#builds[@]} - 1))); do
        build=${builds[$(((b + round) % ${#builds[@]}))]}
        case $build in
        current) started=$(fresh_start "$PG_BIN" pg_presplit) ;;
        baseline) started=$(fresh_start "$BASELINE_BIN" pg_presplit) ;;
        off) started=$(fresh_start "$PG_BIN" '') ;;
        esac
        claim=$(passes 1)
        read -r lookup again <<<"$(passes 2)"
        results[$build]+="$started $claim $lookup $again"$'\n'
        echo "round $round $build: start $started ms, claim $claim ms, lookup $lookup ms, again $again ms"
    done
done
[ "$(sql "SELECT evictions FROM presplit.analyzer_status" 2>/dev/null || echo 0)" = 0 ] ||
    echo "warning: entries were evicted"

echo
echo "capacity $CAPACITY, $((TABLES * PER_TABLE)) partitions in $TABLES tables; medians over $ROUNDS rounds (ms):"
printf '  %-9s %8s %8s %8s %8s\n' build start claim lookup again
for build in "${builds[@]}"; do
    line=$(printf '  %-9s' "$build")
    for column in 1 2 3 4; do
        line+=$(printf ' %8s' "$(awk -v c=$column 'NF { print $c }' <<<"${results[$build]}" | median)")
    done
    echo "$line"
done
