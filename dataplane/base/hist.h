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
#ifndef POLLUX_HIST_H
#define POLLUX_HIST_H

#include <stdint.h>

#define HIST_MIN_NS 1ull
#define HIST_MAX_NS 1000000000ull
#define HIST_SUB    128 /* sub-buckets per power of two above 256 */
#define HIST_COUNTS 3072
/* LATENCY HISTOGRAM's reporting levels: 1024 ns, doubling, at most this many. */
#define HIST_LEVELS 21

struct hist {
    uint64_t total;
    uint64_t counts[HIST_COUNTS];
};

/* The counter of a value (ns), unclamped: indexes at or past HIST_COUNTS are out of range. */
static inline unsigned hist_index_raw(uint64_t v)
{
    unsigned shift = (unsigned)(63 - __builtin_clzll(v | 255)) - 7;
    return ((shift + 1) << 7) + (unsigned)(v >> shift) - HIST_SUB;
}

static inline unsigned hist_index(uint64_t v)
{
    if (v < HIST_MIN_NS)
        v = HIST_MIN_NS;
    else if (v > HIST_MAX_NS)
        v = HIST_MAX_NS;
    return hist_index_raw(v);
}

static inline void hist_record(struct hist *h, uint64_t ns)
{
    h->counts[hist_index(ns)]++;
    h->total++;
}

/* The lowest value counter i counts, and how many values it covers. */
uint64_t hist_lowest(unsigned i);
uint64_t hist_width(unsigned i);

/*
 * The value at percentile p (0..100) as HDR reports it: the highest value of the bucket
 * holding the ceil(p% of total)-th value (the lowest for p = 0); 0 when empty.
 */
uint64_t hist_percentile(const struct hist *h, double p);

/* dst += src */
void hist_merge(struct hist *dst, const struct hist *src);

/*
 * LATENCY HISTOGRAM's cumulative distribution: for each power-of-two level from 1024 ns
 * while values remain, the level's bucket top in microseconds and the count of values up
 * to it, only where the count grew. Fills usec[] and cum[] (HIST_LEVELS each).
 * @return the number of pairs
 */
int hist_cdf(const struct hist *h, int64_t usec[HIST_LEVELS], uint64_t cum[HIST_LEVELS]);

#endif
