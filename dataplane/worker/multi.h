/*
 * MULTI/EXEC: a connection's queue of commands and their atomic execution.
 *
 * Between MULTI and EXEC the dispatcher copies each command into the queue
 * (the receive buffer is reused) and answers +QUEUED. EXEC routes on the
 * union of the queued commands' shards: when they are all this worker's it
 * runs at once, otherwise as one transaction that holds every shard involved
 * (worker_tx_begin), so the whole queue executes with no other command in
 * between on any of them — Redis's isolation, across shards.
 */
#ifndef POLLUX_MULTI_H
#define POLLUX_MULTI_H

#include <stdbool.h>
#include <stdint.h>

#include "cmd/cmd.h"

struct conn;

struct multi_cmd {
    struct multi_cmd *next;
    const struct cmd_def *cmd, *parent;
    int argc;
    struct resp_arg *argv; /* points into this allocation */
};

struct multi_state {
    struct multi_cmd *head, *tail;
    unsigned count;
    size_t bytes;   /* argument bytes queued (CLIENT LIST multi-mem) */
    uint32_t flags; /* the queued rows' CMD_* flags, or'ed (EXEC of a DENYOOM one may fail) */
    bool aborted;   /* a command was refused while queueing: EXEC answers EXECABORT */
};

/* Copy one command into c's queue. */
void multi_queue(struct conn *c, const struct cmd_def *d, const struct cmd_def *parent, int argc,
                 const struct resp_arg *argv);
/* Drop c's queue (DISCARD, RESET, EXEC, close). */
void multi_discard(struct conn *c);
/* A refusal while c is in MULTI: its EXEC will fail. */
void multi_flag(struct conn *c);

#endif
