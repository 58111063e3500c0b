/*
 * A small C harness for micro-benchmarks, run by Google Benchmark through
 * bridge.cc (the only C++ file).
 *
 * A benchmark is a C function registered with BENCH(name) or one of its
 * variants; the runner calls it several times with growing iteration counts
 * until the timing is stable, so everything before the loop is setup and is
 * not timed, and everything after it is teardown:
 *
 *     BENCH_ARGS(reply_bulk, 16, 1024, 65536)
 *     {
 *         size_t n = (size_t)bench_arg(st, 0);
 *         ...setup...
 *         while (bench_keep_running(st)) {
 *             ...the operation...
 *         }
 *         bench_set_items(st, bench_iterations(st));
 *     }
 *
 * bench_keep_running() counts down iterations claimed from the runner in one
 * batch, inline, so the loop costs a decrement and a branch, not a call into
 * C++. Setup that must be repeated inside the loop goes between
 * bench_pause() and bench_resume() (each costs a few hundred ns of clock
 * reads, so amortize them over a batch of iterations).
 *
 * Multi-threaded benchmarks (.threads = 2) run the function on that many
 * threads at once; every thread runs the same number of iterations, which is
 * what a ping-pong between two threads needs. The reported time is wall time.
 */
#ifndef POLLUX_BENCH_H
#define POLLUX_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BENCH_MAX_ARGS 8 /* values of the one argument a benchmark may take */

/* Environment variable that enables the argument values at or above a def's .large_from. */
#define BENCH_LARGE_ENV "POLLUX_MICRO_LARGE"

struct bench_state {
    uint64_t left; /* iterations claimed from the runner and not yet run */
    void *impl;    /* the runner's state (benchmark::State) */
    bool claimed;  /* the first batch was claimed: the timed loop started */
    int thread_index;
    int threads;
    int64_t arg;
};

typedef void (*bench_fn)(struct bench_state *st);

enum bench_unit { BENCH_UNIT_NS = 0, BENCH_UNIT_US, BENCH_UNIT_MS };

struct bench_def {
    const char *name;
    bench_fn fn;
    int nargs; /* values in args (0: the benchmark takes no argument) */
    int64_t args[BENCH_MAX_ARGS];
    const char *arg_name; /* shown as name/arg_name:value (NULL: name/value) */
    int64_t large_from;   /* > 0: values >= this run only when BENCH_LARGE_ENV is set */
    int threads;          /* > 1: run on this many threads at once */
    enum bench_unit unit;
    struct bench_def *next;
};

#ifdef __cplusplus
extern "C" {
#endif

/* Add d to the registry (called from BENCH's constructors, before main). */
void bench_register(struct bench_def *d);

/* Out-of-line part of bench_keep_running: claim iterations from the runner. */
bool bench_next_(struct bench_state *st, uint64_t n);

/* Run a batch of n iterations (the body does n operations); do not mix with bench_keep_running. */
bool bench_keep_running_batch(struct bench_state *st, uint64_t n);

/* Iterations run (valid after the loop). */
uint64_t bench_iterations(const struct bench_state *st);

/* Stop and restart the clock, for setup inside the loop. */
void bench_pause(struct bench_state *st);
void bench_resume(struct bench_state *st);

/* Items and bytes processed in total by this run: reported as rates per second. */
void bench_set_items(struct bench_state *st, uint64_t items);
void bench_set_bytes(struct bench_state *st, uint64_t bytes);

/* A user counter. */
enum bench_counter_kind {
    BENCH_COUNTER_VALUE = 0, /* reported as given (summed over threads) */
    BENCH_COUNTER_RATE,      /* value per second */
    BENCH_COUNTER_AVG,       /* value per iteration */
};
void bench_counter(struct bench_state *st, const char *name, double value,
                   enum bench_counter_kind kind);

/* A free-form label shown after the results. */
void bench_label(struct bench_state *st, const char *label);

/* Fail this benchmark with an error; the loop ends at the next bench_keep_running. */
void bench_skip(struct bench_state *st, const char *why);

#ifdef __cplusplus
}
#endif

static inline bool bench_keep_running(struct bench_state *st)
{
    if (__builtin_expect(st->left > 0, 1)) {
        st->left--;
        return true;
    }
    return bench_next_(st, 1);
}

static inline int64_t bench_arg(const struct bench_state *st, int i)
{
    (void)i; /* one argument for now: index 0 */
    return st->arg;
}

static inline int bench_thread_index(const struct bench_state *st)
{
    return st->thread_index;
}

/* Make the compiler believe the memory at p is read and written here. */
static inline void bench_do_not_optimize(const void *p)
{
    __asm__ volatile("" : : "r"(p) : "memory");
}

/* Force a value to be computed (kept in a register or memory). */
#define BENCH_KEEP(x) __asm__ volatile("" : : "g"(x) : "memory")

/* Spin-wait hint for busy loops between threads. */
static inline void bench_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield" ::: "memory");
#else
    __asm__ volatile("" ::: "memory");
#endif
}

/*
 * Define and register a benchmark; the extra arguments are designated
 * initializers of struct bench_def (.threads = 2, .unit = BENCH_UNIT_US, ...).
 * The body that follows the macro is the function, with `st` in scope; the
 * benchmark's name is free to match a module function (store_delete).
 */
#define BENCH_DEFINE(name_, ...)                                                                   \
    static void bench_fn_##name_(struct bench_state *st);                                          \
    static struct bench_def bench_def_##name_ = { .name = #name_,                                  \
                                                  .fn = bench_fn_##name_,                          \
                                                  __VA_ARGS__ };                                   \
    __attribute__((constructor)) static void bench_reg_##name_(void)                               \
    {                                                                                              \
        bench_register(&bench_def_##name_);                                                        \
    }                                                                                              \
    static void bench_fn_##name_(struct bench_state *st)

/* The argument values, as initializers: BENCH_ARGLIST(16, 1024, 65536). */
#define BENCH_ARGLIST(...)                                                                         \
    .nargs = (int)(sizeof((int64_t[]){ __VA_ARGS__ }) / sizeof(int64_t)), .args = { __VA_ARGS__ }

#define BENCH(name_)           BENCH_DEFINE(name_, .nargs = 0)
#define BENCH_ARGS(name_, ...) BENCH_DEFINE(name_, BENCH_ARGLIST(__VA_ARGS__))

#endif
