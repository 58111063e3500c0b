/*
 * The central command path: lookup, arity, authentication, routing (local,
 * forwarded to one shard, or a transaction over several), OOM checks,
 * execution and statistics — everything a table row implies, done once.
 */
#ifndef POLLUX_DISPATCH_H
#define POLLUX_DISPATCH_H

#include "resp/parse.h"

struct conn;
struct worker;
struct shard_msg;

enum dispatch_result {
    DISPATCH_DONE = 0, /* executed, forwarded, or rejected: consume the request */
    DISPATCH_WAIT,     /* must wait (transaction queued, too much in flight): keep it */
};

/* Handle one parsed request of connection c (on c's worker). */
enum dispatch_result dispatch_request(struct conn *c, int argc, struct resp_arg *argv);

struct cmd_ctx;
struct multi_cmd;
/*
 * EXEC: run one queued command in the context EXEC runs in (same stores, same
 * client), with its own statistics and slow log entry; its reply goes to
 * EXEC's reply. SELECT inside the block applies to the commands after it.
 */
void dispatch_run_queued(struct cmd_ctx *exec, const struct multi_cmd *q);

/* Execute a request forwarded to this worker's shard and send it back. */
void dispatch_forwarded(struct worker *w, struct shard_msg *m);

/* A forwarded request's reply is back on the origin worker: its slowlog entry. */
void dispatch_forward_done(struct worker *w, struct conn *c, struct shard_msg *m);

#endif
