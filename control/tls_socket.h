/*
 * TLS for pollux-control's kernel sockets: the API and Sentinel port (server side) and
 * polluxctl (client side), with OpenSSL.
 *
 * A context holds the certificates, the CA and the protocol versions, set up in one
 * function (ctl_tls_ctx_create) so that it can be shared with the node's TLS later. A
 * connection wraps one non-blocking socket; reads and writes return like recv/send with
 * the errno folded in: a byte count, 0 when the peer closed, -EAGAIN when OpenSSL needs
 * the socket to be readable or writable (ctl_tls_want_write says which), or another
 * negative errno when the connection failed (ctl_tls_error says why). The handshake runs
 * inside the first reads and writes.
 */
#ifndef POLLUX_CTL_TLS_H
#define POLLUX_CTL_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct ctl_tls_ctx;
struct ctl_tls_conn;

struct ctl_tls_config {
    bool server;
    const char *cert_file; /* PEM certificate chain; required for a server */
    const char *key_file;  /* PEM private key of cert_file */
    /* PEM CA certificates: a client verifies the server with them (the system's CAs when
     * NULL); a server with verify_clients requires client certificates signed by them. */
    const char *ca_file;
    bool verify_clients;
};

/*
 * A context: TLS 1.2 or later, the files loaded and checked (the key matches the
 * certificate), peers verified as the config says.
 * @return the context, or NULL with the reason in err.
 */
struct ctl_tls_ctx *ctl_tls_ctx_create(const struct ctl_tls_config *c, char *err, size_t errlen);
void ctl_tls_ctx_destroy(struct ctl_tls_ctx *ctx);

/*
 * A connection over the connected socket fd (not owned). A client verifies that the server's
 * certificate names `peer` (a host name or an IP address; NULL: not checked).
 * @return the connection, or NULL when OpenSSL cannot allocate one.
 */
struct ctl_tls_conn *ctl_tls_conn_create(struct ctl_tls_ctx *ctx, int fd, const char *peer);
void ctl_tls_conn_destroy(struct ctl_tls_conn *t);

/* Complete the handshake now (a client does, to report a refused certificate at connect).
 * @return 0; -EAGAIN; -ECONNRESET (ctl_tls_error). */
int ctl_tls_handshake(struct ctl_tls_conn *t);
/* @return bytes read (> 0), 0 closed by the peer, -EAGAIN, -ECONNRESET (ctl_tls_error). */
ssize_t ctl_tls_read(struct ctl_tls_conn *t, void *buf, size_t len);
/* @return bytes written (> 0), -EAGAIN, -ECONNRESET (ctl_tls_error). len must be > 0. */
ssize_t ctl_tls_write(struct ctl_tls_conn *t, const void *buf, size_t len);
/* After -EAGAIN: whether OpenSSL waits for the socket to be writable (else readable). */
bool ctl_tls_want_write(const struct ctl_tls_conn *t);
/* Decrypted bytes held inside OpenSSL that a read returns without touching the socket. */
size_t ctl_tls_pending(const struct ctl_tls_conn *t);
/* Why the connection failed ("" when it did not). */
const char *ctl_tls_error(const struct ctl_tls_conn *t);

#endif
