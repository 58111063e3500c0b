#include "net/cksum.h"

#include "net/net_int.h"
#include "net/pktio.h"

static inline uint32_t fold64(uint64_t s)
{
    s = (s & 0xffffffffu) + (s >> 32);
    s = (s & 0xffffffffu) + (s >> 32);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    return (uint32_t)s;
}

static inline uint64_t add_carry(uint64_t a, uint64_t b)
{
    a += b;
    return a + (a < b);
}

/*
 * The main loop adds 64-bit words with end-around carry, four at a time; a
 * one's-complement sum of 64-bit words folds to the same value as the sum of
 * the 16-bit words they contain.
 */
uint32_t cksum_partial(const void *data, size_t len, uint32_t sum)
{
    const uint8_t *p = data;
    uint64_t s = sum, w0, w1, w2, w3;
    while (len >= 32) {
        memcpy(&w0, p, 8);
        memcpy(&w1, p + 8, 8);
        memcpy(&w2, p + 16, 8);
        memcpy(&w3, p + 24, 8);
        s = add_carry(s, w0);
        s = add_carry(s, w1);
        s = add_carry(s, w2);
        s = add_carry(s, w3);
        p += 32;
        len -= 32;
    }
    while (len >= 8) {
        memcpy(&w0, p, 8);
        s = add_carry(s, w0);
        p += 8;
        len -= 8;
    }
    if (len > 0) {
        w0 = 0;
        memcpy(&w0, p, len); /* an odd last byte pairs with a zero, as RFC 1071 says */
        s = add_carry(s, w0);
    }
    return fold64(s);
}

uint32_t cksum_copy(void *dst, const void *src, size_t len, uint32_t sum)
{
    uint8_t *d = dst;
    const uint8_t *p = src;
    uint64_t s = sum, w0, w1;
    while (len >= 16) {
        memcpy(&w0, p, 8);
        memcpy(&w1, p + 8, 8);
        memcpy(d, &w0, 8);
        memcpy(d + 8, &w1, 8);
        s = add_carry(s, w0);
        s = add_carry(s, w1);
        p += 16;
        d += 16;
        len -= 16;
    }
    while (len >= 8) {
        memcpy(&w0, p, 8);
        memcpy(d, &w0, 8);
        s = add_carry(s, w0);
        p += 8;
        d += 8;
        len -= 8;
    }
    if (len > 0) {
        w0 = 0;
        memcpy(&w0, p, len);
        memcpy(d, p, len);
        s = add_carry(s, w0);
    }
    return fold64(s);
}

uint32_t cksum_combine(uint32_t sum, uint32_t part, int odd)
{
    if (odd)
        part = ((part & 0xff) << 8) | ((part >> 8) & 0xff);
    return fold64((uint64_t)sum + part);
}

uint32_t cksum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
{
    uint8_t ph[12];
    net_wr32(ph, src);
    net_wr32(ph + 4, dst);
    ph[8] = 0;
    ph[9] = proto;
    net_wr16(ph + 10, len);
    return cksum_partial(ph, sizeof(ph), 0);
}

uint16_t cksum_fold(uint32_t sum)
{
    return (uint16_t)fold64(sum);
}

uint16_t cksum_finish(uint32_t sum)
{
    return (uint16_t)~fold64(sum);
}

uint16_t cksum_reference(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        s += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1)
        s += (uint32_t)p[len - 1] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s; /* host order: compare with net_rd16 of the stored field */
}

/* Locate the IPv4 header and TCP segment of a frame; 0 when it is neither. */
static int frame_tcp(const struct net_buf *b, uint8_t **ip, unsigned *hl, uint8_t **tcp,
                     unsigned *tlen)
{
    if (b->len < ETH_HLEN + IP_HLEN || net_rd16(b->data + 12) != ETH_P_IPV4)
        return 0;
    uint8_t *h = b->data + ETH_HLEN;
    unsigned l = (h[0] & 0xf) * 4u;
    unsigned tot = net_rd16(h + 2);
    if ((h[0] >> 4) != 4 || l < IP_HLEN || tot < l || ETH_HLEN + tot > b->len)
        return 0;
    *ip = h;
    *hl = l;
    *tcp = h + l;
    *tlen = tot - l;
    return h[9] == IP_PROTO_TCP ? 2 : 1;
}

void cksum_tx_finalize(struct net_buf *b)
{
    uint8_t *ip, *tcp;
    unsigned hl, tlen;
    int k = frame_tcp(b, &ip, &hl, &tcp, &tlen);
    if (k > 0 && (b->flags & NET_BUF_TX_IP_CKSUM)) {
        net_wr16(ip + 10, 0);
        cksum_store(ip + 10, cksum_ipv4_header(ip, hl));
    }
    if (k == 2 && (b->flags & NET_BUF_TX_TCP_CKSUM) && tlen >= TCP_HLEN) {
        /* The field holds the pseudo-header sum already. */
        cksum_store(tcp + 16, cksum_finish(cksum_partial(tcp, tlen, 0)));
    }
    b->flags &= ~(NET_BUF_TX_IP_CKSUM | NET_BUF_TX_TCP_CKSUM);
}

int cksum_rx_verify(const struct net_buf *b)
{
    uint8_t *ip, *tcp;
    unsigned hl, tlen;
    int k = frame_tcp(b, &ip, &hl, &tcp, &tlen);
    if (k == 0)
        return 0;
    if (cksum_finish(cksum_partial(ip, hl, 0)) != 0)
        return -1;
    if (k == 2) {
        uint32_t s =
            cksum_pseudo(net_rd32(ip + 12), net_rd32(ip + 16), IP_PROTO_TCP, (uint16_t)tlen);
        if (cksum_finish(cksum_partial(tcp, tlen, s)) != 0)
            return -2;
    }
    return 0;
}
