#!/usr/bin/env python3
"""INFO's counter sections, line by line: the Stats and Pollux sections keep the
fields and the order they had before the worker counters became one table
(dataplane/worker/worker.h WORKER_STATS), and the totals the table drives add up
to what the clients did and to the per-worker lines."""

import re
import unittest

import harness as h

# INFO stats as Redis 7.0 orders it (and as polluxd printed it by hand before).
STATS_FIELDS = """
total_connections_received total_commands_processed instantaneous_ops_per_sec
total_net_input_bytes total_net_output_bytes total_net_repl_input_bytes
total_net_repl_output_bytes instantaneous_input_kbps instantaneous_output_kbps
instantaneous_input_repl_kbps instantaneous_output_repl_kbps rejected_connections sync_full
sync_partial_ok sync_partial_err expired_keys expired_stale_perc expired_time_cap_reached_count
expire_cycle_cpu_milliseconds evicted_keys evicted_clients total_eviction_exceeded_time
current_eviction_exceeded_time keyspace_hits keyspace_misses pubsub_channels pubsub_patterns
pubsubshard_channels latest_fork_usec total_forks migrate_cached_sockets
slave_expires_tracked_keys active_defrag_hits active_defrag_misses active_defrag_key_hits
active_defrag_key_misses total_active_defrag_time current_active_defrag_time
tracking_total_keys tracking_total_items tracking_total_prefixes unexpected_error_replies
total_error_replies dump_payload_sanitizations total_reads_processed total_writes_processed
io_threaded_reads_processed io_threaded_writes_processed reply_buffer_shrinks
reply_buffer_expands pollux_rejected_sources
""".split()

POLLUX_FIELDS = """
pollux_version pollux_backend pollux_workers pollux_forwarded_requests pollux_transactions
pollux_memory_overhead pollux_memory_traffic pollux_loop_passes pollux_busy_passes
pollux_busy_usec
""".split()

FLOATS = {"instantaneous_input_kbps", "instantaneous_output_kbps",
          "instantaneous_input_repl_kbps", "instantaneous_output_repl_kbps",
          "expired_stale_perc"}


def lines(text):
    """The "name:value" lines of one INFO section, in order, header checked."""
    text = text.decode() if isinstance(text, bytes) else text
    rows = text.split("\r\n")
    assert rows[-1] == "", "INFO ends with CRLF"
    return rows[0], [tuple(r.split(":", 1)) for r in rows[1:-1]]


def worker_lines(fields):
    """worker<i> lines of INFO pollux -> list of {key: int-or-str}."""
    out = []
    for name, value in fields:
        if re.fullmatch(r"worker\d+", name):
            kv = dict(p.split("=", 1) for p in value.split(","))
            out.append({k: int(v) if v.lstrip("-").isdigit() else v for k, v in kv.items()})
    return out


class StatsSection(h.ServerTestCase):

    def stats(self, c):
        title, fields = lines(c.command("INFO", "stats"))
        self.assertEqual(title, "# Stats")
        return fields

    def test_fields_and_order(self):
        with self.server.raw() as c:
            fields = self.stats(c)
        self.assertEqual([n for n, _ in fields], STATS_FIELDS)
        for name, value in fields:
            pattern = r"\d+\.\d\d" if name in FLOATS else r"\d+"
            self.assertRegex(value, rf"^{pattern}$", name)

    def test_totals_follow_the_clients(self):
        with self.server.raw() as c:
            before = dict(self.stats(c))
            for _ in range(25):
                self.assertEqual(c.command("PING"), b"PONG")
            err = c.command("NOSUCHCOMMAND")
            self.assertTrue(bytes(err).startswith(b"ERR unknown command"), err)
            after = dict(self.stats(c))
        # 25 PINGs and the first INFO (counted once it ran); the unknown command is not.
        self.assertEqual(int(after["total_commands_processed"]) -
                         int(before["total_commands_processed"]), 26)
        self.assertEqual(int(after["total_error_replies"]) - int(before["total_error_replies"]), 1)
        self.assertGreater(int(after["total_net_input_bytes"]),
                           int(before["total_net_input_bytes"]))
        self.assertGreater(int(after["total_reads_processed"]),
                           int(before["total_reads_processed"]))


class PolluxSection(h.ServerTestCase):

    def pollux(self, c):
        title, fields = lines(c.command("INFO", "pollux"))
        self.assertEqual(title, "# Pollux")
        return fields

    @h.skip_if_real_redis("INFO pollux is polluxd's own")
    def test_fields_and_order(self):
        with self.server.raw() as c:
            fields = self.pollux(c)
        names = [n for n, _ in fields]
        nworkers = int(dict(fields)["pollux_workers"])
        self.assertEqual(names, POLLUX_FIELDS + [f"worker{i}" for i in range(nworkers)])
        for name in POLLUX_FIELDS[3:]:
            self.assertRegex(dict(fields)[name], r"^\d+$", name)

    @h.skip_if_real_redis("INFO pollux is polluxd's own")
    def test_totals_are_the_sum_of_the_workers(self):
        with self.server.raw() as c:
            # Keys whose slots fall on every shard: some are forwarded from this connection.
            for i in range(32):
                c.command("SET", f"info:{i}", "v")
            fields = self.pollux(c)
            stats = dict(lines(c.command("INFO", "stats"))[1])
        totals = dict(fields)
        workers = worker_lines(fields)
        self.assertEqual(len(workers), int(totals["pollux_workers"]))
        self.assertEqual(sum(w["forwarded_out"] for w in workers),
                         int(totals["pollux_forwarded_requests"]))
        if len(workers) > 1:
            self.assertGreater(int(totals["pollux_forwarded_requests"]), 0)
        self.assertEqual(sum(w["forwarded_out"] for w in workers),
                         sum(w["forwarded_in"] for w in workers))
        # INFO stats ran after INFO pollux: exactly one more command than the workers showed.
        self.assertEqual(sum(w["commands"] for w in workers) + 1,
                         int(stats["total_commands_processed"]))
        self.assertGreaterEqual(int(totals["pollux_loop_passes"]),
                                int(totals["pollux_busy_passes"]))


if __name__ == "__main__":
    h.main(needs_redis_py=False)
