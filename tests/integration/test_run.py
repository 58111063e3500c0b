#!/usr/bin/env python3
"""`make run`'s start script, scripts/run.sh: polluxd with the development
defaults. Idle workers started that way sleep instead of busy-polling every
core; arguments or a config file that set pollux-idle-sleep-us keep their
value, and polluxd's own default (busy polling) stays the appliance's."""

import os
import shutil
import subprocess
import tempfile
import time
import unittest

import harness as h

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
RUN_SH = os.path.join(ROOT, "scripts", "run.sh")

# How long the idle node's CPU time is sampled. This is a measurement window,
# not a wait for readiness: the node answered PING before it starts.
IDLE_WINDOW_S = 3.0


class Run(unittest.TestCase):

    def setUp(self):
        if h.Config.server_is_redis():
            self.skipTest("real Redis: scripts/run.sh starts polluxd")

    def node(self, args=(), conf=None):
        """A node started through scripts/run.sh with the server under test."""
        os.environ["POLLUXD"] = h.Config.server_cmd[0]
        srv = h.Server(args=args, conf=conf, cmd=[RUN_SH] + h.Config.server_cmd[1:])
        self.addCleanup(srv.stop)
        return srv.start()

    def idle_sleep(self, srv):
        with srv.raw() as c:
            return c.command("CONFIG", "GET", "pollux-idle-sleep-us")[1]

    def test_make_run_uses_the_script(self):
        out = subprocess.run(["make", "-n", "-s", "-C", ROOT, "run", "ARGS=--port 7001"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60,
                             check=True).stdout.decode()
        self.assertIn("scripts/run.sh --port 7001", out)

    def test_idle_node_sleeps(self):
        """Two idle workers of a `make run` node use a small part of one core;
        busy polling would use two whole cores (or all the machine gives them)."""
        srv = self.node(["--pollux-workers", "2"])
        self.assertEqual(self.idle_sleep(srv), b"200")
        pid = srv.proc.pid  # the script execs polluxd
        with open(f"/proc/{pid}/comm") as f:
            self.assertEqual(f.read().strip(), "polluxd")
        cpu0, t0 = h.cpu_seconds(pid), time.monotonic()
        time.sleep(IDLE_WINDOW_S)
        cpu, wall = h.cpu_seconds(pid) - cpu0, time.monotonic() - t0
        self.assertLess(cpu, 0.2 * wall,
                        f"idle polluxd used {cpu:.2f} CPU-s in {wall:.2f} s of wall time")

    def test_arguments_keep_their_value(self):
        srv = self.node(["--pollux-idle-sleep-us", "0"])
        self.assertEqual(self.idle_sleep(srv), b"0")
        srv.stop()
        srv = self.node(["--POLLUX-IDLE-SLEEP-US", "70"])
        self.assertEqual(self.idle_sleep(srv), b"70")

    def test_config_file_keeps_its_value(self):
        tmp = tempfile.mkdtemp(prefix="pollux-it-")
        self.addCleanup(shutil.rmtree, tmp, True)
        conf = os.path.join(tmp, "pollux.conf")
        with open(conf, "w") as f:
            f.write("# busy polling, as on the appliance\n  pollux-idle-sleep-us 0\n")
        srv = self.node(conf=conf)
        self.assertEqual(self.idle_sleep(srv), b"0")
        with open(conf, "w") as f:
            f.write("maxmemory-policy allkeys-lru\n")
        srv.stop()
        srv = self.node(conf=conf)
        self.assertEqual(self.idle_sleep(srv), b"200")


if __name__ == "__main__":
    h.main(needs_redis_py=False)
