/*
 * The userspace stack's connection operations (base/netio.h), a thin adapter
 * over net.h: ctx is the worker's struct net_stack, a handle its struct
 * net_sock, and the stack's events carry the user pointer set at attach.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "cidr.h"
#include "net.h"
#include "netio.h"

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
    struct net_sock *s;
    rc = net_connect(ctx, ip, (uint16_t)port, 0, NULL, &s);
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

const struct netio_ops net_netio_ops = {
    .name = "stack",
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
