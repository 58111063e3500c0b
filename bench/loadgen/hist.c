/* hist.c - see hist.h for the bucket layout. */
#include "bench/loadgen/hist.h"

#include <string.h>

void hist_init(struct hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

static int hist_index(uint64_t v)
{
    if (v < 256)
        return (int)v;
    int msb = 63 - __builtin_clzll(v);
    if (msb >= HIST_MAX_BIT)
        return HIST_BUCKETS - 1;
    int shift = msb - HIST_SUB_BITS; /* >= 1 */
    int sub = (int)(v >> shift) - 128;
    return 256 + (shift - 1) * 128 + sub;
}

void hist_bucket_range(int i, uint64_t *lo, uint64_t *hi)
{
    if (i < 256) {
        *lo = (uint64_t)i;
        *hi = (uint64_t)i + 1;
        return;
    }
    int shift = (i - 256) / 128 + 1;
    uint64_t sub = (uint64_t)((i - 256) % 128) + 128;
    *lo = sub << shift;
    *hi = (sub + 1) << shift;
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
