/*
 * TLS contexts and sessions over OpenSSL (see tls.h and NOTES.md).
 *
 * A session's SSL object talks to one end of a BIO pair; the connection layer
 * holds the other end and moves ciphertext between it and the socket with
 * BIO_nread/BIO_nwrite, which hand out pointers into the pair's ring buffers:
 * no copy besides the socket's own, and no allocation after the first use.
 * Writes are sized so that a record always fits in the outgoing buffer, so
 * SSL_write does not stop half way in the common case; when it does, the same
 * bytes are offered again (the connection's output stays queued until taken).
 */
#include "tls/tls.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "base/mem.h"

const char *const tls_auth_clients_names[] = { "no", "yes", "optional", NULL };

#define PARAM_S tls_params
const struct param_def tls_param_defs[] = { TLS_PARAMS(PARAM_X_DEF) PARAM_DEFS_END };
#undef PARAM_S

/* Each direction of a session's BIO pair: one full record and its framing. */
#define TLS_BIO_SIZE 17408
/* A record's framing and padding at most (TLS 1.2 CBC with SHA-384: header, IV, MAC, padding). */
#define TLS_RECORD_OVERHEAD 512
/* Plaintext per record. */
#define TLS_RECORD_MAX 16384

struct tls_ctx {
    atomic_int refs;
    SSL_CTX *server; /* NULL without tls-cert-file */
    SSL_CTX *client;
};

struct tls_session {
    SSL *ssl;
    BIO *net; /* our end of the pair; the SSL object owns the other */
    struct tls_ctx *ctx;
    size_t retry_len; /* an SSL_write that stopped half way: offer this many bytes again */
    char err[160];
};

bool tls_param_affects_ctx(const char *name)
{
    return strncasecmp(name, "tls-", 4) == 0 && strcasecmp(name, "tls-port") != 0;
}

/* OpenSSL's last queued error as "error:...:reason", or `fallback`. */
static void openssl_error(char *buf, size_t cap, const char *fallback)
{
    unsigned long e = ERR_peek_error();
    if (e != 0)
        ERR_error_string_n(e, buf, cap);
    else
        snprintf(buf, cap, "%s", fallback);
    ERR_clear_error();
}

static int passwd_cb(char *buf, int size, int rwflag, void *u)
{
    (void)rwflag;
    const char *pass = u;
    if (pass == NULL || size <= 0)
        return 0;
    size_t n = strlen(pass);
    if (n > (size_t)size)
        n = (size_t)size;
    memcpy(buf, pass, n);
    return (int)n;
}

/* tls-protocols as Redis reads it. @return 0 with [min, max], or -1. */
static int parse_protocols(const char *v, int *min, int *max)
{
    static const struct {
        const char *name;
        int version;
    } names[] = { { "tlsv1", TLS1_VERSION },
                  { "tlsv1.1", TLS1_1_VERSION },
                  { "tlsv1.2", TLS1_2_VERSION },
                  { "tlsv1.3", TLS1_3_VERSION } };
    *min = TLS1_2_VERSION;
    *max = TLS1_3_VERSION;
    if (v == NULL || v[0] == '\0')
        return 0;
    int lo = 0, hi = 0;
    char copy[256];
    snprintf(copy, sizeof(copy), "%s", v);
    char *save = NULL;
    for (char *w = strtok_r(copy, " ", &save); w != NULL; w = strtok_r(NULL, " ", &save)) {
        int ver = 0;
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
            if (strcasecmp(w, names[i].name) == 0)
                ver = names[i].version;
        if (ver == 0)
            return -1;
        if (lo == 0 || ver < lo)
            lo = ver;
        if (ver > hi)
            hi = ver;
    }
    if (lo == 0)
        return -1;
    *min = lo;
    *max = hi;
    return 0;
}

/* What both sides share: protocols, ciphers, CA, renegotiation refused. @return 0 or -1. */
static int ctx_common(SSL_CTX *ctx, const struct tls_params *p, char *err, size_t errcap)
{
    int min, max;
    if (parse_protocols(p->protocols, &min, &max) != 0) {
        snprintf(err, errcap,
                 "Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', "
                 "'TLSv1.2' and 'TLSv1.3'.");
        return -1;
    }
    SSL_CTX_set_min_proto_version(ctx, min);
    SSL_CTX_set_max_proto_version(ctx, max);
    /* Renegotiation (TLS 1.2) is refused either way: a peer asking for it gets an alert. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (p->prefer_server_ciphers)
        SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    char why[256];
    if (p->ciphers[0] != '\0' && !SSL_CTX_set_cipher_list(ctx, p->ciphers)) {
        openssl_error(why, sizeof(why), "no cipher matched");
        snprintf(err, errcap, "Failed to configure ciphers: %s", why);
        return -1;
    }
    if (p->ciphersuites[0] != '\0' && !SSL_CTX_set_ciphersuites(ctx, p->ciphersuites)) {
        openssl_error(why, sizeof(why), "no ciphersuite matched");
        snprintf(err, errcap, "Failed to configure ciphersuites: %s", why);
        return -1;
    }
    if ((p->ca_cert_file[0] != '\0' || p->ca_cert_dir[0] != '\0') &&
        SSL_CTX_load_verify_locations(ctx, p->ca_cert_file[0] ? p->ca_cert_file : NULL,
                                      p->ca_cert_dir[0] ? p->ca_cert_dir : NULL) <= 0) {
        openssl_error(why, sizeof(why), "unknown error");
        snprintf(err, errcap, "Failed to configure CA certificate(s) file/directory: %s", why);
        return -1;
    }
    return 0;
}

/* A certificate chain and its key. @return 0 or -1 with Redis's message. */
static int ctx_identity(SSL_CTX *ctx, const char *cert, const char *key, const char *pass,
                        char *err, size_t errcap)
{
    char why[256];
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) <= 0) {
        openssl_error(why, sizeof(why), "unknown error");
        snprintf(err, errcap, "Failed to load certificate: %s: %s", cert, why);
        return -1;
    }
    SSL_CTX_set_default_passwd_cb(ctx, passwd_cb);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, (void *)pass);
    int rc = SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
    if (rc <= 0) {
        openssl_error(why, sizeof(why), "unknown error");
        snprintf(err, errcap, "Failed to load private key: %s: %s", key, why);
        return -1;
    }
    if (!SSL_CTX_check_private_key(ctx)) {
        openssl_error(why, sizeof(why), "key does not match certificate");
        snprintf(err, errcap, "Failed to load private key: %s: %s", key, why);
        return -1;
    }
    return 0;
}

static int ctx_dh(SSL_CTX *ctx, const char *file, char *err, size_t errcap)
{
    if (file[0] == '\0') {
        SSL_CTX_set_dh_auto(ctx, 1);
        return 0;
    }
    char why[256];
    BIO *bio = BIO_new_file(file, "r");
    EVP_PKEY *dh = bio != NULL ? PEM_read_bio_Parameters(bio, NULL) : NULL;
    BIO_free(bio);
    if (dh == NULL || !SSL_CTX_set0_tmp_dh_pkey(ctx, dh)) {
        EVP_PKEY_free(dh);
        openssl_error(why, sizeof(why), "unknown error");
        snprintf(err, errcap, "Failed to load %s: %s", file, why);
        return -1;
    }
    return 0;
}

static SSL_CTX *server_ctx(const struct tls_params *p, char *err, size_t errcap)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        openssl_error(err, errcap, "SSL_CTX_new failed");
        return NULL;
    }
    if (ctx_common(ctx, p, err, errcap) != 0 ||
        ctx_identity(ctx, p->cert_file, p->key_file, p->key_file_pass, err, errcap) != 0 ||
        ctx_dh(ctx, p->dh_params_file, err, errcap) != 0) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    static const unsigned char sid_ctx[] = "pollux";
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
    if (p->session_caching) {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
        SSL_CTX_sess_set_cache_size(ctx, p->session_cache_size);
        SSL_CTX_set_timeout(ctx, (long)p->session_cache_timeout);
    } else {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    }
    int mode = SSL_VERIFY_NONE;
    if (p->auth_clients == TLS_AUTH_YES)
        mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    else if (p->auth_clients == TLS_AUTH_OPTIONAL)
        mode = SSL_VERIFY_PEER;
    SSL_CTX_set_verify(ctx, mode, NULL);
    return ctx;
}

static SSL_CTX *client_ctx(const struct tls_params *p, char *err, size_t errcap)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        openssl_error(err, errcap, "SSL_CTX_new failed");
        return NULL;
    }
    const char *cert = p->client_cert_file[0] ? p->client_cert_file : p->cert_file;
    const char *key = p->client_cert_file[0] ? p->client_key_file : p->key_file;
    const char *pass = p->client_cert_file[0] ? p->client_key_file_pass : p->key_file_pass;
    if (ctx_common(ctx, p, err, errcap) != 0 ||
        (cert[0] != '\0' && ctx_identity(ctx, cert, key, pass, err, errcap) != 0)) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    return ctx;
}

struct tls_ctx *tls_ctx_create(const struct tls_params *p, char *err, size_t errcap)
{
    if (p->cert_file[0] == '\0') {
        snprintf(err, errcap, "No tls-cert-file configured!");
        return NULL;
    }
    if (p->key_file[0] == '\0') {
        snprintf(err, errcap, "No tls-key-file configured!");
        return NULL;
    }
    if ((p->auth_clients != TLS_AUTH_NO || p->cluster || p->replication) &&
        p->ca_cert_file[0] == '\0' && p->ca_cert_dir[0] == '\0') {
        snprintf(err, errcap,
                 "Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, "
                 "tls-replication or tls-auth-clients are enabled!");
        return NULL;
    }
    ERR_clear_error();
    struct tls_ctx *c = mem_calloc(sizeof(*c));
    atomic_init(&c->refs, 1);
    c->server = server_ctx(p, err, errcap);
    if (c->server != NULL)
        c->client = client_ctx(p, err, errcap);
    if (c->server == NULL || c->client == NULL) {
        tls_ctx_release(c);
        return NULL;
    }
    return c;
}

struct tls_ctx *tls_ctx_retain(struct tls_ctx *ctx)
{
    if (ctx != NULL)
        atomic_fetch_add(&ctx->refs, 1);
    return ctx;
}

void tls_ctx_release(struct tls_ctx *ctx)
{
    if (ctx == NULL || atomic_fetch_sub(&ctx->refs, 1) != 1)
        return;
    SSL_CTX_free(ctx->server);
    SSL_CTX_free(ctx->client);
    mem_free(ctx);
}

struct tls_session *tls_session_create(struct tls_ctx *ctx, enum tls_role role)
{
    SSL_CTX *sctx = role == TLS_ACCEPT ? ctx->server : ctx->client;
    SSL *ssl = sctx != NULL ? SSL_new(sctx) : NULL;
    BIO *inner = NULL, *net = NULL;
    if (ssl == NULL || !BIO_new_bio_pair(&inner, TLS_BIO_SIZE, &net, TLS_BIO_SIZE)) {
        SSL_free(ssl);
        return NULL;
    }
    SSL_set_bio(ssl, inner, inner);
    if (role == TLS_ACCEPT)
        SSL_set_accept_state(ssl);
    else
        SSL_set_connect_state(ssl);
    struct tls_session *s = mem_calloc(sizeof(*s));
    s->ssl = ssl;
    s->net = net;
    s->ctx = tls_ctx_retain(ctx);
    return s;
}

void tls_session_destroy(struct tls_session *s)
{
    if (s == NULL)
        return;
    SSL_free(s->ssl); /* frees its end of the pair */
    BIO_free(s->net);
    tls_ctx_release(s->ctx);
    mem_free(s);
}

char *tls_in_space(struct tls_session *s, size_t *len)
{
    char *p = NULL;
    int n = BIO_nwrite0(s->net, &p);
    *len = n > 0 ? (size_t)n : 0;
    return n > 0 ? p : NULL;
}

void tls_in_commit(struct tls_session *s, size_t n)
{
    char *p;
    if (n > 0)
        BIO_nwrite(s->net, &p, (int)n);
}

const char *tls_out_peek(struct tls_session *s, size_t *len)
{
    char *p = NULL;
    int n = BIO_nread0(s->net, &p);
    *len = n > 0 ? (size_t)n : 0;
    return n > 0 ? p : NULL;
}

void tls_out_consume(struct tls_session *s, size_t n)
{
    char *p;
    if (n > 0)
        BIO_nread(s->net, &p, (int)n);
}

size_t tls_out_pending(const struct tls_session *s)
{
    return BIO_ctrl_pending(s->net);
}

/* Why an SSL call failed: a status code, with the reason kept for tls_error. */
static int failed(struct tls_session *s, int rc)
{
    int e = SSL_get_error(s->ssl, rc);
    switch (e) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        return TLS_EAGAIN;
    case SSL_ERROR_ZERO_RETURN:
        return TLS_CLOSED;
    default: {
        long vr = SSL_get_verify_result(s->ssl);
        if (vr != X509_V_OK)
            snprintf(s->err, sizeof(s->err), "certificate verification failed: %s",
                     X509_verify_cert_error_string(vr));
        else
            openssl_error(s->err, sizeof(s->err), "protocol error");
        ERR_clear_error();
        return TLS_EPROTO;
    }
    }
}

int tls_handshake(struct tls_session *s)
{
    if (SSL_is_init_finished(s->ssl))
        return 0;
    ERR_clear_error();
    int rc = SSL_do_handshake(s->ssl);
    if (rc == 1)
        return 0;
    return failed(s, rc);
}

bool tls_established(const struct tls_session *s)
{
    return SSL_is_init_finished(s->ssl);
}

ssize_t tls_read(struct tls_session *s, void *buf, size_t len)
{
    ERR_clear_error();
    int n = SSL_read(s->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
    if (n > 0)
        return n;
    return failed(s, n);
}

ssize_t tls_write(struct tls_session *s, const void *buf, size_t len)
{
    if (!SSL_is_init_finished(s->ssl)) {
        int rc = tls_handshake(s);
        if (rc != 0)
            return rc;
    }
    size_t chunk = s->retry_len;
    if (chunk == 0) {
        size_t room = BIO_ctrl_get_write_guarantee(SSL_get_wbio(s->ssl));
        if (room <= TLS_RECORD_OVERHEAD)
            return TLS_EAGAIN;
        chunk = room - TLS_RECORD_OVERHEAD;
        if (chunk > TLS_RECORD_MAX)
            chunk = TLS_RECORD_MAX;
    }
    if (chunk > len)
        chunk = len;
    if (chunk == 0)
        return 0;
    ERR_clear_error();
    int n = SSL_write(s->ssl, buf, (int)chunk);
    if (n > 0) {
        s->retry_len = 0;
        return n;
    }
    int rc = failed(s, n);
    if (rc == TLS_EAGAIN)
        s->retry_len = chunk;
    return rc == TLS_CLOSED ? TLS_EPROTO : rc;
}

void tls_shutdown(struct tls_session *s)
{
    if (!SSL_is_init_finished(s->ssl))
        return;
    ERR_clear_error();
    SSL_shutdown(s->ssl);
    ERR_clear_error();
}

const char *tls_error(const struct tls_session *s)
{
    return s->err;
}

const char *tls_version(const struct tls_session *s)
{
    return SSL_is_init_finished(s->ssl) ? SSL_get_version(s->ssl) : "";
}
