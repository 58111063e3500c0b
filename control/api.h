/*
 * pollux-control's command set: the POLLUX verbs that polluxctl sends (one per ElastiCache
 * verb), the Redis Sentinel commands that clients use to find endpoints, and INFO/ROLE.
 *
 * Verbs take their options as name/value pairs, the option names of polluxctl without the
 * dashes:
 *
 *   POLLUX CREATE-REPLICATION-GROUP replication-group-id rg1 primary-node-id n1
 *          replica-node-ids n2,n3 multi-az yes cache-parameter-group-name pg1
 *
 * and reply with maps whose keys follow ElastiCache's API (ReplicationGroupId, Status,
 * NodeGroupMembers, ...), RESP3 maps for clients that said HELLO 3, flat key/value arrays
 * otherwise. Errors start with ElastiCache's fault name: "-ReplicationGroupNotFoundFault ...".
 * A verb validates everything before it writes, and writes in one transaction, so an error
 * changes no state. See docs/operations.md for the verbs and their options.
 */
#ifndef POLLUX_CTL_API_H
#define POLLUX_CTL_API_H

#include <stdbool.h>
#include <stdint.h>

#include "control/auth.h"
#include "control/health.h"
#include "resp/parse.h"
#include "resp/reply.h"
#include "control/state.h"

struct ctl_server;
struct ctl_loop;
struct reg_job;

struct ctl_app {
    struct ctl_loop *loop;
    struct ctl_state *st;
    struct ctl_health *h;
    struct ctl_server *srv;
    struct ctl_health_opts opts;
    char myid[41]; /* this pollux-control's 40-character id (SENTINEL myid) */
    int port;
    uint64_t started_ns;
    struct reg_job *regs; /* register-node requests waiting for run_ids */
};

/* The server's command handler (ctl_server_cmd_fn) for pollux-control. */
void ctl_api_command(void *app, int argc, struct resp_arg *argv, struct reply *r);

/* Finish what waits on nodes (register-node's run_id checks); call from the periodic tick. */
void ctl_api_tick(struct ctl_app *a, uint64_t now_ns);
/* Drop what is still waiting (at exit; the waiting clients get no reply). */
void ctl_api_deinit(struct ctl_app *a);

/* The Sentinel command family (SENTINEL ..., and the matching INFO section). */
void ctl_sentinel_command(struct ctl_app *a, int argc, struct resp_arg *argv, struct reply *r);
void ctl_sentinel_info(struct ctl_app *a, struct reply *r);

/*
 * Authentication: install the user check on the server and require it when a user exists.
 * Called at start and after every change of users.
 * @return the number of users, or -EIO.
 */
int ctl_api_auth_setup(struct ctl_app *a);
/*
 * Whether the client whose command runs may do `what` (needs `need`); writes "-NOPERM ..."
 * when not. When it may, the events written until the command returns carry its user.
 */
bool ctl_api_permit(struct ctl_app *a, enum ctl_access need, const char *what, struct reply *r);

struct ctl_verb;
/* Whether pollux-control runs verb v (polluxctl runs the others itself). */
bool ctl_api_handles(const struct ctl_verb *v);

/* Health's publish hook: forwards to the server's Pub/Sub. */
void ctl_api_publish(void *app, const char *channel, const char *message);

#endif
