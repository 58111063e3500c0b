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

/*
 * One complete, well-formed RESP2/RESP3 reply at p[*pos..n): every line ends in CRLF and
 * holds no CR or LF, lengths and counts are decimal numbers that fit, bulk payloads are
 * followed by CRLF, aggregates hold their count of elements (twice that for maps). Aborts
 * (FZ_CHECK) on anything else; moves *pos past the reply.
 */
static inline void fz_resp_check(const char *p, size_t n, size_t *pos, int depth)
{
    FZ_CHECK(depth < 64 && *pos < n);
    char type = p[(*pos)++];
    const char *s = p + *pos;
    const char *cr = memchr(s, '\r', n - *pos);
    FZ_CHECK(cr != NULL && cr + 1 < p + n && cr[1] == '\n');
    size_t len = (size_t)(cr - s);
    FZ_CHECK(memchr(s, '\n', len) == NULL);
    *pos += len + 2;
    long long v = 0;
    if (strchr("$*%~>=!|", type) != NULL) {
        FZ_CHECK(len > 0 && len < 20);
        size_t i = s[0] == '-' ? 1 : 0;
        FZ_CHECK(i < len);
        for (; i < len; i++) {
            FZ_CHECK(s[i] >= '0' && s[i] <= '9');
            v = v * 10 + (s[i] - '0');
        }
        if (s[0] == '-') {
            FZ_CHECK(len == 2 && s[1] == '1' && (type == '$' || type == '*'));
            return; /* RESP2 null */
        }
    }
    switch (type) {
    case '+':
    case '-':
    case ':':
    case ',':
    case '(':
    case '#':
    case '_':
        return;
    case '$':
    case '=':
    case '!':
        FZ_CHECK((unsigned long long)v <= n - *pos && n - *pos - (size_t)v >= 2);
        *pos += (size_t)v;
        FZ_CHECK(p[*pos] == '\r' && p[*pos + 1] == '\n');
        *pos += 2;
        return;
    case '%':
    case '|':
        v *= 2;
        /* fall through */
    case '*':
    case '~':
    case '>':
        for (long long i = 0; i < v; i++)
            fz_resp_check(p, n, pos, depth + 1);
        return;
    default:
        FZ_CHECK(!"unknown RESP type");
    }
}

#endif
