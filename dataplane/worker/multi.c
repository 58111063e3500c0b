/* A connection's MULTI queue; see multi.h (the commands are cmd/transactions.c). */
#include "worker/multi.h"

#include <string.h>

#include "worker/conn.h"
#include "base/mem.h"

void multi_queue(struct conn *c, const struct cmd_def *d, const struct cmd_def *parent, int argc,
                 const struct resp_arg *argv)
{
    struct multi_state *ms = c->multi;
    size_t bytes = 0;
    for (int i = 0; i < argc; i++)
        bytes += argv[i].len + 1;
    size_t head = sizeof(struct multi_cmd) + sizeof(struct resp_arg) * (size_t)argc;
    struct multi_cmd *q = mem_alloc(head + bytes);
    q->next = NULL;
    q->cmd = d;
    q->parent = parent;
    q->argc = argc;
    q->argv = (struct resp_arg *)(q + 1);
    char *p = (char *)q + head;
    for (int i = 0; i < argc; i++) {
        memcpy(p, argv[i].ptr, argv[i].len);
        p[argv[i].len] = '\0'; /* handlers may rely on a terminator, as in the receive buffer */
        q->argv[i].ptr = p;
        q->argv[i].len = argv[i].len;
        p += argv[i].len + 1;
    }
    if (ms->tail)
        ms->tail->next = q;
    else
        ms->head = q;
    ms->tail = q;
    ms->count++;
    ms->bytes += bytes;
    ms->flags |= d->flags | (parent != NULL ? parent->flags : 0);
}

void multi_discard(struct conn *c)
{
    struct multi_state *ms = c->multi;
    if (ms == NULL)
        return;
    struct multi_cmd *q = ms->head;
    while (q != NULL) {
        struct multi_cmd *next = q->next;
        mem_free(q);
        q = next;
    }
    mem_free(ms);
    c->multi = NULL;
}

void multi_flag(struct conn *c)
{
    if (c->multi != NULL)
        c->multi->aborted = true;
}
