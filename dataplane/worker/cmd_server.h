/*
 * What the worker shares with the commands of cmd/: the versions (cmd/node.h)
 * and the ACL LOG entry for a command or key the dispatcher refused
 * (client.c, with the connection's CLIENT LIST line).
 */
#ifndef POLLUX_CMD_SERVER_H
#define POLLUX_CMD_SERVER_H

#include <stddef.h>

#include "cmd/cmd.h"
#include "cmd/node.h"

struct conn;
void client_acl_log_denial(struct conn *cl, int why, const struct cmd_def *d,
                           const struct cmd_def *parent, const struct resp_arg *key);

#endif
