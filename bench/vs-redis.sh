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

# utime + stime of process $1's waited-for children (redis-benchmark), in clock ticks
child_ticks() { awk '{print $16 + $17}' "/proc/$1/stat"; }

# The server's own time so far, in microseconds: polluxd's worker time in passes that had
# work (busy polling makes its CPU time meaningless), redis-server's CPU time.
server_usec() { # name
    if [ "$1" = polluxd ]; then
        redis-cli -p "$port" info pollux | awk -F: '/^pollux_busy_usec:/ {print $2 + 0}'
    else
        redis-cli -p "$port" info cpu |
            awk -F: '/^used_cpu_(sys|user)_main_thread:/ {t += $2} END {printf "%.0f\n", t * 1e6}'
    fi
}

# "rps client-cpu% server-us-per-request" of one redis-benchmark test: the run with the
# median rps of $repeat. The client's CPU share tells whether a figure measures the server
# or the client: near 100% the single-core client, not the server, set the pace; the
# server's microseconds per request are what the server would need with a faster client.
bench() { # name pipeline test
    local name=$1
    shift
    local out rps k0 k1 t0 t1 u0 u1 runs=() me=$BASHPID
    for _ in $(seq "$repeat"); do
        # GET runs against what the SET runs left (keys of the same -r range): hits
        [ "$2" = set ] && redis-cli -p "$port" flushall >/dev/null
        u0=$(server_usec "$name")
        k0=$(child_ticks "$me")
        t0=$(date +%s.%N)
        taskset -c "$client_cpu" redis-benchmark -p "$port" -c 50 -n "$requests" \
            -r 1000000 -t "$2" -P "$1" -q >"$work/bench.out" 2>/dev/null
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
    res[$name,set16]=$(bench $name 16 set)
    res[$name,get16]=$(bench $name 16 get)
    res[$name,set1]=$(bench $name 1 set)
    res[$name,get1]=$(bench $name 1 get)
    res[$name,rss]=$(rss_after_load)
    stop_server
done

echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "server on cpu $server_cpu, redis-benchmark on cpu $client_cpu, median of $repeat runs, $requests requests each"
printf '%-34s %14s %14s %8s   %s\n' figure polluxd redis ratio "client CPU (polluxd / redis)"
row() { # label key
    local p r pc rc
    read -r p pc _ <<<"${res[polluxd,$2]}"
    read -r r rc _ <<<"${res[redis,$2]}"
    printf '%-34s %14s %14s %8.2f' "$1" "$p" "$r" "$(awk -v a="$p" -v b="$r" 'BEGIN {print a / b}')"
    [ -n "${pc:-}" ] && printf '   %s%% / %s%%' "$pc" "$rc"
    printf '\n'
}
cost() { # label key: server microseconds per request; ratio redis/polluxd (higher: polluxd cheaper)
    local p r
    read -r _ _ p <<<"${res[polluxd,$2]}"
    read -r _ _ r <<<"${res[redis,$2]}"
    printf '%-34s %14s %14s %8.2f\n' "$1" "$p" "$r" "$(awk -v a="$p" -v b="$r" 'BEGIN {print b / a}')"
}
row "SET rps (-P 16, -c 50)" set16
row "GET rps (-P 16, -c 50)" get16
row "SET rps (-P 1, -c 50)" set1
row "GET rps (-P 1, -c 50)" get1
row "RSS bytes after 1M 16B/32B keys" rss
echo
echo "server time per request, us (ratio redis/polluxd: how many times the requests polluxd"
echo "serves with the same CPU)"
cost "SET (-P 16)" set16
cost "GET (-P 16)" get16
cost "SET (-P 1)" set1
cost "GET (-P 1)" get1
