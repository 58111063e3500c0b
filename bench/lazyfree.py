#!/usr/bin/python3
"""DEL against UNLINK of one big collection: the reply's latency, how long until the memory is
back (INFO lazyfree_pending_objects reaches 0), and the PING latency a second client sees
meanwhile (p99 and worst, from its own process).

Usage: bench/lazyfree.py [--port 6379] [--members 1000000]   (against a running node; it
writes the key `lazyfree:bench` and deletes it). Results: docs/data-types.md, "Lazy free"."""

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
        else:
            p.zadd(key, {m: j for j, m in enumerate(names, i)})
    p.execute()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=6379)
    ap.add_argument("--members", type=int, default=1000000)
    a = ap.parse_args()
    r = redis.Redis(port=a.port)
    key = "lazyfree:bench"
    print("type  command  reply_ms  memory_back_ms  ping_p99_ms  ping_worst_ms")
    for kind in ("set", "zset"):
        for cmd in ("DEL", "UNLINK"):
            fill(r, kind, key, a.members)
            pinger = subprocess.Popen([sys.executable, "-c", PINGER, str(a.port), "1.5"],
                                      stdout=subprocess.PIPE, text=True)
            time.sleep(0.5)
            t = time.perf_counter()
            r.execute_command(cmd, key)
            reply = time.perf_counter() - t
            while r.info("memory")["lazyfree_pending_objects"]:
                time.sleep(0.001)
            back = time.perf_counter() - t
            p99, worst = pinger.communicate()[0].split()
            print(f"{kind:5} {cmd:8} {reply * 1000:8.2f}  {back * 1000:14.1f}  {p99:>11}  "
                  f"{worst:>13}")


if __name__ == "__main__":
    main()
