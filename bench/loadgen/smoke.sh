#!/bin/sh
# Smoke test for pollux-bench: run it briefly against a private redis-server (and memcached
# when installed) on free loopback ports, with and without --verify, and check exit codes and
# that the report names throughput and p99; then the pub/sub fan-out mode against redis-server
# and a private polluxd, checking from --json that every subscriber got every message.
# Exits 77 (skip) only when redis-server is missing.
set -u

BENCH=${1:?usage: smoke.sh /path/to/pollux-bench /path/to/polluxd}
POLLUXD=${2:?usage: smoke.sh /path/to/pollux-bench /path/to/polluxd}
command -v redis-server >/dev/null 2>&1 || { echo "redis-server not installed: skip"; exit 77; }

TMP=$(mktemp -d)
REDIS_PID=
MC_PID=
POLLUXD_PID=
cleanup() {
    [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null
    [ -n "$MC_PID" ] && kill "$MC_PID" 2>/dev/null
    [ -n "$POLLUXD_PID" ] && kill "$POLLUXD_PID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port PORT: until something accepts connections there (5 s at most)
wait_port() {
    i=0
    while [ $i -lt 50 ]; do
        python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $1), 0.2)" \
            2>/dev/null && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

fail() {
    echo "FAIL: $*"
    exit 1
}

# run NAME EXPECTED_STATUS ARGS...: run the bench, check status and the report
run() {
    name=$1 want=$2
    shift 2
    "$BENCH" --quiet "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
    rc=$?
    cat "$TMP/$name.out" "$TMP/$name.err"
    [ "$rc" -eq "$want" ] || fail "$name: exit status $rc, expected $want"
    if [ "$want" -eq 0 ]; then
        grep -q 'throughput' "$TMP/$name.out" || fail "$name: no throughput in the report"
        grep -q 'p99 ' "$TMP/$name.out" || fail "$name: no p99 in the report"
    fi
    echo "ok: $name"
}

# fanout NAME PORT SUBSCRIBERS PUBLISHES ARGS...: a fan-out run (one thread), then from its
# JSON: delivered == PUBLISHES x SUBSCRIBERS, nothing undelivered, delivered_per_s reported
fanout() {
    name=$1 port=$2 subs=$3 pubs=$4
    shift 4
    run "$name" 0 -p "$port" --conns 1 --pipeline 16 -n "$pubs" --subscribers "$subs" \
        --command 'PUBLISH bench __data__' --value-size 32 --json "$TMP/$name.json" "$@"
    python3 - "$TMP/$name.json" "$((subs * pubs))" <<'EOF' || fail "$name: wrong totals in the JSON"
import json, sys
d = json.load(open(sys.argv[1]))
t = d["totals"]
print("delivered", t["delivered"], "undelivered", t["undelivered"], "per s", d["delivered_per_s"])
sys.exit(0 if t["delivered"] == int(sys.argv[2]) and t["undelivered"] == 0
         and d["delivered_per_s"] > 0 else 1)
EOF
    grep -q 'delivered/s' "$TMP/$name.out" || fail "$name: no delivered/s in the report"
}

RPORT=$(free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$TMP" >"$TMP/redis.log" 2>&1 &
REDIS_PID=$!
wait_port "$RPORT" || fail "redis-server did not start on port $RPORT"

run redis-mix 0 -p "$RPORT" -n 5000 --conns 8 --pipeline 8 --keyspace 1000
run redis-verify 0 -p "$RPORT" -n 20000 --threads 2 --conns 4 --pipeline 8 --keyspace 500 \
    --ratio 1:1 --verify --value-size 48-300
grep -q '0 mismatches' "$TMP/redis-verify.out" || fail "redis-verify: mismatches reported"
run redis-resp3-zipf 0 -p "$RPORT" -n 3000 --resp 3 --key-pattern zipf --conns 4 \
    --json "$TMP/out.json"
grep -q '"p99"' "$TMP/out.json" || fail "json: no p99"
grep -q '"throughput_rps"' "$TMP/out.json" || fail "json: no throughput"
run redis-command 0 -p "$RPORT" --duration 0.3 --conns 2 --pipeline 4 \
    --command 'HSET h:__key__ f __data__' --command 'HGETALL h:__key__'
run redis-error-replies 3 -p "$RPORT" -n 100 --conns 1 --command 'NOSUCHCOMMAND __key__'
fanout redis-fanout "$RPORT" 10 2000
run redis-fanout-not-publish 2 -p "$RPORT" -n 100 --subscribers 2 --command 'GET __key__'

PPORT=$(free_port)
"$POLLUXD" --port "$PPORT" --bind 127.0.0.1 --pollux-workers 1 --save '' --appendonly no \
    --dir "$TMP" >"$TMP/polluxd.log" 2>&1 &
POLLUXD_PID=$!
wait_port "$PPORT" || { cat "$TMP/polluxd.log"; fail "polluxd did not start on port $PPORT"; }
fanout polluxd-fanout "$PPORT" 10 2000
fanout polluxd-fanout-resp3 "$PPORT" 10 2000 --resp 3
kill "$POLLUXD_PID"
wait "$POLLUXD_PID" 2>/dev/null
POLLUXD_PID=

# A connection failure must be an error: the port is closed once redis-server is gone.
kill "$REDIS_PID"
wait "$REDIS_PID" 2>/dev/null
REDIS_PID=
run redis-refused 2 -p "$RPORT" -n 100

if command -v memcached >/dev/null 2>&1; then
    MPORT=$(free_port)
    user=
    [ "$(id -u)" -eq 0 ] && user="-u root"
    # shellcheck disable=SC2086
    memcached -l 127.0.0.1 -p "$MPORT" -U 0 $user >"$TMP/mc.log" 2>&1 &
    MC_PID=$!
    wait_port "$MPORT" || fail "memcached did not start on port $MPORT"
    run mc-mix 0 --protocol memcache -p "$MPORT" -n 5000 --conns 8 --pipeline 8 --ratio 1:3
    run mc-verify 0 --protocol memcache -p "$MPORT" -n 20000 --threads 2 --conns 4 \
        --pipeline 8 --keyspace 500 --ratio 1:1 --verify
    grep -q '0 mismatches' "$TMP/mc-verify.out" || fail "mc-verify: mismatches reported"
else
    echo "memcached not installed: memcache runs skipped"
fi

echo "PASS"
