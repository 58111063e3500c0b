#include "worker/cio.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "worker/conn.h"
#include "base/log.h"
#include "worker/process.h"
#include "tls/tls.h"
#include "worker/worker.h"

bool cio_open(const struct conn *c)
{
    return c->io != NULL;
}

static ssize_t raw_read(struct conn *c, void *buf, size_t len)
{
    return c->io->read(c->sock, buf, len);
}

static ssize_t raw_writev(struct conn *c, const struct iovec *iov, int iovcnt)
{
    return c->io->writev(c->sock, iov, iovcnt);
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
    if (c->io == NULL)
        return;
    c->io->interest(c->w->io.ctx, c->sock, c, on, c->flags & CONN_WANT_WRITE);
    c->flags = on ? c->flags | CONN_WANT_WRITE : c->flags & ~CONN_WANT_WRITE;
}

int cio_attach(struct conn *c, bool want_write)
{
    int rc = c->io->attach(c->w->io.ctx, c->sock, c, want_write);
    if (rc == 0 && want_write)
        c->flags |= CONN_WANT_WRITE;
    return rc;
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
    if (c->io != NULL)
        c->io->rearm(c->sock);
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
    if (c->io != NULL) {
        c->io->close(c->w->io.ctx, c->sock);
        c->io = NULL;
    }
}

void cio_keepalive(struct conn *c, int seconds)
{
    if (c->io != NULL)
        c->io->keepalive(c->sock, seconds);
}

struct conn *cio_connect(struct worker *w, const char *host, int port, bool tls)
{
    union netio_handle h;
    char err[128], peer[300];
    if (w->io.ops->connect(w->io.ctx, host, port, &h, err, sizeof(err)) != 0) {
        log_warn("Unable to connect to MASTER: %s", err);
        return NULL;
    }
    snprintf(peer, sizeof(peer), "%s:%d", host, port);
    struct conn *c = conn_create(w, h, peer);
    cio_attach(c, true);
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

int cio_connect_error(struct conn *c)
{
    int err = c->io->connect_error(c->sock);
    if (err != 0 || c->tls == NULL || tls_established(c->tls))
        return err;
    return tls_connect_step(c);
}
