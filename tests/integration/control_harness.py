"""Multi-node machinery for the control-plane tests (test_control*.py).

harness.Server runs one server under test; the control plane needs several
nodes that can be killed with SIGKILL and restarted on the same port, plus
pollux-control itself and the polluxctl CLI. This module provides

  * the command line: --control (pollux-control), --ctl (polluxctl),
    --node-server (the node binary: redis-server today, polluxd once it
    replicates) and --node-args; a missing node binary or redis-py is a skip
    (exit 77), a missing pollux-control or polluxctl is a failure,
  * Node: one node process on a free loopback port, kill -9 and restart,
  * Control: pollux-control on a free port with a state file in its own
    directory, short health-check intervals, a clean-exit check on stop
    (status 0, no sanitizer report), restart on the same state and port; it
    bootstraps the admin user ADMIN (password from a file in its directory)
    and its redis()/raw_client()/ctl_env() authenticate as that user,
  * Cluster: a Control and N nodes registered in zones, with polluxctl
    helpers (ctl() returns the CompletedProcess, ctl_json() the parsed JSON),
  * FakeNode: a scripted node that answers PING, INFO replication (with the
    fields a test sets), REPLICAOF, CONFIG and CLIENT, for states a real node
    cannot be put in on demand (a link down while it answers, apply errors),
  * cpu_hogs(): busy processes that starve everything else of CPU.
"""

import argparse
import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import socketserver
import tempfile
import threading
import time
import unittest

import harness as h

HOST = h.HOST


class Opts:
    control = None
    ctl = None
    node_cmd = ["redis-server"]
    node_args = []
    keep = False
    # Health-check settings for the tests: a failover within about a second, with enough
    # slack that a node slowed down by a loaded machine (sanitizer builds, parallel tests)
    # is not taken for dead.
    # A short settle period after a failover so that tests may fail over twice.
    control_args = ["--probe-interval-ms", "50", "--down-after-ms", "1000",
                    "--timeout-ms", "800", "--pause-ms", "2000",
                    "--failover-settle-ms", "3000"]


# The admin that the test pollux-control bootstraps (--bootstrap-password-file); a name
# that the fuzz corpus (tests/corpus/control-api/) never spells, so no mutation touches it.
ADMIN = ("test-admin", "pollux-test-admin-password")


def configure(control, ctl, node_server, node_args, control_args):
    """Opts for a script outside the test runner (the bench/ scripts)."""
    Opts.node_args = shlex.split(node_args)
    Opts.control = os.path.abspath(control)
    Opts.ctl = os.path.abspath(ctl)
    Opts.node_cmd = h._split_server(os.path.abspath(node_server)
                                    if os.path.exists(node_server) else node_server)
    Opts.control_args = control_args


def node_is_redis():
    return os.path.basename(Opts.node_cmd[0]).startswith("redis-server")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--control", default=os.environ.get("POLLUX_CONTROL"))
    ap.add_argument("--ctl", default=os.environ.get("POLLUXCTL"))
    ap.add_argument("--node-server", default=os.environ.get("POLLUX_TEST_NODE_SERVER")
                    or os.environ.get("REDIS_SERVER") or "redis-server")
    ap.add_argument("--node-args", default=os.environ.get("POLLUX_TEST_NODE_ARGS", ""))
    ap.add_argument("--keep", action="store_true")
    opts, rest = ap.parse_known_args()
    for name in ("control", "ctl"):
        path = getattr(opts, name)
        if not path or not os.access(path, os.X_OK):
            print(f"--{name}: not an executable: {path!r}", file=sys.stderr)
            sys.exit(1)
        setattr(Opts, name, os.path.abspath(path))
    node = h._split_server(opts.node_server)
    if shutil.which(node[0]) is None:
        print(f"SKIP: node server {node[0]} not found", file=sys.stderr)
        sys.exit(h.SKIP_EXIT)
    Opts.node_cmd = node
    Opts.node_args = shlex.split(opts.node_args)
    Opts.keep = opts.keep
    h.require_redis_py()
    print(f"control: {Opts.control}\nnodes: {shlex.join(Opts.node_cmd + Opts.node_args)}",
          flush=True)
    prog = unittest.main(module="__main__", argv=[sys.argv[0]] + rest, exit=False, verbosity=2)
    sys.exit(0 if prog.result.wasSuccessful() else 1)


def _ping(port, timeout=0.5, auth=None):
    try:
        with h.RawClient(HOST, port, timeout=timeout) as c:
            if auth and c.command("AUTH", *auth) != b"OK":
                return False
            return c.command("PING") == b"PONG"
    except (OSError, ConnectionError, h.ProtocolError):
        return False


class Process:
    """A child process in its own session, logging to files in workdir."""

    def __init__(self, name, workdir):
        self.name = name
        self.workdir = workdir
        self.proc = None
        self.log = os.path.join(workdir, f"{name}.log")

    def spawn(self, argv):
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=self.workdir,
                                         start_new_session=True)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()

    def pause(self):
        """SIGSTOP: the process keeps its sockets but runs no more (a starved or hung node)."""
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self):
        os.kill(self.proc.pid, signal.SIGCONT)

    def tail(self, n=60):
        try:
            with open(self.log, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()[-n:]
        except OSError:
            return ""
        return f"--- {self.name} log (last {len(lines)} lines) ---\n" + "\n".join(lines)


class Node(Process):
    def __init__(self, name, workdir):
        super().__init__(name, workdir)
        self.port = None
        # ("default", password) once pollux-control may set a password on it (a restart
        # answers PONG to AUTH default <anything> until the password is set again).
        self.auth = None

    def argv(self):
        base = list(Opts.node_cmd) + ["--port", str(self.port), "--bind", HOST]
        if node_is_redis():
            # Diskless full syncs start at once instead of after Redis's 5 s grace time.
            base += ["--save", "", "--appendonly", "no", "--repl-diskless-sync-delay", "0"]
        return base + Opts.node_args

    def start(self, port=None):
        for _ in range(6):
            self.port = port or h.free_port()
            self.spawn(self.argv())
            if h.wait_until(lambda: _ping(self.port, auth=self.auth) or not self.alive(), 20):
                if self.alive():
                    return self
            self.kill9()
            if port is not None:
                break
        raise AssertionError(f"node {self.name} did not start\n" + self.tail())

    def restart(self):
        """Start again on the same port (after kill9)."""
        return self.start(port=self.port)

    def redis(self, **kw):
        import redis
        kw.setdefault("socket_timeout", 10)
        return redis.Redis(host=HOST, port=self.port, **kw)

    def raw(self):
        return h.RawClient(HOST, self.port, timeout=10)

    def stop(self):
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill9()


class Control(Process):
    """pollux-control; with users=False no user is created (open, loopback only)."""

    def __init__(self, workdir, extra=(), users=True):
        super().__init__("pollux-control", workdir)
        self.port = None
        self.state = os.path.join(workdir, "state.db")
        self.extra = list(extra)
        self.auth = ADMIN if users else None
        if users:
            self.password_file = os.path.join(workdir, "admin-password")
            with open(self.password_file, "w") as f:
                f.write(ADMIN[1] + "\n")
            os.chmod(self.password_file, 0o600)
            self.extra += ["--bootstrap-user", ADMIN[0],
                           "--bootstrap-password-file", self.password_file]

    def start(self, port=None):
        for _ in range(6):
            self.port = port or h.free_port()
            self.spawn([Opts.control, "--port", str(self.port), "--bind", HOST,
                        "--state", self.state, "--loglevel", "verbose"]
                       + Opts.control_args + self.extra)
            if h.wait_until(lambda: _ping(self.port, auth=self.auth) or not self.alive(), 20):
                if self.alive():
                    return self
            self.kill9()
            if port is not None:
                break
        raise AssertionError("pollux-control did not start\n" + self.tail())

    def stop(self):
        """SIGTERM; assert exit status 0 and no sanitizer report."""
        if self.proc is None or not self.alive():
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill9()
            raise AssertionError("pollux-control ignored SIGTERM\n" + self.tail())
        with open(self.log, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        m = h.SANITIZER_RE.search(text)
        if rc != 0 or m:
            raise AssertionError(f"pollux-control exited with {rc}"
                                 f"{' and a sanitizer report' if m else ''}\n" + self.tail(120))

    def restart(self):
        self.stop()
        return self.start(port=self.port)

    def redis(self, **kw):
        """A redis-py client, authenticated as the admin unless told otherwise."""
        import redis
        kw.setdefault("socket_timeout", 10)
        if self.auth:
            kw.setdefault("username", self.auth[0])
            kw.setdefault("password", self.auth[1])
        return redis.Redis(host=HOST, port=self.port, **kw)

    def auth_command(self):
        """The RESP bytes of AUTH as the admin (b"" without users)."""
        return h.encode_command("AUTH", *self.auth) if self.auth else b""

    def raw_client(self, timeout=60):
        c = h.RawClient(HOST, self.port, timeout=timeout)
        if self.auth:
            reply = c.command("AUTH", *self.auth)
            assert reply == b"OK", reply
        return c

    def ctl_env(self, auth="admin"):
        """The environment for polluxctl: the admin's credentials (auth=None: none)."""
        env = {k: v for k, v in os.environ.items()
               if k not in ("POLLUX_USER", "POLLUX_PASSWORD", "POLLUX_PROFILE",
                            "POLLUX_CREDENTIALS_FILE")}
        # No credentials file of the person running the tests.
        env["POLLUX_CREDENTIALS_FILE"] = os.path.join(self.workdir, "no-credentials")
        if auth == "admin" and self.auth:
            auth = self.auth
        if isinstance(auth, tuple):
            env["POLLUX_USER"], env["POLLUX_PASSWORD"] = auth
        return env


class Cluster:
    """pollux-control and nodes n1..nN with zones[i], registered (not grouped)."""

    def __init__(self, zones=("az-a", "az-b", "az-a"), node_type="cache.t3.micro"):
        self.workdir = tempfile.mkdtemp(prefix="pollux-ctl-it-")
        self.control = Control(self.workdir)
        self.nodes = {}
        self.zones = zones
        self.node_type = node_type

    def start(self):
        try:
            self.control.start()
            for i, zone in enumerate(self.zones, 1):
                name = f"n{i}"
                self.nodes[name] = Node(name, self.workdir).start()
                self.ctl_ok("register-node", "--node-id", name, "--address",
                            f"{HOST}:{self.nodes[name].port}", "--availability-zone", zone,
                            "--node-type", self.node_type)
        except BaseException:
            self.kill_all()
            raise
        return self

    def kill_all(self):
        for n in self.nodes.values():
            n.kill9()
        self.control.kill9()

    def stop(self, failed=False):
        try:
            self.control.stop()
        finally:
            for n in self.nodes.values():
                n.stop()
            if failed or Opts.keep:
                print(f"work directory kept: {self.workdir}", file=sys.stderr)
            else:
                shutil.rmtree(self.workdir, ignore_errors=True)

    def logs(self):
        return "\n".join([self.control.tail(80)] + [n.tail(20) for n in self.nodes.values()])

    # -- polluxctl -----------------------------------------------------------

    def ctl(self, *args, output=None, auth="admin", env=None):
        """polluxctl as the admin; auth=None: no credentials, (user, password): that user."""
        argv = [Opts.ctl, "--endpoint", f"{HOST}:{self.control.port}"]
        if output:
            argv += ["--output", output]
        return subprocess.run(argv + list(args), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=60, text=True,
                              env=env or self.control.ctl_env(auth))

    def ctl_ok(self, *args):
        p = self.ctl(*args)
        if p.returncode != 0:
            raise AssertionError(f"polluxctl {' '.join(args)} exited {p.returncode}: "
                                 f"{p.stderr}\n{self.logs()}")
        return p.stdout

    def ctl_json(self, *args):
        p = self.ctl(*args, output="json")
        if p.returncode != 0:
            raise AssertionError(f"polluxctl {' '.join(args)} exited {p.returncode}: "
                                 f"{p.stderr}\n{self.logs()}")
        return json.loads(p.stdout)

    def group(self, gid):
        return self.ctl_json("describe-replication-groups",
                             "--replication-group-id", gid)["ReplicationGroups"][0]

    def create_group(self, gid="rg1", primary="n1", replicas=("n2", "n3"), *extra):
        self.ctl_ok("create-replication-group", "--replication-group-id", gid,
                    "--replication-group-description", "integration test",
                    "--primary-node-id", primary, "--replica-node-ids", *replicas, *extra)
        self.wait_available(gid)
        return self.group(gid)

    def wait_available(self, gid, timeout=60):
        p = self.ctl("wait-replication-group-available", "--replication-group-id", gid,
                     "--timeout-seconds", str(timeout))
        if p.returncode != 0:
            raise AssertionError(f"{gid} not available: {p.stderr}\n{self.logs()}")

    def wait_failover_done(self, gid, timeout=60):
        """Until no failover of gid is in progress (its status may be degraded: a member
        can still be down)."""
        g = h.wait_until(lambda: (lambda g: g if g["PendingFailoverFrom"] is None
                                  and g["Status"] in ("available", "degraded") else None)(
                                      self.group(gid)), timeout)
        if not g:
            raise AssertionError(f"{gid}: failover not completed\n{self.logs()}")
        return g

    def primary_of(self, gid):
        return next(m["CacheNodeId"] for m in self.group(gid)["NodeGroupMembers"]
                    if m["CurrentRole"] == "primary")

    def events(self, source=None):
        args = ["describe-events"] + (["--source-identifier", source] if source else [])
        return [e["Message"] for e in self.ctl_json(*args)["Events"]]


def test_failed(tc):
    """From tearDown: whether the test failed (its outcome's success flag is reset for the
    duration of tearDown itself, so look at the result)."""
    outcome = getattr(tc, "_outcome", None)
    result = getattr(outcome, "result", None)
    if result is None:
        return False
    return any(t is tc for t, _ in result.failures + result.errors)


class ClusterTestCase(unittest.TestCase):
    """A fresh Cluster per test."""

    ZONES = ("az-a", "az-b", "az-a")

    def setUp(self):
        self.c = Cluster(self.ZONES).start()

    def tearDown(self):
        failed = test_failed(self)
        if failed:
            print(self.c.logs(), file=sys.stderr)
        self.c.stop(failed=failed)

    def wait(self, pred, timeout=30, what="condition"):
        def attempt():
            # A node that restarts or resyncs may drop a connection mid-poll: not yet.
            try:
                return pred()
            except OSError:
                return None
            except Exception as e:  # redis-py's ConnectionError, TimeoutError, BusyLoadingError
                if type(e).__name__ in ("ConnectionError", "TimeoutError", "BusyLoadingError"):
                    return None
                raise
        v = h.wait_until(attempt, timeout)
        if not v:
            self.fail(f"timed out waiting for {what}\n{self.c.logs()}")
        return v


class _FakeHandler(socketserver.BaseRequestHandler):
    def handle(self):
        node = self.server.node
        sock = self.request

        def fill():
            data = sock.recv(65536)
            if not data:
                raise ConnectionError("closed")
            rd.feed(data)
        rd = h.RespReader(fill)
        try:
            while not node.closed:
                cmd = rd.read()[0]
                if not isinstance(cmd, list) or not cmd:
                    return
                sock.sendall(node.answer([a.decode() if isinstance(a, bytes) else str(a)
                                          for a in cmd]))
        except (ConnectionError, OSError, h.ProtocolError):
            return


class _FakeServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class FakeNode:
    """A node that pollux-control can manage, answering from fields a test sets.

    It starts as a primary; REPLICAOF makes it report the replica role with the
    given primary, and `link`, `offset`, `apply_errors` and `last_apply_error`
    say what its INFO replication shows then."""

    def __init__(self, name):
        self.name = name
        self.lock = threading.Lock()
        self.role = "master"
        self.master = None
        self.link = "up"
        self.offset = 0
        self.apply_errors = None  # absent from INFO until set
        self.last_apply_error = ""
        self.commands = []
        self.closed = False
        self.run_id = os.urandom(20).hex()  # what identifies a server to pollux-control
        self.server = _FakeServer((HOST, 0), _FakeHandler)
        self.server.node = self
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def set(self, **fields):
        with self.lock:
            for k, v in fields.items():
                setattr(self, k, v)

    def info(self):
        with self.lock:
            lines = ["# Server", f"run_id:{self.run_id}", f"tcp_port:{self.port}",
                     "# Replication", f"role:{'slave' if self.role == 'slave' else 'master'}"]
            if self.role == "slave":
                lines += [f"master_host:{self.master[0]}", f"master_port:{self.master[1]}",
                          f"master_link_status:{self.link}", "master_last_io_seconds_ago:0",
                          "master_sync_in_progress:0", f"slave_repl_offset:{self.offset}",
                          "slave_priority:100"]
                if self.apply_errors is not None:
                    lines += [f"master_apply_errors:{self.apply_errors}",
                              f"master_last_apply_error:{self.last_apply_error}"]
            else:
                lines += ["connected_slaves:0"]
            lines += ["master_replid:" + "0" * 40, f"master_repl_offset:{self.offset}"]
        return "\r\n".join(lines) + "\r\n"

    def answer(self, argv):
        with self.lock:
            self.commands.append(argv)
        name = argv[0].upper()
        if name == "PING":
            return b"+PONG\r\n"
        if name == "INFO":
            body = self.info().encode()
            return b"$%d\r\n%s\r\n" % (len(body), body)
        if name in ("REPLICAOF", "SLAVEOF") and len(argv) == 3:
            with self.lock:
                if argv[1].upper() == "NO":
                    self.role, self.master = "master", None
                else:
                    self.role, self.master = "slave", (argv[1], int(argv[2]))
            return b"+OK\r\n"
        if name == "CONFIG" and len(argv) >= 3 and argv[1].upper() == "GET":
            return h.encode_command(argv[2], "")
        if name == "CLIENT" and len(argv) >= 2 and argv[1].upper() == "KILL":
            return b":0\r\n"
        return b"+OK\r\n"

    def stop(self):
        self.closed = True
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def cpu_hogs(n=2):
    """n processes that spin on the CPU for the duration of the block."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"],
                              stdin=subprocess.DEVNULL, start_new_session=True)
             for _ in range(n)]
    try:
        yield procs
    finally:
        for p in procs:
            p.kill()
            p.wait()
