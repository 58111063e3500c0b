/*
 * Reply writer round trip (dataplane/resp/reply.c).
 *
 * Input: one byte (bit 0: RESP3, else RESP2), then RESP requests. Each request
 * the parser returns becomes replies: the first byte of its name picks the
 * reply function, its arguments are the payloads (so strings with CR, LF, NUL
 * and any length reach the writer). Every reply written also goes to a list of
 * what the client must read back. The chain is then flattened and decoded by a
 * RESP2/RESP3 reader written here, independently of the writer, and every
 * value must come back as it was written: same types and counts, bulk payloads
 * byte for byte, no CR or LF inside a simple string or error, no byte left
 * over. The chain's accounting (r->bytes, r->errors, r->err_code) is checked
 * too.
 */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/fuzz/fuzz.h"
#include "resp/parse.h"
#include "resp/reply.h"

enum ex_kind { EX_AGG, EX_BULK, EX_LINE, EX_DOUBLE };

/* One value the client must read back. */
struct ex {
    enum ex_kind kind;
    char type;   /* the RESP type byte expected */
    long long n; /* EX_AGG: count; EX_BULK: -1 for the null bulk */
    size_t off;  /* EX_BULK, EX_LINE: text in the arena */
    size_t len;
    double d; /* EX_DOUBLE */
};

struct model {
    struct reply r;
    struct fz_buf arena;
    struct ex *ex;
    size_t nex, capex;
    uint32_t errors;
    char err_code[24];
};

static struct ex *push(struct model *m, enum ex_kind kind, char type)
{
    if (m->nex == m->capex) {
        m->capex = m->capex ? m->capex * 2 : 64;
        m->ex = realloc(m->ex, m->capex * sizeof(*m->ex));
        FZ_CHECK(m->ex != NULL);
    }
    struct ex *e = &m->ex[m->nex++];
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    e->type = type;
    return e;
}

static void push_text(struct model *m, enum ex_kind kind, char type, const void *p, size_t n)
{
    struct ex *e = push(m, kind, type);
    e->off = m->arena.len;
    e->len = n;
    fz_add(&m->arena, p, n);
}

static void push_agg(struct model *m, char type, long long n)
{
    push(m, EX_AGG, type)->n = n;
}

static bool p3(const struct model *m)
{
    return m->r.proto >= 3;
}

/* A NUL-terminated copy of an argument (the C-string functions take one). */
static char *cstr(const struct resp_arg *a)
{
    char *s = malloc(a->len + 1);
    FZ_CHECK(s != NULL);
    memcpy(s, a->ptr, a->len);
    s[a->len] = '\0';
    return s;
}

static long long arg_ll(const struct resp_arg *a)
{
    char *s = cstr(a);
    long long v = strtoll(s, NULL, 10);
    free(s);
    return v;
}

static void w_bulk(struct model *m, const struct resp_arg *a)
{
    reply_bulk(&m->r, a->ptr, a->len);
    push_text(m, EX_BULK, '$', a->ptr, a->len);
}

/* What the client reads for an error reply of msg (CR/LF become spaces). */
static void expect_error(struct model *m, const char *msg)
{
    size_t n = strlen(msg);
    struct ex *e = push(m, EX_LINE, '-');
    e->off = m->arena.len;
    e->len = n;
    fz_add(&m->arena, "", 0); /* the arena exists even if every text is empty */
    for (size_t i = 0; i < n; i++) {
        char c = (msg[i] == '\r' || msg[i] == '\n') ? ' ' : msg[i];
        fz_add(&m->arena, &c, 1);
    }
    m->errors++;
    size_t code = 0;
    while (code < n && code < sizeof(m->err_code) - 1 && msg[code] != ' ')
        code++;
    memcpy(m->err_code, msg, code);
    m->err_code[code] = '\0';
}

static void w_ll(struct model *m, char type, long long v, bool bulk)
{
    char t[32];
    int n = snprintf(t, sizeof(t), "%lld", v);
    if (bulk)
        reply_bulk_ll(&m->r, v);
    else
        reply_int(&m->r, v);
    push_text(m, bulk ? EX_BULK : EX_LINE, type, t, (size_t)n);
}

/* The replies for one request. */
static void write_replies(struct model *m, int argc, const struct resp_arg *argv)
{
    const struct resp_arg *a = argv + 1;
    int n = argc - 1;
    unsigned op = argv[0].len ? (uint8_t)argv[0].ptr[0] : 0;
    switch (op % 14) {
    case 0: /* an array of the arguments */
        reply_array(&m->r, n);
        push_agg(m, '*', n);
        for (int i = 0; i < n; i++)
            w_bulk(m, &a[i]);
        break;
    case 1: /* each argument as an error */
        for (int i = 0; i < n; i++) {
            char *s = cstr(&a[i]);
            reply_error(&m->r, s);
            expect_error(m, s);
            free(s);
        }
        break;
    case 2: /* each argument as a status, when it can be one */
        for (int i = 0; i < n; i++) {
            if (memchr(a[i].ptr, '\r', a[i].len) || memchr(a[i].ptr, '\n', a[i].len))
                continue; /* the caller's contract: a status has neither */
            reply_status_len(&m->r, a[i].ptr, a[i].len);
            push_text(m, EX_LINE, '+', a[i].ptr, a[i].len);
        }
        break;
    case 3:
        for (int i = 0; i < n; i++)
            w_ll(m, ':', arg_ll(&a[i]), false);
        break;
    case 4:
        for (int i = 0; i < n; i++)
            w_ll(m, '$', arg_ll(&a[i]), true);
        break;
    case 5:
        for (int i = 0; i < n; i++) {
            char *s = cstr(&a[i]);
            double d = strtod(s, NULL);
            free(s);
            reply_double(&m->r, d);
            push(m, EX_DOUBLE, p3(m) ? ',' : '$')->d = d;
        }
        break;
    case 6:
        reply_null(&m->r);
        if (p3(m))
            push(m, EX_AGG, '_');
        else
            push(m, EX_BULK, '$')->n = -1;
        reply_null_array(&m->r);
        if (p3(m))
            push(m, EX_AGG, '_');
        else
            push_agg(m, '*', -1);
        reply_empty_array(&m->r);
        push_agg(m, '*', 0);
        reply_ok(&m->r);
        push_text(m, EX_LINE, '+', "OK", 2);
        break;
    case 7:
        for (int i = 0; i < n; i++) {
            bool b = a[i].len & 1;
            reply_bool(&m->r, b);
            push_text(m, EX_LINE, p3(m) ? '#' : ':', p3(m) ? (b ? "t" : "f") : (b ? "1" : "0"), 1);
        }
        break;
    case 8: /* deferred aggregates: array, map (pairs) and set */
    case 9:
    case 10: {
        enum reply_agg t = op % 14 == 8   ? REPLY_AGG_ARRAY
                           : op % 14 == 9 ? REPLY_AGG_MAP
                                          : REPLY_AGG_SET;
        struct rblock *h = reply_defer(&m->r);
        size_t at = m->nex;
        push_agg(m, '*', 0); /* filled below */
        int k = t == REPLY_AGG_MAP ? n / 2 * 2 : n;
        for (int i = 0; i < k; i++)
            w_bulk(m, &a[i]);
        /* a write after the deferred header is filled must not land inside it */
        reply_defer_set(&m->r, h, t, t == REPLY_AGG_MAP ? k / 2 : k);
        struct ex *e = &m->ex[at];
        e->n = k;
        if (t == REPLY_AGG_MAP && p3(m)) {
            e->type = '%';
            e->n = k / 2;
        } else if (t == REPLY_AGG_SET && p3(m)) {
            e->type = '~';
        }
        break;
    }
    case 11: /* map, set and push headers written up front */
        reply_map(&m->r, n / 2);
        push_agg(m, p3(m) ? '%' : '*', p3(m) ? n / 2 : n / 2 * 2);
        for (int i = 0; i < n / 2 * 2; i++)
            w_bulk(m, &a[i]);
        reply_set(&m->r, n);
        push_agg(m, p3(m) ? '~' : '*', n);
        for (int i = 0; i < n; i++)
            w_bulk(m, &a[i]);
        reply_push(&m->r, n);
        push_agg(m, p3(m) ? '>' : '*', n);
        for (int i = 0; i < n; i++)
            w_bulk(m, &a[i]);
        break;
    case 12: /* verbatim */
        for (int i = 0; i < n; i++) {
            reply_verbatim(&m->r, a[i].ptr, a[i].len, "txt");
            if (p3(m)) {
                struct ex *e = push(m, EX_BULK, '=');
                e->off = m->arena.len;
                e->len = a[i].len + 4;
                fz_add(&m->arena, "txt:", 4);
                fz_add(&m->arena, a[i].ptr, a[i].len);
            } else {
                push_text(m, EX_BULK, '$', a[i].ptr, a[i].len);
            }
        }
        break;
    default: { /* big payloads across block boundaries: argument i repeated 97 * len(name)
                * times, at most 256 KiB (so one input cannot exhaust memory) */
        for (int i = 0; i < n; i++) {
            size_t rep = argv[0].len * 97;
            if (rep * a[i].len > (256u << 10))
                rep = (256u << 10) / (a[i].len + 1);
            struct fz_buf big = { 0 };
            fz_add(&big, "", 0); /* never NULL, even when empty */
            for (size_t j = 0; j < rep; j++)
                fz_add(&big, a[i].ptr, a[i].len);
            reply_bulk(&m->r, big.p, big.len);
            push_text(m, EX_BULK, '$', big.p, big.len);
            fz_free(&big);
        }
        char *s = cstr(&argv[0]);
        reply_errorf(&m->r, "ERR unknown command '%.128s'", s);
        char t[160];
        snprintf(t, sizeof(t), "ERR unknown command '%.128s'", s);
        expect_error(m, t);
        free(s);
        break;
    }
    }
}

/* ---- the reader ---- */

struct rd {
    const char *p;
    size_t len, pos;
};

/* The line at pos (without CRLF); false when there is none. */
static bool rd_line(struct rd *r, const char **s, size_t *n)
{
    const char *start = r->p + r->pos;
    size_t left = r->len - r->pos;
    const char *cr = memchr(start, '\r', left);
    FZ_CHECK(cr != NULL && (size_t)(cr - start) + 1 < left && cr[1] == '\n');
    *s = start;
    *n = (size_t)(cr - start);
    FZ_CHECK(memchr(start, '\n', *n) == NULL);
    r->pos += *n + 2;
    return true;
}

static long long parse_ll(const char *s, size_t n)
{
    char t[32];
    FZ_CHECK(n > 0 && n < sizeof(t));
    memcpy(t, s, n);
    t[n] = '\0';
    char *end;
    long long v = strtoll(t, &end, 10);
    FZ_CHECK(*end == '\0');
    return v;
}

static void check_one(struct model *m, struct rd *r, const struct ex *e)
{
    FZ_CHECK(r->pos < r->len);
    char type = r->p[r->pos++];
    FZ_CHECK(type == e->type);
    const char *s;
    size_t n;
    rd_line(r, &s, &n);
    switch (e->kind) {
    case EX_AGG:
        if (type == '_')
            FZ_CHECK(n == 0);
        else
            FZ_CHECK(parse_ll(s, n) == e->n);
        break;
    case EX_LINE:
        FZ_CHECK(n == e->len && memcmp(s, m->arena.p + e->off, n) == 0);
        break;
    case EX_BULK: {
        long long bl = parse_ll(s, n);
        if (e->n == -1) {
            FZ_CHECK(bl == -1);
            break;
        }
        FZ_CHECK(bl >= 0 && (size_t)bl == e->len);
        FZ_CHECK(r->len - r->pos >= e->len + 2);
        FZ_CHECK(memcmp(r->p + r->pos, m->arena.p + e->off, e->len) == 0);
        r->pos += e->len;
        FZ_CHECK(r->p[r->pos] == '\r' && r->p[r->pos + 1] == '\n');
        r->pos += 2;
        break;
    }
    case EX_DOUBLE: {
        if (type == '$') { /* RESP2: the text is the bulk's payload */
            long long bl = parse_ll(s, n);
            FZ_CHECK(bl > 0 && r->len - r->pos >= (size_t)bl + 2);
            s = r->p + r->pos;
            n = (size_t)bl;
            r->pos += n + 2;
        }
        char t[64];
        FZ_CHECK(n > 0 && n < sizeof(t));
        memcpy(t, s, n);
        t[n] = '\0';
        char *end;
        double d = strtod(t, &end);
        FZ_CHECK(*end == '\0');
        FZ_CHECK((isnan(d) && isnan(e->d)) || d == e->d);
        break;
    }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    struct model m = { 0 };
    reply_init(&m.r, (data[0] & 1) ? 3 : 2);
    char *buf = malloc(size);
    FZ_CHECK(buf != NULL);
    memcpy(buf, data + 1, size - 1);
    size_t len = size - 1, off = 0;

    struct resp_parser p;
    resp_parser_init(&p, 1 << 20);
    for (;;) {
        size_t used;
        int rc = resp_parse(&p, buf + off, len - off, &used);
        if (rc != RESP_OK)
            break;
        write_replies(&m, p.argc, p.argv);
        off += used;
    }
    resp_parser_deinit(&p);
    free(buf);

    /* flatten the chain, checking its accounting */
    struct fz_buf flat = { 0 };
    for (struct rblock *b = m.r.head; b != NULL; b = b->next) {
        FZ_CHECK(b->start <= b->len && b->len <= b->cap);
        fz_add(&flat, b->data + b->start, b->len - b->start);
        FZ_CHECK(b->next != NULL || b == m.r.tail);
    }
    FZ_CHECK(flat.len == m.r.bytes);
    FZ_CHECK(m.r.errors == m.errors);
    if (m.errors)
        FZ_CHECK(strcmp(m.r.err_code, m.err_code) == 0);

    struct rd r = { flat.p, flat.len, 0 };
    for (size_t i = 0; i < m.nex; i++)
        check_one(&m, &r, &m.ex[i]);
    FZ_CHECK(r.pos == r.len);

    fz_free(&flat);
    fz_free(&m.arena);
    free(m.ex);
    reply_deinit(&m.r);
    return 0;
}
