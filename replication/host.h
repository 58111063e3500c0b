/*
 * What the node side of replication uses of the worker (dataplane/worker/), in one
 * place: the worker implements it (dataplane/worker/repl_host.c) and the library
 * builds without the worker's headers on its include path. The other direction,
 * what the worker calls, is repl.h.
 *
 * The worker's structs are handles here: a connection (struct conn) and a worker
 * (struct worker) are read and changed only through these functions. None of them
 * is on the request path: the write-stream hooks get what they need passed in
 * (repl.h), the rest runs per pass, per millisecond, per read of the link to a
 * primary, or for WAIT/SAVE clients.
 *
 * The worker's services:
 * - the process: host_worker(i), host_store(i) (i below repl_node.nworkers),
 *   host_worker_self, host_port (worker 0 owns the link to a primary and the save
 *   schedule);
 * - scheduling: host_conn_want_flush (a connection has output: flush it this pass),
 *   host_worker_wake (another worker may sleep), host_conn_hold_all (hold every
 *   shard for a connection; repl_hold_ready is called once they are held);
 * - connections: host_worker_make_internal (a connection of the worker's own, to
 *   hold shards nobody asked for), host_conn_read and host_conn_process (run the
 *   input of the link to a primary as commands), host_conn_close; the accessors;
 * - bytes: host_conn_writev (a replica's RDB and stream, straight from the shared
 *   blocks), host_conn_write_all, host_conn_flush, host_conn_write_interest and
 *   host_conn_rearm (the handshake with a primary), host_connect and
 *   host_connect_error (connecting to it, TCP or TLS);
 * - SERVER_REDIS_VERSION (cmd/node.h), the version written into RDBs' aux fields.
 */
#ifndef POLLUX_REPL_HOST_H
#define POLLUX_REPL_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "cmd/node.h" /* dataplane/cmd/node.h: SERVER_REDIS_VERSION */

struct conn;
struct kv;
struct worker;
struct reply;
struct resp_arg;
struct repl_conn;
struct repl_replica;
struct repl_params;
struct coll_params;
struct repl_worker;
struct shard_port;
struct store;

/*
 * The parameters' master copy (CONFIG SET changes it; workers take copies): fn reads
 * replication's under the config lock, from any thread (the merge thread, a save at
 * exit). Keep nothing it points to.
 */
void host_config_read(void (*fn)(const struct repl_params *p, void *arg), void *arg);

/* The process: its workers (one shard each, worker i owns store i). */
struct worker *host_worker(unsigned i);
struct store *host_store(unsigned i);
/* The worker running this thread, NULL on another thread. */
struct worker *host_worker_self(void);
/* Wake worker i if it sleeps (work for it in replication's state). */
void host_worker_wake(unsigned i);
/* port: what a replica announces to its primary over TCP. */
int host_port(void);

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
/* The store removed a key itself (expiry, eviction): the keyspace event, on the thread that
 * runs the store. */
void host_key_removed(int db, const struct kv *e, bool evicted);
/* w's dataset is about to be replaced (a full sync): clients watching its live keys see a
 * change, as Redis's flush of the old dataset signals them. */
void host_worker_replacing(struct worker *w);
struct shard_port *host_worker_shard_port(struct worker *w);
/* Replication's own state on the worker (the worker keeps it without reading it). */
struct repl_worker *host_worker_repl(struct worker *w);
/* Its copy of the parameters: replication's, and the few others it needs. */
const struct repl_params *host_repl_params(const struct worker *w);
/* The worker's collection parameters (cmd/coll.h): the loaders convert encodings by them. */
const struct coll_params *host_coll_params(const struct worker *w);
const char *host_param_dbfilename(const struct worker *w);
const char *host_param_save(const struct worker *w); /* the save schedule */
long long host_param_max_bulk_len(const struct worker *w);
/*
 * Function libraries (FUNCTION LOAD): written after the aux fields of every RDB made here,
 * read from every RDB loaded (a full sync replaces them all: flush first).
 */
struct rdb_buf;
void host_functions_dump(struct rdb_buf *b);
int host_function_load(void *arg, const char *code, size_t len);
void host_functions_flush(void);
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
/* Keyspace changes made by this worker (saves, INFO). */
uint64_t host_worker_dirty(const struct worker *w);
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
/* Read what the socket has: bytes read, 0 when none, -1 when closed (conn_read). */
int host_conn_read(struct conn *c);
/* Parse and run its queued input (conn_process), e.g. once it is unblocked. */
void host_conn_process(struct conn *c);
/* Close the socket (conn_close). */
void host_conn_close(struct conn *c);

/*
 * Bytes on a connection, past its output queue (the worker's I/O backend, TCP or
 * TLS): a replica's stream, the handshake with a primary.
 */
ssize_t host_conn_writev(struct conn *c, const struct iovec *iov, int iovcnt);
/* Write all of it or fail: @return 0, or -1. */
int host_conn_write_all(struct conn *c, const void *buf, size_t len);
/* Write what is pending: @return 0, or -1 when the peer is gone. */
int host_conn_flush(struct conn *c);
/* Ask for (or stop asking for) writability events. */
void host_conn_write_interest(struct conn *c, bool on);
/* Input left in the socket: ask for the event again. */
void host_conn_rearm(struct conn *c);
/* Start connecting to host:port (TLS when tls): the connection, or NULL. */
struct conn *host_connect(struct worker *w, const char *host, int port, bool tls);
/* How the connect went: 0 connected, EINPROGRESS not yet, else an errno. */
int host_connect_error(struct conn *c);
/* The events repl_link_event gets: readable, writable. */
#define HOST_IN  1u
#define HOST_OUT 2u

#endif
