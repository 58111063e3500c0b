#!/usr/bin/env python3
"""Configuration: Debian's stock redis.conf, daemonize/pidfile/logfile,
supervised systemd (sd_notify), CONFIG REWRITE quoting, client output buffer
limits, rename-command and protected mode."""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import harness as h

# Debian's redis-server package ships this file; the package is a test requirement.
STOCK_CONF = "/etc/redis/redis.conf"


def stock_overrides(workdir):
    """What the stock file says that a test cannot use: it daemonizes, writes
    its pid under /run and logs under /var/log. Overridden on the command line,
    as Debian's own unit overrides daemonize."""
    return ["--daemonize", "no", "--dir", workdir, "--logfile", "",
            "--pidfile", os.path.join(workdir, "server.pid")]


def read_text(path):
    with open(path, errors="replace") as f:
        return f.read()


def directive_lines(path):
    """{line number: directive} of the non-comment lines of a redis.conf."""
    out = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            s = line.strip()
            if s and not s.startswith("#"):
                out[n] = s.split()[0].lower()
    return out


class StockRedisConf(unittest.TestCase):
    """Debian's /etc/redis/redis.conf loads as it is."""

    def setUp(self):
        self.assertTrue(os.path.isfile(STOCK_CONF),
                        f"{STOCK_CONF} missing: install Debian's redis-server")
        self.workdir = tempfile.mkdtemp(prefix="pollux-it-stock-")
        self.addCleanup(shutil.rmtree, self.workdir, True)

    def test_stock_file_loads_and_serves(self):
        srv = h.Server(conf=STOCK_CONF, args=stock_overrides(self.workdir),
                       workdir=self.workdir)
        with srv, srv.raw() as c:
            self.assertEqual(c.command("SET", "k", "v"), b"OK")
            self.assertEqual(c.command("GET", "k"), b"v")
            # values the file sets
            for name, value in (("tcp-keepalive", b"300"), ("protected-mode", b"yes"),
                                ("slowlog-max-len", b"128"), ("dbfilename", b"dump.rdb"),
                                ("notify-keyspace-events", b""), ("jemalloc-bg-thread", b"yes"),
                                ("client-output-buffer-limit",
                                 b"normal 0 0 0 slave 268435456 67108864 60 "
                                 b"pubsub 33554432 8388608 60")):
                self.assertEqual(c.command("CONFIG", "GET", name), [name.encode(), value])
            self.assertEqual(c.command("CONFIG", "GET", "dir"),
                             [b"dir", os.path.realpath(self.workdir).encode()])
            with open(os.path.join(self.workdir, "server.pid")) as f:
                self.assertEqual(int(f.read().strip()), srv.proc.pid)
            out = read_text(srv.stdout_path)
        # One warning per directive polluxd does not implement, naming its line.
        lines = directive_lines(STOCK_CONF)
        warned = re.findall(r"Unsupported directive '([^']+)' in (\S+) line (\d+) ignored", out)
        seen = set()
        for name, where, n in warned:
            self.assertEqual(where, STOCK_CONF)
            self.assertEqual(lines.get(int(n)), name.lower(), f"line {n} warned as {name}")
            self.assertNotIn(int(n), seen, f"line {n} warned twice")
            seen.add(int(n))
        for known in ("bind", "port", "protected-mode", "save", "dir", "dbfilename", "daemonize",
                      "pidfile", "logfile", "client-output-buffer-limit", "maxmemory"):
            self.assertNotIn(known, [w[0] for w in warned])
        self.assertLess(len(warned), len(lines))

    def test_unbalanced_quotes_still_fatal(self):
        conf = os.path.join(self.workdir, "bad.conf")
        with open(conf, "w") as f:
            f.write('# a comment with "quotes", fine\nport 6379\nrequirepass "abc\n')
        proc = subprocess.run(h.Config.server_cmd[:1] + [conf], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, cwd=self.workdir, timeout=30)
        self.assertEqual(proc.returncode, 1)
        err = proc.stderr.decode(errors="replace")
        self.assertIn("*** FATAL CONFIG FILE ERROR", err)
        self.assertIn("at line 3", err)
        self.assertIn(">>> 'requirepass \"abc'", err)
        self.assertIn("Unbalanced quotes in configuration line", err)

    def test_daemonize_pidfile_logfile(self):
        """daemonize yes: the command returns, the server lives on in the
        background with its pid in the pidfile and its log in the logfile; the
        pidfile goes away at shutdown."""
        pidfile = os.path.join(self.workdir, "d.pid")
        logfile = os.path.join(self.workdir, "d.log")
        port = h.free_port()
        argv = h.Config.server_cmd[:1] + [STOCK_CONF] + h.Config.server_cmd[1:] + [
            "--daemonize", "yes", "--pidfile", pidfile, "--logfile", logfile,
            "--dir", self.workdir, "--port", str(port), "--bind", h.HOST]
        launcher = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  cwd=self.workdir, timeout=60)
        self.assertEqual(launcher.returncode, 0, launcher.stderr)

        def pid():
            try:
                with open(pidfile) as f:
                    return int(f.read().strip() or 0)
            except (OSError, ValueError):
                return 0

        def answers():
            try:
                with h.RawClient(h.HOST, port, timeout=5) as c:
                    return c.command("PING") == b"PONG"
            except OSError:
                return False

        daemon_pid = h.wait_until(pid, 30)
        self.assertTrue(daemon_pid, "no pid file")
        try:
            self.assertTrue(h.wait_until(answers, 30), "daemon does not answer")
            os.kill(daemon_pid, 0)  # the pid written is the live server's
            self.assertNotEqual(daemon_pid, os.getpid())
            self.assertTrue(h.wait_until(
                lambda: "Ready to accept connections" in read_text(logfile), 30))
            with h.RawClient(h.HOST, port, timeout=10) as c:
                c.send_command("SHUTDOWN", "NOSAVE")
                self.assertTrue(c.expect_closed(timeout=30, allow_data=True))

            def gone():
                try:
                    os.kill(daemon_pid, 0)
                    return False
                except ProcessLookupError:
                    return True
            self.assertTrue(h.wait_until(gone, 30), "daemon still running")
            self.assertFalse(os.path.exists(pidfile), "pid file left behind")
        finally:
            try:
                os.kill(daemon_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


class Supervised(unittest.TestCase):
    """supervised systemd: READY=1 once serving, STOPPING=1 at shutdown, over
    $NOTIFY_SOCKET; a supervised server stays in the foreground."""

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="pollux-it-notify-")
        self.addCleanup(shutil.rmtree, self.workdir, True)

    def notify_socket(self, abstract):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        if abstract:
            name = f"@pollux-it-notify-{os.getpid()}-{time.monotonic_ns()}"
            sock.bind("\0" + name[1:])
        else:
            name = os.path.join(self.workdir, "notify")
            sock.bind(name)
        return sock, name

    def messages_until(self, sock, want, timeout=30):
        got = []
        deadline = time.monotonic() + timeout
        while want not in got:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            sock.settimeout(left)
            try:
                data = sock.recv(4096)
            except socket.timeout:
                break
            got.extend(m for m in data.decode().split("\n") if m)
        return got

    def run_supervised(self, mode, abstract):
        sock, name = self.notify_socket(abstract)
        args = stock_overrides(self.workdir) + ["--supervised", mode,
                                                "--daemonize", "yes"]
        srv = h.Server(conf=STOCK_CONF, args=args, workdir=self.workdir)
        os.environ["NOTIFY_SOCKET"] = name
        try:
            srv.start()  # fails unless the started process itself serves
        finally:
            del os.environ["NOTIFY_SOCKET"]
        try:
            got = self.messages_until(sock, "READY=1")
            self.assertIn("READY=1", got)
            self.assertIn("STATUS=Ready to accept connections", got)
            self.assertLess(got.index("STATUS=Ready to accept connections"),
                            got.index("READY=1"))
            with srv.raw() as c:
                self.assertEqual(c.command("PING"), b"PONG")
            srv.stop()
            self.assertIn("STOPPING=1", self.messages_until(sock, "STOPPING=1"))
        finally:
            srv.stop()

    def test_systemd_path_socket(self):
        self.run_supervised("systemd", abstract=False)

    def test_auto_abstract_socket(self):
        self.run_supervised("auto", abstract=True)

    @h.skip_if_real_redis("log wording")
    def test_systemd_without_notify_socket(self):
        """No NOTIFY_SOCKET: a warning, and the server runs unsupervised
        (here in the foreground: daemonize no)."""
        os.environ.pop("NOTIFY_SOCKET", None)
        srv = h.Server(args=["--supervised", "systemd"], workdir=self.workdir)
        with srv, srv.raw() as c:
            self.assertEqual(c.command("CONFIG", "GET", "supervised"),
                             [b"supervised", b"systemd"])
        self.assertIn("NOTIFY_SOCKET not found", read_text(srv.stdout_path))


# A value that, written unquoted, would plant two directives of its own.
INJECTION = (b'x"\nrequirepass injected\ndir "/tmp/evil\\z\x01\x7f\xc3\xa9 \'q\' \\x41 '
             b'"\r\n#')
REWRITE_SETS = [
    ("masterauth", INJECTION),
    ("masteruser", b"a b"),
    ("save", b"100 10 200 20"),
    ("client-output-buffer-limit", b"normal 1mb 2mb 3 pubsub 1000 2000 5"),
    ("maxmemory", b"3mb"),
]
REWRITE_INITIAL = ("# rewrite test\n"
                   "client-output-buffer-limit normal 0 0 0\n"
                   "save 900 1\n"
                   "save 300 10\n"
                   "masterauth old\n")
COMPARED = ("masterauth", "masteruser", "save", "client-output-buffer-limit", "maxmemory",
            "requirepass", "dir")


def rewritten(cmd, workdir):
    """Start cmd on a fresh copy of REWRITE_INITIAL, apply REWRITE_SETS, CONFIG
    REWRITE; {directive: [lines]} of the file it wrote, for COMPARED."""
    conf = os.path.join(workdir, "rewrite.conf")
    with open(conf, "w") as f:
        f.write(REWRITE_INITIAL)
    srv = h.Server(conf=conf, cmd=cmd, workdir=workdir)
    with srv, srv.raw() as c:
        for name, value in REWRITE_SETS:
            assert c.command("CONFIG", "SET", name, value) == b"OK", name
        assert c.command("CONFIG", "REWRITE") == b"OK"
    out = {}
    with open(conf, "rb") as f:
        for line in f.read().decode("latin-1").splitlines():
            word = line.split(" ", 1)[0]
            if word in COMPARED:
                out.setdefault(word, []).append(line)
    return conf, out


class Rewrite(unittest.TestCase):
    """CONFIG REWRITE quotes and escapes values as Redis does."""

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="pollux-it-rewrite-")
        self.addCleanup(shutil.rmtree, self.workdir, True)

    def test_injection_round_trips(self):
        conf, lines = rewritten(None, self.workdir)
        srv = h.Server(conf=conf, workdir=self.workdir)
        with srv, srv.raw() as c:
            # the value came back byte for byte, and planted nothing
            self.assertEqual(c.command("CONFIG", "GET", "masterauth"), [b"masterauth", INJECTION])
            self.assertEqual(c.command("CONFIG", "GET", "requirepass"), [b"requirepass", b""])
            self.assertEqual(c.command("PING"), b"PONG")
            self.assertNotEqual(c.command("CONFIG", "GET", "dir")[1], b"/tmp/evil")
            self.assertEqual(c.command("CONFIG", "GET", "masteruser"), [b"masteruser", b"a b"])
            if "--save" not in h.Config.server_cmd:  # (the reference's command line clears it)
                self.assertEqual(c.command("CONFIG", "GET", "save"),
                                 [b"save", b"100 10 200 20"])
            self.assertEqual(c.command("CONFIG", "GET", "client-output-buffer-limit"),
                             [b"client-output-buffer-limit",
                              b"normal 1048576 2097152 3 slave 268435456 67108864 60 "
                              b"pubsub 1000 2000 5"])
        self.assertIn("# rewrite test", read_text(conf))

    def test_lines_match_redis(self):
        ref = h.Config.tool("redis-server")
        if ref is None:
            self.fail("redis-server (the reference) not found")
        redis_dir = os.path.join(self.workdir, "redis")
        ours_dir = os.path.join(self.workdir, "ours")
        os.mkdir(redis_dir)
        os.mkdir(ours_dir)
        _, want = rewritten([ref, "--save", "", "--appendonly", "no"], redis_dir)
        _, got = rewritten(None, ours_dir)
        want.pop("dir", None)  # Redis always writes dir; polluxd only when it was set
        got.pop("dir", None)
        self.assertEqual(got, want)


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class NeverReads:
    """A raw client that sends requests and never reads a reply."""

    def __init__(self, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect((h.HOST, port))
        self.sock.settimeout(30)
        self.dropped = False

    def send(self, data):
        """Send data; False once the server has dropped the connection."""
        if self.dropped:
            return False
        try:
            self.sock.sendall(data)
            return True
        except (ConnectionResetError, BrokenPipeError, socket.timeout):
            # (a timeout: the server stopped reading a connection it is closing)
            self.dropped = True
            return False

    def close(self):
        self.sock.close()


class OutputLimits(unittest.TestCase):
    """client-output-buffer-limit for normal clients, and the bound on
    output queued for a client that has not authenticated."""

    BIG = 100 * 1024

    def client_ids(self, c):
        text = c.command("CLIENT", "LIST").decode()
        return {int(m) for m in re.findall(r"\bid=(\d+)", text)}

    def run_never_reading(self, srv, payload, batches, pause=0.0):
        """Send payload up to `batches` times on a client that never reads;
        return (dropped, growth of the server's RSS over the run)."""
        with srv.raw() as admin:
            base = rss_bytes(srv.proc.pid)
            before = self.client_ids(admin)
            nr = NeverReads(srv.port)
            try:
                sent = 0
                while sent < batches and nr.send(payload):
                    sent += 1
                    if pause:
                        time.sleep(pause)  # spread the growth out; no assertion on time
                peak = rss_bytes(srv.proc.pid)
                ids = self.client_ids(admin)
                gone = h.wait_until(lambda: self.client_ids(admin) == before, 30)
                self.assertTrue(gone, f"never-reading client still connected ({ids})")
                return nr.dropped, max(peak, rss_bytes(srv.proc.pid)) - base
            finally:
                nr.close()

    def test_normal_hard_limit(self):
        srv = h.Server(args=["--client-output-buffer-limit", "normal 4mb 0 0"])
        with srv, srv.raw() as c:
            keys = h.keys_by_shard("big", 2)
            for k in keys:
                self.assertEqual(c.command("SET", k, b"v" * self.BIG), b"OK")
            gets = b"".join(h.encode_command("GET", k) for k in keys) * 50  # 10 MB of replies
            # 500 MB of replies in all if nothing stopped it
            _, growth = self.run_never_reading(srv, gets, 50)
            self.assertLess(growth, 128 * 1024 * 1024)
            self.assertEqual(c.command("GET", keys[0]), b"v" * self.BIG)

    def test_normal_soft_limit(self):
        """Over the soft limit for longer than its seconds: dropped, while
        the hard limit (none) is never reached."""
        srv = h.Server(args=["--client-output-buffer-limit", "normal 0 1mb 1"])
        with srv, srv.raw() as c:
            self.assertEqual(c.command("SET", "k", b"v" * 10240), b"OK")
            gets = h.encode_command("GET", "k") * 20  # 200 kB of replies a batch
            dropped_growth = self.run_never_reading(srv, gets, 300, pause=0.1)
            self.assertLess(dropped_growth[1], 128 * 1024 * 1024)

    def test_unauthenticated_client_bounded(self):
        srv = h.Server(args=["--requirepass", "pw"], password="pw")
        with srv:
            # -NOAUTH replies (35 bytes each) to a client that never authenticates
            pings = h.encode_command("PING") * 20000
            _, growth = self.run_never_reading(srv, pings, 100)
            self.assertLess(growth, 128 * 1024 * 1024)


if __name__ == "__main__":
    h.main()
