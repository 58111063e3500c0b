#!/usr/bin/env python3
"""MULTI / EXEC / DISCARD: queueing, errors, isolation across shards, redis-py pipelines."""

import threading

import harness as h

redis = h.require_redis_py()


class Multi(h.ServerTestCase):

    def raw(self):
        return self.server.raw()

    def test_queue_and_exec(self):
        with self.raw() as c:
            self.assertEqual(c.command("MULTI"), b"OK")
            self.assertEqual(c.command("SET", "a", "1"), b"QUEUED")
            self.assertEqual(c.command("INCR", "a"), b"QUEUED")
            self.assertEqual(c.command("GET", "a"), b"QUEUED")
            self.assertEqual(c.command("EXEC"), [b"OK", 2, b"2"])
            self.assertEqual(c.command("MULTI"), b"OK")
            self.assertEqual(c.command("EXEC"), [])

    def test_errors(self):
        with self.raw() as c:
            self.assertEqual(c.command("EXEC"), h.ErrorReply(b"ERR EXEC without MULTI"))
            self.assertEqual(c.command("DISCARD"), h.ErrorReply(b"ERR DISCARD without MULTI"))
            c.command("MULTI")
            # nested MULTI is an error that does not spoil the transaction
            self.assertEqual(c.command("MULTI"),
                             h.ErrorReply(b"ERR MULTI calls can not be nested"))
            c.command("SET", "k", "v")
            self.assertEqual(c.command("EXEC"), [b"OK"])
            # a refused command does
            c.command("MULTI")
            self.assertTrue(c.command("NOSUCHCMD").startswith(b"ERR unknown command"))
            self.assertEqual(c.command("SET", "k"),
                             h.ErrorReply(b"ERR wrong number of arguments for 'set' command"))
            c.command("SET", "k", "other")
            self.assertEqual(c.command("EXEC"), h.ErrorReply(
                b"EXECABORT Transaction discarded because of previous errors."))
            self.assertEqual(c.command("GET", "k"), b"v", "an aborted EXEC runs nothing")
            c.command("MULTI")
            self.assertEqual(c.command("SHUTDOWN"),
                             h.ErrorReply(b"ERR Command not allowed inside a transaction"))
            self.assertTrue(c.command("EXEC").startswith(b"EXECABORT"))
            # errors while executing are replies inside the array, not aborts
            c.command("MULTI")
            c.command("SET", "s", "abc")
            c.command("INCR", "s")
            c.command("SET", "t", "1")
            res = c.command("EXEC")
            self.assertEqual(res[0], b"OK")
            self.assertEqual(res[1], h.ErrorReply(b"ERR value is not an integer or out of range"))
            self.assertEqual(res[2], b"OK")

    def test_discard_and_reset(self):
        with self.raw() as c:
            c.command("MULTI")
            c.command("SET", "d", "1")
            self.assertEqual(c.command("DISCARD"), b"OK")
            self.assertIsNone(c.command("GET", "d"))
            c.command("MULTI")
            c.command("SET", "d", "1")
            self.assertEqual(c.command("RESET"), b"RESET")
            self.assertEqual(c.command("EXEC"), h.ErrorReply(b"ERR EXEC without MULTI"))
            self.assertIsNone(c.command("GET", "d"))

    def test_select_inside(self):
        with self.raw() as c:
            c.command("MULTI")
            c.command("SET", "x", "db0")
            c.command("SELECT", "5")
            c.command("SET", "x", "db5")
            self.assertEqual(c.command("EXEC"), [b"OK", b"OK", b"OK"])
            self.assertEqual(c.command("GET", "x"), b"db5", "SELECT in EXEC sticks")
            c.command("SELECT", "0")
            self.assertEqual(c.command("GET", "x"), b"db0")

    def test_client_list_fields(self):
        with self.raw() as c:
            c.command("MULTI")
            c.command("SET", "x", "1")
            c.command("CLIENT", "INFO")
            info = c.command("EXEC")[1].decode()
            self.assertIn(" flags=x ", info)
            self.assertIn(" multi=2 ", info)
            self.assertIn(" cmd=exec ", info)
            self.assertIn(" multi=-1 ", c.command("CLIENT", "INFO").decode())

    def test_redis_py_pipeline(self):
        keys = h.keys_by_shard("p", 8)
        pipe = self.r.pipeline(transaction=True)
        for i, k in enumerate(keys):
            pipe.set(k, i)
        pipe.mget(keys)
        pipe.incr(keys[0])
        res = pipe.execute()
        self.assertEqual(res[:8], [True] * 8)
        self.assertEqual(res[8], [str(i).encode() for i in range(8)])
        self.assertEqual(res[9], 1)

    def test_pipelined_blocks(self):
        """Several MULTI blocks and plain commands in one write, over every shard."""
        keys = h.keys_by_shard("q", 6)
        with self.raw() as c:
            data = b""
            expect = []
            for rnd in range(20):
                data += h.encode_command("MULTI")
                expect.append(b"OK")
                for k in keys:
                    data += h.encode_command("INCR", k)
                    expect.append(b"QUEUED")
                data += h.encode_command("EXEC")
                expect.append([rnd + 1] * len(keys))
                data += h.encode_command("GET", keys[rnd % len(keys)])
                expect.append(str(rnd + 1).encode())
            c.send(data)
            for want in expect:
                self.assertEqual(c.read_reply(), want)

    def test_isolation_across_shards(self):
        """A reader never sees one half of a transaction: a and b move together."""
        a, b = h.keys_by_shard("iso", 2)
        self.r.mset({a: 0, b: 0})
        stop = threading.Event()
        torn = []

        def reader():
            r = self.server.redis()
            while not stop.is_set():
                va, vb = r.mget(a, b)
                if va != vb:
                    torn.append((va, vb))
            r.close()

        t = threading.Thread(target=reader)
        t.start()
        w = self.server.redis()
        for _ in range(1500):
            p = w.pipeline(transaction=True)
            p.incr(a)
            p.incr(b)
            p.execute()
        stop.set()
        t.join()
        w.close()
        self.assertEqual(torn, [])
        self.assertEqual(self.r.mget(a, b), [b"1500", b"1500"])


class OutOfMemory(h.ServerTestCase):
    """maxmemory and transactions, as Redis 7.0: nothing is queued while out of memory,
    and an EXEC holding a write fails whole (EXECABORT ... because of: OOM ...) when it
    comes while out of memory; a read-only EXEC still runs."""

    SERVER_ARGS = () if h.Config.server_is_redis() else ("--pollux-workers", "2")
    OOM = h.ErrorReply(b"OOM command not allowed when used memory > 'maxmemory'.")
    EXEC_OOM = h.ErrorReply(b"EXECABORT Transaction discarded because of: OOM command not "
                            b"allowed when used memory > 'maxmemory'.")

    def setUp(self):
        super().setUp()
        self.admin = self.client()
        self.admin.command("CONFIG", "SET", "maxmemory-policy", "noeviction")
        self.addCleanup(self.limit, 0)

    def limit(self, n):
        self.assertEqual(self.admin.command("CONFIG", "SET", "maxmemory", str(n)), b"OK")

    def test_queueing_refused(self):
        c = self.client()
        self.limit(1)
        c.command("MULTI")
        self.assertEqual(c.command("SET", "x", "1"), self.OOM)
        self.assertEqual(c.command("GET", "x"), self.OOM, "any command, while queueing")
        self.assertEqual(c.command("EXEC"), h.ErrorReply(
            b"EXECABORT Transaction discarded because of previous errors."))
        c.command("MULTI")
        self.assertEqual(c.command("DISCARD"), b"OK", "DISCARD still runs")
        c.command("MULTI")
        self.assertEqual(c.command("RESET"), b"RESET", "RESET still runs")

    def test_exec_of_a_write_refused(self):
        c, other = self.client(), self.client()
        for keys in (("x",), h.keys_on(0, 1, "a") + h.keys_on(1, 1, "b")):
            with self.subTest(keys=keys):
                self.limit(0)
                c.command("WATCH", keys[0])
                c.command("MULTI")
                for k in keys:
                    c.command("SET", k, "1")
                self.limit(1)
                self.assertEqual(c.command("EXEC"), self.EXEC_OOM)
                self.limit(0)
                self.assertEqual(other.command("EXISTS", *keys), 0)
                # the transaction and its watch are gone
                other.command("SET", keys[0], "changed")
                self.assertEqual(c.command("EXEC"), h.ErrorReply(b"ERR EXEC without MULTI"))
                c.command("MULTI")
                self.assertEqual(c.command("EXEC"), [])
                other.command("DEL", *keys)

    def test_exec_of_reads_runs(self):
        c = self.client()
        self.admin.command("CONFIG", "RESETSTAT")
        self.admin.command("SET", "x", "v")
        c.command("MULTI")
        c.command("GET", "x")
        self.limit(1)
        self.assertEqual(c.command("EXEC"), [b"v"])
        errors = h.info_fields(self.admin, "errorstats")
        self.assertNotIn("errorstat_OOM", errors)


if __name__ == "__main__":
    h.main()
