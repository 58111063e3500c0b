/*
 * The per-shard hash table (dataplane/store): lookup hit and miss, insert and
 * delete at 1M keys, and at 10M keys when POLLUX_MICRO_LARGE is set (a 10M
 * table takes about 1 GB and several seconds to build), plus active expiry.
 *
 * Keys are "key:" and ten digits (14 bytes), values 32 bytes: the shape the
 * density notes in dataplane/store/NOTES.md use. Every timed operation hashes
 * its key (skey_init), as a command does. Keys are visited with a stride of
 * about 0.618 n, so consecutive operations touch unrelated buckets and
 * entries (keys inserted in order sit next to each other in memory; walking
 * them in order would hide the cache misses a real workload pays).
 *
 * A table is built once per size and kept for the whole process: insert and
 * delete restore it, with the clock paused, after every batch.
 */
#include <stdlib.h>
#include <string.h>

#include "bench/micro/microbench.h"
#include "store/store.h"

#define NOW_MS    1000000LL /* the store's clock during the benchmarks */
#define VAL_LEN   32
#define BATCH     16384 /* insert/delete: operations between two restores */
#define KEY_LEN   14
#define M_KEYS    1000000
#define LARGE     10000000
#define MAX_FIXT  4
#define EXP_KEYS  1000000
#define EXP_CHECK 200 /* max_checks per cycle, as the worker passes at active-expire-effort 1 */

static const char value[VAL_LEN] = "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv";

/* "pfx:" + ten digits of i into buf (no terminator); returns the length. */
static inline size_t key_fmt(char *buf, const char pfx[4], uint64_t i)
{
    memcpy(buf, pfx, 4);
    for (int d = 13; d >= 4; d--) {
        buf[d] = (char)('0' + i % 10);
        i /= 10;
    }
    return KEY_LEN;
}

/* A step near 0.618 n that is coprime with n, so idx += step visits every key once. */
static uint64_t stride_for(uint64_t n)
{
    uint64_t s = n * 618034 / 1000000;
    if (s == 0)
        s = 1;
    for (;; s++) {
        uint64_t a = n, b = s;
        while (b != 0) {
            uint64_t t = a % b;
            a = b;
            b = t;
        }
        if (a == 1)
            return s;
    }
}

struct fixture {
    uint64_t n;
    struct store *s;
    struct store_params params;
};

static struct fixture fixtures[MAX_FIXT];

static void finish_rehash(struct store *s)
{
    while (store_rehash_step(s, -1, 1u << 20)) {
    }
}

/* The table of n keys key:0..n-1, built on first use. */
static struct store *table_of(uint64_t n)
{
    struct fixture *f = NULL;
    for (int i = 0; i < MAX_FIXT; i++) {
        if (fixtures[i].n == n)
            return fixtures[i].s;
        if (f == NULL && fixtures[i].s == NULL)
            f = &fixtures[i];
    }
    if (f == NULL)
        abort(); /* more sizes than MAX_FIXT */
    param_defaults(store_param_defs, &f->params);
    f->s = store_create(&f->params);
    f->n = n;
    store_set_clock(f->s, NOW_MS);
    char kb[KEY_LEN];
    for (uint64_t i = 0; i < n; i++) {
        struct skey k;
        skey_init(&k, kb, key_fmt(kb, "key:", i));
        store_set(f->s, 0, &k, value, VAL_LEN, KV_ENC_RAW, -1, 0);
    }
    finish_rehash(f->s);
    return f->s;
}

#define TABLE_BENCH(name_)                                                                         \
    BENCH_DEFINE(name_, BENCH_ARGLIST(M_KEYS, LARGE), .arg_name = "keys", .large_from = LARGE)

static void lookup_loop(struct bench_state *st, const char pfx[4], bool expect_hit)
{
    uint64_t n = (uint64_t)bench_arg(st, 0);
    struct store *s = table_of(n);
    uint64_t step = stride_for(n), idx = 0, found = 0;
    char kb[KEY_LEN];
    while (bench_keep_running(st)) {
        struct skey k;
        skey_init(&k, kb, key_fmt(kb, pfx, idx));
        struct kv *e = store_lookup(s, 0, &k, NOW_MS, 0);
        found += e != NULL;
        bench_do_not_optimize(e);
        idx += step;
        if (idx >= n)
            idx -= n;
    }
    uint64_t iters = bench_iterations(st);
    if (found != (expect_hit ? iters : 0))
        bench_skip(st, "unexpected lookup result");
    bench_set_items(st, iters);
}

/* GET path of a present key: hash, bucket, entry, LRU update. */
TABLE_BENCH(store_lookup_hit)
{
    lookup_loop(st, "key:", true);
}

/* An absent key: the bucket chain is read, tags rule entries out. */
TABLE_BENCH(store_lookup_miss)
{
    lookup_loop(st, "nok:", false);
}

/*
 * SET of a new key into a table of n: batches of BATCH inserts, each followed
 * (clock paused) by deleting them again, so the table stays at n..n+BATCH.
 * A resize that the inserts start is paid by them, as in the server.
 */
TABLE_BENCH(store_insert)
{
    uint64_t n = (uint64_t)bench_arg(st, 0);
    struct store *s = table_of(n);
    uint64_t next = 0;
    char kb[KEY_LEN];
    while (bench_keep_running_batch(st, BATCH)) {
        uint64_t first = next;
        for (int j = 0; j < BATCH; j++) {
            struct skey k;
            skey_init(&k, kb, key_fmt(kb, "new:", next++));
            bench_do_not_optimize(store_set(s, 0, &k, value, VAL_LEN, KV_ENC_RAW, -1, 0));
        }
        bench_pause(st);
        for (uint64_t i = first; i < next; i++) {
            struct skey k;
            skey_init(&k, kb, key_fmt(kb, "new:", i));
            store_delete(s, 0, &k, NOW_MS);
        }
        finish_rehash(s);
        bench_resume(st);
    }
    if (store_count(s, 0) != n)
        bench_skip(st, "table not restored");
    bench_set_items(st, bench_iterations(st));
}

/* DEL of a present key: batches of BATCH deletes, re-inserted with the clock paused. */
TABLE_BENCH(store_delete)
{
    uint64_t n = (uint64_t)bench_arg(st, 0);
    struct store *s = table_of(n);
    uint64_t step = stride_for(n), idx = 0, deleted = 0;
    char kb[KEY_LEN];
    while (bench_keep_running_batch(st, BATCH)) {
        uint64_t first = idx;
        for (int j = 0; j < BATCH; j++) {
            struct skey k;
            skey_init(&k, kb, key_fmt(kb, "key:", idx));
            deleted += store_delete(s, 0, &k, NOW_MS);
            idx += step;
            if (idx >= n)
                idx -= n;
        }
        bench_pause(st);
        idx = first;
        for (int j = 0; j < BATCH; j++) {
            struct skey k;
            skey_init(&k, kb, key_fmt(kb, "key:", idx));
            store_set(s, 0, &k, value, VAL_LEN, KV_ENC_RAW, -1, 0);
            idx += step;
            if (idx >= n)
                idx -= n;
        }
        finish_rehash(s);
        bench_resume(st);
    }
    if (deleted != bench_iterations(st) || store_count(s, 0) != n)
        bench_skip(st, "unexpected delete result");
    bench_set_items(st, bench_iterations(st));
}

/*
 * Active expiry: one store_expire_cycle(now, 200) per iteration over a store
 * of 1M volatile keys, `stale_pct` percent of them already expired. Keys are
 * scattered by their hash, so the cursor meets stale keys at that rate until
 * about half of them are gone; then they are re-created with the clock paused.
 * Items are keys expired (0 at 0%: the cost of a cycle that finds nothing).
 */
static struct {
    int pct;
    struct store *s;
    struct store_params params;
} exp_fix = { -1, NULL, { 0 } };

static void exp_fill(int pct, bool stale_only)
{
    char kb[KEY_LEN];
    for (uint64_t i = 0; i < EXP_KEYS; i++) {
        bool stale = (int)(i % 100) < pct;
        if (stale_only && !stale)
            continue;
        struct skey k;
        skey_init(&k, kb, key_fmt(kb, "exp:", i));
        store_set(exp_fix.s, 0, &k, value, VAL_LEN, KV_ENC_RAW,
                  stale ? NOW_MS - 1000 : NOW_MS + 1000000000LL, 0);
    }
    finish_rehash(exp_fix.s);
}

BENCH_DEFINE(store_expire_cycle, BENCH_ARGLIST(0, 25), .arg_name = "stale_pct",
             .unit = BENCH_UNIT_US)
{
    int pct = (int)bench_arg(st, 0);
    if (exp_fix.pct != pct) {
        if (exp_fix.s != NULL)
            store_destroy(exp_fix.s);
        param_defaults(store_param_defs, &exp_fix.params);
        exp_fix.s = store_create(&exp_fix.params);
        exp_fix.pct = pct;
        store_set_clock(exp_fix.s, NOW_MS);
        exp_fill(pct, false);
    }
    struct store *s = exp_fix.s;
    uint64_t refill_at = (uint64_t)EXP_KEYS * (uint64_t)pct / 200;
    uint64_t since_fill = 0, expired = 0;
    while (bench_keep_running(st)) {
        size_t x = store_expire_cycle(s, NOW_MS, EXP_CHECK);
        since_fill += x;
        expired += x;
        if (pct > 0 && since_fill >= refill_at) {
            bench_pause(st);
            exp_fill(pct, true);
            since_fill = 0;
            bench_resume(st);
        }
    }
    bench_set_items(st, expired);
    bench_counter(st, "expired_per_cycle", (double)expired, BENCH_COUNTER_AVG);
}
