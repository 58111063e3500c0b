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
#include "tls.h"
#include "worker.h"

bool cio_open(const struct conn *c)
{
    return c->fd >= 0 || c->ns != NULL;
}

static ssize_t raw_read(struct conn *c, void *buf, size_t len)
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

static ssize_t raw_writev(struct conn *c, const struct iovec *iov, int iovcnt)
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

/* ---------------------------------------------------------------------------
 * TLS connections
 *
 * The session (tls/tls.h) sits between the connection and its socket: reads
 * move ciphertext from the socket into the session and plaintext out of it,
 * writes the other way round. Handshake messages and alerts go out on the way.
 * The socket is told about write interest while the connection wants to write
 * or the session holds ciphertext the socket had no room for.
 * ------------------------------------------------------------------------ */

static void set_interest(struct conn *c, bool on);

/* Send the session's ciphertext. @return 0 (sent, or the socket is full) or -errno. */
static int tls_send(struct conn *c)
{
    for (;;) {
        size_t n;
        const char *p = tls_out_peek(c->tls, &n);
        if (p == NULL)
            return 0;
        struct iovec iov = { .iov_base = (char *)p, .iov_len = n };
        ssize_t w = raw_writev(c, &iov, 1);
        if (w == -EAGAIN)
            return 0;
        if (w < 0)
            return (int)w;
        tls_out_consume(c->tls, (size_t)w);
        if ((size_t)w < n)
            return 0;
    }
}

/* Ciphertext from the socket into the session. @return as read(), -ENOBUFS when it is full. */
static ssize_t tls_recv(struct conn *c)
{
    size_t room;
    char *p = tls_in_space(c->tls, &room);
    if (room == 0)
        return -ENOBUFS;
    ssize_t n = raw_read(c, p, room);
    if (n > 0)
        tls_in_commit(c->tls, (size_t)n);
    return n;
}

/* During the handshake only its own messages are waited on: replies wait for its end. */
static void tls_interest(struct conn *c)
{
    bool user = (c->flags & CONN_TLS_WANT_WRITE) && tls_established(c->tls);
    set_interest(c, user || tls_out_pending(c->tls) > 0);
}

/* Report c readable again on the next pass (its session holds input the socket does not). */
static void tls_ready(struct conn *c)
{
    if (c->flags & CONN_TLS_READY)
        return;
    c->flags |= CONN_TLS_READY;
    c->tls_next = c->w->tls_ready;
    c->w->tls_ready = c;
}

static void tls_unready_from(struct conn **head, struct conn *c)
{
    for (struct conn **pp = head; *pp != NULL; pp = &(*pp)->tls_next) {
        if (*pp == c) {
            *pp = c->tls_next;
            break;
        }
    }
}

struct conn *cio_tls_ready_next(struct worker *w)
{
    if (w->tls_ready_run == NULL)
        return NULL;
    struct conn *c = w->tls_ready_run;
    w->tls_ready_run = c->tls_next;
    c->tls_next = NULL;
    c->flags &= ~CONN_TLS_READY;
    return c;
}

void cio_tls_ready_round(struct worker *w)
{
    w->tls_ready_run = w->tls_ready;
    w->tls_ready = NULL;
}

static ssize_t tls_conn_read(struct conn *c, void *buf, size_t len)
{
    bool was_up = tls_established(c->tls);
    bool drained = false; /* a read returned less than it asked for: the socket is empty */
    size_t got = 0;
    ssize_t end = -EAGAIN; /* why reading stopped short: -EAGAIN, 0 (end of stream), -errno */
    while (got < len) {
        ssize_t n = tls_read(c->tls, (char *)buf + got, len - got);
        if (n > 0) {
            got += (size_t)n;
            continue;
        }
        if (n == TLS_CLOSED) {
            end = 0;
            break;
        }
        if (n == TLS_EPROTO) {
            log_verbose("TLS error on client connection %s: %s", c->peer, tls_error(c->tls));
            end = -EPROTO;
            break;
        }
        if (drained)
            break; /* no read() that would only say EAGAIN: the plaintext path makes none */
        size_t room;
        tls_in_space(c->tls, &room);
        ssize_t r = tls_recv(c);
        if (r > 0) {
            drained = (size_t)r < room;
            continue;
        }
        if (r == -ENOBUFS)
            tls_ready(c);
        end = r == -ENOBUFS ? -EAGAIN : r;
        break;
    }
    int sent = tls_send(c);
    tls_interest(c);
    if (!was_up && tls_established(c->tls) && c->out.bytes > 0)
        conn_want_flush(c); /* replies queued before the handshake (protected mode) */
    if (got == len || (got > 0 && end != -EAGAIN))
        tls_ready(c); /* more input, or the end of the stream, to report next pass */
    if (got > 0)
        return (ssize_t)got;
    if (end == -EAGAIN && sent < 0)
        return sent;
    return end;
}

/* Advance the iovec position (i, off) by n bytes. */
static void iov_advance(const struct iovec *iov, int iovcnt, int *i, size_t *off, size_t n)
{
    while (n > 0 && *i < iovcnt) {
        size_t rest = iov[*i].iov_len - *off;
        if (n < rest) {
            *off += n;
            return;
        }
        n -= rest;
        (*i)++;
        *off = 0;
    }
    while (*i < iovcnt && iov[*i].iov_len == 0)
        (*i)++;
}

/*
 * Small replies are gathered into one record (a pipeline's replies are many
 * short iovecs); a long block is encrypted where it lies.
 */
#define TLS_GATHER 16384

static ssize_t tls_conn_writev(struct conn *c, const struct iovec *iov, int iovcnt)
{
    static _Thread_local char gather[TLS_GATHER];
    int rc = tls_send(c);
    if (rc < 0)
        return rc;
    if (!tls_established(c->tls)) {
        int h = tls_handshake(c->tls);
        rc = tls_send(c);
        tls_interest(c);
        if (h == TLS_EPROTO)
            return -EPROTO;
        if (h != 0)
            return rc < 0 ? rc : -EAGAIN;
    }
    size_t taken = 0;
    int i = 0;
    size_t off = 0;
    iov_advance(iov, iovcnt, &i, &off, 0);
    while (i < iovcnt) {
        const char *p = (const char *)iov[i].iov_base + off;
        size_t n = iov[i].iov_len - off;
        if (n < TLS_GATHER && i + 1 < iovcnt) {
            /* copy from (i, off) on without moving: the position moves by what is taken */
            int j = i;
            size_t o = off;
            n = 0;
            while (j < iovcnt && n < TLS_GATHER) {
                size_t k = iov[j].iov_len - o;
                if (k > TLS_GATHER - n)
                    k = TLS_GATHER - n;
                memcpy(gather + n, (const char *)iov[j].iov_base + o, k);
                n += k;
                j++;
                o = 0;
            }
            p = gather;
        }
        ssize_t w = tls_write(c->tls, p, n);
        if (w == TLS_EPROTO)
            return -EPROTO;
        if (w == TLS_EAGAIN) {
            /* the session's buffer is full: send, and go on if the socket took some */
            size_t before = tls_out_pending(c->tls);
            rc = tls_send(c);
            if (rc < 0)
                return rc;
            if (tls_out_pending(c->tls) == before)
                break;
            continue;
        }
        taken += (size_t)w;
        iov_advance(iov, iovcnt, &i, &off, (size_t)w);
    }
    rc = tls_send(c);
    if (rc < 0)
        return rc;
    return taken > 0 ? (ssize_t)taken : -EAGAIN;
}

int cio_tls_start(struct conn *c, bool client)
{
    struct tls_ctx *ctx = c->w->tls;
    c->tls = ctx != NULL ? tls_session_create(ctx, client ? TLS_CONNECT : TLS_ACCEPT) : NULL;
    return c->tls != NULL ? 0 : -1;
}

bool cio_tls_handshaking(const struct conn *c)
{
    return c->tls != NULL && !tls_established(c->tls);
}

int cio_flush(struct conn *c)
{
    if (c->tls == NULL)
        return 0;
    int rc = tls_send(c);
    tls_interest(c);
    return rc < 0 ? -1 : 0;
}

bool cio_out_pending(const struct conn *c)
{
    return c->tls != NULL && tls_out_pending(c->tls) > 0;
}

ssize_t cio_read(struct conn *c, void *buf, size_t len)
{
    return c->tls != NULL ? tls_conn_read(c, buf, len) : raw_read(c, buf, len);
}

ssize_t cio_writev(struct conn *c, const struct iovec *iov, int iovcnt)
{
    return c->tls != NULL ? tls_conn_writev(c, iov, iovcnt) : raw_writev(c, iov, iovcnt);
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

static void set_interest(struct conn *c, bool on)
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

void cio_write_interest(struct conn *c, bool on)
{
    if (c->tls == NULL) {
        set_interest(c, on);
        return;
    }
    c->flags = on ? c->flags | CONN_TLS_WANT_WRITE : c->flags & ~CONN_TLS_WANT_WRITE;
    tls_interest(c);
}

void cio_rearm(struct conn *c)
{
    if (c->tls != NULL)
        tls_ready(c); /* the session may hold input the socket no longer reports */
    if (c->ns != NULL)
        net_sock_rearm(c->ns);
    /* epoll is level-triggered: nothing to do */
}

void cio_close(struct conn *c)
{
    if (c->flags & CONN_TLS_READY) {
        tls_unready_from(&c->w->tls_ready, c);
        tls_unready_from(&c->w->tls_ready_run, c);
        c->flags &= ~CONN_TLS_READY;
    }
    if (c->tls != NULL) {
        tls_shutdown(c->tls); /* close_notify, if the socket takes it now */
        tls_send(c);
        tls_session_destroy(c->tls);
        c->tls = NULL;
    }
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

struct conn *cio_connect(struct worker *w, const char *host, int port, bool tls)
{
    struct conn *c = w->net != NULL ? connect_net(w, host, port) : connect_kernel(w, host, port);
    if (c == NULL)
        return NULL;
    atomic_fetch_add(&server.clients, 1);
    if (tls && cio_tls_start(c, true) != 0) {
        log_warn("Unable to connect to MASTER: no TLS context (tls-cert-file, tls-key-file)");
        conn_close(c);
        return NULL;
    }
    return c;
}

/* The TCP connection is up: run the TLS handshake as far as the peer's bytes allow. */
static int tls_connect_step(struct conn *c)
{
    int h;
    for (;;) {
        h = tls_handshake(c->tls);
        if (h != TLS_EAGAIN)
            break;
        if (tls_send(c) < 0)
            return ECONNRESET;
        ssize_t r = tls_recv(c);
        if (r == 0)
            return ECONNRESET;
        if (r < 0 && r != -ENOBUFS) {
            if (r == -EAGAIN)
                break;
            return (int)-r;
        }
    }
    tls_send(c);
    c->flags &= ~CONN_TLS_WANT_WRITE; /* the handshake's own sends need no user interest */
    tls_interest(c);
    if (h == TLS_EPROTO) {
        log_warn("TLS handshake with MASTER failed: %s", tls_error(c->tls));
        return EPROTO;
    }
    return h == 0 ? 0 : EINPROGRESS;
}

static int tcp_connect_error(struct conn *c)
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

int cio_connect_error(struct conn *c)
{
    int err = tcp_connect_error(c);
    if (err != 0 || c->tls == NULL || tls_established(c->tls))
        return err;
    return tls_connect_step(c);
}
