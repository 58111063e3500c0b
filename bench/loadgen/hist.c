/* hist.c - see hist.h for the bucket layout. */
#include "bench/loadgen/hist.h"

#include "base/lathist.h"

#include <string.h>

void hist_init(struct hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

/* base/lathist's bucket layout, with the top bucket at 2^HIST_MAX_BIT ns */
static int hist_index(uint64_t v)
{
    if (v >> HIST_MAX_BIT)
        return HIST_BUCKETS - 1;
    return (int)lathist_index_raw(v);
}

void hist_bucket_range(int i, uint64_t *lo, uint64_t *hi)
{
    *lo = lathist_lowest((unsigned)i);
    *hi = *lo + lathist_width((unsigned)i);
}

void hist_record(struct hist *h, uint64_t ns)
{
    h->buckets[hist_index(ns)]++;
    h->count++;
    if (ns < h->min)
        h->min = ns;
    if (ns > h->max)
        h->max = ns;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
    for (int i = 0; i < HIST_BUCKETS; i++)
        dst->buckets[i] += src->buckets[i];
    dst->count += src->count;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
    if (h->count == 0)
        return 0;
    if (q >= 1.0)
        return h->max;
    uint64_t rank = (uint64_t)(q * (double)h->count);
    if (rank >= h->count)
        rank = h->count - 1;
    uint64_t seen = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen > rank) {
            uint64_t lo, hi;
            hist_bucket_range(i, &lo, &hi);
            uint64_t mid = lo + (hi - lo) / 2;
            if (mid > h->max)
                mid = h->max;
            if (mid < h->min)
                mid = h->min;
            return mid;
        }
    }
    return h->max;
}
