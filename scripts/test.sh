#!/usr/bin/env bash
# The one test command (make test, .ci/run): installs what is missing, builds
# with CMake (unit tests) and PGXS (the installed extension), runs every
# suite -- unit, pg_regress, isolation, TAP -- and ends with one line
# "N passed, N failed". Exit status 0 only if nothing failed.
#
# Servers refuse to run as root: as root, the suites run as the user
# postgres in a copy of the tree that user owns.
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
log() { printf '\n=== %s\n' "$*"; }
count() { passed=$((passed + $1)); failed=$((failed + $2)); }

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
        echo "unit tests: build failed"
        count 0 1
        return
    fi
    (cd "$build" && ctest --output-on-failure) | tee "$WORK/ctest.log" | tail -n 15
    local total failures
    total=$(sed -n 's/.* tests failed out of \([0-9]*\).*/\1/p' "$WORK/ctest.log")
    failures=$(sed -n 's/.*, \([0-9]*\) tests failed out of.*/\1/p' "$WORK/ctest.log")
    if [ -z "$total" ]; then
        count 0 1
        return
    fi
    count $((total - failures)) "$failures"
}

build_and_install() {
    log "PGXS build and install"
    make -C "$REPO" -j2 PG_CONFIG="$PG_CONFIG" >"$WORK/make.log" 2>&1 &&
        make -C "$REPO" install PG_CONFIG="$PG_CONFIG" >>"$WORK/make.log" 2>&1
    local status=$?
    grep -E "warning:|error:" "$WORK/make.log"
    return $status
}

# Counts "test name ... ok|FAILED" lines of pg_regress-style output.
count_regress_output() {
    local ok bad
    ok=$(grep -cE '\.\.\. ok' "$1")
    bad=$(grep -cE '\.\.\. FAILED' "$1")
    count "$ok" "$bad"
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
    grep -E '\.\.\. ' "$WORK/$title.log"
    count_regress_output "$WORK/$title.log"
    [ -f "$TREE/$output/regression.diffs" ] && cat "$TREE/$output/regression.diffs"
}

run_pg_regress() {
    run_regress_suite pg_regress "$PGXS_TEST/regress/pg_regress" . sql sql \
        test/presplit.conf .
}

run_isolation() {
    run_regress_suite isolation "$PGXS_TEST/isolation/pg_isolation_regress" test/isolation \
        test/isolation/specs spec test/isolation/presplit.conf output_iso
}

run_tap() {
    log "TAP"
    local scripts
    scripts=$(cd "$TREE" && ls test/t/*.pl 2>/dev/null | sort)
    [ -z "$scripts" ] && return
    (cd "$TREE" && as_test_user env PATH="$PG_BIN:$PATH" TESTDIR="$TREE" \
        PG_REGRESS="$PGXS_TEST/regress/pg_regress" \
        prove -v -I "$PGXS_TEST/perl" $scripts) >"$WORK/tap.log" 2>&1
    local status=$?
    grep -E '^(ok|not ok) |^test/t/|^Result' "$WORK/tap.log"
    local ok bad
    ok=$(grep -cE '^ok [0-9]' "$WORK/tap.log")
    bad=$(grep -cE '^not ok [0-9]' "$WORK/tap.log")
    # A script that died before reporting a failure still failed.
    if [ "$status" != 0 ] && [ "$bad" = 0 ]; then bad=1; fi
    count "$ok" "$bad"
    if [ "$status" != 0 ]; then
        tail -n 60 "$WORK/tap.log"
        for f in "$TREE"/tmp_check/log/*; do
            [ -f "$f" ] && { echo "--- $f"; tail -n 40 "$f"; }
        done
    fi
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
        count 0 1
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
    echo "$passed passed, $failed failed"
    [ "$failed" = 0 ] && [ "$passed" -gt 0 ]
}

main "$@"
