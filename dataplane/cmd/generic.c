/*
 * Keyspace commands: existence, types, expiry, iteration, renames, copies,
 * moves between databases, flushing, and the OBJECT and MEMORY introspection
 * containers.
 *
 * Commands that span the keyspace (KEYS, DBSIZE, RANDOMKEY, FLUSHDB,
 * FLUSHALL, SWAPDB) run with every shard held and walk each shard's store;
 * SCAN runs on the shards its cursor names (cmd_scan_mask). Values are copied between
 * entries with store_set (RENAME, COPY, MOVE), so a key keeps its value,
 * encoding and expiry but starts a fresh LRU/LFU history.
 */
#include "cmd/cmd.h"

#include <limits.h>
#include <string.h>

#include "cmd/coll.h"
#include "cmd/commands.h"
#include "base/common.h"
#include "base/mem.h"
#include "base/util.h"

static inline struct store *key_store(struct cmd_ctx *c, int i, struct skey *k)
{
    skey_init(k, c->argv[i].ptr, c->argv[i].len);
    return cmd_store(c, k->ptr, k->len);
}

/*
 * A read that must not disturb the key's LRU/LFU data but still counts as a
 * keyspace hit or miss (Redis's LOOKUP_NOTOUCH: TYPE, TTL, EXISTS, OBJECT).
 */
static struct kv *lookup_notouch_flags(struct cmd_ctx *c, struct store *s, const struct skey *k,
                                       int db, int flags)
{
    struct kv *e = store_lookup(s, db, k, c->now_ms, STORE_NOTOUCH | flags);
    struct store_stats *st = store_stats(s);
    if (e != NULL)
        st->keyspace_hits++;
    else
        st->keyspace_misses++;
    return e;
}

static struct kv *lookup_notouch(struct cmd_ctx *c, struct store *s, const struct skey *k, int db)
{
    return lookup_notouch_flags(c, s, k, db, 0);
}

/* The stores a ROUTE_ALL command holds: just c->store on one shard, else every shard's. */
static inline unsigned held_count(const struct cmd_ctx *c)
{
    return c->store != NULL ? 1 : c->nshards;
}

static inline struct store *held_store(const struct cmd_ctx *c, unsigned i)
{
    return c->store != NULL ? c->store : c->stores[i];
}

static inline bool expired(const struct kv *e, int64_t now_ms)
{
    int64_t when = kv_expire(e);
    return when != -1 && now_ms > when;
}

static const char *type_name(const struct kv *e)
{
    switch (kv_type(e)) {
    case KV_STRING:
        return "string";
    case KV_LIST:
        return "list";
    case KV_SET:
        return "set";
    case KV_ZSET:
        return "zset";
    case KV_HASH:
        return "hash";
    }
    return "none";
}

static const char *encoding_name(const struct kv *e)
{
    if (kv_type(e) != KV_STRING)
        return coll_encoding(e);
    switch (kv_enc(e)) {
    case KV_ENC_INT:
        return "int";
    case KV_ENC_EMBSTR:
        return "embstr";
    case KV_ENC_RAW:
    case KV_ENC_BIG:
        break;
    }
    return "raw";
}

/* ---- DEL, EXISTS, TOUCH, TYPE ------------------------------------------- */

/* DEL follows lazyfree-lazy-user-del; UNLINK always frees a big value in steps (store.h). */
static void del_generic(struct cmd_ctx *c, enum store_drop why)
{
    long long n = 0;
    for (int i = 1; i < c->argc; i++) {
        struct skey k;
        struct store *s = key_store(c, i, &k);
        if (store_delete_as(s, c->db, &k, c->now_ms, why)) {
            n++;
            cmd_changed_arg(c, NOTIFY_GENERIC, "del", i);
        }
    }
    c->dirty += n;
    reply_int(c->reply, n);
}

void cmd_del(struct cmd_ctx *c)
{
    del_generic(c, STORE_DROP_USER);
}

void cmd_unlink(struct cmd_ctx *c)
{
    del_generic(c, STORE_DROP_LAZY);
}

/* Every argument counts, so a key named twice is counted twice. */
void cmd_exists(struct cmd_ctx *c)
{
    long long n = 0;
    for (int i = 1; i < c->argc; i++) {
        struct skey k;
        struct store *s = key_store(c, i, &k);
        if (lookup_notouch(c, s, &k, c->db) != NULL)
            n++;
    }
    reply_int(c->reply, n);
}

void cmd_touch(struct cmd_ctx *c)
{
    long long n = 0;
    for (int i = 1; i < c->argc; i++) {
        struct skey k;
        struct store *s = key_store(c, i, &k);
        if (store_lookup(s, c->db, &k, c->now_ms, 0) != NULL)
            n++;
    }
    reply_int(c->reply, n);
}

void cmd_type(struct cmd_ctx *c)
{
    struct skey k;
    struct store *s = key_store(c, 1, &k);
    struct kv *e = lookup_notouch(c, s, &k, c->db);
    reply_status(c->reply, e != NULL ? type_name(e) : "none");
}

/* ---- expiry ------------------------------------------------------------- */

enum { EXP_NX = 1, EXP_XX = 2, EXP_GT = 4, EXP_LT = 8 };

/*
 * EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT key time [NX | XX | GT | LT].
 * Options are checked first, then the time (overflow of the conversion to
 * milliseconds or of the addition to the current time is an invalid expire
 * time), then the key. A persistent key counts as an infinite TTL for GT and
 * LT. A time not in the future deletes the key and still answers 1.
 */
static void expire_generic(struct cmd_ctx *c, bool seconds, bool relative)
{
    unsigned f = 0;
    for (int j = 3; j < c->argc; j++) {
        const struct resp_arg *a = &c->argv[j];
        unsigned t = 0;
        if (util_strcaseeq(a->ptr, a->len, "nx"))
            t = EXP_NX;
        else if (util_strcaseeq(a->ptr, a->len, "xx"))
            t = EXP_XX;
        else if (util_strcaseeq(a->ptr, a->len, "gt"))
            t = EXP_GT;
        else if (util_strcaseeq(a->ptr, a->len, "lt"))
            t = EXP_LT;
        if (t == 0) {
            int n = a->len > 512 ? 512 : (int)a->len;
            reply_errorf(c->reply, ERRF_UNSUPPORTED_OPTION, n, a->ptr);
            return;
        }
        f |= t;
    }
    if ((f & EXP_NX) && (f & (EXP_XX | EXP_GT | EXP_LT))) {
        reply_error(c->reply, ERR_EXPIRE_NXXX);
        return;
    }
    if ((f & EXP_GT) && (f & EXP_LT)) {
        reply_error(c->reply, ERR_EXPIRE_GTLT);
        return;
    }

    long long when;
    if (!cmd_arg_ll(c, 2, &when))
        return;
    if (seconds) {
        if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000)
            goto invalid;
        when *= 1000;
    }
    if (relative) {
        if (when > LLONG_MAX - c->now_ms)
            goto invalid;
        when += c->now_ms;
    }

    struct skey k;
    struct store *s = key_store(c, 1, &k);
    struct kv *e = store_lookup(s, c->db, &k, c->now_ms, STORE_NOSTATS);
    if (e == NULL) {
        reply_int(c->reply, 0);
        return;
    }
    if (f != 0) {
        int64_t cur = kv_expire(e);
        if (((f & EXP_NX) && cur != -1) || ((f & EXP_XX) && cur == -1) ||
            ((f & EXP_GT) && (cur == -1 || when <= cur)) ||
            ((f & EXP_LT) && cur != -1 && when >= cur)) {
            reply_int(c->reply, 0);
            return;
        }
    }
    if (cmd_already_expired(s, when, c->now_ms)) {
        store_delete_entry(s, c->db, e);
        cmd_changed_arg(c, NOTIFY_GENERIC, "del", 1);
        cmd_propagate_del(c, &c->argv[1]);
    } else {
        store_set_expire(s, c->db, e, when);
        cmd_changed_arg(c, NOTIFY_GENERIC, "expire", 1);
        cmd_propagate_pexpireat(c, &c->argv[1], when);
    }
    c->dirty++;
    reply_int(c->reply, 1);
    return;
invalid:
    reply_errorf(c->reply, ERRF_INVALID_EXPIRE, c->cmd->name);
}

void cmd_expire(struct cmd_ctx *c)
{
    expire_generic(c, true, true);
}

void cmd_pexpire(struct cmd_ctx *c)
{
    expire_generic(c, false, true);
}

void cmd_expireat(struct cmd_ctx *c)
{
    expire_generic(c, true, false);
}

void cmd_pexpireat(struct cmd_ctx *c)
{
    expire_generic(c, false, false);
}

/* TTL/PTTL (remaining) and EXPIRETIME/PEXPIRETIME (absolute); -2 missing, -1 persistent. */
static void ttl_generic(struct cmd_ctx *c, bool ms, bool absolute)
{
    struct skey k;
    struct store *s = key_store(c, 1, &k);
    struct kv *e = lookup_notouch(c, s, &k, c->db);
    if (e == NULL) {
        reply_int(c->reply, -2);
        return;
    }
    long long when = kv_expire(e);
    if (when == -1) {
        reply_int(c->reply, -1);
        return;
    }
    long long v = absolute ? when : when - c->now_ms;
    if (v < 0)
        v = 0;
    /* Seconds round to nearest, computed without overflow near LLONG_MAX. */
    reply_int(c->reply, ms ? v : v / 1000 + (v % 1000 >= 500));
}

void cmd_ttl(struct cmd_ctx *c)
{
    ttl_generic(c, false, false);
}

void cmd_pttl(struct cmd_ctx *c)
{
    ttl_generic(c, true, false);
}

void cmd_expiretime(struct cmd_ctx *c)
{
    ttl_generic(c, false, true);
}

void cmd_pexpiretime(struct cmd_ctx *c)
{
    ttl_generic(c, true, true);
}

void cmd_persist(struct cmd_ctx *c)
{
    struct skey k;
    struct store *s = key_store(c, 1, &k);
    struct kv *e = store_lookup(s, c->db, &k, c->now_ms, STORE_NOSTATS);
    if (e == NULL || kv_expire(e) == -1) {
        reply_int(c->reply, 0);
        return;
    }
    store_set_expire(s, c->db, e, -1);
    c->dirty++;
    cmd_changed_arg(c, NOTIFY_GENERIC, "persist", 1);
    reply_int(c->reply, 1);
}

/* ---- KEYS, SCAN, RANDOMKEY, DBSIZE -------------------------------------- */

struct keys_walk {
    struct reply *r;
    const char *pat;
    size_t patlen;
    bool all;
    int64_t now_ms;
    long long n;
};

static void keys_visit(void *arg, struct kv *e)
{
    struct keys_walk *w = arg;
    if (expired(e, w->now_ms))
        return;
    size_t klen;
    const char *key = kv_key(e, &klen);
    if (!w->all && !util_glob_match(w->pat, w->patlen, key, klen, false))
        return;
    reply_bulk(w->r, key, klen);
    w->n++;
}

/* KEYS pattern: every live matching key of every shard (expired ones are skipped, not deleted). */
void cmd_keys(struct cmd_ctx *c)
{
    struct keys_walk w = {
        .r = c->reply,
        .pat = c->argv[1].ptr,
        .patlen = c->argv[1].len,
        .all = c->argv[1].len == 1 && c->argv[1].ptr[0] == '*',
        .now_ms = c->now_ms,
    };
    struct rblock *hdr = reply_defer(c->reply);
    for (unsigned i = 0; i < held_count(c); i++) {
        struct store *s = held_store(c, i);
        uint64_t cur = 0;
        do
            cur = store_scan(s, c->db, cur, keys_visit, &w);
        while (cur != 0);
    }
    reply_defer_set(c->reply, hdr, REPLY_AGG_ARRAY, w.n);
}

/* Entries a SCAN call visited, in order; grows from an inline array. */
/* Shard i's store when this SCAN call may read it (see cmd_scan_mask), else NULL. */
static struct store *scan_store(const struct cmd_ctx *c, uint64_t mask, unsigned i)
{
    if (!(mask & (1ull << i)))
        return NULL;
    if (c->store != NULL)
        return c->shard == i || c->nshards <= 1 ? c->store : NULL;
    return c->stores[i];
}

struct scan_filter {
    const struct resp_arg *pat; /* NULL: every key */
    int type;                   /* TYPE: an enum kv_type, -1 absent, -2 a type no key has */
};

/*
 * Keep the entries acc->v[from..] of store s that pass the filter, after the
 * `kept` ones already kept, and return the new number kept. Expired entries
 * are deleted the way any read of them does.
 */
static size_t scan_keep(struct cmd_ctx *c, struct store *s, const struct scan_filter *f,
                        struct scan_acc *acc, size_t from, size_t kept)
{
    for (size_t i = from; i < acc->n; i++) {
        struct kv *e = acc->v[i];
        size_t klen;
        const char *key = kv_key(e, &klen);
        if (f->pat != NULL && !util_glob_match(f->pat->ptr, f->pat->len, key, klen, false))
            continue;
        if (f->type != -1 && (int)kv_type(e) != f->type)
            continue;
        if (expired(e, c->now_ms)) {
            struct skey k;
            skey_init(&k, key, klen);
            store_lookup(s, c->db, &k, c->now_ms, STORE_NOTOUCH);
            continue;
        }
        acc->v[kept++] = e;
    }
    return kept;
}

/*
 * SCAN cursor [MATCH pattern] [COUNT count] [TYPE type].
 *
 * The cursor's low cmd_scan_bits(nshards) bits name the shard, the rest is
 * that shard's store cursor. Like Redis, one call visits buckets until it
 * has seen `count` entries (or 10 * count buckets), then filters what it saw
 * by pattern, by type, and by expiry (deleting expired keys on the way).
 * When a shard is done the call goes on with the next one if it holds it
 * (cmd_scan_mask: a call that starts a shard holds the later ones), so a
 * small keyspace ends in one call; otherwise the next cursor points at the
 * start of the next shard. 0 follows the last shard. A shard counts as done
 * when its store cursor is back at 0, or when this call started it and has
 * seen as many entries as it holds, or, for a later held shard, when it is
 * empty.
 */
void cmd_scan(struct cmd_ctx *c)
{
    uint64_t cursor;
    if (!cmd_parse_cursor(c->argv[1].ptr, c->argv[1].len, &cursor)) {
        reply_error(c->reply, ERR_INVALID_CURSOR);
        return;
    }
    long long count = 10;
    struct scan_filter f = { .pat = NULL, .type = -1 };
    for (int j = 2; j < c->argc; j += 2) {
        bool more = j + 1 < c->argc;
        if (more && cmd_arg_is(c, j, "count")) {
            if (!cmd_arg_ll(c, j + 1, &count))
                return;
            if (count < 1) {
                reply_error(c->reply, ERR_SYNTAX);
                return;
            }
        } else if (more && cmd_arg_is(c, j, "match")) {
            f.pat = &c->argv[j + 1];
        } else if (more && cmd_arg_is(c, j, "type")) {
            static const char *const names[] = { "string", "list", "set", "zset", "hash" };
            f.type = -2;
            for (int t = 0; t < (int)ARRAY_SIZE(names); t++)
                if (util_strcaseeq(c->argv[j + 1].ptr, c->argv[j + 1].len, names[t]))
                    f.type = t; /* the index is the enum kv_type */
        } else {
            reply_error(c->reply, ERR_SYNTAX);
            return;
        }
    }
    if (f.pat != NULL && f.pat->len == 1 && f.pat->ptr[0] == '*')
        f.pat = NULL;

    unsigned nshards = c->nshards > 0 ? c->nshards : 1;
    unsigned bits = cmd_scan_bits(nshards);
    unsigned shard = cmd_scan_shard(cursor, nshards);
    uint64_t mask = cmd_scan_mask(cursor, nshards);
    struct store *s = shard < nshards ? scan_store(c, mask, shard) : NULL;
    if (s == NULL) {
        /* A cursor no SCAN handed out: nothing more to visit. */
        reply_array(c->reply, 2);
        cmd_reply_cursor(c->reply, 0);
        reply_empty_array(c->reply);
        return;
    }

    struct scan_acc acc;
    cmd_scan_acc_init(&acc);

    uint64_t cur = cursor >> bits;
    long long budget = count > LLONG_MAX / 10 ? LLONG_MAX : count * 10;
    size_t seen = 0, kept = 0;
    for (;;) {
        bool whole = cur == 0;
        size_t from = acc.n;
        do
            cur = store_scan(s, c->db, cur, cmd_scan_visit, &acc);
        while (cur != 0 && budget-- > 0 && seen + (acc.n - from) < (size_t)count);
        if (whole && acc.n - from == store_count(s, c->db))
            cur = 0;
        seen += acc.n - from;
        acc.n = kept = scan_keep(c, s, &f, &acc, from, kept);
        if (cur != 0)
            break;
        /* This shard is done: go on with the next one while it is ours to read. */
        struct store *t = shard + 1 < nshards ? scan_store(c, mask, shard + 1) : NULL;
        shard++;
        if (t == NULL)
            break;
        s = t;
        if ((seen >= (size_t)count || budget <= 0) && store_count(s, c->db) != 0)
            break; /* the page is full: the next call starts this shard */
    }

    /* Mid-shard, the store cursor and the shard; else the start of the next shard, or 0. */
    uint64_t next = cur != 0 ? (cur << bits) | shard : shard < nshards ? shard : 0;
    reply_array(c->reply, 2);
    cmd_reply_cursor(c->reply, next);
    reply_array(c->reply, (long long)kept);
    for (size_t i = 0; i < kept; i++) {
        size_t klen;
        const char *key = kv_key(acc.v[i], &klen);
        reply_bulk(c->reply, key, klen);
    }
    cmd_scan_acc_free(&acc);
}

/*
 * RANDOMKEY: pick a shard with probability proportional to its key count,
 * then a random key there. store_random() empties a shard of expired keys
 * when it finds no live one, so the loop ends (bounded all the same).
 */
void cmd_randomkey(struct cmd_ctx *c)
{
    unsigned n = held_count(c);
    for (int round = 0; round < 100; round++) {
        size_t total = 0;
        for (unsigned i = 0; i < n; i++)
            total += store_count(held_store(c, i), c->db);
        if (total == 0) {
            reply_null(c->reply);
            return;
        }
        size_t pick = (size_t)(util_rand64() % total);
        unsigned i = 0;
        for (; i + 1 < n; i++) {
            size_t cnt = store_count(held_store(c, i), c->db);
            if (pick < cnt)
                break;
            pick -= cnt;
        }
        struct kv *e = store_random(held_store(c, i), c->db, c->now_ms);
        if (e != NULL) {
            size_t klen;
            const char *key = kv_key(e, &klen);
            reply_bulk(c->reply, key, klen);
            return;
        }
    }
    reply_null(c->reply);
}

void cmd_dbsize(struct cmd_ctx *c)
{
    size_t total = 0;
    for (unsigned i = 0; i < held_count(c); i++)
        total += store_count(held_store(c, i), c->db);
    reply_int(c->reply, (long long)total);
}

/* ---- RENAME, COPY, MOVE ------------------------------------------------- */

/* Write a copy of e (value, encoding, expiry) as key k of database db in store s. */
static void copy_entry(struct store *s, int db, const struct skey *k, struct kv *e)
{
    if (kv_type(e) != KV_STRING) {
        coll_copy(s, db, k, e, kv_expire(e));
        return;
    }
    size_t vlen;
    const char *v = kv_val(e, &vlen);
    store_set(s, db, k, v, vlen, kv_enc(e), kv_expire(e), 0);
}

/* Move e from database sdb of ss to key k of database ddb of ds (RENAME, MOVE). */
static void move_entry(struct store *ss, int sdb, struct kv *e, struct store *ds, int ddb,
                       const struct skey *k)
{
    if (kv_type(e) != KV_STRING) {
        coll_move(ss, sdb, e, ds, ddb, k);
        return;
    }
    copy_entry(ds, ddb, k, e);
    store_delete_entry(ss, sdb, e);
}

static void rename_generic(struct cmd_ctx *c, bool nx)
{
    const struct resp_arg *a = &c->argv[1], *b = &c->argv[2];
    struct skey ks, kd;
    struct store *ss = key_store(c, 1, &ks);
    struct kv *e = store_lookup(ss, c->db, &ks, c->now_ms, STORE_NOSTATS);
    if (e == NULL) {
        reply_error(c->reply, ERR_NO_SUCH_KEY);
        return;
    }
    if (a->len == b->len && memcmp(a->ptr, b->ptr, a->len) == 0) {
        if (nx)
            reply_int(c->reply, 0);
        else
            reply_ok(c->reply);
        return;
    }
    struct store *sd = key_store(c, 2, &kd);
    if (nx && store_lookup(sd, c->db, &kd, c->now_ms, STORE_NOSTATS) != NULL) {
        reply_int(c->reply, 0);
        return;
    }
    move_entry(ss, c->db, e, sd, c->db, &kd);
    c->dirty++;
    cmd_changed_arg(c, NOTIFY_GENERIC, "rename_from", 1);
    cmd_changed_arg(c, NOTIFY_GENERIC, "rename_to", 2);
    if (nx)
        reply_int(c->reply, 1);
    else
        reply_ok(c->reply);
}

void cmd_rename(struct cmd_ctx *c)
{
    rename_generic(c, false);
}

void cmd_renamenx(struct cmd_ctx *c)
{
    rename_generic(c, true);
}

/* COPY source destination [DB destination-db] [REPLACE] */
void cmd_copy(struct cmd_ctx *c)
{
    struct skey ks, kd;
    struct store *ss = key_store(c, 1, &ks);
    struct store *sd = key_store(c, 2, &kd);
    int dbid = c->db;
    bool replace = false;
    for (int j = 3; j < c->argc; j++) {
        if (cmd_arg_is(c, j, "replace")) {
            replace = true;
        } else if (j + 1 < c->argc && cmd_arg_is(c, j, "db")) {
            if (!cmd_arg_int(c, j + 1, &dbid))
                return;
            if (dbid < 0 || dbid >= store_databases(sd)) {
                reply_error(c->reply, ERR_DB_RANGE);
                return;
            }
            j++;
        } else {
            reply_error(c->reply, ERR_SYNTAX);
            return;
        }
    }
    if (dbid == c->db && ks.len == kd.len && memcmp(ks.ptr, kd.ptr, ks.len) == 0) {
        reply_error(c->reply, ERR_SAME_OBJECT);
        return;
    }
    struct kv *e = store_lookup(ss, c->db, &ks, c->now_ms, 0);
    if (e == NULL) {
        reply_int(c->reply, 0);
        return;
    }
    if (!replace && store_lookup(sd, dbid, &kd, c->now_ms, STORE_NOSTATS) != NULL) {
        reply_int(c->reply, 0);
        return;
    }
    copy_entry(sd, dbid, &kd, e);
    c->dirty++;
    cmd_changed(c, NOTIFY_GENERIC, "copy_to", dbid, kd.ptr, kd.len);
    reply_int(c->reply, 1);
}

void cmd_move(struct cmd_ctx *c)
{
    int dbid;
    if (!cmd_arg_int(c, 2, &dbid))
        return;
    struct skey k;
    struct store *s = key_store(c, 1, &k);
    if (dbid < 0 || dbid >= store_databases(s)) {
        reply_error(c->reply, ERR_DB_RANGE);
        return;
    }
    if (dbid == c->db) {
        reply_error(c->reply, ERR_SAME_OBJECT);
        return;
    }
    struct kv *e = store_lookup(s, c->db, &k, c->now_ms, STORE_NOSTATS);
    if (e == NULL || store_lookup(s, dbid, &k, c->now_ms, STORE_NOSTATS) != NULL) {
        reply_int(c->reply, 0);
        return;
    }
    move_entry(s, c->db, e, s, dbid, &k);
    c->dirty++;
    cmd_changed_arg(c, NOTIFY_GENERIC, "move_from", 1);
    cmd_changed(c, NOTIFY_GENERIC, "move_to", dbid, k.ptr, k.len);
    reply_int(c->reply, 1);
}

/* ---- SWAPDB, FLUSHDB, FLUSHALL ------------------------------------------ */

static bool db_index(const struct resp_arg *a, const char *err, struct cmd_ctx *c, int *out)
{
    long long v;
    if (!util_str2ll(a->ptr, a->len, &v) || v < INT_MIN || v > INT_MAX) {
        reply_error(c->reply, err);
        return false;
    }
    *out = (int)v;
    return true;
}

void cmd_swapdb(struct cmd_ctx *c)
{
    int a, b;
    if (!db_index(&c->argv[1], ERR_SWAPDB_FIRST, c, &a) ||
        !db_index(&c->argv[2], ERR_SWAPDB_SECOND, c, &b))
        return;
    int ndb = store_databases(held_store(c, 0));
    if (a < 0 || a >= ndb || b < 0 || b >= ndb) {
        reply_error(c->reply, ERR_DB_RANGE);
        return;
    }
    if (a != b) {
        for (unsigned i = 0; i < held_count(c); i++)
            store_swapdb(held_store(c, i), a, b);
        cmd_changed_swapdb(c, a, b);
    }
    c->dirty++;
    reply_ok(c->reply);
}

/*
 * FLUSHDB/FLUSHALL take at most one word: ASYNC frees the keys in steps after the reply, SYNC
 * before it, none as lazyfree-lazy-user-flush says. The keys are gone at once either way.
 */
static bool flush_args(struct cmd_ctx *c, enum store_drop *why)
{
    *why = STORE_DROP_USER;
    if (c->argc == 2 && cmd_arg_is(c, 1, "sync"))
        *why = STORE_DROP_SYNC;
    else if (c->argc == 2 && cmd_arg_is(c, 1, "async"))
        *why = STORE_DROP_LAZY;
    else if (c->argc != 1) {
        reply_error(c->reply, ERR_SYNTAX);
        return false;
    }
    return true;
}

void cmd_flushdb(struct cmd_ctx *c)
{
    enum store_drop why;
    if (!flush_args(c, &why))
        return;
    for (unsigned i = 0; i < held_count(c); i++) {
        struct store *s = held_store(c, i);
        c->dirty += (long long)store_count(s, c->db);
        store_flush(s, c->db, why);
    }
    cmd_changed_flush(c, c->db);
    c->force_propagate = true; /* replicated even when empty, as in Redis */
    reply_ok(c->reply);
}

void cmd_flushall(struct cmd_ctx *c)
{
    enum store_drop why;
    if (!flush_args(c, &why))
        return;
    for (unsigned i = 0; i < held_count(c); i++) {
        struct store *s = held_store(c, i);
        for (int db = 0; db < store_databases(s); db++)
            c->dirty += (long long)store_count(s, db);
        store_flush(s, -1, why);
    }
    cmd_changed_flush(c, -1);
    c->force_propagate = true;
    reply_ok(c->reply);
}

/* ---- OBJECT ------------------------------------------------------------- */

/* Redis shares the integers 0..9999 between keys and reports them with this refcount. */
#define SHARED_INTEGERS 10000
#define SHARED_REFCOUNT 2147483647LL

static struct kv *object_lookup(struct cmd_ctx *c, struct store **sp)
{
    struct skey k;
    struct store *s = key_store(c, 2, &k);
    struct kv *e = lookup_notouch_flags(c, s, &k, c->db, STORE_NONOTIFY);
    if (e == NULL)
        reply_null(c->reply);
    *sp = s;
    return e;
}

void cmd_object_encoding(struct cmd_ctx *c)
{
    struct store *s;
    struct kv *e = object_lookup(c, &s);
    if (e != NULL)
        reply_bulk_cstr(c->reply, encoding_name(e));
}

void cmd_object_refcount(struct cmd_ctx *c)
{
    struct store *s;
    struct kv *e = object_lookup(c, &s);
    if (e == NULL)
        return;
    long long v;
    size_t n;
    const char *p = kv_val(e, &n);
    if (kv_enc(e) == KV_ENC_INT && util_str2ll(p, n, &v) && v >= 0 && v < SHARED_INTEGERS)
        reply_int(c->reply, SHARED_REFCOUNT);
    else
        reply_int(c->reply, 1);
}

void cmd_object_idletime(struct cmd_ctx *c)
{
    struct store *s;
    struct kv *e = object_lookup(c, &s);
    if (e == NULL)
        return;
    if (store_policy_is_lfu(s)) {
        reply_error(c->reply, ERR_LFU_ON);
        return;
    }
    reply_int(c->reply, store_idle_seconds(s, e, c->now_ms));
}

void cmd_object_freq(struct cmd_ctx *c)
{
    struct store *s;
    struct kv *e = object_lookup(c, &s);
    if (e == NULL)
        return;
    if (!store_policy_is_lfu(s)) {
        reply_error(c->reply, ERR_LFU_OFF);
        return;
    }
    reply_int(c->reply, store_lfu_freq(s, e, c->now_ms));
}

static const char *const object_help[] = {
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
};

void cmd_object_help(struct cmd_ctx *c)
{
    cmd_reply_help(c, object_help, ARRAY_SIZE(object_help));
}

/* ---- MEMORY ------------------------------------------------------------- */

/* MEMORY USAGE key [SAMPLES count]: the entry's bytes (strings have nothing to sample). */
void cmd_memory_usage(struct cmd_ctx *c)
{
    for (int j = 3; j < c->argc; j += 2) {
        long long samples;
        if (j + 1 < c->argc && cmd_arg_is(c, j, "samples")) {
            if (!cmd_arg_ll(c, j + 1, &samples))
                return;
            if (samples < 0) {
                reply_error(c->reply, ERR_SYNTAX);
                return;
            }
        } else {
            reply_error(c->reply, ERR_SYNTAX);
            return;
        }
    }
    struct skey k;
    struct store *s = key_store(c, 2, &k);
    struct kv *e = store_lookup(s, c->db, &k, c->now_ms, STORE_NOTOUCH);
    if (e == NULL)
        reply_null(c->reply);
    else
        reply_int(c->reply, (long long)(store_entry_usage(s, e) +
                                        (kv_type(e) != KV_STRING ? coll_big_bytes(e) : 0)));
}

static const char *const memory_help[] = {
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Prints this help.",
};

void cmd_memory_help(struct cmd_ctx *c)
{
    cmd_reply_help(c, memory_help, ARRAY_SIZE(memory_help));
}

/* ---- the tables --------------------------------------------------------- */
