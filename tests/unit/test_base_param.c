#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <string.h>
#include <cmocka.h>

#include "base/param.h"

static const char *const colors[] = { "red", "green", "blue", NULL };

#define T_PARAMS(X)                                                                                \
    X(flag, "flag", BOOL, 1, 0, 1, PARAM_MUTABLE, NULL)                                            \
    X(count, "count", INT, 10, 0, 100, PARAM_MUTABLE, NULL)                                        \
    X(mem, "mem", MEMORY, 0, 0, LLONG_MAX, PARAM_MUTABLE, NULL)                                    \
    X(color, "color", ENUM, 1, 0, 0, PARAM_MUTABLE, colors)                                        \
    X(name, "name", STRING, "anon", 0, 0, 0, NULL)

PARAM_STRUCT(t_params, T_PARAMS);
#define PARAM_S t_params
static const struct param_def defs[] = { T_PARAMS(PARAM_X_DEF) PARAM_DEFS_END };
#undef PARAM_S

static void defaults_set_and_format(void **state)
{
    (void)state;
    struct t_params p, q = { 0 };
    char err[256], buf[64];
    param_defaults(defs, &p);
    assert_int_equal(p.flag, 1);
    assert_int_equal(p.count, 10);
    assert_int_equal(p.color, 1);
    assert_string_equal(p.name, "anon");

    const struct param_def *d = param_find(defs, "COUNT");
    assert_non_null(d);
    assert_int_equal(param_set(d, &p, "55", err, sizeof(err)), 0);
    assert_int_equal(p.count, 55);
    assert_true(param_set(d, &p, "101", err, sizeof(err)) < 0);
    assert_string_equal(err, "argument must be between 0 and 100 inclusive");
    assert_true(param_set(d, &p, "x", err, sizeof(err)) < 0);
    assert_string_equal(err, "argument couldn't be parsed into an integer");

    d = param_find(defs, "flag");
    assert_true(param_set(d, &p, "maybe", err, sizeof(err)) < 0);
    assert_string_equal(err, "argument must be 'yes' or 'no'");
    assert_int_equal(param_set(d, &p, "NO", err, sizeof(err)), 0);
    assert_string_equal(param_format(d, &p, buf, sizeof(buf), false), "no");

    d = param_find(defs, "mem");
    assert_int_equal(param_set(d, &p, "1gb", err, sizeof(err)), 0);
    assert_true(p.mem == 1073741824LL);
    assert_string_equal(param_format(d, &p, buf, sizeof(buf), false), "1073741824");
    assert_string_equal(param_format(d, &p, buf, sizeof(buf), true), "1gb");
    assert_true(param_set(d, &p, "-1", err, sizeof(err)) < 0);
    assert_string_equal(err, "argument must be a memory value");

    d = param_find(defs, "color");
    assert_true(param_set(d, &p, "pink", err, sizeof(err)) < 0);
    assert_string_equal(err, "argument(s) must be one of the following: red, green, blue");
    assert_int_equal(param_set(d, &p, "Blue", err, sizeof(err)), 0);
    assert_string_equal(param_format(d, &p, buf, sizeof(buf), false), "blue");

    d = param_find(defs, "name");
    assert_int_equal(param_set(d, &p, "bob", err, sizeof(err)), 0);
    param_copy(defs, &q, &p);
    assert_string_equal(q.name, "bob");
    assert_true(q.name != p.name);
    assert_null(param_find(defs, "nope"));
    param_free(defs, &p);
    param_free(defs, &q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_set_and_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
