#!/usr/bin/env python3
"""Client-side caching: CLIENT TRACKING (default, BCAST, PREFIX, OPTIN, OPTOUT, NOLOOP,
REDIRECT), CLIENT CACHING, CLIENT GETREDIR, CLIENT TRACKINGINFO and the invalidation
messages, RESP3 pushes and RESP2 messages on __redis__:invalidate.

polluxd runs two workers and the keys of each check live on both shards, so invalidations
cross workers: the reading client, the writing client, the key and a redirect target may
each be on either worker. An invalidation is waited for by reading it; one that must not
come is shown absent by a later one that must, caused by the same writer on a key of the
same shard (both leave that shard in order), read first. Error texts are Redis 7.0's; the
file passes against redis-server too (run it with --server redis-server)."""

import time

import harness as h

redis = h.require_redis_py()


def workers():
    return [] if h.Config.server_is_redis() else ["--pollux-workers", "2"]


def inv(*keys):
    """The RESP3 push for keys (None: the flush's null)."""
    return ["invalidate", None if keys == (None,) else list(keys)]


def as_text(v):
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, list):
        return [as_text(x) for x in v]
    if isinstance(v, dict):
        return {as_text(k): as_text(x) for k, x in v.items()}
    return v


class Tracking(h.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.SERVER_ARGS = workers()
        super().setUpClass()

    def push(self, c):
        """The next push (or message) of c, as text."""
        v = c.read_reply()
        self.assertIsInstance(v, (h.Push, list), v)
        return as_text(v)

    def sentinel(self, c, writer, key):
        """c tracks `key`, writer changes it: c's next message must be about it (nothing
        else came before)."""
        c.command("GET", key)
        self.assertEqual(writer.command("SET", key, "s"), b"OK")
        self.assertEqual(self.push(c), inv(key))

    def same_shard(self, key, prefix):
        """A key of key's shard (any key on redis-server)."""
        shard = h.key_slot(key) % 2
        return h.keys_on(shard, 1, prefix)[0]

    # ---- default mode ------------------------------------------------------

    def test_read_then_write_by_another(self):
        c, w = self.client(3), self.client()
        self.assertEqual(c.command("CLIENT", "TRACKING", "ON"), b"OK")
        for k in h.keys_by_shard("a", 4):
            with self.subTest(key=k):
                self.assertIsNone(c.command("GET", k))
                self.assertEqual(w.command("SET", k, "1"), b"OK")
                self.assertEqual(self.push(c), inv(k))
                # told once: the key left the table
                self.assertEqual(w.command("SET", k, "2"), b"OK")
                self.sentinel(c, w, self.same_shard(k, "s"))

    def test_own_write_comes_after_its_reply(self):
        c = self.client(3)
        c.command("CLIENT", "TRACKING", "ON")
        for k in h.keys_by_shard("b", 2):
            c.command("GET", k)
            c.send_command("SET", k, "x")
            self.assertEqual(c.read_raw(), b"+OK\r\n")
            self.assertEqual(self.push(c), inv(k))
            # inside a transaction: after EXEC's reply
            c.command("GET", k)
            self.assertEqual(c.command("MULTI"), b"OK")
            c.command("GET", k)
            c.command("SET", k, "y")
            self.assertEqual(c.command("EXEC"), [b"x", b"OK"])
            self.assertEqual(self.push(c), inv(k))

    def test_each_key_of_a_read(self):
        c, w = self.client(3), self.client()
        c.command("CLIENT", "TRACKING", "ON")
        keys = h.keys_by_shard("m", 4)
        c.command("MGET", *keys)
        w.command("DEL", keys[1])  # nothing to delete: no change, no message
        w.command("MSET", *[x for k in keys for x in (k, "1")])
        got = sorted(self.push(c)[1][0] for _ in keys)
        self.assertEqual(got, sorted(keys))

    def test_every_key_of_a_long_read(self):
        c, w = self.client(3), self.client()
        c.command("CLIENT", "TRACKING", "ON")
        keys = [f"long{i}" for i in range(300)]
        c.command("MGET", *keys)
        w.command("SET", keys[-1], "1")
        self.assertEqual(self.push(c), inv(keys[-1]))
        self.assertEqual(int(h.info_fields(w, "stats")["tracking_total_keys"]), 299)

    def test_writes_do_not_track(self):
        c, w = self.client(3), self.client()
        c.command("CLIENT", "TRACKING", "ON")
        k, r1, r2 = "wk", "rk1", "rk2"
        c.command("SET", k, "x")
        c.command("GETSET", k, "y")
        c.command("GETDEL", k)
        c.command("EXISTS", r1)
        c.command("TYPE", r2)
        w.command("SET", k, "z")
        w.command("SET", r1, "z")
        w.command("SET", r2, "z")
        # k is not tracked (its own writes told it nothing either): r1, r2 only
        self.assertEqual(sorted([self.push(c)[1][0], self.push(c)[1][0]]), [r1, r2])
        self.sentinel(c, w, self.same_shard(k, "s"))

    def test_noloop(self):
        c, w = self.client(3), self.client()
        c.command("CLIENT", "TRACKING", "ON", "NOLOOP")
        for k in h.keys_by_shard("n", 2):
            c.command("GET", k)
            self.assertEqual(c.command("SET", k, "1"), b"OK")
            # the key left the table all the same: another's write tells nothing now
            w.command("SET", k, "2")
            self.sentinel(c, w, self.same_shard(k, "s"))

    def test_expiry_and_eviction(self):
        c, w = self.client(3), self.client()
        c.command("CLIENT", "TRACKING", "ON")
        w.command("SET", "ex", "1", "PX", "50")
        c.command("GET", "ex")
        self.assertEqual(self.push(c), inv("ex"))  # once it expires, nobody touching it
        w.command("SET", "ev", "1")
        c.command("GET", "ev")
        w.command("CONFIG", "SET", "maxmemory-policy", "allkeys-random")
        try:
            w.command("CONFIG", "SET", "maxmemory", "1")
            w.command("SET", "other", "x")  # OOM, evicting everything
            self.assertEqual(self.push(c), inv("ev"))
        finally:
            w.command("CONFIG", "SET", "maxmemory", "0")
            w.command("CONFIG", "SET", "maxmemory-policy", "noeviction")

    def test_flush_tells_every_tracking_client(self):
        w = self.client()
        c3, c2r = self.client(3), self.client(3)
        b = self.client(3)
        c3.command("CLIENT", "TRACKING", "ON")
        c2r.command("CLIENT", "TRACKING", "ON", "OPTIN")
        b.command("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "zz")
        for cmd in (["FLUSHALL"], ["FLUSHDB"], ["FLUSHALL", "ASYNC"]):
            with self.subTest(cmd=cmd):
                c3.command("GET", "f")
                self.assertEqual(w.command(*cmd), b"OK")
                for c in (c3, c2r, b):
                    self.assertEqual(self.push(c), inv(None))
        # the flushing client itself: after its reply, NOLOOP or not
        c3.command("CLIENT", "TRACKING", "ON", "NOLOOP")
        c3.send_command("FLUSHDB")
        self.assertEqual(c3.read_raw(), b"+OK\r\n")
        self.assertEqual(c3.read_raw(), b">2\r\n$10\r\ninvalidate\r\n_\r\n")
        # the table went with it: f, read before, tells nothing now
        w.command("SET", "f", "1")
        self.sentinel(c3, w, self.same_shard("f", "s"))

    def test_swapdb_tells_nothing(self):
        c, w = self.client(3), self.client()
        c.command("CLIENT", "TRACKING", "ON")
        c.command("GET", "sw")
        w.command("SET", "sw", "1")
        self.assertEqual(self.push(c), inv("sw"))
        c.command("GET", "sw")
        w.command("SWAPDB", "0", "1")
        w.command("SWAPDB", "0", "1")
        w.command("SET", "sw", "2")  # still tracked: this is its first message
        self.assertEqual(self.push(c), inv("sw"))

    # ---- OPTIN / OPTOUT ---------------------------------------------------

    def test_optin(self):
        c, w = self.client(3), self.client()
        c.command("CLIENT", "TRACKING", "ON", "OPTIN")
        k1, k2, k3 = h.keys_by_shard("o", 3)
        c.command("GET", k1)  # not cached: no CACHING YES before it
        self.assertEqual(c.command("CLIENT", "CACHING", "YES"), b"OK")
        c.command("CLIENT", "ID")  # a CLIENT subcommand keeps the flag, as in Redis
        c.command("GET", k2)
        c.command("GET", k3)  # the flag lasted one command
        w.command("MSET", k1, "1", k2, "1", k3, "1")
        self.assertEqual(self.push(c), inv(k2))
        # in MULTI the flag lasts until EXEC
        c.command("CLIENT", "CACHING", "YES")
        c.command("MULTI")
        c.command("GET", k1)
        c.command("GET", k3)
        c.command("EXEC")
        c.command("GET", k2)
        w.command("MSET", k1, "2", k2, "2", k3, "2")
        self.assertEqual(sorted([self.push(c)[1][0], self.push(c)[1][0]]), sorted([k1, k3]))
        c.command("CLIENT", "CACHING", "YES")
        self.sentinel(c, w, self.same_shard(k2, "s"))

    def test_optout(self):
        c, w = self.client(3), self.client()
        c.command("CLIENT", "TRACKING", "ON", "OPTOUT")
        k1, k2 = h.keys_by_shard("p", 2)
        self.assertEqual(c.command("CLIENT", "CACHING", "NO"), b"OK")
        c.command("GET", k1)
        c.command("GET", k2)
        w.command("MSET", k1, "1", k2, "1")
        self.assertEqual(self.push(c), inv(k2))
        self.sentinel(c, w, self.same_shard(k1, "s"))

    # ---- BCAST -----------------------------------------------------------

    def test_bcast_prefixes(self):
        c, w = self.client(3), self.client()
        self.assertEqual(c.command("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "u",
                                   "PREFIX", "v"), b"OK")
        # one command: one message per prefix, its keys in byte order
        w.command("MSET", "u2", "1", "u1", "1", "v1", "2", "w", "3")
        self.assertEqual(self.push(c), inv("u1", "u2"))
        self.assertEqual(self.push(c), inv("v1"))
        w.command("SET", "u2", "1")
        self.assertEqual(self.push(c), inv("u2"))
        # its own changes too, unless NOLOOP
        self.assertEqual(c.command("SET", "u3", "1"), b"OK")
        self.assertEqual(self.push(c), inv("u3"))
        c.command("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "x", "NOLOOP")
        c.command("SET", "u4", "1")
        w.command("SET", "x1", "1")
        self.assertEqual(self.push(c), inv("x1"))

    def test_bcast_everything(self):
        c, w = self.client(3), self.client()
        c.command("CLIENT", "TRACKING", "ON", "BCAST")
        for k in h.keys_by_shard("e", 4):
            w.command("SET", k, "1")
            self.assertEqual(self.push(c), inv(k))
        # keys read in default mode before: not told twice once BCAST
        d = self.client(3)
        d.command("CLIENT", "TRACKING", "ON")
        d.command("GET", "dd")
        d.command("CLIENT", "TRACKING", "OFF")
        d.command("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "dd")
        w.command("SET", "dd", "1")
        self.assertEqual(self.push(d), inv("dd"))
        w.command("SET", "dd", "2")
        self.assertEqual(self.push(d), inv("dd"))

    # ---- REDIRECT ----------------------------------------------------------

    def test_redirect_to_a_resp2_subscriber(self):
        w = self.client()
        for i in range(4):  # pairs land on either worker
            with self.subTest(pair=i):
                r, c = self.client(), self.client()
                rid = r.command("CLIENT", "ID")
                self.assertEqual(r.command("SUBSCRIBE", "__redis__:invalidate"),
                                 [b"subscribe", b"__redis__:invalidate", 1])
                self.assertEqual(c.command("CLIENT", "TRACKING", "ON", "REDIRECT", rid), b"OK")
                self.assertEqual(c.command("CLIENT", "GETREDIR"), rid)
                k = f"rd{i}"
                c.command("GET", k)
                w.command("SET", k, "1")
                self.assertEqual(self.push(r), ["message", "__redis__:invalidate", [k]])
                c.command("GET", k)
                w.command("FLUSHALL")
                # the null of the tracking client's protocol: RESP2's
                self.assertEqual(r.read_raw(), b"*3\r\n$7\r\nmessage\r\n$20\r\n"
                                 b"__redis__:invalidate\r\n$-1\r\n")

    def test_redirect_to_resp3_and_a_target_that_goes(self):
        w = self.client()
        for i in range(3):
            with self.subTest(pair=i):
                r, c = self.client(3), self.client(3)
                rid = r.command("CLIENT", "ID")
                c.command("CLIENT", "TRACKING", "ON", "REDIRECT", rid)
                k = f"rr{i}"
                c.command("GET", k)
                w.command("SET", k, "1")
                self.assertEqual(self.push(r), inv(k))
                r.close()
                self.assertTrue(h.wait_until(
                    lambda: f"id={rid} " not in w.command("CLIENT", "LIST").decode(), 10))
                c.command("GET", k)
                w.command("SET", k, "2")
                self.assertEqual(self.push(c), ["tracking-redir-broken", rid])
                info = as_text(c.command("CLIENT", "TRACKINGINFO"))
                self.assertEqual(info, {"flags": ["on", "broken_redirect"], "redirect": rid,
                                        "prefixes": []})
                line = c.command("CLIENT", "INFO").decode()
                self.assertIn(" flags=tR ", line)
                self.assertIn(f" redir={rid} ", line)

    def test_resp2_without_redirect_hears_nothing(self):
        c, c3, w = self.client(), self.client(3), self.client()
        c.command("CLIENT", "TRACKING", "ON")
        c3.command("CLIENT", "TRACKING", "ON")
        c.command("GET", "q")
        c3.command("GET", "q")
        w.command("SET", "q", "1")
        self.assertEqual(self.push(c3), inv("q"))
        self.assertEqual(c.command("PING"), b"PONG")

    # ---- scripts ----------------------------------------------------------

    def test_scripts_track_their_declared_keys_once_they_read(self):
        c, w = self.client(3), self.client()
        c.command("CLIENT", "TRACKING", "ON")
        s1, s2, s3, s4 = h.keys_by_shard("sc", 4)
        c.command("EVAL", "return redis.call('get', KEYS[1])", "1", s1)
        c.command("EVAL_RO", "return redis.call('get', KEYS[1])", "1", s2)
        c.command("EVAL", "return redis.call('get', ARGV[1])", "0", s3)  # no declared key
        c.command("EVAL", "return redis.call('set', KEYS[1], 'v')", "1", s4)  # no read
        w.command("MSET", s1, "1", s2, "1", s3, "1", s4, "1")
        self.assertEqual(sorted([self.push(c)[1][0], self.push(c)[1][0]]), sorted([s1, s2]))
        self.sentinel(c, w, self.same_shard(s3, "t"))
        self.sentinel(c, w, self.same_shard(s4, "t"))

    # ---- the commands -----------------------------------------------------

    def test_errors(self):
        c, b = self.client(), self.client()
        bid = b.command("CLIENT", "ID")
        cases = [
            (["ON", "PREFIX", "a"], "ERR PREFIX option requires BCAST mode to be enabled"),
            (["ON", "OPTIN", "OPTOUT"], "ERR You can't specify both OPTIN mode and OPTOUT mode"),
            (["ON", "BCAST", "OPTIN"], "ERR OPTIN and OPTOUT are not compatible with BCAST"),
            (["ON", "REDIRECT", "999999"],
             "ERR The client ID you want redirect to does not exist"),
            (["ON", "REDIRECT", "0"], "ERR The client ID you want redirect to does not exist"),
            (["ON", "REDIRECT", "abc"], "ERR value is not an integer or out of range"),
            (["ON", "REDIRECT", bid, "REDIRECT", bid],
             "ERR A client can only redirect to a single other client"),
            (["ON", "REDIRECT"], "ERR syntax error"),
            (["MAYBE"], "ERR syntax error"),
            (["ON", "FOO"], "ERR syntax error"),
            (["OFF", "REDIRECT", "999999"],
             "ERR The client ID you want redirect to does not exist"),
            (["ON", "BCAST", "PREFIX", "ab", "PREFIX", "a"],
             "ERR Prefix 'ab' overlaps with another provided prefix 'a'. Prefixes for a "
             "single client must not overlap."),
            (["ON", "BCAST", "PREFIX", "", "PREFIX", "a"],
             "ERR Prefix '' overlaps with another provided prefix 'a'. Prefixes for a single "
             "client must not overlap."),
        ]
        for args, err in cases:
            with self.subTest(args=args):
                self.assertEqual(err_of(c.command("CLIENT", "TRACKING", *args)), err)
        self.assertEqual(c.command("CLIENT", "TRACKING", "OFF", "BCAST", "OPTIN", "OPTOUT"),
                         b"OK")
        self.assertEqual(err_of(c.command("CLIENT", "CACHING", "YES")),
                         "ERR CLIENT CACHING can be called only when the client is in tracking "
                         "mode with OPTIN or OPTOUT mode enabled")
        c.command("CLIENT", "TRACKING", "ON", "OPTIN")
        self.assertEqual(err_of(c.command("CLIENT", "CACHING", "NO")),
                         "ERR CLIENT CACHING NO is only valid when tracking is enabled in "
                         "OPTOUT mode.")
        self.assertEqual(err_of(c.command("CLIENT", "CACHING", "MAYBE")), "ERR syntax error")
        self.assertEqual(err_of(c.command("CLIENT", "TRACKING", "ON", "OPTOUT")),
                         "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for "
                         "this client, and then re-enabling it with a different mode.")
        self.assertEqual(err_of(c.command("CLIENT", "TRACKING", "ON", "BCAST")),
                         "ERR You can't switch BCAST mode on/off before disabling tracking for "
                         "this client, and then re-enabling it with a different mode.")
        self.assertEqual(err_of(c.command("CLIENT", "CACHING")),
                         "ERR wrong number of arguments for 'client|caching' command")
        c.command("CLIENT", "TRACKING", "OFF")
        c.command("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "x")
        self.assertEqual(err_of(c.command("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "xy")),
                         "ERR Prefix 'xy' overlaps with an existing prefix 'x'. Prefixes for a "
                         "single client must not overlap.")

    def test_trackinginfo_getredir_and_client_list(self):
        c, b = self.client(), self.client(3)
        self.assertEqual(c.command("CLIENT", "GETREDIR"), -1)
        self.assertEqual(c.command("CLIENT", "TRACKINGINFO"),
                         [b"flags", [b"off"], b"redirect", -1, b"prefixes", []])
        self.assertIn(" redir=-1 ", c.command("CLIENT", "INFO").decode())
        c.command("CLIENT", "TRACKING", "ON", "OPTIN", "NOLOOP")
        c.command("CLIENT", "CACHING", "YES")
        self.assertEqual(c.command("CLIENT", "TRACKINGINFO"),
                         [b"flags", [b"on", b"optin", b"caching-yes", b"noloop"], b"redirect", 0,
                          b"prefixes", []])
        self.assertEqual(c.command("CLIENT", "GETREDIR"), 0)
        c.command("CLIENT", "TRACKING", "OFF")
        c.command("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "y", "PREFIX", "x")
        c.command("CLIENT", "TRACKING", "ON", "BCAST")
        self.assertEqual(c.command("CLIENT", "TRACKINGINFO"),
                         [b"flags", [b"on", b"bcast"], b"redirect", 0,
                          b"prefixes", [b"", b"x", b"y"]])
        line = c.command("CLIENT", "INFO").decode()
        self.assertIn(" flags=tB ", line)
        self.assertIn(" redir=0 ", line)
        # RESP3: a map with a set of flags
        b.command("CLIENT", "TRACKING", "ON", "OPTOUT")
        b.send_command("CLIENT", "TRACKINGINFO")
        self.assertEqual(b.read_raw(), b"%3\r\n$5\r\nflags\r\n~2\r\n$2\r\non\r\n$6\r\noptout\r\n"
                         b"$8\r\nredirect\r\n:0\r\n$8\r\nprefixes\r\n*0\r\n")
        # RESET turns it off
        self.assertEqual(c.command("RESET"), b"RESET")
        self.assertEqual(c.command("CLIENT", "GETREDIR"), -1)

    def test_info(self):
        def fields():
            f = h.info_fields(w, "clients")
            f.update(h.info_fields(w, "stats"))
            return {k: int(f[k]) for k in ("tracking_clients", "tracking_total_keys",
                                           "tracking_total_items", "tracking_total_prefixes")}
        w = self.client()
        # the clients of earlier tests are closed: wait until the server saw them go
        self.assertTrue(h.wait_until(lambda: fields()["tracking_clients"] == 0, 10))
        base = fields()
        c, d, b1, b2 = self.client(), self.client(), self.client(), self.client()
        c.command("CLIENT", "TRACKING", "ON")
        d.command("CLIENT", "TRACKING", "ON")
        b1.command("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "p1", "PREFIX", "p2")
        b2.command("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "p2")
        keys = h.keys_by_shard("i", 4)
        c.command("MGET", *keys)
        d.command("GET", keys[0])
        d.command("GET", keys[0])
        now = fields()
        self.assertEqual(now["tracking_clients"], base["tracking_clients"] + 4)
        self.assertEqual(now["tracking_total_keys"], base["tracking_total_keys"] + 4)
        self.assertEqual(now["tracking_total_items"], base["tracking_total_items"] + 5)
        self.assertEqual(now["tracking_total_prefixes"], base["tracking_total_prefixes"] + 2)
        for x in (c, d, b1, b2):
            x.close()
        self.assertTrue(h.wait_until(
            lambda: fields()["tracking_clients"] == base["tracking_clients"], 10))
        self.assertEqual(fields()["tracking_total_prefixes"], base["tracking_total_prefixes"])

    def test_table_limit(self):
        c, w = self.client(3), self.client()
        c.command("CLIENT", "TRACKING", "ON")
        keys = [f"lim{i}" for i in range(40)]
        w.command("CONFIG", "SET", "tracking-table-max-keys", "10")
        try:
            c.command("MGET", *keys)
            told = set()
            # keys leave the table (their readers told) until it fits
            while len(told) < 30:
                told.add(self.push(c)[1][0])
            self.assertTrue(told <= set(keys))
            self.assertTrue(h.wait_until(
                lambda: int(h.info_fields(w, "stats")["tracking_total_keys"]) <= 10, 10))
        finally:
            w.command("CONFIG", "SET", "tracking-table-max-keys", "1000000")

    def test_closed_clients_leave_nothing_behind(self):
        w = self.client()
        for i in range(20):
            c = self.server.raw()
            c.command("HELLO", "3")
            c.command("CLIENT", "TRACKING", "ON", *(["BCAST"] if i % 2 else []))
            c.command("GET", "gone")
            c.close()
        self.assertEqual(w.command("SET", "gone", "1"), b"OK")
        c = self.client(3)
        c.command("CLIENT", "TRACKING", "ON")
        self.sentinel(c, w, "gone")

    def test_redis_py(self):
        r = self.server.redis()
        self.addCleanup(r.close)
        p = r.pubsub()
        self.addCleanup(p.close)
        p.subscribe("__redis__:invalidate")
        self.assertEqual(p.get_message(timeout=10)["type"], "subscribe")
        sub = [c for c in r.client_list() if c["sub"] == "1"]
        self.assertEqual(len(sub), 1)
        rid = int(sub[0]["id"])
        t = self.server.redis()
        self.addCleanup(t.close)
        self.assertTrue(t.client_tracking_on(clientid=rid))
        self.assertEqual(t.client_getredir(), rid)
        t.get("py")
        r.set("py", "1")
        msg = None
        deadline = time.monotonic() + 10
        while msg is None and time.monotonic() < deadline:
            msg = p.get_message(timeout=1)
        self.assertEqual(msg["channel"], b"__redis__:invalidate")
        self.assertEqual(msg["data"], [b"py"])


class OnAReplica(h.unittest.TestCase):
    """A replica's tracking clients hear of the primary's writes, its FLUSHALL and of a full
    sync from a new primary."""

    def test_writes_from_the_primary(self):
        p = h.Server(args=["--save", "", "--repl-diskless-sync-delay", "0"] + workers()).start()
        try:
            rep = h.Server(args=["--save", ""] + workers() +
                           ["--replicaof", h.HOST, str(p.port)]).start()
            try:
                self.check_on_replica(p, rep)
            except BaseException as e:  # what the replica logged tells which step went wrong
                raise AssertionError(f"{e!r}\nreplica's log:\n{rep.log_tail()}") from e
            finally:
                rep.stop()
        finally:
            p.stop()

    def check_on_replica(self, p, rep):
        self.assertTrue(h.wait_until(lambda: h.replica_synced(rep.redis()), 60))
        c = rep.raw()
        c.command("HELLO", "3")
        self.assertEqual(c.command("CLIENT", "TRACKING", "ON"), b"OK")
        keys = h.keys_by_shard("rp", 2)
        c.command("MGET", *keys)
        w = p.raw()
        w.command("MSET", keys[0], "1", keys[1], "2")
        got = [as_text(c.read_reply()) for _ in keys]
        self.assertEqual(sorted(m[1][0] for m in got), sorted(keys), got)
        c.command("GET", keys[0])
        w.command("FLUSHALL")
        self.assertEqual(as_text(c.read_reply()), inv(None))
        # a full sync from another primary replaces the dataset: one null
        q = h.Server(args=["--save", "", "--repl-diskless-sync-delay", "0"] + workers()).start()
        try:
            c.command("GET", keys[1])
            self.assertEqual(c.command("REPLICAOF", h.HOST, str(q.port)), b"OK")
            self.assertEqual(as_text(c.read_reply()), inv(None))
        finally:
            q.stop()
        c.close()
        w.close()


def err_of(v):
    assert isinstance(v, h.ErrorReply), v
    return v.decode()


if __name__ == "__main__":
    h.main()
