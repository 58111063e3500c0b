#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <cmocka.h>

#include "base/ring.h"

static void fills_and_drains(void **state)
{
    (void)state;
    struct ring *r = ring_create(5); /* rounds up to 8 */
    assert_non_null(r);
    uintptr_t i;
    for (i = 1; i <= 8; i++)
        assert_true(ring_enqueue(r, (void *)i));
    assert_false(ring_enqueue(r, (void *)i));
    assert_int_equal(ring_count(r), 8);
    for (i = 1; i <= 8; i++)
        assert_ptr_equal(ring_dequeue(r), (void *)i);
    assert_null(ring_dequeue(r));

    void *burst[16];
    for (i = 0; i < 16; i++)
        burst[i] = (void *)(i + 100);
    assert_int_equal(ring_enqueue_burst(r, burst, 16), 8);
    void *out[16];
    assert_int_equal(ring_dequeue_burst(r, out, 3), 3);
    assert_ptr_equal(out[0], (void *)100);
    assert_int_equal(ring_dequeue_burst(r, out, 16), 5);
    assert_ptr_equal(out[4], (void *)107);
    ring_destroy(r);
    assert_null(ring_create(0));
}

#define COUNT 2000000u

static void *producer(void *arg)
{
    struct ring *r = arg;
    uintptr_t next = 1;
    while (next <= COUNT) {
        void *batch[32];
        uint32_t n = 0;
        for (; n < 32 && next + n <= COUNT; n++)
            batch[n] = (void *)(next + n);
        next += ring_enqueue_burst(r, batch, n);
    }
    return NULL;
}

/* Two threads: every pointer arrives once, in order, across many wraps. */
static void ordered_across_threads(void **state)
{
    (void)state;
    struct ring *r = ring_create(64);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, producer, r), 0);
    uintptr_t expect = 1;
    while (expect <= COUNT) {
        void *out[32];
        uint32_t n = ring_dequeue_burst(r, out, 32);
        for (uint32_t i = 0; i < n; i++) {
            if ((uintptr_t)out[i] != expect)
                fail_msg("got %lu, expected %lu", (unsigned long)(uintptr_t)out[i],
                         (unsigned long)expect);
            expect++;
        }
    }
    pthread_join(t, NULL);
    assert_null(ring_dequeue(r));
    ring_destroy(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fills_and_drains),
        cmocka_unit_test(ordered_across_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
