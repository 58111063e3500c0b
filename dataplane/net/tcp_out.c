/*
 * TCP output: segments built straight into device buffers.
 *
 * Payload is copied out of the send ring into the frame once, and in the
 * same pass its checksum is summed (cksum_copy), unless the device computes
 * TCP checksums, in which case the field gets the pseudo-header sum. There is
 * no Nagle: whatever the windows allow leaves at the next flush, in
 * MSS-sized segments, and the last one carries PSH.
 */
#include "net/cksum.h"
#include "net/tcp_int.h"

static unsigned put_ts(uint8_t *p, uint32_t tsval, uint32_t tsecr)
{
    p[0] = TCPOPT_NOP;
    p[1] = TCPOPT_NOP;
    p[2] = TCPOPT_TIMESTAMP;
    p[3] = 10;
    net_wr32(p + 4, tsval);
    net_wr32(p + 8, tsecr);
    return TCP_TS_OPTLEN;
}

/*
 * Fill the TCP header at data + NET_HDRS (options already written after it),
 * finish the checksum over header + payload (`psum` is the payload's sum) and
 * send the packet.
 */
static void seg_finish(struct net_stack *st, struct net_buf *b, uint32_t lip, uint32_t rip,
                       uint16_t lport, uint16_t rport, uint32_t seq, uint32_t ack, uint8_t flags,
                       uint16_t wnd, unsigned optlen, uint32_t plen, uint32_t psum)
{
    uint8_t *th = b->data + NET_HDRS;
    unsigned hl = TCP_HLEN + optlen;
    net_wr16(th, lport);
    net_wr16(th + 2, rport);
    net_wr32(th + 4, seq);
    net_wr32(th + 8, ack);
    th[12] = (uint8_t)((hl / 4) << 4);
    th[13] = flags;
    net_wr16(th + 14, wnd);
    net_wr16(th + 16, 0);
    net_wr16(th + 18, 0);
    uint32_t tl = hl + plen;
    uint32_t ph = cksum_pseudo(lip, rip, IP_PROTO_TCP, (uint16_t)tl);
    if (st->caps & PKTIO_CAP_TX_TCP_CKSUM) {
        cksum_store(th + 16, cksum_fold(ph));
        b->flags |= NET_BUF_TX_TCP_CKSUM;
    } else {
        uint32_t s = cksum_partial(th, hl, ph);
        s = cksum_combine(s, psum, 0); /* hl is a multiple of 4: the payload starts even */
        cksum_store(th + 16, cksum_finish(s));
    }
    st->ctr.tcp_segs_out++;
    if (flags & TH_RST)
        st->ctr.tcp_rst_out++;
    ip_output(st, b, lip, rip, IP_PROTO_TCP, tl);
}

/* Window field for a segment we send, with receiver-side SWS avoidance (RFC 1122 §4.2.3.3). */
uint16_t tcp_rcv_window(struct tcb *t)
{
    uint32_t used = t->rcv_nxt - t->rcv_read;
    uint32_t space = used < t->rsize ? t->rsize - used : 0;
    uint32_t edge = t->rcv_nxt + space;
    uint32_t mss = t->mss ? t->mss : TCP_DEFAULT_MSS;
    if (SEQ_GEQ(t->rcv_adv, t->rcv_nxt) && SEQ_LT(edge, t->rcv_adv + MIN(t->rsize / 2, mss)) &&
        SEQ_LEQ(t->rcv_adv, edge))
        edge = t->rcv_adv; /* do not open the window by a sliver */
    uint32_t field = (edge - t->rcv_nxt) >> t->rcv_wscale;
    if (field > 65535)
        field = 65535;
    uint32_t adv = t->rcv_nxt + (field << t->rcv_wscale);
    if (SEQ_GT(adv, t->rcv_adv))
        t->rcv_adv = adv;
    return (uint16_t)field;
}

static void acked_now(struct net_stack *st, struct tcb *t)
{
    t->last_ack_sent = t->rcv_nxt;
    t->rcv_unacked = 0;
    t->flags &= ~(TF_ACK_NOW | TF_DELACK);
    if (t->t_delack) {
        t->t_delack = 0; /* the wheel node notices when it fires */
    }
    (void)st;
}

void tcp_send_segment(struct net_stack *st, struct tcb *t, uint32_t seq, uint32_t len)
{
    struct net_buf *b = net_buf_get(st);
    if (b == NULL)
        return; /* lost like any other segment: the retransmission timer covers it */
    uint8_t flags = TH_ACK;
    if (len > 0 && seq + len == t->snd_una + t->slen)
        flags |= TH_PSH;
    if ((t->flags & TF_FIN_QUEUED) && !(t->flags & TF_FIN_ACKED) &&
        seq + len == t->snd_una + t->slen)
        flags |= TH_FIN;
    uint8_t *th = b->data + NET_HDRS;
    unsigned optlen = 0;
    if (t->flags & TF_TS)
        optlen = put_ts(th + TCP_HLEN, net_ts_now(st), t->ts_recent);
    uint8_t *payload = th + TCP_HLEN + optlen;
    uint32_t psum = 0;
    if (len > 0) {
        uint32_t mask = t->ssize - 1;
        uint32_t idx = (seq - t->iss - 1) & mask;
        uint32_t first = MIN(len, t->ssize - idx);
        if (st->caps & PKTIO_CAP_TX_TCP_CKSUM) {
            memcpy(payload, t->sbuf + idx, first);
            memcpy(payload + first, t->sbuf, len - first);
        } else {
            psum = cksum_copy(payload, t->sbuf + idx, first, 0);
            if (len > first)
                psum = cksum_combine(psum, cksum_copy(payload + first, t->sbuf, len - first, 0),
                                     first & 1);
        }
        st->ctr.tcp_bytes_out += len;
    }
    if (SEQ_LT(seq, t->snd_max) && (len > 0 || (flags & TH_FIN)))
        st->ctr.tcp_retrans_segs++;
    /* A retransmission may carry bytes never sent before (a timeout or a fast
     * retransmit sends a whole MSS from SND.UNA): SND.MAX must cover them, or
     * their acknowledgment would look like one for data never sent. */
    uint32_t end = seq + len + !!(flags & TH_FIN);
    if (SEQ_GT(end, t->snd_max))
        t->snd_max = end;
    uint16_t wnd = tcp_rcv_window(t);
    acked_now(st, t);
    seg_finish(st, b, t->lip, t->rip, t->lport, t->rport, seq, t->rcv_nxt, flags, wnd, optlen, len,
               psum);
}

/* The options of a SYN or SYN-ACK at o: MSS, then window scale and timestamps when asked. */
static unsigned put_syn_options(struct net_stack *st, uint8_t *o, bool wscale, bool ts,
                                uint32_t tsval, uint32_t tsecr)
{
    unsigned n = 0;
    o[n++] = TCPOPT_MSS;
    o[n++] = 4;
    net_wr16(o + n, (uint16_t)(st->mtu - IP_HLEN - TCP_HLEN));
    n += 2;
    if (wscale) {
        o[n++] = TCPOPT_NOP;
        o[n++] = TCPOPT_WSCALE;
        o[n++] = 3;
        o[n++] = st->rcv_wscale;
    }
    if (ts)
        n += put_ts(o + n, tsval, tsecr);
    return n;
}

void tcp_send_syn(struct net_stack *st, struct tcb *t)
{
    struct net_buf *b = net_buf_get(st);
    if (b == NULL)
        return;
    bool active = t->state == NET_TCP_SYN_SENT;
    unsigned n =
        put_syn_options(st, b->data + NET_HDRS + TCP_HLEN, active || (t->flags & TF_WSCALE),
                        active || (t->flags & TF_TS), net_ts_now(st), active ? 0 : t->ts_recent);
    if (t->backoff > 0)
        st->ctr.tcp_retrans_segs++;
    uint8_t flags = active ? TH_SYN : TH_SYN | TH_ACK;
    uint16_t wnd = (uint16_t)MIN(t->rsize, 65535u);
    t->rcv_adv = t->rcv_nxt + wnd;
    t->last_ack_sent = t->rcv_nxt;
    seg_finish(st, b, t->lip, t->rip, t->lport, t->rport, t->iss, active ? 0 : t->rcv_nxt, flags,
               wnd, n, 0, 0);
}

void tcp_send_cookie_synack(struct net_stack *st, const struct tcp_seg *syn, uint32_t cookie)
{
    struct net_buf *b = net_buf_get(st);
    if (b == NULL)
        return; /* the peer sends its SYN again */
    /* scaling only where the ACK can tell us the peer's shift: in the timestamp echo */
    unsigned n = put_syn_options(st, b->data + NET_HDRS + TCP_HLEN, syn->ts && syn->wscale >= 0,
                                 syn->ts, tcp_cookie_tsval(st, syn->wscale), syn->tsval);
    uint16_t wnd = (uint16_t)MIN(st->rpool.size, 65535u);
    seg_finish(st, b, syn->dst, syn->src, syn->dport, syn->sport, cookie, syn->seq + 1,
               TH_SYN | TH_ACK, wnd, n, 0, 0);
}

static void send_bare(struct net_stack *st, struct tcb *t, uint32_t seq, uint8_t flags)
{
    struct net_buf *b = net_buf_get(st);
    if (b == NULL)
        return;
    unsigned optlen = 0;
    if (t->flags & TF_TS)
        optlen = put_ts(b->data + NET_HDRS + TCP_HLEN, net_ts_now(st), t->ts_recent);
    uint16_t wnd = (flags & TH_RST) ? 0 : tcp_rcv_window(t);
    if (!(flags & TH_RST))
        acked_now(st, t);
    seg_finish(st, b, t->lip, t->rip, t->lport, t->rport, seq, t->rcv_nxt, flags, wnd, optlen, 0,
               0);
}

/*
 * A pure ACK carries SND.MAX, not SND.NXT: after a timeout rewinds SND.NXT for
 * go-back-N, an ACK numbered below what the peer already holds would be
 * "unacceptable" there and dropped with its acknowledgment unread — and if
 * both ends are retransmitting, neither would ever see the other's ACKs.
 */
void tcp_send_ack(struct net_stack *st, struct tcb *t)
{
    send_bare(st, t, t->snd_max, TH_ACK);
}

void tcp_send_probe(struct net_stack *st, struct tcb *t)
{
    send_bare(st, t, t->snd_una - 1, TH_ACK);
}

void tcp_send_rst(struct net_stack *st, struct tcb *t)
{
    send_bare(st, t, t->snd_nxt, TH_RST | TH_ACK);
}

void tcp_send_raw(struct net_stack *st, uint32_t lip, uint32_t rip, uint16_t lport, uint16_t rport,
                  uint32_t seq, uint32_t ack, uint8_t flags, uint16_t wnd, bool ts, uint32_t tsecr)
{
    struct net_buf *b = net_buf_get(st);
    if (b == NULL)
        return;
    unsigned optlen = ts ? put_ts(b->data + NET_HDRS + TCP_HLEN, net_ts_now(st), tsecr) : 0;
    seg_finish(st, b, lip, rip, lport, rport, seq, ack, flags, wnd, optlen, 0, 0);
}

void tcp_reply_rst(struct net_stack *st, const struct tcp_seg *g)
{
    if (g->flags & TH_RST)
        return;
    if (g->flags & TH_ACK)
        tcp_send_raw(st, g->dst, g->src, g->dport, g->sport, g->ack, 0, TH_RST, 0, false, 0);
    else
        tcp_send_raw(st, g->dst, g->src, g->dport, g->sport, 0, g->seq + tcp_seg_space(g),
                     TH_RST | TH_ACK, 0, false, 0);
}

/* RFC 5961 §7: at most challenge-ack-limit challenge ACKs per second per stack. */
void tcp_challenge_ack(struct net_stack *st, struct tcb *t)
{
    uint64_t sec = st->now / 1000000000ull;
    if (sec != st->challenge_second) {
        st->challenge_second = sec;
        st->challenge_acks = 0;
    }
    if (st->p.challenge_ack_limit > 0 && st->challenge_acks >= st->p.challenge_ack_limit)
        return;
    st->challenge_acks++;
    st->ctr.tcp_challenge_acks++;
    tcp_send_ack(st, t);
}

static bool window_update_due(const struct tcb *t)
{
    uint32_t right = t->rcv_read + t->rsize;
    return SEQ_GT(right, t->rcv_adv) && right - t->rcv_adv >= MIN(t->rsize / 2, 2 * t->mss);
}

/*
 * Send what the send window, the congestion window and the receiver allow.
 * Without Nagle a short segment leaves at once, with one exception: while
 * data is in flight, a short segment that only the window (not the lack of
 * data) makes short waits, the sender half of SWS avoidance.
 */
void tcp_output(struct net_stack *st, struct tcb *t)
{
    switch (t->state) {
    case NET_TCP_ESTABLISHED:
    case NET_TCP_CLOSE_WAIT:
    case NET_TCP_FIN_WAIT_1:
    case NET_TCP_CLOSING:
    case NET_TCP_LAST_ACK:
        break;
    case NET_TCP_SYN_RCVD:
    case NET_TCP_FIN_WAIT_2:
    case NET_TCP_TIME_WAIT:
        if (t->flags & TF_ACK_NOW)
            tcp_send_ack(st, t);
        return;
    default:
        return;
    }
    bool sent = false;
    uint32_t win = MIN(t->snd_wnd, t->cwnd);
    for (;;) {
        uint32_t fin_seq = t->snd_una + t->slen;
        bool fin_pending = (t->flags & TF_FIN_QUEUED) && !(t->flags & TF_FIN_ACKED) &&
                           SEQ_LEQ(t->snd_nxt, fin_seq);
        uint32_t off = MIN(t->snd_nxt - t->snd_una, t->slen);
        uint32_t left = t->slen - off;
        if (left == 0 && !fin_pending)
            break;
        uint32_t usable = win > off ? win - off : 0;
        uint32_t len = MIN(MIN(left, t->mss), usable);
        bool fin = fin_pending && len == left;
        if (len == 0 && !fin)
            break;
        if (len < left && len < t->mss && t->snd_nxt != t->snd_una && len < t->max_snd_wnd / 2)
            break;
        bool fresh = t->snd_nxt == t->snd_max;
        tcp_send_segment(st, t, t->snd_nxt, len);
        if (fresh && len > 0 && !(t->flags & TF_RTT_TIMING)) {
            t->flags |= TF_RTT_TIMING;
            t->rtt_seq = t->snd_nxt + len;
            t->rtt_start = st->now;
        }
        t->snd_nxt += len + fin;
        if (SEQ_GT(t->snd_nxt, t->snd_max))
            t->snd_max = t->snd_nxt;
        if (t->t_rexmt == 0)
            tcp_rexmt_arm(st, t);
        sent = true;
        if (fin)
            break;
    }
    if (t->snd_wnd == 0 && t->snd_una == t->snd_max && t->slen > 0 && t->t_persist == 0 &&
        t->t_rexmt == 0) {
        t->persist_backoff = 0;
        t->t_persist = st->now + (uint64_t)t->rto_ms * NET_MS;
        tcp_timer_update(st, t);
    }
    if (!sent && ((t->flags & TF_ACK_NOW) || window_update_due(t)))
        tcp_send_ack(st, t);
}
