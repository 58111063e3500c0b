#!/usr/bin/env python3
"""Sets: the intset and hashtable encodings and their conversions, replies byte for byte
against Debian's redis-server where the order is defined (an intset's), the multi-key
commands with keys on different shards, SPOP's propagation to a replica, SAVE and restart,
the dump loaded by redis-server and back, bad input, MEMORY USAGE.

Run against redis-server (--server "redis-server ...") every check shows what Redis does.
"""

import os
import random

import harness as h

redis = h.require_redis_py()

REDIS_SERVER = os.environ.get("REDIS_SERVER", "redis-server")


def workers():
    return [] if h.Config.server_is_redis() else ["--pollux-workers", "2"]


def idle():
    return [] if h.Config.server_is_redis() else ["--pollux-idle-sleep-us", "200"]


def info(srv, section):
    with srv.raw() as c:
        return h.info_fields(c, section)


def crc16_slot(key):
    """Redis Cluster's slot of a key (no hash tags in the keys used here)."""
    crc = 0
    for b in key.encode():
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc % 16384


class Encodings(h.ServerTestCase):
    SERVER_ARGS = workers()

    def test_intset_until_a_string_or_the_limit(self):
        r = self.r
        r.sadd("s", *range(512))
        self.assertEqual(r.object("encoding", "s"), b"intset")
        self.assertEqual(r.scard("s"), 512)
        r.sadd("s", 512)
        self.assertEqual(r.object("encoding", "s"), b"hashtable")
        self.assertEqual(r.scard("s"), 513)
        r.sadd("t", 1, 2, 3)
        self.assertEqual(r.object("encoding", "t"), b"intset")
        r.sadd("t", "x")
        self.assertEqual(r.object("encoding", "t"), b"hashtable")
        # never back (Redis 7.0)
        r.srem("t", "x")
        r.srem("s", *range(100, 513))
        self.assertEqual(r.object("encoding", "t"), b"hashtable")
        self.assertEqual(r.object("encoding", "s"), b"hashtable")
        self.assertEqual(r.smembers("s"), {b"%d" % i for i in range(100)})

    def test_non_canonical_integers_are_strings(self):
        r = self.r
        for m in ("01", "+1", "-0", " 1", "1.0", "9223372036854775808"):
            r.delete("s")
            r.sadd("s", m)
            self.assertEqual(r.object("encoding", "s"), b"hashtable", m)
            self.assertEqual(r.smembers("s"), {m.encode()})
        r.delete("s")
        r.sadd("s", "-9223372036854775808", "9223372036854775807", "0")
        self.assertEqual(r.object("encoding", "s"), b"intset")
        self.assertTrue(r.sismember("s", "0"))
        self.assertFalse(r.sismember("s", "00"))

    def test_parameter_is_read(self):
        r = self.r
        r.config_set("set-max-intset-entries", 4)
        try:
            r.sadd("s", 1, 2, 3, 4)
            self.assertEqual(r.object("encoding", "s"), b"intset")
            r.sadd("s", 5)
            self.assertEqual(r.object("encoding", "s"), b"hashtable")
            r.config_set("set-max-intset-entries", 0)
            r.sadd("z", 1)
            self.assertEqual(r.object("encoding", "z"), b"hashtable")
        finally:
            r.config_set("set-max-intset-entries", 512)

    def test_store_results_take_the_add_rules(self):
        r = self.r
        r.sadd("a", *range(300))
        r.sadd("b", *range(200, 500))
        self.assertEqual(r.sunionstore("u", "a", "b"), 500)
        self.assertEqual(r.object("encoding", "u"), b"intset")
        r.sadd("c", *range(1000, 1100))
        self.assertEqual(r.sunionstore("u", "a", "b", "c"), 600)
        self.assertEqual(r.object("encoding", "u"), b"hashtable")
        self.assertEqual(r.sinterstore("i", "a", "b"), 100)
        self.assertEqual(r.object("encoding", "i"), b"intset")
        self.assertEqual(r.sdiffstore("d", "a", "b"), 200)
        self.assertEqual(r.object("encoding", "d"), b"intset")
        # an empty result deletes the destination, TTL and type notwithstanding
        r.set("x", "string", ex=100)
        self.assertEqual(r.sinterstore("x", "a", "c"), 0)
        self.assertEqual(r.exists("x"), 0)
        r.set("x", "string", ex=100)
        self.assertEqual(r.sunionstore("x", "a"), 300)
        self.assertEqual(r.ttl("x"), -1)
        self.assertEqual(r.type("x"), b"set")

    def test_memory_usage(self):
        r = self.r
        r.sadd("small", *range(10))
        r.sadd("big", *[f"member:{i}" for i in range(2000)])
        small = r.memory_usage("small")
        big = r.memory_usage("big")
        self.assertGreater(small, 0)
        self.assertGreater(big, 2000 * len("member:1000"))
        self.assertLess(small, 200)


class AgainstRedis(h.unittest.TestCase):
    """Replies whose order Redis defines (intsets) compared byte for byte."""

    @classmethod
    def setUpClass(cls):
        cls.ref = h.Server(cmd=[REDIS_SERVER, "--save", "", "--appendonly", "no"]).start()
        cls.sut = h.Server(args=workers()).start()

    @classmethod
    def tearDownClass(cls):
        cls.sut.stop()
        cls.ref.stop()

    def both(self, proto, cmds):
        out = []
        for srv in (self.ref, self.sut):
            with srv.raw() as c:
                if proto == 3:
                    c.command("HELLO", "3")
                c.command("FLUSHALL")
                got = []
                for cmd in cmds:
                    c.command(*cmd)
                    got.append(c.last_raw)
                out.append(got)
        return out

    def test_intset_replies_exact(self):
        rnd = random.Random(7)
        a = [rnd.randrange(-1000, 1000) for _ in range(200)]
        b = [rnd.randrange(-1000, 1000) for _ in range(300)]
        c = [rnd.choice([-(2 ** 63), 2 ** 63 - 1, 0, 70000, -70000, 2 ** 40]) for _ in range(5)]
        cmds = [["SADD", "a"] + a, ["SADD", "b"] + b, ["SADD", "c"] + c,
                ["SMEMBERS", "a"], ["SMEMBERS", "c"], ["SINTER", "a", "b"],
                ["SUNION", "a", "b", "c"], ["SDIFF", "a", "b"], ["SDIFF", "b", "a", "c"],
                ["SSCAN", "a", "0"], ["SSCAN", "b", "0", "MATCH", "*7*", "COUNT", "3"],
                ["SINTERSTORE", "d", "a", "b"], ["SMEMBERS", "d"],
                ["SRANDMEMBER", "c", "100"], ["SPOP", "c", "5"], ["EXISTS", "c"],
                ["SMOVE", "a", "b", str(a[0])], ["SMEMBERS", "b"],
                ["SREM", "a"] + a[:50], ["SMEMBERS", "a"], ["OBJECT", "ENCODING", "a"],
                ["SPOP", "a", "100000"]]
        for proto in (2, 3):
            want, got = self.both(proto, cmds)
            for cmd, w, g in zip(cmds, want, got):
                self.assertEqual(g, w, f"RESP{proto} {cmd[:3]}")

    def test_errors_exact(self):
        cmds = [["SET", "str", "x"], ["SADD", "s", "1", "2"],
                ["SADD", "str", "1"], ["SREM", "str", "1"], ["SCARD", "str"],
                ["SISMEMBER", "str", "1"], ["SMISMEMBER", "str", "1"], ["SMEMBERS", "str"],
                ["SRANDMEMBER", "str"], ["SPOP", "str"], ["SMOVE", "str", "s", "1"],
                ["SMOVE", "s", "str", "1"], ["SMOVE", "missing", "str", "1"],
                ["SINTER", "missing", "str"], ["SUNION", "s", "str"], ["SDIFF", "missing", "str"],
                ["SINTERSTORE", "d", "s", "str"], ["SSCAN", "str", "0"],
                ["SINTERCARD", "0", "s"], ["SINTERCARD", "-1", "s"], ["SINTERCARD", "x", "s"],
                ["SINTERCARD", "2", "s"], ["SINTERCARD", "1", "s", "LIMIT", "-1"],
                ["SINTERCARD", "1", "s", "LIMIT", "x"], ["SINTERCARD", "1", "s", "LIMIT"],
                ["SINTERCARD", "1", "s", "BOGUS", "1"],
                ["SPOP", "s", "-1"], ["SPOP", "s", "x"], ["SPOP", "s", "1", "2"],
                ["SPOP", "s", "-9223372036854775808"],
                ["SRANDMEMBER", "s", "-9223372036854775808"], ["SRANDMEMBER", "s", "x"],
                ["SRANDMEMBER", "s", "1", "2"], ["SSCAN", "s", "x"],
                ["SSCAN", "s", "0", "COUNT", "0"], ["GET", "s"], ["INCR", "s"],
                ["APPEND", "s", "x"], ["STRLEN", "s"], ["HGET", "s", "f"], ["HSET", "s", "f", "v"],
                ["TYPE", "s"], ["SADD", "s"], ["SCARD", "s", "x"]]
        for proto in (2, 3):
            want, got = self.both(proto, cmds)
            for cmd, w, g in zip(cmds, want, got):
                self.assertEqual(g, w, f"RESP{proto} {cmd}")


class Random(h.ServerTestCase):
    SERVER_ARGS = workers()

    def test_srandmember_and_spop(self):
        r = self.r
        for name, members in (("ints", [str(i) for i in range(100)]),
                              ("strs", [f"m{i}" for i in range(1000)])):
            r.sadd(name, *members)
            every = {m.encode() for m in members}
            got = r.srandmember(name, 10)
            self.assertEqual(len(got), 10)
            self.assertEqual(len(set(got)), 10)
            self.assertTrue(set(got) <= every)
            got = r.srandmember(name, -3000)
            self.assertEqual(len(got), 3000)
            self.assertTrue(set(got) <= every)
            self.assertGreater(len(set(got)), 1)
            self.assertEqual(set(r.srandmember(name, 5000)), every)
            self.assertIn(r.srandmember(name), every)
            popped = set(r.spop(name, 30))
            self.assertEqual(len(popped), 30)
            one = r.spop(name)
            self.assertIn(one, every - popped)
            popped.add(one)
            left = r.smembers(name)
            self.assertEqual(left | popped, every)
            self.assertEqual(left & popped, set())
            self.assertEqual(set(r.spop(name, len(left))), left)
            self.assertEqual(r.exists(name), 0)


class AcrossShards(h.ServerTestCase):
    SERVER_ARGS = workers()

    def test_multi_key_commands(self):
        r = self.r
        names = []
        i = 0
        while len(names) < 3:
            k = f"k{i}"
            if crc16_slot(k) % 2 == (1 if len(names) == 1 else 0):
                names.append(k)
            i += 1
        a, b, d = names  # a and d on shard 0, b on shard 1 (2 workers: slot % 2)
        r.sadd(a, 1, 2, 3, "x")
        r.sadd(b, 2, 3, 4)
        self.assertEqual(r.sinter(a, b), {b"2", b"3"})
        self.assertEqual(r.sintercard(2, [a, b]), 2)
        self.assertEqual(r.sintercard(2, [a, b], limit=1), 1)
        self.assertEqual(r.sunion(a, b), {b"1", b"2", b"3", b"4", b"x"})
        self.assertEqual(r.sdiff(a, b), {b"1", b"x"})
        self.assertEqual(r.sinterstore(b, a, b), 2)  # destination among the sources
        self.assertEqual(r.smembers(b), {b"2", b"3"})
        self.assertEqual(r.sunionstore(d, b, a), 4)
        self.assertEqual(r.sdiffstore(d, a, b), 2)
        self.assertEqual(r.smembers(d), {b"1", b"x"})
        self.assertTrue(r.smove(a, b, "x"))
        self.assertEqual(r.object("encoding", b), b"hashtable")
        self.assertTrue(r.smove(a, "elsewhere", 1))
        self.assertEqual(r.smembers("elsewhere"), {b"1"})
        self.assertEqual(r.smembers(a), {b"2", b"3"})
        self.assertFalse(r.smove(a, b, "nope"))
        self.assertEqual(r.srem(a, 2, 3), 2)
        self.assertEqual(r.exists(a), 0)


class Replication(h.unittest.TestCase):
    def test_writes_reach_a_replica(self):
        p = h.Server(args=["--save", "", "--repl-diskless-sync-delay", "0"] + workers() +
                     idle()).start()
        try:
            rep = h.Server(args=["--save", ""] + workers() + idle() +
                           ["--replicaof", h.HOST, str(p.port)]).start()
            try:
                w = p.redis()
                w.sadd("ints", *range(300))
                w.sadd("strs", *[f"m{i}" for i in range(700)])
                w.spop("ints")
                w.spop("ints", 50)
                w.spop("strs", 3)
                w.spop("strs")
                w.sadd("gone", 1, 2)
                w.spop("gone", 10)
                w.sadd("one", "x")
                w.spop("one")
                w.sunionstore("u", "ints", "strs")
                w.sdiffstore("d", "ints", "u")
                w.smove("ints", "moved", 299 if w.sismember("ints", 299) else
                        int(w.srandmember("ints")))
                w.set("done", "1")

                def caught_up():  # a replica still loading its sync answers LOADING
                    try:
                        return rep.redis().get("done") == b"1"
                    except redis.exceptions.BusyLoadingError:
                        return False
                self.assertTrue(h.wait_until(caught_up, 30))
                ok, why = same_sets(p, rep)
                self.assertTrue(ok, why)
                self.assertEqual(rep.redis().exists("gone", "one", "d"), 0)
            finally:
                rep.stop()
        finally:
            p.stop()


def same_sets(a, b):
    ra, rb = a.redis(), b.redis()
    ka, kb = set(ra.keys("*")), set(rb.keys("*"))
    if ka != kb:
        return False, f"keys differ: {sorted(ka ^ kb)[:5]}"
    for k in ka:
        if ra.type(k) == b"set" and ra.smembers(k) != rb.smembers(k):
            return False, f"{k!r} differs"
    return True, ""


class SaveAndLoad(h.unittest.TestCase):
    def fill(self, r):
        r.sadd("small", *range(-5, 20))
        r.sadd("wide", -(2 ** 63), 2 ** 63 - 1, 70000)
        r.sadd("big", *range(1000))
        r.sadd("strs", *[f"member:{i}" for i in range(600)], "", "bin\x00ary")
        r.sadd("ttl", 1, 2)
        r.expire("ttl", 3600)

    def check(self, r, encodings=True):
        self.assertEqual(r.smembers("small"), {b"%d" % i for i in range(-5, 20)})
        self.assertEqual(r.smembers("wide"), {b"-9223372036854775808", b"9223372036854775807",
                                              b"70000"})
        self.assertEqual(r.smembers("big"), {b"%d" % i for i in range(1000)})
        self.assertEqual(r.scard("strs"), 602)
        self.assertTrue(r.sismember("strs", "bin\x00ary"))
        self.assertTrue(r.sismember("strs", ""))
        self.assertGreater(r.ttl("ttl"), 3000)
        if encodings:
            self.assertEqual(r.object("encoding", "small"), b"intset")
            self.assertEqual(r.object("encoding", "wide"), b"intset")
            self.assertEqual(r.object("encoding", "big"), b"hashtable")
            self.assertEqual(r.object("encoding", "strs"), b"hashtable")

    def test_save_restart_and_redis_both_ways(self):
        d = h.tempfile.mkdtemp(prefix="pollux-it-sets-")
        s = h.Server(args=["--save", ""] + workers(), workdir=d).start()
        try:
            r = s.redis()
            self.fill(r)
            self.assertTrue(r.save())
            s.stop()
            s = h.Server(args=["--save", ""] + workers(), workdir=d).start()
            self.check(s.redis())
            s.stop()
            # redis-server loads the dump (checking every intset) and writes its own
            rs = h.Server(args=["--save", "", "--appendonly", "no",
                                "--sanitize-dump-payload", "yes"],
                          cmd=[REDIS_SERVER], workdir=d).start()
            try:
                rr = rs.redis()
                self.check(rr)
                rr.sadd("from-redis", 5, 6, 7)
                self.assertTrue(rr.save())
            finally:
                rs.stop()
            s = h.Server(args=["--save", ""] + workers(), workdir=d).start()
            r = s.redis()
            self.check(r)
            self.assertEqual(r.smembers("from-redis"), {b"5", b"6", b"7"})
            self.assertEqual(r.object("encoding", "from-redis"), b"intset")
        finally:
            s.stop()


if __name__ == "__main__":
    h.main(requires=["redis-server"])
