#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "control/respc.h"

/* Parse `in` whole, and check that every strict prefix asks for more bytes. */
static struct ctl_reply *parse_all(const char *in, size_t len)
{
    for (size_t cut = 0; cut < len; cut++) {
        struct ctl_reply *r = NULL;
        size_t used = 0;
        int rc = ctl_reply_parse(in, cut, &r, &used);
        if (rc != CTL_EAGAIN)
            fail_msg("prefix of %zu bytes gave %d", cut, rc);
    }
    struct ctl_reply *r = NULL;
    size_t used = 0;
    assert_int_equal(ctl_reply_parse(in, len, &r, &used), 0);
    assert_int_equal(used, len);
    return r;
}

#define PARSE(lit) parse_all(lit, sizeof(lit) - 1)

static void scalars(void **state)
{
    (void)state;
    struct ctl_reply *r = PARSE("+OK\r\n");
    assert_int_equal(r->type, CTL_R_STATUS);
    assert_true(ctl_reply_is(r, "OK"));
    ctl_reply_free(r);
    r = PARSE("-ERR no such thing\r\n");
    assert_int_equal(r->type, CTL_R_ERROR);
    assert_string_equal(r->str, "ERR no such thing");
    ctl_reply_free(r);
    r = PARSE(":-42\r\n");
    assert_int_equal(r->type, CTL_R_INT);
    assert_int_equal(r->integer, -42);
    ctl_reply_free(r);
    r = PARSE("$5\r\na\r\nbc\r\n");
    assert_int_equal(r->type, CTL_R_BULK);
    assert_int_equal(r->len, 5);
    assert_memory_equal(r->str, "a\r\nbc", 5);
    ctl_reply_free(r);
    r = PARSE("$-1\r\n");
    assert_int_equal(r->type, CTL_R_NIL);
    ctl_reply_free(r);
    r = PARSE("$0\r\n\r\n");
    assert_int_equal(r->type, CTL_R_BULK);
    assert_int_equal(r->len, 0);
    ctl_reply_free(r);
}

static void resp3_types(void **state)
{
    (void)state;
    struct ctl_reply *r = PARSE("%2\r\n+a\r\n:1\r\n$1\r\nb\r\n#t\r\n");
    assert_int_equal(r->type, CTL_R_MAP);
    assert_int_equal(r->n, 4);
    assert_int_equal(ctl_reply_get(r, "a")->integer, 1);
    assert_int_equal(ctl_reply_get(r, "b")->type, CTL_R_BOOL);
    assert_null(ctl_reply_get(r, "c"));
    ctl_reply_free(r);
    r = PARSE("~2\r\n_\r\n,1.5\r\n");
    assert_int_equal(r->type, CTL_R_SET);
    assert_int_equal(r->elem[0]->type, CTL_R_NIL);
    assert_string_equal(r->elem[1]->str, "1.5");
    ctl_reply_free(r);
    r = PARSE(">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\nhi\r\n");
    assert_int_equal(r->type, CTL_R_PUSH);
    assert_int_equal(r->n, 3);
    ctl_reply_free(r);
    r = PARSE("=8\r\ntxt:abcd\r\n");
    assert_int_equal(r->type, CTL_R_BULK);
    assert_string_equal(r->str, "abcd");
    ctl_reply_free(r);
    r = PARSE("!5\r\nERR x\r\n");
    assert_int_equal(r->type, CTL_R_ERROR);
    assert_string_equal(r->str, "ERR x");
    ctl_reply_free(r);
    r = PARSE("|1\r\n+k\r\n+v\r\n:7\r\n");
    assert_int_equal(r->type, CTL_R_INT);
    assert_int_equal(r->integer, 7);
    ctl_reply_free(r);
}

static void nested_arrays(void **state)
{
    (void)state;
    struct ctl_reply *r = PARSE("*3\r\n*2\r\n$4\r\nname\r\n$3\r\nrg1\r\n*0\r\n*-1\r\n");
    assert_int_equal(r->type, CTL_R_ARRAY);
    assert_int_equal(r->n, 3);
    assert_string_equal(ctl_reply_get(r->elem[0], "name")->str, "rg1");
    assert_int_equal(r->elem[1]->n, 0);
    assert_int_equal(r->elem[2]->type, CTL_R_NIL);
    ctl_reply_free(r);
}

static void two_replies_back_to_back(void **state)
{
    (void)state;
    const char in[] = "+PONG\r\n$3\r\nabc\r\n";
    struct ctl_reply *r;
    size_t used;
    assert_int_equal(ctl_reply_parse(in, sizeof(in) - 1, &r, &used), 0);
    assert_int_equal(used, 7);
    ctl_reply_free(r);
    assert_int_equal(ctl_reply_parse(in + used, sizeof(in) - 1 - used, &r, &used), 0);
    assert_string_equal(r->str, "abc");
    ctl_reply_free(r);
}

static void malformed(void **state)
{
    (void)state;
    const char *bad[] = { "?x\r\n",  ":abc\r\n",  "$3\r\nabcd\r\n", "*-2\r\n", "#x\r\n",
                          "$-2\r\n", "+a\rb\r\n", "\r\n",           "%-1\r\n", "=3\r\nabc\r\n" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct ctl_reply *r = NULL;
        size_t used;
        int rc = ctl_reply_parse(bad[i], strlen(bad[i]), &r, &used);
        if (rc != -EPROTO)
            fail_msg("'%s' gave %d", bad[i], rc);
    }
    /* Nesting deeper than the limit is refused rather than recursed into. */
    char deep[4 * (CTL_REPLY_MAX_DEPTH + 2) + 8];
    size_t n = 0;
    for (int i = 0; i < CTL_REPLY_MAX_DEPTH + 2; i++) {
        memcpy(deep + n, "*1\r\n", 4);
        n += 4;
    }
    memcpy(deep + n, ":1\r\n", 4);
    n += 4;
    struct ctl_reply *r = NULL;
    size_t used;
    assert_int_equal(ctl_reply_parse(deep, n, &r, &used), -EPROTO);
}

static void encode(void **state)
{
    (void)state;
    struct strbuf sb;
    strbuf_setup(&sb);
    const char *argv[] = { "SET", "k", "" };
    ctl_cmd_append(&sb, 3, argv, NULL);
    const char want[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n";
    assert_int_equal(sb.len, sizeof(want) - 1);
    assert_memory_equal(sb.buf, want, sb.len);
    strbuf_deinit(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scalars),       cmocka_unit_test(resp3_types),
        cmocka_unit_test(nested_arrays), cmocka_unit_test(two_replies_back_to_back),
        cmocka_unit_test(malformed),     cmocka_unit_test(encode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
