/*
 * Reply writer: every function, byte for byte, in RESP2 and RESP3. The
 * expected bytes are what redis-server 7.0.15 sends for the same reply.
 *
 * flatten() reads a chain the way a connection sends it and checks the
 * chain's invariants on the way: r->bytes is the sum of unsent bytes, no
 * block holds more than its capacity, the tail is the last block.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "resp/reply.h"

struct flat {
    char *p;
    size_t len;
    int blocks;
};

static struct flat flatten(const struct reply *r)
{
    struct flat f = { NULL, 0, 0 };
    size_t total = 0;
    const struct rblock *last = NULL;
    for (const struct rblock *b = r->head; b != NULL; b = b->next) {
        assert_true(b->start <= b->len);
        assert_true(b->len <= b->cap);
        total += b->len - b->start;
        last = b;
        f.blocks++;
    }
    assert_ptr_equal(last, r->tail);
    assert_int_equal(total, r->bytes);
    f.p = malloc(total + 1);
    assert_non_null(f.p);
    for (const struct rblock *b = r->head; b != NULL; b = b->next) {
        if (b->kind == RBLOCK_HOLE)
            continue;
        memcpy(f.p + f.len, b->data + b->start, b->len - b->start);
        f.len += b->len - b->start;
    }
    f.p[f.len] = '\0';
    return f;
}

static void expect_bytes(const struct reply *r, const char *want, size_t n, const char *what)
{
    struct flat f = flatten(r);
    if (f.len != n || memcmp(f.p, want, n) != 0) {
        fail_msg("%s: got %zu bytes \"%.*s\", want %zu bytes \"%.*s\"", what, f.len,
                 (int)(f.len < 200 ? f.len : 200), f.p, n, (int)(n < 200 ? n : 200), want);
    }
    free(f.p);
}

/* One call on a fresh reply of protocol `proto`, compared with a literal. */
#define CHECK(proto, call, want)                                                                   \
    do {                                                                                           \
        struct reply r;                                                                            \
        reply_init(&r, proto);                                                                     \
        call;                                                                                      \
        expect_bytes(&r, want, sizeof(want) - 1, #call);                                           \
        assert_int_equal(r.errors, 0);                                                             \
        reply_deinit(&r);                                                                          \
    } while (0)

/* The same in both protocols. */
#define CHECK23(call, want)                                                                        \
    do {                                                                                           \
        CHECK(2, call, want);                                                                      \
        CHECK(3, call, want);                                                                      \
    } while (0)

static void simple_replies(void **state)
{
    (void)state;
    CHECK23(reply_ok(&r), "+OK\r\n");
    CHECK23(reply_status(&r, "PONG"), "+PONG\r\n");
    CHECK23(reply_status(&r, ""), "+\r\n");
    CHECK23(reply_status_len(&r, "a\0b", 3), "+a\0b\r\n");
    CHECK23(reply_raw(&r, "abc", 3), "abc");
    CHECK23(reply_raw(&r, "", 0), "");
    CHECK23(reply_int(&r, 0), ":0\r\n");
    CHECK23(reply_int(&r, -1), ":-1\r\n");
    CHECK23(reply_int(&r, LLONG_MAX), ":9223372036854775807\r\n");
    CHECK23(reply_int(&r, LLONG_MIN), ":-9223372036854775808\r\n");
    CHECK23(reply_bulk(&r, "", 0), "$0\r\n\r\n");
    CHECK23(reply_bulk(&r, "a\r\nb\0", 5), "$5\r\na\r\nb\0\r\n");
    CHECK23(reply_bulk_cstr(&r, "hello"), "$5\r\nhello\r\n");
    CHECK23(reply_bulk_ll(&r, -123), "$4\r\n-123\r\n");
    CHECK23(reply_bulk_ll(&r, LLONG_MIN), "$20\r\n-9223372036854775808\r\n");
    CHECK23(reply_array(&r, 3), "*3\r\n");
    CHECK23(reply_array(&r, 0), "*0\r\n");
    CHECK23(reply_array(&r, -1), "*-1\r\n");
    CHECK23(reply_empty_array(&r), "*0\r\n");
}

static void typed_replies(void **state)
{
    (void)state;
    CHECK(2, reply_null(&r), "$-1\r\n");
    CHECK(3, reply_null(&r), "_\r\n");
    CHECK(2, reply_null_array(&r), "*-1\r\n");
    CHECK(3, reply_null_array(&r), "_\r\n");
    CHECK(2, reply_map(&r, 2), "*4\r\n");
    CHECK(3, reply_map(&r, 2), "%2\r\n");
    CHECK(2, reply_map(&r, 0), "*0\r\n");
    CHECK(3, reply_map(&r, 0), "%0\r\n");
    CHECK(2, reply_set(&r, 3), "*3\r\n");
    CHECK(3, reply_set(&r, 3), "~3\r\n");
    CHECK(2, reply_push(&r, 2), "*2\r\n");
    CHECK(3, reply_push(&r, 2), ">2\r\n");
    CHECK(2, reply_bool(&r, true), ":1\r\n");
    CHECK(2, reply_bool(&r, false), ":0\r\n");
    CHECK(3, reply_bool(&r, true), "#t\r\n");
    CHECK(3, reply_bool(&r, false), "#f\r\n");
    CHECK(2, reply_verbatim(&r, "hello", 5, "txt"), "$5\r\nhello\r\n");
    CHECK(3, reply_verbatim(&r, "hello", 5, "txt"), "=9\r\ntxt:hello\r\n");
    CHECK(3, reply_verbatim(&r, "", 0, "mkd"), "=4\r\nmkd:\r\n");
}

/* %.17g, as ZSCORE shows in Redis 7.0. */
static void doubles(void **state)
{
    (void)state;
    CHECK(2, reply_double(&r, 1.5), "$3\r\n1.5\r\n");
    CHECK(3, reply_double(&r, 1.5), ",1.5\r\n");
    CHECK(2, reply_double(&r, 0.1), "$19\r\n0.10000000000000001\r\n");
    CHECK(3, reply_double(&r, 0.1), ",0.10000000000000001\r\n");
    CHECK(2, reply_double(&r, 3), "$1\r\n3\r\n");
    CHECK(3, reply_double(&r, 3), ",3\r\n");
    CHECK(2, reply_double(&r, 1e300), "$23\r\n1.0000000000000001e+300\r\n");
    CHECK(2, reply_double(&r, INFINITY), "$3\r\ninf\r\n");
    CHECK(3, reply_double(&r, INFINITY), ",inf\r\n");
    CHECK(2, reply_double(&r, -INFINITY), "$4\r\n-inf\r\n");
    CHECK(3, reply_double(&r, -INFINITY), ",-inf\r\n");
}

static void errors_and_counter(void **state)
{
    (void)state;
    for (uint8_t proto = 2; proto <= 3; proto++) {
        struct reply r;
        reply_init(&r, proto);
        assert_int_equal(r.errors, 0);
        assert_string_equal(r.err_code, "");
        reply_ok(&r);
        reply_int(&r, 1);
        assert_int_equal(r.errors, 0);

        reply_error(&r, "ERR syntax error");
        assert_int_equal(r.errors, 1);
        assert_string_equal(r.err_code, "ERR");

        /* CR and LF anywhere become spaces: the reply stays one line */
        reply_error(&r, "WRONGTYPE a\r\nb\nc\r");
        assert_int_equal(r.errors, 2);
        assert_string_equal(r.err_code, "WRONGTYPE");

        reply_errorf(&r, "ERR wrong number of arguments for '%s' command", "get");
        assert_int_equal(r.errors, 3);
        /* a formatted error is trimmed at the ends first, like addReplyErrorFormat */
        reply_errorf(&r, "ERR Unsupported option %s", "foo\r\n");
        reply_errorf(&r, "%s", "\nERR a\nb %d\r");
        reply_errorf(&r, "ERR %s|", "x\r\ny");
        assert_int_equal(r.errors, 6);

        static const char want[] = "+OK\r\n:1\r\n"
                                   "-ERR syntax error\r\n"
                                   "-WRONGTYPE a  b c \r\n"
                                   "-ERR wrong number of arguments for 'get' command\r\n"
                                   "-ERR Unsupported option foo\r\n"
                                   "-ERR a b %d\r\n"
                                   "-ERR x  y|\r\n";
        expect_bytes(&r, want, sizeof(want) - 1, "errors");
        reply_deinit(&r);
    }
}

/* A long formatted error is cut, never overflowed. */
static void long_formatted_error(void **state)
{
    (void)state;
    char arg[3000];
    memset(arg, 'x', sizeof(arg) - 1);
    arg[sizeof(arg) - 1] = '\0';
    struct reply r;
    reply_init(&r, 2);
    reply_errorf(&r, "ERR unknown subcommand '%.128s'. Try %s HELP.", arg, "OBJECT");
    char want[256];
    int n =
        snprintf(want, sizeof(want), "-ERR unknown subcommand '%.128s'. Try OBJECT HELP.\r\n", arg);
    expect_bytes(&r, want, (size_t)n, "errorf %.128s");
    reply_errorf(&r, "ERR %s", arg);
    struct flat f = flatten(&r);
    assert_true(f.len > (size_t)n + 100 && f.len < (size_t)n + 1100);
    assert_memory_equal(f.p + f.len - 2, "\r\n", 2);
    assert_int_equal(r.errors, 2);
    free(f.p);
    reply_deinit(&r);
}

static int spanned; /* cases whose bytes ended up in more than one block */

/* Bulk of n bytes of a pattern, after `before` bytes of other replies. */
static void check_big_bulk(uint8_t proto, size_t before, size_t n)
{
    char *v = malloc(n + 1);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++)
        v[i] = (char)('a' + i % 23);
    char *pre = malloc(before + 1);
    assert_non_null(pre);
    memset(pre, 'p', before);

    struct reply r;
    reply_init(&r, proto);
    if (before > 0)
        reply_status_len(&r, pre, before);
    reply_bulk(&r, v, n);
    reply_ok(&r);

    size_t cap = before + n + 64;
    char *want = malloc(cap);
    assert_non_null(want);
    size_t w = 0;
    if (before > 0) {
        want[w++] = '+';
        memcpy(want + w, pre, before);
        w += before;
        memcpy(want + w, "\r\n", 2);
        w += 2;
    }
    w += (size_t)snprintf(want + w, cap - w, "$%zu\r\n", n);
    memcpy(want + w, v, n);
    w += n;
    memcpy(want + w, "\r\n+OK\r\n", 7);
    w += 7;

    char what[64];
    snprintf(what, sizeof(what), "bulk %zu after %zu (RESP%d)", n, before, proto);
    expect_bytes(&r, want, w, what);
    struct flat f = flatten(&r);
    if (f.len > r.head->cap)
        assert_true(f.blocks >= 2);
    spanned += f.blocks >= 2;
    free(f.p);
    reply_deinit(&r);
    free(want);
    free(pre);
    free(v);
}

static void big_bulks_span_blocks(void **state)
{
    (void)state;
    static const size_t sizes[] = { 4095, 4096, 4097, 16383, 16384, 16385, 20000, 100000 };
    static const size_t befores[] = { 0, 10, 12000, 16370, 16380, 40000 };
    for (uint8_t proto = 2; proto <= 3; proto++)
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
            for (size_t j = 0; j < sizeof(befores) / sizeof(befores[0]); j++)
                check_big_bulk(proto, befores[j], sizes[i]);
    assert_true(spanned >= 40);
}

/* Other writers with big payloads: raw, status, verbatim. */
static void big_other_writers(void **state)
{
    (void)state;
    const size_t n = 50000;
    char *v = malloc(n);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++)
        v[i] = (char)('A' + i % 26);
    struct reply r;
    reply_init(&r, 3);
    reply_ok(&r);
    reply_raw(&r, v, n);
    reply_status_len(&r, v, n);
    reply_verbatim(&r, v, n, "txt");
    struct flat f = flatten(&r);
    assert_int_equal(f.len, 5 + n + (n + 3) + (strlen("=50004\r\ntxt:") + n + 2));
    size_t o = 0;
    assert_memory_equal(f.p, "+OK\r\n", 5);
    o += 5;
    assert_memory_equal(f.p + o, v, n);
    o += n;
    assert_int_equal(f.p[o], '+');
    assert_memory_equal(f.p + o + 1, v, n);
    assert_memory_equal(f.p + o + 1 + n, "\r\n", 2);
    o += n + 3;
    assert_memory_equal(f.p + o, "=50004\r\ntxt:", 12);
    o += 12;
    assert_memory_equal(f.p + o, v, n);
    assert_memory_equal(f.p + o + n, "\r\n", 2);
    assert_true(f.blocks >= 3);
    free(f.p);
    reply_deinit(&r);
    assert_null(r.head);
    assert_null(r.tail);
    assert_int_equal(r.bytes, 0);
    free(v);
}

static void reserve_and_commit(void **state)
{
    (void)state;
    struct reply r;
    reply_init(&r, 2);
    char *p = reply_reserve(&r, 6);
    memcpy(p, "+abc\r\n", 6);
    reply_commit(&r, 6);
    /* commit less than reserved */
    p = reply_reserve(&r, 100);
    memcpy(p, ":1\r\n", 4);
    reply_commit(&r, 4);
    /* bigger than a block: one contiguous area */
    size_t big = RBLOCK_SIZE * 2 + 5;
    p = reply_reserve(&r, big);
    memset(p, 'z', big);
    reply_commit(&r, big);
    assert_true(r.tail->cap >= big);
    reply_ok(&r);

    struct flat f = flatten(&r);
    assert_int_equal(f.len, 6 + 4 + big + 5);
    assert_memory_equal(f.p, "+abc\r\n:1\r\n", 10);
    for (size_t i = 0; i < big; i++)
        if (f.p[10 + i] != 'z')
            fail_msg("byte %zu of the reserved area", i);
    assert_memory_equal(f.p + 10 + big, "+OK\r\n", 5);
    free(f.p);
    reply_deinit(&r);
}

static void deferred_lengths(void **state)
{
    (void)state;
    for (uint8_t proto = 2; proto <= 3; proto++) {
        struct reply r;
        reply_init(&r, proto);
        reply_ok(&r);
        struct rblock *d = reply_defer(&r);
        reply_bulk_cstr(&r, "a");
        reply_bulk_cstr(&r, "b");
        reply_bulk_cstr(&r, "c");
        reply_defer_set(&r, d, REPLY_AGG_ARRAY, 3);
        reply_int(&r, 7);
        static const char want[] = "+OK\r\n*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n:7\r\n";
        expect_bytes(&r, want, sizeof(want) - 1, "deferred array");
        reply_deinit(&r);

        reply_init(&r, proto);
        d = reply_defer(&r);
        reply_bulk_cstr(&r, "k");
        reply_int(&r, 1);
        reply_defer_set(&r, d, REPLY_AGG_MAP, 1);
        if (proto == 2)
            expect_bytes(&r, "*2\r\n$1\r\nk\r\n:1\r\n", 15, "deferred map 2");
        else
            expect_bytes(&r, "%1\r\n$1\r\nk\r\n:1\r\n", 15, "deferred map 3");
        reply_deinit(&r);

        reply_init(&r, proto);
        d = reply_defer(&r);
        reply_bulk_cstr(&r, "m");
        reply_defer_set(&r, d, REPLY_AGG_SET, 1);
        expect_bytes(&r, proto == 2 ? "*1\r\n$1\r\nm\r\n" : "~1\r\n$1\r\nm\r\n", 11,
                     "deferred set");
        reply_deinit(&r);

        /* nested, and lengths too big for a small header */
        reply_init(&r, proto);
        struct rblock *outer = reply_defer(&r);
        reply_int(&r, 1);
        struct rblock *inner = reply_defer(&r);
        reply_int(&r, 2);
        reply_int(&r, 3);
        reply_defer_set(&r, inner, REPLY_AGG_ARRAY, 2);
        reply_defer_set(&r, outer, REPLY_AGG_ARRAY, 2);
        struct rblock *huge = reply_defer(&r);
        reply_defer_set(&r, huge, REPLY_AGG_MAP, 1234567890123LL);
        static const char want2[] = "*2\r\n:1\r\n*2\r\n:2\r\n:3\r\n";
        static const char huge2[] = "*2469135780246\r\n";
        static const char huge3[] = "%1234567890123\r\n";
        struct flat f = flatten(&r);
        assert_int_equal(f.len, sizeof(want2) - 1 + sizeof(huge2) - 1);
        assert_memory_equal(f.p, want2, sizeof(want2) - 1);
        assert_memory_equal(f.p + sizeof(want2) - 1, proto == 2 ? huge2 : huge3, sizeof(huge2) - 1);
        free(f.p);
        reply_deinit(&r);
    }
}

/*
 * A deferred header filled with nothing written after it (an empty KEYS) is
 * the tail of the chain; what follows must go to a new block, not after the
 * header in the placeholder's small allocation.
 */
static void deferred_empty_then_more(void **state)
{
    (void)state;
    char v[300];
    memset(v, 'v', sizeof(v));
    for (uint8_t proto = 2; proto <= 3; proto++) {
        struct reply r;
        reply_init(&r, proto);
        struct rblock *d = reply_defer(&r);
        reply_defer_set(&r, d, REPLY_AGG_ARRAY, 0);
        reply_ok(&r);
        reply_bulk(&r, v, sizeof(v));
        char *p = reply_reserve(&r, 4);
        memcpy(p, ":5\r\n", 4);
        reply_commit(&r, 4);
        struct flat f = flatten(&r);
        assert_int_equal(f.len, 4 + 5 + 6 + sizeof(v) + 2 + 4);
        assert_memory_equal(f.p, "*0\r\n+OK\r\n$300\r\n", 15);
        assert_memory_equal(f.p + 15, v, sizeof(v));
        assert_memory_equal(f.p + 15 + sizeof(v), "\r\n:5\r\n", 6);
        assert_ptr_equal(r.head, d);
        assert_int_equal(d->len, 4);
        free(f.p);
        reply_deinit(&r);
    }
}

/*
 * Blocks from elsewhere: EMBED storage is filled before a heap block is
 * added, and reply_deinit leaves it to its owner; a HOLE is never written.
 */
static void foreign_blocks(void **state)
{
    (void)state;
    struct reply r;
    reply_init(&r, 2);

    struct rblock *hb = rblock_create(100);
    assert_non_null(hb);
    assert_true(hb->cap >= 100);
    assert_int_equal(hb->len, 0);
    assert_int_equal(hb->kind, RBLOCK_HEAP);
    memcpy(hb->data, "xx+A\r\n", 6);
    hb->len = 6;
    hb->start = 2; /* two bytes already sent */
    reply_append_block(&r, hb);
    assert_int_equal(r.bytes, 4);

    char store[16];
    struct rblock embed = { 0 };
    embed.kind = RBLOCK_EMBED;
    embed.cap = sizeof(store);
    embed.data = store;
    embed.owner = &embed;
    memcpy(store, "+B\r\n", 4);
    embed.len = 4;
    struct rblock *hb2 = rblock_create(8);
    reply_append_block(&r, &embed);
    assert_ptr_equal(r.tail, &embed);
    assert_int_equal(r.bytes, 8);
    reply_raw(&r, "+C\r\n", 4); /* fits in the embedded storage */
    assert_ptr_equal(r.tail, &embed);
    assert_int_equal(embed.len, 8);
    reply_raw(&r, "+0123456789\r\n", 13); /* 8 bytes left there, 5 spill over */
    assert_int_equal(embed.len, 16);
    assert_ptr_not_equal(r.tail, &embed);

    struct rblock hole = { 0 };
    hole.kind = RBLOCK_HOLE;
    hole.cap = 64; /* room it has, but it is not ours */
    hole.data = store;
    memcpy(hb2->data, "+D\r\n", 4);
    hb2->len = 4;
    hole.next = hb2; /* a chain of two appended at once */
    reply_append_block(&r, &hole);
    assert_ptr_equal(r.tail, hb2);
    struct rblock hole2 = { 0 };
    hole2.kind = RBLOCK_HOLE;
    hole2.cap = 64;
    hole2.data = store;
    reply_append_block(&r, &hole2);
    reply_ok(&r);
    assert_int_equal(hole2.len, 0);
    assert_ptr_equal(hole2.next, r.tail);

    static const char want[] = "+A\r\n+B\r\n+C\r\n+0123456789\r\n+D\r\n+OK\r\n";
    expect_bytes(&r, want, sizeof(want) - 1, "foreign blocks");
    reply_deinit(&r);
    /* unlinked, not freed (ASan would report a bad free) */
    assert_null(embed.next);
    assert_null(hole.next);
    assert_null(r.head);
    assert_int_equal(r.bytes, 0);

    /* the reply is usable again after deinit */
    reply_init(&r, 3);
    reply_null(&r);
    expect_bytes(&r, "_\r\n", 3, "after deinit");
    reply_deinit(&r);

    rblock_destroy(NULL);
    struct rblock *lone = rblock_create(10);
    rblock_destroy(lone);
}

/* Many small replies fill blocks exactly and keep their order. */
static void many_small_replies(void **state)
{
    (void)state;
    struct reply r;
    reply_init(&r, 2);
    char *want = malloc(200000 * 12);
    assert_non_null(want);
    size_t w = 0;
    for (long long i = 0; i < 200000; i++) {
        if (i % 3 == 0) {
            reply_int(&r, i);
            w += (size_t)sprintf(want + w, ":%lld\r\n", i);
        } else if (i % 3 == 1) {
            reply_ok(&r);
            memcpy(want + w, "+OK\r\n", 5);
            w += 5;
        } else {
            reply_bulk_ll(&r, i);
            char tmp[24];
            int n = sprintf(tmp, "%lld", i);
            w += (size_t)sprintf(want + w, "$%d\r\n%s\r\n", n, tmp);
        }
    }
    expect_bytes(&r, want, w, "many small");
    struct flat f = flatten(&r);
    assert_true(f.blocks > (int)(w / (RBLOCK_SIZE * 2)));
    free(f.p);
    free(want);
    reply_deinit(&r);
}

/*
 * A pipeline whose replies alternate between this shard and another leaves a
 * hole before every local reply: the block after a hole starts small, so
 * the chain holds about what it says rather than a standard block per reply,
 * and blocks after it grow back to the standard size.
 */
static void replies_between_holes(void **state)
{
    (void)state;
    enum { N = 500 };
    static struct rblock holes[N];
    char spare[8];
    struct reply r;
    reply_init(&r, 2);
    for (int i = 0; i < N; i++) {
        holes[i] = (struct rblock){ .kind = RBLOCK_HOLE, .cap = sizeof(spare), .data = spare };
        reply_append_block(&r, &holes[i]);
        reply_ok(&r);
    }
    size_t reserved = 0;
    for (struct rblock *b = r.head; b != NULL; b = b->next)
        reserved += b->kind == RBLOCK_HEAP ? sizeof(*b) + b->cap : 0;
    assert_true(reserved <= (size_t)N * (sizeof(struct rblock) + 2 * RBLOCK_MIN));
    assert_int_equal(r.bytes, (size_t)N * 5);

    /* without holes, blocks double back to the standard size */
    for (int i = 0; i < 100000; i++)
        reply_ok(&r);
    assert_true(r.tail->cap >= RBLOCK_SIZE);
    reply_deinit(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(simple_replies),
        cmocka_unit_test(typed_replies),
        cmocka_unit_test(doubles),
        cmocka_unit_test(errors_and_counter),
        cmocka_unit_test(long_formatted_error),
        cmocka_unit_test(big_bulks_span_blocks),
        cmocka_unit_test(big_other_writers),
        cmocka_unit_test(reserve_and_commit),
        cmocka_unit_test(deferred_lengths),
        cmocka_unit_test(deferred_empty_then_more),
        cmocka_unit_test(foreign_blocks),
        cmocka_unit_test(many_small_replies),
        cmocka_unit_test(replies_between_holes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
