#!/usr/bin/env bash
# Pub/sub fan-out against Debian's redis-server: one publishing connection (-P 16) and S
# subscribers of one channel, both from one pollux-bench thread (--subscribers: every message
# counted, nothing allocated per message), the server pinned to one core and the client to
# another (bench/lib.sh). Prints the messages delivered per second and the server's
# microseconds per message delivered. A benchmark, not a test: nothing fails on a number.
# bench/dpdk-vs-redis.py runs the same fan-out on polluxd's DPDK backend too.
#
#   bench/pubsub-vs-redis.sh [--polluxd PATH] [--requests N] [--repeat R]
#                            [--subscribers LIST] [--size BYTES]
#
# --requests is the number of PUBLISHes per run (default 20000), --subscribers the
# subscriber counts to run (default 100,1000), --size the message's bytes (default 32).
set -euo pipefail
requests=20000
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
pbench="$(dirname "$polluxd")/../bench/loadgen/pollux-bench"
[ -x "$pbench" ] || { echo "build the benchmarks first (make build)" >&2; exit 1; }

# "deliveries-per-second server-us-per-delivery" of one run
fanout_run() { # name subscribers
    local u0 u1 rate
    u0=$(server_usec "$1")
    taskset -c "$client_cpu" "$pbench" -p "$port" --conns 1 --pipeline 16 -n "$requests" \
        --subscribers "$2" --value-size "$size" --command 'PUBLISH bench __data__' --quiet \
        --json "$work/fanout.json" >/dev/null
    u1=$(server_usec "$1")
    rate=$(/usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["delivered_per_s"])' \
        "$work/fanout.json")
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
