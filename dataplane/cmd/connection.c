/*
 * Connection commands that need nothing of the connection: PING and ECHO.
 * The others (AUTH, HELLO, SELECT, QUIT, RESET, CLIENT) still live in
 * worker/cmd_conn.c, next to the connection they change.
 */
#include "cmd.h"
#include "commands.h"

void cmd_ping(struct cmd_ctx *c)
{
    if (c->argc > 2) {
        cmd_reply_arity(c);
        return;
    }
    if (c->argc == 2)
        reply_bulk(c->reply, c->argv[1].ptr, c->argv[1].len);
    else
        reply_status(c->reply, "PONG");
}

void cmd_echo(struct cmd_ctx *c)
{
    reply_bulk(c->reply, c->argv[1].ptr, c->argv[1].len);
}
