/* WATCH: the shards' tables of watched keys and the clients' lists; see watch.h. */
#include "worker/watch.h"

#include <string.h>

#include "base/mem.h"
#include "base/util.h"
#include "cmd/cmd.h"
#include "store/store.h"
#include "worker/conn.h"
#include "worker/process.h"
#include "worker/worker.h"

atomic_size_t watch_nodes;

/* A watched key of one shard. */
struct wnode {
    struct keytab_node link;
    atomic_uint_fast64_t version; /* moved on by every write: only its shard's runner writes */
    atomic_uint watchers;         /* entries in clients' lists */
    char key[];
};

/* One of a client's watched keys. */
struct watched {
    struct wnode *node;
    uint64_t version; /* the node's when WATCH ran */
    uint16_t shard;
    bool live; /* the key existed, unexpired, when WATCH ran */
};

struct watch_list {
    uint32_t n, cap;
    struct watched v[];
};

static struct watch_table *table_of(unsigned shard)
{
    return &server.workers[shard]->watch;
}

static bool live(unsigned shard, int db, const struct wnode *n, int64_t now_ms)
{
    struct skey sk;
    skey_init(&sk, n->key, n->link.len);
    return store_key_live(server.stores[shard], db, &sk, now_ms);
}

static void bump(struct wnode *n)
{
    atomic_store_explicit(&n->version, atomic_load_explicit(&n->version, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

void watch_key(struct conn *c, int db, const char *key, size_t len, int64_t now_ms)
{
    unsigned shard = cmd_key_shard(key, len, server.nworkers);
    struct watch_table *t = table_of(shard);
    uint64_t h = util_hash(key, len);
    struct wnode *n = (struct wnode *)keytab_find(&t->keys, db, key, len, h);
    struct watch_list *l = c->watch;
    if (n != NULL && l != NULL)
        for (uint32_t i = 0; i < l->n; i++)
            if (l->v[i].node == n)
                return; /* watched already: the first WATCH's view stands, as in Redis */
    if (n == NULL) {
        n = mem_alloc(sizeof(*n) + len);
        memcpy(n->key, key, len);
        n->link = (struct keytab_node){ .hash = h, .key = n->key, .len = len, .db = db };
        atomic_init(&n->version, 0);
        atomic_init(&n->watchers, 0);
        keytab_add(&t->keys, &n->link);
        atomic_fetch_add_explicit(&watch_nodes, 1, memory_order_relaxed);
    }
    atomic_fetch_add_explicit(&n->watchers, 1, memory_order_relaxed);
    if (l == NULL || l->n == l->cap) {
        uint32_t cap = l == NULL ? 4 : l->cap * 2;
        struct watch_list *g = mem_realloc(l, sizeof(*l) + cap * sizeof(l->v[0]));
        if (l == NULL)
            g->n = 0;
        g->cap = cap;
        c->watch = l = g;
    }
    l->v[l->n++] = (struct watched){
        .node = n,
        .version = atomic_load_explicit(&n->version, memory_order_relaxed),
        .shard = (uint16_t)shard,
        .live = live(shard, db, n, now_ms),
    };
}

uint64_t watch_shards(const struct conn *c)
{
    uint64_t mask = 0;
    if (c->watch != NULL)
        for (uint32_t i = 0; i < c->watch->n; i++)
            mask |= 1ull << c->watch->v[i].shard;
    return mask;
}

bool watch_touched(const struct conn *c)
{
    const struct watch_list *l = c->watch;
    for (uint32_t i = 0; l != NULL && i < l->n; i++)
        if (atomic_load_explicit(&l->v[i].node->version, memory_order_relaxed) != l->v[i].version)
            return true;
    return false;
}

bool watch_dirty(const struct conn *c, int64_t now_ms)
{
    if (watch_touched(c))
        return true;
    /* a key live when watched and gone since without a write: expired (Redis's
     * isWatchedKeyExpired, even before the key is removed), evicted or flushed */
    const struct watch_list *l = c->watch;
    for (uint32_t i = 0; l != NULL && i < l->n; i++) {
        const struct watched *wk = &l->v[i];
        if (wk->live && !live(wk->shard, wk->node->link.db, wk->node, now_ms))
            return true;
    }
    return false;
}

/* Free n if nobody watches it (its shard's runner only). */
static bool drop_unwatched(void *arg, struct keytab_node *kn)
{
    (void)arg;
    struct wnode *n = (struct wnode *)kn;
    if (atomic_load_explicit(&n->watchers, memory_order_acquire) != 0)
        return false;
    mem_free(n);
    atomic_fetch_sub_explicit(&watch_nodes, 1, memory_order_relaxed);
    return true;
}

void watch_release(struct conn *c, uint64_t held)
{
    struct watch_list *l = c->watch;
    if (l == NULL)
        return;
    int holder = c->w->hold.holder;
    if (holder == -1 || holder == (int)c->w->id)
        held |= 1ull << c->w->id; /* our own shard, unless another's transaction holds it */
    for (uint32_t i = 0; i < l->n; i++) {
        struct wnode *n = l->v[i].node;
        unsigned shard = l->v[i].shard;
        /* the last reference to a node of another shard is let go with release: its owner
         * frees it after reading the count with acquire, so nothing here touches it after */
        if (atomic_fetch_sub_explicit(&n->watchers, 1, memory_order_acq_rel) != 1)
            continue;
        struct watch_table *t = table_of(shard);
        if (held & (1ull << shard)) {
            keytab_remove(&t->keys, &n->link);
            drop_unwatched(NULL, &n->link);
        } else {
            atomic_store_explicit(&t->released, true, memory_order_release);
        }
    }
    mem_free(l);
    c->watch = NULL;
}

size_t watch_count(const struct conn *c)
{
    return c->watch != NULL ? c->watch->n : 0;
}

void watch_changed(struct cmd_ctx *c, int type, const char *event, int db, const char *key,
                   size_t len)
{
    (void)type;
    if (key == NULL) {
        if (event == NULL) /* a flush needs nothing: the keys' absence tells */
            watch_swapdb(db, (int)len, c->now_ms);
        return;
    }
    unsigned shard = c->store != NULL ? c->shard : cmd_key_shard(key, len, server.nworkers);
    struct watch_table *t = table_of(shard);
    if (t->keys.n == 0)
        return;
    struct keytab_node *n = keytab_find(&t->keys, db, key, len, util_hash(key, len));
    if (n != NULL)
        bump((struct wnode *)n);
}

struct swap_arg {
    unsigned shard;
    int a, b;
    int64_t now_ms;
};

/* After SWAPDB a b: a key of either database changed if it is live in either, before
 * (now in the other database) or after; an expired key is as good as absent (Redis's
 * touchAllWatchedKeysInDb). */
static bool bump_swapped(void *arg, struct keytab_node *kn)
{
    const struct swap_arg *s = arg;
    struct wnode *n = (struct wnode *)kn;
    if (kn->db == s->a || kn->db == s->b) {
        int other = kn->db == s->a ? s->b : s->a;
        struct skey sk;
        skey_init(&sk, n->key, kn->len);
        struct store *st = server.stores[s->shard];
        if (store_key_live(st, kn->db, &sk, s->now_ms) || store_key_live(st, other, &sk, s->now_ms))
            bump(n);
    }
    return false;
}

void watch_swapdb(int a, int b, int64_t now_ms)
{
    if (!watch_any() || a == b)
        return;
    for (unsigned i = 0; i < server.nworkers; i++) {
        struct swap_arg s = { .shard = i, .a = a, .b = b, .now_ms = now_ms };
        keytab_sweep(&table_of(i)->keys, bump_swapped, &s);
    }
}

static bool bump_live(void *arg, struct keytab_node *kn)
{
    const struct swap_arg *s = arg;
    struct wnode *n = (struct wnode *)kn;
    if (live(s->shard, kn->db, n, s->now_ms))
        bump(n);
    return false;
}

void watch_replace(unsigned shard, int64_t now_ms)
{
    struct swap_arg s = { .shard = shard, .now_ms = now_ms };
    if (watch_any())
        keytab_sweep(&table_of(shard)->keys, bump_live, &s);
}

void watch_cron(struct worker *w)
{
    if (w->now_ms - w->watch.sweep_ms < 100)
        return;
    w->watch.sweep_ms = w->now_ms;
    if (atomic_load_explicit(&w->watch.released, memory_order_relaxed) &&
        atomic_exchange_explicit(&w->watch.released, false, memory_order_acquire))
        keytab_sweep(&w->watch.keys, drop_unwatched, NULL);
}

static bool drop_any(void *arg, struct keytab_node *kn)
{
    (void)arg;
    mem_free(kn);
    atomic_fetch_sub_explicit(&watch_nodes, 1, memory_order_relaxed);
    return true;
}

void watch_table_free(struct watch_table *t)
{
    keytab_sweep(&t->keys, drop_any, NULL);
    keytab_free(&t->keys);
}
