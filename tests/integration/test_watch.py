#!/usr/bin/env python3
"""WATCH and UNWATCH: EXEC runs only when no watched key changed since WATCH. Every kind of
write from another client (or the same one), on the client's shard and on another; writes
that change nothing; expiry (before and after WATCH), eviction, FLUSHALL, FLUSHDB, SWAPDB;
what ends a watch (EXEC, DISCARD, UNWATCH, RESET); RESP2 and RESP3 replies; CLIENT LIST's
flag d; redis-py's watched pipelines; and a race of many clients across workers that must
lose no update. The file passes against redis-server as well (run it with --server
redis-server): the cases are Redis 7.0's behaviour."""

import threading
import time

import harness as h

redis = h.require_redis_py()


def workers():
    return [] if h.Config.server_is_redis() else ["--pollux-workers", "2"]


# (set-up commands, the write another client runs) for writes that change key "w" (or, for
# commands with two keys, "w" as the one named). Each must abort the watcher's EXEC.
CHANGES = [
    ([], ["SET", "w", "1"]),
    ([["SET", "w", "1"]], ["SET", "w", "1"]),  # the same value is still a write
    ([["SET", "w", "1"]], ["DEL", "w"]),
    ([["SET", "w", "1"]], ["UNLINK", "w"]),
    ([["SET", "w", "1"]], ["EXPIRE", "w", "100"]),
    ([["SET", "w", "1"]], ["EXPIRE", "w", "-1"]),
    ([["SET", "w", "1", "EX", "100"]], ["PERSIST", "w"]),
    ([["SET", "w", "1"]], ["INCR", "w"]),
    ([["SET", "w", "1"]], ["INCRBYFLOAT", "w", "1.5"]),
    ([["SET", "w", "1"]], ["APPEND", "w", ""]),
    ([["SET", "w", "1"]], ["SETRANGE", "w", "0", "x"]),
    ([["SET", "w", "1"]], ["GETDEL", "w"]),
    ([["SET", "w", "1"]], ["GETEX", "w", "EX", "100"]),
    ([["SET", "w", "1"]], ["GETSET", "w", "2"]),
    ([], ["MSET", "a", "1", "w", "2"]),
    ([], ["SETNX", "w", "1"]),
    ([["SET", "w", "1"]], ["RENAME", "w", "w2"]),
    ([["SET", "w2", "1"]], ["RENAME", "w2", "w"]),
    ([["SET", "w2", "1"]], ["COPY", "w2", "w"]),
    ([["SET", "w", "1"]], ["MOVE", "w", "1"]),
    ([], ["LPUSH", "w", "a"]),
    ([["RPUSH", "w", "a", "b"]], ["RPOP", "w"]),
    ([["RPUSH", "w", "a", "b"]], ["LSET", "w", "0", "z"]),
    ([["RPUSH", "w", "a", "b"]], ["LTRIM", "w", "0", "-1"]),  # Redis signals even so
    ([["RPUSH", "w", "a", "b"]], ["LREM", "w", "0", "a"]),
    ([["RPUSH", "w", "a", "b"]], ["LINSERT", "w", "BEFORE", "a", "c"]),
    ([["RPUSH", "w", "a"]], ["LMOVE", "w", "w2", "LEFT", "RIGHT"]),
    ([["RPUSH", "w2", "a"]], ["LMOVE", "w2", "w", "LEFT", "RIGHT"]),
    ([["RPUSH", "w", "a"]], ["LMPOP", "2", "nosuch", "w", "LEFT"]),
    ([["RPUSH", "w", "a"]], ["BLPOP", "w", "1"]),
    ([], ["HSET", "w", "f", "v"]),
    ([["HSET", "w", "f", "v"]], ["HDEL", "w", "f"]),
    ([["HSET", "w", "f", "1"]], ["HINCRBY", "w", "f", "1"]),
    ([], ["SADD", "w", "m"]),
    ([["SADD", "w", "m", "n"]], ["SREM", "w", "m"]),
    ([["SADD", "w", "m", "n"]], ["SPOP", "w"]),
    ([["SADD", "w2", "m"]], ["SMOVE", "w2", "w", "m"]),
    ([["SADD", "a", "m"]], ["SUNIONSTORE", "w", "a"]),
    ([["SET", "w", "x"]], ["SINTERSTORE", "w", "nosuch"]),  # an empty result deletes w
    ([], ["ZADD", "w", "1", "m"]),
    ([["ZADD", "w", "1", "m"]], ["ZINCRBY", "w", "1", "m"]),
    ([["ZADD", "w", "1", "m", "2", "n"]], ["ZREM", "w", "m"]),
    ([["ZADD", "w", "1", "m", "2", "n"]], ["ZPOPMIN", "w"]),
    ([["ZADD", "w", "1", "m", "2", "n"]], ["ZREMRANGEBYSCORE", "w", "0", "1"]),
    ([["ZADD", "a", "1", "m"]], ["ZUNIONSTORE", "w", "1", "a"]),
    ([["ZADD", "a", "1", "m"]], ["ZRANGESTORE", "w", "a", "0", "-1"]),
    ([["RPUSH", "a", "2", "1"]], ["SORT", "a", "STORE", "w"]),
    ([["SET", "w", "1"]], ["FLUSHALL"]),
    ([["SET", "w", "1"]], ["FLUSHDB"]),
    ([], ["SETEX", "w", "100", "v"]),
    ([], ["PSETEX", "w", "100000", "v"]),
    ([], ["MSETNX", "a", "1", "w", "2"]),
    ([["SET", "w", "1"]], ["DECRBY", "w", "2"]),
    ([["SET", "w", "1"]], ["PEXPIREAT", "w", "99999999999999"]),
    ([["SET", "w2", "1"]], ["RENAMENX", "w2", "w"]),
    ([], ["RESTORE", "w", "0", b"\x00\xc0\x01\n\x00&x\xe7\xb6\xd1\x01\x11\xfc"]),  # DUMP of 1
    ([], ["HSETNX", "w", "f", "v"]),
    ([], ["HMSET", "w", "f", "v"]),
    ([["HSET", "w", "f", "1"]], ["HINCRBYFLOAT", "w", "f", "0.5"]),
    ([["RPUSH", "w", "a"]], ["RPUSHX", "w", "b"]),
    ([["RPUSH", "w", "a"]], ["RPOPLPUSH", "w", "w2"]),
    ([["RPUSH", "w2", "a"]], ["BRPOPLPUSH", "w2", "w", "1"]),
    ([["RPUSH", "w", "a"]], ["BLMOVE", "w", "w", "LEFT", "RIGHT", "1"]),
    ([["RPUSH", "w", "a"]], ["BLMPOP", "1", "1", "w", "RIGHT"]),
    ([["SADD", "w", "m", "n"]], ["SPOP", "w", "5"]),
    ([["SADD", "a", "m"]], ["SDIFFSTORE", "w", "a"]),
    ([["SADD", "a", "m"]], ["SINTERSTORE", "w", "a"]),
    ([["ZADD", "w", "1", "m"]], ["ZPOPMAX", "w"]),
    ([["ZADD", "w", "1", "m"]], ["ZMPOP", "1", "w", "MIN"]),
    ([["ZADD", "w", "1", "m"]], ["BZPOPMIN", "w", "1"]),
    ([["ZADD", "w", "1", "m"]], ["BZMPOP", "1", "1", "w", "MAX"]),
    ([["ZADD", "w", "1", "m", "2", "n"]], ["ZREMRANGEBYRANK", "w", "0", "0"]),
    ([["ZADD", "w", "0", "m", "0", "n"]], ["ZREMRANGEBYLEX", "w", "[m", "[m"]),
    ([["ZADD", "a", "1", "m"]], ["ZINTERSTORE", "w", "1", "a"]),
    ([["ZADD", "a", "1", "m"]], ["ZDIFFSTORE", "w", "1", "a"]),
]

# Writes (or reads) that leave key "w" as it was: EXEC runs.
NO_CHANGES = [
    ([], ["GET", "w"]),
    ([["SET", "w", "1"]], ["GET", "w"]),
    ([["SET", "a", "1"]], ["DEL", "a", "w"]),  # only a existed
    ([], ["EXPIRE", "w", "100"]),
    ([["SET", "w", "1"]], ["PERSIST", "w"]),
    ([["SET", "w", "1"]], ["GETEX", "w"]),
    ([["SADD", "w", "m"]], ["SADD", "w", "m"]),
    ([["SADD", "w", "m"]], ["SREM", "w", "other"]),
    ([["HSET", "w", "f", "v"]], ["HDEL", "w", "nosuch"]),
    ([["ZADD", "w", "1", "m"]], ["ZADD", "w", "XX", "1", "other"]),
    ([["ZADD", "w", "1", "m"]], ["ZREM", "w", "other"]),
    ([["RPUSH", "w", "a"]], ["LREM", "w", "0", "other"]),
    ([["RPUSH", "x", "a"]], ["LMPOP", "2", "x", "w", "LEFT"]),  # popped from x only
    ([["SET", "x", "1"]], ["RENAME", "x", "y"]),
    ([], ["SINTERSTORE", "w", "nosuch"]),  # nothing to delete
    ([], ["FLUSHALL"]),  # w did not exist
    ([["SET", "w", "1"]], [["SELECT", "9"], ["FLUSHDB"]]),  # another database
    ([["SET", "w", "1"]], ["SWAPDB", "8", "9"]),  # databases without w
]


class Watch(h.ServerTestCase):
    SERVER_ARGS = tuple(workers())

    def transaction(self, c, *cmds):
        """MULTI, the commands, EXEC: EXEC's reply."""
        self.assertEqual(c.command("MULTI"), b"OK")
        for cmd in cmds:
            self.assertEqual(c.command(*cmd), b"QUEUED")
        return c.command("EXEC")

    def run_case(self, setup, write, key):
        """Watch `key` (its name replaces "w" everywhere), let another client write (one
        command, or a list of them), then EXEC a PING. @return EXEC's reply."""
        w, other = self.client(), self.client()
        other.command("FLUSHALL")
        names = {"w": key, "w2": key + "2", "a": key + "a", "x": key + "x", "y": key + "y"}
        sub = lambda cmd: [names.get(a, a) if isinstance(a, str) else a for a in cmd]
        for cmd in setup:
            self.assertNotIsInstance(other.command(*sub(cmd)), h.ErrorReply)
        self.assertEqual(w.command("WATCH", key), b"OK")
        for cmd in write if isinstance(write[0], list) else [write]:
            reply = other.command(*sub(cmd))
            self.assertNotIsInstance(reply, h.ErrorReply, cmd)
        return self.transaction(w, ["PING"])

    def test_writes_abort_exec(self):
        # a key on each shard (the watcher's worker is whichever accepted it)
        for key in (h.keys_on(0, 1, "w")[0], h.keys_on(1, 1, "w")[0]):
            for setup, write in CHANGES:
                with self.subTest(key=key, write=write):
                    self.assertIsNone(self.run_case(setup, write, key))

    def test_no_change_keeps_exec(self):
        for key in ("wa", "wb"):
            for setup, write in NO_CHANGES:
                with self.subTest(key=key, write=write):
                    self.assertEqual(self.run_case(setup, write, key), [b"PONG"])

    def test_keys_on_both_shards(self):
        k0, k1 = h.keys_on(0, 1, "s")[0], h.keys_on(1, 1, "s")[0]
        for touched in (k0, k1):
            with self.subTest(touched=touched):
                c, other = self.client(), self.client()
                self.assertEqual(c.command("WATCH", k0, k1), b"OK")
                other.command("SET", touched, "x")
                self.assertIsNone(self.transaction(c, ["SET", k0, "mine"], ["SET", k1, "mine"]))
                self.assertEqual(other.command("MGET", k0, k1).count(b"mine"), 0)
        c = self.client()
        c.command("WATCH", k0)
        c.command("WATCH", k1)  # a second WATCH adds to the first
        self.assertEqual(self.transaction(c, ["SET", k0, "mine"], ["SET", k1, "mine"]),
                         [b"OK", b"OK"])
        self.assertEqual(c.command("MGET", k0, k1), [b"mine", b"mine"])

    def test_own_writes(self):
        c = self.client()
        c.command("WATCH", "own")
        c.command("SET", "own", "1")  # before MULTI: a change like any other
        self.assertIsNone(self.transaction(c, ["PING"]))
        c.command("WATCH", "own")
        # inside the transaction: not a change to abort on
        self.assertEqual(self.transaction(c, ["SET", "own", "2"], ["GET", "own"]),
                         [b"OK", b"2"])

    def test_what_ends_a_watch(self):
        c, other = self.client(), self.client()
        for end in (["EXEC"], ["DISCARD"], ["UNWATCH"], ["RESET"]):
            with self.subTest(end=end):
                self.assertEqual(c.command("WATCH", "e"), b"OK")
                if end[0] in ("EXEC", "DISCARD"):
                    c.command("MULTI")
                self.assertNotIsInstance(c.command(*end), h.ErrorReply)
                other.command("SET", "e", "changed")
                self.assertEqual(self.transaction(c, ["PING"]), [b"PONG"])
        # UNWATCH inside MULTI is queued and answers OK in EXEC's array
        c.command("WATCH", "e")
        other.command("SET", "e", "again")
        self.assertIsNone(self.transaction(c, ["UNWATCH"]))
        # an aborted EXEC (EXECABORT) forgets the keys as well
        c.command("WATCH", "e")
        c.command("MULTI")
        c.command("NOSUCHCOMMAND")
        self.assertTrue(c.command("EXEC").startswith(b"EXECABORT"))
        other.command("SET", "e", "later")
        self.assertEqual(self.transaction(c, ["PING"]), [b"PONG"])

    def test_watch_inside_multi(self):
        c = self.client()
        c.command("MULTI")
        self.assertEqual(c.command("WATCH", "x"),
                         h.ErrorReply(b"ERR WATCH inside MULTI is not allowed"))
        c.command("SET", "x", "1")
        self.assertEqual(c.command("EXEC"), [b"OK"], "the transaction goes on")
        self.assertEqual(c.command("WATCH"),
                         h.ErrorReply(b"ERR wrong number of arguments for 'watch' command"))
        self.assertEqual(c.command("UNWATCH", "x"),
                         h.ErrorReply(b"ERR wrong number of arguments for 'unwatch' command"))

    def test_replies_resp2_and_resp3(self):
        for proto, null in ((2, b"*-1\r\n"), (3, b"_\r\n")):
            c, other = self.client(proto), self.client()
            c.command("WATCH", "r")
            other.command("SET", "r", proto)
            c.command("MULTI")
            c.command("PING")
            self.assertEqual(c.command_raw("EXEC"), null)

    def test_client_list_flag(self):
        c, other = self.client(), self.client()
        c.command("CLIENT", "SETNAME", "watcher")
        c.command("WATCH", "f")

        def flags():
            line = [l for l in other.command("CLIENT", "LIST").decode().splitlines()
                    if "name=watcher " in l][0]
            return dict(f.split("=", 1) for f in line.split(" ") if "=" in f)["flags"]

        self.assertEqual(flags(), "N")
        other.command("SET", "f", "1")
        self.assertEqual(flags(), "d")
        c.command("UNWATCH")
        self.assertEqual(flags(), "N")

    def test_expiry(self):
        c, other = self.client(), self.client()
        # live when watched, expired since: EXEC fails, removed or not
        for remove in (False, True):
            with self.subTest(remove=remove):
                other.command("SET", "t", "1", "PX", "50")
                c.command("WATCH", "t")
                time.sleep(0.1)
                if remove:
                    self.assertIsNone(other.command("GET", "t"))
                self.assertIsNone(self.transaction(c, ["PING"]))
        # expired before WATCH: its removal is no change
        other.command("SET", "t", "1", "PX", "1")
        time.sleep(0.05)
        c.command("WATCH", "t")
        self.assertIsNone(other.command("GET", "t"))
        self.assertEqual(self.transaction(c, ["PING"]), [b"PONG"])
        # ... but a new value is
        other.command("SET", "t", "1", "PX", "1")
        time.sleep(0.05)
        c.command("WATCH", "t")
        other.command("SET", "t", "2")
        self.assertIsNone(self.transaction(c, ["PING"]))

    def test_swapdb(self):
        c, other = self.client(), self.client()
        cases = [
            ([["SET", "s", "1"]], None),  # s leaves database 0
            ([["SELECT", "1"], ["SET", "s", "1"], ["SELECT", "0"]], None),  # s arrives
            ([["SET", "s", "1"], ["SELECT", "1"], ["SET", "s", "2"], ["SELECT", "0"]], None),
            ([["SELECT", "1"], ["SET", "z", "1"], ["SELECT", "0"]], [b"PONG"]),  # no s
        ]
        for setup, expect in cases:
            with self.subTest(setup=setup):
                other.command("FLUSHALL")
                for cmd in setup:
                    other.command(*cmd)
                c.command("WATCH", "s")
                self.assertEqual(other.command("SWAPDB", "0", "1"), b"OK")
                self.assertEqual(self.transaction(c, ["PING"]), expect)
        # a watch in another database is its own key
        other.command("FLUSHALL")
        c.command("SELECT", "3")
        c.command("WATCH", "s")
        other.command("SET", "s", "db0")
        self.assertEqual(self.transaction(c, ["PING"]), [b"PONG"])
        c.command("WATCH", "s")
        other.command("SELECT", "3")
        other.command("SET", "s", "db3")
        other.command("SELECT", "0")
        self.assertIsNone(self.transaction(c, ["PING"]))
        c.command("SELECT", "0")

    def test_eviction(self):
        c, other = self.client(), self.client()
        other.command("FLUSHALL")
        key = "{ev}watched"
        other.command("CONFIG", "SET", "maxmemory-policy", "volatile-ttl")
        self.addCleanup(lambda: self.client().command("CONFIG", "SET", "maxmemory", "0"))
        other.command("SET", key, "v" * 100, "EX", "10000")  # the only key that may go
        c.command("WATCH", key)
        used = int(h.info_fields(other, "memory")["used_memory"])
        other.command("CONFIG", "SET", "maxmemory", used + 4 * 1024 * 1024)
        i = 0
        while other.command("EXISTS", key) == 1:
            reply = other.command("SET", f"{{ev}}fill{i}", "x" * 4096)
            if isinstance(reply, h.ErrorReply):  # over the limit with nothing left to evict
                self.assertTrue(reply.startswith(b"OOM "), reply)
                break
            i += 1
            self.assertLess(i, 100000)
        self.assertEqual(other.command("EXISTS", key), 0, "the only volatile key was evicted")
        other.command("CONFIG", "SET", "maxmemory", "0")
        self.assertIsNone(self.transaction(c, ["PING"]))

    def test_redis_py_pipeline(self):
        r = self.r
        r.set("acct", 10)
        with r.pipeline() as p:
            p.watch("acct")
            self.assertEqual(int(p.get("acct")), 10)
            r.set("acct", 20)  # another client
            p.multi()
            p.set("acct", 11)
            with self.assertRaises(redis.WatchError):
                p.execute()
        self.assertEqual(r.get("acct"), b"20")

        def incr(pipe):
            v = int(pipe.get("acct"))
            pipe.multi()
            pipe.set("acct", v + 1)

        self.assertEqual(r.transaction(incr, "acct"), [True])
        self.assertEqual(r.get("acct"), b"21")

    def test_race_across_workers(self):
        """Clients on both workers move units between two keys of different shards with
        optimistic transactions: none may be lost or made twice."""
        a, b = h.keys_on(0, 1, "acct")[0], h.keys_on(1, 1, "acct")[0]
        self.r.mset({a: 1000, b: 1000})
        done, errors = [0], []
        lock = threading.Lock()

        def mover(n, src, dst):
            cl = redis.Redis(host=h.HOST, port=self.server.port)
            try:
                moved = 0
                while moved < n:
                    with cl.pipeline() as p:
                        try:
                            p.watch(src, dst)
                            s, d = int(p.get(src)), int(p.get(dst))
                            p.multi()
                            p.set(src, s - 1)
                            p.set(dst, d + 1)
                            p.execute()
                            moved += 1
                        except redis.WatchError:
                            pass
                with lock:
                    done[0] += moved
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)
            finally:
                cl.connection_pool.disconnect()

        threads = [threading.Thread(target=mover, args=(100, a, b) if i % 2 else (100, b, a))
                   for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(done[0], 400)
        # two movers each way: the balances are back where they started
        self.assertEqual(self.r.mget(a, b), [b"1000", b"1000"])
        # a counter: every committed increment counted once
        self.r.set("ctr", 0)
        committed = [0]

        def incr(n):
            cl = redis.Redis(host=h.HOST, port=self.server.port)
            try:
                for _ in range(n):
                    while True:
                        with cl.pipeline() as p:
                            try:
                                p.watch("ctr")
                                v = int(p.get("ctr"))
                                p.multi()
                                p.set("ctr", v + 1)
                                p.execute()
                                break
                            except redis.WatchError:
                                continue
                with lock:
                    committed[0] += n
            finally:
                cl.connection_pool.disconnect()

        threads = [threading.Thread(target=incr, args=(100,)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(committed[0], 400)
        self.assertEqual(self.r.get("ctr"), b"400")

    def test_clients_leaving_while_watching(self):
        """Watchers that disconnect, on both shards, many times: the server stays sound and a
        later watcher still sees changes."""
        keys = h.keys_on(0, 20, "leave") + h.keys_on(1, 20, "leave")
        for _ in range(20):
            c = self.server.raw()
            c.command("WATCH", *keys)
            c.close()
        c, other = self.client(), self.client()
        c.command("WATCH", keys[0], keys[-1])
        other.command("SET", keys[-1], "x")
        self.assertIsNone(self.transaction(c, ["PING"]))
        self.assertEqual(other.command("PING"), b"PONG")


if __name__ == "__main__":
    h.main()
