#!/usr/bin/env python3
"""Collections written by Pollux's RDB encoder load into Debian's redis-server 7.0.

rdb_write_collections (built next to this file by meson, from replication/rdb.c) writes
an RDB with every record shape the encoder has: compact hash and zset listpacks,
intsets of each width, a one-node list; plain sets, sorted sets, hashes, and a list in
listpack nodes. It prints what it wrote as JSON. redis-server loads the file at start
with sanitize-dump-payload yes (every listpack and intset checked entry by entry), and
each key must read back with its items, order where it has one, encoding and TTL.

The server under test (--server) is not used: the peer is always redis-server. The tool
is found through $POLLUX_RDB_WRITE (meson sets it) or next to the server binary's build
directory (build/tests/integration/rdb_write_collections).
"""

import json
import math
import os
import subprocess
import unittest

import harness as h

redis = h.require_redis_py()


def tool_path():
    path = os.environ.get("POLLUX_RDB_WRITE")
    if path:
        return path
    build = os.path.dirname(os.path.dirname(os.path.abspath(h.Config.server_cmd[0])))
    return os.path.join(build, "tests", "integration", "rdb_write_collections")


class LoadedByRedis(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        tool = tool_path()
        if not os.path.exists(tool):
            raise RuntimeError(f"{tool} not built (ninja -C build tests/integration/"
                               "rdb_write_collections)")
        cls.server = h.Server(cmd=[h.Config.tool("redis-server"), "--save", "",
                                   "--appendonly", "no", "--dbfilename", "dump.rdb",
                                   "--sanitize-dump-payload", "yes",
                                   "--enable-debug-command", "yes",
                                   # redis.conf's thresholds (the compiled-in ones differ)
                                   "--hash-max-listpack-entries", "128",
                                   "--hash-max-listpack-value", "64",
                                   "--zset-max-listpack-entries", "128",
                                   "--zset-max-listpack-value", "64",
                                   "--set-max-intset-entries", "512",
                                   "--list-max-listpack-size", "-2"])
        out = subprocess.run([tool, os.path.join(cls.server.workdir, "dump.rdb")],
                             check=True, capture_output=True)
        cls.keys = json.loads(out.stdout)
        cls.server.start()
        cls.r = cls.server.redis()

    @classmethod
    def tearDownClass(cls):
        cls.r.close()
        cls.server.stop()

    def test_every_key_loaded(self):
        self.assertEqual(self.r.dbsize(), len(self.keys))
        self.assertEqual(len(self.keys), 12)

    def check(self, k):
        key, items = k["key"], k["items"]
        with self.subTest(key=key):
            self.assertEqual(self.r.type(key), k["type"].encode())
            self.assertEqual(self.r.object("encoding", key), k["encoding"].encode())
            if k["type"] == "list":
                self.assertEqual(self.r.lrange(key, 0, -1), [s.encode() for s in items])
            elif k["type"] == "set":
                self.assertEqual(self.r.smembers(key), {s.encode() for s in items})
                self.assertEqual(self.r.scard(key), len(items))
            elif k["type"] == "hash":
                self.assertEqual(self.r.hgetall(key),
                                 {f.encode(): v.encode() for f, v in items})
                self.assertEqual(self.r.hlen(key), len(items))
            else:
                got = self.r.zrange(key, 0, -1, withscores=True)
                want = sorted(((m.encode(), float(s)) for m, s in items),
                              key=lambda p: (p[1], p[0]))
                self.assertEqual(got, want)
                for m, s in items:
                    self.assertEqual(self.r.zscore(key, m), float(s))
            if k["expire"] >= 0:
                self.assertEqual(self.r.execute_command("PEXPIRETIME", key), k["expire"])
            else:
                self.assertEqual(self.r.pttl(key), -1)

    def test_contents(self):
        for k in self.keys:
            self.check(k)

    def test_debug_reload_keeps_them(self):
        # Redis saves what it loaded and loads it again: the same contents.
        self.assertTrue(self.r.execute_command("DEBUG", "RELOAD"))
        for k in self.keys:
            self.check(k)

    def test_scores_kept_exactly(self):
        zs = next(k for k in self.keys if k["key"] == "zset:small")
        scores = [float(s) for _, s in zs["items"]]
        self.assertIn(math.inf, scores)
        self.assertIn(-math.inf, scores)
        self.assertIn(1 / 3, scores)


if __name__ == "__main__":
    h.main(requires=("redis-server",))
