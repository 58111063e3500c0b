/*
 * The userspace stack as a backend (base/netio.h), a thin adapter over net.h:
 * ctx is a struct net_io (the worker's stack, its listeners, the wake-up fd),
 * a handle a struct net_sock, and the stack's events carry the user pointer
 * set at attach. The stack is polled, not waited on: poll sleeps on the
 * wake-up fd only when the worker asks it to, and never past the stack's next
 * timer.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/cidr.h"
#include "base/clock.h"
#include "base/log.h"
#include "net/net.h"
#include "base/netio.h"

#define POLL_BATCH 256 /* stack events taken per pass */

struct net_io {
    struct net_stack *stack;
    int wakefd;
    unsigned nls;
    struct net_sock *ls[NETIO_MAX_LISTENERS];
    uint32_t ls_tls; /* bit i: ls[i] is the tls-port */
};

static ssize_t nio_read(union netio_handle h, void *buf, size_t len)
{
    ssize_t n = net_read(h.p, buf, len);
    /* Level-triggered like the kernel backend: what is left is reported again. */
    if (n > 0 && net_sock_readable(h.p) > 0)
        net_sock_rearm(h.p);
    return n;
}

static ssize_t nio_writev(union netio_handle h, const struct iovec *iov, int iovcnt)
{
    return net_writev(h.p, iov, iovcnt);
}

static int nio_accept(void *ctx, union netio_handle listener, union netio_handle *h, char *peer,
                      size_t peercap, uint8_t *addr)
{
    (void)ctx;
    struct net_sock *s = net_accept(listener.p, NULL);
    if (s == NULL)
        return -EAGAIN;
    struct net_endpoint ep;
    char ip[16];
    net_sock_peer(s, &ep);
    snprintf(peer, peercap, "%s:%u", net_ip_format(ep.ip, ip), ep.port);
    cidr_addr_from_v4(ep.ip, addr);
    h->p = s;
    return 0;
}

static int nio_attach(void *ctx, union netio_handle h, void *user, bool want_write)
{
    (void)ctx;
    (void)want_write; /* the stack reports room after a short write, and a connect's end */
    net_sock_set_user(h.p, user);
    return 0;
}

static void nio_interest(void *ctx, union netio_handle h, void *user, bool on, bool was_on)
{
    (void)ctx;
    (void)user;
    (void)was_on;
    /* The stack reports room after a short write; a writer that stopped for
     * another reason (a budget) asks to be told again. */
    if (on)
        net_sock_rearm(h.p);
}

static void nio_rearm(union netio_handle h)
{
    net_sock_rearm(h.p);
}

static void nio_close(void *ctx, union netio_handle h)
{
    (void)ctx;
    net_close(h.p);
}

/* The stack resets a connection closed with unread input; a refused one has read nothing. */
static void nio_abort(void *ctx, union netio_handle h)
{
    nio_close(ctx, h);
}

static void nio_keepalive(union netio_handle h, int seconds)
{
    net_set_keepalive(h.p, seconds);
}

/* The first IPv4 address of host (a dotted quad or a name). */
static int resolve_ipv4(const char *host, uint32_t *ip)
{
    if (net_ip_parse(host, ip) == 0)
        return 0;
    struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *res;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0)
        return rc;
    *ip = ntohl(((struct sockaddr_in *)res->ai_addr)->sin_addr.s_addr);
    freeaddrinfo(res);
    return 0;
}

static int nio_connect(void *ctx, const char *host, int port, union netio_handle *h, char *err,
                       size_t errcap)
{
    uint32_t ip;
    int rc = resolve_ipv4(host, &ip);
    if (rc != 0) {
        snprintf(err, errcap, "%s", gai_strerror(rc));
        return -1;
    }
    struct net_io *k = ctx;
    struct net_sock *s;
    rc = net_connect(k->stack, ip, (uint16_t)port, 0, NULL, &s);
    if (rc != 0) {
        snprintf(err, errcap, "%s", strerror(-rc));
        return -1;
    }
    h->p = s;
    return 0;
}

static int nio_connect_error(union netio_handle h)
{
    int err = net_sock_error(h.p);
    if (err == 0 && net_sock_state(h.p) < NET_TCP_ESTABLISHED)
        err = EINPROGRESS;
    return err;
}

static void nio_local_name(union netio_handle h, char *buf, size_t cap)
{
    struct net_endpoint ep;
    char ip[16];
    net_sock_local(h.p, &ep);
    snprintf(buf, cap, "%s:%u", net_ip_format(ep.ip, ip), ep.port);
}

static int nio_fd(union netio_handle h)
{
    (void)h;
    return -1;
}

/*
 * On every address of the stack (bind is the kernel's). The stack picks no
 * port of its own: port 0 is Redis's default, 6379.
 */
static int nio_listen(void *ctx, const char *bind, int port, int backlog, bool tls, int *bound)
{
    (void)bind;
    struct net_io *k = ctx;
    if (port == 0)
        port = 6379;
    if (k->nls == NETIO_MAX_LISTENERS)
        return -ENOSPC;
    int rc = net_listen(k->stack, 0, (uint16_t)port, backlog > 0 ? (unsigned)backlog : 511, NULL,
                        &k->ls[k->nls]);
    if (rc != 0) {
        log_warn("Could not listen on the DPDK stack, %sport %d: %s", tls ? "tls-" : "", port,
                 strerror(-rc));
        return rc;
    }
    if (tls)
        k->ls_tls |= 1u << k->nls;
    k->nls++;
    *bound = port;
    return 0;
}

static unsigned nio_poll(void *ctx, uint64_t now_ns, int timeout_ms, struct netio_event *ev,
                         unsigned max)
{
    struct net_io *k = ctx;
    if (timeout_ms > 0 && net_next_timer(k->stack) > now_ns) {
        struct pollfd pfd = { .fd = k->wakefd, .events = POLLIN };
        if (poll(&pfd, 1, timeout_ms) > 0) {
            uint64_t v;
            ssize_t r = read(k->wakefd, &v, sizeof(v));
            (void)r;
        }
        now_ns = clock_mono_ns();
    }
    net_poll(k->stack, now_ns);
    struct net_event nev[POLL_BATCH];
    unsigned n = net_events(k->stack, nev, max < POLL_BATCH ? max : POLL_BATCH), out = 0;
    for (unsigned i = 0; i < n; i++) {
        uint32_t e = nev[i].events, io = 0;
        if (e & NET_EV_ACCEPT) {
            io = NETIO_ACCEPT;
            for (unsigned l = 0; l < k->nls; l++)
                if (k->ls[l] == nev[i].sock && ((k->ls_tls >> l) & 1u))
                    io |= NETIO_TLS;
            ev[out].events = io;
            ev[out].user = NULL;
            ev[out++].listener.p = nev[i].sock;
            continue;
        }
        if (nev[i].user == NULL)
            continue;
        if (e & (NET_EV_READ | NET_EV_HUP | NET_EV_ERROR))
            io |= NETIO_IN;
        if (e & (NET_EV_WRITE | NET_EV_CONNECTED | NET_EV_ERROR))
            io |= NETIO_OUT;
        ev[out].events = io;
        ev[out++].user = nev[i].user;
    }
    return out;
}

static void nio_flush(void *ctx, uint64_t now_ns)
{
    struct net_io *k = ctx;
    net_flush(k->stack, now_ns);
}

/* The listeners and the adapter; the stack is its creator's. */
static void nio_destroy(void *ctx)
{
    struct net_io *k = ctx;
    if (k == NULL)
        return;
    for (unsigned i = 0; i < k->nls; i++)
        net_close(k->ls[i]);
    free(k);
}

int net_io_create(struct net_stack *stack, int wakefd, struct netio *io)
{
    struct net_io *k = calloc(1, sizeof(*k));
    if (k == NULL)
        return -ENOMEM;
    k->stack = stack;
    k->wakefd = wakefd;
    *io = (struct netio){ .ops = &net_netio_ops, .ctx = k };
    return 0;
}

const struct netio_ops net_netio_ops = {
    .name = "stack",
    .accept_batch = UINT_MAX,
    .listen = nio_listen,
    .poll = nio_poll,
    .flush = nio_flush,
    .destroy = nio_destroy,
    .read = nio_read,
    .writev = nio_writev,
    .accept = nio_accept,
    .abort = nio_abort,
    .attach = nio_attach,
    .interest = nio_interest,
    .rearm = nio_rearm,
    .close = nio_close,
    .keepalive = nio_keepalive,
    .connect = nio_connect,
    .connect_error = nio_connect_error,
    .local_name = nio_local_name,
    .fd = nio_fd,
};
