/*
 * RESP request parser (dataplane/resp/parse.c), multibulk and inline.
 *
 * Input: one flags byte, then the bytes a client sends. Flags bit 0: the client
 * is not authenticated yet (the tighter limits); bits 1..7: the seed of the
 * chunk sizes.
 *
 * The bytes go through a simulated connection twice: once in a single read,
 * once in reads of 1..64 bytes. The connection keeps its pending bytes in a
 * heap buffer of exactly their size, moved on every read, so a read past the
 * end or a pointer kept across calls is an ASan error. Each run writes a
 * transcript (every command in canonical multibulk form, the error that ends
 * the connection); the two transcripts must be equal. A "need more bytes"
 * answer must ask for more than is there. The single-read run also checks
 * resp_peek against resp_parse: a command peek accepts is one
 * that parse returns with the same length and arguments.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/fuzz/fuzz.h"
#include "resp/parse.h"

#define MAX_BULK (512LL * 1024 * 1024)

struct conn {
    struct resp_parser p;
    char *buf; /* pending bytes, exactly len of them */
    size_t len;
    bool closed;
    bool peek; /* check resp_peek before every parse */
    struct fz_buf out;
};

static void conn_init(struct conn *c, bool auth, bool peek)
{
    memset(c, 0, sizeof(*c));
    resp_parser_init(&c->p, MAX_BULK);
    c->p.auth_required = auth;
    c->peek = peek;
}

static void conn_deinit(struct conn *c)
{
    resp_parser_deinit(&c->p);
    free(c->buf);
    fz_free(&c->out);
}

/* Replace the pending bytes by a fresh allocation of a + b. */
static void conn_rebuf(struct conn *c, const char *a, size_t an, const char *b, size_t bn)
{
    char *nb = malloc(an + bn ? an + bn : 1);
    FZ_CHECK(nb != NULL);
    if (an)
        memcpy(nb, a, an);
    if (bn)
        memcpy(nb + an, b, bn);
    free(c->buf);
    c->buf = nb;
    c->len = an + bn;
}

static void record_cmd(struct conn *c)
{
    fz_fmt_u(&c->out, '*', (unsigned long long)c->p.argc);
    for (int i = 0; i < c->p.argc; i++) {
        const struct resp_arg *a = &c->p.argv[i];
        fz_fmt_u(&c->out, '$', a->len);
        fz_add(&c->out, a->ptr, a->len);
        fz_add(&c->out, "\n", 1);
    }
}

static void conn_read(struct conn *c, const char *data, size_t n)
{
    if (c->closed)
        return;
    conn_rebuf(c, c->buf, c->len, data, n);
    for (;;) {
        struct resp_arg pk[2];
        int pk_argc = 0;
        size_t pk_len = 0;
        struct fz_buf pk_copy = { 0 };
        if (c->peek) {
            pk_len = resp_peek(c->buf, c->len, pk, &pk_argc);
            FZ_CHECK(pk_len <= c->len);
            for (int i = 0; pk_len && i < pk_argc && i < 2; i++) {
                FZ_CHECK(pk[i].ptr >= c->buf && pk[i].ptr + pk[i].len <= c->buf + pk_len);
                fz_add(&pk_copy, pk[i].ptr, pk[i].len);
            }
        }
        size_t used = 0;
        int rc = resp_parse(&c->p, c->buf, c->len, &used);
        FZ_CHECK(used <= c->len);
        if (rc == RESP_OK) {
            FZ_CHECK(c->p.argc > 0);
            for (int i = 0; i < c->p.argc; i++)
                FZ_CHECK(c->p.argv[i].ptr >= c->buf &&
                         c->p.argv[i].ptr + c->p.argv[i].len <= c->buf + used);
            if (pk_len) {
                FZ_CHECK(used == pk_len && c->p.argc == pk_argc);
                size_t off = 0;
                for (int i = 0; i < pk_argc && i < 2; i++) {
                    FZ_CHECK(c->p.argv[i].len == pk[i].len &&
                             memcmp(c->p.argv[i].ptr, pk_copy.p + off, pk[i].len) == 0);
                    off += pk[i].len;
                }
            }
            record_cmd(c);
        } else if (pk_len) {
            /* peek promised a complete command; only the pre-AUTH limits may refuse it */
            FZ_CHECK(c->p.auth_required && rc == RESP_EPROTO);
        }
        fz_free(&pk_copy);
        if (rc == RESP_EPROTO) {
            FZ_CHECK(c->p.err != NULL && c->p.err[0] != '\0');
            fz_add(&c->out, "-", 1);
            fz_add(&c->out, c->p.err, strlen(c->p.err));
            fz_add(&c->out, "\n", 1);
            c->closed = true;
            return;
        }
        FZ_CHECK(rc == RESP_OK || rc == RESP_EAGAIN);
        /* need counts from the command start (after the skipped empty commands) and
         * must ask for more than is there */
        if (rc == RESP_EAGAIN)
            FZ_CHECK(c->p.need == 0 || c->p.need > c->len - used);
        conn_rebuf(c, c->buf + used, c->len - used, NULL, 0);
        if (rc == RESP_EAGAIN)
            return;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool auth = data[0] & 1;
    uint32_t seed = data[0] >> 1;
    const char *in = (const char *)data + 1;
    size_t n = size - 1;

    struct conn whole, split;
    conn_init(&whole, auth, true);
    conn_read(&whole, in, n);

    conn_init(&split, auth, false);
    for (size_t off = 0; off < n;) {
        size_t k = 1 + fz_next(&seed) % 64;
        if (k > n - off)
            k = n - off;
        conn_read(&split, in + off, k);
        off += k;
    }

    FZ_CHECK(whole.closed == split.closed);
    FZ_CHECK(whole.out.len == split.out.len);
    FZ_CHECK(whole.out.len == 0 || memcmp(whole.out.p, split.out.p, whole.out.len) == 0);
    if (!whole.closed)
        FZ_CHECK(whole.len == split.len);
    conn_deinit(&whole);
    conn_deinit(&split);
    return 0;
}
