/*
 * The packet I/O of one queue: rte_mbufs seen by the stack as struct net_buf
 * (kept in each mbuf's private area, so no copy and no lookup either way),
 * and the software steering that hands a frame to the queue owning its flow.
 */
#include <string.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dpdk/dpdk_int.h"
#include "net/rss.h"

#define BURST_MAX     64
#define HW_HASH_TESTS 256 /* TCP frames a queue checks before trusting the NIC's hash */
#define OWNER_ALL     UINT32_MAX

static inline struct net_buf *mbuf_buf(struct rte_mbuf *m)
{
    return (struct net_buf *)rte_mbuf_to_priv(m);
}

static inline uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* The received mbuf as the stack sees it. */
static struct net_buf *rx_buf(struct rte_mbuf *m)
{
    struct net_buf *b = mbuf_buf(m);
    b->data = rte_pktmbuf_mtod(m, uint8_t *);
    b->len = m->pkt_len;
    b->room = m->data_len + rte_pktmbuf_tailroom(m);
    b->headroom = rte_pktmbuf_headroom(m);
    b->flags = 0;
    b->next = NULL;
    b->priv = m;
    uint64_t ol = m->ol_flags;
    if (dpdk_env.rx_cksum) {
        uint64_t ip = ol & RTE_MBUF_F_RX_IP_CKSUM_MASK, l4 = ol & RTE_MBUF_F_RX_L4_CKSUM_MASK;
        if (ip == RTE_MBUF_F_RX_IP_CKSUM_GOOD)
            b->flags |= NET_BUF_RX_IP_CKSUM_GOOD;
        else if (ip == RTE_MBUF_F_RX_IP_CKSUM_BAD)
            b->flags |= NET_BUF_RX_IP_CKSUM_BAD;
        if (l4 == RTE_MBUF_F_RX_L4_CKSUM_GOOD)
            b->flags |= NET_BUF_RX_L4_CKSUM_GOOD;
        else if (l4 == RTE_MBUF_F_RX_L4_CKSUM_BAD)
            b->flags |= NET_BUF_RX_L4_CKSUM_BAD;
    }
    if (ol & RTE_MBUF_F_RX_RSS_HASH) {
        b->flags |= NET_BUF_RX_RSS_HASH;
        b->rss_hash = m->hash.rss;
    }
    return b;
}

/*
 * The queue that owns a received frame: a TCP/IPv4 flow's owner by the RSS
 * table, OWNER_ALL for ARP (every stack keeps its own cache), this queue for
 * everything else (ICMP, IP fragments, what the stack will drop anyway).
 */
static uint32_t owner_of(struct dpdk_queue *q, struct rte_mbuf *m)
{
    const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
    uint32_t len = m->data_len;
    if (len < 14)
        return q->id;
    uint16_t type = rd16(p + 12);
    if (type == 0x0806)
        return OWNER_ALL;
    if (type != 0x0800 || len < 14 + 20)
        return q->id;
    const uint8_t *ip = p + 14;
    unsigned ihl = (ip[0] & 15u) * 4;
    bool fragment = (rd16(ip + 6) & 0x3fff) != 0;
    if (ip[9] != 6 || ihl < 20 || fragment || len < 14 + ihl + 4)
        return q->id;
    const struct rss_conf *rc = &dpdk_env.rss;
    if ((m->ol_flags & RTE_MBUF_F_RX_RSS_HASH) && q->hw_hash == HW_HASH_TRUSTED)
        return rss_queue_of_hash(rc, m->hash.rss);
    uint32_t src = rd32(ip + 12), dst = rd32(ip + 16);
    uint16_t sport = rd16(ip + ihl), dport = rd16(ip + ihl + 2);
    uint32_t hash = rss_hash_ipv4_tcp(rc->key, src, dst, sport, dport);
    if ((m->ol_flags & RTE_MBUF_F_RX_RSS_HASH) && q->hw_hash == HW_HASH_CHECKING) {
        /* The NIC's hash is used once it has agreed with ours on enough flows. */
        if (m->hash.rss != hash)
            q->hw_hash = HW_HASH_DISTRUSTED;
        else if (++q->hw_checked >= HW_HASH_TESTS)
            q->hw_hash = HW_HASH_TRUSTED;
    }
    return rss_queue_of_hash(rc, hash);
}

static void steer_flush(struct dpdk_queue *q, unsigned dst, struct rte_mbuf **m, unsigned n)
{
    if (n == 0)
        return;
    unsigned k = rte_ring_mp_enqueue_burst(dpdk_env.q[dst].steer, (void **)m, n, NULL);
    q->st.steered_out += k;
    for (unsigned i = k; i < n; i++) {
        rte_pktmbuf_free(m[i]);
        q->st.steer_drops++;
    }
}

/* ARP: a copy for every other queue. */
static void arp_copy(struct dpdk_queue *q, struct rte_mbuf *m)
{
    for (unsigned o = 0; o < dpdk_env.nqueues; o++) {
        if (o == q->id)
            continue;
        struct rte_mbuf *c = rte_pktmbuf_copy(m, q->pool, 0, UINT32_MAX);
        if (c == NULL) {
            q->st.alloc_fail++;
            continue;
        }
        if (rte_ring_mp_enqueue(dpdk_env.q[o].steer, c) != 0) {
            rte_pktmbuf_free(c);
            q->st.steer_drops++;
            continue;
        }
        q->st.arp_copies++;
    }
}

static unsigned dpdk_rx_burst(struct pktio *io, struct net_buf **bufs, unsigned n)
{
    struct dpdk_queue *q = (struct dpdk_queue *)io;
    struct rte_mbuf *m[BURST_MAX];
    unsigned got = 0;
    if (n > BURST_MAX)
        n = BURST_MAX;
    bool steering = dpdk_env.nqueues > 1;
    if (steering && rte_ring_count(q->steer) > 0) {
        /* Frames other queues passed on are older than what the NIC has now. */
        unsigned k = rte_ring_sc_dequeue_burst(q->steer, (void **)m, n, NULL);
        q->st.steered_in += k;
        for (unsigned i = 0; i < k; i++)
            bufs[got++] = rx_buf(m[i]);
    }
    if (got == n)
        return got;
    unsigned nr = rte_eth_rx_burst(q->port, (uint16_t)q->id, m, (uint16_t)(n - got));
    q->st.rx_frames += nr;
    if (!steering) {
        for (unsigned i = 0; i < nr; i++)
            bufs[got++] = rx_buf(m[i]);
        return got;
    }
    /* Frames for other queues, grouped by destination so each ring sees one burst. */
    struct rte_mbuf *away[BURST_MAX];
    uint8_t dst[BURST_MAX];
    unsigned naway = 0;
    for (unsigned i = 0; i < nr; i++) {
        uint32_t o = owner_of(q, m[i]);
        if (o == q->id) {
            bufs[got++] = rx_buf(m[i]);
        } else if (o == OWNER_ALL) {
            arp_copy(q, m[i]);
            bufs[got++] = rx_buf(m[i]);
        } else {
            away[naway] = m[i];
            dst[naway++] = (uint8_t)o;
        }
    }
    while (naway > 0) {
        unsigned d = dst[0], keep = 0, k = 0;
        struct rte_mbuf *batch[BURST_MAX];
        for (unsigned i = 0; i < naway; i++) {
            if (dst[i] == d) {
                batch[k++] = away[i];
            } else {
                away[keep] = away[i];
                dst[keep++] = dst[i];
            }
        }
        steer_flush(q, d, batch, k);
        naway = keep;
    }
    return got;
}

static unsigned dpdk_tx_burst(struct pktio *io, struct net_buf **bufs, unsigned n)
{
    struct dpdk_queue *q = (struct dpdk_queue *)io;
    unsigned done = 0;
    while (done < n) {
        struct rte_mbuf *m[BURST_MAX];
        unsigned k = n - done < BURST_MAX ? n - done : BURST_MAX;
        for (unsigned i = 0; i < k; i++) {
            struct net_buf *b = bufs[done + i];
            struct rte_mbuf *mb = b->priv;
            mb->data_off = (uint16_t)(b->data - (uint8_t *)mb->buf_addr);
            mb->data_len = (uint16_t)b->len;
            mb->pkt_len = b->len;
            mb->nb_segs = 1;
            uint64_t ol = 0;
            if (b->flags & NET_BUF_TX_IP_CKSUM)
                ol |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
            if (b->flags & NET_BUF_TX_TCP_CKSUM)
                ol |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_TCP_CKSUM;
            mb->ol_flags = ol;
            mb->l2_len = b->l2_len;
            mb->l3_len = b->l3_len;
            m[i] = mb;
        }
        unsigned sent = rte_eth_tx_burst(q->port, (uint16_t)q->id, m, (uint16_t)k);
        q->st.tx_frames += sent;
        done += sent;
        if (sent < k) {
            q->st.tx_full += k - sent;
            break;
        }
    }
    return done;
}

static struct net_buf *dpdk_alloc(struct pktio *io)
{
    struct dpdk_queue *q = (struct dpdk_queue *)io;
    struct rte_mbuf *m = rte_pktmbuf_alloc(q->pool);
    if (m == NULL) {
        q->st.alloc_fail++;
        return NULL;
    }
    struct net_buf *b = mbuf_buf(m);
    b->data = rte_pktmbuf_mtod(m, uint8_t *);
    b->len = 0;
    b->room = rte_pktmbuf_tailroom(m);
    b->headroom = rte_pktmbuf_headroom(m);
    b->flags = 0;
    b->l2_len = b->l3_len = 0;
    b->next = NULL;
    b->priv = m;
    return b;
}

static void dpdk_free(struct pktio *io, struct net_buf *b)
{
    (void)io;
    rte_pktmbuf_free((struct rte_mbuf *)b->priv);
}

const struct pktio_ops dpdk_pktio_ops = {
    .rx_burst = dpdk_rx_burst,
    .tx_burst = dpdk_tx_burst,
    .alloc = dpdk_alloc,
    .free = dpdk_free,
};
