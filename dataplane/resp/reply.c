#include "resp/reply.h"

#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "base/util.h"

void reply_init(struct reply *r, uint8_t proto)
{
    r->head = r->tail = NULL;
    r->bytes = 0;
    r->proto = proto;
    r->errors = 0;
    r->err_code[0] = '\0';
    r->on_grow = NULL;
}

struct rblock *rblock_create(size_t cap)
{
    /* Header and payload in one allocation; use all of the size class. */
    size_t total = mem_size_class(sizeof(struct rblock) + cap);
    struct rblock *b = mem_traffic_alloc(total);
    b->next = NULL;
    b->len = 0;
    b->start = 0;
    b->cap = (uint32_t)(total - sizeof(struct rblock));
    b->kind = RBLOCK_HEAP;
    b->owner = NULL;
    b->data = (char *)(b + 1);
    return b;
}

void rblock_destroy(struct rblock *b)
{
    if (b != NULL && b->kind == RBLOCK_HEAP)
        mem_traffic_free(b);
}

void reply_deinit(struct reply *r)
{
    struct rblock *b = r->head;
    while (b != NULL) {
        struct rblock *next = b->next;
        b->next = NULL;
        rblock_destroy(b);
        b = next;
    }
    r->head = r->tail = NULL;
    r->bytes = 0;
}

void reply_append_block(struct reply *r, struct rblock *b)
{
    if (r->tail == NULL)
        r->head = b;
    else
        r->tail->next = b;
    for (;;) {
        r->bytes += b->len - b->start;
        if (b->next == NULL)
            break;
        b = b->next;
    }
    r->tail = b;
}

/*
 * Payload of the block that follows tail t. A block after a hole starts small
 * and the next ones double up to the standard size: in a pipeline whose
 * replies alternate between this shard and others, every local reply follows
 * a hole, and a standard block each time would hold megabytes for a few bytes
 * apiece until the holes fill (memory that counts against maxmemory).
 */
static size_t block_cap(const struct rblock *t, size_t n)
{
    size_t cap = RBLOCK_SIZE;
    if (t != NULL && t->kind == RBLOCK_HOLE)
        cap = RBLOCK_MIN;
    else if (t != NULL && t->kind == RBLOCK_HEAP && t->cap < RBLOCK_SIZE / 2)
        cap = 2 * (size_t)t->cap;
    return n > cap ? n : cap;
}

char *reply_reserve(struct reply *r, size_t n)
{
    struct rblock *t = r->tail;
    if (t != NULL && t->kind != RBLOCK_HOLE && t->cap - t->len >= n)
        return t->data + t->len;
    if (r->on_grow != NULL)
        r->on_grow(r);
    struct rblock *b = rblock_create(block_cap(t, n));
    reply_append_block(r, b);
    return b->data;
}

void reply_commit(struct reply *r, size_t n)
{
    r->tail->len += (uint32_t)n;
    r->bytes += n;
}

void reply_raw(struct reply *r, const void *p, size_t n)
{
    const char *s = p;
    struct rblock *t = r->tail;
    /* Fill the tail block first, then spill into one new block. */
    if (t != NULL && t->kind != RBLOCK_HOLE) {
        size_t room = t->cap - t->len;
        size_t k = n < room ? n : room;
        memcpy(t->data + t->len, s, k);
        t->len += (uint32_t)k;
        r->bytes += k;
        s += k;
        n -= k;
    }
    if (n == 0)
        return;
    char *dst = reply_reserve(r, n);
    memcpy(dst, s, n);
    reply_commit(r, n);
}

/* Write "<c><v>\r\n". */
static void reply_prefix_ll(struct reply *r, char c, long long v)
{
    char *p = reply_reserve(r, 24);
    p[0] = c;
    size_t n = 1 + util_ll2str(p + 1, v);
    p[n++] = '\r';
    p[n++] = '\n';
    reply_commit(r, n);
}

void reply_ok(struct reply *r)
{
    reply_raw(r, "+OK\r\n", 5);
}

void reply_status_len(struct reply *r, const char *s, size_t n)
{
    char *p = reply_reserve(r, n + 3);
    p[0] = '+';
    memcpy(p + 1, s, n);
    p[n + 1] = '\r';
    p[n + 2] = '\n';
    reply_commit(r, n + 3);
}

void reply_status(struct reply *r, const char *s)
{
    reply_status_len(r, s, strlen(s));
}

void reply_error(struct reply *r, const char *msg)
{
    size_t n = strlen(msg);
    char *p = reply_reserve(r, n + 3);
    p[0] = '-';
    for (size_t i = 0; i < n; i++)
        p[i + 1] = (msg[i] == '\r' || msg[i] == '\n') ? ' ' : msg[i];
    p[n + 1] = '\r';
    p[n + 2] = '\n';
    reply_commit(r, n + 3);
    r->errors++;
    size_t code = 0;
    while (code < n && code < sizeof(r->err_code) - 1 && msg[code] != ' ')
        code++;
    memcpy(r->err_code, msg, code);
    r->err_code[code] = '\0';
}

/*
 * Like Redis's addReplyErrorFormat(): CR and LF at either end of the formatted
 * text are dropped (a user argument ending in "\r\n" must not leave "  " at
 * the end of the error), the ones inside become spaces in reply_error().
 */
void reply_errorf(struct reply *r, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    size_t end = (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1;
    size_t start = 0;
    while (start < end && (buf[start] == '\r' || buf[start] == '\n'))
        start++;
    while (end > start && (buf[end - 1] == '\r' || buf[end - 1] == '\n'))
        end--;
    buf[end] = '\0';
    reply_error(r, buf + start);
}

void reply_int(struct reply *r, long long v)
{
    reply_prefix_ll(r, ':', v);
}

void reply_bulk(struct reply *r, const void *data, size_t n)
{
    if (n <= 4096) {
        char *p = reply_reserve(r, n + 32);
        size_t h = 1;
        p[0] = '$';
        h += util_ull2str(p + 1, n);
        p[h++] = '\r';
        p[h++] = '\n';
        memcpy(p + h, data, n);
        p[h + n] = '\r';
        p[h + n + 1] = '\n';
        reply_commit(r, h + n + 2);
        return;
    }
    reply_prefix_ll(r, '$', (long long)n);
    reply_raw(r, data, n);
    reply_raw(r, "\r\n", 2);
}

void reply_bulk_cstr(struct reply *r, const char *s)
{
    reply_bulk(r, s, strlen(s));
}

void reply_bulk_ll(struct reply *r, long long v)
{
    char buf[24];
    size_t n = util_ll2str(buf, v);
    reply_bulk(r, buf, n);
}

void reply_null(struct reply *r)
{
    if (r->proto >= 3)
        reply_raw(r, "_\r\n", 3);
    else
        reply_raw(r, "$-1\r\n", 5);
}

void reply_null_array(struct reply *r)
{
    if (r->proto >= 3)
        reply_raw(r, "_\r\n", 3);
    else
        reply_raw(r, "*-1\r\n", 5);
}

void reply_array(struct reply *r, long long n)
{
    reply_prefix_ll(r, '*', n);
}

void reply_empty_array(struct reply *r)
{
    reply_raw(r, "*0\r\n", 4);
}

void reply_map(struct reply *r, long long n)
{
    if (r->proto >= 3)
        reply_prefix_ll(r, '%', n);
    else
        reply_prefix_ll(r, '*', n * 2);
}

void reply_set(struct reply *r, long long n)
{
    reply_prefix_ll(r, r->proto >= 3 ? '~' : '*', n);
}

void reply_push(struct reply *r, long long n)
{
    reply_prefix_ll(r, r->proto >= 3 ? '>' : '*', n);
}

void reply_double(struct reply *r, double d)
{
    char buf[64];
    size_t n = util_d2str(buf, sizeof(buf), d);
    if (r->proto >= 3) {
        char *p = reply_reserve(r, n + 3);
        p[0] = ',';
        memcpy(p + 1, buf, n);
        p[n + 1] = '\r';
        p[n + 2] = '\n';
        reply_commit(r, n + 3);
    } else {
        reply_bulk(r, buf, n);
    }
}

void reply_bool(struct reply *r, bool b)
{
    if (r->proto >= 3)
        reply_raw(r, b ? "#t\r\n" : "#f\r\n", 4);
    else
        reply_raw(r, b ? ":1\r\n" : ":0\r\n", 4);
}

void reply_verbatim(struct reply *r, const char *p, size_t n, const char *fmt3)
{
    if (r->proto < 3) {
        reply_bulk(r, p, n);
        return;
    }
    reply_prefix_ll(r, '=', (long long)n + 4);
    reply_raw(r, fmt3, 3);
    reply_raw(r, ":", 1);
    reply_raw(r, p, n);
    reply_raw(r, "\r\n", 2);
}

struct rblock *reply_defer(struct reply *r)
{
    struct rblock *b = rblock_create(32);
    reply_append_block(r, b);
    b->cap = 0; /* nothing else may be written here; reply_defer_set fills it */
    return b;
}

void reply_defer_set(struct reply *r, struct rblock *b, enum reply_agg type, long long n)
{
    char c = '*';
    if (type == REPLY_AGG_MAP) {
        if (r->proto >= 3)
            c = '%';
        else
            n *= 2;
    } else if (type == REPLY_AGG_SET && r->proto >= 3) {
        c = '~';
    }
    b->data[0] = c;
    size_t len = 1 + util_ll2str(b->data + 1, n);
    b->data[len++] = '\r';
    b->data[len++] = '\n';
    b->len = (uint32_t)len;
    b->cap = (uint32_t)len; /* sealed: a later write must not land after the header */
    r->bytes += len;
}
