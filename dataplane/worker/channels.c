/* Pub/sub: subscriptions per worker, delivery, the fan-out between workers; see channels.h. */
#include "worker/channels.h"

#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "cmd/client.h"
#include "cmd/cmd.h"
#include "cmd/node.h"
#include "resp/reply.h"
#include "shard/shard.h"
#include "worker/conn.h"
#include "worker/process.h"
#include "worker/worker.h"

/* A channel, shard channel or pattern with subscribers on one worker. */
struct ps_chan {
    struct keytab_node link;         /* db: the kind */
    struct ps_chan *pnext, **ppprev; /* the worker's pattern list (patterns only) */
    struct conn **subs;
    uint32_t n, cap;
    char name[];
};

/* The words of the replies and messages, per kind. */
static const struct {
    const char *sub, *unsub, *message;
} words[3] = {
    [PS_CHANNEL] = { "subscribe", "unsubscribe", "message" },
    [PS_PATTERN] = { "psubscribe", "punsubscribe", "pmessage" },
    [PS_SHARD] = { "ssubscribe", "sunsubscribe", "smessage" },
};

/* The count a (un)subscribe reply shows: shard channels apart, as Redis 7.0 counts. */
static uint32_t shown_count(const struct conn *c, int kind)
{
    const struct ps_client *p = c->ps;
    if (p == NULL)
        return 0;
    return kind == PS_SHARD ? p->count[PS_SHARD] : p->count[PS_CHANNEL] + p->count[PS_PATTERN];
}

uint32_t pubsub_count(const struct conn *c)
{
    const struct ps_client *p = c->ps;
    return p == NULL ? 0 : p->n;
}

/* [word, name, count] as a push (an array in RESP2). */
static void reply_confirm(struct reply *r, const char *word, const char *name, size_t len,
                          uint32_t count)
{
    reply_push(r, 3);
    reply_bulk_cstr(r, word);
    if (name != NULL)
        reply_bulk(r, name, len);
    else
        reply_null(r);
    reply_int(r, count);
}

static struct ps_chan *find(struct worker *w, int kind, const char *name, size_t len)
{
    return (struct ps_chan *)keytab_find(&w->pubsub.chans, kind, name, len, util_hash(name, len));
}

void client_subscribe(struct cmd_ctx *c, int kind, const char *name, size_t len)
{
    struct conn *cn = c->client;
    struct worker *w = cn->w;
    struct ps_chan *ch = find(w, kind, name, len);
    bool have = false;
    for (uint32_t i = 0; ch != NULL && i < ch->n && !have; i++)
        have = ch->subs[i] == cn;
    if (!have) {
        if (ch == NULL) {
            ch = mem_calloc(sizeof(*ch) + len);
            memcpy(ch->name, name, len);
            ch->link = (struct keytab_node){
                .hash = util_hash(name, len), .key = ch->name, .len = len, .db = kind
            };
            keytab_add(&w->pubsub.chans, &ch->link);
            if (kind == PS_PATTERN) {
                ch->pnext = w->pubsub.patterns;
                if (ch->pnext != NULL)
                    ch->pnext->ppprev = &ch->pnext;
                ch->ppprev = &w->pubsub.patterns;
                w->pubsub.patterns = ch;
            }
        }
        if (ch->n == ch->cap) {
            ch->cap = ch->cap ? ch->cap * 2 : 4;
            ch->subs = mem_realloc(ch->subs, ch->cap * sizeof(*ch->subs));
        }
        ch->subs[ch->n++] = cn;
        struct ps_client *p = cn->ps;
        if (p == NULL)
            p = cn->ps = mem_calloc(sizeof(*p));
        if (p->n == p->cap) {
            p->cap = p->cap ? p->cap * 2 : 4;
            p->mine = mem_realloc(p->mine, p->cap * sizeof(*p->mine));
        }
        p->mine[p->n++] = ch;
        p->count[kind]++;
        atomic_fetch_add_explicit(&w->pubsub.subs, 1, memory_order_release);
    }
    reply_confirm(c->reply, words[kind].sub, name, len, shown_count(cn, kind));
}

/* Take cn out of ch's subscribers (and ch out of the table when it was the last). */
static void leave(struct worker *w, struct ps_chan *ch, struct conn *cn)
{
    for (uint32_t i = 0; i < ch->n; i++) {
        if (ch->subs[i] == cn) {
            memmove(&ch->subs[i], &ch->subs[i + 1], (ch->n - i - 1) * sizeof(*ch->subs));
            ch->n--;
            break;
        }
    }
    atomic_fetch_sub_explicit(&w->pubsub.subs, 1, memory_order_relaxed);
    if (ch->n > 0)
        return;
    keytab_remove(&w->pubsub.chans, &ch->link);
    if (ch->link.db == PS_PATTERN) {
        *ch->ppprev = ch->pnext;
        if (ch->pnext != NULL)
            ch->pnext->ppprev = ch->ppprev;
    }
    mem_free(ch->subs);
    mem_free(ch);
}

/* Drop subscription i of cn's list. */
static void drop(struct conn *cn, uint32_t i)
{
    struct ps_client *p = cn->ps;
    struct ps_chan *ch = p->mine[i];
    p->count[ch->link.db]--;
    memmove(&p->mine[i], &p->mine[i + 1], (p->n - i - 1) * sizeof(*p->mine));
    p->n--;
    leave(cn->w, ch, cn);
}

void client_unsubscribe(struct cmd_ctx *c, int kind, const char *name, size_t len)
{
    struct conn *cn = c->client;
    struct ps_client *p = cn->ps;
    struct ps_chan *ch = find(cn->w, kind, name, len);
    for (uint32_t i = 0; p != NULL && ch != NULL && i < p->n; i++) {
        if (p->mine[i] == ch) {
            drop(cn, i);
            break;
        }
    }
    reply_confirm(c->reply, words[kind].unsub, name, len, shown_count(cn, kind));
}

void client_unsubscribe_all(struct cmd_ctx *c, int kind)
{
    struct conn *cn = c->client;
    struct ps_client *p = cn->ps;
    bool any = false;
    for (uint32_t i = 0; p != NULL && i < p->n;) {
        struct ps_chan *ch = p->mine[i];
        if (ch->link.db != kind) {
            i++;
            continue;
        }
        /* the reply names the channel: it is freed with its last subscriber */
        size_t len = ch->link.len;
        char small[128], *name = len <= sizeof(small) ? small : mem_alloc(len);
        memcpy(name, ch->name, len);
        drop(cn, i);
        reply_confirm(c->reply, words[kind].unsub, name, len, shown_count(cn, kind));
        if (name != small)
            mem_free(name);
        any = true;
    }
    if (!any)
        reply_confirm(c->reply, words[kind].unsub, NULL, 0, shown_count(cn, kind));
}

void pubsub_conn_closed(struct conn *c)
{
    struct ps_client *p = c->ps;
    if (p == NULL)
        return;
    while (p->n > 0)
        drop(c, p->n - 1);
    mem_free(p->mine);
    mem_free(p);
    c->ps = NULL;
}

/* ---- delivery ----------------------------------------------------------------------------- */

/*
 * One message as its subscribers receive it, framed once per publish and protocol (RESP2
 * array, RESP3 push) and copied into each subscriber's output.
 */
struct frame {
    int kind;
    const struct ps_chan *pat; /* a pattern's pmessage, else NULL */
    const char *ch, *msg;
    size_t chlen, mlen;
    char *bytes[2];
    size_t len[2];
    char small[2][192];
};

static size_t put_bulk(char *p, const char *s, size_t n)
{
    size_t h = (size_t)sprintf(p, "$%zu\r\n", n);
    memcpy(p + h, s, n);
    memcpy(p + h + n, "\r\n", 2);
    return h + n + 2;
}

static void frame_build(struct frame *f, int resp3)
{
    const char *word = words[f->kind].message;
    size_t cap = 64 + strlen(word) + f->chlen + f->mlen + (f->pat ? f->pat->link.len + 24 : 0);
    char *p = cap <= sizeof(f->small[resp3]) ? f->small[resp3] : mem_alloc(cap);
    size_t n = (size_t)sprintf(p, "%c%d\r\n", resp3 ? '>' : '*', f->pat != NULL ? 4 : 3);
    n += put_bulk(p + n, word, strlen(word));
    if (f->pat != NULL)
        n += put_bulk(p + n, f->pat->name, f->pat->link.len);
    n += put_bulk(p + n, f->ch, f->chlen);
    n += put_bulk(p + n, f->msg, f->mlen);
    f->bytes[resp3] = p;
    f->len[resp3] = n;
}

static void frame_free(struct frame *f)
{
    for (int i = 0; i < 2; i++)
        if (f->bytes[i] != NULL && f->bytes[i] != f->small[i])
            mem_free(f->bytes[i]);
}

/* Deliver the frame to every subscriber of ch. @return how many. */
static long long deliver(struct frame *f, const struct ps_chan *ch)
{
    for (uint32_t i = 0; i < ch->n; i++) {
        struct conn *c = ch->subs[i];
        if (c->flags & (CONN_CLOSE_ASAP | CONN_ZOMBIE))
            continue;
        int resp3 = c->proto >= 3;
        if (f->bytes[resp3] == NULL)
            frame_build(f, resp3);
        reply_raw(&c->out, f->bytes[resp3], f->len[resp3]);
        conn_want_flush(c);
    }
    return ch->n;
}

/* Deliver to this worker's subscribers. @return how many messages went out. */
static long long deliver_here(struct worker *w, int kind, const char *ch, size_t chlen,
                              const char *msg, size_t mlen)
{
    long long n = 0;
    if (atomic_load_explicit(&w->pubsub.subs, memory_order_relaxed) == 0)
        return 0;
    struct ps_chan *exact = find(w, kind, ch, chlen);
    if (exact != NULL) {
        struct frame f = { .kind = kind, .ch = ch, .chlen = chlen, .msg = msg, .mlen = mlen };
        n += deliver(&f, exact);
        frame_free(&f);
    }
    if (kind != PS_CHANNEL)
        return n;
    for (struct ps_chan *p = w->pubsub.patterns; p != NULL; p = p->pnext) {
        if (!util_glob_match(p->name, p->link.len, ch, chlen, false))
            continue;
        struct frame f = {
            .kind = PS_PATTERN, .pat = p, .ch = ch, .chlen = chlen, .msg = msg, .mlen = mlen
        };
        n += deliver(&f, p);
        frame_free(&f);
    }
    return n;
}

/*
 * Send the message to every other worker with subscribers. For a client's publish (c not
 * NULL, n delivered here) the first one sent makes the lead: the reply's place in the
 * client's output, filled when every count is back (read by this thread, after this
 * returns). @return the lead, NULL when nothing was sent or nobody waits.
 */
static struct shard_msg *fan_out(struct worker *w, struct cmd_ctx *c, long long n, int kind,
                                 const struct resp_arg *ch, const struct resp_arg *msg)
{
    struct shard_msg *lead = NULL;
    for (unsigned i = 0; i < server.nworkers; i++) {
        struct worker *o = server.workers[i];
        if (o == w || atomic_load_explicit(&o->pubsub.subs, memory_order_acquire) == 0)
            continue;
        if (c != NULL && lead == NULL) {
            lead = shard_msg_get(&w->port);
            lead->type = SHARD_REPLY;
            lead->conn = c->client;
            lead->cmd = c->cmd;
            lead->proto = c->client->proto;
            lead->pub_total = n;
            lead->pub_pending = 0;
        }
        struct shard_msg *m = shard_msg_get(&w->port);
        m->type = SHARD_PUBLISH;
        m->db = kind;
        m->lead = lead;
        shard_msg_set_args(m, 2, (struct resp_arg[]){ *ch, *msg });
        shard_send(&w->port, i, m);
        if (lead != NULL)
            lead->pub_pending++;
    }
    return lead;
}

void client_publish(struct cmd_ctx *c, int kind, const struct resp_arg *ch,
                    const struct resp_arg *msg)
{
    struct conn *cn = c->client;
    long long n = deliver_here(cn->w, kind, ch->ptr, ch->len, msg->ptr, msg->len);
    if (c->reply != &cn->out) {
        /* from a script: its reply cannot wait for the other workers' counts */
        fan_out(cn->w, NULL, 0, kind, ch, msg);
        reply_int(c->reply, n);
        return;
    }
    struct shard_msg *lead = fan_out(cn->w, c, n, kind, ch, msg);
    if (lead == NULL) {
        reply_int(c->reply, n);
        return;
    }
    conn_add_hole(cn, lead);
    cn->inflight++;
}

void pubsub_publish(struct worker *w, const char *ch, size_t chlen, const char *msg, size_t mlen)
{
    deliver_here(w, PS_CHANNEL, ch, chlen, msg, mlen);
    struct resp_arg c = { (char *)ch, chlen }, m = { (char *)msg, mlen };
    fan_out(w, NULL, 0, PS_CHANNEL, &c, &m);
}

void pubsub_notify(struct worker *w, int type, const char *event, int db, const char *key,
                   size_t len)
{
    int flags = w->notify_flags;
    if (!(flags & type))
        return;
    char small[256];
    size_t elen = strlen(event), cap = 32 + (len > elen ? len : elen);
    char *ch = cap <= sizeof(small) ? small : mem_alloc(cap);
    if (flags & NOTIFY_KEYSPACE) {
        int n = snprintf(ch, cap, "__keyspace@%d__:", db);
        memcpy(ch + n, key, len);
        pubsub_publish(w, ch, (size_t)n + len, event, elen);
    }
    if (flags & NOTIFY_KEYEVENT) {
        int n = snprintf(ch, cap, "__keyevent@%d__:%s", db, event);
        pubsub_publish(w, ch, (size_t)n, key, len);
    }
    if (ch != small)
        mem_free(ch);
}

void pubsub_store_event(int event, int db, const char *key, size_t len)
{
    struct worker *w = worker_self();
    if (w == NULL || w->notify_flags == 0)
        return;
    if (event == STORE_EVENT_NEW)
        pubsub_notify(w, NOTIFY_NEW, "new", db, key, len);
    else
        pubsub_notify(w, NOTIFY_KEY_MISS, "keymiss", db, key, len);
}

void pubsub_on_publish(struct worker *w, struct shard_msg *m)
{
    m->arg = deliver_here(w, m->db, m->argv[0].ptr, m->argv[0].len, m->argv[1].ptr, m->argv[1].len);
    m->type = SHARD_PUBLISHED;
    shard_send(&w->port, m->src, m);
}

void pubsub_on_published(struct worker *w, struct shard_msg *m)
{
    struct shard_msg *lead = m->lead;
    int64_t delivered = m->arg;
    shard_msg_put(&w->port, m);
    if (lead == NULL)
        return; /* a notification: nobody waits for its count */
    lead->pub_total += delivered;
    if (--lead->pub_pending > 0)
        return;
    shard_msg_reply_init(lead);
    reply_int(&lead->reply, lead->pub_total);
    lead->arg = -1; /* no slow log entry of its own */
    lead->waiter = NULL;
    worker_on_reply(w, lead);
}

/* ---- introspection (every shard held) ----------------------------------------------------- */

struct walk {
    int kind;
    const struct resp_arg *pattern; /* NULL: every channel */
    struct keytab seen;             /* names already listed, across workers */
    struct reply *r;
    long long n;
    bool count; /* count only */
};

static bool seen_add(struct walk *wk, const struct ps_chan *ch)
{
    uint64_t h = ch->link.hash;
    if (keytab_find(&wk->seen, ch->link.db, ch->name, ch->link.len, h) != NULL)
        return false;
    struct keytab_node *n = mem_alloc(sizeof(*n));
    *n = (struct keytab_node){ .hash = h, .key = ch->name, .len = ch->link.len, .db = ch->link.db };
    keytab_add(&wk->seen, n);
    return true;
}

static bool list_one(void *arg, struct keytab_node *kn)
{
    struct walk *wk = arg;
    struct ps_chan *ch = (struct ps_chan *)kn;
    if (kn->db != wk->kind)
        return false;
    if (wk->pattern != NULL &&
        !util_glob_match(wk->pattern->ptr, wk->pattern->len, ch->name, kn->len, false))
        return false;
    if (!seen_add(wk, ch))
        return false;
    if (!wk->count)
        reply_bulk(wk->r, ch->name, kn->len);
    wk->n++;
    return false;
}

static bool free_seen(void *arg, struct keytab_node *kn)
{
    (void)arg;
    mem_free(kn);
    return true;
}

/* Walk every worker's channels of one kind. @return how many distinct names. */
static long long walk_all(struct walk *wk)
{
    for (unsigned i = 0; i < server.nworkers; i++)
        keytab_sweep(&server.workers[i]->pubsub.chans, list_one, wk);
    keytab_sweep(&wk->seen, free_seen, NULL);
    keytab_free(&wk->seen);
    return wk->n;
}

void node_pubsub_channels(struct reply *r, int kind, const struct resp_arg *pattern)
{
    struct walk wk = { .kind = kind, .pattern = pattern, .r = r };
    struct rblock *hdr = reply_defer(r);
    reply_defer_set(r, hdr, REPLY_AGG_ARRAY, walk_all(&wk));
}

long long node_pubsub_distinct(int kind)
{
    struct walk wk = { .kind = kind, .count = true };
    return walk_all(&wk);
}

void node_pubsub_numsub(struct reply *r, int kind, const struct resp_arg *names, int n)
{
    reply_map(r, n);
    for (int j = 0; j < n; j++) {
        long long subs = 0;
        for (unsigned i = 0; i < server.nworkers; i++) {
            struct ps_chan *ch = find(server.workers[i], kind, names[j].ptr, names[j].len);
            subs += ch != NULL ? ch->n : 0;
        }
        reply_bulk(r, names[j].ptr, names[j].len);
        reply_int(r, subs);
    }
}

void pubsub_info(struct strbuf *s)
{
    strbuf_printf(s,
                  "pubsub_channels:%lld\r\npubsub_patterns:%lld\r\npubsubshard_channels:%lld\r\n",
                  node_pubsub_distinct(PS_CHANNEL), node_pubsub_distinct(PS_PATTERN),
                  node_pubsub_distinct(PS_SHARD));
}

void pubsub_free(struct pubsub *ps)
{
    /* every connection closed first: nothing is subscribed */
    keytab_free(&ps->chans);
    ps->patterns = NULL;
}
