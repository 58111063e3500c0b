/*
 * Cross-shard messaging (dataplane/shard): the mesh of SPSC rings, the
 * per-destination outbox a message waits in when its ring is full, the
 * message pool, argument copies, and the deferred queue of a held shard.
 * Single-threaded cases drive both ends from one thread (allowed: each ring
 * still has one producer and one consumer at a time); the last case runs two
 * workers on two threads, request out and reply back, and is the one to run
 * under TSan.
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

#include "shard/shard.h"

struct fx {
    struct shard_mesh mesh;
    struct shard_port port[3];
    unsigned notified[3]; /* notify calls per destination, from port 0 */
};

static void count_notify(void *arg, unsigned dst)
{
    struct fx *f = arg;
    f->notified[dst]++;
}

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_int_equal(shard_mesh_init(&f->mesh, 3), 0);
    for (unsigned i = 0; i < 3; i++)
        shard_port_init(&f->port[i], &f->mesh, i);
    f->port[0].notify = count_notify;
    f->port[0].notify_arg = f;
    *state = f;
    return 0;
}

static void drop_free(struct shard_msg *m)
{
    shard_msg_free(m);
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    for (unsigned i = 0; i < 3; i++)
        shard_port_deinit(&f->port[i]);
    shard_mesh_deinit(&f->mesh, drop_free);
    free(f);
    return 0;
}

static struct shard_msg *msg(struct shard_port *p, int64_t seq)
{
    struct shard_msg *m = shard_msg_get(p);
    m->type = SHARD_REQ;
    m->arg = seq;
    return m;
}

/* Poll port p until `want` messages arrived; checks they carry seq first, first+1, ... */
static void expect_in_order(struct shard_port *p, unsigned src, int64_t first, unsigned want)
{
    struct shard_msg *got[64];
    int64_t next = first;
    unsigned total = 0;
    while (total < want) {
        unsigned n = shard_poll(p, got, want - total < 64 ? want - total : 64);
        assert_true(n > 0);
        for (unsigned i = 0; i < n; i++) {
            assert_int_equal(got[i]->src, src);
            assert_int_equal(got[i]->dst, p->id);
            assert_int_equal(got[i]->arg, next++);
            shard_msg_free(got[i]);
        }
        total += n;
    }
    assert_int_equal(total, want);
}

static void empty_mesh_polls_nothing(void **state)
{
    struct fx *f = *state;
    struct shard_msg *got[4];
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(shard_poll(&f->port[i], got, 4), 0);
        assert_int_equal(shard_flush(&f->port[i]), 0);
    }
    assert_int_equal(f->notified[1] + f->notified[2], 0);
}

static void messages_arrive_in_order_and_notify(void **state)
{
    struct fx *f = *state;
    for (int64_t i = 0; i < 100; i++)
        shard_send(&f->port[0], 1, msg(&f->port[0], i));
    assert_int_equal(f->notified[1], 100);
    assert_int_equal(f->notified[2], 0);
    /* nothing for worker 2, and nothing loops back to the sender */
    struct shard_msg *got[4];
    assert_int_equal(shard_poll(&f->port[2], got, 4), 0);
    assert_int_equal(shard_poll(&f->port[0], got, 4), 0);
    expect_in_order(&f->port[1], 0, 0, 100);
}

static void poll_respects_max_and_visits_every_source(void **state)
{
    struct fx *f = *state;
    for (int64_t i = 0; i < 10; i++) {
        shard_send(&f->port[0], 2, msg(&f->port[0], i));
        shard_send(&f->port[1], 2, msg(&f->port[1], 100 + i));
    }
    struct shard_msg *got[20];
    unsigned from[2] = { 0, 0 }, total = 0;
    int64_t next[2] = { 0, 100 };
    while (total < 20) {
        unsigned n = shard_poll(&f->port[2], got, 3);
        assert_true(n > 0 && n <= 3);
        for (unsigned i = 0; i < n; i++) {
            unsigned s = got[i]->src;
            assert_true(s < 2);
            assert_int_equal(got[i]->arg, next[s]++); /* per-source order */
            from[s]++;
            shard_msg_free(got[i]);
        }
        total += n;
        /* round robin: neither source is starved while the other has messages */
        if (total >= 12)
            assert_true(from[0] > 0 && from[1] > 0);
    }
    assert_int_equal(from[0], 10);
    assert_int_equal(from[1], 10);
}

/*
 * More messages than the ring holds: the rest wait in the outbox, and a
 * message sent while the outbox is not empty queues behind it, never
 * overtaking; shard_flush moves them as the consumer makes room.
 */
static void full_ring_defers_to_outbox_in_order(void **state)
{
    struct fx *f = *state;
    struct shard_port *p = &f->port[0];
    const unsigned extra = 300;
    for (int64_t i = 0; i < SHARD_RING_SIZE + extra; i++)
        shard_send(p, 1, msg(p, i));
    assert_int_equal(p->outbox_len, extra);
    assert_int_equal(f->notified[1], SHARD_RING_SIZE);
    assert_int_equal(shard_flush(p), extra); /* still full */

    /* the consumer takes 100; the next send must not jump the queue */
    expect_in_order(&f->port[1], 0, 0, 100);
    shard_send(p, 1, msg(p, SHARD_RING_SIZE + extra));
    assert_int_equal(p->outbox_len, extra + 1);
    assert_int_equal(shard_flush(p), extra + 1 - 100);
    expect_in_order(&f->port[1], 0, 100, SHARD_RING_SIZE);
    assert_int_equal(shard_flush(p), 0);
    assert_null(p->outbox_head[1]);
    assert_null(p->outbox_tail[1]);
    expect_in_order(&f->port[1], 0, 100 + SHARD_RING_SIZE, extra + 1 - 100);
    /* empty again: a send goes straight to the ring */
    shard_send(p, 1, msg(p, 0));
    assert_int_equal(p->outbox_len, 0);
    expect_in_order(&f->port[1], 0, 0, 1);
}

/* The ring indices wrap many times over; order and counts hold across the wrap. */
static void ring_wraps_around(void **state)
{
    struct fx *f = *state;
    int64_t seq = 0;
    for (int round = 0; round < 12; round++) {
        unsigned n = SHARD_RING_SIZE - 7 + (unsigned)round * 3; /* never a multiple of the size */
        int64_t first = seq;
        for (unsigned i = 0; i < n; i++)
            shard_send(&f->port[0], 2, msg(&f->port[0], seq++));
        while (shard_flush(&f->port[0]) > 0) {
            expect_in_order(&f->port[2], 0, first, 1);
            first++;
        }
        expect_in_order(&f->port[2], 0, first, (unsigned)(seq - first));
    }
    assert_true(seq > 4 * SHARD_RING_SIZE);
}

static void pool_recycles_and_is_bounded(void **state)
{
    struct fx *f = *state;
    struct shard_port *p = &f->port[1];
    struct shard_msg *a = shard_msg_get(p);
    a->type = SHARD_REPLY;
    a->conn = (struct conn *)&f->port[0]; /* any non-NULL pointer: put must clear it */
    a->argc = 3;
    shard_msg_put(p, a);
    assert_int_equal(p->pool_len, 1);
    struct shard_msg *b = shard_msg_get(p);
    assert_ptr_equal(a, b); /* from the pool, cleaned */
    assert_int_equal(b->type, 0);
    assert_null(b->conn);
    assert_int_equal(b->argc, 0);
    assert_int_equal(b->src, 1);
    assert_int_equal(p->pool_len, 0);
    shard_msg_put(p, b);

    enum { MANY = 1100 };
    static struct shard_msg *ms[MANY];
    for (int i = 0; i < MANY; i++)
        ms[i] = shard_msg_get(p);
    for (int i = 0; i < MANY; i++)
        shard_msg_put(p, ms[i]);
    assert_int_equal(p->pool_len, 1024); /* the rest were freed */
}

static void args_are_copied_inline_or_on_the_heap(void **state)
{
    struct fx *f = *state;
    struct shard_port *p = &f->port[0];
    char k[] = "key", v[] = "value";
    struct resp_arg small[3] = { { "SET", 3 }, { k, 3 }, { v, 5 } };
    struct shard_msg *m = shard_msg_get(p);
    shard_msg_set_args(m, 3, small);
    k[0] = 'X'; /* the client's buffer moves on; the message keeps its copy */
    assert_int_equal(m->argc, 3);
    assert_ptr_equal(m->argv, m->argv_inline);
    assert_ptr_equal(m->abuf, m->abuf_inline);
    assert_memory_equal(m->argv[1].ptr, "key", 3);
    assert_int_equal(m->argv[1].ptr[3], '\0');
    assert_int_equal(m->argv[2].len, 5);
    shard_msg_put(p, m);

    /* more arguments than the inline argv, more bytes than the inline buffer */
    static char big[SHARD_ARGS_INLINE * 2];
    memset(big, 'b', sizeof(big));
    struct resp_arg many[SHARD_ARGV_INLINE + 3];
    for (int i = 0; i < SHARD_ARGV_INLINE + 3; i++)
        many[i] = (struct resp_arg){ big, i == 4 ? sizeof(big) : (size_t)i };
    m = shard_msg_get(p);
    shard_msg_set_args(m, SHARD_ARGV_INLINE + 3, many);
    assert_ptr_not_equal(m->argv, m->argv_inline);
    assert_ptr_not_equal(m->abuf, m->abuf_inline);
    for (int i = 0; i < SHARD_ARGV_INLINE + 3; i++) {
        assert_int_equal(m->argv[i].len, many[i].len);
        assert_memory_equal(m->argv[i].ptr, big, many[i].len);
        assert_int_equal(m->argv[i].ptr[many[i].len], '\0');
    }
    shard_msg_put(p, m); /* heap parts freed (ASan/valgrind would see a leak) */
    m = shard_msg_get(p);
    shard_msg_set_args(m, 0, NULL);
    assert_int_equal(m->argc, 0);
    shard_msg_put(p, m);
}

static void reply_is_written_into_the_message(void **state)
{
    struct fx *f = *state;
    struct shard_msg *m = shard_msg_get(&f->port[0]);
    m->proto = 2;
    shard_msg_reply_init(m);
    reply_bulk(&m->reply, "hello", 5);
    assert_ptr_equal(m->reply.head, &m->embed);
    assert_int_equal(m->embed.len, 11);
    assert_memory_equal(m->reply_buf, "$5\r\nhello\r\n", 11);
    shard_msg_put(&f->port[0], m);
}

static void deferred_queue_is_fifo(void **state)
{
    (void)state;
    struct shard_hold h = { .holder = 1 };
    struct shard_msg ms[5];
    assert_null(shard_undefer(&h));
    for (int i = 0; i < 5; i++)
        shard_defer(&h, &ms[i]);
    assert_int_equal(h.dq_len, 5);
    for (int i = 0; i < 3; i++)
        assert_ptr_equal(shard_undefer(&h), &ms[i]);
    shard_defer(&h, &ms[0]);
    assert_ptr_equal(shard_undefer(&h), &ms[3]);
    assert_ptr_equal(shard_undefer(&h), &ms[4]);
    assert_ptr_equal(shard_undefer(&h), &ms[0]);
    assert_null(ms[0].next);
    assert_null(shard_undefer(&h));
    assert_null(h.dq_head);
    assert_null(h.dq_tail);
    assert_int_equal(h.dq_len, 0);
}

static unsigned drops;

static void drop_count(struct shard_msg *m)
{
    drops++;
    shard_msg_free(m);
}

static void deinit_hands_queued_messages_to_drop(void **state)
{
    (void)state;
    struct shard_mesh mesh;
    struct shard_port a, b;
    assert_int_equal(shard_mesh_init(&mesh, 2), 0);
    shard_port_init(&a, &mesh, 0);
    shard_port_init(&b, &mesh, 1);
    for (int i = 0; i < 5; i++)
        shard_send(&a, 1, msg(&a, i));
    shard_send(&b, 0, msg(&b, 9));
    shard_port_deinit(&a);
    shard_port_deinit(&b);
    drops = 0;
    shard_mesh_deinit(&mesh, drop_count);
    assert_int_equal(drops, 6);
    for (unsigned s = 0; s < 2; s++)
        for (unsigned d = 0; d < 2; d++)
            assert_null(mesh.ring[s][d]);
}

/* ---- two workers on two threads ---------------------------------------- */

#define PINGPONG_N      200000
#define PINGPONG_WINDOW 6000 /* in flight: more than a ring holds, so outboxes fill */

struct pp {
    struct shard_mesh mesh;
    struct shard_port port[2];
    int64_t served;
    int64_t misordered;
};

/* Worker 1: execute each request in arrival order and send it back as a reply. */
static void *pp_server(void *arg)
{
    struct pp *pp = arg;
    struct shard_port *p = &pp->port[1];
    struct shard_msg *got[32];
    int64_t next = 0;
    while (next < PINGPONG_N) {
        unsigned n = shard_poll(p, got, 32);
        for (unsigned i = 0; i < n; i++) {
            struct shard_msg *m = got[i];
            if (m->type != SHARD_REQ || m->arg != next || m->argc != 2 ||
                memcmp(m->argv[1].ptr, "k", 1) != 0)
                pp->misordered++;
            next++;
            shard_msg_reply_init(m);
            reply_int(&m->reply, m->arg);
            m->type = SHARD_REPLY;
            shard_send(p, m->src, m);
        }
        shard_flush(p);
    }
    while (shard_flush(p) > 0)
        ;
    pp->served = next;
    return NULL;
}

static void two_workers_request_and_reply(void **state)
{
    (void)state;
    struct pp *pp = calloc(1, sizeof(*pp));
    assert_int_equal(shard_mesh_init(&pp->mesh, 2), 0);
    shard_port_init(&pp->port[0], &pp->mesh, 0);
    shard_port_init(&pp->port[1], &pp->mesh, 1);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, pp_server, pp), 0);

    struct shard_port *p = &pp->port[0];
    struct resp_arg argv[2] = { { "GET", 3 }, { "k", 1 } };
    struct shard_msg *got[32];
    int64_t sent = 0, back = 0, bad = 0;
    while (back < PINGPONG_N) {
        while (sent < PINGPONG_N && sent - back < PINGPONG_WINDOW) {
            struct shard_msg *m = msg(p, sent++);
            shard_msg_set_args(m, 2, argv);
            shard_send(p, 1, m);
        }
        shard_flush(p);
        unsigned n = shard_poll(p, got, 32);
        for (unsigned i = 0; i < n; i++) {
            struct shard_msg *m = got[i];
            char want[32];
            int len = snprintf(want, sizeof(want), ":%lld\r\n", (long long)back);
            if (m->type != SHARD_REPLY || m->arg != back || m->src != 0 ||
                m->embed.len != (uint32_t)len || memcmp(m->reply_buf, want, (size_t)len) != 0)
                bad++;
            back++;
            shard_msg_put(p, m);
        }
    }
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(pp->served, PINGPONG_N);
    assert_int_equal(pp->misordered, 0);
    assert_int_equal(bad, 0);
    assert_true(p->pool_len > 0); /* replies came home to the owner's pool */
    shard_port_deinit(&pp->port[0]);
    shard_port_deinit(&pp->port[1]);
    shard_mesh_deinit(&pp->mesh, drop_free);
    free(pp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(empty_mesh_polls_nothing, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(messages_arrive_in_order_and_notify, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(poll_respects_max_and_visits_every_source, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(full_ring_defers_to_outbox_in_order, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(ring_wraps_around, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(pool_recycles_and_is_bounded, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(args_are_copied_inline_or_on_the_heap, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(reply_is_written_into_the_message, fx_setup, fx_teardown),
        cmocka_unit_test(deferred_queue_is_fifo),
        cmocka_unit_test(deinit_hands_queued_messages_to_drop),
        cmocka_unit_test(two_workers_request_and_reply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
