#!/usr/bin/env python3
"""The control API under random and hostile input: pollux-control must answer every request
with a reply or an error, and stay alive and responsive.

Three kinds of input, all seeded (POLLUX_FUZZ_SEED, default 1; POLLUX_FUZZ_COUNT requests,
default 3000):

  * the regression corpus, tests/corpus/control-api/*.resp (raw request bytes), each sent on
    a fresh connection, followed by a PING on another connection: the daemon is still
    serving, and what it sent back is well-formed RESP;
  * byte-level mutations of the corpus (flips, inserts, deletions, splices), checked the
    same way;
  * generated requests: POLLUX verbs (real and invented) with options (real and invented,
    empty, huge, binary), SENTINEL subcommands and other commands, each of which must get
    exactly one reply on its connection.

An address given to register-node is always a loopback one (a fuzzed one could send the
daemon to the network or to a resolver). A request that goes unanswered is written to the
work directory as failing-N.resp, ready to join the corpus.

    python3 test_control_fuzz.py --control build/control/pollux-control \
        --ctl build/control/polluxctl --node-server build/dataplane/polluxd
"""

import os
import random
import select
import shutil
import socket
import tempfile
import threading
import time
import unittest

import control_harness as ch
import harness as h

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus", "control-api")
SEED = int(os.environ.get("POLLUX_FUZZ_SEED", "1"))
COUNT = int(os.environ.get("POLLUX_FUZZ_COUNT", "3000"))
MUTATIONS = int(os.environ.get("POLLUX_FUZZ_MUTATIONS", "600"))
# A longer argument, or a longer request, is refused with an error and the connection is
# closed; the client may see the reset before the error.
MAX_BULK = 4 << 20
MAX_QUERY = 8 << 20

OPTIONS = [
    "node-id", "availability-zone", "node-type", "replication-group-id",
    "replication-group-description", "primary-node-id", "replica-node-ids", "multi-az",
    "automatic-failover-enabled", "cache-parameter-group-name", "port", "apply-immediately",
    "new-replica-count", "replicas-to-remove", "node-group-id", "cache-parameter-group-family",
    "description", "source", "parameter", "reset-all-parameters", "source-identifier",
    "source-type", "duration", "max-records",
]
JUNK_VERBS = ["", "verbs", "VERBS", "describe", "register-node ", "Describe-Nodes", "\x00",
              "create-replication-group\x00"]
SENTINEL_SUBS = ["masters", "master", "replicas", "slaves", "sentinels",
                 "get-master-addr-by-name", "is-master-down-by-addr", "myid", "ckquorum",
                 "failover", "reset", "set", "monitor", "remove", "config", "debug", ""]
OTHER = ["INFO", "ROLE", "COMMAND", "PING", "ECHO", "CLIENT", "HELLO", "GET", "SET", "CONFIG",
         "AUTH", "SELECT", "\x00", ""]


class Fuzzer:
    def __init__(self, seed, node_port):
        self.r = random.Random(seed)
        self.node_port = node_port
        self.verbs = []

    def huge(self):
        n = self.r.choice([70_000, 1 << 20, (4 << 20) - 8, (4 << 20) + 1])
        return bytes([self.r.randrange(256)]) * n

    def binary(self):
        return bytes(self.r.randrange(256) for _ in range(self.r.randrange(1, 40)))

    def address(self):
        p = self.node_port
        return self.r.choice([f"{ch.HOST}:{p}", f"localhost:{p}", f"[::1]:{p}", f"{ch.HOST}:1",
                              f"{ch.HOST}:0", f"{ch.HOST}:65536", f"{ch.HOST}:", ":", "",
                              f"{ch.HOST}", f"{ch.HOST}:{p}:{p}", f"[{ch.HOST}]:{p}",
                              f"{ch.HOST}:-1", f"{ch.HOST}:{p}x"])

    def value(self):
        r = self.r
        k = r.randrange(100)
        if k < 3:
            return self.huge()
        if k < 15:
            return self.binary()
        if k < 25:
            return ""
        if k < 35:
            return r.choice(["yes", "no", "true", "maybe", "0", "-1", "1", "65535", "100000",
                             "99999999999999999999", "1e3", " 1", "0x10"])
        if k < 50:
            return r.choice(["n1", "n2", "n3", "rg1", "rg2", "pg1", "default.redis7",
                             "default.redis6.x", "redis7", "redis6.x", "redis5.0", "az-a",
                             "az-b", "cache.t3.micro", "cache.r6g.large", "-x", "a--b",
                             "x" * 41, "x" * 300])
        if k < 65:
            name = r.choice(["timeout", "maxmemory-policy", "databases", "notify-keyspace-events",
                             "client-output-buffer-limit-normal-hard-limit",
                             "reserved-memory-percent", "close-on-slave-write",
                             "list-max-listpack-size", "", "unknown"])
            val = r.choice(["", "0", "-1", "allkeys-lru", "yes", "AKE", "99999999999", "x" * 200])
            return r.choice([f"{name}={val}", name, "=", "==", f"{name}=={val}"])
        if k < 80:
            return ",".join(r.choice(["n1", "n2", "n3", "", "n9"])
                            for _ in range(r.randrange(0, 12)))
        return "".join(r.choice("abc-_.,=:\r\n \"'\\") for _ in range(r.randrange(1, 30)))

    def pollux(self):
        r = self.r
        verb = r.choice(self.verbs) if r.random() < 0.85 else r.choice(JUNK_VERBS)
        args = ["POLLUX", verb]
        for _ in range(r.choice([0, 1, 2, 3, 4, 6, 8, 70])):
            name = r.choice(OPTIONS) if r.random() < 0.85 else self.value()
            if isinstance(name, bytes) and len(name) > 1000:
                name = name[:1000]
            args += [name, self.value()]
        if r.random() < 0.1:
            args.append(self.value())  # an odd number
        if verb.lower() == "register-node" and r.random() < 0.7:
            args += ["address", self.address()]
        return self.safe(args)

    def safe(self, args):
        """Every address value, under any spelling of the option, is a loopback one."""
        for i in range(2, len(args) - 1, 2):
            name = args[i].encode() if isinstance(args[i], str) else args[i]
            if b"address" in name.lower():
                args[i + 1] = self.address()
        if len(args) % 2 == 1 and len(args) > 2:
            last = args[-1].encode() if isinstance(args[-1], str) else args[-1]
            if b"address" in last.lower():
                args[-1] = "x"
        return args

    def sentinel(self):
        r = self.r
        return ["SENTINEL", r.choice(SENTINEL_SUBS)] + [self.value()
                                                         for _ in range(r.randrange(0, 6))]

    def other(self):
        r = self.r
        cmd = r.choice(OTHER)
        if cmd == "HELLO":
            return ["HELLO", r.choice(["2", "3", "4", "x", ""])] + [
                r.choice(["SETNAME", "AUTH", "x"]) for _ in range(r.randrange(0, 3))]
        return [cmd] + [self.value() for _ in range(r.randrange(0, 4))]

    def request(self):
        k = self.r.random()
        return self.pollux() if k < 0.75 else self.sentinel() if k < 0.9 else self.other()

    def mutate(self, corpus):
        r = self.r
        data = bytearray(r.choice(corpus)[1])
        for _ in range(r.randrange(1, 5)):
            at = r.randrange(len(data) + 1)
            op = r.randrange(6)
            if op == 0 and data:
                data[min(at, len(data) - 1)] ^= 1 << r.randrange(8)
            elif op == 1:
                data[at:at] = bytes([r.choice(b"\r\n\0 \"'$*:-+=," + bytes([r.randrange(256)]))])
            elif op == 2:
                del data[at:at + r.randrange(1, 17)]
            elif op == 3:
                data[at:at] = data[at:at + r.randrange(1, 65)]
            elif op == 4:
                del data[at:]
            else:
                data += r.choice(corpus)[1]
        return bytes(data)


def load_corpus():
    out = []
    for name in sorted(os.listdir(CORPUS)):
        if name.endswith(".resp"):
            with open(os.path.join(CORPUS, name), "rb") as f:
                out.append((name, f.read()))
    return out


class ControlTestCase(unittest.TestCase):
    """pollux-control, and one node when NODE is set."""

    NODE = False

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="pollux-ctl-fuzz-")
        self.control = ch.Control(self.workdir).start()
        self.node = ch.Node("n1", self.workdir).start() if self.NODE else None
        self.saved = 0

    def tearDown(self):
        failed = ch.test_failed(self)
        try:
            self.control.stop()
        finally:
            if self.node:
                self.node.stop()
            if failed or ch.Opts.keep:
                print(f"work directory kept: {self.workdir}")
            else:
                shutil.rmtree(self.workdir, ignore_errors=True)

    def ping(self):
        with self.control.raw_client() as c:
            return c.command("PING")


class ControlFuzz(ControlTestCase):

    NODE = True

    def save(self, data):
        path = os.path.join(self.workdir, f"failing-{self.saved}.resp")
        self.saved += 1
        with open(path, "wb") as f:
            f.write(data)
        return path

    def alive(self, what, data):
        """pollux-control still answers PING (on a new connection) after `data`."""
        if not self.control.alive():
            self.fail(f"pollux-control died after {what} (saved as {self.save(data)})\n"
                      + self.control.tail())
        try:
            self.assertEqual(self.ping(), b"PONG")
        except (OSError, ConnectionError, h.ProtocolError) as e:
            self.fail(f"no PING answer after {what}: {e} (saved as {self.save(data)})\n"
                      + self.control.tail())

    def send_raw(self, what, data):
        """Raw bytes on a fresh connection; the daemon keeps serving and writes only RESP."""
        s = socket.create_connection((ch.HOST, self.control.port), timeout=60)
        try:
            try:
                s.sendall(self.control.auth_command() + data)
            except OSError:
                pass  # closed on a protocol error before everything was sent
            self.alive(what, data)
            # The PING was answered after this input was read: its replies are here (a
            # big one perhaps in part).
            s.setblocking(False)
            got = b""
            try:
                while len(got) < (64 << 20):
                    chunk = s.recv(1 << 16)
                    if not chunk:
                        break
                    got += chunk
            except OSError:
                pass
        finally:
            s.close()
        try:
            rd = h.RespReader(lambda: (_ for _ in ()).throw(h.Incomplete()))
            rd.feed(got)
            while rd.pos < len(rd.buf):
                rd.read()
        except h.Incomplete:
            pass  # cut short by our read, not by the server
        except (h.ProtocolError, ValueError) as e:
            self.fail(f"{what}: not RESP in the answer: {e} (saved as {self.save(data)})")

    def test_corpus(self):
        corpus = load_corpus()
        self.assertGreater(len(corpus), 10)
        for name, data in corpus:
            self.send_raw(name, data)

    def test_mutated_corpus(self):
        corpus = load_corpus()
        fz = Fuzzer(SEED, self.node.port)
        sent = 0
        for i in range(MUTATIONS):
            data = fz.mutate(corpus)
            if b"address" in data.lower():
                continue  # a mutated address could leave loopback
            self.send_raw(f"mutation {i} (seed {SEED})", data)
            sent += 1
        self.assertGreater(sent, MUTATIONS // 2)

    def test_generated_requests(self):
        fz = Fuzzer(SEED, self.node.port)
        with self.control.raw_client() as c:
            fz.verbs = [v.decode() for v in c.command("POLLUX", "VERBS")]
        self.assertIn("describe-nodes", fz.verbs)
        c = self.control.raw_client()
        errors = replies = 0
        try:
            for i in range(COUNT):
                args = fz.request()
                data = h.encode_command(*args)
                try:
                    c.send(data)
                except OSError:
                    pass  # the daemon closed after a protocol error: the reply is waiting
                too_big = any(len(a) > MAX_BULK for a in args) or len(data) > MAX_QUERY
                try:
                    reply = c.read_reply()
                except (OSError, ConnectionError) as e:
                    if not too_big:
                        self.fail(f"request {i} (seed {SEED}) got no reply: {e!r} "
                                  f"(saved as {self.save(data)})\n{self.control.tail()}")
                    reply = h.ErrorReply(b"ERR Protocol error: reset")  # RST beat the error
                except h.ProtocolError as e:
                    self.fail(f"request {i} (seed {SEED}) got no reply: {e!r} "
                              f"(saved as {self.save(data)})\n{self.control.tail()}")
                replies += 1
                errors += isinstance(reply, h.ErrorReply)
                if isinstance(reply, h.ErrorReply) and reply.startswith(b"ERR Protocol error"):
                    c.close()  # the daemon closes after a protocol error
                    c = self.control.raw_client()
                elif args[0] == "HELLO" and isinstance(reply, dict):
                    pass  # RESP3 from now on; RespReader reads both
                if i % 250 == 0:
                    self.alive(f"request {i}", data)
        finally:
            c.close()
        self.assertEqual(replies, COUNT)
        self.assertGreater(errors, COUNT // 4)  # most random requests are refused
        self.alive("the last request", b"")
        # The daemon still does its job: the one real node is described.
        with self.control.raw_client() as c:
            nodes = c.command("POLLUX", "describe-nodes")
        self.assertIsInstance(nodes, (list, dict))


def status_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} for pid {pid}")


def instrumented_by_tsan(path):
    with open(path, "rb") as f:
        return b"__tsan_init" in f.read()


# A 14 KB reply for an 80-byte request.
BIG = h.encode_command("POLLUX", "describe-cache-parameters", "cache-parameter-group-name",
                       "default.redis7")


class SlowClients(ControlTestCase):
    """A client that does not read its replies costs a bounded amount of memory and is
    disconnected; the others are served meanwhile."""

    def setUp(self):
        # Under AddressSanitizer freed memory waits in a quarantine (256 MB by default),
        # which would count as growth here: keep it small for this daemon.
        self.asan_options = os.environ.get("ASAN_OPTIONS")
        os.environ["ASAN_OPTIONS"] = ":".join(filter(None, [self.asan_options,
                                                            "quarantine_size_mb=8"]))
        try:
            super().setUp()
        finally:
            if self.asan_options is None:
                del os.environ["ASAN_OPTIONS"]
            else:
                os.environ["ASAN_OPTIONS"] = self.asan_options

    def test_client_that_never_reads_is_dropped(self):
        pid = self.control.proc.pid
        peak_before = status_kb(pid, "VmHWM")
        s = socket.create_connection((ch.HOST, self.control.port), timeout=60)
        s.sendall(self.control.auth_command())
        s.setblocking(False)
        p = select.poll()
        gone = select.POLLHUP | select.POLLERR | select.POLLRDHUP
        p.register(s, select.POLLOUT | gone)
        burst = BIG * 1000
        sent = served = 0
        closed = False
        deadline = time.monotonic() + 120  # the daemon drops it after 5 s without a read
        try:
            while not closed and time.monotonic() < deadline:
                for _, ev in p.poll(200):
                    if ev & gone:
                        closed = True
                    elif ev & select.POLLOUT:
                        try:
                            sent += s.send(burst)
                        except OSError:
                            closed = True
                # Other clients are served while this one floods.
                if sent > len(burst):
                    self.assertEqual(self.ping(), b"PONG")
                    served += 1
        finally:
            s.close()
        self.assertTrue(closed, f"a client that never reads was not disconnected "
                                f"({sent} bytes of requests sent)\n{self.control.tail()}")
        self.assertGreater(sent, 2 * len(BIG) * 1000)
        self.assertGreater(served, 0)
        # At most the 8 MiB of unread replies (in a buffer that grew by doubling) and one
        # reply more; without the limit it grew by hundreds of megabytes. ThreadSanitizer's
        # shadow memory counts in the RSS too.
        growth_mb = (status_kb(pid, "VmHWM") - peak_before) / 1024
        limit_mb = 64 * (4 if instrumented_by_tsan(ch.Opts.control) else 1)
        self.assertLess(growth_mb, limit_mb, f"peak RSS grew by {growth_mb:.0f} MB")
        with open(self.control.log, "rb") as f:
            self.assertIn(b"bytes of replies not read", f.read())
        with self.control.raw_client() as c:
            self.assertIn(b"CacheParameterGroups",
                          c.command("POLLUX", "describe-cache-parameter-groups"))

    def test_pipelining_client_that_reads_gets_every_reply(self):
        """Replies beyond the limit hold back its requests, they do not cost it its
        connection."""
        n = 2000  # about 28 MB of replies, well past the 8 MiB limit
        with self.control.raw_client() as c:
            t = threading.Thread(target=c.sock.sendall, args=(BIG * n,))
            t.start()
            try:
                for i in range(n):
                    reply = c.read_reply()
                    self.assertIn(b"Parameters", reply, f"reply {i}")
            finally:
                t.join()
            self.assertEqual(c.command("PING"), b"PONG")


if __name__ == "__main__":
    ch.main()
