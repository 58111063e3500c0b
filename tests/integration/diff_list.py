"""List commands for the differential test (test_differential.py): what the script sends,
and which replies are compared loosely (RULES: see apply_rule there). Every list reply is
ordered, so nothing is loose."""

RULES = {}

INDEXES = [b"0", b"1", b"2", b"-1", b"-2", b"3", b"5", b"10", b"-100", b"100", b"abc", b"",
           b"9223372036854775807", b"-9223372036854775808", b"9223372036854775808", b"1.5"]


def generators(s):
    rnd = s.rnd

    def elem():
        r = rnd.random()
        if r < 0.6:
            return rnd.choice([b"a", b"b", b"c", b"1", b"2", b"-3", b"10", b"010", b""])
        if r < 0.95:
            return s.value()
        return b"L" * rnd.choice([64, 200, 5000])

    def elems(lo=1, hi=5):
        return [elem() for _ in range(rnd.randint(lo, hi))]

    def idx():
        return rnd.choice(INDEXES)

    def end():
        return rnd.choice(["LEFT", "RIGHT"] if rnd.random() < 0.95 else ["UP", "middle"])

    def big():
        # past one 8 KB node (list-max-listpack-size -2): a chunked list
        n = rnd.choice([300, 900, 1500])
        return [rnd.choice(["RPUSH", "LPUSH"]), s.key()] + [b"item:%d" % i for i in range(n)]

    def lpos():
        opts = []
        for _ in range(rnd.randint(0, 3)):
            w = rnd.choice(["RANK", "COUNT", "MAXLEN", "BOGUS"])
            opts += [w, rnd.choice([b"0", b"1", b"2", b"-1", b"-2", b"5", b"-9223372036854775808",
                                    b"abc", b"-5"])]
        if rnd.random() < 0.05:
            opts = opts[:-1] if opts else ["RANK"]
        return ["LPOS", s.key(), elem()] + opts

    def lmpop():
        keys = [s.key() for _ in range(rnd.randint(1, 3))]
        num = b"%d" % len(keys)
        if rnd.random() < 0.1:
            num = rnd.choice([b"0", b"-1", b"abc", b"5", b"9223372036854775807"])
        opts = []
        if rnd.random() < 0.5:
            opts = ["COUNT", rnd.choice([b"1", b"2", b"10", b"1000", b"0", b"-1", b"x"])]
        if rnd.random() < 0.05:
            opts += rnd.choice([["COUNT", b"1"], ["BOGUS"]])
        return ["LMPOP", num] + keys + [end()] + opts

    return [
        (6, lambda: [rnd.choice(["LPUSH", "RPUSH"]), s.key()] + elems()),
        (2, lambda: [rnd.choice(["LPUSHX", "RPUSHX"]), s.key()] + elems()),
        (4, lambda: [rnd.choice(["LPOP", "RPOP"]), s.key()]
         + rnd.choice([[], [], [rnd.choice([b"0", b"1", b"3", b"100", b"-1", b"abc"])]])),
        (3, lambda: ["LLEN", s.key()]),
        (4, lambda: ["LINDEX", s.key(), idx()]),
        (3, lambda: ["LSET", s.key(), idx(), elem()]),
        (5, lambda: ["LRANGE", s.key(), idx(), idx()]),
        (2, lambda: ["LTRIM", s.key(), idx(), idx()]),
        (3, lambda: ["LREM", s.key(), rnd.choice([b"0", b"1", b"-1", b"2", b"-2", b"x"]), elem()]),
        (3, lambda: ["LINSERT", s.key(), rnd.choice(["BEFORE", "AFTER", "BOGUS"]), elem(),
                     elem()]),
        (3, lpos),
        (3, lambda: ["LMOVE", s.key(), s.key(), end(), end()]),
        (2, lambda: ["RPOPLPUSH", s.key(), s.key()]),
        (3, lmpop),
        (0.3, big),
        (1, lambda: ["LRANGE", s.key(), b"0", b"-1"]),
        (1, lambda: ["OBJECT", "ENCODING", s.key()]),
    ]
