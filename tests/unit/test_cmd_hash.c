/*
 * Hash commands through their handlers (cmd_test.h), against a reference model: seeded
 * random runs of HSET/HSETNX/HDEL/HINCRBY/HGET/HLEN/HGETALL/HSTRLEN with thresholds lowered
 * so both encodings and the conversion between them are crossed many times; after every
 * step the reply matches the model, OBJECT ENCODING says what Redis 7.0 would, and when a
 * run's hashes are deleted the stores' memory returns to what it was (member stores are
 * accounted and freed).
 */
#include "tests/unit/cmd_test.h"

#define NFIELDS 24
#define NKEYS   3
#define STEPS   4000

struct model {
    bool has[NFIELDS];
    char val[NFIELDS][64];
    int order[NFIELDS]; /* insertion order while a pack */
    int n;
    bool big; /* converted: never goes back */
};

static const char *field_name(int i, char *buf)
{
    /* integers and strings, so the pack's integer elements are exercised */
    if (i % 3 == 0)
        snprintf(buf, 16, "%d", i * 7 - 30);
    else
        snprintf(buf, 16, "field:%d", i);
    return buf;
}

static void model_set(struct model *m, int fi, const char *v)
{
    if (!m->has[fi]) {
        m->has[fi] = true;
        m->order[m->n++] = fi;
    }
    snprintf(m->val[fi], sizeof(m->val[fi]), "%s", v);
}

static void model_del(struct model *m, int fi)
{
    if (!m->has[fi])
        return;
    m->has[fi] = false;
    int j = 0;
    for (int i = 0; i < m->n; i++)
        if (m->order[i] != fi)
            m->order[j++] = m->order[i];
    m->n = j;
    if (m->n == 0)
        m->big = false; /* the key is gone */
}

/* Parse a RESP2 array of bulk strings into items; returns the count. */
static int parse_bulks(const char *s, char items[][64], int max)
{
    assert_int_equal(s[0], '*');
    int n = atoi(s + 1);
    assert_true(n <= max);
    s = strstr(s, "\r\n") + 2;
    for (int i = 0; i < n; i++) {
        assert_int_equal(s[0], '$');
        int len = atoi(s + 1);
        s = strstr(s, "\r\n") + 2;
        assert_true(len < 64);
        memcpy(items[i], s, (size_t)len);
        items[i][len] = '\0';
        s += len + 2;
    }
    return n;
}

static void check_all(struct fx *f, const char *key, const struct model *m)
{
    char items[2 * NFIELDS][64];
    int n = parse_bulks(RUN(f, "HGETALL", key), items, 2 * NFIELDS);
    assert_int_equal(n, 2 * m->n);
    char buf[16];
    if (!m->big) {
        /* a pack keeps insertion order, as a Redis listpack */
        for (int i = 0; i < m->n; i++) {
            assert_string_equal(items[2 * i], field_name(m->order[i], buf));
            assert_string_equal(items[2 * i + 1], m->val[m->order[i]]);
        }
        return;
    }
    for (int i = 0; i < m->n; i++) {
        int fi = m->order[i], hits = 0;
        field_name(fi, buf);
        for (int j = 0; j < n; j += 2)
            if (strcmp(items[j], buf) == 0) {
                assert_string_equal(items[j + 1], m->val[fi]);
                hits++;
            }
        assert_int_equal(hits, 1);
    }
}

static void random_run(void **state)
{
    struct fx *f = *state;
    f->coll.hash_max_entries = 8;
    f->coll.hash_max_value = 16;
    size_t before[NSHARDS];
    for (int i = 0; i < NSHARDS; i++)
        before[i] = store_used(f->st[i]);
    struct model m[NKEYS];
    memset(m, 0, sizeof(m));
    const char *keys[NKEYS] = { "h:a", "h:b", "h:c" };
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    char want[256], buf[16], val[64];
    for (int step = 0; step < STEPS; step++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t r = (uint32_t)(seed >> 33);
        int ki = (int)(r % NKEYS), fi = (int)((r >> 4) % NFIELDS), op = (int)((r >> 12) % 10);
        struct model *mm = &m[ki];
        const char *key = keys[ki];
        field_name(fi, buf);
        switch (op) {
        case 0:
        case 1:
        case 2: { /* HSET, sometimes a value past hash-max-listpack-value */
            int len = (r >> 16) % 8 == 0 ? 20 : (int)((r >> 20) % 10);
            for (int i = 0; i < len; i++)
                val[i] = (char)('a' + (r >> (i % 16)) % 26);
            val[len] = '\0';
            snprintf(want, sizeof(want), ":%d\r\n", mm->has[fi] ? 0 : 1);
            EXPECT(f, want, "HSET", key, buf, val);
            model_set(mm, fi, val);
            if (len > 16 || mm->n > 8)
                mm->big = true;
            break;
        }
        case 3: /* HSETNX */
            snprintf(want, sizeof(want), ":%d\r\n", mm->has[fi] ? 0 : 1);
            EXPECT(f, want, "HSETNX", key, buf, "nx");
            if (!mm->has[fi]) {
                model_set(mm, fi, "nx");
                if (mm->n > 8)
                    mm->big = true;
            }
            break;
        case 4:
        case 5: /* HDEL */
            snprintf(want, sizeof(want), ":%d\r\n", mm->has[fi] ? 1 : 0);
            EXPECT(f, want, "HDEL", key, buf);
            model_del(mm, fi);
            break;
        case 6: { /* HINCRBY on a numeric or a text value */
            long long v;
            char *end;
            bool num = !mm->has[fi] ||
                       (v = strtoll(mm->val[fi], &end, 10), *end == '\0' && mm->val[fi][0] != '\0');
            if (!mm->has[fi])
                v = 0;
            if (num && mm->has[fi]) {
                /* canonical only: "01" or "+1" are not integers to Redis either */
                char canon[32];
                snprintf(canon, sizeof(canon), "%lld", v);
                num = strcmp(canon, mm->val[fi]) == 0;
            }
            if (num) {
                snprintf(want, sizeof(want), ":%lld\r\n", v + 3);
                EXPECT(f, want, "HINCRBY", key, buf, "3");
                snprintf(val, sizeof(val), "%lld", v + 3);
                model_set(mm, fi, val);
                if (mm->n > 8)
                    mm->big = true;
            } else {
                EXPECT(f, "-ERR hash value is not an integer\r\n", "HINCRBY", key, buf, "3");
            }
            break;
        }
        case 7: /* HGET */
            if (mm->has[fi])
                snprintf(want, sizeof(want), "$%zu\r\n%.63s\r\n", strlen(mm->val[fi]), mm->val[fi]);
            else
                snprintf(want, sizeof(want), "$-1\r\n");
            EXPECT(f, want, "HGET", key, buf);
            break;
        case 8: /* HLEN, HSTRLEN */
            snprintf(want, sizeof(want), ":%d\r\n", mm->n);
            EXPECT(f, want, "HLEN", key);
            snprintf(want, sizeof(want), ":%zu\r\n", mm->has[fi] ? strlen(mm->val[fi]) : 0);
            EXPECT(f, want, "HSTRLEN", key, buf);
            break;
        default:
            check_all(f, key, mm);
            break;
        }
        if (mm->n == 0) {
            EXPECT(f, ":0\r\n", "EXISTS", key);
        } else {
            snprintf(want, sizeof(want), "$%d\r\n%s\r\n", mm->big ? 9 : 8,
                     mm->big ? "hashtable" : "listpack");
            EXPECT(f, want, "OBJECT", "ENCODING", key);
        }
    }
    for (int i = 0; i < NKEYS; i++)
        RUN(f, "DEL", keys[i]);
    for (int i = 0; i < NSHARDS; i++)
        assert_int_equal(store_used(f->st[i]), before[i]);
}

/* A big hash renamed and copied keeps its fields; the copy is independent. */
static void big_rename_copy(void **state)
{
    struct fx *f = *state;
    f->coll.hash_max_entries = 4;
    for (int i = 0; i < 10; i++) {
        char fl[16];
        snprintf(fl, sizeof(fl), "f%d", i);
        RUN(f, "HSET", "src", fl, "v");
    }
    EXPECT(f, "$9\r\nhashtable\r\n", "OBJECT", "ENCODING", "src");
    EXPECT(f, "+OK\r\n", "RENAME", "src", "dst");
    EXPECT(f, ":10\r\n", "HLEN", "dst");
    EXPECT(f, ":1\r\n", "COPY", "dst", "cp");
    EXPECT(f, ":1\r\n", "HDEL", "cp", "f1");
    EXPECT(f, ":10\r\n", "HLEN", "dst");
    EXPECT(f, ":9\r\n", "HLEN", "cp");
    EXPECT(f, "$9\r\nhashtable\r\n", "OBJECT", "ENCODING", "cp");
    /* a string command on a hash, a hash command on a string */
    EXPECT(f, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", "GET",
           "dst");
    RUN(f, "SET", "s", "x");
    EXPECT(f, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", "HGET", "s",
           "f");
    /* SET over a big hash frees it */
    EXPECT(f, "+OK\r\n", "SET", "dst", "plain");
    EXPECT(f, "$5\r\nplain\r\n", "GET", "dst");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(random_run, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(big_rename_copy, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
