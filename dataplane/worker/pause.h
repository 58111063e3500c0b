/*
 * CLIENT PAUSE and UNPAUSE: while a pause is in effect, the commands it covers (every one
 * for ALL; writes, scripts and publishes for WRITE) wait, unparsed, on their worker's list
 * of paused clients, and run when it ends (its timeout, or UNPAUSE). Replicas and the link
 * to a primary are never paused. While no pause was ever set, a request costs one relaxed
 * load.
 */
#ifndef POLLUX_PAUSE_H
#define POLLUX_PAUSE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct cmd_def;
struct conn;
struct worker;

enum pause_mode { PAUSE_NONE = 0, PAUSE_WRITE = 1, PAUSE_ALL = 2 };

extern atomic_int pause_mode_now;        /* enum pause_mode */
extern atomic_int_fast64_t pause_end_ms; /* when it ends (unix ms) */

/* The pause in effect at now_ms. */
static inline enum pause_mode pause_in_effect(int64_t now_ms)
{
    int mode = atomic_load_explicit(&pause_mode_now, memory_order_relaxed);
    if (mode == PAUSE_NONE)
        return PAUSE_NONE;
    return now_ms < atomic_load_explicit(&pause_end_ms, memory_order_relaxed)
               ? (enum pause_mode)mode
               : PAUSE_NONE;
}

/* CLIENT PAUSE at now_ms: the longer end and the wider mode win, as in Redis. */
void pause_set(int64_t now_ms, int64_t end_ms, enum pause_mode mode);
/* CLIENT UNPAUSE. */
void pause_clear(void);
/* Does the pause cover command d for client c (EXEC: by what it queued). */
bool pause_covers(enum pause_mode mode, const struct conn *c, const struct cmd_def *d,
                  const struct cmd_def *parent);
/* c waits for the end of the pause (its request is parsed again then). */
void pause_park(struct conn *c);
/* The pause ended: this worker's paused clients go on. */
void pause_release(struct worker *w);
/* A paused client goes away. */
void pause_forget(struct conn *c);

#endif
