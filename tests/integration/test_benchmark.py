#!/usr/bin/env python3
"""redis-benchmark runs to completion for every one of its tests (the string
commands, and the lists, sets, hashes and sorted sets), and leaves a consistent
keyspace. Speed is reported, never asserted."""

import re

import harness as h

# The tests of redis-benchmark 7.0's -t list that need only PING, SET, GET,
# INCR and MSET (the others: COLL_TESTS below).
TESTS = {
    "ping_inline": "PING_INLINE",
    "ping_mbulk": "PING_MBULK",
    "set": "SET",
    "get": "GET",
    "incr": "INCR",
    "mset": "MSET (10 keys)",
}
REQUESTS = 20000
DATA_SIZE = 16
# The tests on the collection types, and the names their lines carry.
COLL_TESTS = {
    "lpush": "LPUSH", "rpush": "RPUSH", "lpop": "LPOP", "rpop": "RPOP", "sadd": "SADD",
    "hset": "HSET", "spop": "SPOP", "zadd": "ZADD", "zpopmin": "ZPOPMIN",
    "lrange_100": "LRANGE_100 (first 100 elements)", "lrange_300": "LRANGE_300 (first 300 elements)",
    "lrange_500": "LRANGE_500 (first 500 elements)", "lrange_600": "LRANGE_600 (first 600 elements)",
}
LINE_RE = re.compile(r"^(?P<name>[A-Z_0-9]+(?: \((?:10 keys|first \d+ elements|needed to "
                     r"benchmark LRANGE)\))?): (?P<rps>\d+(?:\.\d+)?) requests per "
                     r"second(?:, p50=(?P<p50>\d+\.\d+) msec)?$")


class Benchmark(h.ServerTestCase):

    def bench(self, *args):
        argv = [h.Config.tool("redis-benchmark"), "-h", h.HOST, "-p", str(self.server.port),
                "-q", "-c", "20", "-P", "8", "-d", str(DATA_SIZE)] + [str(a) for a in args]
        res = h.run_tool(argv, timeout=300)
        out = res.stdout.decode("utf-8", "replace")
        err = res.stderr.decode("utf-8", "replace")
        self.assertEqual(res.returncode, 0, f"{argv}\n{out}\n{err}")
        self.assertNotIn("Error from server", out + err)
        self.assertNotIn("WARNING", out + err, "redis-benchmark could not read the server config")
        results = {}
        # -q rewrites a progress line with \r; the final figures end with \n.
        for line in re.split(r"[\r\n]", out):
            m = LINE_RE.match(line.strip())
            if m:
                results[m.group("name")] = float(m.group("rps"))
        return results, out

    def test_string_tests(self):
        results, out = self.bench("-n", REQUESTS, "-t", ",".join(TESTS))
        for name in TESTS.values():
            self.assertIn(name, results, f"no throughput line for {name}:\n{out}")
            self.assertGreater(results[name], 0)
        for name, rps in sorted(results.items()):
            print(f"  {name}: {rps:.0f} requests/s")
        # Without -r every SET/MSET/INCR hits the literal key names.
        r = self.r
        self.assertEqual(r.dbsize(), 2)
        value = r.get("key:__rand_int__")
        self.assertEqual(len(value), DATA_SIZE)
        self.assertRegex(value, rb"^[0-o]+$", "redis-benchmark's payload alphabet")
        self.assertEqual(r.get("counter:__rand_int__"), str(REQUESTS).encode(),
                         "every INCR of the benchmark was applied exactly once")

    def test_random_keys(self):
        results, out = self.bench("-n", REQUESTS, "-r", "1000", "-t", "set,get,incr,mset")
        self.assertEqual(set(results), {"SET", "GET", "INCR", "MSET (10 keys)"}, out)
        r = self.r
        keys = r.keys("*")
        size = r.dbsize()
        self.assertEqual(size, len(keys))
        self.assertTrue(0 < size <= 2000, size)
        data = [k for k in keys if k.startswith(b"key:")]
        counters = [k for k in keys if k.startswith(b"counter:")]
        self.assertEqual(len(data) + len(counters), size, keys[:10])
        for k in keys:
            self.assertRegex(k, rb"^(key|counter):\d{12}$")
        values = set(r.mget(data))
        self.assertEqual(len(values), 1, "every SET and MSET wrote the same payload")
        self.assertEqual(len(values.pop()), DATA_SIZE)
        total = sum(int(v) for v in r.mget(counters))
        self.assertEqual(total, REQUESTS, "INCRs spread over random counters add up")

    def test_collection_tests(self):
        results, out = self.bench("-n", REQUESTS, "-t", ",".join(COLL_TESTS))
        for name in list(COLL_TESTS.values()) + ["LPUSH (needed to benchmark LRANGE)"]:
            self.assertIn(name, results, f"no throughput line for {name}:\n{out}")
        for name, rps in sorted(results.items()):
            print(f"  {name}: {rps:.0f} requests/s")
        # Without -r: as many pops as pushes, then the list LRANGE reads (REQUESTS pushes of
        # the payload); the set and the sorted set popped empty; one hash field.
        r = self.r
        self.assertEqual(sorted(r.keys("*")), [b"myhash", b"mylist"])
        self.assertEqual(r.llen("mylist"), REQUESTS)
        items = set(r.lrange("mylist", 0, -1))
        self.assertEqual(len(items), 1)
        payload = items.pop()
        self.assertEqual(len(payload), DATA_SIZE)
        self.assertEqual(r.hgetall("myhash"), {b"element:__rand_int__": payload})


if __name__ == "__main__":
    h.main(requires=["redis-benchmark"])
