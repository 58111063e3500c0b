/* reply_parse.c - RESP2/RESP3 and memcached text reply parsers; see reply_parse.h. */
#include "bench/loadgen/reply_parse.h"

#include <string.h>

void srv_reply_parser_init(struct srv_reply_parser *p, bool memcache)
{
    memset(p, 0, sizeof(*p));
    p->memcache = memcache;
}

/* Find "\r\n" in buf[from..len); return the index of '\r' or -1. */
static long find_crlf(const char *buf, size_t from, size_t len)
{
    const char *s = buf + from;
    size_t n = len - from;
    while (n >= 2) {
        const char *cr = memchr(s, '\r', n - 1);
        if (cr == NULL)
            return -1;
        if (cr[1] == '\n')
            return cr - buf;
        n -= (size_t)(cr - s) + 1;
        s = cr + 1;
    }
    return -1;
}

/* Parse a signed decimal in [s, e); return false when malformed. */
static bool parse_i64(const char *s, const char *e, int64_t *v)
{
    bool neg = false;
    int64_t x = 0;
    if (s < e && *s == '-') {
        neg = true;
        s++;
    }
    if (s == e)
        return false;
    for (; s < e; s++) {
        if (*s < '0' || *s > '9' || x > (INT64_MAX - 9) / 10)
            return false;
        x = x * 10 + (*s - '0');
    }
    *v = neg ? -x : x;
    return true;
}

/*
 * Account one finished element (or a finished aggregate) against the open aggregates.
 * Returns true when this completes the top-level reply.
 */
static bool resp_finish(struct srv_reply_parser *p, bool was_attr)
{
    for (;;) {
        if (p->depth == 0)
            return !was_attr;
        if (was_attr)
            return false; /* an attribute precedes the element it annotates */
        int d = p->depth - 1;
        if (--p->left[d] > 0)
            return false;
        was_attr = p->attr[d];
        p->depth--;
    }
}

static int resp_parse(struct srv_reply_parser *p, const char *buf, size_t len, size_t *consumed,
                      struct srv_reply *out)
{
    size_t pos = 0;
    p->need = 0;
    while (pos < len) {
        long cr = find_crlf(buf, pos, len);
        if (cr < 0) {
            p->need = len - pos + 1;
            break;
        }
        char t = buf[pos];
        const char *arg = buf + pos + 1, *end = buf + cr;
        size_t line_end = (size_t)cr + 2;
        bool top = p->depth == 0;
        if (top && !p->have_top) {
            memset(&p->cur, 0, sizeof(p->cur));
        }
        int64_t n = 0;
        bool done;
        switch (t) {
        case '+':
        case '-':
        case ':':
        case ',':
        case '#':
        case '(':
        case '_':
            if (top && !p->have_top) {
                p->cur.type = t;
                p->cur.is_error = t == '-';
                p->cur.is_nil = t == '_';
                p->cur.str = arg;
                p->cur.len = (size_t)(end - arg);
                p->have_top = true;
            }
            pos = line_end;
            done = resp_finish(p, false);
            break;
        case '$':
        case '!':
        case '=': {
            if (!parse_i64(arg, end, &n) || n < -1)
                return *consumed = pos, SRV_REPLY_ERROR;
            size_t total = line_end;
            if (n >= 0) {
                total += (size_t)n + 2;
                if (total > len) {
                    p->need = total - pos;
                    goto again;
                }
                if (buf[total - 2] != '\r' || buf[total - 1] != '\n')
                    return *consumed = pos, SRV_REPLY_ERROR;
            }
            if (top && !p->have_top) {
                p->cur.type = t;
                p->cur.is_error = t == '!';
                p->cur.is_nil = n < 0;
                p->cur.str = n >= 0 ? buf + line_end : NULL;
                p->cur.len = n >= 0 ? (size_t)n : 0;
                p->have_top = true;
            }
            pos = total;
            done = resp_finish(p, false);
            break;
        }
        case '*':
        case '~':
        case '%':
        case '>':
        case '|': {
            if (!parse_i64(arg, end, &n) || n < -1)
                return *consumed = pos, SRV_REPLY_ERROR;
            bool is_attr = t == '|';
            if (top && !p->have_top && !is_attr) {
                p->cur.type = t;
                p->cur.is_nil = n < 0;
                p->cur.is_push = t == '>';
                p->have_top = true;
            }
            pos = line_end;
            if (t == '%' || t == '|')
                n *= 2;
            if (n <= 0) {
                done = resp_finish(p, is_attr);
                break;
            }
            if (p->depth == SRV_REPLY_MAX_DEPTH)
                return *consumed = pos, SRV_REPLY_ERROR;
            p->left[p->depth] = n;
            p->attr[p->depth] = is_attr;
            p->depth++;
            done = false;
            break;
        }
        default:
            return *consumed = pos, SRV_REPLY_ERROR;
        }
        if (done) {
            *out = p->cur;
            p->have_top = false;
            *consumed = pos;
            return SRV_REPLY_DONE;
        }
    }
again:
    *consumed = pos;
    return SRV_REPLY_AGAIN;
}

static bool line_is(const char *s, const char *e, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(e - s) >= n && memcmp(s, word, n) == 0 && ((size_t)(e - s) == n || s[n] == ' ');
}

/*
 * memcached replies are parsed atomically: nothing is consumed until a whole reply (for a
 * retrieval, every VALUE block and the final END) is buffered.
 */
static int mc_parse(struct srv_reply_parser *p, const char *buf, size_t len, size_t *consumed,
                    struct srv_reply *out)
{
    size_t pos = 0;
    struct srv_reply r = { .type = 'M' };
    bool in_values = false;
    *consumed = 0;
    p->need = 0;
    for (;;) {
        long cr = find_crlf(buf, pos, len);
        if (cr < 0) {
            p->need = len + 1;
            return SRV_REPLY_AGAIN;
        }
        const char *s = buf + pos, *e = buf + cr;
        size_t next = (size_t)cr + 2;
        if (line_is(s, e, "VALUE")) {
            /* VALUE <key> <flags> <bytes> [<cas>] */
            const char *f = s + 6;
            int field = 0;
            int64_t bytes = -1;
            while (f < e) {
                const char *fe = memchr(f, ' ', (size_t)(e - f));
                if (fe == NULL)
                    fe = e;
                if (field == 2 && !parse_i64(f, fe, &bytes))
                    return SRV_REPLY_ERROR;
                field++;
                f = fe + 1;
            }
            if (bytes < 0)
                return SRV_REPLY_ERROR;
            size_t total = next + (size_t)bytes + 2;
            if (total > len) {
                p->need = total + 5;
                return SRV_REPLY_AGAIN;
            }
            if (buf[total - 2] != '\r' || buf[total - 1] != '\n')
                return SRV_REPLY_ERROR;
            if (!in_values) {
                r.str = buf + next;
                r.len = (size_t)bytes;
            }
            in_values = true;
            pos = total;
            continue;
        }
        if (line_is(s, e, "END")) {
            r.is_nil = !in_values;
        } else if (in_values) {
            return SRV_REPLY_ERROR;
        } else if (line_is(s, e, "ERROR") || line_is(s, e, "CLIENT_ERROR") ||
                   line_is(s, e, "SERVER_ERROR")) {
            r.is_error = true;
            r.str = s;
            r.len = (size_t)(e - s);
        } else {
            /* STORED, NOT_STORED, EXISTS, NOT_FOUND, DELETED, TOUCHED, OK, numbers, ... */
            r.str = s;
            r.len = (size_t)(e - s);
        }
        *consumed = next;
        *out = r;
        return SRV_REPLY_DONE;
    }
}

int srv_reply_parse(struct srv_reply_parser *p, const char *buf, size_t len, size_t *consumed,
                    struct srv_reply *out)
{
    if (p->memcache)
        return mc_parse(p, buf, len, consumed, out);
    return resp_parse(p, buf, len, consumed, out);
}
