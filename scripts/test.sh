#!/usr/bin/env bash
# The one test command (make test, .ci/run): installs what is missing, builds
# with CMake (unit tests) and PGXS (the installed extension), runs every
# suite -- unit, pg_regress, isolation, TAP -- and ends with one line
# "N passed, N failed". Exit status 0 only if nothing failed.
#
# Servers refuse to run as root: as root, the suites run as the user
# postgres in a copy of the tree that user owns.
#
# A suite counts what it was meant to run, not only what it reported: a tool
# that exits non-zero without reporting a failure, a pg_regress or isolation
# run that reports fewer tests than it has files, a TAP script that runs fewer
# tests than it planned (or dies before printing its plan) -- each counts the
# missing tests (at least 1) as failed and says why.
#
# PG_BIN (default /usr/lib/postgresql/15/bin) picks the PostgreSQL to build
# against, install into and test with, e.g. a private relocatable copy:
#   PG_BIN=/tmp/pgC/usr/lib/postgresql/15/bin bash scripts/test.sh
# PGXS_TEST (default: from that pg_config) is where pg_regress,
# pg_isolation_regress and the TAP modules are.
set -uo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_CONFIG="$PG_BIN/pg_config"
source "$REPO/scripts/packages.sh"

passed=0
failed=0
problems=()
log() { printf '\n=== %s\n' "$*"; }
count() { passed=$((passed + $1)); failed=$((failed + $2)); }
# failure N why: N more failed tests that no tool reported as such; the
# reasons are repeated above the last line.
failure() {
    local n=$1
    shift
    count 0 "$n"
    echo "counted $n failed: $*"
    problems+=("$n failed: $*")
}

# The test directory of the PGXS that $PG_CONFIG belongs to.
pgxs_test_dir() {
    local pgxs
    pgxs=$("$PG_CONFIG" --pgxs) || return 1
    echo "${pgxs%/src/makefiles/pgxs.mk}/src/test"
}

as_test_user() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

run_unit_tests() {
    log "unit tests (GoogleTest via ctest)"
    local build="$REPO/build"
    if ! cmake -S "$REPO" -B "$build" -DPG_CONFIG="$PG_CONFIG" >"$WORK/cmake.log" 2>&1 ||
        ! cmake --build "$build" -j2 >>"$WORK/cmake.log" 2>&1; then
        cat "$WORK/cmake.log"
        failure 1 "unit tests: the CMake build failed"
        return
    fi
    (cd "$build" && ctest --output-on-failure) >"$WORK/ctest.log" 2>&1
    local status=$?
    tail -n 15 "$WORK/ctest.log"
    local total failures
    total=$(sed -n 's/.* tests failed out of \([0-9]*\).*/\1/p' "$WORK/ctest.log")
    failures=$(sed -n 's/.*, \([0-9]*\) tests failed out of.*/\1/p' "$WORK/ctest.log")
    if [ -z "$total" ] || [ "$total" = 0 ]; then
        failure 1 "unit tests: ctest ran no tests (exit status $status)"
        return
    fi
    count $((total - failures)) "$failures"
    if [ "$status" != 0 ] && [ "$failures" = 0 ]; then
        failure 1 "unit tests: ctest exited with status $status but reported no failed test"
    fi
}

build_and_install() {
    log "PGXS build and install"
    make -C "$REPO" -j2 PG_CONFIG="$PG_BIN/pg_config" >"$WORK/make.log" 2>&1 &&
        make -C "$REPO" install PG_CONFIG="$PG_BIN/pg_config" >>"$WORK/make.log" 2>&1
    local status=$?
    grep -E "warning:|error:" "$WORK/make.log"
    return $status
}

# pg_regress and pg_isolation_regress take the same options: one runner.
run_regress_suite() { # title tool inputdir tests-dir extension config output
    local title=$1 tool=$2 inputdir=$3 testdir=$4 extension=$5 config=$6 output=$7
    log "$title"
    local tests
    tests=$(cd "$TREE/$testdir" && ls *."$extension" 2>/dev/null | sed "s/\.$extension\$//" | sort)
    [ -z "$tests" ] && return
    (cd "$TREE" && as_test_user "$tool" --temp-instance="$TREE/tmp_check_$title" \
        --temp-config="$TREE/$config" --bindir="$PG_BIN" --inputdir="$inputdir" \
        --outputdir="$TREE/$output" --dbname=contrib_regression $tests) >"$WORK/$title.log" 2>&1
    local status=$?
    grep -E '\.\.\. ' "$WORK/$title.log"
    # "test name ... ok|FAILED" lines: what the tool reported.
    local files ok bad missing
    files=$(echo "$tests" | wc -l)
    ok=$(grep -cE '\.\.\. ok' "$WORK/$title.log")
    bad=$(grep -cE '\.\.\. FAILED' "$WORK/$title.log")
    count "$ok" "$bad"
    missing=$((files - ok - bad))
    if [ "$missing" -gt 0 ]; then
        failure "$missing" "$title: reported $((ok + bad)) of its $files tests" \
            "($(basename "$tool") exited with status $status)"
    elif [ "$status" != 0 ] && [ "$bad" = 0 ]; then
        failure 1 "$title: $(basename "$tool") exited with status $status but reported no failed test"
    fi
    [ -f "$TREE/$output/regression.diffs" ] && cat "$TREE/$output/regression.diffs"
    if [ "$missing" -gt 0 ] || { [ "$status" != 0 ] && [ "$bad" = 0 ]; }; then
        tail -n 30 "$WORK/$title.log"
        for f in "$TREE/$output"/log/*.log; do
            [ -f "$f" ] && { echo "--- $f"; tail -n 30 "$f"; }
        done
    fi
}

run_pg_regress() {
    run_regress_suite pg_regress "$PGXS_TEST/regress/pg_regress" . sql sql \
        test/presplit.conf .
}

run_isolation() {
    run_regress_suite isolation "$PGXS_TEST/isolation/pg_isolation_regress" test/isolation \
        test/isolation/specs spec test/isolation/presplit.conf output_iso
}

# One prove per script, so that each script's plan can be held against what
# it ran: failures = "not ok" lines + (planned - ran). Scripts that call
# done_testing print their plan last; one that dies before printing it counts
# one failure at least.
run_tap() {
    log "TAP"
    local scripts
    scripts=$(cd "$TREE" && ls test/t/*.pl 2>/dev/null | sort)
    [ -z "$scripts" ] && return
    local script name output status ok bad planned
    for script in $scripts; do
        name=$(basename "$script" .pl)
        output="$WORK/tap_$name.log"
        (cd "$TREE" && as_test_user env PATH="$PG_BIN:$PATH" TESTDIR="$TREE" \
            PG_REGRESS="$PGXS_TEST/regress/pg_regress" \
            prove -v -I "$PGXS_TEST/perl" -I test/perl "$script") >"$output" 2>&1
        status=$?
        echo "$script"
        grep -E '^(ok|not ok) [0-9]|^1\.\.[0-9]|^# Looks like|^Result' "$output"
        ok=$(grep -cE '^ok [0-9]' "$output")
        bad=$(grep -cE '^not ok [0-9]' "$output")
        count "$ok" "$bad"
        planned=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$output" | tail -n 1)
        [ -z "$planned" ] &&
            planned=$(sed -n 's/^# Looks like you planned \([0-9][0-9]*\) tests\{0,1\} but ran.*/\1/p' \
                "$output" | tail -n 1)
        local broken=false
        if [ -z "$planned" ]; then
            failure 1 "$script: ran $((ok + bad)) tests and ended before printing its plan" \
                "(prove exited with status $status); the tests it did not run count as 1"
            broken=true
        elif [ "$planned" -gt $((ok + bad)) ]; then
            failure $((planned - ok - bad)) "$script: planned $planned tests but ran $((ok + bad))"
            broken=true
        elif [ "$status" != 0 ] && [ "$bad" = 0 ]; then
            failure 1 "$script: prove exited with status $status but reported no failed test"
            broken=true
        fi
        if [ "$status" != 0 ] || $broken; then
            tail -n 60 "$output"
            for f in "$TREE"/tmp_check/log/*"$name"*; do
                [ -f "$f" ] && { echo "--- $f"; tail -n 40 "$f"; }
            done
        fi
    done
}

main() {
    WORK=$(mktemp -d /tmp/presplit-test.XXXXXX)
    install_missing_packages || { echo "0 passed, 1 failed"; exit 1; }
    PGXS_TEST=${PGXS_TEST:-$(pgxs_test_dir)} ||
        { echo "no pg_config in $PG_BIN"; echo "0 passed, 1 failed"; exit 1; }
    echo "PostgreSQL: $PG_BIN; pg_regress and TAP modules: $PGXS_TEST"
    run_unit_tests
    if ! build_and_install; then
        cat "$WORK/make.log"
        failure 1 "the PGXS build or install failed"
        echo "$passed passed, $failed failed"
        exit 1
    fi
    # A copy of the tree the unprivileged user owns (test outputs go there).
    TREE="$WORK/tree"
    mkdir -p "$TREE"
    (cd "$REPO" && tar cf - --exclude=./build --exclude=./.git .) | (cd "$TREE" && tar xf -)
    chmod 755 "$WORK"
    [ "$(id -u)" = 0 ] && chown -R postgres "$TREE"
    run_pg_regress
    run_isolation
    run_tap
    echo
    local problem
    for problem in "${problems[@]}"; do echo "not reported by a tool: $problem"; done
    [ "$passed" -gt 0 ] || echo "no test passed: that is a failure too"
    echo "$passed passed, $failed failed"
    [ "$failed" = 0 ] && [ "$passed" -gt 0 ]
}

main "$@"
