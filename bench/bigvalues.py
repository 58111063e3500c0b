#!/usr/bin/python3
"""What one big collection costs the requests around it, measured as the PING latency a second
client sees meanwhile (p99 and worst, from its own process):
- free: DEL against UNLINK: the reply's latency and how long until the memory is back (INFO
  lazyfree_pending_objects reaches 0);
- bgsave: a BGSAVE of a node holding only that collection (nested snapshots), until
  rdb_bgsave_in_progress is 0.

Usage: bench/bigvalues.py [--port 6379] [--members 1000000] [--what free|bgsave|all], against
a running node started with --save '' (it writes the key `bigvalues:bench`, deletes it, and
the bgsave part writes the node's dump file). Results: docs/data-types.md ("Lazy free",
"Snapshots without fork, with big collections")."""

import argparse
import subprocess
import sys
import time

import redis

PINGER = r"""
import redis, sys, time
c = redis.Redis(port=int(sys.argv[1]))
end = time.time() + float(sys.argv[2])
lat = []
while time.time() < end:
    t = time.perf_counter()
    c.ping()
    lat.append(time.perf_counter() - t)
lat.sort()
print("%.2f %.2f" % (lat[int(len(lat) * 0.99)] * 1000, lat[-1] * 1000))
"""


def fill(r, kind, key, n):
    p = r.pipeline(transaction=False)
    for i in range(0, n, 10000):
        names = [f"m{j}" for j in range(i, min(n, i + 10000))]
        if kind == "set":
            p.sadd(key, *names)
        elif kind == "hash":
            p.hset(key, mapping={m: "v" for m in names})
        elif kind == "list":
            p.rpush(key, *names)
        else:
            p.zadd(key, {m: j for j, m in enumerate(names, i)})
    p.execute()


def pinger(port):
    p = subprocess.Popen([sys.executable, "-c", PINGER, str(port), "2.5"],
                         stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    return p


def free(r, port, members, key):
    print("type  command  reply_ms  memory_back_ms  ping_p99_ms  ping_worst_ms")
    for kind in ("set", "zset"):
        for cmd in ("DEL", "UNLINK"):
            fill(r, kind, key, members)
            p = pinger(port)
            t = time.perf_counter()
            r.execute_command(cmd, key)
            reply = time.perf_counter() - t
            while r.info("memory")["lazyfree_pending_objects"]:
                time.sleep(0.001)
            back = time.perf_counter() - t
            p99, worst = p.communicate()[0].split()
            print(f"{kind:5} {cmd:8} {reply * 1000:8.2f}  {back * 1000:14.1f}  {p99:>11}  "
                  f"{worst:>13}")


def bgsave(r, port, members, key):
    print("type  bgsave_ms  ping_p99_ms  ping_worst_ms")
    for kind in ("zset", "hash", "set", "list"):
        r.delete(key)
        fill(r, kind, key, members)
        p = pinger(port)
        t = time.perf_counter()
        r.bgsave()
        while r.info("persistence")["rdb_bgsave_in_progress"]:
            time.sleep(0.002)
        took = time.perf_counter() - t
        p99, worst = p.communicate()[0].split()
        print(f"{kind:5} {took * 1000:9.1f}  {p99:>11}  {worst:>13}")
    r.delete(key)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=6379)
    ap.add_argument("--members", type=int, default=1000000)
    ap.add_argument("--what", choices=("free", "bgsave", "all"), default="all")
    a = ap.parse_args()
    r = redis.Redis(port=a.port)
    key = "bigvalues:bench"
    if a.what in ("free", "all"):
        free(r, a.port, a.members, key)
    if a.what in ("bgsave", "all"):
        bgsave(r, a.port, a.members, key)


if __name__ == "__main__":
    main()
