#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "control/group.h"

static struct ctl_node node(const char *id, const char *az, int port, const char *group)
{
    struct ctl_node n;
    memset(&n, 0, sizeof(n));
    snprintf(n.id, sizeof(n.id), "%s", id);
    snprintf(n.az, sizeof(n.az), "%s", az);
    snprintf(n.group, sizeof(n.group), "%s", group);
    n.port = port;
    return n;
}

static void names(void **state)
{
    (void)state;
    char err[200];
    assert_int_equal(ctl_token_check("0123456789abcdef", err, sizeof(err)), 0);
    assert_int_equal(ctl_token_check("0123456789abcde", err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "InvalidParameterValue"));
    assert_int_equal(ctl_token_check("0123456789 abcdef", err, sizeof(err)), -EINVAL);
    assert_int_equal(ctl_token_check("0123456789/abcdef", err, sizeof(err)), -EINVAL);
    assert_int_equal(ctl_token_check("0123456789@abcdef", err, sizeof(err)), -EINVAL);
    assert_int_equal(ctl_token_check("0123456789\"abcdef", err, sizeof(err)), -EINVAL);
    char t[CTL_TOKEN_MAX + 1];
    memset(t, 'x', sizeof(t) - 1);
    t[CTL_TOKEN_MAX - 1] = '\0'; /* 128 */
    assert_int_equal(ctl_token_check(t, err, sizeof(err)), 0);
    t[CTL_TOKEN_MAX - 1] = 'x';
    t[CTL_TOKEN_MAX] = '\0'; /* 129 */
    assert_int_equal(ctl_token_check(t, err, sizeof(err)), -EINVAL);
    assert_true(ctl_name_valid("rg1", 40));
    assert_true(ctl_name_valid("my-group-2", 40));
    assert_false(ctl_name_valid("", 40));
    assert_false(ctl_name_valid("1rg", 40));
    assert_false(ctl_name_valid("rg-", 40));
    assert_false(ctl_name_valid("r--g", 40));
    assert_false(ctl_name_valid("r.g", 40));
    assert_false(ctl_name_valid("r g", 40));
    assert_false(ctl_name_valid("abcdef", 5));
    assert_true(ctl_name_valid("abcde", 5));
}

static void multi_az_rule(void **state)
{
    (void)state;
    char err[256];
    struct ctl_node p = node("p", "az-a", 1, ""), r1 = node("r1", "az-a", 2, ""),
                    r2 = node("r2", "az-b", 3, "");
    const struct ctl_node *same[] = { &r1 };
    const struct ctl_node *both[] = { &r1, &r2 };
    assert_int_equal(ctl_group_check("rg", &p, same, 1, false, 0, err, sizeof(err)), 0);
    assert_int_equal(ctl_group_check("rg", &p, same, 1, true, 0, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "outside the primary's availability zone"));
    assert_int_equal(ctl_group_check("rg", &p, both, 2, true, 0, err, sizeof(err)), 0);
    assert_int_equal(ctl_group_check("rg", &p, NULL, 0, true, 0, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "at least one replica"));
    assert_int_equal(ctl_group_check("rg", &p, NULL, 0, false, 0, err, sizeof(err)), 0);
}

static void replica_limit(void **state)
{
    (void)state;
    char err[256];
    struct ctl_node p = node("p", "az-a", 1, "");
    struct ctl_node r[6];
    const struct ctl_node *rp[6];
    for (int i = 0; i < 6; i++) {
        char id[8];
        snprintf(id, sizeof(id), "r%d", i);
        r[i] = node(id, "az-b", 10 + i, "");
        rp[i] = &r[i];
    }
    assert_int_equal(ctl_group_check("rg", &p, rp, 5, true, 0, err, sizeof(err)), 0);
    assert_int_equal(ctl_group_check("rg", &p, rp, 6, true, 0, err, sizeof(err)), -EINVAL);
    assert_true(strncmp(err, "NodeQuotaForClusterExceeded", 27) == 0);
}

static void membership(void **state)
{
    (void)state;
    char err[256];
    struct ctl_node p = node("p", "az-a", 1, ""), taken = node("t", "az-b", 2, "other"),
                    mine = node("m", "az-b", 3, "rg"), unreg;
    (void)unreg;
    const struct ctl_node *t[] = { &taken };
    const struct ctl_node *m[] = { &mine };
    const struct ctl_node *dup[] = { &mine, &mine };
    const struct ctl_node *self[] = { &p };
    const struct ctl_node *missing[] = { NULL };
    assert_int_equal(ctl_group_check("rg", &p, t, 1, false, 0, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "already belongs to replication group other"));
    assert_int_equal(ctl_group_check("rg", &p, m, 1, false, 0, err, sizeof(err)), 0);
    assert_int_equal(ctl_group_check("rg", &p, dup, 2, false, 0, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "listed twice"));
    assert_int_equal(ctl_group_check("rg", &p, self, 1, false, 0, err, sizeof(err)), -EINVAL);
    assert_int_equal(ctl_group_check("rg", &p, missing, 1, false, 0, err, sizeof(err)), -EINVAL);
    assert_int_equal(ctl_group_check("rg", NULL, NULL, 0, false, 0, err, sizeof(err)), -EINVAL);
    assert_int_equal(ctl_group_check("rg", &taken, NULL, 0, false, 0, err, sizeof(err)), -EINVAL);
    /* A fixed group port must match every node's. */
    assert_int_equal(ctl_group_check("rg", &p, m, 1, false, 1, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "port"));
}

static void failover_highest_offset(void **state)
{
    (void)state;
    struct ctl_candidate c[] = {
        { "a", true, 100, 100 },
        { "b", true, 300, 100 },
        { "c", true, 200, 100 },
    };
    assert_int_equal(ctl_failover_choose(c, 3), 1);
}

static void failover_excludes_priority_zero_and_unreachable(void **state)
{
    (void)state;
    struct ctl_candidate c[] = {
        { "a", true, 900, 0 },
        { "b", false, 800, 100 },
        { "c", true, 100, 100 },
    };
    assert_int_equal(ctl_failover_choose(c, 3), 2);
    c[2].priority = 0;
    assert_int_equal(ctl_failover_choose(c, 3), -ENOENT);
    assert_int_equal(ctl_failover_choose(c, 0), -ENOENT);
}

static void failover_ties(void **state)
{
    (void)state;
    struct ctl_candidate c[] = {
        { "b", true, 500, 100 },
        { "a", true, 500, 100 },
        { "c", true, 500, 50 },
    };
    /* Same offset: the lower priority wins, then the smaller id. */
    assert_int_equal(ctl_failover_choose(c, 3), 2);
    c[2].priority = 100;
    assert_int_equal(ctl_failover_choose(c, 3), 1);
}

#define MS 1000000ULL

/* A dead primary: unanswered all window, probes refused, both replicas' links down. */
static struct ctl_down_facts dead_primary(void)
{
    struct ctl_down_facts f = { 0 };
    f.now_ns = 10000 * MS;
    f.down_after_ns = 1000 * MS;
    f.last_answer_ns = 8900 * MS;
    f.failures = 10;
    f.observers = 2;
    f.agree = 2;
    return f;
}

static void primary_down_needs_the_whole_window(void **state)
{
    (void)state;
    struct ctl_down_facts f = dead_primary();
    assert_int_equal(ctl_primary_down(&f), CTL_DOWN_YES);
    /* A late answer resets the window. */
    f.last_answer_ns = f.now_ns - 999 * MS;
    assert_int_equal(ctl_primary_down(&f), CTL_DOWN_NO);
    f.last_answer_ns = f.now_ns + 1; /* answered during this tick */
    assert_int_equal(ctl_primary_down(&f), CTL_DOWN_NO);
    /* One failed probe over a long silence (pollux-control itself was not running) is not
     * enough: a second probe must fail too. */
    f = dead_primary();
    f.failures = 1;
    assert_int_equal(ctl_primary_down(&f), CTL_DOWN_NO);
    f.failures = 0;
    assert_int_equal(ctl_primary_down(&f), CTL_DOWN_NO);
}

static void primary_down_needs_its_replicas(void **state)
{
    (void)state;
    struct ctl_down_facts f = dead_primary();
    /* Paused or starved: its replicas are still linked to it. */
    f.agree = 0;
    assert_int_equal(ctl_primary_down(&f), CTL_DOWN_DISPUTED);
    /* A majority of observers: 1 of 2 is not one, 2 of 3 is. */
    f.agree = 1;
    assert_int_equal(ctl_primary_down(&f), CTL_DOWN_DISPUTED);
    f.observers = 3;
    f.agree = 2;
    assert_int_equal(ctl_primary_down(&f), CTL_DOWN_YES);
    f.observers = 1;
    f.agree = 1;
    assert_int_equal(ctl_primary_down(&f), CTL_DOWN_YES);
    /* Nobody to ask: no failover (there would be no candidate either). */
    f.observers = 0;
    f.agree = 0;
    assert_int_equal(ctl_primary_down(&f), CTL_DOWN_DISPUTED);
}

static void primary_down_settles_after_a_failover(void **state)
{
    (void)state;
    struct ctl_down_facts f = dead_primary();
    f.settle_until_ns = f.now_ns + 1;
    assert_int_equal(ctl_primary_down(&f), CTL_DOWN_SETTLING);
    f.settle_until_ns = f.now_ns;
    assert_int_equal(ctl_primary_down(&f), CTL_DOWN_YES);
    /* A primary that answers is never reported settling. */
    f.settle_until_ns = f.now_ns + 1;
    f.last_answer_ns = f.now_ns;
    assert_int_equal(ctl_primary_down(&f), CTL_DOWN_NO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names),
        cmocka_unit_test(multi_az_rule),
        cmocka_unit_test(replica_limit),
        cmocka_unit_test(membership),
        cmocka_unit_test(failover_highest_offset),
        cmocka_unit_test(failover_excludes_priority_zero_and_unreachable),
        cmocka_unit_test(failover_ties),
        cmocka_unit_test(primary_down_needs_the_whole_window),
        cmocka_unit_test(primary_down_needs_its_replicas),
        cmocka_unit_test(primary_down_settles_after_a_failover),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
