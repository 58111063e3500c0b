/*
 * What the node side of replication uses of the worker (dataplane/worker/), in one
 * place: node.c, node_cmd.c, primary.c and replica.c include this header and none of
 * the worker's own. The other direction, what the worker calls, is repl.h.
 *
 * The worker's services:
 * - the running worker and the process: worker_self, server.workers[] (worker 0 owns
 *   the link to a primary and the save schedule);
 * - scheduling: conn_want_flush (a connection has output: flush it this pass),
 *   worker_wake (another worker may sleep), worker_tx_begin (hold every shard for a
 *   connection; repl_hold_ready is called once they are held);
 * - connections: conn_create_internal (a connection of the worker's own, to hold
 *   shards nobody asked for), conn_read and conn_process (run the input of the link
 *   to a primary as commands), conn_close;
 * - bytes: cio_writev (a replica's RDB and stream, straight from the shared blocks),
 *   cio_write_all, cio_flush, cio_write_interest and cio_rearm (the handshake with a
 *   primary), cio_connect and cio_connect_error (connecting to it, TCP or TLS);
 * - SERVER_REDIS_VERSION (cmd_server.h), the version written into RDBs' aux fields.
 *
 * Fields it still reads or writes in place of accessors (the remaining reach-ins,
 * replication/NOTES.md): of struct worker `id`, `now_ms`, `params`, `store`, `stats`,
 * `obuf`, `conns`, `blocked_clients`, `internal`, `tx`, `port`; of struct conn `w`,
 * `worker`, `flags`, `db`, `out`, `reply`, `client`, `replica`, `argc`/`argv`, `next`,
 * `id`, `peer`, `done`, `inflight`, `now_ms`, `offset_known`, `parser`, `rbuf`/`rlen`/
 * `rpos`, `user`, `authenticated`, `multi`, `nshards`, `stores`.
 */
#ifndef POLLUX_REPL_HOST_H
#define POLLUX_REPL_HOST_H

#include "cio.h"
#include "cmd_server.h"
#include "conn.h"
#include "server.h"
#include "worker.h"

#endif
