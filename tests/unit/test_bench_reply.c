/*
 * pollux-bench's incremental reply parsers (RESP2, RESP3, memcached text): every
 * reply type, nested aggregates, malformed input, and every stream split at every
 * byte offset, as a client sees it arrive over TCP.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "bench/loadgen/reply_parse.h"

struct seen {
    char type;
    bool is_error, is_nil, is_push;
    char str[64];
};

/*
 * Feed `in` to a fresh parser, delivered in two reads split at `cut`, keeping
 * the unconsumed tail as a real client buffer would. Returns the replies
 * parsed, or -1 on a parse error.
 */
static int feed(bool memcache, const char *in, size_t len, size_t cut, struct seen *out, int max)
{
    struct srv_reply_parser p;
    srv_reply_parser_init(&p, memcache);
    char buf[1024];
    size_t have = 0, given = 0;
    int n = 0;
    for (int step = 0; step < 2; step++) {
        size_t upto = step == 0 ? cut : len;
        memcpy(buf + have, in + given, upto - given);
        have += upto - given;
        given = upto;
        for (;;) {
            size_t used = 0;
            struct srv_reply r;
            int rc = srv_reply_parse(&p, buf, have, &used, &r);
            assert_true(used <= have);
            if (rc == SRV_REPLY_ERROR)
                return -1;
            if (rc == SRV_REPLY_DONE) {
                assert_true(n < max);
                out[n].type = r.type;
                out[n].is_error = r.is_error;
                out[n].is_nil = r.is_nil;
                out[n].is_push = r.is_push;
                size_t l = r.str != NULL ? (r.len < 63 ? r.len : 63) : 0;
                if (l > 0)
                    memcpy(out[n].str, r.str, l);
                out[n].str[l] = '\0';
                n++;
            }
            memmove(buf, buf + used, have - used);
            have -= used;
            if (rc == SRV_REPLY_AGAIN)
                break;
        }
    }
    assert_int_equal(have, 0); /* every byte belonged to a complete reply */
    return n;
}

static const char resp2_stream[] = "+OK\r\n"
                                   "-ERR unknown command 'FOO'\r\n"
                                   ":42\r\n"
                                   "$5\r\nhello\r\n"
                                   "$-1\r\n"
                                   "$0\r\n\r\n"
                                   "*2\r\n$1\r\na\r\n*1\r\n:1\r\n"
                                   "*-1\r\n"
                                   "*0\r\n"
                                   "$4\r\na\r\nb\r\n";

static void resp2_at_every_split(void **state)
{
    (void)state;
    size_t len = sizeof(resp2_stream) - 1;
    for (size_t cut = 0; cut <= len; cut++) {
        struct seen s[16];
        memset(s, 0, sizeof(s));
        int n = feed(false, resp2_stream, len, cut, s, 16);
        assert_int_equal(n, 10);
        assert_int_equal(s[0].type, '+');
        assert_string_equal(s[0].str, "OK");
        assert_true(s[1].is_error);
        assert_string_equal(s[1].str, "ERR unknown command 'FOO'");
        assert_int_equal(s[2].type, ':');
        assert_string_equal(s[2].str, "42");
        assert_string_equal(s[3].str, "hello");
        assert_false(s[3].is_nil);
        assert_true(s[4].is_nil);
        assert_false(s[5].is_nil);
        assert_string_equal(s[5].str, "");
        assert_int_equal(s[6].type, '*');
        assert_false(s[6].is_nil);
        assert_true(s[7].is_nil);
        assert_int_equal(s[8].type, '*');
        assert_string_equal(s[9].str, "a\r\nb"); /* a blob may hold CRLF */
    }
}

static const char resp3_stream[] = "_\r\n"
                                   ",3.14\r\n"
                                   "#t\r\n"
                                   "(12345678901234567890\r\n"
                                   "!21\r\nSYNTAX invalid syntax\r\n"
                                   "=15\r\ntxt:Some string\r\n"
                                   "%2\r\n+a\r\n:1\r\n+b\r\n*2\r\n:2\r\n:3\r\n"
                                   "~1\r\n+x\r\n"
                                   ">3\r\n+message\r\n+ch\r\n+hi\r\n"
                                   "|1\r\n+ttl\r\n:3600\r\n$3\r\nval\r\n"
                                   "*2\r\n|1\r\n+k\r\n+v\r\n:7\r\n:8\r\n";

static void resp3_at_every_split(void **state)
{
    (void)state;
    size_t len = sizeof(resp3_stream) - 1;
    for (size_t cut = 0; cut <= len; cut++) {
        struct seen s[16];
        memset(s, 0, sizeof(s));
        int n = feed(false, resp3_stream, len, cut, s, 16);
        assert_int_equal(n, 11);
        assert_true(s[0].is_nil);
        assert_string_equal(s[1].str, "3.14");
        assert_int_equal(s[2].type, '#');
        assert_int_equal(s[3].type, '(');
        assert_true(s[4].is_error);
        assert_string_equal(s[4].str, "SYNTAX invalid syntax");
        assert_string_equal(s[5].str, "txt:Some string");
        assert_int_equal(s[6].type, '%');
        assert_int_equal(s[7].type, '~');
        assert_true(s[8].is_push);
        /* an attribute is not a reply: the element it annotates is */
        assert_int_equal(s[9].type, '$');
        assert_string_equal(s[9].str, "val");
        /* an attribute inside an aggregate does not count as one of its elements */
        assert_int_equal(s[10].type, '*');
    }
}

static void memcache_at_every_split(void **state)
{
    (void)state;
    static const char mc[] = "STORED\r\n"
                             "VALUE key:1 0 5\r\nhello\r\nEND\r\n"
                             "END\r\n"
                             "VALUE a 0 1\r\nx\r\nVALUE b 0 2 99\r\nyz\r\nEND\r\n"
                             "SERVER_ERROR out of memory storing object\r\n"
                             "ERROR\r\n"
                             "NOT_STORED\r\n";
    size_t len = sizeof(mc) - 1;
    for (size_t cut = 0; cut <= len; cut++) {
        struct seen s[16];
        memset(s, 0, sizeof(s));
        int n = feed(true, mc, len, cut, s, 16);
        assert_int_equal(n, 7);
        assert_string_equal(s[0].str, "STORED");
        assert_string_equal(s[1].str, "hello");
        assert_false(s[1].is_nil);
        assert_true(s[2].is_nil);
        assert_string_equal(s[3].str, "x"); /* the first VALUE of a multi-get */
        assert_true(s[4].is_error);
        assert_true(s[5].is_error);
        assert_false(s[6].is_error);
        assert_string_equal(s[6].str, "NOT_STORED");
    }
}

static void malformed_input_is_an_error(void **state)
{
    (void)state;
    static const char *bad[] = {
        "?what\r\n",            /* unknown type byte */
        "$abc\r\n",             /* bad length */
        "$-2\r\n",              /* negative length other than -1 */
        "$3\r\nabcXY",          /* payload not followed by CRLF */
        "*x\r\n",               /* bad count */
        ":1\r\n*1\r\n$2\r\nab", /* fine so far: AGAIN, not an error (checked below) */
    };
    struct seen s[4];
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(feed(false, bad[i], strlen(bad[i]), strlen(bad[i]), s, 4), -1);

    struct srv_reply_parser p;
    srv_reply_parser_init(&p, false);
    size_t used;
    struct srv_reply r;
    const char *b = bad[5];
    assert_int_equal(srv_reply_parse(&p, b, strlen(b), &used, &r), SRV_REPLY_DONE);
    assert_int_equal(used, 4);
    assert_int_equal(srv_reply_parse(&p, b + used, strlen(b) - used, &used, &r), SRV_REPLY_AGAIN);
    assert_true(p.need > 0);

    char deep[4 * (SRV_REPLY_MAX_DEPTH + 1) + 1];
    for (int i = 0; i <= SRV_REPLY_MAX_DEPTH; i++)
        memcpy(deep + 4 * i, "*1\r\n", 4);
    assert_int_equal(feed(false, deep, sizeof(deep) - 1, sizeof(deep) - 1, s, 4), -1);

    static const char mc_bad[] = "VALUE k 0 3\r\nabcdEND\r\n";
    assert_int_equal(feed(true, mc_bad, sizeof(mc_bad) - 1, sizeof(mc_bad) - 1, s, 4), -1);
}

/* A big blob reports how many bytes it needs, so the caller can grow its buffer once. */
static void need_hint_for_a_large_blob(void **state)
{
    (void)state;
    struct srv_reply_parser p;
    srv_reply_parser_init(&p, false);
    static const char head[] = "$100000\r\nabc";
    size_t used;
    struct srv_reply r;
    assert_int_equal(srv_reply_parse(&p, head, sizeof(head) - 1, &used, &r), SRV_REPLY_AGAIN);
    assert_int_equal(used, 0);
    assert_int_equal(p.need, 9 + 100000 + 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(resp2_at_every_split),       cmocka_unit_test(resp3_at_every_split),
        cmocka_unit_test(memcache_at_every_split),    cmocka_unit_test(malformed_input_is_an_error),
        cmocka_unit_test(need_hint_for_a_large_blob),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
