#!/usr/bin/env python3
"""Collections across the node: every stored type (hashes; lists, sets and sorted sets as
they land) in both encodings, through SAVE and a restart, a full sync and the stream to a
Pollux replica, a full sync from a Redis 7.0 primary into Pollux and from Pollux into a
Redis 7.0 replica, each compared key by key (type, content, absolute expiry) with
harness.keyspace; keys spread over every shard (2 workers) and several databases.
"""
import tempfile

import harness as h
import test_replication as tr

redis = h.require_redis_py()


def fill(w, tag):
    """Collections of every stored type, small and big, some with TTLs, in databases 0 and 3."""
    for db in (0, 3):
        w.execute_command("SELECT", db)
        for i, k in enumerate(h.keys_by_shard(f"{tag}:h", 6)):
            w.hset(k, mapping={f"f{j}": f"v{j}" for j in range(3 + i)})
        w.hset(f"{tag}:hbig", mapping={f"f{j}": j for j in range(600)})
        w.hset(f"{tag}:hlong", "f", "x" * 100)
        w.hset(f"{tag}:hint", mapping={"1": "2", "-5": "9223372036854775807", "x": "3.5"})
        w.hset(f"{tag}:httl", "a", "b")
        w.pexpire(f"{tag}:httl", 500_000)
        w.hset(f"{tag}:hbigttl", mapping={f"f{j}": "v" for j in range(700)})
        w.expire(f"{tag}:hbigttl", 900)
    w.execute_command("SELECT", 0)


def stream_writes(w, tag):
    """Writes after a sync: every command that changes a hash, and conversions."""
    w.hset(f"{tag}:hs", "a", "1")
    w.hincrby(f"{tag}:hs", "n", 5)
    w.hincrbyfloat(f"{tag}:hs", "f", "1.25")
    w.hsetnx(f"{tag}:hs", "a", "no")
    w.hdel(f"{tag}:hbig", "f1", "f2")
    w.hset(f"{tag}:hconv", mapping={f"k{j}": "v" for j in range(520)})
    w.hset(f"{tag}:hconv2", "a", "y" * 65)
    w.rename(f"{tag}:hlong", f"{tag}:hlong2")
    w.copy(f"{tag}:hbig", f"{tag}:hbigcopy")
    w.delete(f"{tag}:hint")


def same(a, b):
    return h.keyspace_diff(h.keyspace(a), h.keyspace(b))


def pollux(d):
    """A node with two workers whose dump lives in d (kept across restarts)."""
    return tr.node(["--pollux-workers", "2", "--dbfilename", "dump.rdb"], workdir=d)


class Persistence(h.unittest.TestCase):
    def test_save_and_restart(self):
        with tempfile.TemporaryDirectory() as d:
            srv = pollux(d)
            try:
                w = srv.redis()
                fill(w, "p")
                want = h.keyspace(srv)
                self.assertEqual(w.object("encoding", "p:hbig"), b"hashtable")
                self.assertEqual(w.object("encoding", "p:hlong"), b"hashtable")
                self.assertEqual(w.object("encoding", "p:hint"), b"listpack")
                self.assertTrue(w.save())
                w.close()
            finally:
                srv.stop()
            srv = pollux(d)
            try:
                self.assertEqual(h.keyspace_diff(want, h.keyspace(srv)), "")
                r = srv.redis()
                self.assertEqual(r.object("encoding", "p:hbig"), b"hashtable")
                self.assertEqual(r.object("encoding", "p:hint"), b"listpack")
                r.close()
            finally:
                srv.stop()

    def test_redis_loads_our_dump_and_we_load_its(self):
        with tempfile.TemporaryDirectory() as d:
            srv = pollux(d)
            try:
                w = srv.redis()
                fill(w, "x")
                want = h.keyspace(srv)
                self.assertTrue(w.save())
                w.close()
            finally:
                srv.stop()
            ref = h.Server(cmd=[h.Config.tool("redis-server"), "--save", "", "--appendonly",
                                "no", "--dbfilename", "dump.rdb",
                                "--sanitize-dump-payload", "yes"], workdir=d).start()
            try:
                self.assertEqual(h.keyspace_diff(want, h.keyspace(ref)), "", "redis-server")
                rr = ref.redis()
                rr.hset("fromredis", mapping={f"f{j}": j for j in range(1000)})
                rr.hset("fromredis:small", "a", "b")
                want = h.keyspace(ref)
                self.assertTrue(rr.save())
                rr.close()
            finally:
                ref.stop()
            srv = pollux(d)
            try:
                self.assertEqual(h.keyspace_diff(want, h.keyspace(srv)), "", "loaded back")
            finally:
                srv.stop()


class Replication(h.unittest.TestCase):
    def sync_and_stream(self, tag, redis_primary=False, redis_replica=False):
        """A primary filled with collections, a replica started after: the same keyspace
        after the full sync and after more writes on the stream. @return the replica."""
        workers = ["--pollux-workers", "2"]
        primary = tr.node([] if redis_primary else workers, redis_peer=redis_primary)
        self.addCleanup(primary.stop)
        w = primary.redis()
        self.addCleanup(w.close)
        fill(w, tag)
        replica = tr.node(([] if redis_replica else workers) +
                          ["--replicaof", h.HOST, str(primary.port)], redis_peer=redis_replica)
        self.addCleanup(replica.stop)
        tr.wait_online(primary, [replica])
        self.assertEqual(same(primary, replica), "", "after the full sync")
        stream_writes(w, tag)
        tr.wait_offset(primary, replica)
        self.assertEqual(same(primary, replica), "", "after the stream")
        return replica

    def test_pollux_to_pollux(self):
        replica = self.sync_and_stream("a")
        r = replica.redis()
        self.assertEqual(r.object("encoding", "a:hconv"), b"hashtable")
        self.assertEqual(r.object("encoding", "a:hs"), b"listpack")
        r.close()

    def test_redis_primary_to_pollux(self):
        self.sync_and_stream("b", redis_primary=True)

    def test_pollux_primary_to_redis(self):
        self.sync_and_stream("c", redis_replica=True)


class Eviction(h.ServerTestCase):
    """Collections count in maxmemory, whatever their encoding: big ones through their member
    stores, so eviction keeps memory bounded and frees them whole."""

    def fill_until_evicted(self, policy, ttl):
        r = self.r
        r.flushall()
        base = r.info("memory")["used_memory"]
        maxmemory = base + 8 * 1024 * 1024
        r.config_set("maxmemory", maxmemory)
        r.config_set("maxmemory-policy", policy)
        r.config_resetstat()
        try:
            for i in range(150):
                with r.pipeline(transaction=False) as p:
                    # a big hash (~150 KB) and ten small ones per round: ~3x the budget
                    p.hset(f"big:{i}", mapping={f"field:{j}": "v" * 20 for j in range(2000)})
                    for j in range(10):
                        p.hset(f"small:{i}:{j}", mapping={"a": i, "b": "x" * 30})
                    if ttl:
                        p.expire(f"big:{i}", 1000 + i)
                        for j in range(10):
                            p.expire(f"small:{i}:{j}", 1000 + i)
                    p.execute()
            mem = r.info("memory")
            stats = r.info("stats")
            self.assertGreater(stats["evicted_keys"], 0)
            self.assertLessEqual(mem["used_memory"], maxmemory * 1.05, mem)
            # what is left is whole: every big hash still there has all its fields
            for k in r.scan_iter("big:*"):
                self.assertEqual(r.hlen(k), 2000, k)
                self.assertEqual(r.object("encoding", k), b"hashtable")
            return stats["evicted_keys"]
        finally:
            r.config_set("maxmemory", 0)
            r.config_set("maxmemory-policy", "noeviction")

    def test_allkeys_lru(self):
        self.fill_until_evicted("allkeys-lru", ttl=False)

    def test_allkeys_lfu(self):
        self.fill_until_evicted("allkeys-lfu", ttl=False)

    def test_volatile_ttl(self):
        self.fill_until_evicted("volatile-ttl", ttl=True)

    def test_freed_memory_returns(self):
        # the dataset's size (the stores' accounting; the client's buffers aside)
        r = self.r
        r.flushall()
        base = r.info("memory")["used_memory_dataset"]
        r.hset("h", mapping={f"f{j}": "v" * 50 for j in range(50000)})
        grown = r.info("memory")["used_memory_dataset"] - base
        self.assertGreater(grown, 50000 * 50)
        self.assertGreater(r.memory_usage("h"), 50000 * 50)
        self.assertLess(r.memory_usage("h"), grown * 1.1)
        r.copy("h", "h2")
        # a copy owns its own fields (its table may be sized tighter than the grown one)
        self.assertGreater(r.info("memory")["used_memory_dataset"] - base, grown * 1.8)
        r.delete("h", "h2")
        self.assertEqual(r.info("memory")["used_memory_dataset"], base)


class Sort(h.unittest.TestCase):
    """SORT and SORT_RO reply for reply as redis-server's: every source type, BY and GET
    patterns naming keys of every shard (string keys and hash fields), LIMIT, ASC/DESC,
    ALPHA, STORE, and the errors."""

    @classmethod
    def setUpClass(cls):
        cls.ref = h.Server(cmd=[h.Config.tool("redis-server"), "--save", "",
                                "--appendonly", "no"]).start()
        cls.sut = tr.node(["--pollux-workers", "2"])

    @classmethod
    def tearDownClass(cls):
        cls.sut.stop()
        cls.ref.stop()

    SETUP = [
        ["RPUSH", "l", "3", "1", "10", "2", "-5", "2.5"],
        ["RPUSH", "la", "banana", "apple", "cherry", "apple"],
        ["SADD", "s", "5", "3", "9", "1"],
        ["SADD", "sa", "x", "b", "a", "y"],
        ["ZADD", "z", "1", "c", "2", "a", "3", "b"],
        ["RPUSH", "lbad", "1", "x"],
    ] + [["SET", f"w_{v}", str(w)] for v, w in
         (("3", 30), ("1", 10), ("10", 5), ("2", 20), ("-5", 1), ("a", 9), ("b", 1), ("c", 5))] + [
        ["HSET", f"h_{v}", "f", str(w), "name", f"n{v}"] for v, w in
        (("3", 1), ("1", 3), ("10", 2), ("2", 5), ("a", 7), ("b", 8), ("c", 9))]

    CASES = [
        ["SORT", "l"], ["SORT", "l", "DESC"], ["SORT", "l", "LIMIT", "1", "3"],
        ["SORT", "l", "LIMIT", "-1", "2"], ["SORT", "l", "LIMIT", "10", "2"],
        ["SORT", "l", "LIMIT", "0", "-1"], ["SORT", "la", "ALPHA"], ["SORT", "la", "ALPHA", "DESC"],
        ["SORT", "la"], ["SORT", "lbad"], ["SORT", "lbad", "ALPHA"],
        ["SORT", "s"], ["SORT", "s", "DESC", "LIMIT", "0", "2"], ["SORT", "sa", "ALPHA"],
        ["SORT", "z"], ["SORT", "z", "ALPHA"], ["SORT", "z", "BY", "nosort"],
        ["SORT", "z", "BY", "nosort", "DESC"], ["SORT", "z", "BY", "nosort", "LIMIT", "1", "1"],
        ["SORT", "l", "BY", "nosort"], ["SORT", "l", "BY", "nosort", "DESC", "LIMIT", "1", "2"],
        ["SORT", "l", "BY", "w_*"], ["SORT", "l", "BY", "w_*", "DESC"],
        ["SORT", "l", "BY", "h_*->f"], ["SORT", "z", "BY", "w_*", "GET", "#", "GET", "w_*"],
        ["SORT", "l", "GET", "h_*->name", "GET", "#", "GET", "nostar", "GET", "h_*->missing"],
        ["SORT", "l", "BY", "w_*", "GET", "h_*->f", "LIMIT", "0", "3"],
        ["SORT", "sa", "BY", "w_*", "GET", "#"], ["SORT", "missing"],
        ["SORT", "missing", "STORE", "dst0"], ["EXISTS", "dst0"],
        ["SORT", "l", "STORE", "dst1"], ["LRANGE", "dst1", "0", "-1"],
        ["SORT", "sa", "BY", "nosort", "STORE", "dst2"], ["LRANGE", "dst2", "0", "-1"],
        ["SORT", "l", "BY", "w_*", "GET", "h_*->name", "STORE", "dst3"],
        ["LRANGE", "dst3", "0", "-1"], ["OBJECT", "ENCODING", "dst3"],
        ["SORT_RO", "l", "BY", "w_*"], ["SORT_RO", "l", "STORE", "x"],
        ["SORT", "h_1"], ["SORT", "w_1"], ["SORT", "l", "LIMIT", "a", "1"], ["SORT", "l", "BOGUS"],
        ["SORT", "l", "LIMIT", "1"], ["SORT", "l", "BY"],
        ["COMMAND", "GETKEYS", "SORT", "l", "BY", "w_*", "STORE", "d", "LIMIT", "0", "1"],
        ["SORT", "missing", "STORE", "dst1"], ["EXISTS", "dst1"],
    ]

    def test_against_redis(self):
        for proto in (2, 3):
            ref, sut = self.ref.raw(), self.sut.raw()
            self.addCleanup(ref.close)
            self.addCleanup(sut.close)
            for c in (ref, sut):
                c.command("FLUSHALL")
                if proto == 3:
                    c.command("HELLO", "3")
                for cmd in self.SETUP:
                    c.command(*cmd)
            for cmd in self.CASES:
                with self.subTest(proto=proto, cmd=cmd):
                    ref.command(*cmd)
                    sut.command(*cmd)
                    self.assertEqual(sut.last_raw, ref.last_raw)

    def test_by_and_get_need_every_key(self):
        """BY with a pattern and GET read keys no key spec names: refused to a user who may not
        read every key, as redis-server refuses them."""
        users = {"some": ["~l*", "~w_*", "+@all"], "reader": ["%R~*", "+@all"],
                 "writer": ["%W~*", "~l*", "+@all"], "selector": ["~l*", "+@all", "(~* +@all)"]}
        # a source on each shard: one command runs where the client is, one is forwarded
        other = next(f"l{i}" for i in range(1, 100) if h.key_slot(f"l{i}") % 2 !=
                     h.key_slot("l") % 2)
        cases = []
        for src in ("l", other):
            cases += [["SORT", src, "BY", "w_*"], ["SORT", src, "BY", "nosort"],
                      ["SORT", src, "GET", "#"], ["SORT_RO", src, "BY", "w_*", "GET", "w_*"],
                      ["SORT", src, "BY", "w_*", "STORE", "l2"], ["SORT", src]]
        for srv in (self.ref, self.sut):
            with srv.raw() as c:
                c.command("FLUSHALL")
                for cmd in self.SETUP:
                    c.command(*cmd)
                c.command("RPUSH", other, "3", "1", "2")
                for name, rules in users.items():
                    c.command("ACL", "SETUSER", name, "reset", "on", ">pw", *rules)
        for name in users:
            ref, sut = self.ref.raw(auth=False), self.sut.raw(auth=False)
            self.addCleanup(ref.close)
            self.addCleanup(sut.close)
            for c in (ref, sut):
                self.assertEqual(c.command_raw("AUTH", name, "pw"), b"+OK\r\n")
            for cmd in cases:
                with self.subTest(user=name, cmd=cmd):
                    self.assertEqual(sut.command_raw(*cmd), ref.command_raw(*cmd))
        with self.sut.raw(auth=False) as c:
            c.command("AUTH", "some", "pw")
            self.assertEqual(c.command_raw("SORT", "l", "GET", "#"),
                             b"-ERR GET option of SORT denied due to insufficient ACL "
                             b"permissions.\r\n")


if __name__ == "__main__":
    h.main(requires=["redis-server"])
