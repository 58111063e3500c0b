/*
 * pollux-bench's latency histogram: bucket layout, relative error, quantiles, merge.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bench/loadgen/hist.h"

static struct hist h, h2;

/* Every bucket is contiguous with the next and no wider than 1/128 of its lower bound. */
static void buckets_tile_the_range(void **state)
{
    (void)state;
    uint64_t prev_hi = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        uint64_t lo, hi;
        hist_bucket_range(i, &lo, &hi);
        assert_int_equal(lo, prev_hi);
        assert_true(hi > lo);
        if (lo >= 256)
            assert_true((hi - lo) * 128 <= lo);
        prev_hi = hi;
    }
    assert_int_equal(prev_hi, 1ull << HIST_MAX_BIT); /* ~17 s: covers 1 us .. 10 s */
}

/* A single value comes back within 1% (the bound) at every magnitude. */
static void single_values_within_one_percent(void **state)
{
    (void)state;
    for (uint64_t v = 1; v <= 10ull * 1000 * 1000 * 1000; v = v * 3 + 7) {
        hist_init(&h);
        hist_record(&h, v);
        assert_int_equal(h.count, 1);
        assert_int_equal(h.min, v);
        assert_int_equal(h.max, v);
        /* min/max clamp the answer, so record a neighbour to see the bucket midpoint */
        hist_record(&h, v + v / 1000);
        uint64_t q = hist_quantile(&h, 0.0);
        uint64_t err = q > v ? q - v : v - q;
        assert_true(err * 100 <= v);
    }
}

static void quantiles_of_a_uniform_spread(void **state)
{
    (void)state;
    hist_init(&h);
    assert_int_equal(hist_quantile(&h, 0.5), 0); /* empty */
    for (uint64_t v = 1; v <= 100000; v++)
        hist_record(&h, v * 1000); /* 1 us .. 100 ms */
    assert_int_equal(h.count, 100000);
    struct {
        double q;
        uint64_t want;
    } cases[] = { { 0.5, 50000000 }, { 0.9, 90000000 }, { 0.99, 99000000 }, { 0.999, 99900000 } };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t got = hist_quantile(&h, cases[i].q);
        uint64_t err = got > cases[i].want ? got - cases[i].want : cases[i].want - got;
        assert_true(err * 100 <= cases[i].want);
    }
    assert_int_equal(hist_quantile(&h, 1.0), 100000000);
    uint64_t p0 = hist_quantile(&h, 0.0); /* the midpoint of min's bucket */
    assert_true(p0 >= 1000 && p0 <= 1010);
}

static void huge_values_clamp_into_the_top_bucket(void **state)
{
    (void)state;
    hist_init(&h);
    hist_record(&h, 100ull * 1000 * 1000 * 1000); /* 100 s */
    assert_int_equal(h.buckets[HIST_BUCKETS - 1], 1);
    assert_int_equal(h.max, 100ull * 1000 * 1000 * 1000);
    assert_int_equal(hist_quantile(&h, 0.5), 100ull * 1000 * 1000 * 1000);
}

static void merge_adds_counts_and_extremes(void **state)
{
    (void)state;
    hist_init(&h);
    hist_init(&h2);
    for (int i = 0; i < 1000; i++)
        hist_record(&h, 5000);
    for (int i = 0; i < 3000; i++)
        hist_record(&h2, 70000);
    hist_record(&h2, 3);
    hist_merge(&h, &h2);
    assert_int_equal(h.count, 4001);
    assert_int_equal(h.min, 3);
    assert_int_equal(h.max, 70000);
    uint64_t p10 = hist_quantile(&h, 0.10), p90 = hist_quantile(&h, 0.90);
    assert_true(p10 >= 4950 && p10 <= 5050);
    assert_true(p90 >= 69300 && p90 <= 70000);
    uint64_t sum = 0;
    for (int i = 0; i < HIST_BUCKETS; i++)
        sum += h.buckets[i];
    assert_int_equal(sum, 4001);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(buckets_tile_the_range),
        cmocka_unit_test(single_values_within_one_percent),
        cmocka_unit_test(quantiles_of_a_uniform_spread),
        cmocka_unit_test(huge_values_clamp_into_the_top_bucket),
        cmocka_unit_test(merge_adds_counts_and_extremes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
