/*
 * Ethernet: accept frames for our MAC and broadcast, dispatch by EtherType;
 * build headers and batch frames for the device.
 */
#include "net/net_int.h"

const uint8_t eth_broadcast[ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

struct net_buf *net_buf_get(struct net_stack *st)
{
    struct net_buf *b = pktio_alloc(st->io);
    if (unlikely(b == NULL || b->room < ETH_HLEN + st->mtu)) {
        if (b != NULL)
            pktio_free(st->io, b);
        st->ctr.eth_drop_no_buf++;
        return NULL;
    }
    b->len = 0;
    b->flags = 0;
    return b;
}

void eth_input(struct net_stack *st, struct net_buf *b)
{
    st->ctr.eth_rx_frames++;
    st->ctr.eth_rx_bytes += b->len;
    if (unlikely(b->len < ETH_HLEN)) {
        st->ctr.eth_drop_short++;
        net_buf_put(st, b);
        return;
    }
    const uint8_t *dst = b->data;
    if (memcmp(dst, st->mac, ETH_ALEN) != 0 && memcmp(dst, eth_broadcast, ETH_ALEN) != 0) {
        st->ctr.eth_drop_not_for_us++;
        net_buf_put(st, b);
        return;
    }
    switch (net_rd16(b->data + 12)) {
    case ETH_P_IPV4:
        ip_input(st, b);
        break;
    case ETH_P_ARP:
        arp_input(st, b);
        break;
    default:
        st->ctr.eth_drop_ethertype++;
        net_buf_put(st, b);
        break;
    }
}

void eth_output(struct net_stack *st, struct net_buf *b, const uint8_t *dst, uint16_t type)
{
    memcpy(b->data, dst, ETH_ALEN);
    memcpy(b->data + ETH_ALEN, st->mac, ETH_ALEN);
    net_wr16(b->data + 12, type);
    if (b->len < ETH_MIN_LEN) {
        memset(b->data + b->len, 0, ETH_MIN_LEN - b->len);
        b->len = ETH_MIN_LEN;
    }
    if (st->ntx == NET_TXQ)
        eth_flush(st);
    if (unlikely(st->ntx == NET_TXQ)) {
        st->ctr.eth_drop_tx_full++;
        net_buf_put(st, b);
        return;
    }
    st->ctr.eth_tx_frames++;
    st->ctr.eth_tx_bytes += b->len;
    st->txq[st->ntx++] = b;
}

/*
 * Hand queued frames to the device. Frames it does not take wait for the next
 * flush; when the queue stays full, new frames are dropped (eth_output), as a
 * full NIC ring would drop them.
 */
unsigned eth_flush(struct net_stack *st)
{
    unsigned sent = 0;
    while (sent < st->ntx) {
        unsigned n = pktio_tx_burst(st->io, st->txq + sent, st->ntx - sent);
        if (n == 0)
            break;
        sent += n;
    }
    if (sent > 0 && sent < st->ntx)
        memmove(st->txq, st->txq + sent, (st->ntx - sent) * sizeof(st->txq[0]));
    st->ntx -= sent;
    return sent;
}
