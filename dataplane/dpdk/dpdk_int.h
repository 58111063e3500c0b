/* The DPDK environment's shared state: dpdk.c sets it up, pktio_dpdk.c moves the packets. */
#ifndef POLLUX_DPDK_INT_H
#define POLLUX_DPDK_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "base/common.h"
#include "dpdk/dpdk.h"

/* Whether a queue may use the NIC's RSS hash instead of computing the Toeplitz hash itself. */
enum hw_hash_state { HW_HASH_CHECKING = 0, HW_HASH_TRUSTED, HW_HASH_DISTRUSTED };

struct dpdk_queue {
    CACHE_ALIGNED struct pktio io; /* first: the stack's handle is a pointer to the queue */
    unsigned id;
    uint16_t port;
    struct rte_mempool *pool;
    struct rte_ring *steer; /* frames other queues received for flows this one owns */
    enum hw_hash_state hw_hash;
    unsigned hw_checked;
    struct dpdk_queue_stats st;
};

struct dpdk_env {
    bool started;
    uint16_t port;
    unsigned nqueues;
    unsigned mtu;
    bool rss_hw;   /* the port spreads flows with env.rss (key and table read back) */
    bool rx_cksum; /* RX checksum flags are meaningful */
    uint64_t rx_offloads, tx_offloads;
    char driver[64];
    uint8_t mac[6];
    struct rss_conf rss;
    struct dpdk_queue q[DPDK_MAX_QUEUES];
};

extern struct dpdk_env dpdk_env;

/* The packet I/O vtable of a queue (pktio_dpdk.c). */
extern const struct pktio_ops dpdk_pktio_ops;

#endif
