/*
 * What the node side of replication uses of the worker (replication/host.h):
 * the connection and worker handles it holds are the worker's own structs,
 * read and changed only here.
 */
#include "replication/host.h"

#include "acl/acl.h"
#include "worker/cio.h"
#include "worker/config.h"
#include "worker/conn.h"
#include "replication/repl.h"
#include "worker/process.h"
#include "worker/script.h"
#include "worker/worker.h"

_Static_assert(HOST_IN == CIO_IN && HOST_OUT == CIO_OUT, "repl_link_event gets cio's events");

void host_config_read(void (*fn)(const struct repl_params *p, void *arg), void *arg)
{
    pthread_mutex_lock(&config.lock);
    fn(&config.p.repl, arg);
    pthread_mutex_unlock(&config.lock);
}

struct worker *host_worker(unsigned i)
{
    return server.workers[i];
}

struct store *host_store(unsigned i)
{
    return server.stores[i];
}

struct worker *host_worker_self(void)
{
    return worker_self();
}

void host_worker_wake(unsigned i)
{
    worker_wake(i);
}

int host_port(void)
{
    return server.port;
}

unsigned host_worker_id(const struct worker *w)
{
    return w->id;
}

int64_t host_now_ms(const struct worker *w)
{
    return w->now_ms;
}

struct store *host_worker_store(struct worker *w)
{
    return w->store;
}

void host_key_removed(int db, const struct kv *e, bool evicted)
{
    struct worker *w = worker_self();
    if (w == NULL)
        return;
    size_t len;
    const char *key = kv_key(e, &len);
    if (tracking_any())
        tracking_removed(w, key, len);
    if (w->notify_flags != 0)
        pubsub_notify(w, evicted ? NOTIFY_EVICTED : NOTIFY_EXPIRED, evicted ? "evicted" : "expired",
                      db, key, len);
}

void host_worker_replacing(struct worker *w)
{
    watch_replace(w->id, w->now_ms);
    if (tracking_any())
        tracking_replaced(w, w->id);
}

struct shard_port *host_worker_shard_port(struct worker *w)
{
    return &w->port;
}

struct repl_worker *host_worker_repl(struct worker *w)
{
    return &w->repl;
}

const struct repl_params *host_repl_params(const struct worker *w)
{
    return &w->params.repl;
}

const struct coll_params *host_coll_params(const struct worker *w)
{
    return &w->params.coll;
}

const char *host_param_dbfilename(const struct worker *w)
{
    return w->params.srv.dbfilename;
}

const char *host_param_save(const struct worker *w)
{
    return w->params.srv.save;
}

void host_functions_dump(struct rdb_buf *b)
{
    function_dump(b);
}

int host_function_load(void *arg, const char *code, size_t len)
{
    return function_load_rdb(arg, code, len);
}

void host_functions_flush(void)
{
    function_flush();
}

long long host_param_max_bulk_len(const struct worker *w)
{
    return w->params.srv.proto_max_bulk_len;
}

bool host_param_lazyfree(const struct worker *w, bool evicted)
{
    return evicted ? w->params.store.lazyfree_lazy_eviction : w->params.store.lazyfree_lazy_expire;
}

bool host_tls_replication(const struct worker *w)
{
    return w->params.tls.replication != 0;
}

int host_tls_port(const struct worker *w)
{
    return (int)w->params.tls.port;
}

void host_replica_obuf_limit(const struct worker *w, struct host_obuf_limit *lim)
{
    const struct obuf_limit *l = &w->obuf[OBUF_REPLICA];
    lim->hard = l->hard;
    lim->soft = l->soft;
    lim->soft_seconds = l->soft_seconds;
}

void host_worker_count_write(struct worker *w, uint64_t bytes)
{
    w->stats.writes++;
    w->stats.net_output_bytes += bytes;
}

uint64_t host_worker_commands(const struct worker *w)
{
    return w->stats.commands;
}

uint64_t host_worker_dirty(const struct worker *w)
{
    return atomic_load_explicit(&w->dirty, memory_order_relaxed);
}

uint64_t host_worker_blocked(const struct worker *w)
{
    return w->blocked_clients;
}

void host_worker_make_internal(struct worker *w)
{
    w->internal = conn_create_internal(w);
}

struct conn *host_worker_internal(const struct worker *w)
{
    return w->internal;
}

struct worker *host_conn_worker(const struct conn *c)
{
    return c->w;
}

uint64_t host_conn_id(const struct conn *c)
{
    return c->id;
}

const char *host_conn_peer(const struct conn *c)
{
    return c->peer;
}

struct reply *host_conn_out(struct conn *c)
{
    return &c->out;
}

struct repl_conn *host_conn_repl(struct conn *c)
{
    return &c->repl;
}

struct repl_replica *host_conn_replica(const struct conn *c)
{
    return c->replica;
}

void host_conn_set_replica(struct conn *c, struct repl_replica *r)
{
    c->replica = r;
}

struct conn *host_worker_conns(struct worker *w)
{
    return w->conns;
}

struct conn *host_conn_next(const struct conn *c)
{
    return c->next;
}

unsigned host_conn_inflight(const struct conn *c)
{
    return c->inflight;
}

bool host_conn_in_multi(const struct conn *c)
{
    return c->multi != NULL;
}

void host_conn_want_flush(struct conn *c)
{
    conn_want_flush(c);
}

void host_conn_close_asap(struct conn *c)
{
    c->flags |= CONN_CLOSE_ASAP;
    conn_want_flush(c);
}

bool host_conn_closing(const struct conn *c)
{
    return (c->flags & (CONN_ZOMBIE | CONN_CLOSE_ASAP)) != 0;
}

bool host_conn_write_pending(const struct conn *c)
{
    return (c->flags & CONN_WANT_WRITE) != 0;
}

static uint32_t block_flag(enum host_block why)
{
    return why == HOST_BLOCK_WAIT ? CONN_WAITING : CONN_SAVE_WAIT;
}

void host_conn_block(struct conn *c, enum host_block why)
{
    /* a SAVE waits for a hold of every shard first (its snapshot starts there) */
    c->flags |= CONN_BLOCKED | block_flag(why) | (why == HOST_BLOCK_SAVE ? CONN_SYNC_START : 0);
    c->w->blocked_clients++;
}

bool host_conn_blocked_for(const struct conn *c, enum host_block why)
{
    return (c->flags & block_flag(why)) != 0;
}

void host_conn_unblock(struct conn *c)
{
    c->flags &= ~(CONN_BLOCKED | CONN_BLOCKED_CLIENT);
    c->w->blocked_clients--;
    conn_want_flush(c);
}

void host_conn_keep_blocked(struct conn *c)
{
    c->flags |= CONN_BLOCKED;
}

static uint64_t all_shards(void)
{
    return server.nworkers == 64 ? ~0ull : (1ull << server.nworkers) - 1;
}

void host_conn_hold_all(struct conn *c)
{
    c->flags |= CONN_SYNC_START;
    worker_tx_begin(c->w, c, all_shards());
}

bool host_conn_hold_wanted(const struct conn *c)
{
    return (c->flags & CONN_SYNC_START) != 0;
}

bool host_conn_hold_queued(const struct conn *c)
{
    return (c->flags & CONN_TX_QUEUED) || c->w->tx.conn == c;
}

void host_conn_set_master(struct conn *c, bool on)
{
    if (!on) {
        c->flags &= ~CONN_MASTER;
        return;
    }
    c->flags |= CONN_MASTER;
    acl_user_put(c->user); /* the primary's stream is applied whatever the ACL says */
    c->user = NULL;
    c->authenticated = true;
    c->parser.auth_required = false;
}

bool host_conn_is_master(const struct conn *c)
{
    return (c->flags & CONN_MASTER) != 0;
}

bool host_conn_input_paused(const struct conn *c)
{
    return (c->flags & (CONN_BLOCKED | CONN_READ_PAUSED)) != 0;
}

char *host_conn_input(struct conn *c, size_t *len)
{
    *len = c->rlen - c->rpos;
    return c->rbuf + c->rpos;
}

void host_conn_consume(struct conn *c, size_t n)
{
    c->rpos += n;
}

const struct resp_arg *host_conn_cmd_name(const struct conn *c)
{
    return &c->parser.argv[0];
}

int host_conn_read(struct conn *c)
{
    return conn_read(c);
}

void host_conn_process(struct conn *c)
{
    conn_process(c);
}

void host_conn_close(struct conn *c)
{
    conn_close(c);
}

ssize_t host_conn_writev(struct conn *c, const struct iovec *iov, int iovcnt)
{
    return cio_writev(c, iov, iovcnt);
}

int host_conn_write_all(struct conn *c, const void *buf, size_t len)
{
    return cio_write_all(c, buf, len);
}

int host_conn_flush(struct conn *c)
{
    return cio_flush(c);
}

void host_conn_write_interest(struct conn *c, bool on)
{
    cio_write_interest(c, on);
}

void host_conn_rearm(struct conn *c)
{
    cio_rearm(c);
}

struct conn *host_connect(struct worker *w, const char *host, int port, bool tls)
{
    return cio_connect(w, host, port, tls);
}

int host_connect_error(struct conn *c)
{
    return cio_connect_error(c);
}
