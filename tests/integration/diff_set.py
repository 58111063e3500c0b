"""Set commands for the differential test (test_differential.py): what the script sends,
and which replies are compared loosely (RULES: see apply_rule there)."""

# integers (intset) and strings (hashtable), the canonical-integer edge cases included
MEMBERS = [b"1", b"2", b"3", b"0", b"-1", b"10", b"100", b"-100", b"9223372036854775807",
           b"-9223372036854775808", b"9223372036854775808", b"01", b"+1", b"-0", b" 1", b"1.5",
           b"a", b"b", b"", b"m" * 70, b"bin\x00m", b"\xff"]
INT_MEMBERS = [b"%d" % i for i in range(-5, 40)]

RULES = {
    # a hashtable's order is its own (intset replies are compared exactly by test_sets.py)
    b"SMEMBERS": "unordered", b"SINTER": "unordered", b"SUNION": "unordered",
    b"SDIFF": "unordered", b"SRANDMEMBER": "random",
    # the script pops whole sets only (a count >= the size, or 0): deterministic contents
    b"SPOP": "unordered",
}


def generators(s):
    rnd = s.rnd

    def member():
        return rnd.choice(MEMBERS) if rnd.random() < 0.4 else rnd.choice(INT_MEMBERS)

    def members(lo=1, hi=5):
        return [member() for _ in range(rnd.randint(lo, hi))]

    def keys(lo=1, hi=4):
        return [s.key() for _ in range(rnd.randint(lo, hi))]

    def big():
        # past set-max-intset-entries (512): integers only, or one string among them
        tail = [b"str"] if rnd.random() < 0.3 else []
        return ["SADD", s.key()] + [b"%d" % i for i in range(rnd.choice([510, 520]))] + tail

    def sintercard():
        ks = keys()
        r = rnd.random()
        if r < 0.6:
            return ["SINTERCARD", b"%d" % len(ks)] + ks + rnd.choice(
                [[], ["LIMIT", rnd.choice([b"0", b"1", b"2", b"100"])]])
        return ["SINTERCARD", rnd.choice([b"0", b"-1", b"abc", b"%d" % (len(ks) + 1)])] + ks + \
            rnd.choice([[], ["LIMIT", rnd.choice([b"-1", b"abc", b""])], ["LIMIT"], ["BOGUS"]])

    return [
        (8, lambda: ["SADD", s.key()] + members()),
        (4, lambda: ["SREM", s.key()] + members(1, 3)),
        (2, lambda: ["SCARD", s.key()]),
        (3, lambda: ["SISMEMBER", s.key(), member()]),
        (2, lambda: ["SMISMEMBER", s.key()] + members(1, 4)),
        (3, lambda: ["SMEMBERS", s.key()]),
        (2, lambda: ["SRANDMEMBER", s.key()] + rnd.choice(
            [[], [rnd.choice([b"0", b"1", b"3", b"-3", b"100", b"-100", b"abc",
                              b"-9223372036854775808", b"9223372036854775807"])],
             [b"1", b"2"]])),
        (2, lambda: ["SPOP", s.key(), rnd.choice([b"0", b"1000", b"100000", b"-1", b"abc",
                                                  b"-9223372036854775808"])]),
        (0.3, lambda: ["SPOP", s.key(), b"1", b"2"]),
        (3, lambda: ["SMOVE", s.key(), s.key(), member()]),
        (2, lambda: ["SINTER"] + keys()),
        (2, sintercard),
        (2, lambda: ["SINTERSTORE", s.key()] + keys()),
        (2, lambda: ["SUNION"] + keys()),
        (2, lambda: ["SUNIONSTORE", s.key()] + keys()),
        (2, lambda: ["SDIFF"] + keys()),
        (2, lambda: ["SDIFFSTORE", s.key()] + keys()),
        (1, lambda: ["SSCAN-ALL", s.key(), rnd.choice([b"*", b"1*", b"*a*", b"[0-3]"])]),
        (0.5, lambda: ["SSCAN", s.key(), rnd.choice([b"abc", b"1x", b" 1"]), "COUNT", b"5"]),
        (0.5, lambda: ["SSCAN", s.key(), b"0", rnd.choice([["COUNT", b"0"], ["MATCH"],
                                                            ["BOGUS", b"1"], ["TYPE", b"x"]])]),
        (0.3, big),
        (1, lambda: ["OBJECT", "ENCODING", s.key()]),
    ]
