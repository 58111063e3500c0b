#!/usr/bin/env python3
"""polluxd on the DPDK backend, through a TAP device, with the kernel as the peer.

polluxd runs `--pollux-backend dpdk` on DPDK's net_tap PMD: the PMD creates a
TAP interface, the test gives the kernel's end an address in a private /24,
and every client (redis-cli, redis-py, redis-benchmark, ping, pollux-bench)
talks to the userspace stack's address through it. No hugepages are needed
(--no-huge, --in-memory).

Nothing of it is in the machine's own network namespace: the script creates a
network namespace (pollux-dpdk-PID), runs itself again inside it (`ip netns
exec`), so that polluxd, its TAP devices, the kernel's addresses and every
client are there, and deletes the namespace when the run ends, failed or not
(a namespace left by a killed run is deleted by the next run).
OneWorker.test_isolated_in_test_namespace checks that the host namespace
never sees the devices or the addresses.

Skips (exit 77, with the reason) when this is not root, /dev/net/tun, ip,
ping or nsenter is missing, or polluxd was built without DPDK; never passes
silently. With CI=true a missing prerequisite is a failure instead (exit 1):
CI installs every package (scripts/deps.sh --all), so a skip there would hide
a missing install step.

    python3 test_dpdk.py --server build/dataplane/polluxd
    POLLUX_BENCH=build/bench/loadgen/pollux-bench python3 test_dpdk.py --server ...
"""

import errno
import json
import os
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import unittest

import harness
from harness import Config, RawClient, Server, ServerError, info_fields, wait_until

PORT = 6379
NETNS_PREFIX = "pollux-dpdk-"
# Set in the run inside the namespace: its name, and the host namespace (/proc/PID/ns/net
# of the script that made it) for the isolation check.
NETNS = os.environ.get("POLLUX_DPDK_NETNS")
HOST_NS = os.environ.get("POLLUX_DPDK_HOST_NS")
CI = os.environ.get("CI") == "true"
# DPDK runtime folders (/var/run/dpdk/<tag>s, <tag>c) of the memif case; the outer script
# removes them too, should the inner run be killed.
RUN_TAG = os.environ.get("POLLUX_DPDK_RUN_TAG", f"pxt{os.getpid()}")


def skip_reason():
    """Why these tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (TAP devices, DPDK, network namespaces)"
    if not os.path.exists("/dev/net/tun"):
        return "no /dev/net/tun: this environment lacks TAP devices"
    for tool, pkg in (("ip", "iproute2"), ("ping", "iputils-ping"), ("nsenter", "util-linux")):
        if shutil.which(tool) is None:
            return f"{pkg} ({tool}) not installed"
    out = subprocess.run(Config.server_cmd[:1] + ["--pollux-backend", "dpdk", "--port", "0",
                                                  "--pollux-dpdk-ip", "bad"],
                         capture_output=True, text=True, timeout=30)
    if "not available in this build" in out.stdout + out.stderr:
        return "polluxd was built without the DPDK backend (libdpdk-dev missing)"
    return None


def skip_or_fail(reason):
    """Exit 77 (skip), or 1 under CI, where a missing prerequisite is a failure."""
    if CI:
        print(f"FAIL: {reason} (CI=true: a missing prerequisite fails instead of skipping)",
              file=sys.stderr)
        sys.exit(1)
    print(f"SKIP: {reason}", file=sys.stderr)
    sys.exit(harness.SKIP_EXIT)


def require(test, ok, reason):
    """skipTest(reason) unless ok; under CI a failure instead."""
    if not ok:
        if CI:
            test.fail(f"{reason} (CI=true: a missing prerequisite fails instead of skipping)")
        test.skipTest(reason)


def sh(*argv):
    subprocess.run(argv, check=True, capture_output=True, timeout=30)


class TapServer(Server):
    """polluxd on net_tap: interface `iface`, the kernel at .1, polluxd at .2 of 10.<net>.0.0/24,
    all in the test's network namespace (this process runs inside it)."""

    def __init__(self, net, workers=1, queues=None, args=()):
        self.iface = f"pxt{net}"
        self.peer_ip = f"10.{net}.0.1"
        self.host = f"10.{net}.0.2"
        queues = queues or workers
        dpdk = ["--pollux-backend", "dpdk",
                "--pollux-dpdk-vdev", f"net_tap{net},iface={self.iface}",
                "--pollux-dpdk-no-huge", "yes", "--pollux-dpdk-in-memory", "yes",
                "--pollux-dpdk-memory-mb", "512", "--pollux-dpdk-mbufs", "4095",
                "--pollux-dpdk-ip", f"{self.host}/24",
                "--pollux-workers", str(workers),
                # clients come from the TAP network, not 127.0.0.1, and there is no password
                "--protected-mode", "no"]
        super().__init__(args=dpdk + list(args))

    def command_line(self, port):
        # The stack listens on its own address: the kernel backend's bind does not apply.
        return self.cmd + ["--port", str(port), "--save", ""] + self.args

    def start(self, attempts=1):
        argv = self.command_line(PORT)
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         cwd=self.workdir, start_new_session=True)
        harness._live_servers.append(self)
        deadline = time.monotonic() + Config.start_timeout
        configured = False
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(f"polluxd exited with {self.proc.returncode}\n"
                                  + self.log_tail())
            if not configured and os.path.exists(f"/sys/class/net/{self.iface}"):
                subprocess.run(["ip", "addr", "flush", "dev", self.iface], capture_output=True)
                sh("ip", "addr", "add", f"{self.peer_ip}/24", "dev", self.iface)
                sh("ip", "link", "set", self.iface, "up")
                # Never let a test packet follow the default route off this machine.
                route = subprocess.run(["ip", "route", "get", self.host], capture_output=True,
                                       text=True).stdout
                if f"dev {self.iface}" not in route:
                    self._kill()
                    raise ServerError(f"{self.host} is not routed via {self.iface}: {route}")
                configured = True
            if configured and self._ping(PORT):
                self.port = PORT
                return self
            time.sleep(0.1)
        self._kill()
        raise ServerError("no PING reply through the TAP device\n" + self.log_tail())

    def _ping(self, port):
        return _ping_at(self.host, port)

    def redis(self, **kw):
        import redis
        kw.setdefault("socket_timeout", 60)
        return redis.Redis(host=self.host, port=self.port, **kw)

    def info(self, section="default"):
        """INFO as flat name -> text (redis-py would parse a=1,b=2 values into dicts)."""
        c = RawClient(self.host, self.port)
        try:
            return info_fields(c, section)
        finally:
            c.sock.close()

    def cli(self, *args):
        out = subprocess.run([Config.tool("redis-cli"), "-h", self.host, "-p", str(self.port)]
                             + list(args), capture_output=True, text=True, timeout=60)
        return out.stdout.strip()


def run_verify(test, bench, args, workdir, timeout):
    """pollux-bench --verify, 40,000 requests: every one answered, every GET checked right."""
    js = os.path.join(workdir, "bench.json")
    out = subprocess.run([bench, "-p", str(PORT), "--threads", "1", "--requests", "40000",
                          "--ratio", "1:1", "--verify", "--json", js] + args,
                         capture_output=True, text=True, timeout=timeout)
    test.assertEqual(out.returncode, 0, out.stdout + out.stderr)
    with open(js) as f:
        res = json.load(f)
    test.assertEqual(res["verify"]["mismatches"], 0)
    test.assertGreater(res["verify"]["checked"], 10000)
    test.assertEqual(res["totals"]["requests"], 40000)
    test.assertEqual(res["errors"], {"error_replies": 0, "protocol_errors": 0,
                                     "connection_errors": 0, "unanswered": 0})
    return res


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))


class OneWorker(unittest.TestCase):
    """Clients a user has, against one worker on the stack."""

    @classmethod
    def setUpClass(cls):
        cls.srv = TapServer(91).start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_isolated_in_test_namespace(self):
        """The TAP device, the kernel's address and polluxd are in the test's namespace only."""
        self.assertIsNotNone(HOST_NS, "not started through the test's network namespace")
        ns = os.stat("/proc/self/ns/net").st_ino
        self.assertNotEqual(ns, os.stat(HOST_NS).st_ino)
        self.assertEqual(os.stat(f"/proc/{self.srv.proc.pid}/ns/net").st_ino, ns)
        here = subprocess.run(["ip", "-o", "addr", "show", "dev", self.srv.iface],
                              capture_output=True, text=True, check=True).stdout
        self.assertIn(f"inet {self.srv.peer_ip}/24", here)
        for what in ("link", "addr"):
            host = subprocess.run(["nsenter", f"--net={HOST_NS}", "ip", "-o", what, "show"],
                                  capture_output=True, text=True, check=True).stdout
            self.assertNotIn(self.srv.iface, host)
            self.assertNotIn(self.srv.peer_ip, host)

    def test_ping_icmp(self):
        out = subprocess.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", self.srv.host],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("3 received", out.stdout)
        info = self.srv.info("network")
        self.assertGreaterEqual(int(info["net_icmp_echo_replies"]), 3)

    def test_redis_cli(self):
        self.assertEqual(self.srv.cli("SET", "cli:k", "hello"), "OK")
        self.assertEqual(self.srv.cli("GET", "cli:k"), "hello")
        self.assertEqual(self.srv.cli("INCR", "cli:n"), "1")
        self.assertEqual(self.srv.cli("DBSIZE").isdigit(), True)
        role = self.srv.cli("ROLE").splitlines()
        self.assertEqual(role[0], "master")
        # Unknown command: Redis's error, the connection survives.
        out = self.srv.cli("NOSUCHCMD", "x")
        self.assertTrue(out.startswith("ERR unknown command"), out)

    def test_info_network(self):
        info = self.srv.info("network")
        self.assertEqual(info["net_backend"], "dpdk")
        self.assertEqual(info["net_address"], f"{self.srv.host}/24")
        self.assertEqual(info["dpdk_link_status"], "up")
        self.assertEqual(info["dpdk_driver"], "net_tap")
        self.assertGreater(int(info["net_tcp_segs_in"]), 0)
        self.assertGreater(int(info["net_tcp_accepted"]), 0)
        self.assertIn("net_worker0", info)
        # The default INFO carries the section too on this backend.
        self.assertIn("net_tcp_segs_out", self.srv.info())
        self.assertEqual(self.srv.info("pollux")["pollux_backend"], "dpdk")

    def test_redis_py_large_values(self):
        r = self.srv.redis()
        for size in (1, 1000, 65536, 1 << 20, (1 << 20) + 17):
            v = os.urandom(size)
            self.assertTrue(r.set(f"big:{size}", v))
            self.assertEqual(r.get(f"big:{size}"), v, size)
        # Several MiB values in one pipeline, both ways at once.
        p = r.pipeline(transaction=False)
        vals = [os.urandom(1 << 20) for _ in range(4)]
        for i, v in enumerate(vals):
            p.set(f"pipe:{i}", v)
        for i in range(4):
            p.get(f"pipe:{i}")
        res = p.execute()
        self.assertEqual(res[:4], [True] * 4)
        self.assertEqual(res[4:], vals)

    def test_redis_benchmark(self):
        bench = Config.tool("redis-benchmark")
        out = subprocess.run([bench, "-h", self.srv.host, "-p", str(self.srv.port), "-q",
                              "-t", "set,get,incr,mset", "-n", "20000", "-c", "50", "-P", "4"],
                             capture_output=True, text=True, timeout=300)
        self.assertEqual(out.returncode, 0, out.stderr)
        lines = [ln for ln in out.stdout.replace("\r", "\n").splitlines()
                 if "requests per second" in ln]
        names = {ln.split(":")[0].strip() for ln in lines}
        self.assertTrue({"SET", "GET", "INCR"} <= names, out.stdout)
        for ln in lines:
            rps = float(ln.split(":")[1].split()[0])
            self.assertGreater(rps, 0.0, ln)

    def test_thousand_connections(self):
        raise_nofile(4096)
        socks = []
        try:
            for _ in range(1000):
                socks.append(socket.create_connection((self.srv.host, PORT), timeout=10))
            for s in socks:
                s.sendall(b"*1\r\n$4\r\nPING\r\n")
            for s in socks:
                self.assertEqual(s.recv(16), b"+PONG\r\n")
            clients = int(self.srv.info("clients")["connected_clients"])
            self.assertGreaterEqual(clients, 1000)
        finally:
            for s in socks:
                s.close()
        self.assertTrue(wait_until(lambda: int(self.srv.info("clients")["connected_clients"])
                   < 10, timeout=20))

    def test_ten_thousand_cycles(self):
        before = self.srv.info("network")
        for i in range(10000):
            with socket.create_connection((self.srv.host, PORT), timeout=10) as s:
                s.sendall(b"*1\r\n$4\r\nPING\r\n")
                self.assertEqual(s.recv(16), b"+PONG\r\n", i)
        after = self.srv.info("network")
        self.assertGreaterEqual(int(after["net_tcp_accepted"]) - int(before["net_tcp_accepted"]),
                                10000)
        self.assertTrue(wait_until(lambda: int(self.srv.info("clients")["connected_clients"])
                   < 10, timeout=20))
        # Nothing leaks: the stack holds no more than the live connections (and TIME_WAIT
        # is in its bounded table, not in connection blocks).
        self.assertTrue(wait_until(lambda: int(self.srv.info("network")["net_connections"])
                   < 10, timeout=20))

    def test_bad_input_closes_one_connection(self):
        with socket.create_connection((self.srv.host, PORT), timeout=10) as s:
            s.sendall(b"*1\r\n$-5\r\nxx\r\n")
            data = s.recv(256)
            self.assertTrue(data.startswith(b"-ERR Protocol error"), data)
        self.assertEqual(self.srv.cli("PING"), "PONG")


class Faults(unittest.TestCase):
    """1% of every fault kind in both directions under the stack: nothing lost, nothing wrong."""

    def test_verify_under_faults(self):
        bench = os.environ.get("POLLUX_BENCH")
        require(self, bench and os.access(bench, os.X_OK),
                "POLLUX_BENCH (pollux-bench path) not set")
        faults = []
        for d in ("rx", "tx"):
            for kind in ("drop", "dup", "reorder", "corrupt"):
                faults += [f"--pollux-net-fault-{d}-{kind}-ppm", "10000"]
        # Loss means retransmission timeouts: keep them short so the run is quick.
        srv = TapServer(92, args=faults + ["--pollux-net-rto-min-ms", "20",
                                           "--pollux-net-fault-seed", "7"])
        srv.start()
        try:
            run_verify(self, bench, ["-h", srv.host, "--conns", "8", "--pipeline", "4",
                                     "--keyspace", "2000", "--value-size", "16-3000"],
                       srv.workdir, 600)
            info = srv.info("network")
            # The faults really happened, and TCP repaired them.
            for d in ("rx", "tx"):
                f = dict(kv.split("=") for kv in info[f"net_fault_{d}"].split(","))
                for k in ("dropped", "duplicated", "reordered", "corrupted"):
                    self.assertGreater(int(f[k]), 0, (d, k))
            self.assertGreater(int(info["net_tcp_retrans_segs"]), 0)
            self.assertGreater(int(info["net_tcp_drop_bad_cksum"]) +
                               int(info["net_ip_drop_bad_cksum"]), 0)
        finally:
            srv.stop()


class TwoWorkers(unittest.TestCase):
    """Two workers, two queues: flows land on both, and each stays on its worker."""

    def test_rss_two_queues(self):
        if os.environ.get("POLLUX_TSAN"):
            # Frames move between the two workers through DPDK's rings and mempools, which
            # are not built with TSan: it cannot see their ordering and reports the hand-off.
            self.skipTest("TSan build: DPDK's rings are not instrumented (run in werror/asan)")
        srv = TapServer(93, workers=2)
        srv.start()
        try:
            socks = [socket.create_connection((srv.host, PORT), timeout=10) for _ in range(64)]
            for i, s in enumerate(socks):
                k = f"rss:{i}".encode()
                s.sendall(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\n%d\r\n" % (len(k), k, i % 10))
            for s in socks:
                self.assertEqual(s.recv(16), b"+OK\r\n")
            # Every connection keeps working (a flow handled by the wrong stack would be reset).
            for _ in range(20):
                for s in socks:
                    s.sendall(b"*1\r\n$4\r\nPING\r\n")
                for s in socks:
                    self.assertEqual(s.recv(16), b"+PONG\r\n")
            info = srv.info("network")
            per = {}
            for w in ("net_worker0", "net_worker1"):
                per[w] = dict(kv.split("=") for kv in info[w].split(","))
            accepted = [int(per[w]["accepted"]) for w in per]
            self.assertTrue(all(a > 0 for a in accepted), per)
            self.assertGreaterEqual(sum(accepted), len(socks))
            # Every frame of a flow reached the flow's worker: the kernel hashes TAP queues
            # its own way, so some were steered, and not one of the 64 connections broke.
            steered = sum(int(dict(kv.split("=") for kv in info[f"dpdk_queue{q}"].split(","))
                              ["steered_out"]) for q in (0, 1))
            self.assertTrue(steered > 0 or info["dpdk_rss"] == "hardware", info)
            self.assertEqual(int(info["dpdk_queues"]), 2)
            pollux = srv.info("pollux")
            for w in ("worker0", "worker1"):
                clients = int(dict(kv.split("=") for kv in pollux[w].split(","))["clients"])
                self.assertGreater(clients, 0, pollux[w])
            for s in socks:
                s.close()
        finally:
            srv.stop()


class Replication(unittest.TestCase):
    """Replication over the stack, both ways, with a real Redis on the kernel side."""

    def test_replica_on_stack_and_redis_replica_of_it(self):
        redis_server = Config.tool("redis-server")
        require(self, redis_server is not None, "redis-server not installed")
        node = TapServer(97)
        node.start()
        peer = None
        try:
            # redis-server on the kernel's end of the TAP device: first our primary...
            port = harness.free_port()
            peer = Server(cmd=[redis_server, "--save", "", "--appendonly", "no",
                               "--protected-mode", "no"])
            peer.cmd += ["--bind", node.peer_ip]
            peer.command_line = lambda p: peer.cmd + ["--port", str(p)]
            peer._ping = lambda p: _ping_at(node.peer_ip, p)
            peer.start()
            pr = __import__("redis").Redis(host=node.peer_ip, port=peer.port, socket_timeout=30)
            for i in range(500):
                pr.set(f"r:{i}", f"v{i}")
            r = node.redis()
            self.assertTrue(r.execute_command("REPLICAOF", node.peer_ip, str(peer.port)))
            self.assertTrue(wait_until(lambda: synced_get(r, "r:499") == b"v499", timeout=30),
                            node.log_tail())
            pr.set("r:stream", "after-sync")
            self.assertTrue(wait_until(lambda: synced_get(r, "r:stream") == b"after-sync",
                                       timeout=30))
            info = node.info("replication")
            self.assertEqual(info["role"], "slave")
            self.assertEqual(info["master_link_status"], "up")
            with self.assertRaises(Exception) as ro:
                r.set("x", "1")
            self.assertEqual(type(ro.exception).__name__, "ReadOnlyError")  # -READONLY ...
            # ...then the other way: the stack's node is the primary of redis-server.
            self.assertTrue(r.execute_command("REPLICAOF", "NO", "ONE"))
            r.set("p:1", "from-dpdk")
            self.assertTrue(pr.execute_command("REPLICAOF", node.host, str(PORT)))
            self.assertTrue(wait_until(lambda: synced_get(pr, "p:1") == b"from-dpdk", timeout=30),
                            node.log_tail())
            self.assertEqual(pr.get("r:499"), b"v499")
            r.set("p:2", "streamed")
            self.assertTrue(wait_until(lambda: synced_get(pr, "p:2") == b"streamed", timeout=30))
            self.assertEqual(int(node.info("replication")["connected_slaves"]), 1)
        finally:
            if peer is not None:
                peer.stop()
            node.stop()


class Tls(unittest.TestCase):
    """The tls-port on the stack: OpenSSL over the worker's own TCP through memory BIOs, no
    kernel socket; the same clients as on the kernel backend (test_tls.py)."""

    TLS_PORT = 6380

    def test_tls_on_stack(self):
        import redis
        from test_tls import make_certs
        srv = None
        certs = make_certs(addresses=("10.94.0.2",))
        try:
            c = lambda name: os.path.join(certs, name)  # noqa: E731
            # Under TSan one worker: frames between two workers move through DPDK's rings,
            # which are not built with TSan (see TwoWorkers); TLS on the stack is the same.
            workers = 1 if os.environ.get("POLLUX_TSAN") else 2
            srv = TapServer(94, workers=workers, args=[
                "--tls-port", str(self.TLS_PORT), "--tls-cert-file", c("server.crt"),
                "--tls-key-file", c("server.key"), "--tls-ca-cert-file", c("ca.crt")]).start()

            def tls_client(cert="client.crt", key="client.key"):
                return redis.Redis(host=srv.host, port=self.TLS_PORT, ssl=True,
                                   ssl_ca_certs=c("ca.crt"),
                                   ssl_certfile=c(cert) if cert else None,
                                   ssl_keyfile=c(key) if key else None, socket_timeout=60)
            out = subprocess.run([Config.tool("redis-cli"), "--tls", "--cacert", c("ca.crt"),
                                  "--cert", c("client.crt"), "--key", c("client.key"),
                                  "-h", srv.host, "-p", str(self.TLS_PORT), "SET", "tls:k", "v"],
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual(out.stdout.strip(), "OK", out.stderr)
            self.assertEqual(srv.cli("GET", "tls:k"), "v")  # the plain port, same data

            r = tls_client()
            for size in (1, 65536, 1 << 20, (1 << 20) + 17):
                v = os.urandom(size)
                self.assertTrue(r.set(f"big:{size}", v))
                self.assertEqual(r.get(f"big:{size}"), v, size)
            p = r.pipeline(transaction=False)
            for i in range(3000):
                p.set(f"p:{i}", i)
            for i in range(3000):
                p.get(f"p:{i}")
            self.assertEqual(p.execute()[3000:], [str(i).encode() for i in range(3000)])

            # Refused: no client certificate, a certificate of another CA, plaintext.
            for cert, key in ((None, None), ("other-client.crt", "other-client.key")):
                with self.assertRaises((redis.exceptions.ConnectionError, OSError)):
                    tls_client(cert, key).ping()
            with socket.create_connection((srv.host, self.TLS_PORT), timeout=10) as s:
                s.sendall(b"*1\r\n$4\r\nPING\r\n")
                s.settimeout(30)
                try:
                    self.assertEqual(s.recv(4096), b"")
                except ConnectionResetError:
                    pass
            self.assertTrue(r.ping())  # the client from before, still served

            # No kernel socket listens on the TLS port: the stack owns it.
            listening = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True).stdout
            self.assertNotIn(f":{self.TLS_PORT} ", listening)
            self.assertGreater(int(srv.info("network")["net_tcp_accepted"]), 0)
            r.close()
            self.replication_over_tls(srv, c)
        finally:
            if srv is not None:
                srv.stop()
            shutil.rmtree(certs, ignore_errors=True)

    def replication_over_tls(self, node, c):
        """tls-replication both ways with redis-server on the kernel's end: the stack's node as
        the TLS client (its replica link) and as the TLS server (a replica on its tls-port)."""
        import redis
        redis_server = Config.tool("redis-server")
        require(self, redis_server is not None, "redis-server not installed")
        tls = ["--tls-cert-file", c("server.crt"), "--tls-key-file", c("server.key"),
               "--tls-ca-cert-file", c("ca.crt"), "--tls-replication", "yes"]
        tls_port = harness.free_port()
        peer = Server(cmd=[redis_server, "--save", "", "--appendonly", "no",
                           "--protected-mode", "no", "--tls-port", str(tls_port)] + tls)
        peer.cmd += ["--bind", node.peer_ip]
        peer.command_line = lambda p: peer.cmd + ["--port", str(p)]
        peer._ping = lambda p: _ping_at(node.peer_ip, p)
        peer.start()
        try:
            pr = redis.Redis(host=node.peer_ip, port=peer.port, socket_timeout=30)
            for i in range(300):
                pr.set(f"t:{i}", f"v{i}")
            r = node.redis()
            self.assertTrue(r.config_set("tls-replication", "yes"))
            self.assertTrue(r.execute_command("REPLICAOF", node.peer_ip, str(tls_port)))
            self.assertTrue(wait_until(lambda: synced_get(r, "t:299") == b"v299", timeout=30),
                            node.log_tail())
            pr.set("t:stream", "after-sync")
            self.assertTrue(wait_until(lambda: synced_get(r, "t:stream") == b"after-sync",
                                       timeout=30))
            self.assertEqual(node.info("replication")["master_link_status"], "up")
            # the other way: redis-server replicates from the node's tls-port
            self.assertTrue(r.execute_command("REPLICAOF", "NO", "ONE"))
            r.set("d:1", "from-dpdk-over-tls")
            self.assertTrue(pr.execute_command("REPLICAOF", node.host, str(self.TLS_PORT)))
            self.assertTrue(wait_until(lambda: synced_get(pr, "d:1") == b"from-dpdk-over-tls",
                                       timeout=30), node.log_tail())
            r.set("d:2", "streamed")
            self.assertTrue(wait_until(lambda: synced_get(pr, "d:2") == b"streamed", timeout=30))
        finally:
            peer.stop()


def synced_get(r, key):
    """GET, or None while a replica loads what its primary sent (-LOADING)."""
    import redis
    try:
        return r.get(key)
    except redis.exceptions.BusyLoadingError:
        return None


def _ping_at(host, port):
    try:
        with socket.create_connection((host, port), timeout=1.0) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def connect_from(host, source, timeout=10.0):
    """A TCP connection to host:PORT from the local address `source`."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((source, 0))
        s.settimeout(timeout)
        s.connect((host, PORT))
    except OSError:
        s.close()
        raise
    return s


def ping_from(host, source):
    with connect_from(host, source) as s:
        s.sendall(b"PING\r\n")
        return s.recv(64)


class AllowSources(unittest.TestCase):
    """pollux-allow-sources on the stack: the kernel's end of the TAP device has two
    addresses; a client from the one outside the list gets a RST to its SYN (connect()
    is refused) and the stack keeps no connection block for it."""

    def test_refused_at_syn(self):
        srv = TapServer(98, args=["--pollux-allow-sources", "10.98.0.1/32"])
        srv.start()
        try:
            sh("ip", "addr", "add", "10.98.0.3/24", "dev", srv.iface)
            self.assertEqual(ping_from(srv.host, "10.98.0.1"), b"+PONG\r\n")
            before = srv.info("network")
            with self.assertRaises(ConnectionRefusedError):
                connect_from(srv.host, "10.98.0.3").close()
            after = srv.info("network")
            self.assertEqual(int(srv.info("stats")["pollux_rejected_sources"]), 1)
            self.assertEqual(int(after["net_tcp_drop_syn_hook"])
                             - int(before["net_tcp_drop_syn_hook"]), 1)
            # the only passive open between the two INFOs is the second INFO's connection
            self.assertEqual(int(after["net_tcp_passive_opens"])
                             - int(before["net_tcp_passive_opens"]), 1)
            self.assertGreaterEqual(int(after["net_tcp_rst_out"]), 1)
            # CONFIG SET: the next SYN obeys the new list
            c = RawClient(srv.host, PORT)
            try:
                self.assertEqual(c.command("CONFIG", "SET", "pollux-allow-sources",
                                           "10.98.0.0/24"), b"OK")
                self.assertEqual(ping_from(srv.host, "10.98.0.3"), b"+PONG\r\n")
                self.assertEqual(c.command("CONFIG", "SET", "pollux-allow-sources",
                                           "10.98.0.1 192.0.2.0/24"), b"OK")
                with self.assertRaises(ConnectionRefusedError):
                    connect_from(srv.host, "10.98.0.3").close()
                self.assertEqual(ping_from(srv.host, "10.98.0.1"), b"+PONG\r\n")
            finally:
                c.close()
            self.assertEqual(int(srv.info("stats")["pollux_rejected_sources"]), 2)
        finally:
            srv.stop()


def inet_checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def tcp_packet(src, dst, sport, dport, seq, ack, flags):
    """An IPv4 packet holding a bare TCP segment (no options), checksums filled."""
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", inet_checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", inet_checksum(ip)) + ip[12:]
    return ip + tcp


class SynFlood(unittest.TestCase):
    """A flood of SYNs from spoofed sources (raw packets from the test namespace through
    the TAP device; the sources are off the subnet and never answer), then real clients:
    the SYN queue stays at its bound, SYN cookies answer the rest, and a client still
    connects, through a cookie, and moves data."""

    BACKLOG = 16
    FLOOD = 3000

    def send_raw(self, raw, packets):
        for pkt, dst in packets:
            while True:
                try:
                    raw.sendto(pkt, (dst, 0))
                    break
                except OSError as e:
                    if e.errno != errno.ENOBUFS:
                        raise
                    time.sleep(0.001)  # the TAP queue is full: let the stack drain it

    def test_flood_then_clients(self):
        srv = TapServer(99, args=["--pollux-net-syn-backlog", str(self.BACKLOG)])
        srv.start()
        raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        try:
            self.send_raw(raw, ((tcp_packet(f"198.51.100.{1 + i % 250}", srv.host,
                                            1024 + i, PORT, 1000003 * i, 0, 0x02), srv.host)
                                for i in range(self.FLOOD)))

            def cookies():
                info = srv.info("network")
                return info if int(info["net_tcp_syncookies_sent"]) >= self.FLOOD // 3 else None
            info = wait_until(cookies, 60)
            self.assertIsNotNone(info, srv.info("network"))
            self.assertLessEqual(int(info["net_syn_rcvd"]), self.BACKLOG)
            self.assertEqual(int(info["net_tcp_drop_syn_evicted"]), 0)
            recv = int(info["net_tcp_syncookies_recv"])
            self.assertGreaterEqual(recv, 1)  # the INFO connection itself came through one
            # real clients, while the half-open entries still fill the queue
            r = srv.redis()
            value = os.urandom(300000)  # more than a 64 KiB window: scaling survived
            self.assertTrue(r.set("flood:key", value))
            self.assertEqual(r.get("flood:key"), value)
            r.close()
            self.assertEqual(srv.cli("PING"), "PONG")
            info = srv.info("network")
            self.assertGreaterEqual(int(info["net_tcp_syncookies_recv"]), recv + 2)
            self.assertLessEqual(int(info["net_syn_rcvd"]), self.BACKLOG)
            # a forged handshake ACK: a bad cookie, counted and refused
            failed = int(info["net_tcp_syncookies_failed"])
            self.send_raw(raw, [(tcp_packet("198.51.100.7", srv.host, 4242, PORT, 555,
                                            0x12345678, 0x10), srv.host)])
            self.assertTrue(wait_until(
                lambda: int(srv.info("network")["net_tcp_syncookies_failed"]) > failed, 30))
        finally:
            raw.close()
            srv.stop()


class BenchOnStack(unittest.TestCase):
    """pollux-bench --transport dpdk: the client on its own stack too, joined by net_memif."""

    def test_verify_over_memif(self):
        if os.environ.get("POLLUX_TSAN"):
            # memif's control thread and the datapath share its sockets inside DPDK, which is
            # not built with TSan: it reports that hand-off, not anything of ours.
            self.skipTest("TSan build: DPDK's memif internals are not instrumented")
        bench = os.environ.get("POLLUX_BENCH")
        require(self, bench and os.access(bench, os.X_OK),
                "POLLUX_BENCH (pollux-bench path) not set")
        tag = RUN_TAG
        srv = Server(args=["--pollux-backend", "dpdk", "--pollux-workers", "1",
                           "--pollux-dpdk-ip", "10.96.0.1/24", "--pollux-dpdk-no-huge", "yes",
                           "--pollux-dpdk-file-prefix", f"{tag}s", "--pollux-dpdk-memory-mb",
                           "512", "--save", "", "--protected-mode", "no"])
        sock = os.path.join(srv.workdir, "memif.sock")
        srv.args += ["--pollux-dpdk-vdev", f"net_memif0,role=server,socket={sock}"]
        argv = srv.cmd + ["--port", str(PORT)] + srv.args
        with open(srv.stdout_path, "wb") as out, open(srv.stderr_path, "wb") as err:
            srv.proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                        cwd=srv.workdir, start_new_session=True)
        harness._live_servers.append(srv)
        try:
            def started():
                with open(srv.stdout_path, "rb") as f:
                    return srv.proc.poll() is not None or b"Ready to accept" in f.read()
            ready = wait_until(started, timeout=Config.start_timeout)
            self.assertTrue(ready and srv.proc.poll() is None, srv.log_tail())
            run_verify(self, bench, ["--transport", "dpdk", "--dpdk-ip", "10.96.0.2/24",
                                     "--dpdk-args", f"--no-huge -m 512 --file-prefix {tag}c "
                                     f"--no-pci --vdev net_memif0,role=client,socket={sock}",
                                     "-h", "10.96.0.1", "--conns", "16", "--pipeline", "4",
                                     "--keyspace", "5000", "--value-size", "16-2000"],
                       srv.workdir, 300)
        finally:
            srv.stop()
            for suffix in "sc":
                shutil.rmtree(f"/var/run/dpdk/{tag}{suffix}", ignore_errors=True)


def netns_pids(name):
    out = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def remove_netns(name):
    """Kill what still runs in namespace `name` (all started by this script) and delete it."""
    for pid in netns_pids(name):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10
    while netns_pids(name) and time.monotonic() < deadline:
        time.sleep(0.05)
    subprocess.run(["ip", "netns", "del", name], capture_output=True)


def remove_stale_netns():
    """Namespaces of earlier runs whose script is gone (killed before it could clean up),
    this process's pid included (an earlier run had it)."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        name = line.split()[0] if line.split() else ""
        pid = name[len(NETNS_PREFIX):]
        if name.startswith(NETNS_PREFIX) and pid.isdigit() and (
                int(pid) == os.getpid() or not os.path.exists(f"/proc/{pid}")):
            remove_netns(name)


def host_leftovers():
    """TAP devices of these tests in this (the host's) namespace."""
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    return [ln.split(":")[1].strip() for ln in out.splitlines()
            if ln.split(":")[1].strip().startswith("pxt")]


def run_in_netns():
    """Create the test's namespace, run this script inside it, delete it; exit with its status."""
    remove_stale_netns()
    name = f"{NETNS_PREFIX}{os.getpid()}"

    def stop(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    rc = 1
    try:
        sh("ip", "netns", "add", name)
        sh("ip", "-n", name, "link", "set", "lo", "up")
        env = dict(os.environ, POLLUX_DPDK_NETNS=name, POLLUX_DPDK_RUN_TAG=RUN_TAG,
                   POLLUX_DPDK_HOST_NS=f"/proc/{os.getpid()}/ns/net")
        print(f"network namespace {name}: polluxd, its TAP devices and the clients run there",
              flush=True)
        rc = subprocess.call(["ip", "netns", "exec", name, sys.executable,
                              os.path.abspath(__file__)] + sys.argv[1:], env=env)
    finally:
        remove_netns(name)
        for suffix in "sc":
            shutil.rmtree(f"/var/run/dpdk/{RUN_TAG}{suffix}", ignore_errors=True)
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    if name in left.split() or host_leftovers():
        print(f"FAIL: left behind: namespace {name} or devices {host_leftovers()}",
              file=sys.stderr)
        rc = 1
    if rc == harness.SKIP_EXIT and CI:
        print("FAIL: skipped under CI=true (a missing prerequisite)", file=sys.stderr)
        rc = 1
    sys.exit(rc)


def main():
    # The skip check needs the server's path before harness.main runs the cases.
    import argparse
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--server", default=os.environ.get("POLLUX_TEST_SERVER"))
    opts, _ = ap.parse_known_args()
    if opts.server:
        Config.server_cmd = harness._split_server(os.path.abspath(opts.server)
                                                  if os.path.exists(opts.server) else opts.server)
    if NETNS is None:
        reason = skip_reason()
        if reason:
            skip_or_fail(reason)
        run_in_netns()
    harness.main(requires=("redis-cli", "redis-benchmark"))


if __name__ == "__main__":
    main()
