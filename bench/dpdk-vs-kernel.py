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
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER_CPU, BENCH_CPU = "1", "0"
KEYS = 100000
PORT = 6379
SERVER_IP, CLIENT_IP = "10.99.0.1", "10.99.0.2"
DPDK_RUN = "/var/run/dpdk"


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def cpu_stat(cpu):
    """(busy, steal) ticks of one CPU from /proc/stat; busy excludes idle, iowait and steal."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{cpu} "):
                v = [int(x) for x in line.split()[1:]]
                return v[0] + v[1] + v[2] + v[5] + v[6], v[7]
    raise RuntimeError(f"no cpu{cpu} in /proc/stat")


class CpuSampler:
    """utime + stime of the server and /proc/stat of its CPU every 20 ms, in a thread."""

    def __init__(self, pid):
        self.pid, self.samples, self.done = pid, [], threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.done.is_set():
            try:
                self.samples.append((time.monotonic_ns(), cpu_ticks(self.pid))
                                    + cpu_stat(SERVER_CPU))
            except OSError:
                return
            self.done.wait(0.02)

    def stop(self):
        self.done.set()
        self.thread.join()

    def window(self, start_ns, end_ns):
        """Per second of [start_ns, end_ns] (samples inside it): the server's CPU seconds,
        the busy and the stolen seconds of the server's CPU."""
        inside = [s for s in self.samples if start_ns <= s[0] <= end_ns]
        if len(inside) < 2:
            raise RuntimeError("too few CPU samples in the measured window")
        a, b = inside[0], inside[-1]
        per_s = os.sysconf("SC_CLK_TCK") * (b[0] - a[0]) / 1e9
        return tuple((b[i] - a[i]) / per_s for i in (1, 2, 3))


class Polluxd:
    def __init__(self, exe, args, workdir, name):
        self.log_path = os.path.join(workdir, f"polluxd-{name}.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            ["taskset", "-c", SERVER_CPU, exe, "--save", "", "--appendonly", "no",
             "--pollux-workers", "1", "--pollux-cpus", SERVER_CPU, "--port", str(PORT)] + args,
            stdout=self.log, stderr=subprocess.STDOUT, cwd=workdir)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def wait_ready(srv, check, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if srv.proc.poll() is not None:
            with open(srv.log_path, errors="replace") as f:
                raise RuntimeError("polluxd exited:\n" + f.read())
        if check():
            return
        time.sleep(0.05)
    raise RuntimeError("polluxd did not get ready")


def kernel_listening():
    try:
        with socket.create_connection(("127.0.0.1", PORT), timeout=0.5):
            return True
    except OSError:
        return False


def memif_listening(path):
    # DPDK 22.11's memif socket is abstract by default: "@path" in /proc/net/unix.
    with open("/proc/net/unix") as f:
        return any(line.rstrip().endswith("@" + path) or line.rstrip().endswith(" " + path)
                   for line in f)


def bench(exe, transport_args, host, extra, json_path):
    argv = (["taskset", "-c", BENCH_CPU, exe, "-h", host, "-p", str(PORT), "--threads", "1",
             "--key-size", "16", "--value-size", "32", "--keyspace", str(KEYS), "--quiet",
             "--json", json_path] + transport_args + extra)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"pollux-bench failed ({out.returncode}): {out.stdout}{out.stderr}")
    with open(json_path) as f:
        return json.load(f)


def run_backend(name, args, work):
    polluxd = os.path.join(args.build, "dataplane", "polluxd")
    pbench = os.path.join(args.build, "bench", "loadgen", "pollux-bench")
    sock = os.path.join(work, "memif.sock")
    tag = f"pxbench{os.getpid()}"
    if name == "kernel":
        server_args = ["--bind", "127.0.0.1"]
        host, transport = "127.0.0.1", []
        ready = kernel_listening
    else:
        server_args = ["--pollux-backend", "dpdk", "--pollux-dpdk-ip", f"{SERVER_IP}/24",
                       "--pollux-dpdk-vdev", f"net_memif0,role=server,socket={sock}",
                       "--pollux-dpdk-no-huge", "yes", "--pollux-dpdk-file-prefix", f"{tag}s",
                       "--pollux-dpdk-memory-mb", "512", "--pollux-dpdk-args", f"-l {SERVER_CPU}",
                       "--protected-mode", "no"]
        host = SERVER_IP
        transport = ["--transport", "dpdk", "--dpdk-ip", f"{CLIENT_IP}/24", "--dpdk-args",
                     f"-l {BENCH_CPU} --no-huge -m 512 --file-prefix {tag}c --no-pci "
                     f"--vdev net_memif0,role=client,socket={sock}"]
        ready = lambda: memif_listening(sock)  # noqa: E731
    srv = Polluxd(polluxd, server_args, work, name)
    runs = []
    try:
        wait_ready(srv, ready)
        # Load every key once (sequential SETs), then the measured GET runs.
        load = bench(pbench, transport, host, ["--conns", "16", "--pipeline", "16", "--ratio",
                                               "1:0", "--key-pattern", "seq", "-n", str(KEYS)],
                     os.path.join(work, "load.json"))
        if load["totals"]["sets"] != KEYS:
            raise RuntimeError("preload incomplete")
        for i in range(args.repeat):
            sampler = CpuSampler(srv.proc.pid)
            try:
                res = bench(pbench, transport, host,
                            ["--conns", "64", "--pipeline", "1", "--ratio", "0:1",
                             "--duration", str(args.seconds)],
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
        for suffix in "sc":
            shutil.rmtree(os.path.join(DPDK_RUN, tag + suffix), ignore_errors=True)
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
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(res, f, indent=2)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
