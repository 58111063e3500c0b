#include "cio.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "net.h"
#include "server.h"
#include "sock.h"
#include "worker.h"

bool cio_open(const struct conn *c)
{
    return c->fd >= 0 || c->ns != NULL;
}

ssize_t cio_read(struct conn *c, void *buf, size_t len)
{
    if (c->ns != NULL) {
        ssize_t n = net_read(c->ns, buf, len);
        /* Level-triggered like the kernel backend: what is left is reported again. */
        if (n > 0 && net_sock_readable(c->ns) > 0)
            net_sock_rearm(c->ns);
        return n;
    }
    for (;;) {
        ssize_t n = read(c->fd, buf, len);
        if (n >= 0)
            return n;
        if (errno != EINTR)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

ssize_t cio_writev(struct conn *c, const struct iovec *iov, int iovcnt)
{
    if (c->ns != NULL)
        return net_writev(c->ns, iov, iovcnt);
    for (;;) {
        ssize_t n = writev(c->fd, iov, iovcnt);
        if (n >= 0)
            return n;
        if (errno != EINTR)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

int cio_write_all(struct conn *c, const void *buf, size_t len)
{
    size_t off = 0;
    while (off < len) {
        struct iovec iov = { .iov_base = (char *)buf + off, .iov_len = len - off };
        ssize_t n = cio_writev(c, &iov, 1);
        if (n <= 0)
            return -1;
        off += (size_t)n;
    }
    return 0;
}

void cio_write_interest(struct conn *c, bool on)
{
    if (c->ns != NULL) {
        /* The stack reports room after a short write; a writer that stopped for
         * another reason (a budget) asks to be told again. */
        if (on)
            net_sock_rearm(c->ns);
        c->flags = on ? c->flags | CONN_WANT_WRITE : c->flags & ~CONN_WANT_WRITE;
        return;
    }
    if (on == !!(c->flags & CONN_WANT_WRITE) || c->fd < 0)
        return;
    struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c };
    epoll_ctl(c->w->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->flags ^= CONN_WANT_WRITE;
}

void cio_rearm(struct conn *c)
{
    if (c->ns != NULL)
        net_sock_rearm(c->ns);
    /* epoll is level-triggered: nothing to do */
}

void cio_close(struct conn *c)
{
    if (c->ns != NULL) {
        net_close(c->ns);
        c->ns = NULL;
    } else if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
}

void cio_keepalive(struct conn *c, int seconds)
{
    if (c->ns != NULL)
        net_set_keepalive(c->ns, seconds);
    else if (c->fd >= 0)
        sock_keepalive(c->fd, seconds);
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

static struct conn *connect_net(struct worker *w, const char *host, int port)
{
    uint32_t ip;
    int rc = resolve_ipv4(host, &ip);
    if (rc != 0) {
        log_warn("Unable to connect to MASTER: %s", gai_strerror(rc));
        return NULL;
    }
    struct net_sock *s;
    rc = net_connect(w->net, ip, (uint16_t)port, 0, NULL, &s);
    if (rc != 0) {
        log_warn("Unable to connect to MASTER: %s", strerror(-rc));
        return NULL;
    }
    struct conn *c = conn_create_net(w, s);
    net_sock_set_user(s, c);
    return c;
}

static struct conn *connect_kernel(struct worker *w, const char *host, int port)
{
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res;
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0) {
        log_warn("Unable to connect to MASTER: %s", gai_strerror(rc));
        return NULL;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(res);
        return NULL;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    rc = connect(fd, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (rc < 0 && errno != EINPROGRESS) {
        log_warn("Unable to connect to MASTER: %s", strerror(errno));
        close(fd);
        return NULL;
    }
    char peer[300];
    snprintf(peer, sizeof(peer), "%s:%d", host, port);
    struct conn *c = conn_create(w, fd, peer);
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
    epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev);
    c->flags |= CONN_WANT_WRITE;
    return c;
}

struct conn *cio_connect(struct worker *w, const char *host, int port)
{
    struct conn *c = w->net != NULL ? connect_net(w, host, port) : connect_kernel(w, host, port);
    if (c != NULL)
        atomic_fetch_add(&server.clients, 1);
    return c;
}

int cio_connect_error(struct conn *c)
{
    if (c->ns != NULL) {
        int err = net_sock_error(c->ns);
        if (err == 0 && net_sock_state(c->ns) < NET_TCP_ESTABLISHED)
            err = EINPROGRESS;
        return err;
    }
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    return err;
}
