/*
 * Forkless snapshots: while a snapshot runs, random writes, deletes, expiry
 * changes, in-place updates, expiry and eviction, SWAPDB and FLUSHDB hit the
 * store; the snapshot must still hold exactly the entries present when it
 * began, each once, with the values they had then.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/mem.h"
#include "store/store.h"
#include "base/util.h"

#define NKEYS 20000
#define NDB   4

static struct store_params params;

/* What the snapshot must contain: per database and key number, the value (or absent). */
struct model {
    int val[NDB][NKEYS];     /* -1: absent */
    int64_t exp[NDB][NKEYS]; /* -1: none */
};
static struct model start, now, got;
static int seen[NDB][NKEYS];

static struct skey key_n(int i, char *buf)
{
    int n = snprintf(buf, 32, "key:%d", i);
    struct skey k;
    skey_init(&k, buf, (size_t)n);
    return k;
}

static void put(struct store *s, int db, int i, int v, int64_t exp)
{
    char kb[32], vb[32];
    struct skey k = key_n(i, kb);
    int n = snprintf(vb, sizeof(vb), "v%d-%d", v, i);
    store_set(s, db, &k, vb, (size_t)n, KV_ENC_RAW, exp, 0);
    now.val[db][i] = v;
    now.exp[db][i] = exp;
}

static void on_entry(void *arg, int db, const struct kv *e)
{
    (void)arg;
    size_t klen, vlen;
    const char *k = kv_key(e, &klen);
    char kb[40];
    memcpy(kb, k, klen);
    kb[klen] = '\0';
    int i = atoi(kb + 4);
    char *v = kv_val((struct kv *)e, &vlen);
    assert_true(db >= 0 && db < NDB && i >= 0 && i < NKEYS);
    seen[db][i]++;
    got.val[db][i] = atoi(v + 1);
    got.exp[db][i] = kv_expire(e);
}

static struct store *fill(unsigned seed)
{
    param_defaults(store_param_defs, &params);
    params.databases = NDB;
    struct store *s = store_create(&params);
    srand(seed);
    for (int db = 0; db < NDB; db++)
        for (int i = 0; i < NKEYS; i++)
            now.val[db][i] = -1, now.exp[db][i] = -1;
    for (int db = 0; db < NDB; db++)
        for (int i = 0; i < NKEYS; i++)
            if (rand() % 3 != 0)
                put(s, db, i, rand() % 1000, rand() % 4 == 0 ? 4000000000000ll + i : -1);
    return s;
}

static void begin(struct store *s)
{
    memcpy(&start, &now, sizeof(start));
    memset(seen, 0, sizeof(seen));
    for (int db = 0; db < NDB; db++)
        for (int i = 0; i < NKEYS; i++)
            got.val[db][i] = -1, got.exp[db][i] = -1;
    store_snap_begin(s, on_entry, NULL);
}

static void check(void)
{
    for (int db = 0; db < NDB; db++) {
        for (int i = 0; i < NKEYS; i++) {
            if (start.val[db][i] < 0) {
                assert_int_equal(seen[db][i], 0);
                continue;
            }
            assert_int_equal(seen[db][i], 1);
            assert_int_equal(got.val[db][i], start.val[db][i]);
            assert_int_equal(got.exp[db][i], start.exp[db][i]);
        }
    }
}

/* One random mutation, applied to store and model alike. */
static void mutate(struct store *s, int64_t now_ms)
{
    char kb[32];
    int db = rand() % NDB, i = rand() % NKEYS;
    struct skey k = key_n(i, kb);
    switch (rand() % 6) {
    case 0:
    case 1:
        put(s, db, i, 1000 + rand() % 1000, -1);
        break;
    case 2:
        store_delete(s, db, &k, now_ms);
        now.val[db][i] = -1;
        break;
    case 3: {
        struct kv *e = store_lookup(s, db, &k, now_ms, STORE_NOSTATS);
        if (e != NULL) {
            store_set_expire(s, db, e, now_ms + 100000 + i);
            now.exp[db][i] = now_ms + 100000 + i;
        }
        break;
    }
    case 4: {
        /* An in-place update, as INCR/SETRANGE do: the caller touches first. */
        struct kv *e = store_lookup(s, db, &k, now_ms, STORE_NOSTATS);
        if (e != NULL) {
            store_snap_touch(s, db, kb, strlen(kb));
            size_t n;
            char *v = kv_val(e, &n);
            v[1] = v[1] == '9' ? '8' : '9';
            now.val[db][i] = -2; /* changed: only the start value matters */
        }
        break;
    }
    default: {
        /* growth: new keys in the spare range, many of them */
        for (int j = 0; j < 50; j++) {
            int x = rand() % NKEYS;
            if (now.val[db][x] < 0)
                put(s, db, x, 5000, -1);
        }
        break;
    }
    }
}

static void random_writes_during_snapshot(void **state)
{
    (void)state;
    for (unsigned seed = 1; seed <= 4; seed++) {
        struct store *s = fill(seed);
        begin(s);
        int64_t t = 1000;
        while (store_snap_active(s)) {
            for (int j = 0; j < 20; j++)
                mutate(s, t);
            store_snap_step(s, 37);
        }
        /* writes after the end change nothing in the snapshot */
        for (int j = 0; j < 2000; j++)
            mutate(s, t);
        check();
        store_destroy(s);
    }
}

static void flush_swap_expire_evict_during_snapshot(void **state)
{
    (void)state;
    struct store *s = fill(9);
    /* keys that expire during the snapshot: by active expiry (db 3), by lookups (db 2) */
    char kb[32];
    for (int i = 0; i < NKEYS; i += 3) {
        for (int db = 2; db <= 3; db++) {
            if (now.val[db][i] >= 0)
                put(s, db, i, now.val[db][i], 1500);
        }
    }
    begin(s);
    store_snap_step(s, 500);
    for (int i = 0; i < NKEYS; i += 3) {
        struct skey k = key_n(i, kb);
        store_lookup(s, 2, &k, 2000, 0);
    }
    /* SWAPDB: entries keep the database they had at the start */
    store_swapdb(s, 0, 1);
    store_snap_step(s, 500);
    /* FLUSHDB saves what is left of the database first */
    store_flush(s, 2, STORE_DROP_SYNC);
    /* active expiry and eviction remove entries only after saving them */
    while (store_expire_cycle(s, 2000, 1000000) > 0)
        ;
    params.maxmemory_policy = POLICY_ALLKEYS_RANDOM;
    store_evict(s, store_used(s) / 2, 2000);
    while (store_snap_active(s))
        store_snap_step(s, 1000);
    check();
    store_destroy(s);
}

/* Tables do not resize during a snapshot, and catch up afterwards. */
static void no_resize_while_active(void **state)
{
    (void)state;
    param_defaults(store_param_defs, &params);
    params.databases = 1;
    struct store *s = store_create(&params);
    memset(&now, 0xff, sizeof(now));
    for (int i = 0; i < 100; i++)
        put(s, 0, i, 1, -1);
    begin(s);
    for (int i = 100; i < NKEYS; i++)
        put(s, 0, i, 2, -1); /* chains absorb the growth */
    assert_true(store_snap_active(s));
    while (store_snap_active(s))
        store_snap_step(s, 10);
    for (int i = 0; i < 100; i++)
        assert_int_equal(seen[0][i], 1);
    for (int i = 100; i < NKEYS; i++)
        assert_int_equal(seen[0][i], 0);
    /* afterwards, inserts grow the table again and every key stays findable */
    char kb[32];
    for (int i = NKEYS; i < 3 * NKEYS; i++) {
        struct skey k = key_n(i, kb);
        store_set(s, 0, &k, "x", 1, KV_ENC_RAW, -1, 0);
    }
    while (store_rehash_step(s, -1, 1000))
        ;
    assert_int_equal(store_count(s, 0), 3 * NKEYS);
    for (int i = 0; i < 3 * NKEYS; i++) {
        struct skey k = key_n(i, kb);
        assert_non_null(store_lookup(s, 0, &k, 0, STORE_NOTOUCH));
    }
    store_destroy(s);
}

static void abort_stops_and_empty_store(void **state)
{
    (void)state;
    param_defaults(store_param_defs, &params);
    params.databases = 2;
    struct store *s = store_create(&params);
    store_snap_begin(s, on_entry, NULL);
    assert_false(store_snap_active(s)); /* nothing to save */
    memset(&now, 0xff, sizeof(now));
    for (int i = 0; i < 1000; i++)
        put(s, 1, i, 1, -1);
    memset(seen, 0, sizeof(seen));
    store_snap_begin(s, on_entry, NULL);
    store_snap_step(s, 10);
    store_snap_abort(s);
    assert_false(store_snap_active(s));
    int before = 0;
    for (int i = 0; i < 1000; i++)
        before += seen[1][i];
    for (int i = 0; i < 1000; i++)
        put(s, 1, i, 2, -1);
    int after = 0;
    for (int i = 0; i < 1000; i++)
        after += seen[1][i];
    assert_int_equal(before, after);
    store_destroy(s);
}

static int ends;

static void on_end(void *arg)
{
    (void)arg;
    ends++;
}

/*
 * Nested snapshots: told once at the end, whether the stepper got there, writes did, or the
 * store was freed half way (every entry passed first: none lost); not after an abort.
 */
static void end_told_once_and_nothing_lost(void **state)
{
    (void)state;
    for (int how = 0; how < 3; how++) {
        struct store *s = fill(7 + (unsigned)how);
        begin(s);
        ends = 0;
        store_snap_on_end(s, on_end);
        store_snap_step(s, 500);
        assert_int_equal(ends, 0);
        if (how == 0) {
            while (store_snap_active(s))
                store_snap_step(s, 1000);
        } else if (how == 1) {
            for (int i = 0; i < 3000; i++)
                mutate(s, 0);
            store_snap_finish(s);
        }
        if (how == 2)
            store_destroy(s); /* half way: the rest is passed first */
        assert_int_equal(ends, 1);
        check();
        if (how != 2) {
            assert_false(store_snap_active(s));
            store_destroy(s);
            assert_int_equal(ends, 1);
        }
    }
    struct store *s = fill(11);
    begin(s);
    ends = 0;
    store_snap_on_end(s, on_end);
    store_snap_step(s, 100);
    store_snap_abort(s);
    store_destroy(s);
    assert_int_equal(ends, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(end_told_once_and_nothing_lost),
        cmocka_unit_test(random_writes_during_snapshot),
        cmocka_unit_test(flush_swap_expire_evict_during_snapshot),
        cmocka_unit_test(no_resize_while_active),
        cmocka_unit_test(abort_stops_and_empty_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
