#include "worker/worker.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "acl/acl.h"
#include "worker/backend.h"
#include "worker/cio.h"
#include "base/clock.h"
#include "cmd/commands.h"
#include "worker/conn.h"
#include "worker/dispatch.h"
#include "base/log.h"
#include "base/mem.h"
#include "replication/repl.h"
#include "worker/process.h"
#include "worker/pause.h"
#include "worker/script.h"
#include "worker/slowlog.h"
#include "sock/sock.h"
#include "tls/tls.h"
#include "base/util.h"

#define EV_BATCH   256
#define RING_BATCH 256
#define CRON_NS    1000000ull /* timers run at most once per millisecond */
/* Allocations a pass frees of what lazy free put aside: ~30 us (docs/data-types.md) */
#define LAZY_FREE_STEP 256

static _Thread_local struct worker *self;

struct worker *worker_self(void)
{
    return self;
}

/* Wake `dst` if it sleeps in its backend's poll (adaptive mode); a no-op when busy-polling. */
static void notify(void *arg, unsigned dst)
{
    (void)arg;
    struct worker *t = server.workers[dst];
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&t->sleeping, memory_order_relaxed)) {
        uint64_t one = 1;
        ssize_t r = write(t->evfd, &one, sizeof(one));
        (void)r;
    }
}

void worker_wake(unsigned id)
{
    notify(NULL, id);
}

void worker_count_error(struct worker *w, const char *code)
{
    struct error_stats *st = &w->errstats;
    w->stats.error_replies++;
    for (unsigned i = 0; i < st->n; i++) {
        if (strcmp(st->row[i].code, code) == 0) {
            st->row[i].count++;
            return;
        }
    }
    if (st->n < ERRORSTATS_MAX) {
        struct error_stat *e = &st->row[st->n++];
        snprintf(e->code, sizeof(e->code), "%s", code);
        e->count = 1;
    }
}

/*
 * The allowlist is parsed once per change into a list of this worker's own:
 * reloads happen before the worker runs or while a CONFIG SET holds every
 * shard (the worker then polls no network), so the accept path reads a plain
 * pointer, and the next connection after the reply obeys the new list.
 */
static void reload_allowlist(struct worker *w)
{
    const char *text = w->params.srv.pollux_allow_sources;
    if (w->allow_text != NULL && strcmp(w->allow_text, text) == 0)
        return;
    struct cidr_list *l;
    char err[160];
    if (cidr_list_parse(text, &l, err, sizeof(err)) != 0) {
        /* cannot happen: the value was checked when it was set */
        log_warn("pollux-allow-sources: %s; keeping the previous list", err);
        return;
    }
    cidr_list_destroy(w->allow);
    mem_free(w->allow_text);
    w->allow = l;
    w->allow_text = mem_strdup(text);
}

bool worker_source_allowed(struct worker *w, const uint8_t addr[16])
{
    if (cidr_list_match(w->allow, addr))
        return true;
    w->stats.rejected_sources++;
    return false;
}

/* notify-keyspace-events n and m: events only the store sees (a new key, a read miss). */
static void store_events_update(struct worker *w)
{
    if (w->store != NULL)
        store_set_events(w->store, (w->notify_flags & NOTIFY_NEW ? STORE_EVENT_NEW : 0) |
                                       (w->notify_flags & NOTIFY_KEY_MISS ? STORE_EVENT_MISS : 0));
}

void worker_reload_params(struct worker *w)
{
    pthread_mutex_lock(&config.lock);
    params_copy(&w->params, &config.p);
    w->params_generation = config.generation;
    if (w->tls != config.tls) {
        /* new connections use the new context; those open keep theirs */
        tls_ctx_release(w->tls);
        w->tls = tls_ctx_retain(config.tls);
    }
    pthread_mutex_unlock(&config.lock);
    reload_allowlist(w);
    slowlog_resize(w, (unsigned)w->params.srv.slowlog_max_len);
    config_obuf_parse(w->params.srv.client_output_buffer_limit, w->obuf);
    int notify = config_notify_flags(w->params.srv.notify_keyspace_events);
    w->notify_flags = notify > 0 ? notify : 0;
    store_events_update(w);
    for (struct conn *c = w->conns; c != NULL; c = c->next)
        c->parser.max_bulk_len = w->params.srv.proto_max_bulk_len;
    worker_net_reload(w);
}

/*
 * During CLIENT PAUSE (WRITE or ALL) keys do not expire or get evicted, as in Redis: an
 * expired key reads as missing but stays (the store's replica mode) until the pause ends.
 * On a replica the primary decides, as always.
 */
static void pause_expiry(struct worker *w)
{
    if (atomic_load_explicit(&repl_node.role, memory_order_relaxed) == REPL_REPLICA) {
        w->expiry_paused = false; /* replication sets the store's mode (replica's already) */
        return;
    }
    bool paused = pause_in_effect(w->now_ms) != PAUSE_NONE;
    if (paused == w->expiry_paused)
        return;
    w->expiry_paused = paused;
    store_set_expiry(w->store, paused ? STORE_EXPIRY_REPLICA : STORE_EXPIRY_ACTIVE);
}

/*
 * The backend pollux-backend names, chosen once for the worker's life (w->io):
 * from here on the loop and the connections only call its operations.
 * @return 0 or -errno, the reason logged.
 */
static int backend_create(struct worker *w)
{
    int rc;
    switch (w->params.srv.pollux_backend) {
    case BACKEND_DPDK:
        rc = worker_net_create(w);
        break;
    default:
        rc = sock_io_create(w->evfd, &w->io);
        break;
    }
    if (rc != 0)
        log_warn("Worker %u: could not set up the %s backend: %s", w->id,
                 config_backend_names[w->params.srv.pollux_backend], strerror(-rc));
    return rc;
}

struct worker *worker_create(struct server *srv, unsigned id, int cpu)
{
    struct worker *w = aligned_alloc(CACHE_LINE_SIZE, sizeof(struct worker));
    if (w == NULL)
        return NULL;
    memset(w, 0, sizeof(*w));
    w->id = id;
    w->srv = srv;
    w->cpu = cpu;
    w->evfd = -1;
    atomic_init(&w->stop, false);
    atomic_init(&w->sleeping, false);
    w->hold.holder = -1;
    worker_reload_params(w);
    w->store = store_create(&w->params.store);
    if (w->store != NULL)
        store_set_event_hook(w->store, pubsub_store_event);
    store_events_update(w);
    shard_port_init(&w->port, &srv->mesh, id);
    w->port.notify = notify;
    w->cmdstats = mem_calloc(sizeof(struct cmd_stat) * CMD_ID_COUNT);
    latency_init(&w->latency);
    repl_worker_init(&w->repl);
    atomic_init(&w->dirty, 0);
    w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->evfd < 0 || backend_create(w) != 0) {
        worker_destroy(w);
        return NULL;
    }
    return w;
}

/*
 * Listen through the backend: on `port` and on the tls-port. Port 0 with a
 * tls-port is TLS only, as Redis; both 0 is a port the backend picks, and the
 * first worker's choice (server.port) is every other worker's.
 */
int worker_listen(struct worker *w)
{
    const struct netio_ops *io = w->io.ops;
    const char *bind = w->params.srv.bind;
    int backlog = (int)w->params.srv.tcp_backlog;
    int rc = 0, bound = 0;
    if (w->params.srv.port != 0 || w->params.tls.port == 0) {
        rc = io->listen(w->io.ctx, bind, server.port ? server.port : (int)w->params.srv.port,
                        backlog, false, &bound);
        if (rc == 0 && server.port == 0)
            server.port = bound;
    }
    if (rc == 0 && w->params.tls.port != 0)
        rc = io->listen(w->io.ctx, bind, (int)w->params.tls.port, backlog, true, &bound);
    if (rc != 0)
        log_warn("Worker %u: could not listen on the %s backend: %s", w->id, io->name,
                 strerror(-rc));
    return rc;
}

/* ---------------------------------------------------------------------------
 * Transactions over several shards
 *
 * The coordinator acquires the shards it needs one by one in increasing
 * index order (its own included), so two transactions can never wait for each
 * other in a cycle. A held shard's owner executes nothing against its store
 * until released; the coordinator then runs the command against every held
 * store directly — the hand-off through the rings orders those accesses.
 * ------------------------------------------------------------------------ */

static void tx_advance(struct worker *w);

static void tx_start_next(struct worker *w)
{
    while (w->tx.conn == NULL && w->tx_wait_head != NULL) {
        struct conn *c = w->tx_wait_head;
        w->tx_wait_head = c->tx_next;
        if (w->tx_wait_head == NULL)
            w->tx_wait_tail = NULL;
        c->tx_next = NULL;
        c->flags &= ~CONN_TX_QUEUED;
        w->tx.conn = c;
        w->tx.need = c->tx_need;
        w->tx.have = 0;
        w->tx.next = 0;
        w->tx.ready = false;
        w->tx.seq++;
        w->stats.transactions++;
        tx_advance(w);
    }
}

void worker_tx_begin(struct worker *w, struct conn *c, uint64_t need)
{
    c->flags |= CONN_BLOCKED | CONN_TX_QUEUED;
    /*
     * A transaction always holds its coordinator's own shard too: then it can
     * only execute while nobody else holds this worker, so no other thread is
     * reading this worker's connections or counters while it runs.
     */
    c->tx_need = need | (1ull << w->id);
    c->tx_next = NULL;
    if (w->tx_wait_tail)
        w->tx_wait_tail->tx_next = c;
    else
        w->tx_wait_head = c;
    w->tx_wait_tail = c;
    tx_start_next(w);
}

void worker_tx_forget(struct worker *w, struct conn *c)
{
    struct conn **pp = &w->tx_wait_head;
    struct conn *prev = NULL;
    while (*pp != NULL) {
        if (*pp == c) {
            *pp = c->tx_next;
            if (w->tx_wait_tail == c)
                w->tx_wait_tail = prev;
            break;
        }
        prev = *pp;
        pp = &(*pp)->tx_next;
    }
    c->tx_next = NULL;
    c->flags &= ~CONN_TX_QUEUED;
}

/* Every shard is held: run the waiting command (or skip it if its client left). */
static void tx_execute(struct worker *w)
{
    struct conn *c = w->tx.conn;
    uint64_t seq = w->tx.seq;
    w->tx.ready = true;
    c->flags &= ~CONN_BLOCKED;
    if (c->flags & CONN_ZOMBIE) {
        worker_tx_end(w);
        return;
    }
    if (c->flags & CONN_SYNC_START) {
        /* Not a command: a snapshot (full sync, BGSAVE) that must start with every shard held. */
        c->flags &= ~CONN_SYNC_START;
        repl_hold_ready(w, c);
        worker_tx_end(w);
        return;
    }
    if (c->flags & CONN_BLOCK_RETRY) {
        /* A blocked client was woken: its command again, then whatever it sent meanwhile. */
        dispatch_block_rerun(w, c);
        if (w->tx.seq == seq && w->tx.conn == c)
            worker_tx_end(w);
        conn_want_flush(c);
        return;
    }
    /*
     * Executes the command (dispatch calls worker_tx_end), then the rest of
     * the pipeline, which may queue the same connection's next transaction.
     */
    conn_process(c);
    if (w->tx.seq == seq && w->tx.conn == c) {
        /* Not run: the client is closing (killed, or over its query buffer limit). */
        worker_tx_end(w);
    }
    conn_want_flush(c);
}

static void tx_advance(struct worker *w)
{
    unsigned n = server.nworkers;
    while (w->tx.next < n) {
        unsigned s = w->tx.next;
        if (!(w->tx.need & (1ull << s))) {
            w->tx.next++;
            continue;
        }
        if (s == w->id) {
            if (w->hold.holder == -1) {
                w->hold.holder = (int)w->id;
                w->tx.have |= 1ull << s;
                w->tx.next++;
                continue;
            }
            /* Our shard is held by someone else: queue our own lock request. */
            struct shard_msg *m = shard_msg_get(&w->port);
            m->type = SHARD_LOCK;
            m->dst = (uint8_t)w->id;
            shard_defer(&w->hold, m);
            return;
        }
        struct shard_msg *m = shard_msg_get(&w->port);
        m->type = SHARD_LOCK;
        shard_send(&w->port, s, m);
        return;
    }
    tx_execute(w);
}

void worker_tx_end(struct worker *w)
{
    unsigned n = server.nworkers;
    struct conn *c = w->tx.conn;
    uint64_t have = w->tx.have;
    w->tx.conn = NULL;
    w->tx.ready = false;
    w->tx.have = 0;
    for (unsigned s = 0; s < n; s++) {
        if (!(have & (1ull << s)) || s == w->id)
            continue;
        struct shard_msg *m = shard_msg_get(&w->port);
        m->type = SHARD_UNLOCK;
        shard_send(&w->port, s, m);
    }
    if (c != NULL && (c->flags & CONN_ZOMBIE) && c->inflight == 0 &&
        (c->flags & CONN_ZOMBIE_LISTED))
        conn_reap(c);
    if (have & (1ull << w->id))
        w->hold.holder = -1; /* what waited for it is replayed at the next poll */
    tx_start_next(w);
}

/* Handle a message addressed to this shard's hold state or store. */
static void handle_shard_msg(struct worker *w, struct shard_msg *m)
{
    switch (m->type) {
    case SHARD_REQ:
        dispatch_forwarded(w, m);
        break;
    case SHARD_LOAD:
        repl_load_apply(w, m);
        m->type = SHARD_LOADED;
        shard_send(&w->port, m->src, m);
        break;
    case SHARD_WAKE:
        block_on_wake(w, m);
        break;
    case SHARD_PUBLISH:
        pubsub_on_publish(w, m);
        break;
    case SHARD_PUBLISHED:
        pubsub_on_published(w, m);
        break;
    case SHARD_MONITOR:
        monitor_on_line(w, m);
        break;
    case SHARD_TRACK:
        tracking_on_message(w, m);
        break;
    case SHARD_LOCK:
        if (m->src == w->id) {
            /* Our own transaction's turn for our shard. */
            shard_msg_put(&w->port, m);
            w->hold.holder = (int)w->id;
            w->tx.have |= 1ull << w->id;
            w->tx.next++;
            tx_advance(w);
        } else {
            w->hold.holder = m->src;
            m->type = SHARD_LOCKED;
            shard_send(&w->port, m->src, m);
        }
        break;
    default:
        break;
    }
}

void worker_on_reply(struct worker *w, struct shard_msg *m)
{
    struct conn *c = m->conn;
    struct waiter *wt = m->waiter;
    bool blocking = (m->cmd->flags & CMD_BLOCKING) != 0;
    dispatch_forward_done(w, c, m);
    if (m->reply.errors > 0 && (c->flags & CONN_MASTER))
        repl_link_forward_failed(c, m);
    conn_fill_hole(c, m);
    if (wt != NULL)
        block_attach(w, c, wt); /* before the count drops: a zombie is reaped only below */
    else if (blocking)
        c->flags &= ~CONN_BLOCKED; /* it answered: what follows may run */
    c->inflight--;
    if (c->flags & CONN_ZOMBIE) {
        if (c->inflight == 0 && w->tx.conn != c)
            conn_reap(c);
        return;
    }
    conn_want_flush(c);
    if ((c->flags & CONN_READ_PAUSED) && c->inflight < CONN_MAX_INFLIGHT / 2) {
        c->flags &= ~CONN_READ_PAUSED;
        conn_process(c);
    }
}

/*
 * Replay what waited while the shard was held, until someone holds it again.
 * Only at the top of poll_messages: granting a LOCK there is safe because the
 * loop then touches nothing the holder may read (store, counters, clients).
 */
static void hold_replay(struct worker *w)
{
    while (w->hold.holder == -1 && w->hold.dq_head != NULL) {
        struct shard_msg *m = shard_undefer(&w->hold);
        if (m->type == SHARD_REPLY)
            worker_on_reply(w, m);
        else
            handle_shard_msg(w, m);
    }
}

static unsigned poll_messages(struct worker *w)
{
    struct shard_msg *msgs[RING_BATCH];
    hold_replay(w);
    unsigned n = shard_poll(&w->port, msgs, RING_BATCH);
    for (unsigned i = 0; i < n; i++) {
        struct shard_msg *m = msgs[i];
        bool held = w->hold.holder != -1;
        switch (m->type) {
        case SHARD_LOCKED:
            /* The shard we asked for (always tx.next) is ours; our transaction
             * progresses even while our own shard is held by someone else. */
            w->tx.have |= 1ull << w->tx.next;
            w->tx.next++;
            shard_msg_put(&w->port, m);
            tx_advance(w);
            break;
        case SHARD_UNLOCK:
            m->type = SHARD_UNLOCKED;
            shard_send(&w->port, m->src, m);
            w->hold.holder = -1;
            hold_replay(w); /* before the rest of the batch: per-sender order */
            break;
        case SHARD_UNLOCKED:
            shard_msg_put(&w->port, m);
            break;
        case SHARD_LOADED:
            repl_load_returned(w, m);
            break;
        case SHARD_WOKEN:
        case SHARD_MONITORED:
        case SHARD_TRACKED:
            shard_msg_put(&w->port, m);
            break;
        case SHARD_REPLY:
            if (held)
                shard_defer(&w->hold, m);
            else
                worker_on_reply(w, m);
            break;
        case SHARD_PUBLISHED: /* its publisher's connection waits: as a reply */
        default:              /* REQ and LOCK wait while the shard is held */
            if (held)
                shard_defer(&w->hold, m);
            else
                handle_shard_msg(w, m);
            break;
        }
    }
    return n;
}

/* ---------------------------------------------------------------------------
 * Network
 * ------------------------------------------------------------------------ */

/* A new client counts against maxclients. @return false when it is one too many. */
static bool admit_client(struct worker *w)
{
    w->stats.connections++;
    int now = atomic_fetch_add(&server.clients, 1) + 1;
    if (now <= w->params.srv.maxclients)
        return true;
    atomic_fetch_sub(&server.clients, 1);
    w->stats.rejected_conn++;
    return false;
}

static const char maxclients_err[] = "-" ERR_MAXCLIENTS "\r\n";

/*
 * Protected mode, as Redis 7.0 has it (whatever bind says): with no password,
 * a client from anywhere but 127.0.0.1 or ::1 gets the DENIED text and is
 * closed once it is written. Counted in rejected_connections.
 */
static void protected_mode_check(struct worker *w, struct conn *c)
{
    static const char denied[] = "-" ERR_PROTECTED_MODE "\r\n";
    if (!w->params.srv.protected_mode || w->params.srv.requirepass[0] != '\0' ||
        sock_peer_is_local(c->peer))
        return;
    w->stats.rejected_conn++;
    reply_raw(&c->out, denied, sizeof(denied) - 1);
    c->flags |= CONN_CLOSE_AFTER_REPLY;
    conn_want_flush(c);
}

/*
 * Accept what listener l holds (at most `max`), on either backend: the source
 * allowlist (a reset, nothing read or written, as the DPDK stack answers the
 * SYN), maxclients, tcp-keepalive, TLS on the tls-port, protected mode.
 */
static void accept_clients(struct worker *w, union netio_handle l, bool tls, unsigned max)
{
    const struct netio_ops *io = w->io.ops;
    for (unsigned i = 0; i < max; i++) {
        char peer[64];
        uint8_t addr[16];
        union netio_handle h;
        int rc = io->accept(w->io.ctx, l, &h, peer, sizeof(peer), addr);
        if (rc < 0) {
            if (rc != -EAGAIN)
                log_verbose("Accepting client connection: %s", strerror(-rc));
            return;
        }
        if (!worker_source_allowed(w, addr)) {
            log_verbose("Refused %s: not in pollux-allow-sources", peer);
            io->abort(w->io.ctx, h);
            continue;
        }
        if (!admit_client(w)) {
            if (!tls) { /* a TLS client could not read it before a handshake */
                struct iovec iov = { .iov_base = (char *)maxclients_err,
                                     .iov_len = sizeof(maxclients_err) - 1 };
                (void)io->writev(h, &iov, 1);
            }
            io->close(w->io.ctx, h);
            continue;
        }
        if (w->params.srv.tcp_keepalive > 0)
            io->keepalive(h, (int)w->params.srv.tcp_keepalive);
        struct conn *c = conn_create(w, h, peer);
        if (cio_attach(c, false) < 0 || (tls && cio_tls_start(c, false) != 0)) {
            conn_close(c);
            continue;
        }
        log_verbose("Accepted %s", peer);
        protected_mode_check(w, c);
    }
}

/* events: CIO_IN / CIO_OUT */
static void on_conn_event(struct worker *w, struct conn *c, uint32_t events)
{
    if (c->flags & CONN_ZOMBIE)
        return;
    if (unlikely(c->flags & CONN_IN_SCRIPT)) {
        cio_rearm(c); /* a busy pass: its script still runs, its input waits */
        return;
    }
    if (c->flags & CONN_MASTER) {
        repl_link_event(w, c, events);
        return;
    }
    if (events & CIO_OUT) {
        if (conn_write(c) < 0) {
            conn_close(c);
            return;
        }
        if (c->flags & CONN_CLOSE_AFTER_REPLY)
            conn_want_flush(c); /* the flush pass closes it once everything is out */
    }
    if (events & CIO_IN) {
        if (c->flags & CONN_READ_PAUSED) {
            /* Not reading now; a vanished peer is noticed when we read again. */
            cio_rearm(c);
            return;
        }
        if (c->flags & CONN_BLOCKED) {
            /* Waiting: keep its input for later, notice a peer that closed. */
            if (conn_read_blocked(c) < 0)
                conn_close(c);
            return;
        }
        int r = conn_read(c);
        if (r < 0) {
            conn_close(c);
            return;
        }
        if (r > 0) {
            if (w->hold.holder == -1)
                conn_prefetch(c);
            conn_process(c);
        }
    }
}

/*
 * The backend's pass: wait when asked to (timeout_ms > 0, adaptive mode),
 * then accept and serve what it reports. @return events handled.
 */
static unsigned poll_network(struct worker *w, int timeout_ms)
{
    struct netio_event ev[EV_BATCH];
    unsigned n = w->io.ops->poll(w->io.ctx, w->now_ns, timeout_ms, ev, EV_BATCH);
    atomic_store_explicit(&w->sleeping, false, memory_order_relaxed);
    if (timeout_ms > 0) {
        w->now_ns = clock_mono_ns();
        w->now_ms = clock_real_ms();
    }
    for (unsigned i = 0; i < n; i++) {
        if (ev[i].events & NETIO_ACCEPT)
            accept_clients(w, ev[i].listener, ev[i].events & NETIO_TLS, w->io.ops->accept_batch);
        else
            on_conn_event(w, ev[i].user, ev[i].events);
    }
    return n;
}

/* TLS connections with decrypted input left in their session (cio.h): read them again. */
static unsigned poll_tls_ready(struct worker *w)
{
    unsigned n = 0;
    cio_tls_ready_round(w);
    for (struct conn *c; (c = cio_tls_ready_next(w)) != NULL; n++)
        on_conn_event(w, c, CIO_IN);
    return n;
}

static void flush_clients(struct worker *w)
{
    struct conn *c = w->flush_head;
    w->flush_head = NULL;
    while (c != NULL) {
        struct conn *next = c->flush_next;
        c->flags &= ~CONN_IN_FLUSH;
        c->flush_next = NULL;
        if (unlikely(c->flags & CONN_IN_SCRIPT)) {
            conn_want_flush(c); /* a busy pass: after its script */
        } else if (c->flags & CONN_ZOMBIE) {
            if (!(c->flags & CONN_ZOMBIE_LISTED))
                conn_destroy(c);
        } else if (c->flags & CONN_CLOSE_ASAP) {
            conn_close(c);
        } else {
            /* Requests read while the shard was held wait in the buffer
             * (conn_process puts c back on the list while it still is). */
            if (c->rpos < c->rlen &&
                !(c->flags & (CONN_BLOCKED | CONN_READ_PAUSED | CONN_CLOSE_AFTER_REPLY)))
                conn_process(c);
            if ((c->out.bytes > 0 || c->replica != NULL) && conn_write(c) < 0) {
                conn_close(c);
            } else if ((c->flags & CONN_CLOSE_AFTER_REPLY) && c->out.bytes == 0 &&
                       c->inflight == 0 && !cio_out_pending(c)) {
                conn_close(c);
            }
        }
        c = next;
    }
}

/* A forwarded request while a script runs long: BUSY, as its client would be answered. */
static void busy_reply(struct worker *w, struct shard_msg *m)
{
    shard_msg_reply_init(m);
    script_reply_busy(&m->reply);
    worker_count_error(w, m->reply.err_code);
    m->arg = -1;
    m->waiter = NULL;
    m->type = SHARD_REPLY;
    shard_send(&w->port, m->src, m);
}

/*
 * The rings while a script runs long here: requests other workers forwarded are answered
 * BUSY, as their clients would be; every other message waits, in order, on the hold queue,
 * replayed by the first poll_messages after the script.
 */
/* A reply a busy pass may hand to its client: one that leaves no waiter in our tables. */
static bool busy_deliverable(const struct shard_msg *m)
{
    return m->type == SHARD_REPLY && m->waiter == NULL && !(m->conn->flags & CONN_IN_SCRIPT);
}

/*
 * The hold queue in a busy pass: forwarded requests are answered BUSY, and replies to our
 * clients that came while our shard was held go out; the other messages keep their order.
 */
static void busy_answer_deferred(struct worker *w)
{
    struct shard_hold keep = { .holder = w->hold.holder };
    struct shard_msg *m;
    while ((m = shard_undefer(&w->hold)) != NULL) {
        if (m->type == SHARD_REQ && !m->from_master)
            busy_reply(w, m);
        else if (busy_deliverable(m))
            worker_on_reply(w, m);
        else
            shard_defer(&keep, m);
    }
    w->hold = keep;
}

static void busy_messages(struct worker *w)
{
    /* requests already waiting (they came while our transaction took its shards) first */
    busy_answer_deferred(w);
    struct shard_msg *m;
    struct shard_msg *msgs[RING_BATCH];
    unsigned n = shard_poll(&w->port, msgs, RING_BATCH);
    for (unsigned i = 0; i < n; i++) {
        m = msgs[i];
        if (m->type == SHARD_REQ && !m->from_master)
            busy_reply(w, m);
        else if (m->type == SHARD_UNLOCKED || m->type == SHARD_WOKEN ||
                 m->type == SHARD_MONITORED || m->type == SHARD_TRACKED)
            shard_msg_put(&w->port, m); /* as poll_messages: nothing to do */
        else if (busy_deliverable(m))
            worker_on_reply(w, m); /* a client of ours, answered (BUSY, likely) */
        else
            shard_defer(&w->hold, m);
    }
}

void worker_busy_pass(struct worker *w)
{
    w->now_ns = clock_mono_ns();
    w->now_ms = clock_real_ms();
    w->busy_only = true;
    busy_messages(w);
    if (w->tls_ready != NULL)
        poll_tls_ready(w);
    poll_network(w, 0);
    if (w->flush_head != NULL)
        flush_clients(w);
    w->io.ops->flush(w->io.ctx, w->now_ns);
    shard_flush(&w->port);
    w->busy_only = false;
}

/*
 * Held by a script running past the threshold: its clients are answered BUSY too. Nothing
 * the holder may read is touched: no connection is closed (a peer that went away is closed
 * after the hold), no command runs but SCRIPT KILL and FUNCTION KILL/STATS.
 */
static void busy_pass_held(struct worker *w)
{
    struct netio_event ev[EV_BATCH];
    w->busy_only = true;
    busy_answer_deferred(w);
    unsigned n = w->io.ops->poll(w->io.ctx, w->now_ns, 0, ev, EV_BATCH);
    for (unsigned i = 0; i < n; i++) {
        if (ev[i].events & NETIO_ACCEPT) {
            /* a new client is this worker's alone (nothing a script may run walks them) */
            accept_clients(w, ev[i].listener, ev[i].events & NETIO_TLS, w->io.ops->accept_batch);
            continue;
        }
        struct conn *c = ev[i].user;
        if ((c->flags & (CONN_ZOMBIE | CONN_MASTER | CONN_BLOCKED | CONN_READ_PAUSED |
                         CONN_CLOSE_ASAP | CONN_CLOSE_AFTER_REPLY)) ||
            c->replica != NULL || c->tls != NULL)
            continue;
        if (ev[i].events & CIO_IN) {
            int r = conn_read(c);
            if (r < 0) {
                c->flags |= CONN_CLOSE_ASAP;
                conn_want_flush(c);
                continue;
            }
            if (r > 0)
                conn_process(c);
        }
        if (c->out.bytes > 0 && conn_write(c) < 0) {
            c->flags |= CONN_CLOSE_ASAP;
            conn_want_flush(c);
        }
    }
    /* requests read before the hold, waiting on the flush list (which stays as it is) */
    for (struct conn *c = w->flush_head; c != NULL; c = c->flush_next) {
        if ((c->flags & (CONN_ZOMBIE | CONN_MASTER | CONN_BLOCKED | CONN_READ_PAUSED |
                         CONN_CLOSE_ASAP | CONN_CLOSE_AFTER_REPLY)) ||
            c->replica != NULL || c->tls != NULL)
            continue;
        if (c->rpos < c->rlen)
            conn_process(c);
        if (c->out.bytes > 0 && conn_write(c) < 0)
            c->flags |= CONN_CLOSE_ASAP; /* closed by the flush after the hold */
    }
    w->io.ops->flush(w->io.ctx, w->now_ns);
    w->busy_only = false;
}

/*
 * Once a second: idle clients past `timeout` are closed, and so are TLS
 * connections still in their handshake after pollux-tls-handshake-timeout
 * (a peer that never finishes one holds a connection, never a worker) and
 * clients of deleted ACL users.
 */
static void clients_cron(struct worker *w)
{
    long long timeout = w->params.srv.timeout;
    struct conn *c = w->conns;
    while (c != NULL) {
        struct conn *next = c->next;
        if (cio_tls_handshaking(c) && !(c->flags & CONN_MASTER) &&
            w->now_ms - c->ctime_ms >= w->params.tls.handshake_timeout * 1000) {
            log_verbose("Closing client %s: TLS handshake not finished", c->peer);
            conn_close(c);
        } else if (timeout > 0 && !(c->flags & (CONN_BLOCKED | CONN_WAITING | CONN_MASTER)) &&
                   c->replica == NULL && (w->now_ms - c->last_ms) / 1000 >= timeout &&
                   c->inflight == 0) {
            log_verbose("Closing idle client");
            conn_close(c);
        } else if (c->user != NULL && (acl_rules_of(c->user)->flags & ACL_DELETED) &&
                   c->inflight == 0) {
            conn_close(c); /* ACL DELUSER, or ACL LOAD without the user: as Redis, at once */
        } else if (c->rbuf != NULL && c->rpos == c->rlen && c->rcap > 65536) {
            conn_release_input(c); /* give back a big query buffer once it is empty */
        }
        c = next;
    }
}

static void ops_sample(struct worker *w)
{
    uint64_t dt = w->now_ns - w->ops_sample_time_ns;
    if (dt < 100 * 1000000ull)
        return;
    unsigned i = w->ops_sample_idx;
    w->ops_samples[i] = (w->stats.commands - w->ops_sample_count) * 1000000000ull / dt;
    w->in_samples[i] = (w->stats.net_input_bytes - w->in_sample) * 1000000000ull / dt;
    w->out_samples[i] = (w->stats.net_output_bytes - w->out_sample) * 1000000000ull / dt;
    w->ops_sample_idx = (i + 1) % 16;
    w->ops_sample_count = w->stats.commands;
    w->in_sample = w->stats.net_input_bytes;
    w->out_sample = w->stats.net_output_bytes;
    w->ops_sample_time_ns = w->now_ns;
}

int worker_evict(struct worker *w, struct store *s, size_t limit)
{
    uint64_t t0 = latency_cycle_start(w);
    int rc = store_evict(s, limit, w->now_ms);
    latency_cycle_end(w, LATENCY_EVICTION_CYCLE, t0);
    return rc;
}

size_t worker_shard_limit(const struct worker *w)
{
    long long maxmem = w->params.store.maxmemory;
    if (maxmem <= 0)
        return 0;
    /* the sampled overhead, and the traffic buffers as they are now (mem.h) */
    size_t overhead =
        atomic_load_explicit(&server.mem_overhead, memory_order_relaxed) + mem_traffic_total();
    if ((size_t)maxmem <= overhead)
        return 1; /* nothing left for data: evict everything evictable */
    return ((size_t)maxmem - overhead) / server.nworkers;
}

void worker_sample_overhead(void)
{
    /* The allocator first: a dataset is lowered before its memory is freed (store_int.h). */
    struct mem_stats ms;
    mem_stats(&ms);
    static size_t last = SIZE_MAX, last_used[MAX_WORKERS];
    size_t data = 0;
    bool freeing = false;
    for (unsigned i = 0; i < server.nworkers; i++) {
        size_t u = store_used(server.workers[i]->store);
        freeing |= u < last_used[i];
        last_used[i] = u;
        data += u;
    }
    data += mem_traffic_total(); /* counted apart, as it changes (worker_shard_limit) */
    size_t now = ms.allocated > data ? ms.allocated - data : 0;
    /* A sample taken while a shard frees (FLUSHALL, a big DEL) counts the bytes on their way
     * out as overhead. When a dataset shrank since the last sample, the smaller of the two
     * is used, so such a sample alone never makes writes fail with OOM; otherwise the new
     * one counts at once (a server just started, or its first traffic). */
    atomic_store_explicit(&server.mem_overhead, freeing ? MIN(now, last) : now,
                          memory_order_relaxed);
    last = now;
}

static void cron(struct worker *w)
{
    static const uint64_t second = 1000000000ull;
    uint64_t prev = w->next_cron_ns - CRON_NS; /* when cron last ran */
    if (w->hold.holder == -1) {
        /* On a replica keys expire (and are evicted) only when the primary says so. */
        bool replica = atomic_load_explicit(&repl_node.role, memory_order_relaxed) == REPL_REPLICA;
        /* Active expiry: a bounded slice each millisecond (none during CLIENT PAUSE) */
        if (!replica && !w->expiry_paused) {
            uint64_t t0 = latency_cycle_start(w);
            store_expire_cycle(w->store, w->now_ms,
                               200 * (size_t)w->params.store.active_expire_effort);
            latency_cycle_end(w, LATENCY_EXPIRE_CYCLE, t0);
        }
        /* Incremental rehash moves on even when no writes arrive (activerehashing). */
        if (w->params.srv.activerehashing)
            store_rehash_step(w->store, -1, 64);
        size_t limit = worker_shard_limit(w);
        if (limit > 0 && store_used(w->store) > limit && !w->expiry_paused &&
            !(replica && w->params.repl.replica_ignore_maxmemory)) {
            worker_evict(w, w->store, limit);
        }
    }
    if (w->hold.holder == -1) {
        block_cron(w);
        watch_cron(w);
        tracking_cron(w);
    }
    ops_sample(w);
    repl_worker_cron(w);
    /* closing a client changes what a holder may be reading (CLIENT LIST, PUBSUB, WATCH's
     * tables): only while nobody holds the shard */
    if (w->now_ns / second != prev / second && w->hold.holder == -1)
        clients_cron(w);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    self = w;
    char name[16];
    snprintf(name, sizeof(name), "pollux-w%u", w->id);
    pthread_setname_np(pthread_self(), name);
    if (w->cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(w->cpu, &set);
        if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0)
            log_warn("Worker %u: could not pin to cpu %d", w->id, w->cpu);
    }
    mem_thread_arena_setup();
    util_rand_seed(clock_mono_ns() ^ ((uint64_t)w->id << 32));

    worker_net_thread_init(w);
    w->now_ns = clock_mono_ns();
    w->idle_since_ns = w->now_ns;
    w->ops_sample_time_ns = w->now_ns;
    while (!atomic_load_explicit(&w->stop, memory_order_relaxed)) {
        w->now_ns = clock_mono_ns();
        w->now_ms = clock_real_ms();
        unsigned work = 0;

        if (w->hold.holder != -1) {
            /* Held by a transaction: touch nothing the holder may read; only the rings. */
            poll_messages(w);
            if (unlikely(script_busy()) && w->hold.holder != -1)
                busy_pass_held(w);
            if (unlikely(w->trk.pend_mask != 0))
                tracking_flush(w); /* what our transaction queued: the others' now */
            shard_flush(&w->port);
            continue;
        }
        store_set_clock(w->store, w->now_ms);
        if (unlikely(atomic_load_explicit(&pause_mode_now, memory_order_relaxed) != PAUSE_NONE ||
                     w->expiry_paused))
            pause_expiry(w);
        acl_quiescent(w->id); /* no ACL snapshot is held between passes */
        w->stats.loop_passes++;
        /* Before the poll: what a read left in a TLS session last pass, after its replies
         * were flushed (an end of stream found with a command must not drop the reply). */
        if (w->tls_ready != NULL)
            work += poll_tls_ready(w);
        {
            int timeout = 0;
            long long idle_us = w->params.srv.pollux_idle_sleep_us;
            if (idle_us > 0 && w->now_ns - w->idle_since_ns > (uint64_t)idle_us * 1000 &&
                w->port.outbox_len == 0 && w->flush_head == NULL && w->tls_ready == NULL) {
                atomic_store(&w->sleeping, true);
                atomic_thread_fence(memory_order_seq_cst);
                bool pending = false;
                for (unsigned s = 0; s < server.nworkers && !pending; s++)
                    if (s != w->id && ring_count(server.mesh.ring[s][w->id]) > 0)
                        pending = true;
                timeout = pending ? 0 : 1;
            }
            work += poll_network(w, timeout);
        }
        work += poll_messages(w);
        if (w->hold.holder != -1) {
            /* A LOCK was granted: from here on the holder owns store and counters. */
            shard_flush(&w->port);
            continue;
        }
        if (unlikely(w->paused != NULL) && pause_in_effect(w->now_ms) == PAUSE_NONE)
            pause_release(w);
        if (w->now_ns >= w->next_cron_ns) {
            cron(w);
            w->next_cron_ns = w->now_ns + CRON_NS;
        }
        work += repl_worker_pass(w, work);
        /* lazy free: a slice of what UNLINK, FLUSHALL ASYNC... put aside (store.h) */
        if (store_lazy_step(w->store, LAZY_FREE_STEP) > 0)
            work++;
        if (unlikely(w->trk.pend_mask != 0)) /* invalidations: expiry, eviction, requests */
            tracking_flush(w);
        if (w->flush_head != NULL) {
            flush_clients(w);
            work++;
        }
        w->io.ops->flush(w->io.ctx, w->now_ns);
        shard_flush(&w->port);
        if (work > 0) {
            w->idle_since_ns = w->now_ns;
            w->stats.busy_passes++;
            w->stats.busy_ns += clock_mono_ns() - w->now_ns;
        }
    }
    self = NULL;
    return NULL;
}

int worker_start(struct worker *w, const cpu_set_t *anywhere)
{
    pthread_attr_t attr;
    int rc = pthread_attr_init(&attr);
    if (rc == 0 && w->cpu < 0 && anywhere != NULL)
        rc = pthread_attr_setaffinity_np(&attr, sizeof(*anywhere), anywhere);
    if (rc == 0)
        rc = pthread_create(&w->thread, &attr, worker_main, w);
    pthread_attr_destroy(&attr);
    return -rc;
}

void worker_join(struct worker *w)
{
    pthread_join(w->thread, NULL);
}

/* Teardown step 1, after every worker thread has stopped: the connections. */
void worker_close_conns(struct worker *w)
{
    for (struct conn *c = w->flush_head; c != NULL; c = c->flush_next)
        c->flags &= ~CONN_IN_FLUSH;
    w->flush_head = NULL;
    while (w->conns != NULL)
        conn_close(w->conns);
    while (w->zombies != NULL) {
        struct conn *c = w->zombies;
        w->zombies = c->next;
        c->next = c->prev = NULL;
        c->flags &= ~(CONN_ZOMBIE_LISTED | CONN_IN_FLUSH);
        conn_destroy(c);
    }
}

/* Teardown step 2: messages deferred, pooled or outboxed here. */
void worker_release_messages(struct worker *w)
{
    struct shard_msg *m;
    while ((m = shard_undefer(&w->hold)) != NULL)
        shard_msg_free(m);
    shard_port_deinit(&w->port);
}

/* Teardown step 3 (after the mesh is drained): the store and the worker itself. */
void worker_destroy(struct worker *w)
{
    if (w == NULL)
        return;
    if (w->io.ops != NULL)
        w->io.ops->destroy(w->io.ctx); /* the listeners; connections are closed (step 1) */
    worker_net_destroy(w);
    tls_ctx_release(w->tls);
    block_table_free(&w->block);
    pubsub_free(&w->pubsub);
    monitor_free(&w->monitors);
    watch_table_free(&w->watch);
    tracking_worker_free(&w->trk);
    script_worker_free(w);
    mem_free(w->tmo);
    if (w->store)
        store_destroy(w->store);
    if (w->evfd >= 0)
        close(w->evfd);
    slowlog_free(w);
    repl_worker_deinit(&w->repl);
    if (w->internal != NULL)
        conn_destroy(w->internal);
    mem_free(w->cmdstats);
    latency_deinit(&w->latency);
    cidr_list_destroy(w->allow);
    mem_free(w->allow_text);
    params_free(&w->params);
    free(w);
}
