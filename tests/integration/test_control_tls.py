#!/usr/bin/env python3
"""TLS on pollux-control's API and Sentinel port: polluxctl with --tls/--ca-file and with a
profile, a server certificate from another CA refused, plaintext to the TLS port closed,
redis-cli --tls and redis-py's Sentinel client over TLS discovering the primary, and a
TLS-only pollux-control (--port 0). The certificates are made by the test with the openssl
command-line tool.

    python3 test_control_tls.py --control build/control/pollux-control \
        --ctl build/control/polluxctl --node-server build/dataplane/polluxd
"""

import os
import shutil
import socket
import ssl
import subprocess

import control_harness as ch
import harness as h

redis = h.require_redis_py()
from redis.sentinel import Sentinel

HOST = ch.HOST


def openssl(workdir, *args):
    subprocess.run(["openssl", *args], cwd=workdir, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=120)


def make_certs(workdir):
    """A CA and a server certificate it signed for 127.0.0.1 and localhost; another CA."""
    openssl(workdir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
            "-out", "ca.crt", "-days", "2", "-subj", "/CN=Pollux test CA")
    openssl(workdir, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key",
            "-out", "server.csr", "-subj", "/CN=localhost")
    with open(os.path.join(workdir, "san.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl(workdir, "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "san.cnf")
    openssl(workdir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key",
            "-out", "other.crt", "-days", "2", "-subj", "/CN=Some other CA")
    return {name: os.path.join(workdir, name)
            for name in ("ca.crt", "server.crt", "server.key", "other.crt")}


class TlsCluster(ch.ClusterTestCase):
    ZONES = ("az-a", "az-b")

    def setUp(self):
        if shutil.which("openssl") is None:
            self.fail("the openssl command-line tool is needed (Debian package openssl)")
        self.c = ch.Cluster(self.ZONES)
        self.certs = make_certs(self.c.workdir)
        self.tls_port = h.free_port()
        self.c.control.extra += ["--tls-port", str(self.tls_port),
                                 "--tls-cert-file", self.certs["server.crt"],
                                 "--tls-key-file", self.certs["server.key"]]
        self.c.start()

    def ctl_tls(self, *args, flags=None, env=None, output="json"):
        """polluxctl against the TLS port; flags default to --tls --ca-file <the CA>."""
        if flags is None:
            flags = ["--tls", "--ca-file", self.certs["ca.crt"]]
        argv = [ch.Opts.ctl, "--endpoint", f"{HOST}:{self.tls_port}", "--output", output,
                *flags, *args]
        return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=60, text=True, env=env or self.c.control.ctl_env())

    def test_polluxctl_over_tls(self):
        p = self.ctl_tls("create-replication-group", "--replication-group-id", "rg1",
                         "--primary-node-id", "n1", "--replica-node-ids", "n2")
        self.assertEqual(p.returncode, 0, p.stderr)
        p = self.ctl_tls("wait-replication-group-available", "--replication-group-id", "rg1")
        self.assertEqual(p.returncode, 0, p.stderr)
        # A reply of many TLS records is the same as on the plain port.
        p = self.ctl_tls("describe-cache-parameters", "--cache-parameter-group-name",
                         "default.redis6.x")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertGreater(len(p.stdout), 16 * 1024)  # more than one TLS record
        plain = self.c.ctl("describe-cache-parameters", "--cache-parameter-group-name",
                           "default.redis6.x", output="json")
        self.assertEqual(p.stdout, plain.stdout)
        # The same from a profile: user, password, tls and ca_file in the credentials file.
        creds = os.path.join(self.c.workdir, "credentials")
        with open(creds, "w") as f:
            f.write(f"[ops]\nuser = {ch.ADMIN[0]}\npassword = {ch.ADMIN[1]}\n"
                    f"tls = yes\nca_file = {self.certs['ca.crt']}\n")
        env = self.c.control.ctl_env(auth=None)
        env["POLLUX_CREDENTIALS_FILE"] = creds
        p = self.ctl_tls("describe-replication-groups", flags=["--profile", "ops"], env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn('"ReplicationGroupId": "rg1"', p.stdout)
        # redis-cli speaks to the TLS port as to a Redis Sentinel with TLS.
        if shutil.which("redis-cli"):
            out = subprocess.run(["redis-cli", "-h", HOST, "-p", str(self.tls_port), "--tls",
                                  "--cacert", self.certs["ca.crt"], "--user", ch.ADMIN[0],
                                  "--pass", ch.ADMIN[1], "--no-auth-warning",
                                  "SENTINEL", "get-master-addr-by-name", "rg1"],
                                 stdout=subprocess.PIPE, text=True, timeout=30).stdout
            self.assertEqual(out.split(), [HOST, str(self.c.nodes["n1"].port)])

    def test_pubsub_over_tls(self):
        """+switch-master reaches a subscriber on the TLS port (a push, not a reply)."""
        self.c.create_group("rg1", "n1", ("n2",))
        ctx = ssl.create_default_context(cafile=self.certs["ca.crt"])
        with socket.create_connection((HOST, self.tls_port), timeout=30) as raw:
            with ctx.wrap_socket(raw, server_hostname=HOST) as s:
                s.sendall(h.encode_command("AUTH", *ch.ADMIN)
                          + h.encode_command("SUBSCRIBE", "+switch-master"))
                got = b""
                while b"+switch-master\r\n:1\r\n" not in got:
                    chunk = s.recv(4096)
                    self.assertTrue(chunk, got)
                    got += chunk
                self.assertTrue(got.startswith(b"+OK\r\n"), got)
                self.c.ctl_ok("test-failover", "--replication-group-id", "rg1")
                want = f"rg1 {HOST} {self.c.nodes['n1'].port} {HOST} {self.c.nodes['n2'].port}"
                while want.encode() not in got:
                    chunk = s.recv(4096)
                    self.assertTrue(chunk, got)
                    got += chunk

    def test_wrong_ca_and_plaintext_refused(self):
        p = self.ctl_tls("describe-nodes", flags=["--ca-file", self.certs["other.crt"]])
        self.assertEqual(p.returncode, 255, p.stderr)
        self.assertIn("certificate verification failed", p.stderr)
        # No CA given: the system's CAs do not know the test CA either.
        p = self.ctl_tls("describe-nodes", flags=["--tls"])
        self.assertEqual(p.returncode, 255, p.stderr)
        self.assertIn("certificate verification failed", p.stderr)
        # Plaintext RESP to the TLS port: closed, no reply.
        p = self.ctl_tls("describe-nodes", flags=[])
        self.assertEqual(p.returncode, 255, p.stderr)
        with socket.create_connection((HOST, self.tls_port), timeout=10) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            got = b""
            try:
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    got += chunk
            except ConnectionResetError:
                pass
            self.assertNotIn(b"PONG", got)
            self.assertFalse(got.startswith(b"+") or got.startswith(b"-"), got)
        # The daemon serves on, on both ports.
        self.assertTrue(ch._ping(self.c.control.port, auth=self.c.control.auth))
        p = self.ctl_tls("describe-nodes")
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_redis_py_sentinel_over_tls(self):
        self.c.create_group("rg1", "n1", ("n2",))
        sentinel = Sentinel([(HOST, self.tls_port)], socket_timeout=10,
                            sentinel_kwargs={"username": ch.ADMIN[0], "password": ch.ADMIN[1],
                                             "ssl": True,
                                             "ssl_ca_certs": self.certs["ca.crt"],
                                             "socket_timeout": 10})
        self.assertEqual(sentinel.discover_master("rg1"), (HOST, self.c.nodes["n1"].port))
        self.assertEqual(sentinel.discover_slaves("rg1"), [(HOST, self.c.nodes["n2"].port)])
        primary = sentinel.master_for("rg1", socket_timeout=10)
        self.assertTrue(primary.set("over-tls", "1"))
        replica = self.c.nodes["n2"].redis()
        self.wait(lambda: replica.get("over-tls") == b"1", what="the write on the replica")
        # A Sentinel client that trusts another CA finds nothing.
        wrong = Sentinel([(HOST, self.tls_port)], socket_timeout=10,
                         sentinel_kwargs={"username": ch.ADMIN[0], "password": ch.ADMIN[1],
                                          "ssl": True, "ssl_ca_certs": self.certs["other.crt"],
                                          "socket_timeout": 10})
        with self.assertRaises(redis.sentinel.MasterNotFoundError):
            wrong.discover_master("rg1")


def tls_ping(port, ca, cert=None, key=None):
    """PING over TLS (as the open API of a daemon without users answers it): the reply, or
    None when the connection is refused or closed."""
    ctx = ssl.create_default_context(cafile=ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    try:
        with socket.create_connection((HOST, port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=HOST) as s:
                s.sendall(b"*1\r\n$4\r\nPING\r\n")
                return s.recv(64) or None
    except (ssl.SSLError, OSError):
        return None


class TlsOnly(ch.ClusterTestCase):
    """--port 0 with --tls-port: no plaintext port at all; mutual TLS."""

    def setUp(self):
        self.c = ch.Cluster(("az-a",))

    def test_mutual_tls(self):
        certs = make_certs(self.c.workdir)
        w = self.c.workdir
        openssl(w, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out",
                "client.csr", "-subj", "/CN=pollux-client")
        openssl(w, "x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", "client.crt", "-days", "2")
        port = h.free_port()
        proc = subprocess.Popen([ch.Opts.control, "--port", "0", "--tls-port", str(port),
                                 "--bind", HOST, "--state", os.path.join(w, "mtls.db"),
                                 "--tls-cert-file", certs["server.crt"],
                                 "--tls-key-file", certs["server.key"],
                                 "--tls-ca-cert-file", certs["ca.crt"], "--tls-auth-clients"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            client = (os.path.join(w, "client.crt"), os.path.join(w, "client.key"))
            self.assertTrue(h.wait_until(
                lambda: tls_ping(port, certs["ca.crt"], *client) == b"+PONG\r\n", 30),
                "a client with a certificate of the CA is served")
            self.assertIsNone(tls_ping(port, certs["ca.crt"]), "no client certificate")
        finally:
            proc.terminate()
            out, _ = proc.communicate(timeout=15)
        self.assertEqual(proc.returncode, 0, out)

    def test_tls_only(self):
        certs = make_certs(self.c.workdir)
        port = h.free_port()
        proc = subprocess.Popen([ch.Opts.control, "--port", "0", "--tls-port", str(port),
                                 "--bind", HOST, "--state",
                                 os.path.join(self.c.workdir, "tls-only.db"),
                                 "--tls-cert-file", certs["server.crt"],
                                 "--tls-key-file", certs["server.key"]],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            argv = [ch.Opts.ctl, "--endpoint", f"{HOST}:{port}", "--ca-file", certs["ca.crt"],
                    "describe-nodes"]
            ok = h.wait_until(lambda: subprocess.run(
                argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30,
                env=self.c.control.ctl_env(auth=None)).returncode == 0, 30)
            self.assertTrue(ok, "polluxctl over TLS to a TLS-only pollux-control")
        finally:
            proc.terminate()
            out, _ = proc.communicate(timeout=15)
        self.assertEqual(proc.returncode, 0, out)
        self.assertIn(f"TLS on port {port} only", out)
        # Files that do not go together: refused at start, with the reason.
        p = subprocess.run([ch.Opts.control, "--port", "0", "--tls-port", str(port),
                            "--bind", HOST, "--state", os.path.join(self.c.workdir, "x.db"),
                            "--tls-cert-file", certs["server.crt"],
                            "--tls-key-file", os.path.join(self.c.workdir, "other.key")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("other.key", p.stdout)


if __name__ == "__main__":
    ch.main()
