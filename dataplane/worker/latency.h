/*
 * The latency monitor (LATENCY LATEST/HISTORY/GRAPH/DOCTOR/RESET) and the per-command
 * latency histograms (LATENCY HISTOGRAM, INFO latencystats), kept per worker.
 *
 * Events: when something the worker did took at least latency-monitor-threshold ms, a
 * sample (second, ms) goes into that event's series of the worker: the latest
 * LATENCY_TS_LEN seconds that had one, a second's samples merged into their maximum, and
 * the all-time maximum, as Redis keeps them. The LATENCY commands merge the workers'
 * series while holding every shard (cmd_node.c's rule for other workers' memory).
 *
 * Histograms: one struct lathist (base/lathist.h, 24 KB) per command and worker, made the first
 * time the worker runs that command with latency-tracking on; after that a request costs
 * an index computation and two increments.
 */
#ifndef POLLUX_LATENCY_H
#define POLLUX_LATENCY_H

#include <stdbool.h>
#include <stdint.h>

#include "base/common.h"
#include "base/lathist.h"

struct worker;
struct cmd_def;

/* The events Pollux has an equivalent for, with Redis's names. */
enum latency_event {
    LATENCY_COMMAND,
    LATENCY_FAST_COMMAND,
    LATENCY_EXPIRE_CYCLE,
    LATENCY_EVICTION_CYCLE,
    LATENCY_EVENTS
};
extern const char *const latency_event_names[LATENCY_EVENTS];

#define LATENCY_TS_LEN 160

struct latency_sample {
    int64_t time; /* unix seconds; 0 = unused */
    uint64_t ms;
};

struct latency_series {
    struct latency_sample samples[LATENCY_TS_LEN]; /* ring; next write at idx */
    unsigned idx;
    uint64_t max;
    bool used; /* a sample since the start or the last LATENCY RESET of the event */
};

struct latency {
    struct latency_series series[LATENCY_EVENTS];
    struct lathist **hist; /* CMD_ID_COUNT, each NULL until the command first runs */
};

void latency_init(struct latency *l);
void latency_deinit(struct latency *l);

/* Add a sample of `ms` at unix second `now` to a series. */
void latency_series_add(struct latency_series *s, int64_t now, uint64_t ms);
void latency_event_sample(struct worker *w, enum latency_event e, uint64_t ms);
/*
 * A command ran for ns nanoseconds on w: its histogram (latency-tracking) and, at or over
 * latency-monitor-threshold ms, a "command" or "fast-command" sample. No allocation but
 * the histogram's first; no lock, no system call.
 */
void latency_command(struct worker *w, const struct cmd_def *d, uint64_t ns);
/*
 * Around a cron cycle (active expiry, eviction): the cycle's start in cycles, 0 when the
 * monitor is off (no clock read then), and its sample when it took the threshold or more.
 */
uint64_t latency_cycle_start(const struct worker *w);
void latency_cycle_end(struct worker *w, enum latency_event e, uint64_t start);
/* Forget every histogram (CONFIG RESETSTAT). */
void latency_hist_reset(struct latency *l);
/* The command's histogram, made on its first record (mem_calloc aborts when out of memory) */
struct lathist *latency_hist_make(struct latency *l, unsigned id);

/*
 * latency-tracking-info-percentiles: up to LATENCY_MAX_PERCENTILES numbers 0..100.
 * @return how many, or -1 (why set to Redis's message)
 */
#define LATENCY_MAX_PERCENTILES 64
int latency_parse_percentiles(const char *v, double out[LATENCY_MAX_PERCENTILES], const char **why);

/* The percentiles as CONFIG GET shows them: each number's shortest "%f" form (v is read
 * whole before out is written, so they may be the same buffer). */
void latency_percentiles_string(const char *v, char *out, size_t cap);

struct strbuf;
/* INFO's latencystats section (every shard held). */
void latency_info(struct strbuf *s);

#endif
