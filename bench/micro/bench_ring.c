/*
 * The SPSC ring (dataplane/base/ring.h) between two threads.
 *
 * Both benchmarks run on two threads at once (.threads = 2); the runner gives
 * each thread the same iteration count, so every message sent is received.
 * On a 2-core VM the two threads are alone on their cores only if nothing
 * else runs: expect noise.
 */
#include <pthread.h>
#include <stdint.h>

#include "bench/micro/microbench.h"
#include "base/ring.h"

#define RING_CAP 1024

static struct ring *ring_ab, *ring_ba; /* thread 0 -> 1, 1 -> 0; created once */
static pthread_once_t rings_once = PTHREAD_ONCE_INIT;

static void rings_create(void)
{
    ring_ab = ring_create(RING_CAP);
    ring_ba = ring_create(RING_CAP);
}

static inline void *recv_spin(struct ring *r)
{
    void *p;
    while ((p = ring_dequeue(r)) == NULL)
        bench_cpu_relax();
    return p;
}

static inline void send_spin(struct ring *r, void *p)
{
    while (!ring_enqueue(r, p))
        bench_cpu_relax();
}

/*
 * Ping-pong: thread 0 sends a pointer, thread 1 sends it back; one iteration
 * is one round trip (two cache-line transfers each way). Items: round trips.
 */
BENCH_DEFINE(ring_pingpong, .threads = 2)
{
    pthread_once(&rings_once, rings_create);
    uintptr_t token = 1;
    if (bench_thread_index(st) == 0) {
        while (bench_keep_running(st)) {
            send_spin(ring_ab, (void *)token);
            void *back = recv_spin(ring_ba);
            if ((uintptr_t)back != token)
                bench_skip(st, "ring reordered");
            token++;
        }
        bench_set_items(st, bench_iterations(st));
    } else {
        while (bench_keep_running(st))
            send_spin(ring_ba, recv_spin(ring_ab));
    }
}

/*
 * One-way stream: thread 0 enqueues bursts of `burst` pointers, thread 1
 * dequeues them in bursts of up to the same size. Items: pointers moved.
 */
BENCH_DEFINE(ring_stream, BENCH_ARGLIST(1, 32), .arg_name = "burst", .threads = 2)
{
    pthread_once(&rings_once, rings_create);
    uint32_t burst = (uint32_t)bench_arg(st, 0);
    void *objs[32];
    for (uint32_t i = 0; i < burst; i++)
        objs[i] = (void *)(uintptr_t)(i + 1);
    if (bench_thread_index(st) == 0) {
        while (bench_keep_running(st)) {
            uint32_t done = 0;
            while (done < burst) {
                uint32_t k = ring_enqueue_burst(ring_ab, objs + done, burst - done);
                if (k == 0)
                    bench_cpu_relax();
                done += k;
            }
        }
        bench_set_items(st, bench_iterations(st) * burst);
    } else {
        void *got[32];
        while (bench_keep_running(st)) {
            uint32_t done = 0;
            while (done < burst) {
                uint32_t k = ring_dequeue_burst(ring_ab, got, burst - done);
                if (k == 0)
                    bench_cpu_relax();
                done += k;
            }
            bench_do_not_optimize(got);
        }
    }
}
