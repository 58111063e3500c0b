/*
 * pollux-bench's subscriber frame matcher: the SUBSCRIBE confirmation and published messages
 * in RESP2 and RESP3, every stream split at every byte offset and fed one byte at a time,
 * many messages in one buffer, and frames that are not messages of the channel.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "bench/loadgen/sub_parse.h"

#define CONFIRM2           "*3\r\n$9\r\nsubscribe\r\n$5\r\nbench\r\n:1\r\n"
#define CONFIRM3           ">3\r\n$9\r\nsubscribe\r\n$5\r\nbench\r\n:1\r\n"
#define MSG2(len, payload) "*3\r\n$7\r\nmessage\r\n$5\r\nbench\r\n$" #len "\r\n" payload "\r\n"
#define MSG3(len, payload) ">3\r\n$7\r\nmessage\r\n$5\r\nbench\r\n$" #len "\r\n" payload "\r\n"

/* The payloads hold what a frame's head is made of: only the length says where they end. */
static const char resp2_stream[] = CONFIRM2 MSG2(5, "hello") MSG2(0, "")
    MSG2(12, "*3\r\n$7\r\n:1\r\n") MSG2(32, "abcdefghijklmnopqrstuvwxyzabcdef");
static const char resp3_stream[] = CONFIRM3 MSG3(5, "hello") MSG3(0, "")
    MSG3(12, ">3\r\n$7\r\n:1\r\n") MSG3(32, "abcdefghijklmnopqrstuvwxyzabcdef");

/*
 * Feed in[0..len) to a fresh parser in pieces that end at the offsets in cuts (ascending),
 * the last piece ending at len. Returns the messages counted, or -1 on a parse error.
 */
static int64_t feed(bool resp3, const char *in, size_t len, const size_t *cuts, int ncuts)
{
    struct sub_frames f;
    struct sub_parser p;
    assert_int_equal(sub_frames_init(&f, "bench", 5, resp3), 0);
    sub_parser_init(&p, &f);
    int64_t total = 0;
    size_t from = 0;
    for (int i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : len;
        int64_t n = sub_parse(&p, in + from, to - from);
        if (n < 0)
            return -1;
        total += n;
        from = to;
    }
    assert_true(p.confirmed);
    return total;
}

static void every_split(bool resp3, const char *in, size_t len, int64_t want)
{
    for (size_t cut = 0; cut <= len; cut++)
        assert_int_equal(feed(resp3, in, len, &cut, 1), want);
    for (size_t a = 0; a <= len; a += 7)
        for (size_t b = a; b <= len; b++) {
            size_t cuts[2] = { a, b };
            assert_int_equal(feed(resp3, in, len, cuts, 2), want);
        }
}

static void one_byte_at_a_time(bool resp3, const char *in, size_t len, int64_t want)
{
    size_t cuts[512];
    assert_true(len <= 512);
    for (size_t i = 0; i < len; i++)
        cuts[i] = i;
    assert_int_equal(feed(resp3, in, len, cuts, (int)len), want);
}

static void resp2_at_every_split(void **state)
{
    (void)state;
    every_split(false, resp2_stream, sizeof(resp2_stream) - 1, 4);
    one_byte_at_a_time(false, resp2_stream, sizeof(resp2_stream) - 1, 4);
}

static void resp3_at_every_split(void **state)
{
    (void)state;
    every_split(true, resp3_stream, sizeof(resp3_stream) - 1, 4);
    one_byte_at_a_time(true, resp3_stream, sizeof(resp3_stream) - 1, 4);
}

static void confirmation_alone(void **state)
{
    (void)state;
    struct sub_frames f;
    struct sub_parser p;
    sub_frames_init(&f, "bench", 5, false);
    sub_parser_init(&p, &f);
    assert_int_equal(sub_parse(&p, CONFIRM2, sizeof(CONFIRM2) - 2), 0);
    assert_false(p.confirmed); /* the line's '\n' is still to come */
    assert_int_equal(sub_parse(&p, "\n", 1), 0);
    assert_true(p.confirmed);
}

static void many_in_one_buffer(void **state)
{
    (void)state;
    static char buf[64 * 1024];
    struct sub_frames f;
    struct sub_parser p;
    size_t len = 0;
    sub_frames_init(&f, "bench", 5, false);
    sub_parser_init(&p, &f);
    memcpy(buf, CONFIRM2, sizeof(CONFIRM2) - 1);
    len = sizeof(CONFIRM2) - 1;
    for (int i = 0; i < 500; i++) {
        int n = snprintf(buf + len, sizeof(buf) - len,
                         "*3\r\n$7\r\nmessage\r\n$5\r\nbench\r\n$%d\r\n", i % 40);
        len += (size_t)n;
        memset(buf + len, 'x', (size_t)(i % 40));
        len += (size_t)(i % 40);
        memcpy(buf + len, "\r\n", 2);
        len += 2;
    }
    assert_int_equal(sub_parse(&p, buf, len), 500);
    /* A large payload is skipped in pieces without being buffered. */
    static const char head[] = "*3\r\n$7\r\nmessage\r\n$5\r\nbench\r\n$1000000\r\n";
    assert_int_equal(sub_parse(&p, head, sizeof(head) - 1), 0);
    for (int i = 0; i < 1000000 / 1000; i++)
        assert_int_equal(sub_parse(&p, buf, 1000), 0);
    assert_int_equal(sub_parse(&p, "\r\n", 2), 1);
}

static void long_channel(void **state)
{
    (void)state;
    char chan[SUB_CHANNEL_MAX + 1], buf[SUB_CHANNEL_MAX + 128];
    struct sub_frames f;
    struct sub_parser p;
    memset(chan, 'c', sizeof(chan));
    assert_int_equal(sub_frames_init(&f, chan, SUB_CHANNEL_MAX + 1, false), -1);
    assert_int_equal(sub_frames_init(&f, chan, SUB_CHANNEL_MAX, true), 0);
    sub_parser_init(&p, &f);
    int n = snprintf(buf, sizeof(buf), ">3\r\n$9\r\nsubscribe\r\n$%d\r\n%.*s\r\n:1\r\n",
                     SUB_CHANNEL_MAX, SUB_CHANNEL_MAX, chan);
    assert_int_equal(sub_parse(&p, buf, (size_t)n), 0);
    n = snprintf(buf, sizeof(buf), ">3\r\n$7\r\nmessage\r\n$%d\r\n%.*s\r\n$2\r\nhi\r\n",
                 SUB_CHANNEL_MAX, SUB_CHANNEL_MAX, chan);
    assert_int_equal(sub_parse(&p, buf, (size_t)n), 1);
}

/* Each is refused as a whole, and at every split (the error surfaces in one of the pieces). */
static const char *const bad_resp2[] = {
    "-ERR unknown command\r\n",
    CONFIRM2 "-ERR something\r\n",
    MSG2(5, "hello"),  /* a message before the confirmation */
    CONFIRM2 CONFIRM2, /* confirmed twice */
    CONFIRM2 "*3\r\n$7\r\nmessage\r\n$5\r\nother\r\n$2\r\nhi\r\n", /* another channel */
    CONFIRM2 "*4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$5\r\nbench\r\n$2\r\nhi\r\n",
    CONFIRM2 "*3\r\n$7\r\nmessage\r\n$5\r\nbench\r\n$-1\r\n",
    CONFIRM2 "*3\r\n$7\r\nmessage\r\n$5\r\nbench\r\n$\r\nhi\r\n",   /* no length */
    CONFIRM2 "*3\r\n$7\r\nmessage\r\n$5\r\nbench\r\n$2x\r\nhi\r\n", /* not a number */
    CONFIRM2 "*3\r\n$7\r\nmessage\r\n$5\r\nbench\r\n$2\rxhi\r\n",   /* CR without LF */
    CONFIRM2 "*3\r\n$7\r\nmessage\r\n$5\r\nbench\r\n$2\r\nhix\r\n", /* longer than said */
    CONFIRM2 "*3\r\n$7\r\nmessage\r\n$5\r\nbench\r\n$1234567890123456789\r\n",
    CONFIRM3, /* a push to a RESP2 client */
};
static const char *const bad_resp3[] = {
    "!5\r\nERROR\r\n",
    CONFIRM2, /* an array where a push is due */
    CONFIRM3 MSG2(2, "hi"),
    CONFIRM3 "%1\r\n+a\r\n:1\r\n",
};

static void bad_frames_at_every_split(bool resp3, const char *in)
{
    size_t len = strlen(in);
    for (size_t cut = 0; cut <= len; cut++) {
        struct sub_frames f;
        struct sub_parser p;
        sub_frames_init(&f, "bench", 5, resp3);
        sub_parser_init(&p, &f);
        int64_t a = sub_parse(&p, in, cut);
        int64_t b = a < 0 ? 0 : sub_parse(&p, in + cut, len - cut);
        assert_true(a < 0 || b < 0);
    }
}

static void bad_frames(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_resp2) / sizeof(bad_resp2[0]); i++)
        bad_frames_at_every_split(false, bad_resp2[i]);
    for (size_t i = 0; i < sizeof(bad_resp3) / sizeof(bad_resp3[0]); i++)
        bad_frames_at_every_split(true, bad_resp3[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(resp2_at_every_split), cmocka_unit_test(resp3_at_every_split),
        cmocka_unit_test(confirmation_alone),   cmocka_unit_test(many_in_one_buffer),
        cmocka_unit_test(long_channel),         cmocka_unit_test(bad_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
