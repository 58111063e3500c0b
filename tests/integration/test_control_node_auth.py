#!/usr/bin/env python3
"""Replication groups whose nodes require a password (the group's auth token): clients
without it get NOAUTH, pollux-control authenticates on every connection it opens to a
node, the replicas authenticate to their primary (masterauth), and that holds across a
failover, the old primary's return, a new replica, a restart of pollux-control and a
change of the token; pollux-control's own ACL users (pollux-control, pollux-replica) are on
every member with exactly their rules, and again on a node restarted without them; a node
whose password pollux-control does not know is shown unreachable with the node's answer,
and nothing crashes.

    python3 test_control_node_auth.py --control build/control/pollux-control \
        --ctl build/control/polluxctl [--node-server redis-server]
"""

import os
import sqlite3
import stat

import control_harness as ch
import harness as h

redis = h.require_redis_py()

TOKEN = "first-token-0123456789"
TOKEN2 = "second-token-9876543210"


CTL_RULES = {"+ping", "+info", "+replicaof", "+slaveof", "+config|get", "+config|set",
             "+client|kill", "+client|pause", "+client|unpause", "+acl|setuser"}
REPL_RULES = {"+psync", "+replconf", "+ping"}


def node_user_password(c, user):
    """The password pollux-control generated for one of its ACL users (its state file)."""
    with sqlite3.connect(c.control.state) as db:
        row = db.execute("SELECT password FROM node_users WHERE name = ?", (user,)).fetchone()
    return row[0] if row else None


def getuser(node, token, user):
    """ACL GETUSER as a dict of str, None while the node does not have the user."""
    try:
        r = node.redis(password=token).execute_command("ACL", "GETUSER", user)
    except (redis.AuthenticationError, redis.ResponseError):
        return None
    if r is None:
        return None
    if isinstance(r, list):
        r = dict(zip(r[0::2], r[1::2]))
    dec = (lambda v: v.decode() if isinstance(v, bytes) else
           [dec(x) for x in v] if isinstance(v, list) else v)
    return {dec(k): dec(v) for k, v in r.items()}


def rule_words(u):
    return set(u["commands"].split()) - {"-@all"}


def write_token(c, name, token):
    path = os.path.join(c.workdir, name)
    with open(path, "w") as f:
        f.write(token + "\n")
    os.chmod(path, 0o600)
    return path


def refuses_without_password(node):
    """Whether the node answers NOAUTH to a client that did not authenticate."""
    try:
        node.redis().get("x")
    except redis.AuthenticationError:
        return True
    except redis.ResponseError as e:
        return str(e).startswith("NOAUTH")
    return False


def accepts(node, password):
    try:
        return node.redis(password=password).ping()
    except (redis.AuthenticationError, redis.ResponseError):
        return False


def has_key(node, password, key, value):
    try:
        return node.redis(password=password).get(key) == value
    except (redis.AuthenticationError, redis.ResponseError):
        return False


def try_set(node, password, key, value):
    """SET with the password; False while the node refuses it (not promoted yet)."""
    try:
        return node.redis(password=password).set(key, value)
    except redis.ResponseError:
        return False


class NodeAuth(ch.ClusterTestCase):
    ZONES = ("az-a", "az-b", "az-a")

    def create(self, replicas, token=TOKEN):
        path = write_token(self.c, "token", token)
        out = self.c.ctl_ok("create-replication-group", "--replication-group-id", "rg1",
                            "--primary-node-id", "n1", "--replica-node-ids", *replicas,
                            "--multi-az", "--auth-token-file", path)
        self.assertNotIn(token, out)
        self.c.wait_available("rg1")

    def all_require(self, names, token):
        for name in names:
            node = self.c.nodes[name]
            self.wait(lambda: refuses_without_password(node) and accepts(node, token),
                      what=f"{name} to require the token")

    def replicated(self, names, token, key, value):
        for name in names:
            node = self.c.nodes[name]
            self.wait(lambda: has_key(node, token, key, value), what=f"{key} on {name}")

    def test_group_with_token(self):
        self.create(["n2", "n3"])
        self.all_require(["n1", "n2", "n3"], TOKEN)
        primary = self.c.nodes["n1"].redis(password=TOKEN)
        self.assertTrue(primary.set("k1", "v1"))
        self.replicated(["n2", "n3"], TOKEN, "k1", b"v1")
        g = self.c.group("rg1")
        self.assertIs(g["AuthTokenEnabled"], True)
        self.assertEqual(g["Status"], "available")
        # The token is shown nowhere: describe output, events, the table.
        for out in (self.c.ctl("describe-replication-groups", output="json").stdout,
                    self.c.ctl("describe-nodes", output="json").stdout,
                    self.c.ctl("describe-events", output="json").stdout,
                    self.c.ctl_ok("describe-replication-groups")):
            self.assertNotIn(TOKEN, out)
        self.assertIn("auth token enabled", self.c.ctl_ok("describe-replication-groups"))
        with open(self.c.control.log) as f:
            self.assertNotIn(TOKEN, f.read())
        # The state file holds it in clear, so it is readable by its owner only.
        self.assertEqual(stat.S_IMODE(os.stat(self.c.control.state).st_mode), 0o600)
        # A restart of pollux-control keeps driving the nodes with the stored token.
        self.c.control.restart()
        self.c.wait_available("rg1")
        self.all_require(["n1", "n2", "n3"], TOKEN)

    def restart_unseen(self, name, auth):
        """kill -9 and restart a node while pollux-control is stopped: it never sees the node
        down, only its connection reset and a new process answering on the next one."""
        node = self.c.nodes[name]
        self.c.control.pause()
        try:
            node.kill9()
            node.auth = auth
            node.restart()
        finally:
            self.c.control.resume()

    def has_users(self, name, token):
        """Wait for pollux-control's two ACL users on the node; return them."""
        node = self.c.nodes[name]
        users = {}
        for user in ("pollux-control", "pollux-replica"):
            users[user] = self.wait(lambda: getuser(node, token, user),
                                    what=f"user {user} on {name}")
        return users

    def test_node_users(self):
        self.create(["n2"])
        self.all_require(["n1", "n2"], TOKEN)
        ctl_pass = node_user_password(self.c, "pollux-control")
        repl_pass = node_user_password(self.c, "pollux-replica")
        self.assertEqual(len(ctl_pass), 64)
        self.assertEqual(len(repl_pass), 64)
        self.assertNotEqual(ctl_pass, repl_pass)
        for name in ("n1", "n2"):
            users = self.has_users(name, TOKEN)
            ctl, rep = users["pollux-control"], users["pollux-replica"]
            # Exactly the commands each needs, on no key and no channel (polluxd and Redis
            # both have every one of them, CLIENT PAUSE included).
            self.assertEqual(rule_words(ctl), CTL_RULES)
            self.assertEqual(rule_words(rep), REPL_RULES)
            for u in (ctl, rep):
                self.assertIn("on", u["flags"])
                self.assertNotIn("nopass", u["flags"])
                self.assertEqual(u["keys"], "")
                self.assertEqual(u["channels"], "")
            node = self.c.nodes[name]
            r = node.redis(username="pollux-control", password=ctl_pass)
            self.assertTrue(r.ping())
            # NOPERM (redis-py strips the code into the exception's class).
            with self.assertRaises(redis.exceptions.NoPermissionError):
                r.get("k1")
            with self.assertRaises(redis.exceptions.NoPermissionError):
                node.redis(username="pollux-replica", password=repl_pass).get("k1")
            # The replicas authenticate to their primary as pollux-replica.
            cfg = node.redis(password=TOKEN).config_get("masteruser")
            self.assertEqual(cfg["masteruser"], "pollux-replica")
        self.c.nodes["n1"].redis(password=TOKEN).set("k1", "v1")
        self.replicated(["n2"], TOKEN, "k1", b"v1")
        # pollux-control works as its own user: a node whose default password changed
        # behind its back stays reachable.
        self.c.nodes["n2"].redis(password=TOKEN).config_set("requirepass",
                                                             "somebody-elses-password")
        # One connection authenticated now (it stays so when pollux-control sets the token
        # again, which may come at once) closes every other (SKIPME: not itself).
        n2 = self.c.nodes["n2"].redis(password="somebody-elses-password")
        self.assertTrue(n2.ping())
        n2.execute_command("CLIENT", "KILL", "TYPE", "normal")
        self.wait(lambda: any(c.get("user") == "pollux-control" for c in n2.client_list()),
                  what="pollux-control connected to n2 as its user")
        self.assertNotIn("refused pollux-control's password", "\n".join(self.c.events("n2")))

    def test_restarted_node_is_provisioned_again(self):
        self.create(["n2"])
        self.has_users("n2", TOKEN)
        # n2 restarts without its users and without a password (nothing rewritten).
        self.restart_unseen("n2", ("default", TOKEN))
        self.has_users("n2", TOKEN)
        self.all_require(["n2"], TOKEN)
        self.c.nodes["n1"].redis(password=TOKEN).set("after-restart", "1")
        self.replicated(["n2"], TOKEN, "after-restart", b"1")

    def test_failover_keeps_replication_authenticated(self):
        self.create(["n2", "n3"])
        self.all_require(["n1", "n2", "n3"], TOKEN)
        self.c.nodes["n1"].redis(password=TOKEN).set("before", "1")
        self.replicated(["n2", "n3"], TOKEN, "before", b"1")
        self.c.nodes["n1"].kill9()
        new = self.wait(lambda: (lambda p: p if p != "n1" else None)(self.c.primary_of("rg1")),
                        what="a new primary")
        np_ = self.c.nodes[new]
        self.assertTrue(refuses_without_password(np_))
        self.wait(lambda: try_set(np_, TOKEN, "after", "2"), what="writes on the new primary")
        other = "n3" if new == "n2" else "n2"
        self.replicated([other], TOKEN, "after", b"2")
        # The old primary comes back empty and without a password: it is fenced, made to
        # require the token and to follow the new primary with it.
        self.c.nodes["n1"].auth = ("default", TOKEN)
        self.c.nodes["n1"].restart()
        self.all_require(["n1"], TOKEN)
        self.replicated(["n1"], TOKEN, "after", b"2")
        self.c.wait_available("rg1")
        # It got pollux-control's users back and syncs through masteruser.
        self.has_users("n1", TOKEN)
        self.assertEqual(self.c.nodes["n1"].redis(password=TOKEN).config_get("masteruser"),
                         {"masteruser": "pollux-replica"})

    def test_rotation_and_new_replica(self):
        self.create(["n2"])
        self.all_require(["n1", "n2"], TOKEN)
        def prev_cleared():
            with sqlite3.connect(self.c.control.state) as db:
                rows = db.execute("SELECT auth_token_prev FROM nodes").fetchall()
            return all(r[0] == "" for r in rows)
        # ROTATE: the old and the new token both accepted (the default user's two passwords).
        self.c.ctl_ok("modify-replication-group", "--replication-group-id", "rg1",
                      "--auth-token-file", write_token(self.c, "token2", TOKEN2),
                      "--auth-token-update-strategy", "ROTATE")
        for name in ("n1", "n2"):
            node = self.c.nodes[name]
            self.wait(lambda: accepts(node, TOKEN2) and accepts(node, TOKEN),
                      what=f"{name} to accept both tokens")
            self.assertTrue(refuses_without_password(node))
        self.wait(prev_cleared, what="the rotation to reach every node")
        self.assertTrue(any("Auth token rotated" in e for e in self.c.events("rg1")))
        # A node restarted meanwhile gets both again.
        self.restart_unseen("n2", ("default", TOKEN2))
        self.wait(lambda: accepts(self.c.nodes["n2"], TOKEN2) and
                  accepts(self.c.nodes["n2"], TOKEN) and
                  refuses_without_password(self.c.nodes["n2"]),
                  what="n2 to accept both tokens after its restart")
        # SET, the new token from the environment: only the new one from now on.
        env = self.c.control.ctl_env()
        env["POLLUX_AUTH_TOKEN"] = TOKEN2
        p = self.c.ctl("modify-replication-group", "--replication-group-id", "rg1",
                       "--auth-token-update-strategy", "SET", env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        for name in ("n1", "n2"):
            node = self.c.nodes[name]
            self.wait(lambda: accepts(node, TOKEN2) and not accepts(node, TOKEN),
                      what=f"{name} to take the new token only")
        # Once applied, the old token is no longer kept in the state file.
        self.wait(prev_cleared, what="the previous token to be forgotten")
        self.c.nodes["n1"].redis(password=TOKEN2).set("rotated", "1")
        self.replicated(["n2"], TOKEN2, "rotated", b"1")
        # A replica added now syncs with the new token (masterauth) and requires it.
        self.c.ctl_ok("increase-replica-count", "--replication-group-id", "rg1",
                      "--replica-node-ids", "n3")
        self.all_require(["n3"], TOKEN2)
        self.replicated(["n3"], TOKEN2, "rotated", b"1")
        self.c.wait_available("rg1")
        # DELETE: no password any more.
        self.c.ctl_ok("modify-replication-group", "--replication-group-id", "rg1",
                      "--auth-token-update-strategy", "DELETE")
        for name in ("n1", "n2", "n3"):
            node = self.c.nodes[name]
            self.wait(lambda: not refuses_without_password(node),
                      what=f"{name} to require no password")
        self.assertIs(self.c.group("rg1")["AuthTokenEnabled"], False)
        p = self.c.ctl("modify-replication-group", "--replication-group-id", "rg1",
                       "--auth-token-update-strategy", "DELETE")
        self.assertEqual(p.returncode, 254, p.stderr)
        self.assertIn("has no auth token", p.stderr)

    def test_bad_tokens_refused(self):
        short = write_token(self.c, "short", "too-short")
        p = self.c.ctl("create-replication-group", "--replication-group-id", "rg1",
                       "--primary-node-id", "n1", "--replica-node-ids", "n2",
                       "--auth-token-file", short)
        self.assertEqual(p.returncode, 254, p.stderr)
        self.assertIn("InvalidParameterValue", p.stderr)
        self.assertNotIn("too-short", p.stderr)
        self.assertEqual(self.c.ctl_json("describe-replication-groups")["ReplicationGroups"],
                         [])

    def test_unknown_password_is_reported(self):
        self.create(["n2"])
        self.all_require(["n1", "n2"], TOKEN)
        # Someone changes n2's password and disables pollux-control's user behind its back,
        # and drops its connections: pollux-control's next connection is refused (WRONGPASS).
        n2 = self.c.nodes["n2"].redis(password=TOKEN)
        self.has_users("n2", TOKEN)
        n2.execute_command("ACL", "SETUSER", "pollux-control", "resetpass", "nopass", "off")
        n2.config_set("requirepass", "somebody-elses-password")
        n2.execute_command("CLIENT", "KILL", "TYPE", "normal")

        def refused(node_id, text):
            n = self.c.ctl_json("describe-nodes", "--node-id", node_id)["Nodes"][0]
            return n["Status"] == "unreachable" and text in (n["AuthError"] or "")
        self.wait(lambda: refused("n2", "WRONGPASS"), what="n2 unreachable with WRONGPASS")
        self.wait(lambda: any("refused pollux-control's password" in e and "WRONGPASS" in e
                              for e in self.c.events("n2")), what="the WRONGPASS event")
        self.assertEqual(self.c.group("rg1")["Status"], "degraded")
        # A standalone node that requires a password pollux-control was never given: NOAUTH.
        n3 = self.c.nodes["n3"].redis()
        n3.config_set("requirepass", "a-password-nobody-told")
        n3.execute_command("CLIENT", "KILL", "TYPE", "normal")
        self.wait(lambda: refused("n3", "NOAUTH"), what="n3 unreachable with NOAUTH")
        self.assertTrue(ch._ping(self.c.control.port, auth=self.c.control.auth))
        # The right password again: reachable, the group available.
        self.c.nodes["n2"].redis(password="somebody-elses-password").config_set(
            "requirepass", TOKEN)
        self.wait(lambda: self.c.ctl_json("describe-nodes", "--node-id", "n2")[
            "Nodes"][0]["Status"] == "available", what="n2 reachable again")
        self.c.wait_available("rg1")

    def test_register_node_that_requires_a_password(self):
        extra = ch.Node("n4", self.c.workdir).start()
        self.c.nodes["n4"] = extra
        extra.redis().config_set("requirepass", TOKEN2)
        args = ("register-node", "--node-id", "n4", "--address", f"{ch.HOST}:{extra.port}",
                "--availability-zone", "az-b", "--node-type", "cache.t3.micro")
        p = self.c.ctl(*args)
        self.assertEqual(p.returncode, 254, p.stderr)
        self.assertIn("NOAUTH", p.stderr)
        self.c.ctl_ok(*args, "--auth-token-file", write_token(self.c, "n4", TOKEN2))
        n = self.c.ctl_json("describe-nodes", "--node-id", "n4")["Nodes"][0]
        self.wait(lambda: self.c.ctl_json("describe-nodes", "--node-id", "n4")[
            "Nodes"][0]["Status"] == "available", what="n4 probed with its password")
        self.assertIsNone(n["AuthError"])


if __name__ == "__main__":
    ch.main()
