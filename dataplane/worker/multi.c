/* MULTI, EXEC and DISCARD; see multi.h. */
#include "multi.h"

#include <string.h>

#include "commands.h"
#include "conn.h"
#include "dispatch.h"
#include "mem.h"

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

void cmd_multi(struct cmd_ctx *c)
{
    struct conn *cl = c->client;
    if (cl->multi != NULL) {
        reply_error(c->reply, ERR_MULTI_NESTED);
        return;
    }
    cl->multi = mem_calloc(sizeof(*cl->multi));
    reply_ok(c->reply);
}

void cmd_discard(struct cmd_ctx *c)
{
    struct conn *cl = c->client;
    if (cl->multi == NULL) {
        reply_error(c->reply, ERR_DISCARD_NO_MULTI);
        return;
    }
    multi_discard(cl);
    reply_ok(c->reply);
}

/*
 * Runs with every shard of the queue held (or all of them local). Each
 * queued command goes through the dispatcher's execution step, so it counts
 * in its own statistics and slow log as in Redis.
 */
void cmd_exec(struct cmd_ctx *c)
{
    struct conn *cl = c->client;
    struct multi_state *ms = cl->multi;
    if (ms == NULL) {
        reply_error(c->reply, ERR_EXEC_NO_MULTI);
        return;
    }
    if (ms->aborted) {
        multi_discard(cl);
        reply_error(c->reply, ERR_EXECABORT);
        return;
    }
    reply_array(c->reply, ms->count);
    for (const struct multi_cmd *q = ms->head; q != NULL; q = q->next)
        dispatch_run_queued(c, q);
    multi_discard(cl);
}
