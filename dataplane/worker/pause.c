/* CLIENT PAUSE and UNPAUSE; see pause.h. */
#include "worker/pause.h"

#include "cmd/cmd.h"
#include "worker/conn.h"
#include "worker/multi.h"
#include "worker/worker.h"

atomic_int pause_mode_now;
atomic_int_fast64_t pause_end_ms;

void pause_set(int64_t now_ms, int64_t end_ms, enum pause_mode mode)
{
    /* with no pause in effect (none set, or the last one over), the new one replaces it */
    int old = pause_in_effect(now_ms);
    if (old == PAUSE_NONE) {
        atomic_store(&pause_end_ms, end_ms);
        atomic_store(&pause_mode_now, mode);
        return;
    }
    if (end_ms > atomic_load(&pause_end_ms))
        atomic_store(&pause_end_ms, end_ms);
    if ((int)mode > old)
        atomic_store(&pause_mode_now, mode);
}

void pause_clear(void)
{
    atomic_store(&pause_mode_now, PAUSE_NONE);
    atomic_store(&pause_end_ms, 0);
}

bool pause_covers(enum pause_mode mode, const struct conn *c, const struct cmd_def *d,
                  const struct cmd_def *parent)
{
    if (c->replica != NULL || (c->flags & CONN_MASTER))
        return false;
    if (mode == PAUSE_ALL)
        return true;
    uint32_t flags = d->flags | (parent != NULL ? parent->flags : 0);
    if (d->route == ROUTE_EXEC && c->multi != NULL)
        flags |= c->multi->flags;
    return (flags & (CMD_WRITE | CMD_MAY_REPLICATE)) != 0;
}

void pause_park(struct conn *c)
{
    struct worker *w = c->w;
    c->flags |= CONN_BLOCKED | CONN_PAUSED;
    c->pause_next = w->paused;
    w->paused = c;
}

void pause_release(struct worker *w)
{
    struct conn *c = w->paused;
    w->paused = NULL;
    while (c != NULL) {
        struct conn *next = c->pause_next;
        c->pause_next = NULL;
        c->flags &= ~(CONN_BLOCKED | CONN_PAUSED);
        conn_want_flush(c); /* the flush pass parses its input again */
        c = next;
    }
}

void pause_forget(struct conn *c)
{
    if (!(c->flags & CONN_PAUSED))
        return;
    for (struct conn **pp = &c->w->paused; *pp != NULL; pp = &(*pp)->pause_next) {
        if (*pp == c) {
            *pp = c->pause_next;
            break;
        }
    }
    c->pause_next = NULL;
    c->flags &= ~(CONN_BLOCKED | CONN_PAUSED);
}
