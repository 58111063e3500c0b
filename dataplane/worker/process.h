/*
 * The node: its workers, their shards, the mesh between them and the
 * process-wide facts INFO reports. Written at start and at shutdown; during
 * operation workers read only immutable fields and atomics here.
 */
#ifndef POLLUX_PROCESS_H
#define POLLUX_PROCESS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cmd/cmd.h"
#include "shard/shard.h"
#include "worker/worker.h"

struct server {
    unsigned nworkers;
    struct worker *workers[MAX_WORKERS];
    struct store *stores[MAX_WORKERS]; /* stores[i] = workers[i]->store */
    struct shard_mesh mesh;

    char run_id[41];
    int64_t start_ms;
    uint64_t start_ns;
    int port; /* the port actually bound */
    const char *executable;
    const char *config_file;

    atomic_uint_fast64_t next_client_id;
    atomic_int clients; /* connected clients, all workers */
    atomic_bool shutdown;
    atomic_int shutdown_exit_code;
    atomic_int shutdown_save; /* SHUTDOWN SAVE (1) / NOSAVE (0); -1: per the save schedule */
    atomic_uint_fast64_t slowlog_next_id;
    atomic_int_fast64_t lastsave;
    /* used_memory minus every store's dataset (buffers, tables, the node itself),
     * sampled by the main thread (worker_sample_overhead); what maxmemory leaves for the
     * shards is the rest */
    atomic_size_t mem_overhead;
};

extern struct server server;

/* Request a clean shutdown (from any thread). */
void server_request_shutdown(int exit_code);

#endif
