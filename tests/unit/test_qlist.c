/*
 * The chunked list (dataplane/types/qlist.h): every operation, at random, against a plain
 * array of strings, under node limits from 1 element / 64 bytes (a node per element or
 * two) to the defaults; frozen views checked against a copy of the array taken at freeze
 * time while the list keeps changing (copy-on-write); merging of small nodes; memory
 * accounting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "types/qlist.h"

/* ---- the reference model: an array of strings ---- */

struct str {
    char *s;
    size_t len;
};

struct model {
    struct str *v;
    size_t n, cap;
};

static void model_insert(struct model *m, size_t at, const char *s, size_t len)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->v = realloc(m->v, m->cap * sizeof(*m->v));
        assert_non_null(m->v);
    }
    memmove(m->v + at + 1, m->v + at, (m->n - at) * sizeof(*m->v));
    m->v[at].s = malloc(len + 1);
    assert_non_null(m->v[at].s);
    memcpy(m->v[at].s, s, len);
    m->v[at].s[len] = 0;
    m->v[at].len = len;
    m->n++;
}

static void model_delete(struct model *m, size_t at, size_t cnt)
{
    for (size_t i = at; i < at + cnt; i++)
        free(m->v[i].s);
    memmove(m->v + at, m->v + at + cnt, (m->n - at - cnt) * sizeof(*m->v));
    m->n -= cnt;
}

static void model_copy(struct model *dst, const struct model *src)
{
    memset(dst, 0, sizeof(*dst));
    for (size_t i = 0; i < src->n; i++)
        model_insert(dst, i, src->v[i].s, src->v[i].len);
}

static void model_free(struct model *m)
{
    model_delete(m, 0, m->n);
    free(m->v);
    memset(m, 0, sizeof(*m));
}

/* ---- values: small and large integers, canonical or not, short and long strings ---- */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

/* A random value into buf (at least 600 bytes); returns its length. */
static size_t rand_value(char *buf)
{
    switch (rnd(8)) {
    case 0:
        return (size_t)sprintf(buf, "%u", rnd(200));
    case 1:
        return (size_t)sprintf(buf, "%d", (int)rnd(100000) - 50000);
    case 2:
        return (size_t)sprintf(buf, "0%u", rnd(20)); /* not canonical: stays a string */
    case 3:
        return (size_t)sprintf(buf, "%lld", (long long)rng_state);
    case 4: {
        size_t len = 20 + rnd(200);
        memset(buf, 'a' + (int)rnd(26), len);
        return len;
    }
    case 6:
        if (rnd(3) == 0) { /* random bytes: a node of these does not compress */
            size_t len = 30 + rnd(200);
            for (size_t i = 0; i < len; i++)
                buf[i] = (char)rnd(256);
            return len;
        }
        /* fall through */
    case 5:
        if (rnd(4) == 0) {
            size_t len = 300 + rnd(300); /* larger than the tiny node limits */
            memset(buf, 'L', len);
            len += (size_t)sprintf(buf + len, "%u", rnd(1000));
            return len;
        }
        /* fall through */
    default:
        return (size_t)sprintf(buf, "v%u", rnd(50));
    }
}

/* A copy of n bytes (values may hold NULs: not strndup). */
static char *dup_bytes(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static struct pack_elem as_elem(const char *s, size_t len)
{
    return (struct pack_elem){ .kind = PACK_STR, .s = (const unsigned char *)s, .len = len };
}

static void assert_elem(const struct pack_elem *e, const struct str *want)
{
    char buf[PACK_TEXT_BUF];
    const unsigned char *t;
    size_t len = pack_elem_text(e, buf, &t);
    assert_int_equal(len, want->len);
    assert_memory_equal(t, want->s, len);
}

/* The whole list walked forward and backward, and by index at a few places. */
static void assert_same(struct qlist *l, const struct model *m)
{
    assert_true(qlist_check(l));
    assert_int_equal(qlist_len(l), m->n);
    struct qlist_iter it;
    struct pack_elem e;
    size_t i = 0;
    qlist_iter_init(&it, l, 0, true);
    while (qlist_iter_next(&it, &e))
        assert_elem(&e, &m->v[i++]);
    assert_int_equal(i, m->n);
    qlist_iter_init(&it, l, -1, false);
    while (qlist_iter_next(&it, &e))
        assert_elem(&e, &m->v[--i]);
    assert_int_equal(i, 0);
    for (int k = 0; k < 4 && m->n > 0; k++) {
        size_t at = rnd((uint32_t)m->n);
        assert_true(qlist_index(l, (int64_t)at, &e));
        assert_elem(&e, &m->v[at]);
        assert_true(qlist_index(l, (int64_t)at - (int64_t)m->n, &e));
        assert_elem(&e, &m->v[at]);
    }
    assert_false(qlist_index(l, (int64_t)m->n, &e));
    assert_false(qlist_index(l, -(int64_t)m->n - 1, &e));
}

/* The view yields exactly the model's elements, node by node. */
static void assert_view(const struct qlist_view *v, const struct model *m)
{
    assert_int_equal(qlist_view_len(v), m->n);
    size_t i = 0;
    for (uint32_t k = 0; k < qlist_view_nodes(v); k++) {
        const unsigned char *p = qlist_view_pack(v, k);
        assert_true(pack_count(p) > 0);
        for (uint32_t off = pack_first(p); off != 0; off = pack_next(p, off)) {
            struct pack_elem e;
            pack_get(p, off, &e);
            assert_true(i < m->n);
            assert_elem(&e, &m->v[i++]);
        }
    }
    assert_int_equal(i, m->n);
}

/* ---- one random operation, applied to both ---- */

static size_t rand_index(const struct model *m, int64_t *idx)
{
    size_t at = rnd((uint32_t)m->n);
    *idx = rnd(2) ? (int64_t)at : (int64_t)at - (int64_t)m->n;
    return at;
}

/* LREM: remove up to `limit` elements equal to the value (0: all), from the head or tail. */
static void op_rem(struct qlist *l, struct model *m, const char *val, size_t vlen, bool fwd,
                   int limit)
{
    struct pack_needle nd;
    pack_needle_str(&nd, val, vlen);
    struct qlist_iter it;
    struct pack_elem e;
    int removed = 0;
    qlist_iter_init(&it, l, fwd ? 0 : -1, fwd);
    while ((limit == 0 || removed < limit) && qlist_iter_next(&it, &e))
        if (qlist_iter_eq(&it, &nd)) {
            qlist_iter_del(&it);
            removed++;
        }
    qlist_iter_done(&it);
    int mremoved = 0;
    if (fwd) {
        for (size_t i = 0; i < m->n && (limit == 0 || mremoved < limit);)
            if (m->v[i].len == vlen && memcmp(m->v[i].s, val, vlen) == 0) {
                model_delete(m, i, 1);
                mremoved++;
            } else {
                i++;
            }
    } else {
        for (size_t i = m->n; i > 0 && (limit == 0 || mremoved < limit); i--)
            if (m->v[i - 1].len == vlen && memcmp(m->v[i - 1].s, val, vlen) == 0) {
                model_delete(m, i - 1, 1);
                mremoved++;
            }
    }
    assert_int_equal(removed, mremoved);
}

/* LINSERT: before or after the first element equal to the pivot. */
static void op_insert(struct qlist *l, struct model *m, const struct str *pivot, bool after,
                      const char *val, size_t vlen)
{
    struct pack_needle nd;
    pack_needle_str(&nd, pivot->s, pivot->len);
    struct qlist_iter it;
    struct pack_elem e;
    size_t pos = 0;
    bool found = false;
    qlist_iter_init(&it, l, 0, true);
    while (qlist_iter_next(&it, &e)) {
        if (qlist_iter_eq(&it, &nd)) {
            struct pack_elem ne = as_elem(val, vlen);
            assert_int_equal(qlist_iter_insert(&it, after, &ne), 0);
            found = true;
            break;
        }
        pos++;
    }
    qlist_iter_done(&it);
    assert_false(qlist_iter_next(&it, &e));
    size_t mpos = 0;
    while (mpos < m->n &&
           !(m->v[mpos].len == pivot->len && memcmp(m->v[mpos].s, pivot->s, pivot->len) == 0))
        mpos++;
    assert_int_equal(found, mpos < m->n);
    if (found) {
        assert_int_equal(pos, mpos);
        model_insert(m, mpos + (after ? 1 : 0), val, vlen);
    }
}

static void random_op(struct qlist *l, struct model *m)
{
    char buf[640];
    size_t len = rand_value(buf);
    struct pack_elem e = as_elem(buf, len), got;
    int64_t idx;
    size_t at;
    unsigned op = rnd(m->n < 8 ? 4 : 14);
    switch (op) {
    case 0:
    case 1:
    case 2: { /* LPUSH / RPUSH, sometimes a run of them */
        bool head = rnd(2);
        int times = rnd(8) == 0 ? 1 + (int)rnd(40) : 1;
        for (int t = 0; t < times; t++) {
            len = rand_value(buf);
            e = as_elem(buf, len);
            assert_int_equal(qlist_push(l, head, &e), 0);
            model_insert(m, head ? 0 : m->n, buf, len);
        }
        break;
    }
    case 3: /* LPOP / RPOP */
    case 4: {
        bool head = rnd(2);
        if (m->n == 0) {
            assert_false(qlist_pop(l, head));
            break;
        }
        assert_true(qlist_index(l, head ? 0 : -1, &got));
        assert_elem(&got, &m->v[head ? 0 : m->n - 1]);
        assert_true(qlist_pop(l, head));
        model_delete(m, head ? 0 : m->n - 1, 1);
        break;
    }
    case 5: /* LINDEX */
        at = rand_index(m, &idx);
        assert_true(qlist_index(l, idx, &got));
        assert_elem(&got, &m->v[at]);
        break;
    case 6: /* LSET */
        at = rand_index(m, &idx);
        assert_int_equal(qlist_replace(l, idx, &e), 0);
        model_delete(m, at, 1);
        model_insert(m, at, buf, len);
        break;
    case 7: { /* a range removed (LTRIM's cuts) */
        at = rand_index(m, &idx);
        size_t n = rnd(4) == 0 ? rnd((uint32_t)m->n + 1) : rnd(6);
        size_t want = n < m->n - at ? n : m->n - at;
        assert_int_equal(qlist_del_range(l, idx, n), want);
        model_delete(m, at, want);
        break;
    }
    case 8: { /* LRANGE from an index, either way, some steps */
        at = rand_index(m, &idx);
        bool fwd = rnd(2);
        struct qlist_iter it;
        qlist_iter_init(&it, l, idx, fwd);
        for (size_t k = 0; k < 50; k++) {
            if (!qlist_iter_next(&it, &got)) {
                assert_int_equal(fwd ? at + k : k, fwd ? m->n : at + 1);
                break;
            }
            assert_elem(&got, &m->v[fwd ? at + k : at - k]);
        }
        break;
    }
    case 9: /* LREM of a value in the list */
    case 10: {
        struct str v = m->v[rnd((uint32_t)m->n)];
        char *copy = dup_bytes(v.s, v.len);
        op_rem(l, m, copy, v.len, rnd(2), (int)rnd(3));
        free(copy);
        break;
    }
    case 11: /* LINSERT, a pivot in the list or not */
    case 12: {
        struct str pivot = m->v[rnd((uint32_t)m->n)];
        char *copy = dup_bytes(pivot.s, pivot.len);
        struct str p = { copy, pivot.len };
        if (rnd(8) == 0)
            p = (struct str){ copy, 0 };
        op_insert(l, m, &p, rnd(2), buf, len);
        free(copy);
        break;
    }
    default: { /* LPOS: the first match walking from either end */
        struct str v = m->v[rnd((uint32_t)m->n)];
        struct pack_needle nd;
        pack_needle_str(&nd, v.s, v.len);
        bool fwd = rnd(2);
        struct qlist_iter it;
        qlist_iter_init(&it, l, fwd ? 0 : -1, fwd);
        size_t k = 0;
        while (qlist_iter_next(&it, &got) && !qlist_iter_eq(&it, &nd))
            k++;
        size_t pos = fwd ? k : m->n - 1 - k;
        assert_true(pos < m->n);
        assert_int_equal(m->v[pos].len, v.len);
        assert_memory_equal(m->v[pos].s, v.s, v.len);
        break;
    }
    }
}

/* Node limits exercised: element counts, byte sizes, and the Redis settings; and
 * list-compress-depth. */
struct limits {
    uint32_t count, bytes;
    int fill; /* used when count == 0 */
    int depth;
};

static const struct limits LIMITS[] = {
    { 1, 8192, 0, 0 },    { 2, 8192, 0, 0 }, { 3, 8192, 0, 0 }, { 65535, 64, 0, 0 },
    { 65535, 128, 0, 0 }, { 0, 0, 5, 0 },    { 0, 0, 128, 0 },  { 0, 0, -1, 0 },
    { 0, 0, -2, 0 },      { 1, 8192, 0, 1 }, { 3, 8192, 0, 2 }, { 65535, 128, 0, 1 },
    { 0, 0, 5, 3 },       { 0, 0, 128, 1 },  { 0, 0, -1, 1 },   { 0, 0, -2, 2 },
};

static struct qlist *make(const struct limits *lim)
{
    struct qlist *l =
        lim->count ? qlist_create_limits(lim->count, lim->bytes) : qlist_create(lim->fill);
    qlist_set_depth(l, lim->depth);
    return l;
}

static void random_vs_model(void **state)
{
    (void)state;
    for (size_t li = 0; li < sizeof(LIMITS) / sizeof(LIMITS[0]); li++) {
        rng_state = 0x9E3779B97F4A7C15ull + li;
        struct qlist *l = make(&LIMITS[li]);
        struct model m = { 0 };
        /* start long, so the byte limits (4 and 8 KB) also see many nodes */
        char buf[640];
        for (int i = 0; i < 2000; i++) {
            size_t len = rand_value(buf);
            struct pack_elem e = as_elem(buf, len);
            assert_int_equal(qlist_push(l, false, &e), 0);
            model_insert(&m, m.n, buf, len);
        }
        assert_same(l, &m);
        for (int step = 0; step < 4000; step++) {
            random_op(l, &m);
            if (step % 16 == 0)
                assert_same(l, &m);
            else
                assert_true(qlist_check(l));
        }
        assert_same(l, &m);
        qlist_destroy(l);
        model_free(&m);
    }
}

/*
 * Frozen views: up to three views live at once, each checked against the model as it was
 * at its freeze, at random moments and at release, while random writes go on; then the live
 * list against the model.
 */
static void freeze_copy_on_write(void **state)
{
    (void)state;
    for (size_t li = 0; li < sizeof(LIMITS) / sizeof(LIMITS[0]); li++) {
        rng_state = 0x1234567ull + li * 77;
        struct qlist *l = make(&LIMITS[li]);
        struct model m = { 0 };
        struct qlist_view *views[3] = { 0 };
        struct model frozen[3] = { 0 };
        for (int step = 0; step < 3000; step++) {
            unsigned k = rnd(3);
            if (rnd(40) == 0) {
                if (views[k] != NULL) {
                    assert_view(views[k], &frozen[k]);
                    qlist_view_release(views[k]);
                    model_free(&frozen[k]);
                }
                views[k] = qlist_freeze(l);
                model_copy(&frozen[k], &m);
                assert_int_equal(qlist_view_nodes(views[k]), qlist_nodes(l));
                assert_true(qlist_view_bytes(views[k]) > 0);
            }
            random_op(l, &m);
            assert_true(qlist_check(l));
            if (views[k] != NULL && rnd(10) == 0)
                assert_view(views[k], &frozen[k]);
        }
        for (unsigned k = 0; k < 3; k++) {
            if (views[k] != NULL) {
                assert_view(views[k], &frozen[k]);
                qlist_view_release(views[k]);
            }
            model_free(&frozen[k]);
        }
        assert_same(l, &m);
        /* a view outlives the list */
        struct qlist_view *v = qlist_freeze(l);
        model_copy(&frozen[0], &m);
        qlist_destroy(l);
        assert_view(v, &frozen[0]);
        qlist_view_release(v);
        model_free(&frozen[0]);
        model_free(&m);
    }
}

/*
 * list-compress-depth: the inner nodes take less memory, the end nodes stay packs, every
 * read and write gives what an uncompressed list gives, and a node that does not shrink
 * stays a pack.
 */
static void compressed_nodes(void **state)
{
    (void)state;
    for (int depth = 1; depth <= 3; depth++) {
        struct qlist *plain = qlist_create(QLIST_FILL_DEFAULT);
        struct qlist *l = qlist_create(QLIST_FILL_DEFAULT);
        qlist_set_depth(l, depth);
        assert_int_equal(qlist_depth(l), depth);
        char buf[64];
        for (int i = 0; i < 20000; i++) {
            struct pack_elem e = as_elem(buf, (size_t)sprintf(buf, "item:%d", i));
            assert_int_equal(qlist_push(l, i % 2 == 0, &e), 0);
            assert_int_equal(qlist_push(plain, i % 2 == 0, &e), 0);
        }
        assert_true(qlist_check(l));
        assert_int_equal(qlist_nodes(l), qlist_nodes(plain));
        assert_true(qlist_nodes(l) > 2 * (uint32_t)depth + 4);
        /* "item:N" packs compress to well under half */
        assert_true(qlist_bytes(l) < qlist_bytes(plain) * 6 / 10);
        /* reads everywhere: one by one, and a walk across every node both ways */
        struct pack_elem a, b;
        for (int64_t i = 0; i < 20000; i += 7) {
            assert_true(qlist_index(l, i, &a));
            assert_true(qlist_index(plain, i, &b));
            assert_int_equal(a.len, b.len);
            assert_memory_equal(a.s, b.s, a.len);
        }
        for (int fwd = 0; fwd < 2; fwd++) {
            struct qlist_iter ia, ib;
            qlist_iter_init(&ia, l, fwd ? 0 : -1, fwd);
            qlist_iter_init(&ib, plain, fwd ? 0 : -1, fwd);
            size_t n = 0;
            while (qlist_iter_next(&ia, &a)) {
                assert_true(qlist_iter_next(&ib, &b));
                assert_int_equal(a.len, b.len);
                assert_memory_equal(a.s, b.s, a.len);
                n++;
            }
            assert_int_equal(n, 20000);
        }
        /* a frozen view reads compressed nodes as their packs; a write leaves the view be */
        struct qlist_view *v = qlist_freeze(l), *pv = qlist_freeze(plain);
        struct pack_elem e = as_elem("x", 1);
        assert_int_equal(qlist_replace(l, 10000, &e), 0);
        assert_int_equal(qlist_replace(plain, 10000, &e), 0);
        for (uint32_t i = 0; i < qlist_view_nodes(v); i++) {
            const unsigned char *p = qlist_view_pack(v, i);
            uint32_t bytes = pack_bytes(p);
            unsigned char *copy = malloc(bytes);
            memcpy(copy, p, bytes);
            assert_memory_equal(copy, qlist_view_pack(pv, i), bytes);
            free(copy);
        }
        qlist_view_release(v);
        qlist_view_release(pv);
        assert_true(qlist_check(l));
        /* middle writes, then pops from both ends down to nothing */
        assert_int_equal(qlist_del_range(l, 5000, 3000), 3000);
        assert_int_equal(qlist_del_range(plain, 5000, 3000), 3000);
        assert_true(qlist_check(l));
        while (qlist_len(plain) > 0) {
            bool head = qlist_len(plain) % 3 == 0;
            assert_true(qlist_index(l, head ? 0 : -1, &a));
            assert_true(qlist_index(plain, head ? 0 : -1, &b));
            assert_int_equal(a.len, b.len);
            assert_memory_equal(a.s, b.s, a.len);
            assert_true(qlist_pop(l, head));
            assert_true(qlist_pop(plain, head));
            if (qlist_len(plain) % 512 == 0)
                assert_true(qlist_check(l));
        }
        assert_int_equal(qlist_len(l), 0);
        assert_true(qlist_check(l));
        qlist_destroy(l);
        qlist_destroy(plain);
    }
    /* random bytes do not compress: the nodes stay packs, and the list costs the same */
    rng_state = 99;
    struct qlist *plain = qlist_create(QLIST_FILL_DEFAULT), *l = qlist_create(QLIST_FILL_DEFAULT);
    qlist_set_depth(l, 1);
    char buf[100];
    for (int i = 0; i < 5000; i++) {
        for (size_t k = 0; k < sizeof(buf); k++)
            buf[k] = (char)rnd(256);
        struct pack_elem e = as_elem(buf, sizeof(buf));
        assert_int_equal(qlist_push(l, false, &e), 0);
        assert_int_equal(qlist_push(plain, false, &e), 0);
    }
    assert_true(qlist_check(l));
    assert_int_equal(qlist_bytes(l), qlist_bytes(plain));
    qlist_destroy(l);
    qlist_destroy(plain);
}

/* Every node of a freshly frozen list is shared; one write copies exactly one node. */
static void write_copies_one_node(void **state)
{
    (void)state;
    struct qlist *l = qlist_create_limits(4, 8192);
    for (int i = 0; i < 40; i++) {
        struct pack_elem e = { .kind = PACK_INT, .i = i };
        assert_int_equal(qlist_push(l, false, &e), 0);
    }
    assert_int_equal(qlist_nodes(l), 10);
    size_t before = qlist_bytes(l);
    struct qlist_view *v = qlist_freeze(l);
    assert_int_equal(qlist_bytes(l), before);            /* the view's array counts in the view */
    struct pack_elem e = { .kind = PACK_INT, .i = 100 }; /* 17's size: one byte */
    assert_int_equal(qlist_replace(l, 17, &e), 0);
    assert_int_equal(qlist_bytes(l), before); /* one node swapped for its copy */
    const unsigned char *p = qlist_view_pack(v, 4);
    struct pack_elem got;
    pack_get(p, pack_seek(p, 1), &got);
    assert_int_equal(got.kind, PACK_INT);
    assert_int_equal(got.i, 17);
    assert_true(qlist_index(l, 17, &got));
    assert_int_equal(got.i, 100);
    qlist_view_release(v);
    assert_true(qlist_check(l));
    qlist_destroy(l);
}

/*
 * Freed in steps (lazy free): the last k nodes' bytes are what freeing them takes off the
 * list, and a view taken before keeps every node it shares readable to the end.
 */
static void freed_from_the_tail(void **state)
{
    (void)state;
    struct qlist *l = qlist_create_limits(4, 8192);
    for (int i = 0; i < 40; i++) {
        struct pack_elem e = { .kind = PACK_INT, .i = i };
        assert_int_equal(qlist_push(l, false, &e), 0);
    }
    struct qlist_view *v = qlist_freeze(l);
    assert_int_equal(qlist_tail_bytes(l, 0), 0);
    assert_int_equal(qlist_tail_bytes(l, 100), qlist_tail_bytes(l, 10));
    while (qlist_nodes(l) > 0) {
        uint32_t k = qlist_nodes(l) >= 3 ? 3 : qlist_nodes(l);
        size_t before = qlist_bytes(l), tail = qlist_tail_bytes(l, k);
        assert_true(tail > 0);
        qlist_free_tail(l, k);
        assert_int_equal(qlist_bytes(l), before - tail);
    }
    qlist_destroy(l);
    const unsigned char *p = qlist_view_pack(v, 9);
    struct pack_elem got;
    pack_get(p, pack_seek(p, 3), &got);
    assert_int_equal(got.i, 39);
    qlist_view_release(v);
}

/* Adjacent nodes (seen through a view) never fit into one after removals settle. */
static void assert_no_mergeable(struct qlist *l, uint32_t max_count, uint32_t max_pack)
{
    struct qlist_view *v = qlist_freeze(l);
    for (uint32_t k = 0; k + 1 < qlist_view_nodes(v); k++) {
        const unsigned char *a = qlist_view_pack(v, k), *b = qlist_view_pack(v, k + 1);
        bool fit = pack_count(a) + pack_count(b) <= max_count &&
                   pack_bytes(a) + pack_bytes(b) - PACK_HDR_WIDE <= max_pack;
        assert_false(fit);
    }
    qlist_view_release(v);
}

/* A list that shrinks by LREM, LTRIM and pops merges its nodes back. */
static void shrinking_list_merges(void **state)
{
    (void)state;
    struct qlist *l = qlist_create_limits(4, 8192);
    for (int i = 0; i < 4000; i++) {
        struct pack_elem e = { .kind = PACK_INT, .i = i % 10 };
        assert_int_equal(qlist_push(l, false, &e), 0);
    }
    assert_int_equal(qlist_nodes(l), 1000);
    struct pack_needle nd;
    for (int val = 0; val < 9; val++) {
        pack_needle_int(&nd, val);
        struct qlist_iter it;
        struct pack_elem e;
        qlist_iter_init(&it, l, 0, true);
        while (qlist_iter_next(&it, &e))
            if (qlist_iter_eq(&it, &nd))
                qlist_iter_del(&it);
        qlist_iter_done(&it);
        assert_true(qlist_check(l));
        assert_no_mergeable(l, 4, 8192);
    }
    assert_int_equal(qlist_len(l), 400);
    assert_int_equal(qlist_nodes(l), 100);
    /* LTRIM 10 -29: 20 left */
    assert_int_equal(qlist_del_range(l, 0, 10), 10);
    assert_int_equal(qlist_del_range(l, 20, 1000), 370);
    assert_int_equal(qlist_len(l), 20);
    assert_true(qlist_check(l));
    assert_no_mergeable(l, 4, 8192);
    while (qlist_pop(l, true))
        assert_true(qlist_check(l));
    assert_int_equal(qlist_nodes(l), 0);
    qlist_destroy(l);
}

/* Elements a pack cannot hold are refused; out-of-range indexes are reported. */
static void refusals(void **state)
{
    (void)state;
    struct qlist *l = qlist_create(QLIST_FILL_DEFAULT);
    struct pack_elem nan = { .kind = PACK_DBL, .d = __builtin_nan("") };
    struct pack_elem one = { .kind = PACK_INT, .i = 1 };
    assert_int_equal(qlist_push(l, true, &nan), -EINVAL);
    /* over QLIST_MAX_ELEM: refused before a byte of it is read */
    struct pack_elem huge = { .kind = PACK_STR,
                              .s = (const unsigned char *)"x",
                              .len = (size_t)QLIST_MAX_ELEM + 1 };
    assert_int_equal(qlist_push(l, false, &huge), -EINVAL);
    assert_int_equal(qlist_replace(l, 0, &one), -ERANGE);
    assert_int_equal(qlist_push(l, true, &one), 0);
    assert_int_equal(qlist_replace(l, 0, &nan), -EINVAL);
    assert_int_equal(qlist_replace(l, 0, &huge), -EINVAL);
    assert_int_equal(qlist_replace(l, 1, &one), -ERANGE);
    assert_int_equal(qlist_replace(l, -2, &one), -ERANGE);
    assert_int_equal(qlist_del_range(l, 1, 5), 0);
    assert_int_equal(qlist_len(l), 1);
    qlist_destroy(l);
}

/* Node sizes follow list-max-listpack-size: -2 keeps each node within 8 KB. */
static void fill_limits(void **state)
{
    (void)state;
    static const int fills[] = { -1, -2, -5, 1, 7 };
    for (size_t f = 0; f < sizeof(fills) / sizeof(fills[0]); f++) {
        struct qlist *l = qlist_create(fills[f]);
        char buf[32];
        for (int i = 0; i < 20000; i++) {
            int len = snprintf(buf, sizeof(buf), "item:%d", i);
            struct pack_elem e = as_elem(buf, (size_t)len);
            assert_int_equal(qlist_push(l, i % 2, &e), 0);
        }
        struct qlist_view *v = qlist_freeze(l);
        size_t limit = fills[f] < 0 ? (4096u << (-fills[f] - 1)) : QLIST_SAFETY_BYTES;
        for (uint32_t k = 0; k < qlist_view_nodes(v); k++) {
            const unsigned char *p = qlist_view_pack(v, k);
            assert_true(pack_bytes(p) < limit);
            if (fills[f] > 0)
                assert_true(pack_count(p) <= (uint32_t)fills[f]);
        }
        if (fills[f] < 0) /* nodes are filled: a new one only when the end one is full */
            assert_true(qlist_view_nodes(v) <= 20000 * 13 / (limit - 64) + 2);
        else
            assert_true(qlist_view_nodes(v) >= 20000 / (uint32_t)fills[f] &&
                        qlist_view_nodes(v) <= 20000 / (uint32_t)fills[f] + 2);
        qlist_view_release(v);
        assert_true(qlist_check(l));
        qlist_destroy(l);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_vs_model),       cmocka_unit_test(freeze_copy_on_write),
        cmocka_unit_test(write_copies_one_node), cmocka_unit_test(freed_from_the_tail),
        cmocka_unit_test(shrinking_list_merges), cmocka_unit_test(refusals),
        cmocka_unit_test(fill_limits),           cmocka_unit_test(compressed_nodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
