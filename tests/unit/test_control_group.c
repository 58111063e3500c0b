#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "group.h"

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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
