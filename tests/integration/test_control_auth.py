#!/usr/bin/env python3
"""Authentication on pollux-control's API (docs/security.md, "Control plane").

The attack it answers: a client that can reach pollux-control registers a server of its
own, adds it as a replica of a group (it receives a full copy of the data) and fails the
group over to it, after which Sentinel discovery sends every client there. Each step is
scripted here, without credentials and with read-only ones, and must be refused with
nothing changed. Also: wrong passwords, read-only users describing, events naming the
user, redis-py's Sentinel client with and without a password, user management, and the
refusal to listen on a non-loopback address without any user.

    python3 test_control_auth.py --control build/control/pollux-control \\
        --ctl build/control/polluxctl [--node-server redis-server]
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import control_harness as ch
import harness as h

redis = h.require_redis_py()
from redis.sentinel import MasterNotFoundError, Sentinel

READONLY = ("viewer", "viewer-password")


class AuthCluster(ch.ClusterTestCase):
    """A group rg1 (n1 primary, n2 replica), a read-only user, and a rogue server."""

    ZONES = ("az-a", "az-b")

    def setUp(self):
        super().setUp()
        c = self.c
        c.create_group("rg1", "n1", ("n2",), "--multi-az")
        c.nodes["n1"].redis().set("secret", "data")
        self.add_user(*READONLY, "readonly")
        self.rogue = ch.Node("rogue", c.workdir).start()

    def tearDown(self):
        try:
            self.rogue.stop()
        finally:
            super().tearDown()

    def add_user(self, name, password, role):
        path = os.path.join(self.c.workdir, f"{name}-password")
        with open(path, "w") as f:
            f.write(password + "\n")
        out = json.loads(self.c.ctl_ok("--output", "json", "create-user", "--user-name", name,
                                       "--role", role, "--password-file", path))
        self.assertEqual(out["User"]["Role"], role)

    def snapshot(self):
        """Everything an attack could change: nodes, groups, the rogue's role and data."""
        c = self.c
        nodes = [{k: n[k] for k in ("NodeId", "Address", "Port", "ReplicationGroupId",
                                    "CurrentRole")}
                 for n in c.ctl_json("describe-nodes")["Nodes"]]
        g = c.group("rg1")
        members = sorted((m["CacheNodeId"], m["CurrentRole"]) for m in g["NodeGroupMembers"])
        rogue = self.rogue.redis().info("replication")
        return (nodes, members, g["PrimaryEndpoint"], rogue["role"],
                rogue.get("connected_slaves"), self.rogue.redis().dbsize())

    def discover(self):
        s = Sentinel([(ch.HOST, self.c.control.port)], socket_timeout=10,
                     sentinel_kwargs={"username": ch.ADMIN[0], "password": ch.ADMIN[1]})
        return s.discover_master("rg1")

    def attack(self, client):
        """The takeover, step by step, on a client; the reply (or error text) of each."""
        rogue = f"{ch.HOST}:{self.rogue.port}"
        steps = [("POLLUX", "register-node", "node-id", "rogue", "address", rogue,
                  "availability-zone", "az-b", "node-type", "cache.t3.micro"),
                 ("POLLUX", "increase-replica-count", "replication-group-id", "rg1",
                  "replica-node-ids", "rogue", "apply-immediately", "yes"),
                 ("POLLUX", "test-failover", "replication-group-id", "rg1", "node-id", "rogue"),
                 ("SENTINEL", "FAILOVER", "rg1"),
                 ("POLLUX", "deregister-node", "node-id", "n2")]
        out = []
        for argv in steps:
            try:
                out.append(client.execute_command(*argv))
            except redis.exceptions.ResponseError as e:
                out.append(str(e))
            except redis.exceptions.AuthenticationError as e:  # NOAUTH: redis-py's subclass
                out.append("NOAUTH " + str(e))
        return out

    def assert_unchanged(self, before):
        self.assertEqual(self.snapshot(), before)
        self.assertEqual(self.discover(), (ch.HOST, self.c.nodes["n1"].port))
        self.assertNotIn("rogue", self.c.ctl("describe-events").stdout)

    def ctl_attack(self, auth):
        """The first step with polluxctl; its CompletedProcess."""
        return self.c.ctl("register-node", "--node-id", "rogue", "--address",
                          f"{ch.HOST}:{self.rogue.port}", "--availability-zone", "az-b",
                          "--node-type", "cache.t3.micro", auth=auth)

    def test_takeover_without_credentials_is_refused(self):
        before = self.snapshot()
        p = self.ctl_attack(auth=None)
        self.assertEqual(p.returncode, 254, p.stderr)
        self.assertIn("requires authentication", p.stderr)
        anon = self.c.control.redis(username=None, password=None)
        for reply in self.attack(anon):
            self.assertIn("Authentication required", str(reply))
        # Discovery, INFO, ROLE and PING are refused too, as Redis Sentinel with requirepass.
        for argv in (("SENTINEL", "get-master-addr-by-name", "rg1"), ("INFO",), ("ROLE",),
                     ("PING",), ("POLLUX", "describe-nodes")):
            with self.assertRaises(redis.exceptions.AuthenticationError, msg=argv):
                anon.execute_command(*argv)
        self.assert_unchanged(before)

    def test_takeover_with_readonly_credentials_is_refused(self):
        before = self.snapshot()
        p = self.ctl_attack(auth=READONLY)
        self.assertEqual(p.returncode, 254, p.stderr)
        self.assertIn("NOPERM", p.stderr)
        ro = self.c.control.redis(username=READONLY[0], password=READONLY[1])
        for reply in self.attack(ro):
            self.assertTrue(str(reply).startswith("this user has no permissions to run"),
                            reply)
        with self.assertRaisesRegex(redis.exceptions.ResponseError, "no permissions"):
            ro.execute_command("POLLUX", "create-user", "user-name", "evil", "role", "admin",
                               "password", "x")
        self.assert_unchanged(before)

    def test_readonly_user_describes(self):
        c = self.c
        ro = dict(auth=READONLY)
        nodes = json.loads(c.ctl("--output", "json", "describe-nodes", **ro).stdout)["Nodes"]
        self.assertEqual(sorted(n["NodeId"] for n in nodes), ["n1", "n2"])
        groups = c.ctl("--output", "json", "describe-replication-groups", **ro)
        self.assertEqual(groups.returncode, 0, groups.stderr)
        self.assertEqual(json.loads(groups.stdout)["ReplicationGroups"][0]["ReplicationGroupId"],
                         "rg1")
        for verb in ("describe-events", "describe-cache-parameter-groups"):
            p = c.ctl(verb, **ro)
            self.assertEqual(p.returncode, 0, f"{verb}: {p.stderr}")
        # The list of users is for admins.
        p = c.ctl("describe-users", **ro)
        self.assertEqual(p.returncode, 254)
        self.assertIn("NOPERM", p.stderr)
        s = Sentinel([(ch.HOST, c.control.port)], socket_timeout=10,
                     sentinel_kwargs={"username": READONLY[0], "password": READONLY[1]})
        self.assertEqual(s.discover_master("rg1"), (ch.HOST, c.nodes["n1"].port))

    def test_wrong_password_is_refused(self):
        c = self.c
        before = self.snapshot()
        for auth in ((ch.ADMIN[0], "not-the-password"), ("nobody", ch.ADMIN[1]),
                     (ch.ADMIN[0], ch.ADMIN[1] + "x")):
            p = self.ctl_attack(auth=auth)
            self.assertEqual(p.returncode, 254, p.stderr)
            self.assertIn("WRONGPASS", p.stderr)
            with self.assertRaisesRegex((redis.exceptions.AuthenticationError,
                                         redis.exceptions.ResponseError), "WRONGPASS|invalid"):
                c.control.redis(username=auth[0], password=auth[1]).ping()
        # A failed AUTH leaves an authenticated connection as it was, as in Redis.
        raw = c.control.raw_client()
        try:
            self.assertTrue(raw.command("AUTH", ch.ADMIN[0], "bad").startswith(b"WRONGPASS"))
            self.assertEqual(raw.command("PING"), b"PONG")
            self.assertEqual(raw.command("RESET"), b"RESET")  # RESET logs out
            self.assertTrue(raw.command("PING").startswith(b"NOAUTH"))
        finally:
            raw.close()
        self.assert_unchanged(before)

    def test_events_carry_the_user(self):
        c = self.c
        self.add_user("ops", "ops-password", "admin")
        c.ctl_ok("create-cache-parameter-group", "--cache-parameter-group-name", "pg1",
                 "--cache-parameter-group-family", "redis7", "--description", "d")
        p = c.ctl("modify-cache-parameter-group", "--cache-parameter-group-name", "pg1",
                  "--parameter-name-values", "timeout=5", auth=("ops", "ops-password"))
        self.assertEqual(p.returncode, 0, p.stderr)
        events = c.ctl_json("describe-events")["Events"]
        by_source = {}
        for e in events:
            by_source.setdefault(e["SourceIdentifier"], []).append(e)
        admin = ch.ADMIN[0]
        self.assertEqual(by_source["viewer"][-1]["User"], admin)
        self.assertIn("readonly", by_source["viewer"][-1]["Message"])
        self.assertEqual([e["User"] for e in by_source["pg1"]], [admin, "ops"])
        self.assertEqual(by_source["rg1"][0]["User"], admin)  # create-replication-group
        # register-node answers later (it asks the node first): its event names the user too.
        reg = [e for e in by_source["n1"] if e["Message"].startswith("Node registered")]
        self.assertEqual(reg[0]["User"], admin)
        # The table shows the user.
        self.assertIn(" ops ", c.ctl("describe-events", "--source-identifier", "pg1").stdout)
        # pollux-control's own events (a replica reaching in-sync and the like) name nobody.
        self.assertTrue(all("User" in e for e in events))

    def test_sentinel_clients_authenticate_like_with_redis_sentinel(self):
        c = self.c
        # AUTH <password> (one argument) is the user "default", as in Redis.
        self.add_user("default", "sentinel-password", "readonly")
        want = (ch.HOST, c.nodes["n1"].port)
        s = Sentinel([(ch.HOST, c.control.port)], socket_timeout=10,
                     sentinel_kwargs={"password": "sentinel-password"})
        self.assertEqual(s.discover_master("rg1"), want)
        self.assertEqual(len(s.discover_slaves("rg1")), 1)
        for kwargs in ({}, {"password": "wrong"}):
            s = Sentinel([(ch.HOST, c.control.port)], socket_timeout=10, sentinel_kwargs=kwargs)
            # No password: NOAUTH, which redis-py's Sentinel takes for an unusable sentinel;
            # a wrong one: WRONGPASS, raised as is.
            with self.assertRaises((MasterNotFoundError, redis.exceptions.AuthenticationError,
                                    redis.exceptions.ResponseError)):
                s.discover_master("rg1")
        # The node connections themselves need no password (nodes' ACL is not managed yet):
        # master_for reaches the primary with the password given to Sentinel only.
        s = Sentinel([(ch.HOST, c.control.port)], socket_timeout=10,
                     sentinel_kwargs={"password": "sentinel-password"})
        self.assertEqual(s.master_for("rg1", socket_timeout=10).get("secret"), b"data")

    def test_user_management(self):
        c = self.c
        for argv, fault in ((("delete-user", "--user-name", ch.ADMIN[0]), "InvalidUserState"),
                            (("modify-user", "--user-name", ch.ADMIN[0], "--role", "readonly"),
                             "InvalidUserState"),
                            (("delete-user", "--user-name", "ghost"), "UserNotFound"),
                            (("modify-user", "--user-name", READONLY[0], "--role", "root"),
                             "InvalidParameterValue")):
            p = c.ctl(*argv)
            self.assertEqual(p.returncode, 254, argv)
            self.assertIn(fault, p.stderr)
        users = c.ctl_json("describe-users")["Users"]
        self.assertEqual({u["UserName"]: u["Role"] for u in users},
                         {ch.ADMIN[0]: "admin", READONLY[0]: "readonly"})
        # A connection of a user that is deleted must authenticate again.
        ro = c.control.redis(username=READONLY[0], password=READONLY[1])
        self.assertTrue(ro.ping())
        c.ctl_ok("delete-user", "--user-name", READONLY[0])
        with self.assertRaises(redis.exceptions.AuthenticationError):
            ro.execute_command("POLLUX", "describe-nodes")
        p = c.ctl("describe-nodes", auth=READONLY)
        self.assertEqual(p.returncode, 254)
        # A password change: the old one stops working, the new one works.
        path = os.path.join(c.workdir, "new-password")
        with open(path, "w") as f:
            f.write("new-admin-password\n")
        self.add_user("ops", "ops-password", "admin")
        c.ctl_ok("modify-user", "--user-name", "ops", "--password-file", path)
        self.assertEqual(c.ctl("describe-users", auth=("ops", "ops-password")).returncode, 254)
        p = c.ctl("describe-users", auth=("ops", "new-admin-password"))
        self.assertEqual(p.returncode, 0, p.stderr)
        # The users survive a restart of pollux-control.
        c.control.restart()
        p = c.ctl("describe-users", auth=("ops", "new-admin-password"))
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_credentials_file_profiles(self):
        c = self.c
        path = os.path.join(c.workdir, "credentials")
        with open(path, "w") as f:
            f.write(f"[default]\nuser = {READONLY[0]}\npassword = {READONLY[1]}\n\n"
                    f"[admin]\nuser = {ch.ADMIN[0]}\npassword = {ch.ADMIN[1]}\n")
        env = c.control.ctl_env(auth=None)
        env["POLLUX_CREDENTIALS_FILE"] = path

        def run(*args, code, text=None):
            p = c.ctl(*args, env=env)
            self.assertEqual(p.returncode, code, f"polluxctl {args}: {p.stderr}")
            if text:
                self.assertIn(text, p.stderr)

        run("describe-users", code=254, text="NOPERM")  # the default profile: read-only
        run("--profile", "admin", "describe-users", code=0)
        run("--profile", "nope", "describe-users", code=252, text="no profile 'nope'")
        env["POLLUX_PROFILE"] = "admin"
        run("describe-users", code=0)


WRONG = b"WRONGPASS invalid username-password pair or user is disabled."
THROTTLED = b"WRONGPASS too many failed authentication attempts, retry in "


class AuthThrottle(unittest.TestCase):
    """Password guessing against pollux-control. Each wrong guess that is checked costs a
    PBKDF2 computation on its only thread; past a few failures a connection, and a source
    address for one user, back off, and their guesses are refused unchecked. The attacker
    connects from 127.0.0.2; the other clients from 127.0.0.1. No assertion on time: the
    bounds on checked guesses are loose (a back-off of 250 ms that doubles lets through a
    handful more in a minute), and without throttling every guess is checked."""

    GUESSES = 500
    MAX_CHECKED = 50

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="pollux-ctl-throttle-")
        self.control = ch.Control(self.workdir).start()

    def tearDown(self):
        try:
            self.control.stop()
        finally:
            if ch.test_failed(self):
                print(self.control.tail(), file=sys.stderr)
            shutil.rmtree(self.workdir, ignore_errors=True)

    def client(self, source=ch.HOST):
        return h.RawClient(ch.HOST, self.control.port, timeout=120, source=source)

    def count(self, replies):
        checked = sum(r == WRONG for r in replies)
        throttled = sum(r.startswith(THROTTLED) for r in replies)
        self.assertEqual(checked + throttled, len(replies), set(replies))
        return checked, throttled

    def test_pipelined_brute_force_does_not_starve_others(self):
        with self.client() as admin:
            self.assertEqual(admin.command("AUTH", *ch.ADMIN), b"OK")
            reply = admin.command("POLLUX", "create-user", "user-name", "viewer", "role",
                                  "readonly", "password", "viewer-pw")
            self.assertNotIsInstance(reply, h.ErrorReply)
        with self.client("127.0.0.2") as attacker:
            attacker.send(b"".join(h.encode_command("AUTH", ch.ADMIN[0], f"guess-{i}")
                                   for i in range(self.GUESSES)))
            # served meanwhile: another address, and another user of the attacker's address
            with self.client() as other:
                self.assertEqual(other.command("AUTH", *ch.ADMIN), b"OK")
                self.assertEqual(other.command("PING"), b"PONG")
            with self.client("127.0.0.2") as viewer:
                self.assertEqual(viewer.command("AUTH", "viewer", "viewer-pw"), b"OK")
                self.assertIsInstance(viewer.command("ROLE"), list)
            checked, throttled = self.count([attacker.read_reply()
                                             for _ in range(self.GUESSES)])
            self.assertLessEqual(checked, self.MAX_CHECKED)
            self.assertGreaterEqual(checked, 3)  # the first failures are checked
            self.assertTrue(attacker.command("PING").startswith(b"NOAUTH"))
            # refused guesses do not lengthen the back-off: once it ends, the right password
            # is checked and accepted on the same connection
            last = h.wait_until(lambda: attacker.command("AUTH", *ch.ADMIN) == b"OK", 90, 0.2)
            self.assertTrue(last, "the right password was never accepted")
            self.assertEqual(attacker.command("PING"), b"PONG")
        print(f"\n    {self.GUESSES} guesses: {checked} checked, {throttled} refused unchecked",
              flush=True)

    def test_many_connections_from_one_address(self):
        conns = [self.client("127.0.0.2") for _ in range(20)]
        try:
            for c in conns:
                c.send(b"".join(h.encode_command("AUTH", ch.ADMIN[0], f"guess-{i}")
                                for i in range(20)))
            replies = [c.read_reply() for c in conns for _ in range(20)]
        finally:
            for c in conns:
                c.close()
        checked, _ = self.count(replies)
        # 20 connections would get 3 checks each (60) without the per-address count
        self.assertLessEqual(checked, self.MAX_CHECKED)
        with self.client() as other:
            self.assertEqual(other.command("AUTH", *ch.ADMIN), b"OK")


class Binding(unittest.TestCase):

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="pollux-ctl-auth-")

    def tearDown(self):
        shutil.rmtree(self.workdir, ignore_errors=True)

    def run_control(self, *args, env=None):
        return subprocess.run([ch.Opts.control, "--state", os.path.join(self.workdir, "s.db"),
                               "--port", str(h.free_port())] + list(args),
                              capture_output=True, text=True, timeout=60, env=env)

    def test_non_loopback_bind_without_users_refuses_to_start(self):
        # It exits before listening: nothing is sent anywhere.
        for addr in ("0.0.0.0", "::"):
            p = self.run_control("--bind", addr)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn(f"refusing to listen on {addr} with no user configured", p.stderr)

    def test_bootstrap_needs_a_password_from_a_file_or_the_environment(self):
        p = self.run_control("--bootstrap-user", "admin")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("--bootstrap-password-file", p.stderr)
        p = self.run_control("--bootstrap-user", "admin", "--bootstrap-password-file",
                             os.path.join(self.workdir, "missing"))
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("cannot read a password", p.stderr)

    def test_open_on_loopback_without_users_with_a_warning(self):
        ctl = ch.Control(self.workdir, users=False).start()
        try:
            with ctl.raw_client() as c:
                self.assertEqual(c.command("PING"), b"PONG")
                self.assertTrue(c.command("AUTH", "pw").startswith(b"ERR AUTH <password> called"))
            env = ctl.ctl_env(auth=None)
            p = subprocess.run([ch.Opts.ctl, "--endpoint", f"{ch.HOST}:{ctl.port}",
                                "describe-nodes"], capture_output=True, text=True, timeout=60,
                               env=env)
            self.assertEqual(p.returncode, 0, p.stderr)
            # The first admin created through the API closes it.
            pw = os.path.join(self.workdir, "pw")
            with open(pw, "w") as f:
                f.write("first-admin\n")
            p = subprocess.run([ch.Opts.ctl, "--endpoint", f"{ch.HOST}:{ctl.port}",
                                "create-user", "--user-name", "root", "--role", "admin",
                                "--password-file", pw], capture_output=True, text=True,
                               timeout=60, env=env)
            self.assertEqual(p.returncode, 0, p.stderr)
            with h.RawClient(ch.HOST, ctl.port, timeout=60) as c:
                self.assertTrue(c.command("PING").startswith(b"NOAUTH"))
                self.assertEqual(c.command("AUTH", "root", "first-admin"), b"OK")
                self.assertEqual(c.command("PING"), b"PONG")
        finally:
            ctl.stop()
        with open(ctl.log) as f:
            self.assertIn("no user is configured", f.read())


if __name__ == "__main__":
    ch.main()
