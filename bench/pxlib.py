"""Shared by the Python benchmarks that drive pollux-bench over both of its transports
(bench/dpdk-vs-kernel.py, bench/dpdk-vs-redis.py): starting a server pinned to one core,
on kernel sockets or on the DPDK backend over net_memif, sampling its CPU time, and one
pollux-bench run read back from its JSON.

net_memif is shared memory between two processes: no device is created and nothing reaches
the kernel's network (the 10.99.0.x addresses belong to the two userspace stacks only). The
DPDK processes get distinct --file-prefix values; their runtime folders under /var/run/dpdk
are removed by Server.stop.
"""

import json
import os
import shutil
import socket
import subprocess
import threading
import time

SERVER_CPU, BENCH_CPU = "1", "0"
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


def kernel_listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def memif_listening(path):
    # DPDK 22.11's memif socket is abstract by default: "@path" in /proc/net/unix.
    with open("/proc/net/unix") as f:
        return any(line.rstrip().endswith("@" + path) or line.rstrip().endswith(" " + path)
                   for line in f)


class Server:
    """One server process pinned to SERVER_CPU: kind is "redis" (redis-server on kernel
    sockets), "kernel" (polluxd's kernel backend) or "dpdk" (polluxd's DPDK backend on
    net_memif). client_args() is what pollux-bench needs to reach it."""

    def __init__(self, kind, build, work, port, extra=(), buffers=0):
        """buffers: each connection's send and receive buffer in both userspace stacks (dpdk;
        0 keeps pollux-net-sndbuf/rcvbuf's default)."""
        self.kind, self.port, self.buffers = kind, port, buffers
        self.sock = os.path.join(work, "memif.sock")
        self.tag = f"pxbench{os.getpid()}"
        polluxd = os.path.join(build, "dataplane", "polluxd")
        if kind == "redis":
            argv = ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no",
                    "--bind", "127.0.0.1"]
        else:
            argv = [polluxd, "--save", "", "--appendonly", "no", "--pollux-workers", "1",
                    "--pollux-cpus", SERVER_CPU, "--port", str(port)]
            if kind == "kernel":
                argv += ["--bind", "127.0.0.1"]
            else:
                argv += ["--pollux-backend", "dpdk", "--pollux-dpdk-ip", f"{SERVER_IP}/24",
                         "--pollux-dpdk-vdev", f"net_memif0,role=server,socket={self.sock}",
                         "--pollux-dpdk-no-huge", "yes", "--pollux-dpdk-file-prefix",
                         f"{self.tag}s", "--pollux-dpdk-memory-mb", "512",
                         "--pollux-dpdk-args", f"-l {SERVER_CPU}", "--protected-mode", "no"]
                if buffers:
                    argv += ["--pollux-net-sndbuf", str(buffers), "--pollux-net-rcvbuf",
                             str(buffers)]
        self.log_path = os.path.join(work, f"server-{kind}.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(["taskset", "-c", SERVER_CPU] + argv + list(extra),
                                     stdout=self.log, stderr=subprocess.STDOUT, cwd=work)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _ready(self):
        return memif_listening(self.sock) if self.kind == "dpdk" else kernel_listening(self.port)

    def _wait_ready(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                with open(self.log_path, errors="replace") as f:
                    raise RuntimeError(f"{self.kind} server exited:\n" + f.read())
            if self._ready():
                return
            time.sleep(0.05)
        raise RuntimeError(f"{self.kind} server did not get ready")

    def client_args(self):
        if self.kind != "dpdk":
            return ["-h", "127.0.0.1", "-p", str(self.port)]
        return ["-h", SERVER_IP, "-p", str(self.port), "--transport", "dpdk", "--dpdk-ip",
                f"{CLIENT_IP}/24"] + (["--dpdk-buffers", str(self.buffers)] if self.buffers
                                      else []) + ["--dpdk-args",
                f"-l {BENCH_CPU} --no-huge -m 512 --file-prefix {self.tag}c --no-pci "
                f"--vdev net_memif0,role=client,socket={self.sock}"]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        for suffix in "sc":
            shutil.rmtree(os.path.join(DPDK_RUN, self.tag + suffix), ignore_errors=True)


def bench(exe, server, args, json_path, timeout=600):
    """One pollux-bench run (one thread on BENCH_CPU) against server; its JSON report."""
    argv = (["taskset", "-c", BENCH_CPU, exe, "--threads", "1", "--quiet", "--json",
             json_path] + server.client_args() + list(args))
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"pollux-bench failed ({out.returncode}): {out.stdout}{out.stderr}")
    with open(json_path) as f:
        return json.load(f)


def write_results(path, res):
    """The figures as JSON at path (results/ by default, not committed)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(res, f, indent=2)
    print(f"wrote {path}")
