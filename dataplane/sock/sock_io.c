/*
 * The kernel backend (base/netio.h): non-blocking sockets in the worker's
 * epoll set, level-triggered. ctx is a struct sock_io: the epoll fd, the
 * worker's wake-up eventfd in it, and the SO_REUSEPORT listeners. A
 * connection's epoll data is its user pointer; a listener's is its index
 * (below NETIO_MAX_LISTENERS) and the eventfd's TAG_WAKE, values no pointer
 * takes.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "sock/sock.h"

#define TAG_WAKE   1000 /* epoll data of the wake-up eventfd */
#define POLL_BATCH 256  /* epoll events taken per pass */

struct sock_io {
    int epfd;
    int wakefd;
    int nlfds;
    int lfds[NETIO_MAX_LISTENERS];
    uint32_t lfds_tls; /* bit i: lfds[i] is the tls-port */
};

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
    struct sock_io *k = ctx;
    struct epoll_event ev = { .events = EPOLLIN | (want_write ? EPOLLOUT : 0), .data.ptr = user };
    return epoll_ctl(k->epfd, EPOLL_CTL_ADD, h.fd, &ev) < 0 ? -errno : 0;
}

static void kio_interest(void *ctx, union netio_handle h, void *user, bool on, bool was_on)
{
    if (on == was_on)
        return;
    struct sock_io *k = ctx;
    struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = user };
    epoll_ctl(k->epfd, EPOLL_CTL_MOD, h.fd, &ev);
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

/*
 * Each bind address its own SO_REUSEPORT listener (the kernel spreads the
 * connections over the workers); port 0: the first listener's port, which the
 * kernel picks, for the others too.
 */
static int kio_listen(void *ctx, const char *bind, int port, int backlog, bool tls, int *bound)
{
    struct sock_io *k = ctx;
    char addrs[1024];
    snprintf(addrs, sizeof(addrs), "%s", bind);
    char *save = NULL;
    int opened = 0;
    for (char *a = strtok_r(addrs, " ", &save); a != NULL; a = strtok_r(NULL, " ", &save)) {
        bool optional = a[0] == '-';
        if (optional)
            a++;
        int fd = sock_listen(a, port, backlog);
        if (fd < 0) {
            if (optional)
                continue;
            log_warn("Warning: Could not create server %s listening socket %s:%d: %s",
                     tls ? "TLS" : "TCP", a, port, strerror(-fd));
            return fd;
        }
        if (port == 0)
            port = sock_bound_port(fd);
        if (k->nlfds == NETIO_MAX_LISTENERS) {
            close(fd);
            break;
        }
        struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)k->nlfds };
        if (epoll_ctl(k->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            int rc = -errno;
            close(fd);
            return rc;
        }
        if (tls)
            k->lfds_tls |= 1u << k->nlfds;
        k->lfds[k->nlfds++] = fd;
        opened++;
    }
    *bound = port;
    return opened > 0 ? 0 : -EADDRNOTAVAIL;
}

static unsigned kio_poll(void *ctx, uint64_t now_ns, int timeout_ms, struct netio_event *ev,
                         unsigned max)
{
    (void)now_ns;
    struct sock_io *k = ctx;
    struct epoll_event evs[POLL_BATCH];
    int n = epoll_wait(k->epfd, evs, max < POLL_BATCH ? (int)max : POLL_BATCH, timeout_ms);
    unsigned out = 0;
    for (int i = 0; i < n; i++) {
        uint64_t tag = evs[i].data.u64;
        if (tag < NETIO_MAX_LISTENERS) {
            ev[out].events = NETIO_ACCEPT | (((k->lfds_tls >> tag) & 1u) ? NETIO_TLS : 0);
            ev[out].user = NULL;
            ev[out++].listener.fd = k->lfds[tag];
        } else if (tag == TAG_WAKE) {
            uint64_t v;
            ssize_t r = read(k->wakefd, &v, sizeof(v));
            (void)r;
        } else {
            uint32_t e = evs[i].events, io = 0;
            if (e & (EPOLLIN | EPOLLERR | EPOLLHUP))
                io |= NETIO_IN;
            if (e & (EPOLLOUT | EPOLLERR))
                io |= NETIO_OUT;
            ev[out].events = io;
            ev[out++].user = evs[i].data.ptr;
        }
    }
    return out;
}

static void kio_flush(void *ctx, uint64_t now_ns)
{
    (void)ctx; /* writev sent it */
    (void)now_ns;
}

static void kio_destroy(void *ctx)
{
    struct sock_io *k = ctx;
    if (k == NULL)
        return;
    for (int i = 0; i < k->nlfds; i++)
        close(k->lfds[i]);
    if (k->epfd >= 0)
        close(k->epfd);
    free(k);
}

int sock_io_create(int wakefd, struct netio *io)
{
    struct sock_io *k = calloc(1, sizeof(*k));
    if (k == NULL)
        return -ENOMEM;
    k->wakefd = wakefd;
    k->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (k->epfd < 0) {
        int rc = -errno;
        free(k);
        return rc;
    }
    if (wakefd >= 0) {
        struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG_WAKE };
        if (epoll_ctl(k->epfd, EPOLL_CTL_ADD, wakefd, &ev) < 0) {
            int rc = -errno;
            kio_destroy(k);
            return rc;
        }
    }
    *io = (struct netio){ .ops = &sock_netio_ops, .ctx = k };
    return 0;
}

const struct netio_ops sock_netio_ops = {
    .name = "kernel",
    .accept_batch = 64,
    .listen = kio_listen,
    .poll = kio_poll,
    .flush = kio_flush,
    .destroy = kio_destroy,
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
