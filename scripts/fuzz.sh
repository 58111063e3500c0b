#!/usr/bin/env bash
# Build the libFuzzer targets of tests/fuzz/ with clang in build-fuzz/ and run each one.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# For every target (default: all, one per folder of tests/fuzz/corpus/): first its
# committed corpus once as a regression test (every seed and every former crash), then
# SECONDS (default 20) of fuzzing with -max_total_time over a temporary copy of that
# corpus, so nothing new is written into the repository. A crash, leak, sanitizer report
# or timeout fails the target; its input is kept under build-fuzz/fuzz-artifacts/TARGET/.
# Prints one line per target (runs, execs/s, crash or not) and `N passed, M failed`.
#
# Environment: JOBS (ninja parallelism, default 2). See docs/security.md, "Fuzzing".
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1

secs=20
if [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then
    secs=$1
    shift
fi
dir=build-fuzz
JOBS=${JOBS:-2}

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for d in tests/fuzz/corpus/*/; do
        targets+=("$(basename "$d")")
    done
fi

command -v clang >/dev/null || {
    echo "fuzz.sh: clang not found (scripts/deps.sh --dev)" >&2
    exit 1
}
if [ ! -f "$dir/meson-private/coredata.dat" ]; then
    rm -rf "$dir"
    CC=clang meson setup "$dir" -Dfuzz=enabled -Db_lundef=false -Djemalloc=disabled \
        -Dtests=disabled -Ddpdk=disabled -Dintegration=false || exit 1
fi
ninja -C "$dir" -j "$JOBS" fuzz || exit 1

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
lines=()
for t in "${targets[@]}"; do
    exe=$dir/tests/fuzz/fuzz_$t
    seeds=tests/fuzz/corpus/$t
    if [ ! -x "$exe" ] || [ ! -d "$seeds" ]; then
        lines+=("$(printf '%-12s FAILED: no target %s or no corpus %s' "$t" "$exe" "$seeds")")
        fail=$((fail + 1))
        continue
    fi
    echo "=== $t: regression over $seeds, then ${secs}s of fuzzing"
    art=$dir/fuzz-artifacts/$t
    rm -rf "$art"
    mkdir -p "$art" "$tmp/$t"
    cp "$seeds"/* "$tmp/$t/"
    log=$tmp/$t.log
    result=ok
    # The committed corpus once: libFuzzer runs each file given as an argument.
    if ! "$exe" -timeout=60 "$seeds"/* >"$log" 2>&1; then
        result="CRASH in the committed corpus"
    elif ! "$exe" -max_total_time="$secs" -timeout=60 -print_final_stats=1 \
        -artifact_prefix="$art/" "$tmp/$t" >>"$log" 2>&1; then
        result="CRASH, input in $art/"
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    if [ "$result" = ok ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        grep -E 'ERROR|check failed|SUMMARY|runtime error' "$log" | head -n 5
        cp "$log" "$art/log.txt"
    fi
    lines+=("$(printf '%-12s runs %-10s execs/s %-8s %s' "$t" "${runs:-?}" "${rate:-?}" "$result")")
done

echo "=== fuzz summary (${secs}s per target)"
printf '%s\n' "${lines[@]}"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
