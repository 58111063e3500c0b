/*
 * The pack encoding (dataplane/types/pack.h): its byte layout, the canonical-integer rules,
 * number text as Redis 7.0 replies it, and thousands of random splices checked against a
 * plain array of elements after every step.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "types/pack.h"

/* ---- the caller's buffer: exact sizes, and it moves every third resize ---- */

struct buf {
    size_t cap;
    unsigned calls, moves;
    bool fail;
};

static unsigned char *buf_resize(void *ctx, unsigned char *p, size_t n)
{
    struct buf *b = ctx;
    if (b->fail)
        return NULL;
    unsigned char *q;
    if (++b->calls % 3 == 0) {
        q = malloc(n);
        assert_non_null(q);
        memcpy(q, p, b->cap < n ? b->cap : n);
        memset(p, 0xA5, b->cap); /* a stale pointer now reads garbage */
        free(p);
        b->moves++;
    } else {
        q = realloc(p, n);
        assert_non_null(q);
    }
    b->cap = n;
    return q;
}

static unsigned char *buf_new(struct buf *b)
{
    memset(b, 0, sizeof(*b));
    b->cap = PACK_HDR_SMALL;
    unsigned char *p = malloc(PACK_HDR_SMALL);
    assert_non_null(p);
    pack_init(p);
    return p;
}

static struct pack_elem str(const char *s)
{
    return (struct pack_elem){ .kind = PACK_STR, .s = (const unsigned char *)s, .len = strlen(s) };
}

static struct pack_elem num(int64_t v)
{
    return (struct pack_elem){ .kind = PACK_INT, .i = v };
}

static struct pack_elem dbl(double d)
{
    return (struct pack_elem){ .kind = PACK_DBL, .d = d };
}

static void append(unsigned char **p, struct buf *b, struct pack_elem e)
{
    assert_int_equal(pack_splice(p, pack_bytes(*p), 0, &e, 1, buf_resize, b, NULL), 0);
}

/* The element at off as text, NUL-terminated in out. */
static const char *text_at(const unsigned char *p, uint32_t off, char *out, size_t cap)
{
    struct pack_elem e;
    char nb[PACK_TEXT_BUF];
    const unsigned char *t;
    pack_get(p, off, &e);
    size_t n = pack_elem_text(&e, nb, &t);
    assert_true(n < cap);
    memcpy(out, t, n);
    out[n] = '\0';
    return out;
}

/* ---- the layout, byte for byte (dataplane/types/NOTES.md) ---- */

static void layout_is_the_documented_one(void **state)
{
    (void)state;
    struct {
        struct pack_elem e;
        size_t n;
        unsigned char bytes[16];
    } cases[] = {
        { num(5), 1, { 0x05 } },
        { num(127), 1, { 0x7F } },
        { num(128), 3, { 0xC0, 0x80, 0x81 } },
        { num(-1), 3, { 0xDF, 0xFF, 0x81 } },
        { num(-4096), 3, { 0xD0, 0x00, 0x81 } },
        { num(4096), 4, { 0xE0, 0x00, 0x10, 0x82 } },
        { num(-32768), 4, { 0xE0, 0x00, 0x80, 0x82 } },
        { num(32768), 5, { 0xE1, 0x00, 0x80, 0x00, 0x83 } },
        { num(8388608), 6, { 0xE2, 0x00, 0x00, 0x80, 0x00, 0x84 } },
        { num(INT64_MIN), 10, { 0xE3, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x88 } },
        { str(""), 2, { 0x80, 0x80 } },
        { str("ab"), 4, { 0x82, 'a', 'b', 0x82 } },
        { str("10"), 1, { 10 } },
        { str("010"), 5, { 0x83, '0', '1', '0', 0x83 } },
        { dbl(1.5), 10, { 0xE4, 0, 0, 0, 0, 0, 0, 0xF8, 0x3F, 0x88 } },
        { dbl(3.0), 1, { 3 } },
        { dbl(-0.0), 1, { 0 } },
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct buf b;
        unsigned char *p = buf_new(&b);
        assert_int_equal(pack_elem_size(&cases[k].e), cases[k].n);
        append(&p, &b, cases[k].e);
        assert_int_equal(pack_bytes(p), PACK_HDR_SMALL + cases[k].n);
        assert_int_equal(pack_count(p), 1);
        /* the small header: 1 | bytes << 1 | count << 15, 24 bits LE */
        uint32_t h = 1u | (uint32_t)(PACK_HDR_SMALL + cases[k].n) << 1 | 1u << 15;
        const unsigned char hdr[3] = { h & 0xFF, (h >> 8) & 0xFF, h >> 16 };
        assert_memory_equal(p, hdr, 3);
        assert_memory_equal(p + PACK_HDR_SMALL, cases[k].bytes, cases[k].n);
        assert_true(pack_validate(p, pack_bytes(p)));
        free(p);
    }
    /* a 64-byte string: 2-byte length, head 67 bytes, 2-byte tail (66 = 0x42: 0x01, 0xC2) */
    char s64[65];
    memset(s64, 'x', 64);
    s64[64] = '\0';
    struct buf b;
    unsigned char *p = buf_new(&b);
    append(&p, &b, str(s64));
    assert_int_equal(pack_bytes(p), PACK_HDR_SMALL + 1 + 2 + 64 + 2);
    assert_int_equal(p[PACK_HDR_SMALL], 0xE5);
    assert_int_equal(p[pack_bytes(p) - 2], 0x01);
    assert_int_equal(p[pack_bytes(p) - 1], 0xC2);
    free(p);
}

/* The four collections NOTES.md compares with Redis 7.0: bytes asserted here. */
static void sizes_reported_in_notes(void **state)
{
    (void)state;
    char k[32], v[32];
    struct buf bh, bs, bz, bl;
    unsigned char *h = buf_new(&bh), *s = buf_new(&bs), *z = buf_new(&bz), *l = buf_new(&bl);
    for (int i = 1; i <= 10; i++) {
        snprintf(k, sizeof(k), "field:%d", i);
        snprintf(v, sizeof(v), "value:%d", i);
        append(&h, &bh, str(k));
        append(&h, &bh, str(v));
        append(&s, &bs, num(i));
        snprintf(k, sizeof(k), "member:%d", i);
        append(&z, &bz, str(k));
        append(&z, &bz, dbl(i));
        snprintf(k, sizeof(k), "item:%d", i);
        append(&l, &bl, str(k));
    }
    assert_int_equal(pack_bytes(h), 185); /* Redis 7.0 listpack: 189 */
    assert_int_equal(pack_bytes(s), 13);  /* intset: 28 */
    assert_int_equal(pack_bytes(z), 114); /* listpack: 128 */
    assert_int_equal(pack_bytes(l), 84);  /* quicklist node's listpack: 88 */
    free(h);
    free(s);
    free(z);
    free(l);
}

/* ---- numbers ---- */

static void canonical_integers_only(void **state)
{
    (void)state;
    const char *ints[] = {
        "0", "1", "10", "-1", "127", "128", "-4096", "9223372036854775807", "-9223372036854775808"
    };
    const char *strs[] = {
        " 1",  "1 ",  "01",  "-0", "+1", "9223372036854775808", "-9223372036854775809", "", "-",
        "1.0", "0x1", "1e3", "00", "--1"
    };
    char t[64];
    for (size_t k = 0; k < sizeof(ints) / sizeof(ints[0]); k++) {
        struct buf b;
        unsigned char *p = buf_new(&b);
        append(&p, &b, str(ints[k]));
        struct pack_elem e;
        pack_get(p, pack_first(p), &e);
        assert_int_equal(e.kind, PACK_INT);
        assert_string_equal(text_at(p, pack_first(p), t, sizeof(t)), ints[k]);
        free(p);
    }
    for (size_t k = 0; k < sizeof(strs) / sizeof(strs[0]); k++) {
        struct buf b;
        unsigned char *p = buf_new(&b);
        append(&p, &b, str(strs[k]));
        struct pack_elem e;
        pack_get(p, pack_first(p), &e);
        assert_int_equal(e.kind, PACK_STR);
        assert_string_equal(text_at(p, pack_first(p), t, sizeof(t)), strs[k]);
        free(p);
    }
}

static void compares_like_redis(void **state)
{
    (void)state;
    struct buf b;
    unsigned char *p = buf_new(&b);
    append(&p, &b, num(10));
    append(&p, &b, str("010"));
    append(&p, &b, str("abc"));
    append(&p, &b, dbl(1.5));
    uint32_t ten = pack_first(p), s010 = pack_next(p, ten), abc = pack_next(p, s010),
             d = pack_next(p, abc);
    struct pack_needle n;
    pack_needle_str(&n, "10", 2);
    assert_true(pack_eq(p, ten, &n));
    assert_false(pack_eq(p, s010, &n));
    pack_needle_str(&n, "010", 3);
    assert_false(pack_eq(p, ten, &n));
    assert_true(pack_eq(p, s010, &n));
    assert_int_equal(pack_find(p, pack_first(p), &n, 1), s010);
    pack_needle_int(&n, 10);
    assert_true(pack_eq(p, ten, &n));
    assert_false(pack_eq(p, s010, &n));
    pack_needle_str(&n, "abc", 3);
    assert_int_equal(pack_find(p, pack_first(p), &n, 1), abc);
    assert_int_equal(pack_find(p, pack_first(p), &n, 2), abc);
    assert_int_equal(pack_find(p, s010, &n, 2), 0); /* s010, d: abc skipped */
    pack_needle_str(&n, "1.5", 3);                  /* doubles equal no needle */
    assert_false(pack_eq(p, d, &n));
    free(p);
}

static void score_text_as_redis_replies(void **state)
{
    (void)state;
    /* ZADD z <score> m; ZSCORE z m on redis-server 7.0.15 */
    struct {
        double d;
        const char *text;
    } cases[] = {
        { 1.5, "1.5" },
        { 0.1, "0.10000000000000001" },
        { 1e300, "1.0000000000000001e+300" },
        { 3.0, "3" },
        { -0.0, "0" },
        { INFINITY, "inf" },
        { -INFINITY, "-inf" },
        { 1e15, "1000000000000000" },
        { 9007199254740993.0, "9007199254740992" },
        { 123456789012345678.0, "1.2345678901234568e+17" },
    };
    char t[64];
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct buf b;
        unsigned char *p = buf_new(&b);
        append(&p, &b, dbl(cases[k].d));
        assert_string_equal(text_at(p, pack_first(p), t, sizeof(t)), cases[k].text);
        struct pack_elem e;
        double d;
        pack_get(p, pack_first(p), &e);
        assert_true(pack_elem_double(&e, &d));
        assert_true(d == cases[k].d);
        free(p);
    }
}

/* ---- errors leave the pack as it was ---- */

static void errors_change_nothing(void **state)
{
    (void)state;
    struct buf b;
    unsigned char *p = buf_new(&b);
    append(&p, &b, str("a"));
    append(&p, &b, num(1000));
    unsigned char before[32];
    uint32_t bytes = pack_bytes(p);
    memcpy(before, p, bytes);

    struct pack_elem nan = dbl(NAN),
                     big = str("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    assert_int_equal(pack_splice(&p, PACK_HDR_SMALL, 0, &nan, 1, buf_resize, &b, NULL), -EINVAL);
    assert_int_equal(pack_splice(&p, PACK_HDR_SMALL, 3, NULL, 0, buf_resize, &b, NULL), -ERANGE);
    b.fail = true;
    assert_int_equal(pack_splice(&p, PACK_HDR_SMALL, 0, &big, 1, buf_resize, &b, NULL), -ENOMEM);
    b.fail = false;
    assert_int_equal(pack_bytes(p), bytes);
    assert_memory_equal(p, before, bytes);

    /* PACK_MAX_COUNT elements, then one more */
    struct pack_elem *many = malloc(PACK_MAX_COUNT * sizeof(*many));
    assert_non_null(many);
    for (uint32_t k = 0; k < PACK_MAX_COUNT; k++)
        many[k] = num(k % 128);
    /* a failed resize of a splice that would widen the header: unchanged too */
    b.fail = true;
    assert_int_equal(pack_splice(&p, PACK_HDR_SMALL, 0, many, 600, buf_resize, &b, NULL), -ENOMEM);
    b.fail = false;
    assert_memory_equal(p, before, bytes);
    assert_int_equal(pack_splice(&p, PACK_HDR_SMALL, 2, many, PACK_MAX_COUNT, buf_resize, &b, NULL),
                     0);
    assert_int_equal(pack_count(p), PACK_MAX_COUNT);
    assert_false(pack_small(p));
    assert_int_equal(pack_bytes(p), PACK_HDR_WIDE + PACK_MAX_COUNT);
    struct pack_elem one = num(1);
    assert_int_equal(pack_splice(&p, PACK_HDR_WIDE, 0, &one, 1, buf_resize, &b, NULL), -E2BIG);
    assert_int_equal(pack_splice(&p, PACK_HDR_WIDE, 1, &one, 1, buf_resize, &b, NULL), 0);
    assert_int_equal(pack_seek(p, -1), pack_bytes(p) - 1);
    assert_int_equal(pack_seek(p, PACK_MAX_COUNT - 1), pack_bytes(p) - 1);
    assert_int_equal(pack_seek(p, PACK_MAX_COUNT), 0);
    assert_int_equal(pack_seek(p, -(int64_t)PACK_MAX_COUNT - 1), 0);
    assert_true(pack_validate(p, pack_bytes(p)));
    free(many);
    free(p);
}

/* pack_append_from: a suffix or all of one pack copied onto another; E2BIG leaves it alone. */
static void append_from_copies_suffix(void **state)
{
    (void)state;
    struct buf a, q;
    unsigned char *pa = buf_new(&a), *pq = buf_new(&q);
    append(&pa, &a, str("x"));
    append(&pq, &q, num(5));
    append(&pq, &q, str("two"));
    append(&pq, &q, num(-300));
    append(&pq, &q, dbl(1.5));
    /* from the second element on */
    assert_int_equal(pack_append_from(&pa, pq, pack_next(pq, pack_first(pq)), buf_resize, &a), 0);
    assert_int_equal(pack_count(pa), 4);
    assert_true(pack_validate(pa, pack_bytes(pa)));
    char t[64];
    assert_string_equal(text_at(pa, pack_seek(pa, 1), t, sizeof(t)), "two");
    assert_string_equal(text_at(pa, pack_last(pa), t, sizeof(t)), "1.5");
    assert_string_equal(text_at(pa, pack_prev(pa, pack_seek(pa, 1)), t, sizeof(t)), "x");
    /* all of it; then nothing (off 0) */
    assert_int_equal(pack_append_from(&pa, pq, pack_first(pq), buf_resize, &a), 0);
    assert_int_equal(pack_count(pa), 8);
    assert_string_equal(text_at(pa, pack_seek(pa, 4), t, sizeof(t)), "5");
    uint32_t bytes = pack_bytes(pa);
    assert_int_equal(pack_append_from(&pa, pq, 0, buf_resize, &a), 0);
    assert_int_equal(pack_bytes(pa), bytes);
    assert_true(pack_validate(pa, pack_bytes(pa)));
    /* over PACK_MAX_COUNT: refused, unchanged */
    struct pack_elem *many = malloc(PACK_MAX_COUNT * sizeof(*many));
    assert_non_null(many);
    for (uint32_t k = 0; k < PACK_MAX_COUNT - 8; k++)
        many[k] = num(k % 128);
    assert_int_equal(
        pack_splice(&pa, pack_bytes(pa), 0, many, PACK_MAX_COUNT - 8, buf_resize, &a, NULL), 0);
    bytes = pack_bytes(pa);
    assert_int_equal(pack_append_from(&pa, pq, pack_first(pq), buf_resize, &a), -E2BIG);
    assert_int_equal(pack_bytes(pa), bytes);
    assert_int_equal(pack_count(pa), PACK_MAX_COUNT);
    /* a failed resize: -ENOMEM, unchanged */
    struct buf c;
    unsigned char *pc = buf_new(&c);
    c.fail = true;
    assert_int_equal(pack_append_from(&pc, pq, pack_first(pq), buf_resize, &c), -ENOMEM);
    assert_int_equal(pack_bytes(pc), PACK_HDR_SMALL);
    free(many);
    free(pa);
    free(pq);
    free(pc);
}

/* Write a wide header (bytes, count) at c. */
static void wide_header(unsigned char *c, uint32_t bytes, uint32_t count)
{
    uint32_t b = bytes << 1;
    memcpy(c,
           (unsigned char[]){ b & 0xFF, (b >> 8) & 0xFF, (b >> 16) & 0xFF, b >> 24, count & 0xFF,
                              count >> 8 },
           PACK_HDR_WIDE);
}

static void validate_rejects_bad_packs(void **state)
{
    (void)state;
    struct buf b;
    unsigned char *p = buf_new(&b);
    append(&p, &b, str("hello"));
    append(&p, &b, num(300));
    uint32_t n = pack_bytes(p);
    unsigned char c[64];
    assert_true(pack_validate(p, n));
    assert_false(pack_validate(p, n - 1)); /* size differs from the header */
    memcpy(c, p, n);
    c[2] = 2; /* count: 4 */
    assert_false(pack_validate(c, n));
    memcpy(c, p, n);
    c[PACK_HDR_SMALL] = 0xE7; /* no such tag */
    assert_false(pack_validate(c, n));
    memcpy(c, p, n);
    c[PACK_HDR_SMALL + 6] = 0x85; /* tail says 6 bytes, head has 6: still good */
    assert_true(pack_validate(c, n));
    c[PACK_HDR_SMALL + 6] = 0x84; /* tail disagrees with the head */
    assert_false(pack_validate(c, n));
    memcpy(c, p, n);
    c[PACK_HDR_SMALL] = 0x86; /* the string runs into the next element */
    assert_false(pack_validate(c, n));
    /* the same elements under a wide header: as good */
    c[0] = 0;
    wide_header(c, n + 3, 2);
    memcpy(c + PACK_HDR_WIDE, p + PACK_HDR_SMALL, n - PACK_HDR_SMALL);
    assert_true(pack_validate(c, n + 3));
    assert_int_equal(pack_count(c), 2);
    assert_false(pack_validate(c, 5)); /* shorter than a wide header */
    /* a string holding a canonical integer is not what pack_splice writes */
    const unsigned char strint[] = { 20, 0, 0, 0, 1, 0, 0x82, '1', '2', 0x82 };
    assert_false(pack_validate(strint, sizeof(strint)));
    /* 300 in eight bytes instead of two */
    const unsigned char wide[] = { 32, 0, 0, 0, 1, 0, 0xE3, 0x2C, 1, 0, 0, 0, 0, 0, 0, 0x88 };
    assert_false(pack_validate(wide, sizeof(wide)));
    const unsigned char trunc[] = { 16, 0, 0, 0, 1, 0, 0xE5, 0xFF };
    assert_false(pack_validate(trunc, sizeof(trunc)));
    const unsigned char small_trunc[] = { 1 | 5 << 1, 0x80, 0, 0xE5, 0xFF };
    assert_false(pack_validate(small_trunc, sizeof(small_trunc)));
    free(p);
}

/* Tail widths change at heads of 65, 8193 and 1048577 bytes (strings of 64, 8190, 1048572). */
static void long_strings_walk_both_ways(void **state)
{
    (void)state;
    size_t lens[] = { 63, 64, 8189, 8190, 65535, 65536, 1048571, 1048572, 0 };
    size_t nl = sizeof(lens) / sizeof(lens[0]);
    char *s = malloc(1048572);
    assert_non_null(s);
    memset(s, 'q', 1048572);
    size_t sizes[] = { 65, 69, 8194, 8196, 65541, 65544, 1048579, 1048581, 2 };
    struct buf b;
    unsigned char *p = buf_new(&b);
    for (size_t k = 0; k < nl; k++) {
        struct pack_elem e = { .kind = PACK_STR, .s = (unsigned char *)s, .len = lens[k] };
        assert_int_equal(pack_elem_size(&e), sizes[k]);
    }
    for (size_t k = 0; k < nl; k++) {
        struct pack_elem e = { .kind = PACK_STR, .s = (unsigned char *)s, .len = lens[k] };
        append(&p, &b, e);
        append(&p, &b, num((int64_t)k));
    }
    assert_true(pack_validate(p, pack_bytes(p)));
    uint32_t off = pack_last(p);
    for (size_t k = nl; k-- > 0;) {
        struct pack_elem e;
        pack_get(p, off, &e);
        assert_int_equal(e.kind, PACK_INT);
        assert_int_equal(e.i, (int64_t)k);
        off = pack_prev(p, off);
        pack_get(p, off, &e);
        assert_int_equal(e.kind, PACK_STR);
        assert_int_equal(e.len, lens[k]);
        off = pack_prev(p, off);
    }
    assert_int_equal(off, 0);
    free(s);
    free(p);
}

/* ---- random splices against a model ---- */

struct mel {
    enum pack_kind kind;
    int64_t i;
    double d;
    char *s;
    size_t len;
};

static uint64_t rng;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static const int64_t int_edges[] = { 0,
                                     1,
                                     127,
                                     128,
                                     -1,
                                     4095,
                                     4096,
                                     -4096,
                                     -4097,
                                     INT16_MAX,
                                     INT16_MAX + 1,
                                     INT16_MIN,
                                     INT16_MIN - 1,
                                     (1 << 23) - 1,
                                     1 << 23,
                                     -(1 << 23),
                                     -(1 << 23) - 1,
                                     INT32_MAX,
                                     (int64_t)INT32_MAX + 1,
                                     INT32_MIN,
                                     (int64_t)INT32_MIN - 1,
                                     INT64_MAX,
                                     INT64_MIN };
static const size_t len_edges[] = { 0, 1, 2, 62, 63, 64, 65, 200, 8187, 8188, 8189, 8190 };
static const char *int_like[] = { "0",
                                  "10",
                                  "-7",
                                  "9223372036854775807",
                                  "-9223372036854775808",
                                  "01",
                                  "-0",
                                  "+1",
                                  " 1",
                                  "9223372036854775808",
                                  "1a",
                                  "",
                                  "4096" };
static const double dbl_edges[] = { 1.5,
                                    0.1,
                                    -2.25,
                                    1e300,
                                    -1e-300,
                                    3.0,
                                    -0.0,
                                    1e15,
                                    9007199254740992.0,
                                    -9007199254740992.0,
                                    9007199254740991.0 };

static struct mel random_mel(void)
{
    struct mel m = { 0 };
    uint64_t r = rnd();
    switch (r % 8) {
    case 0:
    case 1:
        m.kind = PACK_INT;
        m.i = int_edges[(r >> 8) % (sizeof(int_edges) / sizeof(int_edges[0]))];
        if ((r >> 16) & 1)
            m.i = (int64_t)rnd() >> (rnd() % 64);
        break;
    case 2: {
        m.kind = PACK_DBL;
        uint64_t w = (r >> 8) % 16;
        if (w < 11)
            m.d = dbl_edges[w];
        else if (w == 11)
            m.d = INFINITY;
        else if (w == 12)
            m.d = -INFINITY;
        else
            m.d = (double)(int64_t)rnd() / (double)(1 + rnd() % 1000000);
        break;
    }
    case 3: {
        m.kind = PACK_STR;
        const char *t = int_like[(r >> 8) % (sizeof(int_like) / sizeof(int_like[0]))];
        m.len = strlen(t);
        m.s = malloc(m.len + 1);
        memcpy(m.s, t, m.len + 1);
        break;
    }
    default:
        m.kind = PACK_STR;
        m.len = (r >> 8) % 64 == 0
                    ? 65535 + (r >> 20) % 2
                    : len_edges[(r >> 8) % (sizeof(len_edges) / sizeof(len_edges[0]))];
        if ((r >> 30) % 4 == 0)
            m.len = (r >> 32) % 100;
        m.s = malloc(m.len + 1);
        for (size_t k = 0; k < m.len; k++)
            m.s[k] = (char)('a' + rnd() % 26);
        m.s[m.len] = '\0';
        break;
    }
    return m;
}

static struct pack_elem mel_elem(const struct mel *m)
{
    struct pack_elem e = { .kind = m->kind };
    if (m->kind == PACK_INT)
        e.i = m->i;
    else if (m->kind == PACK_DBL)
        e.d = m->d;
    else {
        e.s = (const unsigned char *)m->s;
        e.len = m->len;
    }
    return e;
}

static size_t tail_bytes(size_t s)
{
    size_t v = s - 1;
    return v < 64 ? 1 : v < 8192 ? 2 : v < (1u << 20) ? 3 : v < (1u << 27) ? 4 : 5;
}

static size_t int_size(int64_t v)
{
    if (v >= 0 && v <= 127)
        return 1;
    if (v >= -4096 && v <= 4095)
        return 3;
    if (v >= INT16_MIN && v <= INT16_MAX)
        return 4;
    if (v >= -(1 << 23) && v < (1 << 23))
        return 5;
    if (v >= INT32_MIN && v <= INT32_MAX)
        return 6;
    return 10;
}

/* Check one element against the model: kind, value, text, and return its expected size. */
static size_t check_elem(const unsigned char *p, uint32_t off, const struct mel *m)
{
    struct pack_elem e;
    pack_get(p, off, &e);
    char nb[PACK_TEXT_BUF];
    const unsigned char *t;
    size_t tl = pack_elem_text(&e, nb, &t);
    switch (m->kind) {
    case PACK_INT:
        assert_int_equal(e.kind, PACK_INT);
        assert_true(e.i == m->i);
        return int_size(m->i);
    case PACK_DBL: {
        double d;
        assert_true(pack_elem_double(&e, &d));
        assert_true(d == m->d);
        bool integral = fabs(m->d) < 9007199254740992.0 && floor(m->d) == m->d;
        assert_int_equal(e.kind, integral ? PACK_INT : PACK_DBL);
        return integral ? int_size((int64_t)m->d) : 10;
    }
    case PACK_STR:
    default:
        /* same text whatever the kind; an integer only if its decimal is this string */
        assert_int_equal(tl, m->len);
        assert_memory_equal(t, m->s, m->len);
        if (e.kind == PACK_INT)
            return int_size(e.i);
        assert_int_equal(e.kind, PACK_STR);
        if (m->len <= 63)
            return m->len + 2;
        size_t s = m->len + (m->len <= 65535 ? 3 : 5);
        return s + tail_bytes(s);
    }
}

/*
 * The model's idea of an element's value as text, for lookups: strings as they are (a
 * canonical integer string then equals the integer), integers in decimal, an integral double
 * below 2^53 as the integer it is stored as; (size_t)-1 for other doubles, which equal
 * nothing. Strings are written nowhere: the caller compares m->s.
 */
static size_t model_text(const struct mel *m, char *buf)
{
    if (m->kind == PACK_STR)
        return m->len;
    if (m->kind == PACK_INT)
        return (size_t)sprintf(buf, "%lld", (long long)m->i);
    if (fabs(m->d) < 9007199254740992.0 && floor(m->d) == m->d)
        return (size_t)sprintf(buf, "%lld", (long long)m->d);
    return (size_t)-1;
}

static void check_all(const unsigned char *p, const struct buf *b, const struct mel *model,
                      uint32_t n)
{
    assert_int_equal(pack_count(p), n);
    assert_int_equal(pack_bytes(p), b->cap);
    assert_true(pack_validate(p, pack_bytes(p)));
    size_t total = pack_hdr(p);
    uint32_t off = pack_first(p);
    for (uint32_t k = 0; k < n; k++) {
        assert_int_not_equal(off, 0);
        total += check_elem(p, off, &model[k]);
        off = pack_next(p, off);
    }
    assert_int_equal(off, 0);
    assert_int_equal(pack_bytes(p), total);
    off = pack_last(p);
    for (uint32_t k = n; k-- > 0;) {
        assert_int_not_equal(off, 0);
        check_elem(p, off, &model[k]);
        off = pack_prev(p, off);
    }
    assert_int_equal(off, 0);
    if (n > 0) {
        uint32_t k = (uint32_t)(rnd() % n);
        check_elem(p, pack_seek(p, k), &model[k]);
        check_elem(p, pack_seek(p, (int64_t)k - n), &model[k]);
        /* find it by value, every element and every second one, as the model says */
        struct pack_needle nd;
        if (model[k].kind == PACK_STR)
            pack_needle_str(&nd, model[k].s, model[k].len);
        else if (model[k].kind == PACK_INT)
            pack_needle_int(&nd, model[k].i);
        else
            return;
        char want[32], have[32];
        size_t wl = model_text(&model[k], want);
        for (uint32_t step = 1; step <= 2; step++) {
            uint32_t j = 0;
            while (j < n && (model_text(&model[j], have) != wl ||
                             memcmp(model[j].kind == PACK_STR ? model[j].s : have,
                                    model[k].kind == PACK_STR ? model[k].s : want, wl) != 0))
                j += step;
            assert_int_equal(pack_find(p, pack_first(p), &nd, step), j < n ? pack_seek(p, j) : 0);
        }
    }
}

#define MODEL_MAX 700

/* A random element; with short_only, never a string longer than 16 bytes. */
static struct mel random_mel_of(bool short_only)
{
    for (;;) {
        struct mel m = random_mel();
        if (!short_only || m.kind != PACK_STR || m.len <= 16)
            return m;
        free(m.s);
    }
}

/*
 * 5000 random splices from an empty pack, checked against a model after each. The pack keeps
 * about `around` elements (inserts thin out above it); short_only keeps it under 16 KB, so it
 * is the count that widens the header (at 512 elements), not the bytes.
 */
static void run_model(uint64_t seed, uint32_t around, bool short_only)
{
    rng = seed;
    struct mel *model = calloc(MODEL_MAX, sizeof(*model));
    assert_non_null(model);
    uint32_t n = 0;
    bool was_wide = false;
    struct buf b;
    unsigned char *p = buf_new(&b);
    for (int step = 0; step < 5000; step++) {
        uint32_t at = (uint32_t)(rnd() % (n + 1));
        uint32_t maxdel = n - at < 4 ? n - at : 4;
        uint32_t ndel = (uint32_t)(rnd() % (maxdel + 1));
        uint32_t nins = (uint32_t)(rnd() % 4);
        if (n > around) /* bias toward deletes */
            nins = nins > 1 ? 1 : nins;
        else if (short_only) /* toward inserts, to get there */
            ndel /= 2;
        if (rnd() % 50 == 0 && !short_only) { /* sometimes a bulk delete */
            ndel = n - at;
            nins = 0;
        }
        if (n - ndel + nins > MODEL_MAX)
            nins = 0;
        struct mel ins[4];
        struct pack_elem el[4];
        for (uint32_t k = 0; k < nins; k++) {
            ins[k] = random_mel_of(short_only);
            el[k] = mel_elem(&ins[k]);
        }
        uint32_t off = n == at ? pack_bytes(p) : pack_seek(p, at), out = 0;
        int rc = pack_splice(&p, off, ndel, el, nins, buf_resize, &b, &out);
        if (rc != 0)
            fail_msg("seed %llu step %d: splice at %u del %u ins %u: %d", (unsigned long long)seed,
                     step, at, ndel, nins, rc);
        /* the first inserted element, or the one after the deleted ones, is at `at` */
        assert_int_equal(out, at < n - ndel + nins ? pack_seek(p, at) : pack_bytes(p));
        for (uint32_t k = at; k < at + ndel; k++)
            free(model[k].s);
        memmove(model + at + nins, model + at + ndel, (n - at - ndel) * sizeof(*model));
        memcpy(model + at, ins, nins * sizeof(*model));
        n = n - ndel + nins;
        check_all(p, &b, model, n);
        /* small exactly until it no longer fits, then wide for good */
        if (!was_wide)
            assert_int_equal(pack_small(p),
                             n <= PACK_SMALL_COUNT && pack_bytes(p) <= PACK_SMALL_BYTES);
        assert_true(!was_wide || !pack_small(p));
        was_wide = !pack_small(p);
    }
    assert_true(b.moves > 10);
    assert_true(was_wide);
    for (uint32_t k = 0; k < n; k++)
        free(model[k].s);
    free(model);
    free(p);
}

static void random_splices_match_model(void **state)
{
    (void)state;
    const uint64_t seeds[] = { 0x9E3779B97F4A7C15ull, 42, 20261206 };
    for (size_t si = 0; si < sizeof(seeds) / sizeof(seeds[0]); si++)
        run_model(seeds[si], 120, false);
}

/* The count crossing 511 widens a small pack in the middle of a splice, at any offset. */
static void small_header_widens_on_count(void **state)
{
    (void)state;
    const uint64_t seeds[] = { 7, 20261207 };
    for (size_t si = 0; si < sizeof(seeds) / sizeof(seeds[0]); si++)
        run_model(seeds[si], 600, true);
    /* pack_append_from widens as well */
    struct buf a, q;
    unsigned char *pa = buf_new(&a), *pq = buf_new(&q);
    for (int i = 0; i < 300; i++) {
        append(&pa, &a, num(i));
        append(&pq, &q, num(1000 + i));
    }
    assert_true(pack_small(pa) && pack_small(pq));
    assert_int_equal(pack_append_from(&pa, pq, pack_first(pq), buf_resize, &a), 0);
    assert_false(pack_small(pa));
    assert_int_equal(pack_count(pa), 600);
    assert_true(pack_validate(pa, pack_bytes(pa)));
    assert_int_equal(pack_first(pa), PACK_HDR_WIDE);
    char t[32];
    for (int i = 0; i < 600; i += 37)
        assert_int_equal(atoi(text_at(pa, pack_seek(pa, i), t, sizeof(t))), i < 300 ? i : 700 + i);
    free(pa);
    free(pq);
}

/* Hash-style lookups: fields at even positions; a value equal to a field name is skipped. */
static void find_steps_over_values(void **state)
{
    (void)state;
    struct buf b;
    unsigned char *p = buf_new(&b);
    char f[32], v[32];
    for (int i = 0; i < 128; i++) {
        snprintf(f, sizeof(f), "field:%d", i);
        snprintf(v, sizeof(v), "field:%d", 1000 + i); /* looks like a later field */
        append(&p, &b, str(f));
        append(&p, &b, str(v));
    }
    struct pack_needle n;
    for (int i = 0; i < 128; i++) {
        snprintf(f, sizeof(f), "field:%d", i);
        pack_needle_str(&n, f, strlen(f));
        assert_int_equal(pack_find(p, pack_first(p), &n, 2), pack_seek(p, 2 * i));
    }
    snprintf(f, sizeof(f), "field:%d", 1005);
    pack_needle_str(&n, f, strlen(f));
    assert_int_equal(pack_find(p, pack_first(p), &n, 2), 0);
    assert_int_equal(pack_find(p, pack_first(p), &n, 1), pack_seek(p, 11));
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(layout_is_the_documented_one),
        cmocka_unit_test(sizes_reported_in_notes),
        cmocka_unit_test(canonical_integers_only),
        cmocka_unit_test(compares_like_redis),
        cmocka_unit_test(score_text_as_redis_replies),
        cmocka_unit_test(errors_change_nothing),
        cmocka_unit_test(append_from_copies_suffix),
        cmocka_unit_test(validate_rejects_bad_packs),
        cmocka_unit_test(long_strings_walk_both_ways),
        cmocka_unit_test(random_splices_match_model),
        cmocka_unit_test(small_header_widens_on_count),
        cmocka_unit_test(find_steps_over_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
