/*
 * INFO replication and persistence, ROLE, SAVE, BGSAVE, LASTSAVE, and the
 * save schedule (`save` seconds/changes pairs).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "cmd/commands.h"
#include "replication/host.h"
#include "base/log.h"
#include "base/mem.h"
#include "replication/repl.h"
#include "replication/repl_int.h"
#include "base/strbuf.h"
#include "base/errors.h"

static const char *link_state_name(int s)
{
    switch (s) {
    case LINK_CONNECT:
        return "connect";
    case LINK_CONNECTING:
        return "connecting";
    case LINK_SYNC:
        return "sync";
    case LINK_CONNECTED:
        return "connected";
    default:
        return "none";
    }
}

static void replica_lines(struct strbuf *s, int64_t now_ms, int *count)
{
    int i = 0;
    pthread_mutex_lock(&repl_node.lock);
    for (struct repl_replica *r = repl_node.replicas; r != NULL; r = r->next)
        i++;
    strbuf_printf(s, "connected_slaves:%d\r\n", i);
    i = 0;
    for (struct repl_replica *r = repl_node.replicas; r != NULL; r = r->next, i++) {
        int st = atomic_load(&r->state);
        strbuf_printf(s, "slave%d:ip=%s,port=%d,state=%s,offset=%llu,lag=%lld\r\n", i, r->ip,
                      r->port, repl_rstate_name(st), (unsigned long long)atomic_load(&r->ack),
                      (long long)((now_ms - atomic_load(&r->ack_time_ms)) / 1000));
    }
    pthread_mutex_unlock(&repl_node.lock);
    if (count)
        *count = i;
}

void repl_info(struct strbuf *s)
{
    int64_t now_ms = clock_real_ms();
    struct worker *w = host_worker_self();
    bool replica = atomic_load(&repl_node.role) == REPL_REPLICA;
    strbuf_printf(s, "# Replication\r\nrole:%s\r\n", replica ? "slave" : "master");
    if (replica) {
        char host[256];
        int port;
        repl_master_addr(host, sizeof(host), &port);
        int ls = atomic_load(&repl_node.link_state);
        int64_t last_io = atomic_load(&repl_node.master_last_io_ms);
        strbuf_printf(s,
                      "master_host:%s\r\nmaster_port:%d\r\nmaster_link_status:%s\r\n"
                      "master_last_io_seconds_ago:%lld\r\nmaster_sync_in_progress:%d\r\n"
                      "slave_read_repl_offset:%llu\r\nslave_repl_offset:%llu\r\n",
                      host, port, ls == LINK_CONNECTED ? "up" : "down",
                      last_io > 0 && ls >= LINK_SYNC ? (long long)(now_ms - last_io) / 1000 : -1,
                      ls == LINK_SYNC,
                      (unsigned long long)atomic_load(&repl_node.master_read_offset),
                      (unsigned long long)atomic_load(&repl_node.master_applied_offset));
        if (ls == LINK_SYNC) {
            uint64_t total = atomic_load(&repl_node.sync_total_bytes);
            uint64_t read = atomic_load(&repl_node.sync_read_bytes);
            strbuf_printf(s,
                          "master_sync_total_bytes:%lld\r\nmaster_sync_read_bytes:%llu\r\n"
                          "master_sync_left_bytes:%lld\r\nmaster_sync_perc:%.2f\r\n"
                          "master_sync_last_io_seconds_ago:%lld\r\n",
                          total ? (long long)total : -1, (unsigned long long)read,
                          total ? (long long)(total - read) : -1,
                          total ? (double)read * 100 / (double)total : 0.0,
                          (long long)(now_ms - last_io) / 1000);
        }
        if (ls != LINK_CONNECTED)
            strbuf_printf(s, "master_link_down_since_seconds:%lld\r\n",
                          (long long)(now_ms - atomic_load(&repl_node.link_down_since_ms)) / 1000);
        strbuf_printf(s, "slave_priority:%lld\r\nslave_read_only:%d\r\nreplica_announced:%d\r\n",
                      w ? host_repl_params(w)->replica_priority : 100,
                      w ? (int)host_repl_params(w)->replica_read_only : 1,
                      w ? (int)host_repl_params(w)->replica_announced : 1);
        char last[sizeof(repl_node.apply_error)];
        pthread_mutex_lock(&repl_node.lock);
        memcpy(last, repl_node.apply_error, sizeof(last));
        pthread_mutex_unlock(&repl_node.lock);
        strbuf_printf(s, "master_apply_errors:%llu\r\nmaster_last_apply_error:%s\r\n",
                      (unsigned long long)atomic_load(&repl_node.apply_errors), last);
    }
    replica_lines(s, now_ms, NULL);
    char replid[41], replid2[41];
    long long second;
    pthread_mutex_lock(&repl_node.lock);
    memcpy(replid, repl_node.replid, sizeof(replid));
    memcpy(replid2, repl_node.replid2, sizeof(replid2));
    second = repl_node.second_offset;
    pthread_mutex_unlock(&repl_node.lock);
    uint64_t first, end;
    repl_stream_range(&repl_node.stream, &first, &end);
    bool active = atomic_load(&repl_node.backlog_active);
    strbuf_printf(s,
                  "master_failover_state:no-failover\r\n"
                  "master_replid:%s\r\nmaster_replid2:%s\r\n"
                  "master_repl_offset:%llu\r\nsecond_repl_offset:%lld\r\n"
                  "repl_backlog_active:%d\r\nrepl_backlog_size:%lld\r\n"
                  "repl_backlog_first_byte_offset:%llu\r\nrepl_backlog_histlen:%llu\r\n",
                  replid, replid2, (unsigned long long)end, second, active ? 1 : 0,
                  w ? host_repl_params(w)->repl_backlog_size : 1048576,
                  active ? (unsigned long long)first + 1 : 0ull,
                  active ? (unsigned long long)(end - first) : 0ull);
}

void repl_info_persistence(struct strbuf *s)
{
    bool loading = atomic_load(&repl_node.loading);
    bool running = atomic_load(&repl_node.bgsave_running);
    strbuf_printf(s,
                  "# Persistence\r\n"
                  "loading:%d\r\n"
                  "async_loading:0\r\n"
                  "current_cow_peak:0\r\n"
                  "current_cow_size:0\r\n"
                  "current_cow_size_age:0\r\n"
                  "current_fork_perc:0.00\r\n"
                  "current_save_keys_processed:0\r\n"
                  "current_save_keys_total:0\r\n"
                  "rdb_changes_since_last_save:%llu\r\n"
                  "rdb_bgsave_in_progress:%d\r\n"
                  "rdb_last_save_time:%lld\r\n"
                  "rdb_last_bgsave_status:%s\r\n"
                  "rdb_last_bgsave_time_sec:%lld\r\n"
                  "rdb_current_bgsave_time_sec:-1\r\n"
                  "rdb_saves:%llu\r\n"
                  "rdb_last_cow_size:0\r\n"
                  "rdb_last_load_keys_expired:%llu\r\n"
                  "rdb_last_load_keys_loaded:%llu\r\n"
                  "aof_enabled:0\r\n"
                  "aof_rewrite_in_progress:0\r\n"
                  "aof_rewrite_scheduled:0\r\n"
                  "aof_last_rewrite_time_sec:-1\r\n"
                  "aof_current_rewrite_time_sec:-1\r\n"
                  "aof_last_bgrewrite_status:ok\r\n"
                  "aof_rewrites:0\r\n"
                  "aof_rewrites_consecutive_failures:0\r\n"
                  "aof_last_write_status:ok\r\n"
                  "aof_last_cow_size:0\r\n"
                  "module_fork_in_progress:0\r\n"
                  "module_fork_last_cow_size:0\r\n",
                  loading,
                  (unsigned long long)(repl_dirty_total() - atomic_load(&repl_node.dirty_saved)),
                  running, (long long)atomic_load(&repl_node.lastsave),
                  atomic_load(&repl_node.bgsave_status) == 0 ? "ok" : "err",
                  (long long)atomic_load(&repl_node.last_bgsave_secs),
                  (unsigned long long)atomic_load(&repl_node.rdb_saves),
                  (unsigned long long)atomic_load(&repl_node.load_expired),
                  (unsigned long long)atomic_load(&repl_node.load_keys));
}

void repl_info_stats(uint64_t *full, uint64_t *ok, uint64_t *err, uint64_t *in, uint64_t *out)
{
    *full = atomic_load(&repl_node.sync_full);
    *ok = atomic_load(&repl_node.sync_partial_ok);
    *err = atomic_load(&repl_node.sync_partial_err);
    *in = atomic_load(&repl_node.repl_in_bytes);
    *out = atomic_load(&repl_node.repl_out_bytes);
}

/* ROLE: ["master", offset, [[ip, port, offset], ...]] or ["slave", host, port, state, offset]. */
void cmd_role(struct cmd_ctx *c)
{
    if (atomic_load(&repl_node.role) == REPL_REPLICA) {
        char host[256];
        int port;
        repl_master_addr(host, sizeof(host), &port);
        int ls = atomic_load(&repl_node.link_state);
        reply_array(c->reply, 5);
        reply_bulk_cstr(c->reply, "slave");
        reply_bulk_cstr(c->reply, host);
        reply_int(c->reply, port);
        reply_bulk_cstr(c->reply, link_state_name(ls));
        reply_int(c->reply, ls == LINK_CONNECTED
                                ? (long long)atomic_load(&repl_node.master_applied_offset)
                                : -1);
        return;
    }
    reply_array(c->reply, 3);
    reply_bulk_cstr(c->reply, "master");
    reply_int(c->reply, (long long)repl_stream_end(&repl_node.stream));
    pthread_mutex_lock(&repl_node.lock);
    int n = 0;
    for (struct repl_replica *r = repl_node.replicas; r != NULL; r = r->next)
        if (atomic_load(&r->state) == RSTATE_ONLINE)
            n++;
    reply_array(c->reply, n);
    for (struct repl_replica *r = repl_node.replicas; r != NULL; r = r->next) {
        if (atomic_load(&r->state) != RSTATE_ONLINE)
            continue;
        reply_array(c->reply, 3);
        reply_bulk_cstr(c->reply, r->ip);
        reply_bulk_ll(c->reply, r->port);
        reply_bulk_ll(c->reply, (long long)atomic_load(&r->ack));
    }
    pthread_mutex_unlock(&repl_node.lock);
}

/* ---------------------------------------------------------------------------
 * SAVE, BGSAVE, LASTSAVE
 *
 * Both write the same forkless snapshot a full sync uses, to a temporary
 * file renamed over `dbfilename` in `dir` when complete. SAVE answers when
 * the file is written — but unlike Redis's SAVE it does not stop the server:
 * every shard keeps serving while it serialises itself.
 * ------------------------------------------------------------------------ */

static void save_request(struct cmd_ctx *c, bool background)
{
    struct conn *cl = c->client;
    if (atomic_load(&repl_node.sync) != NULL || atomic_load(&repl_node.bgsave_running)) {
        reply_error(c->reply, ERR_BGSAVE_RUNNING);
        return;
    }
    host_conn_repl(cl)->save_reply_at_start = background;
    host_conn_block(cl, HOST_BLOCK_SAVE);
}

void cmd_save(struct cmd_ctx *c)
{
    save_request(c, false);
}

void cmd_bgsave(struct cmd_ctx *c)
{
    if (c->argc > 2 || (c->argc == 2 && !cmd_arg_is(c, 1, "schedule"))) {
        reply_error(c->reply, ERR_SYNTAX);
        return;
    }
    if (c->argc == 2 &&
        (atomic_load(&repl_node.sync) != NULL || atomic_load(&repl_node.bgsave_running))) {
        atomic_store(&repl_node.bgsave_scheduled, true);
        reply_status(c->reply, "Background saving scheduled");
        return;
    }
    save_request(c, true);
}

void cmd_lastsave(struct cmd_ctx *c)
{
    reply_int(c->reply, (long long)atomic_load(&repl_node.lastsave));
}

/* With every shard held for c (SAVE/BGSAVE, or the worker's own connection for a schedule). */
void repl_save_hold_ready(struct worker *w, struct conn *c)
{
    if (atomic_load(&repl_node.sync) != NULL) {
        /* a replica's snapshot got there first */
        if (c != host_worker_internal(w)) {
            reply_error(host_conn_out(c), ERR_BGSAVE_RUNNING);
            host_conn_unblock(c);
        }
        return;
    }
    struct repl_sync *sy = repl_sync_begin(w, false, host_param_dbfilename(w));
    struct repl_conn *rc = c == host_worker_internal(w) ? NULL : host_conn_repl(c);
    log_notice("%s saving started (forkless snapshot, %u shards)",
               rc == NULL || rc->save_reply_at_start ? "Background" : "Foreground",
               repl_node.nworkers);
    if (rc == NULL)
        return;
    if (rc->save_reply_at_start) {
        reply_status(host_conn_out(c), "Background saving started");
        host_conn_unblock(c);
        return;
    }
    rc->save_sync = sy;
    atomic_fetch_add(&sy->readers, 1); /* keeps sy until this SAVE has seen it end */
    host_conn_keep_blocked(c);
}

/* Parse "seconds changes [seconds changes ...]"; @return whether a point is due. */
static bool save_due(const char *sched, int64_t since_s, uint64_t dirty)
{
    const char *p = sched;
    while (*p != '\0') {
        char *end;
        long long secs = strtoll(p, &end, 10);
        if (end == p)
            return false;
        long long changes = strtoll(end, &end, 10);
        p = end;
        if (dirty >= (uint64_t)changes && dirty > 0 && since_s >= secs)
            return true;
        while (*p == ' ')
            p++;
    }
    return false;
}

void repl_save_cron(struct worker *w)
{
    /* SAVE clients whose file is written, and clients queued for a snapshot */
    if (host_worker_blocked(w) > 0) {
        struct conn *next;
        for (struct conn *c = host_worker_conns(w); c != NULL; c = next) {
            next = host_conn_next(c);
            if (!host_conn_blocked_for(c, HOST_BLOCK_SAVE))
                continue;
            if (host_conn_hold_wanted(c) && !host_conn_hold_queued(c)) {
                host_conn_hold_all(c);
                continue;
            }
            struct repl_conn *rc = host_conn_repl(c);
            struct repl_sync *sy = rc->save_sync;
            if (sy != NULL && atomic_load_explicit(&sy->done, memory_order_acquire)) {
                /* The file is written: let the merge thread retire the snapshot, and answer
                 * once it has, so a SAVE's client finds no save in progress afterwards (a
                 * BGSAVE right after it starts, as in Redis). */
                rc->save_failed = atomic_load(&sy->failed);
                rc->save_retiring = sy;
                atomic_fetch_sub(&sy->readers, 1);
                rc->save_sync = NULL;
            }
            if (rc->save_retiring != NULL &&
                (const void *)atomic_load(&repl_node.sync) != rc->save_retiring) {
                if (rc->save_failed)
                    reply_error(host_conn_out(c), ERR_BARE);
                else
                    reply_ok(host_conn_out(c));
                rc->save_retiring = NULL;
                host_conn_unblock(c);
                host_conn_process(c);
            }
        }
    }
    /* worker 0 runs the `save` schedule and BGSAVE SCHEDULE through its own connection */
    if (host_worker_id(w) != 0 || host_worker_internal(w) == NULL ||
        host_conn_hold_queued(host_worker_internal(w)))
        return;
    if (atomic_load(&repl_node.sync) != NULL || atomic_load(&repl_node.bgsave_running))
        return;
    bool want = atomic_exchange(&repl_node.bgsave_scheduled, false);
    if (!want && host_param_save(w)[0] != '\0' &&
        host_now_ms(w) / 1000 != host_worker_repl(w)->save_check_s) {
        host_worker_repl(w)->save_check_s = host_now_ms(w) / 1000;
        want =
            save_due(host_param_save(w), host_now_ms(w) / 1000 - atomic_load(&repl_node.lastsave),
                     repl_dirty_total() - atomic_load(&repl_node.dirty_saved));
    }
    if (want)
        host_conn_hold_all(host_worker_internal(w));
}
