#!/usr/bin/env python3
"""Limits and malformed input: proto-max-bulk-len, client-query-buffer-limit,
maxclients, idle timeout, and the exact protocol errors (after which the
connection is closed while others keep working)."""

import socket
import time
import unittest

import harness as h

MB = 1024 * 1024


def send_all_or_closed(client, data):
    """Send data; the server may legitimately close the socket mid-way."""
    try:
        client.send(data)
        return True
    except (BrokenPipeError, ConnectionResetError):
        return False


class ProtocolErrors(h.ServerTestCase):

    CASES = [
        (b"*abc\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*1\r\nfoo\r\n", b"-ERR Protocol error: expected '$', got 'f'\r\n"),
        (b"*2\r\n$3\r\nGET\r\n:1\r\n", b"-ERR Protocol error: expected '$', got ':'\r\n"),
        (b"*1\r\n$abc\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
        (b"*1\r\n$-5\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
        (b"*1\r\n$600000000\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
        (b'SET "foo bar\r\n', b"-ERR Protocol error: unbalanced quotes in request\r\n"),
        (b"SET 'foo\r\n", b"-ERR Protocol error: unbalanced quotes in request\r\n"),
        (b"x" * 70000, b"-ERR Protocol error: too big inline request\r\n"),
        (b"*" + b"1" * 70000, b"-ERR Protocol error: too big mbulk count string\r\n"),
        (b"*1\r\n$" + b"1" * 70000, b"-ERR Protocol error: too big bulk count string\r\n"),
    ]

    def test_protocol_errors(self):
        with self.server.raw() as bystander:
            bystander.command("SET", "k", "v")
            for data, expected in self.CASES:
                with self.server.raw() as c:
                    c.send(b"PING\r\n" + data)
                    self.assertEqual(c.read_raw(), b"+PONG\r\n")
                    self.assertEqual(c.read_raw(), expected, data[:30])
                    self.assertTrue(c.expect_closed(5), f"still open after {data[:30]!r}")
                self.assertEqual(bystander.command("GET", "k"), b"v")
            self.assertEqual(bystander.command_raw("PING"), b"+PONG\r\n")

    def test_harmless_input(self):
        """Empty lines, *0 and *-1 are skipped; inline commands and quoting
        work."""
        with self.server.raw() as c:
            c.send(b"\r\n\n*0\r\n*-1\r\nPING\r\n")
            self.assertEqual(c.read_raw(), b"+PONG\r\n")
            c.send(b'SET "a b" "x\\ty\\x41"\r\nGET "a b"\r\n')
            self.assertEqual(c.read_raw(), b"+OK\r\n")
            self.assertEqual(c.read_raw(), b"$4\r\nx\tyA\r\n")
            c.send(b"SET q 'it''s'\r\n")
            self.assertEqual(c.read_raw(), b"-ERR Protocol error: unbalanced quotes in request\r\n")
        with self.server.raw() as c:
            c.send(b"  get   \"a b\"  \n")
            self.assertEqual(c.read_raw(), b"$4\r\nx\tyA\r\n")
            c.send(b"*2\r\n$3\r\nGET\r\n$3\r\na b\r\n")
            self.assertEqual(c.read_raw(), b"$4\r\nx\tyA\r\n")


class BulkAndQueryLimits(h.ServerTestCase):

    def tearDown(self):
        with self.server.raw() as c:
            c.command("CONFIG", "SET", "proto-max-bulk-len", str(512 * MB))
            c.command("CONFIG", "SET", "client-query-buffer-limit", str(1024 * MB))
        super().tearDown()

    def test_proto_max_bulk_len(self):
        with self.server.raw() as c:
            self.assertEqual(c.command("CONFIG", "SET", "proto-max-bulk-len", str(MB)), b"OK")
            self.assertEqual(c.command("CONFIG", "GET", "proto-max-bulk-len"),
                             [b"proto-max-bulk-len", str(MB).encode()])
            self.assertEqual(c.command("SET", "fits", b"a" * MB), b"OK")
            with self.server.raw() as big:
                big.send(b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%d\r\n" % (MB + 1))
                self.assertEqual(big.read_raw(), b"-ERR Protocol error: invalid bulk length\r\n")
                self.assertTrue(big.expect_closed(5))
            self.assertEqual(c.command("EXISTS", "big"), 0)
            too_long = b"ERR string exceeds maximum allowed size (proto-max-bulk-len)"
            self.assertEqual(c.command("APPEND", "fits", "b"), too_long)
            self.assertEqual(c.command("SETRANGE", "fits", str(MB), "b"), too_long)
            self.assertEqual(c.command("SETRANGE", "new", str(MB - 1), "b"), MB)
            self.assertEqual(c.command("STRLEN", "fits"), MB)
            self.assertEqual(c.command("CONFIG", "SET", "proto-max-bulk-len", "1000"),
                             b"ERR CONFIG SET failed (possibly related to argument "
                             b"'proto-max-bulk-len') - argument must be between 1048576 and "
                             b"9223372036854775807 inclusive")

    def test_client_query_buffer_limit(self):
        with self.server.raw() as c:
            self.assertEqual(c.command("CONFIG", "SET", "proto-max-bulk-len", str(4 * MB)), b"OK")
            self.assertEqual(c.command("CONFIG", "SET", "client-query-buffer-limit", str(MB)),
                             b"OK")
            self.assertEqual(c.command("SET", "under", b"u" * (MB - 4096)), b"OK")
            with self.server.raw() as big:
                sent = send_all_or_closed(big, h.encode_command("SET", "over", b"o" * (2 * MB)))
                if sent:
                    try:
                        reply = big.read_raw()
                    except (ConnectionError, OSError):
                        reply = None
                    self.assertIsNone(reply, "a client over the query buffer limit is "
                                             "dropped without a reply")
            self.assertEqual(c.command("EXISTS", "over"), 0)
            self.assertEqual(c.command("STRLEN", "under"), MB - 4096)
            self.assertEqual(c.command("PING"), b"PONG")


class MaxClients(unittest.TestCase):
    LIMIT = 4

    def test_maxclients(self):
        with h.Server(args=["--maxclients", str(self.LIMIT)]) as srv:
            time.sleep(0.2)  # let the readiness probe's connection go away
            clients = [srv.raw() for _ in range(self.LIMIT)]
            for c in clients:
                self.assertEqual(c.command("PING"), b"PONG")
            with srv.raw() as extra:
                self.assertEqual(extra.read_raw(), b"-ERR max number of clients reached\r\n")
                self.assertTrue(extra.expect_closed(5))
            for c in clients:
                self.assertEqual(c.command("PING"), b"PONG")
            stats = h.info_fields(clients[0], "stats")
            self.assertGreaterEqual(int(stats["rejected_connections"]), 1)
            self.assertEqual(h.info_fields(clients[0], "clients")["maxclients"], str(self.LIMIT))
            clients.pop().close()

            def can_connect():
                c = srv.raw()
                try:
                    return c.command("PING") == b"PONG"
                except ConnectionError:
                    return False
                finally:
                    c.close()
            self.assertTrue(h.wait_until(can_connect, 5), "a freed slot is reusable")
            for c in clients:
                c.close()


class IdleTimeout(unittest.TestCase):

    def test_timeout(self):
        with h.Server(args=["--timeout", "1"]) as srv:
            idle = srv.raw()
            busy = srv.raw()
            self.assertEqual(idle.command("PING"), b"PONG")
            start = time.monotonic()
            closed = False
            while time.monotonic() - start < 6:
                self.assertEqual(busy.command("PING"), b"PONG", "an active client is kept")
                idle.sock.settimeout(0.3)
                try:
                    data = idle.sock.recv(100)
                except socket.timeout:
                    continue
                except ConnectionResetError:
                    data = b""
                self.assertEqual(data, b"", "no reply was pending on the idle connection")
                closed = True
                break
            elapsed = time.monotonic() - start
            self.assertTrue(closed, "the idle client was not closed within 6 s")
            self.assertGreaterEqual(elapsed, 0.9, "closed before the timeout elapsed")
            self.assertEqual(busy.command("CONFIG", "GET", "timeout"), [b"timeout", b"1"])
            self.assertEqual(busy.command("CONFIG", "SET", "timeout", "0"), b"OK")
            idle.close()
            busy.close()


if __name__ == "__main__":
    h.main(needs_redis_py=False)
