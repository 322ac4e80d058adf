#!/usr/bin/env bash
# Routed-read latency (issue: switchover; target: new channel <= 1.1x direct).
# A managed table of 4 range partitions, ROWS accounts each; a plan splitting
# accounts_0 is switching (ramp off). pgbench reads one balance by key in
# accounts_0 (select-only, 1 client so that latency = 1/TPS), measured side by
# side in rotating rounds:
#   direct   presplit.routing = off for the session: the plain partitioned
#            table, as without pg_presplit's routing;
#   old      routed, new channel weight 0: the old channel's tree;
#   new      routed, new channel weight 100: the new channel's tree (the
#            shadows).
# for three ways of running the statement: -M simple (planned every time,
# both trees built); -M prepared (PostgreSQL's plan cache picks custom plans
# here -- planned every time with the key as a constant -- for direct and
# routed alike); -M prepared with plan_cache_mode = force_generic_plan
# (planned once: what is left is the draw at each execution).
# Usage: bench/routing.sh (as root or a user who can run initdb; needs
# pg_presplit installed). About 3 minutes. Prints medians over the rounds.
# BASELINE_BIN=<bin directory of another PostgreSQL 15 copy with another
# pg_presplit build> measures that build too, in the same rounds (the server
# restarted with each build in turn, alternating which goes first), so that
# two builds are compared in one run (about 6 minutes).
source "$(dirname "$0")/lib.sh"
ROWS=${ROWS:-250000}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
ROUNDS=${ROUNDS:-3}
BASELINE_BIN=${BASELINE_BIN:-}

start_cluster "shared_preload_libraries = 'pg_presplit'"
sql "CREATE EXTENSION pg_presplit"
create_accounts $((4 * ROWS))
sql "SELECT presplit.manage('accounts')" >/dev/null
PLAN=$(sql "SELECT presplit.split_partition('accounts_0', ARRAY[$((ROWS / 2))], ramp => false)")
sql "SELECT presplit.wait($PLAN, 'switching', '10 min')" >/dev/null
sql "VACUUM ANALYZE"

cat >"$BENCH_DIR/read.sql" <<EOF
\set a random(0, $((ROWS - 1)))
SELECT balance FROM accounts WHERE id = :a;
EOF
chmod 644 "$BENCH_DIR/read.sql"

tps() { # way, extra PGOPTIONS
    local protocol=$1 options=$2
    if [ "$protocol" = generic ]; then
        protocol=prepared options="$options -c plan_cache_mode=force_generic_plan"
    fi
    PGOPTIONS="$options" pgbench_tps_cpu -n -M "$protocol" -c 1 -j 1 -T "$SECONDS_PER_RUN" \
        -f "$BENCH_DIR/read.sql" -h "$PGHOST" -p "$PGPORT" -U postgres postgres
}

declare -A results cpus
modes=(direct old new)
builds=(current)
[ -n "$BASELINE_BIN" ] && builds+=(baseline)
for round in $(seq "$ROUNDS"); do
    for b in $(seq 0 $((${#builds[@]} - 1))); do
        build=${builds[$(((b + round) % ${#builds[@]}))]}
        if [ -n "$BASELINE_BIN" ]; then
            start_with_bin "$([ "$build" = baseline ] && echo "$BASELINE_BIN" || echo "$PG_BIN")"
            tps prepared "" >/dev/null # warm the caches after the restart
        fi
        for protocol in simple prepared generic; do
            for i in 0 1 2; do
                mode=${modes[$(((i + round) % 3))]}
                case $mode in
                direct) options="-c presplit.routing=off" ;;
                old) options="" && sql "SELECT presplit.set_weight($PLAN, 0)" >/dev/null ;;
                new) options="" && sql "SELECT presplit.set_weight($PLAN, 100)" >/dev/null ;;
                esac
                read -r value cpu <<<"$(tps "$protocol" "$options")"
                results[$build/$mode/$protocol]+="$value "
                cpus[$build/$mode/$protocol]+="$cpu "
                echo "round $round $build $protocol $mode: $value TPS, $cpu us CPU per read"
            done
        done
    done
done
served=$(sql "SELECT string_agg(channel || ' ' || statements, ', ' ORDER BY channel DESC)
                FROM presplit.channels WHERE plan_id = $PLAN")

median_of() { tr ' ' '\n' <<<"$1" | grep . | median; }
echo
for build in "${builds[@]}"; do
    echo "routed reads, $build build, 1 client, median TPS over $ROUNDS rounds of ${SECONDS_PER_RUN}s (latency ratio = direct TPS / TPS):"
    for protocol in simple prepared generic; do
        direct=$(median_of "${results[$build/direct/$protocol]}")
        old=$(median_of "${results[$build/old/$protocol]}")
        new=$(median_of "${results[$build/new/$protocol]}")
        echo "  $protocol: direct $direct, old channel $old, new channel $new TPS;" \
            "latency new/direct $(ratio "$direct" "$new") (target <= 1.1), old/direct $(ratio "$direct" "$old");" \
            "server CPU per read: direct $(median_of "${cpus[$build/direct/$protocol]}")," \
            "old $(median_of "${cpus[$build/old/$protocol]}"), new $(median_of "${cpus[$build/new/$protocol]}") us"
    done
done
if [ -n "$BASELINE_BIN" ]; then
    echo "this build / baseline, TPS | server CPU per read:"
    for protocol in simple prepared generic; do
        line="  $protocol:"
        for mode in "${modes[@]}"; do
            line+=" $mode $(ratio "$(median_of "${results[current/$mode/$protocol]}")" \
                "$(median_of "${results[baseline/$mode/$protocol]}")")"
            line+=" | $(ratio "$(median_of "${cpus[current/$mode/$protocol]}")" \
                "$(median_of "${cpus[baseline/$mode/$protocol]}")"),"
        done
        echo "${line%,}"
    done
fi
echo "  channel statistics: $served reads counted"
