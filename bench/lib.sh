# Shared by the benchmark scripts (bench/vs-redis.sh, bench/tls.sh); sourced after `set -euo
# pipefail` with `requests` and `repeat` set to the script's defaults. Parses the common
# options, checks the tools, makes a work directory removed at exit, and starts and stops one
# server at a time pinned to a core:
#
#   --polluxd PATH --requests N --repeat R --server-cpu C --client-cpu C
#   start_server polluxd|redis [extra server arguments]; stop_server
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

