#!/usr/bin/env python3
"""Replication: the server under test as primary and as replica, against itself and against
Debian's redis-server 7 as the peer in both directions; partial resyncs after a cut link, a
promotion and a restart; WAIT, min-replicas, read-only replicas; SAVE/BGSAVE and restore;
primaries and replicas that misbehave.

Run against redis-server (--server "redis-server ...") every check shows what Redis does.
"""

import os
import socket
import threading
import time

import harness as h

redis = h.require_redis_py()

READONLY = "You can't write against a read only replica."
REDIS_SERVER = os.environ.get("REDIS_SERVER", "redis-server")


def pollux_args():
    """Several nodes share this machine's cores: their workers sleep when idle instead of
    busy-polling against each other (a node per host would busy-poll)."""
    return [] if h.Config.server_is_redis() else ["--pollux-idle-sleep-us", "200"]


def node(args=(), workdir=None, redis_peer=False):
    """A server under test (or, with redis_peer, a real redis-server) on a free port."""
    base = ["--save", "", "--repl-diskless-sync-delay", "0"]
    cmd = [REDIS_SERVER, "--appendonly", "no"] if redis_peer else None
    extra = [] if redis_peer else pollux_args()
    return h.Server(args=base + extra + list(args), cmd=cmd, workdir=workdir).start()


def info(srv, section="replication"):
    with srv.raw() as c:
        return h.info_fields(c, section)


def wait_online(primary, replicas, timeout=30):
    """Every replica reports its link up and the primary sees them all online."""
    def ok():
        for r in replicas:
            if info(r).get("master_link_status") != "up":
                return False
        i = info(primary)
        online = sum(1 for k, v in i.items() if k.startswith("slave") and "state=online" in v)
        return online >= len(replicas)
    assert h.wait_until(ok, timeout), f"replicas not online: {info(primary)}"


def wait_offset(primary, replica, timeout=30):
    """The replica has applied everything the primary wrote so far."""
    def caught_up():
        want = int(info(primary)["master_repl_offset"])
        return int(info(replica).get("slave_repl_offset", -1)) >= want
    assert h.wait_until(caught_up, timeout), (info(primary), info(replica))


def same_data(a, b, ttl_slack_ms=3000):
    """Equal keys and values, expiry times (absolute) within ttl_slack_ms."""
    da, db = h.keyspace(a), h.keyspace(b)
    if set(da) != set(db):
        return False, f"keys differ: only left {sorted(set(da) - set(db))[:5]}, " \
                      f"only right {sorted(set(db) - set(da))[:5]}"
    for k in da:
        (va, ta), (vb, tb) = da[k], db[k]
        if va != vb:
            return False, f"{k}: {va!r} != {vb!r}"
        if (ta < 0) != (tb < 0) or abs(ta - tb) > ttl_slack_ms:
            return False, f"{k}: ttl {ta} vs {tb}"
    return True, ""


def mixed_writes(r, keys):
    """Writes of every kind a replica must apply, over several databases and shards."""
    p = r.pipeline(transaction=False)
    for i, k in enumerate(keys):
        p.set(k, f"v{i}")
    p.set("ttl-ex", "x", ex=500)
    p.set("ttl-px", "x", px=400000)
    p.setex("ttl-setex", 300, "x")
    p.set("ctr", 10)
    p.incr("ctr")
    p.incrby("ctr", 5)
    p.incrbyfloat("flt", "1.5")
    p.incrbyfloat("flt", "0.25")
    p.append("app", "abc")
    p.append("app", "def")
    p.setrange("app", 1, "ZZ")
    p.mset({keys[0]: "m0", keys[1]: "m1", keys[2]: "m2"})
    p.delete(keys[3], keys[4])
    p.expire(keys[5], 900)
    p.pexpire(keys[6], 800000)
    p.expireat(keys[7], int(time.time()) + 700)
    p.persist(keys[5])
    p.getdel(keys[8])
    p.getex(keys[9], ex=600)
    p.set("gone", "x")
    p.pexpireat("gone", 1)  # in the past: deleted
    p.rename(keys[10], "renamed")
    p.execute()
    t = r.pipeline(transaction=True)
    t.set("tx-a", 1)
    t.incr("tx-a")
    t.set(keys[11], "in-tx")
    t.execute()
    r.execute_command("SELECT", 3)
    r.set("in-db3", "yes")
    r.execute_command("SWAPDB", 3, 4)
    r.execute_command("SELECT", 5)
    r.set("to-flush", "x")
    r.flushdb()
    r.set("after-flush", "y")
    r.execute_command("SELECT", 0)


def fill(srv, n, size=100):
    """About n keys of `size` bytes through redis-benchmark: an RDB far larger than the
    socket buffers between a primary and its replica."""
    out = h.run_tool([h.Config.tool("redis-benchmark"), "-h", h.HOST, "-p", str(srv.port),
                      "-t", "set", "-n", str(n), "-r", "100000000", "-d", str(size), "-P", "64",
                      "-q"], timeout=600)
    assert out.returncode == 0, out.stderr


def sending_rdb(srv):
    """The primary is streaming a full sync's RDB to its first replica (Redis says
    wait_bgsave until its diskless child is done, Pollux send_bulk)."""
    want = ("wait_bgsave", "send_bulk") if h.Config.server_is_redis() else ("send_bulk",)
    return replica_state(srv) in want


def replica_state(srv):
    """The state= of the primary's first replica, or None."""
    v = info(srv).get("slave0")
    if v is None:
        return None
    return dict(f.split("=", 1) for f in v.split(",")).get("state")


def bgsave_ok(srv):
    """BGSAVE starts (retried while a finished snapshot is still being retired), then ends."""
    r = srv.redis()
    def started():
        try:
            return r.bgsave() is not None
        except redis.ResponseError as e:
            assert "already in progress" in str(e), e
            return False
    assert h.wait_until(started, 30, 0.2), \
        f"BGSAVE still refused: {info(srv, 'persistence')} {info(srv)}"
    assert h.wait_until(
        lambda: info(srv, "persistence")["rdb_bgsave_in_progress"] == "0", 60), \
        info(srv, "persistence")
    assert info(srv, "persistence")["rdb_last_bgsave_status"] == "ok"
    r.close()


def same_sample(a, b, pages=20):
    """Same key count, and the keys of a few SCAN pages of a hold the same values in b."""
    ra, rb = a.redis(), b.redis()
    assert ra.dbsize() == rb.dbsize(), (ra.dbsize(), rb.dbsize())
    cursor, seen = 0, 0
    for _ in range(pages):
        cursor, keys = ra.scan(cursor, count=200)
        if keys:
            assert ra.mget(keys) == rb.mget(keys)
            seen += len(keys)
        if cursor == 0:
            break
    assert seen > 0
    ra.close()
    rb.close()


class BlockedClients(h.unittest.TestCase):
    """A client blocked in WAIT still has its connection watched."""

    def test_closed_while_waiting_is_freed(self):
        """70 clients in turn send WAIT 1 0 (no replica: it waits for ever) and hang up.
        Each is freed when it closes: with maxclients 60 the 61st would be refused if they
        lingered, and the counters come back to where they were."""
        srv = node(["--maxclients", "60"])
        try:
            with srv.raw() as mon:
                def clients():
                    i = h.info_fields(mon, "clients")
                    return int(i["connected_clients"]), int(i["blocked_clients"])
                base = clients()
                self.assertEqual(base[1], 0)
                for n in range(70):
                    s = socket.create_connection((h.HOST, srv.port))
                    s.sendall(h.encode_command("WAIT", 1, 0))
                    self.assertTrue(h.wait_until(lambda: clients() == (base[0] + 1, 1), 10),
                                    f"round {n}: {clients()}")
                    s.close()
                    self.assertTrue(h.wait_until(lambda: clients() == base, 10),
                                    f"round {n}: the closed client lingers: {clients()}")
                self.assertEqual(mon.command("PING"), b"PONG")
                with srv.raw() as c:
                    self.assertEqual(c.command("PING"), b"PONG")
        finally:
            srv.stop()

    def test_input_sent_while_waiting_runs_after(self):
        """What a blocked client pipelines after WAIT runs once WAIT answers, in order."""
        srv = node()
        try:
            with srv.raw() as c:
                c.send(h.encode_command("WAIT", 1, 200) + h.encode_command("SET", "after", "1") +
                       h.encode_command("GET", "after"))
                self.assertEqual(c.read_reply(), 0)
                self.assertEqual(c.read_reply(), b"OK")
                self.assertEqual(c.read_reply(), b"1")
        finally:
            srv.stop()


class AbandonedSync(h.unittest.TestCase):
    """A replica that goes away during its full sync costs the primary nothing: the next
    BGSAVE runs and the next replica syncs."""

    def test_replica_gone_mid_sync(self):
        primary = node([] if h.Config.server_is_redis() else ["--pollux-workers", "2"])
        try:
            fill(primary, 300000)
            for _ in range(3):
                # a replica that asks for a diskless sync and reads nothing of it
                s = socket.create_connection((h.HOST, primary.port))
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.settimeout(30)
                s.sendall(h.encode_command("REPLCONF", "capa", "eof", "capa", "psync2"))
                self.assertEqual(s.recv(5), b"+OK\r\n")  # Redis refuses PSYNC behind a reply
                s.sendall(h.encode_command("PSYNC", "?", "-1"))
                self.assertTrue(h.wait_until(lambda: sending_rdb(primary), 30), info(primary))
                s.close()
                self.assertTrue(h.wait_until(lambda: info(primary)["connected_slaves"] == "0",
                                             20), info(primary))
                bgsave_ok(primary)
            # a client that asks for SAVE and hangs up while the dump is being written
            s = socket.create_connection((h.HOST, primary.port))
            s.sendall(h.encode_command("SAVE"))
            h.wait_until(lambda: info(primary, "clients")["blocked_clients"] == "1", 10, 0.01)
            s.close()
            self.assertTrue(h.wait_until(
                lambda: info(primary, "clients")["blocked_clients"] == "0", 30),
                info(primary, "clients"))
            bgsave_ok(primary)
            # a real replica killed while it receives the RDB
            gone = node(["--replicaof", h.HOST, str(primary.port)])
            h.wait_until(lambda: sending_rdb(primary), 30, 0.01)
            gone._kill()
            gone.exit_checked = True
            gone._cleanup()
            self.assertTrue(h.wait_until(lambda: info(primary)["connected_slaves"] == "0", 20),
                            info(primary))
            bgsave_ok(primary)
            replica = node(["--replicaof", h.HOST, str(primary.port)])
            try:
                wait_online(primary, [replica], timeout=120)
                # WAIT on the writing connection: the primary's master_repl_offset, which
                # wait_offset reads, may not count a write yet at the moment its reply comes
                w = primary.redis()
                w.set("after", "sync")
                self.assertEqual(w.execute_command("WAIT", 1, 30000), 1)
                rr = replica.redis()
                self.assertTrue(h.wait_until(lambda: rr.get("after") == b"sync", 30))
                same_sample(primary, replica)
            finally:
                replica.stop()
        finally:
            primary.stop()


class PolluxPair(h.unittest.TestCase):
    """The user's first session: a primary and a replica of the server under test."""

    @classmethod
    def setUpClass(cls):
        cls.primary = node(["--pollux-workers", "2"] if not h.Config.server_is_redis() else [])
        cls.replica = node((["--pollux-workers", "2"] if not h.Config.server_is_redis() else [])
                           + ["--replicaof", h.HOST, str(cls.primary.port)])
        wait_online(cls.primary, [cls.replica])

    @classmethod
    def tearDownClass(cls):
        cls.replica.stop()
        cls.primary.stop()

    def test_first_session_cli(self):
        cli = h.Config.tool("redis-cli")
        run = lambda port, *a: h.run_tool([cli, "-p", str(port)] + list(a)).stdout.decode().strip()
        self.assertEqual(run(self.primary.port, "set", "hoge", "foo"), "OK")
        wait_offset(self.primary, self.replica)
        self.assertEqual(run(self.replica.port, "get", "hoge"), "foo")
        self.assertEqual(run(self.replica.port, "set", "aaa", "bbb"), f"READONLY {READONLY}")
        self.assertIn("hoge", run(self.replica.port, "keys", "*").split("\n"))

    def test_first_session_redis_py(self):
        w, r = self.primary.redis(), self.replica.redis()
        self.assertTrue(w.set("hoge", "foo"))
        wait_offset(self.primary, self.replica)
        self.assertEqual(r.get("hoge"), b"foo")
        with self.assertRaises(redis.exceptions.ReadOnlyError) as cm:
            r.set("aaa", "bbb")
        self.assertEqual(str(cm.exception), READONLY)
        self.assertIn(b"hoge", r.keys("*"))
        self.assertIsNone(r.get("aaa"))
        # every write kind arrives, keys on both shards
        mixed_writes(w, h.keys_by_shard("pair", 16))
        # WAIT covers every write of this client; master_repl_offset may be read before the
        # last of them reached the stream (each worker's feed is merged in the background)
        self.assertEqual(w.execute_command("WAIT", "1", "30000"), 1)
        wait_offset(self.primary, self.replica)
        ok, why = same_data(self.primary, self.replica)
        self.assertTrue(ok, why)
        w.close()
        r.close()

    def test_wait_and_role(self):
        w = self.primary.redis()
        w.set("w", 1)
        self.assertEqual(w.execute_command("WAIT", 1, 5000), 1)
        self.assertEqual(w.execute_command("WAIT", 0, 0), 1)
        self.assertEqual(w.execute_command("WAIT", 2, 200), 1, "only one replica exists")
        role = w.execute_command("ROLE")
        self.assertEqual(role[0], b"master")
        self.assertEqual(len(role[2]), 1)
        self.assertEqual(role[2][0][1], str(self.replica.port).encode())
        rrole = self.replica.redis().execute_command("ROLE")
        self.assertEqual(rrole[:4], [b"slave", h.HOST.encode(), self.primary.port, b"connected"])
        with self.assertRaises(redis.ResponseError):
            self.replica.redis().execute_command("WAIT", 1, 10)
        w.close()

    def test_info_fields(self):
        want_primary = ["role", "connected_slaves", "slave0", "master_failover_state",
                        "master_replid", "master_replid2", "master_repl_offset",
                        "second_repl_offset", "repl_backlog_active", "repl_backlog_size",
                        "repl_backlog_first_byte_offset", "repl_backlog_histlen"]
        want_replica = ["role", "master_host", "master_port", "master_link_status",
                        "master_last_io_seconds_ago", "master_sync_in_progress",
                        "slave_read_repl_offset", "slave_repl_offset", "slave_priority",
                        "slave_read_only", "replica_announced", "connected_slaves",
                        "master_replid", "master_repl_offset"]
        p, r = info(self.primary), info(self.replica)
        self.assertEqual(list(p)[:len(want_primary)], want_primary)
        for f in want_replica:
            self.assertIn(f, r)
        self.assertEqual(r["role"], "slave")
        self.assertEqual(r["master_port"], str(self.primary.port))
        self.assertEqual(p["master_replid"], r["master_replid"])
        self.assertIn("state=online", p["slave0"])
        self.assertIn(f"port={self.replica.port}", p["slave0"])


class RedisReplicaOfUs(h.unittest.TestCase):
    """A real redis-server replicating from the server under test."""

    def test_full_sync_then_stream(self):
        primary = node(["--pollux-workers", "2"] if not h.Config.server_is_redis() else [])
        try:
            w = primary.redis()
            keys = h.keys_by_shard("rr", 40)
            for db in (0, 1, 7):
                w.execute_command("SELECT", db)
                for i in range(300):
                    w.set(f"pre:{db}:{i}", "x" * (i % 50), ex=1000 if i % 3 == 0 else None)
                w.set("big", os.urandom(300000))
                w.set("int", 12345)
            w.execute_command("SELECT", 0)
            replica = node(["--replicaof", h.HOST, str(primary.port)], redis_peer=True)
            try:
                wait_online(primary, [replica])
                # Expiry times compared as absolute times (PEXPIRETIME): exact, however
                # long each side takes to read.
                want = h.keyspace(primary)
                self.assertEqual(sum(1 for _, at in want.values() if at > 0), 300)
                self.assertEqual(h.keyspace_diff(want, h.keyspace(replica)), "",
                                 "after full sync")
                mixed_writes(w, keys)
                wait_offset(primary, replica)
                self.assertEqual(h.keyspace_diff(h.keyspace(primary), h.keyspace(replica)), "",
                                 "after the stream")
                # w's socket timeout (60 s) is longer than the WAIT.
                self.assertEqual(w.execute_command("WAIT", 1, 30000), 1)
            finally:
                replica.stop()
            w.close()
        finally:
            primary.stop()


class UsReplicaOfRedis(h.unittest.TestCase):
    """The server under test following a real redis-server: full sync, stream, cut, partial."""

    def test_full_then_partial(self):
        primary = node(redis_peer=True)
        try:
            w = primary.redis()
            for i in range(1000):
                w.set(f"k{i}", i)
            w.set("e", "v", ex=600)
            replica = node(["--replicaof", h.HOST, str(primary.port)])
            try:
                wait_online(primary, [replica])
                mixed_writes(w, h.keys_by_shard("ur", 16))
                wait_offset(primary, replica)
                ok, why = same_data(primary, replica)
                self.assertTrue(ok, why)
                before = int(info(primary, "stats")["sync_partial_ok"])
                w.execute_command("CLIENT", "KILL", "TYPE", "replica")
                w.set("after-cut", "yes")
                self.assertTrue(h.wait_until(
                    lambda: int(info(primary, "stats")["sync_partial_ok"]) == before + 1, 20),
                    info(primary, "stats"))
                wait_offset(primary, replica)
                self.assertEqual(replica.redis().get("after-cut"), b"yes")
                self.assertEqual(int(info(primary, "stats")["sync_full"]), 1)
            finally:
                replica.stop()
        finally:
            primary.stop()


def log_text(srv):
    with open(srv.stdout_path) as f:
        return f.read() + srv.stderr_text()


class ApplyErrors(h.unittest.TestCase):
    """A replica never diverges silently from a primary whose stream it cannot apply."""

    def setUp(self):
        if h.Config.server_is_redis():
            self.skipTest("Redis replicas ignore what they cannot apply")

    def test_unknown_command_breaks_the_link(self):
        """Redis primary, polluxd replica: an XADD (no streams here) takes the link down,
        counted and named, and the replica keeps exactly what the primary had before it."""
        primary = node(redis_peer=True)
        try:
            w = primary.redis()
            w.set("before", "1")
            replica = node(["--pollux-workers", "2", "--replicaof", h.HOST, str(primary.port)])
            try:
                wait_online(primary, [replica])
                wait_offset(primary, replica)
                self.assertEqual(info(replica)["master_apply_errors"], "0")
                self.assertEqual(info(replica)["master_last_apply_error"], "")
                # PUBLISH reaches replicas too; with no pub/sub here it changes nothing
                w.publish("channel", "message")
                w.set("published", "1")
                wait_offset(primary, replica)
                self.assertEqual(replica.redis().get("published"), b"1")
                self.assertEqual(info(replica)["master_apply_errors"], "0")
                w.xadd("mystream", {"f": "v"})
                w.set("after", "1")
                self.assertTrue(h.wait_until(
                    lambda: int(info(replica)["master_apply_errors"]) >= 1, 20), info(replica))
                i = info(replica)
                self.assertTrue(
                    i["master_last_apply_error"].lower().startswith(
                        "xadd err unknown command 'xadd', with args beginning with: 'mystream'"),
                    i["master_last_apply_error"])
                self.assertIn("failed to apply", log_text(replica))
                self.assertIn("xadd ERR unknown command", log_text(replica))
                # it reconnects, meets the same command, stays behind it; down meanwhile
                self.assertTrue(h.wait_until(
                    lambda: info(replica)["master_link_status"] == "down", 20), info(replica))
                t0, e0 = time.monotonic(), int(info(replica)["master_apply_errors"])
                self.assertTrue(h.wait_until(
                    lambda: int(info(replica)["master_apply_errors"]) >= e0 + 2, 30),
                    info(replica))
                # not a hot loop: a reconnect per second at most (the bound only a spinning
                # replica breaks; a slow machine makes fewer attempts)
                e1 = int(info(replica)["master_apply_errors"])
                self.assertLessEqual(e1 - e0, time.monotonic() - t0 + 2)
                # the same failure is reported once, not once per attempt
                self.assertEqual(log_text(replica).count("failed to apply"), 1)
                r = replica.redis()
                self.assertEqual(r.get("before"), b"1")
                self.assertIsNone(r.get("after"))
                self.assertLess(int(info(replica)["slave_repl_offset"]),
                                int(info(primary)["master_repl_offset"]))
            finally:
                replica.stop()
        finally:
            primary.stop()

    def test_transaction_counts_whole_or_not_at_all(self):
        """A transaction of the stream with a command the replica cannot apply: the replica
        stays at the offset before its MULTI (what was queued before the failure does not
        count as applied), and its own replicas never see half of it."""
        primary = node(redis_peer=True)
        try:
            w = primary.redis()
            w.set("before", "1")
            replica = node(["--pollux-workers", "2", "--replicaof", h.HOST, str(primary.port)])
            sub = node(["--replicaof", h.HOST, str(replica.port)])
            try:
                wait_online(primary, [replica])
                wait_online(replica, [sub])
                w.set("sync-point", "1")  # the stream has selected its db before the MULTI
                wait_offset(primary, replica)
                wait_offset(replica, sub)
                at = int(info(replica)["slave_repl_offset"])
                self.assertGreater(at, 0)
                t = w.pipeline(transaction=True)
                t.set("t1", "x")
                t.xadd("t-stream", {"f": "v"})
                t.set("t2", "y")
                t.execute()
                self.assertTrue(h.wait_until(
                    lambda: int(info(replica)["master_apply_errors"]) >= 2, 30), info(replica))
                self.assertEqual(int(info(replica)["slave_repl_offset"]), at)
                self.assertEqual(int(info(replica)["master_repl_offset"]), at)
                self.assertIsNone(replica.redis().get("t1"))
                self.assertEqual(sub.redis().get("before"), b"1")
                self.assertIsNone(sub.redis().get("t1"))
                self.assertEqual(int(info(sub)["slave_repl_offset"]), at)
            finally:
                sub.stop()
                replica.stop()
        finally:
            primary.stop()

    def test_failed_write_resyncs_fully(self):
        """A write that runs and fails (the replica's value was not the primary's) takes the
        link down and the next sync is a full one, which repairs the data; for a key of the
        link's own shard and for one of another shard."""
        primary = node(redis_peer=True)
        try:
            w = primary.redis()
            keys = h.keys_by_shard("n", 2)
            for k in keys:
                w.set(k, 10)
            replica = node(["--pollux-workers", "2", "--replicaof", h.HOST, str(primary.port)])
            try:
                wait_online(primary, [replica])
                wait_offset(primary, replica)
                r = replica.redis()
                r.config_set("replica-read-only", "no")
                for n, k in enumerate(keys, 1):
                    r.set(k, "not a number")  # the replica now differs from its primary
                    w.execute_command("INCR", k)
                    self.assertTrue(h.wait_until(
                        lambda: int(info(replica)["master_apply_errors"]) >= n, 20),
                        info(replica))
                    self.assertEqual(info(replica)["master_last_apply_error"],
                                     "incr ERR value is not an integer or out of range")
                    self.assertTrue(h.wait_until(
                        lambda: int(info(primary, "stats")["sync_full"]) >= n + 1, 20),
                        info(primary, "stats"))
                    wait_online(primary, [replica])
                    wait_offset(primary, replica)
                    self.assertEqual(r.get(k), b"11")
                self.assertIn("incr ERR value is not an integer", log_text(replica))
            finally:
                replica.stop()
        finally:
            primary.stop()


class Failover(h.unittest.TestCase):
    """A chain of the server under test: promote one replica, repoint the other, partial."""

    def test_promote_and_repoint(self):
        workers = ["--pollux-workers", "2"] if not h.Config.server_is_redis() else []
        p = node(workers)
        r1 = node(workers + ["--replicaof", h.HOST, str(p.port)])
        r2 = node(workers + ["--replicaof", h.HOST, str(p.port)])
        try:
            wait_online(p, [r1, r2])
            w = p.redis()
            mixed_writes(w, h.keys_by_shard("fo", 16))
            wait_offset(p, r1)
            wait_offset(p, r2)
            old_id = info(p)["master_replid"]
            p.stop()
            c1 = r1.redis()
            self.assertEqual(c1.execute_command("REPLICAOF", "NO", "ONE"), b"OK")
            i1 = info(r1)
            self.assertEqual(i1["role"], "master")
            self.assertEqual(i1["master_replid2"], old_id)
            self.assertEqual(int(i1["second_repl_offset"]), int(i1["master_repl_offset"]) + 1)
            c1.set("after-promotion", "1")
            r2.redis().execute_command("REPLICAOF", h.HOST, r1.port)
            wait_online(r1, [r2])
            st = info(r1, "stats")
            self.assertEqual(st["sync_partial_ok"], "1", st)
            self.assertEqual(st["sync_full"], "0", st)
            wait_offset(r1, r2)
            self.assertEqual(r2.redis().get("after-promotion"), b"1")
            ok, why = same_data(r1, r2)
            self.assertTrue(ok, why)
        finally:
            r2.stop()
            r1.stop()
            p.stop()


class RestartResumes(h.unittest.TestCase):
    """A replica restarted with its RDB on disk continues with a partial resync."""

    def test_restart_partial(self):
        workers = ["--pollux-workers", "2"] if not h.Config.server_is_redis() else []
        p = node(workers)
        rdir = h.tempfile.mkdtemp(prefix="pollux-it-replica-")
        try:
            r = node(workers + ["--replicaof", h.HOST, str(p.port)], workdir=rdir)
            wait_online(p, [r])
            w = p.redis()
            for i in range(500):
                w.set(f"k{i}", i)
            wait_offset(p, r)
            with r.raw() as c:
                c.send(h.encode_command("SHUTDOWN", "SAVE"))
                c.expect_closed()
            r.wait_exit(20)
            self.assertTrue(os.path.exists(os.path.join(rdir, "dump.rdb")))
            w.set("while-down", "1")
            r = h.Server(args=["--save", "", "--replicaof", h.HOST, str(p.port)] + workers +
                         pollux_args(), workdir=rdir).start()
            wait_online(p, [r])
            st = info(p, "stats")
            self.assertEqual(st["sync_partial_ok"], "1", st)
            self.assertEqual(st["sync_full"], "1", st)
            wait_offset(p, r)
            self.assertEqual(r.redis().get("while-down"), b"1")
            self.assertEqual(r.redis().get("k499"), b"499")
            r.stop()
        finally:
            p.stop()


class Persistence(h.unittest.TestCase):

    def test_save_schedule(self):
        """`save 1 1`: one change and a second later the dump is written."""
        d = h.tempfile.mkdtemp(prefix="pollux-it-sched-")
        s = h.Server(args=["--save", "1 1"] + pollux_args(), workdir=d).start()
        try:
            r = s.redis()
            r.set("k", "v")
            self.assertTrue(h.wait_until(
                lambda: info(s, "persistence")["rdb_changes_since_last_save"] == "0", 10),
                info(s, "persistence"))
            self.assertTrue(os.path.exists(os.path.join(d, "dump.rdb")))
            self.assertEqual(info(s, "persistence")["rdb_last_bgsave_status"], "ok")
        finally:
            s.stop()

    def test_save_bgsave_restore(self):
        d = h.tempfile.mkdtemp(prefix="pollux-it-save-")
        workers = ["--pollux-workers", "2"] if not h.Config.server_is_redis() else []
        s = h.Server(args=["--save", ""] + workers, workdir=d).start()
        try:
            r = s.redis()
            for db in (0, 2):
                r.execute_command("SELECT", db)
                for i in range(2000):
                    r.set(f"key:{i}", f"value-{i}" * (1 + i % 5), ex=3600 if i % 4 == 0 else None)
            r.execute_command("SELECT", 0)
            before = r.lastsave()
            self.assertTrue(r.save())
            self.assertGreaterEqual(r.lastsave(), before)
            self.assertEqual(info(s, "persistence")["rdb_changes_since_last_save"], "0")
            r.set("after-save", "1")
            self.assertTrue(r.bgsave())
            self.assertTrue(h.wait_until(
                lambda: info(s, "persistence")["rdb_bgsave_in_progress"] == "0", 20))
            self.assertEqual(info(s, "persistence")["rdb_last_bgsave_status"], "ok")
            snapshot = h.keyspace(s)
            s.stop()
            s = h.Server(args=["--save", ""] + workers, workdir=d).start()
            ok = set(h.keyspace(s)) == set(snapshot)
            self.assertTrue(ok, "restored keys differ")
            self.assertEqual(s.redis().get("after-save"), b"1")
            # the dump loads into real Redis too
            s.stop()
            rs = h.Server(args=["--save", "", "--appendonly", "no"],
                          cmd=[REDIS_SERVER], workdir=d).start()
            self.assertEqual(set(h.keyspace(rs)), set(snapshot))
            rs.stop()
        finally:
            s.stop()

    def test_bgsave_right_after_save(self):
        """SAVE answers once its snapshot is over: a BGSAVE sent right behind it (same
        connection, pipelined, or another client) starts, as in Redis."""
        d = h.tempfile.mkdtemp(prefix="pollux-it-save2-")
        workers = ["--pollux-workers", "2"] if not h.Config.server_is_redis() else []
        s = h.Server(args=["--save", ""] + workers, workdir=d).start()
        try:
            r, other = s.redis(), s.redis()
            r.set("k", "v")
            for _ in range(20):
                with r.pipeline(transaction=False) as p:
                    p.save()
                    p.bgsave()
                    save, bgsave = p.execute(raise_on_error=False)
                self.assertIs(save, True)
                self.assertIs(bgsave, True, bgsave)  # "Background saving started"
                self.assertTrue(h.wait_until(
                    lambda: info(s, "persistence")["rdb_bgsave_in_progress"] == "0", 20))
                self.assertTrue(r.save())
                self.assertTrue(other.bgsave())
                self.assertTrue(h.wait_until(
                    lambda: info(s, "persistence")["rdb_bgsave_in_progress"] == "0", 20))
        finally:
            s.stop()

    @h.skip_if_real_redis("polluxd's own refusal message")
    def test_corrupt_dump_refused(self):
        d = h.tempfile.mkdtemp(prefix="pollux-it-bad-")
        with open(os.path.join(d, "dump.rdb"), "wb") as f:
            f.write(b"REDIS0010\xfa\x09redis-ver\x067.0.15\xfe\x00\x00\x03key\x05va")
        s = h.Server(args=["--save", ""], workdir=d)
        with self.assertRaises(h.ServerError):
            s.start(attempts=1)
        with open(s.stdout_path) as f:
            self.assertIn("truncated", s.stderr_text() + f.read())

    @h.skip_if_real_redis("Redis refuses non-string types only when it has no module for them")
    def test_seed_from_redis_dump(self):
        """A dump made by Redis seeds a new node."""
        d = h.tempfile.mkdtemp(prefix="pollux-it-seed-")
        rs = h.Server(args=["--save", "", "--appendonly", "no"], cmd=[REDIS_SERVER],
                      workdir=d).start()
        rr = rs.redis()
        for i in range(3000):
            rr.set(f"s{i}", i if i % 2 else f"text-{i}" * 8, px=9000000 if i % 5 == 0 else None)
        rr.save()
        want = h.keyspace(rs)
        rs.stop()
        s = h.Server(args=["--save", "", "--pollux-workers", "2"], workdir=d).start()
        try:
            ok = set(h.keyspace(s)) == set(want)
            self.assertTrue(ok)
            self.assertEqual(s.redis().get("s10"), b"text-10" * 8)
        finally:
            s.stop()


class ReplicaOptions(h.unittest.TestCase):

    def test_masterauth(self):
        """A primary with a password: the replica authenticates with masterauth."""
        p = node(["--requirepass", "s3cret"])
        r = node(["--replicaof", h.HOST, str(p.port), "--masterauth", "s3cret"])
        try:
            w = redis.Redis(host=h.HOST, port=p.port, password="s3cret")
            w.set("authed", "yes")
            self.assertTrue(h.wait_until(
                lambda: info(r).get("master_link_status") == "up", 20), info(r))
            self.assertTrue(h.wait_until(lambda: r.redis().get("authed") == b"yes", 10))
            w.close()
        finally:
            r.stop()
            p.stop()

    @h.skip_if_real_redis("close-on-slave-write is an ElastiCache parameter")
    def test_close_on_write(self):
        p = node()
        r = node(["--replicaof", h.HOST, str(p.port), "--close-on-slave-write", "yes"])
        try:
            wait_online(p, [r])
            with r.raw() as c:
                self.assertEqual(c.command("GET", "x"), None)
                c.send(h.encode_command("SET", "x", "1"))
                c.expect_closed(allow_data=True)
        finally:
            r.stop()
            p.stop()

    def test_stale_data_and_min_replicas(self):
        p = node()
        r = node(["--replicaof", h.HOST, str(p.port), "--replica-serve-stale-data", "no"])
        try:
            wait_online(p, [r])
            with p.raw() as c:
                c.command("CONFIG", "SET", "min-replicas-to-write", "2")
                self.assertTrue(h.wait_until(
                    lambda: c.command("SET", "k", "v") != b"OK", 5))
                self.assertEqual(c.command("SET", "k", "v"),
                                 h.ErrorReply(b"NOREPLICAS Not enough good replicas to write."))
                c.command("CONFIG", "SET", "min-replicas-to-write", "1")
                self.assertTrue(h.wait_until(lambda: c.command("SET", "k", "v") == b"OK", 5))
            p.stop()
            with r.raw() as c:
                self.assertTrue(h.wait_until(
                    lambda: info(r)["master_link_status"] == "down", 10))
                self.assertEqual(c.command("GET", "k"), h.ErrorReply(
                    b"MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set "
                    b"to 'no'."))
                self.assertTrue(c.command("INFO", "replication").startswith(b"# Replication"))
        finally:
            r.stop()
            p.stop()


class FakePrimary:
    """A TCP server that plays a primary's part of the handshake, then misbehaves."""

    def __init__(self, payload):
        self.payload = payload
        self.sock = socket.socket()
        self.sock.bind((h.HOST, 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.served = 0
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            try:
                conn.settimeout(5)
                buf = b""
                # PING, REPLCONF listening-port, REPLCONF capa, PSYNC: one reply each
                answered = 0
                while answered < 4:
                    data = conn.recv(4096)
                    if not data:
                        break
                    buf += data
                    requests = buf.count(b"\r\n*") + (1 if buf.startswith(b"*") else 0)
                    while answered < requests and answered < 4:
                        answered += 1
                        if answered == 1:
                            conn.sendall(b"+PONG\r\n")
                        elif answered < 4:
                            conn.sendall(b"+OK\r\n")
                        else:
                            conn.sendall(self.payload)
                self.served += 1
                time.sleep(0.3)
            except OSError:
                pass
            finally:
                conn.close()

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()


def good_rdb_prefix():
    """A truncated RDB: valid header and one key, then the end never comes."""
    return b"REDIS0010\xfa\x09redis-ver\x067.0.15\xfe\x00\x00\x03key\x05value\x00\x04key2"


class BadPeers(h.unittest.TestCase):
    """Fault cases whose log lines are polluxd's."""

    def setUp(self):
        if h.Config.server_is_redis():
            self.skipTest("polluxd's log lines")

    def _replica_keeps_data(self, payload, expect_log):
        fake = FakePrimary(payload)
        r = node()
        try:
            rc = r.redis()
            rc.set("precious", "data")
            rc.execute_command("REPLICAOF", h.HOST, fake.port)
            self.assertTrue(h.wait_until(lambda: fake.served >= 2, 20), "no retries")
            self.assertEqual(rc.get("precious"), b"data", "a bad primary cost data")
            with open(r.stdout_path) as f:
                log = f.read() + r.stderr_text()
            self.assertIn(expect_log, log)
            rc.execute_command("REPLICAOF", "NO", "ONE")
        finally:
            r.stop()
            fake.close()

    def test_garbage_after_psync(self):
        self._replica_keeps_data(b"+FULLRESYNC " + b"a" * 40 + b" 0\r\n$EOF:" + b"m" * 40 +
                                 b"\r\nTHIS IS NOT AN RDB AT ALL" * 10, "Failed trying to load")

    def test_truncated_rdb(self):
        payload = good_rdb_prefix()
        self._replica_keeps_data(b"+FULLRESYNC " + b"b" * 40 + b" 0\r\n$%d\r\n" % (len(payload) + 50)
                                 + payload, "Connection with master lost")

    def test_bad_psync_reply(self):
        self._replica_keeps_data(b"-ERR no way\r\n", "Unexpected reply to PSYNC")

    def test_replica_that_never_acks(self):
        """A replica that syncs and then never acknowledges: the primary keeps serving."""
        p = node(["--pollux-workers", "2"])
        try:
            w = p.redis()
            w.set("a", 1)
            s = socket.create_connection((h.HOST, p.port))
            s.sendall(h.encode_command("REPLCONF", "capa", "eof") +
                      h.encode_command("PSYNC", "?", "-1"))
            s.settimeout(5)
            got = b""
            while b"$EOF:" not in got:
                data = s.recv(65536)
                self.assertTrue(data, "the primary closed the connection")
                got += data
            self.assertIn(b"+FULLRESYNC", got)
            self.assertTrue(h.wait_until(lambda: "state=online" in info(p).get("slave0", ""), 20))
            w.set("b", 2)  # a write the silent replica never acknowledges
            self.assertEqual(w.execute_command("WAIT", 1, 300), 0)
            for i in range(200):
                w.set(f"k{i}", i)
            self.assertEqual(w.get("k199"), b"199")
            self.assertTrue(h.wait_until(lambda: "state=online" in info(p).get("slave0", ""), 5))
            # silent past repl-timeout: the primary lets it go (and says so)
            with p.raw() as c:
                c.command("CONFIG", "SET", "repl-timeout", "1")
            self.assertTrue(h.wait_until(lambda: info(p)["connected_slaves"] == "0", 10))
            with open(p.stdout_path) as f:
                self.assertIn("Disconnecting timedout replica", f.read())
            s.close()
        finally:
            p.stop()


if __name__ == "__main__":
    h.main(requires=("redis-cli", "redis-benchmark"))
