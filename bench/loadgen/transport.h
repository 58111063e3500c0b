/*
 * transport.h - the byte-stream interface pollux-bench drives its connections through.
 *
 * The worker loop never calls socket(2), epoll(7) or read(2) itself: it asks a transport for
 * a poll loop, opens connections in it, waits for readiness events and moves bytes through
 * read/writev.  The kernel TCP implementation (transport_tcp.c) is one table of function
 * pointers; a userspace stack (DPDK + our own TCP) can supply another table in which `wait`
 * polls the NIC queues instead of calling epoll_wait.  Nothing in this header assumes a file
 * descriptor exists.
 */
#ifndef POLLUX_BENCH_TRANSPORT_H
#define POLLUX_BENCH_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Readiness bits used by watch() and reported by wait(). */
#define TRANSPORT_IN  0x1u
#define TRANSPORT_OUT 0x2u
#define TRANSPORT_ERR 0x4u

struct transport_loop;

/* A connection; the caller owns the storage, the transport owns the fields. */
struct transport_conn {
    int fd;     /* kernel transport: the socket; others may leave it at -1 */
    void *priv; /* transport-private state */
};

struct transport_event {
    void *udata; /* the pointer given to watch() */
    uint32_t events;
};

/* Process-wide options of transports that need them (--dpdk-*). */
struct transport_opts {
    const char *dpdk_args; /* EAL arguments, space-separated */
    const char *local_ip;  /* the stack's address and prefix, "10.99.0.2/24" */
    const char *gateway;   /* next hop outside the subnet, or NULL */
    uint32_t buffers;      /* each connection's send and receive ring bytes; 0: the default */
};

struct transport_ops {
    const char *name;
    /*
     * Once per process before any loop is created, for nthreads loops (NULL: nothing to do).
     * @return 0, or a negative errno value with a message printed.
     */
    int (*setup)(const struct transport_opts *opts, int nthreads);
    /* Once after every loop is destroyed (NULL: nothing to do). */
    void (*teardown)(void);
    /*
     * Create a poll loop able to watch up to max_conns connections.
     * @return the loop, or NULL on failure (errno set).
     */
    struct transport_loop *(*loop_create)(int max_conns);
    void (*loop_destroy)(struct transport_loop *loop);
    /*
     * Open a connection to host:port and make it non-blocking.  May block until the
     * handshake completes (setup time is not measured).
     * @return 0, or a negative errno value.
     */
    int (*connect)(struct transport_loop *loop, struct transport_conn *conn, const char *host,
                   uint16_t port);
    /*
     * Watch conn for the TRANSPORT_IN/OUT bits in events (replacing the previous set); wait()
     * hands udata back with the ready bits.
     * @return 0, or a negative errno value.
     */
    int (*watch)(struct transport_loop *loop, struct transport_conn *conn, uint32_t events,
                 void *udata);
    /*
     * Wait up to timeout_ms (0: poll, never -1) for readiness.
     * @return the number of events stored in ev (0 on timeout), or a negative errno value.
     */
    int (*wait)(struct transport_loop *loop, struct transport_event *ev, int max, int timeout_ms);
    /*
     * @return bytes read (> 0), 0 on orderly close by the peer, -EAGAIN when nothing is
     * available, or another negative errno value.
     */
    ssize_t (*read)(struct transport_conn *conn, void *buf, size_t len);
    /* @return bytes written (>= 0), -EAGAIN when the send buffer is full, or -errno. */
    ssize_t (*writev)(struct transport_conn *conn, const struct iovec *iov, int iovcnt);
    void (*close)(struct transport_loop *loop, struct transport_conn *conn);
};

/* The kernel TCP (epoll) transport ("tcp"). */
extern const struct transport_ops transport_tcp;
#ifdef POLLUX_BENCH_DPDK
/* Pollux's userspace TCP/IP stack on a DPDK port, one queue per thread ("dpdk"). */
extern const struct transport_ops transport_dpdk;
#endif

/* The transport called `name` (--transport), or NULL when there is none by that name. */
const struct transport_ops *transport_find(const char *name);
/* Write the known transport names, separated by '|', into buf (for usage text). */
void transport_list(char *buf, size_t len);

#endif
