/*
 * The command table (generated from commands.table) and its registry:
 * lookups, rename-command, ids, the ACL category bits derived from flags,
 * the legacy key triple, and key extraction from key specs of every kind —
 * index and keyword searches, range and keynum finds — which no command of
 * today's table uses yet, so they are checked on rows built here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cmd/cmd.h"
#include "cmd/commands.h"
#include "base/common.h"

static int setup(void **state)
{
    (void)state;
    cmd_table_setup();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cmd_table_teardown();
    return 0;
}

static void lookups(void **state)
{
    (void)state;
    const struct cmd_def *get = cmd_lookup("GeT", 3);
    assert_non_null(get);
    assert_string_equal(get->name, "get");
    assert_null(cmd_lookup("nosuch", 6));
    assert_null(cmd_lookup("ge", 2));

    const struct cmd_def *config = cmd_lookup("config", 6);
    assert_non_null(config);
    assert_null(config->fn);
    const struct cmd_def *cget = cmd_lookup_sub(config, "GET", 3);
    assert_non_null(cget);
    assert_string_equal(cget->name, "get");
    assert_int_equal(cget->id, CMD_ID_CONFIG_GET);
    assert_null(cmd_lookup_sub(config, "nosuch", 6));

    const struct cmd_def *parent;
    assert_ptr_equal(cmd_lookup_full("config|get", 10, &parent), cget);
    assert_ptr_equal(parent, config);
    assert_ptr_equal(cmd_lookup_full("get", 3, &parent), get);
    assert_null(parent);
    assert_null(cmd_lookup_full("get|x", 5, &parent));
    assert_null(cmd_lookup_full("config|nosuch", 13, &parent));

    unsigned n = 0;
    while (cmd_table[n].name != NULL)
        n++;
    assert_int_equal(cmd_table_count(), n);
}

static void rename_command(void **state)
{
    (void)state;
    const char *why = NULL;
    const struct cmd_def *get = cmd_lookup("get", 3);
    assert_int_equal(cmd_table_rename("get", "fetch", &why), 0);
    assert_null(cmd_lookup("get", 3));
    assert_ptr_equal(cmd_lookup("FETCH", 5), get);
    assert_string_equal(get->name, "get"); /* the row keeps its name */
    assert_int_equal(cmd_table_rename("set", "fetch", &why), -1);
    assert_string_equal(why, "Target command name already exists");
    assert_int_equal(cmd_table_rename("nosuch", "x", &why), -1);
    assert_string_equal(why, "No such command in rename-command");
    assert_int_equal(cmd_table_rename("del", "", &why), 0);
    assert_null(cmd_lookup("del", 3));
}

/* Every row, subcommands included, has its own id below CMD_ID_COUNT. */
static void ids(void **state)
{
    (void)state;
    unsigned char seen[CMD_ID_COUNT];
    memset(seen, 0, sizeof(seen));
    unsigned rows = 0;
    for (const struct cmd_def *d = cmd_table; d->name != NULL; d++) {
        for (int k = -1; k < (int)d->nsubs; k++) {
            const struct cmd_def *r = k < 0 ? d : &d->subs[k];
            assert_true(r->id < CMD_ID_COUNT);
            assert_int_equal(seen[r->id], 0);
            seen[r->id] = 1;
            rows++;
            assert_true(r->fn != NULL || r->nsubs > 0);
            assert_non_null(r->summary);
            assert_non_null(r->since);
            assert_non_null(r->group);
        }
        assert_null(d->subs == NULL ? NULL : d->subs[d->nsubs].name);
    }
    assert_int_equal(rows, CMD_ID_COUNT);
}

/* Categories: implied by the flags as Redis derives them, plus the row's own. */
static void acl_categories(void **state)
{
    (void)state;
    const struct cmd_def *get = cmd_lookup("get", 3);
    assert_int_equal(get->acl, CMD_ACL_READ | CMD_ACL_STRING | CMD_ACL_FAST);
    const struct cmd_def *set = cmd_lookup("set", 3);
    assert_int_equal(set->acl, CMD_ACL_WRITE | CMD_ACL_STRING | CMD_ACL_SLOW);
    const struct cmd_def *flushall = cmd_lookup("flushall", 8);
    assert_int_equal(flushall->acl,
                     CMD_ACL_KEYSPACE | CMD_ACL_WRITE | CMD_ACL_SLOW | CMD_ACL_DANGEROUS);
    /* admin implies @admin @dangerous; ROLE says @fast itself, so it is not @slow */
    const struct cmd_def *role = cmd_lookup("role", 4);
    assert_true(role->acl & CMD_ACL_FAST);
    assert_false(role->acl & CMD_ACL_SLOW);
    const struct cmd_def *save = cmd_lookup("save", 4);
    assert_int_equal(save->acl, CMD_ACL_ADMIN | CMD_ACL_SLOW | CMD_ACL_DANGEROUS);
    /* the rule is a constant expression */
    static const uint64_t c = cmd_acl(CMD_READONLY | CMD_BLOCKING, CMD_ACL_LIST);
    assert_int_equal(c, CMD_ACL_READ | CMD_ACL_BLOCKING | CMD_ACL_LIST | CMD_ACL_SLOW);
    assert_string_equal(cmd_acl_name(CMD_ACL_INDEX_STRING), "string");
    assert_null(cmd_acl_name(CMD_ACL_NCATEGORIES));
}

/* The triple the generator derives from the specs (RENAME: two index specs). */
static void legacy_triple(void **state)
{
    (void)state;
    const struct cmd_def *rename = cmd_lookup("rename", 6);
    assert_int_equal(rename->nkeyspecs, 2);
    assert_int_equal(rename->first_key, 1);
    assert_int_equal(rename->last_key, 2);
    assert_int_equal(rename->key_step, 1);
    assert_int_equal(rename->keyspecs[1].flags, CMD_KS_OW | CMD_KS_UPDATE);
    const struct cmd_def *mset = cmd_lookup("mset", 4);
    assert_int_equal(mset->last_key, -1);
    assert_int_equal(mset->key_step, 2);
    assert_false(mset->flags & CMD_MOVABLEKEYS);
}

#define ARGV(...) ((const struct resp_arg[]){ __VA_ARGS__ })
#define A(s)                                                                                       \
    {                                                                                              \
        (char *)(s), sizeof(s) - 1                                                                 \
    }

/* A row with specs only (movablekeys), as a future command would have. */
static int keys_of(const struct cmd_key_spec *specs, unsigned n, int argc,
                   const struct resp_arg *argv, int *keys, uint32_t *flags)
{
    struct cmd_def d = { .name = "x", .flags = CMD_MOVABLEKEYS, .keyspecs = specs, .nkeyspecs = n };
    int plain[16];
    int nk = cmd_get_keys(&d, argc, argv, plain, 16);
    int nf = cmd_get_keys_flags(&d, argc, argv, keys, flags, 16);
    assert_int_equal(nk, nf);
    if (nk > 0)
        assert_memory_equal(plain, keys, sizeof(int) * (size_t)nk);
    return nk;
}

static void keyspecs_keynum_keyword(void **state)
{
    (void)state;
    int keys[16];
    uint32_t flags[16];
    /* EVAL-like: numkeys at 2, keys from 3 */
    const struct cmd_key_spec eval[] = {
        { .flags = CMD_KS_RW,
          .bs_type = CMD_KS_INDEX,
          .bs = { .index = 2 },
          .fk_type = CMD_KS_KEYNUM,
          .fk = { .keynum = { 0, 1, 1 } } },
    };
    int n = keys_of(eval, 1, 6, ARGV(A("x"), A("script"), A("2"), A("a"), A("b"), A("arg")), keys,
                    flags);
    assert_int_equal(n, 2);
    assert_int_equal(keys[0], 3);
    assert_int_equal(keys[1], 4);
    assert_int_equal(flags[1], CMD_KS_RW);
    /* a count that is not a number, not positive, or naming keys past the end: invalid (-1),
     * as Redis's COMMAND GETKEYS says ("Invalid arguments specified for command") */
    assert_int_equal(keys_of(eval, 1, 4, ARGV(A("x"), A("s"), A("z"), A("a")), keys, flags), -1);
    assert_int_equal(keys_of(eval, 1, 4, ARGV(A("x"), A("s"), A("-1"), A("a")), keys, flags), -1);
    assert_int_equal(keys_of(eval, 1, 4, ARGV(A("x"), A("s"), A("0"), A("a")), keys, flags), -1);
    n = keys_of(eval, 1, 4, ARGV(A("x"), A("s"), A("3"), A("a")), keys, flags);
    assert_int_equal(n, -1);

    /* MIGRATE-like: the keys after the KEYS keyword, searched backwards from the end */
    const struct cmd_key_spec migrate[] = {
        { .flags = CMD_KS_RW | CMD_KS_DELETE,
          .bs_type = CMD_KS_KEYWORD,
          .bs = { .keyword = { "KEYS", -2 } },
          .fk_type = CMD_KS_RANGE,
          .fk = { .range = { -1, 1, 0 } } },
    };
    n = keys_of(migrate, 1, 6, ARGV(A("x"), A("h"), A("p"), A("keys"), A("k1"), A("k2")), keys,
                flags);
    assert_int_equal(n, 2);
    assert_int_equal(keys[0], 4);
    assert_int_equal(keys[1], 5);
    assert_int_equal(flags[0], CMD_KS_RW | CMD_KS_DELETE);
    assert_int_equal(keys_of(migrate, 1, 4, ARGV(A("x"), A("h"), A("p"), A("k")), keys, flags), 0);

    /* a keyword searched forwards, one key after it; plus an index spec */
    const struct cmd_key_spec two[] = {
        { .flags = CMD_KS_RO,
          .bs_type = CMD_KS_INDEX,
          .bs = { .index = 1 },
          .fk_type = CMD_KS_RANGE,
          .fk = { .range = { 0, 1, 0 } } },
        { .flags = CMD_KS_OW,
          .bs_type = CMD_KS_KEYWORD,
          .bs = { .keyword = { "STORE", 2 } },
          .fk_type = CMD_KS_RANGE,
          .fk = { .range = { 0, 1, 0 } } },
    };
    n = keys_of(two, 2, 5, ARGV(A("x"), A("src"), A("by"), A("store"), A("dst")), keys, flags);
    assert_int_equal(n, 2);
    assert_int_equal(keys[0], 1);
    assert_int_equal(keys[1], 4);
    assert_int_equal(flags[0], CMD_KS_RO);
    assert_int_equal(flags[1], CMD_KS_OW);
    /* the keyword as the last word: it names no key */
    n = keys_of(two, 2, 4, ARGV(A("x"), A("src"), A("by"), A("store")), keys, flags);
    assert_int_equal(n, 1);

    /* a range with a limit of 2: half of the arguments from the first key */
    const struct cmd_key_spec limited[] = {
        { .flags = CMD_KS_RO,
          .bs_type = CMD_KS_INDEX,
          .bs = { .index = 1 },
          .fk_type = CMD_KS_RANGE,
          .fk = { .range = { -1, 1, 2 } } },
    };
    n = keys_of(limited, 1, 5, ARGV(A("x"), A("a"), A("b"), A("c"), A("d")), keys, flags);
    assert_int_equal(n, 2);
}

/* SET's key flags follow GET (its getkeys), while dispatch uses the triple. */
static void set_variable_flags(void **state)
{
    (void)state;
    const struct cmd_def *set = cmd_lookup("set", 3);
    int keys[4];
    uint32_t flags[4];
    assert_true(set->keyspecs[0].flags & CMD_KS_VARIABLE_FLAGS);
    assert_int_equal(cmd_get_keys_flags(set, 3, ARGV(A("set"), A("k"), A("v")), keys, flags, 4), 1);
    assert_int_equal(keys[0], 1);
    assert_int_equal(flags[0], CMD_KS_OW | CMD_KS_UPDATE);
    assert_int_equal(
        cmd_get_keys_flags(set, 4, ARGV(A("set"), A("k"), A("v"), A("gEt")), keys, flags, 4), 1);
    assert_int_equal(flags[0], CMD_KS_RW | CMD_KS_ACCESS | CMD_KS_UPDATE);
    assert_int_equal(cmd_get_keys(set, 4, ARGV(A("set"), A("k"), A("v"), A("get")), keys, 4), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(lookups, setup, teardown),
        cmocka_unit_test_setup_teardown(rename_command, setup, teardown),
        cmocka_unit_test(ids),
        cmocka_unit_test_setup_teardown(acl_categories, setup, teardown),
        cmocka_unit_test_setup_teardown(legacy_triple, setup, teardown),
        cmocka_unit_test(keyspecs_keynum_keyword),
        cmocka_unit_test_setup_teardown(set_variable_flags, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
