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
struct cmd_def;
struct reply;

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
struct cmd_def;
struct reply;
struct resp_arg;
struct worker;
/*
 * redis.call: run command d for the script running in `script` (its stores, its client),
 * replying into r; *db is the script's database (SELECT changes it, not the client's).
 * The caller made Redis's checks for scripts (script.c). @return the changes it made
 */
long long dispatch_run_script(struct cmd_ctx *script, const struct cmd_def *d,
                              const struct cmd_def *parent, int argc, struct resp_arg *argv,
                              struct reply *r, int *db);
/* Whether the stores c runs on are within maxmemory (evicting first, as for a request). */
bool dispatch_memory_ok(struct worker *w, const struct cmd_ctx *c);

/* Execute a request forwarded to this worker's shard and send it back. */
void dispatch_forwarded(struct worker *w, struct shard_msg *m);

/* A forwarded request's reply is back on the origin worker: its slowlog entry. */
void dispatch_forward_done(struct worker *w, struct conn *c, struct shard_msg *m);

/* A woken blocked client: queue the transaction that runs its command again. */
void dispatch_block_retry(struct conn *c);
/* ... its turn: every shard the command names is held. */
void dispatch_block_rerun(struct worker *w, struct conn *c);
/*
 * Serve a blocked client's command on shard `shard` (this worker's, or held by it), taking
 * only from `key`; the reply goes to r. It replicates like any write.
 */
void dispatch_serve(struct worker *w, unsigned shard, const struct cmd_def *d,
                    const struct cmd_def *parent, int argc, struct resp_arg *argv, int db,
                    const struct resp_arg *key, struct reply *r);

#endif
