/*
 * Cross-shard forwarding (dataplane/shard): a request from worker A's port to
 * worker B and its reply back, through a two-worker mesh, on two threads.
 *
 * Thread 0 is A: it takes a message from its pool, copies a GET's arguments
 * in (shard_msg_set_args), sends it, and spins on shard_poll until the reply
 * returns, then recycles the message. Thread 1 is B: it polls, writes a 32-byte
 * bulk reply into the message's embedded block and sends it back. No command
 * runs; this is the cost the mesh adds to a forwarded command. Items: round
 * trips (the runner gives both threads the same iteration count).
 */
#include <pthread.h>
#include <stdint.h>

#include "bench/micro/microbench.h"
#include "shard/shard.h"

static struct shard_mesh mesh;
static struct shard_port ports[2]; /* ports[i] is used by thread i only */
static pthread_once_t mesh_once = PTHREAD_ONCE_INIT;
static int mesh_rc = -1;

static void mesh_create(void)
{
    mesh_rc = shard_mesh_init(&mesh, 2);
}

static struct shard_msg *poll_one(struct shard_port *p)
{
    struct shard_msg *m;
    while (shard_poll(p, &m, 1) == 0)
        bench_cpu_relax();
    return m;
}

BENCH_DEFINE(shard_forward_roundtrip, .threads = 2)
{
    pthread_once(&mesh_once, mesh_create);
    if (mesh_rc != 0) {
        bench_skip(st, "shard_mesh_init failed");
        return;
    }
    int me = bench_thread_index(st);
    struct shard_port *p = &ports[me];
    shard_port_init(p, &mesh, (unsigned)me);
    if (me == 0) {
        char cmd[] = "GET", key[] = "key:0000012345";
        struct resp_arg argv[2] = { { cmd, 3 }, { key, 14 } };
        uint64_t bad = 0;
        while (bench_keep_running(st)) {
            struct shard_msg *m = shard_msg_get(p);
            m->type = SHARD_REQ;
            m->proto = 2;
            m->db = 0;
            shard_msg_set_args(m, 2, argv);
            shard_send(p, 1, m);
            struct shard_msg *r = poll_one(p);
            bad += r->type != SHARD_REPLY || r->reply.bytes != 39;
            shard_msg_put(p, r);
        }
        if (bad != 0)
            bench_skip(st, "bad reply");
        bench_set_items(st, bench_iterations(st));
    } else {
        static const char val[32] = "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv";
        while (bench_keep_running(st)) {
            struct shard_msg *m = poll_one(p);
            shard_msg_reply_init(m);
            reply_bulk(&m->reply, val, sizeof(val));
            m->type = SHARD_REPLY;
            shard_send(p, m->src, m);
        }
    }
    shard_port_deinit(p);
}
