/*
 * ARP (RFC 826) over Ethernet for IPv4.
 *
 * The cache is a fixed table of entries chained from a power-of-two bucket
 * array; nothing is allocated after setup. An entry is INCOMPLETE while a
 * resolution is under way — it holds a bounded queue of the packets waiting
 * for the answer and is retried every arp-retry-ms, arp-retries times, after
 * which the packets are dropped and counted — or REACHABLE until it expires.
 * In the last quarter of its life a use sends a unicast request to refresh
 * it, so a busy next hop never goes through a gap without a MAC address.
 * Any ARP packet from a host already in the cache refreshes its entry
 * (RFC 826's merge); a request for one of our addresses also adds the sender.
 */
#include <errno.h>

#include "base/mem.h"
#include "net/net_int.h"

#define ARP_LEN     28
#define ARP_REQUEST 1
#define ARP_REPLY   2

static uint32_t arp_hash(const struct arp_table *t, uint32_t ip)
{
    return (uint32_t)((ip * 0x9e3779b1u) >> 7) & t->mask;
}

int arp_setup(struct net_stack *st)
{
    struct arp_table *t = &st->arp;
    uint32_t size = 4;
    while (size < (uint32_t)st->p.arp_cache_size)
        size <<= 1;
    t->size = size;
    t->mask = size - 1;
    t->e = mem_calloc(sizeof(*t->e) * size);
    t->bucket = mem_alloc(sizeof(*t->bucket) * size);
    for (uint32_t i = 0; i < size; i++) {
        t->bucket[i] = -1;
        t->e[i].hnext = i + 1 < size ? (int32_t)(i + 1) : -1;
    }
    t->free = 0;
    return 0;
}

static void drop_queue(struct net_stack *st, struct arp_entry *e)
{
    while (e->qhead != NULL) {
        struct net_buf *b = e->qhead;
        e->qhead = b->next;
        net_buf_put(st, b);
        st->ctr.arp_drop_unresolved++;
    }
    e->qtail = NULL;
    e->qlen = 0;
}

void arp_teardown(struct net_stack *st)
{
    struct arp_table *t = &st->arp;
    if (t->e == NULL)
        return;
    for (uint32_t i = 0; i < t->size; i++)
        if (t->e[i].state != ARP_FREE)
            drop_queue(st, &t->e[i]);
    mem_free(t->e);
    mem_free(t->bucket);
    t->e = NULL;
}

static int32_t find(const struct arp_table *t, uint32_t ip)
{
    for (int32_t i = t->bucket[arp_hash(t, ip)]; i >= 0; i = t->e[i].hnext)
        if (t->e[i].ip == ip)
            return i;
    return -1;
}

struct arp_entry *arp_lookup(struct net_stack *st, uint32_t ip)
{
    int32_t i = find(&st->arp, ip);
    return i < 0 ? NULL : &st->arp.e[i];
}

static void remove_entry(struct net_stack *st, int32_t idx)
{
    struct arp_table *t = &st->arp;
    struct arp_entry *e = &t->e[idx];
    int32_t *pp = &t->bucket[arp_hash(t, e->ip)];
    while (*pp != idx)
        pp = &t->e[*pp].hnext;
    *pp = e->hnext;
    drop_queue(st, e);
    if (e->state == ARP_INCOMPLETE)
        t->incomplete--;
    e->state = ARP_FREE;
    e->hnext = t->free;
    t->free = idx;
    t->used--;
}

/* A free entry for ip; when the table is full, the reachable entry closest to expiry goes. */
static int32_t new_entry(struct net_stack *st, uint32_t ip)
{
    struct arp_table *t = &st->arp;
    if (t->free < 0) {
        int32_t victim = -1;
        for (uint32_t i = 0; i < t->size; i++) {
            struct arp_entry *e = &t->e[i];
            if (victim < 0 || (e->state == ARP_REACHABLE && (t->e[victim].state != ARP_REACHABLE ||
                                                             e->expires < t->e[victim].expires)))
                victim = (int32_t)i;
        }
        remove_entry(st, victim);
        st->ctr.arp_evicted++;
    }
    int32_t idx = t->free;
    struct arp_entry *e = &t->e[idx];
    t->free = e->hnext;
    memset(e, 0, sizeof(*e));
    e->ip = ip;
    uint32_t h = arp_hash(t, ip);
    e->hnext = t->bucket[h];
    t->bucket[h] = idx;
    t->used++;
    return idx;
}

/* Our address to speak from towards ip: the one on its subnet, else the first. */
static uint32_t sender_for(const struct net_stack *st, uint32_t ip)
{
    uint32_t s = ip_source_for(st, ip);
    return s != 0 ? s : (st->naddr > 0 ? st->addr[0].ip : 0);
}

static void send_arp(struct net_stack *st, uint16_t op, const uint8_t *eth_dst, uint32_t spa,
                     const uint8_t *tha, uint32_t tpa)
{
    struct net_buf *b = net_buf_get(st);
    if (b == NULL)
        return;
    uint8_t *a = b->data + ETH_HLEN;
    net_wr16(a, 1);
    net_wr16(a + 2, ETH_P_IPV4);
    a[4] = ETH_ALEN;
    a[5] = 4;
    net_wr16(a + 6, op);
    memcpy(a + 8, st->mac, ETH_ALEN);
    net_wr32(a + 14, spa);
    memcpy(a + 18, tha, ETH_ALEN);
    net_wr32(a + 24, tpa);
    b->len = ETH_HLEN + ARP_LEN;
    eth_output(st, b, eth_dst, ETH_P_ARP);
}

static const uint8_t zero_mac[ETH_ALEN];

static void send_request(struct net_stack *st, uint32_t ip, const uint8_t *dst)
{
    st->ctr.arp_tx_requests++;
    send_arp(st, ARP_REQUEST, dst, sender_for(st, ip), zero_mac, ip);
}

void arp_announce(struct net_stack *st, uint32_t ip)
{
    st->ctr.arp_tx_gratuitous++;
    send_arp(st, ARP_REQUEST, eth_broadcast, ip, zero_mac, ip);
}

/* The entry learned a MAC: it is reachable, and what waited for it leaves. */
static void resolved(struct net_stack *st, struct arp_entry *e, const uint8_t *mac)
{
    if (e->state == ARP_INCOMPLETE)
        st->arp.incomplete--;
    memcpy(e->mac, mac, ETH_ALEN);
    e->state = ARP_REACHABLE;
    e->refreshing = false;
    e->tries = 0;
    e->expires = st->now + (uint64_t)st->p.arp_timeout_ms * NET_MS;
    while (e->qhead != NULL) {
        struct net_buf *b = e->qhead;
        e->qhead = b->next;
        b->next = NULL;
        eth_output(st, b, e->mac, ETH_P_IPV4);
    }
    e->qtail = NULL;
    e->qlen = 0;
}

void arp_input(struct net_stack *st, struct net_buf *b)
{
    if (b->len < ETH_HLEN + ARP_LEN) {
        st->ctr.arp_drop_bad++;
        net_buf_put(st, b);
        return;
    }
    uint8_t *a = b->data + ETH_HLEN;
    uint16_t op = net_rd16(a + 6);
    if (net_rd16(a) != 1 || net_rd16(a + 2) != ETH_P_IPV4 || a[4] != ETH_ALEN || a[5] != 4 ||
        (op != ARP_REQUEST && op != ARP_REPLY)) {
        st->ctr.arp_drop_bad++;
        net_buf_put(st, b);
        return;
    }
    const uint8_t *sha = a + 8;
    uint32_t spa = net_rd32(a + 14);
    uint32_t tpa = net_rd32(a + 24);
    if (op == ARP_REQUEST)
        st->ctr.arp_rx_requests++;
    else
        st->ctr.arp_rx_replies++;
    if (net_is_local(st, spa)) {
        /* Someone else claims one of our addresses (or a loop): never learn it. */
        if (memcmp(sha, st->mac, ETH_ALEN) != 0)
            st->ctr.arp_conflicts++;
        net_buf_put(st, b);
        return;
    }
    if ((sha[0] & 1) || spa == 0) { /* multicast sender or a probe: nothing to learn */
        if (!(op == ARP_REQUEST && spa == 0 && net_is_local(st, tpa))) {
            net_buf_put(st, b);
            return;
        }
    }
    bool for_us = net_is_local(st, tpa);
    if (spa != 0 && !(sha[0] & 1)) {
        int32_t idx = find(&st->arp, spa);
        if (idx < 0 && for_us)
            idx = new_entry(st, spa);
        if (idx >= 0)
            resolved(st, &st->arp.e[idx], sha);
    }
    if (for_us && op == ARP_REQUEST) {
        /* Answer in the same buffer. */
        uint8_t req_mac[ETH_ALEN];
        memcpy(req_mac, sha, ETH_ALEN);
        net_wr16(a + 6, ARP_REPLY);
        memcpy(a + 18, req_mac, ETH_ALEN);
        net_wr32(a + 24, spa);
        memcpy(a + 8, st->mac, ETH_ALEN);
        net_wr32(a + 14, tpa);
        b->len = ETH_HLEN + ARP_LEN;
        b->flags = 0;
        st->ctr.arp_tx_replies++;
        eth_output(st, b, req_mac, ETH_P_ARP);
        return;
    }
    net_buf_put(st, b);
}

void arp_output(struct net_stack *st, struct net_buf *b, uint32_t nh)
{
    struct arp_table *t = &st->arp;
    int32_t idx = find(t, nh);
    if (idx >= 0) {
        struct arp_entry *e = &t->e[idx];
        if (e->state == ARP_REACHABLE && st->now < e->expires) {
            uint64_t life = (uint64_t)st->p.arp_timeout_ms * NET_MS;
            if (!e->refreshing && e->expires - st->now < life / 4) {
                e->refreshing = true;
                send_request(st, nh, e->mac);
            }
            eth_output(st, b, e->mac, ETH_P_IPV4);
            return;
        }
        if (e->state == ARP_REACHABLE) { /* expired: resolve again */
            e->state = ARP_INCOMPLETE;
            e->tries = 0;
            t->incomplete++;
            st->ctr.arp_expired++;
        }
    } else {
        idx = new_entry(st, nh);
        t->e[idx].state = ARP_INCOMPLETE;
        t->incomplete++;
    }
    struct arp_entry *e = &t->e[idx];
    if (e->qlen >= (unsigned)st->p.arp_queue) {
        st->ctr.arp_drop_queue_full++;
        net_buf_put(st, b);
        return;
    }
    b->next = NULL;
    if (e->qtail)
        e->qtail->next = b;
    else
        e->qhead = b;
    e->qtail = b;
    e->qlen++;
    if (e->tries == 0) {
        e->tries = 1;
        e->next_try = st->now + (uint64_t)st->p.arp_retry_ms * NET_MS;
        send_request(st, nh, eth_broadcast);
    }
}

/* Every 100 ms: retry or give up resolutions, forget expired entries. */
void arp_housekeeping(struct net_stack *st)
{
    struct arp_table *t = &st->arp;
    for (uint32_t i = 0; i < t->size; i++) {
        struct arp_entry *e = &t->e[i];
        if (e->state == ARP_INCOMPLETE && st->now >= e->next_try) {
            if (e->tries >= st->p.arp_retries) {
                remove_entry(st, (int32_t)i);
                continue;
            }
            e->tries++;
            e->next_try = st->now + (uint64_t)st->p.arp_retry_ms * NET_MS;
            send_request(st, e->ip, eth_broadcast);
        } else if (e->state == ARP_REACHABLE && st->now >= e->expires) {
            st->ctr.arp_expired++;
            remove_entry(st, (int32_t)i);
        }
    }
}
