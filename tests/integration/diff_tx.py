"""Transactions for the differential test (test_differential.py): blocks of WATCH, writes
before MULTI, queued commands (some refused while queueing, some failing inside EXEC),
then EXEC or DISCARD, and the misuses (EXEC or DISCARD without MULTI, WATCH inside MULTI,
MULTI nested). A block runs as one pseudo-command, TX-BLOCK, whose sub-commands are
separated by SEP; every reply of the block is compared byte for byte."""

SEP = b"\x00|"


def generators(s):
    rnd = s.rnd

    def write():
        k = s.key()
        return rnd.choice([
            [b"SET", k, s.value()],
            [b"INCR", k],
            [b"DEL", k],
            [b"APPEND", k, s.value()],
            [b"EXPIRE", k, b"100000"],
            [b"LPUSH", k, s.value()],
            [b"SADD", k, s.value()],
            [b"HSET", k, b"f", s.value()],
            [b"ZADD", k, b"1", s.value()],
            [b"GETDEL", k],
        ])

    def queued():
        r = rnd.random()
        if r < 0.6:
            return write()
        if r < 0.85:
            return [rnd.choice([b"GET", b"TYPE", b"EXISTS", b"STRLEN"]), s.key()]
        if r < 0.9:
            return [b"UNWATCH"]
        if r < 0.95:
            return [b"INCRBY", s.key(), b"notanumber"]  # fails inside EXEC's array
        return rnd.choice([[b"GET"], [b"NOSUCHCMD", s.key()], [b"WATCH", s.key()],
                           [b"MULTI"]])  # refused (or answered) while queueing

    def block():
        cmds = []
        watched = [s.key() for _ in range(rnd.choice([0, 1, 1, 2, 3]))]
        if watched:
            cmds.append([b"WATCH"] + watched)
        if rnd.random() < 0.15:
            cmds.append([b"UNWATCH"])
        for _ in range(rnd.choice([0, 0, 1, 2])):  # the client's own writes count too
            cmds.append(write() if rnd.random() < 0.6 or not watched
                        else [b"SET", rnd.choice(watched), s.value()])
        cmds.append([b"MULTI"])
        cmds += [queued() for _ in range(rnd.randint(0, 4))]
        cmds.append([b"DISCARD"] if rnd.random() < 0.1 else [b"EXEC"])
        out = [b"TX-BLOCK"]
        for c in cmds:
            out += c + [SEP]
        return out

    def misuse():
        return [b"TX-BLOCK"] + rnd.choice([[b"EXEC"], [b"DISCARD"], [b"UNWATCH"],
                                            [b"WATCH"], [b"UNWATCH", b"x"]]) + [SEP]

    return [(3, block), (0.5, misuse)]


def tx_handler(client, cmd, inline):
    """Run the block's commands in order: every raw reply."""
    replies, cur = [], []
    for a in cmd[1:]:
        if a != SEP:
            cur.append(a)
            continue
        client.send_command(*cur)
        client.read_reply()
        replies.append(client.last_raw)
        cur = []
    return ("tx", replies)


RULES = {b"TX-BLOCK": tx_handler}
