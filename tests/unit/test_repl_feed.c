/*
 * Shard feeds and the merge: order per shard, SELECT insertion, multi-shard
 * parts held until every shard caught up, snapshot barriers, RDB records,
 * chunk recycling and records larger than a chunk; the producer's flush
 * against the merge thread taking and freeing chunks, on two threads.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "replication/feed.h"
#include "replication/rdb.h"
#include "base/mem.h"

static char out[1 << 20];
static size_t outlen;
static uint64_t snap_id, snap_at;
static size_t rdb_bytes[4], rdb_ends[4];

static void emit(void *arg, const void *p, size_t n)
{
    (void)arg;
    assert_true(outlen + n <= sizeof(out));
    memcpy(out + outlen, p, n);
    outlen += n;
}

static void on_snap(void *arg, uint64_t id)
{
    (void)arg;
    snap_id = id;
    snap_at = outlen;
}

static char rdb0[1 << 19]; /* shard 0's RDB bytes, in order */

static void on_rdb(void *arg, unsigned shard, int db, const void *p, size_t n)
{
    (void)arg;
    (void)db;
    if (shard == 0 && rdb_bytes[0] + n <= sizeof(rdb0))
        memcpy(rdb0 + rdb_bytes[0], p, n);
    rdb_bytes[shard] += n;
}

static void on_rdb_end(void *arg, unsigned shard)
{
    (void)arg;
    rdb_ends[shard]++;
}

static const struct repl_merge_ops ops = { emit, on_snap, on_rdb, on_rdb_end };

static struct repl_feed feeds[3];
static struct repl_feed *fp[3] = { &feeds[0], &feeds[1], &feeds[2] };
static struct repl_merge m;

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++)
        assert_int_equal(repl_feed_init(&feeds[i]), 0);
    repl_merge_init(&m, fp, 3, &ops, NULL);
    outlen = 0;
    memset(rdb_bytes, 0, sizeof(rdb_bytes));
    memset(rdb_ends, 0, sizeof(rdb_ends));
    snap_id = 0;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    repl_merge_deinit(&m);
    for (int i = 0; i < 3; i++)
        repl_feed_deinit(&feeds[i]);
    return 0;
}

static void cmd(struct repl_feed *f, int db, const char *a, const char *b, const char *c)
{
    struct resp_arg argv[3] = { { (char *)a, strlen(a) },
                                { (char *)b, strlen(b) },
                                { (char *)c, c ? strlen(c) : 0 } };
    repl_feed_command(f, db, c ? 3 : 2, argv);
}

static void assert_out(const char *want)
{
    out[outlen] = '\0';
    assert_string_equal(out, want);
}

#define SET(k, v) "*3\r\n$3\r\nSET\r\n$1\r\n" k "\r\n$1\r\n" v "\r\n"
#define SELECT(d) "*2\r\n$6\r\nSELECT\r\n$1\r\n" d "\r\n"

static void commands_and_select(void **state)
{
    (void)state;
    cmd(&feeds[0], 0, "SET", "a", "1");
    cmd(&feeds[0], 0, "SET", "b", "2");
    cmd(&feeds[0], 3, "SET", "c", "3");
    /* nothing is visible before the producer flushes */
    assert_int_equal(repl_merge_run(&m), 0);
    repl_feed_flush(&feeds[0]);
    assert_int_equal(repl_merge_run(&m), 3);
    assert_out(SELECT("0") SET("a", "1") SET("b", "2") SELECT("3") SET("c", "3"));
    outlen = 0;
    cmd(&feeds[1], 3, "SET", "d", "4");
    repl_feed_flush(&feeds[1]);
    repl_merge_run(&m);
    assert_out(SET("d", "4"));
    /* a binary argument and an empty one */
    outlen = 0;
    struct resp_arg argv[3] = { { (char *)"SET", 3 }, { (char *)"k\r\n\0", 4 }, { (char *)"", 0 } };
    repl_feed_command(&feeds[2], 3, 3, argv);
    repl_feed_flush(&feeds[2]);
    repl_merge_run(&m);
    assert_int_equal(outlen, 29);
    assert_memory_equal(out, "*3\r\n$3\r\nSET\r\n$4\r\nk\r\n\0\r\n$0\r\n\r\n", 29);
}

/* Write part `i` of a multi-shard write; `with` carries the commands. */
static void part(struct repl_feed *f, uint64_t id, int nparts, bool with, bool wrap)
{
    size_t n = 0;
    char buf[256];
    if (with) {
        struct resp_arg a[3] = { { (char *)"SET", 3 }, { (char *)"x", 1 }, { (char *)"9", 1 } };
        struct feed_sub sub = { 0, (uint32_t)repl_resp_size(3, a) };
        memcpy(buf, &sub, sizeof(sub));
        n = sizeof(sub) + (size_t)(repl_resp_write(buf + sizeof(sub), 3, a) - (buf + sizeof(sub)));
        struct resp_arg b[3] = { { (char *)"SET", 3 }, { (char *)"y", 1 }, { (char *)"8", 1 } };
        struct feed_sub sub2 = { 1, (uint32_t)repl_resp_size(3, b) };
        memcpy(buf + n, &sub2, sizeof(sub2));
        n += sizeof(sub2);
        n += (size_t)(repl_resp_write(buf + n, 3, b) - (buf + n));
    }
    void *p = repl_feed_reserve(f, FEED_MULTI, 0, n);
    memcpy(p, buf, n);
    struct feed_rec *h = repl_feed_last(f);
    h->id = id;
    h->nparts = (uint16_t)nparts;
    h->flags = wrap ? FEED_WRAP : 0;
}

static void multi_parts_wait_for_every_shard(void **state)
{
    (void)state;
    cmd(&feeds[0], 0, "SET", "a", "1");
    part(&feeds[0], 77, 2, true, true);
    cmd(&feeds[0], 0, "SET", "a", "2"); /* after the transaction on shard 0 */
    repl_feed_flush(&feeds[0]);
    cmd(&feeds[2], 0, "SET", "z", "0"); /* before it on shard 2, but not flushed yet */
    repl_merge_run(&m);
    assert_out(SELECT("0") SET("a", "1"));
    part(&feeds[2], 77, 2, false, true);
    cmd(&feeds[2], 0, "SET", "z", "1");
    repl_feed_flush(&feeds[2]);
    repl_merge_run(&m);
    assert_out(SELECT("0") SET("a", "1") SET("z", "0") "*1\r\n$5\r\nMULTI\r\n" SET("x", "9") SELECT(
        "1") SET("y", "8") "*1\r\n$4\r\nEXEC\r\n" SELECT("0") SET("a", "2") SET("z", "1"));
    /* without FEED_WRAP (one multi-key command) there is no MULTI/EXEC; db 0 is selected */
    outlen = 0;
    part(&feeds[1], 78, 3, false, false);
    part(&feeds[2], 78, 3, true, false);
    part(&feeds[0], 78, 3, false, false);
    for (int i = 0; i < 3; i++)
        repl_feed_flush(&feeds[i]);
    repl_merge_run(&m);
    assert_out(SET("x", "9") SELECT("1") SET("y", "8"));
}

static void snapshot_barrier_and_rdb(void **state)
{
    (void)state;
    cmd(&feeds[1], 0, "SET", "b", "1");
    for (int i = 0; i < 3; i++) {
        repl_feed_reserve(&feeds[i], FEED_SNAP, -1, 0);
        repl_feed_last(&feeds[i])->id = 5;
        repl_feed_last(&feeds[i])->nparts = 3;
        memcpy(repl_feed_reserve(&feeds[i], FEED_RDB, 0, 10), "0123456789", 10);
    }
    cmd(&feeds[1], 0, "SET", "b", "2");
    repl_feed_reserve(&feeds[1], FEED_RDB_END, -1, 0);
    repl_feed_flush(&feeds[1]);
    repl_feed_flush(&feeds[2]);
    repl_merge_run(&m);
    assert_int_equal(snap_id, 0); /* shard 0 has not reached the barrier */
    assert_int_equal(rdb_bytes[1], 0);
    repl_feed_flush(&feeds[0]);
    repl_merge_run(&m);
    assert_int_equal(snap_id, 5);
    assert_int_equal(snap_at, strlen(SELECT("0") SET("b", "1")));
    /* after a barrier the next command selects its database again */
    assert_out(SELECT("0") SET("b", "1") SELECT("0") SET("b", "2"));
    for (int i = 0; i < 3; i++)
        assert_int_equal(rdb_bytes[i], 10);
    assert_int_equal(rdb_ends[1], 1);
}

static void big_records_and_recycling(void **state)
{
    (void)state;
    size_t big = 3 * FEED_CHUNK_SIZE;
    char *v = mem_alloc(big);
    memset(v, 'v', big);
    struct resp_arg argv[3] = { { (char *)"SET", 3 }, { (char *)"k", 1 }, { v, big } };
    repl_feed_command(&feeds[0], 0, 3, argv);
    repl_feed_flush(&feeds[0]);
    repl_merge_run(&m);
    assert_int_equal(outlen, strlen(SELECT("0")) + repl_resp_size(3, argv));
    /* many small records over many chunks: the warm feed reuses its chunks */
    for (int round = 0; round < 50; round++) {
        outlen = 0;
        for (int i = 0; i < 5000; i++)
            cmd(&feeds[0], 0, "SET", "k", "v");
        repl_feed_flush(&feeds[0]);
        assert_int_equal(repl_merge_run(&m), 5000);
        assert_int_equal(outlen, 5000 * strlen(SET("k", "v")));
    }
    assert_int_equal(atomic_load(&feeds[0].queued), 0);
    mem_free(v);
}

/*
 * A record written in its own buffer with the feed's headroom (a collection written in
 * slices) is adopted without a copy: the merge reads it whole and in its place among the
 * records reserved before and after it, and frees it once read.
 */
static void adopted_record_in_order(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++) {
        repl_feed_reserve(&feeds[i], FEED_SNAP, -1, 0);
        repl_feed_last(&feeds[i])->id = 7;
        repl_feed_last(&feeds[i])->nparts = 3;
    }
    memcpy(repl_feed_reserve(&feeds[0], FEED_RDB, 0, 3), "abc", 3);
    struct rdb_buf b;
    rdb_buf_init_room(&b, repl_feed_headroom(), 16); /* grows past its room: moved with it */
    for (int i = 0; i < 200001; i++) {
        rdb_buf_reserve(&b, 1);
        b.p[b.len++] = (char)('a' + i % 26);
    }
    size_t len = b.len;
    repl_feed_adopt(&feeds[0], FEED_RDB, 0, rdb_buf_take(&b), len);
    assert_null(b.p);
    memcpy(repl_feed_reserve(&feeds[0], FEED_RDB, 0, 3), "xyz", 3);
    for (int i = 0; i < 3; i++) {
        repl_feed_reserve(&feeds[i], FEED_RDB_END, -1, 0);
        repl_feed_flush(&feeds[i]);
    }
    repl_merge_run(&m);
    assert_int_equal(snap_id, 7);
    assert_int_equal(rdb_bytes[0], 3 + 200001 + 3);
    assert_memory_equal(rdb0, "abc", 3);
    for (size_t i = 0; i < 200001; i++)
        assert_int_equal(rdb0[3 + i], 'a' + (int)(i % 26));
    assert_memory_equal(rdb0 + 3 + 200001, "xyz", 3);
    assert_int_equal(rdb_ends[0], 1);
    assert_int_equal(atomic_load(&feeds[0].queued), 0);
}

static void discard_mode(void **state)
{
    (void)state;
    m.discard = true;
    cmd(&feeds[0], 0, "SET", "a", "1");
    memcpy(repl_feed_reserve(&feeds[0], FEED_RDB, 0, 3), "abc", 3);
    repl_feed_flush(&feeds[0]);
    assert_int_equal(repl_merge_run(&m), 2);
    assert_int_equal(outlen, 0);
    assert_int_equal(rdb_bytes[0], 3); /* snapshots are not part of the stream */
}

/*
 * The shard's worker flushes while the merge thread takes chunks and gives them back at
 * once. Records larger than a chunk get chunks of their own, which give_back frees, and
 * several of them wait per flush: a flush that touched a chunk after handing it over
 * would read freed memory (ASan) or race with the free (TSan).
 */
#define HAMMER_ROUNDS 20000

struct hammer {
    struct repl_feed *f;
    atomic_bool done;
    uint64_t bytes, chunks;
};

static void *hammer_merge(void *arg)
{
    struct hammer *h = arg;
    for (;;) {
        bool done = atomic_load(&h->done);
        struct feed_chunk *c;
        while ((c = repl_feed_take(h->f)) != NULL) {
            h->bytes += c->len;
            h->chunks++;
            repl_feed_give_back(h->f, c);
        }
        if (done)
            return NULL;
    }
}

static void flush_against_give_back(void **state)
{
    (void)state;
    struct hammer h = { .f = &feeds[1] };
    atomic_init(&h.done, false);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, hammer_merge, &h), 0);
    uint64_t reserved = 0, pend_max = 0;
    for (int i = 0; i < HAMMER_ROUNDS; i++) {
        size_t len = FEED_CHUNK_SIZE + (size_t)(i % 7) * 8;
        for (int k = 0; k < 3; k++) {
            memset(repl_feed_reserve(h.f, FEED_RDB, 0, len), 'r', 16);
            reserved += sizeof(struct feed_rec) + ((len + 7) & ~(size_t)7);
        }
        cmd(h.f, 0, "SET", "k", "v");
        reserved += sizeof(struct feed_rec) + ((strlen(SET("k", "v")) + 7) & ~(size_t)7);
        repl_feed_flush(h.f);
        uint64_t q = atomic_load(&h.f->queued);
        pend_max = q > pend_max ? q : pend_max;
    }
    while (h.f->pend_head != NULL)
        repl_feed_flush(h.f);
    atomic_store(&h.done, true);
    pthread_join(t, NULL);
    assert_int_equal(h.bytes, reserved);
    assert_int_equal(atomic_load(&h.f->queued), 0);
    /* queued never wraps below zero (it is counted before the merge can take it) */
    assert_true(pend_max <= reserved);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(commands_and_select, setup, teardown),
        cmocka_unit_test_setup_teardown(multi_parts_wait_for_every_shard, setup, teardown),
        cmocka_unit_test_setup_teardown(snapshot_barrier_and_rdb, setup, teardown),
        cmocka_unit_test_setup_teardown(big_records_and_recycling, setup, teardown),
        cmocka_unit_test_setup_teardown(adopted_record_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(discard_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(flush_against_give_back, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
