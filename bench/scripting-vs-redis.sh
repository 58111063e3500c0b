#!/usr/bin/env bash
# Lua scripts against Debian's redis-server, each server pinned to one core and
# redis-benchmark to another (bench/lib.sh): requests per second and server microseconds
# per request of EVAL and EVALSHA scripts and of FCALL, at -P 16 and -P 1. A benchmark, not
# a test: nothing fails on a number.
#
#   bench/scripting-vs-redis.sh [--polluxd PATH] [--requests N] [--repeat R]
#
# Scripts (-c 50, keys key:__rand_int__ over 100,000):
#   eval-return   EVAL "return 1" 0                     the engine alone
#   eval-incr     EVAL "return redis.call('incr', KEYS[1])" 1 key    one write
#   evalsha-get   EVALSHA of "return redis.call('get', KEYS[1])" 1 key
#   fcall-incr    FCALL of a function doing INCRBY on its key
set -euo pipefail
requests=200000
repeat=3
. "$(dirname "$0")/lib.sh"

GET_SHA=$(printf '%s' "return redis.call('get', KEYS[1])" | sha1sum | cut -d' ' -f1)
LIB=$'#!lua name=benchlib\nredis.register_function(\'bump\', function(keys) return redis.call(\'incrby\', keys[1], 1) end)'

# "rps client-cpu% server-us" of one command, the median of $repeat runs
run_cmd() { # name pipeline command...
    local name=$1 pipeline=$2
    shift 2
    local out rps k0 k1 t0 t1 u0 u1 runs=() me=$BASHPID
    for _ in $(seq "$repeat"); do
        u0=$(server_usec "$name")
        k0=$(child_ticks "$me")
        t0=$(date +%s.%N)
        taskset -c "$client_cpu" redis-benchmark -p "$port" -c 50 -n "$requests" -r 100000 \
            -P "$pipeline" -q "$@" >"$work/bench.out" 2>/dev/null
        t1=$(date +%s.%N)
        k1=$(child_ticks "$me")
        u1=$(server_usec "$name")
        out=$(tr '\r' '\n' <"$work/bench.out" | grep 'requests per second' | tail -1)
        rps=$(echo "$out" | sed -E 's/.*: ([0-9.]+) requests per second.*/\1/')
        runs+=("$rps $(awk -v a="$k0" -v b="$k1" -v s="$t0" -v e="$t1" -v hz="$(getconf CLK_TCK)" \
                    -v u="$((u1 - u0))" -v n="$requests" \
                    'BEGIN { printf "%.0f %.3f", (b - a) / hz / (e - s) * 100, u / n }')")
    done
    printf '%s\n' "${runs[@]}" | sort -n | awk '{l[NR] = $0} END {print l[int((NR + 1) / 2)]}'
}

declare -A res
names=(eval-return eval-incr evalsha-get fcall-incr)
for name in polluxd redis; do
    start_server $name
    redis-cli -p "$port" script load "return redis.call('get', KEYS[1])" >/dev/null
    redis-cli -p "$port" function load "$LIB" >/dev/null
    for p in 16 1; do
        res[$name,eval-return,$p]=$(run_cmd $name $p eval "return 1" 0)
        res[$name,eval-incr,$p]=$(run_cmd $name $p eval "return redis.call('incr', KEYS[1])" 1 \
                                  key:__rand_int__)
        res[$name,evalsha-get,$p]=$(run_cmd $name $p evalsha "$GET_SHA" 1 key:__rand_int__)
        res[$name,fcall-incr,$p]=$(run_cmd $name $p fcall bump 1 key:__rand_int__)
    done
    stop_server
done

echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "server on cpu $server_cpu, redis-benchmark on cpu $client_cpu, median of $repeat runs, $requests requests each"
printf '%-34s %14s %14s %8s   %s\n' figure polluxd redis ratio "client CPU (polluxd / redis)"
for n in "${names[@]}"; do
    res_row "$n rps (-P 16)" "$n,16"
    res_row "$n rps (-P 1)" "$n,1"
done
echo
echo "server time per request, us (ratio redis/polluxd)"
for n in "${names[@]}"; do
    res_cost "$n (-P 16)" "$n,16"
    res_cost "$n (-P 1)" "$n,1"
done
