#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/lathist.h"

/* xorshift64*: the same values on every run and every machine */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

/* Spread over every magnitude from 1 ns to past 1 s, as latencies are. */
static uint64_t random_ns(void)
{
    unsigned bits = (unsigned)(rng() % 31);
    return (rng() & ((1ull << bits) - 1)) + 1 + (rng() % 3 == 0 ? 0 : (1ull << bits));
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static uint64_t clamp(uint64_t v)
{
    return v < LATHIST_MIN_NS ? LATHIST_MIN_NS : v > LATHIST_MAX_NS ? LATHIST_MAX_NS : v;
}

/* Every counter covers [lowest, lowest + width) and the counters tile 0 .. 2^30. */
static void counters_tile_the_range(void **state)
{
    (void)state;
    uint64_t next = 0;
    for (unsigned i = 0; i < LATHIST_COUNTS; i++) {
        assert_int_equal(lathist_lowest(i), next);
        uint64_t w = lathist_width(i);
        assert_int_equal(lathist_index_raw(next), i);
        assert_int_equal(lathist_index_raw(next + w - 1), i);
        /* two significant digits: a counter is never wider than 1/128 of its values */
        if (next >= 256)
            assert_true(w * 128 <= next);
        next += w;
    }
    assert_int_equal(next, 1ull << 30);
    assert_int_equal(lathist_index(0), lathist_index(1));
    assert_int_equal(lathist_index(5000000000ull), lathist_index(LATHIST_MAX_NS));
}

/* Percentiles against a sorted copy: HDR's rule (the ceil(p% of n)-th value, at least the
 * first), reported as the top of its counter (the bottom for p = 0). */
static void percentiles_match_sorted_reference(void **state)
{
    (void)state;
    static const double ps[] = { 0, 0.1, 1, 25, 50, 75, 90, 99, 99.9, 99.99, 100 };
    struct lathist *h = calloc(1, sizeof(*h));
    for (int round = 0; round < 20; round++) {
        size_t n = 1 + (size_t)(rng() % 5000);
        uint64_t *v = malloc(n * sizeof(*v));
        memset(h, 0, sizeof(*h));
        for (size_t i = 0; i < n; i++) {
            v[i] = random_ns();
            lathist_record(h, v[i]);
            v[i] = clamp(v[i]);
        }
        qsort(v, n, sizeof(*v), cmp_u64);
        assert_int_equal(h->total, n);
        for (size_t k = 0; k < sizeof(ps) / sizeof(ps[0]); k++) {
            uint64_t rank = (uint64_t)(ps[k] / 100.0 * (double)n + 0.5);
            uint64_t ref = v[(rank < 1 ? 1 : rank) - 1];
            uint64_t got = lathist_percentile(h, ps[k]);
            unsigned i = lathist_index(ref);
            if (ps[k] == 0)
                assert_int_equal(got, lathist_lowest(i));
            else
                assert_int_equal(got, lathist_lowest(i) + lathist_width(i) - 1);
            /* within the counter's precision of the true value */
            uint64_t diff = got > ref ? got - ref : ref - got;
            assert_true(ref < 256 ? diff == 0 : diff * 128 <= ref);
        }
        free(v);
    }
    free(h);
}

static void empty_histogram(void **state)
{
    (void)state;
    struct lathist *h = calloc(1, sizeof(*h));
    assert_int_equal(lathist_percentile(h, 50), 0);
    int64_t usec[LATHIST_LEVELS];
    uint64_t cum[LATHIST_LEVELS];
    assert_int_equal(lathist_cdf(h, usec, cum), 0);
    free(h);
}

/* Merging two halves gives the histogram of the whole. */
static void merge_is_the_whole(void **state)
{
    (void)state;
    struct lathist *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
    struct lathist *all = calloc(1, sizeof(*all));
    for (int i = 0; i < 20000; i++) {
        uint64_t v = random_ns();
        lathist_record(i % 3 ? a : b, v);
        lathist_record(all, v);
    }
    lathist_merge(a, b);
    assert_memory_equal(a, all, sizeof(*all));
    free(a);
    free(b);
    free(all);
}

/* LATENCY HISTOGRAM's pairs: levels 1024 ns x 2^k, cumulative counts of the values up to
 * each level's counter, only where the count grew, the last one all of them. */
static void cdf_counts_values_up_to_each_level(void **state)
{
    (void)state;
    struct lathist *h = calloc(1, sizeof(*h));
    uint64_t *v = malloc(30000 * sizeof(*v));
    for (int i = 0; i < 30000; i++) {
        v[i] = clamp(random_ns());
        lathist_record(h, v[i]);
    }
    int64_t usec[LATHIST_LEVELS];
    uint64_t cum[LATHIST_LEVELS];
    int n = lathist_cdf(h, usec, cum);
    assert_true(n > 0);
    assert_int_equal(cum[n - 1], 30000);
    for (int k = 0; k < n; k++) {
        if (k > 0) {
            assert_true(usec[k] > usec[k - 1]);
            assert_true(cum[k] > cum[k - 1]);
        }
        /* the level's counter ends at usec * 1000 .. usec * 1000 + 999 ns */
        uint64_t top = 0;
        for (uint64_t level = 1024; level <= (1ull << 30); level *= 2) {
            unsigned i = lathist_index_raw(level);
            uint64_t t = i < LATHIST_COUNTS ? lathist_lowest(i) + lathist_width(i) - 1 : level - 1;
            if ((int64_t)(t / 1000) == usec[k]) {
                top = t;
                break;
            }
        }
        assert_true(top > 0);
        uint64_t want = 0;
        for (int i = 0; i < 30000; i++)
            want += v[i] <= top;
        assert_int_equal(cum[k], want);
    }
    /* Redis's first levels: 1031 ns is reported as 1 us, 2063 ns as 2, 4127 as 4 */
    memset(h, 0, sizeof(*h));
    lathist_record(h, 1500);
    lathist_record(h, 3000);
    n = lathist_cdf(h, usec, cum);
    assert_int_equal(n, 2);
    assert_int_equal(usec[0], 2);
    assert_int_equal(cum[0], 1);
    assert_int_equal(usec[1], 4);
    assert_int_equal(cum[1], 2);
    free(v);
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counters_tile_the_range),
        cmocka_unit_test(percentiles_match_sorted_reference),
        cmocka_unit_test(empty_histogram),
        cmocka_unit_test(merge_is_the_whole),
        cmocka_unit_test(cdf_counts_values_up_to_each_level),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
