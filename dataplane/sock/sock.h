/*
 * Kernel-socket backend: listeners and accepted connections on non-blocking
 * TCP sockets. Each worker opens its own SO_REUSEPORT listener on every bind
 * address, so the kernel spreads new connections over workers and a
 * connection lives and dies on the worker that accepted it.
 */
#ifndef POLLUX_SOCK_H
#define POLLUX_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/netio.h"

/*
 * Open a non-blocking listening socket on addr:port with SO_REUSEPORT.
 * @return the fd, or -errno.
 */
int sock_listen(const char *addr, int port, int backlog);

/*
 * Accept one connection, non-blocking and close-on-exec, TCP_NODELAY set.
 * peer (when not NULL) gets "ip:port"; addr (when not NULL) the peer's
 * address as 16 bytes of IPv6, an IPv4 peer IPv4-mapped (base/cidr.h).
 * @return the fd; -EAGAIN when none is pending; other -errno on failure.
 */
int sock_accept(int lfd, char *peer, size_t peercap, uint8_t *addr);

/* Close with a reset (SO_LINGER 0): no FIN, no TIME_WAIT, unread input dropped. */
void sock_abort(int fd);

/*
 * Whether a peer ("ip:port", as sock_accept writes it) is local in the sense
 * of Redis 7.0's protected mode: its address is exactly 127.0.0.1 or ::1 (not
 * the rest of 127.0.0.0/8, not ::ffff:127.0.0.1).
 */
bool sock_peer_is_local(const char *peer);

/* SO_KEEPALIVE with the idle time in seconds (0 disables), as Redis's tcp-keepalive. */
int sock_keepalive(int fd, int seconds);

/* "ip:port" of the local end. */
int sock_local_name(int fd, char *buf, size_t cap);

/* Port a listening socket is bound to (useful with port 0). */
int sock_bound_port(int fd);

/* The kernel backend's operations (base/netio.h); their ctx comes from sock_io_create. */
extern const struct netio_ops sock_netio_ops;

/*
 * A worker's kernel backend: an epoll set watching wakefd (-1: none), which
 * poll drains when it fires (the worker's wake-up eventfd, worker.h).
 * @return 0 with *io set, or -errno. ops->destroy frees it.
 */
int sock_io_create(int wakefd, struct netio *io);

#endif
