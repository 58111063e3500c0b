#!/usr/bin/env python3
"""Keyspace notifications (notify-keyspace-events) against Debian's redis-server: the same
commands run on both servers, every write command of test_watch.py's list among them, and
the events each publishes on __keyspace@<db>__:<key> and __keyevent@<db>__:<event> must be
the same, key by key and in order (keys of different shards are published by different
workers, so only the order within a key is Redis's guarantee here). Also CONFIG SET/GET of
the parameter with Redis's canonical form and error, and the expired and evicted events."""

import time

import harness as h
import test_watch

redis = h.require_redis_py()


def events(srv, script, flags="KEA"):
    """Run script (a list of commands, or floats: seconds to wait) with notifications on;
    @return {(db, key): [(space or event, event name)]} as a subscriber saw them."""
    admin, sub = srv.raw(), srv.raw()
    try:
        admin.command("FLUSHALL")
        assert admin.command("CONFIG", "SET", "notify-keyspace-events", flags) == b"OK"
        sub.send_command("PSUBSCRIBE", "__key*__:*")
        sub.read_reply()
        sub.send_command("SUBSCRIBE", "end")
        sub.read_reply()
        for cmd in script:
            if isinstance(cmd, float):
                time.sleep(cmd)
            else:
                admin.command(*cmd)
        admin.command("PUBLISH", "end", "x")
        out = {}
        while True:
            m = sub.read_reply()
            if m[0] == b"message":
                break
            channel, data = m[2], m[3]
            head, _, rest = channel.partition(b"__:")
            space, _, db = head.partition(b"@")
            if space == b"__keyspace":
                out.setdefault((db, rest), []).append((b"space", data))
            else:
                out.setdefault((db, data), []).append((b"event", rest))
        return out
    finally:
        admin.command("CONFIG", "SET", "notify-keyspace-events", "")
        admin.close()
        sub.close()


def watch_script():
    """test_watch.py's writes, each on fresh keys."""
    script = []
    for i, (setup, write) in enumerate(test_watch.CHANGES + test_watch.NO_CHANGES):
        names = {"w": f"w{i}", "w2": f"w{i}b", "a": f"a{i}", "x": f"x{i}", "y": f"y{i}"}
        for cmd in setup + (write if isinstance(write[0], list) else [write]):
            if cmd[0] in ("FLUSHALL", "FLUSHDB", "SWAPDB", "SELECT"):
                continue  # whole databases: no per-key events, and they would end the others
            script.append([names.get(a, a) if isinstance(a, str) else a for a in cmd])
    return script


class AgainstRedis(h.AgainstRedis):
    SERVER_ARGS = () if h.Config.server_is_redis() else ("--pollux-workers", "2")

    def compare(self, script, flags="KEA"):
        want = events(self.reference, script, flags)
        got = events(self.server, script, flags)
        if any(c in flags for c in "Ag$lshzxe"):
            self.assertTrue(want, "the reference published events")
        for key in sorted(set(want) | set(got)):
            self.assertEqual(got.get(key), want.get(key), key)

    def test_every_write(self):
        self.compare(watch_script())

    def test_classes(self):
        script = [["SET", "s", "1"], ["LPUSH", "l", "a"], ["SADD", "z", "m"], ["DEL", "s"],
                  ["HSET", "h", "f", "v"], ["EXPIRE", "l", "100"], ["ZADD", "zz", "1", "m"]]
        for flags in ("KEA", "Kg", "E$", "Kl", "Es", "Eh", "Kz", "KEgx", "K", "E", ""):
            with self.subTest(flags=flags):
                self.compare(script, flags)

    def test_new_and_keymiss(self):
        """n: a key created by any write (the whole write list); m: a read that finds
        nothing, for every kind of read."""
        self.compare(watch_script(), "KEn")
        reads = [["GET", "m1"], ["HGET", "m2", "f"], ["EXISTS", "m3", "m4"], ["TYPE", "m5"],
                 ["LRANGE", "m6", "0", "-1"], ["SMEMBERS", "m7"], ["ZSCORE", "m8", "x"],
                 ["STRLEN", "m9"], ["MGET", "m10", "m11"], ["GETDEL", "m12"],
                 ["HGETALL", "m13"], ["LLEN", "m14"], ["SCARD", "m15"], ["ZRANGE", "m16", "0",
                                                                         "1"],
                 ["TTL", "m17"], ["DUMP", "m18"], ["OBJECT", "ENCODING", "m19"],
                 ["SET", "present", "1"], ["GET", "present"], ["INCR", "m20"],
                 ["SUNION", "m21", "m22"], ["LINDEX", "m23", "0"], ["GETRANGE", "m24", "0", "1"],
                 ["EVAL", "return redis.call('get', KEYS[1])", "1", "m25"]]
        self.compare(reads, "KEm")
        self.compare(reads + watch_script(), "KEAnm")

    def test_expired_and_evicted(self):
        self.compare([["SET", "t1", "v", "PX", "20"], ["SET", "t2", "v", "PX", "20"], 0.15,
                      ["GET", "t1"], ["EXISTS", "t2"]])
        key = "{ev}only"
        for srv in (self.reference, self.server):
            with srv.raw() as c:
                c.command("CONFIG", "SET", "maxmemory-policy", "volatile-ttl")
        try:
            for srv in (self.reference, self.server):
                admin = srv.raw()
                sub = srv.raw()
                admin.command("FLUSHALL")
                admin.command("CONFIG", "SET", "notify-keyspace-events", "Ee")
                sub.send_command("SUBSCRIBE", "__keyevent@0__:evicted")
                sub.read_reply()
                admin.command("SET", key, "v", "EX", "1000")
                used = int(h.info_fields(admin, "memory")["used_memory"])
                admin.command("CONFIG", "SET", "maxmemory", used + 2 * 1024 * 1024)
                for i in range(5000):
                    if admin.command("EXISTS", key) == 0:
                        break
                    admin.command("SET", f"{{ev}}fill{i}", "x" * 4096)
                admin.command("CONFIG", "SET", "maxmemory", "0")
                self.assertEqual(sub.read_reply(),
                                 [b"message", b"__keyevent@0__:evicted", key.encode()])
                admin.command("CONFIG", "SET", "notify-keyspace-events", "")
                admin.close()
                sub.close()
        finally:
            for srv in (self.reference, self.server):
                with srv.raw() as c:
                    c.command("CONFIG", "SET", "maxmemory", "0")
                    c.command("CONFIG", "SET", "maxmemory-policy", "noeviction")

    def test_config_form(self):
        for value in ("KEA", "AKE", "Kg", "KExn", "Em", "KEAmn", "zE", "KEA$lshzxetd", "", "q",
                      "KEX"):
            with self.subTest(value=value):
                got = []
                for srv in (self.reference, self.server):
                    with srv.raw() as c:
                        got.append((c.command("CONFIG", "SET", "notify-keyspace-events", value),
                                    c.command("CONFIG", "GET", "notify-keyspace-events")))
                        c.command("CONFIG", "SET", "notify-keyspace-events", "")
                self.assertEqual(got[1], got[0])


if __name__ == "__main__":
    h.main(requires=("redis-server",))
