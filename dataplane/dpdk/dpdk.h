/*
 * The DPDK environment: EAL start, one Ethernet port, one RX and one TX queue
 * per worker, each with its own mbuf pool, and a struct pktio (net/pktio.h)
 * per queue for that worker's stack instance.
 *
 * This folder is the only one that includes rte_*.h; everything outside sees
 * this header only. All functions except dpdk_pktio/dpdk_queue_* are called
 * from the main thread; a queue's pktio is used by its own thread only.
 *
 * Steering: a TCP/IPv4 frame that lands on a queue whose worker does not own
 * its flow (no RSS, a PMD that ignores the key, a redirection table that
 * disagrees with the one read back) is handed to the owner over a ring and
 * comes out of the owner's rx_burst. ARP frames are copied to every queue (each
 * stack keeps its own ARP cache). Ownership is rss_flow_queue() over
 * dpdk_rss_conf(), so a stack that picks source ports with rss_pick_port over
 * the same table keeps its outgoing connections too.
 */
#ifndef POLLUX_DPDK_H
#define POLLUX_DPDK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/pktio.h"
#include "net/rss.h"
#include "base/strbuf.h"

#define DPDK_MAX_QUEUES 64

struct dpdk_config {
    const char *prog;          /* argv[0] given to the EAL */
    const char *eal_args;      /* extra EAL arguments, split on spaces ("" or NULL: none) */
    const char *vdevs;         /* space-separated --vdev values ("net_tap0,iface=px0") */
    const char *allow;         /* space-separated --allow PCI addresses */
    const char *file_prefix;   /* --file-prefix ("" or NULL: EAL default) */
    unsigned memory_mb;        /* -m (0: EAL default) */
    bool no_huge;              /* --no-huge (tests, no hugepages reserved) */
    bool in_memory;            /* --in-memory: no runtime files, several processes side by side */
    unsigned port;             /* which probed port (0: the first) */
    unsigned nqueues;          /* RX/TX queue pairs: one per worker, 1..DPDK_MAX_QUEUES */
    unsigned mtu;              /* 0: 1500 */
    unsigned rx_desc, tx_desc; /* ring sizes (0: 1024 each) */
    unsigned mbufs;            /* mbufs per queue pool (0: 8191) */
    const uint8_t *rss_key;    /* RSS_KEY_LEN bytes to program (NULL: rss_default_key) */
    const int *queue_cpus;     /* CPU of each queue's thread (NULL or -1: unknown): its pool and
                                  rings go on that CPU's NUMA node, else on the port's */
};

/*
 * Start the EAL with the arguments built from cfg, then configure and start
 * the port: nqueues RX and TX queues, a pool per queue on the port's NUMA
 * node, RSS over TCP/IPv4 with cfg->rss_key where the PMD takes it (the key
 * and redirection table in force are read back), checksum offloads where the
 * PMD has them. Waits up to 5 s for the link.
 * @return 0, or -errno with a one-line reason in err.
 */
int dpdk_start(const struct dpdk_config *cfg, char *err, size_t errlen);
/* Stop and close the port, free the pools, clean up the EAL. After every queue user stopped. */
void dpdk_stop(void);
bool dpdk_started(void);

/* The calling thread is about to use `queue`: registers it with the EAL (mempool caches). */
int dpdk_thread_init(unsigned queue);
/* The packet I/O of `queue` (its MAC, MTU and offload caps filled in). */
struct pktio *dpdk_pktio(unsigned queue);
/* The RSS table flow ownership follows (what the port uses, or a software table). */
const struct rss_conf *dpdk_rss_conf(void);
unsigned dpdk_nqueues(void);

struct dpdk_queue_stats {
    uint64_t rx_frames;   /* from the NIC queue */
    uint64_t tx_frames;   /* taken by the NIC queue */
    uint64_t tx_full;     /* offered but not taken (the stack retries) */
    uint64_t steered_out; /* frames handed to another queue's owner */
    uint64_t steered_in;  /* frames received from other queues */
    uint64_t steer_drops; /* steering ring full: dropped */
    uint64_t arp_copies;  /* ARP frames copied to the other queues */
    uint64_t alloc_fail;  /* mbuf allocation failures */
};
/* Any thread (counters are single-writer, read without locks). */
void dpdk_queue_stats(unsigned queue, struct dpdk_queue_stats *st);

/*
 * INFO text (lines "name:value\r\n"): driver, port, MAC, link status, speed
 * and duplex, MTU, queues, offloads in use, RSS (hardware or software), the
 * port's basic stats and every non-zero xstat, per-queue steering counters.
 */
void dpdk_info(struct strbuf *s);
/* One line for the log: driver, port, MAC, queues, RSS mode, offloads, link. */
void dpdk_summary(char *buf, size_t len);

#endif
