// The one C++ file of the micro-benchmarks: maps the C harness of bench.h
// onto Google Benchmark and provides main(), so the runner's flags
// (--benchmark_filter, --benchmark_format=json, --benchmark_out=FILE,
// --benchmark_min_time=SECONDS, --benchmark_repetitions, ...) all work.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench/micro/microbench.h"

namespace
{

struct bench_def *registry_head = nullptr; // constant-initialized: safe from C constructors

benchmark::State &gb(struct bench_state *st)
{
    return *static_cast<benchmark::State *>(st->impl);
}

bool large_enabled()
{
    const char *v = std::getenv(BENCH_LARGE_ENV);
    return v != nullptr && v[0] != '\0' && std::strcmp(v, "0") != 0;
}

benchmark::TimeUnit time_unit(enum bench_unit u)
{
    switch (u) {
    case BENCH_UNIT_US:
        return benchmark::kMicrosecond;
    case BENCH_UNIT_MS:
        return benchmark::kMillisecond;
    default:
        return benchmark::kNanosecond;
    }
}

void run(const struct bench_def *d, benchmark::State &state)
{
    struct bench_state st;
    st.left = 0;
    st.impl = &state;
    st.claimed = false;
    st.thread_index = state.thread_index();
    st.threads = state.threads();
    st.arg = d->nargs > 0 ? state.range(0) : 0;
    d->fn(&st);
    // A function that returned early (bench_skip) or forgot the loop must still end it.
    if (!st.claimed)
        while (state.KeepRunning()) {
        }
}

void register_all()
{
    std::vector<struct bench_def *> defs;
    for (struct bench_def *d = registry_head; d != nullptr; d = d->next)
        defs.push_back(d);
    // Constructor order across files is the linker's choice: sort for a stable listing.
    std::stable_sort(defs.begin(), defs.end(), [](const bench_def *a, const bench_def *b) {
        return std::strcmp(a->name, b->name) < 0;
    });
    bool large = large_enabled();
    for (struct bench_def *d : defs) {
        std::vector<int64_t> args;
        for (int i = 0; i < d->nargs && i < BENCH_MAX_ARGS; i++)
            if (d->large_from <= 0 || d->args[i] < d->large_from || large)
                args.push_back(d->args[i]);
        if (d->nargs > 0 && args.empty())
            continue;
        benchmark::internal::Benchmark *b =
            benchmark::RegisterBenchmark(d->name, [d](benchmark::State &state) { run(d, state); });
        for (int64_t a : args)
            b->Arg(a);
        if (d->nargs > 0 && d->arg_name != nullptr)
            b->ArgName(d->arg_name);
        b->Unit(time_unit(d->unit));
        if (d->threads > 1)
            b->Threads(d->threads)->UseRealTime();
    }
}

} // namespace

extern "C" {

void bench_register(struct bench_def *d)
{
    // Append, keeping definition order within a file.
    struct bench_def **p = &registry_head;
    while (*p != nullptr)
        p = &(*p)->next;
    d->next = nullptr;
    *p = d;
}

bool bench_next_(struct bench_state *st, uint64_t n)
{
    benchmark::State &state = gb(st);
    if (!st->claimed) {
        // Claim every iteration of this run at once; the C side counts them down.
        st->claimed = true;
        if (!state.KeepRunningBatch(state.max_iterations))
            return false;
        st->left = static_cast<uint64_t>(state.max_iterations) - n;
        return true;
    }
    // Everything claimed has run: this call stops the clock and ends the loop.
    return state.KeepRunningBatch(static_cast<benchmark::IterationCount>(n));
}

bool bench_keep_running_batch(struct bench_state *st, uint64_t n)
{
    st->claimed = true;
    return gb(st).KeepRunningBatch(static_cast<benchmark::IterationCount>(n));
}

uint64_t bench_iterations(const struct bench_state *st)
{
    return static_cast<uint64_t>(static_cast<benchmark::State *>(st->impl)->iterations());
}

void bench_pause(struct bench_state *st)
{
    gb(st).PauseTiming();
}

void bench_resume(struct bench_state *st)
{
    gb(st).ResumeTiming();
}

void bench_set_items(struct bench_state *st, uint64_t items)
{
    gb(st).SetItemsProcessed(static_cast<int64_t>(items));
}

void bench_set_bytes(struct bench_state *st, uint64_t bytes)
{
    gb(st).SetBytesProcessed(static_cast<int64_t>(bytes));
}

void bench_counter(struct bench_state *st, const char *name, double value,
                   enum bench_counter_kind kind)
{
    benchmark::Counter::Flags f = benchmark::Counter::kDefaults;
    if (kind == BENCH_COUNTER_RATE)
        f = benchmark::Counter::kIsRate;
    else if (kind == BENCH_COUNTER_AVG)
        f = benchmark::Counter::kAvgIterations;
    gb(st).counters[name] = benchmark::Counter(value, f);
}

void bench_label(struct bench_state *st, const char *label)
{
    gb(st).SetLabel(label);
}

void bench_skip(struct bench_state *st, const char *why)
{
    gb(st).SkipWithError(why);
    st->left = 0;
}

} // extern "C"

int main(int argc, char **argv)
{
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    register_all();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
