/* Client-side caching: tables, queues, delivery and the CLIENT subcommands; see tracking.h. */
#include "worker/tracking.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "base/util.h"
#include "cmd/cmd.h"
#include "cmd/commands.h"
#include "shard/shard.h"
#include "worker/channels.h"
#include "worker/conn.h"
#include "worker/process.h"
#include "worker/worker.h"

atomic_uint tracking_clients, tracking_bcast;

/* ---- a client's settings ------------------------------------------------- */

struct track_prefix {
    char *p;
    size_t len;
};

/* conn.trk: what CLIENT TRACKING ON set besides the flags. */
struct track_client {
    uint64_t redirect; /* 0: none */
    unsigned redirect_worker;
    unsigned idx; /* in its worker's clients[] */
    unsigned nprefix;
    struct track_prefix *prefix; /* BCAST, in byte order */
};

/* ---- connections by id --------------------------------------------------- */

static uint64_t id_hash(const uint64_t *id)
{
    return util_hash(id, sizeof(*id));
}

void tracking_conn_new(struct conn *c)
{
    c->id_node = (struct keytab_node){ .hash = id_hash(&c->id),
                                       .key = (const char *)&c->id,
                                       .len = sizeof(c->id) };
    keytab_add(&c->w->trk.by_id, &c->id_node);
}

static struct conn *conn_by_id(struct worker *w, uint64_t id)
{
    struct keytab_node *n =
        keytab_find(&w->trk.by_id, 0, (const char *)&id, sizeof(id), id_hash(&id));
    if (n == NULL)
        return NULL;
    struct conn *c = (struct conn *)((char *)n - offsetof(struct conn, id_node));
    return (c->flags & (CONN_ZOMBIE | CONN_CLOSE_ASAP)) ? NULL : c;
}

void tracking_conn_closed(struct conn *c)
{
    tracking_off(c);
    if (c->id_node.key != NULL) {
        keytab_remove(&c->w->trk.by_id, &c->id_node);
        c->id_node.key = NULL;
    }
}

/* Which worker runs client `id` (every shard held: CLIENT TRACKING's REDIRECT). */
static int worker_of_client(uint64_t id)
{
    for (unsigned i = 0; i < server.nworkers; i++)
        if (conn_by_id(server.workers[i], id) != NULL)
            return (int)i;
    return -1;
}

/* ---- on and off ---------------------------------------------------------- */

void tracking_off(struct conn *c)
{
    struct track_client *t = c->trk;
    if (!(c->track & TRACK_ON))
        return;
    struct track_worker *tw = &c->w->trk;
    tw->clients[t->idx] = tw->clients[--tw->n];
    tw->clients[t->idx]->trk->idx = t->idx;
    atomic_store_explicit(&tw->any, tw->n > 0, memory_order_relaxed);
    atomic_fetch_sub(&tracking_clients, 1);
    if (c->track & TRACK_BCAST) {
        atomic_fetch_sub(&tw->nbcast, 1);
        atomic_fetch_sub(&tracking_bcast, 1);
    }
    for (unsigned i = 0; i < t->nprefix; i++) {
        mem_free(t->prefix[i].p);
    }
    mem_free(t->prefix);
    mem_free(t);
    c->trk = NULL;
    c->track = 0; /* CLIENT CACHING's flag goes too: off, nothing is pending */
}

static void on(struct conn *c)
{
    if (c->track & TRACK_ON)
        return;
    struct track_worker *tw = &c->w->trk;
    c->trk = mem_calloc(sizeof(*c->trk));
    if (tw->n == tw->cap) {
        tw->cap = tw->cap ? tw->cap * 2 : 8;
        tw->clients = mem_realloc(tw->clients, tw->cap * sizeof(*tw->clients));
    }
    c->trk->idx = tw->n;
    tw->clients[tw->n++] = c;
    atomic_store_explicit(&tw->any, true, memory_order_relaxed);
    atomic_fetch_add(&tracking_clients, 1);
    c->track |= TRACK_ON;
}

static void add_prefix(struct conn *c, const char *p, size_t len)
{
    struct track_client *t = c->trk;
    unsigned i = 0;
    for (; i < t->nprefix; i++) {
        int cmp = memcmp(t->prefix[i].p, p, MIN(len, t->prefix[i].len));
        if (cmp == 0 && t->prefix[i].len == len)
            return; /* "" again (the only prefix that may repeat) */
        if (cmp > 0 || (cmp == 0 && t->prefix[i].len > len))
            break;
    }
    t->prefix = mem_realloc(t->prefix, (t->nprefix + 1) * sizeof(*t->prefix));
    memmove(&t->prefix[i + 1], &t->prefix[i], (t->nprefix - i) * sizeof(*t->prefix));
    t->prefix[i].p = mem_alloc(len + 1);
    memcpy(t->prefix[i].p, p, len);
    t->prefix[i].len = len;
    t->nprefix++;
}

/* ---- what a command remembers -------------------------------------------- */

/* The packed client word: its worker in the top byte, its id below. */
#define WHO_WORKER_SHIFT 56
#define WHO_ID_MASK      ((1ull << WHO_WORKER_SHIFT) - 1)

static uint64_t tracking_word(unsigned worker, uint64_t id)
{
    return ((uint64_t)worker << WHO_WORKER_SHIFT) | (id & WHO_ID_MASK);
}

uint64_t tracking_who(const struct conn *c)
{
    uint32_t f = c->track;
    if (!(f & TRACK_ON) || (f & TRACK_BCAST))
        return 0;
    bool caching = (f & TRACK_CACHING) != 0;
    if (((f & TRACK_OPTIN) && !caching) || ((f & TRACK_OPTOUT) && caching))
        return 0;
    return tracking_word(c->w->id, c->id);
}

void tracking_after_command(struct conn *c, const struct cmd_def *parent)
{
    /* Redis keeps it through MULTI ... EXEC and across any CLIENT subcommand */
    if (c->multi == NULL && (parent == NULL || parent->id != CMD_ID_CLIENT))
        c->track &= ~TRACK_CACHING;
}

/* A tracked key and its readers (packed words, sorted: each reader once). */
struct tnode {
    struct keytab_node link;
    uint32_t n, cap;
    uint64_t *who;
    char key[];
};

static struct track_table *table_of(unsigned shard)
{
    return &server.workers[shard]->trk.table;
}

static void remember(struct track_table *t, const char *key, size_t len, uint64_t who)
{
    uint64_t h = util_hash(key, len);
    struct tnode *n = (struct tnode *)keytab_find(&t->keys, 0, key, len, h);
    if (n == NULL) {
        n = mem_alloc(sizeof(*n) + len);
        memcpy(n->key, key, len);
        n->link = (struct keytab_node){ .hash = h, .key = n->key, .len = len };
        n->n = n->cap = 0;
        n->who = NULL;
        keytab_add(&t->keys, &n->link);
        atomic_fetch_add_explicit(&t->nkeys, 1, memory_order_relaxed);
    }
    uint32_t lo = 0, hi = n->n;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (n->who[mid] < who)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < n->n && n->who[lo] == who)
        return;
    if (n->n == n->cap) {
        n->cap = n->cap ? n->cap * 2 : 2;
        n->who = mem_realloc(n->who, n->cap * sizeof(*n->who));
    }
    memmove(&n->who[lo + 1], &n->who[lo], (n->n - lo) * sizeof(*n->who));
    n->who[lo] = who;
    n->n++;
    atomic_fetch_add_explicit(&t->nitems, 1, memory_order_relaxed);
}

void tracking_remember(struct cmd_ctx *ctx)
{
    /* every key: one left out would stay cached after it changed */
    int stack[256], *keys = ctx->argc <= 256 ? stack : mem_alloc(sizeof(int) * (size_t)ctx->argc);
    int nk = cmd_get_keys(ctx->cmd, ctx->argc, ctx->argv, keys, MAX(ctx->argc, 256));
    for (int i = 0; i < nk; i++) {
        const struct resp_arg *k = &ctx->argv[keys[i]];
        unsigned shard =
            ctx->store != NULL ? ctx->shard : cmd_key_shard(k->ptr, k->len, server.nworkers);
        remember(table_of(shard), k->ptr, k->len, ctx->track_who);
    }
    if (keys != stack)
        mem_free(keys);
}

/* ---- the queues ---------------------------------------------------------- */

/*
 * An entry of a destination's queue: the header, then `len` bytes (a key, or a framed
 * message for TE_REDIR).
 */
enum te_kind {
    TE_KEY = 1, /* target read key: invalidate it (unless NOLOOP and target == origin) */
    TE_FLUSH,   /* every tracking client: the null invalidation */
    TE_BCAST,   /* key changed: the BCAST clients whose prefixes match */
    TE_REDIR,   /* payload for redirect target `target`, of tracking client `origin` (a word) */
    TE_BROKEN,  /* tracking client `target` redirects to a client that is gone */
};

struct te_head {
    uint8_t kind;
    uint32_t len;
    uint64_t target, origin;
};

static void queue(struct worker *w, unsigned dst, enum te_kind kind, uint64_t target,
                  uint64_t origin, const char *p, size_t len)
{
    struct te_head h = {
        .kind = (uint8_t)kind, .len = (uint32_t)len, .target = target, .origin = origin
    };
    struct strbuf *b = &w->trk.pend[dst];
    strbuf_append(b, (const char *)&h, sizeof(h));
    if (len > 0)
        strbuf_append(b, p, len);
    w->trk.pend_mask |= 1ull << dst;
}

/* A change of key by client `origin` (0: none): the broadcasters of every worker hear. */
static void queue_bcast(struct worker *w, uint64_t origin, const char *key, size_t len)
{
    if (atomic_load_explicit(&tracking_bcast, memory_order_relaxed) == 0)
        return;
    for (unsigned i = 0; i < server.nworkers; i++)
        if (atomic_load_explicit(&server.workers[i]->trk.nbcast, memory_order_relaxed) > 0)
            queue(w, i, TE_BCAST, 0, origin, key, len);
}

static void free_node(struct track_table *t, struct tnode *n)
{
    atomic_fetch_sub_explicit(&t->nitems, n->n, memory_order_relaxed);
    atomic_fetch_sub_explicit(&t->nkeys, 1, memory_order_relaxed);
    mem_free(n->who);
    mem_free(n);
}

/* Key of shard `shard` changed: its readers hear, and it leaves the table. */
static void invalidate(struct worker *w, unsigned shard, uint64_t origin, const char *key,
                       size_t len)
{
    queue_bcast(w, origin, key, len);
    struct track_table *t = table_of(shard);
    if (t->keys.n == 0)
        return;
    struct tnode *n = (struct tnode *)keytab_find(&t->keys, 0, key, len, util_hash(key, len));
    if (n == NULL)
        return;
    for (uint32_t i = 0; i < n->n; i++)
        queue(w, (unsigned)(n->who[i] >> WHO_WORKER_SHIFT), TE_KEY, n->who[i] & WHO_ID_MASK, origin,
              key, len);
    keytab_remove(&t->keys, &n->link);
    free_node(t, n);
}

void tracking_changed(struct cmd_ctx *ctx, const char *key, size_t len)
{
    unsigned shard = ctx->store != NULL ? ctx->shard : cmd_key_shard(key, len, server.nworkers);
    invalidate(ctx->worker, shard, ctx->origin, key, len);
}

void tracking_removed(struct worker *w, const char *key, size_t len)
{
    invalidate(w, cmd_key_shard(key, len, server.nworkers), 0, key, len);
}

static bool drop_node(void *arg, struct keytab_node *kn)
{
    free_node(arg, (struct tnode *)kn);
    return true;
}

static void empty_table(struct track_table *t)
{
    keytab_sweep(&t->keys, drop_node, t);
}

static void queue_flush_all(struct worker *w, uint64_t origin)
{
    for (unsigned i = 0; i < server.nworkers; i++)
        if (atomic_load_explicit(&server.workers[i]->trk.any, memory_order_relaxed))
            queue(w, i, TE_FLUSH, 0, origin, NULL, 0);
}

void tracking_flushed(struct cmd_ctx *ctx)
{
    for (unsigned i = 0; i < server.nworkers; i++)
        empty_table(table_of(i));
    queue_flush_all(ctx->worker, ctx->origin);
}

void tracking_replaced(struct worker *w, unsigned shard)
{
    empty_table(table_of(shard));
    if (shard == 0) /* one null per client for the whole sync, as Redis's emptyData */
        queue_flush_all(w, 0);
}

/* ---- delivery ------------------------------------------------------------ */

static const char push_head[] = ">2\r\n$10\r\ninvalidate\r\n";
static const char message_head[] = "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n";

/* Frame `value` (the keys, or a null) for r: a push in RESP3, a message to a subscribed
 * RESP2 redirect target, nothing otherwise (RESP2 has no other way). */
static void frame(struct conn *r, bool redirected, const char *value, size_t len)
{
    if (r->proto == 3)
        reply_raw(&r->out, push_head, sizeof(push_head) - 1);
    else if (redirected && pubsub_count(r) > 0)
        reply_raw(&r->out, message_head, sizeof(message_head) - 1);
    else
        return;
    reply_raw(&r->out, value, len);
    conn_want_flush(r);
}

static void broken(struct conn *c)
{
    c->track |= TRACK_BROKEN;
    if (c->proto != 3)
        return;
    char buf[64];
    int n = snprintf(buf, sizeof(buf), ">2\r\n$21\r\ntracking-redir-broken\r\n:%llu\r\n",
                     (unsigned long long)c->trk->redirect);
    reply_raw(&c->out, buf, (size_t)n);
    conn_want_flush(c);
}

/* Tracking client c of this worker is told `value`, or its redirect target is. */
static void tell(struct worker *w, struct conn *c, const char *value, size_t len)
{
    uint64_t redir = c->trk->redirect;
    if (redir == 0) {
        frame(c, false, value, len);
        return;
    }
    struct conn *r = conn_by_id(w, redir);
    if (r != NULL)
        frame(r, true, value, len);
    else if (c->trk->redirect_worker != w->id)
        queue(w, c->trk->redirect_worker, TE_REDIR, redir, tracking_word(w->id, c->id), value, len);
    else
        broken(c);
}

static void tell_key(struct worker *w, struct conn *c, const char *key, size_t len)
{
    struct strbuf *v = &w->trk.scratch;
    v->len = 0;
    strbuf_printf(v, "*1\r\n$%zu\r\n", len);
    strbuf_append(v, key, len);
    strbuf_append(v, "\r\n", 2);
    tell(w, c, v->buf, v->len);
}

static void tell_null(struct worker *w, struct conn *c)
{
    /* the tracking client's null, even when the target speaks the other protocol (Redis) */
    if (c->proto == 3)
        tell(w, c, "_\r\n", 3);
    else
        tell(w, c, "$-1\r\n", 5);
}

struct bkey {
    const char *p;
    size_t len;
    uint64_t origin;
};

static int bkey_cmp(const void *a, const void *b)
{
    const struct bkey *x = a, *y = b;
    int c = memcmp(x->p, y->p, MIN(x->len, y->len));
    return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

/* Does keys[i] go to c under prefix p: it matches, c did not make it (NOLOOP), and it is
 * not keys[i - 1] again (changed twice: said once)? `last`: the previous key said, or NULL. */
static bool bcast_says(const struct conn *c, const struct track_prefix *p, const struct bkey *k,
                       const struct bkey *last)
{
    return k->len >= p->len && memcmp(k->p, p->p, p->len) == 0 &&
           !((c->track & TRACK_NOLOOP) && k->origin == c->id) &&
           (last == NULL || bkey_cmp(last, k) != 0);
}

/* The BCAST clients of this worker hear of keys[0..n) (sorted): one message per prefix. */
static void tell_bcast(struct worker *w, struct bkey *keys, size_t n)
{
    struct strbuf *v = &w->trk.scratch;
    for (unsigned ci = 0; ci < w->trk.n; ci++) {
        struct conn *c = w->trk.clients[ci];
        if (!(c->track & TRACK_BCAST))
            continue;
        for (unsigned pi = 0; pi < c->trk->nprefix; pi++) {
            const struct track_prefix *p = &c->trk->prefix[pi];
            size_t count = 0;
            const struct bkey *last = NULL;
            for (size_t i = 0; i < n; i++)
                if (bcast_says(c, p, &keys[i], last)) {
                    last = &keys[i];
                    count++;
                }
            if (count == 0)
                continue;
            v->len = 0;
            strbuf_printf(v, "*%zu\r\n", count);
            last = NULL;
            for (size_t i = 0; i < n; i++) {
                if (!bcast_says(c, p, &keys[i], last))
                    continue;
                last = &keys[i];
                strbuf_printf(v, "$%zu\r\n", keys[i].len);
                strbuf_append(v, keys[i].p, keys[i].len);
                strbuf_append(v, "\r\n", 2);
            }
            tell(w, c, v->buf, v->len);
        }
    }
}

/* Deliver a queue's entries on this worker. */
static void deliver(struct worker *w, const char *p, size_t len)
{
    struct bkey small[64], *bk = small;
    size_t nb = 0, capb = ARRAY_SIZE(small);
    for (size_t off = 0; off + sizeof(struct te_head) <= len;) {
        struct te_head h;
        memcpy(&h, p + off, sizeof(h));
        const char *body = p + off + sizeof(h);
        off += sizeof(h) + h.len;
        struct conn *c;
        switch (h.kind) {
        case TE_KEY:
            c = conn_by_id(w, h.target);
            if (c == NULL || !(c->track & TRACK_ON) || (c->track & TRACK_BCAST) ||
                ((c->track & TRACK_NOLOOP) && h.origin == h.target))
                break;
            tell_key(w, c, body, h.len);
            break;
        case TE_FLUSH:
            for (unsigned i = 0; i < w->trk.n; i++)
                tell_null(w, w->trk.clients[i]);
            break;
        case TE_BCAST:
            if (nb == capb) {
                capb *= 2;
                struct bkey *g = mem_alloc(capb * sizeof(*g));
                memcpy(g, bk, nb * sizeof(*g));
                if (bk != small)
                    mem_free(bk);
                bk = g;
            }
            bk[nb++] = (struct bkey){ .p = body, .len = h.len, .origin = h.origin };
            break;
        case TE_REDIR:
            c = conn_by_id(w, h.target);
            if (c != NULL)
                frame(c, true, body, h.len);
            else /* back to the tracking client's worker */
                queue(w, (unsigned)(h.origin >> WHO_WORKER_SHIFT), TE_BROKEN,
                      h.origin & WHO_ID_MASK, h.target, NULL, 0);
            break;
        case TE_BROKEN:
            c = conn_by_id(w, h.target);
            if (c != NULL && (c->track & TRACK_ON) && c->trk->redirect == h.origin)
                broken(c);
            break;
        default:
            break;
        }
    }
    if (nb > 0) {
        qsort(bk, nb, sizeof(*bk), bkey_cmp);
        tell_bcast(w, bk, nb);
    }
    if (bk != small)
        mem_free(bk);
}

void tracking_flush(struct worker *w)
{
    struct track_worker *tw = &w->trk;
    /* our own clients first (only while nobody else holds our shard: a holder may be
     * reading them), then the others' queues, which that may have added to */
    if ((tw->pend_mask & (1ull << w->id)) &&
        (w->hold.holder == -1 || w->hold.holder == (int)w->id)) {
        /* in place: delivering here queues only for other workers (a REDIRECT target's, a
         * tracking client's), never for this one */
        struct strbuf *mine = &tw->pend[w->id];
        deliver(w, mine->buf, mine->len);
        mine->len = 0;
        tw->pend_mask &= ~(1ull << w->id);
    }
    uint64_t mask = tw->pend_mask & ~(1ull << w->id);
    while (mask != 0) {
        unsigned dst = (unsigned)__builtin_ctzll(mask);
        mask &= mask - 1;
        struct strbuf *b = &tw->pend[dst];
        struct shard_msg *m = shard_msg_get(&w->port);
        m->type = SHARD_TRACK;
        shard_msg_set_args(m, 1, (struct resp_arg[]){ { b->buf, b->len } });
        shard_send(&w->port, dst, m);
        b->len = 0;
        if (b->cap > 65536) {
            strbuf_deinit(b);
            strbuf_setup(b);
        }
        tw->pend_mask &= ~(1ull << dst);
    }
}

void tracking_on_message(struct worker *w, struct shard_msg *m)
{
    deliver(w, m->argv[0].ptr, m->argv[0].len);
    m->type = SHARD_TRACKED;
    shard_send(&w->port, m->src, m);
}

/* ---- tracking-table-max-keys --------------------------------------------- */

struct evict_arg {
    struct worker *w;
    size_t want;
};

static bool evict_one(void *arg, struct keytab_node *kn)
{
    struct evict_arg *a = arg;
    if (a->want == 0)
        return false;
    a->want--;
    struct tnode *n = (struct tnode *)kn;
    for (uint32_t i = 0; i < n->n; i++)
        queue(a->w, (unsigned)(n->who[i] >> WHO_WORKER_SHIFT), TE_KEY, n->who[i] & WHO_ID_MASK, 0,
              n->key, kn->len);
    free_node(&a->w->trk.table, n);
    return true;
}

void tracking_cron(struct worker *w)
{
    long long max = w->params.srv.tracking_table_max_keys;
    struct track_table *t = &w->trk.table;
    if (max <= 0 || t->keys.n == 0)
        return;
    size_t limit = (size_t)max / server.nworkers;
    if (limit == 0)
        limit = 1;
    if (t->keys.n <= limit)
        return;
    /* keys leave (their readers told) until the table fits again */
    struct evict_arg a = { .w = w, .want = t->keys.n - limit };
    keytab_sweep(&t->keys, evict_one, &a);
}

/* ---- INFO, CLIENT LIST, closing ------------------------------------------ */

static int prefix_cmp(const void *a, const void *b)
{
    const struct track_prefix *x = a, *y = b;
    int c = memcmp(x->p, y->p, MIN(x->len, y->len));
    return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

void tracking_info(size_t *keys, size_t *items, size_t *nprefixes)
{
    *keys = *items = 0;
    size_t n = 0;
    for (unsigned i = 0; i < server.nworkers; i++) {
        struct track_worker *tw = &server.workers[i]->trk;
        *keys += atomic_load_explicit(&tw->table.nkeys, memory_order_relaxed);
        *items += atomic_load_explicit(&tw->table.nitems, memory_order_relaxed);
        for (unsigned c = 0; c < tw->n; c++)
            n += tw->clients[c]->trk->nprefix;
    }
    /* distinct prefixes over every BCAST client (every shard held: INFO routes `all`) */
    struct track_prefix *all = mem_alloc(sizeof(*all) * (n ? n : 1));
    size_t k = 0;
    for (unsigned i = 0; i < server.nworkers; i++) {
        struct track_worker *tw = &server.workers[i]->trk;
        for (unsigned c = 0; c < tw->n; c++)
            for (unsigned j = 0; j < tw->clients[c]->trk->nprefix; j++)
                all[k++] = tw->clients[c]->trk->prefix[j];
    }
    qsort(all, n, sizeof(*all), prefix_cmp);
    *nprefixes = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || prefix_cmp(&all[i - 1], &all[i]) != 0)
            (*nprefixes)++;
    mem_free(all);
}

size_t tracking_list_flags(const struct conn *c, char *out)
{
    size_t n = 0;
    if (c->track & TRACK_ON)
        out[n++] = 't';
    if (c->track & TRACK_BROKEN)
        out[n++] = 'R';
    if (c->track & TRACK_BCAST)
        out[n++] = 'B';
    return n;
}

long long tracking_redir(const struct conn *c)
{
    return (c->track & TRACK_ON) ? (long long)c->trk->redirect : -1;
}

void tracking_worker_free(struct track_worker *t)
{
    empty_table(&t->table);
    keytab_free(&t->table.keys);
    keytab_free(&t->by_id);
    mem_free(t->clients);
    t->clients = NULL;
    for (unsigned i = 0; i < MAX_WORKERS; i++)
        strbuf_deinit(&t->pend[i]);
    strbuf_deinit(&t->scratch);
}

/* ---- the commands -------------------------------------------------------- */

static bool prefixes_overlap(const struct resp_arg *a, const char *p, size_t len)
{
    return memcmp(a->ptr, p, MIN(a->len, len)) == 0;
}

/* Redis's checks, in its order. @return false after replying with the error. */
static bool tracking_on_ok(struct cmd_ctx *ctx, struct conn *c, uint32_t opts,
                           const struct resp_arg *const *prefix, unsigned np)
{
    if (!(opts & TRACK_BCAST) && np > 0) {
        reply_error(ctx->reply, "ERR PREFIX option requires BCAST mode to be enabled");
        return false;
    }
    if ((c->track & TRACK_ON) && ((c->track ^ opts) & TRACK_BCAST)) {
        reply_error(ctx->reply,
                    "ERR You can't switch BCAST mode on/off before disabling tracking for this "
                    "client, and then re-enabling it with a different mode.");
        return false;
    }
    if ((opts & TRACK_BCAST) && (opts & (TRACK_OPTIN | TRACK_OPTOUT))) {
        reply_error(ctx->reply, "ERR OPTIN and OPTOUT are not compatible with BCAST");
        return false;
    }
    if ((opts & TRACK_OPTIN) && (opts & TRACK_OPTOUT)) {
        reply_error(ctx->reply, "ERR You can't specify both OPTIN mode and OPTOUT mode");
        return false;
    }
    if (((opts & TRACK_OPTIN) && (c->track & TRACK_OPTOUT)) ||
        ((opts & TRACK_OPTOUT) && (c->track & TRACK_OPTIN))) {
        reply_error(ctx->reply,
                    "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this "
                    "client, and then re-enabling it with a different mode.");
        return false;
    }
    for (unsigned i = 0; i < np && (opts & TRACK_BCAST); i++) {
        for (unsigned j = 0; c->trk != NULL && j < c->trk->nprefix; j++) {
            const struct track_prefix *e = &c->trk->prefix[j];
            if (prefixes_overlap(prefix[i], e->p, e->len)) {
                reply_errorf(ctx->reply,
                             "ERR Prefix '%.*s' overlaps with an existing prefix '%.*s'. "
                             "Prefixes for a single client must not overlap.",
                             (int)prefix[i]->len, prefix[i]->ptr, (int)e->len, e->p);
                return false;
            }
        }
        for (unsigned j = i + 1; j < np; j++) {
            if (prefixes_overlap(prefix[i], prefix[j]->ptr, prefix[j]->len)) {
                reply_errorf(ctx->reply,
                             "ERR Prefix '%.*s' overlaps with another provided prefix '%.*s'. "
                             "Prefixes for a single client must not overlap.",
                             (int)prefix[i]->len, prefix[i]->ptr, (int)prefix[j]->len,
                             prefix[j]->ptr);
                return false;
            }
        }
    }
    return true;
}

/* CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP] */
void cmd_client_tracking(struct cmd_ctx *ctx)
{
    struct conn *c = ctx->client;
    uint32_t opts = 0;
    long long redir = 0;
    int redir_worker = -1;
    const struct resp_arg *stack[16], **prefix = stack;
    unsigned np = 0, pcap = ARRAY_SIZE(stack);
    for (int j = 3; j < ctx->argc; j++) {
        bool more = j + 1 < ctx->argc;
        if (more && cmd_arg_is(ctx, j, "redirect")) {
            j++;
            if (redir != 0) {
                reply_error(ctx->reply, "ERR A client can only redirect to a single other client");
                goto out;
            }
            if (!cmd_arg_ll(ctx, j, &redir))
                goto out;
            redir_worker = redir > 0 ? worker_of_client((uint64_t)redir) : -1;
            if (redir_worker < 0) {
                reply_error(ctx->reply, "ERR The client ID you want redirect to does not exist");
                goto out;
            }
        } else if (cmd_arg_is(ctx, j, "bcast")) {
            opts |= TRACK_BCAST;
        } else if (cmd_arg_is(ctx, j, "optin")) {
            opts |= TRACK_OPTIN;
        } else if (cmd_arg_is(ctx, j, "optout")) {
            opts |= TRACK_OPTOUT;
        } else if (cmd_arg_is(ctx, j, "noloop")) {
            opts |= TRACK_NOLOOP;
        } else if (more && cmd_arg_is(ctx, j, "prefix")) {
            j++;
            if (np == pcap) {
                pcap *= 2;
                const struct resp_arg **g = mem_alloc(pcap * sizeof(*g));
                memcpy(g, prefix, np * sizeof(*g));
                if (prefix != stack)
                    mem_free(prefix);
                prefix = g;
            }
            prefix[np++] = &ctx->argv[j];
        } else {
            reply_error(ctx->reply, ERR_SYNTAX);
            goto out;
        }
    }
    if (cmd_arg_is(ctx, 2, "on")) {
        if (!tracking_on_ok(ctx, c, opts, prefix, np))
            goto out;
        bool was_bcast = (c->track & TRACK_BCAST) != 0;
        on(c);
        c->track &= ~(TRACK_BROKEN | TRACK_BCAST | TRACK_OPTIN | TRACK_OPTOUT | TRACK_NOLOOP);
        c->track |= opts;
        c->trk->redirect = (uint64_t)redir;
        c->trk->redirect_worker = redir_worker >= 0 ? (unsigned)redir_worker : 0;
        if (opts & TRACK_BCAST) {
            if (!was_bcast) {
                atomic_fetch_add(&c->w->trk.nbcast, 1);
                atomic_fetch_add(&tracking_bcast, 1);
            }
            if (np == 0)
                add_prefix(c, "", 0);
            for (unsigned i = 0; i < np; i++)
                add_prefix(c, prefix[i]->ptr, prefix[i]->len);
        }
    } else if (cmd_arg_is(ctx, 2, "off")) {
        tracking_off(c);
    } else {
        reply_error(ctx->reply, ERR_SYNTAX);
        goto out;
    }
    reply_ok(ctx->reply);
out:
    if (prefix != stack)
        mem_free(prefix);
}

/* CLIENT CACHING YES|NO */
void cmd_client_caching(struct cmd_ctx *ctx)
{
    struct conn *c = ctx->client;
    if (!(c->track & TRACK_ON) || !(c->track & (TRACK_OPTIN | TRACK_OPTOUT))) {
        reply_error(ctx->reply, "ERR CLIENT CACHING can be called only when the client is in "
                                "tracking mode with OPTIN or OPTOUT mode enabled");
        return;
    }
    if (cmd_arg_is(ctx, 2, "yes")) {
        if (!(c->track & TRACK_OPTIN)) {
            reply_error(ctx->reply, "ERR CLIENT CACHING YES is only valid when tracking is "
                                    "enabled in OPTIN mode.");
            return;
        }
    } else if (cmd_arg_is(ctx, 2, "no")) {
        if (!(c->track & TRACK_OPTOUT)) {
            reply_error(ctx->reply, "ERR CLIENT CACHING NO is only valid when tracking is "
                                    "enabled in OPTOUT mode.");
            return;
        }
    } else {
        reply_error(ctx->reply, ERR_SYNTAX);
        return;
    }
    c->track |= TRACK_CACHING;
    reply_ok(ctx->reply);
}

void cmd_client_getredir(struct cmd_ctx *ctx)
{
    reply_int(ctx->reply, tracking_redir(ctx->client));
}

void cmd_client_trackinginfo(struct cmd_ctx *ctx)
{
    const struct conn *c = ctx->client;
    uint32_t f = c->track;
    const char *flags[8];
    unsigned n = 0;
    if (!(f & TRACK_ON)) {
        flags[n++] = "off";
    } else {
        flags[n++] = "on";
        if (f & TRACK_BCAST)
            flags[n++] = "bcast";
        if (f & TRACK_OPTIN) {
            flags[n++] = "optin";
            if (f & TRACK_CACHING)
                flags[n++] = "caching-yes";
        }
        if (f & TRACK_OPTOUT) {
            flags[n++] = "optout";
            if (f & TRACK_CACHING)
                flags[n++] = "caching-no";
        }
        if (f & TRACK_NOLOOP)
            flags[n++] = "noloop";
        if (f & TRACK_BROKEN)
            flags[n++] = "broken_redirect";
    }
    reply_map(ctx->reply, 3);
    reply_bulk_cstr(ctx->reply, "flags");
    reply_set(ctx->reply, n);
    for (unsigned i = 0; i < n; i++)
        reply_bulk_cstr(ctx->reply, flags[i]);
    reply_bulk_cstr(ctx->reply, "redirect");
    reply_int(ctx->reply, tracking_redir(c));
    reply_bulk_cstr(ctx->reply, "prefixes");
    unsigned np = (f & TRACK_ON) ? c->trk->nprefix : 0;
    reply_array(ctx->reply, np);
    for (unsigned i = 0; i < np; i++)
        reply_bulk(ctx->reply, c->trk->prefix[i].p, c->trk->prefix[i].len);
}
