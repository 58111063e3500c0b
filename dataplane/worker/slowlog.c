#include "worker/slowlog.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "worker/process.h"
#include "worker/worker.h"

static void entry_free(struct slowlog_entry *e)
{
    for (int i = 0; i < e->argc; i++)
        mem_free(e->argv[i]);
    mem_free(e->argv);
    mem_free(e->argl);
    memset(e, 0, sizeof(*e));
}

void slowlog_add(struct worker *w, int argc, const struct resp_arg *argv, uint64_t usec,
                 const char *peer, const char *name)
{
    if (w->slowlog_cap == 0)
        return;
    w->slowlog_head = (w->slowlog_head + 1) % w->slowlog_cap;
    struct slowlog_entry *e = &w->slowlog[w->slowlog_head];
    if (w->slowlog_len == w->slowlog_cap)
        entry_free(e);
    else
        w->slowlog_len++;
    int n = argc > SLOWLOG_MAX_ARGC ? SLOWLOG_MAX_ARGC : argc;
    e->argc = n;
    e->argc_orig = argc;
    e->argv = mem_alloc(sizeof(char *) * (size_t)n);
    e->argl = mem_alloc(sizeof(size_t) * (size_t)n);
    for (int i = 0; i < n; i++) {
        char buf[SLOWLOG_MAX_STRING + 64];
        size_t len;
        if (i == SLOWLOG_MAX_ARGC - 1 && argc > SLOWLOG_MAX_ARGC) {
            len = (size_t)snprintf(buf, sizeof(buf), "... (%d more arguments)",
                                   argc - SLOWLOG_MAX_ARGC + 1);
        } else if (argv[i].len > SLOWLOG_MAX_STRING) {
            memcpy(buf, argv[i].ptr, SLOWLOG_MAX_STRING);
            len = SLOWLOG_MAX_STRING;
            len += (size_t)snprintf(buf + len, sizeof(buf) - len, "... (%zu more bytes)",
                                    argv[i].len - SLOWLOG_MAX_STRING);
        } else {
            memcpy(buf, argv[i].ptr, argv[i].len);
            len = argv[i].len;
        }
        e->argv[i] = mem_strndup(buf, len);
        e->argl[i] = len;
    }
    e->id = atomic_fetch_add(&server.slowlog_next_id, 1);
    e->time_s = w->now_ms / 1000;
    e->usec = usec;
    snprintf(e->peer, sizeof(e->peer), "%s", peer ? peer : "");
    snprintf(e->name, sizeof(e->name), "%s", name ? name : "");
}

void slowlog_reset(struct worker *w)
{
    for (unsigned i = 0; i < w->slowlog_cap; i++)
        if (w->slowlog[i].argv)
            entry_free(&w->slowlog[i]);
    w->slowlog_len = 0;
    w->slowlog_head = 0;
}

void slowlog_resize(struct worker *w, unsigned cap)
{
    if (cap == w->slowlog_cap)
        return;
    slowlog_reset(w);
    mem_free(w->slowlog);
    w->slowlog = cap ? mem_calloc(sizeof(struct slowlog_entry) * cap) : NULL;
    w->slowlog_cap = cap;
}

void slowlog_free(struct worker *w)
{
    slowlog_resize(w, 0);
}
