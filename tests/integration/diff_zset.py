"""Sorted-set commands for the differential test (test_differential.py): what the script sends,
and which replies are compared loosely (RULES: see apply_rule there)."""

MEMBERS = [b"a", b"b", b"c", b"d", b"", b"0", b"1", b"-1", b"123", b"9223372036854775807",
           b"m" * 70, b"bin\x00m", b"\xff", b"A", b"a*", b"10", b"010"]

SCORES = [b"0", b"1", b"2", b"-1", b"1.5", b"0.1", b"-0", b"1e300", b"inf", b"-inf", b"3.0",
          b"100", b"2.5", b"1e-320"]

RULES = {
    b"ZRANDMEMBER": "random",
}


def generators(s):
    rnd = s.rnd

    def member():
        return rnd.choice(MEMBERS)

    def score():
        return rnd.choice(SCORES) if rnd.random() < 0.9 else rnd.choice(s.floats)

    def pairs(lo=1, hi=4):
        return sum([[score(), member()] for _ in range(rnd.randint(lo, hi))], [])

    def sbound():
        b = rnd.choice(SCORES + [b"abc", b"", b"(", b"nan", b"+inf"])
        return b"(" + b if rnd.random() < 0.3 else b

    def lbound():
        r = rnd.random()
        if r < 0.2:
            return rnd.choice([b"-", b"+"])
        if r < 0.25:
            return rnd.choice([b"a", b"", b"+x", b"-x"])
        return rnd.choice([b"[", b"("]) + member()

    def idx():
        return rnd.choice([b"0", b"1", b"-1", b"2", b"-2", b"5", b"100", b"-100", b"abc",
                           b"9223372036854775807", b"-9223372036854775808"])

    def limit():
        if rnd.random() < 0.6:
            return []
        return ["LIMIT", rnd.choice([b"0", b"1", b"2", b"-1", b"x"]),
                rnd.choice([b"0", b"1", b"3", b"-1", b"x"])]

    def zrange_opts():
        opts = []
        for o in ("BYSCORE", "BYLEX", "REV", "WITHSCORES"):
            if rnd.random() < 0.3:
                opts.append(o)
        rnd.shuffle(opts)
        return opts + limit()

    def bounds_for(opts):
        if "BYLEX" in opts:
            return [lbound(), lbound()]
        if "BYSCORE" in opts:
            return [sbound(), sbound()]
        return [idx(), idx()]

    def zrange(store):
        opts = zrange_opts()
        if store:
            opts = [o for o in opts if o != "WITHSCORES"]
        head = ["ZRANGESTORE", s.key(), s.key()] if store else ["ZRANGE", s.key()]
        return head + bounds_for(opts) + opts

    def keys():
        n = rnd.randint(1, 3)
        return [b"%d" % n if rnd.random() < 0.95 else rnd.choice([b"0", b"-1", b"9", b"x"])] + \
            [s.key() for _ in range(n)]

    def combine_opts(op):
        opts = []
        if op != "ZDIFF" and rnd.random() < 0.3:
            opts += ["WEIGHTS"] + [rnd.choice([b"1", b"2", b"-1", b"0.5", b"inf", b"x"])
                                   for _ in range(rnd.randint(1, 3))]
        if op != "ZDIFF" and rnd.random() < 0.3:
            opts += ["AGGREGATE", rnd.choice(["SUM", "MIN", "MAX", "AVG"])]
        return opts

    def combine(op, store):
        k = keys()
        opts = combine_opts(op)
        if not store and rnd.random() < 0.5:
            opts.append("WITHSCORES")
        return ([op + "STORE", s.key()] if store else [op]) + k + opts

    def big():
        # enough members to pass zset-max-listpack-entries (128)
        return ["ZADD", s.key()] + sum([[b"%d" % (i % 17), b"bm%d" % i] for i in range(140)], [])

    return [
        (6, lambda: ["ZADD", s.key()] + rnd.choice(
            [[], ["NX"], ["XX"], ["CH"], ["GT"], ["LT"], ["GT", "CH"], ["XX", "LT"],
             ["NX", "XX"], ["GT", "LT"], ["NX", "GT"]]) + pairs()),
        (2, lambda: ["ZADD", s.key()] + rnd.choice([["INCR"], ["INCR", "NX"], ["INCR", "XX"],
                                                    ["INCR", "GT"]]) + pairs(1, 1)),
        (0.5, lambda: ["ZADD", s.key(), "INCR"] + pairs(2, 2)),
        (3, lambda: ["ZINCRBY", s.key(), score(), member()]),
        (3, lambda: ["ZREM", s.key()] + [member() for _ in range(rnd.randint(1, 3))]),
        (2, lambda: ["ZCARD", s.key()]),
        (4, lambda: ["ZSCORE", s.key(), member()]),
        (2, lambda: ["ZMSCORE", s.key()] + [member() for _ in range(rnd.randint(1, 3))]),
        (2, lambda: [rnd.choice(["ZRANK", "ZREVRANK"]), s.key(), member()]),
        (2, lambda: ["ZCOUNT", s.key(), sbound(), sbound()]),
        (2, lambda: ["ZLEXCOUNT", s.key(), lbound(), lbound()]),
        (6, lambda: zrange(False)),
        (2, lambda: zrange(True)),
        (2, lambda: ["ZREVRANGE", s.key(), idx(), idx()] + rnd.choice([[], ["WITHSCORES"]])),
        (2, lambda: [rnd.choice(["ZRANGEBYSCORE", "ZREVRANGEBYSCORE"]), s.key(), sbound(),
                     sbound()] + rnd.choice([[], ["WITHSCORES"]]) + limit()),
        (2, lambda: [rnd.choice(["ZRANGEBYLEX", "ZREVRANGEBYLEX"]), s.key(), lbound(),
                     lbound()] + limit()),
        (1, lambda: ["ZREMRANGEBYRANK", s.key(), idx(), idx()]),
        (1, lambda: ["ZREMRANGEBYSCORE", s.key(), sbound(), sbound()]),
        (1, lambda: ["ZREMRANGEBYLEX", s.key(), lbound(), lbound()]),
        (2, lambda: [rnd.choice(["ZPOPMIN", "ZPOPMAX"]), s.key()] + rnd.choice(
            [[], [b"1"], [b"2"], [b"0"], [b"-1"], [b"x"], [b"1", b"2"]])),
        (2, lambda: ["ZMPOP"] + keys() + [rnd.choice(["MIN", "MAX", "BOTH"])] + rnd.choice(
            [[], ["COUNT", b"2"], ["COUNT", b"0"], ["COUNT", b"x"], ["COUNT"]])),
        (2, lambda: ["ZRANDMEMBER", s.key()] + rnd.choice(
            [[], [rnd.choice([b"0", b"1", b"3", b"-3", b"100", b"-20", b"abc"])],
             [rnd.choice([b"2", b"-5", b"50"]), "WITHSCORES"], [b"1", "BOGUS"],
             [b"-9223372036854775807", "WITHSCORES"], [b"-9223372036854775808"]])),
        (2, lambda: combine(rnd.choice(["ZUNION", "ZINTER", "ZDIFF"]), False)),
        (2, lambda: combine(rnd.choice(["ZUNION", "ZINTER", "ZDIFF"]), True)),
        (1, lambda: ["ZINTERCARD"] + keys() + rnd.choice(
            [[], ["LIMIT", b"1"], ["LIMIT", b"0"], ["LIMIT", b"-1"], ["WITHSCORES"]])),
        (1, lambda: ["ZSCAN-ALL", s.key(), rnd.choice([b"*", b"a*", b"b*1"])]),
        (0.5, lambda: ["ZSCAN", s.key(), rnd.choice([b"abc", b"1x", b" 1"]), "COUNT", b"5"]),
        (0.5, lambda: ["ZSCAN", s.key(), b"0", rnd.choice([["COUNT", b"0"], ["MATCH"],
                                                            ["BOGUS", b"1"]])]),
        (0.3, big),
        (1, lambda: ["OBJECT", "ENCODING", s.key()]),
    ]
