#!/usr/bin/env python3
"""redis-cli against the server: one-shot commands, --pipe mass insertion,
RESP3 (-3), --stat, --scan and -e exit codes."""

import os
import pty
import random
import re
import signal
import subprocess
import time

import harness as h


class Cli(h.ServerTestCase):

    def cli(self, *args, input=None, check=True):
        argv = [h.Config.tool("redis-cli"), "-h", h.HOST, "-p", str(self.server.port)]
        argv += [str(a) for a in args]
        res = h.run_tool(argv, input=input, timeout=120)
        if check:
            self.assertEqual(res.returncode, 0,
                             f"{argv} -> {res.returncode}\n{res.stdout!r}\n{res.stderr!r}")
        return res

    def out(self, *args, **kw):
        return self.cli(*args, **kw).stdout.decode()

    # -- one-shot commands ----------------------------------------------------

    def test_basic_commands(self):
        self.assertEqual(self.out("PING"), "PONG\n")
        self.assertEqual(self.out("SET", "foo", "bar"), "OK\n")
        self.assertEqual(self.out("GET", "foo"), "bar\n")
        self.assertEqual(self.out("GET", "missing"), "\n")
        self.assertEqual(self.out("INCR", "counter"), "1\n")
        self.assertEqual(self.out("INCRBY", "counter", "41"), "42\n")
        self.assertEqual(self.out("MSET", "a", "1", "b", "2"), "OK\n")
        self.assertEqual(self.out("MGET", "a", "missing", "b"), "1\n\n2\n")
        self.assertEqual(self.out("EXISTS", "a", "b", "missing"), "2\n")
        self.assertEqual(self.out("DEL", "a", "b"), "2\n")
        self.assertEqual(self.out("DBSIZE"), "2\n")
        self.assertEqual(self.out("ECHO", "hello world"), "hello world\n")
        self.assertEqual(self.r.get("foo"), b"bar")

    def test_formatted_output(self):
        self.assertEqual(self.out("--no-raw", "SET", "k", "v"), "OK\n")
        self.assertEqual(self.out("--no-raw", "GET", "k"), '"v"\n')
        self.assertEqual(self.out("--no-raw", "GET", "missing"), "(nil)\n")
        self.assertEqual(self.out("--no-raw", "APPEND", "k", "w"), "(integer) 2\n")
        self.assertEqual(self.out("--no-raw", "MGET", "k", "missing"), '1) "vw"\n2) (nil)\n')
        self.assertEqual(self.out("--no-raw", "KEYS", "nothing*"), "(empty array)\n")
        self.assertEqual(self.out("--no-raw", "INCR", "k"),
                         "(error) ERR value is not an integer or out of range\n")

    def test_stdin_argument_and_db_select(self):
        payload = b"line one\nline two \x00\xff end"
        self.assertEqual(self.cli("-x", "SET", "blob", input=payload).stdout, b"OK\n")
        self.assertEqual(self.r.get("blob"), payload)
        self.assertEqual(self.out("-n", "3", "SET", "in3", "x"), "OK\n")
        self.assertEqual(self.out("-n", "3", "DBSIZE"), "1\n")
        self.assertEqual(self.out("GET", "in3"), "\n")
        self.assertEqual(self.server.redis(db=3).get("in3"), b"x")

    # -- --pipe ---------------------------------------------------------------

    def test_pipe_mass_insertion(self):
        n = 100000
        stream = b"".join(h.encode_command("SET", f"pipe:{i}", f"value-{i}") for i in range(n))
        res = self.cli("--pipe", input=stream)
        text = res.stdout.decode() + res.stderr.decode()
        self.assertIn("All data transferred", text)
        self.assertRegex(text, rf"errors: 0, replies: {n}\b")
        self.assertEqual(self.r.dbsize(), n)
        rnd = random.Random(7)
        picks = [rnd.randrange(n) for _ in range(200)] + [0, n - 1]
        values = self.r.mget([f"pipe:{i}" for i in picks])
        self.assertEqual(values, [f"value-{i}".encode() for i in picks])

    def test_pipe_reports_errors(self):
        stream = (h.encode_command("SET", "p", "abc") + h.encode_command("INCR", "p")
                  + h.encode_command("GET", "p"))
        res = self.cli("--pipe", input=stream, check=False)
        self.assertEqual(res.returncode, 1, "--pipe exits 1 when a reply was an error")
        text = res.stdout.decode() + res.stderr.decode()
        self.assertIn("ERR value is not an integer or out of range", text)
        self.assertRegex(text, r"errors: 1, replies: 3\b")

    # -- RESP3 ----------------------------------------------------------------

    def test_resp3_hello(self):
        lines = self.out("-3", "--no-raw", "HELLO", "3").splitlines()
        self.assertEqual(len(lines), 7, lines)
        names = []
        for i, line in enumerate(lines, 1):
            m = re.fullmatch(r'(\d+)# "([a-z]+)" => (.*)', line)
            self.assertIsNotNone(m, line)
            self.assertEqual(int(m.group(1)), i)
            names.append(m.group(2))
            value = m.group(3)
            if m.group(2) in ("proto",):
                self.assertEqual(value, "(integer) 3")
            elif m.group(2) == "id":
                self.assertRegex(value, r"^\(integer\) \d+$")
            elif m.group(2) == "modules":
                self.assertEqual(value, "(empty array)")
            elif m.group(2) == "mode":
                self.assertEqual(value, '"standalone"')
            elif m.group(2) == "role":
                self.assertEqual(value, '"master"')
            else:
                self.assertRegex(value, r'^".+"$')
        self.assertEqual(sorted(names),
                         sorted(["server", "version", "proto", "id", "mode", "role", "modules"]))

    def test_resp3_replies(self):
        self.r.set("k", "v")
        self.assertEqual(self.out("-3", "--no-raw", "GET", "missing"), "(nil)\n")
        self.assertEqual(self.out("-3", "--no-raw", "MGET", "k", "missing"), '1) "v"\n2) (nil)\n')
        self.assertEqual(self.out("-3", "--no-raw", "CONFIG", "GET", "maxmemory"),
                         '1# "maxmemory" => "0"\n')
        self.assertEqual(self.out("-3", "--no-raw", "INCRBYFLOAT", "f", "1.5"), '"1.5"\n')
        self.assertEqual(self.out("-3", "SET", "k2", "v2"), "OK\n")
        self.assertEqual(self.out("-3", "MGET", "k", "k2"), "v\nv2\n")

    # -- --stat ---------------------------------------------------------------

    def test_stat(self):
        keys = 137
        self.r.mset({f"stat:{i}": i for i in range(keys)})
        # A pseudo-terminal so redis-cli line-buffers; a pipe would hold the
        # output in stdio until exit, and SIGINT discards it.
        master, slave = pty.openpty()
        argv = [h.Config.tool("redis-cli"), "-h", h.HOST, "-p", str(self.server.port),
                "--stat", "-i", "0.2"]
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
        os.close(slave)
        time.sleep(1.5)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        os.close(master)
        text = b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")
        lines = [ln.rstrip() for ln in text.split("\n") if ln.strip()]
        self.assertGreaterEqual(len(lines), 4, text)
        self.assertRegex(lines[0], r"^-+ data -+ -+ load -+ - child -$")
        self.assertEqual(lines[1].split(),
                         ["keys", "mem", "clients", "blocked", "requests", "connections"])
        data = [ln for ln in lines[2:] if not ln.startswith("-")]
        self.assertGreaterEqual(len(data), 2, text)
        previous = None
        for ln in data:
            m = re.match(r"^(\d+)\s+([\d.]+[BKMGT]?)\s+(\d+)\s+(\d+)\s+(\d+) \(\+(\d+)\)\s+(\d+)",
                         ln)
            self.assertIsNotNone(m, ln)
            self.assertEqual(int(m.group(1)), keys, ln)
            self.assertGreaterEqual(int(m.group(3)), 1, ln)
            requests = int(m.group(5))
            if previous is not None:
                self.assertGreaterEqual(requests, previous)
                self.assertEqual(int(m.group(6)), requests - previous, ln)
            previous = requests

    # -- --scan ---------------------------------------------------------------

    def test_scan_pattern(self):
        wanted = {f"k:{i}" for i in range(1500)}
        others = {f"other:{i}" for i in range(500)} | {"k", "kk:1", "K:1", "ak:1"}
        with self.r.pipeline(transaction=False) as p:
            for k in wanted | others:
                p.set(k, "x")
            p.execute()
        lines = self.out("--scan", "--pattern", "k:*").splitlines()
        self.assertEqual(set(lines), wanted)
        self.assertEqual(len(lines), len(wanted), "duplicates in a scan of a static keyspace")
        every = self.out("--scan").splitlines()
        self.assertEqual(set(every), wanted | others)

    # -- -e -------------------------------------------------------------------

    def test_exit_codes(self):
        self.r.set("s", "not a number")
        ok = self.cli("-e", "GET", "s")
        self.assertEqual((ok.returncode, ok.stdout), (0, b"not a number\n"))
        bad = self.cli("-e", "INCR", "s", check=False)
        self.assertEqual(bad.returncode, 1)
        self.assertIn(b"ERR value is not an integer or out of range",
                      bad.stdout + bad.stderr)
        unknown = self.cli("-e", "NOSUCHCOMMAND", "a", check=False)
        self.assertEqual(unknown.returncode, 1)
        self.assertIn(b"ERR unknown command 'NOSUCHCOMMAND', with args beginning with: 'a'",
                      unknown.stdout + unknown.stderr)
        arity = self.cli("-e", "GET", check=False)
        self.assertEqual(arity.returncode, 1)
        self.assertIn(b"ERR wrong number of arguments for 'get' command",
                      arity.stdout + arity.stderr)
        # Without -e an error reply is output, not a failure.
        plain = self.cli("INCR", "s", check=False)
        self.assertEqual(plain.returncode, 0)
        self.assertIn(b"ERR value is not an integer or out of range", plain.stdout)


if __name__ == "__main__":
    h.main(requires=["redis-cli"])
