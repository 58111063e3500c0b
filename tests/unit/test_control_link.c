#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/clock.h"
#include "control/link.h"
#include "control/loop.h"

#define SEC 1000000000ULL

/* What one callback saw. */
struct seen {
    struct ctl_link *link;
    int calls;
    bool reply;     /* r != NULL */
    char text[32];  /* the status text */
    bool timed_out; /* ctl_link_timed_out() during the callback */
};

static void on_reply(void *ctx, uint64_t tag, const struct ctl_reply *r)
{
    (void)tag;
    struct seen *s = ctx;
    s->calls++;
    s->reply = r != NULL;
    s->text[0] = '\0';
    if (r != NULL && r->str != NULL)
        snprintf(s->text, sizeof(s->text), "%s", r->str);
    s->timed_out = ctl_link_timed_out(s->link);
}

struct fixture {
    struct ctl_loop *loop;
    struct ctl_link *link;
    int lfd, peer;
    int port;
};

static int listen_any(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { 0 };
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->loop = ctl_loop_create();
    f->lfd = listen_any(&f->port);
    f->link = ctl_link_create(f->loop, "127.0.0.1", f->port, 50);
    f->peer = -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    ctl_link_destroy(f->link);
    ctl_loop_destroy(f->loop);
    if (f->peer >= 0)
        close(f->peer);
    close(f->lfd);
    free(f);
    return 0;
}

/* Send PING within timeout_ms and run the loop until the peer has read it. */
static void ping(struct fixture *f, int timeout_ms, struct seen *s)
{
    const char *argv[] = { "PING" };
    s->link = f->link;
    assert_int_equal(ctl_link_send_within(f->link, timeout_ms, 1, argv, on_reply, s, 0), 0);
    if (f->peer < 0)
        f->peer = accept(f->lfd, NULL, NULL);
    assert_true(f->peer >= 0);
    const char want[] = "*1\r\n$4\r\nPING\r\n";
    char got[sizeof(want)];
    size_t have = 0;
    for (int i = 0; i < 1000 && have < sizeof(want) - 1; i++) {
        ctl_loop_run_once(f->loop, 10);
        ssize_t n = recv(f->peer, got + have, sizeof(want) - 1 - have, MSG_DONTWAIT);
        if (n > 0)
            have += (size_t)n;
    }
    assert_int_equal(have, sizeof(want) - 1);
    assert_memory_equal(got, want, have);
}

/*
 * pollux-control itself was not scheduled: the answer arrived in time but nobody read it
 * before the deadline passed. The tick reads it first: an answer, not a timeout.
 */
static void answer_read_late_is_an_answer(void **state)
{
    struct fixture *f = *state;
    struct seen s = { 0 };
    ping(f, 50, &s);
    assert_int_equal(send(f->peer, "+PONG\r\n", 7, 0), 7);
    ctl_link_tick(f->link, clock_mono_ns() + 10 * SEC);
    assert_int_equal(s.calls, 1);
    assert_true(s.reply);
    assert_string_equal(s.text, "PONG");
    assert_true(ctl_link_connected(f->link));
}

/* No answer by the deadline: failed, and the link says it was a timeout. */
static void no_answer_is_a_timeout(void **state)
{
    struct fixture *f = *state;
    struct seen s = { 0 };
    ping(f, 50, &s);
    ctl_link_tick(f->link, clock_mono_ns() + 10 * SEC);
    assert_int_equal(s.calls, 1);
    assert_false(s.reply);
    assert_true(s.timed_out);
    assert_false(ctl_link_connected(f->link));
}

/*
 * Deadlines are per command: a short one behind a long one fails the link when it passes
 * (both callbacks see a timeout), while before that nothing fails.
 */
static void deadlines_per_command(void **state)
{
    struct fixture *f = *state;
    struct seen longer = { 0 }, shorter = { 0 };
    ping(f, 10000, &longer);
    ping(f, 200, &shorter);
    uint64_t now = clock_mono_ns();
    ctl_link_tick(f->link, now + 100 * 1000000ULL);
    assert_int_equal(longer.calls + shorter.calls, 0);
    ctl_link_tick(f->link, now + 1 * SEC);
    assert_int_equal(longer.calls, 1);
    assert_int_equal(shorter.calls, 1);
    assert_false(longer.reply);
    assert_true(longer.timed_out);
    assert_true(shorter.timed_out);
}

/* The peer closes: failed, and not a timeout (a dead node, not a slow one). */
static void closed_is_not_a_timeout(void **state)
{
    struct fixture *f = *state;
    struct seen s = { 0 };
    ping(f, 10000, &s);
    close(f->peer);
    f->peer = -1;
    for (int i = 0; i < 1000 && s.calls == 0; i++)
        ctl_loop_run_once(f->loop, 10);
    assert_int_equal(s.calls, 1);
    assert_false(s.reply);
    assert_false(s.timed_out);
}

/* Connect with the passwords set, send PING, and check the peer reads `want` (the AUTHs, then
 * the PING); answer `answer`, run the loop until the PING's callback ran. */
static void auth_exchange(struct fixture *f, const char *want, const char *answer, struct seen *s)
{
    const char *argv[] = { "PING" };
    s->link = f->link;
    assert_int_equal(ctl_link_send(f->link, 1, argv, on_reply, s, 0), 0);
    f->peer = accept(f->lfd, NULL, NULL);
    assert_true(f->peer >= 0);
    char got[256];
    size_t have = 0, len = strlen(want);
    for (int i = 0; i < 1000 && have < len; i++) {
        ctl_loop_run_once(f->loop, 10);
        ssize_t n = recv(f->peer, got + have, len - have, MSG_DONTWAIT);
        if (n > 0)
            have += (size_t)n;
    }
    assert_int_equal(have, len);
    assert_memory_equal(got, want, len);
    assert_int_equal(send(f->peer, answer, strlen(answer), 0), (ssize_t)strlen(answer));
    for (int i = 0; i < 1000 && s->calls == 0; i++)
        ctl_loop_run_once(f->loop, 10);
    assert_int_equal(s->calls, 1);
}

#define AUTH_CUR  "*2\r\n$4\r\nAUTH\r\n$3\r\ncur\r\n"
#define AUTH_OLD  "*2\r\n$4\r\nAUTH\r\n$3\r\nold\r\n"
#define PING_CMD  "*1\r\n$4\r\nPING\r\n"
#define WRONGPASS "-WRONGPASS invalid username-password pair or user is disabled.\r\n"

/* Both passwords refused: the command behind them fails, and the link says why. */
static void auth_refused_fails_the_link(void **state)
{
    struct fixture *f = *state;
    struct seen s = { 0 };
    ctl_link_set_auth(f->link, "cur", "old");
    auth_exchange(f, AUTH_CUR AUTH_OLD PING_CMD,
                  WRONGPASS WRONGPASS "-NOAUTH Authentication required.\r\n", &s);
    assert_false(s.reply);
    assert_false(ctl_link_connected(f->link));
    assert_memory_equal(ctl_link_auth_error(f->link), "WRONGPASS", 9);
}

/* The previous password still works (a change not yet applied): the link is usable. */
static void auth_previous_accepted(void **state)
{
    struct fixture *f = *state;
    struct seen s = { 0 };
    ctl_link_set_auth(f->link, "cur", "old");
    auth_exchange(f, AUTH_CUR AUTH_OLD PING_CMD, WRONGPASS "+OK\r\n+PONG\r\n", &s);
    assert_true(s.reply);
    assert_string_equal(s.text, "PONG");
    assert_string_equal(ctl_link_auth_error(f->link), "");
    assert_true(ctl_link_connected(f->link));
}

/* A node without a password refuses AUTH as Redis does: the link is usable all the same. */
static void auth_to_a_node_without_password(void **state)
{
    struct fixture *f = *state;
    struct seen s = { 0 };
    ctl_link_set_auth(f->link, "cur", NULL);
    auth_exchange(f, AUTH_CUR PING_CMD,
                  "-ERR AUTH <password> called without any password configured for the "
                  "default user. Are you sure your configuration is correct?\r\n+PONG\r\n",
                  &s);
    assert_true(s.reply);
    assert_string_equal(s.text, "PONG");
    assert_true(ctl_link_connected(f->link));
}

#define AUTH_USER "*3\r\n$4\r\nAUTH\r\n$14\r\npollux-control\r\n$2\r\npw\r\n"

/* pollux-control's own user, tried after the token: accepted alone, the link is usable. */
static void auth_as_own_user_after_the_token(void **state)
{
    struct fixture *f = *state;
    struct seen s = { 0 };
    ctl_link_set_auth(f->link, "cur", NULL);
    ctl_link_set_user(f->link, "pollux-control", "pw");
    auth_exchange(f, AUTH_CUR AUTH_USER PING_CMD, WRONGPASS "+OK\r\n+PONG\r\n", &s);
    assert_true(s.reply);
    assert_string_equal(s.text, "PONG");
    assert_string_equal(ctl_link_auth_error(f->link), "");
    assert_true(ctl_link_connected(f->link));
}

/* A node without the user (not provisioned yet): the token carries the link. */
static void auth_token_when_user_unknown(void **state)
{
    struct fixture *f = *state;
    struct seen s = { 0 };
    ctl_link_set_auth(f->link, "cur", NULL);
    ctl_link_set_user(f->link, "pollux-control", "pw");
    auth_exchange(f, AUTH_CUR AUTH_USER PING_CMD, "+OK\r\n" WRONGPASS "+PONG\r\n", &s);
    assert_true(s.reply);
    assert_true(ctl_link_connected(f->link));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(answer_read_late_is_an_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(no_answer_is_a_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(deadlines_per_command, setup, teardown),
        cmocka_unit_test_setup_teardown(closed_is_not_a_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(auth_refused_fails_the_link, setup, teardown),
        cmocka_unit_test_setup_teardown(auth_previous_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(auth_to_a_node_without_password, setup, teardown),
        cmocka_unit_test_setup_teardown(auth_as_own_user_after_the_token, setup, teardown),
        cmocka_unit_test_setup_teardown(auth_token_when_user_unknown, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
