#!/usr/bin/env python3
"""Lists: both encodings (a pack inline in the entry, a chunked list past one node's
list-max-listpack-size) and the conversions between them, OBJECT ENCODING, multi-key
commands across shards, replication to a replica of the server under test, SAVE and restart,
a dump loaded by redis-server and one of redis-server's loaded back, bad input, MEMORY USAGE.
Byte-exact replies for every command are test_differential.py's job (diff_list.py)."""

import os
import shutil
import tempfile

import harness as h

redis = h.require_redis_py()

REDIS_SERVER = os.environ.get("REDIS_SERVER", "redis-server")
RANK_ZERO = ("RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
             "or use negative to start from the end of the list")


def idle_args():
    return [] if h.Config.server_is_redis() else ["--pollux-idle-sleep-us", "200"]


def workers():
    return [] if h.Config.server_is_redis() else ["--pollux-workers", "2"]


def lists_of(srv, keys):
    r = srv.redis()
    try:
        return {k: (r.type(k), r.lrange(k, 0, -1), r.pttl(k) > 0) for k in keys}
    finally:
        r.close()


def link_up(srv):
    with srv.raw() as c:
        return h.info_fields(c, "replication").get("master_link_status") == "up"


def fill(r, key, n, width=10):
    p = r.pipeline(transaction=False)
    for i in range(0, n, 100):
        p.rpush(key, *[(b"%d:" % j).ljust(width, b"x") for j in range(i, min(n, i + 100))])
    p.execute()


class Lists(h.ServerTestCase):
    SERVER_ARGS = ["--save", ""] + workers() + idle_args()

    def test_grow_and_shrink_keep_contents(self):
        # 2000 elements of 10 bytes: about 3 nodes of 8 KB at list-max-listpack-size -2
        r = self.r
        fill(r, "l", 2000)
        want = [(b"%d:" % j).ljust(10, b"x") for j in range(2000)]
        self.assertEqual(r.lrange("l", 0, -1), want)
        self.assertEqual(r.object("encoding", "l"), b"quicklist")
        big = r.memory_usage("l")
        self.assertGreater(big, 20000)
        self.assertEqual(r.lindex("l", 1500), want[1500])
        self.assertEqual(r.lindex("l", -1), want[-1])
        r.lset("l", 1000, "mid")
        want[1000] = b"mid"
        self.assertEqual(r.linsert("l", "BEFORE", "mid", "pre"), 2001)
        want.insert(1000, b"pre")
        self.assertEqual(r.lrange("l", 995, 1005), want[995:1006])
        self.assertEqual(r.lrem("l", 0, "pre"), 1)
        want.remove(b"pre")
        self.assertEqual(r.lpos("l", "mid"), 1000)
        # down to a few elements: back to a pack, far smaller
        self.assertTrue(r.ltrim("l", 10, 14))
        self.assertEqual(r.lrange("l", 0, -1), want[10:15])
        self.assertEqual(r.object("encoding", "l"), b"quicklist")
        small = r.memory_usage("l")
        self.assertGreater(small, 0)
        self.assertLess(small, 200)
        # and up again by pushes at the head
        p = r.pipeline(transaction=False)
        for i in range(1500):
            p.lpush("l", "h%d" % i)
        p.execute()
        self.assertEqual(r.llen("l"), 1505)
        self.assertEqual(r.lrange("l", 0, 1), [b"h1499", b"h1498"])
        self.assertEqual(r.lrange("l", -5, -1), want[10:15])
        self.assertGreater(r.memory_usage("l"), 5000)

    def test_one_big_element(self):
        r = self.r
        r.rpush("l", "a", "x" * 100000, "b")
        self.assertEqual(r.lrange("l", 0, -1), [b"a", b"x" * 100000, b"b"])
        self.assertEqual(r.lpop("l", 2), [b"a", b"x" * 100000])
        self.assertEqual(r.lrange("l", 0, -1), [b"b"])
        self.assertLess(r.memory_usage("l"), 200)

    def test_pops_empty_the_key(self):
        r = self.r
        fill(r, "l", 1000)
        self.assertEqual(len(r.rpop("l", 999)), 999)
        self.assertEqual(r.lpop("l"), b"0:xxxxxxxx")
        self.assertEqual(r.exists("l"), 0)
        fill(r, "l", 1000)
        self.assertEqual(r.lrem("l", 0, (b"5:").ljust(10, b"x")), 1)
        self.assertTrue(r.ltrim("l", 1, 0))
        self.assertEqual(r.exists("l"), 0)

    def test_rotation_of_one_and_many(self):
        r = self.r
        r.rpush("one", "x")
        self.assertEqual(r.lmove("one", "one", "LEFT", "RIGHT"), b"x")
        self.assertEqual(r.lrange("one", 0, -1), [b"x"])
        fill(r, "l", 1000)
        for _ in range(3):
            r.rpoplpush("l", "l")
        self.assertEqual(r.lindex("l", 0), b"997:xxxxxx")
        self.assertEqual(r.llen("l"), 1000)

    def test_multi_key_across_shards(self):
        r = self.r
        src, dst, third = h.keys_by_shard("mk", 3)
        fill(r, src, 700)
        for i in range(700):
            self.assertIsNotNone(r.lmove(src, dst, "LEFT", "RIGHT"))
        self.assertEqual(r.exists(src), 0)
        self.assertEqual(r.llen(dst), 700)
        self.assertEqual(r.lindex(dst, 0), b"0:xxxxxxxx")
        self.assertEqual(r.rpoplpush(dst, third), b"699:xxxxxx")
        got = r.execute_command("LMPOP", 3, src, third, dst, "RIGHT", "COUNT", 5)
        self.assertEqual(got, [third.encode(), [b"699:xxxxxx"]])
        got = r.execute_command("LMPOP", 3, src, third, dst, "LEFT", "COUNT", 2)
        self.assertEqual(got, [dst.encode(), [b"0:xxxxxxxx", b"1:xxxxxxxx"]])
        self.assertIsNone(r.execute_command("LMPOP", 2, src, third, "LEFT"))

    def test_copy_rename_move_both_encodings(self):
        r = self.r
        a, b, c = h.keys_by_shard("cr", 3)
        for n in (5, 2000):
            r.delete(a, b, c)
            fill(r, a, n)
            want = r.lrange(a, 0, -1)
            self.assertTrue(r.copy(a, b))
            self.assertEqual(r.lrange(b, 0, -1), want)
            r.rpush(b, "only-b")
            self.assertEqual(r.lrange(a, 0, -1), want)
            self.assertTrue(r.rename(a, c))
            self.assertEqual(r.lrange(c, 0, -1), want)
            self.assertTrue(r.move(c, 1))
            r.execute_command("SELECT", 1)
            self.assertEqual(r.lrange(c, 0, -1), want)
            self.assertGreater(r.memory_usage(c), n * 10)
            r.delete(c)
            r.execute_command("SELECT", 0)
            self.assertEqual(r.lrange(b, 0, -1), want + [b"only-b"])

    def test_wrong_types(self):
        r = self.r
        r.set("s", "v")
        r.hset("h", "f", "v")
        r.rpush("l", "a")
        for key in ("s", "h"):
            for cmd in (["LPUSH", key, "x"], ["RPUSHX", key, "x"], ["LPOP", key],
                        ["RPOP", key, "2"], ["LLEN", key], ["LINDEX", key, "0"],
                        ["LSET", key, "0", "x"], ["LRANGE", key, "0", "-1"],
                        ["LTRIM", key, "0", "1"], ["LREM", key, "0", "x"],
                        ["LINSERT", key, "BEFORE", "a", "b"], ["LPOS", key, "a"],
                        ["LMOVE", key, "l", "LEFT", "LEFT"], ["LMOVE", "l", key, "LEFT", "LEFT"],
                        ["RPOPLPUSH", "l", key], ["LMPOP", "2", "nokey", key, "LEFT"]):
                with self.subTest(cmd=cmd):
                    with self.assertRaisesRegex(redis.ResponseError, "^WRONGTYPE"):
                        r.execute_command(*cmd)
        self.assertEqual(r.lrange("l", 0, -1), [b"a"])
        for cmd in (["GET", "l"], ["APPEND", "l", "x"], ["INCR", "l"], ["HGET", "l", "f"],
                    ["STRLEN", "l"], ["GETRANGE", "l", "0", "1"]):
            with self.subTest(cmd=cmd):
                with self.assertRaisesRegex(redis.ResponseError, "^WRONGTYPE"):
                    r.execute_command(*cmd)
        self.assertEqual(r.type("l"), b"list")

    def test_bad_input(self):
        r = self.r
        fill(r, "l", 10)
        cases = [
            (["LPOP", "l", "-1"], "value is out of range, must be positive"),
            (["LPOP", "l", "abc"], "value is out of range, must be positive"),
            (["LSET", "nokey", "0", "x"], "no such key"),
            (["LSET", "l", "10", "x"], "index out of range"),
            (["LSET", "l", "-9223372036854775808", "x"], "index out of range"),
            (["LSET", "l", "9223372036854775808", "x"], "value is not an integer or out of range"),
            (["LPOS", "l", "a", "RANK", "0"], RANK_ZERO),
            (["LPOS", "l", "a", "COUNT", "-1"], "COUNT can't be negative"),
            (["LPOS", "l", "a", "MAXLEN", "-1"], "MAXLEN can't be negative"),
            (["LINSERT", "l", "MIDDLE", "a", "b"], "syntax error"),
            (["LMPOP", "0", "l", "LEFT"], "numkeys should be greater than 0"),
            (["LMPOP", "9223372036854775807", "l", "LEFT"], "syntax error"),
            (["LMPOP", "1", "l", "LEFT", "COUNT", "0"], "count should be greater than 0"),
            (["LMOVE", "l", "m", "UP", "LEFT"], "syntax error"),
        ]
        for cmd, err in cases:
            with self.subTest(cmd=cmd):
                with self.assertRaises(redis.ResponseError) as ctx:
                    r.execute_command(*cmd)
                self.assertEqual(str(ctx.exception), err)
        # huge counts and indexes are answered, not allocated for
        self.assertEqual(len(r.lpop("l", 9223372036854775807)), 10)
        fill(r, "l", 10)
        self.assertEqual(r.lrange("l", -9223372036854775808, 9223372036854775807),
                         r.lrange("l", 0, -1))
        self.assertEqual(r.lpos("l", "nothing", count=0, maxlen=9223372036854775807), [])
        self.assertEqual(r.lpos("l", "0:xxxxxxxx", rank=-9223372036854775808), 0)
        self.assertEqual(r.lrem("l", -9223372036854775808, "1:xxxxxxxx"), 1)
        self.assertEqual(r.llen("l"), 9)

    def test_small_node_setting(self):
        r = self.r
        r.config_set("list-max-listpack-size", "3")
        try:
            r.rpush("l", *range(10))
            self.assertEqual(r.lrange("l", 0, -1), [b"%d" % i for i in range(10)])
            self.assertEqual(r.linsert("l", "AFTER", "4", "x"), 11)
            self.assertEqual(r.lrange("l", 3, 6), [b"3", b"4", b"x", b"5"])
            self.assertEqual(r.lrem("l", 0, "x"), 1)
            self.assertTrue(r.ltrim("l", 0, 0))
            self.assertEqual(r.lrange("l", 0, -1), [b"0"])
        finally:
            r.config_set("list-max-listpack-size", "-2")


class Compressed(h.ServerTestCase):
    """list-compress-depth: the nodes inside the depth at each end are kept LZF-compressed.
    Less memory, the same replies to every command, and the same contents through DUMP and
    RESTORE and a replica's full sync (a snapshot reading compressed nodes)."""
    SERVER_ARGS = ["--save", "", "--repl-diskless-sync-delay", "0"] + workers() + idle_args()

    def setUp(self):
        super().setUp()
        self.addCleanup(self.r.config_set, "list-compress-depth", "0")

    def twin(self, n=20000):
        """'plain' uncompressed and 'z' compressed (depth 1), the same n elements."""
        r = self.r
        fill(r, "plain", n)
        r.config_set("list-compress-depth", "1")
        fill(r, "z", n)

    def test_less_memory_same_contents(self):
        r = self.r
        self.twin()
        self.assertEqual(r.config_get("list-compress-depth"), {"list-compress-depth": "1"})
        self.assertLess(r.memory_usage("z", samples=0), r.memory_usage("plain", samples=0) * 0.7)
        self.assertEqual(r.lrange("z", 0, -1), r.lrange("plain", 0, -1))
        for i in (0, 1, 500, 9999, 10000, -1, -2, -700, -19999):
            self.assertEqual(r.lindex("z", i), r.lindex("plain", i))
        self.assertEqual(r.lrange("z", 7000, 7100), r.lrange("plain", 7000, 7100))
        self.assertEqual(r.lrange("z", -9000, -8950), r.lrange("plain", -9000, -8950))

    def test_writes_in_the_middle(self):
        r = self.r
        self.twin()
        for k in ("plain", "z"):
            r.lset(k, 9000, "set")
            r.linsert(k, "BEFORE", "12000:xxxx", "before")
            r.linsert(k, "AFTER", "4000:xxxxx", "x" * 3000)
            r.lrem(k, 0, "15000:xxxx")
            r.lpush(k, *range(50))
            r.rpop(k, 70)
            r.ltrim(k, 300, -400)
            r.lmove(k, k, "LEFT", "RIGHT")
            self.assertEqual(r.lpos(k, "set"), r.lpos("plain", "set"))
        self.assertEqual(r.lrange("z", 0, -1), r.lrange("plain", 0, -1))
        self.assertLess(r.memory_usage("z", samples=0), r.memory_usage("plain", samples=0) * 0.7)
        # popped down to a few elements from both ends, then to nothing
        for k in ("plain", "z"):
            while r.llen(k) > 5:
                r.lpop(k, 997)
                r.rpop(k, 1003)
        self.assertEqual(r.lrange("z", 0, -1), r.lrange("plain", 0, -1))
        r.delete("z")
        self.assertEqual(r.exists("z"), 0)

    def test_dump_restore_and_sort(self):
        r = self.r
        self.twin(5000)
        r.restore("copy", 0, r.dump("z"))
        self.assertEqual(r.lrange("copy", 0, -1), r.lrange("plain", 0, -1))
        self.assertEqual(r.sort("z", alpha=True, start=100, num=50),
                         r.sort("plain", alpha=True, start=100, num=50))
        self.assertTrue(r.copy("z", "copy2"))
        self.assertEqual(r.lrange("copy2", 0, -1), r.lrange("plain", 0, -1))

    def test_full_sync_reads_compressed_nodes(self):
        r = self.r
        self.twin()
        want = r.lrange("z", 0, -1)
        rep = h.Server(args=["--save", "", "--replicaof", h.HOST, str(self.server.port)]
                       + workers() + idle_args()).start()
        try:
            self.assertTrue(h.wait_until(lambda: link_up(rep), 30), rep.log_tail())
            rr = rep.redis()
            self.assertTrue(h.wait_until(lambda: rr.llen("z") == len(want), 30))
            self.assertEqual(rr.lrange("z", 0, -1), want)
            rr.close()
        finally:
            rep.stop()


class Persistence(h.unittest.TestCase):
    """SAVE and restart; redis-server loading the dump, and Pollux loading redis-server's."""

    KEYS = ["small", "ints", "big", "mixed"]

    def populate(self, r):
        r.rpush("small", "a", "b", "", "c")
        r.rpush("ints", 1, -2, 300, 70000, 2 ** 40, -(2 ** 63), 2 ** 63 - 1, "010", "+1")
        fill(r, "big", 3000)
        r.rpush("mixed", *(["x" * 5000, "y"] * 20))
        r.expire("big", 10000)

    def test_round_trips(self):
        d = tempfile.mkdtemp(prefix="pollux-it-lists-")
        try:
            s = h.Server(args=["--save", ""] + workers() + idle_args(), workdir=d).start()
            try:
                self.populate(s.redis())
                want = lists_of(s, self.KEYS)
                self.assertEqual(len(want["big"][1]), 3000)
                self.assertTrue(s.redis().save())
            finally:
                s.stop()
            s = h.Server(args=["--save", ""] + workers() + idle_args(), workdir=d).start()
            try:
                self.assertEqual(lists_of(s, self.KEYS), want, "after restart")
            finally:
                s.stop()
            rs = h.Server(args=["--save", "", "--appendonly", "no", "--sanitize-dump-payload",
                                "yes"], cmd=[REDIS_SERVER], workdir=d).start()
            try:
                self.assertEqual(lists_of(rs, self.KEYS), want, "redis-server loading our dump")
                r = rs.redis()
                r.rpush("from-redis", *range(100))
                fill(r, "big-from-redis", 2000, width=30)
                want.update(lists_of(rs, ["from-redis", "big-from-redis"]))
                self.assertTrue(r.save())
                r.close()
            finally:
                rs.stop()
            s = h.Server(args=["--save", ""] + workers() + idle_args(), workdir=d).start()
            try:
                self.assertEqual(lists_of(s, list(want)), want, "redis-server's dump loaded")
            finally:
                s.stop()
        finally:
            shutil.rmtree(d, ignore_errors=True)


class Replication(h.unittest.TestCase):
    """Every list write reaches a replica of the server under test as the same contents."""

    def test_writes_reach_the_replica(self):
        p = h.Server(args=["--save", "", "--repl-diskless-sync-delay", "0"] + workers()
                     + idle_args()).start()
        try:
            w = p.redis()
            rep = h.Server(args=["--save", "", "--repl-diskless-sync-delay", "0",
                                 "--replicaof", h.HOST, str(p.port)] + workers()
                           + idle_args()).start()
            try:
                rr = rep.redis()
                self.assertTrue(h.wait_until(lambda: link_up(rep), 30), rep.log_tail())
                # the stream only: a Pollux replica's full sync loads strings alone so far
                fill(w, "pre", 1500)
                keys = h.keys_by_shard("rl", 4)
                for i, k in enumerate(keys):
                    w.rpush(k, *range(i * 10, i * 10 + 50))
                    w.lpush(k, "head%d" % i)
                w.lpop(keys[0], 3)
                w.rpop(keys[1])
                w.lset(keys[2], 5, "set")
                w.linsert(keys[2], "AFTER", "set", "after")
                w.lrem(keys[3], -1, 40)
                w.ltrim(keys[3], 2, -3)
                w.lmove(keys[0], keys[1], "RIGHT", "LEFT")
                w.rpoplpush(keys[2], keys[3])
                w.execute_command("LMPOP", 2, "absent", keys[1], "LEFT", "COUNT", 4)
                w.lpushx(keys[0], "x")
                w.rpushx("absent", "x")
                w.lpop("pre", 700)
                w.lmove("pre", "pre", "LEFT", "RIGHT")
                all_keys = keys + ["pre", "absent"]
                want = lists_of(p, all_keys)
                self.assertTrue(h.wait_until(lambda: lists_of(rep, all_keys) == want, 30),
                                (want, lists_of(rep, all_keys)))
                rr.close()
            finally:
                rep.stop()
            w.close()
        finally:
            p.stop()


if __name__ == "__main__":
    h.main()
