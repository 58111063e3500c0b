#!/usr/bin/env python3
"""String commands through redis-py (RESP2)."""

import time

import harness as h

redis = h.require_redis_py()

LLONG_MAX = 9223372036854775807
LLONG_MIN = -9223372036854775808
NOT_INT = "value is not an integer or out of range"
SYNTAX = "syntax error"


class Strings(h.ServerTestCase):

    def assertError(self, message, fn, *args, **kw):
        """fn must fail with exactly this error text (redis-py drops the
        leading 'ERR ')."""
        with self.assertRaises(redis.ResponseError) as cm:
            fn(*args, **kw)
        self.assertEqual(str(cm.exception), message)

    def cmd(self, *args):
        return self.r.execute_command(*args)

    def raw(self, *args):
        """The reply exactly as sent, without redis-py's conversions."""
        with self.server.raw() as c:
            return c.command(*args)

    # -- SET and its options ------------------------------------------------

    def test_set_get(self):
        r = self.r
        self.assertTrue(r.set("k", "v"))
        self.assertEqual(r.get("k"), b"v")
        self.assertIsNone(r.get("missing"))
        self.assertTrue(r.set("k", b"\x00\xff\r\n binary"))
        self.assertEqual(r.get("k"), b"\x00\xff\r\n binary")
        self.assertTrue(r.set("empty", ""))
        self.assertEqual(r.get("empty"), b"")
        self.assertEqual(r.exists("empty"), 1)
        self.assertTrue(r.set(b"\x00key\xff", "bin-key"))
        self.assertEqual(r.get(b"\x00key\xff"), b"bin-key")
        self.assertTrue(r.set("n", 12345))
        self.assertEqual(r.get("n"), b"12345")

    def test_set_ex_px(self):
        r = self.r
        self.assertTrue(r.set("k", "v", ex=100))
        self.assertIn(r.ttl("k"), (99, 100))
        self.assertTrue(r.set("k", "v", px=5200))
        self.assertTrue(4000 < r.pttl("k") <= 5200)
        self.assertEqual(r.ttl("k"), 5)
        self.assertTrue(r.set("k", "v"))
        self.assertEqual(r.ttl("k"), -1, "plain SET clears the TTL")

    def test_set_exat_pxat(self):
        r = self.r
        at = int(time.time()) + 1000
        self.assertTrue(r.set("k", "v", exat=at))
        self.assertEqual(r.expiretime("k"), at)
        self.assertIn(r.ttl("k"), (998, 999, 1000))
        pat = int(time.time() * 1000) + 2_000_200
        self.assertTrue(r.set("k", "v", pxat=pat))
        self.assertEqual(r.pexpiretime("k"), pat)
        self.assertIn(r.ttl("k"), (1998, 1999, 2000))

    def test_set_nx_xx(self):
        r = self.r
        self.assertIsNone(r.set("k", "v", xx=True))
        self.assertIsNone(r.get("k"))
        self.assertTrue(r.set("k", "v1", nx=True))
        self.assertIsNone(r.set("k", "v2", nx=True))
        self.assertEqual(r.get("k"), b"v1")
        self.assertTrue(r.set("k", "v3", xx=True))
        self.assertEqual(r.get("k"), b"v3")

    def test_set_keepttl(self):
        r = self.r
        r.set("k", "v", ex=1000)
        self.assertTrue(r.set("k", "v2", keepttl=True))
        self.assertGreater(r.ttl("k"), 990)
        self.assertEqual(r.get("k"), b"v2")
        self.assertTrue(r.set("k", "v3"))
        self.assertEqual(r.ttl("k"), -1)

    def test_set_get_option(self):
        r = self.r
        self.assertIsNone(r.set("k", "v1", get=True))
        self.assertEqual(r.get("k"), b"v1")
        self.assertEqual(r.set("k", "v2", get=True), b"v1")
        self.assertEqual(r.get("k"), b"v2")
        # With NX the old value comes back and nothing is written.
        self.assertEqual(r.set("k", "v3", nx=True, get=True), b"v2")
        self.assertEqual(r.get("k"), b"v2")
        self.assertIsNone(r.set("new", "x", xx=True, get=True))
        self.assertEqual(r.exists("new"), 0)

    def test_set_errors(self):
        s = self.cmd
        self.assertError("invalid expire time in 'set' command", s, "SET", "k", "v", "EX", "0")
        self.assertError("invalid expire time in 'set' command", s, "SET", "k", "v", "EX", "-5")
        self.assertError("invalid expire time in 'set' command", s, "SET", "k", "v", "PX", "0")
        self.assertError("invalid expire time in 'set' command", s,
                         "SET", "k", "v", "EX", str(LLONG_MAX))
        self.assertError(NOT_INT, s, "SET", "k", "v", "EX", "1.5")
        self.assertError(NOT_INT, s, "SET", "k", "v", "PX", "abc")
        self.assertError(SYNTAX, s, "SET", "k", "v", "NX", "XX")
        self.assertError(SYNTAX, s, "SET", "k", "v", "EX", "10", "PX", "100")
        self.assertError(SYNTAX, s, "SET", "k", "v", "KEEPTTL", "EX", "10")
        self.assertError(SYNTAX, s, "SET", "k", "v", "EX")
        self.assertError(SYNTAX, s, "SET", "k", "v", "BOGUS")
        self.assertError("wrong number of arguments for 'set' command", s, "SET", "k")
        self.assertEqual(self.r.exists("k"), 0, "failed SETs must not write")
        # Option names are case-insensitive.
        self.assertTrue(s("SET", "k", "v", "ex", "100", "nx"))
        self.assertGreater(self.r.ttl("k"), 0)

    def test_setnx_setex_psetex(self):
        r = self.r
        self.assertTrue(r.setnx("k", "1"))
        self.assertFalse(r.setnx("k", "2"))
        self.assertEqual(r.get("k"), b"1")
        self.assertTrue(r.setex("e", 100, "v"))
        self.assertIn(r.ttl("e"), (99, 100))
        self.assertTrue(r.psetex("p", 100500, "v"))
        self.assertTrue(99000 < r.pttl("p") <= 100500)
        self.assertError("invalid expire time in 'setex' command", self.cmd, "SETEX", "e", "0", "v")
        self.assertError("invalid expire time in 'psetex' command", self.cmd,
                         "PSETEX", "e", "-1", "v")
        self.assertError(NOT_INT, self.cmd, "SETEX", "e", "ten", "v")
        self.assertError("wrong number of arguments for 'setex' command", self.cmd,
                         "SETEX", "e", "1")

    # -- read-and-modify ------------------------------------------------------

    def test_getset_getdel(self):
        r = self.r
        self.assertIsNone(r.getset("k", "1"))
        self.assertEqual(r.getset("k", "2"), b"1")
        r.expire("k", 100)
        self.assertEqual(r.getset("k", "3"), b"2")
        self.assertEqual(r.ttl("k"), -1, "GETSET discards the TTL")
        self.assertEqual(r.getdel("k"), b"3")
        self.assertEqual(r.exists("k"), 0)
        self.assertIsNone(r.getdel("k"))

    def test_getex(self):
        r = self.r
        self.assertIsNone(r.getex("missing", ex=10))
        self.assertEqual(r.exists("missing"), 0)
        r.set("k", "v")
        self.assertEqual(r.getex("k"), b"v")
        self.assertEqual(r.ttl("k"), -1)
        self.assertEqual(r.getex("k", ex=100), b"v")
        self.assertIn(r.ttl("k"), (99, 100))
        self.assertEqual(r.getex("k", px=200200), b"v")
        self.assertIn(r.ttl("k"), (199, 200))
        at = int(time.time()) + 3000
        self.assertEqual(r.getex("k", exat=at), b"v")
        self.assertEqual(r.expiretime("k"), at)
        pat = int(time.time() * 1000) + 4_000_123
        self.assertEqual(r.getex("k", pxat=pat), b"v")
        self.assertEqual(r.pexpiretime("k"), pat)
        self.assertEqual(r.getex("k", persist=True), b"v")
        self.assertEqual(r.ttl("k"), -1)
        self.assertError(SYNTAX, self.cmd, "GETEX", "k", "EX", "10", "PERSIST")
        self.assertError(SYNTAX, self.cmd, "GETEX", "k", "EX", "10", "PX", "10")
        self.assertError(SYNTAX, self.cmd, "GETEX", "k", "BOGUS")
        self.assertError("invalid expire time in 'getex' command", self.cmd,
                         "GETEX", "k", "EX", "0")
        self.assertError(NOT_INT, self.cmd, "GETEX", "k", "PX", "x")
        # An absolute time in the past deletes the key but returns the value.
        self.assertEqual(r.getex("k", exat=int(time.time()) - 10), b"v")
        self.assertEqual(r.exists("k"), 0)

    def test_mget_mset_msetnx(self):
        r = self.r
        self.assertTrue(r.mset({"a": "1", "b": "2", "c": "3"}))
        self.assertEqual(r.mget("a", "b", "missing", "c"), [b"1", b"2", None, b"3"])
        self.assertTrue(r.mset({"a": "x", "a2": "y"}))
        self.assertEqual(r.mget("a", "a2"), [b"x", b"y"])
        self.assertFalse(r.msetnx({"new1": "1", "a": "z"}), "one key exists: nothing is set")
        self.assertEqual(r.mget("new1", "a"), [None, b"x"])
        self.assertTrue(r.msetnx({"new1": "1", "new2": "2"}))
        self.assertEqual(r.mget("new1", "new2"), [b"1", b"2"])
        # Same key twice: the last value wins.
        self.assertTrue(self.cmd("MSET", "d", "1", "d", "2"))
        self.assertEqual(r.get("d"), b"2")
        self.assertError("wrong number of arguments for 'mset' command", self.cmd,
                         "MSET", "a", "1", "b")
        self.assertError("wrong number of arguments for 'msetnx' command", self.cmd, "MSETNX", "a")
        self.assertError("wrong number of arguments for 'mget' command", self.cmd, "MGET")

    def test_append_strlen(self):
        r = self.r
        self.assertEqual(r.append("k", "Hello"), 5)
        self.assertEqual(r.append("k", " World"), 11)
        self.assertEqual(r.get("k"), b"Hello World")
        self.assertEqual(r.strlen("k"), 11)
        self.assertEqual(r.strlen("missing"), 0)
        r.set("n", 100)
        self.assertEqual(r.append("n", "5"), 4)
        self.assertEqual(r.incr("n"), 1006)
        self.assertEqual(r.strlen("n"), 4)
        self.assertEqual(r.append("k", ""), 11)

    # -- counters -------------------------------------------------------------

    def test_incr_decr(self):
        r = self.r
        self.assertEqual(r.incr("c"), 1)
        self.assertEqual(r.incrby("c", 10), 11)
        self.assertEqual(r.decr("c"), 10)
        self.assertEqual(r.decrby("c", 20), -10)
        self.assertEqual(r.incrby("c", -5), -15)
        self.assertEqual(r.get("c"), b"-15")
        r.set("c", " 1")
        self.assertError(NOT_INT, r.incr, "c")
        for bad in ("abc", "1.5", "01", "", "1 ", "+1", "9223372036854775808"):
            r.set("c", bad)
            self.assertError(NOT_INT, r.incr, "c")
        self.assertError(NOT_INT, self.cmd, "INCRBY", "x", "1.0")
        self.assertError(NOT_INT, self.cmd, "DECRBY", "x", "a")
        self.assertEqual(r.exists("x"), 0)

    def test_incr_overflow(self):
        r = self.r
        r.set("c", LLONG_MAX - 1)
        self.assertEqual(r.incr("c"), LLONG_MAX)
        self.assertError("increment or decrement would overflow", r.incr, "c")
        self.assertEqual(r.get("c"), str(LLONG_MAX).encode())
        r.set("c", LLONG_MIN)
        self.assertError("increment or decrement would overflow", r.decr, "c")
        self.assertError("increment or decrement would overflow", r.incrby, "c", -1)
        r.set("c", 0)
        self.assertError("decrement would overflow", r.decrby, "c", LLONG_MIN)
        self.assertEqual(r.decrby("c", -LLONG_MAX), LLONG_MAX)

    def test_incrbyfloat(self):
        r = self.r
        r.set("f", "10.50")
        self.assertEqual(r.incrbyfloat("f", 0.1), 10.6)
        self.assertEqual(r.get("f"), b"10.6")
        self.assertEqual(self.raw("INCRBYFLOAT", "f", "-5"), b"5.6")
        r.set("f", "5.0e3")
        self.assertEqual(self.raw("INCRBYFLOAT", "f", "2.0e2"), b"5200")
        self.assertEqual(self.raw("INCRBYFLOAT", "new", "3"), b"3")
        self.assertEqual(self.raw("INCRBYFLOAT", "new", "-3"), b"0")
        self.assertEqual(self.raw("INCRBYFLOAT", "new", "1e-5"), b"0.00001")
        self.assertError("value is not a valid float", self.cmd, "INCRBYFLOAT", "new", "abc")
        self.assertError("increment would produce NaN or Infinity", self.cmd,
                         "INCRBYFLOAT", "new", "inf")
        r.set("s", "not a float")
        self.assertError("value is not a valid float", self.cmd, "INCRBYFLOAT", "s", "1")
        r.set("i", 7)
        self.assertEqual(self.raw("INCRBYFLOAT", "i", "0.5"), b"7.5")
        self.assertEqual(r.ttl("i"), -1)
        r.expire("i", 100)
        self.cmd("INCRBYFLOAT", "i", "1")
        self.assertGreater(r.ttl("i"), 0, "INCRBYFLOAT keeps the TTL")

    # -- ranges ---------------------------------------------------------------

    def test_getrange_substr(self):
        r = self.r
        r.set("k", "This is a string")
        self.assertEqual(r.getrange("k", 0, 3), b"This")
        self.assertEqual(r.getrange("k", -3, -1), b"ing")
        self.assertEqual(r.getrange("k", 0, -1), b"This is a string")
        self.assertEqual(r.getrange("k", 10, 100), b"string")
        self.assertEqual(r.getrange("k", 5, 3), b"")
        self.assertEqual(r.getrange("k", -100, 3), b"This")
        self.assertEqual(r.getrange("k", 100, 200), b"")
        self.assertEqual(r.getrange("missing", 0, -1), b"")
        self.assertEqual(self.cmd("SUBSTR", "k", "0", "3"), b"This")
        self.assertEqual(self.cmd("SUBSTR", "k", "-6", "-1"), b"string")
        self.assertError(NOT_INT, self.cmd, "GETRANGE", "k", "a", "1")
        r.set("n", 12345)
        self.assertEqual(r.getrange("n", 1, 2), b"23")

    def test_setrange(self):
        r = self.r
        r.set("k", "Hello World")
        self.assertEqual(r.setrange("k", 6, "Redis"), 11)
        self.assertEqual(r.get("k"), b"Hello Redis")
        self.assertEqual(r.setrange("pad", 6, "Redis"), 11)
        self.assertEqual(r.get("pad"), b"\x00" * 6 + b"Redis")
        self.assertEqual(r.setrange("k", 11, "!"), 12)
        self.assertEqual(r.get("k"), b"Hello Redis!")
        self.assertEqual(r.setrange("nokey", 5, ""), 0)
        self.assertEqual(r.exists("nokey"), 0, "empty SETRANGE does not create the key")
        self.assertEqual(r.setrange("k", 100, ""), 12, "empty value leaves the string")
        self.assertError("offset is out of range", self.cmd, "SETRANGE", "k", "-1", "x")
        self.assertError("string exceeds maximum allowed size (proto-max-bulk-len)", self.cmd,
                         "SETRANGE", "k", str(512 * 1024 * 1024), "x")
        r.set("n", 12345)
        self.assertEqual(r.setrange("n", 1, "9"), 5)
        self.assertEqual(r.get("n"), b"19345")

    def test_arity_errors(self):
        for cmd, args in (("get", []), ("set", ["k"]), ("getset", ["k"]), ("getdel", []),
                          ("append", ["k"]), ("strlen", []), ("incr", []), ("incrby", ["k"]),
                          ("decrby", ["k"]), ("incrbyfloat", ["k"]), ("getrange", ["k", "0"]),
                          ("setrange", ["k", "0"]), ("substr", ["k"]), ("setnx", ["k"]),
                          ("psetex", ["k", "1"]), ("getex", [])):
            self.assertError(f"wrong number of arguments for '{cmd}' command",
                             self.cmd, cmd.upper(), *args)


class Lcs(h.ServerTestCase):
    """LCS, with redis-server 7.0 as the reference where a reply is compared."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ref = h.Server(cmd=[h.Config.tool("redis-server"), "--save", "",
                                "--appendonly", "no"]).start()
        cls.rr = cls.ref.redis()

    @classmethod
    def tearDownClass(cls):
        cls.rr.close()
        cls.ref.stop()
        super().tearDownClass()

    def both(self, *args):
        """The raw replies of the server under test and of redis-server."""
        with self.server.raw() as a, self.ref.raw() as b:
            return a.command(*args), b.command(*args)

    def test_documented_example(self):
        self.r.mset({"key1": "ohmytext", "key2": "mynewtext"})
        self.assertEqual(self.r.execute_command("LCS", "key1", "key2"), b"mytext")
        self.assertEqual(self.r.execute_command("LCS", "key1", "key2", "LEN"), 6)
        self.assertEqual(self.r.execute_command("LCS", "key1", "key2", "IDX"),
                         [b"matches", [[[4, 7], [5, 8]], [[2, 3], [0, 1]]], b"len", 6])
        self.assertEqual(self.r.execute_command("LCS", "key1", "key2", "IDX", "MINMATCHLEN",
                                                "4", "WITHMATCHLEN"),
                         [b"matches", [[[4, 7], [5, 8], 4]], b"len", 6])

    def test_keys_on_every_shard(self):
        """Pairs of keys spread over the shards: the same answers as redis-server."""
        words = [b"", b"a", b"abcdefgh", b"hgfedcba", b"xaxbxcxd" * 20, b"\x00\xff\x00",
                 b"1234567890", b"13579"]
        for i, w in enumerate(words):
            for r in (self.r, self.rr):
                r.set(f"w{i}", w)
        for i in range(len(words)):
            for j in range(len(words)):
                for opts in ([], ["LEN"], ["IDX", "WITHMATCHLEN"], ["IDX", "MINMATCHLEN", "2"]):
                    with self.subTest(i=i, j=j, opts=opts):
                        got, want = self.both("LCS", f"w{i}", f"w{j}", *opts)
                        self.assertEqual(got, want)

    def test_errors(self):
        for r in (self.r, self.rr):
            r.set("s", "abc")
            r.hset("h", "f", "v")
        for args in (("s", "h"), ("h", "nokey"), ("s", "s", "LEN", "IDX"),
                     ("s", "s", "MINMATCHLEN"), ("s", "s", "MINMATCHLEN", "x"), ("s", "s", "x"),
                     ("s",)):
            with self.subTest(args=args):
                got, want = self.both("LCS", *args)
                self.assertEqual(got, want)
                self.assertIsInstance(got, h.ErrorReply)

    def test_table_bounded_by_proto_max_bulk_len(self):
        """The transient table ((len1 + 1) * (len2 + 1) * 4 bytes) may not pass
        proto-max-bulk-len: Redis's error, and the server serves on."""
        for r in (self.r, self.rr):
            r.config_set("proto-max-bulk-len", 1024 * 1024)
            r.set("a", "ab" * 300)
            r.set("b", "ba" * 300)
            r.set("c", "ab" * 200)
            r.set("d", "ba" * 200)
        try:
            got, want = self.both("LCS", "a", "b", "LEN")
            self.assertEqual(got, want)
            self.assertEqual(got, h.ErrorReply(b"ERR Insufficient memory, transient memory for "
                                               b"LCS exceeds proto-max-bulk-len"))
            got, want = self.both("LCS", "c", "d", "LEN")  # 401 * 401 * 4 bytes fit
            self.assertEqual(got, want)
            self.assertEqual(got, 399)
        finally:
            for r in (self.r, self.rr):
                r.config_set("proto-max-bulk-len", 512 * 1024 * 1024)
        self.assertEqual(self.r.ping(), True)


if __name__ == "__main__":
    h.main()
