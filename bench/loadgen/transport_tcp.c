/*
 * transport_tcp.c - the kernel TCP transport: getaddrinfo + blocking connect, then
 * non-blocking sockets with TCP_NODELAY watched by one epoll instance per loop.
 */
#include "bench/loadgen/transport.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define TCP_MAX_EVENTS 256

struct transport_loop {
    int epfd;
    struct epoll_event evs[TCP_MAX_EVENTS];
};

static struct transport_loop *tcp_loop_create(int max_conns)
{
    (void)max_conns;
    struct transport_loop *loop = calloc(1, sizeof(*loop));
    if (loop == NULL)
        return NULL;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0) {
        free(loop);
        return NULL;
    }
    return loop;
}

static void tcp_loop_destroy(struct transport_loop *loop)
{
    if (loop == NULL)
        return;
    close(loop->epfd);
    free(loop);
}

static int tcp_connect(struct transport_loop *loop, struct transport_conn *conn, const char *host,
                       uint16_t port)
{
    (void)loop;
    struct addrinfo hints = { 0 }, *res = NULL, *ai;
    char service[8];
    int fd = -1, err = -ECONNREFUSED;

    conn->fd = -1;
    conn->priv = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(service, sizeof(service), "%u", (unsigned)port);
    int rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0)
        return rc == EAI_SYSTEM ? -errno : -EHOSTUNREACH;
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            err = -errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        err = -errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return err;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        err = -errno;
        close(fd);
        return err;
    }
    conn->fd = fd;
    return 0;
}

static int tcp_watch(struct transport_loop *loop, struct transport_conn *conn, uint32_t events,
                     void *udata)
{
    struct epoll_event ev = { 0 };
    ev.data.ptr = udata;
    if (events & TRANSPORT_IN)
        ev.events |= EPOLLIN;
    if (events & TRANSPORT_OUT)
        ev.events |= EPOLLOUT;
    /* priv marks "already registered" so the caller needs no add/mod distinction. */
    int op = conn->priv != NULL ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(loop->epfd, op, conn->fd, &ev) < 0)
        return -errno;
    conn->priv = loop;
    return 0;
}

static int tcp_wait(struct transport_loop *loop, struct transport_event *ev, int max,
                    int timeout_ms)
{
    if (max > TCP_MAX_EVENTS)
        max = TCP_MAX_EVENTS;
    int n = epoll_wait(loop->epfd, loop->evs, max, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
        uint32_t e = loop->evs[i].events, out = 0;
        if (e & EPOLLIN)
            out |= TRANSPORT_IN;
        if (e & EPOLLOUT)
            out |= TRANSPORT_OUT;
        if (e & (EPOLLERR | EPOLLHUP))
            out |= TRANSPORT_ERR | TRANSPORT_IN;
        ev[i].udata = loop->evs[i].data.ptr;
        ev[i].events = out;
    }
    return n;
}

static ssize_t tcp_read(struct transport_conn *conn, void *buf, size_t len)
{
    for (;;) {
        ssize_t n = read(conn->fd, buf, len);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

static ssize_t tcp_writev(struct transport_conn *conn, const struct iovec *iov, int iovcnt)
{
    for (;;) {
        ssize_t n = writev(conn->fd, iov, iovcnt);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

static void tcp_close(struct transport_loop *loop, struct transport_conn *conn)
{
    if (conn->fd < 0)
        return;
    if (conn->priv != NULL)
        epoll_ctl(loop->epfd, EPOLL_CTL_DEL, conn->fd, NULL);
    close(conn->fd);
    conn->fd = -1;
    conn->priv = NULL;
}

const struct transport_ops transport_tcp = {
    .name = "tcp",
    .loop_create = tcp_loop_create,
    .loop_destroy = tcp_loop_destroy,
    .connect = tcp_connect,
    .watch = tcp_watch,
    .wait = tcp_wait,
    .read = tcp_read,
    .writev = tcp_writev,
    .close = tcp_close,
};
