/*
 * Sorted sets combined: ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD, as Redis
 * 7.0's zunionInterDiffGenericCommand does them (same checks in the same order, the inputs
 * taken smallest first for union and intersection, so that sums add up in the same order).
 * The result is gathered in a scratch member store (member -> score), sorted once, then
 * replied or written whole (zset_store_items picks the destination's encoding). Keys may live
 * on several shards: the dispatcher runs these as multi-shard transactions, and every key is
 * reached through cmd_store.
 */
#include "cmd/zset.h"
#include "cmd/coll.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/commands.h"
#include "base/mem.h"
#include "base/util.h"

#define ERR_WEIGHT_FLOAT "ERR weight value is not a float"
#define ERR_LIMIT_NEG    "ERR LIMIT can't be negative"

enum zop { ZOP_UNION, ZOP_INTER, ZOP_DIFF };
enum zagg { ZAGG_SUM, ZAGG_MIN, ZAGG_MAX };

struct zsrc {
    const struct kv *e; /* NULL: the key is absent */
    size_t n;
    double weight;
    int order; /* position among the keys: ties in size keep it */
};

static int by_size(const void *a, const void *b)
{
    const struct zsrc *x = a, *y = b;
    if (x->n != y->n)
        return x->n < y->n ? -1 : 1;
    return x->order - y->order;
}

static void aggregate(double *t, double v, enum zagg a)
{
    if (a == ZAGG_SUM) {
        *t += v;
        if (isnan(*t))
            *t = 0.0;
    } else if (a == ZAGG_MIN) {
        *t = v < *t ? v : *t;
    } else {
        *t = v > *t ? v : *t;
    }
}

/* The score slot of m in the scratch store, or NULL; added (with score) when add is set. */
static struct kv *acc_get(struct store *acc, const char *m, size_t len)
{
    struct skey k;
    skey_init(&k, m, len);
    return store_lookup(acc, 0, &k, 0, STORE_NOTOUCH);
}

static void acc_add(struct store *acc, const char *m, size_t len, double score)
{
    struct skey k;
    skey_init(&k, m, len);
    store_set(acc, 0, &k, &score, sizeof(score), KV_ENC_RAW, -1, 0);
}

static void acc_set(struct kv *el, double score)
{
    size_t n;
    memcpy(kv_val(el, &n), &score, sizeof(score));
}

struct gather {
    struct zitem *v;
    size_t n;
};

static void gather_one(void *arg, struct kv *el)
{
    struct gather *g = arg;
    struct zitem *z = &g->v[g->n++];
    z->m = kv_key(el, &z->len);
    z->score = zset_elem_score(el);
}

static int item_cmp(const void *a, const void *b)
{
    const struct zitem *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? -1 : 1;
    int c = memcmp(x->m, y->m, x->len < y->len ? x->len : y->len);
    return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

/* Parse the options after the keys. @return false when it replied with an error. */
static bool parse_opts(struct cmd_ctx *c, int j, struct zsrc *src, long long setnum, enum zop op,
                       bool store, bool card, enum zagg *agg, bool *withscores, long long *limit)
{
    while (j < c->argc) {
        int remaining = c->argc - j;
        if (op != ZOP_DIFF && !card && remaining >= setnum + 1 && cmd_arg_is(c, j, "weights")) {
            j++;
            for (long long i = 0; i < setnum; i++, j++)
                if (!util_str2d(c->argv[j].ptr, c->argv[j].len, &src[i].weight)) {
                    reply_error(c->reply, ERR_WEIGHT_FLOAT);
                    return false;
                }
        } else if (op != ZOP_DIFF && !card && remaining >= 2 && cmd_arg_is(c, j, "aggregate")) {
            j++;
            if (cmd_arg_is(c, j, "sum")) {
                *agg = ZAGG_SUM;
            } else if (cmd_arg_is(c, j, "min")) {
                *agg = ZAGG_MIN;
            } else if (cmd_arg_is(c, j, "max")) {
                *agg = ZAGG_MAX;
            } else {
                reply_error(c->reply, ERR_SYNTAX);
                return false;
            }
            j++;
        } else if (!store && !card && cmd_arg_is(c, j, "withscores")) {
            j++;
            *withscores = true;
        } else if (card && remaining >= 2 && cmd_arg_is(c, j, "limit")) {
            j++;
            if (!util_str2ll(c->argv[j].ptr, c->argv[j].len, limit) || *limit < 0) {
                reply_error(c->reply, ERR_LIMIT_NEG);
                return false;
            }
            j++;
        } else {
            reply_error(c->reply, ERR_SYNTAX);
            return false;
        }
    }
    return true;
}

/* The combination into acc; for ZINTERCARD the count (up to limit, 0: no limit) instead. */
static size_t combine(struct store *acc, struct zsrc *src, long long setnum, enum zop op,
                      enum zagg agg, bool card, long long limit)
{
    struct zcur cur;
    struct zitem z;
    size_t count = 0;
    if (op == ZOP_UNION) {
        for (long long i = 0; i < setnum; i++) {
            if (src[i].n == 0 || !zcur_seek(&cur, src[i].e, 0))
                continue;
            while (zcur_step(&cur, false, &z)) {
                double score = src[i].weight * z.score;
                if (isnan(score))
                    score = 0;
                struct kv *el = acc_get(acc, z.m, z.len);
                if (el == NULL) {
                    acc_add(acc, z.m, z.len, score);
                } else {
                    double t = zset_elem_score(el);
                    aggregate(&t, score, agg);
                    acc_set(el, t);
                }
            }
        }
        return 0;
    }
    if (src[0].n == 0 || !zcur_seek(&cur, src[0].e, 0))
        return 0;
    while (zcur_step(&cur, false, &z)) {
        double score = op == ZOP_DIFF ? z.score : src[0].weight * z.score;
        if (isnan(score))
            score = 0;
        long long j = 1;
        for (; j < setnum; j++) {
            double v;
            bool found = src[j].e != NULL && zset_score(src[j].e, z.m, z.len, &v);
            if (op == ZOP_DIFF) {
                if (found)
                    break;
                continue;
            }
            if (!found)
                break;
            aggregate(&score, v * src[j].weight, agg);
        }
        if (j < setnum)
            continue;
        if (card) {
            if (++count == (size_t)limit && limit > 0)
                break;
        } else {
            acc_add(acc, z.m, z.len, score);
        }
    }
    return count;
}

static void put_one(void *arg, const char *a, size_t alen, const char *b, size_t blen, double score)
{
    (void)b, (void)blen, (void)score;
    zset_put(arg, a, alen, 1.0);
}

/*
 * An input key: a sorted set, or a plain set read as a sorted set of score 1 (a copy made in
 * the scratch store *sets, created on first use), as Redis takes them. NULL: absent, or
 * WRONGTYPE replied (*wrong).
 */
static const struct kv *src_lookup(struct cmd_ctx *c, int i, int flags, struct store **sets,
                                   bool *wrong)
{
    struct skey k;
    skey_init(&k, c->argv[i].ptr, c->argv[i].len);
    struct kv *e = store_lookup(cmd_store(c, k.ptr, k.len), c->db, &k, c->now_ms, flags);
    *wrong = e != NULL && kv_type(e) != KV_ZSET && kv_type(e) != KV_SET;
    if (*wrong) {
        reply_error(c->reply, ERR_WRONGTYPE);
        return NULL;
    }
    if (e == NULL || kv_type(e) == KV_ZSET)
        return e;
    if (*sets == NULL)
        *sets = store_scratch_new();
    char name[24];
    struct skey tk;
    skey_init(&tk, name, util_ll2str(name, (long long)i));
    struct zw w = { *sets, 0, zset_new(*sets, 0, &tk, -1), c->coll };
    coll_each(e, put_one, &w);
    return w.e;
}

/*
 * ZUNION/ZINTER/ZDIFF numkeys key... (dst < 0), their STORE forms (dst = 1, numkeys at 2) and
 * ZINTERCARD (card).
 */
static void zop_generic(struct cmd_ctx *c, int dst, int nk, enum zop op, bool card)
{
    long long setnum;
    if (!cmd_arg_ll(c, nk, &setnum))
        return;
    if (setnum < 1) {
        reply_errorf(c->reply, "ERR at least 1 input key is needed for '%s' command", c->cmd->name);
        return;
    }
    if (setnum > c->argc - (nk + 1)) {
        reply_error(c->reply, ERR_SYNTAX);
        return;
    }
    struct zsrc *src = mem_alloc((size_t)setnum * sizeof(*src));
    struct store *sets = NULL; /* plain sets as sorted sets of score 1 */
    for (long long i = 0; i < setnum; i++) {
        bool wrong;
        src[i].e = src_lookup(c, nk + 1 + (int)i, dst >= 0 ? STORE_READ_NOSTATS : 0, &sets, &wrong);
        if (wrong) {
            mem_free(src);
            if (sets != NULL)
                store_members_free(sets);
            return;
        }
        src[i].n = src[i].e != NULL ? zset_len(src[i].e) : 0;
        src[i].weight = 1.0;
        src[i].order = (int)i;
    }
    enum zagg agg = ZAGG_SUM;
    bool withscores = false;
    long long limit = 0;
    if (!parse_opts(c, nk + 1 + (int)setnum, src, setnum, op, dst >= 0, card, &agg, &withscores,
                    &limit)) {
        mem_free(src);
        if (sets != NULL)
            store_members_free(sets);
        return;
    }
    if (op != ZOP_DIFF)
        qsort(src, (size_t)setnum, sizeof(*src), by_size);
    struct store *acc = store_members_new(NULL);
    size_t count = combine(acc, src, setnum, op, agg, card, limit);
    mem_free(src);
    if (sets != NULL)
        store_members_free(sets);
    if (card) {
        store_members_free(acc);
        reply_int(c->reply, (long long)count);
        return;
    }
    size_t n = store_count(acc, 0);
    struct gather g = { mem_alloc((n > 0 ? n : 1) * sizeof(*g.v)), 0 };
    uint64_t cur = 0;
    do
        cur = store_scan(acc, 0, cur, gather_one, &g);
    while (cur != 0);
    qsort(g.v, g.n, sizeof(*g.v), item_cmp);
    if (dst >= 0) {
        zset_store_result(c, dst, g.v, g.n);
    } else {
        bool pair = zset_reply_header(c->reply, g.n, withscores);
        for (size_t i = 0; i < g.n; i++)
            zset_reply_item(c->reply, &g.v[i], withscores, pair);
    }
    mem_free(g.v);
    store_members_free(acc);
}

void cmd_zunion(struct cmd_ctx *c)
{
    zop_generic(c, -1, 1, ZOP_UNION, false);
}

void cmd_zinter(struct cmd_ctx *c)
{
    zop_generic(c, -1, 1, ZOP_INTER, false);
}

void cmd_zdiff(struct cmd_ctx *c)
{
    zop_generic(c, -1, 1, ZOP_DIFF, false);
}

void cmd_zunionstore(struct cmd_ctx *c)
{
    zop_generic(c, 1, 2, ZOP_UNION, false);
}

void cmd_zinterstore(struct cmd_ctx *c)
{
    zop_generic(c, 1, 2, ZOP_INTER, false);
}

void cmd_zdiffstore(struct cmd_ctx *c)
{
    zop_generic(c, 1, 2, ZOP_DIFF, false);
}

void cmd_zintercard(struct cmd_ctx *c)
{
    zop_generic(c, -1, 1, ZOP_INTER, true);
}
