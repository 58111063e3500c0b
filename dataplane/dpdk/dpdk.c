/*
 * The DPDK environment: EAL arguments from the configuration, one port with
 * a queue pair and an mbuf pool per worker, RSS, offloads, link and INFO.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "dpdk/dpdk_int.h"

#define EAL_ARGS_MAX  64
#define STEER_RING    4096
#define POOL_CACHE    256
#define LINK_WAIT_MS  5000
#define DEFAULT_MBUFS 8191
#define DEFAULT_DESC  1024

struct dpdk_env dpdk_env;

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

/* ---------------------------------------------------------------------------
 * EAL arguments
 * ------------------------------------------------------------------------ */

struct argv_buf {
    char *argv[EAL_ARGS_MAX + 1];
    int argc;
    char text[4096];
    size_t used;
};

static bool arg_add(struct argv_buf *a, const char *s)
{
    size_t n = strlen(s) + 1;
    if (a->argc >= EAL_ARGS_MAX || a->used + n > sizeof(a->text))
        return false;
    a->argv[a->argc++] = memcpy(a->text + a->used, s, n);
    a->used += n;
    a->argv[a->argc] = NULL;
    return true;
}

/* Each space-separated word of list, after `flag` when one is given. */
static bool arg_words(struct argv_buf *a, const char *flag, const char *list)
{
    if (list == NULL)
        return true;
    char word[1024];
    const char *p = list;
    while (*p) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, " ");
        if (n == 0)
            break;
        if (n >= sizeof(word))
            return false;
        memcpy(word, p, n);
        word[n] = '\0';
        if ((flag != NULL && !arg_add(a, flag)) || !arg_add(a, word))
            return false;
        p += n;
    }
    return true;
}

/*
 * Whether list has one of the options in words: "--name", "--name=v", and for
 * a short option "-x" also "-xVALUE" (getopt takes "-l1" as "-l 1").
 */
static bool has_word(const char *list, const char *const *words)
{
    if (list == NULL)
        return false;
    for (const char *const *w = words; *w != NULL; w++) {
        size_t n = strlen(*w);
        bool short_opt = n == 2 && (*w)[0] == '-' && (*w)[1] != '-';
        for (const char *p = strstr(list, *w); p != NULL; p = strstr(p + 1, *w))
            if ((p == list || p[-1] == ' ') &&
                (short_opt || p[n] == ' ' || p[n] == '=' || p[n] == '\0'))
                return true;
    }
    return false;
}

static int build_args(const struct dpdk_config *cfg, struct argv_buf *a)
{
    static const char *const core_flags[] = { "-l", "-c", "--lcores", NULL };
    static const char *const log_flags[] = { "--log-level", NULL };
    static const char *const tele_flags[] = { "--telemetry", "--no-telemetry", NULL };
    char buf[64];
    bool ok = arg_add(a, cfg->prog != NULL ? cfg->prog : "polluxd");
    if (!has_word(cfg->eal_args, core_flags)) {
        /* The EAL's main thread: the first CPU we may run on (workers register later). */
        cpu_set_t set;
        int cpu = 0;
        if (sched_getaffinity(0, sizeof(set), &set) == 0)
            while (cpu < CPU_SETSIZE - 1 && !CPU_ISSET(cpu, &set))
                cpu++;
        snprintf(buf, sizeof(buf), "%d", cpu);
        ok = ok && arg_add(a, "-l") && arg_add(a, buf);
    }
    if (!has_word(cfg->eal_args, log_flags))
        ok = ok && arg_add(a, "--log-level=warning");
    if (!has_word(cfg->eal_args, tele_flags))
        ok = ok && arg_add(a, "--no-telemetry");
    if (cfg->no_huge)
        ok = ok && arg_add(a, "--no-huge");
    /* --no-huge runs in legacy memory mode, which --in-memory refuses: without
     * hugepage files, --no-shconf is what is left of it. */
    if (cfg->in_memory)
        ok = ok && arg_add(a, cfg->no_huge ? "--no-shconf" : "--in-memory");
    if (cfg->memory_mb > 0) {
        snprintf(buf, sizeof(buf), "%u", cfg->memory_mb);
        ok = ok && arg_add(a, "-m") && arg_add(a, buf);
    }
    if (cfg->file_prefix != NULL && cfg->file_prefix[0] != '\0')
        ok = ok && arg_add(a, "--file-prefix") && arg_add(a, cfg->file_prefix);
    ok = ok && arg_words(a, "--vdev", cfg->vdevs) && arg_words(a, "-a", cfg->allow);
    /* Virtual devices only: leave the host's PCI devices alone. */
    if (cfg->vdevs != NULL && cfg->vdevs[0] != '\0' && (cfg->allow == NULL || !cfg->allow[0]))
        ok = ok && arg_add(a, "--no-pci");
    ok = ok && arg_words(a, NULL, cfg->eal_args);
    return ok ? 0 : -E2BIG;
}

/* ---------------------------------------------------------------------------
 * Port
 * ------------------------------------------------------------------------ */

static int find_port(unsigned index, uint16_t *out)
{
    unsigned i = 0;
    uint16_t pid;
    RTE_ETH_FOREACH_DEV(pid)
    {
        if (i++ == index) {
            *out = pid;
            return 0;
        }
    }
    return -ENODEV;
}

/* Key and redirection table in force, read back from the port. @return 0 or -errno. */
static int rss_read_back(uint16_t port, const struct rte_eth_dev_info *info, unsigned nq,
                         struct rss_conf *rc)
{
    uint8_t key[64];
    struct rte_eth_rss_conf conf = { .rss_key = key, .rss_key_len = sizeof(key) };
    int rc1 = rte_eth_dev_rss_hash_conf_get(port, &conf);
    if (rc1 != 0)
        return rc1;
    if (conf.rss_key_len < RSS_KEY_LEN || !(conf.rss_hf & RTE_ETH_RSS_NONFRAG_IPV4_TCP))
        return -ENOTSUP;
    unsigned size = info->reta_size;
    if (size == 0 || size > RSS_RETA_MAX || (size & (size - 1)) != 0)
        return -ENOTSUP;
    struct rte_eth_rss_reta_entry64 reta[RSS_RETA_MAX / RTE_ETH_RETA_GROUP_SIZE];
    memset(reta, 0, sizeof(reta));
    for (unsigned g = 0; g < (size + RTE_ETH_RETA_GROUP_SIZE - 1) / RTE_ETH_RETA_GROUP_SIZE; g++)
        reta[g].mask = UINT64_MAX;
    int rc2 = rte_eth_dev_rss_reta_query(port, reta, (uint16_t)size);
    if (rc2 != 0)
        return rc2;
    if (rss_conf_init(rc, key, nq, size) != 0)
        return -EINVAL;
    for (unsigned i = 0; i < size; i++) {
        uint16_t qi = reta[i / RTE_ETH_RETA_GROUP_SIZE].reta[i % RTE_ETH_RETA_GROUP_SIZE];
        if (qi >= nq)
            return -ERANGE;
        rc->reta[i] = qi;
    }
    return 0;
}

/* The NUMA node of a CPU (sysfs: cpuN/nodeM), or -1 when unknown. */
static int cpu_node(int cpu)
{
    char path[64];
    snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d", cpu);
    DIR *d = cpu >= 0 ? opendir(path) : NULL;
    if (d == NULL)
        return -1;
    int node = -1;
    struct dirent *de;
    while (node < 0 && (de = readdir(d)) != NULL)
        if (strncmp(de->d_name, "node", 4) == 0 && de->d_name[4] >= '0' && de->d_name[4] <= '9')
            node = atoi(de->d_name + 4);
    closedir(d);
    return node;
}

static int setup_queue(struct dpdk_queue *q, uint16_t port, unsigned id, int socket, unsigned mbufs,
                       unsigned data_room, unsigned nrxd, unsigned ntxd,
                       const struct rte_eth_dev_info *info, char *err, size_t errlen)
{
    char name[RTE_MEMPOOL_NAMESIZE];
    q->id = id;
    q->port = port;
    q->io.ops = &dpdk_pktio_ops;
    snprintf(name, sizeof(name), "pollux_pool%u", id);
    unsigned priv = RTE_ALIGN(sizeof(struct net_buf), RTE_MBUF_PRIV_ALIGN);
    q->pool = rte_pktmbuf_pool_create(name, mbufs, POOL_CACHE, (uint16_t)priv, (uint16_t)data_room,
                                      socket);
    if (q->pool == NULL && socket != SOCKET_ID_ANY) {
        /* No memory reserved on that node (--no-huge, --socket-mem): anywhere. */
        socket = SOCKET_ID_ANY;
        q->pool = rte_pktmbuf_pool_create(name, mbufs, POOL_CACHE, (uint16_t)priv,
                                          (uint16_t)data_room, socket);
    }
    if (q->pool == NULL)
        return fail(err, errlen, -ENOMEM, "queue %u: cannot create a pool of %u mbufs: %s", id,
                    mbufs, rte_strerror(rte_errno));
    snprintf(name, sizeof(name), "pollux_steer%u", id);
    q->steer = rte_ring_create(name, STEER_RING, socket, RING_F_SC_DEQ);
    if (q->steer == NULL)
        return fail(err, errlen, -ENOMEM, "queue %u: cannot create the steering ring: %s", id,
                    rte_strerror(rte_errno));
    int rc =
        rte_eth_rx_queue_setup(port, (uint16_t)id, (uint16_t)nrxd, (unsigned)socket, NULL, q->pool);
    if (rc != 0)
        return fail(err, errlen, rc, "RX queue %u: %s", id, rte_strerror(-rc));
    struct rte_eth_txconf txc = info->default_txconf;
    txc.offloads = dpdk_env.tx_offloads;
    rc = rte_eth_tx_queue_setup(port, (uint16_t)id, (uint16_t)ntxd, (unsigned)socket, &txc);
    if (rc != 0)
        return fail(err, errlen, rc, "TX queue %u: %s", id, rte_strerror(-rc));
    return 0;
}

static int port_start(const struct dpdk_config *cfg, char *err, size_t errlen)
{
    struct dpdk_env *e = &dpdk_env;
    uint16_t port;
    if (find_port(cfg->port, &port) != 0)
        return fail(err, errlen, -ENODEV,
                    "no port %u probed (%u available): bind the NIC to vfio-pci, or give "
                    "pollux-dpdk-allow / pollux-dpdk-vdev",
                    cfg->port, (unsigned)rte_eth_dev_count_avail());
    e->port = port;
    struct rte_eth_dev_info info;
    int rc = rte_eth_dev_info_get(port, &info);
    if (rc != 0)
        return fail(err, errlen, rc, "port %u: no device info: %s", port, rte_strerror(-rc));
    snprintf(e->driver, sizeof(e->driver), "%s", info.driver_name);
    unsigned nq = cfg->nqueues;
    if (nq > info.max_rx_queues || nq > info.max_tx_queues)
        return fail(err, errlen, -EINVAL,
                    "port %u (%s): %u queues wanted, the port has at most %u RX / %u TX: lower "
                    "pollux-workers",
                    port, e->driver, nq, info.max_rx_queues, info.max_tx_queues);

    e->mtu = cfg->mtu ? cfg->mtu : 1500;
    struct rte_eth_conf conf;
    memset(&conf, 0, sizeof(conf));
    /* Some PMDs (net_tap) report max_mtu 65535 but receive no more than max_rx_pktlen. */
    unsigned mtu_max = info.max_mtu;
    if (info.max_rx_pktlen > 18 && info.max_rx_pktlen - 18 < mtu_max)
        mtu_max = info.max_rx_pktlen - 18;
    if (e->mtu < info.min_mtu || e->mtu > mtu_max)
        return fail(err, errlen, -EINVAL, "port %u (%s): MTU %u outside the port's range %u..%u",
                    port, e->driver, e->mtu, info.min_mtu, mtu_max);
    conf.rxmode.mtu = e->mtu;
    e->rx_offloads =
        info.rx_offload_capa & (RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM);
    e->tx_offloads =
        info.tx_offload_capa & (RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM);
    uint64_t hf = info.flow_type_rss_offloads & (RTE_ETH_RSS_NONFRAG_IPV4_TCP | RTE_ETH_RSS_IPV4);
    static uint8_t key[RSS_KEY_LEN];
    memcpy(key, cfg->rss_key != NULL ? cfg->rss_key : rss_default_key, RSS_KEY_LEN);
    bool want_rss = nq > 1 && (hf & RTE_ETH_RSS_NONFRAG_IPV4_TCP);
    if (want_rss) {
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_hf = hf;
        if (info.hash_key_size == RSS_KEY_LEN) {
            conf.rx_adv_conf.rss_conf.rss_key = key;
            conf.rx_adv_conf.rss_conf.rss_key_len = RSS_KEY_LEN;
        }
        e->rx_offloads |= info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_RSS_HASH;
    }
    conf.rxmode.offloads = e->rx_offloads;
    conf.txmode.offloads = e->tx_offloads;
    rc = rte_eth_dev_configure(port, (uint16_t)nq, (uint16_t)nq, &conf);
    if (rc != 0 && want_rss) {
        /* A PMD that lists RSS but refuses this set-up: software steering does the job. */
        want_rss = false;
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_NONE;
        memset(&conf.rx_adv_conf.rss_conf, 0, sizeof(conf.rx_adv_conf.rss_conf));
        e->rx_offloads &= ~RTE_ETH_RX_OFFLOAD_RSS_HASH;
        conf.rxmode.offloads = e->rx_offloads;
        rc = rte_eth_dev_configure(port, (uint16_t)nq, (uint16_t)nq, &conf);
    }
    if (rc != 0)
        return fail(err, errlen, rc, "port %u (%s): configure: %s", port, e->driver,
                    rte_strerror(-rc));
    e->rx_cksum =
        (e->rx_offloads & (RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM)) != 0;

    uint16_t nrxd = (uint16_t)(cfg->rx_desc ? cfg->rx_desc : DEFAULT_DESC);
    uint16_t ntxd = (uint16_t)(cfg->tx_desc ? cfg->tx_desc : DEFAULT_DESC);
    rte_eth_dev_adjust_nb_rx_tx_desc(port, &nrxd, &ntxd);
    int socket = rte_eth_dev_socket_id(port);
    if (socket < 0)
        socket = (int)rte_socket_id();
    unsigned mbufs = cfg->mbufs ? cfg->mbufs : DEFAULT_MBUFS;
    if (mbufs < 2u * nrxd + ntxd)
        mbufs = 2u * nrxd + ntxd; /* the RX ring alone holds nrxd */
    unsigned data_room = RTE_PKTMBUF_HEADROOM + (e->mtu + 14 + 4 > 2048 ? e->mtu + 14 + 4 : 2048);
    for (unsigned i = 0; i < nq; i++) {
        /* The worker's memory on the worker's node (the NIC's when the worker's is unknown). */
        int node = cfg->queue_cpus != NULL ? cpu_node(cfg->queue_cpus[i]) : -1;
        rc = setup_queue(&e->q[i], port, i, node >= 0 ? node : socket, mbufs, data_room, nrxd, ntxd,
                         &info, err, errlen);
        if (rc != 0)
            return rc;
    }
    rc = rte_eth_dev_start(port);
    if (rc != 0)
        return fail(err, errlen, rc, "port %u (%s): start: %s", port, e->driver, rte_strerror(-rc));
    struct rte_ether_addr mac;
    rte_eth_macaddr_get(port, &mac);
    memcpy(e->mac, mac.addr_bytes, 6);

    e->rss_hw = want_rss && rss_read_back(port, &info, nq, &e->rss) == 0;
    if (!e->rss_hw)
        rss_conf_init(&e->rss, key, nq, 128);

    uint32_t caps = 0;
    if (e->tx_offloads & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM)
        caps |= PKTIO_CAP_TX_IPV4_CKSUM;
    if (e->tx_offloads & RTE_ETH_TX_OFFLOAD_TCP_CKSUM)
        caps |= PKTIO_CAP_TX_TCP_CKSUM;
    if (e->rx_cksum)
        caps |= PKTIO_CAP_RX_CKSUM;
    if (e->rx_offloads & RTE_ETH_RX_OFFLOAD_RSS_HASH)
        caps |= PKTIO_CAP_RSS_HASH;
    for (unsigned i = 0; i < nq; i++) {
        e->q[i].io.caps = caps;
        e->q[i].io.mtu = e->mtu;
        memcpy(e->q[i].io.mac, e->mac, 6);
    }

    /* The link: up within a few seconds, or we go on and INFO says it is down. */
    struct timespec tick = { .tv_sec = 0, .tv_nsec = 50 * 1000 * 1000 };
    for (int waited = 0; waited < LINK_WAIT_MS; waited += 50) {
        struct rte_eth_link link;
        if (rte_eth_link_get_nowait(port, &link) == 0 && link.link_status == RTE_ETH_LINK_UP)
            break;
        nanosleep(&tick, NULL);
    }
    return 0;
}

int dpdk_start(const struct dpdk_config *cfg, char *err, size_t errlen)
{
    struct dpdk_env *e = &dpdk_env;
    if (e->started)
        return fail(err, errlen, -EALREADY, "the DPDK environment is started already");
    if (cfg->nqueues == 0 || cfg->nqueues > DPDK_MAX_QUEUES)
        return fail(err, errlen, -EINVAL, "%u queues: must be 1 to %d", cfg->nqueues,
                    DPDK_MAX_QUEUES);
    memset(e, 0, sizeof(*e));
    e->port = RTE_MAX_ETHPORTS; /* none yet: dpdk_stop leaves the ports alone */
    e->nqueues = cfg->nqueues;
    /* rte_eal_init may permute argv and keeps pointers into it: the arguments live as
     * long as the process (one EAL per process). */
    static struct argv_buf args;
    struct argv_buf *a = &args;
    memset(a, 0, sizeof(*a));
    if (build_args(cfg, a) != 0)
        return fail(err, errlen, -E2BIG, "too many EAL arguments");
    int rc = rte_eal_init(a->argc, a->argv);
    if (rc < 0) {
        int eno = rte_errno;
        return fail(err, errlen, -eno, "EAL initialisation failed: %s", rte_strerror(eno));
    }
    rc = port_start(cfg, err, errlen);
    if (rc != 0) {
        e->started = true;
        dpdk_stop();
        return rc;
    }
    e->started = true;
    return 0;
}

void dpdk_stop(void)
{
    struct dpdk_env *e = &dpdk_env;
    if (!e->started)
        return;
    if (e->port < RTE_MAX_ETHPORTS) { /* not when start failed before finding it */
        rte_eth_dev_stop(e->port);
        rte_eth_dev_close(e->port);
    }
    for (unsigned i = 0; i < e->nqueues; i++) {
        struct dpdk_queue *q = &e->q[i];
        if (q->steer != NULL) {
            void *m;
            while (rte_ring_sc_dequeue(q->steer, &m) == 0)
                rte_pktmbuf_free(m);
            rte_ring_free(q->steer);
        }
    }
    for (unsigned i = 0; i < e->nqueues; i++)
        rte_mempool_free(e->q[i].pool);
    rte_eal_cleanup();
    e->started = false;
}

bool dpdk_started(void)
{
    return dpdk_env.started;
}

int dpdk_thread_init(unsigned queue)
{
    (void)queue;
    if (rte_lcore_id() != LCORE_ID_ANY)
        return 0; /* an EAL thread already */
    return rte_thread_register() == 0 ? 0 : -rte_errno;
}

struct pktio *dpdk_pktio(unsigned queue)
{
    if (!dpdk_env.started || queue >= dpdk_env.nqueues)
        return NULL;
    return &dpdk_env.q[queue].io;
}

const struct rss_conf *dpdk_rss_conf(void)
{
    return dpdk_env.started ? &dpdk_env.rss : NULL;
}

unsigned dpdk_nqueues(void)
{
    return dpdk_env.nqueues;
}

void dpdk_queue_stats(unsigned queue, struct dpdk_queue_stats *st)
{
    if (queue < dpdk_env.nqueues)
        *st = dpdk_env.q[queue].st;
    else
        memset(st, 0, sizeof(*st));
}

/* ---------------------------------------------------------------------------
 * INFO
 * ------------------------------------------------------------------------ */

static const char *rss_mode(void)
{
    return dpdk_env.nqueues == 1 ? "single-queue" : dpdk_env.rss_hw ? "hardware" : "software";
}

void dpdk_summary(char *buf, size_t len)
{
    struct dpdk_env *e = &dpdk_env;
    struct rte_eth_link link;
    memset(&link, 0, sizeof(link));
    rte_eth_link_get_nowait(e->port, &link);
    snprintf(buf, len,
             "port %u (%s) %02x:%02x:%02x:%02x:%02x:%02x, %u queue%s, RSS %s, checksum offload "
             "rx %s tx %s, link %s",
             e->port, e->driver, e->mac[0], e->mac[1], e->mac[2], e->mac[3], e->mac[4], e->mac[5],
             e->nqueues, e->nqueues == 1 ? "" : "s", rss_mode(), e->rx_cksum ? "on" : "off",
             e->tx_offloads ? "on" : "off", link.link_status == RTE_ETH_LINK_UP ? "up" : "down");
}

static void offload_names(struct strbuf *s, const char *field, bool tx, uint64_t bits)
{
    strbuf_printf(s, "%s:", field);
    bool first = true;
    for (unsigned b = 0; b < 64; b++) {
        if (!(bits & (1ull << b)))
            continue;
        const char *n =
            tx ? rte_eth_dev_tx_offload_name(1ull << b) : rte_eth_dev_rx_offload_name(1ull << b);
        strbuf_printf(s, "%s%s", first ? "" : ",", n);
        first = false;
    }
    strbuf_printf(s, "%s\r\n", first ? "none" : "");
}

void dpdk_info(struct strbuf *s)
{
    struct dpdk_env *e = &dpdk_env;
    if (!e->started)
        return;
    struct rte_eth_link link;
    memset(&link, 0, sizeof(link));
    rte_eth_link_get_nowait(e->port, &link);
    char speed[32];
    snprintf(speed, sizeof(speed), "%u", link.link_speed);
    strbuf_printf(s,
                  "dpdk_driver:%s\r\ndpdk_port:%u\r\n"
                  "dpdk_mac:%02x:%02x:%02x:%02x:%02x:%02x\r\n"
                  "dpdk_link_status:%s\r\ndpdk_link_speed_mbps:%s\r\ndpdk_link_duplex:%s\r\n"
                  "dpdk_mtu:%u\r\ndpdk_queues:%u\r\ndpdk_rss:%s\r\n",
                  e->driver, e->port, e->mac[0], e->mac[1], e->mac[2], e->mac[3], e->mac[4],
                  e->mac[5], link.link_status == RTE_ETH_LINK_UP ? "up" : "down",
                  link.link_speed == RTE_ETH_SPEED_NUM_UNKNOWN ? "unknown" : speed,
                  link.link_duplex == RTE_ETH_LINK_FULL_DUPLEX ? "full" : "half", e->mtu,
                  e->nqueues,
                  e->nqueues == 1 ? "single-queue"
                  : e->rss_hw     ? "hardware"
                                  : "software");
    offload_names(s, "dpdk_rx_offloads", false, e->rx_offloads);
    offload_names(s, "dpdk_tx_offloads", true, e->tx_offloads);
    struct rte_eth_stats st;
    if (rte_eth_stats_get(e->port, &st) == 0)
        strbuf_printf(s,
                      "dpdk_rx_packets:%" PRIu64 "\r\ndpdk_tx_packets:%" PRIu64
                      "\r\ndpdk_rx_bytes:%" PRIu64 "\r\ndpdk_tx_bytes:%" PRIu64
                      "\r\ndpdk_rx_missed:%" PRIu64 "\r\ndpdk_rx_errors:%" PRIu64
                      "\r\ndpdk_tx_errors:%" PRIu64 "\r\ndpdk_rx_nombuf:%" PRIu64 "\r\n",
                      st.ipackets, st.opackets, st.ibytes, st.obytes, st.imissed, st.ierrors,
                      st.oerrors, st.rx_nombuf);
    int n = rte_eth_xstats_get_names(e->port, NULL, 0);
    if (n > 0) {
        struct rte_eth_xstat_name *names = calloc((size_t)n, sizeof(*names));
        struct rte_eth_xstat *vals = calloc((size_t)n, sizeof(*vals));
        if (names != NULL && vals != NULL && rte_eth_xstats_get_names(e->port, names, n) == n &&
            rte_eth_xstats_get(e->port, vals, (unsigned)n) == n) {
            for (int i = 0; i < n; i++)
                if (vals[i].value != 0 && vals[i].id < (uint64_t)n)
                    strbuf_printf(s, "dpdk_xstat_%s:%" PRIu64 "\r\n", names[vals[i].id].name,
                                  vals[i].value);
        }
        free(names);
        free(vals);
    }
    for (unsigned i = 0; i < e->nqueues; i++) {
        const struct dpdk_queue_stats *q = &e->q[i].st;
        strbuf_printf(s,
                      "dpdk_queue%u:rx=%" PRIu64 ",tx=%" PRIu64 ",tx_full=%" PRIu64
                      ",steered_out=%" PRIu64 ",steered_in=%" PRIu64 ",steer_drops=%" PRIu64
                      ",arp_copies=%" PRIu64 ",alloc_fail=%" PRIu64 "\r\n",
                      i, q->rx_frames, q->tx_frames, q->tx_full, q->steered_out, q->steered_in,
                      q->steer_drops, q->arp_copies, q->alloc_fail);
    }
}
