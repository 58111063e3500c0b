/*
 * bench.h - shared definitions of pollux-bench: the run configuration, command templates,
 * per-thread results and the --verify value format.
 */
#ifndef POLLUX_BENCH_BENCH_H
#define POLLUX_BENCH_BENCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench/loadgen/hist.h"
#include "bench/loadgen/keygen.h"
#include "bench/loadgen/transport.h"

enum bench_protocol {
    BENCH_REDIS,
    BENCH_MEMCACHE,
};

/* One piece of a template argument: literal text, the key, or the value. */
enum bench_seg_kind {
    SEG_LIT,
    SEG_KEY,
    SEG_DATA,
};

struct bench_seg {
    enum bench_seg_kind kind;
    const char *lit;
    size_t len;
};

struct bench_arg {
    struct bench_seg *segs;
    int nsegs;
};

struct bench_template {
    const char *text;
    char *buf; /* the tokenised text the literal segments point into */
    struct bench_arg *args;
    int nargs;
    size_t lit_bytes; /* literal bytes, for sizing buffers */
    int nkeys, ndata; /* placeholder occurrences */
};

struct bench_config {
    const char *host;
    uint16_t port;
    int threads;
    int conns;
    int pipeline;
    uint64_t requests; /* 0 with duration > 0 */
    double duration;
    uint64_t keyspace;
    enum keygen_pattern key_pattern;
    double zipf_skew;
    int key_size;
    uint32_t value_min, value_max;
    unsigned ratio_set, ratio_get;
    struct bench_template *templates;
    int ntemplates;
    int subscribers;     /* per thread, each on a connection of its own (0: none) */
    const char *channel; /* what they subscribe to */
    int resp;
    enum bench_protocol protocol;
    const char *json_path;
    bool verify;
    uint64_t seed;
    bool quiet;
    const struct transport_ops *transport;
    struct transport_opts transport_opts; /* --dpdk-args, --dpdk-ip, --dpdk-gateway */
    uint32_t run_id; /* distinguishes this run's --verify values from older ones */
};

/* --verify: per key state; each key is touched by exactly one thread. */
struct verify_key {
    uint32_t issued; /* highest version sent */
    uint32_t acked;  /* highest version acknowledged */
    uint8_t set_inflight;
};

struct bench_stats {
    uint64_t completed; /* replies to measured requests */
    uint64_t sets, gets, hits, misses;
    uint64_t error_replies;
    uint64_t protocol_errors;
    uint64_t conn_errors;
    uint64_t unanswered;  /* still in flight when the drain timed out */
    uint64_t delivered;   /* --subscribers: messages received */
    uint64_t undelivered; /* messages published but missing at a subscriber at the end */
    uint64_t verify_checked, verify_mismatch;
    uint64_t bytes_out, bytes_in;
};

struct bench_thread {
    int index;
    const struct bench_config *cfg;
    struct verify_key *vkeys; /* shared array, this thread's slice only */
    uint64_t budget;          /* requests to issue (0: until the deadline) */
    uint64_t start_ns, end_ns;
    _Atomic uint64_t progress; /* completed, for the progress line */
    struct bench_stats st;
    struct hist hist;
    char errmsg[160];
};

/* worker.c */
void *bench_thread_main(void *arg);
/* All threads wait on this barrier after connecting, so the clock starts together. */
void bench_set_barrier(pthread_barrier_t *b);
extern _Atomic bool bench_stop;

/* Monotonic time in ns. */
uint64_t bench_now_ns(void);

/* Value header for --verify: "v1:<run>:<version>:<fnv16hex>:"; returns bytes written. */
#define VERIFY_HDR_MAX 48
size_t verify_header(char *dst, uint32_t run_id, uint64_t key, uint32_t version);
/*
 * Parse a value written by verify_header for key.  @return 0 and set *run, *version if the
 * header parses and its checksum matches, -1 otherwise.
 */
int verify_parse(const char *v, size_t len, uint64_t key, uint32_t *run, uint32_t *version);

#endif
