/*
 * The command table's share of dispatch (dataplane/cmd): what
 * worker/dispatch.c does with a parsed request before running it — find the
 * row (cmd_lookup; for a container, cmd_lookup_sub), check the arity, and
 * find the keys that route it (cmd_get_keys, the triple the build derives
 * from the key specs). The request's argv is built once; nothing allocates.
 */
#include <string.h>

#include "bench.h"
#include "cmd.h"

#define A(s)                                                                                       \
    {                                                                                              \
        (char *)(s), sizeof(s) - 1                                                                 \
    }

static void resolve_loop(struct bench_state *st, int argc, const struct resp_arg *argv,
                         int want_keys)
{
    cmd_table_setup();
    int keys[16], nk = 0;
    while (bench_keep_running(st)) {
        const struct cmd_def *d = cmd_lookup(argv[0].ptr, argv[0].len);
        if (d->subs != NULL)
            d = cmd_lookup_sub(d, argv[1].ptr, argv[1].len);
        if ((d->arity > 0 && argc != d->arity) || argc < -d->arity)
            break;
        nk = cmd_get_keys(d, argc, argv, keys, 16);
        bench_do_not_optimize(keys);
    }
    if (nk != want_keys)
        bench_skip(st, "unexpected key count");
    bench_set_items(st, bench_iterations(st));
    cmd_table_teardown();
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
