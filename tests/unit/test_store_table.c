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
#include "store/store_int.h"
#include "base/util.h"

static struct store_params params;

static struct store *new_store(int databases)
{
    param_defaults(store_param_defs, &params);
    params.databases = databases;
    return store_create(&params);
}

static struct skey key_of(const char *p, size_t len)
{
    struct skey k;
    skey_init(&k, p, len);
    return k;
}

static struct skey key_str(const char *p)
{
    return key_of(p, strlen(p));
}

static size_t store_baseline(int databases)
{
    return mem_size_class(sizeof(struct store)) +
           mem_size_class(sizeof(struct db) * (size_t)databases);
}

/*
 * Walk every chain of every table, check the metadata against the entries
 * (tag bits from the key's hash, the expiry bit, the entry in the chain its
 * hash selects, no entry in a bucket already rehashed) and recompute the
 * memory the store should account.
 */
static void check_invariants(struct store *s)
{
    size_t used = store_baseline(s->ndb);
    for (int dbi = 0; dbi < s->ndb; dbi++) {
        struct db *d = &s->db[dbi];
        size_t count = 0, nvol = 0;
        if (d->t[0].b == NULL) {
            assert_false(d->rehashing);
            assert_null(d->t[1].b);
        }
        if (!d->rehashing)
            assert_null(d->t[1].b);
        for (int t = 0; t < 2; t++) {
            struct table *tb = &d->t[t];
            if (tb->b == NULL)
                continue;
            assert_int_equal((uintptr_t)tb->b % CACHE_LINE_SIZE, 0);
            used += tb->bytes;
            for (uint64_t i = 0; i <= tb->mask; i++) {
                struct bucket *head = &tb->b[i];
                if (t == 0 && d->rehashing && i < d->rehash_idx)
                    assert_true(chain_empty(head));
                for (struct bucket *b = head; b != NULL; b = bucket_next(b)) {
                    if (b != head)
                        used += mem_size_class(sizeof(struct bucket));
                    if (bucket_chained(b)) {
                        assert_false(bucket_present(b) & (1u << CHILD_SLOT));
                        assert_non_null(b->slot[CHILD_SLOT]);
                    }
                    for (unsigned m = bucket_present(b); m != 0; m &= m - 1) {
                        unsigned j = (unsigned)__builtin_ctz(m);
                        struct kv *e = b->slot[j];
                        size_t klen;
                        const char *key = kv_key(e, &klen);
                        uint64_t h = util_hash(key, klen);
                        uint8_t tag = bucket_tag(b, j);
                        assert_int_equal(tag & TAG_HASH_MASK, tag_of(h));
                        assert_int_equal(!!(tag & TAG_VOLATILE), kv_has_expire(e));
                        assert_ptr_equal(db_chain(d, h), head);
                        count++;
                        nvol += kv_has_expire(e);
                        used += mem_size_class(kv_size(e));
                    }
                }
            }
        }
        assert_int_equal(count, store_count(s, dbi));
        assert_int_equal(nvol, store_volatile_count(s, dbi));
    }
    assert_int_equal(used, store_used(s));
}

/* ---- the reference model ---------------------------------------------- */

#define M_DBS  4
#define M_KEYS 2500

struct mkey {
    bool present;
    int64_t expire;
    size_t vlen;
    unsigned char *val;
};

static struct mkey model[M_DBS][M_KEYS];
static char *names[M_KEYS];
static size_t name_len[M_KEYS];
static int64_t now = 1000000;
static size_t hook_calls;

static void hook_count(void *arg, int db, const struct kv *e, bool evicted)
{
    (void)arg;
    (void)db;
    (void)e;
    assert_false(evicted);
    hook_calls++;
}

static void names_init(void)
{
    for (int i = 0; i < M_KEYS; i++) {
        size_t len = 4 + (size_t)(i % 37);
        if (i % 97 == 0)
            len = 300; /* two-byte key length */
        if (i == 5)
            len = 0; /* the empty key is a key too */
        names[i] = malloc(len + 1);
        for (size_t j = 0; j < len; j++)
            names[i][j] = (char)('a' + (i * 7 + (int)j) % 26);
        if (len >= 4)
            snprintf(names[i], len + 1, "%04d", i);
        for (size_t j = 4; j < len; j++)
            names[i][j] = (char)('a' + (i * 7 + (int)j) % 26);
        name_len[i] = len;
    }
}

static void names_free(void)
{
    for (int i = 0; i < M_KEYS; i++)
        free(names[i]);
}

static void model_clear(struct mkey *m)
{
    free(m->val);
    memset(m, 0, sizeof(*m));
}

static bool model_live(const struct mkey *m)
{
    return m->present && !(m->expire >= 0 && now > m->expire);
}

static size_t random_vlen(void)
{
    uint64_t r = util_rand64() % 1000;
    if (r < 700)
        return (size_t)(util_rand64() % 65);
    if (r < 997)
        return 65 + (size_t)(util_rand64() % 400);
    return 70000; /* four-byte value length */
}

static void fill_random(unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)util_rand64();
}

static void check_entry(struct kv *e, const struct mkey *m, int ki)
{
    size_t len;
    const char *key = kv_key(e, &len);
    assert_int_equal(len, name_len[ki]);
    assert_memory_equal(key, names[ki], len);
    char *val = kv_val(e, &len);
    assert_int_equal(len, m->vlen);
    if (len > 0)
        assert_memory_equal(val, m->val, len);
    if (kv_expire(e) != m->expire)
        printf("key %d: store %lld model %lld now %lld\n", ki, (long long)kv_expire(e),
               (long long)m->expire, (long long)now);
    assert_true(kv_expire(e) == m->expire);
    assert_int_equal(kv_type(e), KV_STRING);
}

static void model_verify(struct store *s)
{
    for (int db = 0; db < M_DBS; db++) {
        size_t present = 0;
        for (int i = 0; i < M_KEYS; i++)
            present += model[db][i].present;
        assert_int_equal(store_count(s, db), present);
    }
    check_invariants(s);
}

/* Apply one random operation to both the store and the model and compare. */
static void model_step(struct store *s, int db, int ki, int op_weights_grow)
{
    struct mkey *m = &model[db][ki];
    struct skey k = key_of(names[ki], name_len[ki]);
    unsigned r = (unsigned)(util_rand64() % 100);
    bool grow = op_weights_grow != 0;
    unsigned set_w = grow ? 55 : 15, del_w = grow ? 10 : 50;

    if (r < set_w) {
        size_t vlen = random_vlen();
        unsigned char *val = malloc(vlen ? vlen : 1);
        fill_random(val, vlen);
        bool keepttl = util_rand64() % 5 == 0;
        int64_t exp = util_rand64() % 3 == 0 ? now + (int64_t)(util_rand64() % 3000) : -1;
        struct kv *e =
            store_set(s, db, &k, val, vlen, KV_ENC_RAW, exp, keepttl ? STORE_KEEPTTL : 0);
        int64_t want_exp = keepttl ? (m->present ? m->expire : -1) : exp;
        free(m->val);
        m->present = true;
        m->val = val;
        m->vlen = vlen;
        m->expire = want_exp;
        check_entry(e, m, ki);
    } else if (r < set_w + del_w) {
        bool live = model_live(m);
        assert_int_equal(store_delete(s, db, &k, now), live);
        model_clear(m);
    } else if (r < set_w + del_w + 20) {
        struct kv *e = store_lookup(s, db, &k, now, 0);
        if (model_live(m)) {
            assert_non_null(e);
            check_entry(e, m, ki);
        } else {
            assert_null(e);
            model_clear(m);
        }
    } else if (r < set_w + del_w + 25) {
        struct kv *e = store_lookup(s, db, &k, now, STORE_NOTOUCH);
        if (e == NULL) {
            assert_false(model_live(m));
            model_clear(m);
            return;
        }
        size_t vlen = random_vlen();
        e = store_resize(s, db, e, vlen);
        m->val = realloc(m->val, vlen ? vlen : 1);
        size_t len;
        char *v = kv_val(e, &len);
        assert_int_equal(len, vlen);
        if (vlen > m->vlen)
            fill_random(m->val + m->vlen, vlen - m->vlen);
        if (vlen > m->vlen)
            memcpy(v + m->vlen, m->val + m->vlen, vlen - m->vlen);
        m->vlen = vlen;
        check_entry(e, m, ki);
    } else {
        struct kv *e = store_lookup(s, db, &k, now, STORE_NOTOUCH);
        if (e == NULL) {
            assert_false(model_live(m));
            model_clear(m);
            return;
        }
        int64_t when = util_rand64() % 2 ? now + (int64_t)(util_rand64() % 3000) : -1;
        e = store_set_expire(s, db, e, when);
        m->expire = when;
        check_entry(e, m, ki);
    }
}

static void model_check(void **state)
{
    (void)state;
    util_rand_seed(12345);
    names_init();
    struct store *s = new_store(M_DBS);
    size_t base = store_used(s);
    assert_int_equal(base, store_baseline(M_DBS));
    store_set_removed_hook(s, hook_count, NULL);
    size_t ops = 0;
    for (int phase = 0; phase < 6; phase++) {
        bool grow = phase % 2 == 0;
        for (int n = 0; n < 40000; n++, ops++) {
            int db = (int)(util_rand64() % M_DBS);
            /* Grow phases favour a widening range of keys; shrink phases all of them. */
            int ki = (int)(util_rand64() % M_KEYS);
            model_step(s, db, ki, grow);
            now += (int64_t)(util_rand64() % 3);
            if (util_rand64() % 500 == 0)
                store_rehash_step(s, -1, 1 + util_rand64() % 8);
            if (util_rand64() % 20000 == 0) {
                int a = (int)(util_rand64() % M_DBS), b = (int)(util_rand64() % M_DBS);
                store_swapdb(s, a, b);
                for (int i = 0; i < M_KEYS; i++) {
                    struct mkey t = model[a][i];
                    model[a][i] = model[b][i];
                    model[b][i] = t;
                }
            }
            if (util_rand64() % 30000 == 0) {
                store_flush(s, db, STORE_DROP_SYNC);
                for (int i = 0; i < M_KEYS; i++)
                    model_clear(&model[db][i]);
            }
            if (n % 4000 == 0)
                model_verify(s);
            if (n % 1000 == 0) {
                struct kv *e = store_random(s, db, now);
                size_t live = 0;
                for (int i = 0; i < M_KEYS; i++)
                    live += model_live(&model[db][i]);
                /* Expired keys met by store_random are gone from the model too. */
                for (int i = 0; i < M_KEYS; i++) {
                    if (model[db][i].present && !model_live(&model[db][i])) {
                        struct skey k = key_of(names[i], name_len[i]);
                        if (store_lookup(s, db, &k, now, STORE_NOTOUCH) == NULL)
                            model_clear(&model[db][i]);
                    }
                }
                if (live == 0) {
                    assert_null(e);
                } else {
                    assert_non_null(e);
                    size_t klen;
                    const char *key = kv_key(e, &klen);
                    int found = -1;
                    for (int i = 0; i < M_KEYS && found < 0; i++) {
                        if (name_len[i] == klen && memcmp(names[i], key, klen) == 0)
                            found = i;
                    }
                    assert_true(found >= 0);
                    assert_true(model_live(&model[db][found]));
                }
            }
        }
        model_verify(s);
    }
    assert_int_equal(hook_calls, store_stats(s)->expired_keys);
    assert_true(hook_calls > 0);

    /* Delete everything: accounting returns exactly to the empty store's. */
    for (int db = 0; db < M_DBS; db++) {
        for (int i = 0; i < M_KEYS; i++) {
            struct skey k = key_of(names[i], name_len[i]);
            assert_int_equal(store_delete(s, db, &k, now), model_live(&model[db][i]));
            model_clear(&model[db][i]);
        }
        assert_int_equal(store_count(s, db), 0);
        assert_int_equal(store_volatile_count(s, db), 0);
    }
    check_invariants(s);
    assert_int_equal(store_used(s), base);
    store_destroy(s);
    names_free();
    printf("model check: %zu operations\n", ops);
}

/* ---- growth and shrink ------------------------------------------------ */

static size_t buckets_of(struct store *s, int db)
{
    return table_buckets(&s->db[db].t[0]);
}

static void grow_and_shrink(void **state)
{
    (void)state;
    struct store *s = new_store(1);
    char buf[32];
    size_t peak = 0;
    for (int i = 0; i < 50000; i++) {
        int n = snprintf(buf, sizeof(buf), "g%d", i);
        struct skey k = key_of(buf, (size_t)n);
        store_set(s, 0, &k, buf, (size_t)n, KV_ENC_RAW, i % 3 ? -1 : 1LL << 40, 0);
        if (buckets_of(s, 0) > peak)
            peak = buckets_of(s, 0);
    }
    while (store_rehash_step(s, 0, 100))
        ;
    check_invariants(s);
    size_t n_grown = buckets_of(s, 0);
    assert_true(n_grown >= 50000 / BUCKET_SLOTS);
    assert_true(n_grown <= 50000 / 2);
    for (int i = 0; i < 50000; i++) {
        int n = snprintf(buf, sizeof(buf), "g%d", i);
        struct skey k = key_of(buf, (size_t)n);
        struct kv *e = store_lookup(s, 0, &k, 0, 0);
        assert_non_null(e);
        if (i % 1000 == 0)
            check_invariants(s);
        if (i >= 100)
            assert_true(store_delete(s, 0, &k, 0));
    }
    while (store_rehash_step(s, 0, 100))
        ;
    check_invariants(s);
    assert_int_equal(store_count(s, 0), 100);
    assert_true(buckets_of(s, 0) * 8 < n_grown);
    assert_true(buckets_of(s, 0) <= 100);
    store_destroy(s);
}

/* Add keys to a member store until its table starts to grow (and stop there). */
static void grow_members(struct store *m, const char *prefix)
{
    char buf[32];
    for (int i = 0; !m->db[0].rehashing; i++) {
        int n = snprintf(buf, sizeof(buf), "%s%d", prefix, i);
        struct skey k = key_of(buf, (size_t)n);
        store_set(m, 0, &k, "", 0, KV_ENC_RAW, -1, 0);
    }
}

/*
 * A member store whose growth stops half way through a resize finishes it from
 * its owner's idle step (it would keep both tables otherwise), follows its
 * collection to another owner, and leaves the owner's list when it is freed.
 */
static void member_resize_finishes_when_idle(void **state)
{
    (void)state;
    struct store *a = new_store(1), *b = new_store(1);
    struct store *m1 = store_members_new(a), *m2 = store_members_new(a);
    grow_members(m1, "x");
    grow_members(m2, "y");
    assert_ptr_equal(a->rehash_head, m2);
    assert_ptr_equal(m2->rehash_next, m1);
    size_t before = store_used(a);
    /* m2 moves to b (RENAME to another shard) while it resizes */
    store_members_reown(m2, b);
    assert_ptr_equal(a->rehash_head, m1);
    assert_null(m1->rehash_next);
    assert_ptr_equal(b->rehash_head, m2);
    int steps = 0;
    while (store_rehash_step(a, -1, 64))
        steps++;
    assert_true(steps > 0);
    assert_false(m1->db[0].rehashing);
    assert_null(a->rehash_head);
    assert_true(store_used(a) < before); /* the old table is gone */
    check_invariants(m1);
    /* freeing a member store mid-resize takes it out of the list */
    assert_true(m2->db[0].rehashing);
    store_members_free(m2);
    assert_null(b->rehash_head);
    assert_false(store_rehash_step(b, -1, 64));
    store_members_free(m1);
    store_destroy(a);
    store_destroy(b);
}

/*
 * A member store's entries are bare: lengths, key and value only. They read as unencoded
 * strings, an access leaves their bytes alone, and resizes, overwrites and an expiry work on
 * them as on a key's; a 13-byte set member fits the 16-byte class.
 */
static void bare_member_entries(void **state)
{
    (void)state;
    struct store *owner = new_store(1), *whole = store_scratch_new();
    struct store *m = store_members_new(owner);
    char buf[32];
    for (int i = 0; i < 3000; i++) {
        int n = snprintf(buf, sizeof(buf), "member:%d", i * 331);
        struct skey k = key_of(buf, (size_t)n);
        struct kv *e = store_set(m, 0, &k, NULL, 0, KV_ENC_RAW, -1, 0);
        struct kv *w = store_set(whole, 0, &k, NULL, 0, KV_ENC_RAW, -1, 0);
        assert_true(kv_is_bare(e));
        assert_false(kv_is_bare(w));
        assert_int_equal(kv_size(e), 3 + (size_t)n);
        assert_int_equal(kv_size(w), kv_size(e) + 4);
        assert_int_equal(kv_type(e), KV_STRING);
        assert_int_equal(kv_enc(e), KV_ENC_RAW);
        if (n <= 13)
            assert_true(mem_size_class(kv_size(e)) <= 16);
        /* an access (LRU or LFU) writes nothing into a bare entry */
        unsigned char before[32];
        memcpy(before, e, kv_size(e));
        assert_ptr_equal(store_lookup(m, 0, &k, 1000000 + i, 0), e);
        store_set_access(m, e, 5, 5, 1000000 + i);
        assert_memory_equal(before, e, kv_size(e));
        assert_int_equal(store_idle_seconds(m, e, 0), 0);
    }
    check_invariants(m);
    /* values through every length width, an expiry on and off, then back */
    struct skey k = key_str("member:331");
    struct kv *e = store_lookup(m, 0, &k, 0, STORE_NOTOUCH);
    for (size_t len = 1; len < 300000; len *= 7) {
        e = store_resize(m, 0, e, len);
        size_t got;
        char *v = kv_val(e, &got);
        assert_int_equal(got, len);
        memset(v, 'a' + (int)(len % 26), len);
        e = store_set_expire(m, 0, e, 777);
        assert_true(kv_is_bare(e));
        assert_true(kv_expire(e) == 777);
        v = kv_val(e, &got);
        assert_int_equal(got, len);
        assert_int_equal(v[len - 1], 'a' + (int)(len % 26));
        size_t klen;
        const char *key = kv_key(e, &klen);
        assert_int_equal(klen, 10);
        assert_memory_equal(key, "member:331", 10);
        e = store_set_expire(m, 0, e, -1);
        assert_int_equal(kv_expire(e), -1);
        assert_int_equal(kv_size(e), 3 + 10 + len + (len > 255) + (len > 65535) * 2);
    }
    /* an overwrite in place keeps the entry bare */
    struct kv *o = store_set(m, 0, &k, "xy", 2, KV_ENC_RAW, -1, 0);
    assert_true(kv_is_bare(o));
    assert_int_equal(kv_size(o), 15);
    check_invariants(m);
    check_invariants(whole);
    size_t owner_before = store_used(owner);
    store_members_free(m);
    assert_true(store_used(owner) < owner_before);
    store_members_free(whole);
    store_destroy(owner);
}

/* ---- SCAN ------------------------------------------------------------- */

struct seen {
    unsigned char *hits; /* per stable key */
    size_t stable;
};

static void scan_collect(void *arg, struct kv *e)
{
    struct seen *sn = arg;
    size_t len;
    const char *key = kv_key(e, &len);
    if (len > 1 && key[0] == 's') {
        long long idx;
        assert_true(util_str2ll(key + 1, len - 1, &idx));
        assert_true(idx >= 0 && (size_t)idx < sn->stable);
        if (sn->hits[idx] < 255)
            sn->hits[idx]++;
    }
}

static void add_range(struct store *s, const char *prefix, int from, int to)
{
    char buf[32];
    for (int i = from; i < to; i++) {
        int n = snprintf(buf, sizeof(buf), "%s%d", prefix, i);
        struct skey k = key_of(buf, (size_t)n);
        store_set(s, 0, &k, "v", 1, KV_ENC_RAW, -1, 0);
    }
}

static void del_range(struct store *s, const char *prefix, int from, int to)
{
    char buf[32];
    for (int i = from; i < to; i++) {
        int n = snprintf(buf, sizeof(buf), "%s%d", prefix, i);
        struct skey k = key_of(buf, (size_t)n);
        assert_true(store_delete(s, 0, &k, 0));
    }
}

/*
 * Keys present for the whole iteration are all returned, while the table
 * grows and shrinks (with rehashes left half done) between cursor steps.
 */
static void scan_across_resizes(void **state)
{
    (void)state;
    for (int round = 0; round < 6; round++) {
        struct store *s = new_store(1);
        const size_t stable = 3000;
        add_range(s, "s", 0, (int)stable);
        struct seen sn = { calloc(stable, 1), stable };
        uint64_t cursor = 0;
        int steps = 0;
        int extra = 0;
        do {
            cursor = store_scan(s, 0, cursor, scan_collect, &sn);
            assert_true(cursor < (1ull << 58));
            steps++;
            if (steps == 5 + round) {
                /* Grow well past the threshold; leave the rehash unfinished. */
                extra = 40000;
                add_range(s, "x", 0, extra);
                if (round % 2)
                    store_rehash_step(s, 0, 200);
            }
            if (steps == 60 + 10 * round) {
                del_range(s, "x", 0, extra);
                extra = 0;
                if (round % 3 == 0) {
                    while (store_rehash_step(s, 0, 100))
                        ;
                }
            }
            if (steps == 300 + round)
                add_range(s, "y", 0, 5000 * round);
            if (steps % 17 == 0)
                check_invariants(s);
        } while (cursor != 0);
        for (size_t i = 0; i < stable; i++)
            assert_true(sn.hits[i] >= 1);
        free(sn.hits);
        store_destroy(s);
    }
}

static void count_cb(void *arg, struct kv *e)
{
    (void)e;
    (*(size_t *)arg)++;
}

/* Without resizes a full SCAN returns every key exactly once. */
static void scan_stable_table(void **state)
{
    (void)state;
    struct store *s = new_store(1);
    assert_int_equal(store_scan(s, 0, 0, count_cb, NULL), 0);
    add_range(s, "k", 0, 10000);
    while (store_rehash_step(s, 0, 100))
        ;
    size_t n = 0;
    uint64_t cursor = 0;
    do {
        cursor = store_scan(s, 0, cursor, count_cb, &n);
    } while (cursor != 0);
    assert_int_equal(n, 10000);
    store_destroy(s);
}

/* ---- whole-database operations ---------------------------------------- */

static void flush_swapdb_random(void **state)
{
    (void)state;
    struct store *s = new_store(3);
    size_t base = store_used(s);
    add_range(s, "a", 0, 1000);
    struct skey k = key_str("only-in-db1");
    store_set(s, 1, &k, "x", 1, KV_ENC_RAW, 5000, 0);
    assert_int_equal(store_count(s, 0), 1000);
    assert_int_equal(store_count(s, 1), 1);
    assert_int_equal(store_volatile_count(s, 1), 1);

    store_swapdb(s, 0, 1);
    assert_int_equal(store_count(s, 0), 1);
    assert_int_equal(store_count(s, 1), 1000);
    assert_int_equal(store_volatile_count(s, 0), 1);
    assert_non_null(store_lookup(s, 0, &k, 0, 0));
    assert_null(store_lookup(s, 1, &k, 0, 0));
    check_invariants(s);

    /* random: only ever a key of the database asked for */
    for (int i = 0; i < 200; i++) {
        struct kv *e = store_random(s, 1, 0);
        assert_non_null(e);
        size_t len;
        assert_int_equal(kv_key(e, &len)[0], 'a');
    }
    assert_null(store_random(s, 2, 0));
    /* the one key of db 0 has expired at 5001: random deletes it and finds nothing */
    assert_null(store_random(s, 0, 5001));
    assert_int_equal(store_count(s, 0), 0);
    assert_int_equal(store_stats(s)->expired_keys, 1);

    store_flush(s, 1, STORE_DROP_SYNC);
    assert_int_equal(store_count(s, 1), 0);
    add_range(s, "b", 0, 10);
    store_set(s, 2, &k, "x", 1, KV_ENC_RAW, -1, 0);
    store_flush(s, -1, STORE_DROP_SYNC);
    for (int db = 0; db < 3; db++)
        assert_int_equal(store_count(s, db), 0);
    assert_int_equal(store_used(s), base);
    check_invariants(s);
    store_destroy(s);
}

/*
 * A lazy flush empties the database at once and frees its keys in steps: the pending count
 * falls with each step, new keys go in meanwhile, and the bytes come back to what the new keys
 * cost. Without lazyfree-lazy-user-flush a user's flush frees at once; store_destroy frees
 * whatever is still pending.
 */
static void flush_lazily_in_steps(void **state)
{
    (void)state;
    struct store *s = new_store(2);
    size_t base = store_used(s);
    add_range(s, "a", 0, 5000);
    store_flush(s, 0, STORE_DROP_LAZY);
    assert_int_equal(store_count(s, 0), 0);
    assert_int_equal(store_lazy_pending(s), 5000);
    assert_true(store_used(s) > base + 5000 * 16); /* still allocated, still counted */
    add_range(s, "b", 0, 10);
    size_t with_b = 0, steps = 0, pending = store_lazy_pending(s);
    while (store_lazy_step(s, 100) > 0) {
        steps++;
        assert_true(store_lazy_pending(s) <= pending);
        pending = store_lazy_pending(s);
    }
    assert_true(steps > 5000 / 100);
    assert_int_equal(store_lazy_pending(s), 0);
    assert_int_equal(store_lazy_freed(s), 5000);
    assert_int_equal(store_count(s, 0), 10);
    with_b = store_used(s);
    store_flush(s, 0, STORE_DROP_SYNC);
    assert_int_equal(store_used(s), base);
    assert_true(with_b > base);
    check_invariants(s);

    params.lazyfree_lazy_user_flush = 0;
    add_range(s, "c", 0, 100);
    store_flush(s, -1, STORE_DROP_USER);
    assert_int_equal(store_lazy_pending(s), 0);
    assert_int_equal(store_used(s), base);
    params.lazyfree_lazy_user_flush = 1;
    add_range(s, "c", 0, 100);
    store_flush(s, -1, STORE_DROP_USER);
    assert_int_equal(store_lazy_pending(s), 100);
    params.lazyfree_lazy_user_flush = 0;
    add_range(s, "d", 0, 1000);
    store_flush(s, 0, STORE_DROP_LAZY); /* queued behind the first */
    assert_int_equal(store_lazy_step(s, 50), 50);
    /* each chain costs one besides its keys: fewer than 50 keys went, but some did */
    assert_true(store_lazy_pending(s) < 1100 && store_lazy_pending(s) > 1100 - 50);
    store_destroy(s); /* frees both */
}

/* store_random on a table left sparse by deletions still finds the few keys. */
static void random_sparse(void **state)
{
    (void)state;
    struct store *s = new_store(1);
    add_range(s, "r", 0, 30000);
    while (store_rehash_step(s, 0, 100))
        ;
    /* store_delete_entry moves no chain: the shrink it starts stays unfinished. */
    char buf[32];
    for (int i = 3; i < 30000; i++) {
        int n = snprintf(buf, sizeof(buf), "r%d", i);
        struct skey k = key_of(buf, (size_t)n);
        struct kv *e = store_lookup(s, 0, &k, 0, STORE_NOTOUCH);
        store_delete_entry(s, 0, e);
    }
    int seen[3] = { 0 };
    for (int i = 0; i < 3000; i++) {
        struct kv *e = store_random(s, 0, 0);
        assert_non_null(e);
        size_t len;
        const char *key = kv_key(e, &len);
        seen[key[1] - '0']++;
    }
    /* Not uniform (a key after a long empty run is found more often), but none is left out. */
    for (int i = 0; i < 3; i++)
        assert_true(seen[i] > 0);
    assert_int_equal(seen[0] + seen[1] + seen[2], 3000);
    check_invariants(s);
    store_destroy(s);
}

/* ---- entry reshaping keeps the expiry, the value and the slot ---------- */

static void moves_keep_expiry(void **state)
{
    (void)state;
    struct store *s = new_store(1);
    char buf[32];
    for (int i = 0; i < 2000; i++) {
        int n = snprintf(buf, sizeof(buf), "m%d", i);
        struct skey k = key_of(buf, (size_t)n);
        store_set(s, 0, &k, buf, (size_t)n, KV_ENC_RAW, i % 2 ? 90000 + i : -1, 0);
    }
    assert_int_equal(store_volatile_count(s, 0), 1000);
    for (int i = 0; i < 2000; i++) {
        int n = snprintf(buf, sizeof(buf), "m%d", i);
        struct skey k = key_of(buf, (size_t)n);
        struct kv *e = store_lookup(s, 0, &k, 0, 0);
        assert_non_null(e);
        /* grow through several size classes and length widths, then back */
        e = store_resize(s, 0, e, 300);
        size_t len;
        char *v = kv_val(e, &len);
        assert_int_equal(len, 300);
        assert_memory_equal(v, buf, (size_t)n);
        memset(v + n, 'z', 300 - (size_t)n);
        e = store_resize(s, 0, e, 70000);
        v = kv_val(e, &len);
        assert_memory_equal(v, buf, (size_t)n);
        assert_int_equal(v[299], 'z');
        e = store_resize(s, 0, e, (size_t)n);
        assert_true(kv_expire(e) == (i % 2 ? 90000 + i : -1));
        assert_ptr_equal(store_lookup(s, 0, &k, 0, 0), e);
        /* flip the expiry twice: the entry moves, the volatile count follows */
        e = store_set_expire(s, 0, e, i % 2 ? -1 : 123456);
        assert_true(kv_expire(e) == (i % 2 ? -1 : 123456));
        assert_ptr_equal(store_lookup(s, 0, &k, 0, 0), e);
        v = kv_val(e, &len);
        assert_int_equal(len, (size_t)n);
        assert_memory_equal(v, buf, (size_t)n);
    }
    assert_int_equal(store_volatile_count(s, 0), 1000);
    check_invariants(s);
    /* Encodings stay where they are put. */
    struct skey k = key_str("m1");
    struct kv *e = store_lookup(s, 0, &k, 0, 0);
    kv_set_enc(e, KV_ENC_INT);
    assert_int_equal(kv_enc(e), KV_ENC_INT);
    e = store_set_expire(s, 0, e, 5);
    assert_int_equal(kv_enc(e), KV_ENC_INT);
    assert_true(kv_expire(e) == 5);
    store_destroy(s);
}

static void stats_and_usage(void **state)
{
    (void)state;
    struct store *s = new_store(1);
    struct skey k = key_str("hello"), miss = key_str("nope");
    struct kv *e = store_set(s, 0, &k, "world", 5, KV_ENC_EMBSTR, -1, 0);
    assert_int_equal(kv_enc(e), KV_ENC_EMBSTR);
    assert_non_null(store_lookup(s, 0, &k, 0, 0));
    assert_null(store_lookup(s, 0, &miss, 0, 0));
    assert_non_null(store_lookup(s, 0, &k, 0, STORE_NOSTATS));
    assert_non_null(store_lookup(s, 0, &k, 0, STORE_NOTOUCH));
    assert_int_equal(store_stats(s)->keyspace_hits, 1);
    assert_int_equal(store_stats(s)->keyspace_misses, 1);
    size_t u = store_entry_usage(s, e);
    assert_true(u >= mem_size_class(5 + 2 + 5 + 5));
    assert_true(u <= mem_size_class(5 + 2 + 5 + 5) + 16);
    assert_int_equal(store_databases(s), 1);
    assert_string_equal(store_policy_names[POLICY_ALLKEYS_LRU], "allkeys-lru");
    assert_string_equal(store_policy_names[POLICY_NOEVICTION], "noeviction");
    assert_null(store_policy_names[POLICY_NOEVICTION + 1]);
    assert_non_null(param_find(store_param_defs, "maxmemory-policy"));
    assert_int_equal(params.maxmemory_samples, 5);
    store_destroy(s);
}

/* ---- density ---------------------------------------------------------- */

/*
 * One million 16-byte keys with 32-byte values. The budget: the entry's
 * size class, plus the table at its sparsest (just after doubling, 3.5 keys
 * per 64-byte bucket), plus two bytes for child buckets.
 */
static void million_keys_density(void **state)
{
    (void)state;
    const size_t n = 1000000;
    struct store *s = new_store(1);
    size_t base = store_used(s), rss0 = mem_rss();
    char key[17], val[33];
    memset(val, 'v', 32);
    for (size_t i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "key:%012zu", i);
        struct skey k = key_of(key, 16);
        store_set(s, 0, &k, val, 32, KV_ENC_RAW, -1, 0);
    }
    while (store_rehash_step(s, 0, 1000))
        ;
    size_t used = store_used(s) - base;
    double per_key = (double)used / (double)n;
    double entry = (double)mem_size_class(kv_size_for(false, false, 16, 32));
    double budget = entry + 64.0 / 3.5 + 2.0;
    size_t rss = mem_rss() - rss0;
    printf("1M keys 16/32: %.1f bytes/key accounted (entry class %.0f, budget %.1f), "
           "%zu buckets, RSS +%.1f MB (%s)\n",
           per_key, entry, budget, buckets_of(s, 0), (double)rss / 1e6, mem_allocator_name());
    assert_true(kv_size_for(false, false, 16, 32) <= 56);
    assert_true(per_key <= budget);
    assert_int_equal(store_count(s, 0), n);
    struct skey k = key_of("key:000000123456", 16);
    assert_non_null(store_lookup(s, 0, &k, 0, 0));
    store_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(model_check),
        cmocka_unit_test(grow_and_shrink),
        cmocka_unit_test(scan_stable_table),
        cmocka_unit_test(scan_across_resizes),
        cmocka_unit_test(flush_swapdb_random),
        cmocka_unit_test(random_sparse),
        cmocka_unit_test(moves_keep_expiry),
        cmocka_unit_test(stats_and_usage),
        cmocka_unit_test(million_keys_density),
        cmocka_unit_test(flush_lazily_in_steps),
        cmocka_unit_test(member_resize_finishes_when_idle),
        cmocka_unit_test(bare_member_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
