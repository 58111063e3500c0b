/*
 * TLS: the only module that calls OpenSSL.
 *
 * A context (struct tls_ctx) is built from the tls-* parameters: the server
 * side (what clients of the TLS port meet) and the client side (what a replica
 * presents to its primary with tls-replication). It is reference counted so
 * that CONFIG SET can build a new one while connections opened earlier keep
 * theirs.
 *
 * A session (struct tls_session) is one connection's TLS state, driven
 * entirely through a pair of memory BIOs: the connection layer feeds the
 * ciphertext it received (tls_in_space/tls_in_commit), reads plaintext
 * (tls_read), writes plaintext (tls_write) and sends the ciphertext the
 * session produced (tls_out_peek/tls_out_consume). The session never touches
 * a socket, so the kernel backend and the userspace TCP/IP stack share it,
 * and a unit test can connect two sessions in memory.
 *
 * Costs: a session allocates its SSL object and two fixed BIO buffers once,
 * at creation; reading and writing make no system call and keep no memory
 * (OpenSSL 3.0's record writer allocates and frees a few small blocks per
 * record, whatever its size).
 */
#ifndef POLLUX_TLS_H
#define POLLUX_TLS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/param.h"

extern const char *const tls_auth_clients_names[];
enum tls_auth_clients { TLS_AUTH_NO = 0, TLS_AUTH_YES, TLS_AUTH_OPTIONAL };

/* clang-format off */
#define TLS_PARAMS(X)                                                                              \
    X(port, "tls-port", INT, 0, 0, 65535, 0, NULL)                                                 \
    X(cert_file, "tls-cert-file", STRING, "", 0, 0, PARAM_MUTABLE, NULL)                           \
    X(key_file, "tls-key-file", STRING, "", 0, 0, PARAM_MUTABLE, NULL)                             \
    X(key_file_pass, "tls-key-file-pass", STRING, "", 0, 0, PARAM_MUTABLE | PARAM_SENSITIVE, NULL) \
    X(client_cert_file, "tls-client-cert-file", STRING, "", 0, 0, PARAM_MUTABLE, NULL)             \
    X(client_key_file, "tls-client-key-file", STRING, "", 0, 0, PARAM_MUTABLE, NULL)               \
    X(client_key_file_pass, "tls-client-key-file-pass", STRING, "", 0, 0,                          \
      PARAM_MUTABLE | PARAM_SENSITIVE, NULL)                                                       \
    X(ca_cert_file, "tls-ca-cert-file", STRING, "", 0, 0, PARAM_MUTABLE, NULL)                     \
    X(ca_cert_dir, "tls-ca-cert-dir", STRING, "", 0, 0, PARAM_MUTABLE, NULL)                       \
    X(dh_params_file, "tls-dh-params-file", STRING, "", 0, 0, PARAM_MUTABLE, NULL)                 \
    X(auth_clients, "tls-auth-clients", ENUM, TLS_AUTH_YES, 0, 0, PARAM_MUTABLE,                   \
      tls_auth_clients_names)                                                                      \
    X(replication, "tls-replication", BOOL, 0, 0, 1, PARAM_MUTABLE, NULL)                          \
    X(cluster, "tls-cluster", BOOL, 0, 0, 1, PARAM_MUTABLE, NULL)                                  \
    X(protocols, "tls-protocols", STRING, "", 0, 0, PARAM_MUTABLE, NULL)                           \
    X(ciphers, "tls-ciphers", STRING, "", 0, 0, PARAM_MUTABLE, NULL)                               \
    X(ciphersuites, "tls-ciphersuites", STRING, "", 0, 0, PARAM_MUTABLE, NULL)                     \
    X(prefer_server_ciphers, "tls-prefer-server-ciphers", BOOL, 0, 0, 1, PARAM_MUTABLE, NULL)      \
    X(session_caching, "tls-session-caching", BOOL, 1, 0, 1, PARAM_MUTABLE, NULL)                  \
    X(session_cache_size, "tls-session-cache-size", INT, 20480, 0, INT_MAX, PARAM_MUTABLE, NULL)   \
    X(session_cache_timeout, "tls-session-cache-timeout", INT, 300, 0, INT_MAX, PARAM_MUTABLE,     \
      NULL)                                                                                        \
    X(handshake_timeout, "pollux-tls-handshake-timeout", INT, 10, 1, 3600, PARAM_MUTABLE, NULL)
/* clang-format on */

PARAM_STRUCT(tls_params, TLS_PARAMS);
extern const struct param_def tls_param_defs[];

/* Whether a parameter name is one that tls_ctx_create reads (CONFIG SET rebuilds on it). */
bool tls_param_affects_ctx(const char *name);

struct tls_ctx;
struct tls_session;

/*
 * Build a context from p: the server side when p has a certificate and key,
 * the client side from tls-client-cert-file/-key-file (or the server's pair),
 * both verifying peers against tls-ca-cert-file/-dir.
 * @return the context (one reference), or NULL with Redis's log line in err.
 */
struct tls_ctx *tls_ctx_create(const struct tls_params *p, char *err, size_t errcap);
/* Another reference to ctx (NULL stays NULL); any thread. */
struct tls_ctx *tls_ctx_retain(struct tls_ctx *ctx);
/* Drop a reference; the last one frees the context. NULL is a no-op. */
void tls_ctx_release(struct tls_ctx *ctx);

enum tls_role { TLS_ACCEPT, TLS_CONNECT };

/* Status codes of the session calls (plus byte counts >= 0). */
#define TLS_EAGAIN (-1) /* needs more ciphertext from the peer (or room to send) */
#define TLS_CLOSED (-2) /* the peer sent close_notify */
#define TLS_EPROTO (-3) /* a TLS error (not TLS, bad certificate, renegotiation...): close */

/*
 * A session on ctx (which it keeps a reference to) for one connection.
 * @return the session, or NULL when out of memory.
 */
struct tls_session *tls_session_create(struct tls_ctx *ctx, enum tls_role role);
void tls_session_destroy(struct tls_session *s);

/*
 * Ciphertext in: room for what the peer sent. @return a pointer to *len
 * contiguous free bytes (*len may be 0: feed nothing now, read plaintext
 * first); tls_in_commit(s, n) then says that n of them were filled.
 */
char *tls_in_space(struct tls_session *s, size_t *len);
void tls_in_commit(struct tls_session *s, size_t n);

/*
 * Plaintext out. Runs the handshake while it is not finished.
 * @return bytes (> 0), TLS_EAGAIN, TLS_CLOSED or TLS_EPROTO.
 */
ssize_t tls_read(struct tls_session *s, void *buf, size_t len);

/*
 * Plaintext in: encrypts as much of buf as the outgoing buffer has room for.
 * Before the handshake is done it only advances the handshake.
 * @return bytes taken (> 0), TLS_EAGAIN, or TLS_EPROTO.
 */
ssize_t tls_write(struct tls_session *s, const void *buf, size_t len);

/* Advance the handshake. @return 0 when established, TLS_EAGAIN or TLS_EPROTO. */
int tls_handshake(struct tls_session *s);
bool tls_established(const struct tls_session *s);

/* Ciphertext out: *len bytes ready to send at the returned pointer (0: none). */
const char *tls_out_peek(struct tls_session *s, size_t *len);
void tls_out_consume(struct tls_session *s, size_t n);
/* Bytes of ciphertext waiting to be sent. */
size_t tls_out_pending(const struct tls_session *s);

/* Queue close_notify (only after the handshake); send what tls_out_peek then has. */
void tls_shutdown(struct tls_session *s);

/* The last error of s, for a log line ("" when none). */
const char *tls_error(const struct tls_session *s);
/* The negotiated protocol version ("TLSv1.3"), or "" before the handshake. */
const char *tls_version(const struct tls_session *s);

#endif
