/*
 * Hash commands. A small hash is a pack (types/pack.h) inline in its key's entry, fields and
 * values alternating, field first ("listpack"). Past hash-max-listpack-entries fields, or
 * with a field or value longer than hash-max-listpack-value, it becomes a member store
 * (store.h): one element per field, the field as its key and the value as its value
 * ("hashtable"). As in Redis 7.0 a hash never goes back to the pack.
 */
#include "cmd/cmd.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "cmd/coll.h"
#include "cmd/commands.h"
#include "base/common.h"
#include "base/mem.h"
#include "base/util.h"
#include "replication/rdb.h"
#include "types/pack.h"

#define ERR_HASH_NOT_INT   "ERR hash value is not an integer"
#define ERR_HASH_NOT_FLOAT "ERR hash value is not a float"
#define ERR_HASH_NAN_INCR  "ERR value is NaN or Infinity"

/* The hash at argv[1], or NULL (no key, or WRONGTYPE replied: *wrong set). */
static struct kv *hash_lookup(struct cmd_ctx *c, struct store **s, struct skey *k, int flags,
                              bool *wrong)
{
    return coll_lookup(c, 1, KV_HASH, s, k, flags, wrong);
}

static inline bool is_big(const struct kv *e)
{
    return kv_enc(e) == KV_ENC_BIG;
}

static inline struct store *members(const struct kv *e)
{
    return kv_big(e);
}

static inline unsigned char *hash_pack(struct kv *e)
{
    size_t n;
    return (unsigned char *)kv_val(e, &n);
}

static size_t hash_len(const struct kv *e)
{
    return is_big(e) ? store_count(members(e), 0) : pack_count(hash_pack((struct kv *)e)) / 2;
}

/* A hash being written: where it lives (the entry may move or change encoding). */
struct hw {
    struct store *s;
    int db;
    struct kv *e;
    const struct coll_params *p;
};

/* pack_splice's resize: the entry grows or shrinks in the store (and may move). */
static unsigned char *grow_entry(void *arg, unsigned char *p, size_t bytes)
{
    struct hw *h = arg;
    (void)p;
    h->e = store_resize(h->s, h->db, h->e, bytes);
    return hash_pack(h->e);
}

struct kv *cmd_hash_new(struct store *s, int db, const struct skey *k, int64_t expire_ms)
{
    struct kv *e = store_set(s, db, k, NULL, PACK_HDR_SMALL, KV_ENC_PACK, expire_ms, 0);
    kv_set_type(e, KV_HASH);
    pack_init(hash_pack(e));
    return e;
}

/* The offset of field f's value in pack p, or 0. */
static uint32_t find_value(const unsigned char *p, const char *f, size_t len)
{
    struct pack_needle n;
    pack_needle_str(&n, f, len);
    uint32_t off = pack_find(p, pack_first(p), &n, 2);
    return off != 0 ? pack_next(p, off) : 0;
}

/* The text of the pack element at off (buf holds a number's digits). */
static const char *elem_text(const unsigned char *p, uint32_t off, char buf[PACK_TEXT_BUF],
                             size_t *len)
{
    struct pack_elem el;
    const unsigned char *t;
    pack_get(p, off, &el);
    *len = pack_elem_text(&el, buf, &t);
    return (const char *)t;
}

/* Field f's value: its text, or NULL when the field is absent. */
static const char *hash_get(struct kv *e, const char *f, size_t flen, char buf[PACK_TEXT_BUF],
                            size_t *vlen)
{
    if (is_big(e)) {
        struct skey k;
        skey_init(&k, f, flen);
        struct kv *m = store_lookup(members(e), 0, &k, 0, STORE_NOTOUCH);
        return m != NULL ? kv_val(m, vlen) : NULL;
    }
    const unsigned char *p = hash_pack(e);
    uint32_t off = find_value(p, f, flen);
    return off != 0 ? elem_text(p, off, buf, vlen) : NULL;
}

const char *cmd_hash_get(struct kv *e, const char *f, size_t flen, char *buf, size_t *vlen)
{
    return hash_get(e, f, flen, buf, vlen);
}

/* Every field and value, in the hash's order. */
typedef void (*hash_fn)(void *arg, const char *f, size_t flen, const char *v, size_t vlen);

struct each_ctx {
    hash_fn fn;
    void *arg;
};

static void each_member(void *arg, struct kv *m)
{
    struct each_ctx *x = arg;
    size_t flen, vlen;
    const char *f = kv_key(m, &flen);
    const char *v = kv_val(m, &vlen);
    x->fn(x->arg, f, flen, v, vlen);
}

static void hash_each(const struct kv *e, hash_fn fn, void *arg)
{
    if (is_big(e)) {
        struct each_ctx x = { fn, arg };
        uint64_t cur = 0;
        do
            cur = store_scan(members(e), 0, cur, each_member, &x);
        while (cur != 0);
        return;
    }
    const unsigned char *p = hash_pack((struct kv *)e);
    for (uint32_t off = pack_first(p); off != 0; off = pack_next(p, pack_next(p, off))) {
        char fb[PACK_TEXT_BUF], vb[PACK_TEXT_BUF];
        size_t flen, vlen;
        const char *f = elem_text(p, off, fb, &flen);
        const char *v = elem_text(p, pack_next(p, off), vb, &vlen);
        fn(arg, f, flen, v, vlen);
    }
}

/* Set a field in a member store. @return 1 new, 0 overwritten. */
static int member_put(struct store *m, const char *f, size_t flen, const char *v, size_t vlen)
{
    struct skey k;
    skey_init(&k, f, flen);
    bool had = store_lookup(m, 0, &k, 0, STORE_NOTOUCH) != NULL;
    store_set(m, 0, &k, v, vlen, KV_ENC_RAW, -1, 0);
    return !had;
}

static void convert_one(void *arg, const char *f, size_t flen, const char *v, size_t vlen)
{
    member_put(arg, f, flen, v, vlen);
}

/* Turn h's pack into a member store. */
static void to_big(struct hw *h)
{
    struct store *m = store_members_new(h->s);
    hash_each(h->e, convert_one, m);
    size_t klen;
    const char *key = kv_key(h->e, &klen);
    struct skey k;
    skey_init(&k, key, klen);
    h->e = store_set_big(h->s, h->db, &k, KV_HASH, m, kv_expire(h->e));
}

/*
 * Set field f to v in h, converting to the member store when the pack would pass the
 * parameters (or its own limits).
 * @return 1 when the field is new, 0 when it was overwritten.
 */
static int put(struct hw *h, const char *f, size_t flen, const char *v, size_t vlen)
{
    if (!is_big(h->e)) {
        unsigned char *p = hash_pack(h->e);
        uint32_t off = find_value(p, f, flen);
        bool fits = flen <= (size_t)h->p->hash_max_value && vlen <= (size_t)h->p->hash_max_value &&
                    (off != 0 || pack_count(p) / 2 + 1 <= (size_t)h->p->hash_max_entries);
        if (fits) {
            struct pack_elem el[2] = { { .kind = PACK_STR, .len = flen },
                                       { .kind = PACK_STR, .len = vlen } };
            el[0].s = (const unsigned char *)f;
            el[1].s = (const unsigned char *)v;
            int rc = off != 0 ? pack_splice(&p, off, 1, &el[1], 1, grow_entry, h, NULL)
                              : pack_splice(&p, pack_bytes(p), 0, el, 2, grow_entry, h, NULL);
            if (rc == 0)
                return off == 0;
        }
        to_big(h);
    }
    return member_put(members(h->e), f, flen, v, vlen);
}

/* Remove field f. @return whether it was there. */
static bool del(struct hw *h, const char *f, size_t flen)
{
    if (is_big(h->e)) {
        struct skey k;
        skey_init(&k, f, flen);
        return store_delete(members(h->e), 0, &k, 0);
    }
    unsigned char *p = hash_pack(h->e);
    struct pack_needle n;
    pack_needle_str(&n, f, flen);
    uint32_t off = pack_find(p, pack_first(p), &n, 2);
    if (off == 0)
        return false;
    pack_splice(&p, off, 2, NULL, 0, grow_entry, h, NULL);
    return true;
}

/* The hash at argv[1] for writing: the existing one or a new empty one (NULL: WRONGTYPE). */
static bool hash_for_write(struct cmd_ctx *c, struct hw *h)
{
    struct skey k;
    bool wrong;
    struct kv *e = hash_lookup(c, &h->s, &k, STORE_NOSTATS, &wrong);
    if (wrong)
        return false;
    h->db = c->db;
    h->e = e != NULL ? e : cmd_hash_new(h->s, c->db, &k, -1);
    h->p = c->coll;
    return true;
}

/* An emptied hash goes, as in Redis. @return whether it went. */
static bool drop_if_empty(struct hw *h)
{
    if (hash_len(h->e) != 0)
        return false;
    store_delete_entry(h->s, h->db, h->e);
    return true;
}

static void hset_generic(struct cmd_ctx *c, bool ok_reply)
{
    if (c->argc % 2 != 0) {
        cmd_reply_arity(c);
        return;
    }
    struct hw h;
    if (!hash_for_write(c, &h))
        return;
    long long added = 0;
    for (int i = 2; i < c->argc; i += 2)
        added += put(&h, c->argv[i].ptr, c->argv[i].len, c->argv[i + 1].ptr, c->argv[i + 1].len);
    c->dirty += (c->argc - 2) / 2;
    cmd_changed_arg(c, NOTIFY_HASH, "hset", 1);
    if (ok_reply)
        reply_ok(c->reply);
    else
        reply_int(c->reply, added);
}

void cmd_hset(struct cmd_ctx *c)
{
    hset_generic(c, false);
}

void cmd_hmset(struct cmd_ctx *c)
{
    hset_generic(c, true);
}

void cmd_hsetnx(struct cmd_ctx *c)
{
    struct skey k;
    struct store *s;
    bool wrong;
    struct kv *e = hash_lookup(c, &s, &k, STORE_NOSTATS, &wrong);
    if (wrong)
        return;
    char buf[PACK_TEXT_BUF];
    size_t n;
    if (e != NULL && hash_get(e, c->argv[2].ptr, c->argv[2].len, buf, &n) != NULL) {
        reply_int(c->reply, 0);
        return;
    }
    struct hw h;
    hash_for_write(c, &h);
    put(&h, c->argv[2].ptr, c->argv[2].len, c->argv[3].ptr, c->argv[3].len);
    c->dirty++;
    cmd_changed_arg(c, NOTIFY_HASH, "hset", 1);
    reply_int(c->reply, 1);
}

/* The value of argv[i] in e (NULL e: absent) as a bulk reply or a null. */
static void reply_field(struct cmd_ctx *c, struct kv *e, int i)
{
    char buf[PACK_TEXT_BUF];
    size_t n;
    const char *v = e != NULL ? hash_get(e, c->argv[i].ptr, c->argv[i].len, buf, &n) : NULL;
    if (v == NULL)
        reply_null(c->reply);
    else
        reply_bulk(c->reply, v, n);
}

/* The hash at argv[1] for reading (NULL: absent, or WRONGTYPE replied when *wrong). */
static struct kv *hash_read(struct cmd_ctx *c, bool *wrong)
{
    struct skey k;
    struct store *s;
    return hash_lookup(c, &s, &k, 0, wrong);
}

void cmd_hget(struct cmd_ctx *c)
{
    bool wrong;
    struct kv *e = hash_read(c, &wrong);
    if (!wrong)
        reply_field(c, e, 2);
}

void cmd_hmget(struct cmd_ctx *c)
{
    bool wrong;
    struct kv *e = hash_read(c, &wrong);
    if (wrong)
        return;
    reply_array(c->reply, c->argc - 2);
    for (int i = 2; i < c->argc; i++)
        reply_field(c, e, i);
}

void cmd_hexists(struct cmd_ctx *c)
{
    bool wrong;
    struct kv *e = hash_read(c, &wrong);
    if (wrong)
        return;
    char buf[PACK_TEXT_BUF];
    size_t n;
    reply_int(c->reply, e != NULL && hash_get(e, c->argv[2].ptr, c->argv[2].len, buf, &n) != NULL);
}

void cmd_hstrlen(struct cmd_ctx *c)
{
    bool wrong;
    struct kv *e = hash_read(c, &wrong);
    if (wrong)
        return;
    char buf[PACK_TEXT_BUF];
    size_t n = 0;
    if (e == NULL || hash_get(e, c->argv[2].ptr, c->argv[2].len, buf, &n) == NULL)
        n = 0;
    reply_int(c->reply, (long long)n);
}

void cmd_hlen(struct cmd_ctx *c)
{
    bool wrong;
    struct kv *e = hash_read(c, &wrong);
    if (!wrong)
        reply_int(c->reply, e != NULL ? (long long)hash_len(e) : 0);
}

void cmd_hdel(struct cmd_ctx *c)
{
    struct hw h = { .db = c->db, .p = c->coll };
    struct skey k;
    bool wrong;
    h.e = hash_lookup(c, &h.s, &k, STORE_NOSTATS, &wrong);
    if (wrong)
        return;
    long long deleted = 0;
    for (int i = 2; h.e != NULL && i < c->argc; i++)
        deleted += del(&h, c->argv[i].ptr, c->argv[i].len);
    bool gone = h.e != NULL && drop_if_empty(&h);
    c->dirty += deleted;
    if (deleted > 0)
        cmd_changed_arg(c, NOTIFY_HASH, "hdel", 1);
    if (gone)
        cmd_changed_arg(c, NOTIFY_GENERIC, "del", 1);
    reply_int(c->reply, deleted);
}

/* HKEYS (what 1), HVALS (2), HGETALL (3). */
struct walk_ctx {
    struct reply *r;
    int what;
};

static void walk_one(void *arg, const char *f, size_t flen, const char *v, size_t vlen)
{
    struct walk_ctx *w = arg;
    if (w->what & 1)
        reply_bulk(w->r, f, flen);
    if (w->what & 2)
        reply_bulk(w->r, v, vlen);
}

static void hash_walk(struct cmd_ctx *c, int what)
{
    bool wrong;
    struct kv *e = hash_read(c, &wrong);
    if (wrong)
        return;
    size_t n = e != NULL ? hash_len(e) : 0;
    if (what == 3)
        reply_map(c->reply, (long long)n);
    else
        reply_array(c->reply, (long long)n);
    struct walk_ctx w = { c->reply, what };
    if (e != NULL)
        hash_each(e, walk_one, &w);
}

void cmd_hkeys(struct cmd_ctx *c)
{
    hash_walk(c, 1);
}

void cmd_hvals(struct cmd_ctx *c)
{
    hash_walk(c, 2);
}

void cmd_hgetall(struct cmd_ctx *c)
{
    hash_walk(c, 3);
}

/* Write text as the value of argv[2] in the hash at argv[1] (created when absent). */
static void put_result(struct cmd_ctx *c, const char *text, size_t n, const char *event)
{
    struct hw h;
    hash_for_write(c, &h);
    put(&h, c->argv[2].ptr, c->argv[2].len, text, n);
    c->dirty++;
    cmd_changed_arg(c, NOTIFY_HASH, event, 1);
}

/*
 * The text of field argv[2] of the hash at argv[1] (*t NULL: no such field or key), read to
 * be written (HINCRBY: Redis's write lookup, which counts no hit or miss and is no keymiss).
 * @return false when the key holds another type (replied).
 */
static bool field_text(struct cmd_ctx *c, char buf[PACK_TEXT_BUF], const char **t, size_t *n)
{
    bool wrong;
    struct skey k;
    struct store *s;
    struct kv *e = hash_lookup(c, &s, &k, STORE_NOSTATS, &wrong);
    *t = e != NULL ? hash_get(e, c->argv[2].ptr, c->argv[2].len, buf, n) : NULL;
    return !wrong;
}

void cmd_hincrby(struct cmd_ctx *c)
{
    long long by, v = 0;
    if (!cmd_arg_ll(c, 3, &by))
        return;
    char buf[PACK_TEXT_BUF];
    size_t n;
    const char *t;
    if (!field_text(c, buf, &t, &n))
        return;
    if (t != NULL && !util_str2ll(t, n, &v)) {
        reply_error(c->reply, ERR_HASH_NOT_INT);
        return;
    }
    if ((by > 0 && v > LLONG_MAX - by) || (by < 0 && v < LLONG_MIN - by)) {
        reply_error(c->reply, ERR_OVERFLOW);
        return;
    }
    v += by;
    char out[24];
    put_result(c, out, util_ll2str(out, v), "hincrby");
    reply_int(c->reply, v);
}

void cmd_hincrbyfloat(struct cmd_ctx *c)
{
    long double by, v = 0;
    if (!cmd_arg_ld(c, 3, &by))
        return;
    if (isnan(by) || isinf(by)) {
        reply_error(c->reply, ERR_HASH_NAN_INCR);
        return;
    }
    char buf[PACK_TEXT_BUF];
    size_t n;
    const char *t;
    if (!field_text(c, buf, &t, &n))
        return;
    if (t != NULL && !util_str2ld(t, n, &v)) {
        reply_error(c->reply, ERR_HASH_NOT_FLOAT);
        return;
    }
    v += by;
    char out[UTIL_LD_BUF];
    size_t len = isnan(v) || isinf(v) ? 0 : util_ld2str(out, v);
    if (len == 0) {
        reply_error(c->reply, ERR_INCR_NAN);
        return;
    }
    put_result(c, out, len, "hincrbyfloat");
    /* the exact text, so float formatting on the replica cannot differ */
    struct resp_arg argv[4] = {
        { .ptr = (char *)"HSET", .len = 4 }, c->argv[1], c->argv[2], { .ptr = out, .len = len }
    };
    cmd_propagate(c, 4, argv);
    reply_bulk(c->reply, out, len);
}

/* ---- HRANDFIELD ----------------------------------------------------------------------- */

/* The pair at index i of a pack hash (a walk: packs are small). */
static uint32_t pack_pair(const unsigned char *p, uint32_t i)
{
    uint32_t off = pack_first(p);
    while (i-- > 0)
        off = pack_next(p, pack_next(p, off));
    return off;
}

static void reply_pair(struct reply *r, const char *f, size_t flen, const char *v, size_t vlen,
                       bool withvalues)
{
    if (withvalues && r->proto == 3)
        reply_array(r, 2);
    reply_bulk(r, f, flen);
    if (withvalues)
        reply_bulk(r, v, vlen);
}

/* Reply with the pair at pack index i, or the member element m. */
static void reply_pick(struct reply *r, const struct kv *e, uint32_t i, const struct kv *m,
                       bool withvalues)
{
    char fb[PACK_TEXT_BUF], vb[PACK_TEXT_BUF];
    size_t flen, vlen;
    const char *f, *v;
    if (m != NULL) {
        f = kv_key(m, &flen);
        v = kv_val((struct kv *)m, &vlen);
    } else {
        const unsigned char *p = hash_pack((struct kv *)e);
        uint32_t off = pack_pair(p, i);
        f = elem_text(p, off, fb, &flen);
        v = elem_text(p, pack_next(p, off), vb, &vlen);
    }
    reply_pair(r, f, flen, v, vlen, withvalues);
}

/* HRANDFIELD key [count [WITHVALUES]] */
void cmd_hrandfield(struct cmd_ctx *c)
{
    long long l = 1;
    bool withvalues = false, with_count = c->argc >= 3;
    if (c->argc > 4 || (c->argc == 4 && !cmd_arg_is(c, 3, "withvalues"))) {
        reply_error(c->reply, ERR_SYNTAX);
        return;
    }
    withvalues = c->argc == 4;
    if (with_count && !cmd_arg_ll(c, 2, &l))
        return;
    if (with_count && ((withvalues && l < -LONG_MAX / 2) || l < -LONG_MAX)) {
        reply_error(c->reply, "ERR value is out of range");
        return;
    }
    bool wrong;
    struct kv *e = hash_read(c, &wrong);
    if (wrong)
        return;
    if (!with_count) {
        if (e == NULL) {
            reply_null(c->reply);
            return;
        }
        size_t n = hash_len(e);
        if (is_big(e))
            reply_pick(c->reply, e, 0, store_random(members(e), 0, 0), false);
        else
            reply_pick(c->reply, e, (uint32_t)(util_rand64() % n), NULL, false);
        return;
    }
    if (e == NULL || l == 0) {
        reply_empty_array(c->reply);
        return;
    }
    size_t size = hash_len(e);
    bool uniq = l > 0;
    size_t count = (size_t)(l > 0 ? l : -l);
    if (uniq && count > size)
        count = size;
    reply_array(c->reply, (long long)(withvalues && c->reply->proto == 2 ? count * 2 : count));
    if (!uniq) {
        for (size_t i = 0; i < count; i++) {
            if (is_big(e))
                reply_pick(c->reply, e, 0, store_random(members(e), 0, 0), withvalues);
            else
                reply_pick(c->reply, e, (uint32_t)(util_rand64() % size), NULL, withvalues);
        }
        return;
    }
    if (is_big(e)) {
        struct kv **v;
        size_t got = coll_pick_members(members(e), count, &v);
        for (size_t i = 0; i < got; i++)
            reply_pick(c->reply, e, 0, v[i], withvalues);
        mem_free(v);
        return;
    }
    uint32_t *idx = coll_pick_index((uint32_t)size, (uint32_t)count);
    for (size_t i = 0; i < count; i++)
        reply_pick(c->reply, e, idx[i], NULL, withvalues);
    mem_free(idx);
}

/* ---- HSCAN ---------------------------------------------------------------------------- */

static void emit_member(struct reply *r, const struct kv *m)
{
    size_t flen, vlen;
    const char *f = kv_key(m, &flen);
    const char *v = kv_val((struct kv *)m, &vlen);
    reply_bulk(r, f, flen);
    reply_bulk(r, v, vlen);
}

void cmd_hscan(struct cmd_ctx *c)
{
    struct coll_scan a;
    if (!coll_scan_cursor(c, &a))
        return;
    bool wrong;
    struct kv *e = hash_read(c, &wrong);
    if (wrong)
        return;
    if (e == NULL) {
        coll_scan_empty(c);
        return;
    }
    if (!coll_scan_opts(c, &a))
        return;
    if (is_big(e)) {
        coll_scan_members(c, members(e), &a, 2, emit_member);
        return;
    }
    coll_scan_whole(c, e, &a, 2);
}

/* ---- the collection interface (cmd/coll.h) -------------------------------------------- */

static const char *hash_encoding(const struct kv *e)
{
    return is_big(e) ? "hashtable" : "listpack";
}

/* Items for the RDB writer. */
struct enc_ctx {
    struct rdb_buf *b;
    const struct rdb_encode_opts *o;
    struct rdb_item *items; /* a pack: collected for the compact record */
    char (*text)[2][PACK_TEXT_BUF];
    size_t n;
};

static void enc_one(void *arg, const char *f, size_t flen, const char *v, size_t vlen)
{
    struct enc_ctx *x = arg;
    struct rdb_item it = { .a = f, .alen = flen, .b = v, .blen = vlen };
    if (x->items == NULL) {
        rdb_encode_coll_item(x->b, RDB_COLL_HASH, &it, x->o);
        return;
    }
    /* a pack's numbers are texts in hash_each's buffers: keep copies */
    if (flen < PACK_TEXT_BUF) {
        memcpy(x->text[x->n][0], f, flen);
        it.a = x->text[x->n][0];
    }
    if (vlen < PACK_TEXT_BUF) {
        memcpy(x->text[x->n][1], v, vlen);
        it.b = x->text[x->n][1];
    }
    x->items[x->n++] = it;
}

static void hash_encode(struct rdb_buf *b, const struct kv *e, int64_t exp,
                        const struct rdb_encode_opts *o)
{
    size_t klen;
    const char *key = kv_key(e, &klen);
    size_t n = hash_len(e);
    struct enc_ctx x = { .b = b, .o = o };
    if (is_big(e)) {
        rdb_encode_coll_begin(b, RDB_COLL_HASH, key, klen, n, exp, o);
        hash_each(e, enc_one, &x);
        return;
    }
    x.items = mem_alloc((n > 0 ? n : 1) * sizeof(*x.items));
    x.text = mem_alloc((n > 0 ? n : 1) * sizeof(*x.text));
    hash_each(e, enc_one, &x);
    /* Redis 7.0's listpack record (a Redis with lower limits converts it as it loads) */
    rdb_encode_coll_small(b, RDB_COLL_HASH, key, klen, x.items, n, exp, o);
    mem_free(x.text);
    mem_free(x.items);
}

struct each_adapter {
    coll_each_fn fn;
    void *arg;
};

static void each_pair(void *arg, const char *f, size_t flen, const char *v, size_t vlen)
{
    struct each_adapter *x = arg;
    x->fn(x->arg, f, flen, v, vlen, 0);
}

static void hash_coll_each(const struct kv *e, coll_each_fn fn, void *arg)
{
    struct each_adapter x = { fn, arg };
    hash_each(e, each_pair, &x);
}

static int hash_load_item(struct coll_loader *l, const char *a, size_t alen, const char *b,
                          size_t blen, double score)
{
    (void)score;
    struct hw h = { l->s, l->db, l->e, l->p };
    put(&h, a, alen, b, blen);
    l->e = h.e;
    return 0;
}

const struct coll_type coll_hash = {
    .encoding = hash_encoding,
    .count = hash_len,
    .big_bytes = coll_members_bytes,
    .big_copy = coll_members_copy,
    .big_reown = coll_members_reown,
    .big = { coll_members_free, coll_members_step, coll_members_effort },
    .big_members = coll_members_of,
    .encode = hash_encode,
    .each = hash_coll_each,
    .create = cmd_hash_new,
    .load_item = hash_load_item,
};
