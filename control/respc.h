/*
 * The client side of RESP: encode commands, parse replies (RESP2 and RESP3) into a tree.
 * pollux-control uses it towards its nodes, polluxctl towards pollux-control. The request
 * parser of dataplane/resp parses commands, not replies, so this is its small mirror.
 */
#ifndef POLLUX_CTL_RESPC_H
#define POLLUX_CTL_RESPC_H

#include <stdbool.h>
#include <stddef.h>

#include "base/strbuf.h"

enum ctl_rtype {
    CTL_R_STATUS, /* +text */
    CTL_R_ERROR,  /* -text or !len (RESP3 blob error) */
    CTL_R_INT,    /* :n */
    CTL_R_BULK,   /* $len, =len (verbatim, the 4-byte format prefix removed), (bignum text */
    CTL_R_NIL,    /* $-1, *-1, _ */
    CTL_R_ARRAY,  /* *n */
    CTL_R_MAP,    /* %n: elem holds 2n entries, key then value */
    CTL_R_SET,    /* ~n */
    CTL_R_PUSH,   /* >n */
    CTL_R_BOOL,   /* #t / #f in integer */
    CTL_R_DOUBLE, /* ,text (str holds the text) */
};

struct ctl_reply {
    enum ctl_rtype type;
    long long integer;
    char *str; /* NUL-terminated copy for STATUS, ERROR, BULK, DOUBLE */
    size_t len;
    size_t n; /* elements in elem */
    struct ctl_reply **elem;
};

#define CTL_REPLY_MAX_DEPTH 32
#define CTL_EAGAIN          1

/*
 * Parse one reply from buf[0..len).
 * @return 0 with *out (free with ctl_reply_free) and *used (bytes consumed); CTL_EAGAIN when
 *         the reply is not complete yet (nothing consumed); -EPROTO on malformed input or
 *         nesting deeper than CTL_REPLY_MAX_DEPTH.
 */
int ctl_reply_parse(const char *buf, size_t len, struct ctl_reply **out, size_t *used);
void ctl_reply_free(struct ctl_reply *r);

/* For maps (and RESP2 flat key/value arrays): the value under `key`, or NULL. */
const struct ctl_reply *ctl_reply_get(const struct ctl_reply *r, const char *key);
/* Whether r is a STATUS or BULK equal to s. */
bool ctl_reply_is(const struct ctl_reply *r, const char *s);

/* Append a command as a RESP multibulk; lens may be NULL for NUL-terminated argv. */
void ctl_cmd_append(struct strbuf *out, int argc, const char *const *argv, const size_t *lens);

struct ctl_tls_ctx;
struct ctl_tls_conn;

/* Blocking client for polluxctl and tools, over TCP or TLS. */
struct ctl_client {
    int fd;
    struct ctl_tls_conn *tls; /* NULL: plain TCP */
    char err[256];            /* why connecting failed, when TLS says more than errno */
};

/*
 * Connect to host:port within timeout_ms; with tls (a client context), also complete the
 * TLS handshake, verifying that the server's certificate names `host`.
 * @return 0; -errno (-EPROTO: the TLS handshake failed, c->err says why).
 */
int ctl_client_connect(struct ctl_client *c, const char *host, int port, int timeout_ms,
                       struct ctl_tls_ctx *tls);
void ctl_client_close(struct ctl_client *c);
/*
 * Send a command and wait for its reply.
 * @return 0 with *out; -ETIMEDOUT, -ECONNRESET (closed), -EPROTO, or another -errno.
 */
int ctl_client_call(struct ctl_client *c, int argc, const char *const *argv, int timeout_ms,
                    struct ctl_reply **out);

#endif
