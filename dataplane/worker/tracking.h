/*
 * Client-side caching: CLIENT TRACKING, CLIENT CACHING, CLIENT GETREDIR, CLIENT TRACKINGINFO
 * and the invalidation messages, as Redis 7.0 has them. Design notes: docs/tracking.md.
 *
 * Default mode: each shard keeps a table of the keys tracking clients read (the name only,
 * as Redis: any database), each with the clients (id and worker) that read it. A read-only
 * command of such a client adds its keys where it runs; a change of the key (cmd_changed,
 * expiry, eviction) takes the key out of the table and sends every client in it one
 * invalidation. BCAST mode keeps no table: every changed key goes to the workers that have
 * broadcasting clients, which match it against their clients' prefixes.
 *
 * Invalidations are queued on the thread that made the change, per destination worker, and
 * leave after the command (its reply first, as Redis sends a client's own invalidations after
 * its reply) or at the end of the pass: a worker's own clients directly, the others' over the
 * rings in one message per worker. The worker of the tracking client frames the message for
 * the client or its REDIRECT target (a RESP3 push, or a RESP2 message on
 * __redis__:invalidate); a target on a third worker gets it from there.
 *
 * While no client tracks, a command costs one relaxed load (tracking_any()).
 */
#ifndef POLLUX_TRACKING_H
#define POLLUX_TRACKING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/common.h"
#include "base/keytab.h"
#include "base/strbuf.h"

struct cmd_ctx;
struct cmd_def;
struct conn;
struct shard_msg;
struct worker;

/* conn.track */
enum track_flags {
    TRACK_ON = 1u << 0,
    TRACK_BCAST = 1u << 1,
    TRACK_OPTIN = 1u << 2,
    TRACK_OPTOUT = 1u << 3,
    TRACK_NOLOOP = 1u << 4,
    TRACK_CACHING = 1u << 5, /* CLIENT CACHING yes (OPTIN) / no (OPTOUT) for the next command */
    TRACK_BROKEN = 1u << 6,  /* the REDIRECT target is gone */
};

/* A shard's tracked keys (default mode). */
struct track_table {
    struct keytab keys; /* struct tnode */
    atomic_size_t nkeys, nitems;
};

/* A worker's share. */
struct track_worker {
    struct track_table table; /* its shard's keys: run by whoever runs the shard */
    struct keytab by_id;      /* its connections, by client id */
    struct conn **clients;    /* its tracking clients */
    unsigned n, cap;
    atomic_uint nbcast;              /* ... in BCAST mode (others read it) */
    atomic_bool any;                 /* n > 0 (others read it) */
    struct strbuf pend[MAX_WORKERS]; /* invalidations queued here, by destination */
    uint64_t pend_mask;              /* destinations with some */
    struct strbuf scratch;           /* a message being framed */
};

/* Tracking clients on every worker, and those in BCAST mode. */
extern atomic_uint tracking_clients, tracking_bcast;

static inline bool tracking_any(void)
{
    return atomic_load_explicit(&tracking_clients, memory_order_relaxed) != 0;
}

/* The client-and-worker word a command remembers its keys for: 0 when it does not. */
uint64_t tracking_who(const struct conn *c);
/* After command d of c ran: CLIENT CACHING's flag lasts one command (or a transaction). */
void tracking_after_command(struct conn *c, const struct cmd_def *parent);
/* A read-only command of ctx->track_who ran: remember its keys. */
void tracking_remember(struct cmd_ctx *ctx);
/* cmd_ctx.changed: key changed, by ctx->origin. */
void tracking_changed(struct cmd_ctx *ctx, const char *key, size_t len);
/* A key expired or was evicted on this thread. */
void tracking_removed(struct worker *w, const char *key, size_t len);
/* FLUSHALL / FLUSHDB (every shard held): every table empties, every tracking client hears. */
void tracking_flushed(struct cmd_ctx *ctx);
/* A replica's full sync replaces shard `shard` (on its runner). */
void tracking_replaced(struct worker *w, unsigned shard);

/* Send what this worker queued (after a command, at the end of a pass). */
void tracking_flush(struct worker *w);
/* SHARD_TRACK from another worker: deliver, and send it back. */
void tracking_on_message(struct worker *w, struct shard_msg *m);

/* Connections: registered by id at creation, tracking off when closed (or RESET). */
void tracking_conn_new(struct conn *c);
void tracking_conn_closed(struct conn *c);
void tracking_off(struct conn *c);
/* CLIENT LIST: the flag letters (t R B) and redir=. */
size_t tracking_list_flags(const struct conn *c, char *out);
long long tracking_redir(const struct conn *c);

/* The owner's cron: tracking-table-max-keys. */
void tracking_cron(struct worker *w);
void tracking_worker_free(struct track_worker *t);

/* INFO: tracking_total_keys, tracking_total_items, tracking_total_prefixes. */
void tracking_info(size_t *keys, size_t *items, size_t *prefixes);

#endif
