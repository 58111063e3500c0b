/* Server and connection command families (handlers in cmd_server.c, cmd_conn.c, cmd_docs.c). */
#ifndef POLLUX_CMD_SERVER_H
#define POLLUX_CMD_SERVER_H

#include <stddef.h>

#include "cmd.h"

/* The Redis version Pollux is compatible with (clients check it). */
#define SERVER_REDIS_VERSION "7.0.15"
#define POLLUX_VERSION       "0.1.0"

/* Reply to a HELP subcommand: the lines as status replies in an array. */
void server_reply_help(struct cmd_ctx *c, const char *const *lines, size_t n);

/* INFO text for the given sections (info.c). Every shard must be held. */
struct strbuf;
void server_info(struct strbuf *s, int nsections, const struct resp_arg *sections, int64_t now_ms);

#endif
