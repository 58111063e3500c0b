#!/usr/bin/env python3
"""Server and connection commands: PING/ECHO/QUIT/RESET/HELLO, AUTH, CLIENT,
COMMAND, CONFIG (with REWRITE to a real file), INFO field formats, TIME,
SLOWLOG, WAIT, LASTSAVE and SHUTDOWN."""

import os
import re
import shutil
import signal
import socket
import tempfile
import time
import unittest

import harness as h

redis = h.require_redis_py()
from harness import ErrorReply

MEMORY_UNITS = {"": 1, "k": 1000, "kb": 1024, "m": 1000 ** 2, "mb": 1024 ** 2,
                "g": 1000 ** 3, "gb": 1024 ** 3}


def parse_memory(text):
    m = re.fullmatch(r"(\d+)([a-z]*)", text.strip().lower())
    return int(m.group(1)) * MEMORY_UNITS[m.group(2)]


# Field formats Redis 7.0 uses, section by section: the parsers in monitoring
# tools and clients depend on these names and shapes.
INFO_FORMATS = {
    "server": {
        "redis_version": r"\d+\.\d+\.\d+",
        "redis_mode": r"standalone",
        "os": r".+",
        "arch_bits": r"(32|64)",
        "process_id": r"\d+",
        "run_id": r"[0-9a-f]{40}",
        "tcp_port": r"\d+",
        "uptime_in_seconds": r"\d+",
        "uptime_in_days": r"\d+",
        "hz": r"\d+",
    },
    "clients": {
        "connected_clients": r"\d+",
        "blocked_clients": r"\d+",
        "maxclients": r"\d+",
    },
    "memory": {
        "used_memory": r"\d+",
        "used_memory_human": r"\d+(\.\d+)?[BKMGT]",
        "used_memory_rss": r"\d+",
        "used_memory_peak": r"\d+",
        "used_memory_peak_human": r"\d+(\.\d+)?[BKMGT]",
        "maxmemory": r"\d+",
        "maxmemory_human": r"\d+(\.\d+)?[BKMGT]",
        "maxmemory_policy": r"[a-z-]+",
        "mem_fragmentation_ratio": r"\d+\.\d+",
        "mem_allocator": r".+",
    },
    "persistence": {
        "loading": r"0",
        "rdb_changes_since_last_save": r"\d+",
        "rdb_bgsave_in_progress": r"0",
        "rdb_last_save_time": r"\d+",
        "aof_enabled": r"0",
        "aof_rewrite_in_progress": r"0",
    },
    "stats": {
        "total_connections_received": r"\d+",
        "total_commands_processed": r"\d+",
        "instantaneous_ops_per_sec": r"\d+",
        "total_net_input_bytes": r"\d+",
        "total_net_output_bytes": r"\d+",
        "rejected_connections": r"\d+",
        "expired_keys": r"\d+",
        "evicted_keys": r"\d+",
        "keyspace_hits": r"\d+",
        "keyspace_misses": r"\d+",
        "total_error_replies": r"\d+",
    },
    "replication": {
        "role": r"master",
        "connected_slaves": r"0",
        "master_replid": r"[0-9a-f]{40}",
        "master_repl_offset": r"\d+",
    },
    "cpu": {
        "used_cpu_sys": r"\d+\.\d+",
        "used_cpu_user": r"\d+\.\d+",
        "used_cpu_sys_children": r"\d+\.\d+",
        "used_cpu_user_children": r"\d+\.\d+",
    },
}
SECTION_TITLES = {"server": "Server", "clients": "Clients", "memory": "Memory",
                  "persistence": "Persistence", "stats": "Stats", "replication": "Replication",
                  "cpu": "CPU", "commandstats": "Commandstats", "keyspace": "Keyspace"}
CMDSTAT_RE = re.compile(r"cmdstat_([a-z|_-]+):calls=(\d+),usec=(\d+),usec_per_call=(\d+\.\d\d),"
                        r"rejected_calls=(\d+),failed_calls=(\d+)")
KEYSPACE_RE = re.compile(r"db(\d+):keys=(\d+),expires=(\d+),avg_ttl=(\d+)")


class Connection(h.ServerTestCase):

    def test_ping_echo(self):
        with self.server.raw() as c:
            self.assertEqual(c.command_raw("PING"), b"+PONG\r\n")
            self.assertEqual(c.command_raw("PING", "hello"), b"$5\r\nhello\r\n")
            self.assertEqual(c.command_raw("ECHO", "a\r\nb"), b"$4\r\na\r\nb\r\n")
            self.assertEqual(c.command_raw("ECHO", ""), b"$0\r\n\r\n")
            self.assertEqual(c.command_raw("PING", "a", "b"),
                             b"-ERR wrong number of arguments for 'ping' command\r\n")
            self.assertEqual(c.command_raw("ECHO"),
                             b"-ERR wrong number of arguments for 'echo' command\r\n")
            c.send(b"PING\r\nping\r\n")
            self.assertEqual((c.read_raw(), c.read_raw()), (b"+PONG\r\n", b"+PONG\r\n"))
        self.assertTrue(self.r.ping())

    def test_quit(self):
        with self.server.raw() as c:
            c.send(h.encode_command("QUIT") + h.encode_command("PING"))
            self.assertEqual(c.read_raw(), b"+OK\r\n")
            self.assertTrue(c.expect_closed(5), "QUIT closes the connection")
        self.assertTrue(self.r.ping())

    def test_reset(self):
        with self.server.raw() as c:
            c.command("SELECT", "3")
            c.command("SET", "in3", "x")
            c.command("CLIENT", "SETNAME", "before-reset")
            c.command("HELLO", "3")
            self.assertEqual(c.command_raw("RESET"), b"+RESET\r\n")
            self.assertEqual(c.command_raw("GET", "in3"), b"$-1\r\n", "back to db 0 and RESP2")
            self.assertIsNone(c.command("CLIENT", "GETNAME"))
            info = bytes(c.command("CLIENT", "INFO"))
            self.assertIn(b" db=0 ", info)
            self.assertIn(b"resp=2", info)

    def test_hello_resp2(self):
        with self.server.raw() as c:
            reply = c.command("HELLO", "2")
            self.assertEqual(len(reply), 14)
            fields = dict(zip(reply[0::2], reply[1::2]))
            self.assertEqual(fields[b"proto"], 2)
            self.assertEqual(fields[b"id"], c.command("CLIENT", "ID"))
            self.assertEqual(fields[b"role"], b"master")

    def test_auth_without_password(self):
        with self.server.raw() as c:
            self.assertEqual(c.command("AUTH", "x"),
                             b"ERR AUTH <password> called without any password configured for "
                             b"the default user. Are you sure your configuration is correct?")
            # The default user is "nopass": any password is accepted.
            self.assertEqual(c.command("AUTH", "default", "x"), b"OK")
            self.assertEqual(c.command("PING"), b"PONG")


class Clients(h.ServerTestCase):

    def test_id_name_info(self):
        # Each worker accepts on its own listener, so ids follow the order in which
        # connections were accepted: b is opened after a has been served.
        with self.server.raw() as a:
            ida = a.command("CLIENT", "ID")
            with self.server.raw() as b:
                idb = b.command("CLIENT", "ID")
                self.assertGreater(idb, ida, "ids increase with every connection")
            self.assertIsInstance(ida, int)
            self.assertIsNone(a.command("CLIENT", "GETNAME"))
            self.assertEqual(a.command("CLIENT", "SETNAME", "alpha"), b"OK")
            self.assertEqual(a.command("CLIENT", "GETNAME"), b"alpha")
            self.assertEqual(a.command("CLIENT", "SETNAME", "has space"),
                             b"ERR Client names cannot contain spaces, newlines or special "
                             b"characters.")
            a.command("SELECT", "5")
            info = a.command("CLIENT", "INFO").decode()
            self.assertTrue(info.endswith("\n"))
            fields = dict(kv.split("=", 1) for kv in info.split())
            self.assertEqual(fields["id"], str(ida))
            self.assertEqual(fields["name"], "alpha")
            self.assertEqual(fields["db"], "5")
            self.assertEqual(fields["cmd"], "client|info")
            self.assertRegex(fields["addr"], r"^127\.0\.0\.1:\d+$")
            self.assertEqual(fields["laddr"], f"127.0.0.1:{self.server.port}")
            self.assertEqual(fields["resp"], "2")
            self.assertEqual(a.command("CLIENT", "SETNAME", ""), b"OK")
            self.assertIsNone(a.command("CLIENT", "GETNAME"))

    def test_list(self):
        with self.server.raw() as a, self.server.raw() as b:
            b.command("CLIENT", "SETNAME", "listed")
            idb = b.command("CLIENT", "ID")
            text = a.command("CLIENT", "LIST").decode()
            lines = text.strip("\n").split("\n")
            entries = [dict(kv.split("=", 1) for kv in ln.split()) for ln in lines]
            ids = {e["id"] for e in entries}
            order = [int(e["id"]) for e in entries]
            self.assertEqual(order, sorted(order), "CLIENT LIST is ordered by id")
            self.assertIn(str(idb), ids)
            self.assertIn(str(a.command("CLIENT", "ID")), ids)
            mine = [e for e in entries if e["id"] == str(idb)][0]
            self.assertEqual(mine["name"], "listed")
            for key in ("addr", "laddr", "fd", "age", "idle", "flags", "db", "cmd", "resp"):
                self.assertIn(key, mine)
            only = a.command("CLIENT", "LIST", "ID", str(idb)).decode().strip("\n").split("\n")
            self.assertEqual(len(only), 1)
            self.assertIn(f"id={idb} ", only[0])
            self.assertGreaterEqual(len(a.command("CLIENT", "LIST", "TYPE", "normal")
                                        .decode().strip("\n").split("\n")), 2)

    def test_kill(self):
        with self.server.raw() as a, self.server.raw() as b, self.server.raw() as c:
            idb = b.command("CLIENT", "ID")
            self.assertEqual(a.command("CLIENT", "KILL", "ID", str(idb)), 1)
            self.assertTrue(b.expect_closed(5))
            self.assertEqual(a.command("CLIENT", "KILL", "ID", str(idb)), 0)
            addr = dict(kv.split("=", 1) for kv in c.command("CLIENT", "INFO").decode().split())
            self.assertEqual(a.command("CLIENT", "KILL", addr["addr"]), b"OK")
            self.assertTrue(c.expect_closed(5))
            self.assertEqual(a.command("CLIENT", "KILL", "127.0.0.1:1"), b"ERR No such client")
            self.assertEqual(a.command("PING"), b"PONG")

    def test_no_evict(self):
        with self.server.raw() as c:
            self.assertEqual(c.command("CLIENT", "NO-EVICT", "on"), b"OK")
            flags = dict(kv.split("=", 1) for kv in c.command("CLIENT", "INFO").decode().split())
            self.assertIn("e", flags["flags"])
            self.assertEqual(c.command("CLIENT", "NO-EVICT", "off"), b"OK")
            flags = dict(kv.split("=", 1) for kv in c.command("CLIENT", "INFO").decode().split())
            self.assertNotIn("e", flags["flags"])
            self.assertEqual(c.command("CLIENT", "NO-EVICT", "maybe"), b"ERR syntax error")

    def test_setinfo(self):
        with self.server.raw() as c:
            version = h.info_fields(c, "server")["redis_version"]
            if h.Config.server_is_redis() and tuple(map(int, version.split("."))) < (7, 2):
                self.skipTest(f"CLIENT SETINFO arrived in Redis 7.2; this is {version}")
            self.assertEqual(c.command("CLIENT", "SETINFO", "LIB-NAME", "pollux-tests"), b"OK")
            self.assertEqual(c.command("CLIENT", "SETINFO", "LIB-VER", "1.2.3"), b"OK")
            info = c.command("CLIENT", "INFO").decode()
            self.assertIn("lib-name=pollux-tests", info)
            self.assertIn("lib-ver=1.2.3", info)
            err = c.command("CLIENT", "SETINFO", "LIB-NAME", "has space")
            self.assertIsInstance(err, ErrorReply)
            err = c.command("CLIENT", "SETINFO", "BOGUS", "x")
            self.assertIsInstance(err, ErrorReply)


class Commands(h.ServerTestCase):

    def test_count_and_list(self):
        with self.server.raw() as c:
            count = c.command("COMMAND", "COUNT")
            names = c.command("COMMAND", "LIST")
            self.assertEqual(len(set(names)), len(names))
            # COMMAND LIST names subcommands too ("config|get"); COUNT does not.
            self.assertEqual(count, len([n for n in names if b"|" not in n]))
            self.assertIn(b"config|get", names)
            required = {b"get", b"set", b"del", b"mget", b"mset", b"incr", b"expire", b"ttl",
                        b"scan", b"rename", b"copy", b"ping", b"hello", b"config", b"client",
                        b"info", b"command"}
            self.assertTrue(required <= set(names), required - set(names))
            getstar = c.command("COMMAND", "LIST", "FILTERBY", "PATTERN", "get*")
            self.assertTrue({b"get", b"getdel", b"getex", b"getrange", b"getset"} <= set(getstar))
            self.assertTrue(all(n.startswith(b"get") for n in getstar))

    def test_info(self):
        with self.server.raw() as c:
            reply = c.command("COMMAND", "INFO", "get", "set", "mget", "del", "mset", "nosuch")
            self.assertEqual(len(reply), 6)
            expect = {b"get": (2, 1, 1, 1), b"set": (-3, 1, 1, 1), b"mget": (-2, 1, -1, 1),
                      b"del": (-2, 1, -1, 1), b"mset": (-3, 1, -1, 2)}
            for doc in reply[:5]:
                self.assertEqual(tuple(doc[i] for i in (1, 3, 4, 5)), expect[doc[0]], doc[0])
            self.assertIn(b"readonly", reply[0][2])
            self.assertIn(b"write", reply[1][2])
            self.assertIsNone(reply[5])
            self.assertEqual(len(c.command("COMMAND")), c.command("COMMAND", "COUNT"))

    def test_docs(self):
        with self.server.raw() as c:
            reply = c.command("COMMAND", "DOCS", "get")
            self.assertEqual(reply[0], b"get")
            doc = dict(zip(reply[1][0::2], reply[1][1::2]))
            self.assertEqual(doc[b"group"], b"string")
            self.assertEqual(doc[b"since"], b"1.0.0")
            self.assertTrue(doc[b"summary"])
            self.assertIn(b"arguments", doc)
            self.assertEqual(c.command("COMMAND", "DOCS", "nosuch"), [])

    def test_getkeys(self):
        with self.server.raw() as c:
            self.assertEqual(c.command("COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"),
                             [b"a", b"b"])
            self.assertEqual(c.command("COMMAND", "GETKEYS", "GET", "k"), [b"k"])
            self.assertEqual(c.command("COMMAND", "GETKEYS", "RENAME", "x", "y"), [b"x", b"y"])
            self.assertEqual(c.command("COMMAND", "GETKEYS", "SET", "k", "v", "EX", "10"), [b"k"])
            self.assertEqual(c.command("COMMAND", "GETKEYS", "nosuch", "a"),
                             b"ERR Invalid command specified")
            self.assertEqual(c.command("COMMAND", "GETKEYS", "GET"),
                             b"ERR wrong number of arguments for 'command|getkeys' command")


class Config(h.ServerTestCase):

    def test_get_set(self):
        with self.server.raw() as c:
            self.assertEqual(c.command("CONFIG", "SET", "maxmemory", "10mb"), b"OK")
            self.assertEqual(c.command("CONFIG", "GET", "maxmemory"), [b"maxmemory", b"10485760"])
            self.assertEqual(c.command("CONFIG", "SET", "maxmemory", "1GB"), b"OK")
            self.assertEqual(c.command("CONFIG", "GET", "maxmemory"),
                             [b"maxmemory", b"1073741824"])
            self.assertEqual(c.command("CONFIG", "SET", "maxmemory", "0", "timeout", "7"), b"OK")
            pairs = c.command("CONFIG", "GET", "maxmemory", "timeout")
            self.assertEqual(dict(zip(pairs[0::2], pairs[1::2])),
                             {b"maxmemory": b"0", b"timeout": b"7"})
            self.assertEqual(c.command("CONFIG", "SET", "timeout", "0"), b"OK")
            pairs = c.command("CONFIG", "GET", "maxmemory*")
            got = dict(zip(pairs[0::2], pairs[1::2]))
            self.assertTrue({b"maxmemory", b"maxmemory-policy", b"maxmemory-samples"} <= set(got))
            self.assertTrue(all(k.startswith(b"maxmemory") for k in got))
            self.assertEqual(c.command("CONFIG", "GET", "databases"), [b"databases", b"16"])
            self.assertEqual(c.command("CONFIG", "GET", "port"),
                             [b"port", str(self.server.port).encode()])
            self.assertEqual(c.command("CONFIG", "GET", "nosuch"), [])
            self.assertEqual(c.command("CONFIG", "SET", "nosuch", "1"),
                             b"ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'")
            self.assertEqual(c.command("CONFIG", "SET", "maxmemory", "abc"),
                             b"ERR CONFIG SET failed (possibly related to argument 'maxmemory') - "
                             b"argument must be a memory value")
            self.assertEqual(c.command("CONFIG", "SET", "maxmemory-policy", "bogus"),
                             b"ERR CONFIG SET failed (possibly related to argument "
                             b"'maxmemory-policy') - argument(s) must be one of the following: "
                             b"volatile-lru, volatile-lfu, volatile-random, volatile-ttl, "
                             b"allkeys-lru, allkeys-lfu, allkeys-random, noeviction")
            self.assertEqual(c.command("CONFIG", "SET", "databases", "4"),
                             b"ERR CONFIG SET failed (possibly related to argument 'databases') - "
                             b"can't set immutable config")
            self.assertEqual(c.command("CONFIG", "GET"),
                             b"ERR wrong number of arguments for 'config|get' command")
            self.assertEqual(c.command("CONFIG", "BOGUS"),
                             b"ERR unknown subcommand 'BOGUS'. Try CONFIG HELP.")

    def test_resetstat(self):
        with self.server.raw() as c:
            c.command("SET", "k", "v")
            c.command("GET", "k")
            c.command("GET", "missing")
            self.assertEqual(c.command("CONFIG", "RESETSTAT"), b"OK")
            stats = h.info_fields(c, "stats")
            self.assertEqual(stats["keyspace_hits"], "0")
            self.assertEqual(stats["keyspace_misses"], "0")
            self.assertEqual(c.command("INFO", "commandstats").count(b"cmdstat_set:"), 0)

    def test_rewrite_without_file(self):
        with self.server.raw() as c:
            self.assertEqual(c.command("CONFIG", "REWRITE"),
                             b"ERR The server is running without a config file")


class ConfigFile(unittest.TestCase):
    """CONFIG REWRITE persists a change; a restart with the file has it."""

    def test_rewrite_and_restart(self):
        workdir = tempfile.mkdtemp(prefix="pollux-it-conf-")
        self.addCleanup(shutil.rmtree, workdir, True)
        conf = os.path.join(workdir, "pollux.conf")
        with open(conf, "w") as f:
            f.write("# pollux integration test config\n"
                    "maxmemory 3mb\n"
                    "maxmemory-policy allkeys-lru\n"
                    "timeout 0\n")
        with h.Server(conf=conf, workdir=workdir) as srv:
            r = srv.redis()
            self.assertEqual(r.config_get("maxmemory"), {"maxmemory": "3145728"})
            self.assertEqual(r.config_get("maxmemory-policy"),
                             {"maxmemory-policy": "allkeys-lru"})
            self.assertTrue(r.config_set("maxmemory", "7mb"))
            self.assertTrue(r.config_set("maxmemory-policy", "volatile-ttl"))
            self.assertTrue(r.config_set("timeout", "321"))
            self.assertTrue(r.config_rewrite())
            with srv.raw() as c:
                fields = h.info_fields(c, "server")
            if "config_file" in fields:
                self.assertEqual(os.path.realpath(fields["config_file"]), os.path.realpath(conf))
            r.close()

        with open(conf) as f:
            text = f.read()
        directives = {}
        for line in text.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                name, _, value = line.partition(" ")
                directives.setdefault(name.lower(), []).append(value.strip().strip('"'))
        self.assertIn("# pollux integration test config", text, "comments are kept")
        self.assertEqual(len(directives["maxmemory"]), 1, text)
        self.assertEqual(parse_memory(directives["maxmemory"][0]), 7 * 1024 * 1024, text)
        self.assertEqual(directives["maxmemory-policy"], ["volatile-ttl"], text)
        self.assertEqual(directives["timeout"], ["321"], text)

        with h.Server(conf=conf, workdir=workdir) as again:
            r = again.redis()
            self.assertEqual(r.config_get("maxmemory"), {"maxmemory": str(7 * 1024 * 1024)})
            self.assertEqual(r.config_get("maxmemory-policy"),
                             {"maxmemory-policy": "volatile-ttl"})
            self.assertEqual(r.config_get("timeout"), {"timeout": "321"})
            r.close()


    def test_common_redis_conf_loads(self):
        """A user's redis.conf with directives beyond the ones the tests use
        loads, and the values that matter are applied."""
        workdir = tempfile.mkdtemp(prefix="pollux-it-conf-")
        self.addCleanup(shutil.rmtree, workdir, True)
        conf = os.path.join(workdir, "redis.conf")
        with open(conf, "w") as f:
            f.write("# typical settings\n"
                    "daemonize no\n"
                    "tcp-backlog 511\n"
                    "tcp-keepalive 300\n"
                    "loglevel notice\n"
                    "databases 8\n"
                    "maxclients 1000\n"
                    "maxmemory 64mb\n"
                    "maxmemory-policy allkeys-lfu\n"
                    "maxmemory-samples 5\n"
                    "lazyfree-lazy-eviction no\n"
                    "appendfsync everysec\n"
                    "hz 10\n"
                    "activerehashing yes\n"
                    "slowlog-log-slower-than 10000\n"
                    "slowlog-max-len 128\n"
                    "latency-monitor-threshold 0\n"
                    'notify-keyspace-events ""\n')
        with h.Server(conf=conf, workdir=workdir) as srv, srv.raw() as c:
            self.assertEqual(c.command("CONFIG", "GET", "databases"), [b"databases", b"8"])
            self.assertEqual(c.command("SELECT", "8"), b"ERR DB index is out of range")
            self.assertEqual(c.command("SELECT", "7"), b"OK")
            self.assertEqual(c.command("CONFIG", "GET", "maxmemory-policy"),
                             [b"maxmemory-policy", b"allkeys-lfu"])
            self.assertEqual(c.command("CONFIG", "GET", "maxmemory"),
                             [b"maxmemory", str(64 * 1024 * 1024).encode()])
            self.assertEqual(c.command("CONFIG", "GET", "maxclients"), [b"maxclients", b"1000"])

    @h.skip_if_real_redis("pollux-* parameters are polluxd's own")
    def test_pollux_workers_parameter(self):
        argv = h.Config.server_cmd
        if "--pollux-workers" not in argv[:-1]:
            self.skipTest("the server was started without --pollux-workers")
        given = argv[argv.index("--pollux-workers") + 1]
        with h.Server() as srv, srv.raw() as c:
            self.assertEqual(c.command("CONFIG", "GET", "pollux-workers"),
                             [b"pollux-workers", given.encode()])

    @h.skip_if_real_redis("pollux-cpus is polluxd's own")
    def test_workers_pinned_only_to_the_cpus_named(self):
        # Unset, workers may run wherever the process may: a busy-polling worker pinned to a
        # core it shares with another process can be left unscheduled for tens of seconds.
        allowed = sorted(os.sched_getaffinity(0))
        with h.Server() as srv:
            cpus = worker_cpus(srv.proc.pid)
            self.assertGreater(len(cpus), 0)
            self.assertEqual(cpus, [allowed] * len(cpus))
        with h.Server(args=["--pollux-cpus", str(allowed[-1])]) as srv:
            cpus = worker_cpus(srv.proc.pid)
            self.assertEqual(cpus, [[allowed[-1]]] * len(cpus))


def worker_cpus(pid):
    """The CPUs each worker thread of process `pid` may run on, in thread order."""
    out = []
    for tid in sorted(os.listdir(f"/proc/{pid}/task"), key=int):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            if f.read().startswith("pollux-w"):
                out.append(sorted(os.sched_getaffinity(int(tid))))
    return out


class Info(h.ServerTestCase):

    def check_formats(self, section, text):
        parsed = h.parse_info(text)
        self.assertIn(section, parsed, text[:200])
        fields = parsed[section]
        for name, pattern in INFO_FORMATS.get(section, {}).items():
            self.assertIn(name, fields, f"INFO {section} lacks {name}")
            self.assertRegex(fields[name], rf"^(?:{pattern})$", f"{section}.{name}")
        return fields

    def test_sections(self):
        with self.server.raw() as c:
            for section in INFO_FORMATS:
                text = c.command("INFO", section).decode()
                self.assertTrue(text.startswith(f"# {SECTION_TITLES[section]}\r\n"), text[:40])
                self.assertTrue(text.endswith("\r\n"))
                self.check_formats(section, text)

    def test_default_and_all(self):
        with self.server.raw() as c:
            c.command("SET", "k", "v")
            default = h.parse_info(c.command("INFO"))
            for section in list(INFO_FORMATS) + ["keyspace"]:
                self.assertIn(section, default)
            self.assertNotIn("commandstats", default)
            everything = h.parse_info(c.command("INFO", "all"))
            self.assertIn("commandstats", everything)
            self.assertIn("cmdstat_set", everything["commandstats"])
            two = h.parse_info(c.command("INFO", "server", "clients"))
            self.assertEqual(set(two), {"server", "clients"})

    def test_server_values(self):
        with self.server.raw() as c:
            f = h.info_fields(c, "server")
            self.assertEqual(f["tcp_port"], str(self.server.port))
            self.assertEqual(f["process_id"], str(self.server.proc.pid))
            time.sleep(1.1)
            self.assertGreaterEqual(int(h.info_fields(c, "server")["uptime_in_seconds"]), 1)

    def test_clients_values(self):
        with self.server.raw() as c:
            def connected():
                return int(h.info_fields(c, "clients")["connected_clients"])
            # The harness's own setup connection may still be closing.
            h.wait_until(lambda: connected() == 1, 5)
            base = connected()
            extra = [self.server.raw() for _ in range(3)]
            for e in extra:
                e.command("PING")
            self.assertEqual(connected(), base + 3)
            for e in extra:
                e.close()
            self.assertTrue(h.wait_until(lambda: connected() == base, 5))
            # Redis lowers the default of 10000 when the fd limit is smaller.
            self.assertEqual(h.info_fields(c, "clients")["maxclients"],
                             c.command("CONFIG", "GET", "maxclients")[1].decode())

    def test_memory_values(self):
        with self.server.raw() as c:
            before = int(h.info_fields(c, "memory")["used_memory"])
            for i in range(20):
                c.command("SET", f"mem:{i}", b"m" * 100000)
            m = h.info_fields(c, "memory")
            self.assertGreater(int(m["used_memory"]) - before, 1_500_000)
            self.assertGreater(int(m["used_memory_rss"]), 0)
            self.assertGreaterEqual(int(m["used_memory_peak"]), int(m["used_memory"]))
            self.assertEqual(m["maxmemory"], "0")
            self.assertEqual(m["maxmemory_policy"], "noeviction")
            c.command("CONFIG", "SET", "maxmemory", "123mb")
            c.command("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
            m = h.info_fields(c, "memory")
            self.assertEqual(m["maxmemory"], str(123 * 1024 * 1024))
            self.assertEqual(m["maxmemory_human"], "123.00M")
            self.assertEqual(m["maxmemory_policy"], "allkeys-lfu")
            c.command("CONFIG", "SET", "maxmemory", "0")
            c.command("CONFIG", "SET", "maxmemory-policy", "noeviction")

    def test_stats_values(self):
        with self.server.raw() as c:
            c.command("CONFIG", "RESETSTAT")
            c.command("MSET", "a", "1", "b", "2")
            c.command("GET", "a")
            c.command("GET", "b")
            c.command("MGET", "a", "nope", "b")
            c.command("GET", "missing")
            s = h.info_fields(c, "stats")
            self.assertEqual(s["keyspace_hits"], "4")
            self.assertEqual(s["keyspace_misses"], "2")
            self.assertGreaterEqual(int(s["total_commands_processed"]), 5)
            c.command("SET", "gone", "x", "PX", "1")
            time.sleep(0.05)
            self.assertIsNone(c.command("GET", "gone"))
            self.assertEqual(h.info_fields(c, "stats")["expired_keys"], "1")
            before = int(h.info_fields(c, "stats")["total_connections_received"])
            with self.server.raw() as other:
                other.command("PING")
            after = int(h.info_fields(c, "stats")["total_connections_received"])
            self.assertEqual(after, before + 1)

    def test_commandstats(self):
        with self.server.raw() as c:
            c.command("CONFIG", "RESETSTAT")
            for i in range(5):
                c.command("SET", f"k{i}", "v")
            c.command("SET", "s", "abc")
            c.command("INCR", "s")
            c.command("GET")
            text = c.command("INFO", "commandstats").decode()
            self.assertTrue(text.startswith("# Commandstats\r\n"))
            stats = {}
            for line in text.split("\r\n")[1:]:
                if not line:
                    continue
                m = CMDSTAT_RE.fullmatch(line)
                self.assertIsNotNone(m, line)
                stats[m.group(1)] = tuple(int(m.group(i)) for i in (2, 5, 6))
            self.assertEqual(stats["set"], (6, 0, 0))
            self.assertEqual(stats["incr"], (1, 0, 1))
            self.assertEqual(stats["get"][1], 1, "an arity error is a rejected call")
            errors = c.command("INFO", "errorstats").decode().split("\r\n")
            self.assertEqual(errors[0], "# Errorstats")
            self.assertIn("errorstat_ERR:count=2", errors, "INCR on text and GET's arity")

    def test_keyspace_values(self):
        with self.server.raw() as c:
            self.assertEqual(c.command("INFO", "keyspace"), b"# Keyspace\r\n")
            for i in range(10):
                c.command("SET", f"p{i}", "v")
            for i in range(4):
                c.command("SET", f"t{i}", "v", "EX", "1000")
            c.command("SELECT", "2")
            c.command("SET", "x", "v")
            text = c.command("INFO", "keyspace").decode()
            lines = text.split("\r\n")
            self.assertEqual(lines[0], "# Keyspace")
            dbs = {}
            for line in lines[1:]:
                if line:
                    m = KEYSPACE_RE.fullmatch(line)
                    self.assertIsNotNone(m, line)
                    dbs[int(m.group(1))] = (int(m.group(2)), int(m.group(3)), int(m.group(4)))
            self.assertEqual(set(dbs), {0, 2})
            self.assertEqual(dbs[0][:2], (14, 4))
            self.assertLessEqual(dbs[0][2], 1000 * 1000)
            self.assertEqual(dbs[2], (1, 0, 0))


class Misc(h.ServerTestCase):

    def test_time(self):
        with self.server.raw() as c:
            secs, usecs = c.command("TIME")
            now = time.time()
            self.assertLess(abs(int(secs) + int(usecs) / 1e6 - now), 2.0)
            self.assertTrue(0 <= int(usecs) < 1000000)
            self.assertRegex(secs, rb"^\d+$")

    def test_slowlog(self):
        with self.server.raw() as c:
            try:
                self.assertEqual(c.command("CONFIG", "SET", "slowlog-log-slower-than", "0"), b"OK")
                self.assertEqual(c.command("SLOWLOG", "RESET"), b"OK")
                c.command("CLIENT", "SETNAME", "slowpoke")
                c.command("SET", "slow:a", "1")
                c.command("GET", "slow:a")
                c.command("SET", "slow:b", b"x" * 200)
                self.assertGreaterEqual(c.command("SLOWLOG", "LEN"), 3)
                entries = c.command("SLOWLOG", "GET", "100")
                self.assertGreaterEqual(len(entries), 3)
                now = time.time()
                ids = []
                by_args = {}
                for e in entries:
                    self.assertEqual(len(e), 6, e)
                    ident, ts, duration, args, addr, name = e
                    ids.append(ident)
                    self.assertLess(abs(ts - now), 10)
                    self.assertGreaterEqual(duration, 0)
                    self.assertRegex(addr, rb"^127\.0\.0\.1:\d+$")
                    by_args[tuple(args)] = name
                self.assertEqual(ids, sorted(ids, reverse=True), "newest first")
                self.assertEqual(by_args.get((b"SET", b"slow:a", b"1")), b"slowpoke")
                self.assertIn((b"GET", b"slow:a"), by_args)
                self.assertIn((b"SET", b"slow:b", b"x" * 128 + b"... (72 more bytes)"), by_args)
                self.assertEqual(len(c.command("SLOWLOG", "GET", "1")), 1)
                self.assertEqual(c.command("SLOWLOG", "RESET"), b"OK")
                self.assertLessEqual(c.command("SLOWLOG", "LEN"), 1)
                c.command("CONFIG", "SET", "slowlog-log-slower-than", "-1")
                c.command("SLOWLOG", "RESET")
                c.command("SET", "slow:c", "1")
                self.assertEqual(c.command("SLOWLOG", "LEN"), 0, "-1 disables the log")
            finally:
                c.command("CONFIG", "SET", "slowlog-log-slower-than", "10000")

    def test_wait_lastsave(self):
        with self.server.raw() as c:
            self.assertEqual(c.command_raw("WAIT", "0", "0"), b":0\r\n")
            last = c.command("LASTSAVE")
            self.assertIsInstance(last, int)
            self.assertLessEqual(last, time.time() + 2)
            self.assertGreater(last, 1_600_000_000)


class Auth(unittest.TestCase):
    PASSWORD = "correct horse"

    @classmethod
    def setUpClass(cls):
        cls.server = h.Server(args=["--requirepass", cls.PASSWORD], password=cls.PASSWORD).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_auth(self):
        with self.server.raw(auth=False) as c:
            self.assertEqual(c.command_raw("PING"), b"-NOAUTH Authentication required.\r\n")
            self.assertEqual(c.command_raw("SET", "k", "v"),
                             b"-NOAUTH Authentication required.\r\n")
            self.assertEqual(c.command_raw("AUTH", "wrong"),
                             b"-WRONGPASS invalid username-password pair or user is disabled.\r\n")
            self.assertEqual(c.command_raw("AUTH", self.PASSWORD), b"+OK\r\n")
            self.assertEqual(c.command_raw("PING"), b"+PONG\r\n")
        with self.server.raw(auth=False) as c:
            self.assertEqual(c.command_raw("AUTH", "default", self.PASSWORD), b"+OK\r\n")
            self.assertEqual(c.command_raw("AUTH", "default", "wrong"),
                             b"-WRONGPASS invalid username-password pair or user is disabled.\r\n")
            self.assertEqual(c.command_raw("PING"), b"+PONG\r\n", "a failed AUTH keeps the login")

    def test_redis_py_password(self):
        r = self.server.redis()
        self.assertTrue(r.set("k", "v"))
        self.assertEqual(r.get("k"), b"v")
        r.close()
        bad = redis.Redis(host=h.HOST, port=self.server.port, password="nope")
        with self.assertRaisesRegex(redis.ResponseError, "^WRONGPASS invalid username-password"):
            bad.ping()
        bad.close()
        anon = redis.Redis(host=h.HOST, port=self.server.port)
        with self.assertRaises(redis.AuthenticationError):
            anon.get("k")
        anon.close()

    def test_config_requirepass(self):
        with self.server.raw() as c:
            self.assertEqual(c.command("CONFIG", "GET", "requirepass"),
                             [b"requirepass", self.PASSWORD.encode()])


class Shutdown(unittest.TestCase):

    def shutdown_with(self, *args):
        srv = h.Server().start()
        c = srv.raw()
        c.command("SET", "k", "v")
        c.send(h.encode_command(*args))
        self.assertTrue(c.expect_closed(10), f"{args} closes the connection")
        c.close()
        srv.wait_exit()
        self.assertFalse(srv.alive())
        with socket.socket() as s:
            s.settimeout(1)
            self.assertNotEqual(s.connect_ex((h.HOST, srv.port)), 0, "nobody listens any more")

    def test_shutdown(self):
        self.shutdown_with("SHUTDOWN")

    def test_shutdown_nosave(self):
        self.shutdown_with("SHUTDOWN", "NOSAVE")

    def test_sigint(self):
        srv = h.Server().start()
        srv.redis().set("k", "v")
        srv.stop(sig=signal.SIGINT)


if __name__ == "__main__":
    h.main()
