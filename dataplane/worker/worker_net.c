/*
 * The DPDK backend's glue to the worker: the DPDK environment, and one
 * userspace TCP/IP stack per worker on the worker's own NIC queue (with the
 * fault injector and the source allowlist at SYN time), handed to the worker
 * as its backend through the stack's adapter (net/net_io.c). The loop and the
 * connections see only the adapter's operations (base/netio.h); what is left
 * here is what only the node knows: parameters, queues, INFO.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker/backend.h"
#include "base/clock.h"
#include "worker/config.h"
#include "base/log.h"
#include "net/net.h"
#include "net/pktio.h"
#include "worker/process.h"
#include "base/util.h"
#include "worker/worker.h"
#ifdef POLLUX_HAVE_DPDK
#include "dpdk/dpdk.h"
#endif

bool backend_dpdk_available(void)
{
#ifdef POLLUX_HAVE_DPDK
    return true;
#else
    return false;
#endif
}

#ifdef POLLUX_HAVE_DPDK
int backend_dpdk_start(const char *prog, unsigned nworkers, const int *cpus)
{
    const struct dpdk_params *p = &config.p.dpdk;
    if (p->ip[0] == '\0') {
        log_warn("pollux-backend dpdk needs an address for the stack: pollux-dpdk-ip a.b.c.d/len");
        return -1;
    }
    struct dpdk_config cfg = {
        .prog = prog,
        .eal_args = p->args,
        .vdevs = p->vdev,
        .allow = p->allow,
        .file_prefix = p->file_prefix,
        .memory_mb = (unsigned)p->memory_mb,
        .no_huge = p->no_huge,
        .in_memory = p->in_memory,
        .port = (unsigned)p->port,
        .nqueues = nworkers,
        .mtu = (unsigned)p->mtu,
        .rx_desc = (unsigned)p->rx_desc,
        .tx_desc = (unsigned)p->tx_desc,
        .mbufs = (unsigned)p->mbufs,
        .queue_cpus = cpus,
    };
    char err[256];
    if (dpdk_start(&cfg, err, sizeof(err)) != 0) {
        log_warn("DPDK backend: %s", err);
        return -1;
    }
    char line[256];
    dpdk_summary(line, sizeof(line));
    log_notice("DPDK backend: %s", line);
    return 0;
}

void backend_dpdk_stop(void)
{
    if (dpdk_started())
        dpdk_stop();
}

static struct pktio *worker_pktio(struct worker *w)
{
    return dpdk_pktio(w->id);
}

static const struct rss_conf *worker_rss(void)
{
    return dpdk_rss_conf();
}

void worker_net_thread_init(struct worker *w)
{
    if (w->net != NULL && dpdk_thread_init(w->id) != 0)
        log_warn("Worker %u: could not register with the DPDK environment", w->id);
}
#else
int backend_dpdk_start(const char *prog, unsigned nworkers, const int *cpus)
{
    (void)prog;
    (void)nworkers;
    (void)cpus;
    log_warn("pollux-backend dpdk is not available in this build (built without libdpdk-dev); "
             "use 'kernel'");
    return -1;
}

void backend_dpdk_stop(void) {}

static struct pktio *worker_pktio(struct worker *w)
{
    (void)w;
    return NULL;
}

static const struct rss_conf *worker_rss(void)
{
    return NULL;
}

void worker_net_thread_init(struct worker *w)
{
    (void)w;
}
#endif

/* pollux-allow-sources on the stack: a refused source gets a RST and no connection block. */
static enum net_syn_verdict allow_syn(void *arg, const struct net_endpoint *peer,
                                      const struct net_endpoint *local)
{
    (void)local;
    uint8_t addr[16];
    cidr_addr_from_v4(peer->ip, addr);
    return worker_source_allowed(arg, addr) ? NET_SYN_ALLOW : NET_SYN_RESET;
}

int worker_net_create(struct worker *w)
{
    struct pktio *io = worker_pktio(w);
    if (io == NULL)
        return -ENODEV;
    struct pktio_fault_config fc;
    if (pktio_fault_config_from_params(&w->params.fault, &fc)) {
        fc.seed += w->id; /* each queue its own sequence, the run still reproducible */
        w->net_fault = pktio_fault_create(io, &fc);
        if (w->net_fault == NULL)
            return -ENOMEM;
        io = pktio_fault_io(w->net_fault);
        log_notice("Worker %u: network fault injection on (pollux-net-fault-*)", w->id);
    }
    long long maxclients = w->params.srv.maxclients;
    struct net_stack_config cfg = {
        .io = io,
        .params = &w->params.net,
        /* every client may land on one worker; the margin lets the error reach the rest */
        .max_conns = (uint32_t)(maxclients + 64 < 1000000 ? maxclients + 64 : 1000000),
        .now_ns = clock_mono_ns(),
        .seed = util_rand64(),
        .rss = worker_rss(),
        .rss_queue = w->id,
        .syn_hook = allow_syn,
        .syn_hook_arg = w,
    };
    w->net = net_stack_create(&cfg);
    if (w->net == NULL)
        return -ENOMEM;
    uint32_t ip;
    unsigned len;
    if (net_prefix_parse(w->params.dpdk.ip, &ip, &len) != 0)
        return -EINVAL;
    int rc = net_addr_add(w->net, ip, len);
    if (rc != 0)
        return rc;
    if (w->params.dpdk.gateway[0] != '\0' && net_ip_parse(w->params.dpdk.gateway, &ip) == 0)
        net_set_gateway(w->net, ip);
    return net_io_create(w->net, w->evfd, &w->io);
}

void worker_net_reload(struct worker *w)
{
    if (w->net == NULL)
        return;
    net_stack_set_params(w->net, &w->params.net);
    if (w->net_fault != NULL) {
        struct pktio_fault_config fc;
        pktio_fault_config_from_params(&w->params.fault, &fc);
        pktio_fault_set_rates(w->net_fault, &fc.rx, &fc.tx);
    }
}

void worker_net_destroy(struct worker *w)
{
    if (w->net != NULL)
        net_stack_destroy(w->net);
    w->net = NULL;
    if (w->net_fault != NULL)
        pktio_fault_destroy(w->net_fault);
    w->net_fault = NULL;
}

void worker_net_info(struct strbuf *s)
{
    const struct worker *w0 = server.workers[0];
    strbuf_printf(s, "# Network\r\nnet_backend:%s\r\n",
                  config_backend_names[w0->params.srv.pollux_backend]);
    if (w0->net == NULL)
        return;
    strbuf_printf(s, "net_address:%s\r\nnet_gateway:%s\r\n", w0->params.dpdk.ip,
                  w0->params.dpdk.gateway);
#ifdef POLLUX_HAVE_DPDK
    dpdk_info(s);
#endif
    uint64_t sum[NET_COUNTER_COUNT] = { 0 };
    struct net_stack_info tot = { 0 };
    for (unsigned i = 0; i < server.nworkers; i++) {
        const struct worker *w = server.workers[i];
        const uint64_t *c = (const uint64_t *)net_stack_counters(w->net);
        for (size_t k = 0; k < NET_COUNTER_COUNT; k++)
            sum[k] += c[k];
        struct net_stack_info in;
        net_stack_info(w->net, &in);
        tot.conns += in.conns;
        tot.syn_rcvd += in.syn_rcvd;
        tot.time_wait += in.time_wait;
        tot.arp_entries += in.arp_entries;
    }
    strbuf_printf(s, "net_connections:%u\r\nnet_syn_rcvd:%u\r\nnet_time_wait:%u\r\n", tot.conns,
                  tot.syn_rcvd, tot.time_wait);
    for (size_t k = 0; k < NET_COUNTER_COUNT; k++)
        strbuf_printf(s, "net_%s:%llu\r\n", net_counter_names[k], (unsigned long long)sum[k]);
    for (unsigned i = 0; i < server.nworkers; i++) {
        const struct worker *w = server.workers[i];
        const struct net_counters *c = net_stack_counters(w->net);
        struct net_stack_info in;
        net_stack_info(w->net, &in);
        strbuf_printf(s,
                      "net_worker%u:connections=%u,arp_entries=%u,segs_in=%llu,segs_out=%llu,"
                      "retrans=%llu,ooo=%llu,rst_in=%llu,rst_out=%llu,accepted=%llu\r\n",
                      i, in.conns, in.arp_entries, (unsigned long long)c->tcp_segs_in,
                      (unsigned long long)c->tcp_segs_out, (unsigned long long)c->tcp_retrans_segs,
                      (unsigned long long)c->tcp_ooo_segs, (unsigned long long)c->tcp_rst_in,
                      (unsigned long long)c->tcp_rst_out, (unsigned long long)c->tcp_accepted);
    }
    if (w0->net_fault != NULL) {
        struct pktio_fault_stats dir[2] = { { 0 }, { 0 } };
        for (unsigned i = 0; i < server.nworkers; i++) {
            struct pktio_fault_stats one[2];
            pktio_fault_stats(server.workers[i]->net_fault, &one[0], &one[1]);
            for (int d = 0; d < 2; d++) {
                dir[d].frames += one[d].frames;
                dir[d].dropped += one[d].dropped;
                dir[d].duplicated += one[d].duplicated;
                dir[d].reordered += one[d].reordered;
                dir[d].corrupted += one[d].corrupted;
            }
        }
        for (int d = 0; d < 2; d++)
            strbuf_printf(s,
                          "net_fault_%s:frames=%llu,dropped=%llu,duplicated=%llu,reordered=%llu,"
                          "corrupted=%llu\r\n",
                          d == 0 ? "rx" : "tx", (unsigned long long)dir[d].frames,
                          (unsigned long long)dir[d].dropped, (unsigned long long)dir[d].duplicated,
                          (unsigned long long)dir[d].reordered,
                          (unsigned long long)dir[d].corrupted);
    }
}
