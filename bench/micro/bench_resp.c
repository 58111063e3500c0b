/*
 * RESP parser and reply writer (dataplane/resp).
 *
 * Parsing: one complete multibulk command in a buffer, parsed again and again
 * from its start, as a worker does for each command of a receive buffer.
 * Writing: replies appended to one chain; every RESET_BYTES (or RESET_WRITES
 * replies) the chain is freed and restarted, as a connection does after sending, and that cost is
 * timed (it is part of writing a reply).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/micro/microbench.h"
#include "resp/parse.h"
#include "resp/reply.h"

#define MAX_BULK     (512LL * 1024 * 1024) /* proto-max-bulk-len default */
#define RESET_BYTES  (1u << 20)
#define RESET_WRITES 16 /* a pipeline's worth: the chain is sent and freed */
#define MSET_PAIRS   8

/* Append "$len\r\n<bytes>\r\n" to buf at *pos. */
static void put_bulk(char *buf, size_t *pos, const char *p, size_t n)
{
    *pos += (size_t)sprintf(buf + *pos, "$%zu\r\n", n);
    memcpy(buf + *pos, p, n);
    *pos += n;
    memcpy(buf + *pos, "\r\n", 2);
    *pos += 2;
}

/*
 * Parse the command in buf[0..len) once per iteration; items are commands,
 * bytes are request bytes.
 */
static void parse_loop(struct bench_state *st, char *buf, size_t len, int argc)
{
    struct resp_parser p;
    resp_parser_init(&p, MAX_BULK);
    size_t used = 0;
    if (resp_parse(&p, buf, len, &used) != RESP_OK || used != len || p.argc != argc) {
        bench_skip(st, "request did not parse");
        resp_parser_deinit(&p);
        return;
    }
    while (bench_keep_running(st)) {
        int rc = resp_parse(&p, buf, len, &used);
        BENCH_KEEP(rc);
        bench_do_not_optimize(p.argv);
    }
    uint64_t n = bench_iterations(st);
    bench_set_items(st, n);
    bench_set_bytes(st, n * len);
    resp_parser_deinit(&p);
}

BENCH(resp_parse_get)
{
    char buf[] = "*2\r\n$3\r\nGET\r\n$14\r\nkey:0000012345\r\n";
    parse_loop(st, buf, sizeof(buf) - 1, 2);
}

BENCH_DEFINE(resp_parse_set, BENCH_ARGLIST(16, 1024, 65536), .arg_name = "value_bytes")
{
    size_t vlen = (size_t)bench_arg(st, 0);
    char *val = malloc(vlen);
    char *buf = malloc(vlen + 128);
    memset(val, 'v', vlen);
    size_t len = (size_t)sprintf(buf, "*3\r\n");
    put_bulk(buf, &len, "SET", 3);
    put_bulk(buf, &len, "key:0000012345", 14);
    put_bulk(buf, &len, val, vlen);
    parse_loop(st, buf, len, 3);
    free(buf);
    free(val);
}

/* MSET of MSET_PAIRS keys, each with a value of the argument's size. */
BENCH_DEFINE(resp_parse_mset, BENCH_ARGLIST(16, 1024, 65536), .arg_name = "value_bytes")
{
    size_t vlen = (size_t)bench_arg(st, 0);
    char *val = malloc(vlen);
    char *buf = malloc(MSET_PAIRS * (vlen + 64) + 64);
    memset(val, 'v', vlen);
    size_t len = (size_t)sprintf(buf, "*%d\r\n", 1 + 2 * MSET_PAIRS);
    put_bulk(buf, &len, "MSET", 4);
    for (int i = 0; i < MSET_PAIRS; i++) {
        char key[32];
        int kl = snprintf(key, sizeof(key), "key:%010d", i);
        put_bulk(buf, &len, key, (size_t)kl);
        put_bulk(buf, &len, val, vlen);
    }
    bench_label(st, "8 pairs");
    parse_loop(st, buf, len, 1 + 2 * MSET_PAIRS);
    free(buf);
    free(val);
}

/* A pipeline of 16 GETs in one buffer: parse them all per iteration (items: commands). */
BENCH(resp_parse_get_pipeline16)
{
    char buf[16 * 64];
    size_t len = 0;
    for (int i = 0; i < 16; i++)
        len += (size_t)sprintf(buf + len, "*2\r\n$3\r\nGET\r\n$14\r\nkey:%010d\r\n", i);
    struct resp_parser p;
    resp_parser_init(&p, MAX_BULK);
    while (bench_keep_running(st)) {
        size_t off = 0, used;
        while (off < len && resp_parse(&p, buf + off, len - off, &used) == RESP_OK)
            off += used;
        BENCH_KEEP(off);
    }
    uint64_t n = bench_iterations(st);
    bench_set_items(st, n * 16);
    bench_set_bytes(st, n * len);
    resp_parser_deinit(&p);
}

/*
 * Free the chain once it holds RESET_BYTES or RESET_WRITES replies (a
 * deferred header seals its block, so each such reply starts a new block).
 */
static inline void maybe_reset(struct reply *r)
{
    static unsigned writes;
    if (r->bytes >= RESET_BYTES || ++writes >= RESET_WRITES) {
        writes = 0;
        uint8_t proto = r->proto;
        reply_deinit(r);
        reply_init(r, proto);
    }
}

static void reply_done(struct bench_state *st, struct reply *r, uint64_t bytes_per_op)
{
    uint64_t n = bench_iterations(st);
    bench_set_items(st, n);
    if (bytes_per_op > 0)
        bench_set_bytes(st, n * bytes_per_op);
    reply_deinit(r);
}

BENCH(reply_write_ok)
{
    struct reply r;
    reply_init(&r, 2);
    while (bench_keep_running(st)) {
        reply_ok(&r);
        maybe_reset(&r);
    }
    reply_done(st, &r, 5);
}

BENCH(reply_write_status)
{
    struct reply r;
    reply_init(&r, 2);
    while (bench_keep_running(st)) {
        reply_status(&r, "QUEUED");
        maybe_reset(&r);
    }
    reply_done(st, &r, 9);
}

BENCH(reply_write_int)
{
    struct reply r;
    reply_init(&r, 2);
    long long v = 1234567;
    while (bench_keep_running(st)) {
        reply_int(&r, v++);
        maybe_reset(&r);
    }
    reply_done(st, &r, 0);
}

BENCH_DEFINE(reply_write_bulk, BENCH_ARGLIST(16, 1024, 65536), .arg_name = "value_bytes")
{
    size_t vlen = (size_t)bench_arg(st, 0);
    char *val = malloc(vlen);
    memset(val, 'v', vlen);
    struct reply r;
    reply_init(&r, 2);
    while (bench_keep_running(st)) {
        reply_bulk(&r, val, vlen);
        maybe_reset(&r);
    }
    reply_done(st, &r, vlen);
    free(val);
}

BENCH(reply_write_null)
{
    struct reply r;
    reply_init(&r, 2);
    while (bench_keep_running(st)) {
        reply_null(&r);
        maybe_reset(&r);
    }
    reply_done(st, &r, 5);
}

/* An MGET-like reply: an array header and n bulks of 16 bytes (items: replies). */
BENCH_DEFINE(reply_write_array, BENCH_ARGLIST(10, 100), .arg_name = "elements")
{
    long long n = bench_arg(st, 0);
    const char val[16] = "0123456789abcdef";
    struct reply r;
    reply_init(&r, 2);
    while (bench_keep_running(st)) {
        reply_array(&r, n);
        for (long long i = 0; i < n; i++)
            reply_bulk(&r, val, sizeof(val));
        maybe_reset(&r);
    }
    reply_done(st, &r, 0);
}

/* A RESP3 map of 8 field/int pairs, the header written after the elements (defer). */
BENCH(reply_write_map_deferred_resp3)
{
    struct reply r;
    reply_init(&r, 3);
    while (bench_keep_running(st)) {
        struct rblock *hole = reply_defer(&r);
        for (int i = 0; i < 8; i++) {
            reply_bulk(&r, "field", 5);
            reply_int(&r, i);
        }
        reply_defer_set(&r, hole, REPLY_AGG_MAP, 8);
        maybe_reset(&r);
    }
    reply_done(st, &r, 0);
}
