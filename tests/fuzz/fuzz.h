/*
 * Helpers shared by the libFuzzer targets: a check that aborts (so libFuzzer
 * records the input as a crash), a growable byte string for transcripts, and
 * a small generator that turns one input byte into a sequence of chunk sizes.
 */
#ifndef POLLUX_FUZZ_H
#define POLLUX_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An invariant of the code under test; a failure is a finding. */
#define FZ_CHECK(cond)                                                                             \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

struct fz_buf {
    char *p;
    size_t len, cap;
};

static inline void fz_add(struct fz_buf *b, const void *s, size_t n)
{
    if (b->len + n > b->cap || b->p == NULL) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->p = realloc(b->p, cap);
        FZ_CHECK(b->p != NULL);
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->p + b->len, s, n);
    b->len += n;
}

static inline void fz_fmt_u(struct fz_buf *b, char tag, unsigned long long v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof(tmp), "%c%llu\n", tag, v);
    fz_add(b, tmp, (size_t)n);
}

static inline void fz_free(struct fz_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

/* xorshift32: chunk sizes from a seed the input chooses, so a crash replays exactly. */
static inline uint32_t fz_next(uint32_t *s)
{
    uint32_t x = *s ? *s : 0x9e3779b9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

#endif
