/*
 * The client a command runs for, as the commands in cmd/ see it: an opaque
 * handle and the calls a connection command needs (CLIENT, HELLO, AUTH,
 * RESET, MULTI/EXEC, SHUTDOWN, ACL WHOAMI). The worker owns the connection
 * and implements these (worker/client.c); a handler never sees its fields.
 *
 * None of this is on the request path: dispatch reads the connection
 * directly, and only the handlers of these commands call through here.
 */
#ifndef POLLUX_CMD_CLIENT_H
#define POLLUX_CMD_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cmd_ctx;
struct cmd_client;
struct acl_user;
struct strbuf;
struct resp_arg;

/* The client running c, or NULL for a command forwarded from another worker's client. */
struct cmd_client *cmd_client(const struct cmd_ctx *c);

uint64_t client_id(const struct cmd_client *cl);
/* CLIENT SETNAME / HELLO SETNAME: NULL when it has none. */
const char *client_name(const struct cmd_client *cl);
/* An empty name (len 0) removes it. */
void client_set_name(struct cmd_client *cl, const char *name, size_t len);
/* CLIENT SETINFO: the library's name or version (empty removes it). */
enum client_lib { CLIENT_LIB_NAME, CLIENT_LIB_VER };
void client_set_lib(struct cmd_client *cl, enum client_lib which, const char *v, size_t len);
/* RESP version (2 or 3); setting it also switches the reply being written (c->reply). */
int client_proto(const struct cmd_client *cl);
void client_set_proto(struct cmd_client *cl, struct cmd_ctx *c, int proto);
/* CLIENT NO-EVICT */
void client_set_no_evict(struct cmd_client *cl, bool on);
/* CLIENT REPLY: replies on, off, or off for the next command only. */
enum client_reply_mode { CLIENT_REPLY_ON, CLIENT_REPLY_OFF, CLIENT_REPLY_SKIP };
void client_set_reply_mode(struct cmd_client *cl, enum client_reply_mode mode);

/* Authentication: whether it has, the ACL user's name ("default" when unrestricted). */
bool client_authenticated(const struct cmd_client *cl);
const char *client_user_name(const struct cmd_client *cl);
/* Whether the client's user may read every key (Redis's check of the key "*"). */
bool client_reads_all_keys(const struct cmd_client *cl);
/* Become user u (takes the reference), authenticated. */
void client_login(struct cmd_client *cl, struct acl_user *u);
/* RESET: the default user again, authenticated only if it needs no password. */
void client_login_default(struct cmd_client *cl);
/* A failed AUTH/HELLO AUTH as `user`: an ACL LOG entry (reason auth). */
void client_log_auth_failure(struct cmd_client *cl, const char *user, size_t len);

/* Addresses as CLIENT LIST shows them ("ip:port"). */
const char *client_peer(const struct cmd_client *cl);
const char *client_local(const struct cmd_client *cl);
/* The peer is this host (protected configs and commands: "local"). */
bool client_is_local(const struct cmd_client *cl);

/* What CLIENT LIST and KILL filter on with TYPE. */
enum client_type { CLIENT_NORMAL = 0, CLIENT_MASTER, CLIENT_REPLICA, CLIENT_PUBSUB };
enum client_type client_type(const struct cmd_client *cl);
/* One CLIENT LIST / CLIENT INFO line, in Redis's field order, ending with a newline. */
void client_line(struct strbuf *s, const struct cmd_client *cl, int64_t now_ms);

/*
 * Every client of every worker, by worker then age: client_next(NULL) is the
 * first. Only with every shard held (the command's route is `all`).
 */
struct cmd_client *client_next(struct cmd_client *prev);
/* Already being closed (CLIENT KILL skips it). */
bool client_closing(const struct cmd_client *cl);
/* CLIENT KILL: `me` closes after this reply, another client at once (its worker closes it). */
void client_kill(struct cmd_client *cl, const struct cmd_client *me);
/* Drop the connection now without its output (SHUTDOWN). */
void client_close_now(struct cmd_client *cl);
/*
 * CLIENT UNBLOCK: a client waiting in a blocking command answers now, as on its timeout or
 * with the UNBLOCKED error. @return false when it was not waiting.
 */
bool client_unblock(struct cmd_client *cl, bool error);

/*
 * MULTI: the client's queue of commands (worker/multi.c keeps it, the
 * dispatcher fills it). client_multi_exec runs each queued command through
 * the dispatcher's execution step, answering into c->reply.
 */
bool client_in_multi(const struct cmd_client *cl);
void client_multi_start(struct cmd_client *cl);
/* A command was refused while queueing: EXEC must answer EXECABORT. */
bool client_multi_aborted(const struct cmd_client *cl);
unsigned client_multi_count(const struct cmd_client *cl);
void client_multi_exec(struct cmd_ctx *c);
/* Drop the queue and leave MULTI (no-op outside it). */
void client_multi_discard(struct cmd_client *cl);

/*
 * Pub/sub (worker/channels.c): the client's subscriptions by kind. Each call answers as Redis
 * does: a [subscribe|unsubscribe..., name, count] push (an array in RESP2) per name.
 */
enum ps_kind { PS_CHANNEL = 0, PS_PATTERN, PS_SHARD };
void client_subscribe(struct cmd_ctx *c, int kind, const char *name, size_t len);
void client_unsubscribe(struct cmd_ctx *c, int kind, const char *name, size_t len);
/* Every subscription of the kind (a null name and the count when there is none). */
void client_unsubscribe_all(struct cmd_ctx *c, int kind);
/* Subscriptions of every kind: RESP2's subscribed mode while not 0. */
uint32_t client_pubsub_count(const struct cmd_client *cl);
/* RESET: every subscription goes, without replies. */
void client_pubsub_reset(struct cmd_client *cl);
/* RESET: MONITOR ends, and so does CLIENT TRACKING. */
void client_monitor_stop(struct cmd_client *cl);
void client_tracking_off(struct cmd_client *cl);
/*
 * PUBLISH, SPUBLISH: to the subscribers of every worker; the reply (how many received it)
 * comes when every worker has counted.
 */
void client_publish(struct cmd_ctx *c, int kind, const struct resp_arg *channel,
                    const struct resp_arg *message);

/*
 * WATCH (worker/watch.h). client_watch runs with the shards of argv[first..] held (the row
 * routes `hold`); client_watch_dirty with those of every watched key (EXEC holds them).
 */
void client_watch(struct cmd_ctx *c, int first);
bool client_watch_dirty(struct cmd_ctx *c);
/* Forget every watched key (UNWATCH, EXEC, DISCARD, RESET). */
void client_unwatch(struct cmd_ctx *c);

#endif
