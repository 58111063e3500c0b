/* The peer as sock_accept reports it (sock/sock.c): the protected-mode decision, which
 * peers are local; the address the allowlist matches. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "sock/sock.h"

static void loopback_addresses_are_local(void **state)
{
    (void)state;
    assert_true(sock_peer_is_local("127.0.0.1:6379"));
    assert_true(sock_peer_is_local("127.0.0.1:1"));
    assert_true(sock_peer_is_local("::1:52000"));
}

/* Redis 7.0 compares the address text with 127.0.0.1 and ::1, nothing wider. */
static void everything_else_is_not(void **state)
{
    (void)state;
    assert_false(sock_peer_is_local("127.0.0.2:6379"));
    assert_false(sock_peer_is_local("127.0.0.10:6379"));
    assert_false(sock_peer_is_local("127.0.0.11:6379"));
    assert_false(sock_peer_is_local("::ffff:127.0.0.1:6379"));
    assert_false(sock_peer_is_local("10.0.0.1:6379"));
    assert_false(sock_peer_is_local("192.168.1.127:6379"));
    assert_false(sock_peer_is_local("fe80::1:6379"));
    assert_false(sock_peer_is_local("::11:6379"));
    assert_false(sock_peer_is_local("127.0.0.1"));
    assert_false(sock_peer_is_local(""));
    assert_false(sock_peer_is_local("?:0"));
}

/* Connect from `src` to a listener on `dst`; what sock_accept says of the peer. */
static void accept_from(int family, const char *dst, const char *src, char *peer, size_t cap,
                        uint8_t addr[16])
{
    int lfd = sock_listen(dst, 0, 16);
    assert_true(lfd >= 0);
    int port = sock_bound_port(lfd);
    int c = socket(family, SOCK_STREAM, 0);
    assert_true(c >= 0);
    if (family == AF_INET) {
        struct sockaddr_in a = { .sin_family = AF_INET };
        assert_int_equal(inet_pton(AF_INET, src, &a.sin_addr), 1);
        assert_int_equal(bind(c, (struct sockaddr *)&a, sizeof(a)), 0);
        assert_int_equal(inet_pton(AF_INET, dst, &a.sin_addr), 1);
        a.sin_port = htons((uint16_t)port);
        assert_int_equal(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
    } else {
        struct sockaddr_in6 a = { .sin6_family = AF_INET6 };
        assert_int_equal(inet_pton(AF_INET6, dst, &a.sin6_addr), 1);
        a.sin6_port = htons((uint16_t)port);
        assert_int_equal(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
    }
    struct pollfd pfd = { .fd = lfd, .events = POLLIN };
    assert_int_equal(poll(&pfd, 1, 30000), 1);
    int fd = sock_accept(lfd, peer, cap, addr);
    assert_true(fd >= 0);
    sock_abort(fd);
    /* a reset, not a FIN: the client's read fails with ECONNRESET */
    char b;
    assert_int_equal(read(c, &b, 1), -1);
    assert_int_equal(errno, ECONNRESET);
    close(c);
    close(lfd);
}

static void accepted_address(void **state)
{
    (void)state;
    char peer[64];
    uint8_t addr[16];
    static const uint8_t v4[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 2 };
    accept_from(AF_INET, "127.0.0.1", "127.0.0.2", peer, sizeof(peer), addr);
    assert_memory_equal(addr, v4, 16); /* IPv4, as its mapped form */
    assert_true(strncmp(peer, "127.0.0.2:", 10) == 0);
    int s6 = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 lo = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
    bool have_v6 = s6 >= 0 && bind(s6, (struct sockaddr *)&lo, sizeof(lo)) == 0;
    if (s6 >= 0)
        close(s6);
    if (!have_v6)
        return; /* no ::1 in this environment */
    static const uint8_t v6[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
    accept_from(AF_INET6, "::1", "::1", peer, sizeof(peer), addr);
    assert_memory_equal(addr, v6, 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loopback_addresses_are_local),
        cmocka_unit_test(everything_else_is_not),
        cmocka_unit_test(accepted_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
