/*
 * The transactions group: MULTI, EXEC, DISCARD. The queue is the client's
 * (cmd/client.h); the dispatcher fills it and runs EXEC over the shards of
 * the queued commands (worker/multi.c, worker/dispatch.c).
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
        reply_error(c->reply, ERR_EXECABORT);
        return;
    }
    reply_array(c->reply, client_multi_count(cl));
    client_multi_exec(c);
    client_multi_discard(cl);
}
