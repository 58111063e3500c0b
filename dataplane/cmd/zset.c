/*
 * Sorted-set commands: the encodings and the single-key commands. A small sorted set is a
 * pack (types/pack.h) inline in its key's entry, (member, score) pairs sorted by score, then
 * member ("listpack"). Past zset-max-listpack-entries members, or with a member longer than
 * zset-max-listpack-value, it becomes a struct zbig ("skiplist"): a member store (member ->
 * its score as 8 bytes, store.h) and an ordered index over the member store's elements
 * (types/zindex.h). As in Redis 7.0 a sorted set never goes back to the pack; a destination
 * written whole (ZUNIONSTORE, ZRANGESTORE ...) takes the encoding its size calls for.
 *
 * Every range command reduces to a range of ranks: a score or lex bound is turned into the
 * rank of the first member past it (a binary search in the index, a walk in a pack), so
 * ZRANGE BYSCORE, ZCOUNT and ZREMRANGEBYLEX share one cursor walk (struct zcur). The
 * multi-key commands (ZUNION, ZINTER, ZDIFF and their STORE forms) are in zset_ops.c.
 */
#include "cmd/zset.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/commands.h"
#include "base/common.h"
#include "base/mem.h"
#include "base/util.h"
#include "replication/rdb.h"

#define ERR_ZADD_XXNX    "ERR XX and NX options at the same time are not compatible"
#define ERR_ZADD_GTLTNX  "ERR GT, LT, and/or NX options at the same time are not compatible"
#define ERR_ZADD_INCR    "ERR INCR option supports a single increment-element pair"
#define ERR_ZSET_NAN     "ERR resulting score is not a number (NaN)"
#define ERR_MINMAX_FLOAT "ERR min or max is not a float"
#define ERR_MINMAX_LEX   "ERR min or max not valid string range item"
#define ERR_POSITIVE     "ERR value is out of range, must be positive"
#define ERR_RANGE        "ERR value is out of range"
#define ERR_LIMIT_RANK                                                                             \
    "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
#define ERR_LEX_SCORES "ERR syntax error, WITHSCORES not supported in combination with BYLEX"
#define ERR_NUMKEYS    "ERR numkeys should be greater than 0"
#define ERR_COUNT_POS  "ERR count should be greater than 0"
#define ERR_COUNT_RANGE                                                                            \
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"

/* ---- the big encoding --------------------------------------------------------------------- */

static const unsigned char *elem_member(void *ctx, const void *el, size_t *len)
{
    (void)ctx;
    return (const unsigned char *)kv_key(el, len);
}

double zset_elem_score(const struct kv *el)
{
    size_t n;
    double d;
    memcpy(&d, kv_val((struct kv *)el, &n), sizeof(d));
    return d;
}

static void zb_sync(struct zbig *b)
{
    size_t now = sizeof(*b) + zindex_bytes(&b->z);
    if (b->owner != NULL) {
        if (now > b->acct)
            store_account_add(b->owner, now - b->acct);
        else if (now < b->acct)
            store_account_sub(b->owner, b->acct - now);
    }
    b->acct = now;
}

struct zbig *zset_big_new(struct store *owner)
{
    struct zbig *b = mem_calloc(sizeof(*b));
    b->m = store_members_new(owner);
    b->owner = owner;
    zindex_init(&b->z, elem_member, NULL);
    zb_sync(b);
    return b;
}

/* Add a member that is not there. */
static void zb_add(struct zbig *b, const char *m, size_t len, double score)
{
    struct skey k;
    skey_init(&k, m, len);
    struct kv *el = store_set(b->m, 0, &k, &score, sizeof(score), KV_ENC_RAW, -1, 0);
    zindex_insert(&b->z, score, el);
    zb_sync(b);
}

static void zb_del_elem(struct zbig *b, struct kv *el)
{
    zindex_delete(&b->z, zset_elem_score(el), el);
    store_delete_entry(b->m, 0, el);
    zb_sync(b);
}

static struct kv *zb_find(const struct zbig *b, const char *m, size_t len)
{
    struct skey k;
    skey_init(&k, m, len);
    return store_lookup(b->m, 0, &k, 0, STORE_NOTOUCH);
}

static void zb_free(struct zbig *b)
{
    zindex_deinit(&b->z);
    store_members_free(b->m);
    if (b->owner != NULL)
        store_account_sub(b->owner, b->acct);
    mem_free(b);
}

/* ---- reading either encoding -------------------------------------------------------------- */

static inline bool is_big(const struct kv *e)
{
    return kv_enc(e) == KV_ENC_BIG;
}

static inline struct zbig *zbig_of(const struct kv *e)
{
    return kv_big(e);
}

static inline unsigned char *zpack(const struct kv *e)
{
    size_t n;
    return (unsigned char *)kv_val((struct kv *)e, &n);
}

size_t zset_len(const struct kv *e)
{
    return is_big(e) ? zindex_count(&zbig_of(e)->z) : pack_count(zpack(e)) / 2;
}

/* The pair at member offset off of pack p into *z. @return the score's offset. */
static uint32_t pk_read(const unsigned char *p, uint32_t off, struct zitem *z)
{
    struct pack_elem el;
    const unsigned char *t;
    pack_get(p, off, &el);
    z->len = pack_elem_text(&el, z->buf, &t);
    z->m = (const char *)t;
    uint32_t so = pack_next(p, off);
    pack_get(p, so, &el);
    pack_elem_double(&el, &z->score);
    return so;
}

static void big_item(const struct kv *el, double score, struct zitem *z)
{
    z->m = kv_key(el, &z->len);
    z->score = score;
}

bool zcur_seek(struct zcur *c, const struct kv *e, size_t rank)
{
    c->big = is_big(e);
    if (c->big)
        return zindex_seek(&zbig_of(e)->z, rank, &c->zc);
    c->p = zpack(e);
    c->off = rank < pack_count(c->p) / 2 ? pack_seek(c->p, (int64_t)rank * 2) : 0;
    return c->off != 0;
}

bool zcur_step(struct zcur *c, bool rev, struct zitem *z)
{
    if (c->big) {
        double score;
        const void *el = rev ? zindex_prev(&c->zc, &score) : zindex_next(&c->zc, &score);
        if (el == NULL)
            return false;
        big_item(el, score, z);
        return true;
    }
    if (c->off == 0)
        return false;
    uint32_t so = pk_read(c->p, c->off, z);
    if (!rev) {
        c->off = pack_next(c->p, so);
    } else {
        uint32_t prev = pack_prev(c->p, c->off);
        c->off = prev != 0 ? pack_prev(c->p, prev) : 0;
    }
    return true;
}

/* The pack member offset of m, or 0. */
static uint32_t pk_find(const unsigned char *p, const char *m, size_t len)
{
    struct pack_needle n;
    pack_needle_str(&n, m, len);
    return pack_find(p, pack_first(p), &n, 2);
}

bool zset_score(const struct kv *e, const char *m, size_t len, double *score)
{
    if (is_big(e)) {
        struct kv *el = zb_find(zbig_of(e), m, len);
        if (el != NULL)
            *score = zset_elem_score(el);
        return el != NULL;
    }
    const unsigned char *p = zpack(e);
    uint32_t off = pk_find(p, m, len);
    if (off == 0)
        return false;
    struct pack_elem el;
    pack_get(p, pack_next(p, off), &el);
    pack_elem_double(&el, score);
    return true;
}

/* The ascending rank of member m. @return false when absent. */
static bool zset_rank(const struct kv *e, const char *m, size_t len, size_t *rank)
{
    if (is_big(e)) {
        struct kv *el = zb_find(zbig_of(e), m, len);
        return el != NULL && zindex_rank(&zbig_of(e)->z, zset_elem_score(el), el, rank) == 0;
    }
    const unsigned char *p = zpack(e);
    struct pack_needle n;
    pack_needle_str(&n, m, len);
    size_t r = 0;
    for (uint32_t off = pack_first(p); off != 0; off = pack_next(p, pack_next(p, off)), r++)
        if (pack_eq(p, off, &n)) {
            *rank = r;
            return true;
        }
    return false;
}

static int lexcmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c != 0)
        return c;
    return (alen > blen) - (alen < blen);
}

static int zcmp(double s1, const char *m1, size_t l1, double s2, const char *m2, size_t l2)
{
    if (s1 < s2)
        return -1;
    if (s1 > s2)
        return 1;
    return lexcmp(m1, l1, m2, l2);
}

/* The rank of the first member whose score is >= x (> x when exclusive). */
static size_t score_rank(const struct kv *e, double x, bool exclusive)
{
    if (is_big(e))
        return zindex_score_rank(&zbig_of(e)->z, x, exclusive);
    const unsigned char *p = zpack(e);
    size_t r = 0;
    for (uint32_t off = pack_first(p); off != 0; off = pack_next(p, pack_next(p, off)), r++) {
        struct pack_elem el;
        double s;
        pack_get(p, pack_next(p, off), &el);
        pack_elem_double(&el, &s);
        if (s > x || (!exclusive && s == x))
            break;
    }
    return r;
}

/* The rank of the first member >= m (> m when exclusive). */
static size_t lex_rank(const struct kv *e, const char *m, size_t len, bool exclusive)
{
    if (is_big(e))
        return zindex_lex_rank(&zbig_of(e)->z, m, len, exclusive);
    const unsigned char *p = zpack(e);
    size_t r = 0;
    for (uint32_t off = pack_first(p); off != 0; off = pack_next(p, pack_next(p, off)), r++) {
        struct zitem z;
        pk_read(p, off, &z);
        int c = lexcmp(z.m, z.len, m, len);
        if (c > 0 || (!exclusive && c == 0))
            break;
    }
    return r;
}

/* ---- writing ------------------------------------------------------------------------------ */

/* pack_splice's resize: the entry grows or shrinks in the store (and may move). */
static unsigned char *grow_entry(void *arg, unsigned char *p, size_t bytes)
{
    struct zw *w = arg;
    (void)p;
    w->e = store_resize(w->s, w->db, w->e, bytes);
    return zpack(w->e);
}

struct kv *zset_new(struct store *s, int db, const struct skey *k, int64_t expire_ms)
{
    struct kv *e = store_set(s, db, k, NULL, PACK_HDR_SMALL, KV_ENC_PACK, expire_ms, 0);
    kv_set_type(e, KV_ZSET);
    pack_init(zpack(e));
    return e;
}

/* Turn w's pack into the big encoding (the pairs are in order: the index fills its leaves). */
static void to_big(struct zw *w)
{
    struct zbig *b = zset_big_new(w->s);
    struct zcur c;
    struct zitem z;
    if (zcur_seek(&c, w->e, 0))
        while (zcur_step(&c, false, &z))
            zb_add(b, z.m, z.len, z.score);
    size_t klen;
    const char *key = kv_key(w->e, &klen);
    struct skey k;
    skey_init(&k, key, klen);
    w->e = store_set_big(w->s, w->db, &k, KV_ZSET, b, kv_expire(w->e));
}

void zset_make_big(struct zw *w)
{
    if (kv_enc(w->e) == KV_ENC_PACK)
        to_big(w);
}

/* Insert a pair that is not in pack-encoded w at its place. @return pack_splice's code. */
static int pk_insert(struct zw *w, const char *m, size_t len, double score)
{
    unsigned char *p = zpack(w->e);
    uint32_t at = pack_first(p);
    while (at != 0) {
        struct zitem z;
        uint32_t so = pk_read(p, at, &z);
        if (zcmp(z.score, z.m, z.len, score, m, len) > 0)
            break;
        at = pack_next(p, so);
    }
    struct pack_elem el[2] = { { .kind = PACK_STR, .len = len }, { .kind = PACK_DBL } };
    el[0].s = (const unsigned char *)m;
    el[1].d = score;
    return pack_splice(&p, at != 0 ? at : pack_bytes(p), 0, el, 2, grow_entry, w, NULL);
}

/*
 * Set the score of m. In a big sorted set the caller may have looked m up already (found):
 * el is then its element, or NULL when m is absent.
 */
static void put_at(struct zw *w, bool found, struct kv *el, const char *m, size_t len, double score)
{
    if (!is_big(w->e)) {
        unsigned char *p = zpack(w->e);
        uint32_t off = pk_find(p, m, len);
        if (off != 0) {
            pack_splice(&p, off, 2, NULL, 0, grow_entry, w, NULL);
            pk_insert(w, m, len, score); /* fits: the pack held the pair a moment ago */
            return;
        }
        if (pack_count(p) / 2 + 1 <= (size_t)w->p->zset_max_entries &&
            len <= (size_t)w->p->zset_max_value && pk_insert(w, m, len, score) == 0)
            return;
        to_big(w);
    }
    struct zbig *b = zbig_of(w->e);
    if (!found)
        el = zb_find(b, m, len);
    if (el == NULL) {
        zb_add(b, m, len, score);
        return;
    }
    double old = zset_elem_score(el);
    zindex_update(&b->z, old, score, el);
    store_snap_touch(b->m, 0, m, len); /* a nested snapshot writes the old score first */
    size_t n;
    memcpy(kv_val(el, &n), &score, sizeof(score));
    zb_sync(b);
}

void zset_put(struct zw *w, const char *m, size_t len, double score)
{
    put_at(w, false, NULL, m, len, score);
}

bool zset_del(struct zw *w, const char *m, size_t len)
{
    if (is_big(w->e)) {
        struct zbig *b = zbig_of(w->e);
        struct kv *el = zb_find(b, m, len);
        if (el != NULL)
            zb_del_elem(b, el);
        return el != NULL;
    }
    unsigned char *p = zpack(w->e);
    uint32_t off = pk_find(p, m, len);
    if (off != 0)
        pack_splice(&p, off, 2, NULL, 0, grow_entry, w, NULL);
    return off != 0;
}

/* Remove the ranks [lo, hi). */
static void zset_del_ranks(struct zw *w, size_t lo, size_t hi)
{
    if (hi <= lo)
        return;
    if (is_big(w->e)) {
        struct zbig *b = zbig_of(w->e);
        for (size_t i = lo; i < hi; i++)
            zb_del_elem(b, (struct kv *)zindex_at(&b->z, lo, NULL));
        return;
    }
    unsigned char *p = zpack(w->e);
    pack_splice(&p, pack_seek(p, (int64_t)lo * 2), (uint32_t)(hi - lo) * 2, NULL, 0, grow_entry, w,
                NULL);
}

bool zset_drop_if_empty(struct zw *w)
{
    if (zset_len(w->e) != 0)
        return false;
    store_delete_entry(w->s, w->db, w->e);
    w->e = NULL;
    return true;
}

static unsigned char *grow_buf(void *ctx, unsigned char *p, size_t bytes)
{
    (void)ctx;
    return mem_realloc(p, bytes);
}

struct kv *zset_store_items(struct store *s, int db, const struct skey *k, const struct zitem *v,
                            size_t n, const struct coll_params *p)
{
    size_t maxlen = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i].len > maxlen)
            maxlen = v[i].len;
    if (n <= (size_t)p->zset_max_entries && maxlen <= (size_t)p->zset_max_value &&
        n <= PACK_MAX_COUNT / 2) {
        struct pack_elem *el = mem_alloc((n > 0 ? n : 1) * 2 * sizeof(*el));
        for (size_t i = 0; i < n; i++) {
            el[2 * i] = (struct pack_elem){ .kind = PACK_STR, .len = v[i].len };
            el[2 * i].s = (const unsigned char *)v[i].m;
            el[2 * i + 1] = (struct pack_elem){ .kind = PACK_DBL };
            el[2 * i + 1].d = v[i].score;
        }
        unsigned char *buf = mem_alloc(PACK_HDR_SMALL);
        pack_init(buf);
        int rc = pack_splice(&buf, pack_hdr(buf), 0, el, (uint32_t)n * 2, grow_buf, NULL, NULL);
        mem_free(el);
        if (rc == 0) {
            struct kv *e = store_set(s, db, k, buf, pack_bytes(buf), KV_ENC_PACK, -1, 0);
            kv_set_type(e, KV_ZSET);
            mem_free(buf);
            return e;
        }
        mem_free(buf);
    }
    struct zbig *b = zset_big_new(s);
    for (size_t i = 0; i < n; i++)
        zb_add(b, v[i].m, v[i].len, v[i].score);
    return store_set_big(s, db, k, KV_ZSET, b, -1);
}

/* ---- lookups ------------------------------------------------------------------------------ */

struct kv *zset_lookup(struct cmd_ctx *c, int i, struct store **s, int flags, bool *wrong)
{
    struct skey k;
    return coll_lookup(c, i, KV_ZSET, s, &k, flags, wrong);
}

/* The sorted set at argv[i] for writing (NULL e: absent). @return false on WRONGTYPE. */
static bool zset_for_write(struct cmd_ctx *c, int i, struct zw *w)
{
    bool wrong;
    w->e = zset_lookup(c, i, &w->s, STORE_NOSTATS, &wrong);
    w->db = c->db;
    w->p = c->coll;
    return !wrong;
}

static void zset_create(struct cmd_ctx *c, int i, struct zw *w)
{
    struct skey k;
    skey_init(&k, c->argv[i].ptr, c->argv[i].len);
    w->e = zset_new(w->s, c->db, &k, -1);
}

/* ---- replies ------------------------------------------------------------------------------ */

void zset_reply_item(struct reply *r, const struct zitem *z, bool withscores, bool pair)
{
    if (pair)
        reply_array(r, 2);
    reply_bulk(r, z->m, z->len);
    if (withscores)
        reply_double(r, z->score);
}

/* The array header for n items: RESP3 pairs them when withscores. @return whether paired. */
bool zset_reply_header(struct reply *r, size_t n, bool withscores)
{
    bool pair = withscores && r->proto >= 3;
    reply_array(r, (long long)(withscores && !pair ? n * 2 : n));
    return pair;
}

/* n items from ascending rank `first`, walking down when rev. */
static void reply_ranks(struct reply *r, const struct kv *e, size_t first, size_t n, bool rev,
                        bool withscores)
{
    bool pair = zset_reply_header(r, n, withscores);
    struct zcur c;
    struct zitem z;
    if (n == 0 || !zcur_seek(&c, e, first))
        return;
    for (size_t i = 0; i < n && zcur_step(&c, rev, &z); i++)
        zset_reply_item(r, &z, withscores, pair);
}

/* ---- ZADD, ZINCRBY ------------------------------------------------------------------------ */

static bool arg_double(const struct cmd_ctx *c, int i, double *d)
{
    return util_str2d(c->argv[i].ptr, c->argv[i].len, d);
}

static void zadd_generic(struct cmd_ctx *c, bool incr)
{
    bool nx = false, xx = false, gt = false, lt = false, ch = false;
    int j = 2;
    for (; j < c->argc; j++) {
        if (cmd_arg_is(c, j, "nx"))
            nx = true;
        else if (cmd_arg_is(c, j, "xx"))
            xx = true;
        else if (cmd_arg_is(c, j, "ch"))
            ch = true;
        else if (cmd_arg_is(c, j, "incr"))
            incr = true;
        else if (cmd_arg_is(c, j, "gt"))
            gt = true;
        else if (cmd_arg_is(c, j, "lt"))
            lt = true;
        else
            break;
    }
    int first = j, elements = c->argc - first;
    if (elements % 2 != 0 || elements == 0) {
        reply_error(c->reply, ERR_SYNTAX);
        return;
    }
    elements /= 2;
    if (nx && xx) {
        reply_error(c->reply, ERR_ZADD_XXNX);
        return;
    }
    if ((gt && nx) || (lt && nx) || (gt && lt)) {
        reply_error(c->reply, ERR_ZADD_GTLTNX);
        return;
    }
    if (incr && elements > 1) {
        reply_error(c->reply, ERR_ZADD_INCR);
        return;
    }
    /* every score is checked before anything changes (read again below: no allocation) */
    double score = 0;
    for (int i = 0; i < elements; i++)
        if (!arg_double(c, first + 2 * i, &score)) {
            reply_error(c->reply, ERR_NOT_FLOAT);
            return;
        }
    struct zw w;
    if (!zset_for_write(c, 1, &w))
        return;
    long long added = 0, updated = 0, processed = 0;
    if (w.e == NULL && !xx)
        zset_create(c, 1, &w);
    for (int i = 0; w.e != NULL && i < elements; i++) {
        arg_double(c, first + 2 * i, &score);
        const struct resp_arg *m = &c->argv[first + 2 * i + 1];
        double cur;
        /* a big sorted set's member is looked up once, for its score and for the write */
        bool big = is_big(w.e);
        struct kv *el = big ? zb_find(zbig_of(w.e), m->ptr, m->len) : NULL;
        if (el != NULL)
            cur = zset_elem_score(el);
        else if (big || !zset_score(w.e, m->ptr, m->len, &cur)) {
            if (xx)
                continue;
            put_at(&w, big, NULL, m->ptr, m->len, score);
            added++;
            processed++;
            continue;
        }
        if (nx)
            continue;
        if (incr) {
            score += cur;
            if (isnan(score)) {
                reply_error(c->reply, ERR_ZSET_NAN);
                c->dirty += added + updated;
                if (added + updated > 0)
                    cmd_changed_arg(c, NOTIFY_ZSET, "zadd", 1);
                return;
            }
        }
        if ((lt && score >= cur) || (gt && score <= cur))
            continue;
        processed++;
        if (score != cur) {
            put_at(&w, big, el, m->ptr, m->len, score);
            updated++;
        }
    }
    if (w.e != NULL)
        zset_drop_if_empty(&w);
    c->dirty += added + updated;
    if (added + updated > 0)
        cmd_changed_arg(c, NOTIFY_ZSET, incr ? "zincr" : "zadd", 1);
    if (!incr)
        reply_int(c->reply, ch ? added + updated : added);
    else if (processed > 0)
        reply_double(c->reply, score);
    else
        reply_null(c->reply);
}

void cmd_zadd(struct cmd_ctx *c)
{
    zadd_generic(c, false);
}

void cmd_zincrby(struct cmd_ctx *c)
{
    zadd_generic(c, true);
}

/* ---- ZREM, ZCARD, ZSCORE, ZMSCORE, ZRANK ------------------------------------------------- */

void cmd_zrem(struct cmd_ctx *c)
{
    struct zw w;
    if (!zset_for_write(c, 1, &w))
        return;
    long long deleted = 0;
    bool gone = false;
    for (int i = 2; w.e != NULL && i < c->argc; i++) {
        deleted += zset_del(&w, c->argv[i].ptr, c->argv[i].len);
        gone = zset_drop_if_empty(&w);
    }
    c->dirty += deleted;
    if (deleted > 0)
        cmd_changed_arg(c, NOTIFY_ZSET, "zrem", 1);
    if (gone)
        cmd_changed_arg(c, NOTIFY_GENERIC, "del", 1);
    reply_int(c->reply, deleted);
}

/* The sorted set at argv[1] for reading (NULL: absent, or WRONGTYPE replied when *wrong). */
static struct kv *zset_read(struct cmd_ctx *c, bool *wrong)
{
    struct store *s;
    return zset_lookup(c, 1, &s, 0, wrong);
}

void cmd_zcard(struct cmd_ctx *c)
{
    bool wrong;
    struct kv *e = zset_read(c, &wrong);
    if (!wrong)
        reply_int(c->reply, e != NULL ? (long long)zset_len(e) : 0);
}

static void reply_score_of(struct cmd_ctx *c, const struct kv *e, int i)
{
    double d;
    if (e != NULL && zset_score(e, c->argv[i].ptr, c->argv[i].len, &d))
        reply_double(c->reply, d);
    else
        reply_null(c->reply);
}

void cmd_zscore(struct cmd_ctx *c)
{
    bool wrong;
    struct kv *e = zset_read(c, &wrong);
    if (!wrong)
        reply_score_of(c, e, 2);
}

void cmd_zmscore(struct cmd_ctx *c)
{
    bool wrong;
    struct kv *e = zset_read(c, &wrong);
    if (wrong)
        return;
    reply_array(c->reply, c->argc - 2);
    for (int i = 2; i < c->argc; i++)
        reply_score_of(c, e, i);
}

static void zrank_generic(struct cmd_ctx *c, bool rev)
{
    bool wrong;
    struct kv *e = zset_read(c, &wrong);
    if (wrong)
        return;
    size_t r;
    if (e == NULL || !zset_rank(e, c->argv[2].ptr, c->argv[2].len, &r)) {
        reply_null(c->reply);
        return;
    }
    reply_int(c->reply, (long long)(rev ? zset_len(e) - 1 - r : r));
}

void cmd_zrank(struct cmd_ctx *c)
{
    zrank_generic(c, false);
}

void cmd_zrevrank(struct cmd_ctx *c)
{
    zrank_generic(c, true);
}

/* ---- ranges ------------------------------------------------------------------------------- */

/* One end of a score range ("1.5", "(1.5", "-inf"), parsed as Redis's zslParseRange does. */
static bool parse_score_bound(const struct resp_arg *a, double *v, bool *ex)
{
    const char *s = a->ptr;
    size_t len = a->len;
    *ex = len > 0 && s[0] == '(';
    if (*ex) {
        s++;
        len--;
    }
    char small[128];
    char *t = len < sizeof(small) ? small : mem_alloc(len + 1);
    memcpy(t, s, len);
    t[len] = '\0';
    char *end;
    *v = strtod(t, &end);
    bool ok = *end == '\0' && !isnan(*v);
    if (t != small)
        mem_free(t);
    return ok;
}

/* One end of a lex range: "-", "+", "(m" or "[m". */
struct lex_bound {
    const char *s;
    size_t len;
    int inf; /* -1 "-", +1 "+", 0 a member */
    bool ex;
};

static bool parse_lex_bound(const struct resp_arg *a, struct lex_bound *b)
{
    b->inf = 0;
    b->ex = false;
    b->s = a->ptr + 1;
    b->len = a->len > 0 ? a->len - 1 : 0;
    if (a->len == 0)
        return false;
    switch (a->ptr[0]) {
    case '+':
    case '-':
        b->inf = a->ptr[0] == '+' ? 1 : -1;
        return a->len == 1;
    case '(':
        b->ex = true;
        return true;
    case '[':
        return true;
    default:
        return false;
    }
}

/* A parsed range: which kind, and its bounds. */
enum zrange_type { ZR_AUTO, ZR_RANK, ZR_SCORE, ZR_LEX };

struct zrange_spec {
    enum zrange_type type;
    long long start, end; /* ZR_RANK */
    double min, max;      /* ZR_SCORE */
    bool minex, maxex;
    struct lex_bound lmin, lmax; /* ZR_LEX */
};

/* Parse argv[mi], argv[ma] as a range of type t; reply the error when they are not one. */
static bool parse_range(struct cmd_ctx *c, enum zrange_type t, int mi, int ma,
                        struct zrange_spec *r)
{
    r->type = t;
    switch (t) {
    case ZR_SCORE:
        if (!parse_score_bound(&c->argv[mi], &r->min, &r->minex) ||
            !parse_score_bound(&c->argv[ma], &r->max, &r->maxex)) {
            reply_error(c->reply, ERR_MINMAX_FLOAT);
            return false;
        }
        return true;
    case ZR_LEX:
        if (!parse_lex_bound(&c->argv[mi], &r->lmin) || !parse_lex_bound(&c->argv[ma], &r->lmax)) {
            reply_error(c->reply, ERR_MINMAX_LEX);
            return false;
        }
        return true;
    default:
        return cmd_arg_ll(c, mi, &r->start) && cmd_arg_ll(c, ma, &r->end);
    }
}

static size_t lex_bound_rank(const struct kv *e, const struct lex_bound *b, bool upper)
{
    if (b->inf != 0)
        return b->inf < 0 ? 0 : zset_len(e);
    return lex_rank(e, b->s, b->len, upper ? !b->ex : b->ex);
}

/* Whether member z is >= / <= a lex bound, as Redis's zslLexValueGteMin / LteMax. */
static bool lex_gte_min(const struct zitem *z, const struct lex_bound *b)
{
    if (b->inf != 0)
        return b->inf < 0;
    int c = lexcmp(z->m, z->len, b->s, b->len);
    return b->ex ? c > 0 : c >= 0;
}

static bool lex_lte_max(const struct zitem *z, const struct lex_bound *b)
{
    if (b->inf != 0)
        return b->inf > 0;
    int c = lexcmp(z->m, z->len, b->s, b->len);
    return b->ex ? c < 0 : c <= 0;
}

static void pk_item_at(const struct kv *e, size_t rank, struct zitem *z)
{
    const unsigned char *p = zpack(e);
    pk_read(p, pack_seek(p, (int64_t)rank * 2), z);
}

/*
 * A lex range in a pack, walked as Redis walks a listpack (zzlFirstInLexRange /
 * zzlLastInLexRange): the same ranks as the binary search when the members are in lex order,
 * and Redis's answer when they are not (scores differ: "undefined", but repeatable).
 */
static void pk_lex_ranks(const struct kv *e, const struct zrange_spec *r, bool rev, size_t *lo,
                         size_t *hi)
{
    size_t n = zset_len(e);
    const struct lex_bound *mn = &r->lmin, *mx = &r->lmax;
    *lo = *hi = 0;
    int cmp = mn->inf != 0 || mx->inf != 0 ? (mn->inf < mx->inf   ? -1
                                              : mn->inf > mx->inf ? 1
                                                                  : 0)
                                           : lexcmp(mn->s, mn->len, mx->s, mx->len);
    if (mn->inf == 0 && mx->inf != 0)
        cmp = mx->inf > 0 ? -1 : 1;
    else if (mn->inf != 0 && mx->inf == 0)
        cmp = mn->inf < 0 ? -1 : 1;
    if (n == 0 || cmp > 0 || (cmp == 0 && (mn->ex || mx->ex)))
        return;
    struct zitem z;
    pk_item_at(e, n - 1, &z);
    if (!lex_gte_min(&z, mn))
        return;
    pk_item_at(e, 0, &z);
    if (!lex_lte_max(&z, mx))
        return;
    if (!rev) {
        size_t i = 0;
        for (; i < n; i++) {
            pk_item_at(e, i, &z);
            if (lex_gte_min(&z, mn))
                break;
        }
        *lo = *hi = i;
        while (*hi < n && (pk_item_at(e, *hi, &z), lex_lte_max(&z, mx)))
            (*hi)++;
        return;
    }
    size_t i = n;
    for (; i > 0; i--) {
        pk_item_at(e, i - 1, &z);
        if (lex_lte_max(&z, mx))
            break;
    }
    *lo = *hi = i;
    while (*lo > 0 && (pk_item_at(e, *lo - 1, &z), lex_gte_min(&z, mn)))
        (*lo)--;
}

/*
 * The ascending ranks [*lo, *hi) a score or lex range covers in e; for a rank range, the
 * indexes sanitized as Redis does (*hi <= *lo: empty).
 */
static void range_ranks(const struct kv *e, const struct zrange_spec *r, bool rev, size_t *lo,
                        size_t *hi)
{
    size_t n = zset_len(e);
    if (r->type == ZR_SCORE) {
        *lo = score_rank(e, r->min, r->minex);
        *hi = score_rank(e, r->max, !r->maxex);
    } else if (r->type == ZR_LEX && !is_big(e)) {
        pk_lex_ranks(e, r, rev, lo, hi);
    } else if (r->type == ZR_LEX) {
        *lo = lex_bound_rank(e, &r->lmin, false);
        *hi = lex_bound_rank(e, &r->lmax, true);
    } else {
        long long llen = (long long)n, start = r->start, end = r->end;
        if (start < 0)
            start += llen;
        if (end < 0)
            end += llen;
        if (start < 0)
            start = 0;
        if (start > end || start >= llen) {
            *lo = *hi = 0;
            return;
        }
        if (end >= llen)
            end = llen - 1;
        /* Z[REV]RANGE counts from the end when reversed */
        *lo = rev ? (size_t)(llen - 1 - end) : (size_t)start;
        *hi = rev ? (size_t)(llen - start) : (size_t)end + 1;
    }
    if (*hi < *lo)
        *hi = *lo;
}

/* Apply LIMIT offset count to [lo, hi): the first rank to emit and how many. */
static size_t apply_limit(size_t lo, size_t hi, bool rev, long long offset, long long limit,
                          size_t *first)
{
    if (offset < 0 || (size_t)offset >= hi - lo)
        return 0;
    size_t n = hi - lo - (size_t)offset;
    if (limit >= 0 && (size_t)limit < n)
        n = (size_t)limit;
    *first = rev ? hi - 1 - (size_t)offset : lo + (size_t)offset;
    return n;
}

/* An item whose member is a number points into its own buf: swapped, it must follow. */
static void zitem_swap(struct zitem *a, struct zitem *b)
{
    struct zitem t = *a;
    bool a_own = a->m == a->buf, b_own = b->m == b->buf;
    *a = *b;
    *b = t;
    if (b_own)
        a->m = a->buf;
    if (a_own)
        b->m = b->buf;
}

/*
 * ZRANGE and its older forms, and ZRANGESTORE (dst >= 0): argv[src] is the key, then min and
 * max, then the options (Redis 7.0's zrangeGenericCommand, same checks in the same order).
 */
static void zrange_generic(struct cmd_ctx *c, int dst, int src, enum zrange_type type, int dir)
{
    bool withscores = false;
    long long offset = 0, limit = -1;
    for (int j = src + 3; j < c->argc; j++) {
        int left = c->argc - j - 1;
        if (dst < 0 && cmd_arg_is(c, j, "withscores")) {
            withscores = true;
        } else if (cmd_arg_is(c, j, "limit") && left >= 2) {
            if (!cmd_arg_ll(c, j + 1, &offset) || !cmd_arg_ll(c, j + 2, &limit))
                return;
            j += 2;
        } else if (dir == 0 && cmd_arg_is(c, j, "rev")) {
            dir = -1;
        } else if (type == ZR_AUTO && cmd_arg_is(c, j, "bylex")) {
            type = ZR_LEX;
        } else if (type == ZR_AUTO && cmd_arg_is(c, j, "byscore")) {
            type = ZR_SCORE;
        } else {
            reply_error(c->reply, ERR_SYNTAX);
            return;
        }
    }
    bool rev = dir < 0;
    if (type == ZR_AUTO)
        type = ZR_RANK;
    if (limit != -1 && type == ZR_RANK) {
        reply_error(c->reply, ERR_LIMIT_RANK);
        return;
    }
    if (withscores && type == ZR_LEX) {
        reply_error(c->reply, ERR_LEX_SCORES);
        return;
    }
    int mi = src + 1, ma = src + 2;
    if (rev && type != ZR_RANK) {
        mi = src + 2;
        ma = src + 1;
    }
    struct zrange_spec r;
    if (!parse_range(c, type, mi, ma, &r))
        return;
    struct store *s;
    bool wrong;
    struct kv *e = zset_lookup(c, src, &s, 0, &wrong);
    if (wrong)
        return;
    size_t lo = 0, hi = 0, first = 0, n = 0;
    if (e != NULL) {
        range_ranks(e, &r, rev, &lo, &hi);
        if (type == ZR_RANK) {
            first = rev ? hi - 1 : lo;
            n = hi - lo;
        } else {
            n = apply_limit(lo, hi, rev, offset, limit, &first);
        }
    }
    if (dst < 0) {
        reply_ranks(c->reply, e, first, n, rev, withscores);
        return;
    }
    /* ZRANGESTORE: the items point into the source until the destination is written */
    struct zitem *v = mem_alloc((n > 0 ? n : 1) * sizeof(*v));
    struct zcur cur;
    size_t got = 0;
    if (n > 0 && zcur_seek(&cur, e, first))
        while (got < n && zcur_step(&cur, rev, &v[got]))
            got++;
    /* Redis starts the destination as a listpack (unless a rank range is known to be too
     * long for one) and adds the members in the walk's order, converting it at the first
     * member too long or too many: the scores added before that come back with -0 as 0 (a
     * listpack keeps no negative zero) */
    size_t max = (size_t)c->coll->zset_max_entries;
    if (type != ZR_RANK || got <= max)
        for (size_t i = 0; i < got && i < max && v[i].len <= (size_t)c->coll->zset_max_value; i++)
            if (v[i].score == 0)
                v[i].score = 0;
    /* the destination is written in ascending order whichever way the range was walked */
    for (size_t i = 0; rev && i < got / 2; i++)
        zitem_swap(&v[i], &v[got - 1 - i]);
    zset_store_result(c, dst, v, got);
    mem_free(v);
}

void zset_store_result(struct cmd_ctx *c, int dst, const struct zitem *v, size_t n)
{
    struct skey k;
    skey_init(&k, c->argv[dst].ptr, c->argv[dst].len);
    struct store *ds = cmd_store(c, k.ptr, k.len);
    if (n > 0) {
        zset_store_items(ds, c->db, &k, v, n, c->coll);
        c->dirty++;
        cmd_changed_arg(c, NOTIFY_ZSET, c->cmd->name, dst); /* zunionstore ... */
    } else if (store_delete(ds, c->db, &k, c->now_ms)) {
        c->dirty++;
        cmd_changed_arg(c, NOTIFY_GENERIC, "del", dst);
    }
    reply_int(c->reply, (long long)n);
}

void cmd_zrange(struct cmd_ctx *c)
{
    zrange_generic(c, -1, 1, ZR_AUTO, 0);
}

void cmd_zrangestore(struct cmd_ctx *c)
{
    zrange_generic(c, 1, 2, ZR_AUTO, 0);
}

void cmd_zrevrange(struct cmd_ctx *c)
{
    zrange_generic(c, -1, 1, ZR_RANK, -1);
}

void cmd_zrangebyscore(struct cmd_ctx *c)
{
    zrange_generic(c, -1, 1, ZR_SCORE, 1);
}

void cmd_zrevrangebyscore(struct cmd_ctx *c)
{
    zrange_generic(c, -1, 1, ZR_SCORE, -1);
}

void cmd_zrangebylex(struct cmd_ctx *c)
{
    zrange_generic(c, -1, 1, ZR_LEX, 1);
}

void cmd_zrevrangebylex(struct cmd_ctx *c)
{
    zrange_generic(c, -1, 1, ZR_LEX, -1);
}

/* ZCOUNT, ZLEXCOUNT */
static void zcount_generic(struct cmd_ctx *c, enum zrange_type t)
{
    struct zrange_spec r;
    if (!parse_range(c, t, 2, 3, &r))
        return;
    bool wrong;
    struct kv *e = zset_read(c, &wrong);
    if (wrong)
        return;
    size_t lo = 0, hi = 0;
    if (e != NULL)
        range_ranks(e, &r, false, &lo, &hi);
    reply_int(c->reply, (long long)(hi - lo));
}

void cmd_zcount(struct cmd_ctx *c)
{
    zcount_generic(c, ZR_SCORE);
}

void cmd_zlexcount(struct cmd_ctx *c)
{
    zcount_generic(c, ZR_LEX);
}

/* ZREMRANGEBYRANK, ZREMRANGEBYSCORE, ZREMRANGEBYLEX */
static void zremrange_generic(struct cmd_ctx *c, enum zrange_type t)
{
    struct zrange_spec r;
    if (!parse_range(c, t, 2, 3, &r))
        return;
    struct zw w;
    if (!zset_for_write(c, 1, &w))
        return;
    size_t lo = 0, hi = 0;
    bool gone = false;
    if (w.e != NULL) {
        range_ranks(w.e, &r, false, &lo, &hi);
        zset_del_ranks(&w, lo, hi);
        gone = zset_drop_if_empty(&w);
    }
    c->dirty += (long long)(hi - lo);
    if (hi > lo)
        cmd_changed_arg(c, NOTIFY_ZSET, c->cmd->name, 1); /* zremrangebyscore ... */
    if (gone)
        cmd_changed_arg(c, NOTIFY_GENERIC, "del", 1);
    reply_int(c->reply, (long long)(hi - lo));
}

void cmd_zremrangebyrank(struct cmd_ctx *c)
{
    zremrange_generic(c, ZR_RANK);
}

void cmd_zremrangebyscore(struct cmd_ctx *c)
{
    zremrange_generic(c, ZR_SCORE);
}

void cmd_zremrangebylex(struct cmd_ctx *c)
{
    zremrange_generic(c, ZR_LEX);
}

/* ---- ZPOPMIN, ZPOPMAX, ZMPOP -------------------------------------------------------------- */

enum zpop_reply {
    ZPOP_FLAT,   /* ZPOPMIN/ZPOPMAX: member, score ... (RESP3 pairs them when a count is given) */
    ZPOP_NESTED, /* ZMPOP/BZMPOP: [key, [[member, score] ...]] */
    ZPOP_KEYED,  /* BZPOPMIN/BZPOPMAX: [key, member, score] */
};

/*
 * Pop up to count members (count -1: one, without a count argument) from the first non-empty
 * sorted set of argv[first .. first+nkeys) that may be taken from now, replying in `style`.
 * @return false, with nothing replied, when there is none (or after a WRONGTYPE, *err set).
 */
static bool zpop_generic(struct cmd_ctx *c, int first, int nkeys, bool max, long long count,
                         enum zpop_reply style, bool *err)
{
    struct zw w = { .db = c->db, .p = c->coll, .e = NULL };
    int ki = first;
    *err = false;
    for (; ki < first + nkeys; ki++) {
        if (!cmd_key_ready(c, ki))
            continue;
        if (!zset_for_write(c, ki, &w)) {
            *err = true;
            return false;
        }
        if (w.e != NULL)
            break;
    }
    if (w.e == NULL)
        return false;
    if (count == 0) {
        reply_empty_array(c->reply);
        return true;
    }
    bool has_count = count != -1;
    if (count == -1)
        count = 1;
    size_t len = zset_len(w.e);
    size_t n = (unsigned long long)count > len ? len : (size_t)count;
    bool pair = style == ZPOP_NESTED || (style == ZPOP_FLAT && has_count && c->reply->proto >= 3);
    if (style != ZPOP_FLAT) {
        reply_array(c->reply, style == ZPOP_NESTED ? 2 : 3);
        reply_bulk(c->reply, c->argv[ki].ptr, c->argv[ki].len);
    }
    if (style != ZPOP_KEYED)
        reply_array(c->reply, (long long)(pair ? n : n * 2));
    for (size_t i = 0; i < n; i++) {
        size_t rank = max ? zset_len(w.e) - 1 : 0;
        struct zcur cur;
        struct zitem z;
        zcur_seek(&cur, w.e, rank);
        zcur_step(&cur, false, &z);
        zset_reply_item(c->reply, &z, true, pair);
        zset_del_ranks(&w, rank, rank + 1);
    }
    bool gone = zset_drop_if_empty(&w);
    c->dirty += (long long)n;
    if (n > 0)
        cmd_changed_arg(c, NOTIFY_ZSET, max ? "zpopmax" : "zpopmin", ki);
    if (gone)
        cmd_changed_arg(c, NOTIFY_GENERIC, "del", ki);
    if (style != ZPOP_FLAT) {
        /* replicas pop from the key that had members, as ZPOPMIN/ZPOPMAX key [count] */
        char buf[24];
        struct resp_arg argv[3] = { { .ptr = (char *)(max ? "ZPOPMAX" : "ZPOPMIN"), .len = 7 },
                                    c->argv[ki],
                                    { .ptr = buf, .len = util_ll2str(buf, count) } };
        cmd_propagate(c, style == ZPOP_KEYED ? 2 : 3, argv);
    }
    return true;
}

static void zpopminmax(struct cmd_ctx *c, bool max)
{
    if (c->argc > 3) {
        reply_error(c->reply, ERR_SYNTAX);
        return;
    }
    long long count = -1;
    if (c->argc == 3) {
        if (!util_str2ll(c->argv[2].ptr, c->argv[2].len, &count) || count < 0) {
            reply_error(c->reply, ERR_POSITIVE);
            return;
        }
    }
    bool err;
    if (!zpop_generic(c, 1, 1, max, count, ZPOP_FLAT, &err) && !err)
        reply_empty_array(c->reply);
}

void cmd_zpopmin(struct cmd_ctx *c)
{
    zpopminmax(c, false);
}

void cmd_zpopmax(struct cmd_ctx *c)
{
    zpopminmax(c, true);
}

/* BZPOPMIN/BZPOPMAX key [key ...] timeout */
static void bzpop(struct cmd_ctx *c, bool max)
{
    int64_t timeout;
    bool err;
    if (!cmd_block_timeout(c, c->argc - 1, &timeout) ||
        zpop_generic(c, 1, c->argc - 2, max, -1, ZPOP_KEYED, &err) || err)
        return;
    if (!cmd_block(c, 1, c->argc - 2, 1, KV_ZSET, timeout))
        reply_null_array(c->reply);
}

void cmd_bzpopmin(struct cmd_ctx *c)
{
    bzpop(c, false);
}

void cmd_bzpopmax(struct cmd_ctx *c)
{
    bzpop(c, true);
}

/* A number in [1, LLONG_MAX] at argv[i], else the error msg. */
static bool arg_positive(struct cmd_ctx *c, int i, long long *v, const char *msg)
{
    if (!util_str2ll(c->argv[i].ptr, c->argv[i].len, v) || *v < 1) {
        reply_error(c->reply, msg);
        return false;
    }
    return true;
}

/* ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]; BZMPOP with its timeout first (at 1). */
static void zmpop_generic(struct cmd_ctx *c, int at, bool blocking)
{
    long long numkeys, count = -1;
    if (!arg_positive(c, at, &numkeys, ERR_NUMKEYS))
        return;
    if (numkeys >= c->argc - at - 1) {
        reply_error(c->reply, ERR_SYNTAX);
        return;
    }
    int where = at + 1 + (int)numkeys;
    bool max = cmd_arg_is(c, where, "max");
    if (!max && !cmd_arg_is(c, where, "min")) {
        reply_error(c->reply, ERR_SYNTAX);
        return;
    }
    for (int j = where + 1; j < c->argc; j++) {
        if (count == -1 && j + 1 < c->argc && cmd_arg_is(c, j, "count")) {
            if (!arg_positive(c, j + 1, &count, ERR_COUNT_POS))
                return;
            j++;
        } else {
            reply_error(c->reply, ERR_SYNTAX);
            return;
        }
    }
    int64_t timeout = 0;
    bool err;
    if ((blocking && !cmd_block_timeout(c, 1, &timeout)) ||
        zpop_generic(c, at + 1, (int)numkeys, max, count == -1 ? 1 : count, ZPOP_NESTED, &err) ||
        err)
        return;
    if (!blocking || !cmd_block(c, at + 1, (int)numkeys, 1, KV_ZSET, timeout))
        reply_null_array(c->reply);
}

void cmd_zmpop(struct cmd_ctx *c)
{
    zmpop_generic(c, 1, false);
}

void cmd_bzmpop(struct cmd_ctx *c)
{
    zmpop_generic(c, 2, true);
}

/* ---- ZRANDMEMBER -------------------------------------------------------------------------- */

static void reply_rank(struct reply *r, const struct kv *e, size_t rank, bool withscores, bool pair)
{
    struct zcur cur;
    struct zitem z;
    zcur_seek(&cur, e, rank);
    zcur_step(&cur, false, &z);
    zset_reply_item(r, &z, withscores, pair);
}

static void reply_elem(struct reply *r, const struct kv *el, bool withscores, bool pair)
{
    struct zitem z;
    big_item(el, zset_elem_score(el), &z);
    zset_reply_item(r, &z, withscores, pair);
}

/* A random member: a rank of a pack, an element of the member store. */
static void reply_random(struct reply *r, const struct kv *e, bool withscores, bool pair)
{
    if (is_big(e))
        reply_elem(r, store_random(zbig_of(e)->m, 0, 0), withscores, pair);
    else
        reply_rank(r, e, (size_t)(util_rand64() % zset_len(e)), withscores, pair);
}

/* ZRANDMEMBER key [count [WITHSCORES]] */
void cmd_zrandmember(struct cmd_ctx *c)
{
    long long l = 1;
    bool with_count = c->argc >= 3;
    if (with_count) {
        if (!cmd_arg_ll(c, 2, &l))
            return;
        if (l < -LLONG_MAX) {
            reply_error(c->reply, ERR_COUNT_RANGE);
            return;
        }
    }
    if (c->argc > 4 || (c->argc == 4 && !cmd_arg_is(c, 3, "withscores"))) {
        reply_error(c->reply, ERR_SYNTAX);
        return;
    }
    bool withscores = c->argc == 4;
    if (withscores && (l < -LLONG_MAX / 2 || l > LLONG_MAX / 2)) {
        reply_error(c->reply, ERR_RANGE);
        return;
    }
    bool wrong;
    struct kv *e = zset_read(c, &wrong);
    if (wrong)
        return;
    if (!with_count) {
        if (e == NULL)
            reply_null(c->reply);
        else
            reply_random(c->reply, e, false, false);
        return;
    }
    if (e == NULL || l == 0) {
        reply_empty_array(c->reply);
        return;
    }
    size_t size = zset_len(e);
    bool uniq = l > 0;
    size_t count = (size_t)(l > 0 ? l : -l);
    if (uniq && count > size)
        count = size;
    bool pair = zset_reply_header(c->reply, count, withscores);
    if (!uniq) {
        for (size_t i = 0; i < count; i++)
            reply_random(c->reply, e, withscores, pair);
        return;
    }
    if (count == size) {
        /* the whole set, in order, as Redis replies it */
        struct zcur cur;
        struct zitem z;
        zcur_seek(&cur, e, 0);
        while (zcur_step(&cur, false, &z))
            zset_reply_item(c->reply, &z, withscores, pair);
        return;
    }
    if (is_big(e)) {
        struct kv **v;
        size_t got = coll_pick_members(zbig_of(e)->m, count, &v);
        for (size_t i = 0; i < got; i++)
            reply_elem(c->reply, v[i], withscores, pair);
        mem_free(v);
        return;
    }
    uint32_t *idx = coll_pick_index((uint32_t)size, (uint32_t)count);
    for (size_t i = 0; i < count; i++)
        reply_rank(c->reply, e, idx[i], withscores, pair);
    mem_free(idx);
}

/* ---- ZSCAN -------------------------------------------------------------------------------- */

static void emit_member(struct reply *r, const struct kv *el)
{
    size_t len;
    const char *m = kv_key(el, &len);
    char buf[64];
    reply_bulk(r, m, len);
    reply_bulk(r, buf, util_d2str(buf, sizeof(buf), zset_elem_score(el)));
}

void cmd_zscan(struct cmd_ctx *c)
{
    struct coll_scan a;
    if (!coll_scan_cursor(c, &a))
        return;
    bool wrong;
    struct kv *e = zset_read(c, &wrong);
    if (wrong)
        return;
    if (e == NULL) {
        coll_scan_empty(c);
        return;
    }
    if (!coll_scan_opts(c, &a))
        return;
    if (is_big(e)) {
        coll_scan_members(c, zbig_of(e)->m, &a, 2, emit_member);
        return;
    }
    /* a pack is returned whole, with cursor 0, as Redis does for a listpack */
    const unsigned char *p = zpack(e);
    size_t n = 0;
    struct zitem z;
    for (uint32_t off = pack_first(p); off != 0;) {
        off = pack_next(p, pk_read(p, off, &z));
        n += coll_scan_match(&a, z.m, z.len);
    }
    reply_array(c->reply, 2);
    cmd_reply_cursor(c->reply, 0);
    reply_array(c->reply, (long long)n * 2);
    for (uint32_t off = pack_first(p); off != 0;) {
        uint32_t so = pk_read(p, off, &z);
        if (coll_scan_match(&a, z.m, z.len)) {
            struct pack_elem el;
            const unsigned char *t;
            char buf[PACK_TEXT_BUF];
            reply_bulk(c->reply, z.m, z.len);
            pack_get(p, so, &el);
            size_t len = pack_elem_text(&el, buf, &t);
            reply_bulk(c->reply, t, len);
        }
        off = pack_next(p, so);
    }
}

/* ---- the collection interface (cmd/coll.h) ------------------------------------------------ */

static const char *zset_encoding(const struct kv *e)
{
    return is_big(e) ? "skiplist" : "listpack";
}

static size_t zset_big_bytes(const void *obj)
{
    const struct zbig *b = obj;
    return store_used(b->m) + b->acct;
}

static void *zset_big_copy(struct store *dst, const void *obj)
{
    const struct zbig *from = obj;
    struct zbig *b = zset_big_new(dst);
    struct zindex_cursor cur;
    double score;
    const void *el;
    if (zindex_seek(&from->z, 0, &cur))
        while ((el = zindex_next(&cur, &score)) != NULL) {
            size_t len;
            const char *m = kv_key(el, &len);
            zb_add(b, m, len, score);
        }
    return b;
}

static void zset_big_reown(void *obj, struct store *from, struct store *to)
{
    struct zbig *b = obj;
    (void)from;
    store_members_reown(b->m, to);
    if (b->owner != NULL)
        store_account_sub(b->owner, b->acct);
    b->owner = to;
    store_account_add(to, b->acct);
}

static void zset_big_free(struct store *s, void *obj)
{
    (void)s;
    zb_free(obj);
}

static struct store *zset_big_members(const void *obj)
{
    return ((const struct zbig *)obj)->m; /* member -> score: all a zset_2 record needs */
}

static size_t zset_big_effort(const void *obj)
{
    return zindex_count(&((const struct zbig *)obj)->z);
}

static bool zset_big_step(struct store *s, void *obj, size_t *budget)
{
    (void)s;
    struct zbig *b = obj;
    if (b->owner != NULL) {
        store_account_sub(b->owner, b->acct); /* the index's bytes, before its nodes go */
        b->owner = NULL;
    }
    if (!zindex_drain(&b->z, budget) || !store_members_step(b->m, budget))
        return false;
    mem_free(b);
    return true;
}

static void zset_encode(struct rdb_buf *b, const struct kv *e, int64_t exp,
                        const struct rdb_encode_opts *o)
{
    size_t klen;
    const char *key = kv_key(e, &klen);
    size_t n = zset_len(e);
    struct zcur cur;
    if (is_big(e)) {
        rdb_encode_coll_begin(b, RDB_COLL_ZSET, key, klen, n, exp, o);
        struct zitem z;
        if (zcur_seek(&cur, e, 0))
            while (zcur_step(&cur, false, &z)) {
                struct rdb_item it = { .a = z.m, .alen = z.len, .score = z.score };
                rdb_encode_coll_item(b, RDB_COLL_ZSET, &it, o);
            }
        return;
    }
    struct zitem *v = mem_alloc((n > 0 ? n : 1) * sizeof(*v));
    struct rdb_item *items = mem_alloc((n > 0 ? n : 1) * sizeof(*items));
    size_t got = 0;
    if (zcur_seek(&cur, e, 0))
        while (got < n && zcur_step(&cur, false, &v[got])) {
            items[got] =
                (struct rdb_item){ .a = v[got].m, .alen = v[got].len, .score = v[got].score };
            got++;
        }
    rdb_encode_coll_small(b, RDB_COLL_ZSET, key, klen, items, got, exp, o);
    mem_free(items);
    mem_free(v);
}

static void zset_each(const struct kv *e, coll_each_fn fn, void *arg)
{
    struct zcur cur;
    struct zitem z;
    if (zcur_seek(&cur, e, 0))
        while (zcur_step(&cur, false, &z))
            fn(arg, z.m, z.len, NULL, 0, z.score);
}

static int zset_load_item(struct coll_loader *l, const char *a, size_t alen, const char *b,
                          size_t blen, double score)
{
    (void)b;
    (void)blen;
    if (isnan(score))
        return -EINVAL;
    struct zw w = { l->s, l->db, l->e, l->p };
    zset_put(&w, a, alen, score);
    l->e = w.e;
    return 0;
}

const struct coll_type coll_zset = {
    .encoding = zset_encoding,
    .count = zset_len,
    .big_bytes = zset_big_bytes,
    .big_copy = zset_big_copy,
    .big_reown = zset_big_reown,
    .big = { zset_big_free, zset_big_step, zset_big_effort },
    .big_members = zset_big_members,
    .encode = zset_encode,
    .each = zset_each,
    .create = zset_new,
    .load_item = zset_load_item,
};
