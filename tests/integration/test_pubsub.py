#!/usr/bin/env python3
"""Pub/sub: SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE and their UNSUBSCRIBEs, PUBLISH, SPUBLISH and
PUBSUB, byte for byte as Redis 7.0 answers in RESP2 (subscribed mode) and RESP3 (pushes);
subscribers spread over both workers, each receiving every message of a publisher in the
order it was published; clients that leave; the pubsub output-buffer limit; ACL channel
rules; redis-py's pubsub(); PUBLISH reaching a replica's subscribers. The file passes
against redis-server as well (run it with --server redis-server)."""

import time

import harness as h

redis = h.require_redis_py()


def workers():
    return [] if h.Config.server_is_redis() else ["--pollux-workers", "2"]


def msg(kind, *parts):
    """A RESP2 message or confirmation array, as bytes."""
    out = b"*%d\r\n" % (len(parts) + 1) + b"$%d\r\n%s\r\n" % (len(kind), kind)
    for p in parts:
        if isinstance(p, int):
            out += b":%d\r\n" % p
        elif p is None:
            out += b"$-1\r\n"
        else:
            out += b"$%d\r\n%s\r\n" % (len(p), p)
    return out


class PubSub(h.ServerTestCase):
    SERVER_ARGS = tuple(workers())

    def expect(self, c, raw):
        """The next replies of c are these bytes."""
        got = b""
        while len(got) < len(raw):
            got += c.read_raw()
        self.assertEqual(got, raw)

    def subscribers(self, n, channels=(b"news",), cmd="SUBSCRIBE", proto=2):
        out = []
        for _ in range(n):
            c = self.client(proto)
            c.send_command(cmd, *channels)
            for i, ch in enumerate(channels):
                self.assertEqual(c.read_reply(),
                                 [cmd.lower().encode(), ch, i + 1])
            out.append(c)
        return out

    def test_subscribe_replies_and_subscribed_mode(self):
        c = self.client()
        c.send_command("SUBSCRIBE", "a", "b")
        self.expect(c, msg(b"subscribe", b"a", 1) + msg(b"subscribe", b"b", 2))
        c.send_command("PSUBSCRIBE", "x*")
        self.expect(c, msg(b"psubscribe", b"x*", 3))
        c.send_command("SSUBSCRIBE", "s")
        self.expect(c, msg(b"ssubscribe", b"s", 1))  # shard channels are counted apart
        c.send_command("SUBSCRIBE", "a")  # again: no change
        self.expect(c, msg(b"subscribe", b"a", 3))
        c.send_command("GET", "k")
        self.expect(c, b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / "
                       b"PING / QUIT / RESET are allowed in this context\r\n")
        c.send_command("CONFIG", "GET", "x")
        self.expect(c, b"-ERR Can't execute 'config|get': only (P|S)SUBSCRIBE / "
                       b"(P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n")
        c.send_command("PING")
        self.expect(c, b"*2\r\n$4\r\npong\r\n$0\r\n\r\n")
        c.send_command("PING", "hi")
        self.expect(c, b"*2\r\n$4\r\npong\r\n$2\r\nhi\r\n")
        c.send_command("UNSUBSCRIBE", "b", "nosuch")
        self.expect(c, msg(b"unsubscribe", b"b", 2) + msg(b"unsubscribe", b"nosuch", 2))
        c.send_command("PUNSUBSCRIBE")
        self.expect(c, msg(b"punsubscribe", b"x*", 1))
        c.send_command("PUNSUBSCRIBE")
        self.expect(c, msg(b"punsubscribe", None, 1))
        c.send_command("SUNSUBSCRIBE", "s")
        self.expect(c, msg(b"sunsubscribe", b"s", 0))
        c.send_command("UNSUBSCRIBE")
        self.expect(c, msg(b"unsubscribe", b"a", 0))
        # out of subscribed mode: anything goes again
        self.assertIsNone(c.command("GET", "k"))
        self.assertEqual(c.command("PING"), b"PONG")
        c.send_command("SUBSCRIBE", "a")
        c.read_reply()
        self.assertEqual(c.command("RESET"), b"RESET")
        self.assertEqual(c.command("PING"), b"PONG", "RESET leaves subscribed mode")
        self.assertEqual(self.client().command("PUBLISH", "a", "x"), 0)

    def test_resp3_pushes_and_commands(self):
        c = self.client(3)
        c.send_command("SUBSCRIBE", "r")
        self.expect(c, b">3\r\n$9\r\nsubscribe\r\n$1\r\nr\r\n:1\r\n")
        self.assertEqual(c.command("SET", "k", "v"), b"OK", "RESP3 keeps issuing commands")
        self.assertEqual(self.client().command("PUBLISH", "r", "hello"), 1)
        self.expect(c, b">3\r\n$7\r\nmessage\r\n$1\r\nr\r\n$5\r\nhello\r\n")
        self.assertEqual(c.command("PING"), b"PONG")
        # a client that publishes to itself: the push first, then the reply
        c.send_command("PUBLISH", "r", "me")
        self.expect(c, b">3\r\n$7\r\nmessage\r\n$1\r\nr\r\n$2\r\nme\r\n:1\r\n")

    def test_publish_reaches_every_worker(self):
        subs = self.subscribers(8)
        psubs = self.subscribers(3, (b"n*",), "PSUBSCRIBE")
        ssubs = self.subscribers(2, (b"news",), "SSUBSCRIBE")
        pub = self.client()
        self.assertEqual(pub.command("PUBLISH", "news", "hi"), 11)
        for c in subs:
            self.expect(c, msg(b"message", b"news", b"hi"))
        for c in psubs:
            self.expect(c, msg(b"pmessage", b"n*", b"news", b"hi"))
        self.assertEqual(pub.command("SPUBLISH", "news", "shard"), 2)
        for c in ssubs:
            self.expect(c, msg(b"smessage", b"news", b"shard"))
        self.assertEqual(pub.command("PUBLISH", "other", "x"), 0)
        self.assertEqual(pub.command("PUBSUB", "NUMSUB", "news", "n*", "none"),
                         [b"news", 8, b"n*", 0, b"none", 0])
        self.assertEqual(pub.command("PUBSUB", "SHARDNUMSUB", "news"), [b"news", 2])
        self.assertEqual(pub.command("PUBSUB", "NUMPAT"), 1)
        self.assertEqual(pub.command("PUBSUB", "CHANNELS"), [b"news"])
        self.assertEqual(pub.command("PUBSUB", "CHANNELS", "x*"), [])
        self.assertEqual(pub.command("PUBSUB", "SHARDCHANNELS", "n*"), [b"news"])
        stats = h.info_fields(pub, "stats")
        self.assertEqual((stats["pubsub_channels"], stats["pubsub_patterns"],
                          stats["pubsubshard_channels"]), ("1", "1", "1"))
        flags = [line for line in pub.command("CLIENT", "LIST").decode().splitlines()
                 if " sub=1 " in line]
        self.assertEqual(len(flags), 8)
        self.assertTrue(all(" flags=P " in line for line in flags))
        # subscribers that leave are no longer counted
        for c in subs[:5]:
            c.close()
        self.assertTrue(h.wait_until(
            lambda: pub.command("PUBSUB", "NUMSUB", "news") == [b"news", 3], 10, 0.01))
        self.assertEqual(pub.command("PUBLISH", "news", "again"), 6)

    def test_order_per_publisher(self):
        """A pipeline of messages on two channels: every subscriber, on either worker, gets
        them in the order they were published."""
        n = 2000
        subs = self.subscribers(6, (b"c1", b"c2"))
        psubs = self.subscribers(2, (b"c*",), "PSUBSCRIBE")
        pub = self.client()
        pub.send(b"".join(h.encode_command("PUBLISH", "c%d" % (i % 2 + 1), str(i))
                          for i in range(n)))
        for i in range(n):
            self.assertEqual(pub.read_reply(), 8)
        for c in subs:
            for i in range(n):
                self.assertEqual(c.read_reply(), [b"message", b"c%d" % (i % 2 + 1), b"%d" % i])
        for c in psubs:
            for i in range(n):
                self.assertEqual(c.read_reply(),
                                 [b"pmessage", b"c*", b"c%d" % (i % 2 + 1), b"%d" % i])

    def test_publish_inside_multi(self):
        subs = self.subscribers(4, (b"t",))
        c = self.client()
        c.command("MULTI")
        c.command("PUBLISH", "t", "one")
        c.command("SET", "k", "v")
        c.command("PUBLISH", "t", "two")
        self.assertEqual(c.command("EXEC"), [4, b"OK", 4])
        for s in subs:
            self.expect(s, msg(b"message", b"t", b"one") + msg(b"message", b"t", b"two"))

    def test_slow_subscriber_is_cut_off(self):
        admin = self.client()
        old = admin.command("CONFIG", "GET", "client-output-buffer-limit")[1]
        self.addCleanup(lambda: self.client().command("CONFIG", "SET",
                                                      "client-output-buffer-limit", old))
        admin.command("CONFIG", "SET", "client-output-buffer-limit", "pubsub 256kb 0 0")
        slow = self.subscribers(1, (b"flood",))[0]
        slow.sock.setsockopt(h.socket.SOL_SOCKET, h.socket.SO_RCVBUF, 4096)
        pub = self.client()
        body = b"x" * 16384
        for _ in range(400):  # 6.5 MB the subscriber never reads
            pub.command("PUBLISH", "flood", body)
        self.assertTrue(h.wait_until(
            lambda: pub.command("PUBSUB", "NUMSUB", "flood") == [b"flood", 0], 10, 0.01),
            "the subscriber over its limit is closed")
        self.assertEqual(pub.command("PING"), b"PONG")

    def test_acl_channels(self):
        admin = self.client()
        admin.command("ACL", "SETUSER", "pubber", "on", ">pw", "resetchannels", "&news*",
                      "&lit*", "+@all", "~*")
        self.addCleanup(lambda: self.client().command("ACL", "DELUSER", "pubber"))
        c = self.client()
        self.assertEqual(c.command("AUTH", "pubber", "pw"), b"OK")
        denied = h.ErrorReply(b"NOPERM this user has no permissions to access one of the "
                              b"channels used as arguments")
        self.assertEqual(c.command("PUBLISH", "other", "x"), denied)
        self.assertEqual(c.command("PUBLISH", "newsroom", "x"), 0)
        self.assertEqual(c.command("SPUBLISH", "other", "x"), denied)
        self.assertEqual(c.command("SUBSCRIBE", "news1", "other"), denied)
        self.assertEqual(c.command("PSUBSCRIBE", "news*x"), denied, "a pattern must be listed")
        c.send_command("PSUBSCRIBE", "lit*")
        self.assertEqual(c.read_reply(), [b"psubscribe", b"lit*", 1])
        c.send_command("UNSUBSCRIBE", "other")  # unsubscribing is not checked
        self.assertEqual(c.read_reply(), [b"unsubscribe", b"other", 1])
        log = admin.command("ACL", "LOG", "1")[0]
        fields = dict(zip(log[::2], log[1::2]))
        self.assertEqual((fields[b"reason"], fields[b"object"]), (b"channel", b"news*x"))

    def test_redis_py(self):
        r = self.r
        p = r.pubsub()
        p.subscribe("py")
        p.psubscribe("p*")
        self.assertEqual(p.get_message(timeout=5)["type"], "subscribe")
        self.assertEqual(p.get_message(timeout=5)["type"], "psubscribe")
        self.assertEqual(r.publish("py", "hello"), 2)
        got = [p.get_message(timeout=5) for _ in range(2)]
        self.assertEqual(sorted((m["type"], m["data"]) for m in got),
                         [("message", b"hello"), ("pmessage", b"hello")])
        p.close()
        self.assertTrue(h.wait_until(lambda: r.pubsub_numsub("py") == [(b"py", 0)], 10, 0.01))


class Replicated(h.unittest.TestCase):
    def test_publish_reaches_a_replicas_subscribers(self):
        idle = [] if h.Config.server_is_redis() else ["--pollux-idle-sleep-us", "1000"]
        p = h.Server(args=["--save", "", "--repl-diskless-sync-delay", "0"] + workers() +
                     idle).start()
        try:
            rep = h.Server(args=["--save", ""] + workers() + idle +
                           ["--replicaof", h.HOST, str(p.port)]).start()
            try:
                self.assertTrue(h.wait_until(lambda: h.replica_synced(rep.redis()), 30))
                subs = []
                for _ in range(4):
                    c = rep.raw()
                    c.send_command("SUBSCRIBE", "repl")
                    self.assertEqual(c.read_reply(), [b"subscribe", b"repl", 1])
                    subs.append(c)
                with p.raw() as pub:
                    self.assertEqual(pub.command("PUBLISH", "repl", "from-primary"), 0)
                for c in subs:
                    self.assertEqual(c.read_reply(), [b"message", b"repl", b"from-primary"])
                    c.close()
            finally:
                rep.stop()
        finally:
            p.stop()


if __name__ == "__main__":
    h.main()
