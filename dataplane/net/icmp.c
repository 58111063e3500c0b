/*
 * ICMP: echo requests to our addresses are answered in the buffer they came
 * in (RFC 792, RFC 1122 §3.2.2.6); everything else is counted and ignored.
 */
#include "net/cksum.h"
#include "net/net_int.h"

#define ICMP_ECHO_REPLY   0
#define ICMP_ECHO_REQUEST 8

void icmp_input(struct net_stack *st, struct net_buf *b, uint8_t *ip, unsigned hl, unsigned tot)
{
    st->ctr.icmp_rx++;
    uint8_t *m = ip + hl;
    unsigned len = tot - hl;
    if (len < 8 || cksum_finish(cksum_partial(m, len, 0)) != 0) {
        st->ctr.icmp_drop_bad++;
        net_buf_put(st, b);
        return;
    }
    if (m[0] != ICMP_ECHO_REQUEST || m[1] != 0) {
        st->ctr.icmp_drop_other++;
        net_buf_put(st, b);
        return;
    }
    st->ctr.icmp_echo_requests++;
    uint32_t src = net_rd32(ip + 12), dst = net_rd32(ip + 16);
    if (len > st->mtu - IP_HLEN) {
        st->ctr.icmp_drop_bad++;
        net_buf_put(st, b);
        return;
    }
    uint8_t *out = b->data + NET_HDRS;
    if (hl != IP_HLEN)
        memmove(out, m, len); /* our reply carries no IP options */
    out[0] = ICMP_ECHO_REPLY;
    net_wr16(out + 2, 0);
    cksum_store(out + 2, cksum_finish(cksum_partial(out, len, 0)));
    b->flags = 0;
    st->ctr.icmp_echo_replies++;
    ip_output(st, b, dst, src, IP_PROTO_ICMP, len);
}
