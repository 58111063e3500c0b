#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "control/param_group.h"

static void families_and_defaults_exist(void **state)
{
    (void)state;
    const struct ctl_family *f7 = ctl_family_find("redis7");
    const struct ctl_family *f6 = ctl_family_find("redis6.x");
    assert_non_null(f7);
    assert_non_null(f6);
    assert_null(ctl_family_find("redis8"));
    assert_string_equal(f7->default_group, "default.redis7");
    assert_string_equal(f6->default_group, "default.redis6.x");
}

static void table_rows_are_consistent(void **state)
{
    (void)state;
    for (size_t i = 0; i < ctl_param_count; i++) {
        const struct ctl_param_def *d = &ctl_param_defs[i];
        char err[256];
        assert_true(d->families != 0);
        /* Every default is itself a valid value of its parameter. */
        if (d->modifiable) {
            unsigned fam = (d->families & CTL_FAM_7) ? CTL_FAM_7 : CTL_FAM_6X;
            if (ctl_param_validate(d, fam, d->def, err, sizeof(err)) != 0)
                fail_msg("default of %s rejected: %s", d->name, err);
        }
        /* No name twice within a family. */
        for (size_t j = i + 1; j < ctl_param_count; j++)
            if (strcmp(d->name, ctl_param_defs[j].name) == 0)
                assert_true((d->families & ctl_param_defs[j].families) == 0);
    }
}

/*
 * pollux7 is redis7 plus polluxd's own settings; redis7 and redis6.x (whose groups may hold
 * redis-server nodes, which refuse pollux-*) have none of those. Redis 7's startup-only
 * enable-* settings are shown and never modifiable or sent.
 */
static void pollux7_family_and_startup_only_settings(void **state)
{
    (void)state;
    const struct ctl_family *px = ctl_family_find("pollux7");
    assert_non_null(px);
    assert_string_equal(px->default_group, "default.pollux7");
    for (size_t i = 0; i < ctl_param_count; i++) {
        const struct ctl_param_def *d = &ctl_param_defs[i];
        if (d->families & CTL_FAM_7)
            assert_ptr_equal(ctl_param_find(px->bit, d->name), d);
    }
    static const char *const own[] = { "pollux-allow-sources", "pollux-net-syncookies" };
    for (int i = 0; i < 2; i++) {
        const struct ctl_param_def *d = ctl_param_find(px->bit, own[i]);
        assert_non_null(d);
        assert_true(d->modifiable && ctl_param_applies_to_node(d));
        assert_int_equal(d->change, CTL_CHANGE_IMMEDIATE);
        assert_null(ctl_param_find(CTL_FAM_7, own[i]));
        assert_null(ctl_param_find(CTL_FAM_6X, own[i]));
    }
    char err[320];
    const struct ctl_param_def *src = ctl_param_find(px->bit, "pollux-allow-sources");
    assert_int_equal(ctl_param_validate(src, px->bit, "10.0.0.0/8 ::1/128", err, sizeof(err)), 0);
    assert_int_equal(ctl_param_validate(src, px->bit, "", err, sizeof(err)), 0);
    assert_int_equal(ctl_param_validate(src, px->bit, "10.0.0.0/33", err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "pollux-allow-sources"));
    char longest[CTL_PARAM_VALUE_MAX + 2];
    memset(longest, ' ', sizeof(longest) - 1);
    longest[sizeof(longest) - 1] = '\0';
    assert_int_equal(ctl_param_validate(src, px->bit, longest, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "longer than"));
    const struct ctl_param_def *sc = ctl_param_find(px->bit, "pollux-net-syncookies");
    assert_int_equal(ctl_param_validate(sc, px->bit, "no", err, sizeof(err)), 0);
    assert_int_equal(ctl_param_validate(sc, px->bit, "maybe", err, sizeof(err)), -EINVAL);
    static const char *const fixed[] = { "enable-protected-configs", "enable-debug-command",
                                         "enable-module-command" };
    for (int i = 0; i < 3; i++) {
        const struct ctl_param_def *d = ctl_param_find(CTL_FAM_7, fixed[i]);
        assert_non_null(d);
        assert_ptr_equal(ctl_param_find(px->bit, fixed[i]), d);
        assert_null(ctl_param_find(CTL_FAM_6X, fixed[i]));
        assert_false(d->modifiable);
        assert_false(ctl_param_applies_to_node(d));
        assert_int_equal(d->change, CTL_CHANGE_REBOOT);
        assert_int_equal(ctl_param_validate(d, CTL_FAM_7, "yes", err, sizeof(err)), -EPERM);
        assert_non_null(strstr(err, "is not modifiable"));
    }
}

static void family_specific_names(void **state)
{
    (void)state;
    /* redis7 lists what Redis 7 has and polluxd accepts: the encoding thresholds by their
     * 7.0 names, not active defrag or tracking (polluxd has no such settings), which
     * redis6.x (for redis-server nodes) keeps. */
    assert_non_null(ctl_param_find(CTL_FAM_7, "hash-max-listpack-entries"));
    assert_non_null(ctl_param_find(CTL_FAM_7, "set-max-intset-entries"));
    assert_null(ctl_param_find(CTL_FAM_7, "hash-max-ziplist-entries"));
    assert_null(ctl_param_find(CTL_FAM_7, "active-defrag-cycle-max"));
    assert_null(ctl_param_find(CTL_FAM_7, "tracking-table-max-keys"));
    assert_non_null(ctl_param_find(CTL_FAM_6X, "hash-max-ziplist-entries"));
    assert_non_null(ctl_param_find(CTL_FAM_6X, "active-defrag-cycle-max"));
    assert_null(ctl_param_find(CTL_FAM_6X, "hash-max-listpack-entries"));
    assert_non_null(ctl_param_find(CTL_FAM_7, "latency-tracking"));
    assert_null(ctl_param_find(CTL_FAM_7, "no-such-parameter"));
    const struct ctl_param_def *p = ctl_param_find(CTL_FAM_7, "maxmemory-policy");
    assert_non_null(p);
    assert_string_equal(p->def, "volatile-lru");
    assert_int_equal(p->change, CTL_CHANGE_IMMEDIATE);
    p = ctl_param_find(CTL_FAM_7, "databases");
    assert_int_equal(p->change, CTL_CHANGE_REBOOT);
    assert_string_equal(ctl_change_name(p->change), "requires-reboot");
    assert_string_equal(ctl_param_type_name(p), "integer");
}

static void integer_validation(void **state)
{
    (void)state;
    char err[256];
    const struct ctl_param_def *hz = ctl_param_find(CTL_FAM_7, "hz");
    assert_int_equal(ctl_param_validate(hz, CTL_FAM_7, "1", err, sizeof(err)), 0);
    assert_int_equal(ctl_param_validate(hz, CTL_FAM_7, "500", err, sizeof(err)), 0);
    assert_int_equal(ctl_param_validate(hz, CTL_FAM_7, "0", err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "1-500"));
    assert_int_equal(ctl_param_validate(hz, CTL_FAM_7, "501", err, sizeof(err)), -EINVAL);
    assert_int_equal(ctl_param_validate(hz, CTL_FAM_7, "abc", err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "not an integer"));
    assert_int_equal(ctl_param_validate(hz, CTL_FAM_7, "", err, sizeof(err)), -EINVAL);
    assert_int_equal(ctl_param_validate(hz, CTL_FAM_7, "010", err, sizeof(err)), -EINVAL);
    assert_int_equal(ctl_param_validate(hz, CTL_FAM_7, "10 ", err, sizeof(err)), -EINVAL);
    const struct ctl_param_def *sl = ctl_param_find(CTL_FAM_7, "slowlog-log-slower-than");
    assert_int_equal(ctl_param_validate(sl, CTL_FAM_7, "-1", err, sizeof(err)), 0);
    assert_int_equal(ctl_param_validate(sl, CTL_FAM_7, "-2", err, sizeof(err)), -EINVAL);
    assert_int_equal(ctl_param_validate(sl, CTL_FAM_7, "9223372036854775808", err, sizeof(err)),
                     -EINVAL);
    const struct ctl_param_def *rb = ctl_param_find(CTL_FAM_7, "repl-backlog-size");
    assert_int_equal(ctl_param_validate(rb, CTL_FAM_7, "16383", err, sizeof(err)), -EINVAL);
    char allowed[64];
    ctl_param_allowed(rb, allowed, sizeof(allowed));
    assert_string_equal(allowed, "16384-");
}

static void string_validation(void **state)
{
    (void)state;
    char err[256];
    const struct ctl_param_def *p = ctl_param_find(CTL_FAM_7, "maxmemory-policy");
    assert_int_equal(ctl_param_validate(p, CTL_FAM_7, "allkeys-lru", err, sizeof(err)), 0);
    assert_int_equal(ctl_param_validate(p, CTL_FAM_7, "noeviction", err, sizeof(err)), 0);
    assert_int_equal(ctl_param_validate(p, CTL_FAM_7, "allkeys", err, sizeof(err)), -EINVAL);
    assert_int_equal(ctl_param_validate(p, CTL_FAM_7, "allkeys-lru,", err, sizeof(err)), -EINVAL);
    assert_int_equal(ctl_param_validate(p, CTL_FAM_7, "ALLKEYS-LRU", err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "allowed values are volatile-lru,"));
    const struct ctl_param_def *b = ctl_param_find(CTL_FAM_7, "activedefrag");
    assert_int_equal(ctl_param_validate(b, CTL_FAM_7, "yes", err, sizeof(err)), 0);
    assert_int_equal(ctl_param_validate(b, CTL_FAM_7, "true", err, sizeof(err)), -EINVAL);
    const struct ctl_param_def *k = ctl_param_find(CTL_FAM_7, "notify-keyspace-events");
    assert_int_equal(ctl_param_validate(k, CTL_FAM_7, "", err, sizeof(err)), 0);
    assert_int_equal(ctl_param_validate(k, CTL_FAM_7, "KEA", err, sizeof(err)), 0);
    assert_int_equal(ctl_param_validate(k, CTL_FAM_7, "Ex$n", err, sizeof(err)), 0);
    assert_int_equal(ctl_param_validate(k, CTL_FAM_6X, "En", err, sizeof(err)), -EINVAL);
    assert_int_equal(ctl_param_validate(k, CTL_FAM_7, "KEQ", err, sizeof(err)), -EINVAL);
}

static void fixed_parameters_are_refused(void **state)
{
    (void)state;
    char err[256];
    const struct ctl_param_def *p = ctl_param_find(CTL_FAM_7, "cluster-enabled");
    assert_false(p->modifiable);
    assert_int_equal(ctl_param_validate(p, CTL_FAM_7, "no", err, sizeof(err)), -EPERM);
    assert_non_null(strstr(err, "not modifiable"));
    assert_false(ctl_param_applies_to_node(p));
}

static const char *value_of(void *ctx, const struct ctl_param_def *d)
{
    (void)ctx;
    if (strcmp(d->name, "client-output-buffer-limit-pubsub-hard-limit") == 0)
        return "1000";
    if (strcmp(d->name, "timeout") == 0)
        return "30";
    return d->def;
}

static void node_settings(void **state)
{
    (void)state;
    char key[64], val[128];
    const struct ctl_param_def *t = ctl_param_find(CTL_FAM_7, "timeout");
    assert_int_equal(
        ctl_param_node_setting(t, CTL_FAM_7, value_of, NULL, key, sizeof(key), val, sizeof(val)),
        0);
    assert_string_equal(key, "timeout");
    assert_string_equal(val, "30");
    const struct ctl_param_def *c =
        ctl_param_find(CTL_FAM_7, "client-output-buffer-limit-pubsub-soft-seconds");
    assert_int_equal(
        ctl_param_node_setting(c, CTL_FAM_7, value_of, NULL, key, sizeof(key), val, sizeof(val)),
        0);
    assert_string_equal(key, "client-output-buffer-limit");
    assert_string_equal(val, "pubsub 1000 8388608 60");
    const struct ctl_param_def *r = ctl_param_find(CTL_FAM_7, "reserved-memory-percent");
    assert_int_equal(
        ctl_param_node_setting(r, CTL_FAM_7, value_of, NULL, key, sizeof(key), val, sizeof(val)),
        -ENOENT);
    assert_int_equal(ctl_param_node_setting(c, CTL_FAM_7, value_of, NULL, key, sizeof(key), val, 8),
                     -ENOSPC);
}

static void node_types(void **state)
{
    (void)state;
    const struct ctl_node_type *t = ctl_node_type_find("cache.t3.micro");
    assert_non_null(t);
    /* 0.5 GiB with 25% reserved leaves 0.375 GiB, as ElastiCache reports. */
    assert_true(ctl_node_maxmemory(t, 25) == 402653184ULL);
    assert_true(ctl_node_maxmemory(t, 0) == 536870912ULL);
    assert_true(ctl_node_maxmemory(t, 100) == 0);
    assert_true(ctl_node_maxmemory(t, 250) == 0);
    assert_null(ctl_node_type_find("cache.x9.huge"));
}

static void failure_lists(void **state)
{
    (void)state;
    char out[256];
    const char *tried[] = { "timeout", "hz", "hash-max-ziplist-entries" };
    const char *failed[] = { "hash-max-ziplist-entries", "hz" };
    /* An earlier failure of a setting not tried this time stays; tried ones are replaced. */
    assert_int_equal(
        ctl_param_list_merge("databases, timeout", tried, 3, failed, 2, out, sizeof(out)), 0);
    assert_string_equal(out, "databases, hash-max-ziplist-entries, hz");
    assert_int_equal(ctl_param_list_merge("", tried, 3, NULL, 0, out, sizeof(out)), 0);
    assert_string_equal(out, "");
    assert_int_equal(ctl_param_list_merge("hz", NULL, 0, failed, 2, out, sizeof(out)), 0);
    assert_string_equal(out, "hz, hash-max-ziplist-entries");
    /* Too short: whole names only. */
    assert_int_equal(ctl_param_list_merge("", NULL, 0, failed, 2, out, 28), -ENOSPC);
    assert_string_equal(out, "hash-max-ziplist-entries");

    /* Brief: whole names and a count, never a cut word. */
    const char *list = "active-defrag-cycle-max, active-defrag-cycle-min, acllog-max-len, "
                       "hash-max-ziplist-entries";
    ctl_param_list_brief(list, 200, out, sizeof(out));
    assert_string_equal(out, list);
    ctl_param_list_brief(list, 60, out, sizeof(out));
    assert_string_equal(out, "active-defrag-cycle-max and 3 more");
    ctl_param_list_brief(list, 10, out, sizeof(out));
    assert_string_equal(out, "4 more");
    ctl_param_list_brief("", 10, out, sizeof(out));
    assert_string_equal(out, "");
    for (size_t max = 0; max < strlen(list) + 5; max++) {
        ctl_param_list_brief(list, max, out, sizeof(out));
        assert_true(strlen(out) <= (max > 6 ? max : 6));
        const char *more = strstr(out, " more");
        /* Either the whole list, or whole names then "and N more" (or only "N more"). */
        assert_true(strcmp(out, list) == 0 || (more != NULL && more[5] == '\0'));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(failure_lists),
        cmocka_unit_test(families_and_defaults_exist),
        cmocka_unit_test(table_rows_are_consistent),
        cmocka_unit_test(family_specific_names),
        cmocka_unit_test(pollux7_family_and_startup_only_settings),
        cmocka_unit_test(integer_validation),
        cmocka_unit_test(string_validation),
        cmocka_unit_test(fixed_parameters_are_refused),
        cmocka_unit_test(node_settings),
        cmocka_unit_test(node_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
