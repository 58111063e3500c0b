#!/bin/sh
# Regenerates redis7-collections.rdb with Debian's redis-server 7.0.15:
# one key per database (so the file's key order is fixed), each forcing an
# encoding. tests/unit/test_repl_rdb.c lists what it must hold; change both
# together.
#
#   tests/unit/data/make_rdb_fixtures.sh [port]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
port=${1:-6391}
dir=$(mktemp -d)
redis-server --port "$port" --bind 127.0.0.1 --save '' --dir "$dir" --dbfilename dump.rdb \
    --enable-debug-command yes --daemonize no --logfile "$dir/log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
tries=0
until redis-cli -p "$port" ping >/dev/null 2>&1; do
    tries=$((tries + 1))
    [ $tries -lt 100 ] || { echo "redis-server did not start" >&2; exit 1; }
    sleep 0.1
done
rep() { printf "%*s" "$2" "" | tr ' ' "$1"; }
cli() { redis-cli -p "$port" "$@" >/dev/null; }

# Thresholds set explicitly: the compiled-in defaults are not redis.conf's.
cli config set hash-max-listpack-value 100000 hash-max-listpack-entries 128
cli config set zset-max-listpack-entries 128 zset-max-listpack-value 64 set-max-intset-entries 512
{
    # db 0: hash, listpack (16), with every listpack entry encoding and an expire
    echo "select 0"
    echo "hset hash:lp a 1 b -1 int7 127 n128 128 int13 -4096 int16 32767 int24 -8388608"
    echo "hset hash:lp int32 2147483647 int64 -9223372036854775808 bigint 18446744073709551615"
    echo "hset hash:lp empty \"\" \"\" emptyfield s63 $(rep a 63) s64 $(rep b 64)"
    echo "hset hash:lp s4095 $(rep c 4095) s4096 $(rep d 4096)"
    echo "pexpireat hash:lp 4102444800000"
    # db 1: hash, hash table (4): 200 fields
    echo "select 1"
    i=0
    while [ $i -lt 200 ]; do
        if [ $((i % 2)) -eq 0 ]; then v=$i; else v="value:$i"; fi
        echo "hset hash:ht field:$i $v"
        i=$((i + 1))
    done
    # db 2: list, quicklist 2 with one listpack node (18)
    echo "select 2"
    echo "rpush list:lp a \"\" 0 127 -4096 4095 32767 -32768 8388607 -8388608 2147483647"
    echo "rpush list:lp -2147483648 9223372036854775807 -9223372036854775808 18446744073709551616"
    # db 3: list, quicklist 2 with 125 nodes of 8 items
    echo "select 3"
    echo "config set list-max-listpack-size 8"
    i=0
    while [ $i -lt 1000 ]; do
        if [ $((i % 3)) -eq 0 ]; then v=$((i * 1000 - 500000)); else v="item:$i"; fi
        echo "rpush list:big $v"
        i=$((i + 1))
    done
    echo "config set list-max-listpack-size -2"
    # db 4: list, quicklist 2 with a plain node between two packed ones
    echo "select 4"
    echo "debug quicklist-packed-threshold 100"
    echo "rpush list:plain small1 $(rep p 200) small2"
    echo "debug quicklist-packed-threshold 1073741824"
    # db 5, 6: set, intset (11) of 16-bit and of 64-bit integers
    echo "select 5"
    echo "sadd set:int16 1 2 -3 100 -32768 32767"
    echo "select 6"
    echo "sadd set:int64 1 70000 -5000000000 9223372036854775807 -9223372036854775808"
    # db 7: set, hash table (2), small
    echo "select 7"
    echo "sadd set:str apple banana \"\" $(rep x 30) 12 -7"
    # db 8: set, hash table (2): 600 integers, past set-max-intset-entries
    echo "select 8"
    i=0
    while [ $i -lt 600 ]; do
        echo "sadd set:big $((i * 7))"
        i=$((i + 1))
    done
    # db 9: zset, listpack (17)
    echo "select 9"
    echo "zadd zset:lp 1 m1 2.5 m2 -3 m3 1e100 m4 inf m5 -inf m6 0.1 m7 0 m8 1234567 m9"
    echo "zadd zset:lp 9007199254740993 m10 -0.5 \"\""
    # db 10: zset, skiplist with binary scores (5): 200 members
    echo "select 10"
    i=0
    while [ $i -lt 200 ]; do
        echo "zadd zset:sl $((i * 3 - 200)).5 m:$i"
        i=$((i + 1))
    done
    # db 11: a string among them
    echo "select 11"
    echo "set plain value"
} | redis-cli -p "$port" >/dev/null
# db 0 gets a value long enough for a 3-byte backlen (entry of 16383 bytes)
rep e 16378 | redis-cli -p "$port" -x hset hash:lp big >/dev/null
cli save
cp "$dir/dump.rdb" "$here/redis7-collections.rdb"
# What each key became (the test expects these encodings).
for k in 0:hash:lp 1:hash:ht 2:list:lp 3:list:big 4:list:plain 5:set:int16 6:set:int64 \
    7:set:str 8:set:big 9:zset:lp 10:zset:sl 11:plain; do
    echo "db ${k%%:*} ${k#*:}: $(redis-cli -p "$port" -n "${k%%:*}" object encoding "${k#*:}")"
done
