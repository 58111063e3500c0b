/*
 * The latency monitor and the per-command histograms (latency.h), and the LATENCY
 * commands' side of cmd/node.h: every worker's series and histograms merged, with every
 * shard held (the handlers' rows route `all`), the way SLOWLOG merges the slow logs.
 *
 * Cost: a request pays latency_command(): one histogram increment (and a 24 KB
 * allocation the first time a worker runs a command) and a compare against the
 * threshold. Samples are rare by construction (only over the threshold). Merging is
 * O(workers x LATENCY_TS_LEN) per event, or O(workers x 3072) per command histogram.
 */
#include "worker/latency.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/mem.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "cmd/commands.h"
#include "cmd/node.h"
#include "resp/reply.h"
#include "worker/process.h"
#include "worker/worker.h"

const char *const latency_event_names[LATENCY_EVENTS] = {
    [LATENCY_COMMAND] = "command",
    [LATENCY_FAST_COMMAND] = "fast-command",
    [LATENCY_EXPIRE_CYCLE] = "expire-cycle",
    [LATENCY_EVICTION_CYCLE] = "eviction-cycle",
};

void latency_init(struct latency *l)
{
    memset(l->series, 0, sizeof(l->series));
    l->hist = mem_calloc(sizeof(struct lathist *) * CMD_ID_COUNT);
}

void latency_hist_reset(struct latency *l)
{
    for (unsigned i = 0; i < CMD_ID_COUNT; i++) {
        mem_free(l->hist[i]);
        l->hist[i] = NULL;
    }
}

void latency_deinit(struct latency *l)
{
    if (l->hist == NULL)
        return;
    latency_hist_reset(l);
    mem_free(l->hist);
    l->hist = NULL;
}

struct lathist *latency_hist_make(struct latency *l, unsigned id)
{
    l->hist[id] = mem_calloc(sizeof(struct lathist));
    return l->hist[id];
}

void latency_series_add(struct latency_series *s, int64_t now, uint64_t ms)
{
    s->used = true;
    if (ms > s->max)
        s->max = ms;
    struct latency_sample *last = &s->samples[(s->idx + LATENCY_TS_LEN - 1) % LATENCY_TS_LEN];
    if (last->time == now) {
        if (ms > last->ms)
            last->ms = ms;
        return;
    }
    s->samples[s->idx] = (struct latency_sample){ .time = now, .ms = ms };
    s->idx = (s->idx + 1) % LATENCY_TS_LEN;
}

void latency_event_sample(struct worker *w, enum latency_event e, uint64_t ms)
{
    latency_series_add(&w->latency.series[e], w->now_ms / 1000, ms);
}

void latency_command(struct worker *w, const struct cmd_def *d, uint64_t ns)
{
    if (w->params.srv.latency_tracking) {
        struct lathist *h = w->latency.hist[d->id];
        if (unlikely(h == NULL))
            h = latency_hist_make(&w->latency, d->id);
        lathist_record(h, ns);
    }
    long long threshold = w->params.srv.latency_monitor_threshold;
    if (unlikely(threshold > 0) && ns / 1000000 >= (uint64_t)threshold)
        latency_event_sample(w, (d->flags & CMD_FAST) ? LATENCY_FAST_COMMAND : LATENCY_COMMAND,
                             ns / 1000000);
}

uint64_t latency_cycle_start(const struct worker *w)
{
    return w->params.srv.latency_monitor_threshold > 0 ? clock_cycles() : 0;
}

void latency_cycle_end(struct worker *w, enum latency_event e, uint64_t start)
{
    long long threshold = w->params.srv.latency_monitor_threshold;
    if (start == 0 || threshold <= 0)
        return;
    uint64_t ms = clock_cycles_to_ns(clock_cycles() - start) / 1000000;
    if (ms >= (uint64_t)threshold)
        latency_event_sample(w, e, ms);
}

int latency_parse_percentiles(const char *v, double out[LATENCY_MAX_PERCENTILES], const char **why)
{
    int n = 0;
    const char *p = v;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            return n;
        const char *end = p;
        while (*end != '\0' && *end != ' ' && *end != '\t')
            end++;
        char word[64];
        size_t len = (size_t)(end - p);
        char *stop = NULL;
        double d = 0;
        if (len < sizeof(word)) {
            memcpy(word, p, len);
            word[len] = '\0';
            errno = 0;
            d = strtod(word, &stop);
        }
        if (len >= sizeof(word) || stop != word + len || errno != 0 ||
            n == LATENCY_MAX_PERCENTILES) {
            *why = "Invalid latency-tracking-info-percentiles parameters";
            return -1;
        }
        if (!(d >= 0.0 && d <= 100.0)) {
            *why = "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]";
            return -1;
        }
        out[n++] = d;
        p = end;
    }
}

const char *config_check_percentiles(const char *v)
{
    double p[LATENCY_MAX_PERCENTILES];
    const char *why = NULL;
    return latency_parse_percentiles(v, p, &why) < 0 ? why : NULL;
}

/* ---------------------------------------------------------------------------
 * Events, merged (every shard held)
 * ------------------------------------------------------------------------ */

/* An event's samples over every worker, oldest first, a second's samples merged. */
struct merged {
    struct latency_sample s[LATENCY_TS_LEN];
    int n;
    uint64_t max;
    bool used;
};

static int by_time(const void *a, const void *b)
{
    const struct latency_sample *x = a, *y = b;
    return (x->time > y->time) - (x->time < y->time);
}

static void merge_event(enum latency_event e, struct merged *m)
{
    struct latency_sample *all = mem_alloc(sizeof(*all) * LATENCY_TS_LEN * server.nworkers);
    size_t n = 0;
    memset(m, 0, sizeof(*m));
    for (unsigned i = 0; i < server.nworkers; i++) {
        const struct latency_series *s = &server.workers[i]->latency.series[e];
        if (!s->used)
            continue;
        m->used = true;
        if (s->max > m->max)
            m->max = s->max;
        for (unsigned k = 0; k < LATENCY_TS_LEN; k++)
            if (s->samples[k].time != 0)
                all[n++] = s->samples[k];
    }
    qsort(all, n, sizeof(*all), by_time);
    size_t out = 0;
    for (size_t k = 0; k < n; k++) {
        if (out > 0 && all[out - 1].time == all[k].time) {
            if (all[k].ms > all[out - 1].ms)
                all[out - 1].ms = all[k].ms;
        } else {
            all[out++] = all[k];
        }
    }
    size_t first = out > LATENCY_TS_LEN ? out - LATENCY_TS_LEN : 0;
    m->n = (int)(out - first);
    memcpy(m->s, all + first, sizeof(*all) * (size_t)m->n);
    mem_free(all);
}

static int find_event(const char *name, size_t len)
{
    for (int e = 0; e < LATENCY_EVENTS; e++)
        if (strlen(latency_event_names[e]) == len && memcmp(latency_event_names[e], name, len) == 0)
            return e;
    return -1;
}

void node_latency_latest(struct reply *r)
{
    struct merged m[LATENCY_EVENTS];
    int n = 0;
    for (int e = 0; e < LATENCY_EVENTS; e++) {
        merge_event((enum latency_event)e, &m[e]);
        n += m[e].used;
    }
    reply_array(r, n);
    for (int e = 0; e < LATENCY_EVENTS; e++) {
        if (!m[e].used)
            continue;
        const struct latency_sample *last = &m[e].s[m[e].n - 1];
        reply_array(r, 4);
        reply_bulk_cstr(r, latency_event_names[e]);
        reply_int(r, last->time);
        reply_int(r, (long long)last->ms);
        reply_int(r, (long long)m[e].max);
    }
}

void node_latency_history(struct reply *r, const char *event, size_t len)
{
    int e = find_event(event, len);
    struct merged m = { .n = 0 };
    if (e >= 0)
        merge_event((enum latency_event)e, &m);
    reply_array(r, m.n);
    for (int k = 0; k < m.n; k++) {
        reply_array(r, 2);
        reply_int(r, m.s[k].time);
        reply_int(r, (long long)m.s[k].ms);
    }
}

long long node_latency_reset(int n, const struct resp_arg *events)
{
    long long count = 0;
    for (int e = 0; e < LATENCY_EVENTS; e++) {
        bool named = n == 0;
        for (int k = 0; k < n && !named; k++)
            named = find_event(events[k].ptr, events[k].len) == e;
        if (!named)
            continue;
        bool used = false;
        for (unsigned i = 0; i < server.nworkers; i++) {
            struct latency_series *s = &server.workers[i]->latency.series[e];
            used |= s->used;
            memset(s, 0, sizeof(*s));
        }
        count += used;
    }
    return count;
}

/* ---------------------------------------------------------------------------
 * LATENCY GRAPH: Redis's text, a four-row sparkline of the samples, 80 columns a
 * block, each column labelled (vertically) with how long ago its sample was taken
 * ------------------------------------------------------------------------ */

#define GRAPH_COLS 80
#define GRAPH_ROWS 4

static void graph_block(struct strbuf *s, const struct merged *m, const char labels[][24], int from,
                        int len, uint64_t lo, uint64_t hi)
{
    static const char fill[] = "_o#";
    const int levels = 3 * GRAPH_ROWS;
    double range = hi > lo ? (double)(hi - lo) : 1.0;
    char line[GRAPH_COLS + 1];
    for (int row = 0; row < GRAPH_ROWS; row++) {
        for (int k = 0; k < len; k++) {
            int step = (int)((double)(m->s[from + k].ms - lo) * levels / range);
            step = step < 0 ? 0 : step >= levels ? levels - 1 : step;
            int level = step - (GRAPH_ROWS - 1 - row) * 3;
            line[k] = level < 0 ? ' ' : level < 3 ? fill[level] : '|';
        }
        line[len] = '\n';
        strbuf_append(s, line, (size_t)len + 1);
    }
    memset(line, ' ', (size_t)len);
    strbuf_append(s, line, (size_t)len + 1); /* the margin above the labels */
    for (size_t at = 0;; at++) {
        bool any = false;
        for (int k = 0; k < len; k++) {
            const char *l = labels[from + k];
            bool has = strlen(l) > at;
            line[k] = has ? l[at] : ' ';
            any |= has;
        }
        if (!any)
            break;
        strbuf_append(s, line, (size_t)len + 1);
    }
}

int node_latency_graph(struct strbuf *s, const char *event, size_t len)
{
    int e = find_event(event, len);
    if (e < 0)
        return -1;
    struct merged m;
    merge_event((enum latency_event)e, &m);
    if (!m.used || m.n == 0)
        return -1;
    int64_t now = clock_real_us() / 1000000;
    char labels[LATENCY_TS_LEN][24];
    uint64_t lo = m.s[0].ms, hi = m.s[0].ms;
    for (int k = 0; k < m.n; k++) {
        lo = m.s[k].ms < lo ? m.s[k].ms : lo;
        hi = m.s[k].ms > hi ? m.s[k].ms : hi;
        long long ago = now - m.s[k].time;
        if (ago < 60)
            snprintf(labels[k], sizeof(labels[k]), "%llds", ago);
        else if (ago < 3600)
            snprintf(labels[k], sizeof(labels[k]), "%lldm", ago / 60);
        else if (ago < 86400)
            snprintf(labels[k], sizeof(labels[k]), "%lldh", ago / 3600);
        else
            snprintf(labels[k], sizeof(labels[k]), "%lldd", ago / 86400);
    }
    strbuf_printf(s, "%s - high %llu ms, low %llu ms (all time high %llu ms)\n",
                  latency_event_names[e], (unsigned long long)hi, (unsigned long long)lo,
                  (unsigned long long)m.max);
    char dashes[GRAPH_COLS + 1];
    memset(dashes, '-', GRAPH_COLS);
    dashes[GRAPH_COLS] = '\n';
    strbuf_append(s, dashes, sizeof(dashes));
    for (int from = 0; from < m.n; from += GRAPH_COLS) {
        if (from > 0)
            strbuf_append(s, "\n", 1);
        int cols = m.n - from < GRAPH_COLS ? m.n - from : GRAPH_COLS;
        graph_block(s, &m, (const char(*)[24])labels, from, cols, lo, hi);
    }
    return 0;
}

/* ---------------------------------------------------------------------------
 * LATENCY DOCTOR: Redis's report; the advice for the events only Pollux words its own
 * ------------------------------------------------------------------------ */

static const char doctor_disabled[] =
    "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. "
    "You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable "
    "it. If we weren't in a deep space mission I'd suggest to take a look at "
    "https://redis.io/topics/latency-monitor.\n";
static const char doctor_quiet[] =
    "Dave, no latency spike was observed during the lifetime of this Redis instance, not in "
    "the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and "
    "think things over.\n";

enum advice {
    ADVISE_SLOWLOG_ENABLE = 1 << 0,
    ADVISE_SLOWLOG_TUNE = 1 << 1,
    ADVISE_SLOWLOG_INSPECT = 1 << 2,
    ADVISE_SCHEDULER = 1 << 3,
    ADVISE_EXPIRE = 1 << 4,
    ADVISE_EVICTION = 1 << 5,
    ADVISE_LARGE_OBJECTS = 1 << 6,
};

/* The advice, in Redis's order; an entry with a tail has the suggested slowlog value between. */
static const struct {
    unsigned bit;
    const char *text, *tail;
} advice_texts[] = {
    { ADVISE_SLOWLOG_ENABLE,
      "- There are latency issues with potentially slow commands you are using. Try to enable "
      "the Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than ",
      "'. If the Slow log is disabled Redis is not able to log slow commands execution for "
      "you.\n" },
    { ADVISE_SLOWLOG_TUNE,
      "- Your current Slow Log configuration only logs events that are slower than your "
      "configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than ",
      "'.\n" },
    { ADVISE_SLOWLOG_INSPECT,
      "- Check your Slow Log to understand what are the commands you are running which are too "
      "slow to execute. Please check https://redis.io/commands/slowlog for more information.\n",
      NULL },
    { ADVISE_SCHEDULER,
      "- The system is slow to execute Redis code paths not containing system calls. This "
      "usually means the system does not provide Redis CPU time to run for long periods. You "
      "should try to:\n"
      "  1) Lower the system load.\n"
      "  2) Use a computer / VM just for Redis if you are running other software in the same "
      "system.\n"
      "  3) Check if you have a \"noisy neighbour\" problem.\n"
      "  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in "
      "your system.\n"
      "  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if "
      "you are using Jemalloc. However this may create fragmentation problems.\n",
      NULL },
    { ADVISE_EXPIRE,
      "- Keys expire in a bounded slice every millisecond; a slow slice means large values "
      "expiring or many keys expiring together. Lower 'active-expire-effort' to make each "
      "slice smaller, and spread the expire times of keys written together.\n",
      NULL },
    { ADVISE_EVICTION,
      "- Evicting keys to stay under 'maxmemory' took long: a sudden rise of used memory, or "
      "'maxmemory' lowered a lot at once with CONFIG SET, makes a cycle evict many keys. "
      "Change 'maxmemory' in smaller steps.\n",
      NULL },
    { ADVISE_LARGE_OBJECTS,
      "- Deleting, expiring or evicting (because of maxmemory policy) large objects is a "
      "blocking operation. If you have very large objects that are often deleted, expired, or "
      "evicted, try to fragment those objects into multiple smaller objects.\n",
      NULL },
};

static void doctor_advice(struct strbuf *s, unsigned advice, long long threshold)
{
    for (size_t i = 0; i < ARRAY_SIZE(advice_texts); i++) {
        if (!(advice & advice_texts[i].bit))
            continue;
        strbuf_printf(s, "%s", advice_texts[i].text);
        if (advice_texts[i].tail != NULL)
            strbuf_printf(s, "%lld%s", threshold * 1000, advice_texts[i].tail);
    }
}

void node_latency_doctor(struct strbuf *s)
{
    const struct server_params *p = &server.workers[0]->params.srv;
    long long threshold = p->latency_monitor_threshold;
    struct merged m[LATENCY_EVENTS];
    int events = 0;
    for (int e = 0; e < LATENCY_EVENTS; e++) {
        merge_event((enum latency_event)e, &m[e]);
        events += m[e].used && m[e].n > 0;
    }
    if (events == 0) {
        strbuf_printf(s, "%s", threshold == 0 ? doctor_disabled : doctor_quiet);
        return;
    }
    strbuf_printf(s, "Dave, I have observed latency spikes in this Redis instance. You don't "
                     "mind talking about it, do you Dave?\n\n");
    int64_t now = clock_real_us() / 1000000;
    unsigned advice = 0;
    int num = 0;
    for (int e = 0; e < LATENCY_EVENTS; e++) {
        if (!m[e].used || m[e].n == 0)
            continue;
        uint64_t sum = 0, dev = 0;
        int64_t oldest = m[e].s[0].time;
        for (int k = 0; k < m[e].n; k++)
            sum += m[e].s[k].ms;
        uint64_t avg = sum / (uint64_t)m[e].n;
        for (int k = 0; k < m[e].n; k++)
            dev += m[e].s[k].ms > avg ? m[e].s[k].ms - avg : avg - m[e].s[k].ms;
        int64_t period = now - oldest > 0 ? now - oldest : 1;
        strbuf_printf(s,
                      "%d. %s: %d latency spikes (average %llums, mean deviation %llums, period "
                      "%.2f sec). Worst all time event %llums.\n",
                      ++num, latency_event_names[e], m[e].n, (unsigned long long)avg,
                      (unsigned long long)(dev / (uint64_t)m[e].n), (double)period / m[e].n,
                      (unsigned long long)m[e].max);
        switch ((enum latency_event)e) {
        case LATENCY_COMMAND:
            if (p->slowlog_log_slower_than < 0)
                advice |= ADVISE_SLOWLOG_ENABLE;
            else if (p->slowlog_log_slower_than / 1000 > threshold)
                advice |= ADVISE_SLOWLOG_TUNE;
            advice |= ADVISE_SLOWLOG_INSPECT | ADVISE_LARGE_OBJECTS;
            break;
        case LATENCY_FAST_COMMAND:
            advice |= ADVISE_SCHEDULER;
            break;
        case LATENCY_EXPIRE_CYCLE:
            advice |= ADVISE_EXPIRE | ADVISE_LARGE_OBJECTS;
            break;
        case LATENCY_EVICTION_CYCLE:
            advice |= ADVISE_EVICTION | ADVISE_LARGE_OBJECTS;
            break;
        case LATENCY_EVENTS:
            break;
        }
    }
    strbuf_printf(s, "\nI have a few advices for you:\n\n");
    doctor_advice(s, advice, threshold);
}

/* ---------------------------------------------------------------------------
 * Histograms, merged (every shard held)
 * ------------------------------------------------------------------------ */

/* The command's histogram over every worker into h. @return false when none ran it */
static bool merge_hist(const struct cmd_def *d, struct lathist *h)
{
    bool any = false;
    memset(h, 0, sizeof(*h));
    for (unsigned i = 0; i < server.nworkers; i++) {
        const struct lathist *x = server.workers[i]->latency.hist[d->id];
        if (x != NULL) {
            lathist_merge(h, x);
            any = true;
        }
    }
    return any;
}

static void full_name(char *buf, size_t cap, const struct cmd_def *d, const struct cmd_def *parent)
{
    if (parent != NULL)
        snprintf(buf, cap, "%s|%s", parent->name, d->name);
    else
        snprintf(buf, cap, "%s", d->name);
}

static void histogram_entry(struct reply *r, const struct cmd_def *d, const struct cmd_def *parent,
                            const struct lathist *h)
{
    char name[128];
    full_name(name, sizeof(name), d, parent);
    int64_t usec[LATHIST_LEVELS];
    uint64_t cum[LATHIST_LEVELS];
    int n = lathist_cdf(h, usec, cum);
    reply_bulk_cstr(r, name);
    reply_map(r, 2);
    reply_bulk_cstr(r, "calls");
    reply_int(r, (long long)h->total);
    reply_bulk_cstr(r, "histogram_usec");
    reply_map(r, n);
    for (int k = 0; k < n; k++) {
        reply_int(r, usec[k]);
        reply_int(r, (long long)cum[k]);
    }
}

/* A command and, for a container, its subcommands: those with a histogram. */
static int histogram_command(struct reply *r, const struct cmd_def *d, const struct cmd_def *parent,
                             struct lathist *h, bool count_only)
{
    int n = 0;
    if (d->fn != NULL && merge_hist(d, h)) {
        if (!count_only)
            histogram_entry(r, d, parent, h);
        n++;
    }
    for (const struct cmd_def *sub = d->subs; sub != NULL && sub->name != NULL; sub++)
        n += histogram_command(r, sub, d, h, count_only);
    return n;
}

void node_latency_histogram(struct reply *r, int n, const struct resp_arg *names)
{
    struct lathist *h = mem_alloc(sizeof(*h));
    /* Two passes, counting then replying: the reply's map length comes first. */
    for (int pass = 0; pass < 2; pass++) {
        int entries = 0;
        if (n == 0) {
            for (const struct cmd_def *d = cmd_table; d->name != NULL; d++)
                entries += histogram_command(r, d, NULL, h, pass == 0);
        } else {
            for (int k = 0; k < n; k++) {
                const struct cmd_def *parent = NULL;
                const struct cmd_def *d = cmd_lookup_full(names[k].ptr, names[k].len, &parent);
                if (d != NULL)
                    entries += histogram_command(r, d, parent, h, pass == 0);
            }
        }
        if (pass == 0)
            reply_map(r, entries);
    }
    mem_free(h);
}

/* "%f" without trailing zeros (and without the point when nothing follows it), as Redis
 * names a percentile in INFO and shows it in CONFIG GET. */
static void percentile_name(double p, char *buf, size_t cap)
{
    int len = snprintf(buf, cap, "%f", p);
    if (strchr(buf, '.') == NULL)
        return;
    while (len > 0 && buf[len - 1] == '0')
        buf[--len] = '\0';
    if (len > 0 && buf[len - 1] == '.')
        buf[--len] = '\0';
}

void latency_percentiles_string(const char *v, char *out, size_t cap)
{
    double pct[LATENCY_MAX_PERCENTILES];
    const char *why;
    int n = latency_parse_percentiles(v, pct, &why);
    size_t len = 0;
    out[0] = '\0';
    for (int j = 0; j < n; j++) {
        char name[48];
        percentile_name(pct[j], name, sizeof(name));
        int w = snprintf(out + len, cap - len, "%s%s", j > 0 ? " " : "", name);
        if (w < 0 || (size_t)w >= cap - len)
            break;
        len += (size_t)w;
    }
}

/* INFO latencystats: a line per command that has a histogram, Redis's format. */
void latency_info(struct strbuf *s)
{
    const struct server_params *p = &server.workers[0]->params.srv;
    double pct[LATENCY_MAX_PERCENTILES];
    const char *why;
    int npct = latency_parse_percentiles(p->latency_tracking_info_percentiles, pct, &why);
    char names[LATENCY_MAX_PERCENTILES][48];
    for (int j = 0; j < npct; j++)
        percentile_name(pct[j], names[j], sizeof(names[j]));
    strbuf_printf(s, "# Latencystats\r\n");
    if (!p->latency_tracking)
        return; /* as Redis: the histograms stay (LATENCY HISTOGRAM), INFO hides them */
    struct lathist *h = mem_alloc(sizeof(*h));
    for (const struct cmd_def *d = cmd_table; d->name != NULL; d++) {
        for (const struct cmd_def *sub = d; sub != NULL && sub->name != NULL;
             sub = sub == d ? d->subs : sub + 1) {
            if (sub->fn == NULL || !merge_hist(sub, h))
                continue;
            char name[128];
            full_name(name, sizeof(name), sub, sub == d ? NULL : d);
            strbuf_printf(s, "latency_percentiles_usec_%s:", name);
            for (int j = 0; j < npct; j++)
                strbuf_printf(s, "p%s=%.3f%s", names[j],
                              (double)lathist_percentile(h, pct[j]) / 1000.0,
                              j + 1 < npct ? "," : "");
            strbuf_printf(s, "\r\n");
        }
    }
    mem_free(h);
}
