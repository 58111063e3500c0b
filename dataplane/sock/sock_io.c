/*
 * The kernel backend's connection operations (base/netio.h): non-blocking
 * sockets in the worker's epoll set (ctx: a pointer to the epoll fd), the
 * events carrying the connection pointer.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sock.h"

static ssize_t kio_read(union netio_handle h, void *buf, size_t len)
{
    for (;;) {
        ssize_t n = read(h.fd, buf, len);
        if (n >= 0)
            return n;
        if (errno != EINTR)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

static ssize_t kio_writev(union netio_handle h, const struct iovec *iov, int iovcnt)
{
    for (;;) {
        ssize_t n = writev(h.fd, iov, iovcnt);
        if (n >= 0)
            return n;
        if (errno != EINTR)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

static int kio_accept(void *ctx, union netio_handle listener, union netio_handle *h, char *peer,
                      size_t peercap, uint8_t *addr)
{
    (void)ctx;
    int fd = sock_accept(listener.fd, peer, peercap, addr);
    if (fd < 0)
        return fd;
    h->fd = fd;
    return 0;
}

static void kio_abort(void *ctx, union netio_handle h)
{
    (void)ctx;
    sock_abort(h.fd);
}

static int kio_attach(void *ctx, union netio_handle h, void *user, bool want_write)
{
    struct epoll_event ev = { .events = EPOLLIN | (want_write ? EPOLLOUT : 0), .data.ptr = user };
    return epoll_ctl(*(int *)ctx, EPOLL_CTL_ADD, h.fd, &ev) < 0 ? -errno : 0;
}

static void kio_interest(void *ctx, union netio_handle h, void *user, bool on, bool was_on)
{
    if (on == was_on)
        return;
    struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = user };
    epoll_ctl(*(int *)ctx, EPOLL_CTL_MOD, h.fd, &ev);
}

static void kio_rearm(union netio_handle h)
{
    (void)h; /* epoll is level-triggered: nothing to do */
}

static void kio_close(void *ctx, union netio_handle h)
{
    (void)ctx; /* closing the last reference leaves the epoll set */
    close(h.fd);
}

static void kio_keepalive(union netio_handle h, int seconds)
{
    sock_keepalive(h.fd, seconds);
}

static int kio_connect(void *ctx, const char *host, int port, union netio_handle *h, char *err,
                       size_t errcap)
{
    (void)ctx;
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res;
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0) {
        snprintf(err, errcap, "%s", gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errcap, "%s", strerror(errno));
        freeaddrinfo(res);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    rc = connect(fd, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (rc < 0 && errno != EINPROGRESS) {
        snprintf(err, errcap, "%s", strerror(errno));
        close(fd);
        return -1;
    }
    h->fd = fd;
    return 0;
}

static int kio_connect_error(union netio_handle h)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(h.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    return err;
}

static void kio_local_name(union netio_handle h, char *buf, size_t cap)
{
    sock_local_name(h.fd, buf, cap);
}

static int kio_fd(union netio_handle h)
{
    return h.fd;
}

const struct netio_ops sock_netio_ops = {
    .name = "kernel",
    .read = kio_read,
    .writev = kio_writev,
    .accept = kio_accept,
    .abort = kio_abort,
    .attach = kio_attach,
    .interest = kio_interest,
    .rearm = kio_rearm,
    .close = kio_close,
    .keepalive = kio_keepalive,
    .connect = kio_connect,
    .connect_error = kio_connect_error,
    .local_name = kio_local_name,
    .fd = kio_fd,
};
