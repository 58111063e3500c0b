/*
 * The quality of util_hash, the hash every store table indexes by: the bucket
 * is its low bits (hash & mask), the tag byte its top 7 bits (tag_of), so a
 * weak bit anywhere shows up as long chains or tags that never filter.
 *
 * Every check is a statistic with a bound at about six standard deviations of
 * what an ideal random function gives, computed from fixed seeds, so the test
 * is deterministic; each check is also run against a known weak hash to show
 * it rejects one.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "store/store_int.h"
#include "base/util.h"

typedef uint64_t (*hash_fn)(const void *data, size_t len);

static const uint64_t seeds[] = { 0, 0x5eed5eed12345678ull };

/* FNV-1a: a flip in the last byte never reaches the output bits below it. */
static uint64_t fnv1a(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* h = 31h + c: short keys never reach the top bits (the tag). */
static uint64_t poly31(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t h = 0;
    for (size_t i = 0; i < len; i++)
        h = h * 31 + p[i];
    return h;
}

/* ---- avalanche ------------------------------------------------------------ */

#define AV_TRIALS 400
#define AV_BOUND  0.15 /* 6 sigma of a binomial(400, 0.5) proportion */

/* 1-byte keys are all 256 tried: 128 distinct pairs per input bit, a wider bound. */
static double av_bound(size_t len)
{
    return len == 1 ? 6 * 0.5 / sqrt(128) : AV_BOUND;
}

/*
 * Flip each input bit of AV_TRIALS random keys of `len` bytes (all 256 when
 * len is 1; every 7th bit
 * and all of the last 8 bytes when the key is longer than 64 bytes) and count,
 * per (input bit, output bit), how often the output bit flips. Returns the
 * worst |P(flip) - 0.5| and stores the mean flip rate in *mean.
 */
static double avalanche_worst(hash_fn fn, size_t len, double *mean)
{
    size_t nbits = len * 8;
    uint32_t(*flips)[64] = calloc(nbits, sizeof(*flips));
    assert_non_null(flips);
    uint8_t key[256];
    uint64_t total = 0, samples = 0;
    unsigned trials = len == 1 ? 256 : AV_TRIALS;
    util_rand_seed(0xa5a5a5a5u + len);
    for (unsigned t = 0; t < trials; t++) {
        for (size_t i = 0; i < len; i++)
            key[i] = len == 1 ? (uint8_t)t : (uint8_t)util_rand64();
        uint64_t h0 = fn(key, len);
        for (size_t b = 0; b < nbits; b++) {
            if (len > 64 && b % 7 != 0 && b < nbits - 64)
                continue;
            key[b / 8] ^= (uint8_t)(1u << (b % 8));
            uint64_t d = fn(key, len) ^ h0;
            key[b / 8] ^= (uint8_t)(1u << (b % 8));
            for (uint64_t m = d; m != 0; m &= m - 1)
                flips[b][__builtin_ctzll(m)]++;
            total += (uint64_t)__builtin_popcountll(d);
            samples += 64;
        }
    }
    double worst = 0;
    for (size_t b = 0; b < nbits; b++) {
        if (len > 64 && b % 7 != 0 && b < nbits - 64)
            continue;
        for (int o = 0; o < 64; o++) {
            double dev = fabs((double)flips[b][o] / trials - 0.5);
            if (dev > worst)
                worst = dev;
        }
    }
    free(flips);
    *mean = (double)total / (double)samples;
    return worst;
}

static const size_t av_lens[] = { 1, 2, 3, 4, 7, 8, 9, 14, 15, 16, 17, 31, 32, 33, 64, 100, 256 };

static void avalanche(void **state)
{
    (void)state;
    for (size_t s = 0; s < ARRAY_SIZE(seeds); s++) {
        util_hash_setup(seeds[s]);
        for (size_t i = 0; i < ARRAY_SIZE(av_lens); i++) {
            double mean, worst = avalanche_worst(util_hash, av_lens[i], &mean);
            if (worst >= av_bound(av_lens[i]) || fabs(mean - 0.5) >= 0.01)
                fail_msg("seed %zu, %zu-byte keys: worst bias %.3f, mean flip rate %.4f", s,
                         av_lens[i], worst, mean);
        }
    }
}

static void avalanche_rejects_a_weak_hash(void **state)
{
    (void)state;
    double mean;
    assert_true(avalanche_worst(fnv1a, 8, &mean) >= AV_BOUND);
    assert_true(avalanche_worst(fnv1a, 64, &mean) >= AV_BOUND);
}

/* ---- distribution of sequential keys ------------------------------------ */

#define DIST_KEYS (1u << 16)

/* Pearson's chi-square over `cells` equally likely cells. */
static double chi_square(const uint32_t *count, size_t cells, uint64_t n)
{
    double expect = (double)n / (double)cells, x = 0;
    for (size_t i = 0; i < cells; i++) {
        double d = (double)count[i] - expect;
        x += d * d / expect;
    }
    return x;
}

/* chi-square within 6 standard deviations of its mean (cells - 1) */
static bool chi_square_ok(double x, size_t cells)
{
    double dof = (double)cells - 1;
    return fabs(x - dof) < 6 * sqrt(2 * dof);
}

enum dist_kind {
    DIST_BUCKET, /* the low 12 bits: a 4096-bucket table */
    DIST_TAG,    /* tag_of: the top 7 bits */
    DIST_JOINT,  /* tag x the low 4 bits: tags must not repeat within a bucket's neighbours */
};

static size_t dist_cells(enum dist_kind k)
{
    return k == DIST_BUCKET ? 4096 : k == DIST_TAG ? 128 : 2048;
}

static size_t dist_cell(enum dist_kind k, uint64_t h)
{
    switch (k) {
    case DIST_BUCKET:
        return h & 4095;
    case DIST_TAG:
        return tag_of(h);
    default:
        return ((size_t)tag_of(h) << 4) | (h & 15);
    }
}

/*
 * Hash DIST_KEYS keys of one family — "key:000001" ... (redis-benchmark's
 * shape) or the 8-byte little-endian integers 1 ... — and return the
 * chi-square of the chosen cells.
 */
static double dist_chi(hash_fn fn, enum dist_kind k, bool binary)
{
    size_t cells = dist_cells(k);
    uint32_t *count = calloc(cells, sizeof(*count));
    assert_non_null(count);
    for (uint32_t i = 1; i <= DIST_KEYS; i++) {
        char key[32];
        size_t len;
        if (binary) {
            uint64_t v = i;
            memcpy(key, &v, 8);
            len = 8;
        } else {
            len = (size_t)snprintf(key, sizeof(key), "key:%06u", i);
        }
        count[dist_cell(k, fn(key, len))]++;
    }
    double x = chi_square(count, cells, DIST_KEYS);
    free(count);
    return x;
}

static void sequential_keys_spread(void **state)
{
    (void)state;
    for (size_t s = 0; s < ARRAY_SIZE(seeds); s++) {
        util_hash_setup(seeds[s]);
        for (int k = DIST_BUCKET; k <= DIST_JOINT; k++)
            for (int binary = 0; binary < 2; binary++) {
                double x = dist_chi(util_hash, (enum dist_kind)k, binary);
                if (!chi_square_ok(x, dist_cells((enum dist_kind)k)))
                    fail_msg("seed %zu, %s keys, cells %d: chi-square %.1f over %zu cells", s,
                             binary ? "binary" : "text", k, x, dist_cells((enum dist_kind)k));
            }
    }
}

static void distribution_rejects_a_weak_hash(void **state)
{
    (void)state;
    /* 31h + c never reaches the top bits of short keys: one tag for all. */
    assert_false(chi_square_ok(dist_chi(poly31, DIST_TAG, false), 128));
    assert_false(chi_square_ok(dist_chi(poly31, DIST_JOINT, false), 2048));
}

/* ---- it is XXH3 ----------------------------------------------------------- */

/* util_hash keeps a secret for long keys: it must give exactly XXH3_64bits_withSeed. */
static void matches_xxh3_with_seed(void **state)
{
    (void)state;
    uint8_t buf[600];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 131 + 7);
    const uint64_t more[] = { 0, 1, 0x5eed5eed12345678ull, ~0ull };
    for (size_t s = 0; s < ARRAY_SIZE(more); s++) {
        util_hash_setup(more[s]);
        for (size_t n = 0; n <= sizeof(buf); n++)
            assert_true(util_hash(buf, n) == XXH3_64bits_withSeed(buf, n, more[s]));
    }
    /* the published XXH3 value of the empty input with seed 0 */
    util_hash_setup(0);
    assert_true(util_hash("", 0) == 0x2D06800538D394C2ull);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(avalanche),
        cmocka_unit_test(avalanche_rejects_a_weak_hash),
        cmocka_unit_test(sequential_keys_spread),
        cmocka_unit_test(distribution_rejects_a_weak_hash),
        cmocka_unit_test(matches_xxh3_with_seed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
