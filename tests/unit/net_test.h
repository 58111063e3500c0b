/*
 * Helpers for the stack's unit tests: a stack on an in-memory device, frames
 * built and parsed by hand (with a checksum written independently of the
 * stack's), a scriptable raw TCP peer, and a wire between two stacks whose
 * frames a test can drop or hold.
 */
#ifndef POLLUX_TEST_NET_H
#define POLLUX_TEST_NET_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/common.h"
#include "net/net.h"
#include "net/pktio.h"

#define MS  1000000ull
#define SEC 1000000000ull

static const uint8_t T_MAC[6] = { 0x02, 0, 0, 0, 0, 0x01 };    /* the stack */
static const uint8_t PEER_MAC[6] = { 0x02, 0, 0, 0, 0, 0x02 }; /* the raw peer */
#define T_IP    NET_IP(10, 0, 0, 1)
#define PEER_IP NET_IP(10, 0, 0, 2)

static inline uint16_t t_rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}
static inline uint32_t t_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void t_wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void t_wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* RFC 1071, the plain way: 16-bit big-endian words. */
static inline uint32_t t_sum(const uint8_t *p, size_t len, uint32_t s)
{
    for (size_t i = 0; i + 1 < len; i += 2)
        s += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1)
        s += (uint32_t)p[len - 1] << 8;
    return s;
}
/* Sum of the TCP pseudo-header. */
static inline uint32_t t_pseudo(uint32_t src, uint32_t dst, size_t tl)
{
    uint8_t ph[12];
    t_wr32(ph, src);
    t_wr32(ph + 4, dst);
    ph[8] = 0;
    ph[9] = 6;
    t_wr16(ph + 10, (uint16_t)tl);
    return t_sum(ph, 12, 0);
}

static inline uint16_t t_fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

/* ---------------------------------------------------------------------------
 * A stack on a device
 * ------------------------------------------------------------------------ */

struct t_env {
    struct pktio_mem *dev;
    struct net_stack *st;
    uint64_t now;
    struct net_params p;
};

static inline void t_env_init_as(struct t_env *e, struct net_stack_config *cfg, uint32_t caps,
                                 const uint8_t *mac, uint32_t ip)
{
    struct pktio_mem_config mc = { .caps = caps, .nbufs = 8192 };
    memcpy(mc.mac, mac, 6);
    e->dev = pktio_mem_create(&mc);
    assert_non_null(e->dev);
    e->now = 1000 * SEC;
    cfg->io = pktio_mem_io(e->dev);
    cfg->now_ns = e->now;
    if (cfg->params == NULL) {
        param_defaults(net_param_defs, &e->p);
        cfg->params = &e->p;
    } else {
        e->p = *cfg->params;
    }
    e->st = net_stack_create(cfg);
    assert_non_null(e->st);
    assert_int_equal(net_addr_add(e->st, ip, 24), 0);
}

static inline void t_env_init_cfg(struct t_env *e, struct net_stack_config *cfg, uint32_t caps)
{
    t_env_init_as(e, cfg, caps, T_MAC, T_IP);
}

static inline void t_env_init(struct t_env *e)
{
    struct net_stack_config cfg = { .seed = 42 };
    t_env_init_cfg(e, &cfg, 0);
}

static inline void t_drain(struct t_env *e);

/* A stack whose start-up announcements are sent and discarded. */
static inline void t_env_start(struct t_env *e)
{
    t_env_init(e);
    net_poll(e->st, e->now);
    t_drain(e);
}

/* Drop every frame the stack has sent. */
static inline void t_drain(struct t_env *e)
{
    struct net_buf *b;
    while ((b = pktio_mem_tx_pop(e->dev)) != NULL)
        pktio_free(pktio_mem_io(e->dev), b);
}

static inline void t_env_fini(struct t_env *e)
{
    net_stack_destroy(e->st);
    t_drain(e);
    /* every buffer came back: nothing leaked inside the stack */
    assert_int_equal(pktio_mem_free_bufs(e->dev), 8192 - pktio_mem_rx_count(e->dev));
    pktio_mem_destroy(e->dev);
}

static inline unsigned t_poll(struct t_env *e)
{
    return net_poll(e->st, e->now);
}

static inline void t_advance(struct t_env *e, uint64_t ns)
{
    e->now += ns;
    net_poll(e->st, e->now);
}

/* ---------------------------------------------------------------------------
 * Frames
 * ------------------------------------------------------------------------ */

struct t_frame {
    uint8_t b[16384];
    size_t len;
};

static inline void t_eth(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
    memcpy(f, dst, 6);
    memcpy(f + 6, src, 6);
    t_wr16(f + 12, type);
}

/* IPv4 header at f + 14 for l4len bytes, checksum filled. */
static inline void t_ip(uint8_t *f, uint32_t src, uint32_t dst, uint8_t proto, size_t l4len)
{
    uint8_t *ip = f + 14;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    t_wr16(ip + 2, (uint16_t)(20 + l4len));
    t_wr16(ip + 6, 0x4000);
    ip[8] = 64;
    ip[9] = proto;
    t_wr32(ip + 12, src);
    t_wr32(ip + 16, dst);
    t_wr16(ip + 10, t_fold(t_sum(ip, 20, 0)));
}

struct t_tcp {
    uint32_t src, dst;
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t wnd;
    int mss;    /* < 0: none */
    int wscale; /* < 0: none */
    bool ts;
    uint32_t tsval, tsecr;
    const void *data;
    size_t len;
    const uint8_t *rawopts; /* used instead of the fields above when set */
    size_t rawlen;          /* a multiple of 4 */
};

#define T_FIN 0x01
#define T_SYN 0x02
#define T_RST 0x04
#define T_PSH 0x08
#define T_ACK 0x10

static inline void t_build_tcp(struct t_frame *fr, const struct t_tcp *s)
{
    uint8_t opts[40];
    size_t ol = 0;
    if (s->mss >= 0) {
        opts[ol++] = 2;
        opts[ol++] = 4;
        t_wr16(opts + ol, (uint16_t)s->mss);
        ol += 2;
    }
    if (s->wscale >= 0) {
        opts[ol++] = 1;
        opts[ol++] = 3;
        opts[ol++] = 3;
        opts[ol++] = (uint8_t)s->wscale;
    }
    if (s->ts) {
        opts[ol++] = 1;
        opts[ol++] = 1;
        opts[ol++] = 8;
        opts[ol++] = 10;
        t_wr32(opts + ol, s->tsval);
        t_wr32(opts + ol + 4, s->tsecr);
        ol += 8;
    }
    if (s->rawopts != NULL) {
        memcpy(opts, s->rawopts, s->rawlen);
        ol = s->rawlen;
    }
    uint8_t *f = fr->b;
    t_eth(f, T_MAC, PEER_MAC, 0x0800);
    size_t tl = 20 + ol + s->len;
    t_ip(f, s->src, s->dst, 6, tl);
    uint8_t *th = f + 34;
    t_wr16(th, s->sport);
    t_wr16(th + 2, s->dport);
    t_wr32(th + 4, s->seq);
    t_wr32(th + 8, s->ack);
    th[12] = (uint8_t)(((20 + ol) / 4) << 4);
    th[13] = s->flags;
    t_wr16(th + 14, s->wnd);
    t_wr16(th + 16, 0);
    t_wr16(th + 18, 0);
    memcpy(th + 20, opts, ol);
    if (s->len)
        memcpy(th + 20 + ol, s->data, s->len);
    t_wr16(th + 16, t_fold(t_sum(th, tl, t_pseudo(s->src, s->dst, tl))));
    fr->len = 34 + tl;
    if (fr->len < 60) {
        memset(f + fr->len, 0, 60 - fr->len);
        fr->len = 60;
    }
}

static inline void t_inject(struct t_env *e, const struct t_frame *fr)
{
    assert_int_equal(pktio_mem_inject(e->dev, fr->b, fr->len, 0, 0), 0);
}

/* A transmitted frame, parsed. */
struct t_out {
    uint8_t raw[16384];
    size_t len;
    uint16_t type;
    uint8_t dst_mac[6];
    /* ARP */
    uint16_t arp_op;
    uint32_t arp_spa, arp_tpa;
    uint8_t arp_sha[6], arp_tha[6];
    /* IPv4 */
    uint32_t src, dst;
    uint8_t proto, ttl;
    bool ip_ok;
    /* TCP */
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t wnd;
    int mss, wscale;
    bool ts;
    uint32_t tsval, tsecr;
    const uint8_t *data;
    size_t dlen;
    bool tcp_ok;
};

static inline void t_parse(struct t_out *o, const uint8_t *f, size_t len)
{
    memset(o, 0, sizeof(*o));
    assert_true(len <= sizeof(o->raw));
    memcpy(o->raw, f, len);
    o->len = len;
    f = o->raw;
    memcpy(o->dst_mac, f, 6);
    o->type = t_rd16(f + 12);
    o->mss = o->wscale = -1;
    if (o->type == 0x0806) {
        o->arp_op = t_rd16(f + 20);
        memcpy(o->arp_sha, f + 22, 6);
        o->arp_spa = t_rd32(f + 28);
        memcpy(o->arp_tha, f + 32, 6);
        o->arp_tpa = t_rd32(f + 38);
        return;
    }
    if (o->type != 0x0800)
        return;
    const uint8_t *ip = f + 14;
    unsigned hl = (ip[0] & 15) * 4u, tot = t_rd16(ip + 2);
    if (len < 34 || hl < 20 || tot < hl || 14 + tot > len)
        return; /* not a well-formed IPv4 packet: ip_ok stays false */
    o->ip_ok = t_fold(t_sum(ip, hl, 0)) == 0;
    o->src = t_rd32(ip + 12);
    o->dst = t_rd32(ip + 16);
    o->proto = ip[9];
    o->ttl = ip[8];
    if (o->proto != 6)
        return;
    const uint8_t *th = ip + hl;
    unsigned tl = tot - hl;
    if (tl < 20 || (th[12] >> 4) * 4u < 20 || (th[12] >> 4) * 4u > tl)
        return;
    o->tcp_ok = t_fold(t_sum(th, tl, t_pseudo(o->src, o->dst, tl))) == 0;
    o->sport = t_rd16(th);
    o->dport = t_rd16(th + 2);
    o->seq = t_rd32(th + 4);
    o->ack = t_rd32(th + 8);
    o->flags = th[13];
    o->wnd = t_rd16(th + 14);
    unsigned doff = (th[12] >> 4) * 4u;
    for (unsigned i = 20; i < doff;) {
        uint8_t k = th[i];
        if (k == 0)
            break;
        if (k == 1) {
            i++;
            continue;
        }
        uint8_t l = th[i + 1];
        if (l < 2 || i + l > doff)
            break;
        if (k == 2)
            o->mss = t_rd16(th + i + 2);
        if (k == 3)
            o->wscale = th[i + 2];
        if (k == 8) {
            o->ts = true;
            o->tsval = t_rd32(th + i + 2);
            o->tsecr = t_rd32(th + i + 6);
        }
        i += l;
    }
    o->data = th + doff;
    o->dlen = tl - doff;
}

/* Pop the oldest frame the stack sent; false when there is none. */
static inline bool t_pop(struct t_env *e, struct t_out *o)
{
    struct net_buf *b = pktio_mem_tx_pop(e->dev);
    if (b == NULL)
        return false;
    t_parse(o, b->data, b->len);
    pktio_free(pktio_mem_io(e->dev), b);
    return true;
}

/* Pop frames until a TCP one (ARP is answered along the way); false when none is left. */
static inline bool t_pop_tcp(struct t_env *e, struct t_out *o)
{
    while (t_pop(e, o)) {
        if (o->type == 0x0800 && o->proto == 6) {
            assert_true(o->ip_ok);
            assert_true(o->tcp_ok);
            return true;
        }
    }
    return false;
}

/* Let the stack know PEER_MAC for PEER_IP (a gratuitous ARP from the peer). */
static inline void t_teach_arp(struct t_env *e, uint32_t ip, const uint8_t *mac)
{
    uint8_t f[60] = { 0 };
    t_eth(f, T_MAC, mac, 0x0806);
    t_wr16(f + 14, 1);
    t_wr16(f + 16, 0x0800);
    f[18] = 6;
    f[19] = 4;
    t_wr16(f + 20, 2); /* reply to us */
    memcpy(f + 22, mac, 6);
    t_wr32(f + 28, ip);
    memcpy(f + 32, T_MAC, 6);
    t_wr32(f + 38, T_IP);
    assert_int_equal(pktio_mem_inject(e->dev, f, 60, 0, 0), 0);
    t_poll(e);
    t_drain(e);
}

/* ---------------------------------------------------------------------------
 * A raw TCP peer: keeps seq/ack and timestamps, sends segments, reads the
 * stack's answers.
 * ------------------------------------------------------------------------ */

struct t_peer {
    struct t_env *e;
    uint16_t port, sport;
    uint32_t seq, ack; /* next seq we send, next we expect */
    uint32_t iss;
    bool ts;
    uint32_t tsval, ts_recent;
    uint16_t wnd;
    int wscale;
};

/* Send a segment with explicit fields (seq/ack/flags), not touching the peer's state. */
static inline void t_peer_raw(struct t_peer *p, uint32_t seq, uint32_t ack, uint8_t flags,
                              const void *data, size_t len)
{
    struct t_frame fr;
    struct t_tcp s = {
        .src = PEER_IP,
        .dst = T_IP,
        .sport = p->port,
        .dport = p->sport,
        .seq = seq,
        .ack = ack,
        .flags = flags,
        .wnd = p->wnd,
        .mss = (flags & T_SYN) ? 1460 : -1,
        .wscale = (flags & T_SYN) ? p->wscale : -1,
        .ts = p->ts,
        .tsval = p->tsval,
        .tsecr = p->ts_recent,
        .data = data,
        .len = len,
    };
    t_build_tcp(&fr, &s);
    t_inject(p->e, &fr);
}

static inline void t_peer_send(struct t_peer *p, uint8_t flags, const void *data, size_t len)
{
    t_peer_raw(p, p->seq, (flags & T_ACK) ? p->ack : 0, flags, data, len);
    p->seq += (uint32_t)len + !!(flags & T_SYN) + !!(flags & T_FIN);
}

/* Expect a TCP segment from the stack to this peer; updates ack and ts_recent. */
static inline void t_peer_expect(struct t_peer *p, struct t_out *o)
{
    assert_true(t_pop_tcp(p->e, o));
    assert_int_equal(o->dst, PEER_IP);
    assert_int_equal(o->dport, p->port);
    if (o->ts)
        p->ts_recent = o->tsval;
}

/* Open a connection from the peer (from p->port, 40000 when 0) to a listener on `port`,
 * handshake done and accepted. */
static inline struct net_sock *t_peer_connect(struct t_peer *p, struct t_env *e,
                                              struct net_sock *ls, uint16_t port, uint32_t iss)
{
    uint16_t local_port = p->port ? p->port : 40000; /* the peer's own port, kept if set */
    memset(p, 0, sizeof(*p));
    p->e = e;
    p->port = local_port;
    p->sport = port;
    p->seq = p->iss = iss;
    p->ts = true;
    p->tsval = 1000;
    p->wnd = 65535;
    p->wscale = 7;
    t_peer_send(p, T_SYN, NULL, 0);
    t_poll(e);
    struct t_out o;
    t_peer_expect(p, &o);
    assert_int_equal(o.flags, T_SYN | T_ACK);
    assert_int_equal(o.ack, iss + 1);
    p->ack = o.seq + 1;
    t_peer_send(p, T_ACK, NULL, 0);
    t_poll(e);
    struct net_sock *s = net_accept(ls, p);
    assert_non_null(s);
    return s;
}

/* ---------------------------------------------------------------------------
 * A wire between two stacks, pumped by the test.
 * ------------------------------------------------------------------------ */

/* Return false to drop the frame. */
typedef bool (*t_filter_fn)(void *arg, int dir, struct t_out *o);

static inline unsigned t_pump(struct t_env *a, struct t_env *b, t_filter_fn f, void *arg)
{
    unsigned moved = 0;
    struct t_env *ends[2] = { a, b };
    for (int dir = 0; dir < 2; dir++) {
        struct t_env *from = ends[dir], *to = ends[1 - dir];
        struct net_buf *nb;
        while ((nb = pktio_mem_tx_pop(from->dev)) != NULL) {
            bool keep = true;
            if (f != NULL) {
                static struct t_out o;
                t_parse(&o, nb->data, nb->len);
                keep = f(arg, dir, &o);
            }
            if (keep)
                assert_int_equal(pktio_mem_inject(to->dev, nb->data, nb->len, 0, 0), 0);
            pktio_free(pktio_mem_io(from->dev), nb);
            moved++;
        }
    }
    return moved;
}

/* ---------------------------------------------------------------------------
 * A byte-checked transfer over one socket: writes a pattern until `total`,
 * then shuts down; reads and checks the peer's pattern until end of stream.
 * ------------------------------------------------------------------------ */

static inline uint8_t t_pattern(uint64_t i, uint8_t seed)
{
    uint64_t x = (i + seed) * 0x9e3779b97f4a7c15ull;
    return (uint8_t)(x >> 56);
}

struct t_xfer {
    struct net_sock *s;
    uint64_t total, sent, rcvd;
    uint8_t out_seed, in_seed;
    bool shut, eof;
};

static inline void t_xfer_step(struct t_xfer *x)
{
    uint8_t buf[16384];
    while (x->sent < x->total) {
        size_t n = (size_t)MIN((uint64_t)sizeof(buf), x->total - x->sent);
        for (size_t i = 0; i < n; i++)
            buf[i] = t_pattern(x->sent + i, x->out_seed);
        ssize_t w = net_write(x->s, buf, n);
        if (w == -EAGAIN)
            break;
        if (w <= 0)
            fail_msg("write: %zd, state %s, error %d", w, net_tcp_state_name(net_sock_state(x->s)),
                     net_sock_error(x->s));
        x->sent += (uint64_t)w;
    }
    if (x->sent == x->total && !x->shut) {
        assert_int_equal(net_shutdown(x->s, NET_SHUT_WR), 0);
        x->shut = true;
    }
    for (;;) {
        ssize_t r = net_read(x->s, buf, sizeof(buf));
        if (r == -EAGAIN)
            break;
        if (r == 0) {
            x->eof = true;
            break;
        }
        assert_true(r > 0);
        for (ssize_t i = 0; i < r; i++)
            if (buf[i] != t_pattern(x->rcvd + (uint64_t)i, x->in_seed))
                fail_msg("byte %llu differs", (unsigned long long)(x->rcvd + (uint64_t)i));
        x->rcvd += (uint64_t)r;
    }
}

#endif
