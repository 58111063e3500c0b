/*
 * Hash commands. A hash is a pack (types/pack.h) inline in its key's entry: fields and
 * values alternate, field first. The large encoding (the member table of
 * docs/data-types.md) is not built yet, so every hash is a pack, up to the pack's limits.
 */
#include "cmd/cmd.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "cmd/commands.h"
#include "base/common.h"
#include "base/util.h"
#include "types/pack.h"

#define ERR_HASH_NOT_INT   "ERR hash value is not an integer"
#define ERR_HASH_NOT_FLOAT "ERR hash value is not a float"
#define ERR_HASH_NAN_INCR  "ERR value is NaN or Infinity"
#define ERR_HASH_TOO_BIG   "ERR hash too large for its encoding"

static inline struct store *key_store(struct cmd_ctx *c, int i, struct skey *k)
{
    skey_init(k, c->argv[i].ptr, c->argv[i].len);
    return cmd_store(c, k->ptr, k->len);
}

/* The hash at argv[1], or NULL (no key, or WRONGTYPE replied: *wrong set). */
static struct kv *hash_lookup(struct cmd_ctx *c, struct store **s, struct skey *k, int flags,
                              bool *wrong)
{
    *s = key_store(c, 1, k);
    struct kv *e = store_lookup(*s, c->db, k, c->now_ms, flags);
    *wrong = false;
    if (e != NULL && kv_type(e) != KV_HASH) {
        reply_error(c->reply, ERR_WRONGTYPE);
        *wrong = true;
        return NULL;
    }
    return e;
}

static inline unsigned char *hash_pack(struct kv *e)
{
    size_t n;
    return (unsigned char *)kv_val(e, &n);
}

/* pack_splice's resize: the entry grows or shrinks in the store (and may move). */
struct grow_ctx {
    struct store *s;
    int db;
    struct kv *e;
};

static unsigned char *grow_entry(void *arg, unsigned char *p, size_t bytes)
{
    struct grow_ctx *g = arg;
    (void)p;
    g->e = store_resize(g->s, g->db, g->e, bytes);
    return hash_pack(g->e);
}

struct kv *cmd_hash_new(struct store *s, int db, const struct skey *k, int64_t expire_ms)
{
    struct kv *e = store_set(s, db, k, NULL, PACK_HDR, KV_ENC_PACK, expire_ms, 0);
    kv_set_type(e, KV_HASH);
    pack_init(hash_pack(e));
    return e;
}

/* An empty hash at k. */
static struct kv *hash_create(struct cmd_ctx *c, struct store *s, const struct skey *k)
{
    return cmd_hash_new(s, c->db, k, -1);
}

/* The offset of field f's value, or 0. */
static uint32_t find_value(const unsigned char *p, const char *f, size_t len)
{
    struct pack_needle n;
    pack_needle_str(&n, f, len);
    uint32_t off = pack_find(p, pack_first(p), &n, 2);
    return off != 0 ? pack_next(p, off) : 0;
}

static void reply_elem(struct reply *r, const unsigned char *p, uint32_t off)
{
    struct pack_elem el;
    char buf[PACK_TEXT_BUF];
    const unsigned char *t;
    pack_get(p, off, &el);
    size_t n = pack_elem_text(&el, buf, &t);
    reply_bulk(r, t, n);
}

/* Set field f to v in g->e. @return 1 new, 0 overwritten, or the pack's error. */
static int put(struct grow_ctx *g, const char *f, size_t flen, const char *v, size_t vlen)
{
    unsigned char *p = hash_pack(g->e);
    uint32_t off = find_value(p, f, flen);
    struct pack_elem el[2] = { { .kind = PACK_STR, .len = flen },
                               { .kind = PACK_STR, .len = vlen } };
    el[0].s = (const unsigned char *)f;
    el[1].s = (const unsigned char *)v;
    int rc = off != 0 ? pack_splice(&p, off, 1, &el[1], 1, grow_entry, g, NULL)
                      : pack_splice(&p, pack_bytes(p), 0, el, 2, grow_entry, g, NULL);
    return rc != 0 ? rc : off == 0;
}

int cmd_hash_set(struct store *s, int db, struct kv **e, const char *f, size_t flen, const char *v,
                 size_t vlen)
{
    struct grow_ctx g = { s, db, *e };
    int rc = put(&g, f, flen, v, vlen);
    *e = g.e;
    return rc < 0 ? rc : 0;
}

/*
 * Set field a to value b in the hash.
 * @return 1 when the field is new, 0 when it was overwritten, -1 on error (replied).
 */
static int hash_put(struct cmd_ctx *c, struct grow_ctx *g, const struct resp_arg *f,
                    const struct resp_arg *v)
{
    int rc = put(g, f->ptr, f->len, v->ptr, v->len);
    if (rc < 0) {
        reply_error(c->reply, ERR_HASH_TOO_BIG);
        return -1;
    }
    return rc;
}

static bool put_result(struct cmd_ctx *c, struct grow_ctx *g, const char *text, size_t n);

static void hset_generic(struct cmd_ctx *c, bool ok_reply)
{
    if (c->argc % 2 != 0) {
        cmd_reply_arity(c);
        return;
    }
    struct skey k;
    struct store *s;
    bool wrong;
    struct kv *e = hash_lookup(c, &s, &k, STORE_NOSTATS, &wrong);
    if (wrong)
        return;
    struct grow_ctx g = { s, c->db, e != NULL ? e : hash_create(c, s, &k) };
    long long added = 0;
    int rc = 0;
    for (int i = 2; i < c->argc && rc >= 0; i += 2) {
        rc = hash_put(c, &g, &c->argv[i], &c->argv[i + 1]);
        if (rc >= 0) {
            added += rc;
            c->dirty++;
        }
    }
    if (pack_count(hash_pack(g.e)) == 0)
        store_delete_entry(s, c->db, g.e);
    if (rc < 0)
        return; /* replied */
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
    if (e != NULL && find_value(hash_pack(e), c->argv[2].ptr, c->argv[2].len) != 0) {
        reply_int(c->reply, 0);
        return;
    }
    struct grow_ctx g = { s, c->db, e != NULL ? e : hash_create(c, s, &k) };
    if (put_result(c, &g, c->argv[3].ptr, c->argv[3].len))
        reply_int(c->reply, 1);
}

void cmd_hget(struct cmd_ctx *c)
{
    struct skey k;
    struct store *s;
    bool wrong;
    struct kv *e = hash_lookup(c, &s, &k, 0, &wrong);
    if (wrong)
        return;
    uint32_t off = e != NULL ? find_value(hash_pack(e), c->argv[2].ptr, c->argv[2].len) : 0;
    if (off == 0)
        reply_null(c->reply);
    else
        reply_elem(c->reply, hash_pack(e), off);
}

void cmd_hmget(struct cmd_ctx *c)
{
    struct skey k;
    struct store *s;
    bool wrong;
    struct kv *e = hash_lookup(c, &s, &k, 0, &wrong);
    if (wrong)
        return;
    reply_array(c->reply, c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        uint32_t off = e != NULL ? find_value(hash_pack(e), c->argv[i].ptr, c->argv[i].len) : 0;
        if (off == 0)
            reply_null(c->reply);
        else
            reply_elem(c->reply, hash_pack(e), off);
    }
}

void cmd_hexists(struct cmd_ctx *c)
{
    struct skey k;
    struct store *s;
    bool wrong;
    struct kv *e = hash_lookup(c, &s, &k, 0, &wrong);
    if (wrong)
        return;
    reply_int(c->reply, e != NULL && find_value(hash_pack(e), c->argv[2].ptr, c->argv[2].len) != 0);
}

void cmd_hstrlen(struct cmd_ctx *c)
{
    struct skey k;
    struct store *s;
    bool wrong;
    struct kv *e = hash_lookup(c, &s, &k, 0, &wrong);
    if (wrong)
        return;
    uint32_t off = e != NULL ? find_value(hash_pack(e), c->argv[2].ptr, c->argv[2].len) : 0;
    size_t n = 0;
    if (off != 0) {
        struct pack_elem el;
        char buf[PACK_TEXT_BUF];
        const unsigned char *t;
        pack_get(hash_pack(e), off, &el);
        n = pack_elem_text(&el, buf, &t);
    }
    reply_int(c->reply, (long long)n);
}

void cmd_hlen(struct cmd_ctx *c)
{
    struct skey k;
    struct store *s;
    bool wrong;
    struct kv *e = hash_lookup(c, &s, &k, 0, &wrong);
    if (wrong)
        return;
    reply_int(c->reply, e != NULL ? pack_count(hash_pack(e)) / 2 : 0);
}

void cmd_hdel(struct cmd_ctx *c)
{
    struct skey k;
    struct store *s;
    bool wrong;
    struct kv *e = hash_lookup(c, &s, &k, STORE_NOSTATS, &wrong);
    if (wrong)
        return;
    long long deleted = 0;
    struct grow_ctx g = { s, c->db, e };
    for (int i = 2; e != NULL && i < c->argc; i++) {
        unsigned char *p = hash_pack(g.e);
        struct pack_needle n;
        pack_needle_str(&n, c->argv[i].ptr, c->argv[i].len);
        uint32_t off = pack_find(p, pack_first(p), &n, 2);
        if (off == 0)
            continue;
        pack_splice(&p, off, 2, NULL, 0, grow_entry, &g, NULL);
        deleted++;
        if (pack_count(p) == 0) {
            store_delete_entry(s, c->db, g.e);
            break;
        }
    }
    c->dirty += deleted;
    reply_int(c->reply, deleted);
}

/* HKEYS (what 1), HVALS (2), HGETALL (3). */
static void hash_walk(struct cmd_ctx *c, int what)
{
    struct skey k;
    struct store *s;
    bool wrong;
    struct kv *e = hash_lookup(c, &s, &k, 0, &wrong);
    if (wrong)
        return;
    if (e == NULL) {
        if (what == 3)
            reply_map(c->reply, 0);
        else
            reply_empty_array(c->reply);
        return;
    }
    const unsigned char *p = hash_pack(e);
    uint32_t pairs = pack_count(p) / 2;
    if (what == 3)
        reply_map(c->reply, pairs);
    else
        reply_array(c->reply, pairs);
    for (uint32_t off = pack_first(p); off != 0; off = pack_next(p, pack_next(p, off))) {
        if (what & 1)
            reply_elem(c->reply, p, off);
        if (what & 2)
            reply_elem(c->reply, p, pack_next(p, off));
    }
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

/* The field's value as text for HINCRBY/HINCRBYFLOAT: *len 0 and NULL when absent. */
static const unsigned char *value_text(const unsigned char *p, uint32_t off, char *buf, size_t *len)
{
    if (off == 0) {
        *len = 0;
        return NULL;
    }
    struct pack_elem el;
    const unsigned char *t;
    pack_get(p, off, &el);
    *len = pack_elem_text(&el, buf, &t);
    return t;
}

/* Write text as the value of argv[2]. @return false on error (replied; no empty hash left). */
static bool put_result(struct cmd_ctx *c, struct grow_ctx *g, const char *text, size_t n)
{
    struct resp_arg v = { .ptr = (char *)text, .len = n };
    if (hash_put(c, g, &c->argv[2], &v) < 0) {
        if (pack_count(hash_pack(g->e)) == 0)
            store_delete_entry(g->s, g->db, g->e);
        return false;
    }
    c->dirty++;
    return true;
}

void cmd_hincrby(struct cmd_ctx *c)
{
    long long by, v = 0;
    struct skey k;
    struct store *s;
    bool wrong;
    struct kv *e = hash_lookup(c, &s, &k, STORE_NOSTATS, &wrong);
    if (wrong || !cmd_arg_ll(c, 3, &by))
        return;
    char buf[PACK_TEXT_BUF];
    size_t n;
    const unsigned char *t =
        e != NULL ? value_text(hash_pack(e),
                               find_value(hash_pack(e), c->argv[2].ptr, c->argv[2].len), buf, &n)
                  : NULL;
    if (t != NULL && !util_str2ll((const char *)t, n, &v)) {
        reply_error(c->reply, ERR_HASH_NOT_INT);
        return;
    }
    if ((by > 0 && v > LLONG_MAX - by) || (by < 0 && v < LLONG_MIN - by)) {
        reply_error(c->reply, ERR_OVERFLOW);
        return;
    }
    v += by;
    char out[24];
    size_t len = util_ll2str(out, v);
    struct grow_ctx g = { s, c->db, e != NULL ? e : hash_create(c, s, &k) };
    if (put_result(c, &g, out, len))
        reply_int(c->reply, v);
}

void cmd_hincrbyfloat(struct cmd_ctx *c)
{
    long double by, v = 0;
    struct skey k;
    struct store *s;
    bool wrong;
    struct kv *e = hash_lookup(c, &s, &k, STORE_NOSTATS, &wrong);
    if (wrong || !cmd_arg_ld(c, 3, &by))
        return;
    if (isnan(by) || isinf(by)) {
        reply_error(c->reply, ERR_HASH_NAN_INCR);
        return;
    }
    char buf[PACK_TEXT_BUF];
    size_t n;
    const unsigned char *t =
        e != NULL ? value_text(hash_pack(e),
                               find_value(hash_pack(e), c->argv[2].ptr, c->argv[2].len), buf, &n)
                  : NULL;
    if (t != NULL && !util_str2ld((const char *)t, n, &v)) {
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
    struct grow_ctx g = { s, c->db, e != NULL ? e : hash_create(c, s, &k) };
    if (!put_result(c, &g, out, len))
        return;
    /* the exact text, so float formatting on the replica cannot differ */
    struct resp_arg argv[4] = {
        { .ptr = (char *)"HSET", .len = 4 }, c->argv[1], c->argv[2], { .ptr = out, .len = len }
    };
    cmd_propagate(c, 4, argv);
    reply_bulk(c->reply, out, len);
}
