#!/usr/bin/env python3
"""pollux-allow-sources on the kernel backend: a client whose address is not
in the list is reset at accept, before a byte of it is read, and counted in
INFO's pollux_rejected_sources; the list comes from the command line, the
config file and CONFIG SET (new connections obey a new list at once).

Only loopback addresses are used: the server binds 127.0.0.1 (and ::1), and a
client picks its source address by binding to 127.0.0.1 or 127.0.0.2 before it
connects, as the protected-mode tests of test_config.py do. The DPDK backend's
side (a RST at SYN) is in test_dpdk.py."""

import os
import shutil
import socket
import subprocess
import tempfile
import unittest

import harness as h

REFUSE_LOCAL = "127.0.0.2/32"  # 127.0.0.1 is not in it


def connect_from(port, source, host=h.HOST, family=socket.AF_INET):
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        s.bind((source, 0))
        s.settimeout(30)
        s.connect((host, port))
    except OSError:
        s.close()
        raise
    return s


def reply_from(port, source, host=h.HOST, family=socket.AF_INET):
    """What a client at `source` reads after sending PING: the bytes, up to
    the end of the stream or the first reply line; b"" when the server closed
    (or reset) the connection without a word."""
    try:
        s = connect_from(port, source, host, family)
    except ConnectionResetError:
        return b""  # on loopback the reset can beat connect() back to the client
    with s:
        try:
            s.sendall(b"PING\r\n")
        except (BrokenPipeError, ConnectionResetError):
            return b""
        data = b""
        while not data.endswith(b"\r\n"):
            try:
                chunk = s.recv(4096)
            except ConnectionResetError:
                return data
            if not chunk:
                return data
            data += chunk
        return data


class SourceServer(h.Server):
    """A server whose readiness is checked, and whose clients connect, from
    `source` (the default client address may be outside its allowlist)."""

    def __init__(self, source, **kw):
        super().__init__(**kw)
        self.source = source

    def _ping(self, port):
        try:
            return reply_from(port, self.source).startswith(b"+PONG")
        except OSError:
            return False

    def client(self, source=None):
        c = h.RawClient.__new__(h.RawClient)
        c.sock = connect_from(self.port, source or self.source)
        c.reader = h.RespReader(c._fill)
        c.last_raw = b""
        return c


def rejected(c):
    return int(h.info_fields(c, "stats")["pollux_rejected_sources"])


class AllowSources(unittest.TestCase):

    def setUp(self):
        if h.Config.server_is_redis():
            self.skipTest("pollux-allow-sources is a polluxd parameter")

    def test_command_line_list(self):
        srv = SourceServer("127.0.0.2", args=["--pollux-allow-sources", REFUSE_LOCAL,
                                              "--protected-mode", "no"])
        with srv, srv.client() as c:
            before = rejected(c)
            total = int(h.info_fields(c, "stats")["total_connections_received"])
            for _ in range(3):
                self.assertEqual(reply_from(srv.port, "127.0.0.1"), b"")
            self.assertEqual(reply_from(srv.port, "127.0.0.2"), b"+PONG\r\n")
            self.assertEqual(rejected(c), before + 3)
            # a refused client never became a client: not counted as one, not
            # in rejected_connections (that is maxclients and protected mode)
            st = h.info_fields(c, "stats")
            self.assertEqual(int(st["total_connections_received"]), total + 1)
            self.assertEqual(int(st["rejected_connections"]), 0)
            self.assertEqual(c.command("CONFIG", "GET", "pollux-allow-sources"),
                             [b"pollux-allow-sources", REFUSE_LOCAL.encode()])

    def test_config_file_list(self):
        workdir = tempfile.mkdtemp(prefix="pollux-it-allow-")
        conf = os.path.join(workdir, "allow.conf")
        with open(conf, "w") as f:
            f.write("protected-mode no\npollux-allow-sources 10.0.0.0/8 127.0.0.2 ::1/128\n")
        srv = SourceServer("127.0.0.2", conf=conf, workdir=workdir)
        with srv, srv.client() as c:
            self.assertEqual(reply_from(srv.port, "127.0.0.1"), b"")
            self.assertEqual(c.command("PING"), b"PONG")
            self.assertEqual(rejected(c), 1)

    def test_config_rewrite_keeps_the_list(self):
        workdir = tempfile.mkdtemp(prefix="pollux-it-allow-")
        conf = os.path.join(workdir, "allow.conf")
        with open(conf, "w") as f:
            f.write("protected-mode no\n")
        listed = "127.0.0.2/32 10.0.0.0/8 ::1/128"
        srv = SourceServer("127.0.0.2", conf=conf, workdir=workdir)
        with srv, srv.client() as c:
            self.assertEqual(c.command("CONFIG", "SET", "pollux-allow-sources", listed), b"OK")
            self.assertEqual(c.command("CONFIG", "REWRITE"), b"OK")
        with open(conf) as f:
            self.assertIn(f'pollux-allow-sources "{listed}"\n', f.read())
        srv = SourceServer("127.0.0.2", conf=conf, workdir=workdir)
        with srv, srv.client() as c:
            self.assertEqual(c.command("CONFIG", "GET", "pollux-allow-sources"),
                             [b"pollux-allow-sources", listed.encode()])
            self.assertEqual(reply_from(srv.port, "127.0.0.1"), b"")
        shutil.rmtree(workdir, ignore_errors=True)

    def test_config_set_applies_to_new_connections(self):
        srv = SourceServer("127.0.0.2", args=["--protected-mode", "no"])
        with srv, srv.client() as admin, srv.client("127.0.0.1") as old:
            # accepted by the server (not only by the kernel's backlog) before the change
            self.assertEqual(old.command("PING"), b"PONG")
            self.assertEqual(rejected(admin), 0)
            self.assertEqual(admin.command("CONFIG", "SET", "pollux-allow-sources",
                                           "127.0.0.2/32 10.0.0.0/8"), b"OK")
            # the next connection from outside is refused ...
            self.assertEqual(reply_from(srv.port, "127.0.0.1"), b"")
            self.assertEqual(rejected(admin), 1)
            # ... one already open is not touched
            self.assertEqual(old.command("PING"), b"PONG")
            self.assertEqual(reply_from(srv.port, "127.0.0.2"), b"+PONG\r\n")
            # a bad list is refused with its reason; the list in force stays
            for bad, why in (("127.0.0.1/8", "invalid CIDR '127.0.0.1/8': it has address bits "
                                             "set past its prefix length"),
                             ("127.0.0.0/33", "invalid CIDR '127.0.0.0/33': the prefix length "
                                              "of an IPv4 address must be 0 to 32"),
                             ("10.0.0.0/8 nowhere", "invalid CIDR 'nowhere': not an IPv4 or "
                                                    "IPv6 address with an optional "
                                                    "/prefix-length")):
                reply = admin.command("CONFIG", "SET", "pollux-allow-sources", bad)
                self.assertIsInstance(reply, h.ErrorReply)
                self.assertEqual(bytes(reply).decode(),
                                 "ERR CONFIG SET failed (possibly related to argument "
                                 f"'pollux-allow-sources') - {why}")
            self.assertEqual(reply_from(srv.port, "127.0.0.1"), b"")
            self.assertEqual(rejected(admin), 2)
            # empty: everyone again
            self.assertEqual(admin.command("CONFIG", "SET", "pollux-allow-sources", ""), b"OK")
            self.assertEqual(reply_from(srv.port, "127.0.0.1"), b"+PONG\r\n")
            self.assertEqual(rejected(admin), 2)

    def test_protected_mode_still_applies(self):
        # an allowed source that is not "local" still meets protected mode
        srv = SourceServer("127.0.0.1", args=["--pollux-allow-sources", "127.0.0.0/8"])
        with srv, srv.client() as c:
            self.assertTrue(reply_from(srv.port, "127.0.0.2").startswith(b"-DENIED "))
            self.assertEqual(rejected(c), 0)
            self.assertEqual(c.command("CONFIG", "SET", "pollux-allow-sources", "127.0.0.1"),
                             b"OK")
            self.assertEqual(reply_from(srv.port, "127.0.0.2"), b"")
            self.assertEqual(rejected(c), 1)

    def test_outgoing_replication_not_affected(self):
        # the replica's list names no address of its primary: its own connection to the
        # primary is outgoing and works; the primary's list then refuses that replica
        with h.Server(args=["--save", ""]) as primary, primary.raw() as p:
            replica = SourceServer("127.0.0.2", args=[
                "--protected-mode", "no", "--pollux-allow-sources", "127.0.0.2/32",
                "--replicaof", h.HOST, str(primary.port)])
            with replica, replica.client() as r:
                self.assertEqual(p.command("SET", "k", "v"), b"OK")
                self.assertTrue(h.wait_until(lambda: r.command("GET", "k") == b"v", 30),
                                h.info_fields(r, "replication"))
                self.assertEqual(h.info_fields(r, "replication")["master_link_status"], "up")
                self.assertEqual(rejected(r), 0)
                self.assertEqual(p.command("CONFIG", "SET", "pollux-allow-sources",
                                           "127.0.0.2/32"), b"OK")
                self.assertEqual(p.command("CLIENT", "KILL", "TYPE", "replica"), 1)
                self.assertTrue(h.wait_until(lambda: rejected(p) >= 1, 30))
                self.assertEqual(h.info_fields(r, "replication")["master_link_status"], "down")

    def test_ipv6(self):
        if not h.ipv6_loopback():
            self.skipTest("no IPv6 loopback on this host")
        srv = SourceServer("127.0.0.1", args=["--bind", "127.0.0.1 ::1",
                                              "--pollux-allow-sources", "127.0.0.0/8"])
        with srv, srv.client() as c:
            self.assertEqual(reply_from(srv.port, "::1", "::1", socket.AF_INET6), b"")
            self.assertEqual(rejected(c), 1)
            self.assertEqual(c.command("CONFIG", "SET", "pollux-allow-sources",
                                       "127.0.0.1/32 ::1/128"), b"OK")
            self.assertEqual(reply_from(srv.port, "::1", "::1", socket.AF_INET6), b"+PONG\r\n")
            self.assertEqual(c.command("CONFIG", "SET", "pollux-allow-sources",
                                       "127.0.0.1/32 2001:db8::/32"), b"OK")
            self.assertEqual(reply_from(srv.port, "::1", "::1", socket.AF_INET6), b"")
            self.assertEqual(rejected(c), 2)

    def test_bad_list_at_start(self):
        workdir = tempfile.mkdtemp(prefix="pollux-it-allow-")
        self.addCleanup(shutil.rmtree, workdir, True)
        conf = os.path.join(workdir, "bad.conf")
        with open(conf, "w") as f:
            f.write("pollux-allow-sources 10.0.0.0/8 fe80::/300\n")
        argv = h.Config.server_cmd[:1] + [conf] + h.Config.server_cmd[1:]
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=workdir,
                              timeout=60)
        self.assertEqual(proc.returncode, 1, proc.stdout)
        err = proc.stderr.decode(errors="replace")
        self.assertIn("*** FATAL CONFIG FILE ERROR", err)
        self.assertIn(">>> 'pollux-allow-sources 10.0.0.0/8 fe80::/300'", err)
        self.assertIn("invalid CIDR 'fe80::/300': the prefix length of an IPv6 address must be "
                      "0 to 128", err)


if __name__ == "__main__":
    h.main()
