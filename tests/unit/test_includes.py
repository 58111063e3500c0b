#!/usr/bin/env python3
"""Includes name their folder, file names are unique, commands stay above the worker.

    python3 tests/unit/test_includes.py REPO_ROOT

- every project header is included by its path from dataplane/ ("base/util.h") or from
  the repository root ("replication/repl.h", "control/link.h"): no bare names, so no
  include can silently resolve to another folder's file of the same name;
- no two source files share a name (main.c aside: one per program);
- the command handlers built without the worker (cmd/'s pollux_cmd_node library) include
  none of worker/'s headers: they reach the client and the node through cmd/client.h and
  cmd/node.h.
"""

import os
import re
import subprocess
import sys
import unittest

ROOT = None
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
ROOTS = ("dataplane", "")


def tracked(*patterns):
    out = subprocess.run(["git", "-C", ROOT, "ls-files", *patterns], capture_output=True,
                         text=True, check=True).stdout
    return [p for p in out.split() if os.path.exists(os.path.join(ROOT, p))]


def includes(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return INCLUDE.findall(f.read())


def resolves(name):
    return any(os.path.exists(os.path.join(ROOT, r, name)) for r in ROOTS) or \
        name == "cmd/commands.h"  # generated into the build tree


class Includes(unittest.TestCase):
    def test_includes_are_path_qualified(self):
        bad = [f"{p}: \"{i}\"" for p in tracked("*.c", "*.h", "*.cc")
               for i in includes(p) if "/" not in i or not resolves(i)]
        self.assertEqual(bad, [], "include by path from dataplane/ or the repository root")

    def test_file_names_are_unique(self):
        seen = {}
        for p in tracked("*.c", "*.h", "*.cc"):
            n = os.path.basename(p)
            if n != "main.c":
                seen.setdefault(n, []).append(p)
        self.assertEqual({n: ps for n, ps in seen.items() if len(ps) > 1}, {})

    def test_commands_do_not_reach_into_the_worker(self):
        with open(os.path.join(ROOT, "dataplane", "cmd", "meson.build"), encoding="utf-8") as f:
            m = re.search(r"cmd_node_src\s*=\s*files\(([^)]*)\)", f.read())
        self.assertIsNotNone(m, "cmd_node_src in dataplane/cmd/meson.build")
        files = re.findall(r"'([^']+)'", m.group(1))
        self.assertIn("connection.c", files)
        bad = [f"cmd/{n} includes {i}" for n in files
               for i in includes(os.path.join("dataplane", "cmd", n)) if i.startswith("worker/")]
        self.assertEqual(bad, [], "use cmd/client.h or cmd/node.h")


if __name__ == "__main__":
    ROOT = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
