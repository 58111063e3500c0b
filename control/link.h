/*
 * A non-blocking RESP connection from pollux-control to one node.
 *
 * Commands are queued with a callback each and pipelined; replies come back in order. A
 * connect or a reply that takes longer than the link's timeout fails every pending command
 * (callback with r == NULL) and closes the connection, so a dead or stalled node costs the
 * daemon nothing but the timeout. The next command reconnects.
 */
#ifndef POLLUX_CTL_LINK_H
#define POLLUX_CTL_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include "control/loop.h"
#include "control/respc.h"

/* r is NULL when the command failed (connect error, timeout, closed); never kept. */
typedef void (*ctl_link_fn)(void *ctx, uint64_t tag, const struct ctl_reply *r);

struct ctl_link;

/* A link to host:port (numeric addresses are connected to without a resolver call). */
struct ctl_link *ctl_link_create(struct ctl_loop *loop, const char *host, int port, int timeout_ms);
/*
 * The node's password (token, "" or NULL: none) and the one it may still require instead
 * (prev). From the next connection on, the link sends AUTH with each before any command; it
 * is authenticated when one is accepted or when the node has no password at all. When every
 * one is refused (WRONGPASS), the connection is closed and every command on it fails;
 * ctl_link_auth_error() then says why. Takes effect at the next connect.
 */
void ctl_link_set_auth(struct ctl_link *k, const char *token, const char *prev);
/*
 * An ACL user of the node (user "" or NULL: none) the link also authenticates as, after the
 * passwords, so that it works as that user wherever the node has it and falls back to the
 * password elsewhere. Takes effect at the next connect.
 */
void ctl_link_set_user(struct ctl_link *k, const char *user, const char *pass);
/* Why the node refused the link's password at the last connect ("" when it did not). */
const char *ctl_link_auth_error(const struct ctl_link *k);

/* Close and free; pending callbacks are dropped without being called. */
void ctl_link_destroy(struct ctl_link *k);

/*
 * Queue a command (connecting first when needed); fn(ctx, tag, reply) runs once for it.
 * @return 0, or -errno when the connection cannot even be started (fn is then not called).
 */
int ctl_link_send(struct ctl_link *k, int argc, const char *const *argv, ctl_link_fn fn, void *ctx,
                  uint64_t tag);

/*
 * The same with this command's own timeout (timeout_ms > 0) instead of the link's: a command
 * that may take long (a health probe) does not fail the link sooner.
 */
int ctl_link_send_within(struct ctl_link *k, int timeout_ms, int argc, const char *const *argv,
                         ctl_link_fn fn, void *ctx, uint64_t tag);

/* Fail everything that is overdue at `now_ns` (monotonic). Call from the periodic tick. */
void ctl_link_tick(struct ctl_link *k, uint64_t now_ns);

/* Commands sent and not yet answered. */
int ctl_link_pending(const struct ctl_link *k);
bool ctl_link_connected(const struct ctl_link *k);

/* Connections opened so far: a new one may reach a new process of the node (a restart). */
unsigned ctl_link_connections(const struct ctl_link *k);
/* Whether the connection was last closed because a command passed its deadline (a slow node)
 * rather than by an error or the peer (a dead one). */
bool ctl_link_timed_out(const struct ctl_link *k);

#endif
