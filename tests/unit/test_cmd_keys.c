/*
 * Keyspace commands, reply bytes compared exactly with what Redis 7.0
 * answers; the multi-key and whole-keyspace commands also over three shards.
 */
#include "tests/unit/cmd_test.h"

#define OK   "+OK\r\n"
#define NIL  "$-1\r\n"
#define ZERO ":0\r\n"
#define ONE  ":1\r\n"

#define E_SYNTAX      "-ERR syntax error\r\n"
#define E_NOTINT      "-ERR value is not an integer or out of range\r\n"
#define E_DBRANGE     "-ERR DB index is out of range\r\n"
#define E_SAME        "-ERR source and destination objects are the same\r\n"
#define E_INTRANGE    "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n"
#define E_EXPIRE(cmd) "-ERR invalid expire time in '" cmd "' command\r\n"

/* ---- DEL, UNLINK, EXISTS, TOUCH, TYPE ----------------------------------- */

static void del_exists_touch_type(void **state)
{
    struct fx *f = *state;
    char k[NSHARDS][16];
    fx_keys_per_shard(k);
    EXPECT(f, OK, "mset", k[0], "1", k[1], "2", k[2], "3");
    EXPECT(f, ":4\r\n", "exists", k[0], k[1], k[1], k[2], "nope");
    EXPECT(f, ":3\r\n", "touch", k[0], k[0], k[2], "nope");
    EXPECT(f, "+string\r\n", "type", k[0]);
    EXPECT(f, "+none\r\n", "type", "nope");
    EXPECT(f, ":2\r\n", "del", k[0], k[1], "nope");
    assert_int_equal(f->dirty, 2);
    EXPECT(f, ONE, "unlink", k[2], k[2]);
    assert_int_equal(f->dirty, 1);
    EXPECT(f, ZERO, "del", "nope");
    assert_int_equal(f->dirty, 0);
    assert_int_equal(fx_count(f, 0), 0);

    /* an expired key is absent for all of them */
    EXPECT(f, OK, "set", "t", "v", "px", "10");
    f->c.now_ms += 11;
    EXPECT(f, ZERO, "exists", "t");
    EXPECT(f, OK, "set", "t", "v", "px", "10");
    f->c.now_ms += 11;
    EXPECT(f, ZERO, "del", "t");
    EXPECT(f, "+none\r\n", "type", "t");
}

/* TYPE, EXISTS, TTL and OBJECT count hits and misses without touching the key. */
static void lookups_count_stats(void **state)
{
    struct fx *f = *state;
    struct store_stats *st = store_stats(f->st[0]);
    EXPECT(f, OK, "set", "a", "1");
    st->keyspace_hits = st->keyspace_misses = 0;
    RUN(f, "type", "a");
    RUN(f, "exists", "a", "x");
    RUN(f, "ttl", "a");
    RUN(f, "pttl", "x");
    RUN(f, "expiretime", "a");
    RUN(f, "object", "encoding", "a");
    RUN(f, "object", "encoding", "x");
    RUN(f, "touch", "a");
    RUN(f, "strlen", "x");
    assert_int_equal(st->keyspace_hits, 6);
    assert_int_equal(st->keyspace_misses, 4);
    RUN(f, "memory", "usage", "a");
    RUN(f, "expire", "a", "100");
    RUN(f, "del", "x");
    RUN(f, "set", "a", "2");
    RUN(f, "incr", "a");
    assert_int_equal(st->keyspace_hits, 6);
    assert_int_equal(st->keyspace_misses, 4);

    /* no-touch reads leave the idle time alone */
    f->c.now_ms += 7000;
    EXPECT(f, "+string\r\n", "type", "a");
    EXPECT(f, ONE, "exists", "a");
    EXPECT(f, ":-1\r\n", "ttl", "a");
    EXPECT(f, ":7\r\n", "object", "idletime", "a");
    EXPECT(f, "$1\r\n3\r\n", "get", "a");
    EXPECT(f, ZERO, "object", "idletime", "a");
}

/* ---- expiry ------------------------------------------------------------- */

static void expire_basic(void **state)
{
    struct fx *f = *state;
    EXPECT(f, ZERO, "expire", "x", "10");
    assert_int_equal(f->dirty, 0);
    EXPECT(f, ":-2\r\n", "ttl", "x");
    EXPECT(f, ":-2\r\n", "pttl", "x");
    EXPECT(f, ":-2\r\n", "expiretime", "x");
    EXPECT(f, ":-2\r\n", "pexpiretime", "x");
    EXPECT(f, OK, "set", "a", "1");
    EXPECT(f, ":-1\r\n", "ttl", "a");
    EXPECT(f, ":-1\r\n", "pttl", "a");
    EXPECT(f, ":-1\r\n", "expiretime", "a");
    EXPECT(f, ":-1\r\n", "pexpiretime", "a");
    EXPECT(f, ZERO, "persist", "a");
    assert_int_equal(f->dirty, 0);

    EXPECT(f, ONE, "expire", "a", "100");
    assert_int_equal(f->dirty, 1);
    EXPECT(f, ":100\r\n", "ttl", "a");
    EXPECT(f, ":100000\r\n", "pttl", "a");
    EXPECT(f, ":1700000100\r\n", "expiretime", "a");
    EXPECT(f, ":1700000100000\r\n", "pexpiretime", "a");
    EXPECT(f, ONE, "pexpire", "a", "1500");
    EXPECT(f, ":2\r\n", "ttl", "a"); /* rounded */
    EXPECT(f, ONE, "pexpire", "a", "1499");
    EXPECT(f, ONE, "ttl", "a");
    EXPECT(f, ONE, "pexpire", "a", "500");
    EXPECT(f, ONE, "ttl", "a");
    EXPECT(f, ONE, "pexpire", "a", "499");
    EXPECT(f, ZERO, "ttl", "a");
    EXPECT(f, ONE, "expireat", "a", "2000000000");
    EXPECT(f, ":2000000000\r\n", "expiretime", "a");
    EXPECT(f, ONE, "pexpireat", "a", "2000000000600");
    EXPECT(f, ":2000000001\r\n", "expiretime", "a");
    EXPECT(f, ONE, "pexpireat", "a", "2000000000400");
    EXPECT(f, ":2000000000\r\n", "expiretime", "a");
    EXPECT(f, ONE, "persist", "a");
    assert_int_equal(f->dirty, 1);
    EXPECT(f, ":-1\r\n", "ttl", "a");
    EXPECT(f, ZERO, "persist", "x");

    /* expiry at the very edge: alive while now == when */
    EXPECT(f, ONE, "pexpire", "a", "10");
    f->c.now_ms += 10;
    EXPECT(f, ZERO, "pttl", "a");
    EXPECT(f, "$1\r\n1\r\n", "get", "a");
    f->c.now_ms += 1;
    EXPECT(f, ":-2\r\n", "pttl", "a");

    /* a time not in the future deletes the key and answers 1 */
    static const char *past[][3] = {
        { "expire", "0", NULL },
        { "expire", "-5", NULL },
        { "pexpire", "0", NULL },
        { "expireat", "0", NULL },
        { "pexpireat", "1", NULL },
        { "pexpire", "-9223372036854775808", NULL },
        { "expireat", "1700000000", NULL },
    };
    for (size_t i = 0; i < ARRAY_SIZE(past); i++) {
        EXPECT(f, OK, "set", "b", "1");
        EXPECT(f, ONE, past[i][0], "b", past[i][1]);
        assert_int_equal(f->dirty, 1);
        EXPECT(f, ZERO, "exists", "b");
    }
}

static void expire_options(void **state)
{
    struct fx *f = *state;
    EXPECT(f, OK, "mset", "a", "1", "b", "2");
    EXPECT(f, ONE, "expire", "a", "100");
    EXPECT(f, ZERO, "expire", "a", "100", "nx");
    assert_int_equal(f->dirty, 0);
    EXPECT(f, ONE, "expire", "a", "100", "xx");
    EXPECT(f, ZERO, "expire", "b", "100", "xx");
    EXPECT(f, ZERO, "expire", "b", "100", "gt"); /* persistent = infinite */
    EXPECT(f, ONE, "expire", "b", "100", "lt");
    EXPECT(f, ":100\r\n", "ttl", "b");
    EXPECT(f, ZERO, "expire", "b", "50", "gt");
    EXPECT(f, ZERO, "expire", "b", "100", "gt");
    EXPECT(f, ONE, "expire", "b", "500", "GT");
    EXPECT(f, ONE, "expire", "b", "50", "lt");
    EXPECT(f, ZERO, "expire", "b", "50", "lt");
    EXPECT(f, ":50\r\n", "ttl", "b");
    EXPECT(f, ONE, "expire", "b", "60", "gt", "xx");
    EXPECT(f, ONE, "expire", "b", "10", "lt", "lt");
    EXPECT(f, ZERO, "expire", "b", "10", "nx", "nx");
    EXPECT(f, ONE, "persist", "b");
    EXPECT(f, ONE, "expire", "b", "10", "NX");
    EXPECT(f, ONE, "persist", "b");
    EXPECT(f, ZERO, "expire", "b", "-5", "xx");
    EXPECT(f, ZERO, "expire", "b", "-5", "gt");
    EXPECT(f, ONE, "exists", "b");
    EXPECT(f, ONE, "expire", "b", "-5", "lt");
    EXPECT(f, ZERO, "exists", "b");

    const char *nxxx = "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n";
    const char *gtlt = "-ERR GT and LT options at the same time are not compatible\r\n";
    EXPECT(f, nxxx, "expire", "a", "10", "nx", "xx");
    EXPECT(f, nxxx, "expire", "a", "10", "xx", "nx");
    EXPECT(f, nxxx, "expire", "a", "10", "nx", "gt");
    EXPECT(f, nxxx, "expire", "a", "10", "lt", "nx");
    EXPECT(f, nxxx, "expire", "a", "abc", "nx", "xx");
    EXPECT(f, nxxx, "expireat", "a", "1", "nx", "xx");
    EXPECT(f, gtlt, "expire", "a", "10", "gt", "lt");
    EXPECT(f, gtlt, "pexpire", "a", "10", "lt", "xx", "gt");
    EXPECT(f, "-ERR Unsupported option foo\r\n", "expire", "a", "10", "foo");
    EXPECT(f, "-ERR Unsupported option foo\r\n", "expire", "a", "abc", "foo");
    EXPECT(f, "-ERR Unsupported option foo\r\n", "expire", "x", "10", "nx", "xx", "foo");
    EXPECT(f, "-ERR Unsupported option \r\n", "expire", "x", "10", "");
    EXPECT(f, E_NOTINT, "expire", "a", "abc");
    EXPECT(f, E_NOTINT, "expire", "x", "abc", "nx");
    EXPECT(f, E_NOTINT, "pexpire", "a", "1.5");
    EXPECT(f, "-ERR wrong number of arguments for 'expire' command\r\n", "expire", "a");
    EXPECT(f, ":100\r\n", "ttl", "a");
}

static void expire_overflow(void **state)
{
    struct fx *f = *state;
    EXPECT(f, OK, "set", "a", "1");
    EXPECT(f, E_EXPIRE("expire"), "expire", "a", "9223372036854775");
    EXPECT(f, E_EXPIRE("expire"), "expire", "a", "-9223372036854775808");
    EXPECT(f, E_EXPIRE("expire"), "expire", "a", "-9223372036854776");
    EXPECT(f, E_EXPIRE("pexpire"), "pexpire", "a", "9223372036854775807");
    EXPECT(f, E_EXPIRE("pexpire"), "pexpire", "a", "9223372036854775000");
    EXPECT(f, E_EXPIRE("expireat"), "expireat", "a", "-9223372036854775808");
    EXPECT(f, E_EXPIRE("expireat"), "expireat", "a", "9223372036854776");
    EXPECT(f, E_EXPIRE("expire"), "expire", "x", "9223372036854775");
    EXPECT(f, ONE, "exists", "a");
    EXPECT(f, ONE, "expireat", "a", "9223372036854775");
    EXPECT(f, ":9223372036854775000\r\n", "pexpiretime", "a");
    EXPECT(f, ONE, "pexpireat", "a", "9223372036854775807");
    EXPECT(f, ":9223370336854776\r\n", "ttl", "a");
    EXPECT(f, ":9223372036854776\r\n", "expiretime", "a");
    EXPECT(f, ONE, "pexpire", "a", "9223370336854775807");
    EXPECT(f, ":9223372036854775807\r\n", "pexpiretime", "a");
}

/* ---- KEYS, SCAN, RANDOMKEY, DBSIZE -------------------------------------- */

/* Parse an array of bulk strings; returns the count, keys copied into out. */
static size_t parse_bulks(const char **pp, char out[][32], size_t max)
{
    const char *p = *pp;
    assert_int_equal(*p, '*');
    long n = strtol(p + 1, (char **)&p, 10);
    p += 2;
    for (long i = 0; i < n; i++) {
        assert_int_equal(*p, '$');
        long len = strtol(p + 1, (char **)&p, 10);
        p += 2;
        assert_true((size_t)i < max && len < 32);
        memcpy(out[i], p, (size_t)len);
        out[i][len] = '\0';
        p += len + 2;
    }
    *pp = p;
    return (size_t)n;
}

/* Parse a SCAN reply: returns the next cursor, keys in out[0..*n). */
static uint64_t parse_scan(const char *reply, char out[][32], size_t max, size_t *n)
{
    assert_memory_equal(reply, "*2\r\n$", 5);
    const char *p = reply + 5;
    long len = strtol(p, (char **)&p, 10);
    p += 2;
    char cur[32];
    memcpy(cur, p, (size_t)len);
    cur[len] = '\0';
    p += len + 2;
    *n = parse_bulks(&p, out, max);
    assert_int_equal(*p, '\0');
    return strtoull(cur, NULL, 10);
}

static void keys_command(void **state)
{
    struct fx *f = *state;
    EXPECT(f, "*0\r\n", "keys", "*");
    EXPECT(f, OK, "mset", "k1", "1", "k2", "2", "x", "3", "key:1", "4");
    EXPECT(f, OK, "set", "gone", "v", "px", "5");
    f->c.now_ms += 6;
    char out[16][32];
    const char *p = RUN(f, "keys", "*");
    assert_int_equal(parse_bulks(&p, out, 16), 4);
    p = RUN(f, "keys", "k?");
    assert_int_equal(parse_bulks(&p, out, 16), 2);
    assert_true(strcmp(out[0], "k1") == 0 || strcmp(out[1], "k1") == 0);
    p = RUN(f, "keys", "k*");
    assert_int_equal(parse_bulks(&p, out, 16), 3);
    EXPECT(f, "*1\r\n$1\r\nx\r\n", "keys", "x");
    EXPECT(f, "*1\r\n$1\r\nx\r\n", "keys", "[a-x]");
    EXPECT(f, "*0\r\n", "keys", "K*");
    EXPECT(f, "*0\r\n", "keys", "gone");
    EXPECT(f, ":5\r\n", "dbsize"); /* the expired key is still counted until removed */
    EXPECT(f, "-ERR wrong number of arguments for 'keys' command\r\n", "keys");
}

static void scan_errors(void **state)
{
    struct fx *f = *state;
    const char *inv = "-ERR invalid cursor\r\n";
    EXPECT(f, inv, "scan", "abc");
    EXPECT(f, inv, "scan", " 1");
    EXPECT(f, inv, "scan", "1 ");
    EXPECT(f, inv, "scan", "+");
    EXPECT(f, inv, "scan", "-");
    EXPECT(f, inv, "scan", "0x1");
    EXPECT(f, inv, "scan", "18446744073709551616");
    EXPECT(f, inv, "scan", "-18446744073709551616");
    EXPECT(f, inv, "scan", "abc", "count", "0");
    EXPECT(f, E_SYNTAX, "scan", "0", "count", "0");
    EXPECT(f, E_SYNTAX, "scan", "0", "count", "-1");
    EXPECT(f, E_NOTINT, "scan", "0", "count", "abc");
    EXPECT(f, E_SYNTAX, "scan", "0", "match");
    EXPECT(f, E_SYNTAX, "scan", "0", "type");
    EXPECT(f, E_SYNTAX, "scan", "0", "count");
    EXPECT(f, E_SYNTAX, "scan", "0", "foo", "bar");
    EXPECT(f, E_SYNTAX, "scan", "0", "match", "*", "x");
    if (f->c.store != NULL) {
        /* one shard: the cursor is the store's own */
        EXPECT(f, "*2\r\n$1\r\n0\r\n*0\r\n", "scan", "0");
        EXPECT(f, "*2\r\n$1\r\n0\r\n*0\r\n", "scan", "");
        EXPECT(f, "*2\r\n$1\r\n0\r\n*0\r\n", "scan", "-0");
        EXPECT(f, "*2\r\n$1\r\n0\r\n*0\r\n", "scan", "+5");
        EXPECT(f, "*2\r\n$1\r\n0\r\n*0\r\n", "scan", "05");
    } else {
        /* three shards, all empty: a call that starts a shard also reads the later ones */
        EXPECT(f, "*2\r\n$1\r\n0\r\n*0\r\n", "scan", "0");
        EXPECT(f, "*2\r\n$1\r\n0\r\n*0\r\n", "scan", "");
        EXPECT(f, "*2\r\n$1\r\n0\r\n*0\r\n", "scan", "1");
        /* one in the middle of shard 1 reads only that shard */
        EXPECT(f, "*2\r\n$1\r\n2\r\n*0\r\n", "scan", "+5");
        EXPECT(f, "*2\r\n$1\r\n0\r\n*0\r\n", "scan", "06");
    }

    uint64_t c;
    assert_true(cmd_parse_cursor("-1", 2, &c));
    assert_true(c == UINT64_MAX);
    assert_true(cmd_parse_cursor("18446744073709551615", 20, &c));
    assert_true(c == UINT64_MAX);
    assert_true(cmd_parse_cursor("-18446744073709551615", 21, &c));
    assert_true(c == 1);
    assert_true(cmd_parse_cursor("+42", 3, &c));
    assert_true(c == 42);
    assert_int_equal(cmd_scan_bits(1), 0);
    assert_int_equal(cmd_scan_bits(2), 1);
    assert_int_equal(cmd_scan_bits(3), 2);
    assert_int_equal(cmd_scan_bits(4), 2);
    assert_int_equal(cmd_scan_bits(5), 3);
    assert_int_equal(cmd_scan_bits(64), 6);
    assert_int_equal(cmd_scan_shard(0x1e, 3), 2);
}

#define NKEYS 300

/*
 * Iterate to completion with the given options; every live key must come
 * back at least once. `route` imitates the dispatcher: a call that reads one
 * shard runs with c->store set, instead of with every shard held.
 */
static size_t scan_all(struct fx *f, bool route, const char *count, const char *match,
                       const char *type, bool seen[NKEYS])
{
    uint64_t cursor = 0;
    size_t calls = 0, total = 0;
    bool multi = f->c.store == NULL;
    do {
        char cur[24], out[4096][32];
        snprintf(cur, sizeof(cur), "%llu", (unsigned long long)cursor);
        if (multi && route) {
            uint64_t mask = cmd_scan_mask(cursor, NSHARDS);
            if ((mask & (mask - 1)) == 0) {
                unsigned sh = cmd_scan_shard(cursor, NSHARDS);
                f->c.store = f->st[sh];
                f->c.shard = sh;
            }
        }
        const char *argv[8] = { "scan", cur };
        int argc = 2;
        if (count) {
            argv[argc++] = "count";
            argv[argc++] = count;
        }
        if (match) {
            argv[argc++] = "match";
            argv[argc++] = match;
        }
        if (type) {
            argv[argc++] = "type";
            argv[argc++] = type;
        }
        size_t n;
        cursor = parse_scan(fx_runv(f, argc, argv, NULL), out, 4096, &n);
        if (multi && route)
            f->c.store = NULL;
        for (size_t i = 0; i < n; i++) {
            int id;
            assert_int_equal(sscanf(out[i], "key:%d", &id), 1);
            seen[id] = true;
        }
        total += n;
        calls++;
        assert_true(calls < 100000);
    } while (cursor != 0);
    return total;
}

static void scan_iterates_everything(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < NKEYS; i++) {
        char k[16];
        snprintf(k, sizeof(k), "key:%d", i);
        if (i % 10 == 0)
            EXPECT(f, OK, "set", k, "v", "px", "100");
        else
            EXPECT(f, OK, "set", k, "v");
    }
    bool seen[NKEYS];
    for (int route = 0; route < 2; route++) {
        static const char *counts[] = { NULL, "1", "7", "1000" };
        for (size_t c = 0; c < ARRAY_SIZE(counts); c++) {
            memset(seen, 0, sizeof(seen));
            assert_true(scan_all(f, route, counts[c], NULL, NULL, seen) >= NKEYS);
            for (int i = 0; i < NKEYS; i++)
                assert_true(seen[i]);
        }
    }
    memset(seen, 0, sizeof(seen));
    scan_all(f, false, "5", "key:1*", "STRING", seen);
    for (int i = 0; i < NKEYS; i++) {
        char k[16];
        snprintf(k, sizeof(k), "key:%d", i);
        assert_int_equal(seen[i], k[4] == '1');
    }
    memset(seen, 0, sizeof(seen));
    assert_int_equal(scan_all(f, false, NULL, NULL, "list", seen), 0);
    assert_int_equal(scan_all(f, false, NULL, "nomatch*", NULL, seen), 0);

    /* expired keys are left out and removed on the way */
    f->c.now_ms += 101;
    memset(seen, 0, sizeof(seen));
    assert_int_equal(scan_all(f, false, "50", NULL, NULL, seen), NKEYS - NKEYS / 10);
    for (int i = 0; i < NKEYS; i++)
        assert_int_equal(seen[i], i % 10 != 0);
    assert_int_equal(fx_count(f, 0), NKEYS - NKEYS / 10);
}

/*
 * Cursors carry the shard in their low bits. A call that starts a shard
 * fills its page from the later shards too; a finished shard hands over to
 * the next one.
 */
static void scan_cursor_shards(void **state)
{
    struct fx *f = *state;
    char k[NSHARDS][16];
    fx_keys_per_shard(k);
    EXPECT(f, OK, "set", k[0], "v");
    EXPECT(f, OK, "set", k[2], "v");
    char want[96];
    snprintf(want, sizeof(want), "*2\r\n$1\r\n0\r\n*2\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n",
             strlen(k[0]), k[0], strlen(k[2]), k[2]);
    EXPECT(f, want, "scan", "0", "count", "1000");
    /* the page is full after shard 0: the next call starts shard 2 (shard 1 is empty) */
    snprintf(want, sizeof(want), "*2\r\n$1\r\n2\r\n*1\r\n$%zu\r\n%s\r\n", strlen(k[0]), k[0]);
    EXPECT(f, want, "scan", "0", "count", "1");
    snprintf(want, sizeof(want), "*2\r\n$1\r\n0\r\n*1\r\n$%zu\r\n%s\r\n", strlen(k[2]), k[2]);
    EXPECT(f, want, "scan", "1", "count", "1");
    EXPECT(f, want, "scan", "2", "count", "1000");
    /* a full page with only empty shards left ends the iteration */
    EXPECT(f, ONE, "del", k[2]);
    snprintf(want, sizeof(want), "*2\r\n$1\r\n0\r\n*1\r\n$%zu\r\n%s\r\n", strlen(k[0]), k[0]);
    EXPECT(f, want, "scan", "0", "count", "1");
    EXPECT(f, OK, "set", k[2], "v");
    /* shard 3 does not exist: the iteration is over */
    EXPECT(f, "*2\r\n$1\r\n0\r\n*0\r\n", "scan", "3");
    EXPECT(f, "*2\r\n$1\r\n0\r\n*0\r\n", "scan", "-1");
    /* routed to the wrong shard: nothing to read there */
    f->c.store = f->st[1];
    f->c.shard = 1;
    EXPECT(f, "*2\r\n$1\r\n0\r\n*0\r\n", "scan", "0");
    f->c.shard = 0;
    f->c.store = f->st[0];
    EXPECT(f, "*2\r\n$1\r\n1\r\n*0\r\n", "scan", "0", "match", "nothing", "count", "1000");
}

/*
 * A keyspace no larger than COUNT ends in one call, as in Redis: the call
 * reads every shard and stops once it has seen every entry of each, even
 * when COUNT is reached before the table's last bucket.
 */
static void scan_small_keyspace(void **state)
{
    struct fx *f = *state;
    for (int n = 1; n <= 10; n++) {
        char k[16], out[16][32];
        snprintf(k, sizeof(k), "key:%d", n - 1);
        EXPECT(f, OK, "set", k, "v");
        size_t got;
        uint64_t cursor = parse_scan(RUN(f, "scan", "0"), out, 16, &got);
        assert_int_equal(cursor, 0);
        assert_int_equal(got, n);
        cursor = parse_scan(RUN(f, "scan", "0", "count", "100"), out, 16, &got);
        assert_int_equal(cursor, 0);
        assert_int_equal(got, n);
    }
}

static void randomkey_dbsize(void **state)
{
    struct fx *f = *state;
    EXPECT(f, NIL, "randomkey");
    EXPECT(f, ZERO, "dbsize");
    char k[NSHARDS][16];
    fx_keys_per_shard(k);
    EXPECT(f, OK, "set", k[1], "v");
    char want[32];
    snprintf(want, sizeof(want), "$%zu\r\n%s\r\n", strlen(k[1]), k[1]);
    EXPECT(f, want, "randomkey");
    EXPECT(f, OK, "mset", k[0], "1", k[2], "2");
    EXPECT(f, ":3\r\n", "dbsize");
    bool seen[NSHARDS] = { false };
    for (int i = 0; i < 300; i++) {
        RUN(f, "randomkey");
        for (int j = 0; j < NSHARDS; j++)
            if (strstr(f->out, k[j]) != NULL)
                seen[j] = true;
    }
    for (int j = 0; j < NSHARDS; j++)
        assert_true(seen[j]);
    /* only expired keys: they are removed and the answer is nil */
    EXPECT(f, ":3\r\n", "del", k[0], k[1], k[2]);
    EXPECT(f, OK, "set", "a", "1", "px", "1");
    EXPECT(f, OK, "set", "b", "1", "px", "1");
    f->c.now_ms += 2;
    EXPECT(f, ":2\r\n", "dbsize");
    EXPECT(f, NIL, "randomkey");
    EXPECT(f, ZERO, "dbsize");
    f->r.proto = 3;
    EXPECT(f, "_\r\n", "randomkey");
    f->c.db = 1;
    EXPECT(f, OK, "set", "x", "1");
    EXPECT(f, ONE, "dbsize");
    f->c.db = 0;
    EXPECT(f, ZERO, "dbsize");
}

/* ---- RENAME, COPY, MOVE ------------------------------------------------- */

static void rename_renamenx(void **state)
{
    struct fx *f = *state;
    char k[NSHARDS][16];
    fx_keys_per_shard(k);
    EXPECT(f, "-ERR no such key\r\n", "rename", "zz", "k1");
    EXPECT(f, "-ERR no such key\r\n", "rename", "zz", "zz");
    EXPECT(f, "-ERR no such key\r\n", "renamenx", "zz", "zz");
    EXPECT(f, OK, "set", k[0], "hello", "px", "5000");
    EXPECT(f, OK, "rename", k[0], k[0]);
    assert_int_equal(f->dirty, 0);
    EXPECT(f, ZERO, "renamenx", k[0], k[0]);

    /* across shards, keeping value, encoding and expiry */
    EXPECT(f, OK, "rename", k[0], k[1]);
    assert_int_equal(f->dirty, 1);
    EXPECT(f, ZERO, "exists", k[0]);
    EXPECT(f, "$5\r\nhello\r\n", "get", k[1]);
    EXPECT(f, ":5000\r\n", "pttl", k[1]);
    EXPECT(f, OK, "set", k[2], "12");
    EXPECT(f, ZERO, "renamenx", k[1], k[2]);
    assert_int_equal(f->dirty, 0);
    EXPECT(f, OK, "rename", k[2], k[0]);
    EXPECT(f, "$3\r\nint\r\n", "object", "encoding", k[0]);
    /* RENAME overwrites the destination and its expiry */
    EXPECT(f, OK, "rename", k[0], k[1]);
    EXPECT(f, "$2\r\n12\r\n", "get", k[1]);
    EXPECT(f, ":-1\r\n", "pttl", k[1]);
    EXPECT(f, ONE, "renamenx", k[1], k[2]);
    assert_int_equal(f->dirty, 1);
    EXPECT(f, ONE, "dbsize");
    /* an expired source is no source */
    EXPECT(f, ONE, "pexpire", k[2], "1");
    f->c.now_ms += 2;
    EXPECT(f, "-ERR no such key\r\n", "rename", k[2], k[0]);
    EXPECT(f, ZERO, "dbsize");
}

static void copy_command(void **state)
{
    struct fx *f = *state;
    char k[NSHARDS][16];
    fx_keys_per_shard(k);
    EXPECT(f, ZERO, "copy", "x", "y");
    EXPECT(f, OK, "set", k[0], "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "px",
           "100000");
    EXPECT(f, ONE, "copy", k[0], k[1]);
    assert_int_equal(f->dirty, 1);
    EXPECT(f, ":100000\r\n", "pttl", k[1]);
    EXPECT(f, "$3\r\nraw\r\n", "object", "encoding", k[1]);
    EXPECT(f, ZERO, "copy", k[0], k[1]);
    assert_int_equal(f->dirty, 0);
    EXPECT(f, OK, "set", k[2], "7");
    EXPECT(f, ONE, "copy", k[2], k[1], "replace");
    EXPECT(f, "$1\r\n7\r\n", "get", k[1]);
    EXPECT(f, ":-1\r\n", "pttl", k[1]);
    EXPECT(f, ONE, "copy", k[2], k[1], "REPLACE", "replace");
    EXPECT(f, "$3\r\nint\r\n", "object", "encoding", k[1]);

    EXPECT(f, E_SAME, "copy", k[0], k[0]);
    EXPECT(f, E_SAME, "copy", k[0], k[0], "db", "0");
    EXPECT(f, E_SAME, "copy", "x", "x");
    EXPECT(f, ONE, "copy", k[0], k[0], "db", "1");
    EXPECT(f, ZERO, "copy", k[0], k[0], "db", "1");
    EXPECT(f, ONE, "copy", k[0], k[0], "db", "1", "replace");
    EXPECT(f, ONE, "copy", k[0], "c", "db", "1", "db", "2");
    EXPECT(f, E_DBRANGE, "copy", k[0], "c", "db", "16");
    EXPECT(f, E_DBRANGE, "copy", k[0], "c", "db", "-1");
    EXPECT(f, E_DBRANGE, "copy", k[0], "c", "db", "16", "foo");
    EXPECT(f, E_DBRANGE, "copy", "x", "x", "db", "16");
    EXPECT(f, E_NOTINT, "copy", k[0], "c", "db", "abc");
    EXPECT(f, E_NOTINT, "copy", k[0], "c", "db", "1.5");
    EXPECT(f, E_NOTINT, "copy", k[0], "c", "db", "abc", "foo");
    EXPECT(f, E_INTRANGE, "copy", k[0], "c", "db", "99999999999");
    EXPECT(f, E_INTRANGE, "copy", k[0], "c", "db", "2147483648");
    EXPECT(f, E_SYNTAX, "copy", k[0], "c", "db");
    EXPECT(f, E_SYNTAX, "copy", k[0], "c", "foo");
    EXPECT(f, E_SYNTAX, "copy", k[0], "c", "foo", "db", "16");

    f->c.db = 1;
    EXPECT(f, ":100000\r\n", "pttl", k[0]);
    f->c.db = 2;
    EXPECT(f, "*1\r\n$1\r\nc\r\n", "keys", "*");
    f->c.db = 0;
    EXPECT(f, "*0\r\n", "keys", "c");
}

static void move_command(void **state)
{
    struct fx *f = *state;
    EXPECT(f, OK, "set", "a", "1", "px", "9000");
    EXPECT(f, E_SAME, "move", "a", "0");
    EXPECT(f, E_SAME, "move", "x", "0");
    EXPECT(f, E_DBRANGE, "move", "a", "16");
    EXPECT(f, E_DBRANGE, "move", "a", "-1");
    EXPECT(f, E_DBRANGE, "move", "x", "16");
    EXPECT(f, E_NOTINT, "move", "a", "abc");
    EXPECT(f, E_NOTINT, "move", "a", "1.5");
    EXPECT(f, E_INTRANGE, "move", "a", "99999999999");
    EXPECT(f, E_INTRANGE, "move", "a", "2147483648");
    EXPECT(f, ZERO, "move", "x", "3");
    assert_int_equal(f->dirty, 0);
    EXPECT(f, ONE, "move", "a", "1");
    assert_int_equal(f->dirty, 1);
    EXPECT(f, ZERO, "exists", "a");
    f->c.db = 1;
    EXPECT(f, ":9000\r\n", "pttl", "a");
    EXPECT(f, OK, "set", "b", "x");
    EXPECT(f, ONE, "move", "b", "0");
    EXPECT(f, OK, "set", "b", "y");
    f->c.db = 0;
    EXPECT(f, OK, "set", "a", "2");
    EXPECT(f, ZERO, "move", "a", "1"); /* already there */
    EXPECT(f, "$1\r\n2\r\n", "get", "a");
    EXPECT(f, "$1\r\nx\r\n", "get", "b");
}

/* ---- SWAPDB, FLUSHDB, FLUSHALL ------------------------------------------ */

static void swapdb_flush(void **state)
{
    struct fx *f = *state;
    char k[NSHARDS][16];
    fx_keys_per_shard(k);
    EXPECT(f, OK, "mset", k[0], "1", k[1], "2", k[2], "3");
    f->c.db = 4;
    EXPECT(f, OK, "set", "z", "1");
    f->c.db = 0;
    EXPECT(f, OK, "swapdb", "0", "4");
    assert_int_equal(f->dirty, 1);
    EXPECT(f, "*1\r\n$1\r\nz\r\n", "keys", "*");
    f->c.db = 4;
    EXPECT(f, ":3\r\n", "dbsize");
    f->c.db = 0;
    EXPECT(f, OK, "swapdb", "0", "0");
    assert_int_equal(f->dirty, 1);
    EXPECT(f, E_DBRANGE, "swapdb", "0", "16");
    EXPECT(f, E_DBRANGE, "swapdb", "-1", "0");
    EXPECT(f, "-ERR invalid first DB index\r\n", "swapdb", "a", "0");
    EXPECT(f, "-ERR invalid first DB index\r\n", "swapdb", "2147483648", "0");
    EXPECT(f, "-ERR invalid first DB index\r\n", "swapdb", "1.5", "0");
    EXPECT(f, "-ERR invalid second DB index\r\n", "swapdb", "0", "b");
    EXPECT(f, "-ERR invalid second DB index\r\n", "swapdb", "16", "b");
    EXPECT(f, "-ERR invalid second DB index\r\n", "swapdb", "0", "99999999999");

    EXPECT(f, E_SYNTAX, "flushdb", "foo");
    EXPECT(f, E_SYNTAX, "flushdb", "sync", "async");
    EXPECT(f, E_SYNTAX, "flushall", "SYNC", "x");
    EXPECT(f, E_SYNTAX, "flushall", "");
    EXPECT(f, ONE, "dbsize");
    EXPECT(f, OK, "flushdb", "ASYNC");
    assert_int_equal(f->dirty, 1);
    EXPECT(f, ZERO, "dbsize");
    EXPECT(f, OK, "flushdb");
    assert_int_equal(f->dirty, 0);
    f->c.db = 4;
    EXPECT(f, ":3\r\n", "dbsize");
    EXPECT(f, OK, "set", "more", "1");
    f->c.db = 9;
    EXPECT(f, OK, "set", "other", "1");
    EXPECT(f, OK, "flushall", "sync");
    assert_int_equal(f->dirty, 5);
    for (int db = 0; db < 16; db++)
        assert_int_equal(fx_count(f, db), 0);
    EXPECT(f, OK, "flushall");
    assert_int_equal(f->dirty, 0);
}

/* ---- OBJECT, MEMORY ----------------------------------------------------- */

static void object_command(void **state)
{
    struct fx *f = *state;
    EXPECT(f, NIL, "object", "encoding", "x");
    EXPECT(f, NIL, "object", "refcount", "x");
    EXPECT(f, NIL, "object", "idletime", "x");
    EXPECT(f, NIL, "object", "freq", "x");
    EXPECT(f, OK, "mset", "n", "5", "m", "9999", "big", "10000", "neg", "-1", "s", "abc");
    const int64_t max = 2147483647;
    char want[32];
    snprintf(want, sizeof(want), ":%lld\r\n", (long long)max);
    EXPECT(f, want, "object", "refcount", "n");
    EXPECT(f, want, "object", "refcount", "m");
    EXPECT(f, ONE, "object", "refcount", "big");
    EXPECT(f, ONE, "object", "refcount", "neg");
    EXPECT(f, ONE, "object", "refcount", "s");
    EXPECT(f, "$6\r\nembstr\r\n", "object", "ENCODING", "s");

    f->c.now_ms += 3000;
    EXPECT(f, ":3\r\n", "object", "idletime", "s");
    const char *lfu_off = "-ERR An LFU maxmemory policy is not selected, access frequency not "
                          "tracked. Please note that when switching between policies at runtime "
                          "LRU and LFU data will take some time to adjust.\r\n";
    const char *lfu_on = "-ERR An LFU maxmemory policy is selected, idle time not tracked. "
                         "Please note that when switching between policies at runtime LRU and "
                         "LFU data will take some time to adjust.\r\n";
    EXPECT(f, lfu_off, "object", "freq", "s");
    f->params.maxmemory_policy = POLICY_ALLKEYS_LFU;
    EXPECT(f, lfu_on, "object", "idletime", "s");
    EXPECT(f, NIL, "object", "idletime", "x");
    EXPECT(f, OK, "set", "lfu", "hello");
    EXPECT(f, ":5\r\n", "object", "freq", "lfu");
    EXPECT(f, ":5\r\n", "object", "freq", "lfu"); /* OBJECT itself is no access */
    f->params.maxmemory_policy = POLICY_VOLATILE_LFU;
    EXPECT(f, ":5\r\n", "object", "freq", "lfu");
    f->params.maxmemory_policy = POLICY_NOEVICTION;

    RUN(f, "object", "help");
    assert_memory_equal(f->out,
                        "*15\r\n+OBJECT <subcommand> [<arg> [value] [opt] ...]. "
                        "Subcommands are:\r\n+ENCODING <key>\r\n",
                        strlen("*15\r\n+OBJECT <subcommand> [<arg> [value] [opt] ...]. "
                               "Subcommands are:\r\n+ENCODING <key>\r\n"));
    assert_non_null(strstr(f->out, "+HELP\r\n+    Prints this help.\r\n"));
    EXPECT(f, "-ERR wrong number of arguments for 'object|encoding' command\r\n", "object",
           "encoding");
    EXPECT(f, "-ERR wrong number of arguments for 'object|encoding' command\r\n", "object",
           "encoding", "a", "b");
    f->r.proto = 3;
    EXPECT(f, "_\r\n", "object", "encoding", "x");
}

static void memory_usage(void **state)
{
    struct fx *f = *state;
    EXPECT(f, NIL, "memory", "usage", "x");
    EXPECT(f, OK, "set", "a", "1");
    const char *p = RUN(f, "memory", "usage", "a");
    long small = strtol(p + 1, NULL, 10);
    assert_int_equal(p[0], ':');
    assert_true(small > 0);
    char want[32];
    snprintf(want, sizeof(want), ":%ld\r\n", small);
    EXPECT(f, want, "memory", "usage", "a", "samples", "5");
    EXPECT(f, want, "memory", "usage", "a", "SAMPLES", "0");
    EXPECT(f, want, "memory", "usage", "a", "samples", "1", "samples", "2");
    EXPECT(f, E_SYNTAX, "memory", "usage", "a", "samples");
    EXPECT(f, E_SYNTAX, "memory", "usage", "a", "samples", "-1");
    EXPECT(f, E_SYNTAX, "memory", "usage", "a", "foo");
    EXPECT(f, E_SYNTAX, "memory", "usage", "x", "foo");
    EXPECT(f, E_NOTINT, "memory", "usage", "a", "samples", "abc");
    EXPECT(f, E_NOTINT, "memory", "usage", "x", "samples", "abc");
    EXPECT(f, OK, "set", "b",
           "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    p = RUN(f, "memory", "usage", "b");
    assert_true(strtol(p + 1, NULL, 10) > small + 60);
    RUN(f, "memory", "help");
    assert_memory_equal(f->out, "*6\r\n+MEMORY <subcommand> [<arg> [value] [opt] ...]. ",
                        strlen("*6\r\n+MEMORY <subcommand> [<arg> [value] [opt] ...]. "));
    EXPECT(f, "-ERR wrong number of arguments for 'memory|usage' command\r\n", "memory", "usage");
}

/* ---- the table ---------------------------------------------------------- */

static void table_rows(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int arity, first, last, step;
        uint8_t route;
    } want[] = {
        { "del", -2, 1, -1, 1, ROUTE_KEYS },       { "unlink", -2, 1, -1, 1, ROUTE_KEYS },
        { "exists", -2, 1, -1, 1, ROUTE_KEYS },    { "touch", -2, 1, -1, 1, ROUTE_KEYS },
        { "type", 2, 1, 1, 1, ROUTE_KEYS },        { "expire", -3, 1, 1, 1, ROUTE_KEYS },
        { "pexpire", -3, 1, 1, 1, ROUTE_KEYS },    { "expireat", -3, 1, 1, 1, ROUTE_KEYS },
        { "pexpireat", -3, 1, 1, 1, ROUTE_KEYS },  { "ttl", 2, 1, 1, 1, ROUTE_KEYS },
        { "pttl", 2, 1, 1, 1, ROUTE_KEYS },        { "expiretime", 2, 1, 1, 1, ROUTE_KEYS },
        { "pexpiretime", 2, 1, 1, 1, ROUTE_KEYS }, { "persist", 2, 1, 1, 1, ROUTE_KEYS },
        { "keys", 2, 0, 0, 0, ROUTE_ALL },         { "scan", -2, 0, 0, 0, ROUTE_SCAN },
        { "randomkey", 1, 0, 0, 0, ROUTE_ALL },    { "rename", 3, 1, 2, 1, ROUTE_KEYS },
        { "renamenx", 3, 1, 2, 1, ROUTE_KEYS },    { "copy", -3, 1, 2, 1, ROUTE_KEYS },
        { "move", 3, 1, 1, 1, ROUTE_KEYS },        { "dbsize", 1, 0, 0, 0, ROUTE_ALL },
        { "flushdb", -1, 0, 0, 0, ROUTE_ALL },     { "flushall", -1, 0, 0, 0, ROUTE_ALL },
        { "swapdb", 3, 0, 0, 0, ROUTE_ALL },       { "object", -2, 0, 0, 0, ROUTE_LOCAL },
        { "memory", -2, 0, 0, 0, ROUTE_LOCAL },
    };
    for (size_t n = 0; n < ARRAY_SIZE(want); n++) {
        const struct cmd_def *d = find_row(want[n].name, strlen(want[n].name));
        assert_non_null(d);
        assert_int_equal(d->arity, want[n].arity);
        assert_int_equal(d->first_key, want[n].first);
        assert_int_equal(d->last_key, want[n].last);
        assert_int_equal(d->key_step, want[n].step);
        assert_int_equal(d->route, want[n].route);
        assert_non_null(d->summary);
        assert_true(d->fn == NULL || (d->acl & CMD_ACL_KEYSPACE));
        assert_true((d->fn != NULL) != (d->subs != NULL));
        assert_int_equal(d->nkeyspecs > 0, d->first_key > 0 && d->route == ROUTE_KEYS);
        for (const struct cmd_def *s = d->subs; s != NULL && s->name != NULL; s++) {
            assert_non_null(s->fn);
            assert_non_null(s->summary);
            assert_true(s->arity == 2 || s->first_key == 2);
        }
    }
}

#define SINGLE(t) cmocka_unit_test_setup_teardown(t, fx_setup, fx_teardown)
#define MULTI(t)  cmocka_unit_test_setup_teardown(t, fx_setup_multi, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        SINGLE(del_exists_touch_type),
        MULTI(del_exists_touch_type),
        SINGLE(lookups_count_stats),
        SINGLE(expire_basic),
        SINGLE(expire_options),
        SINGLE(expire_overflow),
        SINGLE(keys_command),
        MULTI(keys_command),
        SINGLE(scan_errors),
        MULTI(scan_errors),
        SINGLE(scan_iterates_everything),
        MULTI(scan_iterates_everything),
        MULTI(scan_cursor_shards),
        SINGLE(scan_small_keyspace),
        MULTI(scan_small_keyspace),
        SINGLE(randomkey_dbsize),
        MULTI(randomkey_dbsize),
        SINGLE(rename_renamenx),
        MULTI(rename_renamenx),
        SINGLE(copy_command),
        MULTI(copy_command),
        SINGLE(move_command),
        MULTI(move_command),
        SINGLE(swapdb_flush),
        MULTI(swapdb_flush),
        SINGLE(object_command),
        SINGLE(memory_usage),
        SINGLE(table_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
