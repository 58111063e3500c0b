/*
 * WATCH: optimistic transactions over keys of any shard. Design notes: docs/transactions.md.
 *
 * Each shard keeps a table of its watched keys (database and name): a version and a count of
 * the clients watching it. A write to a watched key moves its version on (cmd_changed, once
 * per key changed, as Redis's signalModifiedKey), so a write costs one relaxed load while
 * nothing is watched anywhere. The client keeps, per watched key, the node, the version it
 * saw and whether the key was live then. EXEC holds the shards of its watched keys and
 * aborts when a version moved or a key that was live is gone (expired, evicted, flushed):
 * removals that are not writes need no hook, the absence tells.
 *
 * A node belongs to its shard: it is created and freed by whoever runs that shard (its
 * worker, or a transaction holding it). The count is atomic so a client may stop watching
 * without holding the shard; the owner frees nodes nobody watches any more.
 */
#ifndef POLLUX_WATCH_H
#define POLLUX_WATCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/keytab.h"

struct cmd_ctx;
struct conn;
struct worker;

/* A shard's watched keys. */
struct watch_table {
    struct keytab keys;   /* struct wnode */
    atomic_bool released; /* a client let go of a node here: the cron looks for unwatched ones */
    int64_t sweep_ms;     /* ... at most every 100 ms */
};

/* Nodes in every table: none, the common case, costs a write one relaxed load. */
extern atomic_size_t watch_nodes;

static inline bool watch_any(void)
{
    return atomic_load_explicit(&watch_nodes, memory_order_relaxed) != 0;
}

/* WATCH one key for c, whose shard this thread runs or holds. */
void watch_key(struct conn *c, int db, const char *key, size_t len, int64_t now_ms);
/* The shards of c's watched keys (EXEC holds them). */
uint64_t watch_shards(const struct conn *c);
/* EXEC, with every shard of watch_shards(c) run or held: did a watched key change? */
bool watch_dirty(const struct conn *c, int64_t now_ms);
/* Did a write touch a watched key yet (CLIENT LIST's flag d; any thread, any time)? */
bool watch_touched(const struct conn *c);
/* UNWATCH (and EXEC, DISCARD, RESET, closing): forget c's keys. `held`: shards this thread
 * holds besides its own, whose unwatched nodes it frees at once. */
void watch_release(struct conn *c, uint64_t held);
/* Watched keys of c (CLIENT LIST has no field for it; tests and INFO may). */
size_t watch_count(const struct conn *c);

/* cmd_ctx.changed: key (db, key) changed. */
void watch_changed(struct cmd_ctx *c, int type, const char *event, int db, const char *key,
                   size_t len);
/* SWAPDB a b (every shard held): watched keys live in either database before or after. */
void watch_swapdb(int a, int b, int64_t now_ms);
/* Shard `shard` is about to be replaced wholesale (a replica's full sync): its live keys. */
void watch_replace(unsigned shard, int64_t now_ms);

/* The owner's cron (its shard not held): free nodes nobody watches any more. */
void watch_cron(struct worker *w);
void watch_table_free(struct watch_table *t);

#endif
