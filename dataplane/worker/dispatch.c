#include "worker/dispatch.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "acl/acl.h"
#include "base/clock.h"
#include "worker/block.h"
#include "worker/cmd_server.h"
#include "worker/conn.h"
#include "base/log.h"
#include "base/mem.h"
#include "worker/multi.h"
#include "replication/repl.h"
#include "worker/process.h"
#include "shard/shard.h"
#include "worker/monitor.h"
#include "worker/pause.h"
#include "worker/script.h"
#include "worker/slowlog.h"
#include "worker/tracking.h"
#include "sock/sock.h"
#include "worker/channels.h"
#include "worker/watch.h"
#include "worker/worker.h"
#include "base/errors.h"

/* Redis's text for an unknown command: the name and the first arguments, quoted. */
static void reply_unknown_command(struct reply *r, int argc, const struct resp_arg *argv)
{
    char args[512];
    size_t n = 0;
    args[0] = '\0';
    for (int i = 1; i < argc && n < 128; i++) {
        int room = 128 - (int)n;
        int len = (int)argv[i].len < room ? (int)argv[i].len : room;
        n += (size_t)snprintf(args + n, sizeof(args) - n, "'%.*s' ", len, argv[i].ptr);
    }
    int nlen = argv[0].len < 128 ? (int)argv[0].len : 128;
    reply_errorf(r, ERRF_UNKNOWN_COMMAND, nlen, argv[0].ptr, args);
}

/*
 * Find the row for a request: the command, or for a container (CONFIG,
 * CLIENT, OBJECT ...) its subcommand. Writes the error and returns NULL when
 * there is none; on a wrong arity writes the error, returns the row and sets
 * *bad_arity (the call counts as rejected, as in Redis).
 */
static const struct cmd_def *resolve(struct reply *r, int argc, const struct resp_arg *argv,
                                     const struct cmd_def **parent, bool *bad_arity)
{
    *parent = NULL;
    *bad_arity = false;
    const struct cmd_def *d = cmd_lookup(argv[0].ptr, argv[0].len);
    if (d == NULL) {
        reply_unknown_command(r, argc, argv);
        return NULL;
    }
    if (d->subs != NULL && argc >= 2) {
        const struct cmd_def *sub = cmd_lookup_sub(d, argv[1].ptr, argv[1].len);
        if (sub == NULL) {
            char upper[129];
            size_t n = argv[0].len < 128 ? argv[0].len : 128;
            for (size_t i = 0; i < n; i++)
                upper[i] = (char)toupper((unsigned char)argv[0].ptr[i]);
            upper[n] = '\0';
            int slen = argv[1].len < 128 ? (int)argv[1].len : 128;
            reply_errorf(r, ERRF_UNKNOWN_SUB, slen, argv[1].ptr, upper);
            return NULL;
        }
        *parent = d;
        d = sub;
    }
    if (!cmd_arity_ok(d, argc)) {
        if (*parent)
            reply_errorf(r, ERRF_SUB_ARITY, (*parent)->name, d->name);
        else
            reply_errorf(r, ERRF_ARITY, d->name);
        *bad_arity = true;
    }
    return d;
}

/*
 * DEBUG and MODULE LOAD/LOADEX/UNLOAD (rows flagged CMD_PROTECTED) run only
 * where enable-debug-command / enable-module-command let the client through,
 * as in Redis 7: checked right after the arity, before AUTH, so even a client
 * that knows the password needs the setting. Both settings are fixed at start.
 * @return false when refused (error already written).
 */
static bool protected_command_ok(struct conn *c, const struct cmd_def *top)
{
    bool module = strcmp(top->name, "module") == 0;
    const struct server_params *p = &c->w->params.srv;
    long long setting = module ? p->enable_module_command : p->enable_debug_command;
    if (config_protected_allows(setting, sock_peer_is_local(c->peer)))
        return true;
    reply_errorf(&c->out, ERR_PROTECTED_COMMAND_FMT, module ? "MODULE" : "DEBUG",
                 module ? "enable-module-command" : "enable-debug-command");
    return false;
}

/*
 * Before running a command on a store that is over its share of maxmemory,
 * evict per policy; a command that may grow memory (`deny`) is refused when
 * that cannot bring the store back under.
 * @return false when the command must be refused (the caller answers).
 */
static bool memory_ok(struct worker *w, struct store *s, bool deny)
{
    size_t limit = worker_shard_limit(w);
    if (limit == 0 || store_used(s) <= limit)
        return true;
    return worker_evict(w, s, limit) == 0 || !deny;
}

/* May the request grow memory: a DENYOOM row, or an EXEC with one queued (Redis's rule). */
static bool denyoom(const struct conn *c, const struct cmd_def *d)
{
    if (d->route == ROUTE_EXEC)
        return c->multi != NULL && (c->multi->flags & CMD_DENYOOM);
    return (d->flags & CMD_DENYOOM) != 0;
}

/* Answer a request refused for memory; an EXEC discards its transaction, as Redis's. */
static void refuse_oom(struct conn *c, const struct cmd_def *d, uint64_t held)
{
    if (d->route != ROUTE_EXEC) {
        reply_error(&c->out, ERR_OOM);
        return;
    }
    multi_discard(c);
    watch_release(c, held);
    reply_error(&c->out, ERR_EXECABORT_OOM);
}

/* RESP2's subscribed mode: what a client with subscriptions may still send. */
static bool allowed_subscribed(const struct cmd_def *d)
{
    switch (d->id) {
    case CMD_ID_SUBSCRIBE:
    case CMD_ID_PSUBSCRIBE:
    case CMD_ID_SSUBSCRIBE:
    case CMD_ID_UNSUBSCRIBE:
    case CMD_ID_PUNSUBSCRIBE:
    case CMD_ID_SUNSUBSCRIBE:
    case CMD_ID_PING:
    case CMD_ID_QUIT:
    case CMD_ID_RESET:
        return true;
    default:
        return false;
    }
}

/*
 * While a script runs past the threshold: what may still run. In a busy pass (the script's
 * worker, or a worker it holds) only SCRIPT KILL and FUNCTION KILL / STATS, which touch no
 * shard; elsewhere every command Redis allows then (allow_busy).
 */
static bool busy_allows(const struct worker *w, const struct cmd_def *d,
                        const struct cmd_def *parent)
{
    if (!(d->flags & CMD_ALLOW_BUSY) && !(parent != NULL && (parent->flags & CMD_ALLOW_BUSY)))
        return false;
    return !w->busy_only || (d->route == ROUTE_LOCAL && (d->acl & CMD_ACL_SCRIPTING));
}

/* Scripts: shown by MONITOR as they start, before the commands they run (Redis's order). */
static inline bool shown_at_start(const struct cmd_def *d)
{
    return d->route == ROUTE_HOLD && (d->acl & CMD_ACL_SCRIPTING);
}

/* MONITOR: what ran for c (a blocked command's retry was shown when it came). */
static inline void feed_monitors(struct worker *w, const struct conn *c, const struct cmd_def *d,
                                 int argc, const struct resp_arg *argv)
{
    if (unlikely(monitor_any()) && !(c->flags & CONN_BLOCK_RETRY) && !shown_at_start(d))
        monitor_feed(w, c, d, c->db, argc, argv);
}

static inline void feed_script_start(struct worker *w, struct conn *c, const struct cmd_def *d,
                                     int argc, const struct resp_arg *argv)
{
    if (unlikely(c->flags & CONN_SCRIPT_RERUN)) {
        c->flags &= ~CONN_SCRIPT_RERUN; /* shown when it first started */
        return;
    }
    if (unlikely(monitor_any()) && shown_at_start(d))
        monitor_feed(w, c, d, c->db, argc, argv);
}

/* A request refused before it ran: rejected_calls and errorstats. */
static void reject(struct worker *w, const struct cmd_def *d, const struct reply *r)
{
    if (d != NULL)
        w->cmdstats[d->id].rejected++;
    worker_count_error(w, r->err_code);
}

/* ... and, inside MULTI, the transaction fails at EXEC (Redis's flagTransaction). */
static void reject_client(struct conn *c, const struct cmd_def *d)
{
    reject(c->w, d, &c->out);
    multi_flag(c);
}

/*
 * Run the handler and account for it.
 * @return its duration in microseconds (for the slowlog of the origin worker)
 */
/*
 * A snapshot is running on a store this write may change in place (INCR,
 * APPEND, SETRANGE write into the entry): save the chains of its keys first.
 */
static void snap_touch_keys(struct cmd_ctx *ctx)
{
    int keys[256];
    int nk = cmd_get_keys(ctx->cmd, ctx->argc, ctx->argv, keys, (int)ARRAY_SIZE(keys));
    for (int i = 0; i < nk; i++) {
        const struct resp_arg *k = &ctx->argv[keys[i]];
        struct store *s = ctx->store ? ctx->store : cmd_store(ctx, k->ptr, k->len);
        if (store_snap_active(s))
            store_snap_touch(s, ctx->db, k->ptr, k->len);
    }
}

static bool any_snapshot(const struct cmd_ctx *ctx)
{
    if (ctx->store != NULL)
        return store_snap_active(ctx->store);
    for (unsigned i = 0; i < ctx->nshards; i++)
        if (store_snap_active(ctx->stores[i]))
            return true;
    return false;
}

/* Run the handler: snapshot first, then the keyspace changes' consequences. @return cycles */
static uint64_t run(struct worker *w, struct cmd_ctx *ctx)
{
    const struct cmd_def *d = ctx->cmd;
    if ((d->flags & CMD_WRITE) && unlikely(any_snapshot(ctx)))
        snap_touch_keys(ctx);
    uint64_t t0 = clock_cycles();
    d->fn(ctx);
    uint64_t cycles = clock_cycles() - t0;
    if (ctx->dirty > 0 || ctx->force_propagate) {
        atomic_store_explicit(
            &w->dirty, atomic_load_explicit(&w->dirty, memory_order_relaxed) + (uint64_t)ctx->dirty,
            memory_order_relaxed);
        if (ctx->propagate != NULL && ((d->flags & CMD_WRITE) || ctx->force_propagate))
            repl_after_write(&w->repl, ctx);
        if (unlikely(block_any()) && (d->flags & CMD_WRITE))
            block_signal(ctx);
    }
    return cycles;
}

static uint64_t execute(struct worker *w, struct cmd_ctx *ctx)
{
    const struct cmd_def *d = ctx->cmd;
    uint32_t errors = ctx->reply->errors;
    uint64_t cycles = run(w, ctx);
    /* a tracking client's read: its keys (a script's declared ones, once it read) */
    if (unlikely(ctx->track_who != 0) &&
        (((d->flags & CMD_READONLY) && !(d->acl & CMD_ACL_SCRIPTING)) || ctx->track_read))
        tracking_remember(ctx);
    struct cmd_stat *st = &w->cmdstats[d->id];
    st->calls++;
    st->usec_cycles += cycles;
    w->stats.commands++;
    if (ctx->reply->errors != errors) {
        st->failed++;
        worker_count_error(w, ctx->reply->err_code);
    }
    uint64_t ns = clock_cycles_to_ns(cycles);
    if (likely(!ctx->rerun_all)) /* a first run that does not count (rerun_all()) */
        latency_command(w, d, ns);
    return ns / 1000;
}

/* The slowlog lives with the client's worker, which knows its address and name. */
static void slowlog_check(struct worker *w, const struct conn *c, const struct cmd_def *d, int argc,
                          const struct resp_arg *argv, uint64_t us)
{
    long long slower = w->params.srv.slowlog_log_slower_than;
    if (slower >= 0 && !(d->flags & CMD_SKIP_SLOWLOG) && us >= (uint64_t)slower)
        slowlog_add(w, argc, argv, us, c->peer, c->name);
}

void dispatch_forward_done(struct worker *w, struct conn *c, struct shard_msg *m)
{
    if (m->arg >= 0)
        slowlog_check(w, c, m->cmd, m->argc, m->argv, (uint64_t)m->arg);
}

/* cmd_ctx.changed: WATCH's versions and the keyspace notifications. */
static void key_changed(struct cmd_ctx *c, int type, const char *event, int db, const char *key,
                        size_t len)
{
    if (watch_any())
        watch_changed(c, type, event, db, key, len);
    if (key != NULL && c->worker->notify_flags != 0)
        pubsub_notify(c->worker, type, event, db, key, len);
    if (tracking_any()) {
        if (key != NULL)
            tracking_changed(c, key, len);
        else if (event != NULL)
            tracking_flushed(c);
    }
}

static void ctx_init(struct cmd_ctx *ctx, struct worker *w, const struct cmd_def *d,
                     const struct cmd_def *parent, int argc, struct resp_arg *argv, struct reply *r,
                     int db)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->argc = argc;
    ctx->argv = argv;
    ctx->cmd = d;
    ctx->parent = parent;
    ctx->reply = r;
    ctx->db = db;
    ctx->now_ms = w->now_ms;
    ctx->stores = server.stores;
    ctx->nshards = server.nworkers;
    ctx->select_db = -1;
    ctx->max_bulk_len = w->params.srv.proto_max_bulk_len;
    ctx->coll = &w->params.coll;
    ctx->worker = w;
    ctx->propagate = repl_propagate_fn();
    if (unlikely(watch_any() || w->notify_flags != 0 || tracking_any()))
        ctx->changed = key_changed;
}

/*
 * A collected write reaches replicas between MULTI and EXEC: an EXEC block always, a
 * script's effects when there are several (a single command is atomic already), as Redis.
 */
static int wraps(const struct cmd_def *d)
{
    return d->route == ROUTE_EXEC   ? REPL_WRAP_ALWAYS
           : d->route == ROUTE_HOLD ? REPL_WRAP_SEVERAL
                                    : REPL_WRAP_NEVER;
}

/* The primary's stream acts on the keys the primary has: nothing expires meanwhile. */
static void expiry_for(struct cmd_ctx *ctx, uint64_t held, bool master, bool begin)
{
    if (!master)
        return;
    enum store_expiry mode = begin ? STORE_EXPIRY_NONE : STORE_EXPIRY_REPLICA;
    if (ctx->store != NULL) {
        store_set_expiry(ctx->store, mode);
        return;
    }
    for (unsigned i = 0; i < ctx->nshards; i++)
        if (held & (1ull << i))
            store_set_expiry(ctx->stores[i], mode);
}

static uint64_t shards_of(const struct conn *c, const struct cmd_def *d, int argc,
                          const struct resp_arg *argv, unsigned n);

/* EXEC: the union of the queued commands' shards (none outside MULTI or after an error). */
static uint64_t shards_of_queue(const struct conn *c, unsigned n)
{
    uint64_t mask = 0;
    if (c->multi == NULL || c->multi->aborted)
        return 0;
    for (const struct multi_cmd *q = c->multi->head; q != NULL; q = q->next)
        mask |= shards_of(c, q->cmd, q->argc, q->argv, n);
    return mask;
}

/* The shards of a request's keys (every shard for very many keys). */
static uint64_t shards_of_keys(const struct cmd_def *d, int argc, const struct resp_arg *argv,
                               unsigned n)
{
    int keys[256];
    uint64_t mask = 0;
    int nk = cmd_get_keys(d, argc, argv, keys, (int)ARRAY_SIZE(keys));
    if (nk == (int)ARRAY_SIZE(keys))
        return (n == 64 ? ~0ull : (1ull << n) - 1); /* many keys: hold everything */
    for (int i = 0; i < nk; i++)
        mask |= 1ull << cmd_key_shard(argv[keys[i]].ptr, argv[keys[i]].len, n);
    return mask;
}

/* Which shards a request touches (a bit per shard). */
static uint64_t shards_of(const struct conn *c, const struct cmd_def *d, int argc,
                          const struct resp_arg *argv, unsigned n)
{
    if (n == 1)
        return 1;
    switch (d->route) {
    case ROUTE_EXEC:
        return shards_of_queue(c, n) | watch_shards(c);
    case ROUTE_HOLD:
        /* its keys' shards and ours: run here, or as a transaction, never forwarded */
        return shards_of_keys(d, argc, argv, n) | 1ull << c->w->id;
    case ROUTE_ALL:
        return n == 64 ? ~0ull : (1ull << n) - 1;
    case ROUTE_SCAN: {
        /* A cursor that is not a number or names no shard: SCAN answers it locally. */
        uint64_t cur;
        if (!cmd_parse_cursor(argv[1].ptr, argv[1].len, &cur))
            return 0;
        return cmd_scan_mask(cur, n);
    }
    case ROUTE_SORT:
        if (cmd_sort_needs_all(argc, argv))
            return n == 64 ? ~0ull : (1ull << n) - 1;
        /* fall through */
    case ROUTE_KEYS:
        return shards_of_keys(d, argc, argv, n);
    default:
        return 0;
    }
}

static void forward(struct worker *w, struct conn *c, const struct cmd_def *d,
                    const struct cmd_def *parent, unsigned dst, int argc,
                    const struct resp_arg *argv)
{
    struct shard_msg *m = shard_msg_get(&w->port);
    m->type = SHARD_REQ;
    m->proto = c->proto;
    m->db = c->db;
    m->conn = c;
    m->origin = c->id;
    m->track_who = unlikely(c->track != 0) ? tracking_who(c) : 0;
    m->cmd = d;
    m->parent = parent;
    m->from_master = (c->flags & CONN_MASTER) != 0;
    /* only SORT asks (BY and GET patterns): other requests pay one compare */
    m->keys_limited =
        d->route == ROUTE_SORT && c->user != NULL && !acl_reads_all_keys(acl_rules_of(c->user));
    shard_msg_set_args(m, argc, argv);
    conn_add_hole(c, m);
    if (d->flags & CMD_BLOCKING)
        c->flags |= CONN_BLOCKED; /* until its reply says whether it waits */
    c->inflight++;
    if (c->inflight >= CONN_MAX_INFLIGHT)
        c->flags |= CONN_READ_PAUSED;
    w->stats.forwarded++;
    shard_send(&w->port, dst, m);
}

static void finish_local(struct conn *c, struct cmd_ctx *ctx)
{
    if (ctx->select_db >= 0)
        c->db = ctx->select_db;
    if (ctx->close_after)
        c->flags |= CONN_CLOSE_AFTER_REPLY;
}

/*
 * The connection's user may run this request: one load of the user's snapshot
 * and a bit test for a user with allkeys. Checked here, on the client's worker,
 * before the request is queued in MULTI or forwarded to another shard, so no
 * path runs a command unchecked. A refusal is answered with NOPERM and logged;
 * a deleted user's connection is closed.
 */
static bool acl_permitted(struct conn *c, const struct cmd_def *d, const struct cmd_def *parent,
                          int argc, const struct resp_arg *argv)
{
    const struct acl_rules *r = acl_rules_of(c->user);
    int pos;
    enum acl_result res = acl_check_fast(r, d, argc, argv, &pos);
    if (likely(res == ACL_OK))
        return true;
    if (r->flags & ACL_DELETED) {
        c->flags |= CONN_CLOSE_ASAP;
        return false;
    }
    char text[256];
    acl_denied_text(res, d, parent, &argv[pos], false, text, sizeof(text));
    reply_error(&c->out, text);
    client_acl_log_denial(c, res, d, parent,
                          res == ACL_DENIED_KEY || res == ACL_DENIED_CHANNEL ? &argv[pos] : NULL);
    return false;
}

/*
 * After a request ran on the client's worker: the client waits if its command blocked (or,
 * a retry, answered or waits again), and writes to watched keys serve their waiters.
 */
static void after_blocking(struct worker *w, struct conn *c, const struct block_who *who,
                           bool retry, uint64_t shards)
{
    if (retry)
        block_retry_done(w, c, who->made);
    else if (who->made != NULL)
        block_attach(w, c, who->made);
    if (unlikely(block_any()))
        block_serve(w, shards);
}

/* Let the command block client c of worker `worker`, which speaks RESP `proto`. */
static void arm_block(struct cmd_ctx *ctx, struct block_who *who, struct conn *c, unsigned worker,
                      int proto, int64_t deadline_ms)
{
    *who = (struct block_who){
        .conn = c, .worker = worker, .proto = proto, .deadline_ms = deadline_ms
    };
    ctx->block = block_register;
    ctx->block_arg = who;
}

/*
 * After a request of c ran (or left): CLIENT CACHING's flag lasts one command, and the
 * invalidations it caused leave now, after its reply (Redis's order for the client's own).
 */
static void after_tracking(struct worker *w, struct conn *c, const struct cmd_def *parent)
{
    if (unlikely(c->track & TRACK_CACHING))
        tracking_after_command(c, parent);
    if (unlikely(w->trk.pend_mask != 0))
        tracking_flush(w);
}

/*
 * A script stopped before any effect to run again holding every shard (cmd_ctx.rerun_all):
 * its first run does not count, the request is parsed again once the transaction is ready.
 */
static enum dispatch_result rerun_all(struct worker *w, struct conn *c, const struct cmd_def *d,
                                      bool in_tx)
{
    w->cmdstats[d->id].calls--;
    w->stats.commands--;
    c->flags |= CONN_SCRIPT_RERUN;
    if (in_tx)
        worker_tx_end(w);
    unsigned n = server.nworkers;
    worker_tx_begin(w, c, n >= 64 ? ~0ull : (1ull << n) - 1);
    return DISPATCH_WAIT;
}

enum dispatch_result dispatch_request(struct conn *c, int argc, struct resp_arg *argv)
{
    struct worker *w = c->w;
    const struct cmd_def *parent;
    bool bad_arity;
    const struct cmd_def *d = resolve(&c->out, argc, argv, &parent, &bad_arity);
    if (d == NULL || bad_arity) {
        reject_client(c, d);
        return DISPATCH_DONE;
    }
    if (unlikely(d->flags & CMD_PROTECTED) && !protected_command_ok(c, parent ? parent : d)) {
        reject_client(c, d);
        return DISPATCH_DONE;
    }
    c->last_cmd = d;
    c->last_parent = parent;
    if (!c->authenticated && !(d->flags & CMD_NO_AUTH)) {
        reply_error(&c->out, ERR_NOAUTH);
        reject_client(c, d);
        return DISPATCH_DONE;
    }
    if (c->user != NULL && !cmd_acl_exempt(d, parent) &&
        unlikely(!acl_permitted(c, d, parent, argc, argv))) {
        reject_client(c, d);
        return DISPATCH_DONE;
    }
    if (!(c->flags & CONN_MASTER) && !repl_write_allowed(c, d, &w->params.repl)) {
        reject_client(c, d);
        return DISPATCH_DONE;
    }
    if (unlikely(c->ps != NULL) && c->proto == 2 && pubsub_count(c) > 0 && !allowed_subscribed(d)) {
        if (parent != NULL)
            reply_errorf(&c->out, ERRF_SUBSCRIBED_ONLY_SUB, parent->name, d->name);
        else
            reply_errorf(&c->out, ERRF_SUBSCRIBED_ONLY, d->name);
        reject_client(c, d);
        return DISPATCH_DONE;
    }
    if (unlikely(w->busy_only) && !script_busy()) {
        /* the script ended during this busy pass: run it once the shard is free again */
        conn_want_flush(c);
        return DISPATCH_WAIT;
    }
    if (unlikely(script_busy() || w->busy_only) && !busy_allows(w, d, parent)) {
        script_reply_busy(&c->out);
        reject_client(c, d);
        return DISPATCH_DONE;
    }
    if (unlikely(atomic_load_explicit(&pause_mode_now, memory_order_relaxed) != PAUSE_NONE)) {
        enum pause_mode pm = pause_in_effect(w->now_ms);
        if (pm != PAUSE_NONE && pause_covers(pm, c, d, parent)) {
            pause_park(c);
            return DISPATCH_WAIT;
        }
    }
    if (c->multi != NULL && !(d->flags & CMD_TX_CONTROL)) {
        const struct cmd_def *top = parent != NULL ? parent : d;
        if ((top->flags | d->flags) & CMD_NO_MULTI) {
            reply_error(&c->out, ERR_NOT_IN_MULTI);
            reject_client(c, d);
            return DISPATCH_DONE;
        }
        if (!(c->flags & CONN_MASTER) && !memory_ok(w, w->store, true)) {
            /* out of memory: nothing is queued (the queue would grow without bound) */
            reply_error(&c->out, ERR_OOM);
            reject_client(c, d);
            return DISPATCH_DONE;
        }
        multi_queue(c, d, parent, argc, argv);
        reply_status(&c->out, "QUEUED");
        return DISPATCH_DONE;
    }

    unsigned n = server.nworkers;
    uint64_t mask = shards_of(c, d, argc, argv, n);
    bool in_tx = w->tx.conn == c && w->tx.ready;
    struct cmd_ctx ctx;

    if (!in_tx && d->route == ROUTE_EXEC && (mask & ~(1ull << w->id)) != 0) {
        /* EXEC over other shards: always a transaction, the queue cannot travel. */
        worker_tx_begin(w, c, mask);
        return DISPATCH_WAIT;
    }
    if (!in_tx && mask != 0 && (mask & (mask - 1)) == 0 && mask != (1ull << w->id)) {
        /* One shard, not ours: forward. */
        unsigned dst = (unsigned)__builtin_ctzll(mask);
        forward(w, c, d, parent, dst, argc, argv);
        feed_monitors(w, c, d, argc, argv);
        after_tracking(w, c, parent);
        return DISPATCH_DONE;
    }
    if (!in_tx && mask != 0 && (mask & (mask - 1)) != 0) {
        /* Several shards: a transaction that holds them all. */
        worker_tx_begin(w, c, mask);
        return DISPATCH_WAIT;
    }

    ctx_init(&ctx, w, d, parent, argc, argv, &c->out, c->db);
    ctx.client = c;
    ctx.origin = c->id;
    if (unlikely(c->track != 0))
        ctx.track_who = tracking_who(c);
    bool master = (c->flags & CONN_MASTER) != 0;
    struct block_who who = { 0 };
    bool retry = (c->flags & CONN_BLOCK_RETRY) != 0;
    if ((d->flags & CMD_BLOCKING) && !master) {
        int64_t deadline = -1;
        if (retry) {
            int rargc;
            struct resp_arg *rargv;
            deadline = block_request(c, &rargc, &rargv);
        }
        arm_block(&ctx, &who, c, c->w->id, c->proto, deadline);
    }
    if (in_tx) {
        ctx.store = NULL;
        for (unsigned i = 0; i < n && !master; i++) {
            if ((w->tx.have & (1ull << i)) && !memory_ok(w, server.stores[i], denyoom(c, d))) {
                refuse_oom(c, d, w->tx.have);
                reject(w, d, &c->out);
                worker_tx_end(w);
                return DISPATCH_DONE;
            }
        }
        /* a write over several shards reaches replicas as one piece */
        bool collect = ctx.propagate != NULL;
        if (collect)
            repl_collect_begin(&w->repl);
        expiry_for(&ctx, w->tx.have, master, true);
        feed_script_start(w, c, d, argc, argv);
        slowlog_check(w, c, d, argc, argv, execute(w, &ctx));
        expiry_for(&ctx, w->tx.have, master, false);
        if (collect)
            repl_collect_end(&w->repl, w->tx.have, wraps(d));
        if (unlikely(ctx.rerun_all))
            return rerun_all(w, c, d, true);
        finish_local(c, &ctx);
        feed_monitors(w, c, d, argc, argv);
        after_blocking(w, c, &who, retry, w->tx.have);
        worker_tx_end(w);
        after_tracking(w, c, parent);
        return DISPATCH_DONE;
    }
    ctx.store = w->store;
    ctx.shard = w->id;
    if (d->route != ROUTE_LOCAL && !master && !memory_ok(w, w->store, denyoom(c, d))) {
        refuse_oom(c, d, 0);
        reject(w, d, &c->out);
        return DISPATCH_DONE;
    }
    bool collect = ctx.propagate != NULL && (d->route == ROUTE_EXEC || d->route == ROUTE_HOLD);
    if (collect)
        repl_collect_begin(&w->repl);
    expiry_for(&ctx, 0, master, true);
    feed_script_start(w, c, d, argc, argv);
    slowlog_check(w, c, d, argc, argv, execute(w, &ctx));
    expiry_for(&ctx, 0, master, false);
    if (collect)
        repl_collect_end(&w->repl, 1ull << w->id, wraps(d));
    if (unlikely(ctx.rerun_all))
        return rerun_all(w, c, d, false);
    finish_local(c, &ctx);
    feed_monitors(w, c, d, argc, argv);
    after_blocking(w, c, &who, retry, 1ull << w->id);
    after_tracking(w, c, parent);
    return DISPATCH_DONE;
}

void dispatch_block_retry(struct conn *c)
{
    int argc;
    struct resp_arg *argv;
    block_request(c, &argc, &argv);
    worker_tx_begin(
        c->w, c, shards_of(c, cmd_lookup(argv[0].ptr, argv[0].len), argc, argv, server.nworkers));
}

void dispatch_block_rerun(struct worker *w, struct conn *c)
{
    int argc;
    struct resp_arg *argv;
    block_request(c, &argc, &argv);
    dispatch_request(c, argc, argv);
    if (c->flags & CONN_BLOCK_RETRY)
        block_retry_done(w, c, NULL); /* refused before it ran (its error is the answer) */
}

void dispatch_serve(struct worker *w, unsigned shard, const struct cmd_def *d,
                    const struct cmd_def *parent, int argc, struct resp_arg *argv, int db,
                    const struct resp_arg *key, struct reply *r)
{
    struct cmd_ctx ctx;
    ctx_init(&ctx, w, d, parent, argc, argv, r, db);
    ctx.store = server.stores[shard];
    ctx.shard = shard;
    ctx.ready_key = key;
    run(w, &ctx);
}

/*
 * EXEC checks each queued command again: the user's rules may have changed
 * since it was queued (Redis 7.0's text and an ACL LOG entry, context multi).
 */
static bool still_permitted(struct conn *c, const struct multi_cmd *q, struct reply *r)
{
    if (c->user == NULL || cmd_acl_exempt(q->cmd, q->parent))
        return true;
    int pos;
    enum acl_result res = acl_check_fast(acl_rules_of(c->user), q->cmd, q->argc, q->argv, &pos);
    if (likely(res == ACL_OK))
        return true;
    reply_errorf(r, ERRF_NOPERM_EXEC_CHANGED,
                 res == ACL_DENIED_KEY ? "no permission to touch the specified keys"
                 : res == ACL_DENIED_CHANNEL
                     ? "no permission to access one of the channels used "
                       "as arguments"
                     : "no permission to execute the command or subcommand");
    client_acl_log_denial(c, res, q->cmd, q->parent,
                          res == ACL_DENIED_KEY || res == ACL_DENIED_CHANNEL ? &q->argv[pos]
                                                                             : NULL);
    return false;
}

long long dispatch_run_script(struct cmd_ctx *script, const struct cmd_def *d,
                              const struct cmd_def *parent, int argc, struct resp_arg *argv,
                              struct reply *r, int *db)
{
    struct worker *w = script->worker;
    struct cmd_ctx ctx;
    ctx_init(&ctx, w, d, parent, argc, argv, r, *db);
    ctx.client = script->client;
    ctx.origin = script->origin;
    ctx.store = script->store;
    ctx.shard = script->shard;
    execute(w, &ctx);
    if (script->track_who != 0 && (d->flags & CMD_READONLY))
        script->track_read = true; /* its declared keys are remembered (Redis's rule) */
    if (ctx.select_db >= 0)
        *db = ctx.select_db;
    if (unlikely(monitor_any()))
        monitor_feed(w, NULL, d, *db, argc, argv); /* shown as the script's, "lua" */
    return ctx.dirty;
}

bool dispatch_memory_ok(struct worker *w, const struct cmd_ctx *c)
{
    if (c->store != NULL)
        return memory_ok(w, c->store, true);
    for (unsigned i = 0; i < server.nworkers; i++)
        if ((w->tx.have & (1ull << i)) && !memory_ok(w, server.stores[i], true))
            return false;
    return true;
}

void dispatch_run_queued(struct cmd_ctx *exec, const struct multi_cmd *q)
{
    struct worker *w = exec->worker;
    struct conn *c = exec->client;
    if (!still_permitted(c, q, exec->reply))
        return;
    struct cmd_ctx ctx;
    ctx_init(&ctx, w, q->cmd, q->parent, q->argc, q->argv, exec->reply, c->db);
    ctx.client = c;
    ctx.origin = c->id;
    if (unlikely(c->track != 0))
        ctx.track_who = tracking_who(c);
    ctx.store = exec->store;
    ctx.shard = exec->shard;
    slowlog_check(w, c, q->cmd, q->argc, q->argv, execute(w, &ctx));
    finish_local(c, &ctx);
    feed_monitors(w, c, q->cmd, q->argc, q->argv);
    exec->dirty += ctx.dirty;
}

void dispatch_forwarded(struct worker *w, struct shard_msg *m)
{
    struct cmd_ctx ctx;
    shard_msg_reply_init(m);
    ctx_init(&ctx, w, m->cmd, m->parent, m->argc, m->argv, &m->reply, m->db);
    ctx.store = w->store;
    ctx.shard = w->id;
    ctx.keys_limited = m->keys_limited;
    ctx.origin = m->origin;
    ctx.track_who = m->track_who;
    w->stats.forwarded_in++;
    m->arg = -1;
    struct block_who who = { 0 };
    if ((ctx.cmd->flags & CMD_BLOCKING) && !m->from_master)
        arm_block(&ctx, &who, m->conn, m->src, m->proto, -1);
    if (m->from_master) {
        store_set_expiry(w->store, STORE_EXPIRY_NONE);
        m->arg = (int64_t)execute(w, &ctx);
        store_set_expiry(w->store, STORE_EXPIRY_REPLICA);
    } else if (memory_ok(w, w->store, (ctx.cmd->flags & CMD_DENYOOM) != 0)) {
        m->arg = (int64_t)execute(w, &ctx);
    } else {
        reply_error(&m->reply, ERR_OOM);
        reject(w, ctx.cmd, &m->reply);
    }
    m->waiter = who.made;
    m->type = SHARD_REPLY;
    shard_send(&w->port, m->src, m);
    if (unlikely(block_any()))
        block_serve(w, 1ull << w->id);
}
