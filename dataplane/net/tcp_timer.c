/*
 * TCP timers on a hashed timer wheel.
 *
 * Each connection has one wheel node and five deadlines (retransmission,
 * persist, delayed ACK, keepalive, close). The node sits in the slot of the
 * earliest deadline; moving a deadline later — the retransmission timer on
 * every ACK — does not touch the wheel: when the node fires early it is put
 * back at the real earliest deadline. Insert, cancel and advance are O(1)
 * per connection and tick, which a heap would not give for timers re-armed
 * on every segment. The wheel has 2048 slots of 1 ms; a deadline further out
 * (keepalive, TIME_WAIT of a held socket) stays in its slot and is skipped
 * on the revolutions before its own.
 */
#include <errno.h>

#include "net/tcp_int.h"

#define TICK_NS NET_TICK_NS
#define MASK    (NET_WHEEL_SLOTS - 1)

void wheel_init(struct wheel *w, uint64_t now)
{
    for (unsigned i = 0; i < NET_WHEEL_SLOTS; i++)
        w->slot[i].prev = w->slot[i].next = &w->slot[i];
    w->tick = now / TICK_NS;
    w->armed = 0;
}

static void wheel_link(struct wheel *w, struct wheel_node *n, uint64_t when)
{
    if (when <= w->tick)
        when = w->tick + 1;
    n->when = when;
    struct wheel_node *head = &w->slot[when & MASK];
    n->prev = head->prev;
    n->next = head;
    head->prev->next = n;
    head->prev = n;
    w->armed++;
}

static void wheel_unlink(struct wheel *w, struct wheel_node *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = n->prev = NULL;
    w->armed--;
}

static uint64_t earliest(const struct tcb *t)
{
    uint64_t m = UINT64_MAX;
    const uint64_t d[] = { t->t_rexmt, t->t_persist, t->t_delack, t->t_keep, t->t_close };
    for (unsigned i = 0; i < ARRAY_SIZE(d); i++)
        if (d[i] != 0 && d[i] < m)
            m = d[i];
    return m;
}

void tcp_timer_update(struct net_stack *st, struct tcb *t)
{
    uint64_t e = earliest(t);
    if (e == UINT64_MAX) {
        if (t->timer.next != NULL)
            wheel_unlink(&st->wheel, &t->timer);
        return;
    }
    uint64_t tick = (e + TICK_NS - 1) / TICK_NS;
    if (t->timer.next != NULL) {
        if (t->timer.when <= tick)
            return; /* fires early, then goes back at its real time */
        wheel_unlink(&st->wheel, &t->timer);
    }
    wheel_link(&st->wheel, &t->timer, tick);
}

void tcp_timer_cancel(struct net_stack *st, struct tcb *t)
{
    t->t_rexmt = t->t_persist = t->t_delack = t->t_keep = t->t_close = 0;
    if (t->timer.next != NULL)
        wheel_unlink(&st->wheel, &t->timer);
}

void tcp_rexmt_arm(struct net_stack *st, struct tcb *t)
{
    t->t_rexmt = st->now + (uint64_t)t->rto_ms * NET_MS;
    tcp_timer_update(st, t);
}

static uint32_t rto_clamp(const struct net_stack *st, uint64_t ms)
{
    if (ms < (uint64_t)st->p.rto_min_ms)
        ms = (uint64_t)st->p.rto_min_ms;
    if (ms > (uint64_t)st->p.rto_max_ms)
        ms = (uint64_t)st->p.rto_max_ms;
    return (uint32_t)ms;
}

/* RFC 6298 §2 with a clock granularity of 1 ms. */
void tcp_rtt_sample(struct net_stack *st, struct tcb *t, uint64_t rtt_ns)
{
    uint32_t r = (uint32_t)MIN(rtt_ns / 1000, 60000000ull);
    if (r == 0)
        r = 1;
    if (t->srtt_us == 0) {
        t->srtt_us = r;
        t->rttvar_us = r / 2;
    } else {
        uint32_t delta = t->srtt_us > r ? t->srtt_us - r : r - t->srtt_us;
        t->rttvar_us = (3 * t->rttvar_us + delta) / 4;
        t->srtt_us = (7 * t->srtt_us + r) / 8;
    }
    uint64_t rto_us = t->srtt_us + MAX(1000u, 4 * t->rttvar_us);
    t->rto_ms = rto_clamp(st, (rto_us + 999) / 1000);
}

/* Retransmission timeout: RFC 6298 §5 back-off, RFC 5681 §3.1 loss window. */
static bool rexmt_timeout(struct net_stack *st, struct tcb *t)
{
    t->t_rexmt = 0;
    bool opening = t->state == NET_TCP_SYN_SENT || t->state == NET_TCP_SYN_RCVD;
    unsigned limit = (unsigned)(opening ? st->p.syn_retries : st->p.retries);
    if (t->backoff >= limit) {
        st->ctr.tcp_conn_timeout++;
        if (t->state == NET_TCP_SYN_RCVD && (t->flags & TF_PASSIVE)) {
            tcb_release(st, t);
            return true;
        }
        if (!opening)
            tcp_send_rst(st, t);
        tcb_drop(st, t, ETIMEDOUT);
        return true;
    }
    t->backoff++;
    t->rto_ms = rto_clamp(st, (uint64_t)t->rto_ms * 2);
    t->flags &= ~TF_RTT_TIMING; /* Karn: no sample from retransmitted data */
    st->ctr.tcp_retrans_timeout++;
    if (opening) {
        tcp_send_syn(st, t);
        tcp_rexmt_arm(st, t);
        return false;
    }
    uint32_t flight = tcp_flight(t);
    t->ssthresh = MAX(flight / 2, 2 * t->mss);
    t->cwnd = t->mss;
    t->dupacks = 0;
    t->flags &= ~TF_RECOVERY;
    t->recover = t->snd_max;
    t->bytes_acked = 0;
    t->snd_nxt = t->snd_una;
    uint32_t len = MIN(t->slen, t->mss);
    if (len > 0 || ((t->flags & TF_FIN_QUEUED) && !(t->flags & TF_FIN_ACKED))) {
        tcp_send_segment(st, t, t->snd_una, len);
        t->snd_nxt = t->snd_una + len;
        if ((t->flags & TF_FIN_QUEUED) && len == t->slen)
            t->snd_nxt++;
    }
    tcp_rexmt_arm(st, t);
    return false;
}

static void persist_timeout(struct net_stack *st, struct tcb *t)
{
    t->t_persist = 0;
    uint32_t unsent = t->slen - MIN(t->slen, t->snd_nxt - t->snd_una);
    if (t->snd_wnd != 0 || unsent == 0 || t->snd_una != t->snd_max)
        return;
    tcp_send_probe(st, t);
    st->ctr.tcp_zero_window_probes++;
    if (t->persist_backoff < 16)
        t->persist_backoff++;
    uint64_t ms = (uint64_t)t->rto_ms << MIN(t->persist_backoff, 10);
    t->t_persist = st->now + rto_clamp(st, ms) * NET_MS;
}

static bool keep_timeout(struct net_stack *st, struct tcb *t)
{
    t->t_keep = 0;
    if (t->keep_idle_s == 0 || (t->state != NET_TCP_ESTABLISHED && t->state != NET_TCP_CLOSE_WAIT))
        return false;
    uint64_t idle = (uint64_t)t->keep_idle_s * 1000000000ull;
    uint64_t intvl = (uint64_t)MAX(t->keep_idle_s / 3, 1u) * 1000000000ull;
    if (t->keep_probes == 0 && st->now < t->last_rx + idle) {
        t->t_keep = t->last_rx + idle;
        return false;
    }
    if (t->keep_probes >= TCP_KEEP_PROBES) {
        st->ctr.tcp_keepalive_timeouts++;
        tcp_send_rst(st, t);
        tcb_drop(st, t, ETIMEDOUT);
        return true;
    }
    tcp_send_probe(st, t);
    t->keep_probes++;
    st->ctr.tcp_keepalive_probes++;
    t->t_keep = st->now + intvl;
    return false;
}

static bool close_timeout(struct net_stack *st, struct tcb *t)
{
    t->t_close = 0;
    if (t->state == NET_TCP_FIN_WAIT_2 && (t->flags & TF_ORPHAN)) {
        tcb_release(st, t);
        return true;
    }
    if (t->state == NET_TCP_TIME_WAIT) {
        tcb_set_state(st, t, NET_TCP_CLOSED);
        if (t->flags & TF_ORPHAN) {
            tcb_release(st, t);
            return true;
        }
    }
    return false;
}

static void fire(struct net_stack *st, struct tcb *t)
{
    uint64_t now = st->now;
    if (t->t_close && now >= t->t_close && close_timeout(st, t))
        return;
    if (t->t_rexmt && now >= t->t_rexmt && rexmt_timeout(st, t))
        return;
    if (t->t_persist && now >= t->t_persist)
        persist_timeout(st, t);
    if (t->t_delack && now >= t->t_delack) {
        t->t_delack = 0;
        if (t->flags & TF_DELACK) {
            t->flags = (t->flags & ~TF_DELACK) | TF_ACK_NOW;
            st->ctr.tcp_delayed_acks++;
            tcp_want_output(st, t);
        }
    }
    if (t->t_keep && now >= t->t_keep && keep_timeout(st, t))
        return;
    tcp_timer_update(st, t);
}

unsigned tcp_timers_run(struct net_stack *st)
{
    struct wheel *w = &st->wheel;
    uint64_t target = st->now / TICK_NS;
    unsigned fired = 0;
    if (target <= w->tick)
        return 0;
    if (w->armed == 0) {
        w->tick = target;
        return 0;
    }
    uint64_t steps = MIN(target - w->tick, (uint64_t)NET_WHEEL_SLOTS);
    uint64_t first = target - steps + 1;
    for (uint64_t tick = first; tick <= target; tick++) {
        struct wheel_node *head = &w->slot[tick & MASK];
        w->tick = tick;
        if (head->next == head)
            continue;
        /* Detach the slot so that nodes put back into it are not seen twice. */
        struct wheel_node local = { .prev = head->prev, .next = head->next, .when = 0 };
        local.next->prev = &local;
        local.prev->next = &local;
        head->next = head->prev = head;
        while (local.next != &local) {
            struct wheel_node *n = local.next;
            n->prev->next = n->next;
            n->next->prev = n->prev;
            n->next = n->prev = NULL;
            w->armed--;
            if (n->when > target) {
                wheel_link(w, n, n->when);
                continue;
            }
            fired++;
            fire(st, container_of(n, struct tcb, timer));
        }
    }
    w->tick = target;
    return fired;
}

uint64_t tcp_next_timer(const struct net_stack *st)
{
    const struct wheel *w = &st->wheel;
    if (w->armed == 0)
        return UINT64_MAX;
    for (uint64_t i = 1; i <= NET_WHEEL_SLOTS; i++) {
        const struct wheel_node *head = &w->slot[(w->tick + i) & MASK];
        if (head->next != head)
            return (w->tick + i) * TICK_NS;
    }
    return UINT64_MAX;
}
