/*
 * Cross-shard messaging: the mesh of single-producer single-consumer rings
 * between workers, the messages that travel on it, and the hold (shard lock)
 * protocol used by multi-shard transactions.
 *
 * Every message is owned by the worker that allocated it (`src`) and always
 * comes back to it: a REQ returns as REPLY, a LOCK as LOCKED, an UNLOCK as
 * UNLOCKED, a PARAMS as DONE. The owner recycles it in its pool, so no
 * message is freed by another thread and none is allocated per request once
 * the pool is warm. A message that finds its ring full waits, in order, in
 * the sender's outbox for that destination; nothing is dropped.
 *
 * Design notes: dataplane/shard/NOTES.md.
 */
#ifndef POLLUX_SHARD_H
#define POLLUX_SHARD_H

#include <stdbool.h>
#include <stdint.h>

#include "base/common.h"
#include "resp/parse.h"
#include "resp/reply.h"
#include "base/ring.h"

#define SHARD_RING_SIZE    4096
#define SHARD_REPLY_INLINE 512 /* reply bytes carried in the message itself */
#define SHARD_ARGS_INLINE  256 /* argument bytes carried in the message itself */
#define SHARD_ARGV_INLINE  8

enum shard_msg_type {
    SHARD_REQ = 1,   /* a forwarded command, executed by dst */
    SHARD_REPLY,     /* REQ returning with its reply */
    SHARD_LOCK,      /* coordinator asks dst to hold its shard */
    SHARD_LOCKED,    /* LOCK returning: the shard is held for src */
    SHARD_UNLOCK,    /* coordinator releases dst's shard */
    SHARD_UNLOCKED,  /* UNLOCK returning */
    SHARD_LOAD,      /* a replica's full sync: keys for dst to insert (abuf, arg bytes) */
    SHARD_LOADED,    /* LOAD returning */
    SHARD_WAKE,      /* a blocked client's waiter was served (reply inside) or woken */
    SHARD_WOKEN,     /* WAKE returning */
    SHARD_PUBLISH,   /* a message for dst's subscribers (argv: channel, message; db: kind) */
    SHARD_PUBLISHED, /* PUBLISH returning with the count delivered (arg) */
    SHARD_MONITOR,   /* a MONITOR line for dst's monitors (argv[0]) */
    SHARD_MONITORED, /* MONITOR returning */
    SHARD_TRACK,     /* invalidations for dst's tracking clients (argv[0], tracking.c) */
    SHARD_TRACKED    /* TRACK returning */
};

struct conn;
struct cmd_def;
struct waiter;

struct shard_msg {
    struct shard_msg *next; /* outbox and deferred-queue link */
    uint8_t type;
    uint8_t src; /* owner */
    uint8_t dst;
    uint8_t proto;        /* RESP version of the client (REQ); LOAD: 1 = empty the shard first */
    uint8_t from_master;  /* REQ: part of the stream from our primary */
    uint8_t keys_limited; /* REQ: the client's user may not read every key (SORT's BY, GET) */
    uint8_t discard;      /* a reply its client does not want (CLIENT REPLY OFF / SKIP) */
    int db;
    struct conn *conn;            /* REQ: the origin connection (opaque here) */
    uint64_t origin;              /* REQ: its client id */
    uint64_t track_who;           /* REQ: remember its keys for this tracking client (or 0) */
    const struct cmd_def *cmd;    /* REQ: the command's row */
    const struct cmd_def *parent; /* REQ: container row for subcommands */
    int64_t arg;                  /* free use by the sender */
    struct waiter *waiter;        /* REPLY: the command blocked; WAKE: whose (worker/block.h) */
    struct shard_msg *lead;       /* PUBLISH: the publisher's reply, waiting for the counts */
    int64_t pub_total;            /* the lead: messages delivered so far */
    uint32_t pub_pending;         /* the lead: PUBLISHes not back yet */

    int argc;
    struct resp_arg *argv;
    char *abuf; /* argument bytes (abuf_inline or heap) */
    size_t abuf_cap;

    struct reply reply;  /* REQ: filled by dst; starts with `embed` */
    struct rblock embed; /* first reply block, storage in reply_buf */
    struct rblock hole;  /* placeholder in the origin connection's output chain */

    struct resp_arg argv_inline[SHARD_ARGV_INLINE];
    char abuf_inline[SHARD_ARGS_INLINE];
    char reply_buf[SHARD_REPLY_INLINE];
};

/* All rings: ring[src][dst]. Created once at start for n workers. */
struct shard_mesh {
    unsigned n;
    struct ring *ring[MAX_WORKERS][MAX_WORKERS];
};

int shard_mesh_init(struct shard_mesh *m, unsigned n);
/* Free every ring; messages still queued are handed to `drop` first. */
void shard_mesh_deinit(struct shard_mesh *m, void (*drop)(struct shard_msg *));

/* One worker's end of the mesh. */
struct shard_port {
    unsigned id, n;
    struct shard_mesh *mesh;
    struct shard_msg *outbox_head[MAX_WORKERS], *outbox_tail[MAX_WORKERS];
    unsigned outbox_len;
    struct shard_msg *pool;
    unsigned pool_len;
    unsigned poll_next; /* round-robin start among inbound rings */
    /* called after messages were enqueued for worker `dst` (wake-up hook) */
    void (*notify)(void *arg, unsigned dst);
    void *notify_arg;
};

void shard_port_init(struct shard_port *p, struct shard_mesh *m, unsigned id);
/* Free pooled and outboxed messages. */
void shard_port_deinit(struct shard_port *p);

/* A clean message from the pool (type 0, reply empty, argc 0). */
struct shard_msg *shard_msg_get(struct shard_port *p);
/* Return a message to the pool (frees any heap reply blocks and argument buffer). */
void shard_msg_put(struct shard_port *p, struct shard_msg *m);
/* Free a message outright (teardown). */
void shard_msg_free(struct shard_msg *m);

/*
 * Copy argv into m (inline when it fits, else one heap buffer) so that the
 * request outlives the client's receive buffer.
 */
void shard_msg_set_args(struct shard_msg *m, int argc, const struct resp_arg *argv);
/* Prepare m->reply for dst to write into (proto per m->proto). */
void shard_msg_reply_init(struct shard_msg *m);

/* Send m to worker dst (sets m->dst). Never fails: a full ring defers to the outbox. */
void shard_send(struct shard_port *p, unsigned dst, struct shard_msg *m);
/* Retry outboxed messages. @return messages still waiting. */
unsigned shard_flush(struct shard_port *p);
/* Dequeue up to max inbound messages from all rings. @return the count. */
unsigned shard_poll(struct shard_port *p, struct shard_msg **out, unsigned max);

/*
 * The hold state of one shard, kept by its owning worker. While `holder` is
 * not -1 the owner executes nothing against its store: requests and lock
 * requests are deferred, in arrival order, and replayed when released.
 */
struct shard_hold {
    int holder; /* -1: free; else the worker whose transaction holds the shard */
    struct shard_msg *dq_head, *dq_tail;
    unsigned dq_len;
};

static inline void shard_defer(struct shard_hold *h, struct shard_msg *m)
{
    m->next = NULL;
    if (h->dq_tail)
        h->dq_tail->next = m;
    else
        h->dq_head = m;
    h->dq_tail = m;
    h->dq_len++;
}

static inline struct shard_msg *shard_undefer(struct shard_hold *h)
{
    struct shard_msg *m = h->dq_head;
    if (m) {
        h->dq_head = m->next;
        if (!h->dq_head)
            h->dq_tail = NULL;
        h->dq_len--;
        m->next = NULL;
    }
    return m;
}

#endif
