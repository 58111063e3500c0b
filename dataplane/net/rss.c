#include "net/rss.h"

#include <errno.h>

#include "net/net_int.h"

const uint8_t rss_default_key[RSS_KEY_LEN] = {
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
    0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
    0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

/*
 * For each input bit, most significant first, XOR in the 32 key bits that
 * start at that bit's position. `win` holds 64 key bits so a byte of input is
 * processed with shifts only.
 */
uint32_t rss_toeplitz(const uint8_t *key, size_t keylen, const uint8_t *input, size_t len)
{
    uint32_t h = 0;
    uint64_t win = 0;
    for (size_t i = 0; i < 8; i++)
        win = (win << 8) | (i < keylen ? key[i] : 0);
    for (size_t i = 0; i < len; i++) {
        uint8_t b = input[i];
        for (int bit = 0; bit < 8; bit++) {
            if (b & (0x80 >> bit))
                h ^= (uint32_t)(win >> (32 - bit));
        }
        win = (win << 8) | (i + 8 < keylen ? key[i + 8] : 0);
    }
    return h;
}

uint32_t rss_hash_ipv4(const uint8_t *key, uint32_t src, uint32_t dst)
{
    uint8_t in[8];
    net_wr32(in, src);
    net_wr32(in + 4, dst);
    return rss_toeplitz(key, RSS_KEY_LEN, in, sizeof(in));
}

uint32_t rss_hash_ipv4_tcp(const uint8_t *key, uint32_t src, uint32_t dst, uint16_t sport,
                           uint16_t dport)
{
    uint8_t in[12];
    net_wr32(in, src);
    net_wr32(in + 4, dst);
    net_wr16(in + 8, sport);
    net_wr16(in + 10, dport);
    return rss_toeplitz(key, RSS_KEY_LEN, in, sizeof(in));
}

int rss_conf_init(struct rss_conf *c, const uint8_t *key, unsigned nqueues, unsigned reta_size)
{
    if (nqueues == 0 || reta_size == 0 || reta_size > RSS_RETA_MAX ||
        (reta_size & (reta_size - 1)) != 0)
        return -EINVAL;
    memcpy(c->key, key != NULL ? key : rss_default_key, RSS_KEY_LEN);
    c->nqueues = nqueues;
    c->reta_size = reta_size;
    for (unsigned i = 0; i < reta_size; i++)
        c->reta[i] = (uint16_t)(i % nqueues);
    return 0;
}

unsigned rss_flow_queue(const struct rss_conf *c, uint32_t src, uint32_t dst, uint16_t sport,
                        uint16_t dport)
{
    return rss_queue_of_hash(c, rss_hash_ipv4_tcp(c->key, src, dst, sport, dport));
}

int rss_pick_port(const struct rss_conf *c, uint32_t local_ip, uint32_t remote_ip,
                  uint16_t remote_port, unsigned queue, uint16_t lo, uint16_t hi, uint16_t start)
{
    if (lo > hi)
        return -ENOENT;
    uint32_t range = (uint32_t)hi - lo + 1;
    if (start < lo || start > hi)
        start = lo;
    for (uint32_t i = 0; i < range; i++) {
        uint16_t p = (uint16_t)(lo + (start - lo + i) % range);
        if (rss_flow_queue(c, remote_ip, local_ip, remote_port, p) == queue)
            return p;
    }
    return -ENOENT;
}
