#!/usr/bin/env python3
"""TLS on the node: redis-cli --tls and redis-py with ssl=True on the tls-port beside the plain
port, mutual TLS (tls-auth-clients) with a client of the wrong CA and a client with no
certificate, plaintext and garbage sent to the TLS port, handshakes that never finish,
CONFIG SET reloading the certificates, and replication over TLS in both directions with
Debian's redis-server as the peer.

The certificates are made by the test with the openssl CLI in a temporary directory: a CA,
a server and a client certificate it signed, and a second CA with its own server and client
certificates that the first CA does not trust.

Run against redis-server (--server "redis-server ...") every check shows what Redis does.
"""

import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

import harness as h

redis = h.require_redis_py()

REDIS_SERVER = os.environ.get("REDIS_SERVER", "redis-server")
BAD_FILE_ERR = ("CONFIG SET failed (possibly related to argument 'tls-cert-file') - Unable to "
                "update TLS configuration. Check server logs.")

CERTS = None  # the directory of certificates, made once


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def make_certs(addresses=("127.0.0.1",)):
    """CA, server, client; other-ca with other-server and other-client (valid for localhost
    and `addresses`). @return the directory."""
    d = tempfile.mkdtemp(prefix="pollux-tls-")
    p = lambda name: os.path.join(d, name)  # noqa: E731
    with open(p("san.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost" + "".join(f",IP:{a}" for a in addresses) + "\n")
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for ca in ("ca", "other-ca"):
        openssl("req", "-x509", "-new", *key, "-days", "2", "-keyout", p(ca + ".key"),
                "-out", p(ca + ".crt"), "-subj", f"/CN=Pollux {ca}")
    for name, ca in (("server", "ca"), ("client", "ca"), ("other-server", "other-ca"),
                     ("other-client", "other-ca")):
        openssl("req", "-new", *key, "-keyout", p(name + ".key"), "-out", p(name + ".csr"),
                "-subj", f"/CN={name}")
        openssl("x509", "-req", "-in", p(name + ".csr"), "-CA", p(ca + ".crt"), "-CAkey",
                p(ca + ".key"), "-CAcreateserial", "-days", "2", "-out", p(name + ".crt"),
                "-extfile", p("san.ext"))
    # The server key again, encrypted (tls-key-file-pass).
    openssl("pkey", "-in", p("server.key"), "-out", p("server-pass.key"), "-aes256",
            "-passout", "pass:s3cret")
    return d


def cert(name):
    return os.path.join(CERTS, name)


def setUpModule():
    global CERTS
    if shutil.which("openssl") is None:
        raise RuntimeError("the openssl CLI is missing (Debian: openssl; scripts/deps.sh --dev)")
    CERTS = make_certs()


def tearDownModule():
    if CERTS is not None:
        shutil.rmtree(CERTS, ignore_errors=True)


def tls_args(auth="yes", replication=False):
    return ["--tls-cert-file", cert("server.crt"), "--tls-key-file", cert("server.key"),
            "--tls-ca-cert-file", cert("ca.crt"), "--tls-auth-clients", auth,
            "--tls-replication", "yes" if replication else "no"]


class TlsServer(h.Server):
    """A server with a plain port (the harness's) and a tls-port, both free ones."""

    def __init__(self, args=(), cmd=None, **kw):
        super().__init__(args=args, cmd=cmd, **kw)
        self.tls_port = None

    def command_line(self, port):
        self.tls_port = h.free_port()
        return super().command_line(port) + ["--tls-port", str(self.tls_port)]

    def tls(self, certfile="client.crt", keyfile="client.key", ca="ca.crt", **kw):
        """A redis-py client on the TLS port."""
        kw.setdefault("socket_timeout", 30)
        return redis.Redis(host=h.HOST, port=self.tls_port, ssl=True,
                           ssl_ca_certs=cert(ca),
                           ssl_certfile=cert(certfile) if certfile else None,
                           ssl_keyfile=cert(keyfile) if keyfile else None, **kw)


def pollux_args():
    """Several nodes share this machine's cores: their workers sleep when idle."""
    return [] if h.Config.server_is_redis() else ["--pollux-idle-sleep-us", "200"]


def tls_node(args=(), redis_peer=False, auth="yes", replication=False):
    base = ["--save", "", "--repl-diskless-sync-delay", "0"]
    cmd = [REDIS_SERVER, "--appendonly", "no"] if redis_peer else None
    extra = [] if redis_peer else pollux_args()
    return TlsServer(args=base + extra + tls_args(auth, replication) + list(args),
                     cmd=cmd).start()


def cli(srv, *args, certfile="client.crt", keyfile="client.key", ca="ca.crt"):
    """redis-cli --tls; returns (exit status, stdout + stderr)."""
    argv = [h.Config.tool("redis-cli"), "--tls", "--cacert", cert(ca)]
    if certfile:
        argv += ["--cert", cert(certfile), "--key", cert(keyfile)]
    argv += ["-h", h.HOST, "-p", str(srv.tls_port), *args]
    p = subprocess.run(argv, capture_output=True, timeout=60)
    return p.returncode, (p.stdout + p.stderr).decode()


def closed_by_server(sock, timeout):
    """Whether the server closes sock within timeout (reading and dropping what it sends)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            if sock.recv(4096) == b"":
                return True
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True
    return False


class Clients(unittest.TestCase):
    """One server with tls-auth-clients yes; its clients over TLS and over the plain port."""

    @classmethod
    def setUpClass(cls):
        extra = [] if h.Config.server_is_redis() else ["--pollux-tls-handshake-timeout", "2"]
        cls.srv = tls_node(extra)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def assert_served(self, client=None):
        c = client or self.srv.tls()
        try:
            self.assertTrue(c.ping())
        finally:
            if client is None:
                c.close()

    def test_redis_cli(self):
        rc, out = cli(self.srv, "SET", "k", "over-tls")
        self.assertEqual((rc, out.strip()), (0, "OK"))
        rc, out = cli(self.srv, "GET", "k")
        self.assertEqual((rc, out.strip()), (0, "over-tls"))
        # the same keyspace on the plain port
        self.assertEqual(self.srv.redis().get("k"), b"over-tls")

    def test_redis_py_pipeline_and_large_values(self):
        c = self.srv.tls()
        big = os.urandom(3 * 1024 * 1024 + 17)  # many records each way
        self.assertTrue(c.set("big", big))
        self.assertEqual(c.get("big"), big)
        p = c.pipeline(transaction=False)
        for i in range(5000):
            p.set(f"key:{i}", f"value:{i}" * 10)
        for i in range(5000):
            p.get(f"key:{i}")
        replies = p.execute()
        self.assertEqual(replies[5000:], [f"value:{i}".encode() * 10 for i in range(5000)])
        self.assertEqual(self.srv.redis().dbsize(), c.dbsize())
        c.close()

    def test_redis_benchmark(self):
        bench = h.Config.tool("redis-benchmark")
        argv = [bench, "--tls", "--cacert", cert("ca.crt"), "--cert", cert("client.crt"),
                "--key", cert("client.key"), "-h", h.HOST, "-p", str(self.srv.tls_port),
                "-n", "20000", "-c", "8", "-P", "16", "-t", "set,get", "-q", "--csv"]
        p = subprocess.run(argv, capture_output=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr)
        rows = [ln for ln in p.stdout.decode().splitlines() if ln.startswith('"SET"')
                or ln.startswith('"GET"')]
        self.assertEqual(len(rows), 2, p.stdout)

    def test_client_without_certificate_refused(self):
        good = self.srv.tls()
        self.assert_served(good)
        rc, out = cli(self.srv, "PING", certfile=None)
        self.assertNotIn("PONG", out)
        with self.assertRaises((redis.exceptions.ConnectionError, ssl.SSLError, OSError)):
            self.srv.tls(certfile=None, keyfile=None).ping()
        self.assert_served(good)
        self.assert_served()
        good.close()

    def test_client_of_another_ca_refused(self):
        good = self.srv.tls()
        self.assert_served(good)
        rc, out = cli(self.srv, "PING", certfile="other-client.crt",
                      keyfile="other-client.key")
        self.assertNotIn("PONG", out)
        with self.assertRaises((redis.exceptions.ConnectionError, ssl.SSLError, OSError)):
            self.srv.tls(certfile="other-client.crt", keyfile="other-client.key").ping()
        self.assert_served(good)
        good.close()

    def test_client_refuses_server_of_another_ca(self):
        rc, out = cli(self.srv, "PING", ca="other-ca.crt")
        self.assertNotIn("PONG", out)
        self.assert_served()

    def test_plaintext_to_tls_port(self):
        good = self.srv.tls()
        with socket.create_connection((h.HOST, self.srv.tls_port), timeout=10) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            self.assertTrue(closed_by_server(s, 20), "plaintext RESP left open")
        with socket.create_connection((h.HOST, self.srv.tls_port), timeout=10) as s:
            s.sendall(b"PING\r\n")
            self.assertTrue(closed_by_server(s, 20), "inline PING left open")
        self.assert_served(good)
        good.close()

    def test_garbage_to_tls_port(self):
        good = self.srv.tls()
        for seed in range(5):
            data = bytes((seed * 131 + i * 7919) & 0xFF for i in range(4096))
            with socket.create_connection((h.HOST, self.srv.tls_port), timeout=10) as s:
                try:
                    s.sendall(data)
                except (ConnectionResetError, BrokenPipeError):
                    continue
                self.assertTrue(closed_by_server(s, 20), f"garbage {seed} left open")
        # a TLS record header announcing more than a record may hold
        with socket.create_connection((h.HOST, self.srv.tls_port), timeout=10) as s:
            s.sendall(b"\x16\x03\x01\xff\xff" + b"\x00" * 64)
            self.assertTrue(closed_by_server(s, 20))
        self.assert_served(good)
        self.assertEqual(self.srv.redis().ping(), True)
        good.close()

    def test_close_notify_after_a_command(self):
        """A command and close_notify in one segment, the TCP connection left open: the
        command is answered, then the server closes too."""
        ctx = ssl.create_default_context(cafile=cert("ca.crt"))
        ctx.check_hostname = False
        ctx.load_cert_chain(cert("client.crt"), cert("client.key"))
        inc, outg = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = ctx.wrap_bio(inc, outg)
        with socket.create_connection((h.HOST, self.srv.tls_port), timeout=20) as s:
            def pump_out():
                data = outg.read()
                if data:
                    s.sendall(data)

            def pump_in():
                data = s.recv(65536)
                if data:
                    inc.write(data)
                else:
                    inc.write_eof()
                return data
            while True:
                try:
                    tls.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    pump_out()
                    self.assertTrue(pump_in(), "closed during the handshake")
            pump_out()
            tls.write(b"*1\r\n$4\r\nPING\r\n")
            try:
                tls.unwrap()
            except ssl.SSLWantReadError:
                pass
            s.sendall(outg.read())  # the command and close_notify, in one write
            got, closed = b"", False
            while not closed:
                try:
                    chunk = tls.read(4096)
                    if not chunk:
                        closed = True
                    got += chunk
                except ssl.SSLWantReadError:
                    try:
                        if not pump_in():
                            closed = True
                    except socket.timeout:
                        self.fail(f"not closed after close_notify (read {got!r})")
                except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                    closed = True
            self.assertEqual(got, b"+PONG\r\n")
        self.assert_served()

    def test_reply_before_quit_arrives_whole(self):
        """A large reply then QUIT to a client that reads only once the server has encrypted
        all of it: the connection closes after the last encrypted byte, not before."""
        value = os.urandom(1 << 20)
        self.assertTrue(self.srv.redis().set("quit:big", value))
        ctx = ssl.create_default_context(cafile=cert("ca.crt"))
        ctx.check_hostname = False
        ctx.load_cert_chain(cert("client.crt"), cert("client.key"))
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.settimeout(30)
        raw.connect((h.HOST, self.srv.tls_port))
        with ctx.wrap_socket(raw) as s:
            s.sendall(b"*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$5\r\ndrain\r\n"
                      b"*2\r\n$3\r\nGET\r\n$8\r\nquit:big\r\n*1\r\n$4\r\nQUIT\r\n")
            plain = self.srv.redis()

            def replies_encrypted():
                mine = [c for c in plain.client_list() if c.get("name") == "drain"]
                return not mine or mine[0]["omem"] == "0"
            # The server has encrypted every reply (or dropped the connection): what is left is
            # in its TLS buffer and the sockets, which the client has not read.
            self.assertTrue(h.wait_until(replies_encrypted, 60))
            got = b""
            while True:
                try:
                    chunk = s.recv(65536)
                except (ssl.SSLEOFError, ssl.SSLZeroReturnError, ConnectionResetError):
                    break
                if not chunk:
                    break
                got += chunk
        want = b"+OK\r\n$%d\r\n%s\r\n+OK\r\n" % (len(value), value)
        self.assertEqual(len(got), len(want))
        self.assertEqual(got, want)

    @h.skip_if_real_redis("pollux-tls-handshake-timeout is Pollux's")
    def test_handshake_that_never_finishes(self):
        # Peers that connect and stop: before the ClientHello, and half way through one.
        stalled = []
        for i in range(6):
            s = socket.create_connection((h.HOST, self.srv.tls_port), timeout=10)
            if i % 2:
                s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
            stalled.append(s)
        # They hold no worker: others are served meanwhile, on both ports.
        for _ in range(20):
            self.assert_served()
            self.assertTrue(self.srv.redis().ping())
        # And they are closed once pollux-tls-handshake-timeout (2 s here) has passed.
        for s in stalled:
            self.assertTrue(closed_by_server(s, 30), "a stalled handshake was kept")
            s.close()

    def test_auth_clients_optional_and_no(self):
        c = self.srv.redis()
        keep = self.srv.tls()
        self.assert_served(keep)
        try:
            self.assertTrue(c.config_set("tls-auth-clients", "optional"))
            self.assert_served(self.srv.tls(certfile=None, keyfile=None))
            with self.assertRaises((redis.exceptions.ConnectionError, ssl.SSLError, OSError)):
                self.srv.tls(certfile="other-client.crt", keyfile="other-client.key").ping()
            self.assertTrue(c.config_set("tls-auth-clients", "no"))
            self.assert_served(self.srv.tls(certfile="other-client.crt",
                                            keyfile="other-client.key"))
            with self.assertRaises(redis.exceptions.ResponseError) as e:
                c.config_set("tls-auth-clients", "maybe")
            self.assertIn("argument(s) must be one of the following: no, yes, optional",
                          str(e.exception))
        finally:
            c.config_set("tls-auth-clients", "yes")
        with self.assertRaises((redis.exceptions.ConnectionError, ssl.SSLError, OSError)):
            self.srv.tls(certfile=None, keyfile=None).ping()
        self.assert_served(keep)  # opened before any of it
        keep.close()

    def test_protocols(self):
        """tls-protocols TLSv1.3: a client that stops at TLS 1.2 is refused, then served again
        once TLSv1.2 is back."""
        def client(max_version):
            ctx = ssl.create_default_context(cafile=cert("ca.crt"))
            ctx.check_hostname = False
            ctx.maximum_version = max_version
            ctx.load_cert_chain(cert("client.crt"), cert("client.key"))
            with socket.create_connection((h.HOST, self.srv.tls_port), timeout=20) as raw:
                with ctx.wrap_socket(raw) as s:
                    s.sendall(b"PING\r\n")
                    return s.recv(64), s.version()
        c = self.srv.redis()
        try:
            self.assertTrue(c.config_set("tls-protocols", "TLSv1.3"))
            self.assertEqual(client(ssl.TLSVersion.TLSv1_3), (b"+PONG\r\n", "TLSv1.3"))
            with self.assertRaises((ssl.SSLError, ConnectionError)):
                client(ssl.TLSVersion.TLSv1_2)
        finally:
            self.assertTrue(c.config_set("tls-protocols", ""))
        self.assertEqual(client(ssl.TLSVersion.TLSv1_2), (b"+PONG\r\n", "TLSv1.2"))

    def test_config_get(self):
        got = self.srv.redis().config_get("tls-*")
        self.assertEqual(got["tls-port"], str(self.srv.tls_port))
        self.assertEqual(got["tls-auth-clients"], "yes")
        self.assertEqual(got["tls-session-caching"], "yes")
        self.assertEqual(got["tls-session-cache-size"], "20480")
        self.assertEqual(got["tls-session-cache-timeout"], "300")
        self.assertEqual(got["tls-protocols"], "")
        self.assertEqual(got["tls-key-file-pass"], "")


class Reload(unittest.TestCase):
    """CONFIG SET of the certificates: a bad file refused, the old context kept; a good one
    used by new connections while the open ones go on."""

    def test_reload(self):
        srv = tls_node()
        try:
            c = srv.redis()
            before = srv.tls()
            self.assertTrue(before.set("k", "v"))
            for name, bad in (("tls-cert-file", "/nonexistent/cert.pem"),
                              ("tls-cert-file", cert("other-ca.key"))):
                with self.assertRaises(redis.exceptions.ResponseError) as e:
                    c.config_set(name, bad)
                self.assertEqual(str(e.exception), BAD_FILE_ERR)
            with self.assertRaises(redis.exceptions.ResponseError) as e:
                c.config_set("tls-protocols", "TLSv1.2 SSLv3")
            self.assertIn("Unable to update TLS configuration", str(e.exception))
            self.assertEqual(c.config_get("tls-cert-file")["tls-cert-file"], cert("server.crt"))
            self.assertEqual(srv.tls().get("k"), b"v")  # the old context still serves

            # The second CA's server certificate; clients now need other-ca to trust us.
            r = c.execute_command("CONFIG", "SET", "tls-cert-file", cert("other-server.crt"),
                                  "tls-key-file", cert("other-server.key"))
            self.assertEqual(r, b"OK")
            with self.assertRaises((redis.exceptions.ConnectionError, ssl.SSLError, OSError)):
                srv.tls().ping()
            self.assertEqual(srv.tls(ca="other-ca.crt").get("k"), b"v")
            rc, out = cli(srv, "GET", "k", ca="other-ca.crt")
            self.assertEqual((rc, out.strip()), (0, "v"))
            self.assertEqual(before.get("k"), b"v")  # opened before the reload

            # An encrypted key with its password.
            r = c.execute_command("CONFIG", "SET", "tls-cert-file", cert("server.crt"),
                                  "tls-key-file", cert("server-pass.key"),
                                  "tls-key-file-pass", "s3cret")
            self.assertEqual(r, b"OK")
            self.assertEqual(srv.tls().get("k"), b"v")
            before.close()
        finally:
            srv.stop()

    def test_reload_refused_with_another_parameter(self):
        """A good certificate set together with a parameter that fails: nothing changes, even
        after a later CONFIG SET of something else."""
        srv = tls_node()
        try:
            c = srv.redis()
            with self.assertRaises(redis.exceptions.ResponseError) as e:
                c.execute_command("CONFIG", "SET", "tls-cert-file", cert("other-server.crt"),
                                  "tls-key-file", cert("other-server.key"),
                                  "dir", "/nonexistent/dir")
            self.assertIn("possibly related to argument 'dir'", str(e.exception))
            self.assertTrue(c.config_set("timeout", "0"))
            self.assertEqual(c.config_get("tls-cert-file")["tls-cert-file"], cert("server.crt"))
            self.assertTrue(srv.tls().ping())  # still the first CA's server certificate
        finally:
            srv.stop()

    @h.skip_if_real_redis("starts polluxd with a missing certificate")
    def test_bad_certificate_at_start(self):
        srv = TlsServer(args=["--tls-cert-file", "/nonexistent.pem", "--tls-key-file",
                              cert("server.key"), "--tls-ca-cert-file", cert("ca.crt")])
        with self.assertRaises(h.ServerError):
            srv.start(attempts=1)
        self.assertIn("Failed to load certificate: /nonexistent.pem", srv.log_tail(200))
        self.assertIn("Failed to configure TLS. Check logs for more info.", srv.log_tail(200))


def run_tls_only(argv, tls_port, workdir, check, password=None):
    """Start argv (a server with no plain port) in workdir, wait for a PONG on tls_port,
    run check(client, proc), stop the server."""
    with open(os.path.join(workdir, "log"), "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=log, cwd=workdir,
                                start_new_session=True)
    try:
        def ping():
            try:
                c = redis.Redis(host=h.HOST, port=tls_port, ssl=True,
                                ssl_ca_certs=cert("ca.crt"), ssl_certfile=cert("client.crt"),
                                ssl_keyfile=cert("client.key"), socket_timeout=5,
                                password=password)
                return c.ping() and c
            except (redis.exceptions.ConnectionError, OSError):
                return False
        c = h.wait_until(ping, h.Config.start_timeout)
        if not c:
            with open(os.path.join(workdir, "log"), errors="replace") as f:
                raise AssertionError("no PONG on the tls-port; the server's log ends:\n" +
                                     "".join(f.readlines()[-15:]))
        try:
            check(c, proc)
        finally:
            c.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=h.Config.stop_timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class TlsOnly(unittest.TestCase):
    """port 0 with a tls-port: no plain port at all."""

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="pollux-it-")
        self.addCleanup(shutil.rmtree, self.workdir, ignore_errors=True)

    def only_tls_listens(self, proc, tls_port):
        listening = subprocess.run(["ss", "-ltnpH"], capture_output=True).stdout.decode()
        mine = [ln for ln in listening.splitlines() if f"pid={proc.pid}," in ln]
        self.assertTrue(mine, listening)
        self.assertTrue(all(f":{tls_port} " in ln for ln in mine), mine)

    def test_tls_only(self):
        tls_port = h.free_port()
        argv = h.Config.server_cmd + ["--port", "0", "--bind", h.HOST, "--tls-port",
                                      str(tls_port), "--save", ""] + tls_args()

        def check(c, proc):
            self.assertEqual(c.config_get("port")["port"], "0")
            self.only_tls_listens(proc, tls_port)
        run_tls_only(argv, tls_port, self.workdir, check)

    def test_hardened_configuration_of_the_docs(self):
        """docs/security.md's hardened node configuration, with this test's addresses,
        certificates and password, loads and does what the docs say."""
        here = os.path.dirname(os.path.abspath(__file__))
        with open(os.path.join(here, "..", "..", "docs", "security.md")) as f:
            doc = f.read()
        block = doc[doc.index("## A hardened configuration"):]
        conf = block[block.index("```\n") + 4:block.index("```", block.index("```\n") + 4)]
        tls_port = h.free_port()
        subst = {"bind 10.0.1.5": f"bind {h.HOST}", "tls-port 6379": f"tls-port {tls_port}",
                 "/etc/pollux/tls/node.crt": cert("server.crt"),
                 "/etc/pollux/tls/node.key": cert("server.key"),
                 "/etc/pollux/tls/ca.crt": cert("ca.crt"),
                 "10.0.2.0/24 10.0.1.0/24": f"{h.HOST}/32",
                 "<32 random bytes: openssl rand -base64 32>": "hardened-pw",
                 "<the same>": "hardened-pw"}
        for old, new in subst.items():
            self.assertIn(old, conf)
            conf = conf.replace(old, new)
        if h.Config.server_is_redis():  # Redis has no source allowlist
            conf = "\n".join(ln for ln in conf.split("\n")
                             if not ln.startswith("pollux-allow-sources"))
        path = os.path.join(self.workdir, "hardened.conf")
        with open(path, "w") as f:
            f.write(conf + "save \"\"\n")
        # the config file comes first, then the harness's options (--server-args)
        argv = h.Config.server_cmd[:1] + [path] + h.Config.server_cmd[1:]

        def check(c, proc):
            self.only_tls_listens(proc, tls_port)
            with self.assertRaises(redis.exceptions.ResponseError) as e:
                c.execute_command("KEYS", "*")
            self.assertIn("unknown command", str(e.exception))
            with self.assertRaises(redis.exceptions.ResponseError) as e:
                c.config_set("dir", "/tmp")
            self.assertIn("can't set protected config", str(e.exception))
            with self.assertRaises(redis.exceptions.ResponseError) as e:
                c.execute_command("DEBUG", "HELP")
            self.assertIn("DEBUG command not allowed", str(e.exception))
            anonymous = redis.Redis(host=h.HOST, port=tls_port, ssl=True,
                                    ssl_ca_certs=cert("ca.crt"), socket_timeout=5)
            with self.assertRaises(redis.exceptions.AuthenticationError):
                anonymous.get("k")  # tls-auth-clients optional: no certificate, no password
            anonymous.close()
        run_tls_only(argv, tls_port, self.workdir, check, password="hardened-pw")


def info(srv, section="replication"):
    with srv.raw() as c:
        return h.info_fields(c, section)


def wait_synced(primary, replica, timeout=60):
    def up():
        return info(replica).get("master_link_status") == "up"
    assert h.wait_until(up, timeout), (info(replica), replica.log_tail())

    def caught_up():
        want = int(info(primary)["master_repl_offset"])
        return int(info(replica).get("slave_repl_offset", -1)) >= want
    assert h.wait_until(caught_up, timeout), (info(primary), info(replica))


class Replication(unittest.TestCase):
    """A replica with tls-replication yes on the primary's tls-port: every pairing of the
    server under test and Debian's redis-server."""

    def pair(self, primary_redis, replica_redis):
        primary = tls_node(redis_peer=primary_redis)
        replica = None
        try:
            pc = primary.redis()
            for i in range(2000):
                pc.set(f"before:{i}", f"v{i}")
            pc.set("big", b"x" * (1 << 20))
            replica = tls_node(redis_peer=replica_redis, replication=True)
            rc = replica.redis()
            self.assertTrue(rc.execute_command("REPLICAOF", h.HOST, str(primary.tls_port)))
            wait_synced(primary, replica)
            for i in range(2000):
                pc.set(f"after:{i}", f"w{i}")
            # every write acknowledged (polluxd's merge of the shards' feeds is asynchronous:
            # master_repl_offset alone may be read before the last writes reach the stream)
            self.assertEqual(pc.execute_command("WAIT", "1", "30000"), 1)
            wait_synced(primary, replica)
            self.assertEqual(rc.dbsize(), pc.dbsize())
            self.assertEqual(rc.get("before:1999"), b"v1999")
            self.assertEqual(rc.get("after:1999"), b"w1999")
            self.assertEqual(len(rc.get("big")), 1 << 20)
            # the primary sees its replica announce the tls-port
            fields = info(primary)
            slave = [v for k, v in fields.items() if k.startswith("slave")
                     and "state=online" in v]
            self.assertTrue(slave and f"port={replica.tls_port}" in slave[0], fields)
        finally:
            if replica is not None:
                replica.stop()
            primary.stop()

    def test_server_replica_of_server(self):
        self.pair(False, False)

    def test_server_replica_of_redis(self):
        self.pair(True, False)

    def test_redis_replica_of_server(self):
        self.pair(False, True)

    @h.skip_if_real_redis("reads polluxd's log line")
    def test_replica_refuses_primary_of_another_ca(self):
        primary = tls_node(["--tls-cert-file", cert("other-server.crt"), "--tls-key-file",
                            cert("other-server.key")])
        replica = tls_node(replication=True)
        try:
            primary.redis().set("k", "v")
            replica.redis().execute_command("REPLICAOF", h.HOST, str(primary.tls_port))
            # the attempt is refused (and the next ones, a second apart)
            failed = "TLS handshake with MASTER failed"
            self.assertTrue(h.wait_until(lambda: failed in replica.log_tail(200), 30),
                            replica.log_tail())
            self.assertNotEqual(info(replica).get("master_link_status"), "up")
            self.assertIsNone(replica.redis().get("k"))
        finally:
            replica.stop()
            primary.stop()


if __name__ == "__main__":
    h.main(requires=("redis-cli", "redis-benchmark", "redis-server"))
