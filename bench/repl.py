#!/usr/bin/python3
"""Replication benchmarks: polluxd and Debian's redis-server measured the same way, in one run.

    bench/repl.py [--keys N] [--repeat R] [--only sync,lag,snapshot] [--json FILE]

  sync      time of a full sync of N keys (16-byte keys, 32-byte values) from a primary to an
            empty replica: polluxd -> polluxd and redis-server -> redis-server (diskless
            primary, delay 0; Redis's replica loads through a disk file, as by default, and so
            does Pollux's), from REPLICAOF until the replica serves all N keys; median of R
  lag       replication lag under a steady write load: the time WAIT 1 takes after a write
            while pollux-bench writes at full speed on other connections (p50/p99/max)
  snapshot  the primary's latency under a steady GET/SET load (pollux-bench, 50 connections;
            the replica runs beside the client on CPU 1), in 3-second windows alternating
            without and during full syncs (5 of each, medians)
            without and during full syncs of N keys (a replica re-syncing in a loop), and the
            primary's memory (PSS, with a forked child's) before and at its peak during the syncs

A benchmark, not a test: it prints figures and never fails on one. docs/benchmarks.md has
the method and the latest results. Every server runs on CPU 0, clients on CPU 1 (taskset),
each server with one worker: the figures compare one core each.
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
POLLUXD = os.path.join(ROOT, "build/dataplane/polluxd")
BENCH = os.path.join(ROOT, "build/bench/loadgen/pollux-bench")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Conn:
    """A minimal RESP client (the benchmark must not depend on redis-py's speed)."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=120)
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(1 << 16)
            if not d:
                raise ConnectionError("closed")
            self.buf += d
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _read(self):
        line = self._line()
        t = line[:1]
        if t in (b"+", b":"):
            return line[1:]
        if t == b"-":
            raise RuntimeError(line.decode())
        if t == b"$":
            n = int(line[1:])
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self.buf += self.s.recv(1 << 16)
            v, self.buf = self.buf[:n], self.buf[n + 2:]
            return v
        if t == b"*":
            return [self._read() for _ in range(int(line[1:]))]
        raise RuntimeError(f"bad reply {line!r}")

    def cmd(self, *args):
        out = f"*{len(args)}\r\n".encode()
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)
        return self._read()

    def info(self, section):
        text = self.cmd("INFO", section).decode()
        return dict(l.split(":", 1) for l in text.split("\r\n") if ":" in l)

    def close(self):
        self.s.close()


class Node:
    """A server on CPU 0. A polluxd that serves no load here (a replica; both nodes of the
    sync figure) sleeps when idle (pollux-idle-sleep-us) instead of busy-polling the core
    the other node needs, as Redis sleeps in epoll."""

    def __init__(self, kind, extra=(), busy=False, cpu=0):
        self.kind = kind
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix=f"pollux-bench-{kind}-")
        if kind == "polluxd":
            cmd = [POLLUXD, "--pollux-workers", "1", "--pollux-cpus", str(cpu)]
            if not busy:
                cmd += ["--pollux-idle-sleep-us", "100"]
        else:
            cmd = ["redis-server", "--appendonly", "no", "--repl-diskless-sync", "yes"]
        cmd += ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--repl-diskless-sync-delay", "0"] + list(extra)
        self.proc = subprocess.Popen(["taskset", "-c", str(cpu)] + cmd, cwd=self.dir,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                Conn(self.port).close()
                break
            except OSError:
                time.sleep(0.05)

    def conn(self):
        return Conn(self.port)

    def rss(self):
        """Proportional set size of the server and its children (Redis forks to snapshot:
        the child's copied pages count too, shared pages once)."""
        pids = [self.proc.pid]
        try:
            with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
                pids += [int(x) for x in f.read().split()]
        except OSError:
            pass
        total = 0
        for pid in pids:
            try:
                with open(f"/proc/{pid}/smaps_rollup") as f:
                    for line in f:
                        if line.startswith("Pss:"):
                            total += int(line.split()[1]) * 1024
            except OSError:
                pass
        return total

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def bench(port, *args, duration=None, requests=None, json_path=None):
    cmd = ["taskset", "-c", "1", BENCH, "-p", str(port), "--quiet"] + list(args)
    cmd += ["--duration", str(duration)] if duration else ["-n", str(requests)]
    if json_path:
        cmd += ["--json", json_path]
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if res.returncode not in (0, 3):
        raise RuntimeError(res.stdout + res.stderr)
    if json_path:
        with open(json_path) as f:
            return json.load(f)
    return None


def load(node, keys):
    bench(node.port, "--conns", "20", "--pipeline", "64", "--keyspace", str(keys),
          "--key-pattern", "seq", "--ratio", "1:0", "--key-size", "16", "--value-size", "32",
          requests=keys)
    n = int(node.conn().cmd("DBSIZE"))
    assert n == keys, f"{node.kind}: loaded {n} of {keys}"


def sync_once(primary, replica, keys):
    """Seconds from REPLICAOF until the replica is up and holds every key."""
    c = replica.conn()
    c.cmd("REPLICAOF", "NO", "ONE")
    c.cmd("FLUSHALL")
    t0 = time.monotonic()
    c.cmd("REPLICAOF", "127.0.0.1", primary.port)
    while True:
        try:
            up = c.info("replication").get("master_link_status") == "up"
            if up and int(c.cmd("DBSIZE")) == keys:
                break
        except RuntimeError:  # -LOADING
            pass
        time.sleep(0.005)
    dt = time.monotonic() - t0
    c.cmd("REPLICAOF", "NO", "ONE")
    c.close()
    return dt


def measure_sync(kind, keys, repeat):
    # no client load here: the primary on CPU 0, the replica on CPU 1
    p, r = Node(kind, busy=True, cpu=0), Node(kind, busy=True, cpu=1)
    try:
        load(p, keys)
        times = [sync_once(p, r, keys) for _ in range(repeat)]
        return {"median_s": statistics.median(times), "runs_s": times}
    finally:
        r.stop()
        p.stop()


def measure_lag(kind, seconds=8):
    p, r = Node(kind, busy=True), Node(kind)
    try:
        r.conn().cmd("REPLICAOF", "127.0.0.1", p.port)
        while r.conn().info("replication").get("master_link_status") != "up":
            time.sleep(0.05)
        stop = threading.Event()
        loader = threading.Thread(target=bench, args=(p.port, "--conns", "20", "--ratio", "1:0",
                                                       "--keyspace", "100000"),
                                  kwargs={"duration": seconds})
        loader.start()
        c = p.conn()
        lat = []
        t_end = time.monotonic() + seconds - 0.5
        time.sleep(0.5)
        while time.monotonic() < t_end:
            c.cmd("SET", "probe", time.time())
            t0 = time.perf_counter()
            n = int(c.cmd("WAIT", 1, 1000))
            if n >= 1:
                lat.append((time.perf_counter() - t0) * 1000)
        loader.join()
        stop.set()
        lat.sort()
        pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")
        return {"probes": len(lat), "p50_ms": pick(0.5), "p99_ms": pick(0.99),
                "max_ms": lat[-1] if lat else float("nan")}
    finally:
        r.stop()
        p.stop()


def measure_snapshot(kind, keys, rounds=5, seconds=3):
    """Alternating windows of `seconds` without and with full syncs running, `rounds` of
    each, so that drift of the machine's speed affects both alike; medians reported."""
    # the replica (which loads every sync) runs beside the client on CPU 1, not on the
    # primary's core: the figure is the primary's own cost of the snapshots
    p, r = Node(kind, busy=True), Node(kind, cpu=1)
    work = tempfile.mkdtemp()
    try:
        load(p, keys)
        args = ("--conns", "50", "--ratio", "1:9", "--keyspace", str(keys), "--key-size", "16",
                "--value-size", "32")
        rss0 = p.rss()
        peak = [rss0]
        syncing, busy, stop = threading.Event(), threading.Event(), threading.Event()
        syncs = []

        def resync():
            while not stop.is_set():
                if syncing.is_set():
                    busy.set()
                    syncs.append(sync_once(p, r, keys))
                    busy.clear()
                else:
                    time.sleep(0.01)

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], p.rss())
                time.sleep(0.02)

        ts = [threading.Thread(target=resync), threading.Thread(target=sample)]
        for t in ts:
            t.start()
        without, during, rps0, rps1 = [], [], [], []
        for i in range(rounds):
            res = bench(p.port, *args, duration=seconds, json_path=os.path.join(work, "a.json"))
            without.append(float(res["latency_ms"]["p99"]))
            rps0.append(res["throughput_rps"])
            syncing.set()
            res = bench(p.port, *args, duration=seconds, json_path=os.path.join(work, "b.json"))
            during.append(float(res["latency_ms"]["p99"]))
            rps1.append(res["throughput_rps"])
            syncing.clear()
            while busy.is_set():  # the sync under way finishes before the next quiet window
                time.sleep(0.02)
        stop.set()
        for t in ts:
            t.join()
        med = statistics.median
        return {"p99_ms_without": med(without), "p99_ms_during": med(during),
                "p99_ratio": med(during) / med(without), "p99_without_runs": without,
                "p99_during_runs": during, "rps_without": med(rps0), "rps_during": med(rps1),
                "full_syncs_during": len(syncs),
                "rss_before": rss0, "rss_peak": peak[0], "rss_growth": peak[0] / rss0 - 1}
    finally:
        shutil.rmtree(work, ignore_errors=True)
        r.stop()
        p.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--keys", type=int, default=1000000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", default="sync,lag,snapshot")
    ap.add_argument("--json")
    o = ap.parse_args()
    for path in (POLLUXD, BENCH):
        if not os.access(path, os.X_OK):
            sys.exit(f"{path} not built (make build)")
    if not shutil.which("redis-server"):
        sys.exit("redis-server not installed (scripts/deps.sh --dev)")
    only = o.only.split(",")
    out = {"keys": o.keys}
    kinds = ("polluxd", "redis")
    if "sync" in only:
        out["sync"] = {k: measure_sync(k, o.keys, o.repeat) for k in kinds}
        s = out["sync"]
        print(f"full sync of {o.keys} keys: polluxd {s['polluxd']['median_s']:.3f} s, "
              f"redis {s['redis']['median_s']:.3f} s "
              f"(redis/polluxd {s['redis']['median_s'] / s['polluxd']['median_s']:.2f})",
              flush=True)
    if "lag" in only:
        out["lag"] = {k: measure_lag(k) for k in kinds}
        for k in kinds:
            v = out["lag"][k]
            print(f"write -> acknowledged by the replica (WAIT 1) under load, {k}: "
                  f"p50 {v['p50_ms']:.2f} ms, p99 {v['p99_ms']:.2f} ms, max {v['max_ms']:.2f} ms "
                  f"({v['probes']} probes)", flush=True)
    if "snapshot" in only:
        out["snapshot"] = {k: measure_snapshot(k, o.keys) for k in kinds}
        for k in kinds:
            v = out["snapshot"][k]
            print(f"{k}: p99 {v['p99_ms_without']:.3f} ms without a sync, "
                  f"{v['p99_ms_during']:.3f} ms during {v['full_syncs_during']} full syncs "
                  f"(x{v['p99_ratio']:.2f}); RSS {v['rss_before'] / 1e6:.1f} MB -> peak "
                  f"{v['rss_peak'] / 1e6:.1f} MB (+{v['rss_growth'] * 100:.1f}%)", flush=True)
    if o.json:
        with open(o.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
