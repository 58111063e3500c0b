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


if __name__ == "__main__":
    h.main()
