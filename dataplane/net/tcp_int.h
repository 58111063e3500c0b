/* TCP internals: the connection block, the TIME_WAIT table, sequence arithmetic. */
#ifndef POLLUX_NET_TCP_INT_H
#define POLLUX_NET_TCP_INT_H

#include "net/net_int.h"

/* Sequence-number comparisons, correct across the 2^32 wrap (RFC 9293 §3.4). */
#define SEQ_LT(a, b)  ((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)
#define SEQ_LEQ(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) <= 0)
#define SEQ_GT(a, b)  ((int32_t)((uint32_t)(a) - (uint32_t)(b)) > 0)
#define SEQ_GEQ(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) >= 0)

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10
#define TH_URG 0x20

#define TCPOPT_EOL       0
#define TCPOPT_NOP       1
#define TCPOPT_MSS       2
#define TCPOPT_WSCALE    3
#define TCPOPT_TIMESTAMP 8
#define TCP_TS_OPTLEN    12 /* NOP NOP kind len TSval TSecr */
#define TCP_MAX_WSCALE   14
#define TCP_DEFAULT_MSS  536
#define TCP_OOO_MAX      64
#define TCP_PAWS_IDLE_NS (24ull * 86400 * 1000000000ull) /* RFC 7323 §5.5: 24 days */
#define TCP_KEEP_PROBES  3
/* SYN cookie secrets change every period; a cookie is good for one to two periods. */
#define TCP_COOKIE_PERIOD_NS (64ull * 1000000000ull)

/* tcb.flags */
#define TF_ACK_NOW      (1u << 0)  /* send an ACK at the next output */
#define TF_DELACK       (1u << 1)  /* an ACK is owed, delayed-ACK timer armed */
#define TF_FIN_QUEUED   (1u << 2)  /* shutdown(WR): FIN after the queued bytes */
#define TF_FIN_ACKED    (1u << 3)  /* our FIN is acknowledged */
#define TF_RCV_FIN      (1u << 4)  /* the peer's FIN is processed (rcv_nxt counts it) */
#define TF_FIN_PENDING  (1u << 5)  /* the peer's FIN arrived ahead of missing bytes */
#define TF_WANT_WRITE   (1u << 6)  /* a writev came back short: report space */
#define TF_WSCALE       (1u << 7)  /* window scaling on */
#define TF_TS           (1u << 8)  /* timestamps on */
#define TF_IN_OUTPUT    (1u << 9)  /* on the stack's output list */
#define TF_RTT_TIMING   (1u << 10) /* rtt_seq is being timed */
#define TF_RECOVERY     (1u << 11) /* in fast recovery (NewReno) */
#define TF_PASSIVE      (1u << 12) /* opened by a listener */
#define TF_SHUT_RD      (1u << 13)
#define TF_ORPHAN       (1u << 14) /* the user closed the socket */
#define TF_ACCEPTQ      (1u << 15) /* on a listener's accept queue */
#define TF_SYNQ         (1u << 16) /* on a listener's SYN queue */
#define TF_TS_RECENT    (1u << 17) /* ts_recent holds a value */
#define TF_CONNECTED_EV (1u << 18) /* active open: report CONNECTED */

struct tcp_ooo {
    uint32_t start, end; /* [start, end) held in the receive ring */
};

struct tcb {
    struct net_sock sock; /* first: a struct net_sock * is a struct tcb * for NET_SOCK_TCP */
    struct tcb *hnext;    /* connection hash chain / free list */
    struct tcb *out_prev, *out_next; /* stack output list */
    struct tcb *aprev, *anext;       /* every connection block in use */
    bool hashed;
    struct tcb *qprev, *qnext; /* listener SYN queue or accept queue */
    struct tcp_listener *listener;
    struct wheel_node timer;

    uint8_t state; /* enum net_tcp_state */
    uint8_t snd_wscale, rcv_wscale;
    uint8_t dupacks;
    uint8_t backoff; /* consecutive retransmissions of the same data */
    uint8_t keep_probes;
    uint8_t nooo;
    uint32_t flags;
    int err;

    uint32_t lip, rip;
    uint16_t lport, rport;

    /* send side: bytes [snd_una, snd_una + slen) are in sbuf */
    uint32_t iss, snd_una, snd_nxt, snd_max;
    uint32_t snd_wnd, max_snd_wnd, snd_wl1, snd_wl2;
    uint32_t mss;      /* payload bytes per segment (options excluded) */
    uint32_t peer_mss; /* from the peer's MSS option */
    uint8_t *sbuf;
    uint32_t ssize, slen;

    /* receive side: bytes [rcv_read, rcv_nxt) readable, out-of-order ones beyond */
    uint32_t irs, rcv_nxt, rcv_read, rcv_adv, last_ack_sent, rcv_fin_seq;
    uint32_t rcv_unacked; /* in-order bytes since the last ACK */
    uint8_t *rbuf;
    uint32_t rsize;
    struct tcp_ooo ooo[TCP_OOO_MAX];

    /* timestamps */
    uint32_t ts_recent;
    uint64_t ts_recent_ns;

    /* RTT and RTO (RFC 6298), microseconds */
    uint32_t srtt_us, rttvar_us, rto_ms;
    uint32_t rtt_seq;
    uint64_t rtt_start;

    /* congestion control (RFC 5681, NewReno RFC 6582) */
    uint32_t cwnd, ssthresh, recover, bytes_acked;

    /* timers: absolute ns, 0 when off */
    uint64_t t_rexmt, t_persist, t_delack, t_keep, t_close;
    uint64_t last_rx;
    uint32_t keep_idle_s;
    uint8_t persist_backoff;
};

struct tcp_listener {
    struct net_sock sock;
    struct tcp_listener *next;
    uint32_t ip;
    uint16_t port;
    unsigned backlog;
    unsigned nsyn, nacc;
    uint64_t cookie_sent_ns;         /* when it last answered a SYN with a cookie (0: never) */
    struct tcb *syn_head, *syn_tail; /* oldest first */
    struct tcb *acc_head, *acc_tail;
};

/* Parsed segment. */
struct tcp_seg {
    uint32_t src, dst;
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint16_t wnd;
    uint8_t flags;
    const uint8_t *data;
    uint32_t len;
    /* options */
    uint16_t mss;  /* 0: absent */
    int8_t wscale; /* -1: absent */
    bool ts;
    uint32_t tsval, tsecr;
};

static inline uint32_t tcp_seg_space(const struct tcp_seg *g)
{
    return g->len + !!(g->flags & TH_SYN) + !!(g->flags & TH_FIN);
}

/* The TIME_WAIT table (tcp_tw.c). */
struct tw_entry {
    uint32_t lip, rip;
    uint16_t lport, rport;
    uint32_t snd_nxt, rcv_nxt;
    uint32_t ts_recent;
    uint16_t wnd;
    bool ts;
    uint64_t expires;
    int32_t hnext, prev, next; /* hash chain, FIFO (oldest at head) or free list */
};

struct tw_table {
    struct tw_entry *e;
    int32_t *bucket;
    uint32_t cap, mask, used;
    int32_t head, tail, free;
};

/* tcp_sock.c */
struct tcb *tcb_lookup(struct net_stack *st, uint32_t lip, uint16_t lport, uint32_t rip,
                       uint16_t rport);
struct tcb *tcb_create(struct net_stack *st);
void tcb_hash_insert(struct net_stack *st, struct tcb *t);
int tcb_attach_buffers(struct net_stack *st, struct tcb *t);
/* Drop the connection block: it leaves every list; freed now when nobody holds the socket. */
void tcb_release(struct net_stack *st, struct tcb *t);
/* The connection is over (reset, timeout, refused): report `err` or free the block. */
void tcb_drop(struct net_stack *st, struct tcb *t, int err);
void tcb_enter_time_wait(struct net_stack *st, struct tcb *t);
struct tcp_listener *tcp_listener_find(struct net_stack *st, uint32_t ip, uint16_t port);
void tcp_listener_unlink(struct tcb *t);
/* Append t to a listener's SYN or accept queue. */
void tcb_queue_append(struct tcb **head, struct tcb **tail, struct tcb *t);
void tcp_established(struct net_stack *st, struct tcb *t);
uint32_t tcp_isn(struct net_stack *st, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport);
void tcb_init_send(struct net_stack *st, struct tcb *t);
void tcb_set_state(struct net_stack *st, struct tcb *t, uint8_t state);

/* tcp_tw.c */
int tw_setup(struct net_stack *st);
void tw_teardown(struct net_stack *st);
struct tw_entry *tw_lookup(struct net_stack *st, uint32_t lip, uint16_t lport, uint32_t rip,
                           uint16_t rport);
void tw_insert(struct net_stack *st, const struct tcb *t, uint64_t expires);
void tw_remove(struct net_stack *st, struct tw_entry *e);
void tw_restart(struct net_stack *st, struct tw_entry *e);
void tw_expire(struct net_stack *st);
/* @return true when the segment was handled (or dropped) by the entry. */
bool tw_input(struct net_stack *st, struct tw_entry *e, const struct tcp_seg *g);

/* tcp_out.c */
void tcp_output(struct net_stack *st, struct tcb *t);
void tcp_want_output(struct net_stack *st, struct tcb *t);
void tcp_send_syn(struct net_stack *st, struct tcb *t);
/* The SYN-ACK of a cookie for `syn`: nothing kept (tcp_cookie.c). */
void tcp_send_cookie_synack(struct net_stack *st, const struct tcp_seg *syn, uint32_t cookie);
void tcp_send_ack(struct net_stack *st, struct tcb *t);
void tcp_send_rst(struct net_stack *st, struct tcb *t);
/* Send one segment of the send buffer: [seq, seq+len), FIN when it reaches the end. */
void tcp_send_segment(struct net_stack *st, struct tcb *t, uint32_t seq, uint32_t len);
/* An old-sequence ACK that makes the peer answer with its current state (probes). */
void tcp_send_probe(struct net_stack *st, struct tcb *t);
/* RST in answer to a segment that has no connection (RFC 9293 §3.10.7.1). */
void tcp_reply_rst(struct net_stack *st, const struct tcp_seg *g);
void tcp_send_raw(struct net_stack *st, uint32_t lip, uint32_t rip, uint16_t lport, uint16_t rport,
                  uint32_t seq, uint32_t ack, uint8_t flags, uint16_t wnd, bool ts, uint32_t tsecr);
uint16_t tcp_rcv_window(struct tcb *t);
void tcp_challenge_ack(struct net_stack *st, struct tcb *t);

/* tcp_cookie.c */
/* The cookie (our ISS) for a SYN. */
uint32_t tcp_cookie_make(struct net_stack *st, const struct tcp_seg *syn);
/* Whether an ACK acknowledges a cookie of ours; *mss gets the MSS it carries. */
bool tcp_cookie_check(struct net_stack *st, const struct tcp_seg *ack, uint16_t *mss);
/* Our TSval in a cookie SYN-ACK: the peer's window-scale shift (-1: none) in its low 4 bits. */
uint32_t tcp_cookie_tsval(struct net_stack *st, int wscale);

/* tcp_timer.c */
void wheel_init(struct wheel *w, uint64_t now);
void tcp_timer_update(struct net_stack *st, struct tcb *t);
void tcp_timer_cancel(struct net_stack *st, struct tcb *t);
void tcp_rexmt_arm(struct net_stack *st, struct tcb *t);
void tcp_rtt_sample(struct net_stack *st, struct tcb *t, uint64_t rtt_ns);

/* tcp_in.c */
void tcp_data_readable(struct net_stack *st, struct tcb *t);

static inline bool tcp_have_buffers(const struct tcb *t)
{
    return t->sbuf != NULL;
}

static inline uint32_t tcp_flight(const struct tcb *t)
{
    return t->snd_max - t->snd_una;
}

#endif
