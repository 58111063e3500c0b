/*
 * The command table's share of dispatch (dataplane/cmd): what
 * worker/dispatch.c does with a parsed request before running it — find the
 * row (cmd_lookup; for a container, cmd_lookup_sub), check the arity, and
 * find the keys that route it (cmd_get_keys, the triple the build derives
 * from the key specs). The request's argv is built once; nothing allocates.
 */
#include <stdio.h>
#include <string.h>

#include "acl/acl.h"
#include "bench/micro/microbench.h"
#include "cmd/cmd.h"

#define A(s)                                                                                       \
    {                                                                                              \
        (char *)(s), sizeof(s) - 1                                                                 \
    }

/*
 * With `rules` (ACL SETUSER rules, space-separated), each iteration also does
 * dispatch's permission check for a user with those rules (acl_check_fast).
 */
static void resolve_loop_acl(struct bench_state *st, int argc, const struct resp_arg *argv,
                             int want_keys, const char *rules)
{
    cmd_table_setup();
    acl_setup();
    struct acl_user *u = acl_default_get();
    if (rules != NULL) {
        char copy[256], err[256];
        const char *v[16];
        size_t l[16];
        int n = 0;
        snprintf(copy, sizeof(copy), "%s", rules);
        for (char *save, *t = strtok_r(copy, " ", &save); t != NULL && n < 16;
             t = strtok_r(NULL, " ", &save)) {
            v[n] = t;
            l[n++] = strlen(t);
        }
        acl_user_put(u);
        if (acl_setuser("bench", 5, n, v, l, err, sizeof(err)) != 0)
            bench_skip(st, err);
        u = acl_user_get("bench", 5);
    }
    int keys[16], nk = 0, pos;
    bool denied = false;
    while (bench_keep_running(st)) {
        const struct cmd_def *d = cmd_lookup(argv[0].ptr, argv[0].len);
        if (d->subs != NULL)
            d = cmd_lookup_sub(d, argv[1].ptr, argv[1].len);
        if ((d->arity > 0 && argc != d->arity) || argc < -d->arity)
            break;
        nk = cmd_get_keys(d, argc, argv, keys, 16);
        bench_do_not_optimize(keys);
        if (rules != NULL)
            denied |= acl_check_fast(acl_rules_of(u), d, argc, argv, &pos) != ACL_OK;
    }
    if (nk != want_keys || denied)
        bench_skip(st, "unexpected key count or ACL refusal");
    bench_set_items(st, bench_iterations(st));
    acl_user_put(u);
    acl_teardown();
    cmd_table_teardown();
}

static void resolve_loop(struct bench_state *st, int argc, const struct resp_arg *argv,
                         int want_keys)
{
    resolve_loop_acl(st, argc, argv, want_keys, NULL);
}

BENCH(cmd_resolve_get)
{
    const struct resp_arg argv[] = { A("GET"), A("key:0000000001") };
    resolve_loop(st, 2, argv, 1);
}

BENCH(cmd_resolve_set_ex)
{
    const struct resp_arg argv[] = { A("set"), A("key:0000000001"), A("value"), A("EX"), A("10") };
    resolve_loop(st, 5, argv, 1);
}

BENCH(cmd_resolve_mset8)
{
    const struct resp_arg argv[] = { A("MSET"), A("k1"), A("v"), A("k2"), A("v"), A("k3"),
                                     A("v"),    A("k4"), A("v"), A("k5"), A("v"), A("k6"),
                                     A("v"),    A("k7"), A("v"), A("k8"), A("v") };
    resolve_loop(st, 17, argv, 8);
}

BENCH(cmd_resolve_config_get)
{
    const struct resp_arg argv[] = { A("CONFIG"), A("GET"), A("maxmemory") };
    resolve_loop(st, 3, argv, 0);
}

/* The ACL check on top: the default user (allkeys: one bit test) ... */
BENCH(cmd_resolve_acl_default_get)
{
    const struct resp_arg argv[] = { A("GET"), A("key:0000000001") };
    resolve_loop_acl(st, 2, argv, 1, "on nopass allkeys +@all");
}

/* ... and a restricted user whose key patterns are matched against the key specs. */
BENCH(cmd_resolve_acl_patterns_get)
{
    const struct resp_arg argv[] = { A("GET"), A("key:0000000001") };
    resolve_loop_acl(st, 2, argv, 1, "on nopass %W~wo:* %R~ro:* ~key:* +@all -@dangerous");
}

BENCH(cmd_resolve_acl_patterns_mset8)
{
    const struct resp_arg argv[] = { A("MSET"), A("k1"), A("v"), A("k2"), A("v"), A("k3"),
                                     A("v"),    A("k4"), A("v"), A("k5"), A("v"), A("k6"),
                                     A("v"),    A("k7"), A("v"), A("k8"), A("v") };
    resolve_loop_acl(st, 17, argv, 8, "on nopass %R~ro:* ~k* +@all -@dangerous");
}
