/*
 * Internals of the store, shared by its .c files and by nothing else.
 *
 * Entry (struct kv), one allocation:
 *
 *   0      1       [5]        [+8]               +kw         +vw
 *   | lens | bits? | expire? | klen (kw) | vlen (vw) | key | value |
 *
 *   lens: 0-1 key length width, 2-3 value length width (1, 2, 4, 8 bytes),
 *         4 expire present, 5 bare: no bits word
 *   bits: 0-23 LRU clock or LFU data, 24-27 type, 28-29 encoding
 *
 * A bare entry is the element of a collection's member store (a field, a
 * set member, a sorted set's member): it has no access clock, type or
 * encoding of its own, and reads as an unencoded string. Four bytes less per
 * element: a 13-byte set member takes 16 bytes instead of 20 (32 with the
 * allocator's classes).
 *
 * Bucket, one cache line: a metadata word and seven pointers. Metadata bits
 * 0-55 are seven tag bytes (seven hash bits, and bit 7 set when the entry has
 * an expiry), 56-62 say which slots hold an entry, 63 says the bucket is
 * chained: its last slot then points to a child bucket instead of an entry.
 * A head bucket and its children form a chain; an entry lives in the chain
 * its hash selects and moves to another chain only when rehashed.
 *
 * See NOTES.md for the reasoning.
 */
#ifndef POLLUX_STORE_INT_H
#define POLLUX_STORE_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/common.h"
#include "base/mem.h"
#include "store/store.h"

/* ---- entries ---------------------------------------------------------- */

struct kv {
    uint8_t lens;
    unsigned char body[];
};

#define KV_HDR          offsetof(struct kv, body)
#define KV_LRU_MASK     0x00ffffffu
#define KV_TYPE_SHIFT   24
#define KV_TYPE_MASK    (0xfu << KV_TYPE_SHIFT)
#define KV_ENC_SHIFT    28
#define KV_ENC_MASK     (0x3u << KV_ENC_SHIFT)
#define KV_L_EXPIRE     (1u << 4)
#define KV_L_BARE       (1u << 5)
#define KV_BITS_BYTES   4
#define KV_EXPIRE_BYTES 8

/* Width code (0..3) of a length field able to hold n: 1, 2, 4 or 8 bytes. */
static inline unsigned kv_width_code(size_t n)
{
    if (n <= UINT8_MAX)
        return 0;
    if (n <= UINT16_MAX)
        return 1;
    if (n <= UINT32_MAX)
        return 2;
    return 3;
}

static inline size_t kv_read_len(const unsigned char *p, unsigned code)
{
    switch (code) {
    case 0:
        return p[0];
    case 1: {
        uint16_t v;
        memcpy(&v, p, sizeof(v));
        return v;
    }
    case 2: {
        uint32_t v;
        memcpy(&v, p, sizeof(v));
        return v;
    }
    default: {
        uint64_t v;
        memcpy(&v, p, sizeof(v));
        return (size_t)v;
    }
    }
}

static inline void kv_write_len(unsigned char *p, unsigned code, size_t n)
{
    switch (code) {
    case 0:
        p[0] = (uint8_t)n;
        break;
    case 1: {
        uint16_t v = (uint16_t)n;
        memcpy(p, &v, sizeof(v));
        break;
    }
    case 2: {
        uint32_t v = (uint32_t)n;
        memcpy(p, &v, sizeof(v));
        break;
    }
    default: {
        uint64_t v = n;
        memcpy(p, &v, sizeof(v));
        break;
    }
    }
}

static inline bool kv_has_expire(const struct kv *e)
{
    return (e->lens & KV_L_EXPIRE) != 0;
}

static inline bool kv_is_bare(const struct kv *e)
{
    return (e->lens & KV_L_BARE) != 0;
}

/* Offset in body of the expiry (when present): after the bits word. */
static inline size_t kv_expire_off(const struct kv *e)
{
    return kv_is_bare(e) ? 0 : KV_BITS_BYTES;
}

/* The bits word; a bare entry's reads as 0 (a string, unencoded, never accessed). */
static inline uint32_t kv_bits_get(const struct kv *e)
{
    uint32_t v = 0;
    if (!kv_is_bare(e))
        memcpy(&v, e->body, sizeof(v));
    return v;
}

/* Write the bits word; a bare entry has none and keeps nothing. */
static inline void kv_bits_put(struct kv *e, uint32_t v)
{
    if (!kv_is_bare(e))
        memcpy(e->body, &v, sizeof(v));
}

/* Offset in body of the key length field. */
static inline size_t kv_lens_off(const struct kv *e)
{
    return kv_expire_off(e) + (kv_has_expire(e) ? KV_EXPIRE_BYTES : 0);
}

static inline size_t kv_klen(const struct kv *e)
{
    return kv_read_len(e->body + kv_lens_off(e), e->lens & 3);
}

static inline size_t kv_vlen(const struct kv *e)
{
    unsigned kc = e->lens & 3;
    return kv_read_len(e->body + kv_lens_off(e) + (1u << kc), (e->lens >> 2) & 3);
}

/* Offset in body of the key bytes. */
static inline size_t kv_key_off(const struct kv *e)
{
    return kv_lens_off(e) + (1u << (e->lens & 3)) + (1u << ((e->lens >> 2) & 3));
}

/* Bytes an entry with this shape needs. */
static inline size_t kv_size_for(bool bare, bool expire, size_t klen, size_t vlen)
{
    return KV_HDR + (bare ? 0 : KV_BITS_BYTES) + (expire ? KV_EXPIRE_BYTES : 0) +
           (1u << kv_width_code(klen)) + (1u << kv_width_code(vlen)) + klen + vlen;
}

static inline size_t kv_size(const struct kv *e)
{
    return kv_size_for(kv_is_bare(e), kv_has_expire(e), kv_klen(e), kv_vlen(e));
}

static inline int64_t kv_expire_raw(const struct kv *e)
{
    int64_t when;
    memcpy(&when, e->body + kv_expire_off(e), sizeof(when));
    return when;
}

static inline bool kv_key_eq(const struct kv *e, const char *key, size_t len)
{
    size_t off = kv_lens_off(e);
    unsigned kc = e->lens & 3;
    if (kv_read_len(e->body + off, kc) != len)
        return false;
    off += (1u << kc) + (1u << ((e->lens >> 2) & 3));
    return memcmp(e->body + off, key, len) == 0;
}

/* An entry is expired once the clock is past its expiry (Redis: now > when). */
static inline bool kv_expired(const struct kv *e, int64_t now_ms)
{
    return kv_has_expire(e) && now_ms > kv_expire_raw(e);
}

/* ---- buckets ---------------------------------------------------------- */

#define BUCKET_SLOTS    7
#define CHILD_SLOT      (BUCKET_SLOTS - 1)
#define META_PRES_SHIFT 56
#define META_CHAINED    (1ull << 63)
#define TAG_VOLATILE    0x80u
#define TAG_HASH_MASK   0x7fu
#define SLOTS_ALL       0x7fu
#define SLOTS_CHAINED   0x3fu /* usable entry slots of a chained bucket */

struct bucket {
    uint64_t meta;
    void *slot[BUCKET_SLOTS];
};

_Static_assert(sizeof(struct bucket) == CACHE_LINE_SIZE, "a bucket is one cache line");

static inline uint8_t tag_of(uint64_t hash)
{
    return (uint8_t)(hash >> 57);
}

static inline unsigned bucket_present(const struct bucket *b)
{
    return (unsigned)(b->meta >> META_PRES_SHIFT) & SLOTS_ALL;
}

static inline bool bucket_chained(const struct bucket *b)
{
    return (b->meta & META_CHAINED) != 0;
}

static inline struct bucket *bucket_next(const struct bucket *b)
{
    return bucket_chained(b) ? b->slot[CHILD_SLOT] : NULL;
}

static inline unsigned bucket_usable(const struct bucket *b)
{
    return bucket_chained(b) ? SLOTS_CHAINED : SLOTS_ALL;
}

static inline uint8_t bucket_tag(const struct bucket *b, unsigned i)
{
    return (uint8_t)(b->meta >> (8 * i));
}

static inline void bucket_put(struct bucket *b, unsigned i, uint8_t tag, void *e)
{
    b->meta &= ~(0xffull << (8 * i));
    b->meta |= ((uint64_t)tag << (8 * i)) | (1ull << (META_PRES_SHIFT + i));
    b->slot[i] = e;
}

static inline void bucket_clear(struct bucket *b, unsigned i)
{
    b->meta &= ~((0xffull << (8 * i)) | (1ull << (META_PRES_SHIFT + i)));
    b->slot[i] = NULL;
}

static inline void bucket_set_volatile(struct bucket *b, unsigned i, bool on)
{
    uint64_t bit = (uint64_t)TAG_VOLATILE << (8 * i);
    b->meta = on ? (b->meta | bit) : (b->meta & ~bit);
}

/*
 * Gather bit 7 of each of the seven low bytes of x into bits 0..6. The
 * multiplier's partial products land on distinct bit positions, so there are
 * no carries and byte i's bit arrives at bit 56 + i.
 */
static inline unsigned meta_gather(uint64_t x)
{
    x = (x >> 7) & 0x0001010101010101ull;
    return (unsigned)((x * 0x0102040810204080ull) >> 56) & SLOTS_ALL;
}

/* Occupied slots whose tag's hash bits equal those of t. */
static inline unsigned bucket_match(const struct bucket *b, uint8_t t)
{
    uint64_t x = (b->meta ^ (0x0001010101010101ull * (t & TAG_HASH_MASK))) & 0x007f7f7f7f7f7f7full;
    /* A byte of x is zero exactly when its bit 7 stays clear after adding 0x7f. */
    uint64_t z = ~(x + 0x007f7f7f7f7f7f7full) & 0x0080808080808080ull;
    return meta_gather(z) & bucket_present(b);
}

/* Occupied slots holding an entry with an expiry. */
static inline unsigned bucket_volatile(const struct bucket *b)
{
    return meta_gather(b->meta & 0x0080808080808080ull) & bucket_present(b);
}

static inline bool chain_empty(const struct bucket *b)
{
    return bucket_present(b) == 0 && !bucket_chained(b);
}

/* ---- tables and databases --------------------------------------------- */

struct table {
    struct bucket *b; /* cache-line aligned, NULL when there is no table */
    void *raw;        /* the allocation b lives in */
    uint64_t mask;    /* buckets - 1 */
    size_t bytes;     /* accounted size of raw */
};

struct db_snap;

struct db {
    struct table t[2];    /* t[1] is used only while rehashing */
    struct db_snap *snap; /* a snapshot has chains of this database still to save */
    bool rehashing;
    uint64_t rehash_idx; /* buckets of t[0] below this have moved to t[1] */
    size_t count;
    size_t nvolatile;
    uint64_t expire_cursor; /* active expiry's scan cursor */
    int64_t avg_ttl;        /* ms, estimated by active expiry (INFO keyspace) */
    uint64_t drain;         /* store_db_drain's cursor (a database being freed in steps) */
};

/* Where an entry sits: its chain's head bucket, the bucket, the slot. */
struct loc {
    struct bucket *head;
    struct bucket *b;
    unsigned i;
};

#define POOL_SIZE 16

struct pool_slot {
    uint64_t score; /* higher is a better victim */
    uint64_t hash;
    uintptr_t addr; /* the entry's address: compared with slots, never dereferenced */
    int db;
};

struct store {
    const struct store_params *params;
    struct store *owner; /* a member store: the store its memory also counts in */
    bool bare;           /* entries without the bits word (KV_L_BARE): a member store */
    /*
     * Member stores with a resize in progress, so that the owner's idle step
     * (store_rehash_step) finishes theirs too: a collection that stops growing
     * would otherwise keep both tables. rehash_head in the owner, the links in
     * each member store (rehash_pprev NULL when not listed).
     */
    struct store *rehash_head;
    struct store *rehash_next;
    struct store **rehash_pprev;
    struct db *db;
    int ndb;
    /*
     * Bytes of entries and tables. Only the thread using the store writes it, but
     * other threads read it (store_used) to tell the dataset from the node's
     * overhead: it is lowered before memory is freed and raised after it is
     * allocated, so a reader that takes the allocator's total first never sees
     * freed memory still counted here.
     */
    atomic_size_t used;
    int64_t clock_ms; /* latest time given by the owner */
    int expiry;       /* enum store_expiry */
    struct store_stats stats;
    store_removed_fn removed;
    void *removed_arg;
    store_event_fn event; /* keyspace events a command does not see: a new key, a read miss */
    int events;           /* STORE_EVENT_* wanted: 0, the common case, costs one test */
    int expire_db;        /* where the next active expiry cycle starts */
    int evict_db;         /* next database for the random policies */
    int pool_policy;
    int pool_n;
    struct pool_slot pool[POOL_SIZE];
    /* lazy free (lazy.c) */
    int drop;                    /* enum store_drop: why entries are being removed now */
    struct lazy_item *lazy_head; /* values and databases dropped, freed in steps */
    struct lazy_item **lazy_tail;
    atomic_size_t lazy_pending; /* objects among them (a database counts its keys) */
    atomic_uint_fast64_t lazy_freed;
    /* snapshot (snapshot.c) */
    store_snap_fn snap_fn;
    void *snap_arg;
    void (*snap_end)(void *arg); /* nested snapshots: told when every entry is passed */
    int snap_active;             /* databases with chains still to save */
    int snap_db;                 /* where store_snap_step continues */
};

static inline size_t table_buckets(const struct table *t)
{
    return t->b != NULL ? (size_t)t->mask + 1 : 0;
}

/* The chain that holds (or would hold) a key of this hash, NULL without a table. */
static inline struct bucket *db_chain(const struct db *d, uint64_t hash)
{
    const struct table *t = &d->t[0];
    if (t->b == NULL)
        return NULL;
    uint64_t i = hash & t->mask;
    if (d->rehashing && i < d->rehash_idx) {
        t = &d->t[1];
        i = hash & t->mask;
    }
    return &t->b[i];
}

/* table.c */
struct kv *store_chain_find(struct bucket *head, const struct skey *k, struct loc *loc);
/* Find the slot holding an entry by address (compared, not dereferenced). */
bool store_chain_find_addr(struct bucket *head, uintptr_t addr, struct loc *loc);
void store_chain_add(struct store *s, struct bucket *head, uint8_t tag, struct kv *e);
void store_chain_tidy(struct store *s, struct bucket *head);
/* Find e's slot; `addr` is where e was before a move (or e itself). */
bool store_db_locate(const struct db *d, const struct kv *e, uintptr_t addr, struct loc *loc);
void store_db_prepare_insert(struct store *s, struct db *d);
void store_db_after_remove(struct store *s, struct db *d);
bool store_db_rehash(struct store *s, struct db *d, size_t buckets);
/* List a member store in its owner's rehash list while one of its tables resizes, unlist it
 * otherwise (`force_out`: unlist it whatever its state). */
void store_rehash_track(struct store *s, bool force_out);
void store_db_release(struct store *s, struct db *d);
/*
 * Free a database a step at a time (lazy free): entries and chains from d->drain on, taking
 * one from *budget per entry and per chain, counting entries freed in *entries; then its
 * tables. @return true when d is empty (and zeroed).
 */
bool store_db_drain(struct store *s, struct db *d, size_t *budget, size_t *entries);
void store_db_clear(struct store *s, struct db *d);
void store_db_write_step(struct store *s, struct db *d);

typedef void (*store_chain_fn)(void *ctx, struct bucket *head);
uint64_t store_db_scan(struct db *d, uint64_t cursor, store_chain_fn fn, void *ctx);

struct kv *store_db_random(struct db *d, bool only_volatile, struct loc *loc);
size_t store_db_sample(struct db *d, bool only_volatile, struct kv **out, size_t want);

/* store.c */
void store_entry_free(struct store *s, struct kv *e);
/* lazy.c: whether a value dropped now is freed in steps; put a big value or a database aside. */
bool store_lazy_now(const struct store *s, int why);
bool store_big_step(struct store *s, int type, void *obj, size_t *budget); /* store.c */
void store_lazy_put_big(struct store *s, int type, void *obj);
void store_lazy_put_db(struct store *s, struct db *d);
/* Free everything put aside, now (store_destroy). */
void store_lazy_finish(struct store *s);
/* Unlink the entry at loc, free it (its big value lazily or not as `why` says), keep counts;
 * the chain is not tidied. */
void store_slot_remove(struct store *s, struct db *d, struct bucket *b, unsigned i,
                       enum store_drop why);
/* Remove an entry the store gives up on its own (expiry or eviction). */
void store_remove_own(struct store *s, int db, struct loc *loc, bool evicted);
uint32_t store_lru_now(const struct store *s);

/* snapshot.c: save the chain before it changes (see store_snap_begin) */
void store_snap_save_head(struct store *s, struct db *d, struct bucket *head);
void store_snap_save_db(struct store *s, struct db *d);
static inline void snap_before_write(struct store *s, struct db *d, uint64_t hash)
{
    if (unlikely(d->snap != NULL)) {
        struct bucket *head = db_chain(d, hash);
        if (head != NULL)
            store_snap_save_head(s, d, head);
    }
}
static inline void snap_before_head(struct store *s, struct db *d, struct bucket *head)
{
    if (unlikely(d->snap != NULL))
        store_snap_save_head(s, d, head);
}

/* kv.c */
void store_touch(const struct store *s, struct kv *e, int64_t now_ms);
unsigned store_lfu_decayed(const struct store *s, uint32_t lru, int64_t now_ms);
uint64_t store_idle_ms(uint32_t lru, int64_t now_ms);

/* Account n more bytes (after allocating them); a plain store, the store has one writer. */
static inline void store_mem_add(struct store *s, size_t n)
{
    do
        atomic_store_explicit(&s->used, atomic_load_explicit(&s->used, memory_order_relaxed) + n,
                              memory_order_relaxed);
    while (unlikely((s = s->owner) != NULL));
}

/* Account n fewer bytes (before freeing them). */
static inline void store_mem_sub(struct store *s, size_t n)
{
    do
        atomic_store_explicit(&s->used, atomic_load_explicit(&s->used, memory_order_relaxed) - n,
                              memory_order_relaxed);
    while (unlikely((s = s->owner) != NULL));
}

static inline bool kv_is_big(const struct kv *e)
{
    return (kv_bits_get(e) & KV_ENC_MASK) == ((uint32_t)KV_ENC_BIG << KV_ENC_SHIFT);
}

#endif
