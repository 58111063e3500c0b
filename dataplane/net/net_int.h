/* Internals shared by the stack's layers. Not for users of the stack. */
#ifndef POLLUX_NET_INT_H
#define POLLUX_NET_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "base/common.h"
#include "net/net.h"
#include "net/pktio.h"

#define ETH_HLEN      14
#define ETH_ALEN      6
#define ETH_MIN_LEN   60 /* without FCS */
#define ETH_P_IPV4    0x0800
#define ETH_P_ARP     0x0806
#define IP_HLEN       20
#define IP_PROTO_ICMP 1
#define IP_PROTO_TCP  6
#define TCP_HLEN      20
#define NET_HDRS      (ETH_HLEN + IP_HLEN) /* offset of the L4 header in frames we build */

#define NET_BURST       32
#define NET_TXQ         256
#define NET_TICK_NS     1000000ull /* timer wheel resolution: 1 ms */
#define NET_WHEEL_SLOTS 2048       /* power of two: two seconds per revolution */
#define NET_MS          1000000ull

static inline uint16_t net_rd16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t net_rd32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline void net_wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void net_wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Timer wheel: one node per object that has timers; `when` in ticks. */
struct wheel_node {
    struct wheel_node *prev, *next; /* next == NULL: not armed */
    uint64_t when;
};

struct wheel {
    struct wheel_node slot[NET_WHEEL_SLOTS]; /* list heads */
    uint64_t tick;                           /* every slot up to this tick has run */
    unsigned armed;
};

struct net_local_addr {
    uint32_t ip, mask;
};

enum arp_state { ARP_FREE = 0, ARP_INCOMPLETE, ARP_REACHABLE };

struct arp_entry {
    uint32_t ip;
    uint8_t mac[ETH_ALEN];
    uint8_t state;
    uint8_t tries;     /* requests sent for the current resolution */
    bool refreshing;   /* a refresh request is out */
    int32_t hnext;     /* hash chain, or free list */
    uint64_t expires;  /* REACHABLE: ns after which the entry is gone */
    uint64_t next_try; /* INCOMPLETE: ns of the next request */
    struct net_buf *qhead, *qtail;
    unsigned qlen;
};

struct arp_table {
    struct arp_entry *e;
    int32_t *bucket;
    uint32_t size, mask, used, incomplete;
    int32_t free;
};

struct tcb;
struct tcp_listener;
struct tw_table;
struct ring_pool {
    void **item;
    unsigned n, cap;
    uint32_t size;
};

struct net_sock {
    uint8_t kind; /* NET_SOCK_* */
    bool user_owned;
    uint32_t ev; /* events not yet reported */
    void *user;
    struct net_sock *rprev, *rnext; /* ready list */
    bool in_ready;
    struct net_stack *st;
};
#define NET_SOCK_LISTEN 1
#define NET_SOCK_TCP    2

struct net_stack {
    struct pktio *io;
    struct net_params p;
    struct net_counters ctr;
    uint64_t now;
    uint64_t rng;
    uint8_t mac[ETH_ALEN];
    uint32_t mtu, caps;

    struct net_local_addr addr[NET_MAX_ADDRS];
    unsigned naddr;
    uint32_t garp_pending; /* bit i: announce addr[i] */
    uint32_t gateway;
    uint16_t ip_id;

    struct arp_table arp;
    uint64_t next_housekeeping;

    struct net_buf *txq[NET_TXQ];
    unsigned ntx;

    /* TCP */
    struct tcb **tcb_hash;
    uint32_t tcb_mask;
    uint64_t hash_key;
    struct tcb *tcb_free;
    unsigned nconns, max_conns, nsynrcvd;
    struct ring_pool spool, rpool;
    struct tcp_listener *listeners;
    unsigned nlisteners;
    struct tw_table *tw;
    struct wheel wheel;
    struct tcb *out_head; /* connections with output to try */
    struct tcb *all;      /* every connection block in use */
    struct net_sock *ready_head, *ready_tail;
    uint64_t isn_key[2];
    uint64_t cookie_secret[2][2]; /* SYN cookies: this period's key, the previous one's */
    uint64_t cookie_period;
    uint32_t ts_offset;
    uint32_t challenge_acks; /* this second */
    uint64_t challenge_second;
    uint8_t rcv_wscale;
    const struct rss_conf *rss;
    unsigned rss_queue;
    net_syn_hook_fn syn_hook;
    void *syn_hook_arg;
    net_isn_fn isn;
    void *isn_arg;
};

/* stack.c */
uint64_t net_rand(struct net_stack *st);
bool net_is_local(const struct net_stack *st, uint32_t ip);
int net_addr_index(const struct net_stack *st, uint32_t ip);
void net_sock_event(struct net_sock *s, uint32_t ev);
void net_sock_unready(struct net_sock *s);
static inline uint32_t net_ts_now(const struct net_stack *st)
{
    return (uint32_t)(st->now / NET_MS) + st->ts_offset;
}

/* eth.c */
void eth_input(struct net_stack *st, struct net_buf *b);
/* Fill the Ethernet header (source: our MAC), pad, queue for transmission. */
void eth_output(struct net_stack *st, struct net_buf *b, const uint8_t *dst, uint16_t type);
unsigned eth_flush(struct net_stack *st);
struct net_buf *net_buf_get(struct net_stack *st);
static inline void net_buf_put(struct net_stack *st, struct net_buf *b)
{
    pktio_free(st->io, b);
}
extern const uint8_t eth_broadcast[ETH_ALEN];

/* arp.c */
int arp_setup(struct net_stack *st);
void arp_teardown(struct net_stack *st);
void arp_input(struct net_stack *st, struct net_buf *b);
/* Send an IPv4 frame (Ethernet header space at data) to the next hop nh. */
void arp_output(struct net_stack *st, struct net_buf *b, uint32_t nh);
void arp_announce(struct net_stack *st, uint32_t ip);
void arp_housekeeping(struct net_stack *st);
/* @return the entry for ip, or NULL (tests and the next-hop cache use it). */
struct arp_entry *arp_lookup(struct net_stack *st, uint32_t ip);

/* ip.c */
void ip_input(struct net_stack *st, struct net_buf *b);
/* Next hop for dst; 0 when unreachable. */
uint32_t ip_route(const struct net_stack *st, uint32_t dst);
/* The local address to use towards dst (0 when there is none). */
uint32_t ip_source_for(const struct net_stack *st, uint32_t dst);
/*
 * Write the IPv4 header (at data + ETH_HLEN) for l4len bytes of payload that
 * follow it, set b->len, and send it on. Frees b when there is no route.
 */
void ip_output(struct net_stack *st, struct net_buf *b, uint32_t src, uint32_t dst, uint8_t proto,
               unsigned l4len);

/* icmp.c */
void icmp_input(struct net_stack *st, struct net_buf *b, uint8_t *ip, unsigned hl, unsigned tot);

/* tcp_*.c */
int tcp_setup(struct net_stack *st);
void tcp_teardown(struct net_stack *st);
void tcp_input(struct net_stack *st, struct net_buf *b, uint8_t *ip, unsigned hl, unsigned tot);
unsigned tcp_timers_run(struct net_stack *st);
unsigned tcp_flush_output(struct net_stack *st);
void tcp_housekeeping(struct net_stack *st);
uint64_t tcp_next_timer(const struct net_stack *st);

#endif
