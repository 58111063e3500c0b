/*
 * The latency histogram (lathist.h). Only recording is on the request path; everything
 * here runs when INFO or LATENCY reads the counters.
 */
#include "base/lathist.h"

#include <string.h>

uint64_t lathist_percentile(const struct lathist *h, double p)
{
    if (p > 100.0)
        p = 100.0;
    uint64_t want = (uint64_t)(p / 100.0 * (double)h->total + 0.5);
    if (want < 1)
        want = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < LATHIST_COUNTS; i++) {
        seen += h->counts[i];
        if (seen >= want)
            return p == 0.0 ? lathist_lowest(i) : lathist_lowest(i) + lathist_width(i) - 1;
    }
    return 0;
}

void lathist_merge(struct lathist *dst, const struct lathist *src)
{
    dst->total += src->total;
    for (unsigned i = 0; i < LATHIST_COUNTS; i++)
        dst->counts[i] += src->counts[i];
}

int lathist_cdf(const struct lathist *h, int64_t usec[LATHIST_LEVELS], uint64_t cum[LATHIST_LEVELS])
{
    int n = 0;
    uint64_t seen = 0, prev = 0;
    unsigned next = 0; /* first counter not yet added */
    for (uint64_t level = 1024; n < LATHIST_LEVELS; level *= 2) {
        /* A level is reported once the counter holding it is reached. */
        unsigned top = lathist_index_raw(level);
        if (top >= LATHIST_COUNTS) {
            /* 2^30, past the last counter: the values left (over 2^29 ns), as HDR's
             * iterator reports them, under 2^30 - 1 */
            for (; next < LATHIST_COUNTS; next++)
                seen += h->counts[next];
            if (seen > prev) {
                usec[n] = (int64_t)((level - 1) / 1000);
                cum[n++] = seen;
            }
            break;
        }
        for (; next <= top; next++)
            seen += h->counts[next];
        if (seen > prev) {
            usec[n] = (int64_t)((lathist_lowest(top) + lathist_width(top) - 1) / 1000);
            cum[n++] = seen;
        }
        prev = seen;
        if (seen >= h->total)
            break;
    }
    return n;
}
