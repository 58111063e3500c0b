#!/usr/bin/env python3
"""Turn dataplane/cmd/commands.table into C: the command table and its ids.

    gen_commands.py commands.table commands.c commands.h

The table is the one description of every command and subcommand (see the
header of commands.table for its format). This script checks it and writes:

  commands.h  enum cmd_id (a numeric id per row, CMD_ID_COUNT) and the
              handler prototypes, so every handler is checked against cmd_fn;
  commands.c  the rows (struct cmd_def), their key specifications and
              argument trees as static arrays, and cmd_table[].

Everything a row's consumers need at run time is computed here, once: the
legacy (first, last, step) key triple and the movablekeys flag from the key
specifications, the route when it is not given. ACL categories are written
as cmd_acl(flags, explicit) so that C derives them, with the rule in cmd.h.
Standard library only: it runs wherever meson runs.
"""

import re
import shlex
import sys

FLAGS = ["write", "readonly", "denyoom", "admin", "pubsub", "noscript", "blocking", "loading",
         "stale", "skip_monitor", "skip_slowlog", "fast", "no_auth", "may_replicate", "no_multi",
         "allow_busy", "sentinel", "movablekeys", "tx_control", "no_async_loading",
         "protected", "no_mandatory_keys"]
ACL = ["keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
       "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous",
       "connection", "transaction", "scripting"]
ROUTES = ["local", "keys", "all", "scan", "exec", "sort", "hold"]
GROUPS = ["generic", "string", "list", "set", "sorted-set", "hash", "pubsub", "transactions",
          "connection", "server", "scripting", "hyperloglog", "cluster", "sentinel", "geo",
          "stream", "bitmap"]
KEY_FLAGS = ["RO", "RW", "OW", "RM", "ACCESS", "UPDATE", "INSERT", "DELETE", "NOT_KEY",
             "INCOMPLETE", "VARIABLE_FLAGS"]
ARG_TYPES = ["string", "integer", "double", "key", "pattern", "unix-time", "pure-token", "oneof",
             "block"]
ARG_FLAGS = ["optional", "multiple", "multiple_token"]
DOC_FLAGS = ["deprecated", "syscmd"]
FIELDS = ["fn", "arity", "flags", "acl", "route", "group", "since", "complexity", "summary",
          "doc_flags", "deprecated_since", "replaced_by", "tips", "getkeys"]


class TableError(Exception):
    pass


class Arg:
    def __init__(self, words, where):
        if len(words) < 2:
            raise TableError(f"{where}: arg needs a name and a type")
        self.name, self.type = words[0], words[1]
        if self.type not in ARG_TYPES:
            raise TableError(f"{where}: unknown argument type {self.type!r}")
        self.opts, self.flags, self.children = {}, [], []
        for w in words[2:]:
            if "=" in w:
                k, v = w.split("=", 1)
                if k not in ("key_spec", "token", "since", "deprecated_since", "summary"):
                    raise TableError(f"{where}: unknown argument attribute {k!r}")
                self.opts[k] = v
            elif w in ARG_FLAGS:
                self.flags.append(w)
            else:
                raise TableError(f"{where}: unknown argument flag {w!r}")


class Row:
    def __init__(self, full, where):
        self.full, self.where = full, where
        self.parent, _, self.name = full.rpartition("|")
        self.f = {}
        self.keys = []  # (flags, notes, begin, find)
        self.args = []
        self.subs = []


def parse(path):
    rows, cur, stack = [], None, []
    with open(path, encoding="utf-8") as fh:
        for lineno, raw in enumerate(fh, 1):
            where = f"{path}:{lineno}"
            line = raw.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            indent = len(line) - len(line.lstrip(" "))
            word, _, rest = line.strip().partition(" ")
            rest = rest.strip()
            if indent == 0:
                if word != "command" or not re.fullmatch(r"[a-z][a-z0-9_-]*(\|[a-z0-9_-]+)?", rest):
                    raise TableError(f"{where}: expected 'command <name>' (lower case)")
                cur = Row(rest, where)
                rows.append(cur)
                stack = []
                continue
            if cur is None:
                raise TableError(f"{where}: attribute outside a command")
            if word == "arg":
                depth = (indent - 4) // 2
                if indent < 4 or (indent - 4) % 2 or depth > len(stack):
                    raise TableError(f"{where}: argument indentation")
                arg = Arg(shlex.split(rest), where)
                del stack[depth:]
                (stack[-1].children if stack else cur.args).append(arg)
                stack.append(arg)
            elif word == "key":
                head, *parts = [p.strip() for p in rest.split("|")]
                words = shlex.split(head)
                flags = [w for w in words if not w.startswith("notes=")]
                notes = [w[6:] for w in words if w.startswith("notes=")]
                for fl in flags:
                    if fl not in KEY_FLAGS:
                        raise TableError(f"{where}: unknown key flag {fl!r}")
                if len(parts) != 2:
                    raise TableError(f"{where}: key needs '| begin_search | find_keys'")
                cur.keys.append((flags, notes[0] if notes else None, parts[0].split(),
                                 parts[1].split()))
            elif word in FIELDS:
                if word in cur.f:
                    raise TableError(f"{where}: {word} given twice")
                if len(rest) >= 2 and rest[0] == "'" and rest[-1] == "'":
                    rest = rest[1:-1]  # a quoted value keeps its edge spaces
                cur.f[word] = rest
            else:
                raise TableError(f"{where}: unknown attribute {word!r}")
    return rows


def c_str(s):
    if s is None:
        return "NULL"
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def ident(s):
    return re.sub(r"[^A-Za-z0-9]", "_", s)


def legacy_triple(row):
    """(first, last, step) as Redis derives it from the specs, and whether keys move."""
    first = last = step = 0
    movable = False
    for flags, _, bs, fk in row.keys:
        if "INCOMPLETE" in flags:
            movable = True
        if bs[0] != "index" or fk[0] != "range" or int(fk[3]) != 0:
            movable = True
            continue
        idx, lastkey, keystep = int(bs[1]), int(fk[1]), int(fk[2])
        spec_last = lastkey if lastkey < 0 else idx + lastkey
        if first == 0:
            first, last, step = idx, spec_last, keystep
        elif step == keystep and last >= 0 and idx == last + step:
            last = spec_last
        elif step == 1 and keystep == 1 and last >= 0 and idx == last + 1:
            last = spec_last
        else:
            movable = True
    return first, last, step, movable


def check(rows):
    names = {}
    for r in rows:
        if r.full in names:
            raise TableError(f"{r.where}: {r.full} given twice")
        names[r.full] = r
        if r.parent:
            p = names.get(r.parent)
            if p is None or p.parent:
                raise TableError(f"{r.where}: {r.parent} must come first, as a command")
            p.subs.append(r)
        for need in ("arity", "group", "since", "summary"):
            if need not in r.f:
                raise TableError(f"{r.where}: {r.full} has no {need}")
        r.flags = r.f.get("flags", "").split()
        for fl in r.flags:
            if fl not in FLAGS or fl == "movablekeys":
                raise TableError(f"{r.where}: unknown flag {fl!r}")
        r.acl = r.f.get("acl", "").split()
        for a in r.acl:
            if a not in ACL:
                raise TableError(f"{r.where}: unknown ACL category {a!r}")
        if r.f["group"] not in GROUPS:
            raise TableError(f"{r.where}: unknown group {r.f['group']!r}")
        for d in r.f.get("doc_flags", "").split():
            if d not in DOC_FLAGS:
                raise TableError(f"{r.where}: unknown doc flag {d!r}")
        first, last, step, movable = legacy_triple(r)
        r.triple = (first, last, step)
        if movable:
            unknown = any(bs[0] == "unknown" or fk[0] == "unknown" for _, _, bs, fk in r.keys)
            if unknown and "getkeys" not in r.f:
                raise TableError(f"{r.where}: keys no key spec can find need getkeys")
            r.flags.append("movablekeys")
        r.route = r.f.get("route", "keys" if r.keys else "local")
        if r.route not in ROUTES:
            raise TableError(f"{r.where}: unknown route {r.route!r}")
        nspecs = len(r.keys)

        def walk(args):
            for a in args:
                ks = a.opts.get("key_spec")
                if ks is not None and not (ks.isdigit() and int(ks) < nspecs):
                    raise TableError(f"{r.where}: argument {a.name} names key spec {ks}")
                walk(a.children)

        walk(r.args)
    for r in rows:
        if "fn" not in r.f and not r.subs:
            raise TableError(f"{r.where}: {r.full} has neither fn nor subcommands")
    return [r for r in rows if not r.parent]


def emit_args(out, prefix, args):
    """Emit the arrays of an argument list (children first); return the array's name."""
    names = []
    for i, a in enumerate(args):
        names.append(emit_args(out, f"{prefix}_{i}", a.children) if a.children else None)
    name = f"args_{prefix}"
    out.append(f"static const struct cmd_arg {name}[] = {{")
    for a, sub in zip(args, names):
        flags = " | ".join("CMD_ARG_" + f.upper() for f in a.flags) or "0"
        out.append(
            f"    {{ .name = {c_str(a.name)}, .type = CMD_ARG_{ident(a.type).upper()}, "
            f".flags = {flags}, .key_spec = {a.opts.get('key_spec', '-1')}, "
            f".token = {c_str(a.opts.get('token'))}, .summary = {c_str(a.opts.get('summary'))}, "
            f".since = {c_str(a.opts.get('since'))}, "
            f".deprecated_since = {c_str(a.opts.get('deprecated_since'))}, "
            f".nargs = {len(a.children)}, .args = {sub or 'NULL'} }},")
    out.append("};")
    return name


def emit_keys(out, prefix, keys):
    name = f"keys_{prefix}"
    out.append(f"static const struct cmd_key_spec {name}[] = {{")
    for flags, notes, bs, fk in keys:
        fl = " | ".join("CMD_KS_" + f for f in flags) or "0"
        if bs[0] == "index":
            b = f".bs_type = CMD_KS_INDEX, .bs = {{ .index = {int(bs[1])} }}"
        elif bs[0] == "keyword":
            b = (f".bs_type = CMD_KS_KEYWORD, .bs = {{ .keyword = {{ {c_str(bs[1])}, "
                 f"{int(bs[2])} }} }}")
        else:
            b = ".bs_type = CMD_KS_BEGIN_UNKNOWN"
        if fk[0] in ("range", "keynum"):
            kind = "RANGE" if fk[0] == "range" else "KEYNUM"
            nums = ", ".join(str(int(x)) for x in fk[1:4])
            k = f".fk_type = CMD_KS_{kind}, .fk = {{ .{fk[0]} = {{ {nums} }} }}"
        else:
            k = ".fk_type = CMD_KS_FIND_UNKNOWN"
        out.append(f"    {{ .flags = {fl}, .notes = {c_str(notes)}, {b}, {k} }},")
    out.append("};")
    return name


def emit_row(r, subs_name, extra):
    """One struct cmd_def initializer, a field per line."""
    flags = " | ".join("CMD_" + f.upper() for f in r.flags) or "0"
    acl = " | ".join("CMD_ACL_" + a.upper() for a in r.acl) or "0"
    doc_flags = " | ".join("CMD_DOC_" + d.upper() for d in r.f.get("doc_flags", "").split())
    fields = [
        f".name = {c_str(r.name)}", f".fn = {r.f.get('fn', 'NULL')}",
        f".arity = {int(r.f['arity'])}", f".flags = {flags}", f".acl = cmd_acl({flags}, {acl})",
        f".id = CMD_ID_{ident(r.full).upper()}", f".route = ROUTE_{r.route.upper()}",
        f".first_key = {r.triple[0]}", f".last_key = {r.triple[1]}",
        f".key_step = {r.triple[2]}", f".nsubs = {len(r.subs)}",
        f".subs = {subs_name or 'NULL'}", f".getkeys = {r.f.get('getkeys', 'NULL')}",
        f".group = {c_str(r.f['group'])}", f".since = {c_str(r.f['since'])}",
        f".summary = {c_str(r.f['summary'])}", f".complexity = {c_str(r.f.get('complexity'))}",
        f".doc_flags = {doc_flags or '0'}",
        f".deprecated_since = {c_str(r.f.get('deprecated_since'))}",
        f".replaced_by = {c_str(r.f.get('replaced_by'))}", f".tips = {c_str(r.f.get('tips'))}",
    ] + extra
    return "    {\n" + "".join(f"        {f},\n" for f in fields) + "    },"


def generate(src, c_path, h_path):
    tops = check(parse(src))
    allrows = [x for r in tops for x in [r] + r.subs]
    h = ["/* Generated from commands.table by gen_commands.py: do not edit. */",
         "#ifndef POLLUX_COMMANDS_H", "#define POLLUX_COMMANDS_H", "",
         '#include "cmd/cmd.h"', "",
         "/* One id per row, subcommands included: ACL bits, statistics. */",
         "enum cmd_id {"]
    for r in allrows:
        h.append(f"    CMD_ID_{ident(r.full).upper()},")
    h += ["    CMD_ID_COUNT,", "};", "", "/* The handlers the rows name. */"]
    fns = sorted({r.f["fn"] for r in allrows if "fn" in r.f})
    h += [f"void {fn}(struct cmd_ctx *c);" for fn in fns]
    gks = sorted({r.f["getkeys"] for r in allrows if "getkeys" in r.f})
    h += [f"int {g}(int argc, const struct resp_arg *argv, int *keys, uint32_t *flags, int max);"
          for g in gks]
    h += ["", "#endif", ""]

    c = ["/* Generated from commands.table by gen_commands.py: do not edit. */",
         '#include "cmd/commands.h"', "", "#include <stddef.h>", ""]

    def parts(r):
        p = ident(r.full)
        a = emit_args(c, p, r.args) if r.args else None
        k = emit_keys(c, p, r.keys) if r.keys else None
        return [f".nargs = {len(r.args)}", f".args = {a or 'NULL'}",
                f".nkeyspecs = {len(r.keys)}", f".keyspecs = {k or 'NULL'}"]

    body = []
    for r in tops:
        subs_name = None
        if r.subs:
            lines = [emit_row(s, None, parts(s)) for s in r.subs]
            subs_name = f"subs_{ident(r.full)}"
            c.append(f"static const struct cmd_def {subs_name}[] = {{")
            c += lines
            c.append("    { .name = NULL },")
            c.append("};")
        body.append(emit_row(r, subs_name, parts(r)))
    c.append("const struct cmd_def cmd_table[] = {")
    c += body
    c.append("    { .name = NULL },")
    c.append("};")
    c.append("")
    with open(c_path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(c))
    with open(h_path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(h))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    try:
        generate(*sys.argv[1:])
    except TableError as e:
        sys.exit(f"gen_commands: {e}")
