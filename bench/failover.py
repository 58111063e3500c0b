#!/usr/bin/env python3
"""Failover time of pollux-control with its default settings.

Starts three nodes in two zones and pollux-control (default probe interval and
down-after threshold), creates a Multi-AZ group, and then, for each run:

  * a writer sets keys on the primary, each followed by WAIT 1 (acknowledged by a
    replica), for a moment;
  * the primary gets SIGKILL; the clock starts;
  * the writer asks pollux-control (SENTINEL get-master-addr-by-name) where the
    primary is and retries SET until one succeeds on a new primary; the clock stops;
  * every acknowledged key is read back from the new primary (lost ones are counted);
  * the killed node is restarted (it rejoins as a replica) and the group is waited for;
  * the next run starts once the group's settle period after a failover
    (--failover-settle-ms, shortened to SETTLE_MS here) has passed, so that each run
    measures detection and promotion, not the hysteresis.

It prints each run and the median. A benchmark, not a test: it is not registered
with meson and never gates CI. The target of the design is <= 2 s with 0 lost.

    /usr/bin/python3 bench/failover.py --control build/control/pollux-control \
        --ctl build/control/polluxctl [--node-server build/dataplane/polluxd] \
        [--node-args "--pollux-idle-sleep-us 200"] [--runs 5]
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
import control_harness as ch  # noqa: E402
import harness as h  # noqa: E402


# pollux-control holds back an automatic failover for this long after the previous one of
# the same group; the runs wait it out between kills.
SETTLE_MS = 2000


def one_run(c, run):
    import redis
    ctl = c.control.redis(socket_timeout=2)  # authenticated as the harness admin
    host, port = ctl.sentinel_get_master_addr_by_name("rg1")
    old = next(n for n in c.nodes.values() if n.port == port)
    w = redis.Redis(host=host, port=port, socket_timeout=2)
    acked = []
    for i in range(300):
        key = f"run{run}:k{i}"
        w.set(key, i)
        if w.execute_command("WAIT", 1, 1000) >= 1:
            acked.append(key)
    old.kill9()
    t0 = time.monotonic()
    new_port = None
    while time.monotonic() - t0 < 30:
        try:
            addr = ctl.sentinel_get_master_addr_by_name("rg1")
            if addr and addr[1] != port:
                r = redis.Redis(host=addr[0], port=addr[1], socket_timeout=1)
                if r.set(f"run{run}:after", 1):
                    new_port = addr[1]
                    break
        except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
            pass
        time.sleep(0.005)
    elapsed = time.monotonic() - t0
    if new_port is None:
        raise SystemExit(f"run {run}: no new primary within 30 s\n{c.logs()}")
    r = redis.Redis(host=ch.HOST, port=new_port, socket_timeout=5)
    values = r.mget(acked)
    lost = sum(1 for v in values if v is None)
    c.wait_failover_done("rg1")
    settled_at = time.monotonic() + SETTLE_MS / 1000
    old.restart()
    c.wait_available("rg1")
    # Wait until the returned node is a synchronised replica again.
    h.wait_until(lambda: old.redis().info("replication").get("master_link_status") == "up", 30)
    time.sleep(max(0.0, settled_at - time.monotonic()))  # the settle period, not readiness
    return elapsed, lost, len(acked)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--control", required=True)
    ap.add_argument("--ctl", required=True)
    ap.add_argument("--node-server", default="redis-server")
    ap.add_argument("--node-args", default="",
                    help="extra node arguments, e.g. '--pollux-idle-sleep-us 200' for several "
                         "polluxd nodes sharing a small machine")
    ap.add_argument("--runs", type=int, default=5)
    opts = ap.parse_args()
    # The defaults are what is measured (probe interval, down-after, timeouts).
    ch.configure(opts.control, opts.ctl, opts.node_server, opts.node_args,
                 ["--failover-settle-ms", str(SETTLE_MS)])
    c = ch.Cluster(("az-a", "az-b", "az-b")).start()
    try:
        c.create_group("rg1", "n1", ("n2", "n3"), "--multi-az")
        times = []
        for run in range(1, opts.runs + 1):
            elapsed, lost, acked = one_run(c, run)
            times.append(elapsed)
            print(f"run {run}: kill -9 -> new primary accepts writes in {elapsed:.3f} s; "
                  f"{lost} of {acked} acknowledged (WAIT 1) writes lost", flush=True)
        print(f"failover time: median {statistics.median(times):.3f} s, "
              f"min {min(times):.3f} s, max {max(times):.3f} s over {len(times)} runs")
    finally:
        c.stop()


if __name__ == "__main__":
    main()
