"""SORT and SORT_RO, and the generic key commands on the four collection types (TYPE, OBJECT
ENCODING, COPY, RENAME, MOVE, EXISTS, DEL, UNLINK, DUMP, RESTORE) and LCS, for the
differential test (test_differential.py).

SORT's BY and GET patterns read other keys, so the script keeps its own keys with names the
patterns produce: sources (lists, sets, sorted sets of the elements below, small and big) and,
for each element e, a numeric weight w_e, a weight of any text v_e and a hash h_e (field f
numeric, field g any text).

SORT's order is Redis's wherever Redis defines it. A numeric sort is total: equal scores are
ordered by the element's bytes (the same elements give the same rows). ALPHA compares with
strcoll() (binary with STORE): two elements equal up to a NUL byte, or two equal BY values,
missing ones included, are a tie whose order is not defined, and under LIMIT which of the
tied rows fall inside the window is not defined either. A set read BY nosort comes in the
set's own order (defined only for an intset). The handlers below (RULES entries that are
functions: test_differential.run_command hands them the command) compare such replies by
their tie groups; everything else is compared byte for byte. ALPHA BY ... STORE writes only
into SINK (without LIMIT), which is read only in ways that do not depend on the order of its
ties.

DUMP payloads are byte-identical to redis-server's for strings, intsets and the listpack
hash and sorted set; a quicklist's node layout, a hash table's order and a skiplist's order
(Redis writes it from the tail) are the server's own, so those are compared by the value a
RESTORE of the payload gives back.
"""

import os

import harness as h

# redis-server compares ALPHA with strcoll() in its environment's locale (setlocale), polluxd
# in the C locale: the reference runs in the C locale (byte order up to the first NUL).
os.environ["LC_ALL"] = "C"

LLONG_MAX = b"9223372036854775807"
LLONG_MIN = b"-9223372036854775808"

# elements: numbers strtod takes, numbers it refuses (or takes oddly), and text
NUMS = [b"1", b"2", b"3", b"10", b"-5", b"2.5", b"0", b"-0", b"1e3", b"100", b"-1.5", b"007",
        b"17", b"4"]
ODD_NUMS = [b" 1", b"inf", b"-inf", b"0x10", b"", b"nan", b"1 ", b"1e400", b"1e-400", b"+3"]
TEXT = [b"a", b"b", b"c", b"A", b"ab", b"\xff", b"n\x00a", b"n\x00b", b"x y", b"B"]
ELEMS = NUMS + ODD_NUMS + TEXT
INTS = [b"%d" % i for i in range(-5, 30)] + [LLONG_MAX, LLONG_MIN]

NUM_WEIGHTS = [b"1", b"2", b"3", b"-1", b"1.5", b"10", b"0", b"1e3", b"-inf", b"inf", b"0x10",
               b" 5", b"", b"-0"]
ANY_WEIGHTS = NUM_WEIGHTS + [b"abc", b"b", b"B", b"a\x00z", b"a\x00y", b"nan", b"zz", b"1 "]

# the script's own keys
LISTS = [b"sl:n", b"sl:m", b"sl:big"]
SETS = [b"ss:i", b"ss:h", b"ss:big"]
ZSETS = [b"sz:s", b"sz:big"]
SOURCES = LISTS + SETS + ZSETS
OTHERS = [b"str:1", b"h_a", b"w_1", b"missing:1"]
SINK = b"sortout:tie"          # ALPHA BY ... STORE: the order of its ties is not defined
OUTS = [b"sortout:1", b"sortout:2"]
LCS_KEYS = [b"lcs:1", b"lcs:2", b"lcs:3"]
SCRATCH = b"dump:scratch"      # DUMP's payload is restored here and read back
ERRNO_RESET = b"sort:nokey"    # never written (see sort_handler)

BY = [b"w_*", b"v_*", b"h_*->f", b"h_*->g", b"nosort", b"nosuch", b"*", b"#", b"w_*_x",
      b"h_*->", b"v_*->f", b"nosort*x"]
GET = [b"#", b"w_*", b"v_*", b"h_*->f", b"h_*->g", b"nosuch", b"h_*->nosuch", b"w_*->f", b"*",
       b"h_*->", b"##"]

# payloads redis-server 7.0 wrote (DUMP), for RESTORE: list, intset, hash-table set, listpack
# zset, skiplist zset (written from the tail), listpack and hash-table hashes, a string, a
# two-node LZF-compressed quicklist
PAYLOADS = [
    b'\x12\x01\x02\x12\x12\x00\x00\x00\x04\x00\x81a\x02\x81b\x02\x01\x01\xdf\xfb\x02\xff\n\x00'
    b'\xea\x1dJK#\xde2\xd3',
    b'\x0b\x10\x02\x00\x00\x00\x04\x00\x00\x00\xf9\xff\x01\x00\x02\x00\x03\x00\n\x00;\xfaJ9#'
    b'\xb1\xfa\x84',
    b'\x02\x03\xc0\x01\x01b\x01a\n\x00Dg\xf0\xc6\xe2\xd1.[',
    b'\x11\x1a\x1a\x00\x00\x00\x06\x00\x81c\x02\xdf\xff\x02\x81a\x02\x01\x01\x81b\x02\x832.5\x04'
    b'\xff\n\x00y\xa4\x81ao\xd4\xc2\xe4',
    b'\x05\x02\x01b\x00\x00\x00\x00\x00\x00\x00@\xc3\t@F\x01mm\xe09\x00\x01mm\x00\x00\x00\x00'
    b'\x00\x00\xf0?\n\x00\xa6\xd5&\xbd\x93\xd1\xf7\xc5',
    b'\x10\x12\x12\x00\x00\x00\x04\x00\x81f\x02\x81v\x02\x81g\x02\x01\x01\xff\n\x00#\xc1\xa5\xe3]'
    b'\xfa\xe8\x1c',
    b'\x04\x02\x01f\xc3\t@A\x01vv\xe04\x00\x01vv\x01g\xc0\x01\n\x00|\xf5q\xa5\xab\xdb<"',
    b'\x00\x05hello\n\x00cr\xdfve4 \n',
    bytes.fromhex(
        "120202c340a95ff107f11f000031038861a0000009e0ff096000e1ff0d8000e1ff0d8000e1ff0d8000e1ff0d"
        "8000e1ff0d8000e1ff0d8000e1ff0d8000e1ff0d8000e1ff0d8000e1ff0d8000e1ff0d8000e1ff0d8000e1ff"
        "0d8000e1ff0d8000e1ff0d8000e1ff0d8000e1ff0d8000e1ff0d8000e1ff0d8000e1ff0d8000e1ff0d8000e1"
        "ff0d8000e1ff0d8000e1ff0d8000e1ff0d8000e1ff0d8000e1ff0d8000e1ff0d8000e1ff0d8000e1330d0109"
        "ff02c340454b1507150b00001b018861a0000009e0ff096000e1ff0d8000e1ff0d8000e1ff0d8000e1ff0d80"
        "00e1ff0d8000e1ff0d8000e1ff0d8000e1ff0d8000e1ff0d8000e16f0d0109ff0a0098683058c6f52743"),
]
# RDB types whose DUMP bytes are compared exactly: string, intset, listpack zset and hash
EXACT_DUMP_TYPES = {0x00, 0x0B, 0x10, 0x11}


# -- the generators ---------------------------------------------------------------------------

def generators(s):
    rnd = s.rnd

    def elem():
        r = rnd.random()
        if r < 0.5:
            return rnd.choice(NUMS)
        if r < 0.65:
            return rnd.choice(ODD_NUMS)
        return rnd.choice(TEXT)

    def num():
        return rnd.choice(NUMS) if rnd.random() < 0.97 else rnd.choice(ODD_NUMS)

    def source():
        r = rnd.random()
        if r < 0.75:
            return rnd.choice(SOURCES)
        if r < 0.85:
            return s.key()
        if r < 0.9:
            return SINK
        return rnd.choice(OTHERS)

    def fill():
        k = rnd.choice(SOURCES)
        n = rnd.randint(1, 6)
        if k == b"sl:n":
            return [rnd.choice(["RPUSH", "LPUSH"]), k] + [num() for _ in range(n)]
        if k == b"sl:m":
            return [rnd.choice(["RPUSH", "LPUSH"]), k] + [elem() for _ in range(n)]
        if k == b"sl:big":
            m = rnd.choice([200, 900, 1500])
            return ["RPUSH", k] + [b"%d" % ((i * 7919) % 1000) for i in range(m)]
        if k == b"ss:i":
            return ["SADD", k] + [rnd.choice(INTS) for _ in range(n)]
        if k == b"ss:h":
            return ["SADD", k] + [elem() for _ in range(n)]
        if k == b"ss:big":
            return ["SADD", k] + [b"%d" % i for i in range(rnd.choice([510, 520]))]
        if k == b"sz:s":
            return ["ZADD", k] + sum([[rnd.choice([b"1", b"2", b"0", b"-1", b"1.5"]), elem()]
                                      for _ in range(n)], [])
        return ["ZADD", k] + sum([[b"%d" % (i % 13), b"%d" % (i * 3)] for i in range(140)], [])

    def weight():
        e = elem()
        r = rnd.random()
        if r < 0.35:
            return ["SET", b"w_" + e, num() if rnd.random() < 0.9 else rnd.choice(NUM_WEIGHTS)]
        if r < 0.6:
            return ["SET", b"v_" + e, rnd.choice(ANY_WEIGHTS)]
        if r < 0.9:
            return ["HSET", b"h_" + e] + rnd.choice(
                [["f", num()], ["g", rnd.choice(ANY_WEIGHTS)],
                 ["f", num(), "g", rnd.choice(ANY_WEIGHTS)], ["f", b"%d" % rnd.randint(-9, 99)]])
        if r < 0.95:
            return ["DEL", rnd.choice([b"w_", b"v_", b"h_"]) + e]
        # a weight key of another type: the pattern names nothing
        return [rnd.choice(["RPUSH", "SADD"]), rnd.choice([b"w_", b"v_"]) + e, b"1"]

    def weights_all():
        # every element weighted at once, mostly distinct values
        return ["MSET"] + sum([[b"w_" + e, rnd.choice(NUMS)] for e in ELEMS], []) + \
            sum([[b"v_" + e, rnd.choice(ANY_WEIGHTS + TEXT)] for e in ELEMS], [])

    def limit():
        if rnd.random() < 0.07:
            return ["LIMIT", rnd.choice([b"abc", b"1.5", b"", b"1"]),
                    rnd.choice([b"abc", b"", b"2", b"9223372036854775808"])]
        return ["LIMIT",
                rnd.choice([b"0", b"1", b"2", b"-1", b"-5", b"5", b"100", LLONG_MAX, LLONG_MIN,
                            b"9223372036854775806"]),
                rnd.choice([b"0", b"1", b"2", b"3", b"-1", b"-100", b"10", LLONG_MAX,
                            b"9223372036854775806"])]

    def sort_cmd():
        ro = rnd.random() < 0.25
        src = source()
        opts = []
        if rnd.random() < 0.55:
            opts.append(["BY", rnd.choice(BY)])
            if rnd.random() < 0.05:
                opts.append(["BY", rnd.choice(BY)])
        gets = []
        if rnd.random() < 0.45:
            gets = [rnd.choice(GET) for _ in range(rnd.randint(1, 3))]
        if rnd.random() < 0.45:
            opts.append(limit())
        if rnd.random() < 0.5:
            opts.append(["ALPHA"])
        if rnd.random() < 0.4:
            opts.append([rnd.choice(["ASC", "DESC"])])
        if rnd.random() < 0.05:
            opts.append([rnd.choice(["DESC", "ASC", "ALPHA"])])
        if src == SINK:
            # the sink's own order is not defined: no BY nosort of it
            opts = [o for o in opts if not (o[0] == "BY" and b"*" not in o[1])]
        an = analyse([b"SORT", src] + [a.encode() if isinstance(a, str) else a
                                       for o in opts for a in o])
        sorts_alpha = an["alpha"] and not an["dontsort"]
        if sorts_alpha and gets and b"#" not in gets:
            # ALPHA's tie groups are told apart by the element: "#" among the GETs
            gets.insert(rnd.randrange(len(gets) + 1), b"#")
        opts += [["GET", g] for g in gets]
        if not ro and rnd.random() < 0.25 or ro and rnd.random() < 0.03:
            if sorts_alpha and an["by"] is not None:
                dst = SINK
                # which tied rows a LIMIT keeps is not defined: the sink's content would
                # differ, not only its order
                opts = [o for o in opts if o[0] != "LIMIT"]
            else:
                dst = rnd.choice(OUTS + [s.key(), s.key(), rnd.choice(SOURCES)])
            opts.append(["STORE", dst])
        rnd.shuffle(opts)
        cmd = ["SORT_RO" if ro else "SORT", src] + [a for o in opts for a in o]
        r = rnd.random()
        if r < 0.02:
            cmd.append(rnd.choice(["BOGUS", "LIMIT", "GET", "BY", "STORE"]))
        elif r < 0.03:
            cmd = cmd[:1]
        elif r < 0.04:
            cmd += ["LIMIT", b"1"]
        return cmd

    def generic_key():
        r = rnd.random()
        if r < 0.55:
            return rnd.choice(SOURCES)
        if r < 0.8:
            return s.key()
        if r < 0.9:
            return rnd.choice(OUTS + LCS_KEYS)
        return rnd.choice([b"w_1", b"v_a", b"h_a", b"h_1", b"missing:2"])

    def target_key():
        # what RENAME, MOVE and DEL take away: the sources less often
        return rnd.choice(SOURCES) if rnd.random() < 0.25 else generic_key()

    def copy():
        opts = rnd.choice([[], ["REPLACE"], ["DB", s.db()], ["DB", b"0", "REPLACE"],
                           ["REPLACE", "DB", s.db()], ["DB"], ["BOGUS"]])
        return ["COPY", generic_key(), generic_key()] + opts

    def restore_opts():
        r = rnd.random()
        if r < 0.6:
            return [b"0"] + rnd.choice([[], ["REPLACE"]])
        if r < 0.8:
            ttl = s.ttl_ms() if rnd.random() < 0.3 else b"%d" % (s.rel_secs() * 1000)
            return [ttl, "REPLACE"]
        return [b"0"] + rnd.choice([["BOGUS"], ["REPLACE", "REPLACE"], ["ABSTTL", "REPLACE"],
                                    ["IDLETIME", b"-1"], ["FREQ", b"300"]])

    def lcs_set():
        n = rnd.choice([0, 1, 3, 8, 20, 60])
        v = bytes(rnd.choice(b"abcab\x00") for _ in range(n))
        return ["SET", rnd.choice(LCS_KEYS), v]

    def lcs():
        a, b = (rnd.choice(LCS_KEYS + [b"missing:3"]) if rnd.random() < 0.9 else generic_key()
                for _ in range(2))
        return ["LCS", a, b] + rnd.choice(
            [[], ["LEN"], ["IDX"], ["IDX", "WITHMATCHLEN"], ["IDX", "MINMATCHLEN", b"2"],
             ["IDX", "MINMATCHLEN", rnd.choice([b"0", b"-1", b"3", b"abc"]), "WITHMATCHLEN"],
             ["LEN", "IDX"], ["BOGUS"]])

    return [
        (12, fill),
        (0.5, lambda: ["DEL", rnd.choice(SOURCES)]),
        (5, weight),
        (0.5, weights_all),
        (0.3, lambda: ["SET", rnd.choice(OTHERS[:1]), rnd.choice(NUMS)]),
        (0.3, lambda: [rnd.choice(["SET", "RPUSH"]), elem(), b"1"]),  # pattern "*"
        (14, sort_cmd),
        (1, lambda: ["LLEN", SINK]),
        (1, lambda: ["LRANGE", rnd.choice(OUTS), b"0", b"-1"]),
        (2, lambda: ["TYPE", generic_key()]),
        (2, lambda: ["OBJECT", "ENCODING", generic_key()]),
        (2, copy),
        (1.5, lambda: ["RENAME", target_key(), generic_key()]),
        (1, lambda: ["RENAMENX", target_key(), generic_key()]),
        (1, lambda: ["MOVE", target_key(), s.db()]),
        (1, lambda: ["EXISTS"] + [generic_key() for _ in range(rnd.randint(1, 4))]),
        (1, lambda: [rnd.choice(["DEL", "UNLINK"])]
         + [target_key() for _ in range(rnd.randint(1, 3))]),
        (2, lambda: ["DUMP", generic_key()]),
        (2, lambda: [b"DUMP-RESTORE", generic_key(), generic_key()] + restore_opts()),
        (0.5, lambda: ["RESTORE", generic_key()] + restore_opts()[:1] + [
            rnd.choice(PAYLOADS) if rnd.random() < 0.8 else rnd.choice(
                [b"", b"garbage", PAYLOADS[0][:-1] + b"\x00", PAYLOADS[3][:-10] + b"\x0b\x00" +
                 PAYLOADS[3][-8:]])] + rnd.choice([[], [], ["REPLACE"]])),
        (2, lcs_set),
        (2, lcs),
    ]


# -- reading SORT's options as Redis does ----------------------------------------------------

def analyse(cmd):
    """SORT's options as sortCommandGeneric reads them (for a command it accepted)."""
    a = {"desc": False, "alpha": False, "limit": None, "by": None, "dontsort": False,
         "gets": [], "store": None}
    i = 2
    while i < len(cmd):
        w, left = cmd[i].lower(), len(cmd) - i - 1
        if w == b"asc":
            a["desc"] = False
        elif w == b"desc":
            a["desc"] = True
        elif w == b"alpha":
            a["alpha"] = True
        elif w == b"limit" and left >= 2:
            a["limit"] = (cmd[i + 1], cmd[i + 2])
            i += 2
        elif w == b"store" and left >= 1:
            a["store"] = cmd[i + 1]
            i += 1
        elif w == b"by" and left >= 1:
            a["by"] = cmd[i + 1]
            if b"*" not in cmd[i + 1].split(b"\x00")[0]:
                a["dontsort"] = True
            i += 1
        elif w == b"get" and left >= 1:
            a["gets"].append(cmd[i + 1])
            i += 1
        i += 1
    return a


def lookup_commands(pattern, elem):
    """The command reading what a BY/GET pattern names for an element (lookupKeyByPattern),
    or None when it names nothing; a key of another type answers WRONGTYPE: nothing."""
    p = pattern.find(b"*")
    if p < 0:
        return None
    f = pattern.find(b"->", p + 1)
    if f >= 0 and f + 2 < len(pattern):
        return [b"HGET", pattern[:p] + elem + pattern[p + 1:f], pattern[f + 2:]]
    return [b"GET", pattern[:p] + elem + pattern[p + 1:]]


def pipeline(client, cmds):
    """Replies of read commands sent at once (None for nil and errors)."""
    client.send(b"".join(h.encode_command(*c) for c in cmds))
    out = []
    for _ in cmds:
        v = client.read_reply()
        out.append(None if isinstance(v, h.ErrorReply) else v)
    return out


def send(client, cmd, inline):
    if inline:
        client.send(b" ".join(cmd) + b"\r\n")
    else:
        client.send_command(*cmd)
    return client.read_reply()


def is_plain(value, raw):
    return isinstance(value, h.ErrorReply) or not isinstance(value, list) or raw[:1] == b"_"


def sort_handler(client, cmd, inline):
    """SORT and SORT_RO: the reply, compared by tie groups where Redis leaves ties open."""
    kind = enc = None
    # Redis 7.0 tests errno after strtod() without clearing it first, so an ERANGE left by an
    # earlier command (ZADD z 1e400 m) fails the next numeric SORT; a double parsed by
    # string2d() (ZUNION's WEIGHTS) clears it
    reset = [[b"ZUNION", b"1", ERRNO_RESET, b"WEIGHTS", b"1"]]
    if len(cmd) >= 2:
        kind, enc, _ = pipeline(client, [[b"TYPE", cmd[1]], [b"OBJECT", b"ENCODING", cmd[1]]]
                                + reset)
    else:
        pipeline(client, reset)
    value = send(client, cmd, inline)
    raw = client.last_raw
    if is_plain(value, raw):
        return ("raw", raw)
    a = analyse(cmd)
    width = max(1, len(a["gets"]))
    rows = [tuple(value[i:i + width]) for i in range(0, len(value), width)]
    cut = a["limit"] is not None
    if a["dontsort"]:
        if kind != b"set" or enc == b"intset":
            return ("raw", raw)
        # a hash table's own order; under LIMIT, which members is not defined either
        return ("set order", raw[:1], len(rows) if cut else sorted(rows, key=repr))
    if not a["alpha"]:
        return ("raw", raw)
    # ALPHA: tie groups by the compared text (strcoll: up to the first NUL)
    if a["gets"] and b"#" not in a["gets"]:
        return ("alpha without #", raw[:1], len(rows) if cut else sorted(rows, key=repr))
    col = a["gets"].index(b"#") if a["gets"] else 0
    elems = [r[col] for r in rows]
    if a["by"] is not None:
        cmds = [lookup_commands(a["by"], e) for e in elems]
        got = pipeline(client, [c for c in cmds if c is not None])
        it = iter(got)
        keys = [next(it) if c is not None else None for c in cmds]
    else:
        keys = elems
    keys = [k if k is None else bytes(k).split(b"\x00")[0] for k in keys]
    groups = []
    for k, r in zip(keys, rows):
        if groups and groups[-1][0] == k:
            groups[-1][1].append(r)
        else:
            groups.append((k, [r]))
    out = []
    for i, (k, g) in enumerate(groups):
        edge = cut and (i == 0 or i == len(groups) - 1)
        out.append((k, len(g)) if edge else (k, sorted(g, key=repr)))
    return ("alpha", raw[:1], out)


def read_value(client, key):
    """A key's type and value in a canonical form (what a RESTORE gave back)."""
    kind = client.command(b"TYPE", key)
    if kind == b"string":
        v = client.command(b"GET", key)
    elif kind == b"list":
        v = client.command(b"LRANGE", key, b"0", b"-1")
    elif kind == b"set":
        v = sorted(client.command(b"SMEMBERS", key))
    elif kind == b"zset":
        v = [repr(x) for x in client.command(b"ZRANGE", key, b"0", b"-1", b"WITHSCORES")]
    elif kind == b"hash":
        v = client.command(b"HGETALL", key)
        v = sorted(v.items()) if isinstance(v, dict) else sorted(zip(v[::2], v[1::2]))
    else:
        v = None
    return (bytes(kind), v)


def dump_handler(client, cmd, inline):
    """DUMP: the bytes where they are the same as Redis's, else the RDB type and the value a
    RESTORE of them gives back."""
    value = send(client, cmd, inline)
    raw = client.last_raw
    if not isinstance(value, bytes) or isinstance(value, h.ErrorReply) or not value:
        return ("raw", raw)
    if value[0] in EXACT_DUMP_TYPES:
        return ("raw", raw)
    restored = bytes(client.command(b"RESTORE", SCRATCH, b"0", value, b"REPLACE"))
    got = read_value(client, SCRATCH)
    client.command(b"DEL", SCRATCH)
    return ("dump", value[0], restored, got)


def dump_restore_handler(client, cmd, inline):
    """DUMP-RESTORE src dst ttl [options]: RESTORE dst of DUMP src, and dst read back."""
    payload = client.command(b"DUMP", cmd[1])
    if not isinstance(payload, bytes) or isinstance(payload, h.ErrorReply):
        return ("dump", client.last_raw)
    client.command(b"RESTORE", cmd[2], cmd[3], payload, *cmd[4:])
    reply = client.last_raw
    return ("restore", reply, read_value(client, cmd[2]))


RULES = {
    b"SORT": sort_handler,
    b"SORT_RO": sort_handler,
    b"DUMP": dump_handler,
    b"DUMP-RESTORE": dump_restore_handler,
}
