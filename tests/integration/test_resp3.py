#!/usr/bin/env python3
"""RESP3 through the raw client: HELLO, the reply types that differ from
RESP2, switching back with HELLO 2, and HELLO with AUTH and SETNAME."""

import harness as h
from harness import (BigNumber, Double, ErrorReply, Push, RespSet, SimpleString, Verbatim,
                     parse_replies)
import unittest

HELLO_KEYS = {b"server", b"version", b"proto", b"id", b"mode", b"role", b"modules"}


class ParserSelfCheck(unittest.TestCase):
    """The raw client's parser must be right before it can judge a server."""

    def test_every_type(self):
        data = (b"+OK\r\n-ERR bad\r\n:-42\r\n$3\r\na\r\n\r\n$0\r\n\r\n$-1\r\n*-1\r\n"
                b"*2\r\n$1\r\nx\r\n:1\r\n%2\r\n+a\r\n:1\r\n+b\r\n*1\r\n_\r\n"
                b"~2\r\n+x\r\n+y\r\n_\r\n#t\r\n#f\r\n,3.5\r\n,-inf\r\n,1e+300\r\n"
                b"(12345678901234567890123\r\n!10\r\nSYNTAX x\r\n\r\n"
                b"=8\r\ntxt:a\r\nb\r\n")
        r = parse_replies(data)
        self.assertEqual(len(r), 19)
        self.assertIsInstance(r[0], SimpleString)
        self.assertEqual(r[0], b"OK")
        self.assertIsInstance(r[1], ErrorReply)
        self.assertEqual(r[1], b"ERR bad")
        self.assertEqual(r[2], -42)
        self.assertEqual(r[3], b"a\r\n")
        self.assertEqual(r[4], b"")
        self.assertIsNone(r[5])
        self.assertIsNone(r[6])
        self.assertEqual(r[7], [b"x", 1])
        self.assertEqual(r[8], {b"a": 1, b"b": [None]})
        self.assertIsInstance(r[9], RespSet)
        self.assertEqual(sorted(r[9]), [b"x", b"y"])
        self.assertIsNone(r[10])
        self.assertIs(r[11], True)
        self.assertIs(r[12], False)
        self.assertIsInstance(r[13], Double)
        self.assertEqual(r[13], 3.5)
        self.assertEqual(r[14], float("-inf"))
        self.assertEqual(r[15], 1e300)
        self.assertIsInstance(r[16], BigNumber)
        self.assertEqual(r[16], 12345678901234567890123)
        self.assertIsInstance(r[17], ErrorReply)
        self.assertEqual(r[17], b"SYNTAX x\r\n")
        self.assertIsInstance(r[18], Verbatim)
        self.assertEqual((r[18].format, bytes(r[18])), (b"txt", b"a\r\nb"))

    def test_push_and_attribute(self):
        r = parse_replies(b">2\r\n+message\r\n$2\r\nhi\r\n|1\r\n+ttl\r\n:3\r\n$1\r\nv\r\n")
        self.assertIsInstance(r[0], Push)
        self.assertEqual(r[0], [b"message", b"hi"])
        self.assertEqual(r[1], b"v")

    def test_incomplete_is_detected(self):
        for cut in (b"$5\r\nab", b"*2\r\n:1\r\n", b"%1\r\n+a\r\n", b"+OK"):
            with self.assertRaises(h.Incomplete):
                parse_replies(cut)


class Resp3(h.ServerTestCase):

    def setUp(self):
        super().setUp()
        self.c = self.server.raw()

    def tearDown(self):
        self.c.close()
        super().tearDown()

    def hello3(self):
        reply = self.c.command("HELLO", "3")
        self.assertIsInstance(reply, dict, reply)
        return reply

    def test_hello3_map(self):
        raw = self.c.command_raw("HELLO", "3")
        self.assertTrue(raw.startswith(b"%7\r\n"), raw)
        reply = h.parse_replies(raw)[0]
        self.assertEqual(set(reply), HELLO_KEYS)
        self.assertEqual(reply[b"proto"], 3)
        self.assertEqual(reply[b"mode"], b"standalone")
        self.assertEqual(reply[b"role"], b"master")
        self.assertEqual(reply[b"modules"], [])
        self.assertTrue(reply[b"server"])
        self.assertEqual(reply[b"id"], self.c.command("CLIENT", "ID"))
        info = h.info_fields(self.c, "server")
        self.assertEqual(reply[b"version"].decode(), info["redis_version"])
        # HELLO without a version reports the current protocol.
        again = self.c.command("HELLO")
        self.assertIsInstance(again, dict)
        self.assertEqual(again[b"proto"], 3)

    def test_null_and_aggregate_nulls(self):
        self.hello3()
        self.assertEqual(self.c.command_raw("GET", "missing"), b"_\r\n")
        self.assertEqual(self.c.command_raw("SET", "k", "v"), b"+OK\r\n")
        self.assertEqual(self.c.command_raw("MGET", "k", "missing"),
                         b"*2\r\n$1\r\nv\r\n_\r\n")
        self.assertEqual(self.c.command_raw("GETDEL", "missing"), b"_\r\n")
        self.assertEqual(self.c.command_raw("GETEX", "missing"), b"_\r\n")
        self.assertEqual(self.c.command_raw("SET", "n", "v", "GET"), b"_\r\n")
        self.assertEqual(self.c.command_raw("SET", "k", "w", "NX"), b"_\r\n")
        self.assertEqual(self.c.command_raw("OBJECT", "ENCODING", "missing"), b"_\r\n")
        self.assertEqual(self.c.command_raw("EXISTS", "k", "missing"), b":1\r\n")

    def test_incrbyfloat_stays_bulk(self):
        self.hello3()
        self.c.command("SET", "f", "1")
        self.assertEqual(self.c.command_raw("INCRBYFLOAT", "f", "1.5"), b"$3\r\n2.5\r\n")
        self.assertEqual(self.c.command_raw("INCRBYFLOAT", "f", "-0.5"), b"$1\r\n2\r\n")
        self.assertEqual(self.c.command_raw("GET", "f"), b"$1\r\n2\r\n")

    def test_config_get_is_map(self):
        self.hello3()
        raw = self.c.command_raw("CONFIG", "GET", "maxmemory")
        self.assertEqual(raw, b"%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n")
        many = self.c.command("CONFIG", "GET", "maxmemory*")
        self.assertIsInstance(many, dict)
        self.assertIn(b"maxmemory-policy", many)
        self.assertEqual(many[b"maxmemory-policy"], b"noeviction")
        self.assertEqual(self.c.command_raw("CONFIG", "GET", "no-such-parameter"), b"%0\r\n")

    def test_command_info_uses_sets(self):
        self.hello3()
        reply = self.c.command("COMMAND", "INFO", "get")
        self.assertEqual(len(reply), 1)
        doc = reply[0]
        self.assertEqual(doc[0], b"get")
        self.assertEqual(doc[1], 2)
        self.assertIsInstance(doc[2], RespSet)
        self.assertEqual(sorted(doc[2]), [b"fast", b"readonly"])
        self.assertEqual(doc[3:6], [1, 1, 1])
        self.assertIsInstance(doc[6], RespSet)
        self.assertTrue({b"@read", b"@string", b"@fast"} <= set(doc[6]))
        # Unknown command: a null in the array.
        self.assertEqual(self.c.command_raw("COMMAND", "INFO", "no-such-command"), b"*1\r\n_\r\n")

    def test_text_replies_are_verbatim(self):
        self.hello3()
        for args in (("INFO", "server"), ("CLIENT", "INFO"), ("CLIENT", "LIST")):
            reply = self.c.command(*args)
            self.assertIsInstance(reply, Verbatim, args)
            self.assertEqual(reply.format, b"txt", args)
            self.assertTrue(self.c.last_raw.startswith(b"="), args)
        self.assertIn(b"resp=3", bytes(self.c.command("CLIENT", "INFO")))

    def test_errors_are_unchanged(self):
        self.hello3()
        self.assertEqual(self.c.command_raw("GET"),
                         b"-ERR wrong number of arguments for 'get' command\r\n")
        self.c.command("SET", "s", "abc")
        self.assertEqual(self.c.command_raw("INCR", "s"),
                         b"-ERR value is not an integer or out of range\r\n")

    def test_hello2_switches_back(self):
        self.hello3()
        raw = self.c.command_raw("HELLO", "2")
        self.assertTrue(raw.startswith(b"*14\r\n"), raw)
        reply = h.parse_replies(raw)[0]
        fields = dict(zip(reply[0::2], reply[1::2]))
        self.assertEqual(set(fields), HELLO_KEYS)
        self.assertEqual(fields[b"proto"], 2)
        self.assertEqual(self.c.command_raw("GET", "missing"), b"$-1\r\n")
        self.c.command("SET", "k", "v")
        self.assertEqual(self.c.command_raw("MGET", "k", "missing"),
                         b"*2\r\n$1\r\nv\r\n$-1\r\n")
        self.assertEqual(self.c.command_raw("CONFIG", "GET", "maxmemory"),
                         b"*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n")
        self.assertIsInstance(self.c.command("INFO", "server"), bytes)
        self.assertTrue(self.c.last_raw.startswith(b"$"))
        self.assertIn(b"resp=2", self.c.command("CLIENT", "INFO"))

    def test_hello_bad_versions(self):
        self.assertEqual(self.c.command_raw("HELLO", "4"),
                         b"-NOPROTO unsupported protocol version\r\n")
        self.assertEqual(self.c.command_raw("HELLO", "1"),
                         b"-NOPROTO unsupported protocol version\r\n")
        self.assertEqual(self.c.command_raw("HELLO", "abc"),
                         b"-ERR Protocol version is not an integer or out of range\r\n")
        # The connection is still RESP2.
        self.assertEqual(self.c.command_raw("GET", "missing"), b"$-1\r\n")

    def test_hello_setname(self):
        reply = self.c.command("HELLO", "3", "SETNAME", "resp3-client")
        self.assertIsInstance(reply, dict)
        self.assertEqual(self.c.command("CLIENT", "GETNAME"), b"resp3-client")
        self.assertIn(b"name=resp3-client", bytes(self.c.command("CLIENT", "INFO")))
        self.assertEqual(self.c.command("HELLO", "3", "SETNAME", "bad name"),
                         b"ERR Client names cannot contain spaces, newlines or special characters.")
        self.assertEqual(self.c.command("CLIENT", "GETNAME"), b"resp3-client")


class Resp3Auth(unittest.TestCase):
    PASSWORD = "s3cret-pass"

    @classmethod
    def setUpClass(cls):
        cls.server = h.Server(args=["--requirepass", cls.PASSWORD],
                              password=cls.PASSWORD).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_hello_auth(self):
        with self.server.raw(auth=False) as c:
            self.assertEqual(c.command_raw("GET", "x"), b"-NOAUTH Authentication required.\r\n")
            err = c.command("HELLO", "3")
            self.assertIsInstance(err, ErrorReply)
            self.assertTrue(err.startswith(b"NOAUTH HELLO must be called with the client already "
                                           b"authenticated"), err)
            self.assertEqual(c.command_raw("HELLO", "3", "AUTH", "default", "wrong"),
                             b"-WRONGPASS invalid username-password pair or user is disabled.\r\n")
            reply = c.command("HELLO", "3", "AUTH", "default", self.PASSWORD, "SETNAME", "authed")
            self.assertIsInstance(reply, dict)
            self.assertEqual(reply[b"proto"], 3)
            self.assertEqual(c.command("CLIENT", "GETNAME"), b"authed")
            self.assertEqual(c.command_raw("GET", "x"), b"_\r\n")

    def test_hello2_auth(self):
        with self.server.raw(auth=False) as c:
            reply = c.command("HELLO", "2", "AUTH", "default", self.PASSWORD)
            self.assertIsInstance(reply, list)
            self.assertEqual(c.command_raw("GET", "x"), b"$-1\r\n")


if __name__ == "__main__":
    h.main(needs_redis_py=False)
