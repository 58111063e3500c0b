# Shared by the benchmark scripts (bench/vs-redis.sh, bench/tls.sh); sourced after `set -euo
# pipefail` with `requests` and `repeat` set to the script's defaults. Parses the common
# options, checks the tools, makes a work directory removed at exit, and starts and stops one
# server at a time pinned to a core:
#
#   --polluxd PATH --requests N --repeat R --server-cpu C --client-cpu C
#   start_server polluxd|redis [extra server arguments]; stop_server
#   settled_rss: the server's resident bytes 12 s after a load
#   bench_run NAME PIPELINE TEST RANGE flush|keep: one redis-benchmark test, $repeat runs
#   bench_cmd NAME PIPELINE RANGE flush|keep ARGS...: the same for any redis-benchmark arguments
#   bench_header: the machine and settings lines and the table's heading
#   res_row LABEL KEY, res_cost LABEL KEY: print a figure of both servers from res[NAME,KEY]
here=$(cd "$(dirname "$0")/.." && pwd)
polluxd="$here/build/dataplane/polluxd"
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
for tool in redis-server redis-benchmark redis-cli taskset ${bench_tools:-}; do
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

start_server() { # name [extra server arguments]
    local name=$1
    shift
    case "$name" in
    polluxd) taskset -c "$server_cpu" "$polluxd" --port "$port" --pollux-workers 1 \
                 --pollux-cpus "$server_cpu" --save '' --appendonly no "$@" \
                 >"$work/server.log" 2>&1 & ;;
    redis) taskset -c "$server_cpu" redis-server --port "$port" --save '' --appendonly no "$@" \
               >"$work/server.log" 2>&1 & ;;
    esac
    pid=$!
    for _ in $(seq 100); do
        redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "$name did not start" >&2; cat "$work/server.log" >&2; exit 1
}

stop_server() {
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
}


# The server's resident bytes 12 s after a load: both allocators hand freed pages back over
# about ten seconds (jemalloc's dirty_decay_ms), and polluxd finishes a table resize the
# load left half done while idle, so a reading right after a load counts memory already
# freed.
settled_rss() {
    sleep 12
    awk '/VmRSS/ {print $2 * 1024}' "/proc/$pid/status"
}

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

# "rps client-cpu% server-us-per-request" of one redis-benchmark run, `redis-benchmark ARGS`:
# the run with the median rps of $repeat. The client's CPU share tells whether a figure
# measures the server or the client: near 100% the single-core client, not the server, set
# the pace; the server's microseconds per request are what the server would need with a
# faster client.
bench_cmd() { # name pipeline range flush|keep args...
    local name=$1 pipeline=$2 range=$3 mode=$4
    shift 4
    local out rps k0 k1 t0 t1 u0 u1 runs=() me=$BASHPID
    for _ in $(seq "$repeat"); do
        # keep: run against what the run before left (GET after SET: hits)
        [ "$mode" = flush ] && redis-cli -p "$port" flushall >/dev/null
        u0=$(server_usec "$name")
        k0=$(child_ticks "$me")
        t0=$(date +%s.%N)
        taskset -c "$client_cpu" redis-benchmark -p "$port" -c 50 -n "$requests" \
            -r "$range" -P "$pipeline" -q "$@" >"$work/bench.out" 2>/dev/null
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

# One redis-benchmark test (-t TEST).
bench_run() { # name pipeline test range flush|keep
    bench_cmd "$1" "$2" "$4" "$5" -t "$3"
}

# The lines before a results table.
bench_header() {
    echo
    echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
    echo "server on cpu $server_cpu, redis-benchmark on cpu $client_cpu, median of $repeat runs, $requests requests each"
    printf '%-34s %14s %14s %8s   %s\n' figure polluxd redis ratio "client CPU (polluxd / redis)"
}

res_row() { # label key
    local p r pc rc
    read -r p pc _ <<<"${res[polluxd,$2]}"
    read -r r rc _ <<<"${res[redis,$2]}"
    printf '%-34s %14s %14s %8.2f' "$1" "$p" "$r" "$(awk -v a="$p" -v b="$r" 'BEGIN {print a / b}')"
    [ -n "${pc:-}" ] && printf '   %s%% / %s%%' "$pc" "$rc"
    printf '\n'
}
res_cost() { # label key: server microseconds per request; ratio redis/polluxd (higher: polluxd cheaper)
    local p r
    read -r _ _ p <<<"${res[polluxd,$2]}"
    read -r _ _ r <<<"${res[redis,$2]}"
    printf '%-34s %14s %14s %8.2f\n' "$1" "$p" "$r" "$(awk -v a="$p" -v b="$r" 'BEGIN {print b / a}')"
}
