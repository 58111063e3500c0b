#include "control/resp_server.h"

#include <assert.h>
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
#include "base/strbuf.h"
#include "control/tls_socket.h"
#include "base/util.h"

#define MAX_QUERY   (8u * 1024 * 1024)
#define MAX_CLIENTS 4096
#define READ_MAX    (128u * 1024)                 /* read from one client per event, then process */
#define KEEP_BUF    (256u * 1024)                 /* a larger buffer is freed once it is empty */
#define HARD_LIMIT  (8 * CTL_SERVER_OUTPUT_LIMIT) /* unread Pub/Sub messages: dropped at once */

struct client {
    struct ctl_io io;
    struct ctl_server *s;
    struct ctl_tls_conn *tls; /* NULL on the plain port */
    struct client *prev, *next;
    uint64_t id;
    char name[64];
    char addr[64];
    struct resp_parser p;
    char *in;
    size_t inlen, incap;
    struct strbuf out;
    size_t out_off;
    uint8_t proto;
    enum ctl_access access; /* what the client authenticated for (NONE: not authenticated) */
    char user[CTL_AUTH_USER_MAX];
    uint8_t source[16];              /* ctl_auth_source_key of its address */
    struct ctl_auth_backoff backoff; /* its failed AUTH attempts */
    bool closing;                    /* close once the output is sent */
    bool paused;       /* too many unread replies: no request is read until it catches up */
    bool waiting;      /* a command's reply is deferred: nothing more is run until it is given */
    uint64_t sent;     /* bytes of replies sent so far */
    uint64_t stall_at; /* sent when it went over the output limit */
    uint64_t stall_ns; /* since when it has been over the limit without reading (0: not) */
    char **chans;
    int nchans;
    char **pats;
    int npats;
};

struct ctl_server {
    struct ctl_loop *loop;
    struct ctl_io lio;  /* the plain port (fd -1: none) */
    struct ctl_io tlio; /* the TLS port (fd -1: none) */
    int port, tls_port;
    struct ctl_tls_ctx *tls;
    ctl_server_cmd_fn fn;
    void *app;
    struct client *clients;
    int nclients;
    uint64_t next_id;
    struct client *current; /* the client whose command the handler is running */
    ctl_server_auth_fn auth;
    bool auth_required; /* clients must AUTH before anything but AUTH, HELLO, QUIT, RESET */
    struct ctl_auth_sources *sources; /* failed AUTH attempts by source address */
};

static void client_io(void *ctx, uint32_t events);

static void client_free(struct client *c)
{
    struct ctl_server *s = c->s;
    ctl_loop_del(s->loop, &c->io);
    ctl_tls_conn_destroy(c->tls);
    close(c->io.fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nclients--;
    resp_parser_deinit(&c->p);
    mem_free(c->in);
    strbuf_deinit(&c->out);
    for (int i = 0; i < c->nchans; i++)
        mem_free(c->chans[i]);
    for (int i = 0; i < c->npats; i++)
        mem_free(c->pats[i]);
    mem_free(c->chans);
    mem_free(c->pats);
    /* Later events of this batch may still name it: free after the batch. */
    ctl_loop_defer_free(s->loop, c);
}

/* Move a finished reply chain into the client's output buffer. */
static void take_reply(struct client *c, struct reply *r)
{
    for (struct rblock *b = r->head; b; b = b->next)
        strbuf_append(&c->out, b->data + b->start, b->len - b->start);
    reply_deinit(r);
}

/* recv(2) and send(2) on the client's connection, through TLS on the TLS port. */
static ssize_t conn_recv(struct client *c, void *buf, size_t len)
{
    if (c->tls == NULL)
        return recv(c->io.fd, buf, len, 0);
    ssize_t n = ctl_tls_read(c->tls, buf, len);
    if (n < 0 && n != -EAGAIN && ctl_tls_error(c->tls)[0])
        log_verbose("client %s: %s", c->addr, ctl_tls_error(c->tls));
    errno = n < 0 ? (int)-n : 0;
    return n < 0 ? -1 : n;
}

static ssize_t conn_send(struct client *c, const void *buf, size_t len)
{
    if (c->tls == NULL)
        return send(c->io.fd, buf, len, MSG_NOSIGNAL);
    ssize_t n = ctl_tls_write(c->tls, buf, len);
    errno = n < 0 ? (int)-n : 0;
    return n < 0 ? -1 : n;
}

/* TLS may need the socket writable to go on (a handshake, a read that must send). */
static uint32_t tls_out(const struct client *c)
{
    return c->tls && ctl_tls_want_write(c->tls) ? EPOLLOUT : 0;
}

static size_t unread(const struct client *c)
{
    return c->out.len - c->out_off;
}

/*
 * Send what can be sent; @return false when the client was closed. How far a client may fall
 * behind is bounded (see ctl_server_tick): past CTL_SERVER_OUTPUT_LIMIT bytes of unread
 * replies it is paused, and past HARD_LIMIT (Pub/Sub messages pile up without requests) it is
 * dropped at once.
 */
static bool client_flush(struct client *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = conn_send(c, c->out.buf + c->out_off, c->out.len - c->out_off);
        if (n > 0) {
            c->out_off += (size_t)n;
            c->sent += (uint64_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        client_free(c);
        return false;
    }
    size_t left = unread(c);
    if (left == 0) {
        c->out.len = c->out_off = 0;
        if (c->out.cap > KEEP_BUF) { /* after a big reply */
            strbuf_deinit(&c->out);
            strbuf_setup(&c->out);
        }
        if (c->closing) {
            client_free(c);
            return false;
        }
    } else if (left > HARD_LIMIT) {
        log_notice("client %s dropped: %zu bytes of replies not read", c->addr, left);
        client_free(c);
        return false;
    } else if (c->out_off >= left) {
        /* Keep the buffer to what is unread, so a client that reads slowly but never
         * catches up does not hold every reply it was ever sent. */
        memmove(c->out.buf, c->out.buf + c->out_off, left);
        c->out.len = left;
        c->out_off = 0;
    }
    ctl_loop_mod(c->s->loop, &c->io,
                 (c->paused || c->waiting ? 0 : EPOLLIN) | (left ? EPOLLOUT : 0) | tls_out(c));
    return true;
}

static bool arg_is(const struct resp_arg *a, const char *s)
{
    return util_strcaseeq(a->ptr, a->len, s);
}

static int subscriptions(const struct client *c)
{
    return c->nchans + c->npats;
}

/* ---- Pub/Sub ---------------------------------------------------------------------------- */

static void sub_reply(struct client *c, struct reply *r, const char *kind, const char *name,
                      size_t nlen)
{
    reply_push(r, 3);
    reply_bulk_cstr(r, kind);
    if (name)
        reply_bulk(r, name, nlen);
    else
        reply_null(r);
    reply_int(r, subscriptions(c));
}

static int list_find(char **list, int n, const char *s, size_t len)
{
    for (int i = 0; i < n; i++)
        if (strlen(list[i]) == len && memcmp(list[i], s, len) == 0)
            return i;
    return -1;
}

static void subscribe(struct client *c, int argc, struct resp_arg *argv, struct reply *r,
                      bool pattern)
{
    char ***list = pattern ? &c->pats : &c->chans;
    int *n = pattern ? &c->npats : &c->nchans;
    for (int i = 1; i < argc; i++) {
        if (list_find(*list, *n, argv[i].ptr, argv[i].len) < 0) {
            *list = mem_realloc(*list, (size_t)(*n + 1) * sizeof(char *));
            (*list)[(*n)++] = mem_strndup(argv[i].ptr, argv[i].len);
        }
        sub_reply(c, r, pattern ? "psubscribe" : "subscribe", argv[i].ptr, argv[i].len);
    }
}

static void unsubscribe(struct client *c, int argc, struct resp_arg *argv, struct reply *r,
                        bool pattern)
{
    char ***list = pattern ? &c->pats : &c->chans;
    int *n = pattern ? &c->npats : &c->nchans;
    const char *kind = pattern ? "punsubscribe" : "unsubscribe";
    if (argc == 1) {
        if (*n == 0)
            sub_reply(c, r, kind, NULL, 0);
        while (*n > 0) {
            char *name = (*list)[--(*n)];
            sub_reply(c, r, kind, name, strlen(name));
            mem_free(name);
        }
        return;
    }
    for (int i = 1; i < argc; i++) {
        int at = list_find(*list, *n, argv[i].ptr, argv[i].len);
        if (at >= 0) {
            mem_free((*list)[at]);
            (*list)[at] = (*list)[--(*n)];
        }
        sub_reply(c, r, kind, argv[i].ptr, argv[i].len);
    }
}

int ctl_server_publish(struct ctl_server *s, const char *channel, const char *message)
{
    int count = 0;
    size_t clen = strlen(channel);
    for (struct client *c = s->clients, *next; c; c = next) {
        next = c->next;
        struct reply r;
        reply_init(&r, c->proto);
        bool sent = false;
        if (list_find(c->chans, c->nchans, channel, clen) >= 0) {
            reply_push(&r, 3);
            reply_bulk_cstr(&r, "message");
            reply_bulk_cstr(&r, channel);
            reply_bulk_cstr(&r, message);
            sent = true;
        }
        for (int i = 0; i < c->npats; i++) {
            if (util_glob_match(c->pats[i], strlen(c->pats[i]), channel, clen, false)) {
                reply_push(&r, 4);
                reply_bulk_cstr(&r, "pmessage");
                reply_bulk_cstr(&r, c->pats[i]);
                reply_bulk_cstr(&r, channel);
                reply_bulk_cstr(&r, message);
                sent = true;
            }
        }
        take_reply(c, &r);
        if (sent) {
            count++;
            client_flush(c);
        }
    }
    return count;
}

/* ---- connection commands ------------------------------------------------------------------ */

/* What the client may do now: without users configured (auth not required), everything. */
static enum ctl_access access_of(const struct client *c)
{
    if (c->access != CTL_ACCESS_NONE)
        return c->access;
    return c->s->auth_required ? CTL_ACCESS_NONE : CTL_ACCESS_ADMIN;
}

/*
 * AUTH user pass (and HELLO ... AUTH user pass): checked by the application's hook. A wrong
 * pair leaves the client as it was, as Redis does. While the client's connection or source
 * address backs off from failed attempts (auth.h), the attempt is refused unchecked, so a
 * brute force costs this thread a password check only now and then and other clients are
 * served meanwhile. @return whether it succeeded.
 */
static bool authenticate(struct client *c, const struct resp_arg *user, const struct resp_arg *pass,
                         struct reply *r)
{
    char name[CTL_AUTH_USER_MAX] = "";
    bool valid = user->len < sizeof(name) && memchr(user->ptr, '\0', user->len) == NULL;
    if (valid) {
        memcpy(name, user->ptr, user->len);
        name[user->len] = '\0';
    }
    uint64_t now = clock_mono_ns();
    struct ctl_auth_backoff *src = ctl_auth_sources_get(c->s->sources, c->source, name, false);
    uint64_t wait = ctl_auth_backoff_left_ms(&c->backoff, now);
    if (src != NULL && ctl_auth_backoff_left_ms(src, now) > wait)
        wait = ctl_auth_backoff_left_ms(src, now);
    if (wait > 0) {
        reply_errorf(r, "WRONGPASS too many failed authentication attempts, retry in %llu ms",
                     (unsigned long long)wait);
        return false;
    }
    enum ctl_access a = CTL_ACCESS_NONE;
    if (valid && c->s->auth != NULL)
        a = c->s->auth(c->s->app, name, pass->ptr, pass->len);
    if (a == CTL_ACCESS_NONE) {
        log_verbose("client %s: authentication failed", c->addr);
        if (src == NULL)
            src = ctl_auth_sources_get(c->s->sources, c->source, name, true);
        uint64_t ms = ctl_auth_backoff_fail(&c->backoff, CTL_AUTH_FREE_CONN, now);
        uint64_t sms = ctl_auth_backoff_fail(src, CTL_AUTH_FREE_SOURCE, now);
        if (ms > 0 || sms > 0)
            log_notice("client %s: %u failed authentication attempts on this connection, %u "
                       "for this user from its address: no more checked for %llu ms",
                       c->addr, c->backoff.fails, src->fails,
                       (unsigned long long)(ms > sms ? ms : sms));
        reply_error(r, "WRONGPASS invalid username-password pair or user is disabled.");
        return false;
    }
    ctl_auth_backoff_clear(&c->backoff);
    c->access = a;
    memcpy(c->user, name, sizeof(name));
    return true;
}

static void auth_cmd(struct client *c, int argc, struct resp_arg *argv, struct reply *r)
{
    if (argc < 2) {
        reply_error(r, "ERR wrong number of arguments for 'auth' command");
        return;
    }
    if (argc > 3) {
        reply_error(r, "ERR syntax error");
        return;
    }
    if (argc == 2 && !c->s->auth_required) {
        reply_error(r, "ERR AUTH <password> called without any password configured for the "
                       "default user. Are you sure your configuration is correct?");
        return;
    }
    char defname[] = CTL_AUTH_DEFAULT_USER;
    struct resp_arg def = { defname, sizeof(defname) - 1 };
    if (authenticate(c, argc == 3 ? &argv[1] : &def, &argv[argc - 1], r))
        reply_ok(r);
}

static void hello(struct client *c, int argc, struct resp_arg *argv, struct reply *r)
{
    long long proto = c->proto;
    int i = 1;
    if (argc > 1) {
        if (!util_str2ll(argv[1].ptr, argv[1].len, &proto)) {
            reply_error(r, "ERR Protocol version is not an integer or out of range");
            return;
        }
        if (proto != 2 && proto != 3) {
            reply_error(r, "NOPROTO unsupported protocol version");
            return;
        }
        i = 2;
    }
    /* Options are checked first, then AUTH, and only then is anything applied. */
    int setname = 0, auth = 0;
    for (; i < argc; i++) {
        if (arg_is(&argv[i], "SETNAME") && i + 1 < argc) {
            setname = ++i;
        } else if (arg_is(&argv[i], "AUTH") && i + 2 < argc) {
            auth = i + 1;
            i += 2;
        } else {
            reply_errorf(r, "ERR Syntax error in HELLO option '%.*s'", (int)argv[i].len,
                         argv[i].ptr);
            return;
        }
    }
    if (auth && !authenticate(c, &argv[auth], &argv[auth + 1], r))
        return;
    /* As Redis: without AUTH, HELLO needs an authenticated client. */
    if (access_of(c) == CTL_ACCESS_NONE) {
        reply_error(r, "NOAUTH HELLO must be called with the client already authenticated, "
                       "otherwise the HELLO AUTH <user> <pass> option can be used to "
                       "authenticate the client and select the RESP protocol version at the "
                       "same time");
        return;
    }
    if (setname)
        snprintf(c->name, sizeof(c->name), "%.*s", (int)argv[setname].len, argv[setname].ptr);
    c->proto = (uint8_t)proto;
    r->proto = c->proto;
    reply_map(r, 6);
    reply_bulk_cstr(r, "server");
    reply_bulk_cstr(r, "redis");
    reply_bulk_cstr(r, "version");
    reply_bulk_cstr(r, "7.0.0");
    reply_bulk_cstr(r, "proto");
    reply_int(r, c->proto);
    reply_bulk_cstr(r, "id");
    reply_int(r, (long long)c->id);
    reply_bulk_cstr(r, "mode");
    reply_bulk_cstr(r, "sentinel");
    reply_bulk_cstr(r, "modules");
    reply_array(r, 0);
}

static void client_cmd(struct client *c, int argc, struct resp_arg *argv, struct reply *r)
{
    if (argc >= 3 && arg_is(&argv[1], "SETNAME")) {
        snprintf(c->name, sizeof(c->name), "%.*s", (int)argv[2].len, argv[2].ptr);
        reply_ok(r);
    } else if (argc == 2 && arg_is(&argv[1], "GETNAME")) {
        if (c->name[0])
            reply_bulk_cstr(r, c->name);
        else
            reply_null(r);
    } else if (argc == 2 && arg_is(&argv[1], "ID")) {
        reply_int(r, (long long)c->id);
    } else if (argc == 2 && arg_is(&argv[1], "INFO")) {
        char line[256];
        snprintf(line, sizeof(line), "id=%llu addr=%s name=%s resp=%d sub=%d psub=%d\n",
                 (unsigned long long)c->id, c->addr, c->name, c->proto, c->nchans, c->npats);
        reply_bulk_cstr(r, line);
    } else if (argc >= 2 && arg_is(&argv[1], "SETINFO")) {
        reply_ok(r);
    } else {
        reply_errorf(r, "ERR Unknown subcommand or wrong number of arguments for '%.*s'",
                     argc > 1 ? (int)argv[1].len : 0, argc > 1 ? argv[1].ptr : "");
    }
}

/* @return false when the command closes the connection. */
static void execute(struct client *c, int argc, struct resp_arg *argv, struct reply *r)
{
    const struct resp_arg *cmd = &argv[0];
    bool subscribed = subscriptions(c) > 0 && c->proto == 2;
    bool open = access_of(c) != CTL_ACCESS_NONE;
    if (arg_is(cmd, "AUTH")) {
        auth_cmd(c, argc, argv, r);
    } else if (!open && !arg_is(cmd, "HELLO") && !arg_is(cmd, "QUIT") && !arg_is(cmd, "RESET")) {
        reply_error(r, "NOAUTH Authentication required.");
    } else if (arg_is(cmd, "SUBSCRIBE") || arg_is(cmd, "PSUBSCRIBE")) {
        if (argc < 2)
            reply_errorf(r, "ERR wrong number of arguments for '%.*s' command", (int)cmd->len,
                         cmd->ptr);
        else
            subscribe(c, argc, argv, r, arg_is(cmd, "PSUBSCRIBE"));
    } else if (arg_is(cmd, "UNSUBSCRIBE") || arg_is(cmd, "PUNSUBSCRIBE")) {
        unsubscribe(c, argc, argv, r, arg_is(cmd, "PUNSUBSCRIBE"));
    } else if (arg_is(cmd, "PING")) {
        if (subscribed) {
            reply_array(r, 2);
            reply_bulk_cstr(r, "pong");
            if (argc > 1)
                reply_bulk(r, argv[1].ptr, argv[1].len);
            else
                reply_bulk_cstr(r, "");
        } else if (argc > 1) {
            reply_bulk(r, argv[1].ptr, argv[1].len);
        } else {
            reply_status(r, "PONG");
        }
    } else if (arg_is(cmd, "QUIT")) {
        reply_ok(r);
        c->closing = true;
    } else if (subscribed && !arg_is(cmd, "RESET")) {
        reply_errorf(r,
                     "ERR Can't execute '%.*s': only (P)SUBSCRIBE / (P)UNSUBSCRIBE / PING / "
                     "QUIT / RESET are allowed in this context",
                     (int)cmd->len, cmd->ptr);
    } else if (arg_is(cmd, "RESET")) {
        struct reply drop;
        reply_init(&drop, c->proto);
        unsubscribe(c, 1, argv, &drop, false);
        unsubscribe(c, 1, argv, &drop, true);
        reply_deinit(&drop);
        c->proto = 2;
        c->name[0] = '\0';
        c->access = CTL_ACCESS_NONE; /* as Redis: back to the unauthenticated state */
        c->user[0] = '\0';
        r->proto = 2;
        reply_status(r, "RESET");
    } else if (arg_is(cmd, "HELLO")) {
        hello(c, argc, argv, r);
    } else if (arg_is(cmd, "ECHO") && argc == 2) {
        reply_bulk(r, argv[1].ptr, argv[1].len);
    } else if (arg_is(cmd, "CLIENT")) {
        client_cmd(c, argc, argv, r);
    } else {
        c->s->current = c;
        c->s->fn(c->s->app, argc, argv, r);
        c->s->current = NULL;
    }
}

/* Parse and run every complete command in the input buffer. */
static bool client_process(struct client *c)
{
    size_t off = 0;
    while (off < c->inlen && !c->closing && !c->waiting) {
        /* No more requests for a client that is not reading its replies. */
        if (unread(c) > CTL_SERVER_OUTPUT_LIMIT) {
            if (!client_flush(c))
                return false;
            if (unread(c) > CTL_SERVER_OUTPUT_LIMIT) {
                c->paused = true;
                break;
            }
        }
        size_t used = 0;
        int rc = resp_parse(&c->p, c->in + off, c->inlen - off, &used);
        if (rc == RESP_EAGAIN) {
            off += used;
            break;
        }
        struct reply r;
        reply_init(&r, c->proto);
        if (rc == RESP_EPROTO) {
            reply_error(&r, c->p.err);
            take_reply(c, &r);
            c->closing = true;
            off = c->inlen;
            break;
        }
        execute(c, c->p.argc, c->p.argv, &r);
        take_reply(c, &r);
        off += used;
    }
    if (off) {
        memmove(c->in, c->in + off, c->inlen - off);
        c->inlen -= off;
    }
    if (c->inlen > MAX_QUERY) {
        /* One command of more than MAX_QUERY bytes (many big arguments): refused, closed. */
        if (!c->closing) {
            struct reply r;
            reply_init(&r, c->proto);
            reply_error(&r, "ERR Protocol error: request larger than 8 MiB");
            take_reply(c, &r);
            c->closing = true;
        }
        c->inlen = 0;
        resp_parser_reset(&c->p);
    }
    if (c->inlen == 0 && c->incap > KEEP_BUF) {
        mem_free(c->in);
        c->in = NULL;
        c->incap = 0;
    }
    return client_flush(c);
}

static void client_io(void *ctx, uint32_t events)
{
    struct client *c = ctx;
    /* A TLS handshake or read that waited for the socket to be writable goes on. */
    if ((events & EPOLLOUT) && c->tls && ctl_tls_want_write(c->tls) && !c->paused && !c->waiting)
        events |= EPOLLIN;
    if (events & EPOLLIN) {
        /* A bounded read per event: what is left stays in the socket for the next one (and
         * what OpenSSL already decrypted is taken too, since no event would announce it). */
        for (size_t got = 0; got < READ_MAX || (c->tls && ctl_tls_pending(c->tls));) {
            if (c->incap - c->inlen < 4096) {
                c->incap = c->incap ? c->incap * 2 : 16384;
                c->in = mem_realloc(c->in, c->incap);
            }
            ssize_t n = conn_recv(c, c->in + c->inlen, c->incap - c->inlen);
            if (n > 0) {
                c->inlen += (size_t)n;
                got += (size_t)n;
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                break;
            client_free(c);
            return;
        }
        if (!client_process(c))
            return;
    } else if (events & (EPOLLERR | EPOLLHUP)) {
        client_free(c);
        return;
    }
    if ((events & EPOLLOUT) && client_flush(c) && c->paused &&
        unread(c) <= CTL_SERVER_OUTPUT_LIMIT) {
        c->paused = false; /* it caught up: serve what it sent meanwhile */
        client_process(c);
    }
}

/* Accept every pending client of a listener; on the TLS port each gets a TLS connection. */
static void accept_on(struct ctl_server *s, struct ctl_io *l, struct ctl_tls_ctx *tls)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        struct ctl_tls_conn *t = tls ? ctl_tls_conn_create(tls, fd, NULL) : NULL;
        if (s->nclients >= MAX_CLIENTS || (tls && t == NULL)) {
            const char msg[] = "-ERR max number of clients reached\r\n";
            ssize_t w = tls ? 0 : send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL);
            (void)w;
            ctl_tls_conn_destroy(t);
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct client *c = mem_calloc(sizeof(*c));
        c->s = s;
        c->id = ++s->next_id;
        c->proto = 2;
        c->io.fd = fd;
        c->tls = t;
        c->io.fn = client_io;
        c->io.ctx = c;
        char host[INET6_ADDRSTRLEN] = "?", port[8] = "0";
        getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), port, sizeof(port),
                    NI_NUMERICHOST | NI_NUMERICSERV);
        snprintf(c->addr, sizeof(c->addr), "%s:%s", host, port);
        ctl_auth_source_key((struct sockaddr *)&ss, c->source);
        resp_parser_init(&c->p, CTL_SERVER_MAX_BULK);
        strbuf_setup(&c->out);
        c->next = s->clients;
        if (s->clients)
            s->clients->prev = c;
        s->clients = c;
        s->nclients++;
        if (ctl_loop_add(s->loop, &c->io, EPOLLIN) != 0)
            client_free(c);
    }
}

static void accept_io(void *ctx, uint32_t events)
{
    (void)events;
    struct ctl_server *s = ctx;
    accept_on(s, &s->lio, NULL);
}

static void accept_tls_io(void *ctx, uint32_t events)
{
    (void)events;
    struct ctl_server *s = ctx;
    accept_on(s, &s->tlio, s->tls);
}

/*
 * A listening socket on bind:port (port 0: a free one) watched by io.
 * @return 0 with io->fd set and *bound the port; -1 (logged).
 */
static int listen_on(struct ctl_loop *loop, const char *bind_addr, int port, struct ctl_io *io,
                     int *bound)
{
    struct addrinfo hints = { 0 }, *ai = NULL;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char svc[16];
    snprintf(svc, sizeof(svc), "%d", port);
    int rc = getaddrinfo(bind_addr, svc, &hints, &ai);
    if (rc != 0 || ai == NULL) {
        log_warn("cannot resolve %s: %s", bind_addr, gai_strerror(rc));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 511) != 0) {
        log_warn("cannot listen on %s:%d: %s", bind_addr, port, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                            : ((struct sockaddr_in *)&ss)->sin_port);
    io->fd = fd;
    if (ctl_loop_add(loop, io, EPOLLIN) != 0) {
        close(fd);
        io->fd = -1;
        return -1;
    }
    return 0;
}

struct ctl_server *ctl_server_create(struct ctl_loop *loop, const char *bind_addr, int port,
                                     ctl_server_cmd_fn fn, void *app)
{
    struct ctl_server *s = mem_calloc(sizeof(*s));
    s->sources = ctl_auth_sources_create();
    s->loop = loop;
    s->fn = fn;
    s->app = app;
    s->lio = (struct ctl_io){ .fd = -1, .fn = accept_io, .ctx = s };
    s->tlio = (struct ctl_io){ .fd = -1, .fn = accept_tls_io, .ctx = s };
    if (port >= 0 && listen_on(loop, bind_addr, port, &s->lio, &s->port) != 0) {
        ctl_auth_sources_destroy(s->sources);
        mem_free(s);
        return NULL;
    }
    return s;
}

int ctl_server_listen_tls(struct ctl_server *s, const char *bind_addr, int port,
                          struct ctl_tls_ctx *tls)
{
    s->tls = tls;
    return listen_on(s->loop, bind_addr, port, &s->tlio, &s->tls_port) == 0 ? 0 : -EADDRNOTAVAIL;
}

int ctl_server_tls_port(const struct ctl_server *s)
{
    return s->tlio.fd >= 0 ? s->tls_port : -1;
}

void ctl_server_destroy(struct ctl_server *s)
{
    if (s == NULL)
        return;
    while (s->clients)
        client_free(s->clients);
    struct ctl_io *ls[] = { &s->lio, &s->tlio };
    for (int i = 0; i < 2; i++) {
        if (ls[i]->fd >= 0) {
            ctl_loop_del(s->loop, ls[i]);
            close(ls[i]->fd);
        }
    }
    ctl_auth_sources_destroy(s->sources);
    mem_free(s);
}

uint64_t ctl_server_defer(struct ctl_server *s)
{
    struct client *c = s->current;
    assert(c != NULL);
    c->waiting = true;
    return c->id;
}

void ctl_server_answer(struct ctl_server *s, uint64_t token, struct reply *r)
{
    struct client *c = s->clients;
    while (c != NULL && c->id != token)
        c = c->next;
    if (c == NULL || !c->waiting) { /* it went away meanwhile */
        reply_deinit(r);
        return;
    }
    take_reply(c, r);
    c->waiting = false;
    client_process(c); /* what it pipelined behind, and the flush */
}

void ctl_server_tick(struct ctl_server *s, uint64_t now_ns)
{
    for (struct client *c = s->clients, *next; c; c = next) {
        next = c->next;
        if (unread(c) <= CTL_SERVER_OUTPUT_LIMIT) {
            c->stall_ns = 0;
        } else if (c->stall_ns == 0 || c->sent != c->stall_at) {
            c->stall_ns = now_ns; /* over the limit, or still reading: (re)start the clock */
            c->stall_at = c->sent;
        } else if (now_ns - c->stall_ns >= (uint64_t)CTL_SERVER_STALL_MS * 1000000) {
            log_notice("client %s dropped: %zu bytes of replies not read in %d ms", c->addr,
                       unread(c), CTL_SERVER_STALL_MS);
            client_free(c);
        }
    }
}

bool ctl_server_bind_is_loopback(const char *bind_addr)
{
    struct addrinfo hints = { 0 }, *ai = NULL;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    if (getaddrinfo(bind_addr, "0", &hints, &ai) != 0 || ai == NULL)
        return false;
    bool loopback = true;
    for (struct addrinfo *p = ai; p; p = p->ai_next) {
        if (p->ai_family == AF_INET) {
            const struct sockaddr_in *in = (const struct sockaddr_in *)p->ai_addr;
            loopback &= (ntohl(in->sin_addr.s_addr) >> 24) == 127;
        } else if (p->ai_family == AF_INET6) {
            const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)p->ai_addr;
            loopback &= IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
        } else {
            loopback = false;
        }
    }
    freeaddrinfo(ai);
    return loopback;
}

void ctl_server_set_auth(struct ctl_server *s, ctl_server_auth_fn fn, bool required)
{
    s->auth = fn;
    s->auth_required = required;
}

enum ctl_access ctl_server_access(const struct ctl_server *s)
{
    return s->current ? access_of(s->current) : CTL_ACCESS_NONE;
}

const char *ctl_server_user(const struct ctl_server *s)
{
    return s->current ? s->current->user : "";
}

void ctl_server_forget_user(struct ctl_server *s, const char *user)
{
    for (struct client *c = s->clients; c; c = c->next)
        if (c->access != CTL_ACCESS_NONE && strcmp(c->user, user) == 0) {
            c->access = CTL_ACCESS_NONE;
            c->user[0] = '\0';
        }
}

int ctl_server_port(const struct ctl_server *s)
{
    return s->port;
}
