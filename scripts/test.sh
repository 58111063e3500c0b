#!/usr/bin/env bash
# shellcheck disable=SC2317 # the stage_* functions are called by name
# Build and test stages. Each stage has its own build folder at the repo root.
#
#   scripts/test.sh STAGE...
#
#   build    configure (once) and build ./build, the developer build
#   check    build + the unit, integration and dpdk suites in ./build (the quick loop)
#   werror   -Dwerror=true build in build-werror/, unit + integration + bench-smoke +
#            scripts + dpdk suites
#   asan     ASan + UBSan build in build-asan/, unit + integration + dpdk suites
#   tsan     TSan build in build-tsan/, threads (the multi-threaded unit tests) +
#            integration + dpdk suites
#   cross    aarch64 cross build in build-aarch64/, unit suite under qemu-aarch64
#   fuzz     libFuzzer targets (clang) in build-fuzz/: scripts/fuzz.sh, FUZZ_SECONDS each
#   format   clang-format check of the C sources (lists the files that differ)
#   format-fix  rewrite those files with clang-format -i (`make format`)
#   all      werror asan tsan cross fuzz format (what `make test` runs)
#
# Every stage runs even when an earlier one failed; the exit status is non-zero if any
# failed. The packages must be installed already (scripts/deps.sh --all); the cross stage
# makes or reuses the arm64 sysroot itself (scripts/arm64-sysroot.sh).
#
# The summary names every skipped test, skipped test case and skipped suite. With CI=true
# a skipped test (exit 77: a tool or package it needs is missing) and a suite without
# tests are failures: CI installs everything first (scripts/deps.sh --all), so a skip there
# means a missing install step. Test cases that a file leaves out on purpose (the dpdk
# suite's two-queue and memif cases under TSan) are listed, not failed.
#
# The DPDK backend is part of every build (meson option dpdk, `enabled` by default): a
# build folder configured before that (dpdk=auto, possibly without libdpdk found, which
# ninja never rechecks) is reconfigured with -Ddpdk=enabled; -Ddpdk=disabled is kept.
#
# Environment: JOBS (ninja and unit-test parallelism, default 2), IT_JOBS (integration-test
# parallelism, default JOBS), MESON_TEST_ARGS (extra arguments for every `meson test`).
# Sourced (tests/scripts/test_scripts.py), it defines the functions and runs nothing.
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
skipped=() # "DIR SUITE: test (reason)" for every skip, printed in the summary
ci=0
[ "${CI:-}" = true ] && ci=1

note() { printf '\n=== %s\n' "$*"; }

# configured DIR: DIR has been configured successfully before.
configured() {
    [ -f "$1/meson-private/coredata.dat" ] && [ -f "$1/build.ninja" ]
}

# ensure_dpdk DIR: a folder configured while the dpdk option defaulted to `auto` may have
# been set up before libdpdk-dev was installed, and ninja does not reconfigure when a
# package appears: switch it to `enabled`, which finds libdpdk now or stops with the
# error that says what to install. An explicit -Ddpdk=disabled is kept.
ensure_dpdk() {
    local dir=$1 value out
    value=$(meson introspect --buildoptions "$dir" | "$PY" -c '
import json, sys
print(next((o["value"] for o in json.load(sys.stdin) if o["name"] == "dpdk"), ""))
') || return 1
    case "$value" in
    enabled) ;;
    disabled) echo "$dir: configured with -Ddpdk=disabled: kernel backend only" ;;
    *)
        echo "$dir: dpdk=$value, reconfiguring with -Ddpdk=enabled (the DPDK backend is part of the build)"
        meson configure "$dir" -Ddpdk=enabled >/dev/null || return 1
        # Configure now, so that a missing libdpdk shows up here rather than inside ninja.
        out=$(meson setup --reconfigure "$dir" 2>&1) || {
            grep -E 'ERROR' <<<"$out" >&2
            return 1
        }
        ;;
    esac
}

# setup DIR [meson setup args...]: configure DIR once; later runs only re-apply the -D
# options (ninja regenerates when needed), so a second `make test` rebuilds incrementally.
setup() {
    local dir=$1
    shift
    if configured "$dir"; then
        local opts=()
        for a in "$@"; do
            case "$a" in -D*) opts+=("$a") ;; esac
        done
        [ "${#opts[@]}" -eq 0 ] || meson configure "$dir" "${opts[@]}" >/dev/null || return 1
        ensure_dpdk "$dir"
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

# Reads one `meson test` JSON log: prints "passed failed skipped", then one line per skip.
# unittest -v reports a skipped case as "test_x (__main__.Class.test_x) ... skipped 'why'"
# (with the docstring's first line, when there is one, on a line of its own before "...").
COUNT_PY=$(
    cat <<'PY'
import json, re, sys
p = f = s = 0
names = []
case = re.compile(r"^(\w+) \(([\w.]+)\)(?:\n[^\n]*?)? \.\.\. skipped (.*)$", re.M)
for raw in open(sys.argv[1]):
    raw = raw.strip()
    if not raw:
        continue
    t = json.loads(raw)
    r = t.get("result", "")
    text = (t.get("stdout") or "") + "\n" + (t.get("stderr") or "")
    if r in ("OK", "EXPECTEDFAIL"):
        p += 1
        for m in case.finditer(text):
            names.append(f"{t['name']}: {m.group(2).split('.', 1)[-1]} {m.group(3)}")
    elif r == "SKIP":
        s += 1
        why = [ln for ln in text.splitlines() if ln.startswith("SKIP")]
        names.append(f"{t['name']} (whole test) {why[-1] if why else ''}".rstrip())
    else:
        f += 1
print(p, f, s)
for n in names:
    print(n)
PY
)

# count DIR LOGBASE: add the results of one `meson test` run to the totals and its skips
# to `skipped`: whole tests meson reports as SKIP (exit 77, with the reason the test
# printed) and the test cases that a passing unittest file reported as skipped. Returns 1
# under CI when a whole test was skipped.
count() {
    local dir=$1 suite=$2 json="$1/meson-logs/$2.json" out line p f s
    [ -f "$json" ] || return 0
    out=$("$PY" -c "$COUNT_PY" "$json") || return 0
    read -r p f s <<<"$(head -n 1 <<<"$out")"
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    total_skip=$((total_skip + s))
    while IFS= read -r line; do
        [ -n "$line" ] && skipped+=("$dir [$suite] $line")
    done < <(tail -n +2 <<<"$out")
    if [ "$ci" = 1 ] && [ "$s" -gt 0 ]; then
        echo "--- CI: $s skipped test(s) in suite '$suite' of $dir count as failed (a package missing?)"
        return 1
    fi
    return 0
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
            skipped+=("$dir [$suite] the whole suite (no tests defined)")
            if [ "$ci" = 1 ]; then
                echo "--- CI: a suite without tests counts as failed"
                rc=1
            fi
            continue
        fi
        jobs=$JOBS
        [ "$suite" = integration ] && jobs=$IT_JOBS
        echo "--- suite '$suite' in $dir"
        rm -f "$dir/meson-logs/$suite.json"
        # shellcheck disable=SC2086
        "${test_wrap[@]+"${test_wrap[@]}"}" meson test -C "$dir" --no-rebuild --print-errorlogs --suite "$suite" \
            --num-processes "$jobs" --logbase "$suite" ${MESON_TEST_ARGS:-} || rc=1
        count "$dir" "$suite" || rc=1
    done
    return "$rc"
}

build_dir() { # DIR: compile everything in DIR
    ninja -C "$1" -j "$JOBS"
}

stage_build() {
    setup build || return 1
    build_dir build
}

stage_check() {
    stage_build || return 1
    run_suites build unit integration dpdk
}

stage_werror() {
    setup build-werror -Dwerror=true -Djemalloc=enabled -Dtests=enabled || return 1
    build_dir build-werror || return 1
    run_suites build-werror unit integration bench-smoke scripts dpdk
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
    # POLLUX_TSAN: test_dpdk.py leaves out its two-queue case (and runs its TLS case on one
    # worker), whose mbufs cross threads
    # through DPDK's rings and mempools, and its memif case, whose PMD shares sockets
    # between its control thread and the datapath (DPDK is not built with TSan, so it
    # cannot see their ordering); the werror and asan stages run both.
    TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 POLLUX_TSAN=1 \
        MESON_TEST_ARGS="--timeout-multiplier 3 ${MESON_TEST_ARGS:-}" \
        run_suites build-tsan threads integration dpdk || rc=1
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
    else
        ensure_dpdk "$dir" || return 1
    fi
    build_dir "$dir" || return 1
    MESON_TEST_ARGS="--timeout-multiplier 3 ${MESON_TEST_ARGS:-}" run_suites "$dir" unit
}

# The libFuzzer targets: their corpora as regression tests, then FUZZ_SECONDS (default
# 30) of fuzzing each (scripts/fuzz.sh; docs/security.md).
stage_fuzz() {
    scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
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

# Sourced: the functions only.
[ "${BASH_SOURCE[0]}" = "$0" ] || return 0

usage() { # the comment block at the top
    sed -n '3,/^set -uo/p' "$0" | sed -n 's/^# \{0,1\}//p'
}

[ $# -gt 0 ] || {
    usage
    exit 2
}

stages=()
for a in "$@"; do
    case "$a" in
    all) stages+=(werror asan tsan cross fuzz format) ;;
    build | check | werror | asan | tsan | cross | fuzz | format | format-fix) stages+=("$a") ;;
    -h | --help)
        usage
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
        if [ "${#skipped[@]}" -gt 0 ]; then
            echo "skipped (${#skipped[@]}):"
            printf '  %s\n' "${skipped[@]}"
        fi
        if [ "$total_skip" -gt 0 ]; then
            echo "tests: $total_pass passed, $total_fail failed, $total_skip skipped"
        else
            echo "tests: $total_pass passed, $total_fail failed"
        fi
    elif [ "${#skipped[@]}" -gt 0 ]; then
        echo "skipped (${#skipped[@]}):"
        printf '  %s\n' "${skipped[@]}"
    fi
fi
exit $failed
