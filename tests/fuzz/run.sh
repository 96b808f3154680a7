#!/usr/bin/env bash
# Runs each fuzz target in turn (never two at once: the machine is shared), at the lowest
# priority, for SECONDS seconds each (default 600). Corpora and crash files go to .cache/fuzz/;
# each target's log to .cache/fuzz/<target>.log. Usage: bash tests/fuzz/run.sh [SECONDS] [TARGET...]
set -u
cd "$(dirname "$0")/../.."
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(decode sources extract query)
for target in "${targets[@]}"; do
    mkdir -p ".cache/fuzz/$target"
    seeds=examples/articles
    [ "$target" = query ] && seeds=tests/fuzz/seeds/queries
    echo "== $target: ${seconds}s"
    nice -n 19 .venv/bin/python "tests/fuzz/fuzz_$target.py" -max_total_time="$seconds" \
        -timeout=60 -rss_limit_mb=3072 -print_final_stats=1 \
        -artifact_prefix=".cache/fuzz/crash-$target-" ".cache/fuzz/$target" "$seeds" \
        > ".cache/fuzz/$target.log" 2>&1
    echo "   exit $? ; $(grep -E '^stat::number_of_executed_units|Done [0-9]+ runs' ".cache/fuzz/$target.log" | tail -1)"
    grep -A12 "Uncaught Python exception" ".cache/fuzz/$target.log" | head -30
done
