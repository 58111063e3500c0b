/*
 * The ordered index of big sorted sets (dataplane/types/zindex.h): random inserts, deletes and
 * score updates with many equal scores and members sharing prefixes, checked against a sorted
 * array after every few steps (count, walks both ways, rank of every element, element at every
 * rank, score and lex bounds); a 1M-element build whose memory accounting returns to 0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "types/zindex.h"

/* ---- elements and the reference model ---- */

struct el {
    unsigned char m[24];
    size_t len;
    double score;
    bool in;
};

static const unsigned char *el_member(void *ctx, const void *elem, size_t *len)
{
    (void)ctx;
    const struct el *e = elem;
    /* the index reads only elements it holds or is given: no stale separator survives */
    assert_true(e->in);
    *len = e->len;
    return e->m;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

/*
 * Member k: "" for 0, else "x" and k in decimal ("x1" < "x10" < "x100": shared prefixes, the
 * shorter first), every seventh with a NUL and a byte after it (memcmp, not strcmp).
 */
static void el_name(struct el *e, unsigned k)
{
    if (k == 0) {
        e->len = 0;
        return;
    }
    int n = snprintf((char *)e->m, sizeof(e->m), "x%u", k);
    e->len = (size_t)n;
    if (k % 7 == 0) {
        e->m[e->len++] = 0;
        e->m[e->len++] = 'z';
    }
}

static int key_cmp(const struct el *a, const struct el *b)
{
    if (a->score != b->score)
        return a->score < b->score ? -1 : 1;
    int c = memcmp(a->m, b->m, a->len < b->len ? a->len : b->len);
    if (c != 0)
        return c;
    return a->len < b->len ? -1 : a->len > b->len;
}

static int key_qsort(const void *a, const void *b)
{
    return key_cmp(*(struct el *const *)a, *(struct el *const *)b);
}

static int mem_cmp(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen;
}

/* The elements in the index, sorted: the reference. */
static size_t model_build(struct el *pool, size_t n, struct el **out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (pool[i].in)
            out[k++] = &pool[i];
    qsort(out, k, sizeof(*out), key_qsort);
    return k;
}

static const double score_set[] = { -INFINITY, -2.0, 0.0, 1.5, 3.0, INFINITY };
#define NSCORES (sizeof(score_set) / sizeof(score_set[0]))

static double random_score(bool same)
{
    if (same)
        return 0.0;
    if (rnd() % 4 == 0)
        return (double)(rnd() % 50);
    return score_set[rnd() % NSCORES];
}

/* A score bound: one of the model's scores, a score between them, or an infinity. */
static double random_bound(struct el **model, size_t n)
{
    switch (rnd() % 4) {
    case 0:
        return rnd() % 2 ? -INFINITY : INFINITY;
    case 1:
        return (double)(rnd() % 60) - 5.5;
    default:
        return n > 0 ? model[rnd() % n]->score : 0.0;
    }
}

static void check_all(const struct zindex *z, struct el **model, size_t n, bool same)
{
    assert_int_equal(zindex_count(z), n);
    if (n == 0)
        assert_int_equal(zindex_bytes(z), 0);

    /* forward and backward walks without re-descending */
    struct zindex_cursor c;
    assert_int_equal(zindex_seek(z, 0, &c), n > 0);
    for (size_t i = 0; i < n; i++) {
        double s;
        const void *e = zindex_next(&c, &s);
        assert_ptr_equal(e, model[i]);
        assert_true(s == model[i]->score);
    }
    assert_null(zindex_next(&c, NULL));
    assert_int_equal(zindex_seek(z, n - 1, &c), n > 0);
    for (size_t i = n; i-- > 0;)
        assert_ptr_equal(zindex_prev(&c, NULL), model[i]);
    assert_null(zindex_prev(&c, NULL));
    assert_false(zindex_seek(z, n, &c));

    /* rank of every element, element at every rank, walks from a middle rank */
    for (size_t i = 0; i < n; i++) {
        size_t r = SIZE_MAX;
        assert_int_equal(zindex_rank(z, model[i]->score, model[i], &r), 0);
        assert_int_equal(r, i);
        double s;
        assert_ptr_equal(zindex_at(z, i, &s), model[i]);
        assert_true(s == model[i]->score);
    }
    assert_null(zindex_at(z, n, NULL));
    if (n > 0) {
        size_t mid = (size_t)(rnd() % n);
        assert_true(zindex_seek(z, mid, &c));
        for (size_t i = mid; i > 0 && i + 5 > mid; i--)
            assert_ptr_equal(zindex_prev(&c, NULL), model[i]);
    }

    /* score bounds */
    for (int t = 0; t < 40; t++) {
        double x = random_bound(model, n);
        bool excl = rnd() % 2;
        size_t want = 0;
        while (want < n && (excl ? model[want]->score <= x : model[want]->score < x))
            want++;
        assert_int_equal(zindex_score_rank(z, x, excl), want);
    }

    /* lex bounds: meaningful when every score is equal */
    if (same) {
        for (int t = 0; t < 40; t++) {
            struct el b;
            el_name(&b, (unsigned)(rnd() % 5000));
            if (rnd() % 3 == 0 && b.len > 1)
                b.len--; /* a prefix of members, not itself one */
            bool excl = rnd() % 2;
            size_t want = 0;
            while (want < n) {
                int cmp = mem_cmp(model[want]->m, model[want]->len, b.m, b.len);
                if (excl ? cmp > 0 : cmp >= 0)
                    break;
                want++;
            }
            assert_int_equal(zindex_lex_rank(z, b.m, b.len, excl), want);
        }
    }
}

/* 20k random steps over a pool of members; a full check every few steps. */
static void random_ops(bool same, size_t pool_n, size_t check_every)
{
    struct el *pool = calloc(pool_n, sizeof(*pool));
    struct el **model = calloc(pool_n, sizeof(*model));
    assert_non_null(pool);
    assert_non_null(model);
    for (size_t i = 0; i < pool_n; i++)
        el_name(&pool[i], (unsigned)i);
    struct zindex z;
    zindex_init(&z, el_member, NULL);

    for (int step = 0; step < 20000; step++) {
        /* bursts of inserts and deletes grow and shrink the tree through several heights */
        bool growing = (step / 3000) % 2 == 0;
        struct el *e = &pool[rnd() % pool_n];
        if (!e->in) {
            if (!growing && rnd() % 4 != 0) {
                struct el probe = *e;
                probe.in = true;
                assert_int_equal(zindex_delete(&z, probe.score, &probe), -ENOENT);
                continue;
            }
            e->score = random_score(same);
            e->in = true;
            assert_int_equal(zindex_insert(&z, e->score, e), 0);
        } else if (rnd() % 8 == 0) {
            /* the same member at the same score again; then a delete at a wrong score */
            struct el twin = *e;
            assert_int_equal(zindex_insert(&z, e->score, &twin), -EEXIST);
            assert_int_equal(zindex_insert(&z, e->score, e), -EEXIST);
            if (isfinite(e->score))
                assert_int_equal(zindex_delete(&z, e->score + 0.25, e), -ENOENT);
        } else if (!same && rnd() % 3 == 0) {
            double ns = random_score(same);
            assert_int_equal(zindex_update(&z, e->score, ns, e), 0);
            e->score = ns;
        } else if (!growing || rnd() % 3 == 0) {
            /* a copy with the same bytes finds it: the key is (score, member), not the pointer */
            struct el twin = *e;
            assert_int_equal(zindex_delete(&z, e->score, rnd() % 2 ? e : &twin), 0);
            e->in = false;
        }
        if (step % check_every == 0) {
            size_t n = model_build(pool, pool_n, model);
            check_all(&z, model, n, same);
        }
    }
    size_t n = model_build(pool, pool_n, model);
    check_all(&z, model, n, same);

    /* delete everything: the accounting returns to 0 */
    for (size_t i = 0; i < n; i++) {
        size_t k = (size_t)(rnd() % (n - i)); /* in random order */
        struct el *e = model[k];
        model[k] = model[n - i - 1];
        assert_int_equal(zindex_delete(&z, e->score, e), 0);
        e->in = false;
    }
    assert_int_equal(zindex_count(&z), 0);
    assert_int_equal(zindex_bytes(&z), 0);
    zindex_deinit(&z);
    free(model);
    free(pool);
}

static void random_scores(void **state)
{
    (void)state;
    random_ops(false, 3000, 250);
}

static void equal_scores_lex(void **state)
{
    (void)state;
    random_ops(true, 3000, 250);
}

/* A small pool checked after every step: every split, borrow and merge at the first levels. */
static void every_step_small(void **state)
{
    (void)state;
    random_ops(false, 120, 1);
}

static void empty_index(void **state)
{
    (void)state;
    struct zindex z;
    zindex_init(&z, el_member, NULL);
    struct el e = { .in = true };
    el_name(&e, 3);
    size_t r;
    assert_int_equal(zindex_rank(&z, 1.0, &e, &r), -ENOENT);
    assert_int_equal(zindex_delete(&z, 1.0, &e), -ENOENT);
    assert_null(zindex_at(&z, 0, NULL));
    assert_int_equal(zindex_score_rank(&z, -INFINITY, false), 0);
    assert_int_equal(zindex_lex_rank(&z, "a", 1, false), 0);
    assert_int_equal(zindex_bytes(&z), 0);
    zindex_deinit(&z);
}

/* 1M elements in random order, a sample of ranks checked, then freed: the bytes return to 0. */
static void million_build_teardown(void **state)
{
    (void)state;
    const size_t n = 1000000;
    struct el *pool = calloc(n, sizeof(*pool));
    uint32_t *order = malloc(n * sizeof(*order));
    assert_non_null(pool);
    assert_non_null(order);
    for (size_t i = 0; i < n; i++) {
        el_name(&pool[i], (unsigned)i);
        pool[i].score = (double)(i / 4); /* four members per score */
        pool[i].in = true;
        order[i] = (uint32_t)i;
    }
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)(rnd() % (i + 1));
        uint32_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    struct zindex z;
    zindex_init(&z, el_member, NULL);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(zindex_insert(&z, pool[order[i]].score, &pool[order[i]]), 0);
    assert_int_equal(zindex_count(&z), n);
    /* full leaves would be 18.3 bytes per element (plus inner nodes); random order leaves them
     * about 3/4 full */
    assert_true(zindex_bytes(&z) > 16 * n);
    assert_true(zindex_bytes(&z) < 30 * n); /* full leaves share with siblings before splitting */
    for (int t = 0; t < 2000; t++) {
        size_t k = (size_t)(rnd() % n);
        size_t r;
        assert_int_equal(zindex_rank(&z, pool[k].score, &pool[k], &r), 0);
        assert_ptr_equal(zindex_at(&z, r, NULL), &pool[k]);
        assert_int_equal(zindex_score_rank(&z, pool[k].score, false), (k / 4) * 4);
        assert_int_equal(zindex_score_rank(&z, pool[k].score, true), (k / 4) * 4 + 4);
    }
    /* half deleted one by one (borrows and merges at every level), the rest freed in steps
     * (lazy free): seven nodes a call, each call leaving fewer bytes, until none are left */
    for (size_t i = 0; i < n / 2; i++) {
        assert_int_equal(zindex_delete(&z, pool[order[i]].score, &pool[order[i]]), 0);
        pool[order[i]].in = false;
    }
    assert_int_equal(zindex_count(&z), n - n / 2);
    size_t calls = 0, bytes = zindex_bytes(&z);
    for (;;) {
        size_t budget = 7;
        bool done = zindex_drain(&z, &budget);
        calls++;
        if (done)
            break;
        assert_int_equal(budget, 0);
        assert_true(zindex_bytes(&z) < bytes);
        bytes = zindex_bytes(&z);
    }
    /* ~20 members per leaf of 14 in random order: thousands of nodes, so thousands of calls */
    assert_true(calls > (n / 2) / 14 / 7);
    size_t none = 5;
    assert_true(zindex_drain(&z, &none));
    assert_int_equal(none, 5);
    assert_int_equal(zindex_bytes(&z), 0);
    assert_int_equal(zindex_count(&z), 0);
    free(order);
    free(pool);
}

/*
 * Ascending and descending scores (timestamps) fill the leaves they leave behind: the bytes stay
 * near the full-leaf figure instead of the half-full one, and the order is kept.
 */
static void sequential_inserts_fill(void **state)
{
    (void)state;
    const size_t n = 100000;
    struct el *pool = calloc(n, sizeof(*pool));
    assert_non_null(pool);
    for (int desc = 0; desc < 2; desc++) {
        struct zindex z;
        zindex_init(&z, el_member, NULL);
        for (size_t i = 0; i < n; i++) {
            size_t k = desc ? n - 1 - i : i;
            el_name(&pool[k], (unsigned)k + 1);
            pool[k].score = (double)k;
            pool[k].in = true;
            assert_int_equal(zindex_insert(&z, pool[k].score, &pool[k]), 0);
        }
        /* full 256-byte leaves hold 14: 18.3 bytes per element (half-full ones 36.6), + inner */
        assert_true(zindex_bytes(&z) < 22 * n);
        for (size_t i = 0; i < n; i += 97)
            assert_ptr_equal(zindex_at(&z, i, NULL), &pool[i]);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(zindex_delete(&z, pool[i].score, &pool[i]), 0);
            pool[i].in = false;
        }
        assert_int_equal(zindex_bytes(&z), 0);
        zindex_deinit(&z);
    }
    free(pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_index),
        cmocka_unit_test(every_step_small),
        cmocka_unit_test(random_scores),
        cmocka_unit_test(equal_scores_lex),
        cmocka_unit_test(sequential_inserts_fill),
        cmocka_unit_test(million_build_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
