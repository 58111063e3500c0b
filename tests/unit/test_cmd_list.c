/*
 * List commands driven through their handlers against a reference model (an array of
 * strings per key), seeded: random pushes, pops, edits and moves over three keys, with
 * node limits small enough that lists cross between the pack and the chunked list both
 * ways many times. Every reply is compared byte for byte with the one the model predicts,
 * and the stores' memory accounting must come back to where it started.
 */
#include "tests/unit/cmd_test.h"

#define NKEYS   3
#define MAXLEN  400
#define MAXELEM 2500

struct model {
    char *v[NKEYS][MAXLEN];
    size_t n[NKEYS];
};

/* The expected reply, built as the model answers. */
struct want {
    char *b;
    size_t len, cap;
};

static void w_add(struct want *w, const char *s, size_t n)
{
    if (w->len + n + 1 > w->cap) {
        w->cap = (w->len + n + 1) * 2;
        w->b = realloc(w->b, w->cap);
    }
    memcpy(w->b + w->len, s, n);
    w->len += n;
    w->b[w->len] = '\0';
}

/* A RESP header: the type byte and a number (":3", "*2", "$5"). */
static void w_fmt(struct want *w, char type, long long v)
{
    char buf[64];
    int n = snprintf(buf, sizeof(buf), "%c%lld\r\n", type, v);
    w_add(w, buf, (size_t)n);
}

static void w_bulk(struct want *w, const char *s)
{
    w_fmt(w, '$', (long long)strlen(s));
    w_add(w, s, strlen(s));
    w_add(w, "\r\n", 2);
}

static char *rand_elem(unsigned *seed, bool big_elems)
{
    static const char *const pool[] = { "a", "b", "10", "010", "-5", "0", "123456789012", "" };
    char *s;
    if (rand_r(seed) % 3 != 0) {
        s = strdup(pool[rand_r(seed) % 8]);
    } else {
        size_t len = 1 + (size_t)rand_r(seed) % (big_elems ? MAXELEM : 12);
        s = malloc(len + 1);
        for (size_t i = 0; i < len; i++)
            s[i] = (char)('c' + rand_r(seed) % 3);
        s[len] = '\0';
    }
    return s;
}

static void m_insert(struct model *m, int k, size_t at, char *s)
{
    memmove(&m->v[k][at + 1], &m->v[k][at], (m->n[k] - at) * sizeof(char *));
    m->v[k][at] = s;
    m->n[k]++;
}

static char *m_take(struct model *m, int k, size_t at)
{
    char *s = m->v[k][at];
    memmove(&m->v[k][at], &m->v[k][at + 1], (m->n[k] - at - 1) * sizeof(char *));
    m->n[k]--;
    return s;
}

static const char *names[NKEYS] = { "key:0", "key:1", "key:2" };

/* One random command: run it, and check its reply against the model's. */
static void step(struct fx *f, struct model *m, unsigned *seed, bool big_elems)
{
    struct want w = { 0 };
    int k = rand_r(seed) % NKEYS, k2 = rand_r(seed) % NKEYS;
    const char *key = names[k];
    size_t n = m->n[k];
    int op = rand_r(seed) % 11;
    char a[32], b[32];
    if (op <= 2 && n + 3 < MAXLEN) { /* LPUSH / RPUSH of 1..3 */
        bool head = rand_r(seed) % 2;
        int cnt = 1 + rand_r(seed) % 3;
        const char *argv[5] = { head ? "lpush" : "rpush", key };
        for (int i = 0; i < cnt; i++) {
            char *s = rand_elem(seed, big_elems);
            argv[2 + i] = s;
            m_insert(m, k, head ? 0 : m->n[k], s);
        }
        w_fmt(&w, ':', (long long)m->n[k]);
        assert_string_equal(fx_runv(f, 2 + cnt, argv, NULL), w.b);
    } else if (op == 3) { /* LPOP / RPOP count */
        bool head = rand_r(seed) % 2;
        size_t cnt = (size_t)rand_r(seed) % 8;
        snprintf(a, sizeof(a), "%zu", cnt);
        if (n == 0) {
            w_add(&w, "*-1\r\n", 5);
        } else {
            size_t got = cnt < n ? cnt : n;
            w_fmt(&w, '*', (long long)got);
            for (size_t i = 0; i < got; i++) {
                char *s = m_take(m, k, head ? 0 : m->n[k] - 1);
                w_bulk(&w, s);
                free(s);
            }
        }
        assert_string_equal(RUN(f, head ? "lpop" : "rpop", key, a), w.b);
    } else if (op == 4) { /* LINDEX */
        long long i = (long long)(rand_r(seed) % (2 * (int)n + 3)) - (long long)n - 1;
        snprintf(a, sizeof(a), "%lld", i);
        long long j = i < 0 ? i + (long long)n : i;
        if (j >= 0 && j < (long long)n)
            w_bulk(&w, m->v[k][j]);
        else
            w_add(&w, "$-1\r\n", 5);
        assert_string_equal(RUN(f, "lindex", key, a), w.b);
    } else if (op == 5 && n > 0) { /* LSET */
        size_t i = (size_t)rand_r(seed) % n;
        snprintf(a, sizeof(a), "%zu", i);
        char *s = rand_elem(seed, big_elems);
        assert_string_equal(RUN(f, "lset", key, a, s), "+OK\r\n");
        free(m->v[k][i]);
        m->v[k][i] = s;
    } else if (op == 6) { /* LRANGE */
        long long s0 = rand_r(seed) % (int)(n + 2), e0 = rand_r(seed) % (int)(n + 2) - 1;
        snprintf(a, sizeof(a), "%lld", s0);
        snprintf(b, sizeof(b), "%lld", e0);
        long long e1 = e0 < 0 ? e0 + (long long)n : e0;
        if (e1 >= (long long)n)
            e1 = (long long)n - 1;
        if (s0 > e1 || s0 >= (long long)n) {
            w_add(&w, "*0\r\n", 4);
        } else {
            w_fmt(&w, '*', e1 - s0 + 1);
            for (long long i = s0; i <= e1; i++)
                w_bulk(&w, m->v[k][i]);
        }
        assert_string_equal(RUN(f, "lrange", key, a, b), w.b);
    } else if (op == 7 && n > 0) { /* LTRIM keeping a random window (often small) */
        size_t s0 = (size_t)rand_r(seed) % n, keep = (size_t)rand_r(seed) % 6;
        size_t e0 = s0 + keep < n ? s0 + keep : n - 1;
        snprintf(a, sizeof(a), "%zu", s0);
        snprintf(b, sizeof(b), "%zu", e0);
        assert_string_equal(RUN(f, "ltrim", key, a, b), "+OK\r\n");
        for (size_t i = e0 + 1; i < n; i++)
            free(m->v[k][i]);
        for (size_t i = 0; i < s0; i++)
            free(m->v[k][i]);
        memmove(&m->v[k][0], &m->v[k][s0], (e0 - s0 + 1) * sizeof(char *));
        m->n[k] = e0 - s0 + 1;
    } else if (op == 8 && n > 0) { /* LREM count of an element present */
        const char *target = m->v[k][(size_t)rand_r(seed) % n];
        char *t = strdup(target);
        int cnt = rand_r(seed) % 5 - 2;
        snprintf(a, sizeof(a), "%d", cnt);
        long long removed = 0;
        size_t limit = cnt < 0 ? (size_t)-cnt : (size_t)cnt;
        if (cnt >= 0) {
            for (size_t i = 0; i < m->n[k] && (limit == 0 || (size_t)removed < limit);) {
                if (strcmp(m->v[k][i], t) == 0) {
                    free(m_take(m, k, i));
                    removed++;
                } else {
                    i++;
                }
            }
        } else {
            for (size_t i = m->n[k]; i-- > 0 && (size_t)removed < limit;) {
                if (strcmp(m->v[k][i], t) == 0) {
                    free(m_take(m, k, i));
                    removed++;
                }
            }
        }
        w_fmt(&w, ':', removed);
        assert_string_equal(RUN(f, "lrem", key, a, t), w.b);
        free(t);
    } else if (op == 9 && n > 0 && n + 1 < MAXLEN) { /* LINSERT at a present pivot */
        size_t p = (size_t)rand_r(seed) % n;
        bool after = rand_r(seed) % 2;
        char *pivot = strdup(m->v[k][p]);
        for (p = 0; strcmp(m->v[k][p], pivot) != 0; p++)
            ;
        char *s = rand_elem(seed, big_elems);
        m_insert(m, k, after ? p + 1 : p, s);
        w_fmt(&w, ':', (long long)m->n[k]);
        assert_string_equal(RUN(f, "linsert", key, after ? "after" : "before", pivot, s), w.b);
        free(pivot);
    } else if (op == 10 && m->n[k2] + 1 < MAXLEN) { /* LMOVE, across shards in MULTI */
        bool from_head = rand_r(seed) % 2, to_head = rand_r(seed) % 2;
        if (n == 0) {
            w_add(&w, "$-1\r\n", 5);
        } else {
            char *s = m_take(m, k, from_head ? 0 : m->n[k] - 1);
            w_bulk(&w, s);
            m_insert(m, k2, to_head ? 0 : m->n[k2], s);
        }
        assert_string_equal(RUN(f, "lmove", key, names[k2], from_head ? "left" : "right",
                                to_head ? "left" : "right"),
                            w.b);
    }
    free(w.b);
    /* the length agrees too, and an emptied list is gone */
    snprintf(a, sizeof(a), ":%zu\r\n", m->n[k]);
    assert_string_equal(RUN(f, "llen", key), a);
    assert_string_equal(RUN(f, "exists", key), m->n[k] > 0 ? ":1\r\n" : ":0\r\n");
}

/* The encoding of a key now: 0 absent, 1 pack, 2 chunked list. */
static int enc_of(struct fx *f, const char *key)
{
    struct skey k;
    skey_init(&k, key, strlen(key));
    struct kv *e = store_lookup(fx_store_of(f, key), 0, &k, T0, STORE_NOTOUCH);
    return e == NULL ? 0 : kv_enc(e) == KV_ENC_BIG ? 2 : 1;
}

static void run_model(struct fx *f, int fill, bool big_elems, unsigned seed)
{
    struct coll_params p = coll_params_default;
    p.list_max_size = fill;
    f->c.coll = &p;
    size_t used0[NSHARDS];
    for (int i = 0; i < NSHARDS; i++)
        used0[i] = store_used(f->st[i]);
    struct model *m = calloc(1, sizeof(*m));
    int last[NKEYS] = { 0 }, to_big = 0, to_pack = 0;
    for (int i = 0; i < 6000; i++) {
        step(f, m, &seed, big_elems);
        for (int k = 0; k < NKEYS; k++) {
            int e = enc_of(f, names[k]);
            to_big += last[k] == 1 && e == 2;
            to_pack += last[k] == 2 && e == 1;
            last[k] = e;
        }
    }
    print_message("fill %d: %d to chunked, %d back to a pack\n", fill, to_big, to_pack);
    /* both conversions happened, many times */
    assert_true(to_big > 10);
    assert_true(to_pack > 10);
    /* a big list moved to another shard's store and copied: accounted where it lands */
    RUN(f, "rpush", names[0], big_elems ? "x" : "y");
    for (int i = 0; i < 100; i++)
        RUN(f, "rpush", names[0], "0123456789012345678901234567890123456789", "z");
    assert_int_equal(enc_of(f, names[0]), 2);
    assert_string_equal(RUN(f, "rename", names[0], names[1]), "+OK\r\n");
    assert_string_equal(RUN(f, "copy", names[1], names[2], "replace"), ":1\r\n");
    assert_int_equal(enc_of(f, names[2]), 2);
    for (int k = 0; k < NKEYS; k++) {
        for (size_t i = 0; i < m->n[k]; i++)
            free(m->v[k][i]);
        RUN(f, "del", names[k]);
    }
    free(m);
    for (int i = 0; i < NSHARDS; i++)
        assert_int_equal(store_used(f->st[i]), used0[i]);
}

static void model_by_count(void **state)
{
    run_model(*state, 5, false, 1234);
}

static void model_by_bytes(void **state)
{
    run_model(*state, -1, true, 99);
}

static void errors_and_nulls(void **state)
{
    struct fx *f = *state;
    f->c.coll = &coll_params_default;
    EXPECT(f, "$-1\r\n", "lpop", "l");
    EXPECT(f, "*-1\r\n", "lpop", "l", "1");
    EXPECT(f, "-ERR no such key\r\n", "lset", "l", "0", "x");
    EXPECT(f, ":3\r\n", "rpush", "l", "a", "b", "a");
    EXPECT(f, "*0\r\n", "lpop", "l", "0");
    EXPECT(f, "-ERR value is out of range, must be positive\r\n", "lpop", "l", "-1");
    EXPECT(f, "-ERR index out of range\r\n", "lset", "l", "3", "x");
    EXPECT(f, "-ERR syntax error\r\n", "linsert", "l", "middle", "a", "x");
    EXPECT(f, ":-1\r\n", "linsert", "l", "before", "zz", "x");
    EXPECT(f,
           "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
           "or use negative to start from the end of the list\r\n",
           "lpos", "l", "a", "rank", "0");
    EXPECT(f, "-ERR COUNT can't be negative\r\n", "lpos", "l", "a", "count", "-1");
    EXPECT(f, "-ERR MAXLEN can't be negative\r\n", "lpos", "l", "a", "maxlen", "-1");
    EXPECT(f, "*2\r\n:0\r\n:2\r\n", "lpos", "l", "a", "count", "0");
    EXPECT(f, ":2\r\n", "lpos", "l", "a", "rank", "-1");
    EXPECT(f, "*0\r\n", "lpos", "l", "a", "rank", "3", "count", "0");
    EXPECT(f, "$-1\r\n", "lpos", "l", "a", "rank", "2", "maxlen", "2");
    EXPECT(f, "-ERR numkeys should be greater than 0\r\n", "lmpop", "0", "l", "left");
    EXPECT(f, "-ERR syntax error\r\n", "lmpop", "2", "l", "left");
    EXPECT(f, "-ERR count should be greater than 0\r\n", "lmpop", "1", "l", "left", "count", "0");
    EXPECT(f, "*2\r\n$1\r\nl\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n", "lmpop", "2", "x", "l", "right",
           "count", "2");
    EXPECT(f, "$1\r\na\r\n", "rpoplpush", "l", "l");
    EXPECT(f, "*-1\r\n", "lmpop", "1", "x", "left");
    EXPECT(f, "+OK\r\n", "set", "s", "v");
    EXPECT(f, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", "lmove",
           "l", "s", "left", "left");
    EXPECT(f, "$1\r\na\r\n", "lindex", "l", "0");
}

#define SINGLE(t) cmocka_unit_test_setup_teardown(t, fx_setup, fx_teardown)
#define MULTI(t)  cmocka_unit_test_setup_teardown(t, fx_setup_multi, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        SINGLE(model_by_count), MULTI(model_by_count),    SINGLE(model_by_bytes),
        MULTI(model_by_bytes),  SINGLE(errors_and_nulls), MULTI(errors_and_nulls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
