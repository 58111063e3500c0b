#!/usr/bin/env bash
# Pub/sub fan-out against Debian's redis-server: one publisher (redis-benchmark, one
# connection, -P 16) and S subscribers of one channel (bench/pubsub_readers.c, one thread
# reading every socket with epoll), the server pinned to one core and both clients to another
# (bench/lib.sh). Prints the messages delivered per second and the server's microseconds
# per message delivered. A benchmark, not a test: nothing fails on a number.
#
#   bench/pubsub-vs-redis.sh [--polluxd PATH] [--requests N] [--repeat R]
#                            [--subscribers LIST] [--size BYTES]
#
# --requests is the number of PUBLISHes per run (default 20000), --subscribers the
# subscriber counts to run (default 100,1000), --size the message's bytes (default 32).
set -euo pipefail
requests=20000 # a multiple of the pipeline (16): redis-benchmark rounds up
repeat=3
subscribers=100,1000
size=32
args=()
while [ $# -gt 0 ]; do
    case "$1" in
    --subscribers) subscribers=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
    esac
done
set -- "${args[@]+"${args[@]}"}"
. "$(dirname "$0")/lib.sh"
payload=$(head -c "$size" /dev/zero | tr '\0' x)
readers_bin="$(dirname "$polluxd")/../bench/pubsub-readers"
[ -x "$readers_bin" ] || { echo "build the benchmarks first (make build)" >&2; exit 1; }

# "deliveries-per-second server-us-per-delivery" of one run
fanout_run() { # name subscribers
    local u0 u1 rate
    taskset -c "$client_cpu" "$readers_bin" "$port" "$2" "$requests" "$size" \
        >"$work/readers.out" &
    local readers=$!
    # the readers print "ready" once every subscription is confirmed
    for _ in $(seq 600); do grep -q ready "$work/readers.out" 2>/dev/null && break; sleep 0.05; done
    u0=$(server_usec "$1")
    taskset -c "$client_cpu" redis-benchmark -p "$port" -c 1 -n "$requests" -P 16 -q \
        PUBLISH bench "$payload" >/dev/null 2>&1
    wait "$readers"
    u1=$(server_usec "$1")
    rate=$(awk '/^rate/ {print $2}' "$work/readers.out")
    awk -v r="$rate" -v u="$((u1 - u0))" -v n="$((requests * $2))" \
        'BEGIN { printf "%.0f %.4f\n", r, u / n }'
}

declare -A res
for name in polluxd redis; do
    start_server "$name"
    for s in ${subscribers//,/ }; do
        runs=()
        for _ in $(seq "$repeat"); do runs+=("$(fanout_run "$name" "$s")"); done
        res[$name,$s]=$(printf '%s\n' "${runs[@]}" | sort -n | awk '{l[NR] = $0} END {print l[int((NR + 1) / 2)]}')
    done
    stop_server
done

printf '%-34s %14s %14s %8s\n' "messages delivered per second" polluxd redis-server ratio
for s in ${subscribers//,/ }; do
    read -r p pu <<<"${res[polluxd,$s]}"
    read -r r ru <<<"${res[redis,$s]}"
    printf '%-34s %14s %14s %8.2f\n' "1 publisher, $s subscribers" "$p" "$r" \
        "$(awk -v a="$p" -v b="$r" 'BEGIN {print a / b}')"
    printf '%-34s %14s %14s %8.2f\n' "  server us per message" "$pu" "$ru" \
        "$(awk -v a="$pu" -v b="$ru" 'BEGIN {print b / a}')"
done
