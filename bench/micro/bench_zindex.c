/*
 * The ordered index of big sorted sets (dataplane/types/zindex.h): insert, delete, rank and
 * element-at-rank at 1k and 1M elements, and the same four on a skiplist with spans (the
 * structure Redis 7.0 uses for a big sorted set), so types/NOTES.md can compare them.
 *
 * Elements are "member:N" with an integer score drawn from [0, n): a few equal scores, so
 * some comparisons reach the member bytes, as in real sets. Queries pick elements in a
 * random order precomputed before the timed loop, so at 1M most steps miss the cache.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "bench/micro/microbench.h"
#include "types/zindex.h"

#define EXTRA 1024 /* elements inserted (or deleted) between two restores */

struct bel {
    double score;
    uint32_t len;
    char m[20];
};

static const unsigned char *bel_member(void *ctx, const void *elem, size_t *len)
{
    (void)ctx;
    const struct bel *e = elem;
    *len = e->len;
    return (const unsigned char *)e->m;
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* n elements plus EXTRA more (the ones insert and delete cycle), and a random order of the n. */
struct fixture {
    size_t n;
    struct bel *el;
    uint32_t *order;
};

static void fixture_init(struct fixture *f, size_t n)
{
    uint64_t seed = 0x2545F4914F6CDD1Dull;
    f->n = n;
    f->el = malloc((n + EXTRA) * sizeof(*f->el));
    f->order = malloc(n * sizeof(*f->order));
    if (f->el == NULL || f->order == NULL)
        abort();
    for (size_t i = 0; i < n + EXTRA; i++) {
        struct bel *e = &f->el[i];
        e->len = (uint32_t)snprintf(e->m, sizeof(e->m), "member:%zu", i);
        e->score = (double)(xorshift(&seed) % n);
    }
    for (size_t i = 0; i < n; i++)
        f->order[i] = (uint32_t)i;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)(xorshift(&seed) % (i + 1));
        uint32_t t = f->order[i];
        f->order[i] = f->order[j];
        f->order[j] = t;
    }
}

static void fixture_deinit(struct fixture *f)
{
    free(f->el);
    free(f->order);
}

/* ---- a skiplist with spans, Redis's big sorted set, for comparison ---- */

#define ZSL_MAX_LEVEL 32

struct zsl_node {
    const struct bel *elem;
    double score;
    struct zsl_node *back;
    struct {
        struct zsl_node *fwd;
        size_t span;
    } lv[];
};

struct zsl {
    struct zsl_node *head;
    size_t count;
    size_t bytes;
    int level;
    uint64_t seed;
};

static int bel_cmp(double s, const struct bel *e, double ks, const struct bel *k)
{
    if (s != ks)
        return s < ks ? -1 : 1;
    if (e == k)
        return 0;
    int c = memcmp(e->m, k->m, e->len < k->len ? e->len : k->len);
    return c != 0 ? c : (e->len > k->len) - (e->len < k->len);
}

static struct zsl_node *zsl_node_new(struct zsl *l, int level)
{
    size_t size = sizeof(struct zsl_node) + (size_t)level * sizeof(l->head->lv[0]);
    l->bytes += mem_size_class(size);
    return mem_calloc(size);
}

static void zsl_init(struct zsl *l)
{
    memset(l, 0, sizeof(*l));
    l->seed = 88172645463325252ull;
    l->level = 1;
    l->head = zsl_node_new(l, ZSL_MAX_LEVEL);
}

static void zsl_deinit(struct zsl *l)
{
    struct zsl_node *x = l->head;
    while (x != NULL) {
        struct zsl_node *next = x->lv[0].fwd;
        mem_free(x);
        x = next;
    }
}

/* Levels with probability 1/4 each step up, as Redis draws them. */
static int zsl_level(struct zsl *l)
{
    int level = 1;
    while (level < ZSL_MAX_LEVEL && (xorshift(&l->seed) & 3) == 0)
        level++;
    return level;
}

static void zsl_insert(struct zsl *l, double s, const struct bel *e)
{
    struct zsl_node *upd[ZSL_MAX_LEVEL], *x = l->head;
    size_t rank[ZSL_MAX_LEVEL];
    for (int i = l->level - 1; i >= 0; i--) {
        rank[i] = i == l->level - 1 ? 0 : rank[i + 1];
        while (x->lv[i].fwd != NULL && bel_cmp(x->lv[i].fwd->score, x->lv[i].fwd->elem, s, e) < 0) {
            rank[i] += x->lv[i].span;
            x = x->lv[i].fwd;
        }
        upd[i] = x;
    }
    int level = zsl_level(l);
    if (level > l->level) {
        for (int i = l->level; i < level; i++) {
            rank[i] = 0;
            upd[i] = l->head;
            upd[i]->lv[i].span = l->count;
        }
        l->level = level;
    }
    x = zsl_node_new(l, level);
    x->elem = e;
    x->score = s;
    for (int i = 0; i < level; i++) {
        x->lv[i].fwd = upd[i]->lv[i].fwd;
        upd[i]->lv[i].fwd = x;
        x->lv[i].span = upd[i]->lv[i].span - (rank[0] - rank[i]);
        upd[i]->lv[i].span = rank[0] - rank[i] + 1;
    }
    for (int i = level; i < l->level; i++)
        upd[i]->lv[i].span++;
    x->back = upd[0] == l->head ? NULL : upd[0];
    if (x->lv[0].fwd != NULL)
        x->lv[0].fwd->back = x;
    l->count++;
}

static void zsl_delete(struct zsl *l, double s, const struct bel *e)
{
    struct zsl_node *upd[ZSL_MAX_LEVEL], *x = l->head;
    for (int i = l->level - 1; i >= 0; i--) {
        while (x->lv[i].fwd != NULL && bel_cmp(x->lv[i].fwd->score, x->lv[i].fwd->elem, s, e) < 0)
            x = x->lv[i].fwd;
        upd[i] = x;
    }
    x = x->lv[0].fwd;
    if (x == NULL || x->elem != e)
        abort();
    for (int i = 0; i < l->level; i++) {
        if (upd[i]->lv[i].fwd == x) {
            upd[i]->lv[i].span += x->lv[i].span - 1;
            upd[i]->lv[i].fwd = x->lv[i].fwd;
        } else {
            upd[i]->lv[i].span--;
        }
    }
    if (x->lv[0].fwd != NULL)
        x->lv[0].fwd->back = x->back;
    while (l->level > 1 && l->head->lv[l->level - 1].fwd == NULL)
        l->level--;
    l->count--;
    mem_free(x);
}

static size_t zsl_rank(const struct zsl *l, double s, const struct bel *e)
{
    const struct zsl_node *x = l->head;
    size_t rank = 0;
    for (int i = l->level - 1; i >= 0; i--) {
        while (x->lv[i].fwd != NULL &&
               bel_cmp(x->lv[i].fwd->score, x->lv[i].fwd->elem, s, e) <= 0) {
            rank += x->lv[i].span;
            x = x->lv[i].fwd;
        }
        if (x->elem == e)
            return rank - 1;
    }
    abort();
}

static const struct bel *zsl_at(const struct zsl *l, size_t r)
{
    const struct zsl_node *x = l->head;
    size_t passed = 0;
    r++;
    for (int i = l->level - 1; i >= 0; i--) {
        while (x->lv[i].fwd != NULL && passed + x->lv[i].span <= r) {
            passed += x->lv[i].span;
            x = x->lv[i].fwd;
        }
        if (passed == r)
            return x->elem;
    }
    return NULL;
}

/* ---- the two structures behind one set of benchmarks ---- */

enum which { ZI, ZSL };

struct sset {
    enum which w;
    struct zindex zi;
    struct zsl zsl;
};

static void sset_init(struct sset *s, enum which w)
{
    s->w = w;
    if (w == ZI)
        zindex_init(&s->zi, bel_member, NULL);
    else
        zsl_init(&s->zsl);
}

static void sset_deinit(struct sset *s)
{
    if (s->w == ZI)
        zindex_deinit(&s->zi);
    else
        zsl_deinit(&s->zsl);
}

static inline void sset_insert(struct sset *s, const struct bel *e)
{
    if (s->w == ZI) {
        if (zindex_insert(&s->zi, e->score, e) != 0)
            abort();
    } else {
        zsl_insert(&s->zsl, e->score, e);
    }
}

static inline void sset_delete(struct sset *s, const struct bel *e)
{
    if (s->w == ZI) {
        if (zindex_delete(&s->zi, e->score, e) != 0)
            abort();
    } else {
        zsl_delete(&s->zsl, e->score, e);
    }
}

static inline size_t sset_rank(const struct sset *s, const struct bel *e)
{
    size_t r = 0;
    if (s->w == ZSL)
        return zsl_rank(&s->zsl, e->score, e);
    if (zindex_rank(&s->zi, e->score, e, &r) != 0)
        abort();
    return r;
}

static inline const void *sset_at(const struct sset *s, size_t r)
{
    return s->w == ZI ? zindex_at(&s->zi, r, NULL) : (const void *)zsl_at(&s->zsl, r);
}

static size_t sset_bytes(const struct sset *s)
{
    return s->w == ZI ? zindex_bytes(&s->zi) : s->zsl.bytes;
}

/* Build n elements in random order; report the index's bytes per element. */
static void sset_build(struct bench_state *st, struct sset *s, struct fixture *f, enum which w)
{
    fixture_init(f, (size_t)bench_arg(st, 0));
    sset_init(s, w);
    for (size_t i = 0; i < f->n; i++)
        sset_insert(s, &f->el[f->order[i]]);
    bench_counter(st, "bytes_per_elem", (double)sset_bytes(s) / (double)f->n, BENCH_COUNTER_VALUE);
}

static void sset_teardown(struct bench_state *st, struct sset *s, struct fixture *f)
{
    bench_set_items(st, bench_iterations(st));
    sset_deinit(s);
    fixture_deinit(f);
}

static inline void sset_op(struct sset *s, const struct bel *e, bool insert)
{
    if (insert)
        sset_insert(s, e);
    else
        sset_delete(s, e);
}

/*
 * One insert (delete) per iteration into a set of n (n + EXTRA): every EXTRA operations the
 * EXTRA elements are deleted (put back), untimed.
 */
static void run_churn(struct bench_state *st, enum which w, bool insert)
{
    struct sset s;
    struct fixture f;
    sset_build(st, &s, &f, w);
    for (size_t k = 0; !insert && k < EXTRA; k++)
        sset_insert(&s, &f.el[f.n + k]);
    size_t k = 0;
    while (bench_keep_running(st)) {
        sset_op(&s, &f.el[f.n + k], insert);
        if (++k == EXTRA) {
            bench_pause(st);
            for (k = 0; k < EXTRA; k++)
                sset_op(&s, &f.el[f.n + k], !insert);
            k = 0;
            bench_resume(st);
        }
    }
    sset_teardown(st, &s, &f);
}

static void run_insert(struct bench_state *st, enum which w)
{
    run_churn(st, w, true);
}

static void run_delete(struct bench_state *st, enum which w)
{
    run_churn(st, w, false);
}

/* ZRANK of an element picked in random order. */
static void run_rank(struct bench_state *st, enum which w)
{
    struct sset s;
    struct fixture f;
    sset_build(st, &s, &f, w);
    size_t k = 0, sum = 0;
    while (bench_keep_running(st)) {
        sum += sset_rank(&s, &f.el[f.order[k]]);
        if (++k == f.n)
            k = 0;
    }
    BENCH_KEEP(sum);
    sset_teardown(st, &s, &f);
}

/* The element at a random rank (ZRANGE's start, ZRANDMEMBER). */
static void run_at(struct bench_state *st, enum which w)
{
    struct sset s;
    struct fixture f;
    sset_build(st, &s, &f, w);
    size_t k = 0;
    while (bench_keep_running(st)) {
        const void *e = sset_at(&s, f.order[k]);
        BENCH_KEEP(e);
        if (++k == f.n)
            k = 0;
    }
    sset_teardown(st, &s, &f);
}

#define ZBENCH(name_, fn_, which_)                                                                 \
    BENCH_DEFINE(name_, BENCH_ARGLIST(1000, 1000000), .arg_name = "elements")                      \
    {                                                                                              \
        fn_(st, which_);                                                                           \
    }

ZBENCH(zindex_insert, run_insert, ZI)
ZBENCH(zindex_delete, run_delete, ZI)
ZBENCH(zindex_rank, run_rank, ZI)
ZBENCH(zindex_at, run_at, ZI)
ZBENCH(zindex_skiplist_insert, run_insert, ZSL)
ZBENCH(zindex_skiplist_delete, run_delete, ZSL)
ZBENCH(zindex_skiplist_rank, run_rank, ZSL)
ZBENCH(zindex_skiplist_at, run_at, ZSL)
