/*
 * TCP input: RFC 9293 §3.10.7 "SEGMENT ARRIVES", with RFC 7323 (window
 * scaling, timestamps, PAWS), RFC 5961 (RST, SYN and ACK validation),
 * RFC 5681 and RFC 6582 (duplicate ACKs, fast retransmit, NewReno recovery).
 *
 * Received bytes go straight to their place in the receive ring, in order or
 * not: an out-of-order segment is copied to the ring offset of its sequence
 * number and remembered as an interval [start, end). The reassembly queue is
 * therefore bounded twice: by the window (the ring) and by pollux-net-ooo-max
 * intervals; a segment that would need one more interval is dropped and
 * counted. When the hole before the first interval fills, rcv_nxt jumps over
 * it without moving a byte.
 */
#include <errno.h>

#include "net/cksum.h"
#include "net/tcp_int.h"

static void parse_options(struct tcp_seg *g, const uint8_t *p, const uint8_t *end)
{
    while (p < end) {
        uint8_t kind = p[0];
        if (kind == TCPOPT_EOL)
            break;
        if (kind == TCPOPT_NOP) {
            p++;
            continue;
        }
        if (end - p < 2 || p[1] < 2 || p[1] > end - p)
            break;
        uint8_t len = p[1];
        if (kind == TCPOPT_MSS && len == 4 && (g->flags & TH_SYN)) {
            g->mss = net_rd16(p + 2);
        } else if (kind == TCPOPT_WSCALE && len == 3 && (g->flags & TH_SYN)) {
            g->wscale = (int8_t)MIN(p[2], TCP_MAX_WSCALE);
        } else if (kind == TCPOPT_TIMESTAMP && len == 10) {
            g->ts = true;
            g->tsval = net_rd32(p + 2);
            g->tsecr = net_rd32(p + 6);
        }
        p += len;
    }
}

/* ---------------------------------------------------------------------------
 * Receive ring
 * ------------------------------------------------------------------------ */

static void ring_put(struct tcb *t, uint32_t seq, const uint8_t *data, uint32_t len)
{
    uint32_t mask = t->rsize - 1;
    uint32_t idx = (seq - t->irs - 1) & mask;
    uint32_t first = MIN(len, t->rsize - idx);
    memcpy(t->rbuf + idx, data, first);
    memcpy(t->rbuf, data + first, len - first);
}

/* Record [s, e) as held; false when that would take more than ooo-max intervals. */
static bool ooo_add(struct net_stack *st, struct tcb *t, uint32_t s, uint32_t e)
{
    unsigned n = t->nooo, i = 0;
    while (i < n && SEQ_LT(t->ooo[i].end, s))
        i++;
    /* intervals i.. that touch [s, e) merge with it */
    unsigned j = i;
    while (j < n && SEQ_LEQ(t->ooo[j].start, e)) {
        if (SEQ_LT(t->ooo[j].start, s))
            s = t->ooo[j].start;
        if (SEQ_GT(t->ooo[j].end, e))
            e = t->ooo[j].end;
        j++;
    }
    if (j == i) {
        if (n >= (unsigned)MIN(st->p.ooo_max, TCP_OOO_MAX))
            return false;
        memmove(&t->ooo[i + 1], &t->ooo[i], (n - i) * sizeof(t->ooo[0]));
        t->nooo++;
    } else if (j > i + 1) {
        memmove(&t->ooo[i + 1], &t->ooo[j], (n - j) * sizeof(t->ooo[0]));
        t->nooo = (uint8_t)(n - (j - i - 1));
    }
    t->ooo[i].start = s;
    t->ooo[i].end = e;
    return true;
}

static void fin_arrived(struct net_stack *st, struct tcb *t);

/* rcv_nxt moved: take the intervals it reached, then a FIN waiting behind them. */
static void advance_rcv(struct net_stack *st, struct tcb *t)
{
    unsigned k = 0;
    while (k < t->nooo && SEQ_LEQ(t->ooo[k].start, t->rcv_nxt)) {
        if (SEQ_GT(t->ooo[k].end, t->rcv_nxt)) {
            st->ctr.tcp_bytes_in += t->ooo[k].end - t->rcv_nxt;
            t->rcv_nxt = t->ooo[k].end;
        }
        k++;
    }
    if (k > 0) {
        memmove(&t->ooo[0], &t->ooo[k], (t->nooo - k) * sizeof(t->ooo[0]));
        t->nooo = (uint8_t)(t->nooo - k);
        t->flags |= TF_ACK_NOW; /* a hole filled: tell the sender at once */
    }
    if ((t->flags & TF_FIN_PENDING) && t->rcv_nxt == t->rcv_fin_seq) {
        t->flags &= ~TF_FIN_PENDING;
        fin_arrived(st, t);
    }
}

void tcp_data_readable(struct net_stack *st, struct tcb *t)
{
    (void)st;
    net_sock_event(&t->sock, NET_EV_READ);
}

/* ---------------------------------------------------------------------------
 * State changes
 * ------------------------------------------------------------------------ */

static void fin_arrived(struct net_stack *st, struct tcb *t)
{
    t->rcv_nxt++;
    t->flags |= TF_RCV_FIN | TF_ACK_NOW;
    tcp_want_output(st, t);
    net_sock_event(&t->sock, NET_EV_READ | NET_EV_HUP);
    switch (t->state) {
    case NET_TCP_SYN_RCVD:
    case NET_TCP_ESTABLISHED:
        t->state = NET_TCP_CLOSE_WAIT;
        break;
    case NET_TCP_FIN_WAIT_1:
        if (t->flags & TF_FIN_ACKED)
            tcb_enter_time_wait(st, t);
        else
            t->state = NET_TCP_CLOSING;
        break;
    case NET_TCP_FIN_WAIT_2:
        tcb_enter_time_wait(st, t);
        break;
    default:
        break;
    }
}

/* Bytes at [seq, seq+len) within the window: in order, or into the reassembly queue. */
static void data_input(struct net_stack *st, struct tcb *t, uint32_t seq, const uint8_t *data,
                       uint32_t len)
{
    if (t->flags & TF_ORPHAN) {
        /* Nobody will read them (RFC 1122 §4.2.2.13). */
        st->ctr.tcp_drop_after_close++;
        tcp_send_rst(st, t);
        tcb_release(st, t);
        return;
    }
    if (t->flags & TF_SHUT_RD) {
        if (seq == t->rcv_nxt) {
            t->rcv_nxt += len;
            t->rcv_read = t->rcv_nxt;
            advance_rcv(st, t);
        }
        t->flags |= TF_ACK_NOW;
        tcp_want_output(st, t);
        return;
    }
    if (seq == t->rcv_nxt) {
        ring_put(t, seq, data, len);
        t->rcv_nxt += len;
        st->ctr.tcp_bytes_in += len;
        t->rcv_unacked += len;
        advance_rcv(st, t);
        if (t->nooo > 0 || t->rcv_unacked >= 2 * t->mss) {
            t->flags |= TF_ACK_NOW;
        } else if (!(t->flags & (TF_DELACK | TF_ACK_NOW))) {
            t->flags |= TF_DELACK;
            t->t_delack = st->now + (uint64_t)st->p.delack_ms * NET_MS;
            tcp_timer_update(st, t);
        }
        if (t->flags & TF_ACK_NOW)
            tcp_want_output(st, t);
        tcp_data_readable(st, t);
        return;
    }
    if (!ooo_add(st, t, seq, seq + len)) {
        st->ctr.tcp_drop_ooo_full++;
    } else {
        ring_put(t, seq, data, len);
        st->ctr.tcp_ooo_segs++;
    }
    tcp_send_ack(st, t); /* an immediate duplicate ACK (RFC 5681 §4.2) */
}

/* ---------------------------------------------------------------------------
 * ACK processing
 * ------------------------------------------------------------------------ */

static void restart_rexmt(struct net_stack *st, struct tcb *t)
{
    if (t->snd_una == t->snd_max) {
        t->t_rexmt = 0;
        tcp_timer_update(st, t);
    } else {
        tcp_rexmt_arm(st, t);
    }
}

static void retransmit_first(struct net_stack *st, struct tcb *t)
{
    uint32_t len = MIN(t->slen, t->mss);
    tcp_send_segment(st, t, t->snd_una, len);
}

static void ack_new(struct net_stack *st, struct tcb *t, uint32_t ack)
{
    uint32_t acked = ack - t->snd_una;
    if ((t->flags & TF_FIN_QUEUED) && ack == t->snd_una + t->slen + 1) {
        t->flags |= TF_FIN_ACKED;
        acked--;
    }
    uint32_t data = MIN(acked, t->slen);
    t->slen -= data;
    t->snd_una = ack;
    if (SEQ_LT(t->snd_nxt, t->snd_una))
        t->snd_nxt = t->snd_una;
    if ((t->flags & TF_RTT_TIMING) && SEQ_GEQ(ack, t->rtt_seq)) {
        t->flags &= ~TF_RTT_TIMING;
        tcp_rtt_sample(st, t, st->now - t->rtt_start);
    }
    if (t->backoff) {
        t->backoff = 0;
        if (t->srtt_us) {
            uint64_t rto_us = t->srtt_us + MAX(1000u, 4 * t->rttvar_us);
            uint64_t ms = (rto_us + 999) / 1000;
            t->rto_ms =
                (uint32_t)MAX(MIN(ms, (uint64_t)st->p.rto_max_ms), (uint64_t)st->p.rto_min_ms);
        } else {
            t->rto_ms = (uint32_t)st->p.rto_initial_ms;
        }
    }
    if (t->flags & TF_RECOVERY) {
        if (SEQ_GEQ(ack, t->recover)) {
            /* Full acknowledgment (RFC 6582 §3.2 step 3). */
            t->cwnd = MIN(t->ssthresh, MAX(tcp_flight(t), t->mss) + t->mss);
            t->flags &= ~TF_RECOVERY;
            t->dupacks = 0;
        } else {
            /* Partial: the next hole is lost too; deflate by what was acked. */
            retransmit_first(st, t);
            t->cwnd = t->cwnd > data ? t->cwnd - data : 0;
            if (data >= t->mss)
                t->cwnd += t->mss;
            t->cwnd = MAX(t->cwnd, t->mss);
        }
    } else {
        t->dupacks = 0;
        if (t->cwnd < t->ssthresh) {
            t->cwnd += MIN(data, t->mss);
        } else {
            t->bytes_acked += data;
            if (t->bytes_acked >= t->cwnd) {
                t->bytes_acked -= t->cwnd;
                t->cwnd += t->mss;
            }
        }
    }
    restart_rexmt(st, t);
    if ((t->flags & TF_WANT_WRITE) && (t->slen <= t->ssize - t->ssize / 4 || t->slen == 0)) {
        t->flags &= ~TF_WANT_WRITE;
        net_sock_event(&t->sock, NET_EV_WRITE);
    }
    tcp_want_output(st, t);
}

static void dup_ack(struct net_stack *st, struct tcb *t, uint32_t ack)
{
    st->ctr.tcp_dup_acks++;
    if (t->dupacks < 255)
        t->dupacks++;
    if (t->dupacks == 3 && !(t->flags & TF_RECOVERY) && SEQ_GEQ(ack, t->recover)) {
        t->ssthresh = MAX(tcp_flight(t) / 2, 2 * t->mss);
        t->recover = t->snd_max;
        t->flags |= TF_RECOVERY;
        t->flags &= ~TF_RTT_TIMING;
        st->ctr.tcp_retrans_fast++;
        retransmit_first(st, t);
        t->cwnd = t->ssthresh + 3 * t->mss;
        tcp_rexmt_arm(st, t);
    } else if (t->dupacks > 3 && (t->flags & TF_RECOVERY)) {
        t->cwnd += t->mss;
        tcp_want_output(st, t);
    }
}

/* ---------------------------------------------------------------------------
 * Segment arrival, by state
 * ------------------------------------------------------------------------ */

/*
 * What the peer's SYN tells us: its ISN, MSS, window scale and timestamp.
 * Scaling and timestamps are on only when both SYNs carry them (ours always
 * offer them actively; a passive open answers with what the peer offered).
 */
static void take_syn(struct net_stack *st, struct tcb *t, const struct tcp_seg *g)
{
    t->irs = g->seq;
    t->rcv_nxt = t->rcv_read = t->rcv_adv = t->last_ack_sent = g->seq + 1;
    t->peer_mss = g->mss ? g->mss : TCP_DEFAULT_MSS;
    if (g->wscale >= 0) {
        t->flags |= TF_WSCALE;
        t->snd_wscale = (uint8_t)g->wscale;
        t->rcv_wscale = st->rcv_wscale;
    } else {
        t->snd_wscale = t->rcv_wscale = 0;
    }
    if (g->ts) {
        t->flags |= TF_TS | TF_TS_RECENT;
        t->ts_recent = g->tsval;
        t->ts_recent_ns = st->now;
    }
    t->snd_wnd = t->max_snd_wnd = g->wnd; /* never scaled in a SYN */
    t->snd_wl1 = g->seq;
}

static void syn_sent_input(struct net_stack *st, struct tcb *t, const struct tcp_seg *g)
{
    if (g->flags & TH_ACK) {
        if (SEQ_LEQ(g->ack, t->iss) || SEQ_GT(g->ack, t->snd_max)) {
            tcp_reply_rst(st, g);
            return;
        }
    }
    if (g->flags & TH_RST) {
        st->ctr.tcp_rst_in++;
        if (g->flags & TH_ACK) {
            st->ctr.tcp_conn_refused++;
            tcb_drop(st, t, ECONNREFUSED);
        }
        return;
    }
    if (!(g->flags & TH_SYN))
        return;
    take_syn(st, t, g);
    t->snd_wl2 = g->ack;
    if (g->flags & TH_ACK) {
        t->snd_una = g->ack;
        if ((t->flags & TF_RTT_TIMING) && t->backoff == 0)
            tcp_rtt_sample(st, t, st->now - t->rtt_start);
        t->flags &= ~TF_RTT_TIMING;
        tcp_established(st, t);
        t->flags |= TF_ACK_NOW;
        tcp_want_output(st, t);
        return;
    }
    /* Simultaneous open (RFC 9293 §3.5, figure 7). */
    t->state = NET_TCP_SYN_RCVD;
    tcp_send_syn(st, t);
    tcp_rexmt_arm(st, t);
}

static bool acceptable(const struct tcb *t, const struct tcp_seg *g, uint32_t wnd)
{
    uint32_t len = tcp_seg_space(g);
    uint32_t lo = t->rcv_nxt, hi = t->rcv_nxt + wnd;
    if (len == 0)
        return wnd == 0 ? g->seq == lo : SEQ_GEQ(g->seq, lo) && SEQ_LT(g->seq, hi);
    if (wnd == 0)
        return false;
    uint32_t last = g->seq + len - 1;
    return (SEQ_GEQ(g->seq, lo) && SEQ_LT(g->seq, hi)) || (SEQ_GEQ(last, lo) && SEQ_LT(last, hi));
}

static void ack_now(struct net_stack *st, struct tcb *t)
{
    t->flags |= TF_ACK_NOW;
    tcp_want_output(st, t);
}

static void established_from_syn_rcvd(struct net_stack *st, struct tcb *t, const struct tcp_seg *g)
{
    t->snd_una = t->iss + 1;
    t->snd_wnd = (uint32_t)g->wnd << t->snd_wscale;
    t->max_snd_wnd = MAX(t->max_snd_wnd, t->snd_wnd);
    t->snd_wl1 = g->seq;
    t->snd_wl2 = g->ack;
    if ((t->flags & TF_RTT_TIMING) && t->backoff == 0)
        tcp_rtt_sample(st, t, st->now - t->rtt_start);
    t->flags &= ~TF_RTT_TIMING;
    tcp_established(st, t);
}

static void segment(struct net_stack *st, struct tcb *t, const struct tcp_seg *g)
{
    t->last_rx = st->now;
    t->keep_probes = 0;
    switch (t->state) {
    case NET_TCP_SYN_SENT:
        syn_sent_input(st, t, g);
        return;
    case NET_TCP_TIME_WAIT:
        if (!(g->flags & TH_RST) && (g->len > 0 || (g->flags & (TH_FIN | TH_SYN))))
            tcp_send_ack(st, t);
        return;
    default:
        break;
    }

    if (t->state == NET_TCP_SYN_RCVD && (g->flags & TH_SYN) && g->seq == t->irs &&
        !(g->flags & TH_RST)) {
        if (!(g->flags & TH_ACK)) {
            tcp_send_syn(st, t); /* our SYN-ACK was lost: the peer sent its SYN again */
            return;
        }
        /* Simultaneous open: the peer's SYN-ACK acknowledges our SYN. */
        if (SEQ_GT(g->ack, t->iss) && SEQ_LEQ(g->ack, t->snd_max)) {
            established_from_syn_rcvd(st, t, g);
            ack_now(st, t);
        }
        return;
    }

    /* RFC 7323 §5.3 R1: PAWS. */
    if ((t->flags & (TF_TS | TF_TS_RECENT)) == (TF_TS | TF_TS_RECENT) && g->ts &&
        !(g->flags & TH_RST) && SEQ_LT(g->tsval, t->ts_recent)) {
        if (st->now - t->ts_recent_ns > TCP_PAWS_IDLE_NS) {
            t->flags &= ~TF_TS_RECENT;
        } else {
            st->ctr.tcp_drop_paws++;
            ack_now(st, t);
            return;
        }
    }

    /* Sequence check (RFC 9293 §3.10.7.4 first). */
    uint32_t used = t->rcv_nxt - t->rcv_read;
    uint32_t wnd = used < t->rsize ? t->rsize - used : 0;
    bool data_ok = true;
    if (!acceptable(t, g, wnd)) {
        if (wnd == 0 && g->seq == t->rcv_nxt) {
            data_ok = false; /* zero window: still take its ACK, RST or window update */
        } else {
            if (!(g->flags & TH_RST)) {
                if (tcp_seg_space(g) > 0 && SEQ_LEQ(g->seq + tcp_seg_space(g), t->rcv_nxt))
                    st->ctr.tcp_dup_segs++;
                else if (tcp_seg_space(g) > 0)
                    st->ctr.tcp_drop_window++;
                ack_now(st, t);
            }
            return;
        }
    }

    /* R3: remember the timestamp to echo. */
    if ((t->flags & TF_TS) && g->ts && SEQ_LEQ(g->seq, t->last_ack_sent) &&
        (!(t->flags & TF_TS_RECENT) || SEQ_GEQ(g->tsval, t->ts_recent))) {
        t->ts_recent = g->tsval;
        t->ts_recent_ns = st->now;
        t->flags |= TF_TS_RECENT;
    }

    /* RST (RFC 5961 §3.2: only an exact match resets; in-window gets a challenge). */
    if (g->flags & TH_RST) {
        st->ctr.tcp_rst_in++;
        if (g->seq != t->rcv_nxt) {
            tcp_challenge_ack(st, t);
            return;
        }
        if (t->state == NET_TCP_SYN_RCVD) {
            if (t->flags & TF_PASSIVE) {
                tcb_release(st, t); /* back to LISTEN: only the half-open block goes */
            } else {
                st->ctr.tcp_conn_refused++;
                tcb_drop(st, t, ECONNREFUSED);
            }
            return;
        }
        if (t->state != NET_TCP_CLOSING && t->state != NET_TCP_LAST_ACK)
            st->ctr.tcp_conn_reset++;
        tcb_drop(st, t, ECONNRESET);
        return;
    }

    /* SYN in a synchronized state (RFC 5961 §4). */
    if (g->flags & TH_SYN) {
        tcp_challenge_ack(st, t);
        return;
    }
    if (!(g->flags & TH_ACK))
        return;

    if (t->state == NET_TCP_SYN_RCVD) {
        if (!(SEQ_GT(g->ack, t->iss) && SEQ_LEQ(g->ack, t->snd_max))) {
            tcp_reply_rst(st, g);
            return;
        }
        if ((t->flags & TF_PASSIVE) && t->listener->nacc >= t->listener->backlog) {
            st->ctr.tcp_drop_backlog_full++; /* the SYN-ACK is resent; the peer ACKs again */
            return;
        }
        established_from_syn_rcvd(st, t, g);
    }

    /* ACK (RFC 5961 §5: acceptable from SND.UNA - MAX.SND.WND to SND.NXT). */
    if (SEQ_GT(g->ack, t->snd_max)) {
        st->ctr.tcp_drop_bad_ack++;
        ack_now(st, t);
        return;
    }
    if (SEQ_LT(g->ack, t->snd_una - t->max_snd_wnd)) {
        ack_now(st, t);
        return;
    }
    uint32_t seg_wnd = (uint32_t)g->wnd << t->snd_wscale;
    if (SEQ_GT(g->ack, t->snd_una)) {
        ack_new(st, t, g->ack);
    } else if (g->ack == t->snd_una && g->len == 0 && !(g->flags & TH_FIN) &&
               seg_wnd == t->snd_wnd && t->snd_max != t->snd_una) {
        dup_ack(st, t, g->ack);
    }
    if (SEQ_LT(t->snd_wl1, g->seq) || (t->snd_wl1 == g->seq && SEQ_LEQ(t->snd_wl2, g->ack))) {
        if (seg_wnd != t->snd_wnd) {
            t->snd_wnd = seg_wnd;
            if (seg_wnd > t->max_snd_wnd)
                t->max_snd_wnd = seg_wnd;
            if (seg_wnd > 0 && t->t_persist) {
                t->t_persist = 0;
                tcp_timer_update(st, t);
            }
            tcp_want_output(st, t);
        }
        t->snd_wl1 = g->seq;
        t->snd_wl2 = g->ack;
    }

    switch (t->state) {
    case NET_TCP_FIN_WAIT_1:
        if (t->flags & TF_FIN_ACKED) {
            t->state = NET_TCP_FIN_WAIT_2;
            t->t_rexmt = 0;
            if (t->flags & TF_ORPHAN)
                t->t_close = st->now + (uint64_t)st->p.fin_timeout_ms * NET_MS;
            tcp_timer_update(st, t);
        }
        break;
    case NET_TCP_CLOSING:
        if (t->flags & TF_FIN_ACKED) {
            tcb_enter_time_wait(st, t);
            return;
        }
        break;
    case NET_TCP_LAST_ACK:
        if (t->flags & TF_FIN_ACKED) {
            tcb_release(st, t);
            return;
        }
        break;
    default:
        break;
    }

    /* Text. */
    uint32_t seq = g->seq;
    const uint8_t *data = g->data;
    uint32_t len = data_ok ? g->len : 0;
    bool fin = data_ok && (g->flags & TH_FIN);
    if (SEQ_LT(seq, t->rcv_nxt)) {
        uint32_t skip = t->rcv_nxt - seq;
        if (skip >= len) {
            if (len > 0)
                st->ctr.tcp_dup_segs++;
            skip = len;
        }
        data += skip;
        len -= skip;
        seq += skip;
    }
    uint32_t right = t->rcv_read + t->rsize;
    if (SEQ_GT(seq + len, right)) {
        len = SEQ_GT(right, seq) ? right - seq : 0;
        fin = false; /* beyond the window: the peer sends it again */
    }
    if (len > 0) {
        if (t->state == NET_TCP_ESTABLISHED || t->state == NET_TCP_FIN_WAIT_1 ||
            t->state == NET_TCP_FIN_WAIT_2) {
            data_input(st, t, seq, data, len);
            if (t->state == NET_TCP_CLOSED)
                return; /* reset after close */
        }
    } else if (g->len > 0) {
        ack_now(st, t); /* nothing new (or no room): re-ACK */
    }

    /* FIN. */
    if (fin && !(t->flags & TF_RCV_FIN)) {
        uint32_t fin_seq = g->seq + g->len;
        if (fin_seq == t->rcv_nxt) {
            fin_arrived(st, t);
        } else if (SEQ_GT(fin_seq, t->rcv_nxt)) {
            t->flags |= TF_FIN_PENDING;
            t->rcv_fin_seq = fin_seq;
        }
    } else if (fin) {
        ack_now(st, t); /* a retransmitted FIN */
    }
}

/* ---------------------------------------------------------------------------
 * Passive open
 * ------------------------------------------------------------------------ */

/* A new passive connection block for a SYN (g, or the one a cookie stands for) on l. */
static struct tcb *passive_open(struct net_stack *st, struct tcp_listener *l,
                                const struct tcp_seg *g)
{
    struct tcb *t = tcb_create(st);
    t->lip = g->dst;
    t->lport = g->dport;
    t->rip = g->src;
    t->rport = g->sport;
    t->flags |= TF_PASSIVE | TF_SYNQ;
    t->state = NET_TCP_SYN_RCVD;
    take_syn(st, t, g);
    t->last_rx = st->now;
    t->listener = l;
    tcb_queue_append(&l->syn_head, &l->syn_tail, t);
    l->nsyn++;
    st->nsynrcvd++;
    st->ctr.tcp_passive_opens++;
    return t;
}

/*
 * An ACK for a listener and no connection: the third segment of a handshake
 * answered with a cookie (tcp_cookie.c)? When it is, the connection is built
 * from the ACK and the segment goes through SYN_RCVD's path as if the
 * half-open block had been kept, its data included.
 * @return false when the caller should answer with a RST.
 */
static bool cookie_ack(struct net_stack *st, struct tcp_listener *l, const struct tcp_seg *g)
{
    if (l->cookie_sent_ns == 0 || st->now - l->cookie_sent_ns >= 2 * TCP_COOKIE_PERIOD_NS ||
        (g->flags & TH_SYN))
        return false; /* no cookie out there: an ordinary stray ACK */
    uint16_t mss;
    if (!tcp_cookie_check(st, g, &mss)) {
        st->ctr.tcp_syncookies_failed++;
        return false;
    }
    st->ctr.tcp_syncookies_recv++;
    if (l->nacc >= l->backlog) {
        st->ctr.tcp_drop_backlog_full++; /* nothing kept: the peer's next segment tries again */
        return true;
    }
    if (st->nconns >= st->max_conns) {
        st->ctr.tcp_drop_conn_limit++;
        return true;
    }
    /* The SYN the cookie stands for: the peer's ISN, the MSS it carries, and the
     * window scale our timestamp echoed back (timestamps on only if echoed). */
    struct tcp_seg syn = *g;
    syn.seq = g->seq - 1;
    syn.flags = TH_SYN;
    syn.len = 0;
    syn.mss = mss;
    syn.wscale = -1;
    if (g->ts && (g->tsecr & 15u) != 15u)
        syn.wscale = (int8_t)MIN(g->tsecr & 15u, TCP_MAX_WSCALE);
    struct tcb *t = passive_open(st, l, &syn);
    t->iss = g->ack - 1;
    tcb_init_send(st, t);
    t->flags &= ~TF_RTT_TIMING; /* the SYN-ACK was not timed */
    tcb_hash_insert(st, t);
    segment(st, t, g);
    return true;
}

static void listen_input(struct net_stack *st, struct tcp_listener *l, const struct tcp_seg *g)
{
    if (g->flags & TH_RST)
        return;
    if (g->flags & TH_ACK) {
        if (!cookie_ack(st, l, g))
            tcp_reply_rst(st, g);
        return;
    }
    if ((g->flags & (TH_SYN | TH_FIN)) != TH_SYN)
        return;
    if (st->syn_hook != NULL) {
        struct net_endpoint peer = { g->src, g->sport }, local = { g->dst, g->dport };
        enum net_syn_verdict v = st->syn_hook(st->syn_hook_arg, &peer, &local);
        if (v != NET_SYN_ALLOW) {
            st->ctr.tcp_drop_syn_hook++;
            if (v == NET_SYN_RESET)
                tcp_reply_rst(st, g);
            return;
        }
    }
    if (l->nacc >= l->backlog) {
        st->ctr.tcp_drop_backlog_full++;
        return;
    }
    if (l->nsyn >= (unsigned)st->p.syn_backlog) {
        if (st->p.syncookies) {
            /* SYN flood defence: answer without keeping anything. */
            tcp_send_cookie_synack(st, g, tcp_cookie_make(st, g));
            l->cookie_sent_ns = st->now;
            st->ctr.tcp_syncookies_sent++;
            return;
        }
        if (l->syn_head != NULL) {
            /* Without cookies: the oldest half-open connection makes room. */
            st->ctr.tcp_drop_syn_evicted++;
            tcb_release(st, l->syn_head);
        }
    }
    if (st->nconns >= st->max_conns) {
        st->ctr.tcp_drop_conn_limit++;
        return;
    }
    struct tcb *t = passive_open(st, l, g);
    t->iss = tcp_isn(st, t->lip, t->lport, t->rip, t->rport);
    tcb_init_send(st, t);
    tcb_hash_insert(st, t);
    tcp_send_syn(st, t);
    tcp_rexmt_arm(st, t);
}

void tcp_input(struct net_stack *st, struct net_buf *b, uint8_t *ip, unsigned hl, unsigned tot)
{
    uint8_t *th = ip + hl;
    unsigned tl = tot - hl;
    st->ctr.tcp_segs_in++;
    if (tl < TCP_HLEN || (th[12] >> 4) * 4u < TCP_HLEN || (th[12] >> 4) * 4u > tl) {
        st->ctr.tcp_drop_bad_header++;
        goto done;
    }
    struct tcp_seg g;
    g.src = net_rd32(ip + 12);
    g.dst = net_rd32(ip + 16);
    if (b->flags & NET_BUF_RX_L4_CKSUM_BAD) {
        st->ctr.tcp_drop_bad_cksum++;
        goto done;
    }
    if (!(b->flags & NET_BUF_RX_L4_CKSUM_GOOD)) {
        uint32_t s = cksum_pseudo(g.src, g.dst, IP_PROTO_TCP, (uint16_t)tl);
        if (cksum_finish(cksum_partial(th, tl, s)) != 0) {
            st->ctr.tcp_drop_bad_cksum++;
            goto done;
        }
    }
    unsigned doff = (th[12] >> 4) * 4u;
    g.sport = net_rd16(th);
    g.dport = net_rd16(th + 2);
    g.seq = net_rd32(th + 4);
    g.ack = net_rd32(th + 8);
    g.flags = th[13] & 0x3f;
    g.wnd = net_rd16(th + 14);
    g.data = th + doff;
    g.len = tl - doff;
    g.mss = 0;
    g.wscale = -1;
    g.ts = false;
    g.tsval = g.tsecr = 0;
    parse_options(&g, th + TCP_HLEN, th + doff);

    struct tcb *t = tcb_lookup(st, g.dst, g.dport, g.src, g.sport);
    if (t != NULL) {
        segment(st, t, &g);
        goto done;
    }
    struct tw_entry *e = tw_lookup(st, g.dst, g.dport, g.src, g.sport);
    if (e != NULL && tw_input(st, e, &g))
        goto done;
    struct tcp_listener *l = tcp_listener_find(st, g.dst, g.dport);
    if (l != NULL) {
        listen_input(st, l, &g);
        goto done;
    }
    if (!(g.flags & TH_RST))
        st->ctr.tcp_drop_no_listener++;
    tcp_reply_rst(st, &g);
done:
    net_buf_put(st, b);
}
