/* The protected-mode decision: which peers are local (sock/sock.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sock.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loopback_addresses_are_local),
        cmocka_unit_test(everything_else_is_not),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
