/*
 * The command layer: a table row per command and one handler per row.
 *
 * The rows are data: commands.table describes every command and subcommand
 * (name, handler, arity, flags, ACL categories, key specifications, the
 * documentation and the argument tree), and gen_commands.py turns it into
 * cmd_table[] and the ids in commands.h at build time. Arity, key extraction,
 * shard routing, OOM checks and statistics are done once, centrally, from the
 * row (worker/dispatch.c); COMMAND and INFO commandstats read the same rows. A
 * handler reads argv, calls store_*, and writes its reply only through the
 * reply API; it never sees a socket, a ring or another thread.
 *
 * A new command is one block in commands.table and one function.
 */
#ifndef POLLUX_CMD_H
#define POLLUX_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/errors.h"
#include "resp/parse.h"
#include "resp/reply.h"
#include "store/store.h"

/* Command flags (COMMAND INFO names them: cmd_flag_names). */
enum cmd_flag {
    CMD_WRITE = 1u << 0,    /* may modify the keyspace */
    CMD_READONLY = 1u << 1, /* reads the keyspace */
    CMD_DENYOOM = 1u << 2,  /* may grow memory: refused when over maxmemory */
    CMD_ADMIN = 1u << 3,    /* administrative */
    CMD_PUBSUB = 1u << 4,   /* pub/sub */
    CMD_NOSCRIPT = 1u << 5, /* not from scripts */
    CMD_BLOCKING = 1u << 6, /* may block the client */
    CMD_LOADING = 1u << 7,  /* allowed while loading */
    CMD_STALE = 1u << 8,    /* allowed on a replica with a stale link */
    CMD_SKIP_MONITOR = 1u << 9,
    CMD_SKIP_SLOWLOG = 1u << 10,
    CMD_FAST = 1u << 11,    /* O(1) or O(log N) */
    CMD_NO_AUTH = 1u << 12, /* allowed before AUTH */
    CMD_MAY_REPLICATE = 1u << 13,
    CMD_NO_MULTI = 1u << 14,
    CMD_ALLOW_BUSY = 1u << 15,
    CMD_SENTINEL = 1u << 16,
    CMD_MOVABLEKEYS = 1u << 17, /* key positions depend on arguments (derived from the specs) */
    CMD_TX_CONTROL = 1u << 18,  /* runs at once inside MULTI: EXEC, DISCARD, MULTI, QUIT, RESET */
    CMD_NO_ASYNC_LOADING = 1u << 19, /* not during an asynchronous load (reported only) */
    CMD_PROTECTED = 1u << 20,        /* DEBUG, MODULE LOAD...: enable-debug/module-command decide */
    CMD_NO_MANDATORY_KEYS = 1u << 21, /* EVAL, FCALL: may declare no keys */
};

/*
 * ACL categories, one bit each, in the order Redis lists them; a row's set
 * is a bitmask (cmd_def.acl) so that a permission check is a bit test.
 */
#define CMD_ACL_CATEGORIES(X)                                                                      \
    X(KEYSPACE, "keyspace")                                                                        \
    X(READ, "read")                                                                                \
    X(WRITE, "write")                                                                              \
    X(SET, "set")                                                                                  \
    X(SORTEDSET, "sortedset")                                                                      \
    X(LIST, "list")                                                                                \
    X(HASH, "hash")                                                                                \
    X(STRING, "string")                                                                            \
    X(BITMAP, "bitmap")                                                                            \
    X(HYPERLOGLOG, "hyperloglog")                                                                  \
    X(GEO, "geo")                                                                                  \
    X(STREAM, "stream")                                                                            \
    X(PUBSUB, "pubsub")                                                                            \
    X(ADMIN, "admin")                                                                              \
    X(FAST, "fast")                                                                                \
    X(SLOW, "slow")                                                                                \
    X(BLOCKING, "blocking")                                                                        \
    X(DANGEROUS, "dangerous")                                                                      \
    X(CONNECTION, "connection")                                                                    \
    X(TRANSACTION, "transaction")                                                                  \
    X(SCRIPTING, "scripting")

enum cmd_acl_index {
#define CMD_ACL_INDEX(id, name) CMD_ACL_INDEX_##id,
    CMD_ACL_CATEGORIES(CMD_ACL_INDEX) CMD_ACL_NCATEGORIES
#undef CMD_ACL_INDEX
};
#define CMD_ACL_BIT(id)     (1ull << CMD_ACL_INDEX_##id)
#define CMD_ACL_KEYSPACE    CMD_ACL_BIT(KEYSPACE)
#define CMD_ACL_READ        CMD_ACL_BIT(READ)
#define CMD_ACL_WRITE       CMD_ACL_BIT(WRITE)
#define CMD_ACL_SET         CMD_ACL_BIT(SET)
#define CMD_ACL_SORTEDSET   CMD_ACL_BIT(SORTEDSET)
#define CMD_ACL_LIST        CMD_ACL_BIT(LIST)
#define CMD_ACL_HASH        CMD_ACL_BIT(HASH)
#define CMD_ACL_STRING      CMD_ACL_BIT(STRING)
#define CMD_ACL_BITMAP      CMD_ACL_BIT(BITMAP)
#define CMD_ACL_HYPERLOGLOG CMD_ACL_BIT(HYPERLOGLOG)
#define CMD_ACL_GEO         CMD_ACL_BIT(GEO)
#define CMD_ACL_STREAM      CMD_ACL_BIT(STREAM)
#define CMD_ACL_PUBSUB      CMD_ACL_BIT(PUBSUB)
#define CMD_ACL_ADMIN       CMD_ACL_BIT(ADMIN)
#define CMD_ACL_FAST        CMD_ACL_BIT(FAST)
#define CMD_ACL_SLOW        CMD_ACL_BIT(SLOW)
#define CMD_ACL_BLOCKING    CMD_ACL_BIT(BLOCKING)
#define CMD_ACL_DANGEROUS   CMD_ACL_BIT(DANGEROUS)
#define CMD_ACL_CONNECTION  CMD_ACL_BIT(CONNECTION)
#define CMD_ACL_TRANSACTION CMD_ACL_BIT(TRANSACTION)
#define CMD_ACL_SCRIPTING   CMD_ACL_BIT(SCRIPTING)

/* The categories the flags imply, as Redis derives them (a constant expression). */
#define CMD_ACL_FROM_FLAGS(f)                                                                      \
    ((((f)&CMD_WRITE) ? CMD_ACL_WRITE : 0) | (((f)&CMD_READONLY) ? CMD_ACL_READ : 0) |             \
     (((f)&CMD_ADMIN) ? CMD_ACL_ADMIN | CMD_ACL_DANGEROUS : 0) |                                   \
     (((f)&CMD_PUBSUB) ? CMD_ACL_PUBSUB : 0) | (((f)&CMD_FAST) ? CMD_ACL_FAST : 0) |               \
     (((f)&CMD_BLOCKING) ? CMD_ACL_BLOCKING : 0))
/* The implied set of a row: readonly gives no @read to @scripting rows (EVAL_RO), as Redis. */
#define CMD_ACL_IMPLIED(flags, explicit)                                                           \
    (CMD_ACL_FROM_FLAGS(flags) & ~(((explicit) & CMD_ACL_SCRIPTING) ? CMD_ACL_READ : 0))
/* A row's category set: implied plus explicit, and @slow for whatever is not @fast. */
#define cmd_acl(flags, explicit)                                                                   \
    ((uint64_t)(CMD_ACL_IMPLIED(flags, explicit) | (explicit) |                                    \
                ((CMD_ACL_IMPLIED(flags, explicit) | (explicit)) & CMD_ACL_FAST ? 0                \
                                                                                : CMD_ACL_SLOW)))
/* The name of category i ("string"), NULL past the last. */
const char *cmd_acl_name(unsigned i);

/* Where a command runs (the dispatcher reads this). */
enum cmd_route {
    ROUTE_LOCAL = 0, /* no keys: runs on the client's worker (PING, CLIENT, CONFIG ...) */
    ROUTE_KEYS,      /* by key positions: one shard, or a transaction over several */
    ROUTE_ALL,       /* holds every shard (FLUSHALL, DBSIZE, KEYS, INFO ...) */
    ROUTE_SCAN,      /* the shards the SCAN cursor (argv[1]) names: cmd_scan_mask() */
    ROUTE_EXEC,      /* the shards of the client's queued MULTI commands (never forwarded) */
    ROUTE_SORT,      /* SORT: by its keys, or every shard when a pattern names other keys */
    ROUTE_HOLD,      /* its keys' shards, held by the client's worker (WATCH: the handler
                        needs the client, so it is never forwarded) */
};

/* Key specification flags (Redis 7). */
enum cmd_ks_flag {
    CMD_KS_RO = 1u << 0,     /* read-only access to the key's value */
    CMD_KS_RW = 1u << 1,     /* read and modify */
    CMD_KS_OW = 1u << 2,     /* overwrite without reading */
    CMD_KS_RM = 1u << 3,     /* remove the key */
    CMD_KS_ACCESS = 1u << 4, /* returns, copies or uses the user data */
    CMD_KS_UPDATE = 1u << 5, /* updates the value */
    CMD_KS_INSERT = 1u << 6, /* adds data, does not modify or delete */
    CMD_KS_DELETE = 1u << 7, /* deletes data */
    CMD_KS_NOT_KEY = 1u << 8,
    CMD_KS_INCOMPLETE = 1u << 9,      /* may not find every key */
    CMD_KS_VARIABLE_FLAGS = 1u << 10, /* flags depend on the arguments */
};
enum cmd_ks_begin { CMD_KS_INDEX, CMD_KS_KEYWORD, CMD_KS_BEGIN_UNKNOWN };
enum cmd_ks_find { CMD_KS_RANGE, CMD_KS_KEYNUM, CMD_KS_FIND_UNKNOWN };

/* Where a command's keys are: begin_search, then find_keys from there (Redis 7's key spec). */
struct cmd_key_spec {
    uint32_t flags; /* CMD_KS_* */
    const char *notes;
    uint8_t bs_type; /* enum cmd_ks_begin */
    uint8_t fk_type; /* enum cmd_ks_find */
    union {
        int index; /* argv index of the first key */
        struct {
            const char *keyword; /* the key follows this word */
            int startfrom;       /* search from here (negative: from the end, backwards) */
        } keyword;
    } bs;
    union {
        struct {
            int lastkey, keystep, limit; /* lastkey relative to the first, -1 = last argument */
        } range;
        struct {
            int keynumidx, firstkey, keystep; /* the count at +keynumidx, keys from +firstkey */
        } keynum;
    } fk;
};

/* COMMAND DOCS argument types and flags. */
enum cmd_arg_type {
    CMD_ARG_STRING,
    CMD_ARG_INTEGER,
    CMD_ARG_DOUBLE,
    CMD_ARG_KEY,
    CMD_ARG_PATTERN,
    CMD_ARG_UNIX_TIME,
    CMD_ARG_PURE_TOKEN,
    CMD_ARG_ONEOF,
    CMD_ARG_BLOCK,
};
enum cmd_arg_flag {
    CMD_ARG_OPTIONAL = 1u << 0,
    CMD_ARG_MULTIPLE = 1u << 1,
    CMD_ARG_MULTIPLE_TOKEN = 1u << 2,
};

/* One argument of a command's syntax; oneof and block have children. */
struct cmd_arg {
    const char *name;
    uint8_t type;    /* enum cmd_arg_type */
    uint8_t flags;   /* CMD_ARG_* */
    int8_t key_spec; /* index into the row's key specs for a key, else -1 */
    uint8_t nargs;
    const char *token; /* the literal word before the value (EX, NX ...), or NULL */
    const char *summary, *since, *deprecated_since;
    const struct cmd_arg *args;
};

enum cmd_doc_flag {
    CMD_DOC_DEPRECATED = 1u << 0,
    CMD_DOC_SYSCMD = 1u << 1,
};

struct cmd_ctx;
struct coll_params;
struct conn;
struct worker;
typedef void (*cmd_fn)(struct cmd_ctx *c);
/*
 * Key positions (and, when flags is not NULL, each key's CMD_KS_* flags) for
 * commands whose keys or key flags the key specs alone cannot give.
 * @return the number of keys written (at most max).
 */
typedef int (*cmd_getkeys_fn)(int argc, const struct resp_arg *argv, int *keys, uint32_t *flags,
                              int max);

/*
 * A row of the command table (generated from commands.table). The fields
 * dispatch reads per request come first.
 */
struct cmd_def {
    const char *name; /* lower case; for subcommands the subcommand name ("get") */
    cmd_fn fn;        /* NULL for a container that only has subcommands */
    int arity;        /* words with the name: N exactly, -N at least */
    uint32_t flags;   /* CMD_* */
    uint64_t acl;     /* ACL category bits (CMD_ACL_*), implied and explicit */
    uint16_t id;      /* enum cmd_id: statistics slot, ACL command bit */
    uint8_t route;    /* enum cmd_route */
    int8_t first_key, last_key, key_step; /* legacy triple, derived from the key specs */
    uint8_t nsubs, nargs, nkeyspecs;
    const struct cmd_def *subs; /* container commands: subcommands, NULL-name ended */
    cmd_getkeys_fn getkeys;     /* keys or key flags the specs cannot give, else NULL */
    const struct cmd_key_spec *keyspecs;
    const struct cmd_arg *args;
    /* COMMAND DOCS and INFO */
    const char *group; /* "string", "generic", "server", "connection" ... */
    const char *since, *summary, *complexity;
    uint32_t doc_flags; /* CMD_DOC_* */
    const char *deprecated_since, *replaced_by;
    const char *tips; /* space-separated COMMAND INFO tips, or NULL */
};

/* Every top-level command, NULL-name ended (commands.c). */
extern const struct cmd_def cmd_table[];

/* Whether argc words (the name included) fit d's arity: N exactly, -N at least. */
static inline bool cmd_arity_ok(const struct cmd_def *d, int argc)
{
    return d->arity > 0 ? argc == d->arity : argc >= -d->arity;
}

/* Whether ACL leaves d alone: what runs before authentication (AUTH, HELLO, ...), decided
 * by the top-level row of a subcommand. */
static inline bool cmd_acl_exempt(const struct cmd_def *d, const struct cmd_def *parent)
{
    return ((parent != NULL ? parent : d)->flags & CMD_NO_AUTH) != 0;
}

/*
 * The registry: a case-insensitive index by name over cmd_table[].
 * cmd_table_setup builds it (before the config: rename-command edits it).
 */
void cmd_table_setup(void);
void cmd_table_teardown(void);
/* The command found as `name` (after renames), or NULL. */
const struct cmd_def *cmd_lookup(const char *name, size_t len);
/* A subcommand of a container, or NULL. */
const struct cmd_def *cmd_lookup_sub(const struct cmd_def *parent, const char *name, size_t len);
/* "name" or "container|sub" (COMMAND INFO/DOCS); *parent is set for a subcommand. */
const struct cmd_def *cmd_lookup_full(const char *name, size_t len, const struct cmd_def **parent);
/* Top-level commands: how many rows cmd_table[] holds. */
unsigned cmd_table_count(void);
/*
 * rename-command (config file only, before workers start): `name` is found as
 * `to` from now on, or not at all when `to` is empty. The row keeps its own
 * name for COMMAND, statistics and error texts, as in Redis.
 * @return 0, or -1 with Redis's reason in *why.
 */
int cmd_table_rename(const char *name, const char *to, const char **why);

/* COMMAND INFO's names for the flag and key-spec flag bits, in its order (NULL-name ended). */
struct cmd_bit_name {
    uint32_t bit;
    const char *name;
};
extern const struct cmd_bit_name cmd_flag_names[];
extern const struct cmd_bit_name cmd_ks_flag_names[];
/* COMMAND DOCS name of an argument type ("pure-token"). */
const char *cmd_arg_type_name(unsigned type);

/*
 * Execution context handed to a handler. Built by the dispatcher on the
 * worker that executes the command.
 */
struct cmd_ctx {
    int argc;
    struct resp_arg *argv;
    const struct cmd_def *cmd;
    const struct cmd_def *parent; /* the container when cmd is a subcommand, else NULL */
    struct reply *reply;
    int db;         /* selected database */
    int64_t now_ms; /* command time: wall clock read once per loop pass */

    /*
     * Stores: `store` is the one store every key of this command lives in
     * (single-shard execution), or NULL inside a multi-shard transaction, where
     * `stores[i]` is shard i's store (held by this thread) — use cmd_store().
     */
    struct store *store;
    struct store *const *stores;
    unsigned nshards;
    unsigned shard; /* single-shard execution: the index of `store` */

    long long max_bulk_len;         /* proto-max-bulk-len: largest string a command may build */
    const struct coll_params *coll; /* collection encodings' thresholds (cmd/coll.h) */

    /*
     * The worker running the command and, when it runs on the client's own
     * worker, the client (NULL for a forwarded command). The worker's types,
     * opaque here.
     */
    struct conn *client;
    struct worker *worker;
    bool keys_limited; /* forwarded: the client's user may not read every key */
    /*
     * Client tracking (worker/tracking.h): the id of the client the command runs for (0:
     * none, as for expiry), and the word of a tracking client whose reads remember their
     * keys (0: nobody's). `track_read`: a script ran a read-only command.
     */
    uint64_t origin;
    uint64_t track_who;
    bool track_read;

    /*
     * Replication: a handler whose effect must reach replicas in another form
     * (relative expiries as absolute times, GETDEL as DEL, ...) hands that
     * form to cmd_propagate; otherwise the command goes out as it came. Set
     * by the dispatcher when the node feeds replicas, else NULL.
     */
    void (*propagate)(struct cmd_ctx *c, int argc, const struct resp_arg *argv);
    bool propagated;      /* cmd_propagate was called */
    bool force_propagate; /* replicate even without changes (FLUSHALL of an empty db) */

    /*
     * Blocking commands (BLPOP, BZPOPMIN, BLMOVE ...). `block` makes the client wait on keys
     * argv[first], argv[first + step] ... (nkeys of them) for a value of type `kind`
     * (enum kv_type), for timeout_ms (0: forever). The dispatcher sets it where a client may
     * wait; it is NULL inside MULTI, on the primary's stream and while serving a waiter, and
     * the command then answers at once as on a timeout, as Redis's does. `block_arg` is the
     * dispatcher's. `ready_key`, while serving a waiter: the only key it may take from.
     * @return false when the client may not wait after all (a retry past its deadline).
     */
    bool (*block)(struct cmd_ctx *c, int first, int nkeys, int step, int kind, int64_t timeout_ms);
    void *block_arg;
    const struct resp_arg *ready_key;

    /*
     * Keys changed: every handler calls cmd_changed once for each key it changed (Redis's
     * signalModifiedKey with the keyspace event notifyKeyspaceEvent would send). The
     * dispatcher sets `changed` while anyone watches a key (worker/watch.h), else NULL.
     */
    void (*changed)(struct cmd_ctx *c, int type, const char *event, int db, const char *key,
                    size_t len);

    /* Results the dispatcher reads back. */
    long long dirty;  /* number of keyspace changes made */
    int select_db;    /* >= 0: the client switches to this database (SELECT) */
    bool close_after; /* close the connection after the reply (QUIT, errors) */
    /*
     * A script reached for a shard it does not hold before it had any effect: nothing was
     * replied, and the dispatcher runs the request again holding every shard (script.h).
     */
    bool rerun_all;
};

/* Keyspace event classes: notify-keyspace-events' letters, Redis's bit values. */
enum {
    NOTIFY_KEYSPACE = 1 << 0,  /* K */
    NOTIFY_KEYEVENT = 1 << 1,  /* E */
    NOTIFY_GENERIC = 1 << 2,   /* g */
    NOTIFY_STRING = 1 << 3,    /* $ */
    NOTIFY_LIST = 1 << 4,      /* l */
    NOTIFY_SET = 1 << 5,       /* s */
    NOTIFY_HASH = 1 << 6,      /* h */
    NOTIFY_ZSET = 1 << 7,      /* z */
    NOTIFY_EXPIRED = 1 << 8,   /* x */
    NOTIFY_EVICTED = 1 << 9,   /* e */
    NOTIFY_STREAM = 1 << 10,   /* t */
    NOTIFY_KEY_MISS = 1 << 11, /* m */
    NOTIFY_MODULE = 1 << 12,   /* d */
    NOTIFY_NEW = 1 << 13,      /* n */
};

/* Key (key, len) of database db changed: `event` of class `type` (NOTIFY_*). */
static inline void cmd_changed(struct cmd_ctx *c, int type, const char *event, int db,
                               const char *key, size_t len)
{
    if (c->changed != NULL)
        c->changed(c, type, event, db, key, len);
}
/* SWAPDB a b: every key of both databases (key NULL, the other database in len). */
static inline void cmd_changed_swapdb(struct cmd_ctx *c, int a, int b)
{
    if (c->changed != NULL)
        c->changed(c, NOTIFY_GENERIC, NULL, a, NULL, (size_t)b);
}
/* FLUSHALL / FLUSHDB emptied database db (-1: every one): key NULL, event "flush" (SWAPDB's
 * event is NULL). */
static inline void cmd_changed_flush(struct cmd_ctx *c, int db)
{
    if (c->changed != NULL)
        c->changed(c, NOTIFY_GENERIC, "flush", db, NULL, 0);
}
/* The same for argv[i] in the client's database. */
static inline void cmd_changed_arg(struct cmd_ctx *c, int type, const char *event, int i)
{
    cmd_changed(c, type, event, c->db, c->argv[i].ptr, c->argv[i].len);
}

/*
 * A blocking command's timeout at argv[i] in seconds (a float, as Redis 7.0 reads it), in
 * milliseconds (0: forever). @return false after replying with Redis's error.
 */
bool cmd_block_timeout(struct cmd_ctx *c, int i, int64_t *ms);
/* May argv[i] be taken from: always, except while serving a waiter on another key. */
bool cmd_key_ready(const struct cmd_ctx *c, int i);
/*
 * Nothing to take from keys argv[first], argv[first + step] ...: wait where the context
 * allows. @return true when the client now waits (nothing is replied), false when the
 *         handler must answer at once (inside MULTI: as its non-blocking form would).
 */
bool cmd_block(struct cmd_ctx *c, int first, int nkeys, int step, int kind, int64_t timeout_ms);

/* The store that owns `key` in this context. */
struct store *cmd_store(struct cmd_ctx *c, const char *key, size_t len);
/* Shard of a key among n shards: Redis Cluster slot modulo n. */
static inline unsigned cmd_key_shard(const char *key, size_t len, unsigned nshards);

/*
 * Key positions of a request, per its row: the legacy triple for fixed
 * positions (the dispatcher's path), else the row's getkeys or key specs.
 * @return the number of keys written to keys[] (at most max), or -1 when the arguments
 *         contradict a key spec (SINTERCARD 0 k, ZUNIONSTORE d 3 a): no keys, and COMMAND
 *         GETKEYS answers "Invalid arguments specified for command".
 */
int cmd_get_keys(const struct cmd_def *d, int argc, const struct resp_arg *argv, int *keys,
                 int max);
/* The same with each key's CMD_KS_* flags (COMMAND GETKEYSANDFLAGS): getkeys, else the specs. */
int cmd_get_keys_flags(const struct cmd_def *d, int argc, const struct resp_arg *argv, int *keys,
                       uint32_t *flags, int max);

/* Argument helpers; on failure they write Redis's error reply and return false. */
bool cmd_arg_ll(struct cmd_ctx *c, int i, long long *v);   /* "value is not an integer..." */
bool cmd_arg_ld(struct cmd_ctx *c, int i, long double *v); /* "value is not a valid float" */
bool cmd_arg_is(const struct cmd_ctx *c, int i, const char *word); /* case-insensitive */
/* A 32-bit signed integer (DB indexes): "not an integer", then "value is out of range". */
bool cmd_arg_int(struct cmd_ctx *c, int i, int *v);

/*
 * SCAN cursors. Redis reads a cursor with strtoull: an optional sign, decimal
 * digits, no leading space, negative values wrapping ("-1" is 2^64-1, "" is
 * 0). With several shards the low cmd_scan_bits(nshards) bits of a cursor
 * name the shard and the rest is that shard's store cursor; the dispatcher
 * and SCAN both decode it with these helpers.
 */
bool cmd_parse_cursor(const char *s, size_t len, uint64_t *cursor);
/* The entries one SCAN-family call collects (store_scan's callback: cmd_scan_visit). */
struct scan_acc {
    struct kv **v;
    size_t n, cap;
    struct kv *inl[64];
};
void cmd_scan_acc_init(struct scan_acc *a);
void cmd_scan_visit(void *arg, struct kv *e);
void cmd_scan_acc_free(struct scan_acc *a);
/* A SCAN-family cursor as its bulk string. */
void cmd_reply_cursor(struct reply *r, uint64_t cur);
static inline unsigned cmd_scan_bits(unsigned nshards)
{
    unsigned bits = 0;
    while (bits < 32 && (1u << bits) < nshards)
        bits++;
    return bits;
}
/* The shard a cursor names (may be >= nshards for a cursor no SCAN returned). */
static inline unsigned cmd_scan_shard(uint64_t cursor, unsigned nshards)
{
    return (unsigned)(cursor & ((1ull << cmd_scan_bits(nshards)) - 1));
}
/*
 * The shards one SCAN call may read (a bit per shard; 0 for a cursor that
 * names no shard). A cursor in the middle of a shard reads that shard only;
 * a cursor at the start of a shard (0 among them) reads it and every later
 * shard, so a page fills across shards and a small keyspace ends in one call.
 * Multi-shard calls are transactions, so a full iteration holds the shards at
 * most once per shard it starts.
 */
static inline uint64_t cmd_scan_mask(uint64_t cursor, unsigned nshards)
{
    unsigned shard = cmd_scan_shard(cursor, nshards);
    if (shard >= nshards)
        return 0;
    if ((cursor >> cmd_scan_bits(nshards)) != 0)
        return 1ull << shard;
    uint64_t all = nshards >= 64 ? ~0ull : (1ull << nshards) - 1;
    return all & ~((1ull << shard) - 1);
}

/*
 * What replicas apply instead of the command (see cmd_ctx.propagate); a
 * no-op when nobody listens. Each call adds one command, in order.
 */
void cmd_propagate(struct cmd_ctx *c, int argc, const struct resp_arg *argv);
/* DEL key / PEXPIREAT key when / SET key value [PXAT when | KEEPTTL] */
void cmd_propagate_del(struct cmd_ctx *c, const struct resp_arg *key);
void cmd_propagate_pexpireat(struct cmd_ctx *c, const struct resp_arg *key, int64_t when_ms);
void cmd_propagate_set(struct cmd_ctx *c, const struct resp_arg *key, const char *val, size_t vlen,
                       int64_t when_ms, bool keepttl);

/*
 * Whether an expiry time a command sets (EXPIREAT, RESTORE's TTL) is already past, so that the
 * key goes at once: only where keys expire by their own clock (Redis's checkAlreadyExpired).
 * A replica keeps the key until its primary's DEL, whatever its own clock says.
 */
static inline bool cmd_already_expired(const struct store *s, int64_t when_ms, int64_t now_ms)
{
    return when_ms <= now_ms && store_get_expiry(s) == STORE_EXPIRY_ACTIVE;
}

/* Encoding Redis gives a freshly SET string value (int, embstr or raw). */
enum kv_enc cmd_string_encoding(const char *v, size_t len);

/* An empty hash at k with expiry expire_ms (-1: none). */
struct kv *cmd_hash_new(struct store *s, int db, const struct skey *k, int64_t expire_ms);
/* Field f's value in hash e: its text (in buf, 32 bytes, for a number), or NULL. */
const char *cmd_hash_get(struct kv *e, const char *f, size_t flen, char *buf, size_t *vlen);
/* SORT: whether a BY or GET pattern names other keys (the request then holds every shard). */
bool cmd_sort_needs_all(int argc, const struct resp_arg *argv);

/* Reply with Redis's "wrong number of arguments for '<name>' command" (full name for subcommands).
 */
void cmd_reply_arity(struct cmd_ctx *c);
/* Reply to a HELP subcommand: the lines as status replies in an array. */
void cmd_reply_help(struct cmd_ctx *c, const char *const *lines, size_t n);

#include "base/util.h"
static inline unsigned cmd_key_shard(const char *key, size_t len, unsigned nshards)
{
    return nshards == 1 ? 0 : util_key_slot(key, len) % nshards;
}

#endif
