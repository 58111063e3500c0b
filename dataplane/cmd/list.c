/*
 * List commands. A small list is a pack (types/pack.h) inline in its key's entry, elements
 * in order. A list whose pack would not fit one node under list-max-listpack-size (the rule
 * types/qlist applies to its nodes: -1..-5 = 4..64 KB, positive = elements, 8 KB at most)
 * becomes a chunked list (types/qlist.h) held as a big value, its memory accounted in the
 * owning store. A chunked list left with one node of at most half the limit (bytes and
 * elements) goes back to a pack, so a list does not flap at the boundary. OBJECT ENCODING
 * says "quicklist" for both, as Redis 7.0 does for every list.
 */
#include "cmd/cmd.h"

#include <errno.h>
#include <string.h>

#include "cmd/coll.h"
#include "cmd/commands.h"
#include "base/common.h"
#include "base/mem.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "replication/rdb.h"
#include "types/pack.h"
#include "types/qlist.h"

#define ERR_LPOP_COUNT  "ERR value is out of range, must be positive"
#define ERR_INDEX_RANGE "ERR index out of range"
#define ERR_RANK_ZERO                                                                              \
    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use "   \
    "negative to start from the end of the list"
#define ERR_COUNT_NEG    "ERR COUNT can't be negative"
#define ERR_MAXLEN_NEG   "ERR MAXLEN can't be negative"
#define ERR_NUMKEYS      "ERR numkeys should be greater than 0"
#define ERR_MPOP_COUNT   "ERR count should be greater than 0"
#define ERR_ELEM_TOO_BIG "ERR element too large for a list"

static inline bool is_big(const struct kv *e)
{
    return kv_enc(e) == KV_ENC_BIG;
}

static inline struct qlist *ql(const struct kv *e)
{
    return kv_big(e);
}

static inline unsigned char *lpack(const struct kv *e)
{
    size_t n;
    return (unsigned char *)kv_val((struct kv *)e, &n);
}

static size_t list_len(const struct kv *e)
{
    return is_big(e) ? (size_t)qlist_len(ql(e)) : pack_count(lpack(e));
}

static inline void str_elem(struct pack_elem *el, const void *s, size_t len)
{
    el->kind = PACK_STR;
    el->s = s;
    el->len = len;
}

/*
 * A list being written: where it lives (the entry may move or change encoding) and, for a
 * chunked list, its bytes when last accounted.
 */
struct lw {
    struct store *s;
    int db;
    struct kv *e;
    const struct coll_params *p;
    size_t qb;
};

/* pack_splice's resize: the entry grows or shrinks in the store (and may move). */
static unsigned char *grow_entry(void *arg, unsigned char *p, size_t bytes)
{
    struct lw *w = arg;
    (void)p;
    w->e = store_resize(w->s, w->db, w->e, bytes);
    return lpack(w->e);
}

static struct kv *list_new(struct store *s, int db, const struct skey *k, int64_t expire_ms)
{
    struct kv *e = store_set(s, db, k, NULL, PACK_HDR_SMALL, KV_ENC_PACK, expire_ms, 0);
    kv_set_type(e, KV_LIST);
    pack_init(lpack(e));
    return e;
}

static void entry_key(const struct kv *e, struct skey *k)
{
    size_t klen;
    const char *key = kv_key(e, &klen);
    skey_init(k, key, klen);
}

/* Account a chunked list's change in size since the last call. */
static void account(struct lw *w)
{
    if (!is_big(w->e))
        return;
    size_t now = qlist_bytes(ql(w->e));
    if (now > w->qb)
        store_account_add(w->s, now - w->qb);
    else if (now < w->qb)
        store_account_sub(w->s, w->qb - now);
    w->qb = now;
}

static void lw_open(struct lw *w, struct store *s, int db, struct kv *e,
                    const struct coll_params *p)
{
    w->s = s;
    w->db = db;
    w->e = e;
    w->p = p;
    w->qb = e != NULL && is_big(e) ? qlist_bytes(ql(e)) : 0;
}

/* Turn w's pack into a chunked list. */
static void to_big(struct lw *w)
{
    struct qlist *l = qlist_create(w->p->list_max_size);
    qlist_set_depth(l, (int)w->p->list_compress_depth);
    const unsigned char *p = lpack(w->e);
    for (uint32_t off = pack_first(p); off != 0; off = pack_next(p, off)) {
        struct pack_elem el;
        pack_get(p, off, &el);
        int rc = qlist_push(l, false, &el);
        (void)rc; /* a pack's element always fits a node */
    }
    w->qb = qlist_bytes(l);
    store_account_add(w->s, w->qb);
    struct skey k;
    entry_key(w->e, &k);
    w->e = store_set_big(w->s, w->db, &k, KV_LIST, l, kv_expire(w->e));
}

/*
 * After a removal: an empty list goes (as in Redis); a chunked list down to one node of at
 * most half the node limit goes back to a pack. The entry may move.
 * @return whether the list went.
 */
static bool lw_settle(struct lw *w)
{
    account(w);
    if (list_len(w->e) == 0) {
        store_delete_entry(w->s, w->db, w->e);
        w->e = NULL;
        return true;
    }
    if (!is_big(w->e))
        return false;
    struct qlist *l = ql(w->e);
    uint32_t max_count, max_bytes;
    qlist_fill_limits(w->p->list_max_size, &max_count, &max_bytes);
    if (qlist_nodes(l) != 1 || qlist_bytes(l) > max_bytes / 2 || qlist_len(l) > max_count / 2)
        return false;
    struct qlist_view *v = qlist_freeze(l);
    const unsigned char *p = qlist_view_pack(v, 0);
    struct skey k;
    entry_key(w->e, &k);
    /* the view keeps the node while the entry (and with it the list) is replaced */
    struct kv *e = store_set(w->s, w->db, &k, p, pack_bytes(p), KV_ENC_PACK, kv_expire(w->e), 0);
    kv_set_type(e, KV_LIST);
    qlist_view_release(v);
    w->e = e;
    w->qb = 0;
    return false;
}

/* Add el at the head or the tail. @return 0, or -EINVAL for an element no node can hold. */
static int push(struct lw *w, bool head, const struct pack_elem *el)
{
    if (!is_big(w->e)) {
        unsigned char *p = lpack(w->e);
        size_t sz = pack_elem_size(el);
        if (sz != 0 &&
            qlist_pack_fits(w->p->list_max_size, pack_count(p) + 1, pack_bytes(p) + sz) &&
            pack_splice(&p, head ? pack_hdr(p) : pack_bytes(p), 0, el, 1, grow_entry, w, NULL) == 0)
            return 0;
        if (sz == 0 || sz > QLIST_MAX_ELEM)
            return -EINVAL;
        to_big(w);
    }
    int rc = qlist_push(ql(w->e), head, el);
    account(w);
    return rc;
}

/* The element at idx (negative: from the tail) into *el (valid until the next write). */
static bool list_index(const struct kv *e, int64_t idx, struct pack_elem *el)
{
    if (is_big(e))
        return qlist_index(ql(e), idx, el);
    const unsigned char *p = lpack(e);
    uint32_t off = pack_seek(p, idx);
    if (off == 0)
        return false;
    pack_get(p, off, el);
    return true;
}

/* Remove the head or tail element (the list is not empty). */
static void pop(struct lw *w, bool head)
{
    if (is_big(w->e)) {
        qlist_pop(ql(w->e), head);
        return;
    }
    unsigned char *p = lpack(w->e);
    pack_splice(&p, head ? pack_first(p) : pack_last(p), 1, NULL, 0, grow_entry, w, NULL);
}

/* Remove n elements from index start on (start within the list). */
static void del_range(struct lw *w, int64_t start, uint64_t n)
{
    if (n == 0)
        return;
    if (is_big(w->e)) {
        qlist_del_range(ql(w->e), start, n);
        return;
    }
    unsigned char *p = lpack(w->e);
    pack_splice(&p, pack_seek(p, start), (uint32_t)n, NULL, 0, grow_entry, w, NULL);
}

/* ---- walks over either encoding ----------------------------------------------------------- */

struct lit {
    struct lw *w; /* the list (edits go through it) */
    bool big, fwd, done;
    uint32_t off, cur; /* pack: the next element's offset, the last returned one's */
    struct qlist_iter qi;
};

static void lit_init(struct lit *it, struct lw *w, int64_t idx, bool fwd)
{
    it->w = w;
    it->big = is_big(w->e);
    it->fwd = fwd;
    it->done = false;
    it->cur = 0;
    if (it->big) {
        qlist_iter_init(&it->qi, ql(w->e), idx, fwd);
        return;
    }
    it->off = pack_seek(lpack(w->e), idx);
}

static bool lit_next(struct lit *it, struct pack_elem *el)
{
    if (it->big)
        return qlist_iter_next(&it->qi, el);
    if (it->off == 0)
        return false;
    const unsigned char *p = lpack(it->w->e);
    it->cur = it->off;
    pack_get(p, it->off, el);
    it->off = it->fwd ? pack_next(p, it->off) : pack_prev(p, it->off);
    return true;
}

static bool lit_eq(const struct lit *it, const struct pack_needle *n)
{
    return it->big ? qlist_iter_eq(&it->qi, n) : pack_eq(lpack(it->w->e), it->cur, n);
}

/* Remove the element last returned; the walk goes on with the one after it. */
static void lit_del(struct lit *it)
{
    it->done = true;
    if (it->big) {
        qlist_iter_del(&it->qi);
        return;
    }
    unsigned char *p = lpack(it->w->e);
    uint32_t next;
    pack_splice(&p, it->cur, 1, NULL, 0, grow_entry, it->w, &next);
    if (it->fwd) /* the following element moved down to the deleted one's offset */
        it->off = next < pack_bytes(lpack(it->w->e)) ? next : 0;
}

static void lit_done(struct lit *it)
{
    if (it->big && it->done)
        qlist_iter_done(&it->qi);
}

/* ---- lookups -------------------------------------------------------------------------- */

/*
 * The list at argv[i], opened for w (w->e NULL when absent); NULL when absent, or when of
 * another type (WRONGTYPE replied, *wrong set).
 */
static struct kv *list_open(struct cmd_ctx *c, int i, struct lw *w, int flags, bool *wrong)
{
    struct skey k;
    struct store *s;
    struct kv *e = coll_lookup(c, i, KV_LIST, &s, &k, flags, wrong);
    lw_open(w, s, c->db, e, c->coll);
    return e;
}

static void reply_zero(struct reply *r)
{
    reply_int(r, 0);
}

static void reply_no_such_key(struct reply *r)
{
    reply_error(r, ERR_NO_SUCH_KEY);
}

/*
 * The list at argv[1] opened into w; NULL when it is absent (`absent` replies) or of another
 * type (WRONGTYPE replied).
 */
static struct kv *open_or(struct cmd_ctx *c, struct lw *w, int flags,
                          void (*absent)(struct reply *r))
{
    bool wrong;
    struct kv *e = list_open(c, 1, w, flags, &wrong);
    if (e == NULL && !wrong)
        absent(c->reply);
    return e;
}

static void reply_elem(struct reply *r, const struct pack_elem *el)
{
    char buf[PACK_TEXT_BUF];
    const unsigned char *t;
    size_t n = pack_elem_text(el, buf, &t);
    reply_bulk(r, t, n);
}

/* ---- push ----------------------------------------------------------------------------- */

/* Push argv[first..] onto w at one end: false (error replied) for an element too big. */
static bool push_args(struct cmd_ctx *c, struct lw *w, bool head, int first)
{
    for (int i = first; i < c->argc; i++) {
        struct pack_elem el;
        str_elem(&el, c->argv[i].ptr, c->argv[i].len);
        if (push(w, head, &el) < 0) {
            if (list_len(w->e) == 0)
                store_delete_entry(w->s, w->db, w->e);
            reply_error(c->reply, ERR_ELEM_TOO_BIG);
            return false;
        }
        c->dirty++;
    }
    cmd_changed_arg(c, NOTIFY_LIST, head ? "lpush" : "rpush", 1);
    return true;
}

static void push_generic(struct cmd_ctx *c, bool head, bool only_existing)
{
    struct lw w;
    bool wrong;
    struct kv *e = list_open(c, 1, &w, STORE_NOSTATS, &wrong);
    if (wrong)
        return;
    if (e == NULL && only_existing) {
        reply_int(c->reply, 0);
        return;
    }
    if (e == NULL) {
        struct skey k;
        skey_init(&k, c->argv[1].ptr, c->argv[1].len);
        w.e = list_new(w.s, c->db, &k, -1);
    }
    if (push_args(c, &w, head, 2))
        reply_int(c->reply, (long long)list_len(w.e));
}

void cmd_lpush(struct cmd_ctx *c)
{
    push_generic(c, true, false);
}

void cmd_rpush(struct cmd_ctx *c)
{
    push_generic(c, false, false);
}

void cmd_lpushx(struct cmd_ctx *c)
{
    push_generic(c, true, true);
}

void cmd_rpushx(struct cmd_ctx *c)
{
    push_generic(c, false, true);
}

/* ---- pop ------------------------------------------------------------------------------ */

/* Pop up to count elements from one end of w (the list at argv[key]), replying with each;
 * the list may go. */
static void pop_reply(struct cmd_ctx *c, struct lw *w, int key, bool head, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        struct pack_elem el;
        list_index(w->e, head ? 0 : -1, &el);
        reply_elem(c->reply, &el);
        pop(w, head);
    }
    c->dirty += (long long)count;
    if (count == 0)
        return;
    cmd_changed_arg(c, NOTIFY_LIST, head ? "lpop" : "rpop", key);
    if (lw_settle(w))
        cmd_changed_arg(c, NOTIFY_GENERIC, "del", key);
}

static void pop_generic(struct cmd_ctx *c, bool head)
{
    long long count = 1;
    bool has_count = c->argc == 3;
    if (c->argc > 3) {
        cmd_reply_arity(c);
        return;
    }
    if (has_count && (!util_str2ll(c->argv[2].ptr, c->argv[2].len, &count) || count < 0)) {
        reply_error(c->reply, ERR_LPOP_COUNT);
        return;
    }
    struct lw w;
    struct kv *e = open_or(c, &w, STORE_NOSTATS, has_count ? reply_null_array : reply_null);
    if (e == NULL)
        return;
    size_t n = list_len(e);
    if (has_count) {
        n = (unsigned long long)count < n ? (size_t)count : n;
        reply_array(c->reply, (long long)n);
    } else {
        n = 1;
    }
    pop_reply(c, &w, 1, head, n);
}

void cmd_lpop(struct cmd_ctx *c)
{
    pop_generic(c, true);
}

void cmd_rpop(struct cmd_ctx *c)
{
    pop_generic(c, false);
}

/*
 * The first list among keys argv[first .. end) that may be taken from now (opened in w).
 * @return its index, -1 when every one is empty, -2 after a WRONGTYPE (replied).
 */
static int first_list(struct cmd_ctx *c, int first, int end, struct lw *w)
{
    for (int i = first; i < end; i++) {
        if (!cmd_key_ready(c, i))
            continue;
        bool wrong;
        struct kv *e = list_open(c, i, w, STORE_NOSTATS, &wrong);
        if (wrong)
            return -2;
        if (e != NULL)
            return i;
    }
    return -1;
}

/* Replicas apply the pop of the key a command found, as Redis 7.0 sends it (count -1: none). */
static void propagate_pop(struct cmd_ctx *c, bool head, int i, long long count)
{
    char num[24];
    struct resp_arg argv[3] = {
        { .ptr = head ? (char *)"LPOP" : (char *)"RPOP", .len = 4 },
        c->argv[i],
        { .ptr = num, .len = count < 0 ? 0 : util_ll2str(num, count) },
    };
    cmd_propagate(c, count < 0 ? 2 : 3, argv);
}

/* BLPOP/BRPOP key [key ...] timeout: one element of the first list among the keys, or wait. */
static void bpop_generic(struct cmd_ctx *c, bool head)
{
    int64_t timeout;
    struct lw w;
    if (!cmd_block_timeout(c, c->argc - 1, &timeout))
        return;
    int i = first_list(c, 1, c->argc - 1, &w);
    if (i >= 0) {
        reply_array(c->reply, 2);
        reply_bulk(c->reply, c->argv[i].ptr, c->argv[i].len);
        pop_reply(c, &w, i, head, 1);
        propagate_pop(c, head, i, -1);
    } else if (i == -1 && !cmd_block(c, 1, c->argc - 2, 1, KV_LIST, timeout)) {
        reply_null_array(c->reply);
    }
}

void cmd_blpop(struct cmd_ctx *c)
{
    bpop_generic(c, true);
}

void cmd_brpop(struct cmd_ctx *c)
{
    bpop_generic(c, false);
}

/* ---- reads ---------------------------------------------------------------------------- */

void cmd_llen(struct cmd_ctx *c)
{
    struct lw w;
    bool wrong;
    struct kv *e = list_open(c, 1, &w, 0, &wrong);
    if (!wrong)
        reply_int(c->reply, e != NULL ? (long long)list_len(e) : 0);
}

void cmd_lindex(struct cmd_ctx *c)
{
    struct lw w;
    struct kv *e = open_or(c, &w, 0, reply_null);
    if (e == NULL)
        return;
    long long idx;
    if (!cmd_arg_ll(c, 2, &idx))
        return;
    struct pack_elem el;
    if (list_index(e, idx, &el))
        reply_elem(c->reply, &el);
    else
        reply_null(c->reply);
}

/*
 * Redis's range rule: negative indexes from the end, start clamped to 0, end to the last.
 * @return false when the range is empty.
 */
static bool norm_range(long long start, long long end, long long len, long long *from,
                       long long *to)
{
    if (start < 0)
        start += len;
    if (end < 0)
        end += len;
    if (start < 0)
        start = 0;
    if (start > end || start >= len)
        return false;
    if (end >= len)
        end = len - 1;
    *from = start;
    *to = end;
    return true;
}

void cmd_lrange(struct cmd_ctx *c)
{
    long long start, end, from, to;
    if (!cmd_arg_ll(c, 2, &start) || !cmd_arg_ll(c, 3, &end))
        return;
    struct lw w;
    bool wrong;
    struct kv *e = list_open(c, 1, &w, 0, &wrong);
    if (wrong)
        return;
    if (e == NULL || !norm_range(start, end, (long long)list_len(e), &from, &to)) {
        reply_empty_array(c->reply);
        return;
    }
    reply_array(c->reply, to - from + 1);
    struct lit it;
    lit_init(&it, &w, from, true);
    struct pack_elem el;
    for (long long i = from; i <= to && lit_next(&it, &el); i++)
        reply_elem(c->reply, &el);
}

/* ---- edits ---------------------------------------------------------------------------- */

/* Replace the element at idx. @return 0, -ERANGE, or -EINVAL (too big for a node). */
static int replace(struct lw *w, int64_t idx, const struct pack_elem *el)
{
    if (!is_big(w->e)) {
        unsigned char *p = lpack(w->e);
        uint32_t off = pack_seek(p, idx);
        if (off == 0)
            return -ERANGE;
        size_t sz = pack_elem_size(el);
        uint32_t next = pack_next(p, off);
        size_t old = (next != 0 ? next : pack_bytes(p)) - off;
        if (sz != 0 &&
            qlist_pack_fits(w->p->list_max_size, pack_count(p), pack_bytes(p) - old + sz))
            return pack_splice(&p, off, 1, el, 1, grow_entry, w, NULL);
        if (sz == 0 || sz > QLIST_MAX_ELEM)
            return -EINVAL;
        to_big(w);
    }
    int rc = qlist_replace(ql(w->e), idx, el);
    lw_settle(w); /* a smaller element may leave one small node */
    return rc;
}

void cmd_lset(struct cmd_ctx *c)
{
    struct lw w;
    struct kv *e = open_or(c, &w, STORE_NOSTATS, reply_no_such_key);
    if (e == NULL)
        return;
    long long idx;
    if (!cmd_arg_ll(c, 2, &idx))
        return;
    struct pack_elem el;
    str_elem(&el, c->argv[3].ptr, c->argv[3].len);
    int rc = replace(&w, idx, &el);
    if (rc == -ERANGE) {
        reply_error(c->reply, ERR_INDEX_RANGE);
    } else if (rc < 0) {
        reply_error(c->reply, ERR_ELEM_TOO_BIG);
    } else {
        c->dirty++;
        cmd_changed_arg(c, NOTIFY_LIST, "lset", 1);
        reply_ok(c->reply);
    }
}

void cmd_ltrim(struct cmd_ctx *c)
{
    long long start, end, from, to;
    if (!cmd_arg_ll(c, 2, &start) || !cmd_arg_ll(c, 3, &end))
        return;
    struct lw w;
    struct kv *e = open_or(c, &w, STORE_NOSTATS, reply_ok);
    if (e == NULL)
        return;
    long long len = (long long)list_len(e);
    if (!norm_range(start, end, len, &from, &to)) {
        from = len;
        to = len - 1;
    }
    /* the tail first: the head's cut then does not move the indexes of the tail's */
    del_range(&w, to + 1, (uint64_t)(len - to - 1));
    del_range(&w, 0, (uint64_t)(from < len ? from : len));
    c->dirty += len - (to - from + 1);
    cmd_changed_arg(c, NOTIFY_LIST, "ltrim", 1);
    if (lw_settle(&w))
        cmd_changed_arg(c, NOTIFY_GENERIC, "del", 1);
    reply_ok(c->reply);
}

void cmd_lrem(struct cmd_ctx *c)
{
    long long count;
    if (!cmd_arg_ll(c, 2, &count))
        return;
    struct lw w;
    struct kv *e = open_or(c, &w, STORE_NOSTATS, reply_zero);
    if (e == NULL)
        return;
    struct pack_needle n;
    pack_needle_str(&n, c->argv[3].ptr, c->argv[3].len);
    struct lit it;
    lit_init(&it, &w, count < 0 ? -1 : 0, count >= 0);
    unsigned long long limit =
        count < 0 ? 0ull - (unsigned long long)count : (unsigned long long)count;
    long long removed = 0;
    struct pack_elem el;
    while ((limit == 0 || (unsigned long long)removed < limit) && lit_next(&it, &el)) {
        if (lit_eq(&it, &n)) {
            lit_del(&it);
            removed++;
        }
    }
    lit_done(&it);
    c->dirty += removed;
    if (removed > 0)
        cmd_changed_arg(c, NOTIFY_LIST, "lrem", 1);
    if (lw_settle(&w))
        cmd_changed_arg(c, NOTIFY_GENERIC, "del", 1);
    reply_int(c->reply, removed);
}

void cmd_linsert(struct cmd_ctx *c)
{
    bool after;
    if (cmd_arg_is(c, 2, "after")) {
        after = true;
    } else if (cmd_arg_is(c, 2, "before")) {
        after = false;
    } else {
        reply_error(c->reply, ERR_SYNTAX);
        return;
    }
    struct lw w;
    struct kv *e = open_or(c, &w, STORE_NOSTATS, reply_zero);
    if (e == NULL)
        return;
    struct pack_elem el;
    str_elem(&el, c->argv[4].ptr, c->argv[4].len);
    size_t sz = pack_elem_size(&el);
    if (sz == 0 || sz > QLIST_MAX_ELEM) {
        reply_error(c->reply, ERR_ELEM_TOO_BIG);
        return;
    }
    struct pack_needle n;
    pack_needle_str(&n, c->argv[3].ptr, c->argv[3].len);
    if (!is_big(e)) {
        unsigned char *p = lpack(e);
        uint32_t off = pack_find(p, pack_first(p), &n, 1);
        if (off == 0) {
            reply_int(c->reply, -1);
            return;
        }
        if (qlist_pack_fits(c->coll->list_max_size, pack_count(p) + 1, pack_bytes(p) + sz)) {
            uint32_t at = after ? pack_next(p, off) : off;
            pack_splice(&p, at != 0 ? at : pack_bytes(p), 0, &el, 1, grow_entry, &w, NULL);
            c->dirty++;
            cmd_changed_arg(c, NOTIFY_LIST, "linsert", 1);
            reply_int(c->reply, (long long)list_len(w.e));
            return;
        }
        to_big(&w);
    }
    struct qlist_iter it;
    qlist_iter_init(&it, ql(w.e), 0, true);
    struct pack_elem cur;
    bool found = false;
    while (!found && qlist_iter_next(&it, &cur))
        found = qlist_iter_eq(&it, &n);
    if (found) {
        qlist_iter_insert(&it, after, &el);
        c->dirty++;
        cmd_changed_arg(c, NOTIFY_LIST, "linsert", 1);
    }
    qlist_iter_done(&it);
    account(&w);
    reply_int(c->reply, found ? (long long)list_len(w.e) : -1);
}

/* LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len] */
void cmd_lpos(struct cmd_ctx *c)
{
    long long rank = 1, count = -1, maxlen = 0;
    for (int j = 3; j < c->argc; j++) {
        bool more = j + 1 < c->argc;
        long long v;
        if (more && cmd_arg_is(c, j, "rank")) {
            if (!cmd_arg_ll(c, ++j, &rank))
                return;
            if (rank == 0) {
                reply_error(c->reply, ERR_RANK_ZERO);
                return;
            }
        } else if (more && (cmd_arg_is(c, j, "count") || cmd_arg_is(c, j, "maxlen"))) {
            bool is_count = cmd_arg_is(c, j, "count");
            j++;
            if (!util_str2ll(c->argv[j].ptr, c->argv[j].len, &v) || v < 0) {
                reply_error(c->reply, is_count ? ERR_COUNT_NEG : ERR_MAXLEN_NEG);
                return;
            }
            *(is_count ? &count : &maxlen) = v;
        } else {
            reply_error(c->reply, ERR_SYNTAX);
            return;
        }
    }
    struct lw w;
    struct kv *e = open_or(c, &w, 0, count != -1 ? reply_empty_array : reply_null);
    if (e == NULL)
        return;
    bool fwd = rank > 0;
    /* Redis negates LONG_MIN into itself, which then matches from the first hit on */
    unsigned long long skip = rank > 0            ? (unsigned long long)rank - 1
                              : rank == LLONG_MIN ? 0
                                                  : (unsigned long long)(-rank) - 1;
    struct pack_needle n;
    pack_needle_str(&n, c->argv[2].ptr, c->argv[2].len);
    struct lit it;
    lit_init(&it, &w, fwd ? 0 : -1, fwd);
    long long len = (long long)list_len(e), idx = 0, found = 0;
    struct rblock *defer = count != -1 ? reply_defer(c->reply) : NULL;
    struct pack_elem el;
    while ((maxlen == 0 || idx < maxlen) && lit_next(&it, &el)) {
        if (lit_eq(&it, &n)) {
            if (skip > 0) {
                skip--;
            } else {
                reply_int(c->reply, fwd ? idx : len - 1 - idx);
                found++;
                if (count != -1 ? count != 0 && found == count : true)
                    break;
            }
        }
        idx++;
    }
    if (defer != NULL)
        reply_defer_set(c->reply, defer, REPLY_AGG_ARRAY, found);
    else if (found == 0)
        reply_null(c->reply);
}

/* ---- moves between lists -------------------------------------------------------------- */

static bool parse_end(struct cmd_ctx *c, int i, bool *head)
{
    if (cmd_arg_is(c, i, "left"))
        *head = true;
    else if (cmd_arg_is(c, i, "right"))
        *head = false;
    else {
        reply_error(c->reply, ERR_SYNTAX);
        return false;
    }
    return true;
}

static void move_generic(struct cmd_ctx *c, bool from_head, bool to_head)
{
    struct lw sw, dw;
    bool wrong;
    struct kv *se = list_open(c, 1, &sw, STORE_NOSTATS, &wrong);
    if (wrong)
        return;
    if (se == NULL) {
        reply_null(c->reply);
        return;
    }
    list_open(c, 2, &dw, STORE_NOSTATS, &wrong);
    if (wrong)
        return;
    struct pack_elem el;
    list_index(se, from_head ? 0 : -1, &el);
    bool same = sw.s == dw.s && c->argv[1].len == c->argv[2].len &&
                memcmp(c->argv[1].ptr, c->argv[2].ptr, c->argv[1].len) == 0;
    char small[128], *copy = NULL;
    if (same && el.kind == PACK_STR) {
        /* a rotation: the element is popped before it is pushed back, so copied out */
        copy = el.len <= sizeof(small) ? small : mem_alloc(el.len);
        memcpy(copy, el.s, el.len);
        el.s = (const unsigned char *)copy;
    }
    if (same) {
        pop(&sw, from_head);
        account(&sw);
        dw = sw;
    } else if (dw.e == NULL) {
        struct skey k;
        skey_init(&k, c->argv[2].ptr, c->argv[2].len);
        dw.e = list_new(dw.s, c->db, &k, -1);
    }
    /* another list's entry: the element's bytes in the source stay put while it is pushed */
    push(&dw, to_head, &el); /* it came from a list: it fits one */
    reply_elem(c->reply, &el);
    bool gone = false;
    if (!same) {
        pop(&sw, from_head);
        gone = lw_settle(&sw);
    }
    c->dirty++;
    /* Redis's order: the push, then the pop */
    cmd_changed_arg(c, NOTIFY_LIST, to_head ? "lpush" : "rpush", 2);
    cmd_changed_arg(c, NOTIFY_LIST, from_head ? "lpop" : "rpop", 1);
    if (gone)
        cmd_changed_arg(c, NOTIFY_GENERIC, "del", 1);
    if (copy != NULL && copy != small)
        mem_free(copy);
}

void cmd_lmove(struct cmd_ctx *c)
{
    bool from_head, to_head;
    if (parse_end(c, 3, &from_head) && parse_end(c, 4, &to_head))
        move_generic(c, from_head, to_head);
}

void cmd_rpoplpush(struct cmd_ctx *c)
{
    move_generic(c, false, true);
}

/*
 * BLMOVE/BRPOPLPUSH: the move when the source has elements, else wait for it (inside
 * MULTI: LMOVE's null). Replicas apply the move as LMOVE/RPOPLPUSH.
 */
static void bmove_generic(struct cmd_ctx *c, bool from_head, bool to_head, int timeout_at)
{
    int64_t timeout;
    if (!cmd_block_timeout(c, timeout_at, &timeout))
        return;
    struct lw w;
    bool wrong;
    struct kv *e = list_open(c, 1, &w, STORE_NOSTATS, &wrong);
    if (wrong)
        return;
    if (e == NULL) {
        if (!cmd_block(c, 1, 1, 1, KV_LIST, timeout))
            reply_null(c->reply);
        return;
    }
    uint32_t errors = c->reply->errors;
    move_generic(c, from_head, to_head);
    if (c->reply->errors != errors)
        return;
    struct resp_arg argv[5] = { { .ptr = (char *)"LMOVE", .len = 5 },
                                c->argv[1],
                                c->argv[2],
                                { .ptr = from_head ? (char *)"LEFT" : (char *)"RIGHT" },
                                { .ptr = to_head ? (char *)"LEFT" : (char *)"RIGHT" } };
    argv[3].len = strlen(argv[3].ptr);
    argv[4].len = strlen(argv[4].ptr);
    if (timeout_at == 3) {
        argv[0] = (struct resp_arg){ .ptr = (char *)"RPOPLPUSH", .len = 9 };
        cmd_propagate(c, 3, argv);
    } else {
        cmd_propagate(c, 5, argv);
    }
}

void cmd_blmove(struct cmd_ctx *c)
{
    bool from_head, to_head;
    if (parse_end(c, 3, &from_head) && parse_end(c, 4, &to_head))
        bmove_generic(c, from_head, to_head, 5);
}

void cmd_brpoplpush(struct cmd_ctx *c)
{
    bmove_generic(c, false, true, 3);
}

/*
 * LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count], and BLMPOP with its timeout first:
 * numkeys at argv[at]. Waits (BLMPOP) or replies a null when every list is empty.
 */
static void mpop_generic(struct cmd_ctx *c, int at, bool blocking)
{
    long long numkeys, count = -1;
    if (!util_str2ll(c->argv[at].ptr, c->argv[at].len, &numkeys) || numkeys < 1) {
        reply_error(c->reply, ERR_NUMKEYS);
        return;
    }
    if (numkeys >= c->argc - at - 1) {
        reply_error(c->reply, ERR_SYNTAX);
        return;
    }
    int first = at + 1, where = first + (int)numkeys;
    bool head;
    if (!parse_end(c, where, &head))
        return;
    for (int j = where + 1; j < c->argc; j++) {
        if (count == -1 && j + 1 < c->argc && cmd_arg_is(c, j, "count")) {
            j++;
            if (!util_str2ll(c->argv[j].ptr, c->argv[j].len, &count) || count < 1) {
                reply_error(c->reply, ERR_MPOP_COUNT);
                return;
            }
        } else {
            reply_error(c->reply, ERR_SYNTAX);
            return;
        }
    }
    if (count == -1)
        count = 1;
    int64_t timeout = 0;
    struct lw w;
    if (blocking && !cmd_block_timeout(c, 1, &timeout))
        return;
    int i = first_list(c, first, where, &w);
    if (i >= 0) {
        size_t n = list_len(w.e);
        n = (unsigned long long)count < n ? (size_t)count : n;
        reply_array(c->reply, 2);
        reply_bulk(c->reply, c->argv[i].ptr, c->argv[i].len);
        reply_array(c->reply, (long long)n);
        pop_reply(c, &w, i, head, n);
        propagate_pop(c, head, i, (long long)n);
    } else if (i == -1 && (!blocking || !cmd_block(c, first, (int)numkeys, 1, KV_LIST, timeout))) {
        reply_null_array(c->reply);
    }
}

void cmd_lmpop(struct cmd_ctx *c)
{
    mpop_generic(c, 1, false);
}

void cmd_blmpop(struct cmd_ctx *c)
{
    mpop_generic(c, 2, true);
}

/* ---- the collection interface (cmd/coll.h) -------------------------------------------- */

static const char *list_encoding(const struct kv *e)
{
    (void)e;
    return "quicklist";
}

static size_t list_big_bytes(const void *obj)
{
    return qlist_bytes(obj);
}

static void *list_big_copy(struct store *dst, const void *obj)
{
    struct qlist *src = (struct qlist *)obj;
    struct qlist_view *v = qlist_freeze(src);
    struct qlist *l = qlist_create(coll_params_default.list_max_size);
    qlist_set_depth(l, qlist_depth(src));
    /* copied element by element: a compressed node's pack lives until the next one is read */
    for (uint32_t i = 0; i < qlist_view_nodes(v); i++) {
        const unsigned char *p = qlist_view_pack(v, i);
        for (uint32_t off = pack_first(p); off != 0; off = pack_next(p, off)) {
            struct pack_elem el;
            pack_get(p, off, &el);
            qlist_push(l, false, &el);
        }
    }
    qlist_view_release(v);
    store_account_add(dst, qlist_bytes(l));
    return l;
}

static void list_big_reown(void *obj, struct store *from, struct store *to)
{
    size_t n = qlist_bytes(obj);
    store_account_sub(from, n);
    store_account_add(to, n);
}

static void list_big_free(struct store *s, void *obj)
{
    store_account_sub(s, qlist_bytes(obj));
    qlist_destroy(obj);
}

/* As Redis counts a quicklist: its nodes. */
static size_t list_big_effort(const void *obj)
{
    return qlist_nodes(obj);
}

static bool list_big_step(struct store *s, void *obj, size_t *budget)
{
    uint32_t k = (uint32_t)MIN(*budget, (size_t)qlist_nodes(obj));
    store_account_sub(s, qlist_tail_bytes(obj, k));
    qlist_free_tail(obj, k);
    *budget -= k;
    if (qlist_nodes(obj) > 0)
        return false;
    list_big_free(s, obj);
    return true;
}

/* An element as an RDB item; a number's text goes to txt. */
static void to_item(const struct pack_elem *el, struct rdb_item *it, char txt[PACK_TEXT_BUF])
{
    const unsigned char *t;
    *it = (struct rdb_item){ 0 };
    it->alen = pack_elem_text(el, txt, &t);
    it->a = t;
}

/*
 * The bytes of the items gathered for one RDB node of a list with compressed nodes: an item
 * read from a compressed node points into a buffer the next compressed node's read reuses
 * (qlist.h), so its bytes are copied here and the items pointed at them before the write.
 * Off (nothing copied) for a list that compresses nothing.
 */
struct item_copies {
    bool on;
    struct strbuf text;
    size_t off[RDB_LIST_NODE_ITEMS];
};

static void copies_init(struct item_copies *c, const struct qlist *l)
{
    c->on = qlist_depth(l) > 0;
    c->text = (struct strbuf){ 0 };
    if (c->on)
        strbuf_setup(&c->text);
}

static void item_copy(struct item_copies *c, size_t k, const struct rdb_item *it)
{
    if (!c->on)
        return;
    c->off[k] = c->text.len;
    strbuf_append(&c->text, it->a, it->alen);
}

/* Write items 0..k-1 as one RDB list node (pointed at their copies first). */
static void node_write(struct item_copies *c, struct rdb_buf *b, struct rdb_item *items, size_t k,
                       const struct rdb_encode_opts *o)
{
    if (c->on) {
        for (size_t i = 0; i < k; i++)
            items[i].a = c->text.buf + c->off[i];
        c->text.len = 0;
    }
    rdb_encode_list_node(b, items, k, o);
}

static void list_encode(struct rdb_buf *b, const struct kv *e, int64_t exp,
                        const struct rdb_encode_opts *o)
{
    size_t klen;
    const char *key = kv_key(e, &klen);
    /* a pack: one quicklist node, as Redis 7.0 writes a list of one node; a chunked list:
     * slices of RDB_LIST_NODE_ITEMS, whatever its own nodes hold */
    size_t n = list_len(e), cap = is_big(e) ? RDB_LIST_NODE_ITEMS : (n > 0 ? n : 1);
    struct rdb_item *items = mem_alloc(cap * sizeof(*items));
    char(*txt)[PACK_TEXT_BUF] = mem_alloc(cap * sizeof(*txt));
    struct lw w;
    lw_open(&w, NULL, 0, (struct kv *)e, &coll_params_default);
    struct lit it;
    lit_init(&it, &w, 0, true);
    struct pack_elem el;
    size_t k = 0;
    struct item_copies cp = { .on = false };
    if (is_big(e)) {
        rdb_encode_coll_begin(b, RDB_COLL_LIST, key, klen, rdb_list_nodes(n), exp, o);
        copies_init(&cp, ql(e));
    }
    while (lit_next(&it, &el)) {
        to_item(&el, &items[k], txt[k]);
        item_copy(&cp, k, &items[k]);
        if (++k == cap && is_big(e)) {
            node_write(&cp, b, items, k, o);
            k = 0;
        }
    }
    if (!is_big(e))
        rdb_encode_coll_small(b, RDB_COLL_LIST, key, klen, items, n, exp, o);
    else if (k > 0)
        node_write(&cp, b, items, k, o);
    strbuf_deinit(&cp.text);
    mem_free(txt);
    mem_free(items);
}

/*
 * Nested snapshots: the record is written from a frozen view of the node array (its nodes
 * shared until a write copies one), in slices of RDB_LIST_NODE_ITEMS as list_encode writes it.
 */
struct list_snap {
    struct qlist_view *v;
    uint32_t node, off; /* the next element: node of the view, offset in its pack (0: first) */
    size_t k;           /* items gathered for the next RDB node */
    struct rdb_item items[RDB_LIST_NODE_ITEMS];
    char txt[RDB_LIST_NODE_ITEMS][PACK_TEXT_BUF];
    struct item_copies copies; /* the items span steps and nodes */
};

static void *list_snap_open(const struct kv *e, struct rdb_buf *b, int64_t exp,
                            const struct rdb_encode_opts *o)
{
    struct list_snap *ls = mem_calloc(sizeof(*ls));
    copies_init(&ls->copies, kv_big(e));
    ls->v = qlist_freeze(kv_big(e));
    size_t klen;
    const char *key = kv_key(e, &klen);
    rdb_encode_coll_begin(b, RDB_COLL_LIST, key, klen, rdb_list_nodes(qlist_view_len(ls->v)), exp,
                          o);
    return ls;
}

static bool list_snap_step(void *cur, struct rdb_buf *b, size_t max,
                           const struct rdb_encode_opts *o)
{
    struct list_snap *ls = cur;
    uint32_t n = qlist_view_nodes(ls->v);
    for (size_t done = 0; ls->node < n && done < max; done++) {
        const unsigned char *p = qlist_view_pack(ls->v, ls->node);
        if (ls->off == 0)
            ls->off = pack_first(p);
        struct pack_elem el;
        pack_get(p, ls->off, &el);
        to_item(&el, &ls->items[ls->k], ls->txt[ls->k]);
        item_copy(&ls->copies, ls->k, &ls->items[ls->k]);
        if (++ls->k == RDB_LIST_NODE_ITEMS) {
            node_write(&ls->copies, b, ls->items, ls->k, o);
            ls->k = 0;
        }
        ls->off = pack_next(p, ls->off);
        if (ls->off == 0)
            ls->node++;
    }
    if (ls->node < n)
        return false;
    if (ls->k > 0)
        node_write(&ls->copies, b, ls->items, ls->k, o);
    ls->k = 0;
    return true;
}

static void list_snap_close(void *cur)
{
    struct list_snap *ls = cur;
    qlist_view_release(ls->v);
    strbuf_deinit(&ls->copies.text);
    mem_free(ls);
}

static void list_each(const struct kv *e, coll_each_fn fn, void *arg)
{
    struct lw w;
    lw_open(&w, NULL, 0, (struct kv *)e, &coll_params_default);
    struct lit it;
    lit_init(&it, &w, 0, true);
    struct pack_elem el;
    while (lit_next(&it, &el)) {
        char txt[PACK_TEXT_BUF];
        const unsigned char *t;
        size_t n = pack_elem_text(&el, txt, &t);
        fn(arg, (const char *)t, n, NULL, 0, 0);
    }
}

static int list_load_item(struct coll_loader *l, const char *a, size_t alen, const char *b,
                          size_t blen, double score)
{
    (void)b;
    (void)blen;
    (void)score;
    struct lw w;
    lw_open(&w, l->s, l->db, l->e, l->p);
    struct pack_elem el;
    str_elem(&el, a, alen);
    int rc = push(&w, false, &el);
    l->e = w.e;
    return rc;
}

const struct coll_type coll_list = {
    .encoding = list_encoding,
    .count = list_len,
    .big_bytes = list_big_bytes,
    .big_copy = list_big_copy,
    .big_reown = list_big_reown,
    .big = { list_big_free, list_big_step, list_big_effort },
    .snap_open = list_snap_open,
    .snap_step = list_snap_step,
    .snap_close = list_snap_close,
    .encode = list_encode,
    .each = list_each,
    .create = list_new,
    .load_item = list_load_item,
};
