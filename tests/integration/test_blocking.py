#!/usr/bin/env python3
"""Blocking commands: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP and
CLIENT UNBLOCK. Replies, errors and timeouts byte for byte against redis-server (RESP2 and
RESP3); clients served in the order they blocked, by pushes from other clients, inside and
after MULTI, with keys on one shard and on several; chained moves; what a blocked client
sent meanwhile; clients that leave while blocked; the served pops reaching replicas;
INFO's blocked_clients and clients_in_timeout_table."""

import os
import time

import harness as h

redis = h.require_redis_py()

REDIS_SERVER = os.environ.get("REDIS_SERVER", "redis-server")


def workers():
    return [] if h.Config.server_is_redis() else ["--pollux-workers", "2"]


def blocked(srv):
    with srv.raw() as c:
        return int(h.info_fields(c, "clients")["blocked_clients"])


def wait_blocked(srv, n):
    assert h.wait_until(lambda: blocked(srv) == n, 30, 0.01), f"{n} blocked clients"


class Blocking(h.ServerTestCase):
    SERVER_ARGS = tuple(workers())

    def test_served_by_a_push_one_shard_and_several(self):
        same = h.keys_on(0, 2, "a") + h.keys_on(0, 1, "b")
        spread = h.keys_on(0, 1, "c") + h.keys_on(1, 2, "d")
        for keys in (same, spread):
            with self.subTest(keys=keys):
                c = self.client()
                c.send_command("BLPOP", *keys, 5)
                wait_blocked(self.server, 1)
                self.assertEqual(self.r.rpush(keys[1], "x", "y"), 2)
                self.assertEqual(c.read_reply(), [keys[1].encode(), b"x"])
                self.assertEqual(self.r.lrange(keys[1], 0, -1), [b"y"])
                self.assertEqual(blocked(self.server), 0)

    def test_every_command_served(self):
        a, b = h.keys_on(0, 1, "s")[0], h.keys_on(1, 1, "t")[0]
        cases = [
            (("BRPOP", a, 5), lambda: self.r.rpush(a, 1, 2), [a.encode(), b"2"]),
            (("BLMOVE", a, b, "LEFT", "RIGHT", 5), lambda: self.r.rpush(a, "m"), b"m"),
            (("BRPOPLPUSH", a, b, 5), lambda: self.r.rpush(a, "n"), b"n"),
            (("BLMPOP", 5, 2, "nope", a, "RIGHT", "COUNT", 5), lambda: self.r.rpush(a, 1, 2, 3),
             [a.encode(), [b"3", b"2", b"1"]]),
            (("BZPOPMIN", "nope", a, 5), lambda: self.r.zadd(a, {"p": 1, "q": 2}),
             [a.encode(), b"p", b"1"]),
            (("BZPOPMAX", a, 5), lambda: self.r.zadd(a, {"p": 1, "q": 2}),
             [a.encode(), b"q", b"2"]),
            (("BZMPOP", 5, 1, a, "MIN", "COUNT", 2), lambda: self.r.zadd(a, {"p": 1, "q": 2}),
             [a.encode(), [[b"p", b"1"], [b"q", b"2"]]]),
        ]
        self.r.delete(b)
        for cmd, push, want in cases:
            with self.subTest(cmd=cmd[0]):
                self.r.delete(a)
                c = self.client()
                c.send_command(*cmd)
                wait_blocked(self.server, 1)
                push()
                self.assertEqual(c.read_reply(), want)
        self.assertEqual(self.r.lrange(b, 0, -1), [b"n", b"m"])

    def test_first_blocked_first_served(self):
        k = "fifo"
        clients = []
        for i in range(4):
            c = self.client()
            c.send_command("BLPOP", k, 10)
            wait_blocked(self.server, i + 1)
            clients.append(c)
        self.r.rpush(k, "a", "b", "c")
        for c, v in zip(clients, (b"a", b"b", b"c")):
            self.assertEqual(c.read_reply(), [b"fifo", v])
        self.assertEqual(blocked(self.server), 1)
        self.r.rpush(k, "d")
        self.assertEqual(clients[3].read_reply(), [b"fifo", b"d"])
        self.assertEqual(self.r.exists(k), 0)

    def test_keys_written_together_serve_in_write_order(self):
        # A waits on k1 and k2, B on k2; one transaction pushes k1 then k2: A takes k1's value
        # and B k2's (Redis serves the keys of one request in the order they were written)
        for k1, k2 in (h.keys_on(0, 2, "w"), (h.keys_on(0, 1, "x")[0], h.keys_on(1, 1, "x")[0])):
            with self.subTest(keys=(k1, k2)):
                a, b = self.client(), self.client()
                a.send_command("BLPOP", k1, k2, 0)
                wait_blocked(self.server, 1)
                b.send_command("BLPOP", k2, 0)
                wait_blocked(self.server, 2)
                p = self.r.pipeline(transaction=True)
                p.rpush(k1, "a")
                p.rpush(k2, "b")
                p.execute()
                self.assertEqual(a.read_reply(), [k1.encode(), b"a"])
                self.assertEqual(b.read_reply(), [k2.encode(), b"b"])
                self.assertEqual(self.r.exists(k1, k2), 0)

    def test_chained_moves_one_shard(self):
        # served on the spot: when RPUSH answers, the value is already at the end of the chain
        c1, c2 = self.client(), self.client()
        c1.send_command("BLMOVE", "{t}a", "{t}b", "LEFT", "LEFT", 10)
        wait_blocked(self.server, 1)
        c2.send_command("BLMOVE", "{t}b", "{t}c", "LEFT", "LEFT", 10)
        wait_blocked(self.server, 2)
        self.assertEqual(self.r.rpush("{t}a", "foo"), 1)
        self.assertEqual(self.r.lrange("{t}a", 0, -1), [])
        self.assertEqual(self.r.lrange("{t}b", 0, -1), [])
        self.assertEqual(self.r.lrange("{t}c", 0, -1), [b"foo"])
        self.assertEqual(c1.read_reply(), b"foo")
        self.assertEqual(c2.read_reply(), b"foo")

    def test_move_across_shards(self):
        a, b = h.keys_on(0, 1, "x")[0], h.keys_on(1, 1, "y")[0]
        c1, c2 = self.client(), self.client()
        c1.send_command("BLMOVE", a, b, "RIGHT", "LEFT", 10)
        wait_blocked(self.server, 1)
        c2.send_command("BLPOP", b, 10)
        wait_blocked(self.server, 2)
        self.r.rpush(a, "v")
        self.assertEqual(c1.read_reply(), b"v")
        self.assertEqual(c2.read_reply(), [b.encode(), b"v"])
        self.assertEqual(self.r.exists(a, b), 0)

    def test_multi_is_served_after_exec(self):
        c = self.client()
        c.send_command("BLPOP", "m", 10)
        wait_blocked(self.server, 1)
        p = self.r.pipeline(transaction=True)
        p.lpush("m", "a").lpush("m", "b").lpush("m", "c")
        p.execute()
        self.assertEqual(c.read_reply(), [b"m", b"c"])
        self.assertEqual(self.r.lrange("m", 0, -1), [b"b", b"a"])

    def test_push_then_delete_does_not_serve(self):
        c = self.client()
        c.send_command("BLPOP", "gone", 10)
        wait_blocked(self.server, 1)
        p = self.r.pipeline(transaction=True)
        p.lpush("gone", "a").delete("gone").set("gone", "string")
        p.execute()
        self.assertEqual(blocked(self.server), 1)
        # a key of another type: still waiting; a list again: served
        self.r.delete("gone")
        self.r.rpush("gone", "z")
        self.assertEqual(c.read_reply(), [b"gone", b"z"])

    def test_inside_multi_answers_at_once(self):
        c = self.client()
        self.assertEqual(c.command("MULTI"), b"OK")
        for cmd in (("BLPOP", "e", 0), ("BLMOVE", "e", "f", "LEFT", "LEFT", 0),
                    ("BZPOPMIN", "e", 0), ("BLMPOP", 0, 1, "e", "LEFT"),
                    ("BZMPOP", 0, 1, "e", "MIN")):
            self.assertEqual(c.command(*cmd), b"QUEUED")
        self.assertEqual(c.command_raw("EXEC"), b"*5\r\n*-1\r\n$-1\r\n*-1\r\n*-1\r\n*-1\r\n")

    def test_what_it_sent_meanwhile_waits(self):
        for key in (h.keys_on(0, 1, "w")[0], h.keys_on(1, 1, "w")[0]):
            c = self.client()
            c.send(h.encode_command("BLPOP", key, 10) + h.encode_command("PING") +
                   h.encode_command("LLEN", key))
            wait_blocked(self.server, 1)
            self.r.rpush(key, "a", "b")
            self.assertEqual(c.read_reply(), [key.encode(), b"a"])
            self.assertEqual(c.read_reply(), b"PONG")
            self.assertEqual(c.read_reply(), 1)

    def test_timeouts(self):
        for proto, null in ((2, b"*-1\r\n"), (3, b"_\r\n")):
            c = self.client(proto)
            for cmd in (("BLPOP", "t1", "t2", "0.05"), ("BRPOP", "t1", 0.01),
                        ("BLMOVE", "t1", "t2", "LEFT", "LEFT", 0.01),
                        ("BRPOPLPUSH", "t1", "t2", 0.01), ("BLMPOP", 0.01, 1, "t1", "LEFT"),
                        ("BZPOPMIN", "t1", 0.01), ("BZPOPMAX", "t1", "t2", 0.01),
                        ("BZMPOP", 0.01, 2, "t1", "t2", "MAX")):
                with self.subTest(proto=proto, cmd=cmd[0]):
                    t0 = time.monotonic()
                    self.assertEqual(c.command_raw(*cmd), null)
                    self.assertGreaterEqual(time.monotonic() - t0, 0.009)
        with self.server.raw() as c:
            info = h.info_fields(c, "clients")
        self.assertEqual(info["blocked_clients"], "0")
        self.assertEqual(info["clients_in_timeout_table"], "0")

    def test_info_counts(self):
        c1, c2 = self.client(), self.client()
        ids = [c1.command("CLIENT", "ID"), c2.command("CLIENT", "ID")]
        c1.send_command("BLPOP", "i", 0)
        c2.send_command("BZPOPMIN", "j", 100)
        wait_blocked(self.server, 2)
        with self.server.raw() as c:
            info = h.info_fields(c, "clients")
        self.assertEqual(info["clients_in_timeout_table"], "1")
        self.assertEqual(self.flags(ids), ["b", "b"])  # CLIENT LIST
        self.r.rpush("i", 1)
        self.r.zadd("j", {"a": 1})
        c1.read_reply()
        c2.read_reply()
        self.assertEqual(blocked(self.server), 0)
        self.assertEqual(self.flags(ids), ["N", "N"])

    def flags(self, ids):
        """CLIENT LIST's flags of these clients."""
        lines = self.r.execute_command("CLIENT", "LIST", "ID", *ids)
        if isinstance(lines, bytes):
            lines = lines.decode()
        rows = {int(r["id"]): r["flags"] for r in
                (dict(f.split("=", 1) for f in line.split(" ") if "=" in f)
                 for line in lines.strip().split("\n"))}
        return [rows[i] for i in ids]

    def test_client_unblock(self):
        for how, want in ((None, b"*-1\r\n"), ("TIMEOUT", b"*-1\r\n"),
                          ("ERROR", b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n")):
            with self.subTest(how=how):
                c = self.client()
                cid = c.command("CLIENT", "ID")
                c.send_command("BLPOP", "u", 0)
                wait_blocked(self.server, 1)
                args = ("CLIENT", "UNBLOCK", cid) + ((how,) if how else ())
                self.assertEqual(self.r.execute_command(*args), 1)
                self.assertEqual(c.read_raw(), want)
                self.assertEqual(c.command("PING"), b"PONG")
                self.assertEqual(self.r.execute_command(*args), 0)
        self.assertEqual(self.r.execute_command("CLIENT", "UNBLOCK", 987654), 0)

    def test_client_leaves_while_blocked(self):
        for key in (h.keys_on(0, 1, "l")[0], h.keys_on(1, 1, "l")[0]):
            c = self.server.raw()
            c.send_command("BLPOP", key, 0)
            wait_blocked(self.server, 1)
            c.close()
            wait_blocked(self.server, 0)
            self.r.rpush(key, "kept")
            self.assertEqual(self.r.lrange(key, 0, -1), [b"kept"])
        # and one that leaves with a spread command
        keys = h.keys_on(0, 1, "m") + h.keys_on(1, 1, "m")
        c = self.server.raw()
        c.send_command("BLPOP", *keys, 0)
        wait_blocked(self.server, 1)
        c.close()
        wait_blocked(self.server, 0)
        self.r.rpush(keys[1], "kept")
        self.assertEqual(self.r.lrange(keys[1], 0, -1), [b"kept"])
        self.assertEqual(self.r.ping(), True)

    def test_many_clients_many_keys(self):
        n = 200
        clients = []
        for i in range(n):
            c = self.server.raw()
            self.addCleanup(c.close)
            c.send_command("BRPOP", f"many{i % 20}", f"other{i % 7}", 30)
            clients.append(c)
        wait_blocked(self.server, n)
        for i in range(20):
            self.r.rpush(f"many{i}", *range(n // 20))
        got = sorted(int(c.read_reply()[1]) for c in clients)
        self.assertEqual(got, sorted(list(range(n // 20)) * 20))
        self.assertEqual(blocked(self.server), 0)
        self.assertEqual(self.r.dbsize(), 0)


class SameAsRedis(h.ServerTestCase):
    """Errors and answers that need no waiting, byte for byte against redis-server."""
    SERVER_ARGS = tuple(workers())

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ref = h.Server(cmd=[REDIS_SERVER, "--save", "", "--appendonly", "no"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.ref.stop()
        super().tearDownClass()

    CASES = [
        ("BLPOP", "k", "-1"), ("BLPOP", "k", "abc"), ("BLPOP", "k", "1e100"),
        ("BLPOP", "k", "inf"), ("BLPOP", "k", "nan"), ("BLPOP", "k", " 1"),
        ("BLPOP", "k", "9223372036854775807"), ("BLPOP", "k", "-0.0001x"),
        ("BLPOP", "str", 0), ("BLPOP", "l", 0),
        ("BLPOP", "none", "str", "l", 0), ("BRPOP", "l", "-0.5"), ("BRPOP", "l", "0x1"),
        ("BLMOVE", "l", "z", "LEFT", "LEFT", 0), ("BLMOVE", "l", "l2", "UP", "LEFT", 0),
        ("BLMOVE", "l", "l2", "LEFT", "RIGHT", "x"), ("BLMOVE", "str", "l2", "LEFT", "LEFT", 0),
        ("BLMOVE", "l", "l", "LEFT", "RIGHT", 0), ("BRPOPLPUSH", "l", "l2", 0),
        ("BRPOPLPUSH", "l", "str", 0),
        ("BLMPOP", 0, 0, "l", "LEFT"), ("BLMPOP", 0, 1, "l", "UP"),
        ("BLMPOP", 0, 1, "l", "LEFT", "COUNT", 0), ("BLMPOP", 0, 5, "l", "LEFT"),
        ("BLMPOP", "x", 1, "l", "LEFT"), ("BLMPOP", 0, 2, "none", "l", "RIGHT", "COUNT", 2),
        ("BLMPOP", 0, 1, "str", "LEFT"), ("BLMPOP", 0, 1, "l", "LEFT", "COUNT", 1, "COUNT", 1),
        ("BZPOPMIN", "z", 0), ("BZPOPMAX", "none", "z", 0), ("BZPOPMIN", "str", 0),
        ("BZPOPMIN", "z", "-2"), ("BZMPOP", 0, 1, "z", "MAX", "COUNT", 10),
        ("BZMPOP", 0, 0, "z", "MIN"), ("BZMPOP", 0, 1, "z", "MID"),
        ("BZMPOP", 0, 1, "z", "MIN", "COUNT", -1), ("BZMPOP", "-1", 1, "z", "MIN"),
        ("BLPOP", "k"), ("BZMPOP", 0, 1, "z"),
        ("CLIENT", "UNBLOCK", "x"), ("CLIENT", "UNBLOCK", 1, "MAYBE"),
        ("CLIENT", "UNBLOCK", 1, "TIMEOUT", "x"),
    ]

    def fill(self, r):
        r.flushall()
        r.set("str", "s")
        r.rpush("l", *range(5))
        r.zadd("z", {f"m{i}": i for i in range(5)})

    def test_cases(self):
        for proto in (2, 3):
            ours, ref = self.server.raw(), self.ref.raw()
            self.addCleanup(ours.close)
            self.addCleanup(ref.close)
            if proto == 3:
                ours.command("HELLO", "3")
                ref.command("HELLO", "3")
            for case in self.CASES:
                self.fill(self.r)
                self.fill(self.ref.redis())
                with self.subTest(proto=proto, case=case):
                    self.assertEqual(ours.command_raw(*case), ref.command_raw(*case))
                    for k in ("l", "l2", "z", "str"):
                        self.assertEqual(ours.command_raw("DUMP", k), ref.command_raw("DUMP", k))


class Replication(h.ServerTestCase):
    """Served pops reach replicas as the pops they were: Pollux and redis-server replicas."""
    SERVER_ARGS = tuple(workers())

    def test_replicas_see_the_served_pops(self):
        replicas = [h.Server(args=workers() + ["--replicaof", h.HOST, str(self.server.port)]),
                    h.Server(cmd=[REDIS_SERVER, "--save", "", "--appendonly", "no",
                                  "--replicaof", h.HOST, str(self.server.port)])]
        for rep in replicas:
            rep.start()
            self.addCleanup(rep.stop)
        a, b = h.keys_on(0, 1, "r")[0], h.keys_on(1, 1, "r")[0]
        waiting = []
        for cmd in (("BLPOP", a, 10), ("BLMOVE", a, b, "LEFT", "RIGHT", 10),
                    ("BZPOPMAX", "{z}", 10), ("BLMPOP", 10, 2, a, b, "RIGHT", "COUNT", 2),
                    ("BRPOP", a, b, 10)):
            c = self.server.raw()
            self.addCleanup(c.close)
            c.send_command(*cmd)
            waiting.append(c)
            wait_blocked(self.server, len(waiting))
        self.r.rpush(a, *range(10))
        self.r.zadd("{z}", {"x": 1, "y": 2})
        self.r.rpush(b, "last")
        for c in waiting:
            c.read_reply()
        want = {k: self.r.dump(k) for k in (a, b, "{z}")}
        for rep in replicas:
            rr = rep.redis()
            self.addCleanup(rr.close)

            def same():
                try:
                    return {k: rr.dump(k) for k in want} == want
                except redis.exceptions.BusyLoadingError:
                    return False
            self.assertTrue(h.wait_until(same, 30), "the replica to match")

    def test_replica_refuses_and_primary_turned_replica_unblocks(self):
        rep = h.Server(args=workers() + ["--replicaof", h.HOST, str(self.server.port)]).start()
        self.addCleanup(rep.stop)
        rr = rep.redis()
        self.addCleanup(rr.close)
        self.assertTrue(h.wait_until(lambda: h.replica_synced(rr), 30),
                        "the replica to finish its sync")
        with rep.raw() as c:
            self.assertEqual(c.command_raw("BLPOP", "k", 0),
                             b"-READONLY You can't write against a read only replica.\r\n")
        other = h.Server(args=workers()).start()
        self.addCleanup(other.stop)
        c = other.raw()
        self.addCleanup(c.close)
        c.send_command("BLPOP", "k", 0)
        wait_blocked(other, 1)
        other.redis().replicaof(h.HOST, self.server.port)
        self.assertEqual(c.read_raw(), b"-UNBLOCKED force unblock from blocking operation, "
                                       b"instance state changed (master -> replica?)\r\n")


if __name__ == "__main__":
    h.main(requires=("redis-server",))
