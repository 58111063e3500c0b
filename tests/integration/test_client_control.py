#!/usr/bin/env python3
"""CLIENT REPLY and CLIENT PAUSE / UNPAUSE.

REPLY ON|OFF|SKIP: the bytes a client receives for the same pipelines on polluxd (two
workers: keys on both shards, so forwarded replies are dropped too) and on Debian's
redis-server must be the same; a bulk load with replies off leaves no stray reply behind.

PAUSE: with WRITE, reads are served and writes (scripts, PUBLISH, an EXEC of writes, a
write queued in MULTI) wait for the end; with ALL everything waits, UNPAUSE from another
client included, as in Redis; UNPAUSE ends it early; a paused client that goes away leaves
the server as it was. Waits are checked from below only (a loaded machine can only make
them longer); what must not wait is checked against a pause long enough to tell."""

import socket
import time

import harness as h

redis = h.require_redis_py()


def workers():
    return [] if h.Config.server_is_redis() else ["--pollux-workers", "2"]


def pipeline_bytes(srv, cmds, end=("PING",)):
    """Send cmds then `end` (whose reply closes the exchange); @return every byte received."""
    s = socket.create_connection((h.HOST, srv.port))
    try:
        out = b""
        for a in list(cmds) + [list(end)]:
            a = [x.encode() if isinstance(x, str) else x for x in a]
            out += b"*%d\r\n" % len(a) + b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in a)
        s.sendall(out)
        data = b""
        deadline = time.monotonic() + 10
        s.settimeout(10)
        while not data.endswith(b"+PONG\r\n") and time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return data
    finally:
        s.close()


SEQUENCES = [
    [["CLIENT", "REPLY", "OFF"], ["SET", "a", "1"], ["GET", "a"],
     ["MSET", "x", "1", "y", "2", "z", "3"], ["GET", "x"], ["GET", "y"], ["NOSUCH"],
     ["CLIENT", "REPLY", "ON"], ["GET", "a"]],
    [["CLIENT", "REPLY", "SKIP"], ["GET", "y"], ["GET", "z"], ["CLIENT", "REPLY", "SKIP"],
     ["CLIENT", "REPLY", "SKIP"], ["PING"], ["GET", "x"]],
    [["CLIENT", "REPLY", "OFF"], ["CLIENT", "REPLY", "SKIP"], ["GET", "a"],
     ["CLIENT", "REPLY", "ON"], ["CLIENT", "REPLY", "foo"], ["CLIENT", "REPLY"]],
    [["CLIENT", "REPLY", "OFF"], ["MULTI"], ["SET", "m", "1"], ["GET", "y"], ["EXEC"],
     ["CLIENT", "REPLY", "ON"], ["GET", "m"]],
    [["CLIENT", "REPLY", "SKIP"], ["EVAL", "return redis.call('get', KEYS[1])", "1", "z"],
     ["EVAL", "return redis.call('get', KEYS[1])", "1", "y"]],
]


class AgainstRedis(h.AgainstRedis):
    @classmethod
    def setUpClass(cls):
        cls.SERVER_ARGS = workers()
        super().setUpClass()

    def test_same_bytes(self):
        for seq in SEQUENCES:
            with self.subTest(seq=seq):
                for srv in (self.server, self.reference):
                    with srv.raw() as c:
                        c.command("FLUSHALL")
                        c.command("MSET", "x", "0", "y", "0", "z", "0")
                self.assertEqual(pipeline_bytes(self.server, seq),
                                 pipeline_bytes(self.reference, seq))

    def test_bulk_load_with_replies_off(self):
        cmds = [["CLIENT", "REPLY", "OFF"]]
        cmds += [["SET", f"bulk:{i}", "v" * (i % 50)] for i in range(5000)]
        cmds += [["CLIENT", "REPLY", "ON"], ["DBSIZE"]]
        for srv in (self.server, self.reference):
            with srv.raw() as c:
                c.command("FLUSHALL")
            self.assertEqual(pipeline_bytes(srv, cmds), b"+OK\r\n:5000\r\n+PONG\r\n")


def timed(client, *cmd):
    """(reply, seconds it took)"""
    t0 = time.monotonic()
    reply = client.command(*cmd)
    return reply, time.monotonic() - t0


class Pause(h.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.SERVER_ARGS = workers()
        super().setUpClass()

    def tearDown(self):
        with self.server.raw() as c:
            c.command("CLIENT", "UNPAUSE")
        super().tearDown()

    def test_write_pause(self):
        admin, c = self.client(), self.client()
        c.command("SET", "k", "1")
        self.assertEqual(admin.command("CLIENT", "PAUSE", "300", "WRITE"), b"OK")
        # each of these waits for the end of the pause
        for cmd in (["SET", "k", "2"], ["EVAL", "return 1", "0"], ["PUBLISH", "ch", "m"],
                    ["FCALL", "nosuch", "0"]):
            self.assertEqual(admin.command("CLIENT", "PAUSE", "300", "WRITE"), b"OK")
            reply, took = timed(c, *cmd)
            self.assertGreaterEqual(took, 0.2, cmd)
        # reads do not wait (a pause long enough that a read could not pass for a write)
        self.assertEqual(admin.command("CLIENT", "PAUSE", "20000", "WRITE"), b"OK")
        for cmd in (["GET", "k"], ["EXISTS", "k"], ["EVAL_RO", "return 1", "0"], ["PING"]):
            reply, took = timed(c, *cmd)
            self.assertLess(took, 10, cmd)
        # MULTI is not a write; a write queued in it waits
        self.assertEqual(c.command("MULTI"), b"OK")
        c.send_command("SET", "k", "3")
        time.sleep(0.2)
        self.assertEqual(admin.command("CLIENT", "UNPAUSE"), b"OK")
        self.assertEqual(c.read_reply(), b"QUEUED")
        self.assertEqual(c.command("EXEC"), [b"OK"])
        self.assertEqual(c.command("GET", "k"), b"3")

    def test_all_pause_and_unpause(self):
        admin, c, other = self.client(), self.client(), self.client()
        self.assertEqual(admin.command("CLIENT", "PAUSE", "300"), b"OK")
        reply, took = timed(c, "GET", "k")
        self.assertGreaterEqual(took, 0.2)
        # UNPAUSE from a client is paused too (Redis's behaviour): it returns at the end
        self.assertEqual(admin.command("CLIENT", "PAUSE", "300", "ALL"), b"OK")
        reply, took = timed(other, "CLIENT", "UNPAUSE")
        self.assertEqual(reply, b"OK")
        self.assertGreaterEqual(took, 0.2)
        # the wider mode and the later end win: WRITE for 800 ms, then ALL for 10 ms, is ALL
        # for 800 ms, so a read waits about that long
        self.assertEqual(admin.command("CLIENT", "PAUSE", "800", "WRITE"), b"OK")
        self.assertEqual(admin.command("CLIENT", "PAUSE", "10", "ALL"), b"OK")
        reply, took = timed(c, "GET", "k")
        self.assertGreaterEqual(took, 0.6)
        # UNPAUSE from a client the pause does not cover ends it at once
        self.assertEqual(admin.command("CLIENT", "PAUSE", "20000", "WRITE"), b"OK")
        c.send_command("SET", "k", "v")
        time.sleep(0.1)
        self.assertEqual(other.command("CLIENT", "UNPAUSE"), b"OK")
        self.assertEqual(c.read_reply(), b"OK")

    def test_no_expiry_during_a_pause(self):
        """As Redis: during a pause an expired key reads as missing but stays; it goes when
        the pause ends."""
        c, admin = self.client(), self.client()
        # the key must still be there when the pause starts: on a loaded machine the pause
        # can come after the key's 300 ms, so try again until it does not
        for _ in range(20):
            c.command("SET", "short", "v", "PX", "300")
            self.assertEqual(admin.command("CLIENT", "PAUSE", "20000", "WRITE"), b"OK")
            if c.command("DBSIZE") == 1 and c.command("PTTL", "short") > 0:
                break
            self.assertEqual(admin.command("CLIENT", "UNPAUSE"), b"OK")
        else:
            self.fail("the key expired before the pause every time")
        self.assertTrue(h.wait_until(lambda: c.command("PTTL", "short") == -2, 10))
        self.assertEqual(c.command("GET", "short"), None)
        self.assertEqual(c.command("EXISTS", "short"), 0)
        self.assertEqual(c.command("DBSIZE"), 1)
        self.assertEqual(admin.command("CLIENT", "UNPAUSE"), b"OK")
        self.assertTrue(h.wait_until(lambda: c.command("DBSIZE") == 0, 10))

    def test_errors(self):
        c = self.client()
        for args, msg in ((["abc"], "ERR timeout is not an integer or out of range"),
                          (["-1"], "ERR timeout is negative"),
                          (["100", "FOO"], "ERR CLIENT PAUSE mode must be WRITE or ALL"),
                          (["100", "WRITE", "x"], "ERR unknown subcommand or wrong number of "
                           "arguments for 'PAUSE'. Try CLIENT HELP."),
                          ([], "ERR wrong number of arguments for 'client|pause' command")):
            with self.subTest(args=args):
                self.assertEqual(c.command_raw("CLIENT", "PAUSE", *args),
                                 b"-" + msg.encode() + b"\r\n")

    def test_paused_client_that_goes_away(self):
        admin = self.client()
        self.assertEqual(admin.command("CLIENT", "PAUSE", "400", "WRITE"), b"OK")
        gone = self.server.raw()
        gone.send_command("SET", "gone", "1")
        time.sleep(0.05)
        gone.close()
        reply, took = timed(self.client(), "INCR", "after")
        self.assertEqual(reply, 1)
        self.assertEqual(self.client().command("PING"), b"PONG")


if __name__ == "__main__":
    h.main()
