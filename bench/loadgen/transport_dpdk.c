/*
 * transport_dpdk.c - pollux-bench on Pollux's own TCP/IP stack (dataplane/net) over a DPDK
 * port (dataplane/dpdk): the client side bypasses the kernel too.
 *
 * Each bench thread's loop takes the next queue of the port and runs its own stack
 * instance on it, exactly as a polluxd worker does. wait() busy-polls the queue (it never
 * sleeps in a system call). The stack's events are edge-triggered while the bench loop
 * expects epoll's level-triggered behaviour, so a read that leaves bytes behind, and a
 * watch() that asks for output, re-arm the socket.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dpdk/dpdk.h"
#include "net/net.h"
#include "bench/loadgen/transport.h"

#define DPDK_MAX_EVENTS    256
#define CONNECT_TIMEOUT_NS 5000000000ull
#define CLOSE_LINGER_NS    200000000ull

struct transport_loop {
    struct net_stack *st;
    unsigned queue;
    struct net_event ev[DPDK_MAX_EVENTS];
};

/* What a connection watches; conn->priv points here. */
struct dconn {
    struct net_sock *s;
    uint32_t want; /* TRANSPORT_IN / TRANSPORT_OUT */
    void *udata;
};

static atomic_uint next_queue;
static uint32_t local_ip, gateway_ip;
static unsigned local_prefix;
static struct net_params stack_params; /* the defaults, with --dpdk-buffers */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int dpdk_setup(const struct transport_opts *o, int nthreads)
{
    if (o->local_ip == NULL || net_prefix_parse(o->local_ip, &local_ip, &local_prefix) != 0) {
        fprintf(stderr, "pollux-bench: --transport dpdk needs --dpdk-ip a.b.c.d/len\n");
        return -EINVAL;
    }
    if (o->gateway != NULL && net_ip_parse(o->gateway, &gateway_ip) != 0) {
        fprintf(stderr, "pollux-bench: bad --dpdk-gateway '%s'\n", o->gateway);
        return -EINVAL;
    }
    param_defaults(net_param_defs, &stack_params);
    if (o->buffers != 0)
        stack_params.sndbuf = stack_params.rcvbuf = o->buffers;
    struct dpdk_config cfg = {
        .prog = "pollux-bench",
        .eal_args = o->dpdk_args,
        .nqueues = (unsigned)nthreads,
    };
    char err[256];
    int rc = dpdk_start(&cfg, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "pollux-bench: DPDK: %s\n", err);
    return rc;
}

static void dpdk_teardown(void)
{
    dpdk_stop();
}

static struct transport_loop *dpdk_loop_create(int max_conns)
{
    struct transport_loop *loop = calloc(1, sizeof(*loop));
    if (loop == NULL)
        return NULL;
    loop->queue = atomic_fetch_add(&next_queue, 1);
    struct pktio *io = dpdk_pktio(loop->queue);
    if (io == NULL || dpdk_thread_init(loop->queue) != 0) {
        free(loop);
        errno = ENODEV;
        return NULL;
    }
    struct net_stack_config cfg = {
        .io = io,
        .params = &stack_params,
        .max_conns = (uint32_t)max_conns + 16,
        .now_ns = now_ns(),
        .seed = now_ns() ^ ((uint64_t)loop->queue << 40),
        .rss = dpdk_rss_conf(),
        .rss_queue = loop->queue,
    };
    loop->st = net_stack_create(&cfg);
    if (loop->st == NULL || net_addr_add(loop->st, local_ip, local_prefix) != 0) {
        if (loop->st != NULL)
            net_stack_destroy(loop->st);
        free(loop);
        errno = ENOMEM;
        return NULL;
    }
    if (gateway_ip != 0)
        net_set_gateway(loop->st, gateway_ip);
    return loop;
}

static void dpdk_loop_destroy(struct transport_loop *loop)
{
    if (loop == NULL)
        return;
    /*
     * The connections were closed (FIN sent): keep polling until they all reach TIME_WAIT,
     * or a short while, so the server sees them end instead of retransmitting into the void.
     */
    uint64_t t = now_ns(), deadline = t + CLOSE_LINGER_NS;
    struct net_stack_info info;
    for (;;) {
        net_poll(loop->st, t);
        net_events(loop->st, loop->ev, DPDK_MAX_EVENTS);
        net_stack_info(loop->st, &info);
        if (info.conns == 0 || t >= deadline)
            break;
        t = now_ns();
    }
    net_stack_destroy(loop->st);
    free(loop);
}

static int dpdk_connect(struct transport_loop *loop, struct transport_conn *conn, const char *host,
                        uint16_t port)
{
    uint32_t ip;
    conn->fd = -1;
    conn->priv = NULL;
    if (net_ip_parse(host, &ip) != 0)
        return -EINVAL; /* no resolver on the stack: a dotted quad */
    struct dconn *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return -ENOMEM;
    int rc = net_connect(loop->st, ip, port, 0, d, &d->s);
    if (rc != 0) {
        free(d);
        return rc;
    }
    /* Set-up time is not measured: poll until the handshake is done. */
    uint64_t deadline = now_ns() + CONNECT_TIMEOUT_NS;
    while (net_sock_state(d->s) < NET_TCP_ESTABLISHED && net_sock_error(d->s) == 0) {
        uint64_t t = now_ns();
        if (t >= deadline)
            break;
        net_poll(loop->st, t);
        net_events(loop->st, loop->ev, DPDK_MAX_EVENTS); /* nothing is watched yet */
    }
    rc = net_sock_error(d->s);
    if (rc == 0 && net_sock_state(d->s) < NET_TCP_ESTABLISHED)
        rc = ETIMEDOUT;
    if (rc != 0) {
        net_abort(d->s);
        free(d);
        return -rc;
    }
    conn->fd = 0; /* a handle exists (the bench closes conns whose fd is >= 0) */
    conn->priv = d;
    return 0;
}

static int dpdk_watch(struct transport_loop *loop, struct transport_conn *conn, uint32_t events,
                      void *udata)
{
    (void)loop;
    struct dconn *d = conn->priv;
    d->want = events;
    d->udata = udata;
    /* Level-triggered: tell it again about what is ready now. */
    net_sock_rearm(d->s);
    return 0;
}

static int dpdk_wait(struct transport_loop *loop, struct transport_event *ev, int max,
                     int timeout_ms)
{
    if (max > DPDK_MAX_EVENTS)
        max = DPDK_MAX_EVENTS;
    uint64_t t = now_ns(), deadline = t + (uint64_t)timeout_ms * 1000000ull;
    /* Requests written since the last pass leave before we look for replies. */
    net_flush(loop->st, t);
    for (;;) {
        net_poll(loop->st, t);
        unsigned n = net_events(loop->st, loop->ev, (unsigned)max);
        int out = 0;
        for (unsigned i = 0; i < n; i++) {
            struct dconn *d = loop->ev[i].user;
            uint32_t e = loop->ev[i].events, bits = 0;
            if (d == NULL)
                continue;
            if (e & (NET_EV_READ | NET_EV_HUP))
                bits |= TRANSPORT_IN;
            if (e & (NET_EV_WRITE | NET_EV_CONNECTED))
                bits |= TRANSPORT_OUT;
            bits &= d->want;
            if (e & NET_EV_ERROR)
                bits |= TRANSPORT_ERR | TRANSPORT_IN;
            if (bits == 0)
                continue;
            ev[out].udata = d->udata;
            ev[out].events = bits;
            out++;
        }
        if (out > 0)
            return out;
        t = now_ns();
        if (t >= deadline)
            return 0;
    }
}

static ssize_t dpdk_read(struct transport_conn *conn, void *buf, size_t len)
{
    struct dconn *d = conn->priv;
    ssize_t n = net_read(d->s, buf, len);
    if (n > 0 && net_sock_readable(d->s) > 0)
        net_sock_rearm(d->s);
    return n;
}

static ssize_t dpdk_writev(struct transport_conn *conn, const struct iovec *iov, int iovcnt)
{
    struct dconn *d = conn->priv;
    return net_writev(d->s, iov, iovcnt);
}

static void dpdk_close(struct transport_loop *loop, struct transport_conn *conn)
{
    (void)loop;
    struct dconn *d = conn->priv;
    if (d != NULL) {
        net_close(d->s);
        free(d);
    }
    conn->priv = NULL;
    conn->fd = -1;
}

const struct transport_ops transport_dpdk = {
    .name = "dpdk",
    .setup = dpdk_setup,
    .teardown = dpdk_teardown,
    .loop_create = dpdk_loop_create,
    .loop_destroy = dpdk_loop_destroy,
    .connect = dpdk_connect,
    .watch = dpdk_watch,
    .wait = dpdk_wait,
    .read = dpdk_read,
    .writev = dpdk_writev,
    .close = dpdk_close,
};
