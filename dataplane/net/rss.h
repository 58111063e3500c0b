/*
 * Receive-side scaling in software: the Toeplitz hash a NIC computes over a
 * flow's addresses and ports, the redirection table that turns a hash into a
 * queue, and the helpers the stack and the DPDK environment need around it:
 * which queue a received flow belongs to, and which ephemeral source port
 * makes an outgoing connection's replies land on a given queue.
 */
#ifndef POLLUX_NET_RSS_H
#define POLLUX_NET_RSS_H

#include <stddef.h>
#include <stdint.h>

#define RSS_KEY_LEN  40
#define RSS_RETA_MAX 512

/* The key most NICs and Microsoft's RSS specification use by default. */
extern const uint8_t rss_default_key[RSS_KEY_LEN];

/* Toeplitz hash of `len` input bytes with a key of at least len + 4 bytes. */
uint32_t rss_toeplitz(const uint8_t *key, size_t keylen, const uint8_t *input, size_t len);
/* Hash of an IPv4 packet's addresses (host order), as a NIC hashes "IPv4". */
uint32_t rss_hash_ipv4(const uint8_t *key, uint32_t src, uint32_t dst);
/* Hash of a TCP/IPv4 packet: source, destination, source port, destination port. */
uint32_t rss_hash_ipv4_tcp(const uint8_t *key, uint32_t src, uint32_t dst, uint16_t sport,
                           uint16_t dport);

struct rss_conf {
    uint8_t key[RSS_KEY_LEN];
    unsigned nqueues;
    unsigned reta_size; /* power of two, <= RSS_RETA_MAX */
    uint16_t reta[RSS_RETA_MAX];
};

/*
 * Fill c with `key` (NULL: the default key) and the round-robin redirection
 * table NICs start with (entry i → queue i % nqueues).
 * @return 0; -EINVAL when nqueues is 0 or reta_size is not a power of two in
 *         [1, RSS_RETA_MAX].
 */
int rss_conf_init(struct rss_conf *c, const uint8_t *key, unsigned nqueues, unsigned reta_size);

/* The queue a hash lands on: reta[hash % reta_size]. */
static inline unsigned rss_queue_of_hash(const struct rss_conf *c, uint32_t hash)
{
    return c->reta[hash & (c->reta_size - 1)];
}

/* The queue a received TCP/IPv4 packet with these header fields lands on. */
unsigned rss_flow_queue(const struct rss_conf *c, uint32_t src, uint32_t dst, uint16_t sport,
                        uint16_t dport);

/*
 * For a connection from local_ip to remote_ip:remote_port, the first port p
 * in [lo, hi], searching upwards from `start` and wrapping, such that the
 * replies (source remote, destination local:p) land on `queue`.
 * @return the port; -ENOENT when none in the range does.
 */
int rss_pick_port(const struct rss_conf *c, uint32_t local_ip, uint32_t remote_ip,
                  uint16_t remote_port, unsigned queue, uint16_t lo, uint16_t hi, uint16_t start);

#endif
