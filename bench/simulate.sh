#!/usr/bin/env bash
# The predictive shard manager on a simulated clock (bench/simulate.cpp): no
# PostgreSQL, no server; builds the CMake target presplit_simulate and prints
# the table that docs/prediction.md keeps. Arguments go to the simulator
# (--seeds N, --scenario NAME, --events, --window HH:MM-HH:MM, --headroom F,
# --interval F, --horizon HOURS, --early-start, --windows-only, --still-range,
# --no-handoff). About 30 s per seed on one
# core of this machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build" >/dev/null
cmake --build "$build" --target presplit_simulate -j2 >/dev/null
exec "$build/presplit_simulate" "$@"
