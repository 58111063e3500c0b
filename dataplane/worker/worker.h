/*
 * Workers: one pinned thread per core, each a run-to-completion polling loop
 * that owns a listener, its connections and one shard of the keyspace.
 *
 * One pass of the loop: read the clock, poll the network, parse and execute
 * or forward, drain the inbound rings, run due timers, flush output.
 * Workers never block and take no lock on the request path; they talk only
 * through the shard mesh (shard/shard.h).
 */
#ifndef POLLUX_WORKER_H
#define POLLUX_WORKER_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cmd/cmd.h"
#include "base/common.h"
#include "worker/config.h"
#include "worker/latency.h"
#include "base/netio.h"
#include "worker/block.h"
#include "worker/channels.h"
#include "worker/monitor.h"
#include "worker/tracking.h"
#include "worker/watch.h"
#include "replication/rdb.h"
#include "replication/repl.h"
#include "shard/shard.h"
#include "store/store.h"

struct conn;
struct server;
struct net_stack;
struct script_engine;
struct pktio_fault;
struct tls_ctx;

/* Counters of one worker; INFO sums them over workers. */
/* errorstats: replies counted by their error code ("ERR", "WRONGTYPE", ...) */
#define ERRORSTATS_MAX 32

struct error_stat {
    char code[24];
    uint64_t count;
};

/*
 * The counters of one worker, one row each: X(field, INFO name, INFO section,
 * kind). The rows make struct worker_stats (uint64_t fields in this order) and
 * worker_stat_defs; INFO sums every field over the workers and prints the rows
 * of a section in table order, so a section's rows are listed in the order its
 * INFO lines appear (the lines between them that are not worker counters are
 * printed by info.c). The INFO name is NULL for a counter INFO does not total.
 *   WSTAT_COUNT  printed as summed
 *   WSTAT_USEC   kept in nanoseconds, printed in microseconds
 */
#define WORKER_STATS(X)                                                                            \
    X(connections, "total_connections_received", WSTAT_STATS, WSTAT_COUNT)                         \
    X(commands, "total_commands_processed", WSTAT_STATS, WSTAT_COUNT)                              \
    X(net_input_bytes, "total_net_input_bytes", WSTAT_STATS, WSTAT_COUNT)                          \
    X(net_output_bytes, "total_net_output_bytes", WSTAT_STATS, WSTAT_COUNT)                        \
    X(rejected_conn, "rejected_connections", WSTAT_STATS, WSTAT_COUNT)                             \
    X(unexpected_error_replies, "unexpected_error_replies", WSTAT_STATS, WSTAT_COUNT)              \
    X(error_replies, "total_error_replies", WSTAT_STATS, WSTAT_COUNT)                              \
    X(reads, "total_reads_processed", WSTAT_STATS, WSTAT_COUNT)                                    \
    X(writes, "total_writes_processed", WSTAT_STATS, WSTAT_COUNT)                                  \
    X(rejected_sources, "pollux_rejected_sources", WSTAT_STATS, WSTAT_COUNT)                       \
    X(forwarded, "pollux_forwarded_requests", WSTAT_POLLUX, WSTAT_COUNT)                           \
    X(transactions, "pollux_transactions", WSTAT_POLLUX, WSTAT_COUNT)                              \
    X(loop_passes, "pollux_loop_passes", WSTAT_POLLUX, WSTAT_COUNT)                                \
    X(busy_passes, "pollux_busy_passes", WSTAT_POLLUX, WSTAT_COUNT)                                \
    X(busy_ns, "pollux_busy_usec", WSTAT_POLLUX, WSTAT_USEC)                                       \
    X(forwarded_in, NULL, WSTAT_NONE, WSTAT_COUNT)                                                 \
    X(client_qbuf_limit_disconnections, NULL, WSTAT_NONE, WSTAT_COUNT)

/*
 * What the rows mean: connections and commands accepted and run by this worker;
 * bytes and read/writev calls on its client sockets; error replies (by code in
 * errorstats); forwarded: requests sent to another shard, forwarded_in: run
 * here for another shard (both shown per worker in INFO pollux); transactions:
 * multi-shard transactions coordinated; loop_passes, busy_passes: passes of the
 * loop and those that found work, busy_ns the time spent in the latter (the
 * worker's load, busy-polling or not).
 */
enum worker_stat_section { WSTAT_NONE, WSTAT_STATS, WSTAT_POLLUX };
enum worker_stat_kind { WSTAT_COUNT, WSTAT_USEC };

enum worker_stat_id {
#define WORKER_STAT_ID(field, name, section, kind) WSTAT_##field,
    WORKER_STATS(WORKER_STAT_ID)
#undef WORKER_STAT_ID
        WSTAT_N
};

struct worker_stats {
#define WORKER_STAT_FIELD(field, name, section, kind) uint64_t field;
    WORKER_STATS(WORKER_STAT_FIELD)
#undef WORKER_STAT_FIELD
}; /* only uint64_t counters, in table order: INFO sums them word by word */

struct worker_stat_def {
    const char *name; /* INFO field, NULL: not totalled in INFO */
    enum worker_stat_section section;
    enum worker_stat_kind kind;
};

extern const struct worker_stat_def worker_stat_defs[WSTAT_N];

struct error_stats {
    unsigned n; /* used rows; codes beyond the table are not itemised */
    struct error_stat row[ERRORSTATS_MAX];
};

struct cmd_stat {
    uint64_t calls, usec_cycles, rejected, failed;
};

struct slowlog_entry {
    uint64_t id;
    int64_t time_s;
    uint64_t usec;
    int argc; /* as stored (at most 32) */
    int argc_orig;
    char **argv;
    size_t *argl;
    char peer[64];
    char name[64];
};

/* A multi-shard transaction coordinated by this worker (one at a time). */
struct tx {
    struct conn *conn; /* NULL: no transaction */
    uint64_t need;     /* shards it must hold */
    uint64_t have;     /* shards held so far */
    unsigned next;     /* next shard to acquire, in increasing order */
    bool ready;        /* every shard held: execute */
    uint64_t seq;      /* transactions started by this worker, this one included */
};

struct worker {
    CACHE_ALIGNED unsigned id;
    struct server *srv;
    pthread_t thread;
    int cpu; /* -1: not pinned */
    atomic_bool stop;
    atomic_bool sleeping; /* waiting in the backend's poll: senders must kick evfd */

    /* time, read once per pass */
    uint64_t now_ns;
    int64_t now_ms;

    /* network */
    struct netio io; /* the network backend, chosen once (base/netio.h) */
    int evfd;        /* wake-up eventfd: the backend's poll returns when it is written */
    /* TLS: this worker's reference to the context (taken in worker_reload_params), and the
     * connections whose session holds input their last read had no room for (cio.c) */
    struct tls_ctx *tls;
    struct conn *tls_ready, *tls_ready_run;
    /* DPDK backend (worker_net.c, behind io): this worker's TCP/IP stack; NULL on the kernel one */
    struct net_stack *net;
    struct pktio_fault *net_fault; /* between the stack and the queue, when faults are on */

    /* parameters: this worker's own copy, reloaded by CONFIG SET */
    struct params params;
    unsigned params_generation;
    struct obuf_limit obuf[OBUF_CLASSES]; /* client-output-buffer-limit, parsed */
    struct cidr_list *allow;              /* pollux-allow-sources, parsed (NULL: everyone) */
    char *allow_text;                     /* ... from this text */

    /* the shard */
    struct store *store;
    struct shard_port port;
    struct shard_hold hold;
    struct tx tx;
    struct conn *tx_wait_head, *tx_wait_tail; /* connections queued for a transaction */

    /* connections */
    struct conn *conns; /* all live connections (doubly linked) */
    unsigned nconns;
    struct conn *flush_head; /* connections with output to write this pass */
    struct conn *zombies;    /* closed, waiting for forwarded replies */
    uint64_t next_cron_ns;
    uint64_t next_expire_ns;
    uint64_t idle_since_ns;
    uint64_t blocked_clients;
    /* clients blocked on keys: this worker's (worker/block.c), and this shard's table */
    struct waiter *waiters;
    uint64_t block_timeouts;
    struct waiter **tmo; /* those with a deadline, a min-heap on it (block.c) */
    uint32_t tmo_n, tmo_cap;
    int64_t block_sweep_ms;
    struct block_table block;
    struct watch_table watch;      /* this shard's watched keys (worker/watch.c) */
    struct pubsub pubsub;          /* this worker's clients' subscriptions (worker/channels.c) */
    struct monitors monitors;      /* this worker's MONITOR clients (worker/monitor.h) */
    struct track_worker trk;       /* client tracking: this shard's keys, queues (tracking.h) */
    struct conn *paused;           /* clients waiting for CLIENT PAUSE to end (pause.h) */
    bool expiry_paused;            /* ... and keys do not expire meanwhile */
    int notify_flags;              /* notify-keyspace-events, parsed (cmd/cmd.h NOTIFY_*) */
    struct script_engine *scripts; /* the Lua state, made at the first script (script.h) */
    bool busy_only; /* in a busy pass: requests are answered BUSY, nothing runs (script.h) */

    /* statistics */
    struct worker_stats stats;
    struct error_stats errstats;
    struct cmd_stat *cmdstats;     /* indexed by cmd_def.id */
    struct slowlog_entry *slowlog; /* ring of slowlog_max_len entries, newest at slowlog_head */
    unsigned slowlog_cap, slowlog_len, slowlog_head;
    struct latency latency; /* LATENCY's event series and the command histograms */
    uint64_t ops_sample_time_ns, ops_sample_count;
    uint64_t ops_samples[16];
    unsigned ops_sample_idx;
    uint64_t in_sample, out_sample;
    uint64_t in_samples[16], out_samples[16];

    /* replication */
    struct repl_worker repl;    /* replication's own state (repl.h); the worker keeps it only */
    struct conn *internal;      /* a connection of our own for holds nobody asked for */
    atomic_uint_fast64_t dirty; /* keyspace changes made here (saves, INFO) */
};

/*
 * This shard's share of maxmemory: what maxmemory leaves after the node's
 * overhead (sampled) and its traffic buffers (as they are now), split evenly.
 * 0 when maxmemory is not set.
 */
size_t worker_shard_limit(const struct worker *w);

/* Evict from store s (run or held here) down to `limit` bytes: store_evict, timed as an
 * eviction-cycle latency event wherever it runs (the cron, or before a request, as Redis). */
int worker_evict(struct worker *w, struct store *s, size_t limit);

/*
 * The main thread, every 100 ms: what the node uses besides the datasets and
 * the traffic buffers (the allocator's total, read first, minus every
 * store_used() and mem_traffic_total()), into server.mem_overhead. The new
 * sample counts, except after a dataset shrank: a sample taken while a shard
 * frees counts the bytes on their way out, so then the smaller of the last
 * two does. What rises fastest, the buffers of a burst of traffic, is not
 * sampled: worker_shard_limit counts it as it changes.
 */
void worker_sample_overhead(void);

/*
 * Whether a new client from addr (16 bytes, IPv4 mapped) may connect, by
 * pollux-allow-sources; a refusal is counted. Called once per connection
 * attempt, before anything is read from it.
 */
bool worker_source_allowed(struct worker *w, const uint8_t addr[16]);

/* Wake worker `id` if it sleeps in its poll (pollux-idle-sleep-us); any thread. */
void worker_wake(unsigned id);

/* Count an error reply: total_error_replies and its code's errorstats row. */
void worker_count_error(struct worker *w, const char *code);

/* Create worker `id` of srv (allocates its store, listeners opened later). */
struct worker *worker_create(struct server *srv, unsigned id, int cpu);
/* Open this worker's listeners on every bind address. @return 0 or -errno. */
int worker_listen(struct worker *w);
/* A forwarded request's reply is back on its client's worker: into the client's output, the
 * waiter attached when the command blocked (called by the loop; the unit tests call it too). */
void worker_on_reply(struct worker *w, struct shard_msg *m);
/* Start the thread. An unpinned worker (cpu -1) may run on `anywhere` (the process's CPUs
 * before the DPDK EAL pinned the main thread); NULL: wherever the main thread may. */
int worker_start(struct worker *w, const cpu_set_t *anywhere);
void worker_join(struct worker *w);

/*
 * Reload w's parameter copy from the master now: by w itself, or by the
 * coordinator of a transaction that holds every shard (CONFIG SET).
 */
void worker_reload_params(struct worker *w);

/*
 * Multi-shard transactions. worker_tx_begin queues c (blocked) for a
 * transaction over the shards in `need`; when every shard is held the
 * connection is processed again with w->tx.ready set, its command executes
 * against all held stores, and worker_tx_end releases them.
 */
void worker_tx_begin(struct worker *w, struct conn *c, uint64_t need);
void worker_tx_end(struct worker *w);
/* c is closing: drop it from the transaction queue. */
void worker_tx_forget(struct worker *w, struct conn *c);

/*
 * Teardown, after every worker thread has stopped, in this order across all
 * workers: worker_close_conns (a connection's output may point into messages),
 * worker_release_messages, then the mesh, then worker_destroy.
 */
void worker_close_conns(struct worker *w);
void worker_release_messages(struct worker *w);
void worker_destroy(struct worker *w);

/* The calling thread's worker, or NULL. */
struct worker *worker_self(void);
/*
 * While a script runs past busy-reply-threshold (from its Lua hook): one pass over the
 * connections, which are answered BUSY (the script's own is left alone), and their output.
 */
void worker_busy_pass(struct worker *w);

#endif
