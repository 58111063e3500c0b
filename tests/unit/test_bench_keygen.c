/*
 * pollux-bench's key choice: slices, sequential order, uniform coverage and the
 * Zipf distribution's shape.
 */
#include <math.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "bench/loadgen/keygen.h"

#define N 1000
static uint64_t hits[N];

static void seq_walks_its_slice_and_wraps(void **state)
{
    (void)state;
    struct keygen g;
    struct rng r;
    rng_seed(&r, 1);
    keygen_init(&g, KEYGEN_SEQ, 4, 3, 5, 0.99); /* keys 3, 8, 13, 18 */
    uint64_t want[] = { 3, 8, 13, 18, 3, 8 };
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(keygen_next(&g, &r), want[i]);
}

static void uniform_stays_in_slice_and_covers_it(void **state)
{
    (void)state;
    struct keygen g;
    struct rng r;
    rng_seed(&r, 7);
    memset(hits, 0, sizeof(hits));
    keygen_init(&g, KEYGEN_UNIFORM, N, 2, 3, 0.99);
    for (int i = 0; i < 200 * N; i++) {
        uint64_t k = keygen_next(&g, &r);
        assert_true(k >= 2 && (k - 2) % 3 == 0 && (k - 2) / 3 < N);
        hits[(k - 2) / 3]++;
    }
    for (int i = 0; i < N; i++)
        assert_true(hits[i] > 100 && hits[i] < 300); /* mean 200, sd ~14 */
}

/* Zipf(s): P(rank k) = k^-s / H(N, s); rank 1 is key `first`. */
static void zipf_matches_its_distribution(void **state)
{
    (void)state;
    const double skews[] = { 0.5, 0.99, 1.0, 1.5 };
    for (size_t t = 0; t < sizeof(skews) / sizeof(skews[0]); t++) {
        double s = skews[t];
        struct keygen g;
        struct rng r;
        rng_seed(&r, 11 + t);
        memset(hits, 0, sizeof(hits));
        keygen_init(&g, KEYGEN_ZIPF, N, 0, 1, s);
        const int draws = 2000000;
        for (int i = 0; i < draws; i++) {
            uint64_t k = keygen_next(&g, &r);
            assert_true(k < N);
            hits[k]++;
        }
        double h = 0;
        for (int k = 1; k <= N; k++)
            h += pow(k, -s);
        for (int k = 1; k <= 10; k++) {
            double want = draws * pow(k, -s) / h;
            double got = (double)hits[k - 1];
            assert_true(fabs(got - want) < 5 * sqrt(want) + 0.01 * want);
        }
    }
}

static void rng_is_deterministic_per_seed(void **state)
{
    (void)state;
    struct rng a, b, c;
    rng_seed(&a, 42);
    rng_seed(&b, 42);
    rng_seed(&c, 43);
    bool differ = false;
    for (int i = 0; i < 100; i++) {
        uint64_t x = rng_next(&a);
        assert_int_equal(x, rng_next(&b));
        differ |= x != rng_next(&c);
        double d = rng_double(&a);
        (void)rng_double(&b);
        assert_true(d >= 0.0 && d < 1.0);
        assert_true(rng_below(&a, 10) < 10);
        (void)rng_below(&b, 10);
    }
    assert_true(differ);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(seq_walks_its_slice_and_wraps),
        cmocka_unit_test(uniform_stays_in_slice_and_covers_it),
        cmocka_unit_test(zipf_matches_its_distribution),
        cmocka_unit_test(rng_is_deterministic_per_seed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
