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
requests=1000000
repeat=3
. "$(dirname "$0")/lib.sh"

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
    settled_rss
}

declare -A res
for name in polluxd redis; do
    start_server $name
    res[$name,set16]=$(bench_run $name 16 set 1000000 flush)
    res[$name,get16]=$(bench_run $name 16 get 1000000 keep)
    res[$name,set1]=$(bench_run $name 1 set 1000000 flush)
    res[$name,get1]=$(bench_run $name 1 get 1000000 keep)
    res[$name,rss]=$(rss_after_load)
    stop_server
done

bench_header
res_row "SET rps (-P 16, -c 50)" set16
res_row "GET rps (-P 16, -c 50)" get16
res_row "SET rps (-P 1, -c 50)" set1
res_row "GET rps (-P 1, -c 50)" get1
res_row "RSS bytes after 1M 16B/32B keys" rss
echo
echo "server time per request, us (ratio redis/polluxd: how many times the requests polluxd"
echo "serves with the same CPU)"
res_cost "SET (-P 16)" set16
res_cost "GET (-P 16)" get16
res_cost "SET (-P 1)" set1
res_cost "GET (-P 1)" get1
