#include <errno.h>
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

#define T0 1000000000LL /* ms; the LRU clock counts seconds, the LFU clock minutes */

static struct store_params params;

/* Which keys the store evicted, by id, as told by the removed hook. */
struct evictions {
    unsigned char *by_id;
    size_t n;
    size_t total;
    size_t per_db[4];
};

static void on_removed(void *arg, int db, const struct kv *e, bool evicted)
{
    struct evictions *ev = arg;
    assert_true(evicted);
    size_t len;
    const char *p = kv_key(e, &len);
    long long id = -1;
    assert_true(len > 4 && util_str2ll(p + 4, len - 4, &id)); /* keys are not NUL-terminated */
    assert_true(id >= 0 && (size_t)id < ev->n);
    assert_int_equal(ev->by_id[id], 0);
    ev->by_id[id] = 1;
    ev->total++;
    ev->per_db[db]++;
}

static struct store *new_store(int databases, enum store_policy policy, struct evictions *ev,
                               size_t nkeys)
{
    param_defaults(store_param_defs, &params);
    params.databases = databases;
    params.maxmemory_policy = policy;
    util_rand_seed(4242);
    struct store *s = store_create(&params);
    memset(ev, 0, sizeof(*ev));
    ev->by_id = calloc(nkeys, 1);
    ev->n = nkeys;
    store_set_removed_hook(s, on_removed, ev);
    store_set_clock(s, T0);
    return s;
}

static void done(struct store *s, struct evictions *ev)
{
    assert_int_equal(store_stats(s)->evicted_keys, ev->total);
    assert_int_equal(store_stats(s)->expired_keys, 0);
    free(ev->by_id);
    store_destroy(s);
}

static struct skey key_n(char *buf, int i)
{
    struct skey k;
    int n = snprintf(buf, 32, "key:%d", i);
    skey_init(&k, buf, (size_t)n);
    return k;
}

static void put(struct store *s, int db, int i, int64_t expire)
{
    char buf[32];
    struct skey k = key_n(buf, i);
    store_set(s, db, &k, "0123456789abcdef0123456789abcdef", 32, KV_ENC_RAW, expire, 0);
}

static void touch(struct store *s, int db, int i, int64_t now)
{
    char buf[32];
    struct skey k = key_n(buf, i);
    assert_non_null(store_lookup(s, db, &k, now, 0));
}

static bool exists(struct store *s, int db, int i)
{
    char buf[32];
    struct skey k = key_n(buf, i);
    return store_lookup(s, db, &k, T0, STORE_NOTOUCH) != NULL;
}

/* A limit that leaves about `keep` of the memory the keys use now. */
static size_t limit_keeping(struct store *s, size_t base, double keep)
{
    return base + (size_t)((double)(store_used(s) - base) * keep);
}

static void noeviction_refuses(void **state)
{
    (void)state;
    struct evictions ev;
    struct store *s = new_store(1, POLICY_NOEVICTION, &ev, 100);
    for (int i = 0; i < 100; i++)
        put(s, 0, i, -1);
    size_t used = store_used(s);
    assert_int_equal(store_evict(s, used, T0), 0);
    assert_int_equal(store_evict(s, used - 1, T0), -ENOMEM);
    assert_int_equal(store_count(s, 0), 100);
    assert_int_equal(store_used(s), used);
    done(s, &ev);
}

/*
 * allkeys-lru: half of the keys are read 100 s after creation; at 200 s a
 * quarter of the memory must go. Nearly all victims are unread keys.
 */
static void allkeys_lru_prefers_idle(void **state)
{
    (void)state;
    const int n = 20000;
    struct evictions ev;
    struct store *s = new_store(1, POLICY_ALLKEYS_LRU, &ev, (size_t)n);
    size_t base = store_used(s);
    for (int i = 0; i < n; i++)
        put(s, 0, i, -1);
    for (int i = 1; i < n; i += 2)
        touch(s, 0, i, T0 + 100000);
    size_t limit = limit_keeping(s, base, 0.75);
    assert_int_equal(store_evict(s, limit, T0 + 200000), 0);
    assert_true(store_used(s) <= limit);
    size_t old = 0;
    for (int i = 0; i < n; i += 2)
        old += ev.by_id[i];
    printf("allkeys-lru: %zu evicted, %.1f%% of them idle keys\n", ev.total,
           100.0 * (double)old / (double)ev.total);
    assert_true(ev.total >= (size_t)n / 5);
    assert_true(old * 100 >= ev.total * 95);
    done(s, &ev);
}

/* Idle time decides across databases too: the pool compares them all. */
static void lru_across_databases(void **state)
{
    (void)state;
    struct evictions ev;
    struct store *s = new_store(2, POLICY_ALLKEYS_LRU, &ev, 4000);
    size_t base = store_used(s);
    for (int i = 0; i < 2000; i++)
        put(s, 0, i, -1);
    store_set_clock(s, T0 + 50000);
    for (int i = 2000; i < 4000; i++)
        put(s, 1, i, -1);
    size_t limit = limit_keeping(s, base, 0.8);
    assert_int_equal(store_evict(s, limit, T0 + 60000), 0);
    printf("lru over 2 dbs: db0 %zu, db1 %zu evicted\n", ev.per_db[0], ev.per_db[1]);
    assert_true(ev.per_db[0] >= ev.total * 9 / 10);
    done(s, &ev);
}

/* allkeys-lfu: keys read often survive, keys never read go. */
static void allkeys_lfu_prefers_rare(void **state)
{
    (void)state;
    const int n = 10000;
    struct evictions ev;
    struct store *s = new_store(1, POLICY_ALLKEYS_LFU, &ev, (size_t)n);
    assert_true(store_policy_is_lfu(s));
    size_t base = store_used(s);
    for (int i = 0; i < n; i++)
        put(s, 0, i, -1);
    for (int r = 0; r < 100; r++) {
        for (int i = 1; i < n; i += 2)
            touch(s, 0, i, T0);
    }
    char buf[32];
    struct skey hot = key_n(buf, 1);
    struct kv *e = store_lookup(s, 0, &hot, T0, STORE_NOTOUCH);
    assert_true(store_lfu_freq(s, e, T0) > 5);
    size_t limit = limit_keeping(s, base, 0.7);
    assert_int_equal(store_evict(s, limit, T0), 0);
    assert_true(store_used(s) <= limit);
    size_t cold = 0;
    for (int i = 0; i < n; i += 2)
        cold += ev.by_id[i];
    printf("allkeys-lfu: %zu evicted, %.1f%% of them never read\n", ev.total,
           100.0 * (double)cold / (double)ev.total);
    assert_true(cold * 100 >= ev.total * 95);
    done(s, &ev);
}

/*
 * volatile-lru: victims are volatile keys, idle ones first; once none is
 * left the store reports -ENOMEM and every persistent key is still there.
 */
static void volatile_lru_spares_persistent(void **state)
{
    (void)state;
    const int n = 8000;
    struct evictions ev;
    struct store *s = new_store(1, POLICY_VOLATILE_LRU, &ev, (size_t)n);
    size_t base = store_used(s);
    for (int i = 0; i < n; i++)
        put(s, 0, i, i % 2 ? T0 + 10000000 : -1); /* odd ids are volatile */
    for (int i = 3; i < n; i += 4)
        touch(s, 0, i, T0 + 100000); /* half of the volatile keys are recent */
    size_t limit = limit_keeping(s, base, 0.85);
    assert_int_equal(store_evict(s, limit, T0 + 200000), 0);
    size_t idle = 0;
    for (int i = 0; i < n; i++) {
        if (ev.by_id[i]) {
            assert_true(i % 2 == 1);
            idle += i % 4 == 1;
        }
    }
    assert_true(idle * 100 >= ev.total * 90);

    assert_int_equal(store_evict(s, 0, T0 + 200000), -ENOMEM);
    assert_int_equal(store_volatile_count(s, 0), 0);
    assert_int_equal(store_count(s, 0), (size_t)n / 2);
    for (int i = 0; i < n; i += 2)
        assert_true(exists(s, 0, i));
    assert_int_equal(ev.total, (size_t)n / 2);
    done(s, &ev);
}

static void volatile_lfu_spares_persistent(void **state)
{
    (void)state;
    const int n = 8000;
    struct evictions ev;
    struct store *s = new_store(1, POLICY_VOLATILE_LFU, &ev, (size_t)n);
    size_t base = store_used(s);
    for (int i = 0; i < n; i++)
        put(s, 0, i, i % 2 ? T0 + 10000000 : -1);
    for (int r = 0; r < 50; r++) {
        for (int i = 3; i < n; i += 4)
            touch(s, 0, i, T0);
    }
    size_t limit = limit_keeping(s, base, 0.85);
    assert_int_equal(store_evict(s, limit, T0), 0);
    size_t rare = 0;
    for (int i = 0; i < n; i++) {
        if (ev.by_id[i]) {
            assert_true(i % 2 == 1);
            rare += i % 4 == 1;
        }
    }
    assert_true(rare * 100 >= ev.total * 90);
    assert_int_equal(store_evict(s, 0, T0), -ENOMEM);
    assert_int_equal(store_count(s, 0), (size_t)n / 2);
    assert_int_equal(store_volatile_count(s, 0), 0);
    done(s, &ev);
}

static void volatile_random_spares_persistent(void **state)
{
    (void)state;
    const int n = 6000;
    struct evictions ev;
    struct store *s = new_store(2, POLICY_VOLATILE_RANDOM, &ev, (size_t)n);
    size_t base = store_used(s);
    for (int i = 0; i < n; i++)
        put(s, i % 2, i, i % 3 == 0 ? T0 + 1000 : -1);
    size_t limit = limit_keeping(s, base, 0.9);
    assert_int_equal(store_evict(s, limit, T0), 0);
    assert_true(store_used(s) <= limit);
    for (int i = 0; i < n; i++)
        assert_true(!ev.by_id[i] || i % 3 == 0);
    assert_true(ev.per_db[0] > 0 && ev.per_db[1] > 0);
    assert_int_equal(store_evict(s, 0, T0), -ENOMEM);
    assert_int_equal(ev.total, (size_t)n / 3);
    assert_int_equal(store_count(s, 0) + store_count(s, 1), (size_t)n * 2 / 3);
    done(s, &ev);
}

/* volatile-ttl: the keys that would expire soonest go first. */
static void volatile_ttl_prefers_soonest(void **state)
{
    (void)state;
    const int n = 10000;
    struct evictions ev;
    struct store *s = new_store(1, POLICY_VOLATILE_TTL, &ev, (size_t)n);
    size_t base = store_used(s);
    /* volatile keys (odd ids) expire in the order of a scrambled id */
    for (int i = 0; i < n; i++)
        put(s, 0, i, i % 2 ? T0 + 1000 + (int64_t)((i * 7919) % n) * 1000 : -1);
    size_t limit = limit_keeping(s, base, 0.85);
    assert_int_equal(store_evict(s, limit, T0), 0);
    size_t soon = 0;
    for (int i = 0; i < n; i++) {
        if (ev.by_id[i]) {
            assert_true(i % 2 == 1);
            soon += (i * 7919) % n < n / 2;
        }
    }
    printf("volatile-ttl: %zu evicted, %.1f%% from the sooner half\n", ev.total,
           100.0 * (double)soon / (double)ev.total);
    assert_true(soon * 100 >= ev.total * 95);
    assert_int_equal(store_evict(s, 0, T0), -ENOMEM);
    assert_int_equal(store_count(s, 0), (size_t)n / 2);
    done(s, &ev);
}

static void allkeys_random_empties_all(void **state)
{
    (void)state;
    const int n = 9000;
    struct evictions ev;
    struct store *s = new_store(3, POLICY_ALLKEYS_RANDOM, &ev, (size_t)n);
    size_t base = store_used(s);
    for (int i = 0; i < n; i++)
        put(s, i % 3, i, i % 5 ? -1 : T0 + 100);
    size_t limit = limit_keeping(s, base, 0.5);
    assert_int_equal(store_evict(s, limit, T0), 0);
    assert_true(store_used(s) <= limit);
    for (int db = 0; db < 3; db++)
        assert_true(ev.per_db[db] > 0);
    assert_int_equal(store_count(s, 0) + store_count(s, 1) + store_count(s, 2),
                     (size_t)n - ev.total);
    /* Down to nothing: every key can go, then there is nothing left to evict. */
    assert_int_equal(store_evict(s, 0, T0), -ENOMEM);
    assert_int_equal(ev.total, (size_t)n);
    assert_int_equal(store_used(s), base);
    assert_int_equal(store_evict(s, base, T0), 0);
    done(s, &ev);
}

/* The policy is read on every call, and OBJECT IDLETIME / FREQ follow it. */
static void policy_changes_at_run_time(void **state)
{
    (void)state;
    const int n = 4000;
    struct evictions ev;
    struct store *s = new_store(1, POLICY_ALLKEYS_LRU, &ev, (size_t)n);
    char buf[32];
    struct skey k = key_n(buf, 7);
    put(s, 0, 7, -1);
    struct kv *e = store_lookup(s, 0, &k, T0, STORE_NOTOUCH);
    assert_false(store_policy_is_lfu(s));
    assert_int_equal(store_idle_seconds(s, e, T0 + 12345), 12);
    store_lookup(s, 0, &k, T0 + 12345, 0);
    assert_int_equal(store_idle_seconds(s, e, T0 + 20000), 8);
    store_lookup(s, 0, &k, T0 + 30000, STORE_NOTOUCH);
    assert_int_equal(store_idle_seconds(s, e, T0 + 30000), 18);

    params.maxmemory_policy = POLICY_ALLKEYS_LFU;
    assert_true(store_policy_is_lfu(s));
    store_delete(s, 0, &k, T0);
    put(s, 0, 7, -1);
    e = store_lookup(s, 0, &k, T0, STORE_NOTOUCH);
    assert_int_equal(store_lfu_freq(s, e, T0), 5); /* new keys start at 5 */
    assert_int_equal(store_lfu_freq(s, e, T0 + 3 * 60000), 2);
    params.lfu_decay_time = 2;
    assert_int_equal(store_lfu_freq(s, e, T0 + 3 * 60000), 4);
    params.lfu_decay_time = 0;
    assert_int_equal(store_lfu_freq(s, e, T0 + 300 * 60000), 5);
    params.lfu_decay_time = 1;
    /* An overwrite under LFU keeps the counter. */
    for (int i = 0; i < 200; i++)
        store_lookup(s, 0, &k, T0, 0);
    int f = store_lfu_freq(s, store_lookup(s, 0, &k, T0, STORE_NOTOUCH), T0);
    assert_true(f > 6);
    put(s, 0, 7, -1);
    assert_int_equal(store_lfu_freq(s, store_lookup(s, 0, &k, T0, STORE_NOTOUCH), T0), f);

    /* After the switch, eviction ranks by frequency: the often read half stays. */
    size_t base = store_used(s);
    for (int i = 100; i < n; i++)
        put(s, 0, i, -1);
    for (int r = 0; r < 60; r++) {
        for (int i = 101; i < n; i += 2)
            touch(s, 0, i, T0);
    }
    size_t limit = limit_keeping(s, base, 0.75);
    assert_int_equal(store_evict(s, limit, T0), 0);
    size_t rare = 0;
    for (int i = 100; i < n; i += 2)
        rare += ev.by_id[i];
    assert_true(rare * 100 >= ev.total * 90);
    done(s, &ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(noeviction_refuses),
        cmocka_unit_test(allkeys_lru_prefers_idle),
        cmocka_unit_test(lru_across_databases),
        cmocka_unit_test(allkeys_lfu_prefers_rare),
        cmocka_unit_test(volatile_lru_spares_persistent),
        cmocka_unit_test(volatile_lfu_spares_persistent),
        cmocka_unit_test(volatile_random_spares_persistent),
        cmocka_unit_test(volatile_ttl_prefers_soonest),
        cmocka_unit_test(allkeys_random_empties_all),
        cmocka_unit_test(policy_changes_at_run_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
