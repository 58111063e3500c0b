/*
 * A network backend as a table of operations chosen once per worker: the
 * kernel's sockets under epoll (sock/sock_io.c) or the worker's userspace
 * TCP/IP stack (net/net_io.c). The worker's loop listens, polls and flushes
 * through it, the connection code (worker/cio.c, with TLS above it) reads,
 * writes, connects and closes through it, and neither asks which backend
 * runs; a new backend (io_uring) is one folder that fills in a struct
 * netio_ops and a constructor (docs/architecture.md).
 *
 * A handle is the backend's socket: a kernel fd, or a stack socket pointer.
 * `ctx` is the backend's per-worker state (its poll set, listeners, the
 * stack); `user` is what the backend's events report for that socket (the
 * connection). Semantics are those of a non-blocking socket under
 * level-triggered epoll (worker/cio.h).
 */
#ifndef POLLUX_NETIO_H
#define POLLUX_NETIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

union netio_handle {
    int fd;  /* kernel backend */
    void *p; /* userspace stack: its struct net_sock */
};

/* At most this many listeners per worker (bind addresses times the two ports). */
#define NETIO_MAX_LISTENERS 16

/* struct netio_event.events */
#define NETIO_IN     1u /* bytes, end of stream or an error to read (CIO_IN) */
#define NETIO_OUT    2u /* room to write, or a connect() finished (CIO_OUT) */
#define NETIO_ACCEPT 4u /* `listener` holds connections to accept */
#define NETIO_TLS    8u /* with NETIO_ACCEPT: that listener is the tls-port */

/* What poll reports: a listener with connections, or a socket's events for its `user`. */
struct netio_event {
    uint32_t events;
    void *user;                  /* NETIO_IN/NETIO_OUT: what attach was given */
    union netio_handle listener; /* NETIO_ACCEPT */
};

struct netio_ops {
    const char *name;
    /* Connections accepted per NETIO_ACCEPT event before the loop moves on. */
    unsigned accept_batch;
    /*
     * Listen on `port` (0: the backend picks one, *bound tells which) of each
     * address in `bind` (space-separated, a leading '-' marks one that may be
     * missing); a backend with addresses of its own (the stack) ignores bind.
     * Its NETIO_ACCEPT events carry NETIO_TLS when tls. @return 0 or -errno
     * (the reason logged).
     */
    int (*listen)(void *ctx, const char *bind, int port, int backlog, bool tls, int *bound);
    /*
     * One pass of the backend: wait at most timeout_ms (0: do not wait) for an
     * event or the worker's wake-up fd, run what the backend runs itself (the
     * stack: receive a burst, timers), then report up to max events. now_ns is
     * the worker's clock at the start of the pass. @return events written to ev.
     */
    unsigned (*poll)(void *ctx, uint64_t now_ns, int timeout_ms, struct netio_event *ev,
                     unsigned max);
    /* End of the pass: send what it queued (the stack's transmit burst). */
    void (*flush)(void *ctx, uint64_t now_ns);
    /* After every connection is closed: the listeners, the poll set, ctx itself. */
    void (*destroy)(void *ctx);
    /* @return bytes read (> 0), 0 at end of stream, -EAGAIN, or another -errno. */
    ssize_t (*read)(union netio_handle h, void *buf, size_t len);
    /* @return bytes taken (>= 0), -EAGAIN when nothing fits, or another -errno. */
    ssize_t (*writev)(union netio_handle h, const struct iovec *iov, int iovcnt);
    /*
     * Take one connection a listener holds: *h, its peer as "ip:port" and as 16 bytes
     * of IPv6 (IPv4 mapped, base/cidr.h). @return 0, -EAGAIN when none is pending,
     * or another -errno.
     */
    int (*accept)(void *ctx, union netio_handle listener, union netio_handle *h, char *peer,
                  size_t peercap, uint8_t *addr);
    /* Refuse an accepted connection: a reset where the backend can, nothing read or written. */
    void (*abort)(void *ctx, union netio_handle h);
    /* Report h's events with `user`; with write interest when want_write. @return 0 or -errno. */
    int (*attach)(void *ctx, union netio_handle h, void *user, bool want_write);
    /* Write interest on or off (was_on: what it was). */
    void (*interest)(void *ctx, union netio_handle h, void *user, bool on, bool was_on);
    /* Input left unread or ignored: report it again on the next pass. */
    void (*rearm)(union netio_handle h);
    /* Close gracefully (the backend's events stop). */
    void (*close)(void *ctx, union netio_handle h);
    /* tcp-keepalive idle seconds (0: off). */
    void (*keepalive)(union netio_handle h, int seconds);
    /*
     * Start a non-blocking connection to host:port.
     * @return 0 with *h set, or -1 with the reason in err.
     */
    int (*connect)(void *ctx, const char *host, int port, union netio_handle *h, char *err,
                   size_t errcap);
    /* 0 once a connection connect started is up, EINPROGRESS before, else its errno. */
    int (*connect_error)(union netio_handle h);
    /* "ip:port" of the local end. */
    void (*local_name)(union netio_handle h, char *buf, size_t cap);
    /* The kernel fd (CLIENT LIST's fd=), or -1. */
    int (*fd)(union netio_handle h);
};

/* One worker's backend: its operations and their per-worker state. */
struct netio {
    const struct netio_ops *ops;
    void *ctx;
};

#endif
