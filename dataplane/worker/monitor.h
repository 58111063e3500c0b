/*
 * MONITOR: clients that see every command the node runs, as Redis's monitor lines
 * ("+1700000000.123456 [0 127.0.0.1:50000] "SET" "k" "v""). Each worker keeps its own
 * monitors; a command is fed on the worker that ran it (its client's: the forwarded ones
 * when they are sent), to its monitors at once and to the other workers' over the rings.
 * While nobody monitors, a command costs one relaxed load.
 */
#ifndef POLLUX_MONITOR_H
#define POLLUX_MONITOR_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct cmd_def;
struct conn;
struct resp_arg;
struct shard_msg;
struct worker;

/* A worker's monitors. */
struct monitors {
    struct conn **c;
    unsigned n, cap;
    atomic_uint count; /* n, for the other workers: they skip a worker with none */
};

/* Monitors on every worker: 0, and commands skip the feed. */
extern atomic_uint monitor_total;

static inline bool monitor_any(void)
{
    return atomic_load_explicit(&monitor_total, memory_order_relaxed) != 0;
}

/* Command d ran for client c (NULL: a script's, shown as "lua") in database db. */
void monitor_feed(struct worker *w, const struct conn *c, const struct cmd_def *d, int db, int argc,
                  const struct resp_arg *argv);
/* A line from another worker, and its return. */
void monitor_on_line(struct worker *w, struct shard_msg *m);
/* c monitors from now on / no more (closed, RESET). */
void monitor_add(struct conn *c);
void monitor_remove(struct conn *c);
void monitor_free(struct monitors *m);

#endif
