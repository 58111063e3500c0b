/*
 * Set commands. A set whose members are all canonical int64 texts (Redis's string2ll) and
 * number at most set-max-intset-entries is a pack (types/pack.h) of integer elements in
 * ascending order, inline in its key's entry ("intset": the order, and so every reply that
 * walks the set, is Redis's intset order). Any other set is a member store (store.h), the
 * member as an element's key with an empty value ("hashtable"). A set converts when a
 * non-integer member arrives or the count passes the limit, and never goes back (Redis 7.0).
 *
 * Cost model: an intset lookup, insert or delete walks the pack (tag bytes only, up to 512
 * elements by default) and stops at the first larger value; a hashtable one is a table probe.
 * The *STORE commands, SUNION and SDIFF build their result as a scratch set with the same
 * rules (a pack, or a member store counted in the destination's shard), as Redis builds its
 * destination set, so the result has the encoding and the order Redis gives it.
 */
#include "cmd/cmd.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/coll.h"
#include "cmd/commands.h"
#include "base/common.h"
#include "base/mem.h"
#include "base/util.h"
#include "replication/rdb.h"
#include "types/pack.h"

#define ERR_SPOP_COUNT "ERR value is out of range, must be positive"
#define ERR_SRAND_RANGE                                                                            \
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
#define ERR_NUMKEYS         "ERR numkeys should be greater than 0"
#define ERR_NUMKEYS_ARGS    "ERR Number of keys can't be greater than number of args"
#define ERR_LIMIT_NEGATIVE  "ERR LIMIT can't be negative"
#define SET_PROPAGATE_BATCH 1024 /* members per SREM an SPOP propagates */

static inline bool is_big(const struct kv *e)
{
    return kv_enc(e) == KV_ENC_BIG;
}

/* A set's elements, wherever they live: exactly one of p (intset) and m (hashtable). */
struct sv {
    const unsigned char *p;
    struct store *m;
    const struct kv *e; /* the key's entry (identity: the same key given twice), or NULL */
};

static struct sv sv_of(const struct kv *e)
{
    struct sv v = { NULL, NULL, e };
    if (is_big(e)) {
        v.m = kv_big(e);
    } else {
        size_t n;
        v.p = (const unsigned char *)kv_val((struct kv *)e, &n);
    }
    return v;
}

static size_t sv_count(const struct sv *v)
{
    return v->m != NULL ? store_count(v->m, 0) : pack_count(v->p);
}

static int64_t elem_int(const unsigned char *p, uint32_t off)
{
    struct pack_elem el;
    pack_get(p, off, &el);
    return el.i;
}

/*
 * The first element of intset p not below x: its offset in *off (pack_bytes(p) when every
 * element is below x). @return whether it equals x.
 */
static bool int_seek(const unsigned char *p, int64_t x, uint32_t *off)
{
    for (uint32_t o = pack_first(p); o != 0; o = pack_next(p, o)) {
        int64_t y = elem_int(p, o);
        if (y >= x) {
            *off = o;
            return y == x;
        }
    }
    *off = pack_bytes(p);
    return false;
}

static bool sv_has(const struct sv *v, const char *s, size_t len)
{
    if (v->m != NULL) {
        struct skey k;
        skey_init(&k, s, len);
        return store_lookup(v->m, 0, &k, 0, STORE_NOTOUCH) != NULL;
    }
    long long x;
    uint32_t off;
    return util_str2ll(s, len, &x) && int_seek(v->p, x, &off);
}

/* Every member's text, in the set's order (an intset's is ascending). */
typedef void (*member_fn)(void *arg, const char *s, size_t len);

struct each_ctx {
    member_fn fn;
    void *arg;
};

static void each_element(void *arg, struct kv *el)
{
    struct each_ctx *x = arg;
    size_t len;
    const char *s = kv_key(el, &len);
    x->fn(x->arg, s, len);
}

static void sv_each(const struct sv *v, member_fn fn, void *arg)
{
    if (v->m != NULL) {
        struct each_ctx x = { fn, arg };
        uint64_t cur = 0;
        do
            cur = store_scan(v->m, 0, cur, each_element, &x);
        while (cur != 0);
        return;
    }
    for (uint32_t off = pack_first(v->p); off != 0; off = pack_next(v->p, off)) {
        char buf[24];
        fn(arg, buf, util_ll2str(buf, elem_int(v->p, off)));
    }
}

/*
 * A set being written: a key's entry (e; it may move or change encoding) or a scratch set
 * (e NULL: a result being built, in pack or m, accounted in s when a member store).
 */
struct sw {
    struct store *s;
    int db;
    struct kv *e;
    unsigned char *pack;
    struct store *m;
    const struct coll_params *p;
};

static struct sv sw_view(const struct sw *w)
{
    if (w->e != NULL)
        return sv_of(w->e);
    return (struct sv){ w->pack, w->m, NULL };
}

static unsigned char *sw_resize(void *arg, unsigned char *p, size_t bytes)
{
    struct sw *w = arg;
    if (w->e == NULL) {
        w->pack = mem_realloc(p, bytes);
        return w->pack;
    }
    w->e = store_resize(w->s, w->db, w->e, bytes);
    size_t n;
    return (unsigned char *)kv_val(w->e, &n);
}

static int member_add(struct store *m, const char *s, size_t len)
{
    struct skey k;
    skey_init(&k, s, len);
    if (store_lookup(m, 0, &k, 0, STORE_NOTOUCH) != NULL)
        return 0;
    store_set(m, 0, &k, NULL, 0, KV_ENC_RAW, -1, 0);
    return 1;
}

static void convert_one(void *arg, const char *s, size_t len)
{
    member_add(arg, s, len);
}

/* Turn w's intset into a hashtable. */
static void to_big(struct sw *w)
{
    struct store *m = store_members_new(w->s);
    struct sv v = sw_view(w);
    sv_each(&v, convert_one, m);
    if (w->e == NULL) {
        mem_free(w->pack);
        w->pack = NULL;
        w->m = m;
        return;
    }
    size_t klen;
    const char *key = kv_key(w->e, &klen);
    struct skey k;
    skey_init(&k, key, klen);
    w->e = store_set_big(w->s, w->db, &k, KV_SET, m, kv_expire(w->e));
}

/* Add member s (SADD's rules, converting as Redis does). @return 1 when it is new. */
static int sw_add(struct sw *w, const char *s, size_t len)
{
    struct sv v = sw_view(w);
    if (v.m == NULL) {
        long long x;
        uint32_t off;
        if (util_str2ll(s, len, &x)) {
            if (int_seek(v.p, x, &off))
                return 0;
            if (pack_count(v.p) + 1 <= (unsigned long long)w->p->set_max_intset) {
                unsigned char *p = (unsigned char *)v.p;
                struct pack_elem el = { .kind = PACK_INT, .i = x };
                if (pack_splice(&p, off, 0, &el, 1, sw_resize, w, NULL) == 0)
                    return 1;
            }
        }
        to_big(w);
        v = sw_view(w);
    }
    return member_add(v.m, s, len);
}

/* Remove member s. @return whether it was there. */
static bool sw_rem(struct sw *w, const char *s, size_t len)
{
    struct sv v = sw_view(w);
    if (v.m != NULL) {
        struct skey k;
        skey_init(&k, s, len);
        return store_delete(v.m, 0, &k, 0);
    }
    long long x;
    uint32_t off;
    if (!util_str2ll(s, len, &x) || !int_seek(v.p, x, &off))
        return false;
    unsigned char *p = (unsigned char *)v.p;
    pack_splice(&p, off, 1, NULL, 0, sw_resize, w, NULL);
    return true;
}

/* An empty scratch set whose member store, if it gets one, counts in s. */
static void sw_scratch(struct sw *w, struct store *s, const struct coll_params *p)
{
    *w = (struct sw){ .s = s, .p = p, .pack = mem_alloc(PACK_HDR_SMALL) };
    pack_init(w->pack);
}

static void sw_scratch_free(struct sw *w)
{
    mem_free(w->pack);
    if (w->m != NULL)
        store_members_free(w->m);
    w->pack = NULL;
    w->m = NULL;
}

/* An empty set at k (SADD, SMOVE, the loaders). */
static struct kv *set_new(struct store *s, int db, const struct skey *k, int64_t expire_ms)
{
    struct kv *e = store_set(s, db, k, NULL, PACK_HDR_SMALL, KV_ENC_PACK, expire_ms, 0);
    kv_set_type(e, KV_SET);
    size_t n;
    pack_init((unsigned char *)kv_val(e, &n));
    return e;
}

static inline struct store *key_store(struct cmd_ctx *c, int i, struct skey *k)
{
    skey_init(k, c->argv[i].ptr, c->argv[i].len);
    return cmd_store(c, k->ptr, k->len);
}

/* The set at argv[i], or NULL (no key, or WRONGTYPE replied: *wrong set). */
static struct kv *set_lookup(struct cmd_ctx *c, int i, struct store **s, struct skey *k, int flags,
                             bool *wrong)
{
    return coll_lookup(c, i, KV_SET, s, k, flags, wrong);
}

static struct kv *set_read(struct cmd_ctx *c, int i, bool *wrong)
{
    struct store *s;
    struct skey k;
    return set_lookup(c, i, &s, &k, 0, wrong);
}

/* The set at argv[i] for writing; absent: created when `create`, else w->e is NULL. */
static bool set_write(struct cmd_ctx *c, int i, struct sw *w, bool create)
{
    struct skey k;
    bool wrong;
    *w = (struct sw){ .db = c->db, .p = c->coll };
    w->e = set_lookup(c, i, &w->s, &k, STORE_NOSTATS, &wrong);
    if (wrong)
        return false;
    if (w->e == NULL && create)
        w->e = set_new(w->s, c->db, &k, -1);
    return true;
}

/* An emptied set goes, as in Redis. @return whether it went. */
static bool drop_if_empty(struct sw *w)
{
    struct sv v = sw_view(w);
    if (sv_count(&v) != 0)
        return false;
    store_delete_entry(w->s, w->db, w->e);
    w->e = NULL;
    return true;
}

static void reply_member(void *arg, const char *s, size_t len)
{
    reply_bulk(arg, s, len);
}

/* ---- SADD SREM SCARD SISMEMBER SMISMEMBER SMOVE ---------------------------------------- */

void cmd_sadd(struct cmd_ctx *c)
{
    struct sw w;
    if (!set_write(c, 1, &w, true))
        return;
    long long added = 0;
    for (int i = 2; i < c->argc; i++)
        added += sw_add(&w, c->argv[i].ptr, c->argv[i].len);
    c->dirty += added;
    if (added > 0)
        cmd_changed_arg(c, NOTIFY_SET, "sadd", 1);
    reply_int(c->reply, added);
}

void cmd_srem(struct cmd_ctx *c)
{
    struct sw w;
    if (!set_write(c, 1, &w, false))
        return;
    long long deleted = 0;
    bool gone = false;
    for (int i = 2; w.e != NULL && i < c->argc; i++) {
        deleted += sw_rem(&w, c->argv[i].ptr, c->argv[i].len);
        gone = drop_if_empty(&w);
    }
    c->dirty += deleted;
    if (deleted > 0)
        cmd_changed_arg(c, NOTIFY_SET, "srem", 1);
    if (gone)
        cmd_changed_arg(c, NOTIFY_GENERIC, "del", 1);
    reply_int(c->reply, deleted);
}

void cmd_scard(struct cmd_ctx *c)
{
    bool wrong;
    struct kv *e = set_read(c, 1, &wrong);
    if (wrong)
        return;
    struct sv v = e != NULL ? sv_of(e) : (struct sv){ 0 };
    reply_int(c->reply, e != NULL ? (long long)sv_count(&v) : 0);
}

static bool has_arg(const struct kv *e, const struct cmd_ctx *c, int i)
{
    if (e == NULL)
        return false;
    struct sv v = sv_of(e);
    return sv_has(&v, c->argv[i].ptr, c->argv[i].len);
}

void cmd_sismember(struct cmd_ctx *c)
{
    bool wrong;
    struct kv *e = set_read(c, 1, &wrong);
    if (!wrong)
        reply_int(c->reply, has_arg(e, c, 2));
}

void cmd_smismember(struct cmd_ctx *c)
{
    bool wrong;
    struct kv *e = set_read(c, 1, &wrong);
    if (wrong)
        return;
    reply_array(c->reply, c->argc - 2);
    for (int i = 2; i < c->argc; i++)
        reply_int(c->reply, has_arg(e, c, i));
}

/* SMOVE source destination member, in Redis's order of checks. */
void cmd_smove(struct cmd_ctx *c)
{
    struct sw src, dst;
    struct skey kd;
    bool wrong;
    if (!set_write(c, 1, &src, false))
        return;
    struct store *ds;
    struct kv *de = store_lookup(ds = key_store(c, 2, &kd), c->db, &kd, c->now_ms, STORE_NOSTATS);
    if (src.e == NULL) {
        reply_int(c->reply, 0);
        return;
    }
    wrong = de != NULL && kv_type(de) != KV_SET;
    if (wrong) {
        reply_error(c->reply, ERR_WRONGTYPE);
        return;
    }
    const struct resp_arg *m = &c->argv[3];
    if (de == src.e) {
        reply_int(c->reply, has_arg(src.e, c, 3));
        return;
    }
    if (!sw_rem(&src, m->ptr, m->len)) {
        reply_int(c->reply, 0);
        return;
    }
    cmd_changed_arg(c, NOTIFY_SET, "srem", 1);
    if (drop_if_empty(&src))
        cmd_changed_arg(c, NOTIFY_GENERIC, "del", 1);
    dst = (struct sw){ .s = ds, .db = c->db, .e = de, .p = c->coll };
    if (dst.e == NULL)
        dst.e = set_new(ds, c->db, &kd, -1);
    bool added = sw_add(&dst, m->ptr, m->len);
    c->dirty += 1 + added;
    cmd_changed_arg(c, NOTIFY_SET, "sadd", 2); /* Redis signals the destination either way */
    reply_int(c->reply, 1);
}

/* ---- SMEMBERS SINTER SINTERCARD SINTERSTORE ------------------------------------------- */

/*
 * The sets at argv[first .. first+n): sets[j].e NULL for an absent key.
 * @return false when one holds another type (WRONGTYPE replied).
 */
static bool sets_read(struct cmd_ctx *c, int first, int n, struct sv *sets, bool writing)
{
    for (int j = 0; j < n; j++) {
        bool wrong;
        struct store *s;
        struct skey k;
        struct kv *e = set_lookup(c, first + j, &s, &k, writing ? STORE_READ_NOSTATS : 0, &wrong);
        if (wrong)
            return false;
        sets[j] = e != NULL ? sv_of(e) : (struct sv){ 0 };
    }
    return true;
}

static int by_count(const void *a, const void *b)
{
    size_t x = sv_count(a), y = sv_count(b);
    return x < y ? -1 : x > y;
}

/* Store a scratch result at argv[dst] (an empty one deletes it), reply its size. */
static void store_result(struct cmd_ctx *c, int dst, struct sw *w)
{
    struct skey k;
    struct store *ds = key_store(c, dst, &k);
    struct sv v = sw_view(w);
    size_t n = sv_count(&v);
    if (n == 0) {
        if (store_delete(ds, c->db, &k, c->now_ms)) {
            c->dirty++;
            cmd_changed_arg(c, NOTIFY_GENERIC, "del", dst);
        }
    } else if (w->m != NULL) {
        store_set_big(ds, c->db, &k, KV_SET, w->m, -1);
        w->m = NULL;
        c->dirty++;
        cmd_changed_arg(c, NOTIFY_SET, c->cmd->name, dst); /* sinterstore ... */
    } else {
        struct kv *e = store_set(ds, c->db, &k, w->pack, pack_bytes(w->pack), KV_ENC_PACK, -1, 0);
        kv_set_type(e, KV_SET);
        c->dirty++;
        cmd_changed_arg(c, NOTIFY_SET, c->cmd->name, dst);
    }
    sw_scratch_free(w);
    reply_int(c->reply, (long long)n);
}

/* What an intersection does with each member found in every set. */
struct inter_ctx {
    struct sv *sets;
    int n;
    struct reply *r; /* SINTER: reply it */
    struct sw *w;    /* SINTERSTORE: add it */
    long long card;  /* SINTERCARD: count it */
    long long limit; /* stop at this count (0: no limit) */
};

static void inter_one(void *arg, const char *s, size_t len)
{
    struct inter_ctx *x = arg;
    if (x->limit > 0 && x->card >= x->limit)
        return;
    for (int j = 1; j < x->n; j++)
        if (x->sets[j].e != x->sets[0].e && !sv_has(&x->sets[j], s, len))
            return;
    x->card++;
    if (x->r != NULL)
        reply_bulk(x->r, s, len);
    else if (x->w != NULL)
        sw_add(x->w, s, len);
}

/* SINTER (dst < 0, !card_only), SINTERCARD (card_only), SINTERSTORE (dst: argv index). */
static void inter_generic(struct cmd_ctx *c, int first, int n, int dst, bool card_only,
                          long long limit)
{
    struct sv one, *sets = n == 1 ? &one : mem_alloc((size_t)n * sizeof(*sets));
    if (!sets_read(c, first, n, sets, dst >= 0))
        goto out;
    bool empty = false;
    for (int j = 0; j < n; j++)
        empty |= sets[j].e == NULL;
    struct inter_ctx x = { .sets = sets, .n = n, .limit = limit };
    if (empty) {
        if (dst >= 0) {
            struct skey k;
            if (store_delete(key_store(c, dst, &k), c->db, &k, c->now_ms)) {
                c->dirty++;
                cmd_changed_arg(c, NOTIFY_GENERIC, "del", dst);
            }
            reply_int(c->reply, 0);
        } else if (card_only) {
            reply_int(c->reply, 0);
        } else {
            reply_set(c->reply, 0);
        }
        goto out;
    }
    qsort(sets, (size_t)n, sizeof(*sets), by_count);
    if (dst >= 0) {
        struct sw w;
        struct skey k;
        sw_scratch(&w, key_store(c, dst, &k), c->coll);
        x.w = &w;
        sv_each(&sets[0], inter_one, &x);
        store_result(c, dst, &w);
    } else if (card_only) {
        sv_each(&sets[0], inter_one, &x);
        reply_int(c->reply, x.card);
    } else {
        struct rblock *hdr = reply_defer(c->reply);
        x.r = c->reply;
        sv_each(&sets[0], inter_one, &x);
        reply_defer_set(c->reply, hdr, REPLY_AGG_SET, x.card);
    }
out:
    if (sets != &one)
        mem_free(sets);
}

void cmd_smembers(struct cmd_ctx *c)
{
    inter_generic(c, 1, 1, -1, false, 0);
}

void cmd_sinter(struct cmd_ctx *c)
{
    inter_generic(c, 1, c->argc - 1, -1, false, 0);
}

void cmd_sinterstore(struct cmd_ctx *c)
{
    inter_generic(c, 2, c->argc - 2, 1, false, 0);
}

/* SINTERCARD numkeys key [key ...] [LIMIT limit] */
void cmd_sintercard(struct cmd_ctx *c)
{
    long long numkeys, limit = 0;
    if (!util_str2ll(c->argv[1].ptr, c->argv[1].len, &numkeys) || numkeys < 1) {
        reply_error(c->reply, ERR_NUMKEYS);
        return;
    }
    if (numkeys > c->argc - 2) {
        reply_error(c->reply, ERR_NUMKEYS_ARGS);
        return;
    }
    for (int j = 2 + (int)numkeys; j < c->argc; j++) {
        if (j + 1 < c->argc && cmd_arg_is(c, j, "limit")) {
            j++;
            if (!util_str2ll(c->argv[j].ptr, c->argv[j].len, &limit) || limit < 0) {
                reply_error(c->reply, ERR_LIMIT_NEGATIVE);
                return;
            }
        } else {
            reply_error(c->reply, ERR_SYNTAX);
            return;
        }
    }
    inter_generic(c, 2, (int)numkeys, -1, true, limit);
}

/* ---- SUNION SUNIONSTORE SDIFF SDIFFSTORE ---------------------------------------------- */

static void add_one(void *arg, const char *s, size_t len)
{
    sw_add(arg, s, len);
}

static void rem_one(void *arg, const char *s, size_t len)
{
    sw_rem(arg, s, len);
}

struct diff_ctx {
    struct sv *sets;
    int n;
    struct sw *w;
};

static void diff_one(void *arg, const char *s, size_t len)
{
    struct diff_ctx *x = arg;
    for (int j = 1; j < x->n; j++)
        if (x->sets[j].e != NULL && sv_has(&x->sets[j], s, len))
            return;
    sw_add(x->w, s, len);
}

/*
 * The union or difference of sets[0..n) into scratch w, as Redis 7.0 computes it: the
 * difference takes the cheaper of its two algorithms by the same estimate, and the second
 * (add the first set, remove the others) may convert the result on the way, as there.
 */
static void union_diff(struct sv *sets, int n, bool diff, struct sw *w)
{
    if (!diff) {
        for (int j = 0; j < n; j++)
            if (sets[j].e != NULL)
                sv_each(&sets[j], add_one, w);
        return;
    }
    if (sets[0].e == NULL)
        return;
    long long work1 = 0, work2 = 0;
    for (int j = 0; j < n; j++) {
        if (sets[j].e == NULL)
            continue;
        if (j > 0 && sets[j].e == sets[0].e)
            return; /* minus itself: empty */
        work1 += (long long)sv_count(&sets[0]);
        work2 += (long long)sv_count(&sets[j]);
    }
    if (work1 / 2 <= work2) {
        struct diff_ctx x = { sets, n, w };
        sv_each(&sets[0], diff_one, &x);
        return;
    }
    for (int j = 0; j < n; j++) {
        if (sets[j].e == NULL)
            continue;
        sv_each(&sets[j], j == 0 ? add_one : rem_one, w);
        struct sv v = sw_view(w);
        if (sv_count(&v) == 0)
            break;
    }
}

/* Reply with scratch set w as a set. */
static void reply_scratch(struct cmd_ctx *c, struct sw *w)
{
    struct sv v = sw_view(w);
    reply_set(c->reply, (long long)sv_count(&v));
    sv_each(&v, reply_member, c->reply);
}

/* SUNION/SDIFF (dst < 0) and SUNIONSTORE/SDIFFSTORE (dst: argv index). */
static void union_diff_generic(struct cmd_ctx *c, int first, int n, int dst, bool diff)
{
    struct sv *sets = mem_alloc((size_t)n * sizeof(*sets));
    if (sets_read(c, first, n, sets, dst >= 0)) {
        struct sw w;
        struct skey k;
        sw_scratch(&w, key_store(c, dst >= 0 ? dst : first, &k), c->coll);
        union_diff(sets, n, diff, &w);
        if (dst >= 0) {
            store_result(c, dst, &w);
        } else {
            reply_scratch(c, &w);
            sw_scratch_free(&w);
        }
    }
    mem_free(sets);
}

void cmd_sunion(struct cmd_ctx *c)
{
    union_diff_generic(c, 1, c->argc - 1, -1, false);
}

void cmd_sunionstore(struct cmd_ctx *c)
{
    union_diff_generic(c, 2, c->argc - 2, 1, false);
}

void cmd_sdiff(struct cmd_ctx *c)
{
    union_diff_generic(c, 1, c->argc - 1, -1, true);
}

void cmd_sdiffstore(struct cmd_ctx *c)
{
    union_diff_generic(c, 2, c->argc - 2, 1, true);
}

/* ---- SRANDMEMBER SPOP ----------------------------------------------------------------- */

/* An intset's element offsets, for picks by index (buf when it fits, else allocated). */
static uint32_t *pack_offsets(const unsigned char *p, uint32_t *buf, size_t cap)
{
    size_t n = pack_count(p);
    uint32_t *v = n <= cap ? buf : mem_alloc(n * sizeof(*v));
    size_t i = 0;
    for (uint32_t off = pack_first(p); off != 0; off = pack_next(p, off))
        v[i++] = off;
    return v;
}

#define PICK_INLINE 512

/* A random member: an element of m, or an intset element's value. */
static void reply_random(struct reply *r, const struct sv *v, const uint32_t *offs)
{
    if (v->m != NULL) {
        size_t len;
        const char *s = kv_key(store_random(v->m, 0, 0), &len);
        reply_bulk(r, s, len);
    } else {
        reply_bulk_ll(r, elem_int(v->p, offs[util_rand64() % pack_count(v->p)]));
    }
}

/* SRANDMEMBER key [count] */
void cmd_srandmember(struct cmd_ctx *c)
{
    if (c->argc > 3) {
        reply_error(c->reply, ERR_SYNTAX);
        return;
    }
    long long l = 1;
    if (c->argc == 3) {
        if (!cmd_arg_ll(c, 2, &l))
            return;
        if (l == LLONG_MIN) {
            reply_error(c->reply, ERR_SRAND_RANGE);
            return;
        }
    }
    bool wrong;
    struct kv *e = set_read(c, 1, &wrong);
    if (wrong)
        return;
    if (c->argc == 2 && e == NULL) {
        reply_null(c->reply);
        return;
    }
    if (e == NULL || l == 0) {
        reply_empty_array(c->reply);
        return;
    }
    struct sv v = sv_of(e);
    size_t size = sv_count(&v);
    uint32_t buf[PICK_INLINE], *offs = v.p != NULL ? pack_offsets(v.p, buf, PICK_INLINE) : NULL;
    bool uniq = l > 0;
    size_t count = (size_t)(uniq ? l : -l);
    if (c->argc == 2) {
        reply_random(c->reply, &v, offs);
    } else if (!uniq || count == 1) {
        reply_array(c->reply, (long long)count);
        for (size_t i = 0; i < count; i++)
            reply_random(c->reply, &v, offs);
    } else if (count >= size) {
        reply_array(c->reply, (long long)size);
        sv_each(&v, reply_member, c->reply);
    } else if (v.m != NULL) {
        struct kv **els;
        size_t got = coll_pick_members(v.m, count, &els);
        reply_array(c->reply, (long long)got);
        for (size_t i = 0; i < got; i++) {
            size_t len;
            const char *s = kv_key(els[i], &len);
            reply_bulk(c->reply, s, len);
        }
        mem_free(els);
    } else {
        uint32_t *idx = coll_pick_index((uint32_t)size, (uint32_t)count);
        reply_array(c->reply, (long long)count);
        for (size_t i = 0; i < count; i++)
            reply_bulk_ll(c->reply, elem_int(v.p, offs[idx[i]]));
        mem_free(idx);
    }
    if (offs != NULL && offs != buf)
        mem_free(offs);
}

/* SREM key m1 m2 ... to replicas, SET_PROPAGATE_BATCH members at a time. */
struct srem_feed {
    struct cmd_ctx *c;
    struct resp_arg *argv;
    int argc;
};

static void feed_flush(struct srem_feed *f)
{
    if (f->argc > 2)
        cmd_propagate(f->c, f->argc, f->argv);
    f->argc = 2;
}

static void feed_add(struct srem_feed *f, const char *s, size_t len)
{
    f->argv[f->argc++] = (struct resp_arg){ (char *)s, len };
    if (f->argc == SET_PROPAGATE_BATCH + 2)
        feed_flush(f);
}

static int by_offset_desc(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x > y ? -1 : x < y;
}

/* Pop `count` (< size) random members of w: reply them, feed SREM, remove them. */
static void spop_some(struct cmd_ctx *c, struct sw *w, size_t count)
{
    struct sv v = sw_view(w);
    size_t batch = count < SET_PROPAGATE_BATCH ? count : SET_PROPAGATE_BATCH;
    struct srem_feed f = { c, mem_alloc((batch + 2) * sizeof(*f.argv)), 2 };
    f.argv[0] = (struct resp_arg){ (char *)"SREM", 4 };
    f.argv[1] = c->argv[1];
    reply_set(c->reply, (long long)count);
    if (v.m != NULL) {
        struct kv **els;
        size_t got = coll_pick_members(v.m, count, &els);
        for (size_t i = 0; i < got; i += batch) {
            size_t end = i + batch < got ? i + batch : got;
            for (size_t j = i; j < end; j++) {
                size_t len;
                const char *s = kv_key(els[j], &len);
                reply_bulk(c->reply, s, len);
                feed_add(&f, s, len);
            }
            feed_flush(&f);
            for (size_t j = i; j < end; j++)
                store_delete_entry(v.m, 0, els[j]);
        }
        mem_free(els);
    } else {
        uint32_t buf[PICK_INLINE], *offs = pack_offsets(v.p, buf, PICK_INLINE);
        uint32_t *idx = coll_pick_index(pack_count(v.p), (uint32_t)count);
        char(*text)[24] = mem_alloc(batch * sizeof(*text));
        for (size_t i = 0; i < count; i++) {
            idx[i] = offs[idx[i]];
            size_t len = util_ll2str(text[i % batch], elem_int(v.p, idx[i]));
            reply_bulk(c->reply, text[i % batch], len);
            feed_add(&f, text[i % batch], len);
        }
        feed_flush(&f);
        /* from the last offset down, so the ones still to go stay where they are */
        qsort(idx, count, sizeof(*idx), by_offset_desc);
        unsigned char *p = (unsigned char *)v.p;
        for (size_t i = 0; i < count; i++)
            pack_splice(&p, idx[i], 1, NULL, 0, sw_resize, w, NULL);
        mem_free(text);
        mem_free(idx);
        if (offs != buf)
            mem_free(offs);
    }
    mem_free(f.argv);
}

/* SPOP key [count] */
void cmd_spop(struct cmd_ctx *c)
{
    if (c->argc > 3) {
        reply_error(c->reply, ERR_SYNTAX);
        return;
    }
    long long l = 1;
    if (c->argc == 3 && (!util_str2ll(c->argv[2].ptr, c->argv[2].len, &l) || l < 0)) {
        reply_error(c->reply, ERR_SPOP_COUNT);
        return;
    }
    struct sw w;
    if (!set_write(c, 1, &w, false))
        return;
    if (w.e == NULL || l == 0) {
        if (c->argc == 2)
            reply_null(c->reply);
        else
            reply_set(c->reply, 0);
        return;
    }
    struct sv v = sv_of(w.e);
    size_t size = sv_count(&v);
    if (c->argc == 2) {
        /* one member: SREM key member to replicas, even when the set goes */
        char buf[24];
        const char *s;
        size_t len;
        uint32_t off = 0;
        struct kv *el = NULL;
        if (v.m != NULL) {
            el = store_random(v.m, 0, 0);
            s = kv_key(el, &len);
        } else {
            off = pack_seek(v.p, (int64_t)(util_rand64() % size));
            len = util_ll2str(buf, elem_int(v.p, off));
            s = buf;
        }
        struct resp_arg a[3] = { { (char *)"SREM", 4 }, c->argv[1], { (char *)s, len } };
        cmd_propagate(c, 3, a);
        reply_bulk(c->reply, s, len);
        if (el != NULL) {
            store_delete_entry(v.m, 0, el);
        } else {
            unsigned char *p = (unsigned char *)v.p;
            pack_splice(&p, off, 1, NULL, 0, sw_resize, &w, NULL);
        }
        cmd_changed_arg(c, NOTIFY_SET, "spop", 1);
        if (drop_if_empty(&w))
            cmd_changed_arg(c, NOTIFY_GENERIC, "del", 1);
        c->dirty++;
        return;
    }
    if ((size_t)l >= size) {
        /* the whole set, as its copy would list it (Redis replies through SUNION); DEL */
        struct sw all;
        sw_scratch(&all, w.s, c->coll);
        union_diff(&v, 1, false, &all);
        reply_scratch(c, &all);
        sw_scratch_free(&all);
        store_delete_entry(w.s, w.db, w.e);
        cmd_propagate_del(c, &c->argv[1]);
        c->dirty += (long long)size;
        cmd_changed_arg(c, NOTIFY_SET, "spop", 1);
        cmd_changed_arg(c, NOTIFY_GENERIC, "del", 1);
        return;
    }
    spop_some(c, &w, (size_t)l);
    c->dirty += l;
    if (l > 0)
        cmd_changed_arg(c, NOTIFY_SET, "spop", 1);
}

/* ---- SSCAN ---------------------------------------------------------------------------- */

static void emit_member(struct reply *r, const struct kv *el)
{
    size_t len;
    const char *s = kv_key(el, &len);
    reply_bulk(r, s, len);
}

void cmd_sscan(struct cmd_ctx *c)
{
    struct coll_scan a;
    if (!coll_scan_cursor(c, &a))
        return;
    bool wrong;
    struct kv *e = set_read(c, 1, &wrong);
    if (wrong)
        return;
    if (e == NULL) {
        coll_scan_empty(c);
        return;
    }
    if (!coll_scan_opts(c, &a))
        return;
    struct sv v = sv_of(e);
    if (v.m != NULL) {
        coll_scan_members(c, v.m, &a, 1, emit_member);
        return;
    }
    coll_scan_whole(c, e, &a, 1);
}

/* ---- the collection interface (cmd/coll.h) -------------------------------------------- */

static const char *set_encoding(const struct kv *e)
{
    return is_big(e) ? "hashtable" : "intset";
}

static size_t set_count(const struct kv *e)
{
    struct sv v = sv_of(e);
    return sv_count(&v);
}

struct enc_ctx {
    struct rdb_buf *b;
    const struct rdb_encode_opts *o;
};

static void enc_one(void *arg, const char *s, size_t len)
{
    struct enc_ctx *x = arg;
    struct rdb_item it = { .a = s, .alen = len };
    rdb_encode_coll_item(x->b, RDB_COLL_SET, &it, x->o);
}

static void set_encode(struct rdb_buf *b, const struct kv *e, int64_t exp,
                       const struct rdb_encode_opts *o)
{
    size_t klen;
    const char *key = kv_key(e, &klen);
    struct sv v = sv_of(e);
    size_t n = sv_count(&v);
    if (v.p != NULL) {
        /* Redis 7.0's intset record; the items' texts in one array */
        struct rdb_item *items = mem_alloc((n > 0 ? n : 1) * sizeof(*items));
        char(*text)[24] = mem_alloc((n > 0 ? n : 1) * sizeof(*text));
        size_t i = 0;
        for (uint32_t off = pack_first(v.p); off != 0; off = pack_next(v.p, off), i++)
            items[i] =
                (struct rdb_item){ .a = text[i], .alen = util_ll2str(text[i], elem_int(v.p, off)) };
        int rc = rdb_encode_coll_small(b, RDB_COLL_SET, key, klen, items, n, exp, o);
        mem_free(text);
        mem_free(items);
        if (rc == 0)
            return;
    }
    struct enc_ctx x = { b, o };
    rdb_encode_coll_begin(b, RDB_COLL_SET, key, klen, n, exp, o);
    sv_each(&v, enc_one, &x);
}

struct each_adapter {
    coll_each_fn fn;
    void *arg;
};

static void each_member_text(void *arg, const char *s, size_t len)
{
    struct each_adapter *x = arg;
    x->fn(x->arg, s, len, NULL, 0, 0);
}

static void set_each(const struct kv *e, coll_each_fn fn, void *arg)
{
    struct sv v = sv_of(e);
    struct each_adapter x = { fn, arg };
    sv_each(&v, each_member_text, &x);
}

static int set_load_item(struct coll_loader *l, const char *a, size_t alen, const char *b,
                         size_t blen, double score)
{
    (void)b;
    (void)blen;
    (void)score;
    struct sw w = { .s = l->s, .db = l->db, .e = l->e, .p = l->p };
    sw_add(&w, a, alen);
    l->e = w.e;
    return 0;
}

const struct coll_type coll_set = {
    .encoding = set_encoding,
    .count = set_count,
    .big_bytes = coll_members_bytes,
    .big_copy = coll_members_copy,
    .big_reown = coll_members_reown,
    .big = { coll_members_free, coll_members_step, coll_members_effort },
    .big_members = coll_members_of,
    .encode = set_encode,
    .each = set_each,
    .create = set_new,
    .load_item = set_load_item,
};
