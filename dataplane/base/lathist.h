/*
 * A latency histogram with the layout of an HDR histogram of 1 ns to 1 s at two
 * significant digits, the one Redis keeps per command (INFO latencystats, LATENCY
 * HISTOGRAM), so the values reported from it are the same bucket bounds Redis reports.
 *
 * Values below 256 ns have a counter each; above, every power of two [2^k, 2^(k+1)) is
 * split into 128 equal sub-buckets (relative error under 1/128). 1 s < 2^30, so
 * 256 + 22 * 128 = 3072 counters: 24 KB. Recording is a count-leading-zeros, a shift
 * and two increments: no branch on the value beyond the clamp, no allocation.
 */
#ifndef POLLUX_LATHIST_H
#define POLLUX_LATHIST_H

#include <stdint.h>

#define LATHIST_MIN_NS 1ull
#define LATHIST_MAX_NS 1000000000ull
#define LATHIST_SUB    128 /* sub-buckets per power of two above 256 */
#define LATHIST_COUNTS 3072
/* LATENCY HISTOGRAM's reporting levels: 1024 ns, doubling, at most this many. */
#define LATHIST_LEVELS 21

struct lathist {
    uint64_t total;
    uint64_t counts[LATHIST_COUNTS];
};

/* The counter of a value (ns), unclamped: indexes at or past LATHIST_COUNTS are out of range. */
static inline unsigned lathist_index_raw(uint64_t v)
{
    unsigned shift = (unsigned)(63 - __builtin_clzll(v | 255)) - 7;
    return ((shift + 1) << 7) + (unsigned)(v >> shift) - LATHIST_SUB;
}

static inline unsigned lathist_index(uint64_t v)
{
    if (v < LATHIST_MIN_NS)
        v = LATHIST_MIN_NS;
    else if (v > LATHIST_MAX_NS)
        v = LATHIST_MAX_NS;
    return lathist_index_raw(v);
}

static inline void lathist_record(struct lathist *h, uint64_t ns)
{
    h->counts[lathist_index(ns)]++;
    h->total++;
}

/* The lowest value counter i counts, and how many values it covers. */
static inline uint64_t lathist_lowest(unsigned i)
{
    if (i < 2 * LATHIST_SUB)
        return i;
    unsigned shift = i / LATHIST_SUB - 1;
    return (uint64_t)(i % LATHIST_SUB + LATHIST_SUB) << shift;
}

static inline uint64_t lathist_width(unsigned i)
{
    return i < 2 * LATHIST_SUB ? 1 : 1ull << (i / LATHIST_SUB - 1);
}

/*
 * The value at percentile p (0..100) as HDR reports it: the highest value of the bucket
 * holding the ceil(p% of total)-th value (the lowest for p = 0); 0 when empty.
 */
uint64_t lathist_percentile(const struct lathist *h, double p);

/* dst += src */
void lathist_merge(struct lathist *dst, const struct lathist *src);

/*
 * LATENCY HISTOGRAM's cumulative distribution: for each power-of-two level from 1024 ns
 * while values remain, the level's bucket top in microseconds and the count of values up
 * to it, only where the count grew. Fills usec[] and cum[] (LATHIST_LEVELS each).
 * @return the number of pairs
 */
int lathist_cdf(const struct lathist *h, int64_t usec[LATHIST_LEVELS],
                uint64_t cum[LATHIST_LEVELS]);

#endif
