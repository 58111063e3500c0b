#!/usr/bin/env python3
"""The interface between the worker and replication's node side (replication/NOTES.md).

    python3 tests/unit/test_repl_layering.py REPO_ROOT

- replication/'s sources, host.h included, include none of the worker's headers
  (dataplane/worker/*.h), and the node library is built without dataplane/worker/ on
  its include path: the worker implements host.h (worker/repl_host.c);
- nothing outside replication/ includes repl_int.h (the worker calls repl.h only);
- the worker does not name replication's per-worker or per-connection fields: they are
  in struct repl_worker and struct repl_conn (w->repl, c->repl), and the only ones it
  touches are the init/release calls;
- replication/ reads no field of struct conn and no CONN_* flag: it calls host.h's
  host_conn_* functions (worker/repl_host.c), nor struct worker's counters, output
  limits or own connection (host_worker_*).
"""

import os
import re
import sys
import unittest

ROOT = None
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def sources(folder):
    top = os.path.join(ROOT, folder)
    for dirpath, _, names in os.walk(top):
        for n in sorted(names):
            if n.endswith((".c", ".h")):
                yield os.path.join(dirpath, n)


def includes(path):
    with open(path, encoding="utf-8") as f:
        return [os.path.basename(i) for i in INCLUDE.findall(f.read())]


def code_lines(path):
    """The file's lines with C comments blanked (line numbers kept)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group().count("\n"), text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text).split("\n")


class Layering(unittest.TestCase):
    def test_replication_includes_no_worker_header(self):
        worker_headers = {n for n in os.listdir(os.path.join(ROOT, "dataplane", "worker"))
                          if n.endswith(".h")}
        self.assertIn("worker.h", worker_headers)
        bad = []
        for p in sources("replication"):
            for i in includes(p):
                if i in worker_headers:
                    bad.append(f"{os.path.relpath(p, ROOT)} includes {i}")
        self.assertEqual(bad, [], "declare what is needed in host.h (worker/repl_host.c)")

    def test_node_library_built_without_worker_path(self):
        with open(os.path.join(ROOT, "replication", "meson.build"), encoding="utf-8") as f:
            text = f.read()
        m = re.search(r"static_library\('pollux_repl_node',(.*?)\)\n", text, re.S)
        self.assertIsNotNone(m, "the node library's static_library() call")
        self.assertIn("implicit_include_directories : false", m.group(1))
        self.assertNotIn("worker", m.group(1))

    def test_repl_int_h_stays_in_replication(self):
        bad = [os.path.relpath(p, ROOT) for folder in ("dataplane", "control", "tests")
               for p in sources(folder) if "repl_int.h" in includes(p)]
        self.assertEqual(bad, [], "the worker calls repl.h only")

    def test_worker_keeps_replication_state_without_reading_it(self):
        fields = re.compile(r"->repl\.\w+|->repl_(collecting|collect|txseq|save_check_s|port|ip)\b|"
                            r"->(save_(sync|reply_at_start|failed|retiring)|wait_\w+|replica_next|replica_conns|block_deadline_ms)\b")
        bad = []
        for p in sources(os.path.join("dataplane", "worker")):
            with open(p, encoding="utf-8") as f:
                for n, line in enumerate(f, 1):
                    if fields.search(line):
                        bad.append(f"{os.path.relpath(p, ROOT)}:{n}: {line.strip()}")
        self.assertEqual(bad, [], "replication's fields belong to replication/")

    def test_replication_reads_worker_structs_through_host_calls(self):
        # struct conn is the worker's: replication/ goes through host.h's host_conn_* calls
        # (its own per-connection state through host_conn_repl, the flags through what
        # they mean). The names below exist only in struct conn and conn.h, not in
        # struct cmd_ctx, which replication's command handlers read.
        fields = re.compile(r"\bCONN_[A-Z_]+\b|->(rbuf|rpos|rlen|rcap|parser|inflight|"
                            r"peer|multi|replica|authenticated|user|out)\b|"
                            # and of struct worker's, those the host_worker_* calls cover
                            r"->(blocked_clients|internal|obuf|stats)\b")
        bad = []
        for p in sources("replication"):
            if os.path.basename(p) == "host.h":
                continue
            for n, line in enumerate(code_lines(p), 1):
                if fields.search(line):
                    bad.append(f"{os.path.relpath(p, ROOT)}:{n}: {line.strip()}")
        self.assertEqual(bad, [], "use host.h's connection calls")


if __name__ == "__main__":
    ROOT = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 else
                           os.path.join(os.path.dirname(__file__), "..", ".."))
    unittest.main()
