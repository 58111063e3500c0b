#!/usr/bin/env python3
"""pollux-control and polluxctl with three nodes in two zones on loopback: groups,
endpoints, parameter groups, failover by kill -9 and by test-failover, fencing of the
old primary, restarts of pollux-control, redis-py's Sentinel client, and bad input.

    python3 test_control.py --control build/control/pollux-control \
        --ctl build/control/polluxctl [--node-server redis-server]
"""

import os
import signal
import time

import control_harness as ch
import harness as h

redis = h.require_redis_py()
from redis.sentinel import MasterNotFoundError, Sentinel, SlaveNotFoundError


def config_get(node, name):
    return node.redis().config_get(name).get(name)


def role(node):
    return node.redis().execute_command("ROLE")[0]


def try_set(node, key, value):
    """SET on a node; False while it refuses (not promoted yet, or down)."""
    try:
        return node.redis().set(key, value)
    except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
        return False


def kill_primary_check_writes(t, gid, node, count=200):
    """Write `count` keys on the primary `node` with WAIT 1 each, kill -9 it, wait for a
    new primary that takes writes, check every acknowledged key is there. Returns the
    new primary's name and the number of acknowledged writes."""
    c = t.c
    w = node.redis()
    acked = []
    for i in range(count):
        w.set(f"k{i}", i)
        if w.execute_command("WAIT", 1, 5000) >= 1:
            acked.append(i)
    t0 = time.monotonic()
    node.kill9()
    new = t.wait(lambda: (lambda x: x if x != node.name else None)(c.primary_of(gid)),
                 what="a new primary")
    np_ = c.nodes[new]
    t.wait(lambda: try_set(np_, "after", "1"), what="writes on the new primary")
    print(f"kill -9 -> writable new primary: {time.monotonic() - t0:.2f} s")
    t.assertEqual(np_.redis().mget([f"k{i}" for i in acked]), [str(i).encode() for i in acked])
    return new, len(acked)


def retry(fn, timeout=15):
    """Call fn until it stops raising connection-type errors (clients across a failover)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return fn()
        except (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError,
                MasterNotFoundError, SlaveNotFoundError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class Groups(ch.ClusterTestCase):

    def test_create_write_primary_read_reader(self):
        g = self.c.create_group("rg1", "n1", ("n2", "n3"), "--multi-az")
        self.assertEqual(g["Status"], "available")
        self.assertEqual(g["MultiAZ"], "enabled")
        self.assertEqual(g["AutomaticFailover"], "enabled")
        self.assertEqual(g["CacheParameterGroupName"], "default.redis7")
        roles = {m["CacheNodeId"]: m["CurrentRole"] for m in g["NodeGroupMembers"]}
        self.assertEqual(roles, {"n1": "primary", "n2": "replica", "n3": "replica"})
        n = self.c.nodes
        self.assertEqual(g["PrimaryEndpoint"], {"Address": ch.HOST, "Port": n["n1"].port})
        self.assertIn(g["ReaderEndpoint"]["Port"], (n["n2"].port, n["n3"].port))
        # The nodes really are a primary and its replicas.
        self.assertEqual(role(n["n1"]), b"master")
        for r in ("n2", "n3"):
            info = n[r].redis().info("replication")
            self.assertEqual(info["role"], "slave")
            self.assertEqual(info["master_port"], n["n1"].port)
        # The node type sets maxmemory, less reserved-memory-percent (25%).
        self.assertEqual(config_get(n["n1"], "maxmemory"), str(536870912 * 3 // 4))
        # Write through the primary endpoint, read through the reader endpoint.
        ep = g["PrimaryEndpoint"]
        w = redis.Redis(host=ep["Address"], port=ep["Port"])
        w.set("greeting", "hello")
        self.assertEqual(w.execute_command("WAIT", 2, 5000), 2)
        rd = g["ReaderEndpoint"]
        self.assertEqual(redis.Redis(host=rd["Address"], port=rd["Port"]).get("greeting"),
                         b"hello")
        # The table output names the group, its endpoints and its members.
        out = self.c.ctl_ok("describe-replication-groups")
        self.assertIn("rg1  status available", out)
        self.assertIn(f"primary endpoint {ch.HOST}:{n['n1'].port}", out)
        for name in ("n1", "n2", "n3"):
            self.assertIn(name, out)
        self.assertTrue(any("Replication group is available" in m
                            for m in self.c.events("rg1")))

    def test_replica_count_and_delete(self):
        self.c.create_group("rg1", "n1", ("n2",), "--multi-az")
        self.c.ctl_ok("increase-replica-count", "--replication-group-id", "rg1",
                      "--replica-node-ids", "n3", "--new-replica-count", "2")
        self.c.wait_available("rg1")
        self.wait(lambda: self.c.nodes["n3"].redis().info("replication").get("master_port")
                  == self.c.nodes["n1"].port, what="n3 to follow n1")
        # Removing the only replica in another zone would break Multi-AZ.
        p = self.c.ctl("decrease-replica-count", "--replication-group-id", "rg1",
                       "--replicas-to-remove", "n2")
        self.assertEqual(p.returncode, 254)
        self.assertIn("outside the primary's availability zone", p.stderr)
        self.c.ctl_ok("decrease-replica-count", "--replication-group-id", "rg1",
                      "--replicas-to-remove", "n3")
        self.assertEqual([m["CacheNodeId"] for m in self.c.group("rg1")["NodeGroupMembers"]],
                         ["n1", "n2"])
        self.wait(lambda: role(self.c.nodes["n3"]) == b"master", what="n3 standalone")
        self.c.ctl_ok("delete-replication-group", "--replication-group-id", "rg1")
        self.assertEqual(self.c.ctl_json("describe-replication-groups")["ReplicationGroups"], [])
        nodes = self.c.ctl_json("describe-nodes")["Nodes"]
        self.assertTrue(all(n["ReplicationGroupId"] is None for n in nodes))
        self.wait(lambda: role(self.c.nodes["n2"]) == b"master", what="n2 standalone")


class ParameterGroups(ch.ClusterTestCase):

    def test_immediate_and_reboot_changes(self):
        c = self.c
        c.ctl_ok("create-cache-parameter-group", "--cache-parameter-group-name", "pg1",
                 "--cache-parameter-group-family", "redis7", "--description", "tests")
        c.create_group("rg1", "n1", ("n2", "n3"), "--multi-az",
                       "--cache-parameter-group-name", "pg1")
        nodes = list(c.nodes.values())
        # Group defaults reach the nodes at creation (ElastiCache's volatile-lru).
        for n in nodes:
            self.assertEqual(config_get(n, "maxmemory-policy"), "volatile-lru")
        c.ctl_ok("modify-cache-parameter-group", "--cache-parameter-group-name", "pg1",
                 "--parameter-name-values",
                 "ParameterName=maxmemory-policy,ParameterValue=allkeys-lru", "timeout=300",
                 "client-output-buffer-limit-pubsub-hard-limit=1048576")
        for n in nodes:
            self.wait(lambda: config_get(n, "maxmemory-policy") == "allkeys-lru"
                      and config_get(n, "timeout") == "300", what=f"{n.name} immediate change")
            self.assertIn("pubsub 1048576 8388608 60",
                          config_get(n, "client-output-buffer-limit"))
        params = {p["ParameterName"]: p for p in c.ctl_json(
            "describe-cache-parameters", "--cache-parameter-group-name", "pg1")["Parameters"]}
        self.assertEqual(params["maxmemory-policy"]["ParameterValue"], "allkeys-lru")
        self.assertEqual(params["maxmemory-policy"]["Source"], "user")
        self.assertEqual(params["maxmemory-policy"]["ChangeType"], "immediate")
        self.assertEqual(params["hz"]["Source"], "system")
        self.assertEqual(params["activerehashing"]["ChangeType"], "requires-reboot")
        # redis7 lists what Redis 7 has and polluxd accepts: the encoding thresholds by their
        # 7.0 names, not the ziplist aliases
        self.assertEqual(params["hash-max-listpack-entries"]["ParameterValue"], "512")
        self.assertEqual(params["zset-max-listpack-value"]["ChangeType"], "immediate")
        self.assertNotIn("hash-max-ziplist-entries", params)
        self.assertNotIn("hll-sparse-max-bytes", params)
        c.ctl_ok("modify-cache-parameter-group", "--cache-parameter-group-name", "pg1",
                 "--parameter-name-values", "hash-max-listpack-entries=100")
        for n in nodes:
            self.wait(lambda: config_get(n, "hash-max-listpack-entries") == "100",
                      what=f"{n.name} encoding threshold")
        # A requires-reboot change: pending until reboot-node.
        c.ctl_ok("modify-cache-parameter-group", "--cache-parameter-group-name", "pg1",
                 "--parameter-name-values", "activerehashing=no")
        status = {n["NodeId"]: n["ParameterStatus"] for n in c.ctl_json("describe-nodes")["Nodes"]}
        self.assertEqual(status, {"n1": "pending-reboot", "n2": "pending-reboot",
                                  "n3": "pending-reboot"})
        time.sleep(0.3)
        for n in nodes:
            self.assertEqual(config_get(n, "activerehashing"), "yes")
        c.ctl_ok("reboot-node", "--node-id", "n2")
        self.wait(lambda: config_get(c.nodes["n2"], "activerehashing") == "no",
                  what="n2 reboot applied")
        self.wait(lambda: {n["NodeId"]: n["ParameterStatus"] for n in
                           c.ctl_json("describe-nodes")["Nodes"]}["n2"] == "in-sync",
                  what="n2 in sync")
        self.assertEqual(config_get(c.nodes["n1"], "activerehashing"), "yes")
        self.assertEqual({n["NodeId"]: n["ParameterStatus"] for n in
                          c.ctl_json("describe-nodes")["Nodes"]}["n1"], "pending-reboot")
        # Reset: back to the family defaults, on the nodes too.
        c.ctl_ok("reset-cache-parameter-group", "--cache-parameter-group-name", "pg1",
                 "--parameter-name-values", "ParameterName=maxmemory-policy", "timeout")
        for n in nodes:
            self.wait(lambda: config_get(n, "maxmemory-policy") == "volatile-lru"
                      and config_get(n, "timeout") == "0", what=f"{n.name} reset")
        events = c.events("pg1")
        self.assertTrue(any("modified" in e and "allkeys-lru" in e for e in events))
        self.assertTrue(any("reset" in e for e in events))

    # Parameters consumed by pollux-control or fixed by the family: no node setting.
    NOT_NODE_SETTINGS = {"reserved-memory-percent", "close-on-slave-write", "cluster-enabled",
                         "lua-time-limit", "maxclients",
                         "client-output-buffer-limit-replica-soft-seconds",
                         "enable-protected-configs", "enable-debug-command",
                         "enable-module-command"}

    POLLUX_SETTINGS = {"pollux-allow-sources", "pollux-net-syncookies"}

    def test_pollux7_family_and_startup_only_settings(self):
        """pollux7 is redis7 plus polluxd's own settings, which redis7 refuses (its groups may
        hold redis-server nodes); Redis 7's enable-* settings are shown, never modifiable."""
        c = self.c

        def params(pg):
            return {p["ParameterName"]: p for p in c.ctl_json(
                "describe-cache-parameters", "--cache-parameter-group-name", pg)["Parameters"]}

        r7, px = params("default.redis7"), params("default.pollux7")
        self.assertEqual(set(px) - set(r7), self.POLLUX_SETTINGS)
        self.assertEqual(set(r7) - set(px), set())
        for name in ("enable-protected-configs", "enable-debug-command", "enable-module-command"):
            self.assertFalse(r7[name]["IsModifiable"], name)
            self.assertEqual(r7[name]["ChangeType"], "requires-reboot")
            self.assertEqual(r7[name]["ParameterValue"], "no")
        for name in self.POLLUX_SETTINGS:
            self.assertTrue(px[name]["IsModifiable"], name)
            self.assertEqual(px[name]["ChangeType"], "immediate")
        for fam in ("redis7", "pollux7"):
            c.ctl_ok("create-cache-parameter-group", "--cache-parameter-group-name", f"pg-{fam}",
                     "--cache-parameter-group-family", fam)
        modify = ["modify-cache-parameter-group", "--cache-parameter-group-name"]
        for fam in ("redis7", "pollux7"):
            p = self.c.ctl(*modify, f"pg-{fam}", "--parameter-name-values",
                           "enable-protected-configs=yes")
            self.assertEqual(p.returncode, 254, p.stderr)
            self.assertIn("parameter enable-protected-configs is not modifiable", p.stderr)
        p = self.c.ctl(*modify, "pg-redis7", "--parameter-name-values", "pollux-allow-sources=")
        self.assertEqual(p.returncode, 254, p.stderr)
        self.assertIn("unknown parameter 'pollux-allow-sources' for family redis7", p.stderr)
        p = self.c.ctl(*modify, "pg-pollux7", "--parameter-name-values",
                       "pollux-allow-sources=10.0.0.0/33")
        self.assertEqual(p.returncode, 254, p.stderr)
        self.assertIn("InvalidParameterValue", p.stderr)
        allow = f"{ch.HOST}/32 ::1/128"
        c.ctl_ok(*modify, "pg-pollux7", "--parameter-name-values",
                 f"pollux-allow-sources={allow}", "pollux-net-syncookies=no")
        px = params("pg-pollux7")
        self.assertEqual(px["pollux-allow-sources"]["ParameterValue"], allow)
        self.assertEqual(px["pollux-net-syncookies"]["ParameterValue"], "no")
        if "pollux-workers" not in c.nodes["n1"].redis().config_get("pollux-workers"):
            return  # redis-server nodes: a pollux7 group is for polluxd nodes only
        # polluxd nodes: the values reach every member, and the group stays in sync.
        c.create_group("rg1", "n1", ("n2", "n3"), "--cache-parameter-group-name", "pg-pollux7")
        for n in c.nodes.values():
            self.wait(lambda: config_get(n, "pollux-allow-sources") == allow
                      and config_get(n, "pollux-net-syncookies") == "no",
                      what=f"{n.name} pollux settings")
        self.wait(lambda: all(n["ParameterStatus"] == "in-sync"
                              for n in c.ctl_json("describe-nodes")["Nodes"]), what="in sync")

    def test_redis7_family_is_what_the_node_accepts(self):
        c = self.c
        params = [p["ParameterName"] for p in c.ctl_json(
            "describe-cache-parameters", "--cache-parameter-group-name",
            "default.redis7")["Parameters"]]
        accepted = set(c.nodes["n1"].redis().config_get("*"))
        for name in params:
            if name in self.NOT_NODE_SETTINGS:
                continue
            setting = ("client-output-buffer-limit"
                       if name.startswith("client-output-buffer-limit-") else name)
            self.assertIn(setting, accepted, f"{name}: the node has no {setting} setting")
        # A group on the default redis7 parameter group applies cleanly: every node in sync,
        # no refusal recorded.
        c.create_group("rg1", "n1", ("n2", "n3"))
        nodes = self.wait(lambda: [n for n in c.ctl_json("describe-nodes")["Nodes"]
                                   if n["ParameterStatus"] != "applying"] or None,
                          what="values applied")
        self.wait(lambda: all(n["ParameterStatus"] == "in-sync"
                              for n in c.ctl_json("describe-nodes")["Nodes"]), what="in sync")
        for n in nodes:
            self.assertIsNone(n["ParameterApplyFailed"])
        self.assertFalse([e for e in c.events() if "not applied" in e], c.events())

    def test_refused_parameters_are_shown_and_recorded_once(self):
        c = self.c
        # databases is fixed when a node starts: a group value that differs from the node's
        # cannot be applied, by polluxd or by redis-server.
        c.ctl_ok("create-cache-parameter-group", "--cache-parameter-group-name", "pgdb",
                 "--cache-parameter-group-family", "redis7")
        c.ctl_ok("modify-cache-parameter-group", "--cache-parameter-group-name", "pgdb",
                 "--parameter-name-values", "databases=32")
        c.create_group("rg1", "n1", ("n2",), "--cache-parameter-group-name", "pgdb")

        def statuses():
            return {n["NodeId"]: n for n in c.ctl_json("describe-nodes")["Nodes"]}

        def refused():
            nodes = statuses()
            ok = all(nodes[i]["ParameterStatus"] == "apply-failed" for i in ("n1", "n2"))
            return nodes if ok else None

        def refusals(node):
            return [e for e in c.events(node) if "not applied" in e]
        nodes = self.wait(refused, what="apply-failed on both nodes")
        self.assertEqual(nodes["n1"]["ParameterApplyFailed"], "databases")
        self.assertEqual(nodes["n3"]["ParameterStatus"], "in-sync")  # in no group
        self.assertIsNone(nodes["n3"]["ParameterApplyFailed"])
        members = {m["CacheNodeId"]: m for m in c.group("rg1")["NodeGroupMembers"]}
        self.assertEqual(members["n2"]["ParameterStatus"], "apply-failed")
        for node in ("n1", "n2"):
            self.assertEqual(refusals(node), ["Parameters not applied on the node: databases; "
                                              "it answered: the node cannot change it at run "
                                              "time"])
        # A restart of pollux-control applies everything again: no new event, same status.
        c.control.restart()
        self.wait(lambda: all(n["Status"] == "available" and n["ParameterStatus"] != "applying"
                              for n in statuses().values()), what="applied after the restart")
        self.assertIsNotNone(refused())
        for node in ("n1", "n2"):
            self.assertEqual(len(refusals(node)), 1, refusals(node))
        # reboot-node tries again, and says so; the group's other values apply meanwhile.
        c.ctl_ok("reboot-node", "--node-id", "n2")
        self.wait(lambda: len(refusals("n2")) == 2, what="n2: event for the reboot")
        self.assertEqual(len(refusals("n1")), 1)
        c.ctl_ok("modify-cache-parameter-group", "--cache-parameter-group-name", "pgdb",
                 "--parameter-name-values", "timeout=7")
        self.wait(lambda: config_get(c.nodes["n2"], "timeout") == "7", what="timeout applied")
        # n1 may still be applying the new value: its status settles back to apply-failed
        nodes = self.wait(refused, what="apply-failed again on both nodes")
        self.assertEqual(nodes["n1"]["ParameterApplyFailed"], "databases")
        if ch.node_is_redis():
            return
        # polluxd takes the encoding thresholds by their ziplist names too, not the settings it
        # has not (hll-sparse-max-bytes, active-defrag-*): the nodes of a redis6.x group
        # refuse those, and the event names them whole ("... and N more"), never cut in a word.
        c.ctl_ok("create-cache-parameter-group", "--cache-parameter-group-name", "pg6",
                 "--cache-parameter-group-family", "redis6.x")
        c.ctl_ok("modify-replication-group", "--replication-group-id", "rg1",
                 "--cache-parameter-group-name", "pg6")
        self.wait(lambda: "hll-sparse-max-bytes" in
                  (statuses()["n1"]["ParameterApplyFailed"] or ""), what="redis6.x refused")
        failed = statuses()["n1"]["ParameterApplyFailed"].split(", ")
        self.assertIn("stream-node-max-bytes", failed)
        self.assertNotIn("zset-max-ziplist-value", failed)
        self.assertNotIn("hash-max-ziplist-entries", failed)
        self.assertNotIn("maxmemory-policy", failed)
        self.wait(lambda: len(refusals("n1")) == 2, what="n1: event for the new group")
        ev = refusals("n1")[-1]
        self.assertIn("databases, active-defrag-cycle-max, ", ev)
        self.assertLess(len(ev), 512)
        names = ev.split(": ", 1)[1].split("; it answered")[0]
        for name in names.replace(" and ", ", ").split(", "):
            self.assertTrue(name in failed or name.endswith(" more"), name)

    def test_reserved_memory_and_default_groups(self):
        c = self.c
        c.ctl_ok("create-cache-parameter-group", "--cache-parameter-group-name", "half",
                 "--cache-parameter-group-family", "redis6.x")
        c.ctl_ok("modify-cache-parameter-group", "--cache-parameter-group-name", "half",
                 "--parameter-name-values", "reserved-memory-percent=50")
        c.create_group("rg1", "n1", ("n2",), "--cache-parameter-group-name", "half")
        self.wait(lambda: config_get(c.nodes["n2"], "maxmemory") == str(536870912 // 2),
                  what="maxmemory from reserved-memory-percent")
        groups = {g["CacheParameterGroupName"]: g for g in c.ctl_json(
            "describe-cache-parameter-groups")["CacheParameterGroups"]}
        self.assertTrue(groups["default.redis7"]["IsDefault"])
        self.assertTrue(groups["default.redis6.x"]["IsDefault"])
        self.assertEqual(groups["half"]["CacheParameterGroupFamily"], "redis6.x")
        p = c.ctl("modify-cache-parameter-group", "--cache-parameter-group-name",
                  "default.redis7", "--parameter-name-values", "timeout=5")
        self.assertEqual(p.returncode, 254)
        self.assertIn("InvalidCacheParameterGroupState", p.stderr)


class Failover(ch.ClusterTestCase):

    def test_kill_primary_then_old_primary_rejoins(self):
        c = self.c
        c.create_group("rg1", "n1", ("n2", "n3"), "--multi-az")
        # Zero acknowledged writes lost.
        new, acked = kill_primary_check_writes(self, "rg1", c.nodes["n1"])
        self.assertEqual(acked, 200)
        self.assertIn(new, ("n2", "n3"))
        np_ = c.nodes[new]
        # Completed, but not "available" while n1 (now a replica) is down.
        g = c.wait_failover_done("rg1")
        self.assertEqual(g["Status"], "degraded")
        self.assertEqual({m["CacheNodeId"]: m["LinkStatus"] for m in g["NodeGroupMembers"]
                          if m["CacheNodeId"] == "n1"}, {"n1": "down"})
        other = "n3" if new == "n2" else "n2"
        self.wait(lambda: c.nodes[other].redis().info("replication").get("master_port")
                  == np_.port, what="the other replica to follow the new primary")
        # The other replica continued with a partial resync.
        if ch.node_is_redis():
            self.wait(lambda: np_.redis().info("stats")["sync_partial_ok"] >= 1,
                      what="partial resync")
        events = c.events("rg1")
        self.assertTrue(any("Automatic failover from node n1" in e for e in events))
        self.assertTrue(any("completed" in e for e in events))
        # The old primary comes back empty and as a primary: it is fenced (made a replica).
        c.nodes["n1"].restart()
        self.wait(lambda: role(c.nodes["n1"]) == b"slave", what="n1 fenced as a replica")
        self.wait(lambda: c.nodes["n1"].redis().get("after") == b"1", what="n1 resynced")
        self.assertEqual(c.primary_of("rg1"), new)
        self.assertTrue(any("fenced" in e for e in c.events("n1")))
        c.wait_available("rg1")
        roles = [role(n) for n in c.nodes.values()]
        self.assertEqual(roles.count(b"master"), 1)

    def test_test_failover_loses_no_write(self):
        c = self.c
        c.create_group("rg1", "n1", ("n2", "n3"), "--multi-az")
        w = c.nodes["n1"].redis()
        for i in range(500):
            w.set(f"k{i}", i)
        out = c.ctl_json("test-failover", "--replication-group-id", "rg1")
        new = next(m["CacheNodeId"] for m in out["ReplicationGroup"]["NodeGroupMembers"]
                   if m["CurrentRole"] == "primary")
        self.assertNotEqual(new, "n1")
        c.wait_available("rg1")
        self.wait(lambda: role(c.nodes[new]) == b"master", what="promotion")
        self.wait(lambda: role(c.nodes["n1"]) == b"slave", what="old primary demoted")
        self.assertEqual(c.nodes[new].redis().dbsize(), 500)
        self.assertEqual(c.nodes[new].redis().get("k499"), b"499")
        with self.assertRaises(redis.ReadOnlyError):
            c.nodes["n1"].redis().set("x", 1)
        self.assertTrue(any("Test failover from node n1" in e for e in c.events("rg1")))

    def test_state_survives_control_restart(self):
        c = self.c
        c.ctl_ok("create-cache-parameter-group", "--cache-parameter-group-name", "pg1",
                 "--cache-parameter-group-family", "redis7")
        c.ctl_ok("modify-cache-parameter-group", "--cache-parameter-group-name", "pg1",
                 "--parameter-name-values", "hz=20")
        before = c.create_group("rg1", "n1", ("n2", "n3"), "--multi-az",
                                "--cache-parameter-group-name", "pg1")
        c.control.restart()
        after = c.group("rg1")
        for k in ("ReplicationGroupId", "MultiAZ", "CacheParameterGroupName", "PrimaryEndpoint",
                  "MemberClusters"):
            self.assertEqual(after[k], before[k])
        params = {p["ParameterName"]: p["ParameterValue"] for p in c.ctl_json(
            "describe-cache-parameters", "--cache-parameter-group-name", "pg1")["Parameters"]}
        self.assertEqual(params["hz"], "20")
        self.assertEqual(len(c.ctl_json("describe-nodes")["Nodes"]), 3)
        c.wait_available("rg1")
        # Failover still works with the restarted daemon.
        c.nodes["n1"].kill9()
        self.wait(lambda: c.primary_of("rg1") != "n1", what="failover after restart")
        c.wait_failover_done("rg1")
        # And its outcome survives another restart.
        new = c.primary_of("rg1")
        c.control.restart()
        self.assertEqual(c.primary_of("rg1"), new)


class Robustness(ch.ClusterTestCase):
    """Slow is not dead: a starved, paused primary keeps its role; a killed one does not."""

    def wait_probed_after(self, node):
        """Until pollux-control has read an INFO of `node` taken after now (its offset
        includes a write made now), so every decision up to now is visible."""
        c = self.c
        self.wait(lambda: try_set(node, "probe-marker", time.monotonic()),
                  what=f"a write on {node.name}")
        off = node.redis().info("replication")["master_repl_offset"]
        self.wait(lambda: next(m["ReplicationOffset"] for m in c.group("rg1")["NodeGroupMembers"]
                               if m["CacheNodeId"] == node.name) >= off,
                  what=f"a probe of {node.name} after the pauses")

    def test_starved_primary_is_not_failed_over_killed_one_is(self):
        c = self.c
        c.create_group("rg1", "n1", ("n2", "n3"), "--multi-az")
        epoch = c.group("rg1")["ConfigEpoch"]
        n1 = c.nodes["n1"]
        with ch.cpu_hogs(2):
            try:
                # Bursts of 300 ms stopped, as a host under heavy load does to a process,
                # then pauses longer than --down-after-ms: pollux-control hears nothing from
                # the primary for the whole window, but its replicas are still linked to it.
                # (Fault injection: these sleeps are the pauses, not waits for readiness.)
                for _ in range(15):
                    n1.pause()
                    time.sleep(0.3)
                    n1.resume()
                    time.sleep(0.2)
                for _ in range(2):
                    n1.pause()
                    time.sleep(3.0)
                    n1.resume()
                    time.sleep(0.2)
                # pollux-control itself not scheduled for longer than the window: what the
                # nodes answered meanwhile is read when it runs again, nothing failed.
                for _ in range(2):
                    os.kill(c.control.proc.pid, signal.SIGSTOP)
                    time.sleep(2.5)
                    os.kill(c.control.proc.pid, signal.SIGCONT)
                    time.sleep(0.2)
            finally:
                n1.resume()
                os.kill(c.control.proc.pid, signal.SIGCONT)
            self.wait_probed_after(n1)
            g = c.group("rg1")
            self.assertEqual(c.primary_of("rg1"), "n1")
            self.assertEqual(g["ConfigEpoch"], epoch)
            events = c.events("rg1")
            self.assertFalse([e for e in events if "failover" in e.lower()
                              and "no failover" not in e], events)
            self.assertFalse([e for e in c.events("n1") if "fenced" in e])
            self.assertEqual(role(n1), b"master")
            print("events while the primary was paused:",
                  [e for e in events if "no failover" in e])
            # Still under load, a real death fails over, with no acknowledged write lost.
            _, acked = kill_primary_check_writes(self, "rg1", n1)
            self.assertGreater(acked, 0)
            self.assertEqual(c.group("rg1")["ConfigEpoch"], epoch + 1)

    def test_one_failover_then_settle(self):
        """A failover holds back the next automatic one of the group for the settle
        period, then a real death is handled."""
        c = self.c
        c.create_group("rg1", "n1", ("n2", "n3"), "--multi-az")
        epoch = c.group("rg1")["ConfigEpoch"]
        c.ctl_ok("test-failover", "--replication-group-id", "rg1")
        c.wait_available("rg1")
        new = c.primary_of("rg1")
        c.nodes[new].kill9()
        self.wait(lambda: c.primary_of("rg1") != new, timeout=60,
                  what="a second failover after the settle period")
        c.wait_failover_done("rg1")
        # Exactly one epoch per failover: the second one was not started twice.
        self.assertEqual(c.group("rg1")["ConfigEpoch"], epoch + 2)
        events = c.events("rg1")
        started = [e for e in events if "failover from node" in e and "started" in e]
        self.assertEqual(len(started), 2, started)
        print("held back:", [e for e in events if "held back" in e])


class GroupStatus(ch.ClusterTestCase):
    """available means every replica is linked; degraded otherwise, with the member's link."""

    def members(self, g):
        return {m["CacheNodeId"]: m for m in g["NodeGroupMembers"]}

    def test_stopped_replica_degrades_the_group(self):
        c = self.c
        c.create_group("rg1", "n1", ("n2", "n3"), "--multi-az")
        n3 = c.nodes["n3"]
        n3.pause()
        try:
            g = self.wait(lambda: (lambda g: g if g["Status"] == "degraded" else None)(
                c.group("rg1")), what="degraded")
            m = self.members(g)
            self.assertEqual(m["n3"]["LinkStatus"], "down")
            self.assertEqual(m["n3"]["Status"], "unreachable")
            self.assertEqual(m["n2"]["LinkStatus"], "up")
            self.assertIn("rg1  status degraded", c.ctl_ok("describe-replication-groups"))
            p = c.ctl("wait-replication-group-available", "--replication-group-id", "rg1",
                      "--timeout-seconds", "1")
            self.assertNotEqual(p.returncode, 0)
        finally:
            n3.resume()
        c.wait_available("rg1")
        self.assertEqual(self.members(c.group("rg1"))["n3"]["LinkStatus"], "up")

    def test_unlinked_replica_and_apply_errors(self):
        """A replica that answers but whose link is down (a stuck full sync), and a replica
        that fails to apply its primary's stream."""
        c = self.c
        f = ch.FakeNode("f1")
        try:
            c.ctl_ok("register-node", "--node-id", "f1", "--address", f"{ch.HOST}:{f.port}",
                     "--availability-zone", "az-b", "--node-type", "cache.t3.micro")
            c.create_group("rg1", "n1", ("f1",))
            self.assertEqual(f.master, (ch.HOST, c.nodes["n1"].port))
            f.set(link="down")
            g = self.wait(lambda: (lambda g: g if g["Status"] == "degraded" else None)(
                c.group("rg1")), what="degraded while f1's link is down")
            m = self.members(g)["f1"]
            self.assertEqual((m["Status"], m["LinkStatus"]), ("available", "down"))
            self.assertEqual(m["ApplyErrors"], 0)
            self.assertIsNone(m["LastApplyError"])
            f.set(link="up")
            c.wait_available("rg1")
            # The replica's apply error count goes up: an event names the node and the error.
            f.set(apply_errors=0)
            err = "ERR unknown command 'FROB', with args beginning with: 'x'"
            f.set(apply_errors=2, last_apply_error=err)
            msg = self.wait(lambda: next((e for e in c.events("f1") if "failed to apply" in e), None),
                            what="an apply-error event")
            self.assertIn("2 command(s)", msg)
            self.assertIn(err, msg)
            m = self.members(c.group("rg1"))["f1"]
            self.assertEqual((m["ApplyErrors"], m["LastApplyError"]), (2, err))
            # No new event while the count stays; one more when it grows again.
            f.set(apply_errors=3)
            self.wait(lambda: len([e for e in c.events("f1") if "failed to apply" in e]) == 2,
                      what="a second apply-error event")
        finally:
            c.ctl("delete-replication-group", "--replication-group-id", "rg1")
            f.stop()


class SentinelClients(ch.ClusterTestCase):

    def test_redis_py_sentinel_across_failovers(self):
        c = self.c
        # Every client waits longer than any command it sends may block: WAIT blocks for up
        # to wait_ms, so a reply that is merely slow is not mistaken for a dead node.
        wait_ms = 20000
        timeout = wait_ms / 1000 + 30
        c.create_group("rg1", "n1", ("n2", "n3"), "--multi-az")
        s = Sentinel([(ch.HOST, c.control.port)], socket_timeout=timeout,
                     sentinel_kwargs={"username": ch.ADMIN[0], "password": ch.ADMIN[1]})
        self.assertEqual(s.discover_master("rg1"), (ch.HOST, c.nodes["n1"].port))
        self.wait(lambda: len(s.discover_slaves("rg1")) == 2, what="two replicas")
        master = s.master_for("rg1", socket_timeout=timeout)
        replica = s.slave_for("rg1", socket_timeout=timeout)
        master.set("a", "1")
        self.assertEqual(master.execute_command("WAIT", 2, wait_ms), 2)
        self.assertEqual(replica.get("a"), b"1")
        # Pub/Sub: +switch-master is published on a failover.
        ps = c.control.redis(socket_timeout=timeout).pubsub()
        ps.subscribe("+switch-master")
        self.wait(lambda: (m := ps.get_message(timeout=0.2)) and m["type"] == "subscribe",
                  what="SUBSCRIBE confirmed")
        c.ctl_ok("test-failover", "--replication-group-id", "rg1")
        msg = self.wait(lambda: (m := ps.get_message(timeout=0.2)) and m["type"] == "message"
                        and m, what="+switch-master")
        fields = msg["data"].decode().split()
        self.assertEqual(fields[:3], ["rg1", ch.HOST, str(c.nodes["n1"].port)])
        new = c.primary_of("rg1")
        self.assertEqual(fields[3:], [ch.HOST, str(c.nodes[new].port)])
        ps.close()
        retry(lambda: master.set("b", "2"), timeout=60)
        self.assertEqual(s.discover_master("rg1"), (ch.HOST, c.nodes[new].port))
        c.wait_available("rg1")
        self.wait(lambda: retry(lambda: replica.get("b")) == b"2", what="read after switch")
        # And across a kill -9 of the primary.
        c.nodes[new].kill9()
        retry(lambda: master.set("c", "3"), timeout=60)
        self.assertNotEqual(s.discover_master("rg1")[1], c.nodes[new].port)
        c.wait_failover_done("rg1")  # the killed node stays down: the group is degraded
        self.assertEqual(master.execute_command("WAIT", 1, wait_ms), 1)
        self.wait(lambda: retry(lambda: replica.get("c")) == b"3", what="read after kill")
        self.assertEqual(retry(lambda: master.get("a")), b"1")

    def test_sentinel_replies(self):
        c = self.c
        c.create_group("rg1", "n1", ("n2", "n3"), "--multi-az")
        r = c.control.redis(decode_responses=True)
        m = r.sentinel_master("rg1")
        self.assertTrue(m["is_master"])
        self.assertEqual(m["port"], c.nodes["n1"].port)
        self.assertEqual(m["num-slaves"], 2)
        self.assertEqual(m["num-other-sentinels"], 0)
        self.assertIn("rg1", r.sentinel_masters())
        self.assertEqual(r.sentinel_get_master_addr_by_name("rg1"),
                         (ch.HOST, c.nodes["n1"].port))
        self.assertIsNone(r.sentinel_get_master_addr_by_name("nope"))
        self.assertEqual(r.sentinel_sentinels("rg1"), [])
        self.wait(lambda: all(not x["is_sdown"] for x in r.sentinel_slaves("rg1")),
                  what="replicas in sync")
        reps = sorted(x["port"] for x in r.sentinel_slaves("rg1"))
        self.assertEqual(reps, sorted([c.nodes["n2"].port, c.nodes["n3"].port]))
        self.assertEqual(r.execute_command("SENTINEL", "IS-MASTER-DOWN-BY-ADDR", ch.HOST,
                                           c.nodes["n1"].port, 0, "*"), [0, "*", 0])
        with self.assertRaises(redis.ResponseError):
            r.sentinel_master("nope")
        self.assertEqual(r.info()["redis_mode"], "sentinel")
        self.assertEqual(r.execute_command("ROLE"), ["sentinel", ["rg1"]])
        # A replica that is down is reported s_down, so clients skip it.
        c.nodes["n3"].kill9()
        self.wait(lambda: any(x["is_sdown"] and x["port"] == c.nodes["n3"].port
                              for x in r.sentinel_slaves("rg1")), what="n3 s_down")


class BadInput(ch.ClusterTestCase):

    def assertRefused(self, args, fault, code=254):
        p = self.c.ctl(*args)
        self.assertEqual(p.returncode, code, p.stderr)
        self.assertIn(fault, p.stderr)
        return p

    def test_errors_change_nothing(self):
        c = self.c
        c.ctl_ok("create-cache-parameter-group", "--cache-parameter-group-name", "pg1",
                 "--cache-parameter-group-family", "redis7")
        c.create_group("rg1", "n1", ("n2",), "--multi-az", "--cache-parameter-group-name", "pg1")
        state = lambda: (c.ctl_json("describe-replication-groups"),
                         c.ctl_json("describe-cache-parameters", "--cache-parameter-group-name",
                                    "pg1"),
                         c.ctl_json("describe-cache-parameter-groups"))
        strip = lambda s: (
            [{k: v for k, v in g.items() if k not in ("NodeGroupMembers", "ReaderEndpoint")}
             for g in s[0]["ReplicationGroups"]], s[1], s[2])
        before = strip(state())
        # Unknown group.
        self.assertRefused(["describe-replication-groups", "--replication-group-id", "rg9"],
                           "ReplicationGroupNotFoundFault")
        self.assertRefused(["test-failover", "--replication-group-id", "rg9"],
                           "ReplicationGroupNotFoundFault")
        # Invalid parameter values: type, range, allowed values, unknown names; the valid
        # one in the same request is not applied either.
        for bad in ("hz=0", "hz=ten", "maxmemory-policy=sometimes", "no-such-parameter=1",
                    "cluster-enabled=yes", "notify-keyspace-events=Q"):
            self.assertRefused(["modify-cache-parameter-group", "--cache-parameter-group-name",
                                "pg1", "--parameter-name-values", "timeout=5", bad],
                               "InvalidParameterValue")
        self.assertRefused(["modify-cache-parameter-group", "--cache-parameter-group-name",
                            "pg9", "--parameter-name-values", "timeout=5"],
                           "CacheParameterGroupNotFound")
        # A second primary: a node that is already in a group cannot lead another.
        self.assertRefused(["create-replication-group", "--replication-group-id", "rg2",
                            "--primary-node-id", "n2", "--replica-node-ids", "n3"],
                           "already belongs to replication group rg1")
        self.assertRefused(["create-replication-group", "--replication-group-id", "rg2",
                            "--primary-node-id", "n3", "--replica-node-ids", "n1"],
                           "already belongs to replication group rg1")
        # Multi-AZ without a replica in another zone (n3 is in n1's zone... and taken).
        self.assertRefused(["create-replication-group", "--replication-group-id", "rg3",
                            "--primary-node-id", "n3", "--multi-az"], "at least one replica")
        # Deleting a parameter group that a group uses, or a default one.
        self.assertRefused(["delete-cache-parameter-group", "--cache-parameter-group-name",
                            "pg1"], "is used by replication group(s) rg1")
        self.assertRefused(["delete-cache-parameter-group", "--cache-parameter-group-name",
                            "default.redis7"], "InvalidCacheParameterGroupState")
        # Existing names, bad ids, bad families.
        self.assertRefused(["create-cache-parameter-group", "--cache-parameter-group-name",
                            "pg1", "--cache-parameter-group-family", "redis7"],
                           "CacheParameterGroupAlreadyExists")
        self.assertRefused(["create-cache-parameter-group", "--cache-parameter-group-name",
                            "pg2", "--cache-parameter-group-family", "redis5.0"],
                           "unknown family")
        self.assertRefused(["create-replication-group", "--replication-group-id", "-bad",
                            "--primary-node-id", "n3"], "InvalidParameterValue")
        self.assertRefused(["register-node", "--node-id", "n9", "--address", "127.0.0.1:99999",
                            "--availability-zone", "az-a", "--node-type", "cache.t3.micro"],
                           "InvalidParameterValue")
        self.assertRefused(["register-node", "--node-id", "n9", "--address",
                            f"{ch.HOST}:{c.nodes['n1'].port}", "--availability-zone", "az-a",
                            "--node-type", "cache.t3.micro"], "CacheNodeAlreadyExists")
        self.assertRefused(["register-node", "--node-id", "n9", "--address", "127.0.0.1:1",
                            "--availability-zone", "az-a", "--node-type", "cache.x1.huge"],
                           "unknown node type")
        # Usage errors are caught by polluxctl itself.
        self.assertRefused(["create-replication-group", "--replication-group-id", "x"],
                           "needs --primary-node-id", code=252)
        self.assertRefused(["describe-nodes", "--bogus"], "unknown option", code=252)
        self.assertEqual(strip(state()), before)
        self.assertEqual(len(c.ctl_json("describe-nodes")["Nodes"]), 3)
        # The raw API refuses unknown verbs and options too.
        with c.control.raw_client() as raw:
            self.assertTrue(raw.command("POLLUX", "FLY").startswith(b"InvalidAction"))
            self.assertTrue(raw.command("POLLUX", "describe-nodes", "colour", "red")
                            .startswith(b"InvalidParameterValue"))

    def test_no_control_plane(self):
        p = ch.subprocess.run([ch.Opts.ctl, "--endpoint", f"{ch.HOST}:{h.free_port()}",
                               "describe-nodes"], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 255)
        self.assertIn("cannot connect", p.stderr)



class DualStackNode(ch.Node):
    """A node that listens on 127.0.0.1 and ::1: one server, several addresses."""

    def argv(self):
        return super().argv() + ["--bind", ch.HOST, "::1"]


class Registration(ch.ClusterTestCase):

    ZONES = ("az-a",)

    def register(self, node_id, address):
        return self.c.ctl("register-node", "--node-id", node_id, "--address", address,
                          "--availability-zone", "az-b", "--node-type", "cache.t3.micro")

    def assertRefused(self, p, fault):
        self.assertEqual(p.returncode, 254, p.stdout + p.stderr)
        self.assertIn(fault, p.stderr)

    def test_one_server_under_two_addresses_is_refused(self):
        c = self.c
        node = DualStackNode("n4", c.workdir).start()
        c.nodes["n4"] = node
        port = node.port
        # A second server registers next to n1; its run_id is recorded.
        p = self.register("n4", f"{ch.HOST}:{port}")
        self.assertEqual(p.returncode, 0, p.stderr)
        run_id = node.redis().info("server")["run_id"]
        self.assertTrue(any(run_id in m for m in c.events("n4")), c.events("n4"))
        # The same server under other addresses: a host name, IPv6, IPv4-mapped IPv6.
        for address in (f"localhost:{port}", f"[::1]:{port}", f"[::ffff:{ch.HOST}]:{port}"):
            self.assertRefused(self.register("n9", address),
                               f"is the same server as node n4 ({ch.HOST}:{port}, run_id "
                               f"{run_id})")
        # Restarted, it has a new run_id: registered nodes are asked again, not trusted from
        # the store.
        node.kill9()
        node.restart()
        new_id = node.redis().info("server")["run_id"]
        self.assertNotEqual(new_id, run_id)
        self.assertRefused(self.register("n9", f"[::1]:{port}"),
                           f"is the same server as node n4 ({ch.HOST}:{port}, run_id {new_id})")
        # A node that does not answer cannot be registered (its identity is unknown).
        self.assertRefused(self.register("n9", f"{ch.HOST}:{h.free_port()}"),
                           "CacheNodeUnreachable")
        ids = sorted(n["NodeId"] for n in c.ctl_json("describe-nodes")["Nodes"])
        self.assertEqual(ids, ["n1", "n4"])
        # The duplicate never got into a group: n4 leads a group of its own with n1 as a
        # replica, and stays available.
        g = c.create_group("rg1", "n4", ("n1",))
        self.assertEqual(g["Status"], "available")


if __name__ == "__main__":
    ch.main()
