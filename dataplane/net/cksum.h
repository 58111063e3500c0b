/*
 * Internet checksum (RFC 1071) for IPv4 headers and TCP segments.
 *
 * Partial sums are 16-bit one's-complement sums of the bytes as they lie in
 * memory (native word order), which is what lets the summing loop read
 * 8 bytes at a time on any byte order: the folded result, stored back with
 * the same native order (cksum_store), is the checksum in network order.
 */
#ifndef POLLUX_NET_CKSUM_H
#define POLLUX_NET_CKSUM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct net_buf;

/* Add len bytes at data to the partial sum `sum` (a value from a previous call, or 0). */
uint32_t cksum_partial(const void *data, size_t len, uint32_t sum);
/* Copy len bytes from src to dst and add them to `sum`, in one pass. */
uint32_t cksum_copy(void *dst, const void *src, size_t len, uint32_t sum);
/* Add two partial sums; `odd` when the second one starts at an odd offset of the data. */
uint32_t cksum_combine(uint32_t sum, uint32_t part, int odd);
/* The IPv4 pseudo-header of a segment: addresses in host order, len of the L4 bytes. */
uint32_t cksum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len);
/* The checksum field value (complemented) of a partial sum, in memory order. */
uint16_t cksum_finish(uint32_t sum);
/* Fold without complementing (the pseudo-header value DPDK's TCP offload wants). */
uint16_t cksum_fold(uint32_t sum);

static inline void cksum_store(uint8_t *field, uint16_t v)
{
    memcpy(field, &v, 2);
}

/* Checksum of an IPv4 header of hl bytes whose checksum field is zero. */
static inline uint16_t cksum_ipv4_header(const uint8_t *ip, size_t hl)
{
    return cksum_finish(cksum_partial(ip, hl, 0));
}

/* Reference implementation, 16 bits at a time (tests compare the fast path with it). */
uint16_t cksum_reference(const void *data, size_t len);

/*
 * Do in software what a device with TX checksum offload does for a frame whose
 * flags ask for it (IPv4 header and TCP checksums), then clear those flags.
 */
void cksum_tx_finalize(struct net_buf *b);
/*
 * Verify the IPv4 header and TCP checksums of a received frame.
 * @return 0 when both are right (or the frame is not IPv4/TCP and its IP
 *         header is right); -1 when the IP header is bad; -2 when TCP is.
 */
int cksum_rx_verify(const struct net_buf *b);

#endif
