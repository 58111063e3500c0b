/*
 * Set commands: reply bytes as Redis 7.0 gives them, what SPOP hands to replicas, and a
 * seeded random run of the write commands against a small reference model (sorted arrays of
 * member texts), one shard and three, with set-max-intset-entries low so that sets convert
 * to the hashtable, are emptied and start again as intsets many times over.
 */
#include "tests/unit/cmd_test.h"

#define ZERO ":0\r\n"
#define ONE  ":1\r\n"

/* ---- what SPOP propagates ----------------------------------------------------------- */

static char fed[4096];
static size_t fed_len;
static int fed_cmds, fed_args;

static void capture(struct cmd_ctx *c, int argc, const struct resp_arg *argv)
{
    (void)c;
    fed_cmds++;
    fed_args += argc;
    for (int i = 0; i < argc && fed_len < sizeof(fed) - 64; i++)
        fed_len += (size_t)snprintf(fed + fed_len, sizeof(fed) - fed_len, "%s%.*s",
                                    i == 0 ? "" : " ", (int)argv[i].len, argv[i].ptr);
    fed_len += (size_t)snprintf(fed + fed_len, sizeof(fed) - fed_len, ";");
}

static void fed_reset(struct fx *f)
{
    fed_len = 0;
    fed[0] = '\0';
    fed_cmds = fed_args = 0;
    f->c.propagate = capture;
}

/* The members of an array or set reply, sorted, joined by commas; *n gets their count. */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *reply_members(const char *out, int *n)
{
    static char buf[8192];
    char *items[1024];
    int k = 0;
    const char *p = strchr(out, '\n') + 1;
    while (*p == '$' && k < 1024) {
        int len = atoi(p + 1);
        p = strchr(p, '\n') + 1;
        items[k++] = strndup(p, (size_t)len);
        p += len + 2;
    }
    qsort(items, (size_t)k, sizeof(*items), cmp_str);
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < k; i++) {
        used += (size_t)snprintf(buf + used, sizeof(buf) - used, "%s%s", i ? "," : "", items[i]);
        free(items[i]);
    }
    *n = k;
    return buf;
}

static void spop_propagates_srem_or_del(void **state)
{
    struct fx *f = *state;
    fed_reset(f);
    EXPECT(f, ":5\r\n", "sadd", "s", "1", "2", "3", "4", "5");
    RUN(f, "spop", "s");
    assert_int_equal(f->dirty, 1);
    assert_memory_equal(f->out, "$1\r\n", 4);
    char want[256];
    snprintf(want, sizeof(want), "SREM s %c;", f->out[4]);
    assert_string_equal(fed, want);

    /* some: one SREM naming what the reply named */
    fed_reset(f);
    RUN(f, "spop", "s", "2");
    assert_int_equal(f->dirty, 2);
    assert_memory_equal(f->out, "*2\r\n", 4);
    int n;
    char popped[64];
    snprintf(popped, sizeof(popped), "%s", reply_members(f->out, &n));
    assert_int_equal(n, 2);
    snprintf(want, sizeof(want), "SREM s %c %c;", popped[0], popped[2]);
    char alt[256];
    snprintf(alt, sizeof(alt), "SREM s %c %c;", popped[2], popped[0]);
    assert_true(strcmp(fed, want) == 0 || strcmp(fed, alt) == 0);
    EXPECT(f, ":2\r\n", "scard", "s");
    EXPECT(f, ZERO, "sismember", "s", (char[2]){ popped[0], 0 });

    /* all of it: DEL */
    fed_reset(f);
    RUN(f, "spop", "s", "2");
    assert_string_equal(fed, "DEL s;");
    assert_int_equal(f->dirty, 2);
    EXPECT(f, ZERO, "exists", "s");

    /* the last member by SPOP without count: still an SREM (Redis 7.0) */
    fed_reset(f);
    EXPECT(f, ONE, "sadd", "t", "x");
    EXPECT(f, "$1\r\nx\r\n", "spop", "t");
    assert_string_equal(fed, "SREM t x;");
    EXPECT(f, ZERO, "exists", "t");

    /* nothing popped, nothing fed */
    fed_reset(f);
    EXPECT(f, "*0\r\n", "spop", "missing", "3");
    EXPECT(f, "$-1\r\n", "spop", "missing");
    assert_int_equal(fed_cmds, 0);

    /* a hashtable: SREM in batches of 1024 members */
    char m[16];
    for (int i = 0; i < 3000; i++) {
        snprintf(m, sizeof(m), "m%d", i);
        RUN(f, "sadd", "h", m);
    }
    fed_reset(f);
    RUN(f, "spop", "h", "2000");
    assert_int_equal(f->dirty, 2000);
    reply_members(f->out, &n);
    assert_int_equal(n, 1024); /* reply_members reads the first 1024 */
    assert_int_equal(fed_cmds, 2);
    assert_int_equal(fed_args, 2000 + 2 * 2);
    EXPECT(f, ":1000\r\n", "scard", "h");
    /* an intset over several batches */
    params.set_max_intset = 5000;
    for (int i = 0; i < 3000; i++) {
        snprintf(m, sizeof(m), "%d", i);
        RUN(f, "sadd", "i", m);
    }
    EXPECT(f, "$6\r\nintset\r\n", "object", "encoding", "i");
    fed_reset(f);
    RUN(f, "spop", "i", "2500");
    assert_int_equal(fed_cmds, 3);
    assert_int_equal(fed_args, 2500 + 3 * 2);
    EXPECT(f, ":500\r\n", "scard", "i");
}

/* ---- replies exactly -------------------------------------------------------------------- */

static void replies_exact(void **state)
{
    struct fx *f = *state;
    EXPECT(f, ":4\r\n", "sadd", "s", "10", "-3", "7", "10", "0");
    EXPECT(f, "*4\r\n$2\r\n-3\r\n$1\r\n0\r\n$1\r\n7\r\n$2\r\n10\r\n", "smembers", "s");
    EXPECT(f, "$6\r\nintset\r\n", "object", "encoding", "s");
    EXPECT(f, ONE, "sismember", "s", "7");
    EXPECT(f, ZERO, "sismember", "s", "07");
    EXPECT(f, "*3\r\n:1\r\n:0\r\n:0\r\n", "smismember", "s", "0", "-0", "x");
    EXPECT(f, "*0\r\n", "srandmember", "s", "0");
    EXPECT(f, "*4\r\n$2\r\n-3\r\n$1\r\n0\r\n$1\r\n7\r\n$2\r\n10\r\n", "srandmember", "s", "4");
    EXPECT(f, "$-1\r\n", "srandmember", "nope");
    EXPECT(f, "*0\r\n", "srandmember", "nope", "5");
    EXPECT(f, "$-1\r\n", "spop", "nope");
    EXPECT(f, "*0\r\n", "spop", "nope", "5");
    EXPECT(f, "*2\r\n$1\r\n0\r\n*2\r\n$1\r\n0\r\n$2\r\n10\r\n", "sscan", "s", "0", "match", "*0");
    EXPECT(f, ":2\r\n", "sadd", "t", "7", "x");
    EXPECT(f, "$9\r\nhashtable\r\n", "object", "encoding", "t");
    EXPECT(f, "*1\r\n$1\r\n7\r\n", "sinter", "s", "t");
    EXPECT(f, ":1\r\n", "sintercard", "2", "s", "t");
    EXPECT(f, ":2\r\n", "sintercard", "1", "s", "limit", "2");
    EXPECT(f, ":4\r\n", "sintercard", "1", "s", "limit", "0");
    EXPECT(f, "*3\r\n$2\r\n-3\r\n$1\r\n0\r\n$2\r\n10\r\n", "sdiff", "s", "t");
    EXPECT(f, ":3\r\n", "sdiffstore", "d", "s", "t");
    EXPECT(f, "$6\r\nintset\r\n", "object", "encoding", "d");
    EXPECT(f, ZERO, "sinterstore", "d", "s", "nope");
    EXPECT(f, ZERO, "exists", "d");
    EXPECT(f, ZERO, "smove", "s", "t", "99");
    EXPECT(f, ONE, "smove", "s", "s", "10");
    EXPECT(f, ONE, "smove", "s", "t", "10");
    EXPECT(f, ":3\r\n", "scard", "t");

    /* errors, in Redis's words and order */
    EXPECT(f, "+OK\r\n", "set", "str", "v");
    const char *wrongtype =
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    EXPECT(f, wrongtype, "sadd", "str", "1");
    EXPECT(f, wrongtype, "sinter", "nope", "str");
    EXPECT(f, wrongtype, "smove", "s", "str", "0");
    EXPECT(f, ZERO, "smove", "nope", "str", "0");
    EXPECT(f, wrongtype, "get", "s");
    EXPECT(f, "-ERR numkeys should be greater than 0\r\n", "sintercard", "0", "s");
    EXPECT(f, "-ERR numkeys should be greater than 0\r\n", "sintercard", "x", "s");
    EXPECT(f, "-ERR Number of keys can't be greater than number of args\r\n", "sintercard", "2",
           "s");
    EXPECT(f, "-ERR LIMIT can't be negative\r\n", "sintercard", "1", "s", "limit", "-1");
    EXPECT(f, "-ERR syntax error\r\n", "sintercard", "1", "s", "limit");
    EXPECT(f, "-ERR value is out of range, must be positive\r\n", "spop", "s", "-1");
    EXPECT(f, "-ERR value is out of range, must be positive\r\n", "spop", "s", "x");
    EXPECT(f, "-ERR syntax error\r\n", "spop", "s", "1", "2");
    EXPECT(f,
           "-ERR value is out of range, value must between -9223372036854775807 and "
           "9223372036854775807\r\n",
           "srandmember", "s", "-9223372036854775808");
    EXPECT(f, "-ERR value is not an integer or out of range\r\n", "srandmember", "s", "x");

    /* RESP3: sets where Redis replies a set */
    f->r.proto = 3;
    EXPECT(f, "~0\r\n", "smembers", "nope");
    EXPECT(f, "~0\r\n", "spop", "s", "0");
    EXPECT(f, "~1\r\n$1\r\n7\r\n", "sinter", "s", "t");
    EXPECT(f, "*0\r\n", "srandmember", "nope", "3");
    EXPECT(f, "_\r\n", "spop", "nope");
}

/* ---- a random run against a model ------------------------------------------------------- */

#define NKEYS    4
#define NMEMBERS 24
#define MAXSET   NMEMBERS

static const char *pool[NMEMBERS] = {
    "0",
    "1",
    "2",
    "3",
    "5",
    "8",
    "13",
    "-1",
    "-40",
    "100",
    "4096",
    "-4097",
    "70000",
    "9223372036854775807",
    "-9223372036854775808",
    "a",
    "b",
    "",
    "01",
    "-0",
    "+1",
    "1.5",
    "9223372036854775808",
    "bin\x01",
};

struct model {
    bool in[NKEYS][NMEMBERS];
    bool big[NKEYS]; /* converted to the hashtable */
};

static const char *keyname[NKEYS] = { "key:0", "key:1", "key:2", "key:3" };

static bool is_int(int m)
{
    long long v;
    return util_str2ll(pool[m], strlen(pool[m]), &v);
}

static int mcount(const struct model *md, int k)
{
    int n = 0;
    for (int m = 0; m < NMEMBERS; m++)
        n += md->in[k][m];
    return n;
}

/* A set written with SADD's rules from nothing (what the *STORE results are). */
static void model_settle(struct model *md, int k)
{
    md->big[k] = mcount(md, k) > params.set_max_intset;
    for (int m = 0; m < NMEMBERS; m++)
        if (md->in[k][m] && !is_int(m))
            md->big[k] = true;
}

static void model_add(struct model *md, int k, int m)
{
    if (mcount(md, k) == 0)
        md->big[k] = false;
    md->in[k][m] = true;
    if (!is_int(m) || mcount(md, k) > params.set_max_intset)
        md->big[k] = true;
}

static int by_value(const void *a, const void *b)
{
    long long x, y;
    util_str2ll(pool[*(const int *)a], strlen(pool[*(const int *)a]), &x);
    util_str2ll(pool[*(const int *)b], strlen(pool[*(const int *)b]), &y);
    return x < y ? -1 : x > y;
}

/* The model agrees with the server on key k: size, members, encoding, intset order. */
static void check_key(struct fx *f, const struct model *md, int k, unsigned step)
{
    char want[64];
    int n = mcount(md, k);
    snprintf(want, sizeof(want), ":%d\r\n", n);
    if (strcmp(RUN(f, "scard", keyname[k]), want) != 0)
        fail_msg("step %u: scard %s: %s, want %d", step, keyname[k], f->out, n);
    for (int m = 0; m < NMEMBERS; m++) {
        const char *argv[3] = { "sismember", keyname[k], pool[m] };
        size_t lens[3] = { 9, strlen(keyname[k]), strlen(pool[m]) + (m == NMEMBERS - 1) * 0 };
        fx_runv(f, 3, argv, lens);
        if (strcmp(f->out, md->in[k][m] ? ONE : ZERO) != 0)
            fail_msg("step %u: sismember %s '%s': %s", step, keyname[k], pool[m], f->out);
    }
    if (n == 0) {
        EXPECT(f, ZERO, "exists", keyname[k]);
        return;
    }
    const char *enc = md->big[k] ? "$9\r\nhashtable\r\n" : "$6\r\nintset\r\n";
    if (strcmp(RUN(f, "object", "encoding", keyname[k]), enc) != 0)
        fail_msg("step %u: encoding of %s: %s, want %s", step, keyname[k], f->out, enc);
    if (!md->big[k]) {
        int order[NMEMBERS], c = 0;
        for (int m = 0; m < NMEMBERS; m++)
            if (md->in[k][m])
                order[c++] = m;
        qsort(order, (size_t)c, sizeof(*order), by_value);
        char exp[2048];
        size_t len = (size_t)snprintf(exp, sizeof(exp), "*%d\r\n", c);
        for (int i = 0; i < c; i++)
            len += (size_t)snprintf(exp + len, sizeof(exp) - len, "$%zu\r\n%s\r\n",
                                    strlen(pool[order[i]]), pool[order[i]]);
        if (strcmp(RUN(f, "smembers", keyname[k]), exp) != 0)
            fail_msg("step %u: smembers %s: %s, want %s", step, keyname[k], f->out, exp);
    }
}

static void random_run(struct fx *f, uint64_t seed, long long max_intset, unsigned steps)
{
    struct model md;
    memset(&md, 0, sizeof(md));
    params.set_max_intset = max_intset;
    srand((unsigned)seed);
    for (int k = 0; k < NKEYS; k++)
        RUN(f, "del", keyname[k]);
    for (unsigned step = 0; step < steps; step++) {
        int op = rand() % 10, k = rand() % NKEYS, k2 = rand() % NKEYS, k3 = rand() % NKEYS;
        int m = rand() % NMEMBERS;
        /* mostly integers, so intsets live long enough to convert by count */
        if (rand() % 4 != 0)
            while (!is_int(m))
                m = rand() % NMEMBERS;
        const char *mk = pool[m];
        switch (op) {
        case 0:
        case 1:
        case 2: {
            RUN(f, "sadd", keyname[k], mk);
            model_add(&md, k, m);
            break;
        }
        case 3:
        case 4:
            RUN(f, "srem", keyname[k], mk);
            md.in[k][m] = false;
            break;
        case 5: {
            RUN(f, "smove", keyname[k], keyname[k2], mk);
            if (k != k2 && md.in[k][m]) {
                md.in[k][m] = false;
                model_add(&md, k2, m);
            }
            break;
        }
        case 6:
        case 7:
        case 8: {
            static const char *cmds[3] = { "sinterstore", "sunionstore", "sdiffstore" };
            int which = op - 6;
            RUN(f, cmds[which], keyname[k], keyname[k2], keyname[k3]);
            bool res[NMEMBERS];
            for (int i = 0; i < NMEMBERS; i++) {
                bool a = md.in[k2][i], b = md.in[k3][i];
                res[i] = which == 0 ? a && b : which == 1 ? a || b : a && !b;
            }
            memcpy(md.in[k], res, sizeof(res));
            if (which == 2 && k2 != k3) {
                /* SDIFFSTORE's second algorithm may convert on the way: read the encoding */
                model_settle(&md, k);
                if (mcount(&md, k) > 0 &&
                    strcmp(RUN(f, "object", "encoding", keyname[k]), "$9\r\nhashtable\r\n") == 0)
                    md.big[k] = true;
            } else {
                model_settle(&md, k);
            }
            break;
        }
        case 9:
            RUN(f, "spop", keyname[k], "1000");
            memset(md.in[k], 0, sizeof(md.in[k]));
            break;
        }
        for (int j = 0; j < NKEYS; j++)
            check_key(f, &md, j, step);
    }
}

static void random_against_model(void **state)
{
    struct fx *f = *state;
    random_run(f, 1, 4, 1500);
    random_run(f, 2, 8, 1500);
    random_run(f, 3, 512, 800);
    random_run(f, 4, 0, 400);
}

/* ---- conversions, the *STORE results, big sets ------------------------------------------ */

static void big_sets(void **state)
{
    struct fx *f = *state;
    char m[24];
    for (int i = 0; i < 600; i++) {
        snprintf(m, sizeof(m), "%d", i);
        RUN(f, "sadd", "big", m);
        if (i == 511)
            EXPECT(f, "$6\r\nintset\r\n", "object", "encoding", "big");
    }
    EXPECT(f, "$9\r\nhashtable\r\n", "object", "encoding", "big");
    EXPECT(f, ":600\r\n", "scard", "big");
    /* SSCAN reaches every member across calls */
    bool seen[600] = { false };
    char cur[32] = "0";
    int total = 0;
    do {
        RUN(f, "sscan", "big", cur, "count", "50");
        const char *p = f->out + 4; /* "*2\r\n" */
        int len = atoi(p + 1);
        p = strchr(p, '\n') + 1;
        snprintf(cur, sizeof(cur), "%.*s", len, p);
        p = strchr(p, '\n') + 1;
        int n = atoi(p + 1);
        p = strchr(p, '\n') + 1;
        for (int i = 0; i < n; i++) {
            int l = atoi(p + 1);
            p = strchr(p, '\n') + 1;
            int v = atoi(p);
            if (!seen[v])
                total++;
            seen[v] = true;
            p += l + 2;
        }
    } while (strcmp(cur, "0") != 0);
    assert_int_equal(total, 600);
    /* a union within the limit is an intset again */
    EXPECT(f, ":3\r\n", "sadd", "small", "1", "2", "3");
    EXPECT(f, ":3\r\n", "sinterstore", "i", "big", "small");
    EXPECT(f, "$6\r\nintset\r\n", "object", "encoding", "i");
    EXPECT(f, ":600\r\n", "sunionstore", "u", "big", "small");
    EXPECT(f, "$9\r\nhashtable\r\n", "object", "encoding", "u");
    /* SRANDMEMBER distinct picks */
    RUN(f, "srandmember", "big", "100");
    int n;
    reply_members(f->out, &n);
    assert_int_equal(n, 100);
    /* MEMORY USAGE counts the member store */
    long long small = atoll(RUN(f, "memory", "usage", "small") + 1);
    long long big = atoll(RUN(f, "memory", "usage", "big") + 1);
    assert_true(small > 0);
    assert_true(big > 600 * 8);
}

#define SINGLE(t) cmocka_unit_test_setup_teardown(t, fx_setup_coll, fx_teardown)
#define MULTI(t)  cmocka_unit_test_setup_teardown(t, fx_setup_coll_multi, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        SINGLE(replies_exact),
        MULTI(replies_exact),
        SINGLE(spop_propagates_srem_or_del),
        SINGLE(random_against_model),
        MULTI(random_against_model),
        SINGLE(big_sets),
        MULTI(big_sets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
