/* Server and connection commands that reach the worker (cmd_server.c, cmd_conn.c). */
#ifndef POLLUX_CMD_SERVER_H
#define POLLUX_CMD_SERVER_H

#include <stddef.h>

#include "cmd.h"

/* The Redis version Pollux is compatible with (clients check it). */
#define SERVER_REDIS_VERSION "7.0.15"
#define POLLUX_VERSION       "0.1.0"

/* INFO text for the given sections (info.c). Every shard must be held. */
struct strbuf;
void server_info(struct strbuf *s, int nsections, const struct resp_arg *sections, int64_t now_ms);

/* One CLIENT LIST line of a connection (ends with a newline); cmd_conn.c. */
struct conn;
void conn_client_line(struct strbuf *s, struct conn *cl, int64_t now_ms);

/* ACL LOG entries for a refused command or key, and a failed AUTH (cmd_acl.c). */
void cmd_acl_log_denial(struct conn *cl, int why, const struct cmd_def *d,
                        const struct cmd_def *parent, const struct resp_arg *key);
void cmd_acl_log_auth(struct conn *cl, const char *user, size_t len);

#endif
