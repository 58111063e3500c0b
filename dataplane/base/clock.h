/*
 * Time sources. The worker loop reads the clock once per pass and hands the
 * cached values down; commands never read the clock themselves. The cycle
 * counter (rdtsc on x86-64, cntvct_el0 on arm64, clock_gettime elsewhere) is
 * used for per-command durations, where a vDSO call per command would show.
 */
#ifndef POLLUX_CLOCK_H
#define POLLUX_CLOCK_H

#include <stdint.h>

/* Monotonic nanoseconds. */
uint64_t clock_mono_ns(void);
/* Wall clock, milliseconds and microseconds since the Unix epoch. */
int64_t clock_real_ms(void);
int64_t clock_real_us(void);

/* Calibrate the cycle counter against the monotonic clock; call once at start. */
void clock_setup(void);

static inline uint64_t clock_cycles(void)
{
#if defined(__x86_64__)
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
#elif defined(__aarch64__)
    uint64_t v;
    __asm__ volatile("mrs %0, cntvct_el0" : "=r"(v));
    return v;
#else
    return clock_mono_ns();
#endif
}

/* Convert a cycle-counter delta to nanoseconds. */
uint64_t clock_cycles_to_ns(uint64_t cycles);

#endif
