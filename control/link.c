#include "control/link.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "control/state.h"
#include "base/strbuf.h"

struct pending {
    ctl_link_fn fn;
    void *ctx;
    uint64_t tag;
    uint64_t deadline_ns;
};

struct ctl_link {
    struct ctl_loop *loop;
    struct ctl_io io;
    char host[256];
    int port;
    uint64_t timeout_ns;
    bool connecting;
    bool timed_out;       /* the last close was a command past its deadline */
    unsigned connections; /* connections opened so far */
    struct strbuf out;
    size_t out_off;
    struct strbuf in;
    struct pending *q; /* ring of pending callbacks */
    int qhead, qlen, qcap;
    char token[2][CTL_TOKEN_MAX]; /* passwords to try at connect ("" none) */
    char user[32];                /* an ACL user to authenticate as, tried last ("" none) */
    char user_pass[CTL_NODE_USER_PASS_LEN + 1];
    int auth_left;         /* AUTH replies still to come on this connection */
    bool auth_ok;          /* one was accepted, or the node has no password */
    char auth_error[160];  /* the node's answer when every one was refused */
    char auth_logged[160]; /* the last refusal logged */
};

static void link_io(void *ctx, uint32_t events);

struct ctl_link *ctl_link_create(struct ctl_loop *loop, const char *host, int port, int timeout_ms)
{
    struct ctl_link *k = mem_calloc(sizeof(*k));
    k->loop = loop;
    k->io.fd = -1;
    k->io.fn = link_io;
    k->io.ctx = k;
    snprintf(k->host, sizeof(k->host), "%s", host);
    k->port = port;
    k->timeout_ns = (uint64_t)timeout_ms * 1000000;
    strbuf_setup(&k->out);
    strbuf_setup(&k->in);
    return k;
}

/*
 * Close the socket; fail (call_back) or drop every pending command. `timeout`: the close is
 * for a command past its deadline (ctl_link_timed_out() says so during the callbacks).
 */
static void link_close_for(struct ctl_link *k, bool call_back, bool timeout)
{
    k->timed_out = timeout;
    if (k->io.fd >= 0) {
        ctl_loop_del(k->loop, &k->io);
        close(k->io.fd);
        k->io.fd = -1;
    }
    k->connecting = false;
    k->out.len = k->out_off = 0;
    k->in.len = 0;
    /* Callbacks may queue new commands: take the current queue out first. */
    int n = k->qlen, head = k->qhead, cap = k->qcap;
    struct pending *q = k->q;
    k->q = NULL;
    k->qlen = k->qhead = k->qcap = 0;
    for (int i = 0; i < n && call_back; i++) {
        struct pending *p = &q[(head + i) % cap];
        p->fn(p->ctx, p->tag, NULL);
    }
    mem_free(q);
}

static void link_close(struct ctl_link *k, bool call_back)
{
    link_close_for(k, call_back, false);
}

void ctl_link_destroy(struct ctl_link *k)
{
    if (k == NULL)
        return;
    link_close(k, false);
    strbuf_deinit(&k->out);
    strbuf_deinit(&k->in);
    mem_free(k->q);
    mem_free(k);
}

void ctl_link_set_auth(struct ctl_link *k, const char *token, const char *prev)
{
    snprintf(k->token[0], sizeof(k->token[0]), "%s", token ? token : "");
    snprintf(k->token[1], sizeof(k->token[1]), "%s", prev ? prev : "");
    if (strcmp(k->token[0], k->token[1]) == 0)
        k->token[1][0] = '\0';
}

void ctl_link_set_user(struct ctl_link *k, const char *user, const char *pass)
{
    snprintf(k->user, sizeof(k->user), "%s", user && pass ? user : "");
    snprintf(k->user_pass, sizeof(k->user_pass), "%s", user && pass ? pass : "");
}

const char *ctl_link_auth_error(const struct ctl_link *k)
{
    return k->auth_error;
}

/*
 * The answer to one of the AUTHs sent at connect. Accepted, or refused because the node has
 * no password (Redis: "ERR AUTH <password> called without any password configured ..."),
 * the link is usable. Every one refused: the commands queued behind them were answered
 * NOAUTH, so the connection is closed and they fail.
 */
static void auth_reply(void *ctx, uint64_t tag, const struct ctl_reply *r)
{
    (void)tag;
    struct ctl_link *k = ctx;
    if (r == NULL)
        return; /* the connection failed: every command fails with it */
    k->auth_left--;
    if (r->type != CTL_R_ERROR || strstr(r->str, "without any password configured") != NULL ||
        strstr(r->str, "no password is set") != NULL)
        k->auth_ok = true;
    else if (!k->auth_error[0] || strncmp(r->str, "WRONGPASS", 9) != 0)
        snprintf(k->auth_error, sizeof(k->auth_error), "%s", r->str);
    if (k->auth_left > 0)
        return;
    if (k->auth_ok) {
        k->auth_error[0] = k->auth_logged[0] = '\0';
        return;
    }
    /* Once per change: the link tries again at every probe. */
    if (strcmp(k->auth_error, k->auth_logged) != 0)
        log_warn("node %s:%d refused pollux-control's password: %s", k->host, k->port,
                 k->auth_error);
    snprintf(k->auth_logged, sizeof(k->auth_logged), "%s", k->auth_error);
    link_close(k, true);
}

static void push(struct ctl_link *k, ctl_link_fn fn, void *ctx, uint64_t tag, uint64_t deadline);

static void auth_send(struct ctl_link *k, int argc, const char *const *argv)
{
    ctl_cmd_append(&k->out, argc, argv, NULL);
    push(k, auth_reply, k, 0, clock_mono_ns() + k->timeout_ns);
    k->auth_left++;
}

/*
 * The AUTHs that open a connection: the current password first, the ACL user last, so that
 * the connection ends up as that user when the node knows it (a refused AUTH leaves the
 * connection as it was).
 */
static void auth_start(struct ctl_link *k)
{
    k->auth_left = 0;
    k->auth_ok = false;
    k->auth_error[0] = '\0';
    for (int i = 0; i < 2; i++) {
        if (!k->token[i][0])
            continue;
        const char *argv[] = { "AUTH", k->token[i] };
        auth_send(k, 2, argv);
    }
    if (k->user[0]) {
        const char *argv[] = { "AUTH", k->user, k->user_pass };
        auth_send(k, 3, argv);
    }
}

static int link_connect(struct ctl_link *k)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, k->host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)k->port);
        sl = sizeof(*a4);
    } else if (inet_pton(AF_INET6, k->host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)k->port);
        sl = sizeof(*a6);
    } else {
        /* A host name: resolved synchronously (see control/NOTES.md). */
        struct addrinfo hints = { 0 }, *ai = NULL;
        hints.ai_socktype = SOCK_STREAM;
        char svc[16];
        snprintf(svc, sizeof(svc), "%d", k->port);
        if (getaddrinfo(k->host, svc, &hints, &ai) != 0 || ai == NULL)
            return -EHOSTUNREACH;
        memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
        sl = ai->ai_addrlen;
        freeaddrinfo(ai);
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&ss, sl) != 0 && errno != EINPROGRESS) {
        int e = -errno;
        close(fd);
        return e;
    }
    k->io.fd = fd;
    k->connecting = true;
    int rc = ctl_loop_add(k->loop, &k->io, EPOLLOUT | EPOLLIN);
    if (rc) {
        close(fd);
        k->io.fd = -1;
        return rc;
    }
    k->connections++;
    auth_start(k);
    return 0;
}

static void push(struct ctl_link *k, ctl_link_fn fn, void *ctx, uint64_t tag, uint64_t deadline)
{
    if (k->qlen == k->qcap) {
        int cap = k->qcap ? k->qcap * 2 : 8;
        struct pending *q = mem_alloc((size_t)cap * sizeof(*q));
        for (int i = 0; i < k->qlen; i++)
            q[i] = k->q[(k->qhead + i) % k->qcap];
        mem_free(k->q);
        k->q = q;
        k->qhead = 0;
        k->qcap = cap;
    }
    k->q[(k->qhead + k->qlen) % k->qcap] = (struct pending){ fn, ctx, tag, deadline };
    k->qlen++;
}

static void flush(struct ctl_link *k)
{
    while (!k->connecting && k->out_off < k->out.len) {
        ssize_t n = send(k->io.fd, k->out.buf + k->out_off, k->out.len - k->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            k->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        link_close(k, true);
        return;
    }
    if (k->io.fd < 0)
        return;
    if (k->out_off == k->out.len)
        k->out.len = k->out_off = 0;
    uint32_t want = EPOLLIN | (k->connecting || k->out.len ? EPOLLOUT : 0);
    ctl_loop_mod(k->loop, &k->io, want);
}

int ctl_link_send_within(struct ctl_link *k, int timeout_ms, int argc, const char *const *argv,
                         ctl_link_fn fn, void *ctx, uint64_t tag)
{
    if (k->io.fd < 0) {
        int rc = link_connect(k);
        if (rc)
            return rc;
    }
    ctl_cmd_append(&k->out, argc, argv, NULL);
    uint64_t timeout_ns = timeout_ms > 0 ? (uint64_t)timeout_ms * 1000000 : k->timeout_ns;
    push(k, fn, ctx, tag, clock_mono_ns() + timeout_ns);
    flush(k);
    return 0;
}

int ctl_link_send(struct ctl_link *k, int argc, const char *const *argv, ctl_link_fn fn, void *ctx,
                  uint64_t tag)
{
    return ctl_link_send_within(k, 0, argc, argv, fn, ctx, tag);
}

/* Hand complete replies to their callbacks, in order. */
static void deliver(struct ctl_link *k)
{
    size_t off = 0;
    while (off < k->in.len && k->qlen > 0) {
        struct ctl_reply *r = NULL;
        size_t used = 0;
        int rc = ctl_reply_parse(k->in.buf + off, k->in.len - off, &r, &used);
        if (rc == CTL_EAGAIN)
            break;
        if (rc < 0) {
            log_warn("node %s:%d: protocol error in reply, closing", k->host, k->port);
            link_close(k, true);
            return;
        }
        off += used;
        struct pending p = k->q[k->qhead];
        k->qhead = (k->qhead + 1) % k->qcap;
        k->qlen--;
        p.fn(p.ctx, p.tag, r);
        ctl_reply_free(r);
        if (k->io.fd < 0) /* the callback closed or reset the link */
            return;
    }
    if (off) {
        memmove(k->in.buf, k->in.buf + off, k->in.len - off);
        k->in.len -= off;
    }
    if (k->qlen == 0 && k->in.len) {
        /* A reply nobody asked for (a node pushing data): the stream cannot be trusted. */
        link_close(k, true);
    }
}

static void link_io(void *ctx, uint32_t events)
{
    struct ctl_link *k = ctx;
    if (k->connecting && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(k->io.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
            link_close(k, true);
            return;
        }
        k->connecting = false;
    }
    if (events & EPOLLIN) {
        char buf[16384];
        for (;;) {
            ssize_t n = recv(k->io.fd, buf, sizeof(buf), 0);
            if (n > 0) {
                strbuf_append(&k->in, buf, (size_t)n);
                if ((size_t)n < sizeof(buf))
                    break;
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                break;
            /* Closed or reset: deliver what arrived, then fail the rest. */
            deliver(k);
            if (k->io.fd >= 0)
                link_close(k, true);
            return;
        }
        deliver(k);
        if (k->io.fd < 0)
            return;
    } else if (events & (EPOLLERR | EPOLLHUP)) {
        link_close(k, true);
        return;
    }
    flush(k);
}

static bool overdue(const struct ctl_link *k, uint64_t now_ns)
{
    for (int i = 0; i < k->qlen; i++)
        if (k->q[(k->qhead + i) % k->qcap].deadline_ns <= now_ns)
            return true;
    return false;
}

/*
 * Commands have their own deadlines, so any pending one may be overdue, not only the oldest.
 * Replies that have already arrived are read first: when pollux-control itself was starved
 * of CPU, an answer that came in time must not be failed because it was read late.
 */
void ctl_link_tick(struct ctl_link *k, uint64_t now_ns)
{
    if (!overdue(k, now_ns))
        return;
    if (k->io.fd >= 0 && !k->connecting)
        link_io(k, EPOLLIN);
    if (overdue(k, now_ns))
        link_close_for(k, true, true);
}

bool ctl_link_timed_out(const struct ctl_link *k)
{
    return k->timed_out;
}

int ctl_link_pending(const struct ctl_link *k)
{
    return k->qlen;
}

unsigned ctl_link_connections(const struct ctl_link *k)
{
    return k->connections;
}

bool ctl_link_connected(const struct ctl_link *k)
{
    return k->io.fd >= 0 && !k->connecting;
}
