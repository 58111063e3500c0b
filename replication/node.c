/*
 * The node's replication state, the write feed, snapshots and the merge
 * thread. See repl.h for the threads and docs/replication.md for the whole.
 */
#include "replication/repl.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "replication/host.h"
#include "base/log.h"
#include "base/mem.h"
#include "replication/repl_int.h"
#include "base/util.h"
#include "base/errors.h"
#include "cmd/coll.h"

const char *const repl_diskless_load_names[] = { "disabled", "on-empty-db", "swapdb", NULL };

#define PARAM_S repl_params
const struct param_def repl_param_defs[] = { REPL_PARAMS(PARAM_X_DEF) PARAM_DEFS_END };
#undef PARAM_S

struct repl_node repl_node;

void repl_master_addr(char *host, size_t cap, int *port)
{
    pthread_mutex_lock(&repl_node.lock);
    snprintf(host, cap, "%s", repl_node.master_host);
    *port = repl_node.master_port;
    pthread_mutex_unlock(&repl_node.lock);
}

/* The stream has one producer at a time: the merge thread on a primary, the link on a replica. */
static pthread_mutex_t producer_lock = PTHREAD_MUTEX_INITIALIZER;

#define SNAP_STEP_ENTRIES 512
#define SNAPBUF_FLUSH     (64 * 1024)
#define FEED_QUEUE_MAX    (4u << 20) /* a shard stops serialising above this backlog */
#define RDB_UNREAD_MAX    (4u << 20) /* ... or when replicas are this far behind */

static void new_replid(char *id)
{
    for (int i = 0; i < 40; i++)
        id[i] = "0123456789abcdef"[util_rand64() & 15];
    id[40] = '\0';
}

static const struct repl_merge_ops merge_ops;

int repl_setup(unsigned nworkers, const struct repl_params *p)
{
    memset(&repl_node, 0, sizeof(repl_node));
    repl_node.nworkers = nworkers;
    pthread_mutex_init(&repl_node.lock, NULL);
    new_replid(repl_node.replid);
    memset(repl_node.replid2, '0', 40);
    repl_node.second_offset = -1;
    repl_stream_init(&repl_node.stream, 0, (uint64_t)p->repl_backlog_size);
    for (unsigned i = 0; i < nworkers; i++) {
        struct repl_shard *sh = &repl_node.shards[i];
        if (repl_feed_init(&sh->feed) != 0)
            return -ENOMEM;
        rdb_buf_init(&sh->snapbuf);
        rdb_encode_opts_init(&sh->enc);
        repl_node.feedp[i] = &sh->feed;
        store_set_removed_hook(host_store(i), repl_store_removed, sh);
        host_worker_repl(host_worker(i))->id = i;
    }
    repl_merge_init(&repl_node.merge, repl_node.feedp, nworkers, &merge_ops, NULL);
    host_worker_make_internal(host_worker(0));
    atomic_store(&repl_node.lastsave, clock_real_ms() / 1000);
    repl_node.no_replicas_since_ms = clock_real_ms();
    repl_node.merge_evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (repl_node.merge_evfd < 0)
        return -errno;
    return 0;
}

static void *merge_main(void *arg);

void repl_start_thread(void)
{
    pthread_create(&repl_node.thread, NULL, merge_main, NULL);
}

static void sync_free(struct repl_sync *sy);

void repl_teardown(void)
{
    atomic_store(&repl_node.stop, true);
    pthread_join(repl_node.thread, NULL);
    repl_merge_deinit(&repl_node.merge);
    if (atomic_load(&repl_node.sync) != NULL)
        sync_free(atomic_load(&repl_node.sync));
    atomic_store(&repl_node.sync, NULL);
    for (unsigned i = 0; i < repl_node.nworkers; i++) {
        repl_feed_deinit(&repl_node.shards[i].feed);
        rdb_buf_deinit(&repl_node.shards[i].snapbuf);
    }
    repl_stream_deinit(&repl_node.stream);
    pthread_mutex_destroy(&repl_node.lock);
    close(repl_node.merge_evfd);
}

/* ---------------------------------------------------------------------------
 * The write feed
 *
 * A write that executed on one shard goes to that shard's feed as it runs. A
 * write that spans shards (a multi-key command in a transaction, an EXEC
 * block) is collected while it runs and written at the end as one MULTI
 * record with a part in every shard it held: the merge waits until every
 * shard reached its part, so the stream has the whole of it in one place.
 * ------------------------------------------------------------------------ */

static inline bool feeding(void)
{
    return atomic_load_explicit(&repl_node.feeding, memory_order_relaxed);
}

static void record(struct repl_worker *rw, int db, int argc, const struct resp_arg *argv)
{
    if (rw->collecting) {
        size_t n = repl_resp_size(argc, argv);
        struct feed_sub sub = { db, (uint32_t)n };
        rdb_buf_reserve(&rw->collect, sizeof(sub) + n);
        memcpy(rw->collect.p + rw->collect.len, &sub, sizeof(sub));
        rw->collect.len += sizeof(sub);
        repl_resp_write(rw->collect.p + rw->collect.len, argc, argv);
        rw->collect.len += n;
        rw->collected++;
        return;
    }
    repl_feed_command(&repl_node.shards[rw->id].feed, db, argc, argv);
}

static void propagate(struct cmd_ctx *c, int argc, const struct resp_arg *argv)
{
    record(host_worker_repl(c->worker), c->db, argc, argv);
}

void repl_after_write(struct repl_worker *rw, struct cmd_ctx *ctx)
{
    if (!ctx->propagated)
        record(rw, ctx->db, ctx->argc, ctx->argv);
}

void repl_worker_init(struct repl_worker *rw)
{
    rdb_buf_init(&rw->collect);
}

void repl_worker_deinit(struct repl_worker *rw)
{
    rdb_buf_deinit(&rw->collect);
}

void repl_collect_begin(struct repl_worker *rw)
{
    rw->collecting = true;
    rw->collect.len = 0;
    rw->collected = 0;
}

void repl_collect_end(struct repl_worker *rw, uint64_t shards, int wrap)
{
    rw->collecting = false;
    if (rw->collect.len == 0)
        return;
    uint64_t id = ((uint64_t)rw->id << 56) | (++rw->txseq & ((1ull << 56) - 1));
    unsigned nparts = (unsigned)__builtin_popcountll(shards);
    for (unsigned s = 0; s < repl_node.nworkers; s++) {
        if (!(shards & (1ull << s)))
            continue;
        size_t len = s == rw->id ? rw->collect.len : 0;
        void *p = repl_feed_reserve(&repl_node.shards[s].feed, FEED_MULTI, 0, len);
        if (len > 0)
            memcpy(p, rw->collect.p, len);
        struct feed_rec *h = repl_feed_last(&repl_node.shards[s].feed);
        h->id = id;
        h->nparts = (uint16_t)nparts;
        h->flags = wrap == REPL_WRAP_ALWAYS || (wrap == REPL_WRAP_SEVERAL && rw->collected > 1)
                       ? FEED_WRAP
                       : 0;
    }
    rw->collect.len = 0;
}

void *repl_propagate_fn(void)
{
    return feeding() && atomic_load_explicit(&repl_node.role, memory_order_relaxed) == REPL_PRIMARY
               ? (void *)propagate
               : NULL;
}

void repl_store_removed(void *arg, int db, const struct kv *e, bool evicted)
{
    struct repl_shard *sh = arg;
    host_key_removed(db, e, evicted);
    if (!feeding() || atomic_load_explicit(&repl_node.role, memory_order_relaxed) != REPL_PRIMARY)
        return;
    struct worker *w = host_worker_self();
    bool lazy = w != NULL && host_param_lazyfree(w, evicted);
    size_t klen;
    const char *key = kv_key(e, &klen);
    struct resp_arg argv[2] = { { lazy ? (char *)"UNLINK" : (char *)"DEL", lazy ? 6u : 3u },
                                { (char *)key, klen } };
    repl_feed_command(&sh->feed, db, 2, argv);
}

/* ---------------------------------------------------------------------------
 * Snapshots: each shard serialises its own store (store_snap_*) into RDB
 * entry records on its feed; the merge thread assembles them.
 * ------------------------------------------------------------------------ */

/* One entry as an RDB record: a string, or a collection as cmd/coll.c writes it. */
static void encode_entry(struct rdb_buf *b, const struct kv *e, int64_t exp,
                         const struct rdb_encode_opts *o)
{
    if (kv_type(e) != KV_STRING) {
        coll_encode(b, e, exp, o);
        return;
    }
    size_t klen, vlen;
    const char *key = kv_key(e, &klen);
    const char *val = kv_val((struct kv *)e, &vlen);
    rdb_encode_string(b, key, klen, val, vlen, exp, o);
}

static void snap_flush(struct repl_shard *sh)
{
    if (sh->snapbuf.len == 0)
        return;
    void *p = repl_feed_reserve(&sh->feed, FEED_RDB, sh->snapdb, sh->snapbuf.len);
    memcpy(p, sh->snapbuf.p, sh->snapbuf.len);
    sh->snapbuf.len = 0;
}

static void snap_emit(void *arg, int db, const struct kv *e)
{
    struct repl_shard *sh = arg;
    int64_t exp = kv_expire(e);
    if (exp >= 0 && exp < sh->now_ms)
        return; /* already expired: a loading replica would drop it anyway */
    struct coll_snap *cs =
        kv_type(e) != KV_STRING ? coll_snap_open(e, db, exp, &sh->enc, repl_feed_headroom()) : NULL;
    if (cs != NULL) {
        /* a big collection: its record is written a slice at a time (nested_step) */
        cs->next = sh->nested;
        sh->nested = cs;
        return;
    }
    if (db != sh->snapdb)
        snap_flush(sh);
    sh->snapdb = db;
    encode_entry(&sh->snapbuf, e, exp, &sh->enc);
    if (sh->snapbuf.len >= SNAPBUF_FLUSH)
        snap_flush(sh);
}

/*
 * Step the big collections being written; a finished record goes to the feed whole, in the
 * block it was written in (the merge takes records of several shards in turns, so each feed
 * record holds whole RDB records). @return true when none is left.
 */
static bool nested_step(struct repl_shard *sh, size_t max)
{
    for (struct coll_snap **p = &sh->nested; *p != NULL;) {
        struct coll_snap *cs = *p;
        if (!coll_snap_step(cs, max)) {
            p = &cs->next;
            continue;
        }
        size_t len = cs->rec->len;
        repl_feed_adopt(&sh->feed, FEED_RDB, cs->db, rdb_buf_take(cs->rec), len);
        *p = cs->next;
        coll_snap_close(cs);
    }
    return sh->nested == NULL;
}

static void nested_abort(struct repl_shard *sh)
{
    while (sh->nested != NULL) {
        struct coll_snap *cs = sh->nested;
        sh->nested = cs->next;
        coll_snap_close(cs);
    }
}

/* ---------------------------------------------------------------------------
 * Starting a snapshot: with every shard held, so that the cut is the same
 * point in every shard's feed. c is the connection that asked (a replica, or
 * a client running SAVE/BGSAVE); see primary.c and node_cmd.c.
 * ------------------------------------------------------------------------ */

struct repl_sync *repl_sync_begin(struct worker *w, bool for_replicas, const char *path)
{
    struct repl_sync *sy = mem_calloc(sizeof(*sy));
    repl_stream_init(&sy->rdb, 0, 0);
    sy->for_replicas = for_replicas;
    sy->path = path ? mem_strdup(path) : NULL;
    sy->db = -1;
    sy->start_ms = host_now_ms(w);
    sy->dirty_start = repl_dirty_total();
    rdb_writer_init(&sy->wr, host_repl_params(w)->rdbchecksum != 0);
    rdb_buf_init(&sy->buf);
    pthread_mutex_lock(&repl_node.lock);
    sy->id = ++repl_node.next_sync_id;
    atomic_store(&repl_node.sync, sy);
    pthread_mutex_unlock(&repl_node.lock);
    atomic_store(&repl_node.bgsave_running, path != NULL);
    unsigned n = repl_node.nworkers;
    for (unsigned i = 0; i < n; i++) {
        struct repl_shard *sh = &repl_node.shards[i];
        repl_feed_reserve(&sh->feed, FEED_SNAP, -1, 0);
        struct feed_rec *h = repl_feed_last(&sh->feed);
        h->id = sy->id;
        h->nparts = (uint16_t)n;
        sh->snapping = true;
        sh->snap_id = sy->id;
        sh->snapdb = -1;
        sh->now_ms = host_now_ms(w);
        sh->enc.compress = host_repl_params(w)->rdbcompression != 0;
        store_snap_begin(host_store(i), snap_emit, sh);
    }
    if (atomic_load(&repl_node.role) == REPL_REPLICA) {
        /* A replica's stream is the primary's, appended as it is applied:
         * with every shard held, what it holds is exactly what is applied. */
        atomic_store(&sy->offset, repl_stream_end(&repl_node.stream));
        atomic_store_explicit(&sy->offset_known, true, memory_order_release);
    }
    return sy;
}

void repl_hold_ready(struct worker *w, struct conn *c)
{
    if (host_conn_replica(c) != NULL)
        repl_primary_hold_ready(w, c);
    else
        repl_save_hold_ready(w, c);
}

void repl_worker_cron(struct worker *w)
{
    repl_wait_cron(w);
    repl_save_cron(w);
    repl_link_cron(w);
}

unsigned repl_worker_pass(struct worker *w, unsigned busy)
{
    struct repl_shard *sh = &repl_node.shards[host_worker_id(w)];
    unsigned work = 0;
    if (sh->snapping) {
        struct repl_sync *sy = atomic_load(&repl_node.sync);
        if (sy != NULL && sy->id == sh->snap_id &&
            atomic_load_explicit(&sy->abandoned, memory_order_relaxed)) {
            store_snap_abort(host_worker_store(w)); /* nobody reads it: end this shard's part now */
            nested_abort(sh);
        }
        bool nested = sh->nested != NULL;
        if (store_snap_active(host_worker_store(w)) || nested) {
            size_t queued = atomic_load_explicit(&sh->feed.queued, memory_order_relaxed);
            bool throttle = sy != NULL && atomic_load_explicit(&sy->throttle, memory_order_relaxed);
            if (!throttle && queued < FEED_QUEUE_MAX) {
                sh->now_ms = host_now_ms(w);
                /* a short slice between requests, a long one when there are none; the big
                 * collections under way first, so their records (memory) do not pile up */
                size_t slice = busy ? SNAP_STEP_ENTRIES / 8 : SNAP_STEP_ENTRIES * 4;
                if (!nested || nested_step(sh, slice))
                    store_snap_step(host_worker_store(w), slice);
            }
        }
        if (!store_snap_active(host_worker_store(w)) && sh->nested == NULL) {
            snap_flush(sh);
            repl_feed_reserve(&sh->feed, FEED_RDB_END, -1, 0);
            sh->snapping = false;
        }
        work++;
    }
    snap_flush(sh); /* chains saved before a write */
    size_t before = atomic_load_explicit(&sh->feed.queued, memory_order_relaxed);
    repl_feed_flush(&sh->feed);
    if (atomic_load_explicit(&sh->feed.queued, memory_order_relaxed) != before)
        repl_merge_wake();
    if (host_worker_blocked(w) > 0)
        repl_wait_cron(w); /* WAIT answers within the pass its acknowledgement arrives */
    repl_replicas_pass(w);
    if (host_worker_id(w) == 0)
        work += repl_link_pass(w);
    return work;
}

/* ---------------------------------------------------------------------------
 * The merge thread
 * ------------------------------------------------------------------------ */

static void emit(void *arg, const void *p, size_t n)
{
    (void)arg;
    repl_stream_append(&repl_node.stream, p, n);
}

/* Bytes of the RDB under assembly go to its readers and its file. */
static void sync_out(struct repl_sync *sy, const void *p, size_t n)
{
    rdb_writer_update(&sy->wr, p, n);
    if (sy->for_replicas)
        repl_stream_append(&sy->rdb, p, n);
    if (sy->file != NULL && fwrite(p, 1, n, sy->file) != n)
        atomic_store(&sy->failed, true);
}

static void sync_out_buf(struct repl_sync *sy)
{
    if (sy->buf.len > 0)
        sync_out(sy, sy->buf.p, sy->buf.len);
    sy->buf.len = 0;
}

static void on_snap(void *arg, uint64_t id)
{
    (void)arg;
    struct repl_sync *sy = atomic_load(&repl_node.sync);
    if (sy == NULL || sy->id != id)
        return;
    if (!atomic_load(&sy->offset_known)) {
        uint64_t at = repl_stream_end(&repl_node.stream);
        atomic_store(&sy->offset, at);
        /* replicas waiting for this snapshot continue from here */
        pthread_mutex_lock(&repl_node.lock);
        for (struct repl_replica *r = repl_node.replicas; r != NULL; r = r->next)
            if (r->sync == sy && !r->stream_cur.registered)
                repl_cursor_attach(&repl_node.stream, &r->stream_cur, at);
        pthread_mutex_unlock(&repl_node.lock);
        atomic_store_explicit(&sy->offset_known, true, memory_order_release);
    }
    if (sy->path != NULL) {
        char tmp[4200];
        snprintf(tmp, sizeof(tmp), "%s.tmp-%d-%llu", sy->path, (int)getpid(),
                 (unsigned long long)sy->id);
        sy->file = fopen(tmp, "wb");
        if (sy->file == NULL) {
            log_warn("Failed opening the temp RDB file %s (in server root dir): %s", tmp,
                     strerror(errno));
            atomic_store(&sy->failed, true);
        }
    }
    char replid[41];
    pthread_mutex_lock(&repl_node.lock);
    memcpy(replid, repl_node.replid, sizeof(replid));
    pthread_mutex_unlock(&repl_node.lock);
    struct mem_stats ms;
    mem_stats(&ms);
    struct rdb_aux_info aux = {
        .redis_ver = SERVER_REDIS_VERSION,
        .redis_bits = (int)(sizeof(void *) * 8),
        .ctime = clock_real_ms() / 1000,
        .used_mem = (long long)ms.allocated,
        .repl_stream_db = 0,
        .repl_id = replid,
        .repl_offset = (long long)atomic_load(&sy->offset),
        .aof_base = 0,
    };
    rdb_encode_header(&sy->buf, RDB_VERSION);
    rdb_encode_aux_fields(&sy->buf, &aux);
    host_functions_dump(&sy->buf);
    sync_out_buf(sy);
}

static void on_rdb(void *arg, unsigned shard, int db, const void *p, size_t n)
{
    (void)arg;
    (void)shard;
    struct repl_sync *sy = atomic_load(&repl_node.sync);
    if (sy == NULL)
        return;
    if (db != sy->db) {
        rdb_encode_selectdb(&sy->buf, db);
        sy->db = db;
    }
    sync_out_buf(sy);
    sync_out(sy, p, n);
}

static void sync_finish(struct repl_sync *sy)
{
    if (atomic_load(&sy->abandoned))
        atomic_store(&sy->failed, true); /* cut short: not a valid RDB */
    rdb_writer_eof(&sy->wr, &sy->buf);
    if (sy->for_replicas)
        repl_stream_append(&sy->rdb, sy->buf.p, sy->buf.len);
    if (sy->file != NULL && fwrite(sy->buf.p, 1, sy->buf.len, sy->file) != sy->buf.len)
        atomic_store(&sy->failed, true);
    sy->buf.len = 0;
    if (sy->file != NULL) {
        char tmp[4200];
        snprintf(tmp, sizeof(tmp), "%s.tmp-%d-%llu", sy->path, (int)getpid(),
                 (unsigned long long)sy->id);
        FILE *f = sy->file;
        sy->file = NULL;
        bool ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
        ok &= fclose(f) == 0;
        if (ok && !atomic_load(&sy->failed) && rename(tmp, sy->path) == 0) {
            log_notice("DB saved on disk");
            atomic_store(&repl_node.lastsave, clock_real_ms() / 1000);
            atomic_store(&repl_node.dirty_saved, sy->dirty_start);
            atomic_store(&repl_node.bgsave_status, 0);
            atomic_fetch_add(&repl_node.rdb_saves, 1);
        } else {
            log_warn("Write error saving DB on disk: %s", strerror(errno));
            unlink(tmp);
            atomic_store(&sy->failed, true);
            atomic_store(&repl_node.bgsave_status, -1);
        }
        atomic_store(&repl_node.last_bgsave_secs, (clock_real_ms() - sy->start_ms) / 1000);
    } else if (sy->path != NULL) {
        atomic_store(&repl_node.bgsave_status, -1);
    }
    atomic_store(&repl_node.bgsave_running, false);
    atomic_store_explicit(&sy->done, true, memory_order_release);
}

static void on_rdb_end(void *arg, unsigned shard)
{
    (void)arg;
    (void)shard;
    struct repl_sync *sy = atomic_load(&repl_node.sync);
    if (sy == NULL)
        return;
    sync_out_buf(sy);
    if (++sy->shards_done == repl_node.nworkers)
        sync_finish(sy);
}

static const struct repl_merge_ops merge_ops = { emit, on_snap, on_rdb, on_rdb_end };

static void sync_free(struct repl_sync *sy)
{
    if (sy->file != NULL)
        fclose(sy->file);
    repl_stream_deinit(&sy->rdb);
    rdb_buf_deinit(&sy->buf);
    mem_free(sy->path);
    mem_free(sy);
}

/*
 * Free what readers are done with and pause the shards while the slowest one is more than
 * RDB_UNREAD_MAX behind. The measure is the readers' lag, not the blocks allocated (spare
 * blocks kept for reuse count there): with no reader left there is nothing to wait for.
 * Retire a finished sync once its last reader is done with it.
 */
static void sync_housekeeping(void)
{
    struct repl_sync *sy = atomic_load(&repl_node.sync);
    if (sy == NULL)
        return;
    if (sy->for_replicas && !atomic_load(&sy->keep_all)) {
        uint64_t unread = repl_stream_trim(&sy->rdb);
        atomic_store_explicit(&sy->throttle, unread > RDB_UNREAD_MAX, memory_order_relaxed);
    }
    if (atomic_load_explicit(&sy->done, memory_order_acquire) && atomic_load(&sy->readers) == 0) {
        pthread_mutex_lock(&repl_node.lock);
        atomic_store(&repl_node.sync, NULL);
        pthread_mutex_unlock(&repl_node.lock);
        sync_free(sy);
    }
}

/* What the merge thread reads of the parameters, ten times a second. */
struct merge_params {
    long long ping_period, max_lag, backlog_size, backlog_ttl;
};

static void read_merge_params(const struct repl_params *p, void *arg)
{
    struct merge_params *mp = arg;
    mp->ping_period = p->repl_ping_replica_period;
    mp->max_lag = p->min_replicas_max_lag;
    mp->backlog_size = p->repl_backlog_size;
    mp->backlog_ttl = p->repl_backlog_ttl;
}

static void read_checksum(const struct repl_params *p, void *arg)
{
    *(bool *)arg = p->rdbchecksum != 0;
}

/* Once a second: replicas in good standing (min-replicas-*), the backlog's TTL. */
static void replicas_housekeeping(int64_t now_ms, long long max_lag)
{
    int good = 0, total = 0;
    pthread_mutex_lock(&repl_node.lock);
    for (struct repl_replica *r = repl_node.replicas; r != NULL; r = r->next) {
        total++;
        if (atomic_load(&r->state) == RSTATE_ONLINE &&
            (now_ms - atomic_load(&r->ack_time_ms)) / 1000 <= max_lag)
            good++;
    }
    pthread_mutex_unlock(&repl_node.lock);
    atomic_store(&repl_node.good_replicas, good);
    if (total > 0)
        repl_node.no_replicas_since_ms = now_ms;
}

/*
 * The merge thread sleeps on an eventfd: workers that queue feed chunks (and WAIT, which
 * wants a GETACK out now) write it, but only while the thread says it sleeps, so a busy
 * primary makes no system call for it.
 */
static void merge_sleep(int us)
{
    atomic_store(&repl_node.merge_sleeping, true);
    atomic_thread_fence(memory_order_seq_cst);
    bool pending = atomic_load(&repl_node.getack);
    for (unsigned i = 0; i < repl_node.nworkers && !pending; i++)
        pending = atomic_load_explicit(&repl_node.shards[i].feed.queued, memory_order_relaxed) > 0;
    if (!pending) {
        struct pollfd pfd = { .fd = repl_node.merge_evfd, .events = POLLIN };
        struct timespec ts = { us / 1000000, (long)(us % 1000000) * 1000 };
        if (ppoll(&pfd, 1, &ts, NULL) > 0) {
            uint64_t v;
            ssize_t r = read(repl_node.merge_evfd, &v, sizeof(v));
            (void)r;
        }
    }
    atomic_store(&repl_node.merge_sleeping, false);
}

void repl_merge_wake(void)
{
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&repl_node.merge_sleeping, memory_order_relaxed)) {
        uint64_t one = 1;
        ssize_t r = write(repl_node.merge_evfd, &one, sizeof(one));
        (void)r;
    }
}

static const char ping_cmd[] = "*1\r\n$4\r\nPING\r\n";
static const char getack_cmd[] = "*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n";

static void *merge_main(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "pollux-repl");
    mem_thread_arena_setup();
    int64_t last_second = 0, last_ping = clock_real_ms();
    long long ping_period = 10, max_lag = 10, backlog = 1 << 20;
    unsigned idle = 0;
    while (!atomic_load_explicit(&repl_node.stop, memory_order_relaxed)) {
        int64_t now_ms = clock_real_ms();
        bool primary = atomic_load(&repl_node.role) == REPL_PRIMARY;
        pthread_mutex_lock(&producer_lock);
        repl_node.merge.discard = !primary;
        if (atomic_exchange(&repl_node.reselect, false))
            repl_merge_reselect(&repl_node.merge);
        size_t n = repl_merge_run(&repl_node.merge);
        /* where the writes end: WAIT's target, without the PINGs and GETACKs below */
        if (n > 0)
            atomic_store_explicit(&repl_node.data_end, repl_stream_end(&repl_node.stream),
                                  memory_order_release);
        if (primary && atomic_load(&repl_node.nreplicas) > 0) {
            if (atomic_exchange(&repl_node.getack, false)) {
                repl_stream_append(&repl_node.stream, getack_cmd, sizeof(getack_cmd) - 1);
                n++;
            }
            if (now_ms - last_ping >= ping_period * 1000) {
                repl_stream_append(&repl_node.stream, ping_cmd, sizeof(ping_cmd) - 1);
                last_ping = now_ms;
            }
        } else {
            last_ping = now_ms;
        }
        pthread_mutex_unlock(&producer_lock);
        for (unsigned i = 0; i < repl_node.nworkers; i++)
            atomic_store_explicit(&repl_node.merged[i], repl_node.merge.consumed[i],
                                  memory_order_release);
        /* new stream or RDB bytes: workers asleep in their poll have replicas to feed */
        if (n > 0 && atomic_load(&repl_node.nreplicas) > 0)
            for (unsigned i = 0; i < repl_node.nworkers; i++)
                host_worker_wake(i);
        sync_housekeeping();
        if (now_ms / 100 != last_second / 100) {
            /* Ten times a second: parameters, the backlog window, replicas' standing. */
            struct merge_params mp;
            host_config_read(read_merge_params, &mp);
            ping_period = mp.ping_period;
            max_lag = mp.max_lag;
            long long size = mp.backlog_size;
            long long ttl = mp.backlog_ttl;
            if (size != backlog) {
                backlog = size;
                repl_stream_set_window(&repl_node.stream, (uint64_t)size);
            }
            /* A primary without replicas for repl-backlog-ttl seconds lets the backlog go
             * (it keeps feeding, so a later replica still gets a consistent stream). */
            if (primary && ttl > 0 && atomic_load(&repl_node.nreplicas) == 0 &&
                atomic_load(&repl_node.backlog_active) &&
                now_ms - repl_node.no_replicas_since_ms > ttl * 1000) {
                atomic_store(&repl_node.backlog_active, false);
                log_notice("Replication backlog freed after %lld seconds without replicas", ttl);
            }
            repl_stream_trim(&repl_node.stream);
            replicas_housekeeping(now_ms, max_lag);
            last_second = now_ms;
        }
        if (n > 0) {
            idle = 0;
            continue;
        }
        /* Sleep a little when idle: 50 us at first, up to 1 ms; 10 ms while nothing
         * replicates (no replica ever asked, no snapshot), so an idle node costs nothing. */
        idle = idle < 20 ? idle + 1 : idle;
        bool quiet = !atomic_load(&repl_node.feeding) && atomic_load(&repl_node.sync) == NULL;
        merge_sleep(quiet ? 10000 : (int)idle * 50);
    }
    return NULL;
}

uint64_t repl_dirty_total(void)
{
    uint64_t t = 0;
    for (unsigned i = 0; i < repl_node.nworkers; i++)
        t += host_worker_dirty(host_worker(i));
    return t;
}

/* The link to a primary appends what it applied (replica.c). */
void repl_stream_lock(void)
{
    pthread_mutex_lock(&producer_lock);
}

void repl_stream_unlock(void)
{
    pthread_mutex_unlock(&producer_lock);
}

/* ---------------------------------------------------------------------------
 * What replicas refuse, and what a primary refuses without enough replicas
 * ------------------------------------------------------------------------ */

bool repl_replica_refuses_writes(const struct repl_params *p)
{
    return atomic_load_explicit(&repl_node.role, memory_order_relaxed) == REPL_REPLICA &&
           p->replica_read_only;
}

bool repl_write_allowed(struct conn *c, const struct cmd_def *d, const struct repl_params *p)
{
    if (unlikely(atomic_load_explicit(&repl_node.loading, memory_order_relaxed)) &&
        !(d->flags & CMD_LOADING)) {
        reply_error(host_conn_out(c), ERR_LOADING);
        return false;
    }
    if (atomic_load_explicit(&repl_node.role, memory_order_relaxed) == REPL_REPLICA) {
        if ((d->flags & CMD_WRITE) && p->replica_read_only) {
            if (p->close_on_slave_write) {
                /* the client reconnects, and finds the primary (close-on-replica-write) */
                host_conn_close_asap(c);
            }
            reply_error(host_conn_out(c), ERR_READONLY);
            return false;
        }
        if (!p->replica_serve_stale_data && !(d->flags & CMD_STALE) &&
            atomic_load_explicit(&repl_node.link_state, memory_order_relaxed) != LINK_CONNECTED) {
            reply_error(host_conn_out(c), ERR_MASTERDOWN);
            return false;
        }
        return true;
    }
    if ((d->flags & CMD_WRITE) && p->min_replicas_to_write > 0 && p->min_replicas_max_lag > 0 &&
        atomic_load_explicit(&repl_node.good_replicas, memory_order_relaxed) <
            p->min_replicas_to_write) {
        reply_error(host_conn_out(c), ERR_NOREPLICAS);
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------------------
 * Dump files at start and at shutdown (no worker runs: one thread does all)
 * ------------------------------------------------------------------------ */

struct load_ctx {
    uint64_t keys, expired;
    int64_t now_ms;
    bool primary;
    char replid[41];
    long long offset;
    bool have_id, have_offset;
    /* the collection being loaded (e NULL: skipped, expired or database out of range) */
    struct coll_loader coll;
};

static int load_aux(void *arg, const char *key, size_t klen, const char *val, size_t vlen)
{
    struct load_ctx *l = arg;
    if (klen == 7 && memcmp(key, "repl-id", 7) == 0 && vlen == 40) {
        memcpy(l->replid, val, 40);
        l->replid[40] = '\0';
        l->have_id = true;
    } else if (klen == 11 && memcmp(key, "repl-offset", 11) == 0) {
        l->have_offset = util_str2ll(val, vlen, &l->offset) && l->offset >= 0;
    }
    return 0;
}

static int load_entry(void *arg, int db, const char *key, size_t klen, const char *val, size_t vlen,
                      int64_t expire_ms, int64_t lru_idle, int lfu_freq)
{
    struct load_ctx *l = arg;
    (void)lru_idle, (void)lfu_freq;
    if (l->primary && expire_ms >= 0 && expire_ms < l->now_ms) {
        l->expired++; /* a primary drops what expired while it was down, as Redis does */
        return 0;
    }
    struct store *s = host_store(cmd_key_shard(key, klen, repl_node.nworkers));
    if (db >= store_databases(s))
        return 0;
    struct skey k;
    skey_init(&k, key, klen);
    store_set(s, db, &k, val, vlen, cmd_string_encoding(val, vlen), expire_ms, 0);
    l->keys++;
    return 0;
}

/* A collection is loaded element by element, as its commands would add them. */
static int load_coll_begin(void *arg, int db, int kind, const char *key, size_t klen,
                           uint64_t count_hint, int64_t expire_ms, int64_t lru_idle, int lfu_freq)
{
    struct load_ctx *l = arg;
    (void)count_hint, (void)lru_idle, (void)lfu_freq;
    l->coll.e = NULL;
    if (l->primary && expire_ms >= 0 && expire_ms < l->now_ms) {
        l->expired++;
        return 0;
    }
    unsigned shard = cmd_key_shard(key, klen, repl_node.nworkers);
    struct store *s = host_store(shard);
    if (db >= store_databases(s))
        return 0;
    struct skey k;
    skey_init(&k, key, klen);
    if (coll_load_begin(&l->coll, s, db, kind, &k, expire_ms,
                        host_coll_params(host_worker(shard))) != 0) {
        log_warn("Cannot load key '%.*s': Pollux does not store %ss yet", (int)MIN(klen, 128), key,
                 rdb_type_name(kind));
        return -1;
    }
    l->keys++;
    return 0;
}

static int load_coll_item(void *arg, const char *a, size_t alen, const char *b, size_t blen,
                          double score)
{
    struct load_ctx *l = arg;
    return l->coll.e == NULL ? 0 : coll_load_item(&l->coll, a, alen, b, blen, score);
}

static int load_coll_end(void *arg)
{
    struct load_ctx *l = arg;
    if (l->coll.e != NULL && coll_count(l->coll.e) == 0)
        l->keys--; /* Redis drops an empty collection */
    return coll_load_end(&l->coll);
}

int repl_load_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return 0; /* no dump: an empty dataset, as Redis starts */
    int64_t t0 = clock_real_ms();
    struct load_ctx l = { .now_ms = t0, .primary = atomic_load(&repl_node.role) == REPL_PRIMARY };
    struct rdb_callbacks cb = { .aux = load_aux,
                                .string = load_entry,
                                .coll_begin = load_coll_begin,
                                .coll_item = load_coll_item,
                                .coll_end = load_coll_end,
                                .function = host_function_load };
    struct rdb_parser_opts opts = { .databases = store_databases(host_store(0)) };
    struct rdb_parser p;
    rdb_parser_init(&p, &cb, &l, &opts);
    char buf[1 << 16];
    int rc = RDB_OK;
    size_t n;
    while (rc == RDB_OK && (n = fread(buf, 1, sizeof(buf), f)) > 0) {
        size_t used;
        rc = rdb_parser_feed(&p, buf, n, &used);
    }
    if (rc == RDB_OK)
        rc = rdb_parser_finish(&p);
    fclose(f);
    if (rc != RDB_DONE) {
        log_warn("Short read or OOM loading DB. Unrecoverable error, aborting now. (%s: %s)", path,
                 p.err[0] ? p.err : "truncated");
        rdb_parser_deinit(&p);
        return -1;
    }
    rdb_parser_deinit(&p);
    atomic_store(&repl_node.load_keys, l.keys);
    atomic_store(&repl_node.load_expired, l.expired);
    if (l.have_id && l.have_offset) {
        /* The history this dataset belongs to: a restarted replica continues it with PSYNC. */
        memcpy(repl_node.replid, l.replid, sizeof(repl_node.replid));
        repl_stream_reset(&repl_node.stream, (uint64_t)l.offset);
        atomic_store(&repl_node.master_applied_offset, (uint64_t)l.offset);
        atomic_store(&repl_node.master_read_offset, (uint64_t)l.offset);
    }
    log_notice("DB loaded from disk: %.3f seconds (%llu keys, %llu expired)",
               (double)(clock_real_ms() - t0) / 1000, (unsigned long long)l.keys,
               (unsigned long long)l.expired);
    return 0;
}

struct save_ctx {
    FILE *f;
    struct rdb_writer wr;
    struct rdb_buf b;
    int db;
    int64_t now_ms;
    bool failed;
};

static void save_flush(struct save_ctx *s)
{
    rdb_writer_update(&s->wr, s->b.p, s->b.len);
    if (s->b.len > 0 && fwrite(s->b.p, 1, s->b.len, s->f) != s->b.len)
        s->failed = true;
    s->b.len = 0;
}

static void save_entry(void *arg, int db, const struct kv *e)
{
    struct save_ctx *s = arg;
    int64_t exp = kv_expire(e);
    if (exp >= 0 && exp < s->now_ms)
        return;
    if (db != s->db) {
        rdb_encode_selectdb(&s->b, db);
        s->db = db;
    }
    encode_entry(&s->b, e, exp, NULL);
    if (s->b.len >= SNAPBUF_FLUSH)
        save_flush(s);
}

int repl_save_now(const char *path)
{
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "temp-%d.rdb", (int)getpid());
    struct save_ctx s = { .db = -1, .now_ms = clock_real_ms() };
    s.f = fopen(tmp, "wb");
    if (s.f == NULL) {
        log_warn("Failed opening the temp RDB file %s (in server root dir): %s", tmp,
                 strerror(errno));
        return -1;
    }
    bool checksum;
    host_config_read(read_checksum, &checksum);
    rdb_writer_init(&s.wr, checksum);
    rdb_buf_init(&s.b);
    struct mem_stats ms;
    mem_stats(&ms);
    struct rdb_aux_info aux = {
        .redis_ver = SERVER_REDIS_VERSION,
        .redis_bits = (int)(sizeof(void *) * 8),
        .ctime = s.now_ms / 1000,
        .used_mem = (long long)ms.allocated,
        .repl_id = repl_node.replid,
        .repl_offset = (long long)repl_stream_end(&repl_node.stream),
    };
    rdb_encode_header(&s.b, RDB_VERSION);
    rdb_encode_aux_fields(&s.b, &aux);
    host_functions_dump(&s.b);
    for (unsigned i = 0; i < repl_node.nworkers; i++) {
        store_snap_begin(host_store(i), save_entry, &s);
        while (store_snap_active(host_store(i)))
            store_snap_step(host_store(i), 1u << 20);
        save_flush(&s);
    }
    save_flush(&s);
    rdb_writer_eof(&s.wr, &s.b);
    bool ok = fwrite(s.b.p, 1, s.b.len, s.f) == s.b.len && !s.failed;
    ok &= fflush(s.f) == 0 && fsync(fileno(s.f)) == 0;
    ok &= fclose(s.f) == 0;
    rdb_buf_deinit(&s.b);
    if (!ok || rename(tmp, path) != 0) {
        log_warn("Write error saving DB on disk: %s", strerror(errno));
        unlink(tmp);
        return -1;
    }
    log_notice("DB saved on disk");
    return 0;
}
