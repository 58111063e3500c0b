#!/usr/bin/env python3
"""Lua scripting and functions as Redis 7.0 has them, byte for byte.

EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT LOAD/EXISTS/FLUSH/KILL; the errors a script
gets and gives (compile errors, runtime errors with their " script: <sha1>, on
@user_script:<line>." suffix, error(), redis.call against redis.pcall, commands that scripts
may not run); the conversions between Lua values and RESP2/RESP3 replies in both directions,
with redis.setresp(3); the sandbox (missing globals, read-only globals and library tables);
the cjson, bit, struct and cmsgpack libraries and the redis.* helpers; writes of every type,
atomicity against concurrent clients, SELECT, MULTI/EXEC and WATCH around scripts; script
shebang flags; the BUSY state, SCRIPT KILL and FUNCTION KILL; redis-py's Script objects and
script/function helpers; functions: FUNCTION LOAD/LIST/DELETE/FLUSH/DUMP/RESTORE/STATS,
FCALL and FCALL_RO.

Pollux runs a script on the shards of the keys it declares, so every script here declares
each key it touches in KEYS (numkeys). Replication of script effects is tested elsewhere.

The file passes against redis-server 7.0 (run it with --server redis-server)."""

import hashlib
import re
import shutil
import tempfile
import threading
import time

import harness as h

redis = h.require_redis_py()


def workers():
    return () if h.Config.server_is_redis() else ("--pollux-workers", "2")


def sha1(script):
    if isinstance(script, str):
        script = script.encode()
    return hashlib.sha1(script).hexdigest()


def in_script(msg, script, line):
    """An error raised inside an EVAL script, with Redis's suffix."""
    if isinstance(msg, str):
        msg = msg.encode()
    return msg + b" script: %s, on @user_script:%d." % (sha1(script).encode(), line)


def in_function(msg, name, line):
    """An error raised inside a function, with Redis's suffix."""
    if isinstance(msg, str):
        msg = msg.encode()
    return msg + b" script: %s, on @user_function:%d." % (name.encode(), line)


def err(text):
    """The raw RESP bytes of an error reply."""
    if isinstance(text, str):
        text = text.encode()
    return b"-" + text + b"\r\n"


def bulk(s):
    if isinstance(s, str):
        s = s.encode()
    return b"$%d\r\n%s\r\n" % (len(s), s)


NOSCRIPT = b"NOSCRIPT No matching script. Please use EVAL."
RO_WRITE = b"ERR Write commands are not allowed from read-only scripts."
RO_FLAG = b"ERR Can not execute a script with write flag using *_ro command."
NOT_ALLOWED = b"ERR This Redis command is not allowed from script"
UNKNOWN_CMD = b"ERR Unknown Redis command called from script"
WRONG_ARGS = b"ERR Wrong number of args calling Redis command from script"
READONLY_TABLE = b"Attempt to modify a readonly table"
NOT_INT = b"ERR value is not an integer or out of range"
BUSY_SCRIPT = (b"BUSY Redis is busy running a script. You can only call SCRIPT KILL or "
               b"SHUTDOWN NOSAVE.")
BUSY_FUNCTION = (b"BUSY Redis is busy running a script. You can only call FUNCTION KILL or "
                 b"SHUTDOWN NOSAVE.")
NOTBUSY = b"NOTBUSY No scripts in execution right now."
UNKILLABLE = (b"UNKILLABLE Sorry the script already executed write commands against the "
              b"dataset. You can either wait the script termination or kill the server in a "
              b"hard way using the SHUTDOWN NOSAVE command.")


def nonexistent(name):
    return b"Script attempted to access nonexistent global variable '%s'" % name.encode()


class ScriptCase(h.ServerTestCase):
    """Base of the classes below: a server (two workers for polluxd) and, before each test,
    no keys, no cached scripts and no function libraries."""

    @classmethod
    def setUpClass(cls):
        # here, not in the class body: h.Config is filled in by h.main(), after the import
        cls.SERVER_ARGS = workers()
        super().setUpClass()

    def setUp(self):
        super().setUp()
        with self.server.raw() as c:
            for cmd in (("SCRIPT", "FLUSH"), ("FUNCTION", "FLUSH")):
                reply = c.command(*cmd)
                if reply != b"OK":
                    raise h.ServerError(f"{cmd}: {reply!r}")

    # -- helpers --------------------------------------------------------------

    def eval_raw(self, c, script, keys=(), args=(), cmd="EVAL"):
        """The raw reply of EVAL script with these KEYS and ARGV."""
        return c.command_raw(cmd, script, len(keys), *keys, *args)

    def eval(self, c, script, keys=(), args=(), cmd="EVAL"):
        return c.command(cmd, script, len(keys), *keys, *args)

    def assertScriptError(self, c, script, line, msg, keys=(), args=(), cmd="EVAL"):
        """Running script fails with msg raised on this line, suffix included."""
        self.assertEqual(self.eval_raw(c, script, keys, args, cmd),
                         err(in_script(msg, script, line)))


# ---------------------------------------------------------------------------
# EVAL and friends
# ---------------------------------------------------------------------------

class Eval(ScriptCase):

    def test_keys_and_argv(self):
        c = self.client()
        script = "return {KEYS[1], KEYS[2], ARGV[1], ARGV[2], #KEYS, #ARGV}"
        self.assertEqual(self.eval(c, script, ["k1", "k2"], ["a1", "a2"]),
                         [b"k1", b"k2", b"a1", b"a2", 2, 2])
        # no keys: everything after numkeys is ARGV
        self.assertEqual(self.eval(c, "return {#KEYS, ARGV[1], ARGV[3]}", (), ["x", "y", "z"]),
                         [0, b"x", b"z"])
        # arguments are binary safe strings, also empty ones
        self.assertEqual(self.eval(c, "return {ARGV[1] .. ARGV[2], #ARGV[1], KEYS[1]}",
                                   [""], [b"\x00a", b"\xff"]),
                         [b"\x00a\xff", 2, b""])
        self.assertEqual(self.eval(c, "return tonumber(ARGV[1]) + 1", (), ["41"]), 42)
        # a binary key name through redis.call
        self.assertEqual(self.eval(c, "return redis.call('set', KEYS[1], ARGV[1])",
                                   [b"bin\x00key"], [b"\x00\x01"]), b"OK")
        self.assertEqual(c.command("GET", b"bin\x00key"), b"\x00\x01")

    def test_numkeys_errors(self):
        c = self.client()
        sha = c.command("SCRIPT", "LOAD", "return 1").decode()
        for cmd, body in (("EVAL", "return 1"), ("EVAL_RO", "return 1"),
                          ("EVALSHA", sha), ("EVALSHA_RO", sha)):
            with self.subTest(cmd=cmd):
                self.assertEqual(c.command_raw(cmd, body, "-1"),
                                 err("ERR Number of keys can't be negative"))
                self.assertEqual(c.command_raw(cmd, body, "2", "a"),
                                 err("ERR Number of keys can't be greater than number of args"))
                self.assertEqual(c.command_raw(cmd, body, "x"), err(NOT_INT))
                self.assertEqual(c.command_raw(cmd, body, "99999999999999999999"),
                                 err(NOT_INT))
                self.assertEqual(c.command_raw(cmd, body),
                                 err(f"ERR wrong number of arguments for '{cmd.lower()}' "
                                     "command"))
                self.assertEqual(c.command(cmd, body, "1", "k"), 1)

    def test_script_load_exists_flush(self):
        c = self.client()
        body = "return 'hi'"
        sha = sha1(body)
        self.assertEqual(c.command_raw("SCRIPT", "EXISTS", sha, "0" * 40), b"*2\r\n:0\r\n:0\r\n")
        self.assertEqual(c.command_raw("SCRIPT", "LOAD", body), bulk(sha))
        self.assertEqual(c.command_raw("SCRIPT", "LOAD", body), bulk(sha), "loading twice")
        # SHA1s are case-insensitive, for EXISTS and for EVALSHA
        self.assertEqual(c.command("SCRIPT", "EXISTS", sha, sha.upper(), "0" * 40, "nosha"),
                         [1, 1, 0, 0])
        self.assertEqual(c.command("EVALSHA", sha.upper(), "0"), b"hi")
        self.assertEqual(c.command("EVALSHA_RO", sha.upper(), "0"), b"hi")
        # the empty script is a script too
        self.assertEqual(c.command_raw("SCRIPT", "LOAD", ""), bulk(sha1("")))
        self.assertIsNone(c.command("EVAL", "", "0"))
        # EVAL caches what it runs
        self.assertEqual(c.command("EVAL", "return 'via eval'", "0"), b"via eval")
        self.assertEqual(c.command("SCRIPT", "EXISTS", sha1("return 'via eval'")), [1])
        self.assertEqual(c.command("EVALSHA", sha1("return 'via eval'"), "0"), b"via eval")
        # FLUSH in all its forms empties the cache
        for mode in ((), ("ASYNC",), ("SYNC",), ("sync",)):
            with self.subTest(mode=mode):
                c.command("SCRIPT", "LOAD", body)
                self.assertEqual(c.command_raw("SCRIPT", "FLUSH", *mode), b"+OK\r\n")
                self.assertEqual(c.command("SCRIPT", "EXISTS", sha), [0])
                self.assertEqual(c.command_raw("EVALSHA", sha, "0"), err(NOSCRIPT))
        for bad in (("bad",), ("SYNC", "ASYNC")):
            self.assertEqual(c.command_raw("SCRIPT", "FLUSH", *bad),
                             err("ERR SCRIPT FLUSH only support SYNC|ASYNC option"))
        self.assertEqual(c.command_raw("SCRIPT", "EXISTS"),
                         err("ERR wrong number of arguments for 'script|exists' command"))
        self.assertEqual(c.command_raw("SCRIPT", "LOAD"),
                         err("ERR wrong number of arguments for 'script|load' command"))
        self.assertEqual(c.command_raw("SCRIPT", "LOAD", "a", "b"),
                         err("ERR wrong number of arguments for 'script|load' command"))
        self.assertEqual(c.command_raw("SCRIPT", "FOO"),
                         err("ERR unknown subcommand 'FOO'. Try SCRIPT HELP."))
        # a script that does not compile is not loaded
        self.assertEqual(c.command_raw("SCRIPT", "LOAD", "return +"),
                         err("ERR Error compiling script (new function): user_script:1: "
                             "unexpected symbol near '+'"))
        self.assertEqual(c.command("SCRIPT", "EXISTS", sha1("return +")), [0])

    def test_noscript(self):
        c = self.client()
        for cmd in ("EVALSHA", "EVALSHA_RO"):
            for sha in ("f" * 40, "fff", sha1("return 'never loaded'")):
                with self.subTest(cmd=cmd, sha=sha):
                    self.assertEqual(c.command_raw(cmd, sha, "0"), err(NOSCRIPT))
                    self.assertEqual(c.command_raw(cmd, sha, "1", "k", "a"), err(NOSCRIPT))

    def test_eval_ro(self):
        c = self.client()
        c.command("SET", "ro", "v")
        script = "return redis.call('get', KEYS[1])"
        self.assertEqual(self.eval(c, script, ["ro"], cmd="EVAL_RO"), b"v")
        write = "return redis.call('set', KEYS[1], 'x')"
        self.assertScriptError(c, write, 1, RO_WRITE, ["ro"], cmd="EVAL_RO")
        sha = c.command("SCRIPT", "LOAD", write).decode()
        self.assertEqual(c.command_raw("EVALSHA_RO", sha, "1", "ro"),
                         err(in_script(RO_WRITE, write, 1)))
        self.assertEqual(c.command("GET", "ro"), b"v", "nothing was written")
        # pcall catches the refusal as an error table
        self.assertEqual(self.eval_raw(c, "return redis.pcall('del', KEYS[1])", ["ro"],
                                       cmd="EVAL_RO"),
                         err(RO_WRITE))
        # the same script through EVAL writes
        self.assertEqual(c.command("EVALSHA", sha, "1", "ro"), b"OK")
        self.assertEqual(c.command("GET", "ro"), b"x")

    def test_shebang_flags(self):
        c = self.client()
        c.command("SET", "sb", "old")
        nowrite = "#!lua flags=no-writes\nreturn redis.call('set', KEYS[1], 'x')"
        self.assertScriptError(c, nowrite, 2, RO_WRITE, ["sb"])
        sha = c.command("SCRIPT", "LOAD", nowrite).decode()
        self.assertEqual(c.command_raw("EVALSHA", sha, "1", "sb"),
                         err(in_script(RO_WRITE, nowrite, 2)))
        read = "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])"
        self.assertEqual(self.eval(c, read, ["sb"]), b"old")
        self.assertEqual(self.eval(c, read, ["sb"], cmd="EVAL_RO"), b"old")
        # "#!lua" alone: may write, so EVAL_RO refuses it before it runs
        plain = "#!lua\nreturn redis.call('get', KEYS[1])"
        self.assertEqual(self.eval_raw(c, plain, ["sb"], cmd="EVAL_RO"), err(RO_FLAG))
        self.assertEqual(self.eval(c, "#!lua\nreturn redis.call('set', KEYS[1], 'new')", ["sb"]),
                         b"OK")
        self.assertEqual(c.command("GET", "sb"), b"new")
        for flags in ("no-writes,allow-oom", "",
                      "no-writes,allow-stale,no-cluster,allow-cross-slot-keys,allow-oom"):
            with self.subTest(flags=flags):
                self.assertEqual(self.eval(c, f"#!lua flags={flags}\nreturn 1"), 1)
        # errors
        self.assertEqual(self.eval_raw(c, "#!lua flags=bogus\nreturn 1"),
                         err("ERR Unexpected flag in script shebang: bogus"))
        self.assertEqual(c.command_raw("SCRIPT", "LOAD", "#!lua flags=no-writes,bogus\nreturn 1"),
                         err("ERR Unexpected flag in script shebang: bogus"))
        self.assertEqual(self.eval_raw(c, "#!lua name=x\nreturn 1"),
                         err("ERR Unknown lua shebang option: name=x"))
        self.assertEqual(self.eval_raw(c, "#!lua foo\nreturn 1"),
                         err("ERR Unknown lua shebang option: foo"))
        self.assertEqual(self.eval_raw(c, "#!python\nreturn 1"),
                         err("ERR Unexpected engine in script shebang: #!python"))
        self.assertEqual(self.eval_raw(c, "#!lua"), err("ERR Invalid script shebang"))
        # the shebang line counts in line numbers
        self.assertEqual(self.eval_raw(c, "#!lua\nreturn +"),
                         err("ERR Error compiling script (new function): user_script:2: "
                             "unexpected symbol near '+'"))
        script = "#!lua\n\nerror('x')"
        self.assertScriptError(c, script, 3, "ERR user_script:3: x")

    def test_writes_of_every_type(self):
        c = self.client()
        keys = ["ws", "wh", "wl", "wset", "wz"]
        script = """
redis.call('set', KEYS[1], 'sv')
redis.call('hset', KEYS[2], 'f1', 'a', 'f2', 'b')
redis.call('rpush', KEYS[3], 'x', 'y', 'z')
redis.call('sadd', KEYS[4], 'm1', 'm2')
redis.call('zadd', KEYS[5], 1, 'one', 2.5, 'two')
redis.call('expire', KEYS[1], 100)
local types = {}
for i, k in ipairs(KEYS) do types[i] = redis.call('type', k).ok end
return types"""
        self.assertEqual(self.eval(c, script, keys), [b"string", b"hash", b"list", b"set", b"zset"])
        self.assertEqual(c.command("GET", "ws"), b"sv")
        self.assertTrue(0 < c.command("TTL", "ws") <= 100)
        self.assertEqual(c.command("HGET", "wh", "f2"), b"b")
        self.assertEqual(c.command("LRANGE", "wl", "0", "-1"), [b"x", b"y", b"z"])
        self.assertEqual(sorted(c.command("SMEMBERS", "wset")), [b"m1", b"m2"])
        self.assertEqual(c.command("ZRANGE", "wz", "0", "-1", "WITHSCORES"),
                         [b"one", b"1", b"two", b"2.5"])
        update = """
return {redis.call('append', KEYS[1], '!'),
        redis.call('hincrby', KEYS[2], 'n', 5),
        redis.call('lpop', KEYS[3]),
        redis.call('srem', KEYS[4], 'm1', 'nosuch'),
        redis.call('zincrby', KEYS[5], 2, 'one'),
        redis.call('persist', KEYS[1])}"""
        self.assertEqual(self.eval(c, update, keys), [3, 5, b"x", 1, b"3", 1])
        self.assertEqual(c.command("TTL", "ws"), -1)
        self.assertEqual(c.command("ZSCORE", "wz", "one"), b"3")
        self.assertEqual(self.eval(c, "return redis.call('del', unpack(KEYS))", keys), 5)
        self.assertEqual(c.command("EXISTS", *keys), 0)
        # numbers passed to redis.call become strings; floats with 17 digits
        self.assertEqual(self.eval(c, """
redis.call('set', KEYS[1], 0.1)
redis.call('set', KEYS[2], 1e20)
redis.call('set', KEYS[3], -7)
redis.call('set', KEYS[4], 3.5)
return redis.call('mget', KEYS[1], KEYS[2], KEYS[3], KEYS[4])""", ["n1", "n2", "n3", "n4"]),
            [b"0.10000000000000001", b"1e+20", b"-7", b"3.5"])

    def test_check_and_set_is_atomic(self):
        """4 clients x 200 read-modify-write scripts lose no update, and a reader never sees
        the value a script sets only in its middle."""
        counter, flag = h.keys_by_shard("cas", 2)
        script = """
local v = tonumber(redis.call('get', KEYS[1]) or '0')
redis.call('set', KEYS[2], 'dirty')
redis.call('set', KEYS[1], v + 1)
redis.call('set', KEYS[2], 'clean')
return v + 1"""
        threads_n, per_thread = 4, 200
        results, errors, seen = [], [], []
        done = threading.Event()

        def writer():
            r = self.server.redis()
            try:
                inc = r.register_script(script)
                mine = [inc(keys=[counter, flag]) for _ in range(per_thread)]
                results.extend(mine)
            except Exception as e:  # reported below
                errors.append(e)
            finally:
                r.close()

        def reader():
            r = self.server.redis()
            try:
                while not done.is_set():
                    v = r.get(flag)
                    if v not in (None, b"clean"):
                        seen.append(v)
            except Exception as e:
                errors.append(e)
            finally:
                r.close()

        rt = threading.Thread(target=reader)
        rt.start()
        ws = [threading.Thread(target=writer) for _ in range(threads_n)]
        for t in ws:
            t.start()
        for t in ws:
            t.join(60)
        done.set()
        rt.join(60)
        self.assertEqual(errors, [])
        total = threads_n * per_thread
        self.assertEqual(self.client().command("GET", counter), str(total).encode())
        self.assertEqual(sorted(results), list(range(1, total + 1)),
                         "every script saw a distinct value")
        self.assertEqual(seen, [], "a reader saw a script's intermediate state")

    def test_select_inside_script(self):
        c = self.client()
        script = ("redis.call('select', 9)\n"
                  "redis.call('set', KEYS[1], 'in9')\n"
                  "return redis.call('get', KEYS[1])")
        self.assertEqual(self.eval(c, script, ["sel"]), b"in9")
        # Redis 7: the script's SELECT does not change the caller's database
        self.assertIsNone(c.command("GET", "sel"))
        self.assertEqual(c.command("SELECT", "9"), b"OK")
        self.assertEqual(c.command("GET", "sel"), b"in9")
        # a script starts in its caller's database
        self.assertEqual(self.eval(c, "return redis.call('get', KEYS[1])", ["sel"]), b"in9")
        self.assertEqual(c.command("SELECT", "0"), b"OK")
        self.assertIsNone(self.eval(c, "return redis.call('get', KEYS[1])", ["sel"]))
        self.assertScriptError(c, "redis.call('select', 99)", 1, "ERR DB index is out of range")
        self.assertScriptError(c, "redis.call('select', 'x')", 1, NOT_INT)

    def test_scripts_inside_multi_exec(self):
        c = self.client()
        incr = "return redis.call('incr', KEYS[1])"
        self.assertEqual(c.command("MULTI"), b"OK")
        self.assertEqual(c.command("SET", "mc", "10"), b"QUEUED")
        self.assertEqual(self.eval(c, incr, ["mc"]), b"QUEUED")
        self.assertEqual(self.eval(c, incr, ["mc"], cmd="EVAL_RO"), b"QUEUED")
        self.assertEqual(c.command("EVALSHA", sha1(incr), "1", "mc"), b"QUEUED")
        self.assertEqual(c.command("EVALSHA", "f" * 40, "0"), b"QUEUED")
        self.assertEqual(c.command("EVAL", "return +", "0"), b"QUEUED")
        self.assertEqual(c.command("EVAL", "return 1", "-1"), b"QUEUED")
        self.assertEqual(c.command("EVAL", "return 1", "x"), b"QUEUED")
        self.assertEqual(
            c.command_raw("EXEC"),
            b"*8\r\n+OK\r\n:11\r\n" + err(in_script(RO_WRITE, incr, 1)) + b":12\r\n"
            + err(NOSCRIPT)
            + err("ERR Error compiling script (new function): user_script:1: unexpected "
                  "symbol near '+'")
            + err("ERR Number of keys can't be negative") + err(NOT_INT))
        self.assertEqual(c.command("GET", "mc"), b"12")

    def test_scripts_and_watch(self):
        w, other = self.client(), self.client()
        w.command("SET", "wk", "1")
        # another client's script that writes the watched key aborts EXEC
        self.assertEqual(w.command("WATCH", "wk"), b"OK")
        self.assertEqual(self.eval(other, "return redis.call('incr', KEYS[1])", ["wk"]), 2)
        w.command("MULTI")
        w.command("SET", "wk", "mine")
        self.assertEqual(w.command_raw("EXEC"), b"*-1\r\n")
        self.assertEqual(w.command("GET", "wk"), b"2")
        # a script that only reads it does not
        self.assertEqual(w.command("WATCH", "wk"), b"OK")
        self.assertEqual(self.eval(other, "return redis.call('get', KEYS[1])", ["wk"]), b"2")
        w.command("MULTI")
        w.command("SET", "wk", "mine")
        self.assertEqual(w.command("EXEC"), [b"OK"])
        # the watcher's own script before MULTI counts as a change
        self.assertEqual(w.command("WATCH", "wk"), b"OK")
        self.eval(w, "return redis.call('set', KEYS[1], 'own')", ["wk"])
        w.command("MULTI")
        w.command("GET", "wk")
        self.assertEqual(w.command_raw("EXEC"), b"*-1\r\n")
        # a script inside the watched transaction runs when nothing changed
        self.assertEqual(w.command("WATCH", "wk"), b"OK")
        w.command("MULTI")
        self.eval(w, "return redis.call('append', KEYS[1], '+')", ["wk"])
        self.assertEqual(w.command("EXEC"), [4])
        self.assertEqual(w.command("GET", "wk"), b"own+")


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------

class Errors(ScriptCase):

    def test_compile_errors(self):
        c = self.client()
        prefix = "ERR Error compiling script (new function): "
        for script, msg in (
                ("return +", "user_script:1: unexpected symbol near '+'"),
                ("return 1 +", "user_script:1: unexpected symbol near '<eof>'"),
                ("return 1\n\nlocal x = nil; return x.y", "user_script:3: '<eof>' expected "
                                                         "near 'local'"),
                ("if true then", "user_script:1: 'end' expected near '<eof>'"),
                ("x = = 1", "user_script:1: unexpected symbol near '='"),
                ("return 'unfinished", "user_script:1: unfinished string near '<eof>'")):
            with self.subTest(script=script):
                self.assertEqual(self.eval_raw(c, script), err(prefix + msg))
                self.assertEqual(c.command("SCRIPT", "EXISTS", sha1(script)), [0])

    def test_runtime_errors(self):
        c = self.client()
        for script, line, msg in (
                ("local x = nil; return x.y", 1,
                 "ERR user_script:1: attempt to index local 'x' (a nil value)"),
                ("local a = 1\nlocal b = nil\nreturn b.z", 3,
                 "ERR user_script:3: attempt to index local 'b' (a nil value)"),
                ("local t = {}; return t.x.y", 1,
                 "ERR user_script:1: attempt to index field 'x' (a nil value)"),
                ("return 1 + {}", 1, "ERR user_script:1: attempt to perform arithmetic on a "
                                     "table value"),
                ("return nosuchfunc()", 1, "ERR user_script:1: " + nonexistent("nosuchfunc")
                 .decode()),
                ("assert(false, 'assertion text')", 1, "ERR user_script:1: assertion text"),
                ("assert(false)", 1, "ERR user_script:1: assertion failed!"),
                ("local function f()\n  error('deep')\nend\n\nreturn f()", 2,
                 "ERR user_script:2: deep")):
            with self.subTest(script=script):
                self.assertScriptError(c, script, line, msg)

    def test_error_function(self):
        c = self.client()
        # a string: ERR and the position are added
        self.assertScriptError(c, "error('boom')", 1, "ERR user_script:1: boom")
        self.assertScriptError(c, "error(123)", 1, "ERR user_script:1: 123")
        self.assertScriptError(c, "error('no position', 0)", 1, "ERR no position")
        # a table with err: the text as given, its first word the error code
        self.assertScriptError(c, "error({err='MYERR custom'})", 1, "MYERR custom")
        self.assertScriptError(c, "error({err='no code here'})", 1, "no code here")
        self.assertScriptError(c, "local function f()\n  error({err='DEEP x'})\nend\nreturn f()",
                               2, "DEEP x")
        # an error table from pcall raised again
        c.command("SET", "ef", "abc")
        self.assertScriptError(c, "local e = redis.pcall('incr', KEYS[1]); error(e)", 1, NOT_INT,
                               ["ef"])

    def test_call_and_pcall(self):
        c = self.client()
        c.command("SET", "str", "abc")
        c.command("RPUSH", "lst", "a")
        # call: the error ends the script, with the command's own error code
        self.assertScriptError(c, "redis.call('incr', KEYS[1])\nreturn 'unreached'", 1, NOT_INT,
                               ["str"])
        script = "local function f()\n  return redis.call('incr', KEYS[1])\nend\n\nreturn f()"
        self.assertScriptError(c, script, 2, b"WRONGTYPE Operation against a key holding the "
                                             b"wrong kind of value", ["lst"])
        # pcall: an error table that the script may inspect or return
        self.assertEqual(self.eval_raw(c, "return redis.pcall('incr', KEYS[1])", ["str"]),
                         err(NOT_INT))
        self.assertEqual(self.eval(c, "local t = redis.pcall('incr', KEYS[1])\n"
                                      "return {type(t), t.err}", ["str"]),
                         [b"table", NOT_INT])
        self.assertEqual(self.eval_raw(c, "local e = redis.pcall('incr', KEYS[1])\n"
                                          "e.err = 'MINE ' .. e.err\nreturn e", ["str"]),
                         err(b"MINE " + NOT_INT))
        # Lua's pcall around redis.call catches the error as a plain string
        self.assertEqual(self.eval(c, "local ok, e = pcall(redis.call, 'incr', KEYS[1])\n"
                                      "return {tostring(ok), type(e), e}", ["str"]),
                         [b"false", b"string", NOT_INT])
        self.assertEqual(self.eval(c, "local ok, e = pcall(function() error('x') end)\n"
                                      "return {tostring(ok), e}"),
                         [b"false", b"user_script:1: x"])
        # a successful pcall is like call
        self.assertEqual(self.eval(c, "return redis.pcall('lpush', KEYS[1], 'b')", ["lst"]), 2)
        # a script's error does not undo what it wrote before
        self.assertScriptError(c, "redis.call('set', KEYS[1], 'written')\n"
                                  "redis.call('incr', KEYS[2])", 2, NOT_INT, ["w1", "str"])
        self.assertEqual(c.command("GET", "w1"), b"written")

    def test_error_and_status_reply(self):
        c = self.client()
        self.assertEqual(self.eval_raw(c, "return redis.error_reply('MY bad')"), err("MY bad"))
        self.assertEqual(self.eval_raw(c, "return redis.error_reply('bad')"), err("ERR bad"))
        self.assertEqual(self.eval_raw(c, "return redis.error_reply('-X y')"), err("X y"))
        self.assertEqual(self.eval_raw(c, "return redis.error_reply('')"), err("ERR "))
        self.assertEqual(self.eval(c, "return redis.error_reply('x').err"), b"ERR x")
        self.assertEqual(self.eval_raw(c, "return redis.status_reply('FINE')"), b"+FINE\r\n")
        self.assertEqual(self.eval(c, "return redis.status_reply('x').ok"), b"x")
        for script in ("return redis.error_reply()", "return redis.error_reply(1)",
                       "return redis.status_reply()"):
            with self.subTest(script=script):
                self.assertEqual(self.eval_raw(c, script),
                                 err("ERR wrong number or type of arguments"))

    def test_commands_not_allowed(self):
        c = self.client()
        for call, keys in (
                ("'eval', 'return 1', 0", ()), ("'evalsha', 'x', 0", ()),
                ("'fcall', 'x', 0", ()), ("'multi'", ()), ("'exec'", ()), ("'discard'", ()),
                ("'watch', KEYS[1]", ("k",)), ("'unwatch'", ()), ("'subscribe', 'c'", ()),
                ("'psubscribe', 'c*'", ()), ("'ssubscribe', 'c'", ()),
                ("'punsubscribe'", ()), ("'blpop', KEYS[1], 0", ("k",)),
                ("'script', 'load', 'return 1'", ()), ("'function', 'list'", ()),
                ("'client', 'id'", ()), ("'config', 'get', 'maxmemory'", ()),
                ("'auth', 'x'", ()), ("'hello'", ()), ("'monitor'", ()), ("'quit'", ()),
                ("'reset'", ()), ("'save'", ()), ("'shutdown'", ()),
                ("'replicaof', 'no', 'one'", ()), ("'wait', 0, 0", ())):
            with self.subTest(call=call):
                script = f"return redis.call({call})"
                self.assertScriptError(c, script, 1, NOT_ALLOWED, keys)
                # pcall: the same error, as a reply without the suffix
                self.assertEqual(self.eval_raw(c, f"return redis.pcall({call})", keys),
                                 err(NOT_ALLOWED))

    def test_unknown_command_and_arity(self):
        c = self.client()
        self.assertScriptError(c, "return redis.call('nosuch')", 1, UNKNOWN_CMD)
        self.assertScriptError(c, "return redis.call('object', 'foo')", 1, UNKNOWN_CMD)
        self.assertScriptError(c, "return redis.call(1)", 1, UNKNOWN_CMD)
        self.assertEqual(self.eval_raw(c, "return redis.pcall('nosuch')"), err(UNKNOWN_CMD))
        self.assertScriptError(c, "return redis.call('get')", 1, WRONG_ARGS)
        self.assertScriptError(c, "return redis.call('get', KEYS[1], 'extra')", 1, WRONG_ARGS,
                               ["k"])
        self.assertEqual(self.eval_raw(c, "return redis.pcall('get', KEYS[1], 'extra')", ["k"]),
                         err(WRONG_ARGS))
        none = b"ERR Please specify at least one argument for this redis lib call"
        self.assertScriptError(c, "return redis.call()", 1, none)
        self.assertEqual(self.eval_raw(c, "return redis.pcall()"), err(none))
        bad_arg = b"ERR Lua redis lib command arguments must be strings or integers"
        self.assertScriptError(c, "return redis.call('get', {})", 1, bad_arg)
        self.assertScriptError(c, "return redis.call('set', KEYS[1], true)", 1, bad_arg, ["k"])
        self.assertEqual(self.eval_raw(c, "return redis.pcall('get', {})"), err(bad_arg))
        # command names are case-insensitive
        c.command("SET", "k", "v")
        self.assertEqual(self.eval(c, "return redis.call('GeT', KEYS[1])", ["k"]), b"v")


# ---------------------------------------------------------------------------
# Conversions, RESP2
# ---------------------------------------------------------------------------

class Conversions(ScriptCase):

    def check(self, c, cases):
        for script, raw in cases:
            with self.subTest(script=script):
                self.assertEqual(self.eval_raw(c, script), raw)

    def test_lua_scalars(self):
        self.check(self.client(), [
            ("return 3.99", b":3\r\n"),           # numbers are truncated to integers
            ("return -3.99", b":-3\r\n"),
            ("return 0.5", b":0\r\n"),
            ("return -0.0", b":0\r\n"),
            ("return 2^53", b":9007199254740992\r\n"),
            ("return 'str'", b"$3\r\nstr\r\n"),
            ("return '10'", b"$2\r\n10\r\n"),
            ("return ''", b"$0\r\n\r\n"),
            ("return true", b":1\r\n"),
            ("return false", b"$-1\r\n"),
            ("return nil", b"$-1\r\n"),
            ("return", b"$-1\r\n"),
            ("return tostring(0.1)", b"$3\r\n0.1\r\n"),
            ("return tostring(1/3)", b"$16\r\n0.33333333333333\r\n"),
            ("return string.format('%d-%s-%.2f', 5, 'x', 1.005)", b"$8\r\n5-x-1.00\r\n"),
        ])

    def test_lua_tables(self):
        self.check(self.client(), [
            ("return {1, 2, nil, 4}", b"*2\r\n:1\r\n:2\r\n"),  # the array ends at the first nil
            ("return {nil, 2}", b"*0\r\n"),
            ("return {}", b"*0\r\n"),
            ("return {a=1, b=2}", b"*0\r\n"),                  # keys that are not 1..n: dropped
            ("return {1, 2, x=3}", b"*2\r\n:1\r\n:2\r\n"),
            ("return {1, 2.5, -0.5, 'a'}", b"*4\r\n:1\r\n:2\r\n:0\r\n$1\r\na\r\n"),
            ("return {1, {2, {'x', false, true}}, 'y'}",
             b"*3\r\n:1\r\n*2\r\n:2\r\n*3\r\n$1\r\nx\r\n$-1\r\n:1\r\n$1\r\ny\r\n"),
            ("return {{}, {{}}}", b"*2\r\n*0\r\n*1\r\n*0\r\n"),
        ])

    def test_status_and_error_tables(self):
        self.check(self.client(), [
            ("return {ok='fine'}", b"+fine\r\n"),
            ("return {err='X y'}", b"-X y\r\n"),
            ("return {ok='x', err='y'}", b"-y\r\n"),        # err wins
            ("return {err='y', 1, 2}", b"-y\r\n"),
            # inside an array: status and error elements, no script suffix
            ("return {1, {err='E inner'}, {ok='okin'}}", b"*3\r\n:1\r\n-E inner\r\n+okin\r\n"),
            ("return {1, redis.error_reply('E2 x'), redis.status_reply('S')}",
             b"*3\r\n:1\r\n-E2 x\r\n+S\r\n"),
        ])

    def test_redis_replies_in_lua(self):
        c = self.client()
        c.command("SET", "k", "v")
        c.command("HSET", "h", "f1", "v1")
        c.command("RPUSH", "l", "a", "b")
        c.command("ZADD", "z", "1.5", "m")
        for script, keys, expected in (
                # integer -> number
                ("local v = redis.call('incr', KEYS[1]); return {type(v), v}", ["cnt"],
                 [b"number", 1]),
                # bulk -> string
                ("local v = redis.call('get', KEYS[1]); return {type(v), v}", ["k"],
                 [b"string", b"v"]),
                # nil bulk -> false
                ("local v = redis.call('get', KEYS[1]); return {type(v), tostring(v)}",
                 ["nokey"], [b"boolean", b"false"]),
                # status -> table with ok
                ("local v = redis.call('set', KEYS[1], 'x'); return {type(v), v.ok}", ["k"],
                 [b"table", b"OK"]),
                ("local v = redis.call('type', KEYS[1]); return v.ok", ["h"], b"hash"),
                # array -> table
                ("local v = redis.call('lrange', KEYS[1], 0, -1); return {type(v), #v, v[1], v[2]}",
                 ["l"], [b"table", 2, b"a", b"b"]),
                ("local v = redis.call('hgetall', KEYS[1]); return {#v, v[1], v[2]}", ["h"],
                 [2, b"f1", b"v1"]),
                # a double is a bulk string in RESP2
                ("local v = redis.call('zscore', KEYS[1], 'm'); return {type(v), v}", ["z"],
                 [b"string", b"1.5"]),
                # an empty array
                ("local v = redis.call('lrange', KEYS[1], 0, -1); return {type(v), #v}",
                 ["nokey"], [b"table", 0]),
                # error -> table with err (through pcall)
                ("local v = redis.pcall('hget', KEYS[1], 'f'); return {type(v), v.err}", ["l"],
                 [b"table", b"WRONGTYPE Operation against a key holding the wrong kind of "
                            b"value"])):
            with self.subTest(script=script):
                self.assertEqual(self.eval(c, script, keys), expected)
        # replies returned unchanged
        self.assertEqual(self.eval_raw(c, "return redis.call('set', KEYS[1], 'v')", ["k"]),
                         b"+OK\r\n")
        self.assertEqual(self.eval_raw(c, "return redis.call('ping')"), b"+PONG\r\n")
        self.assertEqual(self.eval_raw(c, "return redis.call('get', KEYS[1])", ["nokey"]),
                         b"$-1\r\n")
        self.assertEqual(self.eval_raw(c, "return redis.call('hgetall', KEYS[1])", ["h"]),
                         b"*2\r\n$2\r\nf1\r\n$2\r\nv1\r\n")

    def test_resp3_types_to_resp2_client(self):
        c = self.client()
        self.check(c, [
            ("return {map={a=1}}", b"*2\r\n$1\r\na\r\n:1\r\n"),
            ("return {map={x={set={a=true}}}}", b"*2\r\n$1\r\nx\r\n*1\r\n$1\r\na\r\n"),
            ("return {set={a=true}}", b"*1\r\n$1\r\na\r\n"),
            ("return {double=3.5}", b"$3\r\n3.5\r\n"),
            ("return {double=10}", b"$2\r\n10\r\n"),
            ("return {double=-2.25}", b"$5\r\n-2.25\r\n"),
            ("return {double=1/0}", b"$3\r\ninf\r\n"),
            ("return {big_number='123456789012345678901234567890'}",
             b"$30\r\n123456789012345678901234567890\r\n"),
            ("return {verbatim_string={format='txt', string='hello'}}", b"$5\r\nhello\r\n"),
            ("return {1, {map={k='v'}}, {double=0.5}}",
             b"*3\r\n:1\r\n*2\r\n$1\r\nk\r\n$1\r\nv\r\n$3\r\n0.5\r\n"),
        ])
        # a two-key map: flattened pairs (in Lua's table order), false as a nil bulk
        reply = self.eval(c, "return {map={a=true, b=false}}")
        self.assertEqual(dict(zip(reply[::2], reply[1::2])), {b"a": 1, b"b": None})

    def test_setresp3_replies_to_resp2_client(self):
        c = self.client()
        c.command("HSET", "h", "f1", "v1")
        c.command("SADD", "s", "m1")
        c.command("ZADD", "z", "1.5", "m", "2", "n")
        for script, keys, raw in (
                ("redis.setresp(3); return redis.call('hgetall', KEYS[1])", ["h"],
                 b"*2\r\n$2\r\nf1\r\n$2\r\nv1\r\n"),
                ("redis.setresp(3); return redis.call('smembers', KEYS[1])", ["s"],
                 b"*1\r\n$2\r\nm1\r\n"),
                ("redis.setresp(3); return redis.call('zscore', KEYS[1], 'm')", ["z"],
                 b"$3\r\n1.5\r\n"),
                ("redis.setresp(3); return redis.call('get', KEYS[1])", ["nokey"], b"$-1\r\n"),
                ("redis.setresp(3); return redis.call('zrange', KEYS[1], 0, -1, 'withscores')",
                 ["z"], b"*2\r\n*2\r\n$1\r\nm\r\n$3\r\n1.5\r\n*2\r\n$1\r\nn\r\n$1\r\n2\r\n"),
                # booleans after setresp(3): false is 0, not a nil bulk
                ("redis.setresp(3); return true", [], b":1\r\n"),
                ("redis.setresp(3); return false", [], b":0\r\n"),
                ("redis.setresp(3); return nil", [], b"$-1\r\n"),
                ("redis.setresp(3); redis.setresp(2); return redis.call('hgetall', KEYS[1])",
                 ["h"], b"*2\r\n$2\r\nf1\r\n$2\r\nv1\r\n")):
            with self.subTest(script=script):
                self.assertEqual(self.eval_raw(c, script, keys), raw)
        self.assertScriptError(c, "redis.setresp(4)", 1, "ERR RESP version must be 2 or 3.")
        self.assertScriptError(c, "redis.setresp()", 1,
                               "ERR redis.setresp() requires one argument.")


# ---------------------------------------------------------------------------
# RESP3
# ---------------------------------------------------------------------------

class Resp3(ScriptCase):

    def check(self, c, cases):
        for script, keys, raw in cases:
            with self.subTest(script=script):
                self.assertEqual(self.eval_raw(c, script, keys), raw)

    def test_plain_lua_values(self):
        c = self.client(3)
        self.check(c, [
            ("return 3.99", [], b":3\r\n"),
            ("return 'str'", [], b"$3\r\nstr\r\n"),
            # without setresp(3): true is 1, false and nil are RESP3 nulls
            ("return true", [], b":1\r\n"),
            ("return false", [], b"_\r\n"),
            ("return nil", [], b"_\r\n"),
            ("return {1, 2, nil, 4}", [], b"*2\r\n:1\r\n:2\r\n"),
            ("return {1, {2, {'x', false, true}}, 'y'}", [],
             b"*3\r\n:1\r\n*2\r\n:2\r\n*3\r\n$1\r\nx\r\n_\r\n:1\r\n$1\r\ny\r\n"),
            ("return {ok='fine'}", [], b"+fine\r\n"),
            ("return {err='E1 first'}", [], b"-E1 first\r\n"),
            ("return {1, redis.error_reply('E2 x')}", [], b"*2\r\n:1\r\n-E2 x\r\n"),
        ])
        # script errors are simple errors, suffix and all
        self.assertScriptError(c, "error('boom')", 1, "ERR user_script:1: boom")

    def test_typed_tables(self):
        c = self.client(3)
        self.check(c, [
            ("return {map={a=1}}", [], b"%1\r\n$1\r\na\r\n:1\r\n"),
            ("return {map={}}", [], b"%0\r\n"),
            ("return {map={[1]='v'}}", [], b"%1\r\n:1\r\n$1\r\nv\r\n"),
            ("return {map={k={ok='fine'}}}", [], b"%1\r\n$1\r\nk\r\n+fine\r\n"),
            ("return {map={k={err='E bad'}}}", [], b"%1\r\n$1\r\nk\r\n-E bad\r\n"),
            ("return {map={x={set={a=true}}}}", [], b"%1\r\n$1\r\nx\r\n~1\r\n$1\r\na\r\n"),
            ("return {map={k='v'}, 5}", [], b"%1\r\n$1\r\nk\r\n$1\r\nv\r\n"),
            ("return {set={a=true}}", [], b"~1\r\n$1\r\na\r\n"),
            ("return {set={}}", [], b"~0\r\n"),
            ("return {double=3.5}", [], b",3.5\r\n"),
            ("return {double=10}", [], b",10\r\n"),
            ("return {double=0.1}", [], b",0.10000000000000001\r\n"),
            ("return {double=1e100}", [], b",1e+100\r\n"),
            ("return {double=1/0}", [], b",inf\r\n"),
            ("return {double=-1/0}", [], b",-inf\r\n"),
            ("return {big_number='123456789012345678901234567890'}", [],
             b"(123456789012345678901234567890\r\n"),
            ("return {verbatim_string={format='txt', string='hello'}}", [],
             b"=9\r\ntxt:hello\r\n"),
            ("return {verbatim_string={format='mkd', string='# t'}}", [], b"=7\r\nmkd:# t\r\n"),
            ("return {1, {map={k='v'}}, {double=0.5}}", [],
             b"*3\r\n:1\r\n%1\r\n$1\r\nk\r\n$1\r\nv\r\n,0.5\r\n"),
        ])
        # several entries: compared without order (Lua's table order)
        self.assertEqual(self.eval(c, "return {map={a={1, 2}, b={map={c='d'}}, e=false}}"),
                         {b"a": [1, 2], b"b": {b"c": b"d"}, b"e": None})
        reply = self.eval(c, "return {set={x=true, y=true, z=false}}")
        self.assertIsInstance(reply, h.RespSet)
        # a set takes every key of the table, whatever its value
        self.assertEqual(sorted(reply), [b"x", b"y", b"z"])

    def test_redis_replies_default_to_resp2(self):
        """Without redis.setresp(3), a script sees RESP2 replies, whatever its caller speaks."""
        c = self.client(3)
        c.command("HSET", "h", "f1", "v1")
        c.command("ZADD", "z", "1.5", "m")
        self.check(c, [
            ("return redis.call('hgetall', KEYS[1])", ["h"], b"*2\r\n$2\r\nf1\r\n$2\r\nv1\r\n"),
            ("return redis.call('zscore', KEYS[1], 'm')", ["z"], b"$3\r\n1.5\r\n"),
            ("return redis.call('get', KEYS[1])", ["nokey"], b"_\r\n"),
            ("local v = redis.call('get', KEYS[1]); return type(v)", ["nokey"],
             b"$7\r\nboolean\r\n"),
        ])

    def test_setresp3_replies(self):
        c = self.client(3)
        c.command("HSET", "h", "f1", "v1")
        c.command("SADD", "s", "m1")
        c.command("ZADD", "z", "1.5", "m", "2", "n")
        self.check(c, [
            # straight through
            ("redis.setresp(3); return redis.call('hgetall', KEYS[1])", ["h"],
             b"%1\r\n$2\r\nf1\r\n$2\r\nv1\r\n"),
            ("redis.setresp(3); return redis.call('hgetall', KEYS[1])", ["nokey"], b"%0\r\n"),
            ("redis.setresp(3); return redis.call('smembers', KEYS[1])", ["s"],
             b"~1\r\n$2\r\nm1\r\n"),
            ("redis.setresp(3); return redis.call('zscore', KEYS[1], 'm')", ["z"], b",1.5\r\n"),
            ("redis.setresp(3); return redis.call('zscore', KEYS[1], 'x')", ["z"], b"_\r\n"),
            ("redis.setresp(3); return redis.call('zrange', KEYS[1], 0, -1, 'withscores')",
             ["z"], b"*2\r\n*2\r\n$1\r\nm\r\n,1.5\r\n*2\r\n$1\r\nn\r\n,2\r\n"),
            ("redis.setresp(3); return redis.call('set', KEYS[1], 'v')", ["k"], b"+OK\r\n"),
            ("redis.setresp(3); return redis.call('incr', KEYS[1])", ["cnt"], b":1\r\n"),
            ("redis.setresp(3); return redis.pcall('incr', KEYS[1])", ["k"], err(NOT_INT)),
            # Lua booleans become RESP3 booleans after setresp(3)
            ("redis.setresp(3); return true", [], b"#t\r\n"),
            ("redis.setresp(3); return false", [], b"#f\r\n"),
            ("redis.setresp(3); return {true, false}", [], b"*2\r\n#t\r\n#f\r\n"),
            ("redis.setresp(3); return nil", [], b"_\r\n"),
            # and what the script sees
            ("redis.setresp(3); local v = redis.call('hgetall', KEYS[1])\n"
             "return {type(v), type(v.map), v.map.f1}", ["h"],
             b"*3\r\n$5\r\ntable\r\n$5\r\ntable\r\n$2\r\nv1\r\n"),
            ("redis.setresp(3); local v = redis.call('smembers', KEYS[1])\n"
             "return {type(v.set), tostring(v.set.m1)}", ["s"],
             b"*2\r\n$5\r\ntable\r\n$4\r\ntrue\r\n"),
            ("redis.setresp(3); local v = redis.call('zscore', KEYS[1], 'm')\n"
             "return {type(v), type(v.double), tostring(v.double)}", ["z"],
             b"*3\r\n$5\r\ntable\r\n$6\r\nnumber\r\n$3\r\n1.5\r\n"),
            ("redis.setresp(3); local v = redis.call('zincrby', KEYS[1], 1, 'm')\n"
             "return tostring(v.double)", ["z"], b"$3\r\n2.5\r\n"),
            # a RESP3 null is nil, not false
            ("redis.setresp(3); local v = redis.call('get', KEYS[1])\n"
             "return type(v)", ["nokey"], b"$3\r\nnil\r\n"),
        ])

    def test_verbatim_string_from_info(self):
        c = self.client(3)
        script = ("redis.setresp(3); local v = redis.call('info', 'keyspace')\n"
                  "return {type(v), v.verbatim_string.format, v.verbatim_string.string}")
        kind, fmt, text = self.eval(c, script)
        self.assertEqual((kind, fmt), (b"table", b"txt"))
        self.assertTrue(text.startswith(b"# Keyspace\r\n"), text)
        # returned as is: a verbatim string to RESP3, a bulk string to RESP2
        reply = self.eval(c, "redis.setresp(3); return redis.call('info', 'keyspace')")
        self.assertIsInstance(reply, h.Verbatim)
        self.assertEqual((reply.format, bytes(reply)), (b"txt", text))
        reply = self.eval(self.client(2), "redis.setresp(3); return redis.call('info', 'keyspace')")
        self.assertEqual(reply, text)
        # without setresp(3) the script sees a plain string
        self.assertEqual(self.eval(c, "return type(redis.call('info', 'keyspace'))"), b"string")


# ---------------------------------------------------------------------------
# Sandbox
# ---------------------------------------------------------------------------

class Sandbox(ScriptCase):

    MISSING = ("os", "io", "debug", "loadfile", "dofile", "print", "require", "setfenv",
               "getfenv", "newproxy", "package", "module")
    PRESENT = {
        "function": ("loadstring", "load", "unpack", "select", "pcall", "xpcall", "rawget",
                     "rawset", "rawequal", "setmetatable", "getmetatable", "tostring",
                     "tonumber", "type", "next", "pairs", "ipairs", "assert", "error",
                     "collectgarbage", "gcinfo"),
        "table": ("string", "table", "math", "coroutine", "cjson", "bit", "struct", "cmsgpack",
                  "redis", "KEYS", "ARGV", "_G"),
        "string": ("_VERSION",),
    }

    def test_missing_globals(self):
        c = self.client()
        for name in self.MISSING:
            with self.subTest(name=name):
                script = f"return type({name})"
                self.assertScriptError(c, script, 1, b"ERR user_script:1: " + nonexistent(name))
                # rawget sees nothing either, and does not raise
                self.assertEqual(self.eval_raw(c, f"return rawget(_G, '{name}') == nil"),
                                 b":1\r\n")
        self.assertScriptError(c, "return _G.os", 1, b"ERR user_script:1: " + nonexistent("os"))

    def test_present_globals(self):
        c = self.client()
        for kind, names in self.PRESENT.items():
            for name in names:
                with self.subTest(name=name):
                    self.assertEqual(self.eval(c, f"return type({name})"), kind.encode())
        self.assertEqual(self.eval(c, "return _VERSION"), b"Lua 5.1")
        self.assertEqual(self.eval(c, "return loadstring('return 7')()"), 7)
        self.assertEqual(self.eval(c, "return select('#', 1, 2, 3)"), 3)
        self.assertEqual(self.eval(c, "return coroutine.status(coroutine.create(function() end))"),
                         b"suspended")
        n = self.eval(c, "return math.random(100)")
        self.assertTrue(1 <= n <= 100, n)

    def test_global_writes_refused(self):
        c = self.client()
        for script, line in (("x = 1", 1), ("x = 1; return 1", 1), ("local t = 1\nfoo = 2", 2),
                             ("function f() return 1 end", 1), ("_G.x = 1", 1),
                             ("KEYS = {}", 1), ("redis = nil", 1)):
            with self.subTest(script=script):
                self.assertScriptError(c, script, line, b"ERR user_script:%d: %s"
                                       % (line, READONLY_TABLE))
        # raised inside a C function: no position in the message
        self.assertScriptError(c, "rawset(_G, 'x', 1)", 1, b"ERR " + READONLY_TABLE)
        self.assertScriptError(c, "setmetatable(_G, nil)", 1, b"ERR " + READONLY_TABLE)
        # locals are fine
        self.assertEqual(self.eval(c, "local function f() return 1 end return f()"), 1)
        self.assertEqual(self.eval(c, "local t = {}; t.x = 1; return t.x"), 1)

    def test_library_tables_readonly(self):
        c = self.client()
        for script in ("redis.call = function() end", "redis.foo = 1", "string.foo = 1",
                       "string.len = nil", "table.insert = nil", "math.pi = 3",
                       "cjson.encode = nil", "bit.band = nil", "struct.pack = nil",
                       "cmsgpack.pack = nil", "getmetatable('').__index = {}",
                       "getmetatable('').__index.upper = function() return 'x' end"):
            with self.subTest(script=script):
                self.assertScriptError(c, script, 1, b"ERR user_script:1: " + READONLY_TABLE)
        self.assertEqual(self.eval(c, "return ('abc'):upper()"), b"ABC")
        self.assertEqual(self.eval(c, "return getmetatable(_G) ~= nil"), 1)

    def test_no_state_between_scripts(self):
        c = self.client()
        self.assertEqual(self.eval_raw(c, "leak = 1")[:1], b"-")
        self.assertIsNone(self.eval(c, "return rawget(_G, 'leak')"))
        self.assertEqual(self.eval_raw(c, "string.leak = 1")[:1], b"-")
        self.assertIsNone(self.eval(c, "return rawget(string, 'leak')"))
        self.assertEqual(self.eval_raw(c, "redis.call = function() return 'hijacked' end")[:1],
                         b"-")
        self.assertEqual(self.eval_raw(c, "return redis.call('ping')"), b"+PONG\r\n")
        # KEYS and ARGV are the script's own tables, filled afresh for each call
        self.assertEqual(self.eval(c, "KEYS[1] = 'y'; KEYS[2] = 'z'; ARGV[1] = 'w'\n"
                                      "return {KEYS[1], #KEYS, #ARGV}", ["a"]),
                         [b"y", 2, 1])
        self.assertEqual(self.eval(c, "return {KEYS[1], #KEYS, #ARGV}", ["a"]), [b"a", 1, 0])


# ---------------------------------------------------------------------------
# Libraries and redis.* helpers
# ---------------------------------------------------------------------------

class Libraries(ScriptCase):

    def check(self, c, cases):
        for script, args, raw in cases:
            with self.subTest(script=script):
                self.assertEqual(self.eval_raw(c, script, (), args), raw)

    def test_cjson(self):
        c = self.client()
        self.check(c, [
            ("return cjson.encode({1, 2, 'x', true, false})", [], bulk('[1,2,"x",true,false]')),
            ("return cjson.encode({a=1})", [], bulk('{"a":1}')),
            ("return cjson.encode({a={b={1, 2}}})", [], bulk('{"a":{"b":[1,2]}}')),
            ("return cjson.encode({})", [], bulk("{}")),
            ("return cjson.encode(cjson.null)", [], bulk("null")),
            ("return cjson.encode({[1]=1, [3]=3})", [], bulk("[1,null,3]")),
            ("return cjson.encode(1.5)", [], bulk("1.5")),
            ("return cjson.encode(0.1)", [], bulk("0.1")),
            ("return cjson.encode(100000000000000)", [], bulk("1e+14")),
            ("return cjson.encode('a\"b\\\\c/\\n')", [], bulk('"a\\"b\\\\c\\/\\n"')),
            ("return type(cjson.null)", [], bulk("userdata")),
            ("local t = cjson.decode('{\"a\":[1,2,{\"b\":null}],\"c\":\"d\"}')\n"
             "return {t.a[1], t.a[2], tostring(t.a[3].b == cjson.null), t.c}", [],
             b"*4\r\n:1\r\n:2\r\n$4\r\ntrue\r\n$1\r\nd\r\n"),
            ("return tostring(cjson.decode('{\"a\":1.5}').a)", [], bulk("1.5")),
            ("return cjson.decode('\"\\\\u00e9\"')", [], bulk(b"\xc3\xa9")),
            ("return cjson.encode(cjson.decode(ARGV[1]))", ['{"k":[1,"two",null,true]}'],
             bulk('{"k":[1,"two",null,true]}')),
        ])
        for script, msg in (
                ("return cjson.decode('[1,2')",
                 "Expected comma or array end but found T_END at character 5"),
                ("return cjson.decode('')", "Expected value but found T_END at character 1"),
                ("return cjson.encode({[1]=1, [100]=3})",
                 "Cannot serialise table: excessively sparse array"),
                ("return cjson.encode(function() end)",
                 "Cannot serialise function: type not supported")):
            with self.subTest(script=script):
                self.assertScriptError(c, script, 1, "ERR user_script:1: " + msg)

    def test_bit(self):
        c = self.client()
        self.check(c, [
            ("return {bit.band(12, 10), bit.bor(12, 10), bit.bxor(12, 10), bit.lshift(1, 4),"
             " bit.rshift(256, 4), bit.bnot(0), bit.arshift(-256, 4)}", [],
             b"*7\r\n:8\r\n:14\r\n:6\r\n:16\r\n:16\r\n:-1\r\n:-16\r\n"),
            ("return bit.band(0xff, 0x0f, 0x3c)", [], b":12\r\n"),
            ("return {bit.tohex(255), bit.tohex(255, 2), bit.tohex(-1), bit.tohex(255, -4)}", [],
             b"*4\r\n$8\r\n000000ff\r\n$2\r\nff\r\n$8\r\nffffffff\r\n$4\r\n00FF\r\n"),
            ("return {bit.tobit(0xffffffff), bit.tobit(2^32 + 5), bit.rol(1, 33),"
             " bit.ror(1, 1), bit.bswap(0x12345678)}", [],
             b"*5\r\n:-1\r\n:5\r\n:2\r\n:-2147483648\r\n:2018915346\r\n"),
        ])
        self.assertScriptError(c, "return bit.band()", 1, "ERR user_script:1: bad argument #1 "
                                                         "to 'band' (number expected, got no "
                                                         "value)")

    def test_struct(self):
        c = self.client()
        self.check(c, [
            ("return struct.pack('>I2', 258)", [], bulk(b"\x01\x02")),
            ("return struct.pack('<i4', -2)", [], bulk(b"\xfe\xff\xff\xff")),
            ("return struct.pack('s', 'ab')", [], bulk(b"ab\x00")),
            ("return {struct.unpack('>I2', ARGV[1])}", [b"\x01\x02"], b"*2\r\n:258\r\n:3\r\n"),
            ("return {struct.unpack('<i4c2', ARGV[1])}", [b"\xfe\xff\xff\xffab"],
             b"*3\r\n:-2\r\n$2\r\nab\r\n:7\r\n"),
            ("return {struct.size('>I2i4b'), struct.size('d')}", [], b"*2\r\n:7\r\n:8\r\n"),
            ("return {struct.unpack('>i2', struct.pack('>i2', -300))}", [],
             b"*2\r\n:-300\r\n:3\r\n"),
        ])
        self.assertScriptError(c, "return struct.pack('q')", 1,
                               "ERR user_script:1: bad argument #1 to 'pack' (invalid format "
                               "option 'q')")
        self.assertScriptError(c, "return struct.unpack('>I4', 'ab')", 1,
                               "ERR user_script:1: bad argument #2 to 'unpack' (data string too "
                               "short)")

    def test_cmsgpack(self):
        c = self.client()
        self.check(c, [
            ("return cmsgpack.pack({1, 2, 3})", [], bulk(b"\x93\x01\x02\x03")),
            ("return cmsgpack.pack('abc')", [], bulk(b"\xa3abc")),
            ("return cmsgpack.pack({a=1})", [], bulk(b"\x81\xa1a\x01")),
            ("return cmsgpack.pack(1, 'a', true, nil)", [], bulk(b"\x01\xa1a\xc3\xc0")),
            ("return cmsgpack.pack(-1, 300, 70000, 1.5)", [],
             bulk(b"\xff\xcd\x01,\xce\x00\x01\x11p\xca?\xc0\x00\x00")),
            ("return cmsgpack.unpack(cmsgpack.pack({1, {2, 'x'}, 'y'}))", [],
             b"*3\r\n:1\r\n*2\r\n:2\r\n$1\r\nx\r\n$1\r\ny\r\n"),
            ("return {cmsgpack.unpack(ARGV[1])}", [b"\x93\x01\x02\xa1x"],
             b"*1\r\n*3\r\n:1\r\n:2\r\n$1\r\nx\r\n"),
            ("return {cmsgpack.unpack(ARGV[1])}", [b"\x01\x02\xc3"], b"*3\r\n:1\r\n:2\r\n:1\r\n"),
            ("local t = cmsgpack.unpack(cmsgpack.pack({k='v', n={1, 2}}))\n"
             "return {t.k, t.n[2]}", [], b"*2\r\n$1\r\nv\r\n:2\r\n"),
        ])
        self.assertScriptError(c, "return cmsgpack.unpack(ARGV[1])", 1,
                               "ERR user_script:1: Missing bytes in input.", (), [b"\x92\x01"])
        self.assertScriptError(c, "return cmsgpack.unpack()", 1,
                               "ERR user_script:1: bad argument #1 to 'unpack' (string "
                               "expected, got no value)")

    def test_redis_helpers(self):
        c = self.client()
        self.check(c, [
            ("return redis.sha1hex('')", [], bulk(sha1(""))),
            ("return redis.sha1hex(ARGV[1])", [b"abc\x00"], bulk(sha1(b"abc\x00"))),
            ("return redis.log(redis.LOG_WARNING, 'from test_scripting')", [], b"$-1\r\n"),
            ("return redis.log(redis.LOG_NOTICE, 'a', 'b', 3)", [], b"$-1\r\n"),
            ("return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}",
             [], b"*4\r\n:0\r\n:1\r\n:2\r\n:3\r\n"),
            ("return {redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA,"
             " redis.REPL_ALL}", [], b"*5\r\n:0\r\n:1\r\n:2\r\n:2\r\n:3\r\n"),
            ("return redis.set_repl(redis.REPL_ALL)", [], b"$-1\r\n"),
            ("return redis.replicate_commands()", [], b":1\r\n"),
        ])
        self.assertScriptError(c, "return redis.sha1hex()", 1, "ERR wrong number of arguments")
        self.assertScriptError(c, "return redis.log(99, 'x')", 1, "ERR Invalid debug level.")
        self.assertScriptError(c, "return redis.log(redis.LOG_NOTICE)", 1,
                               "ERR redis.log() requires two arguments or more.")
        self.assertScriptError(c, "return redis.set_repl(99)", 1,
                               "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, "
                               "REPL_ALL or REPL_NONE.")
        self.assertScriptError(c, "return redis.set_repl()", 1,
                               "ERR redis.set_repl() requires two arguments.")
        # the version: a string "x.y.z" and its number (not its value: Pollux reports its own)
        kind, num_kind, consistent = self.eval(c, """
local maj, min, pat = string.match(redis.REDIS_VERSION, '^(%d+)%.(%d+)%.(%d+)$')
local n = tonumber(maj) * 65536 + tonumber(min) * 256 + tonumber(pat)
return {type(redis.REDIS_VERSION), type(redis.REDIS_VERSION_NUM),
        tostring(n == redis.REDIS_VERSION_NUM)}""")
        self.assertEqual((kind, num_kind, consistent), (b"string", b"number", b"true"))
        self.assertGreaterEqual(self.eval(c, "return redis.REDIS_VERSION_NUM"), 0x070000)

    def test_acl_check_cmd(self):
        c = self.client()
        self.assertEqual(self.eval(c, "return redis.acl_check_cmd('set', KEYS[1], 'v')", ["k"]), 1)
        self.assertEqual(self.eval(c, "return redis.acl_check_cmd('get', KEYS[1])", ["k"]), 1)
        self.assertScriptError(c, "return redis.acl_check_cmd('nosuch')", 1,
                               "ERR Invalid command passed to redis.acl_check_cmd()")
        self.assertScriptError(c, "return redis.acl_check_cmd()", 1,
                               "ERR Please specify at least one argument for this redis lib "
                               "call")
        # a user who may not write: true for get, false for set
        self.assertEqual(c.command("ACL", "SETUSER", "reader", "on", "nopass", "~*", "+eval",
                                   "+get"), b"OK")
        try:
            u = self.client()
            self.assertEqual(u.command("AUTH", "reader", "x"), b"OK")
            self.assertEqual(self.eval(u, "return {redis.acl_check_cmd('get', KEYS[1]),"
                                          " redis.acl_check_cmd('set', KEYS[1], 'v')}", ["k"]),
                             [1, None])  # false: a nil bulk inside the array
            self.assertEqual(self.eval(u, "return tostring(redis.acl_check_cmd('set', KEYS[1],"
                                          " 'v'))", ["k"]), b"false")
        finally:
            c.command("ACL", "DELUSER", "reader")


# ---------------------------------------------------------------------------
# Functions
# ---------------------------------------------------------------------------

def lib(name, body):
    return f"#!lua name={name}\n{body}"


def function_list(reply):
    """FUNCTION LIST (RESP2) as {library: {field: value}} with each library's functions as
    {name: {field: value}}: Redis lists libraries and functions in no fixed order."""
    out = {}
    for entry in reply:
        d = dict(zip(entry[::2], entry[1::2]))
        d[b"functions"] = {f[1]: dict(zip(f[::2], f[1::2])) for f in d[b"functions"]}
        out[d[b"library_name"]] = d
    return out


class Functions(ScriptCase):

    def load(self, c, *args):
        return c.command("FUNCTION", "LOAD", *args)

    def test_load_and_fcall(self):
        c = self.client()
        code = lib("mylib", "redis.register_function('f1', function(keys, args)\n"
                            "  return {#keys, #args, keys[1], args[1]}\nend)")
        self.assertEqual(c.command_raw("FUNCTION", "LOAD", code), bulk("mylib"))
        self.assertEqual(c.command("FCALL", "f1", "1", "k", "a"), [1, 1, b"k", b"a"])
        self.assertEqual(c.command("FCALL", "f1", "0"), [0, 0])
        # function names are case-insensitive
        self.assertEqual(c.command("FCALL", "F1", "2", "k1", "k2"), [2, 0, b"k1"])
        # writes
        self.assertEqual(self.load(c, lib("w", "redis.register_function('setit', function(k, a)"
                                                " return redis.call('set', k[1], a[1]) end)")),
                         b"w")
        self.assertEqual(c.command_raw("FCALL", "setit", "1", "fk", "val"), b"+OK\r\n")
        self.assertEqual(c.command("GET", "fk"), b"val")
        # the engine and the name option are case-insensitive, the library name is not
        self.assertEqual(self.load(c, "#!LUA NAME=MyLib\nredis.register_function('g', "
                                      "function() return 'G' end)"), b"MyLib")
        self.assertEqual(c.command("FCALL", "g", "0"), b"G")
        # several functions, in either form, with a local helper
        code = lib("multi", """
local function twice(x) return x * 2 end
redis.register_function('dbl', function(keys, args) return twice(tonumber(args[1])) end)
redis.register_function{function_name='tbl', callback=function() return 'table form' end}""")
        self.assertEqual(self.load(c, code), b"multi")
        self.assertEqual(c.command("FCALL", "dbl", "0", "21"), 42)
        self.assertEqual(c.command("FCALL", "tbl", "0"), b"table form")

    def test_load_replace(self):
        c = self.client()
        v1 = lib("rep", "redis.register_function('rf', function() return 'v1' end)")
        v2 = lib("rep", "redis.register_function('rf2', function() return 'v2' end)")
        self.assertEqual(self.load(c, v1), b"rep")
        self.assertEqual(c.command_raw("FUNCTION", "LOAD", v2),
                         err("ERR Library 'rep' already exists"))
        self.assertEqual(c.command("FCALL", "rf", "0"), b"v1")
        self.assertEqual(self.load(c, "REPLACE", v2), b"rep")
        self.assertEqual(c.command("FCALL", "rf2", "0"), b"v2")
        self.assertEqual(c.command_raw("FCALL", "rf", "0"), err("ERR Function not found"),
                         "the library's old functions went with it")
        self.assertEqual(self.load(c, "replace", v1), b"rep")
        self.assertEqual(c.command("FCALL", "rf", "0"), b"v1")
        # REPLACE of another library's function is refused, and changes nothing
        other = lib("other", "redis.register_function('rf', function() return 'other' end)")
        self.assertEqual(c.command_raw("FUNCTION", "LOAD", "REPLACE", other),
                         err("ERR Function rf already exists"))
        self.assertEqual(c.command("FCALL", "rf", "0"), b"v1")

    def test_load_errors(self):
        c = self.client()
        fn = "redis.register_function('f', function() return 1 end)"
        self.load(c, lib("taken", "redis.register_function('tf', function() return 1 end)"))
        reg = "ERR Error registering functions: "
        names = ("ERR Library names can only contain letters, numbers, or underscores(_) and "
                 "must be at least one character long")
        for code, msg in (
                (fn, "ERR Missing library metadata"),
                ("#!lua\n" + fn, "ERR Library name was not given"),
                ("#!python name=x\n" + fn, "ERR Engine 'python' not found"),
                (lib("taken", fn), "ERR Library 'taken' already exists"),
                (lib("x", "redis.register_function('TF', function() return 1 end)"),
                 "ERR Function TF already exists"),
                (lib("x", "local x = 1"), "ERR No functions registered"),
                (lib("x", ""), "ERR No functions registered"),
                (lib("lib-2", fn), names),
                ("#!lua name=\n" + fn, names),
                (lib("x", "redis.register_function('g-1', function() return 1 end)"),
                 reg + names),
                ("#!lua name=x foo=bar\n" + fn, "ERR Invalid metadata value given: foo=bar"),
                ("#!lua name=x name=y\n" + fn,
                 "ERR Invalid metadata value, name argument was given multiple times"),
                (lib("x", fn + "\n" + fn), reg + "ERR Function already exists in the library"),
                (lib("x", "return +"),
                 "ERR Error compiling function: user_function:2: unexpected symbol near '+'"),
                (lib("x", "redis.register_function('h')"),
                 reg + "ERR calling redis.register_function with a single argument is only "
                       "applicable to Lua table (representing named arguments)."),
                (lib("x", "redis.register_function('h', 1)"),
                 reg + "ERR second argument to redis.register_function must be a function"),
                (lib("x", "redis.register_function{function_name='h', callback=function() end,"
                          " flags={'bad-flag'}}"), reg + "ERR unknown flag given"),
                (lib("x", "redis.register_function{function_name='h', callback=function() end,"
                          " foo=1}"),
                 reg + "ERR unknown argument given to redis.register_function"),
                (lib("x", "redis.register_function{callback=function() end}"),
                 reg + "ERR redis.register_function must get a function name argument"),
                (lib("x", "redis.register_function{function_name='h'}"),
                 reg + "ERR redis.register_function must get a callback argument"),
                (lib("x", "redis.register_function{function_name='h', callback=function() end,"
                          " flags='no-writes'}"),
                 reg + "ERR flags argument to redis.register_function must be a table "
                       "representing function flags"),
                (lib("x", "x = 1"),
                 reg + "ERR user_function:2: Attempt to modify a readonly table")):
            with self.subTest(code=code):
                self.assertEqual(c.command_raw("FUNCTION", "LOAD", code), err(msg))
        # nothing of the failed loads was kept
        self.assertEqual([lib_[1] for lib_ in c.command("FUNCTION", "LIST")], [b"taken"])
        self.assertEqual(c.command_raw("FUNCTION", "LOAD"),
                         err("ERR wrong number of arguments for 'function|load' command"))
        self.assertEqual(c.command_raw("FUNCTION", "LOAD", "REPLACE"),
                         err("ERR Missing library metadata"))
        self.assertEqual(c.command_raw("FUNCTION", "LOAD", "bad", "x"),
                         err("ERR Unknown option given: bad"))

    def test_load_time_restrictions(self):
        """While a library loads, the only global is redis, with register_function, log, the
        LOG_* levels and the version: no redis.call, no string, no type()."""
        c = self.client()
        reg = "ERR Error registering functions: ERR user_function:2: "
        for stmt, name in (("redis.call('ping')", "call"), ("redis.pcall('ping')", "pcall"),
                           ("local v = redis.sha1hex('a')", "sha1hex"),
                           ("redis.setresp(3)", "setresp"),
                           ("local v = redis.REPL_ALL", "REPL_ALL"),
                           ("error('boom')", "error"), ("local v = type(1)", "type"),
                           ("local v = string.upper('x')", "string"),
                           ("local v = cjson", "cjson"),
                           ("local v = KEYS", "KEYS"), ("local v = _G", "_G"),
                           ("for k in pairs({}) do end", "pairs")):
            with self.subTest(stmt=stmt):
                code = lib("x", stmt + "\nredis.register_function('f', function() return 1 end)")
                self.assertEqual(c.command_raw("FUNCTION", "LOAD", code),
                                 err(reg + nonexistent(name).decode()))
        self.assertEqual(c.command_raw("FUNCTION", "LOAD", lib("x", "redis.math = 1\n" + (
            "redis.register_function('f', function() return 1 end)"))),
            err(reg + READONLY_TABLE.decode()))
        # what is there at load time; the function body has everything
        code = lib("ok", """local t = {redis.REDIS_VERSION_NUM, redis.LOG_NOTICE,
           redis.REDIS_VERSION}
redis.log(redis.LOG_NOTICE, 'loading')
redis.register_function('fv', function(keys)
  return {t[1] == redis.REDIS_VERSION_NUM, t[2], t[3] == redis.REDIS_VERSION,
          redis.sha1hex(''), cjson.encode({1}), redis.call('exists', keys[1])}
end)""")
        self.assertEqual(self.load(c, code), b"ok")
        self.assertEqual(c.command("FCALL", "fv", "1", "nokey"),
                         [1, 2, 1, sha1("").encode(), b"[1]", 0])

    def test_flags_and_fcall_ro(self):
        c = self.client()
        code = lib("fl", """
redis.register_function('w', function(keys) return redis.call('set', keys[1], 'v') end)
redis.register_function{function_name='r', callback=function(keys)
  return redis.call('get', keys[1]) end, flags={'no-writes'}}
redis.register_function{function_name='rw', callback=function(keys)
  return redis.call('set', keys[1], 'x') end, flags={'no-writes'}}
redis.register_function{function_name='all', callback=function() return 1 end,
  flags={'allow-cross-slot-keys', 'no-cluster', 'allow-stale', 'allow-oom', 'no-writes'},
  description='every flag'}""")
        self.assertEqual(self.load(c, code), b"fl")
        self.assertEqual(c.command("FCALL", "w", "1", "fk"), b"OK")
        self.assertEqual(c.command("FCALL_RO", "r", "1", "fk"), b"v")
        self.assertEqual(c.command("FCALL", "r", "1", "fk"), b"v")
        self.assertEqual(c.command_raw("FCALL_RO", "w", "1", "fk"), err(RO_FLAG))
        # a no-writes function that writes anyway fails at the write, FCALL or FCALL_RO
        for cmd in ("FCALL", "FCALL_RO"):
            self.assertEqual(c.command_raw(cmd, "rw", "1", "fk"),
                             err(in_function(RO_WRITE, "rw", 7)))
        self.assertEqual(c.command("GET", "fk"), b"v")
        self.assertEqual(c.command("FCALL_RO", "all", "0"), 1)
        # flags are listed in Redis's own order, whatever order they were given in
        lst = function_list(c.command("FUNCTION", "LIST", "LIBRARYNAME", "fl"))
        fns = lst[b"fl"][b"functions"]
        self.assertEqual(fns[b"all"][b"flags"], [b"no-writes", b"allow-oom", b"allow-stale",
                                                 b"no-cluster", b"allow-cross-slot-keys"])
        self.assertEqual(fns[b"all"][b"description"], b"every flag")
        self.assertEqual(fns[b"r"][b"flags"], [b"no-writes"])
        self.assertEqual(fns[b"w"][b"flags"], [])
        self.assertIsNone(fns[b"w"][b"description"])

    def test_fcall_errors(self):
        c = self.client()
        self.load(c, lib("e", "redis.register_function('fe', function() return 'e' end)"))
        for cmd in ("FCALL", "FCALL_RO"):
            with self.subTest(cmd=cmd):
                self.assertEqual(c.command_raw(cmd, "nosuch", "0"), err("ERR Function not found"))
                self.assertEqual(c.command_raw(cmd, "fe", "-1"),
                                 err("ERR Number of keys can't be negative"))
                self.assertEqual(c.command_raw(cmd, "fe", "1"),
                                 err("ERR Number of keys can't be greater than number of args"))
                # not EVAL's text
                self.assertEqual(c.command_raw(cmd, "fe", "x"),
                                 err("ERR Bad number of keys provided"))
                self.assertEqual(c.command_raw(cmd, "fe"),
                                 err(f"ERR wrong number of arguments for '{cmd.lower()}' "
                                     "command"))

    def test_runtime_errors(self):
        c = self.client()
        code = lib("errs", """redis.register_function('incr', function(keys)
  return redis.call('incr', keys[1]) end)
redis.register_function('raise', function() error('oops') end)
redis.register_function('raiset', function() error({err='MINE bad'}) end)
redis.register_function('nilidx', function() local x
return x.y end)
redis.register_function('glob', function() return os end)
redis.register_function('setg', function() x = 1 end)
redis.register_function('pc', function(keys) return redis.pcall('incr', keys[1]) end)
redis.register_function('notallowed', function() return redis.call('multi') end)""")
        self.assertEqual(self.load(c, code), b"errs")
        c.command("SET", "s", "abc")
        self.assertEqual(c.command_raw("FCALL", "incr", "1", "s"),
                         err(in_function(NOT_INT, "incr", 3)))
        self.assertEqual(c.command_raw("FCALL", "raise", "0"),
                         err(in_function("ERR user_function:4: oops", "raise", 4)))
        self.assertEqual(c.command_raw("FCALL", "raiset", "0"),
                         err(in_function("MINE bad", "raiset", 5)))
        self.assertEqual(c.command_raw("FCALL", "nilidx", "0"),
                         err(in_function("ERR user_function:7: attempt to index local 'x' "
                                         "(a nil value)", "nilidx", 7)))
        self.assertEqual(c.command_raw("FCALL", "glob", "0"),
                         err(in_function(b"ERR user_function:8: " + nonexistent("os"), "glob",
                                         8)))
        self.assertEqual(c.command_raw("FCALL", "setg", "0"),
                         err(in_function(b"ERR user_function:9: " + READONLY_TABLE, "setg", 9)))
        self.assertEqual(c.command_raw("FCALL", "pc", "1", "s"), err(NOT_INT))
        self.assertEqual(c.command_raw("FCALL", "notallowed", "0"),
                         err(in_function(NOT_ALLOWED, "notallowed", 11)))

    def test_no_keys_global_in_functions(self):
        """KEYS and ARGV are an EVAL's: a function that reads them after one gets the
        nonexistent-global error, not the script's keys."""
        c = self.client()
        self.assertEqual(self.eval(c, "return KEYS[1]", ["k"]), b"k")
        self.load(c, lib("kx", "redis.register_function('kx', function() return KEYS end)"))
        self.assertEqual(c.command_raw("FCALL", "kx", "0"),
                         err(in_function(b"ERR user_function:2: " + nonexistent("KEYS"), "kx", 2)))

    def test_library_state_persists_between_calls(self):
        """A library's local variables live as long as the library: each call sees what the
        previous one left; reloading the library starts afresh."""
        c = self.client()
        code = lib("cnt", "local n = 0\n"
                          "redis.register_function('bump', function() n = n + 1 return n end)\n"
                          "redis.register_function('peek', function() return n end)")
        self.assertEqual(self.load(c, code), b"cnt")
        self.assertEqual([c.command("FCALL", "bump", "0") for _ in range(3)], [1, 2, 3])
        # the same connection: Redis shares the state with every connection, Pollux with
        # those of the same worker (each worker has its own Lua state; docs/scripting.md)
        self.assertEqual(c.command("FCALL", "peek", "0"), 3)
        self.assertEqual(self.load(c, "REPLACE", code), b"cnt")
        self.assertEqual(c.command("FCALL", "bump", "0"), 1)

    def test_function_list(self):
        c = self.client()
        one = lib("alpha", "redis.register_function('fa1', function() return 1 end)")
        self.load(c, one)
        self.load(c, lib("alpine", "redis.register_function('fa2', function() return 1 end)"))
        self.load(c, lib("beta", "redis.register_function{function_name='fb1', callback="
                                 "function() return 1 end, flags={'no-writes'}, description="
                                 "'b one'}\nredis.register_function('fb2', function() end)"))
        entry = (b"*6\r\n$12\r\nlibrary_name\r\n$5\r\nalpha\r\n$6\r\nengine\r\n$3\r\nLUA\r\n"
                 b"$9\r\nfunctions\r\n*1\r\n*6\r\n$4\r\nname\r\n$3\r\nfa1\r\n"
                 b"$11\r\ndescription\r\n$-1\r\n$5\r\nflags\r\n*0\r\n")
        self.assertEqual(c.command_raw("FUNCTION", "LIST", "LIBRARYNAME", "alpha"),
                         b"*1\r\n" + entry)
        # WITHCODE adds library_code after the functions
        self.assertEqual(c.command_raw("FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "alpha"),
                         b"*1\r\n*8" + entry[2:] + b"$12\r\nlibrary_code\r\n" + bulk(one))
        self.assertEqual(
            self.client(3).command_raw("function", "list", "libraryname", "alpha", "withcode"),
            b"*1\r\n%4\r\n$12\r\nlibrary_name\r\n$5\r\nalpha\r\n$6\r\nengine\r\n$3\r\nLUA\r\n"
            b"$9\r\nfunctions\r\n*1\r\n%3\r\n$4\r\nname\r\n$3\r\nfa1\r\n$11\r\ndescription\r\n"
            b"_\r\n$5\r\nflags\r\n~0\r\n$12\r\nlibrary_code\r\n" + bulk(one))
        everything = function_list(c.command("FUNCTION", "LIST"))
        self.assertEqual(sorted(everything), [b"alpha", b"alpine", b"beta"])
        self.assertEqual(everything[b"beta"][b"functions"], {
            b"fb1": {b"name": b"fb1", b"description": b"b one", b"flags": [b"no-writes"]},
            b"fb2": {b"name": b"fb2", b"description": None, b"flags": []}})
        self.assertEqual(everything[b"beta"][b"engine"], b"LUA")
        # LIBRARYNAME is a glob pattern, matched without regard to case
        for pattern, names in (("al*", [b"alpha", b"alpine"]), ("*ta", [b"beta"]),
                               ("ALPHA", [b"alpha"]), ("lph", []), ("?eta", [b"beta"]),
                               ("*", [b"alpha", b"alpine", b"beta"])):
            with self.subTest(pattern=pattern):
                got = function_list(c.command("FUNCTION", "LIST", "LIBRARYNAME", pattern))
                self.assertEqual(sorted(got), names)
        for args, msg in ((("LIBRARYNAME",), "ERR library name argument was not given"),
                          (("WITHCODE", "WITHCODE"), "ERR Unknown argument WITHCODE"),
                          (("LIBRARYNAME", "a", "LIBRARYNAME", "b"),
                           "ERR Unknown argument LIBRARYNAME"),
                          (("foo",), "ERR Unknown argument foo")):
            with self.subTest(args=args):
                self.assertEqual(c.command_raw("FUNCTION", "LIST", *args), err(msg))
        self.assertEqual(c.command("FUNCTION", "FLUSH"), b"OK")
        self.assertEqual(c.command_raw("FUNCTION", "LIST"), b"*0\r\n")

    def test_delete_and_flush(self):
        c = self.client()
        self.load(c, lib("d1", "redis.register_function('fd1', function() return 1 end)"))
        self.load(c, lib("d2", "redis.register_function('fd2', function() return 2 end)"))
        self.assertEqual(c.command_raw("FUNCTION", "DELETE", "D1"), err("ERR Library not found"))
        self.assertEqual(c.command_raw("FUNCTION", "DELETE", "d1"), b"+OK\r\n")
        self.assertEqual(c.command_raw("FCALL", "fd1", "0"), err("ERR Function not found"))
        self.assertEqual(c.command_raw("FUNCTION", "DELETE", "d1"), err("ERR Library not found"))
        self.assertEqual(c.command_raw("FUNCTION", "DELETE"),
                         err("ERR wrong number of arguments for 'function|delete' command"))
        # neither SCRIPT FLUSH nor FLUSHALL touch functions
        self.assertEqual(c.command("SCRIPT", "FLUSH"), b"OK")
        self.assertEqual(c.command("FLUSHALL"), b"OK")
        self.assertEqual(c.command("FCALL", "fd2", "0"), 2)
        for mode in ((), ("ASYNC",), ("SYNC",)):
            with self.subTest(mode=mode):
                self.load(c, lib("d3", "redis.register_function('fd3', function() return 3 end)"))
                self.assertEqual(c.command_raw("FUNCTION", "FLUSH", *mode), b"+OK\r\n")
                self.assertEqual(c.command_raw("FUNCTION", "LIST"), b"*0\r\n")
        self.assertEqual(c.command_raw("FUNCTION", "FLUSH", "bad"),
                         err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option"))
        self.assertEqual(c.command_raw("FUNCTION", "FLUSH", "SYNC", "ASYNC"),
                         err("ERR unknown subcommand or wrong number of arguments for 'FLUSH'. "
                             "Try FUNCTION HELP."))
        self.assertEqual(c.command_raw("FUNCTION", "FOO"),
                         err("ERR unknown subcommand 'FOO'. Try FUNCTION HELP."))

    def test_dump_and_restore(self):
        c = self.client()
        a = lib("a", "redis.register_function('fa', function() return 'a' end)")
        self.load(c, a)
        payload = c.command("FUNCTION", "DUMP")
        self.assertIsInstance(payload, bytes)
        # default policy APPEND: refused while the library exists
        for policy in ((), ("APPEND",)):
            self.assertEqual(c.command_raw("FUNCTION", "RESTORE", payload, *policy),
                             err("ERR Library a already exists"))
        self.assertEqual(c.command_raw("FUNCTION", "RESTORE", payload, "REPLACE"), b"+OK\r\n")
        # FLUSH: everything else goes
        self.load(c, lib("b", "redis.register_function('fb', function() return 'b' end)"))
        self.assertEqual(c.command_raw("FUNCTION", "RESTORE", payload, "FLUSH"), b"+OK\r\n")
        self.assertEqual(c.command("FCALL", "fa", "0"), b"a")
        self.assertEqual(c.command_raw("FCALL", "fb", "0"), err("ERR Function not found"))
        # APPEND into an empty server
        c.command("FUNCTION", "FLUSH")
        self.assertEqual(c.command_raw("FUNCTION", "RESTORE", payload), b"+OK\r\n")
        self.assertEqual(c.command("FUNCTION", "LIST", "WITHCODE")[0][-1], a.encode())
        # REPLACE replaces libraries of the same name only: a function of another library
        # with the same name is a conflict, and nothing changes
        c.command("FUNCTION", "DELETE", "a")
        self.load(c, lib("c", "redis.register_function('fa', function() return 'c' end)"))
        for policy in ((), ("APPEND",), ("REPLACE",)):
            self.assertEqual(c.command_raw("FUNCTION", "RESTORE", payload, *policy),
                             err("ERR Function fa already exists"))
        self.assertEqual(c.command("FCALL", "fa", "0"), b"c")
        self.assertEqual(c.command_raw("FUNCTION", "RESTORE", payload, "flush"), b"+OK\r\n")
        self.assertEqual(c.command("FCALL", "fa", "0"), b"a")
        # errors
        self.assertEqual(c.command_raw("FUNCTION", "RESTORE", payload, "bad"),
                         err("ERR Wrong restore policy given, value should be either FLUSH, "
                             "APPEND or REPLACE."))
        for bad in (b"garbage", payload[:-1], payload[:-2] + bytes([payload[-2] ^ 1]) +
                    payload[-1:]):
            self.assertEqual(c.command_raw("FUNCTION", "RESTORE", bad),
                             err("ERR DUMP payload version or checksum are wrong"))
        self.assertEqual(c.command_raw("FUNCTION", "RESTORE", payload, "FLUSH", "APPEND"),
                         err("ERR unknown subcommand or wrong number of arguments for "
                             "'RESTORE'. Try FUNCTION HELP."))
        self.assertEqual(c.command_raw("FUNCTION", "DUMP", "x"),
                         err("ERR wrong number of arguments for 'function|dump' command"))
        self.assertEqual(c.command("FCALL", "fa", "0"), b"a", "failed restores changed nothing")
        # the dump of no libraries restores as nothing
        c.command("FUNCTION", "FLUSH")
        empty = c.command("FUNCTION", "DUMP")
        self.load(c, a)
        self.assertEqual(c.command_raw("FUNCTION", "RESTORE", empty, "FLUSH"), b"+OK\r\n")
        self.assertEqual(c.command_raw("FUNCTION", "LIST"), b"*0\r\n")

    # FUNCTION DUMP payloads made by redis-server 7.0.15: one stored plainly, one LZF
    # compressed.
    REDIS_PAYLOADS = (
        (b"\xf5@E#!lua name=a\nredis.register_function('fa', function() return 'a' end)\n"
         b"\x00\x9eA`\xf6\xf4\x8b@\x86", "fa", b"a"),
        (b"\xf5\xc3@X@^\x14#!lua name=fromredis\n`\x05\x18.register_function('fr', "
         b"\xe0\x00\x0e\x18keys, args) return 'resto ?\x05' end)\n\x00\xa0n\xb35\xe3\x8c\td",
         "fr", b"restored"),
    )

    def test_restore_payload_from_redis(self):
        c = self.client()
        for payload, fn, result in self.REDIS_PAYLOADS:
            with self.subTest(fn=fn):
                self.assertEqual(c.command_raw("FUNCTION", "RESTORE", payload, "FLUSH"),
                                 b"+OK\r\n")
                self.assertEqual(c.command("FCALL", fn, "0"), result)
        # and what the server dumps restores after a flush
        payload = c.command("FUNCTION", "DUMP")
        c.command("FUNCTION", "FLUSH")
        self.assertEqual(c.command("FUNCTION", "RESTORE", payload), b"OK")
        self.assertEqual(c.command("FCALL", "fr", "0"), b"restored")

    def test_stats_idle(self):
        c = self.client()
        self.assertEqual(c.command_raw("FUNCTION", "STATS"),
                         b"*4\r\n$14\r\nrunning_script\r\n$-1\r\n$7\r\nengines\r\n*2\r\n"
                         b"$3\r\nLUA\r\n*4\r\n$15\r\nlibraries_count\r\n:0\r\n"
                         b"$15\r\nfunctions_count\r\n:0\r\n")
        self.load(c, lib("s1", "redis.register_function('s1a', function() end)\n"
                               "redis.register_function('s1b', function() end)"))
        self.load(c, lib("s2", "redis.register_function('s2a', function() end)"))
        self.assertEqual(self.client(3).command_raw("FUNCTION", "STATS"),
                         b"%2\r\n$14\r\nrunning_script\r\n_\r\n$7\r\nengines\r\n%1\r\n"
                         b"$3\r\nLUA\r\n%2\r\n$15\r\nlibraries_count\r\n:2\r\n"
                         b"$15\r\nfunctions_count\r\n:3\r\n")
        self.assertEqual(c.command_raw("FUNCTION", "STATS", "x"),
                         err("ERR wrong number of arguments for 'function|stats' command"))


# ---------------------------------------------------------------------------
# Replication and persistence
# ---------------------------------------------------------------------------

class Replicated(h.unittest.TestCase):
    """Scripts replicate by their effects, functions as commands and in the full sync's RDB;
    a dump file keeps the libraries."""

    def wait_for(self, rep, pred):
        self.assertTrue(h.wait_until(pred, 30), "the replica never caught up")

    def test_effects_functions_and_full_sync(self):
        args = ["--save", "", "--repl-diskless-sync-delay", "0"] + list(workers())
        p = h.Server(args=args).start()
        try:
            c = p.raw()
            # a library loaded before the replica exists reaches it in the full sync's RDB
            self.assertEqual(c.command("FUNCTION", "LOAD", lib("before", """
redis.register_function{function_name='rd', callback=function(keys)
  return redis.call('get', keys[1]) end, flags={'no-writes'}}""")), b"before")
            rep = h.Server(args=["--save", ""] + list(workers()) +
                           ["--replicaof", h.HOST, str(p.port)]).start()
            try:
                r = rep.raw()
                self.assertTrue(h.wait_until(lambda: h.replica_synced(rep.redis()), 30))
                self.assertEqual(r.command("FCALL_RO", "rd", "1", "nokey"), None)
                # effects: the writes, not the script (a random value: the replica agrees)
                script = ("local v = tostring(math.random()) .. redis.call('time')[2]\n"
                          "redis.call('set', KEYS[1], v)\n"
                          "redis.call('rpush', KEYS[2], v, 'x')\n"
                          "redis.call('hset', KEYS[3], 'f', v)\nreturn v")
                v = c.command("EVAL", script, "3", "s", "l", "h")
                self.wait_for(rep, lambda: r.command("GET", "s") == v)
                self.assertEqual(r.command("LRANGE", "l", "0", "-1"), [v, b"x"])
                self.assertEqual(r.command("HGET", "h", "f"), v)
                # functions replicate as commands, writes included
                self.assertEqual(c.command("FUNCTION", "LOAD", lib("after", """
redis.register_function('wr', function(keys, args)
  return redis.call('incrby', keys[1], args[1]) end)""")), b"after")
                self.assertEqual(c.command("FCALL", "wr", "1", "n", "5"), 5)
                self.wait_for(rep, lambda: r.command("GET", "n") == b"5")
                self.assertEqual(r.command("FCALL_RO", "rd", "1", "n"), b"5")
                # a replica refuses a script's write, and FUNCTION LOAD
                self.assertEqual(r.command_raw("EVAL", "return redis.call('set', KEYS[1], 1)",
                                               "1", "s"),
                                 err(in_script(b"READONLY You can't write against a read "
                                               b"only replica.",
                                               "return redis.call('set', KEYS[1], 1)", 1)))
                self.assertEqual(r.command_raw("FUNCTION", "FLUSH"),
                                 err("READONLY You can't write against a read only replica."))
                self.assertEqual(c.command("FUNCTION", "DELETE", "after"), b"OK")
                self.wait_for(rep, lambda: r.command_raw("FCALL", "wr", "1", "n", "1") ==
                              err("ERR Function not found"))
            finally:
                rep.stop()
        finally:
            p.stop()

    def test_dump_file_keeps_libraries(self):
        workdir = tempfile.mkdtemp(prefix="pollux-it-")
        self.addCleanup(shutil.rmtree, workdir, True)
        srv = h.Server(args=["--save", ""] + list(workers()), workdir=workdir).start()
        try:
            c = srv.raw()
            code = lib("kept", "redis.register_function('k', function() return 'still here' "
                               "end)")
            self.assertEqual(c.command("FUNCTION", "LOAD", code), b"kept")
            self.assertEqual(c.command("SAVE"), b"OK")
            c.close()
            srv.stop()
            srv.start()
            c = srv.raw()
            self.assertEqual(c.command("FCALL", "k", "0"), b"still here")
            self.assertEqual(c.command("FUNCTION", "LIST", "WITHCODE")[0][-1], code.encode())
            c.close()
        finally:
            srv.stop()


# ---------------------------------------------------------------------------
# BUSY, SCRIPT KILL, FUNCTION KILL
# ---------------------------------------------------------------------------

# Loops until ARGV[1] seconds passed by the server's clock (TIME).
SPIN = """local function now() local t = redis.call('time') return t[1] * 1000000 + t[2] end
local start = now()
while now() - start < tonumber(ARGV[1]) * 1000000 do end
return 'done'"""
WRITE_SPIN = "redis.call('set', KEYS[1], 'written')\n" + SPIN


class Busy(ScriptCase):

    def setUp(self):
        super().setUp()
        c = self.client()
        self.assertEqual(c.command("CONFIG", "SET", "busy-reply-threshold", "100"), b"OK")
        self.threads = []
        self.addCleanup(self.join_all)

    def join_all(self):
        """After a failure, do not leave a script running into the next test."""
        if any(t.is_alive() for t in self.threads):
            with self.server.raw() as c:
                c.command("SCRIPT", "KILL")
                c.command("FUNCTION", "KILL")
        for t in self.threads:
            t.join(30)

    def start(self, *cmd):
        """Send cmd from a client of its own, on a thread; returns (thread, result list)."""
        result = []
        c = self.server.raw(timeout=60)
        self.addCleanup(c.close)

        def run():
            try:
                result.append(c.command_raw(*cmd))
            except Exception as e:  # checked by the test
                result.append(e)

        t = threading.Thread(target=run)
        t.start()
        self.threads.append(t)
        return t, result

    def wait_busy(self, c, expected, thread, timeout=10):
        """Send GETs from c until one answers BUSY (the script has run past the threshold)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            raw = c.command_raw("GET", "other")
            if raw.startswith(b"-BUSY"):
                self.assertEqual(raw, err(expected))
                return
            self.assertTrue(thread.is_alive(), "the script ended before the server was busy")
            time.sleep(0.005)
        self.fail("the server never answered BUSY")

    def test_config_alias(self):
        c = self.client()
        self.assertEqual(c.command("CONFIG", "GET", "lua-time-limit"), [b"lua-time-limit", b"100"])
        self.assertEqual(c.command("CONFIG", "SET", "lua-time-limit", "250"), b"OK")
        self.assertEqual(c.command("CONFIG", "GET", "busy-reply-threshold"),
                         [b"busy-reply-threshold", b"250"])

    def test_idle_kill(self):
        c = self.client()
        self.assertEqual(c.command_raw("SCRIPT", "KILL"), err(NOTBUSY))
        self.assertEqual(c.command_raw("FUNCTION", "KILL"), err(NOTBUSY))
        self.assertEqual(c.command_raw("FUNCTION", "KILL", "x"),
                         err("ERR wrong number of arguments for 'function|kill' command"))
        # a script shorter than the threshold never makes anyone busy
        self.assertEqual(self.eval(c, SPIN, ["k"], ["0.02"]), b"done")

    def test_script_kill(self):
        t, result = self.start("EVAL", SPIN, "1", "k", "20")
        o = self.client()
        self.wait_busy(o, BUSY_SCRIPT, t)
        self.assertEqual(o.command_raw("PING"), err(BUSY_SCRIPT))
        self.assertEqual(o.command_raw("EVAL", "return 1", "0"), err(BUSY_SCRIPT))
        # FUNCTION KILL does not stop an EVAL
        self.assertEqual(o.command_raw("FUNCTION", "KILL"), err(BUSY_SCRIPT))
        self.assertEqual(o.command_raw("SCRIPT", "KILL"), b"+OK\r\n")
        t.join(10)
        self.assertFalse(t.is_alive())
        self.assertRegex(result[0], re.escape(b"-ERR Script killed by user with SCRIPT KILL... "
                                              b"script: " + sha1(SPIN).encode()
                                              + b", on @user_script:") + rb"[1-4]\.\r\n$")
        self.assertEqual(o.command_raw("PING"), b"+PONG\r\n")
        self.assertEqual(o.command_raw("SCRIPT", "KILL"), err(NOTBUSY))

    def test_script_that_wrote_is_unkillable(self):
        t, result = self.start("EVAL", WRITE_SPIN, "1", "wk", "1.5")
        o = self.client()
        self.wait_busy(o, BUSY_SCRIPT, t)
        self.assertEqual(o.command_raw("SCRIPT", "KILL"), err(UNKILLABLE))
        self.assertEqual(o.command_raw("GET", "wk"), err(BUSY_SCRIPT))
        t.join(30)
        self.assertEqual(result, [bulk("done")])
        self.assertEqual(o.command("GET", "wk"), b"written")

    def test_function_kill(self):
        c = self.client()
        code = lib("busy", "redis.register_function('spin', function(KEYS, ARGV)\n" + SPIN
                   + "\nend)\nredis.register_function('wspin', function(KEYS, ARGV)\n"
                   + WRITE_SPIN + "\nend)")
        self.assertEqual(c.command("FUNCTION", "LOAD", code), b"busy")
        t, result = self.start("FCALL", "spin", "1", "k", "20")
        o = self.client()
        self.wait_busy(o, BUSY_FUNCTION, t)
        # FUNCTION STATS answers while a function runs, and shows it
        stats = o.command("FUNCTION", "STATS")
        self.assertEqual(stats[0], b"running_script")
        running = stats[1]
        self.assertEqual(running[:4], [b"name", b"spin", b"command",
                                       [b"FCALL", b"spin", b"1", b"k", b"20"]])
        self.assertEqual(running[4], b"duration_ms")
        self.assertGreaterEqual(running[5], 100)
        self.assertEqual(stats[2:], [b"engines", [b"LUA", [b"libraries_count", 1,
                                                          b"functions_count", 2]]])
        # SCRIPT KILL does not stop a function
        self.assertEqual(o.command_raw("SCRIPT", "KILL"), err(BUSY_FUNCTION))
        self.assertEqual(o.command_raw("FUNCTION", "KILL"), b"+OK\r\n")
        t.join(10)
        self.assertFalse(t.is_alive())
        self.assertRegex(result[0], re.escape(b"-ERR Script killed by user with SCRIPT KILL... "
                                              b"script: spin, on @user_function:")
                         + rb"[3-6]\.\r\n$")
        self.assertEqual(o.command_raw("FUNCTION", "KILL"), err(NOTBUSY))
        self.assertIsNone(o.command("FUNCTION", "STATS")[1])
        # a function that wrote cannot be killed
        t, result = self.start("FCALL", "wspin", "1", "wk", "1.5")
        self.wait_busy(o, BUSY_FUNCTION, t)
        self.assertEqual(o.command_raw("FUNCTION", "KILL"), err(UNKILLABLE))
        t.join(30)
        self.assertEqual(result, [bulk("done")])
        self.assertEqual(o.command("GET", "wk"), b"written")

    def test_busy_during_eval_stats(self):
        """FUNCTION STATS is refused while an EVAL (not a function) runs."""
        t, result = self.start("EVAL", SPIN, "1", "k", "20")
        o = self.client()
        self.wait_busy(o, BUSY_SCRIPT, t)
        self.assertEqual(o.command_raw("FUNCTION", "STATS"), err(BUSY_SCRIPT))
        self.assertEqual(o.command_raw("SCRIPT", "KILL"), b"+OK\r\n")
        t.join(10)
        self.assertTrue(result[0].startswith(b"-ERR Script killed by user with SCRIPT KILL..."))


# ---------------------------------------------------------------------------
# redis-py
# ---------------------------------------------------------------------------

class RedisPy(ScriptCase):

    def test_register_script(self):
        r = self.r
        script = r.register_script("redis.call('hset', KEYS[1], ARGV[1], ARGV[2])\n"
                                   "return redis.call('hgetall', KEYS[1])")
        self.assertEqual(script.sha, sha1(script.script))
        self.assertEqual(r.script_exists(script.sha), [False])
        # NOSCRIPT first: redis-py loads it and retries EVALSHA
        self.assertEqual(script(keys=["rh"], args=["f", "v"]), [b"f", b"v"])
        self.assertEqual(r.script_exists(script.sha), [True])
        self.assertEqual(script(keys=["rh"], args=["g", 2]), [b"f", b"v", b"g", b"2"])
        r.script_flush()
        self.assertEqual(script(keys=["rh"], args=["h", "x"])[-2:], [b"h", b"x"])
        # in a pipeline, with and without MULTI
        r.script_flush()
        for transaction in (False, True):
            with self.subTest(transaction=transaction):
                p = r.pipeline(transaction=transaction)
                script(keys=["rp"], args=["a", "1"], client=p)
                p.hlen("rp")
                script(keys=["rp"], args=["b", "2"], client=p)
                got = p.execute()
                self.assertEqual(got[1], 1)
                self.assertEqual(dict(zip(got[2][::2], got[2][1::2])), {b"a": b"1", b"b": b"2"})
                r.delete("rp")
        # a script without keys or args
        self.assertEqual(r.register_script("return 'plain'")(), b"plain")

    def test_eval_helpers_and_errors(self):
        r = self.r
        self.assertEqual(r.eval("return {KEYS[1], ARGV[1]}", 1, "k", "a"), [b"k", b"a"])
        sha = r.script_load("return redis.call('incrby', KEYS[1], ARGV[1])")
        self.assertEqual(r.evalsha(sha, 1, "n", 5), 5)
        self.assertEqual(r.evalsha_ro(r.script_load("return redis.call('get', KEYS[1])"), 1,
                                      "n"), b"5")
        self.assertEqual(r.eval_ro("return redis.call('get', KEYS[1])", 1, "n"), b"5")
        with self.assertRaises(redis.exceptions.NoScriptError) as cm:
            r.evalsha("f" * 40, 0)
        self.assertEqual(str(cm.exception), "No matching script. Please use EVAL.")
        with self.assertRaises(redis.exceptions.ResponseError) as cm:
            r.eval("return +", 0)
        self.assertEqual(str(cm.exception), "Error compiling script (new function): "
                                            "user_script:1: unexpected symbol near '+'")
        with self.assertRaises(redis.exceptions.ResponseError) as cm:
            r.eval_ro("return redis.call('del', KEYS[1])", 1, "n")
        self.assertEqual(str(cm.exception),
                         in_script(RO_WRITE, "return redis.call('del', KEYS[1])", 1)
                         .decode()[len("ERR "):])
        # an error code other than ERR keeps its own exception class
        self.assertRaises(redis.exceptions.ResponseError, r.eval,
                          "return redis.error_reply('MYCODE x')", 0)
        self.assertEqual(r.script_flush("ASYNC"), True)
        self.assertEqual(r.script_exists(sha), [False])
        self.assertRaises(redis.exceptions.ResponseError, r.script_kill)

    def test_function_helpers(self):
        r = self.r
        code = lib("py", "redis.register_function('pyf', function(keys, args)\n"
                         "  return redis.call('set', keys[1], args[1]) end)\n"
                         "redis.register_function{function_name='pyr', callback="
                         "function(keys) return redis.call('get', keys[1]) end, "
                         "flags={'no-writes'}}")
        self.assertEqual(r.function_load(code), b"py")
        self.assertRaises(redis.exceptions.ResponseError, r.function_load, code)
        self.assertEqual(r.function_load(code, replace=True), b"py")
        self.assertEqual(r.fcall("pyf", 1, "pk", "pv"), b"OK")
        self.assertEqual(r.fcall_ro("pyr", 1, "pk"), b"pv")
        with self.assertRaises(redis.exceptions.ResponseError) as cm:
            r.fcall_ro("pyf", 1, "pk", "x")
        self.assertEqual(str(cm.exception),
                         "Can not execute a script with write flag using *_ro command.")
        listed = function_list(r.function_list(library="p*"))
        self.assertEqual(sorted(listed[b"py"][b"functions"]), [b"pyf", b"pyr"])
        self.assertEqual(r.function_list(withcode=True)[0][-1], code.encode())
        payload = r.function_dump()
        self.assertTrue(r.function_flush())
        self.assertEqual(r.function_list(), [])
        self.assertTrue(r.function_restore(payload))
        self.assertEqual(r.fcall("pyr", 1, "pk"), b"pv")
        self.assertTrue(r.function_delete("py"))
        self.assertEqual(r.function_stats()[:2], [b"running_script", None])


if __name__ == "__main__":
    h.main()
