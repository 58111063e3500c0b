/*
 * The pack encoding (pack.h; layout and measurements in NOTES.md).
 *
 * Element = head (a tag byte, then its data) + tail (the head's size, written backward).
 * Integers 0..127 are one byte, the tag itself, and have no tail: a byte below 0x80 at the
 * end of an element can only be such an integer, because every tail's last byte has its top
 * bit set. Tags:
 *
 *   tag          element                                          bytes all told
 *   0x00..0x7F   integer 0..127 (the tag is the value)            1 (no tail)
 *   0x80..0xBF   string of length 0..63 (tag & 0x3F), its bytes   len + 2
 *   0xC0..0xDF   integer -4096..4095: 13 bits, the top 5 in the   3
 *                tag, the low 8 in the next byte
 *   0xE0..0xE3   integer in 2, 3, 4, 8 bytes (LE two's complement) 4, 5, 6, 10
 *   0xE4         double, 8 bytes (IEEE 754 bits, LE)              10
 *   0xE5, 0xE6   string with a 2- or 4-byte length (LE)           len + 5 .. len + 10
 *
 * Tail: v = head size - 1. The last byte is 0x80 | (more ? 0x40 : 0) | (v & 0x3F); each
 * byte before it holds the next 7 bits, its top bit set when another byte precedes it. A
 * head of up to 64 bytes (strings up to 63) has a one-byte tail.
 */
#include "types/pack.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include "base/util.h"

enum {
    T_STR6 = 0x80,
    T_INT13 = 0xC0,
    T_INT16 = 0xE0,
    T_INT24 = 0xE1,
    T_INT32 = 0xE2,
    T_INT64 = 0xE3,
    T_DBL = 0xE4,
    T_STR16 = 0xE5,
    T_STR32 = 0xE6,
};

#define STR6_MAX  63u
#define STR16_MAX 65535u
/* A string this long or longer cannot be an element (its head size would not fit 32 bits). */
#define STR_LIMIT (PACK_MAX_BYTES - 16u)

static inline uint64_t rd_le(const unsigned char *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static inline void wr_le(unsigned char *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Sign-extend the low `bits` bits of u. */
static inline int64_t sext(uint64_t u, unsigned bits)
{
    uint64_t m = 1ull << (bits - 1);
    u &= (m << 1) - 1;
    return (int64_t)((u ^ m) - m); /* unsigned arithmetic: no overflow at 64 bits */
}

/* Bytes of the tail that records a head of s bytes (s >= 1). */
static inline uint32_t tail_size(uint64_t s)
{
    uint64_t v = s - 1;
    return v < 64 ? 1 : v < (1u << 13) ? 2 : v < (1u << 20) ? 3 : v < (1u << 27) ? 4 : 5;
}

/* Write the tail for a head of s bytes at dst; returns its size. */
static uint32_t tail_write(unsigned char *dst, uint32_t s)
{
    uint32_t n = tail_size(s);
    uint32_t v = s - 1;
    dst[n - 1] = (unsigned char)(0x80 | (n > 1 ? 0x40 : 0) | (v & 0x3F));
    v >>= 6;
    for (uint32_t k = 2; k <= n; k++, v >>= 7)
        dst[n - k] = (unsigned char)((v & 0x7F) | (k < n ? 0x80 : 0));
    return n;
}

/* Data bytes of the integer encodings 0xE0..0xE3. */
static const unsigned char int_width[] = { 2, 3, 4, 8 };

/* The whole element's size, from its head. */
static inline uint32_t elem_size(const unsigned char *e)
{
    unsigned t = e[0];
    if (t < T_STR6)
        return 1;
    if (t < T_INT13)
        return (t & 0x3F) + 2;
    if (t < T_INT16)
        return 3;
    if (t <= T_DBL)
        return (t == T_DBL ? 8 : int_width[t - T_INT16]) + 2;
    uint32_t s = t == T_STR16 ? 3 + (uint32_t)rd_le(e + 1, 2) : 5 + (uint32_t)rd_le(e + 1, 4);
    return s + tail_size(s);
}

/* Whether a pack of bytes and count fits the small header. */
static inline bool fits_small(uint64_t bytes, uint64_t count)
{
    return bytes <= PACK_SMALL_BYTES && count <= PACK_SMALL_COUNT;
}

/* Rewrite the header in p's form (small: bytes and count must fit it). */
static inline void set_header(unsigned char *p, uint32_t bytes, uint32_t count)
{
    if (pack_small(p)) {
        assert(fits_small(bytes, count));
        wr_le(p, 1u | bytes << 1 | count << 15, 3);
    } else {
        wr_le(p, (uint64_t)bytes << 1, 4);
        wr_le(p + 4, count, 2);
    }
}

void pack_init(unsigned char *p)
{
    p[0] = 1;
    set_header(p, PACK_HDR_SMALL, 0);
}

void pack_init_wide(unsigned char *p)
{
    p[0] = 0;
    set_header(p, PACK_HDR_WIDE, 0);
}

uint32_t pack_first(const unsigned char *p)
{
    uint32_t h = pack_hdr(p);
    return pack_bytes(p) > h ? h : 0;
}

/*
 * The header growth (0, or PACK_HDR_WIDE - PACK_HDR_SMALL) of a pack that will hold bytes
 * (counted with its present header) and count elements: a small pack widens when they no
 * longer fit; a wide pack stays wide.
 */
static inline uint32_t widen_by(const unsigned char *p, uint64_t bytes, uint64_t count)
{
    return pack_small(p) && !fits_small(bytes, count) ? PACK_HDR_WIDE - PACK_HDR_SMALL : 0;
}

/*
 * Widen a small pack in place, in a buffer with room for it: its bytes [PACK_HDR_SMALL, upto)
 * move up to PACK_HDR_WIDE. The caller writes the header's figures next (set_header).
 */
static void widen(unsigned char *p, uint32_t upto)
{
    memmove(p + PACK_HDR_WIDE, p + PACK_HDR_SMALL, upto - PACK_HDR_SMALL);
    p[0] = 0;
}

uint32_t pack_next(const unsigned char *p, uint32_t off)
{
    off += elem_size(p + off);
    return off < pack_bytes(p) ? off : 0;
}

uint32_t pack_prev(const unsigned char *p, uint32_t off)
{
    if (off <= pack_hdr(p))
        return 0;
    unsigned b = p[off - 1];
    if (b < 0x80)
        return off - 1;
    uint64_t v = b & 0x3F;
    uint32_t n = 1;
    if (b & 0x40) {
        unsigned shift = 6, q;
        do {
            q = p[off - 1 - n];
            v |= (uint64_t)(q & 0x7F) << shift;
            shift += 7;
            n++;
        } while (q & 0x80);
    }
    return off - n - (uint32_t)(v + 1);
}

uint32_t pack_last(const unsigned char *p)
{
    return pack_prev(p, pack_bytes(p));
}

uint32_t pack_seek(const unsigned char *p, int64_t idx)
{
    int64_t count = pack_count(p);
    if (idx < 0)
        idx += count;
    if (idx < 0 || idx >= count)
        return 0;
    uint32_t off;
    if (idx <= count / 2) {
        off = pack_hdr(p);
        while (idx-- > 0)
            off += elem_size(p + off);
    } else {
        off = pack_bytes(p);
        for (int64_t k = count - idx; k > 0; k--)
            off = pack_prev(p, off);
    }
    return off;
}

void pack_get(const unsigned char *p, uint32_t off, struct pack_elem *e)
{
    const unsigned char *h = p + off;
    unsigned t = h[0];
    e->len = 0;
    if (t < T_STR6) {
        e->kind = PACK_INT;
        e->i = t;
    } else if (t < T_INT13) {
        e->kind = PACK_STR;
        e->s = h + 1;
        e->len = t & 0x3F;
    } else if (t < T_INT16) {
        e->kind = PACK_INT;
        e->i = sext((uint64_t)(t & 0x1F) << 8 | h[1], 13);
    } else if (t < T_DBL) {
        unsigned w = int_width[t - T_INT16];
        e->kind = PACK_INT;
        e->i = sext(rd_le(h + 1, w), 8 * w);
    } else if (t == T_DBL) {
        uint64_t bits = rd_le(h + 1, 8);
        e->kind = PACK_DBL;
        memcpy(&e->d, &bits, 8);
    } else {
        unsigned w = t == T_STR16 ? 2 : 4;
        e->kind = PACK_STR;
        e->len = (size_t)rd_le(h + 1, w);
        e->s = h + 1 + w;
    }
}

size_t pack_elem_text(const struct pack_elem *e, char *buf, const unsigned char **out)
{
    switch (e->kind) {
    case PACK_STR:
        *out = e->s;
        return e->len;
    case PACK_INT:
        *out = (const unsigned char *)buf;
        return util_ll2str(buf, e->i);
    case PACK_DBL:
    default:
        *out = (const unsigned char *)buf;
        return util_d2str(buf, PACK_TEXT_BUF, e->d);
    }
}

bool pack_elem_double(const struct pack_elem *e, double *out)
{
    if (e->kind == PACK_STR)
        return false;
    *out = e->kind == PACK_INT ? (double)e->i : e->d;
    return true;
}

/* Whether d is stored as an integer: integral, below 2^53 in magnitude (-0.0 included). */
static inline bool dbl_is_int(double d, int64_t *out)
{
    if (!(d > -PACK_DBL_INT_MAX && d < PACK_DBL_INT_MAX))
        return false;
    int64_t i = (int64_t)d;
    if ((double)i != d)
        return false;
    *out = i;
    return true;
}

static inline bool str_is_int(const unsigned char *s, size_t len, int64_t *out)
{
    long long v;
    /* the first byte rules out most strings before the parser runs */
    if (len == 0 || len > 20 || !((s[0] >= '0' && s[0] <= '9') || s[0] == '-'))
        return false;
    if (!util_str2ll((const char *)s, len, &v))
        return false;
    *out = v;
    return true;
}

/* The element as it will be stored: canonical-integer strings and integral doubles as ints. */
static inline void normalize(const struct pack_elem *in, struct pack_elem *out)
{
    *out = *in;
    int64_t i;
    if ((in->kind == PACK_STR && str_is_int(in->s, in->len, &i)) ||
        (in->kind == PACK_DBL && dbl_is_int(in->d, &i))) {
        out->kind = PACK_INT;
        out->i = i;
        out->len = 0;
    }
}

/* Width in bytes of the 0xE0..0xE3 encoding of v (13-bit and 7-bit values excluded). */
static inline unsigned int_bytes(int64_t v)
{
    if (v >= INT16_MIN && v <= INT16_MAX)
        return 2;
    if (v >= -(1 << 23) && v < (1 << 23))
        return 3;
    if (v >= INT32_MIN && v <= INT32_MAX)
        return 4;
    return 8;
}

/* Size of a normalized element; 0 when it cannot be stored. */
static size_t norm_size(const struct pack_elem *e)
{
    switch (e->kind) {
    case PACK_INT:
        if (e->i >= 0 && e->i < 128)
            return 1;
        if (e->i >= -4096 && e->i < 4096)
            return 3;
        return int_bytes(e->i) + 2;
    case PACK_DBL:
        return isnan(e->d) ? 0 : 10;
    case PACK_STR:
    default:
        if (e->len <= STR6_MAX)
            return e->len + 2;
        if (e->len >= STR_LIMIT)
            return 0;
        uint64_t s = e->len + (e->len <= STR16_MAX ? 3 : 5);
        return s + tail_size(s);
    }
}

size_t pack_elem_size(const struct pack_elem *e)
{
    struct pack_elem n;
    normalize(e, &n);
    return norm_size(&n);
}

/*
 * Write the head of a normalized element at dst, up to its string bytes (tag and length):
 * for a number that is the whole head, for a string the part before its bytes.
 * @return the bytes written.
 */
static uint32_t head_write(unsigned char *dst, const struct pack_elem *e)
{
    switch (e->kind) {
    case PACK_INT:
        if (e->i >= 0 && e->i < 128) {
            dst[0] = (unsigned char)e->i;
            return 1;
        }
        if (e->i >= -4096 && e->i < 4096) {
            uint64_t u = (uint64_t)e->i & 0x1FFF;
            dst[0] = (unsigned char)(T_INT13 | u >> 8);
            dst[1] = (unsigned char)u;
            return 2;
        } else {
            unsigned w = int_bytes(e->i);
            dst[0] = (unsigned char)(w == 2   ? T_INT16
                                     : w == 3 ? T_INT24
                                     : w == 4 ? T_INT32
                                              : T_INT64);
            wr_le(dst + 1, (uint64_t)e->i, w);
            return w + 1;
        }
    case PACK_DBL: {
        uint64_t bits;
        memcpy(&bits, &e->d, 8);
        dst[0] = T_DBL;
        wr_le(dst + 1, bits, 8);
        return 9;
    }
    case PACK_STR:
    default:
        if (e->len <= STR6_MAX) {
            dst[0] = (unsigned char)(T_STR6 | e->len);
            return 1;
        } else if (e->len <= STR16_MAX) {
            dst[0] = T_STR16;
            wr_le(dst + 1, e->len, 2);
            return 3;
        }
        dst[0] = T_STR32;
        wr_le(dst + 1, e->len, 4);
        return 5;
    }
}

/* Encode a normalized element at dst; returns its size. */
static uint32_t encode(unsigned char *dst, const struct pack_elem *e)
{
    uint32_t s = head_write(dst, e);
    if (e->kind == PACK_INT && s == 1)
        return 1; /* 0..127: no tail */
    if (e->kind == PACK_STR && e->len > 0) {
        memcpy(dst + s, e->s, e->len);
        s += (uint32_t)e->len;
    }
    return s + tail_write(dst + s, s);
}

/*
 * A needle is the head an equal element would have: since pack_splice writes every
 * element in one canonical form, equality is a comparison of those bytes (then of the
 * string's bytes). The first byte alone rejects most elements.
 */
static void needle_init(struct pack_needle *n, const struct pack_elem *e)
{
    bool str = e->kind == PACK_STR;
    n->s = str ? e->s : NULL;
    n->len = str ? e->len : 0;
    if (str && e->len >= STR_LIMIT) { /* longer than any element: a tag no pack holds */
        n->head[0] = 0xFF;
        n->head_len = 1;
        return;
    }
    n->head_len = (uint8_t)head_write(n->head, e);
}

void pack_needle_str(struct pack_needle *n, const void *s, size_t len)
{
    struct pack_elem e = { .kind = PACK_STR, .s = s, .len = len }, norm;
    normalize(&e, &norm);
    needle_init(n, &norm);
}

void pack_needle_int(struct pack_needle *n, int64_t v)
{
    struct pack_elem e = { .kind = PACK_INT, .i = v };
    needle_init(n, &e);
}

static inline bool eq_at(const unsigned char *h, const struct pack_needle *n)
{
    if (h[0] != n->head[0] || memcmp(h + 1, n->head + 1, n->head_len - 1u) != 0)
        return false;
    if (n->len == 0)
        return true;
    /* names often share a prefix ("field:1", "field:2"): the last byte tells them apart */
    const unsigned char *d = h + n->head_len;
    return d[n->len - 1] == n->s[n->len - 1] && memcmp(d, n->s, n->len - 1) == 0;
}

bool pack_eq(const unsigned char *p, uint32_t off, const struct pack_needle *n)
{
    return eq_at(p + off, n);
}

uint32_t pack_find(const unsigned char *p, uint32_t off, const struct pack_needle *n, uint32_t step)
{
    uint32_t bytes = pack_bytes(p);
    assert(step >= 1);
    while (off != 0 && off < bytes) {
        if (eq_at(p + off, n))
            return off;
        for (uint32_t k = 0; k < step && off < bytes; k++)
            off += elem_size(p + off);
    }
    return 0;
}

int pack_splice(unsigned char **pp, uint32_t off, uint32_t ndel, const struct pack_elem *ins,
                uint32_t nins, pack_resize_fn resize, void *ctx, uint32_t *out_off)
{
    unsigned char *p = *pp;
    uint32_t bytes = pack_bytes(p), count = pack_count(p);
    assert(off >= pack_hdr(p) && off <= bytes);

    uint32_t end = off;
    for (uint32_t k = 0; k < ndel; k++) {
        if (end >= bytes)
            return -ERANGE;
        end += elem_size(p + end);
    }
    uint64_t add = 0;
    for (uint32_t k = 0; k < nins; k++) {
        /* a string inside the pack would be moved or overwritten under the copy */
        assert(ins[k].kind != PACK_STR || ins[k].len == 0 ||
               (uintptr_t)ins[k].s + ins[k].len <= (uintptr_t)p ||
               (uintptr_t)ins[k].s >= (uintptr_t)p + bytes);
        size_t sz = pack_elem_size(&ins[k]);
        if (sz == 0)
            return -EINVAL;
        add += sz;
    }
    uint64_t ncount = (uint64_t)count - ndel + nins;
    uint64_t nbytes = (uint64_t)bytes - (end - off) + add;
    uint32_t wide = widen_by(p, nbytes, ncount);
    nbytes += wide;
    if (nbytes > PACK_MAX_BYTES || ncount > PACK_MAX_COUNT)
        return -E2BIG;

    /* grow before moving bytes up, shrink after moving them down */
    if (nbytes > bytes) {
        unsigned char *q = resize(ctx, p, (size_t)nbytes);
        if (q == NULL)
            return -ENOMEM;
        p = q;
    }
    /* the elements after the edit first: the ones before it then move up into no one's way */
    if (off + wide + add != end && end < bytes)
        memmove(p + off + wide + add, p + end, bytes - end);
    if (wide != 0) {
        widen(p, off);
        off += wide;
    }
    unsigned char *w = p + off;
    for (uint32_t k = 0; k < nins; k++) {
        struct pack_elem n;
        normalize(&ins[k], &n);
        w += encode(w, &n);
    }
    set_header(p, (uint32_t)nbytes, (uint32_t)ncount);
    if (nbytes < bytes) {
        unsigned char *q = resize(ctx, p, (size_t)nbytes);
        if (q != NULL)
            p = q;
    }
    *pp = p;
    if (out_off != NULL)
        *out_off = off;
    return 0;
}

int pack_append_from(unsigned char **pp, const unsigned char *q, uint32_t off,
                     pack_resize_fn resize, void *ctx)
{
    unsigned char *p = *pp;
    uint32_t qbytes = pack_bytes(q), bytes = pack_bytes(p);
    if (off == 0 || off >= qbytes)
        return 0;
    uint32_t n = 0;
    if (off == pack_hdr(q))
        n = pack_count(q);
    else
        for (uint32_t o = off; o != 0; o = pack_next(q, o))
            n++;
    uint64_t ncount = (uint64_t)pack_count(p) + n;
    uint64_t nbytes = (uint64_t)bytes + (qbytes - off);
    uint32_t wide = widen_by(p, nbytes, ncount);
    nbytes += wide;
    if (nbytes > PACK_MAX_BYTES || ncount > PACK_MAX_COUNT)
        return -E2BIG;
    p = resize(ctx, p, (size_t)nbytes);
    if (p == NULL)
        return -ENOMEM;
    if (wide != 0)
        widen(p, bytes);
    memcpy(p + bytes + wide, q + off, qbytes - off);
    set_header(p, (uint32_t)nbytes, (uint32_t)ncount);
    *pp = p;
    return 0;
}

/*
 * One element of an untrusted pack at h, `room` bytes before the pack's end: its size, or 0
 * when it is out of bounds, badly encoded, or not in the form pack_splice writes (pack_eq
 * relies on that form: a string never holds a canonical integer, an integer takes its
 * smallest encoding, a double is never integral).
 */
static uint32_t validate_elem(const unsigned char *h, uint64_t room)
{
    unsigned t = h[0];
    uint64_t s;
    if (t < T_STR6)
        return 1;
    if (t < T_INT13)
        s = 1 + (t & 0x3F);
    else if (t < T_INT16)
        s = 2;
    else if (t <= T_DBL)
        s = 1 + (t == T_DBL ? 8 : int_width[t - T_INT16]);
    else if (t == T_STR16 || t == T_STR32) {
        unsigned w = t == T_STR16 ? 2 : 4;
        if (room < 1 + w)
            return 0;
        s = 1 + w + rd_le(h + 1, w);
    } else
        return 0;
    uint64_t total = s + tail_size(s);
    if (total > room)
        return 0;
    /* the tail must be the one pack_splice writes, so pack_prev finds the head */
    unsigned char tail[5];
    if (memcmp(h + s, tail, tail_write(tail, (uint32_t)s)) != 0)
        return 0;
    struct pack_elem e, n;
    pack_get(h, 0, &e);
    normalize(&e, &n);
    if (n.kind != e.kind || norm_size(&e) != total)
        return 0;
    return (uint32_t)total;
}

bool pack_validate(const unsigned char *p, size_t bytes)
{
    if (bytes < PACK_HDR_SMALL || bytes > PACK_MAX_BYTES ||
        (!pack_small(p) && bytes < PACK_HDR_WIDE) || pack_bytes(p) != bytes)
        return false;
    uint32_t off = pack_hdr(p), n = 0;
    while (off < bytes) {
        uint32_t sz = validate_elem(p + off, bytes - off);
        if (sz == 0)
            return false;
        off += sz;
        n++;
    }
    return n == pack_count(p);
}
