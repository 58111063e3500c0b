/*
 * RDB encoder and decoder.
 *
 * The decoder's callbacks write a transcript: one line per record, strings
 * with their length in front so binary data compares exactly. A test builds
 * the transcript it expects from its own list of entries and compares. Input
 * is fed in exact-size heap copies (a read past a feed's end is an ASan
 * error), split at every byte offset, one byte at a time, or in chunks.
 *
 * The files under tests/unit/data/ were written by Debian's redis-server
 * 7.0.15 (SAVE); their expected contents are listed below.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/unit/rdb_values_test.h"
#include "tests/unit/sbuf_test.h"

#include "replication/crc64.h"
#include "replication/rdb.h"

#ifndef TEST_DATA_DIR
#define TEST_DATA_DIR "tests/unit/data"
#endif

/* ---- byte strings ---- */

static void read_file(const char *name, struct sbuf *out)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", TEST_DATA_DIR, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    char tmp[4096];
    size_t n;
    memset(out, 0, sizeof(*out));
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        sb_add(out, tmp, n);
    fclose(f);
    assert_true(out->len > 0);
}

/* ---- transcripts ---- */

static void tr_str(struct sbuf *t, const void *s, size_t n)
{
    sb_fmt(t, " %zu:", n);
    sb_add(t, s, n);
}

static void tr_string(struct sbuf *t, int db, const void *k, size_t kn, const void *v, size_t vn,
                      int64_t expire, int64_t idle, int freq)
{
    sb_fmt(t, "S %d", db);
    tr_str(t, k, kn);
    tr_str(t, v, vn);
    sb_fmt(t, " %lld %lld %d\n", (long long)expire, (long long)idle, freq);
}

static void tr_aux(struct sbuf *t, const char *k, const void *v, size_t vn)
{
    sb_add(t, "A", 1);
    tr_str(t, k, strlen(k));
    tr_str(t, v, vn);
    sb_add(t, "\n", 1);
}

struct collector {
    struct sbuf t;
    int abort_after; /* the string callback fails on this call (1-based); 0: never */
    int strings;
    bool keys_only; /* no aux, database or size lines */
    /* the collection in progress: its kind and item lines (sorted at its end
     * unless it is a list, whose order is part of its value) */
    int kind;
    struct sbuf *lines;
    size_t nlines, caplines;
    int colls;
};

static int on_aux(void *arg, const char *k, size_t kn, const char *v, size_t vn)
{
    struct collector *c = arg;
    if (c->keys_only)
        return 0;
    sb_add(&c->t, "A", 1);
    tr_str(&c->t, k, kn);
    tr_str(&c->t, v, vn);
    sb_add(&c->t, "\n", 1);
    return 0;
}

static int on_select(void *arg, int db)
{
    struct collector *c = arg;
    if (!c->keys_only)
        sb_fmt(&c->t, "D %d\n", db);
    return 0;
}

static int on_resize(void *arg, uint64_t keys, uint64_t expires)
{
    struct collector *c = arg;
    if (!c->keys_only)
        sb_fmt(&c->t, "R %llu %llu\n", (unsigned long long)keys, (unsigned long long)expires);
    return 0;
}

static int on_string(void *arg, int db, const char *k, size_t kn, const char *v, size_t vn,
                     int64_t expire, int64_t idle, int freq)
{
    struct collector *c = arg;
    c->strings++;
    if (c->abort_after != 0 && c->strings == c->abort_after)
        return -5;
    tr_string(&c->t, db, k, kn, v, vn, expire, idle, freq);
    return 0;
}

static int on_coll_begin(void *arg, int db, int kind, const char *k, size_t kn, uint64_t hint,
                         int64_t expire, int64_t idle, int freq)
{
    struct collector *c = arg;
    assert_int_equal(c->nlines, 0);
    c->kind = kind;
    sb_fmt(&c->t, "C %d %d", db, kind);
    tr_str(&c->t, k, kn);
    sb_fmt(&c->t, " %llu %lld %lld %d\n", (unsigned long long)hint, (long long)expire,
           (long long)idle, freq);
    return 0;
}

static int on_coll_item(void *arg, const char *a, size_t an, const char *b, size_t bn, double score)
{
    struct collector *c = arg;
    if (c->nlines == c->caplines) {
        c->caplines = c->caplines ? 2 * c->caplines : 16;
        c->lines = realloc(c->lines, c->caplines * sizeof(*c->lines));
        assert_non_null(c->lines);
    }
    struct sbuf *l = &c->lines[c->nlines++];
    memset(l, 0, sizeof(*l));
    sb_add(l, "I", 1);
    tr_str(l, a, an);
    if (c->kind == RDB_COLL_HASH)
        tr_str(l, b, bn);
    else
        assert_null(b);
    if (c->kind == RDB_COLL_ZSET)
        sb_fmt(l, " %.17g", score);
    else
        assert_true(score == 0);
    sb_add(l, "\n", 1);
    return 0;
}

static int line_cmp(const void *x, const void *y)
{
    const struct sbuf *a = x, *b = y;
    int d = memcmp(a->p, b->p, a->len < b->len ? a->len : b->len);
    return d != 0 ? d : (a->len > b->len) - (a->len < b->len);
}

static void drop_lines(struct collector *c)
{
    for (size_t i = 0; i < c->nlines; i++)
        sb_free(&c->lines[i]);
    free(c->lines);
    c->lines = NULL;
    c->nlines = c->caplines = 0;
}

static int on_coll_end(void *arg)
{
    struct collector *c = arg;
    if (c->kind != RDB_COLL_LIST && c->nlines > 1)
        qsort(c->lines, c->nlines, sizeof(*c->lines), line_cmp);
    for (size_t i = 0; i < c->nlines; i++)
        sb_add(&c->t, c->lines[i].p, c->lines[i].len);
    sb_fmt(&c->t, "E %zu\n", c->nlines);
    drop_lines(c);
    c->colls++;
    return 0;
}

static const struct rdb_callbacks callbacks = { on_aux,        on_select,    on_resize,  on_string,
                                                on_coll_begin, on_coll_item, on_coll_end };

/* The outcome of one decode. */
struct result {
    int rc;      /* RDB_DONE or an error */
    size_t used; /* bytes of the input the RDB took (RDB_DONE) */
    char err[RDB_ERR_MAX];
    uint64_t keys;
};

/* Feed one piece in an exact-size heap copy. */
static int feed_copy(struct rdb_parser *p, const char *s, size_t n, size_t *used)
{
    char *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    memcpy(copy, s, n);
    int rc = rdb_parser_feed(p, copy, n, used);
    free(copy);
    return rc;
}

/*
 * Decode in, cut into pieces by next_cut (returns the end of the piece that
 * starts at `pos`), into c->t; stop at DONE or an error, then finish.
 */
typedef size_t (*cut_fn)(size_t pos, size_t len, void *arg);

static void decode_cuts(const struct sbuf *in, cut_fn next_cut, void *cut_arg,
                        const struct rdb_parser_opts *o, struct collector *c, struct result *r)
{
    struct rdb_parser p;
    size_t pos = 0;
    rdb_parser_init(&p, &callbacks, c, o);
    r->rc = RDB_OK;
    r->used = 0;
    while (pos < in->len) {
        size_t end = next_cut(pos, in->len, cut_arg);
        assert_true(end > pos && end <= in->len);
        size_t used = 0;
        r->rc = feed_copy(&p, in->p + pos, end - pos, &used);
        if (r->rc == RDB_OK)
            assert_int_equal(used, end - pos);
        if (r->rc == RDB_DONE) {
            r->used = pos + used;
            /* Later feeds consume nothing. */
            if (end < in->len) {
                assert_int_equal(feed_copy(&p, in->p + end, in->len - end, &used), RDB_DONE);
                assert_int_equal(used, 0);
            }
            break;
        }
        if (r->rc < 0) {
            /* The failure is sticky. */
            assert_int_equal(feed_copy(&p, "x", 1, &used), r->rc);
            break;
        }
        pos = end;
    }
    int fin = rdb_parser_finish(&p);
    if (c != NULL) /* what a failed load left of a collection */
        drop_lines(c);
    if (r->rc == RDB_DONE)
        assert_int_equal(fin, RDB_DONE);
    else if (r->rc < 0)
        assert_int_equal(fin, r->rc);
    else
        r->rc = fin;
    assert_int_not_equal(r->rc, RDB_OK);
    if (r->rc < 0)
        assert_true(p.err[0] != '\0');
    else
        assert_true(p.err[0] == '\0');
    memcpy(r->err, p.err, sizeof(r->err));
    r->keys = p.keys;
    rdb_parser_deinit(&p);
}

static size_t cut_whole(size_t pos, size_t len, void *arg)
{
    (void)pos;
    (void)arg;
    return len;
}

static size_t cut_at(size_t pos, size_t len, void *arg)
{
    size_t at = *(size_t *)arg;
    return pos < at ? at : len;
}

static size_t cut_chunk(size_t pos, size_t len, void *arg)
{
    size_t n = *(size_t *)arg;
    return len - pos < n ? len : pos + n;
}

/* Pieces of varying size 1..4099 (a fixed sequence). */
static size_t cut_varying(size_t pos, size_t len, void *arg)
{
    uint64_t *s = arg;
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    size_t n = 1 + (size_t)((*s >> 33) % ((*s >> 62) == 0 ? 4099 : 17));
    return len - pos < n ? len : pos + n;
}

static void decode(const struct sbuf *in, const struct rdb_parser_opts *o, struct collector *c,
                   struct result *r)
{
    decode_cuts(in, cut_whole, NULL, o, c, r);
}

/*
 * Decode `in` whole, then split in two at every byte offset, then one byte at
 * a time: every run must give the same result and transcript as `want_tr`
 * (NULL: as the whole-buffer run).
 */
static void decode_every_split(const struct sbuf *in, const struct sbuf *want_tr, int want_rc,
                               size_t want_used)
{
    struct collector c0 = { 0 };
    struct result r0;
    decode(in, NULL, &c0, &r0);
    if (r0.rc != want_rc)
        fail_msg("rc %d, want %d: %s", r0.rc, want_rc, r0.err);
    if (want_rc == RDB_DONE)
        assert_int_equal(r0.used, want_used);
    if (want_tr != NULL)
        assert_true(sb_eq(&c0.t, want_tr));
    for (size_t cut = 1; cut < in->len; cut++) {
        struct collector c = { 0 };
        struct result r;
        decode_cuts(in, cut_at, &cut, NULL, &c, &r);
        if (r.rc != r0.rc || !sb_eq(&c.t, &c0.t) || strcmp(r.err, r0.err) != 0)
            fail_msg("split at %zu: rc %d (%s), whole: rc %d (%s)", cut, r.rc, r.err, r0.rc,
                     r0.err);
        assert_int_equal(r.used, r0.used);
        sb_free(&c.t);
    }
    struct collector c1 = { 0 };
    struct result r1;
    size_t one = 1;
    decode_cuts(in, cut_chunk, &one, NULL, &c1, &r1);
    assert_int_equal(r1.rc, r0.rc);
    assert_int_equal(r1.used, r0.used);
    assert_true(sb_eq(&c1.t, &c0.t));
    assert_string_equal(r1.err, r0.err);
    sb_free(&c1.t);
    sb_free(&c0.t);
}

/* ---- building files ---- */

static void to_sbuf(const struct rdb_buf *b, struct sbuf *out)
{
    memset(out, 0, sizeof(*out));
    sb_add(out, b->p, b->len);
}

/* Finish a file in one buffer: the trailer with the CRC of everything before it. */
static void finish_file(struct rdb_buf *b)
{
    rdb_encode_eof(b, crc64_update(0, b->p, b->len));
}

static void hex_to(const char *hex, unsigned char *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (unsigned char)v;
    }
}

/* ---- encoder: exact bytes ---- */

struct enc_case {
    const char *val;
    const char *bytes; /* the value's encoding, in hex */
};

/* Integers at every encoding boundary, and strings that look like integers but are not. */
static const struct enc_case int_cases[] = {
    { "0", "c000" },
    { "1", "c001" },
    { "-1", "c0ff" },
    { "127", "c07f" },
    { "-128", "c080" },
    { "128", "c18000" },
    { "-129", "c17fff" },
    { "32767", "c1ff7f" },
    { "-32768", "c10080" },
    { "32768", "c200800000" },
    { "-32769", "c2ff7fffff" },
    { "2147483647", "c2ffffff7f" },
    { "-2147483648", "c200000080" },
    { "2147483648", "0a32313437343833363438" },
    { "-2147483649", "0b2d32313437343833363439" },
    { "9223372036854775807", "1339323233333732303336383534373735383037" },
    { "007", "03303037" },
    { "+1", "022b31" },
    { " 1", "022031" },
    { "1 ", "023120" },
    { "-0", "022d30" },
    { "00", "023030" },
    { "", "00" },
    { "12345678901", "0b3132333435363738393031" },
};

static void encode_int_boundaries(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(int_cases) / sizeof(int_cases[0]); i++) {
        struct rdb_buf b;
        rdb_buf_init(&b);
        rdb_encode_string(&b, "k", 1, int_cases[i].val, strlen(int_cases[i].val), -1, NULL);
        size_t n = strlen(int_cases[i].bytes) / 2;
        unsigned char want[64];
        hex_to(int_cases[i].bytes, want, n);
        /* type 0, key "k" (length 1), then the value */
        assert_int_equal(b.len, 3 + n);
        assert_memory_equal(b.p, "\x00\x01k", 3);
        if (memcmp(b.p + 3, want, n) != 0)
            fail_msg("value '%s' encoded wrongly", int_cases[i].val);
        rdb_buf_deinit(&b);
    }
}

static void encode_lengths(void **state)
{
    (void)state;
    static const struct {
        size_t n;
        const char *hdr;
    } cases[] = {
        { 0, "00" },
        { 63, "3f" },
        { 64, "4040" },
        { 16383, "7fff" },
        { 16384, "8000004000" },
        { 70000, "8000011170" },
    };
    struct rdb_encode_opts o;
    rdb_encode_opts_init(&o);
    o.compress = false;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct rdb_buf b;
        rdb_buf_init(&b);
        char *v = malloc(cases[i].n + 1);
        memset(v, 'x', cases[i].n);
        rdb_encode_string(&b, "k", 1, v, cases[i].n, -1, &o);
        size_t h = strlen(cases[i].hdr) / 2;
        unsigned char want[8];
        hex_to(cases[i].hdr, want, h);
        assert_int_equal(b.len, 3 + h + cases[i].n);
        assert_memory_equal(b.p + 3, want, h);
        free(v);
        rdb_buf_deinit(&b);
    }
    /* The 64-bit form in RESIZEDB. */
    struct rdb_buf b;
    rdb_buf_init(&b);
    rdb_encode_resizedb(&b, 1ull << 32, 5);
    assert_int_equal(b.len, 1 + 9 + 1);
    assert_memory_equal(b.p, "\xfb\x81\x00\x00\x00\x01\x00\x00\x00\x00\x05", 11);
    rdb_buf_deinit(&b);
}

/* Expiry, IDLE and FREQ records in front of the entry, in Redis's order. */
static void encode_metadata(void **state)
{
    (void)state;
    struct rdb_buf b;
    struct rdb_encode_opts o;
    rdb_buf_init(&b);
    rdb_encode_opts_init(&o);
    rdb_encode_string(&b, "a", 1, "x", 1, 0x0102030405060708ll, &o);
    assert_int_equal(b.len, 9 + 5);
    assert_memory_equal(b.p,
                        "\xfc\x08\x07\x06\x05\x04\x03\x02\x01\x00\x01"
                        "a\x01x",
                        14);
    b.len = 0;
    o.lru_idle = 300;
    rdb_encode_string(&b, "a", 1, "x", 1, -1, &o);
    assert_int_equal(b.len, 3 + 5);
    assert_memory_equal(b.p,
                        "\xf8\x41\x2c\x00\x01"
                        "a\x01x",
                        8);
    b.len = 0;
    o.lru_idle = -1;
    o.lfu_freq = 11;
    rdb_encode_string(&b, "a", 1, "x", 1, -1, &o);
    assert_memory_equal(b.p,
                        "\xf9\x0b\x00\x01"
                        "a\x01x",
                        7);
    rdb_buf_deinit(&b);
}

/* ---- the Redis 7.0 files ---- */

static const char random60_hex[] = "52f22665a60c12d289185d950ee8813609166f6b113d178d6c0fd3901ff2"
                                   "39a1a095f20f9395650cf9380b8edb224a6b248a1e924e8fd0ae2e1a9492";

/* What redis7-strings.rdb holds (made by SET, PEXPIREAT and EXPIREAT on redis-server 7.0.15). */
static void strings_expected(struct sbuf *text, struct sbuf *a1000, struct sbuf *b300,
                             struct sbuf *c25, struct sbuf *k100, unsigned char rnd[60],
                             struct sbuf *big)
{
    for (int i = 0; i < 300; i++)
        sb_fmt(text, "line %d of a compressible value\n", i);
    for (int i = 0; i < 1000; i++)
        sb_add(a1000, "a", 1);
    for (int i = 0; i < 300; i++)
        sb_add(b300, "b", 1);
    for (int i = 0; i < 25; i++)
        sb_add(c25, "c", 1);
    for (int i = 0; i < 100; i++)
        sb_add(k100, "k", 1);
    hex_to(random60_hex, rnd, 60);
    for (int i = 0; i < 20; i++)
        sb_add(big, rnd, 60);
}

static const char *const redis_ints[] = { "0",
                                          "1",
                                          "-1",
                                          "127",
                                          "-128",
                                          "128",
                                          "-129",
                                          "32767",
                                          "-32768",
                                          "32768",
                                          "-32769",
                                          "2147483647",
                                          "-2147483648",
                                          "2147483648",
                                          "-2147483649",
                                          "9223372036854775807",
                                          "-9223372036854775808",
                                          "007",
                                          "+1",
                                          " 1",
                                          "-0",
                                          "1 ",
                                          "00",
                                          "12345678901" };

/* Whether the transcript holds this line (lines carry their lengths, so a match
 * inside another line's binary value would need that whole line in it). */
static bool tr_has(const struct sbuf *t, const struct sbuf *line)
{
    return memmem(t->p, t->len, line->p, line->len) != NULL;
}

struct expect {
    struct sbuf lines[64];
    int n;
};

static void want_line(struct expect *e, int db, const void *k, size_t kn, const void *v, size_t vn,
                      int64_t expire, int64_t idle, int freq)
{
    assert_true(e->n < 64);
    memset(&e->lines[e->n], 0, sizeof(e->lines[0]));
    tr_string(&e->lines[e->n++], db, k, kn, v, vn, expire, idle, freq);
}

static void expect_free(struct expect *e)
{
    for (int i = 0; i < e->n; i++)
        sb_free(&e->lines[i]);
}

/*
 * Count transcript lines of each kind, and check that every expected string line
 * is present. Lines holding values with '\n' inside are found as a whole because
 * the expected line starts at a line start and carries the lengths.
 */
static int count_lines(const struct sbuf *t, char kind)
{
    int n = 0;
    size_t i = 0;
    while (i < t->len) {
        /* parse "K ..." with length-prefixed strings so embedded newlines are skipped */
        char k = t->p[i];
        const char *s = t->p + i;
        size_t end;
        if (k == 'S' || k == 'A') {
            const char *q = s + 1;
            if (k == 'S')
                q = strchr(q + 1, ' ');
            for (int f = 0; f < 2; f++) {
                char *colon;
                size_t len = strtoul(q + 1, &colon, 10);
                q = colon + 1 + len;
            }
            const char *nl = memchr(q, '\n', (size_t)(t->p + t->len - q));
            assert_non_null(nl);
            end = (size_t)(nl - t->p) + 1;
        } else {
            const char *nl = memchr(s, '\n', t->len - i);
            assert_non_null(nl);
            end = (size_t)(nl - t->p) + 1;
        }
        if (k == kind)
            n++;
        i = end;
    }
    return n;
}

static void redis_strings_file(void **state)
{
    (void)state;
    struct sbuf file, text = { 0 }, a1000 = { 0 }, b300 = { 0 }, c25 = { 0 }, k100 = { 0 },
                      big = { 0 };
    unsigned char rnd[60];
    struct expect e = { .n = 0 };
    read_file("redis7-strings.rdb", &file);
    strings_expected(&text, &a1000, &b300, &c25, &k100, rnd, &big);

    for (int i = 0; i < 24; i++) {
        char k[16];
        snprintf(k, sizeof(k), "int:%02d", i);
        want_line(&e, 0, k, strlen(k), redis_ints[i], strlen(redis_ints[i]), -1, -1, -1);
    }
    want_line(&e, 0, "embstr", 6, "hello world", 11, -1, -1, -1);
    want_line(&e, 0, "", 0, "value of the empty key", 22, -1, -1, -1);
    want_line(&e, 0, "empty", 5, "", 0, -1, -1, -1);
    want_line(&e, 0, "bin", 3, "\x00\xff\r\n\x00\x80\x01", 7, -1, -1, -1);
    want_line(&e, 0, "raw:random60", 12, rnd, 60, -1, -1, -1);
    want_line(&e, 0, "lzf:a1000", 9, a1000.p, a1000.len, -1, -1, -1);
    want_line(&e, 0, "lzf:text", 8, text.p, text.len, -1, -1, -1);
    want_line(&e, 0, k100.p, k100.len, "long compressible key", 21, -1, -1, -1);
    want_line(&e, 0, "12345", 5, "integer key", 11, -1, -1, -1);
    want_line(&e, 0, "-7", 2, "negative integer key", 20, -1, -1, -1);
    want_line(&e, 0, "exp:ms", 6, "expires in ms", 13, 4102444800123ll, -1, -1);
    want_line(&e, 0, "exp:int", 7, "42", 2, 4102444800000ll, -1, -1);
    want_line(&e, 0, "exp:lzf", 7, b300.p, b300.len, 4102444801999ll, -1, -1);
    want_line(&e, 1, "db1:a", 5, "alpha", 5, -1, -1, -1);
    want_line(&e, 1, "db1:b", 5, "-5000", 5, -1, -1, -1);
    want_line(&e, 1, "db1:c", 5, c25.p, c25.len, 4102444900000ll, -1, -1);
    want_line(&e, 3, "db3:x", 5, "in database three", 17, -1, -1, -1);
    want_line(&e, 3, "db3:big", 7, big.p, big.len, -1, -1, -1);
    assert_int_equal(e.n, 42);

    struct collector c = { 0 };
    struct result r;
    decode(&file, NULL, &c, &r);
    if (r.rc != RDB_DONE)
        fail_msg("rc %d: %s", r.rc, r.err);
    assert_int_equal(r.used, file.len);
    assert_int_equal(r.keys, 42);
    assert_int_equal(count_lines(&c.t, 'S'), 42);
    for (int i = 0; i < e.n; i++)
        if (!tr_has(&c.t, &e.lines[i]))
            fail_msg("entry %d missing: %.60s", i, e.lines[i].p);

    /* The header: aux fields in Redis's order, the databases and their size hints. */
    struct sbuf head = { 0 };
    tr_aux(&head, "redis-ver", "7.0.15", 6);
    tr_aux(&head, "redis-bits", "64", 2);
    tr_aux(&head, "ctime", "1796175535", 10);
    tr_aux(&head, "used-mem", "1507288", 7);
    tr_aux(&head, "repl-stream-db", "3", 1);
    tr_aux(&head, "repl-id", "ad916cb25e3d8fc9644e9133fd87d63a0c4be0fa", 40);
    tr_aux(&head, "repl-offset", "15059", 5);
    tr_aux(&head, "aof-base", "0", 1);
    sb_fmt(&head, "D 0\nR 37 3\n");
    assert_true(c.t.len > head.len);
    assert_memory_equal(c.t.p, head.p, head.len);
    struct sbuf db1 = { 0 }, db3 = { 0 };
    sb_fmt(&db1, "D 1\nR 3 1\n");
    sb_fmt(&db3, "D 3\nR 2 0\n");
    assert_non_null(memmem(c.t.p, c.t.len, db1.p, db1.len));
    assert_non_null(memmem(c.t.p, c.t.len, db3.p, db3.len));

    /* The same at every split, one byte at a time. */
    decode_every_split(&file, &c.t, RDB_DONE, file.len);

    /* Our encoder writes the header and the plain entries byte for byte as Redis did. */
    struct rdb_buf b;
    struct rdb_aux_info aux = { "7.0.15", 64, 1796175535,
                                1507288,  3,  "ad916cb25e3d8fc9644e9133fd87d63a0c4be0fa",
                                15059,    0 };
    rdb_buf_init(&b);
    rdb_encode_header(&b, 10);
    rdb_encode_aux_fields(&b, &aux);
    rdb_encode_selectdb(&b, 0);
    rdb_encode_resizedb(&b, 37, 3);
    assert_int_equal(b.len, 169);
    assert_memory_equal(b.p, file.p, b.len);
    static const int plain[] = { 0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
                                 24, 25, 26, 27, 28, 32, 33, 34, 35, 37, 38, 40 };
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        /* rebuild entry `plain[i]` from its transcript line's fields */
        b.len = 0;
        const struct sbuf *l = &e.lines[plain[i]];
        int db;
        char *q;
        size_t kn, vn;
        long long exp;
        db = (int)strtol(l->p + 2, &q, 10);
        (void)db;
        kn = strtoul(q + 1, &q, 10);
        const char *k = q + 1;
        vn = strtoul(k + kn + 1, &q, 10);
        const char *v = q + 1;
        exp = strtoll(v + vn + 1, NULL, 10);
        rdb_encode_string(&b, k, kn, v, vn, exp, NULL);
        if (memmem(file.p, file.len, b.p, b.len) == NULL)
            fail_msg("entry %d ('%.*s') is not encoded as Redis does", plain[i], (int)kn, k);
    }
    rdb_buf_deinit(&b);

    expect_free(&e);
    sb_free(&head);
    sb_free(&db1);
    sb_free(&db3);
    sb_free(&c.t);
    sb_free(&file);
    sb_free(&text);
    sb_free(&a1000);
    sb_free(&b300);
    sb_free(&c25);
    sb_free(&k100);
    sb_free(&big);
}

/* FREQ (allkeys-lfu) and IDLE (allkeys-lru) records from Redis. */
static void redis_lfu_lru_files(void **state)
{
    (void)state;
    struct sbuf file;
    struct collector c = { 0 };
    struct result r;
    struct sbuf want = { 0 };

    read_file("redis7-lfu.rdb", &file);
    decode(&file, NULL, &c, &r);
    assert_int_equal(r.rc, RDB_DONE);
    tr_string(&want, 0, "lfu:b", 5, "hello", 5, -1, -1, 11);
    tr_string(&want, 0, "lfu:a", 5, "1", 1, -1, -1, 0);
    assert_true(c.t.len > want.len);
    assert_memory_equal(c.t.p + c.t.len - want.len, want.p, want.len);
    decode_every_split(&file, &c.t, RDB_DONE, file.len);
    sb_free(&c.t);
    sb_free(&want);
    sb_free(&file);

    read_file("redis7-lru.rdb", &file);
    decode(&file, NULL, &c, &r);
    assert_int_equal(r.rc, RDB_DONE);
    tr_string(&want, 0, "lru:a", 5, "1", 1, -1, 23, -1);
    tr_string(&want, 0, "lru:b", 5, "x", 1, -1, 0, -1);
    assert_true(c.t.len > want.len);
    assert_memory_equal(c.t.p + c.t.len - want.len, want.p, want.len);
    sb_free(&c.t);
    sb_free(&want);
    sb_free(&file);
}

/* The small files of one collection each load (and are refused when the caller
 * takes no collections); streams are refused, naming type and key. */
static void redis_other_types_refused(void **state)
{
    (void)state;
    static const char *const loaded[] = { "redis7-list.rdb", "redis7-hash.rdb", "redis7-set.rdb",
                                          "redis7-zset.rdb" };
    for (size_t i = 0; i < sizeof(loaded) / sizeof(loaded[0]); i++) {
        struct sbuf file;
        struct collector c = { 0 };
        struct result r;
        read_file(loaded[i], &file);
        decode(&file, NULL, &c, &r);
        if (r.rc != RDB_DONE)
            fail_msg("%s: rc %d: %s", loaded[i], r.rc, r.err);
        assert_int_equal(c.colls, 1);
        decode_every_split(&file, &c.t, RDB_DONE, file.len);
        sb_free(&c.t);
        sb_free(&file);
    }
    /* A caller without collection callbacks gets them refused, not dropped. */
    static const struct {
        const char *file, *msg;
    } refused[] = {
        { "redis7-list.rdb",
          "unsupported value type 'list' (18, quicklist 2) for key 'mylist' at offset 169" },
        { "redis7-hash.rdb",
          "unsupported value type 'hash' (16, listpack) for key 'myhash' at offset 169" },
        { "redis7-set.rdb",
          "unsupported value type 'set' (11, intset) for key 'myset' at offset 169" },
        { "redis7-zset.rdb",
          "unsupported value type 'zset' (17, listpack) for key 'myzset' at offset 169" },
    };
    static const struct rdb_callbacks strings_only = { on_aux, on_select, on_resize, on_string };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        struct sbuf file;
        struct collector c = { 0 };
        struct rdb_parser p;
        read_file(refused[i].file, &file);
        rdb_parser_init(&p, &strings_only, &c, NULL);
        assert_int_equal(rdb_parser_feed(&p, file.p, file.len, NULL), RDB_EUNSUPPORTED);
        assert_string_equal(p.err, refused[i].msg);
        rdb_parser_deinit(&p);
        sb_free(&c.t);
        sb_free(&file);
    }
    {
        struct sbuf file;
        struct collector c = { 0 };
        struct result r;
        read_file("redis7-stream.rdb", &file);
        decode(&file, NULL, &c, &r);
        assert_int_equal(r.rc, RDB_EUNSUPPORTED);
        assert_string_equal(
            r.err,
            "unsupported value type 'stream' (19, listpacks 2) for key 'mystream' at offset 169");
        decode_every_split(&file, NULL, RDB_EUNSUPPORTED, 0);
        sb_free(&c.t);
        sb_free(&file);
    }
    struct sbuf file;
    struct collector c = { 0 };
    struct result r;
    read_file("redis7-function.rdb", &file);
    decode(&file, NULL, &c, &r);
    assert_int_equal(r.rc, RDB_EUNSUPPORTED);
    assert_string_equal(r.err, "the RDB holds functions, which Pollux cannot load: library "
                               "'#!lua name=mylib' at offset 164");
    sb_free(&c.t);
    sb_free(&file);
}

/* ---- round trips ---- */

struct entry {
    int db;
    struct sbuf key, val;
    int64_t expire, idle;
    int freq;
};

static void entry_set(struct entry *e, int db, const void *k, size_t kn, const void *v, size_t vn,
                      int64_t expire)
{
    memset(e, 0, sizeof(*e));
    e->db = db;
    sb_add(&e->key, k, kn);
    sb_add(&e->val, v, vn);
    e->expire = expire;
    e->idle = -1;
    e->freq = -1;
}

/*
 * Encode entries (sorted by db by the caller) into a file with aux fields, and
 * the transcript the decoder must produce for it.
 */
static void build_file(const struct entry *es, int n, const struct rdb_encode_opts *base,
                       struct sbuf *file, struct sbuf *want)
{
    struct rdb_buf b;
    struct rdb_aux_info aux = { "7.0.15",       64, 1700000000,
                                123456789012ll, 0,  "0123456789abcdef0123456789abcdef01234567",
                                987654321,      0 };
    rdb_buf_init(&b);
    memset(want, 0, sizeof(*want));
    rdb_encode_header(&b, RDB_VERSION);
    rdb_encode_aux_fields(&b, &aux);
    rdb_encode_aux(&b, "bin-aux", "\x00\x01\x02", 3);
    tr_aux(want, "redis-ver", "7.0.15", 6);
    tr_aux(want, "redis-bits", "64", 2);
    tr_aux(want, "ctime", "1700000000", 10);
    tr_aux(want, "used-mem", "123456789012", 12);
    tr_aux(want, "repl-stream-db", "0", 1);
    tr_aux(want, "repl-id", aux.repl_id, 40);
    tr_aux(want, "repl-offset", "987654321", 9);
    tr_aux(want, "aof-base", "0", 1);
    tr_aux(want, "bin-aux", "\x00\x01\x02", 3);
    int db = -1;
    for (int i = 0; i < n; i++) {
        if (es[i].db != db) {
            db = es[i].db;
            int keys = 0, expires = 0;
            for (int j = i; j < n && es[j].db == db; j++) {
                keys++;
                expires += es[j].expire >= 0;
            }
            rdb_encode_selectdb(&b, db);
            rdb_encode_resizedb(&b, (uint64_t)keys, (uint64_t)expires);
            sb_fmt(want, "D %d\nR %d %d\n", db, keys, expires);
        }
        struct rdb_encode_opts o = *base;
        o.lru_idle = es[i].idle;
        o.lfu_freq = es[i].freq;
        rdb_encode_string(&b, es[i].key.p, es[i].key.len, es[i].val.p, es[i].val.len, es[i].expire,
                          &o);
        tr_string(want, db, es[i].key.p, es[i].key.len, es[i].val.p, es[i].val.len, es[i].expire,
                  es[i].idle, es[i].freq);
    }
    finish_file(&b);
    to_sbuf(&b, file);
    rdb_buf_deinit(&b);
}

static void entries_free(struct entry *es, int n)
{
    for (int i = 0; i < n; i++) {
        sb_free(&es[i].key);
        sb_free(&es[i].val);
    }
}

/* Keys over several databases with every kind of value, at every split. */
static void round_trip_many(void **state)
{
    (void)state;
    enum { N = 260 };
    struct entry *es = calloc(N, sizeof(*es));
    struct rdb_encode_opts o;
    int n = 0;
    rdb_encode_opts_init(&o);
    static const int dbs[] = { 0, 1, 5, 15 };
    for (int d = 0; d < 4; d++) {
        for (int i = 0; i < 36; i++) {
            char k[64], v[256];
            size_t kn = (size_t)snprintf(k, sizeof(k), "key:%d:%d", dbs[d], i);
            size_t vn;
            switch (i % 6) {
            case 0: /* integers and near-integers */
                /* every case once over the four databases */
                vn = strlen(int_cases[(i / 6 + d * 6) % 24].val);
                memcpy(v, int_cases[(i / 6 + d * 6) % 24].val, vn);
                break;
            case 1: /* binary */
                vn = (size_t)(i * 3 % 200);
                for (size_t j = 0; j < vn; j++)
                    v[j] = (char)(j * 37 + (size_t)i);
                break;
            case 2: /* compressible, over the LZF threshold */
                vn = 21 + (size_t)i * 3;
                memset(v, 'a' + i % 26, vn);
                break;
            case 3: /* exactly at the threshold: never compressed */
                vn = 20;
                memset(v, 'q', vn);
                break;
            case 4:
                vn = (size_t)snprintf(v, sizeof(v), "value number %d", i);
                break;
            default:
                vn = 0;
                break;
            }
            entry_set(&es[n], dbs[d], k, kn, v, vn,
                      i % 4 == 0   ? 1700000000000ll + i
                      : i % 4 == 1 ? 0
                                   : -1);
            if (i % 5 == 1)
                es[n].idle = i * 1000;
            else if (i % 5 == 2)
                es[n].freq = i;
            n++;
        }
    }
    /* empty key, integer keys, a long compressible key, 64-bit idle */
    entry_set(&es[n++], 15, "", 0, "", 0, -1);
    entry_set(&es[n++], 15, "-2147483648", 11, "x", 1, INT64_MAX);
    entry_set(&es[n], 15, "123", 3, "y", 1, -1);
    es[n++].idle = (1ll << 40);
    char longkey[300];
    memset(longkey, 'L', sizeof(longkey));
    entry_set(&es[n++], 15, longkey, sizeof(longkey), "z", 1, -1);
    assert_true(n <= N);

    struct sbuf file, want;
    build_file(es, n, &o, &file, &want);
    decode_every_split(&file, &want, RDB_DONE, file.len);
    /* Varying chunk sizes. */
    uint64_t seed = 42;
    struct collector c = { 0 };
    struct result r;
    decode_cuts(&file, cut_varying, &seed, NULL, &c, &r);
    assert_int_equal(r.rc, RDB_DONE);
    assert_true(sb_eq(&c.t, &want));
    assert_int_equal(r.keys, (uint64_t)n);
    sb_free(&c.t);
    size_t compressed_len = file.len;
    sb_free(&file);
    sb_free(&want);

    /* Without compression the file is larger and decodes the same. */
    struct sbuf file2, want2;
    o.compress = false;
    build_file(es, n, &o, &file2, &want2);
    assert_true(file2.len > compressed_len);
    static const size_t chunks[] = { 1, 5, 64 };
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        decode_cuts(&file2, cut_chunk, (void *)&chunks[i], NULL, &c, &r);
        assert_int_equal(r.rc, RDB_DONE);
        assert_true(sb_eq(&c.t, &want2));
        sb_free(&c.t);
    }
    sb_free(&file2);
    sb_free(&want2);

    entries_free(es, n);
    free(es);
}

/* 1 MB values, compressible and not, in chunks of many sizes and one byte at a time. */
static void round_trip_large(void **state)
{
    (void)state;
    enum { MB = 1 << 20 };
    struct entry es[3];
    struct rdb_encode_opts o;
    char *v = malloc(MB);
    rdb_encode_opts_init(&o);
    for (size_t i = 0; i < MB; i++)
        v[i] = (char)("pollux "[i % 7]);
    entry_set(&es[0], 0, "compressible", 12, v, MB, -1);
    uint64_t s = 7;
    for (size_t i = 0; i < MB; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        v[i] = (char)(s >> 56);
    }
    entry_set(&es[1], 0, "random", 6, v, MB, 1700000000000ll);
    memset(v, 0, MB);
    entry_set(&es[2], 2, "zeros", 5, v, MB, -1);
    free(v);

    struct sbuf file, want;
    build_file(es, 3, &o, &file, &want);
    /* compressible values shrank, the random one is stored plainly */
    assert_true(file.len < MB + MB / 8);
    assert_true(file.len > MB);

    static const size_t chunks[] = { 1, 2, 3, 7, 100, 4096, 65536, 1000003 };
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        struct collector c = { 0 };
        struct result r;
        decode_cuts(&file, cut_chunk, (void *)&chunks[i], NULL, &c, &r);
        if (r.rc != RDB_DONE)
            fail_msg("chunk %zu: rc %d %s", chunks[i], r.rc, r.err);
        assert_true(sb_eq(&c.t, &want));
        sb_free(&c.t);
    }
    /* Splits around the record boundaries and inside the large values. */
    for (size_t cut = 1; cut < file.len; cut += cut < 400 ? 1 : 65521) {
        struct collector c = { 0 };
        struct result r;
        decode_cuts(&file, cut_at, &cut, NULL, &c, &r);
        assert_int_equal(r.rc, RDB_DONE);
        assert_true(sb_eq(&c.t, &want));
        sb_free(&c.t);
    }
    /* A limit below the value size refuses it. */
    struct rdb_parser_opts lim = { .max_len = MB - 1 };
    struct collector c = { 0 };
    struct result r;
    decode_cuts(&file, cut_whole, NULL, &lim, &c, &r);
    assert_int_equal(r.rc, RDB_ELIMIT);
    assert_non_null(strstr(r.err, "limit of 1048575"));
    sb_free(&c.t);

    sb_free(&file);
    sb_free(&want);
    entries_free(es, 3);
}

/* An RDB followed by other bytes (the EOF mark of a diskless transfer). */
static void trailing_bytes(void **state)
{
    (void)state;
    struct entry es[2];
    struct rdb_encode_opts o;
    struct sbuf file, want;
    rdb_encode_opts_init(&o);
    entry_set(&es[0], 0, "a", 1, "1", 1, -1);
    entry_set(&es[1], 0, "b", 1, "2", 1, -1);
    build_file(es, 2, &o, &file, &want);
    size_t rdb_len = file.len;
    sb_add(&file, "0123456789012345678901234567890123456789", 40);
    decode_every_split(&file, &want, RDB_DONE, rdb_len);
    sb_free(&file);
    sb_free(&want);
    entries_free(es, 2);
}

/* ---- the assembler's view ---- */

/* Pieces made apart and checksummed by a writer give the one-buffer file. */
static void writer_pieces(void **state)
{
    (void)state;
    struct rdb_buf whole, head, shard[3], tail;
    struct rdb_writer w, wc;
    rdb_buf_init(&whole);
    rdb_buf_init(&head);
    rdb_buf_init(&tail);
    rdb_encode_header(&whole, 10);
    rdb_encode_aux_int(&whole, "ctime", 1);
    rdb_encode_selectdb(&whole, 0);
    rdb_encode_header(&head, 10);
    rdb_encode_aux_int(&head, "ctime", 1);
    rdb_encode_selectdb(&head, 0);
    for (int s = 0; s < 3; s++) {
        rdb_buf_init(&shard[s]);
        for (int i = 0; i < 50; i++) {
            char k[32];
            size_t kn = (size_t)snprintf(k, sizeof(k), "shard%d:%d", s, i);
            rdb_encode_string(&shard[s], k, kn, k, kn, -1, NULL);
            rdb_encode_string(&whole, k, kn, k, kn, -1, NULL);
        }
    }
    finish_file(&whole);

    rdb_writer_init(&w, true);
    rdb_writer_init(&wc, true);
    struct sbuf out = { 0 };
    rdb_writer_update(&w, head.p, head.len);
    rdb_writer_update_crc(&wc, crc64_update(0, head.p, head.len), head.len);
    sb_add(&out, head.p, head.len);
    for (int s = 0; s < 3; s++) {
        rdb_writer_update(&w, shard[s].p, shard[s].len);
        rdb_writer_update_crc(&wc, crc64_update(0, shard[s].p, shard[s].len), shard[s].len);
        sb_add(&out, shard[s].p, shard[s].len);
    }
    rdb_writer_eof(&w, &tail);
    sb_add(&out, tail.p, tail.len);
    assert_int_equal(out.len, whole.len);
    assert_memory_equal(out.p, whole.p, whole.len);
    assert_int_equal(w.size, whole.len);
    tail.len = 0;
    rdb_writer_eof(&wc, &tail);
    assert_int_equal(wc.size, whole.len);
    assert_memory_equal(tail.p, whole.p + whole.len - 9, 9);

    /* The file decodes; without a checksum the trailer is zero and decodes too. */
    struct collector c = { 0 };
    struct result r;
    decode(&out, NULL, &c, &r);
    assert_int_equal(r.rc, RDB_DONE);
    assert_int_equal(r.keys, 150);
    sb_free(&c.t);
    struct rdb_writer wn;
    rdb_writer_init(&wn, false);
    tail.len = 0;
    rdb_writer_update(&wn, out.p, out.len - 9);
    rdb_writer_eof(&wn, &tail);
    assert_memory_equal(tail.p, "\xff\0\0\0\0\0\0\0\0", 9);
    memcpy(out.p + out.len - 9, tail.p, 9);
    decode(&out, NULL, &c, &r);
    assert_int_equal(r.rc, RDB_DONE);
    sb_free(&c.t);

    sb_free(&out);
    rdb_buf_deinit(&whole);
    rdb_buf_deinit(&head);
    rdb_buf_deinit(&tail);
    for (int s = 0; s < 3; s++)
        rdb_buf_deinit(&shard[s]);
}

/* ---- collections: the Redis 7.0 file ---- */

/* Fail showing the first line where the transcripts part. */
static void assert_same_transcript(const struct sbuf *got, const struct sbuf *want)
{
    if (sb_eq(got, want))
        return;
    size_t i = 0, line = 0;
    while (i < got->len && i < want->len && got->p[i] == want->p[i])
        i++;
    while (line < i && i - line < 2000 && got->p[i - line - 1] != '\n')
        line++;
    fail_msg("transcripts part at byte %zu:\n got: %.200s\nwant: %.200s", i, got->p + i - line,
             want->p + i - line);
}

static void exp_begin(struct collector *e, int db, int kind, const char *key, uint64_t hint,
                      int64_t expire)
{
    on_coll_begin(e, db, kind, key, strlen(key), hint, expire, -1, -1);
}

static void exp_item(struct collector *e, const char *a, const char *b, double score)
{
    on_coll_item(e, a, strlen(a), b, b != NULL ? strlen(b) : 0, score);
}

/* An item named by a prefix and a number ("item:" 7 is "item:7"). */
static void exp_num(struct collector *e, const char *prefix, long long v, double score)
{
    char a[64];
    snprintf(a, sizeof(a), "%s%lld", prefix, v);
    exp_item(e, a, NULL, score);
}

static char *rep(char ch, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, ch, n);
    s[n] = '\0';
    return s;
}

/* What redis7-collections.rdb holds: tests/unit/data/make_rdb_fixtures.sh made it. */
static void collections_file_expected(struct collector *e)
{
    char *s63 = rep('a', 63), *s64 = rep('b', 64), *s4095 = rep('c', 4095), *s4096 = rep('d', 4096),
         *big = rep('e', 16378), *p200 = rep('p', 200), *x30 = rep('x', 30);
    char a[32], b[32];

    exp_begin(e, 0, RDB_COLL_HASH, "hash:lp", 17, 4102444800000ll);
    static const char *const hash_lp[][2] = {
        { "a", "1" },
        { "b", "-1" },
        { "int7", "127" },
        { "n128", "128" },
        { "int13", "-4096" },
        { "int16", "32767" },
        { "int24", "-8388608" },
        { "int32", "2147483647" },
        { "int64", "-9223372036854775808" },
        { "bigint", "18446744073709551615" },
        { "empty", "" },
        { "", "emptyfield" },
    };
    for (size_t i = 0; i < sizeof(hash_lp) / sizeof(hash_lp[0]); i++)
        exp_item(e, hash_lp[i][0], hash_lp[i][1], 0);
    exp_item(e, "s63", s63, 0);
    exp_item(e, "s64", s64, 0);
    exp_item(e, "s4095", s4095, 0);
    exp_item(e, "s4096", s4096, 0);
    exp_item(e, "big", big, 0);
    on_coll_end(e);

    exp_begin(e, 1, RDB_COLL_HASH, "hash:ht", 200, -1);
    for (int i = 0; i < 200; i++) {
        snprintf(a, sizeof(a), "field:%d", i);
        snprintf(b, sizeof(b), i % 2 == 0 ? "%d" : "value:%d", i);
        exp_item(e, a, b, 0);
    }
    on_coll_end(e);

    exp_begin(e, 2, RDB_COLL_LIST, "list:lp", 0, -1);
    static const char *const list_lp[] = {
        "a",
        "",
        "0",
        "127",
        "-4096",
        "4095",
        "32767",
        "-32768",
        "8388607",
        "-8388608",
        "2147483647",
        "-2147483648",
        "9223372036854775807",
        "-9223372036854775808",
        "18446744073709551616",
    };
    for (size_t i = 0; i < sizeof(list_lp) / sizeof(list_lp[0]); i++)
        exp_item(e, list_lp[i], NULL, 0);
    on_coll_end(e);

    exp_begin(e, 3, RDB_COLL_LIST, "list:big", 0, -1);
    for (int i = 0; i < 1000; i++)
        exp_num(e, i % 3 == 0 ? "" : "item:", i % 3 == 0 ? i * 1000ll - 500000 : i, 0);
    on_coll_end(e);

    exp_begin(e, 4, RDB_COLL_LIST, "list:plain", 0, -1);
    exp_item(e, "small1", NULL, 0);
    exp_item(e, p200, NULL, 0);
    exp_item(e, "small2", NULL, 0);
    on_coll_end(e);

    exp_begin(e, 5, RDB_COLL_SET, "set:int16", 6, -1);
    static const char *const set16[] = { "1", "2", "-3", "100", "-32768", "32767" };
    for (size_t i = 0; i < 6; i++)
        exp_item(e, set16[i], NULL, 0);
    on_coll_end(e);

    exp_begin(e, 6, RDB_COLL_SET, "set:int64", 5, -1);
    static const char *const set64[] = { "1", "70000", "-5000000000", "9223372036854775807",
                                         "-9223372036854775808" };
    for (size_t i = 0; i < 5; i++)
        exp_item(e, set64[i], NULL, 0);
    on_coll_end(e);

    exp_begin(e, 7, RDB_COLL_SET, "set:str", 6, -1);
    static const char *const set_str[] = { "apple", "banana", "", "12", "-7" };
    for (size_t i = 0; i < 5; i++)
        exp_item(e, set_str[i], NULL, 0);
    exp_item(e, x30, NULL, 0);
    on_coll_end(e);

    exp_begin(e, 8, RDB_COLL_SET, "set:big", 600, -1);
    for (int i = 0; i < 600; i++)
        exp_num(e, "", i * 7, 0);
    on_coll_end(e);

    exp_begin(e, 9, RDB_COLL_ZSET, "zset:lp", 11, -1);
    static const struct {
        const char *m;
        double score;
    } zset_lp[] = {
        { "m1", 1 },        { "m2", 2.5 },
        { "m3", -3 },       { "m4", 1e100 },
        { "m5", INFINITY }, { "m6", -INFINITY },
        { "m7", 0.1 },      { "m8", 0 },
        { "m9", 1234567 },  { "m10", 9007199254740993.0 },
        { "", -0.5 },
    };
    for (size_t i = 0; i < sizeof(zset_lp) / sizeof(zset_lp[0]); i++)
        exp_item(e, zset_lp[i].m, NULL, zset_lp[i].score);
    on_coll_end(e);

    exp_begin(e, 10, RDB_COLL_ZSET, "zset:sl", 200, -1);
    for (int i = 0; i < 200; i++) {
        int n = i * 3 - 200;
        exp_num(e, "m:", i, n >= 0 ? n + 0.5 : n - 0.5);
    }
    on_coll_end(e);

    tr_string(&e->t, 11, "plain", 5, "value", 5, -1, -1, -1);
    free(s63);
    free(s64);
    free(s4095);
    free(s4096);
    free(big);
    free(p200);
    free(x30);
}

/* Every encoding Redis 7.0 writes for the four collection types, element by element. */
static void redis_collections_file(void **state)
{
    (void)state;
    struct sbuf file;
    struct collector want = { .keys_only = true }, c = { .keys_only = true };
    struct result r;
    read_file("redis7-collections.rdb", &file);
    collections_file_expected(&want);
    decode(&file, NULL, &c, &r);
    if (r.rc != RDB_DONE)
        fail_msg("rc %d: %s", r.rc, r.err);
    assert_int_equal(r.keys, 12);
    assert_int_equal(c.colls, 11);
    assert_same_transcript(&c.t, &want.t);
    /* In pieces of every size class, and one byte at a time. */
    uint64_t seed = 7;
    struct collector c2 = { .keys_only = true };
    decode_cuts(&file, cut_varying, &seed, NULL, &c2, &r);
    assert_int_equal(r.rc, RDB_DONE);
    assert_true(sb_eq(&c2.t, &want.t));
    struct collector c3 = { .keys_only = true };
    size_t one = 1;
    decode_cuts(&file, cut_chunk, &one, NULL, &c3, &r);
    assert_int_equal(r.rc, RDB_DONE);
    assert_true(sb_eq(&c3.t, &want.t));
    sb_free(&c.t);
    sb_free(&c2.t);
    sb_free(&c3.t);
    sb_free(&want.t);
    sb_free(&file);
}

/* ---- collections: the encoder ---- */

/* Collections decoded and kept whole, items in file order. */
struct kept_coll {
    int db, kind;
    char *key;
    size_t klen;
    int64_t expire;
    struct rdb_item *items;
    size_t n, cap;
};

struct keeper {
    struct kept_coll c[16];
    int n;
};

static char *dup_bytes(const void *s, size_t n)
{
    char *d = malloc(n + 1);
    assert_non_null(d);
    if (n > 0)
        memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static int keep_begin(void *arg, int db, int kind, const char *k, size_t kn, uint64_t hint,
                      int64_t expire, int64_t idle, int freq)
{
    struct keeper *kp = arg;
    (void)hint, (void)idle, (void)freq;
    assert_true(kp->n < 16);
    struct kept_coll *c = &kp->c[kp->n++];
    memset(c, 0, sizeof(*c));
    c->db = db;
    c->kind = kind;
    c->key = dup_bytes(k, kn);
    c->klen = kn;
    c->expire = expire;
    return 0;
}

static int keep_item(void *arg, const char *a, size_t an, const char *b, size_t bn, double score)
{
    struct keeper *kp = arg;
    struct kept_coll *c = &kp->c[kp->n - 1];
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 16;
        c->items = realloc(c->items, c->cap * sizeof(*c->items));
        assert_non_null(c->items);
    }
    c->items[c->n++] =
        (struct rdb_item){ dup_bytes(a, an), b != NULL ? dup_bytes(b, bn) : NULL, an, bn, score };
    return 0;
}

static void keeper_free(struct keeper *kp)
{
    for (int i = 0; i < kp->n; i++) {
        for (size_t j = 0; j < kp->c[i].n; j++) {
            free((void *)kp->c[i].items[j].a);
            free((void *)kp->c[i].items[j].b);
        }
        free(kp->c[i].items);
        free(kp->c[i].key);
    }
    kp->n = 0;
}

static bool contains(const struct sbuf *hay, const struct rdb_buf *needle)
{
    return memmem(hay->p, hay->len, needle->p, needle->len) != NULL;
}

/*
 * Every collection of the Redis 7.0 file that Pollux can write (all but the
 * list with a plain node) is encoded again from its decoded items: the record
 * must be the file's, byte for byte — compact records, LZF-compressed blobs,
 * plain records and a list in nodes of 8 included.
 */
static void encode_like_redis(void **state)
{
    (void)state;
    static const struct rdb_callbacks keep_cb = { .coll_begin = keep_begin,
                                                  .coll_item = keep_item };
    struct sbuf file;
    struct keeper kp = { .n = 0 };
    struct rdb_parser p;
    read_file("redis7-collections.rdb", &file);
    rdb_parser_init(&p, &keep_cb, &kp, NULL);
    assert_int_equal(rdb_parser_feed(&p, file.p, file.len, NULL), RDB_DONE);
    rdb_parser_deinit(&p);
    assert_int_equal(kp.n, 11);
    for (int i = 0; i < kp.n; i++) {
        struct kept_coll *c = &kp.c[i];
        struct rdb_buf b;
        rdb_buf_init(&b);
        if (strcmp(c->key, "list:plain") == 0) {
            continue;
        } else if (strcmp(c->key, "list:big") == 0) {
            rdb_encode_coll_begin(&b, c->kind, c->key, c->klen, c->n / 8, c->expire, NULL);
            for (size_t j = 0; j < c->n; j += 8)
                rdb_encode_list_node(&b, c->items + j, 8, NULL);
        } else if (c->n <= 128 && strcmp(c->key, "set:str") != 0) {
            assert_int_equal(rdb_encode_coll_small(&b, c->kind, c->key, c->klen, c->items, c->n,
                                                   c->expire, NULL),
                             0);
        } else {
            rdb_encode_coll_begin(&b, c->kind, c->key, c->klen, c->n, c->expire, NULL);
            for (size_t j = 0; j < c->n; j++)
                rdb_encode_coll_item(&b, c->kind, &c->items[j], NULL);
        }
        if (!contains(&file, &b))
            fail_msg("the record of %s differs from redis-server's", c->key);
        rdb_buf_deinit(&b);
    }
    /* Scores as redis-server 7.0.15 puts them in a listpack: DUMP of a zset (the
     * type, the blob as an RDB string, then the DUMP's version and CRC). */
    {
        static const char dump_hex[] =
            "11c3409940b413b40000001800816a02842d696e6605816602f40120121c0000f0ff0981680200018163"
            "028631652d3330300781620293302e3130e00500033114816440170033e006002017026502f420492000"
            "041000098161400c118a5d7845630109816702f450f330a64b9bb6200c006b401960001f4009816c0296"
            "392e32323333373230333638353437373538652b313817816902008320a30104ff0a00952fdb8d02c51c"
            "4d";
        unsigned char dump[sizeof(dump_hex) / 2];
        hex_to(dump_hex, dump, sizeof(dump));
        struct rdb_item z[] = {
            { "j", NULL, 1, 0, -INFINITY },
            { "f", NULL, 1, 0, -4503599627370495.0 },
            { "h", NULL, 1, 0, -0.0 },
            { "c", NULL, 1, 0, 1e-300 },
            { "b", NULL, 1, 0, 0.1 },
            { "d", NULL, 1, 0, 0.3333333333333333 },
            { "e", NULL, 1, 0, 4503599627370496.0 },
            { "a", NULL, 1, 0, 1e17 },
            { "g", NULL, 1, 0, 123456789012345678.0 },
            { "k", NULL, 1, 0, 4611686018427387904.0 },
            { "l", NULL, 1, 0, 9223372036854775807.0 },
            { "i", NULL, 1, 0, INFINITY },
        };
        struct rdb_buf zb;
        rdb_buf_init(&zb);
        assert_int_equal(rdb_encode_coll_small(&zb, RDB_COLL_ZSET, "z", 1, z, 12, -1, NULL), 0);
        /* ours: type, key "\x01z", blob; the DUMP: type, blob, 10 bytes */
        assert_int_equal(zb.len - 2, sizeof(dump) - 10);
        assert_int_equal((unsigned char)zb.p[0], dump[0]);
        assert_memory_equal(zb.p + 3, dump + 1, zb.len - 3);
        rdb_buf_deinit(&zb);
    }
    /* A set with a member that is not an integer has no compact record in 7.0. */
    struct rdb_buf b;
    rdb_buf_init(&b);
    struct rdb_item it[2] = { { "1", NULL, 1, 0, 0 }, { "x", NULL, 1, 0, 0 } };
    assert_int_equal(rdb_encode_coll_small(&b, RDB_COLL_SET, "k", 1, it, 2, -1, NULL), -EINVAL);
    assert_int_equal(b.len, 0);
    rdb_buf_deinit(&b);
    keeper_free(&kp);
    sb_free(&file);
}

/* ---- versions and hand-made records ---- */

/* A file of version v with the records in `body` (raw bytes) and a trailer. */
static void make_file(struct sbuf *out, int v, const void *body, size_t n, bool crc)
{
    struct rdb_buf b;
    rdb_buf_init(&b);
    rdb_encode_header(&b, v);
    if (n > 0) {
        rdb_buf_reserve(&b, n);
        memcpy(b.p + b.len, body, n);
        b.len += n;
    }
    if (v >= 5)
        rdb_encode_eof(&b, crc ? crc64_update(0, b.p, b.len) : 0);
    else
        b.p[b.len++] = (char)0xff; /* before version 5 there is no checksum */
    to_sbuf(&b, out);
    rdb_buf_deinit(&b);
}

static void versions(void **state)
{
    (void)state;
    /* SELECTDB 2, a key with an EXPIRETIME in seconds, one with EXPIRETIME_MS. */
    static const char body[] = "\xfe\x02"
                               "\xfd\x10\x32\x54\x76\x00\x01k\x01v"
                               "\xfc\x01\x02\x03\x04\x05\x06\x07\x00\x00\x02kk\xc0\x07";
    for (int v = RDB_VERSION_MIN; v <= RDB_VERSION_MAX; v++) {
        struct sbuf file, want = { 0 };
        make_file(&file, v, body, sizeof(body) - 1, true);
        sb_fmt(&want, "D 2\n");
        tr_string(&want, 2, "k", 1, "v", 1, 0x76543210ll * 1000, -1, -1);
        tr_string(&want, 2, "kk", 2, "7", 1, 0x0007060504030201ll, -1, -1);
        size_t rdb_len = file.len;
        sb_add(&file, "+more", 5);
        decode_every_split(&file, &want, RDB_DONE, rdb_len);
        sb_free(&file);
        sb_free(&want);
    }
    static const struct {
        const char *hdr, *msg;
        int rc;
    } bad[] = {
        { "REDIS0012", "bad RDB version 12", RDB_EVERSION },
        { "REDIS0000", "bad RDB version 0", RDB_EVERSION },
        { "REDIS9999", "bad RDB version 9999", RDB_EVERSION },
        { "REDIS00a1", "bad RDB version field '00a1'", RDB_EVERSION },
        { "REDIX0010", "not an RDB file: bad signature", RDB_EVERSION },
        { "*1\r\n$4\r\nPING", "not an RDB file: bad signature", RDB_EVERSION },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct sbuf file = { 0 };
        sb_add(&file, bad[i].hdr, strlen(bad[i].hdr));
        sb_add(&file, "\xff\0\0\0\0\0\0\0\0", 9);
        struct collector c = { 0 };
        struct result r;
        decode(&file, NULL, &c, &r);
        assert_int_equal(r.rc, bad[i].rc);
        assert_string_equal(r.err, bad[i].msg);
        decode_every_split(&file, NULL, bad[i].rc, 0);
        sb_free(&file);
        sb_free(&c.t);
    }
    /* A wrong signature is refused from its first differing byte. */
    struct rdb_parser p;
    rdb_parser_init(&p, &callbacks, NULL, NULL);
    assert_int_equal(rdb_parser_feed(&p, "RX", 2, NULL), RDB_EVERSION);
    rdb_parser_deinit(&p);
    rdb_parser_init(&p, &callbacks, NULL, NULL);
    assert_int_equal(rdb_parser_feed(&p, "RED", 3, NULL), RDB_OK);
    assert_int_equal(rdb_parser_finish(&p), RDB_ETRUNC);
    assert_string_equal(p.err, "truncated RDB: 3 bytes, shorter than the header");
    rdb_parser_deinit(&p);
    /* ... also when the differing byte comes in a later feed than the first bytes */
    rdb_parser_init(&p, &callbacks, NULL, NULL);
    assert_int_equal(rdb_parser_feed(&p, "RED", 3, NULL), RDB_OK);
    assert_int_equal(rdb_parser_feed(&p, "I", 1, NULL), RDB_OK);
    assert_int_equal(rdb_parser_feed(&p, "X", 1, NULL), RDB_EVERSION);
    assert_string_equal(p.err, "not an RDB file: bad signature");
    rdb_parser_deinit(&p);
    rdb_parser_init(&p, &callbacks, NULL, NULL);
    assert_int_equal(rdb_parser_finish(&p), RDB_ETRUNC);
    rdb_parser_deinit(&p);
}

struct bad_case {
    const char *name;
    const char *body;
    size_t n;
    int rc;
    const char *msg; /* a part of the message */
};

#define BODY(s) s, sizeof(s) - 1

static const struct bad_case bad_records[] = {
    { "length 0x82", BODY("\x00\x82"), RDB_EFORMAT,
      "bad length encoding 0x82 of key at offset 10" },
    { "encoded length", BODY("\xfe\xc0\x01"), RDB_EFORMAT,
      "bad length at offset 10: database number cannot be 0xc0" },
    { "string encoding 4", BODY("\x00\xc4"), RDB_EFORMAT,
      "bad string encoding 4 of key at offset 10" },
    { "record type 8", BODY("\x08\x01k\x01v"), RDB_EFORMAT, "bad record type 8 at offset 9" },
    { "record type 0x30", BODY("\x30"), RDB_EFORMAT, "bad record type 48 at offset 9" },
    { "64-bit key length", BODY("\x00\x81\x80\x00\x00\x00\x00\x00\x00\x00"), RDB_ELIMIT,
      "key of 9223372036854775808 bytes at offset 10 exceeds the limit of 536870912" },
    { "32-bit value length", BODY("\x00\x01k\x80\xff\xff\xff\xff"), RDB_ELIMIT,
      "value of 4294967295 bytes at offset 12 exceeds the limit" },
    { "LZF that claims too much",
      BODY("\x00\x01k\xc3\x0a\x80\x10\x00\x00\x00"
           "0123456789"),
      RDB_EFORMAT, "bad compressed value at offset 12: 10 bytes cannot expand to 268435456" },
    { "LZF over the limit", BODY("\x00\x01k\xc3\x0a\x80\x40\x00\x00\x00"), RDB_ELIMIT,
      "compressed value at offset 12 claims 1073741824 bytes (10 compressed)" },
    { "LZF of length 0", BODY("\x00\x01k\xc3\x00\x05"), RDB_EFORMAT,
      "bad compressed value at offset 12: 0 bytes cannot expand to 5" },
    { "LZF with bad data", BODY("\x00\x01k\xc3\x03\x05\x1f\x61\x62"), RDB_EFORMAT,
      "bad LZF data in value at offset 12" },
    { "LZF back reference before the start", BODY("\x00\x01k\xc3\x04\x05\x00\x61\x20\x05"),
      RDB_EFORMAT, "bad LZF data in value at offset 12" },
    { "LZF too short for its length", BODY("\x00\x01k\xc3\x02\x05\x00\x61"), RDB_EFORMAT,
      "bad LZF data in value at offset 12" },
    { "database 16", BODY("\xfe\x10"), RDB_ELIMIT,
      "database 16 at offset 9 is out of range (databases is 16)" },
    { "module aux", BODY("\xf7\x81\x12\x34\x56\x78\x9a\xbc\xde\xf0\x02"), RDB_EUNSUPPORTED,
      "module data (MODULE_AUX, module id 123456789abcdef0) at offset 9" },
    { "function pre-GA", BODY("\xf6\x00"), RDB_EUNSUPPORTED, "functions (pre-release format)" },
    { "module value", BODY("\x07\x03mod\x81\x00"), RDB_EUNSUPPORTED,
      "unsupported value type 'module' (7, module 2) for key 'mod' at offset 9" },
    { "binary key in message",
      BODY("\x0f\x04"
           "a\x00'\xff"),
      RDB_EUNSUPPORTED,
      "unsupported value type 'stream' (15, listpacks) for key 'a\\x00\\x27\\xff' at offset 9" },
    { "idle time", BODY("\xf8\x81\x80\x00\x00\x00\x00\x00\x00\x00"), RDB_EFORMAT,
      "bad idle time 9223372036854775808 at offset 9" },
    /* collections: the blob's header, entries, end and count; scores; counts */
    { "listpack size", BODY("\x10\x01k\x07\x08\x00\x00\x00\x00\x00\xff"), RDB_EFORMAT,
      "corrupt listpack of 7 bytes at offset 12: its header says 8 bytes" },
    { "listpack end", BODY("\x10\x01k\x07\x07\x00\x00\x00\x00\x00\xfe"), RDB_EFORMAT,
      "corrupt listpack of 7 bytes at offset 12: no end mark" },
    { "listpack too short", BODY("\x10\x01k\x03\x03\x00\xff"), RDB_EFORMAT,
      "corrupt listpack of 3 bytes at offset 12: shorter than a header and an end mark" },
    { "listpack entry past the end", BODY("\x10\x01k\x09\x09\x00\x00\x00\x01\x00\x85\x61\xff"),
      RDB_EFORMAT,
      "corrupt listpack of 9 bytes at offset 12: the entry at byte 6 runs past the end" },
    { "listpack 32-bit length past the end",
      BODY("\x14\x01k\x0d\x0d\x00\x00\x00\x01\x00\xf0\xff\xff\xff\x7f\x01\xff"), RDB_EFORMAT,
      "corrupt listpack of 13 bytes at offset 12: the entry at byte 6 runs past the end" },
    { "listpack back length", BODY("\x14\x01k\x0a\x0a\x00\x00\x00\x01\x00\x81\x61\x03\xff"),
      RDB_EFORMAT, "the entry at byte 6 has 2 bytes, its back length says 3" },
    { "listpack count", BODY("\x14\x01k\x0a\x0a\x00\x00\x00\x02\x00\x81\x61\x02\xff"), RDB_EFORMAT,
      "its header says 2 elements, it holds 1" },
    { "listpack encoding", BODY("\x14\x01k\x09\x09\x00\x00\x00\x01\x00\xf5\x01\xff"), RDB_EFORMAT,
      "bad encoding 0xf5 at byte 6" },
    { "hash listpack of one element", BODY("\x10\x01k\x0a\x0a\x00\x00\x00\x01\x00\x81\x61\x02\xff"),
      RDB_EFORMAT, "1 elements: a hash needs pairs" },
    { "intset width", BODY("\x0b\x01k\x08\x03\x00\x00\x00\x00\x00\x00\x00"), RDB_EFORMAT,
      "corrupt intset of 8 bytes at offset 12: bad integer width 3" },
    { "intset count", BODY("\x0b\x01k\x0a\x02\x00\x00\x00\x02\x00\x00\x00\x01\x00"), RDB_EFORMAT,
      "its header says 2 integers of 2 bytes" },
    { "intset order", BODY("\x0b\x01k\x0c\x02\x00\x00\x00\x02\x00\x00\x00\x05\x00\x03\x00"),
      RDB_EFORMAT, "member 3 at byte 10 is not above the previous one, 5" },
    { "ziplist previous length",
      BODY("\x0a\x01k\x11\x11\x00\x00\x00\x0d\x00\x00\x00\x02\x00\x00\x01\x61\x05\x01\x62\xff"),
      RDB_EFORMAT, "the entry at byte 13 says the previous one has 5 bytes, not 3" },
    { "ziplist tail",
      BODY("\x0a\x01k\x11\x11\x00\x00\x00\x0a\x00\x00\x00\x02\x00\x00\x01\x61\x03\x01\x62\xff"),
      RDB_EFORMAT, "its header puts the last entry at byte 10, not 13" },
    { "ziplist encoding", BODY("\x0a\x01k\x0d\x0d\x00\x00\x00\x0a\x00\x00\x00\x01\x00\x00\xc8\xff"),
      RDB_EFORMAT, "bad encoding 0xc8 at byte 11" },
    { "zipmap value past the end", BODY("\x09\x01k\x05\x01\x01\x61\x05\xff"), RDB_EFORMAT,
      "corrupt zipmap of 5 bytes at offset 12: the entry at byte 3 runs past the end" },
    { "zipmap without a value", BODY("\x09\x01k\x04\x01\x01\x61\xff"), RDB_EFORMAT,
      "its header says 2 elements, it holds 1" },
    { "zipmap of unknown count without a value", BODY("\x09\x01k\x04\xfe\x01\x61\xff"), RDB_EFORMAT,
      "1 elements: a hash needs pairs" },
    { "NaN binary score", BODY("\x05\x01k\x01\x01m\x00\x00\x00\x00\x00\x00\xf8\x7f"), RDB_EFORMAT,
      "NaN score at offset 13" },
    { "NaN text score", BODY("\x03\x01k\x01\x01m\xfd"), RDB_EFORMAT, "NaN score at offset 13" },
    { "bad text score",
      BODY("\x03\x01k\x01\x01m\x03"
           "1x5"),
      RDB_EFORMAT, "bad score '1x5' at offset 13" },
    { "NaN listpack score", BODY("\x11\x01k\x0f\x0f\x00\x00\x00\x02\x00\x81m\x02\x83nan\x04\xff"),
      RDB_EFORMAT, "bad score 'nan' at offset 12" },
    { "quicklist container", BODY("\x12\x01k\x01\x03"), RDB_EFORMAT,
      "bad quicklist node container 3 at offset 13" },
    { "count of 2^60",
      BODY("\x02\x01k\x81\x10\x00\x00\x00\x00\x00\x00\x00\x01"
           "a"),
      RDB_EFORMAT, "bad string encoding 63 of element at offset 23" },
    { "element over the limit", BODY("\x02\x01k\x01\x80\xff\xff\xff\xff"), RDB_ELIMIT,
      "element of 4294967295 bytes at offset 13 exceeds the limit" },
    { "blob over the limit", BODY("\x10\x01k\x80\xff\xff\xff\xff"), RDB_ELIMIT,
      "listpack of 4294967295 bytes at offset 12 exceeds the limit" },
};

static void bad_records_refused(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_records) / sizeof(bad_records[0]); i++) {
        const struct bad_case *bc = &bad_records[i];
        struct sbuf file;
        make_file(&file, 10, bc->body, bc->n, true);
        struct collector c = { 0 };
        struct result r;
        decode(&file, NULL, &c, &r);
        if (r.rc != bc->rc || strstr(r.err, bc->msg) == NULL)
            fail_msg("%s: rc %d '%s', want %d '%s'", bc->name, r.rc, r.err, bc->rc, bc->msg);
        decode_every_split(&file, NULL, bc->rc, 0);
        sb_free(&c.t);
        sb_free(&file);
    }
}

/* A hostile length costs memory only for the bytes that really arrive. */
static void hostile_lengths_allocate_nothing(void **state)
{
    (void)state;
    struct rdb_parser p;
    /* a 500 MB value (under the limit) of which 4 bytes arrive */
    static const char rec[] = "REDIS0010\x00\x01k\x80\x1d\xcd\x65\x00"
                              "abcd";
    rdb_parser_init(&p, &callbacks, NULL, NULL);
    assert_int_equal(rdb_parser_feed(&p, rec, sizeof(rec) - 1, NULL), RDB_OK);
    assert_true(p.rec_cap <= 4096);
    for (int i = 0; i < 100; i++)
        assert_int_equal(rdb_parser_feed(&p, "0123456789", 10, NULL), RDB_OK);
    assert_true(p.rec_cap <= 4096);
    assert_int_equal(rdb_parser_finish(&p), RDB_ETRUNC);
    assert_string_equal(p.err, "truncated RDB: the input ends inside the record at offset 9 "
                               "(1012 bytes of at least 500000008)");
    rdb_parser_deinit(&p);

    /* an LZF string claiming 256 MB from 10 bytes is refused before any allocation */
    static const char lzf[] = "REDIS0010\x00\x01k\xc3\x0a\x80\x10\x00\x00\x00"
                              "0123456789";
    struct collector c = { 0 };
    rdb_parser_init(&p, &callbacks, &c, NULL);
    assert_int_equal(rdb_parser_feed(&p, lzf, sizeof(lzf) - 1, NULL), RDB_EFORMAT);
    assert_int_equal(p.vcap, 0);
    rdb_parser_deinit(&p);

    /* a configured limit */
    struct rdb_parser_opts o = { .max_len = 1000 };
    static const char big[] = "REDIS0010\x00\x01k\x43\xe9";
    rdb_parser_init(&p, &callbacks, &c, &o);
    assert_int_equal(rdb_parser_feed(&p, big, sizeof(big) - 1, NULL), RDB_ELIMIT);
    assert_string_equal(p.err, "value of 1001 bytes at offset 12 exceeds the limit of 1000");
    rdb_parser_deinit(&p);
    static const char ok[] = "REDIS0010\x00\x01k\x43\xe8";
    rdb_parser_init(&p, &callbacks, &c, &o);
    assert_int_equal(rdb_parser_feed(&p, ok, sizeof(ok) - 1, NULL), RDB_OK);
    rdb_parser_deinit(&p);

    /* more databases when configured */
    struct rdb_parser_opts d = { .databases = 32 };
    static const char sel[] = "REDIS0010\xfe\x1f\xfe\x20";
    rdb_parser_init(&p, &callbacks, &c, &d);
    assert_int_equal(rdb_parser_feed(&p, sel, sizeof(sel) - 1, NULL), RDB_ELIMIT);
    assert_string_equal(p.err, "database 32 at offset 11 is out of range (databases is 32)");
    rdb_parser_deinit(&p);
    assert_memory_equal(c.t.p, "D 31\n", 5);
    sb_free(&c.t);
}

/* ---- corruption ---- */

static void small_file(struct sbuf *file, struct sbuf *want, bool checksum)
{
    struct entry es[6];
    struct rdb_encode_opts o;
    rdb_encode_opts_init(&o);
    entry_set(&es[0], 0, "int", 3, "-32768", 6, -1);
    entry_set(&es[1], 0, "lzf", 3, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 50,
              1700000000000ll);
    entry_set(&es[2], 0, "plain", 5, "hello", 5, -1);
    es[2].freq = 3;
    entry_set(&es[3], 1, "", 0, "empty key", 9, -1);
    es[3].idle = 70000;
    entry_set(&es[4], 1, "big", 3, "0123456789012345678901234567890123456789", 40, -1);
    entry_set(&es[5], 3, "12", 2, "", 0, 5);
    build_file(es, 6, &o, file, want);
    if (!checksum)
        memset(file->p + file->len - 8, 0, 8);
    entries_free(es, 6);
}

/* Every prefix of a valid file: finish says truncated, never done. */
static void truncation_everywhere(void **state)
{
    (void)state;
    struct sbuf file, want;
    small_file(&file, &want, true);
    for (size_t n = 0; n < file.len; n++) {
        struct sbuf prefix = { 0 };
        sb_add(&prefix, file.p, n);
        struct collector c = { 0 };
        struct result r;
        if (n == 0) {
            struct rdb_parser p;
            rdb_parser_init(&p, &callbacks, &c, NULL);
            r.rc = rdb_parser_finish(&p);
            rdb_parser_deinit(&p);
        } else {
            decode(&prefix, NULL, &c, &r);
        }
        if (r.rc != RDB_ETRUNC)
            fail_msg("prefix of %zu bytes: rc %d (%s)", n, r.rc, r.err);
        /* what was read before the cut is what the full file starts with */
        assert_true(c.t.len <= want.len);
        if (c.t.len > 0)
            assert_memory_equal(c.t.p, want.p, c.t.len);
        sb_free(&prefix);
        sb_free(&c.t);
    }
    /* and the same for the Redis file */
    struct sbuf rf;
    read_file("redis7-strings.rdb", &rf);
    for (size_t n = 1; n < rf.len; n++) {
        struct sbuf prefix = { 0 };
        sb_add(&prefix, rf.p, n);
        struct collector c = { 0 };
        struct result r;
        decode(&prefix, NULL, &c, &r);
        if (r.rc != RDB_ETRUNC)
            fail_msg("redis prefix of %zu bytes: rc %d (%s)", n, r.rc, r.err);
        sb_free(&prefix);
        sb_free(&c.t);
    }
    sb_free(&rf);
    sb_free(&file);
    sb_free(&want);
}

/*
 * Decode `file` with each byte flipped in turn by each mask; returns how many
 * runs ended in a checksum mismatch. With must_fail, no run may succeed.
 */
static int flip_each_byte(const struct sbuf *file, bool must_fail)
{
    static const unsigned char masks[] = { 0xff, 0x01, 0x80, 0x40 };
    int mismatches = 0;
    for (size_t m = 0; m < sizeof(masks); m++) {
        for (size_t i = 0; i < file->len; i++) {
            struct sbuf f = { 0 };
            sb_add(&f, file->p, file->len);
            f.p[i] = (char)(f.p[i] ^ masks[m]);
            struct collector c = { 0 };
            struct result r;
            decode(&f, NULL, &c, &r);
            if (must_fail && r.rc >= 0)
                fail_msg("flip 0x%02x at %zu: rc %d", masks[m], i, r.rc);
            assert_true(r.rc == RDB_DONE || r.rc < 0);
            mismatches += r.rc == RDB_ECHECKSUM;
            sb_free(&f);
            sb_free(&c.t);
        }
    }
    return mismatches;
}

/* Every byte flipped in turn: an error (a checksum mismatch when the flip lands in
 * data), never success; with the checksum off, never a crash or a bad read. */
static void flips_everywhere(void **state)
{
    (void)state;
    struct sbuf file, want;
    small_file(&file, &want, true);
    assert_true(flip_each_byte(&file, true) > 0);
    sb_free(&file);
    sb_free(&want);
    small_file(&file, &want, false);
    flip_each_byte(&file, false);
    sb_free(&file);
    sb_free(&want);
}

/* Random multi-byte damage to the Redis file and to ours, checksums off. */
static void random_damage(void **state)
{
    (void)state;
    struct sbuf files[2], want;
    read_file("redis7-strings.rdb", &files[0]);
    memset(files[0].p + files[0].len - 8, 0, 8);
    small_file(&files[1], &want, false);
    uint64_t s = 12345;
    for (int round = 0; round < 3000; round++) {
        const struct sbuf *src = &files[round & 1];
        struct sbuf f = { 0 };
        sb_add(&f, src->p, src->len);
        int flips = 1 + round % 8;
        for (int j = 0; j < flips; j++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            size_t at = (size_t)(s >> 33) % f.len;
            f.p[at] = (char)(s >> 24);
        }
        /* sometimes cut it short too */
        if (round % 5 == 0)
            f.len = (size_t)(s >> 40) % f.len + 1;
        struct collector c = { 0 };
        struct result r;
        uint64_t seed = s;
        decode_cuts(&f, cut_varying, &seed, NULL, &c, &r);
        assert_true(r.rc == RDB_DONE || r.rc < 0);
        sb_free(&f);
        sb_free(&c.t);
    }
    sb_free(&files[0]);
    sb_free(&files[1]);
    sb_free(&want);
}

/* ---- collections: round trips and the older encodings ---- */

/* Integers at every listpack and intset boundary (rdb_values_test.h), then
 * look-alikes that are not integers. */
static const char *const rt_lookalikes[] = {
    "9223372036854775808", "", "-0", "01", " 1", "+1", "a",
};
#define RT_N (RDB_TEST_NINTS + sizeof(rt_lookalikes) / sizeof(rt_lookalikes[0]))
static const char *rt_values[RT_N];

static struct rdb_item rt_item(const char *a, const char *b, double score)
{
    return (struct rdb_item){ a, b, strlen(a), b != NULL ? strlen(b) : 0, score };
}

/* Encode items of kind into f (compact when small) and expect them in want. */
static void rt_coll(struct rdb_buf *f, struct collector *want, int db, int kind, const char *key,
                    const struct rdb_item *it, size_t n, bool small, int64_t expire)
{
    struct rdb_encode_opts o;
    rdb_encode_opts_init(&o);
    if (small) {
        assert_int_equal(rdb_encode_coll_small(f, kind, key, strlen(key), it, n, expire, &o), 0);
    } else if (kind == RDB_COLL_LIST) {
        rdb_encode_coll_begin(f, kind, key, strlen(key), rdb_list_nodes(n), expire, &o);
        for (size_t i = 0; i < n; i += RDB_LIST_NODE_ITEMS)
            rdb_encode_list_node(f, it + i,
                                 n - i < RDB_LIST_NODE_ITEMS ? n - i : RDB_LIST_NODE_ITEMS, &o);
    } else {
        rdb_encode_coll_begin(f, kind, key, strlen(key), n, expire, &o);
        for (size_t i = 0; i < n; i++)
            rdb_encode_coll_item(f, kind, &it[i], &o);
    }
    on_coll_begin(want, db, kind, key, strlen(key), kind == RDB_COLL_LIST ? 0 : n, expire, -1, -1);
    /* a listpack keeps the score -0 as the integer 0, as Redis does: + 0.0 makes it so */
    for (size_t i = 0; i < n; i++)
        on_coll_item(want, it[i].a, it[i].alen, kind == RDB_COLL_HASH ? it[i].b : NULL,
                     kind == RDB_COLL_HASH ? it[i].blen : 0,
                     kind != RDB_COLL_ZSET ? 0
                     : small               ? it[i].score + 0.0
                                           : it[i].score);
    on_coll_end(want);
}

/* A raw record: type, a 1-byte key, then the body (a length or a blob string). */
static void raw_record(struct rdb_buf *f, int type, const char *key, const void *body, size_t n)
{
    rdb_buf_reserve(f, 2 + strlen(key) + n);
    f->p[f->len++] = (char)type;
    f->p[f->len++] = (char)strlen(key);
    memcpy(f->p + f->len, key, strlen(key));
    f->len += strlen(key);
    memcpy(f->p + f->len, body, n);
    f->len += n;
}

static void raw_bytes(struct rdb_buf *f, const void *s, size_t n)
{
    rdb_buf_reserve(f, n);
    memcpy(f->p + f->len, s, n);
    f->len += n;
}

/* A plain RDB string (length and bytes; short lengths only). */
static void raw_string(struct rdb_buf *f, const void *s, size_t n)
{
    assert_true(n < 16384);
    rdb_buf_reserve(f, n + 2);
    if (n < 64) {
        f->p[f->len++] = (char)n;
    } else {
        f->p[f->len++] = (char)(0x40 | (n >> 8));
        f->p[f->len++] = (char)(n & 0xff);
    }
    memcpy(f->p + f->len, s, n);
    f->len += n;
}

/* A ziplist, written from the format: prevlen, encoding, data; integers when
 * the text is a canonical int64, each in the width given by ints[i] (0: the
 * 4-bit immediate). */
struct zl {
    struct rdb_buf t;
    size_t prev, last;
    unsigned count;
};

static void zl_begin(struct zl *z)
{
    rdb_buf_init(&z->t);
    rdb_buf_reserve(&z->t, 10);
    memset(z->t.p, 0, 10);
    z->t.len = 10;
    z->prev = 0;
    z->last = 10;
    z->count = 0;
}

static void zl_bytes(struct zl *z, const void *s, size_t n)
{
    rdb_buf_reserve(&z->t, n);
    memcpy(z->t.p + z->t.len, s, n);
    z->t.len += n;
}

static void zl_entry_head(struct zl *z)
{
    unsigned char h[5];
    z->last = z->t.len;
    if (z->prev < 254) {
        h[0] = (unsigned char)z->prev;
        zl_bytes(z, h, 1);
    } else {
        h[0] = 0xfe;
        for (int i = 0; i < 4; i++)
            h[1 + i] = (unsigned char)(z->prev >> (8 * i));
        zl_bytes(z, h, 5);
    }
}

static void zl_str(struct zl *z, const char *s, size_t n)
{
    unsigned char h[5];
    size_t start = z->t.len;
    zl_entry_head(z);
    if (n < 64) {
        h[0] = (unsigned char)n;
        zl_bytes(z, h, 1);
    } else if (n < 16384) {
        h[0] = (unsigned char)(0x40 | (n >> 8));
        h[1] = (unsigned char)n;
        zl_bytes(z, h, 2);
    } else {
        h[0] = 0x80;
        for (int i = 0; i < 4; i++)
            h[1 + i] = (unsigned char)(n >> (8 * (3 - i)));
        zl_bytes(z, h, 5);
    }
    zl_bytes(z, s, n);
    z->prev = z->t.len - start;
    z->count++;
}

static void zl_int(struct zl *z, long long v, int w)
{
    static const unsigned char enc[9] = {
        [1] = 0xfe, [2] = 0xc0, [3] = 0xf0, [4] = 0xd0, [8] = 0xe0
    };
    unsigned char h[9];
    size_t start = z->t.len;
    zl_entry_head(z);
    if (w == 0) {
        h[0] = (unsigned char)(0xf1 + v);
        zl_bytes(z, h, 1);
    } else {
        h[0] = enc[w];
        for (int i = 0; i < w; i++)
            h[1 + i] = (unsigned char)((unsigned long long)v >> (8 * i));
        zl_bytes(z, h, 1 + (size_t)w);
    }
    z->prev = z->t.len - start;
    z->count++;
}

/* End the ziplist and append it to f as an RDB string. */
static void zl_end(struct zl *z, struct rdb_buf *f)
{
    unsigned char e = 0xff;
    zl_bytes(z, &e, 1);
    for (int i = 0; i < 4; i++) {
        z->t.p[i] = (char)(z->t.len >> (8 * i));
        z->t.p[4 + i] = (char)(z->last >> (8 * i));
    }
    z->t.p[8] = (char)z->count;
    z->t.p[9] = (char)(z->count >> 8);
    raw_string(f, z->t.p, z->t.len);
    rdb_buf_deinit(&z->t);
}

/* Every ziplist integer width with its value as text, and a string. */
static const struct {
    long long v;
    int w;
    const char *text;
} zl_ints[] = {
    { 0, 0, "0" },
    { 12, 0, "12" },
    { -5, 1, "-5" },
    { -300, 2, "-300" },
    { 70000, 3, "70000" },
    { -8388608, 3, "-8388608" },
    { 1 << 30, 4, "1073741824" },
    { -(1ll << 40), 8, "-1099511627776" },
};

/*
 * A file with every collection kind in every encoding: written by the encoder
 * (compact and plain), and the older ones written by hand from the format
 * (list 1, zset 3, zipmap 9, ziplists 10, 12, 13, quicklist 14, set listpack
 * 20). want gets the transcript expected; big adds strings long enough for
 * every listpack back length size.
 */
static void coll_file(struct sbuf *out, struct sbuf *want_tr, bool crc, bool big)
{
    struct rdb_buf f;
    struct collector want = { 0 };
    struct rdb_item it[RT_N + 3];
    size_t n = 0;
    char *longs[3] = { NULL, NULL, NULL };
    rdb_buf_init(&f);
    rdb_encode_header(&f, RDB_VERSION);

    for (size_t i = 0; i < RT_N; i++)
        rt_values[i] = i < RDB_TEST_NINTS ? rdb_test_ints[i] : rt_lookalikes[i - RDB_TEST_NINTS];
    for (size_t i = 0; i < RT_N; i++)
        it[n++] = rt_item(rt_values[i], rt_values[RT_N - 1 - i], (double)i - 3.5);
    if (big) {
        static const size_t sizes[] = { 200, 16378, 20000 };
        for (int i = 0; i < 3; i++) {
            longs[i] = rep((char)('p' + i), sizes[i]);
            it[n++] = rt_item(longs[i], longs[i], 1e300);
        }
    }
    /* lists and hashes: compact and plain; sets and sorted sets need distinct members */
    rt_coll(&f, &want, 0, RDB_COLL_LIST, "list:s", it, n, true, -1);
    rt_coll(&f, &want, 0, RDB_COLL_LIST, "list:p", it, n, false, 1234567890123ll);
    rt_coll(&f, &want, 0, RDB_COLL_HASH, "hash:s", it, n, true, -1);
    rt_coll(&f, &want, 0, RDB_COLL_HASH, "hash:p", it, n, false, -1);
    rt_coll(&f, &want, 0, RDB_COLL_SET, "set:p", it, n, false, -1);
    rt_coll(&f, &want, 0, RDB_COLL_ZSET, "zset:s", it, n, true, -1);
    rt_coll(&f, &want, 0, RDB_COLL_ZSET, "zset:p", it, n, false, -1);
    /* intsets of each width: the first 2, 11 and 20 values are the integers up to it */
    rdb_encode_selectdb(&f, 1);
    on_select(&want, 1);
    static const size_t widths[] = { 3, 4, 12, 20, 22 };
    for (size_t w = 0; w < sizeof(widths) / sizeof(widths[0]); w++)
        rt_coll(&f, &want, 1, RDB_COLL_SET, "set:int", it, widths[w], true, -1);
    /* empty ones */
    rt_coll(&f, &want, 1, RDB_COLL_LIST, "list:empty", it, 0, true, -1);
    rt_coll(&f, &want, 1, RDB_COLL_HASH, "hash:empty", it, 0, true, -1);
    rt_coll(&f, &want, 1, RDB_COLL_SET, "set:empty", it, 0, false, -1);
    /* scores Redis formats specially */
    struct rdb_item zs[] = { rt_item("inf", NULL, INFINITY), rt_item("-inf", NULL, -INFINITY),
                             rt_item("-0", NULL, -0.0),      rt_item("big", NULL, 1e17),
                             rt_item("tiny", NULL, 1e-300),  rt_item("third", NULL, 1.0 / 3) };
    rt_coll(&f, &want, 1, RDB_COLL_ZSET, "zset:scores", zs, 6, true, -1);
    rt_coll(&f, &want, 1, RDB_COLL_ZSET, "zset:scores", zs, 6, false, -1);

    /* ---- the older encodings, by hand ---- */
    rdb_encode_selectdb(&f, 2);
    on_select(&want, 2);
    /* list (1): count, then strings */
    raw_record(&f, 1, "l1", "\x02", 1);
    raw_string(&f, "x", 1);
    raw_string(&f, "", 0);
    on_coll_begin(&want, 2, RDB_COLL_LIST, "l1", 2, 2, -1, -1, -1);
    on_coll_item(&want, "x", 1, NULL, 0, 0);
    on_coll_item(&want, "", 0, NULL, 0, 0);
    on_coll_end(&want);
    /* zset (3): member, then the score as text, 254 +inf, 255 -inf */
    raw_record(&f, 3, "z3", "\x03", 1);
    raw_string(&f, "a", 1);
    raw_bytes(&f, "\x04-1.5", 5);
    raw_string(&f, "b", 1);
    raw_bytes(&f, "\xfe", 1);
    raw_string(&f, "c", 1);
    raw_bytes(&f, "\xff", 1);
    on_coll_begin(&want, 2, RDB_COLL_ZSET, "z3", 2, 3, -1, -1, -1);
    on_coll_item(&want, "a", 1, NULL, 0, -1.5);
    on_coll_item(&want, "b", 1, NULL, 0, INFINITY);
    on_coll_item(&want, "c", 1, NULL, 0, -INFINITY);
    on_coll_end(&want);
    /* zipmap (9): "f" => "v" with 2 free bytes, "" => a 300-byte value (5-byte length) */
    {
        char *v300 = rep('z', 300);
        struct rdb_buf zm;
        rdb_buf_init(&zm);
        rdb_buf_reserve(&zm, 400);
        memcpy(zm.p,
               "\x02\x01"
               "f"
               "\x01\x02"
               "vXY"
               "\x00"
               "\xfe\x2c\x01\x00\x00\x00",
               15);
        zm.len = 15;
        memcpy(zm.p + zm.len, v300, 300);
        zm.len += 300;
        zm.p[zm.len++] = (char)0xff;
        raw_record(&f, 9, "zm", "", 0);
        raw_string(&f, zm.p, zm.len);
        on_coll_begin(&want, 2, RDB_COLL_HASH, "zm", 2, 2, -1, -1, -1);
        on_coll_item(&want, "f", 1, "v", 1, 0);
        on_coll_item(&want, "", 0, v300, 300, 0);
        on_coll_end(&want);
        rdb_buf_deinit(&zm);
        free(v300);
    }
    /* ziplists: list (10), hash (13), zset (12), and a quicklist (14) of two */
    {
        struct zl z;
        char *s300 = rep('q', 300);
        size_t nz = sizeof(zl_ints) / sizeof(zl_ints[0]);
        zl_begin(&z);
        on_coll_begin(&want, 2, RDB_COLL_LIST, "zl10", 4, nz + 2, -1, -1, -1);
        for (size_t i = 0; i < nz; i++) {
            zl_int(&z, zl_ints[i].v, zl_ints[i].w);
            on_coll_item(&want, zl_ints[i].text, strlen(zl_ints[i].text), NULL, 0, 0);
        }
        zl_str(&z, s300, 300); /* a 14-bit length, and a 5-byte prevlen after it */
        zl_str(&z, "", 0);
        on_coll_item(&want, s300, 300, NULL, 0, 0);
        on_coll_item(&want, "", 0, NULL, 0, 0);
        on_coll_end(&want);
        raw_record(&f, 10, "zl10", "", 0);
        zl_end(&z, &f);

        zl_begin(&z);
        zl_str(&z, "f", 1);
        zl_int(&z, -300, 2);
        zl_str(&z, "g", 1);
        zl_str(&z, "text", 4);
        raw_record(&f, 13, "zl13", "", 0);
        zl_end(&z, &f);
        on_coll_begin(&want, 2, RDB_COLL_HASH, "zl13", 4, 2, -1, -1, -1);
        on_coll_item(&want, "f", 1, "-300", 4, 0);
        on_coll_item(&want, "g", 1, "text", 4, 0);
        on_coll_end(&want);

        zl_begin(&z);
        zl_str(&z, "m", 1);
        zl_int(&z, 7, 0);
        zl_str(&z, "n", 1);
        zl_str(&z, "2.25", 4);
        raw_record(&f, 12, "zl12", "", 0);
        zl_end(&z, &f);
        on_coll_begin(&want, 2, RDB_COLL_ZSET, "zl12", 4, 2, -1, -1, -1);
        on_coll_item(&want, "m", 1, NULL, 0, 7);
        on_coll_item(&want, "n", 1, NULL, 0, 2.25);
        on_coll_end(&want);

        raw_record(&f, 14, "ql", "\x02", 1);
        on_coll_begin(&want, 2, RDB_COLL_LIST, "ql", 2, 0, -1, -1, -1);
        for (int node = 0; node < 2; node++) {
            zl_begin(&z);
            zl_str(&z, node == 0 ? "n0" : "n1", 2);
            zl_int(&z, node, 0);
            zl_end(&z, &f);
            on_coll_item(&want, node == 0 ? "n0" : "n1", 2, NULL, 0, 0);
            on_coll_item(&want, node == 0 ? "0" : "1", 1, NULL, 0, 0);
        }
        on_coll_end(&want);
        free(s300);
    }
    /* set listpack (20): the listpack of a one-node list, under another type */
    {
        struct rdb_buf l;
        rdb_buf_init(&l);
        struct rdb_item m[] = { rt_item("a", NULL, 0), rt_item("-4097", NULL, 0),
                                rt_item("", NULL, 0) };
        struct rdb_encode_opts o;
        rdb_encode_opts_init(&o);
        o.compress = false;
        rdb_encode_list_node(&l, m, 3, &o); /* container 2, then the listpack as a string */
        raw_record(&f, 20, "s20", l.p + 1, l.len - 1);
        on_coll_begin(&want, 2, RDB_COLL_SET, "s20", 3, 3, -1, -1, -1);
        for (int i = 0; i < 3; i++)
            on_coll_item(&want, m[i].a, m[i].alen, NULL, 0, 0);
        on_coll_end(&want);
        rdb_buf_deinit(&l);
    }
    /* a plain quicklist 2 node between packed ones */
    {
        struct rdb_item m[] = { rt_item("before", NULL, 0), rt_item("after", NULL, 0) };
        rdb_encode_coll_begin(&f, RDB_COLL_LIST, "qlp", 3, 3, -1, NULL);
        rdb_encode_list_node(&f, &m[0], 1, NULL);
        raw_bytes(&f, "\x01", 1); /* container 1: one element, plain */
        raw_string(&f, "plain", 5);
        rdb_encode_list_node(&f, &m[1], 1, NULL);
        on_coll_begin(&want, 2, RDB_COLL_LIST, "qlp", 3, 0, -1, -1, -1);
        on_coll_item(&want, "before", 6, NULL, 0, 0);
        on_coll_item(&want, "plain", 5, NULL, 0, 0);
        on_coll_item(&want, "after", 5, NULL, 0, 0);
        on_coll_end(&want);
    }
    if (crc)
        finish_file(&f);
    else
        rdb_encode_eof(&f, 0);
    to_sbuf(&f, out);
    rdb_buf_deinit(&f);
    for (int i = 0; i < 3; i++)
        free(longs[i]);
    *want_tr = want.t;
}

/* Every kind, encoding and integer width comes back as written, in any feeding. */
static void round_trip_collections(void **state)
{
    (void)state;
    struct sbuf file, want;
    struct collector c = { 0 };
    struct result r;
    coll_file(&file, &want, true, false);
    decode(&file, NULL, &c, &r);
    if (r.rc != RDB_DONE)
        fail_msg("rc %d: %s", r.rc, r.err);
    assert_same_transcript(&c.t, &want);
    sb_free(&c.t);
    decode_every_split(&file, &want, RDB_DONE, file.len);
    sb_free(&file);
    sb_free(&want);

    /* long strings: every back length size, LZF-compressed blobs and elements */
    coll_file(&file, &want, true, true);
    decode(&file, NULL, &c, &r);
    if (r.rc != RDB_DONE)
        fail_msg("rc %d: %s", r.rc, r.err);
    assert_same_transcript(&c.t, &want);
    sb_free(&c.t);
    size_t one = 1;
    decode_cuts(&file, cut_chunk, &one, NULL, &c, &r);
    assert_int_equal(r.rc, RDB_DONE);
    assert_true(sb_eq(&c.t, &want));
    sb_free(&c.t);
    uint64_t seed = 99;
    decode_cuts(&file, cut_varying, &seed, NULL, &c, &r);
    assert_int_equal(r.rc, RDB_DONE);
    assert_true(sb_eq(&c.t, &want));
    sb_free(&c.t);
    sb_free(&file);
    sb_free(&want);
}

/* A file cut anywhere is truncated, a damaged one fails: never a bad read. */
static void collections_damaged(void **state)
{
    (void)state;
    struct sbuf file, want;
    coll_file(&file, &want, true, false);
    for (size_t n = 1; n < file.len; n++) {
        struct sbuf prefix = { 0 };
        sb_add(&prefix, file.p, n);
        struct collector c = { 0 };
        struct result r;
        decode(&prefix, NULL, &c, &r);
        if (r.rc != RDB_ETRUNC)
            fail_msg("prefix of %zu bytes: rc %d (%s)", n, r.rc, r.err);
        assert_true(c.t.len <= want.len);
        sb_free(&prefix);
        sb_free(&c.t);
    }
    assert_true(flip_each_byte(&file, true) > 0);
    sb_free(&file);
    sb_free(&want);
    coll_file(&file, &want, false, false);
    flip_each_byte(&file, false);
    sb_free(&file);
    sb_free(&want);
}

static void checksum_errors(void **state)
{
    (void)state;
    struct sbuf file, want;
    small_file(&file, &want, true);
    /* a flipped data byte (in the redis-ver value): the mismatch at the end */
    char *ver = memmem(file.p, file.len, "7.0.15", 6);
    assert_non_null(ver);
    ver[0] = '8';
    struct collector c = { 0 };
    struct result r;
    decode(&file, NULL, &c, &r);
    assert_int_equal(r.rc, RDB_ECHECKSUM);
    assert_non_null(strstr(r.err, "checksum mismatch: the file says "));
    sb_free(&c.t);
    /* checksum 0: not verified */
    memset(file.p + file.len - 8, 0, 8);
    decode(&file, NULL, &c, &r);
    assert_int_equal(r.rc, RDB_DONE);
    sb_free(&c.t);
    sb_free(&file);
    sb_free(&want);
}

/* A callback that returns non-zero stops the load. */
static void callback_abort(void **state)
{
    (void)state;
    struct sbuf file, want;
    small_file(&file, &want, true);
    for (size_t cut = 1; cut < file.len; cut += 7) {
        struct collector c = { .abort_after = 3 };
        struct result r;
        decode_cuts(&file, cut_at, &cut, NULL, &c, &r);
        assert_int_equal(r.rc, RDB_ECALLBACK);
        assert_int_equal(c.strings, 3);
        assert_int_equal(r.keys, 2);
        assert_non_null(strstr(r.err, "load stopped by the string callback (-5)"));
        sb_free(&c.t);
    }
    struct rdb_parser p;
    struct collector c = { .abort_after = 1 };
    rdb_parser_init(&p, &callbacks, &c, NULL);
    assert_int_equal(rdb_parser_feed(&p, file.p, file.len, NULL), RDB_ECALLBACK);
    assert_int_equal(p.cb_rc, -5);
    rdb_parser_deinit(&p);
    sb_free(&c.t);
    /* NULL callbacks: everything is read and dropped */
    struct rdb_callbacks none = { 0 };
    rdb_parser_init(&p, &none, NULL, NULL);
    assert_int_equal(rdb_parser_feed(&p, file.p, file.len, NULL), RDB_DONE);
    assert_int_equal(p.keys, 6);
    rdb_parser_deinit(&p);
    sb_free(&file);
    sb_free(&want);
}

/* Decode the Redis file and write it again with our encoder: same contents. */
static void reencode_redis_file(void **state)
{
    (void)state;
    struct sbuf file;
    read_file("redis7-strings.rdb", &file);
    struct collector c = { 0 };
    struct result r;
    decode(&file, NULL, &c, &r);
    assert_int_equal(r.rc, RDB_DONE);

    /* Rebuild from the transcript. */
    struct rdb_buf b;
    rdb_buf_init(&b);
    rdb_encode_header(&b, RDB_VERSION);
    size_t i = 0;
    while (i < c.t.len) {
        char *q;
        const char *s = c.t.p + i;
        if (s[0] == 'A') {
            size_t kn = strtoul(s + 2, &q, 10);
            char key[64];
            memcpy(key, q + 1, kn);
            key[kn] = '\0';
            size_t vn = strtoul(q + 1 + kn + 1, &q, 10);
            rdb_encode_aux(&b, key, q + 1, vn);
            i = (size_t)(q + 1 + vn + 1 - c.t.p);
        } else if (s[0] == 'D') {
            rdb_encode_selectdb(&b, (int)strtol(s + 2, &q, 10));
            i = (size_t)(q + 1 - c.t.p);
        } else if (s[0] == 'R') {
            unsigned long long k = strtoull(s + 2, &q, 10);
            unsigned long long x = strtoull(q + 1, &q, 10);
            rdb_encode_resizedb(&b, k, x);
            i = (size_t)(q + 1 - c.t.p);
        } else {
            assert_int_equal(s[0], 'S');
            strtol(s + 2, &q, 10);
            size_t kn = strtoul(q + 1, &q, 10);
            const char *k = q + 1;
            size_t vn = strtoul(k + kn + 1, &q, 10);
            const char *v = q + 1;
            long long exp = strtoll(v + vn + 1, &q, 10);
            struct rdb_encode_opts o;
            rdb_encode_opts_init(&o);
            o.lru_idle = strtoll(q + 1, &q, 10);
            o.lfu_freq = (int)strtol(q + 1, &q, 10);
            rdb_encode_string(&b, k, kn, v, vn, exp, &o);
            i = (size_t)(q + 1 - c.t.p);
        }
    }
    finish_file(&b);
    struct sbuf ours;
    to_sbuf(&b, &ours);
    rdb_buf_deinit(&b);
    struct collector c2 = { 0 };
    decode(&ours, NULL, &c2, &r);
    assert_int_equal(r.rc, RDB_DONE);
    assert_true(sb_eq(&c.t, &c2.t));
    sb_free(&c.t);
    sb_free(&c2.t);
    sb_free(&ours);
    sb_free(&file);
}

static void type_names(void **state)
{
    (void)state;
    assert_string_equal(rdb_type_name(0), "string");
    assert_string_equal(rdb_type_name(18), "list");
    assert_string_equal(rdb_type_name(20), "set");
    assert_string_equal(rdb_type_name(21), "stream");
    assert_null(rdb_type_name(8));
    assert_null(rdb_type_name(22));
    assert_null(rdb_type_name(-1));
}

/* ---- DUMP payloads ---- */

/* Values of every kind and encoding the writers have, each as one record (key "" or the
 * value alone, as o says): strings plain, integer and compressed; small and big hashes,
 * lists, sets (intset and plain) and sorted sets. */
#define DUMP_CASES 11

static void dump_case(struct rdb_buf *b, int i, const struct rdb_encode_opts *o)
{
    static char text[600][2][16];
    static struct rdb_item items[600];
    char *big = rep('x', 1000);
    int kinds[DUMP_CASES] = { 0,
                              0,
                              0,
                              RDB_COLL_HASH,
                              RDB_COLL_HASH,
                              RDB_COLL_LIST,
                              RDB_COLL_LIST,
                              RDB_COLL_SET,
                              RDB_COLL_SET,
                              RDB_COLL_ZSET,
                              RDB_COLL_ZSET };
    size_t n = i == 4 ? 600 : i == 6 ? 300 : i == 8 || i == 10 ? 200 : 5;
    int kind = kinds[i];
    for (size_t j = 0; j < n; j++) {
        snprintf(text[j][0], sizeof(text[j][0]), kind == RDB_COLL_SET && i == 7 ? "%zu" : "m%zu",
                 j * 7);
        snprintf(text[j][1], sizeof(text[j][1]), "%zu", j);
        items[j] =
            (struct rdb_item){ text[j][0], kind == RDB_COLL_HASH ? text[j][1] : NULL,
                               strlen(text[j][0]), kind == RDB_COLL_HASH ? strlen(text[j][1]) : 0,
                               (double)j / 3 - 20 };
    }
    switch (i) {
    case 0:
        rdb_encode_string(b, "", 0, "hello", 5, -1, o);
        break;
    case 1:
        rdb_encode_string(b, "", 0, "-12345", 6, -1, o);
        break;
    case 2:
        rdb_encode_string(b, "", 0, big, 1000, -1, o);
        break;
    case 6: /* a big list: quicklist nodes */
        rdb_encode_coll_begin(b, kind, "", 0, rdb_list_nodes(n), -1, o);
        for (size_t j = 0; j < n; j += RDB_LIST_NODE_ITEMS)
            rdb_encode_list_node(b, items + j,
                                 n - j < RDB_LIST_NODE_ITEMS ? n - j : RDB_LIST_NODE_ITEMS, o);
        break;
    case 4:
    case 8:
    case 10:
        rdb_encode_coll_begin(b, kind, "", 0, n, -1, o);
        for (size_t j = 0; j < n; j++)
            rdb_encode_coll_item(b, kind, &items[j], o);
        break;
    default:
        assert_int_equal(rdb_encode_coll_small(b, kind, "", 0, items, n, -1, o), 0);
    }
    free(big);
}

/* A payload of case i: the value alone and the trailer. */
static void dump_payload(struct rdb_buf *b, int i)
{
    struct rdb_encode_opts o;
    rdb_encode_opts_init(&o);
    o.value_only = true;
    rdb_buf_init(b);
    dump_case(b, i, &o);
    rdb_encode_dump_trailer(b, 0);
}

/* Parse a payload into c's transcript. @return rdb_parse_dump's code, or -100 when
 * rdb_dump_check refused it. */
static int dump_decode(const void *payload, size_t len, struct collector *c, struct result *r)
{
    if (rdb_dump_check(payload, len) < 0)
        return -100;
    struct rdb_parser p;
    rdb_parser_init(&p, &callbacks, c, NULL);
    int rc = rdb_parse_dump(&p, payload, len);
    if (rc != RDB_DONE)
        assert_true(p.err[0] != '\0');
    if (r != NULL) {
        memcpy(r->err, p.err, sizeof(r->err));
        r->keys = p.keys;
    }
    rdb_parser_deinit(&p);
    drop_lines(c);
    return rc;
}

/* Payloads redis-server 7.0.15 gave for DUMP, byte for byte what the writers make. */
static void dump_like_redis(void **state)
{
    (void)state;
    static const struct {
        const char *val, *hex;
    } strings[] = {
        { "ohmytext", "00086f686d79746578740a00b65debe18c03ed88" },
        { "12345", "00c139300a009d94ea2793fc08b9" },
        { NULL, "00c3094064017878e057000178780a005db7f663bb08625f" }, /* 'x' * 100 */
    };
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
        size_t n = strlen(strings[i].hex) / 2;
        unsigned char want[64];
        hex_to(strings[i].hex, want, n);
        char *v = strings[i].val != NULL ? strdup(strings[i].val) : rep('x', 100);
        struct rdb_encode_opts o;
        struct rdb_buf b;
        rdb_encode_opts_init(&o);
        o.value_only = true;
        rdb_buf_init(&b);
        rdb_encode_string(&b, NULL, 0, v, strlen(v), -1, &o);
        rdb_encode_dump_trailer(&b, 0);
        assert_int_equal(b.len, n);
        assert_memory_equal(b.p, want, n);
        assert_int_equal(rdb_dump_check(want, n), 10);
        rdb_buf_deinit(&b);
        free(v);
    }
    /* HSET hh f v */
    {
        static const char hex[] = "100d0d0000000200816602817602ff0a0020f13d442354089d";
        unsigned char want[sizeof(hex) / 2];
        hex_to(hex, want, sizeof(want));
        struct rdb_item it = { "f", "v", 1, 1, 0 };
        struct rdb_encode_opts o;
        struct rdb_buf b;
        rdb_encode_opts_init(&o);
        o.value_only = true;
        rdb_buf_init(&b);
        assert_int_equal(rdb_encode_coll_small(&b, RDB_COLL_HASH, NULL, 0, &it, 1, 5, &o), 0);
        rdb_encode_dump_trailer(&b, 0);
        assert_int_equal(b.len, sizeof(want));
        assert_memory_equal(b.p, want, sizeof(want));
        rdb_buf_deinit(&b);
    }
}

/* Every kind: a payload parses to what the same value gives in a file, under key "". */
static void dump_round_trip(void **state)
{
    (void)state;
    for (int i = 0; i < DUMP_CASES; i++) {
        struct rdb_buf f, d;
        rdb_buf_init(&f);
        rdb_encode_header(&f, RDB_VERSION);
        dump_case(&f, i, NULL);
        finish_file(&f);
        struct sbuf file;
        to_sbuf(&f, &file);
        struct collector cf = { .keys_only = true }, cd = { .keys_only = true };
        struct result rf, rd;
        decode(&file, NULL, &cf, &rf);
        assert_int_equal(rf.rc, RDB_DONE);
        dump_payload(&d, i);
        assert_int_equal(rdb_dump_check(d.p, d.len), RDB_VERSION);
        int rc = dump_decode(d.p, d.len, &cd, &rd);
        if (rc != RDB_DONE)
            fail_msg("case %d: rc %d (%s)", i, rc, rd.err);
        assert_int_equal(rd.keys, 1);
        if (!sb_eq(&cf.t, &cd.t))
            fail_msg("case %d: the payload's value differs from the file's", i);
        /* the payload is the record minus its key (one byte, the empty string's length) */
        assert_int_equal(d.len, f.len - 9 - 9 - 1 + RDB_DUMP_TRAILER);
        sb_free(&cf.t);
        sb_free(&cd.t);
        sb_free(&file);
        rdb_buf_deinit(&f);
        rdb_buf_deinit(&d);
    }
}

/* Re-seal a damaged payload body with a good trailer of version v. */
static void reseal(struct rdb_buf *b, const void *body, size_t n, int v)
{
    b->len = 0;
    rdb_buf_reserve(b, n + RDB_DUMP_TRAILER);
    memcpy(b->p, body, n);
    b->p[n] = (char)v;
    b->p[n + 1] = (char)(v >> 8);
    uint64_t crc = crc64_update(0, b->p, n + 2);
    for (int k = 0; k < 8; k++)
        b->p[n + 2 + k] = (char)(crc >> (8 * k));
    b->len = n + RDB_DUMP_TRAILER;
}

static void dump_corrupt_refused(void **state)
{
    (void)state;
    struct rdb_buf d, x;
    rdb_buf_init(&x);
    for (int i = 0; i < DUMP_CASES; i++) {
        dump_payload(&d, i);
        size_t body = d.len - RDB_DUMP_TRAILER;
        struct collector c = { 0 };
        /* the trailer: any byte changed, too short, a newer version, no CRC */
        for (size_t k = body; k < d.len; k++) {
            d.p[k] ^= 0x20;
            assert_int_equal(rdb_dump_check(d.p, d.len), -1);
            d.p[k] ^= 0x20;
        }
        for (size_t n = 0; n < RDB_DUMP_TRAILER; n++)
            assert_int_equal(rdb_dump_check(d.p, n), -1);
        reseal(&x, d.p, body, RDB_VERSION + 1);
        assert_int_equal(rdb_dump_check(x.p, x.len), -1);
        reseal(&x, d.p, body, 9); /* older versions load, as in Redis */
        assert_int_equal(rdb_dump_check(x.p, x.len), 9);
        assert_int_equal(dump_decode(x.p, x.len, &c, NULL), RDB_DONE);
        memcpy(x.p, d.p, d.len);
        memset(x.p + body + 2, 0, 8);
        assert_int_equal(rdb_dump_check(x.p, d.len), -1);
        /* the value cut short anywhere, or followed by anything */
        for (size_t n = 0; n < body; n++) {
            reseal(&x, d.p, n, RDB_VERSION);
            int rc = dump_decode(x.p, x.len, &c, NULL);
            if (rc >= 0)
                fail_msg("case %d cut at %zu: rc %d", i, n, rc);
        }
        char *more = malloc(body + 3);
        memcpy(more, d.p, body);
        memcpy(more + body, "zzz", 3);
        reseal(&x, more, body + 1, RDB_VERSION);
        assert_int_equal(dump_decode(x.p, x.len, &c, NULL), RDB_EFORMAT);
        reseal(&x, more, body + 3, RDB_VERSION);
        assert_int_equal(dump_decode(x.p, x.len, &c, NULL), RDB_EFORMAT);
        free(more);
        sb_free(&c.t);
        rdb_buf_deinit(&d);
    }
    /* hostile bodies: unknown types, opcodes, a stream, lengths far past the payload */
    static const struct {
        const char *hex;
        int rc;
    } bad[] = {
        { "30", RDB_EFORMAT },
        { "fe00", RDB_EFORMAT },
        { "ff", RDB_EFORMAT },
        { "", RDB_EFORMAT },
        { "0f00", RDB_EUNSUPPORTED },
        { "0700", RDB_EUNSUPPORTED },
        { "0081ffffffffffffffff", RDB_ELIMIT },
        { "00c3ffff", RDB_EFORMAT },
        { "04810000010000000000", RDB_EFORMAT },
        { "10c3", RDB_EFORMAT },
        { "0b080400000001000000", RDB_EFORMAT },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        unsigned char body[32];
        size_t n = strlen(bad[i].hex) / 2;
        hex_to(bad[i].hex, body, n);
        reseal(&x, body, n, RDB_VERSION);
        struct collector c = { 0 };
        int rc = dump_decode(x.p, x.len, &c, NULL);
        if (rc != bad[i].rc)
            fail_msg("body %s: rc %d, want %d", bad[i].hex, rc, bad[i].rc);
        assert_int_equal(c.strings + c.colls, 0);
        sb_free(&c.t);
    }
    rdb_buf_deinit(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(encode_int_boundaries),
        cmocka_unit_test(encode_lengths),
        cmocka_unit_test(encode_metadata),
        cmocka_unit_test(redis_strings_file),
        cmocka_unit_test(redis_lfu_lru_files),
        cmocka_unit_test(redis_other_types_refused),
        cmocka_unit_test(redis_collections_file),
        cmocka_unit_test(encode_like_redis),
        cmocka_unit_test(round_trip_collections),
        cmocka_unit_test(collections_damaged),
        cmocka_unit_test(round_trip_many),
        cmocka_unit_test(round_trip_large),
        cmocka_unit_test(trailing_bytes),
        cmocka_unit_test(writer_pieces),
        cmocka_unit_test(versions),
        cmocka_unit_test(bad_records_refused),
        cmocka_unit_test(hostile_lengths_allocate_nothing),
        cmocka_unit_test(truncation_everywhere),
        cmocka_unit_test(flips_everywhere),
        cmocka_unit_test(random_damage),
        cmocka_unit_test(checksum_errors),
        cmocka_unit_test(callback_abort),
        cmocka_unit_test(reencode_redis_file),
        cmocka_unit_test(type_names),
        cmocka_unit_test(dump_like_redis),
        cmocka_unit_test(dump_round_trip),
        cmocka_unit_test(dump_corrupt_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
