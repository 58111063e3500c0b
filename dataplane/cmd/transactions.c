/*
 * The transactions group: MULTI, EXEC, DISCARD, WATCH, UNWATCH. The queue is the client's
 * (cmd/client.h); the dispatcher fills it and runs EXEC over the shards of the queued
 * commands and of the watched keys (worker/multi.c, worker/watch.c, worker/dispatch.c).
 */
#include "cmd/client.h"
#include "cmd/cmd.h"
#include "cmd/commands.h"

void cmd_multi(struct cmd_ctx *c)
{
    struct cmd_client *cl = cmd_client(c);
    if (client_in_multi(cl)) {
        reply_error(c->reply, ERR_MULTI_NESTED);
        return;
    }
    client_multi_start(cl);
    reply_ok(c->reply);
}

void cmd_discard(struct cmd_ctx *c)
{
    struct cmd_client *cl = cmd_client(c);
    if (!client_in_multi(cl)) {
        reply_error(c->reply, ERR_DISCARD_NO_MULTI);
        return;
    }
    client_multi_discard(cl);
    client_unwatch(c);
    reply_ok(c->reply);
}

void cmd_watch(struct cmd_ctx *c)
{
    if (client_in_multi(cmd_client(c))) {
        /* answered, and the transaction goes on (the row runs at once inside MULTI) */
        reply_error(c->reply, ERR_WATCH_IN_MULTI);
        return;
    }
    client_watch(c, 1);
    reply_ok(c->reply);
}

void cmd_unwatch(struct cmd_ctx *c)
{
    client_unwatch(c);
    reply_ok(c->reply);
}

/*
 * Runs with every shard of the queue held (or all of them local). Each
 * queued command goes through the dispatcher's execution step, so it counts
 * in its own statistics and slow log as in Redis.
 */
void cmd_exec(struct cmd_ctx *c)
{
    struct cmd_client *cl = cmd_client(c);
    if (!client_in_multi(cl)) {
        reply_error(c->reply, ERR_EXEC_NO_MULTI);
        return;
    }
    if (client_multi_aborted(cl)) {
        client_multi_discard(cl);
        client_unwatch(c);
        reply_error(c->reply, ERR_EXECABORT);
        return;
    }
    if (client_watch_dirty(c)) {
        /* a watched key changed since WATCH: nothing runs */
        client_multi_discard(cl);
        client_unwatch(c);
        reply_null_array(c->reply);
        return;
    }
    client_unwatch(c); /* before the queue runs: its own writes do not count */
    reply_array(c->reply, client_multi_count(cl));
    client_multi_exec(c);
    client_multi_discard(cl);
}
