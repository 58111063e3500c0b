#!/usr/bin/env python3
"""LATENCY and INFO latencystats on polluxd (two workers) and on Debian's redis-server: the
fixed texts (HELP, the DOCTOR reports with no spike, the errors) byte for byte against
redis-server; a spike made by a script that runs 50 ms (the only timing asserted: 50 ms is
over a 10 ms threshold) in LATEST, HISTORY, GRAPH, DOCTOR and RESET; LATENCY HISTOGRAM's
shapes in RESP2 and RESP3 and its counts over clients on every worker; INFO latencystats'
lines, latency-tracking-info-percentiles and its errors, latency-tracking no and CONFIG
RESETSTAT. The file passes against redis-server too (run it with --server redis-server)."""

import re
import time

import harness as h

redis = h.require_redis_py()

# runs for 50 ms of the server's own clock, on every server (DEBUG SLEEP is Redis's only)
SPIN = ("local t = redis.call('time') local s = t[1] * 1000000 + t[2] "
        "repeat t = redis.call('time') until t[1] * 1000000 + t[2] - s >= 50000 return 1")

QUIET = (b"Dave, no latency spike was observed during the lifetime of this Redis instance, not "
         b"in the slightest bit. I honestly think you ought to sit down calmly, take a stress "
         b"pill, and think things over.\n")
DISABLED = (b"I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis "
            b"instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in "
            b"order to enable it. If we weren't in a deep space mission I'd suggest to take a "
            b"look at https://redis.io/topics/latency-monitor.\n")
PCT = re.compile(rb"^p(\d+(?:\.\d+)?)=(\d+\.\d{3})$")


def workers():
    return [] if h.Config.server_is_redis() else ["--pollux-workers", "2"]


def err(text):
    return h.ErrorReply(text)


def pairs(flat):
    return {flat[i]: flat[i + 1] for i in range(0, len(flat), 2)}


class AgainstRedis(h.AgainstRedis):
    """The replies that depend on no timing, compared with redis-server's."""

    @classmethod
    def setUpClass(cls):
        cls.SERVER_ARGS = workers()
        super().setUpClass()

    def both(self, *cmds, proto=2):
        out = []
        for srv in (self.server, self.reference):
            with srv.raw() as c:
                if proto == 3:
                    c.command("HELLO", "3")
                out.append([c.command_raw(*cmd) for cmd in cmds])
        return out

    def test_fixed_replies(self):
        for proto in (2, 3):
            cmds = [("LATENCY", "HELP"), ("LATENCY", "NOSUCH"), ("LATENCY",),
                    ("LATENCY", "HISTORY"), ("LATENCY", "HISTORY", "a", "b"),
                    ("LATENCY", "GRAPH"), ("LATENCY", "LATEST", "x"), ("LATENCY", "DOCTOR", "x"),
                    ("LATENCY", "HELP", "x"),
                    ("CONFIG", "SET", "latency-monitor-threshold", "0"),
                    ("LATENCY", "RESET"), ("LATENCY", "DOCTOR"),
                    ("LATENCY", "HISTORY", "nosuch"), ("LATENCY", "GRAPH", "nosuch"),
                    ("LATENCY", "GRAPH", "command"), ("LATENCY", "RESET", "nosuch", "command"),
                    ("LATENCY", "HISTOGRAM", "nosuchcommand"),
                    ("CONFIG", "SET", "latency-monitor-threshold", "-1"),
                    ("CONFIG", "SET", "latency-monitor-threshold", "x"),
                    ("CONFIG", "SET", "latency-tracking", "maybe"),
                    ("CONFIG", "SET", "latency-tracking-info-percentiles", "101"),
                    ("CONFIG", "SET", "latency-tracking-info-percentiles", "-1"),
                    ("CONFIG", "SET", "latency-tracking-info-percentiles", "50 abc"),
                    ("CONFIG", "GET", "latency-monitor-threshold"),
                    ("CONFIG", "GET", "latency-tracking"),
                    ("CONFIG", "GET", "latency-tracking-info-percentiles")]
            mine, ref = self.both(*cmds, proto=proto)
            for cmd, a, b in zip(cmds, mine, ref):
                self.assertEqual(a, b, f"{cmd} RESP{proto}")

    def test_doctor_texts(self):
        for srv in (self.server, self.reference):
            with srv.raw() as c:
                c.command("CONFIG", "SET", "latency-monitor-threshold", "0")
                c.command("LATENCY", "RESET")
                self.assertEqual(c.command("LATENCY", "DOCTOR"), DISABLED)
                # a threshold no command here reaches: nothing observed
                c.command("CONFIG", "SET", "latency-monitor-threshold", "100000")
                self.assertEqual(c.command("LATENCY", "DOCTOR"), QUIET)
                c.command("HELLO", "3")
                v = c.command("LATENCY", "DOCTOR")
                self.assertIsInstance(v, h.Verbatim)
                self.assertEqual((v.format, bytes(v)), (b"txt", QUIET))


class Latency(h.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.SERVER_ARGS = workers()
        super().setUpClass()

    def setUp(self):
        super().setUp()
        with self.server.raw() as c:
            c.command("CONFIG", "SET", "latency-monitor-threshold", "10")
            c.command("CONFIG", "SET", "latency-tracking", "yes")
            c.command("CONFIG", "SET", "latency-tracking-info-percentiles", "50 99 99.9")
            c.command("CONFIG", "RESETSTAT")
            c.command("LATENCY", "RESET")

    def tearDown(self):
        with self.server.raw() as c:
            c.command("CONFIG", "SET", "latency-monitor-threshold", "0")
        super().tearDown()

    def spike(self, c):
        self.assertEqual(c.command("EVAL", SPIN, "0"), 1)

    def test_spike_latest_history_graph_doctor_reset(self):
        c = self.client()
        before = int(time.time())
        self.spike(c)
        after = int(time.time())
        latest = {e[0]: e[1:] for e in c.command("LATENCY", "LATEST")}
        self.assertIn(b"command", latest)
        when, last, worst = latest[b"command"]
        self.assertTrue(before - 1 <= when <= after + 1, (before, when, after))
        self.assertGreaterEqual(last, 50)
        self.assertGreaterEqual(worst, last)
        history = c.command("LATENCY", "HISTORY", "command")
        self.assertGreaterEqual(len(history), 1)
        self.assertEqual(history[-1], [when, last])
        self.assertEqual([len(s) for s in history], [2] * len(history))
        self.assertEqual(sorted(s[0] for s in history), [s[0] for s in history])
        # a second spike in a later second (the server stamps a sample with the time its
        # loop read before the request): one more sample, the newest last
        while time.time() < when + 1.2:
            time.sleep(0.05)
        self.spike(c)
        history2 = c.command("LATENCY", "HISTORY", "command")
        self.assertGreater(len(history2), len(history))
        self.assertGreater(history2[-1][0], when)
        self.assertGreaterEqual(history2[-1][1], 50)

        graph = c.command("LATENCY", "GRAPH", "command").decode()
        lines = graph.split("\n")
        self.assertRegex(lines[0], r"^command - high \d+ ms, low \d+ ms \(all time high \d+ ms\)$")
        self.assertEqual(lines[1], "-" * 80)
        cols = len(lines[2])
        self.assertGreaterEqual(cols, len(history2))
        # four rows of sparkline, a blank row, then the labels ("3s") one character a row
        self.assertEqual([len(x) for x in lines[2:7]], [cols] * 5)
        self.assertEqual(lines[6], " " * cols)
        self.assertTrue(graph.endswith("\n"))
        self.assertIn("_", "".join(lines[2:6]))
        self.assertEqual(lines[-2].strip(), "s" * len(lines[-2].strip()))
        c3 = self.client(proto=3)
        v = c3.command("LATENCY", "GRAPH", "command")
        self.assertIsInstance(v, h.Verbatim)
        self.assertEqual(v.format, b"txt")

        doctor = c.command("LATENCY", "DOCTOR").decode()
        self.assertTrue(doctor.startswith(
            "Dave, I have observed latency spikes in this Redis instance. You don't mind talking "
            "about it, do you Dave?\n\n"), doctor)
        self.assertRegex(doctor, r"\n\d+\. command: \d+ latency spikes \(average \d+ms, mean "
                                 r"deviation \d+ms, period \d+\.\d\d sec\)\. Worst all time event "
                                 r"\d+ms\.\n")
        self.assertIn("\nI have a few advices for you:\n\n", doctor)
        # slowlog-log-slower-than 10000 us is not over the 10 ms threshold: no tuning advice
        self.assertIn("- Check your Slow Log to understand", doctor)
        self.assertNotIn("Your current Slow Log configuration", doctor)
        c.command("CONFIG", "SET", "slowlog-log-slower-than", "20000")
        self.assertIn("Please use 'CONFIG SET slowlog-log-slower-than 10000'.",
                      c.command("LATENCY", "DOCTOR").decode())
        c.command("CONFIG", "SET", "slowlog-log-slower-than", "-1")
        self.assertIn("'CONFIG SET slowlog-log-slower-than 10000'. If the Slow log is disabled",
                      c.command("LATENCY", "DOCTOR").decode())
        c.command("CONFIG", "SET", "slowlog-log-slower-than", "10000")

        self.assertEqual(c.command("LATENCY", "RESET", "command", "command", "nosuch"), 1)
        self.assertNotIn(b"command", [e[0] for e in c.command("LATENCY", "LATEST")])
        self.assertEqual(c.command("LATENCY", "HISTORY", "command"), [])
        self.assertEqual(c.command("LATENCY", "GRAPH", "command"),
                         err(b"ERR No samples available for event 'command'"))
        self.assertEqual(c.command("LATENCY", "RESET", "command"), 0)

    def test_spikes_from_every_worker(self):
        clients = [self.client() for _ in range(4)]
        for c in clients:
            self.spike(c)
        c = clients[0]
        history = c.command("LATENCY", "HISTORY", "command")
        # the four spikes fall in one to four seconds (other commands may add samples on a
        # loaded machine, never over the spikes')
        self.assertGreaterEqual(len(history), 1)
        self.assertGreaterEqual(max(ms for _, ms in history), 50)
        self.assertGreaterEqual(len(c.command("LATENCY", "LATEST")), 1)
        self.assertGreaterEqual(c.command("LATENCY", "RESET"), 1)
        self.assertEqual(c.command("LATENCY", "HISTORY", "command"), [])

    def test_threshold_zero_records_nothing(self):
        c = self.client()
        c.command("CONFIG", "SET", "latency-monitor-threshold", "0")
        self.spike(c)
        self.assertEqual(c.command("LATENCY", "LATEST"), [])
        self.assertEqual(c.command("LATENCY", "DOCTOR"), DISABLED)

    @h.skip_if_real_redis("Redis bounds an eviction cycle's time, Pollux's evicts to the limit")
    def test_eviction_cycle(self):
        c = self.client()
        c.command("CONFIG", "SET", "latency-monitor-threshold", "1")
        c.command("CONFIG", "SET", "maxmemory-policy", "allkeys-random")
        c.command("CONFIG", "SET", "lazyfree-lazy-eviction", "no")
        # one key of a million members: evicting it frees them all in that cycle, which takes
        # far more than a millisecond on any machine (whatever else the cycle does)
        for chunk in range(100):
            self.assertEqual(c.command("SADD", "big", *range(chunk * 10000, (chunk + 1) * 10000)),
                             10000)
        try:
            c.command("CONFIG", "SET", "maxmemory", "1mb")
            self.assertTrue(h.wait_until(lambda: c.command("EXISTS", "big") == 0, 30))
            events = {e[0]: e[1:] for e in c.command("LATENCY", "LATEST")}
            self.assertIn(b"eviction-cycle", events)
            self.assertGreaterEqual(events[b"eviction-cycle"][2], 1)
            self.assertRegex(c.command("LATENCY", "DOCTOR").decode(),
                             r"\n\d+\. eviction-cycle: \d+ latency spikes")
        finally:
            c.command("CONFIG", "SET", "maxmemory", "0")
            c.command("CONFIG", "SET", "maxmemory-policy", "noeviction")

    def check_histogram(self, hist, calls):
        self.assertEqual(hist[b"calls"], calls)
        buckets = hist[b"histogram_usec"]
        keys = list(buckets)
        self.assertEqual(keys, sorted(keys))
        counts = [buckets[k] for k in keys]
        self.assertEqual(counts, sorted(set(counts)))  # cumulative, growing at each level
        self.assertEqual(counts[-1], calls)
        for k in keys:
            # a power of two, 1024 ns x 2^n, reported as the top of its bucket (1/128 of it
            # wide, two significant digits) in microseconds; past the last, 2^30 - 1 ns
            self.assertIn(k, [((1024 << n) + ((1024 << n) >> 7) - 1) // 1000 for n in range(21)]
                          + [(2**30 - 1) // 1000])

    def test_histogram_resp2_and_resp3(self):
        clients = [self.client() for _ in range(6)]
        for i, c in enumerate(clients):
            for k in range(5):
                c.command("SET", f"key{i}:{k}", "v")
            c.command("CONFIG", "GET", "maxmemory")
        c2 = clients[0]
        flat = c2.command("LATENCY", "HISTOGRAM", "set")
        self.assertEqual(len(flat), 2)
        self.assertEqual(flat[0], b"set")
        inner = pairs(flat[1])
        self.assertEqual(list(inner), [b"calls", b"histogram_usec"])
        inner[b"histogram_usec"] = pairs(inner[b"histogram_usec"])
        self.check_histogram(inner, 30)

        c3 = self.client(proto=3)
        reply = c3.command("LATENCY", "HISTOGRAM", "SET", "config|get", "nosuch", "get")
        self.assertEqual(set(reply), {b"set", b"config|get"})
        self.check_histogram(reply[b"set"], 30)
        self.check_histogram(reply[b"config|get"], 6)
        # a container names its subcommands that ran
        reply = c3.command("LATENCY", "HISTOGRAM", "config")
        self.assertIn(b"config|get", reply)
        self.assertNotIn(b"config|rewrite", reply)
        everything = c3.command("LATENCY", "HISTOGRAM")
        self.assertIn(b"set", everything)
        self.assertIn(b"config|get", everything)
        self.assertIn(b"latency|histogram", everything)

    def latencystats(self, c):
        text = c.command("INFO", "latencystats").decode()
        lines = text.strip().split("\r\n")
        self.assertEqual(lines[0], "# Latencystats")
        out = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.assertTrue(name.startswith("latency_percentiles_usec_"), line)
            out[name[len("latency_percentiles_usec_"):]] = value
        return out

    def test_info_latencystats(self):
        c = self.client()
        for k in range(20):
            c.command("SET", f"k{k}", "v")
        c.command("CONFIG", "GET", "maxmemory")
        stats = self.latencystats(c)
        for name in ("set", "config|get"):
            fields = stats[name].encode().split(b",")
            self.assertEqual([PCT.match(f).group(1) for f in fields], [b"50", b"99", b"99.9"])
            values = [float(PCT.match(f).group(2)) for f in fields]
            self.assertEqual(values, sorted(values))
            self.assertGreater(values[0], 0)

        self.assertEqual(c.command("CONFIG", "SET", "latency-tracking-info-percentiles",
                                   "99.999 100 0 25.50"), b"OK")
        self.assertEqual(c.command("CONFIG", "GET", "latency-tracking-info-percentiles"),
                         [b"latency-tracking-info-percentiles", b"99.999 100 0 25.5"])
        fields = self.latencystats(c)["set"].encode().split(b",")
        self.assertEqual([PCT.match(f).group(1) for f in fields],
                         [b"99.999", b"100", b"0", b"25.5"])
        p0 = float(PCT.match(fields[2]).group(2))
        p100 = float(PCT.match(fields[1]).group(2))
        self.assertLessEqual(p0, p100)

        self.assertEqual(c.command("CONFIG", "SET", "latency-tracking-info-percentiles", ""),
                         b"OK")
        self.assertEqual(self.latencystats(c)["set"], "")

        # INFO: not in the default sections, in all and everything
        self.assertNotIn(b"# Latencystats", c.command("INFO"))
        self.assertNotIn(b"# Latencystats", c.command("INFO", "default"))
        self.assertIn(b"# Latencystats", c.command("INFO", "all"))
        self.assertIn(b"# Latencystats", c.command("INFO", "everything"))

    def test_tracking_off_and_resetstat(self):
        c = self.client()
        c.command("GET", "x")
        self.assertIn("get", self.latencystats(c))
        self.assertEqual(c.command("CONFIG", "RESETSTAT"), b"OK")
        self.assertNotIn("get", self.latencystats(c))
        self.assertEqual(c.command("LATENCY", "HISTOGRAM", "get"), [])
        c.command("SET", "x", "1")
        self.assertEqual(c.command("CONFIG", "SET", "latency-tracking", "no"), b"OK")
        for _ in range(5):
            c.command("GET", "x")
        self.assertEqual(c.command("LATENCY", "HISTOGRAM", "get"), [])
        # INFO shows no command while tracking is off; LATENCY HISTOGRAM still has them
        self.assertEqual(self.latencystats(c), {})
        self.assertEqual(pairs(c.command("LATENCY", "HISTOGRAM", "set")[1])[b"calls"], 1)
        self.assertEqual(c.command("CONFIG", "SET", "latency-tracking", "yes"), b"OK")
        c.command("GET", "x")
        hist = pairs(c.command("LATENCY", "HISTOGRAM", "get")[1])
        self.assertEqual(hist[b"calls"], 1)


if __name__ == "__main__":
    h.main()
