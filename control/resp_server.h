/*
 * The RESP server of pollux-control: accepts clients (polluxctl, redis-cli, Sentinel
 * clients), parses their commands with dataplane/resp, answers through the reply writer, and
 * handles the connection-level commands itself: PING, ECHO, HELLO, QUIT, RESET, CLIENT
 * SETNAME/GETNAME/ID/INFO, and Pub/Sub (SUBSCRIBE, PSUBSCRIBE, UNSUBSCRIBE, PUNSUBSCRIBE).
 * Every other command goes to the application's handler.
 */
#ifndef POLLUX_CTL_RESP_SERVER_H
#define POLLUX_CTL_RESP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/auth.h"
#include "control/loop.h"
#include "resp/parse.h"
#include "resp/reply.h"

/* The longest bulk argument a client may send (4 MiB); a longer one is a protocol error. */
#define CTL_SERVER_MAX_BULK (4LL * 1024 * 1024)
/*
 * A client with more than CTL_SERVER_OUTPUT_LIMIT bytes of replies it has not read gets no
 * further request served until it reads; one that reads nothing for CTL_SERVER_STALL_MS
 * meanwhile is disconnected. So a client that pipelines requests and never reads costs at
 * most the limit plus one reply, and other clients are not affected.
 */
#define CTL_SERVER_OUTPUT_LIMIT (8u * 1024 * 1024)
#define CTL_SERVER_STALL_MS     5000

/* Handle one command (argv[0] is its name); write exactly one reply into r. */
typedef void (*ctl_server_cmd_fn)(void *app, int argc, struct resp_arg *argv, struct reply *r);

/*
 * Check a user name and password (AUTH, HELLO ... AUTH).
 * @return the access the user has, CTL_ACCESS_NONE when the pair is wrong.
 */
typedef enum ctl_access (*ctl_server_auth_fn)(void *app, const char *user, const char *pass,
                                              size_t passlen);

struct ctl_server;

struct ctl_tls_ctx;

/*
 * Listen on bind:port (port 0 picks a free one, see ctl_server_port; a negative port: no
 * plain port, for a TLS-only server).
 * @return the server, or NULL (the reason is logged).
 */
struct ctl_server *ctl_server_create(struct ctl_loop *loop, const char *bind, int port,
                                     ctl_server_cmd_fn fn, void *app);
void ctl_server_destroy(struct ctl_server *s);
int ctl_server_port(const struct ctl_server *s);

/*
 * Also listen on bind:port with TLS (tls: a server context, kept by the caller until
 * ctl_server_destroy). Its clients are served exactly as the plain port's, Sentinel
 * commands included; a client that does not speak TLS is closed at its first bytes.
 * @return 0; -EADDRNOTAVAIL (the reason is logged).
 */
int ctl_server_listen_tls(struct ctl_server *s, const char *bind, int port,
                          struct ctl_tls_ctx *tls);
/* The TLS port (-1 when none). */
int ctl_server_tls_port(const struct ctl_server *s);

/*
 * From inside the command handler: the reply to the command being run will come later,
 * through ctl_server_answer(token). The client's further commands wait for it (replies stay
 * in order); the handler writes nothing into its `r`.
 * @return the token.
 */
uint64_t ctl_server_defer(struct ctl_server *s);
/* Give a deferred reply (consumed); dropped when the client has gone away meanwhile. */
void ctl_server_answer(struct ctl_server *s, uint64_t token, struct reply *r);

/* Whether every address `bind` resolves to is a loopback one (127.0.0.0/8, ::1). */
bool ctl_server_bind_is_loopback(const char *bind);

/*
 * Authentication. With `required`, a client gets "-NOAUTH Authentication required." for
 * every command but AUTH, HELLO (with its AUTH option), QUIT and RESET until it has
 * authenticated; without, every client has CTL_ACCESS_ADMIN (no user is configured) and
 * AUTH still checks users through fn.
 */
void ctl_server_set_auth(struct ctl_server *s, ctl_server_auth_fn fn, bool required);
/* From inside the command handler: what the client may do, and its user ("" when none). */
enum ctl_access ctl_server_access(const struct ctl_server *s);
const char *ctl_server_user(const struct ctl_server *s);
/* Clients authenticated as `user` must authenticate again (the user was removed or changed). */
void ctl_server_forget_user(struct ctl_server *s, const char *user);

/* Disconnect the clients that stopped reading (see CTL_SERVER_STALL_MS); call periodically. */
void ctl_server_tick(struct ctl_server *s, uint64_t now_ns);

/* Deliver a Pub/Sub message. @return the number of clients that received it. */
int ctl_server_publish(struct ctl_server *s, const char *channel, const char *message);

#endif
