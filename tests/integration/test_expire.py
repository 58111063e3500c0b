#!/usr/bin/env python3
"""Expiry: short TTLs vanish on access, and the active cycle removes
expired keys nobody reads."""

import time

import harness as h


class Expire(h.ServerTestCase):

    def keyspace_db0(self, c):
        line = h.info_fields(c, "keyspace").get("db0")
        if line is None:
            return {"keys": 0, "expires": 0}
        return {k: int(v) for k, v in (kv.split("=") for kv in line.split(","))}

    def test_short_ttls_disappear(self):
        r = self.r
        # Each key is set and read back in one transaction, which runs at one instant of
        # the server's clock: the key is there with its expiry 100 ms ahead however
        # late the transaction runs.
        with r.pipeline(transaction=True) as p:
            for i in range(20):
                p.set(f"px:{i}", "v", px=100)
                p.pttl(f"px:{i}")
                p.set(f"pexpire:{i}", "v")
                p.pexpire(f"pexpire:{i}", 100)
                p.pttl(f"pexpire:{i}")
                p.set(f"stay:{i}", "v")
            replies = p.execute()
        self.assertEqual(replies, [True, 100, True, True, 100, True] * 20)
        # Expired keys are gone for every read; polled until the TTLs have run out.
        gone = h.wait_until(lambda: r.exists(*[f"px:{i}" for i in range(20)],
                                             *[f"pexpire:{i}" for i in range(20)]) == 0, 30)
        self.assertTrue(gone, "keys with a 100 ms TTL still there after 30 s")
        self.assertEqual(r.mget([f"px:{i}" for i in range(20)]), [None] * 20)
        self.assertEqual(r.ttl("px:0"), -2)
        self.assertEqual(r.exists(*[f"stay:{i}" for i in range(20)]), 20)
        self.assertEqual(r.keys("px:*"), [])

    def test_expired_key_is_replaced_cleanly(self):
        # The sleeps let the TTLs run out (time must pass, nothing to poll for: a read
        # would remove the key before the command under test sees it).
        r = self.r
        r.set("k", "old", px=50)
        time.sleep(0.1)
        self.assertTrue(r.set("k", "new", nx=True), "an expired key does not block NX")
        self.assertEqual(r.ttl("k"), -1)
        r.set("c", "41", px=50)
        time.sleep(0.1)
        self.assertEqual(r.incr("c"), 1, "INCR starts from an expired key's absence")
        r.set("a", "x", px=50)
        time.sleep(0.1)
        self.assertEqual(r.append("a", "yz"), 2)

    def test_lazy_expiry_counts(self):
        with self.server.raw() as c:
            c.command("CONFIG", "RESETSTAT")
            c.command("SET", "lazy", "v", "PX", "30")
            time.sleep(0.08)
            self.assertIsNone(c.command("GET", "lazy"))
            self.assertEqual(h.info_fields(c, "stats")["expired_keys"], "1")

    def test_active_expiry(self):
        """10k keys with a short TTL are removed without being read."""
        n, persistent = 10000, 100
        with self.server.raw() as c:
            c.command("CONFIG", "RESETSTAT")
        # One absolute deadline for all, far enough to count them first even
        # on a slow (sanitizer) build.
        deadline_ms = int(time.time() * 1000) + 2000
        with self.r.pipeline(transaction=False) as p:
            for i in range(n):
                p.set(f"short:{i}", "v", pxat=deadline_ms)
                if i % 1000 == 999:
                    p.execute()
            for i in range(persistent):
                p.set(f"long:{i}", "v")
            p.execute()
        with self.server.raw() as c:
            ks = self.keyspace_db0(c)
            if time.time() * 1000 < deadline_ms - 100:
                self.assertEqual(ks["keys"], n + persistent)
                self.assertEqual(ks["expires"], n)
            time.sleep(max(0.0, deadline_ms / 1000 - time.time()))
            # DBSIZE and INFO do not touch keys, so only the active cycle can
            # bring the count down.
            done = h.wait_until(lambda: c.command("DBSIZE") <= persistent + n // 100, 60,
                                interval=0.1)
            left = c.command("DBSIZE")
            self.assertTrue(done,
                            f"{left - persistent} of {n} expired keys still counted after 60 s")
            ks = self.keyspace_db0(c)
            self.assertLessEqual(ks["keys"], left)
            self.assertLessEqual(ks["expires"], n // 100)
            expired = int(h.info_fields(c, "stats")["expired_keys"])
            self.assertGreaterEqual(expired, n - n // 100)
            self.assertEqual(c.command("EXISTS", *[f"long:{i}" for i in range(persistent)]),
                             persistent)


if __name__ == "__main__":
    h.main()
