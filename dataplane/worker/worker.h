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
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cmd.h"
#include "common.h"
#include "config.h"
#include "rdb.h"
#include "shard.h"
#include "store.h"

struct conn;
struct server;
struct net_stack;
struct net_sock;
struct pktio_fault;
struct tls_ctx;

#define WORKER_MAX_LISTENERS 16

/* Counters of one worker; INFO sums them over workers. */
/* errorstats: replies counted by their error code ("ERR", "WRONGTYPE", ...) */
#define ERRORSTATS_MAX 32

struct error_stat {
    char code[24];
    uint64_t count;
};

struct worker_stats {
    uint64_t commands;         /* total_commands_processed */
    uint64_t connections;      /* total_connections_received */
    uint64_t rejected_conn;    /* rejected_connections */
    uint64_t net_input_bytes;  /* total_net_input_bytes */
    uint64_t net_output_bytes; /* total_net_output_bytes */
    uint64_t error_replies;    /* total_error_replies */
    uint64_t forwarded;        /* requests sent to another shard */
    uint64_t forwarded_in;     /* requests executed for another shard */
    uint64_t transactions;     /* multi-shard transactions coordinated */
    uint64_t client_qbuf_limit_disconnections;
    uint64_t unexpected_error_replies;
    uint64_t reads;       /* total_reads_processed: read calls on client sockets */
    uint64_t writes;      /* total_writes_processed: writev calls on client sockets */
    uint64_t loop_passes; /* passes of the worker loop (INFO pollux) */
    uint64_t busy_passes; /* ... of which found work */
    uint64_t busy_ns;     /* time spent in those: the worker's load, busy-polling or not */
};                        /* only uint64_t counters: INFO sums them word by word */

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
    atomic_bool sleeping; /* blocked in epoll_wait: senders must kick evfd */

    /* time, read once per pass */
    uint64_t now_ns;
    int64_t now_ms;

    /* network */
    int epfd;
    int evfd;
    int lfds[WORKER_MAX_LISTENERS];
    int nlfds;
    uint32_t lfds_tls; /* bit i: lfds[i] is the tls-port */
    /* TLS: this worker's reference to the context (taken in worker_reload_params), and the
     * connections whose session holds input their last read had no room for (cio.c) */
    struct tls_ctx *tls;
    struct conn *tls_ready, *tls_ready_run;
    /* DPDK backend (worker_net.c): this worker's TCP/IP stack; NULL on the kernel backend */
    struct net_stack *net;
    struct pktio_fault *net_fault; /* between the stack and the queue, when faults are on */
    struct net_sock *nls[WORKER_MAX_LISTENERS];
    unsigned nnls;
    uint32_t nls_tls; /* bit i: nls[i] is the tls-port */

    /* parameters: this worker's own copy, reloaded by CONFIG SET */
    struct params params;
    unsigned params_generation;
    struct obuf_limit obuf[OBUF_CLASSES]; /* client-output-buffer-limit, parsed */

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

    /* statistics */
    struct worker_stats stats;
    struct error_stats errstats;
    struct cmd_stat *cmdstats;     /* indexed by cmd_def.id */
    struct slowlog_entry *slowlog; /* ring of slowlog_max_len entries, newest at slowlog_head */
    unsigned slowlog_cap, slowlog_len, slowlog_head;
    uint64_t ops_sample_time_ns, ops_sample_count;
    uint64_t ops_samples[16];
    unsigned ops_sample_idx;
    uint64_t in_sample, out_sample;
    uint64_t in_samples[16], out_samples[16];

    /* replication (repl.c) */
    bool repl_collecting;        /* a multi-shard write or EXEC block is running */
    struct rdb_buf repl_collect; /* its commands */
    uint64_t repl_txseq;
    struct conn *replica_conns; /* connections of replicas on this worker */
    struct conn *internal;      /* a connection of our own for holds nobody asked for */
    int64_t repl_save_check_s;
    atomic_uint_fast64_t dirty; /* keyspace changes made here (saves, INFO) */
};

/*
 * This shard's share of maxmemory: what maxmemory leaves after the node's
 * overhead, split evenly. 0 when maxmemory is not set.
 */
size_t worker_shard_limit(const struct worker *w);

/*
 * The main thread, every 100 ms: what the node uses besides the datasets
 * (the allocator's total, read first, minus every store_used()), into
 * server.mem_overhead. The latest sample counts: the smallest of a second
 * hid overhead that had just grown (a first burst of traffic), and samples
 * are consistent, so none is an outlier to filter out.
 */
void worker_sample_overhead(void);

/* Wake worker `id` if it sleeps in its poll (pollux-idle-sleep-us); any thread. */
void worker_wake(unsigned id);

/* Count an error reply: total_error_replies and its code's errorstats row. */
void worker_count_error(struct worker *w, const char *code);

/* Create worker `id` of srv (allocates its store, listeners opened later). */
struct worker *worker_create(struct server *srv, unsigned id, int cpu);
/* Open this worker's listeners on every bind address. @return 0 or -errno. */
int worker_listen(struct worker *w);
int worker_start(struct worker *w);
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

#endif
