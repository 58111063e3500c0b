#include "worker/block.h"

#include <string.h>

#include "base/clock.h"
#include "base/errors.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/util.h"
#include "cmd/cmd.h"
#include "replication/repl.h"
#include "shard/shard.h"
#include "store/store.h"
#include "worker/conn.h"
#include "worker/dispatch.h"
#include "worker/process.h"
#include "worker/worker.h"

atomic_size_t block_entries;

enum waiter_state {
    WT_WAITING = 0,
    WT_SERVED, /* a shard ran the command: its reply is on the way */
    WT_WOKEN,  /* a shard saw a key ready: the client's worker runs the command again */
    WT_ENDED,  /* its worker ended it: timeout, CLIENT UNBLOCK, the client left */
};

struct waiter {
    atomic_int state;
    atomic_int refs;            /* the client's worker's, and one per table entry */
    struct conn *conn;          /* dereferenced on the client's worker only */
    struct waiter *prev, *next; /* the client's worker's list */
    uint32_t tmo_at;            /* its place in the worker's timeout heap + 1, 0: not there */
    struct shard_msg *early;    /* a wake that came before the forwarded reply announcing it */
    bool attached;              /* the client's worker knows it */
    bool spread;                /* its command names keys of several shards */
    uint8_t worker, proto, kind;
    int db;
    int64_t deadline_ms; /* 0: none */
    const struct cmd_def *cmd, *parent;
    int argc;
    struct resp_arg *argv; /* into the same allocation */
};

struct bentry {
    struct bentry *next;
    struct waiter *wt;
};

struct bkey {
    struct keytab_node link; /* named by the key alone (db 0): waiters of every database */
    struct bkey *ready_next; /* the table's ready list, while `ready` */
    struct bentry *head, **tail;
    bool ready;
    char key[];
};

static void waiter_put(struct waiter *wt)
{
    if (atomic_fetch_sub_explicit(&wt->refs, 1, memory_order_acq_rel) == 1)
        mem_free(wt);
}

static bool claim(struct waiter *wt, int to)
{
    int expect = WT_WAITING;
    return atomic_compare_exchange_strong_explicit(&wt->state, &expect, to, memory_order_acq_rel,
                                                   memory_order_acquire);
}

static struct block_table *table_of(unsigned shard)
{
    return &server.workers[shard]->block;
}

/* ---- the tables --------------------------------------------------------------------------- */

static struct bkey *find(const struct block_table *t, const char *key, size_t len, uint64_t h)
{
    return (struct bkey *)keytab_find(&t->keys, 0, key, len, h);
}

static struct bkey *find_or_add(struct block_table *t, const char *key, size_t len)
{
    uint64_t h = util_hash(key, len);
    struct bkey *k = find(t, key, len, h);
    if (k != NULL)
        return k;
    k = mem_alloc(sizeof(*k) + len);
    memcpy(k->key, key, len);
    k->link = (struct keytab_node){ .hash = h, .key = k->key, .len = len };
    k->head = NULL;
    k->tail = &k->head;
    k->ready = false;
    k->ready_next = NULL;
    keytab_add(&t->keys, &k->link);
    return k;
}

/* Forget a key nobody waits on (not on the ready list). */
static void remove_key(struct block_table *t, struct bkey *k)
{
    keytab_remove(&t->keys, &k->link);
    mem_free(k);
}

static void entry_drop(struct bentry *e)
{
    atomic_fetch_sub_explicit(&block_entries, 1, memory_order_relaxed);
    waiter_put(e->wt);
    mem_free(e);
}

/* Unlink *pp from k's queue and drop it. */
static void entry_unlink(struct bkey *k, struct bentry **pp)
{
    struct bentry *e = *pp;
    *pp = e->next;
    if (k->tail == &e->next)
        k->tail = pp;
    entry_drop(e);
}

static void mark_ready(struct block_table *t, struct bkey *k)
{
    if (k->ready)
        return;
    /* served in the order written, as Redis serves its ready keys */
    k->ready = true;
    k->ready_next = NULL;
    if (t->ready == NULL)
        t->ready_tail = &t->ready;
    *t->ready_tail = k;
    t->ready_tail = &k->ready_next;
}

static bool free_key(void *arg, struct keytab_node *n)
{
    (void)arg;
    struct bkey *k = (struct bkey *)n;
    while (k->head != NULL)
        entry_unlink(k, &k->head);
    mem_free(k);
    return true;
}

void block_table_free(struct block_table *t)
{
    keytab_sweep(&t->keys, free_key, NULL);
    keytab_free(&t->keys);
    memset(t, 0, sizeof(*t));
}

/* Drop the entries of waiters that are no longer waiting, and a key left without any. */
static bool sweep_key(void *arg, struct keytab_node *n)
{
    (void)arg;
    struct bkey *k = (struct bkey *)n;
    struct bentry **pp = &k->head;
    while (*pp != NULL) {
        if (atomic_load_explicit(&(*pp)->wt->state, memory_order_acquire) != WT_WAITING)
            entry_unlink(k, pp);
        else
            pp = &(*pp)->next;
    }
    if (k->head != NULL || k->ready)
        return false;
    mem_free(k);
    return true;
}

/* ---- blocking ----------------------------------------------------------------------------- */

bool block_register(struct cmd_ctx *c, int first, int nkeys, int step, int kind, int64_t timeout_ms)
{
    struct block_who *who = c->block_arg;
    /* The batch's clock may be a few ms old on a busy machine: a deadline counted from it
     * would end the wait early, so count from now (only a command that blocks reads it). */
    int64_t now = clock_real_ms();
    int64_t deadline = timeout_ms > 0 && timeout_ms <= INT64_MAX - now ? now + timeout_ms : 0;
    if (who->deadline_ms >= 0) {
        /* a retry keeps the first attempt's deadline; past it, the client times out */
        deadline = who->deadline_ms;
        if (deadline > 0 && deadline <= c->now_ms)
            return false;
    }
    unsigned nsh = server.nworkers;
    /* spread: any key of the command (BLMOVE's destination too) on another shard */
    int keys[256];
    int nk = cmd_get_keys(c->cmd, c->argc, c->argv, keys, (int)ARRAY_SIZE(keys));
    unsigned home = cmd_key_shard(c->argv[first].ptr, c->argv[first].len, nsh);
    bool spread = nk == (int)ARRAY_SIZE(keys);
    for (int i = 0; i < nk && !spread; i++)
        spread = cmd_key_shard(c->argv[keys[i]].ptr, c->argv[keys[i]].len, nsh) != home;

    size_t bytes = sizeof(struct waiter) + sizeof(struct resp_arg) * (size_t)c->argc;
    for (int i = 0; i < c->argc; i++)
        bytes += c->argv[i].len + 1;
    struct waiter *wt = mem_alloc(bytes);
    memset(wt, 0, sizeof(*wt));
    wt->argv = (struct resp_arg *)(wt + 1);
    char *p = (char *)(wt->argv + c->argc);
    for (int i = 0; i < c->argc; i++) {
        memcpy(p, c->argv[i].ptr, c->argv[i].len);
        p[c->argv[i].len] = '\0';
        wt->argv[i].ptr = p;
        wt->argv[i].len = c->argv[i].len;
        p += c->argv[i].len + 1;
    }
    wt->argc = c->argc;
    wt->cmd = c->cmd;
    wt->parent = c->parent;
    wt->db = c->db;
    wt->conn = who->conn;
    wt->worker = (uint8_t)who->worker;
    wt->proto = who->proto;
    wt->kind = (uint8_t)kind;
    wt->spread = spread;
    wt->deadline_ms = deadline;
    atomic_init(&wt->state, WT_WAITING);
    int refs = 1;
    for (int j = 0; j < nkeys; j++) {
        const struct resp_arg *a = &wt->argv[first + j * step];
        struct block_table *t = table_of(cmd_key_shard(a->ptr, a->len, nsh));
        struct bkey *k = find_or_add(t, a->ptr, a->len);
        bool again = false; /* BLPOP k k: one entry */
        for (struct bentry *e = k->head; e != NULL && !again; e = e->next)
            again = e->wt == wt;
        if (again)
            continue;
        struct bentry *e = mem_alloc(sizeof(*e));
        e->wt = wt;
        e->next = NULL;
        *k->tail = e;
        k->tail = &e->next;
        refs++;
        atomic_fetch_add_explicit(&block_entries, 1, memory_order_relaxed);
    }
    atomic_init(&wt->refs, refs);
    who->made = wt;
    return true;
}

/* ---- readiness and serving ---------------------------------------------------------------- */

static bool mark_each(void *arg, struct keytab_node *n)
{
    mark_ready(arg, (struct bkey *)n);
    return false;
}

void block_signal(struct cmd_ctx *c)
{
    unsigned nsh = server.nworkers;
    int keys[256];
    int nk = cmd_get_keys(c->cmd, c->argc, c->argv, keys, (int)ARRAY_SIZE(keys));
    if (nk <= 0 || nk == (int)ARRAY_SIZE(keys)) {
        /* no keys named (SWAPDB, FLUSHALL ...), or very many: every watched key of the
         * shards this request holds */
        for (unsigned s = 0; s < nsh; s++) {
            if (c->store != NULL && s != c->shard)
                continue;
            struct block_table *t = table_of(s);
            keytab_sweep(&t->keys, mark_each, t);
        }
        return;
    }
    for (int i = 0; i < nk; i++) {
        const struct resp_arg *a = &c->argv[keys[i]];
        struct block_table *t =
            table_of(c->store != NULL ? c->shard : cmd_key_shard(a->ptr, a->len, nsh));
        struct bkey *k = find(t, a->ptr, a->len, util_hash(a->ptr, a->len));
        if (k != NULL && k->head != NULL)
            mark_ready(t, k);
    }
}

/* Does key k of waiter wt's database hold a value of the type it waits for? */
static bool servable(struct store *s, const struct waiter *wt, const struct bkey *k, int64_t now)
{
    struct skey sk;
    skey_init(&sk, k->key, k->link.len);
    struct kv *e = store_lookup(s, wt->db, &sk, now, STORE_NOTOUCH);
    return e != NULL && (int)kv_type(e) == wt->kind;
}

/* Hand m (a served reply, or a bare wake) to the waiter's worker. */
static void send_wake(struct worker *w, struct waiter *wt, struct shard_msg *m)
{
    m->type = SHARD_WAKE;
    m->waiter = wt;
    if (wt->worker == w->id)
        shard_defer(&w->hold, m); /* run from the loop, when nothing is held */
    else
        shard_send(&w->port, wt->worker, m);
}

static void serve_key(struct worker *w, unsigned shard, struct bkey *k)
{
    struct store *s = server.stores[shard];
    struct resp_arg key = { .ptr = k->key, .len = k->link.len };
    struct bentry **pp = &k->head;
    while (*pp != NULL) {
        struct waiter *wt = (*pp)->wt;
        if (atomic_load_explicit(&wt->state, memory_order_acquire) != WT_WAITING) {
            entry_unlink(k, pp);
            continue;
        }
        if (!servable(s, wt, k, w->now_ms)) {
            pp = &(*pp)->next;
            continue;
        }
        if (wt->spread) {
            /* its other keys are elsewhere: its worker runs it again over all of them */
            if (claim(wt, WT_WOKEN))
                send_wake(w, wt, shard_msg_get(&w->port));
            entry_unlink(k, pp);
            continue;
        }
        if (!claim(wt, WT_SERVED)) {
            entry_unlink(k, pp);
            continue;
        }
        struct shard_msg *m = shard_msg_get(&w->port);
        m->proto = wt->proto;
        shard_msg_reply_init(m);
        dispatch_serve(w, shard, wt->cmd, wt->parent, wt->argc, wt->argv, wt->db, &key, &m->reply);
        /* the entry goes before the wake: the wake may free the waiter's other references */
        entry_unlink(k, pp);
        send_wake(w, wt, m);
        /* the pop may have moved the queue's tail: start over from its head */
        pp = &k->head;
    }
}

void block_serve(struct worker *w, uint64_t shards)
{
    if (atomic_load_explicit(&repl_node.role, memory_order_relaxed) == REPL_REPLICA)
        return; /* a replica's data changes only by its primary's stream */
    bool more = true;
    while (more) {
        more = false;
        for (unsigned s = 0; s < server.nworkers; s++) {
            if (!(shards & (1ull << s)))
                continue;
            struct block_table *t = table_of(s);
            while (t->ready != NULL) {
                struct bkey *k = t->ready;
                t->ready = k->ready_next;
                k->ready = false;
                k->ready_next = NULL;
                serve_key(w, s, k);
                if (k->head == NULL && !k->ready)
                    remove_key(t, k);
                more = true;
            }
        }
    }
}

/* ---- the client's worker ------------------------------------------------------------------ */

/*
 * The timeout heap: the worker's waiters with a deadline, earliest first, so a cron pass
 * looks at the top only and ends exactly the waiters that are due (a list walk per passing
 * deadline cost O(waiters) each time, O(n^2) for many clients timing out one by one).
 */
static void tmo_set(struct worker *w, uint32_t i, struct waiter *wt)
{
    w->tmo[i] = wt;
    wt->tmo_at = i + 1;
}

static void tmo_fix(struct worker *w, uint32_t i)
{
    struct waiter *wt = w->tmo[i];
    while (i > 0 && w->tmo[(i - 1) / 2]->deadline_ms > wt->deadline_ms) {
        tmo_set(w, i, w->tmo[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= w->tmo_n)
            break;
        if (c + 1 < w->tmo_n && w->tmo[c + 1]->deadline_ms < w->tmo[c]->deadline_ms)
            c++;
        if (w->tmo[c]->deadline_ms >= wt->deadline_ms)
            break;
        tmo_set(w, i, w->tmo[c]);
        i = c;
    }
    tmo_set(w, i, wt);
}

static void tmo_push(struct worker *w, struct waiter *wt)
{
    if (w->tmo_n == w->tmo_cap) {
        w->tmo_cap = w->tmo_cap ? 2 * w->tmo_cap : 16;
        w->tmo = mem_realloc(w->tmo, w->tmo_cap * sizeof(*w->tmo));
    }
    tmo_set(w, w->tmo_n++, wt);
    tmo_fix(w, w->tmo_n - 1);
}

static void tmo_remove(struct worker *w, struct waiter *wt)
{
    if (wt->tmo_at == 0)
        return;
    uint32_t i = wt->tmo_at - 1;
    wt->tmo_at = 0;
    struct waiter *last = w->tmo[--w->tmo_n];
    if (i < w->tmo_n) {
        tmo_set(w, i, last);
        tmo_fix(w, i);
    }
}

int64_t block_next_deadline(const struct worker *w)
{
    return w->tmo_n > 0 ? w->tmo[0]->deadline_ms : 0;
}

static void list_add(struct worker *w, struct waiter *wt)
{
    wt->prev = NULL;
    wt->next = w->waiters;
    if (w->waiters != NULL)
        w->waiters->prev = wt;
    w->waiters = wt;
    if (wt->deadline_ms > 0) {
        w->block_timeouts++;
        tmo_push(w, wt);
    }
}

static void list_del(struct worker *w, struct waiter *wt)
{
    if (wt->prev != NULL)
        wt->prev->next = wt->next;
    else
        w->waiters = wt->next;
    if (wt->next != NULL)
        wt->next->prev = wt->prev;
    wt->prev = wt->next = NULL;
    if (wt->deadline_ms > 0)
        w->block_timeouts--;
    tmo_remove(w, wt);
}

/* c waits no more: what it sent meanwhile runs next. */
static void detach(struct worker *w, struct conn *c)
{
    struct waiter *wt = c->waiter;
    c->waiter = NULL;
    list_del(w, wt);
    c->flags &= ~(CONN_BLOCKED | CONN_KEY_WAIT | CONN_BLOCK_RETRY);
    w->blocked_clients--;
    waiter_put(wt);
    conn_want_flush(c);
}

/* A timeout's reply: a null array, whatever the command (Redis 7.0's). */
static void reply_timeout(struct conn *c)
{
    reply_null_array(&c->out);
}

static void handle_wake(struct worker *w, struct conn *c, struct shard_msg *m);

void block_attach(struct worker *w, struct conn *c, struct waiter *wt)
{
    wt->attached = true;
    if (c->flags & CONN_ZOMBIE) {
        /* it left while its command was on the way */
        if (wt->early != NULL) {
            struct shard_msg *m = wt->early;
            wt->early = NULL;
            c->inflight++; /* released by the wake, just below */
            block_on_wake(w, m);
        } else if (claim(wt, WT_ENDED)) {
            waiter_put(wt);
        } else {
            c->inflight++; /* a wake is due: it releases the connection */
            wt->conn = c;
        }
        return;
    }
    c->waiter = wt;
    c->flags |= CONN_BLOCKED | CONN_KEY_WAIT;
    w->blocked_clients++;
    list_add(w, wt);
    if (wt->early != NULL) {
        struct shard_msg *m = wt->early;
        wt->early = NULL;
        handle_wake(w, c, m);
    }
}

static void wake_return(struct worker *w, struct shard_msg *m)
{
    if (m->src == w->id) {
        shard_msg_put(&w->port, m);
    } else {
        m->type = SHARD_WOKEN;
        shard_send(&w->port, m->src, m);
    }
}

/* Copy a served reply (m's blocks) to the connection's output. */
static void take_reply(struct conn *c, const struct shard_msg *m)
{
    for (const struct rblock *b = m->reply.head; b != NULL; b = b->next)
        reply_raw(&c->out, b->data + b->start, b->len);
}

static void handle_wake(struct worker *w, struct conn *c, struct shard_msg *m)
{
    struct waiter *wt = m->waiter;
    if (atomic_load_explicit(&wt->state, memory_order_acquire) == WT_SERVED) {
        take_reply(c, m);
        wake_return(w, m);
        detach(w, c);
        return;
    }
    /* woken: run the command again, over every shard it names */
    wake_return(w, m);
    c->flags |= CONN_BLOCK_RETRY;
    dispatch_block_retry(c);
}

void block_on_wake(struct worker *w, struct shard_msg *m)
{
    struct waiter *wt = m->waiter;
    if (!wt->attached) {
        wt->early = m; /* the forwarded reply that announces it is still on its way */
        return;
    }
    struct conn *c = wt->conn;
    if (c->flags & CONN_ZOMBIE) {
        wake_return(w, m);
        waiter_put(wt);
        if (--c->inflight == 0 && (c->flags & CONN_ZOMBIE_LISTED) && w->tx.conn != c)
            conn_reap(c);
        return;
    }
    handle_wake(w, c, m);
}

int64_t block_request(const struct conn *c, int *argc, struct resp_arg **argv)
{
    *argc = c->waiter->argc;
    *argv = c->waiter->argv;
    return c->waiter->deadline_ms;
}

void block_retry_done(struct worker *w, struct conn *c, struct waiter *made)
{
    struct waiter *old = c->waiter;
    if (made == NULL) {
        detach(w, c); /* it answered */
        return;
    }
    list_del(w, old);
    waiter_put(old);
    c->waiter = made;
    made->attached = true;
    c->flags &= ~CONN_BLOCK_RETRY;
    c->flags |= CONN_BLOCKED;
    list_add(w, made);
}

/* End c's wait with reply `error` (NULL: the timeout's). @return false if a shard got it first. */
static bool end_wait(struct worker *w, struct conn *c, const char *error)
{
    struct waiter *wt = c->waiter;
    if ((c->flags & CONN_BLOCK_RETRY) || !claim(wt, WT_ENDED))
        return false;
    if (error != NULL)
        reply_error(&c->out, error);
    else
        reply_timeout(c);
    detach(w, c);
    return true;
}

void block_cron(struct worker *w)
{
    while (w->tmo_n > 0 && w->tmo[0]->deadline_ms <= w->now_ms) {
        struct waiter *wt = w->tmo[0];
        /* ended here (and out of the heap), or a shard got it first or its command is being
         * run again: the reply on its way ends it, or the retry blocks it again with this
         * deadline, which puts it back to end at once */
        if (!end_wait(w, wt->conn, NULL))
            tmo_remove(w, wt);
    }
    if (w->waiters != NULL &&
        atomic_load_explicit(&repl_node.role, memory_order_relaxed) == REPL_REPLICA) {
        /* Redis's rule when a primary turns replica: its blocked clients are told */
        struct waiter *wt = w->waiters;
        while (wt != NULL) {
            struct waiter *nx = wt->next;
            end_wait(w, wt->conn, ERR_UNBLOCKED_ROLE);
            wt = nx;
        }
    }
    if (w->block.keys.n > 0 && w->now_ms - w->block_sweep_ms >= 100) {
        w->block_sweep_ms = w->now_ms;
        keytab_sweep(&w->block.keys, sweep_key, NULL);
    }
}

void block_conn_closed(struct conn *c)
{
    struct worker *w = c->w;
    struct waiter *wt = c->waiter;
    if (wt == NULL)
        return;
    bool retry = (c->flags & CONN_BLOCK_RETRY) != 0;
    c->waiter = NULL;
    list_del(w, wt);
    c->flags &= ~(CONN_KEY_WAIT | CONN_BLOCK_RETRY);
    if (retry || claim(wt, WT_ENDED)) {
        /* nobody will wake it (a retry waiting for its turn is dropped with the client) */
        waiter_put(wt);
        return;
    }
    /* served or woken: the wake is on its way, and it releases the connection */
    c->inflight++;
}

bool block_unblock(struct conn *c, bool error)
{
    if (c->waiter == NULL || (c->flags & CONN_ZOMBIE))
        return false;
    return end_wait(c->w, c, error ? ERR_UNBLOCKED : NULL);
}

uint64_t block_timeouts(const struct worker *w)
{
    return w->block_timeouts;
}
