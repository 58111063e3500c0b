/*
 * Client connections, on either backend (their socket I/O goes through cio.h).
 *
 * Input is parsed in place from `rbuf`; output is a reply chain (resp/reply.h)
 * that may contain holes: a request forwarded to another shard leaves a
 * RBLOCK_HOLE block where its reply belongs, and later replies queue behind
 * it, so a pipeline's replies leave in order even when shards answer out of
 * order. Writing stops at the first unfilled hole.
 */
#ifndef POLLUX_CONN_H
#define POLLUX_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "base/keytab.h"
#include "base/netio.h"
#include "resp/parse.h"
#include "replication/repl.h"
#include "resp/reply.h"

struct worker;
struct shard_msg;
struct multi_state;
struct repl_replica;
struct repl_sync;
struct cmd_def;
struct tls_session;
struct acl_user;
struct waiter;
struct watch_list;
struct ps_client;
struct track_client;

enum conn_flags {
    CONN_CLOSE_AFTER_REPLY = 1u << 0, /* write what is queued, then close */
    CONN_CLOSE_ASAP = 1u << 1,        /* close now, drop output */
    CONN_IN_FLUSH = 1u << 2,          /* on the worker's flush list */
    CONN_WANT_WRITE = 1u << 3,        /* EPOLLOUT registered */
    CONN_BLOCKED = 1u << 4,           /* waiting (transaction, WAIT): do not parse */
    CONN_TX_QUEUED = 1u << 5,         /* on the worker's transaction queue */
    CONN_NO_EVICT = 1u << 6,          /* CLIENT NO-EVICT on */
    CONN_ZOMBIE = 1u << 7,            /* socket closed, forwarded replies still due */
    CONN_READ_PAUSED = 1u << 8,       /* too many requests in flight */
    CONN_ZOMBIE_LISTED = 1u << 9,     /* on the worker's zombie list */
    CONN_WAITING = 1u << 10,          /* blocked in WAIT (counted in blocked_clients) */
    CONN_SYNC_START = 1u << 11,       /* queued for a hold of every shard to start a snapshot */
    CONN_SAVE_WAIT = 1u << 12,        /* blocked in SAVE until the dump is written */
    CONN_MASTER = 1u << 13,           /* the link to our primary: apply, never reply */
    CONN_TLS_READY = 1u << 14,        /* TLS: decrypted input left over, read again next pass */
    CONN_TLS_WANT_WRITE = 1u << 15,   /* TLS: the connection asked to be told it can write */
    CONN_KEY_WAIT = 1u << 16,         /* blocked on keys (BLPOP ...: worker/block.h) */
    CONN_BLOCK_RETRY = 1u << 17,      /* ... woken: its command runs again */
    CONN_IN_SCRIPT = 1u << 18,        /* its script runs: a busy pass leaves it alone */
    CONN_MONITOR = 1u << 19,          /* MONITOR: sees every command (worker/monitor.h) */
    CONN_REPLY_OFF = 1u << 20,        /* CLIENT REPLY OFF: no replies */
    CONN_REPLY_SKIP_NEXT = 1u << 21,  /* CLIENT REPLY SKIP: the next command's is dropped */
    CONN_REPLY_SKIP = 1u << 22,       /* ... this one's */
    CONN_PAUSED = 1u << 23,           /* CLIENT PAUSE: waits on its worker's list (pause.h) */
    CONN_SCRIPT_RERUN = 1u << 24,     /* its script runs again holding every shard (shown once) */
};

/*
 * Blocked by a command until something happens (WAIT, SAVE; the blocking list pops will
 * add theirs): counted in blocked_clients. A blocked client's socket is still read, so a
 * peer that closes is closed at once whatever it waits for (conn_close releases what it
 * waited on); what it sends meanwhile waits in rbuf for the command to finish.
 */
#define CONN_BLOCKED_CLIENT (CONN_WAITING | CONN_SAVE_WAIT | CONN_KEY_WAIT)

#define CONN_MAX_INFLIGHT 1024 /* forwarded requests per connection before reading pauses */
/* Output a client that has not authenticated may have queued before it is dropped (Redis's). */
#define CONN_OBUF_PREAUTH_MAX 1024

struct conn {
    struct conn *prev, *next; /* worker->conns, or the zombie list */
    struct conn *flush_next;
    struct conn *tx_next;
    struct conn *pause_next; /* worker->paused */
    struct worker *w;
    const struct netio_ops *io; /* the worker's backend while c has a socket, else NULL */
    union netio_handle sock;    /* the socket, on that backend (cio.c) */
    struct tls_session *tls;    /* a TLS connection (either backend), else NULL (cio.c) */
    struct conn *tls_next;      /* worker->tls_ready / tls_ready_run while CONN_TLS_READY */
    uint32_t flags;
    uint64_t id;

    /* input */
    char *rbuf;
    size_t rlen, rcap, rpos; /* bytes [rpos, rlen) are unparsed */
    struct resp_parser parser;

    /* output */
    struct reply out;
    unsigned inflight;          /* forwarded requests not yet answered */
    int64_t obuf_soft_since_ms; /* output over the soft limit since (0: it is not) */

    /* session */
    int db;
    uint8_t proto; /* 2 or 3 */
    bool authenticated;
    struct acl_user *user; /* ACL user (a reference); NULL: unrestricted (the primary's link) */
    char *name, *lib_name, *lib_ver;
    int64_t ctime_ms, last_ms;
    const struct cmd_def *last_cmd, *last_parent; /* CLIENT LIST cmd= */
    uint64_t tx_need;
    struct multi_state *multi;  /* between MULTI and EXEC/DISCARD, else NULL */
    struct waiter *waiter;      /* blocked on keys (worker/block.h), else NULL */
    struct watch_list *watch;   /* WATCHed keys (worker/watch.h), else NULL */
    struct ps_client *ps;       /* subscriptions (worker/channels.h), else NULL */
    uint8_t track;              /* CLIENT TRACKING's flags (worker/tracking.h TRACK_*) */
    struct track_client *trk;   /* ... and its settings while on, else NULL */
    struct keytab_node id_node; /* in its worker's table of connections by id (tracking.h) */

    /* replication */
    struct repl_replica *replica; /* this is a replica's link (after SYNC/PSYNC) */
    struct repl_conn repl;        /* replication's own state (repl.h); the worker keeps it only */
    char peer[64];
    char local[64];
};

/* A connection on socket h of w's backend (not yet attached to its events: cio_attach). */
struct conn *conn_create(struct worker *w, union netio_handle h, const char *peer);
/* A connection with no socket, on no list: a worker's own, for holds nobody asked for. */
struct conn *conn_create_internal(struct worker *w);
/* Close the socket; the structure lives on while forwarded replies are due. */
void conn_close(struct conn *c);
/* Prefetch the table lines of the keys of the next commands in the buffer. */
#define CONN_PREFETCH_MAX 16
void conn_prefetch(struct conn *c);
/* Parse and run queued commands until input runs out or the connection must wait. */
void conn_process(struct conn *c);
/* Read what the socket has. @return bytes read, 0 on EAGAIN, -1 when closed. */
int conn_read(struct conn *c);
/*
 * Input for a connection that waits (CONN_BLOCKED: a blocking command, a transaction's
 * turn): read and keep it, unparsed; conn_process runs it once the wait is over.
 * @return -1 when the connection must close (the peer closed, or it sent more than
 *         client-query-buffer-limit meanwhile), else 0.
 */
int conn_read_blocked(struct conn *c);
/* Write queued output up to the first hole. @return 0, or -1 when the peer is gone. */
int conn_write(struct conn *c);
/* Mark c for flushing at the end of the pass. */
void conn_want_flush(struct conn *c);
/* Place a hole for m in c's output, for its forwarded reply. */
void conn_add_hole(struct conn *c, struct shard_msg *m);
/* m came back with its reply: fill its hole. */
void conn_fill_hole(struct conn *c, struct shard_msg *m);
/* A zombie's last reference went away: free it (now or after the flush pass). */
void conn_reap(struct conn *c);
/* Free a closed connection with nothing in flight. */
void conn_destroy(struct conn *c);
/* Bytes of queued output, and of the query buffer (CLIENT LIST omem/qbuf). */
size_t conn_output_bytes(const struct conn *c);
/* Free the query buffer, which holds nothing unparsed (rpos == rlen). */
void conn_release_input(struct conn *c);

#endif
