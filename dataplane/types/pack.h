/*
 * A pack: the compact encoding of a small collection (hash, list node, set, sorted set).
 *
 * A pack is one contiguous byte array: a header (total bytes, element count; 3 bytes while the
 * pack is under 16 KB and 512 elements, 6 once it is not), then elements, each an integer, a double
 * or a byte string. Every element carries its own size at both ends, so walking forward or backward
 * costs O(1) per step and the last element is reached without a scan. Elements are named by their
 * byte offset in the pack; offset 0 is the header, never an element, so 0 means "none".
 *
 * The pack does not own its memory: it lives inside a store entry or a list node. Reads
 * take a const pointer; pack_splice, the one edit, calls back to grow the buffer (which may
 * move it) before it moves bytes up, and to shrink it after it moved bytes down.
 *
 * Cost model: first/last/next/prev/get are O(1); seeking to an index and finding a value are
 * linear in the elements passed; a splice is linear in the bytes after the edit (one memmove)
 * plus the resize the caller does.
 *
 * Numbers: a string that is a canonical integer (as Redis's string2ll accepts: "10", not
 * "010", "+1", " 1" or "-0") is stored as an integer and compares equal to it; a double that
 * is an integer of magnitude below 2^53 is stored as that integer (-0.0 as 0, which is also
 * what Redis 7.0 replies for such a score). Readers turn integers back into text
 * (pack_elem_text) or into a double (pack_elem_double).
 *
 * Byte layout and the reasoning behind it: dataplane/types/NOTES.md.
 */
#ifndef POLLUX_PACK_H
#define POLLUX_PACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PACK_HDR_SMALL   3u                 /* the small header: an empty pack's size */
#define PACK_HDR_WIDE    6u                 /* the wide header */
#define PACK_SMALL_BYTES 16383u             /* the most bytes a small header records */
#define PACK_SMALL_COUNT 511u               /* the most elements a small header records */
#define PACK_MAX_COUNT   UINT16_MAX         /* elements in one pack */
#define PACK_MAX_BYTES   0x7FFFFFFFu        /* bytes of one pack */
#define PACK_TEXT_BUF    32                 /* buffer pack_elem_text needs for a number */
#define PACK_DBL_INT_MAX 9007199254740992.0 /* 2^53: integral doubles below it are integers */

enum pack_kind { PACK_INT = 0, PACK_DBL, PACK_STR };

/*
 * One element: read from a pack (pack_get; a string then points into the pack and is valid
 * until the next splice) or given to pack_splice (a string must then not point into the
 * pack being edited: the buffer may move).
 */
struct pack_elem {
    enum pack_kind kind;
    union {
        int64_t i;
        double d;
        const unsigned char *s;
    };
    size_t len; /* PACK_STR only */
};

/* A value to look for (pack_find, pack_eq): prepared once, compared against many elements. */
struct pack_needle {
    uint8_t head_len;
    unsigned char head[9]; /* the head an equal element has, up to its string bytes */
    const unsigned char *s;
    size_t len;
};

/*
 * The caller's buffer resize: return a buffer of at least new_bytes holding the first
 * min(old, new_bytes) bytes of p (it may move), or NULL when it cannot grow. When
 * shrinking, NULL means "kept p as it is", which is harmless.
 */
typedef unsigned char *(*pack_resize_fn)(void *ctx, unsigned char *p, size_t new_bytes);

/*
 * Write an empty pack into p: PACK_HDR_SMALL bytes (it widens itself when it outgrows the
 * small header, moving every element 3 bytes up), or PACK_HDR_WIDE bytes for a pack that
 * keeps its offsets fixed whatever it grows to (a chunked list's node).
 */
void pack_init(unsigned char *p);
void pack_init_wide(unsigned char *p);

/*
 * The header: bit 0 of the first byte tells the form. Small (bit 0 set): 24 bits LE, bits
 * 1..14 the total bytes, 15..23 the count. Wide (bit 0 clear): the total bytes shifted left
 * by one (u32 LE), then the count (u16 LE).
 */
static inline bool pack_small(const unsigned char *p)
{
    return p[0] & 1;
}

/* The header's size: the offset of the first element. */
static inline uint32_t pack_hdr(const unsigned char *p)
{
    return pack_small(p) ? PACK_HDR_SMALL : PACK_HDR_WIDE;
}

static inline uint32_t pack_bytes(const unsigned char *p)
{
    uint32_t lo = (uint32_t)p[0] | (uint32_t)p[1] << 8;
    if (pack_small(p))
        return (lo >> 1) & PACK_SMALL_BYTES;
    return (lo | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24) >> 1;
}

/* The count of a pack known to be wide (a chunked list's node): no test of the form. */
static inline uint32_t pack_count_wide(const unsigned char *p)
{
    return (uint32_t)p[4] | (uint32_t)p[5] << 8;
}

static inline uint32_t pack_count(const unsigned char *p)
{
    if (pack_small(p))
        return (uint32_t)p[1] >> 7 | (uint32_t)p[2] << 1;
    return pack_count_wide(p);
}

/* The first / last element's offset, or 0 when the pack is empty. */
uint32_t pack_first(const unsigned char *p);
uint32_t pack_last(const unsigned char *p);
/* The element after / before the one at off, or 0 past either end. */
uint32_t pack_next(const unsigned char *p, uint32_t off);
uint32_t pack_prev(const unsigned char *p, uint32_t off);
/*
 * The element at index idx (negative: from the end, -1 the last), walking from the nearer
 * end; 0 when out of range.
 */
uint32_t pack_seek(const unsigned char *p, int64_t idx);

/* Decode the element at off. */
void pack_get(const unsigned char *p, uint32_t off, struct pack_elem *e);

/*
 * The element as text: a string as it is, an integer in decimal, a double as Redis 7.0
 * replies a score ("%.17g", "inf", "-inf"). buf (PACK_TEXT_BUF bytes) receives numbers.
 * @return the text's length; *out points to it (into the pack or into buf).
 */
size_t pack_elem_text(const struct pack_elem *e, char *buf, const unsigned char **out);
/* The element as a number: false for a string (whatever it holds). */
bool pack_elem_double(const struct pack_elem *e, double *out);

/* Prepare a needle for a string (an integer when it is canonical) or for an integer. */
void pack_needle_str(struct pack_needle *n, const void *s, size_t len);
void pack_needle_int(struct pack_needle *n, int64_t v);
/*
 * Whether the element at off equals the needle ("10" == 10, "010" != 10). A double element
 * equals no needle: sorted sets look members up, not scores.
 */
bool pack_eq(const unsigned char *p, uint32_t off, const struct pack_needle *n);
/*
 * The first element equal to n at off or at off + k*step elements (step >= 1: 2 visits a
 * hash's fields or a sorted set's members and skips their values); 0 when none.
 */
uint32_t pack_find(const unsigned char *p, uint32_t off, const struct pack_needle *n,
                   uint32_t step);

/*
 * Bytes one element takes in a pack, as pack_splice would encode it; 0 if it cannot be
 * stored (NaN, a string of 2 GiB or more).
 */
size_t pack_elem_size(const struct pack_elem *e);

/*
 * The one edit: delete ndel elements starting at off and insert nins elements there (off
 * may be pack_bytes(p) to append; it must be an element's offset otherwise). *pp may move
 * (resize). Strings that are canonical integers become integer elements. A small pack whose
 * result outgrows the small header widens: every element moves PACK_HDR_WIDE -
 * PACK_HDR_SMALL bytes up, so offsets taken before such a splice are stale after it (a
 * splice that does not grow the count or the bytes never widens).
 * @param out_off  if not NULL, receives the offset of the first inserted element (or of the
 *                 element that followed the deleted ones; pack_bytes when none does), after
 *                 any widening.
 * @return 0; -ERANGE if fewer than ndel elements follow off; -EINVAL for an element that
 *         cannot be stored; -E2BIG if the result would exceed PACK_MAX_COUNT elements or
 *         PACK_MAX_BYTES bytes (the caller converts to the large encoding); -ENOMEM if the
 *         resize failed. On error the pack is unchanged.
 */
int pack_splice(unsigned char **pp, uint32_t off, uint32_t ndel, const struct pack_elem *ins,
                uint32_t nins, pack_resize_fn resize, void *ctx, uint32_t *out_off);

/*
 * Append the elements of q from the one at off to its end (off = pack_first(q): all of
 * them) to *pp, as one byte copy: an element's encoding does not depend on its position.
 * How a chunked list splits and merges its nodes. *pp may move (resize) and widen (as
 * pack_splice); q must not be *pp.
 * @return 0; -E2BIG if the result would exceed PACK_MAX_COUNT or PACK_MAX_BYTES; -ENOMEM if
 *         the resize failed. On error *pp is unchanged.
 */
int pack_append_from(unsigned char **pp, const unsigned char *q, uint32_t off,
                     pack_resize_fn resize, void *ctx);

/*
 * Check a pack of `bytes` bytes from an untrusted source (an RDB, a replica stream): header,
 * every element's bounds and encoding, both size copies, the count.
 * @return true when every pack_* reader is safe on it.
 */
bool pack_validate(const unsigned char *p, size_t bytes);

#endif
