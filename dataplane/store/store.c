/*
 * The store's public operations: lifecycle, lookup, insert and overwrite,
 * entry reshaping, deletion, whole-database operations, SCAN and RANDOMKEY.
 */
#include <assert.h>

#include "store/store_int.h"
#include "base/util.h"

const char *const store_policy_names[] = {
    "volatile-lru", "volatile-lfu",   "volatile-random", "volatile-ttl", "allkeys-lru",
    "allkeys-lfu",  "allkeys-random", "noeviction",      NULL,
};

#define PARAM_S store_params
const struct param_def store_param_defs[] = { STORE_PARAMS(PARAM_X_DEF) PARAM_DEFS_END };
#undef PARAM_S

struct store *store_create(const struct store_params *params)
{
    struct store *s = mem_calloc(sizeof(*s));
    s->params = params;
    s->ndb = params->databases > 0 ? (int)params->databases : 1;
    s->db = mem_calloc(sizeof(struct db) * (size_t)s->ndb);
    store_mem_add(s,
                  mem_size_class(sizeof(*s)) + mem_size_class(sizeof(struct db) * (size_t)s->ndb));
    s->pool_policy = -1;
    return s;
}

void store_destroy(struct store *s)
{
    if (s == NULL)
        return;
    if (s->snap_end != NULL)
        store_snap_finish(s); /* a nested snapshot gets every entry before they go */
    store_snap_abort(s);
    store_rehash_track(s, true);
    for (int i = 0; i < s->ndb; i++)
        store_db_clear(s, &s->db[i]);
    store_lazy_finish(s);
    assert(s->rehash_head == NULL); /* its member stores went with its entries */
    mem_free(s->db);
    mem_free(s);
}

void store_set_removed_hook(struct store *s, store_removed_fn fn, void *arg)
{
    s->removed = fn;
    s->removed_arg = arg;
}

void store_set_event_hook(struct store *s, store_event_fn fn)
{
    s->event = fn;
}

void store_set_events(struct store *s, int mask)
{
    s->events = s->event != NULL ? mask : 0;
}

struct store_stats *store_stats(struct store *s)
{
    return &s->stats;
}

int store_databases(const struct store *s)
{
    return s->ndb;
}

void store_set_expiry(struct store *s, enum store_expiry mode)
{
    s->expiry = (int)mode;
}

enum store_expiry store_get_expiry(const struct store *s)
{
    return (enum store_expiry)s->expiry;
}

void store_set_clock(struct store *s, int64_t now_ms)
{
    s->clock_ms = now_ms;
}

bool store_rehash_step(struct store *s, int db, size_t buckets)
{
    bool more = false;
    for (int i = db < 0 ? 0 : db; i < (db < 0 ? s->ndb : db + 1); i++)
        more |= store_db_rehash(s, &s->db[i], buckets);
    if (db >= 0)
        return more;
    /* the member stores that resize: one at a time, the first until it is done */
    if (s->rehash_head != NULL) {
        struct store *m = s->rehash_head;
        store_rehash_step(m, -1, buckets); /* unlists m when it finishes */
        more = true;
    }
    return more;
}

size_t store_used(const struct store *s)
{
    return atomic_load_explicit(&s->used, memory_order_relaxed);
}

/* The entry's own size class plus its share of a bucket: one pointer and one tag byte. */
size_t store_entry_usage(const struct store *s, const struct kv *e)
{
    (void)s;
    return mem_size_class(kv_size(e)) + sizeof(void *) + 1;
}

size_t store_count(const struct store *s, int db)
{
    return s->db[db].count;
}

size_t store_volatile_count(const struct store *s, int db)
{
    return s->db[db].nvolatile;
}

void store_prefetch_chain(const struct store *s, int db, uint64_t hash)
{
    if (db >= 0 && db < s->ndb) {
        const struct bucket *b = db_chain(&s->db[db], hash);
        if (b != NULL)
            __builtin_prefetch(b);
    }
}

void store_prefetch_entry(const struct store *s, int db, uint64_t hash)
{
    if (db < 0 || db >= s->ndb)
        return;
    const struct bucket *b = db_chain(&s->db[db], hash);
    if (b == NULL)
        return;
    for (unsigned m = bucket_match(b, tag_of(hash)); m != 0; m &= m - 1)
        __builtin_prefetch(b->slot[__builtin_ctz(m)]);
}

long long store_avg_ttl(const struct store *s, int db)
{
    return s->db[db].nvolatile > 0 ? s->db[db].avg_ttl : 0;
}

/* ---- entries ---------------------------------------------------------- */

/* The lens byte of an entry of this shape. */
static uint8_t kv_lens_for(bool bare, bool expire, size_t klen, size_t vlen)
{
    return (uint8_t)(kv_width_code(klen) | (kv_width_code(vlen) << 2) | (expire ? KV_L_EXPIRE : 0) |
                     (bare ? KV_L_BARE : 0));
}

/* Write the header of an entry: access bits, type and encoding in `bits` (none when bare). */
static void kv_format(struct kv *e, bool bare, uint32_t bits, int64_t expire, size_t klen,
                      size_t vlen)
{
    e->lens = kv_lens_for(bare, expire >= 0, klen, vlen);
    kv_bits_put(e, bits);
    if (expire >= 0)
        memcpy(e->body + kv_expire_off(e), &expire, sizeof(expire));
    unsigned kc = e->lens & 3;
    size_t off = kv_lens_off(e);
    kv_write_len(e->body + off, kc, klen);
    kv_write_len(e->body + off + (1u << kc), (e->lens >> 2) & 3, vlen);
}

static uint32_t kv_bits(uint32_t lru, enum kv_type type, enum kv_enc enc)
{
    return (lru & KV_LRU_MASK) | (((uint32_t)type << KV_TYPE_SHIFT) & KV_TYPE_MASK) |
           (((uint32_t)enc << KV_ENC_SHIFT) & KV_ENC_MASK);
}

static struct kv *kv_create(struct store *s, uint32_t bits, int64_t expire, const struct skey *k,
                            const void *val, size_t vlen)
{
    size_t size = kv_size_for(s->bare, expire >= 0, k->len, vlen);
    struct kv *e = mem_alloc(size);
    store_mem_add(s, mem_size_class(size));
    kv_format(e, s->bare, bits, expire, k->len, vlen);
    unsigned char *key = e->body + kv_key_off(e);
    memcpy(key, k->ptr, k->len);
    if (val != NULL && vlen > 0)
        memcpy(key + k->len, val, vlen);
    return e;
}

/* ---- big values -------------------------------------------------------- */

#define LAZY_FREE_EFFORT 64

static struct store_big_ops big_ops[KV_TYPE_MASK >> KV_TYPE_SHIFT];

void store_set_big_ops(enum kv_type type, const struct store_big_ops *ops)
{
    big_ops[type] = *ops;
}

bool store_big_step(struct store *s, int type, void *obj, size_t *budget)
{
    return big_ops[type].step(s, obj, budget);
}

/* Free the object of a big entry (the entry itself stays), or put it aside (lazy free). */
static void big_release(struct store *s, const struct kv *e)
{
    if (kv_is_big(e)) {
        const struct store_big_ops *ops = &big_ops[kv_type(e)];
        assert(ops->free != NULL);
        if (ops->step != NULL && store_lazy_now(s, s->drop) &&
            ops->effort(kv_big(e)) > LAZY_FREE_EFFORT)
            store_lazy_put_big(s, kv_type(e), kv_big(e));
        else
            ops->free(s, kv_big(e));
    }
}

static void entry_bytes_free(struct store *s, struct kv *e)
{
    store_mem_sub(s, mem_size_class(kv_size(e)));
    mem_free(e);
}

void store_entry_free(struct store *s, struct kv *e)
{
    big_release(s, e);
    entry_bytes_free(s, e);
}

void store_account_add(struct store *s, size_t n)
{
    store_mem_add(s, n);
}

void store_account_sub(struct store *s, size_t n)
{
    store_mem_sub(s, n);
}

/* ---- member stores ---------------------------------------------------- */

static const struct store_params member_params = { .maxmemory_policy = POLICY_NOEVICTION,
                                                   .maxmemory_samples = 5,
                                                   .databases = 1 };

struct store *store_scratch_new(void)
{
    struct store *m = store_create(&member_params);
    m->expiry = STORE_EXPIRY_NONE;
    return m;
}

struct store *store_members_new(struct store *owner)
{
    struct store *m = store_scratch_new();
    m->bare = true;
    store_members_reown(m, owner);
    return m;
}

void store_members_free(struct store *m)
{
    store_members_reown(m, NULL);
    store_destroy(m);
}

bool store_members_step(struct store *m, size_t *budget)
{
    size_t entries = 0;
    store_snap_finish(m); /* the drain below passes no entry to a snapshot */
    if (!store_db_drain(m, &m->db[0], budget, &entries))
        return false;
    store_members_free(m);
    return true;
}

void store_members_reown(struct store *m, struct store *owner)
{
    /* moving to another shard (RENAME): a nested snapshot's consumer is this shard's */
    if (m->owner != NULL && owner != NULL && owner != m->owner)
        store_snap_finish(m);
    size_t n = atomic_load_explicit(&m->used, memory_order_relaxed);
    if (m->owner != NULL)
        store_mem_sub(m->owner, n);
    store_rehash_track(m, true); /* out of the old owner's list, into the new one's */
    m->owner = owner;
    if (owner != NULL)
        store_mem_add(owner, n);
    store_rehash_track(m, false);
}

void store_slot_remove(struct store *s, struct db *d, struct bucket *b, unsigned i,
                       enum store_drop why)
{
    struct kv *e = b->slot[i];
    if (bucket_tag(b, i) & TAG_VOLATILE)
        d->nvolatile--;
    d->count--;
    bucket_clear(b, i);
    int drop = s->drop; /* big_release reads it (lazy free) */
    s->drop = (int)why;
    store_entry_free(s, e);
    s->drop = drop;
}

/*
 * Remove an entry because it expired or is evicted: report it, count it and
 * free it. Allocates nothing (lookups come here), so a shrink it calls for
 * is started by the next write.
 */
void store_remove_own(struct store *s, int db, struct loc *loc, bool evicted)
{
    struct db *d = &s->db[db];
    snap_before_head(s, d, loc->head);
    if (s->removed != NULL)
        s->removed(s->removed_arg, db, loc->b->slot[loc->i], evicted);
    if (evicted)
        s->stats.evicted_keys++;
    else
        s->stats.expired_keys++;
    store_slot_remove(s, d, loc->b, loc->i, evicted ? STORE_DROP_EVICT : STORE_DROP_EXPIRE);
    store_chain_tidy(s, loc->head);
    if (d->count == 0)
        store_db_release(s, d);
}

/* ---- lookup and update ------------------------------------------------ */

struct kv *store_lookup(struct store *s, int db, const struct skey *k, int64_t now_ms, int flags)
{
    struct db *d = &s->db[db];
    struct bucket *head = db_chain(d, k->hash);
    struct loc loc;
    struct kv *e = head != NULL ? store_chain_find(head, k, &loc) : NULL;
    s->clock_ms = now_ms;
    if (e != NULL && s->expiry != STORE_EXPIRY_NONE && kv_expired(e, now_ms)) {
        if (s->expiry == STORE_EXPIRY_ACTIVE)
            store_remove_own(s, db, &loc, false);
        e = NULL;
    }
    if (!(flags & (STORE_NOTOUCH | STORE_NOSTATS))) {
        if (e != NULL)
            s->stats.keyspace_hits++;
        else
            s->stats.keyspace_misses++;
    }
    if (e == NULL && unlikely(s->events & STORE_EVENT_MISS) && !(flags & STORE_NONOTIFY) &&
        (!(flags & STORE_NOSTATS) || (flags & STORE_READ_NOSTATS) == STORE_READ_NOSTATS))
        s->event(STORE_EVENT_MISS, db, k->ptr, k->len);
    if (e != NULL && !(flags & STORE_NOTOUCH))
        store_touch(s, e, now_ms);
    return e;
}

bool store_key_live(const struct store *s, int db, const struct skey *k, int64_t now_ms)
{
    struct bucket *head = db_chain(&s->db[db], k->hash);
    struct loc loc;
    struct kv *e = head != NULL ? store_chain_find(head, k, &loc) : NULL;
    return e != NULL && !kv_expired(e, now_ms);
}

/*
 * Overwrite in place when the new entry has the same header layout and
 * needs no more bytes than the old one within the same size class: a SET
 * of a same-sized value costs no allocation. Otherwise build a new entry
 * (before freeing the old, so val may point into it) and swap the slot.
 */
static struct kv *overwrite(struct store *s, struct db *d, struct loc *loc, const struct skey *k,
                            const void *val, size_t vlen, enum kv_enc enc, int64_t expire)
{
    struct kv *old = loc->b->slot[loc->i];
    bool was_volatile = kv_has_expire(old);
    big_release(s, old);
    uint32_t lru = store_policy_is_lfu(s) ? (kv_bits_get(old) & KV_LRU_MASK) : store_lru_now(s);
    uint32_t bits = kv_bits(lru, KV_STRING, enc);
    size_t old_size = kv_size(old), size = kv_size_for(s->bare, expire >= 0, k->len, vlen);
    struct kv *e;
    if (kv_lens_for(s->bare, expire >= 0, k->len, vlen) == old->lens && size <= old_size &&
        mem_size_class(size) == mem_size_class(old_size)) {
        e = old;
        kv_format(e, s->bare, bits, expire, k->len, vlen);
        if (val != NULL && vlen > 0)
            memmove(e->body + kv_key_off(e) + k->len, val, vlen);
    } else {
        e = kv_create(s, bits, expire, k, val, vlen);
        loc->b->slot[loc->i] = e;
        entry_bytes_free(s, old);
    }
    if (was_volatile != (expire >= 0)) {
        bucket_set_volatile(loc->b, loc->i, expire >= 0);
        if (expire >= 0)
            d->nvolatile++;
        else
            d->nvolatile--;
    }
    return e;
}

struct kv *store_set(struct store *s, int db, const struct skey *k, const void *val, size_t vlen,
                     enum kv_enc enc, int64_t expire_ms, int flags)
{
    struct db *d = &s->db[db];
    snap_before_write(s, d, k->hash);
    store_db_write_step(s, d);
    if (expire_ms < 0 || (flags & STORE_KEEPTTL))
        expire_ms = -1;
    struct bucket *head = db_chain(d, k->hash);
    struct loc loc;
    struct kv *old = head != NULL ? store_chain_find(head, k, &loc) : NULL;
    if (old != NULL) {
        if (flags & STORE_KEEPTTL)
            expire_ms = kv_expire(old);
        return overwrite(s, d, &loc, k, val, vlen, enc, expire_ms);
    }
    store_db_prepare_insert(s, d);
    struct kv *e = kv_create(s, kv_bits(store_lru_now(s), KV_STRING, enc), expire_ms, k, val, vlen);
    uint8_t tag = tag_of(k->hash);
    if (expire_ms >= 0) {
        tag |= TAG_VOLATILE;
        d->nvolatile++;
    }
    store_chain_add(s, db_chain(d, k->hash), tag, e);
    d->count++;
    if (unlikely(s->events & STORE_EVENT_NEW))
        s->event(STORE_EVENT_NEW, db, k->ptr, k->len);
    return e;
}

/* Point e's slot at its new address after a reallocation moved it. */
static void relink(struct db *d, struct kv *e, uintptr_t was)
{
    struct loc loc;
    bool found = store_db_locate(d, e, was, &loc);
    assert(found);
    (void)found;
    loc.b->slot[loc.i] = e;
}

/* Reallocate unless the entry shrinks within its size class. */
static struct kv *kv_realloc(struct store *s, struct kv *e, size_t old_size, size_t size)
{
    size_t oc = mem_size_class(old_size), nc = mem_size_class(size);
    if (size <= old_size && oc == nc)
        return e;
    store_mem_sub(s, oc);
    struct kv *n = mem_realloc(e, size);
    store_mem_add(s, nc);
    return n;
}

/* A snapshot saves e's chain before e changes. */
static void snap_before_entry(struct store *s, int db, const struct kv *e)
{
    struct db *d = &s->db[db];
    if (unlikely(d->snap != NULL)) {
        size_t klen;
        const char *key = kv_key(e, &klen);
        snap_before_write(s, d, util_hash(key, klen));
    }
}

struct kv *store_resize(struct store *s, int db, struct kv *e, size_t vlen)
{
    snap_before_entry(s, db, e);
    size_t klen = kv_klen(e), old_vlen = kv_vlen(e), old_size = kv_size(e);
    size_t size = kv_size_for(kv_is_bare(e), kv_has_expire(e), klen, vlen);
    unsigned kc = e->lens & 3, oc = (e->lens >> 2) & 3, nc = kv_width_code(vlen);
    size_t vlen_off = kv_lens_off(e) + (1u << kc);
    size_t keep = klen + MIN(old_vlen, vlen);
    uintptr_t was = (uintptr_t)e;
    if (nc < oc)
        memmove(e->body + vlen_off + (1u << nc), e->body + vlen_off + (1u << oc), keep);
    e = kv_realloc(s, e, old_size, size);
    if (nc > oc)
        memmove(e->body + vlen_off + (1u << nc), e->body + vlen_off + (1u << oc), keep);
    e->lens = (uint8_t)((e->lens & ~0xcu) | (nc << 2));
    kv_write_len(e->body + vlen_off, nc, vlen);
    if ((uintptr_t)e != was)
        relink(&s->db[db], e, was);
    return e;
}

struct kv *store_set_expire(struct store *s, int db, struct kv *e, int64_t when_ms)
{
    snap_before_entry(s, db, e);
    bool has = kv_has_expire(e);
    if (when_ms >= 0 && has) {
        memcpy(e->body + kv_expire_off(e), &when_ms, sizeof(when_ms));
        return e;
    }
    if (when_ms < 0 && !has)
        return e;
    struct db *d = &s->db[db];
    struct loc loc;
    bool found = store_db_locate(d, e, (uintptr_t)e, &loc);
    assert(found);
    (void)found;
    size_t old_size = kv_size(e), at = kv_expire_off(e);
    size_t content = kv_key_off(e) - kv_lens_off(e) + kv_klen(e) + kv_vlen(e);
    if (when_ms >= 0) {
        e = kv_realloc(s, e, old_size, kv_size_for(kv_is_bare(e), true, kv_klen(e), kv_vlen(e)));
        memmove(e->body + at + KV_EXPIRE_BYTES, e->body + at, content);
        memcpy(e->body + at, &when_ms, sizeof(when_ms));
        e->lens |= KV_L_EXPIRE;
        d->nvolatile++;
    } else {
        memmove(e->body + at, e->body + at + KV_EXPIRE_BYTES, content);
        e->lens &= (uint8_t)~KV_L_EXPIRE;
        e = kv_realloc(s, e, old_size, kv_size(e));
        d->nvolatile--;
    }
    loc.b->slot[loc.i] = e;
    bucket_set_volatile(loc.b, loc.i, when_ms >= 0);
    return e;
}

bool store_delete(struct store *s, int db, const struct skey *k, int64_t now_ms)
{
    return store_delete_as(s, db, k, now_ms, STORE_DROP_SERVER);
}

bool store_delete_as(struct store *s, int db, const struct skey *k, int64_t now_ms,
                     enum store_drop why)
{
    struct db *d = &s->db[db];
    s->clock_ms = now_ms;
    snap_before_write(s, d, k->hash);
    store_db_write_step(s, d);
    struct bucket *head = db_chain(d, k->hash);
    struct loc loc;
    struct kv *e = head != NULL ? store_chain_find(head, k, &loc) : NULL;
    if (e == NULL)
        return false;
    bool live = s->expiry != STORE_EXPIRY_ACTIVE || !kv_expired(e, now_ms);
    if (live) {
        store_slot_remove(s, d, loc.b, loc.i, why);
        store_chain_tidy(s, loc.head);
    } else {
        store_remove_own(s, db, &loc, false);
    }
    store_db_after_remove(s, d);
    return live;
}

struct kv *store_set_big(struct store *s, int db, const struct skey *k, enum kv_type type,
                         void *obj, int64_t expire_ms)
{
    struct kv *e = store_set(s, db, k, &obj, sizeof(obj), KV_ENC_BIG, expire_ms, 0);
    kv_set_type(e, type);
    return e;
}

void *store_take_big(struct store *s, int db, struct kv *e)
{
    void *obj = kv_big(e);
    snap_before_entry(s, db, e); /* the snapshot has the value now; the entry can change */
    kv_set_enc(e, KV_ENC_RAW);
    store_delete_entry(s, db, e);
    return obj;
}

void store_delete_entry(struct store *s, int db, struct kv *e)
{
    snap_before_entry(s, db, e);
    struct db *d = &s->db[db];
    struct loc loc;
    bool found = store_db_locate(d, e, (uintptr_t)e, &loc);
    assert(found);
    (void)found;
    store_slot_remove(s, d, loc.b, loc.i, STORE_DROP_SERVER);
    store_chain_tidy(s, loc.head);
    store_db_after_remove(s, d);
}

/* ---- whole databases -------------------------------------------------- */

void store_flush(struct store *s, int db, enum store_drop why)
{
    bool lazy =
        why == STORE_DROP_LAZY || (why == STORE_DROP_USER && s->params->lazyfree_lazy_user_flush);
    for (int i = db < 0 ? 0 : db; i < (db < 0 ? s->ndb : db + 1); i++) {
        store_snap_save_db(s, &s->db[i]);
        if (lazy && s->db[i].count > 0)
            store_lazy_put_db(s, &s->db[i]);
        store_db_clear(s, &s->db[i]);
    }
    s->pool_n = 0;
}

void store_swapdb(struct store *s, int a, int b)
{
    struct db t = s->db[a];
    s->db[a] = s->db[b];
    s->db[b] = t;
    s->pool_n = 0;
}

struct kv *store_random(struct store *s, int db, int64_t now_ms)
{
    struct db *d = &s->db[db];
    struct loc loc;
    s->clock_ms = now_ms;
    for (int tries = 0;; tries++) {
        struct kv *e = store_db_random(d, false, &loc);
        if (e == NULL || s->expiry == STORE_EXPIRY_NONE || !kv_expired(e, now_ms))
            return e;
        if (s->expiry == STORE_EXPIRY_REPLICA) {
            if (tries >= 100)
                return e; /* all expired, none ours to delete: as Redis, give one back */
            continue;
        }
        store_remove_own(s, db, &loc, false);
    }
}

struct scan_ctx {
    store_scan_fn fn;
    void *arg;
};

static void scan_chain(void *ctx, struct bucket *head)
{
    struct scan_ctx *c = ctx;
    for (struct bucket *b = head; b != NULL; b = bucket_next(b)) {
        for (unsigned m = bucket_present(b); m != 0; m &= m - 1)
            c->fn(c->arg, b->slot[__builtin_ctz(m)]);
    }
}

uint64_t store_scan(struct store *s, int db, uint64_t cursor, store_scan_fn fn, void *arg)
{
    struct scan_ctx c = { fn, arg };
    return store_db_scan(&s->db[db], cursor, scan_chain, &c);
}
