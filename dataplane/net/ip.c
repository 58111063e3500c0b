/*
 * IPv4 (RFC 791, RFC 1122 host requirements): static addresses, subnets and
 * one gateway; no forwarding, no options sent, no reassembly — fragments are
 * dropped and counted (the stack always sends with DF and an MSS that fits).
 */
#include "net/cksum.h"
#include "net/net_int.h"

void ip_input(struct net_stack *st, struct net_buf *b)
{
    uint8_t *ip = b->data + ETH_HLEN;
    unsigned avail = b->len - ETH_HLEN;
    if (avail < IP_HLEN || (ip[0] >> 4) != 4) {
        st->ctr.ip_drop_bad_header++;
        goto drop;
    }
    unsigned hl = (ip[0] & 0xf) * 4u;
    unsigned tot = net_rd16(ip + 2);
    if (hl < IP_HLEN || hl > avail || tot < hl || tot > avail) {
        st->ctr.ip_drop_bad_header++;
        goto drop;
    }
    if (b->flags & NET_BUF_RX_IP_CKSUM_BAD) {
        st->ctr.ip_drop_bad_cksum++;
        goto drop;
    }
    if (!(b->flags & NET_BUF_RX_IP_CKSUM_GOOD) && cksum_finish(cksum_partial(ip, hl, 0)) != 0) {
        st->ctr.ip_drop_bad_cksum++;
        goto drop;
    }
    st->ctr.ip_rx_packets++;
    uint32_t src = net_rd32(ip + 12), dst = net_rd32(ip + 16);
    if (src == 0xffffffffu || (src >> 28) == 0xe || (src >> 24) == 127) {
        st->ctr.ip_drop_bad_header++; /* martian source */
        goto drop;
    }
    if ((net_rd16(ip + 6) & 0x3fff) != 0) { /* MF set or a fragment offset */
        st->ctr.ip_drop_fragment++;
        goto drop;
    }
    if (!net_is_local(st, dst)) {
        st->ctr.ip_drop_not_for_us++;
        goto drop;
    }
    b->len = ETH_HLEN + tot; /* trailing Ethernet padding goes */
    switch (ip[9]) {
    case IP_PROTO_TCP:
        tcp_input(st, b, ip, hl, tot);
        return;
    case IP_PROTO_ICMP:
        icmp_input(st, b, ip, hl, tot);
        return;
    default:
        st->ctr.ip_drop_proto++;
        break;
    }
drop:
    net_buf_put(st, b);
}

uint32_t ip_source_for(const struct net_stack *st, uint32_t dst)
{
    for (unsigned i = 0; i < st->naddr; i++)
        if (((dst ^ st->addr[i].ip) & st->addr[i].mask) == 0)
            return st->addr[i].ip;
    return 0;
}

uint32_t ip_route(const struct net_stack *st, uint32_t dst)
{
    if (ip_source_for(st, dst) != 0)
        return dst;
    return st->gateway;
}

void ip_output(struct net_stack *st, struct net_buf *b, uint32_t src, uint32_t dst, uint8_t proto,
               unsigned l4len)
{
    uint32_t nh = ip_route(st, dst);
    if (nh == 0) {
        st->ctr.ip_drop_no_route++;
        net_buf_put(st, b);
        return;
    }
    uint8_t *ip = b->data + ETH_HLEN;
    ip[0] = 0x45;
    ip[1] = 0;
    net_wr16(ip + 2, (uint16_t)(IP_HLEN + l4len));
    net_wr16(ip + 4, st->ip_id++);
    net_wr16(ip + 6, 0x4000); /* DF */
    ip[8] = (uint8_t)st->p.ip_ttl;
    ip[9] = proto;
    net_wr16(ip + 10, 0);
    net_wr32(ip + 12, src);
    net_wr32(ip + 16, dst);
    if (st->caps & PKTIO_CAP_TX_IPV4_CKSUM) {
        b->flags |= NET_BUF_TX_IP_CKSUM;
    } else {
        cksum_store(ip + 10, cksum_ipv4_header(ip, IP_HLEN));
    }
    b->l2_len = ETH_HLEN;
    b->l3_len = IP_HLEN;
    b->len = ETH_HLEN + IP_HLEN + l4len;
    st->ctr.ip_tx_packets++;
    arp_output(st, b, nh);
}
