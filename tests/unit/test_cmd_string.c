/*
 * String commands, reply bytes compared exactly with what Redis 7.0 answers.
 */
#include "tests/unit/cmd_test.h"

#define OK   "+OK\r\n"
#define NIL  "$-1\r\n"
#define NIL3 "_\r\n"
#define ZERO ":0\r\n"
#define ONE  ":1\r\n"

#define E_SYNTAX      "-ERR syntax error\r\n"
#define E_NOTINT      "-ERR value is not an integer or out of range\r\n"
#define E_FLOAT       "-ERR value is not a valid float\r\n"
#define E_SIZE        "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"
#define E_EXPIRE(cmd) "-ERR invalid expire time in '" cmd "' command\r\n"

/* ---- GET / SET ---------------------------------------------------------- */

static void get_and_set(void **state)
{
    struct fx *f = *state;
    EXPECT(f, NIL, "get", "k");
    EXPECT(f, OK, "set", "k", "hello");
    assert_int_equal(f->dirty, 1);
    EXPECT(f, "$5\r\nhello\r\n", "get", "k");
    assert_int_equal(f->dirty, 0);
    EXPECT(f, OK, "SET", "k", "");
    EXPECT(f, "$0\r\n\r\n", "GET", "k");

    /* binary-safe keys and values */
    const char *argv[] = { "set", "a\0b", "x\0\r\ny" };
    size_t lens[] = { 3, 3, 5 };
    assert_string_equal(fx_runv(f, 3, argv, lens), OK);
    const char *get[] = { "get", "a\0b" };
    fx_runv(f, 2, get, lens);
    assert_int_equal(f->outlen, 11);
    assert_memory_equal(f->out, "$5\r\nx\0\r\ny\r\n", 11);
    EXPECT(f, NIL, "get", "a");
}

static void set_conditions(void **state)
{
    struct fx *f = *state;
    EXPECT(f, NIL, "set", "k", "v", "xx");
    assert_int_equal(f->dirty, 0);
    EXPECT(f, NIL, "get", "k");
    EXPECT(f, OK, "set", "k", "v", "nx");
    EXPECT(f, NIL, "set", "k", "w", "NX");
    assert_int_equal(f->dirty, 0);
    EXPECT(f, "$1\r\nv\r\n", "get", "k");
    EXPECT(f, OK, "set", "k", "w", "Xx");
    EXPECT(f, "$1\r\nw\r\n", "get", "k");

    /* GET returns the old value, whether or not the condition lets the write happen */
    EXPECT(f, "$1\r\nw\r\n", "set", "k", "x", "get");
    EXPECT(f, "$1\r\nx\r\n", "set", "k", "y", "nx", "get");
    EXPECT(f, "$1\r\nx\r\n", "get", "k");
    EXPECT(f, "$1\r\nx\r\n", "set", "k", "z", "GeT", "xx");
    EXPECT(f, "$1\r\nz\r\n", "set", "k", "z", "get", "get");
    EXPECT(f, NIL, "set", "n", "v", "xx", "get");
    EXPECT(f, NIL, "get", "n");
    EXPECT(f, NIL, "set", "n", "v", "nx", "get");
    assert_int_equal(f->dirty, 1);
    EXPECT(f, "$1\r\nv\r\n", "get", "n");
    EXPECT(f, "$1\r\nv\r\n", "set", "n", "w", "nx", "get");
    assert_int_equal(f->dirty, 0);
}

static void set_syntax_errors(void **state)
{
    struct fx *f = *state;
    EXPECT(f, E_SYNTAX, "set", "k", "v", "nx", "xx");
    EXPECT(f, E_SYNTAX, "set", "k", "v", "xx", "nx");
    EXPECT(f, E_SYNTAX, "set", "k", "v", "nx", "get", "xx");
    EXPECT(f, E_SYNTAX, "set", "k", "v", "ex", "1", "px", "1");
    EXPECT(f, E_SYNTAX, "set", "k", "v", "ex", "20", "px", "10");
    EXPECT(f, E_SYNTAX, "set", "k", "v", "pxat", "1", "ex", "3");
    EXPECT(f, E_SYNTAX, "set", "k", "v", "exat", "1", "pxat", "3");
    EXPECT(f, E_SYNTAX, "set", "k", "v", "ex", "1", "keepttl");
    EXPECT(f, E_SYNTAX, "set", "k", "v", "keepttl", "ex", "1");
    EXPECT(f, E_SYNTAX, "set", "k", "v", "keepttl", "pxat", "1");
    EXPECT(f, E_SYNTAX, "set", "k", "v", "foo");
    EXPECT(f, E_SYNTAX, "set", "k", "v", "ex");
    EXPECT(f, E_SYNTAX, "set", "k", "v", "getx");
    EXPECT(f, E_SYNTAX, "set", "k", "v", "e", "1");
    EXPECT(f, E_SYNTAX, "set", "k", "v", "exa", "1");
    EXPECT(f, E_SYNTAX, "set", "k", "v", "persist");
    EXPECT(f, E_SYNTAX, "set", "k", "v", "ex", "abc", "nx", "xx");
    EXPECT(f, E_SYNTAX, "set", "k", "v", "px", "1", "nx", "xx");
    EXPECT(f, E_SYNTAX, "set", "k", "v", "keeptt1");
    EXPECT(f, E_SYNTAX, "set", "k", "v", "nz");
    EXPECT(f, E_SYNTAX, "set", "k", "v", "e\x58");
    EXPECT(f, OK, "set", "k", "v", "e\x58", "5"); /* 'X': case-insensitive */
    EXPECT(f, "-ERR wrong number of arguments for 'set' command\r\n", "set", "k");
    assert_int_equal(fx_count(f, 0), 1);
}

static void set_expiry(void **state)
{
    struct fx *f = *state;
    EXPECT(f, E_EXPIRE("set"), "set", "k", "v", "ex", "0");
    EXPECT(f, E_EXPIRE("set"), "set", "k", "v", "ex", "-1");
    EXPECT(f, E_EXPIRE("set"), "set", "k", "v", "px", "0");
    EXPECT(f, E_EXPIRE("set"), "set", "k", "v", "exat", "0");
    EXPECT(f, E_EXPIRE("set"), "set", "k", "v", "pxat", "0");
    EXPECT(f, E_EXPIRE("set"), "set", "k", "v", "PX", "-5");
    EXPECT(f, E_NOTINT, "set", "k", "v", "ex", "abc");
    EXPECT(f, E_NOTINT, "set", "k", "v", "px", "1.5");
    EXPECT(f, E_NOTINT, "set", "k", "v", "EXAT", "9223372036854775808");
    /* seconds * 1000 overflows, or now + ms does */
    EXPECT(f, E_EXPIRE("set"), "set", "k", "v", "ex", "9223372036854775807");
    EXPECT(f, E_EXPIRE("set"), "set", "k", "v", "ex", "9223372036854775");
    EXPECT(f, E_EXPIRE("set"), "set", "k", "v", "px", "9223372036854775807");
    EXPECT(f, E_EXPIRE("set"), "set", "k", "v", "px", "9223372036854775000");
    EXPECT(f, E_EXPIRE("set"), "set", "k", "v", "EXAT", "9223372036854776");
    assert_int_equal(fx_count(f, 0), 0);
    EXPECT(f, OK, "set", "k", "v", "exat", "9223372036854775");
    EXPECT(f, ":9223372036854775000\r\n", "pexpiretime", "k");
    EXPECT(f, OK, "set", "k", "v", "pxat", "9223372036854775807");
    EXPECT(f, ":9223372036854775807\r\n", "pexpiretime", "k");

    EXPECT(f, OK, "set", "k", "v", "ex", "10");
    EXPECT(f, ":10000\r\n", "pttl", "k");
    EXPECT(f, OK, "set", "k", "v", "px", "1500");
    EXPECT(f, ":1500\r\n", "pttl", "k");
    /* the last of repeated expiry options wins; only its value is parsed */
    EXPECT(f, OK, "set", "k", "v", "ex", "10", "ex", "20");
    EXPECT(f, ":20000\r\n", "pttl", "k");
    EXPECT(f, OK, "set", "k", "v", "ex", "abc", "ex", "30");
    EXPECT(f, ":30000\r\n", "pttl", "k");
    EXPECT(f, E_NOTINT, "set", "k", "v", "ex", "10", "ex", "abc");
    EXPECT(f, OK, "set", "k", "v", "exat", "1700000100");
    EXPECT(f, ":100000\r\n", "pttl", "k");
    EXPECT(f, OK, "set", "k", "v", "pxat", "1700000000500");
    EXPECT(f, ":500\r\n", "pttl", "k");

    /* KEEPTTL keeps, a plain SET clears */
    EXPECT(f, OK, "set", "k", "w", "keepttl");
    EXPECT(f, ":500\r\n", "pttl", "k");
    EXPECT(f, OK, "set", "k", "w", "keepttl", "KEEPTTL");
    EXPECT(f, ":500\r\n", "pttl", "k");
    EXPECT(f, OK, "set", "k", "w");
    EXPECT(f, ":-1\r\n", "pttl", "k");
    EXPECT(f, OK, "set", "k", "w", "keepttl");
    EXPECT(f, ":-1\r\n", "pttl", "k");

    /* an absolute time in the past is accepted; the key is gone at once */
    EXPECT(f, OK, "set", "k", "v", "EXAT", "1");
    assert_int_equal(f->dirty, 1);
    EXPECT(f, NIL, "get", "k");

    /* time moves */
    EXPECT(f, OK, "set", "t", "v", "px", "100");
    f->c.now_ms += 100;
    EXPECT(f, "$1\r\nv\r\n", "get", "t");
    f->c.now_ms += 1;
    EXPECT(f, NIL, "get", "t");
}

static void set_encodings(void **state)
{
    struct fx *f = *state;
    static const struct {
        const char *v, *enc;
    } cases[] = {
        { "123", "int" },
        { "0", "int" },
        { "-1", "int" },
        { "10000", "int" },
        { "9223372036854775807", "int" },
        { "-9223372036854775808", "int" },
        { "9223372036854775808", "embstr" },
        { "12345678901234567890", "embstr" },
        { "-0", "embstr" },
        { "0123", "embstr" },
        { " 1", "embstr" },
        { "1.5", "embstr" },
        { "", "embstr" },
        { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "embstr" },
        { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "raw" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char want[32];
        EXPECT(f, OK, "set", "k", cases[i].v);
        snprintf(want, sizeof(want), "$%zu\r\n%s\r\n", strlen(cases[i].enc), cases[i].enc);
        EXPECT(f, want, "object", "encoding", "k");
    }
}

static void setnx_setex_psetex(void **state)
{
    struct fx *f = *state;
    EXPECT(f, ONE, "setnx", "k", "v");
    assert_int_equal(f->dirty, 1);
    EXPECT(f, ZERO, "setnx", "k", "w");
    assert_int_equal(f->dirty, 0);
    EXPECT(f, "$1\r\nv\r\n", "get", "k");

    EXPECT(f, E_EXPIRE("setex"), "setex", "k", "0", "v");
    EXPECT(f, E_EXPIRE("setex"), "setex", "k", "-1", "v");
    EXPECT(f, E_EXPIRE("setex"), "setex", "k", "9223372036854775", "v");
    EXPECT(f, E_NOTINT, "setex", "k", "abc", "v");
    EXPECT(f, E_EXPIRE("psetex"), "psetex", "k", "0", "v");
    EXPECT(f, E_EXPIRE("psetex"), "psetex", "k", "9223372036854775000", "v");
    EXPECT(f, "-ERR wrong number of arguments for 'setex' command\r\n", "setex", "k", "10");

    EXPECT(f, OK, "setex", "k", "10", "v");
    assert_int_equal(f->dirty, 1);
    EXPECT(f, ":10000\r\n", "pttl", "k");
    EXPECT(f, "$6\r\nembstr\r\n", "object", "encoding", "k");
    EXPECT(f, OK, "setex", "k", "10", "12");
    EXPECT(f, "$3\r\nint\r\n", "object", "encoding", "k");
    EXPECT(f, OK, "psetex", "k", "1500", "v");
    EXPECT(f, ":1500\r\n", "pttl", "k");

    /* SETNX on an expired key sets it */
    f->c.now_ms += 1501;
    EXPECT(f, ONE, "setnx", "k", "new");
    EXPECT(f, ":-1\r\n", "pttl", "k");
}

static void getset_getdel(void **state)
{
    struct fx *f = *state;
    EXPECT(f, NIL, "getset", "k", "a");
    assert_int_equal(f->dirty, 1);
    EXPECT(f, "$1\r\na\r\n", "get", "k");
    EXPECT(f, ONE, "expire", "k", "100");
    EXPECT(f, "$1\r\na\r\n", "getset", "k", "12");
    EXPECT(f, ":-1\r\n", "ttl", "k");
    EXPECT(f, "$3\r\nint\r\n", "object", "encoding", "k");

    EXPECT(f, "$2\r\n12\r\n", "getdel", "k");
    assert_int_equal(f->dirty, 1);
    EXPECT(f, NIL, "getdel", "k");
    assert_int_equal(f->dirty, 0);
    EXPECT(f, NIL, "get", "k");
}

static void getex(void **state)
{
    struct fx *f = *state;
    EXPECT(f, NIL, "getex", "missing");
    EXPECT(f, NIL, "getex", "missing", "ex", "10");
    EXPECT(f, NIL, "getex", "missing", "ex", "abc"); /* the value is read after the lookup */
    EXPECT(f, E_SYNTAX, "getex", "missing", "foo");

    EXPECT(f, OK, "set", "k", "v");
    EXPECT(f, "$1\r\nv\r\n", "getex", "k");
    assert_int_equal(f->dirty, 0);
    EXPECT(f, "$1\r\nv\r\n", "getex", "k", "ex", "10");
    assert_int_equal(f->dirty, 1);
    EXPECT(f, ":10000\r\n", "pttl", "k");
    EXPECT(f, "$1\r\nv\r\n", "getex", "k", "px", "2500");
    EXPECT(f, ":2500\r\n", "pttl", "k");
    EXPECT(f, "$1\r\nv\r\n", "getex", "k", "exat", "1700000100");
    EXPECT(f, ":100000\r\n", "pttl", "k");
    EXPECT(f, "$1\r\nv\r\n", "getex", "k", "pxat", "1700000000700");
    EXPECT(f, ":700\r\n", "pttl", "k");
    EXPECT(f, "$1\r\nv\r\n", "getex", "k", "ex", "10", "ex", "20");
    EXPECT(f, ":20000\r\n", "pttl", "k");
    EXPECT(f, "$1\r\nv\r\n", "getex", "k", "ex", "abc", "ex", "30");
    EXPECT(f, ":30000\r\n", "pttl", "k");
    EXPECT(f, "$1\r\nv\r\n", "getex", "k", "persist");
    assert_int_equal(f->dirty, 1);
    EXPECT(f, ":-1\r\n", "pttl", "k");
    EXPECT(f, "$1\r\nv\r\n", "getex", "k", "PERSIST", "persist");
    assert_int_equal(f->dirty, 0);

    EXPECT(f, E_EXPIRE("getex"), "getex", "k", "ex", "0");
    EXPECT(f, E_EXPIRE("getex"), "getex", "k", "ex", "-1");
    EXPECT(f, E_EXPIRE("getex"), "getex", "k", "ex", "9223372036854775");
    EXPECT(f, E_NOTINT, "getex", "k", "px", "abc");
    EXPECT(f, E_NOTINT, "getex", "k", "exat", "9223372036854775808");
    EXPECT(f, E_SYNTAX, "getex", "k", "ex", "10", "px", "10");
    EXPECT(f, E_SYNTAX, "getex", "k", "ex", "10", "persist");
    EXPECT(f, E_SYNTAX, "getex", "k", "persist", "ex", "10");
    EXPECT(f, E_SYNTAX, "getex", "k", "persist", "ex");
    EXPECT(f, E_SYNTAX, "getex", "k", "ex");
    EXPECT(f, E_SYNTAX, "getex", "k", "nx");
    EXPECT(f, E_SYNTAX, "getex", "k", "get");
    EXPECT(f, E_SYNTAX, "getex", "k", "keepttl");
    EXPECT(f, ":-1\r\n", "pttl", "k");

    /* an absolute time in the past answers the value and deletes the key */
    EXPECT(f, "$1\r\nv\r\n", "getex", "k", "exat", "1");
    assert_int_equal(f->dirty, 1);
    EXPECT(f, ZERO, "exists", "k");
    EXPECT(f, OK, "set", "k", "v");
    EXPECT(f, "$1\r\nv\r\n", "getex", "k", "pxat", "1700000000000");
    EXPECT(f, ZERO, "exists", "k");
}

/* ---- multi-key ---------------------------------------------------------- */

static void mget_mset_msetnx(void **state)
{
    struct fx *f = *state;
    char k[NSHARDS][16];
    fx_keys_per_shard(k);

    EXPECT(f, "*3\r\n$-1\r\n$-1\r\n$-1\r\n", "mget", k[0], k[1], k[2]);
    EXPECT(f, OK, "mset", k[0], "a", k[1], "bb", k[2], "1");
    assert_int_equal(f->dirty, 3);
    for (int i = 0; i < NSHARDS; i++)
        assert_int_equal(store_count(f->st[i], 0), f->c.store != NULL ? (i == 0 ? 3 : 0) : 1);
    EXPECT(f, "*4\r\n$1\r\na\r\n$-1\r\n$2\r\nbb\r\n$1\r\n1\r\n", "mget", k[0], "nope", k[1], k[2]);
    EXPECT(f, "$3\r\nint\r\n", "object", "encoding", k[2]);
    EXPECT(f, "-ERR wrong number of arguments for 'mset' command\r\n", "mset", "a", "1", "b");
    EXPECT(f, OK, "mset", "x", "1", "x", "2");
    assert_int_equal(f->dirty, 2);
    EXPECT(f, "$1\r\n2\r\n", "get", "x");

    /* MSETNX: all or nothing */
    EXPECT(f, ZERO, "msetnx", "new1", "1", k[1], "2");
    assert_int_equal(f->dirty, 0);
    EXPECT(f, NIL, "get", "new1");
    EXPECT(f, "$2\r\nbb\r\n", "get", k[1]);
    EXPECT(f, ONE, "msetnx", "new1", "1", "new2", "2", "new1", "3");
    assert_int_equal(f->dirty, 3);
    EXPECT(f, "*2\r\n$1\r\n3\r\n$1\r\n2\r\n", "mget", "new1", "new2");
    EXPECT(f, "-ERR wrong number of arguments for 'msetnx' command\r\n", "msetnx", "y", "1", "y");

    /* expiry is cleared by MSET */
    EXPECT(f, ONE, "pexpire", k[0], "1000");
    EXPECT(f, OK, "mset", k[0], "z");
    EXPECT(f, ":-1\r\n", "pttl", k[0]);

    f->r.proto = 3;
    EXPECT(f, "*2\r\n_\r\n$1\r\nz\r\n", "mget", "nope", k[0]);
}

/* ---- counters ----------------------------------------------------------- */

static void incr_decr(void **state)
{
    struct fx *f = *state;
    EXPECT(f, ONE, "incr", "n");
    assert_int_equal(f->dirty, 1);
    EXPECT(f, "$3\r\nint\r\n", "object", "encoding", "n");
    EXPECT(f, ":11\r\n", "incrby", "n", "10");
    EXPECT(f, ":10\r\n", "decr", "n");
    EXPECT(f, ":-90\r\n", "decrby", "n", "100");
    EXPECT(f, ":-93\r\n", "incrby", "n", "-3");
    EXPECT(f, "$3\r\n-93\r\n", "get", "n");
    EXPECT(f, ":-1\r\n", "decr", "m");

    /* width changes grow and shrink the value */
    EXPECT(f, OK, "set", "n", "99");
    EXPECT(f, ":100\r\n", "incr", "n");
    EXPECT(f, "$3\r\n100\r\n", "get", "n");
    EXPECT(f, ":99\r\n", "decr", "n");
    EXPECT(f, "$2\r\n99\r\n", "get", "n");

    EXPECT(f, OK, "set", "n", "9223372036854775807");
    EXPECT(f, "-ERR increment or decrement would overflow\r\n", "incr", "n");
    assert_int_equal(f->dirty, 0);
    EXPECT(f, OK, "set", "n", "-9223372036854775808");
    EXPECT(f, "-ERR increment or decrement would overflow\r\n", "decr", "n");
    EXPECT(f, "$20\r\n-9223372036854775808\r\n", "get", "n");
    EXPECT(f, OK, "set", "n", "10");
    EXPECT(f, ":-9223372036854775797\r\n", "decrby", "n", "9223372036854775807");
    EXPECT(f, "-ERR decrement would overflow\r\n", "decrby", "n", "-9223372036854775808");
    EXPECT(f, "-ERR decrement would overflow\r\n", "decrby", "nokey", "-9223372036854775808");
    EXPECT(f, ":9223372036854775807\r\n", "incrby", "big", "9223372036854775807");
    EXPECT(f, "-ERR increment or decrement would overflow\r\n", "incrby", "big", "1");
    EXPECT(f, ":-9223372036854775807\r\n", "decrby", "small", "9223372036854775807");
    EXPECT(f, "-ERR increment or decrement would overflow\r\n", "decrby", "small", "2");

    EXPECT(f, E_NOTINT, "incrby", "n", "abc");
    EXPECT(f, E_NOTINT, "incrby", "n", "1.0");
    EXPECT(f, E_NOTINT, "decrby", "n", "abc");
    static const char *bad[] = { " 1", "1.5", "abc", "00", "-0", "12345678901234567890", "" };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        EXPECT(f, OK, "set", "s", bad[i]);
        EXPECT(f, E_NOTINT, "incr", "s");
    }

    /* the key keeps its expiry; a raw value becomes int */
    EXPECT(f, OK, "set", "t", "5", "px", "5000");
    EXPECT(f, ":6\r\n", "incr", "t");
    EXPECT(f, ":5000\r\n", "pttl", "t");
    EXPECT(f, ":2\r\n", "append", "t", "1");
    EXPECT(f, "$3\r\nraw\r\n", "object", "encoding", "t");
    EXPECT(f, ":62\r\n", "incr", "t");
    EXPECT(f, "$3\r\nint\r\n", "object", "encoding", "t");
    EXPECT(f, ":5000\r\n", "pttl", "t");
}

static void incrbyfloat(void **state)
{
    struct fx *f = *state;
    EXPECT(f, "$3\r\n1.5\r\n", "incrbyfloat", "f", "1.5");
    assert_int_equal(f->dirty, 1);
    EXPECT(f, "$6\r\nembstr\r\n", "object", "encoding", "f");
    EXPECT(f, "$1\r\n3\r\n", "incrbyfloat", "f", "1.5");
    EXPECT(f, "$6\r\nembstr\r\n", "object", "encoding", "f");
    EXPECT(f, "$1\r\n3\r\n", "get", "f");

    EXPECT(f, "$3\r\n0.1\r\n", "incrbyfloat", "g", "0.1");
    EXPECT(f, "$3\r\n0.3\r\n", "incrbyfloat", "g", "0.2");
    EXPECT(f, "$4\r\n5000\r\n", "incrbyfloat", "h", "5.0e3");
    EXPECT(f, "$1\r\n0\r\n", "incrbyfloat", "h", "-5000");
    EXPECT(f, "$19\r\n1.23456789012345679\r\n", "incrbyfloat", "i", "1.23456789012345678901234");
    EXPECT(f, "$2\r\n-1\r\n", "incrbyfloat", "j", "-1");

    EXPECT(f, OK, "set", "f", "1e3");
    EXPECT(f, "$4\r\n1001\r\n", "incrbyfloat", "f", "1");
    EXPECT(f, OK, "set", "f", "0x10");
    EXPECT(f, "$2\r\n17\r\n", "incrbyfloat", "f", "1");
    EXPECT(f, OK, "set", "f", "1.");
    EXPECT(f, "$1\r\n2\r\n", "incrbyfloat", "f", "1");
    EXPECT(f, OK, "set", "f", ".5");
    EXPECT(f, "$3\r\n1.5\r\n", "incrbyfloat", "f", "1");

    EXPECT(f, E_FLOAT, "incrbyfloat", "f", "abc");
    EXPECT(f, E_FLOAT, "incrbyfloat", "f", "nan");
    EXPECT(f, E_FLOAT, "incrbyfloat", "f", " 1");
    EXPECT(f, E_FLOAT, "incrbyfloat", "f", "1 ");
    EXPECT(f, E_FLOAT, "incrbyfloat", "f", "");
    EXPECT(f, "-ERR increment would produce NaN or Infinity\r\n", "incrbyfloat", "f", "inf");
    EXPECT(f, "-ERR increment would produce NaN or Infinity\r\n", "incrbyfloat", "f", "-inf");
    assert_int_equal(f->dirty, 0);
    EXPECT(f, "$3\r\n1.5\r\n", "get", "f");
    static const char *bad[] = { "abc", "", " 1" };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        EXPECT(f, OK, "set", "s", bad[i]);
        EXPECT(f, E_FLOAT, "incrbyfloat", "s", "1");
    }
    /* a zero byte ends the number early: not a float, as value or as increment */
    const char *nul_set[] = { "set", "z", "1\0" };
    const size_t nul_set_len[] = { 3, 1, 2 };
    assert_string_equal(fx_runv(f, 3, nul_set, nul_set_len), OK);
    EXPECT(f, E_FLOAT, "incrbyfloat", "z", "1");
    const char *nul_set2[] = { "set", "z", "\0\0" };
    assert_string_equal(fx_runv(f, 3, nul_set2, nul_set_len), OK);
    EXPECT(f, E_FLOAT, "incrbyfloat", "z", "1");
    const char *nul_incr[] = { "incrbyfloat", "y", "2\0" };
    const size_t nul_incr_len[] = { 11, 1, 2 };
    assert_string_equal(fx_runv(f, 3, nul_incr, nul_incr_len), E_FLOAT);
    EXPECT(f, ZERO, "exists", "y");

    /* keeps the expiry; long results are raw */
    EXPECT(f, OK, "set", "t", "1", "ex", "100");
    EXPECT(f, "$1\r\n2\r\n", "incrbyfloat", "t", "1");
    EXPECT(f, ":100\r\n", "ttl", "t");
    EXPECT(f, OK, "set", "r", "1");
    RUN(f, "incrbyfloat", "r", "1e60");
    assert_true(f->outlen > 60 && strncmp(f->out, "$6", 2) == 0);
    EXPECT(f, "$3\r\nraw\r\n", "object", "encoding", "r");

    /* the reply is a bulk string in RESP3 too */
    f->r.proto = 3;
    EXPECT(f, "$3\r\n2.5\r\n", "incrbyfloat", "u", "2.5");
}

/* ---- APPEND, STRLEN, GETRANGE, SETRANGE --------------------------------- */

static void append_strlen(void **state)
{
    struct fx *f = *state;
    EXPECT(f, ZERO, "strlen", "k");
    EXPECT(f, ":2\r\n", "append", "k", "ab");
    assert_int_equal(f->dirty, 1);
    EXPECT(f, "$6\r\nembstr\r\n", "object", "encoding", "k");
    EXPECT(f, ":4\r\n", "append", "k", "12");
    EXPECT(f, "$3\r\nraw\r\n", "object", "encoding", "k");
    EXPECT(f, "$4\r\nab12\r\n", "get", "k");
    EXPECT(f, ":4\r\n", "strlen", "k");
    EXPECT(f, ":3\r\n", "append", "n", "123");
    EXPECT(f, "$3\r\nint\r\n", "object", "encoding", "n");

    /* appending nothing still makes it raw and counts as a change */
    EXPECT(f, OK, "set", "e", "abc");
    EXPECT(f, ":3\r\n", "append", "e", "");
    assert_int_equal(f->dirty, 1);
    EXPECT(f, "$3\r\nraw\r\n", "object", "encoding", "e");

    /* the expiry stays */
    EXPECT(f, OK, "set", "t", "x", "px", "900");
    EXPECT(f, ":2\r\n", "append", "t", "y");
    EXPECT(f, ":900\r\n", "pttl", "t");

    /* growth across length-field widths */
    char big[300];
    memset(big, 'z', sizeof(big));
    const char *argv[] = { "append", "g", big };
    size_t lens[] = { 6, 1, sizeof(big) };
    for (int i = 1; i <= 300; i++) {
        char want[16];
        snprintf(want, sizeof(want), ":%d\r\n", i * 300);
        assert_string_equal(fx_runv(f, 3, argv, lens), want);
    }
    EXPECT(f, ":90000\r\n", "strlen", "g");

    f->c.max_bulk_len = 10;
    EXPECT(f, OK, "set", "m", "12345");
    EXPECT(f, ":10\r\n", "append", "m", "67890");
    EXPECT(f, E_SIZE, "append", "m", "x");
    EXPECT(f, ":10\r\n", "append", "m", "");
    EXPECT(f, ":10\r\n", "strlen", "m");
}

static void getrange(void **state)
{
    struct fx *f = *state;
    EXPECT(f, "$0\r\n\r\n", "getrange", "missing", "0", "1");
    EXPECT(f, OK, "set", "s", "Hello World");
    static const struct {
        const char *start, *end, *want;
    } cases[] = {
        { "0", "4", "$5\r\nHello\r\n" },
        { "-3", "-1", "$3\r\nrld\r\n" },
        { "0", "-1", "$11\r\nHello World\r\n" },
        { "5", "3", "$0\r\n\r\n" },
        { "-100", "-50", "$1\r\nH\r\n" },
        { "-100", "2", "$3\r\nHel\r\n" },
        { "0", "100", "$11\r\nHello World\r\n" },
        { "20", "30", "$0\r\n\r\n" },
        { "-1", "-5", "$0\r\n\r\n" },
        { "-1", "0", "$0\r\n\r\n" },
        { "0", "-12", "$1\r\nH\r\n" },
        { "0", "-11", "$1\r\nH\r\n" },
        { "-12", "-12", "$1\r\nH\r\n" },
        { "4", "-9", "$0\r\n\r\n" },
        { "10", "10", "$1\r\nd\r\n" },
        { "11", "11", "$0\r\n\r\n" },
        { "0", "9223372036854775807", "$11\r\nHello World\r\n" },
        { "-9223372036854775808", "-9223372036854775808", "$1\r\nH\r\n" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
        EXPECT(f, cases[i].want, "getrange", "s", cases[i].start, cases[i].end);
    EXPECT(f, "$3\r\nHel\r\n", "substr", "s", "0", "2");
    EXPECT(f, E_NOTINT, "getrange", "s", "a", "1");
    EXPECT(f, E_NOTINT, "getrange", "s", "0", "b");
    EXPECT(f, E_NOTINT, "getrange", "missing", "0", "b");

    EXPECT(f, OK, "set", "e", "");
    EXPECT(f, "$0\r\n\r\n", "getrange", "e", "0", "-1");
    EXPECT(f, "$0\r\n\r\n", "getrange", "e", "0", "0");
    EXPECT(f, "$0\r\n\r\n", "getrange", "e", "-1", "-1");
    EXPECT(f, OK, "set", "n", "12345");
    EXPECT(f, "$2\r\n23\r\n", "getrange", "n", "1", "2");
    EXPECT(f, "$1\r\n5\r\n", "getrange", "n", "-1", "-1");
    f->r.proto = 3;
    EXPECT(f, "$0\r\n\r\n", "getrange", "missing", "0", "1");
}

static void setrange(void **state)
{
    struct fx *f = *state;
    EXPECT(f, ZERO, "setrange", "m", "0", "");
    EXPECT(f, ZERO, "setrange", "m", "5", "");
    assert_int_equal(f->dirty, 0);
    EXPECT(f, ZERO, "exists", "m");
    EXPECT(f, "-ERR offset is out of range\r\n", "setrange", "m", "-1", "x");
    EXPECT(f, "-ERR offset is out of range\r\n", "setrange", "m", "-1", "");
    EXPECT(f, E_NOTINT, "setrange", "m", "abc", "x");

    EXPECT(f, ":5\r\n", "setrange", "m", "3", "ab");
    assert_int_equal(f->dirty, 1);
    RUN(f, "get", "m");
    assert_int_equal(f->outlen, 11);
    assert_memory_equal(f->out, "$5\r\n\0\0\0ab\r\n", 11);
    EXPECT(f, "$3\r\nraw\r\n", "object", "encoding", "m");
    EXPECT(f, ":5\r\n", "setrange", "m", "1", "XYZW");
    RUN(f, "get", "m");
    assert_memory_equal(f->out, "$5\r\n\0XYZW\r\n", 11);
    EXPECT(f, ":8\r\n", "setrange", "m", "6", "ef");
    RUN(f, "get", "m");
    assert_int_equal(f->outlen, 14);
    assert_memory_equal(f->out, "$8\r\n\0XYZW\0ef\r\n", 14);

    EXPECT(f, OK, "set", "s", "hello");
    EXPECT(f, ":5\r\n", "setrange", "s", "0", "");
    EXPECT(f, ":5\r\n", "setrange", "s", "10", "");
    assert_int_equal(f->dirty, 0);
    EXPECT(f, "$6\r\nembstr\r\n", "object", "encoding", "s");
    EXPECT(f, ":5\r\n", "setrange", "s", "0", "J");
    EXPECT(f, "$5\r\nJello\r\n", "get", "s");
    EXPECT(f, "$3\r\nraw\r\n", "object", "encoding", "s");
    EXPECT(f, OK, "set", "n", "5");
    EXPECT(f, ":1\r\n", "setrange", "n", "0", "7");
    EXPECT(f, "$3\r\nraw\r\n", "object", "encoding", "n");
    EXPECT(f, ":8\r\n", "incr", "n");

    /* expiry is kept */
    EXPECT(f, OK, "set", "t", "abc", "px", "300");
    EXPECT(f, ":300\r\n", "setrange", "t", "299", "x");
    EXPECT(f, ":300\r\n", "pttl", "t");

    /* proto-max-bulk-len: offset + length may reach it, not pass it */
    f->c.max_bulk_len = 16;
    EXPECT(f, ":16\r\n", "setrange", "s", "15", "x");
    EXPECT(f, E_SIZE, "setrange", "s", "16", "x");
    EXPECT(f, ":16\r\n", "setrange", "s", "16", "");
    EXPECT(f, ":16\r\n", "setrange", "s", "2000000", "");
    EXPECT(f, ZERO, "setrange", "p", "16", "");
    EXPECT(f, E_SIZE, "setrange", "p", "16", "x");
    EXPECT(f, E_SIZE, "setrange", "p", "9223372036854775807", "x");
    EXPECT(f, ":16\r\n", "setrange", "p", "0", "0123456789abcdef");
    EXPECT(f, ZERO, "exists", "q");
}

/* ---- RESP3 and the table ------------------------------------------------ */

static void resp3_nulls(void **state)
{
    struct fx *f = *state;
    f->r.proto = 3;
    EXPECT(f, NIL3, "get", "k");
    EXPECT(f, NIL3, "getdel", "k");
    EXPECT(f, NIL3, "getex", "k");
    EXPECT(f, NIL3, "getset", "k", "v");
    EXPECT(f, NIL3, "set", "k", "v", "nx");
    EXPECT(f, NIL3, "set", "x", "v", "xx", "get");
    EXPECT(f, "$1\r\nv\r\n", "set", "k", "w", "get");
    EXPECT(f, "*2\r\n$1\r\nw\r\n_\r\n", "mget", "k", "x");
}

/* The hot commands leave nothing behind but the entries themselves. */
static void hot_path_memory(void **state)
{
    struct fx *f = *state;
    EXPECT(f, OK, "set", "k", "value");
    EXPECT(f, OK, "mset", "a", "1", "b", "2");
    size_t before = store_used(f->st[0]);
    for (int i = 0; i < 100; i++) {
        EXPECT(f, OK, "set", "k", "value");
        EXPECT(f, "$5\r\nvalue\r\n", "get", "k");
        EXPECT(f, OK, "mset", "a", "1", "b", "2");
        EXPECT(f, "*2\r\n$1\r\n1\r\n$1\r\n2\r\n", "mget", "a", "b");
    }
    assert_int_equal(store_used(f->st[0]), before);
    EXPECT(f, ":2\r\n", "incr", "a");
    EXPECT(f, ":3\r\n", "incr", "a");
    assert_int_equal(store_used(f->st[0]), before);
}

static void table_rows(void **state)
{
    (void)state;
    const char *names[] = { "get",      "set",      "setnx",  "setex",  "psetex", "getset",
                            "getdel",   "getex",    "mget",   "mset",   "msetnx", "append",
                            "strlen",   "incr",     "decr",   "incrby", "decrby", "incrbyfloat",
                            "getrange", "setrange", "substr", "lcs" };
    size_t n = 0;
    for (const struct cmd_def *d = cmd_table; d->name != NULL; d++) {
        if (strcmp(d->group, "string") != 0)
            continue;
        assert_string_equal(d->name, names[n++]);
        assert_non_null(d->fn);
        assert_int_not_equal(d->arity, 0);
        assert_non_null(d->summary);
        assert_non_null(d->since);
        assert_non_null(d->complexity);
        assert_true(d->nargs > 0 && d->args[0].name != NULL);
        assert_true(d->nkeyspecs > 0);
        assert_true(d->acl & CMD_ACL_STRING);
        assert_true(!!(d->acl & CMD_ACL_WRITE) == !!(d->flags & CMD_WRITE));
        assert_true(!!(d->acl & CMD_ACL_READ) == !!(d->flags & CMD_READONLY));
        assert_true(!!(d->acl & CMD_ACL_FAST) != !!(d->acl & CMD_ACL_SLOW));
        assert_int_equal(d->route, ROUTE_KEYS);
        assert_int_equal(d->first_key, 1);
        assert_true(!!(d->flags & CMD_WRITE) != !!(d->flags & CMD_READONLY));
    }
    assert_int_equal(n, ARRAY_SIZE(names));
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        assert_non_null(find_row(names[i], strlen(names[i])));
    const struct cmd_def *mset = find_row("mset", 4);
    assert_int_equal(mset->last_key, -1);
    assert_int_equal(mset->key_step, 2);
    struct resp_arg argv[5] = { { "mset", 4 }, { "a", 1 }, { "1", 1 }, { "b", 1 }, { "2", 1 } };
    int keys[4];
    assert_int_equal(cmd_get_keys(mset, 5, argv, keys, 4), 2);
    assert_int_equal(keys[0], 1);
    assert_int_equal(keys[1], 3);
}

/* ---- LCS, DUMP and RESTORE ------------------------------------------- */

/* Length of the longest common subsequence, the textbook way (the reference). */
static size_t lcs_ref(const char *a, size_t an, const char *b, size_t bn)
{
    size_t *row = calloc(bn + 1, sizeof(*row)), *prev = calloc(bn + 1, sizeof(*prev));
    for (size_t i = 1; i <= an; i++) {
        for (size_t j = 1; j <= bn; j++)
            row[j] = a[i - 1] == b[j - 1]   ? prev[j - 1] + 1
                     : prev[j] > row[j - 1] ? prev[j]
                                            : row[j - 1];
        size_t *t = prev;
        prev = row;
        row = t;
    }
    size_t n = prev[bn];
    free(row);
    free(prev);
    return n;
}

static bool is_subsequence(const char *s, size_t n, const char *of, size_t m)
{
    size_t i = 0;
    for (size_t j = 0; j < m && i < n; j++)
        if (of[j] == s[i])
            i++;
    return i == n;
}

/* Random strings over small alphabets, keys on every shard: LEN is the reference's length
 * and the subsequence given is common to both and that long. */
static void lcs_random(void **state)
{
    struct fx *f = *state;
    char keys[NSHARDS][16];
    fx_keys_per_shard(keys);
    f->c.coll = &coll_params_default;
    uint64_t seed = 0x5eed1c5;
    for (int round = 0; round < 300; round++) {
        char v[2][64];
        size_t n[2];
        for (int s = 0; s < 2; s++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            n[s] = (size_t)(seed >> 58);
            for (size_t i = 0; i < n[s]; i++) {
                seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                v[s][i] = (char)('a' + (seed >> 33) % (2 + round % 3));
            }
            const char *argv[3] = { "set", keys[s + (round % 2)], v[s] };
            size_t lens[3] = { 3, strlen(argv[1]), n[s] };
            fx_runv(f, 3, argv, lens);
        }
        const char *k1 = keys[round % 2], *k2 = keys[1 + (round % 2)];
        size_t want = lcs_ref(v[0], n[0], v[1], n[1]);
        char exp[32];
        snprintf(exp, sizeof(exp), ":%zu\r\n", want);
        EXPECT(f, exp, "lcs", k1, k2, "len");
        const char *out = RUN(f, "lcs", k1, k2);
        size_t got = strtoull(out + 1, NULL, 10);
        assert_int_equal(got, want);
        const char *s = strchr(out, '\n') + 1;
        assert_true(is_subsequence(s, got, v[0], n[0]));
        assert_true(is_subsequence(s, got, v[1], n[1]));
        /* IDX: its len is the same */
        out = RUN(f, "lcs", k1, k2, "idx");
        snprintf(exp, sizeof(exp), "$3\r\nlen\r\n:%zu\r\n", want);
        assert_non_null(strstr(out, exp));
    }
    EXPECT(f, "-ERR If you want both the length and indexes, please just use IDX.\r\n", "lcs",
           keys[0], keys[1], "len", "idx");
    f->c.max_bulk_len = 1000; /* (len + 1)^2 * 4 bytes of table */
    EXPECT(f, OK, "set", keys[0], "0123456789abcdef");
    EXPECT(f, "-ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len\r\n",
           "lcs", keys[0], keys[0]);
    f->c.max_bulk_len = 512ll * 1024 * 1024;
    EXPECT(f, ":1\r\n", "hset", "lcs:hash", "f", "v");
    EXPECT(f, "-ERR The specified keys must contain string values\r\n", "lcs", keys[0], "lcs:hash");
}

/* DUMP to RESTORE through the handlers, on keys of other shards: strings of each encoding
 * and hashes small and big come back equal; a damaged payload changes nothing. */
static void dump_restore(void **state)
{
    struct fx *f = *state;
    char keys[NSHARDS][16];
    fx_keys_per_shard(keys);
    f->c.coll = &coll_params_default;
    static const char *const vals[] = {
        "12345", "-1", "short", "", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    };
    for (size_t i = 0; i < ARRAY_SIZE(vals) + 2; i++) {
        const char *src = keys[i % NSHARDS], *dst = keys[(i + 1) % NSHARDS];
        (void)RUN(f, "del", src, dst);
        if (i < ARRAY_SIZE(vals)) {
            EXPECT(f, OK, "set", src, vals[i]);
        } else {
            size_t n = i == ARRAY_SIZE(vals) ? 3 : 600; /* a pack, then a member store */
            for (size_t j = 0; j < n; j++) {
                char fld[16], val[16];
                snprintf(fld, sizeof(fld), "f%zu", j);
                snprintf(val, sizeof(val), "%zu", j * 3);
                EXPECT(f, ":1\r\n", "hset", src, fld, val);
            }
        }
        const char *out = RUN(f, "dump", src);
        assert_true(out[0] == '$');
        size_t plen = strtoull(out + 1, NULL, 10);
        char *payload = malloc(plen);
        memcpy(payload, strchr(out, '\n') + 1, plen);
        const char *argv[5] = { "restore", dst, "0", payload, "replace" };
        size_t lens[5] = { 7, strlen(dst), 1, plen, 7 };
        assert_string_equal(fx_runv(f, 4, argv, lens), OK);
        assert_int_equal(f->dirty, 1);
        assert_string_equal(fx_runv(f, 4, argv, lens),
                            "-BUSYKEY Target key name already exists.\r\n");
        assert_string_equal(fx_runv(f, 5, argv, lens), OK);
        /* the same value: the same payload */
        char *again = strdup(RUN(f, "dump", src));
        if (i <= ARRAY_SIZE(vals))
            assert_string_equal(RUN(f, "dump", dst), again);
        else
            EXPECT(f, ":600\r\n", "hlen", dst);
        free(again);
        /* any byte changed: refused, the key as it was */
        for (size_t b = 0; b < plen; b += 1 + plen / 40) {
            payload[b] ^= 0x41;
            const char *r = fx_runv(f, 5, argv, lens);
            assert_true(strcmp(r, "-ERR DUMP payload version or checksum are wrong\r\n") == 0 ||
                        strcmp(r, "-ERR Bad data format\r\n") == 0);
            payload[b] ^= 0x41;
        }
        if (i < ARRAY_SIZE(vals)) {
            char want[128];
            snprintf(want, sizeof(want), "$%zu\r\n%s\r\n", strlen(vals[i]), vals[i]);
            EXPECT(f, want, "get", dst);
        } else {
            EXPECT(f, i == ARRAY_SIZE(vals) ? ":3\r\n" : ":600\r\n", "hlen", dst);
            EXPECT(f, "$1\r\n3\r\n", "hget", dst, "f1");
        }
        free(payload);
    }
    EXPECT(f, "$-1\r\n", "dump", "missing");
}

/*
 * TTLs RESTORE finds already past: a relative one that runs past the end of time (Redis's
 * wrapped sum is in the past: OK, no key), an absolute one in the past (the replaced key
 * goes, replicated as DEL); a replica keeps the key until its primary's DEL.
 */
static void restore_ttl_in_the_past(void **state)
{
    struct fx *f = *state;
    f->c.coll = &coll_params_default;
    EXPECT(f, OK, "set", "src", "value");
    const char *out = RUN(f, "dump", "src");
    size_t plen = strtoull(out + 1, NULL, 10);
    char *payload = malloc(plen);
    memcpy(payload, strchr(out, '\n') + 1, plen);
    char past[24];
    snprintf(past, sizeof(past), "%lld", T0 - 1);
    const struct {
        const char *ttl, *opt;
    } cases[] = { { "9223372036854775807", "replace" },
                  { "9223372036854775806", "replace" },
                  { past, "absttl" } };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        EXPECT(f, OK, "set", "dst", "old");
        const char *argv[6] = { "restore", "dst", cases[i].ttl, payload, "replace", cases[i].opt };
        size_t lens[6] = { 7, 3, strlen(cases[i].ttl), plen, 7, strlen(cases[i].opt) };
        assert_string_equal(fx_runv(f, 6, argv, lens), OK);
        EXPECT(f, ":0\r\n", "exists", "dst");
        EXPECT(f, ":-2\r\n", "pttl", "dst");
    }
    /* a replica applying its primary's stream keeps what the primary sent */
    for (unsigned i = 0; i < NSHARDS; i++)
        store_set_expiry(f->st[i], STORE_EXPIRY_NONE);
    const char *argv[6] = { "restore", "dst", past, payload, "replace", "absttl" };
    size_t lens[6] = { 7, 3, strlen(past), plen, 7, 6 };
    assert_string_equal(fx_runv(f, 6, argv, lens), OK);
    EXPECT(f, ":1\r\n", "exists", "dst");
    EXPECT(f, OK, "set", "k", "v");
    EXPECT(f, ":1\r\n", "pexpireat", "k", past);
    EXPECT(f, ":1\r\n", "exists", "k");
    for (unsigned i = 0; i < NSHARDS; i++)
        store_set_expiry(f->st[i], STORE_EXPIRY_ACTIVE);
    free(payload);
}

#define SINGLE(t) cmocka_unit_test_setup_teardown(t, fx_setup, fx_teardown)
#define MULTI(t)  cmocka_unit_test_setup_teardown(t, fx_setup_multi, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        SINGLE(get_and_set),        MULTI(get_and_set),      SINGLE(set_conditions),
        SINGLE(set_syntax_errors),  SINGLE(set_expiry),      SINGLE(set_encodings),
        SINGLE(setnx_setex_psetex), SINGLE(getset_getdel),   SINGLE(getex),
        SINGLE(mget_mset_msetnx),   MULTI(mget_mset_msetnx), SINGLE(incr_decr),
        MULTI(incr_decr),           SINGLE(incrbyfloat),     SINGLE(append_strlen),
        SINGLE(getrange),           SINGLE(setrange),        SINGLE(resp3_nulls),
        MULTI(resp3_nulls),         SINGLE(hot_path_memory), SINGLE(table_rows),
        MULTI(lcs_random),          MULTI(dump_restore),     MULTI(restore_ttl_in_the_past),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
