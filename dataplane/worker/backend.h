/*
 * The network backend of the node: the kernel's sockets (the default) or the
 * DPDK environment with one userspace TCP/IP stack per worker (net/, dpdk/).
 * worker.c runs the same loop on both; these are the parts that differ.
 */
#ifndef POLLUX_BACKEND_H
#define POLLUX_BACKEND_H

#include <stdbool.h>

#include "strbuf.h"

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
 * Main thread: create w's stack on its queue (pollux-dpdk-ip, pollux-net-*,
 * fault injection when pollux-net-fault-* is set) and listen on `port` and
 * on the TLS port `tls_port` of every stack address (0: not that one).
 * @return 0 or -errno.
 */
int worker_net_listen(struct worker *w, int port, int tls_port);
/* The worker's thread, before its first pass. */
void worker_net_thread_init(struct worker *w);
/* Parameters changed (CONFIG SET): give the stack the new ones. */
void worker_net_reload(struct worker *w);
/* After worker_close_conns: the stack, the fault wrapper. */
void worker_net_destroy(struct worker *w);

/* INFO network (every shard held): addresses, port, link, stack counters summed and per worker. */
void worker_net_info(struct strbuf *s);

#endif
