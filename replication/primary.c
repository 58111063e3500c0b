/*
 * The primary side: REPLCONF, PSYNC and SYNC, the connections of replicas
 * (full sync with a diskless RDB, then the stream), and WAIT.
 *
 * A replica's connection stays on the worker that accepted it, as any
 * client. Once it asked for PSYNC its output comes, after whatever replies
 * are queued, straight from shared blocks: the RDB of its full sync, then
 * the replication stream from the position it continues at. The worker
 * writes them with writev from the blocks themselves; nothing is copied per
 * replica.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "replication/host.h"
#include "cmd/commands.h"
#include "base/log.h"
#include "base/mem.h"
#include "replication/repl.h"
#include "replication/repl_int.h"
#include "base/util.h"
#include "base/errors.h"

static const char *const rstate_names[] = { "wait_bgsave", "wait_bgsave", "send_bulk", "online" };

const char *repl_rstate_name(int state)
{
    return state >= 0 && state <= RSTATE_ONLINE ? rstate_names[state] : "?";
}

/* ---------------------------------------------------------------------------
 * Commands
 * ------------------------------------------------------------------------ */

void cmd_replconf(struct cmd_ctx *c)
{
    struct conn *cl = c->client;
    struct repl_conn *rc = host_conn_repl(cl);
    if ((c->argc % 2) == 0) {
        cmd_reply_arity(c);
        return;
    }
    for (int j = 1; j < c->argc; j += 2) {
        const struct resp_arg *opt = &c->argv[j], *val = &c->argv[j + 1];
        if (util_strcaseeq(opt->ptr, opt->len, "listening-port")) {
            long long port;
            if (!cmd_arg_ll(c, j + 1, &port))
                return;
            rc->port = (int)port;
        } else if (util_strcaseeq(opt->ptr, opt->len, "ip-address")) {
            size_t n = MIN(val->len, sizeof(rc->ip) - 1);
            memcpy(rc->ip, val->ptr, n);
            rc->ip[n] = '\0';
        } else if (util_strcaseeq(opt->ptr, opt->len, "capa")) {
            if (util_strcaseeq(val->ptr, val->len, "eof"))
                rc->capa_eof = true;
            else if (util_strcaseeq(val->ptr, val->len, "psync2"))
                rc->capa_psync2 = true;
        } else if (util_strcaseeq(opt->ptr, opt->len, "ack")) {
            /* From a replica, no reply: the offset it has processed. */
            long long off;
            struct repl_replica *r = host_conn_replica(cl);
            if (r == NULL || !util_str2ll(val->ptr, val->len, &off))
                return;
            if ((uint64_t)off > atomic_load(&r->ack))
                atomic_store(&r->ack, (uint64_t)off);
            atomic_store(&r->ack_time_ms, c->now_ms);
            r->stream_on_ack = false; /* it read the whole RDB: the stream may follow (next pass) */
            return;
        } else if (util_strcaseeq(opt->ptr, opt->len, "getack")) {
            if (host_conn_is_master(cl))
                repl_link_send_ack(cl);
            return;
        } else if (util_strcaseeq(opt->ptr, opt->len, "rdb-only") ||
                   util_strcaseeq(opt->ptr, opt->len, "rdb-filter-only")) {
            /* accepted, as Redis 7 does; Pollux always sends the whole */
        } else {
            int n = opt->len > 128 ? 128 : (int)opt->len;
            reply_errorf(c->reply, ERRF_REPLCONF_OPTION, n, opt->ptr);
            return;
        }
    }
    reply_ok(c->reply);
}

/* Make c a replica's connection, registered for INFO, ROLE and WAIT. */
static struct repl_replica *become_replica(struct cmd_ctx *c, struct conn *cl)
{
    struct worker *w = c->worker;
    struct repl_conn *rc = host_conn_repl(cl);
    struct repl_replica *r = mem_calloc(sizeof(*r));
    r->id = host_conn_id(cl);
    if (rc->ip[0] != '\0') {
        snprintf(r->ip, sizeof(r->ip), "%s", rc->ip);
    } else {
        snprintf(r->ip, sizeof(r->ip), "%s", host_conn_peer(cl));
        char *colon = strrchr(r->ip, ':');
        if (colon != NULL)
            *colon = '\0';
    }
    r->port = rc->port;
    r->eof_capa = rc->capa_eof;
    r->conn = cl;
    r->kick_gen = atomic_load(&repl_node.kick_gen);
    atomic_init(&r->ack_time_ms, c->now_ms);
    for (int i = 0; i < 40; i++)
        r->mark[i] = "0123456789abcdef"[util_rand64() & 15];
    host_conn_set_replica(cl, r);
    rc->replica_next = host_worker_repl(w)->replica_conns;
    host_worker_repl(w)->replica_conns = cl;
    pthread_mutex_lock(&repl_node.lock);
    r->next = repl_node.replicas;
    repl_node.replicas = r;
    pthread_mutex_unlock(&repl_node.lock);
    atomic_fetch_add(&repl_node.nreplicas, 1);
    return r;
}

/* Whether `id` at position `pos` (the next byte wanted) continues our history. */
static bool can_continue(const char *id, size_t idlen, long long pos, char *replid_out)
{
    bool ok = false;
    pthread_mutex_lock(&repl_node.lock);
    memcpy(replid_out, repl_node.replid, 41);
    if (atomic_load(&repl_node.backlog_active) && idlen == 40 && pos >= 0) {
        if (memcmp(id, repl_node.replid, 40) == 0)
            ok = true;
        else if (memcmp(id, repl_node.replid2, 40) == 0 && pos <= repl_node.second_offset)
            ok = true;
    }
    pthread_mutex_unlock(&repl_node.lock);
    return ok;
}

static void psync_generic(struct cmd_ctx *c, bool legacy)
{
    struct conn *cl = c->client;
    if (host_conn_replica(cl) != NULL)
        return; /* already a replica: ignore, as Redis does */
    if (atomic_load(&repl_node.role) == REPL_REPLICA &&
        atomic_load(&repl_node.link_state) != LINK_CONNECTED) {
        reply_error(c->reply, ERR_SYNC_NO_LINK);
        return;
    }
    long long want = -1;
    const char *id = "?";
    size_t idlen = 1;
    if (!legacy) {
        id = c->argv[1].ptr;
        idlen = c->argv[1].len;
        if (!util_str2ll(c->argv[2].ptr, c->argv[2].len, &want)) {
            reply_error(c->reply, ERR_NOT_INTEGER);
            return;
        }
    }
    char replid[41];
    bool partial = !legacy && can_continue(id, idlen, want - 1, replid);
    struct repl_replica *r = become_replica(c, cl);
    if (legacy) {
        r->eof_capa = false;
        r->legacy = true;
    }
    if (partial && repl_cursor_attach(&repl_node.stream, &r->stream_cur, (uint64_t)want - 1) == 0) {
        r->start = (uint64_t)want - 1;
        atomic_store(&r->state, RSTATE_ONLINE);
        char line[64];
        int n = host_conn_repl(cl)->capa_psync2
                    ? snprintf(line, sizeof(line), "+CONTINUE %s\r\n", replid)
                    : snprintf(line, sizeof(line), "+CONTINUE\r\n");
        reply_raw(c->reply, line, (size_t)n);
        atomic_fetch_add(&repl_node.sync_partial_ok, 1);
        log_notice("Partial resynchronization request from %s:%d accepted. Sending %llu bytes of "
                   "backlog starting from offset %lld.",
                   r->ip, r->port,
                   (unsigned long long)(repl_stream_end(&repl_node.stream) - r->start), want);
        return;
    }
    if (!legacy && !(idlen == 1 && id[0] == '?')) {
        atomic_fetch_add(&repl_node.sync_partial_err, 1);
        log_notice("Partial resynchronization not accepted: Replication ID mismatch or offset "
                   "out of range (replica asked for '%.*s' offset %lld)",
                   (int)MIN(idlen, 40), id, want);
    }
    atomic_fetch_add(&repl_node.sync_full, 1);
    atomic_store(&r->state, RSTATE_WAIT_SYNC);
    log_notice("Replica %s:%d asks for synchronization; full resync", r->ip, r->port);
}

void cmd_psync(struct cmd_ctx *c)
{
    psync_generic(c, false);
}

void cmd_sync(struct cmd_ctx *c)
{
    psync_generic(c, true);
}

/* ---------------------------------------------------------------------------
 * Full sync: the hold that starts the snapshot, then the transfer
 * ------------------------------------------------------------------------ */

/* With every shard held for replica connection cl: start or join a snapshot. */
void repl_primary_hold_ready(struct worker *w, struct conn *cl)
{
    struct repl_replica *r = host_conn_replica(cl);
    if (atomic_load(&r->state) != RSTATE_WAIT_SYNC)
        return;
    struct repl_sync *sy = NULL;
    pthread_mutex_lock(&repl_node.lock);
    struct repl_sync *cur = atomic_load(&repl_node.sync);
    bool join = cur != NULL && cur->for_replicas && !atomic_load(&cur->offset_known) &&
                !atomic_load(&cur->abandoned);
    pthread_mutex_unlock(&repl_node.lock);
    if (join) {
        sy = cur;
    } else if (cur == NULL) {
        /* The first replica ever: from now on every shard feeds the stream. */
        if (!atomic_load(&repl_node.feeding))
            atomic_store(&repl_node.feeding, true);
        atomic_store(&repl_node.backlog_active, true);
        sy = repl_sync_begin(w, true, NULL);
    } else {
        return; /* another snapshot is running: try again when it is done */
    }
    pthread_mutex_lock(&repl_node.lock);
    r->sync = sy;
    atomic_fetch_add(&sy->readers, 1);
    if (!r->eof_capa) /* the length goes first: keep it all until it is known */
        atomic_store(&sy->keep_all, true);
    repl_cursor_attach(&sy->rdb, &r->rdb_cur, 0);
    if (atomic_load(&sy->offset_known) && !r->stream_cur.registered) {
        /* a replica's snapshot: the offset was fixed under this very hold */
        repl_cursor_attach(&repl_node.stream, &r->stream_cur, atomic_load(&sy->offset));
    }
    pthread_mutex_unlock(&repl_node.lock);
    atomic_store(&r->state, RSTATE_WAIT_OFFSET);
    log_notice("Starting a snapshot for replication (diskless, %u shards)", repl_node.nworkers);
}

/*
 * The snapshot is done with r (finished, failed, or r is closing). When the last replica
 * of a snapshot that is still being made goes away, the snapshot stops (as Redis kills
 * its diskless child then): its shards abort their part, the merge thread finishes it as
 * failed and frees it, and the next replica or BGSAVE starts a new one. A replica can
 * join only with every shard held, so none joins between this and the shards stopping.
 * (Two last replicas leaving at once on two workers may both miss it: then the snapshot
 * runs to its end unthrottled, as nobody reads it, and is freed.)
 */
static void leave_sync(struct repl_replica *r)
{
    pthread_mutex_lock(&repl_node.lock); /* the merge thread reads r->sync under it */
    struct repl_sync *sy = r->sync;
    r->sync = NULL;
    pthread_mutex_unlock(&repl_node.lock);
    if (sy == NULL)
        return;
    repl_cursor_detach(&sy->rdb, &r->rdb_cur);
    /* Before letting go: once readers is 0 the merge thread may free a finished sync. */
    if (sy->path == NULL && atomic_load(&sy->readers) == 1 &&
        !atomic_load_explicit(&sy->done, memory_order_acquire)) {
        atomic_store(&sy->abandoned, true);
        log_notice("Diskless rdb transfer, last replica dropped, stopping the snapshot.");
    }
    atomic_fetch_sub(&sy->readers, 1);
}

/*
 * Write what a replica connection has from its sources, once c->out is empty.
 * @return 1 when it queued bytes into c->out (write them, then call again),
 *         0 when there is nothing to write now or the socket is full,
 *         -1 when the connection must close.
 */
/* Bytes a replica connection writes per pass: a multi-megabyte writev would hold up the
 * clients of this worker for a millisecond; the rest goes out over the next passes. */
#define REPLICA_WRITE_SLICE (64 * 1024)

int repl_replica_write(struct conn *c)
{
    struct repl_replica *r = host_conn_replica(c);
    struct worker *w = host_conn_worker(c);
    size_t budget = REPLICA_WRITE_SLICE;
    for (;;) {
        int state = atomic_load_explicit(&r->state, memory_order_relaxed);
        struct repl_cursor *cur;
        struct repl_sync *sy = r->sync;
        if (state == RSTATE_WAIT_SYNC) {
            return 0;
        } else if (state == RSTATE_WAIT_OFFSET) {
            if (!atomic_load_explicit(&sy->offset_known, memory_order_acquire))
                return 0;
            if (!r->eof_capa && !atomic_load_explicit(&sy->done, memory_order_acquire))
                return 0; /* a legacy replica needs the length first */
            uint64_t off = atomic_load(&sy->offset);
            r->start = off;
            char line[160];
            int n = 0;
            if (!r->legacy) {
                char replid[41];
                pthread_mutex_lock(&repl_node.lock);
                memcpy(replid, repl_node.replid, sizeof(replid));
                pthread_mutex_unlock(&repl_node.lock);
                n = snprintf(line, sizeof(line), "+FULLRESYNC %s %llu\r\n", replid,
                             (unsigned long long)off);
            }
            if (r->eof_capa)
                n += snprintf(line + n, sizeof(line) - (size_t)n, "$EOF:%.40s\r\n", r->mark);
            else
                n += snprintf(line + n, sizeof(line) - (size_t)n, "$%llu\r\n",
                              (unsigned long long)repl_stream_end(&sy->rdb));
            reply_raw(host_conn_out(c), line, (size_t)n);
            atomic_store(&r->state, RSTATE_SEND_RDB);
            return 1;
        } else if (state == RSTATE_SEND_RDB) {
            if (atomic_load_explicit(&sy->failed, memory_order_acquire))
                return -1;
            cur = &r->rdb_cur;
            if (atomic_load_explicit(&sy->done, memory_order_acquire) &&
                cur->pos == repl_stream_end(&sy->rdb)) {
                leave_sync(r);
                atomic_store(&r->state, RSTATE_ONLINE);
                atomic_store(&r->ack_time_ms, host_now_ms(w));
                log_notice("Synchronization with replica %s:%d succeeded", r->ip, r->port);
                if (r->eof_capa) {
                    reply_raw(host_conn_out(c), r->mark, 40);
                    r->stream_on_ack = true;
                    return 1;
                }
                continue;
            }
        } else {
            if (r->stream_on_ack)
                return 0;
            cur = &r->stream_cur;
        }
        struct iovec iov[16];
        int n = repl_cursor_peek(cur, iov, 16);
        if (n == 0 || budget == 0)
            return 0;
        size_t want = 0;
        for (int i = 0; i < n; i++) {
            if (iov[i].iov_len > budget - want)
                iov[i].iov_len = budget - want;
            want += iov[i].iov_len;
            if (want == budget) {
                n = i + 1;
                break;
            }
        }
        ssize_t wr = host_conn_writev(c, iov, n);
        host_worker_count_write(w, wr < 0 ? 0 : (uint64_t)wr);
        if (wr < 0)
            return wr == -EAGAIN ? 0 : -1;
        atomic_fetch_add_explicit(&repl_node.repl_out_bytes, (uint64_t)wr, memory_order_relaxed);
        repl_cursor_advance(cur, (size_t)wr);
        budget -= (size_t)wr;
        if ((size_t)wr < want)
            return 0;
    }
}

/* Whether a replica connection has bytes its sources could write now. */
bool repl_replica_pending(struct conn *c)
{
    struct repl_replica *r = host_conn_replica(c);
    int state = atomic_load_explicit(&r->state, memory_order_relaxed);
    struct iovec iov[1];
    switch (state) {
    case RSTATE_WAIT_SYNC:
        return false;
    case RSTATE_WAIT_OFFSET:
        return atomic_load_explicit(&r->sync->offset_known, memory_order_acquire) &&
               (r->eof_capa || atomic_load_explicit(&r->sync->done, memory_order_acquire));
    case RSTATE_SEND_RDB:
        return repl_cursor_peek(&r->rdb_cur, iov, 1) > 0 ||
               atomic_load_explicit(&r->sync->done, memory_order_acquire);
    default:
        return !r->stream_on_ack && repl_cursor_peek(&r->stream_cur, iov, 1) > 0;
    }
}

/* Every pass: start the syncs replicas wait for, flush those with something to send. */
void repl_replicas_pass(struct worker *w)
{
    struct host_obuf_limit lim;
    host_replica_obuf_limit(w, &lim);
    for (struct conn *c = host_worker_repl(w)->replica_conns; c != NULL;
         c = host_conn_repl(c)->replica_next) {
        struct repl_replica *r = host_conn_replica(c);
        if (host_conn_closing(c))
            continue;
        if (r->kick_gen != atomic_load_explicit(&repl_node.kick_gen, memory_order_relaxed)) {
            /* this node's history changed under it (a new primary): it must resync */
            host_conn_close_asap(c);
            continue;
        }
        int state = atomic_load_explicit(&r->state, memory_order_relaxed);
        if (state == RSTATE_WAIT_SYNC) {
            if (!host_conn_hold_wanted(c) && !host_conn_hold_queued(c) &&
                atomic_load(&repl_node.sync) == NULL)
                host_conn_hold_all(c);
            continue;
        }
        if (state == RSTATE_ONLINE && !r->legacy &&
            host_now_ms(w) - atomic_load_explicit(&r->ack_time_ms, memory_order_relaxed) >
                host_repl_params(w)->repl_timeout * 1000) {
            log_warn("Disconnecting timedout replica (streaming sync): %s:%d", r->ip, r->port);
            host_conn_close_asap(c);
            continue;
        }
        /* the stream cursor is ours once the snapshot's offset was seen (SEND_RDB on) */
        if (state >= RSTATE_SEND_RDB && r->stream_cur.registered) {
            uint64_t lag = repl_cursor_lag(&repl_node.stream, &r->stream_cur);
            bool over_soft = lim.soft > 0 && lag > lim.soft;
            if (!over_soft)
                r->soft_since_ms = 0;
            else if (r->soft_since_ms == 0)
                r->soft_since_ms = host_now_ms(w);
            if ((lim.hard > 0 && lag > lim.hard) ||
                (over_soft &&
                 host_now_ms(w) - r->soft_since_ms > (int64_t)lim.soft_seconds * 1000)) {
                log_warn("Client id=%llu addr=%s scheduled to be closed ASAP for overcoming of "
                         "output buffer limits (replica %llu bytes behind, at %llu of %llu).",
                         (unsigned long long)host_conn_id(c), host_conn_peer(c),
                         (unsigned long long)lag, (unsigned long long)r->stream_cur.pos,
                         (unsigned long long)repl_stream_end(&repl_node.stream));
                host_conn_close_asap(c);
                continue;
            }
        }
        if (!host_conn_write_pending(c) && repl_replica_pending(c))
            host_conn_want_flush(c);
    }
}

void repl_conn_release(struct repl_conn *rc)
{
    mem_free(rc->wait_want);
    rc->wait_want = NULL;
}

void repl_conn_closed(struct conn *c)
{
    struct repl_conn *rc = host_conn_repl(c);
    if (rc->save_sync != NULL) {
        /* a SAVE whose client left: the snapshot goes on, without this reader */
        atomic_fetch_sub(&rc->save_sync->readers, 1);
        rc->save_sync = NULL;
    }
    struct repl_replica *r = host_conn_replica(c);
    if (r == NULL)
        return;
    struct worker *w = host_conn_worker(c);
    for (struct conn **pp = &host_worker_repl(w)->replica_conns; *pp != NULL;
         pp = &host_conn_repl(*pp)->replica_next) {
        if (*pp == c) {
            *pp = rc->replica_next;
            break;
        }
    }
    /* Out of the registry first: the merge thread attaches cursors of registered replicas. */
    pthread_mutex_lock(&repl_node.lock);
    for (struct repl_replica **pp = &repl_node.replicas; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    }
    pthread_mutex_unlock(&repl_node.lock);
    leave_sync(r);
    repl_cursor_detach(&repl_node.stream, &r->stream_cur);
    atomic_fetch_sub(&repl_node.nreplicas, 1);
    log_notice("Connection with replica %s:%d lost.", r->ip, r->port);
    host_conn_set_replica(c, NULL);
    mem_free(r);
}

/* ---------------------------------------------------------------------------
 * WAIT numreplicas timeout
 *
 * Three stages, checked every millisecond: the client's forwarded writes
 * come back; the merge consumes every feed record that existed then; the
 * replicas acknowledge the stream position the merge had reached.
 * ------------------------------------------------------------------------ */

static int acked_at(uint64_t offset)
{
    int n = 0;
    pthread_mutex_lock(&repl_node.lock);
    for (struct repl_replica *r = repl_node.replicas; r != NULL; r = r->next)
        if (atomic_load(&r->state) == RSTATE_ONLINE && atomic_load(&r->ack) >= offset)
            n++;
    pthread_mutex_unlock(&repl_node.lock);
    return n;
}

void cmd_wait(struct cmd_ctx *c)
{
    long long want, timeout;
    if (atomic_load(&repl_node.role) == REPL_REPLICA) {
        reply_error(c->reply, ERR_WAIT_ON_REPLICA);
        return;
    }
    if (!cmd_arg_ll(c, 1, &want) || !cmd_arg_ll(c, 2, &timeout))
        return;
    if (timeout < 0) {
        reply_error(c->reply, ERR_TIMEOUT_NEGATIVE);
        return;
    }
    struct conn *cl = c->client;
    if (host_conn_in_multi(cl)) {
        /* inside EXEC: answer at once, as Redis does */
        reply_int(c->reply, acked_at(repl_stream_end(&repl_node.stream)));
        return;
    }
    struct repl_conn *rc = host_conn_repl(cl);
    rc->block_deadline_ms = timeout ? c->now_ms + timeout : 0;
    rc->wait_numreplicas = want > INT32_MAX ? INT32_MAX : (int)want;
    rc->wait_stage = 0;
    if (rc->wait_want == NULL)
        rc->wait_want = mem_calloc(sizeof(uint64_t) * MAX_WORKERS);
    host_conn_block(cl, HOST_BLOCK_WAIT);
}

static void wait_done(struct conn *c, int acked)
{
    reply_int(host_conn_out(c), acked);
    host_conn_unblock(c);
    host_conn_process(c);
}

void repl_wait_cron(struct worker *w)
{
    if (host_worker_blocked(w) == 0)
        return;
    unsigned n = repl_node.nworkers;
    struct conn *next;
    for (struct conn *c = host_worker_conns(w); c != NULL; c = next) {
        next = host_conn_next(c);
        if (!host_conn_blocked_for(c, HOST_BLOCK_WAIT))
            continue;
        struct repl_conn *rc = host_conn_repl(c);
        if (rc->wait_stage == 0 && host_conn_inflight(c) == 0) {
            for (unsigned i = 0; i < n; i++)
                rc->wait_want[i] =
                    atomic_load_explicit(&repl_node.shards[i].feed.records, memory_order_acquire);
            rc->wait_stage = 1;
        }
        if (rc->wait_stage == 1) {
            bool merged = true;
            for (unsigned i = 0; i < n && merged; i++)
                merged = atomic_load_explicit(&repl_node.merged[i], memory_order_acquire) >=
                         rc->wait_want[i];
            if (merged) {
                rc->wait_offset = atomic_load_explicit(&repl_node.data_end, memory_order_acquire);
                rc->wait_stage = 2;
                atomic_store(&repl_node.getack, true);
                repl_merge_wake();
            }
        }
        int acked = rc->wait_stage == 2 ? acked_at(rc->wait_offset) : 0;
        if (rc->wait_stage == 2 && acked >= rc->wait_numreplicas) {
            wait_done(c, acked);
            continue;
        }
        if (rc->block_deadline_ms > 0 && host_now_ms(w) >= rc->block_deadline_ms)
            wait_done(c,
                      rc->wait_stage == 2 ? acked : acked_at(repl_stream_end(&repl_node.stream)));
    }
}
