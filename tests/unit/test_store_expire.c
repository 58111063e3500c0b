#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "store/store.h"
#include "base/util.h"

static struct store_params params;

static struct store *new_store(int databases)
{
    param_defaults(store_param_defs, &params);
    params.databases = databases;
    util_rand_seed(99);
    return store_create(&params);
}

static struct skey key_n(char *buf, size_t cap, int i)
{
    struct skey k;
    int n = snprintf(buf, cap, "key:%d", i);
    skey_init(&k, buf, (size_t)n);
    return k;
}

static int key_id(const struct kv *e)
{
    size_t len;
    const char *p = kv_key(e, &len);
    long long id = -1;
    assert_true(len > 4 && memcmp(p, "key:", 4) == 0);
    assert_true(util_str2ll(p + 4, len - 4, &id));
    return (int)id;
}

/* The removed hook records how often each key was reported. */
struct hook_log {
    unsigned char *calls;
    size_t n;
    size_t total;
    int last_db;
};

static void hook_record(void *arg, int db, const struct kv *e, bool evicted)
{
    struct hook_log *h = arg;
    assert_false(evicted);
    int id = key_id(e);
    assert_true(id >= 0 && (size_t)id < h->n);
    h->calls[id]++;
    h->total++;
    h->last_db = db;
}

static void lazy_expiry(void **state)
{
    (void)state;
    struct store *s = new_store(2);
    struct hook_log h = { calloc(16, 1), 16, 0, -1 };
    store_set_removed_hook(s, hook_record, &h);
    char buf[32];
    for (int i = 0; i < 3; i++) {
        struct skey k = key_n(buf, sizeof(buf), i);
        store_set(s, 1, &k, "v", 1, KV_ENC_RAW, 1000, 0);
    }
    assert_int_equal(store_count(s, 1), 3);
    assert_int_equal(store_volatile_count(s, 1), 3);

    /* Alive up to and including its expiry time, gone after. */
    struct skey k0 = key_n(buf, sizeof(buf), 0);
    assert_non_null(store_lookup(s, 1, &k0, 1000, 0));
    assert_null(store_lookup(s, 1, &k0, 1001, 0));
    assert_int_equal(h.calls[0], 1);
    assert_int_equal(h.last_db, 1);
    assert_null(store_lookup(s, 1, &k0, 1001, 0));
    assert_int_equal(h.calls[0], 1);
    assert_int_equal(store_count(s, 1), 2);
    assert_int_equal(store_stats(s)->keyspace_misses, 2);

    /* store_delete of an expired key: absent, but removed and counted as expired */
    struct skey k1 = key_n(buf, sizeof(buf), 1);
    assert_false(store_delete(s, 1, &k1, 5000));
    assert_int_equal(h.calls[1], 1);
    assert_int_equal(store_count(s, 1), 1);

    /* store_random meets only the expired key 2 and returns nothing */
    assert_null(store_random(s, 1, 5000));
    assert_int_equal(h.calls[2], 1);
    assert_int_equal(store_count(s, 1), 0);
    assert_int_equal(store_volatile_count(s, 1), 0);
    assert_int_equal(store_stats(s)->expired_keys, 3);
    assert_int_equal(h.total, 3);

    /* a live key is deleted without the hook */
    struct skey k3 = key_n(buf, sizeof(buf), 3);
    store_set(s, 0, &k3, "v", 1, KV_ENC_RAW, 9000, 0);
    assert_true(store_delete(s, 0, &k3, 5000));
    assert_int_equal(h.total, 3);
    free(h.calls);
    store_destroy(s);
}

/* Expired keys a test can see without removing them: walk with SCAN. */
struct stale_count {
    int64_t now;
    size_t volatile_keys;
    size_t stale;
};

static void count_stale(void *arg, struct kv *e)
{
    struct stale_count *c = arg;
    int64_t when = kv_expire(e);
    if (when >= 0) {
        c->volatile_keys++;
        c->stale += c->now > when;
    }
}

static struct stale_count measure(struct store *s, int db, int64_t now)
{
    struct stale_count c = { now, 0, 0 };
    uint64_t cursor = 0;
    do {
        cursor = store_scan(s, db, cursor, count_stale, &c);
    } while (cursor != 0);
    return c;
}

static void active_cycle_bounded(void **state)
{
    (void)state;
    struct store *s = new_store(1);
    char buf[32];
    const int n = 100000;
    for (int i = 0; i < n; i++) {
        struct skey k = key_n(buf, sizeof(buf), i);
        store_set(s, 0, &k, "v", 1, KV_ENC_RAW, 100, 0);
    }
    while (store_rehash_step(s, 0, 1000))
        ;
    size_t total = 0;
    for (size_t max = 1; max <= 1000; max *= 10) {
        size_t r = store_expire_cycle(s, 200, max);
        /* A cycle may finish the bucket chain it is in: at most a few entries more. */
        assert_true(r >= 1);
        assert_true(r <= max + 16);
        total += r;
    }
    assert_int_equal(store_count(s, 0), (size_t)n - total);
    assert_int_equal(store_stats(s)->expired_keys, total);
    /* Every cycle stopped with the sample still all stale. */
    assert_int_equal(store_stats(s)->expired_time_cap_reached_count, 4);
    assert_int_equal(store_stats(s)->expired_stale_perc, 100);
    store_destroy(s);
}

/*
 * Half of 100k volatile keys have expired. Repeated budget-limited cycles
 * bring the stale fraction below a few percent, each key reported once.
 */
static void stale_fraction_drops(void **state)
{
    (void)state;
    struct store *s = new_store(1);
    const int n = 100000;
    struct hook_log h = { calloc((size_t)n, 1), (size_t)n, 0, -1 };
    store_set_removed_hook(s, hook_record, &h);
    char buf[32];
    for (int i = 0; i < n; i++) {
        struct skey k = key_n(buf, sizeof(buf), i);
        store_set(s, 0, &k, "value", 5, KV_ENC_RAW, i % 2 ? 10000 : 1000000, 0);
    }
    int64_t now = 20000;
    struct stale_count c = measure(s, 0, now);
    assert_int_equal(c.volatile_keys, (size_t)n);
    assert_int_equal(c.stale, (size_t)n / 2);

    /* Some expired keys go lazily first; active expiry must not report them again. */
    for (int i = 1; i < 2000; i += 2) {
        struct skey k = key_n(buf, sizeof(buf), i);
        assert_null(store_lookup(s, 0, &k, now, 0));
    }
    assert_int_equal(h.total, 1000);

    int cycles = 0;
    while (cycles < 1000) {
        store_expire_cycle(s, now, 500);
        cycles++;
        c = measure(s, 0, now);
        if (c.stale * 100 < c.volatile_keys * 2)
            break;
    }
    printf("stale %.2f%% after %d cycles of 500 checks; last estimate %llu%%\n",
           100.0 * (double)c.stale / (double)c.volatile_keys, cycles,
           (unsigned long long)store_stats(s)->expired_stale_perc);
    assert_true(c.stale * 100 < c.volatile_keys * 2);
    /* One sweep of the cursor, about one check per volatile key, was enough. */
    assert_true(cycles * 500 <= n * 11 / 10);
    /*
     * What is left lies just ahead of the cursor, so the next cycles still see
     * it as very stale; once it is gone a cycle samples, finds nothing, stops.
     */
    store_expire_cycle(s, now, 500);
    assert_true(store_stats(s)->expired_stale_perc > 10);
    while (measure(s, 0, now).stale > 0 && cycles++ < 2000)
        store_expire_cycle(s, now, 500);
    store_expire_cycle(s, now, 500);
    assert_int_equal(store_stats(s)->expired_stale_perc, 0);

    /* Every expired key was reported exactly once. */
    for (int i = 1; i < n; i += 2) {
        struct skey k = key_n(buf, sizeof(buf), i);
        assert_null(store_lookup(s, 0, &k, now, 0));
    }
    assert_int_equal(store_count(s, 0), (size_t)n / 2);
    assert_int_equal(store_volatile_count(s, 0), (size_t)n / 2);
    for (int i = 0; i < n; i++)
        assert_int_equal(h.calls[i], i % 2);
    assert_int_equal(h.total, (size_t)n / 2);
    assert_int_equal(store_stats(s)->expired_keys, (size_t)n / 2);
    free(h.calls);
    store_destroy(s);
}

/* A cycle that finds nothing stale stops after a sample, and never touches persistent keys. */
static void cycle_stops_when_clean(void **state)
{
    (void)state;
    struct store *s = new_store(3);
    char buf[32];
    for (int i = 0; i < 30000; i++) {
        struct skey k = key_n(buf, sizeof(buf), i);
        store_set(s, i % 3, &k, "v", 1, KV_ENC_RAW, i % 3 == 2 ? 50 : (i % 2 ? 5000 : -1), 0);
    }
    /* db 2 is all stale at 100; dbs 0 and 1 have nothing stale. */
    size_t r = 0;
    for (int i = 0; i < 200 && store_count(s, 2) > 0; i++)
        r += store_expire_cycle(s, 100, 1000);
    assert_int_equal(r, 10000);
    assert_int_equal(store_count(s, 2), 0);
    assert_int_equal(store_count(s, 0), 10000);
    assert_int_equal(store_count(s, 1), 10000);
    assert_int_equal(store_expire_cycle(s, 100, 1000000), 0);
    assert_int_equal(store_stats(s)->expired_stale_perc, 0);
    store_destroy(s);
}

/* avg_ttl follows the sampled TTLs: near 5 s, then 0 once nothing is volatile. */
static void average_ttl(void **state)
{
    (void)state;
    struct store *s = new_store(1);
    char buf[32];
    assert_int_equal(store_avg_ttl(s, 0), 0);
    for (int i = 0; i < 2000; i++) {
        struct skey k = key_n(buf, sizeof(buf), i);
        store_set(s, 0, &k, "v", 1, KV_ENC_RAW, i % 2 ? 4000 : 6000, 0);
    }
    for (int i = 0; i < 400; i++)
        store_expire_cycle(s, 0, 1000);
    long long avg = store_avg_ttl(s, 0);
    /* TTLs 4000 and 6000 in equal numbers: the running average must not drift low */
    assert_true(avg > 4800 && avg < 5200);
    store_flush(s, 0, STORE_DROP_SYNC);
    assert_int_equal(store_avg_ttl(s, 0), 0);
    store_destroy(s);
}

static void keepttl_and_counts(void **state)
{
    (void)state;
    struct store *s = new_store(1);
    struct skey k;
    skey_init(&k, "k", 1);
    store_set(s, 0, &k, "a", 1, KV_ENC_RAW, 7000, 0);
    assert_int_equal(store_volatile_count(s, 0), 1);

    struct kv *e = store_set(s, 0, &k, "bb", 2, KV_ENC_RAW, -1, STORE_KEEPTTL);
    assert_true(kv_expire(e) == 7000);
    assert_int_equal(store_volatile_count(s, 0), 1);
    /* expire_ms is ignored under KEEPTTL */
    e = store_set(s, 0, &k, "cc", 2, KV_ENC_RAW, 1, STORE_KEEPTTL);
    assert_true(kv_expire(e) == 7000);
    e = store_set(s, 0, &k, "ddd", 3, KV_ENC_RAW, 8000, 0);
    assert_true(kv_expire(e) == 8000);
    assert_int_equal(store_volatile_count(s, 0), 1);
    e = store_set(s, 0, &k, "e", 1, KV_ENC_RAW, -1, 0);
    assert_true(kv_expire(e) == -1);
    assert_int_equal(store_volatile_count(s, 0), 0);

    struct skey n;
    skey_init(&n, "new", 3);
    e = store_set(s, 0, &n, "x", 1, KV_ENC_RAW, 5, STORE_KEEPTTL);
    assert_true(kv_expire(e) == -1);
    assert_int_equal(store_volatile_count(s, 0), 0);

    e = store_lookup(s, 0, &k, 0, 0);
    e = store_set_expire(s, 0, e, 100);
    assert_int_equal(store_volatile_count(s, 0), 1);
    e = store_set_expire(s, 0, e, 200);
    assert_int_equal(store_volatile_count(s, 0), 1);
    assert_true(kv_expire(e) == 200);
    e = store_set_expire(s, 0, e, -1);
    assert_int_equal(store_volatile_count(s, 0), 0);
    e = store_set_expire(s, 0, e, -1);
    assert_int_equal(store_volatile_count(s, 0), 0);
    e = store_set_expire(s, 0, e, 300);
    assert_int_equal(store_volatile_count(s, 0), 1);
    /* a persisted key is out of reach of active expiry; an expiring one is not */
    struct kv *m = store_lookup(s, 0, &n, 0, 0);
    store_set_expire(s, 0, m, 50);
    assert_int_equal(store_volatile_count(s, 0), 2);
    store_set_expire(s, 0, store_lookup(s, 0, &k, 0, 0), -1);
    assert_int_equal(store_expire_cycle(s, 1000000, 100), 1);
    assert_int_equal(store_count(s, 0), 1);
    assert_int_equal(store_volatile_count(s, 0), 0);
    assert_true(store_delete(s, 0, &k, 1000000));
    assert_int_equal(store_count(s, 0), 0);

    store_set(s, 0, &k, "a", 1, KV_ENC_RAW, 10, 0);
    store_flush(s, 0, STORE_DROP_SYNC);
    assert_int_equal(store_volatile_count(s, 0), 0);
    store_destroy(s);
}

/* Active expiry keeps working while the table is being resized under it. */
static void expire_during_rehash(void **state)
{
    (void)state;
    struct store *s = new_store(1);
    char buf[32];
    const int n = 40000;
    for (int i = 0; i < n; i++) {
        struct skey k = key_n(buf, sizeof(buf), i);
        store_set(s, 0, &k, "v", 1, KV_ENC_RAW, i % 4 == 0 ? 10 : -1, 0);
    }
    size_t removed = 0;
    for (int round = 0; round < 400 && removed < (size_t)n / 4; round++) {
        removed += store_expire_cycle(s, 20, 300);
        /* keep inserting persistent keys so that resizes keep happening */
        for (int j = 0; j < 200; j++) {
            struct skey k = key_n(buf, sizeof(buf), n + round * 200 + j);
            store_set(s, 0, &k, "v", 1, KV_ENC_RAW, -1, 0);
        }
    }
    assert_int_equal(removed, (size_t)n / 4);
    assert_int_equal(store_volatile_count(s, 0), 0);
    for (int i = 0; i < n; i++) {
        struct skey k = key_n(buf, sizeof(buf), i);
        assert_int_equal(store_lookup(s, 0, &k, 20, STORE_NOTOUCH) != NULL, i % 4 != 0);
    }
    store_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lazy_expiry),          cmocka_unit_test(active_cycle_bounded),
        cmocka_unit_test(stale_fraction_drops), cmocka_unit_test(cycle_stops_when_clean),
        cmocka_unit_test(keepttl_and_counts),   cmocka_unit_test(average_ttl),
        cmocka_unit_test(expire_during_rehash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
