/*
 * TIME_WAIT in a compact table.
 *
 * A connection that reaches TIME_WAIT after its socket is closed gives back
 * its connection block and buffers; what RFC 9293 needs of it — the 4-tuple,
 * both sequence numbers, the timestamp to echo — fits a 56-byte entry in a
 * fixed array of pollux-net-time-wait-max entries. Every entry lives for the
 * same time, so the entries form a FIFO in expiry order: expiry looks at the
 * head only, and no timer is needed. When the table is full the oldest entry
 * is dropped early (counted), which bounds memory under any close rate; a
 * retransmitted FIN moves its entry to the tail with a fresh expiry.
 */
#include "base/mem.h"
#include "net/tcp_int.h"

static uint32_t tw_hash(const struct net_stack *st, uint32_t lip, uint16_t lport, uint32_t rip,
                        uint16_t rport)
{
    uint64_t h = ((uint64_t)rip << 32 | lip) ^ st->hash_key;
    h ^= ((uint64_t)rport << 16 | lport) * 0x9e3779b97f4a7c15ull;
    h *= 0xff51afd7ed558ccdull;
    return (uint32_t)(h >> 32) & st->tw->mask;
}

int tw_setup(struct net_stack *st)
{
    struct tw_table *t = mem_calloc(sizeof(*t));
    st->tw = t;
    t->cap = (uint32_t)st->p.time_wait_max;
    uint32_t nb = 16;
    while (nb < t->cap)
        nb <<= 1;
    t->mask = nb - 1;
    t->bucket = mem_alloc(sizeof(*t->bucket) * nb);
    for (uint32_t i = 0; i < nb; i++)
        t->bucket[i] = -1;
    t->e = t->cap ? mem_calloc(sizeof(*t->e) * t->cap) : NULL;
    for (uint32_t i = 0; i < t->cap; i++)
        t->e[i].next = i + 1 < t->cap ? (int32_t)(i + 1) : -1;
    t->free = t->cap ? 0 : -1;
    t->head = t->tail = -1;
    return 0;
}

void tw_teardown(struct net_stack *st)
{
    if (st->tw == NULL)
        return;
    mem_free(st->tw->e);
    mem_free(st->tw->bucket);
    mem_free(st->tw);
    st->tw = NULL;
}

struct tw_entry *tw_lookup(struct net_stack *st, uint32_t lip, uint16_t lport, uint32_t rip,
                           uint16_t rport)
{
    struct tw_table *t = st->tw;
    if (t->used == 0)
        return NULL;
    for (int32_t i = t->bucket[tw_hash(st, lip, lport, rip, rport)]; i >= 0; i = t->e[i].hnext) {
        struct tw_entry *e = &t->e[i];
        if (e->lip == lip && e->rip == rip && e->lport == lport && e->rport == rport)
            return e;
    }
    return NULL;
}

static void fifo_unlink(struct tw_table *t, int32_t i)
{
    struct tw_entry *e = &t->e[i];
    if (e->prev >= 0)
        t->e[e->prev].next = e->next;
    else
        t->head = e->next;
    if (e->next >= 0)
        t->e[e->next].prev = e->prev;
    else
        t->tail = e->prev;
}

static void fifo_append(struct tw_table *t, int32_t i)
{
    struct tw_entry *e = &t->e[i];
    e->next = -1;
    e->prev = t->tail;
    if (t->tail >= 0)
        t->e[t->tail].next = i;
    else
        t->head = i;
    t->tail = i;
}

void tw_remove(struct net_stack *st, struct tw_entry *e)
{
    struct tw_table *t = st->tw;
    int32_t i = (int32_t)(e - t->e);
    int32_t *pp = &t->bucket[tw_hash(st, e->lip, e->lport, e->rip, e->rport)];
    while (*pp != i)
        pp = &t->e[*pp].hnext;
    *pp = e->hnext;
    fifo_unlink(t, i);
    e->next = t->free;
    t->free = i;
    t->used--;
}

void tw_insert(struct net_stack *st, const struct tcb *c, uint64_t expires)
{
    struct tw_table *t = st->tw;
    if (t->cap == 0)
        return;
    if (t->free < 0) {
        tw_remove(st, &t->e[t->head]);
        st->ctr.tcp_time_wait_evicted++;
    }
    int32_t i = t->free;
    struct tw_entry *e = &t->e[i];
    t->free = e->next;
    e->lip = c->lip;
    e->rip = c->rip;
    e->lport = c->lport;
    e->rport = c->rport;
    e->snd_nxt = c->snd_max;
    e->rcv_nxt = c->rcv_nxt;
    e->ts = (c->flags & TF_TS) != 0;
    e->ts_recent = c->ts_recent;
    e->wnd = (uint16_t)MIN(c->rsize >> c->rcv_wscale, 65535u);
    e->expires = expires;
    uint32_t h = tw_hash(st, e->lip, e->lport, e->rip, e->rport);
    e->hnext = t->bucket[h];
    t->bucket[h] = i;
    fifo_append(t, i);
    t->used++;
}

void tw_restart(struct net_stack *st, struct tw_entry *e)
{
    struct tw_table *t = st->tw;
    int32_t i = (int32_t)(e - t->e);
    e->expires = st->now + (uint64_t)st->p.time_wait_ms * NET_MS;
    fifo_unlink(t, i);
    fifo_append(t, i);
}

void tw_expire(struct net_stack *st)
{
    struct tw_table *t = st->tw;
    while (t->head >= 0 && t->e[t->head].expires <= st->now)
        tw_remove(st, &t->e[t->head]);
}

static void tw_ack(struct net_stack *st, const struct tw_entry *e)
{
    tcp_send_raw(st, e->lip, e->rip, e->lport, e->rport, e->snd_nxt, e->rcv_nxt, TH_ACK, e->wnd,
                 e->ts, e->ts_recent);
}

/*
 * A segment for a connection in TIME_WAIT (RFC 9293 §3.10.7.4, RFC 1337, RFC 6191).
 * @return false when a new SYN ended the entry and should reach the listener.
 */
bool tw_input(struct net_stack *st, struct tw_entry *e, const struct tcp_seg *g)
{
    if (g->flags & TH_RST)
        return true; /* RFC 1337: a RST does not cut TIME_WAIT short */
    if ((g->flags & (TH_SYN | TH_ACK)) == TH_SYN) {
        /* A new incarnation may start when it is clearly newer (RFC 6191). */
        bool newer = (e->ts && g->ts) ? SEQ_GT(g->tsval, e->ts_recent) : SEQ_GT(g->seq, e->rcv_nxt);
        if (newer) {
            st->ctr.tcp_time_wait_reused++;
            tw_remove(st, e);
            return false;
        }
        tw_ack(st, e);
        return true;
    }
    if (g->ts && e->ts && SEQ_LT(g->tsval, e->ts_recent)) {
        st->ctr.tcp_drop_paws++;
        tw_ack(st, e);
        return true;
    }
    if (g->flags & TH_FIN) {
        if (g->ts && e->ts)
            e->ts_recent = g->tsval;
        tw_ack(st, e);
        tw_restart(st, e);
        return true;
    }
    if (g->len > 0)
        tw_ack(st, e);
    return true;
}
