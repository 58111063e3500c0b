#!/usr/bin/env python3
"""redis-benchmark runs to completion for every one of its tests that uses
only string commands, and leaves a consistent keyspace. Speed is reported,
never asserted."""

import re

import harness as h

# The tests of redis-benchmark 7.0's -t list that need only PING, SET, GET,
# INCR and MSET; the others use lists, sets, hashes or sorted sets.
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
LINE_RE = re.compile(r"^(?P<name>[A-Z_]+(?: \(10 keys\))?): (?P<rps>\d+(?:\.\d+)?) requests per "
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


if __name__ == "__main__":
    h.main(requires=["redis-benchmark"])
