"""Hash commands for the differential test (test_differential.py): what the script sends,
and which replies are compared loosely (RULES: see apply_rule there)."""

FIELDS = [b"f1", b"f2", b"f3", b"", b"0", b"1", b"-1", b"123", b"9223372036854775807", b"x" * 70,
          b"bin\x00f", b"\xff", b"F1", b"f*"]

RULES = {
    # a hash past hash-max-listpack-* is a hash table: its order is the table's
    b"HKEYS": "unordered", b"HVALS": "unordered", b"HGETALL": "unordered",
    b"HRANDFIELD": "random",
}


def generators(s):
    rnd = s.rnd

    def field():
        return rnd.choice(FIELDS)

    def value():
        return s.value() if rnd.random() < 0.9 else b"v" * rnd.choice([64, 65, 200])

    def pairs(lo=1, hi=4):
        return sum([[field(), value()] for _ in range(rnd.randint(lo, hi))], [])

    def big():
        # enough fields to pass hash-max-listpack-entries (512)
        return ["HSET", s.key()] + sum([[b"bf%d" % i, b"%d" % i] for i in range(520)], [])

    return [
        (6, lambda: ["HSET", s.key()] + pairs()),
        (1, lambda: ["HMSET", s.key()] + pairs()),
        (2, lambda: ["HSETNX", s.key(), field(), value()]),
        (5, lambda: ["HGET", s.key(), field()]),
        (2, lambda: ["HMGET", s.key()] + [field() for _ in range(rnd.randint(1, 4))]),
        (3, lambda: ["HDEL", s.key()] + [field() for _ in range(rnd.randint(1, 3))]),
        (2, lambda: ["HEXISTS", s.key(), field()]),
        (2, lambda: ["HSTRLEN", s.key(), field()]),
        (2, lambda: ["HLEN", s.key()]),
        (1, lambda: ["HKEYS", s.key()]),
        (1, lambda: ["HVALS", s.key()]),
        (2, lambda: ["HGETALL", s.key()]),
        (3, lambda: ["HINCRBY", s.key(), field(), rnd.choice(s.ints)]),
        (3, lambda: ["HINCRBYFLOAT", s.key(), field(), rnd.choice(s.floats)]),
        (2, lambda: ["HRANDFIELD", s.key()] + rnd.choice(
            [[], [rnd.choice([b"0", b"1", b"3", b"-3", b"100", b"-100", b"abc"])],
             [rnd.choice([b"2", b"-5", b"50"]), "WITHVALUES"], [b"1", "BOGUS"],
             [b"-9223372036854775807", "WITHVALUES"]])),
        (1, lambda: ["HSCAN-ALL", s.key(), rnd.choice([b"*", b"f*", b"b*1"])]),
        # (a cursor the server did not hand out names an arbitrary bucket: only bad ones)
        (0.5, lambda: ["HSCAN", s.key(), rnd.choice([b"abc", b"1x", b" 1"]), "COUNT", b"5"]),
        (0.5, lambda: ["HSCAN", s.key(), b"0", rnd.choice([["COUNT", b"0"], ["MATCH"],
                                                            ["BOGUS", b"1"], ["TYPE", b"x"]])]),
        (0.3, big),
        (1, lambda: ["OBJECT", "ENCODING", s.key()]),
    ]
