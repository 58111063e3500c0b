#!/usr/bin/env python3
"""Lazy free: UNLINK, FLUSHALL/FLUSHDB ASYNC and the lazyfree-lazy-* parameters (user-del,
user-flush, server-del, expire, eviction) free big hashes, sets, sorted sets and lists in steps
after the reply. Checked through INFO memory's lazyfree_pending_objects and lazyfreed_objects
and the memory coming back; the key is gone at once and the name free for a new value; a
replica applies UNLINK and FLUSHALL ASYNC. Passes against redis-server too."""

import time

import harness as h

redis = h.require_redis_py()

BIG = 100000


def workers():
    return [] if h.Config.server_is_redis() else ["--pollux-workers", "2"]


def fill(r, kind, key, n=BIG):
    p = r.pipeline(transaction=False)
    for i in range(0, n, 5000):
        names = [f"m{j}" for j in range(i, min(n, i + 5000))]
        if kind == "hash":
            p.hset(key, mapping={m: "v" for m in names})
        elif kind == "set":
            p.sadd(key, *names)
        elif kind == "zset":
            p.zadd(key, {m: j for j, m in enumerate(names)})
        else:
            p.rpush(key, *[f"item-{m:>24}" for m in names])
    p.execute()


def memory(r):
    return r.info("memory")


def settled(r, timeout=60):
    """Wait until nothing is pending; @return INFO memory then."""
    assert h.wait_until(lambda: memory(r)["lazyfree_pending_objects"] == 0, timeout, 0.01), \
        "lazy free to finish"
    return memory(r)


class LazyFree(h.ServerTestCase):
    def setUp(self):
        super().setUp()
        self.r.flushall("SYNC")
        for p in ("eviction", "expire", "server-del", "user-del", "user-flush"):
            self.r.config_set(f"lazyfree-lazy-{p}", "no")
        self.addCleanup(self.r.config_set, "maxmemory", 0)

    def freed(self):
        return settled(self.r)["lazyfreed_objects"]

    def test_unlink_every_type(self):
        for kind in ("hash", "set", "zset", "list"):
            with self.subTest(kind=kind):
                before = settled(self.r)
                fill(self.r, kind, "big")
                # the dataset's bytes (client buffers grown by the fill are not the value's)
                grown = memory(self.r)["used_memory_dataset"] - before["used_memory_dataset"]
                self.assertGreater(grown, BIG * 8)
                # UNLINK and INFO in one pipeline: the reply comes before the value is freed
                c = self.server.raw()
                c.send(h.encode_command("UNLINK", "big") + h.encode_command("INFO", "memory"))
                self.assertEqual(c.read_reply(), 1)
                info = h.parse_info(bytes(c.read_reply()))["memory"]
                c.close()
                self.assertEqual(info["lazyfree_pending_objects"], "1")
                self.assertEqual(self.r.exists("big"), 0)
                self.assertEqual(self.r.sadd("big", "new"), 1)  # the name is free at once
                after = settled(self.r)
                self.assertEqual(after["lazyfreed_objects"], before["lazyfreed_objects"] + 1)
                # the memory came back (all but a tenth of what the value took)
                self.assertLess(after["used_memory_dataset"] - before["used_memory_dataset"],
                                grown // 10)
                self.r.delete("big")

    def test_unlink_keys_of_both_shards(self):
        names, i = {}, 0
        while len(names) < 2:
            names.setdefault(h.key_slot(f"k{i}") % 2, f"k{i}")
            i += 1
        a, b = names[0], names[1]
        base = self.freed()
        fill(self.r, "set", a)
        fill(self.r, "hash", b)
        self.r.config_set("lazyfree-lazy-user-del", "yes")
        # one DEL over both shards (a transaction across them), then UNLINK the same way
        self.assertEqual(self.r.delete(a, b, "absent"), 2)
        self.assertEqual(self.freed(), base + 2)
        fill(self.r, "zset", a)
        fill(self.r, "list", b)
        self.assertEqual(self.r.unlink(b, a), 2)
        self.assertEqual(self.r.exists(a, b), 0)
        self.assertEqual(self.freed(), base + 4)

    def test_del_follows_lazyfree_lazy_user_del(self):
        base = self.freed()
        fill(self.r, "set", "s")
        self.assertEqual(self.r.delete("s"), 1)
        self.assertEqual(self.freed(), base)
        self.r.config_set("lazyfree-lazy-user-del", "yes")
        fill(self.r, "zset", "z")
        self.assertEqual(self.r.delete("z", "absent"), 1)
        self.assertEqual(self.freed(), base + 1)
        # small values are freed at once either way
        self.r.sadd("small", "a", "b")
        self.assertEqual(self.r.delete("small"), 1)
        self.assertEqual(self.r.unlink("small"), 0)
        self.assertEqual(self.freed(), base + 1)

    def test_flush_async_sync_and_lazyfree_lazy_user_flush(self):
        r = self.r
        base = self.freed()
        r.mset({f"k{i}": i for i in range(3000)})
        fill(r, "hash", "h")
        one = self.server.redis(db=1)
        self.addCleanup(one.close)
        one.mset({f"o{i}": i for i in range(500)})
        # FLUSHDB ASYNC: db 0 empty at once, db 1 untouched; every key counted once (the
        # big hash among them too)
        self.assertTrue(r.execute_command("FLUSHDB", "ASYNC"))
        self.assertEqual(r.dbsize(), 0)
        self.assertEqual(one.dbsize(), 500)
        r.set("fresh", "1")
        self.assertEqual(self.freed(), base + 3001)
        self.assertEqual(r.get("fresh"), b"1")
        # SYNC never lazily, even with lazyfree-lazy-user-flush
        r.config_set("lazyfree-lazy-user-flush", "yes")
        self.assertTrue(r.execute_command("FLUSHALL", "SYNC"))
        self.assertEqual(self.freed(), base + 3001)
        # no argument: as lazyfree-lazy-user-flush says
        one.mset({f"o{i}": i for i in range(500)})
        self.assertTrue(r.execute_command("FLUSHALL"))
        self.assertEqual(one.dbsize(), 0)
        self.assertEqual(self.freed(), base + 3501)
        r.config_set("lazyfree-lazy-user-flush", "no")
        one.mset({f"o{i}": i for i in range(500)})
        self.assertTrue(r.execute_command("FLUSHALL"))
        self.assertEqual(self.freed(), base + 3501)
        for bad in (("FLUSHALL", "LATER"), ("FLUSHDB", "ASYNC", "SYNC")):
            self.assertEqual(self.server.raw().command_raw(*bad), b"-ERR syntax error\r\n")

    def test_overwrite_follows_lazyfree_lazy_server_del(self):
        base = self.freed()
        fill(self.r, "hash", "h")
        self.r.set("h", "string now")
        self.assertEqual(self.freed(), base)
        self.r.config_set("lazyfree-lazy-server-del", "yes")
        fill(self.r, "list", "l")
        self.r.set("l", "string now")
        self.assertEqual(self.freed(), base + 1)
        self.assertEqual(self.r.get("l"), b"string now")

    def test_expiry_follows_lazyfree_lazy_expire(self):
        self.r.config_set("lazyfree-lazy-expire", "yes")
        base = self.freed()
        fill(self.r, "set", "s")
        self.r.pexpire("s", 1)
        self.assertTrue(h.wait_until(lambda: self.r.exists("s") == 0, 30, 0.01))
        self.assertEqual(self.freed(), base + 1)

    def test_eviction_follows_lazyfree_lazy_eviction(self):
        r = self.r
        r.config_set("lazyfree-lazy-eviction", "yes")
        r.config_set("maxmemory-policy", "allkeys-random")
        self.addCleanup(r.config_set, "maxmemory-policy", "noeviction")
        base = self.freed()
        start = memory(r)["used_memory"]
        fill(r, "set", "s0")
        per = memory(r)["used_memory"] - start
        limit = start + 3 * per
        r.config_set("maxmemory", limit)
        for i in range(1, 8):
            try:
                fill(r, "set", f"s{i}")
            except redis.exceptions.ResponseError as e:
                # redis-server may refuse a write while its lazy free catches up
                self.assertTrue("OOM command not allowed" in str(e), str(e)[-200:])
        info = settled(r)
        # big sets evicted were freed in steps (one caught half filled may be small enough
        # to go at once), the cache was not emptied for memory that was already on its way
        # back, and it ends under its limit
        evicted = r.info("stats")["evicted_keys"]
        self.assertGreater(evicted, 0)
        self.assertGreater(info["lazyfreed_objects"], base)
        self.assertLessEqual(info["lazyfreed_objects"], base + evicted)
        self.assertGreater(r.dbsize(), 0)
        self.assertTrue(h.wait_until(lambda: memory(r)["used_memory"] <= limit + per, 30, 0.01))
        self.assertEqual(r.ping(), True)


class Replica(h.ServerTestCase):
    def test_unlink_and_flushall_async_reach_a_replica(self):
        rep = h.Server(args=workers() + ["--replicaof", h.HOST, str(self.server.port)]).start()
        self.addCleanup(rep.stop)
        rr = rep.redis()
        self.addCleanup(rr.close)
        self.assertTrue(h.wait_until(lambda: h.replica_synced(rr), 30), "the replica to sync")
        fill(self.r, "zset", "z")
        self.r.set("k", "v")
        self.assertTrue(h.wait_until(lambda: rr.zcard("z") == BIG, 30, 0.01))
        base = settled(rr)["lazyfreed_objects"]
        self.assertEqual(self.r.unlink("z"), 1)
        self.assertTrue(h.wait_until(lambda: rr.exists("z") == 0, 30, 0.01))
        self.assertEqual(settled(rr)["lazyfreed_objects"], base + 1)
        self.assertTrue(self.r.execute_command("FLUSHALL", "ASYNC"))
        self.assertTrue(h.wait_until(lambda: rr.dbsize() == 0, 30, 0.01))
        self.assertEqual(settled(rr)["lazyfreed_objects"], base + 2)


if __name__ == "__main__":
    h.main(requires=("redis-server",))
