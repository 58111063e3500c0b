#!/usr/bin/env python3
"""The build and test scripts: the DPDK backend in every build, skips named and failed in CI.

    python3 tests/scripts/test_scripts.py [--root REPO] [unittest names...]

- meson's dpdk option is `enabled`: configuring without libdpdk stops with an error that
  says what to install;
- scripts/test.sh switches a build folder configured with dpdk=auto before libdpdk was
  found to `enabled`, and the reconfigured folder builds the DPDK backend;
- scripts/test.sh's summary names every skip, and with CI=true a skipped test or a suite
  without tests fails the stage;
- scripts/deps.sh installs libdpdk-dev with the runtime set, iproute2 and iputils-ping
  with the dev set.

The scripts are sourced (scripts/test.sh runs nothing then) and their functions called on
throwaway build folders; libdpdk is hidden from pkg-config by a pkg-config folder that
holds every installed .pc file except DPDK's.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(argv, env=None, **kw):
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600, **kw)


def test_sh(script, env=None):
    """Run bash with scripts/test.sh sourced, then `script`."""
    return run(["bash", "-c", f'source "{ROOT}/scripts/test.sh" && {script}'], env=env)


def build_options(builddir):
    out = run(["meson", "introspect", "--buildoptions", builddir])
    return {o["name"]: o["value"] for o in json.loads(out.stdout)}


def has_dpdk_target(builddir):
    out = run(["meson", "introspect", "--targets", builddir])
    return any(t["name"] == "pollux_dpdk" for t in json.loads(out.stdout))


class Scratch(unittest.TestCase):
    """A temporary folder with a pkg-config folder that lacks libdpdk."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="pollux-scripts-")
        cls.pc = os.path.join(cls.tmp, "pkgconfig")
        os.mkdir(cls.pc)
        dirs = run(["pkg-config", "--variable", "pc_path", "pkg-config"]).stdout.strip()
        for d in dirs.split(":"):
            if not os.path.isdir(d):
                continue
            for f in os.listdir(d):
                dst = os.path.join(cls.pc, f)
                if f.endswith(".pc") and not f.startswith("libdpdk") and not os.path.exists(dst):
                    os.symlink(os.path.join(d, f), dst)
        cls.no_dpdk = dict(os.environ, PKG_CONFIG_LIBDIR=cls.pc)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setup(self, name, *args, env=None):
        builddir = os.path.join(self.tmp, name)
        return builddir, run(["meson", "setup", builddir, ROOT, "-Dintegration=false"]
                             + list(args), env=env)


class DpdkInEveryBuild(Scratch):

    def test_libdpdk_is_findable(self):
        self.assertEqual(run(["pkg-config", "--exists", "libdpdk"]).returncode, 0,
                         "libdpdk-dev is not installed (scripts/deps.sh installs it)")
        # ...and hidden in the scratch pkg-config folder.
        self.assertNotEqual(run(["pkg-config", "--exists", "libdpdk"],
                                env=self.no_dpdk).returncode, 0)

    def test_default_configure_without_libdpdk_says_what_to_install(self):
        _, out = self.setup("default", env=self.no_dpdk)
        self.assertNotEqual(out.returncode, 0, out.stdout)
        text = out.stdout + out.stderr
        self.assertIn("libdpdk-dev", text)
        self.assertIn("-Ddpdk=disabled", text)

    def without_dpdk_then_ensure(self, name, option):
        """Configure `name` with -Ddpdk=`option` while libdpdk is hidden (no DPDK backend),
        then run scripts/test.sh's ensure_dpdk on it with libdpdk visible again."""
        builddir, out = self.setup(name, f"-Ddpdk={option}", env=self.no_dpdk)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertFalse(has_dpdk_target(builddir))
        sh = test_sh(f'ensure_dpdk "{builddir}"')
        self.assertEqual(sh.returncode, 0, sh.stdout + sh.stderr)
        return builddir, sh

    def test_disabled_builds_without_dpdk(self):
        # scripts/test.sh keeps an explicit choice.
        builddir, _ = self.without_dpdk_then_ensure("disabled", "disabled")
        self.assertEqual(build_options(builddir)["dpdk"], "disabled")
        self.assertFalse(has_dpdk_target(builddir))

    def test_folder_configured_before_libdpdk_is_reconfigured(self):
        # The old default (auto) on a machine without libdpdk-dev, then libdpdk-dev is
        # installed (here: visible again) and `make build` runs.
        builddir, sh = self.without_dpdk_then_ensure("old-auto", "auto")
        self.assertIn("reconfiguring with -Ddpdk=enabled", sh.stdout)
        self.assertEqual(build_options(builddir)["dpdk"], "enabled")
        self.assertTrue(has_dpdk_target(builddir))
        # Without libdpdk the reconfigure stops with the error, it does not go on without.
        builddir, out = self.setup("old-auto-2", "-Ddpdk=auto", env=self.no_dpdk)
        sh = test_sh(f'ensure_dpdk "{builddir}"', env=self.no_dpdk)
        self.assertNotEqual(sh.returncode, 0)
        self.assertIn("libdpdk-dev", sh.stderr)


class Skips(Scratch):
    """scripts/test.sh's accounting of one `meson test` log."""

    def write_log(self, name, rows):
        d = os.path.join(self.tmp, name)
        os.makedirs(os.path.join(d, "meson-logs"), exist_ok=True)
        with open(os.path.join(d, "meson-logs", "suite.json"), "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
        return d

    def count(self, d, ci):
        return test_sh(f'ci={ci}; count "{d}" suite; rc=$?; '
                       'echo "rc=$rc $total_pass $total_fail $total_skip"; '
                       'printf "skip: %s\\n" "${skipped[@]}"')

    def test_every_skip_named_and_whole_skips_fail_under_ci(self):
        d = self.write_log("log", [
            {"name": "dpdk", "result": "OK", "stdout": "",
             "stderr": "test_a (__main__.A.test_a) ... ok\n"
                       "test_b (__main__.B.test_b)\nB's docstring. ... skipped 'on purpose'\n"},
            {"name": "cli", "result": "SKIP", "stdout": "",
             "stderr": "SKIP: redis-cli not found\n"},
            {"name": "keys", "result": "FAIL", "stdout": "", "stderr": ""},
        ])
        for ci, rc in ((0, 0), (1, 1)):
            out = self.count(d, ci)
            self.assertIn(f"rc={rc} 1 1 1", out.stdout, out.stderr)
            self.assertIn(f"skip: {d} [suite] dpdk: B.test_b 'on purpose'", out.stdout)
            self.assertIn(f"skip: {d} [suite] cli (whole test) SKIP: redis-cli not found",
                          out.stdout)
        # Nothing skipped: passes under CI too.
        d = self.write_log("clean", [{"name": "x", "result": "OK", "stdout": "ok\n"}])
        out = self.count(d, 1)
        self.assertIn("rc=0 1 0 0", out.stdout, out.stderr)
        self.assertNotIn("skip: /", out.stdout)

    def test_suite_without_tests_fails_under_ci(self):
        builddir, out = self.setup("suites", "-Ddpdk=disabled", "-Dtests=disabled")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        for ci, rc in ((0, 0), (1, 1)):
            sh = test_sh(f'ci={ci}; run_suites "{builddir}" nosuchsuite; echo "rc=$?"; '
                         'printf "skip: %s\\n" "${skipped[@]}"')
            self.assertIn(f"rc={rc}", sh.stdout, sh.stderr)
            self.assertIn(f"skip: {builddir} [nosuchsuite] the whole suite (no tests defined)",
                          sh.stdout)


class Deps(unittest.TestCase):

    def pkgs(self, *flags):
        out = run([os.path.join(ROOT, "scripts", "deps.sh"), "--print"] + list(flags))
        self.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout.split()

    def test_dpdk_in_runtime_set_and_suite_tools_in_dev_set(self):
        self.assertIn("libdpdk-dev", self.pkgs())
        dev = self.pkgs("--dev")
        for p in ("libdpdk-dev", "iproute2", "iputils-ping", "redis-tools"):
            self.assertIn(p, dev)
        self.assertEqual(set(self.pkgs("--all")) >= set(dev), True)


def main():
    global ROOT
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=ROOT, help="the repository (source folder)")
    opts, rest = ap.parse_known_args()
    ROOT = os.path.abspath(opts.root)
    prog = unittest.main(argv=[sys.argv[0]] + rest, exit=False, verbosity=2)
    sys.exit(0 if prog.result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
