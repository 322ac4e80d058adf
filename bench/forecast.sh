#!/usr/bin/env bash
# What one forecast costs (src/core/forecast.hpp): CPU microseconds per
# forecast_hourly() call on synthetic series (bench/forecast_bench.cpp), then
# the instructions of one call of a 504-hour load under callgrind, which do not
# depend on what else the machine runs. No server needed. docs/prediction.md
# keeps the numbers.
#   bash bench/forecast.sh [build directory, default build/bench (ignored by git)]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/bench}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target forecast_bench -j2 >/dev/null
"$build/forecast_bench"

if command -v valgrind >/dev/null; then
    # Instructions inside forecast_hourly() only, over 10 calls.
    out=$(mktemp)
    valgrind --tool=callgrind --callgrind-out-file="$out" \
        --toggle-collect='presplit::core::forecast_hourly*' \
        "$build/forecast_bench" --calls 10 2>&1 | grep -E 'Collected' || true
    total=$(callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
    rm -f "$out"
    echo "instructions per forecast of a 504-hour load: $((total / 10))"
else
    echo "valgrind not found: no instruction count"
fi
