#!/usr/bin/env python3
"""dataplane/cmd/gen_commands.py: what it derives from a table and what it refuses.

    test_gen_commands.py <path to gen_commands.py>
"""

import importlib.util
import os
import sys
import tempfile
import unittest

GEN = sys.argv.pop(1) if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), "..", "..", "dataplane", "cmd", "gen_commands.py")
spec = importlib.util.spec_from_file_location("gen_commands", GEN)
gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gen)

ROW = """command foo
    fn          cmd_foo
    arity       -2
    flags       write
    group       generic
    since       7.0.0
    summary     s
"""


class Generator(unittest.TestCase):

    def tops(self, text):
        with tempfile.NamedTemporaryFile("w", suffix=".table", delete=False) as f:
            f.write(text)
        self.addCleanup(os.unlink, f.name)
        return gen.check(gen.parse(f.name))

    def refused(self, text, message):
        with self.assertRaises(gen.TableError) as e:
            self.tops(text)
        self.assertIn(message, str(e.exception))

    def test_triple_route_and_movable(self):
        r = self.tops(ROW + "    key         RW UPDATE | index 1 | range 0 1 0\n"
                            "    key         OW UPDATE | index 2 | range 0 1 0\n")[0]
        self.assertEqual(r.triple, (1, 2, 1))
        self.assertEqual(r.route, "keys")
        self.assertNotIn("movablekeys", r.flags)
        r = self.tops(ROW + "    key         RW | index 1 | range -1 2 0\n")[0]
        self.assertEqual(r.triple, (1, -1, 2))
        r = self.tops(ROW + "    key         RW | index 2 | keynum 0 1 1\n")[0]
        self.assertIn("movablekeys", r.flags)
        self.assertEqual(r.triple, (0, 0, 0))
        r = self.tops(ROW)[0]
        self.assertEqual((r.route, r.triple), ("local", (0, 0, 0)))

    def test_subcommands_and_args(self):
        tops = self.tops("command box\n    arity -2\n    group server\n    since 1.0.0\n"
                         "    summary s\n\n" + ROW.replace("command foo", "command box|foo") +
                         "    arg         opt oneof optional\n"
                         "      arg       a pure-token token=A\n"
                         "      arg       b integer token=B\n")
        self.assertEqual([r.full for r in tops], ["box"])
        sub = tops[0].subs[0]
        self.assertEqual(sub.name, "foo")
        self.assertEqual([a.name for a in sub.args[0].children], ["a", "b"])

    def test_refusals(self):
        self.refused(ROW.replace("flags       write", "flags       wrte"), "unknown flag")
        self.refused(ROW.replace("group       generic", "group       nosuch"), "unknown group")
        self.refused(ROW + "    acl         strings\n", "unknown ACL category")
        self.refused(ROW + "    arg         k key key_spec=0\n", "names key spec 0")
        self.refused(ROW + "    arg         k blob\n", "unknown argument type")
        self.refused(ROW + "      arg       k key\n", "argument indentation")
        self.refused(ROW + "    key         RX | index 1 | range 0 1 0\n", "unknown key flag")
        self.refused(ROW + "    key         RW | unknown | unknown\n", "need getkeys")
        self.refused(ROW.replace("    fn          cmd_foo\n", ""), "neither fn nor subcommands")
        self.refused(ROW.replace("    since       7.0.0\n", ""), "has no since")
        self.refused(ROW + ROW, "given twice")
        self.refused(ROW.replace("command foo", "command box|foo"), "must come first")
        self.refused(ROW + "    colour      red\n", "unknown attribute")


if __name__ == "__main__":
    unittest.main()
