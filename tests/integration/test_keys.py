#!/usr/bin/env python3
"""Keyspace commands through redis-py (RESP2): deletion, TTLs, iteration,
renaming, copying, databases, OBJECT and MEMORY."""

import random
import time

import harness as h

redis = h.require_redis_py()

NOT_INT = "value is not an integer or out of range"


class Keys(h.ServerTestCase):

    def assertError(self, message, fn, *args, **kw):
        with self.assertRaises(redis.ResponseError) as cm:
            fn(*args, **kw)
        self.assertEqual(str(cm.exception), message)

    def cmd(self, *args):
        return self.r.execute_command(*args)

    def assertTtl(self, key, ms, since):
        """The key's TTL was set to `ms` by a command sent at time.monotonic() `since`: it
        has run down by at most the time since then, plus a second for TTL's rounding and
        the server's clock, which it reads once per loop pass."""
        pttl, ttl = self.r.pttl(key), self.r.ttl(key)
        lo = ms - (time.monotonic() - since) * 1000 - 1000
        self.assertTrue(lo <= pttl <= ms, f"PTTL {pttl} not in [{lo:.0f}, {ms}]")
        self.assertTrue((lo - 500) / 1000 <= ttl <= (ms + 500) // 1000,
                        f"TTL {ttl} for PTTL in [{lo:.0f}, {ms}]")

    def fill(self, keys, value="v", client=None):
        with (client or self.r).pipeline(transaction=False) as p:
            for k in keys:
                p.set(k, value)
            p.execute()

    # -- existence ------------------------------------------------------------

    def test_del_unlink_exists_touch_type(self):
        r = self.r
        r.mset({"a": 1, "b": 2, "c": 3, "d": 4})
        self.assertEqual(r.exists("a", "a", "missing", "b"), 3, "EXISTS counts repeats")
        self.assertEqual(r.delete("a", "missing", "b"), 2)
        self.assertEqual(r.exists("a", "b"), 0)
        self.assertEqual(r.unlink("c", "c", "missing"), 1)
        self.assertEqual(r.touch("d", "missing", "d"), 2)
        self.assertEqual(r.type("d"), b"string")
        self.assertEqual(r.type("missing"), b"none")
        self.assertEqual(r.delete("missing"), 0)
        self.assertEqual(r.dbsize(), 1)
        self.assertError("wrong number of arguments for 'del' command", self.cmd, "DEL")
        self.assertError("wrong number of arguments for 'exists' command", self.cmd, "EXISTS")

    # -- TTLs -----------------------------------------------------------------

    def test_ttl_pttl_persist(self):
        r = self.r
        self.assertEqual(r.ttl("missing"), -2)
        self.assertEqual(r.pttl("missing"), -2)
        r.set("k", "v")
        self.assertEqual(r.ttl("k"), -1)
        self.assertEqual(r.pttl("k"), -1)
        self.assertEqual(r.persist("k"), False)
        t = time.monotonic()
        self.assertTrue(r.expire("k", 100))
        self.assertTtl("k", 100000, t)
        t = time.monotonic()
        self.assertTrue(r.pexpire("k", 50200))
        self.assertTtl("k", 50200, t)
        self.assertEqual(r.persist("k"), True)
        self.assertEqual(r.ttl("k"), -1)
        self.assertEqual(r.persist("missing"), False)
        self.assertFalse(r.expire("missing", 100))
        self.assertFalse(r.pexpire("missing", 100))

    def test_expireat_and_expiretime(self):
        r = self.r
        r.set("k", "v")
        at = int(time.time()) + 5000
        self.assertTrue(r.expireat("k", at))
        self.assertEqual(r.expiretime("k"), at)
        self.assertEqual(r.pexpiretime("k"), at * 1000)
        pat = (int(time.time()) + 7000) * 1000 + 123
        self.assertTrue(r.pexpireat("k", pat))
        self.assertEqual(r.pexpiretime("k"), pat)
        self.assertEqual(r.expiretime("k"), pat // 1000)
        # EXPIRETIME rounds to the nearest second.
        self.assertTrue(r.pexpireat("k", pat + 600))
        self.assertEqual(r.expiretime("k"), pat // 1000 + 1)
        self.assertEqual(r.expiretime("missing"), -2)
        self.assertEqual(r.pexpiretime("missing"), -2)
        r.set("p", "v")
        self.assertEqual(r.expiretime("p"), -1)
        self.assertEqual(r.pexpiretime("p"), -1)
        # A time in the past deletes the key at once.
        self.assertTrue(r.expireat("p", int(time.time()) - 100))
        self.assertEqual(r.exists("p"), 0)

    def test_expire_non_positive_deletes(self):
        r = self.r
        r.mset({"a": 1, "b": 2, "c": 3})
        self.assertTrue(r.expire("a", 0))
        self.assertTrue(r.expire("b", -10))
        self.assertTrue(r.pexpire("c", -1))
        self.assertEqual(r.exists("a", "b", "c"), 0)
        self.assertEqual(r.dbsize(), 0)

    def test_expire_options(self):
        r = self.r
        r.set("k", "v")
        self.assertFalse(r.expire("k", 100, xx=True), "XX needs an existing TTL")
        self.assertFalse(r.expire("k", 100, gt=True), "no TTL counts as infinite for GT")
        self.assertEqual(r.ttl("k"), -1)
        t = time.monotonic()
        self.assertTrue(r.expire("k", 100, nx=True))
        self.assertFalse(r.expire("k", 200, nx=True))
        self.assertTtl("k", 100000, t)
        t = time.monotonic()
        self.assertTrue(r.expire("k", 200, xx=True))
        self.assertTtl("k", 200000, t)
        self.assertFalse(r.expire("k", 150, gt=True))
        self.assertTrue(r.expire("k", 300, gt=True))
        self.assertFalse(r.expire("k", 400, lt=True))
        t = time.monotonic()
        self.assertTrue(r.expire("k", 50, lt=True))
        self.assertTtl("k", 50000, t)
        r.set("p", "v")
        self.assertTrue(r.expire("p", 100, lt=True), "no TTL counts as infinite for LT")
        t = time.monotonic()
        self.assertTrue(self.cmd("EXPIRE", "k", "500", "XX", "GT"))
        self.assertTtl("k", 500000, t)
        self.assertTrue(self.cmd("PEXPIRE", "k", "10000", "lt"))
        at = int(time.time()) + 20000
        self.assertTrue(self.cmd("EXPIREAT", "k", str(at), "GT"))
        self.assertFalse(self.cmd("EXPIREAT", "k", str(at), "GT"), "equal is not greater")
        self.assertTrue(self.cmd("PEXPIREAT", "k", str(at * 1000 - 1), "LT"))
        incompatible = "NX and XX, GT or LT options at the same time are not compatible"
        self.assertError(incompatible, self.cmd, "EXPIRE", "k", "10", "NX", "XX")
        self.assertError(incompatible, self.cmd, "EXPIRE", "k", "10", "NX", "GT")
        self.assertError(incompatible, self.cmd, "PEXPIRE", "k", "10", "LT", "NX")
        self.assertError("GT and LT options at the same time are not compatible", self.cmd,
                         "EXPIRE", "k", "10", "GT", "LT")
        self.assertError("Unsupported option foo", self.cmd, "EXPIRE", "k", "10", "foo")
        self.assertError(NOT_INT, self.cmd, "EXPIRE", "k", "ten")
        self.assertError("invalid expire time in 'expire' command", self.cmd,
                         "EXPIRE", "k", "9223372036854775807")
        self.assertError("invalid expire time in 'expireat' command", self.cmd,
                         "EXPIREAT", "k", "9223372036854775807")
        self.assertError("invalid expire time in 'pexpire' command", self.cmd,
                         "PEXPIRE", "k", "9223372036854775807")
        self.assertError("invalid expire time in 'expire' command", self.cmd,
                         "EXPIRE", "k", "-9223372036854775808")
        self.assertGreater(r.pttl("k"), 0, "failed EXPIREs leave the TTL alone")

    # -- iteration ------------------------------------------------------------

    def test_keys_patterns(self):
        r = self.r
        names = ["hello", "hallo", "hxllo", "hllo", "heeeello", "hbllo", "h*llo", "other",
                 "h?llo", "x"]
        self.fill(names)
        def keys(p):
            return sorted(k.decode() for k in r.keys(p))
        self.assertEqual(keys("*"), sorted(names))
        self.assertEqual(keys("h?llo"), sorted(["hello", "hallo", "hxllo", "hbllo", "h*llo",
                                                "h?llo"]))
        self.assertEqual(keys("h*llo"), sorted(["hello", "hallo", "hxllo", "hllo", "heeeello",
                                                "hbllo", "h*llo", "h?llo"]))
        self.assertEqual(keys("h[ae]llo"), ["hallo", "hello"])
        self.assertEqual(keys("h[^e]llo"), sorted(["hallo", "hxllo", "hbllo", "h*llo", "h?llo"]))
        self.assertEqual(keys("h[a-b]llo"), ["hallo", "hbllo"])
        self.assertEqual(keys("h\\*llo"), ["h*llo"])
        self.assertEqual(keys("nothing*"), [])
        self.assertEqual(keys("x"), ["x"])

    def scan_all(self, client=None, **kw):
        client = client or self.r
        seen = []
        cursor = 0
        calls = 0
        while True:
            cursor, batch = client.scan(cursor, **kw)
            seen.extend(batch)
            calls += 1
            if cursor == 0:
                return seen, calls

    def test_scan(self):
        keys = {f"s:{i}".encode() for i in range(3000)} | {f"t:{i}".encode() for i in range(500)}
        self.fill(keys)
        seen, calls = self.scan_all(count=50)
        self.assertEqual(set(seen), keys)
        self.assertGreater(calls, 10, "COUNT 50 over 3500 keys takes many calls")
        seen, _ = self.scan_all(match="t:*", count=100)
        self.assertEqual(set(seen), {k for k in keys if k.startswith(b"t:")})
        seen, _ = self.scan_all(count=1000, _type="string")
        self.assertEqual(set(seen), keys)
        seen, _ = self.scan_all(count=1000, _type="list")
        self.assertEqual(seen, [])
        self.assertError("invalid cursor", self.cmd, "SCAN", "abc")
        self.assertError("syntax error", self.cmd, "SCAN", "0", "BOGUS", "1")
        self.assertError(NOT_INT, self.cmd, "SCAN", "0", "COUNT", "x")
        self.assertError("syntax error", self.cmd, "SCAN", "0", "COUNT", "0")
        cursor, batch = self.r.scan(0, match="nothing*")
        self.assertIsInstance(cursor, int)
        self.assertEqual(self.r.scan(0), self.r.scan(0), "SCAN from 0 is repeatable on a static db")

    def test_scan_small_keyspace_in_one_call(self):
        """As in Redis, a keyspace no larger than COUNT comes back from SCAN 0
        in one call with cursor 0, however its keys spread over shards."""
        keys = {f"small:{i}".encode() for i in range(10)}
        self.fill(keys)
        shards = {h.key_slot(k) % 2 for k in keys}
        self.assertEqual(shards, {0, 1}, "the keys land on both shards of two workers")
        cursor, batch = self.r.scan(0)
        self.assertEqual((cursor, sorted(batch)), (0, sorted(keys)))
        cursor, batch = self.r.scan(0, match="*", count=100)
        self.assertEqual((cursor, sorted(batch)), (0, sorted(keys)))
        cursor, batch = self.r.scan(0, match="small:1*")
        self.assertEqual((cursor, batch), (0, [b"small:1"]))

    def test_scan_during_growth(self):
        """Every key present for the whole scan is returned while another
        connection inserts 50k keys, which makes the table grow several times
        in the middle of the iteration."""
        base = {f"base:{i}".encode() for i in range(5000)}
        self.fill(base)
        writer = self.server.raw()
        reader = self.server.redis()
        inserted = 0
        full_scans = 0
        while True:
            seen = set()
            cursor = 0
            started_during_growth = inserted < 50000
            while True:
                cursor, batch = reader.scan(cursor, count=20 if inserted < 50000 else 500)
                seen.update(batch)
                if inserted < 50000:
                    # Between two SCAN calls, 250 more keys from the other
                    # connection.
                    writer.send(b"".join(h.encode_command("SET", f"new:{i}", "x")
                                         for i in range(inserted, inserted + 250)))
                    for _ in range(250):
                        self.assertEqual(writer.read_reply(), b"OK")
                    inserted += 250
                if cursor == 0:
                    break
            full_scans += 1
            missing = base - seen
            self.assertEqual(len(missing), 0,
                             f"scan {full_scans}: {len(missing)} keys never returned, e.g. "
                             f"{sorted(missing)[:5]}")
            if not started_during_growth:
                break
        writer.close()
        reader.close()
        self.assertGreaterEqual(full_scans, 2)
        self.assertEqual(self.r.dbsize(), 55000)
        after, _ = self.scan_all(count=500)
        self.assertEqual(set(after), base | {f"new:{i}".encode() for i in range(50000)})

    def test_randomkey(self):
        r = self.r
        self.assertIsNone(r.randomkey())
        keys = {f"r:{i}".encode() for i in range(50)}
        self.fill(keys)
        got = {r.randomkey() for _ in range(200)}
        self.assertTrue(got <= keys)
        self.assertGreater(len(got), 1)

    # -- rename and copy ------------------------------------------------------

    def test_rename(self):
        r = self.r
        r.set("a", "1", ex=100)
        at = r.pexpiretime("a")
        self.assertGreater(at, 0)
        self.assertTrue(r.rename("a", "b"))
        self.assertEqual(r.exists("a"), 0)
        self.assertEqual(r.get("b"), b"1")
        self.assertEqual(r.pexpiretime("b"), at, "RENAME moves the TTL")
        r.set("c", "old", ex=100)
        self.assertTrue(r.rename("b", "c"))
        self.assertEqual(r.get("c"), b"1")
        self.assertTrue(r.rename("c", "c"))
        self.assertEqual(r.get("c"), b"1")
        self.assertError("no such key", r.rename, "missing", "x")
        self.assertError("no such key", r.rename, "missing", "missing")
        r.set("d", "2")
        self.assertFalse(r.renamenx("c", "d"))
        self.assertEqual(r.mget("c", "d"), [b"1", b"2"])
        self.assertTrue(r.renamenx("c", "e"))
        self.assertEqual(r.mget("c", "e"), [None, b"1"])
        self.assertFalse(r.renamenx("e", "e"))
        self.assertError("no such key", r.renamenx, "missing", "x")
        r.set("f", "3")
        self.assertTrue(r.rename("f", "d"))
        self.assertEqual(r.ttl("d"), -1, "the destination's TTL is replaced")

    def test_copy(self):
        r = self.r
        r.set("src", "v", ex=100)
        self.assertTrue(r.copy("src", "dst"))
        self.assertEqual(r.mget("src", "dst"), [b"v", b"v"])
        at = r.pexpiretime("src")
        self.assertGreater(at, 0)
        self.assertEqual(r.pexpiretime("dst"), at, "COPY copies the TTL")
        r.set("src", "w")
        self.assertEqual(r.get("dst"), b"v", "a copy, not an alias")
        self.assertFalse(r.copy("src", "dst"))
        self.assertTrue(r.copy("src", "dst", replace=True))
        self.assertEqual(r.get("dst"), b"w")
        self.assertEqual(r.ttl("dst"), -1)
        self.assertFalse(r.copy("missing", "x"))
        self.assertTrue(r.copy("src", "other", destination_db=3))
        self.assertEqual(r.exists("other"), 0)
        r3 = self.server.redis(db=3)
        self.assertEqual(r3.get("other"), b"w")
        self.assertFalse(r.copy("src", "other", destination_db=3))
        self.assertTrue(r.copy("src", "src", destination_db=3, replace=True))
        self.assertEqual(r3.get("src"), b"w")
        r3.close()
        self.assertError("source and destination objects are the same", r.copy, "src", "src")
        self.assertError("DB index is out of range", self.cmd, "COPY", "src", "x", "DB", "100000")
        self.assertError("syntax error", self.cmd, "COPY", "src", "x", "BOGUS")

    # -- databases ------------------------------------------------------------

    def test_dbsize_flushdb_flushall(self):
        r = self.r
        r0, r1 = r, self.server.redis(db=1)
        self.fill([f"a{i}" for i in range(100)])
        self.fill([f"b{i}" for i in range(10)], client=r1)
        self.assertEqual((r0.dbsize(), r1.dbsize()), (100, 10))
        self.assertTrue(r1.flushdb())
        self.assertEqual((r0.dbsize(), r1.dbsize()), (100, 0))
        self.fill([f"b{i}" for i in range(10)], client=r1)
        self.assertTrue(r0.flushall())
        self.assertEqual((r0.dbsize(), r1.dbsize()), (0, 0))
        for mode in ("SYNC", "ASYNC"):
            self.fill([f"a{i}" for i in range(1000)])
            self.fill([f"b{i}" for i in range(10)], client=r1)
            self.assertTrue(self.cmd("FLUSHALL", mode))
            self.assertEqual((r0.dbsize(), r1.dbsize()), (0, 0), mode)
            self.assertIsNone(r0.get("a1"))
            self.fill([f"a{i}" for i in range(100)])
            self.assertTrue(self.cmd("FLUSHDB", mode))
            self.assertEqual(r0.dbsize(), 0)
        self.assertError("syntax error", self.cmd, "FLUSHALL", "BOGUS")
        r1.close()

    def test_select_move_swapdb(self):
        c = self.server.raw()
        self.assertEqual(c.command("SELECT", "2"), b"OK")
        self.assertEqual(c.command("SET", "k", "in2"), b"OK")
        self.assertEqual(c.command("SELECT", "0"), b"OK")
        self.assertIsNone(c.command("GET", "k"))
        self.assertEqual(c.command("SELECT", "100000"), b"ERR DB index is out of range")
        self.assertEqual(c.command("SELECT", "x"), b"ERR " + NOT_INT.encode())
        self.assertEqual(c.command("SELECT", "-1"), b"ERR DB index is out of range")
        c.close()
        r = self.r
        r2 = self.server.redis(db=2)
        r.set("m", "v", ex=100)
        self.assertTrue(r.move("m", 2))
        self.assertEqual(r.exists("m"), 0)
        self.assertEqual(r2.get("m"), b"v")
        self.assertGreater(r2.ttl("m"), 0, "MOVE keeps the TTL")
        r.set("m", "again")
        self.assertFalse(r.move("m", 2), "target exists")
        self.assertEqual(r.get("m"), b"again")
        self.assertFalse(r.move("missing", 2))
        self.assertError("source and destination objects are the same", r.move, "m", 0)
        self.assertError("DB index is out of range", r.move, "m", 100000)
        # SWAPDB exchanges whole databases, visible to connected clients.
        self.assertTrue(r.swapdb(0, 2))
        self.assertEqual(r.get("k"), b"in2")
        self.assertEqual(r.get("m"), b"v")
        self.assertEqual(r2.get("m"), b"again")
        self.assertTrue(r.swapdb(0, 0))
        self.assertError("invalid first DB index", self.cmd, "SWAPDB", "x", "1")
        self.assertError("invalid second DB index", self.cmd, "SWAPDB", "1", "x")
        self.assertError("DB index is out of range", self.cmd, "SWAPDB", "0", "100000")
        r2.close()

    # -- OBJECT and MEMORY ----------------------------------------------------

    def test_object_encoding(self):
        r = self.r
        r.set("i", "12345")
        r.set("neg", "-7")
        r.set("short", "hello")
        r.set("edge", "x" * 44)
        r.set("long", "x" * 45)
        r.set("lead0", "0123")
        self.assertEqual(r.object("encoding", "i"), b"int")
        self.assertEqual(r.object("encoding", "neg"), b"int")
        self.assertEqual(r.object("encoding", "short"), b"embstr")
        self.assertEqual(r.object("encoding", "edge"), b"embstr")
        self.assertEqual(r.object("encoding", "long"), b"raw")
        self.assertEqual(r.object("encoding", "lead0"), b"embstr")
        r.append("short", "!")
        self.assertEqual(r.object("encoding", "short"), b"raw")
        self.assertIsNone(r.object("encoding", "missing"))
        self.assertError("unknown subcommand 'bogus'. Try OBJECT HELP.", self.cmd,
                         "OBJECT", "bogus", "i")

    def test_object_idletime_freq(self):
        r = self.r
        # The idle time counts whole seconds of the server's clock, so it may read one
        # more than the seconds that passed between two commands.
        t = time.monotonic()
        r.set("k", "v")
        r.set("idle", "v")
        self.assertLessEqual(r.object("idletime", "k"), int(time.monotonic() - t + 0.5) + 1)
        time.sleep(2.1)  # not a wait for readiness: the idle time must grow this much
        self.assertGreaterEqual(r.object("idletime", "idle"), 2)
        t = time.monotonic()
        r.get("idle")
        self.assertLessEqual(r.object("idletime", "idle"), int(time.monotonic() - t + 0.5) + 1,
                             "an access resets the idle time")
        self.assertIsNone(r.object("idletime", "missing"))
        self.assertError("An LFU maxmemory policy is not selected, access frequency not tracked. "
                         "Please note that when switching between policies at runtime LRU and "
                         "LFU data will take some time to adjust.",
                         r.object, "freq", "k")
        try:
            r.config_set("maxmemory-policy", "allkeys-lfu")
            r.set("f", "v")
            before = r.object("freq", "f")
            self.assertGreaterEqual(before, 0)
            for _ in range(200):
                r.get("f")
            self.assertGreater(r.object("freq", "f"), before)
            self.assertIsNone(r.object("freq", "missing"))
            # Redis's own wording, "LFU" included.
            self.assertError("An LFU maxmemory policy is selected, idle time not tracked. "
                             "Please note that when switching between policies at runtime LRU "
                             "and LFU data will take some time to adjust.",
                             r.object, "idletime", "f")
        finally:
            r.config_set("maxmemory-policy", "noeviction")

    def test_memory_usage(self):
        r = self.r
        r.set("small", "x")
        r.set("big", "x" * 10000)
        small = r.memory_usage("small")
        big = r.memory_usage("big")
        self.assertGreater(small, 0)
        self.assertGreaterEqual(big, 10000)
        self.assertLess(big, 20000)
        self.assertGreater(big, small)
        self.assertIsNone(r.memory_usage("missing"))
        self.assertEqual(self.cmd("MEMORY", "USAGE", "big", "SAMPLES", "0"), big)


if __name__ == "__main__":
    random.seed(1)
    h.main()
