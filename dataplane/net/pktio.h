/*
 * Packet I/O: the only way the stack touches a network device.
 *
 * A pktio is a small vtable (receive a burst, transmit a burst, allocate and
 * free buffers) plus what the device can do (offloads, MTU, MAC address). The
 * stack never sees the backing object: a DPDK adapter maps each rte_mbuf into
 * a struct net_buf (kept in the mbuf's private area, `priv` pointing back at
 * the mbuf), the in-memory fake (pktio_mem) backs it with a plain array, and
 * the fault wrapper (pktio_fault) sits in front of any other pktio.
 *
 * Buffers are single-segment: a frame is `len` contiguous bytes at `data`.
 * Ownership moves with the call: rx_burst hands buffers to the caller,
 * tx_burst takes the ones it accepted, free returns one to the device.
 */
#ifndef POLLUX_NET_PKTIO_H
#define POLLUX_NET_PKTIO_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/param.h"

/* net_buf.flags set by a device on receive */
#define NET_BUF_RX_IP_CKSUM_GOOD (1u << 0) /* IPv4 header checksum verified */
#define NET_BUF_RX_IP_CKSUM_BAD  (1u << 1)
#define NET_BUF_RX_L4_CKSUM_GOOD (1u << 2) /* TCP/UDP checksum verified */
#define NET_BUF_RX_L4_CKSUM_BAD  (1u << 3)
#define NET_BUF_RX_RSS_HASH      (1u << 4) /* rss_hash is valid */
/* net_buf.flags set by the stack on transmit, only when the device has the matching cap */
#define NET_BUF_TX_IP_CKSUM (1u << 8) /* device fills the IPv4 header checksum */
#define NET_BUF_TX_TCP_CKSUM                                                                       \
    (1u << 9) /* device fills the TCP checksum; the field holds the                                \
                 folded pseudo-header sum, as DPDK expects */

struct net_buf {
    uint8_t *data;        /* first byte of the Ethernet frame */
    uint32_t len;         /* frame length in bytes */
    uint32_t room;        /* bytes usable from data on (len <= room) */
    uint32_t flags;       /* NET_BUF_* */
    uint32_t rss_hash;    /* valid with NET_BUF_RX_RSS_HASH */
    uint16_t headroom;    /* bytes before data (informative) */
    uint8_t l2_len;       /* TX offload: Ethernet header length */
    uint8_t l3_len;       /* TX offload: IPv4 header length */
    struct net_buf *next; /* free for whoever owns the buffer now */
    void *priv;           /* the device's own object (an rte_mbuf) */
};

/* pktio.caps */
#define PKTIO_CAP_TX_IPV4_CKSUM (1u << 0)
#define PKTIO_CAP_TX_TCP_CKSUM  (1u << 1)
#define PKTIO_CAP_RX_CKSUM      (1u << 2) /* RX checksum flags are set */
#define PKTIO_CAP_RSS_HASH      (1u << 3) /* RX rss_hash is set */

struct pktio;

struct pktio_ops {
    /* Receive up to n frames into bufs. @return how many (0..n). */
    unsigned (*rx_burst)(struct pktio *io, struct net_buf **bufs, unsigned n);
    /* Transmit up to n frames. @return how many were taken (0..n): those belong to the
     * device now; the rest stay the caller's, in order. */
    unsigned (*tx_burst)(struct pktio *io, struct net_buf **bufs, unsigned n);
    /* A buffer with room >= 14 + mtu, len 0. @return NULL when none is free. */
    struct net_buf *(*alloc)(struct pktio *io);
    void (*free)(struct pktio *io, struct net_buf *b);
};

struct pktio {
    const struct pktio_ops *ops;
    uint32_t caps; /* PKTIO_CAP_* */
    uint32_t mtu;  /* largest IPv4 packet, bytes (1500 on Ethernet) */
    uint8_t mac[6];
};

static inline unsigned pktio_rx_burst(struct pktio *io, struct net_buf **b, unsigned n)
{
    return io->ops->rx_burst(io, b, n);
}
static inline unsigned pktio_tx_burst(struct pktio *io, struct net_buf **b, unsigned n)
{
    return io->ops->tx_burst(io, b, n);
}
static inline struct net_buf *pktio_alloc(struct pktio *io)
{
    return io->ops->alloc(io);
}
static inline void pktio_free(struct pktio *io, struct net_buf *b)
{
    io->ops->free(io, b);
}

/* ---------------------------------------------------------------------------
 * pktio_mem: an in-memory device. Frames transmitted on it are kept for the
 * caller to take (pktio_mem_tx_pop), or, once two devices are linked, copied
 * into the other one's receive queue — a wire. Tests inject frames with
 * pktio_mem_inject. With TX offload caps it computes the checksums itself, as
 * a NIC would; with PKTIO_CAP_RX_CKSUM it verifies them on receive and sets
 * the RX flags.
 * ------------------------------------------------------------------------ */

struct pktio_mem;

struct pktio_mem_config {
    uint8_t mac[6];
    uint32_t mtu;   /* 0: 1500 */
    uint32_t caps;  /* PKTIO_CAP_* to emulate */
    unsigned nbufs; /* buffer pool size; 0: 4096 */
    unsigned qlen;  /* receive and capture queue length (rounded to a power of two); 0: 4096 */
};

struct pktio_mem_stats {
    uint64_t rx_frames;  /* delivered by rx_burst */
    uint64_t tx_frames;  /* taken by tx_burst */
    uint64_t rx_dropped; /* receive queue full or no buffer */
    uint64_t tx_dropped; /* capture queue full */
};

/* @return the device, or NULL when out of memory. */
struct pktio_mem *pktio_mem_create(const struct pktio_mem_config *cfg);
void pktio_mem_destroy(struct pktio_mem *m);
struct pktio *pktio_mem_io(struct pktio_mem *m);
/* From now on frames sent on a arrive at b and frames sent on b arrive at a. */
void pktio_mem_link(struct pktio_mem *a, struct pktio_mem *b);
/*
 * Queue a copy of `frame` for reception, with RX flags `flags` (and rss_hash).
 * @return 0; -ENOBUFS when no buffer or queue slot is free; -EMSGSIZE when the
 *         frame does not fit a buffer.
 */
int pktio_mem_inject(struct pktio_mem *m, const void *frame, size_t len, uint32_t flags,
                     uint32_t rss_hash);
/* Frames transmitted and not yet taken. */
unsigned pktio_mem_tx_count(const struct pktio_mem *m);
/* Take the oldest transmitted frame (free it with pktio_free), or NULL. */
struct net_buf *pktio_mem_tx_pop(struct pktio_mem *m);
/* Frames waiting in the receive queue. */
unsigned pktio_mem_rx_count(const struct pktio_mem *m);
/* Buffers in the pool that nobody holds (equal to nbufs when nothing leaked). */
unsigned pktio_mem_free_bufs(const struct pktio_mem *m);
void pktio_mem_stats(const struct pktio_mem *m, struct pktio_mem_stats *st);

/* ---------------------------------------------------------------------------
 * pktio_fault: wraps another pktio and, with a seeded generator, drops,
 * duplicates, reorders and corrupts a chosen fraction of the frames in each
 * direction. Rates are in parts per million (10000 = 1%).
 *
 * - drop: the frame is freed;
 * - duplicate: a copy (a buffer from the inner device) follows the frame;
 * - reorder: the frame is held back and released after the frames of the next
 *   burst in the same direction (held transmit frames also leave on the next
 *   receive call, so a quiet sender does not keep them forever);
 * - corrupt: one random bit of the IPv4 packet (after the Ethernet header) is
 *   flipped. An Ethernet FCS would catch errors in the link header and in ARP,
 *   which has no checksum of its own, so those are left alone. On receive the
 *   device's "checksum good" flags are cleared; on transmit, offloaded
 *   checksums are first computed in software, so the damage is on the wire
 *   and not hidden by a later offload.
 * ------------------------------------------------------------------------ */

struct pktio_fault;

struct pktio_fault_rates {
    uint32_t drop_ppm, dup_ppm, reorder_ppm, corrupt_ppm;
};

struct pktio_fault_config {
    struct pktio_fault_rates rx, tx;
    uint64_t seed;
};

struct pktio_fault_stats {
    uint64_t frames, dropped, duplicated, reordered, corrupted;
};

/*
 * The daemon's parameters for the wrapper (param.h table): all zero means no
 * wrapper at all.
 */
#define PKTIO_FAULT_PARAMS(X)                                                                      \
    X(rx_drop, "pollux-net-fault-rx-drop-ppm", INT, 0, 0, 1000000, PARAM_MUTABLE, NULL)            \
    X(rx_dup, "pollux-net-fault-rx-dup-ppm", INT, 0, 0, 1000000, PARAM_MUTABLE, NULL)              \
    X(rx_reorder, "pollux-net-fault-rx-reorder-ppm", INT, 0, 0, 1000000, PARAM_MUTABLE, NULL)      \
    X(rx_corrupt, "pollux-net-fault-rx-corrupt-ppm", INT, 0, 0, 1000000, PARAM_MUTABLE, NULL)      \
    X(tx_drop, "pollux-net-fault-tx-drop-ppm", INT, 0, 0, 1000000, PARAM_MUTABLE, NULL)            \
    X(tx_dup, "pollux-net-fault-tx-dup-ppm", INT, 0, 0, 1000000, PARAM_MUTABLE, NULL)              \
    X(tx_reorder, "pollux-net-fault-tx-reorder-ppm", INT, 0, 0, 1000000, PARAM_MUTABLE, NULL)      \
    X(tx_corrupt, "pollux-net-fault-tx-corrupt-ppm", INT, 0, 0, 1000000, PARAM_MUTABLE, NULL)      \
    X(seed, "pollux-net-fault-seed", INT, 1, 0, LLONG_MAX, 0, NULL)

PARAM_STRUCT(pktio_fault_params, PKTIO_FAULT_PARAMS);
extern const struct param_def pktio_fault_param_defs[];

/* The wrapper's configuration from its parameters. @return true when any rate is set. */
bool pktio_fault_config_from_params(const struct pktio_fault_params *p,
                                    struct pktio_fault_config *cfg);

/* @return the wrapper (it does not own `inner`), or NULL when out of memory. */
struct pktio_fault *pktio_fault_create(struct pktio *inner, const struct pktio_fault_config *cfg);
/* Frees frames still held back. */
void pktio_fault_destroy(struct pktio_fault *f);
struct pktio *pktio_fault_io(struct pktio_fault *f);
void pktio_fault_set_rates(struct pktio_fault *f, const struct pktio_fault_rates *rx,
                           const struct pktio_fault_rates *tx);
void pktio_fault_stats(const struct pktio_fault *f, struct pktio_fault_stats *rx,
                       struct pktio_fault_stats *tx);

#endif
