/*
 * Connection I/O: the only place that knows whether a connection is a kernel
 * socket (the kernel backend, an fd in the worker's epoll set) or a socket of
 * the worker's own TCP/IP stack (the DPDK backend, net/net.h).
 *
 * The worker loop, the client code and replication call these and nothing
 * else, so every command runs unchanged on both backends. The semantics are
 * those of a non-blocking socket under level-triggered epoll: a connection
 * that leaves bytes unread, or ignores its input while blocked, is reported
 * again on the next pass; with write interest on it is reported while it can
 * write.
 *
 * A connection accepted on the tls-port, or opened with tls, has a TLS session
 * (tls/tls.h) between these calls and its socket, on either backend: reads
 * return plaintext, writes take plaintext, and the handshake, alerts and
 * close_notify travel underneath. A TLS error reads as -EPROTO (the caller
 * closes that connection only).
 */
#ifndef POLLUX_CIO_H
#define POLLUX_CIO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "base/netio.h"

struct conn;
struct worker;

/* Readiness, as the worker's event dispatch passes it on. */
#define CIO_IN  NETIO_IN  /* bytes, end of stream or an error to read */
#define CIO_OUT NETIO_OUT /* room to write, or a connect() finished */

/* Whether c still has a socket. */
bool cio_open(const struct conn *c);
/* @return bytes read (> 0), 0 at end of stream, -EAGAIN, or another -errno. */
ssize_t cio_read(struct conn *c, void *buf, size_t len);
/* @return bytes taken (>= 0), -EAGAIN when nothing fits, or another -errno. */
ssize_t cio_writev(struct conn *c, const struct iovec *iov, int iovcnt);
/* Write everything now (a few bytes: handshakes, ACKs). @return 0 or -1. */
int cio_write_all(struct conn *c, const void *buf, size_t len);
/* Be told while c can write (on), or only about input (off). */
void cio_write_interest(struct conn *c, bool on);
/* c did not take the input it was told about: tell it again next pass. */
void cio_rearm(struct conn *c);
/*
 * Have c's socket reported to the worker's poll (events carry c), with write
 * interest when want_write. @return 0 or -errno.
 */
int cio_attach(struct conn *c, bool want_write);
/* Close the socket (the structure is the caller's). */
void cio_close(struct conn *c);
/* tcp-keepalive seconds (0: off). */
void cio_keepalive(struct conn *c, int seconds);

/*
 * Start a non-blocking connection to host:port on w's backend, in TLS when
 * `tls` (w's context, client side); CIO_OUT or CIO_IN is reported as it
 * progresses (cio_connect_error says how far).
 * @return the connection (on w->conns), or NULL with a message logged.
 */
struct conn *cio_connect(struct worker *w, const char *host, int port, bool tls);
/*
 * 0 when the connection c started is up (its TLS handshake done), EINPROGRESS
 * while it is not, else the errno that ended it (EPROTO: TLS refused).
 */
int cio_connect_error(struct conn *c);

/*
 * TLS (either backend). cio_tls_start gives c a session on its worker's
 * context: the server side for a connection accepted on the tls-port, the
 * client side for one we opened. @return 0, or -1 when there is no context.
 */
int cio_tls_start(struct conn *c, bool client);
/* Whether c is a TLS connection whose handshake has not finished. */
bool cio_tls_handshaking(const struct conn *c);
/* Send ciphertext a TLS connection still holds (plain: nothing). @return 0 or -1. */
int cio_flush(struct conn *c);
/* Whether c holds output its socket has not taken yet below the reply chain (TLS). */
bool cio_out_pending(const struct conn *c);
/*
 * Connections whose session kept decrypted input after a read filled the
 * caller's buffer: the socket has nothing left to report, so the worker reads
 * them again on its next pass. cio_tls_ready_round starts a pass's round;
 * cio_tls_ready_next returns its connections one by one (a connection closed
 * meanwhile leaves the round), then NULL.
 */
void cio_tls_ready_round(struct worker *w);
struct conn *cio_tls_ready_next(struct worker *w);

#endif
