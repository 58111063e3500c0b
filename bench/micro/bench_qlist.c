/*
 * The chunked list (dataplane/types/qlist.h) at list-max-listpack-size -2 (8 KB nodes):
 * the work of LPUSH/RPUSH, LPOP/RPOP and LINDEX on a big list, and a snapshot's freeze.
 *
 * Elements are "value:N" strings (9-14 bytes, about 590 to an 8 KB node). Pushes and pops run in
 * batches of 100k on a list that is rebuilt, untimed, between batches, so a push never
 * lands on a list of more than 100k elements and a pop never on an empty one.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench/micro/microbench.h"
#include "types/qlist.h"

#define QBATCH 100000

static struct pack_elem value(char *buf, int n)
{
    int len = snprintf(buf, 32, "value:%d", n);
    return (struct pack_elem){ .kind = PACK_STR, .s = (unsigned char *)buf, .len = (size_t)len };
}

static struct qlist *filled(int n)
{
    struct qlist *l = qlist_create(QLIST_FILL_DEFAULT);
    char b[32];
    for (int i = 0; i < n; i++) {
        struct pack_elem e = value(b, i);
        if (qlist_push(l, false, &e) != 0)
            abort();
    }
    return l;
}

#define NVALUES 1024 /* distinct values pushed, prepared before the timed loop */

/* One iteration: one push at the head or the tail. */
static void run_push(struct bench_state *st, bool head)
{
    static char names[NVALUES][32];
    struct pack_elem vals[NVALUES];
    for (int i = 0; i < NVALUES; i++)
        vals[i] = value(names[i], i * 977);
    struct qlist *l = qlist_create(QLIST_FILL_DEFAULT);
    while (bench_keep_running_batch(st, QBATCH)) {
        for (int i = 0; i < QBATCH; i++)
            if (qlist_push(l, head, &vals[i % NVALUES]) != 0)
                abort();
        bench_pause(st);
        qlist_destroy(l);
        l = qlist_create(QLIST_FILL_DEFAULT);
        bench_resume(st);
    }
    bench_set_items(st, bench_iterations(st));
    qlist_destroy(l);
}

BENCH(qlist_push_head)
{
    run_push(st, true);
}

BENCH(qlist_push_tail)
{
    run_push(st, false);
}

/* One iteration: read the end element and remove it (LPOP / RPOP). */
static void run_pop(struct bench_state *st, bool head)
{
    uint64_t sum = 0;
    struct qlist *l = filled(QBATCH);
    while (bench_keep_running_batch(st, QBATCH)) {
        for (int i = 0; i < QBATCH; i++) {
            struct pack_elem e;
            if (!qlist_index(l, head ? 0 : -1, &e) || !qlist_pop(l, head))
                abort();
            sum += e.len;
        }
        bench_pause(st);
        qlist_destroy(l);
        l = filled(QBATCH);
        bench_resume(st);
    }
    BENCH_KEEP(sum);
    bench_set_items(st, bench_iterations(st));
    qlist_destroy(l);
}

BENCH(qlist_pop_head)
{
    run_pop(st, true);
}

BENCH(qlist_pop_tail)
{
    run_pop(st, false);
}

/* One iteration: LINDEX of an element near the middle (the farthest from both ends). */
BENCH_DEFINE(qlist_index_middle, BENCH_ARGLIST(10000, 1000000), .arg_name = "elements")
{
    int n = (int)bench_arg(st, 0);
    struct qlist *l = filled(n);
    uint64_t sum = 0;
    int i = 0;
    while (bench_keep_running(st)) {
        struct pack_elem e;
        if (!qlist_index(l, n / 2 - 500 + i, &e))
            abort();
        sum += e.len;
        i = (i + 37) % 1000;
    }
    BENCH_KEEP(sum);
    bench_set_items(st, bench_iterations(st));
    bench_counter(st, "nodes", qlist_nodes(l), BENCH_COUNTER_VALUE);
    qlist_destroy(l);
}

/* One iteration: freeze a list for a snapshot and release the view (O(nodes)). */
BENCH_DEFINE(qlist_freeze, BENCH_ARGLIST(1000000), .arg_name = "elements")
{
    struct qlist *l = filled((int)bench_arg(st, 0));
    while (bench_keep_running(st)) {
        struct qlist_view *v = qlist_freeze(l);
        bench_do_not_optimize(v);
        qlist_view_release(v);
    }
    bench_set_items(st, bench_iterations(st));
    qlist_destroy(l);
}
