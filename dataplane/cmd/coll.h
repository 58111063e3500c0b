/*
 * Collections (hashes, lists, sets, sorted sets) as the generic commands, the RDB writer,
 * DUMP/RESTORE and the loaders see them: one interface, one implementation per type
 * (cmd/hash.c, cmd/list.c, cmd/set.c, cmd/zset.c), dispatched by kv_type in cmd/coll.c.
 *
 * Every collection is either a pack (types/pack.h) inline in its key's entry or a big value
 * (KV_ENC_BIG: the entry holds a pointer to an object its type owns). Which one, and the
 * conversion between them, is the type's business; the thresholds are Redis 7.0's
 * parameters (COLL_PARAMS). Layouts and memory arithmetic: docs/data-types.md.
 */
#ifndef POLLUX_CMD_COLL_H
#define POLLUX_CMD_COLL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/param.h"
#include "store/store.h"

struct rdb_buf;
struct rdb_encode_opts;

/* Redis 7.0's names and defaults; the *-ziplist-* names are aliases (worker/config.c). */
#define COLL_PARAMS(X)                                                                             \
    X(hash_max_entries, "hash-max-listpack-entries", INT, 512, 0, LONG_MAX, PARAM_MUTABLE, NULL)   \
    X(hash_max_value, "hash-max-listpack-value", INT, 64, 0, LONG_MAX, PARAM_MUTABLE, NULL)        \
    X(list_max_size, "list-max-listpack-size", INT, -2, INT_MIN, INT_MAX, PARAM_MUTABLE, NULL)     \
    X(list_compress_depth, "list-compress-depth", INT, 0, 0, INT_MAX, PARAM_MUTABLE, NULL)         \
    X(set_max_intset, "set-max-intset-entries", INT, 512, 0, LONG_MAX, PARAM_MUTABLE, NULL)        \
    X(zset_max_entries, "zset-max-listpack-entries", INT, 128, 0, LONG_MAX, PARAM_MUTABLE, NULL)   \
    X(zset_max_value, "zset-max-listpack-value", INT, 64, 0, LONG_MAX, PARAM_MUTABLE, NULL)

PARAM_STRUCT(coll_params, COLL_PARAMS);
extern const struct param_def coll_param_defs[];
/* The defaults, for code that has no configuration (tests, tools). */
extern const struct coll_params coll_params_default;

/* Register the big values' free hooks with the store. Call once before any store exists. */
void coll_init(void);

/* OBJECT ENCODING's name for a collection, as Redis 7.0 would name it. */
const char *coll_encoding(const struct kv *e);
/* Elements (a hash's fields, a list's items, ...). */
size_t coll_count(const struct kv *e);
/* Bytes of e's big value, 0 for a pack (MEMORY USAGE adds it to the entry's). */
size_t coll_big_bytes(const struct kv *e);

/*
 * Every element of e in the type's order: a hash's field (a) and value (b), a list's item,
 * a set's member, a sorted set's member and score (b NULL for those three).
 */
typedef void (*coll_each_fn)(void *arg, const char *a, size_t alen, const char *b, size_t blen,
                             double score);
void coll_each(const struct kv *e, coll_each_fn fn, void *arg);

/* A deep copy of collection e as key k of store ds (COPY). @return the new entry. */
struct kv *coll_copy(struct store *ds, int db, const struct skey *k, const struct kv *e,
                     int64_t expire_ms);
/*
 * Move collection e from ss/sdb to key k of ds/ddb (RENAME, MOVE): a big value changes owner
 * without being copied. @return the new entry.
 */
struct kv *coll_move(struct store *ss, int sdb, struct kv *e, struct store *ds, int ddb,
                     const struct skey *k);

/* e as one RDB record (Redis 7.0's encodings; small ones in its compact records), or its
 * value alone when o->value_only is set (DUMP). */
void coll_encode(struct rdb_buf *b, const struct kv *e, int64_t expire_ms,
                 const struct rdb_encode_opts *o);

/*
 * Loading a collection from an RDB stream (files, full sync, RESTORE): begin (an empty
 * collection of the RDB kind at k; the key must be absent), then one item per element as
 * rdb.h's coll_item callback gives them, then end (an empty collection is removed, as Redis
 * drops it). Items are added as the commands add them, so encodings follow the parameters.
 * @return 0, or a negative errno for an item that cannot be stored (the key is removed).
 */
struct coll_loader {
    struct store *s;
    int db;
    struct kv *e;
    const struct coll_params *p;
};
/* Whether this node stores collections of an RDB kind (enum rdb_coll_kind). */
bool coll_kind_stored(int kind);
int coll_load_begin(struct coll_loader *l, struct store *s, int db, int kind, const struct skey *k,
                    int64_t expire_ms, const struct coll_params *p);
int coll_load_item(struct coll_loader *l, const char *a, size_t alen, const char *b, size_t blen,
                   double score);
int coll_load_end(struct coll_loader *l);

/* ---- shared by the types' commands ------------------------------------------------------ */

struct cmd_ctx;
struct reply;
struct resp_arg;

/*
 * The key at argv[i] when it holds a `type` (its store and key in *s, *k): NULL when absent,
 * or when it holds another type (WRONGTYPE replied, *wrong set). flags as store_lookup's.
 */
struct kv *coll_lookup(struct cmd_ctx *c, int i, enum kv_type type, struct store **s,
                       struct skey *k, int flags, bool *wrong);

/* HSCAN/SSCAN/ZSCAN key cursor [MATCH pattern] [COUNT count] */
struct coll_scan {
    uint64_t cursor;
    long long count;
    const struct resp_arg *pat; /* NULL: every element */
};
/*
 * In Redis's order: the cursor (argv[2]), then the key (absent: coll_scan_empty, before any
 * option is read; WRONGTYPE), then the options (argv[3..]).
 * @return false when it replied with an error.
 */
bool coll_scan_cursor(struct cmd_ctx *c, struct coll_scan *a);
void coll_scan_empty(struct cmd_ctx *c);
bool coll_scan_opts(struct cmd_ctx *c, struct coll_scan *a);
/* Whether an element's text passes MATCH. */
bool coll_scan_match(const struct coll_scan *a, const char *s, size_t len);
/*
 * One step over a member store, as SCAN steps over the keyspace (same guarantees): reply
 * [next cursor, [elements]], each element kept written by emit as `per` replies.
 */
void coll_scan_members(struct cmd_ctx *c, struct store *m, const struct coll_scan *a, unsigned per,
                       void (*emit)(struct reply *r, const struct kv *el));

/*
 * A compact collection in one reply with cursor 0, as Redis answers for a listpack or an
 * intset: the elements passing MATCH (coll_each's a), each with its value (b) when per is 2.
 */
void coll_scan_whole(struct cmd_ctx *c, const struct kv *e, const struct coll_scan *a,
                     unsigned per);

/*
 * Random picks (HRANDFIELD, SRANDMEMBER, SPOP, ZRANDMEMBER). coll_pick_index: `count`
 * distinct indexes below n (count < n) in random order. coll_pick_members: min(count, size)
 * distinct elements of member store m. Both fill a mem_alloc'd array the caller frees.
 */
uint32_t *coll_pick_index(uint32_t n, uint32_t count);
size_t coll_pick_members(struct store *m, size_t count, struct kv ***out);

/*
 * Big values that are a member store (hashes, sets): the coll_type hooks, shared. The copy
 * copies each element's key and value bytes.
 */
size_t coll_members_bytes(const void *obj);
void *coll_members_copy(struct store *dst, const void *obj);
void coll_members_reown(void *obj, struct store *from, struct store *to);
void coll_members_free(struct store *s, void *obj);
bool coll_members_step(struct store *s, void *obj, size_t *budget);
size_t coll_members_effort(const void *obj);
struct store *coll_members_of(const void *obj);

/*
 * Nested snapshots (BGSAVE, full sync). A big hash, set or sorted set reached by the store's
 * snapshot is not written there and then: coll_snap_open writes its record's header (the
 * count it has now) and starts a snapshot of its member store, whose elements come as the
 * consumer steps it (coll_snap_step) or just before a write changes their chain, so each
 * element present at the start is written once with its value then. The record is complete
 * when coll_snap_step says so; the collection may be written, deleted (its remaining
 * elements are written first) or moved to another shard meanwhile. Only one consumer thread
 * at a time (the shard's, or a transaction holding it), as for the store's snapshot.
 */
struct coll_snap {
    struct coll_snap *next; /* the consumer's list */
    int db;
    struct rdb_buf *rec; /* the record so far */
    struct store *m;     /* NULL once every element is in rec */
    void *cur;           /* or the type's cursor (lists), NULL once done */
    const struct coll_type *t;
    int kind; /* enum rdb_coll_kind */
    const struct rdb_encode_opts *o;
};
/* @return NULL when e is not written this way (a string, a compact collection): the
 * caller writes it whole (coll_encode). o must outlive the record. rec is made with `head`
 * bytes before it (rdb_buf_init_room) and room for the whole record: the consumer can take
 * it without copying, and it never grows by a copy. */
struct coll_snap *coll_snap_open(const struct kv *e, int db, int64_t expire_ms,
                                 const struct rdb_encode_opts *o, size_t head);
/* Write up to about max more elements. @return true when the record is complete. */
bool coll_snap_step(struct coll_snap *cs, size_t max);
/* Free it; an unfinished one stops its member store's snapshot. */
void coll_snap_close(struct coll_snap *cs);

/* ---- what each type provides (not for the generic code's callers) ------------------------ */

struct coll_type {
    const char *(*encoding)(const struct kv *e);
    size_t (*count)(const struct kv *e);
    /* big values: their bytes, a deep copy accounted in dst, a change of owner, freeing */
    size_t (*big_bytes)(const void *obj);
    void *(*big_copy)(struct store *dst, const void *obj);
    void (*big_reown)(void *obj, struct store *from, struct store *to);
    struct store_big_ops big; /* freeing, at once or in steps (lazy free, store.h) */
    /* a big value's member store (nested snapshots walk it); NULL for a type without one */
    struct store *(*big_members)(const void *obj);
    /* nested snapshots of a big value without one (lists): a cursor over a frozen copy that
     * writes the record's header when opened, then up to about max items a step (true when
     * the record is complete); NULL: written whole */
    void *(*snap_open)(const struct kv *e, struct rdb_buf *b, int64_t expire_ms,
                       const struct rdb_encode_opts *o);
    bool (*snap_step)(void *cur, struct rdb_buf *b, size_t max, const struct rdb_encode_opts *o);
    void (*snap_close)(void *cur);
    /* e as one record through rdb.h's record writers, o handed to them as it comes: with
     * o->value_only they write the value alone, and DUMP payloads need nothing more */
    void (*encode)(struct rdb_buf *b, const struct kv *e, int64_t expire_ms,
                   const struct rdb_encode_opts *o);
    void (*each)(const struct kv *e, coll_each_fn fn, void *arg);
    /* an empty collection at k (the loaders) and one element added to it (*e may move) */
    struct kv *(*create)(struct store *s, int db, const struct skey *k, int64_t expire_ms);
    int (*load_item)(struct coll_loader *l, const char *a, size_t alen, const char *b, size_t blen,
                     double score);
};
extern const struct coll_type coll_hash, coll_list, coll_set, coll_zset;

#endif
