#!/usr/bin/env python3
"""MONITOR: the lines a monitor sees for the same commands on polluxd (two workers) and on
Debian's redis-server, compared after the timestamp and the client's port are taken out;
commands of clients on every worker reach every monitor; scripts show as they start and
their commands as "lua"; AUTH and HELLO AUTH arguments are redacted; RESET ends the
monitor, a monitor that goes away leaves the server as it was; MONITOR inside MULTI fails
as in Redis; CLIENT LIST shows flag O; redis-py's monitor(). The file passes against
redis-server too (run it with --server redis-server)."""

import re
import threading
import time

import harness as h

redis = h.require_redis_py()

LINE = re.compile(rb"^\+(\d+)\.(\d{6}) \[(\d+) ([^\]]+)\] (.*)$")


def workers():
    return [] if h.Config.server_is_redis() else ["--pollux-workers", "2"]


def read_lines(mon, n, timeout=10):
    """The next n monitor lines of a raw client, as (db, who, args) with who 'lua' or the
    client's port."""
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < n:
        if time.monotonic() > deadline:
            raise AssertionError(f"only {len(out)} of {n} monitor lines: {out!r}")
        line = mon.read_reply()
        m = LINE.match(b"+" + bytes(line)) if isinstance(line, bytes) else None
        assert m is not None, line
        out.append((int(m.group(3)), m.group(4), m.group(5)))
    return out


# (commands for one client each, in order); each client runs its list, one client after
# the other, so a client's own lines keep their order on every server
SCRIPT = [
    [["SET", "a b", 'x"y'], ["GET", "a b"], ["SELECT", "3"], ["SET", "k", "\x01\t\xe9"]],
    [["MULTI"], ["SET", "m", "1"], ["INCR", "m"], ["EXEC"]],
    [["EVAL", "redis.call('set', KEYS[1], 'v')\nreturn redis.call('get', KEYS[1])", "1", "kk"],
     # undeclared keys: polluxd runs it again holding every shard, shown once all the same
     ["EVAL", "return redis.call('exists', ARGV[1], ARGV[2], ARGV[3])", "0", "u1", "u2", "u3"]],
    [["AUTH", "nosuch", "pass"], ["HELLO", "2", "AUTH", "default", "wrong", "SETNAME", "n"]],
    [["CONFIG", "GET", "port"], ["PING"], ["NOSUCHCMD"], ["LPUSH", "l", "1", "2"],
     ["RPOP", "l"], ["DEL", "l", "kk"]],
]


def run_script(srv):
    """Run SCRIPT with a monitor; @return each client's lines (who replaced by its index)."""
    mon = srv.raw()
    try:
        assert mon.command("MONITOR") == b"OK"
        per_client = []
        ports = []
        for cmds in SCRIPT:
            c = srv.raw()
            ports.append(c.sock.getsockname()[1])
            for cmd in cmds:
                c.command(*cmd)
            per_client.append([])
            c.close()
        # what a server shows: every command but CONFIG (admin) and the unknown one, and the
        # scripts' commands (two and one)
        expected = sum(len(cmds) for cmds in SCRIPT) - 2 + 3
        lines = read_lines(mon, expected)
        for db, who, args in lines:
            if who == b"lua":
                per_client[2].append((db, b"lua", args))
                continue
            port = int(who.rsplit(b":", 1)[1])
            per_client[ports.index(port)].append((db, b"client", args))
        return per_client
    finally:
        mon.close()


class AgainstRedis(h.AgainstRedis):
    @classmethod
    def setUpClass(cls):
        cls.SERVER_ARGS = workers()
        super().setUpClass()

    def test_lines_as_redis(self):
        self.assertEqual(run_script(self.server), run_script(self.reference))


class Monitor(h.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.SERVER_ARGS = workers()
        super().setUpClass()

    def test_every_worker_reaches_every_monitor(self):
        monitors = [self.client() for _ in range(4)]
        for m in monitors:
            self.assertEqual(m.command("MONITOR"), b"OK")
        clients = [self.client() for _ in range(8)]
        for i, c in enumerate(clients):
            self.assertEqual(c.command("SET", f"key{i}", str(i)), b"OK")
        want = sorted(f'"SET" "key{i}" "{i}"'.encode() for i in range(8))
        for m in monitors:
            got = sorted(args for _, _, args in read_lines(m, 8))
            self.assertEqual(got, want)

    def test_reset_and_disconnect_end_it(self):
        m = self.client()
        self.assertEqual(m.command("MONITOR"), b"OK")
        c = self.client()
        c.command("SET", "x", "1")
        self.assertEqual(read_lines(m, 1)[0][2], b'"SET" "x" "1"')
        self.assertEqual(m.command("RESET"), b"RESET")
        c.command("SET", "x", "2")
        # nothing came for the SET: the PING's answer is the next reply
        self.assertEqual(m.command("PING"), b"PONG")
        # a monitor that goes away: the server carries on, the other monitors too
        gone = self.client()
        self.assertEqual(gone.command("MONITOR"), b"OK")
        other = self.client()
        self.assertEqual(other.command("MONITOR"), b"OK")
        gone.close()
        for i in range(20):
            self.assertEqual(c.command("SET", "y", str(i)), b"OK")
        self.assertEqual(len(read_lines(other, 20)), 20)

    def test_monitor_in_multi_and_client_list(self):
        c = self.client()
        c.command("MULTI")
        self.assertEqual(c.command("MONITOR"), b"QUEUED")
        reply = c.command("EXEC")
        self.assertEqual(reply, [h.ErrorReply(b"ERR MONITOR isn't allowed for DENY BLOCKING "
                                              b"client")])
        m = self.client()
        m.command("MONITOR")
        listing = self.client().command("CLIENT", "LIST").decode()
        flags = [re.search(r"flags=(\S+)", line).group(1) for line in listing.splitlines()]
        self.assertEqual(sorted(flags), ["N", "N", "O"])

    def test_monitor_that_never_reads(self):
        """A monitor that never reads is cut off by the normal output limit, alone: the
        writer keeps its pace and loses nothing."""
        c = self.r
        c.config_set("client-output-buffer-limit", "normal 256kb 0 0")
        self.addCleanup(lambda: self.server.redis().config_set("client-output-buffer-limit",
                                                               "normal 0 0 0"))
        m = self.client()
        m.command("MONITOR")
        value = "v" * 20000
        for i in range(800):
            c.set(f"flood{i % 10}", value)
        self.assertEqual(c.dbsize(), 10)
        deadline = time.monotonic() + 10
        while any("O" in cl["flags"] for cl in c.client_list()):
            self.assertLess(time.monotonic(), deadline, "the monitor was never cut off")
            time.sleep(0.05)

    def test_redis_py_monitor(self):
        result = []

        def watch():
            with self.server.redis().monitor() as mon:
                for cmd in mon.listen():
                    result.append(cmd["command"])
                    if cmd["command"] == "SET stop 1":
                        return

        t = threading.Thread(target=watch)
        t.start()
        deadline = time.monotonic() + 10
        # the monitor is ready when it shows our PINGs
        while not result and time.monotonic() < deadline:
            self.r.ping()
            time.sleep(0.01)
        self.r.set("stop", 1)
        t.join(10)
        self.assertFalse(t.is_alive())
        self.assertEqual(result[-1], "SET stop 1")
        self.assertIn("PING", result)


if __name__ == "__main__":
    h.main()
