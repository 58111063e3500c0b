/*
 * INFO: Redis's sections and field names, filled from every worker's
 * counters. Runs with every shard held, so reading other workers' memory is
 * ordered by the hold hand-off.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "worker/backend.h"
#include "base/clock.h"
#include "worker/cmd_server.h"
#include "worker/conn.h"
#include "base/mem.h"
#include "replication/repl.h"
#include "worker/process.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "worker/channels.h"
#include "worker/script.h"
#include "worker/worker.h"

static atomic_size_t memory_peak;

enum {
    SEC_SERVER = 1 << 0,
    SEC_CLIENTS = 1 << 1,
    SEC_MEMORY = 1 << 2,
    SEC_PERSISTENCE = 1 << 3,
    SEC_STATS = 1 << 4,
    SEC_REPLICATION = 1 << 5,
    SEC_CPU = 1 << 6,
    SEC_MODULES = 1 << 7,
    SEC_COMMANDSTATS = 1 << 8,
    SEC_ERRORSTATS = 1 << 9,
    SEC_CLUSTER = 1 << 10,
    SEC_KEYSPACE = 1 << 11,
    SEC_POLLUX = 1 << 12,
    SEC_NETWORK = 1 << 13,
    SEC_LATENCYSTATS = 1 << 14,
};

static const struct {
    const char *name;
    unsigned bit;
} section_names[] = {
    { "server", SEC_SERVER },
    { "clients", SEC_CLIENTS },
    { "memory", SEC_MEMORY },
    { "persistence", SEC_PERSISTENCE },
    { "stats", SEC_STATS },
    { "replication", SEC_REPLICATION },
    { "cpu", SEC_CPU },
    { "modules", SEC_MODULES },
    { "commandstats", SEC_COMMANDSTATS },
    { "errorstats", SEC_ERRORSTATS },
    { "cluster", SEC_CLUSTER },
    { "keyspace", SEC_KEYSPACE },
    { "pollux", SEC_POLLUX },
    { "network", SEC_NETWORK },
    { "latencystats", SEC_LATENCYSTATS },
};

#define SEC_DEFAULT                                                                                \
    (SEC_SERVER | SEC_CLIENTS | SEC_MEMORY | SEC_PERSISTENCE | SEC_STATS | SEC_REPLICATION |       \
     SEC_CPU | SEC_MODULES | SEC_ERRORSTATS | SEC_CLUSTER | SEC_KEYSPACE | SEC_POLLUX)
#define SEC_ALL (SEC_DEFAULT | SEC_COMMANDSTATS | SEC_LATENCYSTATS | SEC_NETWORK)

static unsigned parse_sections(int n, const struct resp_arg *args)
{
    if (n == 0)
        return SEC_DEFAULT;
    unsigned mask = 0;
    for (int i = 0; i < n; i++) {
        const struct resp_arg *a = &args[i];
        if (util_strcaseeq(a->ptr, a->len, "all") || util_strcaseeq(a->ptr, a->len, "everything"))
            mask |= SEC_ALL;
        else if (util_strcaseeq(a->ptr, a->len, "default"))
            mask |= SEC_DEFAULT;
        else
            for (size_t k = 0; k < ARRAY_SIZE(section_names); k++)
                if (util_strcaseeq(a->ptr, a->len, section_names[k].name))
                    mask |= section_names[k].bit;
    }
    return mask;
}

/* "1.67M" style, as Redis's bytesToHuman. */
static void human(char *buf, size_t cap, double n)
{
    if (n < 1024)
        snprintf(buf, cap, "%lluB", (unsigned long long)n);
    else if (n < 1024.0 * 1024)
        snprintf(buf, cap, "%.2fK", n / 1024);
    else if (n < 1024.0 * 1024 * 1024)
        snprintf(buf, cap, "%.2fM", n / (1024.0 * 1024));
    else if (n < 1024.0 * 1024 * 1024 * 1024)
        snprintf(buf, cap, "%.2fG", n / (1024.0 * 1024 * 1024));
    else
        snprintf(buf, cap, "%.2fT", n / (1024.0 * 1024 * 1024 * 1024));
}

const struct worker_stat_def worker_stat_defs[WSTAT_N] = {
#define WORKER_STAT_DEF(field, name_, section_, kind_)                                             \
    [WSTAT_##field] = { .name = name_, .section = section_, .kind = kind_ },
    WORKER_STATS(WORKER_STAT_DEF)
#undef WORKER_STAT_DEF
};

_Static_assert(sizeof(struct worker_stats) == WSTAT_N * sizeof(uint64_t),
               "struct worker_stats is the table's counters, nothing else");

/* The INFO lines of the worker counters first..last (totals in t), in table order. */
static void worker_stat_lines(struct strbuf *s, const struct worker_stats *t,
                              enum worker_stat_id first, enum worker_stat_id last)
{
    const uint64_t *v = (const uint64_t *)t;
    for (unsigned i = first; i <= last; i++) {
        const struct worker_stat_def *d = &worker_stat_defs[i];
        if (d->name == NULL)
            continue;
        strbuf_printf(s, "%s:%llu\r\n", d->name,
                      (unsigned long long)(d->kind == WSTAT_USEC ? v[i] / 1000 : v[i]));
    }
}

static void sum_stats(struct worker_stats *t, struct store_stats *ss)
{
    memset(t, 0, sizeof(*t));
    memset(ss, 0, sizeof(*ss));
    for (unsigned i = 0; i < server.nworkers; i++) {
        const struct worker_stats *s = &server.workers[i]->stats;
        const uint64_t *a = (const uint64_t *)s;
        uint64_t *b = (uint64_t *)t;
        for (size_t k = 0; k < sizeof(*s) / sizeof(uint64_t); k++)
            b[k] += a[k];
        const struct store_stats *x = store_stats(server.workers[i]->store);
        ss->expired_keys += x->expired_keys;
        ss->evicted_keys += x->evicted_keys;
        ss->keyspace_hits += x->keyspace_hits;
        ss->keyspace_misses += x->keyspace_misses;
        ss->expired_time_cap_reached_count += x->expired_time_cap_reached_count;
        ss->expired_stale_perc += x->expired_stale_perc;
    }
    ss->expired_stale_perc /= server.nworkers;
}

static uint64_t avg_samples(const uint64_t *s)
{
    uint64_t sum = 0;
    for (int i = 0; i < 16; i++)
        sum += s[i];
    return sum / 16;
}

static void section_server(struct strbuf *s, int64_t now_ms)
{
    struct utsname u;
    uname(&u);
    int64_t up = (now_ms - server.start_ms) / 1000;
    struct worker *w0 = server.workers[0];
    strbuf_printf(s,
                  "# Server\r\n"
                  "redis_version:%s\r\n"
                  "redis_git_sha1:00000000\r\n"
                  "redis_git_dirty:0\r\n"
                  "redis_build_id:0\r\n"
                  "redis_mode:standalone\r\n"
                  "os:%s %s %s\r\n"
                  "arch_bits:%d\r\n"
                  "monotonic_clock:POSIX clock_gettime\r\n"
                  "multiplexing_api:epoll\r\n"
                  "atomicvar_api:c11-builtin\r\n"
                  "gcc_version:%d.%d.%d\r\n"
                  "process_id:%d\r\n"
                  "process_supervised:no\r\n"
                  "run_id:%s\r\n"
                  "tcp_port:%d\r\n"
                  "server_time_usec:%lld\r\n"
                  "uptime_in_seconds:%lld\r\n"
                  "uptime_in_days:%lld\r\n"
                  "hz:%lld\r\n"
                  "configured_hz:%lld\r\n"
                  "lru_clock:%lld\r\n"
                  "executable:%s\r\n"
                  "config_file:%s\r\n"
                  "io_threads_active:0\r\n",
                  SERVER_REDIS_VERSION, u.sysname, u.release, u.machine, (int)(sizeof(void *) * 8),
#ifdef __GNUC__
                  __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__,
#else
                  0, 0, 0,
#endif
                  (int)getpid(), server.run_id, server.port, (long long)clock_real_us(),
                  (long long)up, (long long)(up / 86400), w0->params.srv.hz, w0->params.srv.hz,
                  (long long)((now_ms / 1000) & ((1 << 24) - 1)),
                  server.executable ? server.executable : "", config.file ? config.file : "");
}

static void section_clients(struct strbuf *s, struct worker *w0)
{
    size_t max_in = 0, max_out = 0;
    uint64_t blocked = 0, timeouts = 0;
    for (unsigned i = 0; i < server.nworkers; i++) {
        struct worker *w = server.workers[i];
        blocked += w->blocked_clients;
        timeouts += block_timeouts(w);
        for (struct conn *c = w->conns; c; c = c->next) {
            if (c->rlen - c->rpos > max_in)
                max_in = c->rlen - c->rpos;
            if (conn_output_bytes(c) > max_out)
                max_out = conn_output_bytes(c);
        }
    }
    strbuf_printf(s,
                  "# Clients\r\n"
                  "connected_clients:%d\r\n"
                  "cluster_connections:0\r\n"
                  "maxclients:%lld\r\n"
                  "client_recent_max_input_buffer:%zu\r\n"
                  "client_recent_max_output_buffer:%zu\r\n"
                  "blocked_clients:%llu\r\n"
                  "tracking_clients:%u\r\n"
                  "clients_in_timeout_table:%llu\r\n",
                  atomic_load(&server.clients), w0->params.srv.maxclients, max_in, max_out,
                  (unsigned long long)blocked, atomic_load(&tracking_clients),
                  (unsigned long long)timeouts);
}

static void section_memory(struct strbuf *s, struct worker *w0)
{
    struct mem_stats ms;
    mem_stats(&ms);
    size_t used = ms.allocated;
    size_t rss = mem_rss();
    size_t peak = atomic_load(&memory_peak);
    if (used > peak) {
        peak = used;
        atomic_store(&memory_peak, peak);
    }
    size_t dataset = 0, lazy_pending = 0;
    unsigned long long lazy_freed = 0;
    for (unsigned i = 0; i < server.nworkers; i++) {
        dataset += store_used(server.workers[i]->store);
        lazy_pending += store_lazy_pending(server.workers[i]->store);
        lazy_freed += store_lazy_freed(server.workers[i]->store);
    }
    if (dataset > used)
        dataset = used;
    size_t overhead = used - dataset;
    long long maxmem = w0->params.store.maxmemory;
    char h1[32], h2[32], h3[32], h4[32], h5[32];
    human(h1, sizeof(h1), (double)used);
    human(h2, sizeof(h2), (double)rss);
    human(h3, sizeof(h3), (double)peak);
    human(h4, sizeof(h4), (double)maxmem);
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    unsigned long long total_mem = pages > 0 && psize > 0 ? (unsigned long long)pages * psize : 0;
    human(h5, sizeof(h5), (double)total_mem);
    double frag = used ? (double)rss / (double)used : 0;
    size_t lua, ncached, sbytes;
    script_memory(&lua, &ncached, &sbytes);
    char h6[32], h7[32];
    human(h6, sizeof(h6), (double)lua);
    human(h7, sizeof(h7), (double)sbytes);
    strbuf_printf(
        s,
        "# Memory\r\n"
        "used_memory:%zu\r\n"
        "used_memory_human:%s\r\n"
        "used_memory_rss:%zu\r\n"
        "used_memory_rss_human:%s\r\n"
        "used_memory_peak:%zu\r\n"
        "used_memory_peak_human:%s\r\n"
        "used_memory_peak_perc:%.2f%%\r\n"
        "used_memory_overhead:%zu\r\n"
        "used_memory_startup:0\r\n"
        "used_memory_dataset:%zu\r\n"
        "used_memory_dataset_perc:%.2f%%\r\n"
        "allocator_allocated:%zu\r\n"
        "allocator_active:%zu\r\n"
        "allocator_resident:%zu\r\n"
        "total_system_memory:%llu\r\n"
        "total_system_memory_human:%s\r\n"
        "used_memory_lua:%zu\r\n"
        "used_memory_vm_eval:%zu\r\n"
        "used_memory_lua_human:%s\r\n"
        "used_memory_scripts_eval:%zu\r\n"
        "number_of_cached_scripts:%zu\r\n"
        "number_of_functions:0\r\n"
        "number_of_libraries:0\r\n"
        "used_memory_vm_functions:0\r\n"
        "used_memory_vm_total:%zu\r\n"
        "used_memory_vm_total_human:%s\r\n"
        "used_memory_functions:0\r\n"
        "used_memory_scripts:%zu\r\n"
        "used_memory_scripts_human:%s\r\n"
        "maxmemory:%lld\r\n"
        "maxmemory_human:%s\r\n"
        "maxmemory_policy:%s\r\n"
        "allocator_frag_ratio:%.2f\r\n"
        "allocator_frag_bytes:%zu\r\n"
        "allocator_rss_ratio:%.2f\r\n"
        "allocator_rss_bytes:%zd\r\n"
        "rss_overhead_ratio:%.2f\r\n"
        "rss_overhead_bytes:%zd\r\n"
        "mem_fragmentation_ratio:%.2f\r\n"
        "mem_fragmentation_bytes:%zd\r\n"
        "mem_not_counted_for_evict:0\r\n"
        "mem_replication_backlog:%zu\r\n"
        "mem_total_replication_buffers:0\r\n"
        "mem_clients_slaves:0\r\n"
        "mem_clients_normal:%zu\r\n"
        "mem_cluster_links:0\r\n"
        "mem_aof_buffer:0\r\n"
        "mem_allocator:%s\r\n"
        "active_defrag_running:0\r\n"
        "lazyfree_pending_objects:%zu\r\n"
        "lazyfreed_objects:%llu\r\n",
        used, h1, rss, h2, peak, h3, peak ? 100.0 * (double)used / (double)peak : 0.0, overhead,
        dataset, used ? 100.0 * (double)dataset / (double)used : 0.0, ms.allocated, ms.active,
        ms.resident, total_mem, h5, lua, lua, h6, sbytes, ncached, lua, h6, sbytes, h7, maxmem, h4,
        store_policy_names[w0->params.store.maxmemory_policy],
        ms.allocated ? (double)ms.active / (double)ms.allocated : 0.0, ms.active - ms.allocated,
        ms.active ? (double)ms.resident / (double)ms.active : 0.0,
        (ssize_t)ms.resident - (ssize_t)ms.active,
        ms.resident ? (double)rss / (double)ms.resident : 0.0, (ssize_t)rss - (ssize_t)ms.resident,
        frag, (ssize_t)rss - (ssize_t)used, (size_t)atomic_load(&repl_node.stream.bytes), overhead,
        mem_allocator_name(), lazy_pending, lazy_freed);
}

static void section_persistence(struct strbuf *s)
{
    repl_info_persistence(s);
}

static void section_stats(struct strbuf *s, const struct worker_stats *t,
                          const struct store_stats *ss)
{
    uint64_t ops = 0, in = 0, out = 0, full, pok, perr, rin, rout;
    repl_info_stats(&full, &pok, &perr, &rin, &rout);
    for (unsigned i = 0; i < server.nworkers; i++) {
        ops += avg_samples(server.workers[i]->ops_samples);
        in += avg_samples(server.workers[i]->in_samples);
        out += avg_samples(server.workers[i]->out_samples);
    }
    strbuf_printf(s, "# Stats\r\n");
    worker_stat_lines(s, t, WSTAT_connections, WSTAT_commands);
    strbuf_printf(s, "instantaneous_ops_per_sec:%llu\r\n", (unsigned long long)ops);
    worker_stat_lines(s, t, WSTAT_net_input_bytes, WSTAT_net_output_bytes);
    strbuf_printf(s,
                  "total_net_repl_input_bytes:%llu\r\n"
                  "total_net_repl_output_bytes:%llu\r\n"
                  "instantaneous_input_kbps:%.2f\r\n"
                  "instantaneous_output_kbps:%.2f\r\n"
                  "instantaneous_input_repl_kbps:0.00\r\n"
                  "instantaneous_output_repl_kbps:0.00\r\n",
                  (unsigned long long)rin, (unsigned long long)rout, (double)in / 1024,
                  (double)out / 1024);
    worker_stat_lines(s, t, WSTAT_rejected_conn, WSTAT_rejected_conn);
    strbuf_printf(s,
                  "sync_full:%llu\r\n"
                  "sync_partial_ok:%llu\r\n"
                  "sync_partial_err:%llu\r\n"
                  "expired_keys:%llu\r\n"
                  "expired_stale_perc:%.2f\r\n"
                  "expired_time_cap_reached_count:%llu\r\n"
                  "expire_cycle_cpu_milliseconds:0\r\n"
                  "evicted_keys:%llu\r\n"
                  "evicted_clients:0\r\n"
                  "total_eviction_exceeded_time:0\r\n"
                  "current_eviction_exceeded_time:0\r\n"
                  "keyspace_hits:%llu\r\n"
                  "keyspace_misses:%llu\r\n",
                  (unsigned long long)full, (unsigned long long)pok, (unsigned long long)perr,
                  (unsigned long long)ss->expired_keys, (double)ss->expired_stale_perc,
                  (unsigned long long)ss->expired_time_cap_reached_count,
                  (unsigned long long)ss->evicted_keys, (unsigned long long)ss->keyspace_hits,
                  (unsigned long long)ss->keyspace_misses);
    pubsub_info(s);
    size_t tkeys, titems, tprefixes;
    tracking_info(&tkeys, &titems, &tprefixes);
    strbuf_printf(s,
                  "latest_fork_usec:0\r\n"
                  "total_forks:0\r\n"
                  "migrate_cached_sockets:0\r\n"
                  "slave_expires_tracked_keys:0\r\n"
                  "active_defrag_hits:0\r\n"
                  "active_defrag_misses:0\r\n"
                  "active_defrag_key_hits:0\r\n"
                  "active_defrag_key_misses:0\r\n"
                  "total_active_defrag_time:0\r\n"
                  "current_active_defrag_time:0\r\n"
                  "tracking_total_keys:%zu\r\n"
                  "tracking_total_items:%zu\r\n"
                  "tracking_total_prefixes:%zu\r\n",
                  tkeys, titems, tprefixes);
    worker_stat_lines(s, t, WSTAT_unexpected_error_replies, WSTAT_error_replies);
    strbuf_printf(s, "dump_payload_sanitizations:0\r\n");
    worker_stat_lines(s, t, WSTAT_reads, WSTAT_writes);
    strbuf_printf(s, "io_threaded_reads_processed:0\r\n"
                     "io_threaded_writes_processed:0\r\n"
                     "reply_buffer_shrinks:0\r\n"
                     "reply_buffer_expands:0\r\n");
    worker_stat_lines(s, t, WSTAT_rejected_sources, WSTAT_rejected_sources);
}

static void section_replication(struct strbuf *s)
{
    repl_info(s);
}

static void section_cpu(struct strbuf *s)
{
    struct rusage self, children, thread;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    getrusage(RUSAGE_THREAD, &thread);
#define TV(t) ((double)(t).tv_sec + (double)(t).tv_usec / 1000000.0)
    strbuf_printf(s,
                  "# CPU\r\n"
                  "used_cpu_sys:%.6f\r\n"
                  "used_cpu_user:%.6f\r\n"
                  "used_cpu_sys_children:%.6f\r\n"
                  "used_cpu_user_children:%.6f\r\n"
                  "used_cpu_sys_main_thread:%.6f\r\n"
                  "used_cpu_user_main_thread:%.6f\r\n",
                  TV(self.ru_stime), TV(self.ru_utime), TV(children.ru_stime),
                  TV(children.ru_utime), TV(thread.ru_stime), TV(thread.ru_utime));
#undef TV
}

static void commandstat_line(struct strbuf *s, const struct cmd_def *d, const char *parent)
{
    uint64_t calls = 0, cycles = 0, rejected = 0, failed = 0;
    for (unsigned i = 0; i < server.nworkers; i++) {
        const struct cmd_stat *st = &server.workers[i]->cmdstats[d->id];
        calls += st->calls;
        cycles += st->usec_cycles;
        rejected += st->rejected;
        failed += st->failed;
    }
    if (calls == 0 && rejected == 0 && failed == 0)
        return;
    uint64_t usec = clock_cycles_to_ns(cycles) / 1000;
    strbuf_printf(s,
                  "cmdstat_%s%s%s:calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=%llu,"
                  "failed_calls=%llu\r\n",
                  parent ? parent : "", parent ? "|" : "", d->name, (unsigned long long)calls,
                  (unsigned long long)usec, calls ? (double)usec / (double)calls : 0.0,
                  (unsigned long long)rejected, (unsigned long long)failed);
}

/* Every worker's error codes merged, in byte order like Redis's radix tree. */
static void section_errorstats(struct strbuf *s)
{
    struct error_stat all[ERRORSTATS_MAX];
    unsigned n = 0;
    strbuf_printf(s, "# Errorstats\r\n");
    for (unsigned i = 0; i < server.nworkers; i++) {
        const struct error_stats *st = &server.workers[i]->errstats;
        for (unsigned k = 0; k < st->n; k++) {
            unsigned j = 0;
            while (j < n && strcmp(all[j].code, st->row[k].code) != 0)
                j++;
            if (j == n) {
                if (n == ERRORSTATS_MAX)
                    continue;
                all[n++] = st->row[k];
            } else {
                all[j].count += st->row[k].count;
            }
        }
    }
    for (unsigned i = 1; i < n; i++) /* insertion sort: a handful of rows */
        for (unsigned j = i; j > 0 && strcmp(all[j - 1].code, all[j].code) > 0; j--) {
            struct error_stat t = all[j];
            all[j] = all[j - 1];
            all[j - 1] = t;
        }
    for (unsigned i = 0; i < n; i++)
        strbuf_printf(s, "errorstat_%s:count=%llu\r\n", all[i].code,
                      (unsigned long long)all[i].count);
}

static void section_commandstats(struct strbuf *s)
{
    strbuf_printf(s, "# Commandstats\r\n");
    for (const struct cmd_def *d = cmd_table; d->name != NULL; d++) {
        if (d->fn)
            commandstat_line(s, d, NULL);
        for (const struct cmd_def *sub = d->subs; sub && sub->name; sub++)
            commandstat_line(s, sub, d->name);
    }
}

static void section_keyspace(struct strbuf *s)
{
    strbuf_printf(s, "# Keyspace\r\n");
    int ndb = (int)server.workers[0]->params.store.databases;
    for (int db = 0; db < ndb; db++) {
        size_t keys = 0, expires = 0;
        long double ttl_weighted = 0; /* shards' averages weighted by their volatile keys */
        for (unsigned i = 0; i < server.nworkers; i++) {
            struct store *st = server.workers[i]->store;
            size_t v = store_volatile_count(st, db);
            keys += store_count(st, db);
            expires += v;
            ttl_weighted += (long double)store_avg_ttl(st, db) * (long double)v;
        }
        long long avg_ttl = expires ? (long long)(ttl_weighted / (long double)expires) : 0;
        if (keys)
            strbuf_printf(s, "db%d:keys=%zu,expires=%zu,avg_ttl=%lld\r\n", db, keys, expires,
                          avg_ttl);
    }
}

static void section_pollux(struct strbuf *s, const struct worker_stats *t)
{
    struct worker *w0 = server.workers[0];
    strbuf_printf(s,
                  "# Pollux\r\n"
                  "pollux_version:%s\r\n"
                  "pollux_backend:%s\r\n"
                  "pollux_workers:%u\r\n",
                  POLLUX_VERSION, config_backend_names[w0->params.srv.pollux_backend],
                  server.nworkers);
    worker_stat_lines(s, t, WSTAT_forwarded, WSTAT_transactions);
    strbuf_printf(s, "pollux_memory_overhead:%zu\r\n", atomic_load(&server.mem_overhead));
    strbuf_printf(s, "pollux_memory_traffic:%zu\r\n", mem_traffic_total());
    worker_stat_lines(s, t, WSTAT_loop_passes, WSTAT_busy_ns);
    for (unsigned i = 0; i < server.nworkers; i++) {
        struct worker *w = server.workers[i];
        strbuf_printf(s,
                      "worker%u:cpu=%d,clients=%u,commands=%llu,keys=%zu,used_memory=%zu,"
                      "forwarded_out=%llu,forwarded_in=%llu\r\n",
                      i, w->cpu, w->nconns, (unsigned long long)w->stats.commands,
                      store_count(w->store, 0), store_used(w->store),
                      (unsigned long long)w->stats.forwarded,
                      (unsigned long long)w->stats.forwarded_in);
    }
}

void node_info(struct strbuf *s, int nsections, const struct resp_arg *sections, int64_t now_ms)
{
    unsigned mask = parse_sections(nsections, sections);
    struct worker *w0 = server.workers[0];
    struct worker_stats t;
    struct store_stats ss;
    sum_stats(&t, &ss);
    bool first = true;
#define SEP()                                                                                      \
    do {                                                                                           \
        if (!first)                                                                                \
            strbuf_printf(s, "\r\n");                                                              \
        first = false;                                                                             \
    } while (0)
    if (mask & SEC_SERVER) {
        SEP();
        section_server(s, now_ms);
    }
    if (mask & SEC_CLIENTS) {
        SEP();
        section_clients(s, w0);
    }
    if (mask & SEC_MEMORY) {
        SEP();
        section_memory(s, w0);
    }
    if (mask & SEC_PERSISTENCE) {
        SEP();
        section_persistence(s);
    }
    if (mask & SEC_STATS) {
        SEP();
        section_stats(s, &t, &ss);
    }
    if (mask & SEC_REPLICATION) {
        SEP();
        section_replication(s);
    }
    if (mask & SEC_CPU) {
        SEP();
        section_cpu(s);
    }
    if (mask & SEC_MODULES) {
        SEP();
        strbuf_printf(s, "# Modules\r\n");
    }
    if (mask & SEC_COMMANDSTATS) {
        SEP();
        section_commandstats(s);
    }
    if (mask & SEC_ERRORSTATS) {
        SEP();
        section_errorstats(s);
    }
    if (mask & SEC_LATENCYSTATS) {
        SEP();
        latency_info(s);
    }
    if (mask & SEC_CLUSTER) {
        SEP();
        strbuf_printf(s, "# Cluster\r\ncluster_enabled:0\r\n");
    }
    if (mask & SEC_KEYSPACE) {
        SEP();
        section_keyspace(s);
    }
    if (mask & SEC_POLLUX) {
        SEP();
        section_pollux(s, &t);
    }
    /* The userspace stack's counters are many: in the default set only on the DPDK backend. */
    if ((mask & SEC_NETWORK) || (w0->net != NULL && (mask & SEC_DEFAULT) == SEC_DEFAULT)) {
        SEP();
        worker_net_info(s);
    }
#undef SEP
}
