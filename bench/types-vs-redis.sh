#!/usr/bin/env bash
# The collection types against Debian's redis-server, each server pinned to one core and
# redis-benchmark to another (bench/lib.sh): requests per second of redis-benchmark's
# collection tests at -P 16 and -P 1, and resident memory for collections of every type in
# two shapes. A benchmark, not a test: nothing fails on a number.
#
#   bench/types-vs-redis.sh [--polluxd PATH] [--requests N] [--repeat R]
#                           [--tests LIST] [--shapes LIST]
#
# Tests (redis-benchmark -t, -c 50 -r 100000): lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,
#   zpopmin,lrange_100,lrange_600.
# Shapes (RSS after loading, bytes):
#   hash10   1,000,000 hashes of 10 small fields      hash1m   one hash of 1,000,000 fields
#   set10    1,000,000 sets of 10 integers            set1m    one set of 1,000,000 members
#   zset10   1,000,000 sorted sets of 10 members      zset1m   one sorted set of 1,000,000
#   list10   1,000,000 lists of 10 items              list1m   one list of 1,000,000 items
set -euo pipefail
requests=1000000
repeat=3
tests=lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange_100,lrange_600
shapes=hash10,hash1m,set10,set1m,zset10,zset1m,list10,list1m
args=()
while [ $# -gt 0 ]; do
    case "$1" in
    --tests) tests=$2; shift 2 ;;
    --shapes) shapes=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
    esac
done
set -- "${args[@]+"${args[@]}"}"
. "$(dirname "$0")/lib.sh"

# The load of one shape as RESP commands (written once, fed to both servers).
load_file() { # shape
    local f="$work/$1.resp"
    [ -f "$f" ] || /usr/bin/python3 - "$1" "$f" <<'PY'
import sys
shape, path = sys.argv[1], sys.argv[2]
def cmd(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)
with open(path, "wb") as f:
    kind, many = shape.rstrip("0123456789m"), shape.endswith("10")
    if many:
        for i in range(1000000):
            k = b"key:%012d" % i
            if kind == "hash":
                f.write(cmd(b"HSET", k, *sum([[b"field:%d" % j, b"value:%d" % (i + j)]
                                              for j in range(10)], [])))
            elif kind == "set":
                f.write(cmd(b"SADD", k, *[i * 10 + j for j in range(10)]))
            elif kind == "zset":
                f.write(cmd(b"ZADD", k, *sum([[j, b"member:%d" % j] for j in range(10)], [])))
            else:
                f.write(cmd(b"RPUSH", k, *[b"item:%d" % j for j in range(10)]))
    else:
        for i in range(0, 1000000, 100):
            r = range(i, i + 100)
            if kind == "hash":
                f.write(cmd(b"HSET", b"big", *sum([[b"field:%d" % j, b"value:%d" % j]
                                                  for j in r], [])))
            elif kind == "set":
                f.write(cmd(b"SADD", b"big", *[b"member:%d" % j for j in r]))
            elif kind == "zset":
                f.write(cmd(b"ZADD", b"big", *sum([[j, b"member:%d" % j] for j in r], [])))
            else:
                f.write(cmd(b"RPUSH", b"big", *[b"item:%d" % j for j in r]))
PY
    echo "$f"
}

# A fresh server per shape: memory freed by an earlier load stays resident for a while.
rss_after() { # name shape
    local f rss
    f=$(load_file "$2")
    start_server "$1"
    taskset -c "$client_cpu" redis-cli -p "$port" --pipe <"$f" >/dev/null
    rss=$(settled_rss)
    stop_server
    echo "$rss"
}

declare -A res
IFS=, read -r -a tlist <<<"$tests"
IFS=, read -r -a slist <<<"$shapes"
for name in polluxd redis; do
    if [ -n "$tests" ]; then
        start_server $name
        for t in "${tlist[@]}"; do
            res[$name,$t,16]=$(bench_run $name 16 "$t" 100000 flush)
            res[$name,$t,1]=$(bench_run $name 1 "$t" 100000 flush)
        done
        stop_server
    fi
    for s in "${slist[@]}"; do
        res[$name,$s]=$(rss_after $name "$s")
    done
done

bench_header
for t in "${tlist[@]}"; do
    res_row "$t rps (-P 16)" "$t,16"
    res_row "$t rps (-P 1)" "$t,1"
done
for s in "${slist[@]}"; do
    res_row "RSS bytes, $s (settled)" "$s"
done
if [ -n "$tests" ]; then
    echo
    echo "server time per request, us (ratio redis/polluxd: how many times the requests polluxd"
    echo "serves with the same CPU)"
    for t in "${tlist[@]}"; do
        res_cost "$t (-P 16)" "$t,16"
        res_cost "$t (-P 1)" "$t,1"
    done
fi
