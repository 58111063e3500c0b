#!/usr/bin/env python3
"""Print commands.table blocks for commands, read from a running redis-server.

    /usr/bin/python3 scripts/command_rows.py --port 7100 hset hget 'config|get'

A development aid for adding commands: a row's flags, ACL categories, key
specifications and documentation must match Redis 7.0's (the differential test
compares them), and a redis-server answers COMMAND INFO and COMMAND DOCS with
exactly those facts. The script prints each block with `fn cmd_<name>`; review
it, then paste it into dataplane/cmd/commands.table and write the handler.
"""

import argparse
import shlex
import sys

import redis

# Categories the table derives from flags (cmd.h cmd_acl): not written in a row.
IMPLIED = {"write": ["write"], "readonly": ["read"], "admin": ["admin", "dangerous"],
           "pubsub": ["pubsub"], "fast": ["fast"], "blocking": ["blocking"]}
# Flags COMMAND INFO reports that the table derives or does not carry.
DERIVED_FLAGS = {"movablekeys"}


def s(v):
    return v.decode() if isinstance(v, bytes) else v


def pairs(lst):
    return {s(lst[i]): lst[i + 1] for i in range(0, len(lst), 2)}


def quote(v):
    return shlex.quote(v) if any(c in v for c in " '\"") else v


def key_line(spec):
    spec = pairs(spec)
    flags = [s(f).upper() for f in spec.get("flags", [])]
    notes = s(spec.get("notes")) if spec.get("notes") else None
    bs, fk = pairs(spec["begin_search"]), pairs(spec["find_keys"])
    bspec, fspec = pairs(bs["spec"]), pairs(fk["spec"])
    out = " ".join(flags)
    if notes:
        out += " notes=" + shlex.quote(notes)
    if s(bs["type"]) == "index":
        out += f" | index {bspec['index']}"
    elif s(bs["type"]) == "keyword":
        out += f" | keyword {s(bspec['keyword'])} {bspec['startfrom']}"
    else:
        out += " | unknown"  # the row needs a getkeys function
    if s(fk["type"]) == "range":
        out += f" | range {fspec['lastkey']} {fspec['keystep']} {fspec['limit']}"
    elif s(fk["type"]) == "keynum":
        out += f" | keynum {fspec['keynumidx']} {fspec['firstkey']} {fspec['keystep']}"
    else:
        out += " | unknown"
    return out


def arg_lines(args, depth):
    lines = []
    for a in args:
        a = pairs(a)
        words = [s(a["name"]), s(a["type"])]
        for k in ("key_spec_index", "token", "since", "deprecated_since", "summary"):
            if k in a:
                name = "key_spec" if k == "key_spec_index" else k
                words.append(f"{name}={quote(str(s(a[k])))}")
        words += [s(f) for f in a.get("flags", [])]
        lines.append("  " * depth + "arg" + " " * (12 - 2 * depth - 3) + " ".join(words))
        lines += arg_lines(a.get("arguments", []), depth + 1)
    return lines


class Raw:
    """Replies as sent (redis-py would reshape COMMAND's)."""

    def __init__(self, conn):
        self.conn = conn

    def execute_command(self, *argv):
        self.conn.send_command(*argv)
        return self.conn.read_response()


def block(r, full):
    info = r.execute_command("COMMAND", "INFO", full.replace("|", " ").split()[0])
    docs = pairs(r.execute_command("COMMAND", "DOCS", full.split("|")[0]))
    name = full.split("|")[0]
    info, doc = info[0], pairs(docs[name])
    if "|" in full:
        sub = full
        info = next(i for i in info[9] if s(i[0]) == sub)
        doc = pairs(pairs(doc["subcommands"])[sub])
    flags = [s(f) for f in info[2] if s(f) not in DERIVED_FLAGS]
    implied = {c for f in flags for c in IMPLIED.get(f, [])}
    if "fast" not in flags:
        implied.add("slow")
    acl = [s(c)[1:] for c in info[6] if s(c)[1:] not in implied]
    out = [f"command {full}", f"    fn          cmd_{full.replace('|', '_').replace('-', '_')}",
           f"    arity       {info[1]}", f"    flags       {' '.join(flags)}"]
    if acl:
        out.append(f"    acl         {' '.join(acl)}")
    for k in ("group", "since", "complexity", "summary"):
        if k in doc:
            out.append(f"    {k:<11} {s(doc[k])}")
    if "doc_flags" in doc:
        out.append(f"    doc_flags   {' '.join(s(f) for f in doc['doc_flags'])}")
    for k in ("deprecated_since", "replaced_by"):
        if k in doc:
            out.append(f"    {k:<11} {s(doc[k])}")
    if info[7]:
        out.append(f"    tips        {' '.join(s(t) for t in info[7])}")
    for spec in info[8]:
        out.append(f"    key         {key_line(spec)}")
    out += ["    " + line for line in arg_lines(doc.get("arguments", []), 0)]
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=6379)
    ap.add_argument("commands", nargs="+")
    o = ap.parse_args()
    r = Raw(redis.Connection(port=o.port))
    for c in o.commands:
        print(block(r, c.lower()))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
