#!/usr/bin/python3
"""polluxd on its DPDK backend against redis-server: the collection commands and pub/sub fan-out.

    bench/dpdk-vs-redis.py [--build DIR] [--requests N] [--repeat R] [--servers LIST]
                           [--tests LIST] [--pipelines 16,1] [--subscribers 100,1000]
                           [--deliveries N] [--net-buffers BYTES] [--json FILE]

redis-benchmark speaks only kernel TCP, so it cannot reach polluxd's kernel-bypass dataplane
on a host without a NIC. This script drives every server with pollux-bench instead (one
thread on CPU 0; calibrated within 2% of redis-benchmark, bench/loadgen/README.md), each
server alone on CPU 1, in one invocation:

  redis   Debian's redis-server on 127.0.0.1, pollux-bench on kernel sockets
  kernel  polluxd --pollux-workers 1, kernel backend, pollux-bench on kernel sockets
  dpdk    polluxd --pollux-workers 1 --pollux-backend dpdk and pollux-bench --transport
          dpdk: each on its own instance of Pollux's TCP/IP stack, joined by net_memif

Tests, as redis-benchmark -t runs them (-c 50, keys and members over 100,000, 3-byte values),
one after the other on the same dataset, each at every pipeline depth:
  lpush rpush lpop rpop sadd hset spop zadd zpopmin lrange_100 lrange_600
ZADD's score is 0 (redis-benchmark -r draws one); LRANGE's list holds 600 items. Then pub/sub
fan-out: one publishing connection (-P 16, 32-byte messages) and N subscribers of the channel,
messages delivered per second.

Printed: requests (or deliveries) per second of each server, the ratio of polluxd's to
redis-server's, and the share of CPU 1 redis-server used (below 1.0, redis was not the limit
and its figure is the client's). polluxd's workers poll, so their CPU share is always 1.0.
Needs root for DPDK (no hugepages: --no-huge). A benchmark, not a test: nothing fails on a
number. JSON goes to results/dpdk-vs-redis.json (results/ is not committed).
"""

import argparse
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pxlib import CpuSampler, Server, bench, write_results  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PORT = 6379
KEYSPACE = 100000
# name: (command templates, share of --requests); pollux-bench puts a key of the keyspace
# at __key__ and the value at __data__
TESTS = {
    "lpush": (["LPUSH mylist __data__"], 1),
    "rpush": (["RPUSH mylist __data__"], 1),
    "lpop": (["LPOP mylist"], 1),
    "rpop": (["RPOP mylist"], 1),
    "sadd": (["SADD myset __key__"], 1),
    "hset": (["HSET myhash __key__ __data__"], 1),
    "spop": (["SPOP myset"], 1),
    "zadd": (["ZADD myzset 0 __key__"], 1),
    "zpopmin": (["ZPOPMIN myzset"], 1),
    "lrange_100": (["LRANGE mylist 0 99"], 0.25),
    "lrange_600": (["LRANGE mylist 0 599"], 0.05),
}
WORKLOAD = ["--conns", "50", "--keyspace", str(KEYSPACE), "--key-size", "16",
            "--value-size", "3"]


def one(pbench, srv, work, label, args):
    """One measured pollux-bench run: (its JSON, the server's share of its CPU)."""
    sampler = CpuSampler(srv.proc.pid)
    try:
        res = bench(pbench, srv, args, os.path.join(work, f"{label}.json"))
    finally:
        sampler.stop()
    win = res["window_ns"]
    try:
        cores = sampler.window(win["start"], win["end"])[0]
    except RuntimeError:  # a run shorter than two samples
        cores = float("nan")
    return res, cores


def command(pbench, srv, work, text, n, pipeline=16):
    bench(pbench, srv, ["--conns", "1", "--pipeline", str(pipeline), "-n", str(n),
                        "--value-size", "3", "--command", text], os.path.join(work, "cmd.json"))


def on_fresh_server(kind, args, work, fn):
    """fn(server) on a server started for it. A server that dies under fn is logged and the
    whole of fn run again on a new one (at most three times): DPDK 22.11's net_memif has
    crashed the server side when a client process detached, as every pollux-bench run does
    (docs/benchmarks.md)."""
    for attempt in range(3):
        srv = Server(kind, args.build, work, PORT, buffers=args.net_buffers)
        try:
            return fn(srv)
        except RuntimeError:
            if srv.proc.poll() is None:
                raise
            with open(srv.log_path, errors="replace") as f:
                tail = f.read()[-600:]
            print(f"  {kind}: the server exited ({srv.proc.returncode}) during the run; "
                  f"again on a new one. Its log ended:\n{tail}", flush=True)
        finally:
            srv.stop()
    raise RuntimeError(f"{kind}: the server died three times")


def types_sequence(pbench, work, args, rep, p, srv):
    """Every test in order on srv at pipeline p: {test key: (rps, server cpu)}."""
    got = {}
    listed = False
    for t in args.tests:
        templates, share = TESTS[t]
        if t.startswith("lrange") and not listed:
            command(pbench, srv, work, "DEL mylist", 1)
            command(pbench, srv, work, "LPUSH mylist __data__", 600)
            listed = True
        n = max(1000, int(args.requests * share / (1 if p > 1 else 5)))
        argv = WORKLOAD + ["--pipeline", str(p), "-n", str(n)]
        for tp in templates:
            argv += ["--command", tp]
        res, cores = one(pbench, srv, work, f"{srv.kind}-{t}-{p}-{rep}", argv)
        key = f"{t} -P {p}"
        got[key] = {"rps": res["throughput_rps"], "cores": cores}
        print(f"  {srv.kind:6s} {key:16s} run {rep + 1}: "
              f"{res['throughput_rps']:>11,.0f} req/s  server cpu {cores:.2f}", flush=True)
    return got


def fanout(pbench, work, rep, s, publishes, srv):
    argv = ["--conns", "1", "--pipeline", "16", "-n", str(publishes), "--value-size", "32",
            "--subscribers", str(s), "--command", "PUBLISH bench __data__"]
    res, cores = one(pbench, srv, work, f"{srv.kind}-pubsub-{s}-{rep}", argv)
    if res["totals"]["delivered"] != publishes * s:
        raise RuntimeError(f"{srv.kind}: {res['totals']['delivered']} delivered of "
                           f"{publishes * s}")
    rate = res["delivered_per_s"]
    print(f"  {srv.kind:6s} pubsub {s:5d} subscribers run {rep + 1}: {rate:>12,.0f} "
          f"delivered/s  server cpu {cores:.2f}", flush=True)
    return {"rps": rate, "cores": cores}


def run_server(kind, pbench, work, args, out):
    """Each sequence of tests, and each fan-out run, on a server of its own."""
    for rep in range(args.repeat):
        for p in args.pipelines:
            got = on_fresh_server(kind, args, work,
                                  lambda srv: types_sequence(pbench, work, args, rep, p, srv))
            for key, r in got.items():
                out.setdefault(key, []).append(r)
        for s in args.subscribers:
            publishes = max(16, args.deliveries // s)
            r = on_fresh_server(kind, args, work,
                                lambda srv: fanout(pbench, work, rep, s, publishes, srv))
            out.setdefault(f"pubsub {s} subscribers", []).append(r)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="meson build dir")
    ap.add_argument("--requests", type=int, default=1000000,
                    help="requests per test at -P 16 (a fifth at -P 1; LRANGEs fewer)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each (medians reported)")
    ap.add_argument("--servers", default="redis,kernel,dpdk")
    ap.add_argument("--tests", default=",".join(TESTS))
    ap.add_argument("--pipelines", default="16,1")
    ap.add_argument("--subscribers", default="100,1000", help="'' skips pub/sub")
    ap.add_argument("--deliveries", type=int, default=20000000,
                    help="messages delivered per fan-out run (PUBLISHes times subscribers)")
    ap.add_argument("--net-buffers", type=int, default=0,
                    help="dpdk: each connection's send and receive buffer in both stacks "
                         "(pollux-net-sndbuf/rcvbuf; default theirs, 65536)")
    ap.add_argument("--json", default=os.path.join(ROOT, "results", "dpdk-vs-redis.json"))
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    args.servers = [s for s in args.servers.split(",") if s]
    args.tests = [t for t in args.tests.split(",") if t]
    args.pipelines = [int(p) for p in args.pipelines.split(",") if p]
    args.subscribers = [int(s) for s in args.subscribers.split(",") if s]
    for t in args.tests:
        if t not in TESTS:
            sys.exit(f"dpdk-vs-redis.py: unknown test {t}")
    if "dpdk" in args.servers and os.geteuid() != 0:
        sys.exit("dpdk-vs-redis.py: the dpdk server needs root (DPDK, memif)")
    pbench = os.path.join(args.build, "bench", "loadgen", "pollux-bench")
    res = {"config": vars(args).copy(), "servers": {}}
    with tempfile.TemporaryDirectory(prefix="pollux-dpdk-vs-redis-") as work:
        for kind in args.servers:
            run_server(kind, pbench, work, args, res["servers"].setdefault(kind, {}))
    print()
    names = args.servers
    keys = list(res["servers"][names[0]])
    print(f"{'test':24s}" + "".join(f"{n:>14s}" for n in names) +
          "".join(f"{n + '/redis':>14s}" for n in names if n != "redis" and "redis" in names) +
          f"{'redis cpu':>11s}")
    summary = {}
    for k in keys:
        med = {n: statistics.median(r["rps"] for r in res["servers"][n][k]) for n in names}
        line = f"{k:24s}" + "".join(f"{med[n]:>14,.0f}" for n in names)
        summary[k] = {"median": med}
        if "redis" in names:
            for n in names:
                if n != "redis":
                    ratio = med[n] / med["redis"]
                    summary[k][f"{n}/redis"] = ratio
                    line += f"{ratio:>14.2f}"
            cpu = statistics.median(r["cores"] for r in res["servers"]["redis"][k])
            summary[k]["redis_cpu"] = cpu
            line += f"{cpu:>11.2f}"
        print(line)
    res["summary"] = summary
    write_results(args.json, res)


if __name__ == "__main__":
    main()
