/*
 * The network backend of the node: the kernel's sockets (the default) or the
 * DPDK environment with one userspace TCP/IP stack per worker (net/, dpdk/).
 * worker.c runs the same loop on both through the backend's operations
 * (base/netio.h); these are the DPDK parts only the node can set up.
 */
#ifndef POLLUX_BACKEND_H
#define POLLUX_BACKEND_H

#include <stdbool.h>

#include "base/strbuf.h"

struct worker;

enum backend_kind { BACKEND_KERNEL = 0, BACKEND_DPDK = 1 };

/* Whether this build has the DPDK backend. */
bool backend_dpdk_available(void);

/*
 * Main thread, before the workers are created: start the DPDK environment
 * with one queue per worker (pollux-dpdk-*), worker i's memory on the NUMA
 * node of cpus[i] (-1: unknown). @return 0, or -1 with the reason logged.
 */
int backend_dpdk_start(const char *prog, unsigned nworkers, const int *cpus);
/* After every worker is destroyed. */
void backend_dpdk_stop(void);

/*
 * Main thread, from worker_create: create w's stack on its queue
 * (pollux-dpdk-ip, pollux-net-*, fault injection when pollux-net-fault-* is
 * set) and make it w's backend (w->io, net/net_io.c). @return 0 or -errno.
 */
int worker_net_create(struct worker *w);
/* The worker's thread, before its first pass. */
void worker_net_thread_init(struct worker *w);
/* Parameters changed (CONFIG SET): give the stack the new ones. */
void worker_net_reload(struct worker *w);
/* After the backend's destroy: the stack, the fault wrapper. */
void worker_net_destroy(struct worker *w);

/* INFO network (every shard held): addresses, port, link, stack counters summed and per worker. */
void worker_net_info(struct strbuf *s);

#endif
