/*
 * The replication stream: blocks, cursors, the PSYNC window, trimming, and a
 * producer and two readers on three threads.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "replication/stream.h"

static uint8_t byte_at(uint64_t pos)
{
    return (uint8_t)(pos * 2654435761u >> 13);
}

static void append_range(struct repl_stream *s, uint64_t from, size_t n)
{
    uint8_t buf[4096];
    while (n > 0) {
        size_t k = n < sizeof(buf) ? n : sizeof(buf);
        for (size_t i = 0; i < k; i++)
            buf[i] = byte_at(from + i);
        repl_stream_append(s, buf, k);
        from += k;
        n -= k;
    }
}

/* Read everything available; check each byte. @return bytes read. */
static size_t drain(struct repl_cursor *c, size_t max)
{
    size_t total = 0;
    for (;;) {
        struct iovec iov[8];
        int n = repl_cursor_peek(c, iov, 8);
        if (n == 0)
            return total;
        size_t got = 0;
        for (int i = 0; i < n && total + got < max; i++) {
            size_t len = iov[i].iov_len;
            if (total + got + len > max)
                len = max - total - got;
            for (size_t j = 0; j < len; j++)
                assert_int_equal(((uint8_t *)iov[i].iov_base)[j], byte_at(c->pos + got + j));
            got += len;
        }
        repl_cursor_advance(c, got);
        total += got;
        if (total >= max)
            return total;
    }
}

static void append_read_attach(void **state)
{
    (void)state;
    struct repl_stream s;
    repl_stream_init(&s, 1000, 1 << 20);
    append_range(&s, 1000, 3 * REPL_BLOCK_SIZE + 17);
    assert_int_equal(repl_stream_end(&s), 1000 + 3 * REPL_BLOCK_SIZE + 17);
    struct repl_cursor c = { 0 };
    assert_int_equal(repl_cursor_attach(&s, &c, 999), -ERANGE);
    assert_int_equal(repl_cursor_attach(&s, &c, repl_stream_end(&s) + 1), -ERANGE);
    uint64_t starts[] = { 1000, 1001, 1000 + REPL_BLOCK_SIZE, 1000 + REPL_BLOCK_SIZE - 1,
                          repl_stream_end(&s) };
    for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
        assert_int_equal(repl_cursor_attach(&s, &c, starts[i]), 0);
        assert_int_equal(drain(&c, SIZE_MAX), repl_stream_end(&s) - starts[i]);
        assert_int_equal(repl_cursor_lag(&s, &c), 0);
        repl_cursor_detach(&s, &c);
    }
    /* a cursor at the end sees later bytes, across a block boundary */
    assert_int_equal(repl_cursor_attach(&s, &c, repl_stream_end(&s)), 0);
    append_range(&s, repl_stream_end(&s), REPL_BLOCK_SIZE);
    assert_int_equal(drain(&c, SIZE_MAX), REPL_BLOCK_SIZE);
    repl_cursor_detach(&s, &c);
    repl_stream_deinit(&s);
}

/* Blocks the stream still holds data in (spares excluded). */
static size_t live_blocks(struct repl_stream *s)
{
    size_t n = 0;
    for (struct repl_block *b = s->head; b != NULL; b = atomic_load(&b->next))
        n++;
    return n;
}

static void window_and_trim(void **state)
{
    (void)state;
    struct repl_stream s;
    repl_stream_init(&s, 0, 2 * REPL_BLOCK_SIZE);
    struct repl_cursor slow = { 0 };
    assert_int_equal(repl_cursor_attach(&s, &slow, 0), 0);
    append_range(&s, 0, 10 * REPL_BLOCK_SIZE);
    repl_stream_trim(&s);
    uint64_t first, end;
    repl_stream_range(&s, &first, &end);
    assert_int_equal(first, 8 * REPL_BLOCK_SIZE);
    assert_int_equal(end, 10 * REPL_BLOCK_SIZE);
    /* the slow cursor keeps its blocks alive */
    assert_true(live_blocks(&s) >= 10);
    struct repl_cursor late = { 0 };
    assert_int_equal(repl_cursor_attach(&s, &late, 7 * REPL_BLOCK_SIZE), -ERANGE);
    assert_int_equal(repl_cursor_attach(&s, &late, 8 * REPL_BLOCK_SIZE), 0);
    assert_int_equal(drain(&slow, 5 * REPL_BLOCK_SIZE), 5 * REPL_BLOCK_SIZE);
    repl_stream_trim(&s);
    assert_true(live_blocks(&s) < 7);
    assert_int_equal(drain(&slow, SIZE_MAX), 5 * REPL_BLOCK_SIZE);
    repl_cursor_detach(&s, &slow);
    repl_cursor_detach(&s, &late);
    repl_stream_trim(&s);
    assert_true(live_blocks(&s) <= 3);
    /* trimmed blocks are reused: appending more allocates nothing new */
    size_t bytes = s.bytes;
    append_range(&s, repl_stream_end(&s), 5 * REPL_BLOCK_SIZE);
    assert_int_equal(s.bytes, bytes);
    /* a smaller window, then a reset to a new history */
    repl_stream_set_window(&s, 100);
    repl_stream_trim(&s);
    repl_stream_range(&s, &first, &end);
    assert_int_equal(end - first, 100);
    repl_stream_reset(&s, 12345);
    repl_stream_range(&s, &first, &end);
    assert_int_equal(first, 12345);
    assert_int_equal(end, 12345);
    repl_stream_deinit(&s);
}

/*
 * What trim reports is the slowest reader's lag, never the blocks kept: a full sync's RDB
 * whose readers all left (64 spare blocks, more than the 4 MiB a snapshot pauses at)
 * reports 0, so the snapshot is not paused for readers that no longer exist.
 */
static void trim_reports_reader_lag(void **state)
{
    (void)state;
    struct repl_stream s;
    repl_stream_init(&s, 0, 0);
    struct repl_cursor c = { 0 };
    assert_int_equal(repl_cursor_attach(&s, &c, 0), 0);
    append_range(&s, 0, 100 * REPL_BLOCK_SIZE + 10);
    assert_int_equal(repl_stream_trim(&s), 100 * REPL_BLOCK_SIZE + 10);
    assert_int_equal(drain(&c, 30 * REPL_BLOCK_SIZE + 5), 30 * REPL_BLOCK_SIZE + 5);
    /* counted from the start of the block the cursor holds */
    assert_int_equal(repl_stream_trim(&s), 70 * REPL_BLOCK_SIZE + 10);
    repl_cursor_detach(&s, &c);
    assert_int_equal(repl_stream_trim(&s), 0);
    assert_true(s.bytes > 64 * REPL_BLOCK_SIZE); /* spares kept: not a measure of lag */
    assert_int_equal(repl_stream_trim(&s), 0);
    repl_stream_deinit(&s);
}

#define TOTAL (24u << 20)

struct reader {
    struct repl_stream *s;
    struct repl_cursor c;
    size_t got;
};

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    struct repl_cursor *c = &r->c; /* the registered cursor itself */
    while (c->pos < TOTAL) {
        struct iovec iov[4];
        int n = repl_cursor_peek(c, iov, 4);
        size_t got = 0;
        for (int i = 0; i < n; i++) {
            const uint8_t *p = iov[i].iov_base;
            for (size_t j = 0; j < iov[i].iov_len; j += 97)
                if (p[j] != byte_at(c->pos + got + j))
                    return NULL;
            got += iov[i].iov_len;
        }
        repl_cursor_advance(c, got);
        r->got += got;
    }
    return NULL;
}

/* The producer appends and trims while two readers follow; no byte is wrong or lost. */
static void threads(void **state)
{
    (void)state;
    struct repl_stream s;
    repl_stream_init(&s, 0, 1 << 20);
    static struct reader r[2];
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        r[i].s = &s;
        r[i].got = 0;
        /* attached before the producer starts, so the window cannot pass them */
        assert_int_equal(repl_cursor_attach(&s, &r[i].c, 0), 0);
        assert_int_equal(pthread_create(&t[i], NULL, reader_main, &r[i]), 0);
    }
    uint64_t pos = 0;
    size_t step = 1;
    while (pos < TOTAL) {
        size_t n = step % 9000 + 1;
        if (pos + n > TOTAL)
            n = TOTAL - pos;
        append_range(&s, pos, n);
        pos += n;
        step = step * 31 + 7;
        if (step % 16 == 0)
            repl_stream_trim(&s);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(r[i].got, TOTAL);
        repl_cursor_detach(&s, &r[i].c);
    }
    repl_stream_trim(&s);
    repl_stream_deinit(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(append_read_attach),
        cmocka_unit_test(window_and_trim),
        cmocka_unit_test(trim_reports_reader_lag),
        cmocka_unit_test(threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
