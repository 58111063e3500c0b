#include "replication/rdb.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lzf.h>

#include "base/common.h"
#include "replication/crc64.h"
#include "base/mem.h"
#include "base/util.h"

/* Record opcodes (the byte before a record; below 0xF5 it is a value type). */
#define OP_FUNCTION2       0xF5
#define OP_FUNCTION_PRE_GA 0xF6
#define OP_MODULE_AUX      0xF7
#define OP_IDLE            0xF8
#define OP_FREQ            0xF9
#define OP_AUX             0xFA
#define OP_RESIZEDB        0xFB
#define OP_EXPIRETIME_MS   0xFC
#define OP_EXPIRETIME      0xFD
#define OP_SELECTDB        0xFE
#define OP_EOF             0xFF

/* Value types (the byte before a key). */
#define TYPE_STRING           0
#define TYPE_LIST             1
#define TYPE_SET              2
#define TYPE_ZSET             3
#define TYPE_HASH             4
#define TYPE_ZSET_2           5
#define TYPE_LIST_QUICKLIST   14
#define TYPE_HASH_LISTPACK    16
#define TYPE_ZSET_LISTPACK    17
#define TYPE_LIST_QUICKLIST_2 18
#define TYPE_SET_INTSET       11

/* quicklist 2 node containers */
#define QL_PLAIN  1
#define QL_PACKED 2

/* Blob formats: a collection held in one RDB string. */
#define ZL_HEADER      10 /* ziplist: total bytes (4), tail offset (4), count (2) */
#define LP_HEADER      6  /* listpack: total bytes (4), count (2) */
#define IS_HEADER      8  /* intset: integer width (4), count (4) */
#define BLOB_END       0xFF
#define COUNT_UNKNOWN  UINT16_MAX /* a ziplist's or listpack's count when it does not fit */
#define SCORE_TEXT_MAX 127        /* longest score text read (Redis's own buffer is 128) */

/* Length encodings: the top two bits of the first byte. */
#define LEN_6BIT    0
#define LEN_14BIT   1
#define LEN_32OR64  2
#define LEN_ENCVAL  3
#define LEN_32BIT   0x80
#define LEN_64BIT   0x81
#define ENC_INT8    0
#define ENC_INT16   1
#define ENC_INT32   2
#define ENC_LZF     3
#define HEADER_SIZE 9 /* "REDIS" + four version digits */
#define INT_TEXT    24

/*
 * One LZF token yields at most 88 bytes per input byte (a 3-byte back
 * reference copies up to 264 bytes; a literal run copies fewer bytes than it
 * takes), so a compressed string that claims more is corrupt. Checking this
 * before allocating keeps a 10-byte hostile record from reserving max_len.
 */
#define LZF_MAX_RATIO 88

/* ---- Encoder ---- */

void rdb_buf_init(struct rdb_buf *b)
{
    b->p = NULL;
    b->len = b->cap = b->head = 0;
}

void rdb_buf_deinit(struct rdb_buf *b)
{
    if (b->p != NULL)
        mem_free(b->p - b->head);
    rdb_buf_init(b);
}

void rdb_buf_init_room(struct rdb_buf *b, size_t head, size_t cap)
{
    rdb_buf_init(b);
    b->head = head;
    b->p = (char *)mem_alloc(head + cap) + head;
    b->cap = cap;
}

void *rdb_buf_take(struct rdb_buf *b)
{
    rdb_buf_reserve(b, 8);
    /* a large allocation shrinks where it is: the unused room goes back without a copy */
    void *block = mem_realloc(b->p - b->head, b->head + b->len + 8);
    b->p = NULL;
    rdb_buf_init(b);
    return block;
}

void rdb_buf_reserve(struct rdb_buf *b, size_t n)
{
    if (b->cap - b->len >= n)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < n)
        cap *= 2;
    b->p = (char *)mem_realloc(b->p != NULL ? b->p - b->head : NULL, b->head + cap) + b->head;
    b->cap = cap;
}

static void put(struct rdb_buf *b, const void *p, size_t n)
{
    rdb_buf_reserve(b, n);
    if (n > 0)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void put_byte(struct rdb_buf *b, unsigned v)
{
    rdb_buf_reserve(b, 1);
    b->p[b->len++] = (char)v;
}

static void put_le(struct rdb_buf *b, uint64_t v, int n)
{
    rdb_buf_reserve(b, (size_t)n);
    for (int i = 0; i < n; i++)
        b->p[b->len++] = (char)(v >> (8 * i));
}

/* Bytes rdb's length encoding takes for v. */
static size_t len_size(uint64_t v)
{
    if (v < (1u << 6))
        return 1;
    if (v < (1u << 14))
        return 2;
    if (v <= UINT32_MAX)
        return 5;
    return 9;
}

/* The length encoding at `out` (len_size(v) bytes): 6 bits, 14 bits, or a
 * marker byte and 32 or 64 bits, big-endian. */
static void len_write(char *out, uint64_t v)
{
    size_t n = len_size(v);
    if (n == 1) {
        out[0] = (char)v;
    } else if (n == 2) {
        out[0] = (char)((LEN_14BIT << 6) | (v >> 8));
        out[1] = (char)v;
    } else {
        out[0] = (char)(n == 5 ? LEN_32BIT : LEN_64BIT);
        for (size_t i = 1; i < n; i++)
            out[i] = (char)(v >> (8 * (n - 1 - i)));
    }
}

static void put_len(struct rdb_buf *b, uint64_t v)
{
    rdb_buf_reserve(b, 9);
    len_write(b->p + b->len, v);
    b->len += len_size(v);
}

/*
 * Redis stores a string as an integer when it is the canonical decimal form
 * of a number (what util_str2ll accepts: no sign but '-', no leading zero, no
 * space, not "-0") that fits in 32 bits; such strings are at most 11 bytes.
 * @return true and the shortest of the three integer encodings.
 */
static bool put_int_encoded(struct rdb_buf *b, const void *s, size_t n)
{
    long long v;
    if (n == 0 || n > 11 || !util_str2ll(s, n, &v))
        return false;
    if (v >= INT8_MIN && v <= INT8_MAX) {
        put_byte(b, (LEN_ENCVAL << 6) | ENC_INT8);
        put_le(b, (uint64_t)v, 1);
    } else if (v >= INT16_MIN && v <= INT16_MAX) {
        put_byte(b, (LEN_ENCVAL << 6) | ENC_INT16);
        put_le(b, (uint64_t)v, 2);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        put_byte(b, (LEN_ENCVAL << 6) | ENC_INT32);
        put_le(b, (uint64_t)v, 4);
    } else {
        return false;
    }
    return true;
}

/*
 * LZF-compress s straight into b behind room for the largest header, then
 * slide it down behind the real one. Kept only when the whole encoding is
 * smaller than the plain one.
 */
/*
 * Redis's rule, so that a DUMP payload and an RDB come out byte for byte as Redis writes
 * them: compressed whenever LZF's output fits in n - 4 bytes (whatever the headers add).
 */
static bool put_lzf(struct rdb_buf *b, const void *s, size_t n)
{
    size_t hdr_max = 1 + 5 + len_size(n);
    if (n > UINT32_MAX || n <= 4)
        return false;
    rdb_buf_reserve(b, hdr_max + n);
    char *base = b->p + b->len;
    unsigned clen = lzf_compress(s, (unsigned)n, base + hdr_max, (unsigned)(n - 4));
    if (clen == 0)
        return false;
    size_t hdr = 1 + len_size(clen) + len_size(n);
    memmove(base + hdr, base + hdr_max, clen);
    base[0] = (char)((LEN_ENCVAL << 6) | ENC_LZF);
    len_write(base + 1, clen);
    len_write(base + 1 + len_size(clen), n);
    b->len += hdr + clen;
    return true;
}

/* One RDB string: integer, LZF or plain, whichever Redis would pick. */
static void put_string(struct rdb_buf *b, const void *s, size_t n, const struct rdb_encode_opts *o)
{
    if (put_int_encoded(b, s, n))
        return;
    if (o != NULL && o->compress && n > o->lzf_min && put_lzf(b, s, n))
        return;
    put_len(b, n);
    put(b, s, n);
}

void rdb_encode_opts_init(struct rdb_encode_opts *o)
{
    o->compress = true;
    o->lzf_min = RDB_LZF_MIN;
    o->lru_idle = -1;
    o->lfu_freq = -1;
    o->value_only = false;
}

void rdb_encode_header(struct rdb_buf *b, int version)
{
    char hdr[HEADER_SIZE + 1];
    assert(version >= 1 && version <= 9999);
    snprintf(hdr, sizeof(hdr), "REDIS%04d", version);
    put(b, hdr, HEADER_SIZE);
}

void rdb_encode_aux(struct rdb_buf *b, const char *key, const char *val, size_t vlen)
{
    put_byte(b, OP_AUX);
    put_string(b, key, strlen(key), NULL);
    put_string(b, val, vlen, NULL);
}

void rdb_encode_aux_int(struct rdb_buf *b, const char *key, long long v)
{
    char num[INT_TEXT];
    rdb_encode_aux(b, key, num, util_ll2str(num, v));
}

void rdb_encode_aux_fields(struct rdb_buf *b, const struct rdb_aux_info *a)
{
    rdb_encode_aux(b, "redis-ver", a->redis_ver, strlen(a->redis_ver));
    rdb_encode_aux_int(b, "redis-bits", a->redis_bits);
    rdb_encode_aux_int(b, "ctime", a->ctime);
    rdb_encode_aux_int(b, "used-mem", a->used_mem);
    if (a->repl_id != NULL) {
        rdb_encode_aux_int(b, "repl-stream-db", a->repl_stream_db);
        rdb_encode_aux(b, "repl-id", a->repl_id, strlen(a->repl_id));
        rdb_encode_aux_int(b, "repl-offset", a->repl_offset);
    }
    rdb_encode_aux_int(b, "aof-base", a->aof_base);
}

void rdb_encode_selectdb(struct rdb_buf *b, int db)
{
    assert(db >= 0);
    put_byte(b, OP_SELECTDB);
    put_len(b, (uint64_t)db);
}

void rdb_encode_resizedb(struct rdb_buf *b, uint64_t keys, uint64_t expires)
{
    put_byte(b, OP_RESIZEDB);
    put_len(b, keys);
    put_len(b, expires);
}

static const struct rdb_encode_opts *opts_or_default(const struct rdb_encode_opts *o,
                                                     struct rdb_encode_opts *def)
{
    if (o != NULL)
        return o;
    rdb_encode_opts_init(def);
    return def;
}

/* Metadata, type and key: the start of every entry; only the type for a value alone. */
static void put_entry_head(struct rdb_buf *b, int type, const void *key, size_t klen,
                           int64_t expire_ms, const struct rdb_encode_opts *o)
{
    if (o->value_only) {
        put_byte(b, (unsigned)type);
        return;
    }
    if (expire_ms >= 0) {
        put_byte(b, OP_EXPIRETIME_MS);
        put_le(b, (uint64_t)expire_ms, 8);
    }
    if (o->lru_idle >= 0) {
        put_byte(b, OP_IDLE);
        put_len(b, (uint64_t)o->lru_idle);
    }
    if (o->lfu_freq >= 0) {
        put_byte(b, OP_FREQ);
        put_byte(b, (unsigned)MIN(o->lfu_freq, 255));
    }
    put_byte(b, (unsigned)type);
    put_string(b, key, klen, o);
}

void rdb_encode_string(struct rdb_buf *b, const void *key, size_t klen, const void *val,
                       size_t vlen, int64_t expire_ms, const struct rdb_encode_opts *o)
{
    struct rdb_encode_opts def;
    o = opts_or_default(o, &def);
    put_entry_head(b, TYPE_STRING, key, klen, expire_ms, o);
    put_string(b, val, vlen, o);
}

void rdb_encode_function(struct rdb_buf *b, const char *code, size_t len,
                         const struct rdb_encode_opts *o)
{
    struct rdb_encode_opts def;
    o = opts_or_default(o, &def);
    put_byte(b, OP_FUNCTION2);
    put_string(b, code, len, o);
}

void rdb_encode_dump_trailer(struct rdb_buf *b, size_t start)
{
    assert(start <= b->len);
    put_le(b, RDB_VERSION, 2);
    put_le(b, crc64_update(0, b->p + start, b->len - start), 8);
}

/* The trailer's checksum: crc (of everything before the EOF opcode) with the
 * opcode folded in; 0 stays 0, the mark of a file without a checksum. */
static uint64_t eof_crc(uint64_t crc)
{
    static const char eof = (char)OP_EOF;
    return crc != 0 ? crc64_update(crc, &eof, 1) : 0;
}

void rdb_encode_eof(struct rdb_buf *b, uint64_t crc)
{
    put_byte(b, OP_EOF);
    put_le(b, eof_crc(crc), 8);
}

void rdb_writer_init(struct rdb_writer *w, bool checksum)
{
    w->crc = 0;
    w->size = 0;
    w->checksum = checksum;
}

void rdb_writer_update(struct rdb_writer *w, const void *p, size_t n)
{
    if (w->checksum)
        w->crc = crc64_update(w->crc, p, n);
    w->size += n;
}

void rdb_writer_update_crc(struct rdb_writer *w, uint64_t crc_piece, size_t n)
{
    if (w->checksum)
        w->crc = crc64_combine(w->crc, crc_piece, n);
    w->size += n;
}

void rdb_writer_eof(struct rdb_writer *w, struct rdb_buf *b)
{
    uint64_t crc = w->checksum ? w->crc : 0;
    rdb_encode_eof(b, crc);
    w->crc = eof_crc(crc);
    w->size += 9;
}

/* ---- Decoder ----
 *
 * A record (the header, one opcode with its operands, or one entry: type, key
 * and value) is parsed from a contiguous span: straight from the caller's
 * buffer when it is all there, else from p->rec, where its bytes are gathered
 * across feeds. A parse that runs out of bytes stops before doing anything
 * (no callback, no state change) and says how many bytes from the record's
 * start it needs to get further, so a record is parsed again only when that
 * many have arrived: a handful of times for the largest entry, never once per
 * feed. Errors carry the file offset of the element they are about.
 */

enum { ST_HEADER, ST_RECORDS, ST_COLL, ST_DONE, ST_FAILED, ST_VALUE };

#define PARSE_MORE 1 /* internal: the record is incomplete */

struct cursor {
    const unsigned char *b;
    size_t n, pos;
    uint64_t base; /* file offset of b[0] */
    size_t need;   /* PARSE_MORE: bytes from b[0] needed to get further */
};

/* A string as stored: plain bytes, an integer, or LZF data. */
struct sref {
    int enc; /* -1 plain, else ENC_INT* / ENC_LZF */
    const unsigned char *p;
    uint64_t len;  /* plain or decompressed length */
    uint64_t clen; /* LZF: compressed length */
    long long ival;
    uint64_t off; /* file offset of the string's first byte */
    char text[INT_TEXT];
};

static const struct {
    const char *type, *enc;
} value_types[] = {
    [0] = { "string", "raw" },          [1] = { "list", "linked list" },
    [2] = { "set", "hash table" },      [3] = { "zset", "skiplist" },
    [4] = { "hash", "hash table" },     [5] = { "zset", "skiplist, binary scores" },
    [6] = { "module", "pre-GA" },       [7] = { "module", "module 2" },
    [9] = { "hash", "zipmap" },         [10] = { "list", "ziplist" },
    [11] = { "set", "intset" },         [12] = { "zset", "ziplist" },
    [13] = { "hash", "ziplist" },       [14] = { "list", "quicklist" },
    [15] = { "stream", "listpacks" },   [16] = { "hash", "listpack" },
    [17] = { "zset", "listpack" },      [18] = { "list", "quicklist 2" },
    [19] = { "stream", "listpacks 2" }, [20] = { "set", "listpack" },
    [21] = { "stream", "listpacks 3" },
};

const char *rdb_type_name(int type)
{
    if (type < 0 || (size_t)type >= ARRAY_SIZE(value_types))
        return NULL;
    return value_types[type].type;
}

static int fail(struct rdb_parser *p, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct rdb_parser *p, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, sizeof(p->err), fmt, ap);
    va_end(ap);
    p->state = ST_FAILED;
    p->status = code;
    return code;
}

/* A key for an error message: printable ASCII as is, other bytes as \xHH,
 * at most 64 bytes of it. */
static const char *show_key(char *out, size_t cap, const char *k, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0, i;
    for (i = 0; i < n && i < 64 && o + 5 < cap; i++) {
        unsigned char ch = (unsigned char)k[i];
        if (ch >= 0x20 && ch < 0x7f && ch != '\\' && ch != '\'') {
            out[o++] = (char)ch;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        }
    }
    if (i < n && o + 4 <= cap) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

/* k bytes at the cursor, or NULL with c->need set. */
static const unsigned char *take(struct cursor *c, size_t k)
{
    if (c->n - c->pos < k) {
        c->need = c->pos + k;
        return NULL;
    }
    const unsigned char *s = c->b + c->pos;
    c->pos += k;
    return s;
}

static uint64_t get_le(const unsigned char *s, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | s[i];
    return v;
}

static uint64_t get_be(const unsigned char *s, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | s[i];
    return v;
}

/*
 * A length field. *enc is set to -1 for a length, or to the special string
 * encoding (ENC_*) when the field says the string is not stored plainly; a
 * caller that does not read a string passes enc NULL and a special encoding is
 * an error.
 * @return 0, PARSE_MORE or RDB_EFORMAT.
 */
static int read_len(struct rdb_parser *p, struct cursor *c, uint64_t *v, int *enc, const char *what)
{
    size_t start = c->pos;
    const unsigned char *s = take(c, 1);
    if (s == NULL)
        return PARSE_MORE;
    if (enc != NULL)
        *enc = -1;
    switch (s[0] >> 6) {
    case LEN_6BIT:
        *v = s[0] & 0x3f;
        return 0;
    case LEN_14BIT: {
        const unsigned char *t = take(c, 1);
        if (t == NULL)
            return PARSE_MORE;
        *v = ((uint64_t)(s[0] & 0x3f) << 8) | t[0];
        return 0;
    }
    case LEN_32OR64: {
        int w = s[0] == LEN_32BIT ? 4 : s[0] == LEN_64BIT ? 8 : 0;
        if (w == 0)
            return fail(p, RDB_EFORMAT, "bad length encoding 0x%02x of %s at offset %llu", s[0],
                        what, (unsigned long long)(c->base + start));
        const unsigned char *t = take(c, (size_t)w);
        if (t == NULL)
            return PARSE_MORE;
        *v = get_be(t, w);
        return 0;
    }
    default:
        if (enc == NULL)
            return fail(p, RDB_EFORMAT, "bad length at offset %llu: %s cannot be 0x%02x",
                        (unsigned long long)(c->base + start), what, s[0]);
        *enc = s[0] & 0x3f;
        *v = 0;
        return 0;
    }
}

/* The string at the cursor, as a reference into the record (no copy, no
 * decompression yet). @return 0, PARSE_MORE or an error. */
static int read_string(struct rdb_parser *p, struct cursor *c, struct sref *r, const char *what)
{
    uint64_t v;
    int rc;
    r->off = c->base + c->pos;
    if ((rc = read_len(p, c, &v, &r->enc, what)) != 0)
        return rc;
    switch (r->enc) {
    case -1:
        if (v > p->max_len)
            return fail(p, RDB_ELIMIT, "%s of %llu bytes at offset %llu exceeds the limit of %llu",
                        what, (unsigned long long)v, (unsigned long long)r->off,
                        (unsigned long long)p->max_len);
        r->len = v;
        if ((r->p = take(c, (size_t)v)) == NULL)
            return PARSE_MORE;
        return 0;
    case ENC_INT8:
    case ENC_INT16:
    case ENC_INT32: {
        int w = 1 << r->enc;
        const unsigned char *t = take(c, (size_t)w);
        if (t == NULL)
            return PARSE_MORE;
        uint64_t u = get_le(t, w);
        r->ival = w == 1 ? (int8_t)u : w == 2 ? (int16_t)u : (int32_t)u;
        return 0;
    }
    case ENC_LZF: {
        uint64_t clen, len;
        if ((rc = read_len(p, c, &clen, NULL, what)) != 0 ||
            (rc = read_len(p, c, &len, NULL, what)) != 0)
            return rc;
        /* liblzf counts in unsigned int, whatever max_len allows. */
        uint64_t lim = MIN(p->max_len, (uint64_t)UINT_MAX);
        if (clen > lim || len > lim)
            return fail(p, RDB_ELIMIT,
                        "compressed %s at offset %llu claims %llu bytes (%llu compressed), "
                        "over the limit of %llu",
                        what, (unsigned long long)r->off, (unsigned long long)len,
                        (unsigned long long)clen, (unsigned long long)lim);
        if (clen == 0 || len == 0 || len / LZF_MAX_RATIO > clen)
            return fail(p, RDB_EFORMAT,
                        "bad compressed %s at offset %llu: %llu bytes cannot expand to %llu", what,
                        (unsigned long long)r->off, (unsigned long long)clen,
                        (unsigned long long)len);
        r->clen = clen;
        r->len = len;
        if ((r->p = take(c, (size_t)clen)) == NULL)
            return PARSE_MORE;
        return 0;
    }
    default:
        return fail(p, RDB_EFORMAT, "bad string encoding %d of %s at offset %llu", r->enc, what,
                    (unsigned long long)r->off);
    }
}

/* The bytes of a string read by read_string: in place, as decimal text, or
 * decompressed into *buf. @return 0 or RDB_EFORMAT. */
static int string_bytes(struct rdb_parser *p, struct sref *r, char **buf, size_t *cap,
                        const char **s, size_t *n, const char *what)
{
    switch (r->enc) {
    case -1:
        *s = (const char *)r->p;
        *n = (size_t)r->len;
        return 0;
    case ENC_LZF:
        if (*cap < r->len) {
            mem_free(*buf);
            *buf = mem_alloc((size_t)r->len);
            *cap = (size_t)r->len;
        }
        if (lzf_decompress(r->p, (unsigned)r->clen, *buf, (unsigned)r->len) != r->len)
            return fail(p, RDB_EFORMAT, "bad LZF data in %s at offset %llu", what,
                        (unsigned long long)r->off);
        *s = *buf;
        *n = (size_t)r->len;
        return 0;
    default:
        *s = r->text;
        *n = util_ll2str(r->text, r->ival);
        return 0;
    }
}

static int callback_failed(struct rdb_parser *p, int rc, const char *what, uint64_t off)
{
    fail(p, RDB_ECALLBACK, "load stopped by the %s callback (%d) at offset %llu", what, rc,
         (unsigned long long)off);
    p->cb_rc = rc;
    return RDB_ECALLBACK;
}

/* ---- Collections ----
 *
 * Plain encodings (list 1, set 2, zset 3 and 5, hash 4) and quicklists (14,
 * 18) are read one element, pair or node per record after the record of the
 * key (type, key, count), in state ST_COLL: the parser never holds more than
 * one of them. The compact encodings keep the whole collection in one string
 * (a "blob": ziplist, listpack, intset or zipmap), limited by max_len like any
 * string; the blob is walked twice, first to check every length and offset in
 * it and count its items, then to hand them over, so a corrupt blob makes no
 * callback at all.
 */

enum { BLOB_NONE, BLOB_ZIPMAP, BLOB_ZIPLIST, BLOB_INTSET, BLOB_LISTPACK };

static const char *const blob_names[] = {
    [BLOB_ZIPMAP] = "zipmap",
    [BLOB_ZIPLIST] = "ziplist",
    [BLOB_INTSET] = "intset",
    [BLOB_LISTPACK] = "listpack",
};

/* The collection value types: their kind and, for compact ones, blob format. */
static const struct {
    unsigned char kind, blob;
} coll_types[] = {
    [1] = { RDB_COLL_LIST, BLOB_NONE },      [2] = { RDB_COLL_SET, BLOB_NONE },
    [3] = { RDB_COLL_ZSET, BLOB_NONE },      [4] = { RDB_COLL_HASH, BLOB_NONE },
    [5] = { RDB_COLL_ZSET, BLOB_NONE },      [9] = { RDB_COLL_HASH, BLOB_ZIPMAP },
    [10] = { RDB_COLL_LIST, BLOB_ZIPLIST },  [11] = { RDB_COLL_SET, BLOB_INTSET },
    [12] = { RDB_COLL_ZSET, BLOB_ZIPLIST },  [13] = { RDB_COLL_HASH, BLOB_ZIPLIST },
    [14] = { RDB_COLL_LIST, BLOB_NONE },     [16] = { RDB_COLL_HASH, BLOB_LISTPACK },
    [17] = { RDB_COLL_ZSET, BLOB_LISTPACK }, [18] = { RDB_COLL_LIST, BLOB_NONE },
    [20] = { RDB_COLL_SET, BLOB_LISTPACK },
};

static const char *const kind_names[] = {
    [RDB_COLL_LIST] = "list",
    [RDB_COLL_SET] = "set",
    [RDB_COLL_ZSET] = "zset",
    [RDB_COLL_HASH] = "hash",
};

/* One element of a blob: bytes, or an integer handed over as decimal text. */
struct elem {
    const char *s;
    size_t n;
    bool is_int;
    long long v;
    char text[INT_TEXT];
};

/* A walk over a blob's elements. */
struct blob {
    const unsigned char *s;
    size_t n, pos;
    int fmt;
    uint64_t off;       /* file offset of the string that holds the blob */
    uint64_t count;     /* elements read */
    uint64_t hdr_count; /* elements its header announces; UINT64_MAX: not said */
    size_t prev;        /* ziplist: bytes of the previous entry */
    size_t tail, last;  /* ziplist: the last entry's offset, as the header says and as read */
    int width;          /* intset: bytes per integer */
    long long prev_int; /* intset: the previous member */
};

static int blob_fail(struct rdb_parser *p, const struct blob *bl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int blob_fail(struct rdb_parser *p, const struct blob *bl, const char *fmt, ...)
{
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return fail(p, RDB_EFORMAT, "corrupt %s of %zu bytes at offset %llu: %s", blob_names[bl->fmt],
                bl->n, (unsigned long long)bl->off, msg);
}

static int blob_past_end(struct rdb_parser *p, const struct blob *bl)
{
    return blob_fail(p, bl, "the entry at byte %zu runs past the end", bl->pos);
}

/* The w-byte two's complement integer u (w 1..8). */
static long long sign_extend(uint64_t u, int w)
{
    if (w == 8)
        return (long long)u;
    uint64_t m = 1ull << (8 * w - 1);
    return (long long)(u & (m - 1)) - (long long)(u & m);
}

static void elem_int(struct elem *e, long long v)
{
    e->is_int = true;
    e->v = v;
    e->n = util_ll2str(e->text, v);
    e->s = e->text;
}

static void elem_bytes(struct elem *e, const unsigned char *s, size_t n)
{
    e->is_int = false;
    e->s = (const char *)s;
    e->n = n;
}

/* Check a blob's header against its size and place the walk on its first element. */
static int blob_open(struct rdb_parser *p, struct blob *bl, int fmt, const char *s, size_t n,
                     uint64_t off)
{
    memset(bl, 0, sizeof(*bl));
    bl->s = (const unsigned char *)s;
    bl->n = n;
    bl->fmt = fmt;
    bl->off = off;
    bl->hdr_count = UINT64_MAX;
    const unsigned char *u = bl->s;
    switch (fmt) {
    case BLOB_ZIPLIST:
    case BLOB_LISTPACK: {
        size_t hdr = fmt == BLOB_ZIPLIST ? ZL_HEADER : LP_HEADER;
        if (n < hdr + 1)
            return blob_fail(p, bl, "shorter than a header and an end mark");
        if (get_le(u, 4) != n)
            return blob_fail(p, bl, "its header says %llu bytes", (unsigned long long)get_le(u, 4));
        if (u[n - 1] != BLOB_END)
            return blob_fail(p, bl, "no end mark");
        uint64_t count = get_le(u + hdr - 2, 2);
        if (count != COUNT_UNKNOWN)
            bl->hdr_count = count;
        if (fmt == BLOB_ZIPLIST)
            bl->tail = (size_t)get_le(u + 4, 4);
        bl->pos = bl->last = hdr;
        return 0;
    }
    case BLOB_INTSET: {
        if (n < IS_HEADER)
            return blob_fail(p, bl, "shorter than its header");
        uint64_t w = get_le(u, 4), count = get_le(u + 4, 4);
        if (w != 2 && w != 4 && w != 8)
            return blob_fail(p, bl, "bad integer width %llu", (unsigned long long)w);
        if ((n - IS_HEADER) % w != 0 || (n - IS_HEADER) / w != count)
            return blob_fail(p, bl, "its header says %llu integers of %llu bytes",
                             (unsigned long long)count, (unsigned long long)w);
        bl->width = (int)w;
        bl->hdr_count = count;
        bl->pos = IS_HEADER;
        return 0;
    }
    default: /* BLOB_ZIPMAP: a count byte (254: unknown), pairs, the end mark */
        if (n < 2)
            return blob_fail(p, bl, "shorter than a count and an end mark");
        if (u[n - 1] != BLOB_END)
            return blob_fail(p, bl, "no end mark");
        if (u[0] < 254)
            bl->hdr_count = 2 * (uint64_t)u[0];
        bl->pos = 1;
        return 0;
    }
}

/*
 * A ziplist entry: the previous entry's size (1 byte, or 0xFE and 4 bytes),
 * an encoding (string lengths of 6, 14 and 32 bits, big-endian; integers of
 * 1, 2, 3, 4 or 8 bytes, little-endian; 0..12 in the encoding byte) and the
 * data. @return 1 and the element, or an error.
 */
static int zl_next(struct rdb_parser *p, struct blob *bl, struct elem *e)
{
    const unsigned char *u = bl->s;
    size_t pos = bl->pos, end = bl->n - 1; /* the end mark's offset */
    size_t h = 1;
    uint64_t prev = u[pos];
    if (prev == 0xFE) {
        if (end - pos < 5)
            return blob_past_end(p, bl);
        prev = get_le(u + pos + 1, 4);
        h = 5;
    }
    if (prev != bl->prev)
        return blob_fail(p, bl,
                         "the entry at byte %zu says the previous one has %llu bytes, not %zu", pos,
                         (unsigned long long)prev, bl->prev);
    if (end - pos <= h)
        return blob_past_end(p, bl);
    const unsigned char *q = u + pos + h;
    size_t room = end - pos - h; /* from the encoding byte to the end mark */
    uint64_t hl = 1, dl;
    int w = -1;
    switch (q[0] >> 6) {
    case 0:
        dl = q[0] & 0x3f;
        break;
    case 1:
        hl = 2;
        if (room < hl)
            return blob_past_end(p, bl);
        dl = ((uint64_t)(q[0] & 0x3f) << 8) | q[1];
        break;
    case 2:
        hl = 5;
        if (room < hl)
            return blob_past_end(p, bl);
        dl = get_be(q + 1, 4);
        break;
    default:
        switch (q[0]) {
        case 0xC0:
            w = 2;
            break;
        case 0xD0:
            w = 4;
            break;
        case 0xE0:
            w = 8;
            break;
        case 0xF0:
            w = 3;
            break;
        case 0xFE:
            w = 1;
            break;
        default:
            if (q[0] < 0xF1 || q[0] > 0xFD)
                return blob_fail(p, bl, "bad encoding 0x%02x at byte %zu", q[0], pos + h);
            w = 0; /* 0..12 in the encoding byte */
        }
        dl = (uint64_t)w;
    }
    if (room - hl < dl)
        return blob_past_end(p, bl);
    if (w > 0)
        elem_int(e, sign_extend(get_le(q + 1, w), w));
    else if (w == 0)
        elem_int(e, (q[0] & 0x0f) - 1);
    else
        elem_bytes(e, q + hl, (size_t)dl);
    bl->prev = h + (size_t)(hl + dl);
    bl->last = pos;
    bl->pos = pos + bl->prev;
    return 1;
}

/* Bytes of a listpack entry's back length for an entry (encoding and data) of l bytes. */
static size_t lp_backlen_size(uint64_t l)
{
    return l <= 127 ? 1 : l < 16383 ? 2 : l < 2097151 ? 3 : l < 268435455 ? 4 : 5;
}

/*
 * A listpack entry: the encoding (7-bit unsigned, 13-bit, 16-, 24-, 32- and
 * 64-bit integers; strings with 6-, 12- and 32-bit lengths), the data, then
 * the entry's length written backwards, 7 bits a byte.
 */
static int lp_next(struct rdb_parser *p, struct blob *bl, struct elem *e)
{
    size_t pos = bl->pos, room = bl->n - 1 - pos;
    const unsigned char *q = bl->s + pos;
    unsigned b = q[0];
    uint64_t hl = 1, dl = 0;
    int w = 0;
    bool str = false;
    long long v = 0;
    if (b < 0x80) {
        v = b;
    } else if ((b & 0xC0) == 0x80) {
        str = true;
        dl = b & 0x3f;
    } else if ((b & 0xE0) == 0xC0 || (b & 0xF0) == 0xE0) {
        hl = 2;
        if (room < hl)
            return blob_past_end(p, bl);
        if ((b & 0xE0) == 0xC0) {
            unsigned u13 = ((b & 0x1fu) << 8) | q[1];
            v = u13 >= 4096 ? (long long)u13 - 8192 : (long long)u13;
        } else {
            str = true;
            dl = ((uint64_t)(b & 0x0f) << 8) | q[1];
        }
    } else {
        switch (b) {
        case 0xF0:
            hl = 5;
            if (room < hl)
                return blob_past_end(p, bl);
            str = true;
            dl = get_le(q + 1, 4);
            break;
        case 0xF1:
            w = 2;
            break;
        case 0xF2:
            w = 3;
            break;
        case 0xF3:
            w = 4;
            break;
        case 0xF4:
            w = 8;
            break;
        default:
            return blob_fail(p, bl, "bad encoding 0x%02x at byte %zu", b, pos);
        }
        if (w > 0)
            dl = (uint64_t)w;
    }
    if (room < hl || room - hl < dl)
        return blob_past_end(p, bl);
    uint64_t len = hl + dl, got = 0;
    size_t bls = lp_backlen_size(len);
    if (room - len < bls)
        return blob_past_end(p, bl);
    const unsigned char *bk = q + len;
    for (size_t i = 0; i < bls; i++) {
        /* every byte but the first (lowest) has the "more" flag */
        if (((bk[i] & 0x80) != 0) != (i > 0))
            return blob_fail(p, bl, "bad back length at byte %zu", pos + (size_t)len);
        got |= (uint64_t)(bk[i] & 0x7f) << (7 * (bls - 1 - i));
    }
    if (got != len)
        return blob_fail(p, bl, "the entry at byte %zu has %llu bytes, its back length says %llu",
                         pos, (unsigned long long)len, (unsigned long long)got);
    if (w > 0)
        v = sign_extend(get_le(q + 1, w), w);
    if (str)
        elem_bytes(e, q + hl, (size_t)dl);
    else
        elem_int(e, v);
    bl->pos = pos + (size_t)len + bls;
    return 1;
}

/* An intset member: ascending, unique, little-endian, of the header's width. */
static int is_next(struct rdb_parser *p, struct blob *bl, struct elem *e)
{
    long long v = sign_extend(get_le(bl->s + bl->pos, bl->width), bl->width);
    if (bl->count > 0 && v <= bl->prev_int)
        return blob_fail(p, bl, "member %lld at byte %zu is not above the previous one, %lld", v,
                         bl->pos, bl->prev_int);
    bl->prev_int = v;
    bl->pos += (size_t)bl->width;
    elem_int(e, v);
    return 1;
}

/* A zipmap string: its length (1 byte, or 0xFE and 4 bytes little-endian), for
 * a value a "free" byte, the bytes, then the free bytes. */
static int zm_next(struct rdb_parser *p, struct blob *bl, struct elem *e)
{
    const unsigned char *u = bl->s;
    size_t pos = bl->pos, room = bl->n - 1 - pos, h = 1;
    bool value = bl->count % 2 == 1;
    uint64_t len = u[pos], skip = 0; /* not BLOB_END: blob_next saw to it */
    if (len == 0xFE) {
        h = 5;
        if (room < h)
            return blob_past_end(p, bl);
        len = get_le(u + pos + 1, 4);
    }
    if (value) {
        if (room <= h)
            return blob_past_end(p, bl);
        skip = u[pos + h];
        h++;
    }
    if (room < h || room - h < len || room - h - len < skip)
        return blob_past_end(p, bl);
    elem_bytes(e, u + pos + h, (size_t)len);
    bl->pos = pos + h + (size_t)(len + skip);
    return 1;
}

/* The next element. @return 1 with *e, 0 at the end (its mark and the header's
 * count checked), or an error. */
static int blob_next(struct rdb_parser *p, struct blob *bl, struct elem *e)
{
    int rc;
    bool end = bl->fmt == BLOB_INTSET ? bl->pos == bl->n : bl->s[bl->pos] == BLOB_END;
    if (end) {
        if (bl->fmt != BLOB_INTSET && bl->pos != bl->n - 1)
            return blob_fail(p, bl, "end mark at byte %zu", bl->pos);
        if (bl->hdr_count != UINT64_MAX && bl->count != bl->hdr_count)
            return blob_fail(p, bl, "its header says %llu elements, it holds %llu",
                             (unsigned long long)bl->hdr_count, (unsigned long long)bl->count);
        if (bl->fmt == BLOB_ZIPLIST && bl->tail != bl->last)
            return blob_fail(p, bl, "its header puts the last entry at byte %zu, not %zu", bl->tail,
                             bl->last);
        return 0;
    }
    switch (bl->fmt) {
    case BLOB_ZIPLIST:
        rc = zl_next(p, bl, e);
        break;
    case BLOB_LISTPACK:
        rc = lp_next(p, bl, e);
        break;
    case BLOB_INTSET:
        rc = is_next(p, bl, e);
        break;
    default:
        rc = zm_next(p, bl, e);
        break;
    }
    if (rc > 0)
        bl->count++;
    return rc;
}

/* A score written as text (zset type 3, ziplists, listpacks): what strtod
 * reads, whole; NaN is refused, as Redis does. */
static int text_score(struct rdb_parser *p, const char *s, size_t n, double *out, uint64_t off)
{
    char buf[SCORE_TEXT_MAX + 1];
    char *end;
    if (n == 0 || n > SCORE_TEXT_MAX)
        return fail(p, RDB_EFORMAT, "bad score of %zu bytes at offset %llu", n,
                    (unsigned long long)off);
    memcpy(buf, s, n);
    buf[n] = '\0';
    *out = strtod(buf, &end);
    if (end != buf + n || isnan(*out))
        return fail(p, RDB_EFORMAT, "bad score '%.*s' at offset %llu", (int)n, s,
                    (unsigned long long)off);
    return 0;
}

static int coll_item(struct rdb_parser *p, int kind, const char *a, size_t an, const char *b,
                     size_t bn, double score, uint64_t off)
{
    int rc;
    if (p->cb.coll_item == NULL)
        return 0;
    if (kind == RDB_COLL_ZSET)
        rc = p->cb.coll_item(p->arg, a, an, NULL, 0, score);
    else
        rc = p->cb.coll_item(p->arg, a, an, b, bn, 0);
    if (rc != 0)
        return callback_failed(p, rc, "coll_item", off);
    return 0;
}

/*
 * Walk the blob s of format fmt as items of kind (pairs for a hash or a sorted
 * set), counting them in *items, and hand each over when deliver is set.
 * @return 0 or an error.
 */
static int blob_walk(struct rdb_parser *p, int fmt, int kind, const char *s, size_t n, uint64_t off,
                     bool deliver, uint64_t *items)
{
    struct blob bl;
    struct elem a, b;
    bool pairs = kind == RDB_COLL_HASH || kind == RDB_COLL_ZSET;
    int rc;
    *items = 0;
    if ((rc = blob_open(p, &bl, fmt, s, n, off)) != 0)
        return rc;
    while ((rc = blob_next(p, &bl, &a)) > 0) {
        double score = 0;
        if (pairs) {
            if ((rc = blob_next(p, &bl, &b)) < 0)
                return rc;
            if (rc == 0)
                return blob_fail(p, &bl, "%llu elements: a %s needs pairs",
                                 (unsigned long long)bl.count, kind_names[kind]);
            if (kind == RDB_COLL_ZSET) {
                if (b.is_int)
                    score = (double)b.v;
                else if ((rc = text_score(p, b.s, b.n, &score, off)) != 0)
                    return rc;
            }
        }
        (*items)++;
        if (deliver && (rc = coll_item(p, kind, a.s, a.n, pairs ? b.s : NULL, pairs ? b.n : 0,
                                       score, off)) != 0)
            return rc;
    }
    return rc;
}

/* Check the blob s whole, then hand its items over. */
static int blob_load(struct rdb_parser *p, int fmt, int kind, const char *s, size_t n, uint64_t off)
{
    uint64_t items;
    int rc = blob_walk(p, fmt, kind, s, n, off, false, &items);
    return rc != 0 ? rc : blob_walk(p, fmt, kind, s, n, off, true, &items);
}

static int coll_done(struct rdb_parser *p, uint64_t off)
{
    int rc;
    p->state = p->value_only ? ST_DONE : ST_RECORDS;
    if (p->cb.coll_end != NULL && (rc = p->cb.coll_end(p->arg)) != 0)
        return callback_failed(p, rc, "coll_end", off);
    return 0;
}

/*
 * A collection's record after its key: a count (plain encodings and
 * quicklists; the elements follow in records of their own) or a blob (read,
 * checked and handed over here).
 */
static int parse_coll(struct rdb_parser *p, struct cursor *c, int type, struct sref *k)
{
    int kind = coll_types[type].kind, fmt = coll_types[type].blob, rc;
    uint64_t count;
    struct sref v;
    const char *ks, *vs = NULL;
    size_t kn, vn = 0;

    if (fmt == BLOB_NONE)
        rc = read_len(p, c, &count, NULL, "collection length");
    else
        rc = read_string(p, c, &v, blob_names[fmt]);
    if (rc != 0)
        return rc;
    /* The record is complete. */
    if ((rc = string_bytes(p, k, &p->kbuf, &p->kcap, &ks, &kn, "key")) != 0)
        return rc;
    if (fmt != BLOB_NONE &&
        ((rc = string_bytes(p, &v, &p->vbuf, &p->vcap, &vs, &vn, blob_names[fmt])) != 0 ||
         (rc = blob_walk(p, fmt, kind, vs, vn, v.off, false, &count)) != 0))
        return rc;
    if (p->cb.coll_begin != NULL) {
        uint64_t hint = type == TYPE_LIST_QUICKLIST || type == TYPE_LIST_QUICKLIST_2 ? 0 : count;
        rc = p->cb.coll_begin(p->arg, p->db, kind, ks, kn, hint, p->expire_ms, p->lru_idle,
                              p->lfu_freq);
        if (rc != 0)
            return callback_failed(p, rc, "coll_begin", c->base);
    }
    p->keys++;
    p->expire_ms = p->lru_idle = -1;
    p->lfu_freq = -1;
    p->coll_type = type;
    p->coll_off = c->base;
    if (fmt != BLOB_NONE) {
        if ((rc = blob_walk(p, fmt, kind, vs, vn, v.off, true, &count)) != 0)
            return rc;
        return coll_done(p, c->base);
    }
    if (count == 0)
        return coll_done(p, c->base);
    p->coll_left = count;
    p->state = ST_COLL;
    return 0;
}

/* One element, pair or quicklist node of the collection in progress. */
static int parse_coll_elem(struct rdb_parser *p, struct cursor *c)
{
    int type = p->coll_type, kind = coll_types[type].kind, rc;
    struct sref a, b;
    const char *as, *bs = NULL;
    size_t an, bn = 0;
    const unsigned char *t, *stext = NULL; /* zset type 3: the score's text */
    size_t sn = 0;
    double score = 0;
    uint64_t container = QL_PACKED;

    switch (type) {
    case TYPE_HASH:
        if ((rc = read_string(p, c, &a, "hash field")) != 0 ||
            (rc = read_string(p, c, &b, "hash value")) != 0)
            return rc;
        break;
    case TYPE_ZSET:
    case TYPE_ZSET_2:
        if ((rc = read_string(p, c, &a, "zset member")) != 0)
            return rc;
        if (type == TYPE_ZSET_2) {
            if ((t = take(c, 8)) == NULL)
                return PARSE_MORE;
            uint64_t u = get_le(t, 8);
            memcpy(&score, &u, sizeof(score));
        } else {
            /* a length byte, then the text; 253..255 are NaN, +inf, -inf */
            if ((t = take(c, 1)) == NULL)
                return PARSE_MORE;
            if (t[0] == 254 || t[0] == 255)
                score = t[0] == 254 ? INFINITY : -INFINITY;
            else if (t[0] == 253)
                score = NAN;
            else if ((stext = take(c, sn = t[0])) == NULL)
                return PARSE_MORE;
        }
        break;
    case TYPE_LIST_QUICKLIST_2:
        if ((rc = read_len(p, c, &container, NULL, "quicklist node container")) != 0)
            return rc;
        if (container != QL_PLAIN && container != QL_PACKED)
            return fail(p, RDB_EFORMAT, "bad quicklist node container %llu at offset %llu",
                        (unsigned long long)container, (unsigned long long)c->base);
        if ((rc = read_string(p, c, &a, container == QL_PLAIN ? "list element" : "listpack")) != 0)
            return rc;
        break;
    default: /* list, set, quicklist of ziplists */
        if ((rc = read_string(p, c, &a, type == TYPE_LIST_QUICKLIST ? "ziplist" : "element")) != 0)
            return rc;
    }
    /* The record is complete. */
    if ((rc = string_bytes(p, &a, &p->kbuf, &p->kcap, &as, &an, "element")) != 0)
        return rc;
    if (type == TYPE_HASH && (rc = string_bytes(p, &b, &p->vbuf, &p->vcap, &bs, &bn, "value")) != 0)
        return rc;
    if (stext != NULL && (rc = text_score(p, (const char *)stext, sn, &score, c->base)) != 0)
        return rc;
    if (isnan(score))
        return fail(p, RDB_EFORMAT, "NaN score at offset %llu", (unsigned long long)c->base);
    if (type == TYPE_LIST_QUICKLIST || (type == TYPE_LIST_QUICKLIST_2 && container == QL_PACKED))
        rc = blob_load(p, type == TYPE_LIST_QUICKLIST ? BLOB_ZIPLIST : BLOB_LISTPACK, RDB_COLL_LIST,
                       as, an, a.off);
    else
        rc = coll_item(p, kind, as, an, bs, bn, score, c->base);
    if (rc != 0)
        return rc;
    if (--p->coll_left == 0)
        return coll_done(p, c->base);
    return 0;
}

static int parse_header(struct rdb_parser *p, struct cursor *c)
{
    const unsigned char *s = take(c, HEADER_SIZE);
    int version = 0;
    if (s == NULL) {
        /* Reject a wrong signature as soon as its first bytes are in. */
        if (memcmp(c->b, "REDIS", MIN(c->n, 5)) != 0)
            return fail(p, RDB_EVERSION, "not an RDB file: bad signature");
        return PARSE_MORE;
    }
    if (memcmp(s, "REDIS", 5) != 0)
        return fail(p, RDB_EVERSION, "not an RDB file: bad signature");
    for (int i = 5; i < HEADER_SIZE; i++) {
        if (s[i] < '0' || s[i] > '9')
            return fail(
                p, RDB_EVERSION, "bad RDB version field '%c%c%c%c'",
                s[5] >= 0x20 && s[5] < 0x7f ? s[5] : '?', s[6] >= 0x20 && s[6] < 0x7f ? s[6] : '?',
                s[7] >= 0x20 && s[7] < 0x7f ? s[7] : '?', s[8] >= 0x20 && s[8] < 0x7f ? s[8] : '?');
        version = version * 10 + (s[i] - '0');
    }
    if (version < RDB_VERSION_MIN || version > RDB_VERSION_MAX)
        return fail(p, RDB_EVERSION, "bad RDB version %d", version);
    p->version = version;
    p->state = ST_RECORDS;
    return 0;
}

static int parse_eof(struct rdb_parser *p, struct cursor *c)
{
    static const unsigned char eof = OP_EOF;
    uint64_t crc = crc64_update(p->crc, &eof, 1);
    if (p->version >= 5) {
        const unsigned char *s = take(c, 8);
        if (s == NULL)
            return PARSE_MORE;
        uint64_t want = get_le(s, 8);
        if (want != 0 && want != crc)
            return fail(p, RDB_ECHECKSUM,
                        "checksum mismatch: the file says %016llx, its %llu bytes give %016llx",
                        (unsigned long long)want, (unsigned long long)(c->base + 1),
                        (unsigned long long)crc);
    }
    p->crc = crc;
    p->state = ST_DONE;
    return 0;
}

/* A key-value entry of type `type` (the type byte is read). */
static int parse_entry(struct rdb_parser *p, struct cursor *c, int type)
{
    struct sref k, v;
    const char *ks, *vs;
    size_t kn, vn;
    char shown[4 * 64 + 8];
    int rc;

    if (p->value_only) /* a DUMP payload: the key is the command's */
        k = (struct sref){ .enc = -1, .p = (const unsigned char *)"", .off = c->base + c->pos };
    else if ((rc = read_string(p, c, &k, "key")) != 0)
        return rc;
    /* A caller without a coll_begin callback cannot keep collections: refused,
     * as are streams and modules, rather than dropped. */
    if (type != TYPE_STRING && (size_t)type < ARRAY_SIZE(coll_types) &&
        coll_types[type].kind != 0 && p->cb.coll_begin != NULL)
        return parse_coll(p, c, type, &k);
    if (type != TYPE_STRING) {
        /* Only the key is needed to say what is refused. */
        if ((rc = string_bytes(p, &k, &p->kbuf, &p->kcap, &ks, &kn, "key")) != 0)
            return rc;
        return fail(p, RDB_EUNSUPPORTED,
                    "unsupported value type '%s' (%d, %s) for key '%s' at offset %llu",
                    value_types[type].type, type, value_types[type].enc,
                    show_key(shown, sizeof(shown), ks, kn), (unsigned long long)c->base);
    }
    if ((rc = read_string(p, c, &v, "value")) != 0)
        return rc;
    /* The record is complete: now decompress and hand it over. */
    if ((rc = string_bytes(p, &k, &p->kbuf, &p->kcap, &ks, &kn, "key")) != 0 ||
        (rc = string_bytes(p, &v, &p->vbuf, &p->vcap, &vs, &vn, "value")) != 0)
        return rc;
    if (p->cb.string != NULL) {
        rc = p->cb.string(p->arg, p->db, ks, kn, vs, vn, p->expire_ms, p->lru_idle, p->lfu_freq);
        if (rc != 0)
            return callback_failed(p, rc, "string", c->base);
    }
    p->keys++;
    p->expire_ms = p->lru_idle = -1;
    p->lfu_freq = -1;
    if (p->value_only)
        p->state = ST_DONE;
    return 0;
}

/* The value of a DUMP payload: its type byte, then the value as in a record. */
static int parse_value(struct rdb_parser *p, struct cursor *c)
{
    const unsigned char *s = take(c, 1);
    if (s == NULL)
        return PARSE_MORE;
    if (rdb_type_name(s[0]) == NULL)
        return fail(p, RDB_EFORMAT, "bad value type %d", s[0]);
    return parse_entry(p, c, s[0]);
}

static int parse_aux(struct rdb_parser *p, struct cursor *c)
{
    struct sref k, v;
    const char *ks, *vs;
    size_t kn, vn;
    int rc;
    if ((rc = read_string(p, c, &k, "aux field name")) != 0 ||
        (rc = read_string(p, c, &v, "aux field value")) != 0)
        return rc;
    if ((rc = string_bytes(p, &k, &p->kbuf, &p->kcap, &ks, &kn, "aux field name")) != 0 ||
        (rc = string_bytes(p, &v, &p->vbuf, &p->vcap, &vs, &vn, "aux field value")) != 0)
        return rc;
    if (p->cb.aux != NULL && (rc = p->cb.aux(p->arg, ks, kn, vs, vn)) != 0)
        return callback_failed(p, rc, "aux", c->base);
    return 0;
}

/* FUNCTION2: the library's code as one string; its first line names it. */
static int parse_function(struct rdb_parser *p, struct cursor *c)
{
    struct sref code;
    const char *s;
    size_t n, line = 0;
    char shown[4 * 64 + 8];
    int rc;
    if ((rc = read_string(p, c, &code, "function library")) != 0 ||
        (rc = string_bytes(p, &code, &p->vbuf, &p->vcap, &s, &n, "function library")) != 0)
        return rc;
    if (p->cb.function != NULL) {
        if ((rc = p->cb.function(p->arg, s, n)) != 0)
            return callback_failed(p, rc, "function", c->base);
        return 0;
    }
    while (line < n && s[line] != '\n')
        line++;
    return fail(p, RDB_EUNSUPPORTED,
                "the RDB holds functions, which Pollux cannot load: library '%s' at offset %llu",
                show_key(shown, sizeof(shown), s, line), (unsigned long long)c->base);
}

/* One record after the header. */
static int parse_record(struct rdb_parser *p, struct cursor *c)
{
    uint64_t a, b;
    const unsigned char *s = take(c, 1);
    int rc;
    if (s == NULL)
        return PARSE_MORE;
    switch (s[0]) {
    case OP_EOF:
        return parse_eof(p, c);
    case OP_SELECTDB:
        if ((rc = read_len(p, c, &a, NULL, "database number")) != 0)
            return rc;
        if (a >= (uint64_t)p->databases)
            return fail(p, RDB_ELIMIT,
                        "database %llu at offset %llu is out of range (databases is %d)",
                        (unsigned long long)a, (unsigned long long)c->base, p->databases);
        if (p->cb.selectdb != NULL && (rc = p->cb.selectdb(p->arg, (int)a)) != 0)
            return callback_failed(p, rc, "selectdb", c->base);
        p->db = (int)a;
        return 0;
    case OP_RESIZEDB:
        if ((rc = read_len(p, c, &a, NULL, "database size")) != 0 ||
            (rc = read_len(p, c, &b, NULL, "expires size")) != 0)
            return rc;
        if (p->cb.resizedb != NULL && (rc = p->cb.resizedb(p->arg, a, b)) != 0)
            return callback_failed(p, rc, "resizedb", c->base);
        return 0;
    case OP_AUX:
        return parse_aux(p, c);
    case OP_EXPIRETIME_MS:
    case OP_EXPIRETIME: {
        bool ms = s[0] == OP_EXPIRETIME_MS;
        const unsigned char *t = take(c, ms ? 8 : 4);
        if (t == NULL)
            return PARSE_MORE;
        int64_t when = ms ? (int64_t)get_le(t, 8) : (int64_t)(int32_t)get_le(t, 4) * 1000;
        /* Any time before the epoch is as expired as 0; -1 must keep meaning "none". */
        p->expire_ms = when < 0 ? 0 : when;
        return 0;
    }
    case OP_IDLE:
        if ((rc = read_len(p, c, &a, NULL, "idle time")) != 0)
            return rc;
        if (a > INT64_MAX)
            return fail(p, RDB_EFORMAT, "bad idle time %llu at offset %llu", (unsigned long long)a,
                        (unsigned long long)c->base);
        p->lru_idle = (int64_t)a;
        return 0;
    case OP_FREQ: {
        const unsigned char *t = take(c, 1);
        if (t == NULL)
            return PARSE_MORE;
        p->lfu_freq = t[0];
        return 0;
    }
    case OP_MODULE_AUX:
        if ((rc = read_len(p, c, &a, NULL, "module id")) != 0)
            return rc;
        return fail(p, RDB_EUNSUPPORTED,
                    "the RDB holds module data (MODULE_AUX, module id %016llx) at offset %llu, "
                    "which Pollux cannot load",
                    (unsigned long long)a, (unsigned long long)c->base);
    case OP_FUNCTION2:
        return parse_function(p, c);
    case OP_FUNCTION_PRE_GA:
        return fail(p, RDB_EUNSUPPORTED,
                    "the RDB holds functions (pre-release format) at offset %llu, which Pollux "
                    "cannot load",
                    (unsigned long long)c->base);
    default:
        if (rdb_type_name(s[0]) == NULL)
            return fail(p, RDB_EFORMAT, "bad record type %d at offset %llu", s[0],
                        (unsigned long long)c->base);
        return parse_entry(p, c, s[0]);
    }
}

/* Parse one record at the start of c; on success account its bytes. */
static int step(struct rdb_parser *p, struct cursor *c)
{
    int rc = p->state == ST_HEADER  ? parse_header(p, c)
             : p->state == ST_COLL  ? parse_coll_elem(p, c)
             : p->state == ST_VALUE ? parse_value(p, c)
                                    : parse_record(p, c);
    if (rc != 0)
        return rc;
    if (p->state != ST_DONE) /* parse_eof accounts the EOF opcode itself */
        p->crc = crc64_update(p->crc, c->b, c->pos);
    p->offset += c->pos;
    return 0;
}

void rdb_parser_init(struct rdb_parser *p, const struct rdb_callbacks *cb, void *arg,
                     const struct rdb_parser_opts *o)
{
    memset(p, 0, sizeof(*p));
    if (cb != NULL)
        p->cb = *cb;
    p->arg = arg;
    p->max_len = o != NULL && o->max_len != 0 ? o->max_len : RDB_DEFAULT_MAX_LEN;
    /* A record must fit in memory with room to spare for its offsets. */
    if (p->max_len > SIZE_MAX / 4)
        p->max_len = SIZE_MAX / 4;
    p->databases = o != NULL && o->databases > 0 ? o->databases : RDB_DEFAULT_DATABASES;
    p->state = ST_HEADER;
    p->expire_ms = p->lru_idle = -1;
    p->lfu_freq = -1;
}

void rdb_parser_deinit(struct rdb_parser *p)
{
    mem_free(p->rec);
    mem_free(p->kbuf);
    mem_free(p->vbuf);
    p->rec = p->kbuf = p->vbuf = NULL;
    p->rec_len = p->rec_cap = p->kcap = p->vcap = 0;
}

/* Append to the record being gathered; capacity grows with what arrives, never
 * ahead of it to what a length claims. */
static void rec_append(struct rdb_parser *p, const void *s, size_t n)
{
    size_t want = p->rec_len + n;
    if (want > p->rec_cap) {
        size_t cap = p->rec_cap ? p->rec_cap : 256;
        while (cap < want)
            cap *= 2;
        if (cap > p->rec_need && p->rec_need >= want)
            cap = p->rec_need;
        p->rec = mem_realloc(p->rec, cap);
        p->rec_cap = cap;
    }
    memcpy(p->rec + p->rec_len, s, n);
    p->rec_len = want;
}

/* Buffers larger than this are given back once the record that needed them is done. */
#define KEEP_BUF (1024 * 1024)

static void rec_done(struct rdb_parser *p)
{
    p->rec_len = 0;
    if (p->rec_cap > KEEP_BUF) {
        mem_free(p->rec);
        p->rec = NULL;
        p->rec_cap = 0;
    }
    if (p->kcap > KEEP_BUF) {
        mem_free(p->kbuf);
        p->kbuf = NULL;
        p->kcap = 0;
    }
    if (p->vcap > KEEP_BUF) {
        mem_free(p->vbuf);
        p->vbuf = NULL;
        p->vcap = 0;
    }
}

int rdb_parser_feed(struct rdb_parser *p, const void *buf, size_t len, size_t *used)
{
    const unsigned char *in = buf;
    size_t pos = 0;
    int rc;

    if (used != NULL)
        *used = 0;
    if (p->state == ST_DONE)
        return RDB_DONE;
    if (p->state == ST_FAILED)
        return p->status;
    while (pos < len) {
        struct cursor c;
        if (p->rec_len > 0) {
            /* Gather up to what the record was last found to need, then retry. */
            size_t n = MIN(len - pos, p->rec_need - p->rec_len);
            rec_append(p, in + pos, n);
            pos += n;
            /* The header is looked at on every feed: a wrong signature is refused
             * as soon as its first differing byte is in, however the bytes came. */
            if (p->rec_len < p->rec_need && p->state != ST_HEADER)
                break;
            c = (struct cursor){ (const unsigned char *)p->rec, p->rec_len, 0, p->offset, 0 };
            rc = step(p, &c);
            if (rc == PARSE_MORE) {
                assert(c.need > p->rec_len);
                p->rec_need = c.need;
                continue;
            }
            if (rc < 0)
                return rc;
            assert(c.pos == p->rec_len);
            rec_done(p);
        } else {
            c = (struct cursor){ in + pos, len - pos, 0, p->offset, 0 };
            rc = step(p, &c);
            if (rc == PARSE_MORE) {
                p->rec_need = c.need;
                rec_append(p, in + pos, len - pos);
                pos = len;
                break;
            }
            if (rc < 0)
                return rc;
            pos += c.pos;
        }
        if (p->state == ST_DONE) {
            rec_done(p);
            if (used != NULL)
                *used = pos;
            return RDB_DONE;
        }
    }
    if (used != NULL)
        *used = len;
    return RDB_OK;
}

int rdb_parser_finish(struct rdb_parser *p)
{
    if (p->state == ST_DONE)
        return RDB_DONE;
    if (p->state == ST_FAILED)
        return p->status;
    if (p->state == ST_HEADER)
        return fail(p, RDB_ETRUNC, "truncated RDB: %zu bytes, shorter than the header", p->rec_len);
    if (p->state == ST_COLL)
        return fail(p, RDB_ETRUNC,
                    "truncated RDB: the input ends at offset %llu inside the %s that starts at "
                    "offset %llu (%llu more %s expected)",
                    (unsigned long long)(p->offset + p->rec_len),
                    kind_names[coll_types[p->coll_type].kind], (unsigned long long)p->coll_off,
                    (unsigned long long)p->coll_left,
                    p->coll_type == TYPE_LIST_QUICKLIST || p->coll_type == TYPE_LIST_QUICKLIST_2
                        ? "nodes"
                        : "elements");
    if (p->rec_len > 0)
        return fail(p, RDB_ETRUNC,
                    "truncated RDB: the input ends inside the record at offset %llu "
                    "(%zu bytes of at least %zu)",
                    (unsigned long long)p->offset, p->rec_len, p->rec_need);
    return fail(p, RDB_ETRUNC,
                "truncated RDB: the input ends at offset %llu, before the EOF record",
                (unsigned long long)p->offset);
}

/* ---- DUMP payloads ---- */

int rdb_dump_check(const void *payload, size_t len)
{
    const unsigned char *u = payload;
    if (len < RDB_DUMP_TRAILER)
        return -1;
    const unsigned char *t = u + len - RDB_DUMP_TRAILER;
    int version = (int)get_le(t, 2);
    if (version > RDB_VERSION || crc64_update(0, u, len - 8) != get_le(t + 2, 8))
        return -1;
    return version;
}

int rdb_parse_dump(struct rdb_parser *p, const void *payload, size_t len)
{
    int version = rdb_dump_check(payload, len);
    assert(version >= 0 && p->state == ST_HEADER);
    size_t n = len - RDB_DUMP_TRAILER, used;
    p->version = version;
    p->value_only = true;
    p->state = ST_VALUE;
    int rc = rdb_parser_feed(p, payload, n, &used);
    if (rc == RDB_DONE && used < n)
        return fail(p, RDB_EFORMAT, "%zu bytes after the value", n - used);
    if (rc == RDB_OK) {
        rc = rdb_parser_finish(p);
        if (rc == RDB_ETRUNC) /* not an error of its own here: the payload is whole */
            p->status = rc = RDB_EFORMAT;
    }
    return rc;
}

/* ---- Encoder: collections ---- */

static void put_double_le(struct rdb_buf *b, double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof(u));
    put_le(b, u, 8);
}

/* A listpack's back length: the entry's size l, 7 bits a byte, the first
 * byte without the "more" flag, the others with it. */
static void lp_put_backlen(struct rdb_buf *t, uint64_t l)
{
    size_t n = lp_backlen_size(l);
    for (size_t i = 0; i < n; i++)
        put_byte(t, (unsigned)((l >> (7 * (n - 1 - i))) & 0x7f) | (i > 0 ? 0x80u : 0));
}

/* A listpack integer entry in the smallest encoding that holds v. */
static void lp_put_int(struct rdb_buf *t, long long v)
{
    size_t start = t->len;
    if (v >= 0 && v <= 127) {
        put_byte(t, (unsigned)v);
    } else if (v >= -4096 && v <= 4095) {
        unsigned u = (unsigned)(v < 0 ? v + 8192 : v);
        put_byte(t, 0xC0 | (u >> 8));
        put_byte(t, u & 0xff);
    } else {
        int w = v >= INT16_MIN && v <= INT16_MAX   ? 2
                : v >= -8388608 && v <= 8388607    ? 3
                : v >= INT32_MIN && v <= INT32_MAX ? 4
                                                   : 8;
        put_byte(t, w == 2 ? 0xF1 : w == 3 ? 0xF2 : w == 4 ? 0xF3 : 0xF4);
        put_le(t, (uint64_t)v, w);
    }
    lp_put_backlen(t, t->len - start);
}

/* A listpack entry for s: an integer when s is the canonical decimal form of
 * an int64 (Redis's rule), else a string with a 6-, 12- or 32-bit length. */
static void lp_put(struct rdb_buf *t, const void *s, size_t n)
{
    long long v;
    if (util_str2ll(s, n, &v)) {
        lp_put_int(t, v);
        return;
    }
    assert(n <= UINT32_MAX);
    size_t start = t->len;
    if (n < 64) {
        put_byte(t, 0x80 | (unsigned)n);
    } else if (n < 4096) {
        put_byte(t, 0xE0 | (unsigned)(n >> 8));
        put_byte(t, n & 0xff);
    } else {
        put_byte(t, 0xF0);
        put_le(t, n, 4);
    }
    put(t, s, n);
    lp_put_backlen(t, t->len - start);
}

/* A score as Redis 7.0 puts it in a listpack: an integer entry when it is an
 * integer of magnitude at most 2^62 (-0 too), else its text: "inf", "-inf",
 * or "%.17g". */
static void lp_put_score(struct rdb_buf *t, double d)
{
    char num[40];
    int n;
    if (!isinf(d) && d >= -(double)(LLONG_MAX / 2) && d <= (double)(LLONG_MAX / 2) &&
        d == (double)(long long)d) {
        lp_put_int(t, (long long)d);
        return;
    }
    if (isinf(d))
        n = snprintf(num, sizeof(num), "%s", d > 0 ? "inf" : "-inf");
    else
        n = snprintf(num, sizeof(num), "%.17g", d);
    lp_put(t, num, (size_t)n);
}

/* Start a listpack in t (emptied), finish it with its header once count
 * entries are in, then write it as one RDB string. */
static void lp_begin(struct rdb_buf *t)
{
    static const char hdr[LP_HEADER] = { 0 };
    t->len = 0;
    put(t, hdr, sizeof(hdr));
}

static void lp_finish(struct rdb_buf *b, struct rdb_buf *t, uint64_t count,
                      const struct rdb_encode_opts *o)
{
    put_byte(t, BLOB_END);
    assert(t->len <= UINT32_MAX);
    for (int i = 0; i < 4; i++)
        t->p[i] = (char)(t->len >> (8 * i));
    uint64_t c = MIN(count, (uint64_t)COUNT_UNKNOWN);
    t->p[4] = (char)c;
    t->p[5] = (char)(c >> 8);
    put_string(b, t->p, t->len, o);
}

static const unsigned char plain_types[] = {
    [RDB_COLL_LIST] = TYPE_LIST_QUICKLIST_2,
    [RDB_COLL_SET] = TYPE_SET,
    [RDB_COLL_ZSET] = TYPE_ZSET_2,
    [RDB_COLL_HASH] = TYPE_HASH,
};

void rdb_encode_coll_begin(struct rdb_buf *b, int kind, const void *key, size_t klen,
                           uint64_t count, int64_t expire_ms, const struct rdb_encode_opts *o)
{
    struct rdb_encode_opts def;
    assert(kind >= RDB_COLL_LIST && kind <= RDB_COLL_HASH);
    o = opts_or_default(o, &def);
    put_entry_head(b, plain_types[kind], key, klen, expire_ms, o);
    put_len(b, count);
}

void rdb_encode_coll_item(struct rdb_buf *b, int kind, const struct rdb_item *it,
                          const struct rdb_encode_opts *o)
{
    struct rdb_encode_opts def;
    assert(kind == RDB_COLL_SET || kind == RDB_COLL_ZSET || kind == RDB_COLL_HASH);
    o = opts_or_default(o, &def);
    put_string(b, it->a, it->alen, o);
    if (kind == RDB_COLL_HASH)
        put_string(b, it->b, it->blen, o);
    else if (kind == RDB_COLL_ZSET)
        put_double_le(b, it->score);
}

/* The items of a list, hash or sorted set as listpack entries in t. */
static void lp_put_items(struct rdb_buf *t, int kind, const struct rdb_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        lp_put(t, items[i].a, items[i].alen);
        if (kind == RDB_COLL_HASH)
            lp_put(t, items[i].b, items[i].blen);
        else if (kind == RDB_COLL_ZSET)
            lp_put_score(t, items[i].score);
    }
}

void rdb_encode_list_node(struct rdb_buf *b, const struct rdb_item *items, size_t n,
                          const struct rdb_encode_opts *o)
{
    struct rdb_encode_opts def;
    struct rdb_buf t;
    assert(n >= 1);
    o = opts_or_default(o, &def);
    rdb_buf_init(&t);
    lp_begin(&t);
    lp_put_items(&t, RDB_COLL_LIST, items, n);
    put_len(b, QL_PACKED);
    lp_finish(b, &t, n, o);
    rdb_buf_deinit(&t);
}

static int ll_cmp(const void *x, const void *y)
{
    long long a = *(const long long *)x, b = *(const long long *)y;
    return (a > b) - (a < b);
}

/* An intset: the width that holds every member, the count, the members
 * ascending, little-endian. @return false when a member is not an integer. */
static bool put_intset(struct rdb_buf *t, const struct rdb_item *items, size_t n)
{
    long long *v = mem_alloc(MAX(n, 1) * sizeof(*v));
    int w = 2;
    for (size_t i = 0; i < n; i++) {
        if (!util_str2ll(items[i].a, items[i].alen, &v[i])) {
            mem_free(v);
            return false;
        }
        if (v[i] < INT16_MIN || v[i] > INT16_MAX)
            w = MAX(w, v[i] < INT32_MIN || v[i] > INT32_MAX ? 8 : 4);
    }
    qsort(v, n, sizeof(*v), ll_cmp);
    put_le(t, (uint64_t)w, 4);
    put_le(t, n, 4);
    for (size_t i = 0; i < n; i++)
        put_le(t, (uint64_t)v[i], w);
    mem_free(v);
    return true;
}

int rdb_encode_coll_small(struct rdb_buf *b, int kind, const void *key, size_t klen,
                          const struct rdb_item *items, size_t n, int64_t expire_ms,
                          const struct rdb_encode_opts *o)
{
    struct rdb_encode_opts def;
    struct rdb_buf t;
    o = opts_or_default(o, &def);
    rdb_buf_init(&t);
    if (kind == RDB_COLL_SET) {
        if (!put_intset(&t, items, n)) {
            rdb_buf_deinit(&t);
            return -EINVAL;
        }
        put_entry_head(b, TYPE_SET_INTSET, key, klen, expire_ms, o);
        put_string(b, t.p, t.len, o);
    } else if (kind == RDB_COLL_LIST) {
        rdb_encode_coll_begin(b, kind, key, klen, n > 0 ? 1 : 0, expire_ms, o);
        if (n > 0)
            rdb_encode_list_node(b, items, n, o);
    } else {
        assert(kind == RDB_COLL_HASH || kind == RDB_COLL_ZSET);
        put_entry_head(b, kind == RDB_COLL_HASH ? TYPE_HASH_LISTPACK : TYPE_ZSET_LISTPACK, key,
                       klen, expire_ms, o);
        lp_begin(&t);
        lp_put_items(&t, kind, items, n);
        lp_finish(b, &t, 2 * (uint64_t)n, o);
    }
    rdb_buf_deinit(&t);
    return 0;
}
