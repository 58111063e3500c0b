/*
 * TCP: connection blocks, listeners and the socket API the worker calls.
 *
 * Memory: a connection is one struct tcb plus a send ring and a receive ring
 * of pollux-net-sndbuf and pollux-net-rcvbuf bytes (powers of two). Blocks and
 * rings that are given back go to free lists and are reused, so once the
 * stack has seen its peak number of connections it allocates nothing more.
 * At most max_conns blocks exist at once (half-open ones included); TIME_WAIT
 * after close costs one small table entry instead (tcp_tw.c).
 */
#include <errno.h>

#include "base/mem.h"
#include "net/tcp_int.h"

static uint32_t pow2_at_least(uint64_t v)
{
    uint32_t p = 1;
    while (p < v && p < (1u << 30))
        p <<= 1;
    return p;
}

static uint32_t tuple_hash(const struct net_stack *st, uint32_t lip, uint16_t lport, uint32_t rip,
                           uint16_t rport)
{
    uint64_t h = ((uint64_t)rip << 32 | lip) ^ st->hash_key;
    h ^= ((uint64_t)rport << 16 | lport) * 0x9e3779b97f4a7c15ull;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 29;
    return (uint32_t)(h >> 32) & st->tcb_mask;
}

int tcp_setup(struct net_stack *st)
{
    uint32_t n = pow2_at_least((uint64_t)st->max_conns * 2);
    if (n < 64)
        n = 64;
    st->tcb_hash = mem_calloc(sizeof(*st->tcb_hash) * n);
    st->tcb_mask = n - 1;
    st->hash_key = net_rand(st);
    st->isn_key[0] = net_rand(st);
    st->isn_key[1] = net_rand(st);
    st->spool.size = pow2_at_least((uint64_t)st->p.sndbuf);
    st->rpool.size = pow2_at_least((uint64_t)st->p.rcvbuf);
    uint8_t ws = 0;
    while (ws < TCP_MAX_WSCALE && (65535u << ws) < st->rpool.size)
        ws++;
    st->rcv_wscale = ws;
    wheel_init(&st->wheel, st->now);
    return tw_setup(st);
}

static void pool_drain(struct ring_pool *p)
{
    for (unsigned i = 0; i < p->n; i++)
        mem_free(p->item[i]);
    mem_free(p->item);
    p->item = NULL;
    p->n = p->cap = 0;
}

static void close_listener(struct net_stack *st, struct tcp_listener *l, bool reset);

void tcp_teardown(struct net_stack *st)
{
    while (st->listeners != NULL)
        close_listener(st, st->listeners, false);
    while (st->all != NULL) {
        struct tcb *t = st->all;
        t->sock.user_owned = false;
        t->flags |= TF_ORPHAN;
        tcb_release(st, t);
    }
    while (st->tcb_free != NULL) {
        struct tcb *t = st->tcb_free;
        st->tcb_free = t->hnext;
        mem_free(t);
    }
    pool_drain(&st->spool);
    pool_drain(&st->rpool);
    mem_free(st->tcb_hash);
    st->tcb_hash = NULL;
    tw_teardown(st);
}

void tcp_housekeeping(struct net_stack *st)
{
    tw_expire(st);
}

/* ---------------------------------------------------------------------------
 * Connection blocks
 * ------------------------------------------------------------------------ */

struct tcb *tcb_lookup(struct net_stack *st, uint32_t lip, uint16_t lport, uint32_t rip,
                       uint16_t rport)
{
    for (struct tcb *t = st->tcb_hash[tuple_hash(st, lip, lport, rip, rport)]; t != NULL;
         t = t->hnext)
        if (t->rport == rport && t->lport == lport && t->rip == rip && t->lip == lip)
            return t;
    return NULL;
}

void tcb_hash_insert(struct net_stack *st, struct tcb *t)
{
    struct tcb **b = &st->tcb_hash[tuple_hash(st, t->lip, t->lport, t->rip, t->rport)];
    t->hnext = *b;
    *b = t;
    t->hashed = true;
}

static void tcb_unhash(struct net_stack *st, struct tcb *t)
{
    if (!t->hashed)
        return;
    struct tcb **pp = &st->tcb_hash[tuple_hash(st, t->lip, t->lport, t->rip, t->rport)];
    while (*pp != t)
        pp = &(*pp)->hnext;
    *pp = t->hnext;
    t->hnext = NULL;
    t->hashed = false;
}

struct tcb *tcb_create(struct net_stack *st)
{
    struct tcb *t = st->tcb_free;
    if (t != NULL)
        st->tcb_free = t->hnext;
    else
        t = mem_alloc(sizeof(*t));
    memset(t, 0, sizeof(*t));
    t->sock.kind = NET_SOCK_TCP;
    t->sock.st = st;
    t->ssize = st->spool.size;
    t->rsize = st->rpool.size;
    t->rto_ms = (uint32_t)st->p.rto_initial_ms;
    t->anext = st->all;
    if (st->all)
        st->all->aprev = t;
    st->all = t;
    st->nconns++;
    return t;
}

static void *pool_get(struct ring_pool *p)
{
    if (p->n > 0)
        return p->item[--p->n];
    return mem_alloc(p->size);
}

static void pool_put(struct ring_pool *p, void *r)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->item = mem_realloc(p->item, sizeof(*p->item) * p->cap);
    }
    p->item[p->n++] = r;
}

int tcb_attach_buffers(struct net_stack *st, struct tcb *t)
{
    if (t->sbuf == NULL)
        t->sbuf = pool_get(&st->spool);
    if (t->rbuf == NULL)
        t->rbuf = pool_get(&st->rpool);
    return 0;
}

void tcb_set_state(struct net_stack *st, struct tcb *t, uint8_t state)
{
    (void)st;
    t->state = state;
}

static void out_unlink(struct net_stack *st, struct tcb *t)
{
    if (!(t->flags & TF_IN_OUTPUT))
        return;
    if (t->out_prev)
        t->out_prev->out_next = t->out_next;
    else
        st->out_head = t->out_next;
    if (t->out_next)
        t->out_next->out_prev = t->out_prev;
    t->out_prev = t->out_next = NULL;
    t->flags &= ~TF_IN_OUTPUT;
}

void tcp_want_output(struct net_stack *st, struct tcb *t)
{
    if (t->flags & TF_IN_OUTPUT)
        return;
    t->flags |= TF_IN_OUTPUT;
    t->out_prev = NULL;
    t->out_next = st->out_head;
    if (st->out_head)
        st->out_head->out_prev = t;
    st->out_head = t;
}

unsigned tcp_flush_output(struct net_stack *st)
{
    unsigned n = 0;
    while (st->out_head != NULL) {
        struct tcb *t = st->out_head;
        out_unlink(st, t);
        tcp_output(st, t);
        n++;
    }
    return n;
}

void tcp_listener_unlink(struct tcb *t)
{
    struct tcp_listener *l = t->listener;
    if (l == NULL)
        return;
    struct tcb **head, **tail;
    if (t->flags & TF_SYNQ) {
        head = &l->syn_head;
        tail = &l->syn_tail;
        l->nsyn--;
        t->sock.st->nsynrcvd--;
    } else if (t->flags & TF_ACCEPTQ) {
        head = &l->acc_head;
        tail = &l->acc_tail;
        l->nacc--;
    } else {
        t->listener = NULL;
        return;
    }
    if (t->qprev)
        t->qprev->qnext = t->qnext;
    else
        *head = t->qnext;
    if (t->qnext)
        t->qnext->qprev = t->qprev;
    else
        *tail = t->qprev;
    t->qprev = t->qnext = NULL;
    t->flags &= ~(TF_SYNQ | TF_ACCEPTQ);
    t->listener = NULL;
}

void tcb_queue_append(struct tcb **head, struct tcb **tail, struct tcb *t)
{
    t->qnext = NULL;
    t->qprev = *tail;
    if (*tail)
        (*tail)->qnext = t;
    else
        *head = t;
    *tail = t;
}

/*
 * The connection is over. A socket the user still holds stays as a CLOSED
 * block (its unread bytes readable) until net_close; anything else is freed.
 */
void tcb_release(struct net_stack *st, struct tcb *t)
{
    tcb_unhash(st, t);
    tcp_timer_cancel(st, t);
    out_unlink(st, t);
    tcp_listener_unlink(t);
    t->state = NET_TCP_CLOSED;
    if (t->sock.user_owned && !(t->flags & TF_ORPHAN))
        return;
    net_sock_unready(&t->sock);
    if (t->sbuf)
        pool_put(&st->spool, t->sbuf);
    if (t->rbuf)
        pool_put(&st->rpool, t->rbuf);
    t->sbuf = t->rbuf = NULL;
    if (t->aprev)
        t->aprev->anext = t->anext;
    else
        st->all = t->anext;
    if (t->anext)
        t->anext->aprev = t->aprev;
    st->nconns--;
    t->hnext = st->tcb_free;
    st->tcb_free = t;
}

void tcb_drop(struct net_stack *st, struct tcb *t, int err)
{
    t->err = err;
    if (t->sock.user_owned && !(t->flags & TF_ORPHAN))
        net_sock_event(&t->sock, NET_EV_ERROR | NET_EV_READ | NET_EV_WRITE);
    tcb_release(st, t);
}

void tcb_enter_time_wait(struct net_stack *st, struct tcb *t)
{
    st->ctr.tcp_time_wait++;
    tcp_send_ack(st, t);
    uint64_t expires = st->now + (uint64_t)st->p.time_wait_ms * NET_MS;
    if (t->flags & TF_ORPHAN) {
        tw_insert(st, t, expires);
        tcb_release(st, t);
        return;
    }
    t->state = NET_TCP_TIME_WAIT;
    uint64_t keep = 0;
    tcp_timer_cancel(st, t);
    t->t_close = expires + keep;
    tcp_timer_update(st, t);
}

/* RFC 6528: a clock (4 µs) plus a keyed hash of the 4-tuple. */
uint32_t tcp_isn(struct net_stack *st, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport)
{
    if (st->isn != NULL) {
        struct net_endpoint l = { lip, lport }, r = { rip, rport };
        return st->isn(st->isn_arg, &l, &r);
    }
    uint64_t h = ((uint64_t)lip << 32 | rip) ^ st->isn_key[0];
    h *= 0x9e3779b97f4a7c15ull;
    h ^= ((uint64_t)lport << 16 | rport) ^ st->isn_key[1];
    h *= 0xc2b2ae3d27d4eb4full;
    h ^= h >> 31;
    h *= 0x165667b19e3779f9ull;
    h ^= h >> 29;
    return (uint32_t)(h >> 32) + (uint32_t)(st->now / 4000);
}

/* Send-side defaults once the ISS is known (RFC 6928 initial window). */
void tcb_init_send(struct net_stack *st, struct tcb *t)
{
    t->snd_una = t->iss;
    t->snd_nxt = t->snd_max = t->iss + 1;
    t->recover = t->iss;
    t->ssthresh = 0x7fffffff;
    t->flags |= TF_RTT_TIMING; /* the SYN is timed */
    t->rtt_seq = t->iss + 1;
    t->rtt_start = st->now;
}

void tcp_established(struct net_stack *st, struct tcb *t)
{
    uint32_t mss = MIN(t->peer_mss ? t->peer_mss : TCP_DEFAULT_MSS, st->mtu - IP_HLEN - TCP_HLEN);
    if (t->flags & TF_TS)
        mss -= TCP_TS_OPTLEN;
    t->mss = MAX(mss, 64u);
    t->cwnd = MIN(10 * t->mss, MAX(2 * t->mss, 14600u));
    tcb_attach_buffers(st, t);
    t->state = (t->flags & TF_FIN_QUEUED) ? NET_TCP_FIN_WAIT_1 : NET_TCP_ESTABLISHED;
    t->backoff = 0;
    t->t_rexmt = 0;
    st->ctr.tcp_established++;
    if (t->keep_idle_s)
        t->t_keep = st->now + (uint64_t)t->keep_idle_s * 1000000000ull;
    tcp_timer_update(st, t);
    if (t->flags & TF_PASSIVE) {
        struct tcp_listener *l = t->listener;
        tcp_listener_unlink(t);
        t->listener = l;
        t->flags |= TF_ACCEPTQ;
        tcb_queue_append(&l->acc_head, &l->acc_tail, t);
        l->nacc++;
        net_sock_event(&l->sock, NET_EV_ACCEPT);
    } else {
        net_sock_event(&t->sock, NET_EV_CONNECTED | NET_EV_WRITE);
    }
    if (t->flags & TF_FIN_QUEUED)
        tcp_want_output(st, t);
}

/* ---------------------------------------------------------------------------
 * Listeners
 * ------------------------------------------------------------------------ */

struct tcp_listener *tcp_listener_find(struct net_stack *st, uint32_t ip, uint16_t port)
{
    struct tcp_listener *any = NULL;
    for (struct tcp_listener *l = st->listeners; l != NULL; l = l->next) {
        if (l->port != port)
            continue;
        if (l->ip == ip)
            return l;
        if (l->ip == 0)
            any = l;
    }
    return any;
}

int net_listen(struct net_stack *st, uint32_t ip, uint16_t port, unsigned backlog, void *user,
               struct net_sock **out)
{
    if (port == 0 || backlog == 0)
        return -EINVAL;
    for (struct tcp_listener *l = st->listeners; l != NULL; l = l->next)
        if (l->port == port && (l->ip == ip || l->ip == 0 || ip == 0))
            return -EADDRINUSE;
    struct tcp_listener *l = mem_calloc(sizeof(*l));
    l->sock.kind = NET_SOCK_LISTEN;
    l->sock.st = st;
    l->sock.user = user;
    l->sock.user_owned = true;
    l->ip = ip;
    l->port = port;
    l->backlog = backlog;
    l->next = st->listeners;
    st->listeners = l;
    st->nlisteners++;
    *out = &l->sock;
    return 0;
}

static void close_listener(struct net_stack *st, struct tcp_listener *l, bool reset)
{
    while (l->syn_head != NULL)
        tcb_release(st, l->syn_head);
    while (l->acc_head != NULL) {
        struct tcb *t = l->acc_head;
        if (reset)
            tcp_send_rst(st, t);
        tcb_release(st, t);
    }
    struct tcp_listener **pp = &st->listeners;
    while (*pp != l)
        pp = &(*pp)->next;
    *pp = l->next;
    st->nlisteners--;
    net_sock_unready(&l->sock);
    mem_free(l);
}

struct net_sock *net_accept(struct net_sock *ls, void *user)
{
    if (ls->kind != NET_SOCK_LISTEN)
        return NULL;
    struct tcp_listener *l = (struct tcp_listener *)ls;
    struct tcb *t = l->acc_head;
    if (t == NULL)
        return NULL;
    tcp_listener_unlink(t);
    t->sock.user_owned = true;
    t->sock.user = user;
    ls->st->ctr.tcp_accepted++;
    net_sock_rearm(&t->sock);
    return &t->sock;
}

/* ---------------------------------------------------------------------------
 * Active open
 * ------------------------------------------------------------------------ */

static bool tuple_free(struct net_stack *st, uint32_t lip, uint16_t lport, uint32_t rip,
                       uint16_t rport)
{
    return tcb_lookup(st, lip, lport, rip, rport) == NULL &&
           tw_lookup(st, lip, lport, rip, rport) == NULL &&
           tcp_listener_find(st, lip, lport) == NULL;
}

static int pick_port(struct net_stack *st, uint32_t lip, uint32_t rip, uint16_t rport)
{
    uint16_t lo = (uint16_t)st->p.port_min, hi = (uint16_t)st->p.port_max;
    if (lo > hi)
        return -EADDRNOTAVAIL;
    uint32_t range = (uint32_t)hi - lo + 1;
    uint16_t start = (uint16_t)(lo + net_rand(st) % range);
    for (uint32_t i = 0; i < range; i++) {
        uint16_t p;
        if (st->rss != NULL) {
            int r = rss_pick_port(st->rss, lip, rip, rport, st->rss_queue, lo, hi, start);
            if (r < 0)
                return -EADDRNOTAVAIL;
            p = (uint16_t)r;
            start = p == hi ? lo : (uint16_t)(p + 1);
        } else {
            p = (uint16_t)(lo + (start - lo + i) % range);
        }
        if (tuple_free(st, lip, p, rip, rport))
            return p;
    }
    return -EADDRNOTAVAIL;
}

int net_connect(struct net_stack *st, uint32_t dst_ip, uint16_t dst_port, uint32_t src_ip,
                void *user, struct net_sock **out)
{
    if (st->naddr == 0 || dst_ip == 0 || dst_port == 0)
        return -ENETUNREACH;
    uint32_t src = src_ip;
    if (src == 0) {
        src = ip_source_for(st, dst_ip);
        if (src == 0)
            src = st->addr[0].ip;
    } else if (!net_is_local(st, src)) {
        return -EADDRNOTAVAIL;
    }
    if (ip_route(st, dst_ip) == 0)
        return -ENETUNREACH;
    if (st->nconns >= st->max_conns)
        return -ENOBUFS;
    int port = pick_port(st, src, dst_ip, dst_port);
    if (port < 0)
        return port;
    struct tcb *t = tcb_create(st);
    t->lip = src;
    t->lport = (uint16_t)port;
    t->rip = dst_ip;
    t->rport = dst_port;
    t->sock.user = user;
    t->sock.user_owned = true;
    t->rcv_wscale = st->rcv_wscale;
    t->iss = tcp_isn(st, src, t->lport, dst_ip, dst_port);
    tcb_init_send(st, t);
    tcb_attach_buffers(st, t);
    t->state = NET_TCP_SYN_SENT;
    t->last_rx = st->now;
    tcb_hash_insert(st, t);
    st->ctr.tcp_active_opens++;
    tcp_send_syn(st, t);
    tcp_rexmt_arm(st, t);
    *out = &t->sock;
    return 0;
}

/* ---------------------------------------------------------------------------
 * Data
 * ------------------------------------------------------------------------ */

static size_t readable(const struct tcb *t)
{
    uint32_t n = t->rcv_nxt - t->rcv_read;
    if (t->flags & TF_RCV_FIN)
        n--;
    return t->rbuf ? n : 0;
}

size_t net_sock_readable(const struct net_sock *s)
{
    return s->kind == NET_SOCK_TCP ? readable((const struct tcb *)s) : 0;
}

size_t net_sock_unacked(const struct net_sock *s)
{
    return s->kind == NET_SOCK_TCP ? ((const struct tcb *)s)->slen : 0;
}

/* After a read: tell the peer about a window that opened enough to matter. */
static void maybe_window_update(struct net_stack *st, struct tcb *t)
{
    uint32_t right = t->rcv_read + t->rsize;
    if (SEQ_GT(right, t->rcv_adv) && right - t->rcv_adv >= MIN(t->rsize / 2, 2 * t->mss) &&
        (t->state == NET_TCP_ESTABLISHED || t->state == NET_TCP_FIN_WAIT_1 ||
         t->state == NET_TCP_FIN_WAIT_2)) {
        t->flags |= TF_ACK_NOW;
        tcp_want_output(st, t);
    }
}

ssize_t net_read(struct net_sock *s, void *buf, size_t len)
{
    if (s->kind != NET_SOCK_TCP)
        return -EINVAL;
    struct tcb *t = (struct tcb *)s;
    size_t n = readable(t);
    if (n == 0 || (t->flags & TF_SHUT_RD)) {
        if ((t->flags & (TF_RCV_FIN | TF_SHUT_RD)) || (t->state == NET_TCP_CLOSED && !t->err))
            return 0;
        if (t->err)
            return -t->err;
        return -EAGAIN;
    }
    if (n > len)
        n = len;
    uint32_t mask = t->rsize - 1;
    uint32_t idx = (t->rcv_read - t->irs - 1) & mask;
    uint32_t first = (uint32_t)MIN(n, (size_t)(t->rsize - idx));
    memcpy(buf, t->rbuf + idx, first);
    memcpy((uint8_t *)buf + first, t->rbuf, n - first);
    t->rcv_read += (uint32_t)n;
    maybe_window_update(s->st, t);
    return (ssize_t)n;
}

ssize_t net_writev(struct net_sock *s, const struct iovec *iov, int iovcnt)
{
    if (s->kind != NET_SOCK_TCP)
        return -EINVAL;
    struct tcb *t = (struct tcb *)s;
    if (t->err)
        return -t->err;
    if ((t->flags & (TF_FIN_QUEUED | TF_ORPHAN)) ||
        !(t->state == NET_TCP_SYN_SENT || t->state == NET_TCP_ESTABLISHED ||
          t->state == NET_TCP_CLOSE_WAIT))
        return -EPIPE;
    uint32_t space = t->ssize - t->slen;
    if (space == 0) {
        t->flags |= TF_WANT_WRITE;
        return -EAGAIN;
    }
    uint32_t mask = t->ssize - 1;
    uint32_t base = t->snd_una == t->iss ? t->iss + 1 : t->snd_una; /* SYN not acked yet */
    size_t total = 0, offered = 0;
    for (int i = 0; i < iovcnt; i++) {
        offered += iov[i].iov_len;
        const uint8_t *p = iov[i].iov_base;
        size_t left = iov[i].iov_len;
        while (left > 0 && space > 0) {
            uint32_t idx = (base + t->slen - t->iss - 1) & mask;
            uint32_t chunk = (uint32_t)MIN(left, (size_t)MIN(space, t->ssize - idx));
            memcpy(t->sbuf + idx, p, chunk);
            p += chunk;
            left -= chunk;
            space -= chunk;
            t->slen += chunk;
            total += chunk;
        }
    }
    if (total < offered)
        t->flags |= TF_WANT_WRITE;
    if (t->state != NET_TCP_SYN_SENT)
        tcp_want_output(s->st, t);
    return (ssize_t)total;
}

ssize_t net_write(struct net_sock *s, const void *buf, size_t len)
{
    struct iovec iov = { (void *)buf, len };
    return net_writev(s, &iov, 1);
}

int net_shutdown(struct net_sock *s, int how)
{
    if (s->kind != NET_SOCK_TCP)
        return -ENOTCONN;
    struct tcb *t = (struct tcb *)s;
    if (t->state == NET_TCP_CLOSED)
        return -ENOTCONN;
    if (how & NET_SHUT_RD) {
        t->flags |= TF_SHUT_RD;
        t->rcv_read = t->rcv_nxt - !!(t->flags & TF_RCV_FIN);
    }
    if ((how & NET_SHUT_WR) && !(t->flags & TF_FIN_QUEUED)) {
        t->flags |= TF_FIN_QUEUED;
        if (t->state == NET_TCP_ESTABLISHED)
            t->state = NET_TCP_FIN_WAIT_1;
        else if (t->state == NET_TCP_CLOSE_WAIT)
            t->state = NET_TCP_LAST_ACK;
        if (t->state != NET_TCP_SYN_SENT && t->state != NET_TCP_SYN_RCVD)
            tcp_want_output(s->st, t);
    }
    return 0;
}

void net_close(struct net_sock *s)
{
    struct net_stack *st = s->st;
    if (s->kind == NET_SOCK_LISTEN) {
        close_listener(st, (struct tcp_listener *)s, true);
        return;
    }
    struct tcb *t = (struct tcb *)s;
    t->flags |= TF_ORPHAN;
    s->user_owned = false;
    s->user = NULL;
    s->ev = 0;
    net_sock_unready(s);
    switch (t->state) {
    case NET_TCP_CLOSED:
    case NET_TCP_SYN_SENT:
        tcb_release(st, t);
        return;
    case NET_TCP_TIME_WAIT:
        tw_insert(st, t, t->t_close ? t->t_close : st->now);
        tcb_release(st, t);
        return;
    default:
        break;
    }
    if (readable(t) > 0 && !(t->flags & TF_SHUT_RD)) {
        /* RFC 1122 §4.2.2.13: closing with unread data resets the connection. */
        st->ctr.tcp_conn_aborted++;
        tcp_send_rst(st, t);
        tcb_release(st, t);
        return;
    }
    net_shutdown(s, NET_SHUT_WR);
    if (t->state == NET_TCP_FIN_WAIT_2) {
        t->t_close = st->now + (uint64_t)st->p.fin_timeout_ms * NET_MS;
        tcp_timer_update(st, t);
    }
}

void net_abort(struct net_sock *s)
{
    if (s->kind != NET_SOCK_TCP) {
        net_close(s);
        return;
    }
    struct tcb *t = (struct tcb *)s;
    struct net_stack *st = s->st;
    t->flags |= TF_ORPHAN;
    s->user_owned = false;
    s->user = NULL;
    if (t->state != NET_TCP_CLOSED && t->state != NET_TCP_SYN_SENT &&
        t->state != NET_TCP_TIME_WAIT) {
        st->ctr.tcp_conn_aborted++;
        tcp_send_rst(st, t);
    }
    tcb_release(st, t);
}

/* ---------------------------------------------------------------------------
 * Socket properties
 * ------------------------------------------------------------------------ */

void net_sock_set_user(struct net_sock *s, void *user)
{
    s->user = user;
}

void *net_sock_user(const struct net_sock *s)
{
    return s->user;
}

void net_sock_rearm(struct net_sock *s)
{
    uint32_t ev = 0;
    if (s->kind == NET_SOCK_LISTEN) {
        if (((struct tcp_listener *)s)->acc_head != NULL)
            ev |= NET_EV_ACCEPT;
    } else {
        struct tcb *t = (struct tcb *)s;
        if (readable(t) > 0 || (t->flags & TF_RCV_FIN))
            ev |= NET_EV_READ;
        if (t->flags & TF_RCV_FIN)
            ev |= NET_EV_HUP;
        if (t->err)
            ev |= NET_EV_ERROR | NET_EV_READ | NET_EV_WRITE;
        if (t->state >= NET_TCP_ESTABLISHED && t->slen < t->ssize)
            ev |= NET_EV_WRITE;
    }
    if (ev)
        net_sock_event(s, ev);
}

int net_sock_error(const struct net_sock *s)
{
    return s->kind == NET_SOCK_TCP ? ((const struct tcb *)s)->err : 0;
}

void net_sock_local(const struct net_sock *s, struct net_endpoint *ep)
{
    if (s->kind == NET_SOCK_LISTEN) {
        const struct tcp_listener *l = (const struct tcp_listener *)s;
        ep->ip = l->ip;
        ep->port = l->port;
        return;
    }
    const struct tcb *t = (const struct tcb *)s;
    ep->ip = t->lip;
    ep->port = t->lport;
}

void net_sock_peer(const struct net_sock *s, struct net_endpoint *ep)
{
    if (s->kind == NET_SOCK_LISTEN) {
        ep->ip = 0;
        ep->port = 0;
        return;
    }
    const struct tcb *t = (const struct tcb *)s;
    ep->ip = t->rip;
    ep->port = t->rport;
}

int net_set_keepalive(struct net_sock *s, int idle_s)
{
    if (s->kind != NET_SOCK_TCP || idle_s < 0)
        return -EINVAL;
    struct tcb *t = (struct tcb *)s;
    t->keep_idle_s = (uint32_t)idle_s;
    t->keep_probes = 0;
    if (idle_s > 0 && t->state >= NET_TCP_ESTABLISHED && t->state != NET_TCP_TIME_WAIT) {
        t->t_keep = t->last_rx + (uint64_t)idle_s * 1000000000ull;
        if (t->t_keep <= s->st->now)
            t->t_keep = s->st->now + 1;
    } else {
        t->t_keep = 0;
    }
    tcp_timer_update(s->st, t);
    return 0;
}

enum net_tcp_state net_sock_state(const struct net_sock *s)
{
    if (s->kind == NET_SOCK_LISTEN)
        return NET_TCP_LISTEN;
    return (enum net_tcp_state)((const struct tcb *)s)->state;
}

const char *net_tcp_state_name(enum net_tcp_state st)
{
    static const char *const names[] = {
        "CLOSED",     "LISTEN",     "SYN_SENT", "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1",
        "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING",  "LAST_ACK", "TIME_WAIT",
    };
    return (unsigned)st < ARRAY_SIZE(names) ? names[st] : "?";
}
