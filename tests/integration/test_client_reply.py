#!/usr/bin/env python3
"""CLIENT REPLY ON|OFF|SKIP: the bytes a client receives for the same pipelines on polluxd
(two workers: keys on both shards, so forwarded replies are dropped too) and on Debian's
redis-server must be the same; a bulk load with replies off leaves no stray reply behind."""

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


if __name__ == "__main__":
    h.main()
