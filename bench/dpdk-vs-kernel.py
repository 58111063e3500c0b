#!/usr/bin/python3
"""The DPDK backend against the kernel backend: requests served per second of server CPU.

    bench/dpdk-vs-kernel.py [--build DIR] [--seconds 10] [--repeat 3] [--json FILE]

One polluxd worker on CPU 1, one pollux-bench thread on CPU 0; GET with 16-byte keys and
32-byte values (the keys are loaded first, so every GET hits), 64 connections, pipeline 1:

  kernel  polluxd's kernel backend on 127.0.0.1, pollux-bench on kernel sockets (epoll)
  dpdk    polluxd --pollux-backend dpdk and pollux-bench --transport dpdk, both on Pollux's
          TCP/IP stack, joined by DPDK's net_memif (shared memory, no kernel on the path)

The server's CPU time is utime + stime from /proc/PID/stat, sampled every 20 ms and taken
over the bench's measured window only (pollux-bench --json reports that window on
CLOCK_MONOTONIC, the clock of time.monotonic_ns). The DPDK worker busy-polls, so its CPU
time is the wall time. Printed per backend: requests/s (all on one server core), the server
cores in use, requests per server-CPU-second, p50/p99 latency; then the ratio dpdk/kernel of
requests per server-CPU-second (the target is >= 3x).

Nothing is added to the kernel's network: the kernel run uses loopback, and net_memif is
shared memory between the two processes (no device; the 10.99.0.x addresses belong to the
two userspace stacks only). The two DPDK processes get distinct --file-prefix values
(their runtime directories under /var/run/dpdk are removed at the end). Needs root; no
hugepages (--no-huge).

A benchmark, not a test: it prints figures and never fails on one. JSON goes to
results/dpdk-vs-kernel.json (results/ is not committed).
"""

import argparse
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pxlib import BENCH_CPU, SERVER_CPU, CpuSampler, Server, bench, write_results  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEYS = 100000
PORT = 6379
WORKLOAD = ["--key-size", "16", "--value-size", "32", "--keyspace", str(KEYS)]


def run_backend(name, args, work):
    pbench = os.path.join(args.build, "bench", "loadgen", "pollux-bench")
    srv = Server(name, args.build, work, PORT)
    runs = []
    try:
        # Load every key once (sequential SETs), then the measured GET runs.
        load = bench(pbench, srv, WORKLOAD + ["--conns", "16", "--pipeline", "16", "--ratio",
                                              "1:0", "--key-pattern", "seq", "-n", str(KEYS)],
                     os.path.join(work, "load.json"))
        if load["totals"]["sets"] != KEYS:
            raise RuntimeError("preload incomplete")
        for i in range(args.repeat):
            sampler = CpuSampler(srv.proc.pid)
            try:
                res = bench(pbench, srv, WORKLOAD + ["--conns", "64", "--pipeline", "1",
                                                     "--ratio", "0:1", "--duration",
                                                     str(args.seconds)],
                            os.path.join(work, f"{name}-{i}.json"))
            finally:
                sampler.stop()
            win = res["window_ns"]
            cores, cpu_busy, cpu_steal = sampler.window(win["start"], win["end"])
            secs = res["totals"]["seconds"]
            rps = res["throughput_rps"]
            runs.append({
                "rps": rps,
                "server_cores": cores,
                "server_cpu_s": cores * secs,
                # CPU 1 as /proc/stat sees it: more than server_cores means something else ran
                # there; steal is time the hypervisor took.
                "cpu1_busy": cpu_busy,
                "cpu1_steal": cpu_steal,
                "req_per_server_cpu_s": rps / cores if cores > 0 else 0.0,
                "p50_ms": res["latency_ms"]["p50"],
                "p99_ms": res["latency_ms"]["p99"],
                "p999_ms": res["latency_ms"]["p99.9"],
                "seconds": secs,
                "requests": res["totals"]["requests"],
                "hits": res["totals"]["hits"],
                "gets": res["totals"]["gets"],
            })
            r = runs[-1]
            print(f"  {name} run {i + 1}: {r['rps']:.0f} req/s, server {r['server_cores']:.2f} "
                  f"cores (cpu{SERVER_CPU} busy {r['cpu1_busy']:.2f}, steal {r['cpu1_steal']:.2f}), "
                  f"{r['req_per_server_cpu_s']:.0f} req/server-CPU-s, p50 "
                  f"{r['p50_ms']:.3f} ms, p99 {r['p99_ms']:.3f} ms", flush=True)
    finally:
        srv.stop()
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    med["runs"] = runs
    return med


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="meson build dir")
    ap.add_argument("--seconds", type=float, default=10, help="length of one measured run")
    ap.add_argument("--repeat", type=int, default=3, help="runs per backend (medians reported)")
    ap.add_argument("--json", default=os.path.join(ROOT, "results", "dpdk-vs-kernel.json"))
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)  # polluxd runs in a temporary folder
    if os.geteuid() != 0:
        sys.exit("dpdk-vs-kernel.py: needs root (DPDK, memif)")
    if os.cpu_count() < 2:
        sys.exit("dpdk-vs-kernel.py: needs CPUs 0 and 1")
    res = {"config": {"server_cpu": SERVER_CPU, "bench_cpu": BENCH_CPU, "server_workers": 1,
                      "bench_threads": 1, "conns": 64, "pipeline": 1, "command": "GET",
                      "key_size": 16, "value_size": 32, "keyspace": KEYS,
                      "seconds": args.seconds, "repeat": args.repeat}}
    with tempfile.TemporaryDirectory(prefix="pollux-dpdk-bench-") as work:
        for name in ("kernel", "dpdk"):
            res[name] = run_backend(name, args, work)
    print()
    for name in ("kernel", "dpdk"):
        r = res[name]
        print(f"{name:7s} {r['rps']:>9.0f} req/s on one server core  server {r['server_cores']:.2f}"
              f" cores  {r['req_per_server_cpu_s']:>9.0f} req/server-CPU-s  p50 "
              f"{r['p50_ms'] * 1000:.0f} us  p99 {r['p99_ms'] * 1000:.0f} us  hits "
              f"{r['hits']:.0f}/{r['gets']:.0f}")
        if r["cpu1_busy"] - r["server_cores"] > 0.05:
            print(f"  warning: other processes took {r['cpu1_busy'] - r['server_cores']:.2f} of "
                  f"cpu{SERVER_CPU} during the {name} runs; the figures are disturbed")
    ratio = res["dpdk"]["req_per_server_cpu_s"] / res["kernel"]["req_per_server_cpu_s"]
    res["ratio_req_per_server_cpu_s"] = ratio
    res["ratio_rps"] = res["dpdk"]["rps"] / res["kernel"]["rps"]
    print(f"requests per server-CPU-second, dpdk / kernel: {ratio:.2f}x (target >= 3x); "
          f"requests/s: {res['ratio_rps']:.2f}x")
    write_results(args.json, res)


if __name__ == "__main__":
    main()
