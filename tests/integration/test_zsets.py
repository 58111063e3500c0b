#!/usr/bin/env python3
"""Sorted sets with redis-py: encodings and their conversions, keys on different shards,
replication to a replica, SAVE and restart, RDB exchanged with redis-server, bad input.
Byte-exact replies of every command against redis-server: test_differential.py (diff_zset)."""

import os
import shutil
import tempfile
import time
import unittest

import harness as h

redis = h.require_redis_py()


def contents(r, key):
    return r.zrange(key, 0, -1, withscores=True)


def wait_for(fn, what, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if fn():
                return
        except redis.exceptions.BusyLoadingError:
            pass  # a replica answers LOADING while its full sync loads
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


class Encodings(h.ServerTestCase):

    def test_listpack_until_entries_then_skiplist_for_good(self):
        r = self.r
        r.zadd("z", {"m%d" % i: i for i in range(128)})
        self.assertEqual(r.object("encoding", "z"), b"listpack")
        r.zadd("z", {"extra": 0.5})
        self.assertEqual(r.object("encoding", "z"), b"skiplist")
        self.assertEqual(r.zcard("z"), 129)
        self.assertEqual(r.zrange("z", 0, 1), [b"m0", b"extra"])
        r.zremrangebyrank("z", 0, 120)
        self.assertEqual(r.zcard("z"), 8)
        self.assertEqual(r.object("encoding", "z"), b"skiplist")  # 7.0 never converts back

    def test_long_member_converts(self):
        r = self.r
        r.zadd("z", {"a": 1})
        r.zadd("z", {"x" * 64: 2})
        self.assertEqual(r.object("encoding", "z"), b"listpack")
        r.zadd("z", {"y" * 65: 3})
        self.assertEqual(r.object("encoding", "z"), b"skiplist")
        self.assertEqual(r.zscore("z", "y" * 65), 3.0)

    def test_parameters_and_store_destinations(self):
        r = self.r
        r.config_set("zset-max-listpack-entries", 4)
        try:
            r.zadd("big", {"m%d" % i: i for i in range(10)})
            self.assertEqual(r.object("encoding", "big"), b"skiplist")
            self.assertEqual(r.zrangestore("small", "big", 0, 2), 3)
            self.assertEqual(r.object("encoding", "small"), b"listpack")
            self.assertEqual(r.zunionstore("u", ["big", "small"]), 10)
            self.assertEqual(r.object("encoding", "u"), b"skiplist")
            self.assertEqual(r.zinterstore("i", ["big", "small"]), 3)
            self.assertEqual(r.object("encoding", "i"), b"listpack")
            self.assertEqual(contents(r, "i"), [(b"m0", 0.0), (b"m1", 2.0), (b"m2", 4.0)])
        finally:
            r.config_set("zset-max-listpack-entries", 128)

    def test_both_encodings_answer_alike(self):
        r = self.r
        members = {"m%03d" % i: (i * 7919) % 101 / 4 for i in range(200)}
        small = dict(list(members.items())[:100])
        r.zadd("big", members)
        r.zadd("small", small)
        r.zadd("big2", small)
        r.zadd("big2", {"x" * 100: 1000})
        r.zrem("big2", "x" * 100)
        self.assertEqual(r.object("encoding", "small"), b"listpack")
        self.assertEqual(r.object("encoding", "big2"), b"skiplist")
        for q in (lambda k: r.zrange(k, 0, -1, withscores=True),
                  lambda k: r.zrangebyscore(k, 3, 20, start=2, num=10, withscores=True),
                  lambda k: r.zrevrangebyscore(k, "(20", 3),
                  lambda k: r.zcount(k, "(5", 15),
                  lambda k: [r.zrank(k, m) for m in list(small)[:20]],
                  lambda k: [r.zrevrank(k, m) for m in list(small)[:20]]):
            self.assertEqual(q("small"), q("big2"))
        self.assertGreater(r.memory_usage("big"), r.memory_usage("small"))
        self.assertGreater(r.memory_usage("small"), 0)

    def test_wrongtype_both_ways(self):
        r = self.r
        r.set("s", "v")
        r.zadd("z", {"a": 1})
        for cmd in (["ZADD", "s", 1, "a"], ["ZRANGE", "s", 0, -1], ["ZSCORE", "s", "a"],
                    ["ZUNIONSTORE", "d", 2, "z", "s"], ["ZPOPMIN", "s"], ["ZSCAN", "s", 0],
                    ["ZMPOP", 1, "s", "MIN"]):
            with self.assertRaisesRegex(redis.ResponseError, "WRONGTYPE"):
                r.execute_command(*cmd)
        for cmd in (["GET", "z"], ["APPEND", "z", "x"], ["INCR", "z"], ["HSET", "z", "f", "v"]):
            with self.assertRaisesRegex(redis.ResponseError, "WRONGTYPE"):
                r.execute_command(*cmd)
        self.assertEqual(r.type("z"), b"zset")

    def test_bad_input(self):
        r = self.r
        r.zadd("z", {"a": 1, "b": 2})
        big = "9223372036854775807"
        self.assertEqual(r.execute_command("ZRANGE", "z", 0, big), [b"a", b"b"])
        self.assertEqual(r.execute_command("ZRANGE", "z", "-" + big, 0), [b"a"])
        self.assertEqual(r.execute_command("ZPOPMIN", "z", big), [b"a", b"1", b"b", b"2"])
        r.zadd("z", {"a": 1, "b": 2})
        with self.assertRaisesRegex(redis.ResponseError, "syntax error"):
            r.execute_command("ZUNION", big, "z")
        with self.assertRaisesRegex(redis.ResponseError, "syntax error"):
            r.execute_command("ZMPOP", big, "z", "MIN")
        with self.assertRaisesRegex(redis.ResponseError, "not a valid float"):
            r.execute_command("ZADD", "z", "nan", "a")
        r.execute_command("ZADD", "z", "inf", "a")
        with self.assertRaisesRegex(redis.ResponseError, "NaN"):
            r.execute_command("ZINCRBY", "z", "-inf", "a")
        self.assertEqual(r.zscore("z", "a"), float("inf"))
        with self.assertRaisesRegex(redis.ResponseError, "out of range"):
            r.execute_command("ZRANDMEMBER", "z", "-" + big, "WITHSCORES")
        self.assertEqual(len(r.execute_command("ZRANDMEMBER", "z", -1000)), 1000)
        self.assertEqual(r.ping(), True)


class Shards(h.ServerTestCase):
    """Keys on different shards (the meson run uses two workers)."""

    def test_multi_key_commands(self):
        r = self.r
        keys = ["a", "b", "c", "d", "e", "f"]
        for i, k in enumerate(keys):
            r.zadd(k, {"x": i, "y%d" % i: 1, "common": 2})
        self.assertEqual(r.zunionstore("dst", keys), 8)
        self.assertEqual(r.zscore("dst", "x"), 15.0)
        self.assertEqual(r.zscore("dst", "common"), 12.0)
        self.assertEqual(r.zinter(keys, withscores=True), [(b"common", 12.0), (b"x", 15.0)])
        self.assertEqual(r.zdiffstore("dd", ["a", "b"]), 1)
        self.assertEqual(r.zrange("dd", 0, -1), [b"y0"])
        self.assertEqual(r.zintercard(6, keys), 2)
        self.assertEqual(r.zrangestore("copy", "f", 0, -1), 3)
        self.assertEqual(contents(r, "copy"), contents(r, "f"))
        self.assertEqual(r.zmpop(3, ["nosuch", "c", "d"], min=True, count=2),
                         [b"c", [[b"y2", b"1"], [b"common", b"2"]]])


class Persistence(unittest.TestCase):

    def fill(self, r):
        r.zadd("small", {"a": 1.5, "b": -2, "c": 0.1, "12": 1e300, "d": float("inf")})
        r.zadd("big", {"m%d" % i: i / 3 for i in range(300)})
        r.zadd("long", {"x" * 100: 1})
        r.expire("small", 1000)

    def check(self, r):
        self.assertEqual(contents(r, "small"),
                         [(b"b", -2.0), (b"c", 0.1), (b"a", 1.5), (b"12", 1e300),
                          (b"d", float("inf"))])
        self.assertEqual(contents(r, "big"), [(b"m%d" % i, i / 3) for i in range(300)])
        self.assertEqual(r.object("encoding", "big"), b"skiplist")
        self.assertEqual(r.object("encoding", "small"), b"listpack")
        self.assertEqual(r.object("encoding", "long"), b"skiplist")
        self.assertGreater(r.ttl("small"), 0)

    def test_save_restart_and_redis_both_ways(self):
        work = tempfile.mkdtemp(prefix="pollux-zset-")
        self.addCleanup(shutil.rmtree, work, True)
        p = h.Server(workdir=work).start()
        try:
            r = p.redis()
            self.fill(r)
            r.save()
            r.close()
        finally:
            p.stop()
        p = h.Server(workdir=work).start()
        try:
            r = p.redis()
            self.check(r)
            r.close()
        finally:
            p.stop()
        # redis-server loads Pollux's dump, changes it, saves; Pollux loads that
        rs = h.Server(cmd=[h.Config.tool("redis-server"), "--save", "", "--appendonly", "no",
                           "--dbfilename", "dump.rdb", "--sanitize-dump-payload", "yes"],
                      workdir=work).start()
        try:
            rr = rs.redis()
            self.check(rr)
            rr.zadd("small", {"e": 7})
            rr.save()
            rr.close()
        finally:
            rs.stop()
        p = h.Server(workdir=work).start()
        try:
            r = p.redis()
            self.assertEqual(r.zscore("small", "e"), 7.0)
            self.assertEqual(contents(r, "big"), [(b"m%d" % i, i / 3) for i in range(300)])
            r.close()
        finally:
            p.stop()


class Replication(unittest.TestCase):

    def test_writes_reach_a_replica(self):
        p = h.Server().start()
        self.addCleanup(p.stop)
        rep = h.Server(args=["--replicaof", h.HOST, str(p.port)]).start()
        self.addCleanup(rep.stop)
        r, rr = p.redis(), rep.redis()
        self.addCleanup(r.close)
        self.addCleanup(rr.close)
        r.zadd("z", {"m%d" % i: i for i in range(200)})
        r.zincrby("z", 0.5, "m3")
        r.zadd("s", {"a": 1, "b": 2, "c": 3})
        r.execute_command("ZADD", "s", "INCR", "GT", 5, "a")
        r.zpopmin("z", 3)
        r.zmpop(2, ["nosuch", "s"], max=True, count=1)
        r.zremrangebyscore("z", 100, 150)
        r.zunionstore("u", ["z", "s"], aggregate="MAX")
        r.zrangestore("rs", "z", 0, 9)
        r.zrandmember("z", 5)
        keys = ["z", "s", "u", "rs"]
        wait_for(lambda: all(contents(rr, k) == contents(r, k) for k in keys),
                 "the replica to apply every write")
        self.assertEqual(contents(rr, "s"), [(b"b", 2.0), (b"c", 3.0)])  # a went up to 6, popped
        self.assertEqual(rr.object("encoding", "z"), b"skiplist")


if __name__ == "__main__":
    h.main(requires=("redis-server",))
