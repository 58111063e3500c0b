#!/usr/bin/env python3
"""Spurious failovers of pollux-control on a starved host.

Starts three nodes in two zones and pollux-control with its default detection
settings (probe every 100 ms, down after 1,000 ms), creates a Multi-AZ group, and
for --seconds starves the primary without ever killing it:

  * --hogs processes spin on the CPU the whole time;
  * the primary is stopped (SIGSTOP) for a random 100-600 ms, then continued
    (SIGCONT) for a random 100-500 ms, over and over; every tenth pause lasts
    --long-pause-ms (2,500 ms by default: longer than the down window).

Nothing dies, so every failover counted is a spurious one. At the end it prints
the failovers and fencings recorded in the events and the "no failover" decisions.
A benchmark, not a test: it is not registered with meson and never gates CI.

    /usr/bin/python3 bench/failover_starvation.py --control build/control/pollux-control \
        --ctl build/control/polluxctl --node-server build/dataplane/polluxd \
        [--node-args "--pollux-idle-sleep-us 200"] [--seconds 180] [--hogs 2]
"""

import argparse
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
import control_harness as ch  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--control", required=True)
    ap.add_argument("--ctl", required=True)
    ap.add_argument("--node-server", default="redis-server")
    ap.add_argument("--node-args", default="")
    ap.add_argument("--seconds", type=float, default=180)
    ap.add_argument("--hogs", type=int, default=2)
    ap.add_argument("--long-pause-ms", type=int, default=2500)
    ap.add_argument("--seed", type=int, default=1)
    opts = ap.parse_args()
    ch.configure(opts.control, opts.ctl, opts.node_server, opts.node_args, [])
    rnd = random.Random(opts.seed)
    c = ch.Cluster(("az-a", "az-b", "az-b")).start()
    pauses = 0
    try:
        c.create_group("rg1", "n1", ("n2", "n3"), "--multi-az")
        with ch.cpu_hogs(opts.hogs):
            end = time.monotonic() + opts.seconds
            while time.monotonic() < end:
                p = c.nodes[c.primary_of("rg1")]
                pauses += 1
                ms = opts.long_pause_ms if pauses % 10 == 0 else rnd.randint(100, 600)
                p.pause()
                try:
                    time.sleep(ms / 1000)
                finally:
                    p.resume()
                time.sleep(rnd.randint(100, 500) / 1000)
        events = c.ctl_json("describe-events", "--max-records", "10000")["Events"]
        msgs = [e["Message"] for e in events]
        failovers = [m for m in msgs if "failover from node" in m and "started" in m]
        fenced = [m for m in msgs if "fenced" in m]
        disputed = [m for m in msgs if "no failover" in m]
        print(f"{opts.seconds:.0f} s, {pauses} pauses of the primary, {opts.hogs} CPU hogs: "
              f"{len(failovers)} automatic failovers, {len(fenced)} fencings, "
              f"{len(disputed)} 'no failover' decisions")
        for m in failovers:
            print("  " + m)
    finally:
        for n in c.nodes.values():
            if n.alive():
                n.resume()
        c.stop()


if __name__ == "__main__":
    main()
