#!/usr/bin/env python3
"""Pipelining and concurrency. Against a multi-worker polluxd these cross
shards: keys are chosen so every group spans both halves of the slot space."""

import os
import random
import threading
import time

import harness as h

redis = h.require_redis_py()


class Model:
    """Just enough of the string commands to predict replies."""

    def __init__(self):
        self.data = {}

    def apply(self, cmd):
        op, args = cmd[0], cmd[1:]
        d = self.data
        if op == "SET":
            d[args[0]] = args[1]
            return b"OK"
        if op == "GET":
            return d.get(args[0])
        if op == "INCR":
            v = int(d.get(args[0], b"0")) + 1
            d[args[0]] = str(v).encode()
            return v
        if op == "APPEND":
            d[args[0]] = d.get(args[0], b"") + args[1]
            return len(d[args[0]])
        if op == "DEL":
            return sum(1 for k in dict.fromkeys(args) if d.pop(k, None) is not None)
        if op == "EXISTS":
            return sum(1 for k in args if k in d)
        if op == "MGET":
            return [d.get(k) for k in args]
        if op == "STRLEN":
            return len(d.get(args[0], b""))
        if op == "SETNX":
            if args[0] in d:
                return 0
            d[args[0]] = args[1]
            return 1
        if op == "GETSET":
            old = d.get(args[0])
            d[args[0]] = args[1]
            return old
        if op == "MSET":
            for k, v in zip(args[0::2], args[1::2]):
                d[k] = v
            return b"OK"
        raise ValueError(op)


def random_command(rnd, keys, counters, i):
    op = rnd.choice(["SET", "GET", "GET", "INCR", "APPEND", "DEL", "EXISTS", "MGET", "STRLEN",
                     "SETNX", "GETSET", "MSET"])
    k = rnd.choice(keys)
    if op in ("SET", "SETNX", "GETSET"):
        return (op, k, b"val-%d" % i)
    if op == "INCR":
        return (op, rnd.choice(counters))
    if op == "APPEND":
        return (op, k, b"+%d" % i)
    if op in ("DEL", "EXISTS", "MGET"):
        return (op,) + tuple(rnd.choice(keys) for _ in range(rnd.randint(1, 4)))
    if op == "MSET":
        out = (op,)
        for _ in range(rnd.randint(1, 3)):
            out += (rnd.choice(keys), b"m-%d" % i)
        return out
    return (op, k)


class Concurrency(h.ServerTestCase):

    def test_pipeline_order(self):
        """10,000 mixed commands in one pipeline: replies come back in order."""
        rnd = random.Random(1234)
        keys = [k.encode() for k in h.keys_by_shard("pipe:", 500)]
        counters = [k.encode() for k in h.keys_by_shard("ctr:", 20)]
        commands = [random_command(rnd, keys, counters, i) for i in range(10000)]
        model = Model()
        expected = [model.apply(cmd) for cmd in commands]
        payload = b"".join(h.encode_command(*cmd) for cmd in commands)
        c = self.server.raw()
        sender = threading.Thread(target=c.send, args=(payload,))
        sender.start()
        got = [c.read_reply() for _ in commands]
        sender.join()
        for i, (cmd, want, have) in enumerate(zip(commands, expected, got)):
            if want != have:
                self.fail(f"reply {i} to {cmd!r}: expected {want!r}, got {have!r}")
        self.assertEqual(c.command("DBSIZE"), len(model.data))
        c.close()

    def test_redis_py_pipeline(self):
        with self.r.pipeline(transaction=False) as p:
            for i in range(5000):
                p.set(f"rp:{i}", i)
                p.incr(f"rp:{i}")
                p.get(f"rp:{i}")
            replies = p.execute()
        self.assertEqual(len(replies), 15000)
        for i in range(5000):
            self.assertEqual(replies[3 * i:3 * i + 3], [True, i + 1, str(i + 1).encode()])

    def run_threads(self, target, count):
        errors = []

        def wrapped(n):
            try:
                target(n)
            except Exception as e:  # noqa: BLE001 - collected and reported
                errors.append(f"thread {n}: {e!r}")

        threads = [threading.Thread(target=wrapped, args=(n,)) for n in range(count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])

    def test_mset_mget_atomic(self):
        """20 clients MSET/DEL/MGET groups of keys that span shards; an MGET
        never sees a half-applied MSET or DEL."""
        groups = [h.keys_by_shard(f"grp{g}:", 6) for g in range(8)]
        for g in groups:
            self.r.mset({k: "init" for k in g})
        torn = []

        def worker(n):
            rnd = random.Random(n)
            client = self.server.redis()
            for i in range(250):
                g = rnd.choice(groups)
                action = rnd.random()
                if action < 0.45:
                    token = f"t{n}-{i}"
                    client.mset({k: token for k in g})
                elif action < 0.5:
                    client.delete(*g)
                else:
                    values = client.mget(g)
                    if len(set(values)) != 1:
                        torn.append(values)
            client.close()

        self.run_threads(worker, 20)
        self.assertEqual(torn[:3], [], f"{len(torn)} torn reads")

    def test_rename_pingpong(self):
        """A key renamed back and forth between two shards exists under
        exactly one name at every observation."""
        a, b = h.keys_by_shard("pp:", 2)
        self.r.set(a, "payload")
        stop = threading.Event()
        bad = []
        observations = [0]

        def renamer(n):
            client = self.server.redis()
            while not stop.is_set():
                for src, dst in ((a, b), (b, a)):
                    try:
                        client.rename(src, dst)
                    except redis.ResponseError as e:
                        if str(e) != "no such key":
                            raise
            client.close()

        def observer(n):
            client = self.server.redis()
            for i in range(600):
                if i % 2:
                    values = client.mget(a, b)
                    present = [v for v in values if v is not None]
                    if present != [b"payload"]:
                        bad.append(("MGET", values))
                else:
                    count = client.exists(a, b)
                    if count != 1:
                        bad.append(("EXISTS", count))
                observations[0] += 1
            client.close()

        renamers = [threading.Thread(target=renamer, args=(n,)) for n in range(2)]
        for t in renamers:
            t.start()
        try:
            self.run_threads(observer, 4)
        finally:
            stop.set()
            for t in renamers:
                t.join(60)
        self.assertEqual(bad[:5], [], f"{len(bad)} of {observations[0]} observations were torn")
        self.assertEqual(self.r.exists(a, b), 1)

    def test_large_values(self):
        rnd = random.Random(99)
        values = {f"big:{i}": rnd.randbytes(1024 * 1024) for i in range(6)}
        with self.r.pipeline(transaction=False) as p:
            for k, v in values.items():
                p.set(k, v)
            p.execute()
        for k, v in values.items():
            self.assertEqual(self.r.get(k), v)
            self.assertEqual(self.r.strlen(k), len(v))
        self.assertEqual(self.r.mget(list(values)), list(values.values()))
        self.assertEqual(self.r.append("big:0", values["big:1"]), 2 * 1024 * 1024)
        self.assertEqual(self.r.get("big:0"), values["big:0"] + values["big:1"])
        self.assertEqual(self.r.getrange("big:1", 1024 * 1024 - 5, -1), values["big:1"][-5:])
        with self.server.raw() as c:
            c.command("SET", "exact", b"\r\n" * (512 * 1024))
            self.assertEqual(c.command_raw("GET", "exact"),
                             b"$1048576\r\n" + b"\r\n" * (512 * 1024) + b"\r\n")

    def test_partial_reads(self):
        """Commands arriving one byte at a time, or split at random points."""
        with self.server.raw() as c:
            for chunk in (h.encode_command("SET", "slow", "drip"), b"GET slow\r\n"):
                for i in range(len(chunk)):
                    c.send(chunk[i:i + 1])
                    time.sleep(0.002)
            self.assertEqual(c.read_raw(), b"+OK\r\n")
            self.assertEqual(c.read_raw(), b"$4\r\ndrip\r\n")
            rnd = random.Random(5)
            value = os.urandom(100000)
            stream = b"".join([h.encode_command("SET", "split", value),
                               h.encode_command("STRLEN", "split"),
                               b"ECHO hi\r\n",
                               h.encode_command("GET", "split")])
            pos = 0
            while pos < len(stream):
                step = rnd.choice([1, 2, 3, 7, 100, 4096, 30000])
                c.send(stream[pos:pos + step])
                pos += step
                if rnd.random() < 0.05:
                    time.sleep(0.002)
            self.assertEqual(c.read_reply(), b"OK")
            self.assertEqual(c.read_reply(), 100000)
            self.assertEqual(c.read_reply(), b"hi")
            self.assertEqual(c.read_reply(), value)


if __name__ == "__main__":
    h.main()
