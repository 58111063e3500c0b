/*
 * The replica side: REPLICAOF, and the lnk to the primary that worker 0
 * owns — handshake, full sync (the RDB received into a temporary file and
 * checked, then loaded), partial resync, and the stream applied as a client
 * whose replies go nowhere.
 *
 * The lnk speaks Redis's protocol exactly, so the primary may be a Redis 7
 * server as well as a Pollux repl_node. The received RDB is validated (structure
 * and CRC64) while it arrives and only then loaded: a primary that sends
 * garbage or stops halfway costs the replica nothing it held. Loading
 * spreads keys over the shards in batches (SHARD_LOAD messages), so every
 * shard inserts its own keys in parallel; meanwhile clients get -LOADING.
 *
 * What the lnk applies it also appends, byte for byte, to this node's own
 * stream: replicas of this replica follow the same history, and when this
 * node is promoted its old primary's replication id stays valid as replid2.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acl/acl.h"
#include "replication/host.h"
#include "cmd/coll.h"
#include "base/clock.h"
#include "cmd/commands.h"
#include "base/log.h"
#include "base/mem.h"
#include "replication/repl.h"
#include "replication/repl_int.h"
#include "shard/shard.h"
#include "base/util.h"
#include "base/errors.h"

enum hs_state {
    HS_NONE = 0,
    HS_CONNECTING,
    HS_PONG,
    HS_AUTH,
    HS_PORT,
    HS_CAPA,
    HS_PSYNC,
    HS_BULK_HEADER, /* waiting for $EOF:<mark> or $<len> */
    HS_BULK,        /* receiving the RDB into the temporary file */
    HS_LOAD,        /* loading the file into the shards */
    HS_LOAD_WAIT,   /* every batch applied; waiting to take over the stream */
    HS_STREAM,
};

#define LOAD_BATCH    (32 * 1024)
#define LOAD_INFLIGHT 64 /* batches in flight per shard */
#define LOAD_SLICE    (256 * 1024)
#define RETRY_MS      1000

/* The link: worker 0's, nobody else touches it. */
static struct lnk {
    struct conn *c;
    unsigned gen;
    int hs;
    int64_t next_try_ms;
    int64_t last_ack_ms;
    int64_t last_io_ms;
    /* full sync */
    char newid[41];
    uint64_t newoff;
    bool eof_mode;
    char mark[40];
    uint64_t bulk_left; /* length form: bytes still to come */
    struct rdb_parser check;
    bool check_live;
    int fd; /* temporary file */
    char path[4200];
    uint64_t bulk_bytes;
    char tail[40]; /* the last 40 bytes received (EOF form: the mark) */
    size_t tail_len;
    /* loading */
    struct rdb_parser load;
    bool load_live;
    struct shard_msg *batch[64];
    unsigned inflight[64];
    uint64_t loaded, expired;
    struct rdb_buf tx; /* a transaction of the stream, applied once its EXEC is */
    /* commands of the stream that failed to apply */
    bool need_full;      /* what was applied went past a failed command: full resync */
    char logged[256];    /* the failure logged last ... */
    int64_t logged_ms;   /* ... when */
    unsigned not_logged; /* the same failure again since */
} lnk = { .fd = -1 };

static void link_set_state(int ls)
{
    int old = atomic_exchange(&repl_node.link_state, ls);
    if (old == LINK_CONNECTED && ls != LINK_CONNECTED)
        atomic_store(&repl_node.link_down_since_ms, clock_real_ms());
}

/* Send a command to the primary (handshake and ACKs are a few bytes: written at once). */
static int link_send(struct conn *c, int argc, const char *const *argv)
{
    char buf[1024];
    size_t n = (size_t)snprintf(buf, sizeof(buf), "*%d\r\n", argc);
    for (int i = 0; i < argc && n < sizeof(buf); i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
    if (n >= sizeof(buf))
        return -1;
    return host_conn_write_all(c, buf, n);
}

void repl_link_send_ack(struct conn *c)
{
    char off[24];
    snprintf(off, sizeof(off), "%llu",
             (unsigned long long)atomic_load(&repl_node.master_applied_offset));
    const char *argv[] = { "REPLCONF", "ACK", off };
    link_send(c, 3, argv);
}

static void load_discard(void);

/* Drop the lnk (and a sync in progress); the cron reconnects. */
static void link_drop(struct worker *w, const char *why)
{
    if (why != NULL)
        log_warn("Connection with master lost: %s", why);
    if (lnk.c != NULL) {
        host_conn_set_master(lnk.c, false);
        host_conn_close(lnk.c);
        lnk.c = NULL;
    }
    if (lnk.check_live)
        rdb_parser_deinit(&lnk.check);
    lnk.check_live = false;
    if (lnk.fd >= 0) {
        close(lnk.fd);
        unlink(lnk.path);
        lnk.fd = -1;
    }
    if (lnk.hs == HS_LOAD || lnk.hs == HS_LOAD_WAIT)
        load_discard();
    if (lnk.tx.cap > 65536)
        rdb_buf_deinit(&lnk.tx);
    lnk.tx.len = 0; /* a transaction cut short: the next PSYNC starts at its MULTI */
    lnk.hs = HS_NONE;
    lnk.next_try_ms = host_now_ms(w) + RETRY_MS;
    if (atomic_load(&repl_node.role) == REPL_REPLICA)
        link_set_state(LINK_CONNECT);
}

static int link_connect(struct worker *w, const char *host, int port)
{
    struct conn *c = host_connect(w, host, port, host_tls_replication(w));
    if (c == NULL)
        return -1;
    host_conn_set_master(c, true);
    lnk.c = c;
    lnk.hs = HS_CONNECTING;
    lnk.last_io_ms = host_now_ms(w);
    atomic_store(&repl_node.master_last_io_ms, host_now_ms(w));
    link_set_state(LINK_CONNECTING);
    log_notice("Connecting to MASTER %s:%d", host, port);
    return 0;
}

/* The next CRLF-terminated line of c's input, without the CRLF; NULL when incomplete. */
static char *next_line(struct conn *c, size_t *len)
{
    size_t avail;
    char *s = host_conn_input(c, &avail);
    char *nl = memchr(s, '\n', avail);
    if (nl == NULL)
        return NULL;
    size_t n = (size_t)(nl - s);
    host_conn_consume(c, n + 1);
    if (n > 0 && s[n - 1] == '\r')
        n--;
    s[n] = '\0';
    *len = n;
    return s;
}

static void send_port_and_capa(struct worker *w, struct conn *c)
{
    char port[16];
    /* over TLS the primary reaches us on the tls-port (Redis announces it likewise) */
    bool tls = host_tls_replication(w) && host_tls_port(w) != 0;
    snprintf(port, sizeof(port), "%d", tls ? host_tls_port(w) : host_port());
    const char *a[] = { "REPLCONF", "listening-port", port };
    link_send(c, 3, a);
    lnk.hs = HS_PORT;
    (void)w;
}

static void send_psync(struct conn *c)
{
    char id[41], off[24];
    pthread_mutex_lock(&repl_node.lock);
    memcpy(id, repl_node.replid, sizeof(id));
    pthread_mutex_unlock(&repl_node.lock);
    /* our history: what we applied (a replica) or wrote (a former primary) */
    uint64_t end = repl_stream_end(&repl_node.stream);
    snprintf(off, sizeof(off), "%llu", (unsigned long long)end + 1);
    const char *a[] = { "PSYNC", id, off };
    const char *full[] = { "PSYNC", "?", "-1" };
    bool partial = (atomic_load(&repl_node.backlog_active) || end > 0) && !lnk.need_full;
    link_send(c, 3, partial ? a : full);
    lnk.hs = HS_PSYNC;
}

/* Close the connections of this node's own replicas (they resync with the new history). */
static void kick_replicas(void)
{
    atomic_fetch_add(&repl_node.kick_gen, 1);
}

static void start_bulk(struct worker *w, const char *line)
{
    /* +FULLRESYNC <replid> <offset> */
    const char *id = line + 12;
    const char *sp = strchr(id, ' ');
    if (sp == NULL || sp - id != 40) {
        link_drop(w, "bad +FULLRESYNC reply from MASTER");
        return;
    }
    memcpy(lnk.newid, id, 40);
    lnk.newid[40] = '\0';
    long long off;
    if (!util_str2ll(sp + 1, strlen(sp + 1), &off) || off < 0) {
        link_drop(w, "bad +FULLRESYNC offset from MASTER");
        return;
    }
    lnk.newoff = (uint64_t)off;
    log_notice("Full resync from master: %s:%llu", lnk.newid, (unsigned long long)off);
    lnk.hs = HS_BULK_HEADER;
    link_set_state(LINK_SYNC);
}

static void continue_sync(struct worker *w, const char *line)
{
    /* +CONTINUE [<new replid>]: the primary's history continues ours */
    const char *id = line + 9;
    while (*id == ' ')
        id++;
    pthread_mutex_lock(&repl_node.lock);
    if (strlen(id) == 40 && memcmp(id, repl_node.replid, 40) != 0) {
        memcpy(repl_node.replid2, repl_node.replid, 41);
        repl_node.second_offset = (long long)repl_stream_end(&repl_node.stream) + 1;
        memcpy(repl_node.replid, id, 40);
        repl_node.replid[40] = '\0';
        kick_replicas();
    }
    pthread_mutex_unlock(&repl_node.lock);
    uint64_t end = repl_stream_end(&repl_node.stream);
    atomic_store(&repl_node.master_applied_offset, end);
    atomic_store(&repl_node.master_read_offset, end);
    atomic_store(&repl_node.backlog_active, true);
    lnk.hs = HS_STREAM;
    link_set_state(LINK_CONNECTED);
    lnk.last_ack_ms = 0;
    log_notice("Successful partial resynchronization with master.");
    (void)w;
}

/* A library in the primary's RDB: read whole, loaded with the rest. */
static int check_function(void *arg, const char *code, size_t len)
{
    (void)arg;
    (void)code;
    (void)len;
    return 0;
}

static int check_string(void *arg, int db, const char *key, size_t klen, const char *val,
                        size_t vlen, int64_t expire_ms, int64_t lru_idle, int lfu_freq)
{
    (void)arg, (void)db, (void)key, (void)klen, (void)val, (void)vlen, (void)expire_ms;
    (void)lru_idle, (void)lfu_freq;
    return 0;
}

/* A collection of a type this node does not store fails the sync before anything is lost. */
static int check_coll_begin(void *arg, int db, int kind, const char *key, size_t klen,
                            uint64_t count_hint, int64_t expire_ms, int64_t lru_idle, int lfu_freq)
{
    (void)arg, (void)db, (void)count_hint, (void)expire_ms, (void)lru_idle, (void)lfu_freq;
    if (coll_kind_stored(kind))
        return 0;
    log_warn("Cannot load key '%.*s' from MASTER: Pollux does not store %ss yet",
             (int)MIN(klen, 128), key, rdb_type_name(kind));
    return -1;
}

static int check_coll_item(void *arg, const char *a, size_t alen, const char *b, size_t blen,
                           double score)
{
    (void)arg, (void)a, (void)alen, (void)b, (void)blen, (void)score;
    return 0;
}

static int check_coll_end(void *arg)
{
    (void)arg;
    return 0;
}

/* RDB bytes from the socket: into the file and through the checking parser. */
static int bulk_bytes(struct worker *w, const char *p, size_t n)
{
    if (n == 0)
        return 0;
    size_t off = 0;
    while (off < n) {
        ssize_t k = write(lnk.fd, p + off, n - off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            log_warn("Failed trying to write the temp DB to disk: %s", strerror(errno));
            return -1;
        }
        off += (size_t)k;
    }
    lnk.bulk_bytes += n;
    atomic_store(&repl_node.sync_read_bytes, lnk.bulk_bytes);
    (void)w;
    return 0;
}

static void begin_load(struct worker *w);

/*
 * Bytes of the RDB through the checking parser, then into the file: `write_all` writes every
 * byte given (the length mode: the count says where the RDB ends), otherwise only those the
 * parser took (the EOF-mark mode: the RDB ends where the parser says, the mark follows).
 * @return the parser's code (RDB_DONE at the end), or -1 to drop the link.
 */
static int check_and_write(struct worker *w, struct conn *c, const char *p, size_t take,
                           bool write_all, size_t *used)
{
    *used = 0;
    int rc = rdb_parser_feed(&lnk.check, p, take, used);
    if (rc < 0) {
        log_warn("Failed trying to load the MASTER synchronization DB from socket: %s",
                 lnk.check.err);
        return -1;
    }
    size_t n = write_all ? take : *used;
    if (bulk_bytes(w, p, n) != 0)
        return -1;
    host_conn_consume(c, n);
    return rc;
}

/*
 * Everything read while receiving the RDB: strip the EOF mark or count the
 * length, write and check the rest. @return -1 to drop the lnk.
 */
static int bulk_input(struct worker *w, struct conn *c)
{
    size_t n, used;
    char *p = host_conn_input(c, &n);
    if (lnk.eof_mode) {
        int rc = check_and_write(w, c, p, n, false, &used);
        if (rc < 0)
            return -1;
        if (rc == RDB_DONE) {
            if (n - used < 40)
                return 0; /* the mark is still on its way */
            if (memcmp(p + used, lnk.mark, 40) != 0) {
                log_warn("Bad EOF mark after the RDB from MASTER");
                return -1;
            }
            host_conn_consume(c, 40);
            begin_load(w);
        }
        return 0;
    }
    size_t take = n > lnk.bulk_left ? (size_t)lnk.bulk_left : n;
    int rc = check_and_write(w, c, p, take, true, &used);
    if (rc < 0)
        return -1;
    lnk.bulk_left -= take;
    if (lnk.bulk_left == 0) {
        if (rc != RDB_DONE || used != take) {
            log_warn("Failed trying to load the MASTER synchronization DB from socket: %s",
                     rc == RDB_DONE ? "trailing bytes after the RDB" : "truncated RDB");
            return -1;
        }
        begin_load(w);
    }
    return 0;
}

/* ---------------------------------------------------------------------------
 * Loading: keys go to their shards in batches
 * ------------------------------------------------------------------------ */

/*
 * One record of a load batch, followed by its bytes: a string (key, value), a collection's
 * start (key; kind), one of its items (a, b; the score in `expire`'s bytes) or its end.
 * A collection's records all go to its key's shard, in order.
 */
enum { LOAD_STRING, LOAD_COLL_BEGIN, LOAD_COLL_ITEM, LOAD_COLL_END };

struct load_rec {
    int32_t db;
    uint8_t op, kind;
    uint32_t klen, vlen;
    int64_t expire;
};

/* Per shard, the collection being loaded (used only by that shard's thread). */
static struct coll_loader shard_coll[MAX_WORKERS];

static void batch_send(struct worker *w, unsigned s)
{
    struct shard_msg *m = lnk.batch[s];
    if (m == NULL)
        return;
    lnk.batch[s] = NULL;
    lnk.inflight[s]++;
    shard_send(host_worker_shard_port(w), s, m);
}

static struct shard_msg *batch_get(struct worker *w, unsigned s, size_t need)
{
    struct shard_msg *m = lnk.batch[s];
    if (m != NULL && (size_t)m->arg + need > m->abuf_cap) {
        batch_send(w, s);
        m = NULL;
    }
    if (m == NULL) {
        m = shard_msg_get(host_worker_shard_port(w));
        m->type = SHARD_LOAD;
        size_t cap = need > LOAD_BATCH ? need : LOAD_BATCH;
        m->abuf = mem_traffic_alloc(cap); /* freed by shard_msg_put */
        m->abuf_cap = cap;
        m->arg = 0;
        m->proto = 0;
        m->db = (int)s; /* shard_send rewrites dst on the way back */
        lnk.batch[s] = m;
    }
    return m;
}

/* Apply one record on shard w's own thread (its store). */
static void apply_rec(struct worker *w, const struct load_rec *r, const char *a, const char *b)
{
    struct store *st = host_worker_store(w);
    struct coll_loader *cl = &shard_coll[host_worker_id(w)];
    struct skey k;
    switch (r->op) {
    case LOAD_STRING:
        skey_init(&k, a, r->klen);
        store_set(st, r->db, &k, b, r->vlen, cmd_string_encoding(b, r->vlen), r->expire, 0);
        break;
    case LOAD_COLL_BEGIN:
        skey_init(&k, a, r->klen);
        store_delete(st, r->db, &k, 0); /* a key twice in the RDB: the later one wins */
        coll_load_begin(cl, st, r->db, r->kind, &k, r->expire, host_coll_params(w));
        break;
    case LOAD_COLL_ITEM:
        if (cl->e != NULL) {
            double score;
            memcpy(&score, &r->expire, sizeof(score));
            coll_load_item(cl, a, r->klen, b, r->vlen, score);
        }
        break;
    case LOAD_COLL_END:
        coll_load_end(cl);
        break;
    }
}

/* Send a record to shard s (applied at once when s is this worker's). */
static void load_put(struct worker *w, unsigned s, const struct load_rec *r, const char *a,
                     const char *b)
{
    if (s == host_worker_id(w)) {
        apply_rec(w, r, a, b);
        return;
    }
    size_t need = sizeof(*r) + r->klen + r->vlen;
    struct shard_msg *m = batch_get(w, s, need);
    char *p = m->abuf + m->arg;
    memcpy(p, r, sizeof(*r));
    if (r->klen > 0)
        memcpy(p + sizeof(*r), a, r->klen);
    if (r->vlen > 0)
        memcpy(p + sizeof(*r) + r->klen, b, r->vlen);
    m->arg += (int64_t)need;
}

static int load_string(void *arg, int db, const char *key, size_t klen, const char *val,
                       size_t vlen, int64_t expire_ms, int64_t lru_idle, int lfu_freq)
{
    struct worker *w = arg;
    (void)lru_idle, (void)lfu_freq;
    if (db >= store_databases(host_worker_store(w)))
        return 0;
    lnk.loaded++;
    struct load_rec r = { db, LOAD_STRING, 0, (uint32_t)klen, (uint32_t)vlen, expire_ms };
    load_put(w, cmd_key_shard(key, klen, repl_node.nworkers), &r, key, val);
    return 0;
}

/* The shard of the collection being loaded; -1 when it is skipped. */
static int load_coll_shard = -1;
static int load_coll_db;

static int load_coll_begin(void *arg, int db, int kind, const char *key, size_t klen,
                           uint64_t count_hint, int64_t expire_ms, int64_t lru_idle, int lfu_freq)
{
    struct worker *w = arg;
    (void)count_hint, (void)lru_idle, (void)lfu_freq;
    load_coll_shard = -1;
    if (db >= store_databases(host_worker_store(w)))
        return 0;
    lnk.loaded++;
    load_coll_shard = (int)cmd_key_shard(key, klen, repl_node.nworkers);
    load_coll_db = db;
    struct load_rec r = { db, LOAD_COLL_BEGIN, (uint8_t)kind, (uint32_t)klen, 0, expire_ms };
    load_put(w, (unsigned)load_coll_shard, &r, key, NULL);
    return 0;
}

static int load_coll_item(void *arg, const char *a, size_t alen, const char *b, size_t blen,
                          double score)
{
    if (load_coll_shard < 0)
        return 0;
    struct load_rec r = { load_coll_db, LOAD_COLL_ITEM, 0, (uint32_t)alen, (uint32_t)blen, 0 };
    memcpy(&r.expire, &score, sizeof(score));
    load_put(arg, (unsigned)load_coll_shard, &r, a, b);
    return 0;
}

static int load_coll_end(void *arg)
{
    if (load_coll_shard < 0)
        return 0;
    struct load_rec r = { load_coll_db, LOAD_COLL_END, 0, 0, 0, 0 };
    load_put(arg, (unsigned)load_coll_shard, &r, NULL, NULL);
    load_coll_shard = -1;
    return 0;
}

/* The dataset a full sync replaces is freed in steps with replica-lazy-flush. */
static enum store_drop flush_how(const struct worker *w)
{
    return host_repl_params(w)->replica_lazy_flush ? STORE_DROP_LAZY : STORE_DROP_SYNC;
}

/* On every shard: apply a batch (the first one of a sync also empties the shard). */
void repl_load_apply(struct worker *w, struct shard_msg *m)
{
    if (m->proto & 1) {
        host_worker_replacing(w);
        store_flush(host_worker_store(w), -1, flush_how(w));
    }
    size_t off = 0, len = (size_t)m->arg;
    while (off < len) {
        struct load_rec r;
        memcpy(&r, m->abuf + off, sizeof(r));
        const char *a = m->abuf + off + sizeof(r);
        apply_rec(w, &r, a, a + r.klen);
        off += sizeof(r) + r.klen + r.vlen;
    }
}

void repl_load_returned(struct worker *w, struct shard_msg *m)
{
    lnk.inflight[m->db]--;
    shard_msg_put(host_worker_shard_port(w), m);
}

static void load_discard(void)
{
    if (lnk.load_live)
        rdb_parser_deinit(&lnk.load);
    lnk.load_live = false;
    struct worker *w = host_worker(0);
    for (unsigned s = 0; s < repl_node.nworkers; s++) {
        if (lnk.batch[s] != NULL) {
            shard_msg_put(host_worker_shard_port(w), lnk.batch[s]);
            lnk.batch[s] = NULL;
        }
    }
    atomic_store(&repl_node.loading, false);
}

/* The RDB arrived whole and checked: empty every shard, then load it. */
static void begin_load(struct worker *w)
{
    rdb_parser_deinit(&lnk.check);
    lnk.check_live = false;
    if (lseek(lnk.fd, 0, SEEK_SET) != 0) {
        link_drop(w, "cannot rewind the temp DB");
        return;
    }
    log_notice("MASTER <-> REPLICA sync: received %llu bytes; flushing old data, loading",
               (unsigned long long)lnk.bulk_bytes);
    atomic_store(&repl_node.loading, true);
    kick_replicas();
    host_worker_replacing(w);
    store_flush(host_worker_store(w), -1, flush_how(w));
    for (unsigned s = 0; s < repl_node.nworkers; s++) {
        if (s == host_worker_id(w))
            continue;
        struct shard_msg *m = batch_get(w, s, 0);
        m->proto = 1; /* flush first */
        batch_send(w, s);
    }
    host_functions_flush(); /* the primary's libraries replace ours, as in Redis */
    struct rdb_callbacks cb = { .string = load_string,
                                .coll_begin = load_coll_begin,
                                .coll_item = load_coll_item,
                                .coll_end = load_coll_end,
                                .function = host_function_load };
    struct rdb_parser_opts opts = { .max_len = (uint64_t)host_param_max_bulk_len(w),
                                    .databases = store_databases(host_worker_store(w)) };
    rdb_parser_init(&lnk.load, &cb, w, &opts);
    lnk.load_live = true;
    lnk.loaded = 0;
    lnk.hs = HS_LOAD;
}

/* A slice of the file per call, while batches are not piling up. */
static void load_step(struct worker *w)
{
    for (unsigned s = 0; s < repl_node.nworkers; s++)
        if (lnk.inflight[s] >= LOAD_INFLIGHT)
            return;
    char buf[LOAD_SLICE];
    ssize_t n = read(lnk.fd, buf, sizeof(buf));
    if (n < 0) {
        link_drop(w, "cannot read the temp DB");
        return;
    }
    size_t used = 0;
    int rc =
        n > 0 ? rdb_parser_feed(&lnk.load, buf, (size_t)n, &used) : rdb_parser_finish(&lnk.load);
    if (rc < 0) {
        link_drop(w, lnk.load.err);
        return;
    }
    if (rc == RDB_DONE || n == 0) {
        for (unsigned s = 0; s < repl_node.nworkers; s++)
            batch_send(w, s);
        rdb_parser_deinit(&lnk.load);
        lnk.load_live = false;
        close(lnk.fd);
        unlink(lnk.path);
        lnk.fd = -1;
        atomic_store(&repl_node.load_keys, lnk.loaded);
        lnk.hs = HS_LOAD_WAIT;
    }
}

/* Every batch applied and our old replicas gone: take the primary's history and stream. */
static void load_finish(struct worker *w)
{
    (void)w;
    for (unsigned s = 0; s < repl_node.nworkers; s++)
        if (lnk.inflight[s] > 0)
            return;
    if (atomic_load(&repl_node.nreplicas) > 0)
        return;
    repl_stream_lock();
    repl_stream_reset(&repl_node.stream, lnk.newoff);
    repl_stream_unlock();
    pthread_mutex_lock(&repl_node.lock);
    memcpy(repl_node.replid, lnk.newid, 41);
    memset(repl_node.replid2, '0', 40);
    repl_node.replid2[40] = '\0';
    repl_node.second_offset = -1;
    pthread_mutex_unlock(&repl_node.lock);
    atomic_store(&repl_node.master_applied_offset, lnk.newoff);
    atomic_store(&repl_node.master_read_offset, lnk.newoff);
    atomic_store(&repl_node.backlog_active, true);
    atomic_store(&repl_node.loading, false);
    lnk.need_full = false;
    lnk.hs = HS_STREAM;
    lnk.last_ack_ms = 0;
    link_set_state(LINK_CONNECTED);
    log_notice("MASTER <-> REPLICA sync: Finished with success (%llu keys)",
               (unsigned long long)lnk.loaded);
    /* the stream that arrived meanwhile */
    if (lnk.c != NULL) {
        size_t pending;
        host_conn_input(lnk.c, &pending);
        if (pending > 0)
            host_conn_process(lnk.c);
    }
}

/* ---------------------------------------------------------------------------
 * Events on the lnk
 * ------------------------------------------------------------------------ */

static void handshake_line(struct worker *w, struct conn *c, const char *line, size_t len)
{
    switch (lnk.hs) {
    case HS_PONG:
        /* +PONG, or an error such as -NOAUTH that the next step resolves */
        if (line[0] != '+' && strncmp(line, "-NOAUTH", 7) != 0 &&
            strncmp(line, "-NOPERM", 7) != 0 &&
            strncmp(line, "-ERR operation not permitted", 28) != 0) {
            link_drop(w, line);
            return;
        }
        if (host_repl_params(w)->masterauth[0] != '\0') {
            const char *a2[] = { "AUTH", host_repl_params(w)->masterauth };
            const char *a3[] = { "AUTH", host_repl_params(w)->masteruser,
                                 host_repl_params(w)->masterauth };
            link_send(c, host_repl_params(w)->masteruser[0] ? 3 : 2,
                      host_repl_params(w)->masteruser[0] ? a3 : a2);
            lnk.hs = HS_AUTH;
        } else {
            send_port_and_capa(w, c);
        }
        break;
    case HS_AUTH:
        if (line[0] == '-') {
            log_warn("Unable to AUTH to MASTER: %s", line);
            link_drop(w, NULL);
            return;
        }
        send_port_and_capa(w, c);
        break;
    case HS_PORT: {
        if (line[0] == '-')
            log_notice("(Non critical) Master does not understand REPLCONF listening-port: %s",
                       line);
        const char *a[] = { "REPLCONF", "capa", "eof", "capa", "psync2" };
        link_send(c, 5, a);
        lnk.hs = HS_CAPA;
        break;
    }
    case HS_CAPA:
        if (line[0] == '-')
            log_notice("(Non critical) Master does not understand REPLCONF capa: %s", line);
        send_psync(c);
        break;
    case HS_PSYNC:
        if (len == 0)
            return; /* Redis sends newlines while a full sync waits to start (diskless delay) */
        if (strncmp(line, "+FULLRESYNC", 11) == 0) {
            start_bulk(w, line);
        } else if (strncmp(line, "+CONTINUE", 9) == 0) {
            continue_sync(w, line);
        } else {
            /* -NOMASTERLINK, -LOADING, an error: try again later */
            log_notice("Unexpected reply to PSYNC from master: %s", line);
            link_drop(w, NULL);
        }
        break;
    case HS_BULK_HEADER:
        if (len == 0)
            return; /* a keepalive newline while the primary prepares the RDB */
        if (line[0] != '$') {
            log_warn("Bad protocol from MASTER, the first byte is not '$' (we received '%s')",
                     line);
            link_drop(w, NULL);
            return;
        }
        if (strncmp(line, "$EOF:", 5) == 0 && len >= 45) {
            lnk.eof_mode = true;
            memcpy(lnk.mark, line + 5, 40);
            atomic_store(&repl_node.sync_total_bytes, 0);
        } else {
            long long n;
            if (!util_str2ll(line + 1, len - 1, &n) || n < 0) {
                link_drop(w, "bad bulk length from MASTER");
                return;
            }
            lnk.eof_mode = false;
            lnk.bulk_left = (uint64_t)n;
            atomic_store(&repl_node.sync_total_bytes, (uint64_t)n);
        }
        snprintf(lnk.path, sizeof(lnk.path), "temp-%lld.%d.rdb", (long long)host_now_ms(w),
                 (int)getpid());
        lnk.fd = open(lnk.path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (lnk.fd < 0) {
            log_warn("Opening the temp file needed for MASTER <-> REPLICA synchronization: %s",
                     strerror(errno));
            link_drop(w, NULL);
            return;
        }
        struct rdb_callbacks cb = { .string = check_string,
                                    .coll_begin = check_coll_begin,
                                    .coll_item = check_coll_item,
                                    .coll_end = check_coll_end,
                                    .function = check_function };
        struct rdb_parser_opts opts = { .max_len = (uint64_t)host_param_max_bulk_len(w),
                                        .databases = store_databases(host_worker_store(w)) };
        rdb_parser_init(&lnk.check, &cb, NULL, &opts);
        lnk.check_live = true;
        lnk.bulk_bytes = 0;
        atomic_store(&repl_node.sync_read_bytes, 0);
        lnk.hs = HS_BULK;
        log_notice("MASTER <-> REPLICA sync: receiving %s",
                   lnk.eof_mode ? "streamed RDB" : line + 1);
        break;
    default:
        break;
    }
}

void repl_link_event(struct worker *w, struct conn *c, uint32_t events)
{
    if (lnk.hs == HS_CONNECTING) {
        /* a TLS handshake moves on input too */
        if (!(events & (HOST_OUT | HOST_IN)))
            return;
        int err = host_connect_error(c);
        if (err == EINPROGRESS)
            return;
        if (err != 0) {
            log_warn("Error condition on socket for SYNC: %s", strerror(err));
            link_drop(w, NULL);
            return;
        }
        host_conn_write_interest(c, false);
        log_notice("MASTER <-> REPLICA sync started");
        const char *ping[] = { "PING" };
        link_send(c, 1, ping);
        lnk.hs = HS_PONG;
        return;
    }
    if ((events & HOST_OUT) && host_conn_flush(c) != 0) {
        link_drop(w, "connection closed by MASTER");
        return;
    }
    if (!(events & HOST_IN))
        return;
    if (lnk.hs == HS_LOAD || lnk.hs == HS_LOAD_WAIT || host_conn_input_paused(c)) {
        /* The stream waits in the socket until the load is done. */
        host_conn_rearm(c);
        return;
    }
    int r = host_conn_read(c);
    if (r < 0) {
        link_drop(w, "connection closed by MASTER");
        return;
    }
    if (r == 0)
        return;
    lnk.last_io_ms = host_now_ms(w);
    atomic_store(&repl_node.master_last_io_ms, host_now_ms(w));
    atomic_fetch_add_explicit(&repl_node.repl_in_bytes, (uint64_t)r, memory_order_relaxed);
    while (lnk.c == c && lnk.hs < HS_BULK && lnk.hs != HS_STREAM) {
        size_t len;
        char *line = next_line(c, &len);
        if (line == NULL)
            break;
        handshake_line(w, c, line, len);
    }
    if (lnk.c == c && lnk.hs == HS_BULK && bulk_input(w, c) != 0) {
        link_drop(w, NULL);
        return;
    }
    if (lnk.c == c && lnk.hs == HS_STREAM)
        host_conn_process(c);
}

/* ---------------------------------------------------------------------------
 * Commands of the stream that fail
 *
 * A replica must never hold something other than its primary without saying so. A
 * command from the primary that gets an error reply here (a command or type Pollux does
 * not have, a wrong arity, a value that is not what the primary had) is counted
 * (master_apply_errors, master_last_apply_error in INFO), logged as a WARNING naming the
 * command, and the link is closed; it reconnects after the usual second.
 *
 * A command refused before it ran (a command Pollux does not have, a wrong arity: that
 * is decided on worker 0, synchronously) is not counted as applied: the offset stays
 * before it, the replica holds exactly what its primary held at that offset, and the next
 * PSYNC brings the same command again, so the link stays down (up for an instant each
 * second, a cheap partial resync for the primary) until the primary's stream is one this
 * node can apply, and the offsets show how far it got. A command that ran and failed
 * (the replica's value is not the primary's) means the data already differs, and a
 * command forwarded to another shard fails only after later ones may have been applied:
 * then only a full resync repairs the data, and the next connection asks for one. The
 * same failure is logged once a minute at most, with how often it came back meanwhile.
 * ------------------------------------------------------------------------ */

#define APPLY_ERROR_LOG_MS 60000

/* "<command> <error>": the error as replied, without '-' and CR/LF. */
static void apply_error_text(char *out, size_t cap, const char *name, size_t nlen, const char *err,
                             size_t elen)
{
    size_t n = 0;
    for (size_t i = 0; i < nlen && n + 1 < cap; i++)
        out[n++] = (char)tolower((unsigned char)name[i]);
    if (n + 1 < cap)
        out[n++] = ' ';
    if (elen > 0 && err[0] == '-')
        err++, elen--;
    for (size_t i = 0; i < elen && n + 1 < cap; i++)
        if (err[i] != '\r' && err[i] != '\n')
            out[n++] = err[i];
    out[n] = '\0';
}

/* The error line that starts at p (at most len bytes), or the error code when p is not one. */
static void reply_error_at(const char *p, size_t len, const char *code, const char **err,
                           size_t *elen)
{
    const char *cr = len > 0 && p[0] == '-' ? memchr(p, '\r', len) : NULL;
    if (cr != NULL) {
        *err = p;
        *elen = (size_t)(cr - p);
    } else {
        *err = code; /* an array with an error in it (EXEC): its code */
        *elen = strlen(code);
    }
}

static void apply_failed(struct conn *c, const char *name, size_t nlen, const char *err,
                         size_t elen, bool applied_after)
{
    struct worker *w = host_conn_worker(c);
    if (applied_after)
        lnk.need_full = true;
    if (host_conn_closing(c))
        return; /* the link is closing already, for an earlier command */
    char text[sizeof(repl_node.apply_error)];
    apply_error_text(text, sizeof(text), name, nlen, err, elen);
    atomic_fetch_add(&repl_node.apply_errors, 1);
    pthread_mutex_lock(&repl_node.lock);
    memcpy(repl_node.apply_error, text, sizeof(text));
    pthread_mutex_unlock(&repl_node.lock);
    if (strcmp(text, lnk.logged) != 0 || host_now_ms(w) - lnk.logged_ms >= APPLY_ERROR_LOG_MS) {
        char again[64] = "";
        if (lnk.not_logged > 0 && strcmp(text, lnk.logged) == 0)
            snprintf(again, sizeof(again), " (%u more times since the last report)",
                     lnk.not_logged);
        log_warn("Command from MASTER failed to apply, closing the link so that this replica "
                 "does not diverge%s: %s%s",
                 lnk.need_full ? " (full resync next)" : "", text, again);
        memcpy(lnk.logged, text, sizeof(text));
        lnk.logged_ms = host_now_ms(w);
        lnk.not_logged = 0;
    } else {
        lnk.not_logged++;
    }
    host_conn_close_asap(c);
}

void repl_link_forward_failed(struct conn *c, struct shard_msg *m)
{
    const struct rblock *b = m->reply.head;
    const char *err;
    size_t elen;
    reply_error_at(b ? b->data + b->start : "", b ? b->len - b->start : 0, m->reply.err_code, &err,
                   &elen);
    const struct cmd_def *d = m->parent != NULL ? m->parent : m->cmd;
    const char *name = d->name;
    apply_failed(c, name, strlen(name), err, elen, true);
}

/*
 * A Redis primary propagates PUBLISH (and SPUBLISH) to its replicas, for their
 * subscribers. Pollux has no pub/sub: the message has nobody to reach and changes no
 * data, so it passes (and goes on to this node's replicas) instead of breaking the link.
 */
static bool no_data(const struct resp_arg *cmd)
{
    return util_strcaseeq(cmd->ptr, cmd->len, "publish") ||
           util_strcaseeq(cmd->ptr, cmd->len, "spublish");
}

/* A command of the stream ran: unless it failed, it joins our own stream, at the same offset. */
int repl_link_applied(struct conn *c, const char *p, size_t n, const struct repl_apply_mark *m)
{
    struct reply *out = host_conn_out(c);
    if (unlikely(out->errors != m->errors) && !no_data(host_conn_cmd_name(c))) {
        /* Its reply starts where the tail was, or in the block after it (a reply's error
         * line is written in one piece). */
        const struct rblock *b = m->tail;
        uint32_t off = m->tail_len;
        if (b == NULL || b->len <= off) {
            b = b != NULL ? b->next : out->head;
            off = 0;
        }
        const char *err;
        size_t elen;
        reply_error_at(b ? b->data + off : "", b ? b->len - off : 0, out->err_code, &err, &elen);
        const struct resp_arg *cmd = host_conn_cmd_name(c);
        bool executed = host_worker_commands(host_conn_worker(c)) != m->commands;
        apply_failed(c, cmd->ptr, MIN(cmd->len, 64), err, elen, executed);
        return -1;
    }
    bool in_multi = host_conn_in_multi(c);
    if (in_multi || lnk.tx.len > 0) {
        /* MULTI and what it queues count as applied only with the EXEC (or DISCARD) that
         * ends them, as on a Redis replica: a link lost in between (or a queued command
         * refused) resumes at the MULTI, and this node's own stream, which its replicas
         * read, never holds half a transaction. */
        rdb_buf_reserve(&lnk.tx, n);
        memcpy(lnk.tx.p + lnk.tx.len, p, n);
        lnk.tx.len += n;
        if (in_multi)
            return 0;
        p = lnk.tx.p;
        n = lnk.tx.len;
        lnk.tx.len = 0;
    }
    repl_stream_lock();
    repl_stream_append(&repl_node.stream, p, n);
    repl_stream_unlock();
    uint64_t end = repl_stream_end(&repl_node.stream);
    atomic_store_explicit(&repl_node.master_applied_offset, end, memory_order_relaxed);
    atomic_store_explicit(&repl_node.master_read_offset, end, memory_order_relaxed);
    return 0;
}

/* The connection the lnk runs on went away (closed by us or the peer). */
void repl_link_conn_closed(struct conn *c)
{
    if (lnk.c == c) {
        lnk.c = NULL;
        struct worker *w = host_worker(0);
        link_drop(w, NULL);
    }
}

unsigned repl_link_pass(struct worker *w)
{
    if (lnk.hs == HS_LOAD) {
        load_step(w);
        return 1;
    }
    if (lnk.hs == HS_LOAD_WAIT) {
        load_finish(w);
        return 1;
    }
    return 0;
}

/* Worker 0, every millisecond. */
void repl_link_cron(struct worker *w)
{
    if (host_worker_id(w) != 0)
        return;
    bool replica = atomic_load(&repl_node.role) == REPL_REPLICA;
    unsigned gen = atomic_load(&repl_node.master_gen);
    if (lnk.c != NULL && (!replica || gen != lnk.gen)) {
        log_notice("Closing the lnk to the previous MASTER");
        link_drop(w, NULL);
        lnk.next_try_ms = 0;
    }
    if (!replica) {
        lnk.gen = gen;
        return;
    }
    if (lnk.hs == HS_LOAD || lnk.hs == HS_LOAD_WAIT)
        return; /* repl_link_pass does it, every pass */
    if (lnk.c == NULL) {
        if (host_now_ms(w) < lnk.next_try_ms)
            return;
        char host[256];
        int port;
        repl_master_addr(host, sizeof(host), &port);
        lnk.gen = gen;
        if (link_connect(w, host, port) != 0)
            lnk.next_try_ms = host_now_ms(w) + RETRY_MS;
        return;
    }
    int64_t timeout_ms = host_repl_params(w)->repl_timeout * 1000;
    if (host_now_ms(w) - lnk.last_io_ms > timeout_ms) {
        link_drop(w, lnk.hs == HS_STREAM ? "MASTER timeout: no data nor PING received..."
                                         : "Timeout connecting to the MASTER...");
        return;
    }
    if (lnk.hs == HS_STREAM && host_now_ms(w) - lnk.last_ack_ms >= 1000) {
        repl_link_send_ack(lnk.c);
        lnk.last_ack_ms = host_now_ms(w);
    }
}

/* ---------------------------------------------------------------------------
 * REPLICAOF host port | NO ONE (holds every shard: the role changes between commands)
 * ------------------------------------------------------------------------ */

static void set_expiry_all(struct cmd_ctx *c, enum store_expiry mode)
{
    for (unsigned i = 0; i < c->nshards; i++)
        store_set_expiry(c->stores[i], mode);
}

void cmd_replicaof(struct cmd_ctx *c)
{
    if (cmd_arg_is(c, 1, "no") && cmd_arg_is(c, 2, "one")) {
        if (atomic_load(&repl_node.role) == REPL_REPLICA) {
            pthread_mutex_lock(&repl_node.lock);
            memcpy(repl_node.replid2, repl_node.replid, 41);
            repl_node.second_offset = (long long)repl_stream_end(&repl_node.stream) + 1;
            for (int i = 0; i < 40; i++)
                repl_node.replid[i] = "0123456789abcdef"[util_rand64() & 15];
            repl_node.master_host[0] = '\0';
            repl_node.master_port = 0;
            atomic_fetch_add(&repl_node.master_gen, 1);
            atomic_store(&repl_node.role, REPL_PRIMARY);
            pthread_mutex_unlock(&repl_node.lock);
            link_set_state(LINK_NONE);
            atomic_store(&repl_node.backlog_active, true);
            atomic_store(&repl_node.feeding, true);
            atomic_store(&repl_node.reselect, true);
            atomic_store(&repl_node.loading, false);
            set_expiry_all(c, STORE_EXPIRY_ACTIVE);
            log_notice("MASTER MODE enabled (user request from 'id=%llu')",
                       (unsigned long long)host_conn_id(c->client));
        }
        reply_ok(c->reply);
        return;
    }
    long long port;
    if (!cmd_arg_ll(c, 2, &port))
        return;
    if (port < 0 || port > 65535) {
        reply_error(c->reply, ERR_MASTER_PORT);
        return;
    }
    char host[256];
    size_t hl = MIN(c->argv[1].len, sizeof(host) - 1);
    memcpy(host, c->argv[1].ptr, hl);
    host[hl] = '\0';
    pthread_mutex_lock(&repl_node.lock);
    bool same = atomic_load(&repl_node.role) == REPL_REPLICA &&
                strcasecmp(host, repl_node.master_host) == 0 && repl_node.master_port == (int)port;
    if (!same) {
        snprintf(repl_node.master_host, sizeof(repl_node.master_host), "%s", host);
        repl_node.master_port = (int)port;
        atomic_fetch_add(&repl_node.master_gen, 1);
        atomic_store(&repl_node.role, REPL_REPLICA);
    }
    pthread_mutex_unlock(&repl_node.lock);
    if (same) {
        reply_status(c->reply, "OK Already connected to specified master");
        return;
    }
    atomic_store(&repl_node.feeding, false);
    link_set_state(LINK_CONNECT);
    atomic_store(&repl_node.link_down_since_ms, c->now_ms);
    set_expiry_all(c, STORE_EXPIRY_REPLICA);
    kick_replicas();
    log_notice("Connecting to MASTER %s:%lld", host, port);
    log_notice("REPLICAOF %s:%lld enabled (user request from 'id=%llu')", host, port,
               (unsigned long long)host_conn_id(c->client));
    reply_ok(c->reply);
}

/* At start: `replicaof host port` from the configuration. */
void repl_configure_replica(const char *spec)
{
    char host[256];
    int port;
    if (sscanf(spec, "%255s %d", host, &port) != 2)
        return;
    snprintf(repl_node.master_host, sizeof(repl_node.master_host), "%s", host);
    repl_node.master_port = port;
    atomic_store(&repl_node.role, REPL_REPLICA);
    atomic_store(&repl_node.link_state, LINK_CONNECT);
    atomic_store(&repl_node.link_down_since_ms, clock_real_ms());
    for (unsigned i = 0; i < repl_node.nworkers; i++)
        store_set_expiry(host_store(i), STORE_EXPIRY_REPLICA);
}
