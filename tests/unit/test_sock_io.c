/* The kernel backend (sock/sock_io.c, base/netio.h) on loopback, through its
 * operations only, as the worker uses them: listen (port 0 picked once for
 * every address, the tls flag), poll reporting listeners, connections with
 * their user pointer and the wake-up eventfd, accept with the peer, connect
 * and its result, write interest, read/writev with -EAGAIN, the local name,
 * keepalive, close, destroy. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/netio.h"
#include "sock/sock.h"

static const struct netio_ops *io = &sock_netio_ops;

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * The events poll reports for `user` (a connection), or for any listener when
 * user is NULL (then *listener gets it), polling until one comes or 5 s pass;
 * once only (no wait) when once. @return the NETIO_* events, 0 when none.
 */
static uint32_t wait_events(struct netio *n, void *user, bool once, union netio_handle *listener)
{
    uint64_t deadline = mono_ms() + 5000;
    do {
        struct netio_event ev[8];
        unsigned k = io->poll(n->ctx, 0, once ? 0 : 100, ev, 8);
        for (unsigned i = 0; i < k; i++) {
            if (user == NULL && (ev[i].events & NETIO_ACCEPT)) {
                *listener = ev[i].listener;
                return ev[i].events;
            }
            if (user != NULL && ev[i].user == user)
                return ev[i].events;
        }
    } while (!once && mono_ms() < deadline);
    return 0;
}

/* A connection accepted from listener l, with its peer. */
static union netio_handle accept_one(struct netio *n, union netio_handle l, char *peer, size_t cap)
{
    union netio_handle h;
    uint8_t addr[16];
    assert_int_equal(io->accept(n->ctx, l, &h, peer, cap, addr), 0);
    static const uint8_t v4mapped_loopback[16] = { [10] = 0xff, [11] = 0xff, [12] = 127, [15] = 1 };
    assert_memory_equal(addr, v4mapped_loopback, 16);
    return h;
}

static void connect_attach_read_write(void **state)
{
    (void)state;
    struct netio n;
    assert_int_equal(sock_io_create(-1, &n), 0);
    assert_ptr_equal(n.ops, io);
    int port = 0;
    assert_int_equal(io->listen(n.ctx, "127.0.0.1", 0, 16, false, &port), 0);
    assert_true(port > 0);
    char err[128] = "", user;
    union netio_handle h;
    assert_int_equal(io->connect(n.ctx, "127.0.0.1", port, &h, err, sizeof(err)), 0);
    assert_int_equal(io->fd(h), h.fd);
    assert_int_equal(io->attach(n.ctx, h, &user, true), 0);
    assert_true(wait_events(&n, &user, false, NULL) & NETIO_OUT); /* the connect finished */
    assert_int_equal(io->connect_error(h), 0);
    char local[64];
    io->local_name(h, local, sizeof(local));
    assert_int_equal(strncmp(local, "127.0.0.1:", 10), 0);
    io->keepalive(h, 60);

    /* The listener reports the connection, not a TLS one; accept gives its peer. */
    union netio_handle l;
    assert_int_equal(wait_events(&n, NULL, false, &l), NETIO_ACCEPT);
    char peer[64];
    union netio_handle s = accept_one(&n, l, peer, sizeof(peer));
    assert_string_equal(peer, local);
    union netio_handle none;
    assert_int_equal(io->accept(n.ctx, l, &none, peer, sizeof(peer), NULL), -EAGAIN);

    /* Interest off: nothing to report; on again: reported while it can write. */
    io->interest(n.ctx, h, &user, false, true);
    assert_int_equal(wait_events(&n, &user, true, NULL), 0);
    io->interest(n.ctx, h, &user, true, false);
    assert_true(wait_events(&n, &user, false, NULL) & NETIO_OUT);
    io->interest(n.ctx, h, &user, false, true);

    char buf[16];
    assert_int_equal(io->read(h, buf, sizeof(buf)), -EAGAIN);
    struct iovec iov[2] = { { .iov_base = "PI", .iov_len = 2 },
                            { .iov_base = "NG", .iov_len = 2 } };
    assert_int_equal(io->writev(h, iov, 2), 4);
    assert_int_equal(read(s.fd, buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "PING", 4);
    assert_int_equal(write(s.fd, "PONG", 4), 4);
    assert_true(wait_events(&n, &user, false, NULL) & NETIO_IN);
    assert_int_equal(io->read(h, buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "PONG", 4);
    io->rearm(h); /* level-triggered: nothing to do, nothing breaks */
    io->flush(n.ctx, 0);

    io->close(n.ctx, h);
    assert_int_equal(read(s.fd, buf, sizeof(buf)), 0); /* the peer sees the end of stream */
    io->close(n.ctx, s);
    io->destroy(n.ctx);
}

/* A refused connection: connect starts it, connect_error says ECONNREFUSED. */
static void refused_connect(void **state)
{
    (void)state;
    int lfd = sock_listen("127.0.0.1", 0, 16);
    int port = sock_bound_port(lfd);
    close(lfd); /* nobody listens there now */
    struct netio n;
    assert_int_equal(sock_io_create(-1, &n), 0);
    char err[128] = "", user;
    union netio_handle h;
    assert_int_equal(io->connect(n.ctx, "127.0.0.1", port, &h, err, sizeof(err)), 0);
    assert_int_equal(io->attach(n.ctx, h, &user, true), 0);
    assert_true(wait_events(&n, &user, false, NULL) != 0);
    assert_int_equal(io->connect_error(h), ECONNREFUSED);
    io->close(n.ctx, h);
    io->destroy(n.ctx);
}

/*
 * Port 0 on two addresses: the kernel's pick for the first is the second's;
 * a missing address marked '-' is skipped, an unmarked one fails. The
 * tls-port's listener reports NETIO_TLS.
 */
static void listen_addresses_and_tls(void **state)
{
    (void)state;
    struct netio n;
    assert_int_equal(sock_io_create(-1, &n), 0);
    int port = 0, tport = 0;
    assert_int_equal(io->listen(n.ctx, "127.0.0.1 -192.0.2.1 ::1", 0, 16, false, &port), 0);
    assert_true(port > 0);
    assert_int_equal(io->listen(n.ctx, "127.0.0.1", 0, 16, true, &tport), 0);
    assert_true(tport > 0 && tport != port);
    int bad = 0;
    assert_true(io->listen(n.ctx, "192.0.2.1", 0, 16, false, &bad) < 0);

    char err[128], peer[64];
    union netio_handle c6, c4, ct, l;
    assert_int_equal(io->connect(n.ctx, "::1", port, &c6, err, sizeof(err)), 0);
    assert_int_equal(wait_events(&n, NULL, false, &l), NETIO_ACCEPT);
    union netio_handle s6;
    uint8_t addr[16];
    assert_int_equal(io->accept(n.ctx, l, &s6, peer, sizeof(peer), addr), 0);
    assert_int_equal(io->connect(n.ctx, "127.0.0.1", port, &c4, err, sizeof(err)), 0);
    assert_int_equal(wait_events(&n, NULL, false, &l), NETIO_ACCEPT);
    union netio_handle s4 = accept_one(&n, l, peer, sizeof(peer));
    assert_int_equal(io->connect(n.ctx, "127.0.0.1", tport, &ct, err, sizeof(err)), 0);
    assert_int_equal(wait_events(&n, NULL, false, &l), NETIO_ACCEPT | NETIO_TLS);
    union netio_handle st = accept_one(&n, l, peer, sizeof(peer));
    union netio_handle all[] = { c6, c4, ct, s6, s4, st };
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        io->close(n.ctx, all[i]);
    io->destroy(n.ctx);
}

/* The wake-up eventfd ends a waiting poll, reports no event and is drained. */
static void wakefd_ends_the_wait(void **state)
{
    (void)state;
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    assert_true(efd >= 0);
    struct netio n;
    assert_int_equal(sock_io_create(efd, &n), 0);
    uint64_t one = 1, v;
    assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
    struct netio_event ev[4];
    assert_int_equal(io->poll(n.ctx, 0, 60000, ev, 4), 0); /* returns at once: it was written */
    assert_int_equal(read(efd, &v, sizeof(v)), -1);        /* and poll read it */
    assert_int_equal(errno, EAGAIN);
    io->destroy(n.ctx);
    close(efd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(connect_attach_read_write),
        cmocka_unit_test(refused_connect),
        cmocka_unit_test(listen_addresses_and_tls),
        cmocka_unit_test(wakefd_ends_the_wait),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
