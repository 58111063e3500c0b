/*
 * hist.h - log-linear latency histogram.
 *
 * Values are nanoseconds, in base/lathist.h's bucket layout: below 256 ns every value has its
 * own bucket; above, each power of two is split into 128 linear sub-buckets, so a bucket is
 * never wider than 1/128 (0.78%) of its lower bound.  The top bucket ends at 2^34 ns (~17 s);
 * larger values are clamped into it and still counted exactly by `max`.  One histogram per
 * thread, merged after the run.
 */
#ifndef POLLUX_BENCH_HIST_H
#define POLLUX_BENCH_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 7 /* 128 sub-buckets per power of two */
#define HIST_MAX_BIT  34
#define HIST_BUCKETS  (256 + (HIST_MAX_BIT - HIST_SUB_BITS - 1) * 128)

struct hist {
    uint64_t count;
    uint64_t min;
    uint64_t max;
    uint64_t buckets[HIST_BUCKETS];
};

void hist_init(struct hist *h);
void hist_record(struct hist *h, uint64_t ns);
void hist_merge(struct hist *dst, const struct hist *src);
/* Value (ns) at quantile q in [0, 1]: the midpoint of the bucket holding it, capped by max. */
uint64_t hist_quantile(const struct hist *h, double q);
/* Bounds [lo, hi) in ns of bucket i. */
void hist_bucket_range(int i, uint64_t *lo, uint64_t *hi);

#endif
