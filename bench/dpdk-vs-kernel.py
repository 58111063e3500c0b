#!/usr/bin/python3
"""The DPDK backend against the kernel backend: requests served per second of server CPU.

    bench/dpdk-vs-kernel.py [--build build] [--seconds 10] [--repeat 3] [--json FILE]

One polluxd worker on CPU 1, one pollux-bench thread on CPU 0; GET with 16-byte keys and
32-byte values (the keys are loaded first, every GET hits), 64 connections, pipeline 1:

  kernel  polluxd's kernel backend on 127.0.0.1, pollux-bench on kernel sockets (epoll)
  dpdk    polluxd --pollux-backend dpdk and pollux-bench --transport dpdk, both on Pollux's
          TCP/IP stack, joined by DPDK's net_memif (shared memory, no kernel on the path)

The server's CPU time is utime + stime from /proc/PID/stat over the measured window; the
DPDK worker busy-polls, so its CPU time is the wall time. Printed per backend: requests/s,
requests per server-CPU-second, p50/p99 latency; then the ratio dpdk/kernel of requests per
server-CPU-second. Needs root (memif sockets, DPDK), no hugepages (--no-huge).

A benchmark, not a test: it prints figures and never fails on one. docs/benchmarks.md has
the method and the latest results.
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER_CPU, BENCH_CPU = "1", "0"
KEYS = 100000
PORT = 6379
SERVER_IP, CLIENT_IP = "10.99.0.1", "10.99.0.2"


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Polluxd:
    def __init__(self, exe, args, workdir):
        self.log = open(os.path.join(workdir, "polluxd.log"), "wb")
        self.proc = subprocess.Popen(
            ["taskset", "-c", SERVER_CPU, exe, "--save", "", "--pollux-workers", "1",
             "--pollux-cpus", SERVER_CPU, "--port", str(PORT)] + args,
            stdout=self.log, stderr=subprocess.STDOUT, cwd=workdir)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def wait_kernel_port(host, port, proc, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("polluxd exited")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("polluxd did not listen")


def bench(exe, transport_args, host, extra, json_path):
    argv = (["taskset", "-c", BENCH_CPU, exe, "-h", host, "-p", str(PORT), "--threads", "1",
             "--key-size", "16", "--value-size", "32", "--keyspace", str(KEYS), "--quiet",
             "--json", json_path] + transport_args + extra)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"pollux-bench failed: {out.stdout}{out.stderr}")
    with open(json_path) as f:
        return json.load(f)


def run_backend(name, args, work, seconds):
    polluxd = os.path.join(args.build, "dataplane", "polluxd")
    pbench = os.path.join(args.build, "bench", "loadgen", "pollux-bench")
    sock = os.path.join(work, "memif.sock")
    if name == "kernel":
        server_args = ["--bind", "127.0.0.1"]
        host, transport = "127.0.0.1", []
    else:
        server_args = ["--pollux-backend", "dpdk", "--pollux-dpdk-ip", f"{SERVER_IP}/24",
                       "--pollux-dpdk-vdev", f"net_memif0,role=server,socket={sock}",
                       "--pollux-dpdk-no-huge", "yes", "--pollux-dpdk-in-memory", "yes",
                       "--pollux-dpdk-memory-mb", "512", "--pollux-dpdk-args",
                       f"-l {SERVER_CPU}"]
        host = SERVER_IP
        transport = ["--transport", "dpdk", "--dpdk-ip", f"{CLIENT_IP}/24", "--dpdk-args",
                     f"-l {BENCH_CPU} --no-huge --no-shconf --no-pci -m 512 "
                     f"--vdev net_memif0,role=client,socket={sock}"]
    srv = Polluxd(polluxd, server_args, work)
    try:
        if name == "kernel":
            wait_kernel_port(host, PORT, srv.proc)
        else:
            deadline = time.monotonic() + 20
            while not os.path.exists(sock) and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.5)
        # Load every key once (sequential SETs), then the measured GET run.
        bench(pbench, transport, host, ["--conns", "16", "--pipeline", "16", "--ratio", "1:0",
                                        "--key-pattern", "seq", "-n", str(KEYS)],
              os.path.join(work, "load.json"))
        runs = []
        for _ in range(args.repeat):
            c0, t0 = cpu_seconds(srv.proc.pid), time.monotonic()
            res = bench(pbench, transport, host,
                        ["--conns", "64", "--pipeline", "1", "--ratio", "0:1",
                         "--duration", str(seconds)], os.path.join(work, "run.json"))
            c1, t1 = cpu_seconds(srv.proc.pid), time.monotonic()
            cpu = c1 - c0
            reqs = res["totals"]["requests"]
            runs.append({
                "rps": res["throughput_rps"],
                "server_cpu_s": cpu,
                "wall_s": t1 - t0,
                "req_per_cpu_s": reqs / cpu if cpu > 0 else 0.0,
                "hits": res["totals"]["hits"], "gets": res["totals"]["gets"],
                "p50_ms": res["latency_ms"]["p50"], "p99_ms": res["latency_ms"]["p99"],
                "p999_ms": res["latency_ms"]["p99.9"],
            })
    finally:
        srv.stop()
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    med["runs"] = runs
    return med


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", default=os.path.join(ROOT, "results", "dpdk-vs-kernel.json"))
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("dpdk-vs-kernel.py: needs root (DPDK, memif)")
    res = {}
    with tempfile.TemporaryDirectory(prefix="pollux-dpdk-bench-") as work:
        for name in ("kernel", "dpdk"):
            res[name] = run_backend(name, args, work, args.seconds)
            r = res[name]
            print(f"{name:7s} {r['rps']:>10.0f} req/s  {r['req_per_cpu_s']:>10.0f} req per "
                  f"server-CPU-s  server CPU {r['server_cpu_s']:.2f} s  p50 {r['p50_ms']:.3f} ms"
                  f"  p99 {r['p99_ms']:.3f} ms  p99.9 {r['p999_ms']:.3f} ms"
                  f"  hits {r['hits']}/{r['gets']}", flush=True)
    ratio = res["dpdk"]["req_per_cpu_s"] / res["kernel"]["req_per_cpu_s"]
    res["ratio_req_per_cpu_s"] = ratio
    print(f"requests per server-CPU-second, dpdk / kernel: {ratio:.2f}x (target >= 3x)")
    print(f"dpdk: {res['dpdk']['rps']:.0f} GET/s on one server core, "
          f"p99 {res['dpdk']['p99_ms'] * 1000:.0f} us")
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(res, f, indent=2)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
