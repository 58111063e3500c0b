/*
 * Replication and persistence on the node: the role (primary or replica),
 * the replication ids and stream, the per-shard feeds and the merge thread,
 * full syncs and the snapshots behind them, SAVE/BGSAVE, and the link to a
 * primary. docs/replication.md describes the whole; replication/NOTES.md says
 * which file holds what.
 *
 * The interface with the worker. This header is everything the worker, dispatch
 * and the connection code call; host.h is everything replication uses of the
 * worker. The worker calls:
 *
 * - process: repl_setup / repl_start_thread / repl_teardown, repl_load_file,
 *   repl_save_now, repl_configure_replica (main.c, worker/process.c);
 * - the write stream, after a write ran on a shard: repl_after_write, or
 *   repl_collect_begin/_end around a multi-shard write or an EXEC block, and
 *   repl_store_removed from the store (expiry, eviction); repl_write_allowed
 *   before a write (read-only replica, min-replicas-to-write);
 * - the loop: repl_worker_pass every pass, repl_worker_cron every millisecond,
 *   repl_hold_ready when every shard is held for a connection that asked;
 * - connection events: a replica's connection writable (repl_replica_pending,
 *   repl_replica_write), a connection closed (repl_conn_closed), the link to a
 *   primary readable/writable (repl_link_event), a command of the link applied or
 *   forwarded (repl_link_applied, repl_link_forward_failed, repl_load_*), the link
 *   closed (repl_link_conn_closed);
 * - INFO replication/persistence (repl_info, repl_info_persistence,
 *   repl_info_stats, repl_dirty_total); ROLE, SAVE, BGSAVE, LASTSAVE, REPLCONF,
 *   PSYNC, SYNC, WAIT and REPLICAOF are rows of the command table (cmd/commands.table).
 *
 * The worker keeps replication's per-worker and per-connection state
 * (struct repl_worker, struct repl_conn) without reading it: it initialises and
 * releases it through repl_worker_init/_deinit and repl_conn_release.
 *
 * Threads. Workers produce: each appends what its shard executed to its own
 * feed and serialises its own snapshot. The merge thread ("pollux-repl")
 * turns the feeds into the stream, assembles RDBs and writes dump files.
 * The connections to replicas and to the primary live on workers like any
 * client, and write straight out of the shared stream blocks.
 */
#ifndef POLLUX_REPL_H
#define POLLUX_REPL_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "replication/feed.h"
#include "base/param.h"
#include "replication/rdb.h"
#include "store/store.h"
#include "replication/stream.h"

struct conn;
struct worker;
struct cmd_ctx;
struct strbuf;

extern const char *const repl_diskless_load_names[];

/* clang-format off */
#define REPL_PARAMS(X)                                                                             \
    X(replicaof, "replicaof", STRING, "", 0, 0, 0, NULL)                                           \
    X(masterauth, "masterauth", STRING, "", 0, 0, PARAM_MUTABLE | PARAM_SENSITIVE, NULL)           \
    X(masteruser, "masteruser", STRING, "", 0, 0, PARAM_MUTABLE, NULL)                             \
    X(repl_backlog_size, "repl-backlog-size", MEMORY, 1024 * 1024, 16384, LLONG_MAX,               \
      PARAM_MUTABLE, NULL)                                                                         \
    X(repl_backlog_ttl, "repl-backlog-ttl", INT, 3600, 0, INT_MAX, PARAM_MUTABLE, NULL)            \
    X(repl_timeout, "repl-timeout", INT, 60, 1, INT_MAX, PARAM_MUTABLE, NULL)                      \
    X(repl_ping_replica_period, "repl-ping-replica-period", INT, 10, 1, INT_MAX, PARAM_MUTABLE,    \
      NULL)                                                                                        \
    X(replica_read_only, "replica-read-only", BOOL, 1, 0, 1, PARAM_MUTABLE, NULL)                  \
    X(replica_serve_stale_data, "replica-serve-stale-data", BOOL, 1, 0, 1, PARAM_MUTABLE, NULL)    \
    X(replica_priority, "replica-priority", INT, 100, 0, INT_MAX, PARAM_MUTABLE, NULL)             \
    X(replica_announced, "replica-announced", BOOL, 1, 0, 1, PARAM_MUTABLE, NULL)                  \
    X(replica_ignore_maxmemory, "replica-ignore-maxmemory", BOOL, 1, 0, 1, PARAM_MUTABLE, NULL)    \
    X(replica_lazy_flush, "replica-lazy-flush", BOOL, 0, 0, 1, PARAM_MUTABLE, NULL)                \
    X(close_on_slave_write, "close-on-slave-write", BOOL, 0, 0, 1, PARAM_MUTABLE, NULL)            \
    X(min_replicas_to_write, "min-replicas-to-write", INT, 0, 0, INT_MAX, PARAM_MUTABLE, NULL)     \
    X(min_replicas_max_lag, "min-replicas-max-lag", INT, 10, 0, INT_MAX, PARAM_MUTABLE, NULL)      \
    X(repl_diskless_sync, "repl-diskless-sync", BOOL, 1, 0, 1, PARAM_MUTABLE, NULL)                \
    X(repl_diskless_sync_delay, "repl-diskless-sync-delay", INT, 0, 0, INT_MAX, PARAM_MUTABLE,     \
      NULL)                                                                                        \
    X(repl_diskless_load, "repl-diskless-load", ENUM, 0, 0, 0, PARAM_MUTABLE,                      \
      repl_diskless_load_names)                                                                    \
    X(repl_disable_tcp_nodelay, "repl-disable-tcp-nodelay", BOOL, 0, 0, 1, PARAM_MUTABLE, NULL)    \
    X(rdbcompression, "rdbcompression", BOOL, 1, 0, 1, PARAM_MUTABLE, NULL)                        \
    X(rdbchecksum, "rdbchecksum", BOOL, 1, 0, 1, PARAM_MUTABLE, NULL)
/* clang-format on */

PARAM_STRUCT(repl_params, REPL_PARAMS);
extern const struct param_def repl_param_defs[];

enum repl_role { REPL_PRIMARY = 0, REPL_REPLICA };

/* Where a replica's connection is in its life on the primary. */
enum repl_rstate {
    RSTATE_WAIT_SYNC = 0, /* wants a full sync; waits for a snapshot to start */
    RSTATE_WAIT_OFFSET,   /* snapshot started; +FULLRESYNC goes out when its offset is known */
    RSTATE_SEND_RDB,      /* streaming the RDB */
    RSTATE_ONLINE,        /* streaming the replication stream */
};

/*
 * A full sync in progress: one snapshot of every shard, assembled into one
 * RDB by the merge thread, for replicas and/or a dump file.
 */
struct repl_sync {
    uint64_t id;
    struct repl_stream rdb; /* the RDB bytes, when replicas read it */
    bool for_replicas;
    char *path; /* dump file being written (BGSAVE, SAVE, schedule), or NULL */
    atomic_bool offset_known;
    atomic_uint_fast64_t offset; /* stream position the snapshot stands for */
    atomic_bool done;            /* the RDB is complete (or failed) */
    atomic_bool failed;
    atomic_int readers;    /* replicas still reading rdb */
    atomic_bool throttle;  /* shards pause serialising: readers are behind */
    atomic_bool abandoned; /* a replicas' snapshot whose last reader left: shards stop */
    atomic_bool keep_all;  /* a legacy reader needs the whole RDB kept until it is complete */
    /* merge thread only */
    struct rdb_writer wr;
    struct rdb_buf buf;
    int db;
    unsigned shards_done;
    void *file;           /* FILE * */
    uint64_t dirty_start; /* changes made before the snapshot began */
    uint64_t keys;
    int64_t start_ms;
};

/* A replica as the primary sees it (INFO, ROLE, WAIT); owned by its worker. */
struct repl_replica {
    struct repl_replica *next; /* node registry, under repl_node.lock */
    uint64_t id;
    char ip[64];
    int port; /* REPLCONF listening-port */
    atomic_int state;
    atomic_uint_fast64_t ack;        /* offset it acknowledged */
    atomic_int_fast64_t ack_time_ms; /* when */
    bool eof_capa;
    bool legacy; /* SYNC: no +FULLRESYNC line, the RDB's length first */
    /* After an $EOF: transfer the stream waits for the replica's first ACK, as Redis's
     * primary does: a replica looks for the mark at the end of what one read returned, and
     * misses it when the stream's first bytes arrive in the same read. Owner worker only. */
    bool stream_on_ack;
    unsigned kick_gen;
    int64_t soft_since_ms; /* above the soft output limit since (0: not) */
    /* owner worker only */
    struct conn *conn;
    struct repl_sync *sync;
    struct repl_cursor rdb_cur, stream_cur;
    uint64_t start; /* stream position it continues from */
    char mark[41];  /* $EOF: marker of a diskless transfer */
};

/* The per-shard producer side: feed, snapshot buffer. */
struct repl_shard {
    struct repl_feed feed;
    struct rdb_buf snapbuf;   /* serialized entries not yet in the feed */
    int snapdb;               /* database of snapbuf's entries */
    struct coll_snap *nested; /* big collections written a slice at a time (cmd/coll.h) */
    bool snapping;            /* the store's snapshot is ours and not finished */
    uint64_t snap_id;
    struct rdb_encode_opts enc;
    int64_t now_ms;                /* skip entries expired at this time */
    atomic_uint_fast64_t appended; /* records reserved (WAIT) */
};

struct repl_node {
    unsigned nworkers;    /* workers, one shard each (repl_setup) */
    pthread_mutex_t lock; /* ids, registry, sync, link target */
    atomic_int role;
    char replid[41], replid2[41];
    long long second_offset; /* -1: no replid2 */
    struct repl_stream stream;
    atomic_bool backlog_active;
    atomic_bool feeding; /* shards append to their feeds (changed under a full hold) */
    struct repl_shard shards[64];
    atomic_uint_fast64_t merged[64]; /* records the merge consumed, per shard */
    struct repl_replica *replicas;
    atomic_int nreplicas;
    atomic_int good_replicas;         /* acknowledged within min-replicas-max-lag */
    _Atomic(struct repl_sync *) sync; /* the snapshot running, or NULL */
    uint64_t next_sync_id;
    atomic_bool getack;            /* a WAIT wants fresh acknowledgements */
    atomic_uint_fast64_t data_end; /* stream end after the last merged writes (WAIT) */
    atomic_bool reselect;          /* promoted: the next command on the stream selects its db */
    atomic_uint kick_gen;          /* bumped to close every replica connection (new history) */
    int64_t no_replicas_since_ms;

    /* the link to a primary (REPLICAOF) */
    char master_host[256];
    int master_port;
    atomic_uint master_gen; /* bumped by every REPLICAOF */
    atomic_int link_state;  /* enum repl_link_state, for INFO/ROLE */
    atomic_int_fast64_t master_last_io_ms;
    atomic_uint_fast64_t master_read_offset;    /* bytes received of the stream */
    atomic_uint_fast64_t master_applied_offset; /* bytes applied */
    atomic_bool loading;
    atomic_int_fast64_t link_down_since_ms;
    atomic_uint_fast64_t sync_read_bytes, sync_total_bytes;
    atomic_uint_fast64_t apply_errors; /* commands of the primary that failed (INFO) */
    char apply_error[256];             /* the last one, "<command> <error>" (under lock) */

    /* statistics */
    atomic_uint_fast64_t sync_full, sync_partial_ok, sync_partial_err;
    atomic_uint_fast64_t repl_in_bytes, repl_out_bytes;
    atomic_uint_fast64_t dirty_saved; /* sum of workers' dirty counters at the last save */
    atomic_bool bgsave_scheduled;
    atomic_int_fast64_t lastsave;
    atomic_int bgsave_status; /* 0 ok, -1 err */
    atomic_bool bgsave_running;
    atomic_int_fast64_t last_bgsave_secs;
    atomic_uint_fast64_t rdb_saves;
    atomic_uint_fast64_t load_keys, load_expired;

    pthread_t thread;
    atomic_bool stop;
    int merge_evfd;             /* the merge thread sleeps on it */
    atomic_bool merge_sleeping; /* ... and says so */
    struct repl_merge merge;
    struct repl_feed *feedp[64];
};

extern struct repl_node repl_node;

/* The primary's host (into host[cap]) and port, as REPLICAOF last set them. */
void repl_master_addr(char *host, size_t cap, int *port);

enum repl_link_state {
    LINK_NONE = 0,   /* not a replica */
    LINK_CONNECT,    /* must connect */
    LINK_CONNECTING, /* handshake */
    LINK_SYNC,       /* receiving the RDB */
    LINK_CONNECTED,  /* streaming */
};

/* Replication's state on one worker (struct worker's `repl`). */
struct repl_worker {
    unsigned id;            /* the worker's index, its shard's (set by repl_setup) */
    bool collecting;        /* a multi-shard write or EXEC block is running */
    struct rdb_buf collect; /* its commands */
    unsigned collected;     /* ... how many */
    uint64_t txseq;
    struct conn *replica_conns; /* connections of replicas on this worker */
    int64_t save_check_s;       /* the save schedule was last checked (seconds) */
};
void repl_worker_init(struct repl_worker *rw);
void repl_worker_deinit(struct repl_worker *rw);

/* Replication's state on a client connection (struct conn's `repl`). */
struct repl_conn {
    struct conn *replica_next; /* repl_worker.replica_conns */
    int port;                  /* REPLCONF listening-port */
    bool capa_eof, capa_psync2;
    char ip[64];                 /* REPLCONF ip-address */
    struct repl_sync *save_sync; /* SAVE/BGSAVE waiting on this snapshot */
    bool save_reply_at_start;    /* BGSAVE: answer once the snapshot started */
    bool save_failed;            /* SAVE: how its snapshot ended, kept until it is retired */
    const void *save_retiring;   /* SAVE: the finished snapshot, compared only, never read */
    uint64_t *wait_want;         /* WAIT: feed records that must be merged first (per shard) */
    uint64_t wait_offset;        /* WAIT: stream position replicas must acknowledge */
    int wait_numreplicas;
    uint8_t wait_stage;        /* 0 wait for forwards, 1 for the merge, 2 for acks */
    int64_t block_deadline_ms; /* WAIT: reply when reached (0 = forever) */
};
/* The connection is destroyed: free what its state holds. */
void repl_conn_release(struct repl_conn *rc);
/* A connection closes: drop its replica record, or its hold on the snapshot of its SAVE. */
void repl_conn_closed(struct conn *c);

/* Start (after workers exist) and stop (after they stopped) the node's replication state. */
int repl_setup(unsigned nworkers, const struct repl_params *p);
void repl_start_thread(void);
void repl_teardown(void);

/* ---- the write path (dispatch.c) ---- */

/*
 * After a write command executed with changes on shard `shard`: append what
 * replicas must apply. Handlers that rewrite themselves (relative expiries,
 * INCRBYFLOAT, GETDEL) call ctx->propagate instead; this appends the command
 * as it came otherwise.
 */
void repl_after_write(struct repl_worker *rw, struct cmd_ctx *ctx);
/* The propagate callback for handlers when the node feeds replicas, else NULL. */
void *repl_propagate_fn(void);
/* A multi-shard write (or an EXEC block) collects its commands... */
void repl_collect_begin(struct repl_worker *rw);
/*
 * ...and writes them as one MULTI record with a part for every held shard, between MULTI
 * and EXEC always (an EXEC block), when there are several commands (a script's effects),
 * or never (a multi-key command).
 */
enum { REPL_WRAP_NEVER, REPL_WRAP_ALWAYS, REPL_WRAP_SEVERAL };
void repl_collect_end(struct repl_worker *rw, uint64_t shards, int wrap);
/* A replica that refuses writes (replica-read-only): scripts check before their writes. */
bool repl_replica_refuses_writes(const struct repl_params *p);
/* The store removed a key itself (expiry, eviction): replicas delete it too. */
void repl_store_removed(void *arg, int db, const struct kv *e, bool evicted);

/* ---- the worker loop ---- */

/* Every pass: snapshot slice, feed flush, replica output, loading a sync.
 * @return non-zero when it did work (a worker that snapshots or loads is not idle). */
unsigned repl_worker_pass(struct worker *w, unsigned busy);
/* Every millisecond: waiting replicas, WAIT, sync starts, the link to a primary (worker 0). */
void repl_worker_cron(struct worker *w);
/* Holding every shard for c: start the full sync (or BGSAVE) c asked for. */
void repl_hold_ready(struct worker *w, struct conn *c);

/* ---- INFO, ROLE, refusals (node_cmd.c, node.c) ---- */
struct cmd_def;
void repl_info(struct strbuf *s);
void repl_info_persistence(struct strbuf *s);
void repl_info_stats(uint64_t *full, uint64_t *ok, uint64_t *err, uint64_t *in, uint64_t *out);
/*
 * Refuse a write on a replica / with too few replicas, for a client other than the
 * link to a primary; p is the worker's copy of the parameters (no call to read them:
 * this runs for every command). @return false when refused (reply written).
 */
bool repl_write_allowed(struct conn *c, const struct cmd_def *d, const struct repl_params *p);
/* The link to a primary (replica.c), for the worker loop and the connection code. */
struct shard_msg;
void repl_link_event(struct worker *w, struct conn *c, uint32_t events);
/* Where a command's reply starts in the link's output, and the errors written before it. */
struct rblock;
struct repl_apply_mark {
    struct rblock *tail; /* the output's tail block before the command, or NULL */
    uint32_t tail_len;   /* its length then */
    uint32_t errors;     /* the output's error count then */
    uint64_t commands;   /* the worker's executed commands then */
};
/*
 * A command of the stream ran on the link (bytes p, n). @return 0 when it applied (it joins
 * this node's stream), -1 when it failed: counted, logged, and the link closes.
 */
int repl_link_applied(struct conn *c, const char *p, size_t n, const struct repl_apply_mark *m);
/* A command of the stream forwarded to another shard came back with an error. */
void repl_link_forward_failed(struct conn *c, struct shard_msg *m);
void repl_link_conn_closed(struct conn *c);
void repl_load_apply(struct worker *w, struct shard_msg *m);
void repl_load_returned(struct worker *w, struct shard_msg *m);
/* At start: `replicaof host port` from the configuration. */
void repl_configure_replica(const char *spec);
/* Load dbfilename at start (before workers run). @return 0, or -1 (message logged). */
int repl_load_file(const char *path);
/* Write dbfilename synchronously (shutdown, workers stopped). @return 0 or -1. */
int repl_save_now(const char *path);
/* Output of a replica's connection (conn.c). */
int repl_replica_write(struct conn *c);
bool repl_replica_pending(struct conn *c);

/* Keyspace changes made since the start, over all workers. */
uint64_t repl_dirty_total(void);

#endif
