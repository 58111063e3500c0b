#!/usr/bin/env bash
# Runs the same load against polluxd (1 worker) and Debian's redis-server, each
# pinned to one core with redis-benchmark pinned to another, and prints every
# figure with the ratio polluxd/redis. A benchmark, not a test: nothing fails
# on a number.
#
#   bench/vs-redis.sh [--polluxd PATH] [--requests N] [--repeat R]
#
# Figures:
#   SET/GET rps   redis-benchmark -c 50 -n N -r 1000000 -t set,get -P 16, and -P 1
#   RSS           resident memory after loading 1,000,000 keys of 16 bytes with 32-byte values
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
polluxd="$here/build/dataplane/polluxd"
requests=1000000
repeat=3
server_cpu=0
client_cpu=1
while [ $# -gt 0 ]; do
    case "$1" in
    --polluxd) polluxd=$2; shift 2 ;;
    --requests) requests=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --server-cpu) server_cpu=$2; shift 2 ;;
    --client-cpu) client_cpu=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
for tool in redis-server redis-benchmark redis-cli taskset; do
    command -v $tool >/dev/null || { echo "missing $tool (make deps)" >&2; exit 1; }
done
[ -x "$polluxd" ] || { echo "build polluxd first (make build)" >&2; exit 1; }

port=$((20000 + RANDOM % 20000))
work=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

start_server() { # name
    case "$1" in
    polluxd) taskset -c "$server_cpu" "$polluxd" --port "$port" --pollux-workers 1 \
                 --pollux-cpus "$server_cpu" --save '' --appendonly no >"$work/server.log" 2>&1 & ;;
    redis) taskset -c "$server_cpu" redis-server --port "$port" --save '' --appendonly no \
               >"$work/server.log" 2>&1 & ;;
    esac
    pid=$!
    for _ in $(seq 100); do
        redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "$1 did not start" >&2; cat "$work/server.log" >&2; exit 1
}

stop_server() {
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
}

# rps of one redis-benchmark test, median of $repeat runs
bench() { # pipeline test
    local out vals=()
    for _ in $(seq "$repeat"); do
        # GET runs against what the SET runs left (keys of the same -r range): hits
        [ "$2" = set ] && redis-cli -p "$port" flushall >/dev/null
        out=$(taskset -c "$client_cpu" redis-benchmark -p "$port" -c 50 -n "$requests" \
              -r 1000000 -t "$2" -P "$1" -q 2>/dev/null | tr '\r' '\n' | grep 'requests per second' | tail -1)
        vals+=("$(echo "$out" | sed -E 's/.*: ([0-9.]+) requests per second.*/\1/')")
    done
    printf '%s\n' "${vals[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

/usr/bin/python3 - "$work/load.resp" <<'PY'
import sys
with open(sys.argv[1], 'wb') as f:
    for i in range(1000000):
        k = b"key:%012d" % i                      # 16 bytes
        v = b"v" * 28 + b"%04d" % (i % 10000)     # 32 bytes
        f.write(b"*3\r\n$3\r\nSET\r\n$16\r\n%s\r\n$32\r\n%s\r\n" % (k, v))
PY

rss_after_load() {
    redis-cli -p "$port" flushall >/dev/null
    taskset -c "$client_cpu" redis-cli -p "$port" --pipe <"$work/load.resp" >/dev/null
    [ "$(redis-cli -p "$port" dbsize)" = 1000000 ] || { echo "load incomplete" >&2; exit 1; }
    sleep 0.5
    awk '/VmRSS/ {print $2 * 1024}' "/proc/$pid/status"
}

declare -A res
for name in polluxd redis; do
    start_server $name
    res[$name,set16]=$(bench 16 set)
    res[$name,get16]=$(bench 16 get)
    res[$name,set1]=$(bench 1 set)
    res[$name,get1]=$(bench 1 get)
    res[$name,rss]=$(rss_after_load)
    stop_server
done

echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "server on cpu $server_cpu, redis-benchmark on cpu $client_cpu, median of $repeat runs, $requests requests each"
printf '%-34s %14s %14s %8s\n' figure polluxd redis ratio
row() { printf '%-34s %14s %14s %8.2f\n' "$1" "${res[polluxd,$2]}" "${res[redis,$2]}" \
        "$(echo "${res[polluxd,$2]} ${res[redis,$2]}" | awk '{print $1/$2}')"; }
row "SET rps (-P 16, -c 50)" set16
row "GET rps (-P 16, -c 50)" get16
row "SET rps (-P 1, -c 50)" set1
row "GET rps (-P 1, -c 50)" get1
row "RSS bytes after 1M 16B/32B keys" rss
