#include "base/clock.h"

#include <time.h>

static double ns_per_cycle = 1.0;

uint64_t clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int64_t clock_real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_real_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Measure the counter against CLOCK_MONOTONIC over ~10 ms. */
void clock_setup(void)
{
#if defined(__aarch64__)
    uint64_t freq;
    __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(freq));
    if (freq != 0) {
        ns_per_cycle = 1e9 / (double)freq;
        return;
    }
#endif
    uint64_t t0 = clock_mono_ns(), c0 = clock_cycles();
    struct timespec d = { 0, 10 * 1000 * 1000 };
    nanosleep(&d, NULL);
    uint64_t t1 = clock_mono_ns(), c1 = clock_cycles();
    if (c1 > c0)
        ns_per_cycle = (double)(t1 - t0) / (double)(c1 - c0);
}

uint64_t clock_cycles_to_ns(uint64_t cycles)
{
    return (uint64_t)((double)cycles * ns_per_cycle);
}
