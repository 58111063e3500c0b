/*
 * The collection interface of cmd/coll.h: dispatch by type, and what every type shares
 * (copy and move of packs and big values, the loader's bookkeeping).
 */
#include "cmd/coll.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "cmd/cmd.h"
#include "base/errors.h"
#include "base/common.h"
#include "base/mem.h"
#include "base/util.h"
#include "replication/rdb.h"

#define PARAM_S coll_params
const struct param_def coll_param_defs[] = { COLL_PARAMS(PARAM_X_DEF) PARAM_DEFS_END };
#undef PARAM_S

#define PARAM_X_DEFAULT(field, name, type, def, min, max, flags, extra) .field = def,
const struct coll_params coll_params_default = { COLL_PARAMS(PARAM_X_DEFAULT) };
#undef PARAM_X_DEFAULT

/* Indexed by enum kv_type; NULL: not a collection this node stores. */
static const struct coll_type *const types[] = {
    [KV_LIST] = &coll_list,
    [KV_SET] = &coll_set,
    [KV_ZSET] = &coll_zset,
    [KV_HASH] = &coll_hash,
};

static const struct coll_type *type_of(enum kv_type t)
{
    return (size_t)t < ARRAY_SIZE(types) ? types[t] : NULL;
}

static const struct coll_type *coll_of(const struct kv *e)
{
    return type_of(kv_type(e));
}

bool coll_kind_stored(int kind)
{
    return kind > 0 && type_of((enum kv_type)kind) != NULL;
}

void coll_init(void)
{
    for (size_t t = 0; t < ARRAY_SIZE(types); t++)
        if (types[t] != NULL)
            store_set_big_ops((enum kv_type)t, &types[t]->big);
}

const char *coll_encoding(const struct kv *e)
{
    return coll_of(e)->encoding(e);
}

size_t coll_count(const struct kv *e)
{
    return coll_of(e)->count(e);
}

size_t coll_big_bytes(const struct kv *e)
{
    return kv_enc(e) == KV_ENC_BIG ? coll_of(e)->big_bytes(kv_big(e)) : 0;
}

struct kv *coll_copy(struct store *ds, int db, const struct skey *k, const struct kv *e,
                     int64_t expire_ms)
{
    if (kv_enc(e) == KV_ENC_BIG)
        return store_set_big(ds, db, k, kv_type(e), coll_of(e)->big_copy(ds, kv_big(e)), expire_ms);
    size_t vlen;
    const char *v = kv_val((struct kv *)e, &vlen);
    struct kv *n = store_set(ds, db, k, v, vlen, KV_ENC_PACK, expire_ms, 0);
    kv_set_type(n, kv_type(e));
    return n;
}

struct kv *coll_move(struct store *ss, int sdb, struct kv *e, struct store *ds, int ddb,
                     const struct skey *k)
{
    if (kv_enc(e) != KV_ENC_BIG) {
        struct kv *n = coll_copy(ds, ddb, k, e, kv_expire(e));
        store_delete_entry(ss, sdb, e);
        return n;
    }
    enum kv_type t = kv_type(e);
    int64_t exp = kv_expire(e);
    void *obj = store_take_big(ss, sdb, e);
    if (ss != ds)
        type_of(t)->big_reown(obj, ss, ds);
    return store_set_big(ds, ddb, k, t, obj, exp);
}

void coll_each(const struct kv *e, coll_each_fn fn, void *arg)
{
    coll_of(e)->each(e, fn, arg);
}

void coll_encode(struct rdb_buf *b, const struct kv *e, int64_t expire_ms,
                 const struct rdb_encode_opts *o)
{
    coll_of(e)->encode(b, e, expire_ms, o);
}

int coll_load_begin(struct coll_loader *l, struct store *s, int db, int kind, const struct skey *k,
                    int64_t expire_ms, const struct coll_params *p)
{
    /* enum rdb_coll_kind numbers the kinds as enum kv_type */
    const struct coll_type *t = kind > 0 ? type_of((enum kv_type)kind) : NULL;
    l->s = s;
    l->db = db;
    l->p = p;
    l->e = NULL;
    if (t == NULL)
        return -ENOTSUP;
    l->e = t->create(s, db, k, expire_ms);
    return 0;
}

int coll_load_item(struct coll_loader *l, const char *a, size_t alen, const char *b, size_t blen,
                   double score)
{
    int rc = coll_of(l->e)->load_item(l, a, alen, b, blen, score);
    if (rc < 0) {
        store_delete_entry(l->s, l->db, l->e);
        l->e = NULL;
    }
    return rc;
}

int coll_load_end(struct coll_loader *l)
{
    if (l->e != NULL && coll_count(l->e) == 0)
        store_delete_entry(l->s, l->db, l->e);
    l->e = NULL;
    return 0;
}

/* ---- member stores as big values ---------------------------------------- */

size_t coll_members_bytes(const void *obj)
{
    return store_used(obj);
}

static void copy_member(void *arg, struct kv *el)
{
    size_t klen, vlen;
    const char *key = kv_key(el, &klen);
    const char *v = kv_val(el, &vlen);
    struct skey k;
    skey_init(&k, key, klen);
    store_set(arg, 0, &k, v, vlen, KV_ENC_RAW, -1, 0);
}

void *coll_members_copy(struct store *dst, const void *obj)
{
    struct store *m = store_members_new(dst);
    uint64_t cur = 0;
    do
        cur = store_scan((struct store *)obj, 0, cur, copy_member, m);
    while (cur != 0);
    return m;
}

void coll_members_reown(void *obj, struct store *from, struct store *to)
{
    (void)from;
    store_members_reown(obj, to);
}

void coll_members_free(struct store *s, void *obj)
{
    (void)s;
    store_members_free(obj);
}

bool coll_members_step(struct store *s, void *obj, size_t *budget)
{
    (void)s;
    return store_members_step(obj, budget);
}

struct store *coll_members_of(const void *obj)
{
    return (struct store *)obj;
}

size_t coll_members_effort(const void *obj)
{
    return store_count(obj, 0);
}

/* ---- lookups ---------------------------------------------------------- */

struct kv *coll_lookup(struct cmd_ctx *c, int i, enum kv_type type, struct store **s,
                       struct skey *k, int flags, bool *wrong)
{
    skey_init(k, c->argv[i].ptr, c->argv[i].len);
    *s = cmd_store(c, k->ptr, k->len);
    struct kv *e = store_lookup(*s, c->db, k, c->now_ms, flags);
    *wrong = e != NULL && kv_type(e) != type;
    if (*wrong) {
        reply_error(c->reply, ERR_WRONGTYPE);
        return NULL;
    }
    return e;
}

/* ---- SCAN over elements ----------------------------------------------- */

bool coll_scan_cursor(struct cmd_ctx *c, struct coll_scan *a)
{
    if (!cmd_parse_cursor(c->argv[2].ptr, c->argv[2].len, &a->cursor)) {
        reply_error(c->reply, ERR_INVALID_CURSOR);
        return false;
    }
    return true;
}

void coll_scan_empty(struct cmd_ctx *c)
{
    reply_array(c->reply, 2);
    cmd_reply_cursor(c->reply, 0);
    reply_empty_array(c->reply);
}

bool coll_scan_opts(struct cmd_ctx *c, struct coll_scan *a)
{
    a->count = 10;
    a->pat = NULL;
    for (int j = 3; j < c->argc; j += 2) {
        bool more = j + 1 < c->argc;
        if (more && cmd_arg_is(c, j, "count")) {
            if (!cmd_arg_ll(c, j + 1, &a->count))
                return false;
            if (a->count < 1) {
                reply_error(c->reply, ERR_SYNTAX);
                return false;
            }
        } else if (more && cmd_arg_is(c, j, "match")) {
            a->pat = &c->argv[j + 1];
        } else {
            reply_error(c->reply, ERR_SYNTAX);
            return false;
        }
    }
    if (a->pat != NULL && a->pat->len == 1 && a->pat->ptr[0] == '*')
        a->pat = NULL;
    return true;
}

bool coll_scan_match(const struct coll_scan *a, const char *s, size_t len)
{
    return a->pat == NULL || util_glob_match(a->pat->ptr, a->pat->len, s, len, false);
}

void coll_scan_members(struct cmd_ctx *c, struct store *m, const struct coll_scan *a, unsigned per,
                       void (*emit)(struct reply *r, const struct kv *el))
{
    struct scan_acc acc;
    cmd_scan_acc_init(&acc);
    uint64_t cur = a->cursor;
    long long budget = a->count > LLONG_MAX / 10 ? LLONG_MAX : a->count * 10;
    do
        cur = store_scan(m, 0, cur, cmd_scan_visit, &acc);
    while (cur != 0 && budget-- > 0 && acc.n < (size_t)a->count);
    size_t kept = 0;
    for (size_t i = 0; i < acc.n; i++) {
        size_t len;
        const char *s = kv_key(acc.v[i], &len);
        if (coll_scan_match(a, s, len))
            acc.v[kept++] = acc.v[i];
    }
    reply_array(c->reply, 2);
    cmd_reply_cursor(c->reply, cur);
    reply_array(c->reply, (long long)(kept * per));
    for (size_t i = 0; i < kept; i++)
        emit(c->reply, acc.v[i]);
    cmd_scan_acc_free(&acc);
}

struct whole_ctx {
    const struct coll_scan *a;
    struct reply *r; /* NULL: counting */
    unsigned per;
    size_t n;
};

static void whole_one(void *arg, const char *s, size_t len, const char *v, size_t vlen,
                      double score)
{
    struct whole_ctx *x = arg;
    (void)score;
    if (!coll_scan_match(x->a, s, len))
        return;
    x->n++;
    if (x->r == NULL)
        return;
    reply_bulk(x->r, s, len);
    if (x->per == 2)
        reply_bulk(x->r, v, vlen);
}

void coll_scan_whole(struct cmd_ctx *c, const struct kv *e, const struct coll_scan *a, unsigned per)
{
    struct whole_ctx x = { a, NULL, per, 0 };
    coll_each(e, whole_one, &x);
    reply_array(c->reply, 2);
    cmd_reply_cursor(c->reply, 0);
    reply_array(c->reply, (long long)(x.n * per));
    x.r = c->reply;
    coll_each(e, whole_one, &x);
}

/* ---- random picks ----------------------------------------------------- */

uint32_t *coll_pick_index(uint32_t n, uint32_t count)
{
    uint32_t *v = mem_alloc((n > 0 ? n : 1) * sizeof(*v));
    for (uint32_t i = 0; i < n; i++)
        v[i] = i;
    for (uint32_t i = 0; i < count && i < n; i++) {
        uint32_t j = i + (uint32_t)(util_rand64() % (n - i));
        uint32_t t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
    return v;
}

struct pick_ctx {
    struct kv **v;
    size_t n;
};

static void pick_all(void *arg, struct kv *e)
{
    struct pick_ctx *p = arg;
    p->v[p->n++] = e;
}

size_t coll_pick_members(struct store *m, size_t count, struct kv ***out)
{
    size_t size = store_count(m, 0);
    if (count > size)
        count = size;
    bool share = count * 3 > size;
    size_t cap = share ? size : count;
    struct pick_ctx p = { mem_alloc((cap > 0 ? cap : 1) * sizeof(*p.v)), 0 };
    if (share) {
        /* a large share: every element, then a partial shuffle */
        uint64_t cur = 0;
        do
            cur = store_scan(m, 0, cur, pick_all, &p);
        while (cur != 0);
        for (size_t i = 0; i < count; i++) {
            size_t j = i + (size_t)(util_rand64() % (p.n - i));
            struct kv *t = p.v[i];
            p.v[i] = p.v[j];
            p.v[j] = t;
        }
    } else {
        /* a small share: random picks, repeats dropped through a scratch table */
        struct store *seen = store_members_new(NULL);
        while (p.n < count) {
            struct kv *e = store_random(m, 0, 0);
            struct skey k;
            skey_init(&k, (const char *)&e, sizeof(e));
            if (store_lookup(seen, 0, &k, 0, STORE_NOTOUCH) != NULL)
                continue;
            store_set(seen, 0, &k, NULL, 0, KV_ENC_RAW, -1, 0);
            p.v[p.n++] = e;
        }
        store_members_free(seen);
    }
    *out = p.v;
    return count;
}

/* ---- nested snapshots ----------------------------------------------------------------- */

static void snap_elem(void *arg, int db, const struct kv *el)
{
    struct coll_snap *cs = arg;
    (void)db;
    struct rdb_item it = { 0 };
    it.a = kv_key(el, &it.alen);
    if (cs->kind == RDB_COLL_HASH) {
        it.b = kv_val((struct kv *)el, &it.blen);
    } else if (cs->kind == RDB_COLL_ZSET) {
        size_t n;
        memcpy(&it.score, kv_val((struct kv *)el, &n), sizeof(it.score));
    }
    rdb_encode_coll_item(cs->rec, cs->kind, &it, cs->o);
}

static void snap_end(void *arg)
{
    struct coll_snap *cs = arg;
    cs->m = NULL;
}

struct coll_snap *coll_snap_open(const struct kv *e, int db, int64_t expire_ms,
                                 const struct rdb_encode_opts *o, size_t head)
{
    if (kv_enc(e) != KV_ENC_BIG)
        return NULL;
    const struct coll_type *t = coll_of(e);
    if (t->big_members == NULL && t->snap_open == NULL)
        return NULL;
    struct coll_snap *cs = mem_calloc(sizeof(*cs));
    cs->db = db;
    cs->kind = kv_type(e); /* enum rdb_coll_kind numbers the kinds as enum kv_type */
    cs->o = o;
    cs->t = t;
    size_t klen;
    const char *key = kv_key(e, &klen);
    cs->rec = mem_alloc(sizeof(*cs->rec));
    if (t->big_members == NULL) {
        /* a frozen copy: the record's size is about the value's (a quarter more, so that it
         * does not grow by a copy where the RDB's encoding is the longer) */
        size_t bytes = t->big_bytes(kv_big(e));
        rdb_buf_init_room(cs->rec, head, bytes + bytes / 4 + klen + 64);
        cs->cur = t->snap_open(e, cs->rec, expire_ms, o);
        return cs;
    }
    struct store *m = t->big_members(kv_big(e));
    /* an element's record bytes (length prefixes, its strings, a score) never pass what its
     * entry costs (header, the same strings, the table's share): reserved once, so the
     * record never grows by a copy; the room left is trimmed when it is taken */
    rdb_buf_init_room(cs->rec, head, store_used(m) + klen + 64);
    rdb_encode_coll_begin(cs->rec, cs->kind, key, klen, t->count(e), expire_ms, o);
    cs->m = m;
    store_snap_begin(cs->m, snap_elem, cs);
    if (store_snap_active(cs->m))
        store_snap_on_end(cs->m, snap_end);
    else
        cs->m = NULL;
    return cs;
}

bool coll_snap_step(struct coll_snap *cs, size_t max)
{
    if (cs->m != NULL)
        store_snap_step(cs->m, max); /* the last entry ends it: snap_end clears cs->m */
    if (cs->cur != NULL && cs->t->snap_step(cs->cur, cs->rec, max, cs->o)) {
        cs->t->snap_close(cs->cur);
        cs->cur = NULL;
    }
    return cs->m == NULL && cs->cur == NULL;
}

void coll_snap_close(struct coll_snap *cs)
{
    if (cs->m != NULL)
        store_snap_abort(cs->m);
    if (cs->cur != NULL)
        cs->t->snap_close(cs->cur);
    rdb_buf_deinit(cs->rec);
    mem_free(cs->rec);
    mem_free(cs);
}
