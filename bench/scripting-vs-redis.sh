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

declare -A res
names=(eval-return eval-incr evalsha-get fcall-incr)
for name in polluxd redis; do
    start_server $name
    redis-cli -p "$port" script load "return redis.call('get', KEYS[1])" >/dev/null
    redis-cli -p "$port" function load "$LIB" >/dev/null
    for p in 16 1; do
        res[$name,eval-return,$p]=$(bench_cmd $name $p 100000 keep eval "return 1" 0)
        res[$name,eval-incr,$p]=$(bench_cmd $name $p 100000 keep eval "return redis.call('incr', KEYS[1])" 1 \
                                  key:__rand_int__)
        res[$name,evalsha-get,$p]=$(bench_cmd $name $p 100000 keep evalsha "$GET_SHA" 1 key:__rand_int__)
        res[$name,fcall-incr,$p]=$(bench_cmd $name $p 100000 keep fcall bump 1 key:__rand_int__)
    done
    stop_server
done

bench_header
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
