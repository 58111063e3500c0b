/*
 * SYN cookies (RFC 4987 §3.6): when a listener's SYN queue is full, the
 * SYN-ACK's sequence number carries what the connection needs and nothing is
 * kept; a returning ACK whose acknowledgment proves it saw that SYN-ACK
 * becomes a connection as if the handshake had been queued.
 *
 * The cookie (our ISS) is 32 bits:
 *
 *   bits 31..3  the top 29 bits of SipHash-2-4 over (local address and port,
 *               peer address and port, the peer's ISN, the MSS index) keyed
 *               with this period's secret
 *   bits 2..0   the index of the peer's MSS in cookie_mss[] (rounded down),
 *               so a forged ACK cannot pick another MSS either
 *
 * Secrets are 128 random bits per period of TCP_COOKIE_PERIOD_NS, per stack
 * (from the stack's generator, seeded per worker): a cookie is checked
 * against the current and the previous period's secret, so it is accepted
 * for one to two periods after it was sent and never later. A forged ACK
 * passes with probability 2 * 2^-29.
 *
 * Window scaling and timestamps: a SYN that offered timestamps gets them in
 * the cookie SYN-ACK, with window scaling when it offered that too, and the
 * peer's window-scale shift (15: none) rides in the low 4 bits of our TSval,
 * which the peer's ACK echoes in TSecr. That TSval is set at least 1 ms in
 * the past, so the TSvals that follow never go backwards for the peer's
 * PAWS. A SYN without timestamps gets a SYN-ACK without window scaling:
 * the connection runs with windows of at most 64 KiB. The stack has no SACK.
 *
 * Cost: one SipHash per cookie SYN-ACK, at most two per returning ACK, and
 * only while the listener has sent cookies in the last two periods (other
 * ACKs for no connection get their RST as before, uncounted).
 */
#include "net/tcp_int.h"

/* MSS values a cookie can carry (index in 3 bits), ascending. */
static const uint16_t cookie_mss[8] = { 536, 1200, 1300, 1360, 1400, 1440, 1460, 8960 };

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = ROTL(v1, 13);                                                                         \
        v1 ^= v0;                                                                                  \
        v0 = ROTL(v0, 32);                                                                         \
        v2 += v3;                                                                                  \
        v3 = ROTL(v3, 16);                                                                         \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = ROTL(v3, 21);                                                                         \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = ROTL(v1, 17);                                                                         \
        v1 ^= v2;                                                                                  \
        v2 = ROTL(v2, 32);                                                                         \
    } while (0)

/* SipHash-2-4 of a message of n little-endian 64-bit words (n < 32). */
static uint64_t siphash_words(const uint64_t k[2], const uint64_t *m, unsigned n)
{
    uint64_t v0 = k[0] ^ 0x736f6d6570736575ull, v1 = k[1] ^ 0x646f72616e646f6dull;
    uint64_t v2 = k[0] ^ 0x6c7967656e657261ull, v3 = k[1] ^ 0x7465646279746573ull;
    for (unsigned i = 0; i <= n; i++) {
        uint64_t w = i < n ? m[i] : (uint64_t)(8 * n) << 56; /* last: the length */
        v3 ^= w;
        SIPROUND;
        SIPROUND;
        v0 ^= w;
    }
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

/* The secrets of this period and the previous one, rotated as time passes. */
static void cookie_rotate(struct net_stack *st)
{
    uint64_t period = st->now / TCP_COOKIE_PERIOD_NS;
    if (st->cookie_period == period && st->cookie_secret[0][0] != 0)
        return;
    if (st->cookie_period + 1 == period && st->cookie_secret[0][0] != 0) {
        st->cookie_secret[1][0] = st->cookie_secret[0][0];
        st->cookie_secret[1][1] = st->cookie_secret[0][1];
    } else {
        st->cookie_secret[1][0] = net_rand(st) | 1;
        st->cookie_secret[1][1] = net_rand(st);
    }
    st->cookie_secret[0][0] = net_rand(st) | 1; /* nonzero: "set" */
    st->cookie_secret[0][1] = net_rand(st);
    st->cookie_period = period;
}

/* The cookie for a connection's addresses, the peer's ISN and an MSS index. */
static uint32_t cookie_value(const uint64_t k[2], uint32_t lip, uint16_t lport, uint32_t rip,
                             uint16_t rport, uint32_t irs, unsigned mss_idx)
{
    const uint64_t m[3] = { (uint64_t)lip << 32 | rip,
                            (uint64_t)lport << 48 | (uint64_t)rport << 32 | irs, mss_idx };
    return ((uint32_t)(siphash_words(k, m, 3) >> 32) & ~7u) | mss_idx;
}

uint32_t tcp_cookie_make(struct net_stack *st, const struct tcp_seg *syn)
{
    cookie_rotate(st);
    unsigned idx = 0;
    uint16_t mss = syn->mss ? syn->mss : TCP_DEFAULT_MSS;
    while (idx + 1 < 8 && cookie_mss[idx + 1] <= mss)
        idx++;
    return cookie_value(st->cookie_secret[0], syn->dst, syn->dport, syn->src, syn->sport, syn->seq,
                        idx);
}

bool tcp_cookie_check(struct net_stack *st, const struct tcp_seg *ack, uint16_t *mss)
{
    cookie_rotate(st);
    uint32_t cookie = ack->ack - 1, irs = ack->seq - 1;
    for (int i = 0; i < 2; i++) {
        if (cookie_value(st->cookie_secret[i], ack->dst, ack->dport, ack->src, ack->sport, irs,
                         cookie & 7) == cookie) {
            *mss = cookie_mss[cookie & 7];
            return true;
        }
    }
    return false;
}

uint32_t tcp_cookie_tsval(struct net_stack *st, int wscale)
{
    uint32_t ts = net_ts_now(st) - 16;
    return (ts & ~15u) | (wscale >= 0 ? (uint32_t)wscale : 15u);
}
