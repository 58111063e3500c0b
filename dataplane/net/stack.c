/*
 * The stack instance: creation, addresses, the poll pass, readiness events.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "net/net_int.h"
#include "net/tcp_int.h"

#define PARAM_S net_params
const struct param_def net_param_defs[] = { NET_PARAMS(PARAM_X_DEF) PARAM_DEFS_END };
#undef PARAM_S

#define NET_COUNTER_NAME(name, help) #name,
#define NET_COUNTER_HELP(name, help) help,
const char *const net_counter_names[] = { NET_COUNTERS(NET_COUNTER_NAME) NULL };
const char *const net_counter_help[] = { NET_COUNTERS(NET_COUNTER_HELP) NULL };

#define HOUSEKEEPING_NS (100 * NET_MS)

/* splitmix64: small, fast, good enough for ports, offsets and hash keys. */
uint64_t net_rand(struct net_stack *st)
{
    uint64_t z = (st->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

struct net_stack *net_stack_create(const struct net_stack_config *cfg)
{
    if (cfg == NULL || cfg->io == NULL || cfg->io->mtu < 576 || cfg->io->mtu > 65535 - ETH_HLEN)
        return NULL;
    struct net_stack *st = mem_calloc(sizeof(*st));
    st->io = cfg->io;
    if (cfg->params != NULL) {
        st->p = *cfg->params; /* numbers only: no strings in this table */
    } else {
        param_defaults(net_param_defs, &st->p);
    }
    st->now = cfg->now_ns;
    st->rng = cfg->seed ^ 0x5deece66dull;
    memcpy(st->mac, cfg->io->mac, ETH_ALEN);
    st->mtu = cfg->io->mtu;
    st->caps = cfg->io->caps;
    st->max_conns = cfg->max_conns ? cfg->max_conns : 1024;
    st->rss = cfg->rss;
    st->rss_queue = cfg->rss_queue;
    st->syn_hook = cfg->syn_hook;
    st->syn_hook_arg = cfg->syn_hook_arg;
    st->isn = cfg->isn;
    st->isn_arg = cfg->isn_arg;
    st->ts_offset = cfg->ts_offset ? cfg->ts_offset : (uint32_t)net_rand(st);
    st->ip_id = (uint16_t)net_rand(st);
    st->next_housekeeping = st->now + HOUSEKEEPING_NS;
    if (arp_setup(st) < 0 || tcp_setup(st) < 0) {
        net_stack_destroy(st);
        return NULL;
    }
    return st;
}

void net_stack_destroy(struct net_stack *st)
{
    if (st == NULL)
        return;
    tcp_teardown(st);
    arp_teardown(st);
    for (unsigned i = 0; i < st->ntx; i++)
        net_buf_put(st, st->txq[i]);
    st->ntx = 0;
    mem_free(st);
}

void net_stack_set_params(struct net_stack *st, const struct net_params *p)
{
    struct net_params keep = st->p;
    st->p = *p;
    st->p.sndbuf = keep.sndbuf;
    st->p.rcvbuf = keep.rcvbuf;
    st->p.time_wait_max = keep.time_wait_max;
    st->p.arp_cache_size = keep.arp_cache_size;
}

const struct net_counters *net_stack_counters(const struct net_stack *st)
{
    return &st->ctr;
}

void net_stack_info(const struct net_stack *st, struct net_stack_info *info)
{
    info->conns = st->nconns;
    info->syn_rcvd = st->nsynrcvd;
    info->time_wait = st->tw->used;
    info->listeners = st->nlisteners;
    info->arp_entries = st->arp.used;
}

/* ---------------------------------------------------------------------------
 * Addresses
 * ------------------------------------------------------------------------ */

int net_addr_index(const struct net_stack *st, uint32_t ip)
{
    for (unsigned i = 0; i < st->naddr; i++)
        if (st->addr[i].ip == ip)
            return (int)i;
    return -1;
}

bool net_is_local(const struct net_stack *st, uint32_t ip)
{
    return net_addr_index(st, ip) >= 0;
}

int net_addr_add(struct net_stack *st, uint32_t ip, unsigned prefix_len)
{
    if (ip == 0 || prefix_len > 32)
        return -EINVAL;
    if (net_is_local(st, ip))
        return -EEXIST;
    if (st->naddr == NET_MAX_ADDRS)
        return -ENOSPC;
    uint32_t mask = prefix_len == 0 ? 0 : ~0u << (32 - prefix_len);
    st->addr[st->naddr].ip = ip;
    st->addr[st->naddr].mask = mask;
    st->garp_pending |= 1u << st->naddr;
    st->naddr++;
    return 0;
}

int net_addr_del(struct net_stack *st, uint32_t ip)
{
    int i = net_addr_index(st, ip);
    if (i < 0)
        return -ENOENT;
    for (unsigned j = (unsigned)i; j + 1 < st->naddr; j++)
        st->addr[j] = st->addr[j + 1];
    /* pending announcements follow their addresses down */
    uint32_t low = st->garp_pending & ((1u << i) - 1);
    st->garp_pending = low | ((st->garp_pending >> (i + 1)) << i);
    st->naddr--;
    return 0;
}

void net_set_gateway(struct net_stack *st, uint32_t gw)
{
    st->gateway = gw;
}

int net_arp_announce(struct net_stack *st, uint32_t ip)
{
    int i = net_addr_index(st, ip);
    if (i < 0)
        return -ENOENT;
    st->garp_pending |= 1u << i;
    return 0;
}

/* ---------------------------------------------------------------------------
 * The pass
 * ------------------------------------------------------------------------ */

static void advance_clock(struct net_stack *st, uint64_t now)
{
    if (now > st->now)
        st->now = now;
}

unsigned net_flush(struct net_stack *st, uint64_t now_ns)
{
    advance_clock(st, now_ns);
    tcp_flush_output(st);
    return eth_flush(st);
}

unsigned net_poll(struct net_stack *st, uint64_t now_ns)
{
    advance_clock(st, now_ns);
    unsigned work = 0;
    while (st->garp_pending) {
        unsigned i = (unsigned)__builtin_ctz(st->garp_pending);
        st->garp_pending &= ~(1u << i);
        arp_announce(st, st->addr[i].ip);
        work++;
    }
    struct net_buf *bufs[NET_BURST];
    unsigned n = pktio_rx_burst(st->io, bufs, NET_BURST);
    for (unsigned i = 0; i < n; i++) {
        if (i + 1 < n)
            __builtin_prefetch(bufs[i + 1]->data);
        eth_input(st, bufs[i]);
    }
    work += n;
    if (st->now >= st->next_housekeeping) {
        arp_housekeeping(st);
        tcp_housekeeping(st);
        st->next_housekeeping = st->now + HOUSEKEEPING_NS;
    }
    work += tcp_timers_run(st);
    tcp_flush_output(st);
    work += eth_flush(st);
    return work;
}

uint64_t net_next_timer(const struct net_stack *st)
{
    uint64_t t = tcp_next_timer(st);
    return t < st->next_housekeeping ? t : st->next_housekeeping;
}

/* ---------------------------------------------------------------------------
 * Readiness
 * ------------------------------------------------------------------------ */

void net_sock_event(struct net_sock *s, uint32_t ev)
{
    s->ev |= ev;
    if (s->in_ready || !s->user_owned)
        return;
    struct net_stack *st = s->st;
    s->in_ready = true;
    s->rnext = NULL;
    s->rprev = st->ready_tail;
    if (st->ready_tail)
        st->ready_tail->rnext = s;
    else
        st->ready_head = s;
    st->ready_tail = s;
}

void net_sock_unready(struct net_sock *s)
{
    struct net_stack *st = s->st;
    if (!s->in_ready)
        return;
    if (s->rprev)
        s->rprev->rnext = s->rnext;
    else
        st->ready_head = s->rnext;
    if (s->rnext)
        s->rnext->rprev = s->rprev;
    else
        st->ready_tail = s->rprev;
    s->rprev = s->rnext = NULL;
    s->in_ready = false;
}

unsigned net_events(struct net_stack *st, struct net_event *ev, unsigned max)
{
    unsigned n = 0;
    while (n < max && st->ready_head != NULL) {
        struct net_sock *s = st->ready_head;
        net_sock_unready(s);
        if (s->ev == 0)
            continue;
        ev[n].sock = s;
        ev[n].user = s->user;
        ev[n].events = s->ev;
        s->ev = 0;
        n++;
    }
    return n;
}

/* ---------------------------------------------------------------------------
 * Address text
 * ------------------------------------------------------------------------ */

char *net_ip_format(uint32_t ip, char *buf)
{
    snprintf(buf, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
    return buf;
}

int net_ip_parse(const char *s, uint32_t *ip)
{
    uint32_t v = 0;
    for (int part = 0; part < 4; part++) {
        if (*s < '0' || *s > '9')
            return -EINVAL;
        unsigned x = 0, digits = 0;
        while (*s >= '0' && *s <= '9') {
            x = x * 10 + (unsigned)(*s++ - '0');
            if (++digits > 3 || x > 255)
                return -EINVAL;
        }
        v = (v << 8) | x;
        if (part < 3 && *s++ != '.')
            return -EINVAL;
    }
    if (*s != '\0')
        return -EINVAL;
    *ip = v;
    return 0;
}

int net_prefix_parse(const char *s, uint32_t *ip, unsigned *len)
{
    char buf[16];
    const char *slash = strchr(s, '/');
    if (slash == NULL || slash - s >= (ptrdiff_t)sizeof(buf) || slash[1] == '\0')
        return -EINVAL;
    memcpy(buf, s, (size_t)(slash - s));
    buf[slash - s] = '\0';
    unsigned n = 0;
    for (const char *p = slash + 1; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || (n = n * 10 + (unsigned)(*p - '0')) > 32)
            return -EINVAL;
    }
    if (n == 0 || net_ip_parse(buf, ip) != 0)
        return -EINVAL;
    *len = n;
    return 0;
}
