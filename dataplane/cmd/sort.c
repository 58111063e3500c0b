/*
 * SORT and SORT_RO as Redis 7.0: the elements of a list, set or sorted set, ordered by their
 * own value or by keys their value names (BY pattern, "->field" for a hash field), numeric or
 * ALPHA, ASC/DESC, LIMIT, GET patterns, STORE into a list.
 *
 * BY and GET patterns name keys no key spec can find: a request with one runs holding every
 * shard (ROUTE_SORT, cmd_sort_needs_all), so every key it reads is in a store it holds.
 * ALPHA compares with strcoll() in the process's locale (polluxd does not call setlocale: the
 * C locale, byte order up to the first NUL), and binary-safe when STORE is given, as Redis
 * does.
 */
#include "cmd/cmd.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/client.h"
#include "cmd/coll.h"
#include "cmd/zset.h"
#include "cmd/commands.h"
#include "base/common.h"
#include "base/errors.h"
#include "base/mem.h"
#include "base/util.h"
#include "types/pack.h"

#define ERR_SORT_SCORE   "ERR One or more scores can't be converted into double"
#define ERR_SORT_BY_ACL  "ERR BY option of SORT denied due to insufficient ACL permissions."
#define ERR_SORT_GET_ACL "ERR GET option of SORT denied due to insufficient ACL permissions."

/* BY with a pattern and GET read keys no key spec names: only a user who may read every key
 * may use them, as in Redis 7.0 (a forwarded command carries the answer for its client).
 * *known caches the answer for the request (-1: not asked yet). */
static bool reads_all_keys(struct cmd_ctx *c, int *known)
{
    if (*known < 0) {
        const struct cmd_client *cl = cmd_client(c);
        *known = cl != NULL ? client_reads_all_keys(cl) : !c->keys_limited;
    }
    return *known;
}

/* ---- keys and routing ------------------------------------------------------------------ */

/* The STORE destination's argv index (the last STORE wins), or 0; Redis's sortGetKeys. */
static int store_index(int argc, const struct resp_arg *argv)
{
    int dest = 0;
    for (int i = 2; i < argc; i++) {
        const struct resp_arg *a = &argv[i];
        if (util_strcaseeq(a->ptr, a->len, "limit"))
            i += 2;
        else if (util_strcaseeq(a->ptr, a->len, "get") || util_strcaseeq(a->ptr, a->len, "by"))
            i += 1;
        else if (util_strcaseeq(a->ptr, a->len, "store") && i + 1 < argc)
            dest = ++i;
    }
    return dest;
}

int cmd_sort_keys(int argc, const struct resp_arg *argv, int *keys, uint32_t *flags, int max)
{
    if (max < 1 || argc < 2)
        return 0;
    keys[0] = 1;
    if (flags != NULL)
        flags[0] = CMD_KS_RO | CMD_KS_ACCESS;
    int dest = store_index(argc, argv);
    if (dest == 0 || max < 2)
        return 1;
    keys[1] = dest;
    if (flags != NULL)
        flags[1] = CMD_KS_OW | CMD_KS_UPDATE;
    return 2;
}

/* A C string's '*' (the pattern's text up to a NUL, as Redis reads it). */
static const char *star(const struct resp_arg *p)
{
    const char *nul = memchr(p->ptr, '\0', p->len);
    return memchr(p->ptr, '*', nul != NULL ? (size_t)(nul - p->ptr) : p->len);
}

bool cmd_sort_needs_all(int argc, const struct resp_arg *argv)
{
    for (int i = 2; i + 1 < argc; i++) {
        const struct resp_arg *a = &argv[i];
        if (util_strcaseeq(a->ptr, a->len, "limit")) {
            i += 2;
        } else if (util_strcaseeq(a->ptr, a->len, "by") || util_strcaseeq(a->ptr, a->len, "get")) {
            if (star(&argv[i + 1]) != NULL)
                return true;
            i++;
        }
    }
    return false;
}

/* ---- the elements ---------------------------------------------------------------------- */

/* Text kept for the sort: offsets into one growable arena. */
struct arena {
    char *p;
    size_t len, cap;
};

static size_t arena_put(struct arena *a, const char *s, size_t n)
{
    if (a->cap - a->len < n + 1) {
        size_t cap = a->cap ? a->cap : 256;
        while (cap - a->len < n + 1)
            cap *= 2;
        a->p = mem_realloc(a->p, cap);
        a->cap = cap;
    }
    size_t off = a->len;
    if (n > 0)
        memcpy(a->p + off, s, n);
    a->p[off + n] = '\0'; /* strcoll and strtod read a C string */
    a->len += n + 1;
    return off;
}

struct elem {
    size_t off, len;
    double score;
    size_t by_off, by_len; /* ALPHA BY: the key's text */
    bool has_by;
};

struct sorter {
    struct elem *v;
    size_t n, cap;
    struct arena text;
    /* ordering */
    bool desc, alpha, by_pattern, store;
};

static void collect(void *arg, const char *a, size_t alen, const char *b, size_t blen, double score)
{
    struct sorter *s = arg;
    (void)b, (void)blen, (void)score;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->v = mem_realloc(s->v, s->cap * sizeof(*s->v));
    }
    struct elem *e = &s->v[s->n++];
    memset(e, 0, sizeof(*e));
    e->len = alen;
    e->off = arena_put(&s->text, a, alen);
}

static inline const char *text_of(const struct sorter *s, size_t off)
{
    return s->text.p + off;
}

/* Binary comparison, the shorter first on a common prefix (Redis's compareStringObjects). */
static int bincmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, MIN(alen, blen));
    return c != 0 ? c : (alen > blen) - (alen < blen);
}

/* qsort has no argument: set around the call, per thread (workers sort concurrently) */
static _Thread_local const struct sorter *cmp_sorter;

static int compare(const void *x, const void *y)
{
    const struct sorter *s = cmp_sorter;
    const struct elem *a = x, *b = y;
    int c;
    if (!s->alpha) {
        if (a->score != b->score)
            c = a->score > b->score ? 1 : -1;
        else
            c = bincmp(text_of(s, a->off), a->len, text_of(s, b->off), b->len);
    } else if (s->by_pattern) {
        if (!a->has_by || !b->has_by)
            c = a->has_by == b->has_by ? 0 : (a->has_by ? 1 : -1);
        else if (s->store)
            c = bincmp(text_of(s, a->by_off), a->by_len, text_of(s, b->by_off), b->by_len);
        else
            c = strcoll(text_of(s, a->by_off), text_of(s, b->by_off));
    } else if (s->store) {
        c = bincmp(text_of(s, a->off), a->len, text_of(s, b->off), b->len);
    } else {
        c = strcoll(text_of(s, a->off), text_of(s, b->off));
    }
    return s->desc ? -c : c;
}

/* ---- patterns -------------------------------------------------------------------------- */

/*
 * The value a pattern names for an element (Redis's lookupKeyByPattern): "#" is the element,
 * a pattern without '*' names nothing, "pre*post" a string key, "pre*post->field" a hash
 * field. @return the text (in buf for a hash's number) or NULL.
 */
static const char *lookup(struct cmd_ctx *c, const struct resp_arg *pat, const char *el,
                          size_t elen, char buf[PACK_TEXT_BUF], size_t *len)
{
    if (pat->len >= 1 && pat->ptr[0] == '#' && (pat->len == 1 || pat->ptr[1] == '\0')) {
        *len = elen;
        return el;
    }
    const char *p = star(pat);
    if (p == NULL)
        return NULL;
    size_t plen = strnlen(pat->ptr, pat->len); /* the C string Redis searches */
    const char *end = pat->ptr + pat->len, *f = NULL;
    for (const char *q = p + 1; q + 1 < pat->ptr + plen; q++)
        if (q[0] == '-' && q[1] == '>') {
            f = q;
            break;
        }
    size_t flen = f != NULL && f + 2 < end && f[2] != '\0' ? (size_t)(end - f - 2) : 0;
    size_t pre = (size_t)(p - pat->ptr);
    size_t post = pat->len - pre - 1 - (flen ? flen + 2 : 0);
    char stack[256];
    size_t klen = pre + elen + post;
    char *key = klen <= sizeof(stack) ? stack : mem_alloc(klen);
    memcpy(key, pat->ptr, pre);
    memcpy(key + pre, el, elen);
    memcpy(key + pre + elen, p + 1, post);
    struct skey k;
    skey_init(&k, key, klen);
    struct kv *e = store_lookup(cmd_store(c, key, klen), c->db, &k, c->now_ms, 0);
    if (key != stack)
        mem_free(key);
    if (e == NULL)
        return NULL;
    if (flen > 0)
        return kv_type(e) == KV_HASH ? cmd_hash_get(e, f + 2, flen, buf, len) : NULL;
    if (kv_type(e) != KV_STRING)
        return NULL;
    return kv_val(e, len);
}

/* ---- the command ----------------------------------------------------------------------- */

struct sort_opts {
    bool desc, alpha, dontsort;
    long long start, count; /* LIMIT */
    const struct resp_arg *by;
    const struct resp_arg *get[64];
    const struct resp_arg **gets;
    int ngets, gets_cap;
    const struct resp_arg *store;
};

static bool parse(struct cmd_ctx *c, struct sort_opts *o, bool readonly)
{
    memset(o, 0, sizeof(*o));
    o->count = -1;
    o->gets = o->get;
    o->gets_cap = (int)ARRAY_SIZE(o->get);
    int all_keys = -1;
    for (int j = 2; j < c->argc; j++) {
        int left = c->argc - j - 1;
        if (cmd_arg_is(c, j, "asc")) {
            o->desc = false;
        } else if (cmd_arg_is(c, j, "desc")) {
            o->desc = true;
        } else if (cmd_arg_is(c, j, "alpha")) {
            o->alpha = true;
        } else if (cmd_arg_is(c, j, "limit") && left >= 2) {
            if (!cmd_arg_ll(c, j + 1, &o->start) || !cmd_arg_ll(c, j + 2, &o->count))
                return false;
            j += 2;
        } else if (!readonly && cmd_arg_is(c, j, "store") && left >= 1) {
            o->store = &c->argv[++j];
        } else if (cmd_arg_is(c, j, "by") && left >= 1) {
            o->by = &c->argv[++j];
            /* a BY without a pattern turns sorting off for good, as in Redis: a later BY
             * names the keys but does not turn it back on */
            if (star(o->by) == NULL)
                o->dontsort = true;
            else if (!reads_all_keys(c, &all_keys)) {
                reply_error(c->reply, ERR_SORT_BY_ACL);
                return false;
            }
        } else if (cmd_arg_is(c, j, "get") && left >= 1) {
            if (!reads_all_keys(c, &all_keys)) {
                reply_error(c->reply, ERR_SORT_GET_ACL);
                return false;
            }
            if (o->ngets == o->gets_cap) {
                o->gets_cap *= 2;
                const struct resp_arg **g = mem_alloc((size_t)o->gets_cap * sizeof(*g));
                memcpy(g, o->gets, (size_t)o->ngets * sizeof(*g));
                if (o->gets != o->get)
                    mem_free(o->gets);
                o->gets = g;
            }
            o->gets[o->ngets++] = &c->argv[++j];
        } else {
            reply_error(c->reply, ERR_SYNTAX);
            return false;
        }
    }
    return true;
}

/* The element's numeric score as Redis's strtod check takes it. @return false if not one. */
static bool score_of(const char *t, double *out)
{
    char *end;
    errno = 0;
    *out = strtod(t, &end);
    return *end == '\0' && errno != ERANGE && !isnan(*out);
}

/* Write the output (reply or list) of elements v[start..end]. */
static void output(struct cmd_ctx *c, const struct sort_opts *o, struct sorter *s, long long start,
                   long long end)
{
    long long n = end >= start ? end - start + 1 : 0;
    long long outlen = o->ngets > 0 ? n * o->ngets : n;
    struct coll_loader l = { 0 };
    struct skey dk;
    struct store *ds = NULL;
    if (o->store != NULL) {
        skey_init(&dk, o->store->ptr, o->store->len);
        ds = cmd_store(c, dk.ptr, dk.len);
        if (outlen == 0) {
            if (store_delete(ds, c->db, &dk, c->now_ms)) {
                c->dirty++;
                cmd_changed(c, NOTIFY_GENERIC, "del", c->db, dk.ptr, dk.len);
            }
            reply_int(c->reply, 0);
            return;
        }
        store_delete(ds, c->db, &dk, c->now_ms);
        coll_load_begin(&l, ds, c->db, KV_LIST, &dk, -1, c->coll);
    } else {
        reply_array(c->reply, outlen);
    }
    for (long long j = start; j <= end; j++) {
        const struct elem *e = &s->v[j];
        const char *el = text_of(s, e->off);
        if (o->ngets == 0) {
            if (ds != NULL)
                coll_load_item(&l, el, e->len, NULL, 0, 0);
            else
                reply_bulk(c->reply, el, e->len);
            continue;
        }
        for (int g = 0; g < o->ngets; g++) {
            char buf[PACK_TEXT_BUF];
            size_t len;
            const char *v = lookup(c, o->gets[g], el, e->len, buf, &len);
            if (ds != NULL)
                coll_load_item(&l, v != NULL ? v : "", v != NULL ? len : 0, NULL, 0, 0);
            else if (v == NULL)
                reply_null(c->reply);
            else
                reply_bulk(c->reply, v, len);
        }
    }
    if (ds != NULL) {
        coll_load_end(&l);
        c->dirty += outlen;
        cmd_changed(c, NOTIFY_LIST, "sortstore", c->db, dk.ptr, dk.len);
        reply_int(c->reply, outlen);
    }
}

static void sort_generic(struct cmd_ctx *c, bool readonly)
{
    struct sort_opts o;
    if (!parse(c, &o, readonly))
        goto out;
    struct skey k;
    skey_init(&k, c->argv[1].ptr, c->argv[1].len);
    struct store *ss = cmd_store(c, k.ptr, k.len);
    struct kv *src = store_lookup(ss, c->db, &k, c->now_ms, 0);
    if (src != NULL && kv_type(src) != KV_LIST && kv_type(src) != KV_SET &&
        kv_type(src) != KV_ZSET) {
        reply_error(c->reply, ERR_WRONGTYPE);
        goto out;
    }
    if (src != NULL && kv_type(src) == KV_ZSET) {
        /* Redis 7.0 gives a sorted set it sorts the skiplist encoding (SORT_RO too, and
         * whatever the sort then answers): the same, for OBJECT ENCODING and DUMP to agree */
        struct zw w = { .s = ss, .db = c->db, .e = src, .p = c->coll };
        zset_make_big(&w);
        src = w.e;
    }
    enum kv_type type = src != NULL ? kv_type(src) : KV_LIST;
    /* a set has no order of its own: what goes to a list (or a replica) is sorted */
    if (o.dontsort && type == KV_SET && o.store != NULL) {
        o.dontsort = false;
        o.alpha = true;
        o.by = NULL;
    }
    struct sorter s = { .desc = o.desc, .alpha = o.alpha, .store = o.store != NULL };
    s.by_pattern = o.by != NULL && !o.dontsort;
    if (src != NULL)
        coll_each(src, collect, &s);
    long long n = (long long)s.n;
    long long start = o.start < 0 ? 0 : o.start;
    /* an end past LLONG_MAX is the last element, as Redis answers (without its overflow) */
    long long end = o.count < 0                       ? n - 1
                    : o.count - 1 > LLONG_MAX - start ? LLONG_MAX
                                                      : start + (o.count - 1);
    if (start >= n) {
        start = n - 1;
        end = n - 2;
    }
    if (end >= n)
        end = n - 1;
    bool ordered = type == KV_LIST || type == KV_ZSET;
    if (o.dontsort && ordered && o.desc) {
        /* a list or sorted set in its own order, read from the other end */
        for (size_t i = 0; i < s.n / 2; i++) {
            struct elem t = s.v[i];
            s.v[i] = s.v[s.n - 1 - i];
            s.v[s.n - 1 - i] = t;
        }
    }
    if (!o.dontsort) {
        bool bad = false;
        for (size_t j = 0; j < s.n; j++) {
            struct elem *e = &s.v[j];
            const char *by = text_of(&s, e->off);
            size_t bylen = e->len;
            char buf[PACK_TEXT_BUF];
            if (o.by != NULL) {
                by = lookup(c, o.by, text_of(&s, e->off), e->len, buf, &bylen);
                if (by == NULL)
                    continue; /* sorts as 0, or first with ALPHA */
            }
            if (o.alpha) {
                if (o.by != NULL) {
                    /* the arena may move: take the element's offset, not a pointer */
                    e->by_off = arena_put(&s.text, by, bylen);
                    e->by_len = bylen;
                    e->has_by = true;
                }
            } else {
                char tmp[PACK_TEXT_BUF + 1];
                const char *t = by;
                if (o.by != NULL && by == buf) {
                    memcpy(tmp, buf, bylen);
                    tmp[bylen] = '\0';
                    t = tmp;
                } else if (o.by != NULL) {
                    t = text_of(&s, arena_put(&s.text, by, bylen));
                }
                if (!score_of(t, &e->score))
                    bad = true;
            }
        }
        if (bad) {
            reply_error(c->reply, ERR_SORT_SCORE);
            goto done;
        }
        if (s.n > 1) {
            cmp_sorter = &s;
            qsort(s.v, s.n, sizeof(*s.v), compare);
            cmp_sorter = NULL;
        }
    }
    output(c, &o, &s, start, end);
done:
    mem_free(s.v);
    mem_free(s.text.p);
out:
    if (o.gets != o.get)
        mem_free(o.gets);
}

void cmd_sort(struct cmd_ctx *c)
{
    sort_generic(c, false);
}

void cmd_sort_ro(struct cmd_ctx *c)
{
    sort_generic(c, true);
}
