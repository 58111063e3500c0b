#include "control/tls_socket.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "base/mem.h"

struct ctl_tls_ctx {
    SSL_CTX *ctx;
};

struct ctl_tls_conn {
    SSL *ssl;
    bool want_write;
    char err[256];
};

/* OpenSSL's first queued error (or `fallback`) after `what`; the queue is emptied. */
static void openssl_error(char *err, size_t errlen, const char *what, const char *fallback)
{
    unsigned long e = ERR_get_error();
    char text[200];
    if (e != 0)
        ERR_error_string_n(e, text, sizeof(text));
    snprintf(err, errlen, "%s: %s", what, e != 0 ? text : fallback);
    ERR_clear_error();
}

struct ctl_tls_ctx *ctl_tls_ctx_create(const struct ctl_tls_config *c, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(c->server ? TLS_server_method() : TLS_client_method());
    if (ctx == NULL) {
        openssl_error(err, errlen, "cannot create a TLS context", "out of memory");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* The output buffer may move between a write that wanted more and its retry. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (c->server && (c->cert_file == NULL || c->key_file == NULL)) {
        snprintf(err, errlen, "a TLS server needs a certificate and its key");
        goto bad;
    }
    if (c->cert_file && SSL_CTX_use_certificate_chain_file(ctx, c->cert_file) != 1) {
        openssl_error(err, errlen, c->cert_file, "cannot load the certificate");
        goto bad;
    }
    if (c->key_file && (SSL_CTX_use_PrivateKey_file(ctx, c->key_file, SSL_FILETYPE_PEM) != 1 ||
                        SSL_CTX_check_private_key(ctx) != 1)) {
        openssl_error(err, errlen, c->key_file, "the key does not match the certificate");
        goto bad;
    }
    if (c->ca_file ? SSL_CTX_load_verify_locations(ctx, c->ca_file, NULL) != 1
                   : !c->server && SSL_CTX_set_default_verify_paths(ctx) != 1) {
        openssl_error(err, errlen, c->ca_file ? c->ca_file : "the system's CAs",
                      "cannot load the CA certificates");
        goto bad;
    }
    if (c->server && c->verify_clients && c->ca_file == NULL) {
        snprintf(err, errlen, "verifying client certificates needs a CA file");
        goto bad;
    }
    if (!c->server)
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    else if (c->verify_clients)
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    struct ctl_tls_ctx *t = mem_calloc(sizeof(*t));
    t->ctx = ctx;
    return t;
bad:
    SSL_CTX_free(ctx);
    return NULL;
}

void ctl_tls_ctx_destroy(struct ctl_tls_ctx *ctx)
{
    if (ctx == NULL)
        return;
    SSL_CTX_free(ctx->ctx);
    mem_free(ctx);
}

struct ctl_tls_conn *ctl_tls_conn_create(struct ctl_tls_ctx *ctx, int fd, const char *peer)
{
    SSL *ssl = SSL_new(ctx->ctx);
    if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) {
        SSL_free(ssl);
        ERR_clear_error();
        return NULL;
    }
    if (SSL_is_server(ssl)) {
        SSL_set_accept_state(ssl);
    } else {
        SSL_set_connect_state(ssl);
        unsigned char ip[16];
        bool is_ip =
            peer && (inet_pton(AF_INET, peer, ip) == 1 || inet_pton(AF_INET6, peer, ip) == 1);
        if (is_ip) {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), peer);
        } else if (peer) {
            SSL_set_tlsext_host_name(ssl, peer);
            SSL_set1_host(ssl, peer);
        }
    }
    struct ctl_tls_conn *t = mem_calloc(sizeof(*t));
    t->ssl = ssl;
    return t;
}

void ctl_tls_conn_destroy(struct ctl_tls_conn *t)
{
    if (t == NULL)
        return;
    SSL_free(t->ssl);
    mem_free(t);
}

/* The outcome of an SSL_read or SSL_write that returned n <= 0. */
static ssize_t outcome(struct ctl_tls_conn *t, int n)
{
    int e = SSL_get_error(t->ssl, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        t->want_write = e == SSL_ERROR_WANT_WRITE;
        return -EAGAIN;
    }
    if (e == SSL_ERROR_ZERO_RETURN)
        return 0;
    if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
        if (errno == EAGAIN || errno == EINTR) {
            t->want_write = false;
            return -EAGAIN;
        }
        snprintf(t->err, sizeof(t->err), "connection closed during TLS");
        return n == 0 ? 0 : -ECONNRESET;
    }
    long v = SSL_get_verify_result(t->ssl);
    if (v != X509_V_OK)
        snprintf(t->err, sizeof(t->err), "certificate verification failed: %s",
                 X509_verify_cert_error_string(v));
    else
        openssl_error(t->err, sizeof(t->err), "TLS error", "protocol error");
    ERR_clear_error();
    return -ECONNRESET;
}

int ctl_tls_handshake(struct ctl_tls_conn *t)
{
    ERR_clear_error();
    int n = SSL_do_handshake(t->ssl);
    if (n == 1)
        return 0;
    ssize_t rc = outcome(t, n);
    return rc == 0 ? -ECONNRESET : (int)rc;
}

ssize_t ctl_tls_read(struct ctl_tls_conn *t, void *buf, size_t len)
{
    ERR_clear_error();
    int n = SSL_read(t->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
    if (n > 0) {
        t->want_write = false;
        return n;
    }
    return outcome(t, n);
}

ssize_t ctl_tls_write(struct ctl_tls_conn *t, const void *buf, size_t len)
{
    ERR_clear_error();
    int n = SSL_write(t->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
    if (n > 0) {
        t->want_write = false;
        return n;
    }
    return outcome(t, n);
}

bool ctl_tls_want_write(const struct ctl_tls_conn *t)
{
    return t->want_write;
}

size_t ctl_tls_pending(const struct ctl_tls_conn *t)
{
    return (size_t)SSL_pending(t->ssl);
}

const char *ctl_tls_error(const struct ctl_tls_conn *t)
{
    return t->err;
}
