/*
 * The pack encoding (dataplane/types/pack.c): pack_validate guards every reader, and
 * pack_splice only ever writes what pack_validate accepts.
 *
 * Input: a mode byte, then
 * - mode even: bytes claimed to be a pack (as an RDB or a replication stream would bring
 *   them), copied to a heap buffer of exactly their size; with mode bit 1 their size field
 *   is set to their size, so the fuzzer spends its time on the elements. If pack_validate
 *   accepts them, the forward and backward walks must visit the same elements, pack_seek
 *   must agree with them, every element decodes and prints, each integer or string is
 *   found by value at or before its own position, and splicing the decoded elements into
 *   an empty pack must give back the same bytes (one canonical form);
 * - mode odd: edits. Each is a position byte, a delete byte and an insert count byte, then
 *   that many elements (a kind byte and its payload); after each edit the pack must
 *   validate and hold the expected count. The buffer is resized to exactly the pack's size
 *   and moved on every grow, so a stale pointer is an ASan error.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/fuzz/fuzz.h"
#include "types/pack.h"

static unsigned char *exact_resize(void *ctx, unsigned char *p, size_t n)
{
    size_t *cap = ctx;
    unsigned char *q = malloc(n);
    FZ_CHECK(q != NULL);
    memcpy(q, p, *cap < n ? *cap : n);
    free(p);
    *cap = n;
    return q;
}

static void check_pack(const unsigned char *p, size_t n)
{
    uint32_t count = pack_count(p);
    uint32_t *offs = malloc((count + 1) * sizeof(*offs));
    struct pack_elem *els = malloc((count + 1) * sizeof(*els));
    FZ_CHECK(offs != NULL && els != NULL);
    uint32_t k = 0;
    for (uint32_t off = pack_first(p); off != 0; off = pack_next(p, off)) {
        FZ_CHECK(k < count);
        offs[k] = off;
        pack_get(p, off, &els[k]);
        char buf[PACK_TEXT_BUF];
        const unsigned char *t;
        size_t tl = pack_elem_text(&els[k], buf, &t);
        FZ_CHECK(els[k].kind != PACK_STR || (t == els[k].s && tl == els[k].len));
        k++;
    }
    FZ_CHECK(k == count);
    for (uint32_t off = pack_last(p); off != 0; off = pack_prev(p, off)) {
        FZ_CHECK(k > 0 && offs[k - 1] == off);
        k--;
    }
    FZ_CHECK(k == 0);
    for (k = 0; k < count; k++) {
        FZ_CHECK(pack_seek(p, k) == offs[k]);
        FZ_CHECK(pack_seek(p, (int64_t)k - count) == offs[k]);
        struct pack_needle nd;
        if (els[k].kind == PACK_DBL)
            continue;
        if (els[k].kind == PACK_INT)
            pack_needle_int(&nd, els[k].i);
        else
            pack_needle_str(&nd, els[k].s, els[k].len);
        uint32_t at = pack_find(p, pack_first(p), &nd, 1);
        FZ_CHECK(at != 0 && at <= offs[k] && pack_eq(p, offs[k], &nd));
    }
    /* the canonical form: the same elements encode to the same bytes */
    size_t cap = pack_hdr(p);
    unsigned char *q = malloc(cap);
    FZ_CHECK(q != NULL);
    if (pack_small(p))
        pack_init(q); /* a small pack's elements fit a small header */
    else
        pack_init_wide(q); /* a wide one stays wide whatever it holds */
    FZ_CHECK(pack_splice(&q, pack_hdr(q), 0, els, count, exact_resize, &cap, NULL) == 0);
    FZ_CHECK(pack_bytes(q) == n && memcmp(q, p, n) == 0);
    free(q);
    free(offs);
    free(els);
}

/* Read one element to insert from the input; false at its end. */
static bool read_elem(const uint8_t **d, size_t *n, struct pack_elem *e)
{
    if (*n < 1)
        return false;
    uint8_t kind = **d;
    (*d)++;
    (*n)--;
    if (kind % 3 == 0) {
        uint64_t v = 0;
        size_t w = (size_t)(kind >> 2) % 9; /* 0..8 bytes, sign-extended from the last */
        if (w > *n)
            return false;
        for (size_t i = 0; i < w; i++)
            v |= (uint64_t)(*d)[i] << (8 * i);
        if (w > 0 && w < 8 && ((*d)[w - 1] & 0x80))
            v |= ~0ull << (8 * w);
        *e = (struct pack_elem){ .kind = PACK_INT, .i = (int64_t)v };
        *d += w;
        *n -= w;
    } else if (kind % 3 == 1) {
        if (*n < 8)
            return false;
        double x;
        memcpy(&x, *d, 8);
        *e = (struct pack_elem){ .kind = PACK_DBL, .d = x };
        *d += 8;
        *n -= 8;
    } else {
        size_t len = (size_t)(kind >> 2);
        if (kind & 0x80)
            len = len * 300; /* a few long strings: 2- and 3-byte tails */
        if (len > *n)
            len = *n;
        *e = (struct pack_elem){ .kind = PACK_STR, .s = *d, .len = len };
        *d += len;
        *n -= len;
    }
    return true;
}

static void run_edits(const uint8_t *d, size_t n)
{
    size_t cap = PACK_HDR_SMALL;
    unsigned char *p = malloc(cap);
    FZ_CHECK(p != NULL);
    pack_init(p);
    while (n >= 3) {
        uint32_t count = pack_count(p);
        uint32_t at = d[0] % (count + 1), ndel = d[1] % 4, nins = d[2] % 4;
        d += 3;
        n -= 3;
        struct pack_elem ins[4];
        uint32_t got = 0;
        while (got < nins && read_elem(&d, &n, &ins[got]))
            got++;
        uint32_t off = at == count ? pack_bytes(p) : pack_seek(p, at);
        int rc = pack_splice(&p, off, ndel, ins, got, exact_resize, &cap, NULL);
        bool has_nan = false;
        for (uint32_t i = 0; i < got; i++)
            has_nan |= ins[i].kind == PACK_DBL && ins[i].d != ins[i].d;
        if (ndel > count - at)
            FZ_CHECK(rc == -ERANGE);
        else if (has_nan)
            FZ_CHECK(rc == -EINVAL);
        else
            FZ_CHECK(rc == 0 && pack_count(p) == count - ndel + got);
        FZ_CHECK(pack_bytes(p) == cap && pack_validate(p, pack_bytes(p)));
    }
    check_pack(p, pack_bytes(p));
    free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 1) {
        run_edits(data + 1, size - 1);
        return 0;
    }
    size_t n = size - 1;
    unsigned char *p = malloc(n ? n : 1);
    FZ_CHECK(p != NULL);
    memcpy(p, data + 1, n);
    /* let the size field be right, to reach the elements: the small header's 14 bits (the
     * count's bits kept) or the wide header's 31 */
    if ((data[0] & 2) && n >= PACK_HDR_SMALL && (p[0] & 1) && n <= PACK_SMALL_BYTES) {
        uint32_t h = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
        h = (h & ~(PACK_SMALL_BYTES << 1)) | (uint32_t)n << 1;
        for (int i = 0; i < 3; i++)
            p[i] = (unsigned char)(h >> (8 * i));
    } else if ((data[0] & 2) && n >= PACK_HDR_WIDE) {
        for (int i = 0; i < 4; i++)
            p[i] = (unsigned char)((uint64_t)n << 1 >> (8 * i));
    }
    if (pack_validate(p, n))
        check_pack(p, n);
    free(p);
    return 0;
}
