/* The kernel backend's connection table (sock/sock_io.c, base/netio.h) on loopback:
 * connect and its result, epoll registration and write interest carrying the user
 * pointer, read/writev with -EAGAIN, the local name, keepalive, close. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "netio.h"
#include "sock.h"

static const struct netio_ops *io = &sock_netio_ops;

/* The events epoll reports for `user` within 5 s (0: none); timeout_ms 0 looks once. */
static uint32_t wait_events(int epfd, void *user, int timeout_ms)
{
    struct epoll_event ev[8];
    int n = epoll_wait(epfd, ev, 8, timeout_ms);
    for (int i = 0; i < n; i++)
        if (ev[i].data.ptr == user)
            return ev[i].events;
    return 0;
}

static void connect_attach_read_write(void **state)
{
    (void)state;
    int lfd = sock_listen("127.0.0.1", 0, 16);
    assert_true(lfd >= 0);
    int port = sock_bound_port(lfd);
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    assert_true(epfd >= 0);
    char err[128] = "", user;
    union netio_handle h;
    assert_int_equal(io->connect(&epfd, "127.0.0.1", port, &h, err, sizeof(err)), 0);
    assert_int_equal(io->fd(h), h.fd);
    assert_int_equal(io->attach(&epfd, h, &user, true), 0);
    assert_true(wait_events(epfd, &user, 5000) & EPOLLOUT); /* the connect finished */
    assert_int_equal(io->connect_error(h), 0);
    char local[64];
    io->local_name(h, local, sizeof(local));
    assert_int_equal(strncmp(local, "127.0.0.1:", 10), 0);
    io->keepalive(h, 60);

    /* Interest off: nothing to report; on again: reported while it can write. */
    io->interest(&epfd, h, &user, false, true);
    assert_int_equal(wait_events(epfd, &user, 0), 0);
    io->interest(&epfd, h, &user, true, false);
    assert_true(wait_events(epfd, &user, 5000) & EPOLLOUT);
    io->interest(&epfd, h, &user, false, true);

    int sfd;
    struct epoll_event lev = { .events = EPOLLIN, .data.ptr = NULL };
    int lep = epoll_create1(EPOLL_CLOEXEC);
    epoll_ctl(lep, EPOLL_CTL_ADD, lfd, &lev);
    assert_int_equal(epoll_wait(lep, &lev, 1, 5000), 1);
    sfd = sock_accept(lfd, NULL, 0, NULL);
    assert_true(sfd >= 0);

    char buf[16];
    assert_int_equal(io->read(h, buf, sizeof(buf)), -EAGAIN);
    struct iovec iov[2] = { { .iov_base = "PI", .iov_len = 2 },
                            { .iov_base = "NG", .iov_len = 2 } };
    assert_int_equal(io->writev(h, iov, 2), 4);
    assert_int_equal(read(sfd, buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "PING", 4);
    assert_int_equal(write(sfd, "PONG", 4), 4);
    assert_true(wait_events(epfd, &user, 5000) & EPOLLIN);
    assert_int_equal(io->read(h, buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "PONG", 4);
    io->rearm(h); /* level-triggered: nothing to do, nothing breaks */

    io->close(&epfd, h);
    assert_int_equal(read(sfd, buf, sizeof(buf)), 0); /* the peer sees the end of stream */
    close(sfd);
    close(lep);
    close(lfd);
    close(epfd);
}

/* A refused connection: connect starts it, connect_error says ECONNREFUSED. */
static void refused_connect(void **state)
{
    (void)state;
    int lfd = sock_listen("127.0.0.1", 0, 16);
    int port = sock_bound_port(lfd);
    close(lfd); /* nobody listens there now */
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    char err[128] = "", user;
    union netio_handle h;
    assert_int_equal(io->connect(&epfd, "127.0.0.1", port, &h, err, sizeof(err)), 0);
    assert_int_equal(io->attach(&epfd, h, &user, true), 0);
    assert_true(wait_events(epfd, &user, 5000) != 0);
    assert_int_equal(io->connect_error(h), ECONNREFUSED);
    io->close(&epfd, h);
    close(epfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(connect_attach_read_write),
        cmocka_unit_test(refused_connect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
