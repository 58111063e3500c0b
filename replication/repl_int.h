/* Shared between node.c, primary.c, replica.c and node_cmd.c; nothing else (repl.h is the
 * interface with the worker). */
#ifndef POLLUX_REPL_INT_H
#define POLLUX_REPL_INT_H

#include "cmd/cmd.h"
#include "replication/repl.h"

/* With every shard held: a snapshot for replicas (path NULL) or a dump file. */
struct repl_sync *repl_sync_begin(struct worker *w, bool for_replicas, const char *path);
/* The stream's producer lock (merge thread, or the link on a replica). */
void repl_stream_lock(void);
/* Wake the merge thread if it sleeps (new feed chunks, a GETACK wanted). */
void repl_merge_wake(void);
void repl_stream_unlock(void);

/* primary.c */
void repl_primary_hold_ready(struct worker *w, struct conn *c);
void repl_replicas_pass(struct worker *w);
void repl_wait_cron(struct worker *w);
const char *repl_rstate_name(int state);

/* replica.c */
void repl_link_send_ack(struct conn *c);
void repl_link_cron(struct worker *w);
/* Worker 0, every pass: load a received RDB while one is being loaded. @return work done. */
unsigned repl_link_pass(struct worker *w);

/* node_cmd.c */
void repl_save_hold_ready(struct worker *w, struct conn *c);
void repl_save_cron(struct worker *w);

#endif
