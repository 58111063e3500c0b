/*
 * The TLS session engine (dataplane/tls): two sessions, a server and a client,
 * connected in memory by moving ciphertext between their buffers, with no
 * socket. Certificates come from tests/unit/data/tls.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "tls/tls.h"

#define DATA TEST_DATA_DIR "/tls/"

static void params_init(struct tls_params *p)
{
    memset(p, 0, sizeof(*p));
    p->cert_file = DATA "server.crt";
    p->key_file = DATA "server.key";
    p->key_file_pass = "";
    p->client_cert_file = "";
    p->client_key_file = "";
    p->client_key_file_pass = "";
    p->ca_cert_file = DATA "ca.crt";
    p->ca_cert_dir = "";
    p->dh_params_file = "";
    p->auth_clients = TLS_AUTH_YES;
    p->protocols = "";
    p->ciphers = "";
    p->ciphersuites = "";
    p->session_caching = 1;
    p->session_cache_size = 100;
    p->session_cache_timeout = 300;
}

static struct tls_ctx *ctx_of(const struct tls_params *p)
{
    char err[512] = "";
    struct tls_ctx *ctx = tls_ctx_create(p, err, sizeof(err));
    if (ctx == NULL)
        fail_msg("tls_ctx_create: %s", err);
    return ctx;
}

/* Move up to `max` bytes of ciphertext from a to b (in chunks of at most `step`). */
static size_t pump(struct tls_session *a, struct tls_session *b, size_t step)
{
    size_t moved = 0;
    for (;;) {
        size_t n, room;
        const char *src = tls_out_peek(a, &n);
        char *dst = tls_in_space(b, &room);
        if (n == 0 || room == 0)
            return moved;
        if (n > room)
            n = room;
        if (n > step)
            n = step;
        memcpy(dst, src, n);
        tls_in_commit(b, n);
        tls_out_consume(a, n);
        moved += n;
    }
}

/* Drive both handshakes, `step` bytes at a time. @return 0, or the first failure. */
static int handshake(struct tls_session *srv, struct tls_session *cli, size_t step)
{
    for (int i = 0; i < 100000; i++) {
        int rc = tls_handshake(cli);
        if (rc == TLS_EPROTO)
            return rc;
        pump(cli, srv, step);
        int rs = tls_handshake(srv);
        if (rs == TLS_EPROTO) {
            pump(srv, cli, SIZE_MAX); /* the alert */
            return rs;
        }
        pump(srv, cli, step);
        if (rc == 0 && rs == 0) {
            /* TLS 1.3: the client learns of a refused certificate on its first read */
            char b;
            ssize_t r = tls_read(cli, &b, 1);
            if (r == TLS_EPROTO)
                return (int)r;
            return 0;
        }
    }
    return TLS_EAGAIN;
}

struct pair {
    struct tls_ctx *sctx, *cctx;
    struct tls_session *srv, *cli;
};

static void pair_open(struct pair *p, const struct tls_params *sp, const struct tls_params *cp)
{
    p->sctx = ctx_of(sp);
    p->cctx = cp == sp ? tls_ctx_retain(p->sctx) : ctx_of(cp);
    p->srv = tls_session_create(p->sctx, TLS_ACCEPT);
    p->cli = tls_session_create(p->cctx, TLS_CONNECT);
    assert_non_null(p->srv);
    assert_non_null(p->cli);
}

static void pair_close(struct pair *p)
{
    tls_session_destroy(p->srv);
    tls_session_destroy(p->cli);
    tls_ctx_release(p->sctx);
    tls_ctx_release(p->cctx);
}

/* Write all of buf through `from`, reading it back on `to`. */
static void transfer(struct tls_session *from, struct tls_session *to, const char *buf, size_t len,
                     char *out)
{
    size_t sent = 0, got = 0;
    int idle = 0;
    while (got < len) {
        bool progress = false;
        if (sent < len) {
            ssize_t n = tls_write(from, buf + sent, len - sent);
            assert_true(n > 0 || n == TLS_EAGAIN);
            if (n > 0) {
                sent += (size_t)n;
                progress = true;
            }
        }
        if (pump(from, to, SIZE_MAX) > 0)
            progress = true;
        for (;;) {
            ssize_t n = tls_read(to, out + got, len - got);
            if (n <= 0) {
                assert_int_equal(n, TLS_EAGAIN);
                break;
            }
            got += (size_t)n;
            progress = true;
        }
        idle = progress ? 0 : idle + 1;
        assert_true(idle < 3);
    }
    assert_memory_equal(buf, out, len);
}

static void test_handshake_and_data(void **state)
{
    (void)state;
    struct tls_params p;
    params_init(&p);
    p.client_cert_file = DATA "client.crt";
    p.client_key_file = DATA "client.key";
    struct pair x;
    pair_open(&x, &p, &p);
    assert_false(tls_established(x.srv));
    assert_int_equal(handshake(x.srv, x.cli, SIZE_MAX), 0);
    assert_true(tls_established(x.srv));
    assert_string_equal(tls_version(x.srv), "TLSv1.3");

    /* Both directions, more than the buffers hold, so writes stop and resume. */
    size_t len = 1 << 20;
    char *buf = malloc(len), *out = malloc(len);
    for (size_t i = 0; i < len; i++)
        buf[i] = (char)(i * 131 + 7);
    transfer(x.cli, x.srv, buf, len, out);
    transfer(x.srv, x.cli, buf, len, out);
    free(buf);
    free(out);

    /* close_notify: the other side reads the end of the stream. */
    tls_shutdown(x.cli);
    pump(x.cli, x.srv, SIZE_MAX);
    char b[16];
    assert_int_equal(tls_read(x.srv, b, sizeof(b)), TLS_CLOSED);
    pair_close(&x);
}

/* The handshake and a command, the ciphertext delivered one byte at a time. */
static void test_byte_at_a_time(void **state)
{
    (void)state;
    struct tls_params p;
    params_init(&p);
    p.auth_clients = TLS_AUTH_NO;
    struct pair x;
    pair_open(&x, &p, &p);
    assert_int_equal(handshake(x.srv, x.cli, 1), 0);
    static const char cmd[] = "*1\r\n$4\r\nPING\r\n";
    assert_int_equal(tls_write(x.cli, cmd, sizeof(cmd) - 1), (ssize_t)(sizeof(cmd) - 1));
    char out[64];
    size_t got = 0;
    while (pump(x.cli, x.srv, 1) > 0 || got < sizeof(cmd) - 1) {
        ssize_t n = tls_read(x.srv, out + got, sizeof(out) - got);
        if (n > 0)
            got += (size_t)n;
        else
            assert_int_equal(n, TLS_EAGAIN);
        if (got == sizeof(cmd) - 1)
            break;
    }
    assert_int_equal(got, sizeof(cmd) - 1);
    assert_memory_equal(out, cmd, got);
    pair_close(&x);
}

/* A plain OpenSSL client (what redis-cli is) on its own BIO pair; `net` is its wire end. */
struct raw_client {
    SSL_CTX *ctx;
    SSL *ssl;
    BIO *net;
};

static void raw_open(struct raw_client *rc, int max_version, const char *cert, const char *key,
                     const char *ca)
{
    rc->ctx = SSL_CTX_new(TLS_client_method());
    if (max_version != 0)
        SSL_CTX_set_max_proto_version(rc->ctx, max_version);
    if (cert != NULL) {
        assert_int_equal(SSL_CTX_use_certificate_chain_file(rc->ctx, cert), 1);
        assert_int_equal(SSL_CTX_use_PrivateKey_file(rc->ctx, key, SSL_FILETYPE_PEM), 1);
    }
    if (ca != NULL) {
        assert_int_equal(SSL_CTX_load_verify_locations(rc->ctx, ca, NULL), 1);
        SSL_CTX_set_verify(rc->ctx, SSL_VERIFY_PEER, NULL);
    }
    rc->ssl = SSL_new(rc->ctx);
    BIO *inner;
    assert_true(BIO_new_bio_pair(&inner, 32768, &rc->net, 32768));
    SSL_set_bio(rc->ssl, inner, inner);
    SSL_set_connect_state(rc->ssl);
}

static void raw_close(struct raw_client *rc)
{
    SSL_free(rc->ssl);
    BIO_free(rc->net);
    SSL_CTX_free(rc->ctx);
}

/* Move everything between the raw client's wire end and the session. */
static void raw_pump(struct raw_client *rc, struct tls_session *srv)
{
    char buf[32768];
    int n = BIO_read(rc->net, buf, sizeof(buf));
    if (n > 0) {
        size_t room;
        char *dst = tls_in_space(srv, &room);
        assert_true(room >= (size_t)n);
        memcpy(dst, buf, (size_t)n);
        tls_in_commit(srv, (size_t)n);
    }
    size_t m;
    const char *out;
    while ((out = tls_out_peek(srv, &m)) != NULL) {
        assert_int_equal(BIO_write(rc->net, out, (int)m), (int)m);
        tls_out_consume(srv, m);
    }
}

/*
 * Handshake of a raw client with the server session, then a PING both ways.
 * @return 0 when the server accepted it, else the server's status.
 */
static int raw_handshake(struct raw_client *rc, struct tls_session *srv)
{
    int rs = TLS_EAGAIN;
    for (int i = 0; i < 100; i++) {
        int done = SSL_do_handshake(rc->ssl) == 1;
        raw_pump(rc, srv);
        rs = tls_handshake(srv);
        raw_pump(rc, srv);
        if (rs == TLS_EPROTO)
            return rs;
        if (done && rs == 0)
            break;
    }
    if (rs != 0)
        return rs;
    /* The first data: TLS 1.3 tells a refused client only here. */
    if (SSL_write(rc->ssl, "PING", 4) != 4)
        return TLS_EPROTO;
    raw_pump(rc, srv);
    char b[8];
    ssize_t r = tls_read(srv, b, sizeof(b));
    return r == 4 ? 0 : (int)r;
}

static void test_client_certificates(void **state)
{
    (void)state;
    struct tls_params p;
    params_init(&p);
    static const struct {
        int auth;
        const char *cert, *key;
        bool accepted;
    } cases[] = {
        { TLS_AUTH_YES, NULL, NULL, false }, /* no certificate */
        { TLS_AUTH_YES, DATA "other-client.crt", DATA "other-client.key", false }, /* wrong CA */
        { TLS_AUTH_YES, DATA "client.crt", DATA "client.key", true },
        { TLS_AUTH_OPTIONAL, NULL, NULL, true },
        { TLS_AUTH_OPTIONAL, DATA "other-client.crt", DATA "other-client.key", false },
        { TLS_AUTH_OPTIONAL, DATA "client.crt", DATA "client.key", true },
        { TLS_AUTH_NO, NULL, NULL, true },
        { TLS_AUTH_NO, DATA "other-client.crt", DATA "other-client.key", true },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int version = TLS1_2_VERSION; version <= TLS1_3_VERSION; version++) {
            p.auth_clients = cases[i].auth;
            struct tls_ctx *ctx = ctx_of(&p);
            struct tls_session *srv = tls_session_create(ctx, TLS_ACCEPT);
            struct raw_client rc;
            raw_open(&rc, version, cases[i].cert, cases[i].key, DATA "ca.crt");
            int r = raw_handshake(&rc, srv);
            if (cases[i].accepted) {
                assert_int_equal(r, 0);
            } else {
                assert_int_equal(r, TLS_EPROTO);
                assert_non_null(strstr(tls_error(srv), "certificate"));
            }
            raw_close(&rc);
            tls_session_destroy(srv);
            tls_ctx_release(ctx);
        }
    }
}

/* The replica's side: our client session checks the primary's certificate. */
static void test_client_verifies_server(void **state)
{
    (void)state;
    struct tls_params sp, cp;
    params_init(&sp);
    params_init(&cp);
    cp.client_cert_file = DATA "client.crt";
    cp.client_key_file = DATA "client.key";
    struct pair x;
    pair_open(&x, &sp, &cp);
    assert_int_equal(handshake(x.srv, x.cli, SIZE_MAX), 0);
    pair_close(&x);
    cp.ca_cert_file = DATA "other-ca.crt";
    pair_open(&x, &sp, &cp);
    assert_int_equal(handshake(x.srv, x.cli, SIZE_MAX), TLS_EPROTO);
    assert_non_null(strstr(tls_error(x.cli), "certificate"));
    pair_close(&x);
}

/* Plaintext RESP sent to a TLS port: a protocol error, nothing read. */
static void test_plaintext_refused(void **state)
{
    (void)state;
    struct tls_params p;
    params_init(&p);
    struct tls_ctx *ctx = ctx_of(&p);
    struct tls_session *s = tls_session_create(ctx, TLS_ACCEPT);
    static const char ping[] = "*1\r\n$4\r\nPING\r\n";
    size_t room;
    char *dst = tls_in_space(s, &room);
    assert_true(room >= sizeof(ping));
    memcpy(dst, ping, sizeof(ping) - 1);
    tls_in_commit(s, sizeof(ping) - 1);
    char out[64];
    assert_int_equal(tls_read(s, out, sizeof(out)), TLS_EPROTO);
    assert_true(tls_error(s)[0] != '\0');
    tls_session_destroy(s);
    tls_ctx_release(ctx);
}

/* A TLS 1.2 client asking to renegotiate is refused. */
static void test_renegotiation_refused(void **state)
{
    (void)state;
    struct tls_params p;
    params_init(&p);
    p.auth_clients = TLS_AUTH_NO;
    struct tls_ctx *ctx = ctx_of(&p);
    struct tls_session *srv = tls_session_create(ctx, TLS_ACCEPT);
    struct raw_client rc;
    raw_open(&rc, TLS1_2_VERSION, NULL, NULL, DATA "ca.crt");
    assert_int_equal(raw_handshake(&rc, srv), 0);
    assert_string_equal(tls_version(srv), "TLSv1.2");

    /* The client asks again; the server answers no_renegotiation (or fails the connection). */
    assert_int_equal(SSL_renegotiate(rc.ssl), 1);
    SSL_do_handshake(rc.ssl);
    raw_pump(&rc, srv);
    char out[64];
    ssize_t r = tls_read(srv, out, sizeof(out));
    assert_true(r == TLS_EPROTO || r == TLS_EAGAIN);
    raw_pump(&rc, srv);
    /* Either way the renegotiation never completes. */
    assert_int_not_equal(SSL_do_handshake(rc.ssl), 1);
    assert_int_equal(SSL_renegotiate_pending(rc.ssl), 1);
    raw_close(&rc);
    tls_session_destroy(srv);
    tls_ctx_release(ctx);
}

/* Bad settings: Redis's log lines, no context. */
static void test_ctx_errors(void **state)
{
    (void)state;
    struct tls_params p;
    char err[512];
    params_init(&p);
    p.cert_file = "/nonexistent.crt";
    assert_null(tls_ctx_create(&p, err, sizeof(err)));
    assert_true(strncmp(err, "Failed to load certificate: /nonexistent.crt: ", 46) == 0);

    params_init(&p);
    p.key_file = DATA "client.key"; /* not the certificate's key */
    assert_null(tls_ctx_create(&p, err, sizeof(err)));
    assert_true(strncmp(err, "Failed to load private key: ", 28) == 0);

    params_init(&p);
    p.protocols = "TLSv1.2 SSLv3";
    assert_null(tls_ctx_create(&p, err, sizeof(err)));
    assert_string_equal(err, "Invalid tls-protocols specified. Use a combination of 'TLSv1', "
                             "'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'.");

    params_init(&p);
    p.ca_cert_file = "";
    assert_null(tls_ctx_create(&p, err, sizeof(err)));
    assert_non_null(strstr(err, "tls-ca-cert-file or tls-ca-cert-dir must be specified"));

    params_init(&p);
    p.ciphers = "NO-SUCH-CIPHER";
    assert_null(tls_ctx_create(&p, err, sizeof(err)));
    assert_true(strncmp(err, "Failed to configure ciphers: ", 29) == 0);

    params_init(&p);
    p.protocols = "TLSv1.3";
    struct tls_ctx *ctx = tls_ctx_create(&p, err, sizeof(err));
    assert_non_null(ctx);
    tls_ctx_release(ctx);
}

/* Every allocation OpenSSL makes goes through these (installed before its first one). */
static unsigned long openssl_allocs;
static long openssl_live; /* blocks allocated and not yet freed */

static void *count_malloc(size_t n, const char *file, int line)
{
    (void)file;
    (void)line;
    openssl_allocs++;
    openssl_live++;
    return malloc(n);
}

static void *count_realloc(void *p, size_t n, const char *file, int line)
{
    (void)file;
    (void)line;
    openssl_allocs++;
    if (p == NULL)
        openssl_live++;
    return realloc(p, n);
}

static void count_free(void *p, const char *file, int line)
{
    (void)file;
    (void)line;
    if (p != NULL)
        openssl_live--;
    free(p);
}

/*
 * After the handshake and a first exchange, requests and replies add no memory: the
 * session's buffers are reused, and what allocates at all is OpenSSL 3.0's record writer
 * (WPACKET, a few small blocks per record, freed before SSL_write returns), a constant per
 * record whatever its size, so a pipelined batch of replies shares it.
 */
static void test_no_allocation_per_request(void **state)
{
    (void)state;
    struct tls_params p;
    params_init(&p);
    p.auth_clients = TLS_AUTH_NO;
    struct pair x;
    pair_open(&x, &p, &p);
    assert_int_equal(handshake(x.srv, x.cli, SIZE_MAX), 0);
    static const char req[] = "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n";
    char rep[4096], out[4096];
    memset(rep, 'v', sizeof(rep));
    unsigned long allocs = 0;
    long live = 0;
    for (int i = 0; i < 1010; i++) {
        if (i == 10) {
            allocs = openssl_allocs;
            live = openssl_live;
        }
        transfer(x.cli, x.srv, req, sizeof(req) - 1, out);
        /* replies of 1 to 4096 bytes: the count must not depend on the size */
        transfer(x.srv, x.cli, rep, 1 + (size_t)(i * 997) % sizeof(rep), out);
    }
    assert_int_equal(openssl_live, live);
    /* 2000 records were written */
    assert_true(openssl_allocs - allocs <= 4 * 2000);
    pair_close(&x);
}

int main(void)
{
    CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_and_data),
        cmocka_unit_test(test_byte_at_a_time),
        cmocka_unit_test(test_client_certificates),
        cmocka_unit_test(test_client_verifies_server),
        cmocka_unit_test(test_plaintext_refused),
        cmocka_unit_test(test_renegotiation_refused),
        cmocka_unit_test(test_ctx_errors),
        cmocka_unit_test(test_no_allocation_per_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
