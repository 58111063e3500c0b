/*
 * thread.c - one benchmark thread: its connections, its poll loop, request generation,
 * reply accounting and --verify checks.
 *
 * Each connection keeps up to `pipeline` requests in flight.  Whenever replies free slots the
 * connection generates new requests straight into its write buffer (no allocation: buffers
 * and the in-flight ring are sized once at connect time) and flushes them with one writev.
 * A request's latency runs from the clock read just before the write that carries it to the
 * clock read just after the read that completes its reply.  All I/O goes through the
 * transport interface, never directly to sockets.
 *
 * With --subscribers, each thread also holds subscriber connections to one channel: they
 * subscribe before the clock starts, then only read, counting the messages the publishers'
 * PUBLISH requests fan out to them; the run ends when each has every message published by
 * every thread.
 */
#include "bench/loadgen/bench.h"
#include "bench/loadgen/reply_parse.h"
#include "bench/loadgen/sub_parse.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

_Atomic bool bench_stop;

/*
 * PUBLISH requests answered with an integer, over every thread, and how many threads have
 * added theirs: once all have, it is what each subscriber must receive.
 */
static _Atomic uint64_t published_total;
static _Atomic int publishers_reported;

/*
 * Replies still missing this long after the run stopped, and messages when none has come for
 * this long, are counted as missing.
 */
#define DRAIN_NS 2000000000ull
/* Every subscription is confirmed within this time, or the run fails before it starts. */
#define SUBSCRIBE_TIMEOUT_NS 10000000000ull
/* Subscriber connections read into one buffer of the thread; the frame matcher keeps none. */
#define SUB_READ_MAX (64 * 1024)

enum req_kind {
    REQ_SET,
    REQ_GET,
    REQ_TMPL,
    REQ_HELLO,
};

struct inflight {
    uint64_t t_send;
    uint64_t key;
    uint32_t ver; /* SET: version written; GET: acked version when sent */
    uint8_t kind;
};

struct conn {
    struct transport_conn tc;
    struct worker *w;
    char *wbuf;
    size_t wcap, wlen, woff;
    char *rbuf;
    size_t rcap, rlen;
    struct srv_reply_parser rp;
    struct inflight *ring;
    uint32_t rhead, rcount, rsize;
    uint32_t unsent; /* ring entries at the tail not yet stamped/written */
    int next_tmpl;
    bool want_out;
    bool dead;
    bool sub;             /* a subscriber: reads messages, sends nothing after SUBSCRIBE */
    struct sub_parser sp; /* subscriber: its frames */
    uint64_t delivered;   /* subscriber: messages received */
};

struct worker {
    struct bench_thread *t;
    const struct bench_config *cfg;
    const struct transport_ops *ops;
    struct transport_loop *loop;
    struct conn *conns; /* --conns publishers (request senders), then the subscribers */
    int nconns;
    int nsubs;
    int unconfirmed; /* subscribers without their SUBSCRIBE confirmation yet */
    struct sub_frames frames;
    char *sbuf; /* SUB_READ_MAX bytes */
    struct rng rng;
    struct keygen kg;
    char *pad; /* value_max filler bytes */
    size_t req_max;
    uint64_t issued;
    uint64_t inflight;
    uint64_t published; /* PUBLISH requests answered with an integer */
    uint64_t delivered;
    uint64_t pub_end_ns;     /* when the requests were all answered (or given up) */
    uint64_t total_known_ns; /* when every thread's publishers were done */
    uint64_t last_delivery_ns;
    bool stopping;
    bool pub_done;
    int mismatch_reports;
};

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---------------------------------------------------------------- verify value format */

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t verify_sum(uint32_t run, uint64_t key, uint32_t version)
{
    uint64_t h = 0xcbf29ce484222325ull;
    h = fnv1a(h, &run, sizeof(run));
    h = fnv1a(h, &key, sizeof(key));
    return fnv1a(h, &version, sizeof(version));
}

size_t verify_header(char *dst, uint32_t run_id, uint64_t key, uint32_t version)
{
    int n = snprintf(dst, VERIFY_HDR_MAX, "v1:%08x:%u:%016llx:", run_id, version,
                     (unsigned long long)verify_sum(run_id, key, version));
    return (size_t)n;
}

static bool parse_hex32(const char **p, const char *e, uint64_t *out, int maxdig)
{
    uint64_t v = 0;
    int n = 0;
    while (*p < e && **p != ':') {
        char ch = **p;
        int d;
        if (ch >= '0' && ch <= '9')
            d = ch - '0';
        else if (ch >= 'a' && ch <= 'f')
            d = ch - 'a' + 10;
        else
            return false;
        if (++n > maxdig)
            return false;
        v = v * 16 + (uint64_t)d;
        (*p)++;
    }
    if (n == 0 || *p == e)
        return false;
    (*p)++; /* ':' */
    *out = v;
    return true;
}

int verify_parse(const char *v, size_t len, uint64_t key, uint32_t *run, uint32_t *version)
{
    const char *p = v, *e = v + (len < VERIFY_HDR_MAX ? len : VERIFY_HDR_MAX);
    uint64_t r, sum, ver = 0;
    if (e - p < 3 || memcmp(p, "v1:", 3) != 0)
        return -1;
    p += 3;
    if (!parse_hex32(&p, e, &r, 8))
        return -1;
    int n = 0;
    while (p < e && *p >= '0' && *p <= '9' && n < 10) {
        ver = ver * 10 + (uint64_t)(*p++ - '0');
        n++;
    }
    if (n == 0 || p == e || *p != ':' || ver > UINT32_MAX)
        return -1;
    p++;
    if (!parse_hex32(&p, e, &sum, 16))
        return -1;
    if (sum != verify_sum((uint32_t)r, key, (uint32_t)ver))
        return -1;
    *run = (uint32_t)r;
    *version = (uint32_t)ver;
    return 0;
}

/* ---------------------------------------------------------------- request encoding */

static char *put_u64(char *d, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0)
        *d++ = tmp[--n];
    return d;
}

static size_t u64_digits(uint64_t v)
{
    size_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/* "key:" + the key number zero-padded so the key is key_size bytes (longer if it must be). */
static size_t key_len(const struct bench_config *cfg, uint64_t key)
{
    size_t d = u64_digits(key);
    size_t want = cfg->key_size > 4 ? (size_t)cfg->key_size - 4 : 0;
    return 4 + (d > want ? d : want);
}

static char *put_key(char *d, const struct bench_config *cfg, uint64_t key)
{
    size_t dig = key_len(cfg, key) - 4;
    memcpy(d, "key:", 4);
    d += 4;
    for (size_t i = dig; i > 0; i--) {
        d[i - 1] = (char)('0' + key % 10);
        key /= 10;
    }
    return d + dig;
}

static char *put_bulk_hdr(char *d, size_t len)
{
    *d++ = '$';
    d = put_u64(d, len);
    *d++ = '\r';
    *d++ = '\n';
    return d;
}

static uint32_t pick_value_size(struct worker *w)
{
    const struct bench_config *cfg = w->cfg;
    if (cfg->value_min == cfg->value_max)
        return cfg->value_min;
    return cfg->value_min + (uint32_t)rng_below(&w->rng, cfg->value_max - cfg->value_min + 1);
}

/* Write the value for key: the verify header (if any) then filler up to vlen bytes. */
static char *put_value(struct worker *w, char *d, const char *hdr, size_t hlen, size_t vlen)
{
    memcpy(d, hdr, hlen);
    if (vlen > hlen)
        memcpy(d + hlen, w->pad, vlen - hlen);
    return d + (vlen > hlen ? vlen : hlen);
}

static char *encode_template(struct worker *w, struct conn *c, char *d, uint64_t key)
{
    const struct bench_config *cfg = w->cfg;
    const struct bench_template *tp = &cfg->templates[c->next_tmpl];
    c->next_tmpl = (c->next_tmpl + 1) % cfg->ntemplates;
    size_t klen = key_len(cfg, key), vlen = tp->ndata > 0 ? pick_value_size(w) : 0;

    *d++ = '*';
    d = put_u64(d, (uint64_t)tp->nargs);
    *d++ = '\r';
    *d++ = '\n';
    for (int i = 0; i < tp->nargs; i++) {
        const struct bench_arg *a = &tp->args[i];
        size_t len = 0;
        for (int j = 0; j < a->nsegs; j++)
            len += a->segs[j].kind == SEG_LIT ? a->segs[j].len
                                              : (a->segs[j].kind == SEG_KEY ? klen : vlen);
        d = put_bulk_hdr(d, len);
        for (int j = 0; j < a->nsegs; j++) {
            const struct bench_seg *s = &a->segs[j];
            if (s->kind == SEG_LIT) {
                memcpy(d, s->lit, s->len);
                d += s->len;
            } else if (s->kind == SEG_KEY) {
                d = put_key(d, cfg, key);
            } else {
                memcpy(d, w->pad, vlen);
                d += vlen;
            }
        }
        *d++ = '\r';
        *d++ = '\n';
    }
    return d;
}

/* Generate one request into c->wbuf and its in-flight record. */
static void gen_request(struct worker *w, struct conn *c)
{
    const struct bench_config *cfg = w->cfg;
    char *d = c->wbuf + c->wlen;
    struct inflight *e = &c->ring[(c->rhead + c->rcount) % c->rsize];
    uint64_t key = keygen_next(&w->kg, &w->rng);

    e->key = key;
    e->ver = 0;
    if (cfg->ntemplates > 0) {
        e->kind = REQ_TMPL;
        d = encode_template(w, c, d, key);
    } else {
        bool set = rng_below(&w->rng, cfg->ratio_set + cfg->ratio_get) < cfg->ratio_set;
        struct verify_key *vk = cfg->verify ? &w->t->vkeys[key] : NULL;
        if (vk != NULL && set && vk->set_inflight)
            set = false; /* one write per key in flight keeps apply order == issue order */
        char hdr[VERIFY_HDR_MAX];
        size_t hlen = 0;
        if (set) {
            e->kind = REQ_SET;
            if (vk != NULL) {
                e->ver = ++vk->issued;
                vk->set_inflight = 1;
                hlen = verify_header(hdr, cfg->run_id, key, e->ver);
            }
        } else {
            e->kind = REQ_GET;
            if (vk != NULL)
                e->ver = vk->acked;
        }
        size_t klen = key_len(cfg, key);
        size_t vlen = set ? pick_value_size(w) : 0;
        if (vlen < hlen)
            vlen = hlen;
        if (cfg->protocol == BENCH_MEMCACHE) {
            memcpy(d, set ? "set " : "get ", 4);
            d = put_key(d + 4, cfg, key);
            if (set) {
                memcpy(d, " 0 0 ", 5);
                d = put_u64(d + 5, vlen);
                *d++ = '\r';
                *d++ = '\n';
                d = put_value(w, d, hdr, hlen, vlen);
            }
        } else if (set) {
            memcpy(d, "*3\r\n$3\r\nSET\r\n", 13);
            d = put_key(put_bulk_hdr(d + 13, klen), cfg, key);
            *d++ = '\r';
            *d++ = '\n';
            d = put_value(w, put_bulk_hdr(d, vlen), hdr, hlen, vlen);
        } else {
            memcpy(d, "*2\r\n$3\r\nGET\r\n", 13);
            d = put_key(put_bulk_hdr(d + 13, klen), cfg, key);
        }
        *d++ = '\r';
        *d++ = '\n';
    }
    c->wlen = (size_t)(d - c->wbuf);
    c->rcount++;
    c->unsent++;
    w->issued++;
    w->inflight++;
}

/* ---------------------------------------------------------------- connection I/O */

static void conn_fail(struct worker *w, struct conn *c, const char *what, int err)
{
    if (c->dead)
        return;
    struct bench_thread *t = w->t;
    if (t->errmsg[0] == '\0')
        snprintf(t->errmsg, sizeof(t->errmsg), "%s%s%s", what, err ? ": " : "",
                 err ? strerror(err) : "");
    c->dead = true;
    w->inflight -= c->rcount;
    c->rcount = 0;
    w->ops->close(w->loop, &c->tc);
    atomic_store(&bench_stop, true);
}

static void conn_watch(struct worker *w, struct conn *c, bool out)
{
    if (c->dead || out == c->want_out)
        return;
    int rc = w->ops->watch(w->loop, &c->tc, TRANSPORT_IN | (out ? TRANSPORT_OUT : 0), c);
    if (rc < 0)
        conn_fail(w, c, "watch", -rc);
    else
        c->want_out = out;
}

static void conn_flush(struct worker *w, struct conn *c)
{
    if (c->unsent > 0) {
        uint64_t now = bench_now_ns();
        for (uint32_t i = c->rcount - c->unsent; i < c->rcount; i++)
            c->ring[(c->rhead + i) % c->rsize].t_send = now;
        c->unsent = 0;
    }
    while (c->woff < c->wlen) {
        struct iovec iov = { c->wbuf + c->woff, c->wlen - c->woff };
        ssize_t n = w->ops->writev(&c->tc, &iov, 1);
        if (n == -EAGAIN) {
            conn_watch(w, c, true);
            return;
        }
        if (n < 0) {
            conn_fail(w, c, "write", (int)-n);
            return;
        }
        c->woff += (size_t)n;
        w->t->st.bytes_out += (uint64_t)n;
    }
    c->woff = c->wlen = 0;
    conn_watch(w, c, false);
}

/* Top up the pipeline, then write. */
static void conn_fill(struct worker *w, struct conn *c)
{
    if (c->dead)
        return;
    const struct bench_config *cfg = w->cfg;
    if (c->woff == c->wlen) {
        c->woff = c->wlen = 0;
        while (c->rcount < (uint32_t)cfg->pipeline && !w->stopping &&
               (w->t->budget == 0 || w->issued < w->t->budget) && c->wcap - c->wlen >= w->req_max)
            gen_request(w, c);
    }
    if (c->wlen > c->woff)
        conn_flush(w, c);
}

static void report_mismatch(struct worker *w, uint64_t key, const char *why, uint32_t got,
                            uint32_t min)
{
    w->t->st.verify_mismatch++;
    if (w->mismatch_reports++ < 5)
        fprintf(stderr, "verify: key %llu: %s (got version %u, expected >= %u)\n",
                (unsigned long long)key, why, got, min);
}

static void check_get(struct worker *w, const struct inflight *e, const struct srv_reply *r)
{
    const struct bench_config *cfg = w->cfg;
    const struct verify_key *vk = &w->t->vkeys[e->key];
    uint32_t run, ver;
    w->t->st.verify_checked++;
    if (r->is_nil) {
        if (e->ver > 0)
            report_mismatch(w, e->key, "nil after an acknowledged write", 0, e->ver);
        return;
    }
    /*
     * Before this run acknowledged a write to the key, whatever an earlier run left there is
     * acceptable; after it, only a well-formed value of this run will do.
     */
    bool parsed = verify_parse(r->str, r->len, e->key, &run, &ver) == 0;
    if (!parsed || run != cfg->run_id) {
        if (e->ver > 0)
            report_mismatch(w, e->key, parsed ? "value from another run" : "bad header or checksum",
                            0, e->ver);
        return;
    }
    if (ver < e->ver)
        report_mismatch(w, e->key, "stale version", ver, e->ver);
    else if (ver > vk->issued)
        report_mismatch(w, e->key, "version never written", ver, e->ver);
}

static void on_reply(struct worker *w, struct conn *c, const struct srv_reply *r, uint64_t now)
{
    const struct bench_config *cfg = w->cfg;
    struct bench_stats *st = &w->t->st;
    if (r->is_push)
        return;
    if (c->rcount == c->unsent) {
        st->protocol_errors++;
        conn_fail(w, c, "reply without a request", 0);
        return;
    }
    struct inflight e = c->ring[c->rhead];
    c->rhead = (c->rhead + 1) % c->rsize;
    c->rcount--;
    w->inflight--;
    if (e.kind == REQ_HELLO) {
        if (r->is_error || r->type != '%') {
            st->protocol_errors++;
            conn_fail(w, c, "HELLO 3 failed (server without RESP3?)", 0);
        }
        return;
    }
    if (w->nsubs > 0 && !r->is_error) {
        /* every request is a PUBLISH (main.c checks the templates): its reply, an integer */
        if (r->type != ':') {
            st->protocol_errors++;
            conn_fail(w, c, "PUBLISH reply is not an integer", 0);
            return;
        }
        w->published++;
    }
    hist_record(&w->t->hist, now - e.t_send);
    st->completed++;
    if (r->is_error) {
        if (st->error_replies++ == 0 && !cfg->quiet)
            fprintf(stderr, "server error reply: %.*s\n", (int)(r->len > 120 ? 120 : r->len),
                    r->str);
    }
    if (e.kind == REQ_SET) {
        st->sets++;
        if (cfg->verify) {
            struct verify_key *vk = &w->t->vkeys[e.key];
            bool ok = !r->is_error && (cfg->protocol == BENCH_REDIS ||
                                       (r->len == 6 && !memcmp(r->str, "STORED", 6)));
            vk->set_inflight = 0;
            if (ok && e.ver > vk->acked)
                vk->acked = e.ver;
        }
    } else if (e.kind == REQ_GET) {
        st->gets++;
        if (r->is_nil)
            st->misses++;
        else if (!r->is_error)
            st->hits++;
        if (cfg->verify && !r->is_error)
            check_get(w, &e, r);
    }
}

static void conn_read(struct worker *w, struct conn *c)
{
    if (c->dead)
        return;
    if (c->rcap - c->rlen < 4096) {
        size_t ncap = c->rcap * 2;
        char *nb = realloc(c->rbuf, ncap);
        if (nb == NULL) {
            conn_fail(w, c, "out of memory", ENOMEM);
            return;
        }
        c->rbuf = nb;
        c->rcap = ncap;
    }
    ssize_t n = w->ops->read(&c->tc, c->rbuf + c->rlen, c->rcap - c->rlen);
    if (n == -EAGAIN)
        return;
    if (n <= 0) {
        conn_fail(w, c, n == 0 ? "server closed the connection" : "read", n == 0 ? 0 : (int)-n);
        return;
    }
    uint64_t now = bench_now_ns();
    c->rlen += (size_t)n;
    w->t->st.bytes_in += (uint64_t)n;
    size_t pos = 0;
    for (;;) {
        struct srv_reply r;
        size_t used = 0;
        int rc = srv_reply_parse(&c->rp, c->rbuf + pos, c->rlen - pos, &used, &r);
        pos += used;
        if (rc == SRV_REPLY_AGAIN)
            break;
        if (rc == SRV_REPLY_ERROR) {
            w->t->st.protocol_errors++;
            conn_fail(w, c, "malformed reply", 0);
            return;
        }
        on_reply(w, c, &r, now);
        if (c->dead)
            return;
    }
    memmove(c->rbuf, c->rbuf + pos, c->rlen - pos);
    c->rlen -= pos;
    if (c->rp.need + 4096 > c->rcap) { /* one element larger than the buffer: grow once */
        size_t ncap = c->rp.need + 4096;
        char *nb = realloc(c->rbuf, ncap);
        if (nb == NULL) {
            conn_fail(w, c, "out of memory", ENOMEM);
            return;
        }
        c->rbuf = nb;
        c->rcap = ncap;
    }
    atomic_store_explicit(&w->t->progress, w->t->st.completed, memory_order_relaxed);
}

/* ---------------------------------------------------------------- subscribers */

/* Queue SUBSCRIBE <channel>; its confirmation is the first frame the matcher takes. */
static void sub_subscribe(struct worker *w, struct conn *c)
{
    const char *ch = w->cfg->channel;
    size_t n = strlen(ch);
    char *d = c->wbuf + c->wlen;
    memcpy(d, "*2\r\n$9\r\nSUBSCRIBE\r\n", 19);
    d = put_bulk_hdr(d + 19, n);
    memcpy(d, ch, n);
    memcpy(d + n, "\r\n", 2);
    c->wlen = (size_t)(d + n + 2 - c->wbuf);
}

/*
 * A subscriber's input: with RESP3 first HELLO's reply (the reply parser, the connection's
 * own buffer; SUBSCRIBE goes out once it is in), then frames, read into the thread's buffer
 * and consumed whole by the matcher.
 */
static void sub_read(struct worker *w, struct conn *c)
{
    if (c->dead)
        return;
    if (c->rcount > 0) {
        conn_read(w, c);
        if (c->rcount == 0 && !c->dead) {
            sub_subscribe(w, c);
            conn_flush(w, c);
        }
        return;
    }
    ssize_t n = w->ops->read(&c->tc, w->sbuf, SUB_READ_MAX);
    if (n == -EAGAIN)
        return;
    if (n <= 0) {
        conn_fail(w, c, n == 0 ? "server closed a subscriber connection" : "read",
                  n == 0 ? 0 : (int)-n);
        return;
    }
    w->t->st.bytes_in += (uint64_t)n;
    bool confirmed = c->sp.confirmed;
    int64_t got = sub_parse(&c->sp, w->sbuf, (size_t)n);
    if (got < 0) {
        w->t->st.protocol_errors++;
        conn_fail(w, c, "a subscriber received neither its confirmation nor a message", 0);
        return;
    }
    if (!confirmed && c->sp.confirmed)
        w->unconfirmed--;
    c->delivered += (uint64_t)got;
    w->delivered += (uint64_t)got;
}

static void conn_event(struct worker *w, struct conn *c, uint32_t events)
{
    if (c->sub) {
        if (events & TRANSPORT_IN)
            sub_read(w, c);
        if (!c->dead && c->woff < c->wlen) /* HELLO or SUBSCRIBE not all written yet */
            conn_flush(w, c);
        return;
    }
    if (events & TRANSPORT_IN)
        conn_read(w, c);
    conn_fill(w, c);
}

/*
 * Before the clock starts: every subscriber sends HELLO 3 or SUBSCRIBE, and the thread waits
 * for all the confirmations.  Every thread does so before the start barrier, so no thread's
 * first PUBLISH can precede any subscription.
 */
static void subscribe_all(struct worker *w)
{
    struct bench_thread *t = w->t;
    struct transport_event evs[256];
    uint64_t deadline = bench_now_ns() + SUBSCRIBE_TIMEOUT_NS;
    for (int i = w->cfg->conns; i < w->nconns; i++)
        conn_flush(w, &w->conns[i]);
    while (w->unconfirmed > 0 && !atomic_load(&bench_stop)) {
        int n = w->ops->wait(w->loop, evs, 256, 10);
        if (n < 0) {
            snprintf(t->errmsg, sizeof(t->errmsg), "wait: %s", strerror(-n));
            t->st.conn_errors++;
            atomic_store(&bench_stop, true);
            return;
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].udata;
            if (c->sub)
                conn_event(w, c, evs[i].events);
            else if (evs[i].events & TRANSPORT_IN)
                conn_read(w, c); /* nothing was sent on it: a close or an error */
        }
        if (w->unconfirmed > 0 && bench_now_ns() >= deadline) {
            snprintf(t->errmsg, sizeof(t->errmsg),
                     "%d of %d subscriptions not confirmed within %llu s", w->unconfirmed, w->nsubs,
                     SUBSCRIBE_TIMEOUT_NS / 1000000000ull);
            t->st.conn_errors++;
            atomic_store(&bench_stop, true);
        }
    }
}

/* This thread's requests are all answered (or given up on): its PUBLISHes join the total. */
static void publishers_done(struct worker *w, uint64_t now)
{
    if (w->pub_done)
        return;
    w->pub_done = true;
    w->pub_end_ns = now;
    atomic_fetch_add(&published_total, w->published);
    atomic_fetch_add(&publishers_reported, 1);
}

/* Messages the subscribers still miss of the total published (known once all reported). */
static uint64_t undelivered(const struct worker *w)
{
    uint64_t want = atomic_load(&published_total), missing = 0;
    for (int i = w->cfg->conns; i < w->nconns; i++)
        if (w->conns[i].delivered < want)
            missing += want - w->conns[i].delivered;
    return missing;
}

/*
 * Whether the subscribers are done: each has every message published by every thread, or
 * none has come for DRAIN_NS since that total was known.  The wait is for silence rather
 * than a fixed time because deliveries trail the PUBLISH replies by however much the server
 * has queued for its subscribers.
 */
static bool deliveries_done(struct worker *w, uint64_t now)
{
    if (w->nsubs == 0)
        return true;
    if (atomic_load(&publishers_reported) < w->cfg->threads)
        return false;
    if (w->total_known_ns == 0)
        w->total_known_ns = now;
    uint64_t want = atomic_load(&published_total) * (uint64_t)w->nsubs;
    if (w->delivered >= want && undelivered(w) == 0)
        return true;
    uint64_t quiet =
        w->last_delivery_ns > w->total_known_ns ? w->last_delivery_ns : w->total_known_ns;
    return now - quiet >= DRAIN_NS;
}

/* ---------------------------------------------------------------- setup and loop */

static size_t request_max(const struct bench_config *cfg)
{
    size_t kmax = (size_t)cfg->key_size + 24;
    size_t vmax = (size_t)cfg->value_max + VERIFY_HDR_MAX;
    size_t m = 64 + kmax + vmax;
    for (int i = 0; i < cfg->ntemplates; i++) {
        const struct bench_template *tp = &cfg->templates[i];
        size_t s = 32 + (size_t)tp->nargs * 32 + tp->lit_bytes + (size_t)tp->nkeys * kmax +
                   (size_t)tp->ndata * cfg->value_max;
        if (s > m)
            m = s;
    }
    return m;
}

static int conn_open(struct worker *w, struct conn *c, bool sub)
{
    const struct bench_config *cfg = w->cfg;
    c->w = w;
    c->sub = sub;
    if (sub) {
        /* It sends HELLO 3 and SUBSCRIBE one after the other, and buffers only HELLO's reply. */
        c->rsize = 2;
        c->wcap = 64 + SUB_CHANNEL_MAX;
        c->rcap = 4096;
        sub_parser_init(&c->sp, &w->frames);
    } else {
        c->rsize = (uint32_t)cfg->pipeline + 1;
        size_t wcap = w->req_max * (size_t)cfg->pipeline;
        size_t lim = w->req_max > (1u << 20) ? w->req_max : (1u << 20);
        c->wcap = wcap > lim ? lim : wcap;
        if (c->wcap < 64)
            c->wcap = 64;
        c->rcap = 64 * 1024;
    }
    c->ring = calloc(c->rsize, sizeof(*c->ring));
    c->wbuf = malloc(c->wcap);
    c->rbuf = malloc(c->rcap);
    if (c->ring == NULL || c->wbuf == NULL || c->rbuf == NULL)
        return -ENOMEM;
    srv_reply_parser_init(&c->rp, cfg->protocol == BENCH_MEMCACHE);
    int rc = w->ops->connect(w->loop, &c->tc, cfg->host, cfg->port);
    if (rc < 0)
        return rc;
    rc = w->ops->watch(w->loop, &c->tc, TRANSPORT_IN, c);
    if (rc < 0)
        return rc;
    if (cfg->resp == 3) {
        static const char hello[] = "*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n";
        memcpy(c->wbuf, hello, sizeof(hello) - 1);
        c->wlen = sizeof(hello) - 1;
        c->ring[0].kind = REQ_HELLO;
        c->rcount = c->unsent = 1;
        w->inflight++;
    } else if (sub) {
        sub_subscribe(w, c);
    }
    return 0;
}

static pthread_barrier_t *start_barrier;

void bench_set_barrier(pthread_barrier_t *b)
{
    start_barrier = b;
}

void *bench_thread_main(void *arg)
{
    struct bench_thread *t = arg;
    const struct bench_config *cfg = t->cfg;
    struct worker w = { .t = t,
                        .cfg = cfg,
                        .ops = cfg->transport,
                        .nconns = cfg->conns + cfg->subscribers,
                        .nsubs = cfg->subscribers,
                        .unconfirmed = cfg->subscribers };
    int i;

    hist_init(&t->hist);
    rng_seed(&w.rng, cfg->seed * 0x9e3779b97f4a7c15ull + (uint64_t)t->index + 1);
    /* With --verify or seq, thread i owns keys i, i+T, i+2T, ... so each key has one writer. */
    bool split = cfg->verify || cfg->key_pattern == KEYGEN_SEQ;
    uint64_t T = (uint64_t)cfg->threads, idx = (uint64_t)t->index;
    uint64_t slice = split ? (cfg->keyspace - idx + T - 1) / T : cfg->keyspace;
    keygen_init(&w.kg, cfg->key_pattern, slice, split ? idx : 0, split ? T : 1, cfg->zipf_skew);
    w.req_max = request_max(cfg);
    w.pad = malloc((size_t)cfg->value_max + 1);
    w.conns = calloc((size_t)w.nconns, sizeof(*w.conns));
    w.loop = w.ops->loop_create(w.nconns);
    if (w.nsubs > 0) {
        w.sbuf = malloc(SUB_READ_MAX);
        sub_frames_init(&w.frames, cfg->channel, strlen(cfg->channel), cfg->resp == 3);
    }
    if (w.pad == NULL || w.conns == NULL || w.loop == NULL || (w.nsubs > 0 && w.sbuf == NULL)) {
        snprintf(t->errmsg, sizeof(t->errmsg), "setup: %s", strerror(errno));
        t->st.conn_errors++;
        atomic_store(&bench_stop, true);
    } else {
        for (size_t k = 0; k < cfg->value_max; k++)
            w.pad[k] = (char)('a' + k % 26);
        for (i = 0; i < w.nconns; i++)
            w.conns[i].tc.fd = -1; /* not open: nothing to close */
        for (i = 0; i < w.nconns; i++) {
            int rc = conn_open(&w, &w.conns[i], i >= cfg->conns);
            if (rc < 0) {
                snprintf(t->errmsg, sizeof(t->errmsg), "connect to %s:%u: %s", cfg->host,
                         (unsigned)cfg->port, strerror(-rc));
                t->st.conn_errors++;
                w.conns[i].dead = true;
                atomic_store(&bench_stop, true);
                break;
            }
        }
        if (w.nsubs > 0 && !atomic_load(&bench_stop))
            subscribe_all(&w);
    }
    pthread_barrier_wait(start_barrier);
    t->start_ns = t->end_ns = bench_now_ns();
    if (atomic_load(&bench_stop))
        goto out;

    uint64_t deadline = cfg->duration > 0 ? t->start_ns + (uint64_t)(cfg->duration * 1e9) : 0;
    uint64_t drain_deadline = 0;
    struct transport_event evs[256];
    for (i = 0; i < cfg->conns; i++)
        conn_fill(&w, &w.conns[i]);
    for (;;) {
        int n = w.ops->wait(w.loop, evs, 256, 10);
        if (n < 0) {
            snprintf(t->errmsg, sizeof(t->errmsg), "wait: %s", strerror(-n));
            t->st.conn_errors++;
            atomic_store(&bench_stop, true);
            break;
        }
        /*
         * Publishers first: their next requests then reach the server before the thread
         * spends its time reading the subscribers, and the server is not left waiting.
         */
        uint64_t delivered = w.delivered;
        for (i = 0; i < n; i++)
            if (!((struct conn *)evs[i].udata)->sub)
                conn_event(&w, evs[i].udata, evs[i].events);
        for (i = 0; i < n && w.nsubs > 0; i++)
            if (((struct conn *)evs[i].udata)->sub)
                conn_event(&w, evs[i].udata, evs[i].events);
        uint64_t now = bench_now_ns();
        if (w.delivered != delivered)
            w.last_delivery_ns = now; /* one clock read for the pass, not one per read */
        if (!w.stopping && ((deadline && now >= deadline) || atomic_load(&bench_stop))) {
            w.stopping = true;
            drain_deadline = now + DRAIN_NS;
        }
        bool budget_done = t->budget != 0 && w.issued >= t->budget;
        if ((w.inflight == 0 && (budget_done || w.stopping)) ||
            (w.stopping && now >= drain_deadline))
            publishers_done(&w, now);
        if (w.pub_done && deliveries_done(&w, now))
            break;
    }
    publishers_done(&w, bench_now_ns());
    /* The window ends with the last reply or the last message, whichever came later. */
    t->end_ns = w.last_delivery_ns > w.pub_end_ns ? w.last_delivery_ns : w.pub_end_ns;
    t->st.unanswered = w.inflight;
    t->st.delivered = w.delivered;
    t->st.undelivered = undelivered(&w);
out:
    publishers_done(&w, t->end_ns); /* other threads wait for every thread's count */
    atomic_store(&t->progress, t->st.completed);
    for (i = 0; w.conns != NULL && i < w.nconns; i++) {
        if (w.conns[i].tc.fd >= 0)
            w.ops->close(w.loop, &w.conns[i].tc);
        free(w.conns[i].ring);
        free(w.conns[i].wbuf);
        free(w.conns[i].rbuf);
    }
    if (w.loop != NULL)
        w.ops->loop_destroy(w.loop);
    free(w.conns);
    free(w.pad);
    free(w.sbuf);
    return NULL;
}
