/*
 * The command layer: a table row per command and one handler per row.
 *
 * A row carries name, handler, arity (negative = at least), flags and key
 * positions. Arity, key extraction, shard routing, OOM checks and statistics
 * are done once, centrally, from the row (worker/dispatch.c). A handler reads
 * argv, calls store_*, and writes its reply only through the reply API; it
 * never sees a socket, a ring or another thread.
 *
 * Keyspace families live here (cmd_string.c, cmd_keys.c); server and
 * connection commands that need the worker (CLIENT, CONFIG, INFO, HELLO...)
 * live in worker/ and are added to the same table there.
 */
#ifndef POLLUX_CMD_H
#define POLLUX_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "parse.h"
#include "reply.h"
#include "store.h"

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
    CMD_MOVABLE_KEYS = 1u << 17, /* key positions depend on arguments (getkeys_fn) */
    CMD_TX_CONTROL = 1u << 18,   /* runs at once inside MULTI: EXEC, DISCARD, MULTI, QUIT, RESET */
    CMD_PROTECTED = 1u << 19,    /* DEBUG, MODULE LOAD...: enable-debug/module-command decide */
};

/* Where a command runs (the dispatcher reads this). */
enum cmd_route {
    ROUTE_LOCAL = 0, /* no keys: runs on the client's worker (PING, CLIENT, CONFIG ...) */
    ROUTE_KEYS,      /* by key positions: one shard, or a transaction over several */
    ROUTE_ALL,       /* holds every shard (FLUSHALL, DBSIZE, KEYS, INFO ...) */
    ROUTE_SCAN,      /* the shards the SCAN cursor (argv[1]) names: cmd_scan_mask() */
    ROUTE_EXEC,      /* the shards of the client's queued MULTI commands (never forwarded) */
};

struct cmd_ctx;
typedef void (*cmd_fn)(struct cmd_ctx *c);
/* Key positions for commands whose keys move with their arguments. Returns the count. */
typedef int (*cmd_getkeys_fn)(int argc, const struct resp_arg *argv, int *keys, int max);

struct cmd_def {
    const char *name; /* lower case; for subcommands the subcommand name ("get") */
    cmd_fn fn;
    int arity;
    uint32_t flags;
    int8_t first_key, last_key, key_step; /* Redis's legacy key spec; last_key -1 = last arg */
    uint8_t route;
    const char *group;      /* "string", "generic", "server", "connection" */
    const char *since;      /* "1.0.0" */
    const char *summary;    /* one line, for COMMAND DOCS and redis-cli's help */
    const char *complexity; /* "O(1)" */
    /*
     * Argument grammar for COMMAND DOCS and redis-cli's hints, in the syntax
     * of Redis's documentation: "key value [NX | XX] [GET] [EX seconds | PX
     * milliseconds | KEEPTTL]". Lower-case words are named arguments (their
     * type inferred: key, integer for seconds/milliseconds/count/...,
     * pattern, string otherwise); upper-case words are tokens; "..." repeats.
     */
    const char *syntax;
    const char *acl;            /* ACL categories beyond those derived from flags, e.g. "@string" */
    const struct cmd_def *subs; /* container commands: table of subcommands, NULL-name ended */
    cmd_getkeys_fn getkeys;
    int id; /* index into per-worker statistics: assigned in the server's copy of the table */
};

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

    long long max_bulk_len; /* proto-max-bulk-len: largest string a command may build */

    /* Client side, for commands that run on the client's own worker (opaque here). */
    void *client;
    void *worker;

    /*
     * Replication: a handler whose effect must reach replicas in another form
     * (relative expiries as absolute times, GETDEL as DEL, ...) hands that
     * form to cmd_propagate; otherwise the command goes out as it came. Set
     * by the dispatcher when the node feeds replicas, else NULL.
     */
    void (*propagate)(struct cmd_ctx *c, int argc, const struct resp_arg *argv);
    bool propagated;      /* cmd_propagate was called */
    bool force_propagate; /* replicate even without changes (FLUSHALL of an empty db) */

    /* Results the dispatcher reads back. */
    long long dirty;  /* number of keyspace changes made */
    int select_db;    /* >= 0: the client switches to this database (SELECT) */
    bool close_after; /* close the connection after the reply (QUIT, errors) */
};

/* The store that owns `key` in this context. */
struct store *cmd_store(struct cmd_ctx *c, const char *key, size_t len);
/* Shard of a key among n shards: Redis Cluster slot modulo n. */
static inline unsigned cmd_key_shard(const char *key, size_t len, unsigned nshards);

/*
 * Key positions of a request, per its row (legacy spec or getkeys).
 * @return the number of keys written to keys[] (at most max).
 */
int cmd_get_keys(const struct cmd_def *d, int argc, const struct resp_arg *argv, int *keys,
                 int max);

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

/* Encoding Redis gives a freshly SET string value (int, embstr or raw). */
enum kv_enc cmd_string_encoding(const char *v, size_t len);

/* Reply with Redis's "wrong number of arguments for '<name>' command" (full name for subcommands).
 */
void cmd_reply_arity(struct cmd_ctx *c);

/* Tables the keyspace families export (NULL-name terminated). */
extern const struct cmd_def cmd_string_table[];
extern const struct cmd_def cmd_keys_table[];

#include "util.h"
static inline unsigned cmd_key_shard(const char *key, size_t len, unsigned nshards)
{
    return nshards == 1 ? 0 : util_key_slot(key, len) % nshards;
}

#endif
