/*
 * pktio_mem: a device made of memory, for tests and for wiring two stacks
 * together in one process. See pktio.h.
 */
#include <errno.h>

#include "net/cksum.h"
#include "base/mem.h"
#include "net/net_int.h"
#include "net/pktio.h"

#define HEADROOM 128

struct bufq {
    struct net_buf **slot;
    unsigned mask, head, tail;
};

struct pktio_mem {
    struct pktio io;
    struct pktio_mem *peer;
    struct net_buf *bufs; /* the pool's descriptors */
    uint8_t *mem;         /* the pool's bytes */
    struct net_buf *free;
    unsigned nbufs, nfree;
    uint32_t bufsize;
    struct bufq rxq, txq;
    struct pktio_mem_stats st;
};

static bool q_full(const struct bufq *q)
{
    return q->tail - q->head > q->mask;
}

static bool q_push(struct bufq *q, struct net_buf *b)
{
    if (q_full(q))
        return false;
    q->slot[q->tail++ & q->mask] = b;
    return true;
}

static struct net_buf *q_pop(struct bufq *q)
{
    if (q->head == q->tail)
        return NULL;
    return q->slot[q->head++ & q->mask];
}

static struct net_buf *mem_get(struct pktio_mem *m)
{
    struct net_buf *b = m->free;
    if (b == NULL)
        return NULL;
    m->free = b->next;
    m->nfree--;
    b->next = NULL;
    b->len = 0;
    b->flags = 0;
    b->rss_hash = 0;
    b->l2_len = b->l3_len = 0;
    return b;
}

static void mem_put(struct pktio_mem *m, struct net_buf *b)
{
    b->next = m->free;
    m->free = b;
    m->nfree++;
}

static struct net_buf *op_alloc(struct pktio *io)
{
    return mem_get((struct pktio_mem *)io);
}

static void op_free(struct pktio *io, struct net_buf *b)
{
    /* A buffer goes back to the pool it came from, whichever device frees it. */
    mem_put((struct pktio_mem *)b->priv, b);
    (void)io;
}

static unsigned op_rx(struct pktio *io, struct net_buf **bufs, unsigned n)
{
    struct pktio_mem *m = (struct pktio_mem *)io;
    unsigned i = 0;
    while (i < n) {
        struct net_buf *b = q_pop(&m->rxq);
        if (b == NULL)
            break;
        bufs[i++] = b;
    }
    m->st.rx_frames += i;
    return i;
}

/* What a NIC does on receive: checksum flags and an RSS hash. */
static void rx_offloads(struct pktio_mem *m, struct net_buf *b)
{
    if (m->io.caps & PKTIO_CAP_RX_CKSUM) {
        int r = cksum_rx_verify(b);
        if (r == -1)
            b->flags |= NET_BUF_RX_IP_CKSUM_BAD;
        else if (r == -2)
            b->flags |= NET_BUF_RX_IP_CKSUM_GOOD | NET_BUF_RX_L4_CKSUM_BAD;
        else
            b->flags |= NET_BUF_RX_IP_CKSUM_GOOD | NET_BUF_RX_L4_CKSUM_GOOD;
    }
    if ((m->io.caps & PKTIO_CAP_RSS_HASH) && b->len >= ETH_HLEN + IP_HLEN + 4 &&
        net_rd16(b->data + 12) == ETH_P_IPV4) {
        const uint8_t *ip = b->data + ETH_HLEN;
        unsigned hl = (ip[0] & 0xf) * 4u;
        if (ip[9] == IP_PROTO_TCP && b->len >= ETH_HLEN + hl + 4) {
            b->rss_hash = rss_hash_ipv4_tcp(rss_default_key, net_rd32(ip + 12), net_rd32(ip + 16),
                                            net_rd16(ip + hl), net_rd16(ip + hl + 2));
            b->flags |= NET_BUF_RX_RSS_HASH;
        }
    }
}

static unsigned op_tx(struct pktio *io, struct net_buf **bufs, unsigned n)
{
    struct pktio_mem *m = (struct pktio_mem *)io;
    for (unsigned i = 0; i < n; i++) {
        struct net_buf *b = bufs[i];
        cksum_tx_finalize(b);
        m->st.tx_frames++;
        if (m->peer != NULL) {
            struct pktio_mem *p = m->peer;
            struct net_buf *c = mem_get(p);
            if (c == NULL || b->len > c->room || q_full(&p->rxq)) {
                if (c != NULL)
                    mem_put(p, c);
                p->st.rx_dropped++;
            } else {
                memcpy(c->data, b->data, b->len);
                c->len = b->len;
                rx_offloads(p, c);
                q_push(&p->rxq, c);
            }
            op_free(io, b);
        } else if (!q_push(&m->txq, b)) {
            m->st.tx_dropped++;
            op_free(io, b);
        }
    }
    return n;
}

static const struct pktio_ops mem_ops = {
    .rx_burst = op_rx,
    .tx_burst = op_tx,
    .alloc = op_alloc,
    .free = op_free,
};

static int q_init(struct bufq *q, unsigned len)
{
    unsigned n = 1;
    while (n < len)
        n <<= 1;
    q->slot = mem_calloc(sizeof(*q->slot) * n);
    q->mask = n - 1;
    q->head = q->tail = 0;
    return 0;
}

struct pktio_mem *pktio_mem_create(const struct pktio_mem_config *cfg)
{
    struct pktio_mem *m = mem_calloc(sizeof(*m));
    m->io.ops = &mem_ops;
    m->io.caps = cfg->caps;
    m->io.mtu = cfg->mtu ? cfg->mtu : 1500;
    memcpy(m->io.mac, cfg->mac, 6);
    m->nbufs = cfg->nbufs ? cfg->nbufs : 4096;
    m->bufsize = HEADROOM + ETH_HLEN + m->io.mtu + 64;
    m->bufs = mem_calloc(sizeof(*m->bufs) * m->nbufs);
    m->mem = mem_alloc((size_t)m->bufsize * m->nbufs);
    for (unsigned i = 0; i < m->nbufs; i++) {
        struct net_buf *b = &m->bufs[i];
        b->data = m->mem + (size_t)i * m->bufsize + HEADROOM;
        b->headroom = HEADROOM;
        b->room = m->bufsize - HEADROOM;
        b->priv = m;
        mem_put(m, b);
    }
    unsigned qlen = cfg->qlen ? cfg->qlen : 4096;
    q_init(&m->rxq, qlen);
    q_init(&m->txq, qlen);
    return m;
}

void pktio_mem_destroy(struct pktio_mem *m)
{
    if (m == NULL)
        return;
    struct net_buf *b;
    while ((b = q_pop(&m->rxq)) != NULL)
        op_free(&m->io, b);
    while ((b = q_pop(&m->txq)) != NULL)
        op_free(&m->io, b);
    if (m->peer != NULL && m->peer->peer == m)
        m->peer->peer = NULL;
    mem_free(m->rxq.slot);
    mem_free(m->txq.slot);
    mem_free(m->bufs);
    mem_free(m->mem);
    mem_free(m);
}

struct pktio *pktio_mem_io(struct pktio_mem *m)
{
    return &m->io;
}

void pktio_mem_link(struct pktio_mem *a, struct pktio_mem *b)
{
    a->peer = b;
    b->peer = a;
}

int pktio_mem_inject(struct pktio_mem *m, const void *frame, size_t len, uint32_t flags,
                     uint32_t rss_hash)
{
    if (q_full(&m->rxq))
        return -ENOBUFS;
    struct net_buf *b = mem_get(m);
    if (b == NULL)
        return -ENOBUFS;
    if (len > b->room) {
        mem_put(m, b);
        return -EMSGSIZE;
    }
    memcpy(b->data, frame, len);
    b->len = (uint32_t)len;
    b->flags = flags;
    b->rss_hash = rss_hash;
    q_push(&m->rxq, b);
    return 0;
}

unsigned pktio_mem_tx_count(const struct pktio_mem *m)
{
    return m->txq.tail - m->txq.head;
}

struct net_buf *pktio_mem_tx_pop(struct pktio_mem *m)
{
    return q_pop(&m->txq);
}

unsigned pktio_mem_rx_count(const struct pktio_mem *m)
{
    return m->rxq.tail - m->rxq.head;
}

unsigned pktio_mem_free_bufs(const struct pktio_mem *m)
{
    return m->nfree;
}

void pktio_mem_stats(const struct pktio_mem *m, struct pktio_mem_stats *st)
{
    *st = m->st;
}
