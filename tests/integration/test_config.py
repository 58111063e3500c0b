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


def start_fails(test, workdir, text):
    """Start the server with a config file holding text: it must exit 1.
    Returns its stderr."""
    conf = os.path.join(workdir, "bad.conf")
    with open(conf, "w") as f:
        f.write(text)
    proc = subprocess.run(h.Config.server_cmd[:1] + [conf], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, cwd=workdir, timeout=30)
    test.assertEqual(proc.returncode, 1, proc.stdout)
    return proc.stderr.decode(errors="replace")


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

    def test_bad_lines_are_fatal(self):
        """Comments may hold anything; a bad directive line stops the start
        with Redis's report of the line as written."""
        err = start_fails(self, self.workdir,
                          '# a comment with "quotes", fine\nport 6379\nrequirepass "abc\n')
        self.assertIn("*** FATAL CONFIG FILE ERROR", err)
        self.assertIn("at line 3\n>>> 'requirepass \"abc'\n"
                      "Unbalanced quotes in configuration line", err)
        err = start_fails(self, self.workdir, "# fine\n\nmaxmemory 'lots'\n")
        self.assertIn("at line 3\n>>> 'maxmemory 'lots''\nargument must be a memory value", err)

    def test_save_words(self):
        """save is "" or number pairs split at each space, as Redis splits it: an empty word
        is refused (spaces only, doubled, leading, trailing; save "" ""). Polluxd once took
        spaces only for "no save points" and wrote them back as "" (found by
        tests/fuzz/fuzz_config)."""
        invalid = b"ERR CONFIG SET failed (possibly related to argument 'save') - " \
                  b"Invalid save parameters"
        with h.Server() as srv, srv.raw() as c:
            for value in (" ", "  900   1  ", "900  1", " 900 1", "900 1 ", "900", "1 x"):
                self.assertEqual(c.command("CONFIG", "SET", "save", value), invalid, value)
            self.assertEqual(c.command("CONFIG", "SET", "save", "900 1 300 10"), b"OK")
            self.assertEqual(c.command("CONFIG", "GET", "save"), [b"save", b"900 1 300 10"])
            self.assertEqual(c.command("CONFIG", "SET", "save", ""), b"OK")
        err = start_fails(self, self.workdir, 'save "" ""\n')
        self.assertIn("Invalid save parameters", err)

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

    def test_save_lines_stay_whole(self):
        """The file names save once; the value set is the default (three
        pairs): all three lines are written, not just the one in place."""
        if "--save" in h.Config.server_cmd:
            self.skipTest("the server's command line sets save")
        conf = os.path.join(self.workdir, "save.conf")
        with open(conf, "w") as f:
            f.write("save 900 1\n")
        pairs = b"3600 1 300 100 60 10000"
        srv = h.Server(conf=conf, workdir=self.workdir)
        with srv, srv.raw() as c:
            self.assertEqual(c.command("CONFIG", "SET", "save", pairs), b"OK")
            self.assertEqual(c.command("CONFIG", "REWRITE"), b"OK")
        again = h.Server(conf=conf, workdir=self.workdir)
        with again, again.raw() as c:
            self.assertEqual(c.command("CONFIG", "GET", "save"), [b"save", pairs])

    @h.skip_if_real_redis("Redis 7.0 writes bind's words unquoted: its rewritten file fails")
    def test_bind_words_quoted(self):
        """bind is written word by word, each word quoted when it needs it: an address with
        a quote or a newline in it reads back as itself. (Split by the file's quoting rules
        instead, a quote made the rewritten file say `bind` alone, which does not load.)
        Found by tests/fuzz/fuzz_config."""
        conf = os.path.join(self.workdir, "bind.conf")
        with open(conf, "w") as f:
            f.write("# bind test\n")
        odd = '127.0.0.1 -x"y -a\nb'
        srv = h.Server(conf=conf, args=["--bind", odd], workdir=self.workdir)
        with srv, srv.raw() as c:
            self.assertEqual(c.command("CONFIG", "GET", "bind"), [b"bind", odd.encode()])
            self.assertEqual(c.command("CONFIG", "REWRITE"), b"OK")
        self.assertIn('bind 127.0.0.1 "-x\\"y" "-a\\nb"\n', read_text(conf))
        # the rewritten file loads (the harness's own --bind comes after it)
        again = h.Server(conf=conf, workdir=self.workdir)
        with again, again.raw() as c:
            self.assertEqual(c.command("PING"), b"PONG")

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
                # every connection now is one of those before (a subset: the harness's
                # start-up probe may still have been closing when `before` was read)
                gone = h.wait_until(lambda: self.client_ids(admin) <= before, 30)
                self.assertTrue(gone, f"never-reading client still connected "
                                      f"({self.client_ids(admin)} against {before})")
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


class RenameCommand(unittest.TestCase):
    """rename-command in the config file, as Redis: the new name works, the
    old one is an unknown command, "" removes a command."""

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="pollux-it-rename-")
        self.addCleanup(shutil.rmtree, self.workdir, True)

    def conf(self, text):
        path = os.path.join(self.workdir, "rename.conf")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_rename_and_remove(self):
        conf = self.conf('rename-command GET fetch\n'
                         'rename-command FLUSHDB ""\n'
                         'rename-command CONFIG cfg\n')
        srv = h.Server(conf=conf, workdir=self.workdir)
        with srv, srv.raw() as c:
            for k in h.keys_by_shard("rk", 4):  # local and forwarded
                self.assertEqual(c.command("SET", k, k), b"OK")
                self.assertEqual(c.command("fetch", k), k.encode())
                self.assertEqual(c.command("FETCH", k), k.encode())
                self.assertEqual(c.command("GET", k),
                                 f"ERR unknown command 'GET', with args beginning with: '{k}' "
                                 .encode())
            self.assertEqual(c.command("FLUSHDB"),
                             b"ERR unknown command 'FLUSHDB', with args beginning with: ")
            self.assertEqual(c.command("CONFIG", "GET", "port"),
                             b"ERR unknown command 'CONFIG', with args beginning with: 'GET' "
                             b"'port' ")
            self.assertEqual(c.command("cfg", "GET", "maxclients"), [b"maxclients", b"10000"])
            # the config file's only: not a parameter CONFIG SET knows
            self.assertEqual(c.command("cfg", "SET", "rename-command", "GET x"),
                             b"ERR Unknown option or number of arguments for CONFIG SET - "
                             b"'rename-command'")
            # CONFIG REWRITE keeps the renames
            self.assertEqual(c.command("cfg", "SET", "maxclients", "999"), b"OK")
            self.assertEqual(c.command("cfg", "REWRITE"), b"OK")
        text = read_text(conf)
        self.assertIn('rename-command FLUSHDB ""', text)
        again = h.Server(conf=conf, workdir=self.workdir)
        with again, again.raw() as c:
            self.assertEqual(c.command("cfg", "GET", "maxclients"), [b"maxclients", b"999"])
            self.assertTrue(bytes(c.command("CONFIG", "GET", "x")).startswith(
                b"ERR unknown command 'CONFIG'"))

    def test_errors(self):
        for text, why in (("rename-command NOSUCH x\n", "No such command in rename-command"),
                          ("rename-command GET set\n", "Target command name already exists"),
                          ('rename-command GET ""\nrename-command GET x\n',
                           "No such command in rename-command")):
            self.assertIn(why, start_fails(self, self.workdir, text))


DENIED = (b"-DENIED Redis is running in protected mode because protected mode is enabled and "
          b"no password is set for the default user. In this mode connections are only accepted "
          b"from the loopback interface. If you want to connect from external computers to Redis "
          b"you may adopt one of the following solutions: 1) Just disable protected mode sending "
          b"the command 'CONFIG SET protected-mode no' from the loopback interface by connecting "
          b"to Redis from the same host the server is running, however MAKE SURE Redis is not "
          b"publicly accessible from internet if you do so. Use CONFIG REWRITE to make this "
          b"change permanent. 2) Alternatively you can just disable the protected mode by "
          b"editing the Redis configuration file, and setting the protected mode option to 'no', "
          b"and then restarting the server. 3) If you started the server manually just for "
          b"testing, restart it with the '--protected-mode no' option. 4) Setup a an "
          b"authentication password for the default user. NOTE: You only need to do one of the "
          b"above things in order for the server to start accepting connections from the "
          b"outside.\r\n")


class ProtectedMode(unittest.TestCase):
    """Protected mode as Redis 7.0 has it: with no password, a client whose
    address is not 127.0.0.1 or ::1 gets -DENIED and is closed, whatever bind
    says. Only loopback addresses can be used here, and that is enough:
    127.0.0.2 is loopback to the kernel but not "local" to Redis 7.0, so a
    client bound to 127.0.0.2 is the non-local client (the decision itself,
    address by address, is the unit test test_sock_peer)."""

    def connect_from(self, srv, source, family=socket.AF_INET, host=h.HOST):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.bind((source, 0))
        s.settimeout(30)
        s.connect((host, srv.port))
        return s

    def read_to_eof(self, s):
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk

    def ping_from(self, srv, source, family=socket.AF_INET, host=h.HOST):
        with self.connect_from(srv, source, family, host) as s:
            s.sendall(b"PING\r\n")
            return s.recv(100)

    def test_non_local_client_denied(self):
        srv = h.Server(args=["--bind", "127.0.0.1 -::1"])
        with srv, srv.raw() as c:
            before = int(h.info_fields(c, "stats")["rejected_connections"])
            with self.connect_from(srv, "127.0.0.2") as s:
                self.assertEqual(self.read_to_eof(s), DENIED)
            self.assertEqual(int(h.info_fields(c, "stats")["rejected_connections"]), before + 1)
            self.assertEqual(self.ping_from(srv, "127.0.0.1"), b"+PONG\r\n")
            if h.ipv6_loopback():
                self.assertEqual(self.ping_from(srv, "::1", socket.AF_INET6, "::1"),
                                 b"+PONG\r\n")
            # turned off at run time: the same client is served
            self.assertEqual(c.command("CONFIG", "SET", "protected-mode", "no"), b"OK")
            self.assertEqual(self.ping_from(srv, "127.0.0.2"), b"+PONG\r\n")
            self.assertEqual(c.command("CONFIG", "SET", "protected-mode", "yes"), b"OK")
            with self.connect_from(srv, "127.0.0.2") as s:
                self.assertEqual(self.read_to_eof(s), DENIED)

    def test_password_lifts_it(self):
        srv = h.Server(args=["--requirepass", "pw"], password="pw")
        with srv:
            self.assertEqual(self.ping_from(srv, "127.0.0.2"),
                             b"-NOAUTH Authentication required.\r\n")

    def test_protected_mode_no(self):
        srv = h.Server(args=["--protected-mode", "no"])
        with srv:
            self.assertEqual(self.ping_from(srv, "127.0.0.2"), b"+PONG\r\n")


if __name__ == "__main__":
    h.main()
