"""Shared machinery for the integration tests.

Every test file is a standalone script:

    python3 test_x.py --server "redis-server --save '' --appendonly no"
    python3 test_x.py --server build/dataplane/polluxd --server-args "--pollux-workers 2"

This module provides
  * the command line (server under test, external tools) and the runner that
    maps "a needed tool is missing" to exit status 77 (meson's skip),
  * Server: start the server under test on a free loopback port, wait until it
    answers PING, hand out clients, stop it with SIGTERM and check that it
    exited 0 without sanitizer reports,
  * RawClient: a small RESP2/RESP3 client on a plain socket, for what
    redis-py 4.3 cannot do (RESP3, malformed input, byte-exact replies),
  * helpers: INFO parsing, Redis Cluster key slots (to pick keys that land on
    different shards), polling with a deadline.
"""

import argparse
import atexit
import functools
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

SKIP_EXIT = 77

# Printed by ASan, LSan, UBSan and TSan; any of them fails the test that
# owned the server.
SANITIZER_RE = re.compile(
    r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|ThreadSanitizer")

HOST = "127.0.0.1"


class Config:
    """What the command line selected; filled in by main()."""

    server_cmd = ["redis-server", "--save", "", "--appendonly", "no"]
    tools = {}
    start_timeout = 30.0
    stop_timeout = 10.0
    keep = False

    @classmethod
    def server_is_redis(cls):
        """True when the server under test is real Redis, not polluxd."""
        return os.path.basename(cls.server_cmd[0]).startswith("redis-server")

    @classmethod
    def tool(cls, name):
        return cls.tools.get(name)


def require_redis_py():
    """The redis module, or exit 77 (skip) when this interpreter lacks it."""
    try:
        import redis
    except ImportError:
        print(f"SKIP: the redis module is not importable by {sys.executable}", file=sys.stderr)
        sys.exit(SKIP_EXIT)
    return redis


def _split_server(value):
    # A path that exists is one word even if it contains blanks (meson hands
    # us the binary's full path); anything else is a shell-like command line.
    if os.path.isfile(value) and os.access(value, os.X_OK):
        return [value]
    return shlex.split(value)


def _find_tool(name, explicit, env):
    for cand in (explicit, os.environ.get(env), shutil.which(name)):
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    return None


def main(requires=(), needs_redis_py=True):
    """Parse the command line, check the tools, run the unittest cases of
    the calling script and exit with 0, 1 or 77."""
    ap = argparse.ArgumentParser(add_help=True)
    ap.add_argument("--server", default=os.environ.get("POLLUX_TEST_SERVER"),
                    help="command line of the server under test "
                         "(default: redis-server --save '' --appendonly no)")
    ap.add_argument("--server-args", default=os.environ.get("POLLUX_TEST_SERVER_ARGS", ""),
                    help="extra arguments appended to the server command line")
    ap.add_argument("--redis-server", help="reference redis-server (differential test)")
    ap.add_argument("--redis-cli")
    ap.add_argument("--redis-benchmark")
    ap.add_argument("--start-timeout", type=float, default=30.0)
    ap.add_argument("--stop-timeout", type=float, default=10.0)
    ap.add_argument("--keep", action="store_true",
                    help="keep server work directories (logs) after the run")
    opts, rest = ap.parse_known_args()

    if opts.server:
        Config.server_cmd = _split_server(opts.server)
    Config.server_cmd = Config.server_cmd + shlex.split(opts.server_args)
    Config.start_timeout = opts.start_timeout
    Config.stop_timeout = opts.stop_timeout
    Config.keep = opts.keep
    Config.tools = {
        "redis-server": _find_tool("redis-server", opts.redis_server, "REDIS_SERVER"),
        "redis-cli": _find_tool("redis-cli", opts.redis_cli, "REDIS_CLI"),
        "redis-benchmark": _find_tool("redis-benchmark", opts.redis_benchmark,
                                      "REDIS_BENCHMARK"),
    }

    exe = Config.server_cmd[0]
    if os.sep in exe:
        # Servers run in their own temporary directory.
        exe = Config.server_cmd[0] = os.path.abspath(exe)
    if shutil.which(exe) is None:
        print(f"server under test not found: {exe}", file=sys.stderr)
        sys.exit(1)
    for name in requires:
        if Config.tool(name) is None:
            print(f"SKIP: {name} not found", file=sys.stderr)
            sys.exit(SKIP_EXIT)
    if needs_redis_py:
        require_redis_py()

    print(f"server under test: {shlex.join(Config.server_cmd)}"
          f"{' (real Redis)' if Config.server_is_redis() else ''}", flush=True)
    prog = unittest.main(module="__main__", argv=[sys.argv[0]] + rest, exit=False,
                         verbosity=2)
    sys.exit(0 if prog.result.wasSuccessful() else 1)


# ---------------------------------------------------------------------------
# Server process
# ---------------------------------------------------------------------------

_live_servers = []


@atexit.register
def _kill_leftovers():
    for srv in list(_live_servers):
        srv._kill()


def free_port():
    """A port that was free a moment ago: bind to port 0 and let the kernel
    choose, then release it for the server."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _port_in_use(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((HOST, port)) == 0


def _listening_inodes(port):
    """Inodes of sockets listening on this TCP port, or None without /proc."""
    inodes = set()
    found_table = False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        found_table = True
        for line in lines:
            parts = line.split()
            local, state, inode = parts[1], parts[3], parts[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    return inodes if found_table else None


def _process_tree(root):
    """root and its descendants (a launcher script may fork the server)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def _owns_listener(pid, port):
    """True unless /proc shows that the listener on port belongs to some
    process outside our server's process tree."""
    inodes = _listening_inodes(port)
    if not inodes:
        return True  # cannot tell; trust the PING
    try:
        tree = _process_tree(pid)
    except OSError:
        return True
    for p in tree:
        try:
            fds = os.listdir(f"/proc/{p}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{p}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                return True
    return False


class ServerError(AssertionError):
    pass


class Server:
    """One server-under-test process on a private port and work directory.

    args are appended to the command line (Redis style: "--maxclients", "4");
    conf is the path of a config file, placed first like redis-server wants.
    """

    def __init__(self, args=(), conf=None, cmd=None, password=None, workdir=None):
        self.cmd = list(cmd) if cmd is not None else list(Config.server_cmd)
        self.args = [str(a) for a in args]
        self.conf = conf
        self.password = password
        self.port = None
        self.proc = None
        self.own_workdir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="pollux-it-")
        self.stderr_path = os.path.join(self.workdir, "stderr.log")
        self.stdout_path = os.path.join(self.workdir, "stdout.log")
        self.exit_checked = False

    # -- lifecycle ----------------------------------------------------------

    def command_line(self, port):
        argv = self.cmd[:1]
        if self.conf:
            argv.append(self.conf)
        return argv + self.cmd[1:] + ["--port", str(port), "--bind", HOST] + self.args

    def start(self, attempts=6):
        last, port = "", 0
        for _ in range(attempts):
            port = free_port()
            if _port_in_use(port):
                continue
            ok, last, retry = self._try_start(port)
            if ok:
                self.port = port
                _live_servers.append(self)
                return self
            if not retry:
                break
        raise ServerError(f"server did not start: {shlex.join(self.command_line(port))}\n{last}")

    def _try_start(self, port):
        """(started, why not, worth another port)"""
        argv = self.command_line(port)
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            # A session of its own, so that a launcher script and whatever it
            # started can be killed together (see _kill).
            self.proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         cwd=self.workdir, start_new_session=True)
        deadline = time.monotonic() + Config.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                # Possibly lost a race for the port.
                return False, (f"exited with {self.proc.returncode} before answering PING\n"
                               + self.log_tail()), True
            if self._ping(port):
                if self.proc.poll() is None and _owns_listener(self.proc.pid, port):
                    return True, "", False
                # Somebody else answered on this port; try another one.
                self._kill()
                return False, "port taken by another process", True
            time.sleep(0.05)
        self._kill()
        return (False, f"no PING reply within {Config.start_timeout}s\n" + self.log_tail(),
                False)

    def _ping(self, port):
        try:
            with socket.create_connection((HOST, port), timeout=1.0) as s:
                s.sendall(b"*1\r\n$4\r\nPING\r\n")
                data = s.recv(64)
        except OSError:
            return False
        return data.startswith(b"+PONG") or data.startswith(b"-NOAUTH")

    def _kill(self):
        """SIGKILL the server's whole process group, leaving no orphans."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n=40):
        out = []
        for label, path in (("stdout", self.stdout_path), ("stderr", self.stderr_path)):
            try:
                with open(path, "rb") as f:
                    lines = f.read().decode("utf-8", "replace").splitlines()[-n:]
            except OSError:
                lines = []
            if lines:
                out.append(f"--- server {label} (last {len(lines)} lines) ---")
                out.extend(lines)
        return "\n".join(out)

    def check_exit(self, rc):
        """Assert a clean exit: status 0 and no sanitizer report."""
        self.exit_checked = True
        problems = []
        if rc != 0:
            problems.append(f"exit status {rc} (expected 0)")
        err = self.stderr_text()
        m = SANITIZER_RE.search(err)
        if m:
            problems.append(f"sanitizer report on stderr: {m.group(0)!r}")
        self._kill()  # stragglers of a launcher script, if any
        if problems:
            raise ServerError("server did not stop cleanly: " + "; ".join(problems)
                              + f" [work dir {self.workdir}]\n" + self.log_tail(80))
        self._cleanup()

    def wait_exit(self, timeout=None):
        """Wait for a server that was told to exit (SHUTDOWN); check it."""
        timeout = Config.stop_timeout if timeout is None else timeout
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill()
            raise ServerError(f"server still running {timeout}s after it was told to exit\n"
                              + self.log_tail())
        self.check_exit(rc)
        return rc

    def stop(self, sig=signal.SIGTERM):
        """Stop with SIGTERM (or SIGINT) and assert a clean exit in time."""
        if self.proc is None or self.exit_checked:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=Config.stop_timeout)
        except subprocess.TimeoutExpired:
            self._kill()
            self.exit_checked = True
            raise ServerError(f"server ignored {signal.Signals(sig).name} for "
                              f"{Config.stop_timeout}s\n" + self.log_tail())
        self.check_exit(rc)

    def _cleanup(self):
        if self in _live_servers:
            _live_servers.remove(self)
        if self.own_workdir and not Config.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if exc[0] is None:
            self.stop()
        else:
            # Keep the original failure; still do not leave a process behind.
            try:
                self.stop()
            except ServerError as e:
                print(e, file=sys.stderr)
        return False

    # -- clients ------------------------------------------------------------

    def redis(self, **kw):
        """A redis-py client (RESP2)."""
        import redis
        kw.setdefault("socket_timeout", 60)
        if self.password is not None:
            kw.setdefault("password", self.password)
        return redis.Redis(host=HOST, port=self.port, **kw)

    def raw(self, timeout=30.0, auth=True):
        c = RawClient(HOST, self.port, timeout=timeout)
        if auth and self.password is not None:
            reply = c.command("AUTH", self.password)
            if reply != b"OK":
                raise ServerError(f"AUTH failed: {reply!r}")
        return c


class ServerTestCase(unittest.TestCase):
    """A test class sharing one server; SERVER_ARGS customises it."""

    SERVER_ARGS = ()
    server = None

    @classmethod
    def setUpClass(cls):
        cls.server = Server(args=cls.SERVER_ARGS).start()

    @classmethod
    def tearDownClass(cls):
        if cls.server is not None:
            cls.server.stop()

    def setUp(self):
        with self.server.raw() as c:
            reply = c.command("FLUSHALL")
        if reply != b"OK":
            raise ServerError(f"FLUSHALL: {reply!r}")
        self._r = None

    def client(self, proto=2):
        """A raw client speaking RESP `proto`, closed when the test ends."""
        c = self.server.raw()
        self.addCleanup(c.close)
        if proto == 3:
            c.command("HELLO", "3")
        return c

    @property
    def r(self):
        """A redis-py client for this test, created on first use."""
        if self._r is None:
            self._r = self.server.redis()
        return self._r

    def tearDown(self):
        if self._r is not None:
            self._r.close()


class AgainstRedis(unittest.TestCase):
    """A redis-server (the reference) and the server under test (with SERVER_ARGS), for the
    whole class."""

    SERVER_ARGS = ()

    @classmethod
    def setUpClass(cls):
        ref = Config.tool("redis-server")
        cls.reference = Server(cmd=[ref, "--save", "", "--appendonly", "no"]).start()
        cls.server = Server(args=cls.SERVER_ARGS).start()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.stop()
        finally:
            cls.reference.stop()


def skip_if_real_redis(reason):
    """Skip a check of polluxd-only behaviour when the server is real Redis."""
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(self, *a, **kw):
            if Config.server_is_redis():
                self.skipTest(f"real Redis: {reason}")
            return fn(self, *a, **kw)
        return wrapper
    return deco


# ---------------------------------------------------------------------------
# RESP2/RESP3 raw client
# ---------------------------------------------------------------------------

class ProtocolError(Exception):
    pass


class Incomplete(Exception):
    pass


class SimpleString(bytes):
    """+OK style status reply."""

    def __repr__(self):
        return f"Simple({bytes(self)!r})"


class ErrorReply(bytes):
    """-ERR ... or RESP3 blob error !; the bytes are the message."""

    def __repr__(self):
        return f"Error({bytes(self)!r})"


class Double(float):
    """RESP3 double; .raw keeps the text the server sent."""

    raw = b""


class BigNumber(int):
    """RESP3 big number."""


class Verbatim(bytes):
    """RESP3 verbatim string; .format is e.g. b'txt'."""

    format = b""


class RespSet(list):
    """RESP3 set, kept as a list (order as sent, elements may be unhashable)."""


class Push(list):
    """RESP3 out-of-band push message."""


def _hashable(v):
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, dict):
        return tuple((k, _hashable(x)) for k, x in v.items())
    return v


class RespReader:
    """Parses replies from a byte buffer; fill() must append more bytes or
    raise Incomplete."""

    def __init__(self, fill):
        self.buf = bytearray()
        self.pos = 0
        self.fill = fill
        self.attribute = None

    def feed(self, data):
        self.buf += data

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                line = bytes(self.buf[self.pos:i])
                self.pos = i + 2
                return line
            self.fill()

    def _exact(self, n):
        while len(self.buf) - self.pos < n + 2:
            self.fill()
        data = bytes(self.buf[self.pos:self.pos + n])
        if self.buf[self.pos + n:self.pos + n + 2] != b"\r\n":
            tail = bytes(self.buf[self.pos + n:self.pos + n + 2])
            raise ProtocolError(f"bulk of {n} bytes not terminated by CRLF but {tail!r}")
        self.pos += n + 2
        return data

    def read(self):
        """One complete reply as (value, raw bytes)."""
        start = self.pos
        value = self._value()
        raw = bytes(self.buf[start:self.pos])
        del self.buf[:self.pos]
        self.pos = 0
        return value, raw

    def _int(self, text):
        try:
            return int(text)
        except ValueError:
            raise ProtocolError(f"bad integer {text!r}") from None

    def _value(self):
        line = self._line()
        if not line:
            raise ProtocolError("empty reply line")
        t, rest = line[:1], line[1:]
        if t == b"+":
            return SimpleString(rest)
        if t == b"-":
            return ErrorReply(rest)
        if t == b":":
            return self._int(rest)
        if t == b"$":
            n = self._int(rest)
            return None if n < 0 else self._exact(n)
        if t in (b"*", b"~", b">"):
            n = self._int(rest)
            if n < 0:
                return None
            items = [self._value() for _ in range(n)]
            if t == b"~":
                return RespSet(items)
            if t == b">":
                return Push(items)
            return items
        if t == b"%":
            n = self._int(rest)
            out = {}
            for _ in range(n):
                k = self._value()
                out[_hashable(k)] = self._value()
            return out
        if t == b"_":
            if rest:
                raise ProtocolError(f"null with payload {line!r}")
            return None
        if t == b"#":
            if rest not in (b"t", b"f"):
                raise ProtocolError(f"bad boolean {line!r}")
            return rest == b"t"
        if t == b",":
            txt = rest.decode()
            v = Double(float(txt))
            v.raw = rest
            return v
        if t == b"(":
            return BigNumber(self._int(rest))
        if t == b"!":
            return ErrorReply(self._exact(self._int(rest)))
        if t == b"=":
            data = self._exact(self._int(rest))
            if len(data) < 4 or data[3:4] != b":":
                raise ProtocolError(f"bad verbatim string {data[:8]!r}")
            v = Verbatim(data[4:])
            v.format = data[:3]
            return v
        if t == b"|":
            n = self._int(rest)
            attr = {}
            for _ in range(n):
                k = self._value()
                attr[_hashable(k)] = self._value()
            self.attribute = attr
            return self._value()
        raise ProtocolError(f"unknown reply type {line[:20]!r}")


def parse_replies(data):
    """Parse every reply in a byte string (for checking the parser itself)."""
    def fill():
        raise Incomplete()
    rd = RespReader(fill)
    rd.feed(data)
    out = []
    while rd.pos < len(rd.buf):
        out.append(rd.read()[0])
    return out


def encode_command(*args):
    """A command as a RESP multibulk."""
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        elif not isinstance(a, (bytes, bytearray)):
            a = str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(parts)


class RawClient:
    """A plain-socket RESP client that reads exactly one reply at a time."""

    def __init__(self, host, port, timeout=30.0, source=None):
        """source: the local address to connect from (127.0.0.2 is loopback to the kernel but
        not a "local" client to Redis 7.0)."""
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = RespReader(self._fill)
        self.last_raw = b""

    def _fill(self):
        data = self.sock.recv(1 << 16)
        if not data:
            raise ConnectionError("connection closed by server")
        self.reader.feed(data)

    def send(self, data):
        self.sock.sendall(data)

    def send_command(self, *args):
        self.sock.sendall(encode_command(*args))

    def read_reply(self):
        value, self.last_raw = self.reader.read()
        return value

    def read_raw(self):
        """The exact bytes of the next reply."""
        self.read_reply()
        return self.last_raw

    def command(self, *args):
        self.send_command(*args)
        return self.read_reply()

    def command_raw(self, *args):
        self.send_command(*args)
        return self.read_raw()

    def expect_closed(self, timeout=5.0, allow_data=False):
        """True if the server closes the connection within timeout without
        sending anything more (unless allow_data, which discards it)."""
        if self.reader.buf[self.reader.pos:] and not allow_data:
            return False
        deadline = time.monotonic() + timeout
        old = self.sock.gettimeout()
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.sock.settimeout(left)
                try:
                    data = self.sock.recv(1 << 16)
                except socket.timeout:
                    return False
                except ConnectionResetError:
                    return True
                if not data:
                    return True
                if not allow_data:
                    return False
        finally:
            self.sock.settimeout(old)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def parse_info(text):
    """INFO text -> {section: {field: value}} (values are strings)."""
    if isinstance(text, bytes):
        text = text.decode()
    out = {}
    section = None
    for line in text.split("\r\n"):
        if line.startswith("# "):
            section = line[2:].strip().lower()
            out.setdefault(section, {})
        elif line and section is not None:
            k, _, v = line.partition(":")
            out[section][k] = v
    return out


def ipv6_loopback():
    """Whether this host has ::1 (some containers run without IPv6)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def info_fields(raw_client, section):
    info = raw_client.command("INFO", section)
    merged = {}
    for fields in parse_info(bytes(info)).values():
        merged.update(fields)
    return merged


def _crc16(data):
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def key_slot(key):
    """The Redis Cluster hash slot of a key, honouring {hash tags}."""
    if isinstance(key, str):
        key = key.encode()
    s = key.find(b"{")
    if s >= 0:
        e = key.find(b"}", s + 1)
        if e > s + 1:
            key = key[s + 1:e]
    return _crc16(key) % 16384


def keys_on(shard, n, prefix="k", nshards=2):
    """n key names that live on one shard (slot modulo the number of shards)."""
    out, i = [], 0
    while len(out) < n:
        name = f"{prefix}{i}"
        if key_slot(name) % nshards == shard:
            out.append(name)
        i += 1
    return out


def keys_by_shard(prefix, count, shards=2):
    """count keys named prefix<i>, alternating between slot % shards values,
    so a group of them always spans every shard."""
    buckets = [[] for _ in range(shards)]
    i = 0
    while min(len(b) for b in buckets) < (count + shards - 1) // shards:
        k = f"{prefix}{i}"
        buckets[key_slot(k) % shards].append(k)
        i += 1
    out = []
    for j in range(count):
        out.append(buckets[j % shards][j // shards])
    return out


def wait_until(pred, timeout, interval=0.05):
    """Poll pred() until it returns a true value or timeout passes; returns
    the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def replica_synced(client):
    """Whether a replica (a redis-py client of it) has its link up and its sync loaded."""
    try:
        return client.info("replication")["master_link_status"] == "up" and \
            client.info("persistence")["loading"] == 0
    except Exception as e:  # redis-py's BusyLoadingError while it loads
        if type(e).__name__ != "BusyLoadingError":
            raise
        return False


def run_tool(argv, timeout=120, input=None):
    """Run an external client; returns CompletedProcess with bytes output."""
    return subprocess.run(argv, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout)


def cpu_seconds(pid):
    """User plus system CPU time a process has used so far, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _queue_read(p, t, key):
    """Queue the read of a key of type t (see read_value)."""
    if t == b"string":
        p.get(key)
    elif t == b"list":
        p.lrange(key, 0, -1)
    elif t == b"set":
        p.smembers(key)
    elif t == b"hash":
        p.hgetall(key)
    elif t == b"zset":
        p.zrange(key, 0, -1, withscores=True)
    else:
        p.exists(key)


def _shape(t, v):
    if t == b"none":
        return None
    if t == b"list":
        return tuple(v)
    if t == b"set":
        return tuple(sorted(v))
    if t == b"hash":
        return tuple(sorted(v.items()))
    if t == b"zset":
        return tuple(v)
    return v


def read_value(r, key):
    """(type, content, expiry) of a key, read in one transaction, in a form two servers
    compare exactly: a string's bytes, a list's items, a set's sorted members, a hash's
    sorted (field, value) pairs, a sorted set's (member, score) pairs in order; the expiry as
    PEXPIRETIME gives it (absolute unix ms, -1 for none)."""
    for _ in range(10):
        t = r.type(key)
        with r.pipeline(transaction=True) as p:
            p.type(key)
            _queue_read(p, t, key)
            p.pexpiretime(key)
            got, v, at = p.execute()
        if got == t:
            return t, _shape(t, v), at
    raise AssertionError(f"{key!r} keeps changing type")


def keyspace(srv, dbs=16):
    """{(db, key): (value, expiry)} of every key of every database: a string's bytes, a
    collection's (type, content) as read_value gives them. Expiry times are absolute, so two
    servers read one after the other compare exactly, where remaining TTLs would differ by
    the time between reads."""
    out = {}
    r = srv.redis()
    try:
        for db in range(dbs):
            r.execute_command("SELECT", db)
            for k in r.keys("*"):
                t, v, at = read_value(r, k)
                out[(db, k)] = (v if t in (b"string", b"none") else (t, v), at)
    finally:
        r.close()
    return out


def keyspace_diff(a, b):
    """'' when two keyspace() results are equal, else the first differences."""
    if set(a) != set(b):
        return (f"keys differ: only left {sorted(set(a) - set(b))[:5]}, "
                f"only right {sorted(set(b) - set(a))[:5]}")
    diff = [f"{k}: {a[k]!r} != {b[k]!r}" for k in sorted(a) if a[k] != b[k]]
    return "; ".join(diff[:5])
