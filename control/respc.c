#include "control/respc.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include "base/clock.h"
#include "base/mem.h"
#include "control/tls_socket.h"
#include "base/util.h"

struct cursor {
    const char *buf;
    size_t len, pos;
};

/* The line at the cursor without its CRLF; CTL_EAGAIN when no CRLF yet. */
static int line(struct cursor *c, const char **start, size_t *n)
{
    const char *p = c->buf + c->pos;
    size_t left = c->len - c->pos;
    const char *cr = memchr(p, '\r', left);
    if (cr == NULL)
        return CTL_EAGAIN;
    if ((size_t)(cr - p) + 1 >= left)
        return CTL_EAGAIN;
    if (cr[1] != '\n')
        return -EPROTO;
    *start = p;
    *n = (size_t)(cr - p);
    c->pos += *n + 2;
    return 0;
}

static struct ctl_reply *node(enum ctl_rtype t)
{
    struct ctl_reply *r = mem_calloc(sizeof(*r));
    r->type = t;
    return r;
}

static void set_str(struct ctl_reply *r, const char *p, size_t n)
{
    r->str = mem_alloc(n + 1);
    memcpy(r->str, p, n);
    r->str[n] = '\0';
    r->len = n;
}

static int parse_value(struct cursor *c, int depth, struct ctl_reply **out)
{
    if (depth > CTL_REPLY_MAX_DEPTH)
        return -EPROTO;
    const char *p;
    size_t n;
    int rc = line(c, &p, &n);
    if (rc)
        return rc;
    if (n == 0)
        return -EPROTO;
    char t = p[0];
    const char *rest = p + 1;
    size_t rlen = n - 1;
    long long v = 0;
    struct ctl_reply *r;
    switch (t) {
    case '+':
    case '-':
    case ',':
    case '(':
        r = node(t == '+'   ? CTL_R_STATUS
                 : t == '-' ? CTL_R_ERROR
                 : t == ',' ? CTL_R_DOUBLE
                            : CTL_R_BULK);
        set_str(r, rest, rlen);
        *out = r;
        return 0;
    case ':':
        if (!util_str2ll(rest, rlen, &v))
            return -EPROTO;
        r = node(CTL_R_INT);
        r->integer = v;
        *out = r;
        return 0;
    case '#':
        if (rlen != 1 || (rest[0] != 't' && rest[0] != 'f'))
            return -EPROTO;
        r = node(CTL_R_BOOL);
        r->integer = rest[0] == 't';
        *out = r;
        return 0;
    case '_':
        if (rlen != 0)
            return -EPROTO;
        *out = node(CTL_R_NIL);
        return 0;
    case '$':
    case '=':
    case '!': {
        if (!util_str2ll(rest, rlen, &v) || v < -1)
            return -EPROTO;
        if (v == -1) {
            if (t != '$')
                return -EPROTO;
            *out = node(CTL_R_NIL);
            return 0;
        }
        if (c->len - c->pos < (size_t)v + 2)
            return CTL_EAGAIN;
        const char *data = c->buf + c->pos;
        if (data[v] != '\r' || data[v + 1] != '\n')
            return -EPROTO;
        c->pos += (size_t)v + 2;
        if (t == '=') {
            if (v < 4 || data[3] != ':')
                return -EPROTO;
            data += 4;
            v -= 4;
        }
        r = node(t == '!' ? CTL_R_ERROR : CTL_R_BULK);
        set_str(r, data, (size_t)v);
        *out = r;
        return 0;
    }
    case '*':
    case '%':
    case '~':
    case '>': {
        if (!util_str2ll(rest, rlen, &v) || v < -1)
            return -EPROTO;
        if (v == -1) {
            if (t != '*')
                return -EPROTO;
            *out = node(CTL_R_NIL);
            return 0;
        }
        size_t count = (size_t)v * (t == '%' ? 2 : 1);
        /* Each element needs at least 3 bytes: refuse counts the input cannot hold. */
        if (count > (c->len - c->pos) / 3 + 1)
            return count > (1u << 24) ? -EPROTO : CTL_EAGAIN;
        r = node(t == '*' ? CTL_R_ARRAY : t == '%' ? CTL_R_MAP : t == '~' ? CTL_R_SET : CTL_R_PUSH);
        r->elem = count ? mem_calloc(count * sizeof(r->elem[0])) : NULL;
        for (size_t i = 0; i < count; i++) {
            rc = parse_value(c, depth + 1, &r->elem[i]);
            if (rc) {
                r->n = i;
                ctl_reply_free(r);
                return rc;
            }
        }
        r->n = count;
        *out = r;
        return 0;
    }
    case '|': { /* attributes: parse and drop, then the value they describe */
        if (!util_str2ll(rest, rlen, &v) || v < 0)
            return -EPROTO;
        for (long long i = 0; i < 2 * v; i++) {
            struct ctl_reply *skip = NULL;
            if ((rc = parse_value(c, depth + 1, &skip)) != 0)
                return rc;
            ctl_reply_free(skip);
        }
        return parse_value(c, depth + 1, out);
    }
    default:
        return -EPROTO;
    }
}

int ctl_reply_parse(const char *buf, size_t len, struct ctl_reply **out, size_t *used)
{
    struct cursor c = { buf, len, 0 };
    struct ctl_reply *r = NULL;
    int rc = parse_value(&c, 0, &r);
    if (rc)
        return rc;
    *out = r;
    *used = c.pos;
    return 0;
}

void ctl_reply_free(struct ctl_reply *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++)
        ctl_reply_free(r->elem[i]);
    mem_free(r->elem);
    mem_free(r->str);
    mem_free(r);
}

bool ctl_reply_is(const struct ctl_reply *r, const char *s)
{
    return r && (r->type == CTL_R_STATUS || r->type == CTL_R_BULK) && strcmp(r->str, s) == 0;
}

const struct ctl_reply *ctl_reply_get(const struct ctl_reply *r, const char *key)
{
    if (r == NULL || (r->type != CTL_R_MAP && r->type != CTL_R_ARRAY))
        return NULL;
    for (size_t i = 0; i + 1 < r->n; i += 2)
        if (ctl_reply_is(r->elem[i], key))
            return r->elem[i + 1];
    return NULL;
}

void ctl_cmd_append(struct strbuf *out, int argc, const char *const *argv, const size_t *lens)
{
    strbuf_printf(out, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        size_t n = lens ? lens[i] : strlen(argv[i]);
        strbuf_printf(out, "$%zu\r\n", n);
        strbuf_append(out, argv[i], n);
        strbuf_append(out, "\r\n", 2);
    }
}

/* Milliseconds left until deadline (monotonic ns), at least 0. */
static int left_ms(uint64_t deadline)
{
    uint64_t now = clock_mono_ns();
    return now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);
}

/* TCP connect within the deadline. @return the fd or -errno. */
static int tcp_connect(const char *host, int port, uint64_t deadline)
{
    char service[16];
    snprintf(service, sizeof(service), "%d", port);
    struct addrinfo hints = { 0 }, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, service, &hints, &ai) != 0 || ai == NULL)
        return -EHOSTUNREACH;
    int ret = -ECONNREFUSED;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            ret = -errno;
            continue;
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
            ret = -errno;
            close(fd);
            continue;
        }
        struct pollfd pfd = { fd, POLLOUT, 0 };
        int prc = poll(&pfd, 1, left_ms(deadline));
        int err = 0;
        socklen_t elen = sizeof(err);
        if (prc <= 0) {
            ret = prc == 0 ? -ETIMEDOUT : -errno;
            close(fd);
            continue;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 || err != 0) {
            ret = -(err ? err : errno);
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        freeaddrinfo(ai);
        return fd;
    }
    freeaddrinfo(ai);
    return ret;
}

/* send(2)/recv(2) over the client's connection: > 0 bytes, 0 closed, or -errno. */
static ssize_t cl_io(struct ctl_client *c, bool out, void *buf, size_t len)
{
    if (c->tls != NULL)
        return out ? ctl_tls_write(c->tls, buf, len) : ctl_tls_read(c->tls, buf, len);
    ssize_t n = out ? send(c->fd, buf, len, MSG_NOSIGNAL) : recv(c->fd, buf, len, 0);
    return n < 0 ? (errno == EINTR ? -EAGAIN : -errno) : n;
}

/* Wait until the connection can go on (after -EAGAIN). @return false at the deadline. */
static bool cl_wait(struct ctl_client *c, bool out, uint64_t deadline)
{
    if (c->tls != NULL)
        out = ctl_tls_want_write(c->tls);
    struct pollfd pfd = { c->fd, (short)(out ? POLLOUT : POLLIN), 0 };
    int wait = left_ms(deadline);
    return wait > 0 && poll(&pfd, 1, wait) > 0;
}

int ctl_client_connect(struct ctl_client *c, const char *host, int port, int timeout_ms,
                       struct ctl_tls_ctx *tls)
{
    memset(c, 0, sizeof(*c));
    uint64_t deadline = clock_mono_ns() + (uint64_t)timeout_ms * 1000000;
    c->fd = tcp_connect(host, port, deadline);
    if (c->fd < 0)
        return c->fd;
    if (tls == NULL)
        return 0;
    c->tls = ctl_tls_conn_create(tls, c->fd, host);
    int rc = c->tls ? -EAGAIN : -ENOMEM;
    while (rc == -EAGAIN) {
        rc = ctl_tls_handshake(c->tls);
        if (rc == -EAGAIN && !cl_wait(c, false, deadline))
            rc = -ETIMEDOUT;
    }
    if (rc >= 0)
        return 0;
    if (c->tls && ctl_tls_error(c->tls)[0]) {
        snprintf(c->err, sizeof(c->err), "%s", ctl_tls_error(c->tls));
        rc = -EPROTO;
    }
    ctl_client_close(c);
    return rc;
}

void ctl_client_close(struct ctl_client *c)
{
    ctl_tls_conn_destroy(c->tls);
    c->tls = NULL;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

int ctl_client_call(struct ctl_client *c, int argc, const char *const *argv, int timeout_ms,
                    struct ctl_reply **out)
{
    uint64_t deadline = clock_mono_ns() + (uint64_t)timeout_ms * 1000000;
    struct strbuf req;
    strbuf_setup(&req);
    ctl_cmd_append(&req, argc, argv, NULL);
    size_t off = 0;
    int ret = 0;
    while (off < req.len) {
        ssize_t n = cl_io(c, true, req.buf + off, req.len - off);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n != -EAGAIN) {
            ret = n < 0 ? (int)n : -ECONNRESET;
            break;
        }
        if (!cl_wait(c, true, deadline)) {
            ret = -ETIMEDOUT;
            break;
        }
    }
    strbuf_deinit(&req);
    if (ret)
        return ret;
    struct strbuf in;
    strbuf_setup(&in);
    for (;;) {
        size_t used;
        if (in.len) {
            int rc = ctl_reply_parse(in.buf, in.len, out, &used);
            if (rc != CTL_EAGAIN) {
                ret = rc;
                break;
            }
        }
        char buf[16384];
        ssize_t n = cl_io(c, false, buf, sizeof(buf));
        if (n > 0) {
            strbuf_append(&in, buf, (size_t)n);
            continue;
        }
        if (n == 0) {
            ret = -ECONNRESET;
            break;
        }
        if (n != -EAGAIN) {
            ret = (int)n;
            break;
        }
        if (!cl_wait(c, false, deadline)) {
            ret = -ETIMEDOUT;
            break;
        }
    }
    strbuf_deinit(&in);
    return ret;
}
