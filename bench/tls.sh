#!/usr/bin/env bash
# The cost of TLS: the same redis-benchmark load on the plain port and on the tls-port of
# one server, for polluxd (1 worker) and Debian's redis-server, the server pinned to one
# core and redis-benchmark to another. A benchmark, not a test: nothing fails on a number.
#
#   bench/tls.sh [--polluxd PATH] [--requests N] [--repeat R] [--server-cpu C] [--client-cpu C]
#
# Figures, for SET and GET with -P 16 and -P 1 (redis-benchmark -c 50 -r 1000000):
#   rps plain, rps over TLS (--tls), and their ratio; for polluxd also the worker's time
#   per request (INFO pollux pollux_busy_usec), which a busy-polling worker's CPU time
#   cannot give. The certificates are made with the openssl CLI in a temporary directory;
#   tls-auth-clients is no (redis-benchmark's connections present no certificate).
set -euo pipefail
requests=500000
repeat=3
bench_tools=openssl
. "$(dirname "$0")/lib.sh"
tls_port=$((port + 1))

key=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 -new "${key[@]}" -days 2 -keyout "$work/ca.key" -out "$work/ca.crt" \
    -subj /CN=bench-ca 2>/dev/null
openssl req -new "${key[@]}" -keyout "$work/server.key" -out "$work/server.csr" \
    -subj /CN=localhost 2>/dev/null
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" \
    -CAcreateserial -days 2 -out "$work/server.crt" 2>/dev/null
tls=(--tls-port "$tls_port" --tls-cert-file "$work/server.crt" --tls-key-file "$work/server.key"
     --tls-ca-cert-file "$work/ca.crt" --tls-auth-clients no)

# "rps us-per-request" of the run with the median rps of $repeat
bench() { # name pipeline test tls(0/1)
    local runs=() i out rps b0 b1 us
    for i in $(seq "$repeat"); do
        local args=(-p "$port")
        [ "$4" = 1 ] && args=(-p "$tls_port" --tls --cacert "$work/ca.crt")
        b0=0
        [ "$1" = polluxd ] && b0=$(server_usec polluxd)
        out=$(taskset -c "$client_cpu" redis-benchmark "${args[@]}" -c 50 -n "$requests" \
                  -r 1000000 -t "$3" -P "$2" -q --csv 2>/dev/null | tail -1)
        rps=$(echo "$out" | awk -F, '{gsub(/"/, "", $2); printf "%.0f", $2}')
        us=-
        if [ "$1" = polluxd ]; then
            b1=$(server_usec polluxd)
            us=$(awk -v a="$b0" -v b="$b1" -v n="$requests" 'BEGIN {printf "%.2f", (b - a) / n}')
        fi
        runs+=("$rps $us")
    done
    printf '%s\n' "${runs[@]}" | sort -n | awk -v m=$(((repeat + 1) / 2)) 'NR == m'
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
    "load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
echo "server on cpu $server_cpu, redis-benchmark on cpu $client_cpu, median of $repeat runs," \
    "$requests requests each"
printf '| server | load | plain rps | TLS rps | TLS / plain | worker µs/req plain | TLS |\n'
printf '| --- | --- | ---: | ---: | ---: | ---: | ---: |\n'
for name in polluxd redis; do
    start_server "$name" "${tls[@]}"
    for p in 16 1; do
        for t in set get; do
            read -r prps pus <<<"$(bench "$name" "$p" "$t" 0)"
            read -r trps tus <<<"$(bench "$name" "$p" "$t" 1)"
            ratio=$(awk -v a="$trps" -v b="$prps" 'BEGIN {printf "%.2f", a / b}')
            printf '| %s | %s -P %s | %s | %s | %s | %s | %s |\n' "$name" \
                "$(echo "$t" | tr a-z A-Z)" "$p" "$prps" "$trps" "$ratio" "$pus" "$tus"
        done
    done
    stop_server
done
