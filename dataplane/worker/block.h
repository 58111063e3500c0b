/*
 * Clients blocked on keys: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN, BZPOPMAX,
 * BZMPOP. Design notes: docs/data-types.md ("Blocking commands").
 *
 * A blocked command leaves a waiter: its own copy of the request, shared (counted
 * references) by the client's worker and by one entry per key in the table of the shard
 * that owns the key. A write that touches a watched key marks it ready; at the end of that
 * request the shard serves the waiters of its ready keys in the order they blocked. A waiter
 * whose keys all live on that shard is served there and then, as Redis serves it (the pop
 * runs and replicates right after the push); one whose keys span shards is woken instead, and
 * its worker runs the command again over all its shards (it may find the value taken and
 * wait again). The waiter's state is claimed once, by compare-and-swap: served or woken by a
 * shard, or ended by its worker (timeout, CLIENT UNBLOCK, the client leaving); the losers
 * drop their references, and shards drop entries of ended waiters as they meet them.
 */
#ifndef POLLUX_BLOCK_H
#define POLLUX_BLOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/keytab.h"
#include "resp/parse.h"

struct bkey;
struct cmd_ctx;
struct conn;
struct reply;
struct shard_msg;
struct waiter;
struct worker;

/* A shard's watched keys (every database's, by name). */
struct block_table {
    struct keytab keys;       /* struct bkey */
    struct bkey *ready;       /* keys written since the last serve, in the order written */
    struct bkey **ready_tail; /* where the next one goes (NULL: &ready) */
};

/* Entries in every table: none, the common case, costs a write one relaxed load. */
extern atomic_size_t block_entries;

static inline bool block_any(void)
{
    return atomic_load_explicit(&block_entries, memory_order_relaxed) != 0;
}

/* What the dispatcher tells block_register about the client (ctx->block_arg). */
struct block_who {
    struct conn *conn;
    unsigned worker; /* the client's */
    uint8_t proto;
    int64_t deadline_ms; /* a retry: the first attempt's deadline (0: none); else -1 */
    struct waiter *made; /* out: the command blocked on this waiter */
};

/* ctx->block: register the client as waiting (cmd.h). */
bool block_register(struct cmd_ctx *c, int first, int nkeys, int step, int kind,
                    int64_t timeout_ms);
/* After a write ran: its keys that have waiters are ready (every key, for SWAPDB and such). */
void block_signal(struct cmd_ctx *c);
/* At the end of a request: serve the ready keys of these shards (ours or held by us). */
void block_serve(struct worker *w, uint64_t shards);

/* The client's worker: the command blocked on wt (run here, or forwarded and back). */
void block_attach(struct worker *w, struct conn *c, struct waiter *wt);
/* A waiter was served (reply in m) or woken: on its client's worker. */
void block_on_wake(struct worker *w, struct shard_msg *m);
/* A woken client's command runs again (its transaction holds every shard it names). */
void block_retry(struct worker *w, struct conn *c);
/* The retry ran: it answered, or blocked again on who->made. */
void block_retry_done(struct worker *w, struct conn *c, struct waiter *made);
/* The request a retry runs (the waiter's copy). @return its deadline (0: none). */
int64_t block_request(const struct conn *c, int *argc, struct resp_arg **argv);
/* Timeouts of this worker's clients, and the sweep of this shard's table. */
void block_cron(struct worker *w);
/* The connection closes while blocked. */
void block_conn_closed(struct conn *c);
/* CLIENT UNBLOCK (every shard held). @return false when c was not waiting on keys. */
bool block_unblock(struct conn *c, bool error);
/* The earliest deadline of this worker's waiters (unix ms), 0: none. */
int64_t block_next_deadline(const struct worker *w);
/* Waiters of this worker with a timeout (INFO clients_in_timeout_table). */
uint64_t block_timeouts(const struct worker *w);
void block_table_free(struct block_table *t);

#endif
