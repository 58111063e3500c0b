/*
 * The traffic-buffer count (base/mem.h): what one thread allocates and another frees comes
 * back to where it started, counted in usable bytes on both sides.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <cmocka.h>

#include "base/mem.h"
#include "base/ring.h"

#define N 20000

static void counts_usable_bytes(void **state)
{
    (void)state;
    size_t before = mem_traffic_total();
    void *a = mem_traffic_alloc(100), *b = mem_traffic_alloc(5000);
    assert_int_equal(mem_traffic_total(), before + mem_usable(a) + mem_usable(b));
    mem_traffic_free(a);
    assert_int_equal(mem_traffic_total(), before + mem_usable(b));
    mem_traffic_free(b);
    mem_traffic_free(NULL);
    assert_int_equal(mem_traffic_total(), before);
}

struct pass {
    struct ring *r;
};

/* Allocate N buffers of varying sizes and hand them over the ring. */
static void *producer(void *arg)
{
    struct pass *p = arg;
    for (uintptr_t i = 0; i < N; i++) {
        void *buf = mem_traffic_alloc(16 + (i * 37) % 3000);
        while (!ring_enqueue(p->r, buf))
            ;
    }
    return NULL;
}

/* Buffers taken on one thread and freed on another: the sum is right while they travel
 * (never below what is in flight) and exact at the end. */
static void freed_by_another_thread(void **state)
{
    (void)state;
    size_t before = mem_traffic_total();
    struct pass p = { ring_create(256) };
    assert_non_null(p.r);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, producer, &p), 0);
    for (int got = 0; got < N;) {
        void *buf = ring_dequeue(p.r);
        if (buf == NULL)
            continue;
        assert_true(mem_traffic_total() >= before + mem_usable(buf));
        mem_traffic_free(buf);
        got++;
    }
    pthread_join(t, NULL);
    assert_int_equal(mem_traffic_total(), before);
    ring_destroy(p.r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counts_usable_bytes),
        cmocka_unit_test(freed_by_another_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
