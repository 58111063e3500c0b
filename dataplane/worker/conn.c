#include "worker/conn.h"

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "worker/cio.h"
#include "worker/dispatch.h"
#include "base/log.h"
#include "base/mem.h"
#include "worker/multi.h"
#include "worker/pause.h"
#include "replication/repl.h"
#include "worker/process.h"
#include "shard/shard.h"
#include "acl/acl.h"
#include "store/store.h"
#include "base/util.h"
#include "worker/worker.h"

#define RBUF_INITIAL  16384
#define RBUF_READ_MIN 16384 /* free space a read asks for */
#define WRITE_IOV_MAX 64

static void obuf_grow(struct reply *r);

static struct conn *conn_new(struct worker *w)
{
    struct conn *c = mem_calloc(sizeof(*c));
    c->w = w;
    c->id = atomic_fetch_add(&server.next_client_id, 1);
    c->proto = 2;
    c->db = 0;
    c->user = acl_default_get();
    c->authenticated = c->user == NULL || acl_rules_nopass(acl_rules_of(c->user));
    resp_parser_init(&c->parser, w->params.srv.proto_max_bulk_len);
    c->parser.auth_required = !c->authenticated;
    reply_init(&c->out, 2);
    c->out.on_grow = obuf_grow;
    c->ctime_ms = c->last_ms = w->now_ms;

    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    tracking_conn_new(c);
    return c;
}

struct conn *conn_create(struct worker *w, union netio_handle h, const char *peer)
{
    struct conn *c = conn_new(w);
    c->io = w->io.ops;
    c->sock = h;
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
    c->io->local_name(h, c->local, sizeof(c->local));
    return c;
}

struct conn *conn_create_internal(struct worker *w)
{
    struct conn *c = mem_calloc(sizeof(*c));
    c->w = w;
    c->id = atomic_fetch_add(&server.next_client_id, 1);
    c->proto = 2;
    c->authenticated = true;
    resp_parser_init(&c->parser, w->params.srv.proto_max_bulk_len);
    reply_init(&c->out, 2);
    snprintf(c->peer, sizeof(c->peer), "internal");
    return c;
}

/*
 * client-output-buffer-limit, as Redis applies it: a client whose queued
 * output reaches its class's hard limit, or stays at or over the soft limit
 * for longer than the soft seconds, is closed at once, its output dropped; a
 * client that has not authenticated while a password is required may queue
 * no more than CONN_OBUF_PREAUTH_MAX. Checked where the output grows (each new
 * block of the chain, each forwarded reply that lands past the first block),
 * never per request; the soft clock restarts when writing brings the output
 * back under the soft limit.
 */
static const struct obuf_limit *obuf_limit_of(const struct conn *c)
{
    return &c->w->obuf[c->replica != NULL    ? OBUF_REPLICA
                       : pubsub_count(c) > 0 ? OBUF_PUBSUB
                                             : OBUF_NORMAL];
}

static void obuf_check(struct conn *c)
{
    struct worker *w = c->w;
    if (c->flags & (CONN_CLOSE_ASAP | CONN_ZOMBIE | CONN_MASTER))
        return;
    const struct obuf_limit *lim = obuf_limit_of(c);
    size_t used = c->out.bytes;
    bool over =
        (!c->authenticated && used > CONN_OBUF_PREAUTH_MAX) || (lim->hard > 0 && used >= lim->hard);
    if (lim->soft > 0 && used >= lim->soft) {
        if (c->obuf_soft_since_ms == 0)
            c->obuf_soft_since_ms = w->now_ms > 0 ? w->now_ms : 1;
        else if (w->now_ms - c->obuf_soft_since_ms > (int64_t)lim->soft_seconds * 1000)
            over = true;
    } else {
        c->obuf_soft_since_ms = 0;
    }
    if (!over)
        return;
    log_warn("Client id=%llu addr=%s laddr=%s scheduled to be closed ASAP for overcoming of "
             "output buffer limits.",
             (unsigned long long)c->id, c->peer, c->local);
    c->flags |= CONN_CLOSE_ASAP;
    conn_want_flush(c);
}

static void obuf_grow(struct reply *r)
{
    obuf_check((struct conn *)((char *)r - offsetof(struct conn, out)));
}

size_t conn_output_bytes(const struct conn *c)
{
    return c->out.bytes;
}

static void unlink_conn(struct conn **head, struct conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        *head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

/*
 * A block taken off an output chain: a heap block is freed, an embedded one returns its
 * message to the pool. A hole's message is in flight and is released when it returns.
 */
static void release_block(struct worker *w, struct rblock *b)
{
    if (b->kind == RBLOCK_HEAP)
        rblock_destroy(b);
    else if (b->kind == RBLOCK_EMBED && b->owner != NULL)
        shard_msg_put(&w->port, b->owner);
}

/* Release the output chain; holes still waiting stay with their messages. */
static void release_output(struct conn *c)
{
    struct rblock *b = c->out.head;
    while (b != NULL) {
        struct rblock *next = b->next;
        b->next = NULL;
        release_block(c->w, b);
        b = next;
    }
    c->out.head = c->out.tail = NULL;
    c->out.bytes = 0;
}

void conn_destroy(struct conn *c)
{
    multi_discard(c);
    watch_release(c, 0);
    pubsub_conn_closed(c);
    repl_conn_release(&c->repl);
    release_output(c);
    resp_parser_deinit(&c->parser);
    mem_traffic_free(c->rbuf);
    acl_user_put(c->user);
    mem_free(c->name);
    mem_free(c->lib_name);
    mem_free(c->lib_ver);
    mem_free(c);
}

void conn_close(struct conn *c)
{
    struct worker *w = c->w;
    if (c->flags & CONN_ZOMBIE)
        return;
    repl_conn_closed(c);
    if (c->flags & CONN_MASTER) {
        c->flags &= ~CONN_MASTER;
        repl_link_conn_closed(c);
        if (c->flags & CONN_ZOMBIE)
            return; /* the link closed it already */
    }
    if (cio_open(c)) {
        cio_close(c);
        atomic_fetch_sub(&server.clients, 1);
    }
    unlink_conn(&w->conns, c);
    w->nconns--;
    monitor_remove(c);
    tracking_conn_closed(c);
    pause_forget(c);
    if (c->flags & CONN_TX_QUEUED)
        worker_tx_forget(w, c);
    if (c->flags & CONN_BLOCKED_CLIENT)
        w->blocked_clients--;
    block_conn_closed(c);
    c->flags |= CONN_ZOMBIE;
    if (c->inflight > 0 || w->tx.conn == c) {
        /* Forwarded replies (or our transaction) still refer to c. */
        c->next = w->zombies;
        if (w->zombies)
            w->zombies->prev = c;
        w->zombies = c;
        c->flags |= CONN_ZOMBIE_LISTED;
        return;
    }
    if (!(c->flags & CONN_IN_FLUSH))
        conn_destroy(c);
    /* else the flush pass destroys it */
}

/* A zombie whose last reference went away. */
void conn_reap(struct conn *c)
{
    struct worker *w = c->w;
    unlink_conn(&w->zombies, c);
    c->flags &= ~CONN_ZOMBIE_LISTED;
    if (!(c->flags & CONN_IN_FLUSH))
        conn_destroy(c);
}

void conn_want_flush(struct conn *c)
{
    if (c->flags & CONN_IN_FLUSH)
        return;
    c->flags |= CONN_IN_FLUSH;
    c->flush_next = c->w->flush_head;
    c->w->flush_head = c;
}

void conn_add_hole(struct conn *c, struct shard_msg *m)
{
    struct rblock *h = &m->hole;
    h->next = NULL;
    h->len = h->start = h->cap = 0;
    h->kind = RBLOCK_HOLE;
    h->owner = m;
    h->data = NULL;
    m->discard = 0;
    reply_append_block(&c->out, h);
}

void conn_fill_hole(struct conn *c, struct shard_msg *m)
{
    struct rblock *h = &m->hole;
    if (m->discard) {
        /* CLIENT REPLY OFF / SKIP: the hole closes on nothing */
        h->kind = RBLOCK_EMBED;
        h->data = NULL;
        h->len = h->start = h->cap = 0;
        reply_deinit(&m->reply);
        return;
    }
    struct rblock *first = m->reply.head; /* m->embed */
    struct rblock *rest = first ? first->next : NULL;
    /* The hole now shows the embedded block's bytes... */
    h->kind = RBLOCK_EMBED;
    h->data = first ? first->data : NULL;
    h->len = first ? first->len : 0;
    h->start = 0;
    h->cap = h->len;
    /* ...followed by any overflow blocks the executing shard allocated. */
    if (rest != NULL) {
        struct rblock *last = rest;
        size_t extra = rest->len;
        while (last->next) {
            last = last->next;
            extra += last->len;
        }
        last->next = h->next;
        h->next = rest;
        if (c->out.tail == h)
            c->out.tail = last;
        c->out.bytes += extra;
    }
    c->out.bytes += h->len;
    if (c->out.bytes > RBLOCK_SIZE)
        obuf_check(c);
    m->reply.head = m->reply.tail = NULL;
    m->reply.bytes = 0;
    if (first)
        first->next = NULL;
}

/*
 * CLIENT REPLY OFF / SKIP: drop what the command just added after `mark`. Its holes stay in
 * place (their messages are on their way) and are filled with nothing.
 */
static void drop_reply(struct conn *c, struct rblock *mark, uint32_t mark_len)
{
    struct rblock **pp = mark != NULL ? &mark->next : &c->out.head;
    if (mark != NULL && mark->kind != RBLOCK_HOLE && mark->len > mark_len) {
        c->out.bytes -= mark->len - mark_len;
        mark->len = mark_len;
    }
    struct rblock *last = mark;
    while (*pp != NULL) {
        struct rblock *b = *pp;
        if (b->kind == RBLOCK_HOLE) {
            ((struct shard_msg *)b->owner)->discard = 1;
            last = b;
            pp = &b->next;
            continue;
        }
        *pp = b->next;
        c->out.bytes -= b->len - b->start;
        b->next = NULL;
        release_block(c->w, b);
    }
    c->out.tail = last;
}

/* After a command ran: CLIENT REPLY's state (Redis's order: SKIP ends, SKIP_NEXT begins). */
static void reply_mode_after(struct conn *c, bool drop, const struct repl_apply_mark *mark)
{
    /* CLIENT REPLY ON answers although the client was OFF: it cleared the flag */
    if (drop && (c->flags & (CONN_REPLY_OFF | CONN_REPLY_SKIP)))
        drop_reply(c, mark->tail, mark->tail_len);
    c->flags &= ~CONN_REPLY_SKIP;
    if (c->flags & CONN_REPLY_SKIP_NEXT)
        c->flags = (c->flags & ~CONN_REPLY_SKIP_NEXT) | CONN_REPLY_SKIP;
}

/* The link to our primary: replies to the stream go nowhere. Drop what is complete. */
static void discard_output(struct conn *c)
{
    while (c->out.head != NULL && c->out.head->kind != RBLOCK_HOLE) {
        struct rblock *b = c->out.head;
        c->out.bytes -= b->len - b->start;
        c->out.head = b->next;
        if (c->out.head == NULL)
            c->out.tail = NULL;
        b->next = NULL;
        release_block(c->w, b);
    }
}

static int write_chain(struct conn *c);

int conn_write(struct conn *c)
{
    if (cio_flush(c) != 0)
        return -1;
    if (c->flags & CONN_MASTER) {
        discard_output(c);
        return 0;
    }
    if (c->replica == NULL)
        return write_chain(c);
    /* A replica: queued replies first, then its RDB and stream, straight from the blocks. */
    for (;;) {
        if (write_chain(c) < 0)
            return -1;
        if (c->out.bytes > 0)
            return 0;
        int r = repl_replica_write(c);
        if (r < 0)
            return -1;
        if (r == 0)
            break;
    }
    cio_write_interest(c, repl_replica_pending(c));
    return 0;
}

static int write_chain(struct conn *c)
{
    struct worker *w = c->w;
    for (;;) {
        struct iovec iov[WRITE_IOV_MAX];
        int n = 0;
        size_t want = 0;
        for (struct rblock *b = c->out.head; b != NULL && n < WRITE_IOV_MAX; b = b->next) {
            if (b->kind == RBLOCK_HOLE)
                break;
            if (b->len > b->start) {
                iov[n].iov_base = b->data + b->start;
                iov[n].iov_len = b->len - b->start;
                want += iov[n].iov_len;
                n++;
            }
        }
        if (n == 0)
            break;
        ssize_t wr = cio_writev(c, iov, n);
        w->stats.writes++;
        if (wr < 0) {
            if (wr == -EAGAIN)
                break;
            return -1;
        }
        w->stats.net_output_bytes += (uint64_t)wr;
        c->out.bytes -= (size_t)wr;
        size_t left = (size_t)wr;
        /* Drop written blocks; keep the last heap block for reuse. */
        while (c->out.head != NULL) {
            struct rblock *b = c->out.head;
            if (b->kind == RBLOCK_HOLE)
                break;
            size_t avail = b->len - b->start;
            if (left < avail) {
                b->start += (uint32_t)left;
                left = 0;
                break;
            }
            left -= avail;
            b->start = b->len;
            if (b->next == NULL && b->kind == RBLOCK_HEAP && b->cap <= RBLOCK_SIZE * 2) {
                b->start = b->len = 0;
                break;
            }
            c->out.head = b->next;
            if (c->out.head == NULL)
                c->out.tail = NULL;
            b->next = NULL;
            release_block(w, b);
        }
        if ((size_t)wr < want)
            break; /* socket buffer full */
    }
    if (c->obuf_soft_since_ms != 0 && c->out.bytes < obuf_limit_of(c)->soft)
        c->obuf_soft_since_ms = 0;
    cio_write_interest(c, c->out.bytes > 0 && c->out.head && c->out.head->kind != RBLOCK_HOLE);
    return 0;
}

void conn_release_input(struct conn *c)
{
    assert(c->rpos == c->rlen);
    mem_traffic_free(c->rbuf);
    c->rbuf = NULL;
    c->rcap = c->rlen = c->rpos = 0;
}

/* Make room for at least `need` more bytes at the end of rbuf. */
static void rbuf_reserve(struct conn *c, size_t need)
{
    if (c->rpos > 0 && c->rpos == c->rlen) {
        c->rpos = c->rlen = 0;
    }
    if (c->rcap - c->rlen >= need)
        return;
    if (c->rpos > 0 && c->rcap - (c->rlen - c->rpos) >= need) {
        memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
        c->rlen -= c->rpos;
        c->rpos = 0;
        return;
    }
    size_t cap = c->rcap ? c->rcap : RBUF_INITIAL;
    while (cap - (c->rlen - c->rpos) < need)
        cap *= 2;
    char *nb = mem_traffic_alloc(cap);
    if (c->rlen > c->rpos)
        memcpy(nb, c->rbuf + c->rpos, c->rlen - c->rpos);
    mem_traffic_free(c->rbuf);
    c->rbuf = nb;
    c->rlen -= c->rpos;
    c->rpos = 0;
    c->rcap = cap;
}

int conn_read(struct conn *c)
{
    struct worker *w = c->w;
    size_t want = RBUF_READ_MIN;
    /* A big argument on its way: make room for all of it at once. */
    size_t pending = c->rlen - c->rpos;
    if (c->parser.need > pending && c->parser.need - pending > want)
        want = c->parser.need - pending;
    rbuf_reserve(c, want);
    ssize_t n = cio_read(c, c->rbuf + c->rlen, c->rcap - c->rlen);
    w->stats.reads++;
    if (n > 0) {
        c->rlen += (size_t)n;
        w->stats.net_input_bytes += (uint64_t)n;
        c->last_ms = w->now_ms;
        return (int)n;
    }
    return n == -EAGAIN ? 0 : -1;
}

/* Whether c holds more unparsed input than client-query-buffer-limit (then it closes). */
static bool query_over_limit(struct conn *c)
{
    if (c->rlen - c->rpos <= (size_t)c->w->params.srv.client_query_buffer_limit)
        return false;
    log_warn("Closing client that reached max query buffer length: id=%llu addr=%s",
             (unsigned long long)c->id, c->peer);
    c->w->stats.client_qbuf_limit_disconnections++;
    return true;
}

int conn_read_blocked(struct conn *c)
{
    if (conn_read(c) < 0 || query_over_limit(c))
        return -1;
    return 0;
}

/*
 * Before executing what a read delivered: when it holds several complete
 * commands, start loading the table lines of their keys (argument 1, when it
 * belongs to this shard), buckets first and then entries, so a pipeline's
 * cache misses overlap. A guess about which argument is the key costs at most
 * a wasted prefetch.
 */
void conn_prefetch(struct conn *c)
{
    struct worker *w = c->w;
    uint64_t hash[CONN_PREFETCH_MAX];
    unsigned n = 0, nw = server.nworkers;
    size_t pos = c->rpos;
    while (n < CONN_PREFETCH_MAX && pos < c->rlen) {
        struct resp_arg a[2];
        int argc;
        size_t len = resp_peek(c->rbuf + pos, c->rlen - pos, a, &argc);
        if (len == 0)
            break;
        pos += len;
        if (argc >= 2 && (nw == 1 || cmd_key_shard(a[1].ptr, a[1].len, nw) == w->id))
            hash[n++] = util_hash(a[1].ptr, a[1].len);
    }
    if (n < 2)
        return; /* nothing to overlap */
    for (unsigned i = 0; i < n; i++)
        store_prefetch_chain(w->store, c->db, hash[i]);
    for (unsigned i = 0; i < n; i++)
        store_prefetch_entry(w->store, c->db, hash[i]);
}

void conn_process(struct conn *c)
{
    struct worker *w = c->w;
    while (!(c->flags & (CONN_CLOSE_AFTER_REPLY | CONN_CLOSE_ASAP | CONN_BLOCKED |
                         CONN_READ_PAUSED | CONN_ZOMBIE))) {
        if (w->hold.holder != -1 && !(w->tx.conn == c && w->tx.ready) && !w->busy_only) {
            /* The shard is held: the flush pass after the release continues here. */
            conn_want_flush(c);
            break;
        }
        if (c->rpos == c->rlen)
            break;
        if (query_over_limit(c)) {
            c->flags |= CONN_CLOSE_ASAP;
            conn_want_flush(c);
            break;
        }
        size_t used = 0;
        int rc = resp_parse(&c->parser, c->rbuf + c->rpos, c->rlen - c->rpos, &used);
        if (rc == RESP_EAGAIN) {
            c->rpos += used;
            break;
        }
        if (rc == RESP_EPROTO) {
            log_verbose("Protocol error (%s) from client: id=%llu addr=%s", c->parser.err,
                        (unsigned long long)c->id, c->peer);
            reply_error(&c->out, c->parser.err);
            worker_count_error(w, c->out.err_code);
            c->flags |= CONN_CLOSE_AFTER_REPLY;
            conn_want_flush(c);
            break;
        }
        /* where this command's reply starts: the link to a primary checks it */
        struct repl_apply_mark mark = { c->out.tail, c->out.tail ? c->out.tail->len : 0,
                                        c->out.errors, w->stats.commands };
        bool drop = (c->flags & (CONN_REPLY_OFF | CONN_REPLY_SKIP)) != 0;
        if (dispatch_request(c, c->parser.argc, c->parser.argv) == DISPATCH_WAIT) {
            /* Not executed: the same bytes are parsed again when it may run. */
            resp_parser_reset(&c->parser);
            break;
        }
        if (unlikely(c->flags & (CONN_REPLY_OFF | CONN_REPLY_SKIP | CONN_REPLY_SKIP_NEXT)))
            reply_mode_after(c, drop, &mark);
        if ((c->flags & CONN_MASTER) && repl_link_applied(c, c->rbuf + c->rpos, used, &mark) != 0)
            break; /* it failed: the link closes */
        c->rpos += used;
        conn_want_flush(c);
    }
    if (c->rpos == c->rlen)
        c->rpos = c->rlen = 0;
}
