/*
 * The keyspace of one shard: `databases` hash tables of entries, expiry,
 * eviction and memory accounting.
 *
 * A store is used by one thread at a time: its owning worker, or a worker
 * that holds the shard for a multi-shard transaction (see shard/). It keeps no
 * thread-local state and takes no locks.
 *
 * Entries (struct kv) hold key, value and metadata in one allocation; small
 * values live inline. A kv pointer stays valid until the entry is deleted or
 * an operation documented as "may move e" returns a new pointer; table
 * resizes never move entries.
 *
 * Layout and the reasoning behind it: dataplane/store/NOTES.md.
 */
#ifndef POLLUX_STORE_H
#define POLLUX_STORE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/param.h"

enum store_policy {
    POLICY_VOLATILE_LRU = 0,
    POLICY_VOLATILE_LFU,
    POLICY_VOLATILE_RANDOM,
    POLICY_VOLATILE_TTL,
    POLICY_ALLKEYS_LRU,
    POLICY_ALLKEYS_LFU,
    POLICY_ALLKEYS_RANDOM,
    POLICY_NOEVICTION,
};
extern const char *const store_policy_names[];

/* Parameters the store reads (the owner keeps them current; the store holds a pointer). */
#define STORE_PARAMS(X)                                                                            \
    X(maxmemory, "maxmemory", MEMORY, 0, 0, LLONG_MAX, PARAM_MUTABLE, NULL)                        \
    X(maxmemory_policy, "maxmemory-policy", ENUM, POLICY_NOEVICTION, 0, 0, PARAM_MUTABLE,          \
      store_policy_names)                                                                          \
    X(maxmemory_samples, "maxmemory-samples", INT, 5, 1, 64, PARAM_MUTABLE, NULL)                  \
    X(maxmemory_eviction_tenacity, "maxmemory-eviction-tenacity", INT, 10, 0, 100, PARAM_MUTABLE,  \
      NULL)                                                                                        \
    X(lfu_log_factor, "lfu-log-factor", INT, 10, 0, INT_MAX, PARAM_MUTABLE, NULL)                  \
    X(lfu_decay_time, "lfu-decay-time", INT, 1, 0, INT_MAX, PARAM_MUTABLE, NULL)                   \
    X(active_expire_effort, "active-expire-effort", INT, 1, 1, 10, PARAM_MUTABLE, NULL)            \
    X(lazyfree_lazy_eviction, "lazyfree-lazy-eviction", BOOL, 0, 0, 1, PARAM_MUTABLE, NULL)        \
    X(lazyfree_lazy_expire, "lazyfree-lazy-expire", BOOL, 0, 0, 1, PARAM_MUTABLE, NULL)            \
    X(lazyfree_lazy_server_del, "lazyfree-lazy-server-del", BOOL, 0, 0, 1, PARAM_MUTABLE, NULL)    \
    X(lazyfree_lazy_user_del, "lazyfree-lazy-user-del", BOOL, 0, 0, 1, PARAM_MUTABLE, NULL)        \
    X(lazyfree_lazy_user_flush, "lazyfree-lazy-user-flush", BOOL, 0, 0, 1, PARAM_MUTABLE, NULL)    \
    X(databases, "databases", INT, 16, 1, INT_MAX, 0, NULL)

PARAM_STRUCT(store_params, STORE_PARAMS);
extern const struct param_def store_param_defs[];

/* Value types, numbered as RDB's plain type bytes and rdb.h's enum rdb_coll_kind. */
enum kv_type { KV_STRING = 0, KV_LIST = 1, KV_SET = 2, KV_ZSET = 3, KV_HASH = 4 };
/*
 * Encodings. Strings: raw, int, embstr. Collections: a pack (types/pack.h) inline in the
 * value bytes (KV_ENC_PACK), or a big value (KV_ENC_BIG): the value bytes are a pointer to an
 * object the type's code owns (a member store, a chunked list), freed through the type's
 * hook (store_set_big_free). Docs: docs/data-types.md.
 */
enum kv_enc { KV_ENC_RAW = 0, KV_ENC_INT, KV_ENC_EMBSTR, KV_ENC_PACK = 0, KV_ENC_BIG = 3 };

struct kv; /* opaque: header + key + value in one allocation */

/* A key with its hash computed once per command. */
struct skey {
    const char *ptr;
    size_t len;
    uint64_t hash;
};
void skey_init(struct skey *k, const char *ptr, size_t len);

/* Entry accessors. */
const char *kv_key(const struct kv *e, size_t *len);
char *kv_val(struct kv *e, size_t *len); /* KV_STRING: the value bytes (writable) */
enum kv_type kv_type(const struct kv *e);
enum kv_enc kv_enc(const struct kv *e);
void kv_set_enc(struct kv *e, enum kv_enc enc);
/* Set the type of an entry store_set just made (store_set makes strings). */
void kv_set_type(struct kv *e, enum kv_type type);
int64_t kv_expire(const struct kv *e); /* absolute unix ms, or -1 when persistent */
/* The object of a KV_ENC_BIG entry. */
void *kv_big(const struct kv *e);

/* Counters a store keeps (read by INFO; reset by CONFIG RESETSTAT). */
struct store_stats {
    uint64_t expired_keys;       /* removed by lazy or active expiry */
    uint64_t expired_stale_perc; /* last active cycle's estimate of stale volatile keys, % */
    uint64_t expired_time_cap_reached_count;
    uint64_t evicted_keys;
    uint64_t keyspace_hits;
    uint64_t keyspace_misses;
};

/*
 * Called when the store itself removes a key (expiry, eviction), before the
 * entry is freed; `evicted` tells which. Used later for the replication feed.
 */
typedef void (*store_removed_fn)(void *arg, int db, const struct kv *e, bool evicted);

struct store;

/*
 * Create a store with params->databases databases. `params` must outlive the
 * store; its values may change between calls (CONFIG SET).
 * @return the store (never NULL: allocation failure aborts).
 */
struct store *store_create(const struct store_params *params);
void store_destroy(struct store *s);
void store_set_removed_hook(struct store *s, store_removed_fn fn, void *arg);
/*
 * Keyspace events only the store sees (notify-keyspace-events n and m): a key created by an
 * insert, a read lookup that found nothing. `fn` is called on the thread running the
 * command, for the events in the mask set with store_set_events (none by default).
 */
enum { STORE_EVENT_NEW = 1, STORE_EVENT_MISS = 2 };
typedef void (*store_event_fn)(int event, int db, const char *key, size_t len);
void store_set_event_hook(struct store *s, store_event_fn fn);
void store_set_events(struct store *s, int mask);
struct store_stats *store_stats(struct store *s);
int store_databases(const struct store *s);

/*
 * Tell the store the time. Calls that take now_ms do this too; store_set,
 * which does not, stamps new entries' LRU/LFU data with the latest time given.
 */
void store_set_clock(struct store *s, int64_t now_ms);

/*
 * How expired keys are treated. ACTIVE (a primary): an expired key found is
 * deleted on the spot and reported. On a replica keys expire only when the
 * primary says so: REPLICA hides expired keys from lookups without deleting
 * them (the primary's DEL follows), and NONE, set while applying the
 * primary's stream, treats nothing as expired, so the stream acts on the
 * keys the primary still has.
 */
enum store_expiry { STORE_EXPIRY_ACTIVE = 0, STORE_EXPIRY_REPLICA, STORE_EXPIRY_NONE };
void store_set_expiry(struct store *s, enum store_expiry mode);
enum store_expiry store_get_expiry(const struct store *s);

/*
 * Table resizes are incremental: writes move a bucket chain each. Move up to
 * `buckets` more in db (-1: in every database), for the owner to call when idle.
 * @return true while a resize is still in progress.
 */
bool store_rehash_step(struct store *s, int db, size_t buckets);

/*
 * Prefetch for a batch of lookups (a pipeline): first store_prefetch_chain for
 * every key's hash, then store_prefetch_entry for each, so the cache misses
 * of the whole batch overlap instead of running back to back. Hints only:
 * nothing is read that a lookup would not read.
 */
void store_prefetch_chain(const struct store *s, int db, uint64_t hash);
void store_prefetch_entry(const struct store *s, int db, uint64_t hash);

/* Lookup flags */
#define STORE_NOTOUCH  0x1 /* do not update LRU/LFU data or hit/miss counters */
#define STORE_NOSTATS  0x2 /* update LRU/LFU but not hit/miss counters (writes) */
#define STORE_NONOTIFY 0x4 /* no keymiss event for a miss (OBJECT, as Redis's LOOKUP_NONOTIFY) */
/* A read that counts no hit or miss but is a keymiss when it finds nothing (the sources of
 * SINTERSTORE, ZUNIONSTORE ...: Redis reads them so) */
#define STORE_READ_NOSTATS (STORE_NOSTATS | 0x8)

/*
 * Find a live key. An expired key is deleted on the spot (counted in
 * expired_keys, reported to the removed hook) and NULL returned.
 */
struct kv *store_lookup(struct store *s, int db, const struct skey *k, int64_t now_ms, int flags);

/*
 * Is k in db and not expired? No side effect: an expired key stays, nothing is counted or
 * touched (WATCH's view, Redis's keyIsExpired).
 */
bool store_key_live(const struct store *s, int db, const struct skey *k, int64_t now_ms);

/* store_set flags */
#define STORE_KEEPTTL 0x1 /* keep the existing entry's expiry (expire_ms ignored) */

/*
 * Insert or overwrite `k` with a string of vlen bytes copied from val (or left
 * uninitialised when val is NULL, for the caller to fill), encoding enc, and
 * absolute expiry expire_ms (-1: none). An overwritten entry is freed.
 * @return the entry.
 */
struct kv *store_set(struct store *s, int db, const struct skey *k, const void *val, size_t vlen,
                     enum kv_enc enc, int64_t expire_ms, int flags);

/*
 * Big values. A hook per type frees a big value's object when its entry goes (overwrite,
 * delete, expiry, eviction, FLUSHALL); `s` is the store the entry was in. Set once at start,
 * before any store exists. store_set_big inserts or overwrites k with a big value of `type`
 * (the object's memory is accounted by the type's code: store_account).
 */
typedef void (*store_big_free_fn)(struct store *s, void *obj);
/* Free part of obj, taking one from *budget per element freed: @return true when it is gone. */
typedef bool (*store_big_step_fn)(struct store *s, void *obj, size_t *budget);
/* What freeing obj costs, in allocations: lazy free puts aside only a value above 64, as
 * Redis does (LAZYFREE_THRESHOLD); a smaller one is freed at once. */
typedef size_t (*store_big_effort_fn)(const void *obj);
struct store_big_ops {
    store_big_free_fn free;
    store_big_step_fn step;
    store_big_effort_fn effort;
};
void store_set_big_ops(enum kv_type type, const struct store_big_ops *ops);
struct kv *store_set_big(struct store *s, int db, const struct skey *k, enum kv_type type,
                         void *obj, int64_t expire_ms);
/* Remove e from the keyspace without freeing its big value: @return the object (RENAME). */
void *store_take_big(struct store *s, int db, struct kv *e);
/* Count n more (after allocating) or fewer (before freeing) bytes held by a big value. */
void store_account_add(struct store *s, size_t n);
void store_account_sub(struct store *s, size_t n);

/*
 * Member stores: the elements of a big hash, set or sorted set kept in a store of one
 * database, each element an entry (the member as its key, the element's value bytes as its
 * value), so a collection gets the keyspace's table (SCAN's guarantees, incremental rehash,
 * random picks, snapshots) for free. Its memory counts in `owner` too (store_used of the
 * owner includes it). Use store_lookup/store_set/store_delete... with db 0 and STORE_NOTOUCH.
 * Its entries are bare: no access clock, type or encoding (they read as unencoded strings).
 */
struct store *store_members_new(struct store *owner);
/*
 * A store of one database with no owner whose entries are whole (type, encoding, access
 * clock, expiry): where RESTORE builds a key before it replaces the keyspace's. Freed with
 * store_members_free.
 */
struct store *store_scratch_new(void);
/* Free a member store and everything in it (the owner's count drops by its size). */
void store_members_free(struct store *m);
/* The same in steps (store_big_step_fn): @return true when m is freed. */
bool store_members_step(struct store *m, size_t *budget);
/* Count a member store in another owner (a collection moved to another shard's store). */
void store_members_reown(struct store *m, struct store *owner);

/* Resize e's string value to vlen bytes, keeping the first min(old, new). May move e. */
struct kv *store_resize(struct store *s, int db, struct kv *e, size_t vlen);

/* Set (when_ms >= 0) or remove (-1) e's expiry. May move e. */
struct kv *store_set_expire(struct store *s, int db, struct kv *e, int64_t when_ms);

/*
 * Lazy free (lazyfree-lazy-*). A big value (a collection) dropped lazily leaves the keyspace
 * at once and is freed in steps by store_lazy_step, which the owner calls every pass (it
 * returns at once when nothing is set aside); a database flushed lazily likewise. Whether a drop is
 * lazy follows its reason: expiry and eviction read lazyfree-lazy-expire/-eviction themselves.
 */
enum store_drop {
    STORE_DROP_SERVER, /* overwrites, a command's implicit delete: lazyfree-lazy-server-del */
    STORE_DROP_USER,   /* DEL: lazyfree-lazy-user-del; FLUSHALL/FLUSHDB: lazyfree-lazy-user-flush */
    STORE_DROP_LAZY,   /* UNLINK, FLUSHALL ASYNC, replica-lazy-flush: always */
    STORE_DROP_SYNC,   /* FLUSHALL SYNC: never */
    STORE_DROP_EXPIRE, /* the store's own: lazyfree-lazy-expire */
    STORE_DROP_EVICT,  /* the store's own: lazyfree-lazy-eviction */
};
/* Free up to `budget` elements of what was dropped lazily. @return elements freed. */
size_t store_lazy_step(struct store *s, size_t budget);
/* Values (and keys of flushed databases) dropped lazily and not yet freed, and freed so far
 * (INFO lazyfree_pending_objects, lazyfreed_objects). Any thread may read them. */
size_t store_lazy_pending(const struct store *s);
uint64_t store_lazy_freed(const struct store *s);

/* Delete a key. @return true when it existed (expired keys count as absent). */
bool store_delete(struct store *s, int db, const struct skey *k, int64_t now_ms);
/* The same, for a reason (DEL, UNLINK) other than the server's own. */
bool store_delete_as(struct store *s, int db, const struct skey *k, int64_t now_ms,
                     enum store_drop why);
void store_delete_entry(struct store *s, int db, struct kv *e);

size_t store_count(const struct store *s, int db); /* keys, including not-yet-removed expired */
size_t store_volatile_count(const struct store *s, int db); /* keys with an expiry */
/* Average TTL in ms of db's volatile keys, as sampled by active expiry (0: none). */
long long store_avg_ttl(const struct store *s, int db);
/* Remove every key of db (db == -1: of every database); `why`: USER, LAZY or SYNC. */
void store_flush(struct store *s, int db, enum store_drop why);
/* Exchange the contents of two databases. */
void store_swapdb(struct store *s, int a, int b);

/* A random live key, or NULL when db is empty; expired keys met are deleted. */
struct kv *store_random(struct store *s, int db, int64_t now_ms);

/*
 * Incremental iteration with Redis's SCAN guarantees: start with cursor 0,
 * call fn for every entry of the visited buckets, continue with the returned
 * cursor until it is 0. An entry present for the whole iteration is visited
 * at least once even across resizes; the cursor is below 2^58.
 * fn may not modify the store; expired entries are passed too (check kv_expire).
 */
typedef void (*store_scan_fn)(void *arg, struct kv *e);
uint64_t store_scan(struct store *s, int db, uint64_t cursor, store_scan_fn fn, void *arg);

/*
 * Active expiry: sample volatile keys, delete the expired ones, repeat while
 * the sampled stale fraction stays above the effort's threshold and fewer than
 * max_checks entries have been examined.
 * @return the number of keys expired.
 */
size_t store_expire_cycle(struct store *s, int64_t now_ms, size_t max_checks);

/*
 * Bytes used by this store (entries and tables, allocator size classes). Any
 * thread may read it: lowered before memory is freed, raised after it is
 * allocated, so read after the allocator's total it never counts freed memory.
 */
size_t store_used(const struct store *s);
/* Bytes one entry costs (MEMORY USAGE). */
size_t store_entry_usage(const struct store *s, const struct kv *e);

/*
 * Evict keys per params->maxmemory_policy until store_used(s) <= limit.
 * @return 0 when under the limit, -ENOMEM when nothing more can be evicted
 *         (noeviction, or no candidate under a volatile-* policy).
 */
int store_evict(struct store *s, size_t limit, int64_t now_ms);

/*
 * Snapshots without fork: a point-in-time copy of every database, made while
 * the store keeps serving. From store_snap_begin on, every entry present at
 * that moment is passed to fn exactly once, with the value it had then:
 * either by store_snap_step, which walks the chains in order, or just before
 * an operation would change, add to or remove from its chain (the chain is
 * saved first, whole). Entries added later are never passed. `db` is the
 * database the entry was in when the snapshot began (SWAPDB moves it).
 * While a snapshot runs, tables do not resize (chains absorb growth), so
 * chain positions stay put. One snapshot per store at a time.
 */
typedef void (*store_snap_fn)(void *arg, int db, const struct kv *e);
void store_snap_begin(struct store *s, store_snap_fn fn, void *arg);
/* Save up to about `max_entries` more entries. @return entries saved. */
size_t store_snap_step(struct store *s, size_t max_entries);
/* Whether a snapshot still has entries to save. */
bool store_snap_active(const struct store *s);
/* Stop the snapshot now (its consumer went away); nothing more is passed. */
void store_snap_abort(struct store *s);
/*
 * Nested snapshots (a big collection's member store saved a slice at a time): `end` is called
 * once the snapshot has passed every entry, whether by store_snap_step or because the store
 * is about to be freed or to change owner (store_snap_finish saves the rest first, so no entry
 * is lost); not after store_snap_abort. Set after store_snap_begin.
 */
void store_snap_on_end(struct store *s, void (*end)(void *arg));
void store_snap_finish(struct store *s);
/*
 * Save the chain of `key` in db now if the snapshot has not yet: for callers
 * about to modify an entry's bytes in place (the command layer does this,
 * from the row's key positions, before every write).
 */
void store_snap_touch(struct store *s, int db, const char *key, size_t len);

/* OBJECT IDLETIME (seconds) and OBJECT FREQ. */
long long store_idle_seconds(const struct store *s, const struct kv *e, int64_t now_ms);
int store_lfu_freq(const struct store *s, const struct kv *e, int64_t now_ms);
/*
 * Set e's access data as if last used idle_s seconds ago (an LRU policy) or to LFU counter
 * lfu_freq (an LFU policy); a value of -1 for the policy in force leaves e alone (RESTORE's
 * IDLETIME and FREQ, as Redis applies them).
 */
void store_set_access(const struct store *s, struct kv *e, long long idle_s, int lfu_freq,
                      int64_t now_ms);
/* Whether the current policy tracks LFU (OBJECT FREQ) rather than LRU (OBJECT IDLETIME). */
bool store_policy_is_lfu(const struct store *s);

#endif
