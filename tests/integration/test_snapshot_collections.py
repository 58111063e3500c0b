#!/usr/bin/env python3
"""Snapshots of big collections (nested snapshots): a BGSAVE or a full sync writes a big hash,
set or sorted set a slice at a time while writes change, delete, rename and move it; the
dump and the replica hold each collection as it was at the cut (BGSAVE) or end equal to the
primary (full sync + stream). Dumps are read back by redis-server and by a restarted node;
the replicas are Pollux and redis-server."""

import os
import tempfile
import threading

import harness as h
import test_replication as tr

redis = h.require_redis_py()

N = 60000


def fill(w, tag):
    """Big and small collections of every type on both shards, one with a TTL."""
    keys = {}
    for kind in ("hash", "set", "zset", "list"):
        for shard, k in enumerate(h.keys_by_shard(f"{tag}:{kind}", 2)):
            keys[(kind, shard)] = k
            p = w.pipeline(transaction=False)
            for i in range(0, N, 5000):
                names = [f"m{j}" for j in range(i, i + 5000)]
                if kind == "hash":
                    p.hset(k, mapping={m: f"v{m}" for m in names})
                elif kind == "set":
                    p.sadd(k, *names)
                elif kind == "zset":
                    p.zadd(k, {m: j for j, m in enumerate(names, i)})
                else:
                    p.rpush(k, *names)
            p.execute()
    w.hset(f"{tag}:small", "a", "1")
    w.expire(keys[("hash", 1)], 5000)
    return keys


def churn(w, keys, rounds, start=0):
    """Writes to every big collection: changed, removed and new members, scores moved in
    place, counters, and whole keys deleted, renamed to the other shard and recreated."""
    p = w.pipeline(transaction=False)
    for r in range(start, start + rounds):
        j = (r * 7919) % N
        for shard in (0, 1):
            hk, sk, zk, lk = (keys[(t, shard)] for t in ("hash", "set", "zset", "list"))
            p.hset(hk, f"m{j}", f"changed{r}")
            p.hdel(hk, f"m{(j + 1) % N}")
            p.hincrby(hk, f"n{r % 50}", 1)
            p.srem(sk, f"m{j}")
            p.sadd(sk, f"new{r}")
            p.zadd(zk, {f"m{j}": -r})
            p.zincrby(zk, 2.5, f"m{(j + 3) % N}")
            p.zrem(zk, f"m{(j + 1) % N}")
            p.lset(lk, j, f"changed{r}")
            p.rpush(lk, f"new{r}")
    p.execute()


class Bgsave(h.unittest.TestCase):
    def test_dump_holds_the_cut_while_writes_go_on(self):
        with tempfile.TemporaryDirectory() as d:
            srv = tr.node(["--pollux-workers", "2", "--dbfilename", "dump.rdb"], workdir=d)
            self.addCleanup(srv.stop)
            w = srv.redis()
            self.addCleanup(w.close)
            keys = fill(w, "b")
            want = h.keyspace(srv)
            # BGSAVE and the writes in one pipeline: every write comes after the cut, most
            # while the big collections are still being written
            p = w.pipeline(transaction=False)
            p.bgsave()
            p.execute()
            churn(w, keys, 300)
            w.delete(keys[("set", 0)])
            w.rename(keys[("hash", 0)], "b:moved{" + keys[("hash", 1)] + "}")
            w.unlink(keys[("zset", 1)])
            # a list moved to the other shard and back, written on both
            away = "b:movedlist{" + keys[("list", 0)] + "}"
            w.rename(keys[("list", 1)], away)
            w.rpush(away, "after the move")
            w.rename(away, keys[("list", 1)])
            w.sadd(keys[("set", 0)], "reborn")
            churn(w, keys, 300, start=300)
            self.assertTrue(h.wait_until(
                lambda: w.info("persistence")["rdb_bgsave_in_progress"] == 0, 120, 0.02))
            self.assertEqual(w.info("persistence")["rdb_last_bgsave_status"], "ok")
            srv.stop()
            self.assertTrue(os.path.getsize(os.path.join(d, "dump.rdb")) > N * 4)
            ref = h.Server(cmd=[h.Config.tool("redis-server"), "--save", "", "--appendonly",
                                "no", "--dbfilename", "dump.rdb",
                                "--sanitize-dump-payload", "yes"], workdir=d).start()
            self.addCleanup(ref.stop)
            self.assertEqual(h.keyspace_diff(want, h.keyspace(ref)), "", "redis-server")
            ref.stop()
            again = tr.node(["--pollux-workers", "2", "--dbfilename", "dump.rdb"], workdir=d)
            self.addCleanup(again.stop)
            self.assertEqual(h.keyspace_diff(want, h.keyspace(again)), "", "restarted")


class FullSync(h.unittest.TestCase):
    def sync_under_writes(self, tag, redis_replica):
        primary = tr.node(["--pollux-workers", "2"])
        self.addCleanup(primary.stop)
        w = primary.redis()
        self.addCleanup(w.close)
        keys = fill(w, tag)
        stop = threading.Event()
        errors = []

        def writer():
            c = primary.redis()
            r = 0
            try:
                while not stop.is_set():
                    churn(c, keys, 20, start=r)
                    r += 20
            except Exception as e:  # reported by the test, not lost in the thread
                errors.append(e)
            finally:
                c.close()
        t = threading.Thread(target=writer)
        t.start()
        try:
            replica = tr.node(([] if redis_replica else ["--pollux-workers", "2"]) +
                              ["--replicaof", h.HOST, str(primary.port)],
                              redis_peer=redis_replica)
            self.addCleanup(replica.stop)
            tr.wait_online(primary, [replica])
        finally:
            stop.set()
            t.join()
        self.assertEqual(errors, [])
        tr.wait_offset(primary, replica)
        self.assertEqual(h.keyspace_diff(h.keyspace(primary), h.keyspace(replica)), "")

    def test_pollux_replica(self):
        self.sync_under_writes("p", redis_replica=False)

    def test_redis_replica(self):
        self.sync_under_writes("r", redis_replica=True)


if __name__ == "__main__":
    h.main(requires=("redis-server",))
