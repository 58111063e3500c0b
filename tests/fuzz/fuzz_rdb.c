/*
 * RDB loader (replication/rdb.c): the push parser a replica feeds from the
 * socket and the server feeds from a dump file.
 *
 * Input: one byte, the seed of the chunk sizes, then the RDB. The RDB is
 * parsed twice, in one feed and in feeds of 1..256 bytes; every callback
 * writes a line to a transcript, and the transcripts, statuses, offsets and
 * error texts must be equal. The string entries the single-feed run loaded
 * are then written back with the encoder and decoded again: they must come
 * back the same (collections are only logged). Strings are limited to 1 MiB
 * (max_len) so that a length field cannot make one input take the fuzzer's
 * whole memory budget; the limit's own check is what the unit tests cover.
 *
 * The same bytes are then a DUMP payload's value (RESTORE's parser, rdb_parse_dump):
 * sealed with a good trailer, and as they are when their own trailer checks out. The
 * parse must end in a status with its error text, and a string it loads must dump and
 * load back the same.
 */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "replication/rdb.h"

#define FZ_MAX_LEN (1u << 20)
#define FZ_DBS     16

struct run {
    struct fz_buf log;  /* every callback */
    struct fz_buf slog; /* the string entries only */
    struct rdb_buf re;  /* the string entries, encoded again */
    struct fz_buf val;  /* the last string value */
    bool encode;
    int db;
    bool in_coll; /* between coll_begin and coll_end */
    int kind;
};

static void log_str(struct fz_buf *b, char tag, const char *s, size_t n)
{
    fz_fmt_u(b, tag, n);
    fz_add(b, s, n);
}

static int on_aux(void *arg, const char *key, size_t klen, const char *val, size_t vlen)
{
    struct run *r = arg;
    log_str(&r->log, 'A', key, klen);
    log_str(&r->log, '=', val, vlen);
    return 0;
}

static int on_selectdb(void *arg, int db)
{
    struct run *r = arg;
    FZ_CHECK(db >= 0 && db < FZ_DBS);
    fz_fmt_u(&r->log, 'S', (unsigned long long)db);
    return 0;
}

static int on_resizedb(void *arg, uint64_t keys, uint64_t expires)
{
    struct run *r = arg;
    fz_fmt_u(&r->log, 'R', keys);
    fz_fmt_u(&r->log, ',', expires);
    return 0;
}

static int on_string(void *arg, int db, const char *key, size_t klen, const char *val, size_t vlen,
                     int64_t expire_ms, int64_t lru_idle, int lfu_freq)
{
    struct run *r = arg;
    FZ_CHECK(db >= 0 && db < FZ_DBS);
    FZ_CHECK(klen <= FZ_MAX_LEN && vlen <= FZ_MAX_LEN);
    FZ_CHECK(lfu_freq >= -1 && lfu_freq <= 255);
    FZ_CHECK(lru_idle >= -1);
    for (int i = 0; i < 2; i++) {
        struct fz_buf *b = i ? &r->slog : &r->log;
        fz_fmt_u(b, 'K', (unsigned long long)db);
        log_str(b, 'k', key, klen);
        log_str(b, 'v', val, vlen);
        fz_fmt_u(b, 'e', (unsigned long long)expire_ms);
        fz_fmt_u(b, 'l', (unsigned long long)lru_idle);
        fz_fmt_u(b, 'f', (unsigned long long)lfu_freq);
    }
    r->val.len = 0;
    fz_add(&r->val, val, vlen);
    if (r->encode) {
        if (db != r->db) {
            rdb_encode_selectdb(&r->re, db);
            r->db = db;
        }
        struct rdb_encode_opts o;
        rdb_encode_opts_init(&o);
        o.lru_idle = lru_idle;
        o.lfu_freq = lfu_freq;
        rdb_encode_string(&r->re, key, klen, val, vlen, expire_ms, &o);
    }
    return 0;
}

/* Collections are logged (whole and split runs must agree), not encoded again. */
static int on_coll_begin(void *arg, int db, int kind, const char *key, size_t klen,
                         uint64_t count_hint, int64_t expire_ms, int64_t lru_idle, int lfu_freq)
{
    struct run *r = arg;
    FZ_CHECK(db >= 0 && db < FZ_DBS);
    FZ_CHECK(kind >= RDB_COLL_LIST && kind <= RDB_COLL_HASH);
    FZ_CHECK(klen <= FZ_MAX_LEN && !r->in_coll);
    FZ_CHECK(lfu_freq >= -1 && lfu_freq <= 255 && lru_idle >= -1);
    r->in_coll = true;
    r->kind = kind;
    fz_fmt_u(&r->log, 'C', (unsigned long long)kind);
    log_str(&r->log, 'k', key, klen);
    fz_fmt_u(&r->log, 'n', count_hint);
    fz_fmt_u(&r->log, 'e', (unsigned long long)expire_ms);
    return 0;
}

static int on_coll_item(void *arg, const char *a, size_t alen, const char *b, size_t blen,
                        double score)
{
    struct run *r = arg;
    FZ_CHECK(r->in_coll && alen <= FZ_MAX_LEN && blen <= FZ_MAX_LEN);
    FZ_CHECK((b != NULL) == (r->kind == RDB_COLL_HASH));
    FZ_CHECK(!isnan(score));
    uint64_t bits;
    memcpy(&bits, &score, sizeof(bits));
    log_str(&r->log, 'a', a, alen);
    if (b != NULL)
        log_str(&r->log, 'b', b, blen);
    fz_fmt_u(&r->log, 's', bits);
    return 0;
}

static int on_coll_end(void *arg)
{
    struct run *r = arg;
    FZ_CHECK(r->in_coll);
    r->in_coll = false;
    fz_fmt_u(&r->log, 'E', 0);
    return 0;
}

static const struct rdb_callbacks cbs = {
    .aux = on_aux,
    .selectdb = on_selectdb,
    .resizedb = on_resizedb,
    .string = on_string,
    .coll_begin = on_coll_begin,
    .coll_item = on_coll_item,
    .coll_end = on_coll_end,
};

struct result {
    int rc;
    uint64_t offset, keys;
    size_t used;
    char err[RDB_ERR_MAX];
};

/* Parse data[0..n) in chunks from *seed (NULL: one feed); the transcript goes to r->log. */
static void parse(struct run *r, const uint8_t *data, size_t n, uint32_t *seed, struct result *res)
{
    struct rdb_parser p;
    rdb_parser_init(&p, &cbs, r, &(struct rdb_parser_opts){ FZ_MAX_LEN, FZ_DBS });
    int rc = RDB_OK;
    size_t off = 0;
    res->used = 0;
    while (off < n) {
        size_t k = seed ? 1 + fz_next(seed) % 256 : n;
        if (k > n - off)
            k = n - off;
        size_t used = 0;
        rc = rdb_parser_feed(&p, data + off, k, &used);
        if (rc == RDB_OK)
            FZ_CHECK(used == k);
        if (rc == RDB_DONE) {
            FZ_CHECK(used <= k);
            res->used = off + used;
        }
        if (rc != RDB_OK)
            break;
        off += k;
    }
    if (rc == RDB_OK)
        rc = rdb_parser_finish(&p);
    else if (rc == RDB_DONE)
        FZ_CHECK(rdb_parser_finish(&p) == RDB_DONE);
    FZ_CHECK(rc == RDB_OK || rc == RDB_DONE || (rc >= RDB_ECALLBACK && rc <= RDB_EFORMAT));
    FZ_CHECK(rc == RDB_DONE || p.err[0] != '\0');
    if (rc == RDB_DONE)
        FZ_CHECK(p.offset == res->used);
    res->rc = rc;
    res->offset = p.offset;
    res->keys = p.keys;
    memcpy(res->err, p.err, sizeof(res->err));
    rdb_parser_deinit(&p);
}

static void run_free(struct run *r)
{
    fz_free(&r->log);
    fz_free(&r->slog);
    fz_free(&r->val);
}

/* data[0..n) as a payload's value: sealed with a trailer, or whole when it has its own. */
static void dump_value(const uint8_t *data, size_t n)
{
    struct rdb_buf b;
    rdb_buf_init(&b);
    rdb_buf_reserve(&b, n + RDB_DUMP_TRAILER);
    memcpy(b.p, data, n);
    b.len = n;
    rdb_encode_dump_trailer(&b, 0);
    FZ_CHECK(rdb_dump_check(b.p, b.len) == RDB_VERSION);
    for (int own = 0; own < 2; own++) {
        const void *payload = own ? (const void *)data : b.p;
        size_t len = own ? n : b.len;
        if (rdb_dump_check(payload, len) < 0)
            continue;
        struct run r = { .encode = false };
        struct rdb_parser p;
        rdb_parser_init(&p, &cbs, &r, &(struct rdb_parser_opts){ FZ_MAX_LEN, 1 });
        int rc = rdb_parse_dump(&p, payload, len);
        FZ_CHECK(rc == RDB_DONE || (rc >= RDB_ECALLBACK && rc <= RDB_EFORMAT));
        FZ_CHECK(rc != RDB_ETRUNC && rc != RDB_ECHECKSUM && rc != RDB_EVERSION);
        FZ_CHECK(rc == RDB_DONE ? p.keys == 1 && p.err[0] == '\0' : p.err[0] != '\0');
        rdb_parser_deinit(&p);
        if (rc == RDB_DONE && r.slog.len > 0) {
            /* a string: its value alone, dumped and parsed again */
            struct rdb_parser q;
            struct run again = { .encode = false };
            struct rdb_encode_opts o;
            struct rdb_buf d;
            rdb_encode_opts_init(&o);
            o.value_only = true;
            rdb_buf_init(&d);
            rdb_encode_string(&d, NULL, 0, r.val.p, r.val.len, -1, &o);
            rdb_encode_dump_trailer(&d, 0);
            rdb_parser_init(&q, &cbs, &again, &(struct rdb_parser_opts){ FZ_MAX_LEN, 1 });
            FZ_CHECK(rdb_parse_dump(&q, d.p, d.len) == RDB_DONE);
            FZ_CHECK(again.slog.len == r.slog.len &&
                     memcmp(again.slog.p, r.slog.p, r.slog.len) == 0);
            rdb_parser_deinit(&q);
            rdb_buf_deinit(&d);
            run_free(&again);
        }
        run_free(&r);
    }
    rdb_buf_deinit(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint32_t seed = data[0];
    data++;
    size--;

    struct run whole = { .encode = true, .db = -1 }, split = { 0 };
    struct result rw, rs;
    rdb_buf_init(&whole.re);
    rdb_encode_header(&whole.re, RDB_VERSION);
    parse(&whole, data, size, NULL, &rw);
    parse(&split, data, size, &seed, &rs);

    FZ_CHECK(rw.rc == rs.rc && rw.keys == rs.keys && rw.used == rs.used);
    FZ_CHECK(strcmp(rw.err, rs.err) == 0);
    if (rw.rc != RDB_ECHECKSUM)
        FZ_CHECK(rw.offset == rs.offset);
    FZ_CHECK(whole.log.len == split.log.len);
    FZ_CHECK(whole.log.len == 0 || memcmp(whole.log.p, split.log.p, whole.log.len) == 0);

    /* Round trip: the string entries, encoded again, decode to the same entries. */
    if (rw.keys > 0) {
        rdb_encode_eof(&whole.re, 0);
        struct run again = { 0 };
        struct result ra;
        parse(&again, (const uint8_t *)whole.re.p, whole.re.len, NULL, &ra);
        FZ_CHECK(ra.rc == RDB_DONE);
        FZ_CHECK(whole.slog.len == again.slog.len);
        /* (only collections: nothing encoded again, both logs empty) */
        FZ_CHECK(whole.slog.len == 0 || memcmp(whole.slog.p, again.slog.p, whole.slog.len) == 0);
        run_free(&again);
    }
    rdb_buf_deinit(&whole.re);
    run_free(&whole);
    run_free(&split);
    dump_value(data, size);
    return 0;
}
