#!/usr/bin/env bash
# shellcheck disable=SC2317 # the stage_* functions are called by name
# Build and test stages. Each stage has its own build folder at the repo root.
#
#   scripts/test.sh STAGE...
#
#   build    configure (once) and build ./build, the developer build
#   check    build + the unit and integration suites in ./build (the quick loop)
#   werror   -Dwerror=true build in build-werror/, unit + integration + bench-smoke suites
#   asan     ASan + UBSan build in build-asan/, unit + integration suites
#   tsan     TSan build in build-tsan/, unit + integration suites
#   cross    aarch64 cross build in build-aarch64/, unit suite under qemu-aarch64
#   format   clang-format check of the C sources (lists the files that differ)
#   format-fix  rewrite those files with clang-format -i (`make format`)
#   all      werror asan tsan cross format (what `make test` runs)
#
# Every stage runs even when an earlier one failed; the exit status is non-zero if any
# failed. The packages must be installed already (scripts/deps.sh --all); the cross stage
# makes or reuses the arm64 sysroot itself (scripts/arm64-sysroot.sh).
#
# Environment: JOBS (ninja and unit-test parallelism, default 2), IT_JOBS (integration-test
# parallelism, default JOBS), MESON_TEST_ARGS (extra arguments for every `meson test`).
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1

# Debian's tools first: the integration tests need Debian's python3 (with python3-redis),
# and an interpreter from a version manager earlier on PATH may lack it.
export PATH="/usr/bin:/bin:$PATH"

JOBS=${JOBS:-2}
IT_JOBS=${IT_JOBS:-$JOBS}
PY=/usr/bin/python3
FORMAT_DIRS="dataplane bench tests replication control"

test_wrap=() # a command prefix for `meson test` (tsan)
total_pass=0
total_fail=0
total_skip=0
summary=()

note() { printf '\n=== %s\n' "$*"; }

# setup DIR [meson setup args...]: configure DIR once; later runs only re-apply the -D
# options (ninja regenerates when needed), so a second `make test` rebuilds incrementally.
setup() {
    local dir=$1
    shift
    if [ -f "$dir/meson-private/coredata.dat" ] && [ -f "$dir/build.ninja" ]; then
        local opts=()
        for a in "$@"; do
            case "$a" in -D*) opts+=("$a") ;; esac
        done
        [ "${#opts[@]}" -eq 0 ] || meson configure "$dir" "${opts[@]}" >/dev/null
    else
        rm -rf "$dir"
        meson setup "$dir" "$@"
    fi
}

# suites_with_tests DIR SUITE...: print the suites that have at least one test, so a
# suite that does not exist yet (or has no tests in this configuration) is skipped
# instead of being an error in some meson versions.
suites_with_tests() {
    local dir=$1
    shift
    meson introspect --tests "$dir" | "$PY" -c '
import json, sys
tests = json.load(sys.stdin)
have = set()
for t in tests:
    for s in t.get("suite", []):
        have.add(s.split(":")[-1])
for want in sys.argv[1:]:
    if want in have:
        print(want)
' "$@"
}

# count DIR LOGBASE: add the results of one `meson test` run to the totals.
count() {
    local json="$1/meson-logs/$2.json" line
    [ -f "$json" ] || return 0
    line=$("$PY" -c '
import json, sys
p = f = s = 0
for raw in open(sys.argv[1]):
    raw = raw.strip()
    if not raw:
        continue
    r = json.loads(raw).get("result", "")
    if r in ("OK", "EXPECTEDFAIL"):
        p += 1
    elif r == "SKIP":
        s += 1
    else:
        f += 1
print(p, f, s)
' "$json") || return 0
    # shellcheck disable=SC2086
    set -- $line
    total_pass=$((total_pass + $1))
    total_fail=$((total_fail + $2))
    total_skip=$((total_skip + $3))
}

# run_suites DIR SUITE...: run each suite that has tests, with its own log and summary.
run_suites() {
    local dir=$1 rc=0 suite jobs
    shift
    local have
    have=$(suites_with_tests "$dir" "$@") || return 1
    for suite in "$@"; do
        if ! grep -qx "$suite" <<<"$have"; then
            echo "--- suite '$suite': no tests defined in $dir, skipped"
            continue
        fi
        jobs=$JOBS
        [ "$suite" = integration ] && jobs=$IT_JOBS
        echo "--- suite '$suite' in $dir"
        rm -f "$dir/meson-logs/$suite.json"
        # shellcheck disable=SC2086
        "${test_wrap[@]+"${test_wrap[@]}"}" meson test -C "$dir" --no-rebuild --print-errorlogs --suite "$suite" \
            --num-processes "$jobs" --logbase "$suite" ${MESON_TEST_ARGS:-} || rc=1
        count "$dir" "$suite"
    done
    return "$rc"
}

build_dir() { # DIR: compile everything in DIR
    ninja -C "$1" -j "$JOBS"
}

stage_build() {
    if [ ! -f build/build.ninja ]; then
        meson setup build || return 1
    fi
    build_dir build
}

stage_check() {
    stage_build || return 1
    run_suites build unit integration dpdk
}

stage_werror() {
    setup build-werror -Dwerror=true -Djemalloc=enabled -Dtests=enabled || return 1
    build_dir build-werror || return 1
    run_suites build-werror unit integration bench-smoke dpdk
}

stage_asan() {
    setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Djemalloc=disabled \
        -Dtests=enabled '-Dc_args=-fno-sanitize-recover=all -fno-omit-frame-pointer' ||
        return 1
    build_dir build-asan || return 1
    ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=1:detect_stack_use_after_return=1:strict_init_order=1:check_initialization_order=1 \
        UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:abort_on_error=1 \
        MESON_TEST_ARGS="--timeout-multiplier 3 ${MESON_TEST_ARGS:-}" \
        run_suites build-asan unit integration dpdk
}

stage_tsan() {
    setup build-tsan -Db_sanitize=thread -Djemalloc=disabled -Dtests=enabled \
        '-Dc_args=-fno-omit-frame-pointer' || return 1
    build_dir build-tsan || return 1
    # gcc 12's TSan cannot map its shadow memory under the high-entropy ASLR of newer
    # kernels (vm.mmap_rnd_bits > 28): run the tests with ASLR off there.
    if [ "$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 28)" -gt 28 ] &&
        setarch "$(uname -m)" -R true 2>/dev/null; then
        test_wrap=(setarch "$(uname -m)" -R)
    fi
    local rc=0
    # POLLUX_TSAN: test_dpdk.py leaves out its two-queue case, whose mbufs cross threads
    # through DPDK's rings and mempools, and its memif case, whose PMD shares sockets
    # between its control thread and the datapath (DPDK is not built with TSan, so it
    # cannot see their ordering); the werror and asan stages run both.
    TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 POLLUX_TSAN=1 \
        MESON_TEST_ARGS="--timeout-multiplier 3 ${MESON_TEST_ARGS:-}" \
        run_suites build-tsan unit integration dpdk || rc=1
    test_wrap=()
    return "$rc"
}

stage_cross() {
    local dir=build-aarch64
    scripts/arm64-sysroot.sh || return 1
    # The sysroot's absolute path goes into a machine file of the build folder, read
    # before the checked-in cross file, which only refers to it as `sysroot`.
    if [ ! -f "$dir/meson-private/coredata.dat" ]; then
        rm -rf "$dir"
        mkdir -p "$dir"
        printf "[constants]\nsysroot = '%s'\n" "$root/.sysroot-arm64" >"$dir/sysroot.ini"
        meson setup "$dir" --cross-file "$dir/sysroot.ini" \
            --cross-file scripts/cross-aarch64.ini -Djemalloc=enabled -Dtests=enabled ||
            return 1
    fi
    build_dir "$dir" || return 1
    MESON_TEST_ARGS="--timeout-multiplier 3 ${MESON_TEST_ARGS:-}" run_suites "$dir" unit
}

# The C sources and headers that clang-format owns.
format_files() {
    local d
    for d in $FORMAT_DIRS; do
        if [ -d "$d" ]; then
            find "$d" -type f \( -name '*.c' -o -name '*.h' \) -print
        fi
    done | sort
}

stage_format() {
    local f bad=()
    command -v clang-format >/dev/null || {
        echo "clang-format not found (scripts/deps.sh --format)"
        return 1
    }
    while IFS= read -r f; do
        clang-format --style=file "$f" | cmp -s - "$f" || bad+=("$f")
    done < <(format_files)
    if [ "${#bad[@]}" -gt 0 ]; then
        echo "clang-format: ${#bad[@]} file(s) differ from the style (fix with 'make format'):"
        printf '  %s\n' "${bad[@]}"
        return 1
    fi
    echo "clang-format: $(format_files | wc -l) files checked, all formatted"
}

stage_format_fix() {
    format_files | xargs -r clang-format --style=file -i
}

run_stage() {
    local name=$1 start rc
    note "stage $name"
    start=$SECONDS
    "stage_${name//-/_}"
    rc=$?
    local took=$((SECONDS - start))
    if [ $rc -eq 0 ]; then
        summary+=("$(printf '%-8s ok      %4ds' "$name" "$took")")
    else
        summary+=("$(printf '%-8s FAILED  %4ds' "$name" "$took")")
    fi
    return "$rc"
}

[ $# -gt 0 ] || {
    sed -n '3,22p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
}

stages=()
for a in "$@"; do
    case "$a" in
    all) stages+=(werror asan tsan cross format) ;;
    build | check | werror | asan | tsan | cross | format | format-fix) stages+=("$a") ;;
    -h | --help)
        sed -n '3,22p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "test.sh: unknown stage '$a'" >&2
        exit 2
        ;;
    esac
done

failed=0
begin=$SECONDS
for s in "${stages[@]}"; do
    run_stage "$s" || failed=1
done

# Only print a summary where tests ran (`make build` stays quiet).
if [ "${#stages[@]}" -gt 1 ] || [ $((total_pass + total_fail + total_skip)) -gt 0 ]; then
    note "summary ($((SECONDS - begin))s)"
    printf '  %s\n' "${summary[@]}"
    if [ $((total_pass + total_fail + total_skip)) -gt 0 ]; then
        if [ "$total_skip" -gt 0 ]; then
            echo "tests: $total_pass passed, $total_fail failed, $total_skip skipped"
        else
            echo "tests: $total_pass passed, $total_fail failed"
        fi
    fi
fi
exit $failed
