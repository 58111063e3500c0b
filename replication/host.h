/*
 * What the node side of replication uses of the worker (dataplane/worker/), in one
 * place: node.c, node_cmd.c, primary.c and replica.c include this header and none of
 * the worker's own. The other direction, what the worker calls, is repl.h.
 *
 * A connection (struct conn) is a handle: replication reads and changes it only
 * through the host_conn_* functions below (dataplane/worker/repl_host.c).
 *
 * The worker's services:
 * - the running worker and the process: worker_self, server.workers[] (worker 0 owns
 *   the link to a primary and the save schedule);
 * - scheduling: conn_want_flush (a connection has output: flush it this pass),
 *   worker_wake (another worker may sleep), worker_tx_begin (hold every shard for a
 *   connection; repl_hold_ready is called once they are held);
 * - connections: conn_create_internal (a connection of the worker's own, to hold
 *   shards nobody asked for), conn_read and conn_process (run the input of the link
 *   to a primary as commands), conn_close; the host_conn_* accessors;
 * - bytes: cio_writev (a replica's RDB and stream, straight from the shared blocks),
 *   cio_write_all, cio_flush, cio_write_interest and cio_rearm (the handshake with a
 *   primary), cio_connect and cio_connect_error (connecting to it, TCP or TLS);
 * - SERVER_REDIS_VERSION (cmd_server.h), the version written into RDBs' aux fields.
 *
 * Fields it still reads or writes in place of accessors (the remaining reach-ins,
 * replication/NOTES.md): of struct worker `id`, `repl`, `params` in the write-stream
 * hooks (per write: no accessor call there), `dirty`; of struct server `workers`,
 * `nworkers`, `stores`, `port`.
 */
#ifndef POLLUX_REPL_HOST_H
#define POLLUX_REPL_HOST_H

#include "cio.h"
#include "cmd_server.h"
#include "conn.h"
#include "server.h"
#include "worker.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conn;
struct worker;
struct reply;
struct resp_arg;
struct repl_conn;
struct repl_replica;
struct repl_params;
struct repl_worker;
struct shard_port;
struct store;

/*
 * A worker, through its handle (worker/repl_host.c): what the loop, the cron, the
 * snapshots and the link to a primary read of it. The write-stream hooks, on the
 * request path, do not call these (replication/NOTES.md).
 */
unsigned host_worker_id(const struct worker *w);
/* The loop pass's wall clock (ms). */
int64_t host_now_ms(const struct worker *w);
/* Its shard's store, and its end of the shard message ports (loading a sync). */
struct store *host_worker_store(struct worker *w);
struct shard_port *host_worker_shard_port(struct worker *w);
/* Replication's own state on the worker (the worker keeps it without reading it). */
struct repl_worker *host_worker_repl(struct worker *w);
/* Its copy of the parameters: replication's, and the few others it needs. */
const struct repl_params *host_repl_params(const struct worker *w);
const char *host_param_dbfilename(const struct worker *w);
const char *host_param_save(const struct worker *w); /* the save schedule */
long long host_param_max_bulk_len(const struct worker *w);
/* lazyfree-lazy-eviction (evicted) or lazyfree-lazy-expire: a removal goes out as UNLINK. */
bool host_param_lazyfree(const struct worker *w, bool evicted);
bool host_tls_replication(const struct worker *w); /* tls-replication */
int host_tls_port(const struct worker *w);
/* client-output-buffer-limit for replicas (0: none). */
struct host_obuf_limit {
    unsigned long long hard, soft, soft_seconds;
};
void host_replica_obuf_limit(const struct worker *w, struct host_obuf_limit *lim);
/* Counters: a write to a socket of `bytes`, and the commands run so far. */
void host_worker_count_write(struct worker *w, uint64_t bytes);
uint64_t host_worker_commands(const struct worker *w);
/* Clients blocked in WAIT or SAVE on this worker. */
uint64_t host_worker_blocked(const struct worker *w);
/* The worker's own connection (holds nobody asked for: the save schedule), made once. */
void host_worker_make_internal(struct worker *w);
struct conn *host_worker_internal(const struct worker *w);

/*
 * A connection, through its handle (worker/repl_host.c). None of these is on the
 * request path: they serve replicas' connections once per pass, the link to a
 * primary once per read or applied command, and WAIT/SAVE clients.
 */
struct worker *host_conn_worker(const struct conn *c);
uint64_t host_conn_id(const struct conn *c);
const char *host_conn_peer(const struct conn *c); /* "ip:port" */
/* Its output: replies written here go out at the end of the pass (host_conn_want_flush). */
struct reply *host_conn_out(struct conn *c);
/* Replication's own state on the connection (the worker keeps it without reading it). */
struct repl_conn *host_conn_repl(struct conn *c);
/* The replica this connection is the link of (after SYNC/PSYNC), else NULL. */
struct repl_replica *host_conn_replica(const struct conn *c);
void host_conn_set_replica(struct conn *c, struct repl_replica *r);
/* The worker's client connections, oldest first (host_worker_conns(w) is the first). */
struct conn *host_worker_conns(struct worker *w);
struct conn *host_conn_next(const struct conn *c);
/* Forwarded requests not yet answered. */
unsigned host_conn_inflight(const struct conn *c);
bool host_conn_in_multi(const struct conn *c);
/* Flush its output at the end of the pass (conn_want_flush). */
void host_conn_want_flush(struct conn *c);
/* Close it at the end of the pass, dropping its output; already so, or closed. */
void host_conn_close_asap(struct conn *c);
bool host_conn_closing(const struct conn *c);
/* Waiting for the socket to take more output (the worker flushes it when it can). */
bool host_conn_write_pending(const struct conn *c);

/*
 * Blocked clients: WAIT, and SAVE/BGSAVE until their snapshot starts or ends. A
 * blocked connection parses no input; host_conn_unblock counts it out, schedules
 * its reply and leaves the input for conn_process.
 */
enum host_block { HOST_BLOCK_WAIT, HOST_BLOCK_SAVE };
void host_conn_block(struct conn *c, enum host_block why);
bool host_conn_blocked_for(const struct conn *c, enum host_block why);
void host_conn_unblock(struct conn *c);
/* Still blocked once the hold of every shard for it ends (a SAVE waits for its file). */
void host_conn_keep_blocked(struct conn *c);

/*
 * Holding every shard for a connection (a snapshot starts between two commands):
 * host_conn_hold_all asks for it, repl_hold_ready is called once they are held.
 */
void host_conn_hold_all(struct conn *c);
/* It asked (SAVE, or host_conn_hold_all), and the hold did not start yet... */
bool host_conn_hold_wanted(const struct conn *c);
/* ...is queued for it or holds it now. */
bool host_conn_hold_queued(const struct conn *c);

/*
 * The link to a primary, a client connection the node made (cio_connect): its
 * commands run unauthenticated by ACL and are never answered.
 */
void host_conn_set_master(struct conn *c, bool on);
bool host_conn_is_master(const struct conn *c);
/* Its input is not read now (blocked, or too many requests in flight). */
bool host_conn_input_paused(const struct conn *c);
/* The bytes read and not parsed yet; host_conn_consume drops n of them. */
char *host_conn_input(struct conn *c, size_t *len);
void host_conn_consume(struct conn *c, size_t n);
/* The command name of the request being run (argv[0]). */
const struct resp_arg *host_conn_cmd_name(const struct conn *c);

#endif
